//! What the console does in answer to the agent and to the relay: fetch the list, open a
//! conversation, send a reply, react to the live socket.
//!
//! These functions glue [`crate::api`] and [`crate::live`] to the [`Inbox`] state and its merge
//! rules. They are plain functions over the `Copy` state so both views and socket callbacks can
//! call them; every async continuation checks that the answer is still wanted (the agent may
//! have opened another conversation or logged out meanwhile).

use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::agent::{
    AgentMessage, AgentServerFrame, ConversationSummary, SendReply, SetTyping, TYPING_LAPSE_MS,
};
use natter_protocol::ConversationId;
use serde::Serialize;

use crate::api::{self, Failure};
use crate::live::LiveEvent;
use crate::session::Auth;
use crate::state::{
    apply_typing, end_typing_for, merge_list, merge_thread, upsert_conversation, Inbox, LiveStatus,
    Thread, Typist,
};

/// Fetches the first page of the list for the current filters and merges it into the shown
/// one (a changed filter replaces it).
pub fn refresh_list(inbox: Inbox, auth: Auth) {
    let filters = inbox.filters.get_untracked();
    spawn_local(async move {
        match api::conversations(&filters.query(None)).await {
            Ok(list) => {
                if inbox.filters.try_get_untracked().as_ref() != Some(&filters) {
                    return; // the agent changed the filters meanwhile
                }
                inbox.conversations.try_update(|shown| {
                    *shown = merge_list(shown, list.conversations);
                });
                inbox.next_page.try_set(list.next);
                inbox.list_loaded.try_set(true);
                inbox.list_error.try_set(None);
            }
            Err(failure) => handle_failure(&failure, auth, |message| {
                inbox.list_error.try_set(Some(message));
            }),
        }
    });
}

/// The filters changed: show the new list from its first page.
pub fn filters_changed(inbox: Inbox, auth: Auth) {
    inbox.conversations.set(Vec::new());
    inbox.next_page.set(None);
    inbox.list_loaded.set(false);
    refresh_list(inbox, auth);
}

/// Fetches the next page and adds it below.
pub fn load_more(inbox: Inbox, auth: Auth) {
    let Some(after) = inbox.next_page.get_untracked() else {
        return;
    };
    let filters = inbox.filters.get_untracked();
    spawn_local(async move {
        match api::conversations(&filters.query(Some(after))).await {
            Ok(list) => {
                inbox.conversations.try_update(|shown| {
                    for row in list.conversations {
                        upsert_conversation(shown, row);
                    }
                });
                inbox.next_page.try_set(list.next);
            }
            Err(failure) => handle_failure(&failure, auth, |message| {
                inbox.list_error.try_set(Some(message));
            }),
        }
    });
}

/// Fetches agents (with presence) and groups. Only the answer to the latest request is
/// applied, so a slow early answer cannot overwrite a newer presence.
pub fn refresh_agents(inbox: Inbox, auth: Auth) {
    let generation = inbox.agents_generation.get_value() + 1;
    inbox.agents_generation.set_value(generation);
    spawn_local(async move {
        let result = api::agents().await;
        if inbox.agents_generation.try_get_value() != Some(generation) {
            return;
        }
        match result {
            Ok(list) => {
                inbox.agents.try_set(list.agents);
                inbox.groups.try_set(list.groups);
            }
            Err(failure) => handle_failure(&failure, auth, |message| {
                inbox.list_error.try_set(Some(message));
            }),
        }
    });
}

/// Fetches the saved responses.
pub fn refresh_saved_responses(inbox: Inbox, auth: Auth) {
    spawn_local(async move {
        match api::saved_responses().await {
            Ok(list) => {
                inbox.saved_responses.try_set(list.responses);
            }
            Err(failure) => handle_failure(&failure, auth, |_| {}),
        }
    });
}

/// Fetches the contact panel of the open conversation.
pub fn refresh_contact(inbox: Inbox, auth: Auth) {
    let Some(id) = inbox.selected.get_untracked() else {
        return;
    };
    spawn_local(async move {
        let result = api::contact(id).await;
        if inbox.selected.try_get_untracked().flatten() != Some(id) {
            return;
        }
        match result {
            Ok(panel) => {
                inbox.contact.try_set(Some(panel));
            }
            Err(failure) => handle_failure(&failure, auth, |_| {}),
        }
    });
}

/// Marks the open conversation read for every agent (I4).
pub fn mark_read(inbox: Inbox, auth: Auth, id: ConversationId) {
    spawn_local(async move {
        let _ = act(inbox, auth, id, "read", &()).await;
    });
}

/// A conversation action (`read`, `status`, `assign`, `block`); applies the answered row.
/// Resolves with the error text to show, if it failed.
pub async fn act<B: Serialize>(
    inbox: Inbox,
    auth: Auth,
    id: ConversationId,
    action: &str,
    body: &B,
) -> Result<ConversationSummary, String> {
    match api::conversation_action(id, action, body, &inbox.csrf()).await {
        Ok(row) => {
            inbox.apply_row(row.clone());
            Ok(row)
        }
        Err(failure) => {
            let mut shown = failure.message();
            handle_failure(&failure, auth, |message| shown = message);
            Err(shown)
        }
    }
}

