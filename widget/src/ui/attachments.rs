//! Attachments in the widget (W8): the paperclip picker, the panel as a drop zone, the tray of
//! files about to be sent (thumbnail, progress bar, remove), the refusals, and the files of a
//! message in the thread.
//!
//! A file starts uploading the moment it is picked, dropped or pasted, so Send is quick; the
//! message (text and the uploaded files' metadata) is handed to [`Chat::send_message`] only once
//! every file is stored by the relay, and from there goes through the outbox like any message.
//! Files the relay would refuse (type not on the site's allow-list, over the size limit) are
//! refused here first, with a sentence that names the file and the limit, in a `role="alert"`
//! line. Image thumbnails are object URLs, revoked as soon as the file leaves the tray.

use std::rc::Rc;

use leptos::{ev::ClipboardEvent, html, prelude::*};
use natter_protocol::{
    files::{self, format_size, max_files, Refusal},
    visitor::AttachmentRules,
    Attachment,
};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{DataTransfer, DragEvent, Element, File, FileList};

use super::text::tr;
use crate::{
    chat::Chat,
    log,
    strings::Strings,
    upload::{Outcome, Upload},
};

/// One file in the tray.
#[derive(Debug, Clone, PartialEq)]
struct Item {
    id: u32,
    name: String,
    size: u64,
    /// An object URL of the file, for image thumbnails.
    preview: Option<String>,
    state: ItemState,
}

#[derive(Debug, Clone, PartialEq)]
enum ItemState {
    Uploading { sent: u64, total: u64 },
    Ready(Attachment),
}

/// A file that could not be attached, rendered in the visitor's current language.
#[derive(Debug, Clone, PartialEq)]
enum Problem {
    Refused {
        name: String,
        size: u64,
        refusal: Refusal,
        rules: AttachmentRules,
    },
    TooMany {
        limit: usize,
    },
    /// The relay refused the upload; its reason names the limit or the type.
    Relay {
        name: String,
        reason: String,
    },
    /// No answer from the relay.
    Failed {
        name: String,
    },
}

impl Problem {
    fn text(&self, strings: &Strings) -> String {
        match self {
            Self::Refused {
                name,
                size,
                refusal,
                rules,
            } => match refusal {
                Refusal::TypeNotAllowed => strings
                    .file_type_refused
                    .replace("{name}", name)
                    .replace("{allowed}", &allowed_kinds(&rules.allowed_types, strings)),
                Refusal::TooLarge => strings
                    .file_too_large
                    .replace("{name}", name)
                    .replace("{size}", &format_size(*size, &strings.size_units))
                    .replace(
                        "{limit}",
                        &format_size(rules.max_bytes, &strings.size_units),
                    ),
                Refusal::Empty => strings.file_empty.replace("{name}", name),
            },
            Self::TooMany { limit } => strings
                .too_many_files
                .replace("{limit}", &limit.to_string()),
            Self::Relay { name, reason } => strings
                .upload_refused
                .replace("{name}", name)
                .replace("{reason}", reason),
            Self::Failed { name } => strings.upload_failed.replace("{name}", name),
        }
    }
}

/// The files of the message being written. `Copy`: a bundle of signal handles.
#[derive(Clone, Copy)]
pub struct Tray {
    chat: Chat,
    items: RwSignal<Vec<Item>>,
    problems: RwSignal<Vec<Problem>>,
    /// Counts uploads that ended, so a message waiting for them is sent (see the composer).
    pub settled: RwSignal<u64>,
    /// Counts uploads that failed, so a waiting message is not sent without its file.
    pub failures: RwSignal<u64>,
    /// Files are being dragged over the panel.
    dragging: RwSignal<bool>,
    uploads: StoredValue<Vec<(u32, Upload)>, LocalStorage>,
    next_id: StoredValue<u32>,
}

