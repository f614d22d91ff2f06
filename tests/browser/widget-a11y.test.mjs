// Accessibility (W12, WCAG 2.2 AA): the whole chat with the keyboard only, focus management,
// aria-live, visible focus, reduced motion, dark mode, and axe-core with zero violations on the
// closed launcher, the open thread and the panel with an error alert, in light and dark.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  suite, openHostPage, agentReply, waitForEvent, axeViolations, screenshot,
} from './support.mjs';

const stack = suite();

/** A host page in a new context (`contextOptions`: colour scheme, reduced motion), widget ready. */
async function visit(contextOptions = {}) {
  const { context, page, errors } = await openHostPage(stack, { recordEvents: true, contextOptions });
  await waitForEvent(page, 'ready');
  return { context, page, errors };
}

/** The focused element inside the widget's shadow root, described by role-ish and name. */
const focused = (page) => page.evaluate(() => {
  const host = document.getElementById('natter-widget');
  if (document.activeElement !== host) return `outside: ${document.activeElement?.tagName}`;
  const element = host.shadowRoot.activeElement;
  return `${element?.tagName.toLowerCase()}:${element?.getAttribute('aria-label') ?? element?.textContent.trim()}`;
});

test('the whole chat works with the keyboard only, and focus goes where it should', async () => {
  const { context, page, errors } = await visit();
  // Tab from the top of the page to the launcher (it comes after the page's own links).
  for (let i = 0; i < 10 && (await focused(page)) !== 'button:Open chat'; i++) {
    await page.keyboard.press('Tab');
  }
  assert.equal(await focused(page), 'button:Open chat');
  const ring = await page.evaluate(() => {
    const style = getComputedStyle(document.getElementById('natter-widget').shadowRoot.activeElement);
    return `${style.outlineStyle} ${style.outlineWidth}`;
  });
  assert.equal(ring, 'solid 3px', 'a visible focus ring on the launcher');

  // Enter opens the panel and moves focus into the composer.
  await page.keyboard.press('Enter');
  const chat = page.getByRole('dialog', { name: 'Chat' });
  await chat.waitFor();
  await page.waitForFunction(() => document.getElementById('natter-widget').shadowRoot.activeElement?.tagName === 'TEXTAREA');
  await page.keyboard.type('Typed without a mouse');
  await page.keyboard.press('Enter');
  const log = chat.getByRole('log', { name: 'Messages' });
  await log.getByRole('listitem').filter({ hasText: 'Typed without a mouse' }).getByText('Sent').waitFor();
  assert.equal(await log.getAttribute('aria-live'), 'polite', 'new messages are announced');

  // Shift+Enter is a new line, not a send.
  await page.keyboard.type('line one');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('line two');
  assert.equal(await chat.getByRole('textbox', { name: 'Message', exact: true }).inputValue(), 'line one\nline two');
  await page.keyboard.press('Enter');
  await log.getByText('line two').waitFor();

  // A refused message can be retried from the keyboard: Shift+Tab reaches its Retry button,
  // past the email form the demo site shows after the first message (W5), which is itself
  // keyboard-reachable on the way.
  await page.keyboard.insertText('x'.repeat(4001));
  await page.keyboard.press('Enter');
  await chat.getByRole('alert').getByText('could not be sent').waitFor();
  const passed = [];
  for (let i = 0; i < 12 && (await focused(page)) !== 'button:Retry'; i++) {
    await page.keyboard.press('Shift+Tab');
    passed.push(await focused(page));
  }
  assert.equal(await focused(page), 'button:Retry');
  assert.ok(passed.some((name) => name.startsWith('input:')), `the form's fields are on the way: ${passed}`);
  await page.keyboard.press('Enter');
  await chat.getByRole('alert').getByText('could not be sent').waitFor();
  // The retried row is replaced, so focus moves on to the composer instead of getting lost.
  assert.equal(await focused(page), 'textarea:');

  // Escape closes and hands focus back to the launcher; Enter opens again.
  await page.keyboard.press('Escape');
  await chat.waitFor({ state: 'hidden' });
  assert.equal(await focused(page), 'button:Open chat');
  await page.keyboard.press('Enter');
  await chat.waitFor();
  await page.waitForFunction(() => document.getElementById('natter-widget').shadowRoot.activeElement?.tagName === 'TEXTAREA');
  // Shift+Tab to the minimize button, Space closes, focus back on the launcher.
  for (let i = 0; i < 20 && (await focused(page)) !== 'button:Minimize chat'; i++) {
    await page.keyboard.press('Shift+Tab');
  }
  assert.equal(await focused(page), 'button:Minimize chat');
  await page.keyboard.press('Space');
  await chat.waitFor({ state: 'hidden' });
  assert.equal(await focused(page), 'button:Open chat');
  assert.deepEqual(errors, []);
  await context.close();
});

test('axe-core finds no violations: closed launcher, open thread, error alert; light and dark', async () => {
  for (const colorScheme of ['light', 'dark']) {
    const { context, page, errors } = await visit({ colorScheme });
    assert.deepEqual(await axeViolations(page), [], `${colorScheme}: closed launcher`);

    await page.getByRole('button', { name: 'Open chat', exact: true }).click();
    const chat = page.getByRole('dialog', { name: 'Chat' });
    const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
    await composer.fill('Which grind for a moka pot?');
    await composer.press('Enter');
    await waitForEvent(page, 'message:sent');
    const { conversationId } = await page.evaluate(() => window.__events.find(([name]) => name === 'message:sent')[1]);
    await agentReply(stack.relay.url, conversationId, 'Fine, like table salt.');
    await chat.getByText('Fine, like table salt.').waitFor();
    assert.deepEqual(await axeViolations(page), [], `${colorScheme}: open thread`);
    await screenshot(page, colorScheme === 'dark' ? 'widget-dark' : 'widget-light');

    await composer.fill('x'.repeat(4001));
    await composer.press('Enter');
    await chat.getByRole('alert').getByText('could not be sent').waitFor();
    assert.deepEqual(await axeViolations(page), [], `${colorScheme}: error alert`);
    await screenshot(page, `widget-alert-${colorScheme}`);
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test('dark mode and reduced motion follow the visitor\'s settings', async () => {
  const { context, page } = await visit({ colorScheme: 'dark', reducedMotion: 'reduce' });
  await page.getByRole('button', { name: 'Open chat', exact: true }).click();
  const chat = page.getByRole('dialog', { name: 'Chat' });
  await chat.waitFor();
  const style = await chat.evaluate((panel) => ({
    background: getComputedStyle(panel).backgroundColor,
    animation: getComputedStyle(panel).animationName,
  }));
  assert.deepEqual(style, { background: 'rgb(31, 41, 55)', animation: 'none' });
  await context.close();

  const light = await visit({ colorScheme: 'light' });
  await light.page.getByRole('button', { name: 'Open chat', exact: true }).click();
  const panel = light.page.getByRole('dialog', { name: 'Chat' });
  await panel.waitFor();
  const animated = await panel.evaluate((element) => ({
    background: getComputedStyle(element).backgroundColor,
    animation: getComputedStyle(element).animationName,
  }));
  assert.deepEqual(animated, { background: 'rgb(255, 255, 255)', animation: 'natter-in' });
  await light.context.close();
});
