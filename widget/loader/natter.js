/*! Natter loader: on every host page, so tiny and never throwing. Docs: widget/src/main.rs */
(function (w, d) {
  'use strict';
  var APP_JS = '__NATTER_APP_JS__', APP_WASM = '__NATTER_APP_WASM__', TAG = '[natter] ';
  var T = { en: ['Open chat', 'Chat is offline'], de: ['Chat öffnen', 'Chat ist offline'], fr: ['Ouvrir le chat', 'Chat hors ligne'] };
  var EVENTS = 'ready open close message:sent message:received unread email:captured'.split(' ');
  var CMDS = 'init open close toggle show hide on off identify set reset consent destroy'.split(' ');
  var CSS = ':host{all:initial}' +
    '.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;align-items:center;' +
    'justify-content:center;width:56px;height:56px;padding:0;border:0;border-radius:50%;background:#1d4ed8;' +
    'color:#fff;cursor:pointer;box-shadow:0 6px 20px rgba(15,23,42,.28)}' +
    '.launcher:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px;box-shadow:0 0 0 2px #fff}' +
    '.launcher[aria-busy=true]{cursor:progress}' +
    '.launcher.offline{background:#6b7280}' +
    '.launcher svg{width:28px;height:28px}' +
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
    var on = {}, fwd = [], host, btn, app, mod, loading, tries = 0, ready, clicked, locale;
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

    function mount() {
      try {
        if (host !== undefined || d.getElementById('natter-widget')) return;
        host = el('div', { id: 'natter-widget' }, d.body);
        var shadow = host.attachShadow({ mode: 'open' });
        el('style', {}, shadow).textContent = CSS;
        btn = el('button', { type: 'button', 'class': 'launcher', 'aria-expanded': 'false' }, shadow);
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
      var boot = { root: app, launcher: btn, relay: base, site: site, locale: locale, emit: emit };
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
      var text = T[locale][offline ? 1 : 0];
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
