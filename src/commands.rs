//! One function per command: each reads like the pipeline it runs,
//! roster → validated rows → plan → requests → report, and returns the
//! exit code. The stages themselves live in the library.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use tracing::info;

use crate::cli::{
    ApplyArgs, Cli, ConnectionArgs, ExportArgs, Global, JobArgs, ManArgs, PlanArgs, ReportArgs,
    RosterArgs, SandboxArgs, ShowArgs, TenantArgs, UndoArgs,
};
use cxskill::apply::Progress;
use cxskill::client::{Client, ClientError, RequestCounts};
use cxskill::config::{Connection, RetryPolicy};
use cxskill::config_init;
use cxskill::exit_codes;
use cxskill::export::ExportError;
use cxskill::files;
use cxskill::interrupt::{Interrupt, Signal};
use cxskill::job::{Confirmation, Job, Mode, Planned, Review, Stop};
use cxskill::model::{AgentSpec, Levels, SkillSpec};
use cxskill::outcome::ConcurrentChange;
use cxskill::outcome::{self, RunReport};
use cxskill::planfile::{self, RosterDigest, SavedPlan, TenantId};
use cxskill::progress::ProgressLine;
use cxskill::report::{self, Output};
use cxskill::roster::{self, Input};
use cxskill::sandbox::{self, SandboxHandle, SandboxOptions, Tenant};
use cxskill::settings::{self, Config, Effective, Flags};
use cxskill::style::{self, Palette};
use cxskill::validate::{self, Validated};

