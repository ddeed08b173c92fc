//! The answers the sandbox gives, in one place, so every whole-request
//! error has the contract's shape (`{"error", "error_description"}`).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::shapes::ApiError;

/// Most rows (or agentIds × skillIds pairs, for the upsert) one write
/// request may carry: the contract's assumed limit, 413 beyond.
pub(super) const MAX_ROWS: usize = 1000;

pub(super) fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    json_sized(status, body, 256)
}

/// A JSON answer serialised into a buffer of about `capacity` bytes, so
/// a listing is written without growing its buffer step by step: the
/// one-agent read is the sandbox's hottest path.
pub(super) fn json_sized<T: Serialize>(status: StatusCode, body: &T, capacity: usize) -> Response {
    let mut bytes = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        // The shapes are plain structs of strings, numbers and booleans;
        // serialising them cannot fail, but a bug must not panic a task.
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot serialise the answer: {error}"),
        )
            .into_response(),
    }
}

pub(super) fn error(status: StatusCode, error: &str, description: Option<String>) -> Response {
    json(
        status,
        &ApiError {
            error,
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

/// An injected 503 (fault rate, `--fail-agent`): nothing was changed.
/// With `retry_after` it carries `Retry-After`, as CXone's 503s may.
pub(super) fn unavailable(description: String, retry_after: Option<u64>) -> Response {
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        Some(description),
    );
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// A per-row answer: 200 when no row failed, `partial` with the same body
/// when any did. Marked as committed for `drop_rate`.
pub(super) fn rows<T: Serialize>(failed: u64, partial: StatusCode, body: &T) -> Response {
    let status = if failed == 0 { StatusCode::OK } else { partial };
    committed(json(status, body))
}

/// Marks an answer whose changes were applied to the tenant, so the
/// server knows the write was committed and may lose the answer
/// (`drop_rate`).
pub(super) fn committed(mut response: Response) -> Response {
    response.extensions_mut().insert(RowsApplied);
    response
}

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
    /// 405: an endpoint this tenant does not offer (`--no-bulk-endpoints`),
    /// with the methods the path still takes.
    MethodNotAllowed {
        allow: &'static str,
        description: String,
    },
    /// 409: the tenant refuses a write that has no rows to fail
    /// (`--refuse-skill` on `DELETE /skills/{id}/agents/{agentId}`).
    Conflict(String),
    /// 413: more rows than one request may carry.
    TooLarge(String),
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
            Rejection::MethodNotAllowed { allow, description } => {
                let mut response = error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    Some(description),
                );
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                response
            }
            Rejection::Conflict(description) => {
                error(StatusCode::CONFLICT, "Conflict", Some(description))
            }
            Rejection::TooLarge(description) => error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLarge",
                Some(description),
            ),
        }
    }
}
