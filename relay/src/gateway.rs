//! The visitor socket (`GET /v1/visitor/ws`): hello, identity, history, sending, live delivery.
//!
//! One task per socket. It reads client frames and bus events in one `select!`, so frames it
//! writes are always in order: an `Ack` for a message is written before any later event.
//! Malformed frames get an error frame and the socket stays open (S4); only protocol-level
//! failures (no hello, unknown site, wrong version) close it, with a code from
//! `natter_protocol::close_code` that tells the widget whether to reconnect.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use natter_protocol::visitor::{AttachmentRules, ClientFrame, ServerFrame, WidgetSettings};
use natter_protocol::{close_code, Author, Channel, ConversationId, ErrorCode, PROTOCOL_VERSION};

use crate::bus::{BusEvent, BusRecvError, ConnectionId, Typist};
use crate::clock::now_millis;
use crate::contacts::{self, ContactDetails};
use crate::conversations::{self, AppendError, Incoming};
use crate::error::StoreError;
use crate::identity::VisitorId;
use crate::inbox::InboxEvent;
use crate::store::ReadMarks;
use crate::typing::TypingThrottle;
use crate::AppState;

type Sink = SplitSink<WebSocket, WsMessage>;

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
        .on_upgrade(move |socket| serve(state, origin, socket))
}

/// Who is on the other end, once they said hello.
struct Visitor {
    site: String,
    id: VisitorId,
    /// The signed id as the widget holds it (echoed in every welcome).
    token: String,
    conversation: Option<ConversationId>,
    /// Drops "still typing" repeats that come too fast (W7).
    typing: TypingThrottle,
}

