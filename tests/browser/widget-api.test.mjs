// The widget's JS API (W10): the command queue before and after the load, every command, every
// event, listener isolation, bad arguments, and destroy/init for single-page apps.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  suite, openHostPage, agentReply, waitForEvent, eventNames, until,
} from './support.mjs';

const stack = suite();

const launcher = (page, name) => page.getByRole('button', { name, exact: true });
const shown = (page) => page.evaluate(() => {
  const host = document.getElementById('natter-widget');
  return Boolean(host) && getComputedStyle(host).display !== 'none';
});

test('commands queued before the loader runs are replayed in order, then ready fires', async () => {
  const { context, page, errors } = await openHostPage(stack, {
    recordEvents: true,
    setup: `natter('set', { locale: 'fr' });
      natter('open');`,
  });
  const chat = page.getByRole('dialog', { name: 'Chat' });
  await chat.getByRole('heading', { name: 'Discutez avec nous' }).waitFor();
  await waitForEvent(page, 'open');
  assert.deepEqual(await eventNames(page), ['ready', 'open']);
  assert.equal(await launcher(page, 'Fermer le chat').getAttribute('aria-expanded'), 'true');

  // After the load the same function runs commands at once.
  await page.evaluate(() => natter('close'));
  await waitForEvent(page, 'close');
  assert.ok(await chat.isHidden());
  await launcher(page, 'Ouvrir le chat').waitFor();
  await page.evaluate(() => natter('toggle'));
  await chat.waitFor();
  await page.evaluate(() => natter('toggle'));
  await chat.waitFor({ state: 'hidden' });
  assert.deepEqual(await eventNames(page), ['ready', 'open', 'close', 'open', 'close']);
  // Opening an open panel is not a new event.
  await page.evaluate(() => { natter('open'); natter('open'); });
  await chat.waitFor();
  await page.evaluate(() => natter('close'));
  await chat.waitFor({ state: 'hidden' });
  assert.deepEqual(await eventNames(page), ['ready', 'open', 'close', 'open', 'close', 'open', 'close']);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the old one-line snippet (no queue) still works and defines natter()', async () => {
  const { context, page, errors } = await openHostPage(stack, { queue: false });
  await launcher(page, 'Open chat').waitFor();
  assert.equal(await page.evaluate(() => typeof window.natter), 'function');
  await page.evaluate(() => natter('open'));
  await page.getByRole('dialog', { name: 'Chat' }).getByText('Ask us anything').waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test('show and hide the whole widget; open shows it again', async () => {
  const { context, page, errors } = await openHostPage(stack, { recordEvents: true });
  await launcher(page, 'Open chat').waitFor();
  await page.evaluate(() => natter('hide'));
  assert.equal(await shown(page), false);
  assert.ok(await launcher(page, 'Open chat').isHidden());
  await page.evaluate(() => natter('show'));
  assert.equal(await shown(page), true);
  await page.evaluate(() => { natter('hide'); natter('open'); });
  await page.getByRole('dialog', { name: 'Chat' }).waitFor();
  assert.equal(await shown(page), true);
  // hide before the loader ran: the launcher never shows.
  const queued = await openHostPage(stack, { recordEvents: true, setup: "natter('hide');", path: '/host/hidden' });
  await waitForEvent(queued.page, 'ready');
  assert.equal(await shown(queued.page), false);
  assert.deepEqual(errors, []);
  assert.deepEqual(queued.errors, []);
  await Promise.all([context.close(), queued.context.close()]);
});

test('on/off: a late ready listener still runs; off removes; a throwing listener breaks nothing', async () => {
  const { context, page, errors } = await openHostPage(stack, { recordEvents: true });
  await waitForEvent(page, 'ready');
  await page.evaluate(() => {
    window.calls = [];
    natter('on', 'ready', () => window.calls.push('late ready'));
    const removed = () => window.calls.push('removed');
    natter('on', 'open', removed);
    natter('off', 'open', removed);
    natter('off', 'close', removed); // never registered: nothing happens
    natter('on', 'open', () => { throw new Error('host bug'); });
    natter('on', 'open', () => window.calls.push('open'));
  });
  await page.evaluate(() => natter('open'));
  await page.waitForFunction(() => window.calls.includes('open'));
  assert.deepEqual(await page.evaluate(() => window.calls), ['late ready', 'open']);
  // The throwing listener is reported once, and the widget carries on.
  await until(() => errors.length > 0);
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0], /\[natter\] a listener for open threw/);
  const composer = page.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill('Still working');
  await composer.press('Enter');
  await page.getByRole('log', { name: 'Messages' }).getByText('Sent').waitFor();
  await context.close();
});

