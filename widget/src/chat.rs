//! The chat controller: the reactive state of the widget and the glue between the connection,
//! the thread, the host's commands and the host's events.
//!
//! [`Chat`] is a bundle of `Copy` signal handles, so views, event handlers and the JS API can
//! capture it freely. It turns server frames into thread updates (welcome → replace or merge,
//! ack → sent, message → append, error → alert and failed), keeps the visitor id (in memory,
//! and in the cookie when [`Consent`] allows), re-sends every unacknowledged message after a
//! reconnect with its original `client_id` (the relay's idempotency key), and carries out
//! `identify` and `reset`, which need a welcomed socket and so wait for one.
//!
//! Reliability, typing and unread (W4, W7, W9), in the second `impl` block at the end:
//! - Every change to the pending messages is mirrored into the persistent [`Outbox`] (when
//!   consent allows), so a reload shows them again as "sending" and resends them after the
//!   welcome with the same `client_id`; the relay stores each once, and the thread never shows
//!   one twice (another tab's copy arrives live and replaces the pending row).
//! - "Read" comes from `welcome.read_up_to` and `read` frames.
//! - The visitor's typing goes out as `typing` frames: `true` at most every
//!   [`TYPING_RENEW_MS`] while typing goes on, `false` after [`TYPING_IDLE_MS`] idle, on send,
//!   on blur and when the draft is emptied. Agents' typing shows until `typing: false`, their
//!   message, or [`TYPING_LAPSE_MS`] without renewal.
//! - [`Chat::unread`] counts team-side (agent and bot) messages after the seen mark (`welcome.seen_up_to`, on any
//!   device); while the panel is open in a visible page the newest message is reported `seen`
//!   and the count drops to 0.

use std::{rc::Rc, time::Duration};

use leptos::prelude::*;
use natter_protocol::{
    agent::TYPING_LAPSE_MS,
    visitor::{AttachmentRules, ClientFrame, ServerFrame},
    Attachment, ClientMessageId, ErrorCode, Seq, PROTOCOL_VERSION,
};
use wasm_bindgen::{closure::Closure, JsCast};

use crate::{
    boot::Boot,
    connection::{self, Connection, Event},
    consent::Consent,
    cookie,
    events::{Emitter, WidgetEvent},
    log,
    outbox::{self, Outbox},
    strings::{Locale, Strings},
    thread::{team_name, Pending, Thread},
    upload::Endpoint,
};

/// While the visitor keeps typing, `typing: true` is repeated at most this often (the agent's
/// indicator lapses after `TYPING_LAPSE_MS` without a renewal).
pub const TYPING_RENEW_MS: f64 = 3_000.0;
/// After this long without a keystroke the visitor is no longer typing.
pub const TYPING_IDLE_MS: u64 = 4_000;

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
    /// The visitor has seen the thread up to this seq: the highest of the relay's mark (from
    /// the welcome) and what this page showed in a visible, open panel.
    seen_up_to: Seq,
    /// The seen mark the relay has (from the welcome, or a `seen` frame sent since).
    seen_reported: Seq,
    /// A `typing: true` went out and no `typing: false` since; when (ms since the epoch).
    typing_since: Option<f64>,
}

