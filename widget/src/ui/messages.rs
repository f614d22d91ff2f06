//! The message list: an `aria-live` log of the visitor's and the agents' messages.
//!
//! Visitor messages sit on the right in the site colour with their delivery state; agent
//! messages sit on the left under the agent's name. Every stored message names its channel
//! (W3). Text is rendered as text, never as HTML (S5). The list sits inside a `role="log"`
//! region (an `<ol>` may not take that role itself), so screen readers announce new messages.
//! Retrying a failed message replaces its row, so focus moves to the composer rather than
//! being lost with the Retry button.

use leptos::{html, prelude::*};
use natter_protocol::Channel;

use crate::{
    chat::Chat,
    strings::Strings,
    thread::{Delivery, Row, Thread},
};

#[component]
pub fn Messages(chat: Chat, input: NodeRef<html::Textarea>) -> impl IntoView {
    let text = move || chat.locale.get().strings();
    let empty = move || chat.thread.with(Thread::is_empty);
    view! {
        {move || empty().then(|| view! { <p class="empty">{move || text().empty_thread}</p> })}
        <div role="log" aria-label=move || text().log_label aria-live="polite">
            <ol class="log">
                <For
                    each=move || chat.thread.with(Thread::rows)
                    key=Row::key
                    children=move |row| view! { <MessageRow chat row input /> }
                />
            </ol>
        </div>
    }
}

#[component]
fn MessageRow(chat: Chat, row: Row, input: NodeRef<html::Textarea>) -> impl IntoView {
    let text = move || chat.locale.get().strings();
    let failed = row.delivery == Some(Delivery::Failed);
    let class = match (row.mine, failed) {
        (true, true) => "msg mine failed",
        (true, false) => "msg mine",
        (false, _) => "msg theirs",
    };
    let author = match row.author {
        Some(name) => view! { <span class="author">{name}</span> }.into_any(),
        None if row.mine => view! { <span class="sr-only">{move || text().you}</span> }.into_any(),
        None => ().into_any(),
    };
    let (channel, delivery) = (row.channel, row.delivery);
    let meta = move || meta_line(text(), channel, delivery);
    let client_id = row.client_id;
    let retry = failed.then(|| {
        view! {
            <button
                type="button"
                class="retry"
                on:click=move |_| {
                    chat.retry(client_id);
                    if let Some(input) = input.get_untracked() {
                        super::focus(&input);
                    }
                }
            >
                {move || text().retry}
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

/// "Chat · Sent": the channel of a stored message and the delivery state of the visitor's own.
fn meta_line(strings: &Strings, channel: Option<Channel>, delivery: Option<Delivery>) -> String {
    let channel = channel.map(|channel| match channel {
        Channel::Chat => strings.channel_chat,
        Channel::Email => strings.channel_email,
        Channel::Messenger => strings.channel_messenger,
    });
    let delivery = delivery.map(|delivery| match delivery {
        Delivery::Sending => strings.sending,
        Delivery::Sent => strings.sent,
        Delivery::Failed => strings.failed,
    });
    [channel, delivery]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(strings.meta_separator)
}
