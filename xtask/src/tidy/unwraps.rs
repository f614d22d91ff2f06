//! Check: no `unwrap()` outside tests. An `unwrap` on input is a crash waiting for the input
//! that triggers it; code returns or handles the error instead. Clippy's `unwrap_used` says the
//! same with type information; this textual guard is cheap and runs first.
//!
//! Test code is: files under a `tests` directory, files that are only tests (`#![cfg(test)]`,
//! or declared by `#[cfg(test)] mod name;`, see [`test_module_declarations`]), and items marked
//! `#[cfg(test)]`, `#[test]` or another `…test` attribute (`#[tokio::test]`,
//! `#[wasm_bindgen_test]`).

use super::lexer::Line;
use super::Violation;

/// A violation for each `unwrap` outside test code in a Rust file.
pub fn check(path: &str, lines: &[Line]) -> Vec<Violation> {
    let in_tests = test_lines(lines);
    let mut violations = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if in_tests[index] || !calls_unwrap(&line.code) {
            continue;
        }
        violations.push(Violation {
            path: path.to_owned(),
            line: index + 1,
            problem: "`unwrap()` outside tests".into(),
            fix: "return the error with `?` (adding context) or handle the `None`/`Err` case; \
                  test-only code belongs in a `#[cfg(test)]` module"
                .into(),
        });
    }
    violations
}

/// Whether the file is all test code wherever it is: it says `#![cfg(test)]`.
pub fn is_test_only(lines: &[Line]) -> bool {
    lines
        .iter()
        .any(|line| squeeze(&line.code).starts_with("#![cfg(test)]"))
}

/// A path under a `tests` directory (a crate's integration tests, or the tests crate).
pub fn is_in_tests_directory(path: &str) -> bool {
    path.split('/').rev().skip(1).any(|dir| dir == "tests")
}

/// `unwrap` as a method or path (`.unwrap()`, `Option::unwrap`), not as part of a longer name.
fn calls_unwrap(code: &str) -> bool {
    code.match_indices("unwrap").any(|(start, word)| {
        let before = code[..start].trim_end();
        let after = &code[start + word.len()..];
        let whole_word = !after.starts_with(|c: char| c.is_alphanumeric() || c == '_');
        whole_word && (before.ends_with('.') || before.ends_with("::"))
    })
}

