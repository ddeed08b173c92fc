//! The cxskill binary: parse the command line, run the pipeline from the
//! library, render the result, exit with a documented code.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, ValueEnum};

use cli::{AuthCommand, Cli, Command, ConfigCommand, Global, LogFormat};
use cxskill::style::ColorWhen;

fn main() -> ExitCode {
    let cli = parse();
    let colors = commands::init_colors(&cli.global);
    init_logging(&cli.global, colors.stderr.is_on());
    let code = match &cli.command {
        Command::Validate(args) => commands::validate(args, &cli.global),
        Command::Plan(args) => commands::plan(args, &cli.global),
        Command::Apply(args) => commands::apply(args, &cli.global),
        Command::Export(args) => commands::export(args, &cli.global),
        Command::Show(args) => commands::show(args, &cli.global),
        Command::Undo(args) => commands::undo(args, &cli.global),
        Command::Sandbox(args) => commands::sandbox(args, &cli.global),
        Command::Config {
            command: ConfigCommand::Show(args),
        } => commands::config_show(args, &cli.global),
        Command::Config {
            command: ConfigCommand::Init,
        } => commands::config_init(&cli.global),
        Command::Auth {
            command: AuthCommand::Check(args),
        } => commands::auth_check(args, &cli.global),
        Command::Completions(args) => commands::completions(args.shell),
        Command::Man(args) => commands::man(args, &cli.global),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}

/// The command line, parsed. clap's own errors and help follow `--color`
/// too: clap reads NO_COLOR, CLICOLOR_FORCE and the terminal itself, but
/// the flag has to be known before parsing to reach them.
fn parse() -> Cli {
    let choice = match color_flag(std::env::args_os().skip(1)) {
        Some(ColorWhen::Always) => clap::ColorChoice::Always,
        Some(ColorWhen::Never) => clap::ColorChoice::Never,
        _ => clap::ColorChoice::Auto,
    };
    let matches = Cli::command().color(choice).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// The last `--color WHEN` or `--color=WHEN` before any `--`.
fn color_flag(args: impl Iterator<Item = std::ffi::OsString>) -> Option<ColorWhen> {
    let mut found = None;
    let mut args = args.map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--" => break,
            "--color" => args.next(),
            _ => arg.strip_prefix("--color=").map(str::to_owned),
        };
        if let Some(value) = value {
            found = ColorWhen::from_str(&value, true).ok().or(found);
        }
    }
    found
}

/// Diagnostics go to stderr; stdout carries only results. They are
/// coloured by the same rule as everything else on stderr.
fn init_logging(global: &Global, color: bool) {
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
        .with_ansi(color)
        .with_target(false);
    match global.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
