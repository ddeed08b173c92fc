//! One function per command: each reads like the pipeline it runs,
//! roster → validated rows → plan → requests → report, and returns the
//! exit code. The stages themselves live in the library.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::OnceLock;

use indicatif::{ProgressBar, ProgressStyle};
use tracing::info;

use crate::cli::{
    ApplyArgs, Cli, ConnectionArgs, ExportArgs, Global, JobArgs, PlanArgs, RosterArgs, SandboxArgs,
    TenantArgs,
};
use cxskill::client::{Client, ClientError, RequestCounts};
use cxskill::config::{Connection, Credentials, RetryPolicy};
use cxskill::exit_codes;
use cxskill::export::ExportError;
use cxskill::files;
use cxskill::model::{AgentSpec, Levels, SkillSpec};
use cxskill::outcome::{self, RunReport};
use cxskill::plan::{self, Plan};
use cxskill::report::{self, Output};
use cxskill::resolve;
use cxskill::roster::{self, Input};
use cxskill::sandbox::{self, SandboxHandle, SandboxOptions, Tenant};
use cxskill::secret::Secret;
use cxskill::settings::{self, Config, Effective, Flags};
use cxskill::validate::{self, Validated};

/// `cxskill validate`: roster → validated rows → summary.
pub fn validate(args: &RosterArgs, global: &Global) -> i32 {
    let (_, validated) = match read_roster(args, global) {
        Ok(read) => read,
        Err(code) => return code,
    };
    let summary = validated.summary();
    let text = match global.output {
        Output::Json => report::validate_json(&summary),
        Output::Human if global.quiet && summary.valid => String::new(),
        Output::Human => report::validate_human(&summary),
    };
    print(&text);
    if summary.valid {
        exit_codes::OK
    } else {
        exit_codes::INVALID_INPUT
    }
}

/// `cxskill plan`: the diff, nothing written.
pub fn plan(args: &PlanArgs, global: &Global) -> i32 {
    let mode = Mode::Plan {
        detailed_exitcode: args.detailed_exitcode,
    };
    run(&args.job, global, mode)
}

/// `cxskill apply`: the diff, confirmed on a terminal, then written.
pub fn apply(args: &ApplyArgs, global: &Global) -> i32 {
    let mode = if args.dry_run {
        Mode::Plan {
            detailed_exitcode: args.detailed_exitcode,
        }
    } else {
        Mode::Apply {
            yes: args.yes,
            skip_invalid: args.skip_invalid,
            snapshot: args.snapshot.as_deref(),
            max_removals: args.max_removals,
        }
    };
    run(&args.job, global, mode)
}

enum Mode<'a> {
    Plan {
        detailed_exitcode: bool,
    },
    Apply {
        yes: bool,
        skip_invalid: bool,
        snapshot: Option<&'a Path>,
        max_removals: u64,
    },
}

fn run(job: &JobArgs, global: &Global, mode: Mode<'_>) -> i32 {
    let (input, validated) = match read_roster(&job.roster, global) {
        Ok(read) => read,
        Err(code) => return code,
    };
    let skip_invalid = matches!(
        mode,
        Mode::Apply {
            skip_invalid: true,
            ..
        }
    );
    let invalid = outcome::invalid_rows(&validated.roster.errors);
    for warning in validated.warnings.iter().take(report::HUMAN_LIST_LIMIT) {
        tracing::warn!("{}: {warning}", validated.roster.source);
    }
    if let Some(more) = validated
        .warnings
        .len()
        .checked_sub(report::HUMAN_LIST_LIMIT)
        && more > 0
    {
        tracing::warn!(
            "{}: … and {more} more warnings (all of them: cxskill validate --output json)",
            validated.roster.source
        );
    }
    if !invalid.is_empty() && !skip_invalid {
        // Nothing is read or sent for a roster with bad rows. The report
        // lists them (printing the validate summary too listed each twice).
        eprintln!(
            "error: {}: {} invalid; nothing was sent",
            validated.roster.source,
            report::plural(invalid.len() as u64, "row is", "rows are")
        );
        finish(
            job,
            global,
            &input,
            &RunReport::new(invalid, RequestCounts::default(), None),
        );
        return exit_codes::INVALID_INPUT;
    }

    let Some(runtime) = runtime() else {
        return exit_codes::FAILURE;
    };
    runtime.block_on(async {
        let (connection, sandbox) = match connect(&job.connection, global).await {
            Ok(pair) => pair,
            Err(message) => {
                eprintln!("error: {message}");
                return exit_codes::FAILURE;
            }
        };
        let code = run_against(job, global, &mode, &input, &validated, invalid, &connection).await;
        if let Some(handle) = sandbox {
            handle.shutdown().await;
        }
        code
    })
}

