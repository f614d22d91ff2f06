//! The panel's CSS, injected as a `<style>` inside the app root.
//!
//! The widget lives in the loader's shadow root, so these rules cannot leak into the host page
//! and host rules cannot reach in; no class prefixes are needed. The launcher's own CSS lives in
//! the loader because it must be drawn before this app loads; what only matters once the app
//! runs (the unread badge, the launcher hidden behind the full-screen panel) is here, since this
//! sheet applies to the whole shadow root.
//!
//! The site's look (W13) comes from `/widget/site/<key>.css`, which the loader links into the
//! same shadow root (rendered by the relay, `relay/src/assets/site_style.rs`): it overrides, on
//! `:host .natter-app`, the custom properties declared here — `--accent` and `--on-accent`
//! (the site colour and its readable foreground), `--link` and `--focus`, `--side-left` /
//! `--side-right` (where the panel opens) — and `color-scheme`: `light dark` follows the
//! visitor's system, `light` or `dark` forces one. Every colour below is a `light-dark()` pair,
//! so `color-scheme` alone picks the palette; the relay's contrast computations assume the
//! `--bg` and `--surface` values here. Declaring every variable on `.natter-app` also keeps a
//! host page's own `--accent` from leaking in through the shadow boundary.
//!
//! Accessibility (W12): text is at least 4.5:1 against its background and borders and focus
//! rings at least 3:1, in both palettes and for any site colour; every control has a visible
//! `:focus-visible` ring; animation stops under `prefers-reduced-motion`. Blocks appended below
//! (form, attachments) use these variables rather than colours of their own.

/// The colours, each with its light and its dark value. Browsers without `light-dark()`
/// (before 2024) get the light palette whatever the mode.
macro_rules! palette {
    ($($name:literal: $light:literal $dark:literal,)*) => {
        concat!(
            ".natter-app{", $("--", $name, ":", $light, ";",)* "}\n",
            "@supports (color:light-dark(#000,#fff)){.natter-app{",
            $("--", $name, ":light-dark(", $light, ",", $dark, ");",)* "}}\n",
        )
    };
}

pub const CSS: &str = concat!(
    palette! {
        "text": "#111827" "#f3f4f6",
        "muted": "#4b5563" "#9ca3af",
        "line": "#e5e7eb" "#374151",
        "bg": "#fff" "#1f2937",
        "surface": "#f8fafc" "#111827",
        "bubble": "#fff" "#1f2937",
        "field": "#6b7280" "#9ca3af",
        "link": "#1d4ed8" "#93c5fd",
        "focus": "#1d4ed8" "#93c5fd",
        "danger": "#b91c1c" "#fca5a5",
        "status-bg": "#fef3c7" "#422006",
        "status": "#78350f" "#fde68a",
        "alert-bg": "#fee2e2" "#450a0a",
        "alert": "#991b1b" "#fecaca",
    },
    r#"
.natter-app{--accent:#1d4ed8;--on-accent:#fff;--side-left:auto;--side-right:20px;color-scheme:light dark;
  font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--text)}
[hidden]{display:none!important}
*,*::before,*::after{box-sizing:border-box}
.panel{position:fixed;left:var(--side-left);right:var(--side-right);bottom:92px;z-index:2147483001;display:flex;flex-direction:column;
  width:370px;height:560px;max-width:calc(100vw - 40px);max-height:calc(100vh - 112px);overflow:hidden;
  background:var(--bg);border-radius:16px;box-shadow:0 12px 48px rgba(15,23,42,.22),0 2px 8px rgba(15,23,42,.08);
  animation:natter-in .18s ease-out}
@keyframes natter-in{from{opacity:0;transform:translateY(12px)}}
.header{display:flex;align-items:center;gap:8px;padding:14px 10px 14px 20px;background:var(--accent);color:var(--on-accent)}
.title{flex:1;margin:0;font-size:17px;font-weight:600;line-height:1.3}
.icon-button{display:grid;place-items:center;width:36px;height:36px;padding:0;border:0;border-radius:10px;
  background:transparent;color:inherit;cursor:pointer}