test('message:sent, message:received and unread carry the message; opening clears unread', async () => {
  const { context, page, errors } = await openHostPage(stack, { recordEvents: true });
  await page.evaluate(() => natter('open'));
  const composer = page.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill('Is the Guji still in stock?');
  await composer.press('Enter');
  await waitForEvent(page, 'message:sent');
  const sent = await page.evaluate(() => window.__events.find(([name]) => name === 'message:sent')[1]);
  assert.equal(sent.text, 'Is the Guji still in stock?');
  assert.equal(sent.channel, 'chat');
  assert.equal(sent.agentName, null);
  assert.match(sent.conversationId, /^[0-9a-f-]{36}$/);
  assert.ok(Math.abs(sent.sentAt - Date.now()) < 60_000);

  await page.evaluate(() => natter('close'));
  await agentReply(stack.relay.url, sent.conversationId, 'Yes, two bags left.');
  await waitForEvent(page, 'message:received');
  await waitForEvent(page, 'unread', '(d) => d.count === 1');
  const received = await page.evaluate(() => window.__events.find(([name]) => name === 'message:received')[1]);
  assert.equal(received.text, 'Yes, two bags left.');
  assert.equal(received.agentName, 'Admin');
  assert.equal(received.conversationId, sent.conversationId);

  await page.evaluate(() => natter('open'));
  await waitForEvent(page, 'unread', '(d) => d.count === 0');
  await page.getByRole('log', { name: 'Messages' }).getByText('Yes, two bags left.').waitFor();
  assert.deepEqual(await eventNames(page), [
    'ready', 'open', 'message:sent', 'close', 'message:received', 'unread', 'open', 'unread',
  ]);
  assert.deepEqual(errors, []);
  await context.close();
});

