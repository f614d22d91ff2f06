// Consent mode (W14): on a site with `consent_required`, no cookie and no storage until the
// visitor interacts with the widget or the host calls natter('consent', true).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suite, openHostPage, waitForEvent } from './support.mjs';

const stack = suite({
  config: `
[[sites]]
key = "careful"
name = "A site that asks for consent first"
allowed_origins = ["*"]
consent_required = true
`,
});

/** What the page stored: cookies as the page sees them, and both web storages. */
const stored = (page) => page.evaluate(() => ({
  cookie: document.cookie,
  localStorage: localStorage.length,
  sessionStorage: sessionStorage.length,
}));
const NOTHING = { cookie: '', localStorage: 0, sessionStorage: 0 };

/** A page of the consent site; the widget's app is loaded by hovering the launcher. */
async function visit({ site = 'careful', setup = '' } = {}) {
  const { context, page, errors, frames } = await openHostPage(stack, { site, setup, recordEvents: true });
  await waitForEvent(page, 'ready');
  const launcher = page.getByRole('button', { name: 'Open chat', exact: true });
  return {
    context,
    page,
    errors,
    frames,
    launcher,
    /** Loads the app without clicking (intent), and waits for the relay's welcome. */
    async loadApp() {
      await launcher.hover();
      const welcome = await frames.next('welcome');
      assert.equal(welcome.settings.consent_required, site === 'careful');
      return welcome;
    },
    visitorCookie: async () => (await context.cookies()).find((cookie) => cookie.name === 'natter_vid'),
  };
}

test('nothing is stored before consent, even with the app loaded and the panel opened by the host', async () => {
  const visitor = await visit();
  assert.deepEqual(await stored(visitor.page), NOTHING, 'the loader writes nothing');
  const welcome = await visitor.loadApp();
  await visitor.page.evaluate(() => natter('open'));
  const chat = visitor.page.getByRole('dialog', { name: 'Chat' });
  await chat.getByText('Ask us anything').waitFor();
  assert.deepEqual(await stored(visitor.page), NOTHING, 'no cookie before the visitor interacts');
  assert.equal(await visitor.visitorCookie(), undefined);

  // Typing in the composer is interacting with the widget: now the id is kept.
  await chat.getByRole('textbox', { name: 'Message', exact: true }).press('H');
  await visitor.page.waitForFunction(() => /natter_vid=/.test(document.cookie));
  assert.equal(decodeURIComponent((await visitor.visitorCookie()).value), welcome.visitor);
  assert.equal((await stored(visitor.page)).localStorage, 0);
  assert.equal((await stored(visitor.page)).sessionStorage, 0);
  assert.deepEqual(visitor.errors, []);
  await visitor.context.close();
});

test("the host's natter('consent', true) stores the visitor id; false deletes it again", async () => {
  const visitor = await visit();
  await visitor.loadApp();
  assert.deepEqual(await stored(visitor.page), NOTHING);
  await visitor.page.evaluate(() => natter('consent', true));
  await visitor.page.waitForFunction(() => /natter_vid=/.test(document.cookie));

  await visitor.page.evaluate(() => natter('consent', false));
  await visitor.page.waitForFunction(() => !/natter_vid=/.test(document.cookie));
  // The chat goes on for this page, and still writes nothing.
  await visitor.page.evaluate(() => natter('open'));
  const composer = visitor.page.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill('No cookies please');
  await composer.press('Enter');
  await waitForEvent(visitor.page, 'message:sent');
  assert.deepEqual(await stored(visitor.page), NOTHING);
  assert.deepEqual(visitor.errors, []);
  await visitor.context.close();
});

test('consent given before the app loads, or a click on the launcher, stores the id at the welcome', async () => {
  const early = await visit({ setup: "natter('consent', true);" });
  assert.deepEqual(await stored(early.page), NOTHING, 'consent alone loads nothing and writes nothing');
  await early.loadApp();
  await early.page.waitForFunction(() => /natter_vid=/.test(document.cookie));

  const clicker = await visit();
  await clicker.launcher.click();
  await clicker.page.getByRole('dialog', { name: 'Chat' }).waitFor();
  await clicker.page.waitForFunction(() => /natter_vid=/.test(document.cookie));
  assert.deepEqual(early.errors, []);
  assert.deepEqual(clicker.errors, []);
  await Promise.all([early.context.close(), clicker.context.close()]);
});

test('a site without consent mode keeps the visitor id from the first welcome', async () => {
  const visitor = await visit({ site: 'demo' });
  await visitor.loadApp();
  await visitor.page.waitForFunction(() => /natter_vid=/.test(document.cookie));
  assert.equal((await stored(visitor.page)).localStorage, 0);
  assert.deepEqual(visitor.errors, []);
  await visitor.context.close();
});
