//! The chat controller: the reactive state of the widget and the glue between the connection,
//! the thread, the host's commands and the host's events.
//!
//! [`Chat`] is a bundle of `Copy` signal handles, so views, event handlers and the JS API can
//! capture it freely. It turns server frames into thread updates (welcome → replace or merge,
//! ack → sent, message → append, error → alert and failed), keeps the visitor id (in memory,
//! and in the cookie when [`Consent`] allows), re-sends every unacknowledged message after a
//! reconnect with its original `client_id` (the relay's idempotency key), and carries out
//! `identify` and `reset`, which need a welcomed socket and so wait for one (their rules are in
//! [`IdentityRequests`]). Each server frame has its own handler, dispatched by [`Chat::frame`].
//!
//! Reliability, typing and unread (W4, W7, W9), in the second `impl` block, `typing` and `seen`:
//! - Every change to the pending messages is mirrored into the persistent [`Outbox`] (when
//!   consent allows), so a reload shows them again as "sending" and resends them after the
//!   welcome with the same `client_id`; the relay stores each once, and the thread never shows
//!   one twice (another tab's copy arrives live and replaces the pending row).
//! - "Read" comes from `welcome.read_up_to` and `read` frames.
//! - The visitor's typing goes out as `typing` frames (`typing`): `true` at most every few
//!   seconds while typing goes on, `false` after a few idle seconds, on send, on blur and when
//!   the draft is emptied. Agents' typing shows until `typing: false`, their message, or
//!   `TYPING_LAPSE_MS` without renewal.
//! - [`Chat::unread`] counts team-side (agent and bot) messages after the seen mark
//!   (`welcome.seen_up_to`, on any device); while the panel is open in a visible page the
//!   newest message is reported `seen` and the count drops to 0.

mod seen;
mod typing;

use std::rc::Rc;

use leptos::prelude::*;
use natter_protocol::{
    visitor::{AttachmentRules, ClientFrame, LinkOutcome, ServerFrame, WidgetSettings},
    Attachment, ClientMessageId, ConversationId, ErrorCode, Message, Seq, PROTOCOL_VERSION,
};
use wasm_bindgen::{closure::Closure, JsCast};

