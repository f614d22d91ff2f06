//! `cargo xtask size`: what browsers download, raw, gzipped (level 9) and brotli (quality 11,
//! the `.br` files the relay serves), against the budgets.
//!
//! Budgets (issues #3, #4): the loader, which every page of a site pays, under 3 KB gzipped;
//! opening the chat, under 150 KB in all: the loader plus the widget's `.wasm` and JS glue,
//! fetched on intent. Browsers get the brotli files over https (every production site; Chromium
//! asks for them on localhost too); the gzip figure is what a plain-http page gets, reported
//! beside it. The site's small stylesheet and the HTTP headers are not files here: the browser
//! test `widget-embed.test.mjs` checks the same budget on the wire, with them. The loader is
//! measured as shipped (minified by `frontends::build_all`); its readable source is listed
//! beside it.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::precompress;
use crate::shell::root;

const LOADER_BUDGET_GZIP: usize = 3 * 1024;
const OPEN_CHAT_BUDGET: usize = 150 * 1024;

pub fn report() -> Result<()> {
    let widget = root().join("widget/dist");
    let console = root().join("console/dist");
    println!(
        "{:<44} {:>10} {:>10} {:>10}",
        "asset", "raw B", "gzip B", "brotli B"
    );

    let loader = std::fs::read(widget.join("natter.js")).context("widget/dist/natter.js")?;
    let (loader_gzip, loader_brotli) = print_row("loader natter.js (every page)", &loader)?;
    let source =
        std::fs::read(root().join("widget/loader/natter.js")).context("widget/loader/natter.js")?;
    print_row("  (its source, unminified)", &source)?;
    let app = pick(&widget, "natter-widget", &[".js", "_bg.wasm"])?;
    let (mut app_gzip, mut app_brotli) = (0, 0);
    for (name, bytes) in &app {
        let (gzip, brotli) = print_row(&format!("widget {name}"), bytes)?;
        app_gzip += gzip;
        app_brotli += brotli;
    }
    println!(
        "{:<44} {:>10} {:>10} {:>10}",
        "widget app total (on intent)",
        app.iter().map(|(_, b)| b.len()).sum::<usize>(),
        app_gzip,
        app_brotli
    );
    let console_assets = pick(&console, "", &[".js", ".wasm", ".css"])?;
    for (name, bytes) in &console_assets {
        print_row(&format!("console {name}"), bytes)?;
    }

    println!();
    println!("loader: {loader_gzip} B gzip of {LOADER_BUDGET_GZIP} B budget");
    let open_chat = loader_brotli + app_brotli;
    println!(
        "opening the chat: {open_chat} B brotli (loader {loader_brotli} + app {app_brotli}; https) \
         of {OPEN_CHAT_BUDGET} B budget; {} B gzip (plain http)",
        loader_gzip + app_gzip
    );
    if loader_gzip > LOADER_BUDGET_GZIP || open_chat > OPEN_CHAT_BUDGET {
        bail!("over budget");
    }
    Ok(())
}

/// Prints one asset's sizes; returns (gzip, brotli).
fn print_row(label: &str, bytes: &[u8]) -> Result<(usize, usize)> {
    let gzip = precompress::gzip(bytes)?.len();
    let brotli = precompress::brotli(bytes)?.len();
    println!("{label:<44} {:>10} {gzip:>10} {brotli:>10}", bytes.len());
    Ok((gzip, brotli))
}

/// Files in `dir` whose name starts with `prefix` and ends with one of `suffixes`.
fn pick(dir: &Path, prefix: &str, suffixes: &[&str]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix)
            && suffixes.iter().any(|suffix| name.ends_with(suffix))
            && name != "natter.js"
        {
            found.push((name, std::fs::read(entry.path())?));
        }
    }
    found.sort();
    Ok(found)
}
