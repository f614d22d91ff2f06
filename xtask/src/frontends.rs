//! Building the widget and the console with Trunk (release: what ships, and what the browser
//! tests exercise), then minifying the widget's loader and precompressing every asset
//! (`precompress.rs`).

use anyhow::Result;

use crate::precompress;
use crate::shell::{self, command, run};

/// (Trunk HTML, output directory, public URL) of each front-end.
pub const FRONTENDS: [(&str, &str, &str); 2] = [
    ("widget/index.html", "widget/dist", "/widget/"),
    ("console/index.html", "console/dist", "/inbox/"),
];

/// The loader as Trunk copies it: hand-written and commented in `widget/loader/natter.js`,
/// minified here in place, so the relay serves (and fills the hashed app names into) the
/// minified file. Every page of every site downloads it, so each byte counts.
const LOADER: &str = "widget/dist/natter.js";
/// The widget's Trunk output, where the loader is.
const WIDGET_DIST: &str = "widget/dist";

pub fn build_all() -> Result<()> {
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
            minify_widget_glue()?;
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

/// The wasm-bindgen glue of the widget, as an ES module: Trunk does not minify it, and every
/// kilobyte counts against the 150 KB the chat may cost when it opens. The file keeps its
/// content-hashed name: the loader imports it by that name, and the name only has to change
/// when the source does, which the hash of the unminified glue already guarantees.
fn minify_widget_glue() -> Result<()> {
    let dist = shell::root().join(WIDGET_DIST);
    for entry in std::fs::read_dir(&dist)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with("natter-widget") && name.ends_with(".js") {
            let glue = format!("{WIDGET_DIST}/{name}");
            run(command("terser").args([
                &glue,
                "--module",
                "--compress",
                "passes=2",
                "--mangle",
                "--comments",
                "false",
                "--output",
                &glue,
            ]))?;
        }
    }
    Ok(())
}
