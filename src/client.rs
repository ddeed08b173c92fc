//! The HTTP client for the CXone Admin API (contract revision 2): one
//! reqwest client, a token that renews itself, the API host discovered from
//! the token, a token bucket for the rate, and retries with exponential
//! backoff and full jitter. Every attempt carries a fresh `X-Request-ID` and
//! a W3C `traceparent`, and is counted for the report, by endpoint.
//!
//! Whole-request answers that the caller must interpret (2xx, 400 with a
//! per-row `resultSet`, 404, 405, 409, 413...) come back as [`Response`];
//! what the caller cannot act on (exhausted retries, 401 after a renewal,
//! 403) is a [`ClientError`]. Every answer is capped in size, and every
//! piece of server text is scrubbed of secrets before it goes anywhere.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex as StdMutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{Method, StatusCode, Url, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::config::{self, ApiClient, Connection, Credentials, RetryPolicy, TokenAuth};
use crate::secret::{self, Secret};
use crate::wire;

/// Largest page asked of the bulk listings.
pub const PAGE_SIZE: u64 = 10_000;

/// Pages one listing may take before the read is called endless.
const PAGE_LIMIT: usize = 10_000;

/// What a paging error says when rows came or went between pages.
const LISTING_CHANGED: &str = "the listing changed while it was read";

/// Rows one listing may hold: with the answer-size cap, what bounds the
/// memory of a read whose pages never stop bringing new rows.
const LISTING_ROW_LIMIT: usize = 5_000_000;

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
    /// Retries ran out. `maybe_sent`: some attempt may have reached the
    /// server (a 5xx, a timeout, a dropped connection), so a write may have
    /// landed; `false` when every attempt was refused before it was read
    /// (cannot connect, 429).
    #[error("{endpoint}: {reason} (gave up after {attempts} attempts)")]
    Network {
        endpoint: String,
        reason: String,
        attempts: u32,
        maybe_sent: bool,
    },
    #[error("{endpoint}: {status}: {body}")]
    Status {
        endpoint: String,
        status: u16,
        body: String,
    },
    #[error("{endpoint}: unexpected answer: {reason}")]
    Decode { endpoint: String, reason: String },
    /// An answer larger than the cap (or one that never ends).
    #[error(
        "{endpoint}: the answer is larger than {limit} bytes (the answer-size cap); it was not read"
    )]
    TooLarge { endpoint: String, limit: usize },
    /// A listing that cannot be read to its end: pages that repeat, run
    /// past `totalRecords`, or never stop.
    #[error("{endpoint}: {reason}")]
    Paging { endpoint: String, reason: String },
    /// The settings cannot work (no API host can be found, say).
    #[error("{0}")]
    Config(String),
    /// A request whose body may only be sent until a deadline (a full set
    /// read at a given time) could not be answered before it.
    #[error(
        "{endpoint}: not retried: its body would be older than allowed ({reason}); it is built again from a fresh read"
    )]
    Expired {
        endpoint: String,
        reason: String,
        maybe_sent: bool,
    },
}

impl ClientError {
    /// Authentication, permission and configuration failures end the run
    /// (exit 3): every further request would fail the same way.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ClientError::Token { .. }
                | ClientError::Unauthorized { .. }
                | ClientError::Forbidden { .. }
                | ClientError::Config(_)
        )
    }
}

/// Why a token (or the API host) could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFailure {
    /// `invalid_grant`: the access key id or secret is wrong.
    InvalidGrant,
    /// `invalid_client`: the client id or secret is wrong.
    InvalidClient,
    /// `unauthorized_client`: the client may not use this grant.
    UnauthorizedClient,
    /// Another refusal (another OAuth error, or 401 without one).
    Refused,
    /// The token URL answered 404: it is not a token endpoint.
    NotFound,
    /// The token URL answered, but not with a token.
    NotAToken,
    /// The token endpoint could not be reached (DNS, refused, timeout), or
    /// kept failing with transient errors.
    Unreachable,
    /// The pre-issued token was rejected and cannot be renewed.
    TokenRejected,
    /// Discovery does not know the tenant (404).
    UnknownTenant,
    /// Discovery answered with something unusable (no `api_endpoint`, an
    /// `http://` host that is not loopback, not JSON).
    Discovery,
}

/// An answer for the caller to read: its status and body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub body: bytes::Bytes,
    /// Whether the answer says it is JSON (`Content-Type`): a 404 with a
    /// JSON body names an unknown id, one without is a missing endpoint.
    pub json: bool,
    /// Whether this answer came after an attempt that may have reached the
    /// server without its answer reaching us (a timeout, a dropped
    /// connection, a 5xx): a write may then have been applied twice.
    pub after_lost_attempt: bool,
}

impl Response {
    /// The body as text, for error messages: scrubbed of secrets.
    pub fn text(&self) -> String {
        body_text(&self.body)
    }

    /// The per-row `resultSet`, from any status; `None` when the body is
    /// not one.
    pub fn result_set(&self) -> Option<wire::ResultSet> {
        serde_json::from_slice::<wire::ResultSetResponse>(&self.body)
            .ok()
            .map(|r| r.result_set)
    }
}

/// The API endpoints the client counts, by template, so that a report can
/// say `3 GET /skills/agents, 2 POST /agents/skills`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// `/agents`
    Agents,
    /// `/skills`
    Skills,
    /// `/agents/{id}/skills`
    AgentSkills,
    /// `/agents/skills`
    AgentsSkills,
    /// `/skills/agents`
    SkillsAgents,
    /// `/skills/{id}/agents`
    SkillAgents,
    /// `/skills/{id}/agents/{agentId}`
    SkillAgent,
}

impl Route {
    pub fn template(self) -> &'static str {
        match self {
            Route::Agents => "/agents",
            Route::Skills => "/skills",
            Route::AgentSkills => "/agents/{id}/skills",
            Route::AgentsSkills => "/agents/skills",
            Route::SkillsAgents => "/skills/agents",
            Route::SkillAgents => "/skills/{id}/agents",
            Route::SkillAgent => "/skills/{id}/agents/{agentId}",
        }
    }
}

/// Requests sent, for the report: by method and endpoint, plus retries and
/// 429s. Attempts are counted, so a retried request counts twice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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
    /// `"GET /skills/agents"` → attempts.
    pub by_endpoint: BTreeMap<String, u64>,
}

impl RequestCounts {
    pub fn writes(&self) -> u64 {
        self.post + self.put + self.delete
    }

