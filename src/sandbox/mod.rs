//! The sandbox: a local CXone tenant that speaks the Admin API of
//! `shared/cxone-api.md` as strictly as the real one, so that a roster can
//! be rehearsed before it meets production and cxskill's own tests can run
//! end to end over real HTTP.
//!
//! It exists to reproduce the mistakes that produce the real errors: a bare
//! array body, `"5"` or `5.0` where an integer belongs, proficiency 25, a
//! PUT row without `isActive`, a missing `Content-Type`, an expired token,
//! a read-only access key, an unknown agent. Each gets the status and body
//! the contract describes, with an `error_description` that says what to
//! fix.
//!
//! Where the contract leaves room, the sandbox takes the strict reading:
//!
//! - Write bodies must carry at least one row; `null` is a wrong type, not
//!   an absent field. POST and PUT rows need `proficiency`; PUT rows need
//!   `isActive`; POST rows default it to true.
//! - A row that changes an assignment of an inactive skill fails; a PUT row
//!   that restates the current assignment exactly succeeds, because the
//!   contract makes clients send the agent's full merged set.
//! - [`PutSemantics::Replace`] drops what a PUT does not list, on both
//!   `/agents/{id}/skills` and `/skills/{id}/agents`; listed rows follow
//!   the same per-row rules as under `Modify` (a skill the agent does not
//!   hold still fails its row, as the contract says of PUT).
//! - Listings page with `top` (1..=10000, default 100) and `skip`.
//! - The rate limit and injected faults apply to `/inContactAPI/...` calls
//!   only: in production the token endpoint is another host, and
//!   observability must not disturb what it observes.
//! - The pre-issued token does not expire with the TTL (it stands for a
//!   token someone pasted), but [`SandboxHandle::expire_tokens`] revokes it
//!   with the others.

mod auth;
mod body;
mod reply;
mod routes;
mod server;
mod store;
mod tenant;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use tenant::Tenant;

use crate::wire;
use server::App;

/// What `PUT /agents/{id}/skills` does with the skills the body does not
/// list. The contract leaves it open, so cxskill must be safe under both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PutSemantics {
    /// Only the listed assignments change (NICE's "Modify Skill
    /// assignments").
    #[default]
    Modify,
    /// The agent's set becomes exactly the listed skills; the others are
    /// dropped.
    Replace,
}

impl fmt::Display for PutSemantics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PutSemantics::Modify => "modify",
            PutSemantics::Replace => "replace",
        })
    }
}

impl FromStr for PutSemantics {
    type Err = SandboxError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "modify" => Ok(PutSemantics::Modify),
            "replace" => Ok(PutSemantics::Replace),
            _ => Err(SandboxError::InvalidOptions(format!(
                "PUT semantics is `modify` or `replace`, got `{s}`"
            ))),
        }
    }
}

/// How the sandbox behaves beyond the tenant data.
#[derive(Clone)]
pub struct SandboxOptions {
    /// The `{version}` of `/inContactAPI/services/{version}`; any other
    /// version is 404.
    pub api_version: String,
    pub put_semantics: PutSemantics,
    /// Requests per second allowed over all `/inContactAPI/...` calls (a
    /// token bucket holding one second's worth); over it: 429 with
    /// `Retry-After`. `/auth/token` and `/__sandbox/*` are not counted.
    pub rate_limit: Option<f64>,
    /// Probability that an API call gets 503 before anything changes.
    pub fault_rate: f64,
    /// Probability that a write whose rows were applied loses its answer:
    /// the connection is closed without any HTTP response.
    pub drop_rate: f64,
    /// Added to every request except `/__sandbox/*`.
    pub latency: Duration,
    /// Seeds the fault draws: the same seed and the same sequential series
    /// of requests meet the same faults.
    pub seed: u64,
    /// Lifetime of tokens from `/auth/token`.
    pub token_ttl: Duration,
    /// A bearer token accepted without an exchange, acting for the
    /// tenant's first read-write access key.
    pub preissued_token: Option<String>,
    /// Skills whose writes the tenant refuses row by row (assigning,
    /// changing or removing them fails that row; restating an assignment
    /// unchanged still succeeds), to rehearse how per-row errors are
    /// reported.
    pub refuse_skills: Vec<u64>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            api_version: "v34.0".to_owned(),
            put_semantics: PutSemantics::Modify,
            rate_limit: None,
            fault_rate: 0.0,
            drop_rate: 0.0,
            latency: Duration::ZERO,
            seed: 0,
            token_ttl: Duration::from_secs(3600),
            preissued_token: None,
            refuse_skills: Vec::new(),
        }
    }
}

