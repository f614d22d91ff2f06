//! Which screen the console shows, and [`Auth`], the one way the rest of the console moves
//! between screens: after a login, after a logout, and whenever the relay says the session is
//! gone.
//!
//! A leaf module: it imports no other console module. The root component (`app`), the API glue
//! (`actions`) and the screens (`ui`) all hold an `Auth`; keeping it here rather than beside the
//! root component means none of them imports a module that imports it back. The notices are
//! reasons here; `app` words them (`strings`).

use leptos::prelude::*;
use natter_protocol::agent::Session;

/// Which screen is shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    /// Waiting for `GET /v1/agent/me`.
    Checking,
    /// Logged out. `notice` explains why, when the agent did not log out themselves.
    Login {
        notice: Option<LoginNotice>,
    },
    Inbox(Session),
}

/// Why the login screen is shown, when the agent did not log out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginNotice {
    /// The relay no longer knows the session (expired, revoked, logged out elsewhere).
    SessionEnded,
    /// The first check of the session failed (the relay is unreachable, say): the failure's
    /// own sentence. The login form is where the agent can retry.
    CheckFailed(String),
}

/// Moves the console between screens. `Copy`; provided as context by the root component.
#[derive(Clone, Copy)]
pub struct Auth {
    screen: RwSignal<Screen>,
}

impl Auth {
    /// A console that is still checking for a session.
    pub fn new() -> Self {
        Self {
            screen: RwSignal::new(Screen::Checking),
        }
    }

    /// The screen to show now (tracked: a view that reads it follows every change).
    pub fn screen(self) -> Screen {
        self.screen.get()
    }

    pub fn logged_in(self, session: Session) {
        self.screen.set(Screen::Inbox(session));
    }

    /// The agent logged out, or there was no session to begin with.
    pub fn logged_out(self) {
        self.screen.set(Screen::Login { notice: None });
    }

    /// The first check of the session failed for another reason than "not logged in".
    pub fn check_failed(self, why: String) {
        self.screen.set(Screen::Login {
            notice: Some(LoginNotice::CheckFailed(why)),
        });
    }

    /// The relay no longer knows the session. Said once: a login screen already shown keeps
    /// its notice (several requests may fail with the same expired session).
    pub fn session_ended(self) {
        let already_out = self
            .screen
            .with_untracked(|screen| !matches!(screen, Screen::Inbox(_)));
        if !already_out {
            self.screen.set(Screen::Login {
                notice: Some(LoginNotice::SessionEnded),
            });
        }
    }
}

impl Default for Auth {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::agent::{AgentProfile, Role};
    use natter_protocol::AgentId;
    use uuid::Uuid;

    fn session() -> Session {
        Session {
            agent: AgentProfile {
                id: AgentId(Uuid::nil()),
                email: "ada@example.com".into(),
                name: "Ada".into(),
                role: Role::Admin,
            },
            csrf_token: "t".into(),
            settings: Default::default(),
        }
    }

    fn screen(auth: Auth) -> Screen {
        auth.screen.get_untracked()
    }

    #[test]
    fn the_console_starts_checking_and_moves_by_login_and_logout() {
        let auth = Auth::new();
        assert_eq!(screen(auth), Screen::Checking);
        auth.logged_in(session());
        assert_eq!(screen(auth), Screen::Inbox(session()));
        auth.logged_out();
        assert_eq!(screen(auth), Screen::Login { notice: None });
        auth.check_failed("The relay cannot be reached.".into());
        assert_eq!(
            screen(auth),
            Screen::Login {
                notice: Some(LoginNotice::CheckFailed(
                    "The relay cannot be reached.".into()
                ))
            }
        );
    }

    #[test]
    fn an_ended_session_is_said_once_and_only_from_the_inbox() {
        let auth = Auth::new();
        // Still checking: the check's own answer decides the screen.
        auth.session_ended();
        assert_eq!(screen(auth), Screen::Checking);
        auth.logged_in(session());
        auth.session_ended();
        let ended = Screen::Login {
            notice: Some(LoginNotice::SessionEnded),
        };
        assert_eq!(screen(auth), ended);
        // A logout screen (no notice) is not turned into "your session ended".
        auth.logged_out();
        auth.session_ended();
        assert_eq!(screen(auth), Screen::Login { notice: None });
    }
}
