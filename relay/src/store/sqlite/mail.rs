//! [`MailStore`] on SQLite: the `conversation_mail`, `message_deliveries`, `inbound_mail` and
//! `visitor_links` tables (migration `…_email.sql`).

use async_trait::async_trait;
use natter_protocol::agent::{ContactInfo, Delivery, InboundMailEntry};
use natter_protocol::{Channel, ConversationId, MessageId, Seq, UnixMillis};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::inbox::contact_from_row;
use super::{channel_name, SqliteStore};
use crate::identity::VisitorId;
use crate::store::mail::{delivery_state_name, outcome_from_name, outcome_name, with_message_id};
use crate::store::{MailStore, MailThread, NewInboundMail, StoreError};

/// Starts a message's delivery as pending, inside its append transaction (run by the writer,
/// `append.rs`).
pub(super) const INSERT_PENDING_DELIVERY: &str =
    "INSERT INTO message_deliveries (message_id, state, updated_at) VALUES (?1, 'pending', ?2)
     ON CONFLICT (message_id) DO NOTHING";

fn inbound_from_row(row: &SqliteRow) -> Result<InboundMailEntry, StoreError> {
    let outcome: String = row.try_get("outcome")?;
    let size: i64 = row.try_get("size")?;
    Ok(InboundMailEntry {
        id: row.try_get("id")?,
        received_at: row.try_get("received_at")?,
        outcome: outcome_from_name(&outcome),
        reason: row.try_get("reason")?,
        from: row.try_get("from_address")?,
        subject: row.try_get("subject")?,
        size: size.max(0) as u64,
    })
}

