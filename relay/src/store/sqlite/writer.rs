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
//!   fails the whole batch. It is tried again on a fresh connection after a pause, twice
//!   ([`BATCH_RETRY_PAUSES`]), and only then does every caller get the error. The disk-full defence: after the
//!   `COMMIT`, SQLite must say it is out of the transaction (autocommit), or nothing is
//!   acknowledged; and a connection whose batch failed is closed, never reused, a fresh one
//!   opened for the next batch.
//! - Overload: the queue is bounded, so callers wait for room ([`Writer::append`] is slower,
//!   never refused) and the sockets that feed them slow down with it.
//!
//! Checkpoints (copying the WAL back into the database file and flushing it) happen off the
//! ack path: the writer's own automatic checkpoint is only a backstop at [`AUTOCHECKPOINT`]
//! pages, and after a batch the writer asks a reader connection for a `PASSIVE` checkpoint
//! (at most one running, at most every [`CHECKPOINT_EVERY`]), which runs beside the next
//! batches instead of inside one of their commits.
//!
//! The batch runs on a blocking thread with a rusqlite connection of its own, statements
//! prepared once: profiling showed sqlx's SQLite driver spending more CPU handing each
//! statement to its connection thread and back than SQLite spent running it. Its turn to
//! write is the store's one sqlx write connection (`writes`, a pool of one), held while the
//! batch runs, so the other writes of this process queue fairly between batches instead of
//! meeting the writer in SQLite's busy handler.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use natter_protocol::Message;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::append::append_one;
use crate::store::{ConversationRecord, NewMessage, StoreError};

/// Messages waiting for the writer before callers wait for room: at 5,000 msg/s, 0.8 s of
/// work — enough to ride out a slow flush, small enough that a caller's wait stays bounded.
const QUEUE: usize = 4096;
/// Messages in one transaction at most: bounds how long the write lock is held, so other
/// writes (hellos, read marks, the jobs runner) get their turn between batches.
const MAX_BATCH: usize = 256;
/// How long the writer waits for another process's write lock on the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements the writer keeps (a handful per message kind).
const STATEMENT_CACHE: usize = 32;
/// WAL pages after which a committing connection checkpoints by itself (SQLite's default is
/// 1,000): a backstop for when the background checkpoint cannot keep up.
pub(super) const AUTOCHECKPOINT: u32 = 10_000;
/// The pauses before trying a failed batch again (see [`write_with_retries`]): an eighth of
/// a second in all before its callers hear the error — enough for a passing hiccup, short
/// because a full disk keeps failing and the widget's outbox retries anyway.
const BATCH_RETRY_PAUSES: [Duration; 2] = [Duration::from_millis(25), Duration::from_millis(100)];
/// How often, at most, a busy writer asks for a background checkpoint.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

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

/// The outcome of one message in a batch that committed.
type Outcome = Result<Written, StoreError>;

/// One append waiting for the writer, and where to answer it.
struct Request {
    message: NewMessage,
    reply: oneshot::Sender<Outcome>,
}

/// The queue into the writer task. Dropping the last handle stops the task once it has
/// answered what was queued.
pub(super) struct Writer {
    queue: mpsc::Sender<Request>,
}

impl Writer {
    /// Starts the writer task on the current runtime, writing to the database file at `path`
    /// whenever it holds `writes`' one connection, and checkpointing through `readers`.
    pub(super) fn start(path: PathBuf, writes: SqlitePool, readers: SqlitePool) -> Self {
        let (queue, requests) = mpsc::channel(QUEUE);
        tokio::spawn(run(path, writes, Checkpoints::new(readers), requests));
        Self { queue }
    }

