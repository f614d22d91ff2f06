// The email-capture form (W5) and "continue by email" (W6), against real relays configured
// with each trigger: after the first message (a card, client-side errors next to the fields,
// the relay's own refusal next to its field, the contact in the agent API, nothing asked again
// after a reload), before the first message (the composer waits for the form), only while no
// agent is online (under the away message; an agent coming online takes an untouched card
// away and leaves a half-filled one), and a lost connection (not sent, nothing lost).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  suite, openHostPage, openConsole, axeViolations, screenshot, waitForEvent, agentApi,
} from './support.mjs';

/** The relay's length limit in these tests: lower than the widget's own check (254), so the
 * relay refuses a value the widget accepts — a real server-side refusal. */
const RELAY_FIELD_LIMIT = 40;
const AWAY = 'Nobody is here right now. We answer weekdays 9–17.';

/** A config whose demo site has this `[sites.form]` (and `extra` site keys before it). */
const formConfig = (form, extra = '') => `${extra}
[sites.form]
${form}

[limits]
max_contact_field_chars = ${RELAY_FIELD_LIMIT}
`;

// One relay per form trigger.
const stack = suite({
  relays: {
    after: { config: formConfig('when = "after_first_message"\nname = "optional"\nphone = "required"\ncompany = "optional"') },
    before: { config: formConfig('when = "before_first_message"\nname = "required"') },
    offline: { config: formConfig('when = "when_offline"', `away_message = "${AWAY}"\n`) },
    lost: { config: formConfig('when = "when_offline"') },
  },
});

/** A visitor (own browser context) on a host page of `relay`, with the panel open. */
async function visitor(relay, path, lang = 'en', colorScheme = 'light') {
  const { context, page, errors, frames } = await openHostPage(stack, {
    relay, path, lang, recordEvents: true, contextOptions: { colorScheme },
  });
  await page.evaluate(() => natter('open'));
  const chat = page.getByRole('dialog', { name: 'Chat' });
  const composer = chat.getByRole('textbox', { name: lang === 'de' ? 'Nachricht' : 'Message', exact: true });
  return {
    context, page, errors, frames, sent: frames.sent, chat, composer,
    async send(text) {
      await composer.fill(text);
      await composer.press('Enter');
      await waitForEvent(page, 'message:sent', `(d) => d.text === ${JSON.stringify(text)}`);
      return page.evaluate((text) => window.__events.find(([n, d]) => n === 'message:sent' && d.text === text)[1], text);
    },
  };
}

/** Whether `locator`'s element has keyboard focus (inside the widget's shadow root). */
const focused = (locator) => locator.evaluate((element) => element.getRootNode().activeElement === element);

/** The text of the element `input` names in `aria-describedby` (its problem line). */
async function describedBy(chat, input) {
  const id = await input.getAttribute('aria-describedby');
  assert.ok(id, 'aria-describedby names the problem line');
  return chat.locator(`#${id}`).textContent();
}

/** GET on the agent API, logged in as the first admin. */
async function agentGet(relay, path) {
  return (await agentApi(relay.url)).get(path);
}

