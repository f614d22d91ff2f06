//! Building the widget and the console with Trunk (release: what ships, and what the browser
//! tests exercise), then minifying the widget's loader, finishing the widget's app
//! (`widget_app`: optimise, trim, rename, minify), moving the console's inline bootstrap
//! script into a file (`inline_scripts.rs`, for its Content-Security-Policy) and
//! precompressing every asset (`precompress.rs`).
//!
//! All of that takes about a minute and a half on two cores, so [`ensure_built`] skips it when
//! nothing it reads has changed since the last successful build (`fingerprint.rs`): the stamp
//! `target/frontends.stamp` records the inputs' fingerprint and the files the build wrote.
//! Delete the stamp to force a rebuild.

use std::fs::{File, TryLockError};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::fingerprint::{self, Fingerprint, Freshness, Stamp};
use crate::shell::{self, command, output, run};
use crate::{inline_scripts, precompress, widget_app};

/// (Trunk HTML, output directory, public URL) of each front-end.
const FRONTENDS: [(&str, &str, &str); 2] = [
    ("widget/index.html", "widget/dist", "/widget/"),
    ("console/index.html", "console/dist", "/inbox/"),
];

/// The loader as Trunk copies it: hand-written and commented in `widget/loader/natter.js`,
/// minified here in place, so the relay serves (and fills the hashed app names into) the
/// minified file. Every page of every site downloads it, so each byte counts.
const LOADER: &str = "widget/dist/natter.js";
/// The widget's Trunk output, where the loader is.
const WIDGET_DIST: &str = "widget/dist";

/// The record of the last successful build. Under `target/`, so `cargo clean` rebuilds too.
const STAMP: &str = "target/frontends.stamp";
/// Held while checking and building: two xtask runs building into the same `dist` at once
/// break each other's builds (several people share these machines).
const LOCK: &str = "target/frontends.lock";
/// Directories whose every file the build reads: both front-end crates (sources, `Cargo.toml`,
/// `index.html`, styles, the loader), the crate they share, and xtask's finishing steps.
const INPUT_TREES: [&str; 4] = ["widget", "console", "protocol", "xtask/src/widget_app"];
/// Single files the build reads: the workspace's manifests and profiles, Trunk's settings, the
/// npm lock file that pins wasm-opt and terser, and xtask's build steps (passes, qualities).
const INPUT_FILES: [&str; 10] = [
    "Cargo.toml",
    "Cargo.lock",
    "Trunk.toml",
    ".cargo/config.toml",
    "rust-toolchain",
    "rust-toolchain.toml",
    "tools/package-lock.json",
    "xtask/src/frontends.rs",
    "xtask/src/inline_scripts.rs",
    "xtask/src/precompress.rs",
];
/// Tools whose version shapes the output; wasm-opt and terser are pinned by the npm lock file.
const INPUT_TOOLS: [(&str, &str); 3] = [
    ("rustc", "-vV"),
    ("trunk", "--version"),
    ("wasm-bindgen", "--version"),
];
/// Environment variables that change what cargo (under Trunk) or Trunk produce.
const INPUT_ENV_PREFIXES: [&str; 6] = [
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_",
    "CARGO_PROFILE_RELEASE_",
    "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_",
    "TRUNK_",
];

/// Builds the front-ends unless their last build is still good; prints one line saying which.
pub fn ensure_built() -> Result<()> {
    let root = shell::root();
    let _lock = lock_builds(&root.join(LOCK))?;
    let started = Instant::now();
    let stamp_path = root.join(STAMP);
    // Taken before building: a file edited during the build then differs from the stamp, so the
    // next run rebuilds rather than trusting outputs that may predate the edit.
    let inputs = fingerprint_inputs(&root)?;
    let why = match fingerprint::freshness(Stamp::read(&stamp_path).as_ref(), &inputs, &root) {
        Freshness::UpToDate => {
            eprintln!(
                "xtask: front-ends up to date (no input changed since the last build), checked in {:.1?}",
                started.elapsed()
            );
            return Ok(());
        }
        Freshness::Stale(why) => why,
    };
    // Gone before building: a build that fails half-way must not leave a stamp that vouches
    // for its outputs.
    if stamp_path.exists() {
        std::fs::remove_file(&stamp_path)?;
    }
    build_all()?;
    let outputs = fingerprint::list_outputs(&root, &FRONTENDS.map(|(_, dist, _)| dist))?;
    Stamp {
        fingerprint: inputs,
        outputs,
    }
    .write(&stamp_path)?;
    eprintln!(
        "xtask: front-ends rebuilt in {:.0?} ({why})",
        started.elapsed()
    );
    Ok(())
}

/// Waits until no other xtask is checking or building the front-ends; they stay this
/// process's until the returned file is dropped (or the process ends, whatever way).
fn lock_builds(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            eprintln!("xtask: waiting for another xtask to finish building the front-ends");
            file.lock()
                .with_context(|| format!("locking {}", path.display()))?;
        }
        Err(TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("locking {}", path.display()))
        }
    }
    Ok(file)
}

/// Everything [`build_all`]'s output depends on.
fn fingerprint_inputs(root: &Path) -> Result<Fingerprint> {
    let mut inputs = Fingerprint::default();
    for tree in INPUT_TREES {
        inputs.add_tree(root, tree)?;
    }
    for file in INPUT_FILES {
        inputs.add_file(root, file)?;
    }
    for (tool, flag) in INPUT_TOOLS {
        let version = output(command(tool).arg(flag)).unwrap_or_else(|| "not found".into());
        inputs.add(format!("tool: {tool} {flag}"), version.as_bytes());
    }
    for (name, value) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if INPUT_ENV_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            inputs.add(format!("env: {name}"), value.as_encoded_bytes());
        }
    }
    Ok(inputs)
}

fn build_all() -> Result<()> {
    // Offline Trunk runs cargo offline: fetch every crate first.
    run(shell::cargo().arg("fetch"))?;
    for (html, dist, public_url) in FRONTENDS {
        run(command("trunk")
            .args([
                "build",
                html,
                "--release",
                "--dist",
                dist,
                "--public-url",
                public_url,
            ])
            .env("TRUNK_OFFLINE", "true"))?;
        // At once, not after the console: the unminified copy is in dist only this briefly.
        if dist == WIDGET_DIST {
            minify_loader()?;
            widget_app::finish(&shell::root().join(dist))?;
        } else {
            // The relay serves the console under a CSP without inline script (S5).
            inline_scripts::externalise_in(&shell::root().join(dist), public_url)?;
        }
        precompress::precompress(&shell::root().join(dist))?;
    }
    Ok(())
}

/// terser (from `tools/node_modules`): two compress passes, mangled local names, no comments.
/// String literals survive as they are, so the relay's `__NATTER_APP_…__` placeholders do too.
/// Trunk copies the source afresh on every build (minifying twice would be harmless anyway).
fn minify_loader() -> Result<()> {
    run(command("terser").args([
        LOADER,
        "--compress",
        "passes=2",
        "--mangle",
        "--comments",
        "false",
        "--output",
        LOADER,
    ]))
}
