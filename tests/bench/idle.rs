//! Idle visitor sockets at scale: the relay's memory (RSS) per idle socket and the connect rate,
//! with N sockets (default 10,000) open at once against the real relay binary on loopback.
//!
//! Run with `cargo xtask bench idle [N]` (it builds the relay with the `server` profile and
//! passes its path in `NATTER_RELAY_BIN`). Figures, not pass/fail: the machines here are shared
//! and noisy, so nothing is timed in the test suite.
//!
//! Each socket is a real visitor: WebSocket upgrade, a valid hello for the demo site, and the
//! welcome read back, so the relay holds a full session per socket. Two limits of one machine
//! are worked around, not measured:
//! - File descriptors: the bench and the relay (which inherits it) each need one per socket, so
//!   the bench raises its RLIMIT_NOFILE first.
//! - Ephemeral ports: one source address has about 28,000 ports towards the relay's one
//!   address; the sockets bind to 127.0.0.2, 127.0.0.3, … (all loopback on Linux),
//!   [`SOCKETS_PER_SOURCE`] each.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::PROTOCOL_VERSION;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

/// Sockets opened when no count is given (issue 16: "idle visitor sockets at 10,000").
const DEFAULT_SOCKETS: usize = 10_000;
/// The most the bench opens: 40 source addresses' worth, far past what the figures need.
const MAX_SOCKETS: usize = 200_000;
/// Sockets per source address: well inside the ~28,000 ephemeral ports of one address, leaving
/// room for whatever else runs on the machine.
const SOCKETS_PER_SOURCE: usize = 5_000;
/// Handshakes in flight at once: enough to keep both sides busy on two cores without measuring
/// only the round trip of one socket at a time.
const CONCURRENCY: usize = 16;
/// The connect rate is also reported per batch of this many sockets, to show whether it falls
/// as sockets accumulate.
const BATCH: usize = 1_000;
/// One socket's whole handshake (TCP, upgrade, hello, welcome) must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// File descriptors the bench keeps beyond its sockets (runtime, relay pipes, stdio).
const SPARE_FDS: u64 = 1_024;

type Socket = WebSocketStream<TcpStream>;

#[tokio::main]
async fn main() -> Result<()> {
    let count = match std::env::args().nth(1) {
        Some(n) => n
            .parse::<usize>()
            .context("the socket count must be a number")?,
        None => DEFAULT_SOCKETS,
    };
    if count == 0 || count > MAX_SOCKETS {
        bail!("open between 1 and {MAX_SOCKETS} sockets, not {count}");
    }
    let bin = std::env::var("NATTER_RELAY_BIN")
        .context("NATTER_RELAY_BIN (run through cargo xtask bench idle)")?;
    // Before the relay starts: it inherits the limit.
    let (fd_limit, fd_limit_was) = raise_fd_limit(count as u64 + SPARE_FDS)?;

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
        .env("NATTER_ADMIN_PASSWORD", "bench-admin-password")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("start the relay")?;
    let pid = relay.id().context("relay pid")?;
    let mut lines = BufReader::new(relay.stdout.take().context("relay stdout")?).lines();
    let addr: SocketAddr = loop {
        let line = lines
            .next_line()
            .await?
            .context("relay exited before listening")?;
        if let Some(url) = line.strip_prefix("Natter relay listening on http://") {
            break url.trim().parse()?;
        }
    };
    println!("relay {bin} (pid {pid}) on {addr}");
    if fd_limit == fd_limit_was {
        println!("fd limit (RLIMIT_NOFILE) {fd_limit}: enough for the bench and the relay");
    } else {
        println!("fd limit (RLIMIT_NOFILE) {fd_limit_was} raised to {fd_limit}, for both");
    }
    for name in ["WS_READ_BUFFER_BYTES", "WS_WRITE_BUFFER_BYTES"] {
        if let Ok(value) = std::env::var(format!("NATTER_LIMITS__{name}")) {
            println!("relay limits.{}  {value}", name.to_ascii_lowercase());
        }
    }

    // One socket first, so the figure below is the sockets' and not the first session's
    // one-time allocations (code paths, the store's pool, the hub).
    let warm = connect_visitor(addr, source_address(0)).await?;
    let before = settled_rss_kib(pid).await?;

    let ticks = clock_ticks_per_second();
    let started = Instant::now();
    let mut batch_started = started;
    let mut batch_cpu = relay_cpu_ticks(pid)?;
    // Per batch: sockets per second, and the relay's CPU time per socket (which tells whether a
    // falling rate is the relay working harder per socket, or waiting).
    let mut batches: Vec<(f64, Duration)> = Vec::with_capacity(count / BATCH + 1);
    let mut idle = Vec::with_capacity(count);
    let mut handshakes = futures_util::stream::iter(0..count)
        .map(|n| connect_visitor(addr, source_address(n)))
        .buffer_unordered(CONCURRENCY);
    while let Some(socket) = handshakes.next().await {
        idle.push(socket.with_context(|| format!("socket {} of {count}", idle.len() + 1))?);
        if idle.len().is_multiple_of(BATCH) {
            let cpu = relay_cpu_ticks(pid)?;
            let per_socket = Duration::from_secs_f64(
                cpu.saturating_sub(batch_cpu) as f64 / ticks as f64 / BATCH as f64,
            );
            batches.push((
                BATCH as f64 / batch_started.elapsed().as_secs_f64(),
                per_socket,
            ));
            batch_started = Instant::now();
            batch_cpu = cpu;
        }
    }
    let connect_time = started.elapsed();
    let after = settled_rss_kib(pid).await?;
    let per_socket = after.saturating_sub(before) as f64 / count as f64;
    let sources = count.div_ceil(SOCKETS_PER_SOURCE);

    println!();
    println!(
        "idle visitor sockets    {count} (each: upgrade, hello, welcome), {CONCURRENCY} handshakes \
         in flight, from {sources} source address(es) {}–{}",
        source_address(0),
        source_address(count - 1)
    );
    println!(
        "connect rate            {:.0} sockets/s overall ({count} in {connect_time:.2?})",
        count as f64 / connect_time.as_secs_f64()
    );
    if let (Some(first), Some(last)) = (batches.first(), batches.last()) {
        println!(
            "  per {BATCH} sockets      first {:.0}/s, last {:.0}/s, lowest {:.0}/s",
            first.0,
            last.0,
            batches.iter().map(|b| b.0).fold(f64::INFINITY, f64::min)
        );
        println!(
            "  relay CPU per socket  first {BATCH}: {:.2?}, last {BATCH}: {:.2?}",
            first.1, last.1
        );
    }
    println!("relay RSS               {before} KiB before → {after} KiB after");
    println!("RSS per idle socket     {per_socket:.2} KiB");

    drop(idle);
    drop(warm);
    relay.kill().await.ok();
    Ok(())
}

