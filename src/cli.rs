//! The whole command line, as clap-derive structs. Everything else receives
//! plain typed values from here, never `ArgMatches`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use cxskill::config::DEFAULT_API_VERSION;
use cxskill::exit_codes;
use cxskill::report::Output;
use cxskill::roster::{Delimiter, Encoding, Format, ReadOptions};
use cxskill::sandbox::PutSemantics;
use cxskill::style::ColorWhen;

/// Bulk-update agent skill proficiencies in NICE CXone, without wiping
/// anything.
///
/// Reads a roster (CSV or JSON: agent, skill, proficiency), validates every
/// row before anything is sent, reads each agent's current skills, and
/// converges the tenant to the roster: `plan` shows the diff, `apply` makes
/// it so.
#[derive(Debug, Parser)]
#[command(name = "cxskill", version, after_help = exit_codes::TABLE)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Print results as text for a person or as one JSON document (`-o
    /// json`, as in kubectl).
    #[arg(short, long, value_enum, default_value_t = Output::Human, global = true)]
    pub output: Output,

    /// When to colour the output: `auto` at a terminal, `always`, or
    /// `never`. Overrides NO_COLOR (any non-empty value: no colour) and
    /// CLICOLOR_FORCE (non-empty, not 0: colour anywhere), which apply
    /// when the flag is not given.
    #[arg(long, value_enum, value_name = "WHEN", global = true)]
    pub color: Option<ColorWhen>,

    /// More diagnostics on stderr: -v for progress, -vv for every request.
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Diagnostics on stderr as text or as JSON lines.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Config file with profiles and named levels [default:
    /// $XDG_CONFIG_HOME/cxskill/config.toml, else
    /// ~/.config/cxskill/config.toml; a missing default file is no config].
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Profile of the config file to use [env: CXSKILL_PROFILE] [default:
    /// the file's default_profile].
    #[arg(long, value_name = "NAME", global = true)]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a roster offline: every row, every column; nothing is sent.
    Validate(RosterArgs),
    /// Show what apply would change: reads the tenant, writes nothing.
    Plan(PlanArgs),
    /// Converge the tenant to the roster, without wiping other skills.
    Apply(ApplyArgs),
    /// Write the tenant's current assignments as a roster: CSV, or with
    /// `-o json` a JSON array that `apply` reads too.
    Export(ExportArgs),
    /// Show a saved plan (`plan --out`) as `plan` showed it, with its age.
    Show(ShowArgs),
    /// Take back a run: put back the before-state, from `apply --snapshot`,
    /// of the pairs that still hold the run's target.
    Undo(UndoArgs),
    /// Serve a local CXone tenant to rehearse against (loopback only by
    /// default). Prints its addresses and the lines that point cxskill at
    /// it (with `-o json`, as one JSON document on one line), then serves
    /// until Ctrl-C.
    Sandbox(SandboxArgs),
    /// Write or inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Check the credentials against the tenant.
    Auth {
        #[command(subcommand)]
        command: AuthCommand,
    },
    /// Print a shell completion script to stdout.
    Completions(CompletionsArgs),
    /// Print a man page (roff) to stdout: cxskill(1), or a command's, as
    /// in `cxskill man apply` or `cxskill man config show`; or write them
    /// all to a directory with --dir.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print [default: the top page,
    /// cxskill(1), with the environment, the config file and the exit
    /// codes].
    #[arg(value_name = "COMMAND", conflicts_with = "dir")]
    pub command: Vec<String>,

    /// Write every page to DIR (made if missing): cxskill.1,
    /// cxskill-apply.1, cxskill-config-show.1, ...
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write a commented config file to fill in: a profile with every key
    /// (secrets as `*_file` / `*_command`), a `[levels]` example, and
    /// `default_profile`. Writes to --config FILE or the default location,
    /// a new file with mode 0600. An existing file is never overwritten:
    /// a new profile (--profile NAME, else CXSKILL_PROFILE, else
    /// `default`) is appended to it; one it already has is refused (exit
    /// 2).
    Init,
    /// Print every effective setting with its source (flag, environment,
    /// profile or default); secrets only as whether they are set and where
    /// from, never their value. Runs no secret command.
    Show(TenantArgs),
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Obtain a token and read one page of agents and skills; print the API
    /// root, the agent and skill counts and the token's lifetime. Exit 3
    /// with the reason on failure (wrong secret, wrong token URL, no
    /// permission, unreachable host).
    Check(ConnectionArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The roster to read.
#[derive(Debug, Args)]
pub struct RosterArgs {
    /// Roster file (CSV or JSON), or `-` for stdin (CSV unless --format).
    /// A FIFO, device or directory is refused: pipe into `-` instead.
    pub roster: PathBuf,

    /// Roster format [default: from the extension; `.json` is JSON, others
    /// and stdin are CSV].
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// CSV field delimiter: `,` `;` or `tab` [default: Excel's `sep=` first
    /// line if there is one, else whichever of the three splits the header
    /// line into known columns].
    #[arg(long, value_name = "DELIM", value_parser = delimiter)]
    pub delimiter: Option<Delimiter>,

    /// Character encoding of a roster that is not UTF-8. UTF-8 (with or
    /// without a BOM) and UTF-16 with a BOM (Excel's "Unicode Text") are
    /// recognised either way; windows-1252 is Excel's plain "CSV" on
    /// Western European Windows.
    #[arg(long, value_enum, default_value_t = Encoding::Utf8)]
    pub encoding: Encoding,

    /// Refuse a roster (file or stdin) larger than this; a number of bytes,
    /// or with a K, M or G suffix (powers of 1024). 5,000,000 rows are
    /// about 250M.
    #[arg(
        long,
        value_name = "SIZE",
        env = "CXSKILL_MAX_ROSTER_BYTES",
        default_value = "1G",
        value_parser = byte_size
    )]
    pub max_roster_bytes: u64,

    /// A field (CSV cell, JSON string) longer than this makes its row
    /// invalid; bytes, or with a K, M or G suffix. A quote left open runs
    /// into such a field.
    #[arg(
        long,
        value_name = "SIZE",
        env = "CXSKILL_MAX_FIELD_BYTES",
        default_value = "64K",
        value_parser = byte_size
    )]
    pub max_field_bytes: u64,
}

