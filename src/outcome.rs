//! What happened to every roster row: the data behind the human report,
//! `--output json`, `--report` and `--failed-rows`. Plan and apply produce
//! it; [`crate::report`] renders it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::client::RequestCounts;
use crate::interrupt::Signal;
use crate::model::{State, Target};
use crate::plan::{Action, Pair, Plan, RejectedRow};
use crate::roster::Issue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Written, and the tenant holds what the row asks for: its answer
    /// said so, or a read-back showed it.
    Applied,
    /// Already as the row asks; nothing sent for it.
    Unchanged,
    /// Not in place: the tenant refused it, a read-back showed it is not
    /// there, or it was not sent (with the reason).
    Failed,
    /// Sent, but neither the answer nor a read-back could say whether it
    /// took (with the reason); a re-run settles it.
    Unknown,
    /// The row itself is wrong (bad cell, duplicate, unknown skill).
    Invalid,
    /// Plan or dry run: would be written.
    Planned,
}

/// One roster row's outcome, as in the JSON report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowOutcome {
    /// The roster line; [`crate::plan::PRUNED`] (0, `null` in JSON) for an
    /// assignment `--prune` removes because no line names it.
    #[serde(serialize_with = "line_or_null")]
    pub line: u64,
    pub agent: Option<String>,
    pub skill: Option<u64>,
    /// The proficiency asked for, or `remove`.
    pub proficiency: Option<String>,
    pub action: Option<Action>,
    pub status: Status,
    /// The proficiency before, where the skill was assigned.
    pub from: Option<u8>,
    pub error: Option<String>,
}

impl RowOutcome {
    /// A planned pair with the status it ends up with.
    pub fn of_pair(pair: &Pair, status: Status, error: Option<String>) -> RowOutcome {
        RowOutcome {
            line: pair.line,
            agent: Some(pair.agent.to_string()),
            skill: Some(pair.skill),
            proficiency: Some(target_text(&pair.target)),
            action: Some(pair.action),
            status,
            from: pair.before.map(|s| s.proficiency),
            error,
        }
    }

    pub fn of_rejected(rejected: &RejectedRow) -> RowOutcome {
        RowOutcome {
            line: rejected.row.line,
            agent: Some(rejected.row.agent.to_string()),
            skill: Some(rejected.row.skill.get()),
            proficiency: Some(target_text(&rejected.row.target)),
            action: None,
            status: if rejected.invalid {
                Status::Invalid
            } else {
                Status::Failed
            },
            from: None,
            error: Some(rejected.error.clone()),
        }
    }
}

fn line_or_null<S: serde::Serializer>(line: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    if *line == crate::plan::PRUNED {
        serializer.serialize_none()
    } else {
        serializer.serialize_u64(*line)
    }
}

pub fn target_text(target: &Target) -> String {
    match target {
        Target::Remove => "remove".to_owned(),
        Target::Set { proficiency, .. } => proficiency.to_string(),
    }
}

/// Roster errors, one outcome per line (a line with several bad cells
/// gets them all in one message), in line order. Validated errors come
/// sorted by line, so they are grouped where they lie, without a copy of
/// every message.
pub fn invalid_rows(errors: &[Issue]) -> Vec<RowOutcome> {
    let mut order: Vec<&Issue> = errors.iter().collect();
    if !order.is_sorted_by_key(|issue| issue.line) {
        order.sort_by_key(|issue| issue.line);
    }
    order
        .chunk_by(|a, b| a.line == b.line)
        .map(|group| {
            let mut error = String::new();
            for (i, issue) in group.iter().enumerate() {
                if i > 0 {
                    error.push_str("; ");
                }
                let _ = match (&issue.column, &issue.value) {
                    (Some(column), Some(value)) => {
                        write!(error, "{column} `{value}`: {}", issue.message)
                    }
                    (Some(column), None) => write!(error, "{column}: {}", issue.message),
                    _ => write!(error, "{}", issue.message),
                };
            }
            RowOutcome {
                line: group[0].line,
                agent: None,
                skill: None,
                proficiency: None,
                action: None,
                status: Status::Invalid,
                from: None,
                error: Some(error),
            }
        })
        .collect()
}

