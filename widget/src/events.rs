//! The widget's events for the host page (W10), as `natter('on', name, listener)` sees them.
//!
//! The app names the event and builds its detail object here; the loader owns the listener
//! registry and delivers each event in a microtask, every listener in its own try/catch, so host
//! code never runs in the middle of the widget's state updates and a throwing listener cannot
//! break the widget. `ready` is the loader's own event and is not listed here.

use js_sys::Function;
use natter_protocol::{Channel, ConversationId, Message, MessageId, UnixMillis};
use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::{log, thread::team_name};

/// One event and what it carries.
#[derive(Debug)]
pub enum WidgetEvent<'a> {
    /// The panel opened (launcher, `natter('open')`, `toggle`).
    Open,
    /// The panel closed (launcher, minimize button, Escape, `natter('close')`).
    Close,
    /// The relay stored a message the visitor sent from this page.
    MessageSent(&'a Message),
    /// A team-side message (an agent's or the bot's) arrived live (not history).
    MessageReceived(&'a Message),
    /// The number of team-side messages the visitor has not seen changed.
    Unread(u32),
    /// The relay accepted an `identify` (and, later, the email-capture form).
    EmailCaptured { email: &'a str, verified: bool },
}

/// The detail of `message:sent` and `message:received`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageDetail<'a> {
    id: MessageId,
    conversation_id: ConversationId,
    text: &'a str,
    channel: Channel,
    sent_at: UnixMillis,
    /// The display name of the agent or bot who wrote it; `null` for the visitor's own
    /// messages.
    agent_name: Option<&'a str>,
}

#[derive(Serialize)]
struct UnreadDetail {
    count: u32,
}

#[derive(Serialize)]
struct EmailDetail<'a> {
    email: &'a str,
    verified: bool,
}

impl WidgetEvent<'_> {
    /// The name listeners register for.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Close => "close",
            Self::MessageSent(_) => "message:sent",
            Self::MessageReceived(_) => "message:received",
            Self::Unread(_) => "unread",
            Self::EmailCaptured { .. } => "email:captured",
        }
    }

    /// The listener's argument, as JSON (camelCase keys, as JS code expects).
    pub fn detail(&self) -> String {
        let json = match self {
            Self::Open | Self::Close => Ok("{}".to_owned()),
            Self::MessageSent(message) | Self::MessageReceived(message) => {
                serde_json::to_string(&MessageDetail {
                    id: message.id,
                    conversation_id: message.conversation_id,
                    text: &message.text,
                    channel: message.channel,
                    sent_at: message.sent_at,
                    agent_name: team_name(&message.author),
                })
            }
            Self::Unread(count) => serde_json::to_string(&UnreadDetail { count: *count }),
            Self::EmailCaptured { email, verified } => serde_json::to_string(&EmailDetail {
                email,
                verified: *verified,
            }),
        };
        // Serialising these plain structs cannot fail.
        json.unwrap_or_else(|_| "{}".to_owned())
    }
}

/// Hands events to the loader's `emit(name, detail)`.
#[derive(Clone)]
pub struct Emitter(Function);

impl Emitter {
    pub fn new(emit: Function) -> Self {
        Self(emit)
    }

    pub fn emit(&self, event: WidgetEvent<'_>) {
        let detail = js_sys::JSON::parse(&event.detail()).unwrap_or(JsValue::NULL);
        if self
            .0
            .call2(&JsValue::NULL, &JsValue::from_str(event.name()), &detail)
            .is_err()
        {
            log::warn(&format!("cannot deliver the {} event", event.name()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::{AgentId, Author, ClientMessageId, ConversationId, MessageId};
    use uuid::Uuid;

    #[test]
    fn message_details_name_the_agent_and_use_camel_case() {
        let message = Message {
            id: MessageId(Uuid::from_u128(1)),
            conversation_id: ConversationId(Uuid::from_u128(2)),
            seq: 3,
            client_id: ClientMessageId(Uuid::from_u128(4)),
            author: Author::Agent {
                agent_id: AgentId(Uuid::nil()),
                name: "Ada".into(),
            },
            channel: Channel::Chat,
            text: "Hello".into(),
            sent_at: 1_700_000_000_000,
            attachments: Vec::new(),
        };
        let event = WidgetEvent::MessageReceived(&message);
        assert_eq!(event.name(), "message:received");
        assert_eq!(
            event.detail(),
            r#"{"id":"00000000-0000-0000-0000-000000000001","conversationId":"00000000-0000-0000-0000-000000000002","text":"Hello","channel":"chat","sentAt":1700000000000,"agentName":"Ada"}"#
        );
        assert_eq!(WidgetEvent::Unread(2).detail(), r#"{"count":2}"#);
    }

    #[test]
    fn bot_messages_carry_the_bots_name_and_customer_messages_none() {
        let mut message = Message {
            id: MessageId(Uuid::from_u128(1)),
            conversation_id: ConversationId(Uuid::from_u128(2)),
            seq: 3,
            client_id: ClientMessageId(Uuid::from_u128(4)),
            author: Author::Bot {
                name: "Helper".into(),
            },
            channel: Channel::Chat,
            text: "Hi".into(),
            sent_at: 5,
            attachments: Vec::new(),
        };
        assert!(WidgetEvent::MessageReceived(&message)
            .detail()
            .ends_with(r#""agentName":"Helper"}"#));
        message.author = Author::Contact {
            name: Some("Grace".into()),
        };
        assert!(WidgetEvent::MessageSent(&message)
            .detail()
            .ends_with(r#""agentName":null}"#));
    }
}
