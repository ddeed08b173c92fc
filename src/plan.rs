//! Stage 3: validated rows → plan, a diff against the tenant.
//!
//! [`read_tenant`] reads what the plan needs (each roster agent's current
//! assignments, the skill catalogue); [`build`] is a pure function from
//! rows and that view to a [`Plan`]: per agent, what each row will do, and
//! the write requests that do it. Apply executes exactly these requests;
//! another write strategy (say, per-skill bulk writes) would only change
//! [`AgentPlan::requests`].

use std::collections::{BTreeMap, HashMap, HashSet};

use futures_util::{StreamExt, stream};
use serde::Serialize;

use crate::client::{Client, ClientError};
use crate::model::{AgentRef, Row, SkillId, Target};
use crate::wire::{self, SkillWrite, SkillsBody};

/// An assignment's state: what a row changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub proficiency: u8,
    pub active: bool,
}

impl State {
    /// The state an answer reports, or why it cannot be trusted enough to
    /// write back: the full-set PUT would re-send a guessed flag or a
    /// rewritten proficiency for a skill the roster never touched.
    pub fn of(assignment: &wire::Assignment) -> Result<State, String> {
        let skill = assignment.skill_id;
        let proficiency = u8::try_from(assignment.agent_proficiency_value)
            .ok()
            .filter(|p| (1..=20).contains(p))
            .ok_or_else(|| {
                format!(
                    "the tenant reports proficiency {} for skill {skill}, outside 1..=20; not rewriting this agent's skills",
                    assignment.agent_proficiency_value
                )
            })?;
        let active = assignment.is_active.ok_or_else(|| {
            format!("the tenant's answer for skill {skill} has no isActive; not rewriting this agent's skills")
        })?;
        Ok(State {
            proficiency,
            active,
        })
    }
}

/// An agent's assignments as the plan needs them: skill id and state,
/// sorted by skill id. Only this much of each read is kept, so that a
/// plan over a large tenant stays small.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Current(Vec<(u64, State)>);

impl Current {
    /// The assignments of one agent's read, or why they cannot be used
    /// (see [`State::of`]).
    pub fn from_wire(assignments: &[wire::Assignment]) -> Result<Current, String> {
        let mut pairs = assignments
            .iter()
            .map(|a| State::of(a).map(|state| (a.skill_id, state)))
            .collect::<Result<Vec<_>, _>>()?;
        pairs.sort_unstable_by_key(|&(skill, _)| skill);
        pairs.dedup_by_key(|&mut (skill, _)| skill);
        Ok(Current(pairs))
    }

    /// An agent's read as the plan uses it: its assignments, or the error
    /// that fails the agent's rows. Only an error that ends the run
    /// (authentication, permission, network) is returned as such.
    pub fn of_read(
        agent: AgentRef,
        read: Result<Option<Vec<wire::Assignment>>, ClientError>,
    ) -> Result<Result<Current, String>, ClientError> {
        match read {
            Ok(Some(assignments)) => Ok(Current::from_wire(&assignments)),
            Ok(None) => Ok(Err(format!("agent {agent} not found in the tenant (404)"))),
            Err(error) if error.is_fatal() => Err(error),
            Err(error) => Ok(Err(error.to_string())),
        }
    }

    pub fn get(&self, skill: u64) -> Option<State> {
        self.0
            .binary_search_by_key(&skill, |&(s, _)| s)
            .ok()
            .map(|i| self.0[i].1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, State)> + '_ {
        self.0.iter().copied()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

/// One roster row and what it will do.
#[derive(Debug, Clone)]
pub struct PlannedRow {
    pub row: Row,
    pub action: Action,
    /// The tenant's state before (for change, unchanged and remove).
    pub from: Option<State>,
    /// The state the row asks for (for add, change and unchanged).
    pub to: Option<State>,
}

/// A roster row that will not be sent, and why.
#[derive(Debug, Clone)]
pub struct RejectedRow {
    pub row: Row,
    /// `true`: the row is invalid for this tenant (unknown skill), which
    /// blocks the whole apply unless `--skip-invalid`. `false`: the row
    /// fails on its own (agent not found, inactive skill).
    pub invalid: bool,
    pub error: String,
}

/// Everything to do for one agent.
#[derive(Debug, Clone)]
pub struct AgentPlan {
    /// The agent as it goes in the path.
    pub agent: AgentRef,
    /// The agent's current assignments, as read.
    pub current: Current,
    pub rows: Vec<PlannedRow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    Post,
    Put,
    Delete,
}

impl WriteKind {
    pub fn method(self) -> reqwest::Method {
        match self {
            WriteKind::Post => reqwest::Method::POST,
            WriteKind::Put => reqwest::Method::PUT,
            WriteKind::Delete => reqwest::Method::DELETE,
        }
    }
}

/// One write to `/agents/{agent}/skills`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRequest {
    pub kind: WriteKind,
    pub agent: AgentRef,
    pub body: SkillsBody,
}

impl WriteRequest {
    pub fn path(&self) -> String {
        format!("/agents/{}/skills", self.agent.path_segment())
    }
}

impl AgentPlan {
    pub fn has_changes(&self) -> bool {
        self.rows.iter().any(|r| r.action != Action::Unchanged)
    }

