//! The thread pane (`<main>`): the open conversation's messages and the reply composer.
//!
//! The messages are an `<ol role="log">` so screen readers announce new ones politely. The
//! composer keeps the text until the relay confirmed the reply (a failed send never loses what
//! the agent wrote) and reuses the reply's `client_id` when the same text is retried, so a
//! reply whose answer was lost is stored once.

use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::{Author, Channel, ClientMessageId, ConversationId, Message};

use crate::actions;
use crate::app::Auth;
use crate::state::Inbox;
use crate::strings;
use crate::time;

/// How close to the bottom (in pixels) still counts as "reading the newest messages".
const STICK_THRESHOLD_PX: i32 = 48;

#[component]
pub fn ThreadPane() -> impl IntoView {
    let Some(inbox) = use_context::<Inbox>() else {
        return ().into_any();
    };
    view! {
        <main class="thread">
            {move || match inbox.selected.get() {
                None => {
                    view! { <p class="placeholder">{strings::SELECT_CONVERSATION}</p> }.into_any()
                }
                Some(id) => view! { <Conversation id=id /> }.into_any(),
            }}
        </main>
    }
    .into_any()
}

#[component]
fn Conversation(id: ConversationId) -> impl IntoView {
    let Some(inbox) = use_context::<Inbox>() else {
        return ().into_any();
    };
    let summary = Memo::new(move |_| inbox.summary(id));
    let visitor_label = Signal::derive(move || {
        summary.with(|s| {
            s.as_ref()
                .map(|s| s.visitor_label.clone())
                .unwrap_or_default()
        })
    });
    let site = move || summary.with(|s| s.as_ref().map(|s| s.site.clone()));
    let my_id = inbox.session.with_untracked(|s| s.agent.id);

    let messages = move || {
        inbox.thread.with(|thread| {
            if thread.conversation == Some(id) {
                thread.messages.clone()
            } else {
                Vec::new()
            }
        })
    };
    let loading = move || inbox.thread.with(|t| t.loading && t.messages.is_empty());
    let error = move || inbox.thread.with(|t| t.error.clone());

    // Keep the newest message in view, unless the agent scrolled up to read older ones.
    let log_ref = NodeRef::<html::Ol>::new();
    let stick = StoredValue::new(true);
    Effect::new(move |_| {
        inbox.thread.track();
        if let Some(log) = log_ref.get() {
            // On the next frame, so the new rows are in the DOM whatever order effects ran in.
            request_animation_frame(move || {
                if stick.try_get_value().unwrap_or(false) {
                    log.set_scroll_top(log.scroll_height());
                }
            });
        }
    });
    let on_scroll = move |_| {
        if let Some(log) = log_ref.get_untracked() {
            let distance = log.scroll_height() - log.scroll_top() - log.client_height();
            stick.set_value(distance <= STICK_THRESHOLD_PX);
        }
    };

    view! {
        <header class="thread-header">
            <h2>{move || visitor_label.get()}</h2>
            {move || site().map(|site| view! { <span class="site">{site}</span> })}
        </header>
        {move || error().map(|message| view! { <p class="alert" role="alert">{message}</p> })}
        {move || {
            loading()
                .then(|| view! { <p class="loading" role="status">{strings::LOADING_MESSAGES}</p> })
        }}
        <ol
            class="messages"
            role="log"
            aria-label=strings::MESSAGES
            aria-live="polite"
            node_ref=log_ref
            on:scroll=on_scroll
        >
            <For each=messages key=|message| message.id let(message)>
                <MessageItem message=message visitor_label=visitor_label my_id=my_id />
            </For>
        </ol>
        <Composer id=id />
    }
    .into_any()
}