/// Deletes a conversation (admins); the live push removes it everywhere.
pub async fn delete_conversation(
    inbox: Inbox,
    auth: Auth,
    id: ConversationId,
) -> Result<(), String> {
    match api::delete_conversation(id, &inbox.csrf()).await {
        Ok(()) => {
            forget_conversation(inbox, id);
            Ok(())
        }
        Err(failure) => {
            let mut shown = failure.message();
            handle_failure(&failure, auth, |message| shown = message);
            Err(shown)
        }
    }
}

fn forget_conversation(inbox: Inbox, id: ConversationId) {
    inbox
        .conversations
        .try_update(|list| list.retain(|c| c.id != id));
    if inbox.selected.get_untracked() == Some(id) {
        inbox.selected.try_set(None);
        inbox.thread.try_set(Thread::default());
        inbox.contact.try_set(None);
    }
}

/// Selects a conversation and loads its thread.
pub fn open_conversation(inbox: Inbox, auth: Auth, id: ConversationId) {
    if inbox.selected.get_untracked() == Some(id) {
        // Clicking the open conversation again retries a thread that failed to load.
        if inbox.thread.with_untracked(|thread| thread.error.is_some()) {
            refresh_thread(inbox, auth);
        }
        return;
    }
    inbox.selected.set(Some(id));
    inbox.thread.set(Thread {
        conversation: Some(id),
        messages: Vec::new(),
        loading: true,
        error: None,
    });
    inbox.contact.set(None);
    refresh_contact(inbox, auth);
    // Read first, then the thread: a thread answer cannot carry the row from before the read.
    spawn_local(async move {
        let _ = act(inbox, auth, id, "read", &()).await;
        refresh_thread(inbox, auth);
    });
}

/// Fetches the open conversation again and merges it into the shown thread.
pub fn refresh_thread(inbox: Inbox, auth: Auth) {
    let Some(id) = inbox.selected.get_untracked() else {
        return;
    };
    spawn_local(async move {
        let result = api::conversation(id).await;
        let still_open = inbox.selected.try_get_untracked().flatten() == Some(id);
        if !still_open {
            return;
        }
        match result {
            Ok(detail) => {
                // The list row is kept current by pushes and action answers; a detail answer
                // may be older than those, so it only fills a row that is missing.
                if inbox.summary_untracked(id).is_none() {
                    inbox.apply_row(detail.conversation);
                }
                inbox.thread.try_update(|thread| {
                    if thread.conversation == Some(id) {
                        thread.messages = merge_thread(&thread.messages, detail.messages);
                        thread.loading = false;
                        thread.error = None;
                    }
                });
            }
            Err(failure) => handle_failure(&failure, auth, |message| {
                inbox.thread.try_update(|thread| {
                    if thread.conversation == Some(id) {
                        thread.loading = false;
                        thread.error = Some(message);
                    }
                });
            }),
        }
    });
}

/// Sends a reply and resolves with the stored message or the error text to show. The caller
/// keeps `reply.client_id` for retries of the same text, so a lost answer never stores it twice.
pub async fn send_reply(
    inbox: Inbox,
    auth: Auth,
    id: ConversationId,
    reply: SendReply,
) -> Result<AgentMessage, String> {
    let csrf = inbox.csrf();
    match api::send_reply(id, &reply, &csrf).await {
        Ok(message) => {
            if inbox.add_message(message.clone()) {
                refresh_thread(inbox, auth);
            }
            Ok(message)
        }
        Err(failure) => {
            let mut shown = failure.message();
            handle_failure(&failure, auth, |message| shown = message);
            Err(shown)
        }
    }
}

/// Tells the visitor and the other agents whether this agent is typing a reply (W7). Best
/// effort: a lost "typing" is not worth an error on screen, and the indicator lapses anyway.
pub fn set_typing(inbox: Inbox, id: ConversationId, typing: bool) {
    let csrf = inbox.csrf();
    spawn_local(async move {
        let _ = api::set_typing(id, &SetTyping { typing }, &csrf).await;
    });
}

