// Reliable messaging (W4) and the unread count (W9), against a real relay process that is
// stopped and started again: the persistent outbox across a reload, messages in flight while
// the relay crashes, two tabs of one visitor, "read" receipts, and the seen mark.
//
// While the relay is down Chromium logs every failed WebSocket attempt as a console error;
// those (and only those) are expected here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  suite, openHostPage, screenshot, waitForEvent, waitForAnimations,
} from './support.mjs';

/** The storage key of the demo site's outbox (widget/src/outbox.rs). */
const OUTBOX_KEY = 'natter_outbox:demo';
/** Reconnects back off up to 30 s; a wait for a reconnect allows for one full backoff. */
const RECONNECT_MS = 45_000;

const stack = suite({ restartable: true, noForm: true, agent: true });

/** Console errors other than the failed socket attempts of an outage. */
const unexpected = (errors) => errors.filter((error) => !/WebSocket connection to .* failed/.test(error));

/**
 * Opens a host page (path unique per test) and the chat panel on it: in a new browser context,
 * or as another tab of `context`.
 */
async function visit({ path, setup = '', context }) {
  const opened = await openHostPage(stack, { path, setup, context, recordEvents: true });
  return { ...opened, ...(await openPanel(opened.page)) };
}

async function openPanel(page) {
  await page.getByRole('button', { name: 'Open chat', exact: true }).click();
  const chat = page.getByRole('dialog', { name: 'Chat' });
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.waitFor();
  return { chat, composer, log: chat.getByRole('log', { name: 'Messages' }) };
}

const row = (log, text) => log.getByRole('listitem').filter({ hasText: text });

async function send(composer, text) {
  await composer.fill(text);
  await composer.press('Enter');
}

/** The visitor's messages as the agent API stores them, in seq order. */
async function storedTexts(conversationId) {
  const { messages } = await stack.agent.get(`/v1/agent/conversations/${conversationId}`);
  return messages.filter((message) => message.author.kind === 'visitor').map((message) => message.text);
}

/** Each text shows exactly once in the list. */
async function assertOnce(log, texts) {
  for (const text of texts) {
    assert.equal(await row(log, text).count(), 1, `"${text}" shows once`);
  }
}

const outbox = (page) => page.evaluate((key) => JSON.parse(localStorage.getItem(key)), OUTBOX_KEY);

test('messages typed while the relay is down survive a reload and arrive once, in order', async () => {
  const { context, page, errors, frames, chat, composer, log } = await visit({ path: '/outbox' });
  await send(composer, 'Before the outage');
  await row(log, 'Before the outage').getByText('Sent').waitFor();
  const conversationId = (await frames.next('ack')).message.conversation_id;

  await stack.relay.stop();
  await chat.getByText('Connection lost. Reconnecting…').waitFor();
  const offline = ['Offline one', 'Offline two', 'Offline three'];
  for (const text of offline) {
    await send(composer, text);
    await row(log, text).getByText('Sending…').waitFor();
  }
  const stored = await outbox(page);
  assert.deepEqual(stored.messages.map((message) => message.text), offline);

  // A reload while the relay is still down: the app comes from the browser cache, the
  // messages from the outbox.
  await page.reload();
  const reloaded = await openPanel(page);
  for (const text of offline) await row(reloaded.log, text).getByText('Sending…').waitFor();
  await waitForAnimations(page);
  await screenshot(page, 'widget-sending-offline');

  await stack.relay.start();
  // The browser would say so when the network comes back; the widget then skips the backoff.
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  for (const text of offline) {
    await row(reloaded.log, text).getByText('Sent').waitFor({ timeout: RECONNECT_MS });
  }
  await assertOnce(reloaded.log, ['Before the outage', ...offline]);
  assert.equal(await reloaded.log.getByText('Sending…').count(), 0);
  assert.deepEqual(await storedTexts(conversationId), ['Before the outage', ...offline]);
  assert.equal(await outbox(page), null, 'acknowledged messages leave the outbox');
  assert.deepEqual(unexpected(errors), []);
  await context.close();
});