test('bad arguments: one console error each, naming the command and what it expected; no exception', async () => {
  const { context, page, errors } = await openHostPage(stack, { recordEvents: true });
  await waitForEvent(page, 'ready');
  const thrown = await page.evaluate(() => {
    const calls = [
      ['nope'],
      ['on', 'opened', () => {}],
      ['on', 'open', 'not a function'],
      ['off'],
      ['set', 'de'],
      ['set', { colour: 'red' }],
      ['consent', 'yes'],
      ['identify', 'ada@example.com'],
      ['identify', { email: 'ada@example.com', tokn: 'x' }],
      ['identify', { name: 'Ada' }],
    ];
    const exceptions = [];
    for (const args of calls) {
      try {
        window.natter(...args);
      } catch (error) {
        exceptions.push(String(error));
      }
    }
    return exceptions;
  });
  assert.deepEqual(thrown, []);
  // identify is checked by the app, which the first identify call loads.
  const expected = [
    /natter\("nope"\): expected a command: init, open, close, toggle, show, hide, on, off, identify, set, reset, consent, destroy/,
    /natter\("on"\): expected an event \(ready, open, close, message:sent, message:received, unread, email:captured\) and a function/,
    /natter\("on"\): expected an event/,
    /natter\("off"\): expected an event/,
    /natter\("set"\): expected \{locale: 'en', 'de' or 'fr'\}/,
    /natter\("set"\): expected \{locale/,
    /natter\("consent"\): expected true or false/,
    /natter\("identify"\): expected \{email: string, name\?: string, phone\?: string, company\?: string, token\?: string\}; got no object/,
    /natter\("identify"\): expected .*"tokn" is not one of these/,
    /natter\("identify"\): expected .*email is missing/,
  ];
  await until(() => errors.length >= expected.length);
  assert.equal(errors.length, expected.length, errors.join('\n'));
  expected.forEach((pattern, i) => assert.match(errors[i], pattern));
  // The widget works on.
  await page.evaluate(() => natter('open'));
  await page.getByRole('dialog', { name: 'Chat' }).waitFor();
  await context.close();
});

test('destroy removes every node, listener, socket and timer; init and a new snippet start it again', async () => {
  // Count what the widget's own code (the loader natter.js and the app natter-widget-*.js)
  // creates on the page: timers, window/document listeners, sockets.
  const countLive = () => {
    const ours = () => /\/natter(\.js|-widget)/.test(new Error().stack);
    const live = { timers: new Set(), listeners: [], sockets: [] };
    window.__natterLive = live;
    const { setTimeout: set, clearTimeout: clear, setInterval: every, clearInterval: stop } = window;
    window.setTimeout = function (fn, ms, ...rest) {
      const tracked = ours();
      const id = set.call(window, (...args) => {
        live.timers.delete(id);
        if (typeof fn === 'function') fn(...args);
      }, ms, ...rest);
      if (tracked) live.timers.add(id);
      return id;
    };
    window.clearTimeout = (id) => { live.timers.delete(id); clear.call(window, id); };
    window.setInterval = function (fn, ms, ...rest) {
      const id = every.call(window, fn, ms, ...rest);
      if (ours()) live.timers.add(id);
      return id;
    };
    window.clearInterval = (id) => { live.timers.delete(id); stop.call(window, id); };
    for (const [name, target] of [['window', window], ['document', document]]) {
      const add = target.addEventListener.bind(target);
      const remove = target.removeEventListener.bind(target);
      target.addEventListener = (type, fn, options) => {
        if (ours()) live.listeners.push({ name, type, fn });
        add(type, fn, options);
      };
      target.removeEventListener = (type, fn, options) => {
        live.listeners = live.listeners.filter((l) => !(l.name === name && l.type === type && l.fn === fn));
        remove(type, fn, options);
      };
    }
    const Socket = window.WebSocket;
    window.WebSocket = class extends Socket {
      constructor(...args) {
        super(...args);
        if (ours()) live.sockets.push(this);
      }
    };
  };
  const { context, page, errors } = await openHostPage(stack, {
    recordEvents: true,
    path: '/host/spa',
    prepare: (page) => page.addInitScript(countLive),
  });
  await page.evaluate(() => natter('open'));
  const composer = page.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill('Before the route change');
  await composer.press('Enter');
  const log = page.getByRole('log', { name: 'Messages' });
  await log.getByText('Sent').waitFor();
  const during = await page.evaluate(() => ({
    listeners: window.__natterLive.listeners.map((l) => `${l.name}:${l.type}`),
    sockets: window.__natterLive.sockets.filter((s) => s.readyState === WebSocket.OPEN).length,
  }));
  assert.ok(during.listeners.length > 0, 'the live widget listens for online/pageshow/visibilitychange');
  assert.equal(during.sockets, 1);

  await page.evaluate(() => natter('destroy'));
  const left = await page.evaluate(() => ({
    host: Boolean(document.getElementById('natter-widget')),
    nodes: document.querySelectorAll('[id^="natter"], [class^="natter"]').length,
    timers: window.__natterLive.timers.size,
    listeners: window.__natterLive.listeners.map((l) => `${l.name}:${l.type}`),
    // 2 = CLOSING, 3 = CLOSED
    sockets: window.__natterLive.sockets.every((s) => s.readyState >= 2),
    natter: typeof window.natter,
  }));
  assert.deepEqual(left, { host: false, nodes: 0, timers: 0, listeners: [], sockets: true, natter: 'function' });

  // Commands after destroy are queued for the next start: init runs them.
  await page.evaluate(() => { natter('open'); natter('init'); });
  await log.getByText('Before the route change').waitFor();
  await page.evaluate(() => natter('destroy'));
  await page.waitForFunction(() => !document.getElementById('natter-widget'));

  // A single-page app may also put the snippet back.
  await page.evaluate((relayUrl) => {
    const script = document.createElement('script');
    script.src = `${relayUrl}/natter.js`;
    script.dataset.site = 'demo';
    document.body.append(script);
  }, stack.relay.url);
  await launcher(page, 'Open chat').click();
  await log.getByText('Before the route change').waitFor();
  assert.equal(await page.locator('#natter-widget').count(), 1);
  assert.deepEqual(errors, []);
  await context.close();
});
