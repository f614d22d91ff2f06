//! Typing indicators both ways (W7), read receipts for the visitor (W4 "read") and the email
//! the relay already knows, sent in the welcome so the form is not asked twice (W5).

use std::time::Duration;

use anyhow::{bail, Result};
use natter_protocol::agent::{AgentServerFrame, Role, SendReply, SetBlocked, SetTyping};
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::{ClientMessageId, ConversationId, PROTOCOL_VERSION};
use natter_relay::testing::{self, TestRelay};
use reqwest::StatusCode;

use crate::inbox_support::{agent_frames_for, next_agent_frame};
use crate::support::{next_frame, open_socket, send_frame, AgentClient, VisitorClient};

/// Silence is asserted over this long: enough for a frame that was going to come.
const QUIET: Duration = Duration::from_millis(400);

async fn relay_with_typing_repeat(ms: u64) -> TestRelay {
    testing::spawn_with(move |config| config.limits.typing_repeat_ms = ms).await
}

/// The next typing frame on an agent socket, as (conversation, agent name, typing).
async fn agent_typing(
    socket: &mut crate::support::Socket,
) -> Result<(ConversationId, Option<String>, bool)> {
    next_agent_frame(socket, |frame| match frame {
        AgentServerFrame::Typing {
            conversation_id,
            name,
            typing,
            ..
        } => Some((conversation_id, name, typing)),
        _ => None,
    })
    .await
}

fn typing_frames(frames: &[AgentServerFrame]) -> usize {
    frames
        .iter()
        .filter(|frame| matches!(frame, AgentServerFrame::Typing { .. }))
        .count()
}

async fn set_typing(agent: &AgentClient, id: ConversationId, typing: bool) -> Result<StatusCode> {
    Ok(agent
        .post(&format!("/v1/agent/conversations/{}/typing", id.0))
        .json(&SetTyping { typing })
        .send()
        .await?
        .status())
}

#[tokio::test]
async fn visitor_typing_reaches_agents_and_repeats_are_throttled() -> Result<()> {
    let relay = relay_with_typing_repeat(60_000).await;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut console = agent.socket(&relay).await?;
    let mut visitor = VisitorClient::connect(&relay, None).await?;

    // Before the first message there is no conversation to type in: nothing is passed on.
    send_frame(&mut visitor.socket, &ClientFrame::Typing { typing: true }).await?;
    assert_eq!(
        typing_frames(&agent_frames_for(&mut console, QUIET).await?),
        0
    );

    let first = visitor.send_text("Hello?").await?;
    send_frame(&mut visitor.socket, &ClientFrame::Typing { typing: true }).await?;
    assert_eq!(
        agent_typing(&mut console).await?,
        (first.conversation_id, None, true)
    );
    // A repeat within typing_repeat_ms is dropped; the stop that follows passes, so the next
    // typing frame the agent sees is the stop.
    send_frame(&mut visitor.socket, &ClientFrame::Typing { typing: true }).await?;
    send_frame(&mut visitor.socket, &ClientFrame::Typing { typing: false }).await?;
    assert_eq!(
        agent_typing(&mut console).await?,
        (first.conversation_id, None, false)
    );
    assert_eq!(
        typing_frames(&agent_frames_for(&mut console, QUIET).await?),
        0
    );
    Ok(())
}

#[tokio::test]
async fn with_a_zero_repeat_interval_every_typing_signal_passes() -> Result<()> {
    let relay = relay_with_typing_repeat(0).await;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut console = agent.socket(&relay).await?;
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    visitor.send_text("Hi").await?;
    for _ in 0..2 {
        send_frame(&mut visitor.socket, &ClientFrame::Typing { typing: true }).await?;
    }
    assert!(agent_typing(&mut console).await?.2);
    assert!(agent_typing(&mut console).await?.2);
    Ok(())
}

#[tokio::test]
async fn a_blocked_contacts_typing_reaches_no_agent() -> Result<()> {
    let relay = relay_with_typing_repeat(0).await;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    let first = visitor.send_text("spam").await?;
    let response = agent
        .post(&format!(
            "/v1/agent/conversations/{}/block",
            first.conversation_id.0
        ))
        .json(&SetBlocked { blocked: true })
        .send()
        .await?;
    assert!(response.status().is_success());
    let mut console = agent.socket(&relay).await?;
    send_frame(&mut visitor.socket, &ClientFrame::Typing { typing: true }).await?;
    assert_eq!(
        typing_frames(&agent_frames_for(&mut console, QUIET).await?),
        0
    );
    Ok(())
}

