//! The composer: a labelled text area and a Send button in a form.
//!
//! Enter sends, Shift+Enter inserts a newline (and Enter while an input method is composing
//! does nothing special). Blank messages are not sent. The draft is cleared only once the
//! message is in the thread, so nothing typed is lost.

use leptos::{
    ev::{KeyboardEvent, SubmitEvent},
    html,
    prelude::*,
};

use crate::chat::Chat;

/// The text area's id, for the label's `for`. Ids are scoped to the shadow root.
const INPUT_ID: &str = "natter-message";

#[component]
pub fn Composer(chat: Chat, input: NodeRef<html::Textarea>) -> impl IntoView {
    let text = move || chat.locale.get().strings();
    let draft = RwSignal::new(String::new());
    let submit = move || {
        if draft.with_untracked(|text| chat.send_text(text)) {
            draft.set(String::new());
        }
    };
    let on_keydown = move |event: KeyboardEvent| {
        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
            event.prevent_default();
            submit();
        }
    };

    view! {
        <form
            class="composer"
            on:submit=move |event: SubmitEvent| {
                event.prevent_default();
                submit();
            }
        >
            <label class="sr-only" for=INPUT_ID>
                {move || text().message_label}
            </label>
            <textarea
                id=INPUT_ID
                class="input"
                rows="1"
                placeholder=move || text().message_placeholder
                node_ref=input
                prop:value=move || draft.get()
                on:input=move |event| draft.set(event_target_value(&event))
                on:keydown=on_keydown
            ></textarea>
            <button type="submit" class="send">
                {move || text().send}
            </button>
        </form>
    }
}