impl fmt::Debug for SandboxOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxOptions")
            .field("api_version", &self.api_version)
            .field("put_semantics", &self.put_semantics)
            .field("rate_limit", &self.rate_limit)
            .field("fault_rate", &self.fault_rate)
            .field("refuse_skills", &self.refuse_skills)
            .field("drop_rate", &self.drop_rate)
            .field("latency", &self.latency)
            .field("seed", &self.seed)
            .field("token_ttl", &self.token_ttl)
            .field(
                "preissued_token",
                &self.preissued_token.as_ref().map(|_| "(redacted)"),
            )
            .finish()
    }
}

impl SandboxOptions {
    fn validate(&self) -> Result<(), SandboxError> {
        let version = &self.api_version;
        if version.is_empty()
            || !version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(SandboxError::InvalidOptions(format!(
                "API version must be a single path segment such as v34.0, got `{version}`"
            )));
        }
        for (name, p) in [
            ("fault rate", self.fault_rate),
            ("drop rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(SandboxError::InvalidOptions(format!(
                    "{name} is a probability from 0 to 1, got {p}"
                )));
            }
        }
        if self.token_ttl.is_zero() {
            return Err(SandboxError::InvalidOptions(
                "token TTL must be longer than zero".into(),
            ));
        }
        if self
            .preissued_token
            .as_ref()
            .is_some_and(|t| t.trim().is_empty() || t.contains(char::is_whitespace))
        {
            return Err(SandboxError::InvalidOptions(
                "the pre-issued token must be non-empty and without spaces".into(),
            ));
        }
        Ok(())
    }
}

/// The tenant's first read-write access key and first client: what a
/// rehearsal exchanges for a token. Sandbox-only fake secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct SandboxCredentials {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub client_id: String,
    pub client_secret: String,
}

impl fmt::Debug for SandboxCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"(redacted)")
            .field("client_id", &self.client_id)
            .field("client_secret", &"(redacted)")
            .finish()
    }
}

/// One request as the sandbox saw it (`GET /__sandbox/requests`). The
/// Authorization value is never kept, only whether it was there; the token
/// request's secrets are redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The status answered, or for a dropped answer the status it would
    /// have had.
    pub status: u16,
    /// `X-Request-ID`.
    pub request_id: Option<String>,
    pub traceparent: Option<String>,
    pub authorization_present: bool,
    /// JSON bodies as JSON, other bodies as a string.
    pub body: Option<serde_json::Value>,
    /// The write was committed and the connection closed without an
    /// answer (`drop_rate`).
    pub dropped: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot read tenant file {}: {source}", path.display())]
    ReadTenant {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid tenant: {0}")]
    InvalidTenant(String),
    #[error("invalid sandbox option: {0}")]
    InvalidOptions(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Starts the sandbox on `listen` (port 0 picks a free port) and returns
/// once it accepts connections. Must be called inside a tokio runtime; the
/// server runs as a task on it.
pub async fn start(
    listen: SocketAddr,
    tenant: Tenant,
    options: SandboxOptions,
) -> Result<SandboxHandle, SandboxError> {
    options.validate()?;
    let app = Arc::new(App::new(tenant, &options)?);
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| SandboxError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
        addr: listen,
        source,
    })?;
    let router = routes::router(app.clone());
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(server::serve(listener, app.clone(), router, stopped));
    tracing::info!(%addr, version = %options.api_version, "sandbox listening");
    Ok(SandboxHandle {
        addr,
        app,
        options,
        stop,
        task,
    })
}

