//! HTML-only email to plain text in the safe Markdown subset of messages
//! (`natter_protocol::markdown`): `**bold**`, `*italic*`, `[text](https://…)` links, line breaks.
//! No tag survives; `<script>`, `<style>`, `<head>` and their kin are dropped with their content;
//! entities are decoded.
//!
//! Quoted history is cut here, where the structure still shows it: every `<blockquote>` (its
//! subtree only, so interleaved answers after it stay), and everything from Gmail's
//! `div.gmail_quote`, Thunderbird's `div.moz-cite-prefix`, Outlook's `#divRplyFwdMsg`,
//! `#appendonsend` and `#mail-editor-reference-message-container`, Yahoo's `.yahoo_quoted` to
//! the end of the document. The caller then runs `quotes::visible_text` on the result for what
//! only shows as text (Outlook desktop's bold "From:/Sent:" block, signatures).
//!
//! A small tolerant tokenizer instead of an HTML crate: mail HTML needs no DOM here, and the
//! quote cutting needs to see each element's classes and ids as they stream by.

use natter_protocol::markdown::safe_href;

/// Elements dropped together with everything inside them.
const SKIPPED: &[&str] = &[
    "head", "script", "style", "title", "template", "noscript", "xml", "svg", "object",
];

/// Elements whose content is raw text (no tags inside), so their end tag is searched directly.
const RAW_TEXT: &[&str] = &["script", "style", "title", "xml", "textarea"];

/// Block elements: a line break before and after.
const BLOCKS: &[&str] = &[
    "div", "li", "tr", "ul", "ol", "table", "pre", "hr", "address", "section", "article", "header",
    "footer", "center", "dl", "dt", "dd", "form", "fieldset", "main", "nav", "aside", "tbody",
    "thead", "figure",
];

/// How many links may be open inside each other; deeper ones are plain text. Each closing link
/// copies its text, so this bounds the work on hostile nesting.
const MAX_OPEN_LINKS: usize = 4;

/// Paragraph-like blocks: a blank line before and after.
const PARAGRAPHS: &[&str] = &["p", "h1", "h2", "h3", "h4", "h5", "h6"];

/// Class names after which the rest of the document is quoted history.
const HISTORY_CLASSES: &[&str] = &["gmail_quote", "moz-cite-prefix", "yahoo_quoted"];

/// Ids after which the rest of the document is quoted history.
const HISTORY_IDS: &[&str] = &[
    "divrplyfwdmsg",
    "appendonsend",
    "mail-editor-reference-message-container",
];

/// Converts an HTML mail body to Markdown-subset text, quoted history cut (see the module doc).
pub fn html_to_text(html: &str) -> String {
    let mut writer = Writer::default();
    let mut rest = html;
    while !rest.is_empty() {
        rest = match rest.find('<') {
            Some(0) => step_markup(rest, &mut writer),
            Some(at) => {
                writer.text(&decode_entities(&rest[..at]));
                &rest[at..]
            }
            None => {
                writer.text(&decode_entities(rest));
                ""
            }
        };
        if writer.done {
            break;
        }
    }
    writer.finish()
}

/// Handles the markup at the start of `rest` (which starts with `<`), returns what follows it.
fn step_markup<'a>(rest: &'a str, writer: &mut Writer) -> &'a str {
    if let Some(comment) = rest.strip_prefix("<!--") {
        return comment.find("-->").map_or("", |end| &comment[end + 3..]);
    }
    if rest.starts_with("<!") || rest.starts_with("<?") {
        return rest.find('>').map_or("", |end| &rest[end + 1..]);
    }
    match parse_tag(rest) {
        Some((tag, after)) => handle_tag(&tag, after, writer),
        None => {
            // A lone "<" (as in "a < b") is text.
            writer.text("<");
            &rest[1..]
        }
    }
}

/// Applies one tag to the writer, returns the input that follows (past skipped content).
fn handle_tag<'a>(tag: &Tag, after: &'a str, writer: &mut Writer) -> &'a str {
    let name = tag.name.as_str();
    if tag.closing {
        writer.close(name);
        return after;
    }
    if is_history_start(tag) {
        writer.done = true;
        return "";
    }
    if SKIPPED.contains(&name) || name == "blockquote" {
        return skip_element(name, after, tag.self_closing);
    }
    writer.open(tag);
    after
}

