//! Helpers for the inbox tests: more HTTP verbs, an agent socket, and a second agent.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use futures_util::StreamExt;
use natter_protocol::agent::{
    AgentInfo, AgentServerFrame, ConversationDetail, ConversationList, ConversationSummary,
    NewAgentRequest, Role,
};
use natter_protocol::ConversationId;
use natter_relay::testing::TestRelay;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::support::{AgentClient, Socket, FRAME_TIMEOUT};

pub const AGENT_PASSWORD: &str = "agent-password-1";

impl AgentClient {
    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.with_csrf(reqwest::Method::PUT, path)
    }

    pub fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.with_csrf(reqwest::Method::PATCH, path)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.with_csrf(reqwest::Method::DELETE, path)
    }

    /// GETs JSON, failing on any non-2xx status.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let response = self.get(path).send().await?;
        ok_json(response).await
    }

    /// POSTs JSON, failing on any non-2xx status.
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let response = self.post(path).json(body).send().await?;
        ok_json(response).await
    }

    pub async fn list(&self, query: &str) -> Result<ConversationList> {
        self.get_json(&format!("/v1/agent/conversations{query}"))
            .await
    }

    pub async fn detail(&self, id: ConversationId) -> Result<ConversationDetail> {
        self.get_json(&format!("/v1/agent/conversations/{}", id.0))
            .await
    }

    pub async fn row(&self, id: ConversationId) -> Result<ConversationSummary> {
        Ok(self.detail(id).await?.conversation)
    }

    /// Creates an agent (as an admin) and logs them in.
    pub async fn create_agent(
        &self,
        relay: &TestRelay,
        email: &str,
        name: &str,
        role: Role,
    ) -> Result<(AgentInfo, AgentClient)> {
        let info: AgentInfo = self
            .post_json(
                "/v1/agent/agents",
                &NewAgentRequest {
                    email: email.into(),
                    name: name.into(),
                    password: AGENT_PASSWORD.into(),
                    role,
                },
            )
            .await?;
        let client = AgentClient::login(relay, email, AGENT_PASSWORD).await?;
        Ok((info, client))
    }

    /// Opens the agent socket with this session.
    pub async fn socket(&self, relay: &impl crate::support::Endpoint) -> Result<Socket> {
        let mut request = relay.ws_url("/v1/agent/ws").into_client_request()?;
        request.headers_mut().insert("cookie", self.cookie.parse()?);
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(socket)
    }
}

pub async fn ok_json<T: DeserializeOwned>(response: reqwest::Response) -> Result<T> {
    let status = response.status();
    if !status.is_success() {
        bail!("{status}: {}", response.text().await.unwrap_or_default());
    }
    Ok(response.json().await?)
}

/// The status and error message of a refused request.
pub async fn refused(response: reqwest::Response) -> Result<(StatusCode, String)> {
    let status = response.status();
    let body: natter_protocol::ApiError = response.json().await?;
    Ok((status, body.message))
}

/// The next agent frame that `want` accepts, skipping others; fails after the timeout.
pub async fn next_agent_frame<T>(
    socket: &mut Socket,
    mut want: impl FnMut(AgentServerFrame) -> Option<T>,
) -> Result<T> {
    let deadline = tokio::time::Instant::now() + FRAME_TIMEOUT;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .map_err(|_| anyhow!("no matching agent frame within {FRAME_TIMEOUT:?}"))?
            .ok_or_else(|| anyhow!("agent socket ended"))??;
        if let WsMessage::Text(text) = frame {
            if let Some(found) = want(serde_json::from_str(&text)?) {
                return Ok(found);
            }
        }
    }
}

/// Collects agent frames for `wait` (for asserting that something did not arrive).
pub async fn agent_frames_for(
    socket: &mut Socket,
    wait: Duration,
) -> Result<Vec<AgentServerFrame>> {
    let mut frames = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(frame) = tokio::time::timeout_at(deadline, socket.next()).await {
        match frame {
            Some(Ok(WsMessage::Text(text))) => frames.push(serde_json::from_str(&text)?),
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    Ok(frames)
}
