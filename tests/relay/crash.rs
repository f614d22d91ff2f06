//! `kill -9` of the relay process while 50 visitors send (R2, issue 15), several rounds on the
//! same SQLite data: the harness restarts the real binary each time, every visitor comes back
//! with its cookie and its last seq, and resends what was never acknowledged with the same
//! client id, as the widget's outbox does. At the end every message ever sent is stored
//! exactly once, each acknowledged one with the seq its ack named, and every conversation's
//! seqs run 1, 2, 3 … without a gap.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::{ClientMessageId, ConversationId};
use natter_relay::config::Config;

use crate::process_support::RelayProcess;
use crate::support::{send_frame, Endpoint, VisitorClient};

/// Visitors sending at once.
const VISITORS: usize = 50;
/// Rounds that end with `kill -9`.
const ROUNDS: usize = 3;
/// New messages each visitor sends per round at most (so a round is bounded even if the kill
/// came late).
const PER_ROUND: usize = 30;
/// Acknowledgements in a round after which the relay is killed: about a third of the way in,
/// so most visitors have a message in flight.
const KILL_AFTER_ACKS: usize = VISITORS * PER_ROUND / 3;
/// How long a round may take to reach [`KILL_AFTER_ACKS`] before the test gives up.
const ROUND_TIMEOUT: Duration = Duration::from_secs(120);

/// A relay process's address, shared by the visitor tasks.
#[derive(Clone, Copy)]
struct At(SocketAddr);

impl Endpoint for At {
    fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.0)
    }

    fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.0)
    }
}

/// What one visitor's outbox knows across rounds.
#[derive(Default)]
struct Outbox {
    /// The signed visitor id (the cookie).
    token: Option<String>,
    /// The highest seq this visitor has seen acknowledged.
    last_seq: u64,
    conversation: Option<ConversationId>,
    /// Every acknowledged message, with the seq its ack named.
    acked: HashMap<ClientMessageId, u64>,
    /// Sent, never acknowledged: resent first on the next connection.
    pending: Vec<ClientMessageId>,
}

impl Outbox {
    /// Connects, resends what is pending, then sends up to `new` new messages one after the
    /// other, until done or the socket dies. Returns itself for the next round.
    async fn run(mut self, at: At, new: usize, acks: Arc<AtomicUsize>) -> Self {
        let Ok(mut tab) =
            VisitorClient::connect_with(&at, "demo", self.token.as_deref(), Some(self.last_seq))
                .await
        else {
            return self;
        };
        self.token = Some(tab.token.clone());
        let mut queue: Vec<ClientMessageId> = std::mem::take(&mut self.pending);
        queue.extend((0..new).map(|_| ClientMessageId::new_random()));
        let mut queue = queue.into_iter();
        while let Some(client_id) = queue.next() {
            match self.send(&mut tab, client_id).await {
                Ok(()) => {
                    acks.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    // The relay died: this one and every later one wait for the next round.
                    self.pending.push(client_id);
                    self.pending.extend(queue);
                    break;
                }
            }
        }
        self
    }

    async fn send(&mut self, tab: &mut VisitorClient, client_id: ClientMessageId) -> Result<()> {
        let frame = ClientFrame::Send {
            client_id,
            text: format!("message {client_id:?}"),
            attachments: vec![],
        };
        send_frame(&mut tab.socket, &frame).await?;
        loop {
            match tab.next().await? {
                ServerFrame::Ack {
                    client_id: id,
                    message,
                } if id == client_id => {
                    if let Some(earlier) = self.acked.insert(client_id, message.seq) {
                        assert_eq!(earlier, message.seq, "a resend names the stored seq");
                    }
                    self.last_seq = self.last_seq.max(message.seq);
                    self.conversation = Some(message.conversation_id);
                    return Ok(());
                }
                // The welcome's catch-up (a message stored just before the kill) and
                // availability: not what this loop waits for.
                ServerFrame::Message { .. } | ServerFrame::Availability { .. } => {}
                other => bail!("unexpected frame {other:?}"),
            }
        }
    }
}

/// Runs every outbox once against the relay at `at`; `kill` (when given) is called once
/// [`KILL_AFTER_ACKS`] messages were acknowledged, while the others are still sending.
async fn round(
    outboxes: Vec<Outbox>,
    at: At,
    new: usize,
    kill: Option<&mut RelayProcess>,
) -> Result<(Vec<Outbox>, usize)> {
    let acks = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = outboxes
        .into_iter()
        .map(|outbox| tokio::spawn(outbox.run(at, new, Arc::clone(&acks))))
        .collect();
    if let Some(relay) = kill {
        let reached = tokio::time::timeout(ROUND_TIMEOUT, async {
            while acks.load(Ordering::Relaxed) < KILL_AFTER_ACKS {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        reached.context("the visitors did not get far enough to be cut off")?;
        relay.kill()?;
    }
    let mut back = Vec::with_capacity(tasks.len());
    for task in tasks {
        back.push(task.await?);
    }
    Ok((back, acks.load(Ordering::Relaxed)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_fifty_visitors_send_loses_and_duplicates_nothing() -> Result<()> {
    let data = tempfile::tempdir()?;
    let mut outboxes: Vec<Outbox> = (0..VISITORS).map(|_| Outbox::default()).collect();
    let mut in_flight_at_kills = 0;
    for _ in 0..ROUNDS {
        let mut relay = RelayProcess::start(data.path(), &[])?;
        let at = At(relay.addr);
        let (back, _) = round(outboxes, at, PER_ROUND, Some(&mut relay)).await?;
        outboxes = back;
        in_flight_at_kills += outboxes.iter().filter(|o| !o.pending.is_empty()).count();
    }
    // The last start: everything pending is resent and acknowledged; then a clean stop.
    let mut relay = RelayProcess::start(data.path(), &[])?;
    let (outboxes, _) = round(outboxes, At(relay.addr), 0, None).await?;
    assert!(relay.terminate()?, "the relay stops cleanly");
    assert!(
        outboxes.iter().all(|o| o.pending.is_empty()),
        "every message was acknowledged in the end"
    );

    let config = Config {
        data_dir: data.path().to_path_buf(),
        ..Config::default()
    };
    let store = natter_relay::store::open(&config.database_url()).await?;
    let (mut messages, mut duplicates) = (0, 0);
    for outbox in &outboxes {
        let conversation = outbox.conversation.context("every visitor wrote")?;
        let stored = store.messages_after(conversation, 0, 100_000).await?;
        let seqs: Vec<u64> = stored.iter().map(|m| m.seq).collect();
        let expected: Vec<u64> = (1..=stored.len() as u64).collect();
        assert_eq!(seqs, expected, "seqs without a gap");
        let ids: HashSet<ClientMessageId> = stored.iter().map(|m| m.client_id).collect();
        duplicates += stored.len() - ids.len();
        let written: HashSet<&ClientMessageId> = outbox.acked.keys().collect();
        assert_eq!(
            ids.iter().collect::<HashSet<_>>(),
            written,
            "exactly the messages written are stored"
        );
        for message in &stored {
            assert_eq!(
                outbox.acked.get(&message.client_id),
                Some(&message.seq),
                "stored with the seq its ack named"
            );
        }
        messages += stored.len();
    }
    assert_eq!(duplicates, 0);
    eprintln!(
        "kill -9: {ROUNDS} rounds, {VISITORS} visitors, {messages} messages stored, \
         {in_flight_at_kills} visitors cut off mid-send, 0 lost, {duplicates} duplicated"
    );
    Ok(())
}
