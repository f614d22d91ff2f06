//! The contact panel (I12): email (verified or not), phone, account, full name, the contact's
//! other conversations; agents add or edit fields, and the relay's validation message is shown
//! next to the form. An address whose mail bounced says so next to it (E2, E3): no further
//! emails go there until it is changed.

use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::agent::ContactUpdate;

use crate::actions;
use crate::api;
use crate::session::Auth;
use crate::state::Inbox;
use crate::strings;

#[component]
pub fn ContactAside() -> impl IntoView {
    let (Some(inbox), Some(auth)) = (use_context::<Inbox>(), use_context::<Auth>()) else {
        return ().into_any();
    };
    let editing = RwSignal::new(false);
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let phone = RwSignal::new(String::new());
    let company = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);

    let start_edit = move |_| {
        let contact = inbox
            .contact
            .with_untracked(|p| p.as_ref().and_then(|p| p.contact.clone()));
        email.set(
            contact
                .as_ref()
                .map(|c| c.email.clone())
                .unwrap_or_default(),
        );
        name.set(
            contact
                .as_ref()
                .and_then(|c| c.name.clone())
                .unwrap_or_default(),
        );
        phone.set(
            contact
                .as_ref()
                .and_then(|c| c.phone.clone())
                .unwrap_or_default(),
        );
        company.set(
            contact
                .as_ref()
                .and_then(|c| c.company.clone())
                .unwrap_or_default(),
        );
        error.set(None);
        editing.set(true);
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(id) = inbox.selected.get_untracked() else {
            return;
        };
        let verified = inbox.contact.with_untracked(|p| {
            p.as_ref()
                .and_then(|p| p.contact.as_ref())
                .is_some_and(|c| c.email_verified)
        });
        let update = ContactUpdate {
            // A verified email cannot change; do not send it back.
            email: (!verified).then(|| email.get_untracked()),
            name: Some(name.get_untracked()),
            phone: Some(phone.get_untracked()),
            company: Some(company.get_untracked()),
        };
        saving.set(true);
        spawn_local(async move {
            let result = api::update_contact(id, &update, &inbox.csrf()).await;
            saving.try_set(false);
            match result {
                Ok(panel) => {
                    inbox.contact.try_set(Some(panel));
                    editing.try_set(false);
                    error.try_set(None);
                }
                Err(failure) => {
                    if failure.is_unauthorized() {
                        auth.session_ended();
                    } else {
                        error.try_set(Some(failure.message()));
                    }
                }
            }
        });
    };

    let field = |label: &'static str, value: Option<String>| {
        view! {
            <dt>{label}</dt>
            <dd>{value.unwrap_or_else(|| strings::NOT_KNOWN.to_owned())}</dd>
        }
    };

    view! {
        <aside class="contact" aria-label=strings::CONTACT>
            {move || inbox.selected.with(Option::is_none).then(|| view! {
                <p class="muted">{strings::CONTACT_HINT}</p>
            })}
            {move || inbox.selected.get().map(|_| {
                let panel = inbox.contact.get();
                let contact = panel.as_ref().and_then(|p| p.contact.clone());
                let others = panel.map(|p| p.other_conversations).unwrap_or_default();
                view! {
                    <h2>{strings::CONTACT}</h2>
                    {move || error.get().map(|m| view! { <p class="alert" role="alert">{m}</p> })}
                    {if editing.get() {
                        let verified = contact.as_ref().is_some_and(|c| c.email_verified);
                        view! {
                            <form class="contact-form" on:submit=save>
                                <label for="contact-email">{strings::EMAIL}</label>
                                <input id="contact-email" type="email" readonly=verified
                                    prop:value=move || email.get()
                                    on:input=move |ev| email.set(event_target_value(&ev)) />
                                <label for="contact-name">{strings::FULL_NAME}</label>
                                <input id="contact-name" prop:value=move || name.get()
                                    on:input=move |ev| name.set(event_target_value(&ev)) />
                                <label for="contact-phone">{strings::PHONE}</label>
                                <input id="contact-phone" type="tel" prop:value=move || phone.get()
                                    on:input=move |ev| phone.set(event_target_value(&ev)) />
                                <label for="contact-company">{strings::ACCOUNT}</label>
                                <input id="contact-company" prop:value=move || company.get()
                                    on:input=move |ev| company.set(event_target_value(&ev)) />
                                <div class="form-buttons">
                                    <button type="submit" class="primary" disabled=move || saving.get()>{strings::SAVE}</button>
                                    <button type="button" class="secondary" on:click=move |_| { editing.set(false); error.set(None); }>{strings::CANCEL}</button>
                                </div>
                            </form>
                        }.into_any()
                    } else {
                        let verified = contact.as_ref().map(|c| c.email_verified);
                        let bouncing = contact.as_ref().is_some_and(|c| c.email_bouncing);
                        view! {
                            <dl class="contact-fields">
                                <dt>{strings::EMAIL}</dt>
                                <dd>
                                    {contact.as_ref().map(|c| c.email.clone()).unwrap_or_else(|| strings::NOT_KNOWN.to_owned())}
                                    {verified.map(|v| view! {
                                        " " <span class=if v { "badge verified" } else { "badge" }>
                                            {if v { strings::VERIFIED } else { strings::UNVERIFIED }}
                                        </span>
                                    })}
                                    {bouncing.then(|| view! {
                                        <span class="bounce">{strings::EMAIL_BOUNCING}</span>
                                    })}
                                </dd>
                                {field(strings::FULL_NAME, contact.as_ref().and_then(|c| c.name.clone()))}
                                {field(strings::PHONE, contact.as_ref().and_then(|c| c.phone.clone()))}
                                {field(strings::ACCOUNT, contact.as_ref().and_then(|c| c.company.clone()))}
                            </dl>
                            <button type="button" class="secondary" on:click=start_edit>
                                {if contact.is_some() { strings::EDIT_CONTACT } else { strings::ADD_CONTACT }}
                            </button>
                        }.into_any()
                    }}
                    <h3>{strings::OTHER_CONVERSATIONS}</h3>
                    {if others.is_empty() {
                        view! { <p class="muted">{strings::NONE}</p> }.into_any()
                    } else {
                        view! {
                            <ul class="others">
                                {others.into_iter().map(|other| {
                                    let id = other.id;
                                    view! {
                                        <li>
                                            <button type="button" class="link" on:click=move |_| actions::open_conversation(inbox, auth, id)>
                                                {other.last_message_preview.unwrap_or_else(|| strings::NO_MESSAGES_YET.to_owned())}
                                            </button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                }
            })}
        </aside>
    }
    .into_any()
}
