//! Stage 3b: validated rows → the plan, a pure diff of (agent, skill)
//! pairs against what the reads hold.
//!
//! [`build`] is a pure function: the same rows and holdings give the same
//! plan. Each pair has its state before, its state after, and the roster
//! line it came from (or [`PRUNED`] for an assignment `--prune` removes).
//! Which requests carry the diff out is another stage's business
//! (`requests`).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::model::{Row, State, Target};
use crate::read::{Holdings, Known};
use crate::wire;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Add,
    Change,
    Unchanged,
    Remove,
}

/// The line of a planned removal that no roster line asked for: an
/// assignment `--prune` removes because the roster does not name it.
pub const PRUNED: u64 = 0;

/// One (agent, skill) pair of the diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// The roster line, or [`PRUNED`].
    pub line: u64,
    pub agent: u64,
    pub skill: u64,
    /// What the roster line asked for (`remove` for a pruned pair).
    pub target: Target,
    pub action: Action,
    /// The tenant's state before; `None`: not assigned.
    pub before: Option<State>,
    /// The state after; `None`: not assigned.
    pub after: Option<State>,
}

impl Pair {
    pub fn changes(&self) -> bool {
        self.action != Action::Unchanged
    }
}

/// A roster row that will not be sent, and why.
#[derive(Debug, Clone)]
pub struct RejectedRow {
    pub row: Row,
    /// `true`: the row is invalid for this tenant (unknown skill), which
    /// blocks the whole apply unless `--skip-invalid`. `false`: the row
    /// fails on its own (agent not found, inactive skill, untrusted read).
    pub invalid: bool,
    pub error: String,
}

/// The whole plan: what happens to every roster row.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Roster rows in line order, then the pruned removals by agent.
    pub pairs: Vec<Pair>,
    pub rejected: Vec<RejectedRow>,
    /// Skill names by id, for rendering.
    pub skill_names: HashMap<u64, String>,
    /// Roster rows already in place that `pairs` does not list (a saved
    /// plan keeps only its changes).
    pub restated: u64,
}

/// How many rows will do what.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub add: u64,
    pub change: u64,
    pub remove: u64,
    pub unchanged: u64,
}

impl Counts {
    pub fn changes(&self) -> u64 {
        self.add + self.change + self.remove
    }
}

impl Plan {
    pub fn counts(&self) -> Counts {
        let mut counts = Counts {
            unchanged: self.restated,
            ..Counts::default()
        };
        for pair in &self.pairs {
            match pair.action {
                Action::Add => counts.add += 1,
                Action::Change => counts.change += 1,
                Action::Remove => counts.remove += 1,
                Action::Unchanged => counts.unchanged += 1,
            }
        }
        counts
    }

    pub fn has_invalid(&self) -> bool {
        self.rejected.iter().any(|r| r.invalid)
    }

    /// The roster's pairs, for telling them from assignments outside it.
    pub fn named(&self) -> HashSet<(u64, u64)> {
        self.pairs
            .iter()
            .map(|p| (p.agent, p.skill))
            .chain(
                self.rejected
                    .iter()
                    .map(|r| (r.row.agent, r.row.skill.get())),
            )
            .collect()
    }
}

/// The diff of the rows against the holdings. With `prune`, every
/// assignment of a roster agent that the roster does not name is removed
/// (authoritative mode); the holdings must then hold those agents' full
/// sets.
pub fn build(
    rows: &[Row],
    holdings: &Holdings,
    skills: &HashMap<u64, wire::Skill>,
    prune: bool,
) -> Plan {
    let mut plan = Plan {
        skill_names: skills
            .values()
            .map(|s| (s.skill_id, s.skill_name.clone()))
            .collect(),
        ..Plan::default()
    };
    let mut order: Vec<u64> = Vec::new();
    let mut named: HashMap<u64, HashSet<u64>> = HashMap::new();
    for row in rows {
        let (agent, skill) = (row.agent, row.skill.get());
        named
            .entry(agent)
            .or_insert_with(|| {
                order.push(agent);
                HashSet::new()
            })
            .insert(skill);
        match diff_row(row, holdings, skills) {
            Ok(pair) => plan.pairs.push(pair),
            Err(rejected) => plan.rejected.push(rejected),
        }
    }
    if prune {
        for agent in order {
            let Some(set) = holdings.full_set(agent) else {
                continue;
            };
            let named = &named[&agent];
            for (skill, state) in set.into_iter().filter(|(s, _)| !named.contains(s)) {
                plan.pairs.push(Pair {
                    line: PRUNED,
                    agent,
                    skill,
                    target: Target::Remove,
                    action: Action::Remove,
                    before: Some(state),
                    after: None,
                });
            }
        }
    }
    plan
}

