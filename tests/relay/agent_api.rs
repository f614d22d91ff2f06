//! The agent API: login, sessions and CSRF (I1, S6), the list (I2) and live updates (I15).

use anyhow::Result;
use futures_util::StreamExt;
use natter_protocol::agent::{AgentServerFrame, ConversationList, LoginRequest, SendReply};
use natter_protocol::{close_code, ClientMessageId};
use std::sync::Arc;

use natter_relay::clock::ManualClock;
use natter_relay::testing::{self, ADMIN_EMAIL};
use natter_relay::Parts;
use reqwest::StatusCode;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::support::{AgentClient, VisitorClient, FRAME_TIMEOUT};

#[tokio::test]
async fn a_wrong_password_is_refused_without_saying_which_part_was_wrong() -> Result<()> {
    let relay = testing::spawn().await;
    let http = reqwest::Client::new();
    for (email, password) in [(ADMIN_EMAIL, "wrong"), ("nobody@example.com", "wrong")] {
        let response = http
            .post(relay.http_url("/v1/agent/login"))
            .json(&LoginRequest {
                email: email.into(),
                password: password.into(),
            })
            .send()
            .await?;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: natter_protocol::ApiError = response.json().await?;
        assert_eq!(body.message, "wrong email or password");
    }
    Ok(())
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_strict() -> Result<()> {
    let relay = testing::spawn().await;
    let response = reqwest::Client::new()
        .post(relay.http_url("/v1/agent/login"))
        .json(&LoginRequest {
            email: ADMIN_EMAIL.into(),
            password: testing::ADMIN_PASSWORD.into(),
        })
        .send()
        .await?;
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cookie.starts_with("natter_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    Ok(())
}

#[tokio::test]
async fn the_api_needs_a_session_and_state_changes_need_the_csrf_token() -> Result<()> {
    let relay = testing::spawn().await;
    let anonymous = reqwest::Client::new()
        .get(relay.http_url("/v1/agent/conversations"))
        .send()
        .await?;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let agent = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let question = tab.send_text("hi").await?;
    let path = format!(
        "/v1/agent/conversations/{}/messages",
        question.conversation_id.0
    );
    let reply = SendReply {
        client_id: ClientMessageId::new_random(),
        text: "forged".into(),
        internal: false,
        channel: None,
        attachments: vec![],
        subject: None,
    };
    let without_csrf = agent
        .http
        .post(format!("{}{path}", agent.base))
        .header("cookie", &agent.cookie)
        .json(&reply)
        .send()
        .await?;
    assert_eq!(without_csrf.status(), StatusCode::FORBIDDEN);
    let with_csrf = agent.post(&path).json(&reply).send().await?;
    assert_eq!(with_csrf.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn logging_out_ends_the_session() -> Result<()> {
    let relay = testing::spawn().await;
    let agent = AgentClient::login_admin(&relay).await?;
    assert_eq!(
        agent.get("/v1/agent/me").send().await?.status(),
        StatusCode::OK
    );
    assert_eq!(
        agent.post("/v1/agent/logout").send().await?.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        agent.get("/v1/agent/me").send().await?.status(),
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

#[tokio::test]
async fn the_list_shows_newest_activity_first() -> Result<()> {
    let clock = Arc::new(ManualClock::starting_now());
    let parts = Parts {
        clock: clock.clone(),
        ..Parts::default()
    };
    let relay = testing::spawn_with_parts(|_| {}, parts).await;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut older = VisitorClient::connect(&relay, None).await?;
    let mut newer = VisitorClient::connect(&relay, None).await?;
    let first = older.send_text("first visitor").await?;
    clock.advance(5);
    let second = newer.send_text("second visitor").await?;
    let list: ConversationList = agent
        .get("/v1/agent/conversations")
        .send()
        .await?
        .json()
        .await?;
    let ids: Vec<_> = list.conversations.iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![second.conversation_id, first.conversation_id]);

    clock.advance(5);
    older.send_text("first visitor again").await?;
    let list: ConversationList = agent
        .get("/v1/agent/conversations")
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(list.conversations[0].id, first.conversation_id);
    assert_eq!(
        list.conversations[0].last_message_preview.as_deref(),
        Some("first visitor again")
    );
    Ok(())
}

#[tokio::test]
async fn the_agent_socket_pushes_visitor_messages_live() -> Result<()> {
    let relay = testing::spawn().await;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut request = relay.ws_url("/v1/agent/ws").into_client_request()?;
    request
        .headers_mut()
        .insert("cookie", agent.cookie.parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;

    let mut tab = VisitorClient::connect(&relay, None).await?;
    let sent = tab.send_text("live?").await?;
    let mut saw_message = false;
    let mut saw_summary = false;
    while !(saw_message && saw_summary) {
        let frame = tokio::time::timeout(FRAME_TIMEOUT, socket.next())
            .await?
            .expect("frame")?;
        let WsMessage::Text(text) = frame else {
            continue;
        };
        match serde_json::from_str::<AgentServerFrame>(&text)? {
            AgentServerFrame::MessageAdded { message } => saw_message |= message.message == sent,
            AgentServerFrame::ConversationUpdated { conversation } => {
                saw_summary |= conversation.id == sent.conversation_id
            }
            _ => {}
        }
    }
    Ok(())
}

#[tokio::test]
async fn the_agent_socket_without_a_session_closes_with_the_login_code() -> Result<()> {
    let relay = testing::spawn().await;
    let (mut socket, _) = tokio_tungstenite::connect_async(relay.ws_url("/v1/agent/ws")).await?;
    let frame = tokio::time::timeout(FRAME_TIMEOUT, socket.next())
        .await?
        .expect("frame")?;
    match frame {
        WsMessage::Close(Some(close)) => {
            assert_eq!(u16::from(close.code), close_code::UNAUTHORIZED)
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn widget_assets_are_readable_from_any_host_page_origin() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("natter-widget-abc_bg.wasm"), b"\0asm")?;
    let widget_dir = dir.path().to_path_buf();
    let relay = testing::spawn_with(move |config| config.assets.widget_dir = widget_dir).await;
    let response = reqwest::Client::new()
        .get(relay.http_url("/widget/natter-widget-abc_bg.wasm"))
        .header("origin", "https://shop.example")
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(response.headers()["content-type"], "application/wasm");
    assert!(response.headers()["cache-control"]
        .to_str()?
        .contains("immutable"));
    Ok(())
}

#[tokio::test]
async fn widget_assets_are_served_precompressed_as_built() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let wasm = dir.path().join("natter-widget-abc_bg.wasm");
    std::fs::write(&wasm, b"\0asm-uncompressed-bytes")?;
    // Stand-ins for the files `cargo xtask` writes: the relay must serve them byte for byte,
    // not compress again at request time.
    std::fs::write(dir.path().join("natter-widget-abc_bg.wasm.br"), b"BROTLI")?;
    std::fs::write(dir.path().join("natter-widget-abc_bg.wasm.gz"), b"GZIP")?;
    let widget_dir = dir.path().to_path_buf();
    let relay = testing::spawn_with(move |config| config.assets.widget_dir = widget_dir).await;
    // No automatic decompression: the test reads the bytes on the wire.
    let client = reqwest::Client::new();
    let fetch = |encoding: &'static str| {
        client
            .get(relay.http_url("/widget/natter-widget-abc_bg.wasm"))
            .header("accept-encoding", encoding)
            .send()
    };
    for (accepted, encoding, body) in [("br, gzip", "br", "BROTLI"), ("gzip", "gzip", "GZIP")] {
        let response = fetch(accepted).await?;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-encoding"], encoding);
        assert_eq!(response.headers()["content-type"], "application/wasm");
        assert_eq!(response.bytes().await?.as_ref(), body.as_bytes());
    }
    let plain = fetch("identity").await?;
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.bytes().await?.as_ref(), b"\0asm-uncompressed-bytes");
    Ok(())
}
