//! Check: every feature id in a comment (`W4`, `I3`, …) is defined in `docs/features.md`, so a
//! comment that cites a feature points at something a reader can look up, and a typo or an id
//! invented in passing is caught.
//!
//! The id scheme is the product specification's: one capital letter for the family (W widget,
//! I inbox, E email, M Messenger, R relay, S security), then digits.

use std::collections::BTreeSet;

use super::lexer::Line;
use super::Violation;

/// The families' letters.
const FAMILIES: [char; 6] = ['W', 'I', 'E', 'M', 'R', 'S'];
/// Where the ids are defined, relative to the workspace root.
pub const FEATURES_DOC: &str = "docs/features.md";

/// The ids defined in `docs/features.md`: the first cell of each table row that holds an id.
pub fn defined_ids(features_doc: &str) -> BTreeSet<String> {
    features_doc
        .lines()
        .filter_map(|line| line.trim().strip_prefix('|'))
        .filter_map(|row| row.split('|').next())
        .map(|cell| cell.trim().trim_matches('*').to_owned())
        .filter(|cell| ids_in(cell) == [cell.as_str()])
        .collect()
}

/// Every id-shaped word in `text`: a family letter and digits, neither glued to a letter,
/// digit or underscore before or after (so `ES2020`, `W3C` and `x86` are not ids).
pub fn ids_in(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let is_word = |index: usize| {
        bytes
            .get(index)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    };
    let mut ids = Vec::new();
    for (start, c) in text.char_indices() {
        if !FAMILIES.contains(&c) || (start > 0 && is_word(start - 1)) {
            continue;
        }
        let digits = bytes[start + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = start + 1 + digits;
        if digits > 0 && !is_word(end) {
            ids.push(&text[start..end]);
        }
    }
    ids
}

/// A violation for each id in a comment of `lines` that `defined` lacks.
pub fn check(path: &str, lines: &[Line], defined: &BTreeSet<String>) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        for id in ids_in(&line.comment) {
            if !defined.contains(id) {
                violations.push(Violation {
                    path: path.to_owned(),
                    line: index + 1,
                    problem: format!("feature id {id} is not defined in {FEATURES_DOC}"),
                    fix: format!(
                        "cite an id from the product specification, or add {id} with what it means to {FEATURES_DOC}"
                    ),
                });
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::super::lexer::{split, JAVASCRIPT, RUST};
    use super::*;

    const FEATURES: &str = "\
| id | feature |
|---|---|
| W4 | Messages are never lost |
| **I3** | Status dots |
Prose mentioning W99 is not a definition.
";

    #[test]
    fn the_first_cell_of_a_table_row_defines_an_id() {
        let defined = defined_ids(FEATURES);
        assert_eq!(defined, BTreeSet::from(["W4".to_owned(), "I3".to_owned()]));
    }

    #[test]
    fn ids_are_whole_words() {
        assert_eq!(
            ids_in("W4, (I3) and W5/W6; I2–I13."),
            ["W4", "I3", "W5", "W6", "I2", "I13"]
        );
        assert!(ids_in("ES2020 W3C x86 S3_KEY W 4 w4 X1").is_empty());
    }

    #[test]
    fn a_defined_id_in_a_comment_passes() {
        let lines = split(
            "// Resend with the client id (W4).\nfn f() {} /* I3 */\n",
            RUST,
        );
        assert!(check("a.rs", &lines, &defined_ids(FEATURES)).is_empty());
    }

    #[test]
    fn an_undefined_id_in_a_comment_fails_on_its_line() {
        let lines = split("fn f() {}\n/// See W17.\n", RUST);
        let violations = check("widget/src/a.rs", &lines, &defined_ids(FEATURES));
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].line, 2);
        assert!(violations[0].problem.contains("W17"));
    }

    #[test]
    fn ids_outside_comments_are_not_checked() {
        let source = "icon('M21 11.5l-8.6 8.6'); const key = \"W17\";\n";
        let lines = split(source, JAVASCRIPT);
        assert!(check("a.js", &lines, &defined_ids(FEATURES)).is_empty());
    }
}
