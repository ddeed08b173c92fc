//! Stage 5: rendering. Library code returns values; this module alone turns
//! them into text for people or JSON for machines.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use crate::model::State;
use crate::outcome::{RowOutcome, RunReport, Status};
use crate::plan::{Action, PRUNED, Pair, Plan};
use crate::roster::{self, Column, Input};
use crate::validate::Summary;

/// At most this many rows per group in the human report; the JSON report
/// always has them all.
const HUMAN_LIST_LIMIT: usize = 50;

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Output {
    /// Text for a person at a terminal.
    #[default]
    Human,
    /// One JSON document, for scripts and cron.
    Json,
}

/// `1204` → `1,204`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 row`, `2 rows`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// The human rendering of `cxskill validate`: one summary line, then the
/// errors and warnings, one per line, each with its line number.
pub fn validate_human(summary: &Summary) -> String {
    let mut out = String::new();
    let counts = format!(
        "{}, {}, {}",
        plural(summary.rows, "row", "rows"),
        plural(summary.agents, "agent", "agents"),
        plural(summary.skills, "skill", "skills")
    );
    if summary.valid {
        let _ = writeln!(out, "{counts}: valid");
    } else {
        let _ = writeln!(
            out,
            "{}: {} in {}; nothing was sent",
            summary.source,
            plural(summary.errors.len() as u64, "error", "errors"),
            plural(summary.rows, "row", "rows"),
        );
        for issue in &summary.errors {
            let _ = writeln!(out, "  error: {}: {issue}", summary.source);
        }
    }
    for issue in &summary.warnings {
        let _ = writeln!(out, "  warning: {}: {issue}", summary.source);
    }
    out
}

/// The JSON document of `cxskill validate --output json`.
pub fn validate_json(summary: &Summary) -> String {
    let mut text = serde_json::to_string_pretty(summary).unwrap_or_else(|e| {
        format!("{{\"valid\": false, \"errors\": [{{\"message\": \"cannot render: {e}\"}}]}}")
    });
    text.push('\n');
    text
}

/// The plan as Terraform shows one: per agent with changes, `+` add, `~`
/// change (old → new), `-` remove; then the rows that will not be sent;
/// then the requests apply would send, by endpoint, and the one-line
/// summary. At most `limit` change lines are listed (the rest are counted;
/// `--output json` has them all).
pub fn plan_human(plan: &Plan, expected: &BTreeMap<String, u64>, limit: Option<usize>) -> String {
    let mut out = String::new();
    let mut order: Vec<u64> = Vec::new();
    let mut by_agent: HashMap<u64, Vec<&Pair>> = HashMap::new();
    for pair in plan.pairs.iter().filter(|p| p.changes()) {
        by_agent
            .entry(pair.agent)
            .or_insert_with(|| {
                order.push(pair.agent);
                Vec::new()
            })
            .push(pair);
    }
    let limit = limit.unwrap_or(usize::MAX);
    let mut shown = 0usize;
    let mut hidden = 0usize;
    for agent in order {
        let pairs = &by_agent[&agent];
        if shown >= limit {
            hidden += pairs.len();
            continue;
        }
        let _ = writeln!(out, "agent {agent}");
        for pair in pairs {
            if shown >= limit {
                hidden += 1;
                continue;
            }
            shown += 1;
            let _ = writeln!(out, "  {}", plan_line(plan, pair));
        }
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "  ... and {} more changes (all of them are in --output json and --report FILE)",
            thousands(hidden as u64)
        );
    }
    if !plan.rejected.is_empty() {
        let _ = writeln!(out, "will not be sent:");
        let mut rejected: Vec<_> = plan.rejected.iter().collect();
        rejected.sort_by_key(|r| r.row.line);
        for r in rejected.iter().take(limit) {
            let kind = if r.invalid { "invalid" } else { "failed" };
            let _ = writeln!(out, "  line {}: {kind}: {}", r.row.line, r.error);
        }
        if rejected.len() > limit {
            let _ = writeln!(
                out,
                "  ... and {} more",
                thousands((rejected.len() - limit) as u64)
            );
        }
    }
    let total: u64 = expected.values().sum();
    if !expected.is_empty() {
        let _ = writeln!(out, "requests: {}", endpoint_list(expected));
    }
    let counts = plan.counts();
    let _ = writeln!(
        out,
        "{} to add, {} to change, {} to remove, {} unchanged; {}",
        thousands(counts.add),
        thousands(counts.change),
        thousands(counts.remove),
        thousands(counts.unchanged),
        plural(total, "request", "requests"),
    );
    out
}

