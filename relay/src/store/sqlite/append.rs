//! One message's part of an append transaction on SQLite: the next seq, the message, its
//! files, the inbox state and its jobs. The writer ([`super::writer`]) runs it inside a
//! savepoint of a batch, on its own connection and thread (rusqlite, statements cached), so
//! none of it waits for another thread.

use natter_protocol::{Author, Message, MessageId};
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::jobs::INSERT_JOB;
use super::mail::INSERT_PENDING_DELIVERY;
use super::{
    author_columns, channel_name, conversation_record, ConversationColumns, CONVERSATION_COLUMNS,
};
use crate::store::{preview, ConversationRecord, NewJob, NewMessage, StoreError};

/// Writes one message. `None`: its client id is stored already in the conversation (a
/// resend); the caller rolls its savepoint back, which gives the seq back. An error leaves
/// partial writes for the caller to roll back too.
pub(super) fn append_one(
    connection: &Connection,
    new: &NewMessage,
) -> Result<Option<(Message, ConversationRecord)>, StoreError> {
    let conversation = next_seq(connection, new)?;
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
    if !insert_message(connection, &message, new)? {
        return Ok(None);
    }
    claim_attachments(connection, &message, new)?;
    for job in &new.jobs {
        insert_job(connection, job, new.now)?;
    }
    if new.awaits_delivery {
        connection
            .prepare_cached(INSERT_PENDING_DELIVERY)?
            .execute(params![message.id.0.to_string(), new.now])?;
    }
    Ok(Some((message, conversation)))
}

/// Takes the conversation's next seq and, in the same statement, keeps its inbox state in
/// step with the message: a customer message reopens the conversation, marks it unread and
/// starts the "waiting" clock (and a blocked contact's or visitor's new conversation is
/// blocked too); a team reply stops it and counts as reading. Internal comments, the bot's
/// and the relay's notices change neither. A resend's savepoint is rolled back, so none of
/// this sticks for it.
fn next_seq(connection: &Connection, new: &NewMessage) -> Result<ConversationRecord, StoreError> {
    let inbox_state = if new.internal {
        ""
    } else if new.author.is_customer() {
        ", status = 'open', unread = 1,
           awaiting_reply_since = COALESCE(awaiting_reply_since, ?2),
           blocked = blocked
               OR EXISTS (SELECT 1 FROM visitors v
                          WHERE v.id = conversations.visitor_id AND v.blocked_at IS NOT NULL)
               OR EXISTS (SELECT 1 FROM contacts k
                          WHERE k.id = conversations.contact_id AND k.blocked_at IS NOT NULL)"
    } else if matches!(new.author, Author::Agent { .. }) {
        ", unread = 0, awaiting_reply_since = NULL"
    } else {
        // A bot's answer is not a person's: the visitor still waits for an agent.
        ""
    };
    let sql = format!(
        "UPDATE conversations
         SET last_seq = last_seq + 1, last_activity_at = ?2, last_message_preview = ?3
             {inbox_state}
         WHERE id = ?1 RETURNING {CONVERSATION_COLUMNS}"
    );
    let columns = connection
        .prepare_cached(&sql)?
        .query_row(
            params![
                new.conversation_id.0.to_string(),
                new.now,
                preview(&new.text)
            ],
            |row| {
                Ok(ConversationColumns {
                    id: row.get("id")?,
                    site: row.get("site")?,
                    visitor_id: row.get("visitor_id")?,
                    external_thread_id: row.get("external_thread_id")?,
                    last_seq: row.get("last_seq")?,
                    last_activity_at: row.get("last_activity_at")?,
                    last_message_preview: row.get("last_message_preview")?,
                    created_at: row.get("created_at")?,
                })
            },
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    conversation_record(columns)
}

/// Inserts a message unless its client id is stored in the conversation already. Returns
/// whether it was inserted.
fn insert_message(
    connection: &Connection,
    message: &Message,
    new: &NewMessage,
) -> Result<bool, StoreError> {
    let (author_kind, agent_id, author_name) = author_columns(&message.author);
    let inserted = connection
        .prepare_cached(
            "INSERT INTO messages
                 (id, conversation_id, seq, client_id, author_kind, agent_id, author_name,
                  channel, body, created_at, internal, unverified_sender)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (conversation_id, client_id) DO NOTHING",
        )?
        .execute(params![
            message.id.0.to_string(),
            message.conversation_id.0.to_string(),
            i64::try_from(message.seq).unwrap_or(i64::MAX),
            message.client_id.0.to_string(),
            author_kind,
            agent_id,
            author_name,
            channel_name(message.channel),
            message.text,
            message.sent_at,
            new.internal,
            new.unverified_sender,
        ])?;
    Ok(inserted == 1)
}

/// Gives the message its uploaded files, in the order the sender listed them.
fn claim_attachments(
    connection: &Connection,
    message: &Message,
    new: &NewMessage,
) -> Result<(), StoreError> {
    for (position, attachment) in (0_i64..).zip(&new.attachments) {
        let claimed = connection
            .prepare_cached(
                "UPDATE attachments SET message_id = ?1, position = ?4
                 WHERE id = ?2 AND conversation_id = ?3 AND message_id IS NULL",
            )?
            .execute(params![
                message.id.0.to_string(),
                attachment.0.to_string(),
                message.conversation_id.0.to_string(),
                position
            ])?;
        if claimed == 0 {
            return Err(StoreError::AttachmentUnavailable(attachment.0.to_string()));
        }
    }
    Ok(())
}

/// Enqueues a job that follows the message (a taken dedupe key enqueues nothing).
fn insert_job(connection: &Connection, job: &NewJob, now: i64) -> Result<(), StoreError> {
    connection.prepare_cached(INSERT_JOB)?.execute(params![
        Uuid::new_v4().to_string(),
        job.kind,
        job.payload,
        job.dedupe_key,
        job.run_at,
        i64::from(job.max_attempts),
        now
    ])?;
    Ok(())
}