/// `cxskill validate`: roster → validated rows → summary.
pub fn validate(args: &RosterArgs, global: &Global) -> i32 {
    let validated = match read_input(args).and_then(|input| validate_input(&input, global)) {
        Ok(validated) => validated,
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

/// `cxskill plan`: the diff and the requests, nothing written; with
/// `--out`, saved for a later `apply`.
pub fn plan(args: &PlanArgs, global: &Global) -> i32 {
    let job = Job {
        mode: Mode::Plan,
        detailed_exitcode: args.detailed_exitcode,
        ..job_of(&args.job)
    };
    let files = Files {
        plan_out: args.out.as_deref(),
        snapshot: None,
    };
    run(&args.job, global, &job, files, None)
}

/// `cxskill apply`: the diff, confirmed, then written. Given a saved plan
/// instead of a roster, its pair changes (the plan was the review).
pub fn apply(args: &ApplyArgs, global: &Global) -> i32 {
    let given = match given(&args.job.roster) {
        Ok(given) => given,
        Err(code) => return code,
    };
    let confirmation = if matches!(given, Given::Saved { .. }) {
        Confirmation::Reviewed
    } else {
        confirmation(args.yes, args.job.connection.sandbox)
    };
    let job = Job {
        mode: if args.dry_run {
            Mode::DryRun
        } else {
            Mode::Apply
        },
        detailed_exitcode: args.detailed_exitcode,
        skip_invalid: args.skip_invalid,
        max_removals: args.max_removals,
        allow_drift: args.allow_drift,
        confirmation,
        ..job_of(&args.job)
    };
    let files = Files {
        plan_out: None,
        snapshot: args.snapshot.as_deref(),
    };
    match given {
        Given::Saved { name, saved } => {
            let source = Source::Saved { name: &name, saved };
            within(
                &args.job.connection,
                &args.job.records,
                global,
                &job,
                source,
                files,
            )
        }
        Given::Roster(input) => run(&args.job, global, &job, files, input),
    }
}

/// `cxskill undo SNAPSHOT`: puts back the before-state of the pairs a run
/// changed that still hold its target; shows the plan and asks, like apply.
pub fn undo(args: &UndoArgs, global: &Global) -> i32 {
    let name = args.snapshot.display().to_string();
    let rows = match std::fs::read(&args.snapshot)
        .map_err(|e| format!("{name}: cannot read the snapshot: {e}"))
        .and_then(|bytes| cxskill::snapshot::parse(&name, &bytes))
    {
        Ok(rows) => rows,
        Err(message) => {
            report_error(&message);
            return exit_codes::INVALID_INPUT;
        }
    };
    let job = Job {
        mode: if args.dry_run {
            Mode::DryRun
        } else {
            Mode::Apply
        },
        max_removals: args.max_removals,
        // Pairs changed since the run are left alone and reported, not a
        // reason to stop.
        allow_drift: true,
        confirmation: confirmation(args.yes, args.connection.sandbox),
        strategy: args.writes.strategy(),
        ..Job::default()
    };
    if let Some(stop) = job.needs_terminal() {
        report_error(&stop.message());
        return stop.exit_code();
    }
    let files = Files {
        plan_out: None,
        snapshot: None,
    };
    within(
        &args.connection,
        &args.records,
        global,
        &job,
        Source::Undo(&rows),
        files,
    )
}

/// `cxskill show PLAN`: a saved plan as `plan` showed it, with its age.
pub fn show(args: &ShowArgs, global: &Global) -> i32 {
    let name = args.plan.display().to_string();
    let saved = match std::fs::read(&args.plan)
        .map_err(|e| format!("{name}: cannot read the plan: {e}"))
        .and_then(|bytes| SavedPlan::parse(&name, &bytes).map_err(|e| e.to_string()))
    {
        Ok(saved) => saved,
        Err(message) => {
            report_error(&message);
            return exit_codes::INVALID_INPUT;
        }
    };
    match global.output {
        Output::Json => print(&saved.to_json()),
        Output::Human => {
            let age = saved
                .age(std::time::SystemTime::now())
                .map(|a| format!("{} ago", planfile::age_text(a)))
                .unwrap_or_else(|| "at an unknown time".to_owned());
            print(&format!(
                "plan made {age} ({}) from {} ({}), for tenant {} business unit {}\n",
                report::terminal_safe(&saved.created),
                report::terminal_safe(&saved.roster.name),
                report::terminal_safe(&saved.roster.sha256),
                report::terminal_safe(saved.tenant.tenant_id.as_deref().unwrap_or("(unknown)")),
                report::terminal_safe(
                    saved
                        .tenant
                        .business_unit_id
                        .as_deref()
                        .unwrap_or("(unknown)")
                ),
            ));
            print(&report::plan_human(
                &saved.as_plan(),
                &saved.requests,
                list_limit(),
                colors().stdout,
            ));
        }
    }
    exit_codes::OK
}

/// The go-ahead an apply has: `--yes`, a throwaway sandbox, a terminal to
/// ask on, or none.
fn confirmation(yes: bool, sandbox: bool) -> Confirmation {
    if yes {
        Confirmation::Given
    } else if sandbox {
        // A throwaway in-process sandbox needs no confirmation.
        Confirmation::Throwaway
    } else if std::io::stdin().is_terminal() {
        Confirmation::Ask
    } else {
        Confirmation::NoTerminal
    }
}

/// What `apply` was given: a saved plan, or a roster.
enum Given {
    Saved {
        name: String,
        saved: Box<SavedPlan>,
    },
    /// Read already when it is a file; stdin is read only once the run
    /// knows it may go ahead.
    Roster(Option<Input>),
}

/// Reads `apply`'s file once, under the roster's caps, and tells a saved
/// plan (a JSON object) from a roster.
fn given(args: &RosterArgs) -> Result<Given, i32> {
    if args.roster.as_os_str() == "-" {
        return Ok(Given::Roster(None));
    }
    let input = read_input(args)?;
    if !planfile::looks_like_plan(&input.bytes) {
        return Ok(Given::Roster(Some(input)));
    }
    let name = args.roster.display().to_string();
    match SavedPlan::parse(&name, &input.bytes) {
        Ok(saved) => Ok(Given::Saved {
            name,
            saved: Box::new(saved),
        }),
        Err(e) => {
            report_error(&format!("{e}; nothing was sent"));
            Err(exit_codes::INVALID_INPUT)
        }
    }
}

/// The policy both commands share, from their flags.
fn job_of(args: &JobArgs) -> Job {
    Job {
        prune: args.prune,
        strategy: args.writes.strategy(),
        ..Job::default()
    }
}

/// Files a run writes besides its report.
#[derive(Clone, Copy)]
struct Files<'a> {
    /// `plan --out`: the saved plan.
    plan_out: Option<&'a Path>,
    /// `apply --snapshot`.
    snapshot: Option<&'a Path>,
}

/// What a run plans from.
enum Source<'a> {
    /// A roster, read and validated; its invalid rows.
    Roster {
        input: &'a Input,
        validated: &'a Validated,
        invalid: Vec<outcome::RowOutcome>,
    },
    /// A saved plan.
    Saved {
        name: &'a str,
        saved: Box<SavedPlan>,
    },
    /// A snapshot to take back.
    Undo(&'a [cxskill::snapshot::SnapshotRow]),
}

impl<'a> Source<'a> {
    /// The roster, for quoting failed rows as written.
    fn input(&self) -> Option<&'a Input> {
        match self {
            Source::Roster { input, .. } => Some(input),
            _ => None,
        }
    }

    /// The roster's invalid rows, once.
    fn take_invalid(&mut self) -> Vec<outcome::RowOutcome> {
        match self {
            Source::Roster { invalid, .. } => std::mem::take(invalid),
            _ => Vec::new(),
        }
    }
}

