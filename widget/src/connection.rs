//! The visitor WebSocket to the relay: connect, say hello, decode frames, reconnect.
//!
//! It knows the protocol's transport rules and nothing about the UI: the owner gives it a
//! function that builds the `hello` frame (called on every connect, so it can carry the
//! current cookie and `after_seq`) and a function that receives [`Event`]s. Reconnects use
//! exponential backoff with jitter, capped at 30 s, and happen at once when the browser comes
//! back `online`, the page becomes visible again or is restored from the back/forward cache.
//! A terminal close code (see `natter_protocol::close_code`) stops reconnecting for good.
//!
//! Everything it creates (the socket, the reconnect timer, the page listeners) is released by
//! [`Connection::stop`], so `natter('destroy')` leaves nothing running;
//! [`Connection::restart`] starts over on a fresh socket (after `natter('reset')`).

use std::{cell::RefCell, rc::Rc};

use natter_protocol::{
    close_code,
    visitor::{ClientFrame, ServerFrame, VISITOR_WS_PATH},
};
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::log;

/// The first reconnect waits up to this long; each failure doubles it.
const BASE_DELAY_MS: f64 = 1_000.0;
/// No reconnect waits longer than this.
const MAX_DELAY_MS: f64 = 30_000.0;

/// What the connection reports to its owner.
// Passed once, by value, to the owner's handler and never stored: boxing the frame would buy
// nothing (the size difference only shows on 64-bit targets anyway).
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// A frame from the relay.
    Frame(ServerFrame),
    /// The socket closed; a reconnect is scheduled.
    Disconnected,
    /// The relay closed with a terminal code; no reconnect will happen.
    Terminal,
}

/// The visitor WebSocket URL for a relay origin: `http` becomes `ws`, `https` becomes `wss`.
pub fn visitor_ws_url(relay: &str) -> Option<String> {
    let relay = relay.trim_end_matches('/');
    let host = relay
        .strip_prefix("https://")
        .map(|host| ("wss://", host))
        .or_else(|| relay.strip_prefix("http://").map(|host| ("ws://", host)));
    match host {
        Some((scheme, host)) if !host.is_empty() => {
            Some(format!("{scheme}{host}{VISITOR_WS_PATH}"))
        }
        _ => None,
    }
}

/// How long to wait before reconnect attempt number `attempt` (0 = first), given a random
/// `jitter` in `[0, 1)`: between half and all of `min(1 s × 2^attempt, 30 s)`.
pub fn backoff_ms(attempt: u32, jitter: f64) -> i32 {
    let exponential = BASE_DELAY_MS * 2f64.powi(attempt.min(16) as i32);
    let capped = exponential.min(MAX_DELAY_MS);
    (capped * (0.5 + 0.5 * jitter.clamp(0.0, 1.0))) as i32
}

/// One WebSocket and the callbacks attached to it.
struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    fn detach(&self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
    }

    /// Detaches and closes the socket; its callbacks stay alive until it is dropped.
    fn shut(&self) {
        self.detach();
        if self.ws.close().is_err() {
            log::warn("cannot close the socket");
        }
    }
}

/// The page events that skip the backoff wait, and where they are listened for.
const WAKE_EVENTS: [(&str, bool); 3] = [
    ("online", false),
    ("pageshow", false),
    ("visibilitychange", true),
];

#[derive(Default)]
struct State {
    /// The open (or opening) socket.
    socket: Option<Socket>,
    /// The socket that closed last. Its callbacks may still be on the stack when it closes,
    /// so it is dropped only when the next one is created.
    retired: Option<Socket>,
    /// Counts sockets, so callbacks of an old socket are recognised and ignored.
    generation: u32,
    /// The relay answered `hello` on the current socket: other frames may be sent.
    ready: bool,
    /// Failed attempts since the last welcome.
    attempt: u32,
    /// The pending reconnect timer.
    timer: Option<i32>,
    /// A terminal close happened, or [`Connection::stop`] was called: never reconnect.
    stopped: bool,
    /// The listener for [`WAKE_EVENTS`], kept to remove it on stop.
    wake: Option<Closure<dyn FnMut()>>,
}

/// The visitor connection. Create with [`Connection::new`], then call [`Connection::start`].
pub struct Connection {
    url: String,
    hello: Box<dyn Fn() -> ClientFrame>,
    on_event: Box<dyn Fn(Event)>,
    state: RefCell<State>,
}

