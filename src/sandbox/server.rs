//! The HTTP server: our own accept loop around the axum router, and the
//! gate every API call passes before a handler sees it.
//!
//! The accept loop is ours, not `axum::serve`, for one reason: the
//! `drop_rate` fault must commit a write and then close the TCP connection
//! without any answer. A handler cannot do that; the connection task can,
//! by dropping the hyper connection while the response is withheld.
//!
//! Order of the gate for `/inContactAPI/...` calls: latency, rate limit
//! (429), token (401), read-only key on a write (403), a write naming a
//! `--fail-agent` agent (503), injected fault (503), then the tenant
//! edits a test queued for the first write, then the handler.
//! `/auth/token` and discovery get the latency only; `/__sandbox/*` gets
//! nothing and is not logged, so observing the sandbox does not change
//! what it records.

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
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
use uuid::Uuid;

use super::auth::{self, Tokens};
use super::reply::{self, RowsApplied};
use super::store::Store;
use super::tenant::{AccessKey, ApiClient, Tenant};
use super::{
    PutSemantics, RequestRecord, SandboxCredentials, SandboxError, SandboxOptions, TenantEdit,
};
use crate::model::AgentRef;

/// Largest request body accepted: 10,000 rows fit many times over.
pub(super) const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// The request log keeps the most recent records only, so that a long
/// rehearsal or a benchmark cannot grow it without bound.
pub(super) const LOG_CAPACITY: usize = 100_000;

/// How long a graceful shutdown waits for requests in flight.
const GRACE: Duration = Duration::from_secs(5);

/// What discovery and the listings say about the tenant itself.
pub(super) struct TenantInfo {
    pub tenant_id: Uuid,
    pub business_unit_id: u64,
    pub area: String,
    pub cluster: String,
}

/// Everything a request can touch, shared by all connections.
pub(super) struct App {
    pub store: Store,
    pub tokens: Tokens,
    pub tenant: TenantInfo,
    pub access_keys: Vec<AccessKey>,
    pub clients: Vec<ApiClient>,
    pub api_version: String,
    /// `/inContactAPI/services/{version}`.
    pub api_prefix: String,
    pub credentials: SandboxCredentials,
    pub string_ids: bool,
    pub partial_status: StatusCode,
    pub agent_skills_page: usize,
    pub no_bulk_endpoints: bool,
    pub upsert_replaces: bool,
    /// `http://host:port` of the bound address, set once listening: the
    /// base of absolute URLs when a request names no usable `Host`.
    base: OnceLock<String>,
    replace: AtomicBool,
    latency: Duration,
    fault_rate: f64,
    drop_rate: f64,
    retry_after_503: Option<u64>,
    fail_agents: HashSet<u64>,
    /// Edits queued by `SandboxHandle::edit_before_first_write`; the flag
    /// keeps the common case (nothing queued) off the mutex.
    edits_pending: AtomicBool,
    edits: Mutex<Vec<TenantEdit>>,
    /// One seeded generator for all fault draws, so a sequential series of
    /// requests meets the same faults on every run with the same seed.
    rng: Mutex<fastrand::Rng>,
    limiter: Option<DefaultDirectRateLimiter>,
    log: Mutex<VecDeque<RequestRecord>>,
    /// Every request recorded, and the API writes among them, since the
    /// start (the log keeps only the last [`LOG_CAPACITY`]).
    served: AtomicU64,
    writes: AtomicU64,
}

/// Where a path belongs, which decides what the gate applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    Api,
    Token,
    Discovery,
    Observability,
    Other,
}

