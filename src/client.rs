//! The HTTP client for the CXone Admin API: one reqwest client, a token that
//! renews itself, a token bucket for the rate, and retries with exponential
//! backoff and full jitter. Every attempt carries a fresh `X-Request-ID` and
//! a W3C `traceparent`, and is counted for the report.
//!
//! Whole-request answers that the caller must interpret (200, 400 with a
//! per-row `resultSet`, 404) come back as [`Response`]; everything the
//! caller cannot act on (exhausted retries, 401 after a renewal, 403) is a
//! [`ClientError`].

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{Method, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use tracing::{debug, warn};
use uuid::Uuid;

use crate::config::{Connection, Credentials, RetryPolicy};
use crate::model::AgentRef;
use crate::secret::Secret;
use crate::wire;

/// Largest page CXone serves for listings.
const PAGE_SIZE: u64 = 10_000;

/// A failure the caller cannot work around by reading the answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("authentication failed at {url}: {reason}")]
    Token {
        url: String,
        /// Why, for callers that explain it (`auth check`).
        kind: TokenFailure,
        reason: String,
    },
    #[error("{endpoint}: 401 Unauthorized even with a fresh token: {body}")]
    Unauthorized { endpoint: String, body: String },
    #[error(
        "{endpoint}: 403 Forbidden: {body}; the access key's user lacks the permission for this call (writing skills needs the Admin \"Users: Edit\" and \"Skills: Edit\" permissions)"
    )]
    Forbidden { endpoint: String, body: String },
    #[error("{endpoint}: {reason} (gave up after {attempts} attempts)")]
    Network {
        endpoint: String,
        reason: String,
        attempts: u32,
    },
    #[error("{endpoint}: {status}: {body}")]
    Status {
        endpoint: String,
        status: u16,
        body: String,
    },
    #[error("{endpoint}: unexpected answer: {reason}")]
    Decode { endpoint: String, reason: String },
}

impl ClientError {
    /// Authentication, permission and network failures end the run (exit
    /// 3): every further request would fail the same way.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ClientError::Token { .. }
                | ClientError::Unauthorized { .. }
                | ClientError::Forbidden { .. }
                | ClientError::Network { .. }
        )
    }
}

/// Why a token could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFailure {
    /// The token endpoint refused the access key or the client (401, or a
    /// 400 OAuth error).
    Refused,
    /// The token URL answered 404: it is not a token endpoint.
    NotFound,
    /// The token URL answered, but not with a token.
    NotAToken,
    /// The token endpoint could not be reached (DNS, refused, timeout),
    /// or kept failing with transient errors.
    Unreachable,
    /// The pre-issued token was rejected and cannot be renewed.
    TokenRejected,
}

/// An answer for the caller to read: its status and body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub body: bytes::Bytes,
    /// Whether this answer came after an attempt that may have reached the
    /// server without its answer reaching us (a timeout or a dropped
    /// connection): a write may then have been applied twice.
    pub after_lost_attempt: bool,
}

impl Response {
    /// The body as text, for error messages, verbatim.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Requests sent, by kind, for the report.
#[derive(Debug, Default)]
pub struct Stats {
    pub get: AtomicU64,
    pub post: AtomicU64,
    pub put: AtomicU64,
    pub delete: AtomicU64,
    /// Attempts after the first for the same request.
    pub retries: AtomicU64,
    /// 429 answers.
    pub throttled: AtomicU64,
}

/// A point-in-time copy of [`Stats`], serialised as the report's
/// `summary.requests`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    #[serde(rename = "GET")]
    pub get: u64,
    #[serde(rename = "POST")]
    pub post: u64,
    #[serde(rename = "PUT")]
    pub put: u64,
    #[serde(rename = "DELETE")]
    pub delete: u64,
    pub retries: u64,
    pub throttled: u64,
}

impl RequestCounts {
    pub fn writes(&self) -> u64 {
        self.post + self.put + self.delete
    }
}

