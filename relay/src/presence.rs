//! Who is online (I3, I15): agents by their console sockets, visitors by their widget sockets.
//!
//! A socket registers and holds a [`PresenceGuard`]; when the last socket of someone closes
//! they stay online for a grace period (`Limits::agent_presence_grace_secs`,
//! `visitor_presence_grace_secs`), so a page reload or a short network drop does not flicker
//! the dots. Changes are published on the hub as [`InboxEvent`]s for the agent sockets.
//!
//! The doors see presence through the [`Presence`] trait. [`LocalPresence`] knows this node's
//! sockets; a presence shared by several nodes (through the broker, the PostgreSQL + NATS
//! issue) fits the same trait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use natter_protocol::{AgentId, ConversationId, UnixMillis};

use crate::clock::Clock;
use crate::events::{Event, InboxEvent};
use crate::hub::Hub;
use crate::identity::VisitorId;

/// Whose presence: an agent's or a visitor's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Agent(AgentId),
    Visitor(VisitorId),
}

#[derive(Debug, Default)]
struct Entry {
    sockets: usize,
    online_since: Option<UnixMillis>,
    /// Bumped on every disconnect, so a stale grace timer does nothing.
    epoch: u64,
    site: String,
    conversation: Option<ConversationId>,
}

/// Who is online, as the doors ask it.
pub trait Presence: Send + Sync + 'static {
    /// An agent's console socket opened: online while the guard lives, plus the grace period.
    fn agent_connected(self: Arc<Self>, agent: AgentId) -> PresenceGuard;

    /// A visitor's widget socket said hello.
    fn visitor_connected(
        self: Arc<Self>,
        site: &str,
        visitor: &VisitorId,
        conversation: Option<ConversationId>,
    ) -> PresenceGuard;

    /// A guard was dropped (its socket closed).
    fn disconnected(self: Arc<Self>, key: Key);

    /// Since when the agent is online, if they are.
    fn agent_online_since(&self, agent: AgentId) -> Option<UnixMillis>;

    /// Whether any agent is online (W6: the widget's availability).
    fn any_agent_online(&self) -> bool;

    /// Whether the visitor (or another device showing this conversation) is online.
    fn visitor_online(&self, visitor: Option<&VisitorId>, conversation: ConversationId) -> bool;
}

/// This node's presence: the sockets it holds.
pub struct LocalPresence {
    hub: Arc<Hub>,
    clock: Arc<dyn Clock>,
    agent_grace: Duration,
    visitor_grace: Duration,
    entries: Mutex<HashMap<Key, Entry>>,
}

/// Keeps someone online while it lives.
pub struct PresenceGuard {
    presence: Arc<dyn Presence>,
    key: Key,
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        self.presence.clone().disconnected(self.key.clone());
    }
}

impl LocalPresence {
    pub fn new(
        hub: Arc<Hub>,
        clock: Arc<dyn Clock>,
        agent_grace: Duration,
        visitor_grace: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            hub,
            clock,
            agent_grace,
            visitor_grace,
            entries: Mutex::new(HashMap::new()),
        })
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        // A panic while holding the lock leaves plain counters behind: keep using them.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn connected(
        self: &Arc<Self>,
        key: Key,
        site: String,
        conversation: Option<ConversationId>,
    ) -> PresenceGuard {
        let came_online = {
            let mut entries = self.entries();
            let entry = entries.entry(key.clone()).or_default();
            entry.sockets += 1;
            entry.site = site;
            if conversation.is_some() {
                entry.conversation = conversation;
            }
            if entry.online_since.is_none() {
                entry.online_since = Some(self.clock.now());
                true
            } else {
                false
            }
        };
        if came_online {
            self.publish(&key);
        }
        PresenceGuard {
            presence: self.clone() as Arc<dyn Presence>,
            key,
        }
    }

    fn went_away(self: &Arc<Self>, key: Key) {
        let epoch = {
            let mut entries = self.entries();
            let Some(entry) = entries.get_mut(&key) else {
                return;
            };
            entry.sockets = entry.sockets.saturating_sub(1);
            if entry.sockets > 0 {
                return;
            }
            entry.epoch += 1;
            entry.epoch
        };
        let grace = match key {
            Key::Agent(_) => self.agent_grace,
            Key::Visitor(_) => self.visitor_grace,
        };
        let presence = self.clone();
        let expire = async move {
            tokio::time::sleep(grace).await;
            presence.expire(key, epoch);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(expire);
            }
            Err(_) => tracing::warn!("presence changed outside the runtime"),
        }
    }

    fn expire(&self, key: Key, epoch: u64) {
        let went_offline = {
            let mut entries = self.entries();
            match entries.get(&key) {
                Some(entry) if entry.sockets == 0 && entry.epoch == epoch => {
                    let entry = entries.remove(&key);
                    entry.map(|entry| (entry.site, entry.conversation))
                }
                _ => None,
            }
        };
        if let Some((site, conversation)) = went_offline {
            let event = match key {
                Key::Agent(agent_id) => InboxEvent::AgentPresence {
                    agent_id,
                    online_since: None,
                },
                Key::Visitor(visitor_id) => InboxEvent::VisitorPresence {
                    site,
                    visitor_id,
                    conversation,
                },
            };
            self.hub.publish(Event::Inbox(event));
        }
    }

    fn publish(&self, key: &Key) {
        let event = {
            let entries = self.entries();
            let Some(entry) = entries.get(key) else {
                return;
            };
            match key {
                Key::Agent(agent_id) => InboxEvent::AgentPresence {
                    agent_id: *agent_id,
                    online_since: entry.online_since,
                },
                Key::Visitor(visitor_id) => InboxEvent::VisitorPresence {
                    site: entry.site.clone(),
                    visitor_id: visitor_id.clone(),
                    conversation: entry.conversation,
                },
            }
        };
        self.hub.publish(Event::Inbox(event));
    }
}

