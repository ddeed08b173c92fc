//! Snapshots and undo: a run can be taken back.
//!
//! `apply --snapshot FILE` writes, for every pair the run touches, the
//! state before the run (`proficiency`, `active`; `remove` for a pair the
//! run adds) and the run's target (`run_proficiency`, `run_active`;
//! `remove` for a pair the run removes). The file is a roster: applying it
//! with plain `apply` puts the before-state back, under the usual removal
//! guard. `cxskill undo FILE` is the careful way: it puts back only the
//! pairs that still hold the run's target, leaves a pair someone changed
//! since alone (and reports it as drift), and does not count the removal of
//! an assignment the run added against `--max-removals`.

use std::collections::HashMap;

use crate::model::{Proficiency, State, Target};
use crate::plan::{self, Action, Pair, Plan};
use crate::planfile::{self, Drift};
use crate::read::{Holdings, Known};

/// One pair of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotRow {
    /// The snapshot file's line.
    pub line: u64,
    pub agent: u64,
    pub skill: u64,
    /// Before the run; `None`: not assigned (the run added it).
    pub before: Option<State>,
    /// The run's target; `None`: the run removed it.
    pub target: Option<State>,
}

/// The columns a snapshot has, in order.
pub const HEADER: [&str; 7] = [
    "agent",
    "skill",
    "proficiency",
    "active",
    "skill_name",
    "run_proficiency",
    "run_active",
];

/// Reads a snapshot written by `apply --snapshot`.
pub fn parse(name: &str, bytes: &[u8]) -> Result<Vec<SnapshotRow>, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| format!("{name}: not a snapshot: {e}"))?
        .clone();
    let column = |wanted: &str| {
        headers
            .iter()
            .position(|h| h.trim() == wanted)
            .ok_or_else(|| {
                format!(
                    "{name}: not a snapshot written by `apply --snapshot`: no `{wanted}` column (a snapshot of an older cxskill can still be applied with `cxskill apply {name}`)"
                )
            })
    };
    let at = [
        column("agent")?,
        column("skill")?,
        column("proficiency")?,
        column("active")?,
        column("run_proficiency")?,
        column("run_active")?,
    ];
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        let record = record.map_err(|e| format!("{name}: line {line}: {e}"))?;
        let cell = |i: usize| record.get(at[i]).unwrap_or_default().trim();
        let bad = |what: &str, value: &str| {
            format!("{name}: line {line}: {what} `{value}` is not what `apply --snapshot` writes")
        };
        let agent: u64 = cell(0).parse().map_err(|_| bad("agent", cell(0)))?;
        let skill: u64 = cell(1).parse().map_err(|_| bad("skill", cell(1)))?;
        let state = |p: &str, a: &str| -> Result<Option<State>, String> {
            if p.eq_ignore_ascii_case("remove") {
                return Ok(None);
            }
            let proficiency = p
                .parse::<i64>()
                .ok()
                .and_then(Proficiency::new)
                .ok_or_else(|| bad("proficiency", p))?;
            let active = match a.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(bad("active", a)),
            };
            Ok(Some(State {
                proficiency: proficiency.get(),
                active,
            }))
        };
        rows.push(SnapshotRow {
            line,
            agent,
            skill,
            before: state(cell(2), cell(3))?,
            target: state(cell(4), cell(5))?,
        });
    }
    Ok(rows)
}

/// What undoing a snapshot does against the tenant as it is now.
#[derive(Debug, Clone, Default)]
pub struct Undo {
    pub plan: Plan,
    /// Pairs someone changed since the run: left alone.
    pub drift: Vec<Drift>,
    /// Removals of assignments the run added: not counted against
    /// `--max-removals`.
    pub exempt_removals: u64,
}

/// The plan that puts back the before-state of every pair that still
/// holds the run's target.
pub fn undo(rows: &[SnapshotRow], now: &Holdings, skill_names: HashMap<u64, String>) -> Undo {
    let mut undo = Undo {
        plan: Plan {
            skill_names,
            ..Plan::default()
        },
        ..Undo::default()
    };
    for row in rows {
        let target = match row.before {
            Some(before) => match Proficiency::new(i64::from(before.proficiency)) {
                Some(proficiency) => Target::Set {
                    proficiency,
                    active: Some(before.active),
                },
                None => continue,
            },
            None => Target::Remove,
        };
        let current = match now.get(row.agent, row.skill) {
            Known::Held(state) => Some(state),
            Known::Absent => None,
            Known::Unknown => {
                let pair = Pair {
                    line: row.line,
                    agent: row.agent,
                    skill: row.skill,
                    target,
                    action: Action::Unchanged,
                    before: None,
                    after: row.before,
                };
                undo.plan.rejected.push(planfile::unread(&pair, now));
                continue;
            }
        };
        if current != row.target {
            undo.drift.push(Drift {
                line: row.line,
                agent: row.agent,
                skill: row.skill,
                planned: row.target,
                now: current,
            });
            continue;
        }
        // The target states the before-state whole (flag included), so
        // what it leaves is exactly `row.before`.
        let (action, after) = plan::transition(target, current);
        if action == Action::Remove {
            undo.exempt_removals += 1;
        }
        undo.plan.pairs.push(Pair {
            line: row.line,
            agent: row.agent,
            skill: row.skill,
            target,
            action,
            before: current,
            after,
        });
    }
    undo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{assignment, holdings};

    const FILE: &str = "agent,skill,proficiency,active,skill_name,run_proficiency,run_active\n\
        10,2,7,true,S2,2,true\n\
        10,4,remove,,S4,12,false\n\
        10,3,4,false,S3,remove,\n\
        11,1,remove,,S1,5,true\n";

    #[test]
    fn a_snapshot_reads_back_before_and_target() {
        let rows = parse("s.csv", FILE.as_bytes()).unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].before.map(|s| s.proficiency), Some(7));
        assert_eq!(rows[0].target.map(|s| s.proficiency), Some(2));
        assert_eq!(rows[1].before, None);
        assert_eq!(rows[2].target, None);
        let old = "agent,skill,proficiency,active,skill_name\n10,2,7,true,S2\n";
        assert!(
            parse("old.csv", old.as_bytes())
                .unwrap_err()
                .contains("run_proficiency")
        );
    }

    #[test]
    fn undo_puts_back_what_still_holds_the_runs_target_and_leaves_drift_alone() {
        let rows = parse("s.csv", FILE.as_bytes()).unwrap();
        // The tenant after the run: 10/2 at 2, 10/4 at 12 inactive, 10/3
        // gone; but someone changed 11/1 to 9 since.
        let now = Holdings::from_full_sets(
            &[
                (
                    10,
                    vec![
                        assignment(10, 1, 3, true),
                        assignment(10, 2, 2, true),
                        assignment(10, 4, 12, false),
                    ],
                ),
                (11, vec![assignment(11, 1, 9, true)]),
            ],
            &[],
        );
        let undo = undo(&rows, &now, HashMap::new());
        let actions: Vec<(u64, u64, Action)> = undo
            .plan
            .pairs
            .iter()
            .map(|p| (p.agent, p.skill, p.action))
            .collect();
        assert_eq!(
            actions,
            [
                (10, 2, Action::Change),
                (10, 4, Action::Remove),
                (10, 3, Action::Add)
            ]
        );
        assert_eq!(undo.exempt_removals, 1);
        assert_eq!(undo.drift.len(), 1);
        assert_eq!((undo.drift[0].agent, undo.drift[0].skill), (11, 1));
        let _ = holdings();
    }
}
