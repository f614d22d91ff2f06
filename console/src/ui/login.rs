//! The login screen: email + password, posted to `POST /v1/agent/login`.
//!
//! Browser tests and password managers find the fields by their labels and `autocomplete`
//! values, so those stay exactly as they are. On failure the relay's message is shown in the
//! one `role="alert"` on the page and the typed email is kept.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::agent::LoginRequest;

use crate::api;
use crate::session::Auth;
use crate::strings;

#[component]
pub fn LoginScreen(
    /// Why the agent is here, e.g. their session ended; replaced by any login error.
    notice: Option<String>,
) -> impl IntoView {
    let Some(auth) = use_context::<Auth>() else {
        return ().into_any();
    };
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(notice);
    let pending = RwSignal::new(false);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let request = LoginRequest {
            email: email.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
        };
        if request.email.is_empty() || request.password.is_empty() {
            error.set(Some(strings::LOGIN_FIELDS_REQUIRED.to_owned()));
            return;
        }
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            match api::login(&request).await {
                Ok(session) => auth.logged_in(session),
                Err(failure) => {
                    pending.try_set(false);
                    password.try_set(String::new());
                    error.try_set(Some(failure.message()));
                }
            }
        });
    };

    view! {
        <main class="login">
            <div class="login-card">
                <h1>{strings::PRODUCT_NAME}</h1>
                <p class="muted">{strings::LOGIN_INTRO}</p>
                {move || {
                    error
                        .get()
                        .map(|message| view! { <p class="alert" role="alert">{message}</p> })
                }}
                <form class="login-form" on:submit=submit>
                    <label for="login-email">{strings::EMAIL}</label>
                    <input
                        id="login-email"
                        name="email"
                        type="email"
                        autocomplete="username"
                        required
                        autofocus
                        prop:value=move || email.get()
                        on:input=move |ev| email.set(event_target_value(&ev))
                    />
                    <label for="login-password">{strings::PASSWORD}</label>
                    <input
                        id="login-password"
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        required
                        prop:value=move || password.get()
                        on:input=move |ev| password.set(event_target_value(&ev))
                    />
                    <button
                        type="submit"
                        class="primary"
                        disabled=move || pending.get()
                        aria-busy=move || pending.get().then_some("true")
                    >
                        {strings::LOG_IN}
                    </button>
                </form>
            </div>
        </main>
    }
    .into_any()
}
