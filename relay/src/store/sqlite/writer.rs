//! Group commit: the one task that appends messages to SQLite, many per transaction.
//!
//! SQLite has one write lock and `synchronous = FULL` flushes the WAL on every commit, so one
//! transaction per message costs a flush per message, and concurrent appends on pooled
//! connections queue for the lock in SQLite's busy handler, which sleeps 1, 2, 5, 10 … ms
//! between tries. Instead every append is a [`Request`] on a bounded queue; this task takes
//! whatever is queued (up to [`MAX_BATCH`]), writes each message inside its own `SAVEPOINT`
//! of one `BEGIN IMMEDIATE` transaction, commits once (one flush), and only then answers
//! every caller (R2: an ack follows a commit, never a savepoint).
//!
//! - A message that fails on its own (unknown conversation, a file already sent, a broken
//!   rule) is rolled back to its savepoint and answered with its error; the others commit.
//! - A resend (its client id is stored, possibly earlier in the same batch) rolls back to its
//!   savepoint and is answered [`Written::Duplicate`]; the caller reads the stored copy after
//!   the commit.
//! - A failure that may have cost the transaction itself (I/O, disk full, a failed `COMMIT`)
//!   fails the whole batch: every caller gets the error, and the connection, whose
//!   transaction state is in doubt, is closed, never reused ([`super::connection_is_clean`]).
//! - Overload: the queue is bounded, so callers wait for room ([`Writer::append`] is slower,
//!   never refused) and the sockets that feed them slow down with it.
//!
//! The task writes through the store's one write connection ([`super::SqliteStore`]'s
//! `writes` pool), taken per batch: other writes queue fairly between batches instead of
//! sleeping in SQLite's busy handler.

use natter_protocol::Message;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::append::append_one;
use super::connection_is_clean;
use crate::store::{ConversationRecord, NewMessage, StoreError};

/// Messages waiting for the writer before callers wait for room: at 5,000 msg/s, 0.8 s of
/// work — enough to ride out a slow flush, small enough that a caller's wait stays bounded.
const QUEUE: usize = 4096;
/// Messages in one transaction at most: bounds how long the write lock is held, so other
/// writes (hellos, read marks, the jobs runner) get their turn between batches.
const MAX_BATCH: usize = 256;

/// What the writer did with one message.
// Mostly `Stored`: boxing it would cost an allocation per message to save bytes on the rare
// `Duplicate`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(super) enum Written {
    /// Stored (committed) with its seq; the conversation as the append left it.
    Stored {
        message: Message,
        conversation: ConversationRecord,
    },
    /// Its client id was stored already in that conversation: nothing changed.
    Duplicate,
}

/// One append waiting for the writer, and where to answer it.
struct Request {
    message: NewMessage,
    reply: oneshot::Sender<Result<Written, StoreError>>,
}

/// The queue into the writer task. Dropping the last handle stops the task once it has
/// answered what was queued.
pub(super) struct Writer {
    queue: mpsc::Sender<Request>,
}

impl Writer {
    /// Starts the writer task on the current runtime, writing through `writes`.
    pub(super) fn start(writes: SqlitePool) -> Self {
        let (queue, requests) = mpsc::channel(QUEUE);
        tokio::spawn(run(writes, requests));
        Self { queue }
    }

    /// Appends one message in the next batch; returns after that batch committed (or failed).
    pub(super) async fn append(&self, message: NewMessage) -> Result<Written, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request { message, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?;
        answer.await.map_err(|_| {
            StoreError::Unavailable("the database writer stopped before answering".into())
        })?
    }
}

/// The writer task: one batch after another until every [`Writer`] handle is gone.
async fn run(writes: SqlitePool, mut requests: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while requests.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let messages: Vec<&NewMessage> = batch.iter().map(|request| &request.message).collect();
        let outcome = write_batch(&writes, &messages).await;
        answer(std::mem::take(&mut batch), outcome);
    }
}

/// Answers every caller of a batch: each its own outcome, or all the batch's error.
fn answer(batch: Vec<Request>, outcome: Result<Vec<Result<Written, StoreError>>, StoreError>) {
    match outcome {
        Ok(outcomes) => {
            for (request, outcome) in batch.into_iter().zip(outcomes) {
                // The caller may have gone (its socket closed): the message is stored anyway.
                let _ = request.reply.send(outcome);
            }
        }
        Err(error) => {
            tracing::error!(%error, messages = batch.len(), "a batch of messages was not stored");
            for request in batch {
                let _ = request.reply.send(Err(copy_of(&error)));
            }
        }
    }
}

