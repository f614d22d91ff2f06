// Embedding on a real site (W1): another origin than the relay, the size budgets (the loader;
// everything up to the open chat, as transferred), and
// commands that must not load the app before a first-time visitor shows intent; a returning
// visitor's app loads in the background (W9: live replies and the unread badge).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { suite, openHostPage, waitForEvent } from './support.mjs';

const LOADER_BUDGET_GZIP = 3 * 1024;
/** Everything the relay sends a page up to the open chat: loader, site stylesheet, app. */
const OPEN_CHAT_BUDGET = 150 * 1024;

const stack = suite();

test('the loader as served stays under 3 KB gzipped', async () => {
  const response = await fetch(`${stack.relay.url}/natter.js`);
  assert.equal(response.status, 200);
  const size = gzipSync(Buffer.from(await response.arrayBuffer()), { level: 9 }).length;
  assert.ok(size < LOADER_BUDGET_GZIP, `natter.js is ${size} B gzipped`);
});

test('opening the chat transfers under 150 KB in all, headers included', async () => {
  // Bytes on the wire per response (headers + body as encoded), from Chromium's network stack.
  const urls = new Map();
  const transferred = new Map();
  const { context, page } = await openHostPage(stack, {
    path: '/weight',
    waitUntil: 'networkidle',
    async prepare(page, context) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      cdp.on('Network.responseReceived', (event) => urls.set(event.requestId, event.response));
      cdp.on('Network.loadingFinished', (event) => transferred.set(event.requestId, event.encodedDataLength));
    },
  });
  await page.getByRole('button', { name: 'Open chat', exact: true }).click();
  await page.getByRole('dialog', { name: 'Chat' }).getByRole('textbox', { name: 'Message', exact: true }).waitFor();
  await page.waitForLoadState('networkidle');

  const fromRelay = [...urls].filter(([, response]) => response.url.startsWith(stack.relay.url));
  const paths = fromRelay.map(([, response]) => new URL(response.url).pathname);
  assert.ok(paths.includes('/natter.js') && paths.includes('/widget/site/demo.css'), paths.join(' '));
  assert.ok(paths.some((path) => path.endsWith('_bg.wasm')), paths.join(' '));
  // Chromium asks for brotli on localhost as on https, and the relay serves the .br files.
  for (const [, response] of fromRelay) {
    assert.equal(response.headers['content-encoding'], 'br', response.url);
  }
  const total = fromRelay.reduce((sum, [id]) => sum + (transferred.get(id) ?? 0), 0);
  const detail = fromRelay.map(([id, response]) => `${new URL(response.url).pathname} ${transferred.get(id)}`);
  console.log(`opening the chat: ${total} B on the wire\n  ${detail.join('\n  ')}`);
  assert.ok(total < OPEN_CHAT_BUDGET, `${total} B: ${detail.join(', ')}`);
  await context.close();
});

test('for a first-time visitor, set, on, consent, show and close do not load the app; intent does', async () => {
  const { context, page, errors, requests } = await openHostPage(stack, {
    path: '/lazy',
    recordEvents: true,
    setup: `natter('set', { locale: 'de' });
      natter('consent', true);
      natter('show');
      natter('close');`,
    waitUntil: 'networkidle',
  });
  await waitForEvent(page, 'ready');
  // The app's glue and .wasm (the site's small stylesheet, /widget/site/…, is the loader's).
  const appRequests = requests.map((request) => request.url()).filter((url) => url.includes('/widget/natter-widget'));
  assert.deepEqual(appRequests, [], 'no app download before intent');
  const launcher = page.getByRole('button', { name: 'Chat öffnen', exact: true });
  // Listen before hovering: the download may start before a later listener would be in place.
  const wasm = page.waitForRequest((request) => request.url().endsWith('.wasm'));
  await launcher.hover();
  await wasm;
  await launcher.click();
  await page.getByRole('dialog', { name: 'Chat' }).getByRole('heading', { name: 'Schreiben Sie uns' }).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test('a page on another origin loads the app from the relay (CORS on /widget/*)', async () => {
  const { context, page, errors } = await openHostPage(stack, { path: '/cross-origin' });
  await page.getByRole('button', { name: 'Open chat', exact: true }).click();
  await page.getByRole('dialog', { name: 'Chat' }).getByText('Ask us anything').waitFor({ timeout: 10_000 });
  assert.deepEqual(errors, []);
  await context.close();
});

test('a returning visitor (natter_vid cookie) gets the app in the background, without intent', async () => {
  const { context, page: first } = await openHostPage(stack, { path: '/returning' });
  await first.getByRole('button', { name: 'Open chat', exact: true }).click();
  await first.waitForFunction(() => /natter_vid=/.test(document.cookie));
  await first.close();

  // The app's socket is the proof that it loaded (its files may come from the cache).
  let appLoaded;
  const { page, errors } = await openHostPage(stack, {
    context,
    url: stack.host.page('/returning'),
    prepare(page) {
      appLoaded = page.waitForEvent('websocket', (socket) => socket.url().includes('/v1/visitor/ws'));
    },
  });
  await appLoaded;
  // Loaded, not opened: the panel waits for the visitor.
  const launcher = page.getByRole('button', { name: 'Open chat', exact: true });
  assert.equal(await launcher.getAttribute('aria-expanded'), 'false');
  assert.equal(await page.getByRole('dialog', { name: 'Chat' }).isVisible(), false);
  await launcher.click();
  await page.getByRole('dialog', { name: 'Chat' }).getByRole('textbox', { name: 'Message', exact: true }).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});
