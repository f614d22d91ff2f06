// Shared helpers for the browser end-to-end tests (run by `cargo xtask test` with `node --test`).
//
// Every test file starts with `const stack = suite({...})`: it registers the before/after hooks
// that start the real relay binary on 127.0.0.1:0 (fresh data directory, the release-built
// widget and console), the host page server and Debian's headless Chromium (playwright-core),
// and stop them again. Tests open pages with openHostPage() (a page embedding the widget) and
// openConsole() (the console, logged in). No sleeps: the relay prints its address only once it
// is listening.
// The lower-level helpers follow: relays, browser, host pages with any snippet, socket frames,
// identity tokens, agent replies over the REST API, a real SMTP server for email, and several
// relay nodes on PostgreSQL + NATS behind a private nginx.

import { before, after } from 'node:test';
import { execFile, spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import {
  chmodSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';

const root = process.env.NATTER_ROOT ?? new URL('../..', import.meta.url).pathname;
const require = createRequire(join(root, 'tools', 'package.json'));
const { chromium } = require('playwright-core');

export const ADMIN_EMAIL = 'admin@example.com';
export const ADMIN_PASSWORD = 'browser-test-password';
export const SCREENSHOT_DIR = join(root, 'target', 'screenshots');

// ---------------------------------------------------------------------------------------------
// The set-up of a test file, and the page openers.

/**
 * Registers the before/after hooks of a test file: they start the relay (or several), the host
 * page server and Chromium, and stop them again, newest first. Returns the object the before
 * hook fills in, so read its fields inside tests, not at the top of the file:
 * { relay, relays, host, browser, agent }.
 *
 * Relay options: `config` is TOML after the demo site's `[[sites]]` table (more sites, the
 * demo's `[sites.form]` or `away_message`, `[limits]`); `noForm` turns the demo's email form off;
 * `limits` ({ max_attachment_bytes: 1024, … }) goes in through the environment, so it combines
 * with a config's own `[limits]`; `restartable` gives a relay that tests can stop and start again
 * (startRestartableRelay). Without `config` and `noForm` the relay runs on its built-in defaults.
 *
 * `relays` ({ name: relay options }) starts several relays, as `relays[name]`, instead of one;
 * `cluster` ({ nodes: 2, …relay options }) starts several nodes of one deployment behind nginx
 * instead (startCluster): `relay` is then the cluster, whose `url` is nginx's, and `cluster` too;
 * `host: false` skips the host page server, for files that use only the relay's own pages;
 * `agent: true` logs in over the agent API once, as `agent`.
 */
export function suite({ relays, cluster, host = true, agent = false, ...relayOptions } = {}) {
  const stack = {
    relay: undefined, relays: {}, cluster: undefined, host: undefined, browser: undefined, agent: undefined,
  };
  const teardown = [];
  before(async () => {
    if (cluster) {
      const { nodes, ...options } = cluster;
      stack.cluster = await startCluster({ nodes, ...relayLaunchOptions(options) });
      stack.relay = stack.cluster;
      teardown.push(() => stack.cluster.close());
    } else {
      // Relays start together; each one that did start is in the teardown even if another failed.
      const results = await Promise.allSettled(Object.entries(relays ?? { relay: relayOptions })
        .map(async ([name, options]) => {
          const relay = await startSuiteRelay(options);
          stack.relays[name] = relay;
          teardown.push(() => (options.restartable ? relay.close() : relay.stop()));
        }));
      const failed = results.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      if (!relays) stack.relay = stack.relays.relay;
    }
    if (host) {
      stack.host = await startHostServer();
      teardown.push(() => stack.host.stop());
    }
    stack.browser = await launchBrowser();
    teardown.push(() => stack.browser.close());
    if (agent) stack.agent = await agentApi(stack.relay.url);
  });
  after(async () => {
    // Everything is stopped even if one stop fails; the first failure is reported.
    let firstError;
    for (const stop of teardown.reverse()) {
      try {
        await stop();
      } catch (error) {
        firstError ??= error;
      }
    }
    if (firstError) throw firstError;
  });
  return stack;
}

/** Starts one relay of suite() with the config file and environment its options describe. */
function startSuiteRelay({ restartable = false, ...options }) {
  return (restartable ? startRestartableRelay : startRelay)(relayLaunchOptions(options));
}

/** suite()'s relay options as the { configToml, env } the relay starters take. */
function relayLaunchOptions({ config, noForm = false, limits = {} }) {
  const configToml = config === undefined && !noForm
    ? undefined
    : `${DEMO_SITE_TOML}${noForm ? FORM_OFF_TOML : ''}${config ?? ''}`;
  const env = Object.fromEntries(Object.entries(limits)
    .map(([name, value]) => [`NATTER_LIMITS__${name.toUpperCase()}`, String(value)]));
  return { configToml, env };
}

/**
 * Opens a page embedding the widget. Resolves to { context, page, errors, frames, requests }
 * once goto's `waitUntil` (default 'load') is reached; errors (watchErrors), socket frames
 * (watchFrames) and every request are recorded from before the navigation.
 * - Which page: `url` (one of the relay's own pages, or a host page served before); otherwise a
 *   hostPage() of `site`, `lang`, `setup`, `head`, `body`, `queue` embedding `relay` (default:
 *   the suite's), served by the host server at `path` (unique unless given). `recordEvents`
 *   runs RECORD_EVENTS before `setup`.
 * - Where: a new browser context made with `contextOptions` (viewport, colorScheme,
 *   reducedMotion, isMobile…) and `cookies`, or a new tab of `context`.
 * - `prepare(page, context)` runs before the navigation, for what must be in place when the
 *   page loads: routes, a CDP session, init scripts, listeners.
 */
export async function openHostPage(stack, {
  url, path = `/${randomUUID()}`, relay = stack.relay, recordEvents = false, setup = '',
  site, lang, head, body, queue,
  context, contextOptions = {}, cookies = [], prepare, waitUntil = 'load',
} = {}) {
  if (!context) {
    context = await stack.browser.newContext(contextOptions);
    if (cookies.length > 0) await context.addCookies(cookies);
  }
  const page = await context.newPage();
  const errors = watchErrors(page);
  const frames = watchFrames(page);
  const requests = [];
  page.on('request', (request) => requests.push(request));
  await prepare?.(page, context);
  const html = url === undefined
    ? hostPage({ relay: relay.url, site, lang, head, body, queue, setup: recordEvents ? `${RECORD_EVENTS}\n${setup}` : setup })
    : undefined;
  await page.goto(url ?? stack.host.page(path, html), { waitUntil });
  return { context, page, errors, frames, requests };
}

/**
 * Opens the console of `relay` (default: the suite's) in a new browser context and logs in, as
 * the admin unless `email` and `password` say otherwise. Resolves to { context, page, errors }.
 * `prepare(page, context)` runs before the console loads (as in openHostPage).
 */
export async function openConsole(stack, {
  relay = stack.relay, email, password, contextOptions = {}, prepare,
} = {}) {
  const context = await stack.browser.newContext(contextOptions);
  const page = await context.newPage();
  await prepare?.(page, context);
  await loginToConsole(page, relay.url, email, password);
  // Only from here on: before the login the console's GET /v1/agent/me answers 401 by design.
  return { context, page, errors: watchErrors(page) };
}

/** Starts a relay; resolves to { url, stop }. `options.env` adds environment variables
 * (e.g. `NATTER_LIMITS__MISSED_AFTER_SECS`). Without `options.configToml` the relay runs on its
 * defaults (the demo site); with it, that text is its config file. A file's `[[sites]]`
 * replace the default list, so include the `demo` site (DEMO_SITE_TOML) when pages need it. */
export async function startRelay(options = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'natter-e2e-'));
  const config = writeRelayConfig(dataDir, options.configToml);
  const { child, url } = await launchRelay({ addr: '127.0.0.1:0', dataDir, config, env: options.env });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, stop };
}

