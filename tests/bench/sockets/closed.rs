//! Closed loop: one visitor sends one message at a time and waits for its ack (and, in the
//! second half, for the agent socket to show it) before sending the next. The latency of a
//! single message on an otherwise quiet relay.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use natter_protocol::agent::AgentServerFrame;
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::ClientMessageId;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::load::connect_visitor;
use crate::relay::connect_agent;
use crate::stats::{Samples, Summary};
use crate::Socket;

const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// Send → ack and visitor → agent, `messages` of each, one at a time.
pub async fn run(
    visitor_addr: &str,
    agent_addr: &str,
    messages: usize,
) -> Result<(Summary, Summary)> {
    let mut visitor = connect_visitor(visitor_addr).await?;
    let mut agent = connect_agent(agent_addr).await?;
    let mut acks = Samples::default();
    for n in 0..messages {
        let (client_id, started) = send(&mut visitor, format!("closed loop {n}")).await?;
        wait_for_ack(&mut visitor, client_id).await?;
        acks.push(started.elapsed());
    }
    let mut deliveries = Samples::default();
    for n in 0..messages {
        let (client_id, started) = send(&mut visitor, format!("to the agent {n}")).await?;
        wait_for_agent(&mut agent, client_id).await?;
        deliveries.push(started.elapsed());
        // The ack, so the visitor socket does not back up.
        wait_for_ack(&mut visitor, client_id).await?;
    }
    Ok((acks.summary(), deliveries.summary()))
}

async fn send(socket: &mut Socket, text: String) -> Result<(ClientMessageId, Instant)> {
    let client_id = ClientMessageId::new_random();
    let frame = ClientFrame::Send {
        client_id,
        text,
        attachments: vec![],
    };
    let json = serde_json::to_string(&frame)?;
    let started = Instant::now();
    socket.send(WsMessage::text(json)).await?;
    Ok((client_id, started))
}

async fn wait_for_ack(socket: &mut Socket, client_id: ClientMessageId) -> Result<()> {
    loop {
        let text = next_text(socket).await?;
        if let Ok(ServerFrame::Ack {
            client_id: acked, ..
        }) = serde_json::from_str(&text)
        {
            if acked == client_id {
                return Ok(());
            }
        }
    }
}

async fn wait_for_agent(socket: &mut Socket, client_id: ClientMessageId) -> Result<()> {
    loop {
        let text = next_text(socket).await?;
        if let Ok(AgentServerFrame::MessageAdded { message }) = serde_json::from_str(&text) {
            if message.message.client_id == client_id {
                return Ok(());
            }
        }
    }
}

async fn next_text(socket: &mut Socket) -> Result<String> {
    loop {
        let frame = tokio::time::timeout(FRAME_TIMEOUT, socket.next())
            .await?
            .context("socket ended")??;
        if let WsMessage::Text(text) = frame {
            return Ok(text.to_string());
        }
    }
}