#[component]
fn MessageItem(
    message: Message,
    visitor_label: Signal<String>,
    my_id: natter_protocol::AgentId,
) -> impl IntoView {
    let (class, author) = match &message.author {
        Author::Visitor => ("message from-visitor", None),
        Author::Agent { agent_id, name } => {
            let name = if *agent_id == my_id {
                format!("{name}{}", strings::YOU_SUFFIX)
            } else {
                name.clone()
            };
            ("message from-agent", Some(name))
        }
    };
    let channel = match message.channel {
        Channel::Chat => None,
        Channel::Email => Some(strings::VIA_EMAIL),
        Channel::Messenger => Some(strings::VIA_MESSENGER),
    };
    let author = move || author.clone().unwrap_or_else(|| visitor_label.get());
    view! {
        <li class=class>
            <div class="meta">
                <span class="author">{author}</span>
                " "
                <time datetime=time::iso(message.sent_at)>{time::clock(message.sent_at)}</time>
                {channel.map(|channel| view! { " " <span class="channel">{channel}</span> })}
            </div>
            <div class="bubble">{message.text}</div>
        </li>
    }
}

/// The reply form. One instance per open conversation (it is rebuilt when the agent switches),
/// with the unsent text kept in the inbox's drafts.
#[component]
fn Composer(id: ConversationId) -> impl IntoView {
    let (Some(inbox), Some(auth)) = (use_context::<Inbox>(), use_context::<Auth>()) else {
        return ().into_any();
    };
    let initial = inbox
        .drafts
        .with_value(|drafts| drafts.get(&id).cloned().unwrap_or_default());
    let text = RwSignal::new(initial);
    let sending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // The id and text of the last attempt that failed: a retry of the same text reuses the id.
    let last_attempt = StoredValue::new(None::<(ClientMessageId, String)>);

    let remember_draft = move |value: String| {
        inbox.drafts.try_update_value(|drafts| {
            if value.is_empty() {
                drafts.remove(&id);
            } else {
                drafts.insert(id, value);
            }
        });
    };

    let send = move || {
        if sending.get_untracked() {
            return;
        }
        let raw = text.get_untracked();
        let body = raw.trim().to_owned();
        if body.is_empty() {
            return;
        }
        let client_id = last_attempt
            .get_value()
            .filter(|(_, previous)| *previous == body)
            .map(|(client_id, _)| client_id)
            .unwrap_or_else(ClientMessageId::new_random);
        last_attempt.set_value(Some((client_id, body.clone())));
        sending.set(true);
        error.set(None);
        spawn_local(async move {
            let result = actions::send_reply(inbox, auth, id, client_id, body).await;
            sending.try_set(false);
            match result {
                Ok(_) => {
                    last_attempt.try_set_value(None);
                    // Remove what was sent; keep anything typed while the request was running.
                    // The agent may have switched conversations meanwhile (this composer is
                    // gone): then only the stored draft is left to clean.
                    let current = text.try_get_untracked().or_else(|| {
                        inbox
                            .drafts
                            .try_with_value(|drafts| drafts.get(&id).cloned())
                            .flatten()
                    });
                    let rest = current
                        .and_then(|now| now.strip_prefix(&raw).map(|r| r.trim_start().to_owned()));
                    if let Some(rest) = rest {
                        text.try_set(rest.clone());
                        remember_draft(rest);
                    }
                }
                Err(message) => {
                    error.try_set(Some(message));
                }
            }
        });
    };

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        send();
    };
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            send();
        }
    };
    let on_input = move |ev| {
        let value = event_target_value(&ev);
        remember_draft(value.clone());
        text.set(value);
    };

    view! {
        <form class="composer" on:submit=on_submit>
            {move || error.get().map(|message| view! { <p class="alert" role="alert">{message}</p> })}
            <label for="reply" class="visually-hidden">{strings::REPLY}</label>
            <div class="composer-row">
                <textarea
                    id="reply"
                    name="reply"
                    rows="3"
                    placeholder=strings::REPLY_PLACEHOLDER
                    prop:value=move || text.get()
                    on:input=on_input
                    on:keydown=on_keydown
                ></textarea>
                <button
                    type="submit"
                    class="primary"
                    disabled=move || sending.get()
                    aria-busy=move || sending.get().then_some("true")
                >
                    {strings::SEND}
                </button>
            </div>
        </form>
    }
    .into_any()
}