impl SqliteStore {
    /// Adds a Message-ID (and maybe a subject and a new `emailed_up_to`) to the thread row.
    async fn update_mail_thread(
        &self,
        conversation: ConversationId,
        message_id: &str,
        subject: Option<&str>,
        emailed_up_to: Seq,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let mut transaction = self.writes.begin().await?;
        // Write first, so the transaction takes SQLite's write lock at once (waiting up to the
        // busy timeout): a read first would make the later write fail with "database is
        // locked" whenever the outbox and the email door update one thread at the same time.
        sqlx::query(
            "INSERT INTO conversation_mail (conversation_id, updated_at) VALUES (?1, ?2)
             ON CONFLICT (conversation_id) DO UPDATE SET updated_at = excluded.updated_at",
        )
        .bind(conversation.0.to_string())
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        let known: Option<String> = sqlx::query_scalar(
            "SELECT message_ids FROM conversation_mail WHERE conversation_id = ?1",
        )
        .bind(conversation.0.to_string())
        .fetch_optional(&mut *transaction)
        .await?;
        let ids = with_message_id(known.as_deref().unwrap_or(""), message_id);
        sqlx::query(
            "INSERT INTO conversation_mail
                 (conversation_id, subject, emailed_up_to, message_ids, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (conversation_id) DO UPDATE SET
                 subject = COALESCE(conversation_mail.subject, excluded.subject),
                 emailed_up_to = MAX(conversation_mail.emailed_up_to, excluded.emailed_up_to),
                 message_ids = excluded.message_ids,
                 updated_at = excluded.updated_at",
        )
        .bind(conversation.0.to_string())
        .bind(subject)
        .bind(i64::try_from(emailed_up_to).unwrap_or(i64::MAX))
        .bind(ids)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl MailStore for SqliteStore {
    async fn mail_thread(&self, conversation: ConversationId) -> Result<MailThread, StoreError> {
        let row = sqlx::query(
            "SELECT m.subject, m.emailed_up_to, m.message_ids, v.lang
             FROM conversations c
             LEFT JOIN conversation_mail m ON m.conversation_id = c.id
             LEFT JOIN visitors v ON v.id = c.visitor_id
             WHERE c.id = ?1",
        )
        .bind(conversation.0.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let emailed_up_to: Option<i64> = row.try_get("emailed_up_to")?;
        let ids: Option<String> = row.try_get("message_ids")?;
        Ok(MailThread {
            subject: row.try_get("subject")?,
            emailed_up_to: emailed_up_to.unwrap_or(0).max(0) as Seq,
            message_ids: ids
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            lang: row.try_get("lang")?,
        })
    }

    async fn record_mail_sent(
        &self,
        conversation: ConversationId,
        message_id: &str,
        up_to: Seq,
        subject: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        self.update_mail_thread(conversation, message_id, Some(subject), up_to, now)
            .await
    }

    async fn record_mail_received(
        &self,
        conversation: ConversationId,
        message_id: &str,
        subject: Option<&str>,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        self.update_mail_thread(conversation, message_id, subject, 0, now)
            .await
    }

    async fn set_delivery(
        &self,
        message: MessageId,
        delivery: &Delivery,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO message_deliveries (message_id, state, detail, updated_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (message_id) DO UPDATE SET
                 state = excluded.state, detail = excluded.detail, updated_at = excluded.updated_at",
        )
        .bind(message.0.to_string())
        .bind(delivery_state_name(delivery.state))
        .bind(&delivery.detail)
        .bind(delivery.updated_at)
        .execute(&self.writes)
        .await?;
        Ok(())
    }

    async fn mark_bouncing(
        &self,
        address: &str,
        now: UnixMillis,
    ) -> Result<Vec<ContactInfo>, StoreError> {
        let rows = sqlx::query(
            "UPDATE contacts SET email_bouncing_since = ?2
             WHERE email = ?1 AND email_bouncing_since IS NULL
             RETURNING id, email, email_verified, name, phone, company, blocked_at,
                       email_bouncing_since",
        )
        .bind(address.trim().to_lowercase())
        .bind(now)
        .fetch_all(&self.writes)
        .await?;
        rows.iter().map(contact_from_row).collect()
    }

    async fn keep_inbound_mail(&self, mail: NewInboundMail) -> Result<String, StoreError> {
        let id = Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO inbound_mail
                 (id, received_at, outcome, reason, from_address, subject, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(&id)
        .bind(mail.now)
        .bind(outcome_name(mail.outcome))
        .bind(&mail.reason)
        .bind(&mail.from)
        .bind(&mail.subject)
        .bind(&mail.raw)
        .execute(&self.writes)
        .await?;
        Ok(id)
    }

    async fn inbound_mail_log(&self, limit: u32) -> Result<Vec<InboundMailEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, received_at, outcome, reason, from_address, subject, length(raw) AS size
             FROM inbound_mail ORDER BY received_at DESC, id LIMIT ?1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(inbound_from_row).collect()
    }

    async fn inbound_mail_raw(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT raw FROM inbound_mail WHERE id = ?1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn link_visitor(
        &self,
        visitor: &VisitorId,
        conversation: ConversationId,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO visitor_links (visitor_id, conversation_id, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (visitor_id, conversation_id) DO UPDATE SET created_at = excluded.created_at",
        )
        .bind(&visitor.0)
        .bind(conversation.0.to_string())
        .bind(now)
        .execute(&self.writes)
        .await?;
        Ok(())
    }

    async fn set_visitor_lang(&self, visitor: &VisitorId, lang: &str) -> Result<(), StoreError> {
        // Every reconnect's hello sends the language again: read first, so an unchanged one
        // never takes SQLite's write lock (an UPDATE that matches nothing still would).
        let known: Option<Option<String>> =
            sqlx::query_scalar("SELECT lang FROM visitors WHERE id = ?1")
                .bind(&visitor.0)
                .fetch_optional(&self.pool)
                .await?;
        if known.flatten().as_deref() == Some(lang) {
            return Ok(());
        }
        sqlx::query("UPDATE visitors SET lang = ?2 WHERE id = ?1 AND lang IS NOT ?2")
            .bind(&visitor.0)
            .bind(lang)
            .execute(&self.writes)
            .await?;
        Ok(())
    }

    async fn open_conversation_of_address(
        &self,
        site: &str,
        address: &str,
        channel: Channel,
    ) -> Result<Option<ConversationId>, StoreError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT c.id FROM conversations c JOIN contacts k ON k.id = c.contact_id
             WHERE c.site = ?1 AND k.email = ?2 AND c.channel = ?3 AND c.status = 'open'
             ORDER BY k.email_verified DESC, c.last_activity_at DESC LIMIT 1",
        )
        .bind(site)
        .bind(address.trim().to_lowercase())
        .bind(channel_name(channel))
        .fetch_optional(&self.pool)
        .await?;
        id.map(|id| {
            Uuid::parse_str(&id)
                .map(ConversationId)
                .map_err(|error| StoreError::Corrupt(format!("conversation id: {error}")))
        })
        .transpose()
    }
}
