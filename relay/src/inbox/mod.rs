//! The built-in inbox: the agent API (`/v1/agent/*`, REST + WebSocket) that the console and
//! other tools use (documented in `docs/agent-api.md`). Every rule is enforced here, not only
//! in the console.
//!
//! - [`auth`]: login, sessions, CSRF (I1, S6).
//! - [`conversations`]: list, search, thread, replies and comments, read, complete, assign,
//!   block, delete (I2–I11).
//! - [`agents`]: agents and groups, for admins (I1).
//! - [`contacts`]: the contact panel (I12).
//! - [`saved_responses`]: saved responses and their tags (I6).
//! - [`audit`]: the audit log (I11).
//! - `live`: the agent socket (I15).
//!
//! Who is online lives in [`crate::presence`]; what the inbox needs from storage is
//! [`crate::store::InboxStore`].

pub mod agents;
pub mod audit;
pub mod auth;
pub mod contacts;
pub mod conversations;
mod live;
pub mod mail_log;
pub mod saved_responses;
pub mod search;

use axum::routing::{get, patch, post, put};
use axum::Router;
use natter_protocol::agent::Role;

use crate::error::{HttpError, StoreError};
use crate::AppState;
use auth::AgentSession;

pub use crate::events::InboxEvent;

pub fn router() -> Router<AppState> {
    use conversations as c;
    Router::new()
        .route("/v1/agent/login", post(auth::login))
        .route("/v1/agent/logout", post(auth::logout))
        .route("/v1/agent/me", get(auth::me))
        .route("/v1/agent/conversations", get(c::list))
        .route(
            "/v1/agent/conversations/{id}",
            get(c::detail).delete(c::delete),
        )
        .route("/v1/agent/conversations/{id}/messages", post(c::send_reply))
        .route("/v1/agent/conversations/{id}/read", post(c::mark_read))
        .route("/v1/agent/conversations/{id}/attachments", post(c::upload))
        .route("/v1/agent/mail/inbound", get(mail_log::list))
        .route("/v1/agent/mail/inbound/{id}/raw", get(mail_log::raw))
        .route("/v1/agent/conversations/{id}/typing", post(c::typing))
        .route("/v1/agent/conversations/{id}/status", post(c::set_status))
        .route("/v1/agent/conversations/{id}/assign", post(c::assign))
        .route("/v1/agent/conversations/{id}/block", post(c::set_blocked))
        .route(
            "/v1/agent/conversations/{id}/contact",
            get(contacts::panel).put(contacts::update),
        )
        .route("/v1/agent/agents", get(agents::list).post(agents::create))
        .route("/v1/agent/agents/{id}", patch(agents::update))
        .route("/v1/agent/groups", post(agents::create_group))
        .route("/v1/agent/groups/{id}", put(agents::update_group))
        .route(
            "/v1/agent/saved-responses",
            get(saved_responses::list).post(saved_responses::create),
        )
        .route(
            "/v1/agent/saved-responses/{id}",
            put(saved_responses::update).delete(saved_responses::delete),
        )
        .route("/v1/agent/audit", get(audit::list))
        .route(natter_protocol::agent::AGENT_WS_PATH, get(live::upgrade))
}

/// Refuses anyone but an admin, with a message that says so.
pub fn require_admin(session: &AgentSession, what: &str) -> Result<(), HttpError> {
    if session.agent.role == Role::Admin {
        Ok(())
    } else {
        Err(HttpError::forbidden(format!("only admins can {what}")))
    }
}

/// A store error at the HTTP boundary: a unique-constraint violation becomes a clear 422.
pub fn store_error(error: StoreError, duplicate: &str) -> HttpError {
    match &error {
        StoreError::Duplicate(_) => HttpError::invalid(duplicate),
        _ => error.into(),
    }
}

/// Checks a required text field: trimmed, not empty, at most `limit` characters.
pub fn required_text(field: &str, value: &str, limit: usize) -> Result<String, HttpError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(HttpError::invalid(format!("{field} is required")));
    }
    let chars = value.chars().count();
    if chars > limit {
        return Err(HttpError::invalid(format!(
            "{field} is too long ({chars} characters; the limit is {limit})"
        )));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_text_at_and_past_its_limit() {
        assert_eq!(required_text("name", " Ada ", 3).unwrap(), "Ada");
        assert_eq!(
            required_text("name", "Zoë", 3).unwrap(),
            "Zoë",
            "3 characters, 4 bytes"
        );
        assert_eq!(
            required_text("name", "Adam", 3).unwrap_err().message,
            "name is too long (4 characters; the limit is 3)"
        );
        assert_eq!(
            required_text("title", "  ", 3).unwrap_err().message,
            "title is required"
        );
    }
}
