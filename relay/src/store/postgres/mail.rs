//! [`MailStore`] on PostgreSQL: the `conversation_mail`, `message_deliveries`, `inbound_mail`
//! and `visitor_links` tables (migration `…_email.sql`), with the SQLite backend's semantics.

use async_trait::async_trait;
use natter_protocol::agent::{ContactInfo, Delivery, InboundMailEntry};
use natter_protocol::{Channel, ConversationId, MessageId, Seq, UnixMillis};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::error::{run, Outcome};
use super::rows::{channel_name, contact_from_row, seq_value, uuid_from};
use super::PostgresStore;
use crate::identity::VisitorId;
use crate::store::mail::{
    delivery_state_from_name, delivery_state_name, outcome_from_name, outcome_name, with_message_id,
};
use crate::store::{MailStore, MailThread, NewInboundMail, StoreError};

/// Starts a message's delivery as pending, inside its append transaction.
pub(super) async fn insert_pending_delivery(
    connection: &mut PgConnection,
    message: MessageId,
    now: UnixMillis,
) -> Outcome<()> {
    sqlx::query(
        "INSERT INTO message_deliveries (message_id, state, updated_at) VALUES ($1, 'pending', $2)
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(message.0.to_string())
    .bind(now)
    .execute(connection)
    .await?;
    Ok(())
}

/// The `delivery_*` columns of a message joined with `message_deliveries`.
pub(super) fn delivery_from_row(row: &PgRow) -> Outcome<Option<Delivery>> {
    let Some(state) = row.try_get::<Option<String>, _>("delivery_state")? else {
        return Ok(None);
    };
    let state = delivery_state_from_name(&state)?;
    Ok(Some(Delivery {
        state,
        detail: row.try_get("delivery_detail")?,
        updated_at: row.try_get("delivery_updated_at")?,
    }))
}

fn inbound_from_row(row: &PgRow) -> Outcome<InboundMailEntry> {
    let outcome: String = row.try_get("outcome")?;
    let size: i32 = row.try_get("size")?;
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

impl PostgresStore {
    /// Adds a Message-ID (and maybe a subject and a new `emailed_up_to`) to the thread row.
    async fn update_mail_thread(
        &self,
        conversation: ConversationId,
        message_id: &str,
        subject: Option<&str>,
        emailed_up_to: Seq,
        now: UnixMillis,
    ) -> Outcome<()> {
        let conversation = conversation.0.to_string();
        let mut transaction = self.pool.begin().await?;
        // The row exists first, then is locked while its list is rewritten, so two nodes
        // recording emails of one thread at once both keep their Message-ID.
        sqlx::query(
            "INSERT INTO conversation_mail (conversation_id, updated_at) VALUES ($1, $2)
             ON CONFLICT (conversation_id) DO NOTHING",
        )
        .bind(&conversation)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        let known: String = sqlx::query_scalar(
            "SELECT message_ids FROM conversation_mail WHERE conversation_id = $1 FOR UPDATE",
        )
        .bind(&conversation)
        .fetch_one(&mut *transaction)
        .await?;
        sqlx::query(
            "UPDATE conversation_mail SET
                 subject = COALESCE(subject, $2),
                 emailed_up_to = GREATEST(emailed_up_to, $3),
                 message_ids = $4,
                 updated_at = $5
             WHERE conversation_id = $1",
        )
        .bind(&conversation)
        .bind(subject)
        .bind(seq_value(emailed_up_to))
        .bind(with_message_id(&known, message_id))
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn find_mail_thread(&self, conversation: ConversationId) -> Outcome<MailThread> {
        let row = sqlx::query(
            "SELECT m.subject, m.emailed_up_to, m.message_ids, v.lang
             FROM conversations c
             LEFT JOIN conversation_mail m ON m.conversation_id = c.id
             LEFT JOIN visitors v ON v.id = c.visitor_id
             WHERE c.id = $1",
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
}

#[async_trait]
impl MailStore for PostgresStore {
    async fn mail_thread(&self, conversation: ConversationId) -> Result<MailThread, StoreError> {
        run(self.find_mail_thread(conversation)).await
    }

    async fn record_mail_sent(
        &self,
        conversation: ConversationId,
        message_id: &str,
        up_to: Seq,
        subject: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        run(self.update_mail_thread(conversation, message_id, Some(subject), up_to, now)).await
    }

    async fn record_mail_received(
        &self,
        conversation: ConversationId,
        message_id: &str,
        subject: Option<&str>,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        run(self.update_mail_thread(conversation, message_id, subject, 0, now)).await
    }

    async fn set_delivery(
        &self,
        message: MessageId,
        delivery: &Delivery,
    ) -> Result<(), StoreError> {
        run(async {
            sqlx::query(
                "INSERT INTO message_deliveries (message_id, state, detail, updated_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (message_id) DO UPDATE SET
                     state = excluded.state, detail = excluded.detail,
                     updated_at = excluded.updated_at",
            )
            .bind(message.0.to_string())
            .bind(delivery_state_name(delivery.state))
            .bind(&delivery.detail)
            .bind(delivery.updated_at)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    async fn mark_bouncing(
        &self,
        address: &str,
        now: UnixMillis,
    ) -> Result<Vec<ContactInfo>, StoreError> {
        run(async {
            let rows = sqlx::query(
                "UPDATE contacts SET email_bouncing_since = $2
                 WHERE lower(email) = $1 AND email_bouncing_since IS NULL
                 RETURNING id, email, email_verified, name, phone, company, blocked_at,
                           email_bouncing_since",
            )
            .bind(address.trim().to_lowercase())
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(contact_from_row).collect()
        })
        .await
    }

    async fn keep_inbound_mail(&self, mail: NewInboundMail) -> Result<String, StoreError> {
        run(async {
            let id = Uuid::new_v4().to_string();
            sqlx::query(
                "INSERT INTO inbound_mail
                     (id, received_at, outcome, reason, from_address, subject, raw)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(mail.now)
            .bind(outcome_name(mail.outcome))
            .bind(&mail.reason)
            .bind(&mail.from)
            .bind(&mail.subject)
            .bind(&mail.raw)
            .execute(&self.pool)
            .await?;
            Ok(id)
        })
        .await
    }

    async fn inbound_mail_log(&self, limit: u32) -> Result<Vec<InboundMailEntry>, StoreError> {
        run(async {
            let rows = sqlx::query(
                "SELECT id, received_at, outcome, reason, from_address, subject,
                        octet_length(raw) AS size
                 FROM inbound_mail ORDER BY received_at DESC, id LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(inbound_from_row).collect()
        })
        .await
    }

    async fn inbound_mail_raw(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        run(async {
            Ok(
                sqlx::query_scalar("SELECT raw FROM inbound_mail WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?,
            )
        })
        .await
    }

    async fn link_visitor(
        &self,
        visitor: &VisitorId,
        conversation: ConversationId,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        run(async {
            sqlx::query(
                "INSERT INTO visitor_links (visitor_id, conversation_id, created_at)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (visitor_id, conversation_id)
                     DO UPDATE SET created_at = excluded.created_at",
            )
            .bind(&visitor.0)
            .bind(conversation.0.to_string())
            .bind(now)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    async fn set_visitor_lang(&self, visitor: &VisitorId, lang: &str) -> Result<(), StoreError> {
        run(async {
            // Only a change writes: the hello of every reconnect sends the language again.
            sqlx::query("UPDATE visitors SET lang = $2 WHERE id = $1 AND lang IS DISTINCT FROM $2")
                .bind(&visitor.0)
                .bind(lang)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    async fn open_conversation_of_address(
        &self,
        site: &str,
        address: &str,
        channel: Channel,
    ) -> Result<Option<ConversationId>, StoreError> {
        run(async {
            let id: Option<String> = sqlx::query_scalar(
                "SELECT c.id FROM conversations c JOIN contacts k ON k.id = c.contact_id
                 WHERE c.site = $1 AND lower(k.email) = $2 AND c.channel = $3
                   AND c.status = 'open'
                 ORDER BY k.email_verified DESC, c.last_activity_at DESC LIMIT 1",
            )
            .bind(site)
            .bind(address.trim().to_lowercase())
            .bind(channel_name(channel))
            .fetch_optional(&self.pool)
            .await?;
            Ok(id
                .map(|id| uuid_from(&id, "conversation id").map(ConversationId))
                .transpose()?)
        })
        .await
    }
}
