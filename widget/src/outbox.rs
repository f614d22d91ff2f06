//! The persistent outbox (W4): visitor messages not yet acknowledged by the relay, kept in
//! `localStorage` so that a reload, a crash or a closed tab loses nothing typed.
//!
//! One key per site (`natter_outbox:<site>`) holds a small versioned JSON document with every
//! pending message: its `client_id` (the relay's idempotency key, so a resend after a reload
//! never stores a message twice), its text, its already-uploaded attachments, and whether the
//! relay refused it (kept so the visitor can retry). The chat writes only what changed, as a
//! read-modify-write of the stored list, because other tabs of the same site share the key and
//! each tab knows only its own messages. An ack (or the same message arriving live from another
//! tab) removes the entry.
//!
//! Storage is a convenience, never a dependency: disabled storage, a full quota or a document
//! that does not parse is logged once as a warning and the chat goes on in memory (a document
//! that does not parse is replaced at the next write). In consent
//! mode (W14) the chat does not call [`Outbox::write`] until consent allows storing.

use std::cell::Cell;

use natter_protocol::ClientMessageId;
use serde::{Deserialize, Serialize};

use crate::{log, thread::Pending};

/// The storage key prefix; the site key follows.
const KEY_PREFIX: &str = "natter_outbox:";

/// The document format. A document with another version is not read (nor rewritten until
/// this tab has something to store).
const FORMAT_VERSION: u32 = 1;

/// The stored document as read. Entries are parsed strictly (only this code writes them, and
/// fields added later are `#[serde(default)]`); a document that does not parse is dropped
/// whole. Parsing entry by entry would need `serde_json::Value`, which would cost every
/// download more than it could save.
#[derive(Debug, Deserialize)]
struct Document {
    v: u32,
    messages: Vec<Pending>,
}

/// The stored document as written (entries typed, in field order).
#[derive(Serialize)]
struct StoredDocument<'a> {
    v: u32,
    messages: &'a [Pending],
}

/// What changed in the pending list, to apply to the stored one.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// New entries, or entries whose state changed (refused, retried).
    pub upsert: Vec<Pending>,
    /// Entries acknowledged (or seen stored) since.
    pub remove: Vec<ClientMessageId>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.upsert.is_empty() && self.remove.is_empty()
    }
}

/// The changes that turn the pending list `before` into `after`.
pub fn diff(before: &[Pending], after: &[Pending]) -> Changes {
    let upsert = after
        .iter()
        .filter(|pending| !before.contains(pending))
        .cloned()
        .collect();
    let remove = before
        .iter()
        .filter(|old| !after.iter().any(|new| new.client_id == old.client_id))
        .map(|old| old.client_id)
        .collect();
    Changes { upsert, remove }
}

/// `stored` with `changes` applied: removed entries dropped, upserted ones replaced in place
/// or appended, so the order typed is kept.
pub fn apply(mut stored: Vec<Pending>, changes: &Changes) -> Vec<Pending> {
    stored.retain(|pending| !changes.remove.contains(&pending.client_id));
    for new in &changes.upsert {
        match stored.iter_mut().find(|old| old.client_id == new.client_id) {
            Some(old) => *old = new.clone(),
            None => stored.push(new.clone()),
        }
    }
    stored
}

/// The JSON stored for `pending`.
pub fn encode(pending: &[Pending]) -> Result<String, String> {
    serde_json::to_string(&StoredDocument {
        v: FORMAT_VERSION,
        messages: pending,
    })
    .map_err(|error| error.to_string())
}

/// The pending messages in a stored document, each `client_id` once. A document that does not
/// parse, or has another version, is an error.
pub fn decode(json: &str) -> Result<Vec<Pending>, String> {
    let document: Document = serde_json::from_str(json).map_err(|error| error.to_string())?;
    if document.v != FORMAT_VERSION {
        return Err(format!("unknown outbox version {}", document.v));
    }
    let mut pending: Vec<Pending> = Vec::with_capacity(document.messages.len());
    for entry in document.messages {
        if !pending.iter().any(|p| p.client_id == entry.client_id) {
            pending.push(entry);
        }
    }
    Ok(pending)
}

/// The outbox of one site in this browser.
pub struct Outbox {
    key: String,
    /// A storage problem was logged: say it once per page, not on every message.
    warned: Cell<bool>,
}

impl Outbox {
    pub fn new(site: &str) -> Self {
        Self {
            key: format!("{KEY_PREFIX}{site}"),
            warned: Cell::new(false),
        }
    }

    /// The stored pending messages, in the order typed; empty when there are none or the
    /// storage cannot be read.
    pub fn load(&self) -> Vec<Pending> {
        let Some(storage) = self.storage() else {
            return Vec::new();
        };
        let json = match storage.get_item(&self.key) {
            Ok(Some(json)) => json,
            Ok(None) => return Vec::new(),
            Err(_) => {
                self.warn("cannot read the stored outbox");
                return Vec::new();
            }
        };
        match decode(&json) {
            Ok(pending) => pending,
            Err(error) => {
                self.warn(&format!(
                    "ignoring a stored outbox that does not parse: {error}"
                ));
                Vec::new()
            }
        }
    }