    pub fn total(&self) -> u64 {
        self.get + self.writes()
    }
}

/// `"POST /agents/skills"`.
pub fn endpoint_key(method: &Method, route: Route) -> String {
    format!("{method} {}", route.template())
}

#[derive(Debug, Default)]
struct Stats {
    retries: AtomicU64,
    throttled: AtomicU64,
    by_endpoint: StdMutex<BTreeMap<(Method, Route), u64>>,
}

/// The current token, and how many times it has been renewed, so that many
/// tasks hitting a 401 at once renew it once.
struct TokenState {
    token: Option<Secret>,
    expires: Option<Instant>,
    /// `expires_in` of the last exchange, as the token endpoint stated it.
    lifetime: Option<u64>,
    generation: u64,
}

/// Where the API is and how that was learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `{api_base}/inContactAPI/services/{version}`.
    pub api_root: String,
    /// Scheme, host and port of the API: where `_links.next` may point.
    pub origin: String,
    pub source: EndpointSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointSource {
    /// `api_base` was configured (flag, environment or profile).
    Configured,
    /// Found through `/.well-known/cxone-configuration`.
    Discovered {
        area: Option<String>,
        cluster: Option<String>,
    },
}

pub struct Client {
    http: reqwest::Client,
    endpoint: OnceLock<Endpoint>,
    token_url: String,
    api_version: String,
    credentials: Credentials,
    token: Mutex<TokenState>,
    /// The tenant, when a token has said (the `id_token`, or a JWT bearer
    /// token).
    tenant_id: StdMutex<Option<String>>,
    limiter: DefaultDirectRateLimiter,
    retry: RetryPolicy,
    max_answer: usize,
    stats: Stats,
    /// One trace per run, so every request of a run can be found together.
    trace_id: String,
}

impl Client {
    /// A client for the tenant: with `api_base` configured, ready at once
    /// (the token is fetched with the first request); otherwise the token
    /// is exchanged now and the API host discovered from it.
    pub async fn connect(connection: &Connection) -> Result<Client, ClientError> {
        let client = Client::new(connection)?;
        let endpoint = match &connection.api_base {
            Some(base) => Endpoint {
                api_root: config::api_root(base, &connection.api_version),
                origin: origin_of(base).unwrap_or_else(|| base.clone()),
                source: EndpointSource::Configured,
            },
            None => client.discover().await?,
        };
        info!(api_root = %endpoint.api_root, "API endpoint");
        let _ = client.endpoint.set(endpoint);
        Ok(client)
    }

    fn new(connection: &Connection) -> Result<Client, ClientError> {
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
            .map_err(|e| ClientError::Config(format!("cannot build the HTTP client: {e}")))?;
        let (preissued, tenant_id) = match &connection.credentials {
            Credentials::Token(token) => (Some(token.clone()), jwt_tenant(token)),
            Credentials::AccessKey { .. } => (None, None),
        };
        if let Credentials::AccessKey {
            client: Some(api_client),
            ..
        } = &connection.credentials
        {
            secret::remember_basic(&api_client.id, &api_client.secret);
        }
        Ok(Client {
            http,
            endpoint: OnceLock::new(),
            token_url: connection.token_url.clone(),
            api_version: connection.api_version.clone(),
            credentials: connection.credentials.clone(),
            token: Mutex::new(TokenState {
                token: preissued,
                expires: None,
                lifetime: None,
                generation: 0,
            }),
            tenant_id: StdMutex::new(tenant_id),
            limiter: RateLimiter::direct(quota(connection.rate, connection.concurrency)),
            retry: connection.retry,
            max_answer: connection.max_answer_bytes,
            stats: Stats::default(),
            trace_id: Uuid::new_v4().simple().to_string(),
        })
    }

    /// Where the API is (set by [`Client::connect`]).
    pub fn endpoint(&self) -> &Endpoint {
        self.endpoint.get_or_init(|| Endpoint {
            api_root: String::new(),
            origin: String::new(),
            source: EndpointSource::Configured,
        })
    }

