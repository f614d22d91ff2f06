//! The conversation domain: the one place where a message becomes part of a conversation.
//!
//! Every door (visitor socket, agent API, later email and Messenger) calls [`append`]: it
//! validates, stores durably, then publishes on the bus. Nothing is published that is not
//! stored, and a resend of a stored message publishes nothing.

use natter_protocol::{AttachmentId, Author, Channel, ClientMessageId, ConversationId, Message};

use crate::bus::{BusEvent, ConnectionId};
use crate::clock::now_millis;
use crate::config::Limits;
use crate::error::StoreError;
use crate::store::{Appended, NewMessage};
use crate::AppState;

/// Why a message was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("a message cannot be empty")]
    Empty,
    #[error("the message is too long ({chars} characters; the limit is {limit})")]
    TooLong { chars: usize, limit: usize },
    #[error("conversation not found")]
    NotFound,
    #[error("at most {limit} files can be sent with one message")]
    TooManyAttachments { limit: usize },
    #[error("a file is not in this conversation or was already sent; upload it again")]
    AttachmentUnavailable,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AppendError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::AttachmentUnavailable(_) => Self::AttachmentUnavailable,
            other => Self::Store(other),
        }
    }
}

/// Checks a message against the limits: some text or at least one file, neither too long nor
/// too many. Text is kept exactly as typed.
pub fn validate(text: &str, attachments: usize, limits: &Limits) -> Result<(), AppendError> {
    if attachments > limits.max_attachments_per_message {
        return Err(AppendError::TooManyAttachments {
            limit: limits.max_attachments_per_message,
        });
    }
    if attachments > 0 && text.is_empty() {
        return Ok(());
    }
    validate_text(text, limits)
}

/// Checks a message text against the limits. Text is kept exactly as typed.
fn validate_text(text: &str, limits: &Limits) -> Result<(), AppendError> {
    if text.trim().is_empty() {
        return Err(AppendError::Empty);
    }
    let chars = text.chars().count();
    if chars > limits.max_message_chars {
        return Err(AppendError::TooLong {
            chars,
            limit: limits.max_message_chars,
        });
    }
    Ok(())
}

/// A message to append, from any door.
pub struct Incoming {
    pub conversation_id: ConversationId,
    pub client_id: ClientMessageId,
    pub author: Author,
    pub channel: Channel,
    pub text: String,
    /// Uploaded files sent with it.
    pub attachments: Vec<AttachmentId>,
    /// The socket it came from, which acknowledges it itself.
    pub origin: Option<ConnectionId>,
}

/// Validates, stores and publishes one message. Returns the stored message (the earlier copy
/// for a resend).
pub async fn append(state: &AppState, incoming: Incoming) -> Result<Message, AppendError> {
    append_with(state, incoming, false).await
}

/// [`append`], or with `internal` an agent's internal comment (I7): stored and published to
/// agents only. Also keeps the inbox state in step: a visitor message reopens the
/// conversation and marks it unread and waiting; an agent reply marks it answered.
pub async fn append_with(
    state: &AppState,
    incoming: Incoming,
    internal: bool,
) -> Result<Message, AppendError> {
    validate(
        &incoming.text,
        incoming.attachments.len(),
        &state.config.limits,
    )?;
    let now = now_millis();
    let Appended {
        message,
        conversation,
        duplicate,
    } = state
        .store
        .append_message(NewMessage {
            conversation_id: incoming.conversation_id,
            client_id: incoming.client_id,
            author: incoming.author,
            channel: incoming.channel,
            text: incoming.text,
            attachments: incoming.attachments,
            now,
            internal,
        })
        .await?;
    if !duplicate {
        let visitor = matches!(message.author, natter_protocol::Author::Visitor);
        state
            .store
            .inbox_after_append(message.conversation_id, visitor, internal, now)
            .await?;
        state.bus.publish(BusEvent::MessageStored {
            site: conversation.summary.site.clone(),
            visitor_id: conversation.visitor_id,
            conversation: conversation.summary,
            message: message.clone(),
            origin: incoming.origin,
            internal,
        });
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_alone_is_a_message_and_the_file_count_is_limited() {
        let limits = Limits {
            max_attachments_per_message: 2,
            ..Limits::default()
        };
        assert!(validate("", 1, &limits).is_ok());
        assert!(validate("x", 2, &limits).is_ok());
        assert!(matches!(
            validate("x", 3, &limits),
            Err(AppendError::TooManyAttachments { limit: 2 })
        ));
        assert!(matches!(validate("", 0, &limits), Err(AppendError::Empty)));
    }

    #[test]
    fn text_limits_at_and_past_the_edge() {
        let limits = Limits {
            max_message_chars: 5,
            ..Limits::default()
        };
        assert!(
            validate_text("héllo", &limits).is_ok(),
            "5 characters, 6 bytes: accepted"
        );
        assert!(matches!(
            validate_text("hello!", &limits),
            Err(AppendError::TooLong { chars: 6, limit: 5 })
        ));
        assert!(matches!(
            validate_text(" \n ", &limits),
            Err(AppendError::Empty)
        ));
    }
}
