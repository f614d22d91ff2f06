// Content-Security-Policy (issue 15, S5, W1): the console boots and works under the strict
// policy the relay serves it with, and cannot be framed; the widget works on a host page that
// sets the strict policy README.md documents for hosts ("A strict CSP on the host page"). Both
// with zero `securitypolicyviolation` events and zero console errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import {
  suite, openHostPage, openConsole, hostPage, agentApi, screenshot, waitForAnimations, SCREENSHOT_DIR,
} from './support.mjs';

const stack = suite({ noForm: true });

/** A real 1 × 1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

/** Where the screenshots are also copied for people to look at. */
const NOTES = process.env.NATTER_NOTES_DIR ?? '/work/notes';

/** Records the page's CSP violations in `window.__violations` from before its first script. */
const RECORD_VIOLATIONS = () => {
  window.__violations = [];
  document.addEventListener('securitypolicyviolation', (event) => {
    window.__violations.push(`${event.violatedDirective} blocked ${event.blockedURI || 'inline'} (${event.sourceFile}:${event.lineNumber}) ${event.sample}`);
  }, true);
};

/**
 * The host-page policy README.md documents, for a relay at `relayUrl`: scripts from the relay
 * (and the host itself) plus `'wasm-unsafe-eval'` for the widget's WebAssembly; connections to
 * the relay (its socket, the `.wasm`, uploads); the widget's styles (its stylesheet and the
 * `<style>` in its shadow root); attachment thumbnails (relay images, local previews).
 */
