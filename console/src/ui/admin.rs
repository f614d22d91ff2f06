//! The admin screen (I1, I6, I11, E5): agents, saved responses and email templates, the audit
//! log, and the inbound email that did not become a message.
//! The relay refuses all of it to non-admins; the console only hides the button.

use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::agent::{
    template, AgentUpdate, AuditEntry, GroupInput, InboundMailEntry, InboundMailOutcome,
    NewAgentRequest, Role, SavedResponse, SavedResponseId, SavedResponseInput,
};
use natter_protocol::files::{format_size, SizeUnits};
use natter_protocol::AgentId;

use crate::api;
use crate::state::Inbox;
use crate::strings;
use crate::time;

#[component]
pub fn AdminScreen() -> impl IntoView {
    view! {
        <main class="admin">
            <SavedResponsesAdmin />
            <AgentsAdmin />
            <GroupsAdmin />
            <AuditAdmin />
            <InboundMailAdmin />
        </main>
    }
}

/// What the saved-response form is filled with.
#[derive(Clone, Copy)]
struct ResponseForm {
    category: RwSignal<String>,
    title: RwSignal<String>,
    body: RwSignal<String>,
    /// Not empty for an email template (I6).
    subject: RwSignal<String>,
    /// The response being edited; `None` adds a new one.
    editing: RwSignal<Option<SavedResponseId>>,
    error: RwSignal<Option<String>>,
}

/// One saved response or email template in the admin list, with Edit and Delete.
fn response_item(response: SavedResponse, form: ResponseForm, inbox: Inbox) -> impl IntoView {
    let id = response.id;
    let edit = response.clone();
    view! {
        <li>
            <strong>{response.category}</strong> " / " {response.title}
            {response.subject.map(|subject| view! { " — " <em>{subject}</em> })}
            <span class="muted">" — " {response.body}</span>
            " "
            <button type="button" class="link" on:click=move |_| {
                form.category.set(edit.category.clone());
                form.title.set(edit.title.clone());
                form.body.set(edit.body.clone());
                form.subject.set(edit.subject.clone().unwrap_or_default());
                form.editing.set(Some(edit.id));
            }>{strings::EDIT}</button>
            " "
            <button type="button" class="link" on:click=move |_| {
                spawn_local(async move {
                    if let Err(failure) = api::delete_response(id, &inbox.csrf()).await {
                        form.error.try_set(Some(failure.message()));
                    }
                });
            }>{strings::DELETE}</button>
        </li>
    }
}

