//! Frames between the widget and the relay on `GET /v1/visitor/ws`.
//!
//! The widget opens the socket, sends [`ClientFrame::Hello`] and receives
//! [`ServerFrame::Welcome`] with its (possibly new) signed visitor id and the thread so far.
//! After that it sends messages and receives acknowledgements and new messages live.

use serde::{Deserialize, Serialize};

use crate::{AttachmentId, ClientMessageId, ConversationId, ErrorCode, Message, Seq};

/// The path of the visitor WebSocket on the relay.
pub const VISITOR_WS_PATH: &str = "/v1/visitor/ws";

/// Widget → relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Must be the first frame on every connection.
    Hello {
        /// The protocol version the widget speaks ([`crate::PROTOCOL_VERSION`]).
        v: u16,
        /// The site key from the embed snippet's `data-site`.
        site: String,
        /// The signed visitor id from the `natter_vid` cookie, if there is one. A missing,
        /// expired or tampered id is not an error: the relay issues a fresh one.
        #[serde(default)]
        visitor: Option<String>,
        /// The highest sequence number the widget already shows. When set, the welcome
        /// carries only the messages after it; otherwise the recent history.
        #[serde(default)]
        after_seq: Option<Seq>,
        /// The widget's language (`en`, `de`, `fr`): emails to this visitor use it (E2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lang: Option<String>,
        /// A magic-link token from an email (E6): opens that email's conversation on this
        /// device. The welcome's `link` says whether it worked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
    },
    /// A new visitor message. Resending the same `client_id` never stores it twice.
    Send {
        client_id: ClientMessageId,
        text: String,
        /// Files uploaded first (`POST /v1/visitor/attachments`) to send with this message.
        #[serde(default)]
        attachments: Vec<AttachmentId>,
    },
    /// `natter('identify', …)` from the host page (S2). With a `token` (an HS256 JWT the host's
    /// server signed with the site's identity secret, claims `email`, optional `name`, `exp`)
    /// the visitor is linked to the verified contact and sees that contact's history on any
    /// device. Without a token the details are stored as unverified, on this visitor only.
    Identify {
        email: String,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        phone: Option<String>,
        #[serde(default)]
        company: Option<String>,
        #[serde(default)]
        token: Option<String>,
    },
    /// The visitor started (`true`) or stopped (`false`) typing (W7). Not stored.
    Typing { typing: bool },
    /// The visitor has seen every message up to `seq` in a visible widget (W9 unread badge,
    /// E2 unread-reply email). Only ever moves forward.
    Seen { up_to_seq: Seq },
    /// The email-capture form (W5). Answered by `form_accepted` or `form_rejected`.
    SubmitForm {
        email: String,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        phone: Option<String>,
        #[serde(default)]
        company: Option<String>,
    },
    /// `natter('reset')` (logout): the relay unlinks this visitor id from its contact, so the
    /// old cookie no longer opens the contact's history. The widget then drops its cookie and
    /// reconnects as a new visitor.
    Forget,
}

/// Per-site widget behaviour, from the relay's site configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WidgetSettings {
    /// Consent mode (W14): write no cookie or storage until the visitor interacts with the
    /// widget or the host calls `natter('consent', true)`.
    pub consent_required: bool,
    /// The email-capture form (W5).
    pub form: FormSettings,
    /// Colours, side and launcher text (W13).
    pub theme: Theme,
    /// Shown when no agent is online (W6).
    pub away_message: Option<String>,
    /// What the relay accepts as attachments, so the widget can refuse early (W8).
    pub attachments: AttachmentRules,
}

map_only_deserialize!(WidgetSettings {
    consent_required: bool = "consent_required" as default,
    form: FormSettings = "form" as default,
    theme: Theme = "theme" as default,
    away_message: Option<String> = "away_message" as default,
    attachments: AttachmentRules = "attachments" as default,
});

/// The relay's attachment limits, as the widget needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AttachmentRules {
    pub max_bytes: u64,
    /// MIME types, e.g. `image/png`.
    pub allowed_types: Vec<String>,
    /// Most files on one message (`limits.max_attachments_per_message`). Absent from relays
    /// older than this field: the widget then assumes the relay's default.
    pub max_files: Option<usize>,
}

map_only_deserialize!(AttachmentRules {
    max_bytes: u64 = "max_bytes" as required,
    allowed_types: Vec<String> = "allowed_types" as required,
    max_files: Option<usize> = "max_files" as default,
});