impl RosterArgs {
    /// How to read the roster, as these flags say.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            delimiter: self.delimiter,
            encoding: self.encoding,
            max_roster_bytes: self.max_roster_bytes,
            max_field_bytes: self.max_field_bytes,
        }
    }
}

/// The tenant to talk to, or an in-process sandbox instead.
#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Run against an in-process sandbox tenant (the embedded default
    /// tenant, fresh each run); nothing leaves this machine. Tenant and
    /// credential settings are ignored; --rate and --concurrency are not.
    #[arg(long)]
    pub sandbox: bool,

    #[command(flatten)]
    pub tenant: TenantArgs,

    /// Seconds to wait for a connection.
    #[arg(long, default_value = "10", value_name = "SECS", value_parser = seconds)]
    pub connect_timeout: Duration,

    /// Seconds to wait for an answer to one request.
    #[arg(long, default_value = "30", value_name = "SECS", value_parser = seconds)]
    pub timeout: Duration,
}

/// Where the tenant is and how hard to push it. Each setting is taken from
/// the flag, else the environment, else the profile, else the default.
/// Credentials come from the environment (CXSKILL_ACCESS_KEY_ID,
/// CXSKILL_ACCESS_KEY_SECRET, CXSKILL_CLIENT_ID, CXSKILL_CLIENT_SECRET, or
/// a pre-issued CXSKILL_TOKEN) or from the profile (ids, and secrets as
/// `*_file` or `*_command`); never from a flag.
#[derive(Debug, Args)]
pub struct TenantArgs {
    /// Scheme and host of the API, e.g. https://api-na1.niceincontact.com;
    /// overrides discovery, which finds it from the token
    /// [env: CXSKILL_API_BASE] [default: discovered at run time].
    #[arg(long, value_name = "URL")]
    pub api_base: Option<String>,

    /// Admin API version [env: CXSKILL_API_VERSION] [default: v34.0].
    #[arg(long, value_name = "VERSION")]
    pub api_version: Option<String>,

