//! The conversation domain: the one place where a message becomes part of a conversation.
//!
//! Every door (visitor socket, agent API, later email and Messenger) finds its conversation
//! with [`open`] (by visitor, by contact address or by external thread id) and calls
//! [`append`]: it validates, then stores the message, the inbox state and the jobs that must
//! follow it in one transaction, and only then publishes on the hub. Nothing is published
//! that is not stored, and a resend of a stored message publishes and enqueues nothing.

use natter_protocol::agent::{Delivery, DeliveryState};
use natter_protocol::{AttachmentId, Author, Channel, ClientMessageId, ConversationId, Message};
use uuid::Uuid;

use crate::config::Limits;
use crate::events::{ConnectionId, Event};
use crate::identity::VisitorId;
use crate::store::{Appended, ConversationKey, ConversationRecord, NewJob, NewMessage, StoreError};
use crate::Core;

/// What a blocked visitor's widget shows after each message (I10): neutral, so blocking is
/// not announced. The message is stored and acknowledged all the same.
pub const BLOCKED_NOTICE: &str = "Thanks, your message has been received.";

/// The namespace of idempotency keys derived from another system's message id.
const DERIVED_CLIENT_ID_NAMESPACE: Uuid =
    Uuid::from_u128(0x6e61_7474_6572_4d73_6749_6444_6572_6976);

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

/// The idempotency key for a message another system names (an email's `Message-ID`, a
/// Messenger `mid`): the same id always gives the same key, so a repeated delivery is stored
/// once.
pub fn derived_client_id(source: &str, external_id: &str) -> ClientMessageId {
    let name = format!("{source}:{external_id}");
    ClientMessageId(Uuid::new_v5(&DERIVED_CLIENT_ID_NAMESPACE, name.as_bytes()))
}

/// A message to append, from any door.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub conversation_id: ConversationId,
    /// The idempotency key: the widget's client id, or [`derived_client_id`].
    pub client_id: ClientMessageId,
    pub author: Author,
    pub channel: Channel,
    pub text: String,
    /// Uploaded files sent with it.
    pub attachments: Vec<AttachmentId>,
    /// The socket it came from, which acknowledges it itself.
    pub origin: Option<ConnectionId>,
    /// An agent's internal comment (I7): stored and shown to agents only.
    pub internal: bool,
    /// What must happen after it (an email, a webhook, a send), enqueued with it.
    pub jobs: Vec<NewJob>,
    /// An email whose `From` is not the contact's address (E3): flagged to agents.
    pub unverified_sender: Option<String>,
    /// An email will carry it at once (an agent's reply by email): delivery starts pending.
    pub awaits_delivery: bool,
}

impl Incoming {
    /// A message with no files, no origin socket and no jobs.
    pub fn text(
        conversation_id: ConversationId,
        client_id: ClientMessageId,
        author: Author,
        channel: Channel,
        text: String,
    ) -> Self {
        Self {
            conversation_id,
            client_id,
            author,
            channel,
            text,
            attachments: Vec::new(),
            origin: None,
            internal: false,
            jobs: Vec::new(),
            unverified_sender: None,
            awaits_delivery: false,
        }
    }
}

/// The conversation `key` names on `site`, created on first contact.
pub async fn open(
    core: &Core,
    site: &str,
    key: &ConversationKey,
) -> Result<ConversationRecord, StoreError> {
    core.store
        .open_conversation(site, key, core.clock.now())
        .await
}

/// Validates, stores (with the inbox state and the jobs, in one transaction) and publishes one
/// message. Returns the stored message (the earlier copy for a resend).
pub async fn append(core: &Core, incoming: Incoming) -> Result<Message, AppendError> {
    append_once(core, incoming)
        .await
        .map(|(message, _duplicate)| message)
}

/// [`append`], also telling whether the message was stored before (a resend, a mail
/// delivered twice): then nothing was published or enqueued.
pub async fn append_once(core: &Core, incoming: Incoming) -> Result<(Message, bool), AppendError> {
    validate(
        &incoming.text,
        incoming.attachments.len(),
        &core.config.limits,
    )?;
    let internal = incoming.internal;
    let has_jobs = !incoming.jobs.is_empty();
    let unverified_sender = incoming.unverified_sender.clone();
    let awaits_delivery = incoming.awaits_delivery;
    let channel = incoming.channel;
    let started = std::time::Instant::now();
    let Appended {
        message,
        conversation,
        duplicate,
    } = core
        .store
        .append_message(NewMessage {
            conversation_id: incoming.conversation_id,
            client_id: incoming.client_id,
            author: incoming.author,
            channel: incoming.channel,
            text: incoming.text,
            attachments: incoming.attachments,
            now: core.clock.now(),
            internal,
            jobs: incoming.jobs,
            unverified_sender: incoming.unverified_sender,
            awaits_delivery: incoming.awaits_delivery,
        })
        .await?;
    if !duplicate {
        crate::metrics::message_appended(channel, started.elapsed());
        if has_jobs {
            // Due now, most likely: no need to wait for the runner's next poll.
            core.jobs.wake();
        }
        core.hub.publish(Event::MessageStored {
            site: conversation.summary.site.clone(),
            visitor_id: conversation.visitor_id,
            conversation: conversation.summary,
            message: message.clone(),
            origin: incoming.origin,
            internal,
            unverified_sender,
            delivery: awaits_delivery.then_some(Delivery {
                state: DeliveryState::Pending,
                detail: None,
                updated_at: message.sent_at,
            }),
        });
    }
    Ok((message, duplicate))
}

/// A web visitor's message, from the widget door: into their conversation, opened on their
/// first message. If an admin deleted the conversation while the visitor was connected, the
/// message starts a new one instead of being refused. Returns the stored message and, for a
/// blocked contact (I10), the neutral notice to show.
pub async fn append_from_visitor(
    core: &Core,
    site: &str,
    visitor: &VisitorId,
    current: &mut Option<ConversationId>,
    mut incoming: Incoming,
) -> Result<(Message, Option<&'static str>), AppendError> {
    // Validate before creating a conversation, so bad input leaves no trace.
    validate(
        &incoming.text,
        incoming.attachments.len(),
        &core.config.limits,
    )?;
    let key = ConversationKey::Visitor(visitor.clone());
    let mut retried = false;
    loop {
        incoming.conversation_id = match *current {
            Some(id) => id,
            None => open(core, site, &key).await?.summary.id,
        };
        *current = Some(incoming.conversation_id);
        match append(core, incoming.clone()).await {
            Err(AppendError::NotFound) if !retried => {
                retried = true;
                *current = None;
            }
            Err(error) => return Err(error),
            Ok(message) => {
                let notice = blocked_notice(core, message.conversation_id).await;
                return Ok((message, notice));
            }
        }
    }
}

/// The neutral notice a blocked visitor's widget shows after each message (I10), if the
/// conversation is blocked.
pub async fn blocked_notice(core: &Core, id: ConversationId) -> Option<&'static str> {
    match core.store.inbox_is_blocked(id).await {
        Ok(true) => Some(BLOCKED_NOTICE),
        Ok(false) => None,
        Err(error) => {
            tracing::error!(%error, "could not check whether a conversation is blocked");
            None
        }
    }
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
    fn derived_keys_are_stable_per_source_and_id() {
        let a = derived_client_id("email", "<abc@example.com>");
        assert_eq!(a, derived_client_id("email", "<abc@example.com>"));
        assert_ne!(a, derived_client_id("email", "<abd@example.com>"));
        assert_ne!(a, derived_client_id("messenger", "<abc@example.com>"));
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
