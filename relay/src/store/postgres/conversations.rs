//! Conversations and messages on PostgreSQL ([`ConversationStore`] for [`PostgresStore`]):
//! opening by key, the one-transaction append, history and read marks.
//!
//! Per-conversation `seq` is gap-free and unique across nodes because an append starts by
//! bumping `conversations.last_seq` (`UPDATE … RETURNING`): that takes the conversation row's
//! lock until the commit, so appends to one conversation from any pool or node run one after
//! the other, and a rolled-back append (a resend, a refused file) gives its number back.

use async_trait::async_trait;
use natter_protocol::agent::ConversationSummary;
use natter_protocol::{
    Attachment, AttachmentId, Author, Channel, ConversationId, Message, MessageId, Seq, UnixMillis,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use super::error::{run, Outcome};
use super::rows::{
    author_columns, channel_name, conversation_from_row, message_from_row, parse_uuid, seq_value,
    CONVERSATION_COLUMNS, MESSAGE_COLUMNS,
};
use super::{jobs, mail, PostgresStore};
use crate::identity::VisitorId;
use crate::store::{
    attachment_url, preview, Appended, ConversationKey, ConversationRecord, ConversationStore,
    InboxStore, NewMessage, ReadMarks, StoreError,
};

#[async_trait]
impl ConversationStore for PostgresStore {
    async fn visitor_conversation(
        &self,
        site: &str,
        visitor: &VisitorId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        run(self.find_visitor_conversation(site, visitor)).await
    }

    async fn open_conversation(
        &self,
        site: &str,
        key: &ConversationKey,
        now: UnixMillis,
    ) -> Result<ConversationRecord, StoreError> {
        run(async {
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
        })
        .await
    }

    async fn append_message(&self, new: NewMessage) -> Result<Appended, StoreError> {
        run(async {
            match append_in_transaction(&self.pool, &new).await? {
                // Only a message sent with files has any to read back.
                Some((message, conversation)) if new.attachments.is_empty() => Ok(Appended {
                    message,
                    conversation,
                    duplicate: false,
                }),
                Some((message, conversation)) => Ok(Appended {
                    message: self.with_attachments(message).await?,
                    conversation,
                    duplicate: false,
                }),
                None => self.stored_copy(&new).await,
            }
        })
        .await
    }

    async fn recent_messages(
        &self,
        conversation: ConversationId,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        run(async {
            // One extra row tells whether older messages exist.
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages
                 WHERE conversation_id = $1 AND NOT internal
                 ORDER BY seq DESC LIMIT $2"
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
                .collect::<Outcome<Vec<_>>>()?;
            messages.reverse();
            self.fill_attachments(&mut messages).await?;
            Ok((messages, has_earlier))
        })
        .await
    }

    async fn messages_after(
        &self,
        conversation: ConversationId,
        after: Seq,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        run(async {
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages
                 WHERE conversation_id = $1 AND seq > $2 AND NOT internal
                 ORDER BY seq ASC LIMIT $3"
            );
            let rows = sqlx::query(&sql)
                .bind(conversation.0.to_string())
                .bind(seq_value(after))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            let mut messages = rows
                .iter()
                .map(message_from_row)
                .collect::<Outcome<Vec<_>>>()?;
            self.fill_attachments(&mut messages).await?;
            Ok(messages)
        })
        .await
    }

    async fn list_conversations(&self, limit: u32) -> Result<Vec<ConversationSummary>, StoreError> {
        run(async {
            let sql = format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE last_seq > 0
                 ORDER BY last_activity_at DESC, id LIMIT $1"
            );
            let rows = sqlx::query(&sql)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            rows.iter()
                .map(|row| conversation_from_row(row).map(|record| record.summary))
                .collect()
        })
        .await
    }

    async fn mark_seen_by_visitor(
        &self,
        conversation: ConversationId,
        up_to: Seq,
    ) -> Result<Seq, StoreError> {
        run(async {
            let seen: Option<i64> = sqlx::query_scalar(
                "UPDATE conversations
                 SET visitor_seen_seq = GREATEST(visitor_seen_seq, LEAST($2, last_seq))
                 WHERE id = $1 RETURNING visitor_seen_seq",
            )
            .bind(conversation.0.to_string())
            .bind(seq_value(up_to))
            .fetch_optional(&self.pool)
            .await?;
            let seen = seen.ok_or(StoreError::NotFound)?;
            Ok(seen.max(0) as Seq)
        })
        .await
    }

    async fn mark_read_by_agents(
        &self,
        conversation: ConversationId,
        up_to: Seq,
    ) -> Result<Option<Seq>, StoreError> {
        run(async {
            let read: Option<i64> = sqlx::query_scalar(
                "UPDATE conversations SET agent_read_seq = LEAST($2, last_seq)
                 WHERE id = $1 AND agent_read_seq < LEAST($2, last_seq)
                 RETURNING agent_read_seq",
            )
            .bind(conversation.0.to_string())
            .bind(seq_value(up_to))
            .fetch_optional(&self.pool)
            .await?;
            Ok(read.map(|read| read.max(0) as Seq))
        })
        .await
    }

    async fn read_marks(&self, conversation: ConversationId) -> Result<ReadMarks, StoreError> {
        run(async {
            let row = sqlx::query(
                "SELECT visitor_seen_seq, agent_read_seq FROM conversations WHERE id = $1",
            )
            .bind(conversation.0.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
            let mark =
                |column: &str| -> Outcome<Seq> { Ok(row.try_get::<i64, _>(column)?.max(0) as Seq) };
            Ok(ReadMarks {
                seen_by_visitor: mark("visitor_seen_seq")?,
                read_by_agents: mark("agent_read_seq")?,
            })
        })
        .await
    }
}

