//! Cuts the quoted history and the signature from a plain-text email reply, so that only what
//! the customer wrote this time reaches the conversation (peers.md §4: quoted replies with
//! signatures "look bad", cw#980).
//!
//! Conventions handled by [`visible_text`]:
//! - attribution lines followed by quoted history: Gmail and Thunderbird
//!   "On <date>, <name> <addr> wrote:" (also wrapped over two lines), Apple Mail
//!   "On <date>, at <time>, <name> wrote:", German "Am <date> schrieb <name>:" and
//!   "<name> schrieb am <date>:", French "Le <date>, <name> a écrit :" (and Spanish
//!   "El … escribió:", Dutch "Op … schreef …:", Italian "Il … ha scritto:");
//! - Outlook's "-----Original Message-----" (and its German and French forms) and its header
//!   block "From: … Sent: … To: … Subject:", German "Von: … Gesendet: … An: … Betreff:", French
//!   "De : … Envoyé : … À : … Objet :" (Spanish, Dutch and Italian labels too), with or without
//!   a `____` rule or `**bold**` labels;
//! - lines starting with `>`, also interleaved with the customer's answers (the answers stay);
//! - the signature separator `-- ` (and a bare `--`);
//! - mobile footers: "Sent from my iPhone", "Von meinem iPhone gesendet",
//!   "Envoyé de mon iPhone", "Sent from Outlook for Android", "Get Outlook for iOS" and kin.
//!
//! An attribution line is only cut when nothing but quoted lines (or nothing) follows it, so an
//! innocent "On Monday my colleague wrote:" in the middle of a reply stays.

/// Lines from which a mobile client's footer starts (compared in lower case).
const MOBILE_FOOTERS: &[&str] = &[
    "sent from my ",
    "sent from outlook",
    "sent from mail for windows",
    "sent from yahoo mail",
    "get outlook for ",
    "gesendet von meinem ",
    "envoyé de mon ",
    "envoyé depuis mon ",
    "obtenir outlook pour ",
    "outlook für ",
];

/// Outlook's separator lines, without their dashes (lower case).
const ORIGINAL_MESSAGE: &[&str] = &[
    "original message",
    "ursprüngliche nachricht",
    "originalnachricht",
    "message d'origine",
    "message d’origine",
];

/// First labels of a quoted header block (lower case, without the colon's spacing).
const FROM_LABELS: &[&str] = &["from", "von", "de", "van", "da"];

/// Date labels of a quoted header block.
const DATE_LABELS: &[&str] = &[
    "sent",
    "date",
    "gesendet",
    "datum",
    "envoyé",
    "enviado",
    "verzonden",
    "inviato",
    "data",
];

/// Subject labels of a quoted header block.
const SUBJECT_LABELS: &[&str] = &[
    "subject",
    "betreff",
    "objet",
    "asunto",
    "onderwerp",
    "oggetto",
];

/// A footer line longer than this is prose, not a footer.
const MAX_FOOTER_LEN: usize = 80;

/// Returns the part of a plain-text reply that the sender wrote: quoted history, attribution
/// lines and signature cut, runs of blank lines collapsed, trimmed. If that leaves nothing (a
/// reply made only of quotes), returns the text without its `>` lines, or else the whole text,
/// so that a message never silently becomes empty.
pub fn visible_text(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let reply = Reply::new(normalized.split('\n').collect());
    let kept = reply.drop_quotes(reply.cut_index());
    let visible = tidy(&kept);
    if !visible.is_empty() {
        return visible;
    }
    let unquoted: Vec<&str> = reply
        .lines
        .iter()
        .copied()
        .filter(|l| !is_quoted(l))
        .collect();
    let fallback = tidy(&unquoted);
    if fallback.is_empty() {
        tidy(&reply.lines)
    } else {
        fallback
    }
}

/// The lines of a reply, with what the scans need precomputed so that hostile input (many
/// attribution-like lines) stays linear.
struct Reply<'a> {
    lines: Vec<&'a str>,
    /// `quoted_tail[i]`: every line from `i` on is blank or quoted.
    quoted_tail: Vec<bool>,
    /// `next_content[i]`: the first non-blank line at or after `i`, if any.
    next_content: Vec<Option<usize>>,
}