/// `1 GET /skills/agents, 2 POST /agents/skills`.
pub fn endpoint_list(counts: &BTreeMap<String, u64>) -> String {
    // Reads first, then writes in the order they go.
    let rank = |endpoint: &str| match endpoint.split(' ').next() {
        Some("GET") => 0,
        Some("POST") => 1,
        Some("DELETE") => 2,
        Some("PUT") => 3,
        _ => 4,
    };
    let mut entries: Vec<(&String, &u64)> = counts.iter().filter(|(_, n)| **n > 0).collect();
    entries.sort_by_key(|(endpoint, _)| rank(endpoint));
    entries
        .iter()
        .map(|(endpoint, n)| format!("{} {endpoint}", thousands(**n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `+ 112233 Billing EN  5`, `~ 445566 Sales  7 → 3`,
/// `- 778899 Chat FR  (was 4)`.
fn plan_line(plan: &Plan, pair: &Pair) -> String {
    let skill = pair.skill;
    let name = plan
        .skill_names
        .get(&skill)
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    let flag = |s: &State| if s.active { "active" } else { "inactive" };
    match (pair.action, pair.before, pair.after) {
        (Action::Add, _, Some(to)) => {
            let inactive = if to.active { "" } else { " (inactive)" };
            format!("+ {skill}{name}  {}{inactive}", to.proficiency)
        }
        (Action::Change, Some(from), Some(to)) => {
            let mut text = format!("~ {skill}{name}  ");
            if from.proficiency == to.proficiency {
                let _ = write!(text, "{}", to.proficiency);
            } else {
                let _ = write!(text, "{} → {}", from.proficiency, to.proficiency);
            }
            if from.active != to.active {
                let _ = write!(text, "  ({} → {})", flag(&from), flag(&to));
            }
            text
        }
        (Action::Remove, Some(from), _) => {
            let why = if pair.line == PRUNED {
                "  (not in the roster: --prune)"
            } else {
                ""
            };
            format!("- {skill}{name}  (was {}){why}", from.proficiency)
        }
        _ => format!("  {skill}{name}"),
    }
}

/// The human report of an apply: applied, failed, unknown and invalid
/// rows (each with its line and the reason), concurrent changes and
/// warnings, then what happened in one line and the requests it took.
pub fn run_human(report: &RunReport) -> String {
    let mut out = String::new();
    let group = |out: &mut String, status: Status, title: &str| {
        let rows: Vec<&RowOutcome> = report.rows.iter().filter(|r| r.status == status).collect();
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(out, "{title} ({}):", thousands(rows.len() as u64));
        for row in rows.iter().take(HUMAN_LIST_LIMIT) {
            let _ = writeln!(out, "  {}", outcome_line(row));
        }
        if rows.len() > HUMAN_LIST_LIMIT {
            let _ = writeln!(
                out,
                "  ... and {} more (all rows are in --report FILE or --output json)",
                thousands((rows.len() - HUMAN_LIST_LIMIT) as u64)
            );
        }
    };
    group(&mut out, Status::Applied, "applied");
    group(&mut out, Status::Failed, "failed");
    group(
        &mut out,
        Status::Unknown,
        "unknown (sent, not settled: re-run to settle)",
    );
    group(&mut out, Status::Invalid, "invalid");
    if !report.concurrent_changes.is_empty() {
        let _ = writeln!(
            out,
            "concurrent changes by someone else, kept ({}):",
            thousands(report.concurrent_changes.len() as u64)
        );
        for change in report.concurrent_changes.iter().take(HUMAN_LIST_LIMIT) {
            let _ = writeln!(
                out,
                "  agent {} skill {}: {} → {}",
                change.agent,
                change.skill,
                state_text(change.before),
                state_text(change.after)
            );
        }
    }
    for warning in report.warnings.iter().take(HUMAN_LIST_LIMIT) {
        let _ = writeln!(out, "warning: {warning}");
    }
    let s = &report.summary;
    let r = &s.requests;
    if let Some(signal) = &report.interrupted {
        let _ = writeln!(
            out,
            "interrupted by {signal}: no write was sent after it; re-run the same command to finish"
        );
    }
    if let Some(fatal) = &report.fatal {
        let _ = writeln!(out, "stopped: {fatal}");
    }
    let _ = writeln!(
        out,
        "{} applied, {} unchanged, {} failed, {} unknown, {} invalid",
        thousands(s.applied),
        thousands(s.unchanged),
        thousands(s.failed),
        thousands(s.unknown),
        thousands(s.invalid),
    );
    let _ = writeln!(
        out,
        "requests: {} ({}); {} retried, {} throttled",
        thousands(r.total()),
        endpoint_list(&r.by_endpoint),
        thousands(r.retries),
        thousands(r.throttled),
    );
    out
}

fn state_text(state: Option<State>) -> String {
    match state {
        Some(state) => state.to_string(),
        None => "not assigned".to_owned(),
    }
}

fn outcome_line(row: &RowOutcome) -> String {
    let mut text = if row.line == crate::plan::PRUNED {
        "not in the roster (--prune):".to_owned()
    } else {
        format!("line {}:", row.line)
    };
    if let (Some(agent), Some(skill)) = (&row.agent, row.skill) {
        let _ = write!(text, " agent {agent} skill {skill}");
        match (row.action, row.from, &row.proficiency) {
            (Some(Action::Remove), _, _) => text.push_str(" remove"),
            (Some(_), Some(from), Some(to)) if from.to_string() != *to => {
                let _ = write!(text, " {from} → {to}");
            }
            (_, _, Some(to)) => {
                let _ = write!(text, " {to}");
            }
            _ => {}
        }
    }
    if let Some(error) = &row.error {
        let _ = write!(text, ": {error}");
    }
    text
}

/// The JSON report: `{"summary": {...}, "rows": [...]}`.
pub fn run_json(report: &RunReport) -> String {
    let mut text = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot render the report: {e}\"}}"));
    text.push('\n');
    text
}

/// The failed and invalid rows as CSV with their original columns plus
/// `error`, ready to fix and run again.
pub fn failed_rows_csv(input: &Input, report: &RunReport) -> Result<Vec<u8>, csv::Error> {
    let failed: Vec<&RowOutcome> = report
        .rows
        .iter()
        .filter(|r| RunReport::is_unsettled(r))
        .collect();
    let wanted: HashSet<u64> = failed.iter().map(|r| r.line).collect();
    let original = roster::original_rows(input, &wanted);
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = original.header.clone();
    header.push("error".to_owned());
    writer.write_record(&header)?;
    for (line, cells) in &original.rows {
        let errors: Vec<&str> = failed
            .iter()
            .filter(|r| r.line == *line)
            .filter_map(|r| r.error.as_deref())
            .collect();
        let mut record = cells.clone();
        record.resize(original.header.len(), String::new());
        record.push(format!("line {line}: {}", errors.join("; ")));
        writer.write_record(&record)?;
    }
    // Removals `--prune` made up have no line to quote: write them as
    // `remove` rows in the roster's own columns.
    let at = |column| original.position(column);
    for row in failed.iter().filter(|r| r.line == PRUNED) {
        let (Some(agent), Some(skill), Some(proficiency)) = (
            at(Column::Agent),
            at(Column::Skill),
            at(Column::Proficiency),
        ) else {
            continue;
        };
        let mut record = vec![String::new(); original.header.len()];
        record[agent] = row.agent.clone().unwrap_or_default();
        record[skill] = row.skill.map(|s| s.to_string()).unwrap_or_default();
        record[proficiency] = "remove".to_owned();
        record.push(format!(
            "not in the roster (--prune): {}",
            row.error.as_deref().unwrap_or_default()
        ));
        writer.write_record(&record)?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// The prior state of every assignment the plan will touch, as a roster
/// that `cxskill apply` accepts: a changed or removed assignment at its old
/// proficiency and flag, an added one as `remove`. Applying it undoes the
/// run.
pub fn snapshot_csv(plan: &Plan) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["agent", "skill", "proficiency", "active", "skill_name"])?;
    for pair in plan.pairs.iter().filter(|p| p.changes()) {
        let name = plan
            .skill_names
            .get(&pair.skill)
            .map(String::as_str)
            .unwrap_or("");
        let (proficiency, active) = match pair.before {
            None => ("remove".to_owned(), String::new()),
            Some(from) => (from.proficiency.to_string(), from.active.to_string()),
        };
        writer.write_record([
            pair.agent.to_string(),
            pair.skill.to_string(),
            proficiency,
            active,
            name.to_owned(),
        ])?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// `cxskill export` as a roster CSV: `agent,skill,proficiency,active`
/// plus the informational `agent_name` and `skill_name`.
pub fn export_csv(rows: &[crate::export::ExportRow]) -> Result<Vec<u8>, csv::Error> {
    // The header by hand, so an empty export is still a valid roster.
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    writer.write_record([
        "agent",
        "skill",
        "proficiency",
        "active",
        "agent_name",
        "skill_name",
    ])?;
    for row in rows {
        writer.serialize(row)?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