/// Timers and page listeners the chat owns; all released by [`Chat::stop`].
#[derive(Default)]
struct Timers {
    /// Sends `typing: false` when the visitor stops typing.
    idle: Option<TimeoutHandle>,
    /// Hides an agent's typing indicator that was not renewed.
    agents: Vec<(String, TimeoutHandle)>,
    /// Re-checks the seen mark when the page becomes visible or hidden.
    visibility: Option<Closure<dyn FnMut()>>,
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
    /// Team-side (agent and bot) messages the visitor has not seen yet (W9): the launcher's badge shows it. Right
    /// after the welcome, whether or not the panel was ever opened.
    pub unread: RwSignal<u32>,
    /// The display names of the agents typing in this conversation now (W7).
    pub agents_typing: RwSignal<Vec<String>>,
    /// What the relay accepts as attachments (W8), from the last welcome.
    pub attachment_rules: RwSignal<AttachmentRules>,
    /// The email-capture form (W5, W6): the site's form, what the visitor typed into it and
    /// the relay's answers (see `form`).
    pub form: RwSignal<crate::form::FormState>,
    /// The relay's origin and the site key: uploads go there, attachment URLs are relative to it.
    relay: StoredValue<(String, String)>,
    session: StoredValue<Session>,
    /// Unacknowledged messages across reloads (W4).
    outbox: StoredValue<Outbox, LocalStorage>,
    timers: StoredValue<Timers, LocalStorage>,
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
            unread: RwSignal::new(0),
            agents_typing: RwSignal::new(Vec::new()),
            attachment_rules: RwSignal::new(AttachmentRules::default()),
            form: RwSignal::new(crate::form::FormState::default()),
            relay: StoredValue::new((boot.relay.clone(), boot.site.clone())),
            session: StoredValue::new(Session {
                consent,
                ..Session::default()
            }),
            outbox: StoredValue::new_local(Outbox::new(&boot.site)),
            timers: StoredValue::new_local(Timers::default()),
            connection: StoredValue::new_local(None),
            emitter: StoredValue::new_local(Emitter::new(boot.emit.clone())),
        };
        chat.restore_outbox();
        chat.watch_visibility();
        let Some(url) = connection::visitor_ws_url(&boot.relay) else {
            log::error(&format!("the relay URL \"{}\" is not http(s)", boot.relay));
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
    /// changed anything. Opening in a visible page marks every agent message as seen.
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
        self.refresh_seen();
    }

    /// Opens a closed panel, closes an open one.
    pub fn toggle(&self) {
        self.set_open(!self.open.get_untracked());
    }

    /// The relay's origin (`boot.relay`), which attachment URLs are relative to (W8).
    pub fn relay_origin(&self) -> String {
        self.relay.with_value(|(relay, _)| relay.clone())
    }

    /// Where and as whom to upload an attachment (W8); `None` until a welcome named the visitor.
    pub fn upload_endpoint(&self) -> Option<Endpoint> {
        let visitor = self.session.with_value(|session| session.visitor.clone())?;
        let (relay, site) = self.relay.get_value();
        Some(Endpoint {
            relay,
            site,
            visitor,
        })
    }

    /// Closes the connection and cancels its timers, for `natter('destroy')`.
    pub fn stop(&self) {
        if let Some(connection) = self.connection.try_with_value(Clone::clone).flatten() {
            connection.stop();
        }
        self.stop_timers();
    }

    /// Sends a visitor message with files already uploaded. Blank text is allowed when there
    /// are attachments; returns `false` (and does nothing) when there is nothing to send. The
    /// message is pending until the relay acknowledges it; if the socket is not ready it goes
    /// out after the next welcome, with the same `client_id`.
    pub fn send_message(&self, text: &str, attachments: Vec<Attachment>) -> bool {
        let text = text.trim();
        if text.is_empty() && attachments.is_empty() {
            return false;
        }
        self.interacted();
        let pending = Pending {
            client_id: ClientMessageId::new_random(),
            text: text.to_owned(),
            attachments,
            failed: false,
        };
        self.alert.set(None);
        self.stop_typing();
        self.edit_thread(|thread| {
            thread.add_pending(
                pending.client_id,
                pending.text.clone(),
                pending.attachments.clone(),
            )
        });
        self.send_pending(&pending);
        true
    }

    /// Sends a failed message again, with the same `client_id`.
    pub fn retry(&self, client_id: ClientMessageId) {
        if let Some(pending) = self.edit_thread(|thread| thread.retry(client_id)) {
            self.alert.set(None);
            self.send_pending(&pending);
        }
    }

    fn send_pending(&self, pending: &Pending) -> bool {
        self.send(&ClientFrame::Send {
            client_id: pending.client_id,
            text: pending.text.clone(),
            attachments: pending.attachment_ids(),
        })
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

    /// Sends the email-capture form (W5). Returns whether it went out; without a welcomed
    /// socket it did not, and the visitor is asked to try again. It is not queued: a form
    /// sent long after the visitor pressed the button would surprise them.
    pub fn submit_form(&self, frame: ClientFrame) -> bool {
        self.interacted();
        self.send(&frame)
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
            self.outbox.with_value(Outbox::clear);
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

    /// Writes the visitor cookie if there is an id and consent allows it, and the messages
    /// kept only in memory until then into the outbox.
    fn store_visitor(&self) {
        if !self.may_store() {
            return;
        }
        if let Some(visitor) = self.session.with_value(|session| session.visitor.clone()) {
            cookie::write(&visitor);
        }
        let changes = outbox::Changes {
            upsert: self
                .thread
                .with_untracked(|thread| thread.pending().to_vec()),
            remove: Vec::new(),
        };
        self.outbox.with_value(|outbox| outbox.write(&changes));
    }

    /// Whether consent allows storing anything on the device (W14).
    pub fn may_store(&self) -> bool {
        self.session
            .with_value(|session| session.consent.may_store(session.consent_required))
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
                // A form on its way may not have arrived: the visitor sends it again.
                self.form.update(crate::form::FormState::not_sent);
                self.disconnected();
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
                seen_up_to,
                read_up_to,
                known_email,
                ..
            } => {
                // A first welcome, or a visitor id the relay replaced (expired, forged, or
                // another tab reset it): the thread shown so far is not this visitor's.
                let replace = self.session.with_value(|session| {
                    !session.welcomed || session.sent_visitor.as_deref() != Some(visitor.as_str())
                });
                self.away_message.set(settings.away_message.clone());
                self.attachment_rules.set(settings.attachments.clone());
                self.form
                    .update(|form| form.welcome(settings.form.clone(), known_email));
                self.session.update_value(|session| {
                    session.welcomed = true;
                    session.visitor = Some(visitor);
                    session.consent_required = Some(settings.consent_required);
                });
                self.store_visitor();
                // A message pending here may be in the welcome already (sent by another tab,
                // or stored just before the socket dropped): the edit drops it from the outbox.
                self.edit_thread(|thread| {
                    if replace {
                        thread.replace(conversation_id, messages);
                    } else {
                        thread.merge(conversation_id, messages);
                    }
                    thread.set_read(read_up_to);
                });
                self.welcomed_seen(seen_up_to, replace);
                self.status.set(Status::Online);
                for pending in self.thread.with_untracked(Thread::unsent) {
                    self.send_pending(&pending);
                }
                self.send_requests();
            }
            ServerFrame::Ack { client_id, message } => {
                let new = self.edit_thread(|thread| thread.ack(client_id, message.clone()));
                if new {
                    self.emit(WidgetEvent::MessageSent(&message));
                }
            }
            ServerFrame::Message { message } => {
                // The visitor's own message from another tab replaces its pending copy here.
                let new = self.edit_thread(|thread| thread.insert(message.clone()));
                if let Some(name) = team_name(&message.author) {
                    // The reply is here: that agent (or the bot) is no longer typing it.
                    self.agent_typing(name, false);
                    if new {
                        self.emit(WidgetEvent::MessageReceived(&message));
                    }
                }
                self.refresh_seen();
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
                // The relay has an email now: the form never asks for it again.
                self.form.update(|form| form.known(email));
                // A new welcome follows if the thread changed (a verified contact's history).
            }
            ServerFrame::Forgotten => self.forgotten(),
            ServerFrame::Error {
                code,
                message,
                client_id,
            } => self.error(code, &message, client_id),
            ServerFrame::Availability { agents_online } => self.agents_online.set(agents_online),
            ServerFrame::Typing { name, typing } => self.agent_typing(&name, typing),
            ServerFrame::Read { up_to_seq } => self
                .thread
                .maybe_update(|thread| thread.set_read(up_to_seq)),
            ServerFrame::FormAccepted { email } => {
                self.emit(WidgetEvent::EmailCaptured {
                    email: &email,
                    verified: false,
                });
                self.form.update(|form| form.accepted(email));
            }
            ServerFrame::FormRejected { errors } => self.form.update(|form| form.rejected(errors)),
            ServerFrame::Unknown => {}
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
        // Messages typed by the forgotten visitor must not reach the next one's conversation.
        self.thread.set(Thread::default());
        self.form.update(crate::form::FormState::forgotten);
        self.outbox.with_value(Outbox::clear);
        self.session.update_value(|session| {
            session.seen_up_to = 0;
            session.seen_reported = 0;
        });
        self.stop_typing();
        self.alert.set(None);
        self.refresh_seen();
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
                self.edit_thread(|thread| thread.fail(client_id));
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
                // The relay could not store the email form: the visitor may try again.
                if code == ErrorCode::Internal {
                    self.form.update(crate::form::FormState::server_failed);
                }
                log::error(message);
            }
        }
    }

    fn set_unread(&self, count: u32) {
        if self.unread.get_untracked() != count {
            self.unread.set(count);
            self.emit(WidgetEvent::Unread(count));
        }
    }

    fn emit(&self, event: WidgetEvent<'_>) {
        self.emitter.with_value(|emitter| emitter.emit(event));
    }
}