/// The loopback address socket `n` binds to: 127.0.0.2 for the first [`SOCKETS_PER_SOURCE`],
/// then 127.0.0.3, and so on (never 127.0.0.1, which other programs on the machine use).
fn source_address(n: usize) -> Ipv4Addr {
    let index = u8::try_from(n / SOCKETS_PER_SOURCE).unwrap_or(u8::MAX - 2);
    Ipv4Addr::new(127, 0, 0, 2 + index)
}

/// Opens one visitor socket from `source`: TCP, upgrade, a valid hello, the welcome read back.
async fn connect_visitor(relay: SocketAddr, source: Ipv4Addr) -> Result<Socket> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((source, 0)))?;
        let stream = socket.connect(relay).await?;
        let url = format!("ws://{relay}/v1/visitor/ws");
        let (mut socket, _) = tokio_tungstenite::client_async(url, stream).await?;
        let hello = ClientFrame::Hello {
            v: PROTOCOL_VERSION,
            site: "demo".into(),
            visitor: None,
            after_seq: None,
            lang: None,
            link: None,
        };
        socket
            .send(WsMessage::text(serde_json::to_string(&hello)?))
            .await?;
        loop {
            let frame = socket.next().await.context("socket ended")??;
            if let WsMessage::Text(text) = frame {
                match serde_json::from_str(&text)? {
                    ServerFrame::Welcome { .. } => return Ok(socket),
                    other => bail!("expected welcome, got {other:?}"),
                }
            }
        }
    })
    .await
    .context("handshake timed out")?
}

/// The relay's resident memory once it stops moving: read every 250 ms until two readings are
/// within 64 KiB of each other (freed buffers are returned lazily), at most 20 times.
async fn settled_rss_kib(pid: u32) -> Result<u64> {
    let mut last = rss_kib(pid)?;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = rss_kib(pid)?;
        if now.abs_diff(last) <= 64 {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

/// The relay's CPU time so far (user + system, every thread), in clock ticks: fields 14 and 15
/// of `/proc/<pid>/stat`, counted after the command name (which may hold spaces).
fn relay_cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_name = stat.rsplit_once(')').context("/proc/<pid>/stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name, field 3 (state) is at index 0: utime (14) at 11, stime (15) at 12.
    let tick =
        |index: usize| -> Result<u64> { Ok(fields.get(index).context("utime/stime")?.parse()?) };
    Ok(tick(11)? + tick(12)?)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when that cannot be asked).
fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmRSS")
}

/// This process's RLIMIT_NOFILE (soft, hard), from `/proc/self/limits`.
fn fd_limits() -> Result<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .context("no 'Max open files' in /proc/self/limits")?;
    let value = |word: &str| match word {
        "unlimited" => Ok(u64::MAX),
        number => number.parse::<u64>().context("a number of files"),
    };
    let mut words = line["Max open files".len()..].split_whitespace();
    let soft = value(words.next().context("soft limit")?)?;
    let hard = value(words.next().context("hard limit")?)?;
    Ok((soft, hard))
}

/// Raises this process's soft RLIMIT_NOFILE to at least `wanted` (and the hard limit with it,
/// where allowed: root or CAP_SYS_RESOURCE). Returns (the limit now, the limit before).
/// Through util-linux's `prlimit --pid`: the standard library has no setrlimit, and this keeps
/// the bench free of a libc dependency of its own.
fn raise_fd_limit(wanted: u64) -> Result<(u64, u64)> {
    let (soft, hard) = fd_limits()?;
    if soft >= wanted {
        return Ok((soft, soft));
    }
    let pid = std::process::id().to_string();
    let prlimit = |soft: u64, hard: u64| {
        std::process::Command::new("prlimit")
            .args(["--pid", &pid, &format!("--nofile={soft}:{hard}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    // Raising the hard limit needs privileges; without them, up to the hard limit is allowed.
    if !prlimit(wanted, wanted.max(hard)) {
        prlimit(hard.min(wanted), hard);
    }
    let (now, _) = fd_limits()?;
    if now < wanted {
        bail!(
            "the bench needs {wanted} file descriptors and could raise RLIMIT_NOFILE only to \
             {now} (hard limit {hard}); run it as root or raise the limit (ulimit -n)"
        );
    }
    Ok((now, soft))
}
