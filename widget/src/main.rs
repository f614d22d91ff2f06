//! Natter's visitor chat widget: a Leptos CSR app compiled to WebAssembly.
//!
//! # How it starts
//! Host pages never load this app directly. They include `loader/natter.js`, a tiny plain-JS
//! loader that runs the `natter()` command queue, draws the launcher button inside a shadow
//! root at once and, on first intent (hover, focus, touch, click) or a command that needs the
//! app (`open`, `toggle`, `identify`, `reset`), imports the wasm-bindgen glue, instantiates the
//! module and calls [`api::mount`]. [`main`] does nothing: the module is instantiated once per
//! page, but the app can be mounted again after `natter('destroy')`.
//!
//! # The loader ↔ app contract
//! - `mount(boot)` with `boot = { root, launcher, relay, site, locale, emit }`: `root` is the
//!   empty `.natter-app` div in the shadow root where the app mounts, `launcher` the launcher
//!   button, `relay` the relay's origin, `site` the site key, `locale` the language tag
//!   (`natter('set')` or `<html lang>`), and `emit(name, detail)` the loader's function that
//!   delivers an event to the host's `natter('on', …)` listeners. See [`boot`], [`events`].
//! - `command(name, arg)` for every `natter()` call the app must handle, in the order the host
//!   made them (those made before the load are replayed right after `mount`): `open`,
//!   `close`, `toggle`, `identify`, `set`, `reset`, `consent`, `destroy`, and `launcher` for a
//!   click on the launcher (`launcher(true)` once after `mount` if it was clicked while the app
//!   loaded: open, do not toggle). See [`api`], [`commands`].
//! - The loader keeps what must work before the app loads: the queue, `show`/`hide`, the
//!   `on`/`off` registry and the `ready` event, the consent flag, the launcher's label in three
//!   languages, and `destroy`/`init` of its own nodes. Once mounted, the app owns the launcher's
//!   `aria-expanded` and `aria-label` ("Open chat" / "Close chat" in the current language).
//! - The loader renews an existing `natter_vid` cookie on every page view and never creates
//!   one; the app writes it after each welcome when consent allows. See [`cookie`], [`consent`].
//!
//! # Modules
//! - [`api`]: `mount` and `command`, the functions the loader calls.
//! - [`boot`]: reads the boot object.
//! - [`commands`]: checks the arguments of forwarded commands.
//! - [`events`]: the events the host can listen to, and their details.
//! - [`consent`]: whether anything may be stored on the device (W14).
//! - [`cookie`]: the `natter_vid` visitor cookie.
//! - [`connection`]: the WebSocket: hello, frame decoding, reconnect with backoff, stop.
//! - [`thread`]: the message list state: merge by seq, dedupe, pending and failed messages.
//! - [`outbox`]: unacknowledged messages kept in `localStorage` across reloads (W4).
//! - [`chat`]: the controller tying the connection, the thread, commands and events together.
//! - [`identity_requests`]: where `identify` and `reset` stand until the relay answers them.
//! - [`form`]: the email-capture form's state, placement and checks (W5, W6).
//! - [`ui`]: the components (panel, message list, composer) and open/close behaviour.
//! - [`upload`]: uploads a file to the relay with progress (W8).
//! - [`style`]: the CSS injected into the shadow root (light and dark).
//! - [`strings`]: every visible string, in English, German and French.
//! - [`log`]: console logging; the widget logs and carries on, it never panics.

mod api;
mod boot;
mod chat;
mod commands;
mod connection;
mod consent;
mod cookie;
mod events;
mod form;
mod identity_requests;
mod log;
mod outbox;
mod strings;
mod style;
mod thread;
mod ui;
mod upload;

/// Nothing to do at instantiation: the loader calls [`api::mount`].
fn main() {}
