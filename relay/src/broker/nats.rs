//! The NATS broker: carries [`Envelope`]s between relay processes through a NATS server
//! (`bus_url = "nats://…"`), so a visitor on one node and an agent on another see each other
//! live.
//!
//! # One subject
//! Every envelope goes on `<prefix>.events` (`natter.events`; tests use a random prefix so runs
//! sharing one server never meet). Subjects per conversation or per site would only pay if a
//! node subscribed by interest, but every hub takes every envelope: its agent sockets follow
//! all conversations of their site, its visitor sockets any conversation, and the envelope
//! carries what the sockets filter on (site, conversation, origin). So one subject means one
//! subscription per node, one publish per event, and NATS keeps each node's order on it.
//!
//! # Delivery
//! Core NATS, not JetStream: at most once. An envelope published while a node is disconnected,
//! or dropped because the node reads too slowly, is gone; the store stays the source of truth
//! and sockets resynchronise from it by seq. Such gaps reach the feed as
//! [`BrokerRecvError::Lagged`]: one per envelope NATS dropped for a slow consumer, one per
//! reconnect (its outage may have hidden any number). Reconnecting is async-nats's job.
//!
//! A node hears its own envelopes back (NATS echoes them, which lets two nodes in one process
//! share a connection); the hub skips them, as it already delivered them locally.
//!
//! Publishing never waits: [`Broker::publish`] queues the envelope for one publisher task, and
//! when that queue is full (NATS down or slower than the node) the envelope is dropped and
//! logged once per outage.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::{broadcast, mpsc};

use super::{Broker, BrokerFeed, BrokerRecvError};
use crate::events::Envelope;

/// The subject prefix of a production deployment.
pub const DEFAULT_PREFIX: &str = "natter";

/// Envelopes waiting for the publisher task before new ones are dropped: a burst rides
/// through a short stall, a long outage does not grow memory.
const PUBLISH_QUEUE: usize = 4096;

/// What this node's feeds may fall behind by, as in the memory broker.
const FEED_CAPACITY: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error(
        "the NATS subject prefix {0:?} must be dot-separated words of letters, digits, - and _"
    )]
    Prefix(String),
    #[error("could not connect to NATS: {0}")]
    Connect(#[from] async_nats::ConnectError),
    #[error("could not subscribe on NATS: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
    #[error("NATS did not confirm the subscription: {0}")]
    Flush(#[from] async_nats::client::FlushError),
}

/// What reaches this node's feeds: an envelope, or word of a gap or of the end.
#[derive(Debug, Clone)]
enum Delivery {
    Envelope(Arc<Envelope>),
    Missed(u64),
    Closed,
}

/// The broker between relay processes.
pub struct NatsBroker {
    publisher: Publisher,
    feed: broadcast::Sender<Delivery>,
    /// The task reading the subscription; it holds the subscription open, so it ends with us.
    receiver: tokio::task::AbortHandle,
}

impl NatsBroker {
    /// Connects, subscribes to `<prefix>.events` and waits until the server has the
    /// subscription, so nothing another node publishes after this returns is missed.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, NatsError> {
        let subject = events_subject(prefix)?;
        let feed = broadcast::channel(FEED_CAPACITY).0;
        let disconnected = Arc::new(AtomicBool::new(false));
        let client = async_nats::ConnectOptions::new()
            .name("natter-relay")
            .event_callback({
                let feed = feed.clone();
                move |event| {
                    on_event(&feed, &disconnected, event);
                    std::future::ready(())
                }
            })
            .connect(url)
            .await?;
        let subscriber = client.subscribe(subject.clone()).await?;
        // The server answers the ping only after it registered the subscription.
        client.flush().await?;
        let receiver = tokio::spawn(receive(subscriber, feed.clone())).abort_handle();
        let (queue, envelopes) = mpsc::channel(PUBLISH_QUEUE);
        tokio::spawn(publish_all(client, subject.into(), envelopes));
        Ok(Self {
            publisher: Publisher::new(queue),
            feed,
            receiver,
        })
    }
}

impl Drop for NatsBroker {
    fn drop(&mut self) {
        // The publisher task ends by itself once its queue's sender (ours) is gone.
        self.receiver.abort();
    }
}

impl Broker for NatsBroker {
    fn publish(&self, envelope: Envelope) {
        self.publisher.offer(envelope);
    }

    fn subscribe(&self) -> Box<dyn BrokerFeed> {
        Box::new(NatsFeed(self.feed.subscribe()))
    }
}

