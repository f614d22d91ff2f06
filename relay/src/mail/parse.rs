//! The inbound door's pure first step: one raw RFC 5322 message in, an [`InboundMail`] out —
//! who wrote, to which addresses, in reply to what, the visible reply text (quoted history and
//! signature cut), real attachments within the limits, and whether it is a person's message,
//! an automatic reply or a bounce. No I/O and no routing: which conversation it belongs to and
//! whether the sender may post there is the caller's business.
//!
//! All MIME work (multipart, charsets, quoted-printable, base64, RFC 2047/2231 words) is
//! `mail-parser`'s; this module only reads its result.

use std::collections::HashSet;

use mail_parser::{
    Address, HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};

use super::html_text::html_to_text;
use super::quotes::visible_text;

/// What an inbound mail may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// An attachment larger than this (decoded) is dropped.
    pub max_attachment_bytes: u64,
    /// Attachments after this many are dropped.
    pub max_attachments: usize,
    /// The visible text is cut to this many characters (an ellipsis included).
    pub max_text_chars: usize,
}

/// An address with its display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The local part as written, `@`, the domain in lower case (local parts may be
    /// case-sensitive, domains are not).
    pub address: String,
    pub name: Option<String>,
}

/// What kind of mail this is, for the caller to decide whether it becomes a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailKind {
    /// Written by a person (newsletters and list mail included).
    Message,
    /// An automatic answer: out-of-office, vacation, autoresponder, delay notice.
    AutoReply,
    /// A delivery failure report; the addresses that could not be delivered to, lower-cased.
    Bounce { failed_recipients: Vec<String> },
}

/// A file sent with the mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundAttachment {
    pub file_name: String,
    /// `type/subtype`, lower case.
    pub content_type: String,
    /// Decoded content.
    pub bytes: Vec<u8>,
}

/// A parsed inbound mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMail {
    /// Without angle brackets.
    pub message_id: Option<String>,
    /// Without angle brackets.
    pub in_reply_to: Vec<String>,
    /// Without angle brackets.
    pub references: Vec<String>,
    pub from: Option<Mailbox>,
    /// To, Cc, Delivered-To and X-Original-To addresses, lower-cased, without duplicates.
    pub recipients: Vec<String>,
    /// Decoded.
    pub subject: Option<String>,
    /// The visible reply: quoted history and signature cut, HTML-only mail converted to the
    /// Markdown subset, trimmed, at most `max_text_chars` characters.
    pub text: String,
    /// Real attachments within the limits (none for a bounce: those carry our own mail back).
    pub attachments: Vec<InboundAttachment>,
    /// File names of attachments refused for their size or count.
    pub dropped_attachments: Vec<String>,
    pub kind: MailKind,
    /// The Date header, unix milliseconds.
    pub sent_at: Option<i64>,
}

/// Why a raw message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not an email message: no RFC 5322 header found")]
    NotAMessage,
    #[error("the message has no From address")]
    NoSender,
}

/// Subjects that mark an Outlook out-of-office reply (which often lacks `Auto-Submitted`).
const OUT_OF_OFFICE_SUBJECTS: &[&str] = &[
    "out of office",
    "automatic reply",
    "automatische antwort",
    "abwesenheitsnotiz",
    "réponse automatique",
    "absence du bureau",
];

/// Local parts that send bounces.
const DAEMON_LOCAL_PARTS: &[&str] = &["mailer-daemon", "postmaster"];

/// Headers of which at least one makes bytes an email rather than garbage with a colon.
const MESSAGE_HEADERS: &[HeaderName<'static>] = &[
    HeaderName::From,
    HeaderName::Sender,
    HeaderName::To,
    HeaderName::Cc,
    HeaderName::Subject,
    HeaderName::Date,
    HeaderName::MessageId,
    HeaderName::Received,
    HeaderName::ReturnPath,
];

