//! The agent WebSocket (`GET /v1/agent/ws`) and its reconnect loop.
//!
//! The relay pushes every change to the inbox over this socket, so the console never polls.
//! Sockets drop (deploys, Wi-Fi, sleeping laptops); this module reconnects with capped,
//! jittered exponential backoff and tells the app about every state change through one
//! callback, so the app can re-fetch what it may have missed. It knows nothing about the UI.
//!
//! Callback ordering: the callback is always invoked with no internal borrow held, so it may
//! call [`Live::stop`] from inside (for example when the session ended).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::{set_timeout_with_handle, TimeoutHandle};
use natter_protocol::agent::{AgentServerFrame, AGENT_WS_PATH};
use natter_protocol::close_code;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

/// First retry delay; doubled per failed attempt.
const BASE_DELAY_MS: f64 = 500.0;
/// Longest wait between two attempts.
const MAX_DELAY_MS: f64 = 30_000.0;
/// A connection that stayed open this long counts as healthy: the backoff starts over.
const HEALTHY_AFTER_MS: f64 = 10_000.0;

/// What the app hears from the socket.
// One event per frame, moved once to the app: boxing the frame would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// The socket is open (the first time or after a reconnect). Anything may have been missed
    /// while it was down: re-fetch.
    Open,
    /// A frame from the relay.
    Frame(AgentServerFrame),
    /// The socket closed or could not open; a retry is scheduled. `was_open` is false when the
    /// attempt failed before the handshake (which is also how an expired session looks).
    Lost { was_open: bool },
    /// The relay closed with [`close_code::UNAUTHORIZED`]: the session is gone. No retry.
    Unauthorized,
    /// The relay closed with another terminal code; reconnecting cannot help. No retry.
    Stopped,
}

/// The delay before retry number `attempt` (0-based): exponential, capped, with jitter in
/// `[half, full]` of the step so many consoles do not reconnect in lockstep. `random` is in
/// `[0, 1)`.
pub fn backoff_delay_ms(attempt: u32, random: f64) -> f64 {
    let step = (BASE_DELAY_MS * 2f64.powi(attempt.min(16) as i32)).min(MAX_DELAY_MS);
    step * (0.5 + 0.5 * random.clamp(0.0, 1.0))
}

/// The handlers bound to one socket; dropped (unbinding them) when the socket is replaced.
struct Handlers {
    _open: Closure<dyn FnMut(Event)>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
}

struct Inner {
    on_event: Rc<dyn Fn(LiveEvent)>,
    socket: Option<WebSocket>,
    handlers: Option<Handlers>,
    retry: Option<TimeoutHandle>,
    attempt: u32,
    opened_at: Option<f64>,
    stopped: bool,
}

/// A running agent socket. Cheap to clone; all clones control the same connection.
#[derive(Clone)]
pub struct Live {
    inner: Rc<RefCell<Inner>>,
}

impl Live {
    /// Connects now and keeps reconnecting until [`Live::stop`] or a terminal close.
    pub fn start(on_event: impl Fn(LiveEvent) + 'static) -> Self {
        let live = Self {
            inner: Rc::new(RefCell::new(Inner {
                on_event: Rc::new(on_event),
                socket: None,
                handlers: None,
                retry: None,
                attempt: 0,
                opened_at: None,
                stopped: false,
            })),
        };
        live.connect();
        live
    }

    /// Closes the socket for good and cancels any scheduled retry.
    pub fn stop(&self) {
        let (socket, handlers) = {
            let mut inner = self.inner.borrow_mut();
            inner.stopped = true;
            if let Some(retry) = inner.retry.take() {
                retry.clear();
            }
            (inner.socket.take(), inner.handlers.take())
        };
        if let Some(socket) = socket {
            unbind(&socket);
            let _ = socket.close();
        }
        // This may run inside one of these handlers: drop them once the current event is done.
        release_later(handlers);
    }

