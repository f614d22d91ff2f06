//! Builds the emails the relay sends (E1, E2, I14): a plain-text and an HTML part with the
//! same content, in the visitor's language, threaded with `Message-ID` / `In-Reply-To` /
//! `References` so a mail client shows every email of one conversation as one thread.
//!
//! Message text is the safe Markdown subset: the HTML part renders it with
//! [`natter_protocol::markdown::to_html`] (escaped, links with `rel`), the text part keeps it
//! as typed. Nothing from a message is ever inserted into the HTML unescaped.

use std::time::{Duration, UNIX_EPOCH};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use natter_protocol::markdown::{parse as parse_markdown, to_html, Inline};
use natter_protocol::{Author, Message, UnixMillis};

/// The languages emails are written in; the widget's language decides (E2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
    Fr,
}

impl Lang {
    /// The language a widget reported (`de`, `fr-CH`, …); English otherwise.
    pub fn from_tag(tag: Option<&str>) -> Self {
        let primary = tag
            .unwrap_or("en")
            .split(['-', '_'])
            .next()
            .unwrap_or("en")
            .to_ascii_lowercase();
        match primary.as_str() {
            "de" => Self::De,
            "fr" => Self::Fr,
            _ => Self::En,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
            Self::Fr => "fr",
        }
    }
}

/// The words of an email, per language.
struct Words {
    subject: &'static str,
    unread_lead: &'static str,
    transcript: &'static str,
    recent: &'static str,
    you: &'static str,
    continue_chat: &'static str,
    reply_hint: &'static str,
    attachment: &'static str,
}

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::En => &Words {
            subject: "Your conversation with {site}",
            unread_lead: "You have new messages from {site}:",
            transcript: "Chat transcript",
            recent: "Earlier in this conversation",
            you: "You",
            continue_chat: "Continue the conversation on the website",
            reply_hint: "You can also simply reply to this email.",
            attachment: "Attachment",
        },
        Lang::De => &Words {
            subject: "Ihre Unterhaltung mit {site}",
            unread_lead: "Sie haben neue Nachrichten von {site}:",
            transcript: "Chatverlauf",
            recent: "Bisher in dieser Unterhaltung",
            you: "Sie",
            continue_chat: "Unterhaltung auf der Website fortsetzen",
            reply_hint: "Sie können auch einfach auf diese E-Mail antworten.",
            attachment: "Anhang",
        },
        Lang::Fr => &Words {
            subject: "Votre conversation avec {site}",
            unread_lead: "Vous avez de nouveaux messages de {site} :",
            transcript: "Transcription du chat",
            recent: "Plus tôt dans cette conversation",
            you: "Vous",
            continue_chat: "Poursuivre la conversation sur le site",
            reply_hint: "Vous pouvez aussi simplement répondre à cet e-mail.",
            attachment: "Pièce jointe",
        },
    }
}

/// Why an email is sent, which decides its first lines and the heading of the earlier part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// An agent answered by email (E1); earlier chat messages follow as a transcript (I14).
    Reply,
    /// Agent chat messages the visitor has not seen (E2); the recent thread follows.
    Unread,
}

/// Everything one outbound email says.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub purpose: Purpose,
    pub lang: Lang,
    pub site_name: String,
    pub from_address: String,
    pub to_address: String,
    pub to_name: Option<String>,
    /// `reply+TOKEN@…` (E3); `None` when no inbound domain is configured.
    pub reply_to: Option<String>,
    /// The thread's subject; the localized default when `None`.
    pub subject: Option<String>,
    /// Without angle brackets; derived from the job, so a retry sends the same id.
    pub message_id: String,
    /// Earlier Message-IDs of the thread, oldest first, without angle brackets.
    pub references: Vec<String>,
    /// The messages this email is about (the reply, or every unseen agent message).
    pub new_messages: Vec<Message>,
    /// The transcript (Reply) or the recent thread (Unread), oldest first.
    pub earlier: Vec<Message>,
    /// The magic link (E6), when the site has a page URL.
    pub link: Option<String>,
    /// Where attachments are downloaded from (`public_url`), when known.
    pub public_url: Option<String>,
    pub date: UnixMillis,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("could not build the email: {0}")]
    Build(#[from] lettre::error::Error),
}

impl Outgoing {
    /// The subject line: the thread's (as `Re: …` for a thread the visitor started by email)
    /// or the localized default.
    pub fn subject_line(&self) -> String {
        match &self.subject {
            Some(subject) if !subject.trim().is_empty() => subject.trim().to_owned(),
            _ => words(self.lang).subject.replace("{site}", &self.site_name),
        }
    }

