//! `cargo xtask`: the only orchestrator. Run with `cargo xtask <command>`.
//!
//! - `demo [relay flags…]`: install missing tools, build the widget and console, run the relay.
//! - `test`: `tidy` first, then install missing tools (Chromium too) and run every test: unit,
//!   relay integration, and browser end-to-end tests in headless Chromium.
//! - `tidy`: cheap textual checks (doc comments, feature ids, no `unwrap()` outside tests).
//! - `size`: release-build the front-ends and print what browsers download.
//! - `bench inbox [n]` / `bench sockets` / `bench idle [n]`: figures, never pass/fail (see
//!   `bench.rs`).
//! - `browser [test files…]`: build what the browser tests run, then run those files (all of
//!   `tests/browser/` when none are named) — the quick loop while working on a front-end.
//! - `setup`: only install the tools.
//!
//! Every command that needs the front-ends builds them only when something they are built from
//! changed since the last build (`frontends.rs`).
//!
//! Only xtask knows about Trunk, wasm-bindgen, wasm-opt, npm and the browser.

mod bench;
mod fingerprint;
mod frontends;
mod inline_scripts;
mod precompress;
mod services;
mod shell;
mod size;
mod tidy;
mod tools;
mod widget_app;

use std::time::Instant;

use anyhow::{bail, Result};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let started = Instant::now();
    match command.as_str() {
        "demo" => demo(&rest),
        "test" => {
            test()?;
            eprintln!("xtask test: everything passed in {:.0?}", started.elapsed());
            Ok(())
        }
        "size" => {
            tools::ensure_build_tools()?;
            frontends::ensure_built()?;
            size::report()
        }
        "tidy" => tidy::run(),
        "bench" => bench::run(&rest),
        "browser" => {
            tools::ensure_build_tools()?;
            tools::ensure_browser()?;
            // The multi-node test runs two relays on PostgreSQL + NATS behind nginx.
            tools::ensure_nginx()?;
            services::ensure_postgres()?;
            services::ensure_nats()?;
            browser_tests(&rest)
        }
        "setup" => {
            tools::ensure_build_tools()?;
            tools::ensure_browser()
        }
        _ => {
            bail!("usage: cargo xtask demo [relay flags…] | test | tidy | browser [files…] | size | setup | bench inbox [n] | bench sockets | bench idle [n]")
        }
    }
}

fn demo(relay_args: &[String]) -> Result<()> {
    tools::ensure_build_tools()?;
    frontends::ensure_built()?;
    let mut command = shell::cargo();
    command
        .args(["run", "--quiet", "-p", "natter-relay", "--"])
        .args(relay_args);
    shell::run(&mut command)
}

fn test() -> Result<()> {
    // Seconds, and what it finds is cheaper to fix before the long part starts.
    tidy::run()?;
    tools::ensure_build_tools()?;
    tools::ensure_browser()?;
    services::ensure_postgres()?;
    services::ensure_nats()?;
    tools::ensure_mail_tools()?;
    tools::ensure_nginx()?;
    // The relay binary first: the email tests pipe mail through `natter-relay ingest-mail`.
    shell::run(shell::cargo().args(["build", "-p", "natter-relay"]))?;
    // Unit tests of every crate (the widget's and console's logic runs natively too) and the
    // relay integration tests.
    // A failing relay test shows the relay's warnings and errors (libtest prints a test's
    // output only when it fails).
    let mut tests = shell::cargo();
    tests.args(["test", "--workspace"]);
    if std::env::var_os("NATTER_TEST_LOG").is_none() {
        tests.env("NATTER_TEST_LOG", "natter_relay=warn");
    }
    shell::run(&mut tests)?;
    browser_tests(&[])
}

/// The browser tests run the shipped artifacts: release front-ends, the relay binary.
fn browser_tests(files: &[String]) -> Result<()> {
    frontends::ensure_built()?;
    shell::run(shell::cargo().args(["build", "-p", "natter-relay"]))?;
    let mut node = shell::node();
    node.args(["--test", "--test-concurrency=1"]);
    if files.is_empty() {
        node.arg("tests/browser/");
    } else {
        node.args(files);
    }
    shell::run(
        node.env(
            "NATTER_RELAY_BIN",
            shell::root().join("target/debug/natter-relay"),
        )
        .env("NATTER_ROOT", shell::root()),
    )
}
