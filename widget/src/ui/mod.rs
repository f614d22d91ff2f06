//! The components, and the open/close behaviour that ties them to the loader's launcher.
//!
//! [`App`] renders the panel for a [`Chat`] whose `open` signal the JS API, the launcher (via
//! the loader), the minimize button and Escape all drive. Opening moves focus to the composer
//! and scrolls to the newest message; closing hands focus back to the launcher if it was
//! inside the widget (a host's `natter('close')` does not steal focus from the page). The
//! launcher's `aria-expanded` and accessible name always follow the state and the locale.

mod composer;
mod messages;
mod panel;

use leptos::{html, prelude::*};
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

use crate::{boot::Boot, chat::Chat, log, strings::Strings, style, thread::Thread};

/// The whole widget app, mounted into `boot.root`.
#[component]
pub fn App(boot: Boot, chat: Chat) -> impl IntoView {
    let input = NodeRef::<html::Textarea>::new();
    let scroller = NodeRef::<html::Div>::new();

    // Launcher state and focus follow `open`; the launcher's name follows the locale too.
    let launcher = boot.launcher;
    let root = boot.root;
    Effect::watch(
        move || (chat.open.get(), chat.locale.get()),
        move |&(is_open, locale), previous, _| {
            sync_launcher(&launcher, is_open, locale.strings());
            let was_open = previous.map(|&(was_open, _)| was_open);
            if was_open == Some(is_open) {
                return;
            }
            if is_open {
                request_animation_frame(move || {
                    scroll_to_bottom(scroller);
                    if let Some(input) = input.get_untracked() {
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

fn sync_launcher(launcher: &HtmlElement, open: bool, strings: &Strings) {
    let label = if open {
        strings.close_chat
    } else {
        strings.open_chat
    };
    let expanded = if open { "true" } else { "false" };
    if launcher.set_attribute("aria-expanded", expanded).is_err()
        || launcher.set_attribute("aria-label", label).is_err()
    {
        log::warn("cannot update the launcher");
    }
}

fn focus(element: &HtmlElement) {
    if element.focus().is_err() {
        log::warn("cannot move focus");
    }
}

fn scroll_to_bottom(scroller: NodeRef<html::Div>) {
    if let Some(scroller) = scroller.get_untracked() {
        scroller.set_scroll_top(scroller.scroll_height());
    }
}
