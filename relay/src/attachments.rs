//! Attachments (W8, I13): uploads from visitors and agents, kept in the blob store
//! ([`crate::blobs`]: a local directory, or one every node shares), served by capability URL.
//!
//! A file is uploaded first (`POST /v1/visitor/attachments`, or
//! `POST /v1/agent/conversations/{id}/attachments`) and then sent by naming its id in a
//! message. Its type must be on the allow-list *and* match the file's first bytes where the
//! format has a signature (checked on the first bytes, before anything is stored); the upload
//! is then streamed to the store and cut off at `Limits::max_attachment_bytes`. The object key
//! is the attachment's id. Downloads need the random access token that only the conversation's visitor and
//! agents are given; files are served with `nosniff` and a sandboxing CSP so an upload can never
//! run as a page on the relay's origin.

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{Stream, StreamExt, TryStreamExt};
use natter_protocol::files;
use natter_protocol::visitor::{upload_header, VISITOR_UPLOAD_PATH};
use natter_protocol::{Attachment, AttachmentId, ConversationId, ErrorCode};
use uuid::Uuid;

use crate::blobs::BlobError;
use crate::error::{HttpError, StoreError};
use crate::identity::random_token;
use crate::store::NewAttachment;
pub use crate::store::Uploader;
use crate::AppState;

/// Longest stored file name; longer ones are shortened (keeping the extension).
const MAX_NAME_CHARS: usize = 120;

/// How many first bytes the signature check reads (WebP needs 12).
const HEAD_BYTES: usize = 16;

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the file is larger than the limit of {}", human_bytes(*limit))]
    TooLarge { limit: u64 },
    #[error("files of type {content_type:?} cannot be sent; allowed are {allowed}")]
    TypeNotAllowed {
        content_type: String,
        allowed: String,
    },
    #[error("the file's content is not a {declared} file")]
    ContentMismatch { declared: String },
    #[error("the file is empty")]
    Empty,
    #[error("could not store the file: {0}")]
    Blob(BlobError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<BlobError> for UploadError {
    fn from(error: BlobError) -> Self {
        match error {
            BlobError::TooLarge { limit } => Self::TooLarge { limit },
            error => Self::Blob(error),
        }
    }
}

impl From<UploadError> for HttpError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::TooLarge { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::InvalidInput,
                error.to_string(),
            ),
            UploadError::TypeNotAllowed { .. } | UploadError::ContentMismatch { .. } => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::InvalidInput,
                error.to_string(),
            ),
            UploadError::Empty => Self::invalid(error.to_string()),
            UploadError::Blob(error) => Self::internal(error),
            UploadError::Store(error) => error.into(),
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(VISITOR_UPLOAD_PATH, post(visitor_upload).options(preflight))
        .route("/v1/attachments/{id}/{token}", get(download))
}

/// The download URL of an attachment.
pub use crate::store::attachment_url as url;

/// The widget uploads from the host page's origin: answer the CORS preflight. Whether that
/// origin may use the site is checked on the upload itself.
async fn preflight(headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    cors_headers(&headers, response.headers_mut());
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "content-type, x-natter-site, x-natter-visitor, x-natter-filename",
        ),
    );
    response.headers_mut().insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

fn cors_headers(request: &HeaderMap, response: &mut HeaderMap) {
    if let Some(origin) = request.get(header::ORIGIN) {
        response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        response.insert(header::VARY, HeaderValue::from_static("origin"));
    }
}

async fn visitor_upload(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = visitor_upload_inner(&state, &headers, body).await;
    let mut response = match result {
        Ok(attachment) => Json(attachment).into_response(),
        Err(error) => error.into_response(),
    };
    cors_headers(&headers, response.headers_mut());
    response
}

