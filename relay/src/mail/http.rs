//! The HTTP side of email: the inbound endpoint (E5) for an MTA or a provider's inbound
//! webhook, and the admins' view of inbound mail that did not become a message.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use natter_protocol::agent::InboundMailLog;
use natter_protocol::ErrorCode;
use serde::{Deserialize, Serialize};

use super::inbound::{ingest, IngestError, Ingested};
use crate::error::HttpError;
use crate::identity::constant_time_eq;
use crate::inbox::auth::AgentSession;
use crate::inbox::require_admin;
use crate::AppState;

/// Where an MTA or a provider posts raw RFC 5322 messages.
pub const INBOUND_PATH: &str = "/v1/mail/inbound";

/// The answer of [`INBOUND_PATH`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReply {
    /// `appended`, `duplicate`, `ignored` or `kept`.
    pub outcome: String,
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// The kept entry's id, for `ignored` and `kept`.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            INBOUND_PATH,
            // The endpoint checks the size itself, with a clear answer; axum's own limit
            // only stops a body far beyond it.
            post(inbound).layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/agent/mail/inbound", get(log))
        .route("/v1/agent/mail/inbound/{id}/raw", get(raw))
}

/// Whether the request carries the configured bearer secret.
fn authorized(state: &AppState, headers: &HeaderMap) -> Result<(), HttpError> {
    let Some(secret) = &state.config.mail.ingest_secret else {
        return Err(HttpError::not_found(
            "inbound email is off: set mail.ingest_secret to turn it on",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if constant_time_eq(given.as_bytes(), secret.expose().as_bytes()) {
        Ok(())
    } else {
        Err(HttpError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "a valid bearer secret is required",
        ))
    }
}

/// `POST /v1/mail/inbound`: one raw email as the body.
async fn inbound(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(error) = authorized(&state, &headers) {
        return error.into_response();
    }
    let reply = match ingest(&state, &state.mail_tokens, &body).await {
        Ok(Ingested::Appended {
            conversation_id,
            duplicate,
            ..
        }) => IngestReply {
            outcome: if duplicate { "duplicate" } else { "appended" }.into(),
            conversation_id: Some(conversation_id.0.to_string()),
            id: None,
            reason: None,
        },
        Ok(Ingested::Ignored { id, reason }) => IngestReply {
            outcome: "ignored".into(),
            conversation_id: None,
            id: Some(id),
            reason: Some(reason),
        },
        Ok(Ingested::Kept { id, reason }) => IngestReply {
            outcome: "kept".into(),
            conversation_id: None,
            id: Some(id),
            reason: Some(reason),
        },
        Err(error @ IngestError::TooLarge { .. }) => {
            return HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::InvalidInput,
                error.to_string(),
            )
            .into_response()
        }
        Err(IngestError::Store(error)) => return HttpError::from(error).into_response(),
    };
    Json(reply).into_response()
}

/// `GET /v1/agent/mail/inbound` (admins).
async fn log(
    State(state): State<AppState>,
    session: AgentSession,
) -> Result<Json<InboundMailLog>, HttpError> {
    require_admin(&session, "see inbound email")?;
    let entries = state
        .store
        .inbound_mail_log(state.config.limits.audit_page_size)
        .await?;
    Ok(Json(InboundMailLog { entries }))
}

/// `GET /v1/agent/mail/inbound/{id}/raw` (admins): the email as it arrived.
async fn raw(
    State(state): State<AppState>,
    session: AgentSession,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    require_admin(&session, "download inbound email")?;
    let Some(bytes) = state.store.inbound_mail_raw(&id).await? else {
        return Err(HttpError::not_found("no such inbound email"));
    };
    let disposition = format!("attachment; filename=\"inbound-{id}.eml\"");
    Ok((
        [
            (header::CONTENT_TYPE, "message/rfc822".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
