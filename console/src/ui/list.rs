//! The conversation list: filters and search above, one button per conversation, newest
//! activity first, with its status dot (I3), the visitor's presence (green) and a check mark
//! when complete (I8).
//!
//! Rows are keyed by conversation id and read their data from the list reactively, so a
//! pushed update changes the row in place (the focused button stays focused) instead of
//! rebuilding it.

use leptos::prelude::*;
use natter_protocol::agent::{AssigneeFilter, ConversationStatus, Dot};
use natter_protocol::{Channel, ConversationId};

use crate::actions;
use crate::session::Auth;
use crate::state::{row_dot, Inbox};
use crate::strings;
use crate::time;

#[component]
pub fn ConversationList() -> impl IntoView {
    let (Some(inbox), Some(auth)) = (use_context::<Inbox>(), use_context::<Auth>()) else {
        return ().into_any();
    };
    let ids = Memo::new(move |_| {
        inbox
            .conversations
            .with(|list| list.iter().map(|c| c.id).collect::<Vec<_>>())
    });
    let empty = move || ids.with(Vec::is_empty);
    let set_filter = move |change: &dyn Fn(&mut crate::state::Filters)| {
        inbox.filters.update(|filters| change(filters));
        actions::filters_changed(inbox, auth);
    };
    let search = RwSignal::new(String::new());

    view! {
        <nav class="conversations" aria-label=strings::CONVERSATIONS>
            <form
                class="filters"
                role="search"
                on:submit=move |ev| {
                    ev.prevent_default();
                    let text = search.get_untracked();
                    set_filter(&|f| f.search = text.clone());
                }
            >
                <label for="search" class="visually-hidden">{strings::SEARCH}</label>
                <input
                    id="search"
                    type="search"
                    placeholder=strings::SEARCH_PLACEHOLDER
                    prop:value=move || search.get()
                    on:input=move |ev| search.set(event_target_value(&ev))
                />
                <div class="filter-row">
                    <label>
                        <span class="visually-hidden">{strings::FILTER_STATUS}</span>
                        <select
                            aria-label=strings::FILTER_STATUS
                            on:change=move |ev| {
                                let status = match event_target_value(&ev).as_str() {
                                    "open" => Some(ConversationStatus::Open),
                                    "complete" => Some(ConversationStatus::Complete),
                                    _ => None,
                                };
                                set_filter(&|f| f.status = status);
                            }
                        >
                            <option value="all">{strings::ALL_STATUSES}</option>
                            <option value="open">{strings::OPEN}</option>
                            <option value="complete">{strings::COMPLETE}</option>
                        </select>
                    </label>
                    <label>
                        <span class="visually-hidden">{strings::FILTER_ASSIGNEE}</span>
                        <select
                            aria-label=strings::FILTER_ASSIGNEE
                            on:change=move |ev| {
                                let assignee = match event_target_value(&ev).as_str() {
                                    "mine" => Some(AssigneeFilter::Mine),
                                    "unassigned" => Some(AssigneeFilter::Unassigned),
                                    _ => None,
                                };
                                set_filter(&|f| f.assignee = assignee);
                            }
                        >
                            <option value="all">{strings::EVERYONE}</option>
                            <option value="mine">{strings::MINE}</option>
                            <option value="unassigned">{strings::UNASSIGNED}</option>
                        </select>
                    </label>
                    <label>
                        <span class="visually-hidden">{strings::FILTER_CHANNEL}</span>
                        <select
                            aria-label=strings::FILTER_CHANNEL
                            on:change=move |ev| {
                                let channel = match event_target_value(&ev).as_str() {
                                    "chat" => Some(Channel::Chat),
                                    "email" => Some(Channel::Email),
                                    "messenger" => Some(Channel::Messenger),
                                    _ => None,
                                };
                                set_filter(&|f| f.channel = channel);
                            }
                        >
                            <option value="all">{strings::ALL_CHANNELS}</option>
                            <option value="chat">{strings::CHANNEL_CHAT}</option>
                            <option value="email">{strings::CHANNEL_EMAIL}</option>
                            <option value="messenger">{strings::CHANNEL_MESSENGER}</option>
                        </select>
                    </label>
                    <label class="check">
                        <input
                            type="checkbox"
                            on:change=move |ev| {
                                let blocked = event_target_checked(&ev);
                                set_filter(&|f| f.blocked = blocked);
                            }
                        />
                        {strings::SHOW_BLOCKED}
                    </label>
                </div>
            </form>
            {move || {
                inbox
                    .waiting
                    .get()
                    .filter(|count| *count > 0)
                    .map(|count| view! { <p class="waiting" role="status">{strings::waiting(count)}</p> })
            }}
            {move || {
                inbox
                    .list_error
                    .get()
                    .map(|message| view! { <p class="alert" role="alert">{message}</p> })
            }}
            <ul>
                <For each=move || ids.get() key=|id| *id let(id)>
                    <ConversationRow id=id />
                </For>
            </ul>
            {move || {
                inbox.next_page.with(Option::is_some).then(|| view! {
                    <button type="button" class="secondary more" on:click=move |_| actions::load_more(inbox, auth)>
                        {strings::LOAD_MORE}
                    </button>
                })
            }}
            {move || {
                if !empty() {
                    None
                } else if inbox.list_loaded.get() {
                    Some(view! { <p class="empty">{strings::NO_CONVERSATIONS}</p> }.into_any())
                } else if inbox.list_error.with(Option::is_none) {
                    Some(
                        view! { <p class="empty" role="status">{strings::LOADING_CONVERSATIONS}</p> }
                            .into_any(),
                    )
                } else {
                    None
                }
            }}
        </nav>
    }
    .into_any()
}

