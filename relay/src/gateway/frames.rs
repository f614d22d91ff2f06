//! The visitor's frames after hello: one function per frame, each ending in the domain
//! (`conversations`, the stores) and answering on the socket.

use std::time::Duration;

use axum::extract::ws::Message as WsMessage;
use futures_util::Sink;
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::{
    close_code, AttachmentId, Author, Channel, ClientMessageId, ConversationId, ErrorCode,
};

use super::history::welcome;
use super::out::Out;
use super::Visitor;
use crate::contacts::{self, ContactDetails};
use crate::conversations::{self, AppendError, Incoming};
use crate::events::{ConnectionId, Event, Typist};
use crate::AppState;

/// What the socket task does after a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    Continue,
    /// The visitor id was retired (logout): the socket was closed.
    Close,
}

type Handled = Result<After, axum::Error>;

/// Handles one text frame after hello. `Err` means the socket is gone.
pub async fn handle<S>(
    state: &AppState,
    visitor: &mut Visitor,
    connection: ConnectionId,
    text: &str,
    out: &mut Out<S>,
) -> Handled
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
{
    let frame = match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) => frame,
        Err(error) => {
            let message = format!("not a valid frame: {error}");
            out.error(ErrorCode::BadFrame, &message).await;
            return Ok(After::Continue);
        }
    };
    match frame {
        ClientFrame::Hello { .. } => {
            out.error(ErrorCode::BadFrame, "hello was already received")
                .await;
            Ok(After::Continue)
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
            identify(state, visitor, details, token, out).await
        }
        ClientFrame::Typing { typing } => {
            visitor_typing(state, visitor, typing).await;
            Ok(After::Continue)
        }
        ClientFrame::Seen { up_to_seq } => {
            seen(state, visitor, up_to_seq).await;
            Ok(After::Continue)
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
            submit_form(state, visitor, submitted, out).await
        }
        ClientFrame::Forget => forget(state, visitor, out).await,
        ClientFrame::Send {
            client_id,
            text,
            attachments,
        } => {
            send(
                state,
                visitor,
                connection,
                (client_id, text, attachments),
                out,
            )
            .await
        }
    }
}

/// `send`: the visitor's message, stored (conversation opened on the first one) and then
/// acknowledged; a refusal names the message's client id.
async fn send<S>(
    state: &AppState,
    visitor: &mut Visitor,
    connection: ConnectionId,
    (client_id, text, attachments): (ClientMessageId, String, Vec<AttachmentId>),
    out: &mut Out<S>,
) -> Handled
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
{
    let incoming = Incoming {
        attachments,
        origin: Some(connection),
        ..Incoming::text(
            // Replaced by the visitor's conversation, opened if needed.
            ConversationId(uuid::Uuid::nil()),
            client_id,
            Author::Visitor,
            Channel::Chat,
            text,
        )
    };
    let appended = conversations::append_from_visitor(
        state,
        &visitor.site,
        &visitor.id,
        &mut visitor.conversation,
        incoming,
    )
    .await;
    match appended {
        Ok((message, notice)) => {
            out.send(&ServerFrame::Ack { client_id, message }).await?;
            // Blocked (I10): stored, but the visitor gets a neutral notice.
            if let Some(notice) = notice {
                out.error_for(ErrorCode::Blocked, notice, client_id).await?;
            }
        }
        Err(AppendError::Store(error)) => {
            tracing::error!(%error, "could not store a visitor message");
            let message = "could not store your message; it will be retried";
            out.error_for(ErrorCode::Internal, message, client_id)
                .await?;
        }
        Err(invalid) => {
            out.error_for(ErrorCode::InvalidInput, &invalid.to_string(), client_id)
                .await?;
        }
    }
    Ok(After::Continue)
}

/// `seen`: how far the visitor has seen the thread (W9). Before the first message there is
/// nothing to have seen.
async fn seen(state: &AppState, visitor: &Visitor, up_to_seq: u64) {
    let Some(conversation) = visitor.conversation else {
        return;
    };
    if let Err(error) = state
        .store
        .mark_seen_by_visitor(conversation, up_to_seq)
        .await
    {
        tracing::error!(%error, "could not record what the visitor has seen");
    }
}

/// `forget` (logout): retires this visitor id for good; the widget reconnects as a new visitor.
async fn forget<S>(state: &AppState, visitor: &Visitor, out: &mut Out<S>) -> Handled
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
{
    if let Err(error) = state
        .store
        .forget_visitor(&visitor.id, state.clock.now())
        .await
    {
        tracing::error!(%error, "could not forget a visitor");
        let message = "could not log out of the chat; please retry";
        out.error(ErrorCode::Internal, message).await;
        return Ok(After::Continue);
    }
    out.send(&ServerFrame::Forgotten).await?;
    out.close(close_code::GOING_AWAY, "visitor forgotten").await;
    Ok(After::Close)
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
    if conversations::blocked_notice(state, conversation_id)
        .await
        .is_some()
    {
        return;
    }
    state.hub.publish(Event::Typing {
        conversation_id,
        typist: Typist::Visitor,
        typing,
    });
}