/** Writes the relay's config file into `dir` (an absent one when `configToml` is undefined, so
 * the relay runs on its defaults); returns its path. */
function writeRelayConfig(dir, configToml) {
  const config = join(dir, configToml === undefined ? 'none.toml' : 'natter.toml');
  if (configToml !== undefined) writeFileSync(config, configToml);
  return config;
}

/**
 * Spawns the relay binary listening on `addr` with this data directory, config file and extra
 * environment; resolves to { child, url } once it listens (it prints the line only then).
 */
async function launchRelay({ addr, dataDir, config, env = {} }) {
  const bin = process.env.NATTER_RELAY_BIN ?? join(root, 'target', 'debug', 'natter-relay');
  const child = spawn(bin, ['--addr', addr, '--data-dir', dataDir, '--config', config], {
    cwd: root,
    env: {
      ...process.env,
      NATTER_ADMIN_PASSWORD: ADMIN_PASSWORD,
      NATTER_ASSETS__WIDGET_DIR: join(root, 'widget', 'dist'),
      NATTER_ASSETS__CONSOLE_DIR: join(root, 'console', 'dist'),
      RUST_LOG: process.env.RUST_LOG ?? 'natter_relay=warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const match = line.match(/listening on (http:\/\/\S+)/);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`relay exited early with ${code}`)));
  });
  return { child, url };
}

/** Headless Chromium from Debian, with the flags this closed network needs. */
// playwright's launch() gives every browser a fresh, temporary profile (it refuses an explicit
// --user-data-dir), which is what a clean run needs.
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** Collects console errors and uncaught exceptions of a page, to assert there were none. */
export function watchErrors(page) {
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  // The console only says "failed to load resource"; record which one.
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`HTTP ${response.status()} ${response.url()}`);
  });
  return errors;
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });
}

