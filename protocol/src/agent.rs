//! The agent API: REST bodies under `/v1/agent/*` and frames on `GET /v1/agent/ws`.
//!
//! The console is one client of this API; other tools may use it too (see `docs/agent-api.md`).
//! Authentication is a session cookie set by `POST /v1/agent/login`; every state-changing
//! request must also carry the session's CSRF token in the [`CSRF_HEADER`] header (S6).
//!
//! Besides the bodies, this module holds the inbox rules that both the relay and the console
//! need, as pure functions: the status dot of a row ([`dot`]), the reply channel choice
//! ([`reply_channels`]) and saved-response personalization tags ([`template`]).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    AgentId, AttachmentId, Channel, ClientMessageId, ConversationId, Message, MessageId, UnixMillis,
};

/// The path of the agent WebSocket on the relay.
pub const AGENT_WS_PATH: &str = "/v1/agent/ws";

/// The header that carries the CSRF token on state-changing agent requests.
pub const CSRF_HEADER: &str = "x-natter-csrf";

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Agent,
}

/// Identifies a group of agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GroupId(pub Uuid);

/// Identifies a contact (I16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContactId(pub Uuid);

/// Identifies a saved response (I6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SavedResponseId(pub Uuid);

/// `POST /v1/agent/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// The logged-in agent: the answer to `POST /v1/agent/login` and `GET /v1/agent/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub agent: AgentProfile,
    /// Send this in [`CSRF_HEADER`] on every state-changing request.
    pub csrf_token: String,
    /// How the relay's inbox is configured (timeouts the console needs for the dots).
    #[serde(default)]
    pub settings: InboxSettings,
}

/// Relay settings the console needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxSettings {
    /// A conversation nobody answered for this long shows a red dot (I3).
    pub missed_after_ms: i64,
    /// The relay can send email (an SMTP server is configured, E1): otherwise the Email
    /// channel is offered disabled, with the reason.
    #[serde(default)]
    pub email_enabled: bool,
}

impl Default for InboxSettings {
    fn default() -> Self {
        Self {
            missed_after_ms: 30_000,
            email_enabled: false,
        }
    }
}

/// An agent account as other agents see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentProfile {
    pub id: AgentId,
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// An agent in `GET /v1/agent/agents`: profile, whether the account is enabled, and presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    #[serde(flatten)]
    pub profile: AgentProfile,
    #[serde(default)]
    pub disabled: bool,
    /// Since when a console of this agent is connected; `None` when offline.
    #[serde(default)]
    pub online_since: Option<UnixMillis>,
}

/// `GET /v1/agent/agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentList {
    pub agents: Vec<AgentInfo>,
    pub groups: Vec<Group>,
}

/// `POST /v1/agent/agents` (admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAgentRequest {
    pub email: String,
    pub name: String,
    pub password: String,
    pub role: Role,
}

/// `PATCH /v1/agent/agents/{id}` (admins). Absent fields stay as they are. Disabling an agent
/// ends their sessions at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub password: Option<String>,
}

/// A group of agents a conversation can be assigned to (I9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub members: Vec<AgentId>,
}

/// `POST /v1/agent/groups` and `PUT /v1/agent/groups/{id}` (admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInput {
    pub name: String,
    #[serde(default)]
    pub members: Vec<AgentId>,
}

/// Open or complete (I8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    #[default]
    Open,
    Complete,
}

/// The contact a conversation belongs to, as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactBrief {
    pub id: ContactId,
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
}

fn chat() -> Channel {
    Channel::Chat
}

/// What the inbox knows about a conversation beyond its messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationState {
    #[serde(default)]
    pub status: ConversationStatus,
    #[serde(default)]
    pub assigned_agent: Option<AgentId>,
    #[serde(default)]
    pub assigned_group: Option<GroupId>,
    /// A visitor message no agent has opened yet (shared by all agents, I4).
    #[serde(default)]
    pub unread: bool,
    /// The first visitor message no agent has answered yet.
    #[serde(default)]
    pub awaiting_reply_since: Option<UnixMillis>,
    /// The visitor has the widget open now (green, I3).
    #[serde(default)]
    pub visitor_online: bool,
    /// The contact is blocked (I10): the conversation stays out of the default list.
    #[serde(default)]
    pub blocked: bool,
    /// The channel the conversation started on.
    #[serde(default = "chat")]
    pub channel: Channel,
    #[serde(default)]
    pub contact: Option<ContactBrief>,
}

