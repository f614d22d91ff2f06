//! Natter's wire protocol: every type that crosses a socket or an HTTP body.
//!
//! The widget, the console and the relay all depend on this crate, so it builds for
//! `wasm32-unknown-unknown` as well as natively and depends on nothing async.
//!
//! # Compatibility rules
//! - Frames are JSON text, internally tagged by `type` in `snake_case`.
//! - New fields are `Option` or `#[serde(default)]`, so old peers still parse new frames.
//! - A tag is never reused or renamed; clients accept unknown server frames as `Unknown`.
//! - The first client frame (`Hello`) carries [`PROTOCOL_VERSION`]; the relay answers a
//!   version it cannot speak with [`ErrorCode::UpgradeRequired`].
//! - Every client frame that creates something carries a client-generated UUID that the
//!   relay uses as the idempotency key: a frame sent twice is stored once.
//! - Server frames that carry a message carry its per-conversation sequence number, so a
//!   client can ask for "everything after seq N" after any gap.
//!
//! Each frame has a golden-JSON test at the bottom of its module.

#[macro_use]
mod map_only;

pub mod agent;
pub mod files;
pub mod markdown;
pub mod visitor;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Reads a UUID from its text form, the only one JSON, URL paths and query strings carry.
/// uuid's own `Deserialize` also accepts bytes and sequences; not generating those paths keeps
/// a few kilobytes out of the widget's wasm.
fn uuid_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Uuid, D::Error> {
    struct Text;
    impl serde::de::Visitor<'_> for Text {
        type Value = Uuid;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a UUID")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Uuid, E> {
            Uuid::try_parse(text).map_err(E::custom)
        }
    }
    deserializer.deserialize_str(Text)
}

/// The version this build speaks. Bumped only for changes old peers cannot ignore.
pub const PROTOCOL_VERSION: u16 = 1;

/// The name of the first-party cookie in which the widget keeps the visitor id (W2).
pub const VISITOR_COOKIE: &str = "natter_vid";

/// How long the visitor cookie lives; renewed on every visit (W2).
pub const VISITOR_COOKIE_MAX_AGE_SECS: u64 = 30 * 24 * 60 * 60;

/// Milliseconds since the Unix epoch, UTC. Plain integers keep the wire format trivial in JS.
pub type UnixMillis = i64;

/// Identifies a conversation. Server-generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationId(#[serde(deserialize_with = "uuid_text")] pub Uuid);

/// Identifies a stored message. Server-generated; distinct from the sender's `client_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(#[serde(deserialize_with = "uuid_text")] pub Uuid);

/// The sender's idempotency key for a message: a UUID the client generates once per message
/// and reuses on every resend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientMessageId(#[serde(deserialize_with = "uuid_text")] pub Uuid);

impl ClientMessageId {
    /// A fresh random id, for a new message.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

/// Identifies an agent account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgentId(#[serde(deserialize_with = "uuid_text")] pub Uuid);

/// Position of a message within its conversation: 1, 2, 3 … with no gaps.
pub type Seq = u64;

/// The channel a message travelled on (W3 shows it on each message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Chat,
    Email,
    Messenger,
}

/// Who wrote a message. Conversations are channel-neutral: the person on the site's side is a
/// web `Visitor` in the chat, or a `Contact` on another channel (an email reply, a Messenger
/// user); the team's side is an `Agent`, the site's chatbot flow (`Bot`), or the relay itself
/// (`System` notices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Author {
    Visitor,
    /// A person writing on a channel other than the web chat. `name` as that channel gave it
    /// (an email's display name, a Messenger profile name), if any.
    Contact {
        name: Option<String>,
    },
    Agent {
        agent_id: AgentId,
        name: String,
    },
    /// The site's chatbot flow, under the name the site gave it.
    Bot {
        name: String,
    },
    /// The relay itself (notices, not a person).
    System,
}

impl Author {
    /// Whether the message comes from the customer's side (a visitor or a contact), as opposed
    /// to the team's (agents, the bot, the system).
    pub fn is_customer(&self) -> bool {
        matches!(self, Self::Visitor | Self::Contact { .. })
    }
}

