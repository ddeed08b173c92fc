//! The HTTP server: our own accept loop around the axum router, and the
//! gate every API call passes before a handler sees it.
//!
//! The accept loop is ours, not `axum::serve`, for one reason: the
//! `drop_rate` fault must commit a write and then close the TCP connection
//! without any answer. A handler cannot do that; the connection task can,
//! by dropping the hyper connection while the response is withheld.
//!
//! Order of the gate for `/inContactAPI/...` calls: latency, rate limit
//! (429), token (401), read-only key on a write (403), injected fault
//! (503), then the handler. `/auth/token` gets the latency only;
//! `/__sandbox/*` gets nothing and is not logged, so observing the
//! sandbox does not change what it records.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower_service::Service;

use super::auth::{self, Tokens};
use super::reply::{self, RowsApplied};
use super::store::Store;
use super::tenant::{AccessKey, ApiClient, Tenant};
use super::{PutSemantics, RequestRecord, SandboxCredentials, SandboxError, SandboxOptions};
use crate::wire;

/// Largest request body accepted: 10,000 rows fit many times over.
pub(super) const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// The request log keeps the most recent records only, so that a long
/// rehearsal or a benchmark cannot grow it without bound.
pub(super) const LOG_CAPACITY: usize = 100_000;

/// How long a graceful shutdown waits for requests in flight.
const GRACE: Duration = Duration::from_secs(5);

/// Everything a request can touch, shared by all connections.
pub(super) struct App {
    pub store: Store,
    pub tokens: Tokens,
    pub access_keys: Vec<AccessKey>,
    pub clients: Vec<ApiClient>,
    pub api_version: String,
    pub credentials: SandboxCredentials,
    replace: AtomicBool,
    latency: Duration,
    fault_rate: f64,
    drop_rate: f64,
    /// One seeded generator for all fault draws, so a sequential series of
    /// requests meets the same faults on every run with the same seed.
    rng: Mutex<fastrand::Rng>,
    limiter: Option<DefaultDirectRateLimiter>,
    log: Mutex<VecDeque<RequestRecord>>,
}

/// Where a path belongs, which decides what the gate applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    Api,
    Token,
    Observability,
    Other,
}

impl Area {
    fn of(path: &str) -> Area {
        if path.starts_with("/inContactAPI/") {
            Area::Api
        } else if path == "/auth/token" {
            Area::Token
        } else if path.starts_with("/__sandbox/") {
            Area::Observability
        } else {
            Area::Other
        }
    }
}

/// A handled request: the answer, and whether to withhold it and close the
/// connection instead (`drop_rate`).
struct Handled {
    response: Response,
    drop_connection: bool,
}

impl App {
    pub fn new(tenant: Tenant, options: &SandboxOptions) -> Result<App, SandboxError> {
        let (key, client) = tenant.default_credentials();
        let credentials = SandboxCredentials {
            access_key_id: key.id.clone(),
            access_key_secret: key.secret.expose().to_owned(),
            client_id: client.id.clone(),
            client_secret: client.secret.expose().to_owned(),
        };
        let tokens = Tokens::new(
            options.token_ttl,
            options.preissued_token.as_deref().map(|t| (t, key)),
        );
        let limiter = options.rate_limit.map(rate_limiter).transpose()?;
        let access_keys = tenant.access_keys.clone();
        let clients = tenant.clients.clone();
        Ok(App {
            store: Store::new(tenant, options.refuse_skills.iter().copied().collect()),
            tokens,
            access_keys,
            clients,
            api_version: options.api_version.clone(),
            credentials,
            replace: AtomicBool::new(options.put_semantics == PutSemantics::Replace),
            latency: options.latency,
            fault_rate: options.fault_rate,
            drop_rate: options.drop_rate,
            rng: Mutex::new(fastrand::Rng::with_seed(options.seed)),
            limiter,
            log: Mutex::new(VecDeque::new()),
        })
    }

    pub fn put_semantics(&self) -> PutSemantics {
        if self.replace.load(Ordering::Relaxed) {
            PutSemantics::Replace
        } else {
            PutSemantics::Modify
        }
    }

    pub fn set_put_semantics(&self, semantics: PutSemantics) {
        self.replace
            .store(semantics == PutSemantics::Replace, Ordering::Relaxed);
    }

    /// Every assignment, sorted by (agentId, skillId).
    pub fn assignments(&self) -> Vec<wire::Assignment> {
        self.store.assignments(usize::MAX, 0).items
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    async fn handle(&self, router: Router, request: Request<Incoming>) -> Handled {
        let started = Instant::now();
        let (parts, body) = request.into_parts();
        let area = Area::of(parts.uri.path());
        if area == Area::Observability {
            let response = dispatch(router, Request::from_parts(parts, Body::new(body))).await;
            return Handled {
                response,
                drop_connection: false,
            };
        }

        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mut record = RequestRecord {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            status: 0,
            request_id: header("x-request-id"),
            traceparent: header("traceparent"),
            authorization_present: parts.headers.contains_key(header::AUTHORIZATION),
            body: None,
            dropped: false,
        };
        let is_write = matches!(parts.method, Method::POST | Method::PUT | Method::DELETE);

        let (response, drop_connection) =
            match axum::body::to_bytes(Body::new(body), BODY_LIMIT).await {
                Err(_) => (
                    reply::error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "RequestTooLarge",
                        Some(format!("Request bodies are limited to {BODY_LIMIT} bytes")),
                    ),
                    false,
                ),
                Ok(bytes) => {
                    record.body = logged_body(area, &bytes);
                    let refusal = match area {
                        Area::Api => self.gate(&parts, is_write),
                        _ => None,
                    };
                    match refusal {
                        Some(refusal) => (refusal, false),
                        None => {
                            let request = Request::from_parts(parts, Body::from(bytes));
                            let response = dispatch(router, request).await;
                            let committed = response.extensions().get::<RowsApplied>().is_some();
                            let lost = committed && self.draw(self.drop_rate);
                            (response, lost)
                        }
                    }
                }
            };

        record.status = response.status().as_u16();
        record.dropped = drop_connection;
        tracing::info!(
            method = %record.method,
            path = %record.path,
            status = record.status,
            request_id = %record.request_id.as_deref().unwrap_or("-"),
            dropped = drop_connection,
            elapsed_us = started.elapsed().as_micros() as u64,
            "sandbox request"
        );
        self.record(record);
        Handled {
            response,
            drop_connection,
        }
    }

