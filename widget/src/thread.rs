//! The visitor's thread as the widget shows it: stored messages plus messages still in flight.
//!
//! Pure data, no DOM and no socket, so the merge rules can be unit-tested natively. The rules
//! (W4) are: stored messages are kept in `seq` order and never duplicated (deduplicated by
//! message id and by `seq`); a pending message disappears the moment a stored message with its
//! `client_id` arrives (by ack, by welcome or live, also when another tab sent it); a refused
//! message stays, marked failed, so nothing typed is lost. The thread also knows how far agents
//! have read the visitor's messages (the "Read" state) and counts the team's messages after the
//! visitor's seen mark (the unread badge, W9).
//!
//! Sides: the customer's side (the web visitor, or the same person as a `Contact` on another
//! channel, e.g. their email reply) is "mine"; the team's side (agents and the site's bot) is
//! "theirs"; the relay's `System` notices belong to nobody and sit in the middle.

use natter_protocol::{
    Attachment, AttachmentId, Author, Channel, ClientMessageId, ConversationId, Message, Seq,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A visitor message the relay has not acknowledged yet. Serialised into the persistent outbox
/// (see `outbox`), so its fields only ever gain `#[serde(default)]` additions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub client_id: ClientMessageId,
    pub text: String,
    /// Files already uploaded, sent with the message by id and shown with it meanwhile.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// The relay refused it (an error frame named its `client_id`); not re-sent automatically.
    #[serde(default)]
    pub failed: bool,
}

impl Pending {
    /// The ids the `send` frame carries.
    pub fn attachment_ids(&self) -> Vec<AttachmentId> {
        self.attachments
            .iter()
            .map(|attachment| attachment.id)
            .collect()
    }
}

/// What the visitor sees about one of their own messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Not acknowledged yet (also while offline, and after a reload until the relay answers).
    Sending,
    /// Stored by the relay; no agent has read it yet.
    Sent,
    /// The newest of the visitor's messages an agent has read: labelled "Read".
    Read,
    /// Read too, but a newer read message carries the label; shown as a quiet check mark.
    ReadEarlier,
    /// Refused by the relay; kept with a Retry button.
    Failed,
}

/// Where a row sits in the list, by who wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The customer's side: the visitor, here or on another channel (right-aligned).
    Mine,
    /// The team's side: an agent or the site's bot (left-aligned, under the name).
    Theirs,
    /// A relay notice: centred, neutral, no author and no delivery state.
    Notice,
}

impl Side {
    fn of(author: &Author) -> Self {
        match author {
            Author::Visitor | Author::Contact { .. } => Self::Mine,
            Author::Agent { .. } | Author::Bot { .. } => Self::Theirs,
            Author::System => Self::Notice,
        }
    }
}

/// The display name of a team-side author (an agent or the bot); `None` for the customer's
/// side and for relay notices. The badge, the typing line and `message:received` go by it.
pub fn team_name(author: &Author) -> Option<&str> {
    match author {
        Author::Agent { name, .. } | Author::Bot { name } => Some(name),
        Author::Visitor | Author::Contact { .. } | Author::System => None,
    }
}

/// One line of the message list, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub client_id: ClientMessageId,
    pub side: Side,
    /// The display name of the agent or bot, for team-side messages.
    pub author: Option<String>,
    pub text: String,
    /// Files sent with the message (stored or still pending).
    pub attachments: Vec<Attachment>,
    /// `None` while the message is not stored yet.
    pub channel: Option<Channel>,
    /// The delivery state, for the visitor's own messages.
    pub delivery: Option<Delivery>,
}

impl Row {
    /// Written on the customer's side (right-aligned, with a delivery state).
    pub fn mine(&self) -> bool {
        self.side == Side::Mine
    }

    /// The list key: stable from "sending" to "read" (the state is looked up by it).
    pub fn key(&self) -> Uuid {
        self.client_id.0
    }
}

/// The thread: stored messages in ascending `seq`, then pending ones in the order typed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Thread {
    conversation: Option<ConversationId>,
    stored: Vec<Message>,
    pending: Vec<Pending>,
    /// Agents have read the visitor's messages up to this seq (`welcome.read_up_to`, `read`).
    read_up_to: Seq,
}