/** Logs an agent into the console at /inbox/. */
export async function loginToConsole(page, url, email = ADMIN_EMAIL, password = ADMIN_PASSWORD) {
  await page.goto(`${url}/inbox/`);
  await page.getByRole('textbox', { name: 'Email', exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByRole('navigation', { name: 'Conversations' }).waitFor();
}

// ---------------------------------------------------------------------------------------------
// Widget helpers.

/** The demo site's identity secret: public on purpose (relay/src/config.rs). */
export const DEMO_IDENTITY_SECRET = 'demo-identity-secret-not-for-production';

/** The default demo site as a `[[sites]]` table, for configs that add more sites. */
export const DEMO_SITE_TOML = `
[[sites]]
key = "demo"
name = "Demo site"
allowed_origins = ["*"]
identity_secret = "${DEMO_IDENTITY_SECRET}"
`;

/** The demo site's email form turned off (W5 has its own tests), so the thread stays in view. */
const FORM_OFF_TOML = '\n[sites.form]\nwhen = "never"\n';

/**
 * An HS256 identity token, as a host's server signs it (S2). `exp` defaults to five minutes
 * from now; pass a past one for an expired token.
 */
export function signIdentityToken(secret, { email, name, exp = Math.floor(Date.now() / 1000) + 300 }) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = name === undefined ? { email, exp } : { email, name, exp };
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
}

/**
 * A host page embedding the widget of `relay` with the queue snippet (or, with `queue: false`,
 * the old one-line snippet). `setup` is script run before the loader, where natter() calls are
 * queued; `head` and `body` are HTML.
 */
export function hostPage({ relay, lang = 'en', site = 'demo', setup = '', head = '', body = '', queue = true }) {
  const snippet = queue
    ? `<script>window.natter=window.natter||function(){(natter.q=natter.q||[]).push(arguments)};${setup}</script>\n`
    : (setup ? `<script>${setup}</script>\n` : '');
  return `<!doctype html>
<html lang="${lang}">
<head><meta charset="utf-8">${head}<title>Host page</title></head>
<body>
<header><a href="#main">Skip to content</a></header>
<main id="main"><h1>A host page</h1><p>Some content and <a href="#more">a link</a>.</p>${body}</main>
${snippet}<script async src="${relay}/natter.js" data-site="${site}"></script>
</body>
</html>`;
}

/**
 * A plain HTTP server on 127.0.0.1:0 for host pages: another origin than the relay, as on a
 * real site (and a local one, which Chromium's local-network checks require to reach the
 * relay). `page(path, html)` serves `html` at `path` and returns its URL; `page(path)` only
 * returns the URL of a page served before.
 */
export async function startHostServer() {
  const pages = new Map();
  const server = createServer((request, response) => {
    const path = new URL(request.url, 'http://host').pathname;
    // Browsers ask every origin for a favicon; a 404 would show up as a console error.
    if (path === '/favicon.ico') {
      response.writeHead(204).end();
      return;
    }
    const html = pages.get(path);
    if (html === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    page(path, html) {
      if (html !== undefined) pages.set(path, html);
      return `${url}${path}`;
    },
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * Records the JSON frames the relay sends to the page's widget sockets. `next(type)` resolves
 * with the next frame of that type not returned before (waiting for it if needed); `sent` lists
 * the frames the widget sent to the relay, in order.
 */
export function watchFrames(page) {
  const frames = [];
  const sent = [];
  const taken = new Set();
  const waiting = [];
  const settle = () => {
    for (const waiter of [...waiting]) {
      const index = frames.findIndex((frame, i) => !taken.has(i) && frame.type === waiter.type);
      if (index >= 0) {
        taken.add(index);
        waiting.splice(waiting.indexOf(waiter), 1);
        waiter.resolve(frames[index]);
      }
    }
  };
  page.on('websocket', (socket) => {
    if (!socket.url().includes('/v1/visitor/ws')) return;
    socket.on('framereceived', ({ payload }) => {
      try {
        frames.push(JSON.parse(payload));
      } catch {
        return;
      }
      settle();
    });
    socket.on('framesent', ({ payload }) => {
      try {
        sent.push(JSON.parse(payload));
      } catch {
        // Not JSON: not ours.
      }
    });
  });
  return {
    frames,
    sent,
    next(type, ms = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.splice(waiting.findIndex((waiter) => waiter.type === type), 1);
          reject(new Error(`no ${type} frame within ${ms} ms; got ${frames.map((f) => f.type).join(', ')}`));
        }, ms);
        waiting.push({ type, resolve: (frame) => { clearTimeout(timer); resolve(frame); } });
        settle();
      });
    },
  };
}

/** Logs in over the agent API and sends a reply into a conversation (as the console does). */
export async function agentReply(relayUrl, conversationId, text) {
  const agent = await agentApi(relayUrl);
  await agent.post(`/v1/agent/conversations/${conversationId}/messages`, { client_id: randomUUID(), text });
}

/**
 * Records, in the page, the events the widget emits: `window.__events` gets `[name, detail]`
 * pairs. Call before the page loads (it queues natter('on', …) through the snippet's stub).
 */
export const RECORD_EVENTS = `
window.__events = [];
['ready', 'open', 'close', 'message:sent', 'message:received', 'unread', 'email:captured'].forEach(function (name) {
  natter('on', name, function (detail) { window.__events.push([name, detail]); });
});`;

/** Resolves when the page has recorded an event `name` (optionally matching `test`). */
export async function waitForEvent(page, name, test = '() => true') {
  await page.waitForFunction(
    ([name, test]) => window.__events.some(([n, d]) => n === name && new Function(`return (${test})`)()(d)),
    [name, test],
  );
}

/** The names of the events the page recorded so far, in order. */
export function eventNames(page) {
  return page.evaluate(() => window.__events.map(([name]) => name));
}

/** Injects axe-core into the page and runs it on the whole document; resolves to violations. */
export async function axeViolations(page) {
  await page.addScriptTag({ path: join(root, 'tools', 'node_modules', 'axe-core', 'axe.min.js') });
  const result = await page.evaluate(() => window.axe.run(document));
  return result.violations.map((violation) => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    nodes: violation.nodes.map((node) => `${JSON.stringify(node.target)} ${node.failureSummary}`),
  }));
}