/// Parses one raw message.
pub fn parse(raw: &[u8], limits: &ParseLimits) -> Result<InboundMail, ParseError> {
    let message = MessageParser::default()
        .parse(raw)
        .filter(is_email)
        .ok_or(ParseError::NotAMessage)?;
    let from = sender(&message).ok_or(ParseError::NoSender)?;
    let kind = classify(&message, &from);
    // A bounce or report carries our own mail back and machine-readable status parts: nothing
    // there is a file from a person.
    let (attachments, dropped_attachments) =
        if matches!(kind, MailKind::Bounce { .. }) || is_report(&message) {
            (Vec::new(), Vec::new())
        } else {
            collect_attachments(&message, limits)
        };
    Ok(InboundMail {
        message_id: message.message_id().and_then(clean_id),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        from: Some(from),
        recipients: recipients(&message),
        subject: message
            .subject()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        text: cap_chars(&body_text(&message), limits.max_text_chars),
        attachments,
        dropped_attachments,
        kind,
        sent_at: message
            .date()
            .filter(|d| d.is_valid())
            .map(|d| d.to_timestamp().saturating_mul(1000)),
    })
}

fn is_email(message: &Message<'_>) -> bool {
    message.parts.first().is_some_and(|root| {
        root.headers
            .iter()
            .any(|h| MESSAGE_HEADERS.contains(&h.name))
    })
}

/// The first From address that has an `@`.
fn sender(message: &Message<'_>) -> Option<Mailbox> {
    let addr = message
        .from()?
        .iter()
        .find(|a| a.address().is_some_and(|x| x.contains('@')))?;
    Some(Mailbox {
        address: normalize_address(addr.address()?)?,
        name: addr
            .name()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
    })
}

/// `Local@Example.COM` → `Local@example.com`; `None` without a local part or domain.
fn normalize_address(address: &str) -> Option<String> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, domain) = address.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    Some(format!("{local}@{}", domain.to_lowercase()))
}

fn recipients(message: &Message<'_>) -> Vec<String> {
    let listed = message
        .all_to()
        .chain(message.all_cc())
        .flat_map(Address::iter)
        .filter_map(|a| a.address().map(str::to_string));
    let delivered = raw_header_values(message, "Delivered-To")
        .into_iter()
        .chain(raw_header_values(message, "X-Original-To"));
    let mut seen = HashSet::new();
    listed
        .chain(delivered)
        .filter_map(|a| normalize_address(&a).map(|a| a.to_lowercase()))
        .filter(|a| seen.insert(a.clone()))
        .collect()
}

/// The unfolded values of every header `name` (case-insensitive) of the top-level message.
fn raw_header_values(message: &Message<'_>, name: &str) -> Vec<String> {
    message
        .headers_raw()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn has_header(message: &Message<'_>, name: &str) -> bool {
    message
        .headers_raw()
        .any(|(n, _)| n.eq_ignore_ascii_case(name))
}

fn clean_id(id: &str) -> Option<String> {
    let id = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty()).then(|| id.to_string())
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => clean_id(id).into_iter().collect(),
        HeaderValue::TextList(list) => list.iter().filter_map(|id| clean_id(id)).collect(),
        _ => Vec::new(),
    }
}

// --- The visible text ---

/// The text/plain body (RFC 3676 flowed lines re-joined), or, if there is none or it is
/// blank, the HTML body converted; then the quoted history and signature cut.
fn body_text(message: &Message<'_>) -> String {
    let plain: Vec<String> = message
        .text_bodies()
        .filter_map(|part| match &part.body {
            PartType::Text(text) => Some(plain_text(part, text)),
            _ => None,
        })
        .collect();
    let plain = plain.join("\n\n");
    if !plain.trim().is_empty() {
        return visible_text(&plain);
    }
    let html: Vec<String> = message
        .html_bodies()
        .filter_map(|part| match &part.body {
            PartType::Html(html) => Some(html_to_text(html)),
            _ => None,
        })
        .collect();
    visible_text(&html.join("\n\n"))
}

/// A text/plain part's text, with `format=flowed` soft breaks undone.
fn plain_text(part: &MessagePart<'_>, text: &str) -> String {
    let content_type = part.content_type();
    let param = |name: &str, value: &str| {
        content_type
            .and_then(|ct| ct.attribute(name))
            .is_some_and(|v| v.eq_ignore_ascii_case(value))
    };
    if param("format", "flowed") {
        unflow(text, param("delsp", "yes"))
    } else {
        text.to_string()
    }
}

