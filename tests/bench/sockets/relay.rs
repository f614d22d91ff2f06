//! The relays under test: real `natter-relay` processes on 127.0.0.1 port 0, on SQLite (a
//! temporary data directory), or on a fresh PostgreSQL database that this module creates on
//! 127.0.0.1:5432 and drops afterwards, optionally joined by NATS on 127.0.0.1:4222.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use natter_protocol::agent::LoginRequest;
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::Socket;

pub const ADMIN_PASSWORD: &str = "bench-admin-password";
const POSTGRES_SERVER: &str = "postgres://postgres@127.0.0.1:5432";
pub const NATS_URL: &str = "nats://127.0.0.1:4222";
/// How long a relay may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// One running relay process; killed on drop.
pub struct Relay {
    pub addr: String,
    pub pid: u32,
    _process: Child,
    _data_dir: tempfile::TempDir,
}

/// What a relay is started with besides its data directory.
#[derive(Debug, Clone, Default)]
pub struct Backend {
    pub database_url: Option<String>,
    pub bus_url: Option<String>,
}

impl Relay {
    pub async fn start(bin: &str, backend: &Backend) -> Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let mut command = Command::new(bin);
        command
            .args([
                "--addr",
                "127.0.0.1:0",
                "--config",
                "/nonexistent/natter.toml",
            ])
            .arg("--data-dir")
            .arg(data_dir.path())
            .env("NATTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if let Some(url) = &backend.database_url {
            command.env("NATTER_DATABASE_URL", url);
        }
        if let Some(url) = &backend.bus_url {
            command.env("NATTER_BUS_URL", url);
        }
        let mut process = command.spawn().context("start the relay")?;
        let pid = process.id().context("relay pid")?;
        let stdout = process.stdout.take().context("relay stdout")?;
        let addr = tokio::time::timeout(START_TIMEOUT, listening_addr(stdout))
            .await
            .context("the relay did not start listening in time")??;
        Ok(Self {
            addr,
            pid,
            _process: process,
            _data_dir: data_dir,
        })
    }
}

/// Reads the relay's stdout until it says where it listens; keeps draining it afterwards so
/// the relay never blocks on a full pipe.
async fn listening_addr(stdout: tokio::process::ChildStdout) -> Result<String> {
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next_line()
            .await?
            .context("relay exited before listening")?;
        if let Some(url) = line.strip_prefix("Natter relay listening on http://") {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(url.trim().to_owned());
        }
    }
}

/// A PostgreSQL database of the bench's own, dropped by [`BenchDatabase::drop_now`].
pub struct BenchDatabase {
    name: String,
}

impl BenchDatabase {
    pub async fn create() -> Result<Self> {
        let name = format!("natter_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin().await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        Ok(Self { name })
    }

    pub fn url(&self) -> String {
        format!("{POSTGRES_SERVER}/{}", self.name)
    }

    /// Drops the database (FORCE: the relays may still hold connections).
    pub async fn drop_now(self) -> Result<()> {
        let mut admin = admin().await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await?;
        admin.close().await?;
        Ok(())
    }
}

async fn admin() -> Result<PgConnection> {
    PgConnection::connect(&format!("{POSTGRES_SERVER}/postgres"))
        .await
        .with_context(|| {
            format!(
                "PostgreSQL is not reachable at {POSTGRES_SERVER}: run through `cargo xtask \
                 bench sockets`, which starts it"
            )
        })
}

/// A process's CPU time so far (user + system, in seconds), from /proc.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("/proc stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks = |index: usize| -> Result<f64> {
        Ok(fields
            .get(index)
            .context("/proc stat field")?
            .parse::<f64>()?)
    };
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the name.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// Logs the admin in and opens an agent socket.
pub async fn connect_agent(addr: &str) -> Result<Socket> {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/v1/agent/login"))
        .json(&LoginRequest {
            email: "admin@example.com".into(),
            password: ADMIN_PASSWORD.into(),
        })
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("agent login failed: {}", response.status());
    }
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .context("session cookie")?
        .to_owned();
    let mut request = format!("ws://{addr}/v1/agent/ws").into_client_request()?;
    request.headers_mut().insert("cookie", cookie.parse()?);
    Ok(tokio_tungstenite::connect_async(request).await?.0)
}
