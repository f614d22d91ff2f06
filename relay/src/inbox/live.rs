//! The agent socket (`GET /v1/agent/ws`): pushes every stored message and conversation change
//! to the console, so it never polls (I15).
//!
//! The socket is server → client only for now. A subscriber that falls behind the bus is
//! closed with a reconnect code; the console then refetches, so nothing is silently skipped.

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use natter_protocol::agent::AgentServerFrame;
use natter_protocol::close_code;

use super::auth::AgentSession;
use crate::bus::{BusEvent, BusRecvError};
use crate::error::HttpError;
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
        Ok(session) => upgrade.on_upgrade(move |socket| serve(state, session, socket)),
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
    let (mut sink, mut stream) = socket.split();
    let mut subscription = state.bus.subscribe();
    let mut shutdown = state.shutdown.clone();
    tracing::debug!(agent = %session.agent.email, "agent socket open");
    loop {
        tokio::select! {
            incoming = stream.next() => match incoming {
                // Nothing to read yet: pings are answered by axum; anything else is ignored.
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            event = subscription.recv() => {
                let event = match event {
                    Ok(event) => event,
                    Err(BusRecvError::Lagged) => {
                        let _ = sink.send(close(close_code::GOING_AWAY, "fell behind; reconnect")).await;
                        break;
                    }
                    Err(BusRecvError::Closed) => break,
                };
                let BusEvent::MessageStored { conversation, message, .. } = event.as_ref();
                let frames = [
                    AgentServerFrame::MessageAdded { message: message.clone() },
                    AgentServerFrame::ConversationUpdated { conversation: conversation.clone() },
                ];
                for frame in frames {
                    let Ok(text) = serde_json::to_string(&frame) else { continue };
                    if sink.send(WsMessage::Text(text.into())).await.is_err() {
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

fn close(code: u16, reason: &'static str) -> WsMessage {
    WsMessage::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
