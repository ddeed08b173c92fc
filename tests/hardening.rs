//! Reports that never contradict the tenant, under faults, a bad agent,
//! signals and kill -9: the real binary against sandboxes that misbehave
//! on purpose. Every assertion is about the tenant's state and the report
//! rows, never about time.

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use common::{
    Rehearsal, Row, State, TempDir, fast, read, report_json, roster_csv, roster_target,
    seeded_skill, seeded_state, stderr, stdout, tenant_of,
};
use cxskill::sandbox::{PutSemantics, RequestRecord, SandboxOptions};
use serde_json::Value;

/// A roster touching `agents` agents with two rows each, of every kind:
/// adds and changes at 1..=5 (bulk), adds at 6..=20 (POST), changes to
/// 6..=20 (full-set PUT), removals.
fn mixed_roster(state: &State, agents: impl Iterator<Item = u64>, seed: u64) -> Vec<Row> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut rows = Vec::new();
    for a in agents {
        let mut held: Vec<u64> = state
            .range((a, 0)..=(a, u64::MAX))
            .map(|((_, s), _)| *s)
            .collect();
        let mut lacking: Vec<u64> = (1..=20)
            .map(seeded_skill)
            .filter(|s| !held.contains(s))
            .collect();
        rng.shuffle(&mut held);
        rng.shuffle(&mut lacking);
        for _ in 0..2 {
            let row = match rng.u8(0..5) {
                0 => lacking
                    .pop()
                    .map(|s| (a, s, Some(i64::from(rng.u8(1..=5))))),
                1 => lacking
                    .pop()
                    .map(|s| (a, s, Some(i64::from(rng.u8(6..=20))))),
                2 => held.pop().map(|s| {
                    let p = state[&(a, s)].0;
                    (a, s, Some(if p == 2 { 3 } else { 2 }))
                }),
                3 => held.pop().map(|s| {
                    let p = state[&(a, s)].0;
                    (a, s, Some(if p == 14 { 15 } else { 14 }))
                }),
                _ => held.pop().map(|s| (a, s, None)),
            };
            rows.extend(row);
        }
    }
    rows
}

/// Every row the report calls applied is in place, and every row it calls
/// failed is not; unknown rows may be either. Returns how many rows were
/// applied, failed and unknown.
fn report_agrees_with_tenant(report: &Value, rows: &[Row], tenant: &State) -> (u64, u64, u64) {
    let mut counts = (0, 0, 0);
    for row in report["rows"].as_array().expect("rows") {
        let Some(line) = row["line"].as_u64() else {
            continue;
        };
        let (a, s, p) = rows[(line - 2) as usize];
        let now = tenant.get(&(a, s)).map(|(q, _)| *q);
        let in_place = now == p;
        match row["status"].as_str() {
            Some("applied") => {
                counts.0 += 1;
                assert!(
                    in_place,
                    "line {line} reported applied, tenant has {now:?}: {row}"
                );
            }
            Some("failed") => {
                counts.1 += 1;
                assert!(
                    !in_place,
                    "line {line} reported failed, but it is in place: {row}"
                );
            }
            Some("unknown") => counts.2 += 1,
            _ => {}
        }
    }
    counts
}

/// No assignment outside the roster changed.
fn no_collateral(before: &State, after: &State, rows: &[Row]) {
    let named: std::collections::HashSet<(u64, u64)> =
        rows.iter().map(|&(a, s, _)| (a, s)).collect();
    let outside = |state: &State| -> BTreeMap<(u64, u64), (i64, bool)> {
        state
            .iter()
            .filter(|(k, _)| !named.contains(k))
            .map(|(k, v)| (*k, *v))
            .collect()
    };
    assert_eq!(
        outside(after),
        outside(before),
        "an assignment outside the roster changed"
    );
}

#[test]
fn chaos_soak_converges_with_reports_that_agree_with_the_tenant() {
    for (put, seed) in [(PutSemantics::Modify, 21), (PutSemantics::Replace, 22)] {
        let state = seeded_state(500, seed);
        let rows = mixed_roster(&state, 1..=150, seed);
        let sandbox = Rehearsal::with_tenant(
            tenant_of(&state, 500, &[]),
            SandboxOptions {
                put_semantics: put,
                fault_rate: 0.2,
                drop_rate: 0.1,
                rate_limit: Some(40.0),
                retry_after_503: Some(0),
                seed,
                ..SandboxOptions::default()
            },
        );
        let dir = TempDir::new("chaos");
        let roster = dir.file("roster.csv", &roster_csv(&rows));
        let target = roster_target(&state, &rows);
        let mut converged = false;
        for attempt in 1..=4 {
            let out = sandbox.cxskill(&[
                "apply",
                "--yes",
                &roster,
                "--output",
                "json",
                "--max-removals",
                "1000",
                "--rate",
                "80",
                "--concurrency",
                "8",
            ]);
            let code = out.status.code();
            assert!(
                matches!(code, Some(0) | Some(1)),
                "{put} run {attempt}: exit {code:?}: one bad request must not stop the run\n{}",
                stderr(&out)
            );
            let report = report_json(&out);
            let tenant = sandbox.state();
            let (applied, failed, unknown) = report_agrees_with_tenant(&report, &rows, &tenant);
            no_collateral(&state, &tenant, &rows);
            if code == Some(0) {
                assert_eq!(failed + unknown, 0);
                assert_eq!(tenant, target, "{put}: exit 0 but not converged");
                converged = true;
                break;
            }
            eprintln!("{put} run {attempt}: {applied} applied, {failed} failed, {unknown} unknown");
        }
        assert!(converged, "{put}: did not converge in four runs");
        let log = sandbox.requests();
        assert!(log.iter().any(|r| r.status == 503), "no 503 injected");
        assert!(log.iter().any(|r| r.status == 429), "no 429 provoked");
        assert!(log.iter().any(|r| r.dropped), "no answer dropped");
    }
}

