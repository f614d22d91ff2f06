//! Conversations in the inbox: the list with filters, search and paging (I2), the thread,
//! replies and internal comments (I5, I7), read state (I4), complete / reopen (I8),
//! assignment (I9), blocking (I10) and deletion (I11).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use natter_protocol::agent::{
    reply_channels, template, AgentMessage, Assign, AssigneeFilter, ChannelUnavailable,
    ConversationDetail, ConversationList, ConversationQuery, ConversationSummary, Delivery,
    DeliveryState, SendReply, SetBlocked, SetStatus, SetTyping,
};
use natter_protocol::{Author, ConversationId, Seq};
use uuid::Uuid;

use super::audit::record;
use super::auth::AgentSession;
use super::search::{cursor, parse_cursor};
use super::{require_admin, InboxEvent};
use crate::attachments::{self, Uploader};
use crate::conversations::{self, AppendError, Incoming};
use crate::error::HttpError;
use crate::events::{Event, Typist};
use crate::mail::outbox::{agent_message_follow_ups, MailJob};
use crate::store::ConversationRecord;
use crate::store::{AssigneeScope, ListQuery};
use crate::AppState;

pub fn parse_id(id: &str) -> Result<ConversationId, HttpError> {
    Uuid::parse_str(id)
        .map(ConversationId)
        .map_err(|_| HttpError::not_found("no such conversation"))
}

/// A stored conversation as agents see it: with the visitor's presence, which is not stored.
pub fn present(state: &AppState, record: ConversationRecord) -> ConversationSummary {
    let mut summary = record.summary;
    summary.state.visitor_online = state
        .presence
        .visitor_online(record.visitor_id.as_ref(), summary.id);
    summary
}

/// The conversation, or 404.
pub async fn load(state: &AppState, id: ConversationId) -> Result<ConversationSummary, HttpError> {
    let record = state
        .store
        .inbox_conversation(id)
        .await?
        .ok_or_else(|| HttpError::not_found("no such conversation"))?;
    Ok(present(state, record))
}

/// Tells every console that a conversation changed.
pub fn changed(state: &AppState, id: ConversationId) {
    state
        .hub
        .publish(Event::Inbox(InboxEvent::ConversationChanged(id)));
}

/// `GET /v1/agent/conversations`.
pub async fn list(
    State(state): State<AppState>,
    session: AgentSession,
    Query(query): Query<ConversationQuery>,
) -> Result<Json<ConversationList>, HttpError> {
    let limits = &state.config.limits;
    let limit = query
        .limit
        .unwrap_or(limits.inbox_page_size.min(limits.max_inbox_page_size));
    if limit == 0 || limit > limits.max_inbox_page_size {
        return Err(HttpError::invalid(format!(
            "limit must be between 1 and {}",
            limits.max_inbox_page_size
        )));
    }
    let search = match query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) => {
            let chars = q.chars().count();
            if chars > limits.max_search_chars {
                return Err(HttpError::invalid(format!(
                    "the search is too long ({chars} characters; the limit is {})",
                    limits.max_search_chars
                )));
            }
            Some(q.to_owned())
        }
        None => None,
    };
    let after = match &query.after {
        Some(text) => Some(
            parse_cursor(text)
                .ok_or_else(|| HttpError::invalid("after is not a cursor from this list"))?,
        ),
        None => None,
    };
    let list_query = ListQuery {
        status: query.status,
        assignee: match query.assignee.unwrap_or(AssigneeFilter::All) {
            AssigneeFilter::All => AssigneeScope::All,
            AssigneeFilter::Unassigned => AssigneeScope::Unassigned,
            AssigneeFilter::Mine => AssigneeScope::Mine(session.agent.id),
        },
        channel: query.channel,
        search,
        blocked: query.blocked.unwrap_or(false),
        after,
        limit,
    };
    let mut records = state.store.inbox_list(&list_query).await?;
    let next = if records.len() > limit as usize {
        records.truncate(limit as usize);
        records.last().map(|last| {
            cursor(
                last.summary.last_activity_at,
                &last.summary.id.0.to_string(),
            )
        })
    } else {
        None
    };
    let conversations = records
        .into_iter()
        .map(|record| present(&state, record))
        .collect();
    Ok(Json(ConversationList {
        conversations,
        next,
    }))
}

/// `GET /v1/agent/conversations/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    _session: AgentSession,
    Path(id): Path<String>,
) -> Result<Json<ConversationDetail>, HttpError> {
    let id = parse_id(&id)?;
    let conversation = load(&state, id).await?;
    let messages = state.store.inbox_thread(id).await?;
    Ok(Json(ConversationDetail {
        conversation,
        messages,
    }))
}