.icon-button:hover{background:color-mix(in srgb,currentColor 16%,transparent)}
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
.msg.notice{align-self:center;align-items:center;max-width:90%;font-size:12px;color:var(--muted);text-align:center}
.notice .bubble{padding:2px 8px}.notice .meta{display:none}
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
/* W9: the unread badge on the loader's launcher; the app sets data-unread ("1"…"9+"). */
.launcher[data-unread]::before{content:attr(data-unread);position:absolute;top:-6px;right:-6px;box-sizing:border-box;
  min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#b91c1c;color:#fff;
  font:700 12px/22px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;text-align:center;box-shadow:0 0 0 2px #fff}
/* W13: small screens get the whole viewport (dvh: the panel shrinks with the browser's bars,
   and, where the browser resizes the viewport for it, with the on-screen keyboard); safe-area
   insets keep the header and composer clear of notches; the launcher, covered anyway, leaves
   the tab order while the panel is open, its close button is the header's. */
@media (max-width:480px),(max-height:480px){
  .panel{inset:0 0 auto;width:auto;height:100vh;height:100dvh;max-width:none;max-height:none;border-radius:0;
    padding:0 env(safe-area-inset-right) 0 env(safe-area-inset-left)}
  .header{padding-top:calc(14px + env(safe-area-inset-top))}
  .composer{padding-bottom:calc(12px + env(safe-area-inset-bottom))}
  .input{font-size:16px}
  .launcher[aria-expanded=true]{display:none}}
@media (prefers-reduced-motion:reduce){.panel{animation:none}.body{scroll-behavior:auto}}
"#,
    r#"
/* form: the email-capture form (W5, W6), ui/form.rs and ui/panel.rs. The composer's wrapper
   (hidden while the form comes first) takes no box of its own. */
.composer-slot{display:contents}
.form-card{margin:12px 0 4px;padding:14px 14px 12px;background:var(--bubble);color:var(--text);
  border:1px solid var(--line);border-radius:14px}
.form-card.gate{margin-top:4px}
.form-title{margin:0 0 2px;font-size:15px;font-weight:600;line-height:1.35}
.form-intro{margin:0 0 12px;color:var(--muted);font-size:13px}
.field{margin:0 0 8px}
.field label{display:block;margin:0 0 3px;font-size:13px;font-weight:600}
.optional{font-weight:400;color:var(--muted)}
.field input{display:block;width:100%;height:38px;padding:7px 11px;border:1px solid var(--field);border-radius:10px;
  background:var(--bg);color:var(--text);font:inherit}
.field input:focus-visible{outline:2px solid var(--focus);outline-offset:1px;border-color:var(--focus)}
.field input[aria-invalid=true]{border:2px solid var(--danger);padding:6px 10px}
.field-error{margin:4px 0 0;font-size:13px;color:var(--danger)}
.form-notice{margin:0 0 10px;padding:8px 10px;border-radius:8px;background:var(--alert-bg);color:var(--alert);font-size:13px}
.field-error:empty,.form-notice:empty{display:none}
.form-actions{display:flex;flex-wrap:wrap;align-items:center;gap:8px 14px}
.form-submit{min-height:40px;padding:0 16px;border:0;border-radius:10px;background:var(--accent);color:var(--on-accent);
  font:inherit;font-weight:600;cursor:pointer}
.form-submit:hover{filter:brightness(1.1)}
.form-submit[aria-disabled=true]{cursor:progress}
.form-later{padding:4px 0;border:0;background:none;color:var(--link);font:inherit;font-weight:600;
  text-decoration:underline;cursor:pointer}
.form-submit:focus-visible,.form-later:focus-visible{outline:2px solid var(--focus);outline-offset:2px}
.form-done{margin:12px 0 4px;padding:10px 12px;border:1px solid var(--line);border-radius:12px;
  background:var(--bubble);color:var(--text);font-size:14px}
@media (max-width:480px),(max-height:480px){.field input{font-size:16px}}
/* end form */
"#,
    r#"
/* attachments (W8), ui/attachments.rs: the paperclip, the tray of files about to be sent (thumbnail,
   progress bar, remove), refusals, the drop overlay over the whole panel, and files in messages.
   A message of files only has an empty bubble, which takes no room. */
.attach{flex:none;display:grid;place-items:center;width:40px;height:44px;padding:0;border:0;border-radius:12px;
  background:none;color:var(--muted);cursor:pointer}
.attach:hover{background:var(--surface);color:var(--text)}
.attach:focus-visible{outline:2px solid var(--focus);outline-offset:1px}
.attach svg{width:22px;height:22px}
.attach-problems{margin:0;padding:0 20px;background:var(--alert-bg);color:var(--alert);font-size:13px}
.attach-problems p{margin:0;padding:8px 0}
.attach-problems:empty{display:none}
.tray{display:flex;flex-direction:column;gap:6px;flex:none;max-height:40%;overflow-y:auto;margin:0;padding:10px 12px 2px;
  list-style:none;border-top:1px solid var(--line);background:var(--bg)}
.tray:not([hidden])~.composer{border-top-color:transparent}
.tray-item{display:flex;align-items:center;gap:10px;padding:6px 6px 6px 8px;border:1px solid var(--line);border-radius:10px;
  background:var(--surface)}
.thumb{flex:none;width:40px;height:40px;border-radius:6px;object-fit:cover;background:var(--line)}
.file-icon{display:grid;place-items:center;color:var(--muted)}
.file-icon svg{width:22px;height:22px}
.tray-text{flex:1;min-width:0;display:flex;flex-wrap:wrap;align-items:center;gap:2px 8px;font-size:13px}
.tray-name{min-width:0;max-width:100%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-weight:600}
.tray-size,.tray-ready{color:var(--muted)}
.upload-progress{flex-basis:100%;height:6px;margin:3px 0 2px;border:0;border-radius:3px;background:var(--line);
  -webkit-appearance:none;appearance:none;overflow:hidden}
.upload-progress::-webkit-progress-bar{background:var(--line)}
.upload-progress::-webkit-progress-value{background:var(--accent);transition:width .2s}
.upload-progress::-moz-progress-bar{background:var(--accent)}
.tray-remove{flex:none;display:grid;place-items:center;width:32px;height:32px;padding:0;border:0;border-radius:8px;
  background:none;color:var(--muted);cursor:pointer}
.tray-remove:hover{background:var(--line);color:var(--text)}
.tray-remove:focus-visible{outline:2px solid var(--focus);outline-offset:1px}
.tray-remove svg{width:18px;height:18px}
.tray-wait{margin:0;padding:6px 14px 0;background:var(--bg);color:var(--muted);font-size:13px}
.tray-wait:empty{display:none}
.drop-overlay{position:absolute;inset:0;z-index:2;display:grid;place-items:center;padding:24px;border:3px dashed var(--accent);
  border-radius:16px;background:color-mix(in srgb,var(--bg) 88%,transparent);pointer-events:none}
.drop-overlay p{margin:0;padding:12px 18px;border-radius:12px;background:var(--accent);color:var(--on-accent);
  font-weight:600;text-align:center}
.bubble:empty{display:none}
.files{display:flex;flex-direction:column;gap:6px;max-width:100%;margin:4px 0 0;padding:0;list-style:none}
.mine .files{align-items:flex-end}
.file.image a{display:block;max-width:none;padding:0;overflow:hidden;border:1px solid var(--line);border-radius:12px;line-height:0}
.file.image img{display:block;max-width:220px;max-height:220px;object-fit:contain;background:var(--surface)}
.file-link{display:flex;align-items:center;gap:8px;max-width:260px;padding:8px 12px;border:1px solid var(--line);
  border-radius:12px;background:var(--bubble);color:var(--link);text-decoration:none}
.file-link:hover .file-name{text-decoration:underline}
.file.image a:focus-visible,.file-link:focus-visible{outline:2px solid var(--focus);outline-offset:2px}
.file-name{min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-weight:600}
.file-size{flex:none;color:var(--muted);font-size:12px}
@media (prefers-reduced-motion:reduce){.upload-progress::-webkit-progress-value{transition:none}}
/* end attachments */
"#
);
