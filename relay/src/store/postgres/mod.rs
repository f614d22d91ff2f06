//! The PostgreSQL store, for several relay nodes on one database (`database_url =
//! "postgres://…"`): every storage trait, with the same semantics as the SQLite backend and
//! checked by the same conformance suite.
//!
//! Queries are built at run time (`sqlx::query`), since no database is there at build time;
//! the schema is `relay/migrations/postgres/`, run on open (sqlx serialises concurrent runs
//! from several nodes with an advisory lock). A commit returns once PostgreSQL has flushed it
//! (`synchronous_commit`), so an acknowledged message is durable (R2). What differs from
//! SQLite, and why, is said where it happens: per-conversation `seq` under concurrent nodes in
//! `conversations.rs`, claiming jobs across nodes in `jobs.rs`, the search's words in
//! `search.rs` and the migration, error classification in `error.rs`.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use super::{Store, StoreError};
use error::{run, Outcome};

mod accounts;
mod contacts;
mod conversations;
mod error;
mod inbox;
mod jobs;
mod mail;
mod rows;
mod search;

/// Connections per node. PostgreSQL runs writers in parallel (appends to different
/// conversations do not wait for each other), and the default server allows 100 connections
/// in all, shared by every node.
const MAX_CONNECTIONS: u32 = 16;
/// How long a request waits for a free connection before failing as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database `database_url` names (`postgres://` or `postgresql://`) and
    /// brings its schema up to date.
    pub async fn open(database_url: &str) -> Result<Self, StoreError> {
        let pool = run(connect(database_url)).await?;
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .map_err(|error| StoreError::Migration(error.to_string()))?;
        Ok(Self { pool })
    }
}

