// The unified inbox in a real browser: two agents through a day (I1–I13, I15).
// A new chat turns purple, goes red after the (shortened) timeout, one agent opens it (read for
// both), inserts a saved response with a tag, writes an internal comment the visitor never sees,
// assigns it to the other agent, completes it; the visitor writes again and it reopens; the admin
// edits the contact, blocks and unblocks them and deletes a conversation (audit entry).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suite, openHostPage, openConsole, screenshot } from './support.mjs';

const MISSED_AFTER_SECS = 4;
const BEA_EMAIL = 'bea@example.com';
const BEA_PASSWORD = 'bea-password-1';

const stack = suite({ host: false, limits: { missed_after_secs: MISSED_AFTER_SECS } });

/** A visitor on the relay's demo page, with the widget open. */
async function newVisitor() {
  const visitor = await openHostPage(stack, { url: `${stack.relay.url}/` });
  await visitor.page.getByRole('button', { name: 'Open chat', exact: true }).click();
  return visitor;
}

/** The visitor writes `text` in the open widget; resolves once it shows in the thread. */
async function visitorSays(page, text) {
  const chat = page.getByRole('dialog', { name: 'Chat' });
  await chat.waitFor();
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill(text);
  await composer.press('Enter');
  await chat.getByRole('log', { name: 'Messages' }).getByText(text).waitFor();
}

function list(page) {
  return page.getByRole('navigation', { name: 'Conversations' });
}

function row(page, text) {
  return list(page).getByRole('button').filter({ hasText: text });
}

async function waitForAttribute(locator, name, value) {
  await locator.waitFor();
  await locator.page().waitForFunction(
    ([element, attribute, expected]) => element?.getAttribute(attribute) === expected,
    [await locator.elementHandle(), name, value],
  );
}

