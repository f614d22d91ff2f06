//! The contact panel (I12): email (verified or not), phone, account, full name, and the
//! contact's other conversations. Agents add or edit fields; every field is validated here
//! with a message that names it.

use axum::extract::{Path, State};
use axum::Json;
use natter_protocol::agent::{ContactPanel, ContactUpdate};

use super::auth::AgentSession;
use super::conversations::{changed, parse_id, present};
use super::InboxEvent;
use crate::config::Limits;
use crate::contacts::{validate_details, ContactDetails};
use crate::error::HttpError;
use crate::events::Event;
use crate::store::ContactChanges;
use crate::AppState;

/// `GET /v1/agent/conversations/{id}/contact`.
pub async fn panel(
    State(state): State<AppState>,
    _session: AgentSession,
    Path(id): Path<String>,
) -> Result<Json<ContactPanel>, HttpError> {
    let id = parse_id(&id)?;
    if state.store.inbox_conversation(id).await?.is_none() {
        return Err(HttpError::not_found("no such conversation"));
    }
    let contact = state.store.inbox_contact(id).await?;
    let shown = state.config.limits.contact_conversations_shown;
    let other_conversations = match &contact {
        // One more than shown, as the open conversation is among them.
        Some(contact) => state
            .store
            .inbox_contact_conversations(contact.id, shown.saturating_add(1))
            .await?
            .into_iter()
            .filter(|record| record.summary.id != id)
            .take(shown as usize)
            .map(|record| present(&state, record))
            .collect(),
        None => Vec::new(),
    };
    Ok(Json(ContactPanel {
        contact,
        other_conversations,
    }))
}

/// Validates an optional field: `Some("")` clears it.
fn optional_field(
    field: &str,
    value: Option<String>,
    limit: usize,
    check: impl Fn(&str) -> bool,
    expected: &str,
) -> Result<Option<Option<String>>, HttpError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Ok(Some(None));
    }
    let chars = value.chars().count();
    if chars > limit {
        return Err(HttpError::invalid(format!(
            "{field}: too long ({chars} characters; the limit is {limit})"
        )));
    }
    if !check(&value) {
        return Err(HttpError::invalid(format!("{field}: {expected}")));
    }
    Ok(Some(Some(value)))
}

fn is_phone(value: &str) -> bool {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    digits >= 3
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

/// Checks an agent's contact edit.
pub fn validate(update: ContactUpdate, limits: &Limits) -> Result<ContactChanges, HttpError> {
    let limit = limits.max_contact_field_chars;
    let email = match update.email.map(|e| e.trim().to_owned()) {
        None => None,
        Some(email) if email.is_empty() => {
            return Err(HttpError::invalid("email: an email address is required"))
        }
        Some(email) => {
            let details = ContactDetails {
                email,
                name: None,
                phone: None,
                company: None,
            };
            let valid = validate_details(details, limits)
                .map_err(|error| HttpError::invalid(format!("email: {error}")))?;
            Some(valid.email)
        }
    };
    Ok(ContactChanges {
        email,
        name: optional_field("name", update.name, limit, |_| true, "")?,
        phone: optional_field(
            "phone",
            update.phone,
            limit,
            is_phone,
            "use digits, spaces and + - ( ) only, e.g. +49 30 1234567",
        )?,
        company: optional_field("account", update.company, limit, |_| true, "")?,
    })
}

/// `PUT /v1/agent/conversations/{id}/contact`: edits the contact, or creates one (an email is
/// required then). A verified email (from the site's login) cannot be changed by agents.
pub async fn update(
    State(state): State<AppState>,
    _session: AgentSession,
    Path(id): Path<String>,
    Json(update): Json<ContactUpdate>,
) -> Result<Json<ContactPanel>, HttpError> {
    let id = parse_id(&id)?;
    let changes = validate(update, &state.config.limits)?;
    if state.store.inbox_conversation(id).await?.is_none() {
        return Err(HttpError::not_found("no such conversation"));
    }
    match state.store.inbox_contact(id).await? {
        Some(contact) => {
            let email_changes = changes
                .email
                .as_ref()
                .is_some_and(|email| !email.eq_ignore_ascii_case(&contact.email));
            if contact.email_verified && email_changes {
                return Err(HttpError::invalid(
                    "email: this address was verified by the site's login and cannot be changed here",
                ));
            }
        }
        None if changes.email.is_none() => {
            return Err(HttpError::invalid(
                "email: add an email address first to create the contact",
            ))
        }
        None => {}
    }
    let contact = state
        .store
        .inbox_update_contact(id, &changes, state.clock.now())
        .await?;
    state
        .hub
        .publish(Event::Inbox(InboxEvent::ContactUpdated(contact.clone())));
    changed(&state, id);
    panel(State(state), _session, Path(id.0.to_string())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_validated_with_their_name() {
        let limits = Limits {
            max_contact_field_chars: 10,
            ..Limits::default()
        };
        let ok = validate(
            ContactUpdate {
                email: Some(" ada@ex.io ".into()),
                name: Some("".into()),
                phone: Some("+49 (30) 1".into()),
                company: None,
            },
            &limits,
        )
        .unwrap();
        assert_eq!(ok.email.as_deref(), Some("ada@ex.io"));
        assert_eq!(ok.name, Some(None), "empty clears");
        assert_eq!(ok.company, None, "absent stays");
        let error = |update: ContactUpdate| validate(update, &limits).unwrap_err().message;
        assert!(error(ContactUpdate {
            phone: Some("call me".into()),
            ..Default::default()
        })
        .starts_with("phone:"));
        assert!(error(ContactUpdate {
            name: Some("12345678901".into()),
            ..Default::default()
        })
        .contains("limit is 10"));
        assert!(error(ContactUpdate {
            email: Some("not-an-email".into()),
            ..Default::default()
        })
        .starts_with("email:"));
    }
}
