//! The embedded default store: SQLite in WAL mode with `synchronous = FULL`, so a message is
//! on disk before the relay acknowledges it (R2).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use natter_protocol::agent::{AgentProfile, ConversationSummary, Role};
use natter_protocol::{
    AgentId, Attachment, AttachmentId, Author, Channel, ClientMessageId, ConversationId, Message,
    MessageId, Seq, UnixMillis,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use super::{
    preview, visitor_label, AgentRecord, Appended, AttachmentRecord, ContactRecord,
    ConversationRecord, NewAgent, NewAttachment, NewMessage, ReadMarks, SessionRecord, Store,
};
use crate::attachments::url as attachment_url;
use crate::contacts::ContactDetails;
use crate::error::StoreError;
use crate::identity::VisitorId;
use crate::inbox::store::InboxStore;

/// Connections in the pool. SQLite serialises writers anyway; a few readers help the inbox.
const MAX_CONNECTIONS: u32 = 8;
/// How long a writer waits for the write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

// The inbox's queries (`InboxStore`) live in `sqlite/inbox.rs`.
mod inbox;

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(database_url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

const CONVERSATION_COLUMNS: &str = "id, site, visitor_id, last_seq, last_activity_at, \
                                    last_message_preview, created_at";
const MESSAGE_COLUMNS: &str =
    "id, conversation_id, seq, client_id, author_kind, agent_id, author_name, channel, body, created_at";
const AGENT_COLUMNS: &str = "id, email, name, password_hash, role, disabled";

#[async_trait]
impl Store for SqliteStore {
    async fn touch_visitor(
        &self,
        site: &str,
        visitor: &VisitorId,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let forgotten: Option<Option<i64>> = sqlx::query_scalar(
            "INSERT INTO visitors (id, site, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at
             RETURNING forgotten_at",
        )
        .bind(&visitor.0)
        .bind(site)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(!matches!(forgotten, Some(Some(_))))
    }

    async fn link_verified_contact(
        &self,
        site: &str,
        visitor: &VisitorId,
        details: &ContactDetails,
        now: UnixMillis,
    ) -> Result<ContactRecord, StoreError> {
        let mut transaction = self.pool.begin().await?;
        // Upsert on the partial unique index of verified contacts; details the token or the
        // host gave refresh the stored ones, missing ones keep what is known.
        let contact_id: String = sqlx::query_scalar(
            "INSERT INTO contacts (id, site, email, email_verified, name, phone, company, created_at, updated_at)
             VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?7)
             ON CONFLICT (site, email) WHERE email_verified = 1 DO UPDATE SET
                 name = COALESCE(excluded.name, contacts.name),
                 phone = COALESCE(excluded.phone, contacts.phone),
                 company = COALESCE(excluded.company, contacts.company),
                 updated_at = excluded.updated_at
             RETURNING id",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(site)
        .bind(&details.email)
        .bind(&details.name)
        .bind(&details.phone)
        .bind(&details.company)
        .bind(now)
        .fetch_one(&mut *transaction)
        .await?;
        sqlx::query("UPDATE visitors SET contact_id = ?2 WHERE id = ?1")
            .bind(&visitor.0)
            .bind(&contact_id)
            .execute(&mut *transaction)
            .await?;
        // The conversation this device started before logging in becomes the contact's, unless
        // the contact already has one (then this device switches to that one).
        sqlx::query(
            "UPDATE conversations SET contact_id = ?3
             WHERE site = ?1 AND visitor_id = ?2
               AND (contact_id IS NULL
                    OR contact_id IN (SELECT id FROM contacts WHERE email_verified = 0))
               AND NOT EXISTS (SELECT 1 FROM conversations WHERE contact_id = ?3)",
        )
        .bind(site)
        .bind(&visitor.0)
        .bind(&contact_id)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        self.visitor_contact(visitor)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn set_unverified_contact(
        &self,
        site: &str,
        visitor: &VisitorId,
        details: &ContactDetails,
        now: UnixMillis,
    ) -> Result<ContactRecord, StoreError> {
        let mut transaction = self.pool.begin().await?;
        let existing: Option<(String, i64)> = sqlx::query_as(
            "SELECT k.id, k.email_verified FROM visitors v JOIN contacts k ON k.id = v.contact_id
             WHERE v.id = ?1",
        )
        .bind(&visitor.0)
        .fetch_optional(&mut *transaction)
        .await?;
        let same_email: Option<String> = sqlx::query_scalar(
            "SELECT id FROM contacts WHERE site = ?1 AND email = ?2 AND email_verified = 0
             ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(site)
        .bind(&details.email)
        .fetch_optional(&mut *transaction)
        .await?;
        match (existing, same_email) {
            // Logged in: an unsigned identify must not change who they verifiably are.
            (Some((_, verified)), _) if verified != 0 => {}
            // Someone already known (unverified) by this email, e.g. from another device or an
            // inbound email: link to them rather than duplicate. This grants no history: only
            // verified contacts carry history across visitors.
            (_, Some(contact_id)) => {
                sqlx::query(
                    "UPDATE contacts SET name = COALESCE(?2, name), phone = COALESCE(?3, phone),
                         company = COALESCE(?4, company), updated_at = ?5
                     WHERE id = ?1",
                )
                .bind(&contact_id)
                .bind(&details.name)
                .bind(&details.phone)
                .bind(&details.company)
                .bind(now)
                .execute(&mut *transaction)
                .await?;
                link_unverified(&mut transaction, site, visitor, &contact_id).await?;
            }
            (Some((contact_id, _)), None) => {
                sqlx::query(
                    "UPDATE contacts SET email = ?2, name = COALESCE(?3, name),
                         phone = COALESCE(?4, phone), company = COALESCE(?5, company), updated_at = ?6
                     WHERE id = ?1",
                )
                .bind(&contact_id)
                .bind(&details.email)
                .bind(&details.name)
                .bind(&details.phone)
                .bind(&details.company)
                .bind(now)
                .execute(&mut *transaction)
                .await?;
            }
            (None, None) => {
                let contact_id = Uuid::new_v4().to_string();
                sqlx::query(
                    "INSERT INTO contacts (id, site, email, email_verified, name, phone, company, created_at, updated_at)
                     VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7, ?7)",
                )
                .bind(&contact_id)
                .bind(site)
                .bind(&details.email)
                .bind(&details.name)
                .bind(&details.phone)
                .bind(&details.company)
                .bind(now)
                .execute(&mut *transaction)
                .await?;
                link_unverified(&mut transaction, site, visitor, &contact_id).await?;
            }
        }
        transaction.commit().await?;
        self.visitor_contact(visitor)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn visitor_contact(
        &self,
        visitor: &VisitorId,
    ) -> Result<Option<ContactRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT k.id, k.email, k.email_verified, k.name, k.phone, k.company
             FROM visitors v JOIN contacts k ON k.id = v.contact_id WHERE v.id = ?1",
        )
        .bind(&visitor.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(ContactRecord {
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                verified: row.try_get::<i64, _>("email_verified")? != 0,
                name: row.try_get("name")?,
                phone: row.try_get("phone")?,
                company: row.try_get("company")?,
            })
        })
        .transpose()
    }

    async fn forget_visitor(&self, visitor: &VisitorId, now: UnixMillis) -> Result<(), StoreError> {
        sqlx::query("UPDATE visitors SET contact_id = NULL, forgotten_at = ?2 WHERE id = ?1")
            .bind(&visitor.0)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn visitor_conversation(
        &self,
        site: &str,
        visitor: &VisitorId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        // A verified contact's conversation first (it follows them across devices), then the
        // one this visitor id started.
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations
             WHERE site = ?1 AND (
                 contact_id = (SELECT v.contact_id FROM visitors v
                               JOIN contacts k ON k.id = v.contact_id AND k.email_verified = 1
                               WHERE v.id = ?2)
                 OR visitor_id = ?2)
             ORDER BY (visitor_id != ?2) DESC, last_activity_at DESC
             LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(site)
            .bind(&visitor.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    async fn open_visitor_conversation(
        &self,
        site: &str,
        visitor: &VisitorId,
        now: UnixMillis,
    ) -> Result<ConversationRecord, StoreError> {
        if let Some(existing) = self.visitor_conversation(site, visitor).await? {
            return Ok(existing);
        }
        // INSERT … DO NOTHING on the unique (site, visitor_id) index makes concurrent first
        // messages from two tabs converge on one conversation.
        sqlx::query(
            "INSERT INTO conversations (id, site, visitor_id, contact_id, last_activity_at, created_at)
             VALUES (?1, ?2, ?3, (SELECT contact_id FROM visitors WHERE id = ?3), ?4, ?4)
             ON CONFLICT (site, visitor_id) DO NOTHING",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(site)
        .bind(&visitor.0)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.visitor_conversation(site, visitor)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn append_message(&self, new: NewMessage) -> Result<Appended, StoreError> {
        let mut transaction = self.pool.begin().await?;
        // The first statement writes, so the transaction takes SQLite's write lock at once
        // (waiting up to the busy timeout) instead of failing later on a stale read snapshot.
        let sql = format!(
            "UPDATE conversations
             SET last_seq = last_seq + 1, last_activity_at = ?2, last_message_preview = ?3
             WHERE id = ?1 RETURNING {CONVERSATION_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(new.conversation_id.0.to_string())
            .bind(new.now)
            .bind(preview(&new.text))
            .fetch_optional(&mut *transaction)
            .await?
            .ok_or(StoreError::NotFound)?;
        let conversation = conversation_from_row(&row)?;
        let seq = conversation.summary.message_count;

        let (author_kind, agent_id, author_name) = match &new.author {
            Author::Visitor => ("visitor", None, None),
            Author::Agent { agent_id, name } => {
                ("agent", Some(agent_id.0.to_string()), Some(name.clone()))
            }
        };
        let message = Message {
            id: MessageId(Uuid::new_v4()),
            conversation_id: new.conversation_id,
            seq,
            client_id: new.client_id,
            author: new.author.clone(),
            channel: new.channel,
            text: new.text.clone(),
            sent_at: new.now,
            attachments: Vec::new(),
        };
        let inserted = sqlx::query(
            "INSERT INTO messages
                 (id, conversation_id, seq, client_id, author_kind, agent_id, author_name,
                  channel, body, created_at, internal)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (conversation_id, client_id) DO NOTHING",
        )
        .bind(message.id.0.to_string())
        .bind(message.conversation_id.0.to_string())
        .bind(seq as i64)
        .bind(message.client_id.0.to_string())
        .bind(author_kind)
        .bind(agent_id)
        .bind(author_name)
        .bind(channel_name(message.channel))
        .bind(&message.text)
        .bind(message.sent_at)
        .bind(new.internal)
        .execute(&mut *transaction)
        .await?
        .rows_affected();

        if inserted == 1 {
            for (position, attachment) in (0_i64..).zip(&new.attachments) {
                let claimed = sqlx::query(
                    "UPDATE attachments SET message_id = ?1, position = ?4
                     WHERE id = ?2 AND conversation_id = ?3 AND message_id IS NULL",
                )
                .bind(message.id.0.to_string())
                .bind(attachment.0.to_string())
                .bind(message.conversation_id.0.to_string())
                .bind(position)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                if claimed == 0 {
                    transaction.rollback().await?;
                    return Err(StoreError::AttachmentUnavailable(attachment.0.to_string()));
                }
            }
        }
        if inserted == 0 {
            // A resend: undo the sequence bump and hand back what was stored the first time.
            transaction.rollback().await?;
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND client_id = ?2"
            );
            let row = sqlx::query(&sql)
                .bind(new.conversation_id.0.to_string())
                .bind(new.client_id.0.to_string())
                .fetch_one(&self.pool)
                .await?;
            let conversation = self
                .inbox_conversation(new.conversation_id)
                .await?
                .ok_or(StoreError::NotFound)?;
            let mut stored = vec![message_from_row(&row)?];
            self.fill_attachments(&mut stored).await?;
            let message = stored.pop().ok_or(StoreError::NotFound)?;
            return Ok(Appended {
                message,
                conversation,
                duplicate: true,
            });
        }
        transaction.commit().await?;
        let mut stored = vec![message];
        self.fill_attachments(&mut stored).await?;
        let message = stored.pop().ok_or(StoreError::NotFound)?;
        Ok(Appended {
            message,
            conversation,
            duplicate: false,
        })
    }

    async fn recent_messages(
        &self,
        conversation: ConversationId,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        // One extra row tells whether older messages exist.
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND internal = 0
             ORDER BY seq DESC LIMIT ?2"
        );
        let rows = sqlx::query(&sql)
            .bind(conversation.0.to_string())
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let has_earlier = rows.len() > limit as usize;
        let mut messages = rows
            .iter()
            .take(limit as usize)
            .map(message_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        messages.reverse();
        self.fill_attachments(&mut messages).await?;
        Ok((messages, has_earlier))
    }

    async fn messages_after(
        &self,
        conversation: ConversationId,
        after: Seq,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE conversation_id = ?1 AND seq > ?2 AND internal = 0
             ORDER BY seq ASC LIMIT ?3"
        );
        let rows = sqlx::query(&sql)
            .bind(conversation.0.to_string())
            .bind(i64::try_from(after).unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let mut messages = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.fill_attachments(&mut messages).await?;
        Ok(messages)
    }

    async fn list_conversations(&self, limit: u32) -> Result<Vec<ConversationSummary>, StoreError> {
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE last_seq > 0
             ORDER BY last_activity_at DESC, id LIMIT ?1"
        );
        let rows = sqlx::query(&sql)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| conversation_from_row(row).map(|record| record.summary))
            .collect()
    }

    async fn agent_count(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agents")
            .fetch_one(&self.pool)
            .await?;
        Ok(count.max(0) as u64)
    }

    async fn create_agent(&self, agent: NewAgent) -> Result<AgentRecord, StoreError> {
        let id = AgentId(Uuid::new_v4());
        sqlx::query(
            "INSERT INTO agents (id, email, name, password_hash, role, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(id.0.to_string())
        .bind(&agent.email)
        .bind(&agent.name)
        .bind(&agent.password_hash)
        .bind(role_name(agent.role))
        .bind(agent.now)
        .execute(&self.pool)
        .await?;
        Ok(AgentRecord {
            profile: AgentProfile {
                id,
                email: agent.email,
                name: agent.name,
                role: agent.role,
            },
            password_hash: agent.password_hash,
            disabled: false,
        })
    }

    async fn agent_by_email(&self, email: &str) -> Result<Option<AgentRecord>, StoreError> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE email = ?1");
        let row = sqlx::query(&sql)
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn create_session(
        &self,
        token_hash: &str,
        agent: &AgentProfile,
        csrf_token: &str,
        now: UnixMillis,
        expires_at: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO agent_sessions (token_hash, agent_id, csrf_token, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(token_hash)
        .bind(agent.id.0.to_string())
        .bind(csrf_token)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        token_hash: &str,
        now: UnixMillis,
        extend_to: UnixMillis,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let sql = format!(
            "SELECT {}, s.csrf_token, s.expires_at FROM agent_sessions s
             JOIN agents a ON a.id = s.agent_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND a.disabled = 0",
            AGENT_COLUMNS
                .split(", ")
                .map(|c| format!("a.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let Some(row) = sqlx::query(&sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let expires_at: i64 = row.try_get("expires_at")?;
        // Extend at most once a minute, so reads do not turn every request into a write.
        if extend_to - expires_at > 60_000 {
            sqlx::query("UPDATE agent_sessions SET expires_at = ?2 WHERE token_hash = ?1")
                .bind(token_hash)
                .bind(extend_to)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(SessionRecord {
            agent: agent_from_row(&row)?,
            csrf_token: row.try_get("csrf_token")?,
        }))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM agent_sessions WHERE token_hash = ?1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn mark_seen_by_visitor(
        &self,
        conversation: ConversationId,
        up_to: Seq,
    ) -> Result<Seq, StoreError> {
        let seen: Option<i64> = sqlx::query_scalar(
            "UPDATE conversations SET visitor_seen_seq = MAX(visitor_seen_seq, MIN(?2, last_seq))
             WHERE id = ?1 RETURNING visitor_seen_seq",
        )
        .bind(conversation.0.to_string())
        .bind(i64::try_from(up_to).unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await?;
        seen.map(|seen| seen.max(0) as u64)
            .ok_or(StoreError::NotFound)
    }

    async fn mark_read_by_agents(
        &self,
        conversation: ConversationId,
        up_to: Seq,
    ) -> Result<Option<Seq>, StoreError> {
        let read: Option<i64> = sqlx::query_scalar(
            "UPDATE conversations SET agent_read_seq = MIN(?2, last_seq)
             WHERE id = ?1 AND agent_read_seq < MIN(?2, last_seq) RETURNING agent_read_seq",
        )
        .bind(conversation.0.to_string())
        .bind(i64::try_from(up_to).unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await?;
        Ok(read.map(|read| read.max(0) as u64))
    }

    async fn read_marks(&self, conversation: ConversationId) -> Result<ReadMarks, StoreError> {
        let row =
            sqlx::query("SELECT visitor_seen_seq, agent_read_seq FROM conversations WHERE id = ?1")
                .bind(conversation.0.to_string())
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)?;
        let mark = |column: &str| -> Result<Seq, StoreError> {
            Ok(row.try_get::<i64, _>(column)?.max(0) as u64)
        };
        Ok(ReadMarks {
            seen_by_visitor: mark("visitor_seen_seq")?,
            read_by_agents: mark("agent_read_seq")?,
        })
    }

    async fn create_attachment(&self, attachment: NewAttachment) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO attachments
                 (id, conversation_id, access_token, name, content_type, size, uploaded_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(attachment.id.0.to_string())
        .bind(attachment.conversation_id.0.to_string())
        .bind(&attachment.access_token)
        .bind(&attachment.name)
        .bind(&attachment.content_type)
        .bind(i64::try_from(attachment.size).unwrap_or(i64::MAX))
        .bind(attachment.uploaded_by.as_str())
        .bind(attachment.now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn attachment(&self, id: AttachmentId) -> Result<Option<AttachmentRecord>, StoreError> {
        let row =
            sqlx::query("SELECT access_token, name, content_type FROM attachments WHERE id = ?1")
                .bind(id.0.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            Ok(AttachmentRecord {
                access_token: row.try_get("access_token")?,
                name: row.try_get("name")?,
                content_type: row.try_get("content_type")?,
            })
        })
        .transpose()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

impl SqliteStore {
    /// Loads the attachments of these messages (one query for all of them).
    async fn fill_attachments(&self, messages: &mut [Message]) -> Result<(), StoreError> {
        if messages.is_empty() {
            return Ok(());
        }
        let placeholders = vec!["?"; messages.len()].join(", ");
        let sql = format!(
            "SELECT id, message_id, access_token, name, content_type, size FROM attachments
             WHERE message_id IN ({placeholders}) ORDER BY position, created_at, id"
        );
        let mut query = sqlx::query(&sql);
        for message in messages.iter() {
            query = query.bind(message.id.0.to_string());
        }
        for row in query.fetch_all(&self.pool).await? {
            let message_id = parse_uuid(&row, "message_id")?;
            let id = AttachmentId(parse_uuid(&row, "id")?);
            let access_token: String = row.try_get("access_token")?;
            let size: i64 = row.try_get("size")?;
            let attachment = Attachment {
                id,
                name: row.try_get("name")?,
                content_type: row.try_get("content_type")?,
                size: size.max(0) as u64,
                url: attachment_url(id, &access_token),
            };
            if let Some(message) = messages.iter_mut().find(|m| m.id.0 == message_id) {
                message.attachments.push(attachment);
            }
        }
        Ok(())
    }
}

/// Links a visitor, and the conversation they started (unless a verified contact owns it), to
/// an unverified contact.
async fn link_unverified(
    transaction: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    site: &str,
    visitor: &VisitorId,
    contact_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE visitors SET contact_id = ?2 WHERE id = ?1")
        .bind(&visitor.0)
        .bind(contact_id)
        .execute(&mut **transaction)
        .await?;
    sqlx::query(
        "UPDATE conversations SET contact_id = ?3
         WHERE site = ?1 AND visitor_id = ?2
           AND (contact_id IS NULL OR contact_id IN (SELECT id FROM contacts WHERE email_verified = 0))",
    )
    .bind(site)
    .bind(&visitor.0)
    .bind(contact_id)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

fn parse_uuid(row: &SqliteRow, column: &str) -> Result<Uuid, StoreError> {
    let text: String = row.try_get(column)?;
    Uuid::parse_str(&text).map_err(|error| StoreError::Corrupt(format!("{column}: {error}")))
}

fn conversation_from_row(row: &SqliteRow) -> Result<ConversationRecord, StoreError> {
    let visitor_id = VisitorId(row.try_get("visitor_id")?);
    let last_seq: i64 = row.try_get("last_seq")?;
    Ok(ConversationRecord {
        summary: ConversationSummary {
            id: ConversationId(parse_uuid(row, "id")?),
            site: row.try_get("site")?,
            visitor_label: visitor_label(&visitor_id),
            last_message_preview: row.try_get("last_message_preview")?,
            last_activity_at: row.try_get("last_activity_at")?,
            message_count: last_seq.max(0) as u64,
            created_at: row.try_get("created_at")?,
            // Filled by the inbox's own queries (`sqlite/inbox.rs`).
            state: Default::default(),
        },
        visitor_id,
    })
}

fn message_from_row(row: &SqliteRow) -> Result<Message, StoreError> {
    let author_kind: String = row.try_get("author_kind")?;
    let author = match author_kind.as_str() {
        "visitor" => Author::Visitor,
        "agent" => Author::Agent {
            agent_id: AgentId(parse_uuid(row, "agent_id")?),
            name: row
                .try_get::<Option<String>, _>("author_name")?
                .unwrap_or_default(),
        },
        other => return Err(StoreError::Corrupt(format!("author_kind {other:?}"))),
    };
    let channel: String = row.try_get("channel")?;
    let seq: i64 = row.try_get("seq")?;
    Ok(Message {
        id: MessageId(parse_uuid(row, "id")?),
        conversation_id: ConversationId(parse_uuid(row, "conversation_id")?),
        seq: seq.max(0) as u64,
        client_id: ClientMessageId(parse_uuid(row, "client_id")?),
        author,
        channel: parse_channel(&channel)?,
        text: row.try_get("body")?,
        sent_at: row.try_get("created_at")?,
        attachments: Vec::new(),
    })
}

fn agent_from_row(row: &SqliteRow) -> Result<AgentRecord, StoreError> {
    let role: String = row.try_get("role")?;
    let role = match role.as_str() {
        "admin" => Role::Admin,
        "agent" => Role::Agent,
        other => return Err(StoreError::Corrupt(format!("role {other:?}"))),
    };
    Ok(AgentRecord {
        profile: AgentProfile {
            id: AgentId(parse_uuid(row, "id")?),
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            role,
        },
        password_hash: row.try_get("password_hash")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
    })
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Chat => "chat",
        Channel::Email => "email",
        Channel::Messenger => "messenger",
    }
}

fn parse_channel(name: &str) -> Result<Channel, StoreError> {
    match name {
        "chat" => Ok(Channel::Chat),
        "email" => Ok(Channel::Email),
        "messenger" => Ok(Channel::Messenger),
        other => Err(StoreError::Corrupt(format!("channel {other:?}"))),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Agent => "agent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn temp_store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        (dir, store)
    }

    fn visitor_message(
        conversation: ConversationId,
        client_id: ClientMessageId,
        text: &str,
    ) -> NewMessage {
        NewMessage {
            conversation_id: conversation,
            client_id,
            author: Author::Visitor,
            channel: Channel::Chat,
            text: text.into(),
            attachments: Vec::new(),
            now: 1,
            internal: false,
        }
    }

    #[tokio::test]
    async fn a_resent_message_is_stored_once_and_sequence_numbers_have_no_gaps() {
        let (_dir, store) = temp_store().await;
        let visitor = VisitorId("v1".into());
        store.touch_visitor("demo", &visitor, 1).await.unwrap();
        let conversation = store
            .open_visitor_conversation("demo", &visitor, 1)
            .await
            .unwrap();
        let id = conversation.summary.id;
        let client_id = ClientMessageId::new_random();

        let first = store
            .append_message(visitor_message(id, client_id, "hello"))
            .await
            .unwrap();
        let again = store
            .append_message(visitor_message(id, client_id, "hello"))
            .await
            .unwrap();
        let next = store
            .append_message(visitor_message(id, ClientMessageId::new_random(), "second"))
            .await
            .unwrap();

        assert!(!first.duplicate);
        assert!(again.duplicate);
        assert_eq!(again.message, first.message);
        assert_eq!((first.message.seq, next.message.seq), (1, 2));
        let (messages, has_earlier) = store.recent_messages(id, 10).await.unwrap();
        assert_eq!(messages.len(), 2);
        assert!(!has_earlier);
        assert_eq!(
            store.messages_after(id, 1, 10).await.unwrap(),
            vec![next.message]
        );
    }

    #[tokio::test]
    async fn concurrent_first_messages_share_one_conversation() {
        let (_dir, store) = temp_store().await;
        let visitor = VisitorId("v2".into());
        store.touch_visitor("demo", &visitor, 1).await.unwrap();
        let (a, b) = tokio::join!(
            store.open_visitor_conversation("demo", &visitor, 1),
            store.open_visitor_conversation("demo", &visitor, 1)
        );
        assert_eq!(a.unwrap().summary.id, b.unwrap().summary.id);
    }

    #[tokio::test]
    async fn recent_messages_pages_from_the_end() {
        let (_dir, store) = temp_store().await;
        let visitor = VisitorId("v3".into());
        store.touch_visitor("demo", &visitor, 1).await.unwrap();
        let id = store
            .open_visitor_conversation("demo", &visitor, 1)
            .await
            .unwrap()
            .summary
            .id;
        for n in 0..5 {
            store
                .append_message(visitor_message(
                    id,
                    ClientMessageId::new_random(),
                    &format!("m{n}"),
                ))
                .await
                .unwrap();
        }
        let (messages, has_earlier) = store.recent_messages(id, 3).await.unwrap();
        assert!(has_earlier);
        assert_eq!(
            messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
    }
}