impl Default for ConversationState {
    fn default() -> Self {
        Self {
            status: ConversationStatus::Open,
            assigned_agent: None,
            assigned_group: None,
            unread: false,
            awaiting_reply_since: None,
            visitor_online: false,
            blocked: false,
            channel: Channel::Chat,
            contact: None,
        }
    }
}

/// One row of the inbox list (`GET /v1/agent/conversations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: ConversationId,
    /// The site key the conversation came from.
    pub site: String,
    /// How to call the visitor until a name or email is known.
    pub visitor_label: String,
    /// The first characters of the newest message, if any.
    #[serde(default)]
    pub last_message_preview: Option<String>,
    /// Ordering key of the list: newest activity first.
    pub last_activity_at: UnixMillis,
    /// Number of messages (equals the highest `seq`).
    pub message_count: u64,
    pub created_at: UnixMillis,
    /// Status, assignment, read state, presence, contact.
    #[serde(default)]
    pub state: ConversationState,
}

impl ConversationSummary {
    /// The contact's name, else their email, else the visitor label.
    pub fn display_name(&self) -> String {
        match &self.state.contact {
            Some(ContactBrief {
                name: Some(name), ..
            }) if !name.trim().is_empty() => name.clone(),
            Some(contact) => contact.email.clone(),
            None => self.visitor_label.clone(),
        }
    }
}

/// Which conversations `GET /v1/agent/conversations` returns, as query parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationQuery {
    /// `open` or `complete`; both when absent.
    #[serde(default)]
    pub status: Option<ConversationStatus>,
    /// `mine`, `unassigned` or `all` (the default).
    #[serde(default)]
    pub assignee: Option<AssigneeFilter>,
    #[serde(default)]
    pub channel: Option<Channel>,
    /// Full-text search over messages and contacts (words, prefix match).
    #[serde(default)]
    pub q: Option<String>,
    /// Show blocked contacts' conversations instead of the others.
    #[serde(default)]
    pub blocked: Option<bool>,
    /// The `next` cursor of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// Rows per page (capped by the relay).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// The assignee filter of the list (I2, I9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssigneeFilter {
    /// Assigned to me, or to a group I am in and no agent.
    Mine,
    Unassigned,
    All,
}

/// `GET /v1/agent/conversations`: newest activity first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationList {
    pub conversations: Vec<ConversationSummary>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(default)]
    pub next: Option<String>,
}

/// A message as agents see it: internal comments (I7) are marked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentMessage {
    #[serde(flatten)]
    pub message: Message,
    /// An internal comment: agents only, never sent to the visitor.
    #[serde(default)]
    pub internal: bool,
    /// How far the email that carries this message got (E1); `None` for a message no email
    /// carries (yet).
    #[serde(default)]
    pub delivery: Option<Delivery>,
    /// An email reply whose `From` is not the contact's address (E3): shown to agents as an
    /// unverified sender, never merged into the contact.
    #[serde(default)]
    pub unverified_sender: Option<String>,
}

/// Where an outbound email stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// In the outbox; retried with backoff while the mail server is down or answers 4xx.
    Pending,
    /// Accepted by the mail server.
    Sent,
    /// Refused for good (5xx, or too many attempts); `detail` says why.
    Failed,
}

/// The email delivery of one message (E1, E2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub state: DeliveryState,
    /// The mail server's answer when it refused, or the last transient error.
    #[serde(default)]
    pub detail: Option<String>,
    pub updated_at: UnixMillis,
}

/// `GET /v1/agent/conversations/{id}`: the conversation with its whole thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationDetail {
    pub conversation: ConversationSummary,
    /// Ascending `seq`, internal comments included.
    pub messages: Vec<AgentMessage>,
}

