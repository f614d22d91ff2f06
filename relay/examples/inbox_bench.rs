//! The inbox list and search under load (I2), on both store backends: seeds a temporary SQLite
//! database, then a fresh PostgreSQL database (created on 127.0.0.1:5432 and dropped again), with
//! the same conversations (default 100 000, three messages each, a third with a contact), and
//! prints latency percentiles of the list queries the agent API runs, per backend and side by
//! side. Run it through `cargo xtask bench inbox [N]`, which builds it with the `server` profile
//! and starts PostgreSQL if needed; `… inbox N sqlite` or `… inbox N postgres` runs one backend.
//!
//! Measured through the `Store` trait (the same SQL as `GET /v1/agent/conversations`), without
//! HTTP and JSON, on the machine it runs on. Never part of a timed test.

use std::time::{Duration, Instant};

use natter_protocol::agent::ConversationStatus;
use natter_protocol::AgentId;
use natter_relay::store::{AssigneeScope, ListQuery, Store};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use uuid::Uuid;

const WORDS: [&str; 24] = [
    "hello", "order", "shipping", "delivery", "invoice", "refund", "size", "colour", "price",
    "discount", "return", "parcel", "tracking", "account", "password", "login", "cart", "payment",
    "card", "bank", "warranty", "repair", "store", "opening",
];
const RUNS: usize = 200;
const PAGE: u32 = 50;
/// The PostgreSQL server (trust authentication on loopback, as the tests use it); the bench
/// creates a database of its own there. `NATTER_BENCH_POSTGRES` points it elsewhere.
const POSTGRES_SERVER: &str = "postgres://postgres@127.0.0.1:5432";
/// Conversations per multi-row insert when seeding PostgreSQL (one round trip per table each).
const PG_CHUNK: usize = 5_000;

/// One query's figures: name, p50, p95, p99, rows on the page.
type Figures = (String, Duration, Duration, Duration, usize);

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(100_000);
    if count == 0 {
        anyhow::bail!("seed at least one conversation");
    }
    let backend = args.next();
    let backends = match backend.as_deref() {
        None => vec!["sqlite", "postgres"],
        Some(one @ ("sqlite" | "postgres")) => vec![one],
        Some(other) => anyhow::bail!("backend {other:?}: sqlite or postgres"),
    };
    let mut results = Vec::new();
    for backend in backends {
        let figures = match backend {
            "sqlite" => sqlite(count).await?,
            _ => postgres(count).await?,
        };
        results.push((backend, figures));
    }
    if let [(_, sqlite), (_, postgres)] = results.as_slice() {
        println!();
        println!("side by side, {count} conversations, p50 / p99:");
        println!("{:<36} {:>21} {:>21}", "query", "SQLite", "PostgreSQL");
        for (s, p) in sqlite.iter().zip(postgres) {
            println!(
                "{:<36} {:>21} {:>21}",
                s.0,
                format!("{} / {}", ms(s.1), ms(s.3)),
                format!("{} / {}", ms(p.1), ms(p.3))
            );
        }
    }
    Ok(())
}

async fn sqlite(count: usize) -> anyhow::Result<Vec<Figures>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    // NATTER_BENCH_KEEP=1 keeps the database for EXPLAIN QUERY PLAN and friends.
    let dir = if std::env::var_os("NATTER_BENCH_KEEP").is_some() {
        Err(dir.keep())
    } else {
        Ok(dir)
    };
    let path = match &dir {
        Ok(dir) => dir.path().to_path_buf(),
        Err(path) => path.clone(),
    };
    let store = natter_relay::store::open(&url).await?;
    let started = Instant::now();
    let agent = seed_sqlite(&url, count).await?;
    println!(
        "SQLite: seeded {count} conversations ({} messages) in {:.1?}, in {}",
        count * 3,
        started.elapsed(),
        path.display()
    );
    measure_all(store.as_ref(), agent, count).await
}

async fn postgres(count: usize) -> anyhow::Result<Vec<Figures>> {
    let server =
        std::env::var("NATTER_BENCH_POSTGRES").unwrap_or_else(|_| POSTGRES_SERVER.to_owned());
    let name = format!("natter_bench_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&format!("{server}/postgres"))
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "PostgreSQL is not reachable at {server} ({error}); `cargo xtask bench inbox` \
                 starts the machine's cluster"
            )
        })?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let url = format!("{server}/{name}");
    let result = async {
        let store = natter_relay::store::open(&url).await?;
        let started = Instant::now();
        let agent = seed_postgres(&url, count).await?;
        println!();
        println!(
            "PostgreSQL: seeded {count} conversations ({} messages) in {:.1?}, in {url}",
            count * 3,
            started.elapsed()
        );
        measure_all(store.as_ref(), agent, count).await
    }
    .await;
    // Dropped also when the run failed; FORCE ends connections the store may still hold.
    if std::env::var_os("NATTER_BENCH_KEEP").is_none() {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
    }
    result
}

