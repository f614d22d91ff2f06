// Email continuity in the front-ends (issue 12: E1, E3, E5, E6, I5, I6, W3, W6), in a real
// browser against the real relay and a real SMTP server (tools/smtp_sink.py).
//
// Widget: a magic link (`#natter-link=TOKEN`) is taken out of the address, the chat opens by
// itself and the token goes in the first hello only, with the widget's language; a made-up link
// and a real one from an email opened after it expired say so on the status line (politely, in
// German for the latter) until the visitor writes; an agent's email reply is labelled
// "per E-Mail"; with nobody online, the email form's confirmation says the answer also comes by
// email. Console: the
// Email channel explains that the relay has no mail server; with email on, the admin writes
// email templates under their own heading, the composer asks for a subject and offers them, and
// the reply arrives at the mail server with that subject; a message's email delivery shows and
// changes in place from the live socket (sent, or refused with the server's answer); an email
// from another address than the contact's is flagged; a bounce marks the contact's address;
// admins see the inbound email the relay kept or ignored, live, with the raw download.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  suite, openHostPage, openConsole, hostPage, screenshot, axeViolations, waitForAnimations,
  until, agentApi, startSmtpSink, emailParts,
} from './support.mjs';

const AWAY = 'Nobody is here right now. We answer by email.';
const INGEST_SECRET = 'email-ui-ingest-secret';
const SITE_URL = 'https://shop.example/help';
/** The reply address domain of the mail relay. */
const INBOUND_DOMAIN = 'in.shop.test';

const sink = await startSmtpSink();
after(() => sink.stop());

const stack = suite({
  relays: {
    // No `[mail]`: the console explains that Email is off.
    off: { noForm: true },
    away: { config: `away_message = "${AWAY}"\n\n[sites.form]\nwhen = "when_offline"\n` },
    // Email on, to the sink; magic links last one second, so a real one can expire. It can
    // restart, to make the widget reconnect.
    mail: {
      restartable: true,
      config: `url = "${SITE_URL}"

[sites.form]
when = "after_first_message"

[mail]
smtp_host = "127.0.0.1"
smtp_port = ${sink.port}
smtp_tls = "none"
from_address = "support@shop.test"
inbound_domain = "${INBOUND_DOMAIN}"
ingest_secret = "${INGEST_SECRET}"
magic_link_ttl_ms = 1000

[jobs]
poll_ms = 200
`,
    },
  },
});

/** The widget's launcher, whatever it is called at the moment (closed or open, en or de). */
const launcher = (page) => page.getByRole('button', { name: /^(Open chat|Close chat|Chat öffnen|Chat schließen)/ });