impl Thread {
    /// Whether there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.stored.is_empty() && self.pending.is_empty()
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.stored.len() + self.pending.len()
    }

    /// The highest stored `seq`, for `hello.after_seq` on reconnects and the `seen` mark.
    pub fn last_seq(&self) -> Option<Seq> {
        self.stored.last().map(|message| message.seq)
    }

    /// Replaces the stored messages (a first welcome, or a different conversation). Pending
    /// messages are kept: they were typed on this page and must still be delivered.
    pub fn replace(&mut self, conversation: Option<ConversationId>, messages: Vec<Message>) {
        self.conversation = conversation;
        self.stored.clear();
        self.read_up_to = 0;
        for message in messages {
            self.insert(message);
        }
    }

    /// Merges the messages of a welcome after a reconnect. A welcome for another conversation
    /// than the one shown replaces the thread instead.
    pub fn merge(&mut self, conversation: Option<ConversationId>, messages: Vec<Message>) {
        if matches!((self.conversation, conversation), (Some(old), Some(new)) if old != new) {
            self.replace(conversation, messages);
            return;
        }
        for message in messages {
            self.insert(message);
        }
    }

    /// Adds a stored message unless it is already shown, and removes the pending message it
    /// stores. Returns whether the message was new.
    pub fn insert(&mut self, message: Message) -> bool {
        self.remove_pending(message.client_id);
        if self.conversation.is_none() {
            self.conversation = Some(message.conversation_id);
        }
        if self.stored.iter().any(|stored| stored.id == message.id) {
            return false;
        }
        match self
            .stored
            .binary_search_by_key(&message.seq, |stored| stored.seq)
        {
            Ok(_) => false,
            Err(position) => {
                self.stored.insert(position, message);
                true
            }
        }
    }

    /// The relay stored the message with `client_id`: the pending row becomes `message`.
    /// Returns whether the message was new (not an ack of a resend already shown).
    pub fn ack(&mut self, client_id: ClientMessageId, message: Message) -> bool {
        self.remove_pending(client_id);
        self.insert(message)
    }

    /// Adds a message the visitor just typed.
    pub fn add_pending(
        &mut self,
        client_id: ClientMessageId,
        text: String,
        attachments: Vec<Attachment>,
    ) {
        self.restore(Pending {
            client_id,
            text,
            attachments,
            failed: false,
        });
    }

    /// Adds a pending message from the persistent outbox, unless it is already shown (pending
    /// or stored: another tab may have sent it meanwhile). Returns whether it was added.
    pub fn restore(&mut self, pending: Pending) -> bool {
        let known = self
            .pending
            .iter()
            .any(|p| p.client_id == pending.client_id)
            || self
                .stored
                .iter()
                .any(|message| message.client_id == pending.client_id);
        if !known {
            self.pending.push(pending);
        }
        !known
    }

    /// Marks a pending message as refused. Returns whether it was found.
    pub fn fail(&mut self, client_id: ClientMessageId) -> bool {
        match self.pending.iter_mut().find(|p| p.client_id == client_id) {
            Some(pending) => {
                pending.failed = true;
                true
            }
            None => false,
        }
    }

    /// Puts a failed message back into the sending state; returns it to send again.
    pub fn retry(&mut self, client_id: ClientMessageId) -> Option<Pending> {
        let pending = self
            .pending
            .iter_mut()
            .find(|p| p.client_id == client_id && p.failed)?;
        pending.failed = false;
        Some(pending.clone())
    }

    /// The messages to (re-)send after a welcome: pending and not refused, in the order typed.
    pub fn unsent(&self) -> Vec<Pending> {
        self.pending.iter().filter(|p| !p.failed).cloned().collect()
    }

    /// Every message not stored yet, refused ones included (what the outbox keeps).
    pub fn pending(&self) -> &[Pending] {
        &self.pending
    }

    /// Agents have read the visitor's messages up to `seq`. Only ever moves forward (a `read`
    /// frame may cross a welcome). Returns whether anything changed.
    pub fn set_read(&mut self, seq: Seq) -> bool {
        let moved = seq > self.read_up_to;
        if moved {
            self.read_up_to = seq;
        }
        moved
    }

    /// How many team-side messages (agents' and the bot's) are newer than the visitor's seen
    /// mark (W9). Relay notices are not replies and never raise the badge.
    pub fn unread_after(&self, seen: Seq) -> u32 {
        let count = self
            .stored
            .iter()
            .filter(|message| message.seq > seen && team_name(&message.author).is_some())
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// The rows to render, in display order.
    pub fn rows(&self) -> Vec<Row> {
        let newest_read = self.newest_read();
        let stored = self
            .stored
            .iter()
            .map(|message| stored_row(message, newest_read));
        stored.chain(self.pending.iter().map(pending_row)).collect()
    }

    /// The row of one message, by `client_id`: a row keeps its key from "sending" to "read",
    /// so the list updates it in place (screen readers do not hear it again).
    pub fn row(&self, client_id: ClientMessageId) -> Option<Row> {
        if let Some(pending) = self.pending.iter().find(|p| p.client_id == client_id) {
            return Some(pending_row(pending));
        }
        let message = self.stored.iter().find(|m| m.client_id == client_id)?;
        Some(stored_row(message, self.newest_read()))
    }

    /// The seq of the newest customer-side message an agent has read: only it says "Read",
    /// like a messenger app does.
    fn newest_read(&self) -> Option<Seq> {
        self.stored
            .iter()
            .rev()
            .find(|m| m.seq <= self.read_up_to && m.author.is_customer())
            .map(|message| message.seq)
    }

    fn remove_pending(&mut self, client_id: ClientMessageId) {
        self.pending.retain(|p| p.client_id != client_id);
    }
}