async fn run_against(
    job: &JobArgs,
    global: &Global,
    mode: &Mode<'_>,
    input: &Input,
    validated: &Validated,
    invalid: Vec<outcome::RowOutcome>,
    connection: &Connection,
) -> i32 {
    let client = match Client::new(connection) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_codes::FAILURE;
        }
    };
    info!(api_root = %connection.api_root(), "reading the tenant");
    let directory = match resolve::read_directory(&client, &validated.roster.rows).await {
        Ok(directory) => directory,
        Err(e) => return fatal(job, global, input, invalid, &client, &e),
    };
    let resolved = resolve::resolve(&validated.roster.rows, &directory);
    let mut invalid = invalid;
    invalid.extend(resolved.invalid);
    let rows = &resolved.rows;
    // Agents as resolved: one agent named two ways is read once.
    let agents: std::collections::HashSet<_> = rows.iter().map(|r| r.agent).collect();
    let bar = progress(global, agents.len() as u64, "reading");
    let read = plan::read_tenant(
        &client,
        rows,
        directory.skills,
        connection.concurrency,
        &|| bar.inc(1),
    )
    .await;
    bar.finish_and_clear();
    let tenant = match read {
        Ok(tenant) => tenant,
        Err(e) => return fatal(job, global, input, invalid, &client, &e),
    };
    let plan = plan::build(rows, &tenant, job.prune);
    if global.output == Output::Human && !global.quiet {
        print(&report::plan_human(&plan));
    }

    let planned = |mut rows: Vec<outcome::RowOutcome>| {
        rows.extend(invalid.iter().cloned());
        RunReport::new(rows, client.counts(), None)
    };
    let (yes, skip_invalid, snapshot, max_removals) = match *mode {
        Mode::Plan { detailed_exitcode } => {
            let report = planned(outcome::planned_rows(&plan));
            finish(job, global, input, &report);
            return plan_exit_code(&plan, &report, detailed_exitcode);
        }
        Mode::Apply {
            yes,
            skip_invalid,
            snapshot,
            max_removals,
        } => (yes, skip_invalid, snapshot, max_removals),
    };
    let any_invalid = plan.has_invalid() || !invalid.is_empty();
    if any_invalid && (!skip_invalid || job.prune) {
        let report = planned(outcome::planned_rows(&plan));
        if job.prune {
            // An invalid row's skill is not "named" by the roster, so
            // pruning would remove exactly what that row meant to keep.
            eprintln!(
                "error: some rows are invalid; --prune needs every row valid (even with --skip-invalid); nothing was sent"
            );
        } else {
            eprintln!(
                "error: some rows are invalid for this tenant; nothing was sent (fix them, or --skip-invalid)"
            );
        }
        finish(job, global, input, &report);
        return exit_codes::INVALID_INPUT;
    }
    let removals = plan.counts().remove;
    if removals > max_removals {
        let report = planned(outcome::planned_rows(&plan));
        eprintln!(
            "error: the plan removes {removals} assignments, more than --max-removals {max_removals}; nothing was sent (raise --max-removals to go ahead)"
        );
        finish(job, global, input, &report);
        return exit_codes::INVALID_INPUT;
    }
    // A throwaway in-process sandbox needs no confirmation.
    let ask = !yes && !job.connection.sandbox && std::io::stdin().is_terminal();
    if plan.counts().changes() > 0 && ask {
        if global.output == Output::Json || global.quiet {
            // Never ask about a plan the user has not been shown.
            eprint!("{}", report::plan_human(&plan));
        }
        if !confirm() {
            eprintln!("cancelled; nothing was sent");
            return exit_codes::INVALID_INPUT;
        }
    }
    if let Some(path) = snapshot {
        let written = report::snapshot_csv(&plan)
            .map_err(|e| e.to_string())
            .and_then(|bytes| files::write_atomic(path, &bytes).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!(
                "error: cannot write the snapshot {}: {e}; nothing was sent",
                path.display()
            );
            return exit_codes::FAILURE;
        }
    }

    let changed = plan.agents.iter().filter(|a| a.has_changes()).count() as u64;
    let bar = progress(global, changed, "applying");
    let applied = cxskill::apply::apply(
        &client,
        &plan,
        &tenant.skills,
        connection.concurrency,
        &|| bar.inc(1),
    )
    .await;
    bar.finish_and_clear();
    let mut rows = applied.rows;
    rows.extend(invalid);
    let fatal = applied.fatal.map(|e| e.to_string());
    let report = RunReport::new(rows, client.counts(), fatal);
    finish(job, global, input, &report);
    if report.fatal.is_some() {
        exit_codes::FAILURE
    } else if report.summary.failed > 0 || report.summary.invalid > 0 {
        exit_codes::ROWS_FAILED
    } else {
        exit_codes::OK
    }
}