/// Runs every query [`RUNS`] times and prints its percentiles; returns them in the same order.
async fn measure_all(
    store: &dyn Store,
    agent: AgentId,
    count: usize,
) -> anyhow::Result<Vec<Figures>> {
    let base = ListQuery {
        status: None,
        assignee: AssigneeScope::All,
        channel: None,
        search: None,
        blocked: false,
        after: None,
        limit: PAGE,
    };
    let cases: Vec<(String, ListQuery)> = vec![
        ("list: first page, all".into(), base.clone()),
        (
            "list: open".into(),
            ListQuery {
                status: Some(ConversationStatus::Open),
                ..base.clone()
            },
        ),
        (
            "list: complete".into(),
            ListQuery {
                status: Some(ConversationStatus::Complete),
                ..base.clone()
            },
        ),
        (
            "list: mine (open)".into(),
            ListQuery {
                status: Some(ConversationStatus::Open),
                assignee: AssigneeScope::Mine(agent),
                ..base.clone()
            },
        ),
        (
            "list: unassigned".into(),
            ListQuery {
                assignee: AssigneeScope::Unassigned,
                ..base.clone()
            },
        ),
        (
            "search: common word (shipping)".into(),
            ListQuery {
                search: Some("shipping".to_string()),
                ..base.clone()
            },
        ),
        (
            "search: two words (refund parcel)".into(),
            ListQuery {
                search: Some("refund parcel".to_string()),
                ..base.clone()
            },
        ),
        (
            "search: rare order number".into(),
            ListQuery {
                search: Some(format!("A{}", count / 2)),
                ..base.clone()
            },
        ),
        (
            "search: contact email".into(),
            ListQuery {
                search: Some(format!("customer{}@example", count / 3)),
                ..base.clone()
            },
        ),
    ];
    println!("{RUNS} runs each, {PAGE} rows per page:");
    println!(
        "{:<36} {:>9} {:>9} {:>9} {:>6}",
        "query", "p50", "p95", "p99", "rows"
    );
    let mut figures = Vec::new();
    for (name, query) in cases {
        let (times, rows) = measure(store, &query).await?;
        figures.push(report(name, &times, rows));
    }
    // Paging deep: the 200th page (or the last full one), through the cursor of the one before.
    let pages = (count / PAGE as usize).clamp(1, 200);
    let mut query = base.clone();
    for _ in 0..pages - 1 {
        let rows = store.inbox_list(&query).await?;
        let last = &rows[PAGE as usize - 1].summary;
        query.after = Some((last.last_activity_at, last.id.0.to_string()));
    }
    let (times, rows) = measure(store, &query).await?;
    figures.push(report(
        format!("list: page {pages} (keyset cursor)"),
        &times,
        rows,
    ));
    Ok(figures)
}

async fn measure(store: &dyn Store, query: &ListQuery) -> anyhow::Result<(Vec<Duration>, usize)> {
    let mut times = Vec::with_capacity(RUNS);
    let mut rows = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        rows = store.inbox_list(query).await?.len().min(PAGE as usize);
        times.push(started.elapsed());
    }
    times.sort();
    Ok((times, rows))
}

fn ms(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1000.0)
}

fn report(name: String, times: &[Duration], rows: usize) -> Figures {
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{name:<36} {:>9} {:>9} {:>9} {rows:>6}",
        ms(at(0.50)),
        ms(at(0.95)),
        ms(at(0.99))
    );
    (name, at(0.50), at(0.95), at(0.99), rows)
}

/// Conversation `n` of the seed, the same on both backends: every third has a contact, a tenth
/// are assigned to the one agent, half are complete, a fifth unread; three messages each
/// (visitor, agent, visitor), a second apart.
struct Seeded {
    visitor: String,
    conversation: String,
    /// (id, email, name)
    contact: Option<(String, String, String)>,
    at: i64,
    texts: [String; 3],
    complete: bool,
    assigned: bool,
    unread: bool,
}

