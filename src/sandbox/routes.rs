//! The endpoints of `shared/cxone-api.md` (revision 2), as axum handlers.
//!
//! Authentication, rate limiting and faults happen before a request gets
//! here (see `server.rs`); a handler only checks what the endpoint itself
//! takes, in this order: whether the tenant offers it (405), media type
//! (415), body (400), size (413), path (404), query (400).

use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use uuid::Uuid;

use super::body::{self, Ids, List, SetRow, UpsertItem, Write};
use super::reply::{MAX_ROWS, Rejection};
use super::server::{App, BODY_LIMIT};
use super::shapes::{
    AgentRemoval, AgentRemovalSet, AgentRemovalsAnswer, AgentResult, AgentResultSet,
    AgentResultsAnswer, AgentRow, AgentSkillRow, AgentSkillsPage, AgentsPage, AllAssignmentsPage,
    AssignmentRow, CxoneConfiguration, InvalidSkill, Links, SandboxState, SkillAgentRow,
    SkillAgentsPage, SkillResult, SkillResultSet, SkillResultsAnswer, SkillRow, SkillsAgentsAnswer,
    SkillsAgentsRow, SkillsPage, Stamp, UpsertAnswer, UpsertResult, UpsertResultSet,
    proficiency_name,
};
use super::store::{Filter, Outcome, RowError, Scope};
use super::tenant::{Agent, Skill};
use super::{auth, reply};
use crate::model::{AgentRef, SkillId};

/// Page size of the listings when `top` is absent. Small enough that a
/// client which forgets to page is caught on a tenant of a few hundred
/// agents.
const DEFAULT_TOP: usize = 100;
/// The largest page of the listings other than the one-agent read, which
/// caps `top` at its own page size instead.
const MAX_TOP: usize = 10_000;

pub(super) fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/agents", get(list_agents))
        .route("/skills", get(list_skills))
        .route("/agents/skills", get(all_assignments).post(upsert))
        .route(
            "/agents/{agent}/skills",
            get(agent_skills)
                .post(assign_skills)
                .put(modify_skills)
                .delete(remove_skills),
        )
        .route("/skills/agents", get(skills_agents))
        .route(
            "/skills/{skill}/agents",
            get(skill_agents)
                .post(assign_agents)
                .put(modify_agents)
                .delete(remove_agents),
        )
        .route("/skills/{skill}/agents/{agent}", delete(remove_pair));
    Router::new()
        .nest(&app.api_prefix, api)
        .route("/auth/token", post(token))
        .route("/.well-known/cxone-configuration", get(discovery))
        .route("/__sandbox/state", get(state))
        .route("/__sandbox/requests", get(requests))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(app)
}

// --- token and discovery ---------------------------------------------------------

async fn token(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let base = app.base_for(&headers);
    let issuer = auth::Issuer {
        tokens: &app.tokens,
        keys: &app.access_keys,
        clients: &app.clients,
        base: &base,
    };
    auth::exchange(&issuer, &headers, &body)
}