/// A running sandbox. Dropping it stops the server in the background
/// (nothing waits); [`SandboxHandle::shutdown`] stops it and waits for
/// requests in flight.
pub struct SandboxHandle {
    addr: SocketAddr,
    app: Arc<App>,
    options: SandboxOptions,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl SandboxHandle {
    /// The bound address (with the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`. A wildcard listen address is reported as
    /// loopback, the address a local client can actually reach.
    pub fn api_base(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// `{api_base}/inContactAPI/services/{version}`.
    pub fn api_root(&self) -> String {
        format!(
            "{}/inContactAPI/services/{}",
            self.api_base(),
            self.options.api_version
        )
    }

    /// `{api_base}/auth/token`.
    pub fn token_url(&self) -> String {
        format!("{}/auth/token", self.api_base())
    }

    pub fn credentials(&self) -> SandboxCredentials {
        self.app.credentials.clone()
    }

    /// Every assignment now, sorted by (agentId, skillId): the same data as
    /// `GET /__sandbox/state`.
    pub fn assignments(&self) -> Vec<wire::Assignment> {
        self.app.assignments()
    }

    /// The request log, oldest first: the same as `GET /__sandbox/requests`.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.app.requests()
    }

    /// Revokes every token now, so the next API call gets 401: how tests
    /// make a token expire in the middle of a run.
    pub fn expire_tokens(&self) {
        self.app.tokens.revoke_all();
    }

    pub fn put_semantics(&self) -> PutSemantics {
        self.app.put_semantics()
    }

    /// Switches PUT semantics for the requests that follow, so one test can
    /// run the same roster under both.
    pub fn set_put_semantics(&self, semantics: PutSemantics) {
        self.app.set_put_semantics(semantics);
    }

    /// Start-up text for `cxskill sandbox`: where it listens, how it is
    /// configured, and shell lines that point cxskill at it. Printing the
    /// credentials is intended: they are the sandbox's own fake secrets.
    pub fn banner(&self) -> String {
        let o = &self.options;
        let c = &self.app.credentials;
        let rate = o
            .rate_limit
            .map_or_else(|| "none".to_owned(), |rps| format!("{rps} requests/s"));
        let mut text = format!(
            "cxskill sandbox: a local CXone tenant (fake data, fake secrets)\n\
             \x20 listening on  {addr}\n\
             \x20 API root      {root}\n\
             \x20 token URL     {token_url}\n\
             \x20 tenant        {agents} agents, {skills} skills, {held} assignments\n\
             \x20 PUT           {put}\n\
             \x20 rate limit    {rate}\n\
             \x20 faults        fault rate {fault}, drop rate {drop}, latency {latency} ms, seed {seed}\n\
             \x20 token TTL     {ttl} s\n\
             \x20 inspect       {base}/__sandbox/state  {base}/__sandbox/requests\n\
             \n\
             Point cxskill at it:\n\
             \x20 export CXSKILL_API_BASE={base}\n\
             \x20 export CXSKILL_API_VERSION={version}\n\
             \x20 export CXSKILL_TOKEN_URL={token_url}\n\
             \x20 export CXSKILL_ACCESS_KEY_ID={key_id}\n\
             \x20 export CXSKILL_ACCESS_KEY_SECRET={key_secret}\n\
             \x20 export CXSKILL_CLIENT_ID={client_id}\n\
             \x20 export CXSKILL_CLIENT_SECRET={client_secret}\n",
            addr = self.addr,
            root = self.api_root(),
            token_url = self.token_url(),
            agents = self.app.store.agent_count(),
            skills = self.app.store.skill_count(),
            held = self.assignments().len(),
            put = self.put_semantics(),
            fault = o.fault_rate,
            drop = o.drop_rate,
            latency = o.latency.as_millis(),
            seed = o.seed,
            ttl = o.token_ttl.as_secs_f64(),
            base = self.api_base(),
            version = o.api_version,
            key_id = c.access_key_id,
            key_secret = c.access_key_secret,
            client_id = c.client_id,
            client_secret = c.client_secret,
        );
        if let Some(token) = &o.preissued_token {
            text.push_str(&format!("  export CXSKILL_TOKEN={token}\n"));
        }
        text
    }

    /// Stops accepting, lets requests in flight finish (up to a few
    /// seconds), and returns when the server task has ended.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "sandbox server task ended abnormally");
        }
    }
}

impl fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("addr", &self.addr)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