async fn visitor_upload_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Attachment, HttpError> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let site_key = text(upload_header::SITE).unwrap_or_default();
    let origin = text(header::ORIGIN.as_str());
    let site = state
        .config
        .site(site_key)
        .filter(|site| site.allows_origin(origin))
        .ok_or_else(|| HttpError::forbidden("this site is not set up for chat on this page"))?;
    let visitor = text(upload_header::VISITOR)
        .and_then(|token| state.visitor_signer.verify(&site.key, token))
        .ok_or_else(|| HttpError::unauthorized("unknown visitor; reload the page"))?;
    if !state
        .store
        .touch_visitor(&site.key, &visitor, state.clock.now())
        .await?
    {
        return Err(HttpError::unauthorized("unknown visitor; reload the page"));
    }
    let key = crate::store::ConversationKey::Visitor(visitor);
    let conversation = crate::conversations::open(state, &site.key, &key).await?;
    Ok(save(
        state,
        headers,
        body,
        conversation.summary.id,
        Uploader::Visitor,
    )
    .await?)
}

/// Checks the upload's type, streams it to the blob store within the size limit, and records
/// it. (The agents' upload endpoint is in `inbox`, which checks the session first.)
pub async fn save(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    conversation_id: ConversationId,
    uploader: Uploader,
) -> Result<Attachment, UploadError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let content_type = allowed_type(&state.config, content_type)?;
    let limit = state.config.limits.max_attachment_bytes;
    // Refuse early when the client says how big it is.
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > limit) {
        return Err(UploadError::TooLarge { limit });
    }
    let id = AttachmentId(Uuid::new_v4());
    let size = store_body(state, id, &content_type, body, limit).await?;
    let name = headers
        .get(upload_header::FILENAME)
        .and_then(|value| value.to_str().ok())
        .map(percent_decode)
        .map(|name| clean_name(&name))
        .unwrap_or_else(|| "file".into());
    let file = StoredFile {
        id,
        conversation_id,
        name,
        content_type,
        size,
        uploader,
    };
    record(state, file).await
}

/// The declared type, lower-case without parameters, if it is on the allow-list (the same
/// rule the widget and the console check before uploading).
fn allowed_type(config: &crate::config::Config, declared: &str) -> Result<String, UploadError> {
    let content_type = files::base_type(declared).to_ascii_lowercase();
    let allowed = &config.attachments.allowed_types;
    if !files::type_allowed(allowed, &content_type) {
        return Err(UploadError::TypeNotAllowed {
            content_type,
            allowed: allowed.join(", "),
        });
    }
    Ok(content_type)
}

/// Checks the body's first bytes against its type, then streams all of it to the blob store
/// under the attachment's id. Returns the size.
async fn store_body(
    core: &crate::Core,
    id: AttachmentId,
    content_type: &str,
    body: Body,
    limit: u64,
) -> Result<u64, UploadError> {
    let mut body = body
        .into_data_stream()
        .map_err(|error| std::io::Error::other(error.to_string()));
    let head = read_head(&mut body).await?;
    check_head(content_type, &head)?;
    let whole = futures_util::stream::iter(head.chunks.into_iter().map(Ok)).chain(body);
    Ok(core.blobs.put(&id.0.to_string(), whole, limit).await?)
}

/// The first bytes of an upload, read before anything is stored.
struct Head {
    /// The chunks read so far, to store in front of the rest of the body.
    chunks: Vec<Bytes>,
    /// Their first [`HEAD_BYTES`] bytes, for the signature check.
    bytes: Vec<u8>,
}

/// Reads chunks until [`HEAD_BYTES`] bytes are in, or the body ends.
async fn read_head<S>(body: &mut S) -> Result<Head, UploadError>
where
    S: Stream<Item = std::io::Result<Bytes>> + Unpin,
{
    let mut head = Head {
        chunks: Vec::new(),
        bytes: Vec::with_capacity(HEAD_BYTES),
    };
    while head.bytes.len() < HEAD_BYTES {
        let Some(chunk) = body.next().await else {
            break;
        };
        let chunk = chunk.map_err(BlobError::Body)?;
        let wanted = HEAD_BYTES - head.bytes.len();
        head.bytes.extend(chunk.iter().take(wanted));
        head.chunks.push(chunk);
    }
    Ok(head)
}

