//! Storage: the records and the storage traits, one per aggregate, and the backends behind
//! them, chosen by the database URL.
//!
//! This module imports no feature module: the domain (`conversations`, `jobs`) and the doors
//! depend on it, never the other way round. The traits speak protocol types (`Message`,
//! `ConversationSummary`) and the records of [`records`]; database rows stay private to each
//! backend, and [`StoreError`] carries no driver type. One conformance suite
//! ([`conformance`], feature `testing`) runs against every backend.

#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod error;
mod inbox;
pub(crate) mod mail;
mod postgres;
mod records;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use natter_protocol::agent::{AgentProfile, ConversationSummary};
use natter_protocol::{AttachmentId, ConversationId, Message, Seq, UnixMillis};

pub use error::StoreError;
pub use inbox::InboxStore;
pub use mail::{MailStore, MailThread, NewInboundMail};
pub use postgres::PostgresStore;
pub use records::*;
pub use sqlite::SqliteStore;

use crate::identity::VisitorId;

/// How many characters of the newest message the inbox list shows.
pub const PREVIEW_CHARS: usize = 140;

/// Conversations and their messages: opening, the one-transaction append, history, read marks.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// The conversation this visitor sees on this site: their verified contact's (newest), or
    /// else their own, if they have written before.
    async fn visitor_conversation(
        &self,
        site: &str,
        visitor: &VisitorId,
    ) -> Result<Option<ConversationRecord>, StoreError>;

    /// The conversation `key` names on this site, created if needed (channel-neutral: by
    /// visitor, by contact address or by external thread id). Safe under concurrency: two
    /// callers with the same key get the same conversation.
    async fn open_conversation(
        &self,
        site: &str,
        key: &ConversationKey,
        now: UnixMillis,
    ) -> Result<ConversationRecord, StoreError>;

    /// In one transaction: stores a message durably with the next sequence number, keeps the
    /// inbox state in step (a customer message reopens the conversation, marks it unread and
    /// starts the "waiting" clock; an agent reply stops it; internal comments change neither)
    /// and enqueues the message's jobs. A `client_id` already stored in that conversation
    /// changes nothing and returns the stored message (`duplicate: true`). Returns only after
    /// the commit: an error means nothing of it was stored.
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

    /// Records that the visitor has seen the thread up to `up_to` (capped at the newest
    /// message; never moves back). Returns the recorded value.
    async fn mark_seen_by_visitor(
        &self,
        conversation: ConversationId,
        up_to: Seq,
    ) -> Result<Seq, StoreError>;
    /// never moves back). Returns the new mark if it moved, `None` if it did not.
    async fn mark_read_by_agents(
        &self,
        conversation: ConversationId,
        up_to: Seq,
    ) -> Result<Option<Seq>, StoreError>;

    /// How far the visitor has seen the thread, and how far agents have read it.
    async fn read_marks(&self, conversation: ConversationId) -> Result<ReadMarks, StoreError>;
}

/// Visitors (one device each) and the contacts they are known as (I16, S2).
#[async_trait]
pub trait ContactStore: Send + Sync {
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
}

/// Agent accounts and their sessions (I1).
#[async_trait]
pub trait AccountStore: Send + Sync {
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
}

/// Uploaded files (W8, I13).
#[async_trait]
pub trait AttachmentStore: Send + Sync {
    async fn create_attachment(&self, attachment: NewAttachment) -> Result<(), StoreError>;

    async fn attachment(&self, id: AttachmentId) -> Result<Option<AttachmentRecord>, StoreError>;
}

/// The persisted jobs queue: what must happen after a message (emails, webhooks, sends) with
/// `run_at`, attempts and backoff. Claiming leases a job to one worker, so several nodes never
/// run one job at once; a worker that dies loses its lease when `locked_until` passes.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Enqueues a job on its own (jobs that follow a message go with
    /// [`ConversationStore::append_message`]). Returns `false` when a job with the same
    /// `dedupe_key` exists already.
    async fn enqueue_job(&self, job: NewJob, now: UnixMillis) -> Result<bool, StoreError>;

    /// Leases up to `limit` due jobs of these `kinds` (pending, `run_at <= now`, not leased by
    /// a live worker) to `worker` until `now + lease_ms`, oldest first, counting the attempt.
    /// A worker claims only the kinds it can run, so a node that does not know a kind (an
    /// older node during an upgrade) never takes such a job from one that does.
    async fn claim_jobs(
        &self,
        worker: &str,
        kinds: &[&str],
        now: UnixMillis,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError>;

    /// The job ran: it is done. Returns `false` if `worker` no longer holds its lease.
    async fn complete_job(
        &self,
        id: &str,
        worker: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;

    /// The attempt failed: run it again at `run_at`, or give up (`failed`) when `run_at` is
    /// `None`. Returns `false` if `worker` no longer holds its lease.
    async fn fail_job(
        &self,
        id: &str,
        worker: &str,
        error: &str,
        run_at: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;

    /// Cancels pending jobs with this dedupe key (e.g. an unread-reply email once the visitor
    /// has seen the reply). Returns how many were cancelled.
    async fn cancel_jobs(&self, dedupe_key: &str) -> Result<u64, StoreError>;

    /// One job's state, or `None` if there is no such job (cancelled jobs are deleted).
    async fn job_status(&self, id: &str) -> Result<Option<JobStatus>, StoreError>;

    /// The ids of the jobs with this dedupe key (any state).
    async fn jobs_with_key(&self, dedupe_key: &str) -> Result<Vec<String>, StoreError>;
}

/// Everything a backend provides. Handlers reach it as `state.store`.
#[async_trait]
pub trait Store:
    ConversationStore
    + ContactStore
    + AccountStore
    + AttachmentStore
    + JobStore
    + InboxStore
    + MailStore
    + Send
    + Sync
    + 'static
{
    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the store a database URL names (`sqlite://…`, `postgres://…`), running its
/// migrations.
pub async fn open(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open(database_url).await?))
    } else if database_url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(database_url).await?))
    } else {
        // Only the scheme: the rest of a URL may hold a password, and this error is printed.
        let scheme = database_url
            .split_once(':')
            .map_or(database_url, |(scheme, _)| scheme);
        Err(StoreError::UnsupportedUrl(scheme.to_owned()))
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

/// How the inbox names a conversation's person until a name or email is known: the web
/// visitor, or the sender's address or thread on another channel.
pub fn conversation_label(visitor: Option<&VisitorId>, external_thread: Option<&str>) -> String {
    match (visitor, external_thread) {
        (Some(visitor), _) => visitor_label(visitor),
        (None, Some(thread)) => match thread.strip_prefix("address:") {
            Some(address) => address.to_owned(),
            None => {
                let short: String = thread.chars().take(8).collect();
                format!("Thread {short}")
            }
        },
        (None, None) => "Contact".to_owned(),
    }
}
