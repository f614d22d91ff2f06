// Hostile input in the real widget and console (issue 15: S4, S5). Every payload of
// tests/browser/xss-corpus.json goes through every text field that reaches a browser, in
// batches (one page load per field group, not per payload):
// - the widget: visitor messages (the composer), the email form's email, name and company,
//   attachment file names (the file chooser), agent replies (and internal comments, which must
//   not reach it) — shown as plain text, the widget renders no Markdown yet;
// - the console: the same conversation (messages, comments, file names, contact), 72 visitors
//   whose name, company, phone and email (natter('identify') frames) are payloads, inbound email
//   (sender name, subject, plain and HTML body) and the inbound mail log, saved responses in
//   the admin screen and the composer's picker.
// The test fails if a dialog opens, `window.__xss` is set (every payload that runs sets it), or
// a payload becomes an element or attribute (xss-support.mjs's inspectPage); each field's text
// must also show, so a field that is not rendered at all cannot pass.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  suite, openHostPage, openConsole, waitForEvent, agentApi, screenshot,
} from './support.mjs';
import {
  CORPUS, asEmail, rustTrim, recordDialogs, inspect, countScripts, visible,
} from './xss-support.mjs';

const INGEST_SECRET = 'xss-ingest-secret';
const INBOUND_DOMAIN = 'in.xss.test';
/** Files per message: the relay's default limit. */
const FILES_PER_MESSAGE = 10;
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');

const FORM = `
[sites.form]
when = "after_first_message"
name = "optional"
company = "optional"
`;
// Every conversation and mail log entry on one page of the console.
const limits = { inbox_page_size: 200, max_inbox_page_size: 200, audit_page_size: 200 };

const stack = suite({
  relays: {
    chat: { config: FORM, limits },
    contacts: { noForm: true, limits },
    mail: {
      noForm: true,
      limits,
      config: `
[mail]
from_address = "support@xss.test"
inbound_domain = "${INBOUND_DOMAIN}"
ingest_secret = "${INGEST_SECRET}"
`,
    },
  },
});

/** Asserts that a page shows no trace of a payload that got through. */
async function assertClean(page, dialogs, relay, scripts, where) {
  const { problems, xss } = await inspect(page, relay.url, scripts);
  assert.deepEqual(problems, [], `${where}: payloads became elements or attributes`);
  assert.equal(xss, undefined, `${where}: a payload's script ran`);
  assert.deepEqual(dialogs, [], `${where}: a payload opened a dialog`);
}

/** The text of every `.bubble` (the message areas) of the page and its shadow roots. */
async function bubbleTexts(page) {
  return page.evaluate(() => {
    const roots = [document];
    const texts = [];
    for (let i = 0; i < roots.length; i++) {
      for (const element of roots[i].querySelectorAll('*')) {
        if (element.shadowRoot) roots.push(element.shadowRoot);
      }
      for (const bubble of roots[i].querySelectorAll('.bubble')) texts.push(bubble.textContent);
    }
    return texts;
  });
}

/** Resolves once the page shows at least `count` messages. */
async function waitForBubbles(page, count) {
  await page.waitForFunction((count) => {
    const roots = [document];
    let found = 0;
    for (let i = 0; i < roots.length; i++) {
      for (const element of roots[i].querySelectorAll('*')) {
        if (element.shadowRoot) roots.push(element.shadowRoot);
      }
      found += roots[i].querySelectorAll('.bubble').length;
    }
    return found >= count;
  }, count, { timeout: 30_000 });
}

/** The page's whole text, shadow roots included. */
function pageText(page) {
  return page.evaluate(() => {
    const roots = [document.body];
    let text = '';
    for (let i = 0; i < roots.length; i++) {
      text += ` ${roots[i].textContent}`;
      for (const element of roots[i].querySelectorAll('*')) {
        if (element.shadowRoot) roots.push(element.shadowRoot);
      }
    }
    return text;
  });
}

/** Asserts that `texts` has, for each payload, one starting with `prefix-<id> `, whose visible
 * text matches the payload's when `exact`. */
function assertEachShown(texts, prefix, where, exact = false, payloads = CORPUS) {
  for (const { id, text } of payloads) {
    const label = `${prefix}-${id} `;
    const shown = texts.find((candidate) => candidate.startsWith(label));
    assert.ok(shown !== undefined, `${where}: no message ${label.trim()} among ${texts.length}`);
    if (exact) assert.equal(visible(shown), visible(`${label}${text}`), `${where}: ${label} shown as plain text`);
  }
}