/// Whether the rest of the document from this tag on is quoted history.
fn is_history_start(tag: &Tag) -> bool {
    let classes = tag.attr("class").unwrap_or_default().to_ascii_lowercase();
    let id = tag.attr("id").unwrap_or_default().to_ascii_lowercase();
    classes
        .split_ascii_whitespace()
        .any(|c| HISTORY_CLASSES.contains(&c))
        || HISTORY_IDS.contains(&id.as_str())
}

/// Skips the content of element `name` up to its matching end tag, returns what follows.
fn skip_element<'a>(name: &str, after: &'a str, self_closing: bool) -> &'a str {
    if self_closing {
        return after;
    }
    if RAW_TEXT.contains(&name) {
        return find_end_tag(after, name).unwrap_or("");
    }
    let mut depth = 1usize;
    let mut rest = after;
    while let Some(at) = rest.find('<') {
        rest = &rest[at..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let Some((tag, next)) = parse_tag(rest) else {
            rest = &rest[1..];
            continue;
        };
        rest = next;
        if tag.name != name {
            continue;
        }
        if tag.closing {
            depth -= 1;
            if depth == 0 {
                return rest;
            }
        } else if !tag.self_closing {
            depth += 1;
        }
    }
    ""
}

/// The input after `</name>` (ASCII case-insensitive), if there is one. Scans forward only,
/// so many raw-text elements in a row stay linear.
fn find_end_tag<'a>(input: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(at) = input[from..].find("</") {
        let after = &input[from + at + 2..];
        let matches = after
            .as_bytes()
            .get(..name.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(name.as_bytes()));
        if matches {
            let end = after.find('>')?;
            return Some(&after[end + 1..]);
        }
        from += at + 2;
    }
    None
}

/// A parsed start or end tag.
#[derive(Debug)]
struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    attrs: Vec<(String, String)>,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the tag at the start of `input` (`<name …>` or `</name>`); `None` if it is no tag.
fn parse_tag(input: &str) -> Option<(Tag, &str)> {
    let body = input.strip_prefix('<')?;
    let (closing, body) = match body.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '-' || c == '_'))
        .unwrap_or(body.len());
    if name_len == 0 || !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let name = body[..name_len].to_ascii_lowercase();
    let (attrs, self_closing, rest) = parse_attrs(&body[name_len..]);
    Some((
        Tag {
            name,
            closing,
            self_closing,
            attrs,
        },
        rest,
    ))
}

/// Parses attributes up to the closing `>`; returns them, whether the tag ended in `/>`, and
/// the input after the tag.
fn parse_attrs(mut input: &str) -> (Vec<(String, String)>, bool, &str) {
    let mut attrs = Vec::new();
    loop {
        input = input.trim_start();
        if let Some(rest) = input.strip_prefix("/>") {
            return (attrs, true, rest);
        }
        if let Some(rest) = input.strip_prefix('>') {
            return (attrs, false, rest);
        }
        let Some(first) = input.chars().next() else {
            return (attrs, false, "");
        };
        let name_len = input
            .find(|c: char| c.is_whitespace() || c == '=' || c == '>' || c == '/')
            .unwrap_or(input.len())
            .max(first.len_utf8());
        let name = input[..name_len].to_ascii_lowercase();
        input = input[name_len..].trim_start();
        let value = match input.strip_prefix('=') {
            Some(rest) => {
                let (value, rest) = parse_attr_value(rest.trim_start());
                input = rest;
                decode_entities(value)
            }
            None => String::new(),
        };
        attrs.push((name, value));
    }
}

/// One attribute value, quoted or not; returns it and the input after it.
fn parse_attr_value(input: &str) -> (&str, &str) {
    for quote in ['"', '\''] {
        if let Some(rest) = input.strip_prefix(quote) {
            return match rest.find(quote) {
                Some(end) => (&rest[..end], &rest[end + 1..]),
                None => (rest, ""),
            };
        }
    }
    let end = input
        .find(|c: char| c.is_whitespace() || c == '>')
        .unwrap_or(input.len());
    (&input[..end], &input[end..])
}

/// An emphasis mark: `**` or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Bold,
    Italic,
}

impl Mark {
    fn of(name: &str) -> Option<Mark> {
        match name {
            "b" | "strong" => Some(Mark::Bold),
            "i" | "em" => Some(Mark::Italic),
            _ => None,
        }
    }

    fn token(self) -> &'static str {
        match self {
            Mark::Bold => "**",
            Mark::Italic => "*",
        }
    }
}