use crate::{
    boot::Boot,
    connection::{self, Connection, Event},
    consent::Consent,
    cookie,
    events::{Emitter, WidgetEvent},
    form::FormState,
    identity_requests::IdentityRequests,
    log,
    outbox::{self, Outbox},
    strings::{Locale, Strings},
    thread::{team_name, Pending, Thread},
    upload::Endpoint,
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
    /// `natter('identify', …)` and `natter('reset')` not answered yet.
    requests: IdentityRequests,
    /// The visitor has seen the thread up to this seq: the highest of the relay's mark (from
    /// the welcome) and what this page showed in a visible, open panel.
    seen_up_to: Seq,
    /// The seen mark the relay has (from the welcome, or a `seen` frame sent since).
    seen_reported: Seq,
    /// A `typing: true` went out and no `typing: false` since; when (ms since the epoch).
    typing_since: Option<f64>,
    /// The magic-link token of the page's address (E6), until the first hello carries it:
    /// later reconnects must not use it again.
    link: Option<String>,
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
    /// A magic link that did not open its conversation (E6: expired or invalid): the status
    /// line says so until the visitor writes; the chat works as usual.
    pub link_failed: RwSignal<bool>,
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
    pub form: RwSignal<FormState>,
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
    /// Creates the state and opens the connection. Call inside the app's reactive owner. A
    /// magic link in the page's address (E6) opens the panel and goes with the first hello.
    pub fn start(boot: &Boot) -> Self {
        let chat = Self::new(boot);
        chat.restore_outbox();
        chat.watch_visibility();
        let link = boot.link.clone();
        let linked = link.is_some();
        chat.session.update_value(|session| session.link = link);
        chat.connect(boot);
        if linked {
            chat.set_open(true);
        }
        chat
    }

    fn new(boot: &Boot) -> Self {
        // A cookie from an earlier visit was written with consent; keep renewing it.
        let consent = if cookie::read().is_some() {
            Consent::Granted
        } else {
            Consent::Unknown
        };
        Self {
            thread: RwSignal::new(Thread::default()),
            status: RwSignal::new(Status::Connecting),
            alert: RwSignal::new(None),
            received_notice: RwSignal::new(false),
            agents_online: RwSignal::new(true),
            away_message: RwSignal::new(None),
            link_failed: RwSignal::new(false),
            open: RwSignal::new(false),
            locale: RwSignal::new(boot.locale),
            unread: RwSignal::new(0),
            agents_typing: RwSignal::new(Vec::new()),
            attachment_rules: RwSignal::new(AttachmentRules::default()),
            form: RwSignal::new(FormState::default()),
            relay: StoredValue::new((boot.relay.clone(), boot.site.clone())),
            session: StoredValue::new(Session {
                consent,
                ..Session::default()
            }),
            outbox: StoredValue::new_local(Outbox::new(&boot.site)),
            timers: StoredValue::new_local(Timers::default()),
            connection: StoredValue::new_local(None),
            emitter: StoredValue::new_local(Emitter::new(boot.emit.clone())),
        }
    }

    /// Opens the connection to the relay, unless its URL is unusable.
    fn connect(&self, boot: &Boot) {
        let Some(url) = connection::visitor_ws_url(&boot.relay) else {
            log::error(&format!("the relay URL \"{}\" is not http(s)", boot.relay));
            self.status.set(Status::Unavailable);
            return;
        };
        let (chat, site) = (*self, boot.site.clone());
        let connection = Connection::new(
            url,
            move || chat.hello(&site),
            move |event| chat.handle(event),
        );
        self.connection.set_value(Some(Rc::clone(&connection)));
        connection.start();
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
        self.link_failed.set(false);
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
        self.session
            .update_value(|session| session.requests.identify(frame));
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
        self.session
            .update_value(|session| session.requests.reset());
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

    /// Sends the identify or forget that waits for a welcomed socket, if one is due.
    fn send_requests(&self) {
        let Some((request, frame)) = self.session.with_value(|session| session.requests.due())
        else {
            return;
        };
        if self.send(&frame) {
            self.session
                .update_value(|session| session.requests.sent(request));
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
        // A magic link goes once, in the first hello after the page loaded (E6).
        let link = self
            .session
            .try_update_value(|session| {
                session.sent_visitor = visitor.clone();
                session.link.take()
            })
            .flatten();
        ClientFrame::Hello {
            v: PROTOCOL_VERSION,
            site: site.to_owned(),
            visitor,
            after_seq,
            // Emails to this visitor are written in the widget's language (E2).
            lang: Some(self.locale.get_untracked().code().to_owned()),
            link,
        }
    }

    fn handle(&self, event: Event) {
        match event {
            Event::Frame(frame) => self.frame(frame),
            Event::Disconnected => self.connection_lost(),
            Event::Terminal => self.status.set(Status::Unavailable),
        }
    }

    /// The socket dropped; a reconnect is under way.
    fn connection_lost(&self) {
        // Requests sent on the lost socket may not have arrived: they go again after the welcome.
        self.session
            .update_value(|session| session.requests.disconnected());
        self.status.set(Status::Reconnecting);
        // A form on its way may not have arrived: the visitor sends it again.
        self.form.update(FormState::not_sent);
        self.typing_disconnected();
    }

    /// One server frame, to its handler.
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
                link,
                ..
            } => {
                // An expired or altered link opens the chat all the same, with a notice (E6).
                if link.is_some_and(|outcome| outcome != LinkOutcome::Opened) {
                    self.link_failed.set(true);
                }
                let replace = self.welcomed(visitor, settings, known_email);
                self.show_welcome(replace, conversation_id, messages, read_up_to);
                self.welcomed_seen(seen_up_to, replace);
                self.online();
            }
            ServerFrame::Ack { client_id, message } => self.acked(client_id, &message),
            ServerFrame::Message { message } => self.received(&message),
            ServerFrame::Identified { email, verified } => self.identified(email, verified),
            ServerFrame::Forgotten => self.forgotten(),
            ServerFrame::Error {
                code,
                message,
                client_id: Some(client_id),
            } => self.message_refused(code, &message, client_id),
            ServerFrame::Error {
                code,
                message,
                client_id: None,
            } => self.request_refused(code, &message),
            ServerFrame::Availability { agents_online } => self.agents_online.set(agents_online),
            ServerFrame::Typing { name, typing } => self.agent_typing(&name, typing),
            ServerFrame::Read { up_to_seq } => self
                .thread
                .maybe_update(|thread| thread.set_read(up_to_seq)),
            ServerFrame::FormAccepted { email } => self.form_accepted(email),
            ServerFrame::FormRejected { errors } => self.form.update(|form| form.rejected(errors)),
            ServerFrame::Unknown => {}
        }
    }

    /// A welcome's visitor and site settings. Returns whether the thread shown so far is to be
    /// replaced: on a first welcome, or when the relay replaced the visitor id (expired,
    /// forged, or another tab reset it), the thread shown so far is not this visitor's.
    fn welcomed(
        &self,
        visitor: String,
        settings: WidgetSettings,
        known_email: Option<String>,
    ) -> bool {
        let replace = self.session.with_value(|session| {
            !session.welcomed || session.sent_visitor.as_deref() != Some(visitor.as_str())
        });
        self.away_message.set(settings.away_message);
        self.attachment_rules.set(settings.attachments);
        self.form
            .update(|form| form.welcome(settings.form, known_email));
        self.session.update_value(|session| {
            session.welcomed = true;
            session.visitor = Some(visitor);
            session.consent_required = Some(settings.consent_required);
        });
        self.store_visitor();
        replace
    }

    /// Shows a welcome's messages: instead of the thread (`replace`), or merged into it.
    fn show_welcome(
        &self,
        replace: bool,
        conversation_id: Option<ConversationId>,
        messages: Vec<Message>,
        read_up_to: Seq,
    ) {
        // A message pending here may be in the welcome already (sent by another tab, or
        // stored just before the socket dropped): the edit drops it from the outbox.
        self.edit_thread(|thread| {
            if replace {
                thread.replace(conversation_id, messages);
            } else {
                thread.merge(conversation_id, messages);
            }
            thread.set_read(read_up_to);
        });
    }

    /// The socket is welcomed: what waited for one goes out, unsent messages first.
    fn online(&self) {
        self.status.set(Status::Online);
        for pending in self.thread.with_untracked(Thread::unsent) {
            self.send_pending(&pending);
        }
        self.send_requests();
    }

    /// The relay stored a message this page sent.
    fn acked(&self, client_id: ClientMessageId, message: &Message) {
        let new = self.edit_thread(|thread| thread.ack(client_id, message.clone()));
        if new {
            self.emit(WidgetEvent::MessageSent(message));
        }
    }

    /// A message this socket did not send: a reply from the team, a notice, or the visitor's
    /// own (from another tab, or another channel).
    fn received(&self, message: &Message) {
        // The visitor's own message from another tab replaces its pending copy here.
        let new = self.edit_thread(|thread| thread.insert(message.clone()));
        if let Some(name) = team_name(&message.author) {
            // The reply is here: that agent (or the bot) is no longer typing it.
            self.agent_typing(name, false);
            if new {
                self.emit(WidgetEvent::MessageReceived(message));
            }
        }
        self.refresh_seen();
    }

    /// The relay accepted an identify.
    fn identified(&self, email: String, verified: bool) {
        self.session
            .update_value(|session| session.requests.identified());
        self.emit(WidgetEvent::EmailCaptured {
            email: &email,
            verified,
        });
        // The relay has an email now: the form never asks for it again.
        self.form.update(|form| form.known(email));
        // A new welcome follows if the thread changed (a verified contact's history).
    }

    /// The relay forgot the visitor: start over as a new, anonymous one.
    fn forgotten(&self) {
        cookie::delete();
        self.session.update_value(|session| {
            session.requests.forgotten();
            session.visitor = None;
            session.sent_visitor = None;
            session.welcomed = false;
            session.seen_up_to = 0;
            session.seen_reported = 0;
        });
        // Messages typed by the forgotten visitor must not reach the next one's conversation.
        self.thread.set(Thread::default());
        self.form.update(FormState::forgotten);
        self.outbox.with_value(Outbox::clear);
        self.stop_typing();
        self.alert.set(None);
        self.refresh_seen();
        self.status.set(Status::Connecting);
        if let Some(connection) = self.connection.with_value(Clone::clone) {
            connection.restart();
        }
    }

    /// A visitor message was refused: the visitor sees why.
    fn message_refused(&self, code: ErrorCode, message: &str, client_id: ClientMessageId) {
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

    /// The answer to a host call (identify, reset) or the form: the host's developer needs it,
    /// the visitor does not. Refused identities leave the chat anonymous and working.
    fn request_refused(&self, code: ErrorCode, message: &str) {
        self.session.update_value(|session| {
            session.requests.refused();
        });
        // The relay could not store the email form: the visitor may try again.
        if code == ErrorCode::Internal {
            self.form.update(FormState::server_failed);
        }
        log::error(message);
    }

    /// The relay stored the email-capture form.
    fn form_accepted(&self, email: String) {
        self.emit(WidgetEvent::EmailCaptured {
            email: &email,
            verified: false,
        });
        // With nobody online the reply will come by email too (W6): the confirmation says so.
        let away = !self.agents_online.get_untracked();
        self.form.update(|form| form.accepted(email, away));
    }

    fn emit(&self, event: WidgetEvent<'_>) {
        self.emitter.with_value(|emitter| emitter.emit(event));
    }
}

/// Reliability (W4): every change to pending messages is mirrored into the outbox.
impl Chat {
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