test('after the first message: a card; errors next to the fields; the contact in the agent API; not asked again', async () => {
  const ada = await visitor(stack.relays.after, '/after');
  await ada.composer.waitFor();
  const card = ada.chat.getByRole('region', { name: 'Don’t miss our reply' });
  assert.equal(await card.count(), 0, 'no form before the first message');

  const { conversationId } = await ada.send('Hello, where is my order?');
  await card.waitFor();
  assert.ok(await focused(ada.composer), 'the card does not take focus from the composer');
  const email = card.getByLabel('Email', { exact: true });
  const name = card.getByLabel('Full name (optional)', { exact: true });
  const phone = card.getByLabel('Phone', { exact: true });
  const company = card.getByLabel('Company (optional)', { exact: true });
  assert.equal(await email.getAttribute('autocomplete'), 'email');
  assert.equal(await email.getAttribute('inputmode'), 'email');
  assert.equal(await phone.getAttribute('autocomplete'), 'tel');
  assert.equal(await phone.getAttribute('type'), 'tel');
  assert.equal(await name.getAttribute('autocomplete'), 'name');
  assert.equal(await company.getAttribute('autocomplete'), 'organization');
  await screenshot(ada.page, 'widget-form');
  assert.deepEqual(await axeViolations(ada.page), [], 'axe with the form open');

  // An email that cannot be one and a missing required phone: both shown, nothing sent.
  await email.fill('ada at example.com');
  await name.fill('Ada Lovelace');
  await card.getByRole('button', { name: 'Send my details' }).click();
  await card.getByText('This doesn’t look like an email address').waitFor();
  assert.equal(await email.getAttribute('aria-invalid'), 'true');
  assert.match(await describedBy(ada.chat, email), /doesn’t look like an email address \(name@example\.com\)/);
  assert.equal(await phone.getAttribute('aria-invalid'), 'true');
  assert.equal(await describedBy(ada.chat, phone), 'Please enter your phone number.');
  assert.equal(await name.getAttribute('aria-invalid'), 'false');
  assert.ok(await focused(email), 'focus on the first invalid field');
  assert.equal(await email.inputValue(), 'ada at example.com', 'nothing typed is lost');
  assert.equal(await name.inputValue(), 'Ada Lovelace');
  assert.ok(!ada.sent.some((frame) => frame.type === 'submit_form'), 'the widget refused it itself');
  await screenshot(ada.page, 'widget-form-error');
  assert.deepEqual(await axeViolations(ada.page), [], 'axe with errors shown');

  // Fixing the email clears its error at once; the phone's stays until it is fixed.
  await email.fill('ada@example.com');
  assert.equal(await email.getAttribute('aria-invalid'), 'false');
  assert.equal(await phone.getAttribute('aria-invalid'), 'true');
  await phone.fill('+44 20 7946 0958');
  await company.fill('Analytical Engines');
  await phone.press('Enter');
  await ada.chat.getByText('Thanks! We’ll also answer by email at ada@example.com.').waitFor();
  assert.equal(await card.count(), 0, 'the confirmation replaces the card');
  await waitForEvent(ada.page, 'email:captured', "(d) => d.email === 'ada@example.com' && d.verified === false");
  const submitted = ada.sent.filter((frame) => frame.type === 'submit_form');
  assert.deepEqual(submitted, [{
    type: 'submit_form', email: 'ada@example.com', name: 'Ada Lovelace', phone: '+44 20 7946 0958', company: 'Analytical Engines',
  }]);
  await ada.page.waitForFunction(() => {
    const host = [...document.querySelectorAll('*')].find((element) => element.shadowRoot?.querySelector('.panel'));
    return host.shadowRoot.activeElement?.id === 'natter-message';
  });

  // The agent's contact panel has the details; capturing an email is not marketing consent.
  const panel = await agentGet(stack.relays.after, `/v1/agent/conversations/${conversationId}/contact`);
  assert.equal(panel.contact.email, 'ada@example.com');
  assert.equal(panel.contact.email_verified, false);
  assert.equal(panel.contact.name, 'Ada Lovelace');
  assert.equal(panel.contact.phone, '+44 20 7946 0958');
  assert.equal(panel.contact.company, 'Analytical Engines');
  // The agent API does not expose the opt-in (it is stored false); if it ever does, it must be false.
  assert.notEqual(panel.contact.marketing_opt_in, true);

  // After a reload the relay knows the email: no form, no confirmation.
  await ada.frames.next('welcome'); // this page's, so that the next one is the reload's
  await ada.page.reload();
  await ada.page.evaluate(() => natter('open'));
  const again = await ada.frames.next('welcome');
  assert.equal(again.known_email, 'ada@example.com');
  await ada.chat.getByRole('log').getByText('Hello, where is my order?').waitFor();
  assert.equal(await ada.chat.getByRole('region', { name: 'Don’t miss our reply' }).count(), 0);
  assert.equal(await ada.chat.getByText('Thanks! We’ll reply').count(), 0);
  assert.deepEqual(ada.errors, []);
  await ada.context.close();
});

test('the relay refuses what the widget accepted (a shorter length limit): shown next to that field', async () => {
  const grace = await visitor(stack.relays.after, '/refused');
  await grace.send('Hi there');
  const card = grace.chat.getByRole('region', { name: 'Don’t miss our reply' });
  await card.getByLabel('Email', { exact: true }).fill('grace@example.com');
  await card.getByLabel('Phone', { exact: true }).fill('+1 202 555 0143');
  const company = card.getByLabel('Company (optional)', { exact: true });
  const long = 'The United States Navy Bureau of Ordnance, Computation Project';
  assert.ok(long.length > RELAY_FIELD_LIMIT && long.length < 254);
  await company.fill(long);
  await card.getByRole('button', { name: 'Send my details' }).click();
  const rejected = await grace.frames.next('form_rejected');
  assert.deepEqual(rejected.errors.map((error) => error.field), ['company']);
  await card.getByText(`Your company has at most ${RELAY_FIELD_LIMIT} characters.`).waitFor();
  assert.equal(await company.getAttribute('aria-invalid'), 'true');
  assert.equal(await describedBy(grace.chat, company), `Your company has at most ${RELAY_FIELD_LIMIT} characters.`);
  assert.ok(await focused(company));
  assert.equal(await company.inputValue(), long, 'nothing typed is lost');
  assert.equal(await card.getByLabel('Email', { exact: true }).inputValue(), 'grace@example.com');
  // Shortened, it goes through.
  await company.fill('US Navy');
  await card.getByRole('button', { name: 'Send my details' }).click();
  await grace.chat.getByText('Thanks! We’ll also answer by email at grace@example.com.').waitFor();
  assert.deepEqual(grace.errors, []);
  await grace.context.close();
});

