//! The hostile-input review, end to end: the real binary on rosters and
//! tenants built to mislead it (quotes left open, formulas, escape
//! sequences, endless or blocking files, huge inputs) and on targets for
//! the files it writes. Tenants are sandboxes on loopback.

mod common;

use std::io::Write;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{Rehearsal, TempDir, fast, isolated_command, read, report_json, stderr, stdout};
use cxskill::sandbox::{SandboxOptions, Tenant};

/// The binary with no config or CXSKILL_* variables, `stdin` piped in.
fn cxskill(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut child = isolated_command(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cxskill");
    let mut pipe = child.stdin.take().expect("stdin");
    let _ = pipe.write_all(stdin);
    drop(pipe);
    child.wait_with_output().expect("wait for cxskill")
}

/// The review's roster: a note opens a quote and never closes it, so the
/// two lines after it were one field and `validate` said "1 row, valid".
const UNCLOSED: &str = "agent,skill,proficiency,notes\n\
    1001,445566,2,\"moved to sales\n\
    1001,112233,3,keeps billing\n\
    1001,556677,5,\n";

#[test]
fn a_quote_left_open_is_invalid_and_prune_removes_nothing() {
    let dir = TempDir::new("unclosed");
    let roster = dir.file("r.csv", UNCLOSED);
    let out = cxskill(&["validate", &roster], &[], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("line 2: notes: the quoted field that opens on line 2 runs on to line 3, which reads as a roster row (`1001,112233,3,keeps billing`)"),
        "{text}"
    );
    assert!(
        text.contains(
            "line 2: a quoted field opens on line 2 and is never closed, so lines 2-4 were read as one field"
        ),
        "{text}"
    );

    // Jane holds Billing EN (112233), which line 3 asks to keep.
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let before = sandbox.state();
    let out = sandbox.cxskill(&fast(&["apply", &roster, "--prune", "--yes"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(sandbox.writes().is_empty());
    assert_eq!(sandbox.state(), before);
}

#[test]
fn multi_line_notes_that_are_closed_and_not_rows_stay_valid() {
    let dir = TempDir::new("notes");
    let roster = dir.file(
        "r.csv",
        "agent,skill,proficiency,notes\n1001,445566,2,\"moved to sales\nafter training\"\n1002,112233,3,\n",
    );
    let out = cxskill(&["validate", &roster], &[], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), "2 rows, 2 agents, 2 skills: valid\n");
}

/// A tenant whose names are formulas and terminal escapes.
fn booby_trapped_tenant() -> Tenant {
    Tenant::from_json(
        r#"{
        "accessKeys": [{"accessKeyId": "k", "accessKeySecret": "s", "readOnly": false}],
        "clients": [{"clientId": "c", "clientSecret": "cs"}],
        "agents": [
          {"agentId": 1, "userId": "00000000-0000-4000-8000-000000000001", "userName": "pat@acme.example",
           "emailAddress": "pat@acme.example", "firstName": "=HYPERLINK(\"http://evil.example\")", "lastName": "x",
           "isActive": true}],
        "skills": [{"skillId": 10, "skillName": "@SUM(1+1)\u001b]0;owned\u0007", "isActive": true},
                   {"skillId": 11, "skillName": "Chat \u202eRF", "isActive": true}],
        "assignments": [{"agentId": 1, "skillId": 10, "proficiency": 3, "isActive": true}]
    }"#,
    )
    .expect("tenant")
}

#[test]
fn snapshot_export_and_failed_rows_neutralise_formulas_and_read_back() {
    let sandbox = Rehearsal::with_tenant(booby_trapped_tenant(), SandboxOptions::default());
    let dir = TempDir::new("formulas");
    let roster = dir.file("r.csv", "agent,skill,proficiency\n1,10,4\n1,11,5\n");
    let snapshot = dir.path("snapshot.csv");
    let out = sandbox.cxskill(&fast(&["apply", &roster, "--yes", "--snapshot", &snapshot]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        read(&snapshot),
        "agent,skill,proficiency,active,skill_name,run_proficiency,run_active\n\
         1,10,3,true,'@SUM(1+1)\u{1b}]0;owned\u{7},4,true\n\
         1,11,remove,,Chat \u{202e}RF,5,true\n"
    );

    let export = dir.path("export.csv");
    let out = sandbox.cxskill(&fast(&["export", "--out", &export]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let csv = read(&export);
    assert!(
        csv.contains(",\"'=HYPERLINK(\"\"http://evil.example\"\") x\",'@SUM"),
        "{csv}"
    );
    // What cxskill wrote reads back as a roster: applying it changes nothing.
    let writes = sandbox.writes().len();
    let out = sandbox.cxskill(&fast(&["apply", &export, "--yes", "--output", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report_json(&out)["summary"]["unchanged"], 2);
    assert_eq!(sandbox.writes().len(), writes);

    // A roster's own formula comes back neutralised in --failed-rows.
    let bad = dir.file("bad.csv", "agent,skill,proficiency,note\n1,10,=1+2,@cmd\n");
    let failed = dir.path("failed.csv");
    let out = sandbox.cxskill(&fast(&["plan", &bad, "--failed-rows", &failed]));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        read(&failed),
        "agent,skill,proficiency,note,error\n\
         1,10,'=1+2,'@cmd,\"line 2: proficiency `=1+2`: CXone proficiency is an integer from 1 (best) to 20, or `remove`\"\n"
    );
}

#[test]
fn human_output_shows_escape_sequences_and_bidi_controls_instead_of_sending_them() {
    let sandbox = Rehearsal::with_tenant(booby_trapped_tenant(), SandboxOptions::default());
    let dir = TempDir::new("escapes");
    let roster = dir.file("r.csv", "agent,skill,proficiency\n1,10,4\n1,11,5\n1,12,5\n");
    let out = sandbox.cxskill(&fast(&["plan", &roster]));
    let text = stdout(&out);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    assert!(
        text.contains("~ 10 @SUM(1+1)\\u{1b}]0;owned\\u{7}  3 → 4"),
        "{text}"
    );
    assert!(text.contains("+ 11 Chat \\u{202e}RF  5"), "{text}");

    // Roster cells, in validate's messages and plan's invalid rows.
    let roster = dir.file(
        "bad.csv",
        "agent,skill,proficiency\n\u{1b}]0;owned\u{7},5,3\n1,\u{202e}5,3\n1,5,\u{0}\n",
    );
    for command in ["validate", "plan"] {
        let out = if command == "plan" {
            sandbox.cxskill(&fast(&[command, &roster]))
        } else {
            sandbox.cxskill(&[command, &roster])
        };
        assert_eq!(out.status.code(), Some(2));
        let text = stdout(&out);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{202e}') && !text.contains('\u{0}'),
            "{command}: {text:?}"
        );
        assert!(text.contains("\\u{1b}]0;owned\\u{7}"), "{command}: {text}");
        assert!(
            text.contains("\\u{202e}5") && text.contains("\\u{0}"),
            "{command}: {text}"
        );
    }
}

#[test]
fn a_roster_that_is_not_a_regular_file_is_refused_without_reading_it() {
    let out = cxskill(&["validate", "/dev/zero"], &[], b"");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: /dev/zero: not a regular file but a character device; give a roster file, or `-` to read standard input\n"
    );

    let dir = TempDir::new("dir");
    let out = cxskill(&["validate", &dir.path("")], &[], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a regular file but a directory"));

    // A FIFO nobody writes to: opening it would block forever.
    let fifo = dir.path("roster.csv");
    let name = std::ffi::CString::new(fifo.as_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let mut child = isolated_command(&["validate", &fifo])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cxskill");
    // Not a timing assertion: a guard so that the old behaviour (blocking
    // in open) fails the test instead of hanging the suite.
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("cxskill blocked on a FIFO");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("roster.csv: not a regular file but a FIFO (named pipe)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn roster_and_field_caps_apply_to_files_and_stdin() {
    let dir = TempDir::new("caps");
    let text = "agent,skill,proficiency,note\n1001,5,3,short\n1002,5,3,a rather longer note\n";
    let roster = dir.file("r.csv", text);

    let out = cxskill(&["validate", &roster, "--max-roster-bytes", "40"], &[], b"");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: {roster}: the roster is larger than 40 bytes; if it really is, raise --max-roster-bytes (or CXSKILL_MAX_ROSTER_BYTES)\n"
        )
    );
    let out = cxskill(
        &["validate", "-"],
        &[("CXSKILL_MAX_ROSTER_BYTES", "40")],
        text.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: <stdin>: the roster is larger than 40 bytes"),
        "{}",
        stderr(&out)
    );

    for args in [
        vec!["validate", roster.as_str(), "--max-field-bytes", "10"],
        vec!["validate", "-", "--max-field-bytes", "10"],
    ] {
        let out = cxskill(&args, &[], text.as_bytes());
        assert_eq!(out.status.code(), Some(2));
        let source = if args[1] == "-" { "<stdin>" } else { &roster };
        assert!(
            stdout(&out).contains(&format!(
                "error: {source}: line 3: note: the field is 20 bytes long, more than --max-field-bytes 10"
            )),
            "{}",
            stdout(&out)
        );
    }
    let out = cxskill(&["validate", &roster, "--max-field-bytes", "ten"], &[], b"");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn human_output_lists_the_first_errors_and_warnings_and_json_has_them_all() {
    let dir = TempDir::new("many");
    let mut errors = "agent,skill,proficiency\n".to_owned();
    let mut duplicates = errors.clone();
    for i in 0..500 {
        errors.push_str(&format!("{},5,expert\n", 1000 + i));
        duplicates.push_str(&format!("{},5,3\n{0},5,3\n", 1000 + i));
    }
    let errors = dir.file("errors.csv", &errors);
    let duplicates = dir.file("duplicates.csv", &duplicates);

    let out = cxskill(&["validate", &errors], &[], b"");
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 52, "{text}");
    assert!(
        text.ends_with(&format!(
            "  … and 450 more (all of them with --output json)\n{errors}: 500 errors in 500 rows; nothing was sent\n"
        )),
        "{text}"
    );
    let out = cxskill(&["validate", &errors, "--output", "json"], &[], b"");
    assert_eq!(
        report_json(&out)["errors"].as_array().map(Vec::len),
        Some(500)
    );

    let out = cxskill(&["validate", &duplicates], &[], b"");
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 52, "{text}");
    assert!(
        text.ends_with(
            "  … and 450 more (all of them with --output json)\n1,000 rows, 500 agents, 1 skill: valid; 500 warnings\n"
        ),
        "{text}"
    );
    let out = cxskill(&["validate", &duplicates, "--output", "json"], &[], b"");
    assert_eq!(
        report_json(&out)["warnings"].as_array().map(Vec::len),
        Some(500)
    );

    // plan of an invalid roster lists each error once, in its report.
    let out = cxskill(&["plan", &errors], &[], b"");
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert_eq!(text.matches("line 2:").count(), 1, "{text}");
    assert!(text.contains("  … and 450 more (all rows are in --report FILE or --output json)"));
}

#[test]
fn a_bad_header_is_reported_once_without_a_doubled_colon() {
    let dir = TempDir::new("header");
    let roster = dir.file("r.csv", "agent,skil,proficiency\n1001,5,3\n");
    let out = cxskill(&["plan", &roster], &[], b"");
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert_eq!(
        text.matches("missing the skill column").count(),
        1,
        "{text}"
    );
    assert!(!text.contains("::"), "{text}");
    assert!(
        text.contains("\n  line 1: missing the skill column (name it"),
        "{text}"
    );
    assert_eq!(
        stderr(&out),
        format!("error: {roster}: 1 row is invalid; nothing was sent\n")
    );
}

#[test]
fn json_rosters_reject_a_repeated_key_and_a_skill_id_past_64_bits() {
    let out = cxskill(
        &["validate", "-", "--format", "json"],
        &[],
        br#"[{"agent": 1001, "skill": 5, "proficiency": 3, "proficiency": 4},
             {"agent": 1001, "skill": 18446744073709551616, "proficiency": 3}]"#,
    );
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(
        text.contains("line 1: proficiency: item 1 gives the key `proficiency` more than once"),
        "{text}"
    );
    assert!(
        text.contains("line 2: skill `1.8446744073709552e+19`: not a valid skillId"),
        "{text}"
    );
}

#[test]
fn written_files_replace_a_symlink_are_private_and_leave_no_temporary() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("written");
    let roster = dir.file("r.csv", "agent,skill,proficiency\n1001,5,x\n");
    let victim = dir.file("victim.txt", "precious\n");
    let report = dir.path("report.json");
    std::os::unix::fs::symlink(&victim, &report).expect("symlink");
    let failed = dir.path("failed.csv");
    let out = cxskill(
        &[
            "plan",
            &roster,
            "--report",
            &report,
            "--failed-rows",
            &failed,
        ],
        &[],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(read(&victim), "precious\n");
    let metadata = std::fs::symlink_metadata(&report).expect("report");
    assert!(metadata.is_file());
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    assert!(read(&report).contains("\"invalid\": 1"));
    let metadata = std::fs::metadata(&failed).expect("failed rows");
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    let mut names: Vec<String> = std::fs::read_dir(&dir.0)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["failed.csv", "r.csv", "report.json", "victim.txt"]);

    // A stream is written to, not replaced.
    let out = cxskill(
        &[
            "plan",
            &roster,
            "--report",
            "/dev/stdout",
            "--output",
            "json",
        ],
        &[],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out).matches("\"summary\"").count(), 2);
}
