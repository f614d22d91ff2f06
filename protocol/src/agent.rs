//! The agent API: REST bodies under `/v1/agent/*` and frames on `GET /v1/agent/ws`.
//!
//! The console is one client of this API; other tools may use it too. Authentication is a
//! session cookie set by `POST /v1/agent/login`; every state-changing request must also
//! carry the session's CSRF token in the [`CSRF_HEADER`] header (S6).

use serde::{Deserialize, Serialize};

use crate::{AgentId, ClientMessageId, ConversationId, Message, UnixMillis};

/// The path of the agent WebSocket on the relay.
pub const AGENT_WS_PATH: &str = "/v1/agent/ws";

/// The header that carries the CSRF token on state-changing agent requests.
pub const CSRF_HEADER: &str = "x-natter-csrf";

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Agent,
}

/// `POST /v1/agent/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// The logged-in agent: the answer to `POST /v1/agent/login` and `GET /v1/agent/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub agent: AgentProfile,
    /// Send this in [`CSRF_HEADER`] on every state-changing request.
    pub csrf_token: String,
}

/// An agent account as other agents see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentProfile {
    pub id: AgentId,
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// One row of the inbox list (`GET /v1/agent/conversations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: ConversationId,
    /// The site key the conversation came from.
    pub site: String,
    /// How to call the visitor until a name or email is known.
    pub visitor_label: String,
    /// The first characters of the newest message, if any.
    #[serde(default)]
    pub last_message_preview: Option<String>,
    /// Ordering key of the list: newest activity first.
    pub last_activity_at: UnixMillis,
    /// Number of messages (equals the highest `seq`).
    pub message_count: u64,
    pub created_at: UnixMillis,
}

/// `GET /v1/agent/conversations`: newest activity first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationList {
    pub conversations: Vec<ConversationSummary>,
}

/// `GET /v1/agent/conversations/{id}`: the conversation with its whole thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationDetail {
    pub conversation: ConversationSummary,
    /// Ascending `seq`.
    pub messages: Vec<Message>,
}

/// `POST /v1/agent/conversations/{id}/messages`: an agent's reply. Idempotent by `client_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReply {
    pub client_id: ClientMessageId,
    pub text: String,
}

/// Relay → console on the agent socket. The console never needs to poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentServerFrame {
    /// A conversation was created or its summary changed; replace the list row.
    ConversationUpdated { conversation: ConversationSummary },
    /// A message was stored in a conversation.
    MessageAdded { message: Message },
    /// A frame type this build does not know (sent by a newer relay): ignore it.
    #[serde(other)]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn conversation_updated_golden_json() {
        let frame = AgentServerFrame::ConversationUpdated {
            conversation: ConversationSummary {
                id: ConversationId(Uuid::nil()),
                site: "demo".into(),
                visitor_label: "Visitor 1a2b".into(),
                last_message_preview: Some("hi".into()),
                last_activity_at: 2,
                message_count: 1,
                created_at: 1,
            },
        };
        assert_eq!(
            serde_json::to_value(&frame).unwrap(),
            serde_json::json!({
                "type": "conversation_updated",
                "conversation": {
                    "id": "00000000-0000-0000-0000-000000000000",
                    "site": "demo",
                    "visitor_label": "Visitor 1a2b",
                    "last_message_preview": "hi",
                    "last_activity_at": 2,
                    "message_count": 1,
                    "created_at": 1
                }
            })
        );
    }

    #[test]
    fn role_golden_json() {
        assert_eq!(serde_json::to_string(&Role::Admin).unwrap(), r#""admin""#);
    }
}
