//! Storage: the [`Store`] trait and its backends, chosen by the database URL.
//!
//! The trait speaks in protocol types (`Message`, `ConversationSummary`) plus a few records
//! that never leave the relay (`AgentRecord`, `ConversationRecord`). Database rows stay
//! private to each backend.

mod sqlite;

use async_trait::async_trait;
use natter_protocol::agent::{AgentProfile, ConversationSummary, Role};
use natter_protocol::{
    AttachmentId, Author, Channel, ClientMessageId, ConversationId, Message, Seq, UnixMillis,
};

pub use sqlite::SqliteStore;

use crate::attachments::Uploader;
use crate::contacts::ContactDetails;
use crate::error::StoreError;
use crate::identity::VisitorId;

/// How many characters of the newest message the inbox list shows.
pub const PREVIEW_CHARS: usize = 140;

/// A conversation and the visitor it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRecord {
    pub summary: ConversationSummary,
    pub visitor_id: VisitorId,
}

/// A message about to be stored. `client_id` is the idempotency key.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: ConversationId,
    pub client_id: ClientMessageId,
    pub author: Author,
    pub channel: Channel,
    pub text: String,
    /// Uploaded files to send with it: each must belong to this conversation and not be
    /// sent yet.
    pub attachments: Vec<AttachmentId>,
    pub now: UnixMillis,
    /// An internal comment (I7): stored, never returned by the visitor-facing reads.
    pub internal: bool,
}

/// An uploaded file to record.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub id: AttachmentId,
    pub conversation_id: ConversationId,
    pub access_token: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub uploaded_by: Uploader,
    pub now: UnixMillis,
}

/// An uploaded file as the relay knows it.
#[derive(Debug, Clone)]
pub struct AttachmentRecord {
    pub access_token: String,
    pub name: String,
    pub content_type: String,
}

/// The result of [`Store::append_message`].
#[derive(Debug, Clone)]
pub struct Appended {
    pub message: Message,
    pub conversation: ConversationRecord,
    /// The `client_id` was already stored: `message` is the earlier copy and nothing changed.
    pub duplicate: bool,
}

/// An agent account with what only the relay may see.
#[derive(Debug, Clone)]
pub struct AgentRecord {
    pub profile: AgentProfile,
    pub password_hash: String,
    pub disabled: bool,
}

/// A new agent account.
#[derive(Debug, Clone)]
pub struct NewAgent {
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    pub now: UnixMillis,
}

/// A live agent session, found by the hash of its cookie.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub agent: AgentRecord,
    pub csrf_token: String,
}

/// A contact as the relay knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRecord {
    pub id: String,
    pub email: String,
    pub verified: bool,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
}

/// The two read marks of a conversation, as sequence numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadMarks {
    /// The visitor has seen every message up to here (W9).
    pub seen_by_visitor: Seq,
    /// Agents have read every message up to here (W4 "read").
    pub read_by_agents: Seq,
}

