//! [`StoreError`]: what any storage backend can report, free of the backend's own types, so
//! callers (the domain, the HTTP layer) never match on a database driver's errors.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique rule was broken (an email or name already in use). The text names the rule.
    #[error("already exists: {0}")]
    Duplicate(String),
    /// The database could not take the write now (disk full, locked, I/O error, connection
    /// lost). Nothing was stored; the same request may succeed later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("attachment {0} is not in this conversation or was already sent")]
    AttachmentUnavailable(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("unsupported database URL {0:?}: use sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    /// Anything else the backend reported (a bug, not a condition to retry).
    #[error("database error: {0}")]
    Backend(String),
}