    /// The tenant's id, when a token has said.
    pub fn tenant_id(&self) -> Option<String> {
        self.tenant_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn counts(&self) -> RequestCounts {
        let by = self
            .stats
            .by_endpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut counts = RequestCounts {
            retries: self.stats.retries.load(Ordering::Relaxed),
            throttled: self.stats.throttled.load(Ordering::Relaxed),
            ..RequestCounts::default()
        };
        for ((method, route), n) in by {
            match method {
                Method::GET => counts.get += n,
                Method::POST => counts.post += n,
                Method::PUT => counts.put += n,
                Method::DELETE => counts.delete += n,
                _ => {}
            }
            *counts
                .by_endpoint
                .entry(endpoint_key(&method, route))
                .or_default() += n;
        }
        counts
    }

    /// Obtains a token now (an access key is exchanged afresh) and returns
    /// its lifetime in seconds as the token endpoint stated it; `None` for a
    /// pre-issued token, whose lifetime cxskill cannot know, or an answer
    /// without `expires_in`.
    pub async fn authenticate(&self) -> Result<Option<u64>, ClientError> {
        let mut state = self.token.lock().await;
        if self.can_renew() && state.generation == 0 {
            self.exchange(&mut state).await?;
        }
        Ok(state.lifetime)
    }

    // --- Discovery ---------------------------------------------------------

    /// The API host from `/.well-known/cxone-configuration` at the token
    /// URL's origin, for the tenant the token names. The host must be
    /// https (loopback aside) before any token is sent to it.
    async fn discover(&self) -> Result<Endpoint, ClientError> {
        let failure = |kind: TokenFailure, reason: String| ClientError::Token {
            url: self.token_url.clone(),
            kind,
            reason,
        };
        if self.can_renew() {
            let mut state = self.token.lock().await;
            self.exchange(&mut state).await?;
        }
        let Some(tenant) = self.tenant_id() else {
            return Err(ClientError::Config(match self.credentials {
                Credentials::Token(_) => "no API host: the pre-issued token (CXSKILL_TOKEN) does not name its tenant (it is not a JWT with tenantId), so the API host cannot be discovered; set api_base (CXSKILL_API_BASE or --api-base), or use an access key".to_owned(),
                Credentials::AccessKey { .. } => "no API host: the token endpoint's answer has no id_token naming the tenant, so the API host cannot be discovered; set api_base (CXSKILL_API_BASE or --api-base)".to_owned(),
            }));
        };
        let origin = origin_of(&self.token_url).ok_or_else(|| {
            ClientError::Config(format!("the token URL `{}` has no host", self.token_url))
        })?;
        let mut url = Url::parse(&format!("{origin}/.well-known/cxone-configuration"))
            .map_err(|e| ClientError::Config(format!("cannot build the discovery URL: {e}")))?;
        url.query_pairs_mut().append_pair("tenantId", &tenant);
        let mut attempt = 0;
        let started = Instant::now();
        let response = loop {
            attempt += 1;
            let request_id = Uuid::new_v4();
            let sent = self
                .http
                .get(url.clone())
                .header(header::ACCEPT, "application/json")
                .header("X-Request-ID", request_id.to_string())
                .header("traceparent", self.traceparent())
                .send()
                .await;
            let status = sent.as_ref().ok().map(|r| r.status().as_u16());
            debug!(endpoint = "discovery", ?status, %request_id, attempt, "request");
            let (retry_after, reason) = match sent {
                Ok(response) if is_transient(response.status()) => (
                    retry_after(&response),
                    format!("discovery answered {}", response.status()),
                ),
                Ok(response) => break response,
                Err(e) => (None, transport_reason(&e)),
            };
            let delay = self
                .next_delay(attempt, started, retry_after, "discovery", || reason)
                .map_err(|e| failure(TokenFailure::Unreachable, e.to_string()))?;
            tokio::time::sleep(delay).await;
        };
        let status = response.status();
        let bytes = self
            .read_body(response, "discovery")
            .await
            .map_err(|e| failure(TokenFailure::Discovery, e.to_string()))?;
        if status == StatusCode::NOT_FOUND {
            return Err(failure(
                TokenFailure::UnknownTenant,
                format!(
                    "discovery at {origin} does not know tenant {tenant} (404); check that the token URL belongs to the tenant's region (FedRAMP tenants use cxone-gov.niceincontact.com), or set api_base"
                ),
            ));
        }
        if !status.is_success() {
            return Err(failure(
                TokenFailure::Discovery,
                format!(
                    "discovery at {origin} answered {status}: {}",
                    body_text(&bytes)
                ),
            ));
        }
        let found: wire::Discovery = serde_json::from_slice(&bytes).map_err(|e| {
            failure(
                TokenFailure::Discovery,
                format!(
                    "discovery at {origin} did not answer with a configuration ({})",
                    secret::scrub(&e.to_string())
                ),
            )
        })?;
        let api = found.api_endpoint.clone().ok_or_else(|| {
            failure(
                TokenFailure::Discovery,
                format!("discovery at {origin} names no api_endpoint for tenant {tenant}"),
            )
        })?;
        config::check_url("discovered API host", &api).map_err(|e| {
            failure(
                TokenFailure::Discovery,
                secret::scrub(&format!("{e}; no token was sent to it")),
            )
        })?;
        Ok(Endpoint {
            api_root: config::api_root(&api, &self.api_version),
            origin: origin_of(&api).unwrap_or(api),
            source: EndpointSource::Discovered {
                area: found.area.or(found.region),
                cluster: found.cluster,
            },
        })
    }

    // --- Catalogue reads -------------------------------------------------

    /// `GET /agents?top=&skip=`: one page.
    pub async fn agents_page(&self, top: u64, skip: u64) -> Result<wire::AgentsPage, ClientError> {
        let path = format!("/agents?top={top}&skip={skip}");
        self.get_json(Route::Agents, &path).await
    }

    /// `GET /skills?top=&skip=`: one page.
    pub async fn skills_page(&self, top: u64, skip: u64) -> Result<wire::SkillsPage, ClientError> {
        let path = format!("/skills?top={top}&skip={skip}");
        self.get_json(Route::Skills, &path).await
    }

    /// `GET /skills`, every page.
    pub async fn skills(&self) -> Result<Vec<wire::Skill>, ClientError> {
        let read = self
            .paged(
                Route::Skills,
                "/skills",
                PAGE_SIZE,
                |p: wire::SkillsPage| Page {
                    rows: p.skills.unwrap_or_default(),
                    total: p.total_records,
                    next: p.links.and_then(|l| l.next),
                    business_unit: None,
                    poll_time: None,
                    missing_list: false,
                },
                |s| s.skill_id,
            )
            .await?;
        read.complete(Route::Skills, |s| s.skill_id)
    }

    /// `GET /agents`, every page.
    pub async fn agents(&self) -> Result<Vec<wire::Agent>, ClientError> {
        let read = self
            .paged(
                Route::Agents,
                "/agents",
                PAGE_SIZE,
                |p: wire::AgentsPage| Page {
                    rows: p.agents.unwrap_or_default(),
                    total: p.total_records,
                    next: p.links.and_then(|l| l.next),
                    business_unit: None,
                    poll_time: None,
                    missing_list: false,
                },
                |a| a.agent_id,
            )
            .await?;
        read.complete(Route::Agents, |a| a.agent_id)
    }

    // --- Assignment reads ------------------------------------------------

    /// `GET /agents/{agentId}/skills`, every page. The answer is checked
    /// before it is believed: see [`AgentRead`].
    pub async fn agent_skills(&self, agent_id: u64) -> Result<AgentRead, ClientError> {
        let path = format!("/agents/{agent_id}/skills");
        let read = self
            .paged(
                Route::AgentSkills,
                &path,
                PAGE_SIZE,
                Page::of_assignments,
                |a| a.skill_id,
            )
            .await;
        let read = match read {
            Ok(read) => read,
            Err(ClientError::Status { status: 404, .. }) => return Ok(AgentRead::NotFound),
            Err(ClientError::Decode { reason, .. }) => {
                return Ok(AgentRead::Untrusted(format!(
                    "the tenant's read of agent {agent_id} is not an assignment list ({reason}); nothing is written for this agent"
                )));
            }
            Err(ClientError::Paging { reason, .. }) => {
                return Ok(AgentRead::Untrusted(format!(
                    "the tenant's read of agent {agent_id} cannot be read to its end ({reason}); nothing is written for this agent"
                )));
            }
            Err(e) => return Err(e),
        };
        if read.missing_list {
            return Ok(AgentRead::Untrusted(format!(
                "the tenant's read of agent {agent_id} has no agentSkillAssignments; nothing is written for this agent"
            )));
        }
        if let Some(reason) = &read.short {
            return Ok(AgentRead::Untrusted(format!(
                "the tenant's read of agent {agent_id} {reason}; nothing is written for this agent"
            )));
        }
        if let Some(other) = read
            .rows
            .iter()
            .filter_map(wire::Assignment::agent)
            .find(|&a| a != agent_id)
        {
            return Ok(AgentRead::Untrusted(format!(
                "the tenant's read of agent {agent_id} lists agent {other}'s skills; nothing is written for this agent"
            )));
        }
        Ok(AgentRead::Found(Listing {
            rows: read.rows,
            business_unit: read.business_unit,
            poll_time: read.poll_time,
        }))
    }

    /// `GET /agents/skills` with the three filters explicit (each defaults
    /// to `true` at the tenant), every page.
    pub async fn bulk_assignments(
        &self,
        filter: BulkFilter,
        updated_since: Option<&str>,
    ) -> Result<Listing, ClientError> {
        let mut path = format!(
            "/agents/skills?isAgentActive={}&isActive={}&isSkillActive={}",
            filter.agent_active, filter.assignment_active, filter.skill_active
        );
        if let Some(since) = updated_since {
            path.push_str("&UpdatedSince=");
            path.extend(form_urlencoded::byte_serialize(since.as_bytes()));
        }
        let key = |a: &wire::Assignment| (a.agent(), a.skill_id);
        let mut again = true;
        let read = loop {
            match self
                .paged(
                    Route::AgentsSkills,
                    &path,
                    PAGE_SIZE,
                    Page::of_assignments,
                    key,
                )
                .await
            {
                // Someone changed the tenant between two pages: once more.
                Err(e) if again && e.is_listing_changed() => {
                    debug!("{e}: reading the listing again");
                    again = false;
                }
                read => break read?,
            }
        };
        // A page without the list says nothing of the rows after it,
        // unless the tenant says there are none.
        if read.missing_list && read.total != Some(0) {
            return Err(ClientError::Paging {
                endpoint: format!("GET {path}"),
                reason:
                    "a page has no agentSkillAssignments, so the listing cannot be read to its end"
                        .to_owned(),
            });
        }
        let business_unit = read.business_unit.clone();
        let poll_time = read.poll_time.clone();
        let rows = read.complete(Route::AgentsSkills, key)?;
        Ok(Listing {
            rows,
            business_unit,
            poll_time,
        })
    }

    /// The business unit the key works in, from the first page of one
    /// assignment listing (`GET /agents/skills`, else `GET /skills/agents`
    /// for `probe_skill`); `None` when neither says.
    pub async fn business_unit(
        &self,
        probe_skill: Option<u64>,
    ) -> Result<Option<String>, ClientError> {
        let path =
            "/agents/skills?isAgentActive=true&isActive=true&isSkillActive=true&top=1&skip=0";
        let response = self
            .send(Method::GET, Route::AgentsSkills, path, None::<&()>)
            .await?;
        if response.status.is_success() && response.status != StatusCode::NO_CONTENT {
            let page: wire::AssignmentsPage = decode(path, &response)?;
            if page.business_unit_id.is_some() {
                return Ok(page.business_unit_id);
            }
        } else if !response.status.is_success() {
            return Err(status_error(path, &response));
        }
        match probe_skill {
            Some(skill) => Ok(self
                .skill_assignments(&[skill], None)
                .await?
                .listing
                .business_unit),
            None => Ok(None),
        }
    }

    /// `GET /skills/agents?skills=…`: every assignment of these skills, in
    /// one unpaged answer (the caller keeps the list short). Rows with
    /// `isAssigned: false` are dropped; unknown skills are in
    /// `invalid_skills` (206).
    pub async fn skill_assignments(
        &self,
        skills: &[u64],
        updated_since: Option<&str>,
    ) -> Result<SkillListing, ClientError> {
        let ids: Vec<String> = skills.iter().map(u64::to_string).collect();
        let mut path = format!("/skills/agents?skills={}", ids.join(","));
        if let Some(since) = updated_since {
            path.push_str("&updatedSince=");
            path.extend(form_urlencoded::byte_serialize(since.as_bytes()));
        }
        let response = self
            .send(Method::GET, Route::SkillsAgents, &path, None::<&()>)
            .await?;
        if response.status == StatusCode::NO_CONTENT {
            return Ok(SkillListing::default());
        }
        if !response.status.is_success() {
            return Err(status_error(&path, &response));
        }
        let page: wire::AssignmentsPage = decode(&path, &response)?;
        let Some(rows) = page.agent_skill_assignments else {
            return Err(ClientError::Decode {
                endpoint: format!("GET {path}"),
                reason: "no agentSkillAssignments in the answer".to_owned(),
            });
        };
        Ok(SkillListing {
            listing: Listing {
                rows: rows
                    .into_iter()
                    .filter(wire::Assignment::assigned)
                    .collect(),
                business_unit: page.business_unit_id,
                poll_time: page.last_poll_time,
            },
            invalid_skills: page
                .invalid_skills
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.skill_id)
                .collect(),
        })
    }