    /// The writes that take this agent from its current state to the
    /// roster's, in order: DELETE removals, POST additions, then — when any
    /// assignment changes — PUT the agent's **full merged set**: every
    /// current assignment (unchanged ones at their current values), the
    /// changed ones at their new values and the ones just added. Whether
    /// the tenant's PUT modifies only the listed skills or replaces the
    /// whole set, the result is the same and nothing is wiped; a retried
    /// PUT carries the same full set.
    pub fn requests(&self) -> Vec<WriteRequest> {
        let mut requests = Vec::new();
        let write = |kind, skills: Vec<SkillWrite>| WriteRequest {
            kind,
            agent: self.agent,
            body: SkillsBody { skills },
        };
        let by_action = |action: Action| self.rows.iter().filter(move |r| r.action == action);

        let removals: Vec<SkillWrite> = by_action(Action::Remove)
            .map(|r| SkillWrite {
                skill_id: r.row.skill.get(),
                proficiency: None,
                is_active: None,
            })
            .collect();
        if !removals.is_empty() {
            requests.push(write(WriteKind::Delete, removals));
        }

        let additions: Vec<SkillWrite> = by_action(Action::Add)
            .filter_map(|r| r.to.map(|to| full_row(r.row.skill.get(), to)))
            .collect();
        if !additions.is_empty() {
            requests.push(write(WriteKind::Post, additions));
        }

        if by_action(Action::Change).next().is_some() {
            let mut target: BTreeMap<u64, State> = self.current.iter().collect();
            for r in &self.rows {
                let skill = r.row.skill.get();
                match (r.action, r.to) {
                    (Action::Remove, _) => {
                        target.remove(&skill);
                    }
                    (_, Some(to)) => {
                        target.insert(skill, to);
                    }
                    (_, None) => {}
                }
            }
            let set = target
                .into_iter()
                .map(|(skill, state)| full_row(skill, state))
                .collect();
            requests.push(write(WriteKind::Put, set));
        }
        requests
    }
}

fn full_row(skill_id: u64, state: State) -> SkillWrite {
    SkillWrite {
        skill_id,
        proficiency: Some(state.proficiency),
        is_active: Some(state.active),
    }
}

/// The whole plan: what happens to every roster row.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub agents: Vec<AgentPlan>,
    pub rejected: Vec<RejectedRow>,
    /// Skill names by id, for rendering.
    pub skill_names: HashMap<u64, String>,
}

