//! The inbox list and search under load (I2): seeds a temporary SQLite database with many
//! conversations (default 100 000, three messages each, a third with a contact) and prints
//! latency percentiles of the list queries the agent API runs. Run it through
//! `cargo xtask bench inbox [N]`, which builds it with the `server` profile.
//!
//! Measured through the `Store` trait (the same SQL as `GET /v1/agent/conversations`), without
//! HTTP and JSON, on the machine it runs on. Never part of a timed test.

use std::time::{Duration, Instant};

use natter_protocol::agent::ConversationStatus;
use natter_protocol::AgentId;
use natter_relay::store::{AssigneeScope, ListQuery, Store};
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(100_000);
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
    let agent = seed(&url, count).await?;
    println!(
        "seeded {count} conversations ({} messages) in {}",
        count * 3,
        path.display()
    );

    let base = ListQuery {
        status: None,
        assignee: AssigneeScope::All,
        channel: None,
        search: None,
        blocked: false,
        after: None,
        limit: PAGE,
    };
    let cases: Vec<(&str, ListQuery)> = vec![
        ("list: first page, all", base.clone()),
        (
            "list: open",
            ListQuery {
                status: Some(ConversationStatus::Open),
                ..base.clone()
            },
        ),
        (
            "list: complete",
            ListQuery {
                status: Some(ConversationStatus::Complete),
                ..base.clone()
            },
        ),
        (
            "list: mine (open)",
            ListQuery {
                status: Some(ConversationStatus::Open),
                assignee: AssigneeScope::Mine(agent),
                ..base.clone()
            },
        ),
        (
            "list: unassigned",
            ListQuery {
                assignee: AssigneeScope::Unassigned,
                ..base.clone()
            },
        ),
        (
            "search: common word (shipping)",
            ListQuery {
                search: Some("shipping".to_string()),
                ..base.clone()
            },
        ),
        (
            "search: two words (refund parcel)",
            ListQuery {
                search: Some("refund parcel".to_string()),
                ..base.clone()
            },
        ),
        (
            "search: rare order number",
            ListQuery {
                search: Some(format!("A{}", count / 2).to_string()),
                ..base.clone()
            },
        ),
        (
            "search: contact email",
            ListQuery {
                search: Some(format!("customer{}@example", count / 3).to_string()),
                ..base.clone()
            },
        ),
    ];
    println!("{RUNS} runs each, {PAGE} rows per page:");
    println!(
        "{:<36} {:>9} {:>9} {:>9} {:>6}",
        "query", "p50", "p95", "p99", "rows"
    );
    for (name, query) in &cases {
        let (times, rows) = measure(store.as_ref(), query).await?;
        report(name, &times, rows);
    }
    // Paging deep: the 200th page (or the last full one), through the cursor of the one before.
    let pages = (count / PAGE as usize).clamp(1, 200);
    let mut query = base.clone();
    for _ in 0..pages - 1 {
        let rows = store.inbox_list(&query).await?;
        let last = &rows[PAGE as usize - 1].summary;
        query.after = Some((last.last_activity_at, last.id.0.to_string()));
    }
    let (times, rows) = measure(store.as_ref(), &query).await?;
    report(&format!("list: page {pages} (keyset cursor)"), &times, rows);
    Ok(())
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

fn report(name: &str, times: &[Duration], rows: usize) {
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    let ms = |d: Duration| format!("{:.2}ms", d.as_secs_f64() * 1000.0);
    println!(
        "{name:<36} {:>9} {:>9} {:>9} {rows:>6}",
        ms(at(0.50)),
        ms(at(0.95)),
        ms(at(0.99))
    );
}

/// Seeds `count` conversations in one transaction: every third has a contact, a tenth are
/// assigned to one agent, half are complete; three messages each.
async fn seed(url: &str, count: usize) -> anyhow::Result<AgentId> {
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
    let start: i64 = 1_700_000_000_000;
    for n in 0..count {
        let visitor = format!("v{n}");
        let conversation = Uuid::new_v4().to_string();
        let at = start + (n as i64) * 1000;
        sqlx::query(
            "INSERT INTO visitors (id, site, created_at, last_seen_at) VALUES (?1, 'demo', ?2, ?2)",
        )
        .bind(&visitor)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let contact = if n % 3 == 0 {
            let id = Uuid::new_v4().to_string();
            sqlx::query(
                "INSERT INTO contacts (id, site, email, name, created_at, updated_at)
                 VALUES (?1, 'demo', ?2, ?3, ?4, ?4)",
            )
            .bind(&id)
            .bind(format!("customer{n}@example.com"))
            .bind(format!("Customer {n}"))
            .bind(at)
            .execute(&mut *tx)
            .await?;
            Some(id)
        } else {
            None
        };
        let texts = [
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
        ];
        sqlx::query(
            "INSERT INTO conversations (id, site, visitor_id, contact_id, last_seq, last_activity_at,
                 last_message_preview, created_at, status, assigned_agent_id, unread)
             VALUES (?1, 'demo', ?2, ?3, 3, ?4, ?5, ?4, ?6, ?7, ?8)",
        )
        .bind(&conversation)
        .bind(&visitor)
        .bind(&contact)
        .bind(at)
        .bind(&texts[2])
        .bind(if n % 2 == 0 { "complete" } else { "open" })
        .bind((n % 10 == 1).then(|| agent.0.to_string()))
        .bind(i64::from(n % 5 == 0))
        .execute(&mut *tx)
        .await?;
        for (seq, text) in texts.iter().enumerate() {
            let from_visitor = seq != 1;
            sqlx::query(
                "INSERT INTO messages (id, conversation_id, seq, client_id, author_kind, agent_id,
                     author_name, channel, body, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'chat', ?8, ?9)",
            )
            .bind(Uuid::new_v4().to_string())
            .bind(&conversation)
            .bind(seq as i64 + 1)
            .bind(Uuid::new_v4().to_string())
            .bind(if from_visitor { "visitor" } else { "agent" })
            .bind((!from_visitor).then(|| agent.0.to_string()))
            .bind((!from_visitor).then_some("Bench"))
            .bind(text)
            .bind(at - 1000 + seq as i64)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    sqlx::query("ANALYZE").execute(&mut db).await?;
    Ok(agent)
}
