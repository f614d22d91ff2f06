//! What the agent inbox needs from storage (I2–I16): the list, the thread, conversation
//! state, contacts, accounts, groups, saved responses and the audit log. Every backend
//! implements it; the SQLite implementation is in `sqlite/inbox.rs`.

use async_trait::async_trait;
use natter_protocol::agent::{
    AgentMessage, AuditEntry, ContactId, ContactInfo, ConversationStatus, Group, GroupId,
    SavedResponse, SavedResponseId, SavedResponseInput,
};
use natter_protocol::{AgentId, ConversationId, UnixMillis};

use super::{
    AgentChanges, AgentRecord, ContactChanges, ConversationRecord, ListQuery, NewAuditEntry,
    StoreError,
};

#[async_trait]
pub trait InboxStore: Send + Sync {
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
