//! The seen mark and the unread badge (W9), as part of the chat controller. The visitor has
//! seen the thread up to the highest of the relay's mark (from any device) and what this page
//! showed in an open panel in a visible page; the relay hears every advance (for the badge on
//! other devices and the unread-reply email), and the badge counts the team's messages after it.

use leptos::prelude::*;
use natter_protocol::{visitor::ClientFrame, Seq};
use wasm_bindgen::{closure::Closure, JsCast};

use super::Chat;
use crate::{events::WidgetEvent, log, thread::Thread};

impl Chat {
    /// The welcome's seen mark is the relay's (from any device). After a replace (another
    /// visitor or conversation) the local mark no longer applies.
    pub(super) fn welcomed_seen(&self, seen_up_to: Seq, replace: bool) {
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
    /// the newest seq. Then the unread count follows the seen mark.
    pub(super) fn refresh_seen(&self) {
        let showing = self.open.get_untracked() && page_visible();
        let newest = self.thread.with_untracked(Thread::last_seq);
        let seen = self.session.with_value(|session| match newest {
            Some(newest) if showing => session.seen_up_to.max(newest),
            _ => session.seen_up_to,
        });
        self.report_seen(seen);
        self.set_unread(
            self.thread
                .with_untracked(|thread| thread.unread_after(seen)),
        );
    }

    /// Keeps the seen mark, and sends it if the relay has an older one. A mark that could not
    /// be sent (no welcomed socket) goes with the next refresh: the welcome triggers one.
    fn report_seen(&self, seen: Seq) {
        let reported = self.session.with_value(|session| session.seen_reported);
        let sent = seen > reported && self.send(&ClientFrame::Seen { up_to_seq: seen });
        self.session.update_value(|session| {
            session.seen_up_to = seen;
            if sent {
                session.seen_reported = seen;
            }
        });
    }

    fn set_unread(&self, count: u32) {
        if self.unread.get_untracked() != count {
            self.unread.set(count);
            self.emit(WidgetEvent::Unread(count));
        }
    }

    /// Re-checks the seen mark when the page is shown again (an open panel in a background
    /// tab does not count as seen), and stops "typing" when it is hidden.
    pub(super) fn watch_visibility(&self) {
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
}

/// Whether the page is visible (not a background tab, not minimised).
fn page_visible() -> bool {
    web_sys::window()
        .and_then(|window| window.document())
        .is_none_or(|document| !document.hidden())
}
