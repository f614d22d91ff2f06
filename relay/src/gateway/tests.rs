//! Unit tests of the visitor socket over channels (no network): the socket task is generic over
//! its `Sink` and `Stream` halves, as in axum's testing-websockets example.

use axum::extract::ws::Message as WsMessage;
use futures_util::{Sink, Stream};
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::{close_code, ClientMessageId, ErrorCode, PROTOCOL_VERSION};
use tokio::sync::mpsc;

use crate::config::{Config, Secret};

/// A relay state on a temporary database, and the directory that holds it.
async fn state() -> (tempfile::TempDir, crate::AppState) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        admin_password: Some(Secret::new("unit-test-password")),
        ..Config::default()
    };
    let (state, _) = crate::start(config).await.expect("relay state");
    (dir, state)
}

/// The widget's end: frames to send in, frames the relay wrote out.
struct Widget {
    to_relay: mpsc::UnboundedSender<Result<WsMessage, axum::Error>>,
    from_relay: mpsc::UnboundedReceiver<WsMessage>,
}

impl Widget {
    fn send(&self, frame: &ClientFrame) {
        let text = serde_json::to_string(frame).expect("frame serialises");
        self.to_relay
            .send(Ok(WsMessage::Text(text.into())))
            .expect("socket task alive");
    }

    fn send_raw(&self, message: WsMessage) {
        self.to_relay.send(Ok(message)).expect("socket task alive");
    }

    async fn next(&mut self) -> WsMessage {
        self.from_relay.recv().await.expect("a frame")
    }

    async fn frame(&mut self) -> ServerFrame {
        match self.next().await {
            WsMessage::Text(text) => serde_json::from_str(&text).expect("a server frame"),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Starts the socket task on channels, as `upgrade` does on a real socket.
fn connect(state: &crate::AppState) -> Widget {
    let (to_relay, incoming) = mpsc::unbounded_channel();
    let (outgoing, from_relay) = mpsc::unbounded_channel();
    let sink = sink_of(outgoing);
    let stream = stream_of(incoming);
    tokio::spawn(super::serve(state.clone(), None, sink, stream));
    Widget {
        to_relay,
        from_relay,
    }
}

fn sink_of(
    sender: mpsc::UnboundedSender<WsMessage>,
) -> impl Sink<WsMessage, Error = axum::Error> + Unpin + Send {
    Box::pin(futures_util::sink::unfold(
        sender,
        |sender, message: WsMessage| async move {
            sender.send(message).map_err(axum::Error::new)?;
            Ok::<_, axum::Error>(sender)
        },
    ))
}

fn stream_of(
    receiver: mpsc::UnboundedReceiver<Result<WsMessage, axum::Error>>,
) -> impl Stream<Item = Result<WsMessage, axum::Error>> + Unpin + Send {
    Box::pin(futures_util::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|message| (message, receiver)) },
    ))
}

/// A new visitor's socket past its welcome and first availability frame.
async fn welcomed(state: &crate::AppState) -> Widget {
    let mut widget = connect(state);
    widget.send(&hello(None));
    assert!(matches!(widget.frame().await, ServerFrame::Welcome { .. }));
    assert!(matches!(
        widget.frame().await,
        ServerFrame::Availability { .. }
    ));
    widget
}

fn hello(after_seq: Option<u64>) -> ClientFrame {
    ClientFrame::Hello {
        v: PROTOCOL_VERSION,
        site: "demo".into(),
        visitor: None,
        after_seq,
        lang: None,
        link: None,
    }
}

#[tokio::test]
async fn a_first_frame_that_is_not_hello_is_refused_and_closed() {
    let (_dir, state) = state().await;
    let mut widget = connect(&state);
    widget.send(&ClientFrame::Typing { typing: true });
    assert!(matches!(
        widget.frame().await,
        ServerFrame::Error {
            code: ErrorCode::HelloRequired,
            ..
        }
    ));
    match widget.next().await {
        WsMessage::Close(Some(close)) => assert_eq!(close.code, close_code::HELLO_TIMEOUT),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn a_message_is_acknowledged_after_bad_frames_that_leave_the_socket_open() {
    let (_dir, state) = state().await;
    let mut widget = welcomed(&state).await;
    widget.send_raw(WsMessage::Text("{not json".into()));
    widget.send_raw(WsMessage::Binary(vec![1, 2].into()));
    for _ in 0..2 {
        assert!(matches!(
            widget.frame().await,
            ServerFrame::Error {
                code: ErrorCode::BadFrame,
                ..
            }
        ));
    }
    let client_id = ClientMessageId::new_random();
    widget.send(&ClientFrame::Send {
        client_id,
        text: "hello".into(),
        attachments: vec![],
    });
    match widget.frame().await {
        ServerFrame::Ack {
            client_id: acked,
            message,
        } => {
            assert_eq!(acked, client_id);
            assert_eq!((message.seq, message.text.as_str()), (1, "hello"));
        }
        other => panic!("expected an ack, got {other:?}"),
    }
    // The same client id again: the stored copy, not a second message.
    widget.send(&ClientFrame::Send {
        client_id,
        text: "hello".into(),
        attachments: vec![],
    });
    match widget.frame().await {
        ServerFrame::Ack { message, .. } => assert_eq!(message.seq, 1),
        other => panic!("expected an ack, got {other:?}"),
    }
    // A close frame ends the task, which drops its end of the socket.
    widget.send_raw(WsMessage::Close(None));
    assert!(widget.from_relay.recv().await.is_none(), "the task ended");
}

#[tokio::test]
async fn a_socket_that_missed_hub_events_catches_up_from_the_store_and_stays_open() {
    let (_dir, state) = state().await;
    let mut widget = welcomed(&state).await;
    widget.send(&ClientFrame::Send {
        client_id: ClientMessageId::new_random(),
        text: "anyone?".into(),
        attachments: vec![],
    });
    let conversation_id = match widget.frame().await {
        ServerFrame::Ack { message, .. } => message.conversation_id,
        other => panic!("expected an ack, got {other:?}"),
    };
    // An agent's reply stored on another node whose event the broker dropped: stored, never
    // published here.
    let admin = state
        .store
        .agent_by_email(&state.config.admin_email)
        .await
        .expect("read")
        .expect("the first admin");
    state
        .store
        .append_message(crate::store::NewMessage {
            conversation_id,
            client_id: ClientMessageId::new_random(),
            author: natter_protocol::Author::Agent {
                agent_id: admin.profile.id,
                name: "Ada".into(),
            },
            channel: natter_protocol::Channel::Chat,
            text: "we are here".into(),
            attachments: vec![],
            now: 1,
            internal: false,
            jobs: vec![],
            unverified_sender: None,
            awaits_delivery: false,
        })
        .await
        .expect("stored");
    state.hub.missed_from_other_nodes(1);

    match widget.frame().await {
        ServerFrame::Message { message } => {
            assert_eq!((message.seq, message.text.as_str()), (2, "we are here"))
        }
        other => panic!("expected the missed message, got {other:?}"),
    }
    assert!(matches!(
        widget.frame().await,
        ServerFrame::Availability { .. }
    ));
    // Still open: the next message is acknowledged on the same socket.
    widget.send(&ClientFrame::Send {
        client_id: ClientMessageId::new_random(),
        text: "great".into(),
        attachments: vec![],
    });
    match widget.frame().await {
        ServerFrame::Ack { message, .. } => assert_eq!(message.seq, 3),
        other => panic!("expected an ack, got {other:?}"),
    }
}
