//! Two relay processes — the real `natter-relay` binary — on one PostgreSQL database and the
//! NATS server (R5): a visitor on node A and an agent on node B talk live (messages both ways,
//! typing, presence); then node A is killed with SIGKILL while the visitor is sending, and the
//! visitor resumes on node B since its last seq, resending what was never acknowledged:
//! every acknowledged message is stored exactly once, every unacknowledged one once.
//!
//! Each run has its own database (created here, dropped at the end) and its own NATS subject
//! prefix (`bus_prefix`), so parallel runs never see each other.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use futures_util::StreamExt;
use natter_protocol::agent::{AgentServerFrame, ConversationDetail, SendReply};
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::{ClientMessageId, ConversationId, Message};
use sqlx::Connection;

use crate::inbox_support::next_agent_frame;
use crate::process_support::RelayProcess;
use crate::support::{send_frame, AgentClient, Socket, VisitorClient, FRAME_TIMEOUT};

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
const NATS_URL: &str = "nats://127.0.0.1:4222";
/// Messages the visitor sends while node A is killed.
const BURST: usize = 40;

/// A PostgreSQL database of its own, dropped by [`TestDatabase::drop_now`].
struct TestDatabase {
    name: String,
}

impl TestDatabase {
    async fn create() -> Result<Self> {
        let name = format!("natter_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&format!("{POSTGRES}/postgres"))
            .await
            .with_context(|| {
                format!("this test needs PostgreSQL on {POSTGRES} (cargo xtask test starts it)")
            })?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        Ok(Self { name })
    }

    fn url(&self) -> String {
        format!("{POSTGRES}/{}", self.name)
    }

    async fn drop_now(self) -> Result<()> {
        let mut admin = sqlx::PgConnection::connect(&format!("{POSTGRES}/postgres")).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await?;
        Ok(())
    }
}

/// A node of the cluster: one database, one NATS subject prefix, one data directory.
fn node(data_dir: &Path, database_url: &str, bus_prefix: &str) -> Result<RelayProcess> {
    RelayProcess::start(
        data_dir,
        &[
            ("NATTER_DATABASE_URL", database_url),
            ("NATTER_BUS_URL", NATS_URL),
            ("NATTER_BUS_PREFIX", bus_prefix),
        ],
    )
}

/// The next frame of the visitor socket, whatever it is (availability included).
async fn next_any(visitor: &mut VisitorClient) -> Result<ServerFrame> {
    loop {
        let frame = tokio::time::timeout(FRAME_TIMEOUT, visitor.socket.next())
            .await
            .map_err(|_| anyhow!("no frame within {FRAME_TIMEOUT:?}"))?
            .context("the socket closed")??;
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            return Ok(serde_json::from_str(&text)?);
        }
    }
}

/// The agent's console socket on `node`, once it is subscribed.
async fn console(agent: &AgentClient, node: &RelayProcess) -> Result<Socket> {
    let mut socket = agent.socket(node).await?;
    next_agent_frame(&mut socket, |frame| {
        matches!(frame, AgentServerFrame::Waiting { .. }).then_some(())
    })
    .await?;
    Ok(socket)
}

#[tokio::test]
async fn two_relay_processes_share_a_conversation_and_survive_kill_9_of_one() -> Result<()> {
    let database = TestDatabase::create().await?;
    let outcome = conversation_across_nodes_and_kill_9(&database).await;
    database.drop_now().await?;
    outcome
}

