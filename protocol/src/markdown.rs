//! The safe Markdown subset of messages (I13, S5): `**bold**`, `*italic*` / `_italic_`,
//! `[text](https://…)` and bare `https://…` links, and line breaks. Nothing else is markup:
//! raw HTML, images and scripts stay plain text.
//!
//! [`parse`] turns text into [`Inline`] nodes that a UI renders as elements with text nodes
//! (never as HTML), so the console and the widget render a message identically from the same
//! function. Links only ever carry `http`, `https` or `mailto` targets and must be rendered
//! with [`LINK_REL`].

/// The `rel` of every rendered link.
pub const LINK_REL: &str = "noopener noreferrer nofollow";

/// How deep emphasis may nest (bounds the work on hostile input).
const MAX_DEPTH: usize = 3;

/// A piece of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline {
    Text(String),
    Bold(Vec<Inline>),
    Italic(Vec<Inline>),
    Link { href: String, children: Vec<Inline> },
    LineBreak,
}

/// Whether a link target is allowed: http(s) or mailto, no spaces or quotes.
pub fn safe_href(href: &str) -> bool {
    let lower = href.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:"))
        && href.len() > 8
        && !href
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'<>`".contains(c))
}

/// Parses a message into inline nodes.
pub fn parse(text: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push(Inline::LineBreak);
        }
        out.extend(inline(line.trim_end_matches('\r'), 0));
    }
    out
}

fn is_boundary(c: Option<char>) -> bool {
    c.is_none_or(|c| c.is_whitespace() || c.is_ascii_punctuation())
}

fn inline(s: &str, depth: usize) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, out: &mut Vec<Inline>| {
        if !text.is_empty() {
            out.push(Inline::Text(std::mem::take(text)));
        }
    };
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if depth < MAX_DEPTH && rest.starts_with("**") {
            if let Some(end) = rest[2..].find("**").filter(|end| *end > 0) {
                flush(&mut text, &mut out);
                out.push(Inline::Bold(inline(&rest[2..2 + end], depth + 1)));
                i += end + 4;
                continue;
            }
        }
        if depth < MAX_DEPTH && (rest.starts_with('*') || rest.starts_with('_')) {
            let marker = &rest[..1];
            let before = s[..i].chars().next_back();
            let opens = !rest[1..].starts_with(char::is_whitespace)
                && (marker == "*" || is_boundary(before));
            if let Some(end) = rest[1..].find(marker).filter(|end| *end > 0 && opens) {
                let after = rest[1 + end + 1..].chars().next();
                let closes = !rest[1..1 + end].ends_with(char::is_whitespace)
                    && (marker == "*" || is_boundary(after));
                if closes {
                    flush(&mut text, &mut out);
                    out.push(Inline::Italic(inline(&rest[1..1 + end], depth + 1)));
                    i += end + 2;
                    continue;
                }
            }
        }
        if rest.starts_with('[') {
            if let Some(close) = rest.find("](") {
                if let Some(paren) = rest[close + 2..].find(')') {
                    let label = &rest[1..close];
                    let href = &rest[close + 2..close + 2 + paren];
                    if !label.trim().is_empty() && !label.contains('[') && safe_href(href) {
                        flush(&mut text, &mut out);
                        out.push(Inline::Link {
                            href: href.to_owned(),
                            children: inline(label, MAX_DEPTH),
                        });
                        i += close + 2 + paren + 1;
                        continue;
                    }
                }
            }
        }
        let lower = rest.get(..8).unwrap_or(rest).to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            let end = rest
                .find(|c: char| c.is_whitespace() || "<>\"'`".contains(c))
                .unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
            if safe_href(url) {
                flush(&mut text, &mut out);
                out.push(Inline::Link {
                    href: url.to_owned(),
                    children: vec![Inline::Text(url.to_owned())],
                });
                i += url.len();
                continue;
            }
        }
        if let Some(c) = rest.chars().next() {
            text.push(c);
            i += c.len_utf8();
        } else {
            break;
        }
    }
    flush(&mut text, &mut out);
    out
}

/// The nodes as escaped HTML (for email bodies and tests); links get [`LINK_REL`].
pub fn to_html(nodes: &[Inline]) -> String {
    let mut html = String::new();
    for node in nodes {
        match node {
            Inline::Text(text) => escape_into(text, &mut html),
            Inline::Bold(children) => {
                html.push_str("<strong>");
                html.push_str(&to_html(children));
                html.push_str("</strong>");
            }
            Inline::Italic(children) => {
                html.push_str("<em>");
                html.push_str(&to_html(children));
                html.push_str("</em>");
            }
            Inline::Link { href, children } => {
                html.push_str("<a href=\"");
                escape_into(href, &mut html);
                html.push_str("\" rel=\"");
                html.push_str(LINK_REL);
                html.push_str("\" target=\"_blank\">");
                html.push_str(&to_html(children));
                html.push_str("</a>");
            }
            Inline::LineBreak => html.push_str("<br>"),
        }
    }
    html
}

fn escape_into(text: &str, html: &mut String) {
    for c in text.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            c => html.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(text: &str) -> String {
        to_html(&parse(text))
    }

    #[test]
    fn the_subset_renders() {
        assert_eq!(
            html("**Hi** *there*\nsee [our FAQ](https://example.com/faq)"),
            "<strong>Hi</strong> <em>there</em><br>see <a href=\"https://example.com/faq\" \
             rel=\"noopener noreferrer nofollow\" target=\"_blank\">our FAQ</a>"
        );
        assert_eq!(
            html("_a_ and **_b_**"),
            "<em>a</em> and <strong><em>b</em></strong>"
        );
        assert_eq!(
            html("Go to https://example.com/x."),
            "Go to <a href=\"https://example.com/x\" rel=\"noopener noreferrer nofollow\" \
             target=\"_blank\">https://example.com/x</a>."
        );
    }

    #[test]
    fn html_and_unsafe_links_stay_text() {
        assert_eq!(
            html("<script>alert(1)</script><b>x</b>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;"
        );
        assert_eq!(
            html("[click](javascript:alert(1))"),
            "[click](javascript:alert(1))"
        );
        assert_eq!(
            html("[x](https://a.example/\"onmouseover=\"y)"),
            // Not a valid link; the bare URL part is linked, the quote stays escaped text.
            "[x](<a href=\"https://a.example/\" rel=\"noopener noreferrer nofollow\" \
             target=\"_blank\">https://a.example/</a>&quot;onmouseover=&quot;y)"
        );
    }

    #[test]
    fn plain_text_is_left_alone() {
        assert_eq!(
            html("snake_case_name and 2 * 3 * 4"),
            "snake_case_name and 2 * 3 * 4"
        );
        assert_eq!(html("**unclosed and *half"), "**unclosed and *half");
        assert_eq!(
            parse("a\r\nb"),
            vec![
                Inline::Text("a".into()),
                Inline::LineBreak,
                Inline::Text("b".into())
            ]
        );
    }
}
