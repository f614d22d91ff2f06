//! The widget's door: the visitor socket (`GET /v1/visitor/ws`). Hello, identity, history,
//! sending, live delivery; every message ends in `conversations::append`.
//!
//! One task per socket. It reads client frames and hub events in one `select!`, so frames it
//! writes are always in order: an `Ack` for a message is written before any later event.
//! Malformed frames get an error frame and the socket stays open (S4); only protocol-level
//! failures (no hello, unknown site, wrong version) close it, with a code from
//! `natter_protocol::close_code` that tells the widget whether to reconnect.
//!
//! The task is generic over the socket's `Sink` and `Stream` halves, so its frame handling is
//! unit-tested over channels (`tests.rs`) as well as over real sockets (`tests/relay`).
//!
//! - `out`: writing frames; `history`: the welcome and resume; `frames`: one function per
//!   client frame.

mod frames;
mod history;
mod out;
#[cfg(test)]
mod tests;

use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use futures_util::{Sink, Stream, StreamExt};
use natter_protocol::visitor::{ClientFrame, LinkOutcome, ServerFrame};
use natter_protocol::{close_code, ConversationId, ErrorCode, PROTOCOL_VERSION};

use crate::events::{ConnectionId, Event, InboxEvent, Typist};
use crate::hub::HubRecvError;
use crate::identity::VisitorId;
use crate::metrics::{OpenSocket, SocketKind};
use crate::store::StoreError;
use crate::typing::TypingThrottle;
use crate::AppState;
use frames::After;
use history::Remaining;
use out::Out;

pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let limits = &state.config.limits;
    upgrade
        .read_buffer_size(limits.ws_read_buffer_bytes)
        .write_buffer_size(limits.ws_write_buffer_bytes)
        .max_message_size(limits.max_frame_bytes)
        .on_upgrade(move |socket: WebSocket| {
            let (sink, stream) = socket.split();
            // Tracked, so a shutdown waits until this socket has sent its close frame.
            let tasks = state.tasks.clone();
            tasks.track_future(serve(state, origin, sink, stream))
        })
}

/// Who is on the other end, once they said hello.
pub struct Visitor {
    site: String,
    id: VisitorId,
    /// The signed id as the widget holds it (echoed in every welcome).
    token: String,
    conversation: Option<ConversationId>,
    /// Drops "still typing" repeats that come too fast (W7).
    typing: TypingThrottle,
}

/// What a hello asked for, once it passed the checks.
struct Hello {
    site: String,
    visitor: Option<String>,
    after_seq: Option<u64>,
    lang: Option<String>,
    link: Option<String>,
}

/// Serves one visitor socket until it closes or the relay shuts down.
pub async fn serve<S, R>(state: AppState, origin: Option<String>, sink: S, mut stream: R)
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
    R: Stream<Item = Result<WsMessage, axum::Error>> + Unpin + Send,
{
    let _open = OpenSocket::count(SocketKind::Visitor);
    let connection = ConnectionId::random();
    let mut out = Out::new(sink);
    // Subscribe before reading history, so nothing stored in between is missed; the widget
    // drops anything it already has by message id.
    let mut subscription = state.hub.subscribe();
    let Some(hello) = receive_hello(&state, origin.as_deref(), &mut stream, &mut out).await else {
        return;
    };
    let Some(mut visitor) = start_session(&state, hello, &mut out).await else {
        return;
    };
    // Online (green in the inbox, I3) while this socket lives, plus a grace period.
    let _online =
        state
            .presence
            .clone()
            .visitor_connected(&visitor.site, &visitor.id, visitor.conversation);
    // Whether anyone can answer now (W6), and again whenever that changes.
    let mut agents_online = state.presence.any_agent_online();
    if out
        .send(&ServerFrame::Availability { agents_online })
        .await
        .is_err()
    {
        return;
    }
    let mut shutdown = state.shutdown.clone();
    loop {
        let went_on = tokio::select! {
            incoming = stream.next() => {
                on_client_message(&state, &mut visitor, connection, incoming, &mut out).await
            }
            event = subscription.recv() => {
                on_event(&state, &mut visitor, connection, event, &mut agents_online, &mut out).await
            }
            _ = shutdown.changed() => {
                out.close(close_code::GOING_AWAY, "relay shutting down").await;
                false
            }
        };
        if !went_on {
            break;
        }
    }
}