/**
 * Resolves once `condition()` holds, checking every 20 ms, for things the page reports only
 * through Node-side events (console messages). Fails after `ms`.
 */
export async function until(condition, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${condition}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// ---------------------------------------------------------------------------------------------
// Reliability helpers: a relay that can be stopped and started again, and the agent side.

/**
 * A relay like startRelay()'s whose process can be stopped and started again on the same port
 * and data directory, to test what visitors see while it is down. Resolves to
 * { url, stop(signal), start(), close() }: `stop('SIGKILL')` simulates a crash (SIGTERM, the
 * default, a graceful shutdown); `start()` resolves once it listens again; `close()` stops it
 * for good and removes the data directory. With `options.dataDir` it runs in that (existing)
 * directory instead, which `close()` leaves to its owner.
 */
export async function startRestartableRelay(options = {}) {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'natter-e2e-'));
  const config = writeRelayConfig(dataDir, options.configToml);
  let child = null;
  let addr = '127.0.0.1:0';
  const launch = async () => {
    const launched = await launchRelay({ addr, dataDir, config, env: options.env });
    child = launched.child;
    // Later starts bind the same port, so pages keep their relay URL.
    addr = new URL(launched.url).host;
    return launched.url;
  };
  const stop = async (signal = 'SIGTERM') => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
    }
  };
  const url = await launch();
  return {
    url,
    stop,
    start: launch,
    close: async () => {
      await stop();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * An agent session over the REST API (as the console uses it): `get(path)` and
 * `post(path, body)` resolve to the parsed JSON answer (or null for 204) and throw on an HTTP
 * error.
 */
export async function agentApi(relayUrl, email = ADMIN_EMAIL, password = ADMIN_PASSWORD) {
  const login = await fetch(`${relayUrl}/v1/agent/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (!login.ok) throw new Error(`agent login: HTTP ${login.status}`);
  const { csrf_token: csrf } = await login.json();
  const cookie = login.headers.getSetCookie().map((header) => header.split(';')[0]).join('; ');
  const call = async (method, path, body) => {
    const response = await fetch(`${relayUrl}${path}`, {
      method,
      headers: {
        cookie,
        ...(method === 'GET' ? {} : { 'x-natter-csrf': csrf }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${await response.text()}`);
    return response.status === 204 ? null : response.json();
  };
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
  };
}

