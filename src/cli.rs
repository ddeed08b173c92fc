//! The whole command line, as clap-derive structs. Everything else receives
//! plain typed values from here, never `ArgMatches`.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use cxskill::exit_codes;
use cxskill::report::Output;
use cxskill::roster::Format;

/// Bulk-update agent skill proficiencies in NICE CXone, without wiping
/// anything.
///
/// Reads a roster (CSV or JSON: agent, skill, proficiency), validates every
/// row before anything is sent, and converges the tenant to it.
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
    /// Print results as text for a person or as one JSON document.
    #[arg(long, value_enum, default_value_t = Output::Human, global = true)]
    pub output: Output,

    /// More diagnostics on stderr: -v for progress, -vv for every request.
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a roster offline: every row, every column; nothing is sent.
    Validate(RosterArgs),
}

/// The roster to read.
#[derive(Debug, Args)]
pub struct RosterArgs {
    /// Roster file (CSV or JSON), or `-` for stdin (CSV unless --format).
    pub roster: PathBuf,

    /// Roster format [default: from the extension; `.json` is JSON, others
    /// and stdin are CSV].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}