/// Waits for the hello and checks it (version, site, origin). `None`: refused and closed.
async fn receive_hello<S, R>(
    state: &AppState,
    origin: Option<&str>,
    stream: &mut R,
    out: &mut Out<S>,
) -> Option<Hello>
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
    R: Stream<Item = Result<WsMessage, axum::Error>> + Unpin + Send,
{
    let hello_timeout = Duration::from_secs(state.config.limits.hello_timeout_secs);
    let first = match tokio::time::timeout(hello_timeout, stream.next()).await {
        Ok(Some(Ok(WsMessage::Text(text)))) => serde_json::from_str::<ClientFrame>(&text).ok(),
        Ok(_) => return None,
        Err(_) => {
            out.close(close_code::HELLO_TIMEOUT, "no hello in time")
                .await;
            return None;
        }
    };
    let Some(ClientFrame::Hello {
        v,
        site,
        visitor,
        after_seq,
        lang,
        link,
    }) = first
    else {
        let message = "the first frame must be hello";
        let (code, reason) = (close_code::HELLO_TIMEOUT, "hello required");
        out.refuse(ErrorCode::HelloRequired, message, code, reason)
            .await;
        return None;
    };
    if v != PROTOCOL_VERSION {
        let message = "this widget version is not supported";
        let (code, reason) = (close_code::UPGRADE_REQUIRED, "upgrade required");
        out.refuse(ErrorCode::UpgradeRequired, message, code, reason)
            .await;
        return None;
    }
    let allowed = state
        .config
        .site(&site)
        .is_some_and(|config| config.allows_origin(origin));
    if !allowed {
        tracing::info!(%site, ?origin, "refused widget socket: unknown site or origin");
        let message = "this site is not set up for chat";
        let (code, reason) = (close_code::UNKNOWN_SITE, "unknown site");
        out.refuse(ErrorCode::UnknownSite, message, code, reason)
            .await;
        return None;
    }
    Some(Hello {
        site,
        visitor,
        after_seq,
        lang,
        link,
    })
}

/// Resolves the visitor and sends the welcome (and, on a resume, everything after it).
/// `None`: the socket is gone or the store failed (then the widget was told to reconnect).
async fn start_session<S>(state: &AppState, hello: Hello, out: &mut Out<S>) -> Option<Visitor>
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
{
    let site = hello.site.clone();
    let (id, token, (frame, conversation, remaining)) = match load_session(state, &hello).await {
        Ok(loaded) => loaded,
        Err(error) => {
            tracing::error!(%error, "could not load a visitor's history");
            out.unavailable().await;
            return None;
        }
    };
    out.send(&frame).await.ok()?;
    send_remaining(state, remaining, out).await?;
    Some(Visitor {
        site,
        id,
        token,
        conversation,
        typing: TypingThrottle::default(),
    })
}

/// The visitor, their language and magic link taken in, and their welcome.
async fn load_session(
    state: &AppState,
    hello: &Hello,
) -> Result<(VisitorId, String, history::Welcome), StoreError> {
    let site = &hello.site;
    let (id, token) = history::resolve_visitor(state, site, hello.visitor.as_deref()).await?;
    history::remember_lang(state, &id, hello.lang.as_deref()).await?;
    let mut after_seq = hello.after_seq;
    let outcome = match hello.link.as_deref() {
        Some(link) => Some(history::open_link(state, site, &id, link).await?),
        None => None,
    };
    if outcome == Some(LinkOutcome::Opened) {
        // The widget's highest seq was of the thread it showed before the link.
        after_seq = None;
    }
    let (mut frame, conversation, remaining) =
        history::welcome(state, site, &id, &token, after_seq).await?;
    if let ServerFrame::Welcome { link, .. } = &mut frame {
        *link = outcome;
    }
    Ok((id, token, (frame, conversation, remaining)))
}

/// Sends the rest of a resume as `message` frames, a page at a time, until none is left.
/// Bounded by the conversation's length; `None`: the socket is gone or the store failed.
async fn send_remaining<S>(
    state: &AppState,
    mut remaining: Option<Remaining>,
    out: &mut Out<S>,
) -> Option<()>
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
{
    while let Some(from) = remaining {
        let (messages, next) = match history::next_page(state, from).await {
            Ok(page) => page,
            Err(error) => {
                tracing::error!(%error, "could not load missed messages");
                out.unavailable().await;
                return None;
            }
        };
        for message in messages {
            out.send(&ServerFrame::Message { message }).await.ok()?;
        }
        remaining = next;
    }
    Some(())
}

/// One read from the socket. `false`: stop serving it.
async fn on_client_message<S>(
    state: &AppState,
    visitor: &mut Visitor,
    connection: ConnectionId,
    incoming: Option<Result<WsMessage, axum::Error>>,
    out: &mut Out<S>,
) -> bool
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
{
    let text = match incoming {
        Some(Ok(WsMessage::Text(text))) => text,
        Some(Ok(WsMessage::Binary(_))) => {
            out.error(ErrorCode::BadFrame, "frames must be JSON text")
                .await;
            return true;
        }
        Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => return true,
        Some(Ok(WsMessage::Close(_))) => {
            // RFC 6455 §5.5.1: answer the client's close, so its socket closes cleanly.
            out.answer_close().await;
            return false;
        }
        None => return false,
        Some(Err(error)) if out::is_too_large(&error) => {
            let limit = state.config.limits.max_frame_bytes;
            out.refuse(
                ErrorCode::InvalidInput,
                &format!("a frame may be at most {limit} bytes"),
                out::MESSAGE_TOO_BIG,
                "frame too large",
            )
            .await;
            return false;
        }
        Some(Err(error)) => {
            tracing::debug!(%error, "visitor socket read failed");
            return false;
        }
    };
    matches!(
        frames::handle(state, visitor, connection, &text, out).await,
        Ok(After::Continue)
    )
}