/// The current token and how many times it has been renewed, so that many
/// tasks hitting a 401 at once renew it once.
struct TokenState {
    token: Option<Secret>,
    expires: Option<Instant>,
    /// `expires_in` of the last exchange, as the token endpoint stated it.
    lifetime: Option<u64>,
    generation: u64,
}

pub struct Client {
    http: reqwest::Client,
    api_root: String,
    token_url: String,
    credentials: Credentials,
    token: Mutex<TokenState>,
    limiter: DefaultDirectRateLimiter,
    retry: RetryPolicy,
    stats: Stats,
    /// One trace per run, so every request of a run can be found together.
    trace_id: String,
}

impl Client {
    pub fn new(connection: &Connection) -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(connection.connect_timeout)
            .timeout(connection.request_timeout)
            .pool_max_idle_per_host(connection.concurrency)
            // Never follow a redirect: a 307 would re-send the token form
            // (secrets and all) or the bearer token wherever `Location`
            // says, past the https/loopback check. A 3xx is an error.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cxskill/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Decode {
                endpoint: "client".to_owned(),
                reason: e.to_string(),
            })?;
        let preissued = match &connection.credentials {
            Credentials::Token(token) => Some(token.clone()),
            Credentials::AccessKey { .. } => None,
        };
        Ok(Client {
            http,
            api_root: connection.api_root(),
            token_url: connection.token_url.clone(),
            credentials: connection.credentials.clone(),
            token: Mutex::new(TokenState {
                token: preissued,
                expires: None,
                lifetime: None,
                generation: 0,
            }),
            limiter: RateLimiter::direct(quota(connection.rate, connection.concurrency)),
            retry: connection.retry,
            stats: Stats::default(),
            trace_id: Uuid::new_v4().simple().to_string(),
        })
    }

    pub fn counts(&self) -> RequestCounts {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RequestCounts {
            get: load(&self.stats.get),
            post: load(&self.stats.post),
            put: load(&self.stats.put),
            delete: load(&self.stats.delete),
            retries: load(&self.stats.retries),
            throttled: load(&self.stats.throttled),
        }
    }

    /// Obtains a token now (an access key is exchanged afresh) and returns
    /// its lifetime in seconds as the token endpoint stated it; `None` for a
    /// pre-issued token, whose lifetime cxskill cannot know, or an answer
    /// without `expires_in`.
    pub async fn authenticate(&self) -> Result<Option<u64>, ClientError> {
        let mut state = self.token.lock().await;
        if self.can_renew() {
            self.exchange(&mut state).await?;
        }
        Ok(state.lifetime)
    }

    /// `GET /agents?top=&skip=`: one page, with the tenant's `totalRecords`.
    pub async fn agents_page(&self, top: u64, skip: u64) -> Result<wire::AgentsPage, ClientError> {
        self.get_json(&format!("/agents?top={top}&skip={skip}"))
            .await
    }

    /// `GET /skills?top=&skip=`: one page, with the tenant's `totalRecords`.
    pub async fn skills_page(&self, top: u64, skip: u64) -> Result<wire::SkillsPage, ClientError> {
        self.get_json(&format!("/skills?top={top}&skip={skip}"))
            .await
    }

    /// `GET /agents/{id}/skills`. `None` when the agent does not exist.
    pub async fn agent_skills(
        &self,
        agent: &AgentRef,
    ) -> Result<Option<Vec<wire::Assignment>>, ClientError> {
        let path = format!("/agents/{}/skills", agent.path_segment());
        let response = self.send(Method::GET, &path, None::<&()>).await?;
        match response.status {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => {
                let page: wire::AssignmentsPage = decode(&path, &response)?;
                Ok(Some(page.agent_skill_assignments))
            }
            status => Err(status_error(&path, status, &response)),
        }
    }

    /// `GET /skills`, every page.
    pub async fn skills(&self) -> Result<Vec<wire::Skill>, ClientError> {
        self.all_pages("/skills", |p: wire::SkillsPage| {
            (p.skills, Some(p.total_records))
        })
        .await
    }

    /// `GET /agents`, every page.
    pub async fn agents(&self) -> Result<Vec<wire::Agent>, ClientError> {
        self.all_pages("/agents", |p: wire::AgentsPage| {
            (p.agents, Some(p.total_records))
        })
        .await
    }

    /// `GET /agents/skills`: every assignment of the business unit, every
    /// page.
    pub async fn all_assignments(&self) -> Result<Vec<wire::Assignment>, ClientError> {
        self.all_pages("/agents/skills", |p: wire::AssignmentsPage| {
            (p.agent_skill_assignments, p.total_records)
        })
        .await
    }

    /// Reads a listing page by page (`top`/`skip`) until it has
    /// `totalRecords` items (or an empty page comes back).
    async fn all_pages<P: DeserializeOwned, T>(
        &self,
        endpoint: &str,
        split: impl Fn(P) -> (Vec<T>, Option<u64>),
    ) -> Result<Vec<T>, ClientError> {
        let mut items = Vec::new();
        loop {
            let path = format!("{endpoint}?top={PAGE_SIZE}&skip={}", items.len());
            let (page, total) = split(self.get_json(&path).await?);
            let got = page.len() as u64;
            items.extend(page);
            // Trust totalRecords when the tenant gives it (a tenant may cap
            // pages below `top`); without it, a short page is the last.
            let done = match total.filter(|&t| t > 0) {
                Some(total) => got == 0 || items.len() as u64 >= total,
                None => got < PAGE_SIZE,
            };
            if done {
                return Ok(items);
            }
        }
    }

    /// `GET /skills/agents?skills=...`: the assignments of some skills, a
    /// few dozen skills per request to keep the URL short.
    pub async fn skill_assignments(
        &self,
        skills: &[u64],
    ) -> Result<Vec<wire::Assignment>, ClientError> {
        let mut assignments = Vec::new();
        for chunk in skills.chunks(50) {
            let ids: Vec<String> = chunk.iter().map(u64::to_string).collect();
            let path = format!("/skills/agents?skills={}", ids.join(","));
            let page: wire::AssignmentsPage = self.get_json(&path).await?;
            assignments.extend(page.agent_skill_assignments);
        }
        Ok(assignments)
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let response = self.send(Method::GET, path, None::<&()>).await?;
        if !response.status.is_success() {
            return Err(status_error(path, response.status, &response));
        }
        decode(path, &response)
    }

    /// Sends one API request (path relative to the API root), retrying what
    /// is worth retrying. Statuses the caller interprets (2xx, 400, 404,
    /// 409, 422) come back as a [`Response`].
    pub async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Response, ClientError> {
        let endpoint = format!("{method} {path}");
        let url = format!("{}{path}", self.api_root);
        let body = match body.map(serde_json::to_vec).transpose() {
            Ok(body) => body,
            Err(e) => {
                return Err(ClientError::Decode {
                    endpoint,
                    reason: e.to_string(),
                });
            }
        };
        let started = Instant::now();
        let mut renewed = false;
        let mut lost_attempt = false;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            if attempt > 1 {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
            }
            self.limiter.until_ready().await;
            let (token, generation) = self.token().await?;
            self.count(&method);
            let request_id = Uuid::new_v4();
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose())
                .header(header::ACCEPT, "application/json")
                .header("X-Request-ID", request_id.to_string())
                .header("traceparent", self.traceparent());
            if let Some(body) = &body {
                request = request
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let sent = Instant::now();
            let outcome = request.send().await;
            let retry_in = match outcome {
                Ok(response) => {
                    let status = response.status();
                    debug!(
                        %method, path, status = status.as_u16(), %request_id, attempt,
                        ms = sent.elapsed().as_millis() as u64, "request"
                    );
                    let retry_after = retry_after(&response);
                    let bytes = match response.bytes().await {
                        Ok(bytes) => bytes,
                        Err(e) => {
                            lost_attempt = true;
                            warn!(%method, path, %request_id, "answer cut off: {e}");
                            let delay =
                                self.next_delay(attempt, started, None, &endpoint, || {
                                    e.to_string()
                                })?;
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                    };
                    match status {
                        StatusCode::UNAUTHORIZED if !renewed && self.can_renew() => {
                            renewed = true;
                            warn!(%method, path, %request_id, "401: renewing the token and retrying once");
                            self.renew(generation).await?;
                            continue;
                        }
                        StatusCode::UNAUTHORIZED => {
                            return Err(ClientError::Unauthorized {
                                endpoint,
                                body: body_text(&bytes),
                            });
                        }
                        StatusCode::FORBIDDEN => {
                            return Err(ClientError::Forbidden {
                                endpoint,
                                body: body_text(&bytes),
                            });
                        }
                        StatusCode::TOO_MANY_REQUESTS => {
                            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                            warn!(%method, path, %request_id, ?retry_after, "429: throttled by the tenant");
                            self.next_delay(attempt, started, retry_after, &endpoint, || {
                                format!("429 Too Many Requests: {}", body_text(&bytes))
                            })?
                        }
                        StatusCode::INTERNAL_SERVER_ERROR
                        | StatusCode::BAD_GATEWAY
                        | StatusCode::SERVICE_UNAVAILABLE
                        | StatusCode::GATEWAY_TIMEOUT => {
                            warn!(%method, path, %request_id, status = status.as_u16(), "transient server error");
                            self.next_delay(attempt, started, retry_after, &endpoint, || {
                                format!("{status}: {}", body_text(&bytes))
                            })?
                        }
                        _ => {
                            return Ok(Response {
                                status,
                                body: bytes,
                                after_lost_attempt: lost_attempt,
                            });
                        }
                    }
                }
                Err(e) => {
                    // The request may have reached the server: a write may
                    // have been applied without our hearing of it.
                    lost_attempt = true;
                    let reason = transport_reason(&e);
                    warn!(%method, path, %request_id, attempt, "{reason}");
                    self.next_delay(attempt, started, None, &endpoint, || reason.clone())?
                }
            };
            tokio::time::sleep(retry_in).await;
        }
    }

    /// How long to wait before the next attempt, or the error to give up
    /// with when attempts or the time budget are spent. A `Retry-After`
    /// from the server wins over the backoff.
    fn next_delay(
        &self,
        attempt: u32,
        started: Instant,
        retry_after: Option<Duration>,
        endpoint: &str,
        reason: impl FnOnce() -> String,
    ) -> Result<Duration, ClientError> {
        // A Retry-After longer than the whole budget cannot be honoured:
        // give up now rather than sleep past it.
        let delay = retry_after
            .map(|d| d.clamp(Duration::from_millis(1), self.retry.budget))
            .unwrap_or_else(|| backoff(&self.retry, attempt));
        let late = started.elapsed().saturating_add(delay) > self.retry.budget;
        if attempt >= self.retry.max_attempts || late {
            return Err(ClientError::Network {
                endpoint: endpoint.to_owned(),
                reason: reason(),
                attempts: attempt,
            });
        }
        Ok(delay)
    }

    fn count(&self, method: &Method) {
        let counter = match *method {
            Method::GET => &self.stats.get,
            Method::POST => &self.stats.post,
            Method::PUT => &self.stats.put,
            Method::DELETE => &self.stats.delete,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `00-{trace}-{span}-01`: the run's trace id, a fresh span per attempt.
    fn traceparent(&self) -> String {
        let span = Uuid::new_v4().simple().to_string();
        format!("00-{}-{}-01", self.trace_id, &span[..16])
    }

    fn can_renew(&self) -> bool {
        matches!(self.credentials, Credentials::AccessKey { .. })
    }

    /// The current token, fetching one first if there is none or it is
    /// about to expire.
    async fn token(&self) -> Result<(Secret, u64), ClientError> {
        let mut state = self.token.lock().await;
        let fresh = state.expires.is_none_or(|at| Instant::now() < at);
        if let (Some(token), true) = (&state.token, fresh) {
            return Ok((token.clone(), state.generation));
        }
        self.exchange(&mut state).await?;
        match &state.token {
            Some(token) => Ok((token.clone(), state.generation)),
            None => Err(ClientError::Token {
                url: self.token_url.clone(),
                kind: TokenFailure::NotAToken,
                reason: "no token".to_owned(),
            }),
        }
    }

    /// Renews the token after a 401, unless another task already did since
    /// `seen` was handed out.
    async fn renew(&self, seen: u64) -> Result<(), ClientError> {
        let mut state = self.token.lock().await;
        if state.generation == seen {
            self.exchange(&mut state).await?;
        }
        Ok(())
    }

    /// The OAuth 2.0 password grant of the contract.
    async fn exchange(&self, state: &mut TokenState) -> Result<(), ClientError> {
        let Credentials::AccessKey {
            access_key_id,
            access_key_secret,
            client_id,
            client_secret,
        } = &self.credentials
        else {
            return Err(ClientError::Token {
                url: self.token_url.clone(),
                kind: TokenFailure::TokenRejected,
                reason: "the pre-issued token (CXSKILL_TOKEN) has expired or was revoked; issue a new one or configure an access key".to_owned(),
            });
        };
        let token_error = |kind: TokenFailure, reason: String| ClientError::Token {
            url: self.token_url.clone(),
            kind,
            reason,
        };
        let form = [
            ("grant_type", "password"),
            ("username", access_key_id.as_str()),
            ("password", access_key_secret.expose()),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.expose()),
        ];
        let mut attempt = 0;
        let started = Instant::now();
        let response = loop {
            attempt += 1;
            self.limiter.until_ready().await;
            match self
                .http
                .post(&self.token_url)
                .header(header::ACCEPT, "application/json")
                .header("X-Request-ID", Uuid::new_v4().to_string())
                .form(&form)
                .send()
                .await
            {
                Ok(response) if is_transient(response.status()) => {
                    let status = response.status();
                    let wait = retry_after(&response);
                    let delay = self.next_delay(attempt, started, wait, "token", || {
                        format!("token endpoint answered {status}")
                    });
                    tokio::time::sleep(
                        delay.map_err(|e| token_error(TokenFailure::Unreachable, e.to_string()))?,
                    )
                    .await;
                }
                Ok(response) => break response,
                Err(e) => {
                    let reason = transport_reason(&e);
                    let delay = self.next_delay(attempt, started, None, "token", || reason);
                    tokio::time::sleep(
                        delay.map_err(|e| token_error(TokenFailure::Unreachable, e.to_string()))?,
                    )
                    .await;
                }
            }
        };
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| token_error(TokenFailure::Unreachable, transport_reason(&e)))?;
        if !status.is_success() {
            let (kind, reason) = token_refusal(status, &bytes);
            return Err(token_error(kind, reason));
        }
        let answer: wire::TokenResponse = serde_json::from_slice(&bytes).map_err(|e| {
            token_error(
                TokenFailure::NotAToken,
                format!(
                    "the token URL answered {status} but not with a token ({e}); check the token URL (token_url, CXSKILL_TOKEN_URL or --token-url)"
                ),
            )
        })?;
        state.token = Some(Secret::new(answer.access_token));
        state.lifetime = answer.expires_in;
        // Renew a little before the end (a tenth of the lifetime, at most
        // 30 s), so a request does not leave with a token about to lapse.
        // A lifetime beyond a day is treated as a day: renewing early is
        // harmless, and an absurd `expires_in` cannot overflow the clock.
        state.expires = answer.expires_in.map(|secs| {
            let lifetime = Duration::from_secs(secs.min(86_400));
            Instant::now() + lifetime - (lifetime / 10).min(Duration::from_secs(30))
        });
        state.generation += 1;
        debug!(expires_in = ?answer.expires_in, "obtained an access token");
        Ok(())
    }
}

