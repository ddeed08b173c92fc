//! cxskill: bulk-update agent skill proficiencies in NICE CXone without
//! wiping anything.
//!
//! The pipeline, one module per stage:
//! **roster → validated rows → plan (diff against the tenant) → requests →
//! report.**
//!
//! - [`model`] holds the domain types a row is made of, valid by
//!   construction.
//! - [`wire`] holds the JSON shapes of the CXone Admin API, shared by the
//!   client and the [`sandbox`] tenant.
//! - [`exit_codes`] is the contract with scripts and cron jobs.

pub mod apply;
pub mod auth;
pub mod client;
pub mod config;
pub mod exit_codes;
pub mod export;
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
