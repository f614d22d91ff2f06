//! The embedded default store: SQLite in WAL mode with `synchronous = FULL`, so a message is
//! on disk before the relay acknowledges it (R2).
//!
//! A connection whose transaction state is in doubt never goes back to the pool: after a
//! failed write (disk full, I/O error) SQLite may have rolled the transaction back by itself,
//! sqlx's own bookkeeping then disagrees with it, and the next `begin` on that connection
//! would open a savepoint inside a transaction nobody commits — holding the write lock and
//! "committing" messages that are never written. The messages themselves are written by the
//! group-committing writer (`writer.rs`), which checks after each commit that SQLite is out of
//! the transaction before anything is acknowledged, and closes a connection whose batch
//! failed.
//!
//! One writer at a time, by construction: every write of this process goes through the one
//! write connection (`writes`) or, for messages, holds it while the writer runs a batch;
//! readers are `query_only`.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use natter_protocol::agent::{AgentProfile, ConversationSummary, Role};
use natter_protocol::{
    AgentId, Attachment, AttachmentId, Author, Channel, ClientMessageId, ConversationId, Message,
    MessageId, Seq, UnixMillis,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Connection, Row, SqlitePool};
use uuid::Uuid;

use super::{
    attachment_url, conversation_label, AccountStore, AgentRecord, Appended, AttachmentRecord,
    AttachmentStore, ContactDetails, ContactRecord, ContactStore, ConversationKey,
    ConversationRecord, ConversationStore, InboxStore, NewAgent, NewAttachment, NewMessage,
    ReadMarks, SessionRecord, Store, StoreError,
};
use crate::identity::VisitorId;
use writer::Written;

/// Reading connections. SQLite serialises writers anyway (they share one connection); a few
/// readers help the inbox.
const MAX_CONNECTIONS: u32 = 8;
/// How long a writer waits for the write lock before failing (another process on the file;
/// this process's writers queue for its one write connection instead).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How stale a visitor's `last_seen_at` may be before a hello writes it again.
const LAST_SEEN_RESOLUTION_MS: i64 = 15 * 60 * 1000;

// The inbox's queries (`InboxStore`) live in `sqlite/inbox.rs`, the jobs queue in `jobs.rs`,
// the group-committing writer of messages in `writer.rs` (one message's statements:
// `append.rs`).
mod append;
mod inbox;
mod jobs;
mod mail;
mod search;
mod writer;

/// SQLite's primary result codes that mean "not now" rather than "never": the write may
/// succeed once the condition clears (<https://www.sqlite.org/rescode.html>).
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_NOMEM: i64 = 7;
const SQLITE_READONLY: i64 = 8;
const SQLITE_IOERR: i64 = 10;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Duplicate(db.message().to_owned())
            }
            sqlx::Error::Database(db) => {
                let primary = db
                    .code()
                    .and_then(|code| code.parse::<i64>().ok())
                    .map(|code| code & 0xff);
                match primary {
                    Some(
                        SQLITE_BUSY | SQLITE_LOCKED | SQLITE_NOMEM | SQLITE_READONLY | SQLITE_IOERR
                        | SQLITE_FULL | SQLITE_CANTOPEN,
                    ) => Self::Unavailable(db.message().to_owned()),
                    _ => Self::Backend(db.message().to_owned()),
                }
            }
            sqlx::Error::Io(error) => Self::Unavailable(error.to_string()),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                Self::Unavailable(error.to_string())
            }
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                Self::Corrupt(error.to_string())
            }
            other => Self::Backend(other.to_string()),
        }
    }
}

pub struct SqliteStore {
    /// Readers. `query_only`: a write here would contend for SQLite's lock in its busy
    /// handler, so it fails instead, and the conformance suite finds it.
    pool: SqlitePool,
    /// The one write connection (a pool of one: a fair queue). Every write goes through it,
    /// so writers of this process wait their turn here, not in SQLite's busy handler.
    writes: SqlitePool,
    /// Appends, in group-committed batches on `writes`.
    writer: writer::Writer,
}

