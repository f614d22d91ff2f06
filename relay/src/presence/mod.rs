//! Who is online (I3, I15): agents by their console sockets, visitors by their widget sockets,
//! on this node and on every other node.
//!
//! A socket registers and holds a [`PresenceGuard`]; when the last socket of someone closes
//! they stay online for a grace period (`Limits::agent_presence_grace_secs`,
//! `visitor_presence_grace_secs`), so a page reload or a short network drop does not flicker
//! the dots.
//!
//! Nodes tell each other through the broker ([`PresenceGossip`]): numbered changes, a heartbeat
//! every `Limits::presence_heartbeat_ms`, and snapshots on request. A node merges the others'
//! views ([`remote`]) with its own sockets and tells its own sockets when someone comes online
//! or goes offline across the cluster, so an agent on node B sees a visitor on node A, and a
//! visitor on A sees that an agent on B is online. A node that dies stops beating: its
//! sockets' presence expires after two missed beats plus the grace period.
//!
//! The doors see presence through the [`Presence`] trait.

mod remote;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use natter_protocol::{AgentId, ConversationId, UnixMillis};

use crate::clock::Clock;
use crate::events::{Event, InboxEvent, NodeId, PresenceEntry, PresenceGossip};
use crate::hub::{Hub, NodeListener};
use crate::identity::VisitorId;

pub use crate::events::PresenceKey as Key;

/// Entries per snapshot message: a node with 10,000 visitors sends about 20 messages of
/// ~100 KB, well under NATS's default 1 MB payload limit.
const SNAPSHOT_PAGE: usize = 500;

/// Someone with sockets on this node.
#[derive(Debug)]
struct Entry {
    sockets: usize,
    /// Bumped on every disconnect, so a stale grace timer does nothing.
    epoch: u64,
    shared: PresenceEntry,
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

    /// Since when the agent is online (on any node), if they are.
    fn agent_online_since(&self, agent: AgentId) -> Option<UnixMillis>;

    /// Whether any agent is online on any node (W6: the widget's availability).
    fn any_agent_online(&self) -> bool;

    /// Whether the visitor (or another device showing this conversation) is online anywhere.
    fn visitor_online(&self, visitor: Option<&VisitorId>, conversation: ConversationId) -> bool;
}

/// How presence is timed.
#[derive(Debug, Clone, Copy)]
pub struct PresenceTimes {
    pub agent_grace: Duration,
    pub visitor_grace: Duration,
    /// How often a node tells the others it is alive.
    pub heartbeat: Duration,
}

/// What this node knows: its own sockets, the other nodes' gossip, and what its own sockets
/// were last told.
struct Known {
    local: HashMap<Key, Entry>,
    remote: remote::RemoteNodes,
    /// This node's changes so far (the `seq` of its gossip).
    seq: u64,
    /// Who this node's sockets were last told is online, as they were told: an event goes out
    /// only when a key enters or leaves, and the offline event names what the online one did.
    announced: HashMap<Key, PresenceEntry>,
}

/// This node's presence, merged with the other nodes'.
pub struct NodePresence {
    hub: Arc<Hub>,
    clock: Arc<dyn Clock>,
    times: PresenceTimes,
    known: Mutex<Known>,
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

impl NodePresence {
    /// A node's presence, listening to the other nodes through the hub. Run [`Self::beat`] as
    /// a background task.
    pub fn new(hub: Arc<Hub>, clock: Arc<dyn Clock>, times: PresenceTimes) -> Arc<Self> {
        let presence = Arc::new(Self {
            hub: hub.clone(),
            clock,
            times,
            known: Mutex::new(Known {
                local: HashMap::new(),
                remote: remote::RemoteNodes::new(
                    times.heartbeat,
                    times.agent_grace,
                    times.visitor_grace,
                ),
                seq: 0,
                announced: HashMap::new(),
            }),
        });
        let listener: Weak<dyn NodeListener> = Arc::downgrade(&presence) as Weak<dyn NodeListener>;
        hub.set_node_listener(listener);
        presence
    }

