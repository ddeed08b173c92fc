//! Stage 5: rendering. Library code returns values; this module alone turns
//! them into text for people or JSON for machines.
//!
//! Roster cells and the tenant's names and messages are untrusted text.
//! In human output every line goes through [`terminal_safe`], so an escape
//! sequence or a bidi override is shown, not obeyed; in every CSV cxskill
//! writes, every cell goes through [`csv_safe`], so a spreadsheet shows a
//! formula as text instead of running it. Lists on a terminal are capped
//! at [`HUMAN_LIST_LIMIT`] items; the JSON renderings have everything.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use crate::model::State;
use crate::outcome::{RowOutcome, RunReport, Status};
use crate::plan::{Action, PRUNED, Pair, Plan};
use crate::roster::{self, Column, Input};
use crate::style::{Paint, Palette};
use crate::validate::Summary;

/// At most this many rows per group in the human report; the JSON report
/// always has them all.
pub const HUMAN_LIST_LIMIT: usize = 50;

/// Text made safe to print on a terminal: control characters (C0 such as
/// ESC and NUL, DEL, C1) and the bidirectional controls that reorder what
/// is shown (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C) are
/// written as `\u{1b}`. Borrowed when there is nothing to escape.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c.is_control()
            || matches!(
                c,
                '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            )
    }
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A CSV cell that a spreadsheet will not run as a formula: a cell that
/// begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
/// leading `'` (the usual neutralisation, which spreadsheets show as
/// text). A cell that already begins with `'` gets one more, so that the
/// roster reader, which strips one leading `'`, reads back exactly what
/// was written.
pub fn csv_safe(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\'') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// Writes one CSV record with every cell made [`csv_safe`].
fn write_safe<I, S>(writer: &mut csv::Writer<Vec<u8>>, cells: I) -> Result<(), csv::Error>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    for cell in cells {
        writer.write_field(csv_safe(cell.as_ref()).as_bytes())?;
    }
    writer.write_record(None::<&[u8]>)
}

/// Appends one line of human output, made [`terminal_safe`].
fn push_line(out: &mut String, line: &str) {
    out.push_str(&terminal_safe(line));
    out.push('\n');
}

/// Appends one line of human output, made [`terminal_safe`], then
/// painted: the palette's sequences are the only ones that reach the
/// terminal.
fn push_painted(out: &mut String, line: &str, palette: Palette, paint: Paint) {
    out.push_str(&palette.paint(paint, &terminal_safe(line)));
    out.push('\n');
}

/// An error for stderr: `error: MESSAGE`, one line per line of the
/// message, each [`terminal_safe`] and painted red when the palette says
/// so.
pub fn error_lines(message: &str, palette: Palette) -> String {
    let mut out = String::new();
    for (i, line) in message.lines().enumerate() {
        let line = if i == 0 {
            format!("error: {line}")
        } else {
            line.to_owned()
        };
        push_painted(&mut out, &line, palette, Paint::Error);
    }
    if out.is_empty() {
        push_painted(&mut out, "error:", palette, Paint::Error);
    }
    out
}

/// Appends at most [`HUMAN_LIST_LIMIT`] lines of a list, then how many
/// more there are and where to find them all.
fn push_capped<T>(
    out: &mut String,
    items: impl ExactSizeIterator<Item = T>,
    line: impl Fn(T) -> String,
    rest: &str,
) {
    let total = items.len();
    for item in items.take(HUMAN_LIST_LIMIT) {
        push_line(out, &line(item));
    }
    if total > HUMAN_LIST_LIMIT {
        push_line(
            out,
            &format!(
                "  … and {} more ({rest})",
                thousands((total - HUMAN_LIST_LIMIT) as u64)
            ),
        );
    }
}

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

