//! Storage for email continuity (E1–E6): the email thread of a conversation, delivery state,
//! bouncing addresses, inbound mail kept for admins, magic-link bindings and the visitor's
//! language.

use async_trait::async_trait;
use natter_protocol::agent::{
    ContactInfo, Delivery, DeliveryState, InboundMailEntry, InboundMailOutcome,
};
use natter_protocol::{ConversationId, MessageId, Seq, UnixMillis};

use super::StoreError;
use crate::identity::VisitorId;

/// The thread's Message-IDs are kept newest-last; older ones beyond this are dropped (mail
/// clients thread by any of them, RFC 5322 §3.6.4).
pub(crate) const MAX_THREAD_MESSAGE_IDS: usize = 20;

/// Appends `id` to a space-separated list of Message-IDs, once, keeping the newest. Shared by
/// the backends, which store the list as text.
pub(crate) fn with_message_id(ids: &str, id: &str) -> String {
    let mut list: Vec<&str> = ids
        .split_whitespace()
        .filter(|known| *known != id)
        .collect();
    list.push(id);
    let skip = list.len().saturating_sub(MAX_THREAD_MESSAGE_IDS);
    list[skip..].join(" ")
}

/// How every backend spells a delivery state in its column.
pub(crate) fn delivery_state_name(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "pending",
        DeliveryState::Sent => "sent",
        DeliveryState::Failed => "failed",
    }
}

/// The delivery state a column holds.
pub(crate) fn delivery_state_from_name(name: &str) -> Result<DeliveryState, StoreError> {
    match name {
        "pending" => Ok(DeliveryState::Pending),
        "sent" => Ok(DeliveryState::Sent),
        "failed" => Ok(DeliveryState::Failed),
        other => Err(StoreError::Corrupt(format!("delivery state {other:?}"))),
    }
}

/// How every backend spells an inbound mail's outcome in its column.
pub(crate) fn outcome_name(outcome: InboundMailOutcome) -> &'static str {
    match outcome {
        InboundMailOutcome::Kept => "kept",
        InboundMailOutcome::Ignored => "ignored",
    }
}

/// The outcome a column holds.
pub(crate) fn outcome_from_name(name: &str) -> InboundMailOutcome {
    match name {
        "ignored" => InboundMailOutcome::Ignored,
        _ => InboundMailOutcome::Kept,
    }
}

/// What an outbound email needs to know about its conversation's email thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailThread {
    /// The thread's subject, once an email set one.
    pub subject: Option<String>,
    /// The highest seq an email has carried; the next email starts after it.
    pub emailed_up_to: Seq,
    /// Message-IDs of the thread's emails both ways, oldest first (for `References`).
    pub message_ids: Vec<String>,
    /// The language of the conversation's web visitor (`en`, `de`, `fr`), if known.
    pub lang: Option<String>,
}

/// An inbound email that did not become a message, to keep for admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInboundMail {
    pub outcome: InboundMailOutcome,
    pub reason: String,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub raw: Vec<u8>,
    pub now: UnixMillis,
}

/// The email side of conversations and contacts.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// The conversation's email thread (defaults when it has none yet).
    async fn mail_thread(&self, conversation: ConversationId) -> Result<MailThread, StoreError>;

    /// An email carrying the thread up to `up_to` was accepted by the mail server: later
    /// emails start after it (never moves back), and its Message-ID joins the thread.
    async fn record_mail_sent(
        &self,
        conversation: ConversationId,
        message_id: &str,
        up_to: Seq,
        subject: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError>;

    /// An inbound email joined the conversation: its Message-ID joins the thread, and its
    /// subject becomes the thread's if it had none.
    async fn record_mail_received(
        &self,
        conversation: ConversationId,
        message_id: &str,
        subject: Option<&str>,
        now: UnixMillis,
    ) -> Result<(), StoreError>;

    /// Where the email carrying a message stands.
    async fn set_delivery(&self, message: MessageId, delivery: &Delivery)
        -> Result<(), StoreError>;

    /// Marks every contact with this address (on any site) as bouncing. Returns the contacts
    /// it changed (none when they were marked already), for the agents' live panels.
    async fn mark_bouncing(
        &self,
        address: &str,
        now: UnixMillis,
    ) -> Result<Vec<ContactInfo>, StoreError>;

    /// Keeps an inbound email that did not become a message. Returns its id.
    async fn keep_inbound_mail(&self, mail: NewInboundMail) -> Result<String, StoreError>;

    /// Kept inbound emails, newest first.
    async fn inbound_mail_log(&self, limit: u32) -> Result<Vec<InboundMailEntry>, StoreError>;

    /// The raw bytes of a kept inbound email.
    async fn inbound_mail_raw(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// A magic link was opened: this visitor id shows the conversation from now on (E6).
    async fn link_visitor(
        &self,
        visitor: &VisitorId,
        conversation: ConversationId,
        now: UnixMillis,
    ) -> Result<(), StoreError>;

    /// Records the widget's language for emails to this visitor.
    async fn set_visitor_lang(&self, visitor: &VisitorId, lang: &str) -> Result<(), StoreError>;

    /// The newest open conversation on `channel` of the contact with this address on this
    /// site (verified contacts first), for an email without a reply token (E3).
    async fn open_conversation_of_address(
        &self,
        site: &str,
        address: &str,
        channel: natter_protocol::Channel,
    ) -> Result<Option<ConversationId>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_each_message_id_once_and_the_newest() {
        assert_eq!(with_message_id("", "a@x"), "a@x");
        assert_eq!(with_message_id("a@x b@x", "a@x"), "b@x a@x");
        let many: Vec<String> = (0..MAX_THREAD_MESSAGE_IDS)
            .map(|n| format!("{n}@x"))
            .collect();
        let kept = with_message_id(&many.join(" "), "new@x");
        assert_eq!(kept.split(' ').count(), MAX_THREAD_MESSAGE_IDS);
        assert!(kept.ends_with("new@x") && !kept.starts_with("0@x"));
    }

    #[test]
    fn column_names_read_back() {
        for state in [
            DeliveryState::Pending,
            DeliveryState::Sent,
            DeliveryState::Failed,
        ] {
            assert_eq!(
                delivery_state_from_name(delivery_state_name(state)).unwrap(),
                state
            );
        }
        assert!(delivery_state_from_name("lost").is_err());
        for outcome in [InboundMailOutcome::Kept, InboundMailOutcome::Ignored] {
            assert_eq!(outcome_from_name(outcome_name(outcome)), outcome);
        }
    }
}
