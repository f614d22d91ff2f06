//! `cargo xtask bench inbox [N]`: the inbox list and search latency with N conversations
//! (default 100 000) in a temporary SQLite database (I2).
//!
//! The measuring code is the relay example `relay/examples/inbox_bench.rs`, built with the
//! `server` profile (what production runs), so xtask itself stays free of the relay's
//! dependencies. Benchmarks are never part of `cargo xtask test`: timings on shared machines
//! would make tests flaky.

use anyhow::{bail, Result};

use crate::shell;

pub fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("inbox") => {
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
        _ => bail!("usage: cargo xtask bench inbox [conversations]"),
    }
}
