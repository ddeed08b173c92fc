//! The cxskill binary: parse the command line, run the pipeline from the
//! library, render the result, exit with a documented code.

mod cli;
mod commands;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use cli::{AuthCommand, Cli, Command, ConfigCommand, Global, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.global);
    let code = match &cli.command {
        Command::Validate(args) => commands::validate(args, &cli.global),
        Command::Plan(args) => commands::plan(args, &cli.global),
        Command::Apply(args) => commands::apply(args, &cli.global),
        Command::Export(args) => commands::export(args, &cli.global),
        Command::Show(args) => commands::show(args, &cli.global),
        Command::Undo(args) => commands::undo(args, &cli.global),
        Command::Sandbox(args) => commands::sandbox(args),
        Command::Config {
            command: ConfigCommand::Show(args),
        } => commands::config_show(args, &cli.global),
        Command::Auth {
            command: AuthCommand::Check(args),
        } => commands::auth_check(args, &cli.global),
        Command::Completions(args) => commands::completions(args.shell),
        Command::Man => commands::man(),
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    match global.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