#[component]
fn SavedResponsesAdmin() -> impl IntoView {
    let Some(inbox) = use_context::<Inbox>() else {
        return ().into_any();
    };
    let form = ResponseForm {
        category: RwSignal::new(String::new()),
        title: RwSignal::new(String::new()),
        body: RwSignal::new(String::new()),
        subject: RwSignal::new(String::new()),
        editing: RwSignal::new(None),
        error: RwSignal::new(None),
    };
    let ResponseForm {
        category,
        title,
        body,
        subject,
        editing,
        error,
    } = form;
    // Unknown or malformed tags in the text or the subject, shown while typing (the relay
    // refuses them too).
    let tag_errors = Memo::new(move |_| {
        let mut problems = body.with(|b| template::check(b));
        problems.extend(subject.with(|s| template::check(s)));
        problems.iter().map(ToString::to_string).collect::<Vec<_>>()
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = SavedResponseInput {
            category: category.get_untracked(),
            title: title.get_untracked(),
            body: body.get_untracked(),
            // An empty subject makes an ordinary saved response.
            subject: Some(subject.get_untracked().trim().to_owned())
                .filter(|subject| !subject.is_empty()),
        };
        let id = editing.get_untracked();
        spawn_local(async move {
            match api::save_response(id, &input, &inbox.csrf()).await {
                Ok(_) => {
                    title.try_set(String::new());
                    body.try_set(String::new());
                    subject.try_set(String::new());
                    error.try_set(None);
                    editing.try_set(None);
                }
                Err(failure) => {
                    error.try_set(Some(failure.message()));
                }
            }
        });
    };
    // Saved responses and email templates (I6), each under its heading.
    let listed = move |templates: bool| {
        inbox
            .saved_responses
            .get()
            .into_iter()
            .filter(move |response| response.subject.is_some() == templates)
            .map(move |response| response_item(response, form, inbox))
            .collect_view()
    };
    let no_templates = move || {
        inbox
            .saved_responses
            .with(|list| list.iter().all(|r| r.subject.is_none()))
    };
    view! {
        <section class="admin-section" aria-labelledby="saved-heading">
            <h2 id="saved-heading">{strings::SAVED_RESPONSES}</h2>
            <ul class="admin-list">{move || listed(false)}</ul>
            <h3 id="templates-heading">{strings::EMAIL_TEMPLATES}</h3>
            <ul class="admin-list" aria-labelledby="templates-heading">{move || listed(true)}</ul>
            {move || no_templates().then(|| view! { <p class="muted">{strings::NO_EMAIL_TEMPLATES}</p> })}
            <form class="admin-form" on:submit=save>
                {move || error.get().map(|m| view! { <p class="alert" role="alert">{m}</p> })}
                <label for="sr-category">{strings::CATEGORY}</label>
                <input id="sr-category" prop:value=move || category.get() on:input=move |ev| category.set(event_target_value(&ev)) />
                <label for="sr-title">{strings::TITLE}</label>
                <input id="sr-title" prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev)) />
                <label for="sr-body">{strings::RESPONSE_TEXT}</label>
                <textarea id="sr-body" rows="3" aria-describedby="sr-tags"
                    prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea>
                <p id="sr-tags" class="muted">{strings::TAGS_HELP}</p>
                <label for="sr-subject">{strings::TEMPLATE_SUBJECT}</label>
                <input id="sr-subject" aria-describedby="sr-subject-help"
                    prop:value=move || subject.get() on:input=move |ev| subject.set(event_target_value(&ev)) />
                <p id="sr-subject-help" class="muted">{strings::TEMPLATE_SUBJECT_HELP}</p>
                {move || {
                    let errors = tag_errors.get();
                    (!errors.is_empty()).then(|| view! {
                        <p class="alert" role="alert">{errors.join("; ")}</p>
                    })
                }}
                <button type="submit" class="primary" disabled=move || !tag_errors.with(Vec::is_empty)>
                    {move || if editing.get().is_some() { strings::SAVE } else { strings::ADD_SAVED_RESPONSE }}
                </button>
            </form>
        </section>
    }
    .into_any()
}

