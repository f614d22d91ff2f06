//! The composer: a labelled text area, the paperclip, and a Send button in a form, with the
//! files about to be sent above it (W8).
//!
//! Enter sends, Shift+Enter inserts a newline (and Enter while an input method is composing
//! does nothing special). Blank messages are not sent, unless they carry files. The draft is
//! cleared only once the message is in the thread, so nothing typed is lost. Files pasted into
//! the text area or dropped anywhere on the panel are attached like picked ones. Send while a
//! file is still uploading waits for it and then sends, unless an upload failed meanwhile (the
//! visitor then sees why and decides).

use leptos::{
    ev::{ClipboardEvent, KeyboardEvent, SubmitEvent},
    html,
    prelude::*,
};

use super::attachments::{DropZone, Picker, Tray, TrayView};
use super::text::tr;
use crate::chat::Chat;

/// The text area's id, for the label's `for`. Ids are scoped to the shadow root.
const INPUT_ID: &str = "natter-message";

#[component]
pub fn Composer(chat: Chat, input: NodeRef<html::Textarea>) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let tray = Tray::new(chat);
    let form = NodeRef::<html::Form>::new();
    // Send was pressed while files were uploading; `failures_before` tells whether one failed.
    let waiting = RwSignal::new(false);
    let failures_before = StoredValue::new(0_u64);

    let send_now = move || {
        let attachments = tray.attachments();
        if draft.with_untracked(|text| chat.send_message(text, attachments)) {
            draft.set(String::new());
            tray.clear();
        }
    };
    let submit = move || {
        if tray.uploading() {
            failures_before.set_value(tray.failures.get_untracked());
            waiting.set(true);
            return;
        }
        waiting.set(false);
        send_now();
    };
    // An upload ended: send the message that waited for it, once all are done.
    Effect::watch(
        move || tray.settled.get(),
        move |_, _, _| {
            if !waiting.get_untracked() || tray.uploading() {
                return;
            }
            waiting.set(false);
            if tray.failures.get_untracked() == failures_before.get_value() {
                send_now();
            }
        },
        false,
    );
    let on_keydown = move |event: KeyboardEvent| {
        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
            event.prevent_default();
            submit();
        }
    };

    view! {
        <DropZone tray anchor=form />
        <TrayView tray waiting />
        <form
            class="composer"
            node_ref=form
            on:submit=move |event: SubmitEvent| {
                event.prevent_default();
                submit();
            }
        >
            <label class="sr-only" for=INPUT_ID>
                {tr(chat, |s| s.message_label)}
            </label>
            <textarea
                id=INPUT_ID
                class="input"
                rows="1"
                placeholder=tr(chat, |s| s.message_placeholder)
                node_ref=input
                prop:value=move || draft.get()
                on:input=move |event| {
                    draft.set(event_target_value(&event));
                    draft.with_untracked(|draft| chat.visitor_typing(draft));
                }
                on:keydown=on_keydown
                on:paste=move |event: ClipboardEvent| tray.paste(&event)
            ></textarea>
            // After the text area: Shift+Tab from it still reaches the newest message's Retry.
            <Picker tray />
            <button type="submit" class="send" aria-busy=move || waiting.get().then_some("true")>
                {tr(chat, |s| s.send)}
            </button>
        </form>
    }
}
