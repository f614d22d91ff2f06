//! The inbox screen: header, conversation list and thread pane, plus the resources that live
//! exactly as long as the screen (the agent socket and the clock for relative times).
//!
//! Creating the [`Inbox`] state here, not in the App, means logging out drops everything an
//! agent saw: the next login starts clean.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::agent::Session;

use crate::actions;
use crate::live::Live;
use crate::session::Auth;
use crate::state::{Inbox, LiveStatus, View};
use crate::strings;
use crate::time;
use crate::ui::admin::AdminScreen;
use crate::ui::contact::ContactAside;
use crate::ui::list::ConversationList;
use crate::ui::thread::ThreadPane;

/// How often relative times ("5 min") and red dots (I3) are recomputed.
const CLOCK_TICK: Duration = Duration::from_secs(1);

#[component]
pub fn InboxScreen(session: Session) -> impl IntoView {
    let Some(auth) = use_context::<Auth>() else {
        return ().into_any();
    };
    let agent_name = session.agent.name.clone();
    let is_admin = session.agent.role == natter_protocol::agent::Role::Admin;
    let inbox = Inbox::new(session);
    provide_context(inbox);

    let clock = set_interval_with_handle(move || inbox.now.set(time::now()), CLOCK_TICK).ok();
    let live = StoredValue::new_local(Live::start(move |event| {
        actions::on_live_event(inbox, auth, event)
    }));
    on_cleanup(move || {
        live.with_value(Live::stop);
        if let Some(clock) = clock {
            clock.clear();
        }
    });
    actions::refresh_list(inbox, auth);
    actions::refresh_agents(inbox, auth);
    actions::refresh_saved_responses(inbox, auth);

    let logout_error = RwSignal::new(None::<String>);
    let logging_out = RwSignal::new(false);
    let log_out = move |_| {
        if logging_out.get_untracked() {
            return;
        }
        logging_out.set(true);
        logout_error.set(None);
        spawn_local(async move {
            if let Err(message) = actions::log_out(inbox, auth).await {
                logout_error.try_set(Some(message));
                logging_out.try_set(false);
            }
        });
    };

    let live_text = move || match inbox.live.get() {
        LiveStatus::Connecting => strings::LIVE_CONNECTING,
        LiveStatus::Connected => strings::LIVE_CONNECTED,
        LiveStatus::Reconnecting => strings::LIVE_RECONNECTING,
        LiveStatus::Stopped => strings::LIVE_STOPPED,
    };
    let live_class = move || match inbox.live.get() {
        LiveStatus::Connected => "live live-on",
        LiveStatus::Connecting | LiveStatus::Reconnecting => "live live-wait",
        LiveStatus::Stopped => "live live-off",
    };

    view! {
        <div class="inbox">
            <header class="topbar">
                <span class="brand">{strings::PRODUCT_NAME}</span>
                <span class=live_class role="status">
                    <span class="live-dot" aria-hidden="true"></span>
                    {live_text}
                </span>
                <span class="spacer"></span>
                {is_admin.then(|| view! {
                    <button
                        type="button"
                        class="secondary"
                        aria-pressed=move || if inbox.view.get() == View::Admin { "true" } else { "false" }
                        on:click=move |_| inbox.view.update(|v| *v = if *v == View::Admin { View::Inbox } else { View::Admin })
                    >
                        {move || if inbox.view.get() == View::Admin { strings::BACK_TO_INBOX } else { strings::ADMIN }}
                    </button>
                })}
                {move || {
                    logout_error
                        .get()
                        .map(|message| view! { <span class="alert inline" role="alert">{message}</span> })
                }}
                <span class="agent-name">
                    <span class="visually-hidden">{strings::SIGNED_IN_AS} " "</span>
                    {agent_name}
                </span>
                <button
                    type="button"
                    class="secondary"
                    on:click=log_out
                    disabled=move || logging_out.get()
                >
                    {strings::LOG_OUT}
                </button>
            </header>
            {move || match inbox.view.get() {
                View::Inbox => view! {
                    <div class="panes">
                        <ConversationList />
                        <ThreadPane />
                        <ContactAside />
                    </div>
                }.into_any(),
                View::Admin => view! { <AdminScreen /> }.into_any(),
            }}
        </div>
    }
    .into_any()
}
