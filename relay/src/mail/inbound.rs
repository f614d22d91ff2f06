//! The email door (E3, E4, E5): one raw RFC 5322 message in, from `POST /v1/mail/inbound`
//! (bearer secret) or `natter-relay ingest-mail` (which posts to it), and at most one message
//! appended through `conversations::append`.
//!
//! Routing, in order:
//! 1. Too large for `mail.max_inbound_bytes`: refused (the MTA bounces it to the sender).
//! 2. Not parseable: kept with the reason for admins, never dropped.
//! 3. A bounce (DSN): the failed addresses are marked bouncing; kept as ignored.
//! 4. An auto-reply: kept as ignored, not shown as a message.
//! 5. A valid `reply+TOKEN@inbound_domain` recipient: that conversation. A `From` that is not
//!    the contact's address is flagged as an unverified sender on the message, never merged.
//!    A reply address with a bad token is kept, not guessed.
//! 6. Otherwise the site whose `inbound_address` it was sent to (or the only site): the
//!    sender's newest open email conversation, else their contact's conversation, else a new
//!    unverified contact (not opted in to marketing) with a new conversation.
//!
//! The idempotency key is derived from the `Message-ID` (or, without one, the raw bytes), so
//! a mail delivered twice is stored once.

use natter_protocol::agent::InboundMailOutcome;
use natter_protocol::{AttachmentId, Author, Channel, ConversationId, Message};
use sha2::{Digest, Sha256};

use super::parse::{parse, InboundMail, MailKind, ParseLimits};
use super::tokens::{MailTokens, REPLY_PREFIX};
use crate::conversations::{self, derived_client_id, AppendError, Incoming};
use crate::events::{Event, InboxEvent};
use crate::store::{ConversationKey, NewInboundMail, StoreError};
use crate::Core;

/// What became of an inbound email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// It is a message in this conversation now (or was already: `duplicate`).
    Appended {
        conversation_id: ConversationId,
        message: Box<Message>,
        duplicate: bool,
    },
    /// An auto-reply or a bounce: recorded for admins, not a message.
    Ignored { id: String, reason: String },
    /// Could not be parsed or routed: kept with the reason for admins.
    Kept { id: String, reason: String },
}

/// Why an inbound email was refused outright (nothing kept).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the email is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Takes one raw email in.
pub async fn ingest(core: &Core, tokens: &MailTokens, raw: &[u8]) -> Result<Ingested, IngestError> {
    let limit = core.config.mail.max_inbound_bytes;
    if raw.len() > limit {
        return Err(IngestError::TooLarge {
            size: raw.len(),
            limit,
        });
    }
    let limits = ParseLimits {
        max_attachment_bytes: core.config.limits.max_attachment_bytes,
        max_attachments: core.config.limits.max_attachments_per_message,
        max_text_chars: core.config.limits.max_message_chars,
    };
    let mail = match parse(raw, &limits) {
        Ok(mail) => mail,
        Err(error) => {
            let reason = format!("could not be read: {error}");
            return keep(core, raw, None, InboundMailOutcome::Kept, reason).await;
        }
    };
    match &mail.kind {
        MailKind::Bounce { failed_recipients } => {
            let mut marked = 0;
            for address in failed_recipients {
                for contact in core.store.mark_bouncing(address, core.clock.now()).await? {
                    marked += 1;
                    // Open contact panels show it at once (no more unread-reply emails to it).
                    core.hub
                        .publish(Event::Inbox(InboxEvent::ContactUpdated(contact)));
                }
            }
            let reason = format!(
                "bounce for {} ({marked} contact(s) marked as bouncing)",
                failed_recipients.join(", ")
            );
            return keep(core, raw, Some(&mail), InboundMailOutcome::Ignored, reason).await;
        }
        MailKind::AutoReply => {
            let reason = "automatic reply (out of office or autoresponder)".to_owned();
            return keep(core, raw, Some(&mail), InboundMailOutcome::Ignored, reason).await;
        }
        MailKind::Message => {}
    }
    match route(core, tokens, &mail).await? {
        Ok(route) => append(core, raw, &mail, route).await,
        Err(reason) => keep(core, raw, Some(&mail), InboundMailOutcome::Kept, reason).await,
    }
}

/// Where a person's email goes.
struct Route {
    conversation_id: ConversationId,
    /// The `From` when it is not the contact's address.
    unverified_sender: Option<String>,
}

/// The conversation an email belongs to, or why there is none.
async fn route(
    core: &Core,
    tokens: &MailTokens,
    mail: &InboundMail,
) -> Result<Result<Route, String>, IngestError> {
    let Some(from) = mail.from.as_ref() else {
        return Ok(Err("the email has no sender".into()));
    };
    if let Some(domain) = core.config.mail.inbound_domain.as_deref() {
        let ours = |address: &&String| {
            address
                .rsplit_once('@')
                .is_some_and(|(local, at)| local.starts_with(REPLY_PREFIX) && at == domain)
        };
        if let Some(address) = mail.recipients.iter().find(ours) {
            return Ok(match tokens.conversation_of(address, domain) {
                Some(id) => by_token(core, id, &from.address).await?,
                None => Err(format!(
                    "the reply address {address} is not valid (altered?)"
                )),
            });
        }
    }
    let Some(site) = site_for(core, &mail.recipients) else {
        return Ok(Err(format!(
            "no site receives email for {}",
            mail.recipients.join(", ")
        )));
    };
    let address = from.address.to_lowercase();
    let open = core
        .store
        .open_conversation_of_address(&site, &address, Channel::Email)
        .await?;
    let conversation_id = match open {
        Some(id) => id,
        None => {
            let key = ConversationKey::ContactAddress {
                address,
                channel: Channel::Email,
            };
            conversations::open(core, &site, &key).await?.summary.id
        }
    };
    Ok(Ok(Route {
        conversation_id,
        unverified_sender: None,
    }))
}

