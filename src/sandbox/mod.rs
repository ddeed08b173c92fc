//! The sandbox: a local CXone tenant that speaks the Admin API of
//! `shared/cxone-api.md` (revision 2) as strictly as the real one, so that
//! a roster can be rehearsed before it meets production and cxskill's own
//! tests can run end to end over real HTTP.
//!
//! It exists to reproduce the mistakes that produce the real errors: a bare
//! array body, `5.0` where an integer belongs, proficiency 25 (or 6 on a
//! bulk write), a per-agent PUT row without `isActive`, a missing
//! `Content-Type`, an expired token, a read-only access key, an unknown
//! agent, a misspelled `updatedSince`. Each gets the status and body the
//! contract describes, with an `error_description` that names the row and
//! field to fix.
//!
//! Its answers are its own serde structs (`shapes.rs`), written field for
//! field from the published reference, never the client's `crate::wire`
//! types: a misreading shared by both sides would otherwise pass.
//!
//! Where the contract leaves room, the sandbox takes the strict reading:
//!
//! - Write bodies must carry at least one row (and an upsert item at least
//!   one agent and one skill); `null` is a wrong type, not an absent
//!   field. Every row that sets a value needs `proficiency` (the reference
//!   marks only the ids required, but publishes no default level). The
//!   per-agent PUT needs `isActive`, as published; elsewhere an absent
//!   `isActive` is true on a new assignment and keeps the current flag on
//!   an existing one (the upsert included).
//! - Ids in bodies may be JSON strings (as published) or integers; with
//!   [`SandboxOptions::string_ids`] only strings. Either way a string must
//!   hold a positive integer and nothing else.
//! - The bulk writes (`POST /agents/skills`, `POST`/`PUT
//!   /skills/{id}/agents`) refuse proficiency 6..=20 row by row, as their
//!   published enum of 1..=5 implies; outside 1..=20 the whole body is 400.
//! - More than 1,000 rows (agentIds × skillIds pairs for the upsert) in
//!   one body is 413.
//! - A row that changes an assignment of an inactive skill fails; a PUT or
//!   upsert row that restates the current assignment exactly succeeds,
//!   because the contract makes clients send the agent's full merged set.
//! - [`PutSemantics::Replace`] drops what a PUT does not list, on both
//!   `/agents/{id}/skills` and `/skills/{id}/agents`; listed rows follow
//!   the same per-row rules as under `Modify` (an assignment that does not
//!   exist still fails its row, as the contract says of PUT). POSTs and
//!   DELETEs never remove what they do not name.
//! - A write with failed rows answers [`SandboxOptions::partial_status`]
//!   (207 unless told otherwise) with the same body as a 200.
//! - `DELETE /skills/{id}/agents/{agentId}` has no rows to fail: a refused
//!   skill (`refuse_skills`) makes it 409.
//! - Listings page with `top` and `skip` (`top` 1..=10000, default 100;
//!   the one-agent read defaults to and caps at
//!   [`SandboxOptions::agent_skills_page`]). `_links` are absolute URLs on
//!   the host the client addressed (its `Host` header), else on the bound
//!   address.
//! - Each "updated since" filter is accepted under its published spelling
//!   only (`updatedSince`, `UpdatedSince` on `GET /agents/skills`,
//!   `updateSince` on `GET /agents`); another spelling is 400, because a
//!   client that misspells it would believe it had filtered. The filters
//!   are inclusive and take RFC 3339 with or without fractional seconds.
//! - Timestamps never repeat across a read and a later write: a change
//!   made after a read has a `lastUpdateTime` after that read's
//!   `lastPollTime`.
//! - The token endpoint refuses with 400 and the OAuth code, checking the
//!   client (`invalid_client`, `unauthorized_client`) before the grant
//!   (`unsupported_grant_type`, `invalid_grant`); client credentials may
//!   come in the form or as HTTP Basic, not both.
//! - Discovery answers only for the tenant's own `tenantId` (404 for any
//!   other, or a malformed one), and every endpoint it names is the
//!   sandbox itself.
//! - The rate limit and injected faults apply to `/inContactAPI/...` calls
//!   only: in production the token endpoint is another host, and
//!   observability must not disturb what it observes.
//! - The pre-issued token does not expire with the TTL (it stands for a
//!   token someone pasted), but [`SandboxHandle::expire_tokens`] revokes it
//!   with the others.