/// roster → rows → plan (reads, diff, requests) → [confirm] → apply →
/// report.
/// `input` is the roster when the caller has read it already.
fn run(args: &JobArgs, global: &Global, job: &Job, files: Files<'_>, input: Option<Input>) -> i32 {
    if let Some(stop) = job.needs_terminal() {
        report_error(&stop.message());
        return stop.exit_code();
    }
    let input = match input.map_or_else(|| read_input(&args.roster), Ok) {
        Ok(input) => input,
        Err(code) => return code,
    };
    let validated = match validate_input(&input, global) {
        Ok(validated) => validated,
        Err(code) => return code,
    };
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
    if let Some(stop) = job.roster_gate(invalid.len()) {
        // Nothing is read or sent for a roster with bad rows. The report
        // lists them (printing the validate summary too listed each twice).
        match stop {
            Stop::InvalidRows { .. } => report_error(&format!(
                "{}: {} invalid; nothing was sent",
                validated.roster.source,
                report::plural(invalid.len() as u64, "row is", "rows are")
            )),
            _ => report_error(&stop.message()),
        }
        finish(
            &args.records,
            global,
            Some(&input),
            &RunReport::new(invalid, RequestCounts::default(), None),
            false,
        );
        return stop.exit_code();
    }
    let source = Source::Roster {
        input: &input,
        validated: &validated,
        invalid,
    };
    within(&args.connection, &args.records, global, job, source, files)
}

/// Plans (and applies) `source` on the async runtime against the
/// configured tenant, or an in-process sandbox, with the job's concurrency
/// from the settings.
fn within(
    args: &ConnectionArgs,
    records: &ReportArgs,
    global: &Global,
    job: &Job,
    source: Source<'_>,
    files: Files<'_>,
) -> i32 {
    let Some(runtime) = runtime() else {
        return exit_codes::FAILURE;
    };
    runtime.block_on(async {
        let (connection, sandbox) = match connect(args, global).await {
            Ok(pair) => pair,
            Err(message) => {
                report_error(&message);
                return exit_codes::FAILURE;
            }
        };
        let job = Job {
            concurrency: connection.concurrency,
            ..job.clone()
        };
        let code = run_against(&job, records, global, source, &connection, files).await;
        if let Some(handle) = sandbox {
            handle.shutdown().await;
        }
        code
    })
}

