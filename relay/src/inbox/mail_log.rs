//! Inbound email that did not become a message (E3, E5), for admins: unparseable or unroutable
//! mail (kept) and auto-replies and bounces (ignored), with the raw message to download.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use natter_protocol::agent::InboundMailLog;

use super::auth::AgentSession;
use super::require_admin;
use crate::error::HttpError;
use crate::AppState;

/// `GET /v1/agent/mail/inbound` (admins).
pub async fn list(
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
pub async fn raw(
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