/// Refuses an empty file, or one whose first bytes are not of its declared type.
fn check_head(content_type: &str, head: &Head) -> Result<(), UploadError> {
    if head.bytes.is_empty() {
        return Err(UploadError::Empty);
    }
    if !content_matches(content_type, &head.bytes) {
        return Err(UploadError::ContentMismatch {
            declared: content_type.to_owned(),
        });
    }
    Ok(())
}

/// A file in the blob store, to record in the database.
struct StoredFile {
    id: AttachmentId,
    conversation_id: ConversationId,
    name: String,
    content_type: String,
    size: u64,
    uploader: Uploader,
}

/// Records a file already in the blob store with a fresh access token; removes the file again
/// if the database refuses it, so no file is left that nothing names.
async fn record(core: &crate::Core, file: StoredFile) -> Result<Attachment, UploadError> {
    let access_token = random_token();
    let stored = core
        .store
        .create_attachment(NewAttachment {
            id: file.id,
            conversation_id: file.conversation_id,
            access_token: access_token.clone(),
            name: file.name.clone(),
            content_type: file.content_type.clone(),
            size: file.size,
            uploaded_by: file.uploader,
            now: core.clock.now(),
        })
        .await;
    if let Err(error) = stored {
        core.blobs.discard(&file.id.0.to_string()).await;
        return Err(error.into());
    }
    Ok(Attachment {
        id: file.id,
        name: file.name,
        content_type: file.content_type,
        size: file.size,
        url: url(file.id, &access_token),
    })
}

/// Stores a file that arrived whole (an inbound email's attachment, E3) under the same rules as
/// an upload: the allow-list, the signature check and the size limit.
pub async fn save_bytes(
    core: &crate::Core,
    conversation_id: ConversationId,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Result<Attachment, UploadError> {
    let content_type = allowed_type(&core.config, content_type)?;
    let limit = core.config.limits.max_attachment_bytes;
    if bytes.len() as u64 > limit {
        return Err(UploadError::TooLarge { limit });
    }
    if bytes.is_empty() {
        return Err(UploadError::Empty);
    }
    if !content_matches(&content_type, bytes) {
        return Err(UploadError::ContentMismatch {
            declared: content_type,
        });
    }
    let id = AttachmentId(Uuid::new_v4());
    core.blobs
        .put_bytes(&id.0.to_string(), Bytes::copy_from_slice(bytes))
        .await?;
    let file = StoredFile {
        id,
        conversation_id,
        name: clean_name(name),
        content_type,
        size: bytes.len() as u64,
        uploader: Uploader::Visitor,
    };
    record(core, file).await
}

/// Whether the first bytes fit the declared type, for formats that have a signature.
pub fn content_matches(content_type: &str, head: &[u8]) -> bool {
    match content_type {
        "image/png" => head.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => head.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/gif" => head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a"),
        "image/webp" => head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP",
        "application/pdf" => head.starts_with(b"%PDF-"),
        // Text and other allow-listed types have no signature to check.
        _ => true,
    }
}

