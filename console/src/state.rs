//! The inbox's state and the rules for merging what the relay says into it.
//!
//! Three sources write the same data: REST answers, pushes on the agent socket and the answer
//! to the agent's own reply. They can arrive in any order, twice, or after a gap, so the merge
//! rules live here as pure functions over plain vectors (unit-tested natively) and the reactive
//! [`Inbox`] only wraps them in signals:
//! - the list is keyed by conversation id and kept sorted by `last_activity_at`, newest first;
//! - a thread is keyed by message id and kept sorted by `seq`;
//! - when two versions of a row disagree, the one with more messages / newer activity wins;
//! - when two versions of a message's email delivery disagree, the newer one wins (E1).

use std::collections::HashMap;

use leptos::prelude::*;
use natter_protocol::agent::{
    self, AgentInfo, AgentMessage, AssigneeFilter, ContactPanel, ConversationQuery,
    ConversationStatus, ConversationSummary, Delivery, Dot, Group, SavedResponse, Session,
};
use natter_protocol::{AgentId, Channel, ConversationId, MessageId, Seq, UnixMillis};

/// Whether `candidate` describes a state at least as recent as `current` (same conversation).
fn is_fresher_or_equal(candidate: &ConversationSummary, current: &ConversationSummary) -> bool {
    (candidate.message_count, candidate.last_activity_at)
        >= (current.message_count, current.last_activity_at)
}

/// Newest activity first; ties broken by id so the order never flickers.
fn sort_list(list: &mut [ConversationSummary]) {
    list.sort_by(|a, b| {
        b.last_activity_at
            .cmp(&a.last_activity_at)
            .then_with(|| b.id.cmp(&a.id))
    });
}

/// Inserts or replaces one row (a `ConversationUpdated` push or a fetched detail). An older
/// version than the one already shown is ignored.
pub fn upsert_conversation(list: &mut Vec<ConversationSummary>, row: ConversationSummary) {
    match list.iter_mut().find(|existing| existing.id == row.id) {
        Some(existing) => {
            if is_fresher_or_equal(&row, existing) {
                *existing = row;
            }
        }
        None => list.push(row),
    }
    sort_list(list);
}

/// Merges a freshly fetched list into the shown one. The fetched list is the truth, except
/// that a row pushed while the request was in flight may be fresher than the snapshot: such a
/// row wins, and a row missing from the snapshot is kept only if it is newer than everything in
/// it (it was created after the snapshot; otherwise it was deleted).
pub fn merge_list(
    current: &[ConversationSummary],
    fetched: Vec<ConversationSummary>,
) -> Vec<ConversationSummary> {
    let newest_fetched = fetched.iter().map(|c| c.last_activity_at).max();
    let mut merged = fetched;
    for row in current {
        match merged.iter_mut().find(|f| f.id == row.id) {
            Some(fetched_row) => {
                if !is_fresher_or_equal(fetched_row, row) {
                    *fetched_row = row.clone();
                }
            }
            None => {
                if newest_fetched.is_none_or(|newest| row.last_activity_at > newest) {
                    merged.push(row.clone());
                }
            }
        }
    }
    sort_list(&mut merged);
    merged
}

/// Updates a row from a message it did not know about yet, so the list moves even if the
/// relay's `ConversationUpdated` is late. Returns whether anything changed.
pub fn bump_for_message(
    list: &mut [ConversationSummary],
    message: &natter_protocol::Message,
) -> bool {
    let Some(row) = list.iter_mut().find(|c| c.id == message.conversation_id) else {
        return false;
    };
    if message.seq <= row.message_count {
        return false;
    }
    row.message_count = message.seq;
    row.last_activity_at = row.last_activity_at.max(message.sent_at);
    // A message of files only is previewed by their names.
    row.last_message_preview = Some(if message.text.trim().is_empty() {
        message
            .attachments
            .iter()
            .map(|attachment| attachment.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        message.text.clone()
    });
    sort_list(list);
    true
}

/// What happened when a message was offered to a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// New, and directly after what was there.
    Appended,
    /// Already there (same message id): nothing changed.
    Duplicate,
    /// New, but messages before it are missing: the thread should be fetched again.
    AfterGap,
}

