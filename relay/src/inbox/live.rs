//! The agent socket (`GET /v1/agent/ws`): pushes every stored message and conversation change
//! to the console, so it never polls (I15).
//!
//! The socket is server → client only. It opens with `waiting` (I15), marks the agent online
//! while it lives (I3), and turns hub events into frames: rows are re-read from the store so
//! every console sees the same state. A subscriber that falls behind the hub is closed with a
//! reconnect code; the console then refetches, so nothing is silently skipped.

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use natter_protocol::agent::{AgentMessage, AgentServerFrame, ConversationSummary};
use natter_protocol::{close_code, AgentId, ConversationId};

use super::auth::AgentSession;
use super::conversations::present;
use super::InboxEvent;
use crate::error::{HttpError, StoreError};
use crate::events::{Event, Typist};
use crate::hub::HubRecvError;
use crate::metrics::{OpenSocket, SocketKind};
use crate::AppState;

pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Result<AgentSession, HttpError>,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Cross-site WebSocket hijacking: the session cookie is SameSite=Strict, and on top of
    // that a browser page from another origin may not open the agent socket.
    if !same_origin(&headers) {
        return HttpError::forbidden("the agent socket is only for the console's own origin")
            .into_response();
    }
    let limits = &state.config.limits;
    let upgrade = upgrade
        .read_buffer_size(limits.ws_read_buffer_bytes)
        .write_buffer_size(limits.ws_write_buffer_bytes)
        .max_message_size(limits.max_frame_bytes);
    match session {
        Ok(session) => upgrade.on_upgrade(move |socket| {
            // Tracked, so a shutdown waits until this socket has sent its close frame.
            let tasks = state.tasks.clone();
            tasks.track_future(serve(state, session, socket))
        }),
        // Accept, then close with a terminal code: a browser cannot read an HTTP 401 on a
        // WebSocket handshake, but it can read a close code and show the login form.
        Err(_) => upgrade.on_upgrade(|mut socket| async move {
            let _ = socket
                .send(close(close_code::UNAUTHORIZED, "please log in"))
                .await;
        }),
    }
}

/// Whether the request's Origin (if any) names the host it was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true; // not a browser
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, origin_host)| origin_host.eq_ignore_ascii_case(host))
}