impl Tray {
    pub fn new(chat: Chat) -> Self {
        let tray = Self {
            chat,
            items: RwSignal::new(Vec::new()),
            problems: RwSignal::new(Vec::new()),
            settled: RwSignal::new(0),
            failures: RwSignal::new(0),
            dragging: RwSignal::new(false),
            uploads: StoredValue::new_local(Vec::new()),
            next_id: StoredValue::new(0),
        };
        // `natter('destroy')`: stop the uploads and free the thumbnails.
        on_cleanup(move || {
            // Aborting ends the upload at once (see `finish`): not while its list is borrowed.
            let uploads = tray
                .uploads
                .try_with_value(Clone::clone)
                .unwrap_or_default();
            for (_, upload) in uploads {
                upload.abort();
            }
            if let Some(items) = tray.items.try_get_untracked() {
                items.iter().for_each(revoke);
            }
        });
        tray
    }

    /// Whether a file is still uploading.
    pub fn uploading(&self) -> bool {
        self.items.with_untracked(|items| {
            items
                .iter()
                .any(|item| matches!(item.state, ItemState::Uploading { .. }))
        })
    }

    /// The uploaded files, in the order they were added.
    pub fn attachments(&self) -> Vec<Attachment> {
        self.items.with_untracked(|items| {
            items
                .iter()
                .filter_map(|item| match &item.state {
                    ItemState::Ready(attachment) => Some(attachment.clone()),
                    ItemState::Uploading { .. } => None,
                })
                .collect()
        })
    }

    /// The message carrying the files was handed to the chat: empty the tray.
    pub fn clear(&self) {
        let items = self.items.try_update(std::mem::take).unwrap_or_default();
        items.iter().for_each(revoke);
        self.problems.set(Vec::new());
    }

    /// Checks the files and starts uploading those the relay will accept.
    pub fn add(&self, files: Vec<File>) {
        if files.is_empty() {
            return;
        }
        self.chat.interacted();
        let rules = self.chat.attachment_rules.get_untracked();
        let mut problems = Vec::new();
        let mut count = self.items.with_untracked(Vec::len);
        for file in files {
            let name = file.name();
            let size = file.size() as u64;
            if count >= max_files(&rules) {
                problems.push(Problem::TooMany {
                    limit: max_files(&rules),
                });
                break;
            }
            if let Err(refusal) = files::check(size, &file.type_(), &rules) {
                problems.push(Problem::Refused {
                    name,
                    size,
                    refusal,
                    rules: rules.clone(),
                });
                continue;
            }
            let Some(endpoint) = self.chat.upload_endpoint() else {
                // Not welcomed yet: there is no visitor id to upload as.
                problems.push(Problem::Failed { name });
                continue;
            };
            let id = self.next_id.get_value();
            let tray = *self;
            let on_progress = move |sent: u64, total: u64| {
                tray.items.try_update(|items| {
                    if let Some(item) = items.iter_mut().find(|item| item.id == id) {
                        if let ItemState::Uploading { .. } = item.state {
                            item.state = ItemState::Uploading { sent, total };
                        }
                    }
                });
            };
            let ended_name = name.clone();
            let on_end = move |outcome| tray.finish(id, ended_name, outcome);
            let Some(upload) = Upload::start(&endpoint, &file, on_progress, on_end) else {
                problems.push(Problem::Failed { name });
                continue;
            };
            count += 1;
            self.next_id.set_value(id.wrapping_add(1));
            let preview = file
                .type_()
                .starts_with("image/")
                .then(|| web_sys::Url::create_object_url_with_blob(&file).ok())
                .flatten();
            self.items.update(|items| {
                items.push(Item {
                    id,
                    name,
                    size,
                    preview,
                    state: ItemState::Uploading {
                        sent: 0,
                        total: size,
                    },
                })
            });
            self.uploads
                .update_value(|uploads| uploads.push((id, upload)));
        }
        self.problems.set(problems);
    }

    /// Takes a file out of the message, cancelling its upload.
    pub fn remove(&self, id: u32) {
        self.abort(id);
        let mut removed = None;
        self.items.update(|items| {
            if let Some(index) = items.iter().position(|item| item.id == id) {
                removed = Some(items.remove(index));
            }
        });
        removed.iter().for_each(revoke);
    }