async fn run_against(
    job: &Job,
    records: &ReportArgs,
    global: &Global,
    mut source: Source<'_>,
    connection: &Connection,
    files: Files<'_>,
) -> i32 {
    let input = source.input();
    let client = match Client::connect(connection).await {
        Ok(client) => client,
        Err(e) => return fatal(records, global, input, source.take_invalid(), None, &e),
    };
    info!(api_root = %client.endpoint().api_root, "reading the tenant");
    let bar = progress(global, 0, "reading");
    let planned = match &source {
        Source::Roster { validated, .. } => job.plan(&client, &validated.roster.rows).await,
        Source::Saved { saved, .. } => job.plan_saved(&client, saved).await,
        Source::Undo(rows) => job.plan_undo(&client, rows).await,
    };
    bar.finish_and_clear();
    let mut planned = match planned {
        Ok(planned) => planned,
        Err(e) => {
            let invalid = source.take_invalid();
            return fatal(records, global, input, invalid, Some(&client), &e);
        }
    };
    let here = TenantId {
        tenant_id: client.tenant_id(),
        business_unit_id: planned.holdings.business_unit.clone(),
    };
    if let Source::Saved { name, saved } = &source
        && let Err(e) = saved.check_tenant(name, &here)
    {
        report_error(&e);
        return exit_codes::INVALID_INPUT;
    }
    planned.invalid.extend(source.take_invalid());
    let shown = global.output == Output::Human && !global.quiet;
    if shown {
        print(&report::drift_human(&planned.drift));
        print(&report::plan_human(
            &planned.plan,
            &planned.expected,
            list_limit(),
            colors().stdout,
        ));
    }
    let concurrent: Vec<ConcurrentChange> = planned
        .concurrent
        .iter()
        .map(|c| ConcurrentChange {
            agent: c.agent,
            skill: c.skill,
            before: c.before,
            after: c.after,
        })
        .collect();
    let planned_report = |planned: &Planned, client: &Client| {
        let mut rows = outcome::planned_rows(&planned.plan);
        rows.extend(planned.invalid.iter().cloned());
        let mut report = RunReport::new(rows, client.counts(), None);
        report.expected_requests = planned.expected.clone();
        report.drift = planned.drift.clone();
        report.concurrent_changes = concurrent.clone();
        report
    };
    if let Some(path) = files.plan_out
        && job.mode == Mode::Plan
    {
        let roster = match &source {
            Source::Roster { input, .. } => RosterDigest {
                name: input.source.to_string(),
                sha256: planfile::digest(&input.bytes),
            },
            _ => RosterDigest {
                name: String::new(),
                sha256: String::new(),
            },
        };
        let saved = SavedPlan::new(
            &planned.plan,
            &planned.holdings,
            roster,
            here.clone(),
            planned.expected.clone(),
            std::time::SystemTime::now(),
        );
        if let Err(e) = files::write_atomic(path, saved.to_json().as_bytes()) {
            report_error(&format!("cannot write the plan {}: {e}", path.display()));
            return exit_codes::FAILURE;
        }
        if shown {
            print(&format!(
                "plan saved to {}; apply it with `cxskill apply {}`\n",
                path.display(),
                path.display()
            ));
        }
    }
    match job.review(&planned) {
        Review::Done => {
            let report = planned_report(&planned, &client);
            finish(records, global, input, &report, true);
            return job.exit_code(&report, Some(&planned.plan), None);
        }
        Review::Stop(stop) => {
            let report = planned_report(&planned, &client);
            finish(records, global, input, &report, true);
            report_error(&stop.message());
            return job.exit_code(&report, Some(&planned.plan), Some(&stop));
        }
        Review::Ask => {
            if !shown {
                // Never ask about a plan the user has not been shown.
                eprint!(
                    "{}{}",
                    report::drift_human(&planned.drift),
                    report::plan_human(
                        &planned.plan,
                        &planned.expected,
                        list_limit(),
                        colors().stderr
                    )
                );
            }
            if !confirm() {
                let stop = Stop::Declined;
                eprintln!("{}", stop.message());
                return stop.exit_code();
            }
        }
        Review::Proceed => {}
    }
    if let Some(path) = files.snapshot {
        let written = report::snapshot_csv(&planned.plan)
            .map_err(|e| e.to_string())
            .and_then(|bytes| files::write_atomic(path, &bytes).map_err(|e| e.to_string()));
        if let Err(e) = written {
            report_error(&format!(
                "cannot write the snapshot {}: {e}; nothing was sent",
                path.display()
            ));
            return exit_codes::FAILURE;
        }
    }

    let interrupt = Interrupt::new();
    watch_signals(&interrupt);
    let bar = progress(global, planned.writes.len() as u64, "applying");
    let plan = planned.plan.clone();
    let drift = std::mem::take(&mut planned.drift);
    let mut invalid = std::mem::take(&mut planned.invalid);
    let applied = job
        .apply(&client, planned, interrupt, &|p: Progress| {
            bar.update(p.done, p.total);
        })
        .await;
    bar.finish_and_clear();
    let mut rows = applied.rows;
    rows.append(&mut invalid);
    let mut report = RunReport::new(rows, client.counts(), applied.fatal);
    report.interrupted = applied.interrupted;
    report.concurrent_changes = concurrent;
    report.concurrent_changes.extend(applied.concurrent);
    report.warnings = applied.warnings;
    report.drift = drift;
    finish(records, global, input, &report, false);
    if report.interrupted.is_some() {
        eprintln!(
            "interrupted: nothing more was sent; the report was written; re-run the same command to finish"
        );
    }
    job.exit_code(&report, Some(&plan), None)
}

