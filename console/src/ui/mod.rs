//! The console's screens and panes. Each file owns one part of the page; state and network
//! live outside (`state`, `actions`), so these files are only markup and event wiring.

pub mod admin;
pub mod contact;
pub mod files;
pub mod inbox;
pub mod list;
pub mod login;
pub mod rich;
pub mod thread;