impl<'a> Reply<'a> {
    fn new(lines: Vec<&'a str>) -> Self {
        let n = lines.len();
        let mut quoted_tail = vec![true; n + 1];
        let mut next_content = vec![None; n + 1];
        for i in (0..n).rev() {
            let blank = lines[i].trim().is_empty();
            quoted_tail[i] = quoted_tail[i + 1] && (blank || is_quoted(lines[i]));
            next_content[i] = if blank { next_content[i + 1] } else { Some(i) };
        }
        Reply {
            lines,
            quoted_tail,
            next_content,
        }
    }

    fn next_content_line(&self, from: usize) -> Option<&'a str> {
        let index = (*self.next_content.get(from)?)?;
        Some(self.lines[index])
    }

    /// The index of the first line of the trailing history or signature (`len` if none),
    /// moved up over the blank lines and horizontal rules that introduce it.
    fn cut_index(&self) -> usize {
        let lines = &self.lines;
        let Some(mut cut) = (0..lines.len()).find(|&i| self.starts_trailing_block(i)) else {
            return lines.len();
        };
        while cut > 0 && (lines[cut - 1].trim().is_empty() || is_rule(lines[cut - 1])) {
            cut -= 1;
        }
        cut
    }

    /// Whether the trailing (quoted or signature) part of the reply starts at line `i`.
    fn starts_trailing_block(&self, i: usize) -> bool {
        let line = self.lines[i];
        is_signature_separator(line)
            || is_original_message_separator(line)
            || is_header_block(&self.lines, i)
            || self
                .attribution_len(i)
                .is_some_and(|len| self.quoted_tail[i + len])
            || is_mobile_footer(line) && self.history_follows(i + 1)
    }

    /// Whether what follows a footer line is history: nothing, quotes, a rule, a separator, a
    /// header block or an attribution. Keeps "Sent from my laptop, sorry for typos" mid-reply.
    fn history_follows(&self, from: usize) -> bool {
        let Some(index) = self.next_content.get(from).copied().flatten() else {
            return true;
        };
        let line = self.lines[index];
        is_quoted(line)
            || is_rule(line)
            || is_signature_separator(line)
            || is_original_message_separator(line)
            || is_header_block(&self.lines, index)
            || self.attribution_len(index).is_some()
    }

    /// If an attribution ("On … wrote:") starts at line `i`, how many lines it spans (1 or 2).
    fn attribution_len(&self, i: usize) -> Option<usize> {
        let first = self.lines[i].trim();
        if first.is_empty() || is_quoted(first) {
            return None;
        }
        if is_attribution(first) {
            return Some(1);
        }
        let next = self.lines.get(i + 1)?.trim();
        if next.is_empty() || is_quoted(next) {
            return None;
        }
        is_attribution(&format!("{first} {next}")).then_some(2)
    }

    /// The lines before `end` without quoted lines and the attribution lines that introduce
    /// them, keeping interleaved answers.
    fn drop_quotes(&self, end: usize) -> Vec<&'a str> {
        let mut kept = Vec::with_capacity(end);
        let mut i = 0;
        while i < end {
            let line = self.lines[i];
            if is_quoted(line) {
                i += 1;
                continue;
            }
            if let Some(len) = self.attribution_len(i) {
                if self.next_content_line(i + len).is_some_and(is_quoted) {
                    i += len;
                    continue;
                }
            }
            kept.push(line);
            i += 1;
        }
        kept
    }
}

fn is_signature_separator(line: &str) -> bool {
    line == "-- " || line.trim_end() == "--"
}

fn is_mobile_footer(line: &str) -> bool {
    let lower = line.trim().to_lowercase();
    let german_iphone = lower.starts_with("von meinem ") && lower.ends_with("gesendet");
    lower.len() <= MAX_FOOTER_LEN
        && (german_iphone || MOBILE_FOOTERS.iter().any(|f| lower.starts_with(f)))
}

fn is_original_message_separator(line: &str) -> bool {
    let trimmed = line.trim();
    if !trimmed.starts_with("--") {
        return false;
    }
    let inner = trimmed.trim_matches(|c: char| c == '-' || c.is_whitespace());
    ORIGINAL_MESSAGE.contains(&inner.to_lowercase().as_str())
}

/// A line of at least ten `_` or `-` only: Outlook's rule above a header block.
fn is_rule(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.len() >= 10 && trimmed.chars().all(|c| c == '_' || c == '-')
}