/// The first SIGINT or SIGTERM raises `interrupt` (the engine then winds
/// down); a second one exits at once.
fn watch_signals(interrupt: &Interrupt) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = interrupt.clone();
        let (Ok(mut sigint), Ok(mut sigterm)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::spawn(async move {
            loop {
                let got = tokio::select! {
                    _ = sigint.recv() => Signal::Interrupt,
                    _ = sigterm.recv() => Signal::Terminate,
                };
                if interrupt.trigger(got) {
                    eprintln!("second signal: exiting now");
                    std::process::exit(got.exit_code());
                }
                eprintln!(
                    "{}: sending nothing more; waiting for the requests in flight (a second signal exits at once)",
                    got.name()
                );
            }
        });
    }
    #[cfg(not(unix))]
    {
        let interrupt = interrupt.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if interrupt.trigger(Signal::Interrupt) {
                    std::process::exit(Signal::Interrupt.exit_code());
                }
            }
        });
    }
}

/// How many change lines a plan lists: all of them into a pipe or a file,
/// the first thousand on a terminal.
fn list_limit() -> Option<usize> {
    std::io::stdout().is_terminal().then_some(1_000)
}

/// The run could not go on (authentication, permission, network).
fn fatal(
    records: &ReportArgs,
    global: &Global,
    input: Option<&Input>,
    invalid: Vec<outcome::RowOutcome>,
    client: Option<&Client>,
    error: &ClientError,
) -> i32 {
    report_error(&error);
    let counts = client.map(Client::counts).unwrap_or_default();
    let report = RunReport::new(invalid, counts, Some(error.to_string()));
    finish(records, global, input, &report, false);
    exit_codes::FAILURE
}

/// Renders the report on stdout and writes `--report` and `--failed-rows`.
/// `planned`: a plan or dry run, whose human rendering is the plan itself.
/// `input`: the roster, whose failed rows are quoted as written (a saved
/// plan or a snapshot has none: its rows are written from the report).
fn finish(
    records: &ReportArgs,
    global: &Global,
    input: Option<&Input>,
    report: &RunReport,
    planned: bool,
) {
    // The JSON once, for stdout and `--report` alike.
    let json = (global.output == Output::Json || records.report.is_some())
        .then(|| report::run_json(report));
    match (global.output, &json) {
        (Output::Json, Some(json)) => print(json),
        (Output::Human, _) if !(global.quiet || planned) => print(&report::run_human(report)),
        _ => {}
    }
    if let (Some(path), Some(json)) = (&records.report, &json)
        && let Err(e) = files::write_atomic(path, json.as_bytes())
    {
        report_error(&format!("cannot write the report {}: {e}", path.display()));
    }
    if let Some(path) = &records.failed_rows {
        let written = match input {
            Some(input) => report::failed_rows_csv(input, report),
            None => report::failed_pairs_csv(report),
        }
        .map_err(|e| e.to_string())
        .and_then(|bytes| files::write_atomic(path, &bytes).map_err(|e| e.to_string()));
        if let Err(e) = written {
            report_error(&format!(
                "cannot write the failed rows {}: {e}",
                path.display()
            ));
        }
    }
}

/// Reads the roster (a file under its caps, or stdin), or says why it
/// cannot and gives the exit code.
fn read_input(args: &RosterArgs) -> Result<Input, i32> {
    Input::read_with(&args.roster, args.format, args.read_options()).map_err(|error| {
        report_error(&error);
        exit_codes::INVALID_INPUT
    })
}