/// The outcome of a plan (or dry run) before anything is written.
pub fn planned_rows(plan: &Plan) -> Vec<RowOutcome> {
    let mut rows: Vec<RowOutcome> = plan
        .pairs
        .iter()
        .map(|p| {
            let status = match p.action {
                Action::Unchanged => Status::Unchanged,
                _ => Status::Planned,
            };
            RowOutcome::of_pair(p, status, None)
        })
        .collect();
    rows.extend(plan.rejected.iter().map(RowOutcome::of_rejected));
    rows
}

/// An assignment outside the roster that a read during the run found
/// changed by someone else. It was kept (never reverted); the report says
/// so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConcurrentChange {
    pub agent: u64,
    pub skill: u64,
    pub before: Option<State>,
    pub after: Option<State>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub rows: u64,
    pub applied: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub unknown: u64,
    pub invalid: u64,
    /// Planned (plan and dry run only).
    #[serde(skip_serializing_if = "is_zero")]
    pub planned: u64,
    pub requests: RequestCounts,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The report of a run: `{"summary": {...}, "rows": [...]}`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub summary: Summary,
    pub rows: Vec<RowOutcome>,
    /// Why the run stopped early (authentication, permission, a tenant
    /// that stopped answering, an upsert that replaces); `None` when it ran
    /// to the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fatal: Option<String>,
    /// The signal that interrupted the run (`SIGINT`, `SIGTERM`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Signal>,
    /// Assignments outside the roster that someone else changed during the
    /// run; each was kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub concurrent_changes: Vec<ConcurrentChange>,
    /// What the run had to say beyond the rows (a fallback to per-agent
    /// writes, an assignment refused in a full set).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Plan and dry run: the requests `apply` would send, by endpoint.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub expected_requests: BTreeMap<String, u64>,
    /// A saved plan or an undo: the pairs someone changed since.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<crate::planfile::Drift>,
}

impl RunReport {
    /// Sorts rows by line and counts them.
    pub fn new(
        mut rows: Vec<RowOutcome>,
        requests: RequestCounts,
        fatal: Option<String>,
    ) -> RunReport {
        rows.sort_by_key(|r| r.line);
        let mut summary = Summary {
            rows: rows.len() as u64,
            requests,
            ..Summary::default()
        };
        for row in &rows {
            match row.status {
                Status::Applied => summary.applied += 1,
                Status::Unchanged => summary.unchanged += 1,
                Status::Failed => summary.failed += 1,
                Status::Unknown => summary.unknown += 1,
                Status::Invalid => summary.invalid += 1,
                Status::Planned => summary.planned += 1,
            }
        }
        RunReport {
            summary,
            rows,
            fatal,
            ..RunReport::default()
        }
    }

    /// Rows a re-run must look at again: failed, unknown or invalid.
    pub fn is_unsettled(row: &RowOutcome) -> bool {
        matches!(
            row.status,
            Status::Failed | Status::Unknown | Status::Invalid
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(line: u64, column: Option<&str>, value: Option<&str>, message: &str) -> Issue {
        Issue {
            line,
            column: column.map(str::to_owned),
            value: value.map(str::to_owned),
            message: message.to_owned(),
        }
    }

    #[test]
    fn invalid_rows_are_one_per_line_in_line_order_with_every_message() {
        let rows = invalid_rows(&[
            issue(4, None, None, "conflict"),
            issue(2, Some("agent"), Some("x"), "bad agent"),
            issue(2, Some("skill"), None, "missing"),
            issue(0, None, None, "the file"),
        ]);
        let got: Vec<(u64, &str)> = rows
            .iter()
            .map(|r| (r.line, r.error.as_deref().unwrap_or_default()))
            .collect();
        assert_eq!(
            got,
            [
                (0, "the file"),
                (2, "agent `x`: bad agent; skill: missing"),
                (4, "conflict")
            ]
        );
        assert!(rows.iter().all(|r| r.status == Status::Invalid));
    }
}
