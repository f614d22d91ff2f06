//! Writing frames to a visitor socket: any `Sink` of WebSocket messages, so the frame handling
//! runs in unit tests over a channel as well as over a real socket.

use std::collections::BTreeSet;

use axum::extract::ws::{CloseFrame, Message as WsMessage};
use futures_util::{Sink, SinkExt};
use natter_protocol::visitor::ServerFrame;
use natter_protocol::{close_code, ClientMessageId, ConversationId, ErrorCode, Message, Seq};

/// RFC 6455's close code for a frame over `Limits::max_frame_bytes`.
pub const MESSAGE_TOO_BIG: u16 = 1009;

/// Whether a read failed because the client's frame was over the size limit (the socket
/// library refuses it before reading it whole).
pub fn is_too_large(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if let Some(tungstenite::Error::Capacity(_)) = error.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// The writing half of a visitor socket.
pub struct Out<S> {
    sink: S,
    sent: SentSeqs,
}

/// How far this socket has sent its conversation without a gap, so a socket that missed hub
/// events catches up from the store after that point instead of being closed. Live messages
/// may arrive out of seq order (concurrent appends publish in commit order), so seqs above
/// the gap wait in `above` until it closes.
#[derive(Debug, Default)]
struct SentSeqs {
    conversation: Option<ConversationId>,
    contiguous: Seq,
    above: BTreeSet<Seq>,
}

impl SentSeqs {
    fn shown(&mut self, conversation: Option<ConversationId>, messages: &[Message]) {
        *self = Self {
            conversation,
            contiguous: messages.last().map_or(0, |message| message.seq),
            above: BTreeSet::new(),
        };
    }

    fn sent(&mut self, message: &Message) {
        if self.conversation != Some(message.conversation_id) {
            // A new conversation: nothing of it was sent before this message.
            self.shown(Some(message.conversation_id), &[]);
        }
        if message.seq > self.contiguous {
            self.above.insert(message.seq);
        }
        while self.above.remove(&(self.contiguous + 1)) {
            self.contiguous += 1;
        }
    }

    fn note(&mut self, frame: &ServerFrame) {
        match frame {
            ServerFrame::Welcome {
                conversation_id,
                messages,
                ..
            } => self.shown(*conversation_id, messages),
            ServerFrame::Message { message } | ServerFrame::Ack { message, .. } => {
                self.sent(message)
            }
            _ => {}
        }
    }
}

impl<S> Out<S>
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
{
    pub fn new(sink: S) -> Self {
        Self {
            sink,
            sent: SentSeqs::default(),
        }
    }

    /// Sends a frame. `Err` means the socket is gone.
    pub async fn send(&mut self, frame: &ServerFrame) -> Result<(), axum::Error> {
        // Serialising our own frame types cannot fail; treat it as a closed socket if it ever
        // does.
        let text = serde_json::to_string(frame).map_err(axum::Error::new)?;
        self.sink.send(WsMessage::Text(text.into())).await?;
        self.sent.note(frame);
        Ok(())
    }

    /// The seq of `conversation` up to which this socket sent every message (0: none known).
    pub fn sent_up_to(&self, conversation: ConversationId) -> Seq {
        match self.sent.conversation {
            Some(shown) if shown == conversation => self.sent.contiguous,
            _ => 0,
        }
    }

    /// An error frame about the socket as a whole. A failure to send is ignored: the read
    /// side notices a closed socket.
    pub async fn error(&mut self, code: ErrorCode, message: &str) {
        let _ = self.send(&error_frame(code, message, None)).await;
    }

    /// An error frame about one message, naming its client id so the widget can mark it.
    pub async fn error_for(
        &mut self,
        code: ErrorCode,
        message: &str,
        client_id: ClientMessageId,
    ) -> Result<(), axum::Error> {
        self.send(&error_frame(code, message, Some(client_id)))
            .await
    }

    /// A close frame with a code from `natter_protocol::close_code` (reconnect or not).
    pub async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = WsMessage::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        let _ = self.sink.send(frame).await;
    }

    /// Answers the client's close frame. The socket library already queued the answer (the
    /// client's own code, as RFC 6455 §5.5.1 asks) and refuses any other frame after a close:
    /// flushing sends it.
    pub async fn answer_close(&mut self) {
        let _ = self.sink.flush().await;
    }

    /// The store failed: an internal-error frame, then a close the widget reconnects after.
    pub async fn unavailable(&mut self) {
        let (code, reason) = (close_code::GOING_AWAY, "internal error");
        self.refuse(
            ErrorCode::Internal,
            "chat is unavailable right now",
            code,
            reason,
        )
        .await;
    }

    /// An error frame, then a close frame.
    pub async fn refuse(
        &mut self,
        error: ErrorCode,
        message: &str,
        close: u16,
        reason: &'static str,
    ) {
        self.error(error, message).await;
        self.close(close, reason).await;
    }
}

fn error_frame(code: ErrorCode, message: &str, client_id: Option<ClientMessageId>) -> ServerFrame {
    crate::metrics::socket_error(code);
    ServerFrame::Error {
        code,
        message: message.into(),
        client_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::{Author, Channel, ClientMessageId, MessageId};
    use uuid::Uuid;

    fn message(seq: Seq) -> Message {
        Message {
            id: MessageId(Uuid::new_v4()),
            conversation_id: ConversationId(Uuid::nil()),
            seq,
            client_id: ClientMessageId::new_random(),
            author: Author::Visitor,
            channel: Channel::Chat,
            text: "hi".into(),
            sent_at: 0,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn the_gapless_seq_waits_for_a_message_that_arrives_late() {
        let mut sent = SentSeqs::default();
        sent.shown(Some(ConversationId(Uuid::nil())), &[message(1), message(2)]);
        sent.sent(&message(4));
        assert_eq!(sent.contiguous, 2, "3 is missing");
        sent.sent(&message(3));
        assert_eq!(sent.contiguous, 4);
        sent.sent(&message(2));
        assert_eq!(sent.contiguous, 4, "a resent message changes nothing");
        assert!(sent.above.is_empty());
    }
}