    /// Appends one message in the next batch; returns after that batch committed (or failed).
    pub(super) async fn append(&self, message: NewMessage) -> Outcome {
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
async fn run(
    path: PathBuf,
    writes: SqlitePool,
    mut checkpoints: Checkpoints,
    mut requests: mpsc::Receiver<Request>,
) {
    let mut connection = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while requests.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (messages, replies): (Vec<_>, Vec<_>) = batch
            .drain(..)
            .map(|request| (request.message, request.reply))
            .unzip();
        let (kept, outcome) = write_with_retries(&path, &writes, connection.take(), messages).await;
        connection = kept;
        answer(replies, outcome);
        checkpoints.after_batch();
    }
}

/// Background checkpoints on a reader connection (`query_only` still allows them).
struct Checkpoints {
    readers: SqlitePool,
    running: Arc<AtomicBool>,
    last: Instant,
}

impl Checkpoints {
    fn new(readers: SqlitePool) -> Self {
        Self {
            readers,
            running: Arc::new(AtomicBool::new(false)),
            last: Instant::now(),
        }
    }

    /// Starts a `PASSIVE` checkpoint unless one is running or one started recently. It
    /// copies what it can without waiting for the writer or any reader.
    fn after_batch(&mut self) {
        if self.last.elapsed() < CHECKPOINT_EVERY || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        self.last = Instant::now();
        let (readers, running) = (self.readers.clone(), Arc::clone(&self.running));
        tokio::spawn(async move {
            let checkpoint = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&readers)
                .await;
            if let Err(error) = checkpoint {
                tracing::warn!(%error, "background checkpoint failed");
            }
            running.store(false, Ordering::Release);
        });
    }
}

/// Answers every caller of a batch: each its own outcome, or all the batch's error.
fn answer(replies: Vec<oneshot::Sender<Outcome>>, outcome: Result<Vec<Outcome>, StoreError>) {
    match outcome {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // The caller may have gone (its socket closed): the message is stored anyway.
                let _ = reply.send(outcome);
            }
        }
        Err(error) => {
            tracing::error!(%error, messages = replies.len(), "a batch of messages was not stored");
            for reply in replies {
                let _ = reply.send(Err(copy_of(&error)));
            }
        }
    }
}

/// [`write_batch`], tried again on a fresh connection when the whole batch failed for a
/// reason that may pass (I/O, a full disk that was just freed, a lock another process held
/// too long), with a pause between tries. Trying again is safe: nothing of a failed batch was
/// committed, and a message that was would come back [`Written::Duplicate`] (client ids are
/// idempotency keys), never stored twice.
async fn write_with_retries(
    path: &Path,
    writes: &SqlitePool,
    mut connection: Option<Connection>,
    mut messages: Vec<NewMessage>,
) -> (Option<Connection>, Result<Vec<Outcome>, StoreError>) {
    let mut pauses = BATCH_RETRY_PAUSES.iter();
    loop {
        let (kept, returned, outcome) = write_batch(path, writes, connection, messages).await;
        match (outcome, pauses.next()) {
            (Err(StoreError::Unavailable(reason)), Some(pause)) => {
                tracing::warn!(%reason, ?pause, "a batch of messages failed; trying again");
                tokio::time::sleep(*pause).await;
                (connection, messages) = (kept, returned);
            }
            (outcome, _) => return (kept, outcome),
        }
    }
}

/// Waits for the turn to write, then writes one batch on a blocking thread. Returns the
/// connection to keep (none after a failure: it is closed), the messages (for another try)
/// and, if the batch committed, one outcome per message, in order.
async fn write_batch(
    path: &Path,
    writes: &SqlitePool,
    connection: Option<Connection>,
    messages: Vec<NewMessage>,
) -> (
    Option<Connection>,
    Vec<NewMessage>,
    Result<Vec<Outcome>, StoreError>,
) {
    let turn = match writes.acquire().await {
        Ok(turn) => turn,
        Err(error) => return (connection, messages, Err(error.into())),
    };
    let path = path.to_owned();
    let written = tokio::task::spawn_blocking(move || {
        let mut connection = match connection.map_or_else(|| open(&path), Ok) {
            Ok(connection) => connection,
            Err(error) => return (None, messages, Err(error)),
        };
        let outcome = commit_batch(&mut connection, &messages);
        // Dropping a connection closes it (rolling back whatever SQLite still holds open).
        (outcome.is_ok().then_some(connection), messages, outcome)
    })
    .await;
    drop(turn);
    written.unwrap_or_else(|error| {
        // A panic, not a passing condition: the batch is not tried again.
        let error = StoreError::Backend(format!("the database writer failed: {error}"));
        (None, Vec::new(), Err(error))
    })
}