/// roster bytes → validated rows, at the levels configured.
fn validate_input(input: &Input, global: &Global) -> Result<Validated, i32> {
    let levels = levels(global).map_err(|error| {
        report_error(&error);
        exit_codes::FAILURE
    })?;
    Ok(validate::validate(roster::parse(input, &levels)))
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
        max_answer_bytes: tenant.max_answer_bytes,
    };
    let effective = Effective::resolve(&flags, &settings::process_env, config(global)?)
        .map_err(|e| e.to_string())?;
    // Problems in the profiles not in use: said once per run, however
    // often the settings are resolved.
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        let in_use = effective.profile.as_ref().map(|p| p.value.as_str());
        for problem in effective.config.problems(in_use) {
            tracing::warn!("{problem}");
        }
    });
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
        max_answer_bytes: None,
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
    // Through discovery, as against a real tenant: only the token URL and
    // the credentials.
    let connection = Connection {
        api_base: None,
        api_version: settings.api_version.value.clone(),
        token_url: sandbox.token_url(),
        credentials: sandbox.client_credentials(),
        connect_timeout: args.connect_timeout,
        request_timeout: args.timeout,
        rate: settings.rate.value,
        concurrency: settings.concurrency.value,
        retry: RetryPolicy::default(),
        max_answer_bytes: settings.max_answer_bytes.value,
    };
    info!(token_url = %connection.token_url, "running against the in-process sandbox tenant");
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
            report_error(&message);
            exit_codes::FAILURE
        }
    }
}

