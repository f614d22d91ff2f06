//! Just enough lexing for tidy: each line of a source file split into its code, with the
//! contents of string and character literals blanked, and its comment text. That tells an
//! `unwrap()` in code from one in a comment or a string, and a feature id in a comment from an
//! SVG path in a string, whose commands look like ids. It is not a parser: a JavaScript regular-expression literal
//! holding a quote or `//` can confuse it, which tidy accepts.

/// How comments and literals are written in one language.
#[derive(Debug, Clone, Copy)]
pub struct Syntax {
    line_comment: Option<&'static str>,
    block_comment: Option<(&'static str, &'static str)>,
    /// Rust's block comments nest; everyone else's end at the first closing marker.
    nested_blocks: bool,
    /// Characters that open a string closed by the same character (`\` escapes inside).
    quotes: &'static [char],
    /// Rust's `'a'` characters beside `'a` lifetimes, and `r#"…"#` raw strings.
    rust_literals: bool,
}

pub const RUST: Syntax = Syntax {
    line_comment: Some("//"),
    block_comment: Some(("/*", "*/")),
    nested_blocks: true,
    quotes: &['"'],
    rust_literals: true,
};
pub const JAVASCRIPT: Syntax = Syntax {
    line_comment: Some("//"),
    block_comment: Some(("/*", "*/")),
    nested_blocks: false,
    quotes: &['"', '\'', '`'],
    rust_literals: false,
};
pub const CSS: Syntax = Syntax {
    line_comment: None,
    block_comment: Some(("/*", "*/")),
    nested_blocks: false,
    quotes: &['"', '\''],
    rust_literals: false,
};
pub const SQL: Syntax = Syntax {
    line_comment: Some("--"),
    block_comment: Some(("/*", "*/")),
    nested_blocks: false,
    quotes: &['\'', '"'],
    rust_literals: false,
};
pub const TOML: Syntax = Syntax {
    line_comment: Some("#"),
    block_comment: None,
    nested_blocks: false,
    quotes: &['"', '\''],
    rust_literals: false,
};
/// Quotes in HTML text are prose ("don't"), so only comments are told apart.
pub const HTML: Syntax = Syntax {
    line_comment: None,
    block_comment: Some(("<!--", "-->")),
    nested_blocks: false,
    quotes: &[],
    rust_literals: false,
};

/// The syntax of a file, by its extension; `None` for files tidy does not read.
pub fn syntax_of(path: &str) -> Option<Syntax> {
    let extension = path.rsplit_once('.').map(|(_, extension)| extension)?;
    match extension {
        "rs" => Some(RUST),
        "js" | "mjs" => Some(JAVASCRIPT),
        "css" => Some(CSS),
        "sql" => Some(SQL),
        "toml" => Some(TOML),
        "html" => Some(HTML),
        _ => None,
    }
}

/// One source line, split.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line without its comments; each character inside a literal is a space.
    pub code: String,
    /// The text of the comments on the line, markers included.
    pub comment: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    LineComment,
    BlockComment { depth: usize },
    Quoted { quote: char },
    RawString { hashes: usize },
}

/// `source`, line by line (as [`str::lines`] counts them).
pub fn split(source: &str, syntax: Syntax) -> Vec<Line> {
    let chars: Vec<char> = source.chars().collect();
    let mut lines = vec![Line::default()];
    let mut state = State::Code;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let Some(line) = lines.last_mut() else { break };
        if c == '\n' {
            if state == State::LineComment {
                state = State::Code;
            }
            lines.push(Line::default());
            i += 1;
            continue;
        }
        let (next_state, consumed) = step(&chars, i, state, syntax, line);
        state = next_state;
        i += consumed;
    }
    if source.ends_with('\n') || source.is_empty() {
        lines.pop();
    }
    lines
}

