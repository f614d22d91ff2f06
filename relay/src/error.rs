//! Errors by layer: [`StoreError`] from storage (defined in `store`), [`HttpError`] at the
//! HTTP boundary.
//!
//! `HttpError` logs the details it is given and answers with a generic, safe `ApiError` body,
//! so internals (SQL, paths) never reach a browser.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use natter_protocol::{ApiError, ErrorCode};

pub use crate::store::StoreError;

/// An HTTP error: a status, a protocol error code and a message safe to show.
#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

impl HttpError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidInput,
            message,
        )
    }

    /// An internal failure: the details go to the log, the client gets a generic sentence.
    pub fn internal(details: impl std::fmt::Display) -> Self {
        tracing::error!(%details, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "something went wrong on our side; please try again",
        )
    }
}

impl From<StoreError> for HttpError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::not_found("not found"),
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        crate::metrics::http_error(self.code);
        let body = ApiError {
            code: self.code,
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}