/// Headers of `POST /v1/visitor/attachments` (the body is the file itself).
pub mod upload_header {
    /// The site key.
    pub const SITE: &str = "x-natter-site";
    /// The signed visitor id.
    pub const VISITOR: &str = "x-natter-visitor";
    /// The file name, percent-encoded (UTF-8).
    pub const FILENAME: &str = "x-natter-filename";
}

/// The path of the visitor upload endpoint.
pub const VISITOR_UPLOAD_PATH: &str = "/v1/visitor/attachments";

/// When the email-capture form appears (W5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormTrigger {
    BeforeFirstMessage,
    #[default]
    AfterFirstMessage,
    /// Only while no agent is online (W6: "continue by email").
    WhenOffline,
    Never,
}

/// Whether a form field is asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldRule {
    #[default]
    Off,
    Optional,
    Required,
}

/// The email-capture form. Email is always asked for and required when the form is shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FormSettings {
    pub when: FormTrigger,
    pub name: FieldRule,
    pub phone: FieldRule,
    /// "Account": the company the visitor works for.
    pub company: FieldRule,
}

map_only_deserialize!(FormSettings {
    when: FormTrigger = "when" as default,
    name: FieldRule = "name" as default,
    phone: FieldRule = "phone" as default,
    company: FieldRule = "company" as default,
});

/// A field of the email-capture form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormField {
    Email,
    Name,
    Phone,
    Company,
}

/// Why one field was refused; shown next to that field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: FormField,
    pub message: String,
}

map_only_deserialize!(FieldError {
    field: FormField = "field" as required,
    message: String = "message" as required,
});

/// Light, dark, or following the visitor's system.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColorMode {
    Light,
    Dark,
    #[default]
    Auto,
}

/// Which corner the launcher sits in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    Left,
    #[default]
    Right,
}

/// The site's look (W13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Theme {
    /// The site colour, `#rrggbb`.
    pub color: String,
    pub position: Position,
    /// Text next to the launcher icon, if any.
    pub launcher_text: Option<String>,
    pub mode: ColorMode,
}

map_only_deserialize!(Theme {
    color: String = "color" as required,
    position: Position = "position" as default,
    launcher_text: Option<String> = "launcher_text" as default,
    mode: ColorMode = "mode" as default,
});

impl Default for Theme {
    fn default() -> Self {
        Self {
            color: "#1d4ed8".into(),
            position: Position::Right,
            launcher_text: None,
            mode: ColorMode::Auto,
        }
    }
}

/// What the relay did with a magic link (E6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkOutcome {
    /// This device now shows the email's conversation.
    Opened,
    /// The link is older than its lifetime: the widget opens normally and says so.
    Expired,
    /// The link was altered or is not ours: the widget opens normally and says so.
    Invalid,
}

/// Read from its name by hand: serde's derive for a unit enum costs the widget more code than
/// the match (its size budget). An outcome this build does not know reads as `Invalid`, so an
/// older widget still says the link did not open its thread.
impl<'de> Deserialize<'de> for LinkOutcome {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match String::deserialize(deserializer)?.as_str() {
            "opened" => Self::Opened,
            "expired" => Self::Expired,
            _ => Self::Invalid,
        })
    }
}