/// `cxskill config init`: a commented config file (or profile) to fill
/// in, and where it was written.
pub fn config_init(global: &Global) -> i32 {
    let profile = global
        .profile
        .clone()
        .filter(|p| !p.is_empty())
        .or_else(|| settings::process_env("CXSKILL_PROFILE").filter(|p| !p.is_empty()))
        .unwrap_or_else(|| config_init::DEFAULT_PROFILE.to_owned());
    match config_init::init(global.config.as_deref(), &profile, &settings::process_env) {
        Ok(done) => {
            match global.output {
                Output::Json => print(&done.json()),
                Output::Human if global.quiet => {}
                Output::Human => print(&done.human()),
            }
            exit_codes::OK
        }
        Err(e) => {
            report_error(&e);
            e.exit_code()
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
                report_error(&message);
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
                report_error(&error);
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

/// `cxskill man [COMMAND...]`: one man page in roff; `--dir DIR`: all of
/// them, as files. From the same clap definitions as the parser.
pub fn man(args: &ManArgs, global: &Global) -> i32 {
    use clap::CommandFactory;
    let Some(dir) = &args.dir else {
        return match cxskill::man::page(Cli::command(), &args.command) {
            Ok(page) => {
                print(&page.roff);
                exit_codes::OK
            }
            Err(message) => {
                report_error(&message);
                exit_codes::INVALID_INPUT
            }
        };
    };
    let pages = cxskill::man::pages(Cli::command());
    let written = std::fs::create_dir_all(dir).and_then(|()| {
        pages
            .iter()
            .try_for_each(|page| std::fs::write(dir.join(page.file_name()), &page.roff))
    });
    if let Err(e) = written {
        report_error(&format!(
            "cannot write the man pages to {}: {e}",
            dir.display()
        ));
        return exit_codes::FAILURE;
    }
    let names: Vec<String> = pages.iter().map(cxskill::man::Page::file_name).collect();
    match global.output {
        Output::Json => print(&format!(
            "{}\n",
            serde_json::json!({"dir": dir.display().to_string(), "pages": names})
        )),
        Output::Human if global.quiet => {}
        Output::Human => print(&format!(
            "wrote {} to {}: {}\n",
            report::plural(pages.len() as u64, "man page", "man pages"),
            dir.display(),
            names.join(", ")
        )),
    }
    exit_codes::OK
}

/// The progress of a long stage, on stderr: a bar at a terminal; off a
/// terminal (cron, a log file) at `-v`, a line at most every 10 s; nothing
/// with --quiet or without -v off a terminal. `total` counts requests
/// (0: nothing is counted; the bar then only shows that the stage runs).
fn progress(global: &Global, total: u64, what: &'static str) -> Meter {
    let shown = meter_kind(
        global.quiet,
        global.verbose,
        std::io::stderr().is_terminal(),
    );
    match shown {
        MeterKind::Bar => Meter::Bar(progress_bar(total, what)),
        MeterKind::Lines => Meter::Lines(Mutex::new(ProgressLine::new(
            what,
            "requests",
            total,
            Instant::now,
        ))),
        MeterKind::Nothing => Meter::Nothing,
    }
}

/// Which progress display a run gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MeterKind {
    Bar,
    Lines,
    Nothing,
}

fn meter_kind(quiet: bool, verbose: u8, stderr_terminal: bool) -> MeterKind {
    match (quiet, stderr_terminal, verbose) {
        (true, _, _) => MeterKind::Nothing,
        (false, true, _) => MeterKind::Bar,
        (false, false, 0) => MeterKind::Nothing,
        (false, false, _) => MeterKind::Lines,
    }
}

/// A stage's progress display; [`Meter::update`] takes `(done, total)`.
enum Meter {
    Bar(ProgressBar),
    Lines(Mutex<ProgressLine<fn() -> Instant>>),
    Nothing,
}

impl Meter {
    fn update(&self, done: u64, total: u64) {
        match self {
            Meter::Bar(bar) => {
                bar.set_length(total);
                bar.set_position(done);
            }
            Meter::Lines(line) => {
                let due = line
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .update(done, total);
                if let Some(line) = due {
                    info!("{line}");
                }
            }
            Meter::Nothing => {}
        }
    }

    fn finish_and_clear(&self) {
        if let Meter::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// The bar: `applying ████░░ 1200/5000 requests  48/s  ETA 1m19s`, the
/// rate in whole numbers; a spinner while nothing is counted.
const BAR_TEMPLATE: &str = "{msg} {bar:30} {pos}/{len} requests  {rate}  ETA {eta}";
const SPINNER_TEMPLATE: &str = "{spinner} {msg} {elapsed}";

fn progress_bar(total: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template = if total == 0 {
        SPINNER_TEMPLATE
    } else {
        BAR_TEMPLATE
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&cxskill::progress::rate(state.per_sec()));
            },
        ));
    }
    if total == 0 {
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
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

/// `cxskill export`: the current assignments as a roster, CSV or JSON.
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
            report_error(&e);
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
                report_error(&message);
                return exit_codes::FAILURE;
            }
        };
        let result = match Client::connect(&connection).await {
            Ok(client) => cxskill::export::export(&client, &agents, &skills).await,
            Err(e) => Err(e.into()),
        };
        if let Some(handle) = sandbox {
            handle.shutdown().await;
        }
        let rows = match result {
            Ok(rows) => rows,
            Err(ExportError::Filter(message)) => {
                report_error(&message);
                return exit_codes::INVALID_INPUT;
            }
            Err(e) => {
                report_error(&e);
                return exit_codes::FAILURE;
            }
        };
        let roster = match global.output {
            Output::Human => report::export_csv(&rows),
            Output::Json => Ok(report::export_json(&rows).into_bytes()),
        };
        let roster = match roster {
            Ok(roster) => roster,
            Err(e) => {
                report_error(&format!("cannot render the roster: {e}"));
                return exit_codes::FAILURE;
            }
        };
        match &args.out {
            Some(path) => {
                if let Err(e) = files::write_atomic(path, &roster) {
                    report_error(&format!("cannot write {}: {e}", path.display()));
                    return exit_codes::FAILURE;
                }
            }
            None => print(&String::from_utf8_lossy(&roster)),
        }
        // What was done, on stdout when it carries nothing else.
        let summary = report::export_summary(&rows, args.out.as_deref());
        match (global.output, &args.out) {
            _ if global.quiet => {}
            (Output::Human, Some(_)) => print(&summary),
            _ => eprint!("{summary}"),
        }
        exit_codes::OK
    })
}

