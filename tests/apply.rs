//! `cxskill plan` and `cxskill apply` end to end: the real binary against a
//! sandbox tenant over loopback HTTP. Each test checks what a user cares
//! about: the tenant's final state, the bodies that went over the wire,
//! exit codes and report rows.

mod common;
mod stub;

use std::collections::HashSet;
use std::time::Duration;

use common::{
    Rehearsal, TempDir, cxskill_unconfigured, example_target, fast, read, report_json, stderr,
    stdout,
};
use cxskill::sandbox::{PutSemantics, SandboxOptions};
use serde_json::Value;

fn converges_to_the_example_target(semantics: PutSemantics) {
    let sandbox = Rehearsal::start(SandboxOptions {
        put_semantics: semantics,
        ..SandboxOptions::default()
    });
    let before = sandbox.state();
    let out = sandbox.cxskill(&fast(&["apply", "examples/roster.csv", "--yes"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(sandbox.state(), example_target(&before));
    // Skills the roster does not name are still there.
    assert_eq!(sandbox.state().get(&(1001, 556677)), Some(&(5, true)));
    assert_eq!(sandbox.state().get(&(1009, 667788)), Some(&(10, true)));
}

#[test]
fn apply_never_wipes_unlisted_skills_when_put_modifies() {
    converges_to_the_example_target(PutSemantics::Modify);
}

#[test]
fn apply_never_wipes_unlisted_skills_when_put_replaces() {
    converges_to_the_example_target(PutSemantics::Replace);
}

#[test]
fn every_write_body_is_the_published_wrapper_with_string_ids() {
    // The strictest sandbox: an integer id in a write body is a 400.
    let sandbox = Rehearsal::start(SandboxOptions {
        string_ids: true,
        ..SandboxOptions::default()
    });
    let out = sandbox.cxskill(&fast(&["apply", "--yes", "examples/roster.csv"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let writes = sandbox.writes();
    assert!(!writes.is_empty());
    let is_id = |v: &Value| v.as_str().is_some_and(|s| s.parse::<u64>().is_ok());
    for write in writes {
        let body: Value = match write.body.clone().expect("write has a body") {
            Value::String(text) => serde_json::from_str(&text).expect("JSON body"),
            value => value,
        };
        if write.path.ends_with("/agents/skills") {
            let items = body["agentAndSkillDetails"]
                .as_array()
                .unwrap_or_else(|| panic!("not the upsert wrapper: {body}"));
            for item in items {
                assert!(
                    item["agentIds"].as_array().unwrap().iter().all(is_id),
                    "{body}"
                );
                for skills in item["skills"].as_array().unwrap() {
                    assert!(
                        skills["skillIds"].as_array().unwrap().iter().all(is_id),
                        "{body}"
                    );
                    let p = skills["proficiency"]
                        .as_u64()
                        .unwrap_or_else(|| panic!("{body}"));
                    assert!((1..=5).contains(&p), "the upsert takes 1..=5: {body}");
                    assert!(skills["isActive"].is_boolean(), "{body}");
                }
            }
        } else {
            let rows = body["skills"]
                .as_array()
                .unwrap_or_else(|| panic!("not a wrapper: {body}"));
            assert!(!rows.is_empty());
            for row in rows {
                assert!(is_id(&row["skillId"]), "{body}");
                if write.method != "DELETE" {
                    let p = row["proficiency"]
                        .as_u64()
                        .unwrap_or_else(|| panic!("{body}"));
                    assert!((1..=20).contains(&p));
                    assert!(row["isActive"].is_boolean(), "{body}");
                }
            }
        }
        assert_eq!(
            write.status, 200,
            "{} {} answered {}",
            write.method, write.path, write.status
        );
    }
}

#[test]
fn plan_and_dry_run_send_no_write_and_show_the_diff() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let before = sandbox.state();
    let out = sandbox.cxskill(&fast(&[
        "plan",
        "examples/roster.csv",
        "--detailed-exitcode",
    ]));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("agent 1001\n"), "{text}");
    assert!(text.contains("  ~ 445566 Sales  7 → 3\n"), "{text}");
    assert!(text.contains("  - 778899 Chat FR  (was 4)\n"), "{text}");
    assert!(text.contains("  + 112234 Billing ES  4\n"), "{text}");
    assert!(
        text.contains("  ~ 112233 Billing EN  5  (inactive → active)\n"),
        "{text}"
    );
    assert!(
        text.contains("17 to add, 3 to change, 1 to remove, 4 unchanged"),
        "{text}"
    );

    let out = sandbox.cxskill(&fast(&[
        "apply",
        "examples/roster.csv",
        "--dry-run",
        "--output",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let report = report_json(&out);
    assert_eq!(report["summary"]["planned"], 21);
    assert_eq!(report["summary"]["unchanged"], 4);
    assert_eq!(report["summary"]["requests"]["PUT"], 0);

    assert!(sandbox.writes().is_empty());
    assert_eq!(sandbox.state(), before);
}

#[test]
fn second_run_sends_no_write_and_exits_0() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let first = sandbox.cxskill(&fast(&[
        "apply",
        "--yes",
        "examples/roster.csv",
        "--output",
        "json",
    ]));
    assert_eq!(first.status.code(), Some(0));
    assert_eq!(report_json(&first)["summary"]["applied"], 21);
    let writes = sandbox.writes().len();

    let second = sandbox.cxskill(&fast(&[
        "apply",
        "--yes",
        "examples/roster.csv",
        "--output",
        "json",
    ]));
    assert_eq!(second.status.code(), Some(0));
    let report = report_json(&second);
    assert_eq!(report["summary"]["applied"], 0);
    assert_eq!(report["summary"]["unchanged"], 25);
    assert_eq!(sandbox.writes().len(), writes, "the second run wrote");
    let out = sandbox.cxskill(&fast(&[
        "plan",
        "examples/roster.csv",
        "--detailed-exitcode",
    ]));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn one_invalid_row_blocks_the_whole_apply() {
    let dir = TempDir::new("invalid");
    let roster = dir.file(
        "r.csv",
        "agent,skill,proficiency\n1001,445566,3\n1002,112233,expert\n",
    );
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let before = sandbox.state();
    let out = sandbox.cxskill(&fast(&["apply", "--yes", &roster, "--output", "json"]));
    assert_eq!(out.status.code(), Some(2));
    let report = report_json(&out);
    assert_eq!(report["summary"]["invalid"], 1);
    assert_eq!(report["rows"][0]["line"], 3);
    assert_eq!(report["rows"][0]["status"], "invalid");
    assert!(sandbox.requests().is_empty(), "something was sent");
    assert_eq!(sandbox.state(), before);

    // --skip-invalid sends the valid rows and reports the invalid one.
    let out = sandbox.cxskill(&fast(&[
        "apply",
        "--yes",
        &roster,
        "--skip-invalid",
        "--output",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(1));
    let report = report_json(&out);
    assert_eq!(report["summary"]["applied"], 1);
    assert_eq!(report["summary"]["invalid"], 1);
    assert_eq!(sandbox.state().get(&(1001, 445566)), Some(&(3, true)));
}

#[test]
fn unknown_skill_is_invalid_before_anything_is_written() {
    let dir = TempDir::new("unknown-skill");
    let roster = dir.file(
        "r.csv",
        "agent,skill,proficiency\n1001,445566,3\n1002,999999,4\n",
    );
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let out = sandbox.cxskill(&fast(&["apply", "--yes", &roster]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).contains("line 3: invalid: skill 999999 does not exist"),
        "{}",
        stdout(&out)
    );
    assert!(sandbox.writes().is_empty());
}

#[test]
fn per_row_server_errors_land_on_their_lines_and_in_failed_rows() {
    // The tenant refuses Sales (445566) row by row. The example roster
    // touches Sales on lines 3 (change), 8, 13, 17, 24 (add); line 26
    // (1012, unchanged) sends nothing for it.
    let dir = TempDir::new("row-errors");
    let failed = dir.path("failed.csv");
    let sandbox = Rehearsal::start(SandboxOptions {
        refuse_skills: vec![445566],
        ..SandboxOptions::default()
    });
    let before = sandbox.state();
    let out = sandbox.cxskill(&fast(&[
        "apply",
        "--yes",
        "examples/roster.csv",
        "--output",
        "json",
        "--failed-rows",
        &failed,
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = report_json(&out);
    let rows = report["rows"].as_array().expect("rows");
    let failed_lines: Vec<u64> = rows
        .iter()
        .filter(|r| r["status"] == "failed")
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(failed_lines, [3, 8, 13, 17, 24]);
    for row in rows.iter().filter(|r| r["status"] == "failed") {
        assert_eq!(row["skill"], 445566);
        // Per-agent writes say why; the bulk upsert's rows carry no text
        // (as published), and cxskill does not make one up.
        let error = row["error"].as_str().unwrap();
        assert!(
            error == "Skill assignment refused by the tenant (sandbox --refuse-skill)"
                || error == "rejected by the tenant (no reason given)",
            "{row}"
        );
    }
    assert_eq!(report["summary"]["applied"], 16);
    assert_eq!(report["summary"]["failed"], 5);

    // Every other row took effect, and Sales kept its old values.
    let mut expected = example_target(&before);
    for key in [
        (1005, 445566),
        (1006, 445566),
        (1008, 445566),
        (1011, 445566),
    ] {
        expected.remove(&key);
    }
    expected.insert((1001, 445566), (7, true));
    assert_eq!(sandbox.state(), expected);

    let csv = read(&failed);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "agent,agent_name,skill,skill_name,proficiency,active,notes,error"
    );
    assert_eq!(
        lines[1],
        "1001,Jane Doe,445566,Sales,3,,promoted after Q3 review,line 3: rejected by the tenant (no reason given)"
    );
    assert_eq!(lines.len(), 6);
    assert!(
        lines[5].starts_with("8e81973e-0bec-47b0-b898-d190f9ebdacc,\"Laurent, Isabelle\",445566,"),
        "{}",
        lines[5]
    );
}

#[test]
fn unknown_agent_fails_its_rows_and_the_rest_apply() {
    let dir = TempDir::new("unknown-agent");
    let roster = dir.file(
        "r.csv",
        "agent,skill,proficiency\n1001,445566,3\n4242,112233,4\n4242,445566,4\n",
    );
    let failed = dir.path("failed.csv");
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let out = sandbox.cxskill(&fast(&[
        "apply",
        "--yes",
        &roster,
        "--output",
        "json",
        "--failed-rows",
        &failed,
    ]));
    assert_eq!(out.status.code(), Some(1));
    let report = report_json(&out);
    assert_eq!(report["summary"]["applied"], 1);
    assert_eq!(report["summary"]["failed"], 2);
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows[1]["line"], 3);
    assert_eq!(rows[1]["status"], "failed");
    assert!(
        rows[1]["error"]
            .as_str()
            .unwrap()
            .contains("agent 4242 not found")
    );
    assert_eq!(
        read(&failed),
        "agent,skill,proficiency,error\n\
         4242,112233,4,line 3: agent 4242 not found in the tenant (404)\n\
         4242,445566,4,line 4: agent 4242 not found in the tenant (404)\n"
    );
}

#[test]
fn throttled_run_honours_retry_after_and_converges() {
    // A bucket of 3 requests a second against a client allowed 100: the
    // tenant answers 429 with Retry-After and the run still completes.
    let dir = TempDir::new("throttle");
    let roster = dir.file(
        "r.csv",
        "agent,skill,proficiency\n1001,445566,2\n1002,112234,6\n1003,667788,7\n1006,667788,1\n",
    );
    let sandbox = Rehearsal::start(SandboxOptions {
        rate_limit: Some(3.0),
        ..SandboxOptions::default()
    });
    let out = sandbox.cxskill(&[
        "apply",
        "--yes",
        &roster,
        "--output",
        "json",
        "--rate",
        "100",
        "--concurrency",
        "4",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let report = report_json(&out);
    assert_eq!(report["summary"]["applied"], 4);
    assert!(report["summary"]["requests"]["throttled"].as_u64().unwrap() > 0);
    let state = sandbox.state();
    assert_eq!(state.get(&(1001, 445566)), Some(&(2, true)));
    assert_eq!(state.get(&(1002, 112234)), Some(&(6, true)));
    assert_eq!(state.get(&(1003, 667788)), Some(&(7, true)));
    assert_eq!(state.get(&(1006, 667788)), Some(&(1, true)));
    assert!(sandbox.requests().iter().any(|r| r.status == 429));
}

const SEEDS: [u64; 4] = [7, 42, 3, 11];

#[test]
fn a_retry_after_beyond_the_retry_budget_gives_up_at_once() {
    // One request every ~17 minutes: the second answer is a 429 whose
    // Retry-After exceeds the two-minute budget. Honouring it means giving
    // up on the spot; a client that ignored it would back off and retry.
    let sandbox = Rehearsal::start(SandboxOptions {
        rate_limit: Some(0.001),
        ..SandboxOptions::default()
    });
    let out = sandbox.cxskill(&fast(&["plan", "examples/roster.csv"]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("429 Too Many Requests"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("gave up after 1 attempts"),
        "{}",
        stderr(&out)
    );
    let throttled = sandbox
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(throttled, 1);
}

/// Whether the run met a 503 and a dropped answer.
fn faults_converge(seed: u64) -> (bool, bool) {
    let sandbox = Rehearsal::start(SandboxOptions {
        fault_rate: 0.2,
        drop_rate: 0.2,
        seed,
        put_semantics: PutSemantics::Replace,
        ..SandboxOptions::default()
    });
    let before = sandbox.state();
    // One request at a time: the seeded faults then fall on the same
    // requests in every run, so the test is deterministic.
    let out = sandbox.cxskill(&[
        "apply",
        "--yes",
        "examples/roster.csv",
        "--output",
        "json",
        "--rate",
        "2000",
        "--concurrency",
        "1",
    ]);
    let report = report_json(&out);
    let failed: Vec<&Value> = report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["status"] != "applied" && r["status"] != "unchanged")
        .collect();
    assert_eq!(
        out.status.code(),
        Some(0),
        "seed {seed}: {failed:#?}\n{}",
        stderr(&out)
    );
    assert_eq!(sandbox.state(), example_target(&before), "seed {seed}");
    let requests = sandbox.requests();
    (
        requests.iter().any(|r| r.status == 503),
        requests.iter().any(|r| r.dropped),
    )
}

#[test]
fn server_errors_and_dropped_connections_still_converge_exactly() {
    let mut faulted = false;
    let mut dropped = false;
    for seed in SEEDS {
        let (a, b) = faults_converge(seed);
        faulted |= a;
        dropped |= b;
    }
    assert!(faulted, "no seed injected a 503");
    assert!(dropped, "no seed dropped an answer");
}

#[test]
fn token_revoked_mid_run_is_renewed_once_and_the_run_completes() {
    let sandbox = Rehearsal::start(SandboxOptions {
        latency: Duration::from_millis(40),
        ..SandboxOptions::default()
    });
    let before = sandbox.state();
    let out = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(400));
            sandbox.handle().expire_tokens();
        });
        sandbox.cxskill(&[
            "apply",
            "--yes",
            "examples/roster.csv",
            "--rate",
            "1000",
            "--concurrency",
            "1",
        ])
    });
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(sandbox.state(), example_target(&before));
    let requests = sandbox.requests();
    let tokens = requests.iter().filter(|r| r.path == "/auth/token").count();
    assert_eq!(tokens, 2, "one exchange at start, one after the revocation");
    assert!(requests.iter().any(|r| r.status == 401));
}

#[test]
fn secrets_never_appear_in_output_even_at_vv() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let credentials = sandbox.handle().credentials();
    let out = sandbox.cxskill(&fast(&[
        "apply",
        "--yes",
        "examples/roster.csv",
        "-vv",
        "--log-format",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let out2 = sandbox.cxskill(&fast(&["plan", "examples/roster.csv", "-vvv"]));
    for output in [&out, &out2] {
        let all = format!("{}{}", stdout(output), stderr(output));
        assert!(all.contains("request"), "-vv logs requests:\n{all}");
        for secret in [&credentials.access_key_secret, &credentials.client_secret] {
            assert!(!all.contains(secret.as_str()), "secret leaked:\n{all}");
        }
        assert!(!all.contains("Bearer "), "token leaked:\n{all}");
        // Every token the sandbox issues starts `sbx-`: none may show up,
        // with or without its header.
        assert!(!all.contains("sbx-"), "issued token leaked:\n{all}");
        assert!(
            !all.to_lowercase().contains("authorization"),
            "header leaked:\n{all}"
        );
    }
}

#[test]
fn pre_issued_token_is_used_without_an_exchange() {
    let sandbox = Rehearsal::start(SandboxOptions {
        preissued_token: Some("test-preissued-token-123".to_owned()),
        ..SandboxOptions::default()
    });
    let api_base = sandbox.handle().api_base();
    let out = sandbox.cxskill_with(
        &fast(&["plan", "examples/roster.csv", "-vv"]),
        &[
            ("CXSKILL_TOKEN", "test-preissued-token-123"),
            ("CXSKILL_API_BASE", &api_base),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("test-preissued-token-123"));
    assert!(sandbox.requests().iter().all(|r| r.path != "/auth/token"));

    // An opaque token does not say which tenant it is for: without
    // api_base there is no host to send it to.
    let out = sandbox.cxskill_with(
        &fast(&["plan", "examples/roster.csv"]),
        &[("CXSKILL_TOKEN", "test-preissued-token-123")],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not name its tenant"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_pre_issued_jwt_naming_its_tenant_is_discovered_from() {
    let probe = Rehearsal::start(SandboxOptions::default());
    let tenant = probe.handle().tenant_id();
    drop(probe);
    let jwt = stub::jwt_for(&tenant.to_string());
    let sandbox = Rehearsal::start(SandboxOptions {
        preissued_token: Some(jwt.clone()),
        ..SandboxOptions::default()
    });
    let out = sandbox.cxskill_with(
        &fast(&["plan", "examples/roster.csv", "-vv"]),
        &[("CXSKILL_TOKEN", &jwt)],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&jwt));
    let requests = sandbox.requests();
    assert!(requests.iter().all(|r| r.path != "/auth/token"));
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/.well-known/cxone-configuration"),
        "discovery was not asked"
    );
}

#[test]
fn every_api_request_carries_a_request_id_and_traceparent() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let out = sandbox.cxskill(&fast(&["apply", "--yes", "examples/roster.csv"]));
    assert_eq!(out.status.code(), Some(0));
    let requests: Vec<_> = sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/inContactAPI/"))
        .collect();
    assert!(requests.len() >= 10, "{}", requests.len());
    let mut ids = HashSet::new();
    for r in &requests {
        let id = r
            .request_id
            .as_deref()
            .unwrap_or_else(|| panic!("no X-Request-ID: {} {}", r.method, r.path));
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        assert!(ids.insert(id.to_owned()), "request id reused: {id}");
        let traceparent = r.traceparent.as_deref().expect("traceparent");
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        assert_eq!(
            (parts[0], parts[1].len(), parts[2].len(), parts[3]),
            ("00", 32, 16, "01")
        );
        assert!(r.authorization_present);
    }
}

#[test]
fn snapshot_then_apply_snapshot_restores_the_original_state() {
    let dir = TempDir::new("snapshot");
    let snapshot = dir.path("undo.csv");
    let sandbox = Rehearsal::start(SandboxOptions {
        put_semantics: PutSemantics::Replace,
        ..SandboxOptions::default()
    });
    let before = sandbox.state();
    let out = sandbox.cxskill(&fast(&[
        "apply",
        "--yes",
        "examples/roster.csv",
        "--snapshot",
        &snapshot,
    ]));
    assert_eq!(out.status.code(), Some(0));
    assert_ne!(sandbox.state(), before);
    let undo = read(&snapshot);
    assert!(
        undo.starts_with("agent,skill,proficiency,active,skill_name,run_proficiency,run_active\n"),
        "{undo}"
    );
    // Before the run, and what the run set.
    assert!(undo.contains("1001,445566,7,true,Sales,3,true\n"), "{undo}");
    assert!(
        undo.contains("1001,778899,4,true,Chat FR,remove,\n"),
        "{undo}"
    );
    assert!(
        undo.contains("1002,112234,remove,,Billing ES,4,true\n"),
        "{undo}"
    );

    let out = sandbox.cxskill(&fast(&["apply", "--yes", &snapshot]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(sandbox.state(), before);
}

#[test]
fn no_tenant_configured_is_exit_3_with_a_hint() {
    let out = cxskill_unconfigured(&["plan", "examples/roster.csv"], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("--sandbox"));
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_sending() {
    let out = cxskill_unconfigured(
        &[
            "plan",
            "examples/roster.csv",
            "--api-base",
            "http://cxone.example.com",
        ],
        &[("CXSKILL_TOKEN", "x")],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("plain http://"));
}

#[test]
fn sandbox_flag_runs_the_quick_start_with_no_configuration() {
    let out = cxskill_unconfigured(
        &[
            "apply",
            "--yes",
            "examples/roster.csv",
            "--sandbox",
            "--output",
            "json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = report_json(&out);
    assert_eq!(report["summary"]["applied"], 21);
    assert_eq!(report["summary"]["unchanged"], 4);
    // No request more than needed: the skills and the agent listing (the
    // roster names agents by userId and e-mail too), one read of the
    // whole catalogue's assignments for the plan, one bulk upsert for the
    // 1..=5 changes and one read back of its agents (the canary), a POST
    // for each agent gaining a skill at 6..=20, one DELETE.
    assert_eq!(
        report["summary"]["requests"],
        serde_json::json!({
            "GET": 4, "POST": 8, "PUT": 0, "DELETE": 1, "retries": 0, "throttled": 0,
            "by_endpoint": {
                "GET /agents": 1,
                "GET /skills": 1,
                "GET /skills/agents": 2,
                "POST /agents/skills": 1,
                "POST /agents/{id}/skills": 7,
                "DELETE /agents/{id}/skills": 1
            }
        })
    );
    assert_eq!(report["summary"]["failed"], 0);
}

#[test]
fn read_only_key_is_exit_3_with_a_permission_hint() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let out = sandbox.cxskill_with(
        &fast(&["apply", "--yes", "examples/roster.csv"]),
        &[
            ("CXSKILL_ACCESS_KEY_ID", "sandbox-readonly-key"),
            ("CXSKILL_ACCESS_KEY_SECRET", "sandbox-readonly-secret"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(stdout(&out).contains("403"), "{}", stdout(&out));
    assert!(stdout(&out).contains("permission"), "{}", stdout(&out));
    // Stopped at the first refusal rather than trying every agent.
    let forbidden = sandbox
        .requests()
        .iter()
        .filter(|r| r.status == 403)
        .count();
    assert!(forbidden <= 4, "{forbidden} refused writes");
}

/// A loopback server that answers every connection with `response`, for
/// up to `for_how_long`, and counts the connections it got.
fn canned_server(
    response: String,
    for_how_long: Duration,
) -> (u16, std::thread::JoinHandle<usize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let handle = std::thread::spawn(move || {
        let until = std::time::Instant::now() + for_how_long;
        let mut connections = 0;
        while std::time::Instant::now() < until {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    connections += 1;
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                    let mut buffer = [0u8; 4096];
                    let _ = stream.read(&mut buffer);
                    let _ = stream.write_all(response.as_bytes());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        connections
    });
    (port, handle)
}

#[test]
fn a_redirect_is_never_followed_so_secrets_stay_put() {
    let (thief, stolen) = canned_server(
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_owned(),
        Duration::from_secs(3),
    );
    let (port, _) = canned_server(
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{thief}/steal\r\nContent-Length: 0\r\n\r\n"
        ),
        Duration::from_secs(3),
    );
    let base = format!("http://127.0.0.1:{port}");
    let out = cxskill_unconfigured(
        &["plan", "examples/roster.csv"],
        &[
            ("CXSKILL_API_BASE", &base),
            ("CXSKILL_TOKEN_URL", &format!("{base}/auth/token")),
            ("CXSKILL_ACCESS_KEY_ID", "id"),
            ("CXSKILL_ACCESS_KEY_SECRET", "TOPSECRET"),
            ("CXSKILL_CLIENT_ID", "client"),
            ("CXSKILL_CLIENT_SECRET", "CLIENTSECRET"),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("307"), "{}", stderr(&out));
    assert_eq!(
        stolen.join().expect("thief thread"),
        0,
        "the redirect was followed"
    );
}

#[test]
fn a_2xx_answer_without_a_result_set_is_checked_not_believed() {
    // A tenant behind a proxy that answers the upsert with an HTML page and
    // a 200, and never applies it.
    let app = stub::one_skill_tenant(serde_json::json!([
        {"agentId": 1, "skillId": 5, "agentProficiencyValue": 3, "isActive": true}
    ]))
    .route(
        &format!("{}/agents/skills", stub::ROOT),
        axum::routing::post(|| async { axum::response::Html("<html>maintenance</html>") }),
    );
    let tenant = stub::Stub::start(app);
    let dir = TempDir::new("html");
    let roster = dir.file("r.csv", "agent,skill,proficiency\n1,5,4\n");
    let out = tenant.cxskill(&["apply", "--yes", &roster, "--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = report_json(&out);
    assert_eq!(report["rows"][0]["status"], "failed");
    assert_eq!(
        report["rows"][0]["error"],
        "not in place after the write: the tenant shows proficiency 3 active"
    );
    assert_eq!(
        report["summary"]["requests"]["by_endpoint"],
        serde_json::json!({
            "GET /skills": 1,
            "GET /skills/agents": 2,
            "POST /agents/skills": 1
        }),
        "the skills, the plan's read, the upsert, the read-back"
    );
}
