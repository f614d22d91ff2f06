// Shared pieces of the hostile-input browser tests (issue 15: S4, S5): the payload corpus and
// the in-page inspection that decides whether any payload got through.

import { readFileSync } from 'node:fs';

/** The hostile inputs (tests/browser/xss-corpus.json): { id, kind, text }. */
export const CORPUS = JSON.parse(readFileSync(new URL('./xss-corpus.json', import.meta.url), 'utf8')).payloads;

/** The `rel` every link in a message carries (natter_protocol::markdown::LINK_REL). */
export const LINK_REL = 'noopener noreferrer nofollow';

/**
 * A payload as an email address the relay accepts (an `@`, a dotted domain, no whitespace):
 * whitespace becomes `/`, which HTML also takes as an attribute separator; `id` names it.
 */
export function asEmail(text, id) {
  const local = text.replace(/[\s\u0000-\u001f\u007f]/g, '/') || 'x';
  // The relay keys contacts by the address without case: the payload's id keeps them apart.
  return `${local}@${id}.xss.example`;
}

/** What the relay keeps of a field: Rust's `trim()` (Unicode White_Space, not U+FEFF, which
 * JavaScript's trim() also removes). */
export function rustTrim(text) {
  const space = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
  return text.replace(new RegExp(`^${space}+|${space}+$`, 'g'), '');
}

/**
 * Records every JavaScript dialog the page opens (an `alert(1)` payload that ran) and dismisses
 * it; returns the list of their messages.
 */
export function recordDialogs(page) {
  const dialogs = [];
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  return dialogs;
}

/**
 * Runs in the page (page.evaluate(inspectPage, options)): walks the document and every open
 * shadow root (the widget's) and reports what a payload that got through would leave behind.
 * - anywhere: an `on*` attribute; a `javascript:`, `vbscript:` or `data:` URL in a URL
 *   attribute (blob: and data:image thumbnails excepted); a frame, object, embed or base
 *   element; an `img` whose source is neither the page's, the relay's nor a local blob; more
 *   `script` elements than `scripts` (the page's own);
 * - in a message (`.bubble`): any element but strong, em, a and br; any attribute on them but
 *   a's href, rel and target; a link that is not http(s)/mailto or lacks LINK_REL;
 * - `window.__xss`, which every payload that runs sets (iframe payloads set it on the parent).
 * Resolves to { problems, xss, scripts, bubbles: [text of each message] }.
 */
export function inspectPage({ relayOrigin, scripts: allowedScripts = Infinity, linkRel }) {
  const problems = [];
  const describe = (element) => {
    const attributes = [...element.attributes].map((a) => ` ${a.name}="${a.value}"`).join('');
    return `<${element.localName}${attributes}>`.slice(0, 300);
  };
  const URL_ATTRIBUTES = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'poster', 'background', 'srcdoc'];
  const FORBIDDEN = ['iframe', 'frame', 'frameset', 'object', 'embed', 'base', 'applet', 'portal'];
  // What browsers ignore in a URL's scheme, so `java\tscript:` is caught too.
  const IGNORED = /[\u0000-\u0020\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g;
  const origins = [location.origin, relayOrigin];
  const roots = [document];
  let scripts = 0;
  for (let i = 0; i < roots.length; i++) {
    for (const element of roots[i].querySelectorAll('*')) {
      if (element.shadowRoot) roots.push(element.shadowRoot);
      const tag = element.localName;
      if (tag === 'script') scripts++;
      if (FORBIDDEN.includes(tag)) problems.push(`forbidden element ${describe(element)}`);
      if (tag === 'meta' && element.hasAttribute('http-equiv') && element.closest('body')) {
        problems.push(`meta refresh in the body ${describe(element)}`);
      }
      for (const attribute of element.attributes) {
        const name = attribute.name.toLowerCase();
        if (name.startsWith('on')) problems.push(`event attribute ${describe(element)}`);
        if (URL_ATTRIBUTES.includes(name)) {
          const value = attribute.value.replace(IGNORED, '').toLowerCase();
          const thumbnail = tag === 'img' && (value.startsWith('data:image/') || value.startsWith('blob:'));
          if (/^(javascript|vbscript|data):/.test(value) && !thumbnail) {
            problems.push(`script URL ${describe(element)}`);
          }
        }
      }
      if (tag === 'img') {
        const src = element.getAttribute('src') ?? '';
        let fromUs = src.startsWith('blob:') || src.startsWith('data:image/');
        try {
          fromUs ||= origins.includes(new URL(src, location.href).origin);
        } catch {
          fromUs = false;
        }
        if (!fromUs) problems.push(`image from elsewhere ${describe(element)}`);
      }
    }
  }
  if (scripts > allowedScripts) problems.push(`${scripts} script elements, the page had ${allowedScripts}`);

  const bubbles = [];
  for (const root of roots) {
    for (const bubble of root.querySelectorAll('.bubble')) {
      bubbles.push(bubble.textContent);
      for (const element of bubble.querySelectorAll('*')) {
        const tag = element.localName;
        if (!['strong', 'em', 'a', 'br'].includes(tag)) {
          problems.push(`element in a message ${describe(element)}`);
          continue;
        }
        const allowed = tag === 'a' ? ['href', 'rel', 'target'] : [];
        for (const attribute of element.attributes) {
          if (!allowed.includes(attribute.name)) problems.push(`attribute in a message ${describe(element)}`);
        }
        if (tag === 'a') {
          let protocol = '';
          try {
            protocol = new URL(element.getAttribute('href')).protocol;
          } catch {
            protocol = 'unparsable';
          }
          if (!['http:', 'https:', 'mailto:'].includes(protocol)) problems.push(`link to ${protocol} ${describe(element)}`);
          if (element.getAttribute('rel') !== linkRel) problems.push(`link without rel="${linkRel}" ${describe(element)}`);
        }
      }
    }
  }
  return { problems, xss: window.__xss, scripts, bubbles };
}

/** Runs inspectPage in `page` for a relay at `relayOrigin`. */
export function inspect(page, relayOrigin, scripts) {
  return page.evaluate(inspectPage, { relayOrigin, scripts, linkRel: LINK_REL });
}

/** How many script elements the page has (its own, before any payload arrives). */
export function countScripts(page) {
  return page.evaluate(() => {
    const roots = [document];
    let count = 0;
    for (let i = 0; i < roots.length; i++) {
      for (const element of roots[i].querySelectorAll('*')) {
        if (element.shadowRoot) roots.push(element.shadowRoot);
        if (element.localName === 'script') count++;
      }
    }
    return count;
  });
}

/**
 * Characters the relay or a renderer may drop or a browser may not show (bidi controls,
 * zero-width characters), removed before comparing texts.
 */
export function visible(text) {
  return text.replace(/[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00ad]/g, '').replace(/\s+/g, ' ').trim();
}
