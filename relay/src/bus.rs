//! The bus: fan-out of stored events to every socket that shows them.
//!
//! A message enters through one door (visitor socket, agent API), is stored by
//! `conversations`, then published here; visitor and agent sockets are subscribers. The
//! in-process implementation is a `tokio::sync::broadcast` channel; a NATS implementation for
//! several relay nodes fits behind the same trait.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use natter_protocol::agent::ConversationSummary;
use natter_protocol::{AgentId, ConversationId, Message, Seq};
use tokio::sync::broadcast;

use crate::identity::VisitorId;

/// Events a subscriber may fall behind by before it must resynchronise from the store.
const IN_PROCESS_CAPACITY: usize = 4096;

/// Identifies one socket, so it can skip the events it caused itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(pub u64);

impl ConnectionId {
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Something that happened, as subscribers need to hear it.
// Events travel in an `Arc` (one allocation per publish), so boxing the large variant would
// only add a second one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum BusEvent {
    /// A message was stored.
    MessageStored {
        site: String,
        visitor_id: VisitorId,
        conversation: ConversationSummary,
        message: Message,
        /// The socket that sent it, if it came from one (it has already been acknowledged).
        origin: Option<ConnectionId>,
        /// An internal comment (I7): for agents only, never for visitor sockets.
        internal: bool,
    },
    /// Someone started or stopped typing in a conversation (W7). Never stored.
    Typing {
        conversation_id: ConversationId,
        typist: Typist,
        typing: bool,
    },
    /// Agents have read the conversation up to `up_to_seq` (W4 "read" in the widget).
    ReadByAgents {
        conversation_id: ConversationId,
        up_to_seq: Seq,
    },
    /// Something in the inbox changed that only agent sockets show.
    Inbox(crate::inbox::InboxEvent),
}

/// Who is typing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typist {
    /// The conversation's visitor: shown to agents.
    Visitor,
    /// An agent: shown to the visitor and to the other agents.
    Agent { agent_id: AgentId, name: String },
}

/// Why a subscription yielded nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum BusRecvError {
    /// The subscriber fell behind and missed events: resynchronise from the store.
    Lagged,
    /// The bus is gone (shutdown).
    Closed,
}

/// A subscriber's end of the bus.
pub struct Subscription {
    receiver: broadcast::Receiver<Arc<BusEvent>>,
}

impl Subscription {
    pub async fn recv(&mut self) -> Result<Arc<BusEvent>, BusRecvError> {
        match self.receiver.recv().await {
            Ok(event) => Ok(event),
            Err(broadcast::error::RecvError::Lagged(_)) => Err(BusRecvError::Lagged),
            Err(broadcast::error::RecvError::Closed) => Err(BusRecvError::Closed),
        }
    }
}

pub trait Bus: Send + Sync + 'static {
    /// Publishes an event to every subscriber. Never blocks on slow subscribers.
    fn publish(&self, event: BusEvent);
    fn subscribe(&self) -> Subscription;
}

/// The single-node bus.
pub struct InProcessBus {
    sender: broadcast::Sender<Arc<BusEvent>>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(IN_PROCESS_CAPACITY).0,
        }
    }
}

impl Bus for InProcessBus {
    fn publish(&self, event: BusEvent) {
        // An error only means nobody is subscribed right now, which is fine.
        let _ = self.sender.send(Arc::new(event));
    }

    fn subscribe(&self) -> Subscription {
        Subscription {
            receiver: self.sender.subscribe(),
        }
    }
}
