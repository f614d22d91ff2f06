//! `cargo xtask bench inbox [N]`: the inbox list and search latency with N conversations
//! (default 100 000), in a temporary SQLite database and then in a fresh PostgreSQL database on
//! 127.0.0.1:5432 (started if it is not running; created and dropped by the bench) (I2).
//! `cargo xtask bench sockets [options]`: the relay binary's send → ack and visitor → agent
//! latencies, one message at a time and at fixed offered rates, on SQLite, PostgreSQL and two
//! nodes on PostgreSQL + NATS (both started if they are not running), the highest rate with
//! p99 under 50 ms, and a plot in `bench/` (`tests/bench/sockets/main.rs` lists the options).
//! `cargo xtask bench idle [N]`: N idle visitor sockets (default 10 000) on the relay binary:
//! RSS per idle socket and the connect rate (`tests/bench/idle.rs`).
//!
//! The measuring code is the relay example `relay/examples/inbox_bench.rs`, built with the
//! `server` profile (what production runs), so xtask itself stays free of the relay's
//! dependencies. Benchmarks are never part of `cargo xtask test`: timings on shared machines
//! would make tests flaky.

use anyhow::{bail, Result};

use crate::{services, shell};

pub fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("inbox") => {
            // The second half of the figures is on PostgreSQL.
            services::ensure_postgres()?;
            let mut command = shell::cargo();
            command.args([
                "run",
                "--quiet",
                "--profile",
                "server",
                "-p",
                "natter-relay",
                "--example",
                "inbox_bench",
                "--",
            ]);
            command.args(&args[1..]);
            shell::run(&mut command)
        }
        Some("sockets") => {
            // The PostgreSQL and two-node set-ups need both.
            services::ensure_postgres()?;
            services::ensure_nats()?;
            run_against_server_relay("bench_sockets", &args[1..])
        }
        Some("idle") => run_against_server_relay("bench_idle", &args[1..]),
        _ => bail!(
            "usage: cargo xtask bench inbox [conversations] | bench sockets | bench idle [sockets]"
        ),
    }
}

/// Builds the relay with the `server` profile (what production runs) and runs the bench
/// example `example` of `natter-tests` against it, passing `args` on.
fn run_against_server_relay(example: &str, args: &[String]) -> Result<()> {
    shell::run(shell::cargo().args(["build", "--profile", "server", "-p", "natter-relay"]))?;
    shell::run(
        shell::cargo()
            .args([
                "run",
                "--quiet",
                "--profile",
                "server",
                "-p",
                "natter-tests",
            ])
            .args(["--example", example, "--"])
            .args(args)
            .env(
                "NATTER_RELAY_BIN",
                shell::root().join("target/server/natter-relay"),
            ),
    )
}
