//! How PostgreSQL's errors become [`StoreError`]s, private to this backend.
//!
//! `StoreError` already converts from `sqlx::Error` the SQLite way (SQLite's numeric result
//! codes), and a type can have only one such conversion. So this backend's queries return
//! [`Failure`], which keeps the driver's error until [`run`] classifies it by PostgreSQL's
//! SQLSTATE at the trait boundary; a `?` on a driver error inside `run` can therefore never
//! take the SQLite path.

use std::future::Future;

use crate::store::StoreError;

/// A failure inside the backend: a driver error not classified yet, or a decided outcome.
#[derive(Debug)]
pub(super) enum Failure {
    Driver(sqlx::Error),
    Store(StoreError),
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        Self::Driver(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<Failure> for StoreError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Driver(error) => classify(error),
            Failure::Store(error) => error,
        }
    }
}

/// What the backend's functions return.
pub(super) type Outcome<T> = Result<T, Failure>;

/// Runs a trait method's body and classifies what it failed with.
pub(super) async fn run<T>(work: impl Future<Output = Outcome<T>>) -> Result<T, StoreError> {
    work.await.map_err(StoreError::from)
}

/// The SQLSTATEs that mean "not now" rather than "never": the same request may succeed once
/// the condition clears (<https://www.postgresql.org/docs/current/errcodes-appendix.html>).
fn is_transient(code: &str) -> bool {
    // 08 connection exception, 53 insufficient resources (disk full, out of memory, too many
    // connections), 57 operator intervention (shutdown, statement timeout), 58 system error
    // (I/O).
    let class = code.get(..2).unwrap_or_default();
    matches!(class, "08" | "53" | "57" | "58")
        // Serialization failure, deadlock, lock not available, read-only (a standby).
        || matches!(code, "40001" | "40P01" | "55P03" | "25006")
}

fn classify(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Duplicate(db.message().to_owned())
        }
        sqlx::Error::Database(db) => match db.code() {
            Some(code) if is_transient(&code) => StoreError::Unavailable(db.message().to_owned()),
            _ => StoreError::Backend(db.message().to_owned()),
        },
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            StoreError::Corrupt(error.to_string())
        }
        other => StoreError::Backend(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_that_clear_by_themselves_are_transient() {
        for code in [
            "08006", "53100", "53300", "57P01", "57014", "58030", "40001", "40P01",
        ] {
            assert!(is_transient(code), "{code}");
        }
        for code in ["23505", "23503", "42P01", "22001", ""] {
            assert!(!is_transient(code), "{code}");
        }
    }

    #[test]
    fn driver_errors_keep_their_meaning() {
        assert!(matches!(
            StoreError::from(Failure::from(sqlx::Error::RowNotFound)),
            StoreError::NotFound
        ));
        assert!(matches!(
            StoreError::from(Failure::from(sqlx::Error::PoolTimedOut)),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            StoreError::from(Failure::from(StoreError::AttachmentUnavailable("a".into()))),
            StoreError::AttachmentUnavailable(_)
        ));
    }
}
