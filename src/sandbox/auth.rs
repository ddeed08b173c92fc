//! The token exchange (`POST /auth/token`, OAuth 2.0 password grant with
//! CXone access keys) and the bearer tokens it hands out.
//!
//! Issued tokens are JWTs, as CXone's are: `base64url(header)`,
//! `base64url(payload)` and a fake signature, the payload carrying the
//! `tenantId` claim that endpoint discovery starts from. Nothing verifies
//! the signature; the sandbox recognises its tokens by looking them up.
//! Every issued value contains `sbx-` (the signature part is
//! `sbx-<random hex>`, valid base64url), so tests can search any output
//! for a leaked token.
//!
//! Tokens live for the configured TTL and can all be revoked at once,
//! which is how tests make a token expire in the middle of a run.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::reply;
use super::shapes::TokenAnswer;
use super::tenant::{AccessKey, ApiClient};

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
    tenant_id: Uuid,
    grants: RwLock<HashMap<String, Grant>>,
}

impl Tokens {
    pub fn new(ttl: Duration, tenant_id: Uuid, preissued: Option<(&str, &AccessKey)>) -> Tokens {
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
            tenant_id,
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

    /// Issues a token set for `key`, through `client_id` (the `aud` of
    /// the id_token), by the issuer at `issuer` (`http://host:port`).
    pub fn issue(&self, key: &AccessKey, client_id: &str, issuer: &str) -> TokenAnswer {
        let issued_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let expires_in = self.ttl.as_secs_f64().ceil() as u64;
        let tenant_id = self.tenant_id.hyphenated().to_string();
        let access_token = jwt(&json!({
            "iss": issuer,
            "sub": format!("user:{}", key.id),
            "aud": "CXone",
            "tenantId": tenant_id,
            "jti": format!("sbx-{}", Uuid::new_v4().simple()),
            "iat": issued_at,
            "exp": issued_at.saturating_add(expires_in),
        }));
        let id_token = jwt(&json!({
            "iss": issuer,
            "sub": format!("user:{}", key.id),
            "aud": client_id,
            "tenantId": tenant_id,
            "iat": issued_at,
            "exp": issued_at.saturating_add(expires_in),
        }));
        let now = Instant::now();
        let mut grants = self.grants.write().unwrap_or_else(PoisonError::into_inner);
        // Forget expired tokens here, where a write lock is held anyway, so
        // a long rehearsal does not accumulate them.
        grants.retain(|_, g| g.expires_at.is_none_or(|at| at > now));
        grants.insert(
            access_token.clone(),
            Grant {
                access_key_id: key.id.as_str().into(),
                read_only: key.read_only,
                // `SandboxOptions` bounds the TTL; one past what an
                // `Instant` can hold would never expire anyway.
                expires_at: now.checked_add(self.ttl),
            },
        );
        TokenAnswer {
            access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token: format!("sbx-refresh-{}", Uuid::new_v4().simple()),
            id_token,
        }
    }
}

/// A JWT with the given payload and a fake signature that marks it as the
/// sandbox's (`sbx-` followed by 32 hex digits: 36 base64url characters).
fn jwt(payload: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "cxskill-sandbox"});
    format!(
        "{}.{}.sbx-{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        Uuid::new_v4().simple()
    )
}

/// Who may get a token, and from whom.
pub(super) struct Issuer<'a> {
    pub tokens: &'a Tokens,
    pub keys: &'a [AccessKey],
    pub clients: &'a [ApiClient],
    /// `http://host:port` of the sandbox as the client addressed it.
    pub base: &'a str,
}

/// `POST /auth/token`: a form-encoded password grant. The client
/// credentials are optional, in the form or as HTTP Basic (not both);
/// when given they must be a tenant client's, and the client must be
/// allowed the password grant. Every refusal is 400 with the OAuth error
/// code, checked in the order a real issuer does: the request's shape,
/// the client, the grant type, the user's credentials.
pub(super) fn exchange(issuer: &Issuer<'_>, headers: &HeaderMap, body: &[u8]) -> Response {
    match grant(issuer, headers, body) {
        Ok(answer) => no_store(reply::json(StatusCode::OK, &answer)),
        Err((error, description)) => no_store(reply::error(
            StatusCode::BAD_REQUEST,
            error,
            Some(description),
        )),
    }
}

type Refusal = (&'static str, String);

fn grant(issuer: &Issuer<'_>, headers: &HeaderMap, body: &[u8]) -> Result<TokenAnswer, Refusal> {
    let invalid_request = |text: &str| ("invalid_request", text.to_owned());
    if !reply::is_media_type(
        headers.get(header::CONTENT_TYPE),
        "application/x-www-form-urlencoded",
    ) {
        return Err(invalid_request(
            "Expected Content-Type application/x-www-form-urlencoded",
        ));
    }
    let mut form: HashMap<String, String> = HashMap::new();
    for (name, value) in form_urlencoded::parse(body) {
        if form.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(invalid_request(&format!(
                "Form field '{name}' is given more than once"
            )));
        }
    }
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());

    let client = client_credentials(headers, field("client_id"), field("client_secret"))?;
    let client_id = match client {
        None => "CXone",
        Some((id, secret)) => {
            let Some(registered) = issuer
                .clients
                .iter()
                .find(|c| c.id == id && c.secret.expose() == secret)
            else {
                return Err((
                    "invalid_client",
                    "Client authentication failed: unknown client_id or wrong client_secret"
                        .to_owned(),
                ));
            };
            if !registered.password_grant {
                return Err((
                    "unauthorized_client",
                    format!(
                        "Client '{}' is not allowed the password grant",
                        registered.id
                    ),
                ));
            }
            registered.id.as_str()
        }
    };

    match field("grant_type") {
        None => return Err(invalid_request("Missing form field 'grant_type'")),
        Some("password") => {}
        Some(other) => {
            return Err((
                "unsupported_grant_type",
                format!("grant_type '{other}' is not supported; use grant_type=password"),
            ));
        }
    }
    let (Some(username), Some(password)) = (field("username"), field("password")) else {
        let name = if field("username").is_none() {
            "username"
        } else {
            "password"
        };
        return Err(invalid_request(&format!(
            "Missing form field '{name}' (the access key id is the username, its secret the password)"
        )));
    };
    let key = issuer
        .keys
        .iter()
        .find(|k| k.id == username && k.secret.expose() == password)
        .ok_or_else(|| {
            (
                "invalid_grant",
                "Unknown access key id or wrong access key secret".to_owned(),
            )
        })?;
    Ok(issuer.tokens.issue(key, client_id, issuer.base))
}