/// What a non-2xx answer of the token endpoint means, in words a user can
/// act on. The body is OAuth's `{"error", "error_description"}` when the
/// endpoint is one; anything else is quoted verbatim.
fn token_refusal(status: StatusCode, bytes: &[u8]) -> (TokenFailure, String) {
    let oauth = serde_json::from_slice::<wire::ApiError>(bytes).ok();
    match (status, oauth) {
        (StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST, Some(error)) => {
            let description = error
                .error_description
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            (
                TokenFailure::Refused,
                format!(
                    "the token endpoint refused the access key or client ({} {}{description}): check the access key id and secret and the client id and secret (`cxskill config show` says where each comes from)",
                    status.as_u16(),
                    error.error
                ),
            )
        }
        (StatusCode::UNAUTHORIZED, None) => (
            TokenFailure::Refused,
            format!(
                "the token endpoint refused the access key or client (401: {}): check the access key id and secret and the client id and secret (`cxskill config show` says where each comes from)",
                body_text(bytes)
            ),
        ),
        (StatusCode::NOT_FOUND, _) => (
            TokenFailure::NotFound,
            format!(
                "the token URL answered 404 Not Found: {}; it is not a token endpoint: check the token URL (token_url, CXSKILL_TOKEN_URL or --token-url)",
                body_text(bytes)
            ),
        ),
        (status, _) => (
            TokenFailure::NotAToken,
            format!(
                "the token URL answered {status}, not a token: {}; check the token URL (token_url, CXSKILL_TOKEN_URL or --token-url)",
                body_text(bytes)
            ),
        ),
    }
}