mod auth;
mod body;
mod clock;
mod reply;
mod routes;
mod server;
mod shapes;
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

pub use shapes::HeldAssignment;
pub use tenant::Tenant;

use crate::model::Proficiency;
use server::App;

/// What a PUT does with what its body does not list: the skills of
/// `PUT /agents/{id}/skills`, the agents of `PUT /skills/{id}/agents`.
/// The contract leaves it open, so cxskill must be safe under both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PutSemantics {
    /// Only the listed assignments change (NICE's "Modify Skill
    /// assignments").
    #[default]
    Modify,
    /// The agent's set (or the skill's agents) becomes exactly the listed
    /// ones; the others are dropped.
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

/// The longest token lifetime the sandbox issues: a year. Longer ones
/// would overflow the clocks tokens expire by.
const MAX_TOKEN_TTL: Duration = Duration::from_secs(365 * 86_400);

/// The slowest rate limit, in requests per second: one request a day.
/// Slower ones would overflow the limiter's period.
const MIN_RATE_LIMIT: f64 = 1.0 / 86_400.0;

/// The fastest rate limit, in requests per second: one request a
/// nanosecond, the limiter's finest period.
const MAX_RATE_LIMIT: f64 = 1e9;

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
    /// Skills whose writes the tenant refuses row by row on every write
    /// path, the upsert and the per-skill DELETE included (assigning,
    /// changing or removing them fails that row; restating an assignment
    /// unchanged still succeeds), to rehearse how per-row errors are
    /// reported.
    pub refuse_skills: Vec<u64>,
    /// Refuse integer ids in write bodies (400): ids are published as
    /// strings, and this proves the client sends what is published.
    pub string_ids: bool,
    /// The status of a write answer with failed rows: 207 (default), 206,
    /// 400 or 200, with the same `resultSet` body; the contract publishes
    /// 206/207 for the upsert and leaves the others open.
    pub partial_status: u16,
    /// Default page size of `GET /agents/{id}/skills`, and its largest:
    /// a larger `top` is capped to it.
    pub agent_skills_page: usize,
    /// `Retry-After` seconds on injected 503s (fault rate, fail-agent).
    pub retry_after_503: Option<u64>,
    /// Answer 405 to the upsert and to every `/skills/{id}/agents...`
    /// write, like a tenant without them; reads still work.
    pub no_bulk_endpoints: bool,
    /// Every write naming one of these agents (in its path, or anywhere in
    /// its body) answers 503 and changes nothing.
    pub fail_agents: Vec<u64>,
    /// A misbehaving tenant, for the client's tests: the upsert replaces
    /// each named agent's whole set with the body's skills, so a test can
    /// prove the client notices skills it never meant to remove vanish.
    pub upsert_replaces: bool,
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
            string_ids: false,
            partial_status: 207,
            agent_skills_page: 100,
            retry_after_503: None,
            no_bulk_endpoints: false,
            fail_agents: Vec::new(),
            upsert_replaces: false,
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
            .field("string_ids", &self.string_ids)
            .field("partial_status", &self.partial_status)
            .field("agent_skills_page", &self.agent_skills_page)
            .field("retry_after_503", &self.retry_after_503)
            .field("no_bulk_endpoints", &self.no_bulk_endpoints)
            .field("fail_agents", &self.fail_agents)
            .field("upsert_replaces", &self.upsert_replaces)
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
        if !matches!(self.partial_status, 200 | 206 | 207 | 400) {
            return Err(SandboxError::InvalidOptions(format!(
                "partial status must be 207, 206, 400 or 200, got {}",
                self.partial_status
            )));
        }
        if !(1..=10_000).contains(&self.agent_skills_page) {
            return Err(SandboxError::InvalidOptions(format!(
                "the one-agent read's page size must be from 1 to 10000, got {}",
                self.agent_skills_page
            )));
        }
        if self.token_ttl.is_zero() {
            return Err(SandboxError::InvalidOptions(
                "token TTL must be longer than zero".into(),
            ));
        }
        if self.token_ttl > MAX_TOKEN_TTL {
            return Err(SandboxError::InvalidOptions(format!(
                "token TTL must be at most {} seconds (365 days), got {}",
                MAX_TOKEN_TTL.as_secs(),
                self.token_ttl.as_secs()
            )));
        }
        if let Some(rps) = self.rate_limit
            && !(MIN_RATE_LIMIT..=MAX_RATE_LIMIT).contains(&rps)
        {
            return Err(SandboxError::InvalidOptions(format!(
                "rate limit must be from one request a day ({MIN_RATE_LIMIT:.7}) to {MAX_RATE_LIMIT:e} requests per second, got {rps}"
            )));
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
    #[error("invalid tenant edit: {0}")]
    InvalidEdit(String),
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
    app.set_base(loopback_base(addr));
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

/// `http://HOST:PORT` of a bound address. A wildcard listen address is
/// reported as loopback, the address a local client can actually reach.
fn loopback_base(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// One change to the tenant made behind the client's back, as another
/// admin would make it: set an assignment (`Some((proficiency,
/// isActive))`) or remove it (`None`). No per-row rule applies (an
/// inactive or refused skill can be set); the assignment gets a fresh
/// `lastUpdateTime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantEdit {
    pub agent_id: u64,
    pub skill_id: u64,
    pub value: Option<(Proficiency, bool)>,
}

impl TenantEdit {
    /// Checks the ids and the proficiency (1..=20) of a raw edit.
    pub fn new(
        agent_id: u64,
        skill_id: u64,
        value: Option<(u8, bool)>,
    ) -> Result<TenantEdit, SandboxError> {
        let value = match value {
            None => None,
            Some((level, active)) => {
                let proficiency = Proficiency::new(i64::from(level)).ok_or_else(|| {
                    SandboxError::InvalidEdit(format!(
                        "agent {agent_id}, skill {skill_id}: proficiency {level} is outside 1..=20"
                    ))
                })?;
                Some((proficiency, active))
            }
        };
        Ok(TenantEdit {
            agent_id,
            skill_id,
            value,
        })
    }
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

    /// `http://HOST:PORT`: scheme and host of the API root, what discovery
    /// answers as `api_endpoint` to a client that addressed the sandbox
    /// by this address. A wildcard listen address is reported as loopback.
    pub fn api_base(&self) -> String {
        loopback_base(self.addr)
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

    /// `{api_base}/.well-known/cxone-configuration?tenantId={tenant_id}`:
    /// where a client that holds a token discovers the API root.
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/cxone-configuration?tenantId={}",
            self.api_base(),
            self.tenant_id()
        )
    }

    /// The `tenantId` claim of every token the sandbox issues.
    pub fn tenant_id(&self) -> uuid::Uuid {
        self.app.tenant.tenant_id
    }

    /// The `businessUnitId` the listings report.
    pub fn business_unit_id(&self) -> u64 {
        self.app.tenant.business_unit_id
    }

    pub fn credentials(&self) -> SandboxCredentials {
        self.app.credentials.clone()
    }

    /// The credentials a client signs in with: the first read-write access
    /// key and the API client, the secret sent in the body.
    pub fn client_credentials(&self) -> crate::config::Credentials {
        use crate::config::{ApiClient, Credentials, TokenAuth};
        use crate::secret::Secret;
        let c = self.credentials();
        Credentials::AccessKey {
            access_key_id: c.access_key_id,
            access_key_secret: Secret::new(c.access_key_secret),
            client: Some(ApiClient {
                id: c.client_id,
                secret: Secret::new(c.client_secret),
                auth: TokenAuth::Body,
            }),
        }
    }

    /// A fresh access token for the tenant's first read-write key, exactly
    /// as `POST /auth/token` would issue it (a JWT carrying `tenantId`,
    /// living for the token TTL): a pre-issued token to discover from,
    /// without an exchange.
    pub fn issue_token(&self) -> String {
        let key = self
            .app
            .access_keys
            .iter()
            .find(|k| k.id == self.app.credentials.access_key_id);
        match key {
            Some(key) => {
                self.app
                    .tokens
                    .issue(key, &self.app.credentials.client_id, &self.api_base())
                    .access_token
            }
            // The credentials are taken from the tenant's keys at start.
            None => String::new(),
        }
    }

    /// Every assignment now, sorted by (agentId, skillId): the same data as
    /// `GET /__sandbox/state`.
    pub fn assignments(&self) -> Vec<HeldAssignment> {
        self.app.store.snapshot()
    }

    /// Sets (`Some((proficiency, isActive))`) or removes (`None`) one
    /// assignment now, behind the client's back. Errors for an agent or
    /// skill the tenant does not have, or a proficiency outside 1..=20.
    pub fn set_assignment(
        &self,
        agent_id: u64,
        skill_id: u64,
        value: Option<(u8, bool)>,
    ) -> Result<(), SandboxError> {
        let edit = TenantEdit::new(agent_id, skill_id, value)?;
        self.app
            .store
            .set(edit.agent_id, edit.skill_id, edit.value)
            .map_err(SandboxError::InvalidEdit)
    }

    /// Queues edits to apply just before the next API write request
    /// (POST, PUT or DELETE that passed authentication and the fault
    /// checks) reaches its handler: how a test changes the tenant between
    /// a client's read and its first write, so the edits'
    /// `lastUpdateTime` is after every earlier read. Edits are checked
    /// now; nothing is queued if any is invalid.
    pub fn edit_before_first_write(&self, edits: Vec<TenantEdit>) -> Result<(), SandboxError> {
        for edit in &edits {
            self.app
                .store
                .check_edit(edit.agent_id, edit.skill_id)
                .map_err(SandboxError::InvalidEdit)?;
        }
        self.app.queue_edits(edits);
        Ok(())
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
    /// configured, and the shell lines that point cxskill at it through
    /// discovery (token URL and credentials; the API root is discovered
    /// from the token, so no API base is exported). Printing the
    /// credentials is intended: they are the sandbox's own fake secrets.
    pub fn banner(&self) -> String {
        let o = &self.options;
        let rate = o
            .rate_limit
            .map_or_else(|| "none".to_owned(), |rps| format!("{rps} requests/s"));
        let retry = o
            .retry_after_503
            .map_or_else(String::new, |s| format!(", Retry-After {s} s on 503"));
        let failing = if o.fail_agents.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = o.fail_agents.iter().map(u64::to_string).collect();
            format!(", writes naming agent {} fail (503)", ids.join(", "))
        };
        let mut text = format!(
            "cxskill sandbox: a local CXone tenant (fake data, fake secrets)\n\
             \x20 listening on  {addr}\n\
             \x20 API root      {root}\n\
             \x20 token URL     {token_url}\n\
             \x20 discovery     {discovery}\n\
             \x20 tenant        {tenant_id}, business unit {bu}, {agents} agents, {skills} skills, {held} assignments\n\
             \x20 PUT           {put}\n\
             \x20 writes        ids {ids}, partial answers {partial}, bulk endpoints {bulk}\n\
             \x20 reads         one-agent page {page}\n\
             \x20 rate limit    {rate}\n\
             \x20 faults        fault rate {fault}, drop rate {drop}, latency {latency} ms, seed {seed}{retry}{failing}\n\
             \x20 token TTL     {ttl} s\n\
             \x20 inspect       {base}/__sandbox/state  {base}/__sandbox/requests\n\
             \n\
             Point cxskill at it (the API root is discovered from the token):\n",
            addr = self.addr,
            root = self.api_root(),
            token_url = self.token_url(),
            discovery = self.discovery_url(),
            tenant_id = self.tenant_id(),
            bu = self.business_unit_id(),
            agents = self.app.store.agent_count(),
            skills = self.app.store.skill_count(),
            held = self.app.store.held_count(),
            put = self.put_semantics(),
            ids = if o.string_ids {
                "strings only"
            } else {
                "strings or integers"
            },
            partial = o.partial_status,
            bulk = if o.no_bulk_endpoints {
                "off (405)"
            } else {
                "on"
            },
            page = o.agent_skills_page,
            fault = o.fault_rate,
            drop = o.drop_rate,
            latency = o.latency.as_millis(),
            seed = o.seed,
            ttl = o.token_ttl.as_secs_f64(),
            base = self.api_base(),
        );
        for line in self.export_lines() {
            text.push_str("  ");
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    /// The shell lines that point cxskill at this sandbox through
    /// discovery: the token URL and the credentials (and the API version
    /// or a pre-issued token when they are not the default).
    pub fn export_lines(&self) -> Vec<String> {
        let o = &self.options;
        let c = &self.app.credentials;
        let mut lines = vec![
            format!("export CXSKILL_TOKEN_URL={}", self.token_url()),
            format!("export CXSKILL_ACCESS_KEY_ID={}", c.access_key_id),
            format!("export CXSKILL_ACCESS_KEY_SECRET={}", c.access_key_secret),
            format!("export CXSKILL_CLIENT_ID={}", c.client_id),
            format!("export CXSKILL_CLIENT_SECRET={}", c.client_secret),
        ];
        if o.api_version != SandboxOptions::default().api_version {
            lines.push(format!("export CXSKILL_API_VERSION={}", o.api_version));
        }
        if let Some(token) = &o.preissued_token {
            lines.push(format!("export CXSKILL_TOKEN={token}"));
        }
        lines
    }

    /// `cxskill sandbox --output json`: the addresses, the tenant and the
    /// export lines of [`SandboxHandle::banner`] as one JSON document, on
    /// one line so that a script can read it while the sandbox runs.
    pub fn banner_json(&self) -> String {
        let c = &self.app.credentials;
        let base = self.api_base();
        let document = serde_json::json!({
            "listen": self.addr.to_string(),
            "api_base": base,
            "api_root": self.api_root(),
            "token_url": self.token_url(),
            "discovery_url": self.discovery_url(),
            "state_url": format!("{base}/__sandbox/state"),
            "requests_url": format!("{base}/__sandbox/requests"),
            "tenant": {
                "tenant_id": self.tenant_id().to_string(),
                "business_unit_id": self.business_unit_id(),
                "agents": self.app.store.agent_count(),
                "skills": self.app.store.skill_count(),
                "assignments": self.app.store.held_count(),
            },
            "credentials": {
                "access_key_id": c.access_key_id,
                "access_key_secret": c.access_key_secret,
                "client_id": c.client_id,
                "client_secret": c.client_secret,
            },
            "put_semantics": self.put_semantics().to_string(),
            "export": self.export_lines(),
        });
        format!("{document}\n")
    }

    /// What the sandbox did since it started: `served 1,204 requests
    /// (87 writes); the tenant holds 160 assignments`.
    pub fn summary(&self) -> String {
        let (served, writes) = self.app.served();
        format!(
            "served {} ({}); the tenant holds {}",
            crate::report::plural(served, "request", "requests"),
            crate::report::plural(writes, "write", "writes"),
            crate::report::plural(
                self.app.store.held_count() as u64,
                "assignment",
                "assignments"
            ),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(options: SandboxOptions) -> String {
        match options.validate() {
            Err(SandboxError::InvalidOptions(reason)) => reason,
            other => panic!("{options:?} not refused: {other:?}"),
        }
    }

    #[test]
    fn a_token_ttl_or_rate_limit_past_what_the_clocks_hold_is_refused() {
        let ttl = refusal(SandboxOptions {
            token_ttl: Duration::from_secs(u64::MAX),
            ..SandboxOptions::default()
        });
        assert!(
            ttl.contains("token TTL must be at most 31536000 seconds"),
            "{ttl}"
        );
        for rps in [1e-20, 1e10, f64::NAN, f64::INFINITY, 0.0, -1.0] {
            let rate = refusal(SandboxOptions {
                rate_limit: Some(rps),
                ..SandboxOptions::default()
            });
            assert!(
                rate.contains("rate limit must be from one request a day"),
                "{rate}"
            );
        }
        for fine in [
            SandboxOptions {
                token_ttl: MAX_TOKEN_TTL,
                rate_limit: Some(MIN_RATE_LIMIT),
                ..SandboxOptions::default()
            },
            SandboxOptions {
                rate_limit: Some(MAX_RATE_LIMIT),
                ..SandboxOptions::default()
            },
        ] {
            assert!(fine.validate().is_ok(), "{fine:?}");
            assert!(
                fine.rate_limit
                    .map(server::rate_limiter)
                    .transpose()
                    .is_ok()
            );
        }
    }
}