/// `POST /v1/agent/conversations/{id}/messages`: an agent's reply or internal comment.
/// Idempotent by `client_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReply {
    pub client_id: ClientMessageId,
    pub text: String,
    /// Files uploaded first (`POST /v1/agent/conversations/{id}/attachments`).
    #[serde(default)]
    pub attachments: Vec<AttachmentId>,
    /// An internal comment (I7) instead of a reply.
    #[serde(default)]
    pub internal: bool,
    /// The reply channel (I5); the relay's default choice when absent.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// The email's subject when the channel is Email (from an email template, I6); the
    /// conversation's subject when absent.
    #[serde(default)]
    pub subject: Option<String>,
}

/// `POST /v1/agent/conversations/{id}/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetStatus {
    pub status: ConversationStatus,
}

/// `POST /v1/agent/conversations/{id}/assign`: both `None` unassigns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assign {
    #[serde(default)]
    pub agent: Option<AgentId>,
    #[serde(default)]
    pub group: Option<GroupId>,
}

/// `POST /v1/agent/conversations/{id}/block`: blocks or unblocks the conversation's contact
/// (or its visitor, when no contact is known).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetBlocked {
    pub blocked: bool,
}

/// A contact with every field agents can see (I12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactInfo {
    pub id: ContactId,
    pub email: String,
    pub email_verified: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub blocked: bool,
    /// Mail to this address bounced (a delivery status notification): no further unread-reply
    /// emails go to it until the address is changed.
    #[serde(default)]
    pub email_bouncing: bool,
}

/// `GET /v1/agent/conversations/{id}/contact`: the contact panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPanel {
    /// `None` for an anonymous visitor.
    pub contact: Option<ContactInfo>,
    /// The contact's other conversations, newest first.
    pub other_conversations: Vec<ConversationSummary>,
}

/// `PUT /v1/agent/conversations/{id}/contact`: adds or edits the contact's fields. Absent
/// fields stay as they are; an empty string clears an optional field. Creating a contact
/// needs an email.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactUpdate {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
}

/// A saved response (I6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedResponse {
    pub id: SavedResponseId,
    pub category: String,
    pub title: String,
    /// May contain personalization tags, see [`template`].
    pub body: String,
    /// Set for an email template (I6): the subject of the email. Email templates are offered in
    /// the composer when the channel is Email, saved responses on every channel.
    #[serde(default)]
    pub subject: Option<String>,
    pub updated_at: UnixMillis,
}

/// `POST /v1/agent/saved-responses` and `PUT /v1/agent/saved-responses/{id}` (admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedResponseInput {
    pub category: String,
    pub title: String,
    pub body: String,
    /// Makes it an email template (I6).
    #[serde(default)]
    pub subject: Option<String>,
}

/// `GET /v1/agent/saved-responses`: by category, then title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedResponseList {
    pub responses: Vec<SavedResponse>,
}

/// What happened to an inbound email that did not become a message (E3, E5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundMailOutcome {
    /// It could not be parsed or routed: kept, with the reason, for an admin to look at.
    Kept,
    /// An auto-reply or a bounce: not shown as a visitor message.
    Ignored,
}

/// One inbound email that did not become a message, for admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMailEntry {
    pub id: String,
    pub received_at: UnixMillis,
    pub outcome: InboundMailOutcome,
    pub reason: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    /// Size of the raw message in bytes (the raw bytes stay stored).
    pub size: u64,
}

/// `GET /v1/agent/mail/inbound` (admins): newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMailLog {
    pub entries: Vec<InboundMailEntry>,
}

/// One entry of the audit log (I11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: UnixMillis,
    pub actor: AgentId,
    pub actor_name: String,
    /// What was done, e.g. `conversation.delete`, `contact.block`, `agent.create`.
    pub action: String,
    /// What it was done to (an id).
    pub subject: String,
    /// A human-readable summary.
    pub details: String,
}

/// `GET /v1/agent/audit` (admins): newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLog {
    pub entries: Vec<AuditEntry>,
}

/// `POST /v1/agent/conversations/{id}/typing`: the agent started or stopped typing a reply
/// (W7). The visitor sees the agent's display name. Renew `typing: true` at least every
/// [`TYPING_LAPSE_MS`] while typing goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetTyping {
    pub typing: bool,
}

/// A typing indicator that is not renewed within this time is hidden by whoever shows it.
pub const TYPING_LAPSE_MS: u64 = 6_000;

