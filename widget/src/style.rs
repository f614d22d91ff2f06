//! The panel's CSS, injected as a `<style>` inside the app root.
//!
//! The widget lives in the loader's shadow root, so these rules cannot leak into the host page
//! and host rules cannot reach in; no class prefixes are needed. The launcher's own CSS lives in
//! the loader because it must be drawn before this app loads. `--accent` is the site colour
//! (W13 will set it per site).
//!
//! Accessibility (W12): every colour is a variable with a light and a dark value (following
//! `prefers-color-scheme`), chosen so that text is at least 4.5:1 against its background and
//! borders and focus rings at least 3:1, in both; every control has a visible `:focus-visible`
//! ring; animation stops under `prefers-reduced-motion`.

pub const CSS: &str = r#"
.natter-app{--accent:#1d4ed8;--on-accent:#fff;--text:#111827;--muted:#4b5563;--line:#e5e7eb;
  --bg:#fff;--surface:#f8fafc;--bubble:#fff;--field:#6b7280;--link:#1d4ed8;--focus:#1d4ed8;--danger:#b91c1c;
  --status-bg:#fef3c7;--status:#78350f;--alert-bg:#fee2e2;--alert:#991b1b;
  font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--text)}
@media (prefers-color-scheme:dark){.natter-app{--text:#f3f4f6;--muted:#9ca3af;--line:#374151;
  --bg:#1f2937;--surface:#111827;--bubble:#1f2937;--field:#9ca3af;--link:#93c5fd;--focus:#93c5fd;--danger:#fca5a5;
  --status-bg:#422006;--status:#fde68a;--alert-bg:#450a0a;--alert:#fecaca;color-scheme:dark}}
[hidden]{display:none!important}
*,*::before,*::after{box-sizing:border-box}
.panel{position:fixed;right:20px;bottom:92px;z-index:2147483001;display:flex;flex-direction:column;
  width:370px;height:560px;max-width:calc(100vw - 40px);max-height:calc(100vh - 112px);overflow:hidden;
  background:var(--bg);border-radius:16px;box-shadow:0 12px 48px rgba(15,23,42,.22),0 2px 8px rgba(15,23,42,.08);
  animation:natter-in .18s ease-out}
@keyframes natter-in{from{opacity:0;transform:translateY(12px)}}
.header{display:flex;align-items:center;gap:8px;padding:14px 10px 14px 20px;background:var(--accent);color:var(--on-accent)}
.title{flex:1;margin:0;font-size:17px;font-weight:600;line-height:1.3}
.icon-button{display:grid;place-items:center;width:36px;height:36px;padding:0;border:0;border-radius:10px;
  background:transparent;color:inherit;cursor:pointer}
.icon-button:hover{background:rgba(255,255,255,.16)}
.icon-button:focus-visible{outline:2px solid var(--on-accent);outline-offset:1px}
.icon-button svg{width:22px;height:22px}
.status,.alert{margin:0;padding:8px 20px;font-size:13px}
.status{background:var(--status-bg);color:var(--status)}
.alert{background:var(--alert-bg);color:var(--alert)}
.status:empty,.alert:empty{display:none}
.body{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:16px;background:var(--surface)}
.empty{margin:24px auto;max-width:260px;color:var(--muted);text-align:center}
.log{display:flex;flex-direction:column;gap:10px;margin:0;padding:0;list-style:none}
.msg{display:flex;flex-direction:column;max-width:82%}
.msg.mine{align-self:flex-end;align-items:flex-end}
.msg.theirs{align-self:flex-start;align-items:flex-start}
.author{margin:0 0 2px 4px;font-size:12px;font-weight:600;color:var(--muted)}
.bubble{padding:9px 13px;border-radius:16px;white-space:pre-wrap;overflow-wrap:anywhere}
.mine .bubble{background:var(--accent);color:var(--on-accent);border-bottom-right-radius:4px}
.theirs .bubble{background:var(--bubble);color:var(--text);border:1px solid var(--line);border-bottom-left-radius:4px}
.failed .bubble{background:var(--bubble);color:var(--text);border:1px dashed var(--danger)}
.meta{margin:3px 4px 0;font-size:12px;color:var(--muted)}
.failed .meta{color:var(--danger)}
.retry{margin-left:2px;padding:0;border:0;background:none;color:var(--link);font:inherit;font-weight:600;
  text-decoration:underline;cursor:pointer}
.retry:focus-visible{outline:2px solid var(--focus);outline-offset:2px;border-radius:2px}
.composer{display:flex;align-items:flex-end;gap:8px;padding:12px;border-top:1px solid var(--line);background:var(--bg)}
.input{flex:1;min-height:44px;max-height:120px;padding:11px 12px;border:1px solid var(--field);border-radius:12px;
  background:var(--bg);color:var(--text);font:inherit;resize:none;field-sizing:content}
.input::placeholder{color:var(--field);opacity:1}
.input:focus-visible{outline:2px solid var(--focus);outline-offset:1px;border-color:var(--focus)}
.send{height:44px;padding:0 16px;border:0;border-radius:12px;background:var(--accent);color:var(--on-accent);
  font:inherit;font-weight:600;cursor:pointer}
.send:hover{filter:brightness(1.1)}
.send:focus-visible{outline:2px solid var(--focus);outline-offset:2px}
.sr-only{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
@media (max-width:480px){.panel{inset:0;width:auto;height:auto;max-width:none;max-height:none;border-radius:0}
  .input{font-size:16px}}
@media (prefers-reduced-motion:reduce){.panel{animation:none}.body{scroll-behavior:auto}}
"#;
