//! Natter's visitor chat widget: a Leptos CSR app compiled to WebAssembly.
//!
//! # How it starts
//! Host pages never load this app directly. They include `loader/natter.js`, a tiny plain-JS
//! loader that draws the launcher button inside a shadow root at once and, on first intent
//! (hover, focus, touch or click), imports the wasm-bindgen glue and calls its default export.
//! That runs [`main`].
//!
//! # The loader ↔ app contract
//! - Before init, the loader sets `window.__natterBoot = { root, launcher, relay, site, open }`:
//!   `root` is the empty `.natter-app` div in the shadow root where the app mounts, `launcher`
//!   the launcher button, `relay` the relay's origin, `site` the site key, and `open` whether a
//!   click triggered the load (so the panel starts open). See [`boot`].
//! - After init, each launcher click is a `natter:toggle` `CustomEvent` dispatched on `root`;
//!   the app opens or closes the panel and keeps the launcher's `aria-expanded` and
//!   `aria-label` ("Open chat" / "Close chat") in sync. See [`ui`].
//! - The loader renews the `natter_vid` cookie on every page view; the app writes it after each
//!   welcome. See [`cookie`].
//!
//! # Modules
//! - [`boot`]: reads `window.__natterBoot`.
//! - [`cookie`]: the `natter_vid` visitor cookie.
//! - [`connection`]: the WebSocket: hello, frame decoding, reconnect with backoff.
//! - [`thread`]: the message list state: merge by seq, dedupe, pending and failed messages.
//! - [`chat`]: the controller tying the connection to the thread and the UI state.
//! - [`ui`]: the components (panel, message list, composer) and open/close behaviour.
//! - [`style`]: the CSS injected into the shadow root.
//! - [`strings`]: every visible string, for later translation.
//! - [`log`]: console logging; the widget logs and carries on, it never panics.

mod boot;
mod chat;
mod connection;
mod cookie;
mod log;
mod strings;
mod style;
mod thread;
mod ui;

use leptos::prelude::*;

fn main() {
    let boot = match boot::read() {
        Ok(boot) => boot,
        Err(error) => {
            log::error(&error);
            return;
        }
    };
    let root = boot.root.clone();
    // The host page owns <body>: mount into the loader's container, for the page's lifetime.
    leptos::mount::mount_to(root, move || view! { <ui::App boot /> }).forget();
}
