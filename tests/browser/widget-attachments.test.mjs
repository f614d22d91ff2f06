// Attachments in the widget (W8): pick a PNG and a PDF (progress, thumbnail, sent, the agent
// API has them and they download byte for byte, the image shows inline in the thread); files
// the relay would refuse are refused before upload with a sentence naming the file and the
// limit, and the relay's own refusal is shown with its reason; files past the per-message limit
// are refused with that limit; paste and drag and drop each deliver a file; a slow upload shows
// its progress bar, can be cancelled, and Send waits for it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import {
  suite, openHostPage, agentApi, waitForEvent, screenshot, axeViolations,
} from './support.mjs';

/** The relay's attachment limit for this file: small, so a "too large" file stays small. */
const MAX_ATTACHMENT_BYTES = 1024 * 1024;
/** The relay's files-per-message limit for this file (its default is 10). */
const MAX_FILES = 3;
/** Upload speed for the slow-upload test, bytes per second (CDP network emulation). */
const SLOW_UPLOAD_BYTES_PER_SEC = 48 * 1024;

const stack = suite({
  limits: { max_attachment_bytes: MAX_ATTACHMENT_BYTES, max_attachments_per_message: MAX_FILES },
  // The email form would push the thread out of the screenshots; it has its own tests.
  noForm: true,
});

// ---------------------------------------------------------------------------------------------
// Real files, made here.

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

/**
 * A real RGB PNG of `width` × `height` with a diagonal gradient. `level` 0 stores the pixels
 * uncompressed, for a file of a chosen size (about width × height × 3 bytes).
 */
function png(width, height, level = 9) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      raw[row + 1 + x * 3] = 40 + Math.round((180 * x) / width);
      raw[row + 2 + x * 3] = 90 + Math.round((120 * y) / height);
      raw[row + 3 + x * 3] = 200;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(raw, { level })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const PDF = Buffer.from(`%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >> endobj
trailer << /Root 1 0 R >>
%%EOF
`);

// ---------------------------------------------------------------------------------------------

/** A host page with the chat open, ready for files; `uploads()` lists the upload requests so far. */
async function openChat({ lang = 'en' } = {}) {
  const { context, page, errors, frames, requests } = await openHostPage(stack, { lang, recordEvents: true });
  const uploads = () => requests
    .filter((request) => request.url().includes('/v1/visitor/attachments') && request.method() === 'POST');
  await waitForEvent(page, 'ready');
  await page.getByRole('button', { name: lang === 'de' ? 'Chat öffnen' : 'Open chat', exact: true }).click();
  const chat = page.getByRole('dialog', { name: 'Chat' });
  await chat.waitFor();
  // Uploads need the visitor id of the welcome; the composer works before it, files do not.
  await frames.next('welcome');
  return { context, page, chat, errors, uploads };
}

/** Picks files with the paperclip button (a real file chooser). */
async function pick(page, chat, files, name = 'Attach files') {
  const chooser = page.waitForEvent('filechooser');
  await chat.getByRole('button', { name, exact: true }).click();
  await (await chooser).setFiles(files);
}

/** A DataTransfer holding files, built in the page (`files`: [{name, type, base64}]). */
function dataTransfer(page, files) {
  return page.evaluateHandle((files) => {
    const transfer = new DataTransfer();
    for (const { name, type, base64 } of files) {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], name, { type }));
    }
    return transfer;
  }, files);
}

async function conversationOf(page) {
  await waitForEvent(page, 'message:sent');
  return page.evaluate(() => window.__events.find(([name]) => name === 'message:sent')[1].conversationId);
}

