//! Rosters as they come from HR: e-mail addresses, user names and skill
//! names instead of ids; authoritative mode (`--prune`); and `export`, whose
//! output applies as a no-op. The real binary against a sandbox tenant
//! over loopback HTTP.

mod common;

use common::{Rehearsal, TempDir, fast, read, report_json, stderr, stdout};
use cxskill::sandbox::{SandboxOptions, Tenant};
use serde_json::Value;

#[test]
fn roster_with_emails_user_names_and_skill_names_applies() {
    let dir = TempDir::new("names");
    let roster = dir.file(
        "hr.csv",
        "Email,Skill,Proficiency\n\
         JANE.DOE@ACME.EXAMPLE,Sales,2\n\
         omar.haddad@acme.example,Billing ES,6\n\
         priya.natarajan@acme.example, Retention ,remove\n\
         1004,Chat FR,9\n",
    );
    // Priya has no Retention yet: `remove` is already in place.
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let out = sandbox.cxskill(&fast(&["apply", "--yes", &roster, "--output", "json"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let report = report_json(&out);
    assert_eq!(report["summary"]["applied"], 3);
    assert_eq!(report["summary"]["unchanged"], 1);
    let state = sandbox.state();
    assert_eq!(state.get(&(1001, 445566)), Some(&(2, true)));
    assert_eq!(state.get(&(1002, 112234)), Some(&(6, true)));
    assert_eq!(state.get(&(1004, 778899)), Some(&(9, true)));
    // The agent listing was read once, not per row.
    let listings = sandbox
        .requests()
        .iter()
        .filter(|r| r.path == "/inContactAPI/services/v34.0/agents" && r.method == "GET")
        .count();
    assert_eq!(listings, 1);
}

#[test]
fn roster_of_emails_skill_names_and_level_names_applies_with_levels_from_the_config() {
    let dir = TempDir::new("levels");
    let config = dir.file(
        "config.toml",
        "[levels]\nexpert = 1\nsenior = 3\ntrainee = 15\n",
    );
    let roster = dir.file(
        "hr.csv",
        "email,skillName,level,active\n\
         jane.doe@acme.example,Sales,Senior,\n\
         OMAR.HADDAD@ACME.EXAMPLE,Billing ES,trainee,no\n\
         wei.chen@acme.example,Retention,expert,\n\
         wei.chen@acme.example,Chat FR,remove,\n",
    );
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let before = sandbox.state();
    let out = sandbox.cxskill(&fast(&[
        "apply", "--yes", &roster, "--config", &config, "--output", "json",
    ]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let mut expected = before.clone();
    expected.insert((1001, 445566), (3, true));
    expected.insert((1002, 112234), (15, false));
    expected.insert((1006, 667788), (1, true));
    assert_eq!(sandbox.state(), expected);
    assert_eq!(report_json(&out)["summary"]["applied"], 3);
    assert_eq!(report_json(&out)["summary"]["unchanged"], 1);
}

#[test]
fn unknown_names_are_invalid_with_a_suggestion_and_nothing_is_sent() {
    let dir = TempDir::new("typo");
    let roster = dir.file(
        "r.csv",
        "agent,skill,proficiency\n\
         jane.doe@acme.example,Biling EN,2\n\
         jane.doe@acme.exmaple,Sales,2\n\
         1002,Sales,4\n",
    );
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let before = sandbox.state();
    let out = sandbox.cxskill(&fast(&["apply", "--yes", &roster, "--output", "json"]));
    assert_eq!(out.status.code(), Some(2));
    let report = report_json(&out);
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows[0]["line"], 2);
    assert_eq!(rows[0]["status"], "invalid");
    assert_eq!(
        rows[0]["error"],
        "no skill named `Biling EN`; did you mean `Billing EN`?"
    );
    assert_eq!(
        rows[1]["error"],
        "no agent with e-mail address or user name `jane.doe@acme.exmaple`; did you mean `jane.doe@acme.example`?"
    );
    assert_eq!(rows[2]["status"], "planned");
    assert!(sandbox.writes().is_empty());
    assert_eq!(sandbox.state(), before);
}

#[test]
fn ambiguous_names_list_the_candidates() {
    let tenant = Tenant::from_json(
        r#"{
        "accessKeys": [{"accessKeyId": "k", "accessKeySecret": "s", "readOnly": false}],
        "clients": [{"clientId": "c", "clientSecret": "cs"}],
        "agents": [
          {"agentId": 1, "userId": "00000000-0000-4000-8000-000000000001", "userName": "pat@acme.example",
           "emailAddress": "pat@acme.example", "firstName": "Pat", "lastName": "One", "isActive": true},
          {"agentId": 2, "userId": "00000000-0000-4000-8000-000000000002", "userName": "pat2@acme.example",
           "emailAddress": "PAT@acme.example", "firstName": "Pat", "lastName": "Two", "isActive": true}],
        "skills": [{"skillId": 10, "skillName": "Chat", "isActive": true},
                   {"skillId": 11, "skillName": "Chat", "isActive": true}],
        "assignments": []
    }"#,
    )
    .expect("tenant");
    let sandbox = Rehearsal::with_tenant(tenant, SandboxOptions::default());
    let dir = TempDir::new("ambiguous");
    let roster = dir.file(
        "r.csv",
        "agent,skill,proficiency\npat@acme.example,Chat,3\n",
    );
    let out = sandbox.cxskill(&fast(&["plan", &roster, "--output", "json"]));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        report_json(&out)["rows"][0]["error"],
        "`pat@acme.example` matches several agents: 1 (Pat One), 2 (Pat Two); use the agentId; skill name `Chat` matches several skills (10, 11); use the skillId"
    );
}

#[test]
fn prune_removes_unlisted_assignments_of_roster_agents_only() {
    let dir = TempDir::new("prune");
    // Jane holds Billing EN 3, Sales 7, Chat FR 4 and Tech Support 5.
    let roster = dir.file("r.csv", "agent,skill,proficiency\n1001,Sales,2\n");
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let before = sandbox.state();

    let plan = sandbox.cxskill(&fast(&["plan", &roster, "--prune"]));
    assert_eq!(plan.status.code(), Some(0));
    let text = stdout(&plan);
    assert!(
        text.contains("  - 112233 Billing EN  (was 3)  (not in the roster: --prune)\n"),
        "{text}"
    );
    assert!(
        text.contains("0 to add, 1 to change, 3 to remove, 0 unchanged"),
        "{text}"
    );

    // The guard stops the run before any write.
    let out = sandbox.cxskill(&fast(&[
        "apply",
        "--yes",
        &roster,
        "--prune",
        "--max-removals",
        "2",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("removes 3 assignments, more than --max-removals 2"));
    assert!(sandbox.writes().is_empty());

    let out = sandbox.cxskill(&fast(&[
        "apply", "--yes", &roster, "--prune", "--output", "json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = report_json(&out);
    let pruned: Vec<&Value> = report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["line"].is_null())
        .collect();
    assert_eq!(pruned.len(), 3);
    assert!(
        pruned
            .iter()
            .all(|r| r["action"] == "remove" && r["status"] == "applied")
    );

    let mut expected = before.clone();
    expected.retain(|&(agent, _), _| agent != 1001);
    expected.insert((1001, 445566), (2, true));
    assert_eq!(sandbox.state(), expected, "only Jane's other skills went");
}

#[test]
fn a_refused_prune_removal_lands_in_failed_rows_as_a_remove_row() {
    let dir = TempDir::new("prune-failed");
    let roster = dir.file("r.csv", "name,agent,skill,proficiency\nJane,1001,Sales,2\n");
    let failed = dir.path("failed.csv");
    let sandbox = Rehearsal::start(SandboxOptions {
        refuse_skills: vec![556677],
        ..SandboxOptions::default()
    });
    let out = sandbox.cxskill(&fast(&[
        "apply",
        "--yes",
        &roster,
        "--prune",
        "--failed-rows",
        &failed,
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "not in the roster (--prune): agent 1001 skill 556677 remove: Skill assignment refused"
        ),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        read(&failed),
        "name,agent,skill,proficiency,error\n\
         ,1001,556677,remove,not in the roster (--prune): Skill assignment refused by the tenant (sandbox --refuse-skill)\n"
    );
    // Jane's Tech Support stays; the other unnamed skills went.
    assert_eq!(sandbox.state().get(&(1001, 556677)), Some(&(5, true)));
    assert_eq!(sandbox.state().get(&(1001, 112233)), None);
}

#[test]
fn prune_refuses_to_run_with_invalid_rows_even_with_skip_invalid() {
    // Jane holds Billing EN, Sales, Chat FR and Tech Support. A typo in a
    // skill name must not turn into removing that skill.
    let dir = TempDir::new("prune-invalid");
    let roster = dir.file(
        "r.csv",
        "agent,skill,proficiency\n1001,Tech Suport,5\n1001,Sales,2\n",
    );
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let before = sandbox.state();
    let out = sandbox.cxskill(&fast(&[
        "apply",
        &roster,
        "--prune",
        "--skip-invalid",
        "--yes",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--prune needs every row valid"),
        "{}",
        stderr(&out)
    );
    assert!(sandbox.writes().is_empty());
    assert_eq!(sandbox.state(), before);
}

#[test]
fn export_then_apply_writes_nothing() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    // Give the tenant some variety first: inactive flags, UUID agents.
    let out = sandbox.cxskill(&fast(&["apply", "--yes", "examples/roster.csv"]));
    assert_eq!(out.status.code(), Some(0));
    let dir = TempDir::new("export");
    let file = dir.path("export.csv");
    let seen = sandbox.requests().len();
    let out = sandbox.cxskill(&fast(&["export", "--out", &file]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The bulk reads, not one call per agent: active and inactive
    // assignments (the listing's filters default to active only).
    let paths: Vec<String> = sandbox.requests()[seen..]
        .iter()
        .filter(|r| r.path.starts_with("/inContactAPI/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        [
            "GET /inContactAPI/services/v34.0/skills",
            "GET /inContactAPI/services/v34.0/agents",
            "GET /inContactAPI/services/v34.0/agents/skills",
            "GET /inContactAPI/services/v34.0/agents/skills"
        ]
    );
    let csv = read(&file);
    assert!(csv.starts_with("agent,skill,proficiency,active,agent_name,skill_name\n"));
    assert_eq!(csv.lines().count() - 1, sandbox.state().len());
    assert!(
        csv.contains(
            "36f675cc-81e7-4ef5-a8e2-5d940ed90475,112233,15,false,Lukas Becker,Billing EN\n"
        ),
        "{csv}"
    );

    let writes = sandbox.writes().len();
    let out = sandbox.cxskill(&fast(&["apply", "--yes", &file, "--output", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report_json(&out)["summary"]["applied"], 0);
    assert_eq!(sandbox.writes().len(), writes, "export | apply wrote");
}

#[test]
fn export_narrows_to_agents_and_skills_by_name() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let out = sandbox.cxskill(&[
        "export",
        "--agent",
        "Jane.Doe@acme.example",
        "--skill",
        "Sales",
        "--skill",
        "112233",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "agent,skill,proficiency,active,agent_name,skill_name\n\
         6513270e-269e-4d37-b2a7-4de452e6b438,112233,3,true,Jane Doe,Billing EN\n\
         6513270e-269e-4d37-b2a7-4de452e6b438,445566,7,true,Jane Doe,Sales\n"
    );
    assert!(
        sandbox
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/skills/agents"))
    );

    let out = sandbox.cxskill(&["export", "--skill", "Sals"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no skill named `Sals`; did you mean `Sales`?"));
}
