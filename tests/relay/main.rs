//! Relay integration tests: a real relay on port 0 (through `natter_relay::testing`), real
//! SQLite, real WebSockets. One test binary, so the relay crate is linked once.

mod abuse;
mod agent_api;
mod attachments;
mod availability;
mod blobs;
mod console_headers;
mod core;
mod crash;
mod form;
mod identity;
mod inbox_api;
mod inbox_live;
mod inbox_support;
mod mail;
mod mail_mta;
mod mail_support;
mod multinode;
mod nats;
mod ops;
mod process_support;
mod shutdown;
mod support;
mod typing_read;
mod visitor_socket;