    fn abort(&self, id: u32) {
        // Aborting ends the upload at once (see `finish`): not while its list is borrowed.
        let upload = self.uploads.try_with_value(|uploads| {
            uploads
                .iter()
                .find(|(upload_id, _)| *upload_id == id)
                .map(|(_, upload)| upload.clone())
        });
        if let Some(upload) = upload.flatten() {
            upload.abort();
        }
    }

    fn finish(&self, id: u32, name: String, outcome: Outcome) {
        // The component may be gone (`destroy`): then there is nothing left to update.
        if self
            .uploads
            .try_update_value(|uploads| uploads.retain(|(upload_id, _)| *upload_id != id))
            .is_none()
        {
            return;
        }
        let problem = match outcome {
            Outcome::Uploaded(attachment) => {
                self.items.try_update(|items| {
                    if let Some(item) = items.iter_mut().find(|item| item.id == id) {
                        item.state = ItemState::Ready(attachment);
                    }
                });
                None
            }
            // Removed by the visitor: nothing to say.
            Outcome::Aborted => None,
            Outcome::Refused { status, reason } => {
                log::warn(&format!("the relay refused an upload ({status}): {reason}"));
                Some(Problem::Relay { name, reason })
            }
            Outcome::Failed => Some(Problem::Failed { name }),
        };
        if let Some(problem) = problem {
            let mut removed = None;
            self.items.try_update(|items| {
                if let Some(index) = items.iter().position(|item| item.id == id) {
                    removed = Some(items.remove(index));
                }
            });
            removed.iter().for_each(revoke);
            self.problems.try_update(|problems| problems.push(problem));
            self.failures.try_update(|failures| *failures += 1);
        }
        self.settled.try_update(|settled| *settled += 1);
    }

    /// The files of a paste, if it carries any (text pastes are left to the text area).
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
}

fn revoke(item: &Item) {
    if let Some(url) = &item.preview {
        let _ = web_sys::Url::revoke_object_url(url);
    }
}

fn file_vec(list: FileList) -> Vec<File> {
    (0..list.length())
        .filter_map(|index| list.get(index))
        .collect()
}

/// The allow-list said to people: "images, PDF, text files".
pub fn allowed_kinds(types: &[String], strings: &Strings) -> String {
    let mut kinds: Vec<String> = Vec::new();
    for content_type in types {
        let content_type = content_type.to_ascii_lowercase();
        let kind = if content_type.starts_with("image/") {
            strings.kind_images.to_owned()
        } else if content_type == "application/pdf" {
            "PDF".to_owned()
        } else if content_type.starts_with("text/") {
            strings.kind_text.to_owned()
        } else {
            let subtype = content_type.rsplit('/').next().unwrap_or_default();
            subtype.to_ascii_uppercase()
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds.join(strings.list_separator)
}

/// An attachment URL from the relay (relative to its origin) as the host page must use it.
pub fn absolute_url(relay: &str, url: &str) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        url.to_owned()
    } else {
        format!("{}{url}", relay.trim_end_matches('/'))
    }
}

/// The `accept` attribute of the file input: the site's allowed types.
fn accept(rules: &AttachmentRules) -> String {
    rules.allowed_types.join(",")
}

/// The paperclip button and its hidden file input.
#[component]
pub fn Picker(tray: Tray) -> impl IntoView {
    let chat = tray.chat;
    let input = NodeRef::<html::Input>::new();
    view! {
        <input
            type="file"
            class="file-input"
            multiple
            hidden
            tabindex="-1"
            accept=move || chat.attachment_rules.with(accept)
            node_ref=input
            on:change=move |_| {
                if let Some(input) = input.get_untracked() {
                    let files = input.files().map(file_vec).unwrap_or_default();
                    // Picking the same file again must fire `change` again.
                    input.set_value("");
                    tray.add(files);
                }
            }
        />
        <button
            type="button"
            class="attach"
            aria-label=tr(chat, |s| s.attach_files)
            title=tr(chat, |s| s.attach_files)
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
        </button>
    }
}

