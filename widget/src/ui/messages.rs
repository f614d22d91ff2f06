//! The message list: an `aria-live` log of the visitor's and the agents' messages.
//!
//! Visitor messages sit on the right in the site colour with their delivery state; agent
//! messages sit on the left under the agent's name. Every stored message names its channel
//! (W3). Text is rendered as text, never as HTML (S5).

use leptos::prelude::*;
use natter_protocol::Channel;

use crate::{
    chat::Chat,
    strings,
    thread::{Delivery, Row, Thread},
};

#[component]
pub fn Messages(chat: Chat) -> impl IntoView {
    let empty = move || chat.thread.with(Thread::is_empty);
    view! {
        {move || empty().then(|| view! { <p class="empty">{strings::EMPTY_THREAD}</p> })}
        <ol class="log" role="log" aria-label=strings::LOG_LABEL aria-live="polite">
            <For
                each=move || chat.thread.with(Thread::rows)
                key=Row::key
                children=move |row| view! { <MessageRow chat row /> }
            />
        </ol>
    }
}

#[component]
fn MessageRow(chat: Chat, row: Row) -> impl IntoView {
    let failed = row.delivery == Some(Delivery::Failed);
    let class = match (row.mine, failed) {
        (true, true) => "msg mine failed",
        (true, false) => "msg mine",
        (false, _) => "msg theirs",
    };
    let author = match row.author {
        Some(name) => view! { <span class="author">{name}</span> }.into_any(),
        None if row.mine => view! { <span class="sr-only">{strings::YOU}</span> }.into_any(),
        None => ().into_any(),
    };
    let channel = row.channel.map(|channel| match channel {
        Channel::Chat => strings::CHANNEL_CHAT,
        Channel::Email => strings::CHANNEL_EMAIL,
        Channel::Messenger => strings::CHANNEL_MESSENGER,
    });
    let delivery = row.delivery.map(|delivery| match delivery {
        Delivery::Sending => strings::SENDING,
        Delivery::Sent => strings::SENT,
        Delivery::Failed => strings::FAILED,
    });
    let meta = [channel, delivery]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(strings::META_SEPARATOR);
    let client_id = row.client_id;
    let retry = failed.then(|| {
        view! {
            <button type="button" class="retry" on:click=move |_| chat.retry(client_id)>
                {strings::RETRY}
            </button>
        }
    });

    view! {
        <li class=class>
            {author}
            <div class="bubble">{row.text}</div>
            <span class="meta">{meta}" "{retry}</span>
        </li>
    }
}
