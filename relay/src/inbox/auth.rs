//! Agent authentication: argon2 password hashes, session cookies and CSRF (I1, S6).
//!
//! A session is a random token in an HttpOnly, SameSite=Strict cookie; the store keeps only
//! its SHA-256. Every state-changing request must also carry the session's CSRF token in the
//! `x-natter-csrf` header: the [`AgentSession`] extractor checks it for any method other than
//! GET/HEAD, so a handler cannot forget to.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use natter_protocol::agent::{
    AgentProfile, InboxSettings, LoginRequest, Role, Session, CSRF_HEADER,
};
use natter_protocol::ErrorCode;

use crate::error::{HttpError, StoreError};
use crate::identity::{random_token, token_hash};
use crate::store::{AgentRecord, NewAgent};
use crate::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "natter_session";

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the email is unknown, so both cases take as long and the
/// response time does not reveal which emails have accounts.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default())
}

/// Creates an agent account; used for the first admin and by the admin CLI.
pub async fn create_agent(
    state: &AppState,
    email: &str,
    name: &str,
    password: &str,
    role: Role,
) -> Result<AgentRecord, CreateAgentError> {
    let email = email.trim().to_owned();
    if !email.contains('@') || email.len() > state.config.limits.max_credential_chars {
        return Err(CreateAgentError::InvalidEmail(email));
    }
    let password = password.to_owned();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|error| CreateAgentError::Hash(error.to_string()))?
        .map_err(|error| CreateAgentError::Hash(error.to_string()))?;
    Ok(state
        .store
        .create_agent(NewAgent {
            email,
            name: name.into(),
            password_hash,
            role,
            now: state.clock.now(),
        })
        .await?)
}

#[derive(Debug, thiserror::Error)]
pub enum CreateAgentError {
    #[error("{0:?} is not a valid email address")]
    InvalidEmail(String),
    #[error("could not hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `POST /v1/agent/login`.
pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    Json(request): Json<LoginRequest>,
) -> Result<impl IntoResponse, HttpError> {
    let limit = state.config.limits.max_credential_chars;
    if request.email.len() > limit || request.password.len() > limit {
        return Err(HttpError::invalid(format!(
            "email and password are limited to {limit} characters"
        )));
    }
    let agent = state.store.agent_by_email(request.email.trim()).await?;
    let hash = agent
        .as_ref()
        .map(|a| a.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().into());
    let password = request.password;
    let matches = tokio::task::spawn_blocking(move || password_matches(&password, &hash))
        .await
        .map_err(HttpError::internal)?;
    let agent = match agent {
        Some(agent) if matches && !agent.disabled => agent,
        _ => return Err(HttpError::unauthorized("wrong email or password")),
    };

    let token = random_token();
    let csrf_token = random_token();
    let now = state.clock.now();
    let lifetime_ms = session_lifetime_ms(&state);
    state
        .store
        .create_session(
            &token_hash(&token),
            &agent.profile,
            &csrf_token,
            now,
            now + lifetime_ms,
        )
        .await?;
    let cookie = Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.config.secure_cookies)
        .path("/")
        .max_age(time::Duration::milliseconds(lifetime_ms))
        .build();
    tracing::info!(agent = %agent.profile.email, "agent logged in");
    Ok((
        jar.add(cookie),
        Json(Session {
            agent: agent.profile,
            csrf_token,
            settings: settings(&state),
        }),
    ))
}

/// `POST /v1/agent/logout`.
pub async fn logout(
    State(state): State<AppState>,
    session: AgentSession,
    jar: CookieJar,
) -> Result<impl IntoResponse, HttpError> {
    state.store.delete_session(&session.token_hash).await?;
    Ok((
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        StatusCode::NO_CONTENT,
    ))
}

/// `GET /v1/agent/me`.
pub async fn me(State(state): State<AppState>, session: AgentSession) -> Json<Session> {
    Json(Session {
        agent: session.agent,
        csrf_token: session.csrf_token,
        settings: settings(&state),
    })
}

/// What the console needs to know about the relay's configuration.
pub fn settings(state: &AppState) -> InboxSettings {
    let secs = state.config.limits.missed_after_secs;
    InboxSettings {
        missed_after_ms: i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX),
        email_enabled: state.config.mail.smtp_host.is_some(),
    }
}

fn session_lifetime_ms(state: &AppState) -> i64 {
    (state.config.limits.agent_session_hours as i64).saturating_mul(3_600_000)
}

/// The logged-in agent of a request. Rejects with 401 without a valid session, and with 403
/// when a state-changing request lacks the session's CSRF token.
pub struct AgentSession {
    pub agent: AgentProfile,
    pub csrf_token: String,
    token_hash: String,
}

impl FromRequestParts<AppState> for AgentSession {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar
            .get(SESSION_COOKIE)
            .map(|cookie| cookie.value().to_owned())
            .ok_or_else(|| HttpError::unauthorized("please log in"))?;
        let token_hash = token_hash(&token);
        let now = state.clock.now();
        let session = state
            .store
            .session(&token_hash, now, now + session_lifetime_ms(state))
            .await?
            .ok_or_else(|| {
                HttpError::unauthorized("your session has expired; please log in again")
            })?;

        if !matches!(parts.method, Method::GET | Method::HEAD) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|value| value.to_str().ok());
            if !sent.is_some_and(|sent| {
                crate::identity::constant_time_eq(sent.as_bytes(), session.csrf_token.as_bytes())
            }) {
                return Err(HttpError::new(
                    StatusCode::FORBIDDEN,
                    ErrorCode::Forbidden,
                    format!("missing or wrong {CSRF_HEADER} header"),
                ));
            }
        }
        Ok(Self {
            agent: session.agent.profile,
            csrf_token: session.csrf_token,
            token_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(password_matches("correct horse", &hash));
        assert!(!password_matches("wrong", &hash));
        assert!(!password_matches("correct horse", "not a hash"));
    }
}
