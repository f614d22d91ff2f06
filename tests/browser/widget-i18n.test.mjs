// Languages (W11): every visible string in English, German and French, from <html lang> or
// natter('set', {locale}), English for anything else.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suite, openHostPage, waitForEvent, screenshot } from './support.mjs';

const stack = suite();

/** What the visitor sees and hears in each language, and the English it must not show. */
const LANGUAGES = {
  de: {
    open: 'Chat öffnen', close: 'Chat schließen', title: 'Schreiben Sie uns', message: 'Nachricht',
    placeholder: 'Nachricht schreiben …', send: 'Senden', minimize: 'Chat minimieren', log: 'Nachrichten',
    empty: 'Fragen Sie uns einfach.', sent: 'Chat · Gesendet',
    notSent: 'Ihre Nachricht konnte nicht gesendet werden. Vielleicht ist sie zu lang.', retry: 'Erneut senden',
    failed: 'Nicht gesendet',
  },
  fr: {
    open: 'Ouvrir le chat', close: 'Fermer le chat', title: 'Discutez avec nous', message: 'Message',
    placeholder: 'Écrivez un message…', send: 'Envoyer', minimize: 'Réduire le chat', log: 'Messages',
    empty: 'Posez-nous vos questions.', sent: 'Chat · Envoyé',
    notSent: 'Votre message n’a pas pu être envoyé. Il est peut-être trop long.', retry: 'Réessayer',
    failed: 'Échec de l’envoi',
  },
  en: {
    open: 'Open chat', close: 'Close chat', title: 'Chat with us', message: 'Message',
    placeholder: 'Write a message…', send: 'Send', minimize: 'Minimize chat', log: 'Messages',
    empty: 'Ask us anything.', sent: 'Chat · Sent',
    notSent: 'Your message could not be sent. It may be too long.', retry: 'Retry', failed: 'Failed',
  },
};
const ENGLISH_ONLY = ['Open chat', 'Close chat', 'Chat with us', 'Write a message', 'Send', 'Sent', 'Ask us anything', 'Retry', 'Failed', 'could not be sent'];

/** Checks every string of `expected` in the open panel (and the panel's `lang`). */
async function checkPanel(page, expected, code) {
  const chat = page.getByRole('dialog', { name: 'Chat' });
  await chat.getByRole('heading', { name: expected.title }).waitFor();
  assert.equal(await chat.getAttribute('lang'), code);
  await page.getByRole('button', { name: expected.close, exact: true }).waitFor();
  await chat.getByRole('button', { name: expected.minimize, exact: true }).waitFor();
  await chat.getByRole('button', { name: expected.send, exact: true }).waitFor();
  await chat.getByRole('log', { name: expected.log, exact: true }).waitFor({ state: 'attached' });
  const composer = chat.getByRole('textbox', { name: expected.message, exact: true });
  assert.equal(await composer.getAttribute('placeholder'), expected.placeholder);
  return { chat, composer };
}

for (const [lang, code] of [['de-DE', 'de'], ['fr', 'fr']]) {
  test(`<html lang="${lang}">: the whole widget speaks ${code}`, async () => {
    const expected = LANGUAGES[code];
    const { context, page, errors } = await openHostPage(stack, { lang, recordEvents: true });
    await page.getByRole('button', { name: expected.open, exact: true }).click();
    const { chat, composer } = await checkPanel(page, expected, code);
    // No agent is online in this test: the empty thread promises no quick reply (W6).
    await chat.getByText(expected.empty, { exact: true }).waitFor();
    await composer.fill(code === 'de' ? 'Hallo, liefern Sie nach Wien?' : 'Bonjour, livrez-vous à Lyon ?');
    await composer.press('Enter');
    await chat.getByText(expected.sent).waitFor();
    await screenshot(page, `widget-${code}`);
    // A refused message: the alert, the failed state and the retry button.
    await composer.fill('x'.repeat(4001));
    await composer.press('Enter');
    await chat.getByRole('alert').getByText(expected.notSent).waitFor();
    const refused = chat.getByRole('listitem').filter({ hasText: 'xxxxxxxxxx' });
    await refused.getByText(expected.failed).waitFor();
    await refused.getByRole('button', { name: expected.retry, exact: true }).waitFor();
    const visible = await chat.innerText();
    for (const english of ENGLISH_ONLY) {
      assert.doesNotMatch(visible, new RegExp(`\\b${english}\\b`), `${code}: "${english}" is English`);
    }
    assert.deepEqual(errors, []);
    await context.close();
  });
}

test('other languages, and pages without a lang, get English', async () => {
  for (const lang of ['es', '']) {
    const { context, page, errors } = await openHostPage(stack, { lang, recordEvents: true });
    await page.getByRole('button', { name: 'Open chat', exact: true }).click();
    await checkPanel(page, LANGUAGES.en, 'en');
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test("natter('set', {locale}) switches the language before and after the load, live", async () => {
  // Before the load: the launcher's name follows at once, without loading the app.
  const { context, page, errors } = await openHostPage(stack, {
    lang: 'en', recordEvents: true, setup: "natter('set', { locale: 'de' });",
  });
  await page.getByRole('button', { name: 'Chat öffnen', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Chat öffnen', exact: true }).click();
  const { composer } = await checkPanel(page, LANGUAGES.de, 'de');
  await composer.fill('Ein Entwurf');
  // After the load: the open panel switches in place; the draft stays.
  await page.evaluate(() => natter('set', { locale: 'fr' }));
  const french = await checkPanel(page, LANGUAGES.fr, 'fr');
  assert.equal(await french.composer.inputValue(), 'Ein Entwurf');
  await page.evaluate(() => natter('close'));
  await page.getByRole('button', { name: 'Ouvrir le chat', exact: true }).waitFor();
  // A language the widget does not speak: English, and a warning (not an error).
  const warnings = [];
  page.on('console', (message) => { if (message.type() === 'warning') warnings.push(message.text()); });
  await page.evaluate(() => natter('set', { locale: 'it' }));
  await page.getByRole('button', { name: 'Open chat', exact: true }).waitFor();
  await waitForEvent(page, 'ready');
  assert.ok(warnings.some((text) => /locale "it" is not supported, so English/.test(text)), warnings.join('\n'));
  assert.deepEqual(errors, []);
  await context.close();
});
