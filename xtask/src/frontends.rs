//! Building the widget and the console with Trunk (release: what ships, and what the browser
//! tests exercise), then minifying the widget's loader, finishing the widget's app
//! (`widget_app`: optimise, trim, rename, minify) and precompressing every asset
//! (`precompress.rs`).

use anyhow::Result;

use crate::shell::{self, command, run};
use crate::{precompress, widget_app};

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
            widget_app::finish(&shell::root().join(dist))?;
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
