//! Files in the console (I13): the reply's files (picker, drag and drop, paste, progress,
//! remove) and the files of a message in the thread.
//!
//! A file uploads the moment it is added, so Send only names the stored ids
//! (`SendReply.attachments`). Refusals are the relay's own sentences (they name the limit or
//! the allowed types): the agent API sends no attachment rules, so the console checks nothing
//! itself and never disagrees with the relay. Sizes read as the widget's and the relay's do
//! (`natter_protocol::files::format_size`).

use std::rc::Rc;

use leptos::ev::{ClipboardEvent, DragEvent};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::files::{format_size, SizeUnits};
use natter_protocol::{Attachment, AttachmentId, ConversationId};
use web_sys::{File, FileList};

use crate::session::Auth;
use crate::state::Inbox;
use crate::strings;
use crate::upload::{Outcome, Upload};

/// One file of the reply being written.
#[derive(Debug, Clone, PartialEq)]
struct PendingFile {
    key: u32,
    name: String,
    size: u64,
    state: FileState,
}

#[derive(Debug, Clone, PartialEq)]
enum FileState {
    Uploading { sent: u64, total: u64 },
    Ready(Attachment),
}

/// The files of one conversation's reply box. `Copy`: signal handles.
#[derive(Clone, Copy)]
pub struct ReplyFiles {
    id: ConversationId,
    inbox: Inbox,
    auth: Auth,
    files: RwSignal<Vec<PendingFile>>,
    /// Uploads the relay refused or that got no answer, as sentences.
    problems: RwSignal<Vec<String>>,
    /// Files are dragged over the reply box.
    pub dragging: RwSignal<bool>,
    uploads: StoredValue<Vec<(u32, Rc<Upload>)>, LocalStorage>,
    next_key: StoredValue<u32>,
}

impl ReplyFiles {
    /// Call inside the composer: its cleanup (leaving the conversation) cancels the uploads.
    pub fn new(inbox: Inbox, auth: Auth, id: ConversationId) -> Self {
        let files = Self {
            id,
            inbox,
            auth,
            files: RwSignal::new(Vec::new()),
            problems: RwSignal::new(Vec::new()),
            dragging: RwSignal::new(false),
            uploads: StoredValue::new_local(Vec::new()),
            next_key: StoredValue::new(0),
        };
        on_cleanup(move || {
            if let Some(uploads) = files.uploads.try_with_value(Clone::clone) {
                for (_, upload) in uploads {
                    upload.abort();
                }
            }
        });
        files
    }

    pub fn is_empty(&self) -> bool {
        self.files.with_untracked(Vec::is_empty)
    }

    pub fn uploading(&self) -> bool {
        self.files.with_untracked(|files| {
            files
                .iter()
                .any(|file| matches!(file.state, FileState::Uploading { .. }))
        })
    }

    /// The stored files' ids, for `SendReply.attachments`.
    pub fn ids(&self) -> Vec<AttachmentId> {
        self.files.with_untracked(|files| {
            files
                .iter()
                .filter_map(|file| match &file.state {
                    FileState::Ready(attachment) => Some(attachment.id),
                    FileState::Uploading { .. } => None,
                })
                .collect()
        })
    }

    /// The reply went out with the files.
    pub fn clear(&self) {
        self.files.try_set(Vec::new());
        self.problems.try_set(Vec::new());
    }

    /// Starts uploading `files`.
    pub fn add(&self, files: Vec<File>) {
        self.problems.set(Vec::new());
        let csrf = self.inbox.csrf();
        for file in files {
            let name = file.name();
            let Some(request) = Upload::new() else {
                self.problems
                    .update(|p| p.push(strings::upload_failed(&name, strings::NETWORK_ERROR)));
                continue;
            };
            let key = self.next_key.get_value();
            self.next_key.set_value(key.wrapping_add(1));
            let size = file.size() as u64;
            self.files.update(|files| {
                files.push(PendingFile {
                    key,
                    name: name.clone(),
                    size,
                    state: FileState::Uploading {
                        sent: 0,
                        total: size,
                    },
                })
            });
            let request = Rc::new(request);
            self.uploads
                .update_value(|uploads| uploads.push((key, Rc::clone(&request))));
            let this = *self;
            let csrf = csrf.clone();
            spawn_local(async move {
                let on_progress = move |sent: u64, total: u64| {
                    this.files.try_update(|files| {
                        if let Some(file) = files.iter_mut().find(|file| file.key == key) {
                            if let FileState::Uploading { .. } = file.state {
                                file.state = FileState::Uploading { sent, total };
                            }
                        }
                    });
                };
                let outcome = request.send(this.id, &file, &csrf, on_progress).await;
                this.finish(key, &name, outcome);
            });
        }
    }

