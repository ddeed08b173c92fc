//! The request economy, end to end: the real binary against seeded sandbox
//! tenants over loopback. Each test checks the tenant's final state (exact,
//! nothing outside the roster touched) and the requests that went over the
//! wire, by endpoint: at a tenant's rate limit, the number of requests is
//! the run time.

mod common;
mod stub;

use std::collections::BTreeMap;

use common::{
    Rehearsal, Row, SEEDED_SKILLS, State, TempDir, fast, read, report_json, roster_csv,
    roster_target, seeded_skill, seeded_state, stderr, stdout, tenant_of,
};
use cxskill::sandbox::{PutSemantics, SandboxOptions, TenantEdit};
use serde_json::Value;

const BOTH: [PutSemantics; 2] = [PutSemantics::Modify, PutSemantics::Replace];

/// A seeded tenant of `agents` agents under the strictest settings: ids as
/// strings only, one-agent reads two skills a page.
fn strict(state: &State, agents: u64, put: PutSemantics) -> Rehearsal {
    Rehearsal::with_tenant(
        tenant_of(state, agents, &[]),
        SandboxOptions {
            put_semantics: put,
            string_ids: true,
            agent_skills_page: 2,
            ..SandboxOptions::default()
        },
    )
}

fn apply(sandbox: &Rehearsal, rows: &[Row], extra: &[&str]) -> (std::process::Output, Value) {
    let dir = TempDir::new("economy");
    let roster = dir.file("roster.csv", &roster_csv(rows));
    let mut args = vec!["apply", "--yes", roster.as_str(), "--output", "json"];
    args.extend(extra);
    let out = sandbox.cxskill(&fast(&args));
    let report = report_json(&out);
    (out, report)
}

fn endpoints(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(e, n)| ((*e).to_owned(), *n)).collect()
}

/// Rows that restate what `state` holds for these agents' first
/// `per_agent` skills.
fn restating(state: &State, agents: impl Iterator<Item = u64>, per_agent: usize) -> Vec<Row> {
    let agents: Vec<u64> = agents.collect();
    state
        .iter()
        .filter(|((a, _), _)| agents.contains(a))
        .fold(
            BTreeMap::<u64, Vec<Row>>::new(),
            |mut by, ((a, s), (p, _))| {
                let rows = by.entry(*a).or_default();
                if rows.len() < per_agent {
                    rows.push((*a, *s, Some(*p)));
                }
                by
            },
        )
        .into_values()
        .flatten()
        .collect()
}