fn seeded(n: usize) -> Seeded {
    let start: i64 = 1_700_000_000_000;
    Seeded {
        visitor: format!("v{n}"),
        conversation: Uuid::new_v4().to_string(),
        contact: n.is_multiple_of(3).then(|| {
            (
                Uuid::new_v4().to_string(),
                format!("customer{n}@example.com"),
                format!("Customer {n}"),
            )
        }),
        at: start + (n as i64) * 1000,
        texts: [
            format!(
                "{} {} about order A{n}",
                WORDS[n % WORDS.len()],
                WORDS[(n / 7) % WORDS.len()]
            ),
            format!(
                "Thanks, we will check the {} for you.",
                WORDS[(n / 3) % WORDS.len()]
            ),
            format!(
                "Great, and the {} too please.",
                WORDS[(n / 11) % WORDS.len()]
            ),
        ],
        complete: n.is_multiple_of(2),
        assigned: n % 10 == 1,
        unread: n.is_multiple_of(5),
    }
}

/// Seeds `count` conversations in one transaction.
async fn seed_sqlite(url: &str, count: usize) -> anyhow::Result<AgentId> {
    let mut db = url.parse::<SqliteConnectOptions>()?.connect().await?;
    let agent = AgentId(Uuid::new_v4());
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO agents (id, email, name, password_hash, role, created_at)
         VALUES (?1, 'bench@example.com', 'Bench', 'x', 'agent', 0)",
    )
    .bind(agent.0.to_string())
    .execute(&mut *tx)
    .await?;
    for n in 0..count {
        let row = seeded(n);
        sqlx::query(
            "INSERT INTO visitors (id, site, created_at, last_seen_at) VALUES (?1, 'demo', ?2, ?2)",
        )
        .bind(&row.visitor)
        .bind(row.at)
        .execute(&mut *tx)
        .await?;
        if let Some((id, email, name)) = &row.contact {
            sqlx::query(
                "INSERT INTO contacts (id, site, email, name, created_at, updated_at)
                 VALUES (?1, 'demo', ?2, ?3, ?4, ?4)",
            )
            .bind(id)
            .bind(email)
            .bind(name)
            .bind(row.at)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO conversations (id, site, visitor_id, contact_id, last_seq, last_activity_at,
                 last_message_preview, created_at, status, assigned_agent_id, unread)
             VALUES (?1, 'demo', ?2, ?3, 3, ?4, ?5, ?4, ?6, ?7, ?8)",
        )
        .bind(&row.conversation)
        .bind(&row.visitor)
        .bind(row.contact.as_ref().map(|(id, _, _)| id))
        .bind(row.at)
        .bind(&row.texts[2])
        .bind(if row.complete { "complete" } else { "open" })
        .bind(row.assigned.then(|| agent.0.to_string()))
        .bind(i64::from(row.unread))
        .execute(&mut *tx)
        .await?;
        for (seq, text) in row.texts.iter().enumerate() {
            let from_visitor = seq != 1;
            sqlx::query(
                "INSERT INTO messages (id, conversation_id, seq, client_id, author_kind, agent_id,
                     author_name, channel, body, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'chat', ?8, ?9)",
            )
            .bind(Uuid::new_v4().to_string())
            .bind(&row.conversation)
            .bind(seq as i64 + 1)
            .bind(Uuid::new_v4().to_string())
            .bind(if from_visitor { "visitor" } else { "agent" })
            .bind((!from_visitor).then(|| agent.0.to_string()))
            .bind((!from_visitor).then_some("Bench"))
            .bind(text)
            .bind(row.at - 1000 + seq as i64)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    sqlx::query("ANALYZE").execute(&mut db).await?;
    Ok(agent)
}

