//! The message list: an `aria-live` log of the visitor's and the agents' messages, and the
//! agents' typing indicator under it.
//!
//! Visitor messages sit on the right in the site colour with their delivery state (W4):
//! "Sending…", "Sent" with one check mark, "Read" with two on the newest message an agent has
//! read (older read messages keep only the quiet double check, named "Read" for screen
//! readers), or "Failed" with a Retry button. The state is always words, never colour or an
//! icon alone. The visitor's messages on other channels (an email reply) sit on their side too.
//! Agent and bot messages sit on the left under the agent's or bot's name (W7). Every stored
//! message names its channel (W3). The relay's notices are one neutral centred line, without
//! author or state. Text is rendered as text, never as HTML (S5).
//!
//! The list sits inside a `role="log"` region (an `<ol>` may not take that role itself), so
//! screen readers announce new messages. Rows are keyed by `client_id` and update their state
//! in place, so a message is announced once, not again when it becomes "Sent" or "Read"
//! (`aria-relevant="additions"`). "Anna is typing…" is a separate polite live line with
//! animated dots (still under `prefers-reduced-motion`).

use leptos::{html, prelude::*};
use natter_protocol::Channel;
use wasm_bindgen::{closure::Closure, JsCast};

use super::text::{live, tr};
use crate::{
    chat::Chat,
    log,
    strings::Strings,
    thread::{Delivery, Row, Side, Thread},
};

/// The list's own CSS (delivery marks, typing indicator); the panel's is in `style`.
const CSS: &str = r#"
.meta{display:inline-flex;align-items:center;gap:3px}
.tick{width:15px;height:15px;flex:none}
.tick.read{color:var(--link)}
.typing{margin:0}
.typing-line{display:flex;align-items:center;gap:8px;margin:10px 0 0;font-size:12px;color:var(--muted)}
.dots{display:inline-flex;gap:4px;padding:11px 13px;background:var(--bubble);border:1px solid var(--line);
  border-radius:16px;border-bottom-left-radius:4px}
.dots i{width:6px;height:6px;border-radius:50%;background:var(--muted);animation:natter-dot 1.2s infinite ease-in-out}
.dots i:nth-child(2){animation-delay:.15s}.dots i:nth-child(3){animation-delay:.3s}
@keyframes natter-dot{0%,60%,100%{opacity:.35;transform:none}30%{opacity:1;transform:translateY(-3px)}}
@media (prefers-reduced-motion:reduce){.dots i{animation:none;opacity:.7}}
"#;

#[component]
pub fn Messages(chat: Chat, input: NodeRef<html::Textarea>) -> impl IntoView {
    let empty = move || chat.thread.with(Thread::is_empty);
    stop_typing_on_blur(chat, input);
    view! {
        <style>{CSS}</style>
        {move || empty().then(|| view! { <p class="empty">{live(chat, super::panel::empty_thread)}</p> })}
        <div role="log" aria-label=tr(chat, |s| s.log_label) aria-live="polite" aria-relevant="additions">
            <ol class="log">
                <For
                    each=move || chat.thread.with(Thread::rows)
                    key=Row::key
                    children=move |row| view! { <MessageRow chat row input /> }
                />
            </ol>
        </div>
        <Typing chat />
    }
}

#[component]
fn MessageRow(chat: Chat, row: Row, input: NodeRef<html::Textarea>) -> impl IntoView {
    let text = move || chat.locale.get().strings();
    let client_id = row.client_id;
    // The row stays while its state moves on (sending → sent → read, or failed → sending).
    let state = Memo::new(move |_| {
        chat.thread.with(|thread| {
            thread
                .row(client_id)
                .map(|row| (row.channel, row.delivery))
                .unwrap_or((row.channel, row.delivery))
        })
    });
    let failed = move || state.get().1 == Some(Delivery::Failed);
    let (side, mine) = (row.side, row.mine());
    // A notice is nobody's message: the same row without author, and its meta line (channel,
    // no delivery state) hidden by the CSS. Not a view of its own: one row type is less code.
    let class = move || match (side, failed()) {
        (Side::Mine, true) => "msg mine failed",
        (Side::Mine, false) => "msg mine",
        (Side::Theirs, _) => "msg theirs",
        (Side::Notice, _) => "msg notice",
    };
    let author = match row.author {
        Some(name) => view! { <span class="author">{name}</span> }.into_any(),
        None if mine => view! { <span class="sr-only">{tr(chat, |s| s.you)}</span> }.into_any(),
        None => ().into_any(),
    };
    // One reactive block for the whole meta line (state words, marks, Retry): it changes
    // rarely, and one block is much less code than one per piece (issue 4's size budget).
    let meta = move || {
        let (channel, delivery) = state.get();
        let strings = text();
        // Older read messages show only the double check; the words are for screen readers.
        let read_earlier = (delivery == Some(Delivery::ReadEarlier))
            .then(|| view! { <span class="sr-only">{strings.meta_separator}{strings.read}</span> });
        let retry = (delivery == Some(Delivery::Failed)).then(|| {
            view! {
                " "
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
                    {strings.retry}
                </button>
            }
        });
        view! {
            {meta_line(strings, channel, delivery)}
            {delivery.and_then(tick_mark)}
            {read_earlier}
            {retry}
        }
    };
    // A message of only attachments has no text bubble.
    let bubble = (!row.text.is_empty()).then(|| view! { <div class="bubble">{row.text}</div> });
    // Images inline, other files as links (W8, `attachments`).
    let attachments = row.attachments;
    let files =
        (!attachments.is_empty()).then(|| view! { <super::attachments::Files chat attachments /> });

    view! {
        <li class=class>
            {author}
            {bubble}
            {files}
            <span class="meta">{meta}</span>
        </li>
    }
}