    /// Takes a file out of the reply, cancelling its upload.
    pub fn remove(&self, key: u32) {
        let upload = self.uploads.try_update_value(|uploads| {
            let index = uploads.iter().position(|(k, _)| *k == key)?;
            Some(uploads.remove(index).1)
        });
        if let Some(Some(upload)) = upload {
            upload.abort();
        }
        self.files
            .update(|files| files.retain(|file| file.key != key));
    }

    fn finish(&self, key: u32, name: &str, outcome: Outcome) {
        // The composer is gone (another conversation was opened): nothing to update.
        if self
            .uploads
            .try_update_value(|uploads| uploads.retain(|(k, _)| *k != key))
            .is_none()
        {
            return;
        }
        let problem = match outcome {
            Outcome::Uploaded(attachment) => {
                self.files.try_update(|files| {
                    if let Some(file) = files.iter_mut().find(|file| file.key == key) {
                        file.state = FileState::Ready(attachment);
                    }
                });
                return;
            }
            Outcome::Aborted => return,
            Outcome::Unauthorized => {
                self.auth.session_ended();
                return;
            }
            Outcome::Failed(reason) => strings::upload_failed(name, &reason),
        };
        self.files
            .try_update(|files| files.retain(|file| file.key != key));
        self.problems.try_update(|problems| problems.push(problem));
    }

    /// The files of a paste, if any (text pastes are left to the text area).
    pub fn paste(&self, event: &ClipboardEvent) {
        let files = event
            .clipboard_data()
            .and_then(|data| data.files())
            .map(file_vec)
            .unwrap_or_default();
        if !files.is_empty() {
            event.prevent_default();
            self.add(files);
        }
    }

    /// Drag and drop onto the reply box: `dragenter`, `dragover`, `dragleave`, `drop`.
    pub fn drag(&self, event: &DragEvent) {
        let carries_files = event.data_transfer().is_some_and(|data| {
            data.types()
                .includes(&wasm_bindgen::JsValue::from_str("Files"), 0)
        });
        match event.type_().as_str() {
            "dragenter" | "dragover" if carries_files => {
                // Without this the browser would open the file instead of dropping it here.
                event.prevent_default();
                self.dragging.set(true);
            }
            "dragleave" => {
                // Leaving for a child of the box is not leaving the box.
                let inside = event
                    .related_target()
                    .and_then(|target| wasm_bindgen::JsCast::dyn_into::<web_sys::Node>(target).ok())
                    .zip(event.current_target().and_then(|target| {
                        wasm_bindgen::JsCast::dyn_into::<web_sys::Node>(target).ok()
                    }))
                    .is_some_and(|(target, zone)| zone.contains(Some(&target)));
                if !inside {
                    self.dragging.set(false);
                }
            }
            "drop" => {
                self.dragging.set(false);
                let files = event
                    .data_transfer()
                    .and_then(|data| data.files())
                    .map(file_vec)
                    .unwrap_or_default();
                if !files.is_empty() {
                    event.prevent_default();
                    self.add(files);
                }
            }
            _ => {}
        }
    }
}

fn file_vec(list: FileList) -> Vec<File> {
    (0..list.length())
        .filter_map(|index| list.get(index))
        .collect()
}

