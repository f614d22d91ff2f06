//! The hub: this node's live fan-out. Every socket of this process subscribes here; an event
//! published here reaches them at once and goes out on the [`crate::broker`] to the other
//! nodes, whose events come back in through [`Hub::forward_from_broker`].
//!
//! A subscriber that falls behind is told so ([`HubRecvError::Lagged`]) and resynchronises
//! from the store; nothing that must happen depends on the hub.

use std::sync::Arc;

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
}

impl Subscription {
    pub async fn recv(&mut self) -> Result<Arc<Event>, HubRecvError> {
        match self.receiver.recv().await {
            Ok(event) => Ok(event),
            Err(broadcast::error::RecvError::Lagged(_)) => Err(HubRecvError::Lagged),
            Err(broadcast::error::RecvError::Closed) => Err(HubRecvError::Closed),
        }
    }
}

pub struct Hub {
    node: NodeId,
    local: broadcast::Sender<Arc<Event>>,
    broker: Arc<dyn Broker>,
}

impl Hub {
    pub fn new(node: NodeId, broker: Arc<dyn Broker>) -> Arc<Self> {
        Arc::new(Self {
            node,
            local: broadcast::channel(LOCAL_CAPACITY).0,
            broker,
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

    pub fn subscribe(&self) -> Subscription {
        Subscription {
            receiver: self.local.subscribe(),
        }
    }

    fn deliver(&self, event: Arc<Event>) {
        // An error only means nobody is subscribed right now, which is fine.
        let _ = self.local.send(event);
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
                        Ok(envelope) if envelope.node != self.node => {
                            self.deliver(envelope.event.clone());
                        }
                        Ok(_) => {}
                        Err(BrokerRecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "this node missed events from other nodes");
                        }
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
