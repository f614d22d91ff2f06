//! Calls to the relay's agent REST API (`/v1/agent/*`), over the browser's `fetch`.
//!
//! One place knows the URLs, the CSRF header, `credentials: same-origin` and how an error answer
//! looks, so the UI only ever sees typed bodies or a [`Failure`] it can show. Network data is
//! never trusted: every body is parsed with `serde_json` and anything unexpected becomes a
//! `Failure`, not a panic.

use natter_protocol::agent::{
    AgentInfo, AgentList, AgentMessage, AgentUpdate, AuditLog, ContactPanel, ContactUpdate,
    ConversationDetail, ConversationList, ConversationQuery, ConversationSummary, Group,
    GroupInput, InboundMailLog, LoginRequest, NewAgentRequest, SavedResponse, SavedResponseId,
    SavedResponseInput, SavedResponseList, SendReply, Session, SetTyping, CSRF_HEADER,
};
use natter_protocol::{AgentId, ApiError, ConversationId, ErrorCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestCredentials, RequestInit, Response};

use crate::strings;

/// Why a call did not produce the expected body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The relay answered with an error status; `error` is its body (or one made up from the
    /// status when the body was not an `ApiError`).
    Api { status: u16, error: ApiError },
    /// No answer at all: offline, relay down, request blocked.
    Network,
    /// A success status with a body that does not match the protocol.
    BadResponse,
}

impl Failure {
    /// Whether the relay does not have this endpoint (an older relay, or a feature it lacks).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api { status: 404, .. })
    }

    /// Whether the session is missing or expired: the console must show the login screen.
    pub fn is_unauthorized(&self) -> bool {
        match self {
            Self::Api { status, error } => *status == 401 || error.code == ErrorCode::Unauthorized,
            Self::Network | Self::BadResponse => false,
        }
    }

    /// A sentence to show the agent in a `role="alert"` element.
    pub fn message(&self) -> String {
        match self {
            Self::Api { error, .. } => error.message.clone(),
            Self::Network => strings::NETWORK_ERROR.to_owned(),
            Self::BadResponse => strings::BAD_RESPONSE.to_owned(),
        }
    }
}

/// `GET /v1/agent/me`: the current session, or a 401 [`Failure`] when logged out.
pub async fn me() -> Result<Session, Failure> {
    get_json("/v1/agent/me").await
}

/// `POST /v1/agent/login`. The relay sets the session cookie on success.
pub async fn login(request: &LoginRequest) -> Result<Session, Failure> {
    post_json("/v1/agent/login", request, None).await
}

/// `POST /v1/agent/logout`.
pub async fn logout(csrf: &str) -> Result<(), Failure> {
    send("POST", "/v1/agent/logout", None, Some(csrf))
        .await
        .map(|_| ())
}

/// `GET /v1/agent/conversations` with filters, search and the paging cursor.
pub async fn conversations(query: &ConversationQuery) -> Result<ConversationList, Failure> {
    get_json(&format!("/v1/agent/conversations{}", query_string(query))).await
}

