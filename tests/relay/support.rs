//! Helpers shared by the relay tests: a visitor WebSocket client and an agent HTTP client,
//! both talking to a relay from `natter_relay::testing::spawn` or to a relay process
//! ([`Endpoint`]).

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use natter_protocol::agent::{LoginRequest, Session, CSRF_HEADER};
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::{ClientMessageId, Message, PROTOCOL_VERSION};
use natter_relay::testing::{TestRelay, ADMIN_EMAIL, ADMIN_PASSWORD};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame that should come, before failing.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Where a relay answers: one in this process, or a relay process (`multinode.rs`).
pub trait Endpoint {
    fn http_url(&self, path: &str) -> String;
    fn ws_url(&self, path: &str) -> String;
}

impl Endpoint for TestRelay {
    fn http_url(&self, path: &str) -> String {
        TestRelay::http_url(self, path)
    }

    fn ws_url(&self, path: &str) -> String {
        TestRelay::ws_url(self, path)
    }
}

/// A widget-like client on the visitor socket.
pub struct VisitorClient {
    pub socket: Socket,
    /// The signed visitor id the relay issued or confirmed.
    pub token: String,
    /// The messages in the welcome.
    pub history: Vec<Message>,
}

impl VisitorClient {
    /// Connects and says hello for the demo site, with an optional stored visitor id.
    pub async fn connect(relay: &impl Endpoint, token: Option<&str>) -> Result<Self> {
        Self::connect_with(relay, "demo", token, None).await
    }

    pub async fn connect_with(
        relay: &impl Endpoint,
        site: &str,
        token: Option<&str>,
        after_seq: Option<u64>,
    ) -> Result<Self> {
        let mut socket = open_socket(relay).await?;
        send_frame(&mut socket, &hello(site, token, after_seq)).await?;
        match next_frame(&mut socket).await? {
            ServerFrame::Welcome {
                visitor, messages, ..
            } => Ok(Self {
                socket,
                token: visitor,
                history: messages,
            }),
            other => bail!("expected welcome, got {other:?}"),
        }
    }

    /// Sends a message and waits for its acknowledgement.
    pub async fn send_text(&mut self, text: &str) -> Result<Message> {
        let client_id = ClientMessageId::new_random();
        self.send_with_id(client_id, text).await
    }

    pub async fn send_with_id(
        &mut self,
        client_id: ClientMessageId,
        text: &str,
    ) -> Result<Message> {
        self.send_with_files(client_id, text, vec![]).await
    }

    /// Sends a message with uploaded files and waits for its acknowledgement.
    pub async fn send_with_files(
        &mut self,
        client_id: ClientMessageId,
        text: &str,
        attachments: Vec<natter_protocol::AttachmentId>,
    ) -> Result<Message> {
        send_frame(
            &mut self.socket,
            &ClientFrame::Send {
                client_id,
                text: text.into(),
                attachments,
            },
        )
        .await?;
        match self.next().await? {
            ServerFrame::Ack {
                client_id: acked,
                message,
            } if acked == client_id => Ok(message),
            other => bail!("expected ack, got {other:?}"),
        }
    }

    pub async fn next(&mut self) -> Result<ServerFrame> {
        next_frame(&mut self.socket).await
    }

    /// Asserts that no frame arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) -> Result<()> {
        match tokio::time::timeout(wait, self.socket.next()).await {
            Err(_) => Ok(()),
            Ok(frame) => bail!("expected no frame, got {frame:?}"),
        }
    }
}

pub async fn open_socket(relay: &impl Endpoint) -> Result<Socket> {
    let (socket, _) = tokio_tungstenite::connect_async(relay.ws_url("/v1/visitor/ws"))
        .await
        .context("connect to the visitor socket")?;
    Ok(socket)
}

/// The widget's hello for `site`, with an optional stored visitor id and resume point.
pub fn hello(site: &str, token: Option<&str>, after_seq: Option<u64>) -> ClientFrame {
    ClientFrame::Hello {
        v: PROTOCOL_VERSION,
        site: site.into(),
        visitor: token.map(str::to_owned),
        after_seq,
        lang: None,
        link: None,
    }
}

pub async fn send_frame(socket: &mut Socket, frame: &ClientFrame) -> Result<()> {
    socket
        .send(WsMessage::text(serde_json::to_string(frame)?))
        .await?;
    Ok(())
}

/// The next server frame, skipping pings and `availability` frames (they come whenever an
/// agent's presence changes, so most tests do not care); fails on close or timeout.
pub async fn next_frame(socket: &mut Socket) -> Result<ServerFrame> {
    loop {
        match next_frame_raw(socket).await? {
            ServerFrame::Availability { .. } => continue,
            frame => return Ok(frame),
        }
    }
}

/// The next server frame of any kind, skipping pings; fails on close or timeout.
pub async fn next_frame_raw(socket: &mut Socket) -> Result<ServerFrame> {
    loop {
        let frame = tokio::time::timeout(FRAME_TIMEOUT, socket.next())
            .await
            .map_err(|_| anyhow!("no frame within {FRAME_TIMEOUT:?}"))?
            .ok_or_else(|| anyhow!("socket ended"))??;
        match frame {
            WsMessage::Text(text) => return Ok(serde_json::from_str(&text)?),
            WsMessage::Close(close) => bail!("socket closed: {close:?}"),
            _ => continue,
        }
    }
}

/// The close code the relay ends the socket with (after any frames before it).
pub async fn close_code(socket: &mut Socket) -> Result<u16> {
    loop {
        let frame = tokio::time::timeout(FRAME_TIMEOUT, socket.next())
            .await
            .map_err(|_| anyhow!("no close within {FRAME_TIMEOUT:?}"))?;
        match frame {
            Some(Ok(WsMessage::Close(Some(close)))) => return Ok(close.code.into()),
            Some(Ok(_)) => continue,
            other => bail!("expected a close frame, got {other:?}"),
        }
    }
}

/// An agent API client holding a session cookie and CSRF token.
pub struct AgentClient {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: String,
    pub session: Session,
}

impl AgentClient {
    pub async fn login_admin(relay: &impl Endpoint) -> Result<Self> {
        Self::login(relay, ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    pub async fn login(relay: &impl Endpoint, email: &str, password: &str) -> Result<Self> {
        let http = reqwest::Client::new();
        let response = http
            .post(relay.http_url("/v1/agent/login"))
            .json(&LoginRequest {
                email: email.into(),
                password: password.into(),
            })
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("login failed: {}", response.status());
        }
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .context("session cookie")?
            .to_owned();
        let session = response.json().await?;
        Ok(Self {
            http,
            base: relay.http_url(""),
            cookie,
            session,
        })
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
    }

    /// A POST with the session cookie and the CSRF header.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.with_csrf(reqwest::Method::POST, path)
    }

    /// A request that changes something: the session cookie and the CSRF header.
    pub fn with_csrf(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header(CSRF_HEADER, &self.session.csrf_token)
    }
}
