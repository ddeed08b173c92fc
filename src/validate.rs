//! Stage 2: typed rows → validated rows.
//!
//! [`crate::roster`] checks each row alone; this checks them as a set. The
//! same agent and skill twice with identical values is a warning (one row
//! kept; one warning for all the copies of a row); with different values it is ambiguous which one the user meant,
//! so every line involved is an error. A roster with no rows at all is
//! valid, with a warning.
//!
//! Everything here is linear or n log n in the rows, and no message grows
//! with the roster: a million conflicting rows make a million errors of
//! bounded length, not a million lists of a million lines.

use serde::Serialize;

use crate::model::{AgentRef, AgentSpec, RosterRow, SkillId, SkillSpec, Target};
use crate::roster::{Issue, Roster};

/// A roster checked as a whole: the rows to act on, and everything wrong.
#[derive(Debug, Clone)]
pub struct Validated {
    pub roster: Roster,
    /// Warnings: nothing wrong enough to stop, but worth fixing.
    pub warnings: Vec<Issue>,
    /// Distinct agents among the valid rows.
    pub agents: u64,
    /// Distinct skills among the valid rows.
    pub skills: u64,
}

impl Validated {
    pub fn is_valid(&self) -> bool {
        self.roster.errors.is_empty()
    }

    /// The summary, borrowing the errors and warnings (a million of them
    /// are not copied to be printed).
    pub fn summary(&self) -> Summary<'_> {
        Summary {
            source: self.roster.source.to_string(),
            valid: self.is_valid(),
            rows: self.roster.total_rows,
            agents: self.agents,
            skills: self.skills,
            errors: &self.roster.errors,
            warnings: &self.warnings,
        }
    }
}

/// What `cxskill validate` reports; also the JSON document of
/// `validate --output json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary<'a> {
    #[serde(skip)]
    pub source: String,
    pub valid: bool,
    /// Data rows in the roster, valid or not.
    pub rows: u64,
    /// Distinct agents among the valid rows.
    pub agents: u64,
    /// Distinct skills among the valid rows.
    pub skills: u64,
    pub errors: &'a [Issue],
    pub warnings: &'a [Issue],
}

/// Checks the rows as a set. Repeated rows are dropped (first kept, with
/// a warning); conflicting rows are all dropped, each with an error. Errors
/// end up sorted by line.
///
/// One sort of (agent, skill, index) keys finds every group of rows for
/// the same pair and the distinct agents in the same pass: cheaper than
/// hashing a million keys, and it keeps each group in file order.
pub fn validate(mut roster: Roster) -> Validated {
    let rows = &roster.rows;
    // Ids are held by value (names by reference), so the sort compares
    // without chasing a pointer per row; the index breaks ties.
    let mut keys: Vec<(AgentKey<'_>, SkillKey<'_>, usize)> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| (AgentKey::of(&row.agent), SkillKey::of(&row.skill), i))
        .collect();
    keys.sort_unstable();

    let mut drop = vec![false; rows.len()];
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut agents = 0;
    let mut last_agent = None;
    let mut skills: Vec<SkillKey<'_>> = Vec::new();
    for group in keys.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        let (agent, skill, first) = group[0];
        let mut count = |agent| {
            if last_agent != Some(agent) {
                agents += 1;
                last_agent = Some(agent);
            }
        };
        if group.len() == 1 {
            count(agent);
            skills.push(skill);
            continue;
        }
        let group: Vec<usize> = group.iter().map(|&(_, _, i)| i).collect();
        let first = &rows[first];
        let conflict = group.iter().any(|&i| rows[i].target != first.target);
        if conflict {
            for &index in &group {
                drop[index] = true;
                errors.push(conflict_issue(rows, &group, index));
            }
            continue;
        }
        for &index in &group[1..] {
            drop[index] = true;
        }
        warnings.push(repeat_issue(rows, &group));
        count(agent);
        skills.push(skill);
    }
    // The keys and the skill list go before the warnings are sorted and
    // the rows compacted: on a large roster they are the biggest buffers.
    std::mem::drop(keys);
    let skills = distinct(skills);
    if roster.total_rows == 0 && roster.errors.is_empty() {
        warnings.push(Issue {
            line: 0,
            column: None,
            value: None,
            message: "the roster has no rows; there is nothing to do".to_owned(),
        });
    }

    let mut index = 0;
    roster.rows.retain(|_| {
        index += 1;
        !drop[index - 1]
    });
    // The parser's errors are in line order, several to a line in column
    // order: a stable sort keeps that. Each duplicate line has one
    // warning, so the cheaper unstable sort (no buffer) does.
    roster.errors.extend(errors);
    roster.errors.sort_by_key(|issue| issue.line);
    warnings.sort_unstable_by_key(|issue| issue.line);
    Validated {
        roster,
        warnings,
        agents,
        skills,
    }
}

