//! The Natter agent console: a Leptos client-side app served by the relay at `/inbox/`.
//!
//! The console owns its whole page, so `main` only mounts [`app::App`] on `<body>`. Module map:
//! `app` (the root component), `session` (which screen, and `Auth` to move between them),
//! `api` (REST calls), `live` (agent WebSocket), `state` (inbox state and merge rules),
//! `actions` (glue between them), `ui` (screens), `upload` (files with progress), `strings`
//! (every visible text), `time`.

mod actions;
mod api;
mod app;
mod live;
mod session;
mod state;
mod strings;
mod time;
mod ui;
mod upload;

fn main() {
    leptos::mount::mount_to_body(app::App);
}
