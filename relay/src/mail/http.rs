//! The HTTP side of the email door: the inbound endpoint (E5) for an MTA or a provider's
//! inbound webhook. (The admins' view of inbound mail is in `inbox::mail_log`.)

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use natter_protocol::ErrorCode;
use serde::{Deserialize, Serialize};

use super::inbound::{ingest, IngestError, Ingested};
use crate::error::HttpError;
use crate::identity::constant_time_eq;
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
    Router::new().route(
        INBOUND_PATH,
        // The endpoint checks the size itself, with a clear answer; axum's own limit
        // only stops a body far beyond it.
        post(inbound).layer(DefaultBodyLimit::disable()),
    )
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