/// Relay → widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The answer to `hello`.
    Welcome {
        v: u16,
        /// The signed visitor id to keep in the `natter_vid` cookie. Equal to the one sent in
        /// `hello` when that was valid; a fresh one otherwise.
        visitor: String,
        /// The visitor's conversation, once there is one.
        #[serde(default)]
        conversation_id: Option<ConversationId>,
        /// Messages in ascending `seq` order.
        messages: Vec<Message>,
        /// Whether older messages exist than the first one in `messages`.
        #[serde(default)]
        has_earlier: bool,
        /// How the site wants the widget to behave.
        #[serde(default)]
        settings: WidgetSettings,
        /// The visitor has seen the thread up to this seq (on any device): agent messages after
        /// it are unread (W9).
        #[serde(default)]
        seen_up_to: Seq,
        /// Agents have read the visitor's messages up to this seq (W4 "read" state).
        #[serde(default)]
        read_up_to: Seq,
        /// The email the relay already has for this visitor (from the form, `identify`, or the
        /// verified contact), so the widget does not ask for it again (W5).
        #[serde(default)]
        known_email: Option<String>,
        /// What became of the `link` the hello carried, if any (E6).
        #[serde(default)]
        link: Option<LinkOutcome>,
    },
    /// The message with this `client_id` is stored durably (R2).
    Ack {
        client_id: ClientMessageId,
        message: Message,
    },
    /// The answer to `identify`: what the relay now knows about the visitor. When the thread
    /// to show changed (a verified contact with history elsewhere), a `welcome` follows.
    Identified { email: String, verified: bool },
    /// The answer to `forget`: the visitor id is no longer linked to anyone.
    Forgotten,
    /// Whether any agent is online now (W6); sent after the welcome and on every change.
    Availability { agents_online: bool },
    /// An agent started or stopped typing in this conversation (W7).
    Typing { name: String, typing: bool },
    /// Agents have read the visitor's messages up to `seq` (W4 "read" state).
    Read { up_to_seq: Seq },
    /// The form was stored: replies can also reach the visitor at `email`.
    FormAccepted { email: String },
    /// The form was refused; nothing was stored. One entry per refused field.
    FormRejected { errors: Vec<FieldError> },
    /// A message the widget did not send on this socket: an agent's reply, or the visitor's own
    /// message sent from another tab.
    Message { message: Message },
    /// A frame was refused. `client_id` names the message it concerns, if any.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default)]
        client_id: Option<ClientMessageId>,
    },
    /// A frame type this build does not know (sent by a newer relay): ignore it.
    #[serde(other)]
    Unknown,
}

/// All fields any server frame may carry, read in one pass. serde's derive for an internally
/// tagged enum buffers the whole frame and instantiates every field's deserializer again for
/// the buffer: several times the code of this flat shape (the widget's size budget). Absent
/// fields are `None` here; [`ServerFrame`]'s `deserialize` says which each frame requires.
struct WireFrame {
    kind: String,
    v: Option<u16>,
    visitor: Option<String>,
    conversation_id: Option<ConversationId>,
    messages: Option<Vec<Message>>,
    has_earlier: bool,
    settings: Option<WidgetSettings>,
    seen_up_to: Option<Seq>,
    read_up_to: Option<Seq>,
    known_email: Option<String>,
    link: Option<LinkOutcome>,
    client_id: Option<ClientMessageId>,
    message: Option<MessageOrText>,
    email: Option<String>,
    verified: Option<bool>,
    agents_online: Option<bool>,
    name: Option<String>,
    typing: Option<bool>,
    up_to_seq: Option<Seq>,
    errors: Option<Vec<FieldError>>,
    code: Option<ErrorCode>,
}

map_only_deserialize!(WireFrame {
    kind: String = "type" as required,
    v: Option<u16> = "v" as default,
    visitor: Option<String> = "visitor" as default,
    conversation_id: Option<ConversationId> = "conversation_id" as default,
    messages: Option<Vec<Message>> = "messages" as default,
    has_earlier: bool = "has_earlier" as default,
    settings: Option<WidgetSettings> = "settings" as default,
    seen_up_to: Option<Seq> = "seen_up_to" as default,
    read_up_to: Option<Seq> = "read_up_to" as default,
    known_email: Option<String> = "known_email" as default,
    link: Option<LinkOutcome> = "link" as default,
    client_id: Option<ClientMessageId> = "client_id" as default,
    message: Option<MessageOrText> = "message" as default,
    email: Option<String> = "email" as default,
    verified: Option<bool> = "verified" as default,
    agents_online: Option<bool> = "agents_online" as default,
    name: Option<String> = "name" as default,
    typing: Option<bool> = "typing" as default,
    up_to_seq: Option<Seq> = "up_to_seq" as default,
    errors: Option<Vec<FieldError>> = "errors" as default,
    code: Option<ErrorCode> = "code" as default,
});

/// `message` is a stored message in `ack`/`message` frames and a sentence in `error` frames.
enum MessageOrText {
    Message(Box<Message>),
    Text(String),
}

impl<'de> Deserialize<'de> for MessageOrText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = MessageOrText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a message or a string")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(MessageOrText::Text(text.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                Message::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|message| MessageOrText::Message(Box::new(message)))
            }
        }
        deserializer.deserialize_any(Either)
    }
}

