//! Writing frames to a visitor socket: any `Sink` of WebSocket messages, so the frame handling
//! runs in unit tests over a channel as well as over a real socket.

use axum::extract::ws::{CloseFrame, Message as WsMessage};
use futures_util::{Sink, SinkExt};
use natter_protocol::visitor::ServerFrame;
use natter_protocol::{close_code, ClientMessageId, ErrorCode};

/// The writing half of a visitor socket.
pub struct Out<S> {
    sink: S,
}

impl<S> Out<S>
where
    S: Sink<WsMessage, Error = axum::Error> + Unpin + Send,
{
    pub fn new(sink: S) -> Self {
        Self { sink }
    }

    /// Sends a frame. `Err` means the socket is gone.
    pub async fn send(&mut self, frame: &ServerFrame) -> Result<(), axum::Error> {
        // Serialising our own frame types cannot fail; treat it as a closed socket if it ever
        // does.
        let text = serde_json::to_string(frame).map_err(axum::Error::new)?;
        self.sink.send(WsMessage::Text(text.into())).await
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
    ServerFrame::Error {
        code,
        message: message.into(),
        client_id,
    }
}