test('a picked PNG and PDF upload with a thumbnail, are sent, reach the agent and show in the thread', async () => {
  const { context, page, chat, errors } = await openChat();
  const photo = png(240, 150);
  await pick(page, chat, [
    { name: 'photo.png', mimeType: 'image/png', buffer: photo },
    { name: 'invoice.pdf', mimeType: 'application/pdf', buffer: PDF },
  ]);
  const tray = chat.getByRole('list', { name: 'Files to send' });
  await tray.getByRole('listitem').filter({ hasText: 'photo.png' }).getByText('Ready to send').waitFor();
  await tray.getByRole('listitem').filter({ hasText: 'invoice.pdf' }).getByText('Ready to send').waitFor();
  const thumbnail = tray.getByRole('listitem').filter({ hasText: 'photo.png' }).locator('img.thumb');
  assert.match(await thumbnail.getAttribute('src'), /^blob:/, 'the thumbnail is the local file');
  assert.equal(await tray.getByRole('listitem').filter({ hasText: 'invoice.pdf' }).locator('img').count(), 0);

  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill('The receipt and the invoice');
  await composer.press('Enter');
  const log = chat.getByRole('log', { name: 'Messages' });
  const row = log.getByRole('listitem').filter({ hasText: 'The receipt and the invoice' });
  await row.getByText('Sent').waitFor();
  await tray.waitFor({ state: 'hidden' });
  const conversationId = await conversationOf(page);

  // The agent API has both files on the message, and they download byte for byte.
  const agent = await agentApi(stack.relay.url);
  const detail = await agent.get(`/v1/agent/conversations/${conversationId}`);
  const message = detail.messages.find((m) => m.text === 'The receipt and the invoice');
  const byName = (name) => message.attachments.find((a) => a.name === name);
  assert.deepEqual(message.attachments.map((a) => [a.name, a.content_type, a.size]).sort(), [
    ['invoice.pdf', 'application/pdf', PDF.length],
    ['photo.png', 'image/png', photo.length],
  ]);
  for (const [attachment, bytes] of [[byName('photo.png'), photo], [byName('invoice.pdf'), PDF]]) {
    const download = await fetch(`${stack.relay.url}${attachment.url}`);
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), bytes);
  }

  // In the thread: the image inline (loaded from the relay), opening full size in a new tab;
  // the PDF as a link with its name and size.
  const image = row.getByRole('link', { name: /photo\.png/ });
  assert.equal(await image.getAttribute('target'), '_blank');
  assert.equal(await image.getAttribute('href'), `${stack.relay.url}${byName('photo.png').url}`);
  await page.waitForFunction((img) => img.complete && img.naturalWidth === 240,
    await row.getByRole('img', { name: 'photo.png' }).elementHandle());
  const pdf = row.getByRole('link', { name: /invoice\.pdf/ });
  assert.match(await pdf.textContent(), new RegExp(`invoice\\.pdf.*${PDF.length} bytes`));
  assert.equal(await pdf.getAttribute('href'), `${stack.relay.url}${byName('invoice.pdf').url}`);

  // A message of files only: no text needed.
  await pick(page, chat, [{ name: 'second.png', mimeType: 'image/png', buffer: png(20, 20) }]);
  await tray.getByText('Ready to send').waitFor();
  await chat.getByRole('button', { name: 'Send', exact: true }).click();
  await log.getByRole('img', { name: 'second.png' }).waitFor();
  await screenshot(page, 'widget-attachments');
  assert.deepEqual(await axeViolations(page), []);
  assert.deepEqual(errors, []);
  await context.close();
});

