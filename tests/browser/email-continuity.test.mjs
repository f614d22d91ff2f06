// Email continuity end to end (E1–E6, W3, I14): the visitor gives their email and leaves; the
// agent answers in the chat; after the (shortened) unread delay the email arrives at a real
// SMTP server (tools/smtp_sink.py); the visitor's reply, fed through the inbound endpoint,
// appears in the console labelled email, and the magic link from that email opens the same
// thread in a new browser's widget.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { after } from 'node:test';

import {
  agentApi, emailParts as parts, openConsole, openHostPage, screenshot, startSmtpSink, suite,
  waitForEvent,
} from './support.mjs';

const INGEST_SECRET = 'browser-ingest-secret';
const SITE_URL = 'https://shop.example/help';

const sink = await startSmtpSink();
after(() => sink.stop());

const stack = suite({
  config: `url = "${SITE_URL}"
unread_email_after_ms = 1500

[sites.form]
when = "after_first_message"

[mail]
smtp_host = "127.0.0.1"
smtp_port = ${sink.port}
smtp_tls = "none"
from_address = "support@shop.test"
inbound_domain = "in.shop.test"
ingest_secret = "${INGEST_SECRET}"

[jobs]
poll_ms = 200
`,
});

/** Waits for the `count`th email at the sink. */
async function waitForEmail(count) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const emails = sink.emails();
    if (emails.length >= count) return emails[count - 1];
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no email #${count} within 20 s`);
}

test('the reply follows the visitor by email, their email reply comes back, the link reopens the thread', async () => {
  // The visitor chats, gives their email and leaves.
  const ada = await openHostPage(stack, { recordEvents: true });
  await ada.page.evaluate(() => natter('open'));
  const chat = ada.page.getByRole('dialog', { name: 'Chat' });
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill('Do you ship to Vienna?');
  await composer.press('Enter');
  await waitForEvent(ada.page, 'message:sent');
  const { conversationId } = await ada.page.evaluate(() => window.__events.find(([n]) => n === 'message:sent')[1]);
  const card = chat.getByRole('region', { name: 'Don’t miss our reply' });
  await card.getByLabel('Email', { exact: true }).fill('ada@example.com');
  await card.getByRole('button', { name: 'Send my details' }).click();
  await chat.getByText(/ada@example\.com/).first().waitFor();
  await ada.context.close();

  // The agent answers in the chat; unseen, it goes out by email after the delay.
  const agent = await agentApi(stack.relay.url);
  await agent.post(`/v1/agent/conversations/${conversationId}/messages`, {
    client_id: crypto.randomUUID(), text: 'Yes, **2 days** to Vienna.', channel: 'chat',
  });
  const raw = await waitForEmail(1);
  assert.match(raw, /^Reply-To: .*reply\+[0-9a-f]+@in\.shop\.test/m);
  assert.match(raw, /^Auto-Submitted: auto-generated/m);
  const { text, html } = parts(raw);
  assert.match(text, /Yes, \*\*2 days\*\* to Vienna\./);
  assert.match(text, /Do you ship to Vienna\?/, 'the recent thread');
  assert.match(html, /<strong>2 days<\/strong>/);
  const link = text.match(/#natter-link=(\S+)/)[1];
  assert.ok(text.includes(`${SITE_URL}#natter-link=`));

  // The email as a mail client shows it.
  const mailPage = await (await stack.browser.newContext()).newPage();
  await mailPage.setContent(html);
  await screenshot(mailPage, 'email-unread-reply-html');
  await mailPage.context().close();

  // Ada answers by email; the MTA hands it to the relay.
  const replyTo = raw.match(/reply\+[0-9a-f]+@in\.shop\.test/)[0];
  const messageId = raw.match(/^Message-ID: (<[^>]+>)/m)[1];
  const reply = [
    'From: Ada <ada@example.com>', `To: ${replyTo}`, 'Subject: Re: Your conversation with Demo site',
    '<r1@mail.example>'.replace(/^/, 'Message-ID: '), `In-Reply-To: ${messageId}`,
    'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '',
    'Great, I will order today.', '', 'On Thu, Dec 3, 2026 at 12:00, Demo site wrote:', '> Yes, 2 days to Vienna.', '',
  ].join('\r\n');
  const posted = await fetch(`${stack.relay.url}/v1/mail/inbound`, {
    method: 'POST', headers: { authorization: `Bearer ${INGEST_SECRET}` }, body: reply,
  });
  assert.equal((await posted.json()).outcome, 'appended');

  // In the console: the thread with chat and email labels.
  const consolePage = await openConsole(stack);
  await consolePage.page.getByText('ada@example.com').first().click();
  const thread = consolePage.page.getByRole('log');
  await thread.getByText('Great, I will order today.').waitFor();
  assert.equal(await thread.getByText('On Thu, Dec 3').count(), 0, 'the quote is stripped');
  assert.ok(await thread.getByText(/email/i).count() >= 1, 'labelled email');
  await screenshot(consolePage.page, 'console-thread-chat-and-email');

  // A new browser, through the magic link: the same thread, the email labelled.
  const phone = await openHostPage(stack, { path: `/help-${crypto.randomUUID()}` });
  await phone.page.evaluate((link) => { window.location.hash = `natter-link=${link}`; }, link);
  await phone.page.reload();
  const phoneChat = phone.page.getByRole('dialog', { name: 'Chat' });
  await phoneChat.getByText('Great, I will order today.').waitFor();
  await phoneChat.getByText(/to Vienna\./).first().waitFor();
  // W3: the email reply carries its channel label in the widget too.
  await phoneChat.getByText('by email').first().waitFor();
  assert.ok(!phone.page.url().includes('natter-link'), 'the token leaves the address bar');
  assert.equal(await phoneChat.getByRole('region', { name: 'Don’t miss our reply' }).count(), 0,
    'the email is known: no form');
  await screenshot(phone.page, 'widget-opened-from-magic-link');
  await phone.context.close();
});
