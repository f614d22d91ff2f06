//! The chat controller: the reactive state of the widget and the glue between the connection,
//! the thread, the host's commands and the host's events.
//!
//! [`Chat`] is a bundle of `Copy` signal handles, so views, event handlers and the JS API can
//! capture it freely. It turns server frames into thread updates (welcome → replace or merge,
//! ack → sent, message → append, error → alert and failed), keeps the visitor id (in memory,
//! and in the cookie when [`Consent`] allows), re-sends every unacknowledged message after a
//! reconnect with its original `client_id` (the relay's idempotency key), and carries out
//! `identify` and `reset`, which need a welcomed socket and so wait for one.

use std::rc::Rc;

use leptos::prelude::*;
use natter_protocol::{
    visitor::{ClientFrame, ServerFrame},
    Author, ClientMessageId, ErrorCode, PROTOCOL_VERSION,
};

use crate::{
    boot::Boot,
    connection::{self, Connection, Event},
    consent::Consent,
    cookie,
    events::{Emitter, WidgetEvent},
    log,
    strings::{Locale, Strings},
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

/// Why the last visitor message was refused; shown in the panel's `role="alert"` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Invalid input (in practice: too long).
    NotSent,
    /// Rate-limited (S3).
    TooFast,
    /// The relay failed; the message can be retried.
    ServerError,
}

impl Notice {
    fn for_code(code: ErrorCode) -> Self {
        match code {
            ErrorCode::InvalidInput => Self::NotSent,
            ErrorCode::RateLimited => Self::TooFast,
            _ => Self::ServerError,
        }
    }

    pub fn text(self, strings: &Strings) -> &'static str {
        match self {
            Self::NotSent => strings.not_sent,
            Self::TooFast => strings.too_fast,
            Self::ServerError => strings.server_error,
        }
    }
}

/// A request from the host that needs a welcomed socket.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Request {
    #[default]
    None,
    /// Not sent yet: goes out after the next welcome.
    Waiting,
    /// Sent on the current socket; cleared by its answer. Sent again if the socket drops first.
    InFlight,
}

/// What the controller remembers between frames; not rendered.
#[derive(Default)]
struct Session {
    /// A welcome arrived on some earlier socket: the next welcome is merged, not replaced.
    welcomed: bool,
    /// The visitor id sent in the last hello.
    sent_visitor: Option<String>,
    /// The visitor id of the last welcome. The cookie holds it too when consent allows.
    visitor: Option<String>,
    consent: Consent,
    /// The site's consent mode, from the last welcome.
    consent_required: Option<bool>,
    /// The last `natter('identify', …)` as a frame, and where it stands.
    identity: Option<ClientFrame>,
    identify: Request,
    /// `natter('reset')`: forget the visitor.
    forget: Request,
    /// Agent messages that arrived while the panel was closed.
    unread: u32,
}

#[derive(Clone, Copy)]
pub struct Chat {
    pub thread: RwSignal<Thread>,
    pub status: RwSignal<Status>,
    pub alert: RwSignal<Option<Notice>>,
    /// A blocked contact's message was stored (I10): say so neutrally in the status line.
    pub received_notice: RwSignal<bool>,
    /// Whether any agent is online (W6); assumed until the relay says otherwise, so the away
    /// message never flashes.
    pub agents_online: RwSignal<bool>,
    /// The site's away message, shown while no agent is online (W6).
    pub away_message: RwSignal<Option<String>>,
    /// Whether the panel is open. Change it with [`Chat::set_open`], which tells the host.
    pub open: RwSignal<bool>,
    pub locale: RwSignal<Locale>,
    session: StoredValue<Session>,
    connection: StoredValue<Option<Rc<Connection>>, LocalStorage>,
    emitter: StoredValue<Emitter, LocalStorage>,
}