test('too large and disallowed files are refused before upload, the relay\'s refusals are shown, nothing is sent', async () => {
  const { context, page, chat, errors, uploads } = await openChat();
  const big = png(700, 700, 0);
  assert.ok(big.length > MAX_ATTACHMENT_BYTES);
  await pick(page, chat, [
    { name: 'big.png', mimeType: 'image/png', buffer: big },
    { name: 'invoice.exe', mimeType: 'application/x-msdownload', buffer: Buffer.from('MZ\x90\x00 not really') },
  ]);
  const problems = chat.getByRole('alert').filter({ hasText: 'big.png' });
  await problems.waitFor();
  assert.match(await problems.textContent(), /big\.png is 1\.4 MB; the limit is 1 MB\./);
  assert.match(await problems.textContent(),
    /invoice\.exe: this type of file can't be sent\. Allowed: images, PDF, text files\./);
  assert.equal(await chat.getByRole('list', { name: 'Files to send' }).isHidden(), true);
  assert.equal(uploads().length, 0, 'nothing was uploaded');

  // A file whose content is not what its type says passes the widget; the relay refuses it
  // and the visitor reads the relay's reason.
  await pick(page, chat, [{ name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('GIF89a, not a PNG') }]);
  const refused = chat.getByRole('alert').filter({ hasText: 'fake.png' });
  await refused.waitFor();
  assert.equal((await refused.textContent()).trim(),
    'fake.png could not be sent: the file\'s content is not a image/png file');
  assert.equal(uploads().length, 1);
  assert.equal(await chat.getByRole('list', { name: 'Files to send' }).isHidden(), true);
  assert.equal(await chat.getByRole('log', { name: 'Messages' }).getByRole('listitem').count(), 0, 'nothing was sent');
  assert.deepEqual(await axeViolations(page), []);
  // The relay's 415 is the only failed request.
  assert.deepEqual(errors.filter((e) => !e.includes('415')), []);
  await context.close();

  // In German, with the decimal comma.
  const german = await openChat({ lang: 'de' });
  await pick(german.page, german.chat, [{ name: 'big.png', mimeType: 'image/png', buffer: big }], 'Dateien anhängen');
  await german.chat.getByRole('alert').filter({ hasText: 'big.png ist 1,4 MB groß; erlaubt sind höchstens 1 MB.' }).waitFor();
  assert.deepEqual(german.errors, []);
  await german.context.close();
});

test('files past the relay\'s per-message limit are refused with the limit, the others stay', async () => {
  const { context, page, chat, errors } = await openChat();
  const files = [1, 2, 3, 4].map((n) => ({ name: `shot-${n}.png`, mimeType: 'image/png', buffer: png(8, 8) }));
  await pick(page, chat, files);
  await chat.getByRole('alert').filter({ hasText: `You can send up to ${MAX_FILES} files with one message.` }).waitFor();
  const tray = chat.getByRole('list', { name: 'Files to send' });
  await tray.getByText('shot-3.png').waitFor();
  assert.equal(await tray.getByRole('listitem').count(), MAX_FILES);
  assert.equal(await tray.getByText('shot-4.png').count(), 0);
  // The message goes out with the files that fit.
  await chat.getByRole('textbox', { name: 'Message', exact: true }).fill('three shots');
  await chat.getByRole('button', { name: 'Send', exact: true }).click();
  await waitForEvent(page, 'message:sent');
  assert.deepEqual(errors, []);
  await context.close();
});

test('pasting and dropping files attach them like picked ones', async () => {
  const { context, page, chat, errors } = await openChat();
  const tray = chat.getByRole('list', { name: 'Files to send' });

  // Paste an image into the composer.
  const pasted = await dataTransfer(page, [
    { name: 'pasted.png', type: 'image/png', base64: png(30, 30).toString('base64') },
  ]);
  await chat.getByRole('textbox', { name: 'Message', exact: true }).evaluate((textarea, clipboardData) => {
    textarea.dispatchEvent(new ClipboardEvent('paste', { clipboardData, bubbles: true, cancelable: true }));
  }, pasted);
  await tray.getByRole('listitem').filter({ hasText: 'pasted.png' }).getByText('Ready to send').waitFor();
  assert.equal(await chat.getByRole('textbox', { name: 'Message', exact: true }).inputValue(), '',
    'a file paste inserts no text');

  // Drag a PDF over the panel (the drop overlay shows), then drop it.
  const dropped = await dataTransfer(page, [
    { name: 'dropped.pdf', type: 'application/pdf', base64: PDF.toString('base64') },
  ]);
  const panel = page.locator('.panel');
  await panel.dispatchEvent('dragenter', { dataTransfer: dropped });
  const overlay = page.locator('.drop-overlay');
  await overlay.getByText('Drop files here to attach them').waitFor();
  await screenshot(page, 'widget-attachment-drop');
  await panel.dispatchEvent('drop', { dataTransfer: dropped });
  await overlay.waitFor({ state: 'hidden' });
  await tray.getByRole('listitem').filter({ hasText: 'dropped.pdf' }).getByText('Ready to send').waitFor();

  await chat.getByRole('button', { name: 'Send', exact: true }).click();
  const log = chat.getByRole('log', { name: 'Messages' });
  await log.getByRole('img', { name: 'pasted.png' }).waitFor();
  await log.getByRole('link', { name: /dropped\.pdf/ }).waitFor();
  const conversationId = await conversationOf(page);
  const detail = await (await agentApi(stack.relay.url)).get(`/v1/agent/conversations/${conversationId}`);
  assert.deepEqual(detail.messages.flatMap((m) => m.attachments.map((a) => a.name)).sort(), ['dropped.pdf', 'pasted.png']);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a slow upload shows its progress bar, can be cancelled, and Send waits for it', async () => {
  const { context, page, chat, errors } = await openChat();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: SLOW_UPLOAD_BYTES_PER_SEC,
  });
  const slow = png(400, 400, 0);
  assert.ok(slow.length < MAX_ATTACHMENT_BYTES);
  await pick(page, chat, [
    { name: 'slow.png', mimeType: 'image/png', buffer: slow },
    { name: 'cancel-me.png', mimeType: 'image/png', buffer: png(300, 300, 0) },
  ]);
  const progress = chat.getByRole('progressbar', { name: 'Uploading slow.png' });
  await progress.waitFor();
  assert.equal(await progress.getAttribute('max'), String(slow.length));
  // The bar moves while the bytes leave the browser (a quarter of the way for the screenshot).
  await page.waitForFunction((bar) => bar.value > bar.max / 4 && bar.value < bar.max,
    await progress.elementHandle());
  await screenshot(page, 'widget-attachment-uploading');

  // Cancel one; it leaves the tray and is never sent.
  await chat.getByRole('button', { name: 'Remove cancel-me.png', exact: true }).click();
  await chat.getByRole('listitem').filter({ hasText: 'cancel-me.png' }).waitFor({ state: 'detached' });

  // Send while uploading: it waits, says so, and goes once the file is stored.
  const composer = chat.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill('Posted after the upload');
  await composer.press('Enter');
  await chat.getByRole('status').filter({ hasText: 'Sending as soon as the files are uploaded…' }).waitFor();
  const log = chat.getByRole('log', { name: 'Messages' });
  assert.equal(await log.getByRole('listitem').count(), 0, 'nothing is sent before the upload ends');
  const row = log.getByRole('listitem').filter({ hasText: 'Posted after the upload' });
  await row.getByText('Sent').waitFor({ timeout: 60_000 });
  await row.getByRole('img', { name: 'slow.png' }).waitFor();
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
  });
  const conversationId = await conversationOf(page);
  const detail = await (await agentApi(stack.relay.url)).get(`/v1/agent/conversations/${conversationId}`);
  assert.deepEqual(detail.messages.map((m) => m.attachments.map((a) => a.name)), [['slow.png']]);
  assert.deepEqual(errors, []);
  await context.close();
});