fn plan_exit_code(plan: &Plan, report: &RunReport, detailed: bool) -> i32 {
    if report.summary.invalid > 0 {
        exit_codes::INVALID_INPUT
    } else if report.summary.failed > 0 {
        exit_codes::ROWS_FAILED
    } else if detailed && plan.counts().changes() > 0 {
        exit_codes::CHANGES_PRESENT
    } else {
        exit_codes::OK
    }
}

/// The run could not go on (authentication, permission, network).
fn fatal(
    job: &JobArgs,
    global: &Global,
    input: &Input,
    invalid: Vec<outcome::RowOutcome>,
    client: &Client,
    error: &ClientError,
) -> i32 {
    eprintln!("error: {error}");
    let report = RunReport::new(invalid, client.counts(), Some(error.to_string()));
    finish(job, global, input, &report);
    exit_codes::FAILURE
}

/// Renders the report on stdout and writes `--report` and `--failed-rows`.
fn finish(job: &JobArgs, global: &Global, input: &Input, report: &RunReport) {
    match global.output {
        Output::Json => print(&report::run_json(report)),
        Output::Human if global.quiet => {}
        Output::Human => print(&report::run_human(report)),
    }
    if let Some(path) = &job.records.report
        && let Err(e) = files::write_atomic(path, report::run_json(report).as_bytes())
    {
        eprintln!("error: cannot write the report {}: {e}", path.display());
    }
    if let Some(path) = &job.records.failed_rows {
        let written = report::failed_rows_csv(input, report)
            .map_err(|e| e.to_string())
            .and_then(|bytes| files::write_atomic(path, &bytes).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!(
                "error: cannot write the failed rows {}: {e}",
                path.display()
            );
        }
    }
}

/// Reads and validates the roster, or says why it cannot be read.
/// Reads and validates the roster, with the named levels of the config;
/// or says why it cannot and gives the exit code.
fn read_roster(args: &RosterArgs, global: &Global) -> Result<(Input, Validated), i32> {
    let levels = levels(global).map_err(|error| {
        eprintln!("error: {error}");
        exit_codes::FAILURE
    })?;
    let input =
        Input::read_with(&args.roster, args.format, args.read_options()).map_err(|error| {
            eprintln!("error: {error}");
            exit_codes::INVALID_INPUT
        })?;
    let validated = validate::validate(roster::parse(&input, &levels));
    Ok((input, validated))
}

/// The config file, read once per run (`--config FILE`, else the default
/// location); commands that need settings more than once share it.
fn config(global: &Global) -> Result<Config, String> {
    static CONFIG: OnceLock<Result<Config, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            Config::load(global.config.as_deref(), &settings::process_env)
                .map_err(|e| e.to_string())
        })
        .clone()
}

/// Every setting with its source: flag > environment > profile > default.
fn effective(global: &Global, tenant: &TenantArgs) -> Result<Effective, String> {
    let flags = Flags {
        config: global.config.clone(),
        profile: global.profile.clone(),
        api_base: tenant.api_base.clone(),
        api_version: tenant.api_version.clone(),
        token_url: tenant.token_url.clone(),
        rate: tenant.rate,
        concurrency: tenant.concurrency,
    };
    let effective = Effective::resolve(&flags, &settings::process_env, config(global)?)
        .map_err(|e| e.to_string())?;
    if let Some(profile) = &effective.profile {
        info!(profile = %profile.value, source = %profile.source, "using a profile of the config file");
    }
    Ok(effective)
}

