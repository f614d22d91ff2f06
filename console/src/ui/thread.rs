//! The thread pane (`<main>`): the open conversation's messages and the reply composer.
//!
//! The messages are an `<ol role="log">` so screen readers announce new ones politely. The
//! composer keeps the text until the relay confirmed the reply (a failed send never loses what
//! the agent wrote) and reuses the reply's `client_id` when the same text is retried, so a
//! reply whose answer was lost is stored once.
//!
//! Email (E1, E3, I6): an agent message carried by email shows how far the email got (sending,
//! sent, or not delivered with the mail server's reason, announced as an alert), updated in place
//! by `delivery_changed`; an email reply from another address than the contact's carries an
//! "unverified sender" badge. When the reply goes by email the composer asks for an optional
//! subject, and the picker offers email templates, which fill the subject and the text.
//!
//! Files (I13) upload as soon as they are added to the reply (picker, drag and drop onto the
//! reply box, paste) and go with it by id. Typing (W7, I15): the pane shows who else is typing in
//! this conversation (the visitor or another agent), and the reply box tells the visitor when
//! this agent types a reply, never while writing an internal comment (I7).

use std::time::Duration;

use leptos::ev::{ClipboardEvent, DragEvent, KeyboardEvent, SubmitEvent};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::agent::{
    reply_channels, template, AgentMessage, Assign, ChannelUnavailable, ConversationStatus,
    Delivery, DeliveryState, Role, SavedResponse, SendReply, SetBlocked, SetStatus,
};
use natter_protocol::{AgentId, AttachmentId, Author, Channel, ClientMessageId, ConversationId};
use uuid::Uuid;

use crate::actions;
use crate::session::Auth;
use crate::state::{typing_in, Inbox};
use crate::strings;
use crate::time;
use crate::ui::files::{Attachments, FilePicker, FileTray, ReplyFiles};

/// How close to the bottom (in pixels) still counts as "reading the newest messages".
const STICK_THRESHOLD_PX: i32 = 48;
/// While the agent types, "typing" is sent at most this often. It renews the indicator well
/// within `TYPING_LAPSE_MS`, after which the visitor's widget hides it on its own.
const TYPING_RENEW_MS: f64 = 3_000.0;
/// "Stopped typing" goes out after this long without a key press.
const TYPING_IDLE: Duration = Duration::from_secs(4);

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
        summary.with(|s| s.as_ref().map(|s| s.display_name()).unwrap_or_default())
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
    // Who else is typing here (W7, I15); the indicator lapses with the inbox clock.
    let typing = move || {
        let now = inbox.now.get();
        let names: Vec<String> = inbox.typing.with(|list| {
            typing_in(list, id, now)
                .into_iter()
                .map(|typist| typist.name.unwrap_or_else(|| visitor_label.get()))
                .collect()
        });
        strings::typing(&names)
    };
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
            <span class="spacer"></span>
            <ThreadActions id=id />
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
            <For each=messages key=|message| message.message.id let(message)>
                <MessageItem message=message visitor_label=visitor_label my_id=my_id />
            </For>
        </ol>
        <p class="typing" aria-live="polite">{typing}</p>
        <Composer id=id />
    }
    .into_any()
}