/// How many rows will do what.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
        let mut counts = Counts::default();
        for row in self.agents.iter().flat_map(|a| &a.rows) {
            match row.action {
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
}

/// What the plan needs to know of the tenant.
#[derive(Debug, Clone, Default)]
pub struct TenantView {
    pub skills: HashMap<u64, wire::Skill>,
    /// Current assignments per roster agent, or why they could not be
    /// read (no such agent, an answer not to be trusted).
    pub agents: HashMap<AgentRef, Result<Current, String>>,
}

/// Reads every roster agent's assignments, at most `concurrency` requests
/// at a time. `on_agent` is called once per agent read (for a progress
/// bar).
pub async fn read_tenant(
    client: &Client,
    rows: &[Row],
    skills: HashMap<u64, wire::Skill>,
    concurrency: usize,
    on_agent: &(dyn Fn() + Sync),
) -> Result<TenantView, ClientError> {
    let mut view = TenantView {
        skills,
        agents: HashMap::new(),
    };
    let mut agents: Vec<AgentRef> = Vec::new();
    let mut seen = HashSet::new();
    for row in rows {
        if seen.insert(row.agent) {
            agents.push(row.agent);
        }
    }
    let mut reads = stream::iter(agents)
        .map(|agent| async move { (agent, client.agent_skills(&agent).await) })
        .buffer_unordered(concurrency.max(1));
    while let Some((agent, result)) = reads.next().await {
        view.agents.insert(agent, Current::of_read(agent, result)?);
        on_agent();
    }
    Ok(view)
}

/// The diff of the rows against the tenant. Pure: the same rows and view
/// give the same plan. Agents keep the order they first appear in. With
/// `prune`, every assignment of a roster agent that the roster does not
/// name is removed (authoritative mode).
pub fn build(rows: &[Row], tenant: &TenantView, prune: bool) -> Plan {
    let mut order: Vec<AgentRef> = Vec::new();
    let mut grouped: HashMap<AgentRef, Vec<Row>> = HashMap::new();
    for row in rows {
        let agent = row.agent;
        grouped
            .entry(agent)
            .or_insert_with(|| {
                order.push(agent);
                Vec::new()
            })
            .push(*row);
    }

    let mut plan = Plan {
        skill_names: tenant
            .skills
            .values()
            .map(|s| (s.skill_id, s.skill_name.clone()))
            .collect(),
        ..Plan::default()
    };
    for agent in order {
        let rows = grouped.remove(&agent).unwrap_or_default();
        match tenant.agents.get(&agent) {
            Some(Ok(current)) => {
                let (agent_plan, rejected) =
                    plan_agent(agent, &rows, current.clone(), &tenant.skills, prune);
                plan.rejected.extend(rejected);
                if !agent_plan.rows.is_empty() {
                    plan.agents.push(agent_plan);
                }
            }
            Some(Err(error)) => plan
                .rejected
                .extend(rows.into_iter().map(|row| RejectedRow {
                    row,
                    invalid: false,
                    error: error.clone(),
                })),
            None => plan
                .rejected
                .extend(rows.into_iter().map(|row| RejectedRow {
                    row,
                    invalid: false,
                    error: format!("agent {agent} was not read"),
                })),
        }
    }
    plan
}

/// One agent's share of the plan, against its current assignments. Apply
/// calls this again with a fresh read just before writing.
pub fn plan_agent(
    agent: AgentRef,
    rows: &[Row],
    current: Current,
    skills: &HashMap<u64, wire::Skill>,
    prune: bool,
) -> (AgentPlan, Vec<RejectedRow>) {
    let mut planned = Vec::new();
    let mut rejected = Vec::new();
    for row in rows {
        let skill: SkillId = row.skill;
        let Some(info) = skills.get(&skill.get()) else {
            rejected.push(RejectedRow {
                row: *row,
                invalid: true,
                error: format!("skill {skill} does not exist in this tenant"),
            });
            continue;
        };
        let from = current.get(skill.get());
        let (action, to) = match (row.target, from) {
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
        };
        // Restating an assignment of an inactive skill, or removing one,
        // is fine; assigning or changing it is not.
        if !info.is_active && matches!(action, Action::Add | Action::Change) {
            rejected.push(RejectedRow {
                row: *row,
                invalid: false,
                error: format!(
                    "skill {skill} ({}) is inactive in this tenant; activate it in CXone or drop the row",
                    info.skill_name
                ),
            });
            continue;
        }
        planned.push(PlannedRow {
            row: *row,
            action,
            from,
            to,
        });
    }
    if prune {
        let named: HashSet<u64> = rows.iter().map(|r| r.skill.get()).collect();
        for (skill, state) in current.iter().filter(|(skill, _)| !named.contains(skill)) {
            let Some(skill_id) = SkillId::new(skill) else {
                continue;
            };
            planned.push(PlannedRow {
                row: Row {
                    line: PRUNED,
                    agent,
                    skill: skill_id,
                    target: Target::Remove,
                },
                action: Action::Remove,
                from: Some(state),
                to: None,
            });
        }
    }
    (
        AgentPlan {
            agent,
            current,
            rows: planned,
        },
        rejected,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Proficiency;

    fn row(line: u64, agent: u64, skill: u64, target: Target) -> Row {
        Row {
            line,
            agent: AgentRef::AgentId(agent),
            skill: SkillId::new(skill).unwrap(),
            target,
        }
    }

    fn set(p: i64, active: Option<bool>) -> Target {
        Target::Set {
            proficiency: Proficiency::new(p).unwrap(),
            active,
        }
    }

    fn assignment(agent: u64, skill: u64, p: i64, active: bool) -> wire::Assignment {
        wire::Assignment {
            agent_id: agent,
            skill_id: skill,
            agent_proficiency_value: p,
            is_active: Some(active),
            ..wire::Assignment::default()
        }
    }

    fn tenant() -> TenantView {
        let skill = |id, active| wire::Skill {
            skill_id: id,
            skill_name: format!("S{id}"),
            media_type_id: None,
            is_active: active,
        };
        let mut view = TenantView {
            skills: [
                skill(1, true),
                skill(2, true),
                skill(3, true),
                skill(4, true),
                skill(9, false),
            ]
            .into_iter()
            .map(|s| (s.skill_id, s))
            .collect(),
            ..TenantView::default()
        };
        view.agents.insert(
            AgentRef::AgentId(10),
            Current::from_wire(&[
                assignment(10, 1, 3, true),
                assignment(10, 2, 7, true),
                assignment(10, 3, 4, false),
            ]),
        );
        view.agents
            .insert(AgentRef::AgentId(11), Ok(Current::default()));
        view.agents.insert(
            AgentRef::AgentId(12),
            Err("agent 12 not found in the tenant (404)".to_owned()),
        );
        view
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
        let plan = build(&rows, &tenant(), false);
        let actions: Vec<(u64, Action)> = plan
            .agents
            .iter()
            .flat_map(|a| &a.rows)
            .map(|r| (r.row.line, r.action))
            .collect();
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
    fn put_carries_the_full_merged_set_after_delete_and_post() {
        let rows = [
            row(2, 10, 2, set(2, None)),
            row(3, 10, 3, Target::Remove),
            row(4, 10, 4, set(5, Some(false))),
        ];
        let plan = build(&rows, &tenant(), false);
        let requests = plan.agents[0].requests();
        let kinds: Vec<WriteKind> = requests.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [WriteKind::Delete, WriteKind::Post, WriteKind::Put]);
        let json = |r: &WriteRequest| serde_json::to_string(&r.body).unwrap();
        assert_eq!(json(&requests[0]), r#"{"skills":[{"skillId":3}]}"#);
        assert_eq!(
            json(&requests[1]),
            r#"{"skills":[{"skillId":4,"proficiency":5,"isActive":false}]}"#
        );
        // Skill 1 is not in the roster and is carried at its current value;
        // skill 3 is being removed; skill 4 was just added.
        assert_eq!(
            json(&requests[2]),
            r#"{"skills":[{"skillId":1,"proficiency":3,"isActive":true},{"skillId":2,"proficiency":2,"isActive":true},{"skillId":4,"proficiency":5,"isActive":false}]}"#
        );
    }

    #[test]
    fn unchanged_agents_need_no_write_and_adds_alone_need_no_put() {
        let plan = build(&[row(2, 10, 1, set(3, None))], &tenant(), false);
        assert!(!plan.agents[0].has_changes());
        assert!(plan.agents[0].requests().is_empty());
        let plan = build(&[row(2, 11, 1, set(3, None))], &tenant(), false);
        let kinds: Vec<WriteKind> = plan.agents[0].requests().iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [WriteKind::Post]);
    }

    #[test]
    fn prune_removes_what_the_roster_does_not_name() {
        let rows = [row(2, 10, 2, set(2, None))];
        let plan = build(&rows, &tenant(), true);
        let planned: Vec<(u64, u64, Action)> = plan.agents[0]
            .rows
            .iter()
            .map(|r| (r.row.line, r.row.skill.get(), r.action))
            .collect();
        assert_eq!(
            planned,
            [
                (2, 2, Action::Change),
                (PRUNED, 1, Action::Remove),
                (PRUNED, 3, Action::Remove)
            ]
        );
        let kinds: Vec<WriteKind> = plan.agents[0].requests().iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [WriteKind::Delete, WriteKind::Put]);
        // Without --prune the same roster removes nothing.
        assert_eq!(build(&rows, &tenant(), false).counts().remove, 0);
    }

    #[test]
    fn an_untrustworthy_read_is_not_written_back() {
        let mut missing_flag = assignment(14, 1, 3, true);
        missing_flag.is_active = None;
        assert!(
            Current::from_wire(&[missing_flag])
                .unwrap_err()
                .contains("no isActive")
        );
        assert!(
            Current::from_wire(&[assignment(14, 1, 0, true)])
                .unwrap_err()
                .contains("outside 1..=20")
        );
    }

    #[test]
    fn an_inactive_skill_fails_only_rows_that_would_write() {
        let mut view = tenant();
        view.agents.insert(
            AgentRef::AgentId(13),
            Current::from_wire(&[assignment(13, 9, 4, true)]),
        );
        let unchanged = build(&[row(2, 13, 9, set(4, None))], &view, false);
        assert!(unchanged.rejected.is_empty());
        assert_eq!(unchanged.counts().unchanged, 1);
        let removed = build(&[row(2, 13, 9, Target::Remove)], &view, false);
        assert_eq!(removed.counts().remove, 1);
        let changed = build(&[row(2, 13, 9, set(3, None))], &view, false);
        assert_eq!(changed.rejected.len(), 1);
        assert!(changed.rejected[0].error.contains("inactive"));
    }
}