async fn connect(database_url: &str) -> Outcome<PgPool> {
    let options = PgConnectOptions::from_str(database_url)?;
    Ok(PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // No ping before each use: it is one more round trip to the server on every query
        // (a third of them on the message path). A connection that died with the server
        // fails its next query as `Unavailable`, which callers retry, and is not reused.
        .test_before_acquire(false)
        .connect_with(options)
        .await?)
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        run(async {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    //! The storage conformance suite ([`crate::store::conformance`]) against PostgreSQL on
    //! 127.0.0.1:5432 (trust authentication, user `postgres`): one test per check, each in a
    //! database of its own, created for it and dropped afterwards. Without a running
    //! PostgreSQL the tests fail, saying how to start it; they never skip.

    use std::sync::Arc;

    use futures_util::future::{join_all, BoxFuture};
    use natter_protocol::{Author, Channel, ClientMessageId, Seq};
    use sqlx::{Connection, PgConnection};
    use uuid::Uuid;

    use super::PostgresStore;
    use crate::identity::VisitorId;
    use crate::store::conformance::{KnownFailure, CHECKS, NOW};
    use crate::store::{ConversationKey, NewMessage, Store};

    /// Checks PostgreSQL fails today because of a bug in this backend. Each still runs and
    /// must still fail; once the bug is fixed its test fails, asking to remove the entry.
    const KNOWN_FAILURES: &[KnownFailure] = &[];

    const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

    async fn admin_connection() -> PgConnection {
        PgConnection::connect(&format!("{SERVER}/postgres"))
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "PostgreSQL is not reachable at {SERVER} ({error}). Start it with \
                     `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, \
                     or run `cargo xtask test`, which starts it."
                )
            })
    }

    /// A fresh, empty database for one test, dropped when this guard drops (also when the
    /// test failed).
    struct TestDatabase {
        name: String,
    }

    impl TestDatabase {
        async fn create() -> Self {
            let name = format!("natter_test_{}", Uuid::new_v4().simple());
            let mut admin = admin_connection().await;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .unwrap();
            admin.close().await.unwrap();
            Self { name }
        }

        fn url(&self) -> String {
            format!("{SERVER}/{}", self.name)
        }
    }

    impl Drop for TestDatabase {
        fn drop(&mut self) {
            let name = self.name.clone();
            // `drop` runs on the test's runtime, which cannot wait for a future here: a thread
            // with a runtime of its own drops the database. FORCE ends the connections a store
            // dropped just now may still hold.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let mut admin = admin_connection().await;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await
                        .map(|_| ())
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(()))) {
                eprintln!("could not drop the test database {}", self.name);
            }
        }
    }

    /// A fresh, migrated store in a database of its own.
    fn open_fresh() -> BoxFuture<'static, (TestDatabase, Arc<dyn Store>)> {
        Box::pin(async {
            let database = TestDatabase::create().await;
            let store = PostgresStore::open(&database.url()).await.unwrap();
            let store: Arc<dyn Store> = Arc::new(store);
            (database, store)
        })
    }

    crate::store_conformance_tests!(open_fresh, known_failures = KNOWN_FAILURES);

    #[test]
    fn known_failures_name_real_checks() {
        for known in KNOWN_FAILURES {
            assert!(CHECKS.contains(&known.check), "no check {:?}", known.check);
        }
    }

    /// Two nodes (two pools on one database, each opened through `store::open`, migrating at
    /// the same time) appending 50 messages each, all at once, to one conversation: the seqs
    /// are 1..=100, each exactly once, and both nodes read the same thread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_nodes_appending_at_once_get_every_seq_exactly_once() {
        const PER_NODE: usize = 50;
        let database = TestDatabase::create().await;
        let url = database.url();
        let (a, b) = tokio::join!(crate::store::open(&url), crate::store::open(&url));
        let nodes = [a.unwrap(), b.unwrap()];
        let visitor = VisitorId("visitor-two-nodes".into());
        nodes[0].touch_visitor("demo", &visitor, NOW).await.unwrap();
        let conversation = nodes[1]
            .open_conversation("demo", &ConversationKey::Visitor(visitor), NOW)
            .await
            .unwrap()
            .summary
            .id;

        let appends = nodes.iter().flat_map(|node| {
            (0..PER_NODE).map(move |n| {
                let node = Arc::clone(node);
                tokio::spawn(async move {
                    let message = NewMessage {
                        conversation_id: conversation,
                        client_id: ClientMessageId::new_random(),
                        author: Author::Visitor,
                        channel: Channel::Chat,
                        text: format!("message {n}"),
                        attachments: Vec::new(),
                        now: NOW + n as i64,
                        internal: false,
                        jobs: Vec::new(),
                        unverified_sender: None,
                        awaits_delivery: false,
                    };
                    node.append_message(message).await.unwrap().message.seq
                })
            })
        });
        let mut seqs: Vec<Seq> = join_all(appends)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        seqs.sort_unstable();
        let every: Vec<Seq> = (1..=(2 * PER_NODE) as Seq).collect();
        assert_eq!(seqs, every);
        for node in &nodes {
            let (stored, has_earlier) = node.recent_messages(conversation, 200).await.unwrap();
            let stored: Vec<Seq> = stored.iter().map(|message| message.seq).collect();
            assert_eq!(stored, every);
            assert!(!has_earlier);
        }
        drop(nodes);
        drop(database);
    }

    /// `MailStore` where PostgreSQL's SQL differs from SQLite's, beyond the conformance
    /// checks: addresses in any case with spaces around, the Message-ID list rewritten under
    /// its row lock, the raw size as `octet_length`, a language set twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_mail_store_round_trips() {
        use natter_protocol::agent::{Delivery, DeliveryState, InboundMailOutcome};

        use crate::store::NewInboundMail;

        let (database, store) = open_fresh().await;
        let visitor = VisitorId("visitor-mail".into());
        store.touch_visitor("demo", &visitor, NOW).await.unwrap();
        let email = store
            .open_conversation(
                "demo",
                &ConversationKey::ContactAddress {
                    address: "Ada@Example.com".into(),
                    channel: Channel::Email,
                },
                NOW,
            )
            .await
            .unwrap()
            .summary
            .id;
        assert_eq!(store.mail_thread(email).await.unwrap(), Default::default());

        store
            .record_mail_received(email, "<in@x>", Some("Parcel"), NOW)
            .await
            .unwrap();
        store
            .record_mail_sent(email, "<out@x>", 3, "Re: Parcel", NOW + 1)
            .await
            .unwrap();
        store
            .record_mail_sent(email, "<old@x>", 2, "ignored", NOW + 2)
            .await
            .unwrap();
        let thread = store.mail_thread(email).await.unwrap();
        assert_eq!(thread.subject.as_deref(), Some("Parcel"));
        assert_eq!(thread.emailed_up_to, 3, "never moves back");
        assert_eq!(thread.message_ids, vec!["<in@x>", "<out@x>", "<old@x>"]);

        let reply = NewMessage {
            conversation_id: email,
            client_id: ClientMessageId::new_random(),
            author: Author::Contact { name: None },
            channel: Channel::Email,
            text: "from elsewhere".into(),
            attachments: Vec::new(),
            now: NOW,
            internal: false,
            jobs: Vec::new(),
            unverified_sender: Some("mallory@example.com".into()),
            awaits_delivery: true,
        };
        let stored = store.append_message(reply).await.unwrap().message;
        let thread = store.inbox_thread(email).await.unwrap();
        assert_eq!(
            thread[0].unverified_sender.as_deref(),
            Some("mallory@example.com")
        );
        assert_eq!(
            thread[0].delivery.as_ref().map(|d| d.state),
            Some(DeliveryState::Pending)
        );
        let failed = Delivery {
            state: DeliveryState::Failed,
            detail: Some("550 no such user".into()),
            updated_at: NOW + 5,
        };
        store.set_delivery(stored.id, &failed).await.unwrap();
        let thread = store.inbox_thread(email).await.unwrap();
        assert_eq!(thread[0].delivery.as_ref(), Some(&failed));

        let marked = store.mark_bouncing(" ADA@example.com ", NOW).await.unwrap();
        assert_eq!(marked.len(), 1);
        assert!(marked[0].email_bouncing);
        assert!(store
            .mark_bouncing("ada@example.com", NOW)
            .await
            .unwrap()
            .is_empty());
        assert!(
            store
                .inbox_contact(email)
                .await
                .unwrap()
                .unwrap()
                .email_bouncing
        );
        assert_eq!(
            store
                .open_conversation_of_address("demo", "ada@EXAMPLE.com", Channel::Email)
                .await
                .unwrap(),
            Some(email)
        );
        assert_eq!(
            store
                .open_conversation_of_address("demo", "ada@example.com", Channel::Chat)
                .await
                .unwrap(),
            None
        );

        let kept = store
            .keep_inbound_mail(NewInboundMail {
                outcome: InboundMailOutcome::Kept,
                reason: "no reply token".into(),
                from: Some("x@example.com".into()),
                subject: None,
                raw: b"raw bytes".to_vec(),
                now: NOW,
            })
            .await
            .unwrap();
        let log = store.inbound_mail_log(10).await.unwrap();
        assert_eq!((log[0].id.as_str(), log[0].size), (kept.as_str(), 9));

        store.link_visitor(&visitor, email, NOW).await.unwrap();
        let linked = store.visitor_conversation("demo", &visitor).await.unwrap();
        assert_eq!(linked.unwrap().summary.id, email);
        store.set_visitor_lang(&visitor, "de").await.unwrap();
        store.set_visitor_lang(&visitor, "de").await.unwrap();
        drop(store);
        drop(database);
    }
}
