//! Typing indicators both ways (W7), as part of the chat controller: the visitor's typing goes
//! out as `typing` frames, throttled and ended when they stop; agents' typing shows until they
//! say they stopped, their message arrives, or the indicator lapses without renewal.

use std::time::Duration;

use leptos::prelude::*;
use natter_protocol::{agent::TYPING_LAPSE_MS, visitor::ClientFrame};

use super::Chat;

/// While the visitor keeps typing, `typing: true` is repeated at most this often (the agent's
/// indicator lapses after `TYPING_LAPSE_MS` without a renewal).
const TYPING_RENEW_MS: f64 = 3_000.0;
/// After this long without a keystroke the visitor is no longer typing.
const TYPING_IDLE_MS: u64 = 4_000;

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
        self.restart_idle_timer();
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

    /// Stops "typing" [`TYPING_IDLE_MS`] after this keystroke, unless another one comes first.
    fn restart_idle_timer(&self) {
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

    /// Shows or hides one agent's typing indicator. A `typing: true` that is not renewed
    /// within [`TYPING_LAPSE_MS`] hides itself (the agent may have closed the console).
    pub(super) fn agent_typing(&self, name: &str, typing: bool) {
        self.cancel_typing_lapse(name);
        if typing {
            self.arm_typing_lapse(name);
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

    /// Cancels the timer that would hide `name`'s indicator: it was renewed or ended.
    fn cancel_typing_lapse(&self, name: &str) {
        self.timers.update_value(|timers| {
            timers.agents.retain(|(agent, handle)| {
                let same = agent == name;
                if same {
                    handle.clear();
                }
                !same
            });
        });
    }

    /// Hides `name`'s indicator after [`TYPING_LAPSE_MS`] unless it is renewed first.
    fn arm_typing_lapse(&self, name: &str) {
        let (chat, agent) = (*self, name.to_owned());
        let lapse = set_timeout_with_handle(
            move || chat.agent_typing(&agent, false),
            Duration::from_millis(TYPING_LAPSE_MS),
        );
        if let Ok(handle) = lapse {
            self.timers
                .update_value(|timers| timers.agents.push((name.to_owned(), handle)));
        }
    }

    /// The socket dropped: nobody hears the visitor type any more, and agents' indicators
    /// would never be switched off.
    pub(super) fn typing_disconnected(&self) {
        self.session
            .update_value(|session| session.typing_since = None);
        let names = self.agents_typing.get_untracked();
        for name in names {
            self.agent_typing(&name, false);
        }
    }
}