async fn serve(state: AppState, origin: Option<String>, socket: WebSocket) {
    let connection = ConnectionId::next();
    let (mut sink, mut stream) = socket.split();
    // Subscribe before reading history, so nothing stored in between is missed; the widget
    // drops anything it already has by message id.
    let mut subscription = state.bus.subscribe();

    let hello_timeout = Duration::from_secs(state.config.limits.hello_timeout_secs);
    let hello = match tokio::time::timeout(hello_timeout, stream.next()).await {
        Ok(Some(Ok(WsMessage::Text(text)))) => serde_json::from_str::<ClientFrame>(&text).ok(),
        Ok(_) => return,
        Err(_) => {
            let _ = sink
                .send(close(close_code::HELLO_TIMEOUT, "no hello in time"))
                .await;
            return;
        }
    };
    let Some(ClientFrame::Hello {
        v,
        site,
        visitor,
        after_seq,
    }) = hello
    else {
        send_error(
            &mut sink,
            ErrorCode::HelloRequired,
            "the first frame must be hello",
        )
        .await;
        let _ = sink
            .send(close(close_code::HELLO_TIMEOUT, "hello required"))
            .await;
        return;
    };
    if v != PROTOCOL_VERSION {
        send_error(
            &mut sink,
            ErrorCode::UpgradeRequired,
            "this widget version is not supported",
        )
        .await;
        let _ = sink
            .send(close(close_code::UPGRADE_REQUIRED, "upgrade required"))
            .await;
        return;
    }
    let allowed = state
        .config
        .site(&site)
        .is_some_and(|config| config.allows_origin(origin.as_deref()));
    if !allowed {
        tracing::info!(%site, ?origin, "refused widget socket: unknown site or origin");
        send_error(
            &mut sink,
            ErrorCode::UnknownSite,
            "this site is not set up for chat",
        )
        .await;
        let _ = sink
            .send(close(close_code::UNKNOWN_SITE, "unknown site"))
            .await;
        return;
    }

    let resolved = match resolve_visitor(&state, &site, visitor.as_deref()).await {
        Ok((id, token)) => {
            let mut visitor = Visitor {
                site,
                id,
                token,
                conversation: None,
                typing: TypingThrottle::default(),
            };
            welcome(&state, &mut visitor, after_seq)
                .await
                .map(|frame| (visitor, frame))
        }
        Err(error) => Err(error),
    };
    let (mut visitor, welcome) = match resolved {
        Ok(resolved) => resolved,
        Err(error) => {
            tracing::error!(%error, "could not load a visitor's history");
            send_error(
                &mut sink,
                ErrorCode::Internal,
                "chat is unavailable right now",
            )
            .await;
            let _ = sink
                .send(close(close_code::GOING_AWAY, "internal error"))
                .await;
            return;
        }
    };
    if send(&mut sink, &welcome).await.is_err() {
        return;
    }
    // Online (green in the inbox, I3) while this socket lives, plus a grace period.
    let _online =
        state
            .presence
            .visitor_connected(&visitor.site, &visitor.id, visitor.conversation);
    // Whether anyone can answer now (W6), and again whenever that changes.
    let mut agents_online = state.presence.any_agent_online();
    if send(&mut sink, &ServerFrame::Availability { agents_online })
        .await
        .is_err()
    {
        return;
    }

    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            incoming = stream.next() => {
                let text = match incoming {
                    Some(Ok(WsMessage::Text(text))) => text,
                    Some(Ok(WsMessage::Binary(_))) => {
                        send_error(&mut sink, ErrorCode::BadFrame, "frames must be JSON text").await;
                        continue;
                    }
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                    Some(Ok(WsMessage::Close(_))) | None => break,
                    Some(Err(error)) => {
                        tracing::debug!(%error, "visitor socket read failed");
                        break;
                    }
                };
                if handle_frame(&state, &mut visitor, connection, &text, &mut sink).await.is_err() {
                    break;
                }
            }
            event = subscription.recv() => match event {
                                Ok(event) => {
                    if let BusEvent::Inbox(InboxEvent::AgentPresence { .. }) = event.as_ref() {
                        let now_online = state.presence.any_agent_online();
                        if now_online != agents_online {
                            agents_online = now_online;
                            let frame = ServerFrame::Availability { agents_online };
                            if send(&mut sink, &frame).await.is_err() {
                                break;
                            }
                        }
                        continue;
                    }
                    if let Some(frame) = conversation_signal(&visitor, event.as_ref()) {
                        if send(&mut sink, &frame).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    // Other inbox events and internal comments (I7) are for agents only.
                    let BusEvent::MessageStored { site, visitor_id, message, origin, internal, .. } = event.as_ref() else {
                        continue;
                    };
                    // This visitor's conversation (possibly started on another device of the
                    // same verified contact), or the first one another tab just started.
                    let mine = visitor.conversation == Some(message.conversation_id)
                        || (*site == visitor.site && *visitor_id == visitor.id);
                    if *internal || !mine || *origin == Some(connection) {
                        continue;
                    }
                    visitor.conversation = Some(message.conversation_id);
                    if send(&mut sink, &ServerFrame::Message { message: message.clone() }).await.is_err() {
                        break;
                    }
                }
                // Missed events: the widget reconnects and resumes from its highest seq.
                Err(BusRecvError::Lagged) => {
                    let _ = sink.send(close(close_code::GOING_AWAY, "fell behind; reconnect")).await;
                    break;
                }
                Err(BusRecvError::Closed) => break,
            },
            _ = shutdown.changed() => {
                let _ = sink.send(close(close_code::GOING_AWAY, "relay shutting down")).await;
                break;
            }
        }
    }
}

/// The frame for an agent typing in, or agents having read, this visitor's conversation.
fn conversation_signal(visitor: &Visitor, event: &BusEvent) -> Option<ServerFrame> {
    match event {
        BusEvent::Typing {
            conversation_id,
            typist: Typist::Agent { name, .. },
            typing,
        } if visitor.conversation == Some(*conversation_id) => Some(ServerFrame::Typing {
            name: name.clone(),
            typing: *typing,
        }),
        BusEvent::ReadByAgents {
            conversation_id,
            up_to_seq,
        } if visitor.conversation == Some(*conversation_id) => Some(ServerFrame::Read {
            up_to_seq: *up_to_seq,
        }),
        _ => None,
    }
}

/// What the widget needs to know about its site's configuration.
fn widget_settings(state: &AppState, site: &str) -> WidgetSettings {
    state
        .config
        .site(site)
        .map(|site| WidgetSettings {
            consent_required: site.consent_required,
            form: site.form.clone(),
            theme: site.theme.clone(),
            away_message: site.away_message.clone(),
            attachments: AttachmentRules {
                max_bytes: state.config.limits.max_attachment_bytes,
                allowed_types: state.config.attachments.allowed_types.clone(),
                max_files: Some(state.config.limits.max_attachments_per_message),
            },
        })
        .unwrap_or_default()
}