/// An emphasis mark that is open: `written` once its token is in the output. Marks are written
/// lazily, right before the next word, so that `<b> </b>` leaves nothing and `<b> x </b>`
/// becomes ` **x** ` (the Markdown subset needs the marks next to the words).
#[derive(Debug)]
struct OpenMark {
    mark: Mark,
    written: bool,
}

/// An open `<a href>` with a safe target: where its text starts in the output.
#[derive(Debug)]
struct OpenLink {
    href: String,
    start: usize,
}

/// Builds the output text.
#[derive(Debug, Default)]
struct Writer {
    out: String,
    /// A collapsed run of white space is pending: written as one space before the next word.
    space: bool,
    marks: Vec<OpenMark>,
    links: Vec<OpenLink>,
    /// Inside `<pre>`: white space is kept.
    pre: usize,
    /// Open `<a>` tags without a safe target (their end tags must not close a safe one).
    plain_anchors: usize,
    /// Quoted history started: nothing more is written.
    done: bool,
    /// The document writes lines as Word paragraphs (see [`is_word_line`]).
    word_lines: bool,
}

impl Writer {
    fn open(&mut self, tag: &Tag) {
        let name = tag.name.as_str();
        if let Some(mark) = Mark::of(name) {
            if !self.marks.iter().any(|m| m.mark == mark) {
                self.marks.push(OpenMark {
                    mark,
                    written: false,
                });
            }
            return;
        }
        match name {
            "br" => self.newline(),
            "a" => self.open_link(tag.attr("href").unwrap_or_default()),
            "li" => {
                self.block_break(1);
                self.out.push_str("- ");
            }
            "td" | "th" => self.space = true,
            "pre" => {
                self.block_break(1);
                self.pre += 1;
            }
            // Word writes every line as `<p class=MsoNormal>` with no margin.
            "p" if is_word_line(tag) => {
                self.word_lines = true;
                self.block_break(1);
            }
            _ if PARAGRAPHS.contains(&name) => self.block_break(2),
            _ if BLOCKS.contains(&name) => self.block_break(1),
            _ => {}
        }
    }

    fn close(&mut self, name: &str) {
        if let Some(mark) = Mark::of(name) {
            self.close_mark(mark);
            return;
        }
        match name {
            "a" => self.close_link(),
            "p" if self.word_lines => self.block_break(1),
            "pre" => {
                self.pre = self.pre.saturating_sub(1);
                self.block_break(1);
            }
            _ if PARAGRAPHS.contains(&name) => self.block_break(2),
            _ if BLOCKS.contains(&name) => self.block_break(1),
            _ => {}
        }
    }

    fn close_mark(&mut self, mark: Mark) {
        let Some(index) = self.marks.iter().rposition(|m| m.mark == mark) else {
            return;
        };
        // Close the marks opened inside it too, innermost first, as HTML would.
        while self.marks.len() > index {
            if let Some(open) = self.marks.pop() {
                if open.written {
                    self.out.push_str(open.mark.token());
                }
            }
        }
    }

    fn open_link(&mut self, href: &str) {
        let href = href.trim();
        if safe_href(href) && self.links.len() < MAX_OPEN_LINKS {
            self.flush_space();
            self.links.push(OpenLink {
                href: href.to_string(),
                start: self.out.len(),
            });
        } else {
            self.plain_anchors += 1;
        }
    }

    fn close_link(&mut self) {
        if self.plain_anchors > 0 {
            self.plain_anchors -= 1;
            return;
        }
        let Some(link) = self.links.pop() else {
            return;
        };
        let start = link.start.min(self.out.len());
        let label = self.out[start..].replace('\n', " ");
        let label = label.trim();
        let same = label.trim_start_matches("mailto:") == link.href.trim_start_matches("mailto:");
        let replacement = if label.is_empty() || same {
            // An image-only link says nothing in text; a bare URL is a link in the Markdown
            // subset already, and a bare address reads fine.
            label.to_string()
        } else {
            format!("[{}]({})", label.replace(['[', ']'], ""), link.href)
        };
        self.out.truncate(start);
        self.out.push_str(&replacement);
    }

    /// Writes a piece of decoded text, collapsing white space outside `<pre>`.
    fn text(&mut self, text: &str) {
        if self.done {
            return;
        }
        if self.pre > 0 {
            for (i, line) in text.split('\n').enumerate() {
                if i > 0 {
                    self.newline();
                }
                if !line.is_empty() {
                    self.word(line);
                }
            }
            return;
        }
        for (i, word) in text.split(is_html_space).enumerate() {
            if i > 0 {
                self.space = true;
            }
            if !word.is_empty() {
                self.word(word);
            }
        }
    }

