//! The other nodes' presence, as their gossip told it: one view per node, kept in step by the
//! node's numbered changes, replaced by a snapshot when a change was missed, and expired when
//! the node stops beating (it died: its sockets' presence lasts one grace period more).
//!
//! Pure bookkeeping over a given `now`, so the rules are tested without a broker or a clock.

use std::collections::HashMap;
use std::time::Duration;

use natter_protocol::ConversationId;
use tokio::time::Instant;

use crate::events::{NodeId, PresenceEntry, PresenceGossip, PresenceKey};

/// How long a node may stay silent before its presence starts to expire, counted in
/// heartbeats: one beat may be late or lost without anyone flickering offline.
const SILENT_BEATS: u32 = 2;

/// What one node told this one.
struct RemoteNode {
    /// The node's last change applied here.
    seq: u64,
    /// Whether `entries` follows every change up to `seq` (no change was missed).
    synced: bool,
    heard_at: Instant,
    entries: HashMap<PresenceKey, PresenceEntry>,
    /// Snapshot pages received so far: their `seq` and entries.
    pending: Option<(u64, Vec<(PresenceKey, PresenceEntry)>)>,
    /// When this node last asked it for a snapshot, so a silent peer is not asked on every beat.
    asked_at: Option<Instant>,
}

impl RemoteNode {
    fn new(now: Instant) -> Self {
        Self {
            seq: 0,
            synced: false,
            heard_at: now,
            entries: HashMap::new(),
            pending: None,
            asked_at: None,
        }
    }
}

/// What receiving gossip did.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Heard {
    /// Keys whose presence on that node changed.
    pub changed: Vec<PresenceKey>,
    /// Ask that node for a snapshot: its view here is out of step.
    pub ask: Option<NodeId>,
}

/// The other nodes' presence.
pub(super) struct RemoteNodes {
    nodes: HashMap<NodeId, RemoteNode>,
    heartbeat: Duration,
    agent_grace: Duration,
    visitor_grace: Duration,
}

impl RemoteNodes {
    pub fn new(heartbeat: Duration, agent_grace: Duration, visitor_grace: Duration) -> Self {
        Self {
            nodes: HashMap::new(),
            heartbeat,
            agent_grace,
            visitor_grace,
        }
    }

    /// Applies one node's gossip (not `SnapshotWanted`, which the caller answers).
    pub fn receive(&mut self, from: NodeId, gossip: &PresenceGossip, now: Instant) -> Heard {
        let node = self
            .nodes
            .entry(from)
            .or_insert_with(|| RemoteNode::new(now));
        node.heard_at = now;
        let changed = match gossip {
            PresenceGossip::Changed { seq, key, entry } => {
                apply_change(node, *seq, key, entry.as_ref())
            }
            PresenceGossip::Alive { seq } => {
                if node.seq != *seq {
                    node.synced = false;
                }
                Vec::new()
            }
            PresenceGossip::Snapshot { seq, entries, last } => {
                take_page(node, *seq, entries, *last)
            }
            PresenceGossip::SnapshotWanted { .. } => Vec::new(),
        };
        let ask = self.should_ask(from, now).then_some(from);
        Heard { changed, ask }
    }

    /// Whether to ask `from` for a snapshot now; marks it asked.
    fn should_ask(&mut self, from: NodeId, now: Instant) -> bool {
        let heartbeat = self.heartbeat;
        let Some(node) = self.nodes.get_mut(&from) else {
            return false;
        };
        let recently = node
            .asked_at
            .is_some_and(|asked| now.duration_since(asked) < heartbeat);
        if node.synced || node.pending.is_some() || recently {
            return false;
        }
        node.asked_at = Some(now);
        true
    }

    /// Every view may be stale (the broker dropped something): re-sync from snapshots, keeping
    /// the stale entries until they arrive.
    pub fn mark_all_stale(&mut self) {
        for node in self.nodes.values_mut() {
            node.synced = false;
            node.pending = None;
            node.asked_at = None;
        }
    }