test('the relay crashes while messages are in flight: each arrives exactly once', async () => {
  const { context, errors, frames, chat, composer, log } = await visit({ path: '/in-flight' });
  await send(composer, 'Flight 0');
  await row(log, 'Flight 0').getByText('Sent').waitFor();
  const conversationId = (await frames.next('ack')).message.conversation_id;

  // Two messages go out as the process is killed: stored or not, acknowledged or not.
  await Promise.all([
    (async () => {
      await send(composer, 'Flight 1');
      await send(composer, 'Flight 2');
    })(),
    stack.relay.stop('SIGKILL'),
  ]);
  await chat.getByText('Connection lost. Reconnecting…').waitFor();
  await send(composer, 'Flight 3');
  await send(composer, 'Flight 4');
  await stack.relay.start();
  // No wake event this time: the backoff timer reconnects by itself.
  const texts = ['Flight 0', 'Flight 1', 'Flight 2', 'Flight 3', 'Flight 4'];
  for (const text of texts) await row(log, text).getByText('Sent').waitFor({ timeout: RECONNECT_MS });
  await assertOnce(log, texts);
  assert.deepEqual(await storedTexts(conversationId), texts);
  assert.deepEqual(unexpected(errors), []);
  await context.close();
});

test('two tabs: messages and replies show live in both, never twice, even when both resend', async () => {
  const a = await visit({ path: '/tabs' });
  const { context } = a;
  await send(a.composer, 'Hello from tab A');
  await row(a.log, 'Hello from tab A').getByText('Sent').waitFor();
  const conversationId = (await a.frames.next('ack')).message.conversation_id;
  const b = await visit({ path: '/tabs', context });
  await row(b.log, 'Hello from tab A').waitFor();

  await send(b.composer, 'Hello from tab B');
  await row(a.log, 'Hello from tab B').waitFor();
  await stack.agent.post(`/v1/agent/conversations/${conversationId}/messages`, {
    client_id: crypto.randomUUID(),
    text: 'One answer for both tabs',
  });
  await row(a.log, 'One answer for both tabs').waitFor();
  await row(b.log, 'One answer for both tabs').waitFor();

  // Tab A writes during an outage; tab B, reloaded meanwhile, finds it in the shared outbox.
  // Both resend the same client id once the relay is back.
  await stack.relay.stop();
  await send(a.composer, 'Typed in A while offline');
  await row(a.log, 'Typed in A while offline').getByText('Sending…').waitFor();
  await b.page.reload();
  const reloaded = await openPanel(b.page);
  await row(reloaded.log, 'Typed in A while offline').getByText('Sending…').waitFor();
  await stack.relay.start();
  await Promise.all([a.page, b.page].map((page) => page.evaluate(() => window.dispatchEvent(new Event('online')))));
  for (const log of [a.log, reloaded.log]) {
    await row(log, 'Typed in A while offline').getByText('Sent').waitFor({ timeout: RECONNECT_MS });
    await assertOnce(log, ['Hello from tab A', 'Hello from tab B', 'One answer for both tabs', 'Typed in A while offline']);
  }
  assert.deepEqual(await storedTexts(conversationId), ['Hello from tab A', 'Hello from tab B', 'Typed in A while offline']);
  assert.deepEqual(unexpected(a.errors), []);
  assert.deepEqual(unexpected(b.errors), []);
  await context.close();
});

test('an agent reading the conversation shows "Read" on the newest message, also after a reload', async () => {
  const { context, page, errors, frames, composer, log } = await visit({ path: '/read' });
  await send(composer, 'First question');
  await send(composer, 'Second question');
  await row(log, 'Second question').getByText('Sent').waitFor();
  const conversationId = (await frames.next('ack')).message.conversation_id;

  await stack.agent.post(`/v1/agent/conversations/${conversationId}/read`);
  await row(log, 'Second question').getByText('Chat · Read').waitFor();
  // The older read message keeps a quiet double check; its "Read" is for screen readers.
  assert.equal(await row(log, 'First question').locator('.meta .sr-only').textContent(), ' · Read');
  assert.equal(await row(log, 'First question').locator('svg.tick.read').count(), 1);
  assert.equal(await row(log, 'Second question').locator('.meta .sr-only').count(), 0);
  await waitForAnimations(page);
  await screenshot(page, 'widget-read');

  // A newer message is only sent until read again; the welcome brings the read mark back.
  await send(composer, 'Third question');
  await row(log, 'Third question').getByText('Chat · Sent').waitFor();
  await page.reload();
  const reloaded = await openPanel(page);
  await row(reloaded.log, 'Second question').getByText('Chat · Read').waitFor();
  await row(reloaded.log, 'Third question').getByText('Chat · Sent').waitFor();
  assert.deepEqual(unexpected(errors), []);
  await context.close();
});

