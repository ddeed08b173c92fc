//! Exit codes: the contract with scripts and cron jobs. Every code cxskill
//! can exit with is here, with what it means; `--help` and the README print
//! the same table.

/// Everything asked for is in place: applied now, or already so; or the
/// roster is valid (`validate`); or `plan --detailed-exitcode` found no
/// change.
pub const OK: i32 = 0;

/// Some rows failed (the API rejected them, or their agent does not exist);
/// the others were applied. From `plan`: some rows would fail. The report
/// names each failed row with its line and the reason.
pub const ROWS_FAILED: i32 = 1;

/// The roster or the command line is invalid, a guard stopped the run
/// (`--max-removals`), or the user declined at the prompt. Nothing was
/// sent.
pub const INVALID_INPUT: i32 = 2;

/// Authentication, network or configuration failure: cxskill could not
/// talk to the tenant as configured (wrong secret, unreachable host, no
/// permission, refused `http://` address).
pub const FAILURE: i32 = 3;

/// `plan --detailed-exitcode` (or `apply --dry-run --detailed-exitcode`)
/// found changes to make, and no row is invalid or would fail (those take
/// precedence: 2, then 1).
pub const CHANGES_PRESENT: i32 = 4;

/// The table printed under `--help` and in the README.
pub const TABLE: &str = "\
Exit codes:
  0  ok: everything is in place (or the roster is valid)
  1  some rows failed (plan: would fail); the rest were applied
  2  invalid roster or usage, guard tripped, or declined; nothing was sent
  3  authentication, network or configuration failure
  4  plan --detailed-exitcode: there are changes to apply";