/// The visitor a hello names, or a fresh one. A missing, tampered or foreign id, or one that
/// was forgotten at logout, is not an error: the visitor simply starts afresh.
async fn resolve_visitor(
    state: &AppState,
    site: &str,
    token: Option<&str>,
) -> Result<(VisitorId, String), StoreError> {
    if let Some(token) = token {
        if let Some(id) = state.visitor_signer.verify(site, token) {
            if state.store.touch_visitor(site, &id, now_millis()).await? {
                return Ok((id, token.to_owned()));
            }
        }
    }
    let (id, token) = state.visitor_signer.issue(site);
    state.store.touch_visitor(site, &id, now_millis()).await?;
    Ok((id, token))
}

async fn welcome(
    state: &AppState,
    visitor: &mut Visitor,
    after_seq: Option<u64>,
) -> Result<ServerFrame, StoreError> {
    let conversation = state
        .store
        .visitor_conversation(&visitor.site, &visitor.id)
        .await?;
    visitor.conversation = conversation.as_ref().map(|record| record.summary.id);
    let page = state.config.limits.history_page_size;
    let (messages, has_earlier) = match (&conversation, after_seq) {
        (None, _) => (Vec::new(), false),
        (Some(record), Some(after)) => {
            // Resume after a gap. More than a page missing: send the newest page instead and
            // let the widget page back, rather than an unbounded frame.
            let missing = record.summary.message_count.saturating_sub(after);
            if missing > u64::from(page) {
                state.store.recent_messages(record.summary.id, page).await?
            } else {
                (
                    state
                        .store
                        .messages_after(record.summary.id, after, page)
                        .await?,
                    after > 0,
                )
            }
        }
        (Some(record), None) => state.store.recent_messages(record.summary.id, page).await?,
    };
    let marks = match &conversation {
        Some(record) => state.store.read_marks(record.summary.id).await?,
        None => ReadMarks::default(),
    };
    let known_email = state
        .store
        .visitor_contact(&visitor.id)
        .await?
        .map(|contact| contact.email);
    Ok(ServerFrame::Welcome {
        v: PROTOCOL_VERSION,
        visitor: visitor.token.clone(),
        conversation_id: visitor.conversation,
        messages,
        has_earlier,
        settings: widget_settings(state, &visitor.site),
        seen_up_to: marks.seen_by_visitor,
        read_up_to: marks.read_by_agents,
        known_email,
    })
}

/// Passes the visitor's typing on to agents (W7): only once there is a conversation, never
/// for a blocked contact (I10), and not faster than `typing_repeat_ms`.
async fn visitor_typing(state: &AppState, visitor: &mut Visitor, typing: bool) {
    let Some(conversation_id) = visitor.conversation else {
        return;
    };
    let repeat = Duration::from_millis(state.config.limits.typing_repeat_ms);
    if !visitor
        .typing
        .pass(typing, std::time::Instant::now(), repeat)
    {
        return;
    }
    if crate::inbox::conversations::blocked_notice(state, conversation_id)
        .await
        .is_some()
    {
        return;
    }
    state.bus.publish(BusEvent::Typing {
        conversation_id,
        typist: Typist::Visitor,
        typing,
    });
}