/// `text` without whitespace, so attributes compare however they are spaced.
fn squeeze(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The code of `lines` as one sequence of characters, each with its line index.
fn code_chars(lines: &[Line]) -> Vec<(char, usize)> {
    lines
        .iter()
        .enumerate()
        .flat_map(|(index, line)| line.code.chars().chain(['\n']).map(move |c| (c, index)))
        .collect()
}

/// For each line, whether it belongs to an item with a test attribute (attribute included).
fn test_lines(lines: &[Line]) -> Vec<bool> {
    let mut in_tests = vec![is_test_only(lines); lines.len()];
    let chars = code_chars(lines);
    let mut i = 0;
    while i < chars.len() {
        let Some((attribute, after)) = attribute_at(&chars, i) else {
            i += 1;
            continue;
        };
        if !is_test_attribute(&attribute) {
            i = after;
            continue;
        }
        let end = item_end(&chars, after);
        let (first, last) = (chars[i].1, chars[end.min(chars.len() - 1)].1);
        in_tests[first..=last]
            .iter_mut()
            .for_each(|line| *line = true);
        i = end + 1;
    }
    in_tests
}

/// At `#[`: the attribute's text between the brackets and the index after its `]`.
fn attribute_at(chars: &[(char, usize)], i: usize) -> Option<(String, usize)> {
    if chars[i].0 != '#' || chars.get(i + 1).map(|c| c.0) != Some('[') {
        return None;
    }
    let close = matching(chars, i + 1, '[', ']')?;
    let text = chars[i + 2..close].iter().map(|c| c.0).collect();
    Some((text, close + 1))
}

/// `test`, `tokio::test`, `wasm_bindgen_test`, `cfg(test)`, `cfg(all(test, …))`; not
/// `cfg(not(test))`, and not `cfg_attr(test, …)`, which keeps the item in normal builds.
fn is_test_attribute(attribute: &str) -> bool {
    let attribute = squeeze(attribute);
    let path = attribute.split('(').next().unwrap_or_default();
    if path == "cfg" {
        let words: Vec<&str> = attribute
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .collect();
        return words.contains(&"test") && !words.contains(&"not");
    }
    path == "test" || path.ends_with("::test") || path.ends_with("_test")
}

/// The index of the `;` or closing `}` that ends the item starting at `start` (further
/// attributes, a signature, a body).
fn item_end(chars: &[(char, usize)], start: usize) -> usize {
    let mut i = start;
    while i < chars.len() {
        match chars[i].0 {
            ';' => return i,
            '{' => return matching(chars, i, '{', '}').unwrap_or(chars.len() - 1),
            '[' | '(' => i = matching(chars, i, chars[i].0, closer(chars[i].0)).unwrap_or(i) + 1,
            _ => i += 1,
        }
    }
    chars.len().saturating_sub(1)
}

fn closer(open: char) -> char {
    if open == '[' {
        ']'
    } else {
        ')'
    }
}

/// The index of the bracket that closes the one at `open_index`.
fn matching(chars: &[(char, usize)], open_index: usize, open: char, close: char) -> Option<usize> {
    let mut depth = 0_usize;
    for (index, (c, _)) in chars.iter().enumerate().skip(open_index) {
        if *c == open {
            depth += 1;
        } else if *c == close {
            depth -= 1;
            if depth == 0 {
                return Some(index);
            }
        }
    }
    None
}

/// The names of modules declared as `#[cfg(test)] mod name;` (their files are all tests).
pub fn test_module_declarations(lines: &[Line]) -> Vec<String> {
    let chars = code_chars(lines);
    let mut names = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let Some((attribute, after)) = attribute_at(&chars, i) else {
            i += 1;
            continue;
        };
        i = after;
        if !is_test_attribute(&attribute) {
            continue;
        }
        let end = item_end(&chars, after);
        let item: String = chars[after..=end.min(chars.len() - 1)]
            .iter()
            .map(|c| c.0)
            .collect();
        let words: Vec<&str> = item.split_whitespace().collect();
        if let ["mod", name] | ["pub", "mod", name] | ["pub(crate)", "mod", name] = words[..] {
            if let Some(name) = name.strip_suffix(';') {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// Where a module declared in the file at `parent` lives (either path may exist):
/// `src/lib.rs` or `a/mod.rs` declare siblings, `a/b.rs` declares `a/b/name.rs`.
pub fn module_paths(parent: &str, name: &str) -> [String; 2] {
    let (dir, file) = parent.rsplit_once('/').unwrap_or(("", parent));
    let stem = file.trim_end_matches(".rs");
    let base = match (dir, stem) {
        (_, "lib" | "main" | "mod") => dir.to_owned(),
        ("", _) => stem.to_owned(),
        _ => format!("{dir}/{stem}"),
    };
    let join = |tail: String| {
        if base.is_empty() {
            tail
        } else {
            format!("{base}/{tail}")
        }
    };
    [join(format!("{name}.rs")), join(format!("{name}/mod.rs"))]
}

#[cfg(test)]
mod tests {
    use super::super::lexer::{split, RUST};
    use super::*;

    fn lines_with_violations(source: &str) -> Vec<usize> {
        check("relay/src/a.rs", &split(source, RUST))
            .iter()
            .map(|violation| violation.line)
            .collect()
    }

    #[test]
    fn an_unwrap_in_code_fails_on_its_line() {
        let source = "//! A.\nfn f(x: Option<u8>) -> u8 {\n    x\n        .unwrap()\n}\n";
        assert_eq!(lines_with_violations(source), [4]);
        assert_eq!(
            lines_with_violations("fn f() { v.iter().map(Option::unwrap); }"),
            [1]
        );
    }

    #[test]
    fn an_unwrap_in_a_test_module_or_test_function_passes() {
        let source = "\
fn f() -> u8 { 1 }

#[cfg(test)]
mod tests {
    #[test]
    fn g() { Some(1).unwrap(); }
}

#[test]
fn h() { Some(2).unwrap(); }

#[tokio::test(flavor = \"multi_thread\")]
async fn i() { Some(3).unwrap(); }

fn after_the_tests() { Some(4).unwrap(); }
";
        assert_eq!(lines_with_violations(source), [15]);
    }

    #[test]
    fn not_test_or_a_cfg_attr_is_normal_code() {
        let source = "#[cfg(not(test))]\nfn f() { x.unwrap(); }\n#[cfg_attr(test, derive(Debug))]\nstruct S { a: [u8; 2] }\nfn g() { y.unwrap(); }\n";
        assert_eq!(lines_with_violations(source), [2, 5]);
    }

    #[test]
    fn unwrap_in_comments_strings_and_other_names_passes() {
        let source = "/// Never `x.unwrap()`.\nfn f() { let s = \".unwrap()\"; x.unwrap_or(1); x.unwrap_or_default(); }\n";
        assert!(lines_with_violations(source).is_empty());
    }

    #[test]
    fn a_file_marked_as_tests_passes() {
        assert!(lines_with_violations("#![cfg(test)]\nfn f() { x.unwrap(); }\n").is_empty());
        assert!(is_in_tests_directory("tests/relay/inbox.rs"));
        assert!(is_in_tests_directory("relay/tests/a.rs"));
        assert!(!is_in_tests_directory("relay/src/testing.rs"));
        assert!(!is_in_tests_directory("tests.rs"));
    }

    #[test]
    fn test_modules_in_their_own_files_are_found() {
        let source = "#[cfg(test)]\nmod tests;\nmod real;\n#[cfg(test)]\nmod helpers {\n}\n";
        assert_eq!(test_module_declarations(&split(source, RUST)), ["tests"]);
        assert_eq!(
            module_paths("relay/src/lib.rs", "tests"),
            ["relay/src/tests.rs", "relay/src/tests/mod.rs"]
        );
        assert_eq!(
            module_paths("relay/src/inbox/store.rs", "tests"),
            [
                "relay/src/inbox/store/tests.rs",
                "relay/src/inbox/store/tests/mod.rs"
            ]
        );
        assert_eq!(
            module_paths("relay/src/inbox/mod.rs", "tests")[0],
            "relay/src/inbox/tests.rs"
        );
    }
}