    fn word(&mut self, word: &str) {
        self.flush_space();
        for open in self.marks.iter_mut().filter(|m| !m.written) {
            self.out.push_str(open.mark.token());
            open.written = true;
        }
        // A no-break space is a real character (Outlook's `<p>&nbsp;</p>` is a blank line),
        // written as a plain space.
        self.out.push_str(&word.replace('\u{a0}', " "));
    }

    fn flush_space(&mut self) {
        if self.space && !self.at_line_start() {
            self.out.push(' ');
        }
        self.space = false;
    }

    fn at_line_start(&self) -> bool {
        self.out.is_empty() || self.out.ends_with('\n')
    }

    /// A hard line break; open marks are closed before it and reopened after it, because the
    /// Markdown subset reads each line on its own.
    fn newline(&mut self) {
        self.close_written_marks();
        self.out.push('\n');
        self.space = false;
    }

    /// Ensures the output ends with `count` line breaks (none at the very start).
    fn block_break(&mut self, count: usize) {
        self.space = false;
        if self.out.is_empty() {
            return;
        }
        self.close_written_marks();
        let have = self.out.len() - self.out.trim_end_matches('\n').len();
        for _ in have..count {
            self.out.push('\n');
        }
    }

    fn close_written_marks(&mut self) {
        for open in self.marks.iter_mut().rev().filter(|m| m.written) {
            self.out.push_str(open.mark.token());
            open.written = false;
        }
    }

    fn finish(mut self) -> String {
        self.close_written_marks();
        let lines: Vec<&str> = self.out.lines().map(str::trim_end).collect();
        let mut text = String::new();
        let mut blanks = 0;
        for line in lines {
            if line.is_empty() {
                blanks += 1;
                continue;
            }
            if !text.is_empty() {
                text.push_str(if blanks > 0 { "\n\n" } else { "\n" });
            }
            blanks = 0;
            text.push_str(line);
        }
        text
    }
}

/// A paragraph of Microsoft Word's HTML (Outlook desktop): one line, not a paragraph.
fn is_word_line(tag: &Tag) -> bool {
    tag.attr("class").is_some_and(|c| {
        c.split_ascii_whitespace()
            .any(|c| c.eq_ignore_ascii_case("msonormal"))
    })
}

/// HTML white space (not the no-break space, which is content).
fn is_html_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

/// Decodes character references: numeric ones and the named ones that mail actually uses.
/// An unknown or unterminated reference stays as written.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match decode_one(rest) {
            Some((decoded, len)) => {
                out.push(decoded);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes the reference at the start of `input` (which starts with `&`): the character and
/// the length of the reference.
fn decode_one(input: &str) -> Option<(char, usize)> {
    // References are short: looking only this far keeps text full of "&" linear.
    let end = input.bytes().take(34).position(|b| b == b';')?;
    let name = &input[1..end];
    let decoded = match name.strip_prefix('#') {
        Some(number) => decode_numeric(number)?,
        None => named_entity(name)?,
    };
    Some((decoded, end + 1))
}

fn decode_numeric(number: &str) -> Option<char> {
    let code = match number.strip_prefix(['x', 'X']) {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => number.parse().ok()?,
    };
    // NUL and invalid code points become the replacement character, as browsers do.
    Some(
        char::from_u32(code)
            .filter(|&c| c != '\0')
            .unwrap_or('\u{fffd}'),
    )
}

/// The named references seen in mail: markup, typography and Latin-1 letters.
fn named_entity(name: &str) -> Option<char> {
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "shy" => '\u{ad}',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "lsaquo" => '‹',
        "rsaquo" => '›',
        "bull" => '•',
        "middot" => '·',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "para" => '¶',
        "deg" => '°',
        "plusmn" => '±',
        "times" => '×',
        "divide" => '÷',
        "frac12" => '½',
        "frac14" => '¼',
        "frac34" => '¾',
        "iexcl" => '¡',
        "iquest" => '¿',
        "ordf" => 'ª',
        "ordm" => 'º',
        "micro" => 'µ',
        "zwnj" => '\u{200c}',
        "zwj" => '\u{200d}',
        "thinsp" => '\u{2009}',
        "ensp" => '\u{2002}',
        "emsp" => '\u{2003}',
        _ => return latin1_letter(name),
    };
    Some(c)
}