/// Undoes RFC 3676 `format=flowed`: a line ending in a space continues on the next one, a
/// leading space is stuffing. Quoted lines are left alone (they are cut anyway).
fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut soft_previous = false;
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let quoted = raw.starts_with('>');
        let line = if quoted {
            raw
        } else {
            raw.strip_prefix(' ').unwrap_or(raw)
        };
        // A soft break joins this line to the previous one, unless this one is quoted.
        let joins = soft_previous && !quoted;
        if i > 0 && !joins {
            out.push('\n');
        }
        let soft = !quoted && line.ends_with(' ') && line != "-- ";
        out.push_str(match line.strip_suffix(' ') {
            Some(joined) if soft && delsp => joined,
            _ => line,
        });
        soft_previous = soft;
    }
    out
}

/// At most `max` characters; a cut text ends with "…".
fn cap_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let kept: String = text.chars().take(max - 1).collect();
    format!("{}…", kept.trim_end())
}

// --- The kind ---

fn classify(message: &Message<'_>, from: &Mailbox) -> MailKind {
    let report = delivery_report(message);
    let mut failed = report.clone().unwrap_or_default();
    for address in failed_recipients_header(message) {
        if !failed.contains(&address) {
            failed.push(address);
        }
    }
    // A delivery report without a failed recipient is a delay or success notice: automatic,
    // but nothing bounced.
    if !failed.is_empty() || report.is_none() && is_daemon_mail(message, from) {
        MailKind::Bounce {
            failed_recipients: failed,
        }
    } else if report.is_some() || is_auto_reply(message) {
        MailKind::AutoReply
    } else {
        MailKind::Message
    }
}

/// Exim's `X-Failed-Recipients` (bounces that are no RFC 3464 report).
fn failed_recipients_header(message: &Message<'_>) -> Vec<String> {
    raw_header_values(message, "X-Failed-Recipients")
        .iter()
        .flat_map(|v| v.split(','))
        .filter_map(normalize_address)
        .map(|a| a.to_lowercase())
        .collect()
}

/// A `multipart/report` (RFC 6522): delivery status, read receipt, feedback report.
fn is_report(message: &Message<'_>) -> bool {
    report_type(message).is_some()
}

/// The `report-type` of a top-level `multipart/report` (empty if it names none).
fn report_type<'a>(message: &'a Message<'_>) -> Option<&'a str> {
    let content_type = message.parts.first()?.content_type()?;
    let is_report = content_type.ctype().eq_ignore_ascii_case("multipart")
        && content_type
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"));
    is_report.then(|| content_type.attribute("report-type").unwrap_or_default())
}

/// For a delivery status notification (RFC 3464), the recipients whose `Action` is `failed`;
/// `None` if the message is no such report.
fn delivery_report(message: &Message<'_>) -> Option<Vec<String>> {
    let root_is_report =
        report_type(message).is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"));
    let status = message.parts.iter().find(|p| is_delivery_status(p));
    if !root_is_report && status.is_none() {
        return None;
    }
    Some(status.map_or_else(Vec::new, |part| {
        failed_in_status(&String::from_utf8_lossy(part.contents()))
    }))
}

fn is_delivery_status(part: &MessagePart<'_>) -> bool {
    part.is_content_type("message", "delivery-status")
        || part.is_content_type("message", "global-delivery-status")
}

/// Reads the per-recipient blocks of a `message/delivery-status` body.
fn failed_in_status(status: &str) -> Vec<String> {
    let normalized = status.replace("\r\n", "\n");
    let mut failed = Vec::new();
    for block in normalized.split("\n\n") {
        let fields = status_fields(block);
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let is_failed = field("Action").is_some_and(|a| a.trim().eq_ignore_ascii_case("failed"));
        let recipient = field("Final-Recipient").or_else(|| field("Original-Recipient"));
        if let Some(address) = recipient.filter(|_| is_failed).and_then(status_address) {
            if !failed.contains(&address) {
                failed.push(address);
            }
        }
    }
    failed
}

/// `Name: value` fields of one status block, continuation lines joined.
fn status_fields(block: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    fields
}

/// `rfc822; Gone@Example.org` → `gone@example.org`.
fn status_address(value: &str) -> Option<String> {
    let address = value.split_once(';').map_or(value, |(_, a)| a);
    normalize_address(address).map(|a| a.to_lowercase())
}

