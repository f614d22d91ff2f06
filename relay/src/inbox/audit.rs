//! The audit log (I11): who deleted, blocked or changed what, readable by admins.

use axum::extract::State;
use axum::Json;
use natter_protocol::agent::AuditLog;

use super::auth::AgentSession;
use super::require_admin;
use crate::error::HttpError;
use crate::store::NewAuditEntry;
use crate::AppState;

/// Writes one entry. Called after the action succeeded.
pub async fn record(
    state: &AppState,
    session: &AgentSession,
    action: &'static str,
    subject: String,
    details: String,
) -> Result<(), HttpError> {
    state
        .store
        .audit(NewAuditEntry {
            at: state.clock.now(),
            actor: session.agent.id,
            actor_name: session.agent.name.clone(),
            action,
            subject,
            details,
        })
        .await?;
    Ok(())
}

/// `GET /v1/agent/audit` (admins): the newest entries first.
pub async fn list(
    State(state): State<AppState>,
    session: AgentSession,
) -> Result<Json<AuditLog>, HttpError> {
    require_admin(&session, "read the audit log")?;
    let entries = state
        .store
        .audit_log(state.config.limits.audit_page_size)
        .await?;
    Ok(Json(AuditLog { entries }))
}
