//! `cxskill validate` end to end: the real binary on good and bad files,
//! checking exit codes and what is printed.

mod common;

use std::io::Write;
use std::process::{Output, Stdio};

use common::{TempDir, isolated_command};

/// The binary with no developer config or CXSKILL_* variables in reach.
fn cxskill(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = isolated_command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cxskill");
    let mut pipe = child.stdin.take().expect("stdin");
    pipe.write_all(stdin.unwrap_or_default())
        .expect("write stdin");
    drop(pipe);
    child.wait_with_output().expect("wait for cxskill")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn example_csv_roster_is_valid() {
    let out = cxskill(&["validate", "examples/roster.csv"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), "25 rows, 12 agents, 6 skills: valid\n");
}

#[test]
fn example_json_roster_is_valid_and_json_output_is_one_document() {
    let out = cxskill(
        &["validate", "examples/roster.json", "--output", "json"],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["rows"], 25);
    assert_eq!(doc["errors"], serde_json::json!([]));
}

#[test]
fn every_common_mistake_exits_2_and_names_each_bad_line() {
    let out = cxskill(&["validate", "tests/data/mistakes.csv"], None);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    // The summary comes last, where the eye lands after the list.
    assert_eq!(
        text.lines().last(),
        Some("tests/data/mistakes.csv: 9 errors in 11 rows; nothing was sent"),
        "{text}"
    );
    for (line, needle) in [
        (
            2,
            "Level `expert`: CXone proficiency is an integer from 1 (best) to 20",
        ),
        (3, "Level `A`: CXone proficiency"),
        (4, "Level `90`: CXone proficiency"),
        (5, "Level `0`: CXone proficiency"),
        (
            6,
            "Agent `abc-123`: neither a UUID userId nor a numeric agentId",
        ),
        (7, "Active `maybe`"),
        (10, "Skill `12.5`: neither a skillId"),
        (11, "also on line 12"),
        (12, "also on line 11"),
    ] {
        let expected = format!("tests/data/mistakes.csv: line {line}: ");
        assert!(
            text.lines()
                .any(|l| l.contains(&expected) && l.contains(needle)),
            "line {line} with {needle:?} missing from:\n{text}"
        );
    }
    // Line 8-9 is one row with a quoted two-line name, valid; line 13 is fine.
    assert!(!text.contains("line 8:") && !text.contains("line 9:") && !text.contains("line 13:"));
}

#[test]
fn json_output_lists_errors_with_line_column_value_and_message() {
    let out = cxskill(
        &["validate", "tests/data/mistakes.csv", "--output", "json"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["valid"], false);
    let first = &doc["errors"][0];
    assert_eq!(first["line"], 2);
    assert_eq!(first["column"], "Level");
    assert_eq!(first["value"], "expert");
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("1 (best) to 20")
    );
    assert_eq!(doc["errors"].as_array().unwrap().len(), 9);
}

#[test]
fn not_utf8_and_missing_column_are_reported_with_file_and_line() {
    let out = cxskill(&["validate", "tests/data/latin1.csv"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("tests/data/latin1.csv: line 3: skill"));
    assert!(stdout(&out).contains("not valid UTF-8"));
    assert!(stdout(&out).contains("--encoding windows-1252"));

    let out = cxskill(&["validate", "tests/data/missing_column.csv"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).contains(
            "line 1: missing the skill column (name it `skill`, `skillId`, `skillName`); any case; spaces, `_` and `-` ignored. \
             The header, split at `,`, has `user`, `competency`, `proficiency`"
        ),
        "{}",
        stdout(&out)
    );
}

#[test]
fn windows_1252_reads_with_the_encoding_option() {
    let out = cxskill(
        &[
            "validate",
            "tests/data/latin1.csv",
            "--encoding",
            "windows-1252",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), "2 rows, 2 agents, 2 skills: valid\n");
}

#[test]
fn stdin_is_csv_and_header_only_is_valid_with_a_warning() {
    let out = cxskill(&["validate", "-"], Some(b"agent,skill,proficiency\r\n"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "  warning: <stdin>: the roster has no rows; there is nothing to do\n0 rows, 0 agents, 0 skills: valid; 1 warning\n"
    );
    let out = cxskill(&["validate", "-", "--format", "json"], Some(b"[]"));
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("warning: <stdin>: the roster has no rows"));

    let out = cxskill(
        &["validate", "-", "--format", "json"],
        Some(br#"[{"agent": 1001, "skill": "5", "proficiency": "expert"}]"#),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("<stdin>: line 1: proficiency `expert`"));
}

#[test]
fn missing_file_and_bad_usage_exit_2() {
    let out = cxskill(&["validate", "no/such/roster.csv"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no/such/roster.csv: cannot read the roster")
    );

    let out = cxskill(&["validate"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn quiet_prints_nothing_for_a_valid_roster() {
    let out = cxskill(&["validate", "examples/roster.csv", "--quiet"], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn help_lists_the_exit_codes() {
    let out = cxskill(&["--help"], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains(
        "2  invalid roster or usage, guard or drift, declined, or no --yes; nothing was sent"
    ));
}

#[test]
fn named_levels_come_from_the_config_file() {
    let dir = TempDir::new("levels");
    let config = dir.file(
        "config.toml",
        "[levels]\nexpert = 1\nSenior = 3\ntrainee = 15\n",
    );
    let roster = dir.file(
        "r.csv",
        "agent,skill,level\njane@acme.example,Sales,Expert\n1001,112233,senior\n1002,112233,guru\n",
    );
    let out = cxskill(&["validate", &roster, "--config", &config], None);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(
        text.contains("line 4: level `guru`: CXone proficiency is an integer from 1 (best) to 20, or `remove`, or a configured level: expert (1), senior (3), trainee (15)"),
        "{text}"
    );
    assert!(
        !text.contains("line 2") && !text.contains("line 3"),
        "{text}"
    );

    let out = cxskill(&["validate", &roster], None);
    assert!(stdout(&out).contains("define them in the [levels] table"));
}