/// Relay → console on the agent socket. The console never needs to poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentServerFrame {
    /// A conversation was created or its summary changed; replace the list row.
    ConversationUpdated { conversation: ConversationSummary },
    /// A message or internal comment was stored in a conversation.
    MessageAdded { message: AgentMessage },
    /// The email carrying a message was sent, or failed, or is being retried (E1).
    DeliveryChanged {
        conversation_id: ConversationId,
        message_id: MessageId,
        delivery: Delivery,
    },
    /// An inbound email was kept or ignored: admins fetch `GET /v1/agent/mail/inbound` again.
    InboundMailChanged,
    /// A conversation was deleted by an admin.
    ConversationDeleted { id: ConversationId },
    /// An agent came online (`online_since`) or went offline (`None`).
    AgentPresence {
        agent_id: AgentId,
        online_since: Option<UnixMillis>,
    },
    /// Agents or groups changed: fetch `GET /v1/agent/agents` again.
    AgentsChanged,
    /// Saved responses changed: fetch `GET /v1/agent/saved-responses` again.
    SavedResponsesChanged,
    /// A contact's details changed.
    ContactUpdated { contact: ContactInfo },
    /// Sent once when the socket opens: conversations waiting for this agent (open, not
    /// answered, and assigned to them, to a group of theirs or to nobody) (I15).
    Waiting { count: u64 },
    /// Someone started or stopped typing in a conversation (W7, I15): its visitor
    /// (`agent_id` is `None`) or another agent. Not stored; a `typing: true` lapses by itself
    /// after [`TYPING_LAPSE_MS`] without a renewal.
    Typing {
        conversation_id: ConversationId,
        agent_id: Option<AgentId>,
        /// The agent's display name, or the visitor's name if known.
        name: Option<String>,
        typing: bool,
    },
    /// This socket missed events (the relay fell behind, or lost some from another node):
    /// re-fetch the list, the open thread and the agents, as after a reconnect. The socket
    /// stays open.
    Resync,
    /// A frame type this build does not know (sent by a newer relay): ignore it.
    #[serde(other)]
    Unknown,
}

/// The status dot of a conversation row (I3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dot {
    /// Read, answered or closed.
    None,
    /// A new conversation nobody is assigned to, or a new message in one assigned to me,
    /// until someone opens it.
    Purple,
    /// Missed: the assigned agents are offline, or nobody answered within the timeout.
    Red,
}

/// Whether a conversation is the viewer's: assigned to them, or to a group of theirs and to
/// no agent.
pub fn is_mine(state: &ConversationState, viewer: AgentId, groups: &[Group]) -> bool {
    match (state.assigned_agent, state.assigned_group) {
        (Some(agent), _) => agent == viewer,
        (None, Some(group)) => groups
            .iter()
            .any(|g| g.id == group && g.members.contains(&viewer)),
        (None, None) => false,
    }
}

/// Since when the agents responsible for a conversation are online: the assigned agent; else
/// the members of the assigned group; else every enabled agent. `None`: all of them offline.
pub fn assignees_online_since(
    state: &ConversationState,
    agents: &[AgentInfo],
    groups: &[Group],
) -> Option<UnixMillis> {
    let responsible = |agent: &AgentInfo| match (state.assigned_agent, state.assigned_group) {
        (Some(id), _) => agent.profile.id == id,
        (None, Some(group)) => groups
            .iter()
            .any(|g| g.id == group && g.members.contains(&agent.profile.id)),
        (None, None) => !agent.disabled,
    };
    agents
        .iter()
        .filter(|agent| responsible(agent))
        .filter_map(|agent| agent.online_since)
        .min()
}

/// The status dot of a row at `now` for a viewer (`mine`: see [`is_mine`]) (I3):
/// - complete or blocked: no dot;
/// - waiting for an answer while the responsible agents are offline, or for longer than
///   `missed_after_ms` since the later of the visitor's message and an agent coming online:
///   red, until someone answers or an agent comes online;
/// - unread and unassigned or mine: purple, until someone opens it;
/// - otherwise no dot.
pub fn dot(
    summary: &ConversationSummary,
    mine: bool,
    assignees_online_since: Option<UnixMillis>,
    now: UnixMillis,
    missed_after_ms: i64,
) -> Dot {
    let state = &summary.state;
    if state.status == ConversationStatus::Complete || state.blocked {
        return Dot::None;
    }
    if let Some(waiting_since) = state.awaiting_reply_since {
        match assignees_online_since {
            None => return Dot::Red,
            Some(online_since) => {
                if now.saturating_sub(waiting_since.max(online_since)) >= missed_after_ms {
                    return Dot::Red;
                }
            }
        }
    }
    let unassigned = state.assigned_agent.is_none() && state.assigned_group.is_none();
    if state.unread && (unassigned || mine) {
        Dot::Purple
    } else {
        Dot::None
    }
}