    /// Reads a listing page by page: `_links.next` when it points at the
    /// API's own host, else `top`/`skip`, until `totalRecords` or, without
    /// it, an empty page (a tenant may answer fewer rows than `top` asks,
    /// so a short page is no end). A page without its list ends the read,
    /// marked `missing_list` for the caller to judge. Stops with
    /// an error when a page adds nothing new, when a page repeats rows of
    /// earlier ones or `totalRecords` changes (the listing moved under the
    /// offset, so a row may have been skipped), when pages run past
    /// `totalRecords`, or after [`PAGE_LIMIT`] pages; a read that ends
    /// short of `totalRecords` is marked `short` for the caller to judge.
    /// A row listed twice on one page is the caller's to judge.
    async fn paged<P: DeserializeOwned, T, K: Eq + Hash>(
        &self,
        route: Route,
        path: &str,
        top: u64,
        split: impl Fn(P) -> Page<T>,
        key: impl Fn(&T) -> K,
    ) -> Result<Paged<T>, ClientError> {
        let paging = |reason: String| ClientError::Paging {
            endpoint: format!("GET {path}"),
            reason,
        };
        let changed = |detail: String| paging(format!("{LISTING_CHANGED} ({detail})"));
        // Every key read, and the page it was first read on.
        let mut seen: HashMap<K, usize> = HashMap::new();
        let mut out = Paged {
            rows: Vec::new(),
            total: None,
            business_unit: None,
            poll_time: None,
            short: None,
            missing_list: false,
        };
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut next: Option<String> = None;
        for page_number in 1..=PAGE_LIMIT {
            let target = match next.take() {
                Some(url) => Target::Url(url),
                None => Target::Path(format!(
                    "{path}{separator}top={top}&skip={}",
                    out.rows.len()
                )),
            };
            let response = self
                .send_to(Method::GET, route, &target, None::<&()>, None)
                .await?;
            let shown = target.shown();
            if response.status == StatusCode::NO_CONTENT {
                return Ok(out.ended(0));
            }
            if !response.status.is_success() {
                return Err(status_error(&shown, &response));
            }
            let page = split(decode(&shown, &response)?);
            if page.missing_list {
                out.missing_list = true;
            }
            if out.business_unit.is_none() {
                out.business_unit = page.business_unit;
            }
            if out.poll_time.is_none() {
                out.poll_time = page.poll_time;
            }
            if let (Some(before), Some(now)) = (out.total, page.total)
                && before != now
            {
                // Rows came or went between pages: an offset read may have
                // skipped one, so this read is not whole.
                return Err(changed(format!("totalRecords {before}, then {now}")));
            }
            if page.total.is_some() {
                out.total = page.total;
            }
            if page.rows.is_empty() {
                return Ok(out.ended(page_number));
            }
            let (mut fresh, mut repeated) = (0, 0);
            for row in &page.rows {
                match seen.entry(key(row)) {
                    Entry::Vacant(first) => {
                        first.insert(page_number);
                        fresh += 1;
                    }
                    Entry::Occupied(first) if *first.get() != page_number => repeated += 1,
                    Entry::Occupied(_) => {}
                }
            }
            if fresh == 0 {
                return Err(paging(format!(
                    "page {page_number} added no new rows (it repeats earlier pages)"
                )));
            }
            if repeated > 0 {
                // Rows were added ahead of the offset: as many rows may have
                // been skipped, even with `totalRecords` unchanged (some
                // also went).
                let rows = if repeated == 1 { "row" } else { "rows" };
                return Err(changed(format!(
                    "page {page_number} repeats {repeated} {rows} of earlier pages, so as many may have been skipped"
                )));
            }
            out.rows.extend(page.rows);
            if out.rows.len() > LISTING_ROW_LIMIT {
                return Err(paging(format!(
                    "the listing passed {LISTING_ROW_LIMIT} rows without ending"
                )));
            }
            let received = out.rows.len() as u64;
            match out.total {
                Some(total) if received > total => {
                    return Err(paging(format!(
                        "the pages hold more rows ({received}) than the totalRecords they state ({total})"
                    )));
                }
                Some(total) if received == total => return Ok(out),
                _ => {}
            }
            next = page
                .next
                .filter(|url| origin_of(url).as_deref() == Some(self.endpoint().origin.as_str()));
        }
        Err(paging(format!(
            "the listing did not end within {PAGE_LIMIT} pages"
        )))
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        route: Route,
        path: &str,
    ) -> Result<T, ClientError> {
        let response = self.send(Method::GET, route, path, None::<&()>).await?;
        if !response.status.is_success() {
            return Err(status_error(path, &response));
        }
        decode(path, &response)
    }

