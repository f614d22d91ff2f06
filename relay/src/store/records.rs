//! The records storage speaks besides protocol types: what goes in (`New…`, changes, queries)
//! and what comes out (`…Record`). Rows stay private to each backend.

use natter_protocol::agent::{AgentProfile, ConversationStatus, ConversationSummary, Role};
use natter_protocol::{
    AgentId, AttachmentId, Author, Channel, ClientMessageId, ConversationId, Message, Seq,
    UnixMillis,
};

use crate::identity::VisitorId;

/// A conversation and who it belongs to. Conversations are channel-neutral: a web chat has a
/// visitor; one that started on another channel (email, Messenger) has none, and is found by
/// its contact or its external thread id instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRecord {
    pub summary: ConversationSummary,
    pub visitor_id: Option<VisitorId>,
}

/// How a door finds the conversation a message belongs to, creating it on first contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationKey {
    /// The web chat of this visitor on this site (their verified contact's, when linked).
    Visitor(VisitorId),
    /// The newest conversation of the contact with this address (an email address), or a new
    /// one on `channel` with a new unverified contact of that address.
    ContactAddress { address: String, channel: Channel },
    /// A thread another system names, e.g. a Messenger PSID: one conversation per
    /// `(site, channel, thread_id)`. No contact is created for it.
    ExternalThread { channel: Channel, thread_id: String },
}

/// A job to run after a message is stored (an email, a webhook delivery, a Messenger send),
/// written in the same transaction as the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Which handler runs it (e.g. `"email.reply"`).
    pub kind: String,
    /// The handler's input, as JSON.
    pub payload: String,
    /// When it may run first.
    pub run_at: UnixMillis,
    /// Jobs with the same key are enqueued once; `None` for no such rule.
    pub dedupe_key: Option<String>,
    /// How many attempts before it is given up (kept as `failed`, never deleted).
    pub max_attempts: u32,
}

/// A claimed job, leased to one worker until `locked_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub id: String,
    pub kind: String,
    pub payload: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    pub max_attempts: u32,
    pub locked_until: UnixMillis,
}

/// A job's state, for operators and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Done,
    /// Gave up after `max_attempts`.
    Failed,
}

/// What the job store knows about one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    pub state: JobState,
    pub attempts: u32,
    pub run_at: UnixMillis,
    pub last_error: Option<String>,
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
    /// Jobs that must follow this message, enqueued in the same transaction (none for a
    /// resend).
    pub jobs: Vec<NewJob>,
    /// An email reply whose `From` is not the contact's address (E3).
    pub unverified_sender: Option<String>,
    /// An email will carry this message: its delivery starts as pending (E1).
    pub awaits_delivery: bool,
}

/// Who uploaded a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploader {
    Visitor,
    Agent,
}

impl Uploader {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Visitor => "visitor",
            Self::Agent => "agent",
        }
    }
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    pub access_token: String,
    pub name: String,
    pub content_type: String,
}

/// Where a stored file is downloaded: a capability URL, relative to the relay's origin.
pub fn attachment_url(id: AttachmentId, access_token: &str) -> String {
    format!("/v1/attachments/{}/{access_token}", id.0)
}

/// The result of appending a message.
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

/// Details someone gave about themselves (identify, the email form), validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactDetails {
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
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

/// Whose conversations the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeScope {
    All,
    Unassigned,
    /// Assigned to this agent, or to one of their groups and to no agent.
    Mine(AgentId),
}

/// A validated list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub status: Option<ConversationStatus>,
    pub assignee: AssigneeScope,
    pub channel: Option<Channel>,
    /// Words to search for, as the agent typed them; each backend turns them into its own
    /// full-text query (words match as prefixes, all must match).
    pub search: Option<String>,
    pub blocked: bool,
    /// Keyset cursor: strictly after this `(last_activity_at, id)` in list order.
    pub after: Option<(UnixMillis, String)>,
    pub limit: u32,
}

/// Contact changes, validated. Outer `None`: unchanged; `Some(None)`: cleared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactChanges {
    pub email: Option<String>,
    pub name: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub company: Option<Option<String>>,
}

/// An audit log entry to write.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    pub at: UnixMillis,
    pub actor: AgentId,
    pub actor_name: String,
    pub action: &'static str,
    pub subject: String,
    pub details: String,
}

/// Agent account changes, validated (`password_hash` already hashed).
#[derive(Debug, Clone, Default)]
pub struct AgentChanges {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
}
