//! The root component: decides between the login screen and the inbox.
//!
//! The session lives on the relay (an HttpOnly cookie the page cannot read), so on start the
//! app asks `GET /v1/agent/me`. The screen state and [`Auth`], which moves between screens,
//! live in `session`, a leaf module the screens can import without importing this one.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::session::{Auth, LoginNotice, Screen};
use crate::strings;
use crate::ui::inbox::InboxScreen;
use crate::ui::login::LoginScreen;

/// The whole console.
#[component]
pub fn App() -> impl IntoView {
    let auth = Auth::new();
    provide_context(auth);

    spawn_local(async move {
        match api::me().await {
            Ok(session) => auth.logged_in(session),
            Err(failure) if failure.is_unauthorized() => auth.logged_out(),
            // The relay is unreachable: the login form is where the agent can retry, and the
            // notice says why the first attempt failed.
            Err(failure) => auth.check_failed(failure.message()),
        }
    });

    move || match auth.screen() {
        Screen::Checking => view! {
            <p class="boot" role="status">{strings::LOADING}</p>
        }
        .into_any(),
        Screen::Login { notice } => {
            let notice = notice.map(notice_text);
            view! { <LoginScreen notice=notice /> }.into_any()
        }
        Screen::Inbox(session) => view! { <InboxScreen session=session /> }.into_any(),
    }
}

/// The login screen's notice in words.
fn notice_text(notice: LoginNotice) -> String {
    match notice {
        LoginNotice::SessionEnded => strings::SESSION_ENDED.to_owned(),
        LoginNotice::CheckFailed(why) => why,
    }
}