/// The files of the message being written, and what could not be attached.
#[component]
pub fn TrayView(tray: Tray, waiting: RwSignal<bool>) -> impl IntoView {
    let chat = tray.chat;
    let text = move || chat.locale.get().strings();
    let problems = move || {
        let strings = text();
        tray.problems.with(|problems| {
            problems
                .iter()
                .map(|problem| view! { <p>{problem.text(strings)}</p> })
                .collect_view()
        })
    };
    let ids = move || {
        tray.items
            .with(|items| items.iter().map(|i| i.id).collect::<Vec<_>>())
    };
    view! {
        <div class="attach-problems" role="alert">{problems}</div>
        <ul class="tray" aria-label=tr(chat, |s| s.files_to_send) hidden=move || tray.items.with(Vec::is_empty)>
            // Keyed by a UUID like the message list, though a counter would do: one keyed-diff
            // instantiation instead of two (the widget's size budget).
            <For each=ids key=|id| uuid::Uuid::from_u128(u128::from(*id)) children=move |id| view! { <TrayItem tray id /> } />
        </ul>
        <p class="tray-wait" role="status">
            {move || waiting.get().then(|| text().sending_after_upload)}
        </p>
    }
}

#[component]
fn TrayItem(tray: Tray, id: u32) -> impl IntoView {
    let chat = tray.chat;
    let text = move || chat.locale.get().strings();
    let Some(item) = tray
        .items
        .with_untracked(|items| items.iter().find(|item| item.id == id).cloned())
    else {
        return ().into_any();
    };
    let state = move || {
        tray.items.with(|items| {
            items
                .iter()
                .find(|item| item.id == id)
                .map(|item| item.state.clone())
        })
    };
    // Uploading: (sent, total); `None` once uploaded. The bar and the "ready" line stay in the
    // DOM and only their values change, so progress events do not rebuild anything.
    let progress = Memo::new(move |_| match state() {
        Some(ItemState::Uploading { sent, total }) => Some((sent, total.max(1))),
        _ => None,
    });
    let progress_name = item.name.clone();
    let remove_name = item.name.clone();
    let icon = item.preview.is_none();
    let size = move || format_size(item.size, &text().size_units);
    view! {
        <li class="tray-item">
            {item.preview.map(|url| view! { <img class="thumb" src=url alt="" /> })}
            {icon.then(|| view! { <span class="thumb file-icon" aria-hidden="true">{file_icon()}</span> })}
            <span class="tray-text">
                <span class="tray-name">{item.name}</span>
                <span class="tray-size">{size}</span>
                <progress
                    class="upload-progress"
                    hidden=move || progress.get().is_none()
                    max=move || progress.get().map_or(1, |(_, total)| total).to_string()
                    value=move || progress.get().map_or(0, |(sent, _)| sent).to_string()
                    aria-label=move || text().uploading_file.replace("{name}", &progress_name)
                ></progress>
                <span class="tray-ready" hidden=move || progress.get().is_some()>
                    {tr(chat, |s| s.file_ready)}
                </span>
            </span>
            <button
                type="button"
                class="tray-remove"
                aria-label=move || text().remove_file.replace("{name}", &remove_name)
                on:click=move |_| tray.remove(id)
            >
                <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                    <path d="M6 6l12 12M18 6L6 18" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" />
                </svg>
            </button>
        </li>
    }
    .into_any()
}

fn file_icon() -> impl IntoView {
    view! {
        <svg viewBox="0 0 24 24" focusable="false">
            <path
                d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8zM14 3v5h5"
                fill="none"
                stroke="currentColor"
                stroke-width="1.8"
                stroke-linejoin="round"
            />
        </svg>
    }
}