/// Takes the write connection and writes one batch. `Ok` holds one outcome per message, in
/// order, and means the batch committed.
async fn write_batch(
    writes: &SqlitePool,
    messages: &[&NewMessage],
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let mut connection = writes.acquire().await?;
    match commit_batch(&mut connection, messages).await {
        Ok(outcomes) => Ok(outcomes),
        Err(error) => {
            // Whatever SQLite did with the transaction, this connection is not trusted again.
            connection.close_on_drop();
            Err(error)
        }
    }
}

/// One transaction for the batch, one savepoint per message, one commit; then the disk-full
/// defence: SQLite must really be out of the transaction, or nothing was committed.
pub(super) async fn commit_batch(
    connection: &mut SqliteConnection,
    messages: &[&NewMessage],
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let mut transaction = connection.begin_with("BEGIN IMMEDIATE").await?;
    let mut outcomes = Vec::with_capacity(messages.len());
    for message in messages {
        outcomes.push(in_savepoint(&mut transaction, message).await?);
    }
    transaction.commit().await?;
    // An ack must only ever follow a commit: if SQLite is still inside a transaction here,
    // this "commit" only released a savepoint of one left open by an earlier failure.
    if !connection_is_clean(connection).await {
        return Err(StoreError::Unavailable(
            "the write was not committed; the connection was reset".into(),
        ));
    }
    Ok(outcomes)
}

/// One message in its own savepoint. The outer `Err` fails the whole batch; the inner one is
/// this message's alone (its savepoint was rolled back, the transaction goes on).
async fn in_savepoint(
    connection: &mut SqliteConnection,
    message: &NewMessage,
) -> Result<Result<Written, StoreError>, StoreError> {
    let mut savepoint = connection.begin().await?;
    match append_one(&mut savepoint, message).await {
        Ok(Some((message, conversation))) => {
            savepoint.commit().await?;
            Ok(Ok(Written::Stored {
                message,
                conversation,
            }))
        }
        Ok(None) => {
            savepoint.rollback().await?;
            Ok(Ok(Written::Duplicate))
        }
        // SQLite may have rolled the whole transaction back by itself (disk full, I/O):
        // nothing in this batch can be trusted to commit.
        Err(error @ StoreError::Unavailable(_)) => Err(error),
        Err(error) => {
            savepoint.rollback().await?;
            Ok(Err(error))
        }
    }
}

/// The same error for every caller of a failed batch (`StoreError` holds no driver type, so
/// its text is all there is to copy).
fn copy_of(error: &StoreError) -> StoreError {
    match error {
        StoreError::NotFound => StoreError::NotFound,
        StoreError::Duplicate(text) => StoreError::Duplicate(text.clone()),
        StoreError::AttachmentUnavailable(text) => StoreError::AttachmentUnavailable(text.clone()),
        StoreError::Corrupt(text) => StoreError::Corrupt(text.clone()),
        StoreError::Migration(text) => StoreError::Migration(text.clone()),
        StoreError::UnsupportedUrl(text) => StoreError::UnsupportedUrl(text.clone()),
        StoreError::Backend(text) => StoreError::Backend(text.clone()),
        StoreError::Unavailable(text) => StoreError::Unavailable(text.clone()),
    }
}

#[cfg(test)]
mod tests {
    //! The batch itself, deterministically: which messages share a transaction is up to
    //! timing through [`Writer`], so these call the batch functions directly.

    use natter_protocol::{AgentId, Author, Channel, ClientMessageId, ConversationId};

    use super::*;
    use crate::identity::VisitorId;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{ContactStore, ConversationKey, ConversationStore};

    const NOW: i64 = 1_767_225_600_000;

