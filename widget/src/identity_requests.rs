//! The host's `natter('identify', …)` and `natter('reset')` requests and where each stands, as
//! plain state: events in (a host call, a frame sent, an answer, a lost socket), the frame to
//! send out. No signals and no socket here, so every transition is unit-tested natively; `chat`
//! does the sending and the side effects of the answers.
//!
//! The rules:
//! - Both need a welcomed socket: a request made before there is one waits, and goes out after
//!   the next welcome.
//! - A request sent on a socket that drops before its answer goes out again on the next one
//!   (the relay may never have seen it; identify and forget are both safe to repeat).
//! - A forget goes first, and an identify waits while a forget is unanswered: that identify is
//!   meant for the new, anonymous visitor who follows the forget.
//! - A reset drops an identify not yet answered (it was about the visitor being forgotten); a
//!   newer identify replaces an older one, even one already sent.
//! - `identified` answers the identify and `forgotten` the forget; an `error` frame without a
//!   `client_id` answers the request on the current socket, the identify first.

use natter_protocol::visitor::ClientFrame;

/// Which of the two requests a frame or an answer concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Identify,
    Forget,
}

/// Where an unanswered request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Not sent yet: goes out after the next welcome.
    Waiting,
    /// Sent on the current socket; its answer clears it.
    InFlight,
}

/// The unanswered requests. A request that is answered (or dropped) is `None`, so a stage
/// never outlives its request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IdentityRequests {
    /// The last identify, as the frame to send, and where it stands.
    identify: Option<(ClientFrame, Stage)>,
    /// A reset (the `forget` frame) and where it stands.
    forget: Option<Stage>,
}

impl IdentityRequests {
    /// `natter('identify', frame)`: replaces any earlier identify, sent or not.
    pub fn identify(&mut self, frame: ClientFrame) {
        self.identify = Some((frame, Stage::Waiting));
    }

    /// `natter('reset')`: forget the visitor. An unanswered identify was about that visitor
    /// and is dropped; a forget already sent is sent again.
    pub fn reset(&mut self) {
        self.identify = None;
        self.forget = Some(Stage::Waiting);
    }

    /// What to send now on a welcomed socket, if anything: a waiting forget, else a waiting
    /// identify unless a forget is unanswered. Report it with [`Self::sent`] once it went out.
    pub fn due(&self) -> Option<(Request, ClientFrame)> {
        match (&self.forget, &self.identify) {
            (Some(Stage::Waiting), _) => Some((Request::Forget, ClientFrame::Forget)),
            (None, Some((frame, Stage::Waiting))) => Some((Request::Identify, frame.clone())),
            _ => None,
        }
    }

    /// The frame [`Self::due`] named went out on the current socket.
    pub fn sent(&mut self, request: Request) {
        let stage = match request {
            Request::Identify => self.identify.as_mut().map(|(_, stage)| stage),
            Request::Forget => self.forget.as_mut(),
        };
        if let Some(stage) = stage {
            *stage = Stage::InFlight;
        }
    }

    /// The relay answered `identified`: the identify is done.
    pub fn identified(&mut self) {
        self.identify = None;
    }

    /// The relay answered `forgotten`: the forget is done, and a waiting identify (for the new
    /// visitor) is due after the next welcome.
    pub fn forgotten(&mut self) {
        self.forget = None;
    }

    /// The relay answered an `error` without a `client_id`. If a request is on the current
    /// socket, that error is its answer: the request is dropped (a refused identity leaves the
    /// chat anonymous and working) and returned. `None`: the error was about something else
    /// (the email-capture form, say).
    pub fn refused(&mut self) -> Option<Request> {
        if matches!(self.identify, Some((_, Stage::InFlight))) {
            self.identify = None;
            Some(Request::Identify)
        } else if self.forget == Some(Stage::InFlight) {
            self.forget = None;
            Some(Request::Forget)
        } else {
            None
        }
    }