impl SqliteStore {
    pub async fn open(database_url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // Checkpoints run in the background (`writer.rs`), not inside a write's commit.
            .pragma("wal_autocheckpoint", writer::AUTOCHECKPOINT.to_string());
        let writes = pool_options(1).connect_with(options.clone()).await?;
        sqlx::migrate!("migrations/sqlite")
            .run(&writes)
            .await
            .map_err(|error| StoreError::Migration(error.to_string()))?;
        let pool = pool_options(MAX_CONNECTIONS)
            .connect_with(options.clone().pragma("query_only", "ON"))
            .await?;
        let path = options.get_filename().to_owned();
        let writer = writer::Writer::start(path, writes.clone(), pool.clone());
        Ok(Self {
            pool,
            writes,
            writer,
        })
    }
}

fn pool_options(max_connections: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(max_connections)
        // No ping before each use: a SQLite connection cannot be dropped by a server, and the
        // ping is a round trip to the connection's thread on every query.
        .test_before_acquire(false)
        // A failed ROLLBACK (the transaction was already gone) leaves sqlx counting one
        // open: such a connection is closed rather than reused (cheap: no statement runs).
        .after_release(|connection, _| {
            Box::pin(async move {
                let clean = !connection.is_in_transaction();
                if !clean {
                    tracing::warn!("closing a database connection left inside a transaction");
                }
                Ok(clean)
            })
        })
}

const CONVERSATION_COLUMNS: &str = "id, site, visitor_id, external_thread_id, last_seq, \
                                    last_activity_at, last_message_preview, created_at";
const MESSAGE_COLUMNS: &str =
    "id, conversation_id, seq, client_id, author_kind, agent_id, author_name, channel, body, created_at";
const AGENT_COLUMNS: &str = "id, email, name, password_hash, role, disabled";