    fn author_name(&self, author: &Author) -> String {
        match author {
            Author::Visitor | Author::Contact { .. } => words(self.lang).you.to_owned(),
            Author::Agent { name, .. } | Author::Bot { name } => name.clone(),
            Author::System => self.site_name.clone(),
        }
    }

    fn attachment_lines(&self, message: &Message) -> Vec<(String, Option<String>)> {
        message
            .attachments
            .iter()
            .map(|file| {
                let url = self
                    .public_url
                    .as_ref()
                    .map(|base| format!("{}{}", base.trim_end_matches('/'), file.url));
                (file.name.clone(), url)
            })
            .collect()
    }

    /// The plain-text part.
    pub fn text(&self) -> String {
        let words = words(self.lang);
        let mut out = String::new();
        if self.purpose == Purpose::Unread {
            out.push_str(&words.unread_lead.replace("{site}", &self.site_name));
            out.push_str("\n\n");
        }
        for message in &self.new_messages {
            self.text_message(message, &mut out);
        }
        if !self.earlier.is_empty() {
            let heading = match self.purpose {
                Purpose::Reply => words.transcript,
                Purpose::Unread => words.recent,
            };
            out.push_str(&format!("---- {heading} ----\n\n"));
            for message in &self.earlier {
                self.text_message(message, &mut out);
            }
        }
        if let Some(link) = &self.link {
            out.push_str(&format!("{}: {link}\n", words.continue_chat));
        }
        if self.reply_to.is_some() {
            out.push_str(words.reply_hint);
            out.push('\n');
        }
        out
    }

    fn text_message(&self, message: &Message, out: &mut String) {
        out.push_str(&format!(
            "{} ({}):\n",
            self.author_name(&message.author),
            format_time(message.sent_at)
        ));
        if !message.text.is_empty() {
            out.push_str(&message.text);
            out.push('\n');
        }
        for (name, url) in self.attachment_lines(message) {
            let attachment = words(self.lang).attachment;
            match url {
                Some(url) => out.push_str(&format!("[{attachment}: {name}] {url}\n")),
                None => out.push_str(&format!("[{attachment}: {name}]\n")),
            }
        }
        out.push('\n');
    }

    /// The HTML part: the same content, every piece of text escaped.
    pub fn html(&self) -> String {
        let words = words(self.lang);
        let mut out = format!(
            "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
             <body style=\"font-family:system-ui,sans-serif;line-height:1.5;color:#1f2937;max-width:40em\">",
            self.lang.code(),
            escape(&self.subject_line())
        );
        if self.purpose == Purpose::Unread {
            out.push_str(&format!(
                "<p>{}</p>",
                escape(&words.unread_lead.replace("{site}", &self.site_name))
            ));
        }
        for message in &self.new_messages {
            self.html_message(message, &mut out);
        }
        if !self.earlier.is_empty() {
            let heading = match self.purpose {
                Purpose::Reply => words.transcript,
                Purpose::Unread => words.recent,
            };
            out.push_str(&format!(
                "<h2 style=\"font-size:1em;color:#6b7280;border-top:1px solid #e5e7eb;padding-top:1em\">{}</h2>",
                escape(heading)
            ));
            for message in &self.earlier {
                self.html_message(message, &mut out);
            }
        }
        if let Some(link) = &self.link {
            out.push_str(&format!(
                "<p><a href=\"{}\" rel=\"noopener noreferrer\">{}</a></p>",
                escape(link),
                escape(words.continue_chat)
            ));
        }
        if self.reply_to.is_some() {
            out.push_str(&format!(
                "<p style=\"color:#6b7280\">{}</p>",
                escape(words.reply_hint)
            ));
        }
        out.push_str("</body></html>");
        out
    }

    fn html_message(&self, message: &Message, out: &mut String) {
        out.push_str(&format!(
            "<p><strong>{}</strong> <span style=\"color:#6b7280\">{}</span><br>{}</p>",
            escape(&self.author_name(&message.author)),
            escape(&format_time(message.sent_at)),
            to_html(&parse_markdown(&message.text))
        ));
        for (name, url) in self.attachment_lines(message) {
            let label = format!("{}: {name}", words(self.lang).attachment);
            match url {
                Some(url) => out.push_str(&format!(
                    "<p><a href=\"{}\" rel=\"noopener noreferrer\">{}</a></p>",
                    escape(&url),
                    escape(&label)
                )),
                None => out.push_str(&format!("<p>{}</p>", escape(&label))),
            }
        }
    }