    fn known(&self) -> MutexGuard<'_, Known> {
        // A panic while holding the lock leaves plain maps behind: keep using them.
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The heartbeat until `shutdown`: tells the other nodes this one is alive (and how many
    /// changes it made, so they notice a lost one), and expires the presence of nodes that
    /// stopped beating.
    pub async fn beat(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        // Whoever is already running sends what they know at once.
        self.hub
            .publish_to_nodes(Event::Presence(PresenceGossip::SnapshotWanted {
                from: None,
            }));
        let mut ticks = tokio::time::interval(self.times.heartbeat);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => self.tick(),
                _ = shutdown.changed() => return,
            }
        }
    }

    fn tick(&self) {
        let mut known = self.known();
        let seq = known.seq;
        self.hub
            .publish_to_nodes(Event::Presence(PresenceGossip::Alive { seq }));
        let expired = known.remote.expire_silent(tokio::time::Instant::now());
        for key in expired {
            self.announce_if_changed(&mut known, &key);
        }
    }

    fn connected(
        self: &Arc<Self>,
        key: Key,
        site: String,
        conversation: Option<ConversationId>,
    ) -> PresenceGuard {
        let mut known = self.known();
        let now = self.clock.now();
        let entry = known.local.entry(key.clone()).or_insert_with(|| Entry {
            sockets: 0,
            epoch: 0,
            shared: PresenceEntry {
                online_since: now,
                site,
                conversation: None,
            },
        });
        entry.sockets += 1;
        let came_online = entry.sockets == 1 && entry.epoch == 0;
        let new_conversation = conversation.is_some() && conversation != entry.shared.conversation;
        if new_conversation {
            entry.shared.conversation = conversation;
        }
        if came_online || new_conversation {
            let shared = entry.shared.clone();
            self.tell_nodes(&mut known, &key, Some(shared));
        }
        self.announce_if_changed(&mut known, &key);
        PresenceGuard {
            presence: self.clone() as Arc<dyn Presence>,
            key,
        }
    }

