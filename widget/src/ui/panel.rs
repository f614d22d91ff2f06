//! The chat panel: a non-modal dialog with a header, the status and alert lines, the message
//! list, the email-capture form and the composer.
//!
//! It stays in the DOM while closed (`hidden`), so the `aria-live` log keeps its content and
//! the composer keeps a half-typed draft. Escape closes it from anywhere inside. Any click or
//! key press inside counts as the visitor interacting with the widget (consent mode, W14).
//!
//! While no agent is online the site's away message shows under the status line (W6), and
//! the empty thread no longer promises a quick reply. When the site wants the email form
//! before the first message, the composer is hidden (not removed: a draft typed before the
//! welcome said so is kept) until the form is accepted; focus goes to the form's email field
//! and, once the form is done, back to the composer.
//!
//! An email's magic link that has expired or is not valid (E6) opens the chat all the same,
//! with a short notice on the status line (a polite live region) until the visitor writes.

use leptos::{ev::KeyboardEvent, html, prelude::*};

use super::{
    composer::Composer,
    form::FormSlot,
    messages::Messages,
    text::{live, tr},
};
use crate::{
    chat::{Chat, Status},
    form::{Placement, Situation},
    thread::Row,
};

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
    let status = live(chat, status_line);
    let alert = move || chat.alert.get().map(|notice| notice.text(text()));
    // The site's own words, in the site's language (from its configuration).
    let away_shown = move || !chat.agents_online.get() && chat.away_message.with(Option::is_some);

    let visitor_wrote = Memo::new(move |_| {
        chat.thread
            .with(|thread| thread.rows().iter().any(Row::mine))
    });
    let placement = Memo::new(move |_| {
        let situation = Situation {
            visitor_wrote: visitor_wrote.get(),
            agents_online: chat.agents_online.get(),
        };
        chat.form.with(|form| form.placement(situation))
    });
    let gated = move || placement.get() == Placement::Gate;
    let email = NodeRef::<html::Input>::new();

    // When the panel opens, or the form changes place while it is open, focus follows the
    // form (to its email field when it comes first, the composer being hidden; back to the
    // composer when a form the visitor was in goes away: accepted, put off) and the list
    // scrolls to it: all of a card that fits, else its top (its heading, not its buttons). The
    // scroll waits a frame more, for the list's own scroll to the newest message, which the
    // same change may trigger.
    Effect::watch(
        move || (chat.open.get(), placement.get()),
        move |&(open, now), previous, _| {
            if !open || previous == Some(&(true, now)) {
                return;
            }
            let was_form = previous.is_some_and(|&(_, before)| is_card(before));
            request_animation_frame(move || {
                match now {
                    Placement::Gate => {
                        if let Some(field) = email.try_get_untracked().flatten() {
                            super::focus(&field);
                        }
                    }
                    Placement::Hidden | Placement::Confirmation if was_form => {
                        if let Some(field) = input.try_get_untracked().flatten() {
                            if super::focus_is_inside(&field) {
                                super::focus(&field);
                            }
                        }
                    }
                    _ => {}
                }
                request_animation_frame(move || scroll_to_form(scroller, now));
            });
        },
        false,
    );

    view! {
        <div
            class="panel"
            role="dialog"
            aria-label=tr(chat, |s| s.panel_label)
            lang=move || chat.locale.get().code()
            hidden=move || !chat.open.get()
            on:keydown=on_keydown
            on:pointerdown=move |_| chat.interacted()
        >
            <div class="header">
                <h2 class="title">{tr(chat, |s| s.title)}</h2>
                <button
                    type="button"
                    class="icon-button"
                    aria-label=tr(chat, |s| s.minimize)
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
                <FormSlot chat placement email />
            </div>
            <p class="alert" role="alert">{alert}</p>
            <div class="composer-slot" hidden=gated>
                <Composer chat input />
            </div>
        </div>
    }
}

/// The status line: how the connection is, that a blocked contact's message was stored, or that
/// an email's magic link did not open its thread (E6; until the visitor writes).
fn status_line(chat: Chat) -> &'static str {
    let text = chat.locale.get().strings();
    match chat.status.get() {
        Status::Online if chat.received_notice.get() => text.received,
        // E6: the magic link did not open its thread (expired or altered).
        Status::Online if chat.link_failed.get() => text.link_failed,
        Status::Online => "",
        Status::Connecting => text.connecting,
        Status::Reconnecting => text.reconnecting,
        Status::Unavailable => text.unavailable,
    }
}

/// The line an empty thread shows: it promises a quick reply only while an agent is online,
/// since the away message says otherwise (W6).
pub(super) fn empty_thread(chat: Chat) -> &'static str {
    let strings = chat.locale.get().strings();
    if chat.agents_online.get() {
        strings.empty_thread
    } else {
        strings.empty_thread_away
    }
}

/// Brings the form card into view: all of it if it fits, else its top. Without a card (the
/// confirmation, or nothing), the newest content at the bottom.
fn scroll_to_form(scroller: NodeRef<html::Div>, placement: Placement) {
    let Some(scroller) = scroller.try_get_untracked().flatten() else {
        return;
    };
    let card = is_card(placement)
        .then(|| scroller.query_selector(".form-card").ok().flatten())
        .flatten();
    match card {
        Some(card) => {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Nearest);
            card.scroll_into_view_with_scroll_into_view_options(&options);
        }
        None => scroller.set_scroll_top(scroller.scroll_height()),
    }
}

/// Whether the form shows as a fillable card (rather than nothing or the confirmation).
fn is_card(placement: Placement) -> bool {
    matches!(
        placement,
        Placement::Gate | Placement::Card | Placement::Away
    )
}
