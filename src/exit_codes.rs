//! Exit codes: the contract with scripts and cron jobs. Every code cxskill
//! can exit with is here, with what it means; `--help` and the README print
//! the same table.

/// Everything asked for is in place: applied now, or already so; or the
/// roster is valid (`validate`); or `plan --detailed-exitcode` found no
/// change.
pub const OK: i32 = 0;

/// Some rows failed (the API rejected them, or their agent does not exist)
/// or are unknown (sent, but neither the answer nor a read-back could say
/// whether they took; a re-run settles them); the others were applied.
/// From `plan`: some rows would fail. The report names each such row with
/// its line and the reason.
pub const ROWS_FAILED: i32 = 1;

/// The roster or the command line is invalid, a guard stopped the run
/// (`--max-removals`), or the user declined at the prompt. Nothing was
/// sent.
pub const INVALID_INPUT: i32 = 2;

/// Authentication, network or configuration failure: cxskill could not
/// talk to the tenant as configured (wrong secret, unreachable host, no
/// permission, refused `http://` address), the tenant stopped answering
/// (three requests in a row exhausted their retries), or its upsert was
/// found to replace rather than add. What could be settled is reported.
pub const FAILURE: i32 = 3;

/// `plan --detailed-exitcode` (or `apply --dry-run --detailed-exitcode`)
/// found changes to make, and no row is invalid or would fail (those take
/// precedence: 2, then 1).
pub const CHANGES_PRESENT: i32 = 4;

/// Interrupted by SIGINT (Ctrl-C): no new write was sent after the signal;
/// the report and failed rows were written; re-running the same command
/// resumes.
pub const INTERRUPTED: i32 = 130;

/// Stopped by SIGTERM, as [`INTERRUPTED`].
pub const TERMINATED: i32 = 143;

/// The table printed under `--help` and in the README.
pub const TABLE: &str = "\
Exit codes:
    0  ok: everything is in place (or the roster is valid)
    1  some rows failed or are unknown (plan: would fail); the rest were applied
    2  invalid roster or usage, guard or drift, declined, or no --yes; nothing was sent
    3  authentication, network or configuration failure, or the tenant stopped answering
    4  plan --detailed-exitcode: there are changes to apply
  130  interrupted by SIGINT (Ctrl-C): the report was written; re-run to resume
  143  terminated by SIGTERM: as 130";

/// The rows of [`TABLE`]: each code (as written) and what it means; the
/// man pages list them from here.
pub fn entries() -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLE.lines().skip(1).filter_map(|line| {
        let (code, meaning) = line.trim().split_once("  ")?;
        Some((code, meaning.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_code() {
        let codes: Vec<i32> = entries()
            .map(|(code, _)| code.parse().expect("a number"))
            .collect();
        assert_eq!(
            codes,
            [
                OK,
                ROWS_FAILED,
                INVALID_INPUT,
                FAILURE,
                CHANGES_PRESENT,
                INTERRUPTED,
                TERMINATED
            ]
        );
        assert!(entries().all(|(_, meaning)| !meaning.is_empty()));
    }
}