/// `POST /v1/agent/conversations/{id}/messages`: a reply, or an internal comment (I7).
pub async fn send_reply(
    State(state): State<AppState>,
    session: AgentSession,
    Path(id): Path<String>,
    Json(reply): Json<SendReply>,
) -> Result<Json<AgentMessage>, HttpError> {
    let conversation_id = parse_id(&id)?;
    let summary = load(&state, conversation_id).await?;
    let channel =
        if reply.internal {
            summary.state.channel
        } else {
            if template::has_tag(&reply.text) {
                return Err(HttpError::invalid(
                    "the reply contains a personalization tag ({{…}}); insert the saved response \
                 again so it is filled in, or remove the tag",
                ));
            }
            let email_enabled = state.config.mail.smtp_host.is_some();
            let (options, preferred) = reply_channels(&summary.state, email_enabled);
            let channel = reply.channel.unwrap_or(preferred);
            match options.iter().find(|option| option.channel == channel) {
                Some(option) => match option.unavailable {
                    None => channel,
                    Some(ChannelUnavailable::EmailOff) => {
                        return Err(HttpError::invalid(
                            "cannot reply by email: this relay has no mail server configured",
                        ))
                    }
                    Some(ChannelUnavailable::NoEmail) => {
                        return Err(HttpError::invalid(
                            "cannot reply by email: no email address is known for this contact",
                        ))
                    }
                    Some(ChannelUnavailable::NotChat) => {
                        return Err(HttpError::invalid(
                            "cannot reply by web chat: this conversation did not start in the chat",
                        ))
                    }
                    Some(ChannelUnavailable::NotMessenger) => return Err(HttpError::invalid(
                        "cannot reply by Messenger: this conversation did not come from Messenger",
                    )),
                },
                None => return Err(HttpError::invalid("unknown channel")),
            }
        };
    let subject = super::saved_responses::email_subject(
        reply.subject.as_deref(),
        state.config.limits.max_short_field_chars,
    )?;
    let follow_ups = agent_message_follow_ups(
        &state.config,
        state.config.site(&summary.site),
        MailJob {
            conversation_id,
            client_id: reply.client_id,
            subject,
        },
        channel,
        reply.internal,
        state.clock.now(),
    );
    let awaits_delivery = follow_ups.awaits_delivery;
    let incoming = Incoming {
        attachments: reply.attachments,
        internal: reply.internal,
        jobs: follow_ups.jobs,
        awaits_delivery,
        ..Incoming::text(
            conversation_id,
            reply.client_id,
            Author::Agent {
                agent_id: session.agent.id,
                name: session.agent.name.clone(),
            },
            channel,
            reply.text,
        )
    };
    match conversations::append(&state, incoming).await {
        Ok(message) => {
            if !reply.internal {
                // Whoever answers has read what they answer.
                read_by_agents(&state, conversation_id, message.seq).await?;
            }
            // The outbox may already have sent it; the live frame brings the news either way.
            let delivery = awaits_delivery.then_some(Delivery {
                state: DeliveryState::Pending,
                detail: None,
                updated_at: message.sent_at,
            });
            Ok(Json(AgentMessage {
                message,
                internal: reply.internal,
                delivery,
                unverified_sender: None,
            }))
        }
        Err(AppendError::NotFound) => Err(HttpError::not_found("no such conversation")),
        Err(AppendError::Store(error)) => Err(HttpError::internal(error)),
        Err(invalid) => Err(HttpError::invalid(invalid.to_string())),
    }
}