/// Handles the text at `chars[i]` in `state`, appending it to `line`; returns the next state
/// and how many characters were used (at least one, never a newline).
fn step(chars: &[char], i: usize, state: State, syntax: Syntax, line: &mut Line) -> (State, usize) {
    match state {
        State::Code => code_step(chars, i, syntax, line),
        State::LineComment => {
            line.comment.push(chars[i]);
            (state, 1)
        }
        State::BlockComment { depth } => block_comment_step(chars, i, depth, syntax, line),
        State::Quoted { quote } => match chars[i] {
            // An escaped newline is left to `split`, which counts the line.
            '\\' if chars.get(i + 1).is_some_and(|next| *next != '\n') => {
                line.code.push_str("  ");
                (state, 2)
            }
            c if c == quote => {
                line.code.push(quote);
                (State::Code, 1)
            }
            _ => {
                line.code.push(' ');
                (state, 1)
            }
        },
        State::RawString { hashes } => {
            line.code.push(' ');
            let closes = chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#'));
            if closes {
                line.code.extend(std::iter::repeat_n(' ', hashes));
                (State::Code, 1 + hashes)
            } else {
                (state, 1)
            }
        }
    }
}

fn code_step(chars: &[char], i: usize, syntax: Syntax, line: &mut Line) -> (State, usize) {
    if let Some(marker) = syntax
        .line_comment
        .filter(|marker| starts_with(chars, i, marker))
    {
        line.comment.push_str(marker);
        return (State::LineComment, marker.chars().count());
    }
    if let Some((open, _)) = syntax
        .block_comment
        .filter(|(open, _)| starts_with(chars, i, open))
    {
        line.comment.push_str(open);
        return (State::BlockComment { depth: 1 }, open.chars().count());
    }
    let c = chars[i];
    if syntax.quotes.contains(&c) {
        line.code.push(c);
        return (State::Quoted { quote: c }, 1);
    }
    if syntax.rust_literals {
        if let Some(hashes) = raw_string_hashes(chars, i) {
            // `r`, the hashes and the opening quote stay visible as code.
            line.code.extend(&chars[i..i + hashes + 2]);
            return (State::RawString { hashes }, hashes + 2);
        }
        if let Some(length) = char_literal_length(chars, i) {
            line.code.push('\'');
            line.code.extend(std::iter::repeat_n(' ', length - 2));
            line.code.push('\'');
            return (State::Code, length);
        }
    }
    line.code.push(c);
    (State::Code, 1)
}

fn block_comment_step(
    chars: &[char],
    i: usize,
    depth: usize,
    syntax: Syntax,
    line: &mut Line,
) -> (State, usize) {
    let Some((open, close)) = syntax.block_comment else {
        return (State::Code, 0);
    };
    if starts_with(chars, i, close) {
        line.comment.push_str(close);
        let state = if depth > 1 {
            State::BlockComment { depth: depth - 1 }
        } else {
            State::Code
        };
        return (state, close.chars().count());
    }
    if syntax.nested_blocks && starts_with(chars, i, open) {
        line.comment.push_str(open);
        return (
            State::BlockComment { depth: depth + 1 },
            open.chars().count(),
        );
    }
    line.comment.push(chars[i]);
    (State::BlockComment { depth }, 1)
}