/// [`Author`] read in one pass: serde's derive for an internally tagged enum buffers the value
/// and instantiates a second deserializer for the buffer (the widget's size budget).
impl<'de> Deserialize<'de> for Author {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        struct Wire {
            kind: String,
            agent_id: Option<AgentId>,
            name: Option<String>,
        }
        let wire = Wire::deserialize(deserializer)?;
        match wire.kind.as_str() {
            "visitor" => Ok(Self::Visitor),
            "contact" => Ok(Self::Contact { name: wire.name }),
            "agent" => Ok(Self::Agent {
                agent_id: wire
                    .agent_id
                    .ok_or_else(|| D::Error::missing_field("agent_id"))?,
                name: wire.name.ok_or_else(|| D::Error::missing_field("name"))?,
            }),
            "bot" => Ok(Self::Bot {
                name: wire.name.ok_or_else(|| D::Error::missing_field("name"))?,
            }),
            "system" => Ok(Self::System),
            other => Err(D::Error::unknown_variant(
                other,
                &["visitor", "contact", "agent", "bot", "system"],
            )),
        }
    }
}

/// Identifies an uploaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttachmentId(#[serde(deserialize_with = "uuid_text")] pub Uuid);

/// A file attached to a message (W8, I13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    pub id: AttachmentId,
    /// The file name as uploaded (for display and download).
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// Where to fetch it: a capability URL on the relay, given only to the conversation's
    /// visitor and to agents. Relative to the relay's origin.
    pub url: String,
}

map_only_deserialize!(Attachment {
    id: AttachmentId = "id" as required,
    name: String = "name" as required,
    content_type: String = "content_type" as required,
    size: u64 = "size" as required,
    url: String = "url" as required,
});

impl Attachment {
    /// Whether the widget and console show it inline as an image.
    pub fn is_image(&self) -> bool {
        self.content_type.starts_with("image/")
    }
}

/// One stored message, as both the widget and the console see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: Seq,
    pub client_id: ClientMessageId,
    pub author: Author,
    pub channel: Channel,
    pub text: String,
    pub sent_at: UnixMillis,
    /// Files sent with the message; the text may be empty when there are some.
    pub attachments: Vec<Attachment>,
}

map_only_deserialize!(Message {
    id: MessageId = "id" as required,
    conversation_id: ConversationId = "conversation_id" as required,
    seq: Seq = "seq" as required,
    client_id: ClientMessageId = "client_id" as required,
    author: Author = "author" as required,
    channel: Channel = "channel" as required,
    text: String = "text" as required,
    sent_at: UnixMillis = "sent_at" as required,
    attachments: Vec<Attachment> = "attachments" as default,
});

/// Why a request or frame was refused. Clients match on the code, never on the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON or not a known frame. The connection stays open.
    BadFrame,
    /// A field was out of range (for example, a message that is too long). Nothing was stored.
    InvalidInput,
    /// The client speaks a protocol version the relay does not.
    UpgradeRequired,
    /// The site key is unknown or the page's origin is not allowed for it. Terminal.
    UnknownSite,
    /// An identity token was refused: expired, not signed with this site's secret, malformed,
    /// or valid for too long. The chat goes on anonymously.
    InvalidIdentity,
    /// The client must say `hello` before anything else.
    HelloRequired,
    /// Not logged in, or the session expired.
    Unauthorized,
    /// Logged in, but not allowed to do this.
    Forbidden,
    /// The thing asked for does not exist (or is not visible to the caller).
    NotFound,
    /// Too many requests; retry later.
    RateLimited,
    /// Something failed inside the relay; retrying later may work.
    Internal,
    /// The visitor's messages are stored but not shown to agents (I10). The widget shows the
    /// message neutrally; it is not an error the visitor can fix.
    Blocked,
    /// A code this build does not know (sent by a newer relay).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Whether retrying the same request later can succeed.
    pub fn is_temporary(self) -> bool {
        matches!(self, Self::RateLimited | Self::Internal)
    }
}

/// The JSON body of every failed HTTP request and the payload of error frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: ErrorCode,
    /// A human-readable sentence; safe to show, never contains internals.
    pub message: String,
}