/// Complete / reopen (I8), assign (I9), block (I10), delete (I11).
#[component]
fn ThreadActions(id: ConversationId) -> impl IntoView {
    let (Some(inbox), Some(auth)) = (use_context::<Inbox>(), use_context::<Auth>()) else {
        return ().into_any();
    };
    let summary = Memo::new(move |_| inbox.summary(id));
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let run = move |action: &'static str, body: serde_json::Value| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let result = actions::act(inbox, auth, id, action, &body).await;
            busy.try_set(false);
            if let Err(message) = result {
                error.try_set(Some(message));
            }
        });
    };
    let complete = move || {
        summary.with(|s| {
            s.as_ref()
                .is_some_and(|s| s.state.status == ConversationStatus::Complete)
        })
    };
    let blocked = move || summary.with(|s| s.as_ref().is_some_and(|s| s.state.blocked));
    let assigned_value = move || {
        summary.with(|s| {
            match s
                .as_ref()
                .map(|s| (s.state.assigned_agent, s.state.assigned_group))
            {
                Some((Some(agent), _)) => format!("agent:{}", agent.0),
                Some((None, Some(group))) => format!("group:{}", group.0),
                _ => String::new(),
            }
        })
    };
    let on_assign = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        let parse = |prefix: &str| {
            value
                .strip_prefix(prefix)
                .and_then(|id| Uuid::parse_str(id).ok())
        };
        let body = Assign {
            agent: parse("agent:").map(AgentId),
            group: parse("group:").map(natter_protocol::agent::GroupId),
        };
        run("assign", serde_json::to_value(body).unwrap_or_default());
    };
    let is_admin = inbox
        .session
        .with_untracked(|s| s.agent.role == Role::Admin);
    let delete = move |_| {
        let confirmed = web_sys::window()
            .and_then(|w| w.confirm_with_message(strings::CONFIRM_DELETE).ok())
            .unwrap_or(false);
        if !confirmed {
            return;
        }
        spawn_local(async move {
            if let Err(message) = actions::delete_conversation(inbox, auth, id).await {
                error.try_set(Some(message));
            }
        });
    };

    view! {
        <div class="thread-actions">
            {move || error.get().map(|message| view! { <span class="alert inline" role="alert">{message}</span> })}
            <label>
                <span class="visually-hidden">{strings::ASSIGN}</span>
                <select aria-label=strings::ASSIGN prop:value=assigned_value on:change=on_assign>
                    <option value="" selected=move || assigned_value().is_empty()>{strings::UNASSIGNED}</option>
                    <optgroup label=strings::AGENTS>
                        {move || {
                            inbox.agents.get().into_iter().filter(|a| !a.disabled).map(|agent| {
                                let value = format!("agent:{}", agent.profile.id.0);
                                let selected = value == assigned_value();
                                view! { <option value=value selected=selected>{agent.profile.name}</option> }
                            }).collect_view()
                        }}
                    </optgroup>
                    <optgroup label=strings::GROUPS>
                        {move || {
                            inbox.groups.get().into_iter().map(|group| {
                                let value = format!("group:{}", group.id.0);
                                let selected = value == assigned_value();
                                view! { <option value=value selected=selected>{group.name}</option> }
                            }).collect_view()
                        }}
                    </optgroup>
                </select>
            </label>
            <button
                type="button"
                class="secondary"
                disabled=move || busy.get()
                on:click=move |_| {
                    let status = if complete() { ConversationStatus::Open } else { ConversationStatus::Complete };
                    run("status", serde_json::to_value(SetStatus { status }).unwrap_or_default());
                }
            >
                {move || if complete() { strings::REOPEN } else { strings::MARK_COMPLETE }}
            </button>
            <button
                type="button"
                class="secondary"
                disabled=move || busy.get()
                on:click=move |_| {
                    let blocked = !blocked();
                    run("block", serde_json::to_value(SetBlocked { blocked }).unwrap_or_default());
                }
            >
                {move || if blocked() { strings::UNBLOCK } else { strings::BLOCK }}
            </button>
            {is_admin.then(|| view! {
                <button type="button" class="danger" on:click=delete>{strings::DELETE}</button>
            })}
        </div>
    }
    .into_any()
}

/// Who a message shows as: the conversation's visitor label, a name, or nobody (a notice).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Byline {
    /// The customer's side without a name of its own: the label the list shows.
    Visitor,
    Named(String),
    /// A relay notice: no author line.
    Nobody,
}

/// How one message shows in the thread: which side (the CSS class), under which name, with
/// which tag after the name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Look {
    class: &'static str,
    byline: Byline,
    /// "bot" after the bot's name.
    tag: Option<&'static str>,
}

