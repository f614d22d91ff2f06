//! Uploading one file to the relay (W8): `POST /v1/visitor/attachments` over `XMLHttpRequest`.
//!
//! `fetch` cannot report upload progress, `XMLHttpRequest` can (`upload.onprogress`), and the
//! visitor must see a progress bar. The request carries the site key, the signed visitor id and
//! the percent-encoded file name in headers (`natter_protocol::visitor::upload_header`); the body
//! is the file itself with its own `Content-Type`. The relay answers the stored
//! [`Attachment`] as JSON, or an `ApiError` whose message the visitor is shown.
//!
//! The request reports its end through `loadend`, which fires exactly once however it ended
//! (load, error, abort, timeout); that handler is a one-shot closure that frees itself, and it
//! releases the progress handler first. No future or executor is involved, which keeps the
//! widget small. `natter_protocol::files::check` refuses files the relay would refuse anyway,
//! before any byte is sent.

use std::{
    cell::{Cell, RefCell},
    rc::Rc,
};

use natter_protocol::{
    visitor::{upload_header, VISITOR_UPLOAD_PATH},
    ApiError, Attachment,
};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{File, ProgressEvent, XmlHttpRequest};

/// Where and as whom to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The relay's origin, without a trailing slash.
    pub relay: String,
    /// The site key.
    pub site: String,
    /// The signed visitor id of the last welcome.
    pub visitor: String,
}

/// How an upload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored by the relay; send its id with a message.
    Uploaded(Attachment),
    /// The relay refused it; `reason` is the relay's message (it names the limit or the type).
    Refused { status: u16, reason: String },
    /// No answer: offline, relay down, or an answer that is not the protocol's.
    Failed,
    /// [`Upload::abort`] was called.
    Aborted,
}

type ProgressHandler = Closure<dyn FnMut(ProgressEvent)>;

/// A running upload. Keep it to be able to [`Upload::abort`] it; clones abort the same one.
#[derive(Clone)]
pub struct Upload {
    xhr: XmlHttpRequest,
    aborted: Rc<Cell<bool>>,
}

impl Upload {
    /// Starts uploading `file`. `on_progress(sent, total)` follows the bytes leaving the
    /// browser; `on_end` is called once, when the request ended (also after
    /// [`Upload::abort`]). `None` if the browser refused to start the request; `on_end` is
    /// then never called.
    pub fn start(
        endpoint: &Endpoint,
        file: &File,
        on_progress: impl FnMut(u64, u64) + 'static,
        on_end: impl FnOnce(Outcome) + 'static,
    ) -> Option<Self> {
        let xhr = XmlHttpRequest::new().ok()?;
        let aborted = Rc::new(Cell::new(false));
        let mut on_progress = on_progress;
        let progress: Rc<RefCell<Option<ProgressHandler>>> = Rc::new(RefCell::new(Some(
            Closure::new(move |event: ProgressEvent| {
                if event.length_computable() {
                    on_progress(event.loaded() as u64, event.total() as u64);
                }
            }),
        )));
        let upload = xhr.upload().ok();
        if let (Some(upload), Some(handler)) = (&upload, progress.borrow().as_ref()) {
            upload.set_onprogress(Some(handler.as_ref().unchecked_ref()));
        }
        let ended = {
            let xhr = xhr.clone();
            let aborted = Rc::clone(&aborted);
            let progress = Rc::clone(&progress);
            Closure::once_into_js(move || {
                // No progress event comes after the end: release that handler now.
                if let Some(upload) = &upload {
                    upload.set_onprogress(None);
                }
                progress.borrow_mut().take();
                on_end(if aborted.get() {
                    Outcome::Aborted
                } else {
                    answer(&xhr)
                });
            })
        };
        xhr.set_onloadend(Some(ended.unchecked_ref()));
        if send(&xhr, endpoint, file).is_err() {
            xhr.set_onloadend(None);
            return None;
        }
        Some(Self { xhr, aborted })
    }

    /// Cancels the upload; its `on_end` then gets [`Outcome::Aborted`] — synchronously, from
    /// inside this call, as browsers fire `loadend` there.
    pub fn abort(&self) {
        self.aborted.set(true);
        // Aborting a request that already ended is a no-op, never an error worth reporting.
        let _ = self.xhr.abort();
    }
}

fn send(xhr: &XmlHttpRequest, endpoint: &Endpoint, file: &File) -> Result<(), JsValue> {
    let url = format!(
        "{}{VISITOR_UPLOAD_PATH}",
        endpoint.relay.trim_end_matches('/')
    );
    xhr.open("POST", &url)?;
    xhr.set_request_header(upload_header::SITE, &endpoint.site)?;
    xhr.set_request_header(upload_header::VISITOR, &endpoint.visitor)?;
    xhr.set_request_header(
        upload_header::FILENAME,
        &String::from(js_sys::encode_uri_component(&file.name())),
    )?;
    xhr.set_request_header("Content-Type", &file.type_())?;
    xhr.send_with_opt_blob(Some(file))
}

/// Reads the relay's answer once the request ended.
fn answer(xhr: &XmlHttpRequest) -> Outcome {
    let status = xhr.status().unwrap_or(0);
    // Status 0: no answer at all (offline, relay down, CORS refused).
    let body = xhr.response_text().ok().flatten().unwrap_or_default();
    if (200..300).contains(&status) {
        return match serde_json::from_str::<Attachment>(&body) {
            Ok(attachment) => Outcome::Uploaded(attachment),
            Err(_) => Outcome::Failed,
        };
    }
    match serde_json::from_str::<ApiError>(&body) {
        Ok(error) => Outcome::Refused {
            status,
            reason: error.message,
        },
        // A proxy's error page, or no answer: nothing the visitor could act on.
        Err(_) => Outcome::Failed,
    }
}
