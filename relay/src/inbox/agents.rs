//! Agents and groups (I1): everyone may list them (for assigning); only admins create,
//! change or disable them. Disabling an account ends its sessions at once.

use axum::extract::{Path, State};
use axum::Json;
use natter_protocol::agent::{
    AgentInfo, AgentList, AgentUpdate, Group, GroupId, GroupInput, NewAgentRequest,
};
use natter_protocol::AgentId;
use uuid::Uuid;

use super::audit::record;
use super::auth::{self, AgentSession, CreateAgentError};
use super::{require_admin, required_text, store_error, InboxEvent};
use crate::error::{HttpError, StoreError};
use crate::events::Event;
use crate::store::AgentChanges;
use crate::store::AgentRecord;
use crate::AppState;

fn info(state: &AppState, record: AgentRecord) -> AgentInfo {
    AgentInfo {
        online_since: state.presence.agent_online_since(record.profile.id),
        profile: record.profile,
        disabled: record.disabled,
    }
}

fn agents_changed(state: &AppState) {
    state.hub.publish(Event::Inbox(InboxEvent::AgentsChanged));
}

/// `GET /v1/agent/agents`: agents with presence, and groups.
pub async fn list(
    State(state): State<AppState>,
    _session: AgentSession,
) -> Result<Json<AgentList>, HttpError> {
    let agents = state
        .store
        .inbox_agents()
        .await?
        .into_iter()
        .map(|record| info(&state, record))
        .collect();
    let groups = state.store.inbox_groups().await?;
    Ok(Json(AgentList { agents, groups }))
}

/// Checks a new password against `Limits::min_password_chars` and `max_credential_chars`.
pub fn check_password(state: &AppState, password: &str) -> Result<(), HttpError> {
    let limits = &state.config.limits;
    let chars = password.chars().count();
    if chars < limits.min_password_chars {
        return Err(HttpError::invalid(format!(
            "password: at least {} characters",
            limits.min_password_chars
        )));
    }
    if password.len() > limits.max_credential_chars {
        return Err(HttpError::invalid(format!(
            "password: at most {} bytes",
            limits.max_credential_chars
        )));
    }
    Ok(())
}

/// `POST /v1/agent/agents` (admins).
pub async fn create(
    State(state): State<AppState>,
    session: AgentSession,
    Json(request): Json<NewAgentRequest>,
) -> Result<Json<AgentInfo>, HttpError> {
    require_admin(&session, "create agents")?;
    let name = required_text(
        "name",
        &request.name,
        state.config.limits.max_short_field_chars,
    )?;
    check_password(&state, &request.password)?;
    let created = match auth::create_agent(
        &state,
        &request.email,
        &name,
        &request.password,
        request.role,
    )
    .await
    {
        Ok(created) => created,
        Err(CreateAgentError::InvalidEmail(email)) => {
            return Err(HttpError::invalid(format!(
                "email: {email:?} is not a valid email address"
            )))
        }
        Err(CreateAgentError::Store(error)) => {
            return Err(store_error(
                error,
                "email: an agent with this email already exists",
            ))
        }
        Err(error) => return Err(HttpError::internal(error)),
    };
    record(
        &state,
        &session,
        "agent.create",
        created.profile.id.0.to_string(),
        format!(
            "Created {:?} {} <{}>",
            created.profile.role, created.profile.name, created.profile.email
        ),
    )
    .await?;
    agents_changed(&state);
    Ok(Json(info(&state, created)))
}

/// `PATCH /v1/agent/agents/{id}` (admins).
pub async fn update(
    State(state): State<AppState>,
    session: AgentSession,
    Path(id): Path<String>,
    Json(update): Json<AgentUpdate>,
) -> Result<Json<AgentInfo>, HttpError> {
    require_admin(&session, "change agents")?;
    let id = Uuid::parse_str(&id)
        .map(AgentId)
        .map_err(|_| HttpError::not_found("no such agent"))?;
    if id == session.agent.id && update.disabled == Some(true) {
        return Err(HttpError::invalid("you cannot disable your own account"));
    }
    let name = match &update.name {
        Some(name) => Some(required_text(
            "name",
            name,
            state.config.limits.max_short_field_chars,
        )?),
        None => None,
    };
    let password_hash = match &update.password {
        Some(password) => {
            check_password(&state, password)?;
            let password = password.clone();
            let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
                .await
                .map_err(HttpError::internal)?
                .map_err(HttpError::internal)?;
            Some(hash)
        }
        None => None,
    };
    let changes = AgentChanges {
        name,
        role: update.role,
        disabled: update.disabled,
        password_hash,
    };
    let record = state
        .store
        .inbox_update_agent(id, &changes)
        .await?
        .ok_or_else(|| HttpError::not_found("no such agent"))?;
    let mut what = Vec::new();
    if let Some(disabled) = update.disabled {
        what.push(if disabled { "disabled" } else { "enabled" }.to_owned());
    }
    if let Some(role) = update.role {
        what.push(format!("role {role:?}"));
    }
    if changes.name.is_some() {
        what.push("name".into());
    }
    if changes.password_hash.is_some() {
        what.push("password".into());
    }
    record_change(&state, &session, &record, &what.join(", ")).await?;
    agents_changed(&state);
    Ok(Json(info(&state, record)))
}