/// Reacts to the agent socket.
pub fn on_live_event(inbox: Inbox, auth: Auth, event: LiveEvent) {
    match event {
        LiveEvent::Open => {
            inbox.live.try_set(LiveStatus::Connected);
            // Whatever happened while the socket was down (or before it first opened) is only
            // in the REST answers.
            refresh_list(inbox, auth);
            refresh_thread(inbox, auth);
            // Agents are fetched on the relay's `agents_changed`, sent once this socket counts
            // as online.
            refresh_saved_responses(inbox, auth);
        }
        LiveEvent::Frame(AgentServerFrame::ConversationUpdated { conversation }) => {
            inbox.apply_row(conversation);
        }
        LiveEvent::Frame(AgentServerFrame::MessageAdded { message }) => {
            let id = message.message.conversation_id;
            // The customer's side: the visitor, or the same person on another channel.
            let from_visitor = message.message.author.is_customer();
            inbox
                .typing
                .try_update(|list| end_typing_for(list, &message.message));
            if inbox.add_message(message) {
                refresh_thread(inbox, auth);
            }
            // A new customer message in the conversation the agent is looking at is read.
            let visible = web_sys::window()
                .and_then(|w| w.document())
                .is_some_and(|d| !d.hidden());
            if from_visitor && visible && inbox.selected.get_untracked() == Some(id) {
                mark_read(inbox, auth, id);
            }
        }
        LiveEvent::Frame(AgentServerFrame::DeliveryChanged {
            conversation_id,
            message_id,
            delivery,
        }) => {
            if inbox.delivery_changed(conversation_id, message_id, &delivery) {
                refresh_thread(inbox, auth);
            }
        }
        LiveEvent::Frame(AgentServerFrame::InboundMailChanged) => {
            inbox
                .inbound_mail_changes
                .try_update(|n| *n = n.wrapping_add(1));
        }
        LiveEvent::Frame(AgentServerFrame::ConversationDeleted { id }) => {
            forget_conversation(inbox, id);
        }
        LiveEvent::Frame(AgentServerFrame::AgentPresence {
            agent_id,
            online_since,
        }) => {
            inbox.agents.try_update(|agents| {
                if let Some(agent) = agents.iter_mut().find(|a| a.profile.id == agent_id) {
                    agent.online_since = online_since;
                }
            });
        }
        LiveEvent::Frame(AgentServerFrame::AgentsChanged) => refresh_agents(inbox, auth),
        LiveEvent::Frame(AgentServerFrame::SavedResponsesChanged) => {
            refresh_saved_responses(inbox, auth)
        }
        LiveEvent::Frame(AgentServerFrame::ContactUpdated { contact }) => {
            let shown = inbox.contact.with_untracked(|panel| {
                panel
                    .as_ref()
                    .and_then(|p| p.contact.as_ref())
                    .is_some_and(|c| c.id == contact.id)
            });
            if shown {
                refresh_contact(inbox, auth);
            }
        }
        LiveEvent::Frame(AgentServerFrame::Waiting { count }) => {
            inbox.waiting.try_set(Some(count));
        }
        LiveEvent::Frame(AgentServerFrame::Typing {
            conversation_id,
            agent_id,
            name,
            typing,
        }) => {
            // The relay also tells an agent about their own typing: not worth showing them.
            if agent_id == Some(inbox.me()) {
                return;
            }
            let now = crate::time::now();
            let typist = Typist {
                conversation_id,
                agent_id,
                name,
                until: now.saturating_add(TYPING_LAPSE_MS as i64),
            };
            inbox
                .typing
                .try_update(|list| apply_typing(list, typist, typing, now));
        }
        LiveEvent::Frame(AgentServerFrame::Resync) => {
            // Events were missed on a socket that stayed open: what they said is in the REST
            // answers.
            refresh_list(inbox, auth);
            refresh_thread(inbox, auth);
            refresh_agents(inbox, auth);
        }
        LiveEvent::Frame(AgentServerFrame::Unknown) => {}
        LiveEvent::Lost { was_open } => {
            inbox.live.try_set(LiveStatus::Reconnecting);
            if !was_open {
                // A handshake refused for an expired session looks like any network failure
                // to the browser; ask the REST API whether the session still exists.
                spawn_local(async move {
                    if let Err(failure) = api::me().await {
                        if failure.is_unauthorized() {
                            auth.session_ended();
                        }
                    }
                });
            }
        }
        LiveEvent::Unauthorized => auth.session_ended(),
        LiveEvent::Stopped => {
            inbox.live.try_set(LiveStatus::Stopped);
        }
    }
}

/// Logs out on the relay, then shows the login screen. Returns the error text if the relay
/// could not be reached (the agent stays logged in then).
pub async fn log_out(inbox: Inbox, auth: Auth) -> Result<(), String> {
    let csrf = inbox.session.with_untracked(|s| s.csrf_token.clone());
    match api::logout(&csrf).await {
        Ok(()) => {
            auth.logged_out();
            Ok(())
        }
        // Already logged out on the relay: same outcome.
        Err(failure) if failure.is_unauthorized() => {
            auth.logged_out();
            Ok(())
        }
        Err(failure) => Err(failure.message()),
    }
}

/// Sends an expired session back to the login screen; anything else goes to `show`.
fn handle_failure(failure: &Failure, auth: Auth, show: impl FnOnce(String)) {
    if failure.is_unauthorized() {
        auth.session_ended();
    } else {
        show(failure.message());
    }
}