/// Handles one text frame after hello. `Err` means the socket is gone.
async fn handle_frame(
    state: &AppState,
    visitor: &mut Visitor,
    connection: ConnectionId,
    text: &str,
    sink: &mut Sink,
) -> Result<(), axum::Error> {
    let frame = match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) => frame,
        Err(error) => {
            send_error(
                sink,
                ErrorCode::BadFrame,
                &format!("not a valid frame: {error}"),
            )
            .await;
            return Ok(());
        }
    };
    match frame {
        ClientFrame::Hello { .. } => {
            send_error(sink, ErrorCode::BadFrame, "hello was already received").await;
            Ok(())
        }
        ClientFrame::Identify {
            email,
            name,
            phone,
            company,
            token,
        } => {
            let details = ContactDetails {
                email,
                name,
                phone,
                company,
            };
            identify(state, visitor, details, token, sink).await
        }
        ClientFrame::Typing { typing } => {
            visitor_typing(state, visitor, typing).await;
            Ok(())
        }
        ClientFrame::Seen { up_to_seq } => {
            // Before the first message there is nothing to have seen.
            if let Some(conversation) = visitor.conversation {
                if let Err(error) = state
                    .store
                    .mark_seen_by_visitor(conversation, up_to_seq)
                    .await
                {
                    tracing::error!(%error, "could not record what the visitor has seen");
                }
            }
            Ok(())
        }
        ClientFrame::SubmitForm {
            email,
            name,
            phone,
            company,
        } => {
            let submitted = ContactDetails {
                email,
                name,
                phone,
                company,
            };
            submit_form(state, visitor, submitted, sink).await
        }
        ClientFrame::Forget => {
            if let Err(error) = state.store.forget_visitor(&visitor.id, now_millis()).await {
                tracing::error!(%error, "could not forget a visitor");
                send_error(
                    sink,
                    ErrorCode::Internal,
                    "could not log out of the chat; please retry",
                )
                .await;
                return Ok(());
            }
            send(sink, &ServerFrame::Forgotten).await?;
            // This visitor id is retired; the widget reconnects as a new visitor.
            sink.send(close(close_code::GOING_AWAY, "visitor forgotten"))
                .await?;
            Err(axum::Error::new(std::io::Error::other("visitor forgotten")))
        }
        ClientFrame::Send {
            client_id,
            text,
            attachments,
        } => {
            // Validate before creating a conversation, so bad input leaves no trace.
            let limits = &state.config.limits;
            if let Err(invalid) = conversations::validate(&text, attachments.len(), limits) {
                return send_error_for(
                    sink,
                    ErrorCode::InvalidInput,
                    &invalid.to_string(),
                    client_id,
                )
                .await;
            }
            // The visitor's conversation may have been deleted by an admin while they were
            // connected: then the message starts a new conversation instead of being refused.
            let mut retried = false;
            let appended = loop {
                let conversation_id = match visitor.conversation {
                    Some(id) => id,
                    None => match state
                        .store
                        .open_visitor_conversation(&visitor.site, &visitor.id, now_millis())
                        .await
                    {
                        Ok(record) => {
                            visitor.conversation = Some(record.summary.id);
                            record.summary.id
                        }
                        Err(error) => {
                            tracing::error!(%error, "could not open a conversation");
                            return send_error_for(
                                sink,
                                ErrorCode::Internal,
                                "could not store your message; it will be retried",
                                client_id,
                            )
                            .await;
                        }
                    },
                };
                let incoming = Incoming {
                    conversation_id,
                    client_id,
                    author: Author::Visitor,
                    channel: Channel::Chat,
                    text: text.clone(),
                    attachments: attachments.clone(),
                    origin: Some(connection),
                };
                match conversations::append(state, incoming).await {
                    Err(AppendError::NotFound) if !retried => {
                        retried = true;
                        visitor.conversation = None;
                    }
                    other => break other,
                }
            };
            match appended {
                Ok(message) => {
                    let conversation = message.conversation_id;
                    send(sink, &ServerFrame::Ack { client_id, message }).await?;
                    // Blocked (I10): stored, but the visitor gets a neutral notice.
                    match crate::inbox::conversations::blocked_notice(state, conversation).await {
                        Some(notice) => {
                            send_error_for(sink, ErrorCode::Blocked, notice, client_id).await
                        }
                        None => Ok(()),
                    }
                }
                Err(AppendError::Store(error)) => {
                    tracing::error!(%error, "could not store a visitor message");
                    send_error_for(
                        sink,
                        ErrorCode::Internal,
                        "could not store your message; it will be retried",
                        client_id,
                    )
                    .await
                }
                Err(invalid) => {
                    send_error_for(
                        sink,
                        ErrorCode::InvalidInput,
                        &invalid.to_string(),
                        client_id,
                    )
                    .await
                }
            }
        }
    }
}

