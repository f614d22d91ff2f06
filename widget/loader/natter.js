/*! Natter chat loader: plain JS, no dependencies, paid for by every host page, so keep it tiny.
 * Draws the launcher in a shadow root at once; loads the WASM app (paths filled in by the relay)
 * on first intent. Contract: window.__natterBoot = {root, launcher, relay, site, open} is set
 * before the app's init; once loaded, clicks dispatch `natter:toggle` on root. Never throws. */
(function (w, d) {
  'use strict';
  var APP_JS = '__NATTER_APP_JS__', APP_WASM = '__NATTER_APP_WASM__';
  var TAG = '[natter] ', NS = 'http://www.w3.org/2000/svg', OPEN = 'Open chat', OFF = 'Chat is offline';
  var CSS = ':host{all:initial}' +
    '.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;align-items:center;' +
    'justify-content:center;width:56px;height:56px;padding:0;border:0;border-radius:50%;background:#1d4ed8;' +
    'color:#fff;cursor:pointer;box-shadow:0 6px 20px rgba(15,23,42,.28);transition:transform .2s,background-color .2s}' +
    '.launcher:hover{transform:scale(1.06)}' +
    '.launcher:focus-visible{outline:3px solid #1d4ed8;outline-offset:3px}' +
    '.launcher[aria-busy=true]{cursor:progress;animation:natter-pulse 1s infinite}' +
    '.launcher.offline{background:#6b7280;box-shadow:none}' +
    '.launcher svg{width:28px;height:28px}' +
    '.launcher .x,.launcher[aria-expanded=true] .chat{display:none}' +
    '.launcher[aria-expanded=true] .x{display:block}' +
    '@keyframes natter-pulse{50%{opacity:.7}}' +
    '@media (prefers-reduced-motion:reduce){.launcher{transition:none;animation:none!important}.launcher:hover{transform:none}}';

  function el(tag, attrs, parent, ns) {
    var e = ns ? d.createElementNS(NS, tag) : d.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return parent.appendChild(e);
  }
  function icon(parent, cls, path) {
    var svg = el('svg', { 'class': cls, viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false' }, parent, 1);
    el('path', path, svg, 1);
  }

  try {
    var script = d.currentScript || d.querySelector('script[data-site][src*="natter.js"]');
    var site = script && script.getAttribute('data-site'), base;
    try { base = new URL(script.src).origin; } catch (e) { /* reported below */ }
    if (!site || !base || base == 'null') {
      return console.error(TAG + 'cannot start: the script tag needs a src and a data-site attribute');
    }

    // W2: the visitor id lives 30 days from the last visit.
    var vid = d.cookie.match(/(?:^|;\s*)natter_vid=([^;]*)/);
    if (vid) {
      d.cookie = 'natter_vid=' + vid[1] + '; Max-Age=2592000; Path=/; SameSite=Lax' +
        (location.protocol == 'https:' ? '; Secure' : '');
    }

    var mount = function () {
      try {
        if (d.getElementById('natter-widget')) return; // included twice
        var host = el('div', { id: 'natter-widget' }, d.body), shadow = host.attachShadow({ mode: 'open' });
        el('style', {}, shadow).textContent = CSS;
        var btn = el('button', { type: 'button', 'class': 'launcher', 'aria-label': OPEN, 'aria-expanded': 'false' }, shadow);
        icon(btn, 'chat', { fill: 'currentColor', d: 'M6 4h12a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H9.5L5 20.5V17H6a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z' });
        icon(btn, 'x', { fill: 'none', stroke: 'currentColor', 'stroke-width': '2.5', 'stroke-linecap': 'round', d: 'M6 6l12 12M18 6L6 18' });
        var app = el('div', { 'class': 'natter-app' }, shadow);
        var loading, loaded, boot, tries = 0;

        var load = function (open) {
          if (loading) { if (open) boot.open = true; return; }
          w.__natterBoot = boot = { root: app, launcher: btn, relay: base, site: site, open: open };
          // A retry gets a fresh URL: browsers may remember a failed module import.
          loading = import(base + APP_JS + (tries++ ? '?retry=' + tries : ''))
            .then(function (m) { return m.default({ module_or_path: base + APP_WASM }); })
            .then(function () {
              loaded = 1;
              btn.removeAttribute('aria-busy');
            }, function (e) {
              loading = 0;
              btn.removeAttribute('aria-busy');
              btn.classList.add('offline');
              btn.title = OFF;
              btn.setAttribute('aria-label', OFF);
              console.error(TAG + 'the chat could not be loaded', e);
            });
        };
        var intent = function () { if (!tries) load(false); };
        btn.addEventListener('pointerenter', intent);
        btn.addEventListener('focus', intent);
        btn.addEventListener('touchstart', intent, { passive: true });
        btn.addEventListener('click', function () {
          if (loaded) return app.dispatchEvent(new CustomEvent('natter:toggle'));
          if (!loading) { // a retry after a failure
            btn.classList.remove('offline');
            btn.removeAttribute('title');
            btn.setAttribute('aria-label', OPEN);
          }
          btn.setAttribute('aria-busy', 'true');
          load(true);
        });
      } catch (e) {
        console.error(TAG + 'cannot start', e);
      }
    };
    if (d.body) mount(); else d.addEventListener('DOMContentLoaded', mount);
  } catch (e) {
    console.error(TAG + 'cannot start', e);
  }
})(window, document);
