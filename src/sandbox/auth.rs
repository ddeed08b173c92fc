//! The token exchange (`POST /auth/token`, OAuth 2.0 password grant with
//! CXone access keys) and the bearer tokens it hands out.
//!
//! Tokens are random, live for the configured TTL, and can all be revoked
//! at once, which is how tests make a token expire in the middle of a run.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value};

use super::reply;
use super::tenant::{AccessKey, ApiClient};
use crate::wire;

/// What a valid token allows.
#[derive(Debug, Clone)]
pub(super) struct Grant {
    pub access_key_id: Arc<str>,
    pub read_only: bool,
    /// `None` for the pre-issued token, which lives until revoked.
    expires_at: Option<Instant>,
}

pub(super) struct Tokens {
    ttl: Duration,
    grants: RwLock<HashMap<String, Grant>>,
}

impl Tokens {
    pub fn new(ttl: Duration, preissued: Option<(&str, &AccessKey)>) -> Tokens {
        let mut grants = HashMap::new();
        if let Some((token, key)) = preissued {
            grants.insert(
                token.to_owned(),
                Grant {
                    access_key_id: key.id.as_str().into(),
                    read_only: key.read_only,
                    expires_at: None,
                },
            );
        }
        Tokens {
            ttl,
            grants: RwLock::new(grants),
        }
    }

    /// The grant behind an `Authorization: Bearer <token>` header, if the
    /// token is known and not expired.
    pub fn check(&self, authorization: Option<&HeaderValue>) -> Option<Grant> {
        let value = authorization?.to_str().ok()?;
        let (scheme, token) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let grants = self.grants.read().unwrap_or_else(PoisonError::into_inner);
        let grant = grants.get(token.trim())?;
        match grant.expires_at {
            Some(at) if at <= Instant::now() => None,
            _ => Some(grant.clone()),
        }
    }

    /// Revokes every token, the pre-issued one included.
    pub fn revoke_all(&self) {
        self.grants
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn issue(&self, key: &AccessKey) -> wire::TokenResponse {
        let token = format!("sbx-{}", uuid::Uuid::new_v4().simple());
        let now = Instant::now();
        let mut grants = self.grants.write().unwrap_or_else(PoisonError::into_inner);
        // Forget expired tokens here, where a write lock is held anyway, so
        // a long rehearsal does not accumulate them.
        grants.retain(|_, g| g.expires_at.is_none_or(|at| at > now));
        grants.insert(
            token.clone(),
            Grant {
                access_key_id: key.id.as_str().into(),
                read_only: key.read_only,
                expires_at: Some(now + self.ttl),
            },
        );
        wire::TokenResponse {
            access_token: token,
            token_type: "Bearer".to_owned(),
            expires_in: Some(self.ttl.as_secs_f64().ceil() as u64),
        }
    }
}

/// `POST /auth/token`: a form-encoded password grant.
pub(super) fn exchange(
    tokens: &Tokens,
    keys: &[AccessKey],
    clients: &[ApiClient],
    content_type: Option<&HeaderValue>,
    body: &[u8],
) -> Response {
    if !reply::is_media_type(content_type, "application/x-www-form-urlencoded") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Expected Content-Type application/x-www-form-urlencoded",
        );
    }
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let missing = [
        "grant_type",
        "username",
        "password",
        "client_id",
        "client_secret",
    ]
    .into_iter()
    .find(|name| field(name).is_none());
    if let Some(name) = missing {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("Missing form field '{name}'"),
        );
    }
    if field("grant_type") != Some("password") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only grant_type=password is supported",
        );
    }
    let key = keys.iter().find(|k| {
        Some(k.id.as_str()) == field("username") && Some(k.secret.expose()) == field("password")
    });
    let client_ok = clients.iter().any(|c| {
        Some(c.id.as_str()) == field("client_id")
            && Some(c.secret.expose()) == field("client_secret")
    });
    match key {
        Some(key) if client_ok => {
            let mut response = reply::json(StatusCode::OK, &tokens.issue(key));
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        _ => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown access key or client, or wrong secret",
        ),
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    reply::error(status, error, Some(description.to_owned()))
}

/// The token request as the request log keeps it: the form fields, with
/// the two secrets replaced, so the log can be shared.
pub(super) fn redacted_form(body: &[u8]) -> Value {
    let fields: Map<String, Value> = form_urlencoded::parse(body)
        .map(|(name, value)| {
            let value = match name.as_ref() {
                "password" | "client_secret" => "(redacted)".to_owned(),
                _ => value.into_owned(),
            };
            (name.into_owned(), Value::String(value))
        })
        .collect();
    Value::Object(fields)
}
