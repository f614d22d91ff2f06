// Signed identity through the JS API (S2): natter('identify', {email, name, token}) with a
// valid, expired, forged, wrong-site or no token; the history that follows a verified contact
// to a second device; natter('reset') on logout; the demo's logged-in page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  suite, openHostPage, hostPage, signIdentityToken, DEMO_IDENTITY_SECRET, RECORD_EVENTS,
  waitForEvent, eventNames, until, screenshot,
} from './support.mjs';

const OTHER_SITE_SECRET = 'another-site-secret-0123456789';
const ADA = 'ada@example.com';

const stack = suite({
  config: `
[[sites]]
key = "other"
name = "Another site"
allowed_origins = ["*"]
identity_secret = "${OTHER_SITE_SECRET}"
`,
});

/** A new device (browser context) on a host page that runs `setup` before the loader. */
async function device(setup = '', path = '/account') {
  const { context, page, errors } = await openHostPage(stack, { path, setup, recordEvents: true });
  const chat = page.getByRole('dialog', { name: 'Chat' });
  return {
    context,
    page,
    errors,
    chat,
    log: chat.getByRole('log', { name: 'Messages' }),
    async send(text) {
      const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
      await composer.fill(text);
      await composer.press('Enter');
      await waitForEvent(page, 'message:sent', `(d) => d.text === ${JSON.stringify(text)}`);
    },
    cookie: async () => (await context.cookies()).find((cookie) => cookie.name === 'natter_vid')?.value,
  };
}

const identify = (details) => `natter('identify', ${JSON.stringify(details)});`;
const token = (claims, secret = DEMO_IDENTITY_SECRET) => signIdentityToken(secret, { email: ADA, ...claims });

test('a valid token links the visitor; the history follows to a second device; an unsigned email never merges', async () => {
  const laptop = await device(identify({ email: ADA, name: 'Ada Lovelace', token: token({ name: 'Ada Lovelace' }) }));
  await waitForEvent(laptop.page, 'email:captured', `(d) => d.email === '${ADA}' && d.verified === true`);
  await laptop.page.evaluate(() => natter('open'));
  await laptop.send('Laptop: where is my order #1042?');

  // Second device, logged in as the same user: the same thread.
  const phone = await device(identify({ email: ADA, token: token({}) }));
  await waitForEvent(phone.page, 'email:captured', '(d) => d.verified === true');
  await phone.page.evaluate(() => natter('open'));
  await phone.log.getByText('Laptop: where is my order #1042?').waitFor();
  await phone.send('Phone: any news?');
  // … and the laptop sees the phone's message live.
  await laptop.log.getByText('Phone: any news?').waitFor();
  await screenshot(phone.page, 'widget-identity-second-device');

  // Someone claiming the address without a token gets an unverified contact of their own.
  const stranger = await device(identify({ email: ADA, name: 'Not Ada' }));
  await waitForEvent(stranger.page, 'email:captured', `(d) => d.email === '${ADA}' && d.verified === false`);
  await stranger.page.evaluate(() => natter('open'));
  await stranger.chat.getByText('Ask us anything').waitFor();
  assert.equal(await stranger.chat.getByText('where is my order').count(), 0, 'no verified history');

  for (const who of [laptop, phone, stranger]) assert.deepEqual(who.errors, []);
  await Promise.all([laptop.context.close(), phone.context.close(), stranger.context.close()]);
});