/// The named proficiency levels in force: the config file's `[levels]`,
/// extended and overridden by the profile's.
fn levels(global: &Global) -> Result<Levels, String> {
    let no_flags = TenantArgs {
        api_base: None,
        api_version: None,
        token_url: None,
        rate: None,
        concurrency: None,
    };
    effective(global, &no_flags).map(|e| e.levels())
}

/// The connection from flags, the environment and the profile, or an
/// in-process sandbox with `--sandbox` (which keeps only the rate,
/// concurrency, API version and timeouts).
async fn connect(
    args: &ConnectionArgs,
    global: &Global,
) -> Result<(Connection, Option<SandboxHandle>), String> {
    let settings = effective(global, &args.tenant)?;
    if !args.sandbox {
        let connection = settings
            .connection(args.connect_timeout, args.timeout)
            .map_err(|e| e.to_string())?;
        return Ok((connection, None));
    }
    let options = SandboxOptions {
        api_version: settings.api_version.value.clone(),
        ..SandboxOptions::default()
    };
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let sandbox = sandbox::start(listen, Tenant::embedded(), options)
        .await
        .map_err(|e| format!("cannot start the sandbox: {e}"))?;
    let credentials = sandbox.credentials();
    let connection = Connection {
        api_base: sandbox.api_base(),
        api_version: settings.api_version.value.clone(),
        token_url: sandbox.token_url(),
        credentials: Credentials::AccessKey {
            access_key_id: credentials.access_key_id,
            access_key_secret: Secret::new(credentials.access_key_secret),
            client_id: credentials.client_id,
            client_secret: Secret::new(credentials.client_secret),
        },
        connect_timeout: args.connect_timeout,
        request_timeout: args.timeout,
        rate: settings.rate.value,
        concurrency: settings.concurrency.value,
        retry: RetryPolicy::default(),
    };
    info!(api_base = %connection.api_base, "running against the in-process sandbox tenant");
    connection.check().map_err(|e| e.to_string())?;
    Ok((connection, Some(sandbox)))
}

/// `cxskill config show`: every effective setting and its source; secrets
/// only as set or not and where from.
pub fn config_show(args: &TenantArgs, global: &Global) -> i32 {
    match effective(global, args) {
        Ok(settings) => {
            match global.output {
                Output::Json => print(&settings.show_json()),
                Output::Human => print(&settings.show_human()),
            }
            exit_codes::OK
        }
        Err(message) => {
            eprintln!("error: {message}");
            exit_codes::FAILURE
        }
    }
}

/// `cxskill auth check`: a token, one page of agents and skills, or the
/// reason why not.
pub fn auth_check(args: &ConnectionArgs, global: &Global) -> i32 {
    let Some(runtime) = runtime() else {
        return exit_codes::FAILURE;
    };
    runtime.block_on(async {
        let (connection, sandbox) = match connect(args, global).await {
            Ok(pair) => pair,
            Err(message) => {
                eprintln!("error: {message}");
                return exit_codes::FAILURE;
            }
        };
        let checked = cxskill::auth::check(&connection).await;
        if let Some(handle) = sandbox {
            handle.shutdown().await;
        }
        match checked {
            Ok(check) => {
                match global.output {
                    Output::Json => print(&check.json()),
                    Output::Human if global.quiet => {}
                    Output::Human => print(&check.human()),
                }
                exit_codes::OK
            }
            Err(error) => {
                if global.output == Output::Json {
                    print(&error.json());
                }
                eprintln!("error: {error}");
                exit_codes::FAILURE
            }
        }
    })
}

/// `cxskill completions SHELL`: the completion script, from the same clap
/// definitions as the parser.
pub fn completions(shell: clap_complete::Shell) -> i32 {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "cxskill", &mut script);
    print(&String::from_utf8_lossy(&script));
    exit_codes::OK
}

/// `cxskill man`: the man page in roff, from the same clap definitions.
pub fn man() -> i32 {
    use clap::CommandFactory;
    let mut page = Vec::new();
    if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut page) {
        eprintln!("error: cannot render the man page: {e}");
        return exit_codes::FAILURE;
    }
    print(&String::from_utf8_lossy(&page));
    exit_codes::OK
}