/// The append's one transaction: the next seq, the message, its files, the inbox state and its
/// jobs. `None` when the client id is stored already (a resend): then nothing changed.
async fn append_in_transaction(
    pool: &PgPool,
    new: &NewMessage,
) -> Outcome<Option<(Message, ConversationRecord)>> {
    let mut transaction = pool.begin().await?;
    // The first statement takes the conversation's row lock (held to the commit): concurrent
    // appends to this conversation, from any node, wait here for their turn.
    let row = next_seq(&mut transaction, new).await?;
    let conversation = conversation_from_row(&row)?;
    let message = Message {
        id: MessageId(Uuid::new_v4()),
        conversation_id: new.conversation_id,
        seq: conversation.summary.message_count,
        client_id: new.client_id,
        author: new.author.clone(),
        channel: new.channel,
        text: new.text.clone(),
        sent_at: new.now,
        attachments: Vec::new(),
    };
    if !insert_message(&mut transaction, &message, new).await? {
        // A resend: undo the sequence bump; the caller hands back the first copy.
        transaction.rollback().await?;
        return Ok(None);
    }
    claim_attachments(&mut transaction, &message, &new.attachments).await?;
    for job in &new.jobs {
        jobs::insert(&mut transaction, job, new.now).await?;
    }
    if new.awaits_delivery {
        mail::insert_pending_delivery(&mut transaction, message.id, new.now).await?;
    }
    // Returns once PostgreSQL has flushed the commit (synchronous_commit): only then is the
    // message acknowledged (R2).
    transaction.commit().await?;
    Ok(Some((message, conversation)))
}

