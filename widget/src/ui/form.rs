//! The email-capture form (W5) and "continue by email" (W6), as the visitor sees it.
//!
//! [`FormSlot`] sits in the panel's scrolling body after the messages and shows the form where
//! [`Placement`] says: first, before the chat (the panel hides the composer meanwhile), as a
//! card after the visitor's first message, or as a card under the away message. Each field has
//! a real `<label for>`, `autocomplete` and `inputmode`; a problem shows right under its field,
//! tied to it with `aria-describedby` and `aria-invalid`, and focus goes to the first invalid
//! field. Inputs are bound to `Chat::form`, so an error, a refusal, a lost connection or the
//! card going away and coming back never loses what was typed. Values are checked, not cut:
//! there is no `maxlength` (a pasted value would be silently truncated). The email input is
//! `type="text"` with `inputmode="email"` because `type="email"` makes Chromium rewrite a
//! non-ASCII domain to punycode, and non-ASCII addresses are accepted end to end (W6).
//!
//! An always-present `aria-live` region announces the card when it appears (focus stays in the
//! composer then) and holds the confirmation once the relay stored the form.

use leptos::{ev::SubmitEvent, html, prelude::*};
use natter_protocol::visitor::{FieldRule, FormField};

use super::text::{tr, Pick};
use crate::{
    chat::Chat,
    form::{FormNotice, FormState, Phase, Placement, Problem, MAX_FIELD_CHARS},
    log,
    strings::{Locale, Strings},
};

/// Where "Not now" is remembered for the page session (the tab), so the card does not come
/// back on the next page of the site.
const DISMISSED_KEY: &str = "natter_form_dismissed";

/// The id of the form's heading, for the card's `aria-labelledby`. Ids are scoped to the
/// shadow root.
const TITLE_ID: &str = "natter-form-title";

/// The form in the panel body, wherever `placement` puts it. `email` is the email input, for
/// the panel's focus moves.
#[component]
pub fn FormSlot(
    chat: Chat,
    placement: Memo<Placement>,
    email: NodeRef<html::Input>,
) -> impl IntoView {
    let text = move || chat.locale.get().strings();
    if session_dismissed() {
        chat.form.update(FormState::dismiss);
    }
    // What the live region says: the card's invitation while it is there (the visitor's focus
    // stays where it was), the confirmation once the form was accepted.
    let announcement = move || match placement.get() {
        Placement::Card => Some(text().form_card_intro.to_owned()),
        Placement::Away => Some(text().form_away_intro.to_owned()),
        _ => None,
    };
    let confirmation = move || match chat.form.with(|form| form.phase.clone()) {
        // With nobody online, the answer will come by email too (W6).
        Phase::Accepted(address, away) => {
            let thanks = if away {
                text().form_thanks_away
            } else {
                text().form_thanks
            };
            Some(thanks.replace("{email}", &address))
        }
        _ => None,
    };
    view! {
        <div class="form-live" aria-live="polite">
            {move || confirmation().map(|thanks| view! { <p class="form-done">{thanks}</p> })}
            {move || announcement().map(|intro| view! { <p class="sr-only">{intro}</p> })}
        </div>
        {move || match placement.get() {
            shown @ (Placement::Gate | Placement::Card | Placement::Away) => {
                Some(view! { <FormCard chat placement=shown email /> })
            }
            Placement::Hidden | Placement::Confirmation => None,
        }}
    }
}

#[component]
fn FormCard(chat: Chat, placement: Placement, email: NodeRef<html::Input>) -> impl IntoView {
    let form = chat.form;
    let text = move || chat.locale.get().strings();
    let title: Pick = match placement {
        Placement::Gate => |s| s.form_gate_title,
        Placement::Away => |s| s.form_away_title,
        _ => |s| s.form_card_title,
    };
    let intro: Pick = match placement {
        Placement::Gate => |s| s.form_gate_intro,
        Placement::Away => |s| s.form_away_intro,
        _ => |s| s.form_card_intro,
    };
    // The button says what happens: the chat starts, or the details are sent.
    let submit_label: Pick = match placement {
        Placement::Gate => |s| s.form_start,
        _ => |s| s.form_submit,
    };
    let submitting = move || form.with(|form| form.phase == Phase::Submitting);
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let mut frame = None;
        form.update(|form| frame = form.submit());
        if let Some(frame) = frame {
            if !chat.submit_form(frame) {
                form.update(FormState::not_sent);
            }
        }
    };
    let notice = move || {
        form.with(|form| form.notice).map(|notice| match notice {
            FormNotice::NotSent => text().form_not_sent,
            FormNotice::ServerError => text().server_error,
        })
    };
    let not_now = (placement != Placement::Gate).then(|| {
        view! {
            <button
                type="button"
                class="form-later"
                on:click=move |_| {
                    form.update(FormState::dismiss);
                    if chat.may_store() {
                        remember_dismissed();
                    }
                }
            >
                {tr(chat, |s| s.form_not_now)}
            </button>
        }
    });
    let class = if placement == Placement::Gate {
        "form-card gate"
    } else {
        "form-card"
    };

    view! {
        <section class=class aria-labelledby=TITLE_ID>
            <h3 class="form-title" id=TITLE_ID>{tr(chat, title)}</h3>
            <p class="form-intro">{tr(chat, intro)}</p>
            <form class="form" novalidate on:submit=on_submit>
                // The site's fields are fixed once the card shows (the settings arrive before).
                {form
                    .with_untracked(FormState::fields)
                    .into_iter()
                    .map(|(field, rule)| view! { <Field chat field rule email /> })
                    .collect_view()}
                <p class="form-notice" role="alert">{notice}</p>
                <div class="form-actions">
                    <button
                        type="submit"
                        class="form-submit"
                        aria-disabled=move || submitting().then_some("true")
                    >
                        {move || if submitting() { text().sending } else { submit_label(text()) }}
                    </button>
                    {not_now}
                </div>
            </form>
        </section>
    }
}

