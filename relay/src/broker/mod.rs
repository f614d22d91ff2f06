//! The broker: carries [`Envelope`]s between relay nodes, so a visitor on one node and an agent
//! on another see each other live. Behind a trait: [`MemoryBroker`] connects the hubs of one
//! process (a single node, or several nodes in one test); [`nats::NatsBroker`] connects relay
//! processes through a NATS server (`bus_url = "nats://…"`).
//!
//! A broker may drop envelopes; every socket resynchronises from the store by seq.

pub mod nats;

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::events::Envelope;

/// Envelopes a node may fall behind by before it misses some.
const MEMORY_CAPACITY: usize = 4096;

/// Why a broker subscription yielded nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum BrokerRecvError {
    /// Envelopes were missed; the node goes on with the next ones.
    Lagged(u64),
    /// The broker is gone.
    Closed,
}

/// One node's feed of every envelope published on the broker (its own included).
#[async_trait::async_trait]
pub trait BrokerFeed: Send {
    async fn recv(&mut self) -> Result<Arc<Envelope>, BrokerRecvError>;
}

pub trait Broker: Send + Sync + 'static {
    /// Sends an envelope to every node. Never blocks on slow nodes.
    fn publish(&self, envelope: Envelope);
    fn subscribe(&self) -> Box<dyn BrokerFeed>;
}

/// The in-process broker.
pub struct MemoryBroker {
    sender: broadcast::Sender<Arc<Envelope>>,
}

impl Default for MemoryBroker {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(MEMORY_CAPACITY).0,
        }
    }
}

struct MemoryFeed(broadcast::Receiver<Arc<Envelope>>);

#[async_trait::async_trait]
impl BrokerFeed for MemoryFeed {
    async fn recv(&mut self) -> Result<Arc<Envelope>, BrokerRecvError> {
        self.0.recv().await.map_err(|error| match error {
            broadcast::error::RecvError::Lagged(missed) => BrokerRecvError::Lagged(missed),
            broadcast::error::RecvError::Closed => BrokerRecvError::Closed,
        })
    }
}

impl Broker for MemoryBroker {
    fn publish(&self, envelope: Envelope) {
        // An error only means no node is subscribed right now.
        let _ = self.sender.send(Arc::new(envelope));
    }

    fn subscribe(&self) -> Box<dyn BrokerFeed> {
        Box::new(MemoryFeed(self.sender.subscribe()))
    }
}
