/*! Natter loader: on every host page, so tiny and never throwing. Docs: widget/src/main.rs */
(function (w, d) {
  'use strict';
  var APP_JS = '__NATTER_APP_JS__', APP_WASM = '__NATTER_APP_WASM__', TAG = '[natter] ';
  var T = { en: ['Open chat', 'Chat is offline'], de: ['Chat öffnen', 'Chat ist offline'], fr: ['Ouvrir le chat', 'Chat hors ligne'] };
  var EVENTS = 'ready open close message:sent message:received unread email:captured'.split(' ');
  var CMDS = 'init open close toggle show hide on off identify set reset consent destroy'.split(' ');
  // A returning visitor's app loads when the page is idle, or at the latest this long after
  // the page's `load` event.
  var IDLE_TIMEOUT_MS = 3000;
  // The default look. /widget/site/<key>.css (rendered by the relay from the site's theme,
  // linked below) overrides colour, side and text; badge and open-state rules are the app's.
  var CSS = ':host{all:initial}' +
    '.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;align-items:center;' +
    'justify-content:center;gap:8px;box-sizing:border-box;min-width:56px;height:56px;padding:0 14px;border:0;' +
    'border-radius:28px;background:#1d4ed8;color:#fff;cursor:pointer;box-shadow:0 6px 20px rgba(15,23,42,.28)}' +
    '.launcher:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px;box-shadow:0 0 0 2px #fff}' +
    '.launcher[aria-busy=true]{cursor:progress}' +
    '.launcher.offline{background:#6b7280}' +
    '.launcher svg{flex:none;width:28px;height:28px}' +
    '.launcher .x,[aria-expanded=true] .chat{display:none}' +
    '[aria-expanded=true] .x{display:block}';

  function err(message, e) {
    if (e) console.error(TAG + message, e); else console.error(TAG + message);
  }
  function el(tag, attrs, parent, ns) {
    var e = ns ? d.createElementNS('http://www.w3.org/2000/svg', tag) : d.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return parent.appendChild(e);
  }
  function icon(parent, cls, path) {
    var svg = el('svg', { 'class': cls, viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false' }, parent, 1);
    el('path', path, svg, 1);
  }
  function lang(tag) {
    tag = String(tag).slice(0, 2).toLowerCase();
    return T[tag] ? tag : 'en';
  }

  try {
    var script = d.currentScript || d.querySelector('script[data-site][src*="natter.js"]');
    var site = script && script.getAttribute('data-site'), base, stub = w.natter;
    try { base = new URL(script.src).origin; } catch (e) { /* below */ }
    if (!site || !base || base == 'null') {
      err('the script tag needs src and data-site');
    } else if (!(stub && stub.l)) {
      start(stub && stub.q);
    }
  } catch (e) {
    err('cannot start', e);
  }

  function start(queue) {
    queue = [].slice.call(queue || []);
    var on = {}, fwd = [], host, btn, app, mod, loading, tries = 0, ready, clicked, locale, idle;
    var api = w.natter = function () {
      try {
        if (host) run.apply(0, arguments); else queue.push(arguments);
      } catch (e) {
        err('natter() failed', e);
      }
    };
    api.l = 1;

    // W2, W14: renew, never create.
    var vid = d.cookie.match(/(?:^|;\s*)natter_vid=([^;]*)/);
    if (vid) {
      d.cookie = 'natter_vid=' + vid[1] + '; Max-Age=2592000; Path=/; SameSite=Lax' +
        (location.protocol == 'https:' ? '; Secure' : '');
    }

    // E6: an email's magic link (#natter-link=TOKEN) leaves the address bar at once, so a
    // reload or a shared address does not carry it again; the app gets it in the boot object.
    var link, rest = location.hash.slice(1).split('&').filter(function (p) {
      return p.indexOf('natter-link=') ? 1 : (link = p.slice(12), 0);
    }).join('&');
    if (link) history.replaceState(history.state, '', location.pathname + location.search + (rest ? '#' + rest : ''));

    function mount() {
      try {
        if (host !== undefined || d.getElementById('natter-widget')) return;
        host = el('div', { id: 'natter-widget' }, d.body);
        var shadow = host.attachShadow({ mode: 'open' });
        el('style', {}, shadow).textContent = CSS;
        // W13: the site's look. The launcher stays invisible until the sheet has loaded (or
        // failed: the default look then), so it never flashes in the wrong colour or corner.
        var look = el('link', { rel: 'stylesheet', href: base + '/widget/site/' + encodeURIComponent(site) + '.css' }, shadow);
        btn = el('button', { type: 'button', 'class': 'launcher', 'aria-expanded': 'false', style: 'visibility:hidden' }, shadow);
        look.onload = look.onerror = function () {
          // The launcher text is the sheet's ::after content; it goes into the accessible
          // name (WCAG 2.5.3), here and, through data-text, in the app.
          try {
            btn.dataset.text = JSON.parse(w.getComputedStyle(btn, '::after').content);
          } catch (e) { /* none: the name stays "Open chat" */ }
          btn.style.visibility = '';
          label(btn.classList.contains('offline'));
        };
        icon(btn, 'chat', { fill: 'currentColor', d: 'M6 4h12a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H9.5L5 20.5V17H6a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z' });
        icon(btn, 'x', { fill: 'none', stroke: 'currentColor', 'stroke-width': '2.5', 'stroke-linecap': 'round', d: 'M6 6l12 12M18 6L6 18' });
        app = el('div', { 'class': 'natter-app' }, shadow);
        locale = lang(d.documentElement.lang);
        label();
        var intent = function () { if (!tries) load(); };
        btn.addEventListener('pointerenter', intent);
        btn.addEventListener('focus', intent);
        btn.addEventListener('click', function () {
          if (mod) return mod.command('launcher');
          clicked = 1;
          btn.setAttribute('aria-busy', 'true');
          if (!loading) load();
        });
        queue.splice(0).forEach(function (args) { api.apply(0, args); });
        ready = 1;
        emit('ready');
        // W9: a returning visitor (the cookie says they chatted before) gets the app in the
        // background once the page is idle, so agent replies arrive live and the launcher shows
        // the unread badge. A first-time visitor pays only for this loader until they show intent.
        // E6: a magic link from an email opens the chat on its thread at once, on any device.
        if (link) load();
        else if (vid) {
          idle = function () {
            (w.requestIdleCallback || setTimeout)(function () {
              if (host && !tries) load();
            }, { timeout: IDLE_TIMEOUT_MS });
          };
          if (d.readyState == 'complete') idle(); else w.addEventListener('load', idle);
        }
      } catch (e) {
        err('cannot start', e);
      }
    }

    function run(c, a, f) {
      var list = on[a] || [], bad = function (expected) {
        err('natter(' + JSON.stringify(c) + '): expected ' + expected);
      };
      if (CMDS.indexOf(c) < 0) {
        bad('a command: ' + CMDS.join(', '));
      } else if (c == 'on' || c == 'off') {
        if (EVENTS.indexOf(a) < 0 || typeof f != 'function') bad('an event (' + EVENTS.join(', ') + ') and a function');
        else if (c == 'off') list.splice(list.indexOf(f) >>> 0, 1);
        else if ((on[a] = list).push(f) && a == 'ready' && ready) deliver(f, a);
      } else if (c == 'show' || c == 'hide') {
        host.style.display = c == 'hide' ? 'none' : '';
      } else if (c == 'consent' && typeof a != 'boolean') {
        bad('true or false');
      } else if (c == 'set' && !(a && typeof a.locale == 'string' && Object.keys(a).length == 1)) {
        bad("{locale: 'en', 'de' or 'fr'}");
      } else if (c == 'destroy') {
        destroy();
      } else if (c != 'init') {
        if (c == 'set') {
          locale = lang(a.locale);
          label(btn.classList.contains('offline'));
        }
        if (c == 'open' || c == 'toggle') host.style.display = '';
        if (c != 'reset' || mod || vid) send(c, a, /^(open|toggle|identify|reset)$/.test(c));
      }
    }

    function send(c, a, now) {
      if (mod) return mod.command(c, a);
      fwd.push([c, a]);
      if (now && !loading) load();
    }

    function load() {
      label();
      var boot = { root: app, launcher: btn, relay: base, site: site, locale: locale, emit: emit, link: link };
      link = '';
      loading = import(base + APP_JS + (tries++ ? '?retry=' + tries : '')).then(function (m) {
        return m.default({ module_or_path: base + APP_WASM }).then(function () {
          if (!host) return;
          m.mount(boot);
          mod = m;
          btn.removeAttribute('aria-busy');
          fwd.splice(0).forEach(function (x) { m.command(x[0], x[1]); });
          if (clicked) m.command('launcher', true);
        });
      }).catch(function (e) {
        loading = 0;
        btn.removeAttribute('aria-busy');
        label(1);
        err('the chat could not be loaded', e);
      });
    }

    function label(offline) {
      var text = offline ? T[locale][1] : btn.dataset.text || T[locale][0];
      if (mod) return;
      btn.classList.toggle('offline', !!offline);
      btn.setAttribute('aria-label', text);
      btn.title = offline ? text : '';
    }

    function deliver(f, name, detail) {
      Promise.resolve(detail).then(f).catch(function (e) {
        err('a listener for ' + name + ' threw', e);
      });
    }
    function emit(name, detail) {
      (on[name] || []).slice().forEach(function (f) { deliver(f, name, detail); });
    }

    function destroy() {
      if (mod) mod.command('destroy');
      if (host) host.remove();
      d.removeEventListener('DOMContentLoaded', mount);
      w.removeEventListener('load', idle);
      host = mod = 0;
      on = {};
      fwd = [];
      var q = w.natter = function (c) {
        if (c == 'init') start(q.q); else (q.q = q.q || []).push(arguments);
      };
    }

    if (d.body) mount(); else d.addEventListener('DOMContentLoaded', mount);
  }
})(window, document);