    /// Drops the presence of nodes that stopped beating, past the grace period of each kind.
    /// Returns the keys that changed.
    pub fn expire_silent(&mut self, now: Instant) -> Vec<PresenceKey> {
        let silence = self.heartbeat * SILENT_BEATS;
        let (agent_after, visitor_after) =
            (silence + self.agent_grace, silence + self.visitor_grace);
        let mut expired = Vec::new();
        self.nodes.retain(|_, node| {
            let quiet = now.duration_since(node.heard_at);
            if quiet <= silence {
                return true;
            }
            node.entries.retain(|key, _| {
                let after = match key {
                    PresenceKey::Agent(_) => agent_after,
                    PresenceKey::Visitor(_) => visitor_after,
                };
                let keep = quiet <= after;
                if !keep {
                    expired.push(key.clone());
                }
                keep
            });
            !node.entries.is_empty()
        });
        expired
    }

    /// The entries every other node has for `key`.
    pub fn entries_for<'a>(
        &'a self,
        key: &'a PresenceKey,
    ) -> impl Iterator<Item = &'a PresenceEntry> + 'a {
        self.nodes
            .values()
            .filter_map(move |node| node.entries.get(key))
    }

    pub fn any_agent(&self) -> bool {
        self.nodes.values().any(|node| {
            node.entries
                .keys()
                .any(|key| matches!(key, PresenceKey::Agent(_)))
        })
    }

    /// Whether a visitor showing `conversation` is online on another node.
    pub fn conversation_shown(&self, conversation: ConversationId) -> bool {
        self.nodes.values().any(|node| {
            node.entries.iter().any(|(key, entry)| {
                matches!(key, PresenceKey::Visitor(_)) && entry.conversation == Some(conversation)
            })
        })
    }
}

/// One numbered change: applied if it is the next one, else the view is out of step.
fn apply_change(
    node: &mut RemoteNode,
    seq: u64,
    key: &PresenceKey,
    entry: Option<&PresenceEntry>,
) -> Vec<PresenceKey> {
    if !node.synced || seq != node.seq + 1 {
        node.synced = false;
        return Vec::new();
    }
    node.seq = seq;
    match entry {
        Some(entry) => {
            node.entries.insert(key.clone(), entry.clone());
        }
        None => {
            node.entries.remove(key);
        }
    }
    vec![key.clone()]
}