/// Seeds the same conversations as [`seed_sqlite`] in one transaction, [`PG_CHUNK`] at a time
/// per table through `UNNEST` of array parameters (a row per round trip would time the
/// network, not the database).
async fn seed_postgres(url: &str, count: usize) -> anyhow::Result<AgentId> {
    let mut db = PgConnection::connect(url).await?;
    let agent = AgentId(Uuid::new_v4());
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO agents (id, email, name, password_hash, role, created_at)
         VALUES ($1, 'bench@example.com', 'Bench', 'x', 'agent', 0)",
    )
    .bind(agent.0.to_string())
    .execute(&mut *tx)
    .await?;
    let agent_id = agent.0.to_string();
    for first in (0..count).step_by(PG_CHUNK) {
        let rows: Vec<Seeded> = (first..count.min(first + PG_CHUNK)).map(seeded).collect();
        let column = |f: &dyn Fn(&Seeded) -> String| rows.iter().map(f).collect::<Vec<_>>();
        let ats: Vec<i64> = rows.iter().map(|row| row.at).collect();
        sqlx::query(
            "INSERT INTO visitors (id, site, created_at, last_seen_at)
             SELECT id, 'demo', at, at FROM UNNEST($1::text[], $2::bigint[]) AS t(id, at)",
        )
        .bind(column(&|row| row.visitor.clone()))
        .bind(&ats)
        .execute(&mut *tx)
        .await?;
        let contacts: Vec<(&(String, String, String), i64)> = rows
            .iter()
            .filter_map(|row| row.contact.as_ref().map(|contact| (contact, row.at)))
            .collect();
        sqlx::query(
            "INSERT INTO contacts (id, site, email, name, created_at, updated_at)
             SELECT id, 'demo', email, name, at, at
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[]) AS t(id, email, name, at)",
        )
        .bind(contacts.iter().map(|(c, _)| c.0.clone()).collect::<Vec<_>>())
        .bind(contacts.iter().map(|(c, _)| c.1.clone()).collect::<Vec<_>>())
        .bind(contacts.iter().map(|(c, _)| c.2.clone()).collect::<Vec<_>>())
        .bind(contacts.iter().map(|(_, at)| *at).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO conversations (id, site, visitor_id, contact_id, last_seq, last_activity_at,
                 last_message_preview, created_at, status, assigned_agent_id, unread)
             SELECT id, 'demo', visitor, contact, 3, at, preview, at, status, assigned, unread
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[],
                         $7::text[], $8::boolean[])
                 AS t(id, visitor, contact, at, preview, status, assigned, unread)",
        )
        .bind(column(&|row| row.conversation.clone()))
        .bind(column(&|row| row.visitor.clone()))
        .bind(
            rows.iter()
                .map(|row| row.contact.as_ref().map(|(id, _, _)| id.clone()))
                .collect::<Vec<_>>(),
        )
        .bind(&ats)
        .bind(column(&|row| row.texts[2].clone()))
        .bind(column(&|row| {
            if row.complete { "complete" } else { "open" }.to_owned()
        }))
        .bind(
            rows.iter()
                .map(|row| row.assigned.then(|| agent_id.clone()))
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|row| row.unread).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        let messages: Vec<(&Seeded, usize)> = rows
            .iter()
            .flat_map(|row| (0..3).map(move |seq| (row, seq)))
            .collect();
        let from_visitor = |seq: usize| seq != 1;
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, seq, client_id, author_kind, agent_id,
                 author_name, channel, body, created_at)
             SELECT id, conversation, seq, client_id, kind, agent, author, 'chat', body, at
             FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::bigint[])
                 AS t(id, conversation, seq, client_id, kind, agent, author, body, at)",
        )
        .bind(
            messages
                .iter()
                .map(|_| Uuid::new_v4().to_string())
                .collect::<Vec<_>>(),
        )
        .bind(
            messages
                .iter()
                .map(|(row, _)| row.conversation.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            messages
                .iter()
                .map(|(_, seq)| *seq as i64 + 1)
                .collect::<Vec<_>>(),
        )
        .bind(
            messages
                .iter()
                .map(|_| Uuid::new_v4().to_string())
                .collect::<Vec<_>>(),
        )
        .bind(
            messages
                .iter()
                .map(|(_, seq)| {
                    if from_visitor(*seq) {
                        "visitor"
                    } else {
                        "agent"
                    }
                    .to_owned()
                })
                .collect::<Vec<_>>(),
        )
        .bind(
            messages
                .iter()
                .map(|(_, seq)| (!from_visitor(*seq)).then(|| agent_id.clone()))
                .collect::<Vec<_>>(),
        )
        .bind(
            messages
                .iter()
                .map(|(_, seq)| (!from_visitor(*seq)).then(|| "Bench".to_owned()))
                .collect::<Vec<_>>(),
        )
        .bind(
            messages
                .iter()
                .map(|(row, seq)| row.texts[*seq].clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            messages
                .iter()
                .map(|(row, seq)| row.at - 1000 + *seq as i64)
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    sqlx::query("ANALYZE").execute(&mut db).await?;
    Ok(agent)
}
