//! The visitor's thread as the widget shows it: stored messages plus messages still in flight.
//!
//! Pure data, no DOM and no socket, so the merge rules can be unit-tested natively. The rules
//! (W4) are: stored messages are kept in `seq` order and never duplicated (deduplicated by
//! message id and by `seq`); a pending message disappears the moment a stored message with its
//! `client_id` arrives (by ack, by welcome or live); a refused message stays, marked failed,
//! so nothing typed is lost.

use natter_protocol::{Author, Channel, ClientMessageId, ConversationId, Message, Seq};
use uuid::Uuid;

/// A visitor message the relay has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub client_id: ClientMessageId,
    pub text: String,
    /// The relay refused it (an error frame named its `client_id`); not re-sent automatically.
    pub failed: bool,
}

/// What the visitor sees about one of their own messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    Sending,
    Sent,
    Failed,
}

/// One line of the message list, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub client_id: ClientMessageId,
    /// Written by the visitor (right-aligned) rather than an agent.
    pub mine: bool,
    /// The agent's display name, for agent messages.
    pub author: Option<String>,
    pub text: String,
    /// `None` while the message is not stored yet.
    pub channel: Option<Channel>,
    /// The delivery state, for the visitor's own messages.
    pub delivery: Option<Delivery>,
}

impl Row {
    /// The list key: the row is re-rendered when its delivery state changes.
    pub fn key(&self) -> (Uuid, Option<Delivery>) {
        (self.client_id.0, self.delivery)
    }
}

/// The thread: stored messages in ascending `seq`, then pending ones in the order typed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Thread {
    conversation: Option<ConversationId>,
    stored: Vec<Message>,
    pending: Vec<Pending>,
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

    /// The highest stored `seq`, for `hello.after_seq` on reconnects.
    pub fn last_seq(&self) -> Option<Seq> {
        self.stored.last().map(|message| message.seq)
    }

    /// Replaces the stored messages (a first welcome, or a different conversation). Pending
    /// messages are kept: they were typed on this page and must still be delivered.
    pub fn replace(&mut self, conversation: Option<ConversationId>, messages: Vec<Message>) {
        self.conversation = conversation;
        self.stored.clear();
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
    pub fn add_pending(&mut self, client_id: ClientMessageId, text: String) {
        self.pending.push(Pending {
            client_id,
            text,
            failed: false,
        });
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

    /// Puts a failed message back into the sending state; returns its text to send again.
    pub fn retry(&mut self, client_id: ClientMessageId) -> Option<String> {
        let pending = self
            .pending
            .iter_mut()
            .find(|p| p.client_id == client_id && p.failed)?;
        pending.failed = false;
        Some(pending.text.clone())
    }

    /// The messages to (re-)send after a welcome: pending and not refused.
    pub fn unsent(&self) -> Vec<(ClientMessageId, String)> {
        self.pending
            .iter()
            .filter(|p| !p.failed)
            .map(|p| (p.client_id, p.text.clone()))
            .collect()
    }

    /// The rows to render, in display order.
    pub fn rows(&self) -> Vec<Row> {
        let stored = self.stored.iter().map(|message| {
            let (mine, author) = match &message.author {
                Author::Visitor => (true, None),
                Author::Agent { name, .. } => (false, Some(name.clone())),
            };
            Row {
                client_id: message.client_id,
                mine,
                author,
                text: message.text.clone(),
                channel: Some(message.channel),
                delivery: mine.then_some(Delivery::Sent),
            }
        });
        let pending = self.pending.iter().map(|p| Row {
            client_id: p.client_id,
            mine: true,
            author: None,
            text: p.text.clone(),
            channel: None,
            delivery: Some(if p.failed {
                Delivery::Failed
            } else {
                Delivery::Sending
            }),
        });
        stored.chain(pending).collect()
    }

    fn remove_pending(&mut self, client_id: ClientMessageId) {
        self.pending.retain(|p| p.client_id != client_id);
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
        thread.add_pending(stored.client_id, "hi".into());
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
        thread.add_pending(id, "typed offline".into());
        thread.replace(None, vec![message(1, agent())]);
        assert_eq!(thread.unsent(), vec![(id, "typed offline".to_owned())]);
        assert_eq!(thread.rows().last().map(|r| r.mine), Some(true));
    }

    #[test]
    fn failed_messages_keep_their_text_and_can_be_retried() {
        let mut thread = Thread::default();
        let id = ClientMessageId(Uuid::from_u128(7));
        thread.add_pending(id, "too long".into());
        assert!(thread.fail(id));
        assert!(thread.unsent().is_empty());
        assert_eq!(thread.rows()[0].text, "too long");
        assert_eq!(thread.rows()[0].delivery, Some(Delivery::Failed));
        assert_eq!(thread.retry(id).as_deref(), Some("too long"));
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
        assert!(!row.mine);
        assert_eq!(row.author.as_deref(), Some("Ada"));
        assert_eq!(row.delivery, None);
    }
}
