// Shared helpers for the browser end-to-end tests (run by `cargo xtask test` with `node --test`).
//
// startRelay() runs the real relay binary on 127.0.0.1:0 with a fresh data directory and the
// release-built widget and console; launchBrowser() starts Debian's headless Chromium through
// playwright-core. No sleeps: the relay prints its address only once it is listening.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';

const root = process.env.NATTER_ROOT ?? new URL('../..', import.meta.url).pathname;
const require = createRequire(join(root, 'tools', 'package.json'));
const { chromium } = require('playwright-core');

export const ADMIN_EMAIL = 'admin@example.com';
export const ADMIN_PASSWORD = 'browser-test-password';
export const SCREENSHOT_DIR = join(root, 'target', 'screenshots');

/** Starts a relay; resolves to { url, stop }. */
export async function startRelay() {
  const dataDir = mkdtempSync(join(tmpdir(), 'natter-e2e-'));
  const bin = process.env.NATTER_RELAY_BIN ?? join(root, 'target', 'debug', 'natter-relay');
  const child = spawn(bin, ['--addr', '127.0.0.1:0', '--data-dir', dataDir, '--config', join(dataDir, 'none.toml')], {
    cwd: root,
    env: {
      ...process.env,
      NATTER_ADMIN_PASSWORD: ADMIN_PASSWORD,
      NATTER_ASSETS__WIDGET_DIR: join(root, 'widget', 'dist'),
      NATTER_ASSETS__CONSOLE_DIR: join(root, 'console', 'dist'),
      RUST_LOG: process.env.RUST_LOG ?? 'natter_relay=warn',
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