/// The label of a `Label: value` line, lower-cased, with `*` bold markers and the French space
/// before the colon removed; `None` if the line is not one.
fn header_label(line: &str) -> Option<String> {
    let stripped = line.trim().trim_start_matches('*');
    let (label, _) = stripped.split_once(':')?;
    let label = label.trim_end_matches('*').trim();
    if label.is_empty() || label.chars().count() > 12 || label.contains(char::is_whitespace) {
        return None;
    }
    Some(label.to_lowercase())
}

/// A "From: … Sent: … Subject: …" block: a From label followed, within the next six lines,
/// by a date label and a subject label. Requiring both keeps a customer's own
/// "From: Berlin / To: Paris" lines.
fn is_header_block(lines: &[&str], i: usize) -> bool {
    let is_from = header_label(lines[i]).is_some_and(|l| FROM_LABELS.contains(&l.as_str()));
    if !is_from {
        return false;
    }
    let labels: Vec<String> = lines
        .iter()
        .skip(i + 1)
        .take(6)
        .filter_map(|l| header_label(l))
        .collect();
    let has = |set: &[&str]| labels.iter().any(|l| set.contains(&l.as_str()));
    has(DATE_LABELS) && has(SUBJECT_LABELS)
}

/// Whether one (possibly re-joined) line reads like a reply attribution.
fn is_attribution(line: &str) -> bool {
    let lower = line.to_lowercase();
    let english = lower.ends_with(" wrote:")
        && (lower.starts_with("on ") || lower.contains('@') || lower.split(' ').count() <= 5);
    let german = lower.ends_with(':')
        && (lower.starts_with("am ") && lower.contains(" schrieb ")
            || lower.contains(" schrieb am "));
    let french =
        lower.starts_with("le ") && (lower.ends_with(" a écrit :") || lower.ends_with(" a écrit:"));
    let others = lower.starts_with("el ") && lower.ends_with(" escribió:")
        || lower.starts_with("op ") && lower.contains(" schreef ") && lower.ends_with(':')
        || lower.starts_with("il ") && lower.ends_with(" ha scritto:");
    english || german || french || others
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// Joins lines without trailing spaces, with at most one blank line in a row, trimmed.
fn tidy(lines: &[&str]) -> String {
    let mut out = String::new();
    let mut blank_run = 0;
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::visible_text;

    #[test]
    fn gmail_attribution_wrapped_over_two_lines_is_cut() {
        let text = "Yes, thanks!\n\nOn Tue, 4 Mar 2025 at 10:15, Natter Support <\nreply+a@natter.example> wrote:\n\n> Hello\n> there\n";
        assert_eq!(visible_text(text), "Yes, thanks!");
    }

    #[test]
    fn innocent_wrote_line_followed_by_prose_stays() {
        let text = "Hi,\n\nOn Monday my colleague wrote:\nthe invoice is wrong.\n\nAnna";
        assert_eq!(visible_text(text), text);
    }

    #[test]
    fn interleaved_answers_stay() {
        let text =
            "On Tue, Jane <j@x.example> wrote:\n> Which plan?\nThe small one.\n> When?\nToday.\n";
        assert_eq!(visible_text(text), "The small one.\nToday.");
    }

    #[test]
    fn outlook_header_block_with_bold_labels_is_cut() {
        let text = "Fine.\n\n**From:** Natter <a@b.example>\n**Sent:** Monday\n**To:** me\n**Subject:** Re: x\n\nold text";
        assert_eq!(visible_text(text), "Fine.");
    }

    #[test]
    fn quote_only_reply_does_not_become_empty() {
        let text = "> only\n> quoted\n";
        assert_eq!(visible_text(text), "> only\n> quoted");
        let text = "On Tue, Jane <j@x.example> wrote:\n> only quoted\n";
        assert_eq!(visible_text(text), "On Tue, Jane <j@x.example> wrote:");
    }

    #[test]
    fn signature_and_mobile_footer_are_cut() {
        assert_eq!(visible_text("Ok\n-- \nJane\nACME"), "Ok");
        assert_eq!(visible_text("Ok\n--\nJane"), "Ok");
        assert_eq!(
            visible_text("Ok\n\nVon meinem iPhone gesendet\n\n> alt"),
            "Ok"
        );
    }
}