    // --- Sending -----------------------------------------------------------

    /// Sends one API request (path relative to the API root), retrying what
    /// is worth retrying. Statuses the caller interprets come back as a
    /// [`Response`].
    pub async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        route: Route,
        path: &str,
        body: Option<&B>,
    ) -> Result<Response, ClientError> {
        self.send_to(method, route, &Target::Path(path.to_owned()), body, None)
            .await
    }

    /// As [`Client::send`], but no attempt starts after `deadline`, the
    /// first included (it may have waited on the rate or a token): for a
    /// body built from a read that must not be older than a limit when it
    /// lands (a full-set PUT). Past it, [`ClientError::Expired`].
    pub async fn send_before<B: Serialize + ?Sized>(
        &self,
        method: Method,
        route: Route,
        path: &str,
        body: Option<&B>,
        deadline: Instant,
    ) -> Result<Response, ClientError> {
        self.send_to(
            method,
            route,
            &Target::Path(path.to_owned()),
            body,
            Some(deadline),
        )
        .await
    }

    async fn send_to<B: Serialize + ?Sized>(
        &self,
        method: Method,
        route: Route,
        target: &Target,
        body: Option<&B>,
        deadline: Option<Instant>,
    ) -> Result<Response, ClientError> {
        let endpoint = format!("{method} {}", target.shown());
        let url = match target {
            Target::Path(path) => format!("{}{path}", self.endpoint().api_root),
            Target::Url(url) => url.clone(),
        };
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
        let mut throttled: u32 = 0;
        // Attempts sent, whatever their answer.
        let mut sent_attempts: u32 = 0;
        loop {
            self.limiter.until_ready().await;
            let (token, generation) = self.token().await?;
            // Checked here, after every wait (a backoff, a renewed token,
            // the rate), whatever sent the loop round.
            if let Some(deadline) = deadline
                && Instant::now() > deadline
            {
                return Err(expired(endpoint, sent_attempts, lost_attempt));
            }
            sent_attempts += 1;
            if attempt + throttled > 0 {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
            }
            attempt += 1;
            self.count(&method, route);
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
                        %method, endpoint = route.template(), status = status.as_u16(), %request_id, attempt,
                        ms = sent.elapsed().as_millis() as u64, "request"
                    );
                    let retry_after = retry_after(&response);
                    let json = is_json(&response);
                    match self.read_body(response, &endpoint).await {
                        Err(BodyError::TooLarge) => {
                            return Err(ClientError::TooLarge {
                                endpoint,
                                limit: self.max_answer,
                            });
                        }
                        Err(BodyError::Cut(e)) => {
                            lost_attempt = true;
                            warn!(%method, endpoint = route.template(), %request_id, "answer cut off: {e}");
                            self.next_delay(attempt, started, None, &endpoint, || {
                                format!("answer cut off: {e}")
                            })
                            .map_err(|e| e.maybe_sent(true))?
                        }
                        Ok(bytes) => match status {
                            StatusCode::UNAUTHORIZED if !renewed && self.can_renew() => {
                                renewed = true;
                                attempt -= 1;
                                warn!(%method, endpoint = route.template(), %request_id, "401: renewing the token and retrying once");
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
                                // Throttling is waited out within the time
                                // budget; it does not use up an attempt.
                                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                                attempt -= 1;
                                throttled += 1;
                                warn!(%method, endpoint = route.template(), %request_id, ?retry_after, "429: throttled by the tenant");
                                self.throttle_delay(
                                    throttled,
                                    started,
                                    retry_after,
                                    &endpoint,
                                    || format!("429 Too Many Requests: {}", body_text(&bytes)),
                                )
                                .map_err(|e| e.maybe_sent(lost_attempt))?
                            }
                            status if is_transient(status) => {
                                // A write answered so may or may not have
                                // landed (the contract): settle it by reading.
                                lost_attempt = true;
                                warn!(%method, endpoint = route.template(), %request_id, status = status.as_u16(), "transient server error");
                                self.next_delay(attempt, started, retry_after, &endpoint, || {
                                    format!("{status}: {}", body_text(&bytes))
                                })
                                .map_err(|e| e.maybe_sent(true))?
                            }
                            _ => {
                                return Ok(Response {
                                    status,
                                    body: bytes,
                                    json,
                                    after_lost_attempt: lost_attempt,
                                });
                            }
                        },
                    }
                }
                Err(e) => {
                    // Unless it never connected, the request may have
                    // reached the server: a write may have been applied
                    // without our hearing of it.
                    let reached = !e.is_connect();
                    lost_attempt |= reached;
                    let reason = transport_reason(&e);
                    warn!(%method, endpoint = route.template(), %request_id, attempt, "{reason}");
                    self.next_delay(attempt, started, None, &endpoint, || reason.clone())
                        .map_err(|e| e.maybe_sent(lost_attempt))?
                }
            };
            if let Some(deadline) = deadline
                && Instant::now() + retry_in > deadline
            {
                return Err(expired(endpoint, sent_attempts, lost_attempt));
            }
            tokio::time::sleep(retry_in).await;
        }
    }

    /// Reads an answer's body, at most the answer-size cap.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        endpoint: &str,
    ) -> Result<bytes::Bytes, BodyError> {
        if response
            .content_length()
            .is_some_and(|n| n > self.max_answer as u64)
        {
            warn!(
                endpoint,
                limit = self.max_answer,
                "answer larger than the cap"
            );
            return Err(BodyError::TooLarge);
        }
        let mut body = bytes::BytesMut::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.max_answer {
                        warn!(
                            endpoint,
                            limit = self.max_answer,
                            "answer larger than the cap"
                        );
                        return Err(BodyError::TooLarge);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body.freeze()),
                Err(e) => return Err(BodyError::Cut(transport_reason(&e))),
            }
        }
    }

    /// How long to wait before the next attempt, or the error to give up
    /// with when attempts or the time budget are spent. A `Retry-After`
    /// from the server wins over the backoff; one longer than
    /// [`RetryPolicy::max_retry_after`], or than what is left of the
    /// budget, cannot be honoured: give up now rather than sleep past it.
    fn next_delay(
        &self,
        attempt: u32,
        started: Instant,
        retry_after: Option<Duration>,
        endpoint: &str,
        reason: impl FnOnce() -> String,
    ) -> Result<Duration, ClientError> {
        let delay = self.wait(retry_after, attempt);
        if attempt >= self.retry.max_attempts || self.too_late(started, delay) {
            return Err(self.gave_up(endpoint, attempt, retry_after, reason));
        }
        Ok(delay)
    }

    /// The wait after a 429: `Retry-After` (at most the ceiling), else the
    /// backoff; only the time budget bounds how often.
    fn throttle_delay(
        &self,
        throttled: u32,
        started: Instant,
        retry_after: Option<Duration>,
        endpoint: &str,
        reason: impl FnOnce() -> String,
    ) -> Result<Duration, ClientError> {
        let delay = self.wait(retry_after, throttled);
        if self.too_late(started, delay) {
            return Err(self.gave_up(endpoint, throttled, retry_after, reason));
        }
        Ok(delay)
    }

    fn wait(&self, retry_after: Option<Duration>, attempt: u32) -> Duration {
        retry_after
            .map(|d| d.max(Duration::from_millis(1)))
            .unwrap_or_else(|| backoff(&self.retry, attempt))
    }

    fn too_late(&self, started: Instant, delay: Duration) -> bool {
        delay > self.retry.max_retry_after
            || started.elapsed().saturating_add(delay) > self.retry.budget
    }

    fn gave_up(
        &self,
        endpoint: &str,
        attempts: u32,
        retry_after: Option<Duration>,
        reason: impl FnOnce() -> String,
    ) -> ClientError {
        let mut reason = reason();
        if let Some(wait) = retry_after.filter(|w| *w > self.retry.max_retry_after) {
            reason.push_str(&format!(
                "; the tenant asks to wait {} s (Retry-After), more than the {} s cxskill waits at a time",
                wait.as_secs(),
                self.retry.max_retry_after.as_secs()
            ));
        }
        ClientError::Network {
            endpoint: endpoint.to_owned(),
            reason,
            attempts,
            maybe_sent: false,
        }
    }

    fn count(&self, method: &Method, route: Route) {
        *self
            .stats
            .by_endpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((method.clone(), route))
            .or_default() += 1;
    }

    /// `00-{trace}-{span}-01`: the run's trace id, a fresh span per attempt.
    fn traceparent(&self) -> String {
        let span = Uuid::new_v4().simple().to_string();
        format!("00-{}-{}-01", self.trace_id, &span[..16])
    }

    fn can_renew(&self) -> bool {
        matches!(self.credentials, Credentials::AccessKey { .. })
    }

    // --- Tokens ------------------------------------------------------------

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

    /// The OAuth 2.0 password grant of the contract: the access key as
    /// username and password, and the client, when one is configured, in
    /// the body or as HTTP Basic.
    async fn exchange(&self, state: &mut TokenState) -> Result<(), ClientError> {
        let Credentials::AccessKey {
            access_key_id,
            access_key_secret,
            client,
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
        let mut form = vec![
            ("grant_type", "password"),
            ("username", access_key_id.as_str()),
            ("password", access_key_secret.expose()),
        ];
        if let Some(ApiClient {
            id,
            secret,
            auth: TokenAuth::Body,
        }) = client
        {
            form.push(("client_id", id.as_str()));
            form.push(("client_secret", secret.expose()));
        }
        let mut attempt = 0;
        let started = Instant::now();
        let response = loop {
            attempt += 1;
            self.limiter.until_ready().await;
            let request_id = Uuid::new_v4();
            let mut request = self
                .http
                .post(&self.token_url)
                .header(header::ACCEPT, "application/json")
                .header("X-Request-ID", request_id.to_string())
                .header("traceparent", self.traceparent())
                .form(&form);
            if let Some(ApiClient {
                id,
                secret,
                auth: TokenAuth::Basic,
            }) = client
            {
                request = request.basic_auth(id, Some(secret.expose()));
            }
            let sent = request.send().await;
            let status = sent.as_ref().ok().map(|r| r.status().as_u16());
            debug!(endpoint = "token", ?status, %request_id, attempt, "request");
            let (retry_after, reason) = match sent {
                Ok(response) if is_transient(response.status()) => (
                    retry_after(&response),
                    format!("the token endpoint answered {}", response.status()),
                ),
                Ok(response) => break response,
                Err(e) => (None, transport_reason(&e)),
            };
            let delay = self
                .next_delay(attempt, started, retry_after, "token", || reason)
                .map_err(|e| token_error(TokenFailure::Unreachable, e.to_string()))?;
            tokio::time::sleep(delay).await;
        };
        let status = response.status();
        let bytes = self
            .read_body(response, "token")
            .await
            .map_err(|e| token_error(TokenFailure::Unreachable, e.to_string()))?;
        if !status.is_success() {
            let (kind, reason) = token_refusal(status, &bytes);
            return Err(token_error(kind, reason));
        }
        let answer: wire::TokenResponse = serde_json::from_slice(&bytes).map_err(|e| {
            token_error(
                TokenFailure::NotAToken,
                format!(
                    "the token URL answered {status} but not with a token ({}); check the token URL (token_url, CXSKILL_TOKEN_URL or --token-url)",
                    secret::scrub(&e.to_string())
                ),
            )
        })?;
        if let Some(tenant) = answer
            .id_token
            .as_ref()
            .and_then(jwt_tenant)
            .or_else(|| jwt_tenant(&answer.access_token))
        {
            *self
                .tenant_id
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(tenant);
        }
        state.token = Some(answer.access_token);
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

/// Where a request goes: a path under the API root, or a `_links.next` URL
/// already checked to be on the API's own host.
enum Target {
    Path(String),
    Url(String),
}

impl Target {
    /// For messages: the path, or the URL's path and query (a `next`
    /// link is server text: scrubbed).
    fn shown(&self) -> String {
        match self {
            Target::Path(path) => path.clone(),
            Target::Url(url) => secret::scrub(&Url::parse(url).map_or_else(
                |_| url.clone(),
                |u| match u.query() {
                    Some(q) => format!("{}?{q}", u.path()),
                    None => u.path().to_owned(),
                },
            )),
        }
    }
}

enum BodyError {
    TooLarge,
    Cut(String),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge => f.write_str("the answer is larger than the answer-size cap"),
            BodyError::Cut(reason) => write!(f, "the answer was cut off: {reason}"),
        }
    }
}