/// `GET /.well-known/cxone-configuration?tenantId=`: no token needed.
/// Every endpoint it names is the sandbox itself, as the client addressed
/// it.
async fn discovery(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Rejection> {
    let params = Params::parse(query.as_deref());
    let asked = params.get("tenantId").ok_or_else(|| {
        Rejection::InvalidParameter("Missing 'tenantId': the UUID from the id_token".into())
    })?;
    let known =
        asked.len() == 36 && Uuid::try_parse(asked).is_ok_and(|uuid| uuid == app.tenant.tenant_id);
    if !known {
        return Err(Rejection::NotFound(format!("Tenant '{asked}' not found")));
    }
    let base = app.base_for(&headers).into_owned();
    let host = base.trim_start_matches("http://");
    let domain = host
        .rsplit_once(':')
        .map_or(host, |(name, _)| name)
        .to_owned();
    Ok(reply::json(
        StatusCode::OK,
        &CxoneConfiguration {
            tenant_id: app.tenant.tenant_id.hyphenated().to_string(),
            area: app.tenant.area.clone(),
            cluster: app.tenant.cluster.clone(),
            region: app.tenant.area.clone(),
            domain: domain.clone(),
            globaldomain: domain.clone(),
            api_endpoint: base.clone(),
            auth_endpoint: base.clone(),
            ui_endpoint: base,
            private: false,
            uh_domain: domain.clone(),
            acd_domain: domain,
        },
    ))
}

// --- reads -----------------------------------------------------------------------------

async fn list_agents(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Response, Rejection> {
    let params = Params::parse(query.as_deref());
    let (top, skip) = params.paging(DEFAULT_TOP, Top::Limit(MAX_TOP))?;
    let since = params.since("updateSince")?;
    let is_active = params.flag("isActive")?;
    let page = app
        .store
        .agents(params.search(), is_active, since, top, skip);
    let links = app.links(&headers, &uri, &params, top, skip, page.total);
    let agents: Vec<AgentRow<'_>> = page
        .items
        .iter()
        .map(|a| AgentRow {
            agent_id: a.agent_id,
            user_id: &a.user_id_text,
            user_name: &a.user_name,
            email_address: &a.email_address,
            first_name: &a.first_name,
            last_name: &a.last_name,
            is_active: a.is_active,
        })
        .collect();
    let capacity = 512 + agents.len() * 300;
    Ok(reply::json_sized(
        StatusCode::OK,
        &AgentsPage {
            total_records: page.total,
            business_unit_id: app.tenant.business_unit_id,
            last_poll_time: Stamp(page.poll),
            agents,
            links,
        },
        capacity,
    ))
}

async fn list_skills(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Response, Rejection> {
    let params = Params::parse(query.as_deref());
    let (top, skip) = params.paging(DEFAULT_TOP, Top::Limit(MAX_TOP))?;
    let page = app.store.skills(params.search(), top, skip);
    let links = app.links(&headers, &uri, &params, top, skip, page.total);
    let skills: Vec<SkillRow<'_>> = page
        .items
        .iter()
        .map(|s| SkillRow {
            skill_id: s.skill_id,
            skill_name: &s.skill_name,
            media_type_id: s.media_type_id,
            media_type_name: s.media_type_name,
            is_active: s.is_active,
        })
        .collect();
    let capacity = 512 + skills.len() * 200;
    Ok(reply::json_sized(
        StatusCode::OK,
        &SkillsPage {
            total_records: page.total,
            business_unit_id: app.tenant.business_unit_id,
            last_poll_time: Stamp(page.poll),
            skills,
            links,
        },
        capacity,
    ))
}

/// `GET /agents/{agentId|userId}/skills`: paged, `top` capped at the
/// page size; no filter has a default.
async fn agent_skills(
    State(app): State<Arc<App>>,
    Path(agent): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Response, Rejection> {
    let agent = find_agent(&app, &agent)?;
    let params = Params::parse(query.as_deref());
    let (top, skip) = params.paging(app.agent_skills_page, Top::Cap(app.agent_skills_page))?;
    let filter = Filter {
        updated_since: params.since("updatedSince")?,
        is_active: params.flag("isAssignedSkillActive")?,
        is_skill_active: params.flag("isSkillActive")?,
        is_agent_active: None,
    };
    let page = app
        .store
        .assignments(Scope::Agent(agent.agent_id), &filter, top, skip);
    let links = app.links(&headers, &uri, &params, top, skip, page.total);
    let rows: Vec<AgentSkillRow<'_>> = page
        .items
        .iter()
        .map(|v| AgentSkillRow {
            agent_id_alt: v.agent.agent_id,
            user_id: &v.agent.user_id_text,
            first_name: &v.agent.first_name,
            last_name: &v.agent.last_name,
            skill_id: v.skill.skill_id,
            skill_name: &v.skill.skill_name,
            media_type_id: v.skill.media_type_id,
            media_type_name: v.skill.media_type_name,
            is_outbound: false,
            agent_proficiency_value: v.held.proficiency.get(),
            agent_proficiency_name: proficiency_name(v.held.proficiency.get()),
            is_active: v.held.is_active,
            is_skill_active: v.skill.is_active,
            last_update_time: Stamp(v.held.updated),
        })
        .collect();
    let capacity = 512 + rows.len() * 400;
    Ok(reply::json_sized(
        StatusCode::OK,
        &AgentSkillsPage {
            total_records: page.total,
            business_unit_id: app.tenant.business_unit_id,
            last_poll_time: Stamp(page.poll),
            agent_skill_assignments: rows,
            links,
        },
        capacity,
    ))
}

/// `GET /agents/skills`: `isAgentActive`, `isActive` and `isSkillActive`
/// each default to true, as published; 204 when nothing matches.
async fn all_assignments(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Response, Rejection> {
    let params = Params::parse(query.as_deref());
    let (top, skip) = params.paging(DEFAULT_TOP, Top::Limit(MAX_TOP))?;
    let filter = Filter {
        updated_since: params.since("UpdatedSince")?,
        is_active: Some(params.flag("isActive")?.unwrap_or(true)),
        is_agent_active: Some(params.flag("isAgentActive")?.unwrap_or(true)),
        is_skill_active: Some(params.flag("isSkillActive")?.unwrap_or(true)),
    };
    let page = app.store.assignments(Scope::All, &filter, top, skip);
    if page.total == 0 {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let links = app.links(&headers, &uri, &params, top, skip, page.total);
    let rows: Vec<AssignmentRow<'_>> = page
        .items
        .iter()
        .map(|v| AssignmentRow {
            agent_id: v.agent.agent_id,
            agent_name: &v.agent.agent_name,
            skill_id: v.skill.skill_id,
            skill_name: &v.skill.skill_name,
            media_type: v.skill.media_type_id,
            media_type_name: v.skill.media_type_name,
            is_outbound: false,
            agent_proficiency_value: v.held.proficiency.get(),
            agent_proficiency_name: proficiency_name(v.held.proficiency.get()),
            is_active: v.held.is_active,
            is_agent_active: v.agent.is_active,
            is_skill_active: v.skill.is_active,
            last_update_time: Stamp(v.held.updated),
        })
        .collect();
    let capacity = 512 + rows.len() * 400;
    Ok(reply::json_sized(
        StatusCode::OK,
        &AllAssignmentsPage {
            total_records: page.total,
            business_unit_id: app.tenant.business_unit_id.to_string(),
            last_poll_time: Stamp(page.poll),
            agent_skill_assignments: rows,
            links,
        },
        capacity,
    ))
}

/// `GET /skills/agents?skills=`: not paged; every assignment of the known
/// skills, active or not, of agents active or not; 206 when some listed
/// skills are unknown.
async fn skills_agents(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Result<Response, Rejection> {
    let params = Params::parse(query.as_deref());
    let list = params
        .get("skills")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            Rejection::InvalidParameter(
                "Missing 'skills': a comma-separated list of skill ids".into(),
            )
        })?;
    let mut known = HashSet::new();
    let mut invalid = Vec::new();
    for part in list.split(',') {
        let id = part
            .trim()
            .parse::<SkillId>()
            .map(SkillId::get)
            .map_err(|_| {
                Rejection::InvalidParameter(format!(
                    "'skills' holds `{}`, which is not a skill id (a positive integer)",
                    part.trim()
                ))
            })?;
        if app.store.skill(id).is_some() {
            known.insert(id);
        } else if !invalid.contains(&id) {
            invalid.push(id);
        }
    }
    let filter = Filter {
        updated_since: params.since("updatedSince")?,
        ..Filter::default()
    };
    let page = app
        .store
        .assignments(Scope::Skills(&known), &filter, usize::MAX, 0);
    let rows: Vec<SkillsAgentsRow<'_>> = page
        .items
        .iter()
        .map(|v| SkillsAgentsRow {
            agent_id: v.agent.agent_id,
            agent_name: &v.agent.agent_name,
            skill_id: v.skill.skill_id,
            skill_name: &v.skill.skill_name,
            media_type: v.skill.media_type_id,
            media_type_name: v.skill.media_type_name,
            is_outbound: false,
            agent_proficiency_value: v.held.proficiency.get(),
            agent_proficiency_name: proficiency_name(v.held.proficiency.get()),
            is_active: v.held.is_active,
            is_assigned: true,
            is_skill_active: v.skill.is_active,
            last_update_time: Stamp(v.held.updated),
        })
        .collect();
    let status = if invalid.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::PARTIAL_CONTENT
    };
    let capacity = 512 + rows.len() * 400;
    Ok(reply::json_sized(
        status,
        &SkillsAgentsAnswer {
            business_unit_id: app.tenant.business_unit_id,
            last_poll_time: Stamp(page.poll),
            agent_skill_assignments: rows,
            invalid_skills: invalid
                .into_iter()
                .map(|skill_id| InvalidSkill { skill_id })
                .collect(),
        },
        capacity,
    ))
}

/// `GET /skills/{skillId}/agents`: paged; 204 when the skill has no
/// agents (or none updated since).
async fn skill_agents(
    State(app): State<Arc<App>>,
    Path(skill): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Response, Rejection> {
    let skill = find_skill(&app, &skill)?;
    let params = Params::parse(query.as_deref());
    let (top, skip) = params.paging(DEFAULT_TOP, Top::Limit(MAX_TOP))?;
    let filter = Filter {
        updated_since: params.since("updatedSince")?,
        ..Filter::default()
    };
    let page = app
        .store
        .assignments(Scope::Skill(skill.skill_id), &filter, top, skip);
    if page.total == 0 {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let links = app.links(&headers, &uri, &params, top, skip, page.total);
    let rows: Vec<SkillAgentRow<'_>> = page
        .items
        .iter()
        .map(|v| SkillAgentRow {
            agent_id: v.agent.agent_id,
            user_id: &v.agent.user_id_text,
            first_name: &v.agent.first_name,
            middle_name: "",
            last_name: &v.agent.last_name,
            agent_proficiency_value: v.held.proficiency.get(),
            agent_proficiency_name: proficiency_name(v.held.proficiency.get()),
            campaign_id: 0,
            campaign_name: "",
            email_from_address: "",
            internal_id: "",
            is_active: v.held.is_active,
            is_skill_active: v.skill.is_active,
            is_dialer: false,
            is_natural_calling: false,
            is_natural_calling_running: false,
            is_outbound: false,
            last_update_time: Stamp(v.held.updated),
            media_type_id: v.skill.media_type_id,
            media_type_name: v.skill.media_type_name,
            notes: "",
            outbound_strategy: "",
            priority_blending: false,
            require_disposition: false,
            script_disposition: false,
            skill_id: v.skill.skill_id,
            skill_name: &v.skill.skill_name,
            team_id: 0,
            team_name: "",
            use_acw: false,
            use_disposition: false,
            use_secondary_dispositions: false,
            screen_pop_trigger_event: "",
        })
        .collect();
    let capacity = 512 + rows.len() * 900;
    Ok(reply::json_sized(
        StatusCode::OK,
        &SkillAgentsPage {
            total_records: page.total,
            business_unit_id: app.tenant.business_unit_id,
            last_poll_time: Stamp(page.poll),
            agent_skill_assignments: rows,
            links,
        },
        capacity,
    ))
}

// --- writes on one agent -------------------------------------------------------------------

async fn assign_skills(
    State(app): State<Arc<App>>,
    Path(agent): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    let (agent, rows) = agent_write(&app, &agent, &headers, &body, Write::Post)?;
    let outcomes = app.store.assign_to_agent(agent.agent_id, &rows);
    Ok(skill_results(&app, outcomes))
}

async fn modify_skills(
    State(app): State<Arc<App>>,
    Path(agent): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    let (agent, rows) = agent_write(&app, &agent, &headers, &body, Write::Put)?;
    let outcomes = app
        .store
        .modify_agent(agent.agent_id, &rows, app.put_semantics());
    Ok(skill_results(&app, outcomes))
}

async fn remove_skills(
    State(app): State<Arc<App>>,
    Path(agent): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    require_json(&headers)?;
    let skill_ids =
        body::delete_rows(&body, List::Skills, app.ids()).map_err(Rejection::InvalidBody)?;
    row_limit(skill_ids.len(), "rows")?;
    let agent = find_agent(&app, &agent)?;
    let outcomes = app.store.remove_from_agent(agent.agent_id, &skill_ids);
    Ok(skill_results(&app, outcomes))
}

// --- bulk writes ------------------------------------------------------------------------------

/// `POST /agents/skills`, the multi-agent upsert.
async fn upsert(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    app.bulk_offered("/agents/skills", "GET")?;
    require_json(&headers)?;
    let items: Vec<UpsertItem> = body::upsert(&body, app.ids()).map_err(Rejection::InvalidBody)?;
    let pairs = items
        .iter()
        .fold(0usize, |n, item| n.saturating_add(item.pairs()));
    row_limit(pairs, "agentIds x skillIds pairs")?;
    let results = app.store.upsert(&items, app.upsert_replaces);
    let failed = results.iter().filter(|(_, _, ok)| !ok).count() as u64;
    let answer = UpsertAnswer {
        result_set: UpsertResultSet {
            error_count: failed.to_string(),
            skill_results: results
                .into_iter()
                .map(|(agent_id, skill_id, success)| UpsertResult {
                    agent_id: agent_id.to_string(),
                    skill_id: skill_id.to_string(),
                    success,
                })
                .collect(),
        },
    };
    Ok(reply::rows(failed, app.partial_status, &answer))
}

async fn assign_agents(
    State(app): State<Arc<App>>,
    Path(skill): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    let (skill, rows) = skill_write(&app, &skill, &headers, &body, Write::Post)?;
    let outcomes = app.store.assign_to_skill(skill, &rows);
    Ok(agent_results(&app, outcomes))
}

async fn modify_agents(
    State(app): State<Arc<App>>,
    Path(skill): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    let (skill, rows) = skill_write(&app, &skill, &headers, &body, Write::Put)?;
    let outcomes = app.store.modify_skill(skill, &rows, app.put_semantics());
    Ok(agent_results(&app, outcomes))
}

/// `DELETE /skills/{skillId}/agents`: its rows' `error` is a boolean.
async fn remove_agents(
    State(app): State<Arc<App>>,
    Path(skill): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    app.bulk_offered("/skills/{skillId}/agents", "GET")?;
    require_json(&headers)?;
    let agent_ids =
        body::delete_rows(&body, List::Agents, app.ids()).map_err(Rejection::InvalidBody)?;
    row_limit(agent_ids.len(), "rows")?;
    let skill = find_skill(&app, &skill)?;
    let outcomes = app.store.remove_from_skill(skill, &agent_ids);
    let failed = failures(&outcomes);
    let answer = AgentRemovalsAnswer {
        result_set: AgentRemovalSet {
            error_count: failed,
            agent_results: outcomes
                .into_iter()
                .map(|(agent_id, outcome)| AgentRemoval {
                    agent_id,
                    success: outcome.is_ok(),
                    error: outcome.is_err(),
                })
                .collect(),
        },
    };
    Ok(reply::rows(failed, app.partial_status, &answer))
}

/// `DELETE /skills/{skillId}/agents/{agentId}`: no body; 200 with no
/// content, or 404 for an unknown agent, skill or assignment.
async fn remove_pair(
    State(app): State<Arc<App>>,
    Path((skill, agent)): Path<(String, String)>,
) -> Result<Response, Rejection> {
    app.bulk_offered("/skills/{skillId}/agents/{agentId}", "")?;
    let skill = find_skill(&app, &skill)?;
    let agent = find_agent(&app, &agent)?;
    match app.store.remove_pair(agent.agent_id, skill) {
        Ok(()) => Ok(reply::committed(StatusCode::OK.into_response())),
        Err(RowError::Refused) => Err(Rejection::Conflict(RowError::Refused.text().to_owned())),
        Err(_) => Err(Rejection::NotFound(format!(
            "Agent {} does not hold skill {}",
            agent.agent_id, skill.skill_id
        ))),
    }
}

// --- observability ------------------------------------------------------------------------------

/// `GET /__sandbox/state`: every assignment, in the sandbox's own shape.
async fn state(State(app): State<Arc<App>>) -> Response {
    let assignments = app.store.snapshot();
    reply::json(
        StatusCode::OK,
        &SandboxState {
            total_records: assignments.len() as u64,
            assignments: &assignments,
        },
    )
}

/// `GET /__sandbox/requests`: the request log, oldest first.
async fn requests(State(app): State<Arc<App>>) -> Response {
    reply::json(StatusCode::OK, &app.requests())
}

/// Unknown paths, including a version other than the one served: say
/// which version is served, because that is the likely mistake.
async fn fallback(State(app): State<Arc<App>>, uri: Uri) -> Rejection {
    let path = uri.path();
    let description = match path
        .strip_prefix("/inContactAPI/services/")
        .and_then(|rest| rest.split('/').next())
    {
        Some(version) if version != app.api_version => format!(
            "API version '{version}' is not served here; this sandbox serves '{}'",
            app.api_version
        ),
        _ => format!("No endpoint at {path}"),
    };
    Rejection::NotFound(description)
}

// --- helpers --------------------------------------------------------------------------------------

/// Checks, in the order the service does: media type, body, size, then
/// the agent in the path.
fn agent_write<'a>(
    app: &'a App,
    agent: &str,
    headers: &HeaderMap,
    body: &[u8],
    write: Write,
) -> Result<(&'a Agent, Vec<SetRow>), Rejection> {
    require_json(headers)?;
    let rows =
        body::set_rows(body, List::Skills, write, app.ids()).map_err(Rejection::InvalidBody)?;
    row_limit(rows.len(), "rows")?;
    Ok((find_agent(app, agent)?, rows))
}

fn skill_write<'a>(
    app: &'a App,
    skill: &str,
    headers: &HeaderMap,
    body: &[u8],
    write: Write,
) -> Result<(&'a Skill, Vec<SetRow>), Rejection> {
    app.bulk_offered("/skills/{skillId}/agents", "GET")?;
    require_json(headers)?;
    let rows =
        body::set_rows(body, List::Agents, write, app.ids()).map_err(Rejection::InvalidBody)?;
    row_limit(rows.len(), "rows")?;
    Ok((find_skill(app, skill)?, rows))
}

fn row_limit(count: usize, what: &str) -> Result<(), Rejection> {
    if count > MAX_ROWS {
        Err(Rejection::TooLarge(format!(
            "The body holds {count} {what}; at most {MAX_ROWS} per request"
        )))
    } else {
        Ok(())
    }
}

/// The path segment `{agentId|userId}`: a positive integer or a hyphenated
/// UUID in any case; anything else is malformed (400), a well-formed id
/// the tenant does not have is 404.
fn find_agent<'a>(app: &'a App, segment: &str) -> Result<&'a Agent, Rejection> {
    let agent: AgentRef = segment.parse().map_err(|_| {
        Rejection::InvalidParameter(format!(
            "'{segment}' is neither an agentId (positive integer) nor a userId (UUID)"
        ))
    })?;
    app.store
        .agent(agent)
        .ok_or_else(|| Rejection::NotFound(format!("Agent '{segment}' not found")))
}

fn find_skill<'a>(app: &'a App, segment: &str) -> Result<&'a Skill, Rejection> {
    let skill: SkillId = segment.parse().map_err(|_| {
        Rejection::InvalidParameter(format!("'{segment}' is not a skillId (positive integer)"))
    })?;
    app.store
        .skill(skill.get())
        .ok_or_else(|| Rejection::NotFound(format!("Skill '{segment}' not found")))
}