/// Why a reply channel cannot be used (I5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelUnavailable {
    /// No email address is known for the contact.
    NoEmail,
    /// The relay has no mail server configured.
    EmailOff,
    /// The conversation did not start in the web chat.
    NotChat,
    /// The conversation did not come from Messenger.
    NotMessenger,
}

/// One entry of the channel dropdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelOption {
    pub channel: Channel,
    /// Why it is disabled; `None` when it can be used.
    pub unavailable: Option<ChannelUnavailable>,
}

/// The reply channels of a conversation and the pre-selected one (I5): chat when the visitor
/// is online, email when they are offline and an email is known, else the first usable one.
/// `email_enabled`: the relay can send email ([`InboxSettings::email_enabled`]).
pub fn reply_channels(
    state: &ConversationState,
    email_enabled: bool,
) -> (Vec<ChannelOption>, Channel) {
    let email_known = state.contact.is_some();
    let email_unavailable = if !email_enabled {
        Some(ChannelUnavailable::EmailOff)
    } else if !email_known {
        Some(ChannelUnavailable::NoEmail)
    } else {
        None
    };
    let options = vec![
        ChannelOption {
            channel: Channel::Chat,
            unavailable: (state.channel != Channel::Chat).then_some(ChannelUnavailable::NotChat),
        },
        ChannelOption {
            channel: Channel::Email,
            unavailable: email_unavailable,
        },
        ChannelOption {
            channel: Channel::Messenger,
            unavailable: (state.channel != Channel::Messenger)
                .then_some(ChannelUnavailable::NotMessenger),
        },
    ];
    let usable = |channel: Channel| {
        options
            .iter()
            .any(|o| o.channel == channel && o.unavailable.is_none())
    };
    let preferred = if state.visitor_online && usable(Channel::Chat) {
        Channel::Chat
    } else if !state.visitor_online && usable(Channel::Email) {
        Channel::Email
    } else if usable(state.channel) {
        state.channel
    } else {
        options
            .iter()
            .find(|o| o.unavailable.is_none())
            .map_or(state.channel, |o| o.channel)
    };
    (options, preferred)
}

/// Personalization tags in saved responses (I6): `{{contact.first_name | "there"}}`.
///
/// A tag is `{{ name }}` or `{{ name | "default" }}`. Known names are [`TAGS`]. A saved
/// response with an unknown or malformed tag is refused when it is saved; a tag without a
/// value and without a default cannot be inserted. Filled text never contains a raw tag.
pub mod template {
    /// The tags a saved response may use.
    pub const TAGS: [&str; 7] = [
        "contact.first_name",
        "contact.name",
        "contact.email",
        "contact.phone",
        "contact.company",
        "agent.name",
        "agent.first_name",
    ];