/// `cxskill sandbox`: serves a tenant until Ctrl-C (or SIGTERM), then
/// says what it served.
pub fn sandbox(args: &SandboxArgs, global: &Global) -> i32 {
    let tenant = match &args.tenant {
        Some(path) => match Tenant::load(path) {
            Ok(tenant) => tenant,
            Err(e) => {
                report_error(&e);
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
        string_ids: args.string_ids,
        partial_status: args.partial_status,
        agent_skills_page: usize::try_from(args.agent_skills_page).unwrap_or(usize::MAX),
        retry_after_503: args.retry_after_503,
        no_bulk_endpoints: args.no_bulk_endpoints,
        fail_agents: args.fail_agents.clone(),
        ..SandboxOptions::default()
    };
    let Some(runtime) = runtime() else {
        return exit_codes::FAILURE;
    };
    runtime.block_on(async {
        let handle = match sandbox::start(args.listen, tenant, options).await {
            Ok(handle) => handle,
            Err(e) => {
                report_error(&e);
                return exit_codes::FAILURE;
            }
        };
        // Listening before the banner: whoever reads it may stop the
        // sandbox at once.
        let stop = stop_signal();
        match global.output {
            Output::Json => print(&handle.banner_json()),
            Output::Human => print(&handle.banner()),
        }
        stop.await;
        let summary = format!("sandbox stopped: {}\n", handle.summary());
        handle.shutdown().await;
        // What it did, on stdout after the banner; on stderr when stdout
        // is the one JSON document.
        match global.output {
            _ if global.quiet => {}
            Output::Human => print(&summary),
            Output::Json => eprint!("{summary}"),
        }
        exit_codes::OK
    })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, listening from the moment it
/// is called (tokio's `ctrl_c` would listen only once polled).
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let sigint = signal(SignalKind::interrupt());
        let sigterm = signal(SignalKind::terminate());
        async move {
            match (sigint, sigterm) {
                (Ok(mut sigint), Ok(mut sigterm)) => {
                    tokio::select! {
                        _ = sigint.recv() => {}
                        _ = sigterm.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
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
            report_error(&format!("cannot start the async runtime: {e}"));
            None
        }
    }
}

/// Colour for stdout and stderr, each decided once per run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Colors {
    pub stdout: Palette,
    pub stderr: Palette,
}

static COLORS: OnceLock<Colors> = OnceLock::new();

/// Decides colour once, for the whole run: `--color`, else `NO_COLOR`
/// and `CLICOLOR_FORCE`, else whether each stream is a terminal.
pub fn init_colors(global: &Global) -> Colors {
    *COLORS.get_or_init(|| {
        let decide = |terminal: bool| {
            Palette::new(style::use_color(
                global.color,
                &settings::process_env,
                terminal,
            ))
        };
        Colors {
            stdout: decide(std::io::stdout().is_terminal()),
            stderr: decide(std::io::stderr().is_terminal()),
        }
    })
}

/// The colours decided by [`init_colors`] (none before it).
fn colors() -> Colors {
    COLORS.get().copied().unwrap_or_default()
}

/// `error: MESSAGE` on stderr, red where colour is on, terminal-safe.
fn report_error(message: &dyn std::fmt::Display) {
    let text = report::error_lines(&message.to_string(), colors().stderr);
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

/// Writes to stdout, ignoring a closed pipe (`cxskill ... | head`).
pub fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_a_bar_at_a_terminal_and_lines_off_one_only_at_v() {
        assert_eq!(meter_kind(false, 0, true), MeterKind::Bar);
        assert_eq!(meter_kind(false, 1, false), MeterKind::Lines);
        assert_eq!(meter_kind(false, 3, false), MeterKind::Lines);
        assert_eq!(meter_kind(false, 0, false), MeterKind::Nothing);
        assert_eq!(meter_kind(true, 0, true), MeterKind::Nothing);
    }

    #[test]
    fn the_bar_shows_a_whole_number_rate() {
        assert!(BAR_TEMPLATE.contains("{rate}"), "{BAR_TEMPLATE}");
        assert!(!BAR_TEMPLATE.contains("per_sec"), "{BAR_TEMPLATE}");
        assert!(ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
        assert!(ProgressStyle::with_template(SPINNER_TEMPLATE).is_ok());
    }
}