/// Inserts a message unless its client id is stored in the conversation already. Returns
/// whether it was inserted.
async fn insert_message(
    connection: &mut PgConnection,
    message: &Message,
    new: &NewMessage,
) -> Outcome<bool> {
    let (author_kind, agent_id, author_name) = author_columns(&message.author);
    let inserted = sqlx::query(
        "INSERT INTO messages
             (id, conversation_id, seq, client_id, author_kind, agent_id, author_name,
              channel, body, created_at, internal, unverified_sender)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (conversation_id, client_id) DO NOTHING",
    )
    .bind(message.id.0.to_string())
    .bind(message.conversation_id.0.to_string())
    .bind(seq_value(message.seq))
    .bind(message.client_id.0.to_string())
    .bind(author_kind)
    .bind(agent_id)
    .bind(author_name)
    .bind(channel_name(message.channel))
    .bind(&message.text)
    .bind(message.sent_at)
    .bind(new.internal)
    .bind(&new.unverified_sender)
    .execute(connection)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Gives the message its uploaded files, in the order the sender listed them. A file that is
/// not this conversation's, or was sent already, fails the whole append.
async fn claim_attachments(
    connection: &mut PgConnection,
    message: &Message,
    attachments: &[AttachmentId],
) -> Outcome<()> {
    for (position, attachment) in (0_i64..).zip(attachments) {
        let claimed = sqlx::query(
            "UPDATE attachments SET message_id = $1, position = $4
             WHERE id = $2 AND conversation_id = $3 AND message_id IS NULL",
        )
        .bind(message.id.0.to_string())
        .bind(attachment.0.to_string())
        .bind(message.conversation_id.0.to_string())
        .bind(position)
        .execute(&mut *connection)
        .await?
        .rows_affected();
        if claimed == 0 {
            return Err(StoreError::AttachmentUnavailable(attachment.0.to_string()).into());
        }
    }
    Ok(())
}

/// Bumps the conversation's seq and, in the same statement (one round trip where there were
/// two), keeps its inbox state in step with the message: a customer message reopens the
/// conversation, marks it unread and starts the "waiting" clock (and a blocked contact's or
/// visitor's new conversation is blocked too); an agent's reply stops it and counts as
/// reading. Internal comments, the bot's and the relay's notices change neither. A resend
/// rolls the transaction back, so none of it sticks for it.
async fn next_seq(connection: &mut PgConnection, new: &NewMessage) -> Outcome<PgRow> {
    let inbox_state = if new.internal {
        ""
    } else if new.author.is_customer() {
        ", status = 'open', unread = TRUE,
           awaiting_reply_since = COALESCE(awaiting_reply_since, $2),
           blocked = blocked
               OR EXISTS (SELECT 1 FROM visitors v
                          WHERE v.id = conversations.visitor_id AND v.blocked_at IS NOT NULL)
               OR EXISTS (SELECT 1 FROM contacts k
                          WHERE k.id = conversations.contact_id AND k.blocked_at IS NOT NULL)"
    } else if matches!(new.author, Author::Agent { .. }) {
        ", unread = FALSE, awaiting_reply_since = NULL"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE conversations
         SET last_seq = last_seq + 1, last_activity_at = $2, last_message_preview = $3
             {inbox_state}
         WHERE id = $1 RETURNING {CONVERSATION_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(new.conversation_id.0.to_string())
        .bind(new.now)
        .bind(preview(&new.text))
        .fetch_optional(connection)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(row)
}

impl PostgresStore {
    /// The conversation a magic link opened on this device (E6) first, then a verified
    /// contact's (it follows them across devices), then the one this visitor id started.
    async fn find_visitor_conversation(
        &self,
        site: &str,
        visitor: &VisitorId,
    ) -> Outcome<Option<ConversationRecord>> {
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations
             WHERE site = $1 AND (
                 contact_id = (SELECT v.contact_id FROM visitors v
                               JOIN contacts k ON k.id = v.contact_id AND k.email_verified
                               WHERE v.id = $2)
                 OR visitor_id = $2
                 OR id IN (SELECT conversation_id FROM visitor_links WHERE visitor_id = $2))
             ORDER BY (SELECT l.created_at FROM visitor_links l
                       WHERE l.visitor_id = $2 AND l.conversation_id = conversations.id)
                          DESC NULLS LAST,
                      (visitor_id IS DISTINCT FROM $2) DESC, last_activity_at DESC
             LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(site)
            .bind(&visitor.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    /// The visitor's own chat, created if needed.
    async fn open_visitor_conversation(
        &self,
        site: &str,
        visitor: &VisitorId,
        now: UnixMillis,
    ) -> Outcome<ConversationRecord> {
        if let Some(existing) = self.find_visitor_conversation(site, visitor).await? {
            return Ok(existing);
        }
        // DO NOTHING on the unique (site, visitor_id) index makes concurrent first messages
        // from two tabs (or two nodes) converge on one conversation.
        sqlx::query(
            "INSERT INTO conversations
                 (id, site, visitor_id, contact_id, last_activity_at, created_at)
             VALUES ($1, $2, $3, (SELECT contact_id FROM visitors WHERE id = $3), $4, $4)
             ON CONFLICT (site, visitor_id) DO NOTHING",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(site)
        .bind(&visitor.0)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let found = self.find_visitor_conversation(site, visitor).await?;
        Ok(found.ok_or(StoreError::NotFound)?)
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
    ) -> Outcome<ConversationRecord> {
        let address = address.trim().to_lowercase();
        let contact_id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM contacts WHERE site = $1 AND lower(email) = $2
             ORDER BY email_verified DESC, updated_at DESC LIMIT 1",
        )
        .bind(site)
        .bind(&address)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(contact_id) = &contact_id {
            let sql = format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations
                 WHERE site = $1 AND contact_id = $2 ORDER BY last_activity_at DESC LIMIT 1"
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
            None => self.new_address_contact(site, &address, now).await?,
        };
        let thread = format!("address:{address}");
        self.open_thread_conversation(site, channel, &thread, Some(&contact_id), now)
            .await
    }

    /// A new unverified contact for a sender's address.
    async fn new_address_contact(
        &self,
        site: &str,
        address: &str,
        now: UnixMillis,
    ) -> Outcome<String> {
        let id = Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO contacts (id, site, email, email_verified, created_at, updated_at)
             VALUES ($1, $2, $3, FALSE, $4, $4)",
        )
        .bind(&id)
        .bind(site)
        .bind(address)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(id)
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
    ) -> Outcome<ConversationRecord> {
        sqlx::query(
            "INSERT INTO conversations
                 (id, site, channel, external_thread_id, contact_id, last_activity_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (site, channel, external_thread_id) DO NOTHING",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(site)
        .bind(channel_name(channel))
        .bind(thread_id)
        .bind(contact_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations
             WHERE site = $1 AND channel = $2 AND external_thread_id = $3"
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
    async fn stored_copy(&self, new: &NewMessage) -> Outcome<Appended> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND client_id = $2"
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
        let message = self.with_attachments(message_from_row(&row)?).await?;
        Ok(Appended {
            message,
            conversation,
            duplicate: true,
        })
    }

    /// One message with its files.
    async fn with_attachments(&self, message: Message) -> Outcome<Message> {
        let mut messages = vec![message];
        self.fill_attachments(&mut messages).await?;
        Ok(messages.pop().ok_or(StoreError::NotFound)?)
    }

    /// Loads the attachments of these messages (one query for all of them).
    pub(super) async fn fill_attachments(&self, messages: &mut [Message]) -> Outcome<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = messages.iter().map(|m| m.id.0.to_string()).collect();
        let rows = sqlx::query(
            "SELECT id, message_id, access_token, name, content_type, size FROM attachments
             WHERE message_id = ANY($1) ORDER BY position, created_at, id",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
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
