//! What happened, as live displays need to hear it: the events the [`crate::hub`] fans out to
//! this node's sockets and the [`crate::broker`] carries between nodes.
//!
//! Events are serialisable (a broker between processes sends them as JSON) and name their
//! origin by node and connection, so a socket skips what it caused itself wherever it runs.
//! Events may be dropped (a lagging subscriber, a broker outage): nothing that *must* happen is
//! driven by them — that is what `jobs` is for — and sockets resynchronise from the store.

use natter_protocol::agent::{ContactInfo, ConversationSummary};
use natter_protocol::{AgentId, ConversationId, Message, Seq, UnixMillis};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::identity::VisitorId;

/// One relay process. Random per start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeId(pub Uuid);

impl NodeId {
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }
}

/// One socket, unique across every node, so it can skip the events it caused itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConnectionId(pub Uuid);

impl ConnectionId {
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }
}

/// Something that happened, as subscribers need to hear it.
// Events travel in an `Arc` (one allocation per publish), so boxing the large variant would
// only add a second one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A message was stored.
    MessageStored {
        site: String,
        /// The web visitor whose chat it is, if it is a web chat.
        visitor_id: Option<VisitorId>,
        conversation: ConversationSummary,
        message: Message,
        /// The socket that sent it, if it came from one (it has already been acknowledged).
        origin: Option<ConnectionId>,
        /// An internal comment (I7): for agents only, never for visitor sockets.
        internal: bool,
        /// What agents see beside the message: an email from an address that is not the
        /// contact's (E3), and the delivery of an email carrying it (E1).
        #[serde(default)]
        unverified_sender: Option<String>,
        #[serde(default)]
        delivery: Option<natter_protocol::agent::Delivery>,
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
    Inbox(InboxEvent),
    /// What one node tells the others about who is online on it ([`crate::presence`]). Goes
    /// from node to node only: the hub never hands it to a socket.
    Presence(PresenceGossip),
}

/// Whose presence: an agent's (their console sockets) or a visitor's (their widget sockets).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PresenceKey {
    Agent(AgentId),
    Visitor(VisitorId),
}

/// Someone online through one node's sockets (or within the grace period after them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceEntry {
    pub online_since: UnixMillis,
    /// The visitor's site (empty for agents).
    pub site: String,
    /// The conversation the visitor's widget shows, if it has one yet.
    pub conversation: Option<ConversationId>,
}

/// The presence protocol between nodes. Each node numbers its changes (`seq`), so a node that
/// missed one — the broker may drop — notices at the next change or heartbeat and asks for a
/// snapshot instead of trusting a stale view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PresenceGossip {
    /// Someone came online on the sending node (`Some`) or went offline there after their
    /// grace period (`None`).
    Changed {
        seq: u64,
        key: PresenceKey,
        entry: Option<PresenceEntry>,
    },
    /// The heartbeat: the node is alive and has made `seq` changes. A node that stops beating
    /// is dead, and its sockets' presence expires after the grace period.
    Alive { seq: u64 },
    /// Everyone online on the sending node as of change `seq`, in pages (`last` on the final
    /// one) so a big node stays under the broker's message size.
    Snapshot {
        seq: u64,
        entries: Vec<(PresenceKey, PresenceEntry)>,
        last: bool,
    },
    /// A node asks for a snapshot: from one node (`Some`), or from all (`None`, at start-up
    /// or after it missed events).
    SnapshotWanted { from: Option<NodeId> },
}

/// Who is typing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Typist {
    /// The conversation's visitor: shown to agents.
    Visitor,
    /// An agent: shown to the visitor and to the other agents.
    Agent { agent_id: AgentId, name: String },
}

/// Inbox changes that only agent sockets show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InboxEvent {
    /// Status, assignment, read state or contact of a conversation changed.
    ConversationChanged(ConversationId),
    ConversationDeleted(ConversationId),
    /// A visitor came online or went offline.
    VisitorPresence {
        site: String,
        visitor_id: VisitorId,
        conversation: Option<ConversationId>,
    },
    AgentPresence {
        agent_id: AgentId,
        online_since: Option<UnixMillis>,
    },
    AgentsChanged,
    SavedResponsesChanged,
    ContactUpdated(ContactInfo),
    /// The email carrying a message was sent or failed (E1).
    DeliveryChanged {
        conversation_id: ConversationId,
        message_id: natter_protocol::MessageId,
        delivery: natter_protocol::agent::Delivery,
    },
    /// An inbound email was kept for admins or ignored (E5).
    InboundMailChanged,
}

/// An event on its way between nodes: which node published it. The event is shared with the
/// publishing node's own subscribers, not copied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub node: NodeId,
    pub event: std::sync::Arc<Event>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_as_json_for_a_broker_between_processes() {
        let envelope = Envelope {
            node: NodeId::random(),
            event: std::sync::Arc::new(Event::Typing {
                conversation_id: ConversationId(Uuid::new_v4()),
                typist: Typist::Agent {
                    agent_id: AgentId(Uuid::new_v4()),
                    name: "Ada".into(),
                },
                typing: true,
            }),
        };
        let json = serde_json::to_string(&envelope).unwrap();
        assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), envelope);
        let presence = Envelope {
            node: NodeId::random(),
            event: std::sync::Arc::new(Event::Inbox(InboxEvent::VisitorPresence {
                site: "demo".into(),
                visitor_id: VisitorId("v1".into()),
                conversation: None,
            })),
        };
        let json = serde_json::to_string(&presence).unwrap();
        assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), presence);
    }
}