/// WebSocket close codes the relay uses. 4000–4499: the client should reconnect with backoff;
/// 4500–4999: terminal, reconnecting cannot help.
pub mod close_code {
    /// The relay is shutting down; reconnect (possibly to another node).
    pub const GOING_AWAY: u16 = 4000;
    /// The client did not say hello in time; reconnect.
    pub const HELLO_TIMEOUT: u16 = 4001;
    /// The site key is unknown or the origin is not allowed. Do not reconnect.
    pub const UNKNOWN_SITE: u16 = 4500;
    /// The protocol version is not supported. Do not reconnect.
    pub const UPGRADE_REQUIRED: u16 = 4501;
    /// The agent session is not valid. Log in again.
    pub const UNAUTHORIZED: u16 = 4502;

    /// Whether a client should reconnect after the socket closed with `code`.
    pub fn should_reconnect(code: u16) -> bool {
        !(4500..5000).contains(&code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_golden_json() {
        let message = Message {
            id: MessageId(Uuid::nil()),
            conversation_id: ConversationId(Uuid::nil()),
            seq: 3,
            client_id: ClientMessageId(Uuid::nil()),
            author: Author::Agent {
                agent_id: AgentId(Uuid::nil()),
                name: "Ada".into(),
            },
            channel: Channel::Chat,
            text: "hi".into(),
            sent_at: 1_700_000_000_000,
            attachments: vec![],
        };
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": "00000000-0000-0000-0000-000000000000",
                "conversation_id": "00000000-0000-0000-0000-000000000000",
                "seq": 3,
                "client_id": "00000000-0000-0000-0000-000000000000",
                "author": {"kind": "agent", "agent_id": "00000000-0000-0000-0000-000000000000", "name": "Ada"},
                "channel": "chat",
                "text": "hi",
                "sent_at": 1_700_000_000_000i64,
                "attachments": []
            })
        );
        let back: Message = serde_json::from_value(json).unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn every_author_kind_round_trips_in_golden_json() {
        let cases = [
            (Author::Visitor, serde_json::json!({"kind": "visitor"})),
            (
                Author::Contact {
                    name: Some("Ada".into()),
                },
                serde_json::json!({"kind": "contact", "name": "Ada"}),
            ),
            (
                Author::Contact { name: None },
                serde_json::json!({"kind": "contact", "name": null}),
            ),
            (
                Author::Bot {
                    name: "Helper".into(),
                },
                serde_json::json!({"kind": "bot", "name": "Helper"}),
            ),
            (Author::System, serde_json::json!({"kind": "system"})),
        ];
        for (author, json) in cases {
            assert_eq!(serde_json::to_value(&author).unwrap(), json);
            assert_eq!(serde_json::from_value::<Author>(json).unwrap(), author);
        }
        // A contact may come without a name field at all; a bot may not.
        assert_eq!(
            serde_json::from_str::<Author>(r#"{"kind":"contact"}"#).unwrap(),
            Author::Contact { name: None }
        );
        assert!(serde_json::from_str::<Author>(r#"{"kind":"bot"}"#).is_err());
        assert!(serde_json::from_str::<Author>(r#"{"kind":"robot"}"#).is_err());
        assert!(Author::Contact { name: None }.is_customer());
        assert!(!Author::System.is_customer());
    }

    #[test]
    fn ids_are_read_from_uuid_text_only() {
        let text = r#""67e55044-10b1-426f-9247-bb680e5fe0c8""#;
        let id: MessageId = serde_json::from_str(text).unwrap();
        assert_eq!(id.0.to_string(), "67e55044-10b1-426f-9247-bb680e5fe0c8");
        // Uppercase and simple (no hyphens) forms are UUIDs too.
        assert!(serde_json::from_str::<AgentId>(r#""67E5504410B1426F9247BB680E5FE0C8""#).is_ok());
        for bad in [r#""not-a-uuid""#, r#""""#, "42", "[1,2]", "null"] {
            assert!(
                serde_json::from_str::<ConversationId>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_error_codes_are_tolerated() {
        let error: ApiError =
            serde_json::from_str(r#"{"code":"some_future_code","message":"x"}"#).unwrap();
        assert_eq!(error.code, ErrorCode::Unknown);
    }

    #[test]
    fn close_codes_split_into_retry_and_terminal() {
        assert!(close_code::should_reconnect(close_code::GOING_AWAY));
        assert!(close_code::should_reconnect(1006));
        assert!(!close_code::should_reconnect(close_code::UNKNOWN_SITE));
    }
}
