//! The answers the sandbox gives, in one place, so every whole-request
//! error has the contract's shape (`{"error", "error_description"}`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::wire;

pub(super) fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (status, Json(body)).into_response()
}

pub(super) fn error(status: StatusCode, error: &str, description: Option<String>) -> Response {
    json(
        status,
        &wire::ApiError {
            error: error.to_owned(),
            error_description: description,
        },
    )
}

/// 401 exactly as the contract shows it, plus the RFC 6750 header.
pub(super) fn invalid_token() -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, "invalid_token", None);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

/// 429 with `Retry-After` in whole seconds, at least 1.
pub(super) fn too_many_requests(retry_after_secs: u64) -> Response {
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        Some("Rate limit exceeded; retry after the Retry-After delay".into()),
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after_secs.max(1)),
    );
    response
}

/// The per-row answer: 200 when no row failed, 400 with the same body when
/// any did (the contract's assumed reading).
pub(super) fn result_set(result_set: wire::ResultSet) -> Response {
    let status = if result_set.error_count == 0 {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut response = json(status, &wire::ResultSetResponse { result_set });
    response.extensions_mut().insert(RowsApplied);
    response
}

/// Marks an answer whose rows were applied to the tenant, so the server
/// knows the write was committed and may lose the answer (`drop_rate`).
#[derive(Debug, Clone, Copy)]
pub(super) struct RowsApplied;

/// True when the `Content-Type` names `expected` (any case, parameters
/// such as `charset` allowed).
pub(super) fn is_media_type(content_type: Option<&HeaderValue>, expected: &str) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(expected))
}

/// Why a handler refuses a request before touching the tenant. Handlers
/// return `Result<Response, Rejection>` and use `?`; the answer is built
/// once, here.
#[derive(Debug)]
pub(super) enum Rejection {
    /// 415.
    UnsupportedMediaType,
    /// 400 `InvalidRequestBody`.
    InvalidBody(String),
    /// 400 `InvalidParameter`: query or path segment.
    InvalidParameter(String),
    /// 404 `NotFound`.
    NotFound(String),
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            // Text, as the contract allows for 415 ("empty or text").
            Rejection::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json",
            )
                .into_response(),
            Rejection::InvalidBody(description) => error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestBody",
                Some(description),
            ),
            Rejection::InvalidParameter(description) => error(
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
                Some(description),
            ),
            Rejection::NotFound(description) => {
                error(StatusCode::NOT_FOUND, "NotFound", Some(description))
            }
        }
    }
}
