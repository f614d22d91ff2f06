//! `identify` (S2): signed tokens link to a verified contact whose history follows them to any
//! device; unsigned emails stay on one visitor; bad tokens are refused and the chat goes on;
//! `forget` (logout) retires the visitor id.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::{close_code, ErrorCode, Message};
use natter_relay::config::DEMO_IDENTITY_SECRET;
use natter_relay::contacts::{sign_token, IdentityClaims};
use natter_relay::testing;

use crate::support::{close_code, send_frame, VisitorClient};

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn token(secret: &str, email: &str, exp: u64) -> String {
    sign_token(
        secret,
        &IdentityClaims {
            email: email.into(),
            name: Some("Ada".into()),
            exp,
        },
    )
    .expect("HS256 signing cannot fail with a byte secret")
}

fn valid_token(email: &str) -> String {
    token(DEMO_IDENTITY_SECRET, email, now_secs() + 300)
}

fn identify(email: &str, token: Option<String>) -> ClientFrame {
    ClientFrame::Identify {
        email: email.into(),
        name: None,
        phone: None,
        company: None,
        token,
    }
}

/// Sends `identify` and returns the `identified` answer and, if one follows, the new thread.
async fn identify_ok(
    visitor: &mut VisitorClient,
    frame: ClientFrame,
) -> Result<(bool, Option<Vec<Message>>)> {
    send_frame(&mut visitor.socket, &frame).await?;
    let verified = match visitor.next().await? {
        ServerFrame::Identified { verified, .. } => verified,
        other => bail!("expected identified, got {other:?}"),
    };
    // A welcome follows only when the thread changed; a short wait tells.
    let thread =
        match tokio::time::timeout(std::time::Duration::from_millis(300), visitor.next()).await {
            Ok(Ok(ServerFrame::Welcome { messages, .. })) => Some(messages),
            Ok(Ok(other)) => bail!("unexpected frame after identified: {other:?}"),
            Ok(Err(error)) => return Err(error),
            Err(_) => None,
        };
    Ok((verified, thread))
}

#[tokio::test]
async fn a_verified_contact_finds_their_history_on_a_second_device_live() -> Result<()> {
    let relay = testing::spawn().await;
    let mut laptop = VisitorClient::connect(&relay, None).await?;
    let (verified, _) = identify_ok(
        &mut laptop,
        identify("ada@example.com", Some(valid_token("ada@example.com"))),
    )
    .await?;
    assert!(verified);
    let question = laptop.send_text("Where is my order #1234?").await?;

    let mut phone = VisitorClient::connect(&relay, None).await?;
    assert!(phone.history.is_empty(), "anonymous until identified");
    let (verified, thread) = identify_ok(
        &mut phone,
        identify("ada@example.com", Some(valid_token("ada@example.com"))),
    )
    .await?;
    assert!(verified);
    assert_eq!(
        thread,
        Some(vec![question.clone()]),
        "the contact's history follows them"
    );

    // Live both ways: what the phone sends shows on the laptop.
    let follow_up = phone.send_text("Sent from my phone").await?;
    assert_eq!(follow_up.conversation_id, question.conversation_id);
    match laptop.next().await? {
        ServerFrame::Message { message } => assert_eq!(message, follow_up),
        other => panic!("expected the phone's message on the laptop, got {other:?}"),
    }

    // And the phone, reconnecting with its cookie, keeps seeing the contact's thread.
    let again = VisitorClient::connect(&relay, Some(&phone.token.clone())).await?;
    assert_eq!(again.history.len(), 2);
    Ok(())
}

#[tokio::test]
async fn an_unsigned_email_never_opens_a_verified_contacts_history() -> Result<()> {
    let relay = testing::spawn().await;
    let mut ada = VisitorClient::connect(&relay, None).await?;
    identify_ok(
        &mut ada,
        identify("ada@example.com", Some(valid_token("ada@example.com"))),
    )
    .await?;
    ada.send_text("private: my address is …").await?;

    let mut eve = VisitorClient::connect(&relay, None).await?;
    let (verified, thread) = identify_ok(&mut eve, identify("ada@example.com", None)).await?;
    assert!(!verified, "stored as unverified");
    assert_eq!(thread, None, "no history appears");
    let reconnected = VisitorClient::connect(&relay, Some(&eve.token.clone())).await?;
    assert!(reconnected.history.is_empty());

    // The other way round: an unverified visitor's thread is not merged into the contact's.
    eve.send_text("I am totally Ada").await?;
    let mut ada_phone = VisitorClient::connect(&relay, None).await?;
    let (_, thread) = identify_ok(
        &mut ada_phone,
        identify("ada@example.com", Some(valid_token("ada@example.com"))),
    )
    .await?;
    let texts: Vec<_> = thread
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, vec!["private: my address is …".to_string()]);
    Ok(())
}