/**
 * Opens the agent socket (`/v1/agent/ws`) in a page of `context` on the relay's own origin,
 * logged in as the admin. `next(type, test)` resolves with the next frame of that type for
 * which `test(frame)` holds (waiting for it if needed); `frames()` lists all received so far.
 */
export async function openAgentSocket(context, relayUrl) {
  const page = await context.newPage();
  await page.goto(`${relayUrl}/healthz`);
  await page.evaluate(async ([email, password]) => {
    const login = await fetch('/v1/agent/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    if (!login.ok) throw new Error(`agent login: HTTP ${login.status}`);
    window.__agentFrames = [];
    const socket = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/v1/agent/ws`);
    socket.onmessage = (event) => window.__agentFrames.push(JSON.parse(event.data));
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onclose = (event) => reject(new Error(`agent socket closed: ${event.code}`));
    });
  }, [ADMIN_EMAIL, ADMIN_PASSWORD]);
  const taken = new Set();
  return {
    page,
    frames: () => page.evaluate(() => window.__agentFrames),
    async next(type, test = () => true, ms = 15_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const frames = await page.evaluate(() => window.__agentFrames);
        const index = frames.findIndex((frame, i) => !taken.has(i) && frame.type === type && test(frame));
        if (index >= 0) {
          taken.add(index);
          return frames[index];
        }
        if (Date.now() > deadline) {
          throw new Error(`no ${type} frame within ${ms} ms; got ${frames.map((f) => f.type).join(', ')}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

/** Resolves once the page's finite animations (the panel opening, …) have finished, so a
 * screenshot shows the settled look; endless ones (a typing indicator) are left running. */
export async function waitForAnimations(page) {
  await page.evaluate(() => Promise.all(document.getAnimations()
    .filter((animation) => animation.effect?.getTiming().iterations !== Infinity)
    .map((animation) => animation.finished.catch(() => null))));
}

// ---------------------------------------------------------------------------------------------
// Email: a real SMTP server that keeps what the relay sends.

/**
 * A real SMTP server (tools/smtp_sink.py, aiosmtpd) on 127.0.0.1 that keeps every email it
 * accepts as a file. Resolves once it listens to { port, emails(), waitForEmail(test, ms),
 * stop() }: `emails()` lists the raw emails received so far, oldest first; `waitForEmail`
 * resolves with the first one for which `test(raw)` holds (waiting for it, every 100 ms).
 * Recipients steer its answer: a local part starting with `reject` gets 550 (permanent), one
 * starting with `tempfail` 451 (transient). Start it at the top of a test file, before suite()
 * (its port goes in the relay's `[mail] smtp_port`, with `smtp_tls = "none"`), and stop it in an
 * after() hook.
 */
export async function startSmtpSink() {
  const dir = mkdtempSync(join(tmpdir(), 'natter-smtp-'));
  const child = spawn('python3', [join(root, 'tools', 'smtp_sink.py'), '--dir', dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = line.match(/^PORT (\d+)/);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`smtp_sink exited with ${code}`)));
  });
  const emails = () => readdirSync(dir).filter((name) => name.endsWith('.eml')).sort()
    .map((name) => readFileSync(join(dir, name), 'utf8'));
  return {
    port,
    emails,
    async waitForEmail(test = () => true, ms = 20_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = emails().find(test);
        if (found !== undefined) return found;
        if (Date.now() > deadline) throw new Error(`no such email at the SMTP sink within ${ms} ms: ${test}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    stop: () => { child.kill(); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** The decoded text/plain and text/html parts of a raw multipart/alternative email. */
export function emailParts(raw) {
  const boundary = raw.match(/boundary="?([^"\r\n;]+)"?/)[1];
  const decode = (part) => {
    const [head, ...rest] = part.split(/\r?\n\r?\n/);
    const body = rest.join('\n\n');
    if (/content-transfer-encoding:\s*base64/i.test(head)) return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (/content-transfer-encoding:\s*quoted-printable/i.test(head)) {
      return Buffer.from(body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');
    }
    return body;
  };
  const pieces = raw.split(`--${boundary}`);
  const text = pieces.find((piece) => /content-type:\s*text\/plain/i.test(piece));
  const html = pieces.find((piece) => /content-type:\s*text\/html/i.test(piece));
  return { text: decode(text.trim()), html: decode(html.trim()) };
}

// ---------------------------------------------------------------------------------------------
// Several relay nodes of one deployment (PostgreSQL + NATS) behind a private nginx.

/** The nginx config the cluster runs, with @PREFIX@, @LISTEN@ and @NODE@ to fill in; README.md
 * quotes its part between the "README" lines (multinode.test.mjs checks that it still does). */
export const NGINX_MULTINODE_CONF = join(root, 'tests', 'browser', 'nginx-multinode.conf');

/** The tests' PostgreSQL server (trust authentication on loopback) and NATS server, which
 * `cargo xtask browser` and `cargo xtask test` start when they are not running. */
const POSTGRES_SERVER = 'postgres://postgres@127.0.0.1:5432';
const NATS_URL = 'nats://127.0.0.1:4222';

const execFileAsync = promisify(execFile);

/** Runs one SQL statement on the server's `postgres` database (psql, no password, bounded). */
function psql(sql) {
  return execFileAsync('psql', [
    '--no-psqlrc', '--quiet', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-U', 'postgres',
    '-d', 'postgres', '-c', sql,
  ], { env: { ...process.env, PGCONNECT_TIMEOUT: '5' }, timeout: 30_000 });
}

/** A free TCP port on 127.0.0.1, as the kernel hands one out (another process could take it
 * before it is used; startNginx tries again with another port then). */
async function freePort() {
  const server = createTcpServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The nginx config from `template` (NGINX_MULTINODE_CONF's text): @PREFIX@ and @LISTEN@
 * replaced, the line with @NODE@ repeated for each of `nodes` (host:port). Comment lines stay as
 * they are.
 */
export function renderNginxConfig(template, { prefix, listen, nodes }) {
  return template.split('\n').flatMap((line) => {
    if (line.trimStart().startsWith('#')) return [line];
    const filled = line.replaceAll('@PREFIX@', prefix).replaceAll('@LISTEN@', listen);
    return filled.includes('@NODE@') ? nodes.map((node) => filled.replace('@NODE@', node)) : [filled];
  }).join('\n');
}

/**
 * Starts Debian's nginx (`NGINX` or /usr/sbin/nginx) as a private process in `prefix` (its
 * config, pid file, temp and log files there; the directories above it must let nginx's worker
 * user pass), listening on a free loopback port in front of
 * `nodes` (host:port). Resolves to { url, log(), stop() } once it answers through to a node;
 * `log()` is its error log, for failure messages.
 */
export async function startNginx({ prefix, nodes }) {
  // As root, nginx's worker runs as `nobody` and must reach the temp directories in here.
  chmodSync(prefix, 0o755);
  const template = readFileSync(NGINX_MULTINODE_CONF, 'utf8');
  const errorLog = join(prefix, 'error.log');
  const log = () => {
    try {
      return readFileSync(errorLog, 'utf8');
    } catch {
      return '';
    }
  };
  let lastError;
  // A few ports: another process may take the free one before nginx binds it.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = join(prefix, 'nginx.conf');
    writeFileSync(config, renderNginxConfig(template, { prefix, listen: `127.0.0.1:${port}`, nodes }));
    const child = spawn(process.env.NGINX ?? '/usr/sbin/nginx', ['-p', `${prefix}/`, '-e', errorLog, '-c', config], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    const url = `http://127.0.0.1:${port}`;
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    };
    // Ready once it proxies a request to a node (its header names which one answered).
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (!ready && child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
      try {
        const response = await fetch(`${url}/healthz`);
        ready = response.ok && response.headers.has('x-natter-upstream');
      } catch {
        // Not listening yet.
      }
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (ready) return { url, log, stop };
    await stop();
    lastError = new Error(`nginx did not answer on ${url} within 10 s (exit: ${child.exitCode ?? child.signalCode}):\n${log()}`);
    if (!/Address already in use/.test(log())) break;
  }
  throw lastError;
}

/**
 * `nodes` relay nodes of one deployment behind a private nginx (startNginx), as production runs
 * them: one fresh PostgreSQL database (created here and dropped by close()), NATS for the
 * fan-out (under a subject prefix of their own), one secret key (each node's data directory
 * holds a copy of it: visitor ids are signed with it) and one blob store (`blob_url`, a shared
 * directory) for attachments. `configToml` and `env` are each node's,
 * as in startRestartableRelay. The nodes start one after the other (the first runs the
 * migrations and creates the admin). Resolves to
 * { url, nodes, database, nginx, nodeAt(upstream), close() }: `url` is nginx's (pages use it),
 * `nodes` are restartable relays ({ url, stop(signal), start(), close() }) in the order nginx
 * lists them; `nodeAt` names the node of an `X-Natter-Upstream` header (nginx's
 * `$upstream_addr`; after a refused connection it lists each node tried, the last answered).
 */
export async function startCluster({ nodes: count = 2, configToml, env = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'natter-cluster-'));
  // nginx's worker (as `nobody` when the tests run as root) must pass through to its own
  // directory in here; the nodes' secret keys stay readable by their owner only.
  chmodSync(dir, 0o711);
  const cleanup = [() => rmSync(dir, { recursive: true, force: true })];
  const close = async () => {
    let firstError;
    for (const step of cleanup.reverse()) {
      try {
        await step();
      } catch (error) {
        firstError ??= error;
      }
    }
    cleanup.length = 0;
    if (firstError) throw firstError;
  };
  try {
    const database = `natter_e2e_${randomUUID().replaceAll('-', '')}`;
    await psql(`CREATE DATABASE ${database}`);
    cleanup.push(() => psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
    const blobs = join(dir, 'attachments');
    mkdirSync(blobs);
    const secret = randomBytes(32).toString('hex');
    const prefix = `natter-e2e-${randomUUID().slice(0, 8)}`;
    const nodes = [];
    for (let n = 1; n <= count; n++) {
      const dataDir = join(dir, `node${n}`);
      mkdirSync(dataDir);
      writeFileSync(join(dataDir, 'secret.key'), secret, { mode: 0o600 });
      const node = await startRestartableRelay({
        dataDir,
        configToml,
        env: {
          NATTER_DATABASE_URL: `${POSTGRES_SERVER}/${database}`,
          NATTER_BUS_URL: NATS_URL,
          // A subject prefix of its own: other tests and benches use the same NATS server.
          NATTER_BUS_PREFIX: prefix,
          NATTER_BLOB_URL: `file://${blobs}`,
          ...env,
        },
      });
      cleanup.push(() => node.close());
      nodes.push({ ...node, address: new URL(node.url).host, name: `node${n}` });
    }
    const nginxDir = join(dir, 'nginx');
    mkdirSync(nginxDir);
    const nginx = await startNginx({ prefix: nginxDir, nodes: nodes.map((node) => node.address) });
    cleanup.push(() => nginx.stop());
    return {
      url: nginx.url,
      nodes,
      database,
      nginx,
      nodeAt(upstream) {
        const address = String(upstream).split(',').at(-1).trim();
        const node = nodes.find((candidate) => candidate.address === address);
        if (!node) throw new Error(`no node at ${upstream} (nodes: ${nodes.map((n) => n.address).join(', ')})`);
        return node;
      },
      close,
    };
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}
