// Email continuity in the front-ends (issue 12: E1, E3, E5, E6, I5, I6, W3, W6), in a real
// browser against the real relay.
//
// Widget: a magic link (`#natter-link=TOKEN`) is taken out of the address, the chat opens by
// itself and the token goes in the first hello only, with the widget's language; an expired
// link shows a polite, dismissible notice (in German); an agent's email reply is labelled
// "per E-Mail"; with nobody online, the email form's confirmation says the answer also comes
// by email. Console: the Email channel explains that the relay has no mail server; with email
// on, the composer asks for a subject and offers email templates, which the admin writes under
// their own heading; a message's email delivery shows and changes in place from the live
// socket; an unverified sender and a bouncing address are flagged; admins see the inbound
// email log (or a calm note while the relay lacks it).
//
// Parts the relay does not do yet are played by routes in the browser and marked
// "stand-in": the page sees exactly the JSON the protocol defines (protocol/src/agent.rs,
// protocol/src/visitor.rs), so these checks hold the front-ends to it whatever the relay does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  suite, openHostPage, hostPage, loginToConsole, watchErrors, screenshot, axeViolations,
  waitForAnimations, until,
} from './support.mjs';

const AWAY = 'Nobody is here right now. We answer by email.';

const stack = suite({
  relays: {
    main: { noForm: true },
    away: { config: `away_message = "${AWAY}"\n\n[sites.form]\nwhen = "when_offline"\n` },
  },
});

/** The widget's launcher, whatever it is called at the moment (closed or open, en or de). */
const launcher = (page) => page.getByRole('button', { name: /^(Open chat|Close chat|Chat öffnen|Chat schließen)/ });

/**
 * Loads the widget app by pointing at the launcher (intent).
 * TODO(lead, issue 12): once widget/loader/natter.js loads the app by itself when the address
 * carries `natter-link=`, this only checks that the panel opened without a click.
 */
async function showIntent(page) {
  await launcher(page).hover();
}

/** A host page of the main relay at `path`, in `lang`; returns its URL. */
function magicPage(path, lang = 'en') {
  return stack.host.page(path, hostPage({ relay: stack.relays.main.url, lang }));
}

test('a magic link: out of the address at once, the chat opens, the token goes in the first hello only', async () => {
  const pageUrl = magicPage('/magic');
  const { context, page, errors, frames } = await openHostPage(stack, {
    url: `${pageUrl}?utm=mail#natter-link=not-a-real-token`,
  });
  await showIntent(page);
  const chat = page.getByRole('dialog', { name: 'Chat' });
  await chat.waitFor();
  await page.waitForFunction(() => location.hash === '');
  assert.equal(page.url(), `${pageUrl}?utm=mail`, 'the rest of the address is kept');

  const welcome = await frames.next('welcome');
  const hello = frames.sent.find((frame) => frame.type === 'hello');
  assert.equal(hello.link, 'not-a-real-token');
  assert.equal(hello.lang, 'en', 'emails follow the widget\'s language');
  const notice = chat.getByText('This link is not valid. You can keep chatting here.');
  if (welcome.link === undefined) {
    // TODO(lead, issue 12): the relay does not answer `link` in the welcome yet. Once it does,
    // this branch goes and the assertion below always runs (the next test checks the notice
    // with a stand-in welcome meanwhile).
    assert.equal(await notice.count(), 0);
  } else {
    assert.equal(welcome.link, 'invalid', 'a made-up token is not valid');
    await notice.waitFor();
    assert.equal(await chat.getByRole('alert').filter({ hasText: 'link' }).count(), 0, 'a notice, not an error');
  }

  // A reload (the address has no link any more) sends no link.
  await page.reload();
  await showIntent(page);
  await frames.next('welcome');
  const hellos = frames.sent.filter((frame) => frame.type === 'hello');
  assert.equal(hellos.length, 2);
  assert.equal(hellos[1].link, undefined);
  assert.deepEqual(errors, []);
  await context.close();
});