#[async_trait]
pub trait Store: crate::inbox::store::InboxStore + Send + Sync + 'static {
    /// Records that a visitor is here now (creating the visitor on first sight). Returns
    /// `false` for a visitor id that was forgotten (logout): it must not be used again.
    async fn touch_visitor(
        &self,
        site: &str,
        visitor: &VisitorId,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;

    /// Links the visitor to the verified contact with this email (created if new), after a
    /// valid identity token. If the visitor's own conversation belongs to nobody verified and
    /// the contact has no conversation yet, it becomes the contact's.
    async fn link_verified_contact(
        &self,
        site: &str,
        visitor: &VisitorId,
        details: &ContactDetails,
        now: UnixMillis,
    ) -> Result<ContactRecord, StoreError>;

    /// Records unverified details on this visitor only (their own unverified contact). Never
    /// touches a verified contact.
    async fn set_unverified_contact(
        &self,
        site: &str,
        visitor: &VisitorId,
        details: &ContactDetails,
        now: UnixMillis,
    ) -> Result<ContactRecord, StoreError>;

    /// The contact a visitor is linked to, if any.
    async fn visitor_contact(
        &self,
        visitor: &VisitorId,
    ) -> Result<Option<ContactRecord>, StoreError>;

    /// Forgets a visitor id (logout): unlinks its contact and retires the id for good.
    async fn forget_visitor(&self, visitor: &VisitorId, now: UnixMillis) -> Result<(), StoreError>;

    /// The conversation this visitor sees on this site: their verified contact's (newest), or
    /// else their own, if they have written before.
    async fn visitor_conversation(
        &self,
        site: &str,
        visitor: &VisitorId,
    ) -> Result<Option<ConversationRecord>, StoreError>;

    /// The visitor's conversation on this site, created if needed. Safe under concurrency:
    /// two callers for the same visitor get the same conversation.
    async fn open_visitor_conversation(
        &self,
        site: &str,
        visitor: &VisitorId,
        now: UnixMillis,
    ) -> Result<ConversationRecord, StoreError>;

    /// Stores a message durably with the next sequence number, unless its `client_id` is
    /// already stored in that conversation (then returns the stored one, `duplicate: true`).
    async fn append_message(&self, message: NewMessage) -> Result<Appended, StoreError>;

    /// The newest `limit` messages in ascending order, and whether older ones exist. Only what
    /// a visitor may see: internal comments are left out (I7).
    async fn recent_messages(
        &self,
        conversation: ConversationId,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), StoreError>;

    /// Messages with `seq > after`, ascending, at most `limit`. Internal comments are left
    /// out (I7), so `seq` may skip numbers.
    async fn messages_after(
        &self,
        conversation: ConversationId,
        after: Seq,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError>;

    /// Conversations by newest activity first.
    async fn list_conversations(&self, limit: u32) -> Result<Vec<ConversationSummary>, StoreError>;

    async fn agent_count(&self) -> Result<u64, StoreError>;

    async fn create_agent(&self, agent: NewAgent) -> Result<AgentRecord, StoreError>;

    async fn agent_by_email(&self, email: &str) -> Result<Option<AgentRecord>, StoreError>;

    async fn create_session(
        &self,
        token_hash: &str,
        agent: &AgentProfile,
        csrf_token: &str,
        now: UnixMillis,
        expires_at: UnixMillis,
    ) -> Result<(), StoreError>;

    /// The session with this token hash, if it exists, has not expired and its agent is
    /// enabled. Extends a session that is used (sliding expiry) to `extend_to`.
    async fn session(
        &self,
        token_hash: &str,
        now: UnixMillis,
        extend_to: UnixMillis,
    ) -> Result<Option<SessionRecord>, StoreError>;

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;

    /// Records that the visitor has seen the thread up to `up_to` (capped at the newest
    /// message; never moves back). Returns the recorded value.
    async fn mark_seen_by_visitor(
        &self,
        conversation: ConversationId,
        up_to: Seq,
    ) -> Result<Seq, StoreError>;

    /// Records that agents have read the thread up to `up_to` (capped at the newest message;
    /// never moves back). Returns the new mark if it moved, `None` if it did not.
    async fn mark_read_by_agents(
        &self,
        conversation: ConversationId,
        up_to: Seq,
    ) -> Result<Option<Seq>, StoreError>;

    /// How far the visitor has seen the thread, and how far agents have read it.
    async fn read_marks(&self, conversation: ConversationId) -> Result<ReadMarks, StoreError>;

    async fn create_attachment(&self, attachment: NewAttachment) -> Result<(), StoreError>;

    async fn attachment(&self, id: AttachmentId) -> Result<Option<AttachmentRecord>, StoreError>;

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the store a database URL names (`sqlite://…`), running its migrations.
pub async fn open(database_url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if database_url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(SqliteStore::open(database_url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(database_url.to_owned()))
    }
}

/// The first characters of a message, for the inbox list.
pub fn preview(text: &str) -> String {
    let mut preview: String = text.chars().take(PREVIEW_CHARS).collect();
    if text.chars().nth(PREVIEW_CHARS).is_some() {
        preview.push('…');
    }
    preview
}

/// How the inbox names a visitor until a name or email is known.
pub fn visitor_label(visitor: &VisitorId) -> String {
    let short: String = visitor.0.chars().take(6).collect();
    format!("Visitor {short}")
}
