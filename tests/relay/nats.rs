//! Two relay nodes on one SQLite database and the real NATS server on 127.0.0.1:4222: a visitor
//! on node A and an agent on node B hear each other live (messages, typing, presence).
//!
//! Each test uses its own random subject prefix, so parallel runs on one server never see each
//! other's envelopes. A missing NATS server fails the test with the command that starts it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use natter_protocol::agent::{AgentServerFrame, SendReply, SetTyping};
use natter_protocol::visitor::ServerFrame;
use natter_protocol::ClientMessageId;
use natter_relay::broker::nats::NatsBroker;
use natter_relay::testing::{self, TestRelay};

use crate::inbox_support::next_agent_frame;
use crate::support::{AgentClient, Socket, VisitorClient};

const NATS_URL: &str = "nats://127.0.0.1:4222";
const START_NATS: &str = "start-stop-daemon --start --oknodo --background \
    --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server \
    -l /var/log/nats-server.log";

/// Two nodes sharing one data directory (so one SQLite database and one secret) and one
/// random NATS subject prefix.
struct TwoNodes {
    a: TestRelay,
    b: TestRelay,
    // Declared last: dropped after both nodes.
    _data: tempfile::TempDir,
}

async fn two_nodes() -> Result<TwoNodes> {
    let prefix = format!("natter-test-{}", uuid::Uuid::new_v4().simple());
    let data = tempfile::tempdir()?;
    let a = node(&prefix, data.path()).await?;
    let b = node(&prefix, data.path()).await?;
    assert_ne!(a.state.hub.node(), b.state.hub.node());
    Ok(TwoNodes { a, b, _data: data })
}

async fn node(prefix: &str, data_dir: &Path) -> Result<TestRelay> {
    let connected = tokio::time::timeout(
        Duration::from_secs(10),
        NatsBroker::connect(NATS_URL, prefix),
    )
    .await
    .map_err(|_| anyhow!("no answer within 10 s"))
    .and_then(|broker| broker.map_err(anyhow::Error::from));
    let broker = connected.with_context(|| {
        format!("this test needs NATS on {NATS_URL}; start it with: {START_NATS}")
    })?;
    let parts = natter_relay::Parts {
        broker: Arc::new(broker),
        ..natter_relay::Parts::default()
    };
    let data_dir = data_dir.to_path_buf();
    Ok(testing::spawn_with_parts(move |config| config.data_dir = data_dir, parts).await)
}

/// The agent's socket on `relay`, once it is subscribed (it has said how many are waiting).
async fn console(agent: &AgentClient, relay: &TestRelay) -> Result<Socket> {
    let mut socket = agent.socket(relay).await?;
    next_agent_frame(&mut socket, |frame| {
        matches!(frame, AgentServerFrame::Waiting { .. }).then_some(())
    })
    .await?;
    Ok(socket)
}

/// The visitor's next frame that is not about availability or read marks.
async fn next_visitor_frame(visitor: &mut VisitorClient) -> Result<ServerFrame> {
    loop {
        match visitor.next().await? {
            ServerFrame::Availability { .. } | ServerFrame::Read { .. } => {}
            frame => return Ok(frame),
        }
    }
}

#[tokio::test]
async fn a_visitor_on_node_a_and_an_agent_on_node_b_talk_live_over_nats() -> Result<()> {
    let nodes = two_nodes().await?;
    let mut visitor = VisitorClient::connect(&nodes.a, None).await?;
    let agent = AgentClient::login_admin(&nodes.b).await?;
    let mut socket = console(&agent, &nodes.b).await?;

    let sent = visitor.send_text("hello from node A").await?;
    let heard = next_agent_frame(&mut socket, |frame| match frame {
        AgentServerFrame::MessageAdded { message } if message.message.id == sent.id => {
            Some(message.message)
        }
        _ => None,
    })
    .await
    .context("the agent on node B hears the visitor on node A")?;
    assert_eq!(heard.text, "hello from node A");

    let conversation = sent.conversation_id.0;
    let typing = agent
        .post(&format!("/v1/agent/conversations/{conversation}/typing"))
        .json(&SetTyping { typing: true })
        .send()
        .await?;
    assert!(typing.status().is_success(), "typing: {}", typing.status());
    match next_visitor_frame(&mut visitor).await? {
        ServerFrame::Typing { typing: true, .. } => {}
        other => bail!("expected the agent on node B typing, got {other:?}"),
    }

    let reply = agent
        .post(&format!("/v1/agent/conversations/{conversation}/messages"))
        .json(&SendReply {
            client_id: ClientMessageId::new_random(),
            text: "hello from node B".into(),
            internal: false,
            channel: None,
            attachments: vec![],
            subject: None,
        })
        .send()
        .await?;
    assert!(reply.status().is_success(), "reply: {}", reply.status());
    loop {
        match next_visitor_frame(&mut visitor).await? {
            ServerFrame::Message { message } => {
                assert_eq!(message.text, "hello from node B");
                break;
            }
            // The agent stops typing as the reply goes out.
            ServerFrame::Typing { typing: false, .. } => {}
            other => bail!("expected the reply from node B, got {other:?}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_visitor_online_on_node_a_shows_online_to_the_agents_on_node_b() -> Result<()> {
    let nodes = two_nodes().await?;
    let agent = AgentClient::login_admin(&nodes.b).await?;
    let mut socket = console(&agent, &nodes.b).await?;
    let mut visitor = VisitorClient::connect(&nodes.a, None).await?;
    let sent = visitor.send_text("is anyone there?").await?;

    // The row node B pushes with the message must carry the green dot of a visitor on node A.
    let row = next_agent_frame(&mut socket, |frame| match frame {
        AgentServerFrame::ConversationUpdated { conversation }
            if conversation.id == sent.conversation_id =>
        {
            Some(conversation)
        }
        _ => None,
    })
    .await?;
    assert!(
        row.state.visitor_online,
        "node B shows the visitor connected to node A as offline"
    );
    let fetched = agent.row(sent.conversation_id).await?;
    assert!(
        fetched.state.visitor_online,
        "node B's inbox shows the visitor connected to node A as offline"
    );
    Ok(())
}