/// `POST /v1/agent/conversations/{id}/attachments`: a file for a reply (I13), sent by naming
/// its id in the reply.
pub async fn upload(
    State(state): State<AppState>,
    _session: AgentSession,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<Json<natter_protocol::Attachment>, HttpError> {
    let id = parse_id(&id)?;
    load(&state, id).await?;
    let saved = attachments::save(&state, &headers, body, id, Uploader::Agent).await?;
    Ok(Json(saved))
}

/// `POST /v1/agent/conversations/{id}/read`: opened by an agent, so read for all (I4).
pub async fn mark_read(
    State(state): State<AppState>,
    _session: AgentSession,
    Path(id): Path<String>,
) -> Result<Json<ConversationSummary>, HttpError> {
    let id = parse_id(&id)?;
    if state.store.inbox_mark_read(id).await? {
        changed(&state, id);
    }
    // Everything stored so far (the store caps the mark at the newest message).
    read_by_agents(&state, id, Seq::MAX).await?;
    Ok(Json(load(&state, id).await?))
}

/// Moves the agents' read mark and tells the visitor's widget (W4 "read").
async fn read_by_agents(state: &AppState, id: ConversationId, up_to: Seq) -> Result<(), HttpError> {
    if let Some(up_to_seq) = state.store.mark_read_by_agents(id, up_to).await? {
        state.hub.publish(Event::ReadByAgents {
            conversation_id: id,
            up_to_seq,
        });
    }
    Ok(())
}

/// `POST /v1/agent/conversations/{id}/typing`: the agent started or stopped typing a reply
/// (W7). The visitor sees the agent's display name; other agents see it too (I15).
pub async fn typing(
    State(state): State<AppState>,
    session: AgentSession,
    Path(id): Path<String>,
    Json(body): Json<SetTyping>,
) -> Result<StatusCode, HttpError> {
    let id = parse_id(&id)?;
    // 404 for a conversation that does not exist (or was deleted).
    load(&state, id).await?;
    state.hub.publish(Event::Typing {
        conversation_id: id,
        typist: Typist::Agent {
            agent_id: session.agent.id,
            name: session.agent.name.clone(),
        },
        typing: body.typing,
    });
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/agent/conversations/{id}/status`: complete or reopen (I8).
pub async fn set_status(
    State(state): State<AppState>,
    _session: AgentSession,
    Path(id): Path<String>,
    Json(body): Json<SetStatus>,
) -> Result<Json<ConversationSummary>, HttpError> {
    let id = parse_id(&id)?;
    if !state.store.inbox_set_status(id, body.status).await? {
        return Err(HttpError::not_found("no such conversation"));
    }
    changed(&state, id);
    Ok(Json(load(&state, id).await?))
}

/// `POST /v1/agent/conversations/{id}/assign`: to an agent, a group, both, or nobody (I9).
pub async fn assign(
    State(state): State<AppState>,
    _session: AgentSession,
    Path(id): Path<String>,
    Json(body): Json<Assign>,
) -> Result<Json<ConversationSummary>, HttpError> {
    let id = parse_id(&id)?;
    if let Some(agent) = body.agent {
        match state.store.inbox_agent(agent).await? {
            Some(record) if !record.disabled => {}
            Some(_) => return Err(HttpError::invalid("this agent's account is disabled")),
            None => return Err(HttpError::invalid("no such agent")),
        }
    }
    if let Some(group) = body.group {
        let groups = state.store.inbox_groups().await?;
        if !groups.iter().any(|g| g.id == group) {
            return Err(HttpError::invalid("no such group"));
        }
    }
    if !state.store.inbox_assign(id, body.agent, body.group).await? {
        return Err(HttpError::not_found("no such conversation"));
    }
    changed(&state, id);
    Ok(Json(load(&state, id).await?))
}

/// `POST /v1/agent/conversations/{id}/block`: blocks or unblocks the contact (I10).
pub async fn set_blocked(
    State(state): State<AppState>,
    session: AgentSession,
    Path(id): Path<String>,
    Json(body): Json<SetBlocked>,
) -> Result<Json<ConversationSummary>, HttpError> {
    let id = parse_id(&id)?;
    let before = load(&state, id).await?;
    let changed_ids = state
        .store
        .inbox_set_blocked(id, body.blocked, state.clock.now())
        .await?;
    let (action, verb) = if body.blocked {
        ("contact.block", "Blocked")
    } else {
        ("contact.unblock", "Unblocked")
    };
    record(
        &state,
        &session,
        action,
        id.0.to_string(),
        format!("{verb} {}", before.display_name()),
    )
    .await?;
    for changed_id in changed_ids {
        changed(&state, changed_id);
    }
    Ok(Json(load(&state, id).await?))
}

/// `DELETE /v1/agent/conversations/{id}`: admins only, recorded in the audit log (I11).
pub async fn delete(
    State(state): State<AppState>,
    session: AgentSession,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    require_admin(&session, "delete conversations; ask an admin")?;
    let id = parse_id(&id)?;
    let summary = load(&state, id).await?;
    if !state.store.inbox_delete_conversation(id).await? {
        return Err(HttpError::not_found("no such conversation"));
    }
    record(
        &state,
        &session,
        "conversation.delete",
        id.0.to_string(),
        format!(
            "Deleted the conversation with {} ({} messages, site {})",
            summary.display_name(),
            summary.message_count,
            summary.site
        ),
    )
    .await?;
    state
        .hub
        .publish(Event::Inbox(InboxEvent::ConversationDeleted(id)));
    Ok(StatusCode::NO_CONTENT)
}
