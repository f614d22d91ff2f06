//! The components, and the open/close behaviour that ties them to the loader's launcher.
//!
//! [`App`] owns the `open` state: it starts from `boot.open`, flips on the loader's
//! `natter:toggle` event, and closes on "Minimize chat" or Escape. Opening focuses the composer
//! and scrolls to the newest message; closing hands focus back to the launcher. The launcher's
//! `aria-expanded` and accessible name always follow the state.

mod composer;
mod messages;
mod panel;

use leptos::{html, prelude::*};
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::HtmlElement;

use crate::{boot::Boot, chat::Chat, log, strings, style, thread::Thread};

/// The loader dispatches this on the root when the launcher is clicked.
const TOGGLE_EVENT: &str = "natter:toggle";

/// The whole widget app, mounted into `boot.root`.
#[component]
pub fn App(boot: Boot) -> impl IntoView {
    let chat = Chat::start(&boot);
    let open = RwSignal::new(boot.open);
    let input = NodeRef::<html::Textarea>::new();
    let scroller = NodeRef::<html::Div>::new();

    listen_for_toggle(&boot.root, open);

    // Launcher state and focus follow `open`.
    let launcher = boot.launcher;
    Effect::watch(
        move || open.get(),
        move |&is_open, was_open, _| {
            sync_launcher(&launcher, is_open);
            if is_open {
                request_animation_frame(move || {
                    scroll_to_bottom(scroller);
                    if let Some(input) = input.get_untracked() {
                        focus(&input);
                    }
                });
            } else if was_open == Some(&true) {
                focus(&launcher);
            }
        },
        true,
    );

    // New rows scroll the list to the newest message.
    let rows = Memo::new(move |_| chat.thread.with(Thread::len));
    Effect::watch(
        move || rows.get(),
        move |_, _, _| request_animation_frame(move || scroll_to_bottom(scroller)),
        false,
    );

    view! {
        <style>{style::CSS}</style>
        <panel::Panel chat open input scroller />
    }
}

/// Flips `open` whenever the loader reports a launcher click.
fn listen_for_toggle(root: &HtmlElement, open: RwSignal<bool>) {
    let toggle = Closure::<dyn FnMut()>::new(move || open.update(|open| *open = !*open));
    if root
        .add_event_listener_with_callback(TOGGLE_EVENT, toggle.as_ref().unchecked_ref())
        .is_err()
    {
        log::error("cannot listen for launcher clicks");
    }
    // The app lives as long as the page.
    toggle.forget();
}

fn sync_launcher(launcher: &HtmlElement, open: bool) {
    let label = if open {
        strings::CLOSE_CHAT
    } else {
        strings::OPEN_CHAT
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
