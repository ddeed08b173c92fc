//! The cxskill binary: parse the command line, run the pipeline from the
//! library, render the result, exit with a documented code.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, Global, RosterArgs};
use cxskill::report::{self, Output};
use cxskill::{exit_codes, roster, validate};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.global);
    let code = match &cli.command {
        Command::Validate(args) => validate_cmd(args, &cli.global),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}

/// Diagnostics go to stderr; stdout carries only results.
fn init_logging(global: &Global) {
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    // Our own crate at the chosen level; dependencies stay at warn so that
    // nothing they log at debug (headers, bodies) can reach the terminal.
    let filter = tracing_subscriber::EnvFilter::new(format!("warn,cxskill={level}"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// `cxskill validate`: roster → validated rows → summary.
fn validate_cmd(args: &RosterArgs, global: &Global) -> i32 {
    let input = match roster::Input::read(&args.roster, args.format) {
        Ok(input) => input,
        Err(error) => {
            eprintln!("error: {error}");
            return exit_codes::INVALID_INPUT;
        }
    };
    let validated = validate::validate(roster::parse(&input));
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

/// Writes to stdout, ignoring a closed pipe (`cxskill ... | head`).
fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}
