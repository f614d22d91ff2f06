//! `cargo xtask size`: what browsers download, raw and gzipped (level 9), against the budgets.
//!
//! Budgets (issue #3): the loader, which every page of a site pays, under 3 KB gzipped; the
//! widget's `.wasm` + JS glue, fetched on intent, under 150 KB gzipped.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::shell::root;

const LOADER_BUDGET_GZIP: usize = 3 * 1024;
const WIDGET_APP_BUDGET_GZIP: usize = 150 * 1024;

pub fn report() -> Result<()> {
    let widget = root().join("widget/dist");
    let console = root().join("console/dist");
    println!("{:<44} {:>10} {:>10}", "asset", "raw B", "gzip B");

    let loader = std::fs::read(widget.join("natter.js")).context("widget/dist/natter.js")?;
    let loader_gzip = print_row("loader natter.js (every page)", &loader)?;
    let app = pick(&widget, "natter-widget", &[".js", "_bg.wasm"])?;
    let mut app_gzip = 0;
    for (name, bytes) in &app {
        app_gzip += print_row(&format!("widget {name}"), bytes)?;
    }
    println!(
        "{:<44} {:>10} {:>10}",
        "widget app total (on intent)",
        app.iter().map(|(_, b)| b.len()).sum::<usize>(),
        app_gzip
    );
    let console_assets = pick(&console, "", &[".js", ".wasm", ".css"])?;
    for (name, bytes) in &console_assets {
        print_row(&format!("console {name}"), bytes)?;
    }

    println!();
    println!("loader: {loader_gzip} B gzip of {LOADER_BUDGET_GZIP} B budget");
    println!("widget app: {app_gzip} B gzip of {WIDGET_APP_BUDGET_GZIP} B budget");
    if loader_gzip > LOADER_BUDGET_GZIP || app_gzip > WIDGET_APP_BUDGET_GZIP {
        bail!("over budget");
    }
    Ok(())
}

fn print_row(label: &str, bytes: &[u8]) -> Result<usize> {
    let gzip = gzip_len(bytes)?;
    println!("{label:<44} {:>10} {gzip:>10}", bytes.len());
    Ok(gzip)
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

fn gzip_len(bytes: &[u8]) -> Result<usize> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}