impl Connection {
    pub fn new(
        url: String,
        hello: impl Fn() -> ClientFrame + 'static,
        on_event: impl Fn(Event) + 'static,
    ) -> Rc<Self> {
        Rc::new(Self {
            url,
            hello: Box::new(hello),
            on_event: Box::new(on_event),
            state: RefCell::default(),
        })
    }

    /// Connects, and reconnects at once on `online`, `visibilitychange` (to visible) and
    /// `pageshow`, until [`Connection::stop`].
    pub fn start(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let wake = Closure::<dyn FnMut()>::new(move || {
            let visible = web_sys::window()
                .and_then(|window| window.document())
                .is_none_or(|document| !document.hidden());
            if let Some(connection) = weak.upgrade().filter(|_| visible) {
                connection.reconnect_now();
            }
        });
        for (event, on_document) in WAKE_EVENTS {
            let listening = wake_target(on_document).is_some_and(|target| {
                target
                    .add_event_listener_with_callback(event, wake.as_ref().unchecked_ref())
                    .is_ok()
            });
            if !listening {
                log::warn(&format!("cannot listen for {event} events"));
            }
        }
        self.state.borrow_mut().wake = Some(wake);
        self.connect();
    }

    /// Closes the socket, cancels the reconnect timer and removes the page listeners, for
    /// good. Safe to call twice.
    pub fn stop(&self) {
        let (socket, retired, wake) = {
            let mut state = self.state.borrow_mut();
            state.stopped = true;
            state.ready = false;
            cancel_timer(&mut state);
            (state.socket.take(), state.retired.take(), state.wake.take())
        };
        if let Some(socket) = socket {
            socket.shut();
        }
        if let Some(retired) = retired {
            retired.detach();
        }
        if let Some(wake) = wake {
            for (event, on_document) in WAKE_EVENTS {
                if let Some(target) = wake_target(on_document) {
                    // Removing a listener that is not there is not an error.
                    let _ = target
                        .remove_event_listener_with_callback(event, wake.as_ref().unchecked_ref());
                }
            }
        }
    }

    /// Drops the current socket and connects again at once, so the next hello is built
    /// afresh (after the visitor was forgotten). May be called from a frame handler: the old
    /// socket's callbacks are released only when the new socket is created.
    pub fn restart(self: &Rc<Self>) {
        {
            let mut state = self.state.borrow_mut();
            if state.stopped {
                return;
            }
            state.ready = false;
            state.attempt = 0;
            state.generation = state.generation.wrapping_add(1);
            cancel_timer(&mut state);
            if let Some(socket) = state.socket.take() {
                socket.shut();
                if let Some(older) = state.retired.replace(socket) {
                    older.detach();
                }
            }
        }
        self.schedule(0);
    }

    /// Sends a frame if the relay has welcomed this socket. Returns whether it was sent; a
    /// frame that was not sent is the caller's to keep and send after the next welcome.
    pub fn send(&self, frame: &ClientFrame) -> bool {
        let ws = {
            let state = self.state.borrow();
            match (&state.socket, state.ready) {
                (Some(socket), true) => socket.ws.clone(),
                _ => return false,
            }
        };
        send_on(&ws, frame)
    }