impl Presence for LocalPresence {
    fn agent_connected(self: Arc<Self>, agent: AgentId) -> PresenceGuard {
        self.connected(Key::Agent(agent), String::new(), None)
    }

    fn visitor_connected(
        self: Arc<Self>,
        site: &str,
        visitor: &VisitorId,
        conversation: Option<ConversationId>,
    ) -> PresenceGuard {
        self.connected(Key::Visitor(visitor.clone()), site.to_owned(), conversation)
    }

    fn disconnected(self: Arc<Self>, key: Key) {
        self.went_away(key);
    }

    /// Since when the agent is online, if they are.
    fn agent_online_since(&self, agent: AgentId) -> Option<UnixMillis> {
        self.entries()
            .get(&Key::Agent(agent))
            .and_then(|entry| entry.online_since)
    }

    /// Whether any agent is online (W6: the widget's availability).
    fn any_agent_online(&self) -> bool {
        self.entries()
            .iter()
            .any(|(key, entry)| matches!(key, Key::Agent(_)) && entry.online_since.is_some())
    }

    /// Whether the visitor (or another device showing this conversation) is online.
    fn visitor_online(&self, visitor: Option<&VisitorId>, conversation: ConversationId) -> bool {
        let entries = self.entries();
        visitor.is_some_and(|visitor| entries.contains_key(&Key::Visitor(visitor.clone())))
            || entries.iter().any(|(key, entry)| {
                matches!(key, Key::Visitor(_)) && entry.conversation == Some(conversation)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::MemoryBroker;
    use crate::clock::SystemClock;
    use crate::events::NodeId;
    use uuid::Uuid;

    #[tokio::test(start_paused = true)]
    async fn an_agent_stays_online_for_the_grace_period_after_the_last_socket() {
        let hub = Hub::new(NodeId::random(), Arc::new(MemoryBroker::default()));
        let mut events = hub.subscribe();
        let presence = LocalPresence::new(
            hub,
            Arc::new(SystemClock),
            Duration::from_secs(10),
            Duration::from_secs(1),
        );
        let agent = AgentId(Uuid::from_u128(1));
        let first = presence.clone().agent_connected(agent);
        let second = presence.clone().agent_connected(agent);
        assert!(presence.agent_online_since(agent).is_some());
        assert!(matches!(
            events.recv().await.unwrap().as_ref(),
            Event::Inbox(InboxEvent::AgentPresence {
                online_since: Some(_),
                ..
            })
        ));
        drop(first);
        drop(second);
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert!(
            presence.agent_online_since(agent).is_some(),
            "within the grace period"
        );
        // A reconnect within the grace period keeps them online without a new event.
        let again = presence.clone().agent_connected(agent);
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert!(presence.agent_online_since(agent).is_some());
        drop(again);
        tokio::time::sleep(Duration::from_secs(11)).await;
        assert_eq!(
            presence.agent_online_since(agent),
            None,
            "past the grace period"
        );
        assert!(matches!(
            events.recv().await.unwrap().as_ref(),
            Event::Inbox(InboxEvent::AgentPresence {
                online_since: None,
                ..
            })
        ));
    }
}
