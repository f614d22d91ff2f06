//! One message's part of an append transaction on SQLite: the next seq, the message, its
//! files, the inbox state and its jobs. The writer ([`super::writer`]) runs it inside a
//! savepoint of a batch; everything here is statements on that one connection.

use natter_protocol::{AttachmentId, Author, Message, MessageId};
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::{
    author_columns, channel_name, conversation_from_row, jobs, mail, CONVERSATION_COLUMNS,
};
use crate::store::{preview, ConversationRecord, NewMessage, StoreError};

/// Writes one message. `None`: its client id is stored already in the conversation (a
/// resend); the caller rolls its savepoint back, which gives the seq back. An error leaves
/// partial writes for the caller to roll back too.
pub(super) async fn append_one(
    connection: &mut SqliteConnection,
    new: &NewMessage,
) -> Result<Option<(Message, ConversationRecord)>, StoreError> {
    let conversation = next_seq(connection, new).await?;
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
    if !insert_message(connection, &message, new).await? {
        return Ok(None);
    }
    claim_attachments(connection, &message, &new.attachments).await?;
    for job in &new.jobs {
        jobs::insert(connection, job, new.now).await?;
    }
    if new.awaits_delivery {
        mail::insert_pending_delivery(connection, message.id, new.now).await?;
    }
    Ok(Some((message, conversation)))
}

/// Takes the conversation's next seq and, in the same statement, keeps its inbox state in
/// step with the message: one statement where there were two, since each costs a round trip
/// to SQLite's thread. A customer message reopens the conversation, marks it unread and
/// starts the "waiting" clock (and a blocked contact's or visitor's new conversation is
/// blocked too); a team reply stops it and counts as reading. Internal comments, the bot's
/// and the relay's notices change neither. A resend's savepoint is rolled back, so none of
/// this sticks for it.
async fn next_seq(
    connection: &mut SqliteConnection,
    new: &NewMessage,
) -> Result<ConversationRecord, StoreError> {
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
    let row = sqlx::query(&sql)
        .bind(new.conversation_id.0.to_string())
        .bind(new.now)
        .bind(preview(&new.text))
        .fetch_optional(&mut *connection)
        .await?
        .ok_or(StoreError::NotFound)?;
    conversation_from_row(&row)
}

/// Inserts a message unless its client id is stored in the conversation already. Returns
/// whether it was inserted.
async fn insert_message(
    connection: &mut SqliteConnection,
    message: &Message,
    new: &NewMessage,
) -> Result<bool, StoreError> {
    let (author_kind, agent_id, author_name) = author_columns(&message.author);
    let inserted = sqlx::query(
        "INSERT INTO messages
             (id, conversation_id, seq, client_id, author_kind, agent_id, author_name,
              channel, body, created_at, internal, unverified_sender)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (conversation_id, client_id) DO NOTHING",
    )
    .bind(message.id.0.to_string())
    .bind(message.conversation_id.0.to_string())
    .bind(i64::try_from(message.seq).unwrap_or(i64::MAX))
    .bind(message.client_id.0.to_string())
    .bind(author_kind)
    .bind(agent_id)
    .bind(author_name)
    .bind(channel_name(message.channel))
    .bind(&message.text)
    .bind(message.sent_at)
    .bind(new.internal)
    .bind(&new.unverified_sender)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Gives the message its uploaded files, in the order the sender listed them.
async fn claim_attachments(
    connection: &mut SqliteConnection,
    message: &Message,
    attachments: &[AttachmentId],
) -> Result<(), StoreError> {
    for (position, attachment) in (0_i64..).zip(attachments) {
        let claimed = sqlx::query(
            "UPDATE attachments SET message_id = ?1, position = ?4
             WHERE id = ?2 AND conversation_id = ?3 AND message_id IS NULL",
        )
        .bind(message.id.0.to_string())
        .bind(attachment.0.to_string())
        .bind(message.conversation_id.0.to_string())
        .bind(position)
        .execute(&mut *connection)
        .await?
        .rows_affected();
        if claimed == 0 {
            return Err(StoreError::AttachmentUnavailable(attachment.0.to_string()));
        }
    }
    Ok(())
}
