//! PostgreSQL rows to records and back: the column lists the queries share, and the text
//! forms of enums and authors as they are stored (the same words as in SQLite).

use natter_protocol::agent::{
    AgentProfile, ContactBrief, ContactId, ContactInfo, ConversationStatus, GroupId, Role,
};
use natter_protocol::{
    AgentId, Author, Channel, ClientMessageId, ConversationId, Message, MessageId, Seq,
};
use sqlx::postgres::PgRow;
use sqlx::Row;
use uuid::Uuid;

use super::error::Outcome;
use crate::identity::VisitorId;
use crate::store::{conversation_label, AgentRecord, ConversationRecord, StoreError};

pub(super) const CONVERSATION_COLUMNS: &str = "id, site, visitor_id, external_thread_id, \
     last_seq, last_activity_at, last_message_preview, created_at";
pub(super) const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, client_id, author_kind, \
     agent_id, author_name, channel, body, created_at";
pub(super) const AGENT_COLUMNS: &str = "id, email, name, password_hash, role, disabled";
pub(super) const CONTACT_COLUMNS: &str = "k.id, k.email, k.email_verified, k.name, k.phone, \
     k.company, k.blocked_at, k.email_bouncing_since";

/// A conversation with its inbox state and its contact.
pub(super) const INBOX_SELECT: &str =
    "SELECT c.id, c.site, c.visitor_id, c.external_thread_id, c.last_seq, c.last_activity_at,
        c.last_message_preview, c.created_at, c.status, c.assigned_agent_id, c.assigned_group_id,
        c.unread, c.awaiting_reply_since, c.blocked, c.channel,
        k.id AS contact_id, k.email AS contact_email, k.name AS contact_name,
        k.email_verified AS contact_verified
    FROM conversations c LEFT JOIN contacts k ON k.id = c.contact_id";

/// A sequence number as stored (`BIGINT`); the protocol's are unsigned.
pub(super) fn seq_value(seq: Seq) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn seq_from(value: i64) -> Seq {
    value.max(0) as Seq
}

pub(super) fn parse_uuid(row: &PgRow, column: &str) -> Outcome<Uuid> {
    let text: String = row.try_get(column)?;
    Ok(uuid_from(&text, column)?)
}

pub(super) fn optional_uuid(row: &PgRow, column: &str) -> Outcome<Option<Uuid>> {
    let text: Option<String> = row.try_get(column)?;
    Ok(text.map(|text| uuid_from(&text, column)).transpose()?)
}

pub(super) fn uuid_from(text: &str, what: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|error| StoreError::Corrupt(format!("{what}: {error}")))
}

pub(super) fn conversation_from_row(row: &PgRow) -> Outcome<ConversationRecord> {
    let visitor_id = row
        .try_get::<Option<String>, _>("visitor_id")?
        .map(VisitorId);
    let thread: Option<String> = row.try_get("external_thread_id")?;
    Ok(ConversationRecord {
        summary: natter_protocol::agent::ConversationSummary {
            id: ConversationId(parse_uuid(row, "id")?),
            site: row.try_get("site")?,
            visitor_label: conversation_label(visitor_id.as_ref(), thread.as_deref()),
            last_message_preview: row.try_get("last_message_preview")?,
            last_activity_at: row.try_get("last_activity_at")?,
            message_count: seq_from(row.try_get("last_seq")?),
            created_at: row.try_get("created_at")?,
            // Filled by the inbox's own queries (`inbox_from_row`).
            state: Default::default(),
        },
        visitor_id,
    })
}

/// A conversation read with [`INBOX_SELECT`].
pub(super) fn inbox_from_row(row: &PgRow) -> Outcome<ConversationRecord> {
    let mut record = conversation_from_row(row)?;
    let state = &mut record.summary.state;
    let status: String = row.try_get("status")?;
    state.status = match status.as_str() {
        "complete" => ConversationStatus::Complete,
        _ => ConversationStatus::Open,
    };
    state.assigned_agent = optional_uuid(row, "assigned_agent_id")?.map(AgentId);
    state.assigned_group = optional_uuid(row, "assigned_group_id")?.map(GroupId);
    state.unread = row.try_get("unread")?;
    state.awaiting_reply_since = row.try_get("awaiting_reply_since")?;
    state.blocked = row.try_get("blocked")?;
    state.channel = parse_channel(&row.try_get::<String, _>("channel")?)?;
    state.contact = match optional_uuid(row, "contact_id")? {
        Some(id) => Some(ContactBrief {
            id: ContactId(id),
            email: row.try_get("contact_email")?,
            name: row.try_get("contact_name")?,
            email_verified: row.try_get::<Option<bool>, _>("contact_verified")? == Some(true),
        }),
        None => None,
    };
    Ok(record)
}

