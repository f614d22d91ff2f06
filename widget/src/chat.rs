//! The chat controller: the reactive state of the panel and the glue between the connection
//! and the thread.
//!
//! [`Chat`] is a bundle of `Copy` signal handles, so views and event handlers can capture it
//! freely. It turns server frames into thread updates (welcome → replace or merge, ack →
//! sent, message → append, error → alert and failed), writes the visitor cookie after each
//! welcome, and re-sends every unacknowledged message after a reconnect with its original
//! `client_id`, which the relay uses as the idempotency key.

use std::rc::Rc;

use leptos::prelude::*;
use natter_protocol::{
    visitor::{ClientFrame, ServerFrame},
    ClientMessageId, PROTOCOL_VERSION,
};

use crate::{
    boot::Boot,
    connection::{self, Connection, Event},
    cookie, log,
    thread::Thread,
};

/// The state of the connection, as the visitor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The first connection is being made.
    Connecting,
    /// Welcomed by the relay.
    Online,
    /// The connection dropped; a reconnect is under way.
    Reconnecting,
    /// The relay refused the widget for good, or the relay URL is unusable.
    Unavailable,
}

/// What the controller remembers between frames; not rendered.
#[derive(Default)]
struct Session {
    /// A welcome arrived on some earlier socket: the next welcome is merged, not replaced.
    welcomed: bool,
    /// The visitor id sent in the last hello.
    sent_visitor: Option<String>,
}

#[derive(Clone, Copy)]
pub struct Chat {
    pub thread: RwSignal<Thread>,
    pub status: RwSignal<Status>,
    /// The text of the last error frame, shown in a `role="alert"` line.
    pub alert: RwSignal<Option<String>>,
    session: StoredValue<Session>,
    connection: StoredValue<Option<Rc<Connection>>, LocalStorage>,
}

impl Chat {
    /// Creates the state and opens the connection. Call inside the app's reactive owner.
    pub fn start(boot: &Boot) -> Self {
        let chat = Self {
            thread: RwSignal::new(Thread::default()),
            status: RwSignal::new(Status::Connecting),
            alert: RwSignal::new(None),
            session: StoredValue::new(Session::default()),
            connection: StoredValue::new_local(None),
        };
        let Some(url) = connection::visitor_ws_url(&boot.relay) else {
            log::error(&format!("the relay URL {:?} is not http(s)", boot.relay));
            chat.status.set(Status::Unavailable);
            return chat;
        };
        let site = boot.site.clone();
        let connection = Connection::new(
            url,
            move || chat.hello(&site),
            move |event| chat.handle(event),
        );
        chat.connection.set_value(Some(Rc::clone(&connection)));
        connection.start();
        chat
    }

    /// Sends what the visitor typed. Returns `false` (and does nothing) for blank text.
    pub fn send_text(&self, text: &str) -> bool {
        let text = text.trim();
        if text.is_empty() {
            return false;
        }
        let client_id = ClientMessageId::new_random();
        self.alert.set(None);
        self.thread
            .update(|thread| thread.add_pending(client_id, text.to_owned()));
        // If the socket is not ready, the message stays pending and goes out after the welcome.
        self.send(client_id, text.to_owned());
        true
    }

    /// Sends a failed message again, with the same `client_id`.
    pub fn retry(&self, client_id: ClientMessageId) {
        let mut text = None;
        self.thread.update(|thread| text = thread.retry(client_id));
        if let Some(text) = text {
            self.alert.set(None);
            self.send(client_id, text);
        }
    }

    fn send(&self, client_id: ClientMessageId, text: String) -> bool {
        let frame = ClientFrame::Send { client_id, text };
        self.connection
            .with_value(|connection| connection.as_ref().is_some_and(|c| c.send(&frame)))
    }

    fn hello(&self, site: &str) -> ClientFrame {
        let visitor = cookie::read();
        let welcomed = self.session.with_value(|session| session.welcomed);
        let after_seq = if welcomed {
            self.thread.with_untracked(Thread::last_seq)
        } else {
            None
        };
        self.session
            .update_value(|session| session.sent_visitor = visitor.clone());
        ClientFrame::Hello {
            v: PROTOCOL_VERSION,
            site: site.to_owned(),
            visitor,
            after_seq,
        }
    }

    fn handle(&self, event: Event) {
        match event {
            Event::Frame(frame) => self.frame(frame),
            Event::Disconnected => self.status.set(Status::Reconnecting),
            Event::Terminal => self.status.set(Status::Unavailable),
        }
    }

    fn frame(&self, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome {
                visitor,
                conversation_id,
                messages,
                ..
            } => {
                cookie::write(&visitor);
                // A first welcome, or a visitor id the relay replaced (expired, forged, or
                // another tab reset it): the thread shown so far is not this visitor's.
                let replace = self.session.with_value(|session| {
                    !session.welcomed || session.sent_visitor.as_deref() != Some(visitor.as_str())
                });
                self.session.update_value(|session| session.welcomed = true);
                self.thread.update(|thread| {
                    if replace {
                        thread.replace(conversation_id, messages);
                    } else {
                        thread.merge(conversation_id, messages);
                    }
                });
                self.status.set(Status::Online);
                for (client_id, text) in self.thread.with_untracked(Thread::unsent) {
                    self.send(client_id, text);
                }
            }
            ServerFrame::Ack { client_id, message } => {
                self.thread.update(|thread| thread.ack(client_id, message));
            }
            ServerFrame::Message { message } => {
                self.thread.update(|thread| {
                    thread.insert(message);
                });
            }
            ServerFrame::Error {
                code,
                message,
                client_id,
            } => {
                log::warn(&format!("the relay refused a frame ({code:?}): {message}"));
                if let Some(client_id) = client_id {
                    self.thread.update(|thread| {
                        thread.fail(client_id);
                    });
                }
                self.alert.set(Some(message));
            }
            // Handled by the JS API (identify / reset) work; ignored until then.
            ServerFrame::Identified { .. } | ServerFrame::Forgotten | ServerFrame::Unknown => {}
        }
    }
}