    /// The socket dropped: what was sent on it may not have arrived, so it waits to be sent
    /// again after the next welcome.
    pub fn disconnected(&mut self) {
        let stages = [
            self.identify.as_mut().map(|(_, stage)| stage),
            self.forget.as_mut(),
        ];
        for stage in stages.into_iter().flatten() {
            *stage = Stage::Waiting;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identify_frame(email: &str) -> ClientFrame {
        ClientFrame::Identify {
            email: email.into(),
            name: None,
            phone: None,
            company: None,
            token: None,
        }
    }

    /// Sends what is due, as `chat` does on a welcomed socket; returns what went out.
    fn send_due(requests: &mut IdentityRequests) -> Option<ClientFrame> {
        let (request, frame) = requests.due()?;
        requests.sent(request);
        Some(frame)
    }

    #[test]
    fn nothing_is_due_at_first() {
        let mut requests = IdentityRequests::default();
        assert_eq!(requests.due(), None);
        assert_eq!(requests.refused(), None);
        requests.disconnected();
        assert_eq!(requests, IdentityRequests::default());
    }

    #[test]
    fn an_identify_before_the_welcome_waits_until_it_is_sent() {
        let mut requests = IdentityRequests::default();
        requests.identify(identify_frame("ada@example.com"));
        // No welcomed socket yet: the caller could not send it, so it stays due.
        let due = Some((Request::Identify, identify_frame("ada@example.com")));
        assert_eq!(requests.due(), due);
        assert_eq!(requests.due(), due);
        assert_eq!(
            send_due(&mut requests),
            Some(identify_frame("ada@example.com"))
        );
        // Sent: not due again while it is on the socket.
        assert_eq!(requests.due(), None);
        requests.identified();
        assert_eq!(requests, IdentityRequests::default());
    }

    #[test]
    fn a_newer_identify_replaces_a_waiting_one() {
        let mut requests = IdentityRequests::default();
        requests.identify(identify_frame("old@example.com"));
        requests.identify(identify_frame("new@example.com"));
        assert_eq!(
            send_due(&mut requests),
            Some(identify_frame("new@example.com"))
        );
        assert_eq!(requests.due(), None);
    }

    #[test]
    fn a_newer_identify_replaces_one_in_flight_and_goes_out_too() {
        let mut requests = IdentityRequests::default();
        requests.identify(identify_frame("old@example.com"));
        send_due(&mut requests);
        requests.identify(identify_frame("new@example.com"));
        assert_eq!(
            send_due(&mut requests),
            Some(identify_frame("new@example.com"))
        );
        // Both are on the socket and the relay answers both, in order: the first answer
        // clears the request, the second changes nothing.
        requests.identified();
        assert_eq!(requests.due(), None);
        assert_eq!(requests.refused(), None);
        requests.identified();
        assert_eq!(requests, IdentityRequests::default());
    }

    #[test]
    fn an_identify_sent_on_a_lost_socket_is_sent_again() {
        let mut requests = IdentityRequests::default();
        requests.identify(identify_frame("ada@example.com"));
        send_due(&mut requests);
        requests.disconnected();
        assert_eq!(
            send_due(&mut requests),
            Some(identify_frame("ada@example.com"))
        );
        // A waiting one stays waiting across another drop.
        requests.disconnected();
        requests.disconnected();
        assert_eq!(
            requests.due(),
            Some((Request::Identify, identify_frame("ada@example.com")))
        );
    }

    #[test]
    fn a_refused_identify_is_dropped() {
        let mut requests = IdentityRequests::default();
        requests.identify(identify_frame("ada@example.com"));
        // An error while it only waits is not its answer (it was never sent).
        assert_eq!(requests.refused(), None);
        send_due(&mut requests);
        assert_eq!(requests.refused(), Some(Request::Identify));
        assert_eq!(requests, IdentityRequests::default());
        // Nothing left for a later error to answer.
        assert_eq!(requests.refused(), None);
    }

    #[test]
    fn a_reset_before_the_welcome_waits_and_answers_clear_it() {
        let mut requests = IdentityRequests::default();
        requests.reset();
        assert_eq!(requests.due(), Some((Request::Forget, ClientFrame::Forget)));
        assert_eq!(send_due(&mut requests), Some(ClientFrame::Forget));
        assert_eq!(requests.due(), None);
        requests.forgotten();
        assert_eq!(requests, IdentityRequests::default());
    }

    #[test]
    fn a_reset_drops_an_unanswered_identify() {
        for sent_first in [false, true] {
            let mut requests = IdentityRequests::default();
            requests.identify(identify_frame("ada@example.com"));
            if sent_first {
                send_due(&mut requests);
            }
            requests.reset();
            assert_eq!(send_due(&mut requests), Some(ClientFrame::Forget));
            requests.forgotten();
            assert_eq!(
                requests.due(),
                None,
                "the identify was for the forgotten visitor"
            );
            // An answer to the dropped identify may still arrive: it changes nothing.
            requests.identified();
            assert_eq!(requests, IdentityRequests::default());
        }
    }

    #[test]
    fn an_identify_after_a_reset_waits_for_the_forgotten_answer() {
        let mut requests = IdentityRequests::default();
        requests.reset();
        requests.identify(identify_frame("new@example.com"));
        // The forget goes first …
        assert_eq!(send_due(&mut requests), Some(ClientFrame::Forget));
        // … and the identify waits while it is unanswered, also across a lost socket.
        assert_eq!(requests.due(), None);
        requests.disconnected();
        assert_eq!(send_due(&mut requests), Some(ClientFrame::Forget));
        assert_eq!(requests.due(), None);
        // Forgotten: now the identify is due (after the welcome of the new visitor).
        requests.forgotten();
        assert_eq!(
            send_due(&mut requests),
            Some(identify_frame("new@example.com"))
        );
        requests.identified();
        assert_eq!(requests, IdentityRequests::default());
    }

    #[test]
    fn a_refused_forget_lets_a_waiting_identify_go_after_the_next_welcome() {
        let mut requests = IdentityRequests::default();
        requests.reset();
        requests.identify(identify_frame("new@example.com"));
        send_due(&mut requests);
        assert_eq!(requests.refused(), Some(Request::Forget));
        assert_eq!(
            requests.due(),
            Some((Request::Identify, identify_frame("new@example.com")))
        );
    }

    #[test]
    fn a_second_reset_sends_the_forget_again() {
        let mut requests = IdentityRequests::default();
        requests.reset();
        send_due(&mut requests);
        requests.reset();
        assert_eq!(send_due(&mut requests), Some(ClientFrame::Forget));
        requests.forgotten();
        assert_eq!(requests.due(), None);
    }

    #[test]
    fn a_forget_sent_on_a_lost_socket_is_sent_again() {
        let mut requests = IdentityRequests::default();
        requests.reset();
        send_due(&mut requests);
        requests.disconnected();
        assert_eq!(requests.due(), Some((Request::Forget, ClientFrame::Forget)));
        // A refusal only answers what is on the socket: nothing is now.
        assert_eq!(requests.refused(), None);
    }

    #[test]
    fn answers_without_a_request_change_nothing() {
        let mut requests = IdentityRequests::default();
        requests.identified();
        requests.forgotten();
        assert_eq!(requests, IdentityRequests::default());
        // `sent` without a due request (the caller's mistake) does not invent one.
        requests.sent(Request::Identify);
        requests.sent(Request::Forget);
        assert_eq!(requests, IdentityRequests::default());
    }
}
