//! The client's reads on contract revision 2, end to end: a paged
//! one-agent read is read whole before a full-set PUT, a read that cannot
//! be trusted sends nothing, a bulk read of full sets is read whole (or
//! sends nothing) and reports no change nobody made, a listing that never
//! ends (or an answer that never ends) stops with a clear error, and an
//! export holds every inactive assignment, agent and skill.

mod common;
mod stub;

use std::collections::BTreeMap;
use std::process::Output;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::RawQuery;
use axum::routing::get;
use common::{
    Rehearsal, State, TempDir, fast, read, report_json, roster_csv, roster_target, seeded_skill,
    stderr, stdout, tenant_of,
};
use cxskill::sandbox::{PutSemantics, SandboxOptions, Tenant};
use serde_json::{Value, json};
use stub::{ROOT, Stub, paging};

fn both(output: &Output) -> String {
    format!("{}\n{}", stdout(output), stderr(output))
}

// --- A paged one-agent read under PUT-replaces --------------------------------

#[test]
fn a_paged_agent_read_is_read_whole_so_a_replacing_put_keeps_every_skill() {
    // Agents 1 and 2 hold 7 and 6 skills; the tenant pages their reads two
    // rows at a time, replaces on PUT and takes only string ids.
    let mut before = State::new();
    for n in 1..=7 {
        before.insert((1, seeded_skill(n)), (i64::try_from(n).unwrap(), true));
    }
    for n in 1..=6 {
        before.insert(
            (2, seeded_skill(n)),
            (i64::try_from(n + 10).unwrap(), n != 4),
        );
    }
    for n in 1..=5 {
        before.insert((3, seeded_skill(n)), (2, true));
    }
    let sandbox = Rehearsal::with_tenant(
        tenant_of(&before, 3, &[]),
        SandboxOptions {
            agent_skills_page: 2,
            put_semantics: PutSemantics::Replace,
            string_ids: true,
            ..SandboxOptions::default()
        },
    );
    assert_eq!(sandbox.state(), before);
    // Changes at 6..=20 cannot go by the upsert (1..=5): each is a
    // full-set PUT of its agent.
    let rows = [
        (1, seeded_skill(3), Some(12)),
        (2, seeded_skill(5), Some(6)),
    ];
    let dir = TempDir::new("paged-replace");
    let roster = dir.file("r.csv", &roster_csv(&rows));
    let out = sandbox.cxskill(&fast(&["apply", "--yes", &roster, "--output", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(report_json(&out)["summary"]["applied"], 2);
    assert_eq!(sandbox.state(), roster_target(&before, &rows));

    // The reads were paged (7 rows at 2 a page is 4 pages), and each PUT
    // carried the agent's whole merged set.
    let reads = |agent: u64| {
        sandbox
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == format!("{ROOT}/agents/{agent}/skills"))
            .count()
    };
    assert!(reads(1) >= 4, "{} reads of agent 1", reads(1));
    assert!(reads(2) >= 3, "{} reads of agent 2", reads(2));
    let puts: BTreeMap<String, usize> = sandbox
        .writes()
        .iter()
        .filter(|w| w.method == "PUT")
        .map(|w| {
            let body = w.body.clone().expect("a body");
            (
                w.path.clone(),
                body["skills"].as_array().expect("skills").len(),
            )
        })
        .collect();
    assert_eq!(
        puts,
        BTreeMap::from([
            (format!("{ROOT}/agents/1/skills"), 7),
            (format!("{ROOT}/agents/2/skills"), 6),
        ])
    );
}

// --- One-agent reads that cannot be trusted -----------------------------------

/// A tenant where agent 1 holds skills 5 (level 3) and 6 (level 4) as the
/// plan's read shows them, and its own read answers `agent_read`. Every
/// write is answered as a success, and logged.
fn tenant_with_agent_read(agent_read: fn(Option<String>) -> axum::response::Response) -> Stub {
    use axum::response::IntoResponse;
    let ok = || async {
        axum::Json(json!({"resultSet": {"errorCount": 0, "skillResults": [
            {"skillId": 5, "success": true}, {"skillId": 6, "success": true}]}}))
        .into_response()
    };
    Stub::start(
        Router::new()
            .route(
                &format!("{ROOT}/agents"),
                get(|| async {
                    axum::Json(json!({"totalRecords": 2, "agents": [
                        {"agentId": 1, "userID": "00000001-0000-4000-8000-000000000001",
                         "firstName": "Ada", "lastName": "One", "isActive": true},
                        {"agentId": 2, "userID": "00000002-0000-4000-8000-000000000002",
                         "firstName": "Bo", "lastName": "Two", "isActive": true}]}))
                }),
            )
            .route(
                &format!("{ROOT}/skills"),
                get(|| async {
                    axum::Json(json!({"totalRecords": 2, "skills": [
                        {"skillId": 5, "skillName": "Sales", "isActive": true},
                        {"skillId": 6, "skillName": "Chat", "isActive": true}]}))
                }),
            )
            .route(
                &format!("{ROOT}/skills/agents"),
                get(|| async {
                    axum::Json(json!({"businessUnitId": 1, "agentSkillAssignments": [
                        {"agentId": 1, "skillId": 5, "agentProficiencyValue": 3, "isActive": true},
                        {"agentId": 1, "skillId": 6, "agentProficiencyValue": 4, "isActive": true}]}))
                }),
            )
            .route(
                &format!("{ROOT}/agents/1/skills"),
                get(move |RawQuery(query): RawQuery| async move { agent_read(query) })
                    .post(ok)
                    .put(ok)
                    .delete(ok),
            )
            .route(&format!("{ROOT}/agents/skills"), axum::routing::post(ok)),
    )
}

/// A one-agent read row as published (`agentID_alt`).
fn row(agent: u64, skill: u64, level: u64) -> Value {
    json!({"agentID_alt": agent, "skillId": skill, "agentProficiencyValue": level,
           "isActive": true, "isSkillActive": true})
}

fn answer(value: Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    axum::Json(value).into_response()
}

/// Runs `apply` of "agent 1, skill 5 → 12" (a full-set PUT) against the
/// tenant; the row fails saying `reason`, nothing is written, exit 1.
fn no_write_for_an_untrusted_read(
    agent_read: fn(Option<String>) -> axum::response::Response,
    reason: &str,
) {
    let tenant = tenant_with_agent_read(agent_read);
    let dir = TempDir::new("untrusted");
    let roster = dir.file("r.csv", "agent,skill,proficiency\n1,5,12\n");
    let failed = dir.path("failed.csv");
    let out = tenant.cxskill(&[
        "apply",
        "--yes",
        &roster,
        "--output",
        "json",
        "--failed-rows",
        &failed,
    ]);
    assert_eq!(out.status.code(), Some(1), "{reason}: {}", both(&out));
    let report = report_json(&out);
    let first = &report["rows"][0];
    assert_eq!(first["status"], "failed", "{reason}: {first}");
    let error = first["error"].as_str().unwrap_or_default();
    assert!(error.contains(reason), "`{reason}` not in: {error}");
    assert!(read(&failed).contains(reason), "{}", read(&failed));
    let writes: Vec<String> = tenant
        .writes()
        .iter()
        .map(|w| format!("{} {}", w.method, w.path))
        .collect();
    assert!(writes.is_empty(), "{reason}: writes sent: {writes:?}");
    assert!(
        tenant
            .seen()
            .iter()
            .any(|s| s.path == format!("{ROOT}/agents/1/skills")),
        "the agent's own read was not asked"
    );
}

#[test]
fn an_agent_read_that_ends_short_of_total_records_sends_no_write() {
    no_write_for_an_untrusted_read(
        |query| {
            let (_, skip) = paging(query.as_deref());
            let rows = if skip == 0 {
                vec![row(1, 5, 3), row(1, 6, 4)]
            } else {
                Vec::new()
            };
            answer(json!({"totalRecords": 5, "agentSkillAssignments": rows}))
        },
        "ends after 2 of the 5 rows its totalRecords states",
    );
}

#[test]
fn an_agent_read_whose_pages_repeat_a_row_and_skip_another_sends_no_write() {
    // Two rows a page and totalRecords 4 throughout, but between the pages
    // a skill was assigned ahead of the first page and another removed:
    // the second page repeats skill 6, and the new skill is never shown.
    no_write_for_an_untrusted_read(
        |query| {
            let (_, skip) = paging(query.as_deref());
            let rows = match skip {
                0 => vec![row(1, 5, 3), row(1, 6, 4)],
                2 => vec![row(1, 6, 4), row(1, 7, 2)],
                _ => Vec::new(),
            };
            answer(json!({"totalRecords": 4, "agentSkillAssignments": rows}))
        },
        "page 2 repeats 1 row of earlier pages",
    );
}

#[test]
fn an_agent_read_without_the_promised_list_sends_no_write() {
    no_write_for_an_untrusted_read(|_| answer(json!({})), "has no agentSkillAssignments");
    no_write_for_an_untrusted_read(
        |_| answer(json!({"totalRecords": 2, "agentSkillAssignments": null})),
        "has no agentSkillAssignments",
    );
}

#[test]
fn an_agent_read_that_is_a_bare_array_sends_no_write() {
    // An empty array reads as a page that lacks the list; an array of the
    // rows themselves is no page at all.
    no_write_for_an_untrusted_read(|_| answer(json!([])), "has no agentSkillAssignments");
    no_write_for_an_untrusted_read(
        |_| answer(json!([row(1, 5, 3), row(1, 6, 4)])),
        "is not an assignment list",
    );
}

#[test]
fn an_agent_read_listing_a_skill_twice_with_different_values_sends_no_write() {
    no_write_for_an_untrusted_read(
        |_| {
            answer(json!({"totalRecords": 3, "agentSkillAssignments": [
                row(1, 5, 3), row(1, 6, 4), row(1, 6, 9)]}))
        },
        "lists skill 6 twice for agent 1, with different values",
    );
}

#[test]
fn an_agent_read_naming_another_agent_sends_no_write() {
    no_write_for_an_untrusted_read(
        |_| {
            answer(json!({"totalRecords": 2, "agentSkillAssignments": [
                row(1, 5, 3), row(2, 6, 4)]}))
        },
        "lists agent 2's skills",
    );
}

// --- Full sets read in bulk ---------------------------------------------------

type Bodies = std::sync::Arc<std::sync::Mutex<Vec<(u64, Value)>>>;

/// Answers a full-set PUT with a success for every skill it carries, and
/// keeps the bodies.
fn put_ok(bodies: Bodies) -> axum::routing::MethodRouter {
    axum::routing::put(
        move |uri: axum::http::Uri, axum::Json(body): axum::Json<Value>| {
            let bodies = bodies.clone();
            async move {
                let agent: u64 = uri
                    .path()
                    .trim_start_matches(&format!("{ROOT}/agents/"))
                    .trim_end_matches("/skills")
                    .parse()
                    .expect("an agent id");
                let rows: Vec<Value> = body["skills"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| json!({"skillId": s["skillId"], "success": true}))
                    .collect();
                bodies.lock().unwrap().push((agent, body));
                axum::Json(json!({"resultSet": {"errorCount": 0, "skillResults": rows}}))
            }
        },
    )
}

/// A bulk read row: agent `agent` holds `skill` at `level`, active.
fn bulk_row(agent: u64, skill: u64, level: u64) -> Value {
    json!({"agentId": agent, "skillId": skill, "agentProficiencyValue": level,
           "isActive": true, "isAgentActive": true, "isSkillActive": true})
}

/// What agents 1, 2 and 3 each hold: skills 5 (level 3) and 6 (level 4),
/// all active.
fn held_by(agents: std::ops::RangeInclusive<u64>) -> Vec<Value> {
    agents
        .flat_map(|agent| [bulk_row(agent, 5, 3), bulk_row(agent, 6, 4)])
        .collect()
}

/// A tenant where agents 1, 2 and 3 (active) hold [`held_by`]. The bulk
/// listing of active assignments answers `bulk(query)`; the inactive ones'
/// listing is empty. Agent 3's own read lists its two skills. Every
/// full-set PUT succeeds, and its body is kept.
fn three_agents(bulk: fn(Option<String>) -> axum::response::Response) -> (Stub, Bodies) {
    let bodies = Bodies::default();
    let tenant = Stub::start(
        Router::new()
            .route(
                &format!("{ROOT}/agents"),
                get(|| async {
                    let agents: Vec<Value> = (1..=3)
                        .map(|a| {
                            json!({"agentId": a, "firstName": "A", "lastName": format!("{a}"),
                                        "isActive": true})
                        })
                        .collect();
                    axum::Json(json!({"totalRecords": 3, "agents": agents}))
                }),
            )
            .route(
                &format!("{ROOT}/skills"),
                get(|| async {
                    axum::Json(json!({"totalRecords": 2, "skills": [
                        {"skillId": 5, "skillName": "Sales", "isActive": true},
                        {"skillId": 6, "skillName": "Chat", "isActive": true}]}))
                }),
            )
            .route(
                &format!("{ROOT}/skills/agents"),
                get(|| async {
                    axum::Json(
                        json!({"businessUnitId": 1, "agentSkillAssignments": held_by(1..=3)}),
                    )
                }),
            )
            .route(
                &format!("{ROOT}/agents/skills"),
                get(move |RawQuery(query): RawQuery| async move {
                    if query
                        .as_deref()
                        .unwrap_or_default()
                        .contains("&isActive=true")
                    {
                        bulk(query)
                    } else {
                        // Nothing to list, said without the list.
                        answer(json!({"totalRecords": 0, "businessUnitId": 1}))
                    }
                }),
            )
            .route(
                &format!("{ROOT}/agents/3/skills"),
                get(|| async {
                    axum::Json(json!({"totalRecords": 2, "agentSkillAssignments": [
                        row(3, 5, 3), row(3, 6, 4)]}))
                })
                .merge(put_ok(bodies.clone())),
            )
            .route(
                &format!("{ROOT}/agents/{{id}}/skills"),
                put_ok(bodies.clone()),
            ),
    );
    (tenant, bodies)
}

/// Runs `apply` of skill 5 to 12 for agents 1, 2 and 3 against `tenant`:
/// a full-set PUT each, after one bulk read of their sets.
fn apply_to_three(tenant: &Stub) -> Output {
    let dir = TempDir::new("bulk-full-sets");
    let roster = dir.file("r.csv", "agent,skill,proficiency\n1,5,12\n2,5,12\n3,5,12\n");
    tenant.cxskill(&["apply", "--yes", &roster, "--output", "json"])
}

/// The full-set PUT bodies `tenant` received, by agent.
fn put_bodies(bodies: &Bodies) -> Vec<(u64, Value)> {
    let mut bodies = bodies.lock().unwrap().clone();
    bodies.sort_by_key(|(agent, _)| *agent);
    bodies
}

/// Skill 5 at 12 and skill 6 kept at 4: an agent's whole set.
fn full_set() -> Value {
    json!({"skills": [
        {"skillId": "5", "proficiency": 12, "isActive": true},
        {"skillId": "6", "proficiency": 4, "isActive": true}]})
}

#[test]
fn an_agent_missing_from_the_bulk_read_is_read_on_its_own_and_no_change_is_reported() {
    // The bulk listing does not show agent 3 (an agent the key may not see
    // there); its own read does.
    let (tenant, bodies) = three_agents(|_| {
        let rows = held_by(1..=2);
        answer(json!({"totalRecords": rows.len(), "businessUnitId": 1,
                      "agentSkillAssignments": rows}))
    });
    let out = apply_to_three(&tenant);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let report = report_json(&out);
    assert_eq!(report["summary"]["applied"], 3, "{report}");
    assert!(
        report.get("concurrent_changes").is_none(),
        "nobody else changed anything: {report}"
    );
    let bulk = |q: &str| {
        tenant.seen().iter().any(|s| {
            s.path == format!("{ROOT}/agents/skills")
                && s.method == "GET"
                && s.query.as_deref().is_some_and(|query| query.contains(q))
        })
    };
    assert!(
        bulk("&isActive=true") && bulk("&isActive=false"),
        "no bulk read"
    );
    assert_eq!(
        put_bodies(&bodies),
        [(1, full_set()), (2, full_set()), (3, full_set())],
        "each PUT carries its agent's whole set"
    );
}

#[test]
fn a_bulk_listing_without_total_records_is_read_to_an_empty_page() {
    // Two rows a page, whatever `top` asks, and no totalRecords: a short
    // page is no sign of the end.
    let (tenant, bodies) = three_agents(|query| {
        let (_, skip) = paging(query.as_deref());
        let rows = [
            bulk_row(1, 5, 3),
            bulk_row(2, 5, 3),
            bulk_row(1, 6, 4),
            bulk_row(2, 6, 4),
            bulk_row(3, 5, 3),
            bulk_row(3, 6, 4),
        ];
        let page: Vec<Value> = rows.iter().skip(skip as usize).take(2).cloned().collect();
        answer(json!({"businessUnitId": 1, "agentSkillAssignments": page}))
    });
    let out = apply_to_three(&tenant);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(report_json(&out)["summary"]["applied"], 3);
    assert_eq!(
        put_bodies(&bodies),
        [(1, full_set()), (2, full_set()), (3, full_set())],
        "each PUT carries its agent's whole set"
    );
}

#[test]
fn a_bulk_listing_page_without_the_list_sends_no_full_set() {
    // The second page, with no totalRecords to say it is not the end,
    // lacks agentSkillAssignments: the listing cannot be read whole.
    let (tenant, bodies) = three_agents(|query| {
        let (_, skip) = paging(query.as_deref());
        let rows = match skip {
            0 => json!([bulk_row(1, 5, 3), bulk_row(2, 5, 3)]),
            _ => Value::Null,
        };
        answer(json!({"businessUnitId": 1, "agentSkillAssignments": rows}))
    });
    let out = apply_to_three(&tenant);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let report = report_json(&out);
    for row in report["rows"].as_array().expect("rows") {
        assert_eq!(row["status"], "failed", "{row}");
        let error = row["error"].as_str().unwrap_or_default();
        assert!(error.contains("has no agentSkillAssignments"), "{error}");
    }
    assert_eq!(put_bodies(&bodies), [], "{}", both(&out));
}

// --- Listings and answers that never end --------------------------------------

/// Runs `plan` of one row against `tenant`, with `extra` arguments.
fn plan_against(tenant: &Stub, extra: &[&str]) -> Output {
    let dir = TempDir::new("endless");
    let roster = dir.file("r.csv", "agent,skill,proficiency\n1,5,4\n");
    let mut args = vec!["plan", roster.as_str()];
    args.extend_from_slice(extra);
    tenant.cxskill(&args)
}

/// The plan's read of skill 5: agent 1 holds it at 3.
fn plan_read() -> Router {
    Router::new().route(
        &format!("{ROOT}/skills/agents"),
        get(|| async {
            axum::Json(json!({"businessUnitId": 1, "agentSkillAssignments": [
                {"agentId": 1, "skillId": 5, "agentProficiencyValue": 3, "isActive": true}]}))
        }),
    )
}

#[test]
fn a_listing_whose_pages_repeat_forever_ends_in_a_paging_error_exit_3() {
    // totalRecords says a billion; every page is the same one skill.
    let tenant = Stub::start(
        Router::new()
            .route(
                &format!("{ROOT}/skills"),
                get(|| async {
                    axum::Json(json!({"totalRecords": 1_000_000_000u64, "skills": [
                        {"skillId": 5, "skillName": "Sales", "isActive": true}]}))
                }),
            )
            .merge(plan_read()),
    );
    let out = plan_against(&tenant, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let error = stderr(&out);
    assert!(error.contains("GET /skills"), "{error}");
    assert!(error.contains("repeats earlier pages"), "{error}");
    let pages = tenant
        .seen()
        .iter()
        .filter(|s| s.path == format!("{ROOT}/skills"))
        .count();
    assert_eq!(pages, 2, "stopped at the first page that added nothing");
}

#[test]
fn a_next_link_that_points_back_at_itself_ends_in_a_paging_error_exit_3() {
    use std::sync::{Arc, OnceLock};
    let own: Arc<OnceLock<String>> = Arc::default();
    let link = own.clone();
    let tenant = Stub::start(
        Router::new()
            .route(
                &format!("{ROOT}/skills"),
                get(move || {
                    let next = link.get().cloned().unwrap_or_default();
                    async move {
                        axum::Json(json!({"totalRecords": 1_000_000_000u64,
                            "skills": [{"skillId": 5, "skillName": "Sales", "isActive": true}],
                            "_links": {"next": next}}))
                    }
                }),
            )
            .merge(plan_read()),
    );
    own.set(format!("{}{ROOT}/skills?top=10000&skip=0", tenant.base()))
        .expect("set once");
    let out = plan_against(&tenant, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        stderr(&out).contains("repeats earlier pages"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        tenant
            .seen()
            .iter()
            .filter(|s| s.path == format!("{ROOT}/skills"))
            .count(),
        2
    );
}

/// `prefix`, then `item` forever, as one chunked answer.
fn endless(prefix: &'static str, item: &'static str) -> axum::response::Response {
    use futures_util::stream::{self, StreamExt};
    let body = stream::once(async move { Ok(Bytes::from_static(prefix.as_bytes())) }).chain(
        stream::repeat(Ok::<_, std::convert::Infallible>(Bytes::from_static(
            item.as_bytes(),
        ))),
    );
    axum::response::Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(body))
        .expect("a response")
}

#[test]
fn an_endless_answer_ends_at_the_answer_size_cap_exit_3() {
    // The skills listing, and then the plan's assignment read, each
    // answer a body that never ends.
    let skills = Stub::start(
        Router::new()
            .route(
                &format!("{ROOT}/skills"),
                get(|| async {
                    endless(
                        r#"{"totalRecords": 1, "skills": ["#,
                        r#"{"skillId": 5, "skillName": "Sales", "isActive": true},"#,
                    )
                }),
            )
            .merge(plan_read()),
    );
    let assignments = Stub::start(
        Router::new()
            .route(
                &format!("{ROOT}/skills"),
                get(|| async {
                    axum::Json(json!({"totalRecords": 1, "skills": [
                        {"skillId": 5, "skillName": "Sales", "isActive": true}]}))
                }),
            )
            .route(
                &format!("{ROOT}/skills/agents"),
                get(|| async {
                    endless(
                        r#"{"businessUnitId": 1, "agentSkillAssignments": ["#,
                        r#"{"agentId": 1, "skillId": 5, "agentProficiencyValue": 3, "isActive": true},"#,
                    )
                }),
            ),
    );
    for (tenant, endpoint) in [
        (&skills, "GET /skills"),
        (&assignments, "GET /skills/agents"),
    ] {
        let out = plan_against(tenant, &["--max-answer-bytes", "1048576"]);
        assert_eq!(out.status.code(), Some(3), "{endpoint}: {}", both(&out));
        let error = stderr(&out);
        assert!(error.contains(endpoint), "{error}");
        assert!(
            error.contains("larger than 1048576 bytes (the answer-size cap)"),
            "{error}"
        );
    }
}

// --- Export ----------------------------------------------------------------

/// Agents 1 (active) and 2 (inactive); skills 11 and 13 active, 12
/// inactive. Agent 1 holds 11 inactive, 12 (an inactive skill) and 13;
/// agent 2 holds 11.
const INACTIVE_TENANT: &str = r#"{
  "accessKeys": [{"accessKeyId": "test-key", "accessKeySecret": "test-key-secret", "readOnly": false}],
  "clients": [{"clientId": "test-client", "clientSecret": "test-client-secret"}],
  "agents": [
    {"agentId": 1, "userId": "00000001-0000-4000-8000-000000000001", "userName": "one@test.example",
     "emailAddress": "one@test.example", "firstName": "Ada", "lastName": "One", "isActive": true},
    {"agentId": 2, "userId": "00000002-0000-4000-8000-000000000002", "userName": "two@test.example",
     "emailAddress": "two@test.example", "firstName": "Bo", "lastName": "Two", "isActive": false}
  ],
  "skills": [
    {"skillId": 11, "skillName": "Eleven", "isActive": true},
    {"skillId": 12, "skillName": "Twelve", "isActive": false},
    {"skillId": 13, "skillName": "Thirteen", "isActive": true}
  ],
  "assignments": [
    {"agentId": 1, "skillId": 11, "proficiency": 4, "isActive": false},
    {"agentId": 1, "skillId": 12, "proficiency": 7, "isActive": true},
    {"agentId": 1, "skillId": 13, "proficiency": 2, "isActive": true},
    {"agentId": 2, "skillId": 11, "proficiency": 9, "isActive": true}
  ]
}"#;

#[test]
fn export_holds_inactive_assignments_agents_and_skills_and_applies_back_to_nothing() {
    let tenant = Tenant::from_json(INACTIVE_TENANT).expect("a valid tenant");
    let sandbox = Rehearsal::with_tenant(tenant, SandboxOptions::default());
    let before = sandbox.state();
    assert_eq!(before.len(), 4);
    let out = sandbox.cxskill(&fast(&["export"]));
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let csv = stdout(&out);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines,
        [
            "agent,skill,proficiency,active,agent_name,skill_name",
            "00000001-0000-4000-8000-000000000001,11,4,false,Ada One,Eleven",
            "00000001-0000-4000-8000-000000000001,12,7,true,Ada One,Twelve",
            "00000001-0000-4000-8000-000000000001,13,2,true,Ada One,Thirteen",
            "00000002-0000-4000-8000-000000000002,11,9,true,Bo Two,Eleven",
        ],
        "{csv}"
    );

    let dir = TempDir::new("export-inactive");
    let file = dir.path("export.csv");
    let out = sandbox.cxskill(&fast(&["export", "--out", &file]));
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(read(&file), csv);
    let out = sandbox.cxskill(&fast(&["apply", "--yes", &file, "--output", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let report = report_json(&out);
    assert_eq!(report["summary"]["unchanged"], 4, "{report}");
    assert_eq!(report["summary"]["applied"], 0, "{report}");
    assert!(sandbox.writes().is_empty(), "{:?}", sandbox.writes());
    assert_eq!(sandbox.state(), before);
}

// --- A next link to another host ----------------------------------------------

#[test]
fn a_next_link_to_another_host_is_not_followed_and_the_read_pages_by_skip() {
    use std::sync::{Arc, Mutex};
    // Where the tenant's next link points: a listener that counts who
    // connects (a bearer token would go with the request).
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    elsewhere.set_nonblocking(true).expect("nonblocking");
    let next = format!(
        "http://{}{ROOT}/agents/1/skills?top=2&skip=2",
        elsewhere.local_addr().expect("addr")
    );
    let put: Arc<Mutex<Option<Value>>> = Arc::default();
    let kept = put.clone();
    let tenant = Stub::start(
        Router::new()
            .route(
                &format!("{ROOT}/agents"),
                get(|| async {
                    axum::Json(json!({"totalRecords": 1, "agents": [
                        {"agentId": 1, "firstName": "Ada", "lastName": "One", "isActive": true}]}))
                }),
            )
            .route(
                &format!("{ROOT}/skills"),
                get(|| async {
                    axum::Json(json!({"totalRecords": 3, "skills": [
                        {"skillId": 5, "skillName": "Sales", "isActive": true},
                        {"skillId": 6, "skillName": "Chat", "isActive": true},
                        {"skillId": 7, "skillName": "Mail", "isActive": true}]}))
                }),
            )
            .merge(plan_read())
            .route(
                &format!("{ROOT}/agents/1/skills"),
                get(move |RawQuery(query): RawQuery| {
                    let next = next.clone();
                    async move {
                        // Two rows a page, whatever `top` asks.
                        let (_, skip) = paging(query.as_deref());
                        let all = [row(1, 5, 3), row(1, 6, 4), row(1, 7, 9)];
                        let page: Vec<Value> =
                            all.iter().skip(skip as usize).take(2).cloned().collect();
                        axum::Json(json!({"totalRecords": 3, "agentSkillAssignments": page,
                                          "_links": {"next": next}}))
                    }
                })
                .put(move |axum::Json(body): axum::Json<Value>| {
                    let kept = kept.clone();
                    async move {
                        let rows: Vec<Value> = body["skills"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|s| json!({"skillId": s["skillId"], "success": true}))
                            .collect();
                        *kept.lock().unwrap() = Some(body);
                        axum::Json(json!({"resultSet": {"errorCount": 0, "skillResults": rows}}))
                    }
                }),
            ),
    );
    let dir = TempDir::new("next-elsewhere");
    let roster = dir.file("r.csv", "agent,skill,proficiency\n1,5,12\n");
    let out = tenant.cxskill(&["apply", "--yes", &roster, "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(elsewhere.accept().is_err(), "the next link was followed");
    let skips: Vec<Option<String>> = tenant
        .seen()
        .iter()
        .filter(|s| s.method == "GET" && s.path == format!("{ROOT}/agents/1/skills"))
        .map(|s| s.query.clone())
        .collect();
    assert!(
        skips
            .iter()
            .any(|q| q.as_deref().is_some_and(|q| q.contains("skip=2"))),
        "{skips:?}"
    );
    let body = put.lock().unwrap().clone();
    assert_eq!(
        body,
        Some(json!({"skills": [
            {"skillId": "5", "proficiency": 12, "isActive": true},
            {"skillId": "6", "proficiency": 4, "isActive": true},
            {"skillId": "7", "proficiency": 9, "isActive": true}]})),
        "the full set, read to its end: {}",
        both(&out)
    );
}
