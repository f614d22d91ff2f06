//! Saved responses (I6): admins create, edit and delete them; agents insert them from the
//! composer, where personalization tags are filled in. A body with an unknown or malformed tag
//! is refused here, with the tag named, so it can never reach a visitor raw.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use natter_protocol::agent::{
    template, SavedResponse, SavedResponseId, SavedResponseInput, SavedResponseList,
};
use uuid::Uuid;

use super::auth::AgentSession;
use super::{require_admin, required_text, store_error, InboxEvent};
use crate::error::HttpError;
use crate::events::Event;
use crate::AppState;

/// `GET /v1/agent/saved-responses`.
pub async fn list(
    State(state): State<AppState>,
    _session: AgentSession,
) -> Result<Json<SavedResponseList>, HttpError> {
    Ok(Json(SavedResponseList {
        responses: state.store.saved_responses().await?,
    }))
}

fn validate(state: &AppState, input: SavedResponseInput) -> Result<SavedResponseInput, HttpError> {
    let limits = &state.config.limits;
    let category = required_text("category", &input.category, limits.max_short_field_chars)?;
    let title = required_text("title", &input.title, limits.max_short_field_chars)?;
    let body = required_text("body", &input.body, limits.max_message_chars)?;
    let errors = template::check(&body);
    if !errors.is_empty() {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return Err(HttpError::invalid(format!("body: {}", list.join("; "))));
    }
    let subject = email_subject(input.subject.as_deref(), limits.max_short_field_chars)?;
    if let Some(subject) = &subject {
        if let Some(error) = template::check(subject).first() {
            return Err(HttpError::invalid(format!("subject: {error}")));
        }
    }
    Ok(SavedResponseInput {
        category,
        title,
        body,
        subject,
    })
}

/// An email subject (I6): one line, at most `limit` characters; empty means none.
pub fn email_subject(subject: Option<&str>, limit: usize) -> Result<Option<String>, HttpError> {
    let Some(subject) = subject.map(str::trim).filter(|subject| !subject.is_empty()) else {
        return Ok(None);
    };
    if subject.chars().any(char::is_control) {
        return Err(HttpError::invalid("subject: must be a single line"));
    }
    let chars = subject.chars().count();
    if chars > limit {
        return Err(HttpError::invalid(format!(
            "subject: {chars} characters; the limit is {limit}"
        )));
    }
    Ok(Some(subject.to_owned()))
}

fn parse_id(id: &str) -> Result<SavedResponseId, HttpError> {
    Uuid::parse_str(id)
        .map(SavedResponseId)
        .map_err(|_| HttpError::not_found("no such saved response"))
}

const DUPLICATE: &str = "a saved response with this title already exists in this category";

async fn save(
    state: &AppState,
    session: &AgentSession,
    id: Option<SavedResponseId>,
    input: SavedResponseInput,
) -> Result<SavedResponse, HttpError> {
    require_admin(session, "change saved responses")?;
    let input = validate(state, input)?;
    let saved = state
        .store
        .save_saved_response(id, &input, state.clock.now())
        .await
        .map_err(|error| store_error(error, DUPLICATE))?
        .ok_or_else(|| HttpError::not_found("no such saved response"))?;
    state
        .hub
        .publish(Event::Inbox(InboxEvent::SavedResponsesChanged));
    Ok(saved)
}

/// `POST /v1/agent/saved-responses` (admins).
pub async fn create(
    State(state): State<AppState>,
    session: AgentSession,
    Json(input): Json<SavedResponseInput>,
) -> Result<Json<SavedResponse>, HttpError> {
    Ok(Json(save(&state, &session, None, input).await?))
}

/// `PUT /v1/agent/saved-responses/{id}` (admins).
pub async fn update(
    State(state): State<AppState>,
    session: AgentSession,
    Path(id): Path<String>,
    Json(input): Json<SavedResponseInput>,
) -> Result<Json<SavedResponse>, HttpError> {
    let id = parse_id(&id)?;
    Ok(Json(save(&state, &session, Some(id), input).await?))
}

/// `DELETE /v1/agent/saved-responses/{id}` (admins).
pub async fn delete(
    State(state): State<AppState>,
    session: AgentSession,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    require_admin(&session, "change saved responses")?;
    let id = parse_id(&id)?;
    if !state.store.delete_saved_response(id).await? {
        return Err(HttpError::not_found("no such saved response"));
    }
    state
        .hub
        .publish(Event::Inbox(InboxEvent::SavedResponsesChanged));
    Ok(StatusCode::NO_CONTENT)
}
