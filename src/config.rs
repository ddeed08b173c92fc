//! Connection settings: where the tenant is, how to authenticate, and how
//! hard to push it. The binary fills this from flags, the environment and
//! the config file (see `settings`); the library only checks it.
//!
//! The API host is normally **discovered** from the token (see `client`):
//! an access key and its secret are enough. `api_base` only overrides
//! discovery.

use std::net::IpAddr;
use std::time::Duration;

use crate::secret::Secret;

/// The default token endpoint of CXone.
pub const DEFAULT_TOKEN_URL: &str = "https://cxone.niceincontact.com/auth/token";
/// The Admin API version the contract is written against.
pub const DEFAULT_API_VERSION: &str = "v34.0";

/// How cxskill proves who it is.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A pre-issued bearer token (`CXSKILL_TOKEN`); it cannot be renewed,
    /// so an expired one ends the run.
    Token(Secret),
    /// A CXone access key, exchanged for a token at the token URL (OAuth
    /// 2.0 password grant) and renewed when it expires; with the API
    /// client's id and secret when one was issued.
    AccessKey {
        access_key_id: String,
        access_key_secret: Secret,
        client: Option<ApiClient>,
    },
}

/// An OAuth client registration, and how to present it to the token
/// endpoint.
#[derive(Debug, Clone)]
pub struct ApiClient {
    pub id: String,
    pub secret: Secret,
    pub auth: TokenAuth,
}

/// Where the client id and secret go in the token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenAuth {
    /// `client_id` and `client_secret` in the form body.
    #[default]
    Body,
    /// HTTP Basic (`client_secret_basic`).
    Basic,
}

impl TokenAuth {
    /// As a config file or `config show` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenAuth::Body => "body",
            TokenAuth::Basic => "basic",
        }
    }
}

impl std::str::FromStr for TokenAuth {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "body" | "client_secret_post" => Ok(TokenAuth::Body),
            "basic" | "client_secret_basic" => Ok(TokenAuth::Basic),
            other => Err(format!("expected `body` or `basic`, got `{other}`")),
        }
    }
}

/// Retries for throttling (429), transient server errors (500, 502, 503,
/// 504, 509, 529), timeouts and dropped connections: exponential backoff
/// with full jitter, bounded in attempts and in total time. A 429 does not
/// use up an attempt: throttling is waited out (`Retry-After`, at most
/// [`RetryPolicy::max_retry_after`] at a time) within the time budget.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per request, the first one included (429s not counted).
    pub max_attempts: u32,
    /// The first backoff ceiling; doubles per attempt.
    pub base_delay: Duration,
    /// The largest backoff ceiling.
    pub max_delay: Duration,
    /// No new attempt starts later than this after the first.
    pub budget: Duration,
    /// The longest single wait a `Retry-After` may ask for.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            budget: Duration::from_secs(120),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// The default cap on one answer's size.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Everything the client needs to talk to one tenant.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Scheme and host, e.g. `https://api-na1.niceincontact.com`; `None`
    /// to discover it from the token.
    pub api_base: Option<String>,
    pub api_version: String,
    pub token_url: String,
    pub credentials: Credentials,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Requests per second (a token bucket with a small burst).
    pub rate: f64,
    /// Requests in flight at once.
    pub concurrency: usize,
    pub retry: RetryPolicy,
    /// The largest answer read; a larger (or endless) one is an error.
    pub max_answer_bytes: usize,
}

/// `{api_base}/inContactAPI/services/{version}`.
pub fn api_root(api_base: &str, api_version: &str) -> String {
    format!(
        "{}/inContactAPI/services/{api_version}",
        api_base.trim_end_matches('/')
    )
}

impl Connection {
    /// The API root when `api_base` is configured; `None` when it is
    /// discovered at run time.
    pub fn api_root(&self) -> Option<String> {
        self.api_base
            .as_deref()
            .map(|base| api_root(base, &self.api_version))
    }

    /// Refuses settings that cannot work or are unsafe: plain `http://` to
    /// anything but loopback (a bearer token would cross the network in
    /// clear), a missing scheme, a zero rate or concurrency.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Some(api_base) = &self.api_base {
            check_url("API base", api_base)?;
        }
        check_url("token URL", &self.token_url)?;
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(ConfigError::Invalid(format!(
                "--rate must be a positive number of requests per second, got {}",
                self.rate
            )));
        }
        if self.concurrency == 0 {
            return Err(ConfigError::Invalid(
                "--concurrency must be at least 1".to_owned(),
            ));
        }
        if self.max_answer_bytes < 1024 {
            return Err(ConfigError::Invalid(format!(
                "the answer-size cap must be at least 1 KiB, got {} bytes",
                self.max_answer_bytes
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
    #[error(
        "{what} `{url}` uses plain http:// to a host that is not loopback; use https:// (only 127.0.0.1, ::1 and localhost may use http://)"
    )]
    PlainHttp { what: &'static str, url: String },
    #[error("{what} `{url}` is not an http:// or https:// URL")]
    BadUrl { what: &'static str, url: String },
}

/// Refuses plain `http://` to anything but loopback, and anything that is
/// not an http(s) URL; `what` names the setting in the message.
pub fn check_url(what: &'static str, url: &str) -> Result<(), ConfigError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| ConfigError::BadUrl {
        what,
        url: url.to_owned(),
    })?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        "http" => Err(ConfigError::PlainHttp {
            what,
            url: url.to_owned(),
        }),
        _ => Err(ConfigError::BadUrl {
            what,
            url: url.to_owned(),
        }),
    }
}

pub fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(api_base: &str, token_url: &str) -> Connection {
        Connection {
            api_base: Some(api_base.to_owned()),
            api_version: DEFAULT_API_VERSION.to_owned(),
            token_url: token_url.to_owned(),
            credentials: Credentials::Token(Secret::new("t")),
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            rate: 10.0,
            concurrency: 5,
            retry: RetryPolicy::default(),
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "https://api-na1.niceincontact.com",
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://localhost:9",
            "http://[::1]:80",
        ] {
            assert_eq!(connection(ok, DEFAULT_TOKEN_URL).check(), Ok(()), "{ok}");
        }
        for bad in ["http://10.0.0.1", "http://api-na1.niceincontact.com"] {
            assert!(matches!(
                connection(bad, DEFAULT_TOKEN_URL).check(),
                Err(ConfigError::PlainHttp { .. })
            ));
        }
        assert!(matches!(
            connection("https://x", "http://evil.example/auth/token").check(),
            Err(ConfigError::PlainHttp {
                what: "token URL",
                ..
            })
        ));
        assert!(matches!(
            connection("api.example.com", DEFAULT_TOKEN_URL).check(),
            Err(ConfigError::BadUrl { .. })
        ));
    }

    #[test]
    fn api_root_joins_base_and_version() {
        let c = connection("https://api.example.com/", DEFAULT_TOKEN_URL);
        assert_eq!(
            c.api_root().as_deref(),
            Some("https://api.example.com/inContactAPI/services/v34.0")
        );
    }
}