/** An email as the MTA hands it to the mail relay's inbound endpoint; resolves to the answer. */
async function ingest(raw) {
  const response = await fetch(`${stack.relays.mail.url}/v1/mail/inbound`, {
    method: 'POST', headers: { authorization: `Bearer ${INGEST_SECRET}` }, body: raw,
  });
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

/** The email at the sink addressed to `address` (the first one). */
const emailTo = (address) => sink.waitForEmail((raw) => new RegExp(`^To:.*<?${address.replace(/\./g, '\\.')}>?\\s*$`, 'mi').test(raw));

/** A header of a raw email (unfolded). */
const header = (raw, name) => raw.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ')
  .match(new RegExp(`^${name}: (.*)$`, 'mi'))?.[1].trim();

test('a magic link: out of the address at once, the chat opens by itself, the token goes in the first hello only; a made-up one is not valid', async () => {
  const pageUrl = stack.host.page('/magic', hostPage({ relay: stack.relays.mail.url }));
  const { context, page, errors, frames } = await openHostPage(stack, {
    url: `${pageUrl}?utm=mail#natter-link=not-a-real-token`,
  });
  // No click, no hover: the loader loads the app at once for a link.
  const chat = page.getByRole('dialog', { name: 'Chat' });
  await chat.waitFor();
  await page.waitForFunction(() => location.hash === '');
  assert.equal(page.url(), `${pageUrl}?utm=mail`, 'the rest of the address is kept');

  const welcome = await frames.next('welcome');
  const hello = frames.sent.find((frame) => frame.type === 'hello');
  assert.equal(hello.link, 'not-a-real-token');
  assert.equal(hello.lang, 'en', 'emails follow the widget\'s language');
  assert.equal(welcome.link, 'invalid', 'a made-up token is not valid');
  await chat.getByRole('status').filter({ hasText: 'This link has expired or is not valid. You can keep chatting here.' }).waitFor();
  assert.equal(await chat.getByRole('alert').filter({ hasText: 'link' }).count(), 0, 'a notice, not an error');

  // A reload (the address has no link any more) sends no link; the app loads on intent again.
  await page.reload();
  await launcher(page).hover();
  await frames.next('welcome');
  const hellos = frames.sent.filter((frame) => frame.type === 'hello');
  assert.equal(hellos.length, 2);
  assert.equal(hellos[1].link, undefined);
  assert.deepEqual(errors, []);
  await context.close();
});

test('an expired link from a real email, in German: a polite notice until the visitor writes; the link is not sent again; email replies say "per E-Mail"', async () => {
  // Lena (German page, email known) writes; the agent answers by email, with a magic link.
  const lena = await openHostPage(stack, {
    relay: stack.relays.mail, path: '/magic-de', lang: 'de',
    setup: 'natter(\'identify\', { email: \'lena@example.com\', name: \'Lena Berg\' });',
  });
  await lena.page.evaluate(() => natter('open'));
  const firstChat = lena.page.getByRole('dialog', { name: 'Chat' });
  const firstComposer = firstChat.getByRole('textbox', { name: 'Nachricht', exact: true });
  await firstComposer.fill('Hallo, wo ist meine Bestellung?');
  await firstComposer.press('Enter');
  await firstChat.getByText('Chat · Gesendet').waitFor();
  const { message: mine } = await lena.frames.next('ack');
  await lena.frames.next('identified');
  const agent = await agentApi(stack.relays.mail.url);
  const answer = (text) => agent.post(`/v1/agent/conversations/${mine.conversation_id}/messages`, {
    client_id: randomUUID(), text, channel: 'email',
  });
  await answer('Ihre Bestellung ist unterwegs.');
  const email = await emailTo('lena@example.com');
  const { text } = emailParts(email);
  assert.match(text, /Ihre Bestellung ist unterwegs\./);
  const token = text.match(/#natter-link=(\S+)/)[1];
  assert.deepEqual(lena.errors, []);
  await lena.page.close();

  // Later, on the same device, she follows the link: it has expired (one second here).
  const expiresAt = Number(token.split('.')[1]);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt + 100 - Date.now())));
  const { context, page, errors, frames } = await openHostPage(stack, {
    context: lena.context, url: `${stack.host.page('/magic-de')}#natter-link=${token}`,
  });
  const hellos = () => frames.sent.filter((frame) => frame.type === 'hello');
  const chat = page.getByRole('dialog', { name: 'Chat' });
  // The status line (role status: a polite live region) says so.
  const notice = chat.getByRole('status')
    .filter({ hasText: 'Dieser Link ist abgelaufen oder ungültig. Sie können hier weiterschreiben.' });
  await notice.waitFor();
  assert.equal((await frames.next('welcome')).link, 'expired');
  assert.equal(hellos()[0].link, token);
  assert.equal(hellos()[0].lang, 'de');
  // Her own thread, with the agent's email reply labelled with its channel (W3).
  const reply = chat.getByRole('listitem').filter({ hasText: 'Ihre Bestellung ist unterwegs.' });
  await reply.getByText('per E-Mail', { exact: true }).waitFor();
  await waitForAnimations(page);
  await screenshot(page, 'widget-link-expired');
  assert.deepEqual(await axeViolations(page), [], 'axe with the notice');

  // The relay restarts (a deploy): the widget reconnects, and sends no link: it went once.
  await stack.relays.mail.stop();
  await chat.getByText('Verbindung unterbrochen. Wird wiederhergestellt …').waitFor();
  await stack.relays.mail.start();
  await until(() => hellos().length >= 2, 15_000);
  assert.equal(hellos()[1].link, undefined);
  await notice.waitFor();

  // She writes: the notice has done its job; the next answer by email shows live, labelled.
  const composer = chat.getByRole('textbox', { name: 'Nachricht', exact: true });
  await composer.fill('Danke! Wann kommt sie an?');
  await composer.press('Enter');
  await notice.waitFor({ state: 'detached' });
  await answer('Sie kommt morgen an.');
  const next = chat.getByRole('listitem').filter({ hasText: 'Sie kommt morgen an.' });
  await next.getByText('per E-Mail', { exact: true }).waitFor();
  assert.equal(await notice.count(), 0, 'the notice stays away');
  await screenshot(page, 'widget-email-label');
  // While the relay is down, a reconnect attempt may fail; Chromium logs that, nothing else.
  assert.deepEqual(errors.filter((error) => !/WebSocket connection to .* failed/.test(error)), []);
  await context.close();
});