test('in German: labels, client-side errors and the relay\'s refusal', async () => {
  const jana = await visitor(stack.relays.after, '/de', 'de');
  await jana.send('Hallo, wo ist meine Bestellung?');
  const card = jana.chat.getByRole('region', { name: 'Verpassen Sie keine Antwort' });
  const email = card.getByLabel('E-Mail-Adresse', { exact: true });
  const phone = card.getByLabel('Telefonnummer', { exact: true });
  await phone.fill('bitte anrufen');
  await card.getByRole('button', { name: 'Angaben senden' }).click();
  assert.equal(await describedBy(jana.chat, email), 'Bitte geben Sie Ihre E-Mail-Adresse ein.');
  assert.match(await describedBy(jana.chat, phone), /^Das sieht nicht nach einer Telefonnummer aus\./);
  await email.fill('jana@beispiel.de');
  await phone.fill('+49 30 1234567');
  const company = card.getByLabel('Firma (optional)', { exact: true });
  await company.fill('Deutsche Gesellschaft für Raketenantriebe mbH');
  await card.getByRole('button', { name: 'Angaben senden' }).click();
  await jana.frames.next('form_rejected');
  // The relay's reason is English; German visitors get a German one.
  assert.equal(await describedBy(jana.chat, company), 'Das konnten wir so nicht annehmen. Vielleicht ist es zu lang.');
  await screenshot(jana.page, 'widget-form-de');
  assert.deepEqual(jana.errors, []);
  await jana.context.close();
});

test('"Not now" puts the card off for the page session, across a reload', async () => {
  const ida = await visitor(stack.relays.after, '/not-now');
  await ida.send('Just browsing');
  const card = ida.chat.getByRole('region', { name: 'Don’t miss our reply' });
  await card.getByLabel('Email', { exact: true }).fill('ida@');
  await card.getByRole('button', { name: 'Not now' }).click();
  await card.waitFor({ state: 'detached' });
  await ida.page.waitForFunction(() => {
    const host = [...document.querySelectorAll('*')].find((element) => element.shadowRoot?.querySelector('.panel'));
    return host.shadowRoot.activeElement?.id === 'natter-message';
  });
  await ida.page.reload();
  await ida.page.evaluate(() => natter('open'));
  await ida.chat.getByRole('log').getByText('Just browsing').waitFor();
  assert.equal(await ida.chat.getByRole('region', { name: 'Don’t miss our reply' }).count(), 0);
  assert.ok(!ida.sent.some((frame) => frame.type === 'submit_form'));
  assert.deepEqual(ida.errors, []);
  await ida.context.close();
});

test('before the first message: the form comes first, the composer waits for it', async () => {
  const alan = await visitor(stack.relays.before, '/before');
  const form = alan.chat.getByRole('region', { name: 'Before we start' });
  await form.waitFor();
  const email = form.getByLabel('Email', { exact: true });
  await alan.page.waitForFunction(() => {
    const host = [...document.querySelectorAll('*')].find((element) => element.shadowRoot?.querySelector('.panel'));
    return host.shadowRoot.activeElement?.id === 'natter-form-email';
  });
  assert.ok(!(await alan.composer.isVisible()), 'no composer before the form');
  await screenshot(alan.page, 'widget-form-gate');

  await email.fill('alan@example.org');
  await form.getByRole('button', { name: 'Start the chat' }).click();
  const name = form.getByLabel('Full name', { exact: true });
  assert.equal(await describedBy(alan.chat, name), 'Please enter your name.');
  assert.ok(await focused(name));
  assert.ok(!(await alan.composer.isVisible()));
  await name.fill('Alan Turing');
  await form.getByRole('button', { name: 'Start the chat' }).click();
  await alan.chat.getByText('Thanks! We’ll also answer by email at alan@example.org.').waitFor();
  await alan.composer.waitFor();
  await alan.page.waitForFunction(() => {
    const host = [...document.querySelectorAll('*')].find((element) => element.shadowRoot?.querySelector('.panel'));
    return host.shadowRoot.activeElement?.id === 'natter-message';
  });
  const { conversationId } = await alan.send('Now I can ask my question.');
  const order = alan.sent.map((frame) => frame.type).filter((type) => type === 'submit_form' || type === 'send');
  assert.deepEqual(order, ['submit_form', 'send'], 'the message only after the form');
  const panel = await agentGet(stack.relays.before, `/v1/agent/conversations/${conversationId}/contact`);
  assert.equal(panel.contact.email, 'alan@example.org');
  assert.equal(panel.contact.name, 'Alan Turing');
  assert.deepEqual(alan.errors, []);
  await alan.context.close();
});