impl ClientError {
    /// A listing that changed while it was read page by page: reading it
    /// again may find it whole.
    fn is_listing_changed(&self) -> bool {
        matches!(self, ClientError::Paging { reason, .. } if reason.starts_with(LISTING_CHANGED))
    }

    fn maybe_sent(self, sent: bool) -> ClientError {
        match self {
            ClientError::Network {
                endpoint,
                reason,
                attempts,
                ..
            } => ClientError::Network {
                endpoint,
                reason,
                attempts,
                maybe_sent: sent,
            },
            other => other,
        }
    }
}

/// The filters of `GET /agents/skills`, each `true` by default at the
/// tenant: inactive agents, inactive assignments and inactive skills each
/// take a read with their filter `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BulkFilter {
    pub agent_active: bool,
    pub assignment_active: bool,
    pub skill_active: bool,
}

/// What an assignment read returned.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub rows: Vec<wire::Assignment>,
    pub business_unit: Option<String>,
    /// The server's time of the read (`lastPollTime`), for `updatedSince`.
    pub poll_time: Option<String>,
}

/// `GET /skills/agents`: the rows, and the listed skills the tenant does
/// not know.
#[derive(Debug, Clone, Default)]
pub struct SkillListing {
    pub listing: Listing,
    pub invalid_skills: Vec<u64>,
}