    fn went_away(self: &Arc<Self>, key: Key) {
        let epoch = {
            let mut known = self.known();
            let Some(entry) = known.local.get_mut(&key) else {
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
            Key::Agent(_) => self.times.agent_grace,
            Key::Visitor(_) => self.times.visitor_grace,
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
        let mut known = self.known();
        match known.local.get(&key) {
            Some(entry) if entry.sockets == 0 && entry.epoch == epoch => {
                known.local.remove(&key);
            }
            _ => return,
        }
        self.tell_nodes(&mut known, &key, None);
        self.announce_if_changed(&mut known, &key);
    }

    /// One numbered change to the other nodes. Under the lock, so changes and snapshots leave
    /// in the order of `seq`.
    fn tell_nodes(&self, known: &mut Known, key: &Key, entry: Option<PresenceEntry>) {
        known.seq += 1;
        self.hub
            .publish_to_nodes(Event::Presence(PresenceGossip::Changed {
                seq: known.seq,
                key: key.clone(),
                entry,
            }));
    }

    fn send_snapshot(&self, known: &Known) {
        let entries: Vec<_> = known
            .local
            .iter()
            .map(|(key, entry)| (key.clone(), entry.shared.clone()))
            .collect();
        let pages = entries.chunks(SNAPSHOT_PAGE).count().max(1);
        let mut chunks = entries.chunks(SNAPSHOT_PAGE);
        for page in 1..=pages {
            self.hub
                .publish_to_nodes(Event::Presence(PresenceGossip::Snapshot {
                    seq: known.seq,
                    entries: chunks.next().map(<[_]>::to_vec).unwrap_or_default(),
                    last: page == pages,
                }));
        }
    }

    /// Tells this node's sockets if `key` came online or went offline across the cluster.
    fn announce_if_changed(&self, known: &mut Known, key: &Key) {
        let view = merged(known, key);
        let event = match (view, known.announced.contains_key(key)) {
            (Some(entry), false) => {
                known.announced.insert(key.clone(), entry.clone());
                presence_event(key, Some(entry.online_since), entry)
            }
            (None, true) => match known.announced.remove(key) {
                // Offline: named by the site and conversation it was online with.
                Some(last) => presence_event(key, None, last),
                None => return,
            },
            _ => return,
        };
        self.hub.publish_here(Event::Inbox(event));
    }
}

/// The event this node's sockets hear when `key` came online (`online_since`) or went offline.
fn presence_event(key: &Key, online_since: Option<UnixMillis>, entry: PresenceEntry) -> InboxEvent {
    match key {
        Key::Agent(agent_id) => InboxEvent::AgentPresence {
            agent_id: *agent_id,
            online_since,
        },
        Key::Visitor(visitor_id) => InboxEvent::VisitorPresence {
            site: entry.site,
            visitor_id: visitor_id.clone(),
            conversation: entry.conversation,
        },
    }
}

/// Someone's presence across the cluster: online since their earliest entry on any node, with
/// the site and conversation of one of them.
fn merged(known: &Known, key: &Key) -> Option<PresenceEntry> {
    let local = known.local.get(key).map(|entry| &entry.shared);
    local.into_iter().chain(known.remote.entries_for(key)).fold(
        None,
        |merged: Option<PresenceEntry>, entry| match merged {
            None => Some(entry.clone()),
            Some(mut merged) => {
                merged.online_since = merged.online_since.min(entry.online_since);
                if merged.conversation.is_none() {
                    merged.conversation = entry.conversation;
                }
                Some(merged)
            }
        },
    )
}

impl NodeListener for NodePresence {
    fn heard(&self, from: NodeId, event: &Event) {
        let Event::Presence(gossip) = event else {
            return;
        };
        let mut known = self.known();
        if let PresenceGossip::SnapshotWanted { from: wanted } = gossip {
            if wanted.is_none_or(|node| node == self.hub.node()) {
                self.send_snapshot(&known);
            }
        }
        let heard = known
            .remote
            .receive(from, gossip, tokio::time::Instant::now());
        for key in &heard.changed {
            self.announce_if_changed(&mut known, key);
        }
        if let Some(node) = heard.ask {
            self.hub
                .publish_to_nodes(Event::Presence(PresenceGossip::SnapshotWanted {
                    from: Some(node),
                }));
        }
    }

    fn missed(&self) {
        self.known().remote.mark_all_stale();
        self.hub
            .publish_to_nodes(Event::Presence(PresenceGossip::SnapshotWanted {
                from: None,
            }));
    }
}

impl Presence for NodePresence {
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

    fn agent_online_since(&self, agent: AgentId) -> Option<UnixMillis> {
        merged(&self.known(), &Key::Agent(agent)).map(|entry| entry.online_since)
    }

    fn any_agent_online(&self) -> bool {
        let known = self.known();
        known.local.keys().any(|key| matches!(key, Key::Agent(_))) || known.remote.any_agent()
    }

    fn visitor_online(&self, visitor: Option<&VisitorId>, conversation: ConversationId) -> bool {
        let known = self.known();
        let by_id =
            visitor.is_some_and(|visitor| merged(&known, &Key::Visitor(visitor.clone())).is_some());
        by_id
            || known.remote.conversation_shown(conversation)
            || known.local.iter().any(|(key, entry)| {
                matches!(key, Key::Visitor(_)) && entry.shared.conversation == Some(conversation)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::{Broker, MemoryBroker};
    use crate::clock::SystemClock;
    use crate::hub::Subscription;
    use uuid::Uuid;

    const TIMES: PresenceTimes = PresenceTimes {
        agent_grace: Duration::from_secs(10),
        visitor_grace: Duration::from_secs(5),
        heartbeat: Duration::from_secs(2),
    };

    /// One node: its presence and a subscriber standing for its sockets. Dropping `stop`
    /// silences the node as a `kill -9` would (its guards stay, nobody hears of them again).
    struct Node {
        presence: Arc<NodePresence>,
        events: Subscription,
        stop: tokio::sync::watch::Sender<bool>,
    }

    fn node(broker: &Arc<dyn Broker>) -> Node {
        let hub = Hub::new(NodeId::random(), broker.clone());
        let events = hub.subscribe();
        let presence = NodePresence::new(hub.clone(), Arc::new(SystemClock), TIMES);
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        tokio::spawn(hub.forward_from_broker(shutdown.clone()));
        tokio::spawn(presence.clone().beat(shutdown));
        Node {
            presence,
            events,
            stop,
        }
    }

    /// The next presence event this node's sockets hear.
    async fn next_presence(node: &mut Node) -> InboxEvent {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(60), node.events.recv())
                .await
                .expect("a presence event within a minute")
                .expect("the hub is open");
            if let Event::Inbox(
                event @ (InboxEvent::AgentPresence { .. } | InboxEvent::VisitorPresence { .. }),
            ) = event.as_ref()
            {
                return event.clone();
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_agent_stays_online_for_the_grace_period_after_the_last_socket() {
        let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::default());
        let mut node = node(&broker);
        let presence = node.presence.clone();
        let agent = AgentId(Uuid::from_u128(1));
        let first = presence.clone().agent_connected(agent);
        let second = presence.clone().agent_connected(agent);
        assert!(presence.agent_online_since(agent).is_some());
        assert!(matches!(
            next_presence(&mut node).await,
            InboxEvent::AgentPresence {
                online_since: Some(_),
                ..
            }
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
            next_presence(&mut node).await,
            InboxEvent::AgentPresence {
                online_since: None,
                ..
            }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn an_agent_on_node_a_is_online_for_node_b_until_a_dies_and_the_grace_period_ends() {
        let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::default());
        let a = node(&broker);
        let mut b = node(&broker);
        let agent = AgentId(Uuid::from_u128(7));
        let _socket_on_a = a.presence.clone().agent_connected(agent);
        assert_eq!(
            next_presence(&mut b).await,
            InboxEvent::AgentPresence {
                agent_id: agent,
                online_since: a.presence.agent_online_since(agent),
            }
        );
        assert!(b.presence.any_agent_online());
        assert!(b.presence.agent_online_since(agent).is_some());

        // Node A dies with the socket open: no goodbye, its heartbeats stop.
        let died = tokio::time::Instant::now();
        a.stop.send_replace(true);
        assert!(matches!(
            next_presence(&mut b).await,
            InboxEvent::AgentPresence {
                online_since: None,
                ..
            }
        ));
        let after = died.elapsed();
        assert!(
            after >= TIMES.agent_grace + TIMES.heartbeat
                && after <= TIMES.agent_grace + TIMES.heartbeat * 4,
            "offline {after:?} after the node died"
        );
        assert!(!b.presence.any_agent_online());
    }

    #[tokio::test(start_paused = true)]
    async fn a_node_that_starts_later_learns_who_is_online_on_the_others() {
        let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::default());
        let a = node(&broker);
        let visitor = VisitorId("v1".into());
        let conversation = ConversationId(Uuid::from_u128(9));
        let _widget = a
            .presence
            .clone()
            .visitor_connected("demo", &visitor, Some(conversation));
        tokio::time::sleep(Duration::from_secs(5)).await;

        let mut b = node(&broker);
        assert_eq!(
            next_presence(&mut b).await,
            InboxEvent::VisitorPresence {
                site: "demo".into(),
                visitor_id: visitor.clone(),
                conversation: Some(conversation),
            }
        );
        assert!(b.presence.visitor_online(Some(&visitor), conversation));
        assert!(
            b.presence.visitor_online(None, conversation),
            "by the conversation the widget shows"
        );
        assert!(!b.presence.any_agent_online());
    }

    #[tokio::test(start_paused = true)]
    async fn online_on_two_nodes_stays_online_when_one_socket_goes() {
        let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::default());
        let (mut a, mut b) = (node(&broker), node(&broker));
        let agent = AgentId(Uuid::from_u128(3));
        let on_a = a.presence.clone().agent_connected(agent);
        next_presence(&mut b).await;
        next_presence(&mut a).await;
        let on_b = b.presence.clone().agent_connected(agent);
        drop(on_a);
        tokio::time::sleep(TIMES.agent_grace * 3).await;
        assert!(
            a.presence.any_agent_online(),
            "node A still sees the agent's console on node B"
        );
        drop(on_b);
        assert!(matches!(
            next_presence(&mut a).await,
            InboxEvent::AgentPresence {
                online_since: None,
                ..
            }
        ));
    }
}