    /// OAuth token endpoint [env: CXSKILL_TOKEN_URL] [default:
    /// https://cxone.niceincontact.com/auth/token].
    #[arg(long, value_name = "URL")]
    pub token_url: Option<String>,

    /// Requests per second (token bucket, small burst) [env: CXSKILL_RATE]
    /// [default: 10].
    #[arg(long, value_name = "RPS")]
    pub rate: Option<f64>,

    /// Requests in flight at once [env: CXSKILL_CONCURRENCY] [default: 5].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// The largest answer read, in bytes; a larger (or endless) one is an
    /// error [env: CXSKILL_MAX_ANSWER_BYTES] [default: 67108864, 64 MiB].
    #[arg(long, value_name = "BYTES")]
    pub max_answer_bytes: Option<usize>,
}

/// Where to keep the run's records.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Write the JSON report (summary and every row) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Write the failed and invalid rows, with their original columns and
    /// an `error` column, to FILE as CSV.
    #[arg(long, value_name = "FILE")]
    pub failed_rows: Option<PathBuf>,
}

/// What `plan` and `apply` share: the roster, the tenant, the records.
#[derive(Debug, Args)]
pub struct JobArgs {
    #[command(flatten)]
    pub roster: RosterArgs,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub records: ReportArgs,

    /// Authoritative mode: for every agent in the roster, remove the
    /// assignments the roster does not name.
    #[arg(long)]
    pub prune: bool,

    #[command(flatten)]
    pub writes: WriteArgs,
}

/// How the writes go: what `apply` and `undo` share.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Rows per write body (agent × skill pairs, for the bulk upsert); a
    /// full-set PUT is never split.
    #[arg(long, default_value_t = cxskill::requests::DEFAULT_BATCH_SIZE as u64, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub batch_size: u64,

    /// Write per agent only: never the bulk upsert (POST /agents/skills)
    /// or the per-skill DELETE. For tenants without them (cxskill also
    /// falls back by itself when they answer 405, 501 or a bare 404).
    #[arg(long)]
    pub no_bulk: bool,
}

