//! The email outbox (E1, E2, I14): two job kinds on the persisted jobs queue, so every email is
//! decided and sent from the database, by exactly one node, after a restart too.
//!
//! - `email.reply`: an agent answered by email. Enqueued with the reply, in its transaction;
//!   sends the reply with the chat transcript since the last email.
//! - `email.unread`: an agent's chat message, due `unread_email_after_ms` after it was sent.
//!   When it runs, it sends one email if *that* message is still unseen and not yet emailed,
//!   carrying every unseen agent message and the recent thread. A visitor who saw the message
//!   meanwhile gets nothing: the job checks the seen mark when it is due, so "cancelled if
//!   seen" holds on every node without in-memory timers.
//!
//! Nothing is sent twice for the same messages: each email records the highest seq it
//! carried (`emailed_up_to`) and later emails start after it. A node that dies after the
//! server accepted an email but before recording it sends it again when the lease passes,
//! with the same `Message-ID`, so receivers can drop the copy. Connection failures and 4xx
//! answers are retried with the queue's backoff; a 5xx answer (or the last attempt) marks the
//! message's delivery failed, which agents see on the message.

use std::sync::Arc;

use async_trait::async_trait;
use natter_protocol::agent::{AgentMessage, ContactInfo, Delivery, DeliveryState};
use natter_protocol::{Author, Channel, ClientMessageId, ConversationId, Message, UnixMillis};
use serde::{Deserialize, Serialize};

use super::compose::{Lang, Outgoing, Purpose};
use super::smtp::{Mailer, SendError};
use super::tokens::MailTokens;
use crate::clock::Clock;
use crate::config::{Config, SiteConfig};
use crate::events::{Event, InboxEvent};
use crate::hub::Hub;
use crate::jobs::{JobError, JobHandler};
use crate::store::{JobRecord, MailThread, NewJob, Store, StoreError};

/// The job kind of an agent's email reply.
pub const REPLY_JOB: &str = "email.reply";
/// The job kind of the unread-reply email.
pub const UNREAD_JOB: &str = "email.unread";

/// What `email.reply` and `email.unread` carry: the message that caused them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MailJob {
    pub conversation_id: ConversationId,
    pub client_id: ClientMessageId,
    /// The reply's subject (an email template's), for `email.reply`.
    #[serde(default)]
    pub subject: Option<String>,
}

/// The jobs an agent's message brings, and whether an email will carry it at once.
#[derive(Debug, Default)]
pub struct FollowUps {
    pub jobs: Vec<NewJob>,
    pub awaits_delivery: bool,
}

/// What must follow an agent's message (called by the agents' door before `append`):
/// a reply by email is sent now; a chat message is emailed if still unseen after the site's
/// delay. Nothing when the relay has no mail server, or for an internal comment.
pub fn agent_message_follow_ups(
    config: &Config,
    site: Option<&SiteConfig>,
    job: MailJob,
    channel: Channel,
    internal: bool,
    now: UnixMillis,
) -> FollowUps {
    if internal || config.mail.smtp_host.is_none() {
        return FollowUps::default();
    }
    let Ok(payload) = serde_json::to_string(&job) else {
        return FollowUps::default();
    };
    let key = |kind: &str| format!("{kind}:{}:{}", job.conversation_id.0, job.client_id.0);
    match (channel, site) {
        (Channel::Email, _) => FollowUps {
            jobs: vec![NewJob {
                kind: REPLY_JOB.into(),
                payload,
                run_at: now,
                dedupe_key: Some(key(REPLY_JOB)),
                max_attempts: config.jobs.max_attempts,
            }],
            awaits_delivery: true,
        },
        (Channel::Chat, Some(site)) => FollowUps {
            jobs: vec![NewJob {
                kind: UNREAD_JOB.into(),
                payload,
                run_at: now.saturating_add(site.unread_email_after_ms),
                dedupe_key: Some(key(UNREAD_JOB)),
                max_attempts: config.jobs.max_attempts,
            }],
            awaits_delivery: false,
        },
        _ => FollowUps::default(),
    }
}

/// Runs both email job kinds.
pub struct MailJobs {
    pub store: Arc<dyn Store>,
    pub hub: Arc<Hub>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    pub tokens: MailTokens,
    pub mailer: Mailer,
}

/// A conversation's thread and contact, as an email needs them.
struct Context {
    conversation: ConversationId,
    site: SiteConfig,
    thread: Vec<AgentMessage>,
    contact: ContactInfo,
    mail: MailThread,
}

fn store_failed(error: StoreError) -> JobError {
    match error {
        StoreError::NotFound => JobError::Permanent("the conversation was deleted".into()),
        other => JobError::Retry(other.to_string()),
    }
}