/// `identify`: verify the token (if any), link or record the contact, answer `identified`,
/// and send a new `welcome` when the thread this visitor sees changed.
async fn identify(
    state: &AppState,
    visitor: &mut Visitor,
    details: ContactDetails,
    token: Option<String>,
    sink: &mut Sink,
) -> Result<(), axum::Error> {
    let limits = &state.config.limits;
    let mut details = match contacts::validate_details(details, limits) {
        Ok(details) => details,
        Err(invalid) => {
            send_error(
                sink,
                ErrorCode::InvalidInput,
                &format!("identify: {invalid}"),
            )
            .await;
            return Ok(());
        }
    };
    let now = now_millis();
    let stored = match token {
        Some(token) => {
            let Some(site) = state.config.site(&visitor.site) else {
                return Ok(());
            };
            let now_secs = u64::try_from(now / 1000).unwrap_or_default();
            match contacts::verify_token(site, &token, &details.email, limits, now_secs) {
                Ok(claims) => {
                    details.name = details.name.or(claims.name);
                    let store = &state.store;
                    store
                        .link_verified_contact(&visitor.site, &visitor.id, &details, now)
                        .await
                }
                Err(refused) => {
                    tracing::info!(site = %visitor.site, %refused, "identity token refused");
                    let message = format!("identify: {refused}; the chat continues anonymously");
                    send_error(sink, ErrorCode::InvalidIdentity, &message).await;
                    return Ok(());
                }
            }
        }
        None => {
            let store = &state.store;
            store
                .set_unverified_contact(&visitor.site, &visitor.id, &details, now)
                .await
        }
    };
    let contact = match stored {
        Ok(contact) => contact,
        Err(error) => {
            tracing::error!(%error, "could not store a contact");
            send_error(
                sink,
                ErrorCode::Internal,
                "identify failed on our side; please retry",
            )
            .await;
            return Ok(());
        }
    };
    let identified = ServerFrame::Identified {
        email: contact.email,
        verified: contact.verified,
    };
    send(sink, &identified).await?;

    let before = visitor.conversation;
    match welcome(state, visitor, None).await {
        Ok(frame) if visitor.conversation != before => send(sink, &frame).await,
        Ok(_) => Ok(()),
        Err(error) => {
            tracing::error!(%error, "could not load the contact's history");
            Ok(())
        }
    }
}

/// The email-capture form (W5): validated against the site's form, then stored as (or linked
/// to) an unverified contact with `marketing_opt_in = false`. Nothing is stored on refusal.
async fn submit_form(
    state: &AppState,
    visitor: &Visitor,
    submitted: ContactDetails,
    sink: &mut Sink,
) -> Result<(), axum::Error> {
    let Some(site) = state.config.site(&visitor.site) else {
        return Ok(());
    };
    let details = match contacts::validate_form(&site.form, submitted, &state.config.limits) {
        Ok(details) => details,
        Err(errors) => return send(sink, &ServerFrame::FormRejected { errors }).await,
    };
    let now = now_millis();
    match state
        .store
        .set_unverified_contact(&visitor.site, &visitor.id, &details, now)
        .await
    {
        Ok(contact) => {
            send(
                sink,
                &ServerFrame::FormAccepted {
                    email: contact.email,
                },
            )
            .await
        }
        Err(error) => {
            tracing::error!(%error, "could not store a form submission");
            send_error(
                sink,
                ErrorCode::Internal,
                "could not save your details; please retry",
            )
            .await;
            Ok(())
        }
    }
}

async fn send(sink: &mut Sink, frame: &ServerFrame) -> Result<(), axum::Error> {
    // Serialising our own frame types cannot fail; treat it as a closed socket if it ever does.
    let text = serde_json::to_string(frame).map_err(axum::Error::new)?;
    sink.send(WsMessage::Text(text.into())).await
}

async fn send_error(sink: &mut Sink, code: ErrorCode, message: &str) {
    let _ = send(
        sink,
        &ServerFrame::Error {
            code,
            message: message.into(),
            client_id: None,
        },
    )
    .await;
}

async fn send_error_for(
    sink: &mut Sink,
    code: ErrorCode,
    message: &str,
    client_id: natter_protocol::ClientMessageId,
) -> Result<(), axum::Error> {
    send(
        sink,
        &ServerFrame::Error {
            code,
            message: message.into(),
            client_id: Some(client_id),
        },
    )
    .await
}

fn close(code: u16, reason: &'static str) -> WsMessage {
    WsMessage::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
