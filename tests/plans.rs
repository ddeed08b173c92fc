//! Saved plans and undo: what was approved is what is applied, and a run
//! can be taken back. The real binary against sandbox tenants over
//! loopback.

mod common;

use common::{
    Rehearsal, Row, TempDir, example_target, fast, read, report_json, roster_csv, roster_target,
    seeded_skill, seeded_state, stderr, stdout, tenant_of,
};
use cxskill::sandbox::{SandboxOptions, Tenant};
use serde_json::Value;

fn plan_to(sandbox: &Rehearsal, roster: &str, out: &str) {
    let result = sandbox.cxskill(&fast(&["plan", roster, "--out", out]));
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert!(
        stdout(&result).contains(&format!("plan saved to {out}")),
        "{}",
        stdout(&result)
    );
}

#[test]
fn a_saved_plan_applies_its_changes_without_the_roster_and_without_asking() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let before = sandbox.state();
    let dir = TempDir::new("saved");
    let plan = dir.path("plan.json");
    // Planned from a copy of the roster that is gone before the apply.
    let copy = TempDir::new("saved-roster");
    let roster = copy.file("roster.csv", &read("examples/roster.csv"));
    plan_to(&sandbox, &roster, &plan);
    assert!(sandbox.writes().is_empty());
    let saved: Value = serde_json::from_str(&read(&plan)).expect("JSON");
    assert_eq!(saved["format"], "cxskill-plan");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["roster"]["name"], roster.as_str());
    assert!(
        saved["roster"]["sha256"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(
        saved["tenant"]["tenant_id"],
        sandbox.handle().tenant_id().to_string()
    );
    assert_eq!(
        saved["tenant"]["business_unit_id"],
        sandbox.handle().business_unit_id().to_string()
    );
    assert_eq!(saved["changes"].as_array().unwrap().len(), 21);
    assert!(saved["checksum"].as_str().unwrap().starts_with("sha256:"));
    assert!(saved["requests"]["POST /agents/skills"].as_u64().is_some());

    // `show` prints it as `plan` did, with its age.
    let shown = sandbox.cxskill(&["show", &plan]);
    assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
    let text = stdout(&shown);
    assert!(text.starts_with("plan made "), "{text}");
    assert!(text.contains(" ago ("), "{text}");
    assert!(text.contains("  ~ 445566 Sales  7 → 3\n"), "{text}");
    assert!(
        text.contains("17 to add, 3 to change, 1 to remove, 4 unchanged; "),
        "{text}"
    );

    drop(copy);
    assert!(!std::path::Path::new(&roster).exists());

    // Off a terminal and without --yes: the plan was the review.
    let out = sandbox.cxskill(&fast(&["apply", &plan, "--output", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report_json(&out)["summary"]["applied"], 21);
    assert_eq!(sandbox.state(), example_target(&before));
}

#[test]
fn drift_is_refused_unless_allowed_and_then_each_target_meets_what_is_there() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let before = sandbox.state();
    let dir = TempDir::new("drift");
    let plan = dir.path("plan.json");
    plan_to(&sandbox, "examples/roster.csv", &plan);
    // Someone changes Jane's Sales (planned 7 → 3) to 9, and gives Omar
    // Billing ES (planned as an add at 4) at 12.
    sandbox
        .handle()
        .set_assignment(1001, 445566, Some((9, true)))
        .unwrap();
    sandbox
        .handle()
        .set_assignment(1002, 112234, Some((12, true)))
        .unwrap();
    let edited = sandbox.state();

    let out = sandbox.cxskill(&fast(&["apply", &plan]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("changed since (drift, 2):"), "{text}");
    assert!(
        text.contains("line 3: agent 1001 skill 445566: expected proficiency 7 active, the tenant holds proficiency 9 active"),
        "{text}"
    );
    assert!(stderr(&out).contains("--allow-drift"), "{}", stderr(&out));
    assert!(sandbox.writes().is_empty(), "nothing was sent");
    assert_eq!(sandbox.state(), edited);

    let out = sandbox.cxskill(&fast(&[
        "apply",
        &plan,
        "--allow-drift",
        "--output",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = report_json(&out);
    assert_eq!(report["drift"].as_array().unwrap().len(), 2);
    assert_eq!(sandbox.state(), example_target(&before));
}

#[test]
fn a_plan_for_another_tenant_or_a_damaged_or_future_plan_is_refused() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let dir = TempDir::new("refusals");
    let plan = dir.path("plan.json");
    plan_to(&sandbox, "examples/roster.csv", &plan);
    let text = read(&plan);

    // The same data under another tenant id.
    let embedded = include_str!("../examples/tenant.json");
    let other: Value = serde_json::from_str(embedded).unwrap();
    let mut other = other;
    other["tenantId"] = Value::String("22222222-3333-4444-8555-666666666666".into());
    let elsewhere = Rehearsal::with_tenant(
        Tenant::from_json(&other.to_string()).unwrap(),
        SandboxOptions::default(),
    );
    let before = elsewhere.state();
    let out = elsewhere.cxskill(&fast(&["apply", &plan]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the plan was made for tenant"),
        "{}",
        stderr(&out)
    );
    assert!(elsewhere.writes().is_empty());
    assert_eq!(elsewhere.state(), before);

    let damaged = dir.file(
        "damaged.json",
        &text.replacen("\"skill\": 445566", "\"skill\": 445567", 1),
    );
    let out = sandbox.cxskill(&fast(&["apply", &damaged]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the plan is damaged"),
        "{}",
        stderr(&out)
    );

    let future = dir.file(
        "future.json",
        &text.replacen("\"version\": 1", "\"version\": 2", 1),
    );
    let out = sandbox.cxskill(&fast(&["apply", &future]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("plan format version 2"),
        "{}",
        stderr(&out)
    );
    let out = sandbox.cxskill(&["show", &future]);
    assert_eq!(out.status.code(), Some(2));
    assert!(sandbox.writes().is_empty());
}

#[test]
fn a_change_outside_the_plan_made_after_it_is_kept_and_warned_about() {
    let state = seeded_state(6, 51);
    let sandbox = Rehearsal::with_tenant(tenant_of(&state, 6, &[]), SandboxOptions::default());
    // Agent 1 changes one skill to 6..=20 (a full-set PUT); agent 2 one to
    // 1..=5 (the upsert).
    let mut held = state.range((1, 0)..=(1, u64::MAX));
    let (&(_, s1), &(p1, _)) = held.next().unwrap();
    let (&(_, other), &(other_p, _)) = held.next().unwrap();
    let (&(_, s2), &(p2, _)) = state.range((2, 0)..=(2, u64::MAX)).next().unwrap();
    let rows: Vec<Row> = vec![
        (1, s1, Some(if p1 == 18 { 19 } else { 18 })),
        (2, s2, Some(if p2 == 1 { 2 } else { 1 })),
    ];
    let dir = TempDir::new("outside");
    let roster = dir.file("roster.csv", &roster_csv(&rows));
    let plan = dir.path("plan.json");
    plan_to(&sandbox, &roster, &plan);
    // After the plan, another admin changes a skill of agent 1 that the
    // plan does not name.
    let edited = if other_p == 7 { 8 } else { 7 };
    sandbox
        .handle()
        .set_assignment(1, other, Some((edited as u8, false)))
        .unwrap();
    let out = sandbox.cxskill(&fast(&["apply", &plan, "--output", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut expected = roster_target(&state, &rows);
    expected.insert((1, other), (edited, false));
    assert_eq!(sandbox.state(), expected, "the edit was kept");
    let report = report_json(&out);
    let changes = report["concurrent_changes"]
        .as_array()
        .unwrap_or_else(|| panic!("not warned: {report}\n{}", stderr(&out)));
    assert!(
        changes
            .iter()
            .any(|c| c["agent"] == 1 && c["skill"] == other && c["after"]["proficiency"] == edited),
        "{changes:?}"
    );
}

#[test]
fn undo_of_a_run_that_added_300_assignments_restores_the_state_without_the_guard() {
    let state = seeded_state(150, 52);
    let sandbox = Rehearsal::with_tenant(tenant_of(&state, 150, &[]), SandboxOptions::default());
    // 150 agents gain two skills each: 300 adds, at 1..=5 and at 6..=20.
    let rows: Vec<Row> = (1..=150)
        .flat_map(|a| {
            let lacking: Vec<u64> = (1..=20)
                .map(seeded_skill)
                .filter(|s| !state.contains_key(&(a, *s)))
                .take(2)
                .collect();
            [(a, lacking[0], Some(3)), (a, lacking[1], Some(11))]
        })
        .collect();
    let dir = TempDir::new("undo");
    let roster = dir.file("roster.csv", &roster_csv(&rows));
    let snapshot = dir.path("snapshot.csv");
    let out = sandbox.cxskill(&fast(&["apply", "--yes", &roster, "--snapshot", &snapshot]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sandbox.state(), roster_target(&state, &rows));

    // Plain apply of the snapshot keeps today's guard: 300 removals.
    let out = sandbox.cxskill(&fast(&["apply", "--yes", &snapshot]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("more than --max-removals 50"),
        "{}",
        stderr(&out)
    );
    assert!(sandbox.state() == roster_target(&state, &rows));

    // Undo asks like apply: off a terminal it needs --yes.
    let out = sandbox.cxskill(&fast(&["undo", &snapshot]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));

    let out = sandbox.cxskill(&fast(&["undo", &snapshot, "--yes", "--output", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report_json(&out)["summary"]["applied"], 300);
    assert_eq!(sandbox.state(), state, "the before-state, exactly");
}

#[test]
fn undo_leaves_a_pair_changed_since_the_run_alone_and_reports_it() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let before = sandbox.state();
    let dir = TempDir::new("undo-drift");
    let snapshot = dir.path("snapshot.csv");
    let out = sandbox.cxskill(&fast(&[
        "apply",
        "--yes",
        "examples/roster.csv",
        "--snapshot",
        &snapshot,
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // After the run, someone moves Jane's Sales (the run set 3) to 9.
    sandbox
        .handle()
        .set_assignment(1001, 445566, Some((9, true)))
        .unwrap();
    let out = sandbox.cxskill(&fast(&["undo", &snapshot, "--yes", "--output", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = report_json(&out);
    let drift = report["drift"].as_array().expect("drift");
    assert_eq!(drift.len(), 1);
    assert_eq!(drift[0]["agent"], 1001);
    assert_eq!(drift[0]["skill"], 445566);
    let mut expected = before.clone();
    expected.insert((1001, 445566), (9, true));
    assert_eq!(
        sandbox.state(),
        expected,
        "everything else is back; the drifted pair left alone"
    );
}

#[test]
fn a_removal_someone_made_after_the_plan_is_not_taken_for_a_replacing_upsert() {
    let state = seeded_state(4, 53);
    let sandbox = Rehearsal::with_tenant(tenant_of(&state, 4, &[]), SandboxOptions::default());
    // Agent 1 gains a skill at level 2 (the upsert, and its canary).
    let lacking = (1..=20)
        .map(seeded_skill)
        .find(|s| !state.contains_key(&(1, *s)))
        .unwrap();
    let rows: Vec<Row> = vec![(1, lacking, Some(2))];
    let dir = TempDir::new("stale-context");
    let roster = dir.file("roster.csv", &roster_csv(&rows));
    let plan = dir.path("plan.json");
    plan_to(&sandbox, &roster, &plan);
    // After the plan, another admin removes one of agent 1's skills.
    let (&(_, other), _) = state.range((1, 0)..=(1, u64::MAX)).next().unwrap();
    sandbox.handle().set_assignment(1, other, None).unwrap();
    let out = sandbox.cxskill(&fast(&["apply", &plan, "--output", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut expected = roster_target(&state, &rows);
    expected.remove(&(1, other));
    assert_eq!(
        sandbox.state(),
        expected,
        "their removal stands; nothing put back"
    );
    let report = report_json(&out);
    assert!(
        report["concurrent_changes"].as_array().is_some_and(|c| c
            .iter()
            .any(|c| c["skill"] == other && c["after"].is_null())),
        "{report}"
    );
}

#[test]
fn allow_drift_creates_a_pair_removed_since_the_plan_as_a_fresh_plan_would() {
    // Agent 1 holds a skill inactive; the roster (no active column) moves
    // it to another level, which keeps the flag: planned inactive.
    let mut state = seeded_state(3, 54);
    let (&(_, skill), &(level, _)) = state.range((1, 0)..=(1, u64::MAX)).next().unwrap();
    state.insert((1, skill), (level, false));
    let sandbox = Rehearsal::with_tenant(tenant_of(&state, 3, &[]), SandboxOptions::default());
    let target = if level == 3 { 4 } else { 3 };
    let rows: Vec<Row> = vec![(1, skill, Some(target))];
    let dir = TempDir::new("drift-absent");
    let roster = dir.file("roster.csv", &roster_csv(&rows));
    let plan = dir.path("plan.json");
    plan_to(&sandbox, &roster, &plan);
    let saved: Value = serde_json::from_str(&read(&plan)).expect("JSON");
    assert_eq!(saved["changes"][0]["after"]["active"], false);

    // After the plan, another admin removes the assignment.
    sandbox.handle().set_assignment(1, skill, None).unwrap();
    let mut drifted = state.clone();
    drifted.remove(&(1, skill));
    assert_eq!(sandbox.state(), drifted);

    let out = sandbox.cxskill(&fast(&[
        "apply",
        &plan,
        "--allow-drift",
        "--output",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report_json(&out)["drift"].as_array().unwrap().len(), 1);
    // What a fresh plan of the roster gives from the drifted tenant: a new
    // assignment, active.
    assert_eq!(sandbox.state().get(&(1, skill)), Some(&(target, true)));
    assert_eq!(sandbox.state(), roster_target(&drifted, &rows));
}