/// A token bucket of `rate` per second with a burst small enough not to
/// trip the tenant's own limiter: at most one second's worth, at most the
/// concurrency.
fn quota(rate: f64, concurrency: usize) -> Quota {
    let per_request = Duration::from_secs_f64(1.0 / rate.max(1e-3));
    let burst = (rate.floor() as usize).clamp(1, concurrency.max(1));
    let burst =
        NonZeroU32::new(u32::try_from(burst).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(per_request.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(burst)
}

/// Exponential backoff with full jitter: a random delay between 0 and
/// `base * 2^(attempt-1)`, capped.
fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let ceiling = policy
        .base_delay
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(policy.max_delay);
    ceiling.mul_f64(fastrand::f64())
}

/// `Retry-After` in whole seconds (the form CXone and the sandbox use).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

fn transport_reason(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "connection failed"
    };
    // The source chain says why (refused, reset, closed before answer);
    // reqwest's own Display may include the URL but never headers.
    let mut reason = kind.to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

fn body_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_owned()
    } else {
        text.to_owned()
    }
}

fn status_error(path: &str, status: StatusCode, response: &Response) -> ClientError {
    ClientError::Status {
        endpoint: format!("GET {path}"),
        status: status.as_u16(),
        body: body_text(&response.body),
    }
}