/// The one-agent read, judged.
#[derive(Debug, Clone)]
pub enum AgentRead {
    Found(Listing),
    /// 404: no such agent.
    NotFound,
    /// An answer not to build a full set from, and why: it ends short of
    /// `totalRecords`, lacks the list, names another agent, or cannot be
    /// paged to its end.
    Untrusted(String),
}

/// One page of a listing, as [`Client::paged`] needs it.
struct Page<T> {
    rows: Vec<T>,
    total: Option<u64>,
    next: Option<String>,
    business_unit: Option<String>,
    poll_time: Option<String>,
    missing_list: bool,
}

impl Page<wire::Assignment> {
    fn of_assignments(p: wire::AssignmentsPage) -> Page<wire::Assignment> {
        Page {
            missing_list: p.agent_skill_assignments.is_none(),
            rows: p.agent_skill_assignments.unwrap_or_default(),
            total: p.total_records,
            next: p.links.and_then(|l| l.next),
            business_unit: p.business_unit_id,
            poll_time: p.last_poll_time,
        }
    }
}

/// A listing read to its end (or to where it stopped short).
struct Paged<T> {
    rows: Vec<T>,
    total: Option<u64>,
    business_unit: Option<String>,
    poll_time: Option<String>,
    /// Why the read ended before `totalRecords`, if it did.
    short: Option<String>,
    missing_list: bool,
}

impl<T> Paged<T> {
    /// Ends the read at an empty page (or a 204): short when the tenant
    /// promised more.
    fn ended(mut self, pages: usize) -> Paged<T> {
        let received = self.rows.len() as u64;
        if let Some(total) = self.total.filter(|&t| received < t) {
            self.short = Some(format!(
                "ends after {received} of the {total} rows its totalRecords states (page {pages} was empty)"
            ));
        }
        self
    }

    /// The rows of a listing that must be whole, without duplicates; a
    /// short read is an error, and so is a row listed twice on a page when
    /// that leaves fewer distinct rows than `totalRecords` ([`Client::paged`]
    /// has already refused rows repeated across pages).
    fn complete<K: Eq + Hash>(
        self,
        route: Route,
        key: impl Fn(&T) -> K,
    ) -> Result<Vec<T>, ClientError> {
        if let Some(reason) = self.short {
            return Err(ClientError::Paging {
                endpoint: format!("GET {}", route.template()),
                reason: format!("the listing {reason}"),
            });
        }
        let mut seen = HashSet::with_capacity(self.rows.len());
        let mut rows = Vec::with_capacity(self.rows.len());
        for row in self.rows {
            if seen.insert(key(&row)) {
                rows.push(row);
            }
        }
        if let Some(total) = self.total
            && (rows.len() as u64) < total
        {
            return Err(ClientError::Paging {
                endpoint: format!("GET {}", route.template()),
                reason: format!(
                    "the listing repeats rows: {} distinct of the {total} rows totalRecords states",
                    rows.len()
                ),
            });
        }
        Ok(rows)
    }
}