/// The look of a message by `author`, for the agent `my_id`. The customer's side (the visitor,
/// or a contact on another channel, under the name that channel gave) sits left, the team's
/// right; the relay's notices sit in the middle.
fn look(author: &Author, internal: bool, my_id: AgentId) -> Look {
    let look = |class, byline, tag| Look { class, byline, tag };
    match author {
        Author::Visitor | Author::Contact { name: None } => {
            look("message from-visitor", Byline::Visitor, None)
        }
        Author::Contact { name: Some(name) } => {
            look("message from-visitor", Byline::Named(name.clone()), None)
        }
        Author::Agent { agent_id, name } => {
            let name = if *agent_id == my_id {
                format!("{name}{}", strings::YOU_SUFFIX)
            } else {
                name.clone()
            };
            let class = if internal {
                "message internal"
            } else {
                "message from-agent"
            };
            look(class, Byline::Named(name), None)
        }
        Author::Bot { name } => look(
            "message from-agent from-bot",
            Byline::Named(name.clone()),
            Some(strings::BOT_LABEL),
        ),
        Author::System => look("message notice", Byline::Nobody, None),
    }
}

#[component]
fn MessageItem(
    message: AgentMessage,
    visitor_label: Signal<String>,
    my_id: natter_protocol::AgentId,
) -> impl IntoView {
    let internal = message.internal;
    let unverified = message.unverified_sender;
    let message = message.message;
    let id = message.id;
    // The row is keyed by id and stays; the email's state changes in place (E1).
    let delivery = Memo::new(move |_| {
        use_context::<Inbox>().and_then(|inbox| {
            inbox.thread.with(|thread| {
                thread
                    .messages
                    .iter()
                    .find(|m| m.message.id == id)
                    .and_then(|m| m.delivery.clone())
            })
        })
    });
    let Look { class, byline, tag } = look(&message.author, internal, my_id);
    let channel = match message.channel {
        Channel::Chat => None,
        Channel::Email => Some(strings::VIA_EMAIL),
        Channel::Messenger => Some(strings::VIA_MESSENGER),
    };
    let author = match byline {
        Byline::Nobody => None,
        Byline::Visitor => Some(Signal::derive(move || visitor_label.get())),
        Byline::Named(name) => Some(Signal::derive(move || name.clone())),
    };
    view! {
        <li class=class>
            <div class="meta">
                {author.map(|author| view! { <span class="author">{author}</span> " " })}
                {tag.map(|tag| view! { <span class="channel bot-label">{tag}</span> " " })}
                <time datetime=time::iso(message.sent_at)>{time::clock(message.sent_at)}</time>
                {channel.map(|channel| view! { " " <span class="channel">{channel}</span> })}
                {internal.then(|| view! { " " <span class="channel internal-label">{strings::INTERNAL_COMMENT}</span> })}
                {unverified.map(|address| view! {
                    " "
                    <span class="badge warning" title=strings::UNVERIFIED_SENDER_HELP>
                        {strings::unverified_sender(&address)}
                        // The tooltip is for the mouse; screen readers get the same words.
                        <span class="visually-hidden">". " {strings::UNVERIFIED_SENDER_HELP}</span>
                    </span>
                })}
            </div>
            {(!message.text.is_empty()).then(|| view! {
                <div class="bubble">{crate::ui::rich::rich_text(&message.text)}</div>
            })}
            {(!message.attachments.is_empty()).then(|| view! {
                <Attachments attachments=message.attachments.clone() />
            })}
            {move || delivery.get().map(|delivery| {
                let (text, class, failed) = delivery_line(&delivery);
                // A refusal is an error the agent must see; screen readers hear it at once.
                view! { <p class=class role=failed.then_some("alert")>{text}</p> }
            })}
        </li>
    }
}

/// How an email delivery shows under its message: the words, the CSS class, and whether it is
/// a failure (an alert).
fn delivery_line(delivery: &Delivery) -> (String, &'static str, bool) {
    match delivery.state {
        DeliveryState::Pending => (strings::EMAIL_PENDING.to_owned(), "delivery", false),
        DeliveryState::Sent => (strings::EMAIL_SENT.to_owned(), "delivery", false),
        DeliveryState::Failed => (
            strings::email_failed(delivery.detail.as_deref()),
            "delivery delivery-failed",
            true,
        ),
    }
}

