//! The root component: decides between the login screen and the inbox.
//!
//! The session lives on the relay (an HttpOnly cookie the page cannot read), so on start the
//! app asks `GET /v1/agent/me`. [`Auth`] is the one way the rest of the console moves between
//! screens: after a login, after a logout, and whenever the relay says the session is gone.

use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::agent::Session;

use crate::api;
use crate::strings;
use crate::ui::inbox::InboxScreen;
use crate::ui::login::LoginScreen;

/// Which screen is shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    /// Waiting for `GET /v1/agent/me`.
    Checking,
    /// Logged out. `notice` explains why, when the session ended by itself.
    Login {
        notice: Option<String>,
    },
    Inbox(Session),
}

/// Moves the console between screens. `Copy`; provided as context by [`App`].
#[derive(Clone, Copy)]
pub struct Auth {
    screen: RwSignal<Screen>,
}

impl Auth {
    pub fn logged_in(self, session: Session) {
        self.screen.set(Screen::Inbox(session));
    }

    /// The agent logged out.
    pub fn logged_out(self) {
        self.screen.set(Screen::Login { notice: None });
    }

    /// The relay no longer knows the session (expired, revoked, logged out elsewhere).
    pub fn session_ended(self) {
        let already_out = self
            .screen
            .with_untracked(|screen| !matches!(screen, Screen::Inbox(_)));
        if !already_out {
            self.screen.set(Screen::Login {
                notice: Some(strings::SESSION_ENDED.to_owned()),
            });
        }
    }
}

/// The whole console.
#[component]
pub fn App() -> impl IntoView {
    let screen = RwSignal::new(Screen::Checking);
    let auth = Auth { screen };
    provide_context(auth);

    spawn_local(async move {
        let next = match api::me().await {
            Ok(session) => Screen::Inbox(session),
            Err(failure) if failure.is_unauthorized() => Screen::Login { notice: None },
            // The relay is unreachable: the login form is where the agent can retry, and the
            // notice says why the first attempt failed.
            Err(failure) => Screen::Login {
                notice: Some(failure.message()),
            },
        };
        screen.set(next);
    });

    move || match screen.get() {
        Screen::Checking => view! {
            <p class="boot" role="status">{strings::LOADING}</p>
        }
        .into_any(),
        Screen::Login { notice } => view! { <LoginScreen notice=notice /> }.into_any(),
        Screen::Inbox(session) => view! { <InboxScreen session=session /> }.into_any(),
    }
}