test('the inspection itself catches a payload that gets through', async () => {
  const { context, page } = await openHostPage(stack, { relay: stack.relays.chat });
  const dialogs = recordDialogs(page);
  const scripts = await countScripts(page);
  await page.evaluate(() => {
    const bubble = document.createElement('div');
    bubble.className = 'bubble';
    bubble.innerHTML = '<img src="x" onerror="window.__xss = 1"><a href="javascript:void 0">x</a>';
    document.body.append(bubble);
  });
  await page.waitForFunction(() => window.__xss === 1);
  const { problems, xss } = await inspect(page, stack.relays.chat.url, scripts);
  assert.equal(xss, 1);
  assert.ok(problems.some((problem) => problem.startsWith('event attribute <img')), problems.join('\n'));
  assert.ok(problems.some((problem) => problem.startsWith('script URL <a')), problems.join('\n'));
  assert.ok(problems.some((problem) => problem.startsWith('element in a message <img')), problems.join('\n'));
  await page.evaluate(() => alert('caught'));
  assert.deepEqual(dialogs, ['alert: caught']);
  await context.close();
});

test('widget and console: visitor messages, the email form, file names, agent replies and internal comments', async () => {
  const relay = stack.relays.chat;
  const { context, page, errors, frames } = await openHostPage(stack, { relay, recordEvents: true });
  const dialogs = recordDialogs(page);
  const scripts = await countScripts(page);
  await page.evaluate(() => natter('open'));
  const chat = page.getByRole('dialog', { name: 'Chat' });
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await frames.next('welcome');

  // Every payload as a visitor message, typed into the composer.
  for (const { id, text } of CORPUS) {
    await composer.fill(`v-${id} ${text}`);
    await composer.press('Enter');
  }
  await page.waitForFunction((count) => window.__events.filter(([name]) => name === 'message:sent').length >= count, CORPUS.length);
  const { conversationId } = await page.evaluate(() => window.__events.find(([name]) => name === 'message:sent')[1]);

  // The email form (W5): a hostile email, name and company.
  const card = chat.getByRole('region', { name: 'Don’t miss our reply' });
  const formPayload = CORPUS.find((p) => p.kind === 'img');
  const formEmail = asEmail(formPayload.text, formPayload.id);
  const formName = CORPUS.find((p) => p.kind === 'svg').text;
  const formCompany = CORPUS.find((p) => p.kind === 'iframe').text;
  await card.getByLabel('Email', { exact: true }).fill(formEmail);
  await card.getByLabel('Full name (optional)', { exact: true }).fill(formName);
  await card.getByLabel('Company (optional)', { exact: true }).fill(formCompany);
  await card.getByRole('button', { name: 'Send my details' }).click();
  await frames.next('form_accepted');

  // Every payload as a file name, ten files to a message.
  for (let start = 0; start < CORPUS.length; start += FILES_PER_MESSAGE) {
    const batch = CORPUS.slice(start, start + FILES_PER_MESSAGE);
    const chooser = page.waitForEvent('filechooser');
    await chat.getByRole('button', { name: 'Attach files', exact: true }).click();
    await (await chooser).setFiles(batch.map(({ text }) => ({ name: `${text}.pdf`, mimeType: 'application/pdf', buffer: PDF })));
    const tray = chat.getByRole('list', { name: 'Files to send' });
    await page.waitForFunction(
      (count) => document.querySelector('#natter-widget').shadowRoot.querySelectorAll('.tray-item').length === count
        && [...document.querySelector('#natter-widget').shadowRoot.querySelectorAll('.tray-item')]
          .every((item) => item.textContent.includes('Ready to send')),
      batch.length,
    );
    await composer.fill(`files-${start}`);
    await composer.press('Enter');
    await tray.waitFor({ state: 'hidden' });
  }

  // Every payload as an agent reply and as an internal comment. The relay refuses a reply with
  // a `{{tag}}` left in it (I6: an unfilled saved response); nothing else.
  const agent = await agentApi(relay.url);
  const refused = [];
  for (const { id, text } of CORPUS) {
    for (const [prefix, internal] of [['a', false], ['c', true]]) {
      try {
        await agent.post(`/v1/agent/conversations/${conversationId}/messages`, { client_id: randomUUID(), text: `${prefix}-${id} ${text}`, internal });
      } catch (error) {
        assert.ok(!internal && text.includes('{{') && /personalization tag/.test(error.message), `${prefix}-${id}: ${error.message}`);
        refused.push(`${prefix}-${id}`);
      }
    }
  }
  const templates = CORPUS.filter(({ text }) => text.includes('{{'));
  assert.deepEqual(refused, templates.map(({ id }) => `a-${id}`));
  const fileMessages = Math.ceil(CORPUS.length / FILES_PER_MESSAGE);
  await waitForBubbles(page, CORPUS.length * 2 - templates.length + fileMessages);

  // The widget: plain text, exactly as sent; no comment; every stored file name shown.
  await assertClean(page, dialogs, relay, scripts, 'widget');
  const widgetTexts = await bubbleTexts(page);
  assertEachShown(widgetTexts, 'v', 'widget, visitor messages', true);
  const agentPayloads = CORPUS.filter(({ text }) => !text.includes('{{'));
  assertEachShown(widgetTexts, 'a', 'widget, agent replies', true, agentPayloads);
  assert.equal(widgetTexts.filter((text) => text.startsWith('c-')).length, 0, 'internal comments never reach the visitor');
  const detail = await agent.get(`/v1/agent/conversations/${conversationId}`);
  const fileNames = detail.messages.flatMap((m) => m.attachments.map((a) => a.name));
  assert.equal(fileNames.length, CORPUS.length, 'every file was stored');
  const widgetText = await pageText(page);
  for (const name of fileNames) assert.ok(widgetText.includes(name), `widget shows the file name ${JSON.stringify(name)}`);
  assert.ok(widgetText.includes(formEmail), 'the form\'s email shows in the confirmation');
  await screenshot(page, 'xss-widget');
  assert.deepEqual(errors, []);

  // The console: the conversation with its contact.
  const admin = await openConsole(stack, { relay });
  const consoleDialogs = recordDialogs(admin.page);
  const consoleScripts = await countScripts(admin.page);
  await admin.page.getByRole('navigation', { name: 'Conversations' }).locator('button.conversation').first().click();
  await waitForBubbles(admin.page, CORPUS.length * 3 - templates.length + fileMessages);
  await assertClean(admin.page, consoleDialogs, relay, consoleScripts, 'console thread');
  const consoleTexts = await bubbleTexts(admin.page);
  assertEachShown(consoleTexts, 'v', 'console, visitor messages');
  assertEachShown(consoleTexts, 'a', 'console, agent replies', false, agentPayloads);
  assertEachShown(consoleTexts, 'c', 'console, internal comments');
  const contact = admin.page.getByRole('complementary', { name: 'Contact' });
  await contact.getByText(formCompany, { exact: true }).waitFor();
  const consoleText = await pageText(admin.page);
  for (const value of [formEmail, formName, formCompany, ...fileNames]) {
    assert.ok(consoleText.includes(value), `the console shows ${JSON.stringify(value)}`);
  }
  await assertClean(admin.page, consoleDialogs, relay, consoleScripts, 'console thread and contact');
  await screenshot(admin.page, 'xss-console-thread');
  assert.deepEqual(admin.errors, []);
  await admin.context.close();
  await context.close();
});

