//! cxskill: bulk-update agent skill proficiencies in NICE CXone without
//! wiping anything.
//!
//! The pipeline, one module per stage:
//! **roster → rows → diff → requests → outcomes → report.**
//!
//! - [`roster`] reads CSV or JSON into typed rows, every error with its
//!   file, line and column; [`model`] holds the types a row is made of,
//!   valid by construction.
//! - [`validate`] checks the rows as a set (duplicates) and counts them.
//! - [`resolve`] turns e-mail addresses, userIds and skill names into
//!   CXone ids.
//! - [`read`] reads the tenant in the fewest requests the diff needs;
//!   [`plan`] is the diff, a pure function of rows and reads.
//! - [`requests`] chooses the writes that carry the diff out (the bulk
//!   upsert, per-agent writes, removals by the minimum [`cover`]).
//! - [`apply`] sends them, maps every answer row back to its pair, reads
//!   back what the answers leave open, and judges every row; [`outcome`]
//!   is what happened; [`report`] renders it (and the plan, the failed
//!   rows, the snapshot, the export).
//! - [`job`] describes one run and holds its policy (invalid rows, the
//!   removal guard, confirmation, exit codes): the binary builds it, asks
//!   at the terminal if it must, and renders.
//! - [`client`] talks to the Admin API ([`wire`] holds its JSON shapes;
//!   the [`sandbox`] tenant has its own, strict); [`settings`] and
//!   [`config`] say where the tenant is and who we are ([`config_init`]
//!   writes a config file to fill in); [`auth`] checks
//!   that; [`export`] reads the tenant back as a roster; [`files`]
//!   writes the files a run leaves behind, atomically; [`interrupt`]
//!   carries Ctrl-C and SIGTERM to the engine; [`secret`] keeps secrets
//!   out of every output; [`progress`] is the throttled progress line
//!   of long unattended runs; [`style`] decides colour and holds the palette
//!   the renderings paint with.
//! - [`exit_codes`] is the contract with scripts and cron jobs; [`man`]
//!   writes the man pages from the clap definitions, the environment
//!   list, the config keys and the exit codes.

pub mod apply;
pub mod auth;
pub mod client;
pub mod config;
pub mod config_init;
pub mod cover;
pub mod exit_codes;
pub mod export;
pub mod files;
pub mod interrupt;
pub mod job;
pub mod man;
pub mod model;
pub mod outcome;
pub mod plan;
pub mod planfile;
pub mod progress;
pub mod read;
pub mod report;
pub mod requests;
pub mod resolve;
pub mod roster;
pub mod sandbox;
pub mod secret;
pub mod settings;
pub mod snapshot;
pub mod style;
pub mod time;
pub mod validate;
pub mod wire;
