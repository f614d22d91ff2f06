//! What the inbox needs from storage, as a supertrait of [`crate::store::Store`], so every
//! backend implements it and handlers reach it through `state.store`. The SQLite
//! implementation is in `store/sqlite/inbox.rs`.

use async_trait::async_trait;
use natter_protocol::agent::{
    AgentMessage, AuditEntry, ContactId, ContactInfo, ConversationStatus, Group, GroupId, Role,
    SavedResponse, SavedResponseId, SavedResponseInput,
};
use natter_protocol::{AgentId, Channel, ConversationId, UnixMillis};

use crate::error::StoreError;
use crate::store::{AgentRecord, ConversationRecord};

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
    /// An FTS5 query (already made safe by `inbox::search::fts_query`).
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

#[async_trait]
pub trait InboxStore: Send + Sync {
    /// Keeps the inbox state in step with a stored message: a visitor message reopens the
    /// conversation, marks it unread and starts the "waiting" clock; an agent reply (not an
    /// internal comment) stops it and counts as reading.
    async fn inbox_after_append(
        &self,
        conversation: ConversationId,
        from_visitor: bool,
        internal: bool,
        now: UnixMillis,
    ) -> Result<(), StoreError>;

    /// One conversation with its inbox state and contact (`visitor_online` is not stored).
    async fn inbox_conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError>;

    /// A page of the list, newest activity first; `limit + 1` rows tell whether more exist.
    async fn inbox_list(&self, query: &ListQuery) -> Result<Vec<ConversationRecord>, StoreError>;

    /// The whole thread for agents, internal comments included.
    async fn inbox_thread(&self, id: ConversationId) -> Result<Vec<AgentMessage>, StoreError>;

    /// Marks the conversation read for everyone. Returns whether it was unread.
    async fn inbox_mark_read(&self, id: ConversationId) -> Result<bool, StoreError>;

    async fn inbox_set_status(
        &self,
        id: ConversationId,
        status: ConversationStatus,
    ) -> Result<bool, StoreError>;

    async fn inbox_assign(
        &self,
        id: ConversationId,
        agent: Option<AgentId>,
        group: Option<GroupId>,
    ) -> Result<bool, StoreError>;

    /// Deletes a conversation and its messages. Returns whether it existed.
    async fn inbox_delete_conversation(&self, id: ConversationId) -> Result<bool, StoreError>;

    /// Blocks or unblocks the conversation's contact (or its visitor when it has none) and
    /// every conversation of theirs. Returns the conversations that changed.
    async fn inbox_set_blocked(
        &self,
        id: ConversationId,
        blocked: bool,
        now: UnixMillis,
    ) -> Result<Vec<ConversationId>, StoreError>;

    /// The contact of a conversation.
    async fn inbox_contact(&self, id: ConversationId) -> Result<Option<ContactInfo>, StoreError>;

    /// A contact's conversations, newest first.
    async fn inbox_contact_conversations(
        &self,
        contact: ContactId,
        limit: u32,
    ) -> Result<Vec<ConversationRecord>, StoreError>;

    /// Edits the conversation's contact, or creates an unverified one (then `email` is
    /// required) and links the conversation and its visitor to it.
    async fn inbox_update_contact(
        &self,
        id: ConversationId,
        changes: &ContactChanges,
        now: UnixMillis,
    ) -> Result<ContactInfo, StoreError>;

    async fn inbox_agents(&self) -> Result<Vec<AgentRecord>, StoreError>;

    async fn inbox_agent(&self, id: AgentId) -> Result<Option<AgentRecord>, StoreError>;

    /// Changes an account. Disabling it also deletes its sessions.
    async fn inbox_update_agent(
        &self,
        id: AgentId,
        changes: &AgentChanges,
    ) -> Result<Option<AgentRecord>, StoreError>;

    async fn inbox_groups(&self) -> Result<Vec<Group>, StoreError>;

    async fn inbox_save_group(
        &self,
        id: Option<GroupId>,
        name: &str,
        members: &[AgentId],
        now: UnixMillis,
    ) -> Result<Option<Group>, StoreError>;

    /// Open, unanswered conversations that are this agent's or nobody's (I15).
    async fn inbox_waiting_count(&self, agent: AgentId) -> Result<u64, StoreError>;

    async fn saved_responses(&self) -> Result<Vec<SavedResponse>, StoreError>;

    async fn save_saved_response(
        &self,
        id: Option<SavedResponseId>,
        input: &SavedResponseInput,
        now: UnixMillis,
    ) -> Result<Option<SavedResponse>, StoreError>;

    async fn delete_saved_response(&self, id: SavedResponseId) -> Result<bool, StoreError>;

    async fn audit(&self, entry: NewAuditEntry) -> Result<(), StoreError>;

    /// Newest first.
    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// Whether the conversation's contact or visitor is blocked.
    async fn inbox_is_blocked(&self, id: ConversationId) -> Result<bool, StoreError>;
}
