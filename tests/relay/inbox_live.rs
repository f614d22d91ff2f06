//! The inbox live on the agent socket (I3, I4, I7, I10, I15): every console sees every change.

use std::time::Duration;

use anyhow::Result;
use natter_protocol::agent::{AgentServerFrame, ConversationSummary, Role, SendReply, SetBlocked};
use natter_protocol::ClientMessageId;
use natter_relay::testing;

use crate::inbox_support::{agent_frames_for, next_agent_frame};
use crate::support::{AgentClient, VisitorClient};

#[tokio::test]
async fn opening_a_conversation_marks_it_read_for_every_console() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let (_, bea) = admin
        .create_agent(&relay, "bea@example.com", "Bea", Role::Agent)
        .await?;
    let mut bea_socket = bea.socket(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let id = tab.send_text("hello?").await?.conversation_id;
    next_agent_frame(&mut bea_socket, |frame| match frame {
        AgentServerFrame::ConversationUpdated { conversation } if conversation.state.unread => {
            Some(())
        }
        _ => None,
    })
    .await?;

    admin
        .post_json::<_, ConversationSummary>(&format!("/v1/agent/conversations/{}/read", id.0), &())
        .await?;
    let row = next_agent_frame(&mut bea_socket, |frame| match frame {
        AgentServerFrame::ConversationUpdated { conversation } if conversation.id == id => {
            Some(conversation)
        }
        _ => None,
    })
    .await?;
    assert!(!row.state.unread);
    Ok(())
}

#[tokio::test]
async fn comments_are_pushed_to_agents_marked_internal() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut socket = admin.socket(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let id = tab.send_text("hi").await?.conversation_id;
    admin
        .post_json::<_, serde_json::Value>(
            &format!("/v1/agent/conversations/{}/messages", id.0),
            &SendReply {
                client_id: ClientMessageId::new_random(),
                text: "note to self".into(),
                internal: true,
                channel: None,
                attachments: vec![],
                subject: None,
            },
        )
        .await?;
    let pushed = next_agent_frame(&mut socket, |frame| match frame {
        AgentServerFrame::MessageAdded { message } if message.message.text == "note to self" => {
            Some(message)
        }
        _ => None,
    })
    .await?;
    assert!(pushed.internal);
    tab.expect_silence(Duration::from_millis(300)).await?;
    Ok(())
}

#[tokio::test]
async fn presence_of_visitors_and_agents_is_pushed() -> Result<()> {
    let relay = testing::spawn_with(|config| {
        config.limits.visitor_presence_grace_secs = 0;
        config.limits.agent_presence_grace_secs = 0;
    })
    .await;
    let admin = AgentClient::login_admin(&relay).await?;
    let (bea_info, bea) = admin
        .create_agent(&relay, "bea@example.com", "Bea", Role::Agent)
        .await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let id = tab.send_text("hi").await?.conversation_id;
    let token = tab.token.clone();
    drop(tab);

    let mut socket = admin.socket(&relay).await?;
    // I15: told how many conversations wait, first thing.
    let waiting = next_agent_frame(&mut socket, |frame| match frame {
        AgentServerFrame::Waiting { count } => Some(count),
        _ => None,
    })
    .await?;
    assert_eq!(waiting, 1);

    // The visitor comes back: green.
    let tab = VisitorClient::connect(&relay, Some(&token)).await?;
    next_agent_frame(&mut socket, |frame| match frame {
        AgentServerFrame::ConversationUpdated { conversation }
            if conversation.id == id && conversation.state.visitor_online =>
        {
            Some(())
        }
        _ => None,
    })
    .await?;
    drop(tab);
    next_agent_frame(&mut socket, |frame| match frame {
        AgentServerFrame::ConversationUpdated { conversation }
            if conversation.id == id && !conversation.state.visitor_online =>
        {
            Some(())
        }
        _ => None,
    })
    .await?;

    // Another agent's console opens and closes.
    let bea_socket = bea.socket(&relay).await?;
    let online = next_agent_frame(&mut socket, |frame| match frame {
        AgentServerFrame::AgentPresence {
            agent_id,
            online_since,
        } if agent_id == bea_info.profile.id => Some(online_since),
        _ => None,
    })
    .await?;
    assert!(online.is_some());
    drop(bea_socket);
    let offline = next_agent_frame(&mut socket, |frame| match frame {
        AgentServerFrame::AgentPresence {
            agent_id,
            online_since,
        } if agent_id == bea_info.profile.id => Some(online_since),
        _ => None,
    })
    .await?;
    assert_eq!(offline, None);
    Ok(())
}

#[tokio::test]
async fn a_blocked_contact_notifies_nobody() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let id = tab.send_text("first").await?.conversation_id;
    admin
        .post_json::<_, ConversationSummary>(
            &format!("/v1/agent/conversations/{}/block", id.0),
            &SetBlocked { blocked: true },
        )
        .await?;
    let mut socket = admin.socket(&relay).await?;
    tab.send_text("blocked words").await?;
    let frames = agent_frames_for(&mut socket, Duration::from_millis(500)).await?;
    assert!(
        frames
            .iter()
            .all(|frame| !matches!(frame, AgentServerFrame::MessageAdded { .. })),
        "{frames:?}"
    );
    Ok(())
}

#[tokio::test]
async fn disabling_an_agent_closes_their_console_socket() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let (bea_info, bea) = admin
        .create_agent(&relay, "bea@example.com", "Bea", Role::Agent)
        .await?;
    let mut bea_socket = bea.socket(&relay).await?;
    next_agent_frame(&mut bea_socket, |frame| match frame {
        AgentServerFrame::Waiting { .. } => Some(()),
        _ => None,
    })
    .await?;
    admin
        .patch(&format!("/v1/agent/agents/{}", bea_info.profile.id.0))
        .json(&natter_protocol::agent::AgentUpdate {
            disabled: Some(true),
            ..Default::default()
        })
        .send()
        .await?;
    assert_eq!(
        crate::support::close_code(&mut bea_socket).await?,
        natter_protocol::close_code::UNAUTHORIZED
    );
    Ok(())
}

#[tokio::test]
async fn a_console_that_missed_events_is_told_to_resync_and_its_socket_stays_open() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut socket = admin.socket(&relay).await?;
    next_agent_frame(&mut socket, |frame| match frame {
        AgentServerFrame::Waiting { .. } => Some(()),
        _ => None,
    })
    .await?;
    relay.lose_events_from_other_nodes();
    next_agent_frame(&mut socket, |frame| match frame {
        AgentServerFrame::Resync => Some(()),
        _ => None,
    })
    .await?;
    // The same socket still hears what happens next.
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let sent = tab.send_text("after the resync").await?;
    next_agent_frame(&mut socket, |frame| match frame {
        AgentServerFrame::MessageAdded { message } if message.message.id == sent.id => Some(()),
        _ => None,
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn the_relay_answers_a_consoles_close_frame_so_the_socket_closes_cleanly() -> Result<()> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
    use tokio_tungstenite::tungstenite::Message as WsMessage;

    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut socket = admin.socket(&relay).await?;
    socket
        .send(WsMessage::Close(Some(CloseFrame {
            code: CloseCode::Away,
            reason: "tab closed".into(),
        })))
        .await?;
    let answer = loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await? {
            Some(Ok(WsMessage::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("the relay dropped the connection without a close frame: {other:?}"),
        }
    };
    assert_eq!(answer.map(|frame| frame.code), Some(CloseCode::Away));
    Ok(())
}
