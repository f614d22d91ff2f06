// Typing in both directions (W7): the visitor's typing reaches the agents' socket (throttled,
// and stopped on send, on blur and when idle), an agent's typing shows in the widget as
// "<name> is typing…" until the reply, `typing: false`, or the lapse without renewal. Agent
// messages carry the agent's name.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  suite, openHostPage, openAgentSocket, screenshot, axeViolations, waitForAnimations,
} from './support.mjs';

/** widget/src/chat.rs: `typing: true` is repeated at most this often while typing goes on. */
const TYPING_RENEW_MS = 3_000;
/** widget/src/chat.rs: after this long without a keystroke the visitor stopped typing. */
const TYPING_IDLE_MS = 4_000;
/** protocol::agent::TYPING_LAPSE_MS: an indicator not renewed within this hides itself. */
const TYPING_LAPSE_MS = 6_000;

const stack = suite({ noForm: true, agent: true });

/** A visitor with a conversation (one message sent), the panel open. */
async function visitor(path) {
  // The typing frames the widget sent, with when: the throttle is about time.
  const sent = [];
  const { context, page, errors, frames } = await openHostPage(stack, {
    path,
    prepare(page) {
      page.on('websocket', (socket) => socket.on('framesent', ({ payload }) => {
        const frame = JSON.parse(payload);
        if (frame.type === 'typing') sent.push({ ...frame, at: Date.now() });
      }));
    },
  });
  await page.getByRole('button', { name: 'Open chat', exact: true }).click();
  const chat = page.getByRole('dialog', { name: 'Chat' });
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  const log = chat.getByRole('log', { name: 'Messages' });
  await composer.fill('I have a question about my order');
  await composer.press('Enter');
  await log.getByText('Sent').waitFor();
  const conversationId = (await frames.next('ack')).message.conversation_id;
  return { context, page, errors, chat, composer, log, conversationId, sent };
}

test('an agent typing shows "<name> is typing…" until the reply, under the agent name', async () => {
  const { context, page, errors, chat, log, conversationId } = await visitor('/agent-typing');
  const typing = chat.getByText('Admin is typing…');

  await stack.agent.post(`/v1/agent/conversations/${conversationId}/typing`, { typing: true });
  await typing.waitFor();
  await waitForAnimations(page);
  await screenshot(page, 'widget-agent-typing');
  assert.deepEqual(await axeViolations(page), []);

  await stack.agent.post(`/v1/agent/conversations/${conversationId}/messages`, {
    client_id: crypto.randomUUID(),
    text: 'Let me check that for you.',
  });
  await typing.waitFor({ state: 'hidden' });
  const reply = log.getByRole('listitem').filter({ hasText: 'Let me check that for you.' });
  await reply.getByText('Admin', { exact: true }).waitFor();

  // typing: false hides it at once.
  await stack.agent.post(`/v1/agent/conversations/${conversationId}/typing`, { typing: true });
  await typing.waitFor();
  await stack.agent.post(`/v1/agent/conversations/${conversationId}/typing`, { typing: false });
  await typing.waitFor({ state: 'hidden' });

  // Not renewed (the agent closed the console mid-sentence): it lapses by itself.
  await stack.agent.post(`/v1/agent/conversations/${conversationId}/typing`, { typing: true });
  await typing.waitFor();
  await typing.waitFor({ state: 'hidden', timeout: TYPING_LAPSE_MS * 3 });
  assert.deepEqual(errors, []);
  await context.close();
});

test('the visitor typing reaches the agent socket, throttled, and stops on send, blur and idle', async () => {
  const { context, page, errors, composer, conversationId, sent } = await visitor('/visitor-typing');
  const agentContext = await stack.browser.newContext();
  const socket = await openAgentSocket(agentContext, stack.relay.url);
  const visitorTyping = (typing) => (frame) =>
    frame.conversation_id === conversationId && frame.agent_id === null && frame.typing === typing;

  // Typing for a few seconds: one `true` on the first key, repeated at most every
  // TYPING_RENEW_MS.
  const started = Date.now();
  await composer.pressSequentially('Is it possible to change the address?', { delay: 90 });
  const elapsed = Date.now() - started;
  await socket.next('typing', visitorTyping(true));
  const trues = sent.filter((frame) => frame.typing && frame.at >= started);
  assert.ok(trues.length >= 1 && trues.length <= 1 + Math.floor(elapsed / TYPING_RENEW_MS),
    `${trues.length} typing frames in ${elapsed} ms`);

  // Sending ends it.
  await composer.press('Enter');
  await socket.next('typing', visitorTyping(false));
  assert.equal(sent.at(-1).typing, false);

  // Leaving the field ends it.
  await composer.pressSequentially('Also');
  await socket.next('typing', visitorTyping(true));
  await composer.press('Tab');
  await socket.next('typing', visitorTyping(false));

  // So does a pause: no keystroke for TYPING_IDLE_MS.
  await composer.focus();
  await composer.pressSequentially(', the ');
  await socket.next('typing', visitorTyping(true));
  await socket.next('typing', visitorTyping(false), TYPING_IDLE_MS * 4);

  // Emptying the draft ends it too.
  await composer.pressSequentially('x');
  await socket.next('typing', visitorTyping(true));
  await composer.fill('');
  await socket.next('typing', visitorTyping(false));
  assert.deepEqual(errors, []);
  await agentContext.close();
  await context.close();
});