/// The wire name of a unit enum value (`open`, `mine`, `chat`).
fn name<T: Serialize>(value: &T) -> Option<String> {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// The query string of a list request (empty parts left out).
pub fn query_string(query: &ConversationQuery) -> String {
    let mut parts = Vec::new();
    if let Some(status) = query.status.as_ref().and_then(name) {
        parts.push(format!("status={status}"));
    }
    if let Some(assignee) = query.assignee.as_ref().and_then(name) {
        parts.push(format!("assignee={assignee}"));
    }
    if let Some(channel) = query.channel.as_ref().and_then(name) {
        parts.push(format!("channel={channel}"));
    }
    if let Some(q) = query.q.as_deref().filter(|q| !q.trim().is_empty()) {
        parts.push(format!(
            "q={}",
            String::from(js_sys::encode_uri_component(q))
        ));
    }
    if query.blocked == Some(true) {
        parts.push("blocked=true".into());
    }
    if let Some(after) = &query.after {
        parts.push(format!(
            "after={}",
            String::from(js_sys::encode_uri_component(after))
        ));
    }
    if let Some(limit) = query.limit {
        parts.push(format!("limit={limit}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// `GET /v1/agent/conversations/{id}`: the summary and the whole thread.
pub async fn conversation(id: ConversationId) -> Result<ConversationDetail, Failure> {
    get_json(&format!("/v1/agent/conversations/{}", id.0)).await
}

/// `POST /v1/agent/conversations/{id}/messages`. Idempotent by `reply.client_id`, so a retry
/// after a lost answer stores nothing twice.
pub async fn send_reply(
    id: ConversationId,
    reply: &SendReply,
    csrf: &str,
) -> Result<AgentMessage, Failure> {
    post_json(
        &format!("/v1/agent/conversations/{}/messages", id.0),
        reply,
        Some(csrf),
    )
    .await
}

/// `POST /v1/agent/conversations/{id}/typing` (W7): answered with no body.
pub async fn set_typing(id: ConversationId, body: &SetTyping, csrf: &str) -> Result<(), Failure> {
    let json = serde_json::to_string(body).map_err(|_| Failure::BadResponse)?;
    send(
        "POST",
        &format!("/v1/agent/conversations/{}/typing", id.0),
        Some(json),
        Some(csrf),
    )
    .await
    .map(|_| ())
}

/// `POST /v1/agent/conversations/{id}/{action}` with a JSON body: `read`, `status`, `assign`,
/// `block`. Answers the updated row.
pub async fn conversation_action<B: Serialize>(
    id: ConversationId,
    action: &str,
    body: &B,
    csrf: &str,
) -> Result<ConversationSummary, Failure> {
    post_json(
        &format!("/v1/agent/conversations/{}/{action}", id.0),
        body,
        Some(csrf),
    )
    .await
}

/// `DELETE /v1/agent/conversations/{id}` (admins).
pub async fn delete_conversation(id: ConversationId, csrf: &str) -> Result<(), Failure> {
    send(
        "DELETE",
        &format!("/v1/agent/conversations/{}", id.0),
        None,
        Some(csrf),
    )
    .await
    .map(|_| ())
}

/// `GET /v1/agent/conversations/{id}/contact`.
pub async fn contact(id: ConversationId) -> Result<ContactPanel, Failure> {
    get_json(&format!("/v1/agent/conversations/{}/contact", id.0)).await
}

/// `PUT /v1/agent/conversations/{id}/contact`.
pub async fn update_contact(
    id: ConversationId,
    update: &ContactUpdate,
    csrf: &str,
) -> Result<ContactPanel, Failure> {
    send_json(
        "PUT",
        &format!("/v1/agent/conversations/{}/contact", id.0),
        update,
        csrf,
    )
    .await
}

/// `GET /v1/agent/agents`: agents (with presence) and groups.
pub async fn agents() -> Result<AgentList, Failure> {
    get_json("/v1/agent/agents").await
}

/// `POST /v1/agent/agents` (admins).
pub async fn create_agent(request: &NewAgentRequest, csrf: &str) -> Result<AgentInfo, Failure> {
    post_json("/v1/agent/agents", request, Some(csrf)).await
}

/// `PATCH /v1/agent/agents/{id}` (admins).
pub async fn update_agent(
    id: AgentId,
    update: &AgentUpdate,
    csrf: &str,
) -> Result<AgentInfo, Failure> {
    send_json("PATCH", &format!("/v1/agent/agents/{}", id.0), update, csrf).await
}

/// `POST /v1/agent/groups` (admins).
pub async fn create_group(input: &GroupInput, csrf: &str) -> Result<Group, Failure> {
    post_json("/v1/agent/groups", input, Some(csrf)).await
}

/// `GET /v1/agent/saved-responses`.
pub async fn saved_responses() -> Result<SavedResponseList, Failure> {
    get_json("/v1/agent/saved-responses").await
}

/// `POST` or `PUT /v1/agent/saved-responses[/{id}]` (admins).
pub async fn save_response(
    id: Option<SavedResponseId>,
    input: &SavedResponseInput,
    csrf: &str,
) -> Result<SavedResponse, Failure> {
    match id {
        Some(id) => {
            send_json(
                "PUT",
                &format!("/v1/agent/saved-responses/{}", id.0),
                input,
                csrf,
            )
            .await
        }
        None => post_json("/v1/agent/saved-responses", input, Some(csrf)).await,
    }
}

/// `DELETE /v1/agent/saved-responses/{id}` (admins).
pub async fn delete_response(id: SavedResponseId, csrf: &str) -> Result<(), Failure> {
    send(
        "DELETE",
        &format!("/v1/agent/saved-responses/{}", id.0),
        None,
        Some(csrf),
    )
    .await
    .map(|_| ())
}

/// `GET /v1/agent/audit` (admins).
pub async fn audit() -> Result<AuditLog, Failure> {
    get_json("/v1/agent/audit").await
}

/// `GET /v1/agent/mail/inbound` (admins): inbound email kept or ignored (E3, E5).
pub async fn inbound_mail() -> Result<InboundMailLog, Failure> {
    get_json("/v1/agent/mail/inbound").await
}

/// Where an admin downloads the raw `.eml` of an inbound email (a plain link: the session
/// cookie goes with it).
pub fn inbound_mail_raw_url(id: &str) -> String {
    format!(
        "/v1/agent/mail/inbound/{}/raw",
        String::from(js_sys::encode_uri_component(id))
    )
}

async fn send_json<B: Serialize, T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: &B,
    csrf: &str,
) -> Result<T, Failure> {
    let json = serde_json::to_string(body).map_err(|_| Failure::BadResponse)?;
    let answer = send(method, path, Some(json), Some(csrf)).await?;
    serde_json::from_str(&answer).map_err(|_| Failure::BadResponse)
}

async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, Failure> {
    let body = send("GET", path, None, None).await?;
    serde_json::from_str(&body).map_err(|_| Failure::BadResponse)
}

async fn post_json<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
    csrf: Option<&str>,
) -> Result<T, Failure> {
    let json = serde_json::to_string(body).map_err(|_| Failure::BadResponse)?;
    let answer = send("POST", path, Some(json), csrf).await?;
    serde_json::from_str(&answer).map_err(|_| Failure::BadResponse)
}

/// Performs one request and returns the body of a 2xx answer.
async fn send(
    method: &str,
    path: &str,
    json_body: Option<String>,
    csrf: Option<&str>,
) -> Result<String, Failure> {
    let window = web_sys::window().ok_or(Failure::Network)?;
    let headers = Headers::new().map_err(|_| Failure::Network)?;
    headers
        .set("Accept", "application/json")
        .map_err(|_| Failure::Network)?;
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    if let Some(json) = json_body {
        headers
            .set("Content-Type", "application/json")
            .map_err(|_| Failure::Network)?;
        init.set_body(&JsValue::from_str(&json));
    }
    if let Some(token) = csrf {
        headers
            .set(CSRF_HEADER, token)
            .map_err(|_| Failure::Network)?;
    }
    init.set_headers(&headers);

    let response: Response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(|_| Failure::Network)?
        .dyn_into()
        .map_err(|_| Failure::Network)?;
    let status = response.status();
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .map_err(|_| Failure::Network)?
            .as_string()
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    if response.ok() {
        Ok(text)
    } else {
        Err(Failure::Api {
            status,
            error: error_body(status, &text),
        })
    }
}

/// The relay's `ApiError` body, or a stand-in when a proxy or an old relay answered with
/// something else.
fn error_body(status: u16, text: &str) -> ApiError {
    serde_json::from_str(text).unwrap_or_else(|_| ApiError {
        code: match status {
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            429 => ErrorCode::RateLimited,
            400 | 413 | 422 => ErrorCode::InvalidInput,
            _ => ErrorCode::Internal,
        },
        message: strings::http_error(status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_keep_the_relay_message() {
        let error = error_body(
            401,
            r#"{"code":"unauthorized","message":"Wrong password."}"#,
        );
        assert_eq!(error.message, "Wrong password.");
        let failure = Failure::Api { status: 401, error };
        assert!(failure.is_unauthorized());
        assert_eq!(failure.message(), "Wrong password.");
    }

    #[test]
    fn bodies_that_are_not_api_errors_get_a_stand_in() {
        let error = error_body(502, "<html>Bad gateway</html>");
        assert_eq!(error.code, ErrorCode::Internal);
        assert!(error.message.contains("502"));
    }
}
