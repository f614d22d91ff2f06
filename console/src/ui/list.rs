//! The conversation list: `<nav aria-label="Conversations">` with one button per conversation,
//! newest activity first.
//!
//! Rows are keyed by conversation id and read their data from the list reactively, so a
//! pushed update changes the row in place (the focused button stays focused) instead of
//! rebuilding it.

use leptos::prelude::*;
use natter_protocol::ConversationId;

use crate::actions;
use crate::app::Auth;
use crate::state::Inbox;
use crate::strings;
use crate::time;

#[component]
pub fn ConversationList() -> impl IntoView {
    let Some(inbox) = use_context::<Inbox>() else {
        return ().into_any();
    };
    let ids = Memo::new(move |_| {
        inbox
            .conversations
            .with(|list| list.iter().map(|c| c.id).collect::<Vec<_>>())
    });
    let empty = move || ids.with(Vec::is_empty);

    view! {
        <nav class="conversations" aria-label=strings::CONVERSATIONS>
            {move || {
                inbox
                    .list_error
                    .get()
                    .map(|message| view! { <p class="alert" role="alert">{message}</p> })
            }}
            <ul>
                <For each=move || ids.get() key=|id| *id let(id)>
                    <ConversationRow id=id />
                </For>
            </ul>
            {move || {
                if !empty() {
                    None
                } else if inbox.list_loaded.get() {
                    Some(view! { <p class="empty">{strings::NO_CONVERSATIONS}</p> }.into_any())
                } else if inbox.list_error.with(Option::is_none) {
                    Some(
                        view! { <p class="empty" role="status">{strings::LOADING_CONVERSATIONS}</p> }
                            .into_any(),
                    )
                } else {
                    None
                }
            }}
        </nav>
    }
    .into_any()
}

#[component]
fn ConversationRow(id: ConversationId) -> impl IntoView {
    let (Some(inbox), Some(auth)) = (use_context::<Inbox>(), use_context::<Auth>()) else {
        return ().into_any();
    };
    let row = Memo::new(move |_| inbox.summary(id));
    let label = move || row.with(|r| r.as_ref().map(|r| r.visitor_label.clone()));
    let preview = move || {
        row.with(|r| {
            r.as_ref()
                .and_then(|r| r.last_message_preview.clone())
                .filter(|p| !p.trim().is_empty())
        })
    };
    let activity = move || row.with(|r| r.as_ref().map(|r| r.last_activity_at).unwrap_or(0));
    let selected = move || inbox.selected.get() == Some(id);

    view! {
        <li>
            <button
                type="button"
                class="conversation"
                aria-current=move || selected().then_some("true")
                on:click=move |_| actions::open_conversation(inbox, auth, id)
            >
                <span class="row-top">
                    <span class="visitor">{label}</span>
                    " "
                    <time class="age" datetime=move || time::iso(activity())>
                        {move || time::relative(inbox.now.get(), activity())}
                    </time>
                </span>
                " "
                <span class=move || {
                    if preview().is_some() { "preview" } else { "preview muted" }
                }>{move || preview().unwrap_or_else(|| strings::NO_MESSAGES_YET.to_owned())}</span>
            </button>
        </li>
    }
    .into_any()
}