async fn conversation_across_nodes_and_kill_9(database: &TestDatabase) -> Result<()> {
    // One data directory: both nodes sign visitor ids with the same secret.key.
    let data = tempfile::tempdir()?;
    let prefix = format!("natter-test-{}", uuid::Uuid::new_v4().simple());
    // Node A first: it creates the secret and the first admin.
    let mut a = node(data.path(), &database.url(), &prefix)?;
    let b = node(data.path(), &database.url(), &prefix)?;

    let agent = AgentClient::login_admin(&b).await?;
    let mut on_b = console(&agent, &b).await?;
    let mut visitor = VisitorClient::connect(&a, None).await?;
    wait_until_agents_online(&mut visitor).await?;

    // Live both ways, and typing, across the nodes.
    let first = visitor.send_text("hello from node A").await?;
    let conversation = first.conversation_id;
    agent_hears(&mut on_b, first.client_id).await?;
    send_frame(&mut visitor.socket, &ClientFrame::Typing { typing: true }).await?;
    next_agent_frame(&mut on_b, |frame| match frame {
        AgentServerFrame::Typing {
            conversation_id,
            agent_id: None,
            typing: true,
            ..
        } if conversation_id == conversation => Some(()),
        _ => None,
    })
    .await
    .context("the agent on node B sees the visitor on node A typing")?;
    reply(&agent, conversation, "hello from node B").await?;
    visitor_hears(&mut visitor, "hello from node B").await?;

    // The visitor sends a burst without waiting; node A dies in the middle of it.
    let burst: Vec<(ClientMessageId, String)> = (0..BURST)
        .map(|n| (ClientMessageId::new_random(), format!("burst {n}")))
        .collect();
    let (first_half, second_half) = burst.split_at(BURST / 2);
    for (client_id, text) in first_half {
        send(&mut visitor, *client_id, text).await?;
    }
    let mut acked = acks(&mut visitor, BURST / 8).await?;
    a.kill()?;
    // Sent into a dead connection: never acknowledged, kept by the widget's outbox.
    for (client_id, text) in second_half {
        let _ = send(&mut visitor, *client_id, text).await;
    }
    acked.extend(acks_until_closed(&mut visitor).await?);
    let last_seq = acked
        .values()
        .map(|message| message.seq)
        .max()
        .unwrap_or(first.seq);

    // The widget reconnects (here: to node B, the survivor) with its highest seq, and resends
    // everything not acknowledged — whether node A had stored it or not.
    let mut resumed =
        VisitorClient::connect_with(&b, "demo", Some(&visitor.token), Some(last_seq)).await?;
    let missed: HashSet<ClientMessageId> = resumed.history.iter().map(|m| m.client_id).collect();
    for (client_id, text) in &burst {
        if !acked.contains_key(client_id) {
            send(&mut resumed, *client_id, text).await?;
        }
    }
    let unacked = BURST - acked.len();
    while acked.len() < BURST {
        if let ServerFrame::Ack { client_id, message } = next_any(&mut resumed).await? {
            acked.insert(client_id, message);
        }
    }
    assert!(
        unacked >= BURST / 2,
        "the second half was never acknowledged"
    );

    // Every message once, seqs without gaps, each ack naming the stored message.
    let detail: ConversationDetail = crate::inbox_support::ok_json(
        agent
            .get(&format!("/v1/agent/conversations/{}", conversation.0))
            .send()
            .await?,
    )
    .await?;
    let stored: Vec<&Message> = detail.messages.iter().map(|m| &m.message).collect();
    let seqs: Vec<u64> = stored.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (1..=stored.len() as u64).collect::<Vec<_>>(),
        "gapless seqs"
    );
    let mut by_client: BTreeMap<String, usize> = BTreeMap::new();
    for message in &stored {
        *by_client
            .entry(message.client_id.0.to_string())
            .or_default() += 1;
    }
    assert!(
        by_client.values().all(|count| *count == 1),
        "a message stored twice"
    );
    for (client_id, text) in &burst {
        let message = stored
            .iter()
            .find(|m| m.client_id == *client_id)
            .with_context(|| format!("{text:?} was lost"))?;
        assert_eq!(&message.text, text);
        assert_eq!(
            acked[client_id].id, message.id,
            "the ack names the stored message"
        );
    }
    assert_eq!(
        stored.len(),
        2 + BURST,
        "the greeting, the reply and the burst"
    );
    // Whatever node A stored but never acknowledged came back in the resumed welcome, and
    // its resend was answered with the stored copy.
    for client_id in &missed {
        assert!(burst.iter().any(|(sent, _)| sent == client_id));
    }
    eprintln!(
        "kill -9: {} acked by node A, {} stored by A unacknowledged, {} resent to B",
        BURST - unacked,
        missed.len(),
        unacked
    );
    Ok(())
}

/// Reads availability frames until the widget on node A hears that an agent (on node B) is
/// online.
async fn wait_until_agents_online(visitor: &mut VisitorClient) -> Result<()> {
    loop {
        if let ServerFrame::Availability {
            agents_online: true,
        } = next_any(visitor)
            .await
            .context("the widget on node A never heard of the agent on node B")?
        {
            return Ok(());
        }
    }
}

async fn agent_hears(on_b: &mut Socket, client_id: ClientMessageId) -> Result<()> {
    next_agent_frame(on_b, |frame| match frame {
        AgentServerFrame::MessageAdded { message } if message.message.client_id == client_id => {
            Some(())
        }
        _ => None,
    })
    .await
    .context("the agent on node B hears the visitor on node A")
}

async fn reply(agent: &AgentClient, conversation: ConversationId, text: &str) -> Result<()> {
    let response = agent
        .post(&format!(
            "/v1/agent/conversations/{}/messages",
            conversation.0
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
    if !response.status().is_success() {
        bail!("reply: {}", response.status());
    }
    Ok(())
}

async fn visitor_hears(visitor: &mut VisitorClient, text: &str) -> Result<()> {
    loop {
        if let ServerFrame::Message { message } = next_any(visitor).await? {
            if message.text == text {
                return Ok(());
            }
        }
    }
}

async fn send(visitor: &mut VisitorClient, client_id: ClientMessageId, text: &str) -> Result<()> {
    send_frame(
        &mut visitor.socket,
        &ClientFrame::Send {
            client_id,
            text: text.into(),
            attachments: vec![],
        },
    )
    .await
}

/// The next `count` acks.
async fn acks(
    visitor: &mut VisitorClient,
    count: usize,
) -> Result<HashMap<ClientMessageId, Message>> {
    let mut acked = HashMap::new();
    while acked.len() < count {
        if let ServerFrame::Ack { client_id, message } = next_any(visitor).await? {
            acked.insert(client_id, message);
        }
    }
    Ok(acked)
}

/// Every ack still arriving on a socket whose node was killed, until it closes.
async fn acks_until_closed(
    visitor: &mut VisitorClient,
) -> Result<HashMap<ClientMessageId, Message>> {
    let mut acked = HashMap::new();
    loop {
        let frame = tokio::time::timeout(FRAME_TIMEOUT, visitor.socket.next())
            .await
            .map_err(|_| anyhow!("the socket of the killed node did not close"))?;
        match frame {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                if let ServerFrame::Ack { client_id, message } = serde_json::from_str(&text)? {
                    acked.insert(client_id, message);
                }
            }
            Some(Ok(_)) => {}
            // The connection died with the process.
            Some(Err(_)) | None => return Ok(acked),
        }
    }
}