pub(super) fn message_from_row(row: &PgRow) -> Outcome<Message> {
    let author_kind: String = row.try_get("author_kind")?;
    let name = row.try_get::<Option<String>, _>("author_name")?;
    let author = match author_kind.as_str() {
        "visitor" => Author::Visitor,
        "contact" => Author::Contact { name },
        "agent" => Author::Agent {
            agent_id: AgentId(parse_uuid(row, "agent_id")?),
            name: name.unwrap_or_default(),
        },
        "bot" => Author::Bot {
            name: name.unwrap_or_default(),
        },
        "system" => Author::System,
        other => return Err(StoreError::Corrupt(format!("author_kind {other:?}")).into()),
    };
    let channel: String = row.try_get("channel")?;
    Ok(Message {
        id: MessageId(parse_uuid(row, "id")?),
        conversation_id: ConversationId(parse_uuid(row, "conversation_id")?),
        seq: seq_from(row.try_get("seq")?),
        client_id: ClientMessageId(parse_uuid(row, "client_id")?),
        author,
        channel: parse_channel(&channel)?,
        text: row.try_get("body")?,
        sent_at: row.try_get("created_at")?,
        attachments: Vec::new(),
    })
}

pub(super) fn agent_from_row(row: &PgRow) -> Outcome<AgentRecord> {
    let role: String = row.try_get("role")?;
    let role = match role.as_str() {
        "admin" => Role::Admin,
        "agent" => Role::Agent,
        other => return Err(StoreError::Corrupt(format!("role {other:?}")).into()),
    };
    Ok(AgentRecord {
        profile: AgentProfile {
            id: AgentId(parse_uuid(row, "id")?),
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            role,
        },
        password_hash: row.try_get("password_hash")?,
        disabled: row.try_get("disabled")?,
    })
}

/// A contact read with [`CONTACT_COLUMNS`].
pub(super) fn contact_from_row(row: &PgRow) -> Outcome<ContactInfo> {
    Ok(ContactInfo {
        id: ContactId(parse_uuid(row, "id")?),
        email: row.try_get("email")?,
        email_verified: row.try_get("email_verified")?,
        name: row.try_get("name")?,
        phone: row.try_get("phone")?,
        company: row.try_get("company")?,
        blocked: row.try_get::<Option<i64>, _>("blocked_at")?.is_some(),
        email_bouncing: row
            .try_get::<Option<i64>, _>("email_bouncing_since")?
            .is_some(),
    })
}

/// The `author_kind`, `agent_id` and `author_name` columns of an author.
pub(super) fn author_columns(author: &Author) -> (&'static str, Option<String>, Option<String>) {
    match author {
        Author::Visitor => ("visitor", None, None),
        Author::Contact { name } => ("contact", None, name.clone()),
        Author::Agent { agent_id, name } => {
            ("agent", Some(agent_id.0.to_string()), Some(name.clone()))
        }
        Author::Bot { name } => ("bot", None, Some(name.clone())),
        Author::System => ("system", None, None),
    }
}

pub(super) fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Chat => "chat",
        Channel::Email => "email",
        Channel::Messenger => "messenger",
    }
}

pub(super) fn parse_channel(name: &str) -> Result<Channel, StoreError> {
    match name {
        "chat" => Ok(Channel::Chat),
        "email" => Ok(Channel::Email),
        "messenger" => Ok(Channel::Messenger),
        other => Err(StoreError::Corrupt(format!("channel {other:?}"))),
    }
}

pub(super) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Agent => "agent",
    }
}

pub(super) fn status_name(status: ConversationStatus) -> &'static str {
    match status {
        ConversationStatus::Open => "open",
        ConversationStatus::Complete => "complete",
    }
}
