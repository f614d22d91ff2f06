//! Building the widget and the console with Trunk (release: what ships, and what the browser
//! tests exercise).

use anyhow::Result;

use crate::shell::{command, run};

/// (Trunk HTML, output directory, public URL) of each front-end.
pub const FRONTENDS: [(&str, &str, &str); 2] = [
    ("widget/index.html", "widget/dist", "/widget/"),
    ("console/index.html", "console/dist", "/inbox/"),
];

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
    }
    Ok(())
}