/// Makes the whole panel (the nearest `.panel` around `anchor`) a drop target while mounted,
/// and shows a "drop here" overlay over it while files are dragged over it.
#[component]
pub fn DropZone(tray: Tray, anchor: NodeRef<html::Form>) -> impl IntoView {
    let chat = tray.chat;
    let listeners = StoredValue::new_local(None::<DropListeners>);
    anchor.on_load(move |form| {
        let panel = form.closest(".panel").ok().flatten();
        match panel {
            Some(panel) => listeners.set_value(DropListeners::attach(panel, tray)),
            None => log::warn("no panel to drop files on"),
        }
    });
    on_cleanup(move || {
        if let Some(Some(listeners)) = listeners.try_update_value(Option::take) {
            listeners.detach();
        }
    });
    view! {
        <div class="drop-overlay" hidden=move || !tray.dragging.get() aria-hidden="true">
            <p>{tr(chat, |s| s.drop_files)}</p>
        </div>
    }
}

type DragHandler = Closure<dyn FnMut(DragEvent)>;

/// The panel's drag listeners; [`DropListeners::detach`] removes them.
struct DropListeners {
    panel: Element,
    handlers: Vec<(&'static str, DragHandler)>,
}

impl DropListeners {
    fn attach(panel: Element, tray: Tray) -> Option<Self> {
        // dragenter/dragleave fire for every child crossed: count them to know when the drag
        // left the panel itself.
        let depth = Rc::new(std::cell::Cell::new(0_i32));
        let carries_files = |event: &DragEvent| {
            event
                .data_transfer()
                .is_some_and(|data| data.types().includes(&JsValue::from_str("Files"), 0))
        };
        let enter_depth = Rc::clone(&depth);
        let enter: DragHandler = Closure::new(move |event: DragEvent| {
            if carries_files(&event) {
                event.prevent_default();
                enter_depth.set(enter_depth.get() + 1);
                tray.dragging.try_set(true);
            }
        });
        let over: DragHandler = Closure::new(move |event: DragEvent| {
            if carries_files(&event) {
                // Without this the browser opens the file instead of dropping it here.
                event.prevent_default();
                if let Some(data) = event.data_transfer() {
                    data.set_drop_effect("copy");
                }
            }
        });
        let leave_depth = Rc::clone(&depth);
        let leave: DragHandler = Closure::new(move |_event: DragEvent| {
            leave_depth.set((leave_depth.get() - 1).max(0));
            if leave_depth.get() == 0 {
                tray.dragging.try_set(false);
            }
        });
        let drop_depth = Rc::clone(&depth);
        let drop: DragHandler = Closure::new(move |event: DragEvent| {
            drop_depth.set(0);
            tray.dragging.try_set(false);
            let files = event
                .data_transfer()
                .and_then(|data: DataTransfer| data.files())
                .map(file_vec)
                .unwrap_or_default();
            if !files.is_empty() {
                event.prevent_default();
                tray.add(files);
            }
        });
        let handlers = vec![
            ("dragenter", enter),
            ("dragover", over),
            ("dragleave", leave),
            ("drop", drop),
        ];
        for (name, handler) in &handlers {
            if panel
                .add_event_listener_with_callback(name, handler.as_ref().unchecked_ref())
                .is_err()
            {
                log::warn("cannot listen for dropped files");
                return None;
            }
        }
        Some(Self { panel, handlers })
    }

