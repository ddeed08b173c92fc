//! The endpoints of `shared/cxone-api.md`, as axum handlers.
//!
//! Authentication, rate limiting and faults happen before a request gets
//! here (see `server.rs`); a handler only checks what the endpoint itself
//! takes: media type, body, path, query.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{get, post};

use super::body::{self, List, SetRow, Write};
use super::reply::Rejection;
use super::server::{App, BODY_LIMIT};
use super::tenant::{Agent, Skill};
use super::{auth, reply};
use crate::model::{AgentRef, SkillId};
use crate::wire;

/// Page size when `top` is absent. Small enough that a client which
/// forgets to page is caught on a tenant of a few hundred agents.
const DEFAULT_TOP: usize = 100;
/// The contract's largest page.
const MAX_TOP: usize = 10_000;

pub(super) fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/agents", get(list_agents))
        .route("/skills", get(list_skills))
        .route("/agents/skills", get(all_assignments))
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
            post(assign_agents).put(modify_agents),
        );
    Router::new()
        .nest(&format!("/inContactAPI/services/{}", app.api_version), api)
        .route("/auth/token", post(token))
        .route("/__sandbox/state", get(state))
        .route("/__sandbox/requests", get(requests))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(app)
}

async fn token(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    auth::exchange(
        &app.tokens,
        &app.access_keys,
        &app.clients,
        headers.get(header::CONTENT_TYPE),
        &body,
    )
}