#[test]
fn one_agent_whose_writes_always_fail_does_not_fail_the_others() {
    let state = seeded_state(30, 31);
    let bad = 7;
    // Everyone changes one skill at 1..=5 (bulk bodies of 4, so the bad
    // agent's body is split down to itself); the bad agent also gains a
    // skill at 12 and changes one to 16.
    let mut rows: Vec<Row> = (1..=24)
        .map(|a| {
            let (&(_, s), &(p, _)) = state.range((a, 0)..=(a, u64::MAX)).next().unwrap();
            (a, s, Some(if p == 1 { 2 } else { 1 }))
        })
        .collect();
    let mut held = state.range((bad, 0)..=(bad, u64::MAX)).skip(1);
    let (&(_, changed), &(p, _)) = held.next().unwrap();
    rows.push((bad, changed, Some(if p == 16 { 17 } else { 16 })));
    let lacking = (1..=20)
        .map(seeded_skill)
        .find(|s| !state.contains_key(&(bad, *s)))
        .unwrap();
    rows.push((bad, lacking, Some(12)));
    let sandbox = Rehearsal::with_tenant(
        tenant_of(&state, 30, &[]),
        SandboxOptions {
            fail_agents: vec![bad],
            retry_after_503: Some(0),
            ..SandboxOptions::default()
        },
    );
    let dir = TempDir::new("fail-agent");
    let roster = dir.file("roster.csv", &roster_csv(&rows));
    let failed_rows = dir.path("failed.csv");
    let out = sandbox.cxskill(&fast(&[
        "apply",
        "--yes",
        &roster,
        "--output",
        "json",
        "--batch-size",
        "4",
        "--failed-rows",
        &failed_rows,
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = report_json(&out);
    let tenant = sandbox.state();
    report_agrees_with_tenant(&report, &rows, &tenant);
    for row in report["rows"].as_array().unwrap() {
        let agent: u64 = row["agent"].as_str().unwrap().parse().unwrap();
        if agent == bad {
            assert!(
                matches!(row["status"].as_str(), Some("failed") | Some("unknown")),
                "{row}"
            );
        } else {
            assert_eq!(row["status"], "applied", "{row}");
        }
    }
    // The bad agent is exactly as before; everyone else converged.
    let mut expected = roster_target(&state, &rows);
    for (key, value) in &state {
        if key.0 == bad {
            expected.insert(*key, *value);
        }
    }
    expected.retain(|k, _| k.0 != bad || state.contains_key(k));
    assert_eq!(tenant, expected);
    let csv = read(&failed_rows);
    assert_eq!(
        csv.lines().count(),
        1 + 3,
        "header and the bad agent's rows:\n{csv}"
    );
    // Bulk bodies were in play, and the bad agent's was split down to it.
    let bulk: Vec<_> = sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/v34.0/agents/skills"))
        .collect();
    assert!(bulk.iter().any(|r| r.status == 207 || r.status == 200));
    assert!(bulk.iter().any(|r| r.status == 503));
}

/// A tenant of 40 agents, and a roster of 40 per-agent POSTs (one add at
/// 12 each).
fn forty_posts() -> (State, Vec<Row>) {
    let state = seeded_state(40, 41);
    let rows: Vec<Row> = (1..=40)
        .map(|a| {
            let s = (1..=20)
                .map(seeded_skill)
                .find(|s| !state.contains_key(&(a, *s)))
                .unwrap();
            (a, s, Some(12))
        })
        .collect();
    (state, rows)
}

/// A sandbox slow enough to interrupt, and a roster of 40 per-agent POSTs.
fn slow_run() -> (Rehearsal, State, Vec<Row>) {
    let (state, rows) = forty_posts();
    let sandbox = Rehearsal::with_tenant(
        tenant_of(&state, 40, &[]),
        SandboxOptions {
            latency: Duration::from_millis(150),
            ..SandboxOptions::default()
        },
    );
    (sandbox, state, rows)
}

/// Waits until the sandbox has answered `n` writes; fails the test if it
/// has not within ten seconds (a signal sent then would prove nothing).
fn until_writes(sandbox: &Rehearsal, n: usize) {
    let started = Instant::now();
    while sandbox.writes().len() < n && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let answered = sandbox.writes().len();
    assert!(
        answered >= n,
        "only {answered} of {n} writes answered in ten seconds"
    );
}

#[test]
fn sigint_mid_apply_stops_writing_reports_and_a_rerun_converges() {
    interrupted_mid_apply(libc::SIGINT, 130, "SIGINT");
}

#[test]
fn sigterm_mid_apply_stops_the_same_way_with_exit_143() {
    interrupted_mid_apply(libc::SIGTERM, 143, "SIGTERM");
}

/// Whether a logged request is the plan's read of the assignments
/// (`GET /skills/agents`).
fn is_assignment_read(r: &RequestRecord) -> bool {
    r.method == "GET" && r.path.starts_with("/inContactAPI/") && r.path.ends_with("/skills/agents")
}

#[test]
fn a_signal_while_reading_sends_nothing() {
    // The tenant throttles: one API call per five seconds. The skill
    // catalogue takes it, so the read of the assignments is answered 429
    // with `Retry-After: 5`, and the client waits it out, still reading.
    let (state, rows) = forty_posts();
    let sandbox = Rehearsal::with_tenant(
        tenant_of(&state, 40, &[]),
        SandboxOptions {
            rate_limit: Some(0.2),
            ..SandboxOptions::default()
        },
    );
    let dir = TempDir::new("signal-reading");
    let roster = dir.file("roster.csv", &roster_csv(&rows));
    let child = sandbox
        .command(&["apply", "--yes", &roster, "--rate", "20"])
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while !sandbox.requests().iter().any(is_assignment_read)
        && started.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let before_signal = sandbox.requests();
    let reads: Vec<u16> = before_signal
        .iter()
        .filter(|r| is_assignment_read(r))
        .map(|r| r.status)
        .collect();
    assert_eq!(
        reads,
        [429],
        "the read of the assignments was asked, throttled, and is being waited out: {before_signal:?}"
    );
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let out = child.wait_with_output().expect("wait");
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    // Signals are handled only once writing starts: while it reads, the
    // process dies of the signal itself, before it printed a plan.
    assert_eq!(out.status.code(), None, "{}", stderr(&out));
    assert_eq!(out.status.signal(), Some(libc::SIGINT), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "no plan was printed");
    assert!(sandbox.writes().is_empty(), "a write was sent");
    assert_eq!(sandbox.state(), state);
}

fn interrupted_mid_apply(signal: libc::c_int, code: i32, name: &str) {
    let (sandbox, state, rows) = slow_run();
    let dir = TempDir::new("sigint");
    let roster = dir.file("roster.csv", &roster_csv(&rows));
    let report_path = dir.path("report.json");
    let failed_path = dir.path("failed.csv");
    let args = [
        "apply",
        "--yes",
        roster.as_str(),
        "--rate",
        "20",
        "--concurrency",
        "1",
        "--report",
        report_path.as_str(),
        "--failed-rows",
        failed_path.as_str(),
    ];
    let child = sandbox.command(&args).spawn().expect("spawn");
    until_writes(&sandbox, 3);
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    assert!(stderr(&out).contains("re-run"), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&read(&report_path)).expect("the report was written");
    assert_eq!(report["interrupted"], name);
    let tenant = sandbox.state();
    let (applied, failed, _) = report_agrees_with_tenant(&report, &rows, &tenant);
    assert!(applied >= 1, "{report}");
    assert!(failed >= 1, "some rows were never sent: {report}");
    assert!(
        report["rows"].as_array().unwrap().iter().any(|r| r["error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("interrupted ({name}), not sent")))),
        "{report}"
    );
    let csv = read(&failed_path);
    assert!(csv.lines().count() > 1, "{csv}");
    // Nothing was written after the signal but what was in flight: the
    // run stopped long before its forty writes.
    assert!(sandbox.writes().len() < rows.len());

    let out = sandbox.cxskill(&fast(&["apply", "--yes", &roster]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sandbox.state(), roster_target(&state, &rows));
}

#[test]
fn kill_9_mid_apply_then_a_rerun_leaves_the_exact_state() {
    let (sandbox, state, rows) = slow_run();
    let dir = TempDir::new("kill9");
    let roster = dir.file("roster.csv", &roster_csv(&rows));
    let mut child = sandbox
        .command(&[
            "apply",
            "--yes",
            &roster,
            "--rate",
            "20",
            "--concurrency",
            "2",
        ])
        .spawn()
        .expect("spawn");
    until_writes(&sandbox, 4);
    let answered = sandbox.writes().len();
    assert!(answered >= 4, "killed after {answered} writes");
    child.kill().expect("kill -9");
    let _ = child.wait();
    let partial = sandbox.state();
    no_collateral(&state, &partial, &rows);
    assert_ne!(
        partial, state,
        "the writes answered before the kill are in place"
    );
    assert_ne!(
        partial,
        roster_target(&state, &rows),
        "killed before the end"
    );

    let out = sandbox.cxskill(&fast(&["apply", "--yes", &roster]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sandbox.state(), roster_target(&state, &rows));
}