/// The `tenantId` claim of a JWT's payload, read without checking the
/// signature (the token came over TLS from the issuer cxskill asked).
pub fn jwt_tenant(token: &Secret) -> Option<String> {
    let payload = token.expose().split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims
        .get("tenantId")
        .or_else(|| claims.get("tenant_id"))
        .and_then(|v| v.as_str())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// `https://host:port` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    parsed.host_str()?;
    Some(parsed.origin().ascii_serialization())
}

/// What a non-2xx answer of the token endpoint means, in words a user can
/// act on. The body is OAuth's `{"error", "error_description"}` when the
/// endpoint is one; anything else is quoted (scrubbed).
fn token_refusal(status: StatusCode, bytes: &[u8]) -> (TokenFailure, String) {
    let oauth = serde_json::from_slice::<wire::ApiError>(bytes)
        .ok()
        .filter(|e| !e.error.is_empty());
    let where_from = "(`cxskill config show` says where each setting comes from)";
    match (status, oauth) {
        (StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST, Some(error)) => {
            let description = error
                .error_description
                .map(|d| format!(": {}", secret::scrub(&d)))
                .unwrap_or_default();
            let code = secret::scrub(&error.error);
            let said = format!("{} {code}{description}", status.as_u16());
            let (kind, advice) = match error.error.as_str() {
                "invalid_grant" => (
                    TokenFailure::InvalidGrant,
                    "the access key id or secret is wrong: check CXSKILL_ACCESS_KEY_ID and CXSKILL_ACCESS_KEY_SECRET",
                ),
                "invalid_client" => (
                    TokenFailure::InvalidClient,
                    "the client id or secret is wrong: check CXSKILL_CLIENT_ID and CXSKILL_CLIENT_SECRET (and token_auth, body or basic)",
                ),
                "unauthorized_client" => (
                    TokenFailure::UnauthorizedClient,
                    "the API client is not allowed to use the password grant with access keys: ask the CXone administrator to allow it, or use another client",
                ),
                _ => (
                    TokenFailure::Refused,
                    "the token endpoint refused the request: check the access key and the client",
                ),
            };
            (kind, format!("{advice} ({said}) {where_from}"))
        }
        (StatusCode::UNAUTHORIZED, None) => (
            TokenFailure::Refused,
            format!(
                "the token endpoint refused the access key or client (401: {}): check the access key id and secret and the client id and secret {where_from}",
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

fn is_json(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"))
}

/// Overload and transient trouble, as the contract lists it.
fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504 | 509 | 529)
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
    secret::scrub(&reason)
}

/// Server text as shown to people: trimmed, scrubbed of secrets, and cut
/// to a readable length.
pub fn body_text(bytes: &[u8]) -> String {
    const SHOWN: usize = 2_000;
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let scrubbed = secret::scrub(text);
    if scrubbed.len() <= SHOWN {
        return scrubbed;
    }
    let mut cut = SHOWN;
    while !scrubbed.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &scrubbed[..cut], scrubbed.len())
}

fn status_error(path: &str, response: &Response) -> ClientError {
    ClientError::Status {
        endpoint: format!("GET {path}"),
        status: response.status.as_u16(),
        body: response.text(),
    }
}

/// A request whose deadline passed after `attempts` attempts;
/// `maybe_sent` when one of them may have landed.
fn expired(endpoint: String, attempts: u32, maybe_sent: bool) -> ClientError {
    ClientError::Expired {
        endpoint,
        reason: format!("{attempts} attempts, none answered in time"),
        maybe_sent,
    }
}

/// The answer as `T`, or why not. A serde error quotes the value it
/// could not read, which is server text: scrubbed.
fn decode<T: DeserializeOwned>(path: &str, response: &Response) -> Result<T, ClientError> {
    serde_json::from_slice(&response.body).map_err(|e| ClientError::Decode {
        endpoint: format!("GET {path}"),
        reason: secret::scrub(&e.to_string()),
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
        let exhausted = ClientError::Network {
            endpoint: "POST /agents/skills".into(),
            reason: "503".into(),
            attempts: 8,
            maybe_sent: true,
        };
        assert!(!exhausted.is_fatal(), "one bad request does not stop a run");
    }

    #[test]
    fn the_tenant_is_read_from_a_jwt_payload_without_its_signature() {
        let payload = URL_SAFE_NO_PAD
            .encode(br#"{"tenantId":"11111111-2222-3333-4444-555555555555","sub":"x"}"#);
        let token = Secret::new(format!("eyJhbGciOiJub25lIn0.{payload}.sig"));
        assert_eq!(
            jwt_tenant(&token).as_deref(),
            Some("11111111-2222-3333-4444-555555555555")
        );
        assert_eq!(jwt_tenant(&Secret::new("opaque-token")), None);
        assert_eq!(jwt_tenant(&Secret::new("a.!!!.c")), None);
    }

    #[test]
    fn token_refusals_name_the_wrong_credential() {
        let refusal = |body: &str| token_refusal(StatusCode::BAD_REQUEST, body.as_bytes());
        let (kind, text) = refusal(r#"{"error":"invalid_grant","error_description":"bad key"}"#);
        assert_eq!(kind, TokenFailure::InvalidGrant);
        assert!(text.contains("access key id or secret is wrong"), "{text}");
        assert_eq!(
            refusal(r#"{"error":"invalid_client"}"#).0,
            TokenFailure::InvalidClient
        );
        assert_eq!(
            refusal(r#"{"error":"unauthorized_client"}"#).0,
            TokenFailure::UnauthorizedClient
        );
        assert_eq!(
            token_refusal(StatusCode::NOT_FOUND, b"nope").0,
            TokenFailure::NotFound
        );
    }

    #[test]
    fn body_text_is_scrubbed_and_bounded() {
        let long = "x".repeat(10_000);
        let shown = body_text(long.as_bytes());
        assert!(shown.len() < 2_100, "{}", shown.len());
        assert_eq!(
            body_text(b"echo: Authorization: Bearer abc.def.ghi"),
            "echo: Authorization: Bearer (redacted)"
        );
    }
}