    /// What the tags are filled with.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct Values {
        pub contact_name: Option<String>,
        pub contact_email: Option<String>,
        pub contact_phone: Option<String>,
        pub contact_company: Option<String>,
        pub agent_name: Option<String>,
    }

    impl Values {
        fn get(&self, tag: &str) -> Option<String> {
            let first = |name: &Option<String>| {
                name.as_deref()
                    .and_then(|n| n.split_whitespace().next())
                    .map(str::to_owned)
            };
            let value = match tag {
                "contact.first_name" => first(&self.contact_name),
                "contact.name" => self.contact_name.clone(),
                "contact.email" => self.contact_email.clone(),
                "contact.phone" => self.contact_phone.clone(),
                "contact.company" => self.contact_company.clone(),
                "agent.name" => self.agent_name.clone(),
                "agent.first_name" => first(&self.agent_name),
                _ => None,
            };
            value.filter(|v| !v.trim().is_empty())
        }
    }

    /// A problem with a tag.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum TagError {
        /// `{{` without a matching `}}`.
        Unclosed,
        /// A tag name that is not one of [`TAGS`].
        Unknown(String),
        /// Not `name` or `name | "default"`.
        Malformed(String),
        /// The tag has no value here and no default.
        Missing(String),
    }

    impl std::fmt::Display for TagError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Self::Unclosed => write!(f, "a tag opened with {{{{ is not closed with }}}}"),
                Self::Unknown(tag) => write!(
                    f,
                    "unknown tag {{{{{tag}}}}}; known tags: {}",
                    TAGS.join(", ")
                ),
                Self::Malformed(tag) => write!(
                    f,
                    "malformed tag {{{{{tag}}}}}; write {{{{name}}}} or {{{{name | \"default\"}}}}"
                ),
                Self::Missing(tag) => write!(
                    f,
                    "{{{{{tag}}}}} has no value for this conversation and no default"
                ),
            }
        }
    }

    enum Piece<'a> {
        Text(&'a str),
        Tag {
            name: &'a str,
            default: Option<&'a str>,
            raw: &'a str,
        },
    }

    fn parse_tag(raw: &str) -> Result<(&str, Option<&str>), TagError> {
        let (name, default) = match raw.split_once('|') {
            Some((name, default)) => {
                let default = default.trim();
                let quoted =
                    default.len() >= 2 && default.starts_with('"') && default.ends_with('"');
                if !quoted {
                    return Err(TagError::Malformed(raw.trim().to_owned()));
                }
                (name.trim(), Some(&default[1..default.len() - 1]))
            }
            None => (raw.trim(), None),
        };
        if !TAGS.contains(&name) {
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(TagError::Malformed(raw.trim().to_owned()));
            }
            return Err(TagError::Unknown(name.to_owned()));
        }
        Ok((name, default))
    }

    fn pieces(body: &str) -> Result<Vec<Piece<'_>>, Vec<TagError>> {
        let mut pieces = Vec::new();
        let mut errors = Vec::new();
        let mut rest = body;
        while let Some(start) = rest.find("{{") {
            pieces.push(Piece::Text(&rest[..start]));
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                errors.push(TagError::Unclosed);
                rest = "";
                break;
            };
            let raw = &after[..end];
            match parse_tag(raw) {
                Ok((name, default)) => pieces.push(Piece::Tag { name, default, raw }),
                Err(error) => errors.push(error),
            }
            rest = &after[end + 2..];
        }
        pieces.push(Piece::Text(rest));
        if errors.is_empty() {
            Ok(pieces)
        } else {
            Err(errors)
        }
    }

    /// Every problem with the tags of a saved response body (empty when it is fine).
    pub fn check(body: &str) -> Vec<TagError> {
        pieces(body).err().unwrap_or_default()
    }

    /// Whether a text contains anything that looks like a tag (`{{`). A reply with one is
    /// refused by the relay, so a tag is never sent raw by accident.
    pub fn has_tag(text: &str) -> bool {
        text.contains("{{")
    }

    /// Fills every tag. Fails on the first tag that is malformed, unknown, or has no value
    /// and no default.
    pub fn render(body: &str, values: &Values) -> Result<String, TagError> {
        let pieces = pieces(body).map_err(|mut errors| errors.remove(0))?;
        let mut out = String::with_capacity(body.len());
        for piece in pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Tag { name, default, raw } => {
                    match values.get(name).or(default.map(str::to_owned)) {
                        Some(value) => out.push_str(&value),
                        None => return Err(TagError::Missing(raw.trim().to_owned())),
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn summary() -> ConversationSummary {
        ConversationSummary {
            id: ConversationId(Uuid::nil()),
            site: "demo".into(),
            visitor_label: "Visitor 1a2b".into(),
            last_message_preview: Some("hi".into()),
            last_activity_at: 2,
            message_count: 1,
            created_at: 1,
            state: ConversationState::default(),
        }
    }

    #[test]
    fn conversation_updated_golden_json() {
        let frame = AgentServerFrame::ConversationUpdated {
            conversation: summary(),
        };
        assert_eq!(
            serde_json::to_value(&frame).unwrap(),
            serde_json::json!({
                "type": "conversation_updated",
                "conversation": {
                    "id": "00000000-0000-0000-0000-000000000000",
                    "site": "demo",
                    "visitor_label": "Visitor 1a2b",
                    "last_message_preview": "hi",
                    "last_activity_at": 2,
                    "message_count": 1,
                    "created_at": 1,
                    "state": {
                        "status": "open",
                        "assigned_agent": null,
                        "assigned_group": null,
                        "unread": false,
                        "awaiting_reply_since": null,
                        "visitor_online": false,
                        "blocked": false,
                        "channel": "chat",
                        "contact": null
                    }
                }
            })
        );
        // An old relay's row (no state) still parses.
        let old: ConversationSummary = serde_json::from_value(serde_json::json!({
            "id": "00000000-0000-0000-0000-000000000000", "site": "demo",
            "visitor_label": "V", "last_activity_at": 2, "message_count": 1, "created_at": 1
        }))
        .unwrap();
        assert_eq!(old.state, ConversationState::default());
    }

    #[test]
    fn agent_message_flattens_the_message_and_marks_comments() {
        let message = Message {
            id: crate::MessageId(Uuid::nil()),
            conversation_id: ConversationId(Uuid::nil()),
            seq: 2,
            client_id: ClientMessageId(Uuid::nil()),
            author: crate::Author::Visitor,
            channel: Channel::Chat,
            text: "note".into(),
            sent_at: 5,
            attachments: Vec::new(),
        };
        let json = serde_json::to_value(AgentServerFrame::MessageAdded {
            message: AgentMessage {
                message: message.clone(),
                internal: true,
                delivery: None,
                unverified_sender: None,
            },
        })
        .unwrap();
        assert_eq!(json["type"], "message_added");
        assert_eq!(json["message"]["internal"], true);
        assert_eq!(json["message"]["text"], "note");
        let back: AgentServerFrame = serde_json::from_value(json).unwrap();
        assert_eq!(
            back,
            AgentServerFrame::MessageAdded {
                message: AgentMessage {
                    message,
                    internal: true,
                    delivery: None,
                    unverified_sender: None,
                }
            }
        );
    }

    #[test]
    fn role_golden_json() {
        assert_eq!(serde_json::to_string(&Role::Admin).unwrap(), r#""admin""#);
        assert_eq!(
            serde_json::to_string(&AgentServerFrame::AgentsChanged).unwrap(),
            r#"{"type":"agents_changed"}"#
        );
        assert_eq!(
            serde_json::to_string(&AgentServerFrame::Resync).unwrap(),
            r#"{"type":"resync"}"#
        );
    }

    fn agent(n: u128, online_since: Option<i64>) -> AgentInfo {
        AgentInfo {
            profile: AgentProfile {
                id: AgentId(Uuid::from_u128(n)),
                email: format!("a{n}@example.com"),
                name: format!("A{n}"),
                role: Role::Agent,
            },
            disabled: false,
            online_since,
        }
    }

    #[test]
    fn dots_follow_the_seed_rules() {
        let other = AgentId(Uuid::from_u128(2));
        let mut row = summary();
        let timeout = 30_000;
        // Read and answered: no dot.
        assert_eq!(dot(&row, false, Some(0), 100, timeout), Dot::None);
        // A new unassigned conversation: purple, until the timeout.
        row.state.unread = true;
        row.state.awaiting_reply_since = Some(1_000);
        assert_eq!(dot(&row, false, Some(0), 30_999, timeout), Dot::Purple);
        assert_eq!(dot(&row, false, Some(0), 31_000, timeout), Dot::Red);
        // Nobody responsible online: red at once.
        assert_eq!(dot(&row, false, None, 1_001, timeout), Dot::Red);
        // An agent who just came online restarts the clock.
        assert_eq!(dot(&row, false, Some(40_000), 50_000, timeout), Dot::Purple);
        // Assigned to someone else: no purple for me; to me: purple.
        row.state.assigned_agent = Some(other);
        assert_eq!(dot(&row, false, Some(0), 2_000, timeout), Dot::None);
        assert_eq!(dot(&row, true, Some(0), 2_000, timeout), Dot::Purple);
        // Opened (read) but unanswered: no dot until the timeout, then red.
        row.state.unread = false;
        assert_eq!(dot(&row, true, Some(0), 2_000, timeout), Dot::None);
        assert_eq!(dot(&row, true, Some(0), 40_000, timeout), Dot::Red);
        // Answered: no dot. Complete: no dot.
        row.state.awaiting_reply_since = None;
        assert_eq!(dot(&row, true, Some(0), 90_000, timeout), Dot::None);
        row.state.awaiting_reply_since = Some(1);
        row.state.status = ConversationStatus::Complete;
        assert_eq!(dot(&row, true, None, 90_000, timeout), Dot::None);
    }

    #[test]
    fn responsible_agents_are_the_assignee_the_group_or_everyone() {
        let agents = [agent(1, None), agent(2, Some(7)), agent(3, Some(5))];
        let group = Group {
            id: GroupId(Uuid::from_u128(9)),
            name: "Sales".into(),
            members: vec![AgentId(Uuid::from_u128(1)), AgentId(Uuid::from_u128(2))],
        };
        let mut state = ConversationState::default();
        assert_eq!(assignees_online_since(&state, &agents, &[]), Some(5));
        state.assigned_group = Some(group.id);
        assert_eq!(
            assignees_online_since(&state, &agents, std::slice::from_ref(&group)),
            Some(7)
        );
        assert!(is_mine(
            &state,
            AgentId(Uuid::from_u128(1)),
            std::slice::from_ref(&group)
        ));
        assert!(!is_mine(&state, AgentId(Uuid::from_u128(3)), &[group]));
        state.assigned_agent = Some(AgentId(Uuid::from_u128(1)));
        assert_eq!(assignees_online_since(&state, &agents, &[]), None);
    }

    #[test]
    fn the_channel_is_preselected_by_presence_and_email() {
        let mut state = ConversationState {
            visitor_online: true,
            ..ConversationState::default()
        };
        let (options, chosen) = reply_channels(&state, true);
        assert_eq!(chosen, Channel::Chat);
        assert_eq!(options[1].unavailable, Some(ChannelUnavailable::NoEmail));
        assert_eq!(
            options[2].unavailable,
            Some(ChannelUnavailable::NotMessenger)
        );
        state.visitor_online = false;
        assert_eq!(
            reply_channels(&state, true).1,
            Channel::Chat,
            "no email known"
        );
        state.contact = Some(ContactBrief {
            id: ContactId(Uuid::nil()),
            email: "ada@example.com".into(),
            name: None,
            email_verified: false,
        });
        let (options, chosen) = reply_channels(&state, true);
        assert_eq!(chosen, Channel::Email);
        assert_eq!(options[1].unavailable, None);
        let (options, chosen) = reply_channels(&state, false);
        assert_eq!(chosen, Channel::Chat, "no mail server: chat");
        assert_eq!(options[1].unavailable, Some(ChannelUnavailable::EmailOff));
        state.visitor_online = true;
        assert_eq!(reply_channels(&state, true).1, Channel::Chat);
    }

    #[test]
    fn tags_are_filled_with_values_or_defaults() {
        use template::*;
        let values = Values {
            contact_name: Some("Ada Lovelace".into()),
            agent_name: Some("Grace".into()),
            ..Values::default()
        };
        assert_eq!(
            render(
                "Hi {{contact.first_name | \"there\"}}, {{ agent.name }} here.",
                &values
            )
            .unwrap(),
            "Hi Ada, Grace here."
        );
        assert_eq!(
            render("Hi {{contact.first_name | \"there\"}}!", &Values::default()).unwrap(),
            "Hi there!"
        );
        assert_eq!(
            render("Mail: {{contact.email}}", &Values::default()),
            Err(TagError::Missing("contact.email".into()))
        );
        assert_eq!(
            check("{{contact.shoe_size}} and {{agent.name | there}} and {{oops"),
            vec![
                TagError::Unknown("contact.shoe_size".into()),
                TagError::Malformed("agent.name | there".into()),
                TagError::Unclosed
            ]
        );
        assert!(check("Plain text, {single} braces.").is_empty());
        assert!(TagError::Unknown("x.y".into())
            .to_string()
            .contains("{{x.y}}"));
    }
}
