//! The email tests' real parts: an SMTP server process on loopback (`tools/smtp_sink.py`, on
//! aiosmtpd, installed by `cargo xtask test`) that keeps every email it accepts as a file, and
//! a relay configured to send through it and to take inbound mail.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use natter_relay::config::{Config, Secret, SmtpTls};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The bearer secret of the inbound endpoint in tests.
pub const INGEST_SECRET: &str = "test-ingest-secret";
/// The reply domain in tests.
pub const INBOUND_DOMAIN: &str = "in.shop.test";
/// The From address in tests.
pub const FROM: &str = "support@shop.test";
/// The demo site's page in tests (the magic link opens it).
pub const SITE_URL: &str = "https://shop.test/help";
/// How long a test waits for an email that should come.
pub const MAIL_TIMEOUT: Duration = Duration::from_secs(20);

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A running SMTP server that writes what it receives to a directory.
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    _child: Child,
}

impl SmtpSink {
    /// Starts one on a free port.
    pub async fn start() -> Result<Self> {
        Self::start_on(0).await
    }

    /// Starts one on `port` (0: any free one).
    pub async fn start_on(port: u16) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut child = Command::new("python3")
            .arg(workspace_root().join("tools/smtp_sink.py"))
            .args(["--dir", &dir.path().display().to_string()])
            .args(["--port", &port.to_string()])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context(
                "starting tools/smtp_sink.py (python3 with aiosmtpd; cargo xtask test installs it)",
            )?;
        let stdout = child.stdout.take().context("sink stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .context("the SMTP sink did not start in time")??
            .context("the SMTP sink exited (is aiosmtpd installed?)")?;
        let port = line
            .strip_prefix("PORT ")
            .and_then(|port| port.trim().parse().ok())
            .with_context(|| format!("unexpected first line from the sink: {line:?}"))?;
        Ok(Self {
            port,
            dir,
            _child: child,
        })
    }

    /// Every email received so far, oldest first, as raw bytes.
    pub fn received(&self) -> Result<Vec<Vec<u8>>> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.dir.path())?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|path| std::fs::read(path).map_err(Into::into))
            .collect()
    }

    /// Waits until `count` emails have arrived; returns them all.
    pub async fn wait_for(&self, count: usize) -> Result<Vec<Vec<u8>>> {
        let deadline = tokio::time::Instant::now() + MAIL_TIMEOUT;
        loop {
            let received = self.received()?;
            if received.len() >= count {
                return Ok(received);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("expected {count} email(s), got {}", received.len());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A port nothing listens on (bound, then released), for "the SMTP server is down".
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Mail settings pointing at `smtp_port`, with inbound mail on.
pub fn configure(config: &mut Config, smtp_port: u16) {
    config.mail.smtp_host = Some("127.0.0.1".into());
    config.mail.smtp_port = smtp_port;
    config.mail.smtp_tls = SmtpTls::None;
    config.mail.smtp_timeout_ms = 5_000;
    config.mail.from_address = FROM.into();
    config.mail.inbound_domain = Some(INBOUND_DOMAIN.into());
    config.mail.ingest_secret = Some(Secret::new(INGEST_SECRET));
    config.jobs.backoff_base_ms = 1_000;
    for site in &mut config.sites {
        site.url = Some(SITE_URL.into());
    }
}

/// A header's value (first occurrence), unfolded.
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let message = mail_parser::MessageParser::default().parse(raw)?;
    message
        .header_raw(name)
        .map(|value| value.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The text and HTML parts of an email.
pub fn parts(raw: &[u8]) -> (String, String) {
    let Some(message) = mail_parser::MessageParser::default().parse(raw) else {
        return (String::new(), String::new());
    };
    let text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let html = message
        .body_html(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    (text, html)
}
