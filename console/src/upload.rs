//! Uploading a file an agent attaches to a reply (I13):
//! `POST /v1/agent/conversations/{id}/attachments` over `XMLHttpRequest`.
//!
//! `fetch` cannot report upload progress, `XMLHttpRequest` can (`upload.onprogress`), and the
//! agent sees a progress bar. The body is the file with its own `Content-Type`; the file name
//! goes percent-encoded in `x-natter-filename`, the session's CSRF token in its header (the
//! session cookie goes along, same origin). The relay answers the stored [`Attachment`], or an
//! `ApiError` whose message is shown as it is (it names the limit or the refused type).
//!
//! The request's end resolves a JS promise whose `resolve` is bound directly as the event
//! handler, so no Rust closure has to drop itself inside its own call; the progress handler is
//! released once the request ended.

use js_sys::{Function, Promise};
use natter_protocol::agent::CSRF_HEADER;
use natter_protocol::visitor::upload_header;
use natter_protocol::{ApiError, Attachment, ConversationId};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{File, ProgressEvent, XmlHttpRequest};

use crate::strings;

/// How an upload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Uploaded(Attachment),
    /// Refused or failed; the sentence to show.
    Failed(String),
    /// [`Upload::abort`] was called.
    Aborted,
    /// The session ended: the console must show the login screen.
    Unauthorized,
}

/// One upload request; keep it to [`Upload::abort`] it.
pub struct Upload {
    xhr: XmlHttpRequest,
}

impl Upload {
    pub fn new() -> Option<Self> {
        XmlHttpRequest::new().ok().map(|xhr| Self { xhr })
    }

    /// Cancels a running upload; [`Upload::send`] then resolves to [`Outcome::Aborted`].
    pub fn abort(&self) {
        // Aborting a request that already ended does nothing worth reporting.
        let _ = self.xhr.abort();
    }

    /// Uploads `file` into conversation `id`; `on_progress(sent, total)` follows the bytes.
    pub async fn send(
        &self,
        id: ConversationId,
        file: &File,
        csrf: &str,
        on_progress: impl FnMut(u64, u64) + 'static,
    ) -> Outcome {
        let mut on_progress = on_progress;
        let progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |event: ProgressEvent| {
            if event.length_computable() {
                on_progress(event.loaded() as u64, event.total() as u64);
            }
        });
        let upload = self.xhr.upload().ok();
        if let Some(upload) = &upload {
            upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));
        }
        let ended = match self.start(id, file, csrf) {
            Ok(ended) => JsFuture::from(ended).await.ok(),
            Err(_) => None,
        };
        if let Some(upload) = &upload {
            upload.set_onprogress(None);
        }
        // The request has ended: no progress event can come any more.
        drop(progress);
        match ended.and_then(|how| how.as_string()).as_deref() {
            Some("load") => self.answer(),
            Some("abort") => Outcome::Aborted,
            _ => Outcome::Failed(strings::NETWORK_ERROR.to_owned()),
        }
    }

    fn start(&self, id: ConversationId, file: &File, csrf: &str) -> Result<Promise, JsValue> {
        let xhr = &self.xhr;
        xhr.open(
            "POST",
            &format!("/v1/agent/conversations/{}/attachments", id.0),
        )?;
        xhr.set_request_header(CSRF_HEADER, csrf)?;
        xhr.set_request_header(
            upload_header::FILENAME,
            &String::from(js_sys::encode_uri_component(&file.name())),
        )?;
        let content_type = file.type_();
        // The relay refuses an unknown type with a sentence that lists the allowed ones.
        let content_type = if content_type.is_empty() {
            "application/octet-stream".to_owned()
        } else {
            content_type
        };
        xhr.set_request_header("Content-Type", &content_type)?;
        let handlers = xhr.clone();
        let ended = Promise::new(&mut |resolve: Function, _reject: Function| {
            // `resolve` with how the request ended as its argument, called by the browser.
            let bind = |how: &str| -> Function {
                JsValue::from(resolve.bind1(&JsValue::NULL, &JsValue::from_str(how)))
                    .unchecked_into()
            };
            handlers.set_onload(Some(&bind("load")));
            handlers.set_onerror(Some(&bind("error")));
            handlers.set_onabort(Some(&bind("abort")));
            handlers.set_ontimeout(Some(&bind("error")));
        });
        xhr.send_with_opt_blob(Some(file))?;
        Ok(ended)
    }

    fn answer(&self) -> Outcome {
        let status = self.xhr.status().unwrap_or(0);
        let body = self.xhr.response_text().ok().flatten().unwrap_or_default();
        if (200..300).contains(&status) {
            return match serde_json::from_str::<Attachment>(&body) {
                Ok(attachment) => Outcome::Uploaded(attachment),
                Err(_) => Outcome::Failed(strings::BAD_RESPONSE.to_owned()),
            };
        }
        if status == 401 {
            return Outcome::Unauthorized;
        }
        match serde_json::from_str::<ApiError>(&body) {
            Ok(error) => Outcome::Failed(error.message),
            Err(_) => Outcome::Failed(strings::http_error(status)),
        }
    }
}
