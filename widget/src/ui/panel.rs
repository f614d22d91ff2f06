//! The chat panel: a non-modal dialog with a header, the status and alert lines, the message
//! list and the composer.
//!
//! It stays in the DOM while closed (`hidden`), so the `aria-live` log keeps its content and
//! the composer keeps a half-typed draft.

use leptos::{ev::KeyboardEvent, html, prelude::*};

use super::{composer::Composer, messages::Messages};
use crate::{
    chat::{Chat, Status},
    strings,
};

#[component]
pub fn Panel(
    chat: Chat,
    open: RwSignal<bool>,
    input: NodeRef<html::Textarea>,
    scroller: NodeRef<html::Div>,
) -> impl IntoView {
    let close_on_escape = move |event: KeyboardEvent| {
        if event.key() == "Escape" {
            event.stop_propagation();
            open.set(false);
        }
    };
    let status = move || match chat.status.get() {
        Status::Online => "",
        Status::Connecting => strings::CONNECTING,
        Status::Reconnecting => strings::RECONNECTING,
        Status::Unavailable => strings::UNAVAILABLE,
    };

    view! {
        <div
            class="panel"
            role="dialog"
            aria-label=strings::PANEL_LABEL
            hidden=move || !open.get()
            on:keydown=close_on_escape
        >
            <div class="header">
                <h2 class="title">{strings::TITLE}</h2>
                <button
                    type="button"
                    class="icon-button"
                    aria-label=strings::MINIMIZE
                    on:click=move |_| open.set(false)
                >
                    <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                        <path
                            d="M6 9l6 6 6-6"
                            fill="none"
                            stroke="currentColor"
                            stroke-width="2.2"
                            stroke-linecap="round"
                            stroke-linejoin="round"
                        />
                    </svg>
                </button>
            </div>
            <p class="status" role="status">{status}</p>
            <div class="body" node_ref=scroller>
                <Messages chat />
            </div>
            <p class="alert" role="alert">{move || chat.alert.get()}</p>
            <Composer chat input />
        </div>
    }
}
