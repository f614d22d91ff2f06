// Embedding on a real site (W1): another origin than the relay, the loader's size budget, and
// commands that must not load the app before the visitor shows intent.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import {
  startRelay, startHostServer, launchBrowser, watchErrors, hostPage,
  RECORD_EVENTS, waitForEvent,
} from './support.mjs';

const LOADER_BUDGET_GZIP = 3 * 1024;

let relay;
let host;
let browser;

before(async () => {
  relay = await startRelay();
  host = await startHostServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await host?.stop();
  await relay?.stop();
});

test('the loader as served stays under 3 KB gzipped', async () => {
  const response = await fetch(`${relay.url}/natter.js`);
  assert.equal(response.status, 200);
  const size = gzipSync(Buffer.from(await response.arrayBuffer()), { level: 9 }).length;
  assert.ok(size < LOADER_BUDGET_GZIP, `natter.js is ${size} B gzipped`);
});

test('set, on, consent, show and close do not load the app; intent does', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  const appRequests = [];
  page.on('request', (request) => {
    if (request.url().includes('/widget/')) appRequests.push(request.url());
  });
  await page.goto(host.page('/lazy', hostPage({
    relay: relay.url,
    setup: `${RECORD_EVENTS}
      natter('set', { locale: 'de' });
      natter('consent', true);
      natter('show');
      natter('close');`,
  })), { waitUntil: 'networkidle' });
  await waitForEvent(page, 'ready');
  assert.deepEqual(appRequests, [], 'no app download before intent');
  const launcher = page.getByRole('button', { name: 'Chat öffnen', exact: true });
  await launcher.hover();
  await page.waitForRequest((request) => request.url().endsWith('.wasm'));
  await launcher.click();
  await page.getByRole('dialog', { name: 'Chat' }).getByRole('heading', { name: 'Schreiben Sie uns' }).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test('a page on another origin loads the app from the relay (CORS on /widget/*)', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(host.page('/cross-origin', hostPage({ relay: relay.url })));
  await page.getByRole('button', { name: 'Open chat', exact: true }).click();
  await page.getByRole('dialog', { name: 'Chat' }).getByText('Ask us anything').waitFor({ timeout: 10_000 });
  assert.deepEqual(errors, []);
  await context.close();
});