/// Adds one message to a thread, deduplicated by id and kept in `seq` order. A copy already
/// there still takes a newer email delivery (the answer to a reply may carry it, the push of
/// the same message not).
pub fn insert_message(thread: &mut Vec<AgentMessage>, message: AgentMessage) -> Inserted {
    if let Some(shown) = thread
        .iter_mut()
        .find(|m| m.message.id == message.message.id)
    {
        if let Some(delivery) = &message.delivery {
            apply_delivery_to(shown, delivery);
        }
        return Inserted::Duplicate;
    }
    let last_seq: Seq = thread.iter().map(|m| m.message.seq).max().unwrap_or(0);
    let gap = message.message.seq > last_seq + 1;
    thread.push(message);
    thread.sort_by_key(|m| m.message.seq);
    if gap {
        Inserted::AfterGap
    } else {
        Inserted::Appended
    }
}

/// Merges a fetched thread with what is shown: the union by message id, in `seq` order. Keeps
/// a message pushed while the fetch was in flight, and a delivery pushed after the snapshot.
pub fn merge_thread(current: &[AgentMessage], fetched: Vec<AgentMessage>) -> Vec<AgentMessage> {
    let mut merged = fetched;
    for message in current {
        match merged
            .iter_mut()
            .find(|m| m.message.id == message.message.id)
        {
            Some(fetched) => {
                if let Some(delivery) = &message.delivery {
                    apply_delivery_to(fetched, delivery);
                }
            }
            None => merged.push(message.clone()),
        }
    }
    merged.sort_by_key(|m| m.message.seq);
    merged
}

/// Takes `delivery` unless the message already has a newer one: pushes and fetches race, and
/// an email's state only moves forward in time.
fn apply_delivery_to(message: &mut AgentMessage, delivery: &Delivery) {
    let newer = message
        .delivery
        .as_ref()
        .is_none_or(|shown| delivery.updated_at >= shown.updated_at);
    if newer {
        message.delivery = Some(delivery.clone());
    }
}

/// Applies a `delivery_changed` push to the message it is about (E1). Returns whether the
/// message is in this thread.
pub fn apply_delivery(thread: &mut [AgentMessage], id: MessageId, delivery: &Delivery) -> bool {
    match thread.iter_mut().find(|m| m.message.id == id) {
        Some(message) => {
            apply_delivery_to(message, delivery);
            true
        }
        None => false,
    }
}

/// The list's filters (I2), as the agent set them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters {
    pub status: Option<ConversationStatus>,
    pub assignee: Option<AssigneeFilter>,
    pub channel: Option<Channel>,
    pub search: String,
    pub blocked: bool,
}

impl Filters {
    /// The list request for these filters, from the start or after a cursor.
    pub fn query(&self, after: Option<String>) -> ConversationQuery {
        ConversationQuery {
            status: self.status,
            assignee: self.assignee,
            channel: self.channel,
            q: Some(self.search.trim().to_owned()).filter(|q| !q.is_empty()),
            blocked: Some(self.blocked),
            after,
            limit: None,
        }
    }

    /// Whether a pushed row belongs in the list under these filters. A search cannot be
    /// checked here: a new row is left to the next fetch, a shown row stays.
    pub fn admits(&self, row: &ConversationSummary, viewer: AgentId, groups: &[Group]) -> bool {
        let state = &row.state;
        self.status.is_none_or(|status| state.status == status)
            && self.channel.is_none_or(|channel| state.channel == channel)
            && state.blocked == self.blocked
            && match self.assignee {
                None | Some(AssigneeFilter::All) => true,
                Some(AssigneeFilter::Unassigned) => {
                    state.assigned_agent.is_none() && state.assigned_group.is_none()
                }
                Some(AssigneeFilter::Mine) => agent::is_mine(state, viewer, groups),
            }
    }
}

/// The dot of a row for the logged-in agent at `now` (I3).
pub fn row_dot(
    row: &ConversationSummary,
    viewer: AgentId,
    agents: &[AgentInfo],
    groups: &[Group],
    now: UnixMillis,
    missed_after_ms: i64,
) -> Dot {
    let mine = agent::is_mine(&row.state, viewer, groups);
    let online = agent::assignees_online_since(&row.state, agents, groups);
    agent::dot(row, mine, online, now, missed_after_ms)
}

/// The state of the live connection, shown in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveStatus {
    Connecting,
    Connected,
    Reconnecting,
    /// The relay closed with a terminal code; only a reload can help.
    Stopped,
}