/// A progress bar on stderr when it is a terminal; hidden otherwise (cron,
/// pipes) and with --quiet.
fn progress(global: &Global, total: u64, what: &'static str) -> ProgressBar {
    if global.quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} agents  {per_sec}  ETA {eta}")
    {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar
}

/// Asks on the terminal whether to go ahead.
fn confirm() -> bool {
    eprint!("Apply these changes? Only `yes` is accepted: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    answer.trim().eq_ignore_ascii_case("yes")
}

/// `cxskill export`: the current assignments as a roster CSV.
pub fn export(args: &ExportArgs, global: &Global) -> i32 {
    let agents: Result<Vec<AgentSpec>, String> = args
        .agents
        .iter()
        .map(|a| a.parse().map_err(|e| format!("--agent `{a}`: {e}")))
        .collect();
    let skills: Result<Vec<SkillSpec>, String> = args
        .skills
        .iter()
        .map(|s| s.parse().map_err(|e| format!("--skill `{s}`: {e}")))
        .collect();
    let (agents, skills) = match (agents, skills) {
        (Ok(agents), Ok(skills)) => (agents, skills),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return exit_codes::INVALID_INPUT;
        }
    };
    let Some(runtime) = runtime() else {
        return exit_codes::FAILURE;
    };
    runtime.block_on(async {
        let (connection, sandbox) = match connect(&args.connection, global).await {
            Ok(pair) => pair,
            Err(message) => {
                eprintln!("error: {message}");
                return exit_codes::FAILURE;
            }
        };
        let result = match Client::new(&connection) {
            Ok(client) => cxskill::export::export(&client, &agents, &skills).await,
            Err(e) => Err(e.into()),
        };
        if let Some(handle) = sandbox {
            handle.shutdown().await;
        }
        let rows = match result {
            Ok(rows) => rows,
            Err(ExportError::Filter(message)) => {
                eprintln!("error: {message}");
                return exit_codes::INVALID_INPUT;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit_codes::FAILURE;
            }
        };
        let csv = match report::export_csv(&rows) {
            Ok(csv) => csv,
            Err(e) => {
                eprintln!("error: cannot render the roster: {e}");
                return exit_codes::FAILURE;
            }
        };
        match &args.out {
            Some(path) => {
                if let Err(e) = files::write_atomic(path, &csv) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return exit_codes::FAILURE;
                }
                info!(rows = rows.len(), path = %path.display(), "exported");
            }
            None => print(&String::from_utf8_lossy(&csv)),
        }
        exit_codes::OK
    })
}

/// `cxskill sandbox`: serves a tenant until Ctrl-C.
pub fn sandbox(args: &SandboxArgs) -> i32 {
    let tenant = match &args.tenant {
        Some(path) => match Tenant::load(path) {
            Ok(tenant) => tenant,
            Err(e) => {
                eprintln!("error: {e}");
                return exit_codes::INVALID_INPUT;
            }
        },
        None => Tenant::embedded(),
    };
    let options = SandboxOptions {
        api_version: args.api_version.clone(),
        put_semantics: args.put_semantics,
        rate_limit: args.rate_limit,
        fault_rate: args.fault_rate,
        drop_rate: args.drop_rate,
        latency: std::time::Duration::from_millis(args.latency_ms),
        seed: args.seed,
        token_ttl: std::time::Duration::from_secs(args.token_ttl),
        preissued_token: args.token.clone(),
        refuse_skills: args.refuse_skills.clone(),
    };
    let Some(runtime) = runtime() else {
        return exit_codes::FAILURE;
    };
    runtime.block_on(async {
        let handle = match sandbox::start(args.listen, tenant, options).await {
            Ok(handle) => handle,
            Err(e) => {
                eprintln!("error: {e}");
                return exit_codes::FAILURE;
            }
        };
        print(&handle.banner());
        let _ = tokio::signal::ctrl_c().await;
        handle.shutdown().await;
        exit_codes::OK
    })
}

/// The async runtime the client and the sandbox run on, or `None` after
/// saying why it cannot start.
fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Writes to stdout, ignoring a closed pipe (`cxskill ... | head`).
pub fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}