fn failures(outcomes: &[Outcome]) -> u64 {
    outcomes.iter().filter(|(_, o)| o.is_err()).count() as u64
}

fn skill_results(app: &App, outcomes: Vec<Outcome>) -> Response {
    let failed = failures(&outcomes);
    let answer = SkillResultsAnswer {
        result_set: SkillResultSet {
            error_count: failed,
            skill_results: outcomes
                .into_iter()
                .map(|(skill_id, outcome)| SkillResult {
                    skill_id,
                    success: outcome.is_ok(),
                    error: outcome.err().map(|e| e.text()),
                })
                .collect(),
        },
    };
    reply::rows(failed, app.partial_status, &answer)
}

fn agent_results(app: &App, outcomes: Vec<Outcome>) -> Response {
    let failed = failures(&outcomes);
    let answer = AgentResultsAnswer {
        result_set: AgentResultSet {
            error_count: failed,
            agent_results: outcomes
                .into_iter()
                .map(|(agent_id, outcome)| AgentResult {
                    agent_id,
                    success: outcome.is_ok(),
                    error: outcome.err().map(|e| e.text()),
                })
                .collect(),
        },
    };
    reply::rows(failed, app.partial_status, &answer)
}

fn require_json(headers: &HeaderMap) -> Result<(), Rejection> {
    if reply::is_media_type(headers.get(header::CONTENT_TYPE), "application/json") {
        Ok(())
    } else {
        Err(Rejection::UnsupportedMediaType)
    }
}