async fn serve(state: AppState, session: AgentSession, socket: WebSocket) {
    let _open = OpenSocket::count(SocketKind::Agent);
    let (mut sink, mut stream) = socket.split();
    let mut subscription = state.hub.subscribe();
    let mut shutdown = state.shutdown.clone();
    let agent = session.agent.id;
    // Online while this socket lives, plus the grace period (I3).
    let _online = state.presence.clone().agent_connected(agent);
    tracing::debug!(agent = %session.agent.email, "agent socket open");
    // Presence is registered now: the console fetches agents (with presence) after this.
    if send(&mut sink, &AgentServerFrame::AgentsChanged)
        .await
        .is_err()
    {
        return;
    }
    // I15: how many conversations are waiting for this agent.
    match state.store.inbox_waiting_count(agent).await {
        Ok(count) => {
            if send(&mut sink, &AgentServerFrame::Waiting { count })
                .await
                .is_err()
            {
                return;
            }
        }
        Err(error) => tracing::error!(%error, "could not count waiting conversations"),
    }
    loop {
        tokio::select! {
            incoming = stream.next() => match incoming {
                // Nothing to read yet: pings are answered by axum; anything else is ignored.
                Some(Ok(WsMessage::Close(_))) => {
                    // RFC 6455 §5.5.1: the socket library queued the answer to the close (and
                    // refuses other frames now); flushing sends it, so the console's socket
                    // closes cleanly.
                    let _ = sink.flush().await;
                    break;
                }
                None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            event = subscription.recv() => {
                let event = match event {
                    Ok(event) => event,
                    // Missed events: the console re-fetches on this socket (closing it would
                    // only make a slow console reconnect and fall behind again).
                    Err(HubRecvError::Lagged) => {
                        tracing::debug!(agent = %session.agent.email, "agent socket missed events; resync");
                        crate::metrics::socket_caught_up(SocketKind::Agent);
                        if send(&mut sink, &AgentServerFrame::Resync).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    Err(HubRecvError::Closed) => break,
                };
                // An admin disabled this agent: end the socket now, not at the next request.
                if matches!(event.as_ref(), Event::Inbox(InboxEvent::AgentsChanged))
                    && !still_enabled(&state, agent).await
                {
                    let _ = sink.send(close(close_code::UNAUTHORIZED, "account disabled")).await;
                    break;
                }
                let frames = match frames_for(&state, agent, event.as_ref()).await {
                    Ok(frames) => frames,
                    Err(error) => {
                        // The console refetches everything after a reconnect.
                        tracing::error!(%error, "could not build an agent frame");
                        let _ = sink.send(close(close_code::GOING_AWAY, "internal error; reconnect")).await;
                        break;
                    }
                };
                for frame in frames {
                    if send(&mut sink, &frame).await.is_err() {
                        return;
                    }
                }
            }
            _ = shutdown.changed() => {
                let _ = sink.send(close(close_code::GOING_AWAY, "relay shutting down")).await;
                break;
            }
        }
    }
}

async fn still_enabled(state: &AppState, agent: natter_protocol::AgentId) -> bool {
    match state.store.inbox_agent(agent).await {
        Ok(Some(record)) => !record.disabled,
        Ok(None) => false,
        // A storage hiccup is no reason to log someone out.
        Err(_) => true,
    }
}

async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocket, WsMessage>,
    frame: &AgentServerFrame,
) -> Result<(), axum::Error> {
    let text = serde_json::to_string(frame).map_err(axum::Error::new)?;
    sink.send(WsMessage::Text(text.into())).await
}

/// The row as agents see it now, unless it is gone.
async fn row(
    state: &AppState,
    id: ConversationId,
) -> Result<Option<ConversationSummary>, StoreError> {
    Ok(state
        .store
        .inbox_conversation(id)
        .await?
        .map(|record| present(state, record)))
}

/// What one hub event means for a console.
async fn frames_for(
    state: &AppState,
    agent: AgentId,
    event: &Event,
) -> Result<Vec<AgentServerFrame>, StoreError> {
    let frames = match event {
        Event::Typing {
            conversation_id,
            typist,
            typing,
        } => {
            let (agent_id, name) = match typist {
                // The console names the visitor from the conversation's row.
                Typist::Visitor => (None, None),
                // Agents do not need their own typing echoed back.
                Typist::Agent { agent_id, .. } if *agent_id == agent => return Ok(Vec::new()),
                Typist::Agent { agent_id, name } => (Some(*agent_id), Some(name.clone())),
            };
            vec![AgentServerFrame::Typing {
                conversation_id: *conversation_id,
                agent_id,
                name,
                typing: *typing,
            }]
        }
        // Read receipts are for the visitor; agents see read state in the row (I4).
        // Presence gossip goes node to node; sockets hear the merged AgentPresence instead.
        Event::ReadByAgents { .. } | Event::Presence(_) => Vec::new(),
        Event::MessageStored {
            message,
            internal,
            unverified_sender,
            delivery,
            ..
        } => {
            let Some(conversation) = row(state, message.conversation_id).await? else {
                return Ok(Vec::new());
            };
            // A blocked contact's messages are stored, but reach no list and no notification (I10).
            if conversation.state.blocked {
                return Ok(Vec::new());
            }
            vec![
                AgentServerFrame::MessageAdded {
                    message: AgentMessage {
                        message: message.clone(),
                        internal: *internal,
                        delivery: delivery.clone(),
                        unverified_sender: unverified_sender.clone(),
                    },
                },
                AgentServerFrame::ConversationUpdated { conversation },
            ]
        }
        Event::Inbox(InboxEvent::ConversationChanged(id)) => match row(state, *id).await? {
            Some(conversation) => vec![AgentServerFrame::ConversationUpdated { conversation }],
            None => Vec::new(),
        },
        Event::Inbox(InboxEvent::ConversationDeleted(id)) => {
            vec![AgentServerFrame::ConversationDeleted { id: *id }]
        }
        Event::Inbox(InboxEvent::VisitorPresence {
            site,
            visitor_id,
            conversation,
        }) => {
            let id = match conversation {
                Some(id) => Some(*id),
                None => state
                    .store
                    .visitor_conversation(site, visitor_id)
                    .await?
                    .map(|record| record.summary.id),
            };
            match id {
                Some(id) => match row(state, id).await? {
                    Some(conversation)
                        if conversation.message_count > 0 && !conversation.state.blocked =>
                    {
                        vec![AgentServerFrame::ConversationUpdated { conversation }]
                    }
                    _ => Vec::new(),
                },
                None => Vec::new(),
            }
        }
        Event::Inbox(InboxEvent::AgentPresence {
            agent_id,
            online_since,
        }) => {
            vec![AgentServerFrame::AgentPresence {
                agent_id: *agent_id,
                online_since: *online_since,
            }]
        }
        Event::Inbox(InboxEvent::AgentsChanged) => vec![AgentServerFrame::AgentsChanged],
        Event::Inbox(InboxEvent::SavedResponsesChanged) => {
            vec![AgentServerFrame::SavedResponsesChanged]
        }
        Event::Inbox(InboxEvent::ContactUpdated(contact)) => {
            vec![AgentServerFrame::ContactUpdated {
                contact: contact.clone(),
            }]
        }
        Event::Inbox(InboxEvent::DeliveryChanged {
            conversation_id,
            message_id,
            delivery,
        }) => vec![AgentServerFrame::DeliveryChanged {
            conversation_id: *conversation_id,
            message_id: *message_id,
            delivery: delivery.clone(),
        }],
        Event::Inbox(InboxEvent::InboundMailChanged) => {
            vec![AgentServerFrame::InboundMailChanged]
        }
    };
    Ok(frames)
}

fn close(code: u16, reason: &'static str) -> WsMessage {
    WsMessage::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