async fn list_agents(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Result<Response, Rejection> {
    let params = params(query.as_deref());
    let (top, skip) = paging(&params)?;
    let page = app.store.agents(search(&params), top, skip);
    Ok(reply::json(
        StatusCode::OK,
        &wire::AgentsPage {
            total_records: page.total,
            agents: page.items,
        },
    ))
}

async fn list_skills(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Result<Response, Rejection> {
    let params = params(query.as_deref());
    let (top, skip) = paging(&params)?;
    let page = app.store.skills(search(&params), top, skip);
    Ok(reply::json(
        StatusCode::OK,
        &wire::SkillsPage {
            total_records: page.total,
            skills: page.items,
        },
    ))
}

async fn all_assignments(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Result<Response, Rejection> {
    let (top, skip) = paging(&params(query.as_deref()))?;
    let page = app.store.assignments(top, skip);
    Ok(reply::json(
        StatusCode::OK,
        &wire::AssignmentsPage {
            total_records: Some(page.total),
            agent_skill_assignments: page.items,
            invalid_skills: None,
        },
    ))
}

async fn agent_skills(
    State(app): State<Arc<App>>,
    Path(agent): Path<String>,
) -> Result<Response, Rejection> {
    let agent = find_agent(&app, &agent)?;
    let rows = app.store.agent_assignments(agent.agent_id);
    Ok(reply::json(
        StatusCode::OK,
        &wire::AssignmentsPage {
            total_records: Some(rows.len() as u64),
            agent_skill_assignments: rows,
            invalid_skills: None,
        },
    ))
}

async fn skills_agents(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Result<Response, Rejection> {
    let params = params(query.as_deref());
    let list = params
        .get("skills")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            Rejection::InvalidParameter(
                "Missing 'skills': a comma-separated list of skill ids".into(),
            )
        })?;
    let ids = list
        .split(',')
        .map(|part| {
            part.parse::<SkillId>().map(SkillId::get).map_err(|_| {
                Rejection::InvalidParameter(format!(
                    "'skills' holds `{}`, which is not a skill id (a positive integer)",
                    part.trim()
                ))
            })
        })
        .collect::<Result<Vec<u64>, Rejection>>()?;
    let (rows, invalid) = app.store.skill_assignments(&ids);
    Ok(reply::json(
        StatusCode::OK,
        &wire::AssignmentsPage {
            total_records: None,
            agent_skill_assignments: rows,
            invalid_skills: Some(
                invalid
                    .into_iter()
                    .map(|skill_id| wire::InvalidSkill { skill_id })
                    .collect(),
            ),
        },
    ))
}

async fn assign_skills(
    State(app): State<Arc<App>>,
    Path(agent): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    let (agent, rows) = agent_write(&app, &agent, &headers, &body, Write::Post)?;
    Ok(skill_results(
        app.store.assign_skills(agent.agent_id, &rows),
    ))
}

async fn modify_skills(
    State(app): State<Arc<App>>,
    Path(agent): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    let (agent, rows) = agent_write(&app, &agent, &headers, &body, Write::Put)?;
    let semantics = app.put_semantics();
    Ok(skill_results(app.store.modify_skills(
        agent.agent_id,
        &rows,
        semantics,
    )))
}

async fn remove_skills(
    State(app): State<Arc<App>>,
    Path(agent): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    require_json(&headers)?;
    let skill_ids = body::delete_rows(&body, List::Skills).map_err(Rejection::InvalidBody)?;
    let agent = find_agent(&app, &agent)?;
    Ok(skill_results(
        app.store.remove_skills(agent.agent_id, &skill_ids),
    ))
}

async fn assign_agents(
    State(app): State<Arc<App>>,
    Path(skill): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    let (skill, rows) = skill_write(&app, &skill, &headers, &body, Write::Post)?;
    Ok(agent_results(app.store.assign_agents(skill, &rows)))
}

async fn modify_agents(
    State(app): State<Arc<App>>,
    Path(skill): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    let (skill, rows) = skill_write(&app, &skill, &headers, &body, Write::Put)?;
    let semantics = app.put_semantics();
    Ok(agent_results(
        app.store.modify_agents(skill, &rows, semantics),
    ))
}

/// `GET /__sandbox/state`: every assignment, in the shape of
/// `GET /agents/skills`, so a client's parser reads it too.
async fn state(State(app): State<Arc<App>>) -> Response {
    let rows = app.assignments();
    reply::json(
        StatusCode::OK,
        &wire::AssignmentsPage {
            total_records: Some(rows.len() as u64),
            agent_skill_assignments: rows,
            invalid_skills: None,
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

/// Checks, in the order the service does: media type, body, then the
/// agent in the path.
fn agent_write<'a>(
    app: &'a App,
    agent: &str,
    headers: &HeaderMap,
    body: &[u8],
    write: Write,
) -> Result<(&'a Agent, Vec<SetRow>), Rejection> {
    require_json(headers)?;
    let rows = body::set_rows(body, List::Skills, write).map_err(Rejection::InvalidBody)?;
    Ok((find_agent(app, agent)?, rows))
}

fn skill_write<'a>(
    app: &'a App,
    skill: &str,
    headers: &HeaderMap,
    body: &[u8],
    write: Write,
) -> Result<(&'a Skill, Vec<SetRow>), Rejection> {
    require_json(headers)?;
    let rows = body::set_rows(body, List::Agents, write).map_err(Rejection::InvalidBody)?;
    Ok((find_skill(app, skill)?, rows))
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

fn skill_results(results: Vec<wire::SkillResult>) -> Response {
    reply::result_set(wire::ResultSet {
        error_count: results.iter().filter(|r| !r.success).count() as u64,
        skill_results: Some(results),
        agent_results: None,
    })
}

fn agent_results(results: Vec<wire::AgentResult>) -> Response {
    reply::result_set(wire::ResultSet {
        error_count: results.iter().filter(|r| !r.success).count() as u64,
        skill_results: None,
        agent_results: Some(results),
    })
}

fn require_json(headers: &HeaderMap) -> Result<(), Rejection> {
    if reply::is_media_type(headers.get(header::CONTENT_TYPE), "application/json") {
        Ok(())
    } else {
        Err(Rejection::UnsupportedMediaType)
    }
}

fn params(query: Option<&str>) -> HashMap<String, String> {
    query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn search(params: &HashMap<String, String>) -> Option<&str> {
    params
        .get("searchString")
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// `top` (1..=10000, default 100) and `skip` (default 0).
fn paging(params: &HashMap<String, String>) -> Result<(usize, usize), Rejection> {
    let top = match params.get("top") {
        None => DEFAULT_TOP,
        Some(text) => match text.parse::<usize>() {
            Ok(top) if (1..=MAX_TOP).contains(&top) => top,
            _ => {
                return Err(Rejection::InvalidParameter(format!(
                    "'top' must be an integer from 1 to {MAX_TOP}, got `{text}`"
                )));
            }
        },
    };
    let skip = match params.get("skip") {
        None => 0,
        Some(text) => text.parse::<usize>().map_err(|_| {
            Rejection::InvalidParameter(format!(
                "'skip' must be a non-negative integer, got `{text}`"
            ))
        })?,
    };
    Ok((top, skip))
}