fn decode<T: DeserializeOwned>(path: &str, response: &Response) -> Result<T, ClientError> {
    serde_json::from_slice(&response.body).map_err(|e| ClientError::Decode {
        endpoint: format!("GET {path}"),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_from_200_ms_and_stays_under_10_s() {
        let policy = RetryPolicy::default();
        for _ in 0..100 {
            assert!(backoff(&policy, 1) <= Duration::from_millis(200));
            assert!(backoff(&policy, 3) <= Duration::from_millis(800));
            assert!(backoff(&policy, 60) <= Duration::from_secs(10));
        }
        // Full jitter: the delays spread over the whole range.
        let spread: Vec<Duration> = (0..200).map(|_| backoff(&policy, 6)).collect();
        assert!(spread.iter().any(|d| *d < Duration::from_secs(1)));
        assert!(spread.iter().any(|d| *d > Duration::from_secs(4)));
    }

    #[test]
    fn client_errors_say_which_are_fatal() {
        let status = ClientError::Status {
            endpoint: "GET /x".into(),
            status: 404,
            body: String::new(),
        };
        assert!(!status.is_fatal());
        let forbidden = ClientError::Forbidden {
            endpoint: "PUT /agents/1/skills".into(),
            body: "{}".into(),
        };
        assert!(forbidden.is_fatal());
        assert!(forbidden.to_string().contains("permission"));
    }
}
