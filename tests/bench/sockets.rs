//! Relay socket benchmark: memory per idle visitor socket, send → ack latency, and visitor →
//! agent delivery latency, against the real relay binary on loopback.
//!
//! Run with `cargo xtask bench sockets` (it builds the relay with the `server` profile and
//! passes its path in `NATTER_RELAY_BIN`). Figures, not pass/fail: machines here are noisy, so
//! nothing is timed in the test suite.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use natter_protocol::agent::{AgentServerFrame, LoginRequest};
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::{ClientMessageId, PROTOCOL_VERSION};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Idle visitor sockets opened for the memory figure.
const IDLE_SOCKETS: usize = 2000;
/// Messages timed for each latency figure.
const TIMED_MESSAGES: usize = 1000;
const ADMIN_PASSWORD: &str = "bench-admin-password";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[tokio::main]
async fn main() -> Result<()> {
    let bin = std::env::var("NATTER_RELAY_BIN")
        .context("NATTER_RELAY_BIN (run through cargo xtask bench sockets)")?;
    let data_dir = tempfile::tempdir()?;
    let mut relay = tokio::process::Command::new(&bin)
        .args([
            "--addr",
            "127.0.0.1:0",
            "--config",
            "/nonexistent/natter.toml",
            "--data-dir",
        ])
        .arg(data_dir.path())
        .env("NATTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("start the relay")?;
    let pid = relay.id().context("relay pid")?;
    let mut lines = BufReader::new(relay.stdout.take().context("relay stdout")?).lines();
    let addr = loop {
        let line = lines
            .next_line()
            .await?
            .context("relay exited before listening")?;
        if let Some(url) = line.strip_prefix("Natter relay listening on http://") {
            break url.trim().to_owned();
        }
    };
    println!("relay {bin} (pid {pid}) on {addr}");

    // Memory per idle visitor socket (after hello and welcome).
    let mut warm = connect_visitor(&addr).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid)?;
    let mut idle = Vec::with_capacity(IDLE_SOCKETS);
    let started = Instant::now();
    for _ in 0..IDLE_SOCKETS {
        idle.push(connect_visitor(&addr).await?);
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(pid)?;
    let per_socket = (after.saturating_sub(before)) as f64 / IDLE_SOCKETS as f64;

    // Send → ack: stored durably (SQLite, synchronous=FULL) before the ack.
    let mut ack_times = Vec::with_capacity(TIMED_MESSAGES);
    for n in 0..TIMED_MESSAGES {
        let client_id = ClientMessageId::new_random();
        let started = Instant::now();
        send(
            &mut warm,
            &ClientFrame::Send {
                client_id,
                text: format!("message {n}"),
                attachments: vec![],
            },
        )
        .await?;
        loop {
            if let ServerFrame::Ack {
                client_id: acked, ..
            } = next(&mut warm).await?
            {
                if acked == client_id {
                    break;
                }
            }
        }
        ack_times.push(started.elapsed());
    }

    // Visitor → agent console socket.
    let mut agent = connect_agent(&addr).await?;
    let mut delivery_times = Vec::with_capacity(TIMED_MESSAGES);
    for n in 0..TIMED_MESSAGES {
        let client_id = ClientMessageId::new_random();
        let started = Instant::now();
        send(
            &mut warm,
            &ClientFrame::Send {
                client_id,
                text: format!("to the agent {n}"),
                attachments: vec![],
            },
        )
        .await?;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), agent.next())
                .await?
                .context("agent socket ended")??;
            let WsMessage::Text(text) = frame else {
                continue;
            };
            if let Ok(AgentServerFrame::MessageAdded { message }) = serde_json::from_str(&text) {
                if message.message.client_id == client_id {
                    break;
                }
            }
        }
        delivery_times.push(started.elapsed());
        // Drain the ack so the visitor socket does not back up.
        while !matches!(next(&mut warm).await?, ServerFrame::Ack { .. }) {}
    }

    println!();
    println!("idle visitor sockets        {IDLE_SOCKETS} opened in {connect_time:.2?}");
    println!("relay RSS                   {before} KiB → {after} KiB");
    println!("memory per idle socket      {per_socket:.1} KiB");
    print_latency("send → ack (stored)", &mut ack_times);
    print_latency("visitor → agent socket", &mut delivery_times);
    drop(idle);
    relay.kill().await.ok();
    Ok(())
}

fn print_latency(label: &str, times: &mut [Duration]) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{label:<27} n={} p50 {:.2?}  p90 {:.2?}  p99 {:.2?}  max {:.2?}",
        times.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmRSS")
}

async fn connect_visitor(addr: &str) -> Result<Socket> {
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/v1/visitor/ws")).await?;
    send(
        &mut socket,
        &ClientFrame::Hello {
            v: PROTOCOL_VERSION,
            site: "demo".into(),
            visitor: None,
            after_seq: None,
            lang: None,
            link: None,
        },
    )
    .await?;
    match next(&mut socket).await? {
        ServerFrame::Welcome { .. } => Ok(socket),
        other => bail!("expected welcome, got {other:?}"),
    }
}

async fn connect_agent(addr: &str) -> Result<Socket> {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/v1/agent/login"))
        .json(&LoginRequest {
            email: "admin@example.com".into(),
            password: ADMIN_PASSWORD.into(),
        })
        .send()
        .await?;
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

async fn send(socket: &mut Socket, frame: &ClientFrame) -> Result<()> {
    socket
        .send(WsMessage::text(serde_json::to_string(frame)?))
        .await?;
    Ok(())
}

async fn next(socket: &mut Socket) -> Result<ServerFrame> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await?
            .context("socket ended")??;
        if let WsMessage::Text(text) = frame {
            return Ok(serde_json::from_str(&text)?);
        }
    }
}
