//! The chat panel: a non-modal dialog with a header, the status and alert lines, the message
//! list and the composer.
//!
//! It stays in the DOM while closed (`hidden`), so the `aria-live` log keeps its content and
//! the composer keeps a half-typed draft. Escape closes it from anywhere inside. Any click or
//! key press inside counts as the visitor interacting with the widget (consent mode, W14).

use leptos::{ev::KeyboardEvent, html, prelude::*};

use super::{composer::Composer, messages::Messages};
use crate::chat::{Chat, Status};

#[component]
pub fn Panel(
    chat: Chat,
    input: NodeRef<html::Textarea>,
    scroller: NodeRef<html::Div>,
) -> impl IntoView {
    let text = move || chat.locale.get().strings();
    let on_keydown = move |event: KeyboardEvent| {
        chat.interacted();
        if event.key() == "Escape" {
            event.stop_propagation();
            chat.set_open(false);
        }
    };
    let status = move || match chat.status.get() {
        Status::Online if chat.received_notice.get() => text().received,
        Status::Online => "",
        Status::Connecting => text().connecting,
        Status::Reconnecting => text().reconnecting,
        Status::Unavailable => text().unavailable,
    };
    let alert = move || chat.alert.get().map(|notice| notice.text(text()));
    // The site's own words, in the site's language (from its configuration).
    let away_shown = move || !chat.agents_online.get() && chat.away_message.with(Option::is_some);

    view! {
        <div
            class="panel"
            role="dialog"
            aria-label=move || text().panel_label
            lang=move || chat.locale.get().code()
            hidden=move || !chat.open.get()
            on:keydown=on_keydown
            on:pointerdown=move |_| chat.interacted()
        >
            <div class="header">
                <h2 class="title">{move || text().title}</h2>
                <button
                    type="button"
                    class="icon-button"
                    aria-label=move || text().minimize
                    on:click=move |_| chat.set_open(false)
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
            <p class="status away" hidden=move || !away_shown()>{move || chat.away_message.get()}</p>
            <div class="body" node_ref=scroller>
                <Messages chat input />
            </div>
            <p class="alert" role="alert">{alert}</p>
            <Composer chat input />
        </div>
    }
}