/// One hub event. `false`: stop serving the socket.
async fn on_event<S>(
    state: &AppState,
    visitor: &mut Visitor,
    connection: ConnectionId,
    event: Result<std::sync::Arc<Event>, HubRecvError>,
    agents_online: &mut bool,
    out: &mut Out<S>,
) -> bool
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
{
    let event = match event {
        Ok(event) => event,
        // Missed events: caught up from the store on this socket, not closed (a socket closed
        // whenever it is slow would reconnect only to fall behind again).
        Err(HubRecvError::Lagged) => return catch_up(state, visitor, agents_online, out).await,
        Err(HubRecvError::Closed) => return false,
    };
    let frame = match event.as_ref() {
        Event::Inbox(InboxEvent::AgentPresence { .. }) => {
            let now_online = state.presence.any_agent_online();
            if now_online == *agents_online {
                return true;
            }
            *agents_online = now_online;
            Some(ServerFrame::Availability {
                agents_online: now_online,
            })
        }
        other => frame_for(visitor, connection, other),
    };
    match frame {
        Some(frame) => out.send(&frame).await.is_ok(),
        None => true,
    }
}

/// After missed hub events: every message of the visitor's conversation after the last one
/// this socket sent without a gap, the agents' read mark and the availability, from the
/// store and presence. `false`: the socket is gone or the store failed (the widget was told
/// to reconnect).
async fn catch_up<S>(
    state: &AppState,
    visitor: &mut Visitor,
    agents_online: &mut bool,
    out: &mut Out<S>,
) -> bool
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
{
    tracing::debug!(visitor = %visitor.id.0, "visitor socket missed events; catching up");
    crate::metrics::socket_caught_up(SocketKind::Visitor);
    let conversation = match visitor.conversation {
        Some(id) => Some(id),
        // The conversation may have started in what was missed.
        None => match state
            .store
            .visitor_conversation(&visitor.site, &visitor.id)
            .await
        {
            Ok(record) => record.map(|record| record.summary.id),
            Err(error) => {
                tracing::error!(%error, "could not catch a visitor socket up");
                out.unavailable().await;
                return false;
            }
        },
    };
    if let Some(id) = conversation {
        visitor.conversation = Some(id);
        let from = history::Remaining {
            conversation: id,
            after: out.sent_up_to(id),
        };
        if send_remaining(state, Some(from), out).await.is_none() {
            return false;
        }
        let read = match state.store.read_marks(id).await {
            Ok(marks) => marks.read_by_agents,
            Err(error) => {
                tracing::error!(%error, "could not catch a visitor socket up");
                out.unavailable().await;
                return false;
            }
        };
        let frame = ServerFrame::Read { up_to_seq: read };
        if read > 0 && out.send(&frame).await.is_err() {
            return false;
        }
    }
    *agents_online = state.presence.any_agent_online();
    let frame = ServerFrame::Availability {
        agents_online: *agents_online,
    };
    out.send(&frame).await.is_ok()
}

/// The frame an event means for this visitor, if any: their conversation's messages (not
/// internal comments, not their own from this socket), agents typing in it, read marks.
fn frame_for(
    visitor: &mut Visitor,
    connection: ConnectionId,
    event: &Event,
) -> Option<ServerFrame> {
    match event {
        Event::Typing {
            conversation_id,
            typist: Typist::Agent { name, .. },
            typing,
        } if visitor.conversation == Some(*conversation_id) => Some(ServerFrame::Typing {
            name: name.clone(),
            typing: *typing,
        }),
        Event::ReadByAgents {
            conversation_id,
            up_to_seq,
        } if visitor.conversation == Some(*conversation_id) => Some(ServerFrame::Read {
            up_to_seq: *up_to_seq,
        }),
        Event::MessageStored {
            site,
            visitor_id,
            message,
            origin,
            internal,
            ..
        } => {
            // This visitor's conversation (possibly started on another device of the same
            // verified contact), or the first one another tab just started.
            let mine = visitor.conversation == Some(message.conversation_id)
                || (*site == visitor.site && visitor_id.as_ref() == Some(&visitor.id));
            if *internal || !mine || *origin == Some(connection) {
                return None;
            }
            visitor.conversation = Some(message.conversation_id);
            Some(ServerFrame::Message {
                message: message.clone(),
            })
        }
        _ => None,
    }
}
