//! The components, and the open/close behaviour that ties them to the loader's launcher.
//!
//! [`App`] renders the panel for a [`Chat`] whose `open` signal the JS API, the launcher (via
//! the loader), the minimize button and Escape all drive. Opening moves focus to the composer
//! and scrolls to the newest message; closing hands focus back to the launcher if it was
//! inside the widget (a host's `natter('close')` does not steal focus from the page). The
//! launcher's `aria-expanded` and accessible name always follow the state and the locale.
//!
//! The launcher also carries the unread badge (W9): `data-unread` ("1" … "9+"), drawn by
//! `style.rs`, while agent messages are unread and the panel is closed; its accessible name
//! then says how many ("Open chat, 2 unread messages"). A site's launcher text (W13), which the
//! loader read from the site stylesheet into `data-text`, replaces "Open chat" in that name, so
//! what the launcher shows is what assistive technology announces (WCAG 2.5.3).

mod attachments;
mod composer;
mod form;
mod messages;
mod panel;
mod text;

use leptos::{html, prelude::*};
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

use crate::{boot::Boot, chat::Chat, log, strings::Strings, style, thread::Thread};

/// The badge shows counts up to this, then "9+"; the launcher's name has the exact count.
const BADGE_CAP: u32 = 9;
/// The launcher attribute the badge is drawn from (`style.rs`).
const BADGE_ATTRIBUTE: &str = "data-unread";
/// Where the loader keeps the site's launcher text (`loader/natter.js`).
const LAUNCHER_TEXT_ATTRIBUTE: &str = "data-text";

/// The whole widget app, mounted into `boot.root`.
#[component]
pub fn App(boot: Boot, chat: Chat) -> impl IntoView {
    let input = NodeRef::<html::Textarea>::new();
    let scroller = NodeRef::<html::Div>::new();

    // Launcher state and focus follow `open`; the launcher's name and badge follow the locale
    // and the unread count too.
    let launcher = boot.launcher;
    let root = boot.root;
    Effect::watch(
        move || (chat.open.get(), chat.locale.get(), chat.unread.get()),
        move |&(is_open, locale, unread), previous, _| {
            sync_launcher(&launcher, is_open, locale.strings(), unread);
            let was_open = previous.map(|&(was_open, _, _)| was_open);
            if was_open == Some(is_open) {
                return;
            }
            if is_open {
                request_animation_frame(move || {
                    scroll_to_bottom(scroller);
                    if let Some(input) = input.try_get_untracked().flatten() {
                        focus(&input);
                    }
                });
            } else if was_open == Some(true) && focus_is_inside(&root) {
                focus(&launcher);
            }
        },
        true,
    );

    // New rows, and the alert line taking room, scroll the list to the newest message.
    let rows = Memo::new(move |_| chat.thread.with(Thread::len));
    let alerting = Memo::new(move |_| chat.alert.with(Option::is_some));
    Effect::watch(
        move || (rows.get(), alerting.get()),
        move |_, _, _| request_animation_frame(move || scroll_to_bottom(scroller)),
        false,
    );

    view! {
        <style>{style::CSS}</style>
        <panel::Panel chat input scroller />
    }
}

/// Whether keyboard focus is in the widget's shadow root (the document's active element is
/// then the shadow host) or was lost with the hidden panel (it is then `<body>` or nothing).
fn focus_is_inside(root: &HtmlElement) -> bool {
    let host = root
        .get_root_node()
        .dyn_into::<web_sys::ShadowRoot>()
        .ok()
        .map(|shadow| shadow.host());
    let document = web_sys::window().and_then(|window| window.document());
    let active = document
        .as_ref()
        .and_then(|document| document.active_element());
    let body = document.and_then(|document| document.body());
    match active {
        None => true,
        Some(active) => {
            host.is_some_and(|host| host == active)
                || body.is_some_and(|body| web_sys::Element::from(body) == active)
        }
    }
}

fn sync_launcher(launcher: &HtmlElement, open: bool, strings: &Strings, unread: u32) {
    let text = launcher.get_attribute(LAUNCHER_TEXT_ATTRIBUTE);
    let label = launcher_label(open, strings, text.as_deref(), unread);
    let expanded = if open { "true" } else { "false" };
    let badge = match badge_text(if open { 0 } else { unread }) {
        Some(badge) => launcher.set_attribute(BADGE_ATTRIBUTE, &badge),
        None => launcher.remove_attribute(BADGE_ATTRIBUTE),
    };
    if launcher.set_attribute("aria-expanded", expanded).is_err()
        || launcher.set_attribute("aria-label", &label).is_err()
        || badge.is_err()
    {
        log::warn("cannot update the launcher");
    }
}

/// The launcher's accessible name: "Close chat" while open; else the site's launcher text or
/// "Open chat", and how many agent messages are unread, if any.
fn launcher_label(open: bool, strings: &Strings, text: Option<&str>, unread: u32) -> String {
    if open {
        return strings.close_chat.to_owned();
    }
    let name = text
        .filter(|text| !text.trim().is_empty())
        .unwrap_or(strings.open_chat);
    match unread {
        0 => name.to_owned(),
        1 => format!("{name}, {}", strings.unread_one),
        count => format!(
            "{name}, {}",
            strings.unread_many.replace("{count}", &count.to_string())
        ),
    }
}

/// What the badge shows: nothing at 0, the count up to [`BADGE_CAP`], then "9+".
fn badge_text(unread: u32) -> Option<String> {
    match unread {
        0 => None,
        count if count > BADGE_CAP => Some(format!("{BADGE_CAP}+")),
        count => Some(count.to_string()),
    }
}

fn focus(element: &HtmlElement) {
    if element.focus().is_err() {
        log::warn("cannot move focus");
    }
}

fn scroll_to_bottom(scroller: NodeRef<html::Div>) {
    if let Some(scroller) = scroller.try_get_untracked().flatten() {
        scroller.set_scroll_top(scroller.scroll_height());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strings::Locale;

    #[test]
    fn the_badge_counts_to_nine_then_says_nine_plus() {
        assert_eq!(badge_text(0), None);
        assert_eq!(badge_text(1).as_deref(), Some("1"));
        assert_eq!(badge_text(9).as_deref(), Some("9"));
        assert_eq!(badge_text(10).as_deref(), Some("9+"));
        assert_eq!(badge_text(u32::MAX).as_deref(), Some("9+"));
    }

    #[test]
    fn the_launcher_name_has_the_text_and_the_exact_unread_count() {
        let en = Locale::En.strings();
        assert_eq!(launcher_label(false, en, None, 0), "Open chat");
        assert_eq!(
            launcher_label(false, en, None, 1),
            "Open chat, 1 unread message"
        );
        assert_eq!(
            launcher_label(false, en, None, 12),
            "Open chat, 12 unread messages"
        );
        assert_eq!(
            launcher_label(false, en, Some("Talk to us"), 2),
            "Talk to us, 2 unread messages"
        );
        assert_eq!(launcher_label(false, en, Some(" "), 0), "Open chat");
        assert_eq!(
            launcher_label(true, en, Some("Talk to us"), 3),
            "Close chat"
        );
        let de = Locale::De.strings();
        assert_eq!(
            launcher_label(false, de, None, 2),
            "Chat öffnen, 2 ungelesene Nachrichten"
        );
        let fr = Locale::Fr.strings();
        assert_eq!(
            launcher_label(false, fr, None, 1),
            "Ouvrir le chat, 1 message non lu"
        );
    }
}
