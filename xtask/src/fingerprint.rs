//! Knowing when a build can be skipped: a [`Fingerprint`] of everything the build reads
//! (sources, lock files, tool versions, xtask's own build steps) and, after a successful build,
//! a [`Stamp`] that stores it beside the list of files the build wrote. The next run rebuilds
//! when the fingerprint differs, when there is no stamp, or when one of those files is gone or
//! has changed size ([`freshness`]).
//!
//! File contents are hashed, not modification times: checkouts, `touch` and editors that
//! rewrite a file unchanged would otherwise cost a full rebuild, and a file restored with an old
//! time would be missed.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

/// Names that never hold build inputs: build outputs, installed packages, editor and VCS files.
const SKIPPED_NAMES: [&str; 3] = ["dist", "target", "node_modules"];
/// The first line of a stamp. Another first line (a stamp written by an older or newer xtask)
/// means "no usable stamp", so a change of format rebuilds once instead of failing.
const STAMP_HEADER: &str = "xtask build stamp v1 (delete this file to force a rebuild)";

/// 64-bit FNV-1a: stable across toolchains and platforms (unlike `std`'s hashers), and plenty to
/// notice that a file changed.
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The digest of each input, by name (a path relative to the workspace root, or a label such
/// as `tool: trunk --version`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint {
    inputs: BTreeMap<String, u64>,
}

impl Fingerprint {
    /// Records one input. Adding a name twice keeps the last content.
    pub fn add(&mut self, name: impl Into<String>, content: &[u8]) {
        self.inputs.insert(name.into(), fnv1a_64(content));
    }

    /// Records the file at `root/relative` if it exists. A missing file adds nothing, so the
    /// file appearing (or disappearing) later changes the fingerprint.
    pub fn add_file(&mut self, root: &Path, relative: &str) -> Result<()> {
        let path = root.join(relative);
        if path.is_file() {
            let content =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            self.add(relative, &content);
        }
        Ok(())
    }

    /// Records every file under `root/relative`, except in [`SKIPPED_NAMES`] and dot-named
    /// entries (editor swap files would otherwise trigger rebuilds).
    pub fn add_tree(&mut self, root: &Path, relative: &str) -> Result<()> {
        let dir = root.join(relative);
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || SKIPPED_NAMES.contains(&name.as_str()) {
                continue;
            }
            let child = format!("{relative}/{name}");
            if entry.file_type()?.is_dir() {
                self.add_tree(root, &child)?;
            } else {
                self.add_file(root, &child)?;
            }
        }
        Ok(())
    }

    /// The first input, by name, that is new, gone or different in `other`.
    pub fn first_difference<'a>(&'a self, other: &'a Fingerprint) -> Option<&'a str> {
        let changed_or_gone = self
            .inputs
            .iter()
            .filter(|(name, digest)| other.inputs.get(*name) != Some(digest))
            .map(|(name, _)| name.as_str());
        let new = other
            .inputs
            .keys()
            .filter(|name| !self.inputs.contains_key(*name))
            .map(String::as_str);
        changed_or_gone.chain(new).min()
    }
}

/// What a successful build leaves behind: the fingerprint of its inputs and the size of every
/// file it wrote (paths relative to the workspace root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub fingerprint: Fingerprint,
    pub outputs: BTreeMap<String, u64>,
}

impl Stamp {
    /// One line per input (`input <digest> <name>`) and per output (`output <size> <path>`),
    /// so a stamp can be read, and diffed, by a person.
    pub fn to_text(&self) -> String {
        let mut text = format!("{STAMP_HEADER}\n");
        for (name, digest) in &self.fingerprint.inputs {
            text.push_str(&format!("input {digest:016x} {name}\n"));
        }
        for (path, size) in &self.outputs {
            text.push_str(&format!("output {size} {path}\n"));
        }
        text
    }

    /// `None` for anything [`Stamp::to_text`] did not write: the caller then rebuilds.
    pub fn parse(text: &str) -> Option<Stamp> {
        let mut lines = text.lines();
        if lines.next() != Some(STAMP_HEADER) {
            return None;
        }
        let mut stamp = Stamp {
            fingerprint: Fingerprint::default(),
            outputs: BTreeMap::new(),
        };
        for line in lines {
            let mut fields = line.splitn(3, ' ');
            match (fields.next(), fields.next(), fields.next()) {
                (Some("input"), Some(digest), Some(name)) => {
                    let digest = u64::from_str_radix(digest, 16).ok()?;
                    stamp.fingerprint.inputs.insert(name.to_owned(), digest);
                }
                (Some("output"), Some(size), Some(path)) => {
                    stamp.outputs.insert(path.to_owned(), size.parse().ok()?);
                }
                _ => return None,
            }
        }
        Some(stamp)
    }