/// Reliability, typing, read states and unread (W4, W7, W9).
impl Chat {
    /// The visitor typed in the composer (`draft` is its text now): tells the agents, at most
    /// every [`TYPING_RENEW_MS`], and that they stopped after [`TYPING_IDLE_MS`] or when the
    /// draft is emptied.
    pub fn visitor_typing(&self, draft: &str) {
        if draft.trim().is_empty() {
            self.stop_typing();
            return;
        }
        let now = js_sys::Date::now();
        let due = self.session.with_value(|session| {
            session
                .typing_since
                .is_none_or(|since| now - since >= TYPING_RENEW_MS)
        });
        if due && self.send(&ClientFrame::Typing { typing: true }) {
            self.session
                .update_value(|session| session.typing_since = Some(now));
        }
        let chat = *self;
        let idle = set_timeout_with_handle(
            move || chat.stop_typing(),
            Duration::from_millis(TYPING_IDLE_MS),
        )
        .ok();
        self.timers.update_value(|timers| {
            if let Some(old) = std::mem::replace(&mut timers.idle, idle) {
                old.clear();
            }
        });
    }

    /// The visitor stopped typing (sent the message, left the field, went idle): says so if a
    /// `typing: true` went out.
    pub fn stop_typing(&self) {
        self.timers
            .try_update_value(|timers| timers.idle.take().map(|idle| idle.clear()));
        let was_typing = self
            .session
            .try_update_value(|session| session.typing_since.take())
            .flatten();
        if was_typing.is_some() {
            self.send(&ClientFrame::Typing { typing: false });
        }
    }