/// The paperclip button and its hidden file input.
#[component]
pub fn FilePicker(files: ReplyFiles) -> impl IntoView {
    let input = NodeRef::<html::Input>::new();
    view! {
        <input
            type="file"
            multiple
            hidden
            tabindex="-1"
            node_ref=input
            on:change=move |_| {
                if let Some(input) = input.get_untracked() {
                    let picked = input.files().map(file_vec).unwrap_or_default();
                    // Picking the same file again must fire `change` again.
                    input.set_value("");
                    files.add(picked);
                }
            }
        />
        <button
            type="button"
            class="secondary attach"
            on:click=move |_| {
                if let Some(input) = input.get_untracked() {
                    input.click();
                }
            }
        >
            <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                <path
                    d="M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.9-8.9a3.7 3.7 0 0 1 5.2 5.2l-8.9 8.9a1.8 1.8 0 0 1-2.6-2.6l8.2-8.2"
                    fill="none"
                    stroke="currentColor"
                    stroke-width="2"
                    stroke-linecap="round"
                    stroke-linejoin="round"
                />
            </svg>
            {strings::ATTACH_FILES}
        </button>
    }
}

/// The reply's files with their progress, and what could not be uploaded.
#[component]
pub fn FileTray(files: ReplyFiles) -> impl IntoView {
    let keys = move || {
        files
            .files
            .with(|list| list.iter().map(|file| file.key).collect::<Vec<_>>())
    };
    view! {
        <div class="upload-problems" role="alert">
            {move || files.problems.get().into_iter().map(|problem| view! { <p class="alert">{problem}</p> }).collect_view()}
        </div>
        <ul class="reply-files" aria-label=strings::FILES_TO_SEND hidden=move || files.files.with(Vec::is_empty)>
            <For each=keys key=|key| *key let(key)>
                <FileRow files key />
            </For>
        </ul>
    }
}

#[component]
fn FileRow(files: ReplyFiles, key: u32) -> impl IntoView {
    let Some(file) = files
        .files
        .with_untracked(|list| list.iter().find(|file| file.key == key).cloned())
    else {
        return ().into_any();
    };
    let state = move || {
        files.files.with(|list| {
            list.iter()
                .find(|file| file.key == key)
                .map(|file| file.state.clone())
        })
    };
    let progress_label = strings::uploading(&file.name);
    let status = move || {
        match state() {
        Some(FileState::Uploading { sent, total }) => view! {
            <progress max=total.max(1).to_string() value=sent.to_string() aria-label=progress_label.clone()></progress>
        }
        .into_any(),
        Some(FileState::Ready(_)) => view! { <span class="muted">{strings::FILE_READY}</span> }.into_any(),
        None => ().into_any(),
    }
    };
    view! {
        <li>
            <span class="file-name">{file.name.clone()}</span>
            <span class="muted">{format_size(file.size, &SizeUnits::ENGLISH)}</span>
            {status}
            <button
                type="button"
                class="link"
                aria-label=strings::remove_file(&file.name)
                on:click=move |_| files.remove(key)
            >
                "×"
            </button>
        </li>
    }
    .into_any()
}

/// The files of a message: images inline (opening full size in a new tab), other files as
/// a link with name and size. URLs are relative to the relay, which serves this console.
#[component]
pub fn Attachments(attachments: Vec<Attachment>) -> impl IntoView {
    let items = attachments
        .into_iter()
        .map(|attachment| {
            let url = attachment.url.clone();
            if attachment.is_image() {
                let full_size = url.clone();
                view! {
                    <li class="attachment image">
                        <a href=full_size target="_blank" rel="noopener noreferrer">
                            <img src=url alt=attachment.name.clone() loading="lazy" />
                            <span class="visually-hidden">" " {strings::OPENS_IN_NEW_TAB}</span>
                        </a>
                    </li>
                }
                .into_any()
            } else {
                view! {
                    <li class="attachment">
                        <a href=url target="_blank" rel="noopener noreferrer">
                            <span class="file-name">{attachment.name.clone()}</span>
                            " "
                            <span class="muted">{format_size(attachment.size, &SizeUnits::ENGLISH)}</span>
                            <span class="visually-hidden">" " {strings::OPENS_IN_NEW_TAB}</span>
                        </a>
                    </li>
                }
                .into_any()
            }
        })
        .collect_view();
    view! { <ul class="attachments">{items}</ul> }
}
