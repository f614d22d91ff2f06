// Files and typing in the agent console (I13, W7, I15): an agent attaches files to a reply
// (picker with progress, drag and drop onto the reply box), the visitor sees them; the visitor
// types and the console says so; the agent types and the widget hears it, stopped when idle and
// on send, and never while the agent writes an internal comment (I7).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { suite, openHostPage, openConsole, screenshot, agentApi } from './support.mjs';

const stack = suite({ noForm: true });

function crc32(bytes) {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

function pngChunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A real RGB PNG with a warm gradient. */
function png(width, height) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      raw[row + 1 + x * 3] = 230;
      raw[row + 2 + x * 3] = 120 + Math.round((100 * x) / width);
      raw[row + 3 + x * 3] = 60 + Math.round((120 * y) / height);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');

/** A visitor who wrote `text`, with the panel open. */
async function visitor(text) {
  const { context, page, errors, frames } = await openHostPage(stack);
  await page.getByRole('button', { name: 'Open chat', exact: true }).click();
  const chat = page.getByRole('dialog', { name: 'Chat' });
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill(text);
  await composer.press('Enter');
  const conversationId = (await frames.next('ack')).message.conversation_id;
  return { context, page, chat, composer, errors, frames, conversationId, log: chat.getByRole('log', { name: 'Messages' }) };
}

/** The console, logged in, with the conversation whose last message is `text` open. */
async function agentOpens(text) {
  const { context, page, errors } = await openConsole(stack, { contextOptions: { viewport: { width: 1280, height: 800 } } });
  await page.getByRole('navigation', { name: 'Conversations' }).getByRole('button').filter({ hasText: text }).click();
  await page.getByRole('log', { name: 'Messages' }).getByText(text).waitFor();
  return { context, page, errors, reply: page.getByRole('textbox', { name: 'Reply', exact: true }) };
}

test('an agent attaches files by picker and by drag and drop; the visitor sees them', async () => {
  const visitorSide = await visitor('Could you send me the receipt?');
  const agentSide = await agentOpens('Could you send me the receipt?');
  const { page } = agentSide;

  const receipt = png(220, 140);
  const chooser = page.waitForEvent('filechooser');
  await page.getByRole('button', { name: 'Attach files', exact: true }).click();
  await (await chooser).setFiles([
    { name: 'receipt.png', mimeType: 'image/png', buffer: receipt },
    { name: 'terms.pdf', mimeType: 'application/pdf', buffer: PDF },
  ]);
  const files = page.getByRole('list', { name: 'Files to send' });
  await files.getByRole('listitem').filter({ hasText: 'receipt.png' }).getByText('Ready').waitFor();
  await files.getByRole('listitem').filter({ hasText: 'terms.pdf' }).getByText('Ready').waitFor();
  await agentSide.reply.fill('Here is your receipt, and our terms.');
  await agentSide.reply.press('Enter');

  // The console shows the reply with its files; the list of files to send is empty again.
  const mine = page.getByRole('log', { name: 'Messages' }).getByRole('listitem').filter({ hasText: 'Here is your receipt' });
  await mine.getByRole('img', { name: 'receipt.png' }).waitFor();
  await mine.getByRole('link', { name: /terms\.pdf/ }).waitFor();
  await files.waitFor({ state: 'hidden' });
  await page.waitForFunction((img) => img.complete && img.naturalWidth === 220,
    await mine.getByRole('img', { name: 'receipt.png' }).elementHandle());

  // The visitor sees both: the image inline (from the relay), the PDF as a link.
  const row = visitorSide.log.getByRole('listitem').filter({ hasText: 'Here is your receipt' });
  await row.getByRole('img', { name: 'receipt.png' }).waitFor();
  const pdf = row.getByRole('link', { name: /terms\.pdf/ });
  const download = await fetch(await pdf.getAttribute('href'));
  assert.deepEqual(Buffer.from(await download.arrayBuffer()), PDF);
  const image = await fetch(await row.getByRole('link', { name: /receipt\.png/ }).getAttribute('href'));
  assert.deepEqual(Buffer.from(await image.arrayBuffer()), receipt);
  await screenshot(page, 'console-file');

  // Drag and drop onto the reply box, sent with no text.
  const transfer = await page.evaluateHandle(() => {
    const data = new DataTransfer();
    data.items.add(new File(['Opening hours: 9–17'], 'hours.txt', { type: 'text/plain' }));
    return data;
  });
  const form = page.locator('form.composer');
  await form.dispatchEvent('dragenter', { dataTransfer: transfer });
  await page.getByText('Drop files to attach them to the reply').waitFor();
  await form.dispatchEvent('drop', { dataTransfer: transfer });
  await page.getByText('Drop files to attach them to the reply').waitFor({ state: 'hidden' });
  await files.getByRole('listitem').filter({ hasText: 'hours.txt' }).getByText('Ready').waitFor();
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await visitorSide.log.getByRole('link', { name: /hours\.txt/ }).waitFor();
  const detail = await (await agentApi(stack.relay.url)).get(`/v1/agent/conversations/${visitorSide.conversationId}`);
  assert.deepEqual(detail.messages.at(-1).attachments.map((a) => a.name), ['hours.txt']);
  assert.equal(detail.messages.at(-1).text, '');

  assert.deepEqual(visitorSide.errors, []);
  assert.deepEqual(agentSide.errors, []);
  await visitorSide.context.close();
  await agentSide.context.close();
});

test('typing shows in the console and in the widget, stops when idle and on send, never for comments', async () => {
  const visitorSide = await visitor('Is my order on its way?');
  const agentSide = await agentOpens('Is my order on its way?');
  const { page } = agentSide;
  const typingRequests = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/typing')) typingRequests.push(JSON.parse(request.postData()).typing);
  });

  // The visitor types: the console names them (as in the thread's header).
  const label = (await page.locator('.thread-header h2').innerText()).trim();
  await visitorSide.composer.pressSequentially('It was order 1042');
  const indicator = page.locator('p.typing');
  await indicator.getByText(`${label} is typing…`).waitFor();
  assert.equal(await indicator.getAttribute('aria-live'), 'polite');
  await screenshot(page, 'console-typing');
  // Their message ends it.
  await visitorSide.composer.press('Enter');
  await page.getByRole('log', { name: 'Messages' }).getByText('It was order 1042').waitFor();
  await page.waitForFunction((p) => p.textContent === '', await indicator.elementHandle());

  // The agent types: the widget hears it, with the agent's name; idle ends it.
  await agentSide.reply.pressSequentially('Let me check');
  const started = await visitorSide.frames.next('typing');
  assert.equal(started.typing, true);
  assert.ok(started.name, 'the agent is named');
  await visitorSide.chat.getByText(`${started.name} is typing…`).waitFor();
  const stopped = await visitorSide.frames.next('typing');
  assert.equal(stopped.typing, false, 'idle: stopped typing');
  assert.deepEqual(typingRequests, [true, false]);

  // An internal comment is never announced to the visitor.
  await page.getByRole('radio', { name: 'Internal comment' }).check();
  await agentSide.reply.fill('');
  await agentSide.reply.pressSequentially('Customer seems worried');
  // Back to a reply: the next typing is the first since the comment started.
  await page.getByRole('radio', { name: 'Reply', exact: true }).check();
  await agentSide.reply.fill('');
  await agentSide.reply.pressSequentially('It ships today');
  const again = await visitorSide.frames.next('typing');
  assert.equal(again.typing, true);
  assert.deepEqual(typingRequests, [true, false, true], 'nothing was sent while commenting');

  // Sending ends it at once.
  await agentSide.reply.press('Enter');
  const afterSend = await visitorSide.frames.next('typing');
  assert.equal(afterSend.typing, false);
  await visitorSide.log.getByText('It ships today').waitFor();
  assert.equal(typingRequests.at(-1), false);

  assert.deepEqual(visitorSide.errors, []);
  assert.deepEqual(agentSide.errors, []);
  await visitorSide.context.close();
  await agentSide.context.close();
});
