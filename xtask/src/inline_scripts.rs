//! Moves the inline scripts of a Trunk-built page into files of their own, so the page runs
//! under a Content-Security-Policy without `'unsafe-inline'` or per-build hashes (S5: the
//! relay serves the console with `script-src 'self' 'wasm-unsafe-eval'`).
//!
//! Trunk starts the app with an inline `<script type="module">` that imports the
//! wasm-bindgen glue and instantiates the `.wasm` (trunk-rs/trunk#288 asks for an option to
//! avoid it; there is none yet). Each such script becomes `<public_url>boot-<hash>.js`, named
//! by its content like Trunk's own assets, and the tag loads it with `src`. A `nonce` Trunk
//! wrote is dropped: a nonce fixed at build time protects nothing.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::fingerprint::fnv1a_64;

/// A page with its inline scripts moved out: the new HTML and the files to write next to it.
#[derive(Debug, PartialEq, Eq)]
pub struct Externalised {
    pub html: String,
    /// (file name, script text).
    pub files: Vec<(String, String)>,
}

/// Rewrites `dist/index.html` and writes its scripts next to it.
pub fn externalise_in(dist: &Path, public_url: &str) -> Result<()> {
    let index = dist.join("index.html");
    let html =
        std::fs::read_to_string(&index).with_context(|| format!("reading {}", index.display()))?;
    let Externalised { html, files } = externalise(&html, public_url)?;
    for (name, script) in files {
        let path = dist.join(&name);
        std::fs::write(&path, script).with_context(|| format!("writing {}", path.display()))?;
    }
    std::fs::write(&index, html).with_context(|| format!("writing {}", index.display()))
}

/// Moves every `<script>` without `src` in `html` into a file under `public_url`.
pub fn externalise(html: &str, public_url: &str) -> Result<Externalised> {
    let mut out = String::with_capacity(html.len());
    let mut files = Vec::new();
    let mut rest = html;
    while let Some(start) = find_ignoring_case(rest, "<script") {
        out.push_str(&rest[..start]);
        let tag_end = rest[start..]
            .find('>')
            .map(|end| start + end + 1)
            .context("a <script> tag is not closed")?;
        let open_tag = &rest[start..tag_end];
        let close = find_ignoring_case(&rest[tag_end..], "</script>")
            .map(|end| tag_end + end)
            .context("a <script> element is not closed")?;
        let after = close + "</script>".len();
        if has_attribute(open_tag, "src") {
            out.push_str(&rest[start..after]);
        } else {
            let script = &rest[tag_end..close];
            if script.trim().is_empty() {
                bail!("an empty inline <script> in the page: {open_tag}");
            }
            let name = format!("boot-{:016x}.js", fnv1a_64(script.as_bytes()));
            let module = open_tag.to_ascii_lowercase().contains("type=\"module\"");
            let kind = if module { " type=\"module\"" } else { "" };
            out.push_str(&format!(
                "<script{kind} src=\"{public_url}{name}\"></script>"
            ));
            files.push((name, script.trim().to_owned()));
        }
        rest = &rest[after..];
    }
    out.push_str(rest);
    Ok(Externalised { html: out, files })
}

fn find_ignoring_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().find(needle)
}

/// Whether an opening tag has the attribute `name` (preceded by whitespace, followed by `=`).
fn has_attribute(open_tag: &str, name: &str) -> bool {
    let lower = open_tag.to_ascii_lowercase();
    lower.match_indices(name).any(|(index, _)| {
        lower[..index].ends_with(char::is_whitespace)
            && lower[index + name.len()..].trim_start().starts_with('=')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUNK_PAGE: &str = r#"<!doctype html><html><head>
<link rel="modulepreload" href="/inbox/natter-console-1a2b.js" crossorigin="anonymous" integrity="sha384-x">
<script type="module" nonce="c2FtZQ==">
import init, * as bindings from '/inbox/natter-console-1a2b.js';
const wasm = await init({ module_or_path: '/inbox/natter-console-1a2b_bg.wasm' });
window.wasmBindings = bindings;
</script>
<script src="/inbox/kept.js"></script>
</head><body></body></html>"#;

    #[test]
    fn the_inline_bootstrap_moves_to_a_file_named_by_its_content() -> Result<()> {
        let Externalised { html, files } = externalise(TRUNK_PAGE, "/inbox/")?;
        assert_eq!(files.len(), 1);
        let (name, script) = &files[0];
        assert!(name.starts_with("boot-") && name.ends_with(".js"), "{name}");
        assert!(script.starts_with("import init, * as bindings"), "{script}");
        assert!(html.contains(&format!(
            "<script type=\"module\" src=\"/inbox/{name}\"></script>"
        )));
        assert!(!html.contains("nonce"), "{html}");
        assert!(!html.contains("import init"), "{html}");
        assert!(html.contains("<script src=\"/inbox/kept.js\"></script>"));
        assert!(html.contains("integrity=\"sha384-x\""));
        // The same script, the same name: rebuilding changes nothing.
        assert_eq!(externalise(TRUNK_PAGE, "/inbox/")?.files, files);
        Ok(())
    }

    #[test]
    fn a_page_without_inline_scripts_is_left_alone() -> Result<()> {
        let page = "<html><script src=\"/a.js\"></script><p>data-src=1</p></html>";
        assert_eq!(
            externalise(page, "/")?,
            Externalised {
                html: page.to_owned(),
                files: vec![]
            }
        );
        Ok(())
    }

    #[test]
    fn an_unclosed_script_fails_the_build() {
        assert!(externalise("<script type=\"module\">import x", "/").is_err());
    }
}