#[component]
fn AgentsAdmin() -> impl IntoView {
    let Some(inbox) = use_context::<Inbox>() else {
        return ().into_any();
    };
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let admin = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = NewAgentRequest {
            email: email.get_untracked(),
            name: name.get_untracked(),
            password: password.get_untracked(),
            role: if admin.get_untracked() {
                Role::Admin
            } else {
                Role::Agent
            },
        };
        spawn_local(async move {
            match api::create_agent(&request, &inbox.csrf()).await {
                Ok(_) => {
                    email.try_set(String::new());
                    name.try_set(String::new());
                    password.try_set(String::new());
                    error.try_set(None);
                }
                Err(failure) => {
                    error.try_set(Some(failure.message()));
                }
            }
        });
    };
    view! {
        <section class="admin-section" aria-labelledby="agents-heading">
            <h2 id="agents-heading">{strings::AGENTS}</h2>
            <ul class="admin-list">
                {move || inbox.agents.get().into_iter().map(|agent| {
                    let id = agent.profile.id;
                    let disabled = agent.disabled;
                    view! {
                        <li>
                            <span class=if agent.online_since.is_some() { "presence" } else { "presence offline" }></span>
                            " " <strong>{agent.profile.name}</strong> " " {agent.profile.email}
                            " " <span class="muted">{format!("{:?}", agent.profile.role)}</span>
                            " "
                            <button type="button" class="link" hidden=id == inbox.me() on:click=move |_| {
                                let update = AgentUpdate { disabled: Some(!disabled), ..AgentUpdate::default() };
                                spawn_local(async move {
                                    if let Err(failure) = api::update_agent(id, &update, &inbox.csrf()).await {
                                        error.try_set(Some(failure.message()));
                                    }
                                });
                            }>{if disabled { strings::ENABLE } else { strings::DISABLE }}</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <form class="admin-form" on:submit=create>
                {move || error.get().map(|m| view! { <p class="alert" role="alert">{m}</p> })}
                <label for="agent-email">{strings::EMAIL}</label>
                <input id="agent-email" type="email" prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev)) />
                <label for="agent-name">{strings::FULL_NAME}</label>
                <input id="agent-name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                <label for="agent-password">{strings::PASSWORD}</label>
                <input id="agent-password" type="password" autocomplete="new-password" prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
                <label class="check"><input type="checkbox" prop:checked=move || admin.get() on:change=move |ev| admin.set(event_target_checked(&ev)) /> {strings::ADMIN_ROLE}</label>
                <button type="submit" class="primary">{strings::ADD_AGENT}</button>
            </form>
        </section>
    }
    .into_any()
}

#[component]
fn GroupsAdmin() -> impl IntoView {
    let Some(inbox) = use_context::<Inbox>() else {
        return ().into_any();
    };
    let name = RwSignal::new(String::new());
    let members = RwSignal::new(Vec::<AgentId>::new());
    let error = RwSignal::new(None::<String>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = GroupInput {
            name: name.get_untracked(),
            members: members.get_untracked(),
        };
        spawn_local(async move {
            match api::create_group(&input, &inbox.csrf()).await {
                Ok(_) => {
                    name.try_set(String::new());
                    members.try_set(Vec::new());
                    error.try_set(None);
                }
                Err(failure) => {
                    error.try_set(Some(failure.message()));
                }
            }
        });
    };
    let agent_name = move |id: AgentId| {
        inbox.agents.with(|agents| {
            agents
                .iter()
                .find(|a| a.profile.id == id)
                .map(|a| a.profile.name.clone())
                .unwrap_or_default()
        })
    };
    view! {
        <section class="admin-section" aria-labelledby="groups-heading">
            <h2 id="groups-heading">{strings::GROUPS}</h2>
            <ul class="admin-list">
                {move || inbox.groups.get().into_iter().map(|group| {
                    let names: Vec<String> = group.members.iter().map(|id| agent_name(*id)).collect();
                    view! { <li><strong>{group.name}</strong> " — " {names.join(", ")}</li> }
                }).collect_view()}
            </ul>
            <form class="admin-form" on:submit=create>
                {move || error.get().map(|m| view! { <p class="alert" role="alert">{m}</p> })}
                <label for="group-name">{strings::GROUP_NAME}</label>
                <input id="group-name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                <fieldset class="members">
                    <legend>{strings::MEMBERS}</legend>
                    {move || inbox.agents.get().into_iter().filter(|a| !a.disabled).map(|agent| {
                        let id = agent.profile.id;
                        view! {
                            <label class="check">
                                <input
                                    type="checkbox"
                                    prop:checked=move || members.with(|m| m.contains(&id))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        members.update(|m| {
                                            m.retain(|x| *x != id);
                                            if on { m.push(id); }
                                        });
                                    }
                                />
                                {agent.profile.name}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <button type="submit" class="primary">{strings::ADD_GROUP}</button>
            </form>
        </section>
    }
    .into_any()
}

#[component]
fn AuditAdmin() -> impl IntoView {
    let entries = RwSignal::new(Vec::<AuditEntry>::new());
    let error = RwSignal::new(None::<String>);
    let load = move || {
        spawn_local(async move {
            match api::audit().await {
                Ok(log) => {
                    entries.try_set(log.entries);
                }
                Err(failure) => {
                    error.try_set(Some(failure.message()));
                }
            }
        });
    };
    load();
    view! {
        <section class="admin-section" aria-labelledby="audit-heading">
            <h2 id="audit-heading">{strings::AUDIT_LOG}</h2>
            <button type="button" class="secondary" on:click=move |_| load()>{strings::REFRESH}</button>
            {move || error.get().map(|m| view! { <p class="alert" role="alert">{m}</p> })}
            <ol class="audit">
                {move || entries.get().into_iter().map(|entry| view! {
                    <li>
                        <time datetime=time::iso(entry.at)>{time::clock(entry.at)}</time>
                        " " <strong>{entry.actor_name}</strong>
                        " " <code>{entry.action}</code>
                        " " {entry.details}
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}

/// What the inbound email log shows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum InboundLog {
    Loading,
    Loaded(Vec<InboundMailEntry>),
    /// The relay has no such endpoint (404): an older relay, or one without email.
    Unavailable,
}

/// Inbound email that did not become a message (E3, E5): kept because it could not be routed,
/// or ignored as an auto-reply or a bounce. Each row links to the raw `.eml`. Fetched when the
/// screen opens and again on every `inbound_mail_changed` push.
#[component]
fn InboundMailAdmin() -> impl IntoView {
    let Some(inbox) = use_context::<Inbox>() else {
        return ().into_any();
    };
    let log = RwSignal::new(InboundLog::Loading);
    let error = RwSignal::new(None::<String>);
    let load = move || {
        spawn_local(async move {
            match api::inbound_mail().await {
                Ok(answer) => {
                    log.try_set(InboundLog::Loaded(answer.entries));
                    error.try_set(None);
                }
                Err(failure) if failure.is_not_found() => {
                    log.try_set(InboundLog::Unavailable);
                }
                Err(failure) => {
                    error.try_set(Some(failure.message()));
                }
            }
        });
    };
    Effect::watch(
        move || inbox.inbound_mail_changes.get(),
        move |_, _, _| load(),
        true,
    );
    view! {
        <section class="admin-section wide" aria-labelledby="inbound-heading">
            <h2 id="inbound-heading">{strings::INBOUND_EMAIL}</h2>
            <p class="muted">{strings::INBOUND_EMAIL_INTRO}</p>
            <button type="button" class="secondary" on:click=move |_| load()>{strings::REFRESH}</button>
            {move || error.get().map(|m| view! { <p class="alert" role="alert">{m}</p> })}
            {move || match log.get() {
                InboundLog::Loading => ().into_any(),
                InboundLog::Unavailable => {
                    view! { <p class="muted">{strings::INBOUND_UNAVAILABLE}</p> }.into_any()
                }
                InboundLog::Loaded(entries) if entries.is_empty() => {
                    view! { <p class="muted">{strings::NO_INBOUND_EMAIL}</p> }.into_any()
                }
                InboundLog::Loaded(entries) => inbound_table(entries).into_any(),
            }}
        </section>
    }
    .into_any()
}

fn inbound_table(entries: Vec<InboundMailEntry>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="inbound" aria-labelledby="inbound-heading">
                <thead>
                    <tr>
                        <th scope="col">{strings::RECEIVED}</th>
                        <th scope="col">{strings::OUTCOME}</th>
                        <th scope="col">{strings::REASON}</th>
                        <th scope="col">{strings::FROM}</th>
                        <th scope="col">{strings::SUBJECT}</th>
                        <th scope="col">{strings::SIZE}</th>
                        <th scope="col">{strings::RAW_EMAIL}</th>
                    </tr>
                </thead>
                <tbody>{entries.into_iter().map(inbound_row).collect_view()}</tbody>
            </table>
        </div>
    }
}

fn inbound_row(entry: InboundMailEntry) -> impl IntoView {
    let received = time::clock(entry.received_at);
    let from = entry.from.unwrap_or_else(|| strings::NOT_KNOWN.to_owned());
    let (outcome, class) = match entry.outcome {
        InboundMailOutcome::Kept => (strings::KEPT, "badge warning"),
        InboundMailOutcome::Ignored => (strings::IGNORED, "badge"),
    };
    // The name says which email the link downloads; it starts with the visible word.
    let download = strings::download_raw(&from, &received);
    view! {
        <tr>
            <td><time datetime=time::iso(entry.received_at)>{received}</time></td>
            <td><span class=class>{outcome}</span></td>
            <td>{entry.reason}</td>
            <td>{from}</td>
            <td>{entry.subject.unwrap_or_else(|| strings::NOT_KNOWN.to_owned())}</td>
            <td>{format_size(entry.size, &SizeUnits::ENGLISH)}</td>
            <td>
                <a href=api::inbound_mail_raw_url(&entry.id) download="" aria-label=download>
                    {strings::DOWNLOAD}
                </a>
            </td>
        </tr>
    }
}
