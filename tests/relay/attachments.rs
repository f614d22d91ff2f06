//! Attachments (W8, I13): limits at and past the edge, the type allow-list and signature check,
//! capability URLs, and files in messages both ways.

use anyhow::{bail, Result};
use natter_protocol::agent::SendReply;
use natter_protocol::visitor::{upload_header, ClientFrame, ServerFrame, VISITOR_UPLOAD_PATH};
use natter_protocol::{Attachment, AttachmentId, ClientMessageId, ErrorCode};
use natter_relay::testing::{self, TestRelay};
use reqwest::StatusCode;

use crate::support::{send_frame, AgentClient, VisitorClient};

pub(crate) const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn png(size: usize) -> Vec<u8> {
    let mut bytes = PNG_SIGNATURE.to_vec();
    bytes.resize(size, 0);
    bytes
}

/// A visitor's upload (the widget's request), answered as it comes.
pub(crate) async fn upload(
    relay: &TestRelay,
    visitor: &VisitorClient,
    content_type: &str,
    name: &str,
    body: Vec<u8>,
) -> Result<reqwest::Response> {
    Ok(reqwest::Client::new()
        .post(relay.http_url(VISITOR_UPLOAD_PATH))
        .header(upload_header::SITE, "demo")
        .header(upload_header::VISITOR, &visitor.token)
        .header(upload_header::FILENAME, name)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await?)
}

fn files_on_disk(relay: &TestRelay) -> usize {
    std::fs::read_dir(relay.state.config.attachments_dir())
        .map(|dir| dir.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_visitor_sends_an_image_and_only_holders_of_the_link_can_fetch_it() -> Result<()> {
    let relay = testing::spawn().await;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    let response = upload(
        &relay,
        &visitor,
        "image/png",
        "Screenshot%20M%C3%A4rz.png",
        png(2048),
    )
    .await?;
    assert_eq!(response.status(), StatusCode::OK);
    let attachment: Attachment = response.json().await?;
    assert_eq!(attachment.name, "Screenshot März.png");
    assert_eq!(attachment.size, 2048);

    send_frame(
        &mut visitor.socket,
        &ClientFrame::Send {
            client_id: ClientMessageId::new_random(),
            text: String::new(),
            attachments: vec![attachment.id],
        },
    )
    .await?;
    let message = match visitor.next().await? {
        ServerFrame::Ack { message, .. } => message,
        other => bail!("expected ack, got {other:?}"),
    };
    assert_eq!(
        message.attachments,
        vec![attachment.clone()],
        "a file alone is a message"
    );

    // The agent sees it in the thread, and the link works for them.
    let detail: natter_protocol::agent::ConversationDetail = agent
        .get(&format!(
            "/v1/agent/conversations/{}",
            message.conversation_id.0
        ))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        detail.messages[0].message.attachments,
        vec![attachment.clone()]
    );
    let download = reqwest::get(relay.http_url(&attachment.url)).await?;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()["content-type"], "image/png");
    assert_eq!(download.headers()["x-content-type-options"], "nosniff");
    assert!(download.headers()["content-security-policy"]
        .to_str()?
        .contains("sandbox"));
    assert_eq!(download.bytes().await?.len(), 2048);

    // Without the secret part of the link: nothing.
    let guessed = format!("/v1/attachments/{}/not-the-token", attachment.id.0);
    assert_eq!(
        reqwest::get(relay.http_url(&guessed)).await?.status(),
        StatusCode::NOT_FOUND
    );
    Ok(())
}