#[component]
fn ConversationRow(id: ConversationId) -> impl IntoView {
    let (Some(inbox), Some(auth)) = (use_context::<Inbox>(), use_context::<Auth>()) else {
        return ().into_any();
    };
    let row = Memo::new(move |_| inbox.summary(id));
    let label = move || row.with(|r| r.as_ref().map(|r| r.display_name()));
    // A message of files only has no text to preview (I13).
    let preview = move || {
        row.with(|r| {
            r.as_ref().and_then(|r| {
                r.last_message_preview
                    .clone()
                    .filter(|p| !p.trim().is_empty())
                    .or_else(|| (r.message_count > 0).then(|| strings::FILES_PREVIEW.to_owned()))
            })
        })
    };
    let activity = move || row.with(|r| r.as_ref().map(|r| r.last_activity_at).unwrap_or(0));
    let selected = move || inbox.selected.get() == Some(id);
    let me = inbox.me();
    let missed_after = inbox.session.with_untracked(|s| s.settings.missed_after_ms);
    let dot = Memo::new(move |_| {
        let now = inbox.now.get();
        row.with(|r| {
            r.as_ref().map_or(Dot::None, |r| {
                inbox.agents.with(|agents| {
                    inbox
                        .groups
                        .with(|groups| row_dot(r, me, agents, groups, now, missed_after))
                })
            })
        })
    });
    let online = move || row.with(|r| r.as_ref().is_some_and(|r| r.state.visitor_online));
    let complete = move || {
        row.with(|r| {
            r.as_ref()
                .is_some_and(|r| r.state.status == ConversationStatus::Complete)
        })
    };
    let dot_view = move || match dot.get() {
        Dot::Purple => Some(view! {
            <span class="dot dot-purple" role="img" aria-label=strings::DOT_NEW title=strings::DOT_NEW></span>
        }),
        Dot::Red => Some(view! {
            <span class="dot dot-red" role="img" aria-label=strings::DOT_MISSED title=strings::DOT_MISSED></span>
        }),
        Dot::None => None,
    };

    view! {
        <li>
            <button
                type="button"
                class=move || {
                    if row.with(|r| r.as_ref().is_some_and(|r| r.state.unread)) {
                        "conversation unread"
                    } else {
                        "conversation"
                    }
                }
                data-unread=move || row.with(|r| r.as_ref().is_some_and(|r| r.state.unread)).to_string()
                data-dot=move || match dot.get() {
                    Dot::Purple => "purple",
                    Dot::Red => "red",
                    Dot::None => "none",
                }
                aria-current=move || selected().then_some("true")
                on:click=move |_| actions::open_conversation(inbox, auth, id)
            >
                <span class="row-top">
                    {dot_view}
                    <span class="visitor">{label}</span>
                    {move || online().then(|| view! {
                        <span class="presence" role="img" aria-label=strings::VISITOR_ONLINE title=strings::VISITOR_ONLINE></span>
                    })}
                    {move || complete().then(|| view! {
                        <span class="complete" role="img" aria-label=strings::COMPLETE title=strings::COMPLETE>"✓"</span>
                    })}
                    " "
                    <time class="age" datetime=move || time::iso(activity())>
                        {move || time::relative(inbox.now.get(), activity())}
                    </time>
                </span>
                " "
                <span class=move || {
                    if preview().is_some() { "preview" } else { "preview muted" }
                }>{move || preview().unwrap_or_else(|| strings::NO_MESSAGES_YET.to_owned())}</span>
            </button>
        </li>
    }
    .into_any()
}