    /// Applies `changes` to what is stored now (other tabs may have written meanwhile).
    pub fn write(&self, changes: &Changes) {
        if changes.is_empty() {
            return;
        }
        let Some(storage) = self.storage() else {
            return;
        };
        let stored = self.load();
        let pending = apply(stored, changes);
        if pending.is_empty() {
            if storage.remove_item(&self.key).is_err() {
                self.warn("cannot update the stored outbox");
            }
            return;
        }
        match encode(&pending) {
            Ok(json) => {
                if storage.set_item(&self.key, &json).is_err() {
                    // Usually the quota: the messages stay pending in memory and are still sent.
                    self.warn("cannot store the outbox (storage full or disabled)");
                }
            }
            Err(error) => self.warn(&format!("cannot encode the outbox: {error}")),
        }
    }

    /// Removes the stored outbox (the visitor was forgotten, or consent was withdrawn).
    pub fn clear(&self) {
        if let Some(storage) = self.storage() {
            if storage.remove_item(&self.key).is_err() {
                self.warn("cannot remove the stored outbox");
            }
        }
    }

    /// `localStorage`, unless the browser disables it (it throws then, e.g. in some private
    /// modes or sandboxed frames).
    fn storage(&self) -> Option<web_sys::Storage> {
        match web_sys::window().map(|window| window.local_storage()) {
            Some(Ok(Some(storage))) => Some(storage),
            _ => {
                self.warn("localStorage is not available; unsent messages are kept in memory");
                None
            }
        }
    }

    fn warn(&self, message: &str) {
        if !self.warned.replace(true) {
            log::warn(message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::{Attachment, AttachmentId};
    use uuid::Uuid;

    fn pending(n: u128, text: &str) -> Pending {
        Pending {
            client_id: ClientMessageId(Uuid::from_u128(n)),
            text: text.into(),
            attachments: Vec::new(),
            failed: false,
        }
    }

    #[test]
    fn a_round_trip_keeps_everything_in_order() {
        let mut with_file = pending(2, "");
        with_file.attachments.push(Attachment {
            id: AttachmentId(Uuid::from_u128(9)),
            name: "plan.pdf".into(),
            content_type: "application/pdf".into(),
            size: 1234,
            url: "/v1/attachments/9/token".into(),
        });
        let mut refused = pending(3, "too long");
        refused.failed = true;
        let list = vec![pending(1, "Hallo, ça va? 👋"), with_file, refused];
        let json = encode(&list).expect("encodes");
        assert_eq!(decode(&json), Ok(list));
    }

    #[test]
    fn the_stored_format_is_stable() {
        let json = encode(&[pending(1, "hi")]).expect("encodes");
        assert_eq!(
            json,
            r#"{"v":1,"messages":[{"client_id":"00000000-0000-0000-0000-000000000001","text":"hi","attachments":[],"failed":false}]}"#
        );
        // Older or hand-trimmed entries without the optional fields still load.
        let minimal = r#"{"v":1,"messages":[{"client_id":"00000000-0000-0000-0000-000000000001","text":"hi"}]}"#;
        assert_eq!(decode(minimal), Ok(vec![pending(1, "hi")]));
    }

    #[test]
    fn corrupt_documents_are_errors_and_duplicates_are_dropped() {
        assert!(decode("not json").is_err());
        assert!(decode(r#"{"v":2,"messages":[]}"#).is_err());
        assert!(decode(r#"[1,2]"#).is_err());
        assert!(decode(r#"{"v":1,"messages":[{"text":"no id"}]}"#).is_err());
        let twice = r#"{"v":1,"messages":[{"client_id":"00000000-0000-0000-0000-000000000001","text":"ok"},{"client_id":"00000000-0000-0000-0000-000000000001","text":"again"}]}"#;
        assert_eq!(decode(twice), Ok(vec![pending(1, "ok")]));
    }

    #[test]
    fn diff_and_apply_touch_only_this_tabs_changes() {
        let (a, b, c) = (pending(1, "a"), pending(2, "b"), pending(3, "c"));
        let mut b_failed = b.clone();
        b_failed.failed = true;
        let changes = diff(&[a.clone(), b.clone()], &[b_failed.clone(), c.clone()]);
        assert_eq!(
            changes,
            Changes {
                upsert: vec![b_failed.clone(), c.clone()],
                remove: vec![a.client_id],
            }
        );
        // Another tab's entry (d) in the stored list survives.
        let d = pending(4, "d");
        let stored = vec![a, d.clone(), b];
        assert_eq!(apply(stored, &changes), vec![d, b_failed, c]);
        assert!(diff(&[pending(1, "a")], &[pending(1, "a")]).is_empty());
    }
}
