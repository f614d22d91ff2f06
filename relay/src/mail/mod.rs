//! Email: outbound mail, the unread-reply email, and the inbound door (E1–E6).
//!
//! - [`tokens`]: the signed reply address and magic link.
//! - [`compose`]: the email the relay writes (text + HTML, threading headers, language).
//! - [`smtp`]: the SMTP transport (lettre) and how its failures are classified.
//! - [`outbox`]: the `email.reply` / `email.unread` jobs on the persisted queue.
//! - [`parse`], [`quotes`], [`html_text`]: reading an inbound email (mail-parser), cutting the
//!   quoted history and signature, HTML to safe text.
//! - [`inbound`]: the email door: routes a parsed email to its conversation and appends it.

pub mod compose;
pub mod html_text;
pub mod http;
pub mod inbound;
pub mod outbox;
pub mod parse;
pub mod quotes;
pub mod smtp;
pub mod tokens;
