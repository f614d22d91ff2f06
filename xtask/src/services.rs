//! Services the tests need running: PostgreSQL on 127.0.0.1:5432, for the PostgreSQL store's
//! conformance tests (each creates and drops a database of its own there), and NATS on
//! 127.0.0.1:4222 for the broker tests (each uses a subject prefix of its own).
//!
//! The machine's Debian cluster is started with `pg_ctlcluster` when nothing answers on the
//! port; the tests then connect as `postgres` with trust authentication on loopback.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Where the tests expect PostgreSQL.
const POSTGRES: ([u8; 4], u16) = ([127, 0, 0, 1], 5432);
/// Debian keeps one directory per installed PostgreSQL version here (`/etc/postgresql/15`).
const CLUSTERS: &str = "/etc/postgresql";
/// How long a starting cluster may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Makes sure PostgreSQL accepts connections on 127.0.0.1:5432, starting the machine's `main`
/// cluster if it does not; fails, saying what to do, if it cannot.
pub fn ensure_postgres() -> Result<()> {
    let address = SocketAddr::from(POSTGRES);
    if accepts(address) {
        return Ok(());
    }
    let version = cluster_version(Path::new(CLUSTERS))?;
    eprintln!("xtask: starting PostgreSQL {version} (nothing answered on {address})");
    // A cluster that is starting already makes this fail; waiting below still tells.
    let started = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "start"])
        .output();
    let Err(detail) = wait_until_accepts(address, started, "pg_ctlcluster") else {
        return Ok(());
    };
    bail!(
        "PostgreSQL does not accept connections on {address} {}s after \
         `pg_ctlcluster --skip-systemctl-redirect {version} main start` ({detail}); the \
         PostgreSQL store's tests need it (see /var/log/postgresql/)",
        START_TIMEOUT.as_secs()
    )
}

/// Where the tests expect NATS (with JetStream, as the machine runs it).
const NATS: ([u8; 4], u16) = ([127, 0, 0, 1], 4222);

/// Makes sure NATS accepts connections on 127.0.0.1:4222 (the broker tests connect two relay
/// nodes through it), starting the machine's `nats-server` if it does not.
pub fn ensure_nats() -> Result<()> {
    let address = SocketAddr::from(NATS);
    if accepts(address) {
        return Ok(());
    }
    eprintln!("xtask: starting nats-server (nothing answered on {address})");
    let started = Command::new("start-stop-daemon")
        .args([
            "--start",
            "--oknodo",
            "--background",
            "--exec",
            "/usr/sbin/nats-server",
            "--",
            "-a",
            "127.0.0.1",
            "-p",
            "4222",
            "-js",
            "-sd",
            "/var/lib/nats-server",
            "-l",
            "/var/log/nats-server.log",
        ])
        .output();
    let Err(detail) = wait_until_accepts(address, started, "start-stop-daemon") else {
        return Ok(());
    };
    bail!(
        "NATS does not accept connections on {address} {}s after starting /usr/sbin/nats-server          ({detail}); the broker tests need it (see /var/log/nats-server.log)",
        START_TIMEOUT.as_secs()
    )
}

/// Waits up to [`START_TIMEOUT`] for a service that `started` (the output of `program`) is
/// starting; `Err` carries what the start command said, for the error message.
fn wait_until_accepts(
    address: SocketAddr,
    started: std::io::Result<std::process::Output>,
    program: &str,
) -> std::result::Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if accepts(address) {
            return Ok(());
        }
        sleep(Duration::from_millis(200));
    }
    Err(match started {
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        Err(error) => format!("could not run {program}: {error}"),
    })
}

fn accepts(address: SocketAddr) -> bool {
    TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok()
}

/// The installed PostgreSQL version: the newest directory under `/etc/postgresql`.
fn cluster_version(clusters: &Path) -> Result<String> {
    let entries = std::fs::read_dir(clusters).with_context(|| {
        format!(
            "PostgreSQL is not running and not installed ({} is missing): \
             `apt-get install postgresql`",
            clusters.display()
        )
    })?;
    let mut versions: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    // Numerically, so 16 comes after 9.6.
    versions.sort_by(|a, b| version_key(a).total_cmp(&version_key(b)));
    match versions.pop() {
        Some(version) => Ok(version),
        None => bail!("no PostgreSQL cluster under {}", clusters.display()),
    }
}

fn version_key(version: &str) -> f64 {
    version.parse().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_installed_version_is_chosen() {
        let dir = std::env::temp_dir().join(format!("xtask-clusters-{}", std::process::id()));
        for version in ["9.6", "15", "13"] {
            std::fs::create_dir_all(dir.join(version)).unwrap();
        }
        assert_eq!(cluster_version(&dir).unwrap(), "15");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(cluster_version(&dir).is_err());
    }
}