async fn record_change(
    state: &AppState,
    session: &AgentSession,
    agent: &AgentRecord,
    what: &str,
) -> Result<(), HttpError> {
    record(
        state,
        session,
        "agent.update",
        agent.profile.id.0.to_string(),
        format!(
            "Changed {} <{}>: {what}",
            agent.profile.name, agent.profile.email
        ),
    )
    .await
}

async fn save_group(
    state: &AppState,
    session: &AgentSession,
    id: Option<GroupId>,
    input: GroupInput,
) -> Result<Group, HttpError> {
    require_admin(session, "change groups")?;
    let name = required_text(
        "name",
        &input.name,
        state.config.limits.max_short_field_chars,
    )?;
    let agents = state.store.inbox_agents().await?;
    for member in &input.members {
        if !agents.iter().any(|a| a.profile.id == *member) {
            return Err(HttpError::invalid("members: no such agent"));
        }
    }
    let group = state
        .store
        .inbox_save_group(id, &name, &input.members, state.clock.now())
        .await
        .map_err(|error| store_error(error, "name: a group with this name already exists"))?
        .ok_or_else(|| HttpError::not_found("no such group"))?;
    record(
        state,
        session,
        "group.save",
        group.id.0.to_string(),
        format!(
            "Saved group {} ({} members)",
            group.name,
            group.members.len()
        ),
    )
    .await?;
    agents_changed(state);
    Ok(group)
}

/// `POST /v1/agent/groups` (admins).
pub async fn create_group(
    State(state): State<AppState>,
    session: AgentSession,
    Json(input): Json<GroupInput>,
) -> Result<Json<Group>, HttpError> {
    Ok(Json(save_group(&state, &session, None, input).await?))
}

/// `PUT /v1/agent/groups/{id}` (admins): name and the full member list.
pub async fn update_group(
    State(state): State<AppState>,
    session: AgentSession,
    Path(id): Path<String>,
    Json(input): Json<GroupInput>,
) -> Result<Json<Group>, HttpError> {
    let id = Uuid::parse_str(&id)
        .map(GroupId)
        .map_err(|_| HttpError::not_found("no such group"))?;
    Ok(Json(save_group(&state, &session, Some(id), input).await?))
}

/// For the CLI: disables (or enables) the agent with this email. Returns whether one exists.
pub async fn set_disabled_by_email(
    state: &AppState,
    email: &str,
    disabled: bool,
) -> Result<bool, StoreError> {
    let Some(agent) = state.store.agent_by_email(email.trim()).await? else {
        return Ok(false);
    };
    let changes = AgentChanges {
        disabled: Some(disabled),
        ..AgentChanges::default()
    };
    Ok(state
        .store
        .inbox_update_agent(agent.profile.id, &changes)
        .await?
        .is_some())
}

/// For the CLI: creates a group with these members (by email).
pub async fn create_group_by_emails(
    state: &AppState,
    name: &str,
    emails: &[String],
) -> Result<Group, String> {
    let mut members = Vec::new();
    for email in emails {
        match state.store.agent_by_email(email.trim()).await {
            Ok(Some(agent)) => members.push(agent.profile.id),
            Ok(None) => return Err(format!("no agent with email {email}")),
            Err(error) => return Err(error.to_string()),
        }
    }
    state
        .store
        .inbox_save_group(None, name.trim(), &members, state.clock.now())
        .await
        .map_err(|error| error.to_string())?
        .ok_or_else(|| "the group vanished".to_owned())
}
