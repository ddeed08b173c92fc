//! cxskill: bulk-update agent skill proficiencies in NICE CXone without
//! wiping anything.
//!
//! The pipeline, one module per stage:
//! **roster → validated rows → plan (diff against the tenant) → requests →
//! report.**
//!
//! - [`roster`] reads CSV or JSON into typed rows, every error with its
//!   file, line and column; [`model`] holds the types a row is made of,
//!   valid by construction.
//! - [`validate`] checks the rows as a set (duplicates) and counts them.
//! - [`resolve`] turns e-mail addresses and skill names into CXone ids.
//! - [`plan`] diffs the rows against the tenant and lists the requests
//!   that converge it; [`apply`] sends them, reads back what is uncertain
//!   and judges every row.
//! - [`outcome`] is what happened to each row; [`report`] renders it (and
//!   the plan, the failed rows, the snapshot, the export); [`files`]
//!   writes the files a run leaves behind, atomically.
//! - [`client`] talks to the Admin API ([`wire`] holds its JSON shapes,
//!   shared with the [`sandbox`] tenant); [`settings`] and [`config`] say
//!   where the tenant is and who we are; [`auth`] checks that;
//!   [`export`] reads the tenant back as a roster.
//! - [`exit_codes`] is the contract with scripts and cron jobs.

pub mod apply;
pub mod auth;
pub mod client;
pub mod config;
pub mod exit_codes;
pub mod export;
pub mod files;
pub mod model;
pub mod outcome;
pub mod plan;
pub mod report;
pub mod resolve;
pub mod roster;
pub mod sandbox;
pub mod secret;
pub mod settings;
pub mod validate;
pub mod wire;