#[tokio::test]
async fn the_size_limit_at_and_past_the_edge_leaves_nothing_behind() -> Result<()> {
    let relay = testing::spawn_with(|config| config.limits.max_attachment_bytes = 4096).await;
    let visitor = VisitorClient::connect(&relay, None).await?;
    let at_limit = upload(&relay, &visitor, "image/png", "a.png", png(4096)).await?;
    assert_eq!(at_limit.status(), StatusCode::OK);
    let files_before = files_on_disk(&relay);

    let past_limit = upload(&relay, &visitor, "image/png", "b.png", png(4097)).await?;
    assert_eq!(past_limit.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: natter_protocol::ApiError = past_limit.json().await?;
    assert_eq!(error.code, ErrorCode::InvalidInput);
    assert!(error.message.contains("4 KB"), "{}", error.message);
    assert_eq!(
        files_on_disk(&relay),
        files_before,
        "no partial file is left"
    );
    Ok(())
}

#[tokio::test]
async fn types_off_the_allow_list_or_with_the_wrong_content_are_refused() -> Result<()> {
    let relay = testing::spawn().await;
    let visitor = VisitorClient::connect(&relay, None).await?;
    let exe = upload(
        &relay,
        &visitor,
        "application/x-msdownload",
        "setup.exe",
        b"MZ\x90\x00".to_vec(),
    )
    .await?;
    assert_eq!(exe.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let message = exe.json::<natter_protocol::ApiError>().await?.message;
    assert!(
        message.contains("image/png"),
        "the refusal lists what is allowed: {message}"
    );

    let disguised = upload(
        &relay,
        &visitor,
        "image/png",
        "cat.png",
        b"<svg onload=alert(1)>".to_vec(),
    )
    .await?;
    assert_eq!(disguised.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let empty = upload(&relay, &visitor, "text/plain", "empty.txt", Vec::new()).await?;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    Ok(())
}

#[tokio::test]
async fn uploads_need_a_valid_visitor_of_the_site() -> Result<()> {
    let relay = testing::spawn().await;
    let response = reqwest::Client::new()
        .post(relay.http_url(VISITOR_UPLOAD_PATH))
        .header(upload_header::SITE, "demo")
        .header(upload_header::VISITOR, "forged.token")
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn another_conversations_file_cannot_be_sent_and_a_resend_keeps_one_copy() -> Result<()> {
    let relay = testing::spawn().await;
    let mut alice = VisitorClient::connect(&relay, None).await?;
    let mut mallory = VisitorClient::connect(&relay, None).await?;
    let alices: Attachment = upload(
        &relay,
        &alice,
        "text/plain",
        "notes.txt",
        b"private".to_vec(),
    )
    .await?
    .json()
    .await?;

    let client_id = ClientMessageId::new_random();
    send_frame(
        &mut mallory.socket,
        &ClientFrame::Send {
            client_id,
            text: "look".into(),
            attachments: vec![alices.id],
        },
    )
    .await?;
    match mallory.next().await? {
        ServerFrame::Error {
            code: ErrorCode::InvalidInput,
            message,
            client_id: Some(refused),
        } => {
            assert_eq!(refused, client_id);
            assert!(message.contains("upload it again"), "{message}");
        }
        other => bail!("expected a refusal, got {other:?}"),
    }

    let client_id = ClientMessageId::new_random();
    let first = alice
        .send_with_files(client_id, "my notes", vec![alices.id])
        .await?;
    let resent = alice
        .send_with_files(client_id, "my notes", vec![alices.id])
        .await?;
    assert_eq!(
        resent, first,
        "the resend is acknowledged with the stored message"
    );
    assert_eq!(first.attachments.len(), 1);
    let unknown = AttachmentId(uuid::Uuid::new_v4());
    send_frame(
        &mut alice.socket,
        &ClientFrame::Send {
            client_id: ClientMessageId::new_random(),
            text: "x".into(),
            attachments: vec![unknown],
        },
    )
    .await?;
    assert!(matches!(
        alice.next().await?,
        ServerFrame::Error {
            code: ErrorCode::InvalidInput,
            ..
        }
    ));
    Ok(())
}

#[tokio::test]
async fn an_agent_sends_a_file_and_the_visitor_receives_it_live() -> Result<()> {
    let relay = testing::spawn().await;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    let question = visitor.send_text("Can I get the invoice?").await?;
    let path = format!("/v1/agent/conversations/{}", question.conversation_id.0);
    let pdf: Attachment = agent
        .post(&format!("{path}/attachments"))
        .header(upload_header::FILENAME, "invoice-1234.pdf")
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.7\n...".to_vec())
        .send()
        .await?
        .json()
        .await?;
    let reply = SendReply {
        client_id: ClientMessageId::new_random(),
        text: "Here it is.".into(),
        attachments: vec![pdf.id],
        internal: false,
        channel: None,
        subject: None,
    };
    assert_eq!(
        agent
            .post(&format!("{path}/messages"))
            .json(&reply)
            .send()
            .await?
            .status(),
        StatusCode::OK
    );
    match visitor.next().await? {
        ServerFrame::Message { message } => assert_eq!(message.attachments, vec![pdf]),
        other => bail!("expected the agent's file, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn a_messages_files_keep_the_order_they_were_sent_in() -> Result<()> {
    let relay = testing::spawn().await;
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    // Uploaded in one order (as parallel uploads may finish), sent in another.
    let mut uploaded = Vec::new();
    for name in ["first.png", "second.png", "third.png"] {
        let response = upload(&relay, &visitor, "image/png", name, png(64)).await?;
        uploaded.push(response.json::<Attachment>().await?);
    }
    let sent = vec![uploaded[2].id, uploaded[0].id, uploaded[1].id];
    let message = visitor
        .send_with_files(ClientMessageId::new_random(), "", sent.clone())
        .await?;
    let order = |attachments: &[Attachment]| attachments.iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(order(&message.attachments), sent);
    // And so in the history a reload gets.
    let again = VisitorClient::connect(&relay, Some(&visitor.token)).await?;
    assert_eq!(order(&again.history[0].attachments), sent);
    Ok(())
}
