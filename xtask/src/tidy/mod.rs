//! `cargo xtask tidy`: cheap textual checks over the workspace's own files, run first by
//! `cargo xtask test`:
//! - every Rust file opens with a `//!` doc comment (`doc_comment.rs`);
//! - every feature id cited in a comment is defined in `docs/features.md` (`feature_ids.rs`);
//! - no `unwrap()` outside tests (`unwraps.rs`).
//!
//! The files are those git knows or would add (`git ls-files --cached --others
//! --exclude-standard`): a new file is checked before it is committed, build outputs never.
//! Each failure is one line, `path:line: what is wrong — what to do`.

mod doc_comment;
mod feature_ids;
mod lexer;
mod unwraps;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::{bail, Context, Result};

use crate::shell::{self, command};

/// One failed check, where it failed and how to put it right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    /// 1-based.
    pub line: usize,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} — {}",
            self.path, self.line, self.problem, self.fix
        )
    }
}

pub fn run() -> Result<()> {
    let root = shell::root();
    let features = std::fs::read_to_string(root.join(feature_ids::FEATURES_DOC))
        .with_context(|| format!("reading {}", feature_ids::FEATURES_DOC))?;
    let mut sources = BTreeMap::new();
    for path in workspace_files()? {
        if lexer::syntax_of(&path).is_none() || !root.join(&path).is_file() {
            continue;
        }
        let text =
            std::fs::read_to_string(root.join(&path)).with_context(|| format!("reading {path}"))?;
        sources.insert(path, text);
    }
    let violations = check_all(&sources, &feature_ids::defined_ids(&features));
    for violation in &violations {
        eprintln!("{violation}");
    }
    if !violations.is_empty() {
        bail!("tidy: {} problem(s), listed above", violations.len());
    }
    eprintln!("xtask: tidy: {} files checked, all tidy", sources.len());
    Ok(())
}

/// Tracked files and untracked ones that are not ignored, relative to the workspace root.
fn workspace_files() -> Result<BTreeSet<String>> {
    let listing = command("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()
        .context("running git ls-files")?;
    if !listing.status.success() {
        bail!(
            "git ls-files failed: {}",
            String::from_utf8_lossy(&listing.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&listing.stdout)
        .split('\0')
        .filter(|path| !path.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Every check over `sources` (path → text, only files [`lexer::syntax_of`] knows), with the
/// feature ids `defined` in `docs/features.md`.
pub fn check_all(sources: &BTreeMap<String, String>, defined: &BTreeSet<String>) -> Vec<Violation> {
    let split: BTreeMap<&str, Vec<lexer::Line>> = sources
        .iter()
        .filter_map(|(path, text)| {
            let syntax = lexer::syntax_of(path)?;
            Some((path.as_str(), lexer::split(text, syntax)))
        })
        .collect();
    let test_files = test_module_files(&split);
    let mut violations = Vec::new();
    for (path, lines) in &split {
        violations.extend(feature_ids::check(path, lines, defined));
        if !path.ends_with(".rs") {
            continue;
        }
        violations.extend(doc_comment::check(path, &sources[*path]));
        let is_test_file = test_files.contains(*path)
            || unwraps::is_in_tests_directory(path)
            || unwraps::is_test_only(lines);
        if !is_test_file {
            violations.extend(unwraps::check(path, lines));
        }
    }
    violations
}

/// The files of modules declared `#[cfg(test)] mod name;` anywhere in `split`.
fn test_module_files(split: &BTreeMap<&str, Vec<lexer::Line>>) -> BTreeSet<String> {
    split
        .iter()
        .filter(|(path, _)| path.ends_with(".rs"))
        .flat_map(|(path, lines)| {
            unwraps::test_module_declarations(lines)
                .into_iter()
                .flat_map(|name| unwraps::module_paths(path, &name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        files
            .iter()
            .map(|(path, text)| (path.to_string(), text.to_string()))
            .collect()
    }

    fn defined() -> BTreeSet<String> {
        feature_ids::defined_ids("| W4 | never lose a message |\n")
    }

    fn report(files: &[(&str, &str)]) -> Vec<String> {
        check_all(&sources(files), &defined())
            .iter()
            .map(|violation| format!("{}:{}", violation.path, violation.line))
            .collect()
    }

    #[test]
    fn a_tidy_workspace_passes() {
        let files = [
            (
                "relay/src/lib.rs",
                "//! The relay (W4).\n#[cfg(test)]\nmod tests;\n",
            ),
            (
                "relay/src/tests.rs",
                "//! Its tests.\nfn t() { Some(1).unwrap(); }\n",
            ),
            (
                "tests/relay/main.rs",
                "//! Integration.\nfn t() { Some(1).unwrap(); }\n",
            ),
            ("tests/browser/a.test.mjs", "// Outbox (W4).\n"),
            ("relay/migrations/1.sql", "-- Sequence numbers (W4).\n"),
        ];
        assert!(report(&files).is_empty(), "{:?}", report(&files));
    }

    #[test]
    fn each_check_reports_file_and_line() {
        let files = [
            ("relay/src/a.rs", "fn f() {}\n"),
            ("relay/src/b.rs", "//! B.\n\n// See W99.\n"),
            ("relay/src/c.rs", "//! C.\nfn f() { x.unwrap(); }\n"),
            ("console/style.css", "/* I99 */\n"),
        ];
        assert_eq!(
            report(&files),
            [
                "console/style.css:1",
                "relay/src/a.rs:1",
                "relay/src/b.rs:3",
                "relay/src/c.rs:2"
            ]
        );
    }

    #[test]
    fn a_violation_says_where_and_what_to_do() {
        let violation = Violation {
            path: "relay/src/a.rs".into(),
            line: 7,
            problem: "`unwrap()` outside tests".into(),
            fix: "return the error".into(),
        };
        assert_eq!(
            violation.to_string(),
            "relay/src/a.rs:7: `unwrap()` outside tests — return the error"
        );
    }
}