/// One snapshot page; the last one replaces the node's view.
fn take_page(
    node: &mut RemoteNode,
    seq: u64,
    page: &[(PresenceKey, PresenceEntry)],
    last: bool,
) -> Vec<PresenceKey> {
    // A page of another snapshot than the one being collected starts over (lost pages).
    if node
        .pending
        .as_ref()
        .is_none_or(|(pending_seq, _)| *pending_seq != seq)
    {
        node.pending = Some((seq, Vec::new()));
    }
    if let Some((_, collected)) = &mut node.pending {
        collected.extend_from_slice(page);
    }
    if !last {
        return Vec::new();
    }
    let Some((_, collected)) = node.pending.take() else {
        return Vec::new();
    };
    let fresh: HashMap<_, _> = collected.into_iter().collect();
    let mut changed: Vec<PresenceKey> = node
        .entries
        .iter()
        .filter(|(key, entry)| fresh.get(*key) != Some(*entry))
        .map(|(key, _)| key.clone())
        .collect();
    changed.extend(
        fresh
            .keys()
            .filter(|key| !node.entries.contains_key(*key))
            .cloned(),
    );
    node.entries = fresh;
    node.seq = seq;
    node.synced = true;
    node.asked_at = None;
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::VisitorId;
    use natter_protocol::AgentId;
    use uuid::Uuid;

    const BEAT: Duration = Duration::from_secs(2);

    fn nodes() -> RemoteNodes {
        RemoteNodes::new(BEAT, Duration::from_secs(10), Duration::from_secs(5))
    }

    fn agent(n: u128) -> PresenceKey {
        PresenceKey::Agent(AgentId(Uuid::from_u128(n)))
    }

    fn entry() -> PresenceEntry {
        PresenceEntry {
            online_since: 1,
            site: String::new(),
            conversation: None,
        }
    }

    fn snapshot(seq: u64, keys: &[PresenceKey]) -> PresenceGossip {
        PresenceGossip::Snapshot {
            seq,
            entries: keys.iter().map(|key| (key.clone(), entry())).collect(),
            last: true,
        }
    }

    fn changed(seq: u64, key: PresenceKey, online: bool) -> PresenceGossip {
        PresenceGossip::Changed {
            seq,
            key,
            entry: online.then(entry),
        }
    }

    #[test]
    fn a_new_node_is_asked_for_a_snapshot_and_then_followed_change_by_change() {
        let mut remote = nodes();
        let (a, now) = (NodeId::random(), Instant::now());
        let heard = remote.receive(a, &PresenceGossip::Alive { seq: 3 }, now);
        assert_eq!(
            heard.ask,
            Some(a),
            "an unknown node's view starts out of step"
        );
        assert_eq!(
            remote.receive(a, &snapshot(3, &[agent(1)]), now).changed,
            vec![agent(1)]
        );
        assert!(remote.any_agent());
        let heard = remote.receive(a, &changed(4, agent(1), false), now);
        assert_eq!(
            heard,
            Heard {
                changed: vec![agent(1)],
                ask: None
            }
        );
        assert!(!remote.any_agent());
    }

    #[test]
    fn a_missed_change_is_noticed_and_healed_by_a_snapshot_without_asking_on_every_beat() {
        let mut remote = nodes();
        let (a, now) = (NodeId::random(), Instant::now());
        remote.receive(a, &snapshot(1, &[agent(1)]), now);
        // Change 2 was lost; 3 arrives.
        let heard = remote.receive(a, &changed(3, agent(2), true), now);
        assert_eq!(
            heard,
            Heard {
                changed: vec![],
                ask: Some(a)
            }
        );
        assert_eq!(
            remote
                .receive(a, &PresenceGossip::Alive { seq: 3 }, now)
                .ask,
            None,
            "asked less than a heartbeat ago"
        );
        assert_eq!(
            remote
                .receive(a, &PresenceGossip::Alive { seq: 3 }, now + BEAT)
                .ask,
            Some(a),
            "the snapshot did not come: ask again"
        );
        let mut healed = remote
            .receive(a, &snapshot(3, &[agent(1), agent(2)]), now)
            .changed;
        healed.sort_by_key(|key| format!("{key:?}"));
        assert_eq!(healed, vec![agent(2)], "agent 1 did not change");
    }

    #[test]
    fn snapshot_pages_are_collected_and_a_lost_page_starts_over() {
        let mut remote = nodes();
        let (a, now) = (NodeId::random(), Instant::now());
        let page = |seq, key: PresenceKey, last| PresenceGossip::Snapshot {
            seq,
            entries: vec![(key, entry())],
            last,
        };
        assert!(remote
            .receive(a, &page(5, agent(1), false), now)
            .changed
            .is_empty());
        assert!(!remote.any_agent(), "nothing applies before the last page");
        // Snapshot 5's last page was lost; snapshot 6 arrives whole.
        remote.receive(a, &page(6, agent(2), false), now);
        let changed = remote.receive(a, &page(6, agent(3), true), now).changed;
        assert_eq!(changed.len(), 2);
        assert_eq!(remote.entries_for(&agent(1)).count(), 0);
        assert_eq!(remote.entries_for(&agent(3)).count(), 1);
    }

    #[test]
    fn a_silent_node_keeps_its_presence_for_two_beats_plus_the_grace_period_of_each_kind() {
        let mut remote = nodes();
        let (a, now) = (NodeId::random(), Instant::now());
        let visitor = PresenceKey::Visitor(VisitorId("v1".into()));
        remote.receive(a, &snapshot(1, &[agent(1), visitor.clone()]), now);
        let silence = BEAT * SILENT_BEATS;
        assert!(remote.expire_silent(now + silence).is_empty());
        assert!(remote
            .expire_silent(now + silence + Duration::from_secs(5))
            .is_empty());
        assert_eq!(
            remote.expire_silent(now + silence + Duration::from_millis(5001)),
            vec![visitor],
            "a visitor's grace is 5 s"
        );
        assert!(remote.any_agent(), "an agent's grace is 10 s");
        assert_eq!(
            remote.expire_silent(now + silence + Duration::from_millis(10_001)),
            vec![agent(1)]
        );
        assert!(remote.nodes.is_empty(), "the dead node is forgotten");
    }
}