/// The reply form. One instance per open conversation (it is rebuilt when the agent switches),
/// with the unsent text kept in the inbox's drafts. Above it: reply or internal comment (I7),
/// the channel (I5) and the saved-response picker (I6).
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
    let internal = RwSignal::new(false);
    // The channel the agent picked; `None` follows the automatic choice.
    let picked = RwSignal::new(None::<Channel>);
    // The id, text and files of the last attempt that failed: a retry of the same reuses the id.
    // The files are part of "the same reply": other files are a new reply.
    let last_attempt = StoredValue::new(None::<(ClientMessageId, String, Vec<AttachmentId>)>);
    let summary = Memo::new(move |_| inbox.summary(id));
    // Email is offered only when the relay can send it (E1).
    let email_enabled = inbox.session.with_untracked(|s| s.settings.email_enabled);
    let channels = Memo::new(move |_| {
        summary.with(|s| s.as_ref().map(|s| reply_channels(&s.state, email_enabled)))
    });
    let channel = move || {
        picked
            .get()
            .or_else(|| channels.with(|c| c.as_ref().map(|(_, chosen)| *chosen)))
    };
    // The email's subject (I6): optional, asked for only when the reply goes by email.
    let subject = RwSignal::new(String::new());
    let by_email = Signal::derive(move || !internal.get() && channel() == Some(Channel::Email));

    let files = ReplyFiles::new(inbox, auth, id);

    // Typing (W7): "typing" when a key is pressed (at most every TYPING_RENEW_MS), "stopped"
    // after TYPING_IDLE without one, on send, on switching to an internal comment and on
    // leaving the conversation.
    let typing_sent_at = StoredValue::new(None::<f64>);
    let idle_timer = StoredValue::new(None::<TimeoutHandle>);
    let stop_typing = move || {
        if let Some(Some(timer)) = idle_timer.try_update_value(Option::take) {
            timer.clear();
        }
        if let Some(Some(_)) = typing_sent_at.try_update_value(Option::take) {
            actions::set_typing(inbox, id, false);
        }
    };
    let typed = move || {
        if internal.get_untracked() {
            return;
        }
        let now = js_sys::Date::now();
        if typing_sent_at
            .get_value()
            .is_none_or(|sent| now - sent >= TYPING_RENEW_MS)
        {
            typing_sent_at.set_value(Some(now));
            actions::set_typing(inbox, id, true);
        }
        if let Some(timer) = idle_timer.get_value() {
            timer.clear();
        }
        idle_timer.set_value(set_timeout_with_handle(stop_typing, TYPING_IDLE).ok());
    };
    on_cleanup(stop_typing);

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
        if files.uploading() {
            error.set(Some(strings::WAIT_FOR_UPLOADS.to_owned()));
            return;
        }
        if body.is_empty() && files.is_empty() {
            return;
        }
        let attachments = files.ids();
        let client_id = last_attempt
            .get_value()
            .filter(|(_, previous, files)| *previous == body && *files == attachments)
            .map(|(client_id, _, _)| client_id)
            .unwrap_or_else(ClientMessageId::new_random);
        last_attempt.set_value(Some((client_id, body.clone(), attachments.clone())));
        sending.set(true);
        error.set(None);
        let is_internal = internal.get_untracked();
        let chosen = if is_internal { None } else { channel() };
        let email_subject = Some(subject.get_untracked().trim().to_owned())
            .filter(|subject| chosen == Some(Channel::Email) && !subject.is_empty());
        stop_typing();
        spawn_local(async move {
            let reply = SendReply {
                client_id,
                text: body,
                attachments,
                internal: is_internal,
                channel: chosen,
                subject: email_subject,
            };
            let result = actions::send_reply(inbox, auth, id, reply).await;
            sending.try_set(false);
            match result {
                Ok(_) => {
                    last_attempt.try_set_value(None);
                    subject.try_set(String::new());
                    files.clear();
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
        // Clearing the box is not typing a reply.
        if value.trim().is_empty() {
            stop_typing();
        } else {
            typed();
        }
        remember_draft(value.clone());
        text.set(value);
    };
    // Inserting a saved response or an email template (I6): its tags filled for this
    // conversation, or an error. A template also fills the subject.
    let insert = move |response: SavedResponse| {
        let values = tag_values(inbox);
        let filled_subject = response
            .subject
            .as_deref()
            .map(|subject| template::render(subject, &values))
            .transpose();
        let filled = template::render(&response.body, &values)
            .and_then(|body| filled_subject.map(|subject| (body, subject)));
        match filled {
            Ok((filled, filled_subject)) => {
                if let Some(filled_subject) = filled_subject {
                    subject.set(filled_subject);
                }
                let current = text.get_untracked();
                let next = if current.trim().is_empty() {
                    filled
                } else {
                    format!("{}\n{filled}", current.trim_end())
                };
                remember_draft(next.clone());
                text.set(next);
                error.set(None);
            }
            Err(problem) => error.set(Some(strings::cannot_insert(&problem.to_string()))),
        }
    };

    view! {
        <form
            class=move || {
                let mode = if internal.get() { "composer composer-internal" } else { "composer" };
                if files.dragging.get() { format!("{mode} dropping") } else { mode.to_owned() }
            }
            on:submit=on_submit
            on:dragenter=move |ev: DragEvent| files.drag(&ev)
            on:dragover=move |ev: DragEvent| files.drag(&ev)
            on:dragleave=move |ev: DragEvent| files.drag(&ev)
            on:drop=move |ev: DragEvent| files.drag(&ev)
        >
            <p class="drop-hint" hidden=move || !files.dragging.get()>{strings::DROP_FILES}</p>
            {move || error.get().map(|message| view! { <p class="alert" role="alert">{message}</p> })}
            <div class="composer-tools">
                <div class="mode" role="radiogroup" aria-label=strings::MODE>
                    <label>
                        <input type="radio" name="mode" prop:checked=move || !internal.get() on:change=move |_| internal.set(false) />
                        {strings::MODE_REPLY}
                    </label>
                    <label>
                        <input type="radio" name="mode" prop:checked=move || internal.get() on:change=move |_| {
                            // An internal comment is never announced to the visitor (I7).
                            stop_typing();
                            internal.set(true);
                        } />
                        {strings::MODE_COMMENT}
                    </label>
                </div>
                {move || (!internal.get()).then(|| view! {
                    <label class="channel-pick">
                        {strings::CHANNEL}
                        " "
                        <select
                            aria-label=strings::CHANNEL
                            on:change=move |ev| {
                                picked.set(match event_target_value(&ev).as_str() {
                                    "email" => Some(Channel::Email),
                                    "messenger" => Some(Channel::Messenger),
                                    _ => Some(Channel::Chat),
                                })
                            }
                        >
                            {move || channels.get().map(|(options, _)| {
                                let current = channel();
                                options.into_iter().map(|option| {
                                    let (value, name) = match option.channel {
                                        Channel::Chat => ("chat", strings::CHANNEL_CHAT),
                                        Channel::Email => ("email", strings::CHANNEL_EMAIL),
                                        Channel::Messenger => ("messenger", strings::CHANNEL_MESSENGER),
                                    };
                                    let label = option_label(name, option.unavailable);
                                    view! {
                                        <option
                                            value=value
                                            disabled=option.unavailable.is_some()
                                            selected=Some(option.channel) == current
                                        >
                                            {label}
                                        </option>
                                    }
                                }).collect_view()
                            })}
                        </select>
                    </label>
                })}
                <SavedResponsePicker on_pick=insert by_email />
                <FilePicker files />
            </div>
            <FileTray files />
            {move || by_email.get().then(|| view! {
                <div class="subject-row">
                    <label for="reply-subject">{strings::SUBJECT}</label>
                    <input
                        id="reply-subject"
                        type="text"
                        placeholder=strings::SUBJECT_PLACEHOLDER
                        prop:value=move || subject.get()
                        on:input=move |ev| subject.set(event_target_value(&ev))
                    />
                </div>
            })}
            <label for="reply" class="visually-hidden">{strings::REPLY}</label>
            <div class="composer-row">
                <textarea
                    id="reply"
                    name="reply"
                    rows="3"
                    placeholder=move || if internal.get() { strings::COMMENT_PLACEHOLDER } else { strings::REPLY_PLACEHOLDER }
                    prop:value=move || text.get()
                    on:input=on_input
                    on:keydown=on_keydown
                    on:paste=move |ev: ClipboardEvent| files.paste(&ev)
                ></textarea>
                <button
                    type="submit"
                    class="primary"
                    disabled=move || sending.get()
                    aria-busy=move || sending.get().then_some("true")
                >
                    {move || if internal.get() { strings::ADD_COMMENT } else { strings::SEND }}
                </button>
            </div>
        </form>
    }
    .into_any()
}

/// A channel in the picker: its name, and why it cannot be used, if so. "Email is not set up
/// on this relay" says both at once.
fn option_label(name: &str, unavailable: Option<ChannelUnavailable>) -> String {
    let reason = match unavailable {
        None => return name.to_owned(),
        Some(ChannelUnavailable::EmailOff) => return strings::EMAIL_OFF.to_owned(),
        Some(ChannelUnavailable::NoEmail) => strings::NO_EMAIL_KNOWN,
        Some(ChannelUnavailable::NotChat) => strings::NOT_CHAT,
        Some(ChannelUnavailable::NotMessenger) => strings::NOT_MESSENGER,
    };
    format!("{name} — {reason}")
}

/// The values of the personalization tags (I6) in the open conversation.
fn tag_values(inbox: Inbox) -> template::Values {
    let contact = inbox
        .contact
        .with_untracked(|p| p.as_ref().and_then(|p| p.contact.clone()));
    let contact = contact.as_ref();
    template::Values {
        contact_name: contact.and_then(|c| c.name.clone()),
        contact_email: contact.map(|c| c.email.clone()),
        contact_phone: contact.and_then(|c| c.phone.clone()),
        contact_company: contact.and_then(|c| c.company.clone()),
        agent_name: Some(inbox.session.with_untracked(|s| s.agent.name.clone())),
    }
}

/// Saved responses (I6): a category, then the response; picking one inserts it. When the reply
/// goes by email (`by_email`), email templates are offered too.
#[component]
fn SavedResponsePicker(
    on_pick: impl Fn(SavedResponse) + Copy + Send + Sync + 'static,
    by_email: Signal<bool>,
) -> impl IntoView {
    let Some(inbox) = use_context::<Inbox>() else {
        return ().into_any();
    };
    let open = RwSignal::new(false);
    let category = RwSignal::new(String::new());
    // What this reply can use: email templates only when it goes by email.
    let offered = Memo::new(move |_| {
        let email = by_email.get();
        inbox.saved_responses.with(|list| {
            list.iter()
                .filter(|r| email || r.subject.is_none())
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let categories = Memo::new(move |_| {
        let mut names: Vec<String> =
            offered.with(|list| list.iter().map(|r| r.category.clone()).collect());
        names.dedup();
        names
    });
    view! {
        <div class="saved">
            <button
                type="button"
                class="secondary"
                aria-expanded=move || if open.get() { "true" } else { "false" }
                on:click=move |_| open.update(|o| *o = !*o)
            >
                {strings::SAVED_RESPONSES}
            </button>
            {move || open.get().then(|| view! {
                <div class="saved-picker" role="group" aria-label=strings::SAVED_RESPONSES>
                    <label>
                        {strings::CATEGORY}
                        " "
                        <select aria-label=strings::CATEGORY on:change=move |ev| category.set(event_target_value(&ev))>
                            <option value="">{strings::CHOOSE_CATEGORY}</option>
                            {move || categories.get().into_iter().map(|name| {
                                view! { <option value=name.clone()>{name.clone()}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    <ul>
                        {move || {
                            let chosen = category.get();
                            offered.get().into_iter()
                                .filter(|r| !chosen.is_empty() && r.category == chosen)
                                .map(|response| {
                                    let title = response.title.clone();
                                    let is_template = response.subject.is_some();
                                    view! {
                                        <li>
                                            <button type="button" class="link" on:click=move |_| {
                                                on_pick(response.clone());
                                                open.set(false);
                                            }>
                                                {title}
                                            </button>
                                            {is_template.then(|| view! {
                                                " " <span class="badge">{strings::EMAIL_TEMPLATE}</span>
                                            })}
                                        </li>
                                    }
                                }).collect_view()
                        }}
                    </ul>
                    {move || offered.with(Vec::is_empty).then(|| view! {
                        <p class="muted">{strings::NO_SAVED_RESPONSES}</p>
                    })}
                </div>
            })}
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> AgentId {
        AgentId(Uuid::from_u128(1))
    }

    #[test]
    fn the_customers_side_shows_as_the_visitor_or_the_contacts_name() {
        for author in [Author::Visitor, Author::Contact { name: None }] {
            let shown = look(&author, false, me());
            assert_eq!(shown.class, "message from-visitor");
            assert_eq!(shown.byline, Byline::Visitor);
            assert_eq!(shown.tag, None);
        }
        let contact = Author::Contact {
            name: Some("Grace Hopper".into()),
        };
        assert_eq!(
            look(&contact, false, me()),
            Look {
                class: "message from-visitor",
                byline: Byline::Named("Grace Hopper".into()),
                tag: None,
            }
        );
    }

    #[test]
    fn agents_show_by_name_with_you_for_the_viewer_and_comments_apart() {
        let other = Author::Agent {
            agent_id: AgentId(Uuid::from_u128(2)),
            name: "Bea".into(),
        };
        let mine = Author::Agent {
            agent_id: me(),
            name: "Ada".into(),
        };
        assert_eq!(
            look(&other, false, me()),
            Look {
                class: "message from-agent",
                byline: Byline::Named("Bea".into()),
                tag: None,
            }
        );
        assert_eq!(
            look(&mine, true, me()),
            Look {
                class: "message internal",
                byline: Byline::Named(format!("Ada{}", strings::YOU_SUFFIX)),
                tag: None,
            }
        );
    }

    #[test]
    fn channels_say_why_they_cannot_be_used() {
        assert_eq!(option_label("Web chat", None), "Web chat");
        assert_eq!(
            option_label("Email", Some(ChannelUnavailable::NoEmail)),
            "Email — no email address known"
        );
        assert_eq!(
            option_label("Email", Some(ChannelUnavailable::EmailOff)),
            "Email is not set up on this relay"
        );
    }

    #[test]
    fn deliveries_show_as_words_and_a_refusal_as_an_alert() {
        let delivery = |state, detail: Option<&str>| Delivery {
            state,
            detail: detail.map(str::to_owned),
            updated_at: 0,
        };
        assert_eq!(
            delivery_line(&delivery(DeliveryState::Pending, None)),
            ("Sending by email…".to_owned(), "delivery", false)
        );
        assert_eq!(
            delivery_line(&delivery(DeliveryState::Sent, Some("250 ok"))).0,
            "Sent by email"
        );
        assert_eq!(
            delivery_line(&delivery(
                DeliveryState::Failed,
                Some("550 mailbox unavailable")
            )),
            (
                "Email not delivered: 550 mailbox unavailable".to_owned(),
                "delivery delivery-failed",
                true
            )
        );
    }

    #[test]
    fn the_bot_shows_on_the_teams_side_with_a_bot_tag_and_notices_in_the_middle() {
        let bot = Author::Bot {
            name: "Helper".into(),
        };
        assert_eq!(
            look(&bot, false, me()),
            Look {
                class: "message from-agent from-bot",
                byline: Byline::Named("Helper".into()),
                tag: Some(strings::BOT_LABEL),
            }
        );
        assert_eq!(
            look(&Author::System, false, me()),
            Look {
                class: "message notice",
                byline: Byline::Nobody,
                tag: None,
            }
        );
    }
}
