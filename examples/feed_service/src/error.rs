//! Errors: the JSON error every route answers with, and the service's own start-up errors.
//!
//! Every error response has the same body, `{"error": {"code": "…", "message": "…"}}`. The `code`
//! is stable (clients branch on it); the `message` is for people and may change.

use std::path::PathBuf;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error as the API reports it: an HTTP status, a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, snake_case code such as `invalid_id` or `link_exists`.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request is well-formed HTTP but its content is refused.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no API key, or one the service does not know.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: the caller is known but this resource is not theirs.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 for a user id the service has no key for.
    pub fn user_not_found(user: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "user_not_found",
            format!("no user {user:?}"),
        )
    }

    /// The error a bare status stands for, for responses made outside our handlers (the body
    /// limit, the timeout, axum's 404 and 405).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "the request body is too large"),
            StatusCode::NOT_FOUND => ("not_found", "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "this route does not take that method")
            }
            StatusCode::SERVICE_UNAVAILABLE => ("timeout", "the request took too long"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "send JSON with `Content-Type: application/json`",
            ),
            s if s.is_client_error() => ("bad_request", "the request was refused"),
            _ => ("internal", "the service failed; see its log"),
        };
        Self::new(status, code, message)
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Detail {
                code: self.code,
                message: &self.message,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<elasticfeeds::Error> for ApiError {
    /// Maps the library's errors onto statuses: validation → 400, missing → 404, conflicts → 409.
    /// Engine failures are logged in full and reported without their details.
    fn from(error: elasticfeeds::Error) -> Self {
        use elasticfeeds::Error as E;
        let (status, code) = match &error {
            E::InvalidId { .. } => (StatusCode::BAD_REQUEST, "invalid_id"),
            E::InvalidKeyword { .. } => (StatusCode::BAD_REQUEST, "invalid_keyword"),
            E::InvalidExtra { .. } => (StatusCode::BAD_REQUEST, "invalid_extra"),
            E::InvalidWeight { .. } => (StatusCode::BAD_REQUEST, "invalid_weight"),
            E::InvalidLinkClass { .. } => (StatusCode::BAD_REQUEST, "invalid_link_class"),
            E::InvalidTimestamp { .. } => (StatusCode::BAD_REQUEST, "invalid_timestamp"),
            E::InvalidSize { .. } => (StatusCode::BAD_REQUEST, "invalid_size"),
            E::InvalidQuery { .. } => (StatusCode::BAD_REQUEST, "invalid_query"),
            E::InvalidCursor { .. } => (StatusCode::BAD_REQUEST, "invalid_cursor"),
            E::LinkExists { .. } => (StatusCode::CONFLICT, "link_exists"),
            E::ActivityConflict { .. } => (StatusCode::CONFLICT, "activity_conflict"),
            E::LinkNotFound { .. } => (StatusCode::NOT_FOUND, "link_not_found"),
            E::ActivityNotFound { .. } => (StatusCode::NOT_FOUND, "activity_not_found"),
            E::ReadOnly => (StatusCode::SERVICE_UNAVAILABLE, "read_only"),
            E::StoreClosed => (StatusCode::SERVICE_UNAVAILABLE, "store_closed"),
            E::Unsupported { .. } => (StatusCode::NOT_IMPLEMENTED, "unsupported"),
            _ => {
                tracing::error!(error = %error, "library error");
                return Self::from_status(StatusCode::INTERNAL_SERVER_ERROR);
            }
        };
        Self::new(status, code, error.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        match status {
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Self::from_status(status)
            }
            // Syntax errors (400) and JSON of the wrong shape (axum says 422) are both a
            // malformed body to our clients.
            _ => Self::bad_request("malformed_body", rejection.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request("invalid_parameter", rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request("invalid_path", rejection.body_text())
    }
}

/// The service's own errors: starting up and managing users, outside any request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The keys file could not be read or written.
    #[error("keys file {path}: {source}")]
    KeysIo {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A line of the keys file is not `<sha-256 hex> <user id>`.
    #[error("keys file {path}, line {line}: {reason}")]
    KeysFormat {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },

    /// A user id that the service does not accept.
    #[error("invalid user id {value:?}: {reason}")]
    InvalidUser {
        /// The id as given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// The operating system gave no random bytes for a key.
    #[error("no randomness for a new key: {0}")]
    Random(getrandom::Error),

    /// The library failed (opening or closing the store).
    #[error(transparent)]
    Feeds(#[from] elasticfeeds::Error),

    /// The listener could not be bound or the server failed.
    #[error("server: {0}")]
    Server(#[from] std::io::Error),
}
