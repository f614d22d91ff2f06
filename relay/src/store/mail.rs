//! Storage for email continuity (E1–E6): the email thread of a conversation, delivery state,
//! bouncing addresses, inbound mail kept for admins, magic-link bindings and the visitor's
//! language.

use async_trait::async_trait;
use natter_protocol::agent::{ContactInfo, Delivery, InboundMailEntry, InboundMailOutcome};
use natter_protocol::{ConversationId, MessageId, Seq, UnixMillis};

use super::StoreError;
use crate::identity::VisitorId;

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
