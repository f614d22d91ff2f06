//! Relay integration tests: a real relay on port 0 (through `natter_relay::testing`), real
//! SQLite, real WebSockets. One test binary, so the relay crate is linked once.

mod agent_api;
mod identity;
mod support;
mod visitor_socket;
