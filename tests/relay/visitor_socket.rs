//! The visitor socket: identity (W2), history (W3), idempotent sending (W4, R2), limits (S4).

use std::time::Duration;

use anyhow::Result;
use natter_protocol::agent::{ConversationDetail, SendReply};
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::{close_code, Author, ClientMessageId, ErrorCode, PROTOCOL_VERSION};
use natter_relay::testing;

use crate::support::{close_code, open_socket, send_frame, AgentClient, VisitorClient};

#[tokio::test]
async fn a_new_visitor_gets_a_signed_id_and_an_empty_thread() -> Result<()> {
    let relay = testing::spawn().await;
    let visitor = VisitorClient::connect(&relay, None).await?;
    assert!(visitor.history.is_empty());
    assert!(relay
        .state
        .visitor_signer
        .verify("demo", &visitor.token)
        .is_some());
    Ok(())
}

#[tokio::test]
async fn history_survives_a_reconnect_with_the_same_cookie() -> Result<()> {
    let relay = testing::spawn().await;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let token = tab.token.clone();
    let first = tab.send_text("first").await?;
    let second = tab.send_text("second").await?;
    drop(tab);

    let again = VisitorClient::connect(&relay, Some(&token)).await?;
    assert_eq!(again.token, token, "a valid id is kept, not replaced");
    assert_eq!(again.history, vec![first, second]);
    Ok(())
}

#[tokio::test]
async fn a_tampered_or_foreign_cookie_gives_a_fresh_identity_never_an_error() -> Result<()> {
    let relay = testing::spawn().await;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    tab.send_text("private history").await?;
    let token = tab.token.clone();

    let (id, mac) = token.split_once('.').expect("id.mac");
    let mut tampered_id = id.to_owned();
    tampered_id.replace_range(0..1, if id.starts_with('A') { "B" } else { "A" });
    for bad in [
        format!("{tampered_id}.{mac}"),
        format!("{id}.AAAA{}", &mac[4..]),
        "garbage".into(),
        String::new(),
    ] {
        let fresh = VisitorClient::connect(&relay, Some(&bad)).await?;
        assert!(
            fresh.history.is_empty(),
            "{bad:?} must not reveal any history"
        );
        assert_ne!(fresh.token, token);
        assert!(relay
            .state
            .visitor_signer
            .verify("demo", &fresh.token)
            .is_some());
    }
    Ok(())
}

#[tokio::test]
async fn a_resent_message_is_stored_and_delivered_once() -> Result<()> {
    let relay = testing::spawn().await;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let client_id = ClientMessageId::new_random();
    let first = tab.send_with_id(client_id, "hello").await?;
    let resent = tab.send_with_id(client_id, "hello").await?;
    assert_eq!(
        resent, first,
        "the resend is acknowledged with the stored message"
    );

    let next = tab.send_text("next").await?;
    assert_eq!(
        next.seq, 2,
        "the duplicate did not consume a sequence number"
    );
    let detail: ConversationDetail = agent
        .get(&format!(
            "/v1/agent/conversations/{}",
            first.conversation_id.0
        ))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(detail.messages.len(), 2);
    Ok(())
}

#[tokio::test]
async fn resuming_after_a_gap_sends_exactly_the_missing_messages() -> Result<()> {
    let relay = testing::spawn().await;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let token = tab.token.clone();
    let first = tab.send_text("one").await?;
    drop(tab);
    // While the visitor is away, an agent answers twice.
    for text in ["two", "three"] {
        let response = agent
            .post(&format!(
                "/v1/agent/conversations/{}/messages",
                first.conversation_id.0
            ))
            .json(&SendReply {
                client_id: ClientMessageId::new_random(),
                text: text.into(),
                internal: false,
                channel: None,
                attachments: vec![],
                subject: None,
            })
            .send()
            .await?;
        assert!(response.status().is_success());
    }
    let resumed = VisitorClient::connect_with(&relay, "demo", Some(&token), Some(1)).await?;
    let texts: Vec<_> = resumed
        .history
        .iter()
        .map(|m| (m.seq, m.text.as_str()))
        .collect();
    assert_eq!(texts, vec![(2, "two"), (3, "three")]);
    Ok(())
}

