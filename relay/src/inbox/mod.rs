//! The built-in inbox: the agent API (`/v1/agent/*`, REST + WebSocket) that the console and
//! other tools use. Every rule is enforced here, not only in the console.

pub mod auth;
mod live;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use natter_protocol::agent::{ConversationDetail, ConversationList, SendReply};
use natter_protocol::{Author, Channel, ConversationId, Message};
use uuid::Uuid;

use crate::conversations::{self, AppendError, Incoming};
use crate::error::HttpError;
use crate::AppState;
use auth::AgentSession;

/// How many conversations the list returns (paging and filters come with the full inbox).
const LIST_LIMIT: u32 = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/agent/login", post(auth::login))
        .route("/v1/agent/logout", post(auth::logout))
        .route("/v1/agent/me", get(auth::me))
        .route("/v1/agent/conversations", get(list_conversations))
        .route("/v1/agent/conversations/{id}", get(conversation_detail))
        .route("/v1/agent/conversations/{id}/messages", post(send_reply))
        .route(natter_protocol::agent::AGENT_WS_PATH, get(live::upgrade))
}

async fn list_conversations(
    State(state): State<AppState>,
    _session: AgentSession,
) -> Result<Json<ConversationList>, HttpError> {
    let conversations = state.store.list_conversations(LIST_LIMIT).await?;
    Ok(Json(ConversationList { conversations }))
}

fn parse_conversation_id(id: &str) -> Result<ConversationId, HttpError> {
    Uuid::parse_str(id)
        .map(ConversationId)
        .map_err(|_| HttpError::not_found("no such conversation"))
}

async fn conversation_detail(
    State(state): State<AppState>,
    _session: AgentSession,
    Path(id): Path<String>,
) -> Result<Json<ConversationDetail>, HttpError> {
    let id = parse_conversation_id(&id)?;
    let record = state
        .store
        .conversation(id)
        .await?
        .ok_or_else(|| HttpError::not_found("no such conversation"))?;
    // The whole thread: agents need all of it; paging comes with the full inbox.
    let messages = state.store.messages_after(id, 0, u32::MAX).await?;
    Ok(Json(ConversationDetail {
        conversation: record.summary,
        messages,
    }))
}

async fn send_reply(
    State(state): State<AppState>,
    session: AgentSession,
    Path(id): Path<String>,
    Json(reply): Json<SendReply>,
) -> Result<Json<Message>, HttpError> {
    let conversation_id = parse_conversation_id(&id)?;
    let incoming = Incoming {
        conversation_id,
        client_id: reply.client_id,
        author: Author::Agent {
            agent_id: session.agent.id,
            name: session.agent.name.clone(),
        },
        channel: Channel::Chat,
        text: reply.text,
        origin: None,
    };
    match conversations::append(&state, incoming).await {
        Ok(message) => Ok(Json(message)),
        Err(AppendError::NotFound) => Err(HttpError::not_found("no such conversation")),
        Err(AppendError::Store(error)) => Err(HttpError::internal(error)),
        Err(invalid) => Err(HttpError::invalid(invalid.to_string())),
    }
}