    fn connect(&self) {
        if self.inner.borrow().stopped {
            return;
        }
        let Some(url) = socket_url() else {
            self.lost(false);
            return;
        };
        let socket = match WebSocket::new(&url) {
            Ok(socket) => socket,
            Err(_) => {
                self.lost(false);
                return;
            }
        };

        let on_open = {
            let live = self.clone();
            Closure::<dyn FnMut(Event)>::new(move |_: Event| live.opened())
        };
        let on_message = {
            let live = self.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                // Text frames only; a frame that does not parse is ignored (a newer relay may
                // send shapes this build does not know).
                let Some(text) = event.data().as_string() else {
                    return;
                };
                if let Ok(frame) = serde_json::from_str::<AgentServerFrame>(&text) {
                    if frame != AgentServerFrame::Unknown {
                        live.emit(LiveEvent::Frame(frame));
                    }
                }
            })
        };
        let on_close = {
            let live = self.clone();
            Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
                live.closed(event.code())
            })
        };
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));

        let (old_socket, old_handlers) = {
            let mut inner = self.inner.borrow_mut();
            inner.opened_at = None;
            let old_socket = inner.socket.replace(socket);
            let old_handlers = inner.handlers.replace(Handlers {
                _open: on_open,
                _message: on_message,
                _close: on_close,
            });
            (old_socket, old_handlers)
        };
        if let Some(old) = old_socket {
            unbind(&old);
            let _ = old.close();
        }
        release_later(old_handlers);
    }

    fn opened(&self) {
        self.inner.borrow_mut().opened_at = Some(js_sys::Date::now());
        self.emit(LiveEvent::Open);
    }

    fn closed(&self, code: u16) {
        if self.inner.borrow().stopped {
            return;
        }
        if code == close_code::UNAUTHORIZED {
            self.stop();
            self.emit(LiveEvent::Unauthorized);
        } else if !close_code::should_reconnect(code) {
            self.stop();
            self.emit(LiveEvent::Stopped);
        } else {
            let was_open = self.inner.borrow().opened_at.is_some();
            self.lost(was_open);
        }
    }

    /// Schedules the next attempt and reports the loss.
    fn lost(&self, was_open: bool) {
        let delay = {
            let mut inner = self.inner.borrow_mut();
            if inner.stopped {
                return;
            }
            if let Some(opened_at) = inner.opened_at.take() {
                if js_sys::Date::now() - opened_at >= HEALTHY_AFTER_MS {
                    inner.attempt = 0;
                }
            }
            let delay = backoff_delay_ms(inner.attempt, js_sys::Math::random());
            inner.attempt = inner.attempt.saturating_add(1);
            delay
        };
        let live = self.clone();
        let handle = set_timeout_with_handle(
            move || {
                live.inner.borrow_mut().retry = None;
                live.connect();
            },
            Duration::from_millis(delay as u64),
        );
        self.inner.borrow_mut().retry = handle.ok();
        self.emit(LiveEvent::Lost { was_open });
    }

    fn emit(&self, event: LiveEvent) {
        let on_event = Rc::clone(&self.inner.borrow().on_event);
        on_event(event);
    }
}

/// `ws://` or `wss://` on the page's own host.
fn socket_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!(
        "{scheme}://{}{AGENT_WS_PATH}",
        location.host().ok()?
    ))
}

fn unbind(socket: &WebSocket) {
    socket.set_onopen(None);
    socket.set_onmessage(None);
    socket.set_onclose(None);
}

/// Drops handlers on a later task, never while one of them may still be running.
fn release_later(handlers: Option<Handlers>) {
    if let Some(handlers) = handlers {
        let _ = set_timeout_with_handle(move || drop(handlers), Duration::ZERO);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        assert_eq!(backoff_delay_ms(0, 1.0), 500.0);
        assert_eq!(backoff_delay_ms(0, 0.0), 250.0);
        assert_eq!(backoff_delay_ms(3, 1.0), 4_000.0);
        assert_eq!(backoff_delay_ms(10, 1.0), 30_000.0);
        assert_eq!(backoff_delay_ms(u32::MAX, 0.0), 15_000.0);
    }
}