impl Chat {
    /// Creates the state and opens the connection. Call inside the app's reactive owner.
    pub fn start(boot: &Boot) -> Self {
        // A cookie from an earlier visit was written with consent; keep renewing it.
        let consent = if cookie::read().is_some() {
            Consent::Granted
        } else {
            Consent::Unknown
        };
        let chat = Self {
            thread: RwSignal::new(Thread::default()),
            status: RwSignal::new(Status::Connecting),
            alert: RwSignal::new(None),
            received_notice: RwSignal::new(false),
            agents_online: RwSignal::new(true),
            away_message: RwSignal::new(None),
            open: RwSignal::new(false),
            locale: RwSignal::new(boot.locale),
            session: StoredValue::new(Session {
                consent,
                ..Session::default()
            }),
            connection: StoredValue::new_local(None),
            emitter: StoredValue::new_local(Emitter::new(boot.emit.clone())),
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

    /// Opens or closes the panel, and tells the host's `open` / `close` listeners if that
    /// changed anything. Opening marks every agent message as read (`unread` 0).
    pub fn set_open(&self, open: bool) {
        if self.open.get_untracked() == open {
            return;
        }
        self.open.set(open);
        self.emit(if open {
            WidgetEvent::Open
        } else {
            WidgetEvent::Close
        });
        if open {
            self.set_unread(0);
        }
    }

    /// Opens a closed panel, closes an open one.
    pub fn toggle(&self) {
        self.set_open(!self.open.get_untracked());
    }

    /// Closes the connection and cancels its timers, for `natter('destroy')`.
    pub fn stop(&self) {
        if let Some(connection) = self.connection.try_with_value(Clone::clone).flatten() {
            connection.stop();
        }
    }

    /// Sends what the visitor typed. Returns `false` (and does nothing) for blank text.
    pub fn send_text(&self, text: &str) -> bool {
        let text = text.trim();
        if text.is_empty() {
            return false;
        }
        self.interacted();
        let client_id = ClientMessageId::new_random();
        self.alert.set(None);
        self.thread
            .update(|thread| thread.add_pending(client_id, text.to_owned()));
        // If the socket is not ready, the message stays pending and goes out after the welcome.
        self.send(&ClientFrame::Send {
            client_id,
            text: text.to_owned(),
            attachments: Vec::new(),
        });
        true
    }

    /// Sends a failed message again, with the same `client_id`.
    pub fn retry(&self, client_id: ClientMessageId) {
        let mut text = None;
        self.thread.update(|thread| text = thread.retry(client_id));
        if let Some(text) = text {
            self.alert.set(None);
            self.send(&ClientFrame::Send {
                client_id,
                text,
                attachments: Vec::new(),
            });
        }
    }

    /// `natter('identify', …)`: sent now if the relay has welcomed the socket, else after the
    /// next welcome. A newer identify replaces one still waiting.
    pub fn identify(&self, frame: ClientFrame) {
        self.session.update_value(|session| {
            session.identity = Some(frame);
            session.identify = Request::Waiting;
        });
        self.send_requests();
    }

    /// `natter('reset')`: forget the visitor (logout). The relay unlinks the visitor id; then
    /// the cookie is deleted, the thread cleared and a new anonymous visitor connects.
    pub fn reset(&self) {
        self.session.update_value(|session| {
            session.identity = None;
            session.identify = Request::None;
            session.forget = Request::Waiting;
        });
        self.send_requests();
    }

    /// `natter('consent', granted)` from the host.
    pub fn set_consent(&self, granted: bool) {
        let consent = if granted {
            Consent::Granted
        } else {
            Consent::Withdrawn
        };
        self.session
            .update_value(|session| session.consent = consent);
        if granted {
            self.store_visitor();
        } else {
            cookie::delete();
        }
    }

    /// The visitor clicked or typed in the widget: in consent mode, that is consent.
    pub fn interacted(&self) {
        let changed = self.session.try_update_value(|session| {
            let before = session.consent;
            session.consent = before.interacted();
            session.consent != before
        });
        if changed == Some(true) {
            self.store_visitor();
        }
    }

    /// Writes the visitor cookie if there is an id and consent allows it.
    fn store_visitor(&self) {
        let visitor = self.session.with_value(|session| {
            session
                .consent
                .may_store(session.consent_required)
                .then(|| session.visitor.clone())
                .flatten()
        });
        if let Some(visitor) = visitor {
            cookie::write(&visitor);
        }
    }

    fn send(&self, frame: &ClientFrame) -> bool {
        self.connection
            .with_value(|connection| connection.as_ref().is_some_and(|c| c.send(frame)))
    }

    /// Sends what waits for a welcomed socket: first a forget; an identify only once no forget
    /// is pending, because it is meant for the new visitor that follows the forget.
    fn send_requests(&self) {
        let (forget, identify, identity) = self
            .session
            .with_value(|session| (session.forget, session.identify, session.identity.clone()));
        let frame = match (forget, identify, identity) {
            (Request::Waiting, _, _) => ClientFrame::Forget,
            (Request::None, Request::Waiting, Some(frame)) => frame,
            _ => return,
        };
        if self.send(&frame) {
            self.session.update_value(|session| match frame {
                ClientFrame::Forget => session.forget = Request::InFlight,
                _ => session.identify = Request::InFlight,
            });
        }
    }

    fn hello(&self, site: &str) -> ClientFrame {
        // The cookie first: another tab may have replaced the id.
        let visitor = cookie::read().or_else(|| self.session.with_value(|s| s.visitor.clone()));
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
            Event::Disconnected => {
                // Requests sent on the lost socket may not have arrived: send them again.
                self.session.update_value(|session| {
                    for request in [&mut session.forget, &mut session.identify] {
                        if *request == Request::InFlight {
                            *request = Request::Waiting;
                        }
                    }
                });
                self.status.set(Status::Reconnecting);
            }
            Event::Terminal => self.status.set(Status::Unavailable),
        }
    }

    fn frame(&self, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome {
                visitor,
                conversation_id,
                messages,
                settings,
                ..
            } => {
                // A first welcome, or a visitor id the relay replaced (expired, forged, or
                // another tab reset it): the thread shown so far is not this visitor's.
                let replace = self.session.with_value(|session| {
                    !session.welcomed || session.sent_visitor.as_deref() != Some(visitor.as_str())
                });
                self.away_message.set(settings.away_message.clone());
                self.session.update_value(|session| {
                    session.welcomed = true;
                    session.visitor = Some(visitor);
                    session.consent_required = Some(settings.consent_required);
                });
                self.store_visitor();
                self.thread.update(|thread| {
                    if replace {
                        thread.replace(conversation_id, messages);
                    } else {
                        thread.merge(conversation_id, messages);
                    }
                });
                self.status.set(Status::Online);
                for (client_id, text) in self.thread.with_untracked(Thread::unsent) {
                    self.send(&ClientFrame::Send {
                        client_id,
                        text,
                        attachments: Vec::new(),
                    });
                }
                self.send_requests();
            }
            ServerFrame::Ack { client_id, message } => {
                let mut new = false;
                self.thread
                    .update(|thread| new = thread.ack(client_id, message.clone()));
                if new {
                    self.emit(WidgetEvent::MessageSent(&message));
                }
            }
            ServerFrame::Message { message } => {
                let mut new = false;
                self.thread
                    .update(|thread| new = thread.insert(message.clone()));
                if new && matches!(message.author, Author::Agent { .. }) {
                    self.emit(WidgetEvent::MessageReceived(&message));
                    if !self.open.get_untracked() {
                        let unread = self.session.with_value(|session| session.unread);
                        self.set_unread(unread.saturating_add(1));
                    }
                }
            }
            ServerFrame::Identified { email, verified } => {
                self.session.update_value(|session| {
                    session.identity = None;
                    session.identify = Request::None;
                });
                self.emit(WidgetEvent::EmailCaptured {
                    email: &email,
                    verified,
                });
                // A new welcome follows if the thread changed (a verified contact's history).
            }
            ServerFrame::Forgotten => self.forgotten(),
            ServerFrame::Error {
                code,
                message,
                client_id,
            } => self.error(code, &message, client_id),
            ServerFrame::Availability { agents_online } => self.agents_online.set(agents_online),
            // Typing (W7), read receipts (W4) and the email-capture form (W5) are not shown yet.
            ServerFrame::Typing { .. }
            | ServerFrame::Read { .. }
            | ServerFrame::FormAccepted { .. }
            | ServerFrame::FormRejected { .. }
            | ServerFrame::Unknown => {}
        }
    }