    fn connect(self: &Rc<Self>) {
        let mut state = self.state.borrow_mut();
        if state.stopped || state.socket.is_some() {
            return;
        }
        if let Some(old) = state.retired.take() {
            old.detach();
        }
        let ws = match WebSocket::new(&self.url) {
            Ok(ws) => ws,
            Err(_) => {
                log::error(&format!("cannot open a WebSocket to {}", self.url));
                drop(state);
                self.schedule_reconnect();
                return;
            }
        };
        state.generation = state.generation.wrapping_add(1);
        state.ready = false;
        let generation = state.generation;

        let weak = Rc::downgrade(self);
        let on_open = Closure::<dyn FnMut()>::new(move || {
            if let Some(connection) = weak.upgrade() {
                connection.opened(generation);
            }
        });
        let weak = Rc::downgrade(self);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(connection) = weak.upgrade() {
                connection.received(generation, &event);
            }
        });
        let weak = Rc::downgrade(self);
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            if let Some(connection) = weak.upgrade() {
                connection.closed(generation, event.code());
            }
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        state.socket = Some(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        });
    }

    fn current(&self, generation: u32) -> Option<WebSocket> {
        let state = self.state.borrow();
        if state.generation != generation {
            return None;
        }
        state.socket.as_ref().map(|socket| socket.ws.clone())
    }

    fn opened(&self, generation: u32) {
        if let Some(ws) = self.current(generation) {
            send_on(&ws, &(self.hello)());
        }
    }

    fn received(&self, generation: u32, event: &MessageEvent) {
        if self.current(generation).is_none() {
            return;
        }
        let Some(text) = event.data().as_string() else {
            log::warn("ignoring a binary frame");
            return;
        };
        let frame = match serde_json::from_str::<ServerFrame>(&text) {
            Ok(frame) => frame,
            Err(error) => {
                log::warn(&format!("ignoring a frame that does not parse: {error}"));
                return;
            }
        };
        if matches!(frame, ServerFrame::Welcome { .. }) {
            let mut state = self.state.borrow_mut();
            state.ready = true;
            state.attempt = 0;
        }
        // No borrow is held here: the owner may call `send` from its handler.
        (self.on_event)(Event::Frame(frame));
    }

    fn closed(self: &Rc<Self>, generation: u32, code: u16) {
        let terminal = {
            let mut state = self.state.borrow_mut();
            if state.generation != generation {
                return;
            }
            state.ready = false;
            if let Some(old) = state.retired.take() {
                old.detach();
            }
            state.retired = state.socket.take();
            if !close_code::should_reconnect(code) {
                state.stopped = true;
            }
            state.stopped
        };
        if terminal {
            log::error(&format!("the relay closed the chat for good (code {code})"));
            (self.on_event)(Event::Terminal);
        } else {
            (self.on_event)(Event::Disconnected);
            self.schedule_reconnect();
        }
    }

    fn schedule_reconnect(self: &Rc<Self>) {
        let delay = {
            let mut state = self.state.borrow_mut();
            let delay = backoff_ms(state.attempt, js_sys::Math::random());
            state.attempt = state.attempt.saturating_add(1);
            delay
        };
        self.schedule(delay);
    }

    /// Connects after `delay_ms`, unless stopped or a connect is already scheduled.
    fn schedule(self: &Rc<Self>, delay_ms: i32) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let mut state = self.state.borrow_mut();
        if state.stopped || state.timer.is_some() {
            return;
        }
        let weak = Rc::downgrade(self);
        let retry = Closure::once_into_js(move || {
            if let Some(connection) = weak.upgrade() {
                connection.state.borrow_mut().timer = None;
                connection.connect();
            }
        });
        match window
            .set_timeout_with_callback_and_timeout_and_arguments_0(retry.unchecked_ref(), delay_ms)
        {
            Ok(timer) => state.timer = Some(timer),
            Err(_) => log::error("cannot schedule a reconnect"),
        }
    }

    /// Skips the backoff wait: the network or the page just came back.
    fn reconnect_now(self: &Rc<Self>) {
        {
            let mut state = self.state.borrow_mut();
            if state.stopped || state.socket.is_some() {
                return;
            }
            cancel_timer(&mut state);
            state.attempt = 0;
        }
        self.connect();
    }
}

fn cancel_timer(state: &mut State) {
    if let (Some(timer), Some(window)) = (state.timer.take(), web_sys::window()) {
        window.clear_timeout_with_handle(timer);
    }
}

/// The window, or its document for `visibilitychange`.
fn wake_target(on_document: bool) -> Option<web_sys::EventTarget> {
    let window = web_sys::window()?;
    if on_document {
        window.document().map(Into::into)
    } else {
        Some(window.into())
    }
}

fn send_on(ws: &WebSocket, frame: &ClientFrame) -> bool {
    let text = match serde_json::to_string(frame) {
        Ok(text) => text,
        Err(error) => {
            log::error(&format!("cannot encode a frame: {error}"));
            return false;
        }
    };
    match ws.send_with_str(&text) {
        Ok(()) => true,
        Err(_) => {
            log::warn("cannot send a frame: the socket is not open");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_url_follows_the_relay_scheme() {
        assert_eq!(
            visitor_ws_url("http://127.0.0.1:8080").as_deref(),
            Some("ws://127.0.0.1:8080/v1/visitor/ws")
        );
        assert_eq!(
            visitor_ws_url("https://chat.example.com/").as_deref(),
            Some("wss://chat.example.com/v1/visitor/ws")
        );
        assert_eq!(visitor_ws_url("ftp://x"), None);
        assert_eq!(visitor_ws_url("https://"), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_ms(0, 0.0), 500);
        assert_eq!(backoff_ms(0, 0.999_999), 999);
        assert_eq!(backoff_ms(3, 0.0), 4_000);
        assert_eq!(backoff_ms(10, 0.0), 15_000);
        assert_eq!(backoff_ms(10, 1.0), 30_000);
        assert_eq!(backoff_ms(u32::MAX, 0.5), 22_500);
    }
}