/// The human rendering of `cxskill validate`: the errors and warnings,
/// one per line, each with its line number (at most [`HUMAN_LIST_LIMIT`]
/// of each; `--output json` has them all), then one summary line, last,
/// where the eye lands: `25 rows, 12 agents, 6 skills: valid` or
/// `r.csv: 9 errors in 11 rows; nothing was sent`.
pub fn validate_human(summary: &Summary<'_>) -> String {
    let mut out = String::new();
    let source = &summary.source;
    if !summary.valid {
        push_capped(
            &mut out,
            summary.errors.iter(),
            |issue| format!("  error: {source}: {issue}"),
            "all of them with --output json",
        );
    }
    push_capped(
        &mut out,
        summary.warnings.iter(),
        |issue| format!("  warning: {source}: {issue}"),
        "all of them with --output json",
    );
    let warnings = if summary.warnings.is_empty() {
        String::new()
    } else {
        format!(
            "; {}",
            plural(summary.warnings.len() as u64, "warning", "warnings")
        )
    };
    if summary.valid {
        push_line(
            &mut out,
            &format!(
                "{}, {}, {}: valid{warnings}",
                plural(summary.rows, "row", "rows"),
                plural(summary.agents, "agent", "agents"),
                plural(summary.skills, "skill", "skills")
            ),
        );
    } else {
        push_line(
            &mut out,
            &format!(
                "{source}: {} in {}{warnings}; nothing was sent",
                plural(summary.errors.len() as u64, "error", "errors"),
                plural(summary.rows, "row", "rows"),
            ),
        );
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
/// `--output json` has them all). With a colour palette, `+` lines are
/// green, `~` yellow and `-` red.
pub fn plan_human(
    plan: &Plan,
    expected: &BTreeMap<String, u64>,
    limit: Option<usize>,
    palette: Palette,
) -> String {
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
        push_line(&mut out, &format!("agent {agent}"));
        for pair in pairs {
            if shown >= limit {
                hidden += 1;
                continue;
            }
            shown += 1;
            let line = plan_line(plan, pair);
            out.push_str("  ");
            match pair.action {
                Action::Add => push_painted(&mut out, &line, palette, Paint::Add),
                Action::Change => push_painted(&mut out, &line, palette, Paint::Change),
                Action::Remove => push_painted(&mut out, &line, palette, Paint::Remove),
                Action::Unchanged => push_line(&mut out, &line),
            }
        }
    }
    if hidden > 0 {
        push_line(
            &mut out,
            &format!(
                "  … and {} more changes (all of them are in --output json and --report FILE)",
                thousands(hidden as u64)
            ),
        );
    }
    if !plan.rejected.is_empty() {
        push_line(&mut out, "will not be sent:");
        let mut rejected: Vec<_> = plan.rejected.iter().collect();
        rejected.sort_by_key(|r| r.row.line);
        push_capped(
            &mut out,
            rejected.into_iter(),
            |r| {
                let kind = if r.invalid { "invalid" } else { "failed" };
                format!("  line {}: {kind}: {}", r.row.line, r.error)
            },
            "all rows are in --report FILE or --output json",
        );
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

/// The pairs of a saved plan (or a snapshot) that someone changed since:
/// what was expected, what the tenant holds now. Empty without drift.
pub fn drift_human(drift: &[crate::planfile::Drift]) -> String {
    let mut out = String::new();
    if drift.is_empty() {
        return out;
    }
    push_line(
        &mut out,
        &format!("changed since (drift, {}):", thousands(drift.len() as u64)),
    );
    push_capped(
        &mut out,
        drift.iter(),
        |d| {
            let line = if d.line == PRUNED {
                String::new()
            } else {
                format!("line {}: ", d.line)
            };
            format!(
                "  {line}agent {} skill {}: expected {}, the tenant holds {}",
                d.agent,
                d.skill,
                state_text(d.planned),
                state_text(d.now)
            )
        },
        "all of them are in --report FILE or --output json",
    );
    out
}

/// `1 GET /skills/agents, 2 POST /agents/skills`: reads first, then the
/// writes in the order they go.
pub fn endpoint_list(counts: &BTreeMap<String, u64>) -> String {
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
/// warnings, then what happened in one line (`nothing was written` when
/// no write was sent and no row applied, never `0 applied`) and the
/// requests it took.
pub fn run_human(report: &RunReport) -> String {
    let mut out = String::new();
    let group = |out: &mut String, status: Status, title: &str| {
        let rows: Vec<&RowOutcome> = report.rows.iter().filter(|r| r.status == status).collect();
        if rows.is_empty() {
            return;
        }
        push_line(out, &format!("{title} ({}):", thousands(rows.len() as u64)));
        push_capped(
            out,
            rows.into_iter(),
            |row| format!("  {}", outcome_line(row)),
            "all rows are in --report FILE or --output json",
        );
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
        push_line(
            &mut out,
            &format!(
                "concurrent changes by someone else, kept ({}):",
                thousands(report.concurrent_changes.len() as u64)
            ),
        );
        push_capped(
            &mut out,
            report.concurrent_changes.iter(),
            |change| {
                format!(
                    "  agent {} skill {}: {} → {}",
                    change.agent,
                    change.skill,
                    state_text(change.before),
                    state_text(change.after)
                )
            },
            "all of them are in --report FILE or --output json",
        );
    }
    push_capped(
        &mut out,
        report.warnings.iter(),
        |warning| format!("warning: {warning}"),
        "all of them are in --report FILE or --output json",
    );
    let s = &report.summary;
    let r = &s.requests;
    if let Some(signal) = &report.interrupted {
        push_line(
            &mut out,
            &format!(
                "interrupted by {signal}: no write was sent after it; re-run the same command to finish"
            ),
        );
    }
    if let Some(fatal) = &report.fatal {
        push_line(&mut out, &format!("stopped: {fatal}"));
    }
    if s.applied + s.failed + s.unknown == 0 && r.writes() == 0 {
        // Nothing was sent to change (a run stopped before its writes: an
        // invalid roster, a failed login): say so, rather than "0 applied".
        let rest: Vec<String> = [(s.unchanged, "unchanged"), (s.invalid, "invalid")]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{} {what}", thousands(*n)))
            .collect();
        let _ = writeln!(
            out,
            "nothing was written{}",
            if rest.is_empty() {
                String::new()
            } else {
                format!("; {}", rest.join(", "))
            }
        );
    } else {
        let _ = writeln!(
            out,
            "{} applied, {} unchanged, {} failed, {} unknown, {} invalid",
            thousands(s.applied),
            thousands(s.unchanged),
            thousands(s.failed),
            thousands(s.unknown),
            thousands(s.invalid),
        );
    }
    if r.total() == 0 {
        let _ = writeln!(out, "requests: none");
    } else {
        let _ = writeln!(
            out,
            "requests: {} ({}); {} retried, {} throttled",
            thousands(r.total()),
            endpoint_list(&r.by_endpoint),
            thousands(r.retries),
            thousands(r.throttled),
        );
    }
    out
}

fn state_text(state: Option<State>) -> String {
    match state {
        Some(state) => state.to_string(),
        None => "not assigned".to_owned(),
    }
}

/// `line 3: agent 1001 skill 445566 7 → 3`, `line 4: skill `x`: ...`,
/// `not in the roster (--prune): agent 1001 skill 5 remove: ...`; an
/// error about the whole file has no line.
fn outcome_line(row: &RowOutcome) -> String {
    let pruned = row.line == PRUNED && row.action.is_some();
    let mut text = if pruned {
        "not in the roster (--prune):".to_owned()
    } else if row.line == 0 {
        String::new()
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
        // `line 2: skill ...`, not `line 2:: skill ...`.
        let separator = match (text.is_empty(), text.ends_with(':')) {
            (true, _) => "",
            (false, true) => " ",
            (false, false) => ": ",
        };
        let _ = write!(text, "{separator}{error}");
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

/// The failed, unknown and invalid rows of a run without a roster (a saved
/// plan, an undo) as a roster CSV, `agent,skill,proficiency,error`.
pub fn failed_pairs_csv(report: &RunReport) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    write_safe(&mut writer, ["agent", "skill", "proficiency", "error"])?;
    for row in report.rows.iter().filter(|r| RunReport::is_unsettled(r)) {
        write_safe(
            &mut writer,
            [
                row.agent.clone().unwrap_or_default(),
                row.skill.map(|s| s.to_string()).unwrap_or_default(),
                row.proficiency.clone().unwrap_or_default(),
                row.error.clone().unwrap_or_default(),
            ],
        )?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// The failed, unknown and invalid rows as CSV with their original columns plus
/// `error`, ready to fix and run again. Every cell is [`csv_safe`]. Linear
/// in the rows: the errors are grouped by line once.
pub fn failed_rows_csv(input: &Input, report: &RunReport) -> Result<Vec<u8>, csv::Error> {
    let failed = report.rows.iter().filter(|r| RunReport::is_unsettled(r));
    let mut errors: HashMap<u64, Vec<&str>> = HashMap::new();
    let mut pruned = Vec::new();
    for row in failed {
        if row.line == PRUNED && row.action.is_some() {
            pruned.push(row);
        } else {
            errors
                .entry(row.line)
                .or_default()
                .extend(row.error.as_deref());
        }
    }
    let wanted: HashSet<u64> = errors.keys().copied().collect();
    let original = roster::original_rows(input, &wanted);
    let mut writer = csv::Writer::from_writer(Vec::new());
    let width = original.header.len();
    write_safe(
        &mut writer,
        original.header.iter().map(String::as_str).chain(["error"]),
    )?;
    for (line, cells) in &original.rows {
        let message = errors.get(line).map(|e| e.join("; ")).unwrap_or_default();
        let mut record: Vec<&str> = cells.iter().map(String::as_str).collect();
        record.resize(width, "");
        let error = format!("line {line}: {message}");
        write_safe(&mut writer, record.into_iter().chain([error.as_str()]))?;
    }
    // Removals `--prune` made up have no line to quote: write them as
    // `remove` rows in the roster's own columns.
    let (Some(agent), Some(skill), Some(proficiency)) = (
        original.position(Column::Agent),
        original.position(Column::Skill),
        original.position(Column::Proficiency),
    ) else {
        return writer.into_inner().map_err(|e| e.into_error().into());
    };
    for row in pruned {
        let mut record = vec![String::new(); width];
        record[agent] = row.agent.clone().unwrap_or_default();
        record[skill] = row.skill.map(|s| s.to_string()).unwrap_or_default();
        record[proficiency] = "remove".to_owned();
        record.push(format!(
            "not in the roster (--prune): {}",
            row.error.as_deref().unwrap_or_default()
        ));
        write_safe(&mut writer, &record)?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// The state of every assignment the plan will touch, before the run and
/// as the run sets it, as a roster that `cxskill apply` accepts: a changed
/// or removed assignment at its old proficiency and flag, an added one as
/// `remove`, so that applying it undoes the run; `run_proficiency` and
/// `run_active` (ignored by the roster reader) say what the run set, so
/// that `cxskill undo` can leave alone a pair someone changed since.
pub fn snapshot_csv(plan: &Plan) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    write_safe(&mut writer, crate::snapshot::HEADER)?;
    let cells = |state: Option<State>| match state {
        None => ("remove".to_owned(), String::new()),
        Some(s) => (s.proficiency.to_string(), s.active.to_string()),
    };
    for pair in plan.pairs.iter().filter(|p| p.changes()) {
        let name = plan
            .skill_names
            .get(&pair.skill)
            .map(String::as_str)
            .unwrap_or("");
        let (proficiency, active) = cells(pair.before);
        let (run_proficiency, run_active) = cells(pair.after);
        write_safe(
            &mut writer,
            [
                pair.agent.to_string(),
                pair.skill.to_string(),
                proficiency,
                active,
                name.to_owned(),
                run_proficiency,
                run_active,
            ],
        )?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// `cxskill export` as a roster CSV: `agent,skill,proficiency,active`
/// plus the informational `agent_name` and `skill_name`; every cell
/// [`csv_safe`].
pub fn export_csv(rows: &[crate::export::ExportRow]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    write_safe(
        &mut writer,
        [
            "agent",
            "skill",
            "proficiency",
            "active",
            "agent_name",
            "skill_name",
        ],
    )?;
    for row in rows {
        write_safe(
            &mut writer,
            [
                row.agent.as_str(),
                &row.skill.to_string(),
                &row.proficiency.to_string(),
                &row.active.map(|a| a.to_string()).unwrap_or_default(),
                &row.agent_name,
                &row.skill_name,
            ],
        )?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// `exported 120 assignments of 40 agents to FILE` (or `to stdout`).
pub fn export_summary(rows: &[crate::export::ExportRow], out: Option<&std::path::Path>) -> String {
    let agents: HashSet<&str> = rows.iter().map(|r| r.agent.as_str()).collect();
    let mut text = String::new();
    push_line(
        &mut text,
        &format!(
            "exported {} of {} to {}",
            plural(rows.len() as u64, "assignment", "assignments"),
            plural(agents.len() as u64, "agent", "agents"),
            out.map_or_else(|| "stdout".to_owned(), |p| p.display().to_string())
        ),
    );
    text
}

/// `cxskill export -o json`: the rows as one JSON array of `{agent,
/// skill, proficiency, active, agent_name, skill_name}`, which `apply`
/// reads as a JSON roster (the names are ignored there).
pub fn export_json(rows: &[crate::export::ExportRow]) -> String {
    let mut text = serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".to_owned());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::client::RequestCounts;
    use crate::model::Levels;
    use crate::roster::{Format, Source};

    #[test]
    fn csv_safe_neutralises_formulas_and_escapes_a_leading_apostrophe() {
        for (cell, safe) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("'Til Midnight", "''Til Midnight"),
            ("Sales", "Sales"),
            ("1001", "1001"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(csv_safe(cell), safe, "{cell:?}");
        }
    }

    #[test]
    fn terminal_safe_shows_controls_and_bidi_overrides_instead_of_sending_them() {
        assert!(matches!(terminal_safe("Billing EN ✓"), Cow::Borrowed(_)));
        assert_eq!(
            terminal_safe("a\u{1b}]0;pwned\u{7}b\u{202e}c\0d\u{9b}e\u{2066}f\tg"),
            "a\\u{1b}]0;pwned\\u{7}b\\u{202e}c\\u{0}d\\u{9b}e\\u{2066}f\\u{9}g"
        );
    }

    fn input(text: &str) -> Input {
        Input::from_bytes(Source::File("r.csv".into()), Format::Csv, text)
    }

    fn invalid(line: u64, error: &str) -> RowOutcome {
        RowOutcome {
            line,
            agent: None,
            skill: None,
            proficiency: None,
            action: None,
            status: Status::Invalid,
            from: None,
            error: Some(error.to_owned()),
        }
    }

    #[test]
    fn failed_rows_quote_each_line_once_with_all_its_errors_and_neutralise_formulas() {
        let input = input("agent,skill,proficiency,note\n=1+1,5,x,@cmd\n1002,5,3,ok\n1003,-4,y,\n");
        let report = RunReport::new(
            vec![
                invalid(2, "agent `=1+1`: bad"),
                invalid(2, "proficiency `x`: bad"),
                invalid(4, "=cmd|' /C calc'!A0"),
            ],
            RequestCounts::default(),
            None,
        );
        let csv = failed_rows_csv(&input, &report).expect("csv");
        assert_eq!(
            String::from_utf8(csv.clone()).expect("utf-8"),
            "agent,skill,proficiency,note,error\n\
             '=1+1,5,x,'@cmd,line 2: agent `=1+1`: bad; proficiency `x`: bad\n\
             1003,'-4,y,,line 4: =cmd|' /C calc'!A0\n"
        );
        // What cxskill writes reads back as the same roster.
        let back = roster::parse(
            &Input::from_bytes(Source::Stdin, Format::Csv, csv),
            &Levels::default(),
        );
        let original = roster::parse(&input, &Levels::default());
        let values = |r: &roster::Roster| -> Vec<(u64, Option<String>)> {
            r.errors.iter().map(|e| (e.line, e.value.clone())).collect()
        };
        assert_eq!(
            values(&back)
                .iter()
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>(),
            values(&original)
                .iter()
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_file_level_error_is_shown_once_without_a_doubled_colon_and_not_as_a_prune() {
        let report = RunReport::new(
            vec![
                invalid(0, "the roster is empty"),
                invalid(2, "skill `x`: bad"),
            ],
            RequestCounts::default(),
            None,
        );
        let text = run_human(&report);
        assert!(text.contains("\n  the roster is empty\n"), "{text}");
        assert!(text.contains("\n  line 2: skill `x`: bad\n"), "{text}");
        assert!(!text.contains("::") && !text.contains("--prune"), "{text}");
        let csv =
            failed_rows_csv(&input("agent,skill,proficiency\n1,x,3\n"), &report).expect("csv");
        assert_eq!(
            String::from_utf8(csv).expect("utf-8"),
            "agent,skill,proficiency,error\n1,x,3,line 2: skill `x`: bad\n"
        );
    }

    #[test]
    fn human_lists_are_capped_and_say_how_many_more() {
        let mut text = "agent,skill,proficiency\n".to_owned();
        for i in 0..180 {
            text.push_str(&format!("{},5,expert\n", 1000 + i));
        }
        let validated = crate::validate::validate(roster::parse(&input(&text), &Levels::default()));
        let out = validate_human(&validated.summary());
        assert_eq!(out.lines().count(), HUMAN_LIST_LIMIT + 1 + 1, "{out}");
        assert!(
            out.ends_with(
                "  … and 130 more (all of them with --output json)\n\
                 r.csv: 180 errors in 180 rows; nothing was sent\n"
            ),
            "{out}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&validate_json(&validated.summary())).expect("json");
        assert_eq!(json["errors"].as_array().map(Vec::len), Some(180));
    }

    #[test]
    fn validate_messages_escape_what_the_roster_smuggles_in() {
        let validated = crate::validate::validate(roster::parse(
            &input("agent,skill,proficiency\nx\u{1b}[2J,5,3\n1001,5,\u{202e}3\n"),
            &Levels::default(),
        ));
        let out = validate_human(&validated.summary());
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{202e}'),
            "{out}"
        );
        assert!(out.contains("agent `x\\u{1b}[2J`"), "{out}");
        assert!(out.contains("proficiency `\\u{202e}3`"), "{out}");
    }

    #[test]
    fn export_neutralises_names_from_the_server() {
        let rows = [crate::export::ExportRow {
            agent: "6513270e-269e-4d37-b2a7-4de452e6b438".to_owned(),
            skill: 5,
            proficiency: 3,
            active: Some(true),
            agent_name: "=HYPERLINK(\"http://evil\")".to_owned(),
            skill_name: "@Sales".to_owned(),
        }];
        let csv = String::from_utf8(export_csv(&rows).expect("csv")).expect("utf-8");
        assert_eq!(
            csv,
            "agent,skill,proficiency,active,agent_name,skill_name\n\
             6513270e-269e-4d37-b2a7-4de452e6b438,5,3,true,\"'=HYPERLINK(\"\"http://evil\"\")\",'@Sales\n"
        );
        assert_eq!(
            String::from_utf8(export_csv(&[]).expect("csv")).expect("utf-8"),
            "agent,skill,proficiency,active,agent_name,skill_name\n"
        );
    }

    fn coloured_plan() -> Plan {
        use crate::model::{Proficiency, Target};
        let set = |p: i64| Target::Set {
            proficiency: Proficiency::new(p).expect("1..=20"),
            active: None,
        };
        let state = |p: u8| State {
            proficiency: p,
            active: true,
        };
        let pair = |line, skill, target, action, before, after| Pair {
            line,
            agent: 1001,
            skill,
            target,
            action,
            before,
            after,
        };
        Plan {
            pairs: vec![
                pair(2, 5, set(3), Action::Add, None, Some(state(3))),
                pair(3, 6, set(4), Action::Change, Some(state(7)), Some(state(4))),
                pair(4, 7, Target::Remove, Action::Remove, Some(state(2)), None),
                pair(
                    5,
                    8,
                    set(1),
                    Action::Unchanged,
                    Some(state(1)),
                    Some(state(1)),
                ),
            ],
            rejected: Vec::new(),
            skill_names: HashMap::from([(7, "Chat\u{1b}[8m FR".to_owned())]),
            restated: 0,
        }
    }

    #[test]
    fn plan_lines_are_green_yellow_red_with_colour_and_plain_without() {
        let plan = coloured_plan();
        let text = plan_human(&plan, &BTreeMap::new(), None, Palette::COLOR);
        assert!(text.contains("  \u{1b}[32m+ 5  3\u{1b}[0m\n"), "{text:?}");
        assert!(
            text.contains("  \u{1b}[33m~ 6  7 → 4\u{1b}[0m\n"),
            "{text:?}"
        );
        // The tenant's escape sequence is shown, not obeyed, inside the red.
        assert!(
            text.contains("  \u{1b}[31m- 7 Chat\\u{1b}[8m FR  (was 2)\u{1b}[0m\n"),
            "{text:?}"
        );
        assert!(
            text.ends_with("1 to add, 1 to change, 1 to remove, 1 unchanged; 0 requests\n"),
            "{text:?}"
        );
        let plain = plan_human(&plan, &BTreeMap::new(), None, Palette::PLAIN);
        assert_eq!(plain.matches('\u{1b}').count(), 0, "{plain:?}");
        assert!(plain.contains("  + 5  3\n"), "{plain:?}");
    }

    #[test]
    fn error_lines_are_red_only_with_colour_and_always_terminal_safe() {
        assert_eq!(
            error_lines("no \u{1b}]0;x tenant", Palette::PLAIN),
            "error: no \\u{1b}]0;x tenant\n"
        );
        assert_eq!(
            error_lines("first\nsecond", Palette::COLOR),
            "\u{1b}[31merror: first\u{1b}[0m\n\u{1b}[31msecond\u{1b}[0m\n"
        );
    }

    #[test]
    fn a_run_that_wrote_nothing_says_so_rather_than_0_applied() {
        let report = RunReport::new(
            vec![invalid(2, "skill `x`: bad"), invalid(3, "agent `y`: bad")],
            RequestCounts::default(),
            None,
        );
        let text = run_human(&report);
        assert!(
            text.ends_with("nothing was written; 2 invalid\nrequests: none\n"),
            "{text}"
        );
        assert!(!text.contains("0 applied"), "{text}");
        let stopped = RunReport::new(Vec::new(), RequestCounts::default(), Some("no".into()));
        assert!(
            run_human(&stopped).ends_with("stopped: no\nnothing was written\nrequests: none\n"),
            "{}",
            run_human(&stopped)
        );
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