/// One row against the holdings: its pair, or why it will not be sent.
fn diff_row(
    row: &Row,
    holdings: &Holdings,
    skills: &HashMap<u64, wire::Skill>,
) -> Result<Pair, RejectedRow> {
    let reject = |invalid: bool, error: String| RejectedRow {
        row: *row,
        invalid,
        error,
    };
    let (agent, skill) = (row.agent, row.skill.get());
    let Some(info) = skills.get(&skill) else {
        return Err(reject(
            true,
            format!("skill {skill} does not exist in this tenant"),
        ));
    };
    if holdings.is_missing(agent) {
        return Err(reject(
            false,
            format!("agent {agent} not found in the tenant (404)"),
        ));
    }
    if let Some(reason) = holdings.untrusted(agent) {
        return Err(reject(false, reason.to_owned()));
    }
    let before = match holdings.get(agent, skill) {
        Known::Held(state) => Some(state),
        Known::Absent => None,
        Known::Unknown => {
            return Err(reject(
                false,
                format!("agent {agent} skill {skill} was not read"),
            ));
        }
    };
    let (action, after) = transition(row.target, before);
    // Restating an assignment of an inactive skill, or removing one, is
    // fine; assigning or changing it is not.
    if !info.active() && matches!(action, Action::Add | Action::Change) {
        return Err(reject(
            false,
            format!(
                "skill {skill} ({}) is inactive in this tenant; activate it in CXone or drop the row",
                info.skill_name
            ),
        ));
    }
    Ok(Pair {
        line: row.line,
        agent,
        skill,
        target: row.target,
        action,
        before,
        after,
    })
}