impl Area {
    fn of(path: &str) -> Area {
        if path.starts_with("/inContactAPI/") {
            Area::Api
        } else if path == "/auth/token" {
            Area::Token
        } else if path.starts_with("/.well-known/") {
            Area::Discovery
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
            tenant.tenant_id,
            options.preissued_token.as_deref().map(|t| (t, key)),
        );
        let limiter = options.rate_limit.map(rate_limiter).transpose()?;
        let partial_status = StatusCode::from_u16(options.partial_status).map_err(|_| {
            SandboxError::InvalidOptions(format!(
                "partial status must be 207, 206, 400 or 200, got {}",
                options.partial_status
            ))
        })?;
        let access_keys = tenant.access_keys.clone();
        let clients = tenant.clients.clone();
        let info = TenantInfo {
            tenant_id: tenant.tenant_id,
            business_unit_id: tenant.business_unit_id,
            area: tenant.area.clone(),
            cluster: tenant.cluster.clone(),
        };
        Ok(App {
            store: Store::new(tenant, options.refuse_skills.iter().copied().collect()),
            tokens,
            tenant: info,
            access_keys,
            clients,
            api_version: options.api_version.clone(),
            api_prefix: format!("/inContactAPI/services/{}", options.api_version),
            credentials,
            string_ids: options.string_ids,
            partial_status,
            agent_skills_page: options.agent_skills_page,
            no_bulk_endpoints: options.no_bulk_endpoints,
            upsert_replaces: options.upsert_replaces,
            base: OnceLock::new(),
            replace: AtomicBool::new(options.put_semantics == PutSemantics::Replace),
            latency: options.latency,
            fault_rate: options.fault_rate,
            drop_rate: options.drop_rate,
            retry_after_503: options.retry_after_503,
            fail_agents: options.fail_agents.iter().copied().collect(),
            edits_pending: AtomicBool::new(false),
            edits: Mutex::new(Vec::new()),
            rng: Mutex::new(fastrand::Rng::with_seed(options.seed)),
            limiter,
            log: Mutex::new(VecDeque::new()),
            served: AtomicU64::new(0),
            writes: AtomicU64::new(0),
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

    /// Records the bound address, once, when the server starts listening.
    pub fn set_base(&self, base: String) {
        let _ = self.base.set(base);
    }

    /// `http://host:port` as the client addressed the sandbox (its `Host`
    /// header, when that is a plain host and port), else the bound
    /// address: the base of `_links` and of the discovery endpoints, so
    /// that a client which reached the sandbox by one name is sent back
    /// to that name.
    pub fn base_for(&self, headers: &HeaderMap) -> Cow<'_, str> {
        let bound = self.base.get().map_or("", String::as_str);
        let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
            return Cow::Borrowed(bound);
        };
        // The common case: the client addressed the bound address.
        if bound.strip_prefix("http://") == Some(host) {
            return Cow::Borrowed(bound);
        }
        match host.parse::<Authority>() {
            Ok(authority) if !authority.as_str().contains('@') => {
                Cow::Owned(format!("http://{authority}"))
            }
            _ => Cow::Borrowed(bound),
        }
    }

    /// Queues edits for the first API write that passes the gate.
    pub fn queue_edits(&self, edits: Vec<TenantEdit>) {
        self.edits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(edits);
        self.edits_pending.store(true, Ordering::Release);
    }

    fn apply_queued_edits(&self) {
        if !self.edits_pending.swap(false, Ordering::AcqRel) {
            return;
        }
        let edits = std::mem::take(&mut *self.edits.lock().unwrap_or_else(PoisonError::into_inner));
        for edit in edits {
            // Validated when queued; a failure here cannot happen.
            if let Err(error) = self.store.set(edit.agent_id, edit.skill_id, edit.value) {
                tracing::warn!(%error, "queued tenant edit not applied");
            }
        }
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
                        Area::Api => self.gate(&parts, is_write, &bytes),
                        _ => None,
                    };
                    if refusal.is_none() && area == Area::Api && is_write {
                        self.apply_queued_edits();
                    }
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
        self.record(record, area == Area::Api && is_write);
        Handled {
            response,
            drop_connection,
        }
    }

    /// The checks an API call passes before its handler; `Some` is the
    /// refusal.
    fn gate(
        &self,
        parts: &axum::http::request::Parts,
        is_write: bool,
        body: &[u8],
    ) -> Option<Response> {
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
        if is_write
            && !self.fail_agents.is_empty()
            && let Some(agent_id) = self.failing_agent(parts.uri.path(), body)
        {
            return Some(reply::unavailable(
                format!(
                    "Writes naming agent {agent_id} fail (sandbox --fail-agent); nothing was changed"
                ),
                self.retry_after_503,
            ));
        }
        if self.draw(self.fault_rate) {
            return Some(reply::unavailable(
                "Injected fault (sandbox fault rate); nothing was changed".into(),
                self.retry_after_503,
            ));
        }
        None
    }

    /// The first `--fail-agent` agent a write names: in its path
    /// (`/agents/{agentId|userId}/...`, `/skills/{id}/agents/{agentId}`)
    /// or anywhere in its body as an `agentId` or in an `agentIds` list,
    /// as a string or an integer.
    fn failing_agent(&self, path: &str, body: &[u8]) -> Option<u64> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let in_path = match segments.as_slice() {
            [.., "agents", agent, "skills"] | [.., "skills", _, "agents", agent] => {
                match agent.parse::<AgentRef>() {
                    Ok(agent) => self.store.agent(agent).map(|a| a.agent_id),
                    Err(_) => None,
                }
            }
            _ => None,
        };
        if let Some(agent_id) = in_path.filter(|id| self.fail_agents.contains(id)) {
            return Some(agent_id);
        }
        let value: Value = serde_json::from_slice(body).ok()?;
        let mut named = Vec::new();
        agents_named(&value, &mut named);
        named.into_iter().find(|id| self.fail_agents.contains(id))
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

    /// Requests served since the start, and the API writes among them
    /// (POST, PUT or DELETE under `/inContactAPI/`).
    pub fn served(&self) -> (u64, u64) {
        (
            self.served.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        )
    }

    /// Logs a request; `api_write` counts it among the writes, as the
    /// gate judged it (POST, PUT or DELETE under `/inContactAPI/`).
    fn record(&self, record: RequestRecord, api_write: bool) {
        self.served.fetch_add(1, Ordering::Relaxed);
        if api_write {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(record);
    }
}

/// Every `agentId` value and `agentIds` element anywhere in a body.
fn agents_named(value: &Value, out: &mut Vec<u64>) {
    let id = |v: &Value| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    match value {
        Value::Object(fields) => {
            for (name, field) in fields {
                match (name.as_str(), field) {
                    ("agentId", v) => out.extend(id(v)),
                    ("agentIds", Value::Array(items)) => out.extend(items.iter().filter_map(id)),
                    (_, v) => agents_named(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| agents_named(v, out)),
        _ => {}
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
pub(super) fn rate_limiter(rps: f64) -> Result<DefaultDirectRateLimiter, SandboxError> {
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
    let period = Duration::try_from_secs_f64(1.0 / rps).map_err(|_| invalid())?;
    let quota = Quota::with_period(period).ok_or_else(invalid)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_too_slow_or_fast_for_a_period_is_an_error_not_a_panic() {
        for rps in [1e-20, 1e-300, f64::MIN_POSITIVE, 1e12, f64::MAX] {
            assert!(rate_limiter(rps).is_err(), "{rps}");
        }
        assert!(rate_limiter(0.001).is_ok());
    }
}