/// A mail from `MAILER-DAEMON@`/`postmaster@` with the null reverse path `<>` (or none
/// recorded: not every ingress adds Return-Path).
fn is_daemon_mail(message: &Message<'_>, from: &Mailbox) -> bool {
    let local = from.address.split('@').next().unwrap_or_default();
    let is_daemon = DAEMON_LOCAL_PARTS
        .iter()
        .any(|d| local.eq_ignore_ascii_case(d));
    let return_paths = raw_header_values(message, "Return-Path");
    let null_path =
        return_paths.is_empty() || return_paths.iter().any(|p| p == "<>" || p.is_empty());
    is_daemon && null_path
}

/// RFC 3834 `Auto-Submitted`, the de-facto `X-Autoreply`/`X-Autorespond`,
/// `Precedence: auto_reply`, or Outlook's `X-Auto-Response-Suppress` on an out-of-office
/// subject. `Precedence: bulk`/`list` alone is a newsletter, which a person may answer.
fn is_auto_reply(message: &Message<'_>) -> bool {
    let auto_submitted = raw_header_values(message, "Auto-Submitted")
        .iter()
        .any(|v| {
            let token = v.split(';').next().unwrap_or_default().trim();
            !token.is_empty() && !token.eq_ignore_ascii_case("no")
        });
    let precedence = raw_header_values(message, "Precedence")
        .iter()
        .any(|v| v.eq_ignore_ascii_case("auto_reply"));
    let out_of_office = has_header(message, "X-Auto-Response-Suppress")
        && message.subject().is_some_and(is_out_of_office_subject);
    auto_submitted
        || has_header(message, "X-Autoreply")
        || has_header(message, "X-Autorespond")
        || precedence
        || out_of_office
}

fn is_out_of_office_subject(subject: &str) -> bool {
    let lower = subject.trim().to_lowercase();
    OUT_OF_OFFICE_SUBJECTS.iter().any(|s| lower.starts_with(s))
}

// --- Attachments ---

/// Attachments within the limits, and the names of those refused.
fn collect_attachments(
    message: &Message<'_>,
    limits: &ParseLimits,
) -> (Vec<InboundAttachment>, Vec<String>) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (index, part) in message.attachments().enumerate() {
        let Some(attachment) = attachment(part, index + 1) else {
            continue;
        };
        let too_large =
            u64::try_from(attachment.bytes.len()).unwrap_or(u64::MAX) > limits.max_attachment_bytes;
        if too_large || kept.len() >= limits.max_attachments {
            dropped.push(attachment.file_name);
        } else {
            kept.push(attachment);
        }
    }
    (kept, dropped)
}

/// A part as an attachment; `None` for a text part that is a piece of the body rather than a
/// file (no name, not marked as attachment), and for containers.
fn attachment(part: &MessagePart<'_>, number: usize) -> Option<InboundAttachment> {
    let name = part.attachment_name().and_then(clean_file_name);
    let marked = part
        .content_disposition()
        .is_some_and(|d| d.is_attachment());
    match part.body {
        PartType::Multipart(_) => return None,
        PartType::Text(_) | PartType::Html(_) if name.is_none() && !marked => return None,
        _ => {}
    }
    let content_type = content_type(part);
    let file_name =
        name.unwrap_or_else(|| format!("attachment-{number}{}", extension(&content_type)));
    Some(InboundAttachment {
        file_name,
        content_type,
        bytes: part.contents().to_vec(),
    })
}

fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(subtype) => format!("{}/{}", ct.ctype(), subtype).to_lowercase(),
            None => ct.ctype().to_lowercase(),
        },
        None if matches!(part.body, PartType::Text(_)) => "text/plain".to_string(),
        None => "application/octet-stream".to_string(),
    }
}

/// An extension for a nameless attachment, so that a download opens with the right program.
fn extension(content_type: &str) -> &'static str {
    match content_type {
        "application/pdf" => ".pdf",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        "message/rfc822" => ".eml",
        "text/plain" => ".txt",
        "text/html" => ".html",
        "text/calendar" => ".ics",
        _ => ".bin",
    }
}

/// The last path segment of a sender-chosen name, without control characters: a name must
/// never reach a file system or a header as a path.
fn clean_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    (!cleaned.is_empty()).then(|| cleaned.to_string())
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