    /// The stamp at `path`; `None` when it is missing or unreadable.
    pub fn read(path: &Path) -> Option<Stamp> {
        Stamp::parse(&std::fs::read_to_string(path).ok()?)
    }

    /// Written to a temporary file and renamed, so an interrupted write never leaves half a
    /// stamp that could parse.
    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let partial = path.with_extension("partial");
        std::fs::write(&partial, self.to_text())
            .with_context(|| format!("writing {}", partial.display()))?;
        std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))
    }
}

/// The size of every file under each of `dirs` (relative to `root`), keyed by relative path.
pub fn list_outputs(root: &Path, dirs: &[&str]) -> Result<BTreeMap<String, u64>> {
    let mut outputs = BTreeMap::new();
    for dir in dirs {
        list_files(root, dir, &mut outputs)?;
    }
    Ok(outputs)
}

fn list_files(root: &Path, relative: &str, outputs: &mut BTreeMap<String, u64>) -> Result<()> {
    let dir = root.join(relative);
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let child = format!("{relative}/{}", entry.file_name().to_string_lossy());
        if entry.file_type()?.is_dir() {
            list_files(root, &child, outputs)?;
        } else {
            outputs.insert(child, entry.metadata()?.len());
        }
    }
    Ok(())
}

/// Whether a build's outputs can be used as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    UpToDate,
    /// Rebuild, because of what the text says.
    Stale(String),
}