test('while no agent is online: the away message and "continue by email"; an agent coming online takes an untouched card away', async () => {
  const idle = await visitor(stack.relays.offline, '/offline-idle');
  const busy = await visitor(stack.relays.offline, '/offline-busy');
  for (const who of [idle, busy]) {
    await who.chat.getByText(AWAY).waitFor();
    await who.chat.getByRole('region', { name: 'Continue by email' }).waitFor();
    await who.chat.getByText('Ask us anything.', { exact: true }).waitFor();
    assert.equal(await who.chat.getByText('We usually reply').count(), 0, 'no quick-reply promise under the away message');
    const first = await who.frames.next('availability');
    assert.equal(first.agents_online, false);
  }
  const busyCard = busy.chat.getByRole('region', { name: 'Continue by email' });
  await busyCard.getByText('We’re away — leave your email and we’ll reply there.').waitFor();
  await busyCard.getByLabel('Email', { exact: true }).fill('kath');
  await screenshot(busy.page, 'widget-offline-form');
  assert.deepEqual(await axeViolations(busy.page), []);

  // An agent comes online (the console's live socket is their presence).
  const { context: agent } = await openConsole(stack, { relay: stack.relays.offline });
  for (const who of [idle, busy]) {
    assert.equal((await who.frames.next('availability')).agents_online, true);
    await who.chat.getByText(AWAY).waitFor({ state: 'hidden' });
  }
  // The untouched card goes, and the empty thread may promise a quick reply again …
  assert.equal(await idle.chat.getByRole('region', { name: 'Continue by email' }).count(), 0);
  await idle.chat.getByText('We usually reply within a few minutes').waitFor();
  // … the half-filled one stays, with what was typed, and still works.
  assert.equal(await busyCard.getByLabel('Email', { exact: true }).inputValue(), 'kath');
  await busyCard.getByLabel('Email', { exact: true }).fill('kath@example.com');
  await busyCard.getByRole('button', { name: 'Send my details' }).click();
  await busy.chat.getByText('Thanks! We’ll reply to kath@example.com here and by email.').waitFor();
  for (const who of [idle, busy]) {
    assert.deepEqual(who.errors, []);
    await who.context.close();
  }
  await agent.close();
});

test('dark mode: the form and its errors keep their contrast (axe)', async () => {
  const night = await visitor(stack.relays.offline, '/dark', 'en', 'dark');
  const card = night.chat.getByRole('region', { name: 'Continue by email' });
  await card.getByRole('button', { name: 'Send my details' }).click();
  assert.equal(await describedBy(night.chat, card.getByLabel('Email', { exact: true })), 'Please enter your email address.');
  await screenshot(night.page, 'widget-form-dark');
  assert.deepEqual(await axeViolations(night.page), []);
  assert.deepEqual(night.errors, []);
  await night.context.close();
});

test('a lost connection: "not sent", everything typed stays', async () => {
  const joan = await visitor(stack.relays.lost, '/lost');
  const card = joan.chat.getByRole('region', { name: 'Continue by email' });
  await card.getByLabel('Email', { exact: true }).fill('joan@example.com');
  // The relay goes away; the widget notices and reconnects in the background.
  await stack.relays.lost.stop();
  await joan.chat.getByText('Connection lost. Reconnecting…').waitFor();
  await card.getByRole('button', { name: 'Send my details' }).click();
  await card.getByRole('alert').getByText('Not sent: the connection was lost.').waitFor();
  assert.equal(await card.getByLabel('Email', { exact: true }).inputValue(), 'joan@example.com');
  assert.equal(await card.getByRole('button', { name: 'Send my details' }).count(), 1, 'it can be sent again');
  await joan.context.close();
});