async fn download(
    State(state): State<AppState>,
    UrlPath((id, token)): UrlPath<(String, String)>,
) -> Result<Response, HttpError> {
    let not_found = || HttpError::not_found("no such file");
    let id = Uuid::parse_str(&id)
        .map(AttachmentId)
        .map_err(|_| not_found())?;
    let record = state.store.attachment(id).await?.ok_or_else(not_found)?;
    if !crate::identity::constant_time_eq(token.as_bytes(), record.access_token.as_bytes()) {
        return Err(not_found());
    }
    let blob = state
        .blobs
        .get(&id.0.to_string())
        .await
        .map_err(|error| match error {
            BlobError::NotFound => {
                tracing::error!(attachment = %id.0, "attachment file missing");
                not_found()
            }
            error => HttpError::internal(error),
        })?;
    let inline =
        record.content_type.starts_with("image/") || record.content_type == "application/pdf";
    let disposition = format!(
        "{}; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        percent_encode(&record.name)
    );
    // Streamed from the store: a large file is never held in memory whole. A store failure
    // half-way cuts the response short, which the client sees as a failed download.
    let mut response = Response::new(Body::from_stream(blob.stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(blob.size));
    let value = |text: &str| {
        HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("application/octet-stream"))
    };
    headers.insert(header::CONTENT_TYPE, value(&record.content_type));
    headers.insert(header::CONTENT_DISPOSITION, value(&disposition));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    // Images are shown inside the widget on the host page.
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    Ok(response)
}

/// Unicode's bidirectional formatting characters (UAX #9): in a file name they only serve to
/// disguise it — `invoice\u{202e}fdp.exe` displays as "invoiceexe.pdf".
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// A file name safe to store and show: no path, no control or bidi formatting characters,
/// not too long.
pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.');
    if cleaned.is_empty() {
        return "file".into();
    }
    if cleaned.chars().count() <= MAX_NAME_CHARS {
        return cleaned.to_owned();
    }
    let extension = cleaned
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| ext.len() <= 10);
    let keep = MAX_NAME_CHARS - extension.map_or(0, |ext| ext.chars().count() + 1);
    let stem: String = cleaned.chars().take(keep).collect();
    match extension {
        Some(extension) => format!("{stem}.{extension}"),
        None => stem,
    }
}

fn percent_decode(text: &str) -> String {
    let hex = |byte: u8| (byte as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// "10 MB", "512 KB": how limits are said to people (the widget and console say them alike).
pub fn human_bytes(bytes: u64) -> String {
    files::format_size(bytes, &files::SizeUnits::ENGLISH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_for_formats_that_have_one() {
        assert!(content_matches("image/png", b"\x89PNG\r\n\x1a\n...."));
        assert!(!content_matches("image/png", b"MZ\x90\x00 an exe"));
        assert!(content_matches("application/pdf", b"%PDF-1.7"));
        assert!(!content_matches("image/jpeg", b"<svg onload=alert(1)>"));
        assert!(content_matches("text/plain", b"hello"));
    }

    #[test]
    fn file_names_lose_paths_and_control_characters_and_keep_their_extension() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\ada\\invoice.pdf"), "invoice.pdf");
        assert_eq!(clean_name("bad\u{0}name\n.png"), "badname.png");
        assert_eq!(clean_name(".."), "file");
        // Shown as "invoiceexe.pdf" if the right-to-left override stayed.
        assert_eq!(clean_name("invoice\u{202e}fdp.exe"), "invoicefdp.exe");
        assert_eq!(
            clean_name("\u{2067}a\u{2069}\u{200f}b\u{061c}\u{202a}c.png"),
            "abc.png"
        );
        assert_eq!(
            clean_name("fichier-\u{e9}t\u{e9}.pdf"),
            "fichier-\u{e9}t\u{e9}.pdf"
        );
        let long = format!("{}.jpeg", "x".repeat(300));
        let cleaned = clean_name(&long);
        assert_eq!(cleaned.chars().count(), MAX_NAME_CHARS);
        assert!(cleaned.ends_with(".jpeg"));
    }

    #[test]
    fn names_round_trip_through_percent_encoding() {
        assert_eq!(
            percent_decode(&percent_encode("Überweisung März.pdf")),
            "Überweisung März.pdf"
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(
            percent_decode("%zz%é%4"),
            "%zz%é%4",
            "malformed escapes stay as typed"
        );
        assert_eq!(human_bytes(10 * 1024 * 1024), "10 MB");
    }
}