function hostPolicy(relayUrl) {
  const relay = new URL(relayUrl);
  const socket = `${relay.protocol === 'https:' ? 'wss' : 'ws'}://${relay.host}`;
  return [
    "default-src 'self'",
    `script-src 'self' ${relay.origin} 'wasm-unsafe-eval'`,
    `connect-src 'self' ${relay.origin} ${socket}`,
    `style-src 'self' ${relay.origin} 'unsafe-inline'`,
    `img-src 'self' ${relay.origin} blob:`,
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** A host page server on 127.0.0.1:0 that sends `html` with this Content-Security-Policy. */
async function strictHost(html, policy) {
  const server = createServer((request, response) => {
    if (request.url !== '/') {
      response.writeHead(204).end();
      return;
    }
    response.writeHead(200, {
      'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': policy,
    }).end(html);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Copies a screenshot of the test's into the notes directory, when there is one. */
function copyToNotes(name) {
  try {
    mkdirSync(NOTES, { recursive: true });
    copyFileSync(join(SCREENSHOT_DIR, `${name}.png`), join(NOTES, `${name}.png`));
  } catch {
    // No notes directory on this machine: the copy under target/screenshots is enough.
  }
}

test('the console is served with a strict CSP, boots and works under it, and cannot be framed', async () => {
  const relay = stack.relay;
  const page = await fetch(`${relay.url}/inbox/`);
  const policy = page.headers.get('content-security-policy');
  assert.match(policy, /script-src 'self' 'wasm-unsafe-eval';/);
  assert.match(policy, /frame-ancestors 'none'/);
  assert.doesNotMatch(policy, /unsafe-inline|'unsafe-eval'/);
  assert.equal(page.headers.get('x-frame-options'), 'DENY');
  assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  const html = await page.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script in the console page');
  const boot = html.match(/<script[^>]*src="([^"]+)"/)[1];
  const asset = await fetch(`${relay.url}${boot}`);
  assert.equal(asset.status, 200);
  assert.equal(asset.headers.get('content-security-policy'), policy, 'assets carry the same headers');
  assert.equal(asset.headers.get('x-content-type-options'), 'nosniff');

  // A visitor writes (with a file), so the console shows a thread, an attachment and live
  // updates on its socket.
  const visitor = await openHostPage(stack, { recordEvents: true });
  await visitor.page.evaluate(() => natter('open'));
  const chat = visitor.page.getByRole('dialog', { name: 'Chat' });
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill('Hello from a page without CSP');
  await composer.press('Enter');
  const { message } = await visitor.frames.next('ack');

  const admin = await openConsole(stack, { prepare: (p) => p.addInitScript(RECORD_VIOLATIONS) });
  await admin.page.getByRole('navigation', { name: 'Conversations' }).getByRole('button').filter({ hasText: 'Hello from a page without CSP' }).click();
  const log = admin.page.getByRole('log', { name: 'Messages' });
  await log.getByText('Hello from a page without CSP').waitFor();
  // Live: a second message arrives over the agent socket.
  await composer.fill('And a second one, **live**');
  await composer.press('Enter');
  await log.getByText('And a second one,').waitFor();
  // A reply from the console's own composer.
  const reply = admin.page.getByRole('textbox', { name: 'Reply', exact: true });
  await reply.fill('Answered from a console under CSP');
  await reply.press('Enter');
  await chat.getByText('Answered from a console under CSP').waitFor();
  assert.deepEqual(await admin.page.evaluate(() => window.__violations), []);
  assert.deepEqual(admin.errors, []);
  await waitForAnimations(admin.page);
  await screenshot(admin.page, 'csp-console');
  copyToNotes('csp-console');

  // Framed by another origin: the browser refuses to show it.
  const framer = await openHostPage(stack, {
    url: stack.host.page('/framer', `<!doctype html><title>Framer</title><iframe src="${relay.url}/inbox/"></iframe>`),
  });
  await framer.page.waitForFunction(() => document.querySelector('iframe') !== null);
  const frame = framer.page.frames().find((f) => f !== framer.page.mainFrame());
  await frame.waitForLoadState();
  // Chromium shows its error page instead of a frame it must not display.
  assert.equal(frame.url(), 'chrome-error://chromewebdata/', 'the console does not render inside a frame');
  assert.ok(message.conversation_id);
  await framer.context.close();
  await admin.context.close();
  await visitor.context.close();
});

test('the widget opens, connects and round-trips a message on a host page with the documented strict CSP', async () => {
  const relay = stack.relay;
  const policy = hostPolicy(relay.url);
  // The plain snippet: a strict policy refuses the queue snippet's inline stub (README says
  // where to put it instead). The policy comes as a header, as a host's server sends it
  // (frame-ancestors works only there).
  const html = hostPage({ relay: relay.url, queue: false });
  const server = await strictHost(html, policy);
  const { context, page, errors, frames } = await openHostPage(stack, {
    url: `${server.url}/`,
    prepare: (p) => p.addInitScript(RECORD_VIOLATIONS),
  });
  await page.getByRole('button', { name: 'Open chat', exact: true }).click();
  const chat = page.getByRole('dialog', { name: 'Chat' });
  await chat.waitFor();
  await frames.next('welcome');
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  // A picture: the upload (connect-src), its local preview (blob:) and its thumbnail from the
  // relay (img-src).
  const chooser = page.waitForEvent('filechooser');
  await chat.getByRole('button', { name: 'Attach files', exact: true }).click();
  await (await chooser).setFiles([{ name: 'dot.png', mimeType: 'image/png', buffer: PNG }]);
  await chat.getByRole('list', { name: 'Files to send' }).getByText('Ready to send').waitFor();
  await composer.fill('Hello from a strict page');
  await composer.press('Enter');
  const { message } = await frames.next('ack');
  const thumbnail = chat.getByRole('log', { name: 'Messages' }).locator('img[alt="dot.png"]');
  await thumbnail.waitFor();
  await page.waitForFunction((img) => img.complete && img.naturalWidth === 1, await thumbnail.elementHandle());
  const agent = await agentApi(relay.url);
  await agent.post(`/v1/agent/conversations/${message.conversation_id}/messages`, {
    client_id: randomUUID(), text: 'Hello back, strict page',
  });
  await chat.getByText('Hello back, strict page').waitFor();
  // An inline script the policy must refuse proves the policy is in force.
  const inlineRan = await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.__inlineRan = true';
    document.body.append(script);
    return window.__inlineRan === true;
  });
  assert.equal(inlineRan, false, 'the host page\'s policy is in force');
  const violations = await page.evaluate(() => window.__violations);
  assert.deepEqual(violations.filter((v) => !v.startsWith('script-src-elem blocked inline')), [], 'the widget needs nothing the policy refuses');
  assert.equal(violations.length, 1, 'only the test\'s own inline script was refused');
  await waitForAnimations(page);
  await screenshot(page, 'csp-widget');
  copyToNotes('csp-widget');
  assert.deepEqual(errors.filter((e) => !/Executing inline script violates/.test(e)), []);
  await context.close();
  await server.stop();
});

test('README documents the host-page policy this test uses', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const documented = hostPolicy('https://chat.example.com');
  assert.ok(readme.includes(documented), `README.md has the policy:\n${documented}`);
});