/// Messages a visitor may see (no internal comments), in order.
fn visible(thread: &[AgentMessage]) -> impl Iterator<Item = &Message> {
    thread
        .iter()
        .filter(|entry| !entry.internal)
        .map(|entry| &entry.message)
}

fn is_team(author: &Author) -> bool {
    matches!(author, Author::Agent { .. } | Author::Bot { .. })
}

impl MailJobs {
    async fn context(&self, conversation: ConversationId) -> Result<Option<Context>, JobError> {
        let summary = self
            .store
            .inbox_conversation(conversation)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| JobError::Permanent("the conversation was deleted".into()))?;
        let Some(site) = self.config.site(&summary.summary.site).cloned() else {
            return Err(JobError::Permanent(format!(
                "site {:?} is no longer configured",
                summary.summary.site
            )));
        };
        let Some(contact) = self
            .store
            .inbox_contact(conversation)
            .await
            .map_err(store_failed)?
        else {
            return Ok(None);
        };
        let thread = self
            .store
            .inbox_thread(conversation)
            .await
            .map_err(store_failed)?;
        let mail = self
            .store
            .mail_thread(conversation)
            .await
            .map_err(store_failed)?;
        Ok(Some(Context {
            conversation,
            site,
            thread,
            contact,
            mail,
        }))
    }

    /// The email for `new_messages`, with `earlier` below them.
    fn outgoing(
        &self,
        context: &Context,
        purpose: Purpose,
        subject: Option<String>,
        new_messages: Vec<Message>,
        earlier: Vec<Message>,
    ) -> Outgoing {
        let conversation = context.conversation;
        let now = self.clock.now();
        let mail = &self.config.mail;
        let link = context.site.url.as_ref().map(|url| {
            let page = url.split('#').next().unwrap_or(url);
            let token = self
                .tokens
                .magic_link(conversation, now.saturating_add(mail.magic_link_ttl_ms));
            format!("{page}#natter-link={token}")
        });
        let first = new_messages.first().map(|message| message.id.0);
        let domain = mail.from_address.rsplit('@').next().unwrap_or("localhost");
        Outgoing {
            purpose,
            lang: Lang::from_tag(context.mail.lang.as_deref()),
            site_name: context.site.name.clone(),
            from_address: mail.from_address.clone(),
            to_address: context.contact.email.clone(),
            to_name: context.contact.name.clone(),
            reply_to: mail
                .inbound_domain
                .as_deref()
                .map(|domain| self.tokens.reply_address(conversation, domain)),
            subject: subject.or_else(|| context.mail.subject.clone().map(|s| reply_subject(&s))),
            // One id per email, from its first message: a retry sends the same id.
            message_id: format!(
                "natter.{}.{}@{domain}",
                purpose_tag(purpose),
                first.unwrap_or_default().simple()
            ),
            references: context.mail.message_ids.clone(),
            new_messages,
            earlier,
            link,
            public_url: self.config.public_url.clone(),
            date: now,
        }
    }

    async fn set_delivery(
        &self,
        messages: &[Message],
        state: DeliveryState,
        detail: Option<String>,
    ) -> Result<(), JobError> {
        let delivery = Delivery {
            state,
            detail,
            updated_at: self.clock.now(),
        };
        for message in messages {
            self.store
                .set_delivery(message.id, &delivery)
                .await
                .map_err(store_failed)?;
            self.hub.publish(Event::Inbox(InboxEvent::DeliveryChanged {
                conversation_id: message.conversation_id,
                message_id: message.id,
                delivery: delivery.clone(),
            }));
        }
        Ok(())
    }

    /// Sends, then records what was carried; on failure records why on the messages.
    async fn send(
        &self,
        job: &JobRecord,
        email: Outgoing,
        carried: &[Message],
    ) -> Result<(), JobError> {
        let built = match email.build() {
            Ok(built) => built,
            Err(error) => {
                let reason = error.to_string();
                self.set_delivery(carried, DeliveryState::Failed, Some(reason.clone()))
                    .await?;
                return Err(JobError::Permanent(reason));
            }
        };
        match self.mailer.send(built).await {
            Ok(()) => {
                let up_to = carried.iter().map(|m| m.seq).max().unwrap_or_default();
                let conversation = carried
                    .first()
                    .map(|message| message.conversation_id)
                    .ok_or_else(|| JobError::Permanent("nothing to send".into()))?;
                self.store
                    .record_mail_sent(
                        conversation,
                        &email.message_id,
                        up_to,
                        &email.subject_line(),
                        self.clock.now(),
                    )
                    .await
                    .map_err(store_failed)?;
                tracing::info!(conversation = %conversation.0, up_to, "email sent");
                self.set_delivery(carried, DeliveryState::Sent, None).await
            }
            Err(SendError::Transient(reason)) => {
                let last = job.attempt >= job.max_attempts;
                let state = if last {
                    DeliveryState::Failed
                } else {
                    DeliveryState::Pending
                };
                tracing::warn!(attempt = job.attempt, %reason, "email not sent; will retry");
                self.set_delivery(carried, state, Some(reason.clone()))
                    .await?;
                Err(JobError::Retry(reason))
            }
            Err(SendError::Permanent(reason)) => {
                tracing::warn!(%reason, "email refused by the mail server");
                self.set_delivery(carried, DeliveryState::Failed, Some(reason.clone()))
                    .await?;
                Err(JobError::Permanent(reason))
            }
        }
    }

    /// `email.reply`: the agent's reply and the transcript since the last email (I14).
    async fn send_reply(&self, job: &JobRecord, payload: MailJob) -> Result<(), JobError> {
        let context = self.context(payload.conversation_id).await?;
        let reply = context.as_ref().and_then(|context| {
            visible(&context.thread)
                .find(|message| message.client_id == payload.client_id)
                .cloned()
        });
        let (Some(context), Some(reply)) = (context, reply) else {
            return Err(JobError::Permanent(
                "the reply or the contact's email is gone".into(),
            ));
        };
        let limit = self.config.mail.transcript_messages as usize;
        let since: Vec<Message> = visible(&context.thread)
            .filter(|m| m.seq > context.mail.emailed_up_to && m.seq < reply.seq)
            .cloned()
            .collect();
        let earlier = since[since.len().saturating_sub(limit)..].to_vec();
        let email = self.outgoing(
            &context,
            Purpose::Reply,
            payload.subject.clone(),
            vec![reply.clone()],
            earlier,
        );
        self.send(job, email, &[reply]).await
    }

    /// `email.unread`: if the message is still unseen and not emailed, every unseen agent
    /// message and the recent thread (E2).
    async fn send_unread(&self, job: &JobRecord, payload: MailJob) -> Result<(), JobError> {
        let Some(context) = self.context(payload.conversation_id).await? else {
            return Ok(()); // No contact, no email address: nobody to write to.
        };
        if context.contact.email_bouncing {
            return Ok(());
        }
        let marks = self
            .store
            .read_marks(payload.conversation_id)
            .await
            .map_err(store_failed)?;
        let after = marks.seen_by_visitor.max(context.mail.emailed_up_to);
        let Some(trigger) = visible(&context.thread).find(|m| m.client_id == payload.client_id)
        else {
            return Ok(()); // Deleted meanwhile.
        };
        if trigger.seq <= after {
            return Ok(()); // Seen, or already carried by an earlier email.
        }
        let unseen: Vec<Message> = visible(&context.thread)
            .filter(|m| m.seq > after && is_team(&m.author) && m.channel == Channel::Chat)
            .cloned()
            .collect();
        let first = unseen.first().map_or(trigger.seq, |m| m.seq);
        let before: Vec<Message> = visible(&context.thread)
            .filter(|m| m.seq < first)
            .cloned()
            .collect();
        let limit = self.config.mail.transcript_messages as usize;
        let earlier = before[before.len().saturating_sub(limit)..].to_vec();
        let email = self.outgoing(&context, Purpose::Unread, None, unseen.clone(), earlier);
        self.send(job, email, &unseen).await
    }
}

fn purpose_tag(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Reply => "reply",
        Purpose::Unread => "unread",
    }
}

/// `Re: <subject>`, once.
fn reply_subject(subject: &str) -> String {
    let trimmed = subject.trim();
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("re:") || lower.starts_with("aw:") {
        trimmed.to_owned()
    } else {
        format!("Re: {trimmed}")
    }
}

#[async_trait]
impl JobHandler for MailJobs {
    async fn run(&self, job: &JobRecord) -> Result<(), JobError> {
        let payload: MailJob = serde_json::from_str(&job.payload)
            .map_err(|error| JobError::Permanent(format!("bad payload: {error}")))?;
        match job.kind.as_str() {
            REPLY_JOB => self.send_reply(job, payload).await,
            UNREAD_JOB => self.send_unread(job, payload).await,
            other => Err(JobError::Permanent(format!("not an email job: {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_gets_one_re() {
        assert_eq!(reply_subject("Order 42"), "Re: Order 42");
        assert_eq!(reply_subject("RE: Order 42"), "RE: Order 42");
        assert_eq!(reply_subject("AW: Bestellung"), "AW: Bestellung");
    }
}