test('an expired link in German: a polite notice the visitor dismisses; the link is not sent again; email replies say "per E-Mail"', async () => {
  const hellos = [];
  const acks = [];
  let widgetSide;
  const { context, page, errors } = await openHostPage(stack, {
    url: `${magicPage('/magic-de', 'de')}#natter-link=old-token`,
    prepare: (page) => page.routeWebSocket(/\/v1\/visitor\/ws/, (ws) => {
      widgetSide = ws;
      const server = ws.connectToServer();
      ws.onMessage((message) => {
        const frame = JSON.parse(message);
        if (frame.type === 'hello') hellos.push(frame);
        // The reply injected below is not in the relay's store: the relay must not hear it seen.
        if (frame.type !== 'seen') server.send(message);
      });
      server.onMessage((message) => {
        const frame = JSON.parse(message);
        // Stand-in: the relay's answer to a link that has expired (E6).
        if (frame.type === 'welcome' && hellos.at(-1)?.link) frame.link = 'expired';
        if (frame.type === 'ack') acks.push(frame);
        ws.send(JSON.stringify(frame));
      });
    }),
  });
  await showIntent(page);
  const chat = page.getByRole('dialog', { name: 'Chat' });
  const notice = chat.getByText('Dieser Link ist abgelaufen. Sie können hier weiterschreiben.');
  await notice.waitFor();
  assert.equal(hellos[0].link, 'old-token');
  assert.equal(hellos[0].lang, 'de');
  assert.equal(
    await notice.evaluate((element) => element.closest('[aria-live]')?.getAttribute('aria-live')),
    'polite',
    'announced politely',
  );
  await waitForAnimations(page);
  await screenshot(page, 'widget-link-expired');
  assert.deepEqual(await axeViolations(page), [], 'axe with the notice');

  await chat.getByRole('button', { name: 'Ausblenden', exact: true }).click();
  await notice.waitFor({ state: 'detached' });

  // A reconnect sends no link: it went once.
  widgetSide.close({ code: 4000, reason: 'going away' });
  await until(() => hellos.length >= 2, 15_000);
  assert.equal(hellos[1].link, undefined);

  // The chat works as usual; an agent's answer by email is labelled with its channel (W3).
  const composer = chat.getByRole('textbox', { name: 'Nachricht', exact: true });
  await composer.fill('Hallo, wo ist meine Bestellung?');
  await composer.press('Enter');
  await chat.getByText('Chat · Gesendet').waitFor();
  const { message: mine } = acks[0];
  widgetSide.send(JSON.stringify({
    type: 'message',
    message: {
      id: randomUUID(),
      conversation_id: mine.conversation_id,
      seq: mine.seq + 1,
      client_id: randomUUID(),
      author: { kind: 'agent', agent_id: randomUUID(), name: 'Anna' },
      channel: 'email',
      text: 'Ihre Bestellung ist unterwegs.',
      sent_at: Date.now(),
      attachments: [],
    },
  }));
  const reply = chat.getByRole('listitem').filter({ hasText: 'Ihre Bestellung ist unterwegs.' });
  await reply.getByText('per E-Mail', { exact: true }).waitFor();
  assert.equal(await notice.count(), 0, 'a dismissed notice stays away');
  await screenshot(page, 'widget-email-label');
  assert.deepEqual(errors, []);
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

/** A visitor of the main relay writes `text` (after giving `email`, when given). */
async function visitorWrites(text, email) {
  const visitor = await openHostPage(stack, { relay: stack.relays.main, path: `/v-${randomUUID()}` });
  if (email) await visitor.page.evaluate((email) => natter('identify', { email, name: 'Kim Lee' }), email);
  await visitor.page.evaluate(() => natter('open'));
  const chat = visitor.page.getByRole('dialog', { name: 'Chat' });
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill(text);
  await composer.press('Enter');
  await chat.getByText('Chat · Sent').waitFor();
  return visitor;
}

/** The console's row of the conversation whose preview has `text`. */
const row = (page, text) => page.getByRole('navigation', { name: 'Conversations' })
  .getByRole('button').filter({ hasText: text });

test('the console: Email says the relay has no mail server; the inbound email log is calm without one', async () => {
  const visitor = await visitorWrites('Do you ship to Oslo?');
  const context = await stack.browser.newContext();
  const page = await context.newPage();
  await loginToConsole(page, stack.relays.main.url);
  const errors = watchErrors(page);
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
  // The relay answers the log (empty), or does not have it yet (404): never an error.
  await inbound.getByText(/^(No inbound email was kept or ignored\.|This relay does not offer the inbound email log\.)$/).waitFor();
  assert.equal(await inbound.getByRole('alert').count(), 0);
  assert.deepEqual(errors.filter((error) => !/404/.test(error)), []);
  await context.close();
  await visitor.context.close();
});

/** JSON of `url` from the relay, with `edit` applied: for routes that add what the relay lacks. */
async function edited(route, edit) {
  const response = await route.fetch();
  // An error answer (401 before the login) goes to the page as it is.
  if (!response.ok()) return route.fulfill({ response });
  const body = await response.json();
  edit(body);
  return route.fulfill({ response, json: body });
}

test('the console with email on: subject and email templates, delivery in place, unverified sender, bounce, inbound log', async () => {
  const visitor = await visitorWrites('Where is my order?', 'kim@example.com');
  const context = await stack.browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const sent = [];
  const savedInputs = [];
  let agentSide;
  let threadMessage;
  // Stand-in: a relay with a mail server says so in the session (E1). The console reads it
  // from `GET /v1/agent/me` on load (the page is reloaded after the login below).
  await page.route('**/v1/agent/me', (route) => edited(route, (session) => {
    session.settings.email_enabled = true;
  }));
  await page.route('**/v1/agent/saved-responses', async (route) => {
    if (route.request().method() === 'POST') {
      savedInputs.push(route.request().postDataJSON());
      return route.continue();
    }
    // Stand-in until the relay stores `subject`: the template keeps the one the admin gave.
    return edited(route, (list) => {
      for (const response of list.responses) {
        const input = savedInputs.find((saved) => saved.title === response.title);
        if (input?.subject && !response.subject) response.subject = input.subject;
      }
    });
  });
  // Stand-ins: an email reply from another address (E3), and a bounced address (E2).
  await page.route(/\/v1\/agent\/conversations\/[^/]+$/, (route) => edited(route, (detail) => {
    // One made-up email, the same on every fetch (the thread merges fetches by id).
    threadMessage ??= {
      id: randomUUID(), conversation_id: detail.conversation.id, seq: detail.messages.at(-1).seq + 1,
      client_id: randomUUID(), author: { kind: 'contact', name: 'K. Lee' }, channel: 'email',
      text: 'Sent from my phone: any news?', sent_at: Date.now(), attachments: [], internal: false,
      unverified_sender: 'kim.lee@elsewhere.example',
    };
    if (detail.conversation.id === threadMessage.conversation_id) detail.messages.push(threadMessage);
  }));
  await page.route(/\/v1\/agent\/conversations\/[^/]+\/contact$/, (route) => (route.request().method() === 'GET'
    ? edited(route, (panel) => { panel.contact.email_bouncing = true; })
    : route.continue()));
  // Stand-in: the reply is stored as chat (this relay sends no email) and answered as the relay
  // with a mail server would: carried by email, pending.
  await page.route(/\/v1\/agent\/conversations\/[^/]+\/messages$/, async (route) => {
    const reply = route.request().postDataJSON();
    sent.push(reply);
    const response = await route.fetch({ postData: JSON.stringify({ ...reply, channel: 'chat', subject: undefined }) });
    const message = await response.json();
    message.channel = 'email';
    message.delivery = { state: 'pending', detail: null, updated_at: Date.now() };
    await route.fulfill({ response, json: message });
  });
  // Stand-in: the inbound email log (E5).
  const inboundEntries = [
    { id: 'mail-1', received_at: Date.now() - 60_000, outcome: 'kept', reason: 'no conversation matches the reply address', from: 'someone@example.net', subject: 'Re: your order', size: 4210 },
    { id: 'mail-2', received_at: Date.now() - 120_000, outcome: 'ignored', reason: 'auto-reply (Auto-Submitted: auto-replied)', from: 'kim@example.com', subject: 'Out of office', size: 1893 },
  ];
  let inboundShown = 1;
  await page.route('**/v1/agent/mail/inbound', (route) => route.fulfill({ json: { entries: inboundEntries.slice(0, inboundShown) } }));
  await page.routeWebSocket(/\/v1\/agent\/ws/, (ws) => {
    agentSide = ws;
    ws.connectToServer();
  });

  await loginToConsole(page, stack.relays.main.url);
  await page.reload();
  await page.getByRole('navigation', { name: 'Conversations' }).waitFor();
  // Only from here on: before the login the console's GET /v1/agent/me answers 401 by design.
  const errors = watchErrors(page);

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
  assert.equal(savedInputs[0].subject, 'Your order, {{contact.first_name | "there"}}');
  await page.getByLabel('Category', { exact: true }).fill('Orders');
  await page.getByLabel('Title', { exact: true }).fill('Thanks');
  await page.getByLabel('Response text', { exact: true }).fill('Thanks for waiting!');
  await page.getByRole('button', { name: 'Add saved response', exact: true }).click();
  await saved.getByRole('listitem').filter({ hasText: 'Thanks for waiting!' }).waitFor();
  assert.equal(savedInputs[1].subject ?? null, null, 'no subject: an ordinary saved response');
  assert.equal(await templates.getByText('Thanks for waiting!').count(), 0);
  await saved.getByRole('heading', { name: 'Email templates' }).scrollIntoViewIfNeeded();
  await screenshot(page, 'console-admin-templates');

  // The inbound email log, fetched again on the live push.
  const inbound = page.getByRole('region', { name: 'Inbound email' });
  const table = inbound.getByRole('table', { name: 'Inbound email' });
  await table.getByRole('cell', { name: 'no conversation matches the reply address' }).waitFor();
  inboundShown = 2;
  agentSide.send(JSON.stringify({ type: 'inbound_mail_changed' }));
  await table.getByRole('cell', { name: 'Out of office' }).waitFor();
  const download = inbound.getByRole('link', { name: /^Download the raw email from someone@example\.net/ });
  assert.equal(await download.getAttribute('href'), '/v1/agent/mail/inbound/mail-1/raw');
  await inbound.scrollIntoViewIfNeeded();
  await screenshot(page, 'console-admin-email');
  await page.getByRole('button', { name: 'Back to inbox', exact: true }).click();

  // The conversation: an unverified sender's email, a bouncing address.
  await row(page, 'Where is my order?').click();
  const log = page.getByRole('log', { name: 'Messages' });
  const unverified = log.getByRole('listitem').filter({ hasText: 'Sent from my phone' });
  const badge = unverified.getByText('Unverified sender: kim.lee@elsewhere.example');
  await badge.waitFor();
  assert.match(await badge.getAttribute('title'), /did not come from the contact's address; it was not merged into the contact/);
  await page.getByRole('complementary', { name: 'Contact' })
    .getByText('Email bounced — no further emails are sent to this address until it is changed').waitFor();

  // Chat: no subject, no templates in the picker.
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
  const reply = page.getByRole('textbox', { name: 'Reply', exact: true });
  assert.equal(await reply.inputValue(), 'Hi Kim, your order is on its way.');
  await screenshot(page, 'console-email-composer');
  await reply.press('Enter');

  // The reply goes by email with its subject; its delivery shows, then changes in place.
  const mine = log.getByRole('listitem').filter({ hasText: 'your order is on its way' });
  await mine.getByText('Sending by email…').waitFor();
  assert.equal(sent[0].channel, 'email');
  assert.equal(sent[0].subject, 'Your order, Kim');
  assert.equal(await subject.inputValue(), '', 'the subject goes with the reply');
  const conversationId = threadMessage.conversation_id;
  const replyId = await sentMessageId(page, conversationId, 'your order is on its way');
  agentSide.send(JSON.stringify({
    type: 'delivery_changed',
    conversation_id: conversationId,
    message_id: replyId,
    delivery: { state: 'failed', detail: '550 5.1.1 mailbox unavailable', updated_at: Date.now() + 1 },
  }));
  const failed = mine.getByRole('alert');
  await failed.getByText('Email not delivered: 550 5.1.1 mailbox unavailable').waitFor();
  assert.equal(await mine.getByText('Sending by email…').count(), 0, 'updated in place');
  await screenshot(page, 'console-email-thread');
  assert.deepEqual(errors, []);
  await context.close();
  await visitor.context.close();
});

/** The id of the stored message with `text` in conversation `id`, from the agent API. */
async function sentMessageId(page, id, text) {
  return page.evaluate(async ([id, text]) => {
    const detail = await (await fetch(`/v1/agent/conversations/${id}`)).json();
    return detail.messages.find((message) => message.text.includes(text)).id;
  }, [id, text]);
}
