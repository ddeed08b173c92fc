//! Stage 5: rendering. Library code returns values; this module alone turns
//! them into text for people or JSON for machines.

use std::fmt::Write as _;

use crate::validate::Summary;

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
