//! The hub: this node's live fan-out. Every socket of this process subscribes here; an event
//! published here reaches them at once and goes out on the [`crate::broker`] to the other
//! nodes, whose events come back in through [`Hub::forward_from_broker`].
//!
//! A subscriber that falls behind is told so ([`HubRecvError::Lagged`]) and resynchronises
//! from the store; nothing that must happen depends on the hub. When the broker drops events
//! from other nodes, every subscriber of this node is told the same, since any of them may have
//! missed something.
//!
//! Events meant for the other nodes themselves rather than their sockets (presence gossip) go
//! to this node's [`NodeListener`], in order with the rest: a socket hearing of a message from
//! node A has already had A's earlier presence news applied.

use std::sync::{Arc, OnceLock, Weak};

use tokio::sync::broadcast;

use crate::broker::{Broker, BrokerRecvError};
use crate::events::{Envelope, Event, NodeId};

/// Events a subscriber may fall behind by before it must resynchronise from the store.
const LOCAL_CAPACITY: usize = 4096;

/// Why a subscription yielded nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum HubRecvError {
    /// The subscriber fell behind and missed events: resynchronise from the store.
    Lagged,
    /// The hub is gone (shutdown).
    Closed,
}

/// A subscriber's end of the hub.
pub struct Subscription {
    receiver: broadcast::Receiver<Arc<Event>>,
    /// Bumped when the broker lost events from other nodes.
    missed: tokio::sync::watch::Receiver<u64>,
}

impl Subscription {
    pub async fn recv(&mut self) -> Result<Arc<Event>, HubRecvError> {
        tokio::select! {
            // Events already queued come first: the resync covers what was lost, not them.
            biased;
            received = self.receiver.recv() => match received {
                Ok(event) => Ok(event),
                Err(broadcast::error::RecvError::Lagged(_)) => Err(HubRecvError::Lagged),
                Err(broadcast::error::RecvError::Closed) => Err(HubRecvError::Closed),
            },
            changed = self.missed.changed() => match changed {
                Ok(()) => Err(HubRecvError::Lagged),
                Err(_) => Err(HubRecvError::Closed),
            },
        }
    }
}

/// Hears what other nodes tell this node (not its sockets): presence gossip.
pub trait NodeListener: Send + Sync {
    /// Another node's event, in the order the broker delivered it.
    fn heard(&self, from: NodeId, event: &Event);
    /// The broker lost events from other nodes: anything learnt from them may be stale.
    fn missed(&self);
}

pub struct Hub {
    node: NodeId,
    local: broadcast::Sender<Arc<Event>>,
    missed: tokio::sync::watch::Sender<u64>,
    broker: Arc<dyn Broker>,
    // Weak: the listener (presence) holds the hub to publish.
    listener: OnceLock<Weak<dyn NodeListener>>,
}

impl Hub {
    pub fn new(node: NodeId, broker: Arc<dyn Broker>) -> Arc<Self> {
        Arc::new(Self {
            node,
            local: broadcast::channel(LOCAL_CAPACITY).0,
            missed: tokio::sync::watch::channel(0).0,
            broker,
            listener: OnceLock::new(),
        })
    }

    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Delivers an event to this node's subscribers and sends it to the other nodes. Never
    /// blocks on slow subscribers.
    pub fn publish(&self, event: Event) {
        let event = Arc::new(event);
        self.broker.publish(Envelope {
            node: self.node,
            event: event.clone(),
        });
        self.deliver(event);
    }

    /// Sends an event to the other nodes only (presence gossip: this node's sockets hear of
    /// presence from this node's [`NodeListener`], already merged).
    pub fn publish_to_nodes(&self, event: Event) {
        self.broker.publish(Envelope {
            node: self.node,
            event: Arc::new(event),
        });
    }

    /// Delivers an event to this node's subscribers only (what this node concluded from what
    /// every node told it, such as someone's presence across nodes).
    pub fn publish_here(&self, event: Event) {
        self.deliver(Arc::new(event));
    }

    /// Sets who hears the other nodes' presence gossip. Once per hub.
    pub fn set_node_listener(&self, listener: Weak<dyn NodeListener>) {
        if self.listener.set(listener).is_err() {
            tracing::warn!("the hub already has a node listener");
        }
    }

    pub fn subscribe(&self) -> Subscription {
        Subscription {
            receiver: self.local.subscribe(),
            missed: self.missed.subscribe(),
        }
    }

    fn deliver(&self, event: Arc<Event>) {
        // An error only means nobody is subscribed right now, which is fine.
        let _ = self.local.send(event);
    }

    fn listener(&self) -> Option<Arc<dyn NodeListener>> {
        self.listener.get().and_then(Weak::upgrade)
    }

    fn heard_from_other_node(&self, envelope: &Envelope) {
        match envelope.event.as_ref() {
            event @ Event::Presence(_) => {
                if let Some(listener) = self.listener() {
                    listener.heard(envelope.node, event);
                }
            }
            _ => self.deliver(envelope.event.clone()),
        }
    }

    pub(crate) fn missed_from_other_nodes(&self, missed: u64) {
        crate::metrics::bus_lost(missed);
        tracing::warn!(
            missed,
            "this node missed events from other nodes; resynchronising"
        );
        if let Some(listener) = self.listener() {
            listener.missed();
        }
        self.missed
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// Delivers the other nodes' events to this node's subscribers until the broker closes or
    /// `shutdown` flips. Subscribes to the broker at once, so nothing published after this
    /// call is missed; run the returned future as one background task per node.
    pub fn forward_from_broker(
        self: Arc<Self>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut feed = self.broker.subscribe();
        async move {
            loop {
                tokio::select! {
                    received = feed.recv() => match received {
                        Ok(envelope) if envelope.node != self.node => self.heard_from_other_node(&envelope),
                        Ok(_) => {}
                        Err(BrokerRecvError::Lagged(missed)) => self.missed_from_other_nodes(missed),
                        Err(BrokerRecvError::Closed) => return,
                    },
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::MemoryBroker;
    use natter_protocol::ConversationId;

    fn typing() -> Event {
        Event::ReadByAgents {
            conversation_id: ConversationId(uuid::Uuid::nil()),
            up_to_seq: 3,
        }
    }

    #[tokio::test]
    async fn an_event_reaches_this_node_once_and_the_other_node_once() {
        let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::default());
        let (a, b) = (
            Hub::new(NodeId::random(), broker.clone()),
            Hub::new(NodeId::random(), broker.clone()),
        );
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        let mut on_a = a.subscribe();
        let mut on_b = b.subscribe();
        tokio::spawn(a.clone().forward_from_broker(shutdown.clone()));
        tokio::spawn(b.clone().forward_from_broker(shutdown));
        a.publish(typing());
        assert_eq!(*on_a.recv().await.unwrap(), typing());
        assert_eq!(*on_b.recv().await.unwrap(), typing());
        // Nothing else: a's own envelope coming back from the broker is not delivered twice.
        b.publish(Event::Inbox(crate::events::InboxEvent::AgentsChanged));
        assert_eq!(
            *on_a.recv().await.unwrap(),
            Event::Inbox(crate::events::InboxEvent::AgentsChanged)
        );
    }
}