/// Someone typing in a conversation (W7, I15): its visitor or another agent. Shown until
/// `until` unless renewed, so a lost `typing: false` cannot leave it up for ever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typist {
    pub conversation_id: ConversationId,
    /// `None`: the visitor.
    pub agent_id: Option<AgentId>,
    /// The agent's display name, or the visitor's name when known.
    pub name: Option<String>,
    pub until: UnixMillis,
}

/// Applies a typing frame received at `now`: adds or renews the typist, or removes them on
/// `typing: false`.
pub fn apply_typing(list: &mut Vec<Typist>, typist: Typist, typing: bool, now: UnixMillis) {
    list.retain(|t| {
        t.until > now
            && !(t.conversation_id == typist.conversation_id && t.agent_id == typist.agent_id)
    });
    if typing {
        list.push(typist);
    }
}

/// A message ends its author's typing indicator: the customer's side (the visitor, or the same
/// person as a contact on another channel) ends the visitor's, an agent's ends theirs. The bot
/// and the relay never show as typing.
pub fn end_typing_for(list: &mut Vec<Typist>, message: &natter_protocol::Message) {
    let author = match &message.author {
        author if author.is_customer() => None,
        natter_protocol::Author::Agent { agent_id, .. } => Some(*agent_id),
        _ => return,
    };
    list.retain(|t| !(t.conversation_id == message.conversation_id && t.agent_id == author));
}

/// Who is typing in conversation `id` at `now`: the visitor first, then agents by name.
pub fn typing_in(list: &[Typist], id: ConversationId, now: UnixMillis) -> Vec<Typist> {
    let mut typing: Vec<Typist> = list
        .iter()
        .filter(|t| t.conversation_id == id && t.until > now)
        .cloned()
        .collect();
    typing.sort_by(|a, b| (a.agent_id.is_some(), &a.name).cmp(&(b.agent_id.is_some(), &b.name)));
    typing
}

/// The messages of the open conversation. `conversation` says which one they belong to, so a
/// late answer for a conversation the agent already left is recognised and dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thread {
    pub conversation: Option<ConversationId>,
    pub messages: Vec<AgentMessage>,
    pub loading: bool,
    pub error: Option<String>,
}

/// Everything the inbox screen shows, as signals. `Copy`, so views and async tasks capture it
/// freely; it lives as long as the inbox screen.
#[derive(Clone, Copy)]
pub struct Inbox {
    pub session: Signal<Session>,
    pub conversations: RwSignal<Vec<ConversationSummary>>,
    /// Whether the list was fetched once (to tell "loading" from "empty").
    pub list_loaded: RwSignal<bool>,
    pub list_error: RwSignal<Option<String>>,
    pub selected: RwSignal<Option<ConversationId>>,
    pub thread: RwSignal<Thread>,
    pub live: RwSignal<LiveStatus>,
    /// Unsent text per conversation, so switching conversations loses no typing.
    pub drafts: StoredValue<HashMap<ConversationId, String>>,
    /// A clock for relative times and red dots; ticks while the screen is open.
    pub now: RwSignal<natter_protocol::UnixMillis>,
    pub filters: RwSignal<Filters>,
    /// The cursor of the next page, when there is one.
    pub next_page: RwSignal<Option<String>>,
    pub agents: RwSignal<Vec<AgentInfo>>,
    /// Numbers agent list requests (see `actions::refresh_agents`).
    pub agents_generation: StoredValue<u64>,
    pub groups: RwSignal<Vec<Group>>,
    pub saved_responses: RwSignal<Vec<SavedResponse>>,
    /// The contact panel of the open conversation.
    pub contact: RwSignal<Option<ContactPanel>>,
    /// Conversations waiting for this agent when the console connected (I15).
    pub waiting: RwSignal<Option<u64>>,
    /// Which screen of the console is shown.
    pub view: RwSignal<View>,
    /// Who is typing where (W7, I15), from the agent socket.
    pub typing: RwSignal<Vec<Typist>>,
    /// Counts `inbound_mail_changed` pushes: the admin screen's inbound email log fetches again
    /// when it changes (E5).
    pub inbound_mail_changes: RwSignal<u32>,
}

/// The console's screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Inbox,
    Admin,
}