/** Visitors on sockets of their own (from a page of the host's origin, as the widget connects):
 * each sends `identify` with these details, then one message; resolves to their conversations. */
async function rawVisitors(page, relay, visitors) {
  return page.evaluate(async ({ relayUrl, visitors }) => {
    const visit = ({ details, text }) => new Promise((resolve, reject) => {
      const socket = new WebSocket(`${relayUrl.replace(/^http/, 'ws')}/v1/visitor/ws`);
      const timer = setTimeout(() => reject(new Error(`no ack for ${text}`)), 20_000);
      socket.onopen = () => socket.send(JSON.stringify({ type: 'hello', v: 1, site: 'demo' }));
      socket.onmessage = (event) => {
        const frame = JSON.parse(event.data);
        if (frame.type === 'welcome') socket.send(JSON.stringify({ type: 'identify', ...details }));
        else if (frame.type === 'identified') socket.send(JSON.stringify({ type: 'send', client_id: crypto.randomUUID(), text }));
        else if (frame.type === 'ack') {
          clearTimeout(timer);
          socket.close(1000);
          resolve(frame.message.conversation_id);
        } else if (frame.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`${text}: ${event.data}`));
        }
      };
    });
    return Promise.all(visitors.map(visit));
  }, { relayUrl: relay.url, visitors });
}

