// The widget's look (W13) and the unread badge (W9): the site's colour, side, launcher text and
// light/dark mode from the relay's config, before the app loads and after; the full-screen
// panel on a phone; the badge on the launcher, live and for a returning visitor.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suite, openHostPage, agentReply, axeViolations, screenshot } from './support.mjs';

// A light site colour (dark text must be chosen on it), on the left, with text, forced dark.
const SUNNY_TOML = `
[[sites]]
key = "sunny"
name = "Sunny"
allowed_origins = ["*"]
[sites.theme]
color = "#facc15"
position = "left"
launcher_text = "Talk to us"
mode = "dark"
`;
// Forced light: stays light even when the visitor's system is dark.
const DAYLIGHT_TOML = `
[[sites]]
key = "daylight"
name = "Daylight"
allowed_origins = ["*"]
[sites.theme]
color = "#0f766e"
mode = "light"
`;

const YELLOW = 'rgb(250, 204, 21)';
const NEAR_BLACK = 'rgb(17, 24, 39)';
const WHITE = 'rgb(255, 255, 255)';
/** `--bg` of the dark and the light palette (widget/src/style.rs). */
const DARK_PANEL = 'rgb(31, 41, 55)';
const LIGHT_PANEL = WHITE;
/** The launcher's and the panel's distance from the viewport's side. */
const SIDE_GAP_PX = 20;
/** The round launcher's size: a launcher with text is wider. */
const ROUND_LAUNCHER_PX = 56;
const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true };

const stack = suite({ config: SUNNY_TOML + DAYLIGHT_TOML });

/** A fresh visitor (a new browser context) on a host page of `site`; `options` are openHostPage's. */
function visit(site, options = {}) {
  // A mobile site says how wide it is; without this a phone lays the page out 980 px wide.
  const head = '<meta name="viewport" content="width=device-width, initial-scale=1">';
  return openHostPage(stack, { site, head, ...options });
}

/** Computed styles of an element in the widget's shadow root (with an optional pseudo-element). */
function shadowStyle(page, selector, properties, pseudo = null) {
  return page.evaluate(([selector, properties, pseudo]) => {
    const element = document.getElementById('natter-widget').shadowRoot.querySelector(selector);
    const style = getComputedStyle(element, pseudo);
    return Object.fromEntries(properties.map((name) => [name, style.getPropertyValue(name)]));
  }, [selector, properties, pseudo]);
}

/** The element's box once its animations (the panel slides in) have finished. */
async function box(page, selector) {
  await page.waitForFunction((selector) => document.getElementById('natter-widget').shadowRoot
    .querySelector(selector).getAnimations().length === 0, selector);
  return page.evaluate((selector) => {
    const rect = document.getElementById('natter-widget').shadowRoot.querySelector(selector).getBoundingClientRect();
    return { x: rect.x, y: rect.y, width: rect.width, height: rect.height, right: innerWidth - rect.right };
  }, selector);
}

test('a yellow, left, dark site: the launcher has its look before the app loads, and never the default one', async () => {
  // Hold the site stylesheet: until it arrives the launcher must not be drawn at all.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  const { context, page, errors, requests } = await visit('sunny', {
    contextOptions: { colorScheme: 'light' },
    prepare: (page) => page.route('**/widget/site/sunny.css', async (route) => {
      await held;
      await route.continue();
    }),
    waitUntil: 'commit',
  });
  await page.waitForFunction(() => document.getElementById('natter-widget')?.shadowRoot?.querySelector('.launcher'));
  assert.equal((await shadowStyle(page, '.launcher', ['visibility'])).visibility, 'hidden',
    'no launcher in the default look while the site style loads');
  release();

  const launcher = page.getByRole('button', { name: 'Talk to us', exact: true });
  await launcher.waitFor();
  await page.waitForLoadState('networkidle');
  const look = await shadowStyle(page, '.launcher', ['background-color', 'color', 'visibility']);
  assert.deepEqual(look, { 'background-color': YELLOW, color: NEAR_BLACK, visibility: 'visible' });
  const text = await shadowStyle(page, '.launcher', ['content', 'color'], '::after');
  assert.deepEqual(text, { content: '"Talk to us"', color: NEAR_BLACK });
  const where = await box(page, '.launcher');
  assert.equal(where.x, SIDE_GAP_PX, 'on the left');
  assert.ok(where.width > ROUND_LAUNCHER_PX + 40, `a pill with the text, ${where.width}px wide`);
  const appRequests = requests.map((request) => request.url()).filter((url) => url.includes('/widget/natter-widget'));
  assert.deepEqual(appRequests, [], 'the look needs no app download');
  await screenshot(page, 'widget-closed-themed');
  assert.deepEqual(await axeViolations(page), []);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the panel opens on the launcher\'s side in dark colours, with a readable site colour; axe is clean', async () => {
  const { context, page, errors, frames } = await visit('sunny', { contextOptions: { colorScheme: 'light' } });
  await page.getByRole('button', { name: 'Talk to us', exact: true }).click();
  const chat = page.getByRole('dialog', { name: 'Chat' });
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.waitFor();
  assert.equal(await page.getByRole('button', { name: 'Close chat', exact: true }).getAttribute('aria-expanded'), 'true');

  const panel = await box(page, '.panel');
  assert.equal(panel.x, SIDE_GAP_PX, 'the panel opens on the left, above the launcher');
  assert.equal((await shadowStyle(page, '.panel', ['background-color']))['background-color'], DARK_PANEL,
    'dark, although the visitor\'s system is light');
  assert.deepEqual(await shadowStyle(page, '.header', ['background-color', 'color']),
    { 'background-color': YELLOW, color: NEAR_BLACK });

  await composer.fill('Do you have this in blue?');
  await composer.press('Enter');
  const ack = await frames.next('ack');
  await agentReply(stack.relay.url, ack.message.conversation_id, 'We do! Size?');
  const log = chat.getByRole('log', { name: 'Messages' });
  await log.getByText('We do! Size?').waitFor();
  assert.deepEqual(await shadowStyle(page, '.mine .bubble', ['background-color', 'color']),
    { 'background-color': YELLOW, color: NEAR_BLACK });
  await composer.focus();
  await screenshot(page, 'widget-open-dark-left');
  assert.deepEqual(await axeViolations(page), []);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a light site stays light on a dark system; a site on auto follows the system', async () => {
  for (const [site, expected] of [['daylight', LIGHT_PANEL], ['demo', DARK_PANEL]]) {
    const { context, page, errors } = await visit(site, { contextOptions: { colorScheme: 'dark' } });
    await page.getByRole('button', { name: 'Open chat', exact: true }).click();
    await page.getByRole('dialog', { name: 'Chat' }).getByRole('textbox', { name: 'Message', exact: true }).waitFor();
    assert.equal((await shadowStyle(page, '.panel', ['background-color']))['background-color'], expected, site);
    if (site === 'daylight') {
      // Teal is dark enough for white text.
      assert.deepEqual(await shadowStyle(page, '.header', ['background-color', 'color']),
        { 'background-color': 'rgb(15, 118, 110)', color: WHITE });
    }
    assert.deepEqual(await axeViolations(page), [], site);
    assert.deepEqual(errors, [], site);
    await context.close();
  }
});