impl Inbox {
    pub fn new(session: Session) -> Self {
        Self {
            session: Signal::stored(session),
            conversations: RwSignal::new(Vec::new()),
            list_loaded: RwSignal::new(false),
            list_error: RwSignal::new(None),
            selected: RwSignal::new(None),
            thread: RwSignal::new(Thread::default()),
            live: RwSignal::new(LiveStatus::Connecting),
            drafts: StoredValue::new(HashMap::new()),
            now: RwSignal::new(crate::time::now()),
            filters: RwSignal::new(Filters::default()),
            next_page: RwSignal::new(None),
            agents: RwSignal::new(Vec::new()),
            agents_generation: StoredValue::new(0),
            groups: RwSignal::new(Vec::new()),
            saved_responses: RwSignal::new(Vec::new()),
            contact: RwSignal::new(None),
            waiting: RwSignal::new(None),
            view: RwSignal::new(View::Inbox),
            typing: RwSignal::new(Vec::new()),
            inbound_mail_changes: RwSignal::new(0),
        }
    }

    pub fn me(&self) -> AgentId {
        self.session.with_untracked(|s| s.agent.id)
    }

    pub fn csrf(&self) -> String {
        self.session.with_untracked(|s| s.csrf_token.clone())
    }

    /// Applies a pushed or answered row: replaced, added, or removed when it no longer
    /// matches the filters (the open conversation stays).
    pub fn apply_row(&self, row: ConversationSummary) {
        let admitted = self.filters.with_untracked(|filters| {
            let me = self.me();
            self.groups
                .with_untracked(|groups| filters.admits(&row, me, groups))
        });
        let searching = self.filters.with_untracked(|f| !f.search.trim().is_empty());
        let open = self.selected.get_untracked() == Some(row.id);
        self.conversations.try_update(|list| {
            let shown = list.iter().any(|c| c.id == row.id);
            if admitted && (shown || !searching) || open {
                upsert_conversation(list, row);
            } else if shown {
                list.retain(|c| c.id != row.id);
            }
        });
    }

    /// The row of a conversation without tracking (for async continuations).
    pub fn summary_untracked(&self, id: ConversationId) -> Option<ConversationSummary> {
        self.conversations
            .with_untracked(|list| list.iter().find(|c| c.id == id).cloned())
    }

    /// The row of a conversation, if it is in the list.
    pub fn summary(&self, id: ConversationId) -> Option<ConversationSummary> {
        self.conversations
            .with(|list| list.iter().find(|c| c.id == id).cloned())
    }

    /// Applies a `delivery_changed` push (E1) to the open thread. Returns whether the open
    /// thread should be fetched again: it is about this conversation but the message is not
    /// here yet (the push overtook the message).
    pub fn delivery_changed(
        &self,
        conversation: ConversationId,
        message: MessageId,
        delivery: &Delivery,
    ) -> bool {
        let mut missing = false;
        self.thread.try_update(|thread| {
            if thread.conversation == Some(conversation) {
                let applied = apply_delivery(&mut thread.messages, message, delivery);
                // While the first fetch runs, the message may simply not be here yet.
                missing = !applied && !thread.loading;
            }
        });
        missing
    }