    /// Shows or hides one agent's typing indicator. A `typing: true` that is not renewed
    /// within [`TYPING_LAPSE_MS`] hides itself (the agent may have closed the console).
    fn agent_typing(&self, name: &str, typing: bool) {
        self.timers.update_value(|timers| {
            timers.agents.retain(|(agent, handle)| {
                let same = agent == name;
                if same {
                    handle.clear();
                }
                !same
            });
        });
        if typing {
            let (chat, agent) = (*self, name.to_owned());
            let lapse = set_timeout_with_handle(
                move || chat.agent_typing(&agent, false),
                Duration::from_millis(TYPING_LAPSE_MS),
            );
            if let Ok(handle) = lapse {
                self.timers
                    .update_value(|timers| timers.agents.push((name.to_owned(), handle)));
            }
            self.agents_typing.maybe_update(|names| {
                let new = !names.iter().any(|known| known == name);
                if new {
                    names.push(name.to_owned());
                }
                new
            });
        } else {
            self.agents_typing.maybe_update(|names| {
                let before = names.len();
                names.retain(|known| known != name);
                names.len() != before
            });
        }
    }

    /// The socket dropped: nobody hears the visitor type any more, and agents' indicators
    /// would never be switched off.
    fn disconnected(&self) {
        self.session
            .update_value(|session| session.typing_since = None);
        let names = self.agents_typing.get_untracked();
        for name in names {
            self.agent_typing(&name, false);
        }
    }

