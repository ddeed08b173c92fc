//! Safe unattended use: off a terminal, `apply` needs `--yes`, and a dry
//! run exits as the real apply would be judged.

mod common;

use common::{Rehearsal, TempDir, fast, stderr, stdout};
use cxskill::sandbox::SandboxOptions;

#[test]
fn apply_off_a_terminal_without_yes_sends_nothing_and_says_why() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let before = sandbox.state();
    // stdin is a pipe (as `< /dev/null` in cron), and no --yes.
    let out = sandbox.cxskill_with(&fast(&["apply", "examples/roster.csv"]), &[], Some(b""));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("add --yes"), "{}", stderr(&out));
    assert!(sandbox.requests().is_empty(), "not even a read");
    assert_eq!(sandbox.state(), before);

    // --auto-approve is the same as --yes.
    let out = sandbox.cxskill(&fast(&["apply", "examples/roster.csv", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The in-process sandbox is thrown away: it never needs --yes.
    let out = common::cxskill_unconfigured(&["apply", "examples/roster.csv", "--sandbox"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_dry_run_exits_2_when_the_guard_or_invalid_rows_would_stop_the_apply() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let dir = TempDir::new("dry-run");
    // Jane keeps only Sales: three prunes, over a guard of two.
    let roster = dir.file("r.csv", "agent,skill,proficiency\n1001,445566,2\n");
    let out = sandbox.cxskill(&fast(&[
        "apply",
        &roster,
        "--dry-run",
        "--prune",
        "--max-removals",
        "2",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("more than --max-removals 2"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("3 to remove"), "{}", stdout(&out));

    let invalid = dir.file(
        "bad.csv",
        "agent,skill,proficiency\n1001,445566,2\n1001,999999,3\n",
    );
    let out = sandbox.cxskill(&fast(&["apply", &invalid, "--dry-run"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid"), "{}", stderr(&out));
    assert!(sandbox.writes().is_empty());

    // The same dry run with room for the removals is judged fine.
    let out = sandbox.cxskill(&fast(&["apply", &roster, "--dry-run", "--prune"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
