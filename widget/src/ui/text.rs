//! Shared shapes for the views' reactive pieces, to keep the widget's download small.
//!
//! Every `move || …` in a `view!` is its own closure type, and Leptos compiles its render
//! and update code once per type. Passing the varying part as a plain `fn` pointer instead
//! gives all call sites one closure type, so that code exists once (issue 4's size budget).

use leptos::prelude::*;

use crate::{chat::Chat, strings::Strings};

/// A translated string that follows the locale: `tr(chat, |s| s.send)`.
pub fn tr(chat: Chat, pick: Pick) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    move || pick(chat.locale.get().strings())
}

/// Any value derived from the chat's state alone, e.g. the status line.
pub fn live<T: 'static>(
    chat: Chat,
    derive: fn(Chat) -> T,
) -> impl Fn() -> T + Copy + Send + Sync + 'static {
    move || derive(chat)
}

/// Picks one string from a locale's table.
pub type Pick = fn(&'static Strings) -> &'static str;