/// How many distinct values there are; takes the list, to free it.
fn distinct<T: Ord>(mut values: Vec<T>) -> u64 {
    values.sort_unstable();
    values.dedup();
    values.len() as u64
}

/// A roster row's agent or skill for sorting: an id by value, a name
/// borrowed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key<'a, Id> {
    Id(Id),
    Name(&'a str),
}

type AgentKey<'a> = Key<'a, AgentRef>;
type SkillKey<'a> = Key<'a, SkillId>;

impl<'a> AgentKey<'a> {
    fn of(spec: &'a AgentSpec) -> Self {
        match spec {
            AgentSpec::Id(agent) => Key::Id(*agent),
            AgentSpec::Name(name) => Key::Name(name),
        }
    }
}

impl<'a> SkillKey<'a> {
    fn of(spec: &'a SkillSpec) -> Self {
        match spec {
            SkillSpec::Id(skill) => Key::Id(*skill),
            SkillSpec::Name(name) => Key::Name(name),
        }
    }
}

/// At most this many other lines are named in a conflict message.
const OTHERS_NAMED: usize = 10;

/// The warning for a group of identical rows: one per group, at the first
/// repeat, naming at most [`OTHERS_NAMED`] of the repeats (five million
/// copies of one row are one warning, not five million).
fn repeat_issue(rows: &[RosterRow], group: &[usize]) -> Issue {
    let first = &rows[group[0]];
    let repeats = &group[1..];
    let repeat = &rows[repeats[0]];
    let message = if repeats.len() == 1 {
        format!(
            "agent {} skill {} repeats line {} with the same values; kept one",
            repeat.agent, repeat.skill, first.line
        )
    } else {
        let mut lines: Vec<String> = repeats
            .iter()
            .take(OTHERS_NAMED)
            .map(|&i| rows[i].line.to_string())
            .collect();
        let more = repeats.len() - lines.len();
        if more > 0 {
            lines.push(format!("and {more} more"));
        }
        format!(
            "agent {} skill {} repeats line {} with the same values on {} lines ({}); kept one",
            repeat.agent,
            repeat.skill,
            first.line,
            repeats.len(),
            lines.join(", ")
        )
    };
    Issue {
        line: repeat.line,
        column: None,
        value: None,
        message,
    }
}

/// The error for one of several rows that give the same agent and skill
/// different values. Names at most [`OTHERS_NAMED`] of the other lines,
/// so a large group costs linear time and space, not quadratic.
fn conflict_issue(rows: &[RosterRow], group: &[usize], index: usize) -> Issue {
    let row = &rows[index];
    let mut others: Vec<String> = group
        .iter()
        .filter(|&&other| other != index)
        .take(OTHERS_NAMED)
        .map(|&other| rows[other].line.to_string())
        .collect();
    let more = group.len() - 1 - others.len();
    if more > 0 {
        others.push(format!("and {more} more"));
    }
    Issue {
        line: row.line,
        column: None,
        value: Some(describe(&row.target)),
        message: format!(
            "agent {} skill {} is also on line {} with a different value; keep one row per agent and skill",
            row.agent,
            row.skill,
            others.join(", ")
        ),
    }
}