/// Latin-1 letters: `&auml;`, `&Eacute;`, `&szlig;` …
fn latin1_letter(name: &str) -> Option<char> {
    const TABLE: &[(&str, char)] = &[
        ("Agrave", 'À'),
        ("Aacute", 'Á'),
        ("Acirc", 'Â'),
        ("Atilde", 'Ã'),
        ("Auml", 'Ä'),
        ("Aring", 'Å'),
        ("AElig", 'Æ'),
        ("Ccedil", 'Ç'),
        ("Egrave", 'È'),
        ("Eacute", 'É'),
        ("Ecirc", 'Ê'),
        ("Euml", 'Ë'),
        ("Igrave", 'Ì'),
        ("Iacute", 'Í'),
        ("Icirc", 'Î'),
        ("Iuml", 'Ï'),
        ("ETH", 'Ð'),
        ("Ntilde", 'Ñ'),
        ("Ograve", 'Ò'),
        ("Oacute", 'Ó'),
        ("Ocirc", 'Ô'),
        ("Otilde", 'Õ'),
        ("Ouml", 'Ö'),
        ("Oslash", 'Ø'),
        ("Ugrave", 'Ù'),
        ("Uacute", 'Ú'),
        ("Ucirc", 'Û'),
        ("Uuml", 'Ü'),
        ("Yacute", 'Ý'),
        ("THORN", 'Þ'),
        ("szlig", 'ß'),
        ("agrave", 'à'),
        ("aacute", 'á'),
        ("acirc", 'â'),
        ("atilde", 'ã'),
        ("auml", 'ä'),
        ("aring", 'å'),
        ("aelig", 'æ'),
        ("ccedil", 'ç'),
        ("egrave", 'è'),
        ("eacute", 'é'),
        ("ecirc", 'ê'),
        ("euml", 'ë'),
        ("igrave", 'ì'),
        ("iacute", 'í'),
        ("icirc", 'î'),
        ("iuml", 'ï'),
        ("eth", 'ð'),
        ("ntilde", 'ñ'),
        ("ograve", 'ò'),
        ("oacute", 'ó'),
        ("ocirc", 'ô'),
        ("otilde", 'õ'),
        ("ouml", 'ö'),
        ("oslash", 'ø'),
        ("ugrave", 'ù'),
        ("uacute", 'ú'),
        ("ucirc", 'û'),
        ("uuml", 'ü'),
        ("yacute", 'ý'),
        ("thorn", 'þ'),
        ("yuml", 'ÿ'),
        ("OElig", 'Œ'),
        ("oelig", 'œ'),
        ("Scaron", 'Š'),
        ("scaron", 'š'),
        ("Yuml", 'Ÿ'),
    ];
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::{decode_entities, html_to_text};

    #[test]
    fn formatting_links_and_entities() {
        let html = "<p>Hi <b>Anna</b>, see <a href=\"https://x.example/a?b=1&amp;c=2\">the <i>docs</i></a> &amp; <a href=\"javascript:alert(1)\">this</a>.</p><p>Caf&eacute; &#8364;5&nbsp;now</p>";
        assert_eq!(
            html_to_text(html),
            "Hi **Anna**, see [the *docs*](https://x.example/a?b=1&c=2) & this.\n\nCafé €5 now"
        );
    }

    #[test]
    fn scripts_styles_and_head_are_dropped() {
        let html = "<html><head><title>t</title><style>p{color:red}</style></head><body><script>alert('<b>')</script><div>Visible</div></body></html>";
        assert_eq!(html_to_text(html), "Visible");
    }

    #[test]
    fn blank_emphasis_and_breaks() {
        assert_eq!(html_to_text("a<b> </b>b"), "a b");
        assert_eq!(html_to_text("<b>one<br>two</b>"), "**one**\n**two**");
        assert_eq!(
            html_to_text("<div>a</div><div><br></div><div>b</div>"),
            "a\n\nb"
        );
    }

    #[test]
    fn quotes_are_cut() {
        let html = "<div>Answer</div><blockquote type=\"cite\">old</blockquote><div>More</div><div class=\"gmail_quote\">On … wrote:<blockquote>x</blockquote></div>";
        assert_eq!(html_to_text(html), "Answer\nMore");
    }

    #[test]
    fn unknown_entities_stay() {
        assert_eq!(
            decode_entities("a &bogus; &amp b &#x41;"),
            "a &bogus; &amp b A"
        );
    }
}