test('unread: replies to a closed panel count up, also right after a reload; opening clears and reports seen', async () => {
  const { context, page, errors, frames, composer, log } = await visit({ path: '/unread' });
  const sentFrames = [];
  page.on('websocket', (socket) => socket.on('framesent', ({ payload }) => sentFrames.push(JSON.parse(payload))));
  await send(composer, 'Anyone there?');
  await row(log, 'Anyone there?').getByText('Sent').waitFor();
  const conversationId = (await frames.next('ack')).message.conversation_id;
  await frames.next('welcome'); // this page's; the reloads' follow
  await page.evaluate(() => natter('close'));

  const reply = (text) => stack.agent.post(`/v1/agent/conversations/${conversationId}/messages`, { client_id: crypto.randomUUID(), text });
  await reply('Yes, hello!');
  await waitForEvent(page, 'unread', '(d) => d.count === 1');
  await reply('How can I help?');
  await waitForEvent(page, 'unread', '(d) => d.count === 2');

  // A reload with the panel closed: the count is there as soon as the app has its welcome.
  await page.reload();
  await page.getByRole('button', { name: /^Open chat/ }).hover();
  await frames.next('welcome');
  await waitForEvent(page, 'unread', '(d) => d.count === 2');

  await page.evaluate(() => natter('open'));
  await waitForEvent(page, 'unread', '(d) => d.count === 0');
  const lastSeq = (await stack.agent.get(`/v1/agent/conversations/${conversationId}`)).messages.at(-1).seq;
  await (async () => {
    while (!sentFrames.some((frame) => frame.type === 'seen' && frame.up_to_seq === lastSeq)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();

  // After another reload nothing is unread: the next reply counts 1, not 3.
  await page.reload();
  await page.getByRole('button', { name: /^Open chat/ }).hover();
  const welcome = await frames.next('welcome');
  assert.equal(welcome.seen_up_to, lastSeq);
  await reply('Still there?');
  await waitForEvent(page, 'unread', '(d) => d.count === 1');
  const counts = await page.evaluate(() => window.__events.filter(([name]) => name === 'unread').map(([, d]) => d.count));
  assert.deepEqual(counts, [1]);
  assert.deepEqual(unexpected(errors), []);
  await context.close();
});

test('storage: nothing is stored without consent, a corrupt outbox is ignored', async () => {
  // A broken document from some earlier version must not break the chat.
  const { context, page, errors, composer, log } = await visit({
    path: '/storage',
    setup: `localStorage.setItem('${OUTBOX_KEY}', '{not json'); natter('consent', false);`,
  });
  await send(composer, 'Works with a corrupt outbox');
  await row(log, 'Works with a corrupt outbox').getByText('Sent').waitFor();

  await stack.relay.stop();
  await send(composer, 'Kept in memory only');
  await row(log, 'Kept in memory only').getByText('Sending…').waitFor();
  assert.equal(await page.evaluate((key) => localStorage.getItem(key), OUTBOX_KEY), null,
    'withdrawn consent: the outbox is deleted and not written');
  await page.evaluate(() => natter('consent', true));
  assert.deepEqual((await outbox(page)).messages.map((message) => message.text), ['Kept in memory only']);
  await stack.relay.start();
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  await row(log, 'Kept in memory only').getByText('Sent').waitFor({ timeout: RECONNECT_MS });
  assert.deepEqual(unexpected(errors), []);
  await context.close();
});
