//! Who the visitor is and what they see on connecting: the welcome with their thread, and on a
//! resume everything after the widget's highest seq, however much that is.

use natter_protocol::visitor::{AttachmentRules, LinkOutcome, ServerFrame, WidgetSettings};
use natter_protocol::{ConversationId, Message, Seq, PROTOCOL_VERSION};

use crate::identity::VisitorId;
use crate::mail::tokens::LinkCheck;
use crate::store::{ReadMarks, StoreError};
use crate::AppState;

/// What the welcome could not carry: messages after `after` still to send as `message`
/// frames, in pages (a resume after more than a page was missed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
    pub conversation: ConversationId,
    pub after: Seq,
}

/// The visitor a hello names, or a fresh one. A missing, tampered or foreign id, or one that
/// was forgotten at logout, is not an error: the visitor simply starts afresh.
pub async fn resolve_visitor(
    state: &AppState,
    site: &str,
    token: Option<&str>,
) -> Result<(VisitorId, String), StoreError> {
    if let Some(token) = token {
        if let Some(id) = state.visitor_signer.verify(site, token) {
            if state
                .store
                .touch_visitor(site, &id, state.clock.now())
                .await?
            {
                return Ok((id, token.to_owned()));
            }
        }
    }
    let (id, token) = state.visitor_signer.issue(site);
    state
        .store
        .touch_visitor(site, &id, state.clock.now())
        .await?;
    Ok((id, token))
}

/// Opens a magic link (E6) for this visitor: a valid link for a conversation of this site binds
/// the visitor id to it, so this device shows that thread from now on. An expired, altered or
/// foreign link changes nothing; the widget opens normally and says so.
pub async fn open_link(
    state: &AppState,
    site: &str,
    visitor: &VisitorId,
    token: &str,
) -> Result<LinkOutcome, StoreError> {
    let conversation = match state.mail_tokens.check_link(token, state.clock.now()) {
        LinkCheck::Valid(conversation) => conversation,
        LinkCheck::Expired => return Ok(LinkOutcome::Expired),
        LinkCheck::Invalid => return Ok(LinkOutcome::Invalid),
    };
    let ours = state
        .store
        .inbox_conversation(conversation)
        .await?
        .is_some_and(|record| record.summary.site == site);
    if !ours {
        return Ok(LinkOutcome::Invalid);
    }
    state
        .store
        .link_visitor(visitor, conversation, state.clock.now())
        .await?;
    Ok(LinkOutcome::Opened)
}

/// Keeps the widget's language for emails (E2): a short language tag only.
pub async fn remember_lang(
    state: &AppState,
    visitor: &VisitorId,
    lang: Option<&str>,
) -> Result<(), StoreError> {
    let Some(lang) = lang else { return Ok(()) };
    let tag = lang.len() <= 16 && lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if tag && !lang.is_empty() {
        state.store.set_visitor_lang(visitor, lang).await?;
    }
    Ok(())
}

/// What the widget needs to know about its site's configuration.
pub fn widget_settings(state: &AppState, site: &str) -> WidgetSettings {
    state
        .config
        .site(site)
        .map(|site| WidgetSettings {
            consent_required: site.consent_required,
            form: site.form.clone(),
            theme: site.theme.clone(),
            away_message: site.away_message.clone(),
            attachments: AttachmentRules {
                max_bytes: state.config.limits.max_attachment_bytes,
                allowed_types: state.config.attachments.allowed_types.clone(),
                max_files: Some(state.config.limits.max_attachments_per_message),
            },
        })
        .unwrap_or_default()
}

/// A welcome frame, the conversation it shows, and what it could not carry.
pub type Welcome = (ServerFrame, Option<ConversationId>, Option<Remaining>);

/// The welcome for this visitor, and what it could not carry. Without `after_seq` it holds the
/// newest page of the thread (older pages are fetched on demand); with it, the first page after
/// `after_seq`, and the rest follows as [`Remaining`].
pub async fn welcome(
    state: &AppState,
    site: &str,
    visitor: &VisitorId,
    token: &str,
    after_seq: Option<Seq>,
) -> Result<Welcome, StoreError> {
    let conversation = state.store.visitor_conversation(site, visitor).await?;
    let conversation_id = conversation.as_ref().map(|record| record.summary.id);
    let page = state.config.limits.history_page_size;
    let (messages, has_earlier, remaining) = match (conversation_id, after_seq) {
        (None, _) => (Vec::new(), false, None),
        (Some(id), Some(after)) => {
            let messages = state.store.messages_after(id, after, page).await?;
            let remaining = full_page_end(&messages, page).map(|after| Remaining {
                conversation: id,
                after,
            });
            (messages, after > 0, remaining)
        }
        (Some(id), None) => {
            let (messages, has_earlier) = state.store.recent_messages(id, page).await?;
            (messages, has_earlier, None)
        }
    };
    let marks = match conversation_id {
        Some(id) => state.store.read_marks(id).await?,
        None => ReadMarks::default(),
    };
    let mut known_email = state
        .store
        .visitor_contact(visitor)
        .await?
        .map(|contact| contact.email);
    if let (None, Some(id)) = (&known_email, conversation_id) {
        // A device the thread was opened on by its magic link (E6): the conversation's
        // contact, whose mailbox the link came from, need not be asked for an email again.
        known_email = state
            .store
            .inbox_contact(id)
            .await?
            .map(|contact| contact.email);
    }
    let frame = ServerFrame::Welcome {
        v: PROTOCOL_VERSION,
        visitor: token.to_owned(),
        conversation_id,
        messages,
        has_earlier,
        settings: widget_settings(state, site),
        seen_up_to: marks.seen_by_visitor,
        read_up_to: marks.read_by_agents,
        known_email,
        link: None,
    };
    Ok((frame, conversation_id, remaining))
}

/// The seq to continue after, when `messages` filled a whole page (so more may follow).
fn full_page_end(messages: &[Message], page: u32) -> Option<Seq> {
    if messages.len() >= page as usize {
        messages.last().map(|message| message.seq)
    } else {
        None
    }
}

/// The next page of a resume: messages after `remaining.after`, and where to go on from, if
/// the page was full.
pub async fn next_page(
    state: &AppState,
    remaining: Remaining,
) -> Result<(Vec<Message>, Option<Remaining>), StoreError> {
    let page = state.config.limits.history_page_size;
    let messages = state
        .store
        .messages_after(remaining.conversation, remaining.after, page)
        .await?;
    let next = full_page_end(&messages, page).map(|after| Remaining {
        conversation: remaining.conversation,
        after,
    });
    Ok((messages, next))
}