impl WriteArgs {
    pub fn strategy(&self) -> cxskill::requests::Strategy {
        cxskill::requests::Strategy {
            bulk: !self.no_bulk,
            batch_size: usize::try_from(self.batch_size)
                .unwrap_or(cxskill::requests::DEFAULT_BATCH_SIZE),
        }
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// Save the plan to FILE (JSON) for review; `cxskill apply FILE`
    /// later applies exactly its pair changes, and `cxskill show FILE`
    /// prints it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Exit 4 when there are changes to apply, 0 when there are none.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// Show the plan and stop, as `plan` does.
    #[arg(long)]
    pub dry_run: bool,

    /// With --dry-run: exit 4 when there are changes.
    #[arg(long, requires = "dry_run")]
    pub detailed_exitcode: bool,

    /// Apply without asking, even on a terminal. Off a terminal (cron,
    /// pipes) apply refuses without it.
    #[arg(short, long, visible_alias = "auto-approve")]
    pub yes: bool,

    /// Send the valid rows even when some are invalid (they are reported).
    #[arg(long)]
    pub skip_invalid: bool,

    /// Before the first write, save the prior state of every assignment
    /// the run touches to FILE as a roster; applying it undoes the run.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,

    /// Stop before any write when the plan would remove more than N
    /// assignments (a guard for --prune and large `remove` rosters).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub max_removals: u64,

    /// With a saved plan: when pairs changed since the plan was made,
    /// apply each target to what the tenant holds now (and report the
    /// drift) instead of refusing.
    #[arg(long)]
    pub allow_drift: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved with `cxskill plan ROSTER --out FILE`.
    pub plan: PathBuf,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// A snapshot written by `cxskill apply --snapshot FILE`.
    pub snapshot: PathBuf,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub records: ReportArgs,

    /// Show what would be put back and stop.
    #[arg(long)]
    pub dry_run: bool,

    /// Undo without asking, even on a terminal.
    #[arg(short, long, visible_alias = "auto-approve")]
    pub yes: bool,

    /// Stop before any write when the undo would remove more than N
    /// assignments the run did not add (those it added are taken back
    /// without counting).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub max_removals: u64,

    #[command(flatten)]
    pub writes: WriteArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Only this agent: agentId, userId, e-mail or user name (repeatable).
    #[arg(long = "agent", value_name = "AGENT")]
    pub agents: Vec<String>,

    /// Only this skill: skillId or name (repeatable).
    #[arg(long = "skill", value_name = "SKILL")]
    pub skills: Vec<String>,

    /// Write the roster to FILE instead of stdout (in the format `--output`
    /// chooses: CSV, or JSON with `-o json`).
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on (loopback unless you name another).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Tenant data file (see examples/tenant.json) [default: the embedded
    /// tenant that examples/roster.csv is written against].
    #[arg(long, value_name = "FILE")]
    pub tenant: Option<PathBuf>,

    /// API version served under /inContactAPI/services/.
    #[arg(long, default_value = DEFAULT_API_VERSION)]
    pub api_version: String,

    /// What both PUTs do: modify the listed assignments, or replace the
    /// whole set with the body (PUT /agents/{id}/skills: the agent's
    /// skills; PUT /skills/{id}/agents: the skill's agents).
    #[arg(long, default_value = "modify", value_parser = put_semantics)]
    pub put_semantics: PutSemantics,

    /// Requests per second over all API calls; over it, 429 with
    /// Retry-After.
    #[arg(long, value_name = "RPS")]
    pub rate_limit: Option<f64>,

    /// Probability of a 503 before any change.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub fault_rate: f64,

    /// Probability that a write is committed and the connection then
    /// closed without an answer.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub drop_rate: f64,

    /// Delay added to every request, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub latency_ms: u64,

    /// Seed for the faults, so a rehearsal can be repeated exactly.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Lifetime of issued tokens, in seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub token_ttl: u64,

    /// Refuse writes of this skill row by row, to rehearse per-row errors
    /// (repeatable).
    #[arg(long = "refuse-skill", value_name = "SKILL_ID")]
    pub refuse_skills: Vec<u64>,

    /// Also accept this pre-issued bearer token.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,

    /// Refuse integer ids in write bodies (400): only JSON strings, the
    /// published type, as in {"skillId": "112233"}.
    #[arg(long)]
    pub string_ids: bool,

    /// Status of a write answer in which some rows failed: 207, 206, 400
    /// or 200 (the body is the same resultSet as a 200's).
    #[arg(long, default_value_t = 207, value_name = "STATUS", value_parser = partial_status)]
    pub partial_status: u16,

    /// Default page size of GET /agents/{id}/skills; a larger top is
    /// capped to it.
    #[arg(long, default_value_t = 100, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub agent_skills_page: u64,

    /// Injected 503s (--fault-rate, --fail-agent) carry Retry-After: N.
    #[arg(long = "retry-after-503", value_name = "N")]
    pub retry_after_503: Option<u64>,

    /// Answer 405 to POST /agents/skills and to every write on
    /// /skills/{id}/agents, like a tenant without them; reads still work.
    #[arg(long)]
    pub no_bulk_endpoints: bool,

    /// Every write naming this agent (in the path or anywhere in the body)
    /// answers 503 and changes nothing (repeatable).
    #[arg(long = "fail-agent", value_name = "AGENT_ID")]
    pub fail_agents: Vec<u64>,
}

fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    match Duration::try_from_secs_f64(secs) {
        Ok(duration) if secs > 0.0 && duration <= Duration::from_secs(86_400) => Ok(duration),
        _ => Err(format!(
            "`{text}`: expected a positive number of seconds, at most a day"
        )),
    }
}

fn partial_status(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(status @ (200 | 206 | 207 | 400)) => Ok(status),
        _ => Err(format!("`{text}`: expected 207, 206, 400 or 200")),
    }
}

fn delimiter(text: &str) -> Result<Delimiter, String> {
    text.parse()
}

/// `1048576`, `64K`, `64KiB`, `250M`, `1G` (powers of 1024), at least 1.
fn byte_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => {
            return Err(format!(
                "`{text}`: expected a number of bytes such as 65536, 64K, 250M or 1G"
            ));
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            format!("`{text}`: expected a positive number of bytes such as 65536, 64K, 250M or 1G")
        })
}