    /// Changes the thread and mirrors what changed in its pending messages into the outbox
    /// (when consent allows storing). Every change to pending messages goes through here.
    fn edit_thread<R: Default>(&self, edit: impl FnOnce(&mut Thread) -> R) -> R {
        let mut changes = outbox::Changes::default();
        let result = self.thread.try_update(|thread| {
            let before = thread.pending().to_vec();
            let result = edit(thread);
            changes = outbox::diff(&before, thread.pending());
            result
        });
        if !changes.is_empty() && self.may_store() {
            self.outbox.with_value(|outbox| outbox.write(&changes));
        }
        result.unwrap_or_default()
    }

    /// Shows the messages a previous page left unsent (state "sending"); they go out after
    /// the welcome with their original `client_id`.
    fn restore_outbox(&self) {
        let stored = self.outbox.with_value(Outbox::load);
        if !stored.is_empty() {
            self.thread.update(|thread| {
                for pending in stored {
                    thread.restore(pending);
                }
            });
        }
    }

    /// The welcome's seen mark is the relay's (from any device). After a replace (another
    /// visitor or conversation) the local mark no longer applies.
    fn welcomed_seen(&self, seen_up_to: Seq, replace: bool) {
        self.session.update_value(|session| {
            session.seen_reported = seen_up_to;
            session.seen_up_to = if replace {
                seen_up_to
            } else {
                session.seen_up_to.max(seen_up_to)
            };
        });
        self.refresh_seen();
    }

    /// While the panel is open in a visible page, everything shown is seen: the relay hears
    /// the newest seq (for the badge on other devices and the unread-reply email). Then the
    /// unread count follows the seen mark.
    fn refresh_seen(&self) {
        let showing = self.open.get_untracked() && page_visible();
        let newest = self.thread.with_untracked(Thread::last_seq);
        let (seen, reported) = self.session.with_value(|session| {
            let seen = match newest {
                Some(newest) if showing => session.seen_up_to.max(newest),
                _ => session.seen_up_to,
            };
            (seen, session.seen_reported)
        });
        let reported = if seen > reported && self.send(&ClientFrame::Seen { up_to_seq: seen }) {
            seen
        } else {
            reported
        };
        self.session.update_value(|session| {
            session.seen_up_to = seen;
            session.seen_reported = reported;
        });
        self.set_unread(
            self.thread
                .with_untracked(|thread| thread.unread_after(seen)),
        );
    }

    /// Re-checks the seen mark when the page is shown again (an open panel in a background
    /// tab does not count as seen), and stops "typing" when it is hidden.
    fn watch_visibility(&self) {
        let Some(document) = web_sys::window().and_then(|window| window.document()) else {
            return;
        };
        let chat = *self;
        let listener = Closure::<dyn FnMut()>::new(move || {
            if !page_visible() {
                chat.stop_typing();
            }
            chat.refresh_seen();
        });
        if document
            .add_event_listener_with_callback("visibilitychange", listener.as_ref().unchecked_ref())
            .is_err()
        {
            log::warn("cannot listen for visibilitychange events");
            return;
        }
        self.timers
            .update_value(|timers| timers.visibility = Some(listener));
    }

    /// Cancels every timer and removes the page listener, for `natter('destroy')`.
    fn stop_timers(&self) {
        let Some(timers) = self.timers.try_update_value(std::mem::take) else {
            return;
        };
        if let Some(idle) = timers.idle {
            idle.clear();
        }
        for (_, handle) in timers.agents {
            handle.clear();
        }
        let document = web_sys::window().and_then(|window| window.document());
        if let (Some(listener), Some(document)) = (timers.visibility, document) {
            // Removing a listener that is not there is not an error.
            let _ = document.remove_event_listener_with_callback(
                "visibilitychange",
                listener.as_ref().unchecked_ref(),
            );
        }
    }
}

/// Whether the page is visible (not a background tab, not minimised).
fn page_visible() -> bool {
    web_sys::window()
        .and_then(|window| window.document())
        .is_none_or(|document| !document.hidden())
}