#[test]
fn a_no_op_roster_of_hundreds_of_agents_costs_one_assignment_read() {
    for put in BOTH {
        let state = seeded_state(300, 1);
        let sandbox = strict(&state, 300, put);
        let rows = restating(&state, 1..=300, 3);
        assert_eq!(rows.len(), 900);
        let (out, report) = apply(&sandbox, &rows, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(report["summary"]["unchanged"], 900);
        assert_eq!(
            sandbox.endpoints(),
            endpoints(&[("GET /skills", 1), ("GET /skills/agents", 1)]),
            "{put}"
        );
        assert_eq!(sandbox.state(), state);
    }
}

#[test]
fn a_one_skill_roster_is_one_read_one_upsert_and_the_canary() {
    for put in BOTH {
        let state = seeded_state(200, 2);
        let sandbox = strict(&state, 200, put);
        // 50 agents gain a skill they lack, at level 3: a training class.
        let rows: Vec<Row> = (1..=200)
            .filter_map(|a| {
                let lacking = (1..=20)
                    .map(seeded_skill)
                    .find(|s| !state.contains_key(&(a, *s)))?;
                Some((a, lacking, Some(3)))
            })
            .filter(|&(_, s, _)| s == seeded_skill(1) || s == seeded_skill(2))
            .take(50)
            .collect();
        assert!(rows.len() >= 40, "{}", rows.len());
        let (out, report) = apply(&sandbox, &rows, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(report["summary"]["applied"], rows.len());
        assert_eq!(
            sandbox.endpoints(),
            endpoints(&[
                ("GET /skills", 1),
                ("GET /skills/agents", 2),
                ("POST /agents/skills", 1)
            ]),
            "{put}: the plan's read, one upsert, the canary's read"
        );
        assert_eq!(sandbox.state(), roster_target(&state, &rows));
    }
}

#[test]
fn a_prune_roster_reads_whole_sets_the_cheaper_way_and_touches_no_one_else() {
    for put in BOTH {
        let state = seeded_state(100, 3);
        let sandbox = strict(&state, 100, put);
        // 30 agents keep only their first skill (now at level 2): each
        // loses four. Their whole sets come from two bulk reads (active
        // and inactive assignments), not thirty paged reads.
        let rows: Vec<Row> = restating(&state, 1..=30, 1)
            .into_iter()
            .map(|(a, s, _)| (a, s, Some(2)))
            .collect();
        let (out, report) = apply(&sandbox, &rows, &["--prune", "--max-removals", "1000"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let changed = rows
            .iter()
            .filter(|&&(a, s, p)| state.get(&(a, s)).map(|(q, _)| *q) != p)
            .count() as u64;
        assert_eq!(report["summary"]["applied"].as_u64(), Some(changed + 120));
        let mut expected: State = state.clone();
        expected.retain(|(a, _), _| *a > 30);
        for &(a, s, p) in &rows {
            expected.insert((a, s), (p.unwrap_or_default(), true));
        }
        assert_eq!(sandbox.state(), expected, "{put}");
        let seen = sandbox.endpoints();
        assert_eq!(seen.get("GET /agents/skills"), Some(&2), "{seen:?}");
        assert_eq!(seen.get("GET /agents/{id}/skills"), None, "{seen:?}");
        assert_eq!(seen.get("POST /agents/skills"), Some(&1), "{seen:?}");
        // 120 removals over 30 agents and up to 20 skills: at most 20
        // DELETEs (the cover), never one per pair.
        let deletes: u64 = seen
            .iter()
            .filter(|(e, _)| e.starts_with("DELETE"))
            .map(|(_, n)| n)
            .sum();
        assert!(deletes <= 20, "{seen:?}");
    }
}

#[test]
fn one_agents_prune_pages_through_its_own_read() {
    for put in BOTH {
        let state = seeded_state(10, 4);
        let sandbox = strict(&state, 10, put);
        let rows: Vec<Row> = restating(&state, 1..=1, 1);
        let (out, _) = apply(&sandbox, &rows, &["--prune"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        // Five skills two a page: three pages of the one-agent read.
        assert_eq!(
            sandbox.endpoints().get("GET /agents/{id}/skills"),
            Some(&3),
            "{put}"
        );
        let mut expected = state.clone();
        expected.retain(|(a, s), _| *a != 1 || *s == rows[0].1);
        assert_eq!(sandbox.state(), expected, "{put}");
    }
}

#[test]
fn levels_1_to_5_go_bulk_and_6_to_20_go_per_agent() {
    let state = seeded_state(6, 5);
    let held = |a: u64| -> Vec<u64> {
        state
            .keys()
            .filter(|(x, _)| *x == a)
            .map(|(_, s)| *s)
            .collect()
    };
    let lacking = |a: u64| -> Vec<u64> {
        (1..=20)
            .map(seeded_skill)
            .filter(|s| !state.contains_key(&(a, *s)))
            .collect()
    };
    let rows: Vec<Row> = vec![
        (1, lacking(1)[0], Some(4)),  // add at 1..=5: upsert
        (2, lacking(2)[0], Some(12)), // add at 6..=20: POST
        (3, held(3)[0], Some(1)),     // change to 1..=5: upsert
        (4, held(4)[0], Some(17)),    // change to 6..=20: PUT
    ];
    let rows: Vec<Row> = rows
        .into_iter()
        .filter(|&(a, s, p)| state.get(&(a, s)).map(|(q, _)| Some(*q)) != Some(p))
        .collect();
    for put in BOTH {
        let sandbox = strict(&state, 6, put);
        let (out, _) = apply(&sandbox, &rows, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let seen = sandbox.endpoints();
        assert_eq!(seen.get("POST /agents/skills"), Some(&1), "{seen:?}");
        assert_eq!(seen.get("POST /agents/{id}/skills"), Some(&1), "{seen:?}");
        assert_eq!(seen.get("PUT /agents/{id}/skills"), Some(&1), "{seen:?}");
        assert_eq!(sandbox.state(), roster_target(&state, &rows), "{put}");
        let bodies: Vec<Value> = sandbox
            .writes()
            .into_iter()
            .filter_map(|w| w.body)
            .collect();
        let id = |v: &Value| -> u64 {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .unwrap_or_else(|| panic!("not an id: {v}"))
        };
        let mut upserted: Vec<Row> = Vec::new();
        for body in &bodies {
            for item in body["agentAndSkillDetails"]
                .as_array()
                .into_iter()
                .flatten()
            {
                for skills in item["skills"].as_array().unwrap() {
                    assert!(skills["proficiency"].as_u64().unwrap() <= 5, "{body}");
                    let p = skills["proficiency"].as_i64();
                    for agent in item["agentIds"].as_array().unwrap() {
                        for skill in skills["skillIds"].as_array().unwrap() {
                            upserted.push((id(agent), id(skill), p));
                        }
                    }
                }
            }
        }
        // The loop above saw the upsert, and it carried exactly the rows
        // at 1..=5.
        assert!(!upserted.is_empty(), "no upsert body: {bodies:?}");
        upserted.sort_unstable();
        let mut bulk: Vec<Row> = rows
            .iter()
            .copied()
            .filter(|&(_, _, p)| p.is_some_and(|p| p <= 5))
            .collect();
        bulk.sort_unstable();
        assert_eq!(upserted, bulk, "{put}");
    }
}

#[test]
fn an_agent_with_adds_at_6_to_20_and_changes_keeps_its_adds_under_replace() {
    let state = seeded_state(3, 6);
    let agent = 2;
    let held: Vec<u64> = state
        .keys()
        .filter(|(a, _)| *a == agent)
        .map(|(_, s)| *s)
        .collect();
    let lacking: Vec<u64> = (1..=20)
        .map(seeded_skill)
        .filter(|s| !held.contains(s))
        .collect();
    let change_to = if state[&(agent, held[0])].0 == 15 {
        16
    } else {
        15
    };
    let rows: Vec<Row> = vec![
        (agent, lacking[0], Some(12)),
        (agent, lacking[1], Some(9)),
        (agent, held[0], Some(change_to)),
    ];
    let sandbox = strict(&state, 3, PutSemantics::Replace);
    let (out, report) = apply(&sandbox, &rows, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report["summary"]["applied"], 3);
    // The PUT was built from a read taken after the POST was answered:
    // the replacing PUT kept the run's own adds and every other skill.
    assert_eq!(sandbox.state(), roster_target(&state, &rows));
    let order: Vec<String> = sandbox.writes().iter().map(|w| w.method.clone()).collect();
    assert_eq!(order, ["POST", "PUT"]);
    let put = sandbox
        .writes()
        .into_iter()
        .find(|w| w.method == "PUT")
        .and_then(|w| w.body)
        .expect("a PUT body");
    assert_eq!(
        put["skills"].as_array().unwrap().len(),
        7,
        "the full set in one body: {put}"
    );
}

#[test]
fn small_rosters_a_b_d_e_converge_with_the_fewest_requests() {
    for put in BOTH {
        let state = seeded_state(40, 7);
        // A: 20 agents gain a skill they lack at level 5, in bodies of 7.
        let a_rows: Vec<Row> = (1..=20)
            .map(|a| {
                let s = (1..=20)
                    .map(seeded_skill)
                    .find(|s| !state.contains_key(&(a, *s)))
                    .unwrap();
                (a, s, Some(5))
            })
            .collect();
        let sandbox = strict(&state, 40, put);
        let (out, _) = apply(&sandbox, &a_rows, &["--batch-size", "7"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(sandbox.state(), roster_target(&state, &a_rows));
        assert_eq!(
            sandbox.endpoints(),
            endpoints(&[
                ("GET /skills", 1),
                ("GET /skills/agents", 2),
                ("POST /agents/skills", 3)
            ]),
            "A {put}"
        );

        // B: every agent changes one held skill to a new level in 1..=5.
        let b_rows: Vec<Row> = (1..=40)
            .map(|a| {
                let (&(_, s), &(p, _)) = state.range((a, 0)..=(a, u64::MAX)).next().unwrap();
                (a, s, Some(if p == 3 { 4 } else { 3 }))
            })
            .collect();
        let sandbox = strict(&state, 40, put);
        let (out, _) = apply(&sandbox, &b_rows, &["--batch-size", "7"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let after_b = roster_target(&state, &b_rows);
        assert_eq!(sandbox.state(), after_b);
        assert_eq!(
            sandbox.endpoints(),
            endpoints(&[
                ("GET /skills", 1),
                ("GET /skills/agents", 2),
                ("POST /agents/skills", 6)
            ]),
            "B {put}"
        );

        // D: B again: one read, no write.
        let (out, report) = apply(&sandbox, &b_rows, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(report["summary"]["unchanged"], 40);
        assert_eq!(
            report["summary"]["requests"]["by_endpoint"]["GET /skills/agents"],
            1
        );
        assert_eq!(report["summary"]["requests"]["POST"], 0);
        assert_eq!(sandbox.state(), after_b);

        // E: B's pairs at new levels in 1..=20: the 6..=20 ones by one
        // full-set PUT per agent, after one bulk read of their sets.
        let e_rows: Vec<Row> = b_rows
            .iter()
            .map(|&(a, s, _)| (a, s, Some(if state[&(a, s)].0 == 9 { 10 } else { 9 })))
            .collect();
        let sandbox = strict(&state, 40, put);
        let (out, _) = apply(&sandbox, &e_rows, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(sandbox.state(), roster_target(&state, &e_rows));
        let seen = sandbox.endpoints();
        assert_eq!(seen.get("PUT /agents/{id}/skills"), Some(&40), "{seen:?}");
        assert_eq!(seen.get("GET /agents/skills"), Some(&2), "{seen:?}");
        assert_eq!(seen.get("GET /agents/{id}/skills"), None, "{seen:?}");
    }
}

#[test]
fn roster_c_removes_by_the_minimum_cover_and_converges_exactly() {
    for put in BOTH {
        let state = seeded_state(60, 8);
        let mut rng = fastrand::Rng::with_seed(9);
        let mut rows: Vec<Row> = Vec::new();
        for a in 1..=40 {
            let mut held: Vec<u64> = state
                .keys()
                .filter(|(x, _)| *x == a)
                .map(|(_, s)| *s)
                .collect();
            let mut lacking: Vec<u64> = (1..=20)
                .map(seeded_skill)
                .filter(|s| !held.contains(s))
                .collect();
            rng.shuffle(&mut held);
            rng.shuffle(&mut lacking);
            for _ in 0..4 {
                match rng.u8(0..3) {
                    0 => rows.push((a, lacking.pop().unwrap(), Some(i64::from(rng.u8(1..=5))))),
                    1 => {
                        let s = held.pop().unwrap();
                        let p = state[&(a, s)].0;
                        rows.push((a, s, Some(if p == 2 { 3 } else { 2 })));
                    }
                    _ => rows.push((a, held.pop().unwrap(), None)),
                }
            }
        }
        let sandbox = strict(&state, 60, put);
        let removals = rows.iter().filter(|r| r.2.is_none()).count();
        let (out, _) = apply(&sandbox, &rows, &["--max-removals", "1000"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(sandbox.state(), roster_target(&state, &rows), "{put}");
        let seen = sandbox.endpoints();
        let deletes: u64 = seen
            .iter()
            .filter(|(e, _)| e.starts_with("DELETE"))
            .map(|(_, n)| n)
            .sum();
        // At most one DELETE per skill (20), and far fewer than one per
        // agent with a removal.
        assert!(deletes <= 20 && (deletes as usize) < removals, "{seen:?}");
        assert_eq!(seen.get("POST /agents/skills"), Some(&1), "{seen:?}");
    }
}

#[test]
fn a_row_refused_inside_a_bulk_answer_lands_on_its_line_and_in_failed_rows() {
    let state = seeded_state(10, 10);
    let refused = seeded_skill(20);
    let sandbox = Rehearsal::with_tenant(
        tenant_of(&state, 10, &[]),
        SandboxOptions {
            refuse_skills: vec![refused],
            string_ids: true,
            ..SandboxOptions::default()
        },
    );
    let lacking = |a: u64, s: u64| !state.contains_key(&(a, s));
    let other = (1..=19)
        .map(seeded_skill)
        .find(|s| lacking(1, *s) && lacking(2, *s))
        .unwrap();
    let rows: Vec<Row> = [
        (1, other, Some(2)),
        (2, other, Some(2)),
        (1, refused, Some(3)),
        (2, refused, Some(3)),
    ]
    .into_iter()
    .filter(|&(a, s, _)| lacking(a, s))
    .collect();
    let dir = TempDir::new("bulk-refused");
    let roster = dir.file("roster.csv", &roster_csv(&rows));
    let failed = dir.path("failed.csv");
    let out = sandbox.cxskill(&fast(&[
        "apply",
        "--yes",
        &roster,
        "--output",
        "json",
        "--failed-rows",
        &failed,
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = report_json(&out);
    let failed_lines: Vec<u64> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "failed")
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.1 == refused)
        .map(|(i, _)| i as u64 + 2)
        .collect();
    assert_eq!(failed_lines, expected);
    let csv = read(&failed);
    for line in &expected {
        assert!(
            csv.contains(&format!(
                "line {line}: rejected by the tenant (no reason given)"
            )),
            "{csv}"
        );
    }
    // The rows the answer refused were read back once, in bulk, before
    // being reported: never assumed either way.
    assert_eq!(
        sandbox.endpoints().get("GET /skills/agents"),
        Some(&3),
        "the plan's read, the canary, the read-back"
    );
}

#[test]
fn the_canary_stops_a_tenant_whose_upsert_replaces_and_puts_back_what_it_wiped() {
    let state = seeded_state(20, 11);
    let sandbox = Rehearsal::with_tenant(
        tenant_of(&state, 20, &[]),
        SandboxOptions {
            upsert_replaces: true,
            ..SandboxOptions::default()
        },
    );
    // Two bodies' worth of adds at level 4 (batch of 5).
    let rows: Vec<Row> = (1..=10)
        .map(|a| {
            let s = (1..=20)
                .map(seeded_skill)
                .find(|s| !state.contains_key(&(a, *s)))
                .unwrap();
            (a, s, Some(4))
        })
        .collect();
    let (out, report) = apply(&sandbox, &rows, &["--batch-size", "5"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("replaces"), "{}", stderr(&out));
    // Each put back is said so, from the answer's own rows; the wipe is
    // not someone else's change.
    let wiped: Vec<&str> = report["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(Value::as_str)
        .filter(|w| w.contains("wiped by the upsert"))
        .collect();
    assert!(!wiped.is_empty(), "{report}");
    assert!(
        wiped
            .iter()
            .all(|w| w.contains("wiped by the upsert and restored")),
        "{wiped:?}"
    );
    assert!(
        report["concurrent_changes"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{report}"
    );
    assert!(stderr(&out).contains("--no-bulk"), "{}", stderr(&out));
    // Only the first body went out; every assignment it wiped is back, so
    // nothing the roster did not name is lost.
    assert_eq!(sandbox.endpoints().get("POST /agents/skills"), Some(&1));
    let now = sandbox.state();
    for (key, value) in &state {
        assert_eq!(now.get(key), Some(value), "lost {key:?}");
    }
}

#[test]
fn without_bulk_endpoints_the_run_falls_back_to_per_agent_writes_once() {
    let state = seeded_state(12, 12);
    let rows: Vec<Row> = (1..=12)
        .map(|a| {
            let (&(_, s), &(p, _)) = state.range((a, 0)..=(a, u64::MAX)).next().unwrap();
            (a, s, Some(if p == 2 { 3 } else { 2 }))
        })
        .chain((1..=3).map(|a| {
            let (&(_, s), _) = state.range((a, 0)..=(a, u64::MAX)).nth(1).unwrap();
            (a, s, None)
        }))
        .collect();
    for put in BOTH {
        let sandbox = Rehearsal::with_tenant(
            tenant_of(&state, 12, &[]),
            SandboxOptions {
                no_bulk_endpoints: true,
                put_semantics: put,
                ..SandboxOptions::default()
            },
        );
        let (out, report) = apply(&sandbox, &rows, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(sandbox.state(), roster_target(&state, &rows), "{put}");
        let warnings = report["warnings"].as_array().expect("a warning");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].as_str().unwrap().contains("405"),
            "{warnings:?}"
        );
        let refused = sandbox
            .requests()
            .iter()
            .filter(|r| r.status == 405)
            .count();
        assert_eq!(refused, 1, "the bulk endpoints were tried once");
    }
    // --no-bulk never tries them.
    let sandbox = Rehearsal::with_tenant(tenant_of(&state, 12, &[]), SandboxOptions::default());
    let (out, _) = apply(&sandbox, &rows, &["--no-bulk"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sandbox.state(), roster_target(&state, &rows));
    let seen = sandbox.endpoints();
    assert!(!seen.contains_key("POST /agents/skills"), "{seen:?}");
    assert!(!seen.contains_key("DELETE /skills/{id}/agents"), "{seen:?}");
}

#[test]
fn a_404_with_a_json_body_fails_its_rows_and_does_not_fall_back() {
    use axum::routing::post;
    let app = stub::one_skill_tenant(serde_json::json!([]))
        .route(
            &format!("{}/agents/skills", stub::ROOT),
            post(|| async {
                (
                    axum::http::StatusCode::NOT_FOUND,
                    axum::Json(serde_json::json!({"error": "NotFound", "error_description": "Agent 4242 not found"})),
                )
            }),
        )
        .route(
            &format!("{}/agents/{{id}}/skills", stub::ROOT),
            axum::routing::get(|| async { axum::http::StatusCode::NOT_FOUND })
                .post(|| async { axum::http::StatusCode::INTERNAL_SERVER_ERROR }),
        );
    let tenant = stub::Stub::start(app);
    let dir = TempDir::new("404-json");
    let roster = dir.file("r.csv", "agent,skill,proficiency\n4242,5,3\n");
    let out = tenant.cxskill(&["apply", "--yes", &roster, "--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = report_json(&out);
    assert_eq!(report["rows"][0]["status"], "failed");
    assert!(
        report["rows"][0]["error"]
            .as_str()
            .unwrap()
            .contains("Agent 4242 not found"),
        "{report}"
    );
    assert!(report.get("warnings").is_none(), "no fallback: {report}");
    assert!(
        !tenant
            .writes()
            .iter()
            .any(|w| w.method == "POST" && w.path != format!("{}/agents/skills", stub::ROOT)),
        "no per-agent write"
    );
}

#[test]
fn an_edit_by_another_admin_during_the_run_is_kept_and_reported() {
    for put in BOTH {
        let state = seeded_state(8, 13);
        let sandbox = strict(&state, 8, put);
        // Agent 1 gets a full-set PUT (a change to 6..=20); agent 2 an
        // upsert, which goes first. Between the plan's read and that first
        // write, another admin changes a skill of agent 1 the roster does
        // not name.
        let mut agent1 = state.range((1, 0)..=(1, u64::MAX));
        let (&(_, s1), &(p1, _)) = agent1.next().unwrap();
        let (&(_, other), &(other_p, _)) = agent1.next().unwrap();
        let (&(_, s2), &(p2, _)) = state.range((2, 0)..=(2, u64::MAX)).next().unwrap();
        let rows: Vec<Row> = vec![
            (1, s1, Some(if p1 == 18 { 19 } else { 18 })),
            (2, s2, Some(if p2 == 1 { 2 } else { 1 })),
        ];
        let edited = if other_p == 7 { 8 } else { 7 };
        sandbox
            .handle()
            .edit_before_first_write(vec![
                TenantEdit::new(1, other, Some((edited as u8, false))).unwrap(),
            ])
            .unwrap();
        let (out, report) = apply(&sandbox, &rows, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let mut expected = roster_target(&state, &rows);
        expected.insert((1, other), (edited, false));
        assert_eq!(sandbox.state(), expected, "{put}: the edit was kept");
        let changes = report["concurrent_changes"].as_array().expect("reported");
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0]["agent"], 1);
        assert_eq!(changes[0]["skill"], other);
        assert_eq!(changes[0]["before"]["proficiency"], other_p);
        assert_eq!(changes[0]["after"]["proficiency"], edited);
        assert_eq!(changes[0]["after"]["active"], false);

        // The person at the terminal sees it too.
        let sandbox = strict(&state, 8, put);
        sandbox
            .handle()
            .edit_before_first_write(vec![
                TenantEdit::new(1, other, Some((edited as u8, false))).unwrap(),
            ])
            .unwrap();
        let dir = TempDir::new("concurrent");
        let roster = dir.file("roster.csv", &roster_csv(&rows));
        let out = sandbox.cxskill(&fast(&["apply", "--yes", &roster]));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            stdout(&out).contains(&format!(
                "concurrent changes by someone else, kept (1):\n  agent 1 skill {other}: proficiency {other_p} active → proficiency {edited} inactive"
            )),
            "{}",
            stdout(&out)
        );
    }
}

#[test]
fn a_413_splits_the_body_and_every_pair_still_lands() {
    use std::sync::{Arc, Mutex};
    // A tenant whose upsert takes at most two pairs a body: larger ones
    // are 413.
    let sizes: Arc<Mutex<Vec<usize>>> = Arc::default();
    let seen = sizes.clone();
    let app = stub::one_skill_tenant(serde_json::json!([])).route(
        &format!("{}/agents/skills", stub::ROOT),
        axum::routing::post(move |body: axum::Json<Value>| {
            let seen = seen.clone();
            async move {
                let mut rows = Vec::new();
                for item in body["agentAndSkillDetails"].as_array().unwrap() {
                    for agent in item["agentIds"].as_array().unwrap() {
                        for skills in item["skills"].as_array().unwrap() {
                            for skill in skills["skillIds"].as_array().unwrap() {
                                rows.push(serde_json::json!({"agentId": agent, "skillId": skill, "success": true}));
                            }
                        }
                    }
                }
                seen.lock().unwrap().push(rows.len());
                if rows.len() > 2 {
                    return (
                        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                        axum::Json(serde_json::json!({"error": "RequestTooLarge"})),
                    );
                }
                (
                    axum::http::StatusCode::OK,
                    axum::Json(serde_json::json!({"resultSet": {"errorCount": "0", "skillResults": rows}})),
                )
            }
        }),
    );
    let tenant = stub::Stub::start(app);
    let dir = TempDir::new("413");
    let rows: String = (1..=7).map(|a| format!("{a},5,3\n")).collect();
    let roster = dir.file("r.csv", &format!("agent,skill,proficiency\n{rows}"));
    let out = tenant.cxskill(&["apply", "--yes", &roster, "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report_json(&out)["summary"]["applied"], 7);
    let sizes = sizes.lock().unwrap().clone();
    // 7 refused, split in halves until every body fits.
    assert_eq!(sizes[0], 7, "{sizes:?}");
    let landed: usize = sizes.iter().filter(|&&n| n <= 2).sum();
    assert_eq!(landed, 7, "{sizes:?}");
}

/// Plans and applies `rows` with the library, as `cxskill apply --yes`
/// would; with `signal_after`, a SIGINT that long into the apply.
fn apply_in_process(
    sandbox: &Rehearsal,
    rows: &[Row],
    job: &cxskill::job::Job,
    signal_after: Option<std::time::Duration>,
) -> cxskill::apply::Applied {
    use cxskill::client::Client;
    use cxskill::interrupt::{Interrupt, Signal};
    use cxskill::roster::{Format, Input, Source};

    let connection = common::connection(sandbox.handle(), 1000.0, job.concurrency);
    let input = Input::from_bytes(Source::Stdin, Format::Csv, roster_csv(rows));
    let roster = cxskill::roster::parse(&input, &Default::default());
    sandbox.runtime.block_on(async {
        let client = Client::connect(&connection).await.expect("connect");
        let planned = job.plan(&client, &roster.rows).await.expect("plan");
        let interrupt = Interrupt::new();
        if let Some(after) = signal_after {
            let interrupt = interrupt.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                interrupt.trigger(Signal::Interrupt);
            });
        }
        job.apply(&client, planned, interrupt, &|_| ()).await
    })
}

#[test]
fn stale_full_sets_are_read_again_and_a_slow_reread_gives_way_to_per_agent_reads() {
    use cxskill::job::{Confirmation, Job, Mode};
    use std::time::Duration;

    let state = seeded_state(12, 14);
    // Every request takes at least 100 ms: the bulk read and its re-read
    // (two requests each, one at a time) take longer than the limit of
    // 180 ms, one agent's read does not.
    let sandbox = Rehearsal::with_tenant(
        tenant_of(&state, 12, &[]),
        SandboxOptions {
            latency: Duration::from_millis(100),
            ..SandboxOptions::default()
        },
    );
    // Every agent changes one skill to 6..=20: twelve full-set PUTs, after
    // one bulk read of their sets, which is too old by the first PUT.
    let rows: Vec<Row> = (1..=12)
        .map(|a| {
            let (&(_, s), &(p, _)) = state.range((a, 0)..=(a, u64::MAX)).next().unwrap();
            (a, s, Some(if p == 13 { 14 } else { 13 }))
        })
        .collect();
    let job = Job {
        mode: Mode::Apply,
        confirmation: Confirmation::Given,
        concurrency: 1,
        max_read_age: Duration::from_millis(180),
        ..Job::default()
    };
    let applied = apply_in_process(&sandbox, &rows, &job, None);
    assert!(applied.fatal.is_none(), "{:?}", applied.fatal);
    assert_eq!(sandbox.state(), roster_target(&state, &rows));
    let rereads = sandbox
        .requests()
        .iter()
        .filter(|r| {
            r.path.ends_with("/v34.0/agents/skills")
                && r.method == "GET"
                && r.query
                    .as_deref()
                    .is_some_and(|q| q.contains("UpdatedSince="))
        })
        .count();
    // The first PUT found the bulk read too old and read it again with
    // UpdatedSince (both filter combinations); that re-read itself took
    // longer than the limit (180 ms), so every PUT, that first one included,
    // was built from its agent's own read, just before it: no storm of
    // bulk re-reads.
    assert_eq!(rereads, 2, "{:?}", sandbox.endpoints());
    assert_eq!(
        sandbox.endpoints().get("GET /agents/{id}/skills"),
        Some(&12),
        "{:?}",
        sandbox.endpoints()
    );
}

#[test]
fn plan_lists_the_requests_apply_would_send_by_endpoint() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let out = sandbox.cxskill(&fast(&["plan", "examples/roster.csv"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("requests: 1 GET /agents, 1 GET /skills, 2 GET /skills/agents, 1 POST /agents/skills, 7 POST /agents/{id}/skills, 1 DELETE /agents/{id}/skills\n"),
        "{text}"
    );
    assert!(
        text.ends_with("17 to add, 3 to change, 1 to remove, 4 unchanged; 13 requests\n"),
        "{text}"
    );
    let out = sandbox.cxskill(&fast(&["plan", "examples/roster.csv", "--output", "json"]));
    let report = report_json(&out);
    assert_eq!(report["expected_requests"]["POST /agents/skills"], 1);
    assert_eq!(report["expected_requests"]["POST /agents/{id}/skills"], 7);
    assert_eq!(report["expected_requests"]["GET /skills/agents"], 2);
    // And apply sends exactly that.
    let before = sandbox.endpoints();
    let out = sandbox.cxskill(&fast(&[
        "apply",
        "--yes",
        "examples/roster.csv",
        "--output",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sent = report_json(&out)["summary"]["requests"]["by_endpoint"].clone();
    assert_eq!(sent, report["expected_requests"], "{before:?}");
}

#[test]
fn a_replacing_put_never_removes_what_the_tenant_refused_to_remove() {
    let state = seeded_state(4, 15);
    let mut held = state.range((1, 0)..=(1, u64::MAX));
    let (&(_, changed), &(p, _)) = held.next().unwrap();
    let (&(_, refused), _) = held.next().unwrap();
    // Agent 1: one skill changes to 6..=20 (a full-set PUT) and one the
    // tenant refuses to touch is removed (its DELETE fails its row).
    let rows: Vec<Row> = vec![
        (1, changed, Some(if p == 11 { 12 } else { 11 })),
        (1, refused, None),
    ];
    let sandbox = Rehearsal::with_tenant(
        tenant_of(&state, 4, &[]),
        SandboxOptions {
            put_semantics: PutSemantics::Replace,
            refuse_skills: vec![refused],
            ..SandboxOptions::default()
        },
    );
    let (out, report) = apply(&sandbox, &rows, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let tenant = sandbox.state();
    assert!(
        tenant.contains_key(&(1, refused)),
        "removed by omission in the PUT"
    );
    let statuses: Vec<(u64, String)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["skill"].as_u64().unwrap(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&(refused, "failed".to_owned())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(changed, "applied".to_owned())),
        "{statuses:?}"
    );
    let mut expected = roster_target(&state, &rows[..1]);
    expected.insert((1, refused), state[&(1, refused)]);
    assert_eq!(tenant, expected);
}

#[test]
fn a_signal_during_the_canary_read_sends_no_upsert() {
    use cxskill::job::{Confirmation, Job, Mode};
    use cxskill::outcome::Status;
    use std::time::Duration;

    let state = seeded_state(4, 21);
    let sandbox = Rehearsal::with_tenant(
        tenant_of(&state, 4, &[]),
        SandboxOptions {
            latency: Duration::from_millis(400),
            ..SandboxOptions::default()
        },
    );
    // Each agent gains a skill it lacks, at 1..=5: one upsert body, the
    // canary. Under a freshness limit of zero its baseline is read again
    // first, and the signal lands during that read.
    let rows: Vec<Row> = (1..=4)
        .map(|a| {
            let lacking = (1..=SEEDED_SKILLS)
                .map(seeded_skill)
                .find(|&s| !state.contains_key(&(a, s)))
                .unwrap();
            (a, lacking, Some(3))
        })
        .collect();
    let job = Job {
        mode: Mode::Apply,
        confirmation: Confirmation::Given,
        max_read_age: Duration::ZERO,
        ..Job::default()
    };
    let planned_reads = sandbox.requests().len();
    let applied = apply_in_process(&sandbox, &rows, &job, Some(Duration::from_millis(150)));
    assert!(applied.interrupted.is_some());
    let requests = sandbox.requests();
    assert!(
        requests[planned_reads..]
            .iter()
            .any(|r| r.method == "GET" && r.path.ends_with("/skills/agents")),
        "the canary's baseline was read: {:?}",
        sandbox.endpoints()
    );
    assert!(
        requests
            .iter()
            .all(|r| r.method == "GET" || r.path.ends_with("/auth/token")),
        "no write after the signal: {:?}",
        sandbox.endpoints()
    );
    assert_eq!(sandbox.state(), state);
    let changed: Vec<_> = applied
        .rows
        .iter()
        .filter(|r| {
            r.action
                .is_some_and(|a| a != cxskill::plan::Action::Unchanged)
        })
        .collect();
    assert_eq!(changed.len(), 4);
    for row in changed {
        assert_eq!(row.status, Status::Failed, "{row:?}");
        assert!(
            row.error
                .as_deref()
                .is_some_and(|e| e.contains("interrupted (SIGINT), not sent")),
            "{row:?}"
        );
    }
}