test('console: visitors whose name, company, phone and email are payloads (identify)', async () => {
  const relay = stack.relays.contacts;
  const n = CORPUS.length;
  // Visitor k has payload k as name, k+1 as company, k+2 as phone and k+3 as email: every
  // payload goes through every field.
  const visitors = CORPUS.map((payload, k) => ({
    text: `contact-${payload.id}`,
    details: {
      name: CORPUS[k].text,
      company: CORPUS[(k + 1) % n].text,
      phone: CORPUS[(k + 2) % n].text,
      email: asEmail(CORPUS[(k + 3) % n].text, CORPUS[(k + 3) % n].id),
    },
  }));
  const { context, page } = await openHostPage(stack, { url: stack.host.page('/raw-visitors', '<!doctype html><title>Visitors</title>') });
  const conversations = await rawVisitors(page, relay, visitors);
  await context.close();
  // The relay keeps each visitor's details on their own conversation.
  const { conversations: listed } = await (await agentApi(relay.url)).get('/v1/agent/conversations?limit=200');
  const mixedUp = visitors.flatMap(({ details, text }, k) => {
    const summary = listed.find((c) => c.id === conversations[k]);
    const contact = summary?.state.contact;
    return contact?.name === rustTrim(details.name) && contact?.email === details.email ? [] : [`${text}: ${JSON.stringify(contact)}`];
  });
  assert.deepEqual(mixedUp, [], 'each conversation has its own visitor\'s contact');

  const admin = await openConsole(stack, { relay });
  const dialogs = recordDialogs(admin.page);
  const scripts = await countScripts(admin.page);
  const list = admin.page.getByRole('navigation', { name: 'Conversations' });
  await admin.page.waitForFunction((count) => document.querySelectorAll('button.conversation').length >= count, n);
  await assertClean(admin.page, dialogs, relay, scripts, 'conversation list');
  const listText = await list.textContent();
  for (const { details } of visitors) {
    assert.ok(listText.includes(rustTrim(details.name)), `the list shows ${JSON.stringify(details.name)}: ${JSON.stringify(await list.locator('.visitor').allTextContents())}`);
  }

  // Each visitor's contact panel.
  const contact = admin.page.getByRole('complementary', { name: 'Contact' });
  for (const { text, details } of visitors) {
    const kept = Object.fromEntries(Object.entries(details).map(([field, value]) => [field, rustTrim(value)]));
    await list.locator('button.conversation').filter({ hasText: text }).click();
    await admin.page.waitForFunction(
      ({ name, company, phone, email }) => {
        const panel = document.querySelector('aside.contact');
        return panel && [name, company, phone, email].every((value) => panel.textContent.includes(value));
      },
      kept,
      { timeout: 10_000 },
    ).catch(async () => {
      assert.fail(`the contact panel of ${text} does not show ${JSON.stringify(details)}: ${await contact.textContent()}`);
    });
    await assertClean(admin.page, dialogs, relay, scripts, `contact panel of ${text}`);
  }
  await screenshot(admin.page, 'xss-console-contacts');
  assert.deepEqual(admin.errors, []);
  await admin.context.close();
});

/** `text` as RFC 2047 encoded words (UTF-8, base64), folded so no word passes 75 characters. */
function encodedWords(text) {
  const words = [];
  let chunk = '';
  for (const char of text) {
    if (Buffer.byteLength(chunk + char) > 40) {
      words.push(chunk);
      chunk = '';
    }
    chunk += char;
  }
  if (chunk) words.push(chunk);
  return words.map((word) => `=?utf-8?B?${Buffer.from(word).toString('base64')}?=`).join('\r\n ');
}

/** A raw email as an MTA hands it to the relay: base64 body, encoded sender name and subject. */
function rawEmail({ fromName, subject, body, html = false, to = 'help@xss.test' }) {
  const encoded = Buffer.from(body).toString('base64').replace(/.{76}/g, '$&\r\n');
  return [
    `From: ${encodedWords(fromName)} <sender@mail.example>`,
    `To: ${to}`,
    `Subject: ${encodedWords(subject)}`,
    `Message-ID: <${randomUUID()}@mail.example>`,
    `Date: ${new Date().toUTCString()}`,
    'MIME-Version: 1.0',
    `Content-Type: ${html ? 'text/html' : 'text/plain'}; charset=utf-8`,
    'Content-Transfer-Encoding: base64',
    '',
    encoded,
    '',
  ].join('\r\n');
}