/// One labelled input with its problem line.
#[component]
fn Field(
    chat: Chat,
    field: FormField,
    rule: FieldRule,
    email: NodeRef<html::Input>,
) -> impl IntoView {
    let form = chat.form;
    let text = move || chat.locale.get().strings();
    let id = field_id(field);
    let error_id = format!("{id}-error");
    let input = if field == FormField::Email {
        email
    } else {
        NodeRef::new()
    };
    let (kind, inputmode, autocomplete) = match field {
        FormField::Email => ("text", "email", "email"),
        FormField::Name => ("text", "text", "name"),
        FormField::Phone => ("tel", "tel", "tel"),
        FormField::Company => ("text", "text", "organization"),
    };
    let problem = move || {
        form.with(|form| {
            form.problem(field)
                .map(|problem| problem_text(text(), chat.locale.get(), field, problem))
        })
    };
    let invalid = move || form.with(|form| form.problem(field).is_some());

    // Focus requests (the first invalid field after a submission) come through the state.
    let focus = Memo::new(move |_| form.with(|form| form.focus));
    Effect::watch(
        move || focus.get(),
        move |request, _, _| {
            if matches!(request, Some((wanted, _)) if *wanted == field) {
                if let Some(input) = input.get_untracked() {
                    super::focus(&input);
                }
            }
        },
        false,
    );

    let label: Pick = match field {
        FormField::Email => |s| s.form_email,
        FormField::Name => |s| s.form_name,
        FormField::Phone => |s| s.form_phone,
        FormField::Company => |s| s.form_company,
    };
    let optional = (rule == FieldRule::Optional).then(|| {
        view! { <span class="optional">" "{tr(chat, |s| s.form_optional)}</span> }
    });
    let error_ref = error_id.clone();
    view! {
        <div class="field">
            <label for=id>{tr(chat, label)}{optional}</label>
            <input
                id=id
                type=kind
                inputmode=inputmode
                autocomplete=autocomplete
                autocapitalize=(field == FormField::Email).then_some("off")
                spellcheck=(field == FormField::Email).then_some("false")
                required=rule == FieldRule::Required
                aria-invalid=move || if invalid() { "true" } else { "false" }
                aria-describedby=move || invalid().then(|| error_ref.clone())
                node_ref=input
                prop:value=move || form.with(|form| form.values.get(field).to_owned())
                on:input=move |event| form.update(|form| form.edit(field, event_target_value(&event)))
            />
            <p class="field-error" id=error_id>{problem}</p>
        </div>
    }
}

fn field_id(field: FormField) -> &'static str {
    match field {
        FormField::Email => "natter-form-email",
        FormField::Name => "natter-form-name",
        FormField::Phone => "natter-form-phone",
        FormField::Company => "natter-form-company",
    }
}

/// The sentence shown under a field. The relay's own reasons are English: other languages get
/// a translated "please check this" instead.
fn problem_text(strings: &Strings, locale: Locale, field: FormField, problem: &Problem) -> String {
    match problem {
        Problem::Missing => match field {
            FormField::Email => strings.form_missing_email,
            FormField::Name => strings.form_missing_name,
            FormField::Phone => strings.form_missing_phone,
            FormField::Company => strings.form_missing_company,
        }
        .to_owned(),
        Problem::NotAnEmail => strings.form_not_an_email.to_owned(),
        Problem::NotAPhone => strings.form_not_a_phone.to_owned(),
        Problem::TooLong => strings
            .form_too_long
            .replace("{max}", &MAX_FIELD_CHARS.to_string()),
        Problem::Refused(reason) if locale == Locale::En && !reason.is_empty() => reason.clone(),
        Problem::Refused(_) => strings.form_refused.to_owned(),
    }
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// Whether the visitor chose "Not now" earlier in this tab.
fn session_dismissed() -> bool {
    session_storage()
        .and_then(|storage| storage.get_item(DISMISSED_KEY).ok().flatten())
        .is_some()
}

fn remember_dismissed() {
    let stored = session_storage().map(|storage| storage.set_item(DISMISSED_KEY, "1"));
    if !matches!(stored, Some(Ok(()))) {
        // Storage may be disabled or full: the card stays away on this page all the same.
        log::warn("cannot remember \"Not now\" for this session");
    }
}
