//! What the console does in answer to the agent and to the relay: fetch the list, open a
//! conversation, send a reply, react to the live socket.
//!
//! These functions glue [`crate::api`] and [`crate::live`] to the [`Inbox`] state and its merge
//! rules. They are plain functions over the `Copy` state so both views and socket callbacks can
//! call them; every async continuation checks that the answer is still wanted (the agent may
//! have opened another conversation or logged out meanwhile).

use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::agent::{AgentServerFrame, SendReply};
use natter_protocol::{ClientMessageId, ConversationId, Message};

use crate::api::{self, Failure};
use crate::app::Auth;
use crate::live::LiveEvent;
use crate::state::{merge_list, merge_thread, upsert_conversation, Inbox, LiveStatus, Thread};

/// Fetches the conversation list and merges it into the shown one.
pub fn refresh_list(inbox: Inbox, auth: Auth) {
    spawn_local(async move {
        match api::conversations().await {
            Ok(list) => {
                inbox.conversations.try_update(|shown| {
                    *shown = merge_list(shown, list.conversations);
                });
                inbox.list_loaded.try_set(true);
                inbox.list_error.try_set(None);
            }
            Err(failure) => handle_failure(&failure, auth, |message| {
                inbox.list_error.try_set(Some(message));
            }),
        }
    });
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
    refresh_thread(inbox, auth);
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
                inbox
                    .conversations
                    .try_update(|list| upsert_conversation(list, detail.conversation));
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
/// keeps `client_id` for retries of the same text, so a lost answer never stores it twice.
pub async fn send_reply(
    inbox: Inbox,
    auth: Auth,
    id: ConversationId,
    client_id: ClientMessageId,
    text: String,
) -> Result<Message, String> {
    let csrf = inbox.session.with_untracked(|s| s.csrf_token.clone());
    let reply = SendReply { client_id, text };
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

/// Reacts to the agent socket.
pub fn on_live_event(inbox: Inbox, auth: Auth, event: LiveEvent) {
    match event {
        LiveEvent::Open => {
            inbox.live.try_set(LiveStatus::Connected);
            // Whatever happened while the socket was down (or before it first opened) is only
            // in the REST answers.
            refresh_list(inbox, auth);
            refresh_thread(inbox, auth);
        }
        LiveEvent::Frame(AgentServerFrame::ConversationUpdated { conversation }) => {
            inbox
                .conversations
                .try_update(|list| upsert_conversation(list, conversation));
        }
        LiveEvent::Frame(AgentServerFrame::MessageAdded { message }) => {
            if inbox.add_message(message) {
                refresh_thread(inbox, auth);
            }
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