/** Posts a raw email to the relay's inbound endpoint; resolves to its answer. */
async function ingest(relay, raw) {
  const response = await fetch(`${relay.url}/v1/mail/inbound`, {
    method: 'POST', headers: { authorization: `Bearer ${INGEST_SECRET}` }, body: raw,
  });
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

test('console: inbound email (sender name, subject, plain and HTML body), the inbound mail log, saved responses', async () => {
  const relay = stack.relays.mail;
  for (const { id, text } of CORPUS) {
    // The sender's name and the plain body; an HTML body; an empty body, whose subject becomes
    // the message; a reply to an altered address, kept for admins with its subject.
    const appended = await ingest(relay, rawEmail({ fromName: text, subject: text, body: `e-${id} ${text}` }));
    assert.equal(appended.outcome, 'appended', JSON.stringify(appended));
    await ingest(relay, rawEmail({ fromName: text, subject: text, body: `<p>h-${id} ${text}</p>`, html: true }));
    await ingest(relay, rawEmail({ fromName: text, subject: `s-${id} ${text}`, body: '' }));
    const kept = await ingest(relay, rawEmail({ fromName: text, subject: `k-${id} ${text}`, body: 'x', to: `reply+altered${id}@${INBOUND_DOMAIN}` }));
    assert.equal(kept.outcome, 'kept', JSON.stringify(kept));
  }
  // Saved responses (I6): payload titles, categories, bodies and email subjects. A body with an
  // unknown {{tag}} may be refused; nothing else is.
  const agent = await agentApi(relay.url);
  const stored = [];
  for (const { id, text } of CORPUS) {
    const response = { category: text, title: `r-${id} ${text}`, body: text, subject: id.endsWith('1') ? text : null };
    try {
      await agent.post('/v1/agent/saved-responses', response);
      stored.push(response);
    } catch (error) {
      assert.ok(text.includes('{{'), `saved response ${id} refused: ${error.message}`);
    }
  }

  const admin = await openConsole(stack, { relay });
  const dialogs = recordDialogs(admin.page);
  const scripts = await countScripts(admin.page);
  await admin.page.getByRole('navigation', { name: 'Conversations' }).locator('button.conversation').first().click();
  await waitForBubbles(admin.page, CORPUS.length * 3);
  await assertClean(admin.page, dialogs, relay, scripts, 'email thread');
  const texts = await bubbleTexts(admin.page);
  assertEachShown(texts, 'e', 'console, plain email bodies');
  assertEachShown(texts, 's', 'console, subjects of empty emails');
  const htmlShown = texts.filter((text) => /^h-x\d\d(?!\d)/.test(text));
  assert.deepEqual(CORPUS.map(({ id }) => id).filter((id) => !htmlShown.some((text) => new RegExp(`^h-${id}(?!\\d)`).test(text))), [],
    'every HTML body shows, as text');
  const threadText = await pageText(admin.page);
  for (const { text } of CORPUS) {
    if (text.trim()) assert.ok(visible(threadText).includes(visible(text)), `the sender's name shows: ${text}`);
  }
  await screenshot(admin.page, 'xss-console-email');

  // The composer's saved-response picker: every category, with its titles.
  await admin.page.getByRole('button', { name: 'Saved responses', exact: true }).click();
  const picker = admin.page.getByRole('group', { name: 'Saved responses' });
  const categories = picker.getByRole('combobox', { name: 'Category' });
  await admin.page.waitForFunction(() => document.querySelectorAll('.saved-picker option').length > 1);
  const values = await categories.locator('option').evaluateAll((options) => options.map((o) => o.value).filter(Boolean));
  assert.ok(values.length >= stored.filter((r) => r.subject === null).length / 2, `categories offered: ${values.length}`);
  for (const value of values) {
    await categories.selectOption(value);
    await picker.getByRole('button').first().waitFor();
    await assertClean(admin.page, dialogs, relay, scripts, `saved-response picker, category ${value}`);
  }
  // A template-looking body goes into the reply as it is: `${…}` is not a tag, nothing runs it.
  const literal = CORPUS.find(({ text }) => text === '${7*7}');
  await categories.selectOption(literal.text);
  await picker.getByRole('button', { name: `r-${literal.id} ${literal.text}`, exact: true }).click();
  assert.equal(await admin.page.getByRole('textbox', { name: 'Reply', exact: true }).inputValue(), literal.text);

  // The admin screen: saved responses and the inbound mail log.
  await admin.page.getByRole('button', { name: 'Admin', exact: true }).click();
  await admin.page.getByRole('region', { name: 'Saved responses' }).getByText('r-x01 ', { exact: false }).waitFor();
  await admin.page.waitForFunction(() => document.body.textContent.includes('k-x01 '));
  await assertClean(admin.page, dialogs, relay, scripts, 'admin screen');
  const adminText = await pageText(admin.page);
  for (const { id } of CORPUS) {
    assert.ok(adminText.includes(`k-${id} `), `the inbound mail log shows the subject k-${id}`);
    if (!CORPUS.find((p) => p.id === id).text.includes('{{')) {
      assert.ok(adminText.includes(`r-${id} `), `the admin screen shows saved response r-${id}`);
    }
  }
  await screenshot(admin.page, 'xss-console-admin');
  assert.deepEqual(admin.errors, []);
  await admin.context.close();
});