/// What reaching `target` from `before` takes, and the state it leaves:
/// the one rule of a plan, a saved plan aimed again at a drifted pair, and
/// an undo. A new assignment whose active column is empty is active; a
/// changed one keeps the flag it has.
pub(crate) fn transition(target: Target, before: Option<State>) -> (Action, Option<State>) {
    match (target, before) {
        (Target::Remove, Some(_)) => (Action::Remove, None),
        (Target::Remove, None) => (Action::Unchanged, None),
        (
            Target::Set {
                proficiency,
                active,
            },
            None,
        ) => (
            Action::Add,
            Some(State {
                proficiency: proficiency.get(),
                active: active.unwrap_or(true),
            }),
        ),
        (
            Target::Set {
                proficiency,
                active,
            },
            Some(from),
        ) => {
            let to = State {
                proficiency: proficiency.get(),
                active: active.unwrap_or(from.active),
            };
            let action = if to == from {
                Action::Unchanged
            } else {
                Action::Change
            };
            (action, Some(to))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Proficiency, SkillId};

    pub fn row(line: u64, agent: u64, skill: u64, target: Target) -> Row {
        Row {
            line,
            agent,
            skill: SkillId::new(skill).unwrap(),
            target,
        }
    }

    pub fn set(p: i64, active: Option<bool>) -> Target {
        Target::Set {
            proficiency: Proficiency::new(p).unwrap(),
            active,
        }
    }

    pub fn assignment(agent: u64, skill: u64, p: i64, active: bool) -> wire::Assignment {
        wire::Assignment {
            agent_id: Some(agent),
            skill_id: skill,
            agent_proficiency_value: Some(p),
            is_active: Some(active),
            ..wire::Assignment::default()
        }
    }

    pub fn catalogue() -> HashMap<u64, wire::Skill> {
        let skill = |id, active| wire::Skill {
            skill_id: id,
            skill_name: format!("S{id}"),
            media_type_id: None,
            is_active: Some(active),
        };
        [
            skill(1, true),
            skill(2, true),
            skill(3, true),
            skill(4, true),
            skill(9, false),
        ]
        .into_iter()
        .map(|s| (s.skill_id, s))
        .collect()
    }

    /// Agent 10 holds 1@3, 2@7, 3@4 (inactive); agent 11 holds nothing;
    /// agent 12 does not exist; every read complete.
    pub fn holdings() -> Holdings {
        Holdings::from_full_sets(
            &[
                (
                    10,
                    vec![
                        assignment(10, 1, 3, true),
                        assignment(10, 2, 7, true),
                        assignment(10, 3, 4, false),
                    ],
                ),
                (11, vec![]),
                (13, vec![assignment(13, 9, 4, true)]),
            ],
            &[12],
        )
    }

    #[test]
    fn actions_follow_the_current_state() {
        let rows = [
            row(2, 10, 1, set(3, None)),       // unchanged
            row(3, 10, 2, set(2, None)),       // change 7 → 2
            row(4, 10, 3, set(4, Some(true))), // change: flag only
            row(5, 10, 4, set(5, None)),       // add, active by default
            row(6, 11, 1, Target::Remove),     // already absent
            row(7, 10, 9, set(1, None)),       // inactive skill
            row(8, 10, 77, set(1, None)),      // unknown skill
            row(9, 12, 1, set(1, None)),       // unknown agent
        ];
        let plan = build(&rows, &holdings(), &catalogue(), false);
        let actions: Vec<(u64, Action)> = plan.pairs.iter().map(|p| (p.line, p.action)).collect();
        assert_eq!(
            actions,
            [
                (2, Action::Unchanged),
                (3, Action::Change),
                (4, Action::Change),
                (5, Action::Add),
                (6, Action::Unchanged)
            ]
        );
        let rejected: Vec<(u64, bool)> = plan
            .rejected
            .iter()
            .map(|r| (r.row.line, r.invalid))
            .collect();
        assert_eq!(rejected, [(7, false), (8, true), (9, false)]);
        assert!(plan.rejected[0].error.contains("inactive"));
        assert!(plan.rejected[2].error.contains("not found"));
        assert_eq!(
            plan.counts(),
            Counts {
                add: 1,
                change: 2,
                remove: 0,
                unchanged: 2
            }
        );
    }

    #[test]
    fn prune_removes_what_the_roster_does_not_name() {
        let rows = [row(2, 10, 2, set(2, None))];
        let plan = build(&rows, &holdings(), &catalogue(), true);
        let planned: Vec<(u64, u64, Action)> = plan
            .pairs
            .iter()
            .map(|p| (p.line, p.skill, p.action))
            .collect();
        assert_eq!(
            planned,
            [
                (2, 2, Action::Change),
                (PRUNED, 1, Action::Remove),
                (PRUNED, 3, Action::Remove)
            ]
        );
        // Without --prune the same roster removes nothing.
        assert_eq!(
            build(&rows, &holdings(), &catalogue(), false)
                .counts()
                .remove,
            0
        );
    }

    #[test]
    fn an_inactive_skill_fails_only_rows_that_would_write() {
        let (h, skills) = (holdings(), catalogue());
        let unchanged = build(&[row(2, 13, 9, set(4, None))], &h, &skills, false);
        assert!(unchanged.rejected.is_empty());
        assert_eq!(unchanged.counts().unchanged, 1);
        let removed = build(&[row(2, 13, 9, Target::Remove)], &h, &skills, false);
        assert_eq!(removed.counts().remove, 1);
        let changed = build(&[row(2, 13, 9, set(3, None))], &h, &skills, false);
        assert_eq!(changed.rejected.len(), 1);
        assert!(changed.rejected[0].error.contains("inactive"));
    }

    #[test]
    fn an_agent_whose_read_is_untrusted_fails_every_row() {
        let mut h = holdings();
        h.mark_untrusted(10, "the read lists another agent".into());
        let plan = build(&[row(2, 10, 1, set(1, None))], &h, &catalogue(), true);
        assert!(plan.pairs.is_empty(), "nothing is planned, pruned or not");
        assert!(plan.rejected[0].error.contains("another agent"));
    }
}