/// `identify`: verify the token (if any), link or record the contact, answer `identified`,
/// and send a new `welcome` when the thread this visitor sees changed.
async fn identify<S>(
    state: &AppState,
    visitor: &mut Visitor,
    details: ContactDetails,
    token: Option<String>,
    out: &mut Out<S>,
) -> Handled
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
{
    let limits = &state.config.limits;
    let details = match contacts::validate_details(details, limits) {
        Ok(details) => details,
        Err(invalid) => {
            let message = format!("identify: {invalid}");
            out.error(ErrorCode::InvalidInput, &message).await;
            return Ok(After::Continue);
        }
    };
    let stored = match token {
        Some(token) => match verified_details(state, visitor, details, &token) {
            Ok(details) => {
                state
                    .store
                    .link_verified_contact(&visitor.site, &visitor.id, &details, state.clock.now())
                    .await
            }
            Err(refused) => {
                tracing::info!(site = %visitor.site, %refused, "identity token refused");
                let message = format!("identify: {refused}; the chat continues anonymously");
                out.error(ErrorCode::InvalidIdentity, &message).await;
                return Ok(After::Continue);
            }
        },
        None => {
            state
                .store
                .set_unverified_contact(&visitor.site, &visitor.id, &details, state.clock.now())
                .await
        }
    };
    let contact = match stored {
        Ok(contact) => contact,
        Err(error) => {
            tracing::error!(%error, "could not store a contact");
            let message = "identify failed on our side; please retry";
            out.error(ErrorCode::Internal, message).await;
            return Ok(After::Continue);
        }
    };
    let identified = ServerFrame::Identified {
        email: contact.email,
        verified: contact.verified,
    };
    out.send(&identified).await?;
    rewelcome_if_moved(state, visitor, out).await
}

/// The details with the token's name added, if the site's identity token is valid for them.
fn verified_details(
    state: &AppState,
    visitor: &Visitor,
    mut details: ContactDetails,
    token: &str,
) -> Result<ContactDetails, String> {
    let site = state
        .config
        .site(&visitor.site)
        .ok_or_else(|| "this site is not set up".to_owned())?;
    let now_secs = u64::try_from(state.clock.now() / 1000).unwrap_or_default();
    let limits = &state.config.limits;
    let claims = contacts::verify_token(site, token, &details.email, limits, now_secs)
        .map_err(|refused| refused.to_string())?;
    details.name = details.name.or(claims.name);
    Ok(details)
}

/// After identify: a new welcome when the thread this visitor sees changed (logged in to a
/// contact with history elsewhere).
async fn rewelcome_if_moved<S>(state: &AppState, visitor: &mut Visitor, out: &mut Out<S>) -> Handled
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
{
    match welcome(state, &visitor.site, &visitor.id, &visitor.token, None).await {
        Ok((frame, conversation, _)) if conversation != visitor.conversation => {
            visitor.conversation = conversation;
            out.send(&frame).await?;
        }
        Ok(_) => {}
        Err(error) => tracing::error!(%error, "could not load the contact's history"),
    }
    Ok(After::Continue)
}

/// The email-capture form (W5): validated against the site's form, then stored as (or linked
/// to) an unverified contact with `marketing_opt_in = false`. Nothing is stored on refusal.
async fn submit_form<S>(
    state: &AppState,
    visitor: &Visitor,
    submitted: ContactDetails,
    out: &mut Out<S>,
) -> Handled
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
{
    let Some(site) = state.config.site(&visitor.site) else {
        return Ok(After::Continue);
    };
    let details = match contacts::validate_form(&site.form, submitted, &state.config.limits) {
        Ok(details) => details,
        Err(errors) => {
            out.send(&ServerFrame::FormRejected { errors }).await?;
            return Ok(After::Continue);
        }
    };
    match state
        .store
        .set_unverified_contact(&visitor.site, &visitor.id, &details, state.clock.now())
        .await
    {
        Ok(contact) => {
            let accepted = ServerFrame::FormAccepted {
                email: contact.email,
            };
            out.send(&accepted).await?;
        }
        Err(error) => {
            tracing::error!(%error, "could not store a form submission");
            let message = "could not save your details; please retry";
            out.error(ErrorCode::Internal, message).await;
        }
    }
    Ok(After::Continue)
}