fn starts_with(chars: &[char], i: usize, marker: &str) -> bool {
    marker
        .chars()
        .enumerate()
        .all(|(k, m)| chars.get(i + k) == Some(&m))
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// At an `r` that opens a raw string (`r"`, `r#"`, also after `b` or `c`): the number of `#`.
/// `r#type` (a raw identifier) and `for"` are not raw strings.
fn raw_string_hashes(chars: &[char], i: usize) -> Option<usize> {
    if chars[i] != 'r' {
        return None;
    }
    let starts_token = match i.checked_sub(1).map(|p| chars[p]) {
        None => true,
        Some('b' | 'c') => i < 2 || !is_identifier_char(chars[i - 2]),
        Some(previous) => !is_identifier_char(previous),
    };
    if !starts_token {
        return None;
    }
    let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
    (chars.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
}

/// At a `'`: the length of the character literal that starts here (`'a'`, `'\n'`,
/// `'\u{1F600}'`), or `None` for a lifetime or label (`'a`, `'static`).
fn char_literal_length(chars: &[char], i: usize) -> Option<usize> {
    if chars[i] != '\'' {
        return None;
    }
    match chars.get(i + 1)? {
        '\\' => {
            // An escape: up to the closing quote, which is never right after the backslash.
            let close = (i + 3..chars.len().min(i + 12)).find(|k| chars[*k] == '\'')?;
            Some(close - i + 1)
        }
        '\n' => None,
        _ => (chars.get(i + 2) == Some(&'\'')).then_some(3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(source: &str, syntax: Syntax) -> Vec<String> {
        split(source, syntax)
            .into_iter()
            .map(|line| line.code)
            .collect()
    }

    fn comments(source: &str, syntax: Syntax) -> Vec<String> {
        split(source, syntax)
            .into_iter()
            .map(|line| line.comment)
            .collect()
    }

    #[test]
    fn line_and_doc_comments_are_not_code() {
        let source = "//! About.\nlet x = 1; // one\n/// Doc.\n";
        assert_eq!(code(source, RUST), ["", "let x = 1; ", ""]);
        assert_eq!(comments(source, RUST), ["//! About.", "// one", "/// Doc."]);
    }

    #[test]
    fn rust_block_comments_nest_and_span_lines() {
        let source = "a /* one /* two */ still\nin */ b";
        assert_eq!(code(source, RUST), ["a ", " b"]);
        assert_eq!(comments(source, RUST), ["/* one /* two */ still", "in */"]);
    }

    #[test]
    fn string_contents_are_blanked_and_hide_comment_markers() {
        let source = r#"let s = "// not a comment \" x.unwrap()"; y"#;
        let lines = split(source, RUST);
        assert_eq!(lines[0].comment, "");
        assert!(!lines[0].code.contains("unwrap"));
        assert!(lines[0].code.ends_with("\"; y"));
    }

    #[test]
    fn raw_strings_end_only_at_their_hashes() {
        let source = "let s = r#\"say \"hi\" // no\"#; z // yes";
        let lines = split(source, RUST);
        assert_eq!(lines[0].comment, "// yes");
        assert!(lines[0].code.ends_with("; z "));
        assert!(!lines[0].code.contains("hi"));
    }

    #[test]
    fn char_literals_and_lifetimes_are_told_apart() {
        let source = "fn f<'a>(s: &'a str) -> char { let q = '\"'; let e = '\\''; 'x' } // c";
        let lines = split(source, RUST);
        assert_eq!(lines[0].comment, "// c");
        assert!(lines[0].code.contains("&'a str"));
    }

    #[test]
    fn javascript_single_quotes_and_templates_are_strings() {
        let source = "icon('M6 4h12 // x'); const t = `W4 ${a}`; // W7\n";
        let lines = split(source, JAVASCRIPT);
        assert_eq!(lines[0].comment, "// W7");
        assert!(!lines[0].code.contains("M6"));
    }

    #[test]
    fn other_languages_have_their_own_comments() {
        assert_eq!(comments("x -- I3\n", SQL), ["-- I3"]);
        assert_eq!(comments("a = \"#1\" # R7\n", TOML), ["# R7"]);
        assert_eq!(comments("<p>don't</p><!-- S1 -->", HTML), ["<!-- S1 -->"]);
        assert_eq!(comments("a { } /* I2 */", CSS), ["/* I2 */"]);
    }

    #[test]
    fn line_numbers_match_the_source() {
        let source = "a\n\"multi\nline\"\nb\n";
        assert_eq!(split(source, RUST).len(), source.lines().count());
    }
}