#[tokio::test]
async fn two_tabs_share_the_conversation_without_duplicates() -> Result<()> {
    let relay = testing::spawn().await;
    let mut tab_a = VisitorClient::connect(&relay, None).await?;
    let mut tab_b = VisitorClient::connect(&relay, Some(&tab_a.token.clone())).await?;
    let sent = tab_a.send_text("from tab A").await?;
    match tab_b.next().await? {
        ServerFrame::Message { message } => assert_eq!(message, sent),
        other => panic!("tab B expected the message, got {other:?}"),
    }
    // Tab A already has its ack: it must not receive its own message a second time.
    tab_a.expect_silence(Duration::from_millis(300)).await?;
    Ok(())
}

#[tokio::test]
async fn message_length_limit_at_and_past_the_edge() -> Result<()> {
    let relay = testing::spawn_with(|config| config.limits.max_message_chars = 10).await;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let at_limit = tab.send_text("ééééééééé!").await?;
    assert_eq!(at_limit.text.chars().count(), 10);

    let client_id = ClientMessageId::new_random();
    send_frame(
        &mut tab.socket,
        &ClientFrame::Send {
            client_id,
            text: "x".repeat(11),
            attachments: vec![],
        },
    )
    .await?;
    match tab.next().await? {
        ServerFrame::Error {
            code,
            client_id: Some(refused),
            message,
        } => {
            assert_eq!(code, ErrorCode::InvalidInput);
            assert_eq!(refused, client_id);
            assert!(message.contains("limit is 10"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    // The socket survives and nothing was stored.
    let after = tab.send_text("still here").await?;
    assert_eq!(after.seq, 2);
    Ok(())
}

#[tokio::test]
async fn an_empty_message_is_refused_and_creates_nothing() -> Result<()> {
    let relay = testing::spawn().await;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    send_frame(
        &mut tab.socket,
        &ClientFrame::Send {
            client_id: ClientMessageId::new_random(),
            text: "  \n".into(),
            attachments: vec![],
        },
    )
    .await?;
    assert!(matches!(
        tab.next().await?,
        ServerFrame::Error {
            code: ErrorCode::InvalidInput,
            ..
        }
    ));
    let list: natter_protocol::agent::ConversationList = agent
        .get("/v1/agent/conversations")
        .send()
        .await?
        .json()
        .await?;
    assert!(list.conversations.is_empty());
    Ok(())
}

#[tokio::test]
async fn malformed_frames_get_an_error_and_the_socket_survives() -> Result<()> {
    let relay = testing::spawn().await;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    use futures_util::SinkExt;
    for junk in [
        "not json",
        r#"{"type":"no_such_frame"}"#,
        r#"{"type":"send","text":"no id"}"#,
    ] {
        tab.socket
            .send(tokio_tungstenite::tungstenite::Message::text(junk))
            .await?;
        assert!(
            matches!(
                tab.next().await?,
                ServerFrame::Error {
                    code: ErrorCode::BadFrame,
                    ..
                }
            ),
            "{junk}"
        );
    }
    tab.send_text("fine").await?;
    Ok(())
}

#[tokio::test]
async fn a_frame_over_the_size_limit_is_refused_with_an_error_and_a_close_frame_and_stores_nothing(
) -> Result<()> {
    let relay = testing::spawn_with(|config| {
        config.limits.max_frame_bytes = 1024;
        config.limits.max_message_chars = 100_000;
    })
    .await;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let token = tab.token.clone();
    let frame = ClientFrame::Send {
        client_id: ClientMessageId::new_random(),
        text: "x".repeat(2000),
        attachments: vec![],
    };
    send_frame(&mut tab.socket, &frame).await?;
    // Told why, then closed with RFC 6455's "message too big" — not a dropped connection.
    match tab.next().await? {
        ServerFrame::Error { code, message, .. } => {
            assert_eq!(code, ErrorCode::InvalidInput);
            assert!(message.contains("1024 bytes"), "{message}");
        }
        other => panic!("expected an error frame, got {other:?}"),
    }
    assert_eq!(close_code(&mut tab.socket).await?, 1009);
    let again = VisitorClient::connect(&relay, Some(&token)).await?;
    assert!(again.history.is_empty());
    Ok(())
}

#[tokio::test]
async fn an_unknown_site_is_refused_with_a_terminal_close_code() -> Result<()> {
    let relay = testing::spawn().await;
    let mut socket = open_socket(&relay).await?;
    send_frame(
        &mut socket,
        &ClientFrame::Hello {
            v: PROTOCOL_VERSION,
            site: "nope".into(),
            visitor: None,
            after_seq: None,
            lang: None,
            link: None,
        },
    )
    .await?;
    let code = close_code(&mut socket).await?;
    assert_eq!(code, close_code::UNKNOWN_SITE);
    assert!(!close_code::should_reconnect(code));
    Ok(())
}

#[tokio::test]
async fn an_unsupported_protocol_version_is_refused() -> Result<()> {
    let relay = testing::spawn().await;
    let mut socket = open_socket(&relay).await?;
    send_frame(
        &mut socket,
        &ClientFrame::Hello {
            v: 999,
            site: "demo".into(),
            visitor: None,
            after_seq: None,
            lang: None,
            link: None,
        },
    )
    .await?;
    assert_eq!(close_code(&mut socket).await?, close_code::UPGRADE_REQUIRED);
    Ok(())
}

#[tokio::test]
async fn an_agent_reply_reaches_the_visitor_live_with_the_agent_name() -> Result<()> {
    let relay = testing::spawn().await;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let question = tab.send_text("Is the Guji still in stock?").await?;
    let response = agent
        .post(&format!(
            "/v1/agent/conversations/{}/messages",
            question.conversation_id.0
        ))
        .json(&SendReply {
            client_id: ClientMessageId::new_random(),
            text: "Yes, 12 bags left.".into(),
            internal: false,
            channel: None,
            attachments: vec![],
            subject: None,
        })
        .send()
        .await?;
    assert!(response.status().is_success());
    match tab.next().await? {
        ServerFrame::Message { message } => {
            assert_eq!(message.text, "Yes, 12 bags left.");
            assert_eq!(message.seq, 2);
            assert!(matches!(message.author, Author::Agent { ref name, .. } if name == "Admin"));
        }
        other => panic!("expected the reply, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn what_the_visitor_has_seen_is_kept_and_never_moves_back() -> Result<()> {
    let relay = testing::spawn().await;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let token = tab.token.clone();
    let question = tab.send_text("hello?").await?;
    for text in ["Hi!", "How can I help?"] {
        agent
            .post(&format!(
                "/v1/agent/conversations/{}/messages",
                question.conversation_id.0
            ))
            .json(&SendReply {
                client_id: ClientMessageId::new_random(),
                text: text.into(),
                attachments: vec![],
                internal: false,
                channel: None,
                subject: None,
            })
            .send()
            .await?;
        assert!(matches!(tab.next().await?, ServerFrame::Message { .. }));
        // The reply marks what it answers read (W4).
        assert!(matches!(tab.next().await?, ServerFrame::Read { .. }));
    }
    let seen = |up_to_seq| ClientFrame::Seen { up_to_seq };
    send_frame(&mut tab.socket, &seen(2)).await?;
    send_frame(&mut tab.socket, &seen(1)).await?; // late, out of order: ignored
    send_frame(&mut tab.socket, &seen(99)).await?; // past the end: capped at the newest (3)
    send_frame(&mut tab.socket, &seen(2)).await?;
    // A round trip makes sure the relay has handled the frames above.
    tab.send_text("thanks").await?;
    drop(tab);

    let mut socket = crate::support::open_socket(&relay).await?;
    send_frame(
        &mut socket,
        &ClientFrame::Hello {
            v: PROTOCOL_VERSION,
            site: "demo".into(),
            visitor: Some(token),
            after_seq: None,
            lang: None,
            link: None,
        },
    )
    .await?;
    match crate::support::next_frame(&mut socket).await? {
        ServerFrame::Welcome { seen_up_to, .. } => assert_eq!(seen_up_to, 3),
        other => panic!("expected welcome, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn the_relay_answers_a_widgets_close_frame_so_the_socket_closes_cleanly() -> Result<()> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
    use tokio_tungstenite::tungstenite::Message as WsMessage;

    let relay = testing::spawn().await;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    tab.socket
        .send(WsMessage::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "page closed".into(),
        })))
        .await?;
    let answer = loop {
        match tokio::time::timeout(Duration::from_secs(10), tab.socket.next()).await? {
            Some(Ok(WsMessage::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("the relay dropped the connection without a close frame: {other:?}"),
        }
    };
    assert_eq!(answer.map(|frame| frame.code), Some(CloseCode::Normal));
    Ok(())
}