impl App {
    fn ids(&self) -> Ids {
        if self.string_ids {
            Ids::StringOnly
        } else {
            Ids::StringOrInteger
        }
    }

    /// 405 when the tenant runs without the bulk endpoints.
    fn bulk_offered(&self, path: &str, allow: &'static str) -> Result<(), Rejection> {
        if self.no_bulk_endpoints {
            Err(Rejection::MethodNotAllowed {
                allow,
                description: format!(
                    "This tenant does not offer writes on {path} (sandbox --no-bulk-endpoints)"
                ),
            })
        } else {
            Ok(())
        }
    }

    /// `_links` of a page: `self`, and `next` when more remain, as
    /// absolute URLs on the host the client addressed, carrying the
    /// request's own filters with `top` and `skip`. Each URL is written
    /// into one buffer: every page of every listing carries them.
    fn links(
        &self,
        headers: &HeaderMap,
        uri: &Uri,
        params: &Params,
        top: usize,
        skip: usize,
        total: u64,
    ) -> Links {
        use std::fmt::Write as _;
        let base = self.base_for(headers);
        let filters = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            for (name, value) in &params.pairs {
                if name != "top" && name != "skip" {
                    query.append_pair(name, value);
                }
            }
            query.finish()
        };
        let url = |skip: usize| {
            let mut url = String::with_capacity(
                base.len() + self.api_prefix.len() + uri.path().len() + filters.len() + 32,
            );
            url.push_str(&base);
            url.push_str(&self.api_prefix);
            url.push_str(uri.path());
            url.push('?');
            if !filters.is_empty() {
                url.push_str(&filters);
                url.push('&');
            }
            // Writing to a String cannot fail.
            let _ = write!(url, "top={top}&skip={skip}");
            url
        };
        let end = skip.saturating_add(top);
        Links {
            this: url(skip),
            next: (u64::try_from(end).unwrap_or(u64::MAX) < total).then(|| url(end)),
            previous: (skip > 0).then(|| url(skip.saturating_sub(top))),
        }
    }
}