test('expired, forged and wrong-site tokens are refused with a clear console error; the chat works anonymously', async () => {
  const now = Math.floor(Date.now() / 1000);
  const cases = [
    ['expired', token({ exp: now - 600 }), /identify: the identity token has expired; the chat continues anonymously/],
    ['forged', token({}, 'not-the-secret'), /identify: the identity token is not signed with this site's identity secret/],
    ['wrong site', token({}, OTHER_SITE_SECRET), /identify: the identity token is not signed with this site's identity secret/],
  ];
  for (const [name, badToken, message] of cases) {
    const visitor = await device(identify({ email: ADA, token: badToken }), `/account-${name.replace(' ', '-')}`);
    await until(() => visitor.errors.length > 0);
    assert.equal(visitor.errors.length, 1, `${name}: ${visitor.errors.join('\n')}`);
    assert.match(visitor.errors[0], message, name);
    await visitor.page.evaluate(() => natter('open'));
    await visitor.chat.getByText('Ask us anything').waitFor();
    await visitor.send(`Anonymous after a ${name} token`);
    assert.ok(!(await eventNames(visitor.page)).includes('email:captured'), name);
    assert.equal(await visitor.chat.getByText('where is my order').count(), 0, name);
    assert.equal(visitor.errors.length, 1, `${name}: ${visitor.errors.join('\n')}`);
    await visitor.context.close();
  }
});

test('reset (logout) forgets the visitor on this device: empty thread, new id, the old id opens nothing', async () => {
  const ada = await device(identify({ email: ADA, token: token({}) }), '/logout');
  await waitForEvent(ada.page, 'email:captured', '(d) => d.verified');
  await ada.page.evaluate(() => natter('open'));
  await ada.send('Before logging out');
  const before = await ada.cookie();
  assert.ok(before);

  await ada.page.evaluate(() => natter('reset'));
  await ada.chat.getByText('Ask us anything').waitFor();
  assert.equal(await ada.log.getByText('Before logging out').count(), 0);
  await ada.page.waitForFunction((old) => /natter_vid=/.test(document.cookie) && !document.cookie.includes(old), before);
  // The new anonymous visitor chats normally, and stays anonymous on the next (logged-out) page.
  await ada.send('After logging out');
  await ada.page.goto(stack.host.page('/logged-out', hostPage({ relay: stack.relay.url, setup: RECORD_EVENTS })));
  await ada.page.evaluate(() => natter('open'));
  await ada.log.getByText('After logging out').waitFor();
  assert.equal(await ada.log.getByText('Before logging out').count(), 0);

  // The forgotten id, copied before the logout, no longer opens Ada's thread.
  const { context: copy, page } = await openHostPage(stack, {
    url: stack.host.page('/logged-out'),
    cookies: [{ name: 'natter_vid', value: before, url: stack.host.url }],
  });
  await page.evaluate(() => natter('open'));
  await page.getByRole('dialog', { name: 'Chat' }).getByText('Ask us anything').waitFor();
  assert.equal(await page.getByText('Before logging out').count(), 0);

  // reset queued on a page that has not loaded the app yet (a logout page) loads it to forget.
  const laterCookie = await ada.cookie();
  await ada.page.goto(stack.host.page('/logout-page', hostPage({ relay: stack.relay.url, setup: `${RECORD_EVENTS} natter('reset');` })));
  await ada.page.waitForFunction((old) => /natter_vid=/.test(document.cookie) && !document.cookie.includes(old), laterCookie);
  assert.deepEqual(ada.errors, []);
  await Promise.all([ada.context.close(), copy.close()]);
});

test("the demo's logged-in page signs a token on its server, identifies, and logs out", async () => {
  const { context, page, errors } = await openHostPage(stack, { url: `${stack.relay.url}/logged-in` });
  const status = page.getByRole('status').filter({ hasText: 'Chat linked' });
  await status.getByText(`Chat linked to ${ADA} (verified)`).waitFor();
  await page.getByRole('button', { name: 'Open chat', exact: true }).click();
  const chat = page.getByRole('dialog', { name: 'Chat' });
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill('Hello from the demo account page');
  await composer.press('Enter');
  await chat.getByRole('listitem').filter({ hasText: 'Hello from the demo account page' }).getByText('Sent').waitFor();
  await screenshot(page, 'demo-logged-in');
  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await page.getByText('Logged out').first().waitFor();
  await chat.getByText('Ask us anything').waitFor();
  // Logging in again at once (while the forget may still be on its way): the history is back.
  await page.getByRole('button', { name: 'Log in again', exact: true }).click();
  await status.getByText(`Chat linked to ${ADA} (verified)`).waitFor();
  await chat.getByText('Hello from the demo account page').waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});