    /// The checks an API call passes before its handler; `Some` is the
    /// refusal.
    fn gate(&self, parts: &axum::http::request::Parts, is_write: bool) -> Option<Response> {
        if let Some(limiter) = &self.limiter
            && let Err(not_until) = limiter.check()
        {
            let wait = not_until.wait_time_from(limiter.clock().now());
            return Some(reply::too_many_requests(wait.as_secs_f64().ceil() as u64));
        }
        let Some(grant) = self.tokens.check(parts.headers.get(header::AUTHORIZATION)) else {
            return Some(reply::invalid_token());
        };
        if is_write && grant.read_only {
            return Some(reply::error(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                Some(format!(
                    "Access key '{}' is read-only; writing skill assignments needs a read-write key",
                    grant.access_key_id
                )),
            ));
        }
        if self.draw(self.fault_rate) {
            return Some(reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                Some("Injected fault (sandbox fault rate); nothing was changed".into()),
            ));
        }
        None
    }

    /// True with probability `p`. Draws only when `p > 0`, so a sandbox
    /// without faults never touches the generator's lock.
    fn draw(&self, p: f64) -> bool {
        p > 0.0
            && self
                .rng
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .f64()
                < p
    }

    fn record(&self, record: RequestRecord) {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(record);
    }
}

/// The body as the request log keeps it: JSON as JSON, anything else as
/// text, and the token request with its secrets redacted.
fn logged_body(area: Area, bytes: &Bytes) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    if area == Area::Token {
        return Some(auth::redacted_form(bytes));
    }
    Some(
        serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned())),
    )
}

/// A token bucket of `rps` tokens per second holding up to one second's
/// worth (at least one), so short bursts pass and sustained excess gets 429.
fn rate_limiter(rps: f64) -> Result<DefaultDirectRateLimiter, SandboxError> {
    let invalid = || {
        SandboxError::InvalidOptions(format!(
            "rate limit must be a positive number of requests per second, got {rps}"
        ))
    };
    if !(rps.is_finite() && rps > 0.0) {
        return Err(invalid());
    }
    let burst = std::num::NonZeroU32::new(rps.ceil().min(f64::from(u32::MAX)) as u32)
        .ok_or_else(invalid)?;
    let quota = Quota::with_period(Duration::from_secs_f64(1.0 / rps)).ok_or_else(invalid)?;
    Ok(RateLimiter::direct(quota.allow_burst(burst)))
}

async fn dispatch(mut router: Router, request: Request<Body>) -> Response {
    match router.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Accepts connections until `stop` turns true (or its sender is dropped
/// with the handle), then lets requests in flight finish for up to
/// [`GRACE`].
pub(super) async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    // Connections get their own receivers; `wait_for` checks the current
    // value first, so one accepted after the stop still sees it.
    let for_connections = stop.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(connection(stream, app.clone(), router.clone(), for_connections.clone()));
                }
                Err(error) => {
                    // Typically out of file descriptors: back off instead
                    // of spinning, the condition clears as connections end.
                    tracing::warn!(%error, "sandbox accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = stopped(&mut stop) => break,
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(GRACE, drain).await.is_err() {
        connections.abort_all();
    }
}

/// One HTTP/1.1 connection. A request whose answer must be lost wakes
/// `lost` and never completes; this task then drops the connection, which
/// closes the socket with no response written.
async fn connection(
    stream: TcpStream,
    app: Arc<App>,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    // Request/response traffic: do not let Nagle hold back small answers.
    let _ = stream.set_nodelay(true);
    let lost = Arc::new(Notify::new());
    let service = {
        let lost = lost.clone();
        service_fn(move |request| {
            let app = app.clone();
            let router = router.clone();
            let lost = lost.clone();
            async move {
                let handled = app.handle(router, request).await;
                if handled.drop_connection {
                    lost.notify_one();
                    std::future::pending::<()>().await;
                }
                Ok::<_, Infallible>(handled.response)
            }
        })
    };
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);

    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "sandbox connection ended with an error");
            }
            return;
        }
        () = lost.notified() => return,
        () = stopped(&mut stop) => {}
    }
    // Stopping: finish the request in flight, if any, then close.
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ = connection.as_mut() => {}
        () = lost.notified() => {}
    }
}

/// Resolves once the stop flag is set or the handle (the sender) is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