test('two agents through a day in the unified inbox', async () => {
  // Morning: the admin sets up Bea and a saved response.
  const { context: adminContext, page: admin, errors: adminErrors } = await openConsole(stack);
  await admin.getByRole('button', { name: 'Admin', exact: true }).click();
  await admin.getByLabel('Email', { exact: true }).fill(BEA_EMAIL);
  await admin.getByLabel('Full name', { exact: true }).fill('Bea');
  await admin.getByLabel('Password', { exact: true }).fill(BEA_PASSWORD);
  await admin.getByRole('button', { name: 'Add agent', exact: true }).click();
  await admin.getByRole('region', { name: 'Agents' }).getByText(BEA_EMAIL).waitFor();

  await admin.getByLabel('Category', { exact: true }).fill('Greetings');
  await admin.getByLabel('Title', { exact: true }).fill('Welcome');
  const body = admin.getByLabel('Response text', { exact: true });
  // An unknown tag is an error in the editor, and cannot be saved.
  await body.fill('Hi {{contact.shoe_size}}');
  await admin.getByRole('alert').getByText('unknown tag {{contact.shoe_size}}').waitFor();
  assert.equal(await admin.getByRole('button', { name: 'Add saved response' }).isDisabled(), true);
  await body.fill('Hi {{contact.first_name | "there"}}!');
  await admin.getByRole('button', { name: 'Add saved response', exact: true }).click();
  const savedRegion = admin.getByRole('region', { name: 'Saved responses' });
  await savedRegion.getByText('Welcome').waitFor();
  // Edit it (admins: create, edit, delete).
  await savedRegion.getByRole('button', { name: 'Edit', exact: true }).click();
  await body.fill('Hi {{contact.first_name | "there"}}, {{agent.name}} here. How can I help?');
  await savedRegion.getByRole('button', { name: 'Save', exact: true }).click();
  await savedRegion.getByText('{{agent.name}} here').waitFor();
  await admin.getByRole('button', { name: 'Back to inbox', exact: true }).click();

  const { context: beaContext, page: bea, errors: beaErrors } =
    await openConsole(stack, { email: BEA_EMAIL, password: BEA_PASSWORD });

  // A new chat: purple for both, with the visitor online (green).
  const { context: visitorContext, page: visitor, errors: visitorErrors } = await newVisitor();
  await visitorSays(visitor, 'Hello, do you ship to Lyon?');
  for (const page of [admin, bea]) {
    await waitForAttribute(row(page, 'ship to Lyon'), 'data-dot', 'purple');
    await row(page, 'ship to Lyon').getByRole('img', { name: 'Visitor online' }).waitFor();
  }
  // Nobody answers: red after the timeout, for both.
  for (const page of [admin, bea]) {
    await waitForAttribute(row(page, 'ship to Lyon'), 'data-dot', 'red');
  }
  // A second visitor arrives: purple next to the red one.
  const { context: secondContext, page: second } = await newVisitor();
  await visitorSays(second, 'Is the shop open on Sunday?');
  await waitForAttribute(row(admin, 'open on Sunday'), 'data-dot', 'purple');
  await screenshot(admin, 'inbox-list-dots');

  // The admin opens the first one: read for both, live.
  await row(admin, 'ship to Lyon').click();
  await admin.getByRole('log', { name: 'Messages' }).getByText('Hello, do you ship to Lyon?').waitFor();
  await waitForAttribute(row(bea, 'ship to Lyon'), 'data-unread', 'false');

  // A saved response with a tag, filled in at insertion.
  await admin.getByRole('button', { name: 'Saved responses', exact: true }).click();
  const picker = admin.getByRole('group', { name: 'Saved responses' });
  await picker.getByLabel('Category').selectOption('Greetings');
  await screenshot(admin, 'inbox-saved-picker');
  await picker.getByRole('button', { name: 'Welcome', exact: true }).click();
  const reply = admin.getByRole('textbox', { name: 'Reply', exact: true });
  assert.equal(await reply.inputValue(), 'Hi there, Admin here. How can I help?');
  // The channel is pre-selected: the visitor is online, so web chat; email says why not (this
  // relay has no mail server).
  const channel = admin.getByRole('combobox', { name: 'Channel', exact: true });
  assert.equal(await channel.inputValue(), 'chat');
  assert.equal(await channel.locator('option[value="email"]').isDisabled(), true);
  assert.match(await channel.locator('option[value="email"]').innerText(), /Email is not set up on this relay/);
  await reply.press('Enter');
  const visitorLog = visitor.getByRole('dialog', { name: 'Chat' }).getByRole('log', { name: 'Messages' });
  await visitorLog.getByText('Hi there, Admin here. How can I help?').waitFor();
  // Answered: no dot any more.
  await waitForAttribute(row(bea, 'How can I help'), 'data-dot', 'none');

  // An internal comment: different in the thread, never at the visitor.
  await admin.getByRole('radio', { name: 'Internal comment' }).check();
  await reply.fill('VIP customer: offer **free shipping**, see [the policy](https://example.com/policy) <b>raw</b>');
  await admin.getByRole('button', { name: 'Add comment', exact: true }).click();
  const note = admin.getByRole('log', { name: 'Messages' }).getByRole('listitem').filter({ hasText: 'VIP customer' });
  await note.waitFor();
  assert.match(await note.innerText(), /Internal comment/);
  assert.match(await note.getAttribute('class'), /internal/);
  // The safe Markdown subset (I13): bold and links render, raw HTML shows as text.
  assert.equal(await note.locator('strong').innerText(), 'free shipping');
  const link = note.getByRole('link', { name: 'the policy' });
  assert.equal(await link.getAttribute('href'), 'https://example.com/policy');
  assert.equal(await link.getAttribute('rel'), 'noopener noreferrer nofollow');
  assert.equal(await note.locator('b').count(), 0);
  await note.getByText('<b>raw</b>').waitFor();
  await screenshot(admin, 'inbox-thread-comment');

  // Assign to Bea: her "Mine" filter follows, live.
  await admin.getByRole('combobox', { name: 'Assign to' }).selectOption({ label: 'Bea' });
  await bea.getByRole('combobox', { name: 'Assignee' }).selectOption('mine');
  await row(bea, 'VIP customer').waitFor();

  // Complete: a check mark in both lists.
  await admin.getByRole('button', { name: 'Complete', exact: true }).click();
  await row(admin, 'VIP customer').getByRole('img', { name: 'Complete' }).waitFor();
  await row(bea, 'VIP customer').getByRole('img', { name: 'Complete' }).waitFor();
  await screenshot(bea, 'inbox-list-complete');

  // The admin moves on; the visitor writes again: open again, purple for Bea (hers) but not
  // for the admin, until someone opens it.
  await row(admin, 'open on Sunday').click();
  await waitForAttribute(row(admin, 'open on Sunday'), 'data-unread', 'false');
  // Read, but nobody answered within the timeout: red.
  await waitForAttribute(row(admin, 'open on Sunday'), 'data-dot', 'red');
  await visitorSays(visitor, 'One more question: gift wrapping?');
  await waitForAttribute(row(bea, 'gift wrapping'), 'data-dot', 'purple');
  assert.equal(await row(bea, 'gift wrapping').getByRole('img', { name: 'Complete' }).count(), 0);
  await waitForAttribute(row(admin, 'gift wrapping'), 'data-unread', 'true');
  assert.equal(await row(admin, 'gift wrapping').getAttribute('data-dot'), 'none');
  assert.equal(await row(admin, 'gift wrapping').getByRole('img', { name: 'Complete' }).count(), 0);
  await row(admin, 'gift wrapping').click();
  await admin.getByRole('button', { name: 'Complete', exact: true }).waitFor();
  await waitForAttribute(row(bea, 'gift wrapping'), 'data-dot', 'none');
  // The visitor never saw the comment, not even after a reload.
  assert.equal(await visitorLog.getByText('VIP customer').count(), 0);
  await visitor.reload();
  await visitor.getByRole('button', { name: 'Open chat', exact: true }).click();
  await visitorLog.getByText('One more question: gift wrapping?').waitFor();
  assert.equal(await visitorLog.getByText('VIP customer').count(), 0);

  // The contact panel: add details, with a clear error for a bad phone number.
  const contact = admin.getByRole('complementary', { name: 'Contact' });
  await contact.getByRole('button', { name: 'Add contact details' }).click();
  await contact.getByLabel('Email').fill('lea@example.com');
  await contact.getByLabel('Full name').fill('Léa Martin');
  await contact.getByLabel('Phone').fill('call me');
  await contact.getByRole('button', { name: 'Save' }).click();
  await contact.getByRole('alert').getByText(/^phone:/).waitFor();
  await contact.getByLabel('Phone').fill('+33 4 72 00 00 00');
  await contact.getByLabel('Account').fill('Soieries Martin');
  await contact.getByRole('button', { name: 'Save' }).click();
  await contact.getByText('unverified').waitFor();
  await contact.getByText('+33 4 72 00 00 00').waitFor();
  await row(admin, 'gift wrapping').getByText('Léa Martin').waitFor();
  await screenshot(admin, 'inbox-contact-panel');

  // Block: gone from both lists; her new message is stored but notifies nobody. Unblock: back.
  await admin.getByRole('button', { name: 'Block contact' }).click();
  await row(bea, 'gift wrapping').waitFor({ state: 'detached' });
  await visitorSays(visitor, 'Hello??');
  // The widget shows a neutral notice, never an error: nothing for the visitor to fix.
  await visitor.getByRole('dialog', { name: 'Chat' }).getByRole('status')
    .getByText('Thanks, your message has been received.').waitFor();
  assert.equal(await visitor.getByRole('dialog', { name: 'Chat' }).getByRole('alert').count(), 0, 'no alert');
  await admin.getByRole('checkbox', { name: 'Blocked' }).check();
  await row(admin, 'Hello??').waitFor();
  await admin.getByRole('button', { name: 'Unblock contact' }).click();
  await admin.getByRole('checkbox', { name: 'Blocked' }).uncheck();
  await row(admin, 'Hello??').waitFor();
  await row(bea, 'Hello??').waitFor();

  // Delete (admins only, after confirmation): gone everywhere, and in the audit log.
  assert.equal(await bea.getByRole('button', { name: 'Delete', exact: true }).count(), 0);
  await row(admin, 'open on Sunday').click();
  admin.once('dialog', (dialog) => dialog.accept());
  await admin.getByRole('button', { name: 'Delete', exact: true }).click();
  await row(admin, 'open on Sunday').waitFor({ state: 'detached' });
  await bea.getByRole('combobox', { name: 'Assignee' }).selectOption('all');
  await row(bea, 'Hello??').waitFor();
  assert.equal(await row(bea, 'open on Sunday').count(), 0);
  await admin.getByRole('button', { name: 'Admin', exact: true }).click();
  const audit = admin.getByRole('region', { name: 'Audit log' });
  await audit.getByText('conversation.delete').waitFor();
  await audit.getByText('contact.block').waitFor();
  await screenshot(admin, 'inbox-audit');

  // The refused phone number is a 422 by design.
  assert.deepEqual(adminErrors.filter((e) => !/422|Unprocessable/.test(e)), []);
  assert.deepEqual(beaErrors, []);
  assert.deepEqual(visitorErrors.filter((e) => !/favicon/.test(e)), []);
  await Promise.all([adminContext.close(), beaContext.close(), visitorContext.close(), secondContext.close()]);
});