fn describe(target: &Target) -> String {
    match target {
        Target::Remove => "remove".to_owned(),
        Target::Set {
            proficiency,
            active: None,
        } => proficiency.to_string(),
        Target::Set {
            proficiency,
            active: Some(active),
        } => format!("{proficiency} (active {active})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::{Format, Input, Source, parse};

    fn check(text: &str) -> Validated {
        validate(parse(
            &Input::from_bytes(Source::File("r.csv".into()), Format::Csv, text),
            &crate::model::Levels::default(),
        ))
    }

    #[test]
    fn identical_duplicate_is_a_warning_and_one_row_is_kept() {
        let v = check("agent,skill,proficiency\n1001,5,3\n1002,5,3\n1001,5,3\n");
        assert!(v.is_valid());
        assert_eq!(v.roster.rows.len(), 2);
        assert_eq!(v.warnings.len(), 1);
        assert_eq!(v.warnings[0].line, 4);
        assert!(v.warnings[0].message.contains("repeats line 2"));
    }

    #[test]
    fn many_copies_of_a_row_are_one_warning_naming_the_first_repeats() {
        let mut text = "agent,skill,proficiency\n1002,5,3\n".to_owned();
        for _ in 0..1_000 {
            text.push_str("1001,5,3\n");
        }
        let v = check(&text);
        assert!(v.is_valid());
        assert_eq!(v.roster.rows.len(), 2);
        assert_eq!(v.warnings.len(), 1);
        assert_eq!(v.warnings[0].line, 4);
        assert_eq!(
            v.warnings[0].message,
            "agent 1001 skill 5 repeats line 3 with the same values on 999 lines \
             (4, 5, 6, 7, 8, 9, 10, 11, 12, 13, and 989 more); kept one"
        );
    }

    #[test]
    fn conflicting_duplicates_make_every_line_an_error() {
        let v = check(
            "agent,skill,proficiency,active\n1001,5,3,\n1002,5,3,\n1001,5,4,\n1001,5,3,\n1003,5,3,yes\n1003,5,3,no\n",
        );
        assert!(!v.is_valid());
        let lines: Vec<u64> = v.roster.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 4, 5, 6, 7]);
        assert!(v.roster.errors[0].message.contains("also on line 4, 5"));
        assert!(v.warnings.is_empty());
        assert_eq!(v.roster.rows.len(), 1);
        let s = v.summary();
        assert_eq!((s.rows, s.agents, s.skills), (6, 1, 1));
    }

    #[test]
    fn a_large_conflict_group_names_a_bounded_number_of_other_lines() {
        let mut text = "agent,skill,proficiency\n".to_owned();
        for i in 0..5_000 {
            text.push_str(&format!("1001,5,{}\n", i % 2 + 1));
        }
        let v = check(&text);
        assert_eq!(v.roster.errors.len(), 5_000);
        let first = &v.roster.errors[0];
        assert!(
            first
                .message
                .contains("also on line 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, and 4989 more"),
            "{}",
            first.message
        );
        assert!(v.roster.errors.iter().all(|e| e.message.len() < 200));
    }

    #[test]
    fn an_empty_roster_is_valid_with_a_warning() {
        for v in [
            check("agent,skill,proficiency\n"),
            check("agent,skill,proficiency\n\n  \n"),
            validate(parse(
                &Input::from_bytes(Source::Stdin, Format::Json, "[]"),
                &crate::model::Levels::default(),
            )),
        ] {
            assert!(v.is_valid());
            assert_eq!(v.warnings.len(), 1);
            assert_eq!(
                v.warnings[0].message,
                "the roster has no rows; there is nothing to do"
            );
        }
        assert!(
            check("agent,skill,proficiency\n1001,5,3\n")
                .warnings
                .is_empty()
        );
    }

    #[test]
    fn errors_are_sorted_by_line() {
        let v = check("agent,skill,proficiency\n1001,5,3\nx,5,3\n1001,5,4\n");
        let lines: Vec<u64> = v.roster.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4]);
    }
}