/// The conversation a reply token names, flagging a sender who is not its contact.
async fn by_token(
    core: &Core,
    id: ConversationId,
    from: &str,
) -> Result<Result<Route, String>, IngestError> {
    if core.store.inbox_conversation(id).await?.is_none() {
        return Ok(Err(
            "the conversation this reply belongs to was deleted".into()
        ));
    }
    let contact = core.store.inbox_contact(id).await?;
    let matches = contact.is_some_and(|contact| contact.email.eq_ignore_ascii_case(from));
    Ok(Ok(Route {
        conversation_id: id,
        unverified_sender: (!matches).then(|| from.to_owned()),
    }))
}

/// The site whose inbound address is among the recipients, or the only site.
fn site_for(core: &Core, recipients: &[String]) -> Option<String> {
    let sites = &core.config.sites;
    sites
        .iter()
        .find(|site| {
            site.inbound_address
                .as_deref()
                .is_some_and(|address| recipients.iter().any(|r| r.eq_ignore_ascii_case(address)))
        })
        .or_else(|| (sites.len() == 1).then(|| &sites[0]))
        .map(|site| site.key.clone())
}

/// Stores the attachments and appends the message.
async fn append(
    core: &Core,
    raw: &[u8],
    mail: &InboundMail,
    route: Route,
) -> Result<Ingested, IngestError> {
    let client_id = match &mail.message_id {
        Some(id) => derived_client_id("email", id),
        None => derived_client_id("email-sha256", &hex::encode(Sha256::digest(raw))),
    };
    // Named in the message text: cleaned like a stored file's name (no bidi tricks).
    let mut notes: Vec<String> = mail
        .dropped_attachments
        .iter()
        .map(|name| crate::attachments::clean_name(name))
        .collect();
    let mut attachments: Vec<AttachmentId> = Vec::new();
    for file in &mail.attachments {
        let saved = crate::attachments::save_bytes(
            core,
            route.conversation_id,
            &file.file_name,
            &file.content_type,
            &file.bytes,
        )
        .await;
        match saved {
            Ok(saved) => attachments.push(saved.id),
            Err(error) => notes.push(format!(
                "{} ({error})",
                crate::attachments::clean_name(&file.file_name)
            )),
        }
    }
    let text = message_text(mail, &notes, attachments.is_empty());
    let mut incoming = Incoming::text(
        route.conversation_id,
        client_id,
        Author::Contact {
            name: mail.from.as_ref().and_then(|from| from.name.clone()),
        },
        Channel::Email,
        text,
    );
    incoming.attachments = attachments;
    incoming.unverified_sender = route.unverified_sender;
    let (message, duplicate) = match conversations::append_once(core, incoming).await {
        Ok(appended) => appended,
        Err(AppendError::Store(error)) => return Err(error.into()),
        Err(error) => {
            let reason = format!("could not be added to the conversation: {error}");
            return keep(core, raw, Some(mail), InboundMailOutcome::Kept, reason).await;
        }
    };
    if let Some(id) = &mail.message_id {
        core.store
            .record_mail_received(
                route.conversation_id,
                id,
                mail.subject.as_deref(),
                core.clock.now(),
            )
            .await?;
    }
    Ok(Ingested::Appended {
        conversation_id: route.conversation_id,
        message: Box::new(message),
        duplicate,
    })
}

/// The text to store: the visible reply, with a line per file that could not be kept; the
/// subject when the body is empty and no file came with it.
fn message_text(mail: &InboundMail, dropped: &[String], no_files: bool) -> String {
    let mut text = mail.text.trim().to_owned();
    for name in dropped {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("[attachment not kept: {name}]"));
    }
    if text.is_empty() && no_files {
        text = mail
            .subject
            .clone()
            .filter(|subject| !subject.trim().is_empty())
            .unwrap_or_else(|| "(empty email)".into());
    }
    text
}

/// Keeps an email that did not become a message, and tells admins.
async fn keep(
    core: &Core,
    raw: &[u8],
    mail: Option<&InboundMail>,
    outcome: InboundMailOutcome,
    reason: String,
) -> Result<Ingested, IngestError> {
    tracing::info!(?outcome, %reason, "inbound email not added to a conversation");
    let id = core
        .store
        .keep_inbound_mail(NewInboundMail {
            outcome,
            reason: reason.clone(),
            from: mail.and_then(|mail| mail.from.as_ref().map(|from| from.address.clone())),
            subject: mail.and_then(|mail| mail.subject.clone()),
            raw: raw.to_vec(),
            now: core.clock.now(),
        })
        .await?;
    core.hub
        .publish(Event::Inbox(InboxEvent::InboundMailChanged));
    Ok(match outcome {
        InboundMailOutcome::Kept => Ingested::Kept { id, reason },
        InboundMailOutcome::Ignored => Ingested::Ignored { id, reason },
    })
}