fn put_semantics(text: &str) -> Result<PutSemantics, String> {
    text.parse()
        .map_err(|_| format!("`{text}`: expected `modify` or `replace`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        // clap's own checks over every subcommand: no two flags share a
        // name or a short (`-o` is --output everywhere), and so on.
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn dash_o_is_output_on_every_command() {
        use clap::Parser;
        for args in [
            &["cxskill", "validate", "r.csv", "-o", "json"][..],
            &["cxskill", "export", "-o", "json", "--out", "x.json"],
            &["cxskill", "sandbox", "-o", "json"],
            &["cxskill", "config", "show", "-o", "json"],
            &["cxskill", "auth", "check", "-o", "json"],
        ] {
            let cli = Cli::try_parse_from(args).expect("parses");
            assert_eq!(cli.global.output, Output::Json, "{args:?}");
        }
        let cli = Cli::try_parse_from(["cxskill", "export", "--out", "json"]).expect("parses");
        match cli.command {
            Command::Export(export) => {
                assert_eq!(export.out, Some(PathBuf::from("json")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_readme_names_every_command_and_flag() {
        use clap::CommandFactory;
        let readme = include_str!("../README.md");
        // `--rate` must not be found inside `--rate-limit`.
        let named = |flag: &str| {
            readme.match_indices(flag).any(|(i, _)| {
                !readme[i + flag.len()..]
                    .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
            })
        };
        let mut missing = Vec::new();
        let mut stack = vec![(String::from("cxskill"), Cli::command())];
        while let Some((path, command)) = stack.pop() {
            if !readme.contains(&path) {
                missing.push(path.clone());
            }
            for arg in command.get_arguments() {
                if arg.is_hide_set() || ["help", "version"].contains(&arg.get_id().as_str()) {
                    continue;
                }
                if let Some(long) = arg.get_long()
                    && !named(&format!("--{long}"))
                {
                    missing.push(format!("{path} --{long}"));
                }
                if let Some(short) = arg.get_short()
                    && !named(&format!("-{short}"))
                {
                    missing.push(format!("{path} -{short}"));
                }
                for alias in arg.get_visible_aliases().unwrap_or_default() {
                    if !named(&format!("--{alias}")) {
                        missing.push(format!("{path} --{alias}"));
                    }
                }
            }
            for sub in command.get_subcommands() {
                stack.push((format!("{path} {}", sub.get_name()), sub.clone()));
            }
        }
        assert!(missing.is_empty(), "not in the README: {missing:#?}");
    }

    #[test]
    fn byte_sizes_take_binary_suffixes() {
        assert_eq!(byte_size("65536"), Ok(65536));
        assert_eq!(byte_size("64K"), Ok(65536));
        assert_eq!(byte_size("64KiB"), Ok(65536));
        assert_eq!(byte_size("1G"), Ok(1 << 30));
        assert_eq!(byte_size("250m"), Ok(250 << 20));
        for bad in ["", "0", "-1", "1T", "K", "99999999999999999999G"] {
            assert!(byte_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roster_defaults_are_the_library_defaults() {
        use clap::Parser;
        use cxskill::roster::{DEFAULT_MAX_FIELD_BYTES, DEFAULT_MAX_ROSTER_BYTES};
        assert_eq!(byte_size("1G"), Ok(DEFAULT_MAX_ROSTER_BYTES));
        assert_eq!(byte_size("64K"), Ok(DEFAULT_MAX_FIELD_BYTES));
        // What the command line gives when no flag is passed (and neither
        // CXSKILL_MAX_ROSTER_BYTES nor CXSKILL_MAX_FIELD_BYTES is set).
        let cli = Cli::try_parse_from(["cxskill", "validate", "r.csv"]).expect("parses");
        let Command::Validate(roster) = cli.command else {
            panic!("{:?}", cli.command);
        };
        let options = roster.read_options();
        assert_eq!(options.max_roster_bytes, DEFAULT_MAX_ROSTER_BYTES);
        assert_eq!(options.max_field_bytes, DEFAULT_MAX_FIELD_BYTES);
        assert_eq!(options, ReadOptions::default());
    }
}
