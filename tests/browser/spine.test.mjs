// The walking spine in a real browser (issue #3): script tag → loader → WASM widget → relay →
// console → reply → widget; history after reload; the visitor cookie; a tampered cookie.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suite, openHostPage, openConsole, screenshot } from './support.mjs';

const THIRTY_DAYS_S = 30 * 24 * 60 * 60;

const stack = suite({ host: false });

test('the loader draws the launcher at once and fetches the app only on intent', async () => {
  const { context, page, errors, requests } =
    await openHostPage(stack, { url: `${stack.relay.url}/`, waitUntil: 'networkidle' });
  const launcher = page.getByRole('button', { name: 'Open chat', exact: true });
  await launcher.waitFor();
  assert.equal(await launcher.getAttribute('aria-expanded'), 'false');
  const wasmRequests = requests.map((request) => request.url()).filter((url) => url.endsWith('.wasm'));
  assert.deepEqual(wasmRequests, [], 'no WASM before intent');
  // The UI lives in an open shadow root, not in the host's DOM.
  const inShadow = await page.evaluate(() => {
    const host = document.getElementById('natter-widget');
    return Boolean(host?.shadowRoot?.querySelector('button')) && !document.querySelector('body > button');
  });
  assert.ok(inShadow, 'launcher is inside the shadow root');
  await screenshot(page, 'widget-closed');

  const wasmFetched = page.waitForRequest((request) => request.url().endsWith('.wasm'));
  await launcher.hover();
  await wasmFetched;
  assert.deepEqual(errors, []);
  await context.close();
});

test('visitor and agent chat live; history and cookie survive a reload; a tampered cookie starts afresh', async () => {
  const { context: visitorContext, page: visitor, errors: visitorErrors } =
    await openHostPage(stack, { url: `${stack.relay.url}/` });

  // 1. The visitor opens the widget and writes.
  await visitor.getByRole('button', { name: 'Open chat', exact: true }).click();
  const chat = visitor.getByRole('dialog', { name: 'Chat' });
  await chat.waitFor();
  assert.equal(await visitor.getByRole('button', { name: 'Close chat', exact: true }).getAttribute('aria-expanded'), 'true');
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill('Hello! Do you ship to Lyon?');
  await composer.press('Enter');
  const visitorLog = chat.getByRole('log', { name: 'Messages' });
  await visitorLog.getByText('Hello! Do you ship to Lyon?').waitFor();
  await visitorLog.getByText('Sent').first().waitFor();
  assert.equal(await composer.inputValue(), '', 'the composer is cleared after sending');

  // 2. An agent logs in, finds the conversation at the top of the list, opens it, replies.
  const { context: agentContext, page: agent, errors: agentErrors } = await openConsole(stack);
  const list = agent.getByRole('navigation', { name: 'Conversations' });
  const row = list.getByRole('button').filter({ hasText: 'Do you ship to Lyon?' });
  await row.waitFor();
  await row.click();
  const agentLog = agent.getByRole('log', { name: 'Messages' });
  await agentLog.getByText('Hello! Do you ship to Lyon?').waitFor();
  const reply = agent.getByRole('textbox', { name: 'Reply', exact: true });
  await reply.fill('Yes, we ship to all of France.');
  await reply.press('Enter');
  await agentLog.getByText('Yes, we ship to all of France.').waitFor();

  // 3. The reply reaches the widget without a reload, with the agent's name.
  const agentMessage = visitorLog.getByRole('listitem').filter({ hasText: 'Yes, we ship to all of France.' });
  await agentMessage.waitFor();
  assert.match(await agentMessage.innerText(), /Admin/);
  await screenshot(visitor, 'widget-open-thread');

  // A second visitor message appears live in the open console thread.
  await composer.fill('Great, thanks!');
  await composer.press('Enter');
  await agentLog.getByText('Great, thanks!').waitFor();
  await screenshot(agent, 'console-thread');

  // 4. The visitor cookie: first-party, 30 days, SameSite=Lax, readable by the widget.
  const cookies = await visitorContext.cookies();
  const vid = cookies.find((cookie) => cookie.name === 'natter_vid');
  assert.ok(vid, 'natter_vid is set');
  assert.equal(vid.sameSite, 'Lax');
  assert.equal(vid.path, '/');
  assert.equal(vid.secure, false, 'not Secure on plain http');
  const lifetime = vid.expires - Date.now() / 1000;
  assert.ok(Math.abs(lifetime - THIRTY_DAYS_S) < 120, `30-day lifetime, got ${lifetime}s`);

  // Reload: the whole thread is back.
  await visitor.reload();
  await visitor.getByRole('button', { name: 'Open chat', exact: true }).click();
  for (const text of ['Hello! Do you ship to Lyon?', 'Yes, we ship to all of France.', 'Great, thanks!']) {
    await visitorLog.getByText(text).waitFor();
  }
  const renewed = (await visitorContext.cookies()).find((cookie) => cookie.name === 'natter_vid');
  assert.equal(renewed.value, vid.value, 'the same visitor after a reload');
  assert.ok(renewed.expires >= vid.expires, 'the lifetime is renewed on each visit');

  // A tampered cookie: a new identity and an empty thread, never an error.
  const tampered = `${vid.value.slice(0, -2)}${vid.value.endsWith('AA') ? 'BB' : 'AA'}`;
  const { context: strangerContext, page: stranger, errors: strangerErrors } = await openHostPage(stack, {
    url: `${stack.relay.url}/`,
    cookies: [{ name: 'natter_vid', value: tampered, url: stack.relay.url }],
  });
  await stranger.getByRole('button', { name: 'Open chat', exact: true }).click();
  const strangerChat = stranger.getByRole('dialog', { name: 'Chat' });
  await strangerChat.getByText('Ask us anything').waitFor();
  assert.equal(await strangerChat.getByText('Do you ship to Lyon?').count(), 0, 'no one else\'s history');
  await stranger.waitForFunction((old) => /natter_vid=/.test(document.cookie) && !document.cookie.includes(old), tampered);
  const fresh = (await strangerContext.cookies()).find((cookie) => cookie.name === 'natter_vid');
  assert.notEqual(fresh.value, vid.value);

  assert.deepEqual(visitorErrors, []);
  assert.deepEqual(agentErrors, []);
  assert.deepEqual(strangerErrors, []);
  await Promise.all([visitorContext.close(), agentContext.close(), strangerContext.close()]);
});

test('the console refuses a wrong password with a clear message and keeps the email', async () => {
  const context = await stack.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${stack.relay.url}/inbox/`);
  await page.getByLabel('Email').fill('admin@example.com');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').getByText('wrong email or password').waitFor();
  assert.equal(await page.getByLabel('Email').inputValue(), 'admin@example.com');
  await screenshot(page, 'console-login-error');
  await context.close();
});

test('while no agent is online the widget shows the away message; it goes when an agent comes online', async () => {
  const away = "We're away right now. Leave a message and we'll answer as soon as we're back.";
  const { context: visitorContext, page: visitor, errors } = await openHostPage(stack, { url: `${stack.relay.url}/` });
  await visitor.getByRole('button', { name: 'Open chat', exact: true }).click();
  const chat = visitor.getByRole('dialog', { name: 'Chat' });
  await chat.getByText(away).waitFor();

  const { context: agentContext } = await openConsole(stack);
  await chat.getByText(away).waitFor({ state: 'hidden' });
  assert.deepEqual(errors, []);
  await Promise.all([visitorContext.close(), agentContext.close()]);
});