test('with nobody online, the form\'s confirmation says the answer also comes by email (W6)', async () => {
  const { context, page, errors } = await openHostPage(stack, { relay: stack.relays.away, path: '/away' });
  await page.evaluate(() => natter('open'));
  const chat = page.getByRole('dialog', { name: 'Chat' });
  await chat.getByText(AWAY).waitFor();
  const card = chat.getByRole('region', { name: 'Continue by email' });
  await card.getByLabel('Email', { exact: true }).fill('kim@example.com');
  await card.getByRole('button', { name: 'Send my details' }).click();
  const thanks = chat.getByText('Thanks! We’ll also answer by email at kim@example.com.');
  await thanks.waitFor();
  assert.equal(
    await thanks.evaluate((element) => element.closest('[aria-live]')?.getAttribute('aria-live')),
    'polite',
  );
  await screenshot(page, 'widget-away-confirmation');
  assert.deepEqual(await axeViolations(page), []);
  assert.deepEqual(errors, []);
  await context.close();
});

/**
 * A visitor of `relay` writes `text`: after `identify` with `email` and the name Kim Lee, or
 * giving `form` in the email form that follows the first message.
 */
async function visitorWrites(relay, text, { email, form } = {}) {
  const visitor = await openHostPage(stack, { relay, path: `/v-${randomUUID()}` });
  if (email) await visitor.page.evaluate((email) => natter('identify', { email, name: 'Kim Lee' }), email);
  await visitor.page.evaluate(() => natter('open'));
  const chat = visitor.page.getByRole('dialog', { name: 'Chat' });
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill(text);
  await composer.press('Enter');
  await chat.getByText('Chat · Sent').waitFor();
  if (form) {
    const card = chat.getByRole('region', { name: 'Don’t miss our reply' });
    await card.getByLabel('Email', { exact: true }).fill(form);
    await card.getByRole('button', { name: 'Send my details' }).click();
    await chat.getByText(new RegExp(`^Thanks! .*${form.replace(/\./g, '\\.')}`)).waitFor();
  }
  return visitor;
}

/** The console's row of the conversation whose row has `text` (visitor or preview). */
const row = (page, text) => page.getByRole('navigation', { name: 'Conversations' })
  .getByRole('button').filter({ hasText: text });