/// `<prefix>.events`, if the prefix is plain subject words (no wildcards, no empty tokens).
fn events_subject(prefix: &str) -> Result<String, NatsError> {
    let plain_word = |word: &str| {
        !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if prefix.split('.').all(plain_word) {
        Ok(format!("{prefix}.events"))
    } else {
        Err(NatsError::Prefix(prefix.to_owned()))
    }
}

/// Turns what async-nats reports into gaps on the feeds. The first `Connected` is the initial
/// connection; one after a `Disconnected` ends an outage whose envelopes are lost.
fn on_event(
    feed: &broadcast::Sender<Delivery>,
    disconnected: &AtomicBool,
    event: async_nats::Event,
) {
    match event {
        async_nats::Event::Disconnected => {
            disconnected.store(true, Ordering::SeqCst);
            tracing::warn!("lost the connection to NATS; reconnecting");
        }
        async_nats::Event::Connected => {
            if disconnected.swap(false, Ordering::SeqCst) {
                tracing::info!("reconnected to NATS");
                let _ = feed.send(Delivery::Missed(1));
            }
        }
        async_nats::Event::SlowConsumer(_) => {
            let _ = feed.send(Delivery::Missed(1));
        }
        other => tracing::info!(event = %other, "NATS"),
    }
}

/// Reads the subscription into this node's feeds until the connection closes for good.
async fn receive(mut subscriber: async_nats::Subscriber, feed: broadcast::Sender<Delivery>) {
    while let Some(message) = subscriber.next().await {
        let delivery = match serde_json::from_slice::<Envelope>(&message.payload) {
            Ok(envelope) => Delivery::Envelope(Arc::new(envelope)),
            Err(error) => {
                // A node of another version, say: its event is lost to this node.
                tracing::warn!(%error, "an envelope from NATS this node cannot read");
                Delivery::Missed(1)
            }
        };
        // An error only means no feed is open right now.
        let _ = feed.send(delivery);
    }
    tracing::warn!("the NATS subscription ended");
    let _ = feed.send(Delivery::Closed);
}

/// The publisher task: serialises and publishes each queued envelope in order.
async fn publish_all(
    client: async_nats::Client,
    subject: async_nats::Subject,
    mut envelopes: mpsc::Receiver<Envelope>,
) {
    while let Some(envelope) = envelopes.recv().await {
        let payload = match serde_json::to_vec(&envelope) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::warn!(%error, "an envelope could not be serialised; dropped");
                continue;
            }
        };
        if let Err(error) = client.publish(subject.clone(), payload.into()).await {
            tracing::warn!(%error, "NATS refused an envelope; dropped");
        }
    }
}

/// The sync side of publishing: hands envelopes to the publisher task without waiting.
struct Publisher {
    queue: mpsc::Sender<Envelope>,
    /// Set while envelopes are being dropped, so an outage is logged once, not per envelope.
    dropping: AtomicBool,
}

impl Publisher {
    fn new(queue: mpsc::Sender<Envelope>) -> Self {
        Self {
            queue,
            dropping: AtomicBool::new(false),
        }
    }

    fn offer(&self, envelope: Envelope) {
        match self.queue.try_send(envelope) {
            Ok(()) => {
                if self.dropping.swap(false, Ordering::Relaxed) {
                    tracing::info!("NATS takes envelopes again");
                }
            }
            Err(_) => {
                if !self.dropping.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "NATS is not taking envelopes; dropping them until it does \
                         (sockets resynchronise from the store)"
                    );
                }
            }
        }
    }
}

struct NatsFeed(broadcast::Receiver<Delivery>);

#[async_trait::async_trait]
impl BrokerFeed for NatsFeed {
    async fn recv(&mut self) -> Result<Arc<Envelope>, BrokerRecvError> {
        match self.0.recv().await {
            Ok(Delivery::Envelope(envelope)) => Ok(envelope),
            Ok(Delivery::Missed(missed)) | Err(broadcast::error::RecvError::Lagged(missed)) => {
                Err(BrokerRecvError::Lagged(missed))
            }
            Ok(Delivery::Closed) | Err(broadcast::error::RecvError::Closed) => {
                Err(BrokerRecvError::Closed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Event, InboxEvent, NodeId};

    fn envelope() -> Envelope {
        Envelope {
            node: NodeId::random(),
            event: Arc::new(Event::Inbox(InboxEvent::AgentsChanged)),
        }
    }

    #[test]
    fn the_prefix_must_be_plain_subject_words() {
        assert_eq!(events_subject("natter").unwrap(), "natter.events");
        assert_eq!(events_subject("t-1.run_2").unwrap(), "t-1.run_2.events");
        for bad in ["", "a b", "a.>", "a.*", ".a", "a..b", "a."] {
            assert!(events_subject(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[tokio::test]
    async fn publishing_drops_instead_of_waiting_when_the_queue_is_full() {
        let (queue, mut envelopes) = mpsc::channel(1);
        let publisher = Publisher::new(queue);
        publisher.offer(envelope());
        publisher.offer(envelope());
        assert!(publisher.dropping.load(Ordering::Relaxed));
        assert!(envelopes.recv().await.is_some());
        publisher.offer(envelope());
        assert!(!publisher.dropping.load(Ordering::Relaxed), "taking again");
    }

    #[tokio::test]
    async fn slow_consumer_drops_and_reconnects_reach_the_feed_as_gaps() {
        let feed = broadcast::channel(8).0;
        let mut receiver = NatsFeed(feed.subscribe());
        let disconnected = AtomicBool::new(false);
        // The initial connection is no gap.
        on_event(&feed, &disconnected, async_nats::Event::Connected);
        on_event(&feed, &disconnected, async_nats::Event::SlowConsumer(1));
        assert_eq!(
            receiver.recv().await.err(),
            Some(BrokerRecvError::Lagged(1))
        );
        on_event(&feed, &disconnected, async_nats::Event::Disconnected);
        on_event(&feed, &disconnected, async_nats::Event::Connected);
        assert_eq!(
            receiver.recv().await.err(),
            Some(BrokerRecvError::Lagged(1))
        );
        feed.send(Delivery::Envelope(Arc::new(envelope()))).unwrap();
        assert!(receiver.recv().await.is_ok());
        feed.send(Delivery::Closed).unwrap();
        assert_eq!(receiver.recv().await.err(), Some(BrokerRecvError::Closed));
    }
}