    /// Applies a message from any source (push or the answer to our own reply). Returns whether
    /// the open thread has a gap and must be fetched again.
    pub fn add_message(&self, message: AgentMessage) -> bool {
        self.conversations
            .try_update(|list| _ = bump_for_message(list, &message.message));
        let mut gap = false;
        self.thread.try_update(|thread| {
            if thread.conversation == Some(message.message.conversation_id) {
                let inserted = insert_message(&mut thread.messages, message);
                // While the first fetch is running, "missing" messages are simply not here yet.
                gap = inserted == Inserted::AfterGap && !thread.loading;
            }
        });
        gap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::agent::DeliveryState;
    use natter_protocol::{Author, ClientMessageId};
    use uuid::Uuid;

    fn row(n: u128, activity: i64, count: u64) -> ConversationSummary {
        ConversationSummary {
            id: ConversationId(Uuid::from_u128(n)),
            site: "demo".into(),
            visitor_label: format!("Visitor {n}"),
            last_message_preview: None,
            last_activity_at: activity,
            message_count: count,
            created_at: 0,
            state: Default::default(),
        }
    }

    fn message(n: u128, seq: Seq) -> AgentMessage {
        AgentMessage {
            message: plain(n, seq),
            internal: false,
            delivery: None,
            unverified_sender: None,
        }
    }

    fn plain(n: u128, seq: Seq) -> natter_protocol::Message {
        natter_protocol::Message {
            id: MessageId(Uuid::from_u128(n)),
            conversation_id: ConversationId(Uuid::from_u128(1)),
            seq,
            client_id: ClientMessageId(Uuid::from_u128(n)),
            author: Author::Visitor,
            channel: Channel::Chat,
            text: format!("m{n}"),
            sent_at: seq as i64,
            attachments: Vec::new(),
        }
    }

    fn ids(list: &[ConversationSummary]) -> Vec<u128> {
        list.iter().map(|c| c.id.0.as_u128()).collect()
    }

    #[test]
    fn upsert_keeps_newest_first_and_ignores_stale_rows() {
        let mut list = vec![row(1, 10, 1), row(2, 5, 1)];
        upsert_conversation(&mut list, row(2, 20, 2));
        assert_eq!(ids(&list), [2, 1]);
        upsert_conversation(&mut list, row(3, 15, 1));
        assert_eq!(ids(&list), [2, 3, 1]);
        upsert_conversation(&mut list, row(2, 5, 1));
        assert_eq!(list[0].message_count, 2, "a stale push must not win");
    }

    #[test]
    fn merge_list_keeps_rows_pushed_during_the_fetch() {
        let current = vec![row(3, 30, 1), row(1, 12, 2), row(9, 1, 1)];
        let fetched = vec![row(2, 20, 1), row(1, 10, 1)];
        let merged = merge_list(&current, fetched);
        // 3 is newer than the snapshot (kept); 9 is older (deleted); 1 keeps the fresher row.
        assert_eq!(ids(&merged), [3, 2, 1]);
        assert_eq!(merged[2].message_count, 2);
    }

    #[test]
    fn messages_dedupe_by_id_and_report_gaps() {
        let mut thread = vec![message(1, 1)];
        assert_eq!(
            insert_message(&mut thread, message(2, 2)),
            Inserted::Appended
        );
        assert_eq!(
            insert_message(&mut thread, message(2, 2)),
            Inserted::Duplicate
        );
        assert_eq!(
            insert_message(&mut thread, message(5, 5)),
            Inserted::AfterGap
        );
        assert_eq!(thread.len(), 3);
    }

    #[test]
    fn merge_thread_is_a_union_in_seq_order() {
        let merged = merge_thread(&[message(3, 3)], vec![message(1, 1), message(2, 2)]);
        let seqs: Vec<Seq> = merged.iter().map(|m| m.message.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
    }

    fn delivery(state: DeliveryState, at: UnixMillis) -> Delivery {
        Delivery {
            state,
            detail: None,
            updated_at: at,
        }
    }

    #[test]
    fn a_delivery_push_updates_its_message_unless_it_is_older() {
        let mut thread = vec![message(1, 1), message(2, 2)];
        let id = thread[1].message.id;
        assert!(apply_delivery(
            &mut thread,
            id,
            &delivery(DeliveryState::Pending, 10)
        ));
        assert!(apply_delivery(
            &mut thread,
            id,
            &delivery(DeliveryState::Sent, 20)
        ));
        assert!(apply_delivery(
            &mut thread,
            id,
            &delivery(DeliveryState::Pending, 15)
        ));
        assert_eq!(
            thread[1].delivery.as_ref().map(|d| d.state),
            Some(DeliveryState::Sent),
            "a late, older state does not go back"
        );
        let unknown = MessageId(Uuid::from_u128(9));
        assert!(!apply_delivery(
            &mut thread,
            unknown,
            &delivery(DeliveryState::Sent, 30)
        ));
    }

    #[test]
    fn a_second_copy_of_a_message_brings_its_delivery() {
        let mut thread = vec![message(1, 1)];
        let mut answer = message(1, 1);
        answer.delivery = Some(delivery(DeliveryState::Pending, 10));
        assert_eq!(
            insert_message(&mut thread, answer.clone()),
            Inserted::Duplicate
        );
        assert_eq!(thread[0].delivery, answer.delivery);
    }

    #[test]
    fn a_fetched_thread_keeps_a_delivery_pushed_after_its_snapshot() {
        let mut shown = message(1, 1);
        shown.delivery = Some(delivery(DeliveryState::Failed, 20));
        let mut fetched = message(1, 1);
        fetched.delivery = Some(delivery(DeliveryState::Pending, 10));
        let merged = merge_thread(&[shown.clone()], vec![fetched]);
        assert_eq!(merged[0].delivery, shown.delivery);

        let mut newer = message(1, 1);
        newer.delivery = Some(delivery(DeliveryState::Sent, 30));
        let merged = merge_thread(&[shown], vec![newer.clone()]);
        assert_eq!(merged[0].delivery, newer.delivery);
    }

    #[test]
    fn a_message_bumps_its_row() {
        let mut list = vec![row(2, 20, 1), row(1, 0, 0)];
        assert!(bump_for_message(&mut list, &plain(7, 1)));
        assert_eq!(list[1].last_message_preview.as_deref(), Some("m7"));
        assert!(!bump_for_message(&mut list, &plain(7, 1)));
    }

    #[test]
    fn a_files_only_message_is_previewed_by_its_names() {
        let mut list = vec![row(1, 0, 0)];
        let mut files_only = plain(7, 1);
        files_only.text = String::new();
        files_only.attachments = vec![natter_protocol::Attachment {
            id: natter_protocol::AttachmentId(Uuid::from_u128(9)),
            name: "hours.txt".into(),
            content_type: "text/plain".into(),
            size: 10,
            url: "/v1/attachments/9/t".into(),
        }];
        assert!(bump_for_message(&mut list, &files_only));
        assert_eq!(list[0].last_message_preview.as_deref(), Some("hours.txt"));
    }

    #[test]
    fn typing_is_renewed_ended_and_lapses() {
        let conversation = ConversationId(Uuid::from_u128(1));
        let bea = AgentId(Uuid::from_u128(2));
        let typist = |agent_id: Option<AgentId>, until| Typist {
            conversation_id: conversation,
            agent_id,
            name: agent_id.map(|_| "Bea".to_owned()),
            until,
        };
        let mut list = Vec::new();
        apply_typing(&mut list, typist(None, 1_000), true, 0);
        apply_typing(&mut list, typist(Some(bea), 1_000), true, 0);
        apply_typing(&mut list, typist(None, 2_000), true, 500);
        let shown = typing_in(&list, conversation, 1_500);
        assert_eq!(
            shown.len(),
            1,
            "Bea's indicator lapsed, the visitor's was renewed"
        );
        assert_eq!(shown[0].agent_id, None);
        assert!(typing_in(&list, conversation, 2_000).is_empty());

        apply_typing(&mut list, typist(Some(bea), 9_000), true, 2_000);
        apply_typing(&mut list, typist(None, 9_000), true, 2_000);
        let mut from_visitor = plain(9, 3);
        from_visitor.conversation_id = conversation;
        end_typing_for(&mut list, &from_visitor);
        let shown = typing_in(&list, conversation, 2_000);
        assert_eq!(
            shown.len(),
            1,
            "the visitor's message ended their indicator"
        );
        assert_eq!(shown[0].agent_id, Some(bea));
        apply_typing(&mut list, typist(Some(bea), 9_000), false, 2_000);
        assert!(typing_in(&list, conversation, 2_000).is_empty());
    }

    #[test]
    fn contact_messages_end_the_visitors_typing_and_bot_messages_nobodys() {
        let conversation = ConversationId(Uuid::from_u128(1));
        let bea = AgentId(Uuid::from_u128(2));
        let typist = |agent_id: Option<AgentId>| Typist {
            conversation_id: conversation,
            agent_id,
            name: None,
            until: 9_000,
        };
        let mut list = vec![typist(None), typist(Some(bea))];
        for author in [
            Author::Bot {
                name: "Helper".into(),
            },
            Author::System,
        ] {
            let mut message = plain(9, 3);
            message.author = author;
            end_typing_for(&mut list, &message);
            assert_eq!(
                list.len(),
                2,
                "neither the bot nor a notice ends anyone's typing"
            );
        }
        let mut email = plain(9, 3);
        email.author = Author::Contact { name: None };
        end_typing_for(&mut list, &email);
        assert_eq!(list, vec![typist(Some(bea))]);
    }

    #[test]
    fn filters_admit_rows_by_status_assignee_and_block() {
        let me = AgentId(Uuid::from_u128(1));
        let mut r = row(1, 1, 1);
        let open_mine = Filters {
            status: Some(ConversationStatus::Open),
            assignee: Some(AssigneeFilter::Mine),
            ..Filters::default()
        };
        assert!(!open_mine.admits(&r, me, &[]), "unassigned is not mine");
        r.state.assigned_agent = Some(me);
        assert!(open_mine.admits(&r, me, &[]));
        r.state.status = ConversationStatus::Complete;
        assert!(!open_mine.admits(&r, me, &[]));
        assert!(Filters::default().admits(&r, me, &[]));
        r.state.blocked = true;
        assert!(!Filters::default().admits(&r, me, &[]));
    }
}