#[tokio::test]
async fn bad_tokens_are_refused_clearly_and_the_chat_goes_on_anonymously() -> Result<()> {
    let relay = testing::spawn().await;
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    let now = now_secs();
    let cases = [
        (
            token(DEMO_IDENTITY_SECRET, "ada@example.com", now - 3600),
            "expired",
        ),
        (
            token("some other site's secret", "ada@example.com", now + 300),
            "not signed with this site",
        ),
        (
            token(DEMO_IDENTITY_SECRET, "ada@example.com", now + 86_400),
            "lives too long",
        ),
        (
            token(DEMO_IDENTITY_SECRET, "eve@example.com", now + 300),
            "is for",
        ),
        ("not-a-jwt".to_string(), "malformed"),
    ];
    for (bad, reason) in cases {
        send_frame(&mut visitor.socket, &identify("ada@example.com", Some(bad))).await?;
        match visitor.next().await? {
            ServerFrame::Error {
                code: ErrorCode::InvalidIdentity,
                message,
                ..
            } => {
                assert!(
                    message.contains(reason),
                    "{message:?} should say {reason:?}"
                );
                assert!(message.contains("continues anonymously"), "{message}");
            }
            other => panic!("expected invalid_identity for {reason}, got {other:?}"),
        }
    }
    let sent = visitor.send_text("still chatting").await?;
    assert_eq!(sent.seq, 1);
    Ok(())
}

#[tokio::test]
async fn an_invalid_email_is_refused_with_a_clear_error() -> Result<()> {
    let relay = testing::spawn().await;
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    send_frame(&mut visitor.socket, &identify("not an email", None)).await?;
    match visitor.next().await? {
        ServerFrame::Error {
            code: ErrorCode::InvalidInput,
            message,
            ..
        } => {
            assert!(message.contains("not a valid address"), "{message}")
        }
        other => panic!("expected invalid_input, got {other:?}"),
    }
    // Non-ASCII addresses are accepted end to end.
    let (verified, _) = identify_ok(&mut visitor, identify("jürgen@müller.de", None)).await?;
    assert!(!verified);
    Ok(())
}

#[tokio::test]
async fn forget_retires_the_visitor_id_so_an_old_cookie_opens_nothing() -> Result<()> {
    let relay = testing::spawn().await;
    let mut shared_computer = VisitorClient::connect(&relay, None).await?;
    identify_ok(
        &mut shared_computer,
        identify("ada@example.com", Some(valid_token("ada@example.com"))),
    )
    .await?;
    shared_computer.send_text("my private question").await?;
    let old_cookie = shared_computer.token.clone();

    send_frame(&mut shared_computer.socket, &ClientFrame::Forget).await?;
    assert_eq!(shared_computer.next().await?, ServerFrame::Forgotten);
    assert_eq!(
        close_code(&mut shared_computer.socket).await?,
        close_code::GOING_AWAY
    );

    let next_person = VisitorClient::connect(&relay, Some(&old_cookie)).await?;
    assert!(
        next_person.history.is_empty(),
        "a copied cookie shows nothing after logout"
    );
    assert_ne!(next_person.token, old_cookie, "a fresh identity instead");
    Ok(())
}

#[tokio::test]
async fn the_demo_signer_issues_short_lived_tokens_the_demo_site_accepts() -> Result<()> {
    let relay = testing::spawn().await;
    let response: serde_json::Value = reqwest::Client::new()
        .post(relay.http_url("/demo/identity-token"))
        .json(&serde_json::json!({"email": "grace@example.com", "name": "Grace"}))
        .send()
        .await?
        .json()
        .await?;
    let token = response["token"].as_str().unwrap_or_default().to_owned();
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    let (verified, _) =
        identify_ok(&mut visitor, identify("grace@example.com", Some(token))).await?;
    assert!(verified);

    // With a real secret on the demo site, the endpoint refuses to sign.
    let real = testing::spawn_with(|config| {
        config.sites[0].identity_secret = Some(natter_relay::config::Secret::new("a real secret"));
    })
    .await;
    let status = reqwest::Client::new()
        .post(real.http_url("/demo/identity-token"))
        .send()
        .await?
        .status();
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
    Ok(())
}