test('on a phone the open panel covers the screen, the close button works and nothing scrolls sideways', async () => {
  const { context, page, errors } = await visit('sunny', { contextOptions: PHONE });
  const launcher = page.getByRole('button', { name: 'Talk to us', exact: true });
  await launcher.tap();
  const chat = page.getByRole('dialog', { name: 'Chat' });
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.waitFor();
  const panel = await box(page, '.panel');
  assert.deepEqual(panel, { x: 0, y: 0, width: 375, height: 667, right: 0 }, 'the panel is the viewport');
  assert.equal(await page.getByRole('button', { name: 'Close chat', exact: true }).isVisible(), false,
    'the launcher is out of the way (and out of the tab order) while the panel covers the screen');
  await composer.fill('A long word: Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichen-sammlung');
  await composer.press('Enter');
  await chat.getByRole('log', { name: 'Messages' }).getByText('Sent').waitFor();
  const overflow = await page.evaluate(() => {
    const shadow = document.getElementById('natter-widget').shadowRoot;
    const scrollers = [document.documentElement, ...shadow.querySelectorAll('.panel, .body')];
    return scrollers.filter((element) => element.scrollWidth > element.clientWidth).map((element) => element.className || element.tagName);
  });
  assert.deepEqual(overflow, [], 'no horizontal overflow');
  await screenshot(page, 'widget-mobile');
  assert.deepEqual(await axeViolations(page), []);

  await chat.getByRole('button', { name: 'Minimize chat', exact: true }).tap();
  await chat.waitFor({ state: 'hidden' });
  await launcher.waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test('agent replies while the panel is closed show a badge on the launcher; opening clears it; a returning visitor sees it after a reload', async () => {
  const { context, page, errors, frames } = await visit('demo');
  await page.getByRole('button', { name: 'Open chat', exact: true }).click();
  const chat = page.getByRole('dialog', { name: 'Chat' });
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill('Is the shop open on Sunday?');
  await composer.press('Enter');
  const ack = await frames.next('ack');
  const conversation = ack.message.conversation_id;
  await chat.getByRole('button', { name: 'Minimize chat', exact: true }).click();
  await chat.waitFor({ state: 'hidden' });

  const badge = () => shadowStyle(page, '.launcher', ['content', 'background-color', 'color'], '::before');
  await agentReply(stack.relay.url, conversation, 'Yes, from 10 to 4.');
  await page.getByRole('button', { name: 'Open chat, 1 unread message', exact: true }).waitFor();
  assert.deepEqual(await badge(), { content: '"1"', 'background-color': 'rgb(185, 28, 28)', color: WHITE });
  await agentReply(stack.relay.url, conversation, 'And on holidays too.');
  const launcher = page.getByRole('button', { name: 'Open chat, 2 unread messages', exact: true });
  await launcher.waitFor();
  assert.equal((await badge()).content, '"2"');
  await screenshot(page, 'widget-badge');
  assert.deepEqual(await axeViolations(page), []);

  await launcher.click();
  await chat.getByRole('log', { name: 'Messages' }).getByText('And on holidays too.').waitFor();
  await page.getByRole('button', { name: 'Close chat', exact: true }).waitFor();
  assert.equal((await badge()).content, 'none', 'no badge once the replies are seen');
  await chat.getByRole('button', { name: 'Minimize chat', exact: true }).click();
  await page.getByRole('button', { name: 'Open chat', exact: true }).waitFor();

  // Away from the chat, another reply arrives; the visitor comes back to the page later.
  await agentReply(stack.relay.url, conversation, 'See you then!');
  await page.getByRole('button', { name: 'Open chat, 1 unread message', exact: true }).waitFor();
  // The app's socket is the proof that it loaded (its files may come from the cache).
  const appLoaded = page.waitForEvent('websocket', (socket) => socket.url().includes('/v1/visitor/ws'));
  await page.reload();
  await appLoaded;
  // No hover, focus or click: the app came in the background, and the badge with it.
  await page.getByRole('button', { name: 'Open chat, 1 unread message', exact: true }).waitFor();
  assert.equal((await badge()).content, '"1"');
  assert.deepEqual(errors, []);
  await context.close();
});