    /// The whole email, ready for the SMTP transport.
    pub fn build(&self) -> Result<lettre::Message, ComposeError> {
        let from = Mailbox::new(
            Some(self.site_name.clone()),
            parse_address(&self.from_address)?,
        );
        let to = Mailbox::new(self.to_name.clone(), parse_address(&self.to_address)?);
        let mut builder = lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(self.subject_line())
            .message_id(Some(format!("<{}>", self.message_id)))
            .date(UNIX_EPOCH + Duration::from_millis(self.date.max(0) as u64));
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(Mailbox::new(
                Some(self.site_name.clone()),
                parse_address(reply_to)?,
            ));
        }
        if let Some(last) = self.references.last() {
            builder = builder.in_reply_to(format!("<{last}>"));
            let references: Vec<String> =
                self.references.iter().map(|id| format!("<{id}>")).collect();
            builder = builder.references(references.join(" "));
        }
        if self.purpose == Purpose::Unread {
            // RFC 3834: sent by a program, so out-of-office replies are not sent back to it.
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".to_owned(),
            ));
        }
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Content-Language"),
            self.lang.code().to_owned(),
        ));
        Ok(builder.multipart(MultiPart::alternative_plain_html(self.text(), self.html()))?)
    }
}

fn parse_address(address: &str) -> Result<lettre::Address, ComposeError> {
    address
        .trim()
        .parse()
        .map_err(|_| ComposeError::Address(address.to_owned()))
}

fn escape(text: &str) -> String {
    to_html(&[Inline::Text(text.to_owned())])
}

/// `2026-12-03 14:02 UTC`: emails are read in any time zone, so the zone is written out.
fn format_time(at: UnixMillis) -> String {
    let Ok(time) = time::OffsetDateTime::from_unix_timestamp(at.div_euclid(1000)) else {
        return String::new();
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::{AgentId, Channel, ClientMessageId, ConversationId, MessageId};
    use uuid::Uuid;

    fn message(seq: u64, author: Author, text: &str) -> Message {
        Message {
            id: MessageId(Uuid::from_u128(seq.into())),
            conversation_id: ConversationId(Uuid::nil()),
            seq,
            client_id: ClientMessageId(Uuid::from_u128(seq.into())),
            author,
            channel: Channel::Chat,
            text: text.into(),
            sent_at: 1_764_770_520_000,
            attachments: vec![],
        }
    }

    fn agent() -> Author {
        Author::Agent {
            agent_id: AgentId(Uuid::nil()),
            name: "Alice".into(),
        }
    }

    fn outgoing(lang: Lang) -> Outgoing {
        Outgoing {
            purpose: Purpose::Reply,
            lang,
            site_name: "Shop".into(),
            from_address: "support@shop.example".into(),
            to_address: "ada@example.com".into(),
            to_name: Some("Ada".into()),
            reply_to: Some("reply+abc@in.shop.example".into()),
            subject: None,
            message_id: "natter.1@shop.example".into(),
            references: vec!["first@mail.example".into(), "second@shop.example".into()],
            new_messages: vec![message(3, agent(), "**Yes** <script>x</script>")],
            earlier: vec![message(1, Author::Visitor, "Is it in stock?")],
            link: Some("https://shop.example/#natter-link=t".into()),
            public_url: None,
            date: 1_764_770_520_000,
        }
    }

    #[test]
    fn the_html_part_escapes_message_text_and_renders_the_markdown_subset() {
        let html = outgoing(Lang::En).html();
        assert!(html.contains("<strong>Yes</strong> &lt;script&gt;x&lt;/script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("Chat transcript"));
    }

    #[test]
    fn the_email_threads_and_speaks_the_visitors_language() {
        let bytes = outgoing(Lang::De).build().unwrap().formatted();
        let raw = String::from_utf8_lossy(&bytes);
        assert!(raw.contains("Message-ID: <natter.1@shop.example>"), "{raw}");
        assert!(raw.contains("In-Reply-To: <second@shop.example>"), "{raw}");
        assert!(raw.contains("References: <first@mail.example> <second@shop.example>"));
        assert!(raw.contains("Content-Language: de"));
        assert!(raw.contains("multipart/alternative"));
        let text = outgoing(Lang::De).text();
        assert!(text.contains("Chatverlauf") && text.contains("Sie (2025-12-03 14:02 UTC)"));
    }

    #[test]
    fn unknown_languages_fall_back_to_english() {
        assert_eq!(Lang::from_tag(Some("fr-CH")), Lang::Fr);
        assert_eq!(Lang::from_tag(Some("DE")), Lang::De);
        assert_eq!(Lang::from_tag(Some("es")), Lang::En);
        assert_eq!(Lang::from_tag(None), Lang::En);
    }
}