    /// The relay forgot the visitor: start over as a new, anonymous one.
    fn forgotten(&self) {
        cookie::delete();
        self.session.update_value(|session| {
            session.forget = Request::None;
            session.visitor = None;
            session.sent_visitor = None;
            session.welcomed = false;
        });
        self.thread.set(Thread::default());
        self.alert.set(None);
        self.set_unread(0);
        self.status.set(Status::Connecting);
        if let Some(connection) = self.connection.with_value(Clone::clone) {
            connection.restart();
        }
    }

    fn error(&self, code: ErrorCode, message: &str, client_id: Option<ClientMessageId>) {
        match client_id {
            // A visitor message was refused: the visitor sees why.
            Some(client_id) => {
                log::warn(&format!(
                    "the relay refused a message ({code:?}): {message}"
                ));
                if code == ErrorCode::Blocked {
                    // Shown neutrally (I10): a status line, no alert, nothing to fix.
                    self.received_notice.set(true);
                    return;
                }
                self.thread.update(|thread| {
                    thread.fail(client_id);
                });
                self.alert.set(Some(Notice::for_code(code)));
            }
            // The answer to a host call (identify, reset): the host's developer needs it, the
            // visitor does not. Refused identities leave the chat anonymous and working.
            None => {
                self.session.update_value(|session| {
                    if session.identify == Request::InFlight {
                        session.identity = None;
                        session.identify = Request::None;
                    } else if session.forget == Request::InFlight {
                        session.forget = Request::None;
                    }
                });
                log::error(message);
            }
        }
    }

    fn set_unread(&self, count: u32) {
        let changed = self.session.try_update_value(|session| {
            let changed = session.unread != count;
            session.unread = count;
            changed
        });
        if changed == Some(true) {
            self.emit(WidgetEvent::Unread(count));
        }
    }

    fn emit(&self, event: WidgetEvent<'_>) {
        self.emitter.with_value(|emitter| emitter.emit(event));
    }
}