/// "Anna is typing…" with animated dots, for each agent typing now (W7). The line is always
/// in the DOM, so screen readers hear it appear.
#[component]
fn Typing(chat: Chat) -> impl IntoView {
    let text = move || chat.locale.get().strings();
    let line = NodeRef::<html::Div>::new();
    // A new indicator at the bottom of the list is scrolled into view, like a new message.
    Effect::watch(
        move || chat.agents_typing.with(Vec::len),
        move |count, previous, _| {
            if previous.is_some_and(|previous| count > previous) {
                request_animation_frame(move || {
                    let scroller = line
                        .try_get_untracked()
                        .flatten()
                        .and_then(|line| line.parent_element());
                    if let Some(scroller) = scroller {
                        scroller.set_scroll_top(scroller.scroll_height());
                    }
                });
            }
        },
        false,
    );
    view! {
        <div class="typing" aria-live="polite" node_ref=line>
            // A plain list, not a keyed `<For>`: rarely more than one agent types, and a
            // keyed list costs kilobytes of code (issue 4's size budget).
            {move || {
                let strings = text();
                chat.agents_typing
                    .get()
                    .into_iter()
                    .map(|name| {
                        let label = strings.agent_typing.replace("{name}", &name);
                        view! {
                            <p class="typing-line">
                                <span class="dots" aria-hidden="true"><i></i><i></i><i></i></span>
                                <span>{label}</span>
                            </p>
                        }
                    })
                    .collect_view()
            }}
        </div>
    }
}

/// "Chat · Sent": the channel of a stored message and the delivery state of the visitor's own
/// (older read messages say only the channel; see [`tick_mark`]).
fn meta_line(strings: &Strings, channel: Option<Channel>, delivery: Option<Delivery>) -> String {
    let channel = channel.map(|channel| match channel {
        Channel::Chat => strings.channel_chat,
        Channel::Email => strings.channel_email,
        Channel::Messenger => strings.channel_messenger,
    });
    let delivery = delivery.and_then(|delivery| match delivery {
        Delivery::Sending => Some(strings.sending),
        Delivery::Sent => Some(strings.sent),
        Delivery::Read => Some(strings.read),
        Delivery::ReadEarlier => None,
        Delivery::Failed => Some(strings.failed),
    });
    [channel, delivery]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(strings.meta_separator)
}

/// One check mark for a stored message, two for a read one; decorative (the words say it).
fn tick_mark(delivery: Delivery) -> Option<impl IntoView> {
    let (class, path) = match delivery {
        Delivery::Sent => ("tick", "M3.5 8.5l3 3 6-7"),
        Delivery::Read | Delivery::ReadEarlier => ("tick read", "M1.5 8.5l3 3 6-7M7.5 11.5l6-7"),
        Delivery::Sending | Delivery::Failed => return None,
    };
    Some(view! {
        <svg class=class viewBox="0 0 16 16" aria-hidden="true" focusable="false">
            <path
                d=path
                fill="none"
                stroke="currentColor"
                stroke-width="1.6"
                stroke-linecap="round"
                stroke-linejoin="round"
            />
        </svg>
    })
}

/// Leaving the composer ends "typing" (W7). The listener goes with the text area when the app
/// is unmounted.
fn stop_typing_on_blur(chat: Chat, input: NodeRef<html::Textarea>) {
    input.on_load(move |textarea| {
        let listener = Closure::<dyn FnMut()>::new(move || chat.stop_typing());
        if textarea
            .add_event_listener_with_callback("blur", listener.as_ref().unchecked_ref())
            .is_err()
        {
            log::warn("cannot listen for the composer's blur");
        }
        // Owned by the text area's listener list from now on; freed with the element's page.
        listener.forget();
    });
}