impl<'de> Deserialize<'de> for ServerFrame {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        fn need<T, E: Error>(value: Option<T>, field: &'static str) -> Result<T, E> {
            value.ok_or_else(|| E::missing_field(field))
        }
        fn message<E: Error>(value: Option<MessageOrText>) -> Result<Message, E> {
            match value {
                Some(MessageOrText::Message(message)) => Ok(*message),
                Some(MessageOrText::Text(_)) => Err(E::custom("message: expected an object")),
                None => Err(E::missing_field("message")),
            }
        }
        let w = WireFrame::deserialize(deserializer)?;
        Ok(match w.kind.as_str() {
            "welcome" => Self::Welcome {
                v: need(w.v, "v")?,
                visitor: need(w.visitor, "visitor")?,
                conversation_id: w.conversation_id,
                messages: need(w.messages, "messages")?,
                has_earlier: w.has_earlier,
                settings: w.settings.unwrap_or_default(),
                seen_up_to: w.seen_up_to.unwrap_or_default(),
                read_up_to: w.read_up_to.unwrap_or_default(),
                known_email: w.known_email,
                link: w.link,
            },
            "ack" => Self::Ack {
                client_id: need(w.client_id, "client_id")?,
                message: message(w.message)?,
            },
            "identified" => Self::Identified {
                email: need(w.email, "email")?,
                verified: need(w.verified, "verified")?,
            },
            "forgotten" => Self::Forgotten,
            "availability" => Self::Availability {
                agents_online: need(w.agents_online, "agents_online")?,
            },
            "typing" => Self::Typing {
                name: need(w.name, "name")?,
                typing: need(w.typing, "typing")?,
            },
            "read" => Self::Read {
                up_to_seq: need(w.up_to_seq, "up_to_seq")?,
            },
            "form_accepted" => Self::FormAccepted {
                email: need(w.email, "email")?,
            },
            "form_rejected" => Self::FormRejected {
                errors: need(w.errors, "errors")?,
            },
            "message" => Self::Message {
                message: message(w.message)?,
            },
            "error" => Self::Error {
                code: need(w.code, "code")?,
                message: match w.message {
                    Some(MessageOrText::Text(text)) => text,
                    Some(MessageOrText::Message(_)) => {
                        return Err(D::Error::custom("message: expected a string"))
                    }
                    None => return Err(D::Error::missing_field("message")),
                },
                client_id: w.client_id,
            },
            _ => Self::Unknown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_frame_reads_back_as_written() {
        use crate::{AgentId, Author, Channel, MessageId};
        use uuid::Uuid;
        let message = |author| Message {
            id: MessageId(Uuid::from_u128(1)),
            conversation_id: ConversationId(Uuid::from_u128(2)),
            seq: 3,
            client_id: ClientMessageId(Uuid::from_u128(4)),
            author,
            channel: Channel::Chat,
            text: "hi \"there\"".into(),
            sent_at: 1_700_000_000_000,
            attachments: vec![],
        };
        let agent = Author::Agent {
            agent_id: AgentId(Uuid::from_u128(5)),
            name: "Ada".into(),
        };
        let frames = [
            ServerFrame::Welcome {
                v: 1,
                visitor: "abc.def".into(),
                conversation_id: Some(ConversationId(Uuid::from_u128(2))),
                messages: vec![message(Author::Visitor), message(agent.clone())],
                has_earlier: true,
                settings: WidgetSettings::default(),
                seen_up_to: 2,
                read_up_to: 1,
                known_email: Some("ada@example.com".into()),
                link: Some(LinkOutcome::Expired),
            },
            ServerFrame::Ack {
                client_id: ClientMessageId(Uuid::from_u128(4)),
                message: message(Author::Visitor),
            },
            ServerFrame::Identified {
                email: "ada@example.com".into(),
                verified: false,
            },
            ServerFrame::Forgotten,
            ServerFrame::Availability {
                agents_online: true,
            },
            ServerFrame::Typing {
                name: "Ada".into(),
                typing: true,
            },
            ServerFrame::Read { up_to_seq: 9 },
            ServerFrame::FormAccepted {
                email: "ada@example.com".into(),
            },
            ServerFrame::FormRejected {
                errors: vec![FieldError {
                    field: FormField::Phone,
                    message: "required".into(),
                }],
            },
            ServerFrame::Message {
                message: message(agent),
            },
            ServerFrame::Error {
                code: ErrorCode::InvalidInput,
                message: "too long".into(),
                client_id: Some(ClientMessageId(Uuid::from_u128(4))),
            },
            ServerFrame::Error {
                code: ErrorCode::InvalidInput,
                message: "no id".into(),
                client_id: None,
            },
        ];
        for frame in frames {
            let json = serde_json::to_string(&frame).unwrap();
            let back: ServerFrame = serde_json::from_str(&json).unwrap();
            assert_eq!(back, frame, "{json}");
        }
        // The optional parts of a welcome may be absent; required fields may not.
        let minimal: ServerFrame =
            serde_json::from_str(r#"{"type":"welcome","v":1,"visitor":"x","messages":[]}"#)
                .unwrap();
        assert!(matches!(
            minimal,
            ServerFrame::Welcome {
                seen_up_to: 0,
                has_earlier: false,
                ..
            }
        ));
        assert!(
            serde_json::from_str::<ServerFrame>(r#"{"type":"welcome","v":1,"messages":[]}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<ServerFrame>(r#"{"type":"read"}"#).is_err());
        assert!(serde_json::from_str::<ServerFrame>(
            r#"{"type":"error","code":"invalid_input","message":{}}"#
        )
        .is_err());
        assert!(serde_json::from_str::<ServerFrame>(r#"{"v":1}"#).is_err());
    }
    use uuid::Uuid;

    #[test]
    fn hello_golden_json() {
        let frame: ClientFrame =
            serde_json::from_str(r#"{"type":"hello","v":1,"site":"demo"}"#).unwrap();
        assert_eq!(
            frame,
            ClientFrame::Hello {
                v: 1,
                site: "demo".into(),
                visitor: None,
                after_seq: None,
                lang: None,
                link: None,
            }
        );
        let json = serde_json::to_value(ClientFrame::Hello {
            v: 1,
            site: "demo".into(),
            visitor: Some("abc.def".into()),
            after_seq: Some(4),
            lang: None,
            link: None,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type":"hello","v":1,"site":"demo","visitor":"abc.def","after_seq":4})
        );
    }

    #[test]
    fn send_golden_json() {
        let json = serde_json::to_value(ClientFrame::Send {
            client_id: ClientMessageId(Uuid::nil()),
            text: "hello".into(),
            attachments: vec![],
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type":"send","client_id":"00000000-0000-0000-0000-000000000000","text":"hello","attachments":[]})
        );
    }

    #[test]
    fn error_golden_json() {
        let json = serde_json::to_value(ServerFrame::Error {
            code: ErrorCode::InvalidInput,
            message: "too long".into(),
            client_id: None,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type":"error","code":"invalid_input","message":"too long","client_id":null})
        );
    }

    #[test]
    fn identify_golden_json() {
        let frame: ClientFrame = serde_json::from_str(
            r#"{"type":"identify","email":"ada@example.com","token":"a.b.c"}"#,
        )
        .unwrap();
        assert_eq!(
            frame,
            ClientFrame::Identify {
                email: "ada@example.com".into(),
                name: None,
                phone: None,
                company: None,
                token: Some("a.b.c".into()),
            }
        );
        assert_eq!(
            serde_json::to_value(ServerFrame::Identified {
                email: "ada@example.com".into(),
                verified: true
            })
            .unwrap(),
            serde_json::json!({"type":"identified","email":"ada@example.com","verified":true})
        );
        assert_eq!(
            serde_json::to_string(&ClientFrame::Forget).unwrap(),
            r#"{"type":"forget"}"#
        );
    }

    #[test]
    fn form_golden_json() {
        let frame: ClientFrame = serde_json::from_str(
            r#"{"type":"submit_form","email":"a@b.co","phone":"+49 30 1234"}"#,
        )
        .unwrap();
        assert_eq!(
            frame,
            ClientFrame::SubmitForm {
                email: "a@b.co".into(),
                name: None,
                phone: Some("+49 30 1234".into()),
                company: None
            }
        );
        let rejected = ServerFrame::FormRejected {
            errors: vec![FieldError {
                field: FormField::Phone,
                message: "required".into(),
            }],
        };
        assert_eq!(
            serde_json::to_value(rejected).unwrap(),
            serde_json::json!({"type":"form_rejected","errors":[{"field":"phone","message":"required"}]})
        );
        let settings: WidgetSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(settings.form.when, FormTrigger::AfterFirstMessage);
        assert_eq!(settings.theme.color, "#1d4ed8");
    }

    #[test]
    fn unknown_server_frames_are_tolerated() {
        let frame: ServerFrame = serde_json::from_str(r#"{"type":"from_the_future"}"#).unwrap();
        assert_eq!(frame, ServerFrame::Unknown);
    }
}