/// Up to date only if the last build's stamp has the `current` fingerprint and every file it
/// wrote is still under `root` with the size it had.
pub fn freshness(stamp: Option<&Stamp>, current: &Fingerprint, root: &Path) -> Freshness {
    let Some(stamp) = stamp else {
        return Freshness::Stale("no record of an earlier build".into());
    };
    if let Some(input) = stamp.fingerprint.first_difference(current) {
        return Freshness::Stale(format!("{input} changed"));
    }
    if stamp.outputs.is_empty() {
        return Freshness::Stale("the last build recorded no outputs".into());
    }
    for (path, size) in &stamp.outputs {
        match std::fs::metadata(root.join(path)) {
            Ok(metadata) if metadata.len() == *size => {}
            Ok(_) => return Freshness::Stale(format!("{path} was changed since the build")),
            Err(_) => return Freshness::Stale(format!("{path} is missing")),
        }
    }
    Freshness::UpToDate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(inputs: &[(&str, &str)]) -> Fingerprint {
        let mut fingerprint = Fingerprint::default();
        for (name, content) in inputs {
            fingerprint.add(*name, content.as_bytes());
        }
        fingerprint
    }

    /// A fresh directory under the system's temporary directory, removed when dropped.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("xtask-fingerprint-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("dist")).expect("creating a temporary directory");
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A build that wrote `dist/app.wasm` under `root`, stamped with `inputs`.
    fn built(root: &Path, inputs: &Fingerprint) -> Stamp {
        std::fs::write(root.join("dist/app.wasm"), b"\0asm").expect("writing an output");
        Stamp {
            fingerprint: inputs.clone(),
            outputs: list_outputs(root, &["dist"]).expect("listing outputs"),
        }
    }

    #[test]
    fn fnv1a_64_matches_the_published_vectors() {
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn unchanged_inputs_give_the_same_fingerprint() {
        let inputs = [("widget/src/main.rs", "fn main() {}"), ("Cargo.lock", "v3")];
        assert_eq!(fingerprint(&inputs), fingerprint(&inputs));
        assert_eq!(
            fingerprint(&inputs).first_difference(&fingerprint(&inputs)),
            None
        );
    }

    #[test]
    fn a_changed_added_or_removed_input_changes_the_fingerprint() {
        let before = fingerprint(&[("a.rs", "1"), ("b.rs", "2")]);
        let changed = fingerprint(&[("a.rs", "1"), ("b.rs", "3")]);
        let added = fingerprint(&[("a.rs", "1"), ("b.rs", "2"), ("c.rs", "")]);
        let removed = fingerprint(&[("b.rs", "2")]);
        assert_ne!(before, changed);
        assert_eq!(before.first_difference(&changed), Some("b.rs"));
        assert_eq!(before.first_difference(&added), Some("c.rs"));
        assert_eq!(before.first_difference(&removed), Some("a.rs"));
    }

    #[test]
    fn trees_skip_outputs_and_dot_files() {
        let dir = TempDir::new("tree");
        let root = &dir.0;
        std::fs::create_dir_all(root.join("crate/src")).expect("mkdir");
        std::fs::write(root.join("crate/src/lib.rs"), "//! lib").expect("write");
        let mut before = Fingerprint::default();
        before.add_tree(root, "crate").expect("hashing the tree");

        std::fs::create_dir_all(root.join("crate/dist")).expect("mkdir");
        std::fs::write(root.join("crate/dist/out.js"), "built").expect("write");
        std::fs::write(root.join("crate/src/.lib.rs.swp"), "editor").expect("write");
        let mut ignored = Fingerprint::default();
        ignored.add_tree(root, "crate").expect("hashing the tree");
        assert_eq!(before, ignored);

        std::fs::write(root.join("crate/src/lib.rs"), "//! lib, edited").expect("write");
        let mut edited = Fingerprint::default();
        edited.add_tree(root, "crate").expect("hashing the tree");
        assert_eq!(before.first_difference(&edited), Some("crate/src/lib.rs"));
    }

    #[test]
    fn matching_inputs_with_outputs_present_are_up_to_date() {
        let dir = TempDir::new("fresh");
        let inputs = fingerprint(&[("widget/src/main.rs", "fn main() {}")]);
        let stamp = built(&dir.0, &inputs);
        assert_eq!(
            freshness(Some(&stamp), &inputs, &dir.0),
            Freshness::UpToDate
        );
    }

    #[test]
    fn a_changed_input_means_a_rebuild() {
        let dir = TempDir::new("changed");
        let stamp = built(&dir.0, &fingerprint(&[("widget/src/main.rs", "old")]));
        let now = fingerprint(&[("widget/src/main.rs", "new")]);
        assert_eq!(
            freshness(Some(&stamp), &now, &dir.0),
            Freshness::Stale("widget/src/main.rs changed".into())
        );
    }

    #[test]
    fn a_missing_or_altered_output_means_a_rebuild() {
        let dir = TempDir::new("missing");
        let inputs = fingerprint(&[("widget/src/main.rs", "fn main() {}")]);
        let stamp = built(&dir.0, &inputs);

        std::fs::write(dir.0.join("dist/app.wasm"), b"truncated by hand").expect("write");
        assert_eq!(
            freshness(Some(&stamp), &inputs, &dir.0),
            Freshness::Stale("dist/app.wasm was changed since the build".into())
        );
        std::fs::remove_file(dir.0.join("dist/app.wasm")).expect("remove");
        assert_eq!(
            freshness(Some(&stamp), &inputs, &dir.0),
            Freshness::Stale("dist/app.wasm is missing".into())
        );
    }

    #[test]
    fn no_stamp_or_an_empty_one_means_a_rebuild() {
        let dir = TempDir::new("nostamp");
        let inputs = fingerprint(&[("a.rs", "1")]);
        assert!(matches!(
            freshness(None, &inputs, &dir.0),
            Freshness::Stale(_)
        ));
        let empty = Stamp {
            fingerprint: inputs.clone(),
            outputs: BTreeMap::new(),
        };
        assert!(matches!(
            freshness(Some(&empty), &inputs, &dir.0),
            Freshness::Stale(_)
        ));
    }

    #[test]
    fn a_stamp_survives_writing_and_reading() {
        let dir = TempDir::new("roundtrip");
        let stamp = Stamp {
            fingerprint: fingerprint(&[("tool: trunk --version", "trunk 0.21.14"), ("a b.rs", "")]),
            outputs: BTreeMap::from([("widget/dist/natter.js".to_owned(), 2817)]),
        };
        let path = dir.0.join("stamps/frontends.stamp");
        stamp.write(&path).expect("writing the stamp");
        assert_eq!(Stamp::read(&path), Some(stamp));
    }

    #[test]
    fn a_stamp_in_another_format_is_not_used() {
        assert_eq!(Stamp::parse(""), None);
        assert_eq!(Stamp::parse("some other tool's file\n"), None);
        assert_eq!(
            Stamp::parse(&format!("{STAMP_HEADER}\ninput not-hex a.rs\n")),
            None
        );
    }
}