    async fn store_with_chat() -> (tempfile::TempDir, SqliteStore, ConversationId) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let visitor = VisitorId("visitor-ada".into());
        store.touch_visitor("demo", &visitor, NOW).await.unwrap();
        let conversation = store
            .open_conversation("demo", &ConversationKey::Visitor(visitor), NOW)
            .await
            .unwrap();
        (dir, store, conversation.summary.id)
    }

    fn message(conversation: ConversationId, author: Author, text: &str) -> NewMessage {
        NewMessage {
            conversation_id: conversation,
            client_id: ClientMessageId::new_random(),
            author,
            channel: Channel::Chat,
            text: text.into(),
            attachments: Vec::new(),
            now: NOW,
            internal: false,
            jobs: Vec::new(),
            unverified_sender: None,
            awaits_delivery: false,
        }
    }

    async fn stored_texts(store: &SqliteStore, conversation: ConversationId) -> Vec<String> {
        let (messages, _) = store.recent_messages(conversation, 100).await.unwrap();
        messages.into_iter().map(|m| m.text).collect()
    }

    fn seq_of(outcome: &Result<Written, StoreError>) -> Option<u64> {
        match outcome {
            Ok(Written::Stored { message, .. }) => Some(message.seq),
            _ => None,
        }
    }

    /// A resend of a message earlier in the same batch, a message to no conversation and one
    /// that breaks a rule (an unknown agent) each fail or repeat alone; the others commit
    /// with gapless seqs.
    #[tokio::test]
    async fn one_bad_or_repeated_message_fails_alone() {
        let (_dir, store, conversation) = store_with_chat().await;
        let first = message(conversation, Author::Visitor, "first");
        let resend = first.clone();
        let lost = message(
            ConversationId(uuid::Uuid::new_v4()),
            Author::Visitor,
            "lost",
        );
        let stranger = Author::Agent {
            agent_id: AgentId(uuid::Uuid::new_v4()),
            name: "Nobody".into(),
        };
        let refused = message(conversation, stranger, "refused");
        let second = message(conversation, Author::Visitor, "second");
        let batch = [&first, &resend, &lost, &refused, &second];
        let mut connection = store.writes.acquire().await.unwrap();
        let outcomes = commit_batch(&mut connection, &batch).await.unwrap();
        drop(connection);

        assert_eq!(seq_of(&outcomes[0]), Some(1));
        assert!(matches!(outcomes[1], Ok(Written::Duplicate)));
        assert!(matches!(outcomes[2], Err(StoreError::NotFound)));
        assert!(matches!(outcomes[3], Err(StoreError::Backend(_))));
        assert_eq!(seq_of(&outcomes[4]), Some(2));
        assert_eq!(
            stored_texts(&store, conversation).await,
            ["first", "second"]
        );
    }

    /// A commit that fails (here a deferred rule a trigger breaks) fails every message of
    /// the batch, stores none of them, and the writer's next batch commits on a fresh
    /// connection.
    #[tokio::test]
    async fn a_failed_commit_fails_the_whole_batch() {
        let (_dir, store, conversation) = store_with_chat().await;
        sqlx::raw_sql(
            "CREATE TABLE poison_parent (id TEXT PRIMARY KEY);
             CREATE TABLE poison_child (parent TEXT
                 REFERENCES poison_parent (id) DEFERRABLE INITIALLY DEFERRED);
             CREATE TRIGGER poison AFTER INSERT ON messages WHEN NEW.body = 'poison'
             BEGIN INSERT INTO poison_child VALUES ('nobody'); END;",
        )
        .execute(&store.writes)
        .await
        .unwrap();
        let good = message(conversation, Author::Visitor, "good");
        let poison = message(conversation, Author::Visitor, "poison");
        let also_good = message(conversation, Author::Visitor, "also good");
        let failed = write_batch(&store.writes, &[&good, &poison, &also_good]).await;
        assert!(failed.is_err(), "{failed:?}");
        assert!(stored_texts(&store, conversation).await.is_empty());

        let after = message(conversation, Author::Visitor, "after");
        let outcomes = write_batch(&store.writes, &[&after]).await.unwrap();
        assert_eq!(seq_of(&outcomes[0]), Some(1));
        assert_eq!(stored_texts(&store, conversation).await, ["after"]);
    }

    /// Through the queue: fifty callers at once each get their own message back, with the
    /// seqs 1..=50 between them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_caller_is_answered() {
        let (_dir, store, conversation) = store_with_chat().await;
        let appends: Vec<_> = (0..50)
            .map(|n| message(conversation, Author::Visitor, &format!("message {n}")))
            .map(|new| store.append_message(new))
            .collect();
        let results = futures_util::future::join_all(appends).await;
        let mut seqs: Vec<u64> = results
            .iter()
            .map(|r| r.as_ref().unwrap().message.seq)
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    }
}