/// How a listing treats a `top` above its page size.
#[derive(Debug, Clone, Copy)]
enum Top {
    /// 400 above this.
    Limit(usize),
    /// Quietly this at most.
    Cap(usize),
}

/// The query string, in order, as sent.
struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    fn parse(query: Option<&str>) -> Params {
        Params {
            pairs: query
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        }
    }

    /// The last value of `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn search(&self) -> Option<&str> {
        self.get("searchString").filter(|s| !s.is_empty())
    }

    /// `top` (at least 1) and `skip` (default 0).
    fn paging(&self, default_top: usize, rule: Top) -> Result<(usize, usize), Rejection> {
        let top = match self.get("top") {
            None => default_top,
            Some(text) => match (text.parse::<usize>(), rule) {
                (Ok(top), Top::Limit(max)) if (1..=max).contains(&top) => top,
                (Ok(top), Top::Cap(max)) if top >= 1 => top.min(max),
                (_, Top::Limit(max)) => {
                    return Err(Rejection::InvalidParameter(format!(
                        "'top' must be an integer from 1 to {max}, got `{text}`"
                    )));
                }
                (_, Top::Cap(_)) => {
                    return Err(Rejection::InvalidParameter(format!(
                        "'top' must be a positive integer, got `{text}`"
                    )));
                }
            },
        };
        let skip = match self.get("skip") {
            None => 0,
            Some(text) => text.parse::<usize>().map_err(|_| {
                Rejection::InvalidParameter(format!(
                    "'skip' must be a non-negative integer, got `{text}`"
                ))
            })?,
        };
        Ok((top, skip))
    }

    /// A boolean filter: `true` or `false` in any case; absent is `None`.
    fn flag(&self, name: &str) -> Result<Option<bool>, Rejection> {
        match self.get(name) {
            None => Ok(None),
            Some(text) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(text) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(text) => Err(Rejection::InvalidParameter(format!(
                "'{name}' must be true or false, got `{text}`"
            ))),
        }
    }

    /// The "updated since" filter under the spelling this endpoint
    /// publishes (`updatedSince`, `UpdatedSince` or `updateSince`), in
    /// nanoseconds since the epoch. Another spelling is 400, not ignored:
    /// a client that misspells it would otherwise believe it filtered.
    fn since(&self, published: &str) -> Result<Option<i128>, Rejection> {
        const SPELLINGS: [&str; 3] = ["updatedSince", "UpdatedSince", "updateSince"];
        if let Some(wrong) = SPELLINGS
            .iter()
            .find(|&&s| s != published && self.get(s).is_some())
        {
            return Err(Rejection::InvalidParameter(format!(
                "'{wrong}' is not a parameter of this endpoint; it spells the filter '{published}'"
            )));
        }
        let Some(text) = self.get(published) else {
            return Ok(None);
        };
        super::clock::parse_rfc3339(text).map(Some).ok_or_else(|| {
            let hint = if text.contains(' ') {
                " (a '+' in a query string must be sent as %2B)"
            } else {
                ""
            };
            Rejection::InvalidParameter(format!(
                "'{published}' must be an RFC 3339 date-time such as \
                 2026-11-24T10:00:00Z or 2026-11-24T10:00:00.123+01:00, got `{text}`{hint}"
            ))
        })
    }
}
