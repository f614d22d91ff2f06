// Several relay nodes behind a real load balancer (issue 16 §3): two `natter-relay` processes on
// one fresh PostgreSQL database and NATS, behind a private Debian nginx running
// tests/browser/nginx-multinode.conf (round robin, no sticky sessions). The widget on a host page
// and the console both go through nginx: messages both ways and typing, live, with the visitor's
// socket on one node and the agent's on the other; the widget sees the agent online across
// nodes; then the node holding both sockets is killed (SIGKILL) mid-conversation, and both
// reconnect through nginx to the survivor with nothing acknowledged lost or doubled.
//
// Round robin decides where each socket lands; nginx names the node that answered in an
// X-Natter-Upstream header, which the test reads on every socket handshake (Chrome DevTools
// Protocol) to know where the sockets are, and reloads a page until its socket sits where the
// step needs it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  suite, openHostPage, openConsole, screenshot, until, waitForAnimations, NGINX_MULTINODE_CONF,
} from './support.mjs';

const AWAY = 'Nobody is here right now; leave a message.';
const VISITOR_WS = '/v1/visitor/ws';
const AGENT_WS = '/v1/agent/ws';
/** Reloads tried to get a socket onto a given node (each try has an even chance or better). */
const PLACEMENT_TRIES = 8;

const stack = suite({
  cluster: { nodes: 2, config: `away_message = "${AWAY}"\n\n[sites.form]\nwhen = "never"\n` },
  agent: true,
});

/** Filled by the first test, used by the next ones (they run in order, in one process). */
let visitor;
let agent;
let conversationId;

/** Console errors other than failed socket attempts while a node is going away. */
const unexpected = (errors) => errors.filter((error) => !/WebSocket connection to .* failed/.test(error));

/**
 * Records every WebSocket of `page` with the node nginx passed it to (the X-Natter-Upstream
 * header of the handshake). `current(path, { after })` resolves with the newest open socket to
 * `path` (one created after the first `after` sockets, when given) once its handshake is done.
 */