test('the console: Email says the relay has no mail server; the inbound email log is empty', async () => {
  const visitor = await visitorWrites(stack.relays.off, 'Do you ship to Oslo?');
  const { context, page, errors } = await openConsole(stack, { relay: stack.relays.off });
  await row(page, 'ship to Oslo').click();
  const channel = page.getByRole('combobox', { name: 'Channel', exact: true });
  const email = channel.locator('option[value="email"]');
  await page.getByRole('log', { name: 'Messages' }).getByText('Do you ship to Oslo?').waitFor();
  assert.equal(await email.innerText(), 'Email is not set up on this relay');
  assert.equal(await email.isDisabled(), true);
  assert.equal(await channel.inputValue(), 'chat');
  assert.equal(await page.getByRole('textbox', { name: 'Subject', exact: true }).count(), 0, 'no subject for chat');
  await screenshot(page, 'console-email-off');

  await page.getByRole('button', { name: 'Admin', exact: true }).click();
  const inbound = page.getByRole('region', { name: 'Inbound email' });
  await inbound.getByText('No inbound email was kept or ignored.', { exact: true }).waitFor();
  assert.equal(await inbound.getByRole('alert').count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
  await visitor.context.close();
});

/**
 * The reply the console sends next: resolves to { sent, stored }, its POST body and the
 * relay's answer (the stored message).
 */
async function nextReply(page) {
  const response = await page.waitForResponse((response) => response.request().method() === 'POST'
    && /\/v1\/agent\/conversations\/[^/]+\/messages$/.test(response.url()));
  return { sent: response.request().postDataJSON(), stored: await response.json() };
}

test('the console with email on: templates, a reply by email with its subject, delivery live, an unverified sender, a refused address, a bounce, the inbound log', async () => {
  const kim = await visitorWrites(stack.relays.mail, 'Where is my order?', { email: 'kim@example.com' });
  const lost = await visitorWrites(stack.relays.mail, 'Is my parcel lost?', { form: 'reject-me@example.com' });
  const { context, page, errors } = await openConsole(stack, {
    relay: stack.relays.mail, contextOptions: { viewport: { width: 1400, height: 900 } },
  });
  const agent = await agentApi(stack.relays.mail.url);

  // The admin writes an email template (I6), listed under its own heading.
  await page.getByRole('button', { name: 'Admin', exact: true }).click();
  const saved = page.getByRole('region', { name: 'Saved responses' });
  await saved.getByText('No email templates yet.').waitFor();
  await page.getByLabel('Category', { exact: true }).fill('Orders');
  await page.getByLabel('Title', { exact: true }).fill('Order shipped');
  await page.getByLabel('Response text', { exact: true }).fill('Hi {{contact.first_name | "there"}}, your order is on its way.');
  await page.getByLabel('Subject (email template)', { exact: true }).fill('Your order, {{contact.first_name | "there"}}');
  await page.getByRole('button', { name: 'Add saved response', exact: true }).click();
  const templates = saved.getByRole('list', { name: 'Email templates' });
  await templates.getByText('Order shipped').waitFor();
  await page.getByLabel('Category', { exact: true }).fill('Orders');
  await page.getByLabel('Title', { exact: true }).fill('Thanks');
  await page.getByLabel('Response text', { exact: true }).fill('Thanks for waiting!');
  await page.getByRole('button', { name: 'Add saved response', exact: true }).click();
  await saved.getByRole('listitem').filter({ hasText: 'Thanks for waiting!' }).waitFor();
  assert.equal(await templates.getByText('Thanks for waiting!').count(), 0);
  const { responses } = await agent.get('/v1/agent/saved-responses');
  const subjects = Object.fromEntries(responses.map((response) => [response.title, response.subject ?? null]));
  assert.deepEqual(subjects, { 'Order shipped': 'Your order, {{contact.first_name | "there"}}', Thanks: null },
    'the relay keeps the subject; none for an ordinary saved response');
  await saved.getByRole('heading', { name: 'Email templates' }).scrollIntoViewIfNeeded();
  await screenshot(page, 'console-admin-templates');
  const inbound = page.getByRole('region', { name: 'Inbound email' });
  await inbound.getByText('No inbound email was kept or ignored.', { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Back to inbox', exact: true }).click();

  // Kim's conversation: chat offers no subject and no templates.
  await row(page, 'Kim Lee').click();
  const log = page.getByRole('log', { name: 'Messages' });
  await log.getByText('Where is my order?').waitFor();
  const contact = page.getByRole('complementary', { name: 'Contact' });
  await contact.getByText('kim@example.com').waitFor();
  const channel = page.getByRole('combobox', { name: 'Channel', exact: true });
  assert.equal(await channel.inputValue(), 'chat', 'the visitor is online');
  assert.equal(await channel.locator('option[value="email"]').isDisabled(), false);
  await page.getByRole('button', { name: 'Saved responses', exact: true }).click();
  const picker = page.getByRole('group', { name: 'Saved responses' });
  await picker.getByLabel('Category').selectOption('Orders');
  await picker.getByRole('button', { name: 'Thanks', exact: true }).waitFor();
  assert.equal(await picker.getByRole('button', { name: 'Order shipped' }).count(), 0);
  await page.getByRole('button', { name: 'Saved responses', exact: true }).click();

  // Email: a subject, and the template fills it and the text, tags filled in.
  await channel.selectOption('email');
  const subject = page.getByRole('textbox', { name: 'Subject', exact: true });
  assert.equal(await subject.getAttribute('placeholder'), 'Re: the conversation\'s subject');
  await page.getByRole('button', { name: 'Saved responses', exact: true }).click();
  await picker.getByLabel('Category').selectOption('Orders');
  await picker.getByRole('listitem').filter({ hasText: 'Order shipped' }).getByText('Email template').waitFor();
  await picker.getByRole('button', { name: 'Order shipped', exact: true }).click();
  assert.equal(await subject.inputValue(), 'Your order, Kim');
  const composer = page.getByRole('textbox', { name: 'Reply', exact: true });
  assert.equal(await composer.inputValue(), 'Hi Kim, your order is on its way.');
  await screenshot(page, 'console-email-composer');

  // The reply goes by email with its subject; the relay answers "pending", and the sink's
  // acceptance shows in place, live (the pending moment is too short to catch for sure).
  let posted = nextReply(page);
  await composer.press('Enter');
  const { sent, stored } = await posted;
  assert.equal(sent.channel, 'email');
  assert.equal(sent.subject, 'Your order, Kim');
  assert.equal(stored.delivery.state, 'pending');
  const shipped = log.getByRole('listitem').filter({ hasText: 'your order is on its way' });
  await shipped.getByText('Sent by email', { exact: true }).waitFor();
  assert.equal(await shipped.count(), 1, 'updated in place');
  assert.equal(await shipped.getByText('Sending by email…').count(), 0);
  assert.equal(await subject.inputValue(), '', 'the subject goes with the reply');
  const kimEmail = await emailTo('kim@example.com');
  assert.equal(header(kimEmail, 'Subject'), 'Your order, Kim');
  assert.match(emailParts(kimEmail).text, /Hi Kim, your order is on its way\./);

  // An answer to that email from another address (E3) shows at once; its flag is checked
  // below, in the thread as fetched when it is opened again.
  const replyTo = header(kimEmail, 'Reply-To').match(/reply\+[0-9a-f]+@[a-z.]+/)[0];
  assert.ok(replyTo.endsWith(`@${INBOUND_DOMAIN}`));
  const fromPhone = await ingest([
    'From: K. Lee <kim.lee@elsewhere.example>', `To: ${replyTo}`, 'Subject: Re: Your order, Kim',
    'Message-ID: <phone-1@elsewhere.example>', `In-Reply-To: ${header(kimEmail, 'Message-ID')}`,
    'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', 'Sent from my phone: any news?', '',
  ].join('\r\n'));
  assert.equal(fromPhone.outcome, 'appended');
  const unverified = log.getByRole('listitem').filter({ hasText: 'Sent from my phone' });
  await unverified.waitFor();

  // The other visitor gave an address the mail server refuses: the 550 shows on the reply, live.
  await row(page, 'reject-me@example.com').click();
  await log.getByText('Is my parcel lost?').waitFor();
  await contact.getByText('reject-me@example.com').waitFor();
  await channel.selectOption('email');
  await composer.fill('We are looking into it.');
  posted = nextReply(page);
  await composer.press('Enter');
  assert.equal((await posted).sent.channel, 'email');
  const refused = log.getByRole('listitem').filter({ hasText: 'We are looking into it.' });
  await refused.getByRole('alert').getByText(/^Email not delivered: 550 /).waitFor();
  assert.equal(await refused.count(), 1, 'updated in place');
  assert.equal(await refused.getByText('Sending by email…').count(), 0);
  assert.equal(await contact.getByText(/^Email bounced/).count(), 0, 'a refusal is no bounce');

  // The inbound email log (E5): an unreadable email is kept, a bounce is ignored; each shows
  // as it arrives, and the raw email downloads.
  await page.getByRole('button', { name: 'Admin', exact: true }).click();
  const table = inbound.getByRole('table', { name: 'Inbound email' });
  await inbound.getByText('No inbound email was kept or ignored.', { exact: true }).waitFor();
  const garbage = await ingest('this is not an email');
  assert.equal(garbage.outcome, 'kept');
  const kept = table.getByRole('row').filter({ hasText: 'could not be read' });
  await kept.getByText('kept', { exact: true }).waitFor();
  const bounce = await ingest([
    'From: Mail Delivery System <MAILER-DAEMON@mx.example.net>', 'To: support@shop.test',
    'Subject: Undelivered Mail Returned to Sender', 'Message-ID: <dsn-1@mx.example.net>',
    'Auto-Submitted: auto-replied', 'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"', '',
    '--dsn', 'Content-Type: text/plain; charset=us-ascii', '',
    'Your message could not be delivered to reject-me@example.com.', '',
    '--dsn', 'Content-Type: message/delivery-status', '',
    'Reporting-MTA: dns; mx.example.net', '',
    'Final-Recipient: rfc822; reject-me@example.com', 'Action: failed', 'Status: 5.1.1',
    'Diagnostic-Code: smtp; 550 5.1.1 No such user here', '',
    '--dsn--', '',
  ].join('\r\n'));
  assert.equal(bounce.outcome, 'ignored');
  const ignored = table.getByRole('row').filter({ hasText: 'Undelivered Mail Returned to Sender' });
  await ignored.getByRole('cell', { name: 'bounce for reject-me@example.com (1 contact(s) marked as bouncing)' }).waitFor();
  await ignored.getByText('ignored', { exact: true }).waitFor();
  const downloading = page.waitForEvent('download');
  await kept.getByRole('link', { name: /^Download the raw email from / }).click();
  const download = await downloading;
  assert.equal(readFileSync(await download.path(), 'utf8'), 'this is not an email');
  await inbound.scrollIntoViewIfNeeded();
  await screenshot(page, 'console-admin-email');
  await page.getByRole('button', { name: 'Back to inbox', exact: true }).click();

  // Kim's thread: the email from the other address is flagged, not merged (E3).
  await row(page, 'Kim Lee').click();
  const badge = unverified.getByText('Unverified sender: kim.lee@elsewhere.example');
  await badge.waitFor();
  assert.match(await badge.getAttribute('title'), /did not come from the contact's address; it was not merged into the contact/);
  await contact.getByText('kim@example.com').waitFor();
  assert.equal(await contact.getByText(/^Email bounced/).count(), 0, 'only the bounced address');
  await screenshot(page, 'console-email-unverified');

  // The bounced address is marked in its contact panel, fetched as the thread opens (E2).
  await row(page, 'reject-me@example.com').click();
  await contact.getByText('Email bounced — no automatic emails go to this address until it is changed; a reply by email may bounce again').waitFor();
  await refused.getByRole('alert').getByText(/^Email not delivered: 550 /).waitFor();
  await screenshot(page, 'console-email-thread');
  assert.deepEqual(errors, []);
  await context.close();
  await kim.context.close();
  await lost.context.close();
});