fn stored_row(message: &Message, newest_read: Option<Seq>) -> Row {
    let side = Side::of(&message.author);
    let delivery = match newest_read {
        Some(newest) if message.seq == newest => Delivery::Read,
        Some(newest) if message.seq < newest => Delivery::ReadEarlier,
        _ => Delivery::Sent,
    };
    Row {
        client_id: message.client_id,
        side,
        author: team_name(&message.author).map(str::to_owned),
        text: message.text.clone(),
        attachments: message.attachments.clone(),
        channel: Some(message.channel),
        delivery: (side == Side::Mine).then_some(delivery),
    }
}

fn pending_row(pending: &Pending) -> Row {
    Row {
        client_id: pending.client_id,
        side: Side::Mine,
        author: None,
        text: pending.text.clone(),
        attachments: pending.attachments.clone(),
        channel: None,
        delivery: Some(if pending.failed {
            Delivery::Failed
        } else {
            Delivery::Sending
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::{AgentId, MessageId};

    fn conversation() -> ConversationId {
        ConversationId(Uuid::from_u128(1))
    }

    fn message(seq: Seq, author: Author) -> Message {
        Message {
            id: MessageId(Uuid::from_u128(1000 + u128::from(seq))),
            conversation_id: conversation(),
            seq,
            client_id: ClientMessageId(Uuid::from_u128(2000 + u128::from(seq))),
            author,
            channel: Channel::Chat,
            text: format!("message {seq}"),
            sent_at: 0,
            attachments: Vec::new(),
        }
    }

    fn agent() -> Author {
        Author::Agent {
            agent_id: AgentId(Uuid::nil()),
            name: "Ada".into(),
        }
    }

    fn seqs(thread: &Thread) -> Vec<Seq> {
        thread.stored.iter().map(|m| m.seq).collect()
    }

    #[test]
    fn merge_orders_by_seq_and_drops_duplicates() {
        let mut thread = Thread::default();
        thread.replace(
            Some(conversation()),
            vec![message(1, Author::Visitor), message(2, agent())],
        );
        thread.merge(
            Some(conversation()),
            vec![
                message(2, agent()),
                message(4, agent()),
                message(3, agent()),
            ],
        );
        assert!(!thread.insert(message(3, agent())));
        assert_eq!(seqs(&thread), vec![1, 2, 3, 4]);
        assert_eq!(thread.last_seq(), Some(4));
    }

    #[test]
    fn ack_replaces_the_pending_row() {
        let mut thread = Thread::default();
        let stored = message(1, Author::Visitor);
        thread.add_pending(stored.client_id, "hi".into(), Vec::new());
        assert_eq!(thread.rows()[0].delivery, Some(Delivery::Sending));
        assert!(thread.ack(stored.client_id, stored.clone()));
        assert_eq!(thread.len(), 1);
        assert_eq!(thread.rows()[0].delivery, Some(Delivery::Sent));
        assert!(thread.unsent().is_empty());
        // The same message arriving live (e.g. echoed) is not shown twice.
        assert!(!thread.insert(stored));
        assert_eq!(thread.len(), 1);
    }

    #[test]
    fn pending_survives_a_replace_and_is_resent() {
        let mut thread = Thread::default();
        let id = ClientMessageId(Uuid::from_u128(7));
        thread.add_pending(id, "typed offline".into(), Vec::new());
        thread.replace(None, vec![message(1, agent())]);
        let unsent = thread.unsent();
        assert_eq!(unsent.len(), 1);
        assert_eq!(
            (unsent[0].client_id, unsent[0].text.as_str()),
            (id, "typed offline")
        );
        assert_eq!(thread.rows().last().map(Row::mine), Some(true));
    }

    #[test]
    fn failed_messages_keep_their_text_and_can_be_retried() {
        let mut thread = Thread::default();
        let id = ClientMessageId(Uuid::from_u128(7));
        thread.add_pending(id, "too long".into(), Vec::new());
        assert!(thread.fail(id));
        assert!(thread.unsent().is_empty());
        assert_eq!(thread.rows()[0].text, "too long");
        assert_eq!(thread.rows()[0].delivery, Some(Delivery::Failed));
        assert_eq!(
            thread.retry(id).map(|pending| pending.text).as_deref(),
            Some("too long")
        );
        assert_eq!(thread.unsent().len(), 1);
    }

    #[test]
    fn a_welcome_for_another_conversation_replaces_the_thread() {
        let mut thread = Thread::default();
        thread.replace(Some(conversation()), vec![message(1, agent())]);
        let mut other = message(1, agent());
        other.id = MessageId(Uuid::from_u128(99));
        other.conversation_id = ConversationId(Uuid::from_u128(2));
        thread.merge(Some(other.conversation_id), vec![other.clone()]);
        assert_eq!(thread.stored, vec![other]);
    }

    #[test]
    fn agent_rows_carry_the_agent_name() {
        let mut thread = Thread::default();
        thread.insert(message(1, agent()));
        let row = &thread.rows()[0];
        assert!(!row.mine());
        assert_eq!(row.side, Side::Theirs);
        assert_eq!(row.author.as_deref(), Some("Ada"));
        assert_eq!(row.delivery, None);
    }

    fn deliveries(thread: &Thread) -> Vec<Option<Delivery>> {
        thread.rows().iter().map(|row| row.delivery).collect()
    }

    #[test]
    fn only_the_newest_read_message_says_read() {
        let mut thread = Thread::default();
        thread.replace(
            Some(conversation()),
            vec![
                message(1, Author::Visitor),
                message(2, Author::Visitor),
                message(3, agent()),
                message(4, Author::Visitor),
            ],
        );
        assert_eq!(
            deliveries(&thread),
            vec![
                Some(Delivery::Sent),
                Some(Delivery::Sent),
                None,
                Some(Delivery::Sent)
            ]
        );
        assert!(thread.set_read(3));
        assert_eq!(
            deliveries(&thread),
            vec![
                Some(Delivery::ReadEarlier),
                Some(Delivery::Read),
                None,
                Some(Delivery::Sent)
            ]
        );
        // A stale read mark (crossing a welcome) never moves it back.
        assert!(!thread.set_read(1));
        assert!(thread.set_read(4));
        // A single row (the list updates rows in place) says the same as the whole list.
        let first = message(1, Author::Visitor).client_id;
        assert_eq!(
            thread.row(first).and_then(|row| row.delivery),
            Some(Delivery::ReadEarlier)
        );
        assert_eq!(deliveries(&thread)[3], Some(Delivery::Read));
        assert_eq!(deliveries(&thread)[1], Some(Delivery::ReadEarlier));
    }

    #[test]
    fn unread_counts_agent_messages_after_the_seen_mark() {
        let mut thread = Thread::default();
        thread.replace(
            Some(conversation()),
            vec![
                message(1, agent()),
                message(2, Author::Visitor),
                message(3, agent()),
                message(4, agent()),
            ],
        );
        assert_eq!(thread.unread_after(0), 3);
        assert_eq!(thread.unread_after(2), 2);
        assert_eq!(thread.unread_after(4), 0);
        // The visitor's own messages (e.g. from another tab) are never unread.
        thread.insert(message(5, Author::Visitor));
        assert_eq!(thread.unread_after(4), 0);
    }

    fn contact() -> Author {
        Author::Contact {
            name: Some("Grace".into()),
        }
    }

    fn bot() -> Author {
        Author::Bot {
            name: "Helper".into(),
        }
    }

    #[test]
    fn a_contact_message_is_the_visitors_own_side() {
        let mut thread = Thread::default();
        let mut email = message(1, contact());
        email.channel = Channel::Email;
        thread.replace(Some(conversation()), vec![email]);
        let row = &thread.rows()[0];
        assert!(row.mine());
        assert_eq!(row.side, Side::Mine);
        // Their own reply: no author line, like the visitor's chat messages.
        assert_eq!(row.author, None);
        assert_eq!(row.channel, Some(Channel::Email));
        assert_eq!(row.delivery, Some(Delivery::Sent));
        // Never unread: the visitor wrote it.
        assert_eq!(thread.unread_after(0), 0);
    }

    #[test]
    fn read_receipts_apply_to_contact_messages_too() {
        let mut thread = Thread::default();
        thread.replace(
            Some(conversation()),
            vec![
                message(1, Author::Visitor),
                message(2, contact()),
                message(3, bot()),
                message(4, Author::System),
            ],
        );
        assert!(thread.set_read(4));
        // The newest customer-side message read is the contact's email reply.
        assert_eq!(
            deliveries(&thread),
            vec![
                Some(Delivery::ReadEarlier),
                Some(Delivery::Read),
                None,
                None
            ]
        );
    }

    #[test]
    fn bot_rows_are_on_the_teams_side_under_the_bots_name() {
        let mut thread = Thread::default();
        thread.insert(message(1, bot()));
        let row = &thread.rows()[0];
        assert!(!row.mine());
        assert_eq!(row.side, Side::Theirs);
        assert_eq!(row.author.as_deref(), Some("Helper"));
        assert_eq!(row.delivery, None);
        assert_eq!(row.channel, Some(Channel::Chat));
    }

    #[test]
    fn system_rows_are_neutral_notices() {
        let mut thread = Thread::default();
        thread.insert(message(1, Author::System));
        let row = &thread.rows()[0];
        assert!(!row.mine());
        assert_eq!(row.side, Side::Notice);
        assert_eq!(row.author, None);
        assert_eq!(row.delivery, None);
        assert_eq!(row.text, "message 1");
    }

    #[test]
    fn unread_counts_the_teams_side_only() {
        let mut thread = Thread::default();
        thread.replace(
            Some(conversation()),
            vec![
                message(1, agent()),
                message(2, bot()),
                message(3, Author::System),
                message(4, contact()),
                message(5, Author::Visitor),
                message(6, bot()),
            ],
        );
        // Agents' and the bot's messages count; notices and the customer's own do not.
        assert_eq!(thread.unread_after(0), 3);
        assert_eq!(thread.unread_after(2), 1);
        assert_eq!(thread.unread_after(6), 0);
    }

    #[test]
    fn team_names_are_the_agents_and_the_bots() {
        assert_eq!(team_name(&agent()), Some("Ada"));
        assert_eq!(team_name(&bot()), Some("Helper"));
        assert_eq!(team_name(&contact()), None);
        assert_eq!(team_name(&Author::Visitor), None);
        assert_eq!(team_name(&Author::System), None);
    }

    #[test]
    fn a_message_restored_from_the_outbox_is_shown_once() {
        let mut thread = Thread::default();
        let stored = message(1, Author::Visitor);
        let pending = Pending {
            client_id: stored.client_id,
            text: stored.text.clone(),
            attachments: Vec::new(),
            failed: false,
        };
        assert!(thread.restore(pending.clone()));
        assert!(!thread.restore(pending.clone()), "no duplicate pending row");
        // Another tab sent it: the live frame replaces the pending row.
        assert!(thread.insert(stored));
        assert_eq!(thread.len(), 1);
        assert_eq!(deliveries(&thread), vec![Some(Delivery::Sent)]);
        // The outbox still listed it (not yet updated by the other tab): not shown again.
        assert!(!thread.restore(pending));
        assert_eq!(thread.len(), 1);
        assert!(thread.unsent().is_empty());
    }

    #[test]
    fn pending_rows_carry_their_attachments() {
        let mut thread = Thread::default();
        let attachment = Attachment {
            id: AttachmentId(Uuid::from_u128(5)),
            name: "photo.png".into(),
            content_type: "image/png".into(),
            size: 10,
            url: "/v1/attachments/x/y".into(),
        };
        let id = ClientMessageId(Uuid::from_u128(7));
        thread.add_pending(id, String::new(), vec![attachment.clone()]);
        assert_eq!(thread.rows()[0].attachments, vec![attachment.clone()]);
        assert_eq!(thread.unsent()[0].attachment_ids(), vec![attachment.id]);
    }
}