async function watchSockets(page, context) {
  const cdp = await context.newCDPSession(page);
  const sockets = [];
  const byId = new Map();
  cdp.on('Network.webSocketCreated', ({ requestId, url }) => {
    const socket = { url: new URL(url).pathname, upstream: undefined, open: true };
    sockets.push(socket);
    byId.set(requestId, socket);
  });
  cdp.on('Network.webSocketHandshakeResponseReceived', ({ requestId, response }) => {
    const socket = byId.get(requestId);
    const header = Object.entries(response.headers)
      .find(([name]) => name.toLowerCase() === 'x-natter-upstream');
    if (socket) socket.upstream = header?.[1];
  });
  cdp.on('Network.webSocketClosed', ({ requestId }) => {
    const socket = byId.get(requestId);
    if (socket) socket.open = false;
  });
  await cdp.send('Network.enable');
  return {
    count: () => sockets.length,
    async current(path, { after = 0, ms = 45_000 } = {}) {
      const deadline = Date.now() + ms;
      for (;;) {
        const socket = sockets.slice(after).findLast((s) => s.url === path && s.open && s.upstream);
        if (socket) return socket;
        if (Date.now() > deadline) {
          throw new Error(`no open ${path} socket within ${ms} ms: ${JSON.stringify(sockets)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

/** The node a socket (from watchSockets) is on. */
const nodeOf = (socket) => stack.cluster.nodeAt(socket.upstream);
const otherNode = (node) => stack.cluster.nodes.find((candidate) => candidate !== node);

/**
 * Reloads `side`'s page (then `side.reopen()`) until its socket to `path` is on `node`. Round
 * robin alternates between the nodes with every request; a page load makes a fixed number of
 * requests, so every other try adds one more request first, to shift the parity.
 */
async function placeOn(side, path, node) {
  for (let attempt = 0; attempt < PLACEMENT_TRIES; attempt++) {
    const socket = await side.sockets.current(path);
    if (nodeOf(socket) === node) return socket;
    if (attempt % 2 === 1) await fetch(`${stack.cluster.url}/healthz`);
    const seen = side.sockets.count();
    await side.page.reload();
    await side.reopen();
    await side.sockets.current(path, { after: seen });
  }
  throw new Error(`${path} did not land on ${node.name} in ${PLACEMENT_TRIES} page loads`);
}

/** The visitor's widget: panel open, composer and thread. */
async function openWidget(page) {
  await page.getByRole('button', { name: /^Open chat/ }).click();
  const chat = page.getByRole('dialog', { name: 'Chat' });
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.waitFor();
  return { chat, composer, log: chat.getByRole('log', { name: 'Messages' }) };
}

/** The console with the conversation whose list entry shows `text` open. */
async function openConversation(page, text) {
  const list = page.getByRole('navigation', { name: 'Conversations' });
  await list.getByRole('button').filter({ hasText: text }).first().click();
  await page.getByRole('log', { name: 'Messages' }).getByText(text).first().waitFor();
}

const row = (log, text) => log.getByRole('listitem').filter({ hasText: text });

async function visitorSays(text) {
  await visitor.composer.fill(text);
  await visitor.composer.press('Enter');
}

async function agentSays(text) {
  await agent.reply.fill(text);
  await agent.reply.press('Enter');
}

/** Each text shows exactly once in the thread `log`. */
async function assertOnce(log, texts, who) {
  for (const text of texts) assert.equal(await row(log, text).count(), 1, `${who}: "${text}" shows once`);
}

test('the README quotes the nginx config this test runs', () => {
  const template = readFileSync(NGINX_MULTINODE_CONF, 'utf8');
  const quoted = template.match(/# --- README: from here.*\n([\s\S]*?)\n\s*# --- README: to here/)[1];
  const readme = readFileSync(join(NGINX_MULTINODE_CONF, '..', '..', '..', 'README.md'), 'utf8');
  // The README shows the block one level less indented (outside nginx's `http { … }`).
  const dedented = quoted.split('\n').map((line) => line.replace(/^ {4}/, '')).join('\n');
  assert.ok(readme.includes(dedented), 'README.md quotes the README part of nginx-multinode.conf unchanged');
});

test('visitor and agent on different nodes: messages both ways and typing, live, through nginx', async () => {
  let sockets;
  const watch = async (page, context) => {
    sockets = await watchSockets(page, context);
  };
  agent = await openConsole(stack, { contextOptions: { viewport: { width: 1280, height: 800 } }, prepare: watch });
  agent.sockets = sockets;
  const agentNode = nodeOf(await agent.sockets.current(AGENT_WS));

  visitor = await openHostPage(stack, { path: '/multinode', prepare: watch });
  visitor.sockets = sockets;
  Object.assign(visitor, await openWidget(visitor.page));
  visitor.reopen = async () => Object.assign(visitor, await openWidget(visitor.page));
  const visitorSocket = await placeOn(visitor, VISITOR_WS, otherNode(agentNode));
  assert.notEqual(nodeOf(visitorSocket), agentNode);

  // Visitor → agent: stored by the visitor's node, shown live on the agent's (over NATS).
  await visitorSays('Hello from one node');
  await row(visitor.log, 'Hello from one node').getByText('Sent').waitFor();
  conversationId = (await visitor.frames.next('ack')).message.conversation_id;
  await openConversation(agent.page, 'Hello from one node');
  agent.reply = agent.page.getByRole('textbox', { name: 'Reply', exact: true });
  agent.log = agent.page.getByRole('log', { name: 'Messages' });

  // Agent → visitor, twice: round robin sends the two posts to different nodes.
  await agentSays('Hi, the agent here');
  await row(visitor.log, 'Hi, the agent here').waitFor();
  await agentSays('How can I help?');
  await row(visitor.log, 'How can I help?').waitFor();
  await visitorSays('My parcel is late');
  await row(agent.log, 'My parcel is late').waitFor();

  // Typing crosses nodes both ways.
  const label = (await agent.page.locator('.thread-header h2').innerText()).trim();
  await visitor.composer.pressSequentially('It was order 1042');
  await agent.page.locator('p.typing').getByText(`${label} is typing…`).waitFor();
  await visitor.composer.press('Enter');
  await row(agent.log, 'It was order 1042').waitFor();
  // (The replies above were typed too: only typing frames from here on count.)
  const seen = visitor.frames.frames.length;
  await agent.reply.pressSequentially('Let me check');
  await until(() => visitor.frames.frames.slice(seen).some((frame) => frame.type === 'typing' && frame.typing));
  const typing = visitor.frames.frames.slice(seen).find((frame) => frame.type === 'typing' && frame.typing);
  assert.ok(typing.name, 'the agent is named');
  await visitor.chat.getByText(`${typing.name} is typing…`).waitFor();
  await agent.reply.press('Enter');
  await row(visitor.log, 'Let me check').waitFor();

  assert.deepEqual(unexpected(visitor.errors), []);
  assert.deepEqual(unexpected(agent.errors), []);
});

test('the widget sees the agent online when the agent\'s socket is on the other node', async () => {
  const visitorNode = nodeOf(await visitor.sockets.current(VISITOR_WS));
  const agentNode = nodeOf(await agent.sockets.current(AGENT_WS));
  assert.notEqual(visitorNode, agentNode, 'the sockets are still on different nodes');
  // Availability frames say whether anyone can answer; presence is per deployment, so the node
  // serving the widget must know of the agent on the other node (within a few heartbeats).
  const availability = () => visitor.frames.frames
    .filter((frame) => frame.type === 'availability')
    .map((frame) => frame.agents_online);
  try {
    await visitor.chat.getByText(AWAY).waitFor({ state: 'hidden', timeout: 10_000 });
  } catch {
    assert.fail(`the widget (on ${visitorNode.name}) does not see the agent online (on ${agentNode.name}): `
      + `the away message stays; availability frames said ${JSON.stringify(availability())}`);
  }
  assert.equal(availability().at(-1), true);
});

test('a node killed mid-conversation: widget and console reconnect through nginx, nothing lost or doubled', async () => {
  // Both sockets onto one node, the one that dies.
  const doomed = nodeOf(await visitor.sockets.current(VISITOR_WS));
  const survivor = otherNode(doomed);
  agent.reopen = async () => {
    await agent.page.getByRole('navigation', { name: 'Conversations' }).waitFor();
    await openConversation(agent.page, 'Let me check');
  };
  await placeOn(agent, AGENT_WS, doomed);
  await visitorSays('Visitor before the failover');
  await row(agent.log, 'Visitor before the failover').waitFor();
  await agentSays('Agent before the failover');
  await row(visitor.log, 'Agent before the failover').waitFor();

  const visitorSockets = visitor.sockets.count();
  const agentSockets = agent.sockets.count();
  // Two messages go out as the node is killed: stored or not, acknowledged or not.
  await Promise.all([
    (async () => {
      await visitorSays('In flight 1');
      await visitorSays('In flight 2');
    })(),
    doomed.stop('SIGKILL'),
  ]);
  await visitor.chat.getByText('Connection lost. Reconnecting…').waitFor();
  // Sent while the node is down (and before the widget has a socket again): from the outbox.
  await visitorSays('Written while the node was down');
  await agentSays('Agent reply while the node was down');

  // Both reconnect, through nginx, to the node that is left.
  assert.equal(nodeOf(await visitor.sockets.current(VISITOR_WS, { after: visitorSockets })), survivor);
  assert.equal(nodeOf(await agent.sockets.current(AGENT_WS, { after: agentSockets })), survivor);

  const visitorTexts = [
    'Hello from one node', 'My parcel is late', 'It was order 1042', 'Visitor before the failover',
    'In flight 1', 'In flight 2', 'Written while the node was down',
  ];
  const agentTexts = [
    'Hi, the agent here', 'How can I help?', 'Let me check', 'Agent before the failover',
    'Agent reply while the node was down',
  ];
  for (const text of visitorTexts) {
    await row(visitor.log, text).getByText(/Sent|Read/).waitFor({ timeout: 45_000 });
    await row(agent.log, text).waitFor({ timeout: 45_000 });
  }
  for (const text of agentTexts) await row(visitor.log, text).waitFor({ timeout: 45_000 });
  await assertOnce(visitor.log, [...visitorTexts, ...agentTexts], 'widget');
  await assertOnce(agent.log, [...visitorTexts, ...agentTexts], 'console');
  assert.equal(await visitor.log.getByText('Sending…').count(), 0);

  // The store has each message once, in the order it was sent.
  const { messages } = await stack.agent.get(`/v1/agent/conversations/${conversationId}`);
  const texts = (kind) => messages.filter((message) => message.author.kind === kind).map((message) => message.text);
  assert.deepEqual(texts('visitor'), visitorTexts);
  assert.deepEqual(texts('agent'), agentTexts);
  // Everything acknowledged before or after the kill is among them.
  const acked = visitor.frames.frames.filter((frame) => frame.type === 'ack').map((frame) => frame.message?.text);
  for (const text of acked) assert.ok(visitorTexts.includes(text), `acknowledged "${text}" is stored`);

  await Promise.all([waitForAnimations(visitor.page), waitForAnimations(agent.page)]);
  await screenshot(agent.page, 'multinode-console-after-failover');
  await screenshot(visitor.page, 'multinode-widget-after-failover');
  assert.deepEqual(unexpected(visitor.errors), []);
  assert.deepEqual(unexpected(agent.errors), []);
  await Promise.all([visitor.context.close(), agent.context.close()]);
});