/// The writer's connection. The file exists and is in WAL mode (the store opened it first);
/// `synchronous = FULL` makes every commit durable before the ack (R2).
fn open(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(connection)
}

/// One transaction for the batch, one savepoint per message, one commit; then the disk-full
/// defence: SQLite must really be out of the transaction, or nothing was committed.
pub(super) fn commit_batch(
    connection: &mut Connection,
    messages: &[NewMessage],
) -> Result<Vec<Outcome>, StoreError> {
    connection.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let mut outcomes = Vec::with_capacity(messages.len());
    for message in messages {
        outcomes.push(in_savepoint(connection, message)?);
    }
    connection.prepare_cached("COMMIT")?.execute([])?;
    // An ack must only ever follow a commit: if SQLite is still inside a transaction here,
    // that COMMIT committed nothing.
    if !connection.is_autocommit() {
        return Err(StoreError::Unavailable(
            "the write was not committed; the connection was reset".into(),
        ));
    }
    Ok(outcomes)
}

/// One message in its own savepoint. The outer `Err` fails the whole batch; the inner one is
/// this message's alone (its savepoint was rolled back, the transaction goes on).
fn in_savepoint(connection: &Connection, message: &NewMessage) -> Result<Outcome, StoreError> {
    connection
        .prepare_cached("SAVEPOINT message")?
        .execute([])?;
    let outcome = match append_one(connection, message) {
        Ok(Some((message, conversation))) => Ok(Written::Stored {
            message,
            conversation,
        }),
        Ok(None) => Ok(Written::Duplicate),
        // SQLite may have rolled the whole transaction back by itself (disk full, I/O):
        // nothing in this batch can be trusted to commit.
        Err(error @ StoreError::Unavailable(_)) => return Err(error),
        Err(error) => Err(error),
    };
    if !matches!(outcome, Ok(Written::Stored { .. })) {
        connection
            .prepare_cached("ROLLBACK TO message")?
            .execute([])?;
    }
    connection.prepare_cached("RELEASE message")?.execute([])?;
    Ok(outcome)
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match error {
            rusqlite::Error::QueryReturnedNoRows => Self::NotFound,
            rusqlite::Error::SqliteFailure(failure, _) => {
                let text = error.to_string();
                match failure.code {
                    ErrorCode::ConstraintViolation
                        if matches!(
                            failure.extended_code,
                            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                                | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                        ) =>
                    {
                        Self::Duplicate(text)
                    }
                    // "Not now" rather than "never", as for sqlx's errors (`mod.rs`).
                    ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::OutOfMemory
                    | ErrorCode::ReadOnly
                    | ErrorCode::SystemIoFailure
                    | ErrorCode::DiskFull
                    | ErrorCode::CannotOpen => Self::Unavailable(text),
                    _ => Self::Backend(text),
                }
            }
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..) => Self::Corrupt(error.to_string()),
            other => Self::Backend(other.to_string()),
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

    fn store_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("store.db")
    }

    async fn store_with_chat() -> (tempfile::TempDir, SqliteStore, ConversationId) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", store_path(&dir).display());
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

    fn seq_of(outcome: &Outcome) -> Option<u64> {
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
        let (dir, store, conversation) = store_with_chat().await;
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
        let batch = [first, resend, lost, refused, second];
        let mut connection = open(&store_path(&dir)).unwrap();
        let outcomes = commit_batch(&mut connection, &batch).unwrap();
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
        let (dir, store, conversation) = store_with_chat().await;
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
        let path = store_path(&dir);
        let connection = open(&path).unwrap();
        let batch = vec![good, poison, also_good];
        let (kept, _, failed) = write_batch(&path, &store.writes, Some(connection), batch).await;
        assert!(failed.is_err(), "{failed:?}");
        assert!(kept.is_none(), "the connection in doubt is closed");
        assert!(stored_texts(&store, conversation).await.is_empty());

        let after = vec![message(conversation, Author::Visitor, "after")];
        let (kept, _, outcomes) = write_batch(&path, &store.writes, kept, after).await;
        assert!(kept.is_some());
        assert_eq!(seq_of(&outcomes.unwrap()[0]), Some(1));
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