#[async_trait]
impl ContactStore for SqliteStore {
    async fn touch_visitor(
        &self,
        site: &str,
        visitor: &VisitorId,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        // Every hello touches the visitor, and a reconnect storm is many hellos: a known,
        // recently seen visitor costs a read, not a place in the write queue and a flush.
        let known: Option<(Option<i64>, i64)> =
            sqlx::query_as("SELECT forgotten_at, last_seen_at FROM visitors WHERE id = ?1")
                .bind(&visitor.0)
                .fetch_optional(&self.pool)
                .await?;
        match known {
            Some((Some(_forgotten), _)) => return Ok(false),
            Some((None, last_seen)) if now - last_seen < LAST_SEEN_RESOLUTION_MS => {
                return Ok(true)
            }
            _ => {}
        }
        let forgotten: Option<Option<i64>> = sqlx::query_scalar(
            "INSERT INTO visitors (id, site, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at
             RETURNING forgotten_at",
        )
        .bind(&visitor.0)
        .bind(site)
        .bind(now)
        .fetch_optional(&self.writes)
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
        let mut transaction = self.writes.begin().await?;
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
        let mut transaction = self.writes.begin().await?;
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
            .execute(&self.writes)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl ConversationStore for SqliteStore {
    async fn visitor_conversation(
        &self,
        site: &str,
        visitor: &VisitorId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        // The conversation a magic link opened on this device (E6) first, then a verified
        // contact's (it follows them across devices), then the one this visitor id started.
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations
             WHERE site = ?1 AND (
                 contact_id = (SELECT v.contact_id FROM visitors v
                               JOIN contacts k ON k.id = v.contact_id AND k.email_verified = 1
                               WHERE v.id = ?2)
                 OR visitor_id = ?2
                 OR id IN (SELECT conversation_id FROM visitor_links WHERE visitor_id = ?2))
             ORDER BY (SELECT l.created_at FROM visitor_links l
                       WHERE l.visitor_id = ?2 AND l.conversation_id = conversations.id)
                          DESC NULLS LAST,
                      (visitor_id IS NOT ?2) DESC, last_activity_at DESC
             LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(site)
            .bind(&visitor.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    async fn open_conversation(
        &self,
        site: &str,
        key: &ConversationKey,
        now: UnixMillis,
    ) -> Result<ConversationRecord, StoreError> {
        match key {
            ConversationKey::Visitor(visitor) => {
                self.open_visitor_conversation(site, visitor, now).await
            }
            ConversationKey::ContactAddress { address, channel } => {
                self.open_contact_conversation(site, address, *channel, now)
                    .await
            }
            ConversationKey::ExternalThread { channel, thread_id } => {
                self.open_thread_conversation(site, *channel, thread_id, None, now)
                    .await
            }
        }
    }

    async fn append_message(&self, new: NewMessage) -> Result<Appended, StoreError> {
        let has_files = !new.attachments.is_empty();
        let (message, conversation) = match self.writer.append(new.clone()).await? {
            Written::Stored {
                message,
                conversation,
            } => (message, conversation),
            // A resend: what was stored the first time (committed by now, maybe just now in
            // the same batch).
            Written::Duplicate => return self.stored_copy(&new).await,
        };
        let mut stored = vec![message];
        // Only a message sent with files has any to read back.
        if has_files {
            self.fill_attachments(&mut stored).await?;
        }
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
        .fetch_optional(&self.writes)
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
        .fetch_optional(&self.writes)
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
}

#[async_trait]
impl AccountStore for SqliteStore {
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
        .execute(&self.writes)
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
        .execute(&self.writes)
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
                .execute(&self.writes)
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
            .execute(&self.writes)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl AttachmentStore for SqliteStore {
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
        .execute(&self.writes)
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
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

impl SqliteStore {
    /// The visitor's own chat, created if needed.
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
        .execute(&self.writes)
        .await?;
        self.visitor_conversation(site, visitor)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// The newest conversation of the contact with this address, or a new one with a new
    /// unverified contact. New senders converge on one conversation through the thread key
    /// `address:<address>`.
    async fn open_contact_conversation(
        &self,
        site: &str,
        address: &str,
        channel: Channel,
        now: UnixMillis,
    ) -> Result<ConversationRecord, StoreError> {
        let address = address.trim().to_lowercase();
        let contact_id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM contacts WHERE site = ?1 AND email = ?2
             ORDER BY email_verified DESC, updated_at DESC LIMIT 1",
        )
        .bind(site)
        .bind(&address)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(contact_id) = &contact_id {
            let sql = format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations
                 WHERE site = ?1 AND contact_id = ?2 ORDER BY last_activity_at DESC LIMIT 1"
            );
            let row = sqlx::query(&sql)
                .bind(site)
                .bind(contact_id)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(row) = row {
                return conversation_from_row(&row);
            }
        }
        let contact_id = match contact_id {
            Some(id) => id,
            None => {
                let id = Uuid::new_v4().to_string();
                sqlx::query(
                    "INSERT INTO contacts (id, site, email, email_verified, created_at, updated_at)
                     VALUES (?1, ?2, ?3, 0, ?4, ?4)",
                )
                .bind(&id)
                .bind(site)
                .bind(&address)
                .bind(now)
                .execute(&self.writes)
                .await?;
                id
            }
        };
        let thread = format!("address:{address}");
        self.open_thread_conversation(site, channel, &thread, Some(&contact_id), now)
            .await
    }

    /// The conversation of an external thread, created if needed (concurrent callers meet on
    /// the unique `(site, channel, external_thread_id)` index).
    async fn open_thread_conversation(
        &self,
        site: &str,
        channel: Channel,
        thread_id: &str,
        contact_id: Option<&str>,
        now: UnixMillis,
    ) -> Result<ConversationRecord, StoreError> {
        sqlx::query(
            "INSERT INTO conversations
                 (id, site, channel, external_thread_id, contact_id, last_activity_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (site, channel, external_thread_id) DO NOTHING",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(site)
        .bind(channel_name(channel))
        .bind(thread_id)
        .bind(contact_id)
        .bind(now)
        .execute(&self.writes)
        .await?;
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations
             WHERE site = ?1 AND channel = ?2 AND external_thread_id = ?3"
        );
        let row = sqlx::query(&sql)
            .bind(site)
            .bind(channel_name(channel))
            .bind(thread_id)
            .fetch_one(&self.pool)
            .await?;
        conversation_from_row(&row)
    }

    /// The stored copy of a resent message.
    async fn stored_copy(&self, new: &NewMessage) -> Result<Appended, StoreError> {
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
        Ok(Appended {
            message,
            conversation,
            duplicate: true,
        })
    }

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

/// The `author_kind`, `agent_id` and `author_name` columns of an author.
fn author_columns(author: &Author) -> (&'static str, Option<String>, Option<String>) {
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
    conversation_record(ConversationColumns {
        id: row.try_get("id")?,
        site: row.try_get("site")?,
        visitor_id: row.try_get("visitor_id")?,
        external_thread_id: row.try_get("external_thread_id")?,
        last_seq: row.try_get("last_seq")?,
        last_activity_at: row.try_get("last_activity_at")?,
        last_message_preview: row.try_get("last_message_preview")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The [`CONVERSATION_COLUMNS`] of a row, however it was read (sqlx here, rusqlite in the
/// writer).
struct ConversationColumns {
    id: String,
    site: String,
    visitor_id: Option<String>,
    external_thread_id: Option<String>,
    last_seq: i64,
    last_activity_at: i64,
    last_message_preview: Option<String>,
    created_at: i64,
}

fn conversation_record(columns: ConversationColumns) -> Result<ConversationRecord, StoreError> {
    let visitor_id = columns.visitor_id.map(VisitorId);
    let id = Uuid::parse_str(&columns.id)
        .map_err(|error| StoreError::Corrupt(format!("id: {error}")))?;
    Ok(ConversationRecord {
        summary: ConversationSummary {
            id: ConversationId(id),
            site: columns.site,
            visitor_label: conversation_label(
                visitor_id.as_ref(),
                columns.external_thread_id.as_deref(),
            ),
            last_message_preview: columns.last_message_preview,
            last_activity_at: columns.last_activity_at,
            message_count: columns.last_seq.max(0) as u64,
            created_at: columns.created_at,
            // Filled by the inbox's own queries (`sqlite/inbox.rs`).
            state: Default::default(),
        },
        visitor_id,
    })
}

fn message_from_row(row: &SqliteRow) -> Result<Message, StoreError> {
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
    //! The storage conformance suite ([`crate::store::conformance`]) against SQLite: one test
    //! per check, each on its own database file in a temporary directory.

    use std::sync::Arc;

    use futures_util::future::BoxFuture;

    use super::SqliteStore;
    use crate::store::conformance::{KnownFailure, CHECKS};
    use crate::store::Store;

    /// Checks SQLite fails today because of a bug in this backend. Each still runs and must
    /// still fail; once the bug is fixed its test fails, asking to remove the entry.
    const KNOWN_FAILURES: &[KnownFailure] = &[];

    /// A fresh, migrated database; the directory (and the file) go when the guard drops.
    fn open_temp() -> BoxFuture<'static, (tempfile::TempDir, Arc<dyn Store>)> {
        Box::pin(async {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("store.db").display());
            let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await.unwrap());
            (dir, store)
        })
    }

    crate::store_conformance_tests!(open_temp, known_failures = KNOWN_FAILURES);

    #[test]
    fn known_failures_name_real_checks() {
        for known in KNOWN_FAILURES {
            assert!(CHECKS.contains(&known.check), "no check {:?}", known.check);
        }
    }

    /// Every write goes through the one write connection: the readers refuse to write, so
    /// a write method that took a reader would fail the suite instead of contending for
    /// SQLite's lock in its busy handler.
    #[tokio::test]
    async fn readers_refuse_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let write = sqlx::query("DELETE FROM visitors")
            .execute(&store.pool)
            .await;
        assert!(write.is_err(), "{write:?}");
        // …but they checkpoint (the writer's background checkpoints run on them).
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(busy, 0);
        sqlx::query("DELETE FROM visitors")
            .execute(&store.writes)
            .await
            .unwrap();
    }

    /// A database made by the migrations before the channel-neutral rebuild, with a visitor's
    /// conversation, two messages and a sent file, keeps all of it through the rebuild: rows,
    /// full-text search, foreign keys, and the next seq.
    #[tokio::test]
    async fn the_channel_neutral_rebuild_keeps_existing_data() {
        use natter_protocol::{Author, Channel, ClientMessageId, ConversationId};
        use sqlx::Connection;

        let dir = tempfile::tempdir().unwrap();
        let old_migrations = dir.path().join("old-migrations");
        std::fs::create_dir(&old_migrations).unwrap();
        let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        for entry in std::fs::read_dir(&all).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.as_str() < "20261203000000" {
                std::fs::copy(&path, old_migrations.join(&name)).unwrap();
            }
        }
        let url = format!("sqlite://{}", dir.path().join("old.db").display());
        let options = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .create_if_missing(true);
        let mut db = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::migrate::Migrator::new(old_migrations.as_path())
            .await
            .unwrap()
            .run(&mut db)
            .await
            .unwrap();
        let conversation = uuid::Uuid::new_v4().to_string();
        for sql in [
            "INSERT INTO visitors (id, site, created_at, last_seen_at) VALUES ('v1', 'demo', 1, 1)"
                .to_owned(),
            format!(
                "INSERT INTO conversations (id, site, visitor_id, last_seq, last_activity_at, created_at)
                 VALUES ('{conversation}', 'demo', 'v1', 2, 2, 1)"
            ),
            format!(
                "INSERT INTO messages (id, conversation_id, seq, client_id, author_kind, channel, body, created_at)
                 VALUES ('{}', '{conversation}', 1, '{}', 'visitor', 'chat', 'parcel to Lyon', 1),
                        ('{}', '{conversation}', 2, '{}', 'visitor', 'chat', 'second', 2)",
                uuid::Uuid::new_v4(),
                uuid::Uuid::new_v4(),
                uuid::Uuid::new_v4(),
                uuid::Uuid::new_v4()
            ),
            format!(
                "INSERT INTO attachments (id, conversation_id, message_id, access_token, name, content_type, size, uploaded_by, created_at)
                 SELECT '{}', '{conversation}', id, 'token', 'a.png', 'image/png', 3, 'visitor', 1
                 FROM messages WHERE seq = 1",
                uuid::Uuid::new_v4()
            ),
        ] {
            sqlx::query(&sql).execute(&mut db).await.unwrap();
        }
        db.close().await.unwrap();

        let store = SqliteStore::open(&url).await.unwrap();
        use crate::store::{AssigneeScope, ConversationStore, InboxStore, ListQuery, NewMessage};
        let id = ConversationId(uuid::Uuid::parse_str(&conversation).unwrap());
        let (messages, _) = store.recent_messages(id, 10).await.unwrap();
        let texts: Vec<_> = messages.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, vec!["parcel to Lyon", "second"]);
        assert_eq!(
            messages[0].attachments.len(),
            1,
            "the file is still the message's"
        );
        let found = store
            .inbox_list(&ListQuery {
                status: None,
                assignee: AssigneeScope::All,
                channel: None,
                search: Some("lyon".into()),
                blocked: false,
                after: None,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "full-text search still finds old messages");
        let appended = store
            .append_message(NewMessage {
                conversation_id: id,
                client_id: ClientMessageId::new_random(),
                author: Author::Visitor,
                channel: Channel::Chat,
                text: "third".into(),
                attachments: Vec::new(),
                now: 3,
                internal: false,
                jobs: Vec::new(),
                unverified_sender: None,
                awaits_delivery: false,
            })
            .await
            .unwrap();
        assert_eq!(appended.message.seq, 3);
        let violations: Vec<(String,)> =
            sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
                .fetch_all(&store.pool)
                .await
                .unwrap();
        assert!(violations.is_empty(), "{violations:?}");
        // Deleting the conversation still cascades to its messages and files.
        assert!(store.inbox_delete_conversation(id).await.unwrap());
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM attachments")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(left, 0);
    }
}
