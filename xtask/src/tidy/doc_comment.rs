//! Check: every Rust file opens with a `//!` comment saying what it is for, so a reader who
//! lands in any file learns its place before its details.

use super::Violation;

/// A violation at the first line unless the first non-blank line is a `//!` comment.
pub fn check(path: &str, source: &str) -> Option<Violation> {
    let first = source.lines().find(|line| !line.trim().is_empty());
    if first.is_some_and(|line| line.trim_start().starts_with("//!")) {
        return None;
    }
    Some(Violation {
        path: path.to_owned(),
        line: 1,
        problem: "the file does not open with a `//!` doc comment".into(),
        fix: "start it with `//!` lines saying what the file is for and why it exists".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_opens_with_a_doc_comment_passes() {
        assert_eq!(check("a.rs", "//! The relay.\n\nfn main() {}\n"), None);
        assert_eq!(check("a.rs", "\n//! After a blank line.\n"), None);
    }

    #[test]
    fn a_file_without_one_fails_at_line_one() {
        for source in [
            "fn main() {}\n",
            "/// An item doc.\nfn f() {}\n",
            "// A comment.\n",
            "",
        ] {
            let violation = check("relay/src/x.rs", source).expect("a violation");
            assert_eq!(
                (violation.path.as_str(), violation.line),
                ("relay/src/x.rs", 1)
            );
        }
    }
}