/// The client's id and secret from the form or from HTTP Basic, or `None`
/// when the request names no client.
fn client_credentials(
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Option<(String, String)>, Refusal> {
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(basic_credentials(value).ok_or_else(|| {
            (
                "invalid_client",
                "Authorization header is not 'Basic base64(client_id:client_secret)'".to_owned(),
            )
        })?),
    };
    match (basic, form_id, form_secret) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err((
            "invalid_request",
            "Client credentials given both as HTTP Basic and in the form; use one".to_owned(),
        )),
        (Some(pair), None, None) => Ok(Some(pair)),
        (None, Some(id), Some(secret)) => Ok(Some((id.to_owned(), secret.to_owned()))),
        (None, Some(_), None) => Err((
            "invalid_request",
            "Form field 'client_id' given without 'client_secret'".to_owned(),
        )),
        (None, None, Some(_)) => Err((
            "invalid_request",
            "Form field 'client_secret' given without 'client_id'".to_owned(),
        )),
        (None, None, None) => Ok(None),
    }
}

/// `Basic base64(id:secret)`. RFC 6749 has the id and secret
/// form-encoded before base64; many clients skip that, and the sandbox's
/// ids and secrets read the same either way, so both are decoded here.
fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    let (scheme, encoded) = value.to_str().ok()?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |text: &str| -> String {
        form_urlencoded::parse(format!("x={text}").as_bytes())
            .next()
            .map_or_else(|| text.to_owned(), |(_, v)| v.into_owned())
    };
    let (id, secret) = if id.contains('%') || secret.contains('%') {
        (unescape(id), unescape(secret))
    } else {
        (id.to_owned(), secret.to_owned())
    };
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// The headers the published token answers carry, success or refusal.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The token request as the request log keeps it: the form fields, with
/// the two secrets replaced, so the log can be shared.
pub(super) fn redacted_form(body: &[u8]) -> Value {
    let fields: Map<String, Value> = form_urlencoded::parse(body)
        .map(|(name, value)| {
            let value = match name.as_ref() {
                "password" | "client_secret" | "refresh_token" => "(redacted)".to_owned(),
                _ => value.into_owned(),
            };
            (name.into_owned(), Value::String(value))
        })
        .collect();
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_are_jwts_with_the_tenant_and_the_sbx_marker() {
        let tenant = Uuid::new_v4();
        let tokens = Tokens::new(Duration::from_secs(60), tenant, None);
        let key = AccessKey {
            id: "k".into(),
            secret: "s".into(),
            read_only: false,
        };
        let answer = tokens.issue(&key, "c", "http://127.0.0.1:1");
        for token in [&answer.access_token, &answer.id_token] {
            let parts: Vec<&str> = token.split('.').collect();
            assert_eq!(parts.len(), 3, "{token}");
            assert!(parts[2].starts_with("sbx-"));
            assert!(URL_SAFE_NO_PAD.decode(parts[2]).is_ok(), "valid base64url");
            let payload: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
            assert_eq!(payload["tenantId"], tenant.hyphenated().to_string());
        }
        assert!(answer.refresh_token.contains("sbx-"));
        let header = HeaderValue::from_str(&format!("Bearer {}", answer.access_token)).unwrap();
        assert!(tokens.check(Some(&header)).is_some());
    }

    #[test]
    fn a_ttl_past_what_the_clocks_hold_issues_a_token_that_works() {
        let tokens = Tokens::new(Duration::from_secs(u64::MAX), Uuid::new_v4(), None);
        let key = AccessKey {
            id: "k".into(),
            secret: "s".into(),
            read_only: false,
        };
        let answer = tokens.issue(&key, "c", "http://127.0.0.1:1");
        assert_eq!(answer.expires_in, u64::MAX);
        let header = HeaderValue::from_str(&format!("Bearer {}", answer.access_token)).unwrap();
        assert!(tokens.check(Some(&header)).is_some());
    }

    #[test]
    fn basic_credentials_take_plain_and_form_encoded_pairs() {
        let header = |text: &str| {
            HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(text))).unwrap()
        };
        assert_eq!(
            basic_credentials(&header("id:se:cret")),
            Some(("id".into(), "se:cret".into()))
        );
        assert_eq!(
            basic_credentials(&header("my%20id:a%2Bb")),
            Some(("my id".into(), "a+b".into()))
        );
        assert_eq!(basic_credentials(&header("no-colon")), None);
        assert_eq!(
            basic_credentials(&HeaderValue::from_static("Basic !!!")),
            None
        );
        assert_eq!(
            basic_credentials(&HeaderValue::from_static("Bearer x")),
            None
        );
    }
}