    fn detach(self) {
        for (name, handler) in &self.handlers {
            let _ = self
                .panel
                .remove_event_listener_with_callback(name, handler.as_ref().unchecked_ref());
        }
    }
}

/// The files of a message in the thread: images inline (opening full size in a new tab),
/// other files as a link with name and size.
#[component]
pub fn Files(chat: Chat, attachments: Vec<Attachment>) -> impl IntoView {
    let text = move || chat.locale.get().strings();
    let relay = chat.relay_origin();
    let files = attachments
        .into_iter()
        .map(|attachment| {
            let href = absolute_url(&relay, &attachment.url);
            let image = attachment.is_image().then(|| href.clone());
            let file = (!attachment.is_image()).then_some((attachment.name.clone(), attachment.size));
            let class = if image.is_some() { "file image" } else { "file" };
            // One shape for both kinds: an image inside the link, or a file's name and size.
            view! {
                <li class=class>
                    <a class="file-link" href=href target="_blank" rel="noopener noreferrer">
                        {image.map(|src| view! { <img src=src alt=attachment.name loading="lazy" /> })}
                        {file.map(|(name, size)| view! {
                            <span class="file-icon" aria-hidden="true">{file_icon()}</span>
                            <span class="file-name">{name}</span>
                            <span class="file-size">{move || format_size(size, &text().size_units)}</span>
                        })}
                        <span class="sr-only">{move || format!(" {}", text().opens_in_new_tab)}</span>
                    </a>
                </li>
            }
        })
        .collect_view();
    view! { <ul class="files">{files}</ul> }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strings::{DE, EN, FR};
    use natter_protocol::files::DEFAULT_MAX_FILES;

    /// A size as the widget says it in `strings`' language.
    fn human_size(bytes: u64, strings: &Strings) -> String {
        format_size(bytes, &strings.size_units)
    }

    #[test]
    fn sizes_are_said_in_the_visitors_language() {
        assert_eq!(human_size(10 * 1024 * 1024, &EN), "10 MB");
        assert_eq!(human_size(24 * 1024 * 1024 + 10, &EN), "24 MB");
        assert_eq!(human_size(2_500_000, &EN), "2.4 MB");
        assert_eq!(human_size(2_500_000, &DE), "2,4 MB");
        assert_eq!(human_size(2_500_000, &FR), "2,4 Mo");
        assert_eq!(human_size(200 * 1024, &EN), "200 KB");
        assert_eq!(human_size(1025, &EN), "2 KB");
        assert_eq!(human_size(12, &FR), "12 octets");
        assert_eq!(human_size(12, &DE), "12 Byte");
    }

    #[test]
    fn the_allow_list_is_said_as_kinds_of_files() {
        let types: Vec<String> = [
            "image/png",
            "image/jpeg",
            "application/pdf",
            "text/plain",
            "application/zip",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(allowed_kinds(&types, &EN), "images, PDF, text files, ZIP");
        assert_eq!(allowed_kinds(&types, &DE), "Bilder, PDF, Textdateien, ZIP");
    }

    #[test]
    fn the_files_limit_is_the_relays_or_its_default() {
        let mut rules = AttachmentRules::default();
        assert_eq!(max_files(&rules), DEFAULT_MAX_FILES);
        rules.max_files = Some(3);
        assert_eq!(max_files(&rules), 3);
        assert_eq!(
            Problem::TooMany { limit: 3 }.text(&EN),
            "You can send up to 3 files with one message."
        );
    }

    #[test]
    fn refusals_name_the_file_and_the_limit() {
        let rules = AttachmentRules {
            max_bytes: 10 * 1024 * 1024,
            allowed_types: vec!["image/png".into(), "application/pdf".into()],
            max_files: Some(3),
        };
        let too_large = Problem::Refused {
            name: "video.mp4".into(),
            size: 24 * 1024 * 1024,
            refusal: Refusal::TooLarge,
            rules: rules.clone(),
        };
        assert_eq!(
            too_large.text(&EN),
            "video.mp4 is 24 MB; the limit is 10 MB."
        );
        let wrong_type = Problem::Refused {
            name: "invoice.exe".into(),
            size: 10,
            refusal: Refusal::TypeNotAllowed,
            rules,
        };
        assert_eq!(
            wrong_type.text(&EN),
            "invoice.exe: this type of file can't be sent. Allowed: images, PDF."
        );
        assert!(wrong_type.text(&FR).starts_with("invoice.exe\u{a0}:"));
    }

    #[test]
    fn attachment_urls_are_made_absolute_on_the_relay() {
        assert_eq!(
            absolute_url("https://chat.example/", "/v1/attachments/a/b"),
            "https://chat.example/v1/attachments/a/b"
        );
        assert_eq!(
            absolute_url("https://chat.example", "https://cdn.example/x"),
            "https://cdn.example/x"
        );
    }
}