#[tokio::test]
async fn agent_typing_reaches_the_visitor_and_other_agents_by_name() -> Result<()> {
    let relay = relay_with_typing_repeat(0).await;
    let admin = AgentClient::login_admin(&relay).await?;
    let (_, anna) = admin
        .create_agent(&relay, "anna@example.com", "Anna", Role::Agent)
        .await?;
    let mut admin_console = admin.socket(&relay).await?;
    let mut anna_console = anna.socket(&relay).await?;
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    let first = visitor.send_text("Where is my order?").await?;
    let id = first.conversation_id;

    assert_eq!(set_typing(&anna, id, true).await?, StatusCode::NO_CONTENT);
    assert_eq!(
        visitor.next().await?,
        ServerFrame::Typing {
            name: "Anna".into(),
            typing: true
        }
    );
    assert_eq!(
        agent_typing(&mut admin_console).await?,
        (id, Some("Anna".into()), true),
        "colleagues see who is answering"
    );
    assert_eq!(
        typing_frames(&agent_frames_for(&mut anna_console, QUIET).await?),
        0,
        "no echo of one's own typing"
    );
    assert_eq!(set_typing(&anna, id, false).await?, StatusCode::NO_CONTENT);
    assert_eq!(
        visitor.next().await?,
        ServerFrame::Typing {
            name: "Anna".into(),
            typing: false
        }
    );

    // Another visitor's widget hears nothing of this conversation.
    let mut stranger = VisitorClient::connect(&relay, None).await?;
    stranger.send_text("Unrelated").await?;
    set_typing(&anna, id, true).await?;
    stranger.expect_silence(QUIET).await?;

    let missing = ConversationId(uuid::Uuid::new_v4());
    assert_eq!(
        set_typing(&anna, missing, true).await?,
        StatusCode::NOT_FOUND
    );
    Ok(())
}

#[tokio::test]
async fn the_visitor_hears_when_agents_have_read_and_finds_it_in_the_next_welcome() -> Result<()> {
    let relay = testing::spawn().await;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    let first = visitor.send_text("One").await?;
    let second = visitor.send_text("Two").await?;
    let id = first.conversation_id;
    let read = |agent: &AgentClient| {
        agent
            .post(&format!("/v1/agent/conversations/{}/read", id.0))
            .send()
    };

    assert!(read(&agent).await?.status().is_success());
    assert_eq!(
        visitor.next().await?,
        ServerFrame::Read {
            up_to_seq: second.seq
        }
    );
    // Reading again moves nothing: no second receipt.
    assert!(read(&agent).await?.status().is_success());
    visitor.expect_silence(QUIET).await?;

    // A reply means everything before it was read.
    let third = visitor.send_text("Three").await?;
    let reply = agent
        .post(&format!("/v1/agent/conversations/{}/messages", id.0))
        .json(&SendReply {
            client_id: ClientMessageId::new_random(),
            text: "On its way".into(),
            internal: false,
            channel: None,
            attachments: vec![],
            subject: None,
        })
        .send()
        .await?;
    assert!(reply.status().is_success());
    let ServerFrame::Message { message } = visitor.next().await? else {
        bail!("expected the reply");
    };
    assert!(message.seq > third.seq);
    assert_eq!(
        visitor.next().await?,
        ServerFrame::Read {
            up_to_seq: message.seq
        }
    );

    // After a reload the widget learns it from the welcome.
    let mut socket = open_socket(&relay).await?;
    send_frame(
        &mut socket,
        &ClientFrame::Hello {
            v: PROTOCOL_VERSION,
            site: "demo".into(),
            visitor: Some(visitor.token.clone()),
            after_seq: None,
            lang: None,
            link: None,
        },
    )
    .await?;
    match next_frame(&mut socket).await? {
        ServerFrame::Welcome { read_up_to, .. } => assert_eq!(read_up_to, message.seq),
        other => bail!("expected welcome, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn the_welcome_carries_the_email_the_relay_already_knows() -> Result<()> {
    let relay = testing::spawn().await;
    let welcome_email = |token: Option<String>| {
        let relay = &relay;
        async move {
            let mut socket = open_socket(relay).await?;
            send_frame(
                &mut socket,
                &ClientFrame::Hello {
                    v: PROTOCOL_VERSION,
                    site: "demo".into(),
                    visitor: token,
                    after_seq: None,
                    lang: None,
                    link: None,
                },
            )
            .await?;
            match next_frame(&mut socket).await? {
                ServerFrame::Welcome { known_email, .. } => Ok::<_, anyhow::Error>(known_email),
                other => bail!("expected welcome, got {other:?}"),
            }
        }
    };
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    assert_eq!(welcome_email(Some(visitor.token.clone())).await?, None);
    send_frame(
        &mut visitor.socket,
        &ClientFrame::SubmitForm {
            email: "ada@example.com".into(),
            name: Some("Ada".into()),
            phone: None,
            company: None,
        },
    )
    .await?;
    assert!(matches!(
        visitor.next().await?,
        ServerFrame::FormAccepted { .. }
    ));
    assert_eq!(
        welcome_email(Some(visitor.token.clone())).await?.as_deref(),
        Some("ada@example.com")
    );
    Ok(())
}
