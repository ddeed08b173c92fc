//! Stage 4: the plan → the writes that carry it out, chosen for the fewest
//! requests the API allows under rules that never wipe:
//!
//! - **Adds and changes at 1..=5**, and flag-only changes of an assignment
//!   at 1..=5, go through the add-or-modify upsert `POST /agents/skills`,
//!   at most `batch_size` pairs a body, always with `isActive`.
//! - **Adds at 6..=20** go by per-agent `POST /agents/{id}/skills`.
//! - **Changes to 6..=20**, and flag-only changes of an assignment at
//!   6..=20, go by per-agent `PUT /agents/{id}/skills` carrying the agent's
//!   **full merged set in one body, never split** (under replace semantics
//!   a split set keeps only its last part). Its body is built at send time
//!   from a fresh read (see `apply`), never here.
//! - **Removals** go by `DELETE /agents/{id}/skills` or
//!   `DELETE /skills/{id}/agents`, whichever covers them in fewer targets:
//!   a minimum vertex cover of the agent–skill graph of removals
//!   ([`crate::cover`]).
//! - Never a per-skill POST or PUT (a per-skill full agent set may hold
//!   agents the key cannot see and levels the bulk writes refuse), never a
//!   change as DELETE + POST (the agent would lack the skill in between).
//!
//! Without the bulk endpoints (`--no-bulk`, or a tenant that lacks them)
//! every write is per agent: adds by POST, changes by the full-set PUT.

use std::collections::{BTreeMap, HashMap};

use reqwest::Method;
use serde::Serialize;

use crate::client::{Route, endpoint_key};
use crate::cover::{self, Side};
use crate::model::State;
use crate::plan::{Action, Pair, Plan};
use crate::wire::{
    AgentWrite, AgentsBody, IdString, SkillWrite, SkillsBody, UpsertBody, UpsertItem, UpsertSkills,
};

/// The default and largest rows per write body (pairs, for the upsert):
/// what the contract's service accepts before answering 413.
pub const DEFAULT_BATCH_SIZE: usize = 1_000;

/// How writes may be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strategy {
    /// Whether the bulk endpoints (the upsert, the per-skill DELETE) may be
    /// used.
    pub bulk: bool,
    /// Rows per body (pairs, for the upsert); the full-set PUT is never
    /// split.
    pub batch_size: usize,
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy {
            bulk: true,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    /// `POST /agents/skills`.
    Upsert,
    /// `POST /agents/{id}/skills`.
    AgentPost,
    /// `PUT /agents/{id}/skills`, the full merged set.
    AgentPut,
    /// `DELETE /agents/{id}/skills`.
    AgentDelete,
    /// `DELETE /skills/{id}/agents`.
    SkillDelete,
}

impl WriteKind {
    pub fn method(self) -> Method {
        match self {
            WriteKind::Upsert | WriteKind::AgentPost => Method::POST,
            WriteKind::AgentPut => Method::PUT,
            WriteKind::AgentDelete | WriteKind::SkillDelete => Method::DELETE,
        }
    }

    pub fn route(self) -> Route {
        match self {
            WriteKind::Upsert => Route::AgentsSkills,
            WriteKind::AgentPost | WriteKind::AgentPut | WriteKind::AgentDelete => {
                Route::AgentSkills
            }
            WriteKind::SkillDelete => Route::SkillAgents,
        }
    }

    /// `"POST /agents/skills"`.
    pub fn endpoint(self) -> String {
        endpoint_key(&self.method(), self.route())
    }

    /// Whether this write needs an endpoint some tenants lack.
    pub fn is_bulk(self) -> bool {
        matches!(self, WriteKind::Upsert | WriteKind::SkillDelete)
    }
}

/// One write: its kind, its target, and the plan's pairs it carries (by
/// index into [`Plan::pairs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub kind: WriteKind,
    /// The agent (per-agent writes) or the skill (per-skill DELETE).
    pub target: Option<u64>,
    pub pairs: Vec<usize>,
}

impl Write {
    pub fn method(&self) -> Method {
        self.kind.method()
    }

    /// The path under the API root.
    pub fn path(&self) -> String {
        let id = self.target.unwrap_or_default();
        match self.kind {
            WriteKind::Upsert => "/agents/skills".to_owned(),
            WriteKind::AgentPost | WriteKind::AgentPut | WriteKind::AgentDelete => {
                format!("/agents/{id}/skills")
            }
            WriteKind::SkillDelete => format!("/skills/{id}/agents"),
        }
    }

    /// The agents this write names.
    pub fn agents(&self, plan: &Plan) -> Vec<u64> {
        let mut agents: Vec<u64> = self.pairs.iter().map(|&i| plan.pairs[i].agent).collect();
        agents.sort_unstable();
        agents.dedup();
        agents
    }

    /// The body of every write but the PUT, whose full set is read at send
    /// time ([`put_body`]): `None` for it, never an empty set that a
    /// replacing PUT would take for "remove everything".
    pub fn body(&self, plan: &Plan) -> Option<Body> {
        let pairs = || self.pairs.iter().map(|&i| &plan.pairs[i]);
        Some(match self.kind {
            WriteKind::Upsert => Body::Upsert(upsert_body(pairs())),
            WriteKind::AgentPost => Body::Skills(SkillsBody {
                skills: pairs()
                    .filter_map(|p| p.after.map(|state| full_row(p.skill, state)))
                    .collect(),
            }),
            WriteKind::AgentDelete => Body::Skills(SkillsBody {
                skills: pairs()
                    .map(|p| SkillWrite {
                        skill_id: IdString(p.skill),
                        proficiency: None,
                        is_active: None,
                    })
                    .collect(),
            }),
            WriteKind::SkillDelete => Body::Agents(AgentsBody {
                agents: pairs()
                    .map(|p| AgentWrite {
                        agent_id: IdString(p.agent),
                    })
                    .collect(),
            }),
            WriteKind::AgentPut => return None,
        })
    }

    /// Splits a body in two (for a 413, or a body that keeps failing), by
    /// agent where it names several, else by pair; `None` when it cannot
    /// be split (one pair, or a full-set PUT).
    pub fn split(&self, plan: &Plan) -> Option<(Write, Write)> {
        if self.kind == WriteKind::AgentPut || self.pairs.len() < 2 {
            return None;
        }
        let agents = self.agents(plan);
        let (first, second): (Vec<usize>, Vec<usize>) = if agents.len() > 1 {
            let half: std::collections::HashSet<u64> =
                agents[..agents.len() / 2].iter().copied().collect();
            self.pairs
                .iter()
                .partition(|&&i| half.contains(&plan.pairs[i].agent))
        } else {
            let mid = self.pairs.len() / 2;
            (self.pairs[..mid].to_vec(), self.pairs[mid..].to_vec())
        };
        let part = |pairs| Write {
            kind: self.kind,
            target: self.target,
            pairs,
        };
        Some((part(first), part(second)))
    }
}

/// A write body, serialised as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Body {
    Skills(SkillsBody),
    Agents(AgentsBody),
    Upsert(UpsertBody),
}

/// The writes for a plan, in the order they go: phase one (upserts,
/// per-agent POSTs, DELETEs) and phase two (full-set PUTs, after the
/// agent's phase-one writes are answered).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writes {
    pub first: Vec<Write>,
    pub puts: Vec<Write>,
}

impl Writes {
    pub fn len(&self) -> usize {
        self.first.len() + self.puts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn all(&self) -> impl Iterator<Item = &Write> {
        self.first.iter().chain(&self.puts)
    }

    /// The agents that get a full-set PUT.
    pub fn put_agents(&self) -> Vec<u64> {
        self.puts.iter().filter_map(|w| w.target).collect()
    }

    /// Requests by endpoint (`"POST /agents/skills"` → 2).
    pub fn by_endpoint(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for write in self.all() {
            *counts.entry(write.kind.endpoint()).or_default() += 1;
        }
        counts
    }
}

/// Chooses the writes for the plan's changed pairs.
pub fn choose(plan: &Plan, strategy: Strategy) -> Writes {
    let batch = strategy.batch_size.max(1);
    let mut upsert: Vec<usize> = Vec::new();
    let mut posts: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    let mut puts: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    let mut removals: Vec<usize> = Vec::new();
    for (i, pair) in plan.pairs.iter().enumerate() {
        let bulk = strategy.bulk && pair.after.is_some_and(State::bulk_writable);
        match pair.action {
            Action::Unchanged => {}
            Action::Remove => removals.push(i),
            Action::Add if bulk => upsert.push(i),
            Action::Add => posts.entry(pair.agent).or_default().push(i),
            Action::Change if bulk => upsert.push(i),
            Action::Change => puts.entry(pair.agent).or_default().push(i),
        }
    }
    let mut first = Vec::new();
    // Upsert bodies: pairs sorted so that a body groups whole skills and
    // levels, which keeps it short.
    upsert.sort_by_key(|&i| {
        let p = &plan.pairs[i];
        let state = p.after.unwrap_or(State {
            proficiency: 0,
            active: false,
        });
        (state.proficiency, state.active, p.skill, p.agent)
    });
    for chunk in upsert.chunks(batch) {
        first.push(Write {
            kind: WriteKind::Upsert,
            target: None,
            pairs: chunk.to_vec(),
        });
    }
    for (agent, pairs) in posts {
        for chunk in pairs.chunks(batch) {
            first.push(Write {
                kind: WriteKind::AgentPost,
                target: Some(agent),
                pairs: chunk.to_vec(),
            });
        }
    }
    first.extend(removal_writes(plan, &removals, strategy.bulk, batch));
    Writes {
        first,
        puts: puts
            .into_iter()
            .map(|(agent, pairs)| Write {
                kind: WriteKind::AgentPut,
                target: Some(agent),
                pairs,
            })
            .collect(),
    }
}

/// DELETEs for the removed pairs: per agent, or by the minimum cover of
/// agents and skills when the per-skill DELETE may be used.
fn removal_writes(plan: &Plan, removals: &[usize], bulk: bool, batch: usize) -> Vec<Write> {
    let mut targets: Vec<(WriteKind, u64, Vec<usize>)> = Vec::new();
    if bulk {
        let index: HashMap<(u64, u64), usize> = removals
            .iter()
            .map(|&i| ((plan.pairs[i].agent, plan.pairs[i].skill), i))
            .collect();
        let edges: Vec<(u64, u64)> = index.keys().copied().collect();
        for (side, edges) in cover::min_vertex_cover(&edges) {
            let mut pairs: Vec<usize> = edges.iter().map(|e| index[e]).collect();
            pairs.sort_unstable();
            targets.push(match side {
                Side::Left(agent) => (WriteKind::AgentDelete, agent, pairs),
                Side::Right(skill) => (WriteKind::SkillDelete, skill, pairs),
            });
        }
    } else {
        let mut by_agent: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for &i in removals {
            by_agent.entry(plan.pairs[i].agent).or_default().push(i);
        }
        targets.extend(
            by_agent
                .into_iter()
                .map(|(agent, pairs)| (WriteKind::AgentDelete, agent, pairs)),
        );
    }
    targets
        .into_iter()
        .flat_map(|(kind, target, pairs)| {
            pairs
                .chunks(batch)
                .map(|chunk| Write {
                    kind,
                    target: Some(target),
                    pairs: chunk.to_vec(),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The upsert body of these pairs: one item per (skill, level, flag) with
/// its agents.
fn upsert_body<'a>(pairs: impl Iterator<Item = &'a Pair>) -> UpsertBody {
    let mut groups: BTreeMap<(u64, u8, bool), Vec<IdString>> = BTreeMap::new();
    for pair in pairs {
        if let Some(state) = pair.after {
            groups
                .entry((pair.skill, state.proficiency, state.active))
                .or_default()
                .push(IdString(pair.agent));
        }
    }
    UpsertBody {
        agent_and_skill_details: groups
            .into_iter()
            .map(|((skill, proficiency, is_active), agent_ids)| UpsertItem {
                agent_ids,
                skills: vec![UpsertSkills {
                    skill_ids: vec![IdString(skill)],
                    proficiency,
                    is_active,
                }],
            })
            .collect(),
    }
}

/// The full merged set an agent's PUT carries: every assignment the fresh
/// read holds (unchanged ones at their current values), with the roster's
/// targets for the skills the agent holds. A skill the agent does not hold
/// is not listed: a PUT cannot add it, and would fail its row.
///
/// The PUT never removes anything itself. A skill the roster removes is
/// left out only when `removed` says its DELETE was answered: where the
/// tenant refused the DELETE (or did not say), the skill stays listed at
/// its current value, so that a replacing PUT cannot remove by omission
/// what the tenant would not remove.
pub fn put_body(
    fresh: &[(u64, State)],
    plan: &Plan,
    agent_pairs: &[usize],
    removed: impl Fn(usize) -> bool,
) -> SkillsBody {
    let mut set: BTreeMap<u64, State> = fresh.iter().copied().collect();
    for &i in agent_pairs {
        let pair = &plan.pairs[i];
        match (pair.action, pair.after) {
            (Action::Remove, _) if removed(i) => {
                set.remove(&pair.skill);
            }
            (Action::Remove, _) => {}
            (_, Some(after)) => {
                if let Some(held) = set.get_mut(&pair.skill) {
                    *held = after;
                }
            }
            _ => {}
        }
    }
    SkillsBody {
        skills: set
            .into_iter()
            .map(|(skill, state)| full_row(skill, state))
            .collect(),
    }
}

pub(crate) fn full_row(skill: u64, state: State) -> SkillWrite {
    SkillWrite {
        skill_id: IdString(skill),
        proficiency: Some(state.proficiency),
        is_active: Some(state.active),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Target;
    use crate::plan::PRUNED;

    fn pair(agent: u64, skill: u64, action: Action, before: Option<u8>, after: Option<u8>) -> Pair {
        let state = |p: u8| State {
            proficiency: p,
            active: true,
        };
        Pair {
            line: 2,
            agent,
            skill,
            target: Target::Remove,
            action,
            before: before.map(state),
            after: after.map(state),
        }
    }

    fn plan(pairs: Vec<Pair>) -> Plan {
        Plan {
            pairs,
            ..Plan::default()
        }
    }

    fn kinds(writes: &Writes) -> Vec<(WriteKind, Option<u64>, usize)> {
        writes
            .all()
            .map(|w| (w.kind, w.target, w.pairs.len()))
            .collect()
    }

    #[test]
    fn levels_1_to_5_go_bulk_and_6_to_20_per_agent() {
        let p = plan(vec![
            pair(1, 10, Action::Add, None, Some(5)),
            pair(2, 10, Action::Add, None, Some(5)),
            pair(1, 11, Action::Add, None, Some(12)),
            pair(1, 12, Action::Change, Some(7), Some(3)),
            pair(2, 12, Action::Change, Some(3), Some(9)),
            pair(3, 12, Action::Unchanged, Some(3), Some(3)),
        ]);
        let writes = choose(&p, Strategy::default());
        assert_eq!(
            kinds(&writes),
            [
                (WriteKind::Upsert, None, 3),
                (WriteKind::AgentPost, Some(1), 1),
                (WriteKind::AgentPut, Some(2), 1)
            ]
        );
        let Some(Body::Upsert(body)) = writes.first[0].body(&p) else {
            panic!("not an upsert")
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"agentAndSkillDetails":[{"agentIds":["1","2"],"skills":[{"skillIds":["10"],"proficiency":5,"isActive":true}]},{"agentIds":["1"],"skills":[{"skillIds":["12"],"proficiency":3,"isActive":true}]}]}"#
        );
    }

    #[test]
    fn without_bulk_every_write_is_per_agent() {
        let p = plan(vec![
            pair(1, 10, Action::Add, None, Some(5)),
            pair(1, 12, Action::Change, Some(7), Some(3)),
            pair(2, 12, Action::Remove, Some(3), None),
        ]);
        let writes = choose(
            &p,
            Strategy {
                bulk: false,
                batch_size: 1000,
            },
        );
        assert_eq!(
            kinds(&writes),
            [
                (WriteKind::AgentPost, Some(1), 1),
                (WriteKind::AgentDelete, Some(2), 1),
                (WriteKind::AgentPut, Some(1), 1)
            ]
        );
    }

    #[test]
    fn removals_take_the_fewest_targets_and_batches_split_them() {
        // Skill 7 removed from agents 1..=5, and agent 1 loses skill 8:
        // one per-skill DELETE and one per-agent (or skill 8) DELETE.
        let mut pairs: Vec<Pair> = (1..=5)
            .map(|a| pair(a, 7, Action::Remove, Some(3), None))
            .collect();
        pairs.push(pair(1, 8, Action::Remove, Some(3), None));
        let p = plan(pairs);
        let writes = choose(&p, Strategy::default());
        assert_eq!(writes.len(), 2, "{:?}", kinds(&writes));
        assert!(
            kinds(&writes).contains(&(WriteKind::SkillDelete, Some(7), 5)),
            "{:?}",
            kinds(&writes)
        );
        let small = choose(
            &p,
            Strategy {
                bulk: true,
                batch_size: 2,
            },
        );
        assert_eq!(small.len(), 4, "5 pairs in bodies of 2, plus one");
    }

    #[test]
    fn upsert_bodies_hold_at_most_batch_size_pairs() {
        let p = plan(
            (1..=25)
                .map(|a| pair(a, 10, Action::Add, None, Some(4)))
                .collect(),
        );
        let writes = choose(
            &p,
            Strategy {
                bulk: true,
                batch_size: 7,
            },
        );
        let sizes: Vec<usize> = writes.first.iter().map(|w| w.pairs.len()).collect();
        assert_eq!(sizes, [7, 7, 7, 4]);
    }

    #[test]
    fn the_put_carries_the_full_merged_set_without_answered_removals_or_unheld_skills() {
        let state = |p: u8, active: bool| State {
            proficiency: p,
            active,
        };
        let mut removed = pair(1, 3, Action::Remove, Some(4), None);
        removed.line = PRUNED;
        let p = plan(vec![
            pair(1, 2, Action::Change, Some(7), Some(9)),
            removed,
            pair(1, 5, Action::Add, None, Some(12)),
        ]);
        let fresh = [
            (1, state(3, true)),
            (2, state(7, true)),
            (3, state(4, false)),
        ];
        let body = put_body(&fresh, &p, &[0, 1, 2], |_| true);
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"skills":[{"skillId":"1","proficiency":3,"isActive":true},{"skillId":"2","proficiency":9,"isActive":true}]}"#
        );
        // A removal the tenant has not confirmed stays listed as it is.
        let body = put_body(&fresh, &p, &[0, 1, 2], |_| false);
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"skills":[{"skillId":"1","proficiency":3,"isActive":true},{"skillId":"2","proficiency":9,"isActive":true},{"skillId":"3","proficiency":4,"isActive":false}]}"#
        );
    }

    #[test]
    fn a_body_splits_by_agent_then_by_pair_and_a_put_never() {
        let p = plan(vec![
            pair(1, 10, Action::Add, None, Some(4)),
            pair(2, 10, Action::Add, None, Some(4)),
            pair(3, 10, Action::Add, None, Some(4)),
        ]);
        let write = Write {
            kind: WriteKind::Upsert,
            target: None,
            pairs: vec![0, 1, 2],
        };
        let (a, b) = write.split(&p).unwrap();
        assert_eq!((a.pairs.len(), b.pairs.len()), (1, 2));

        // Agent 1 with three pairs, agent 2 with one (in the middle): by
        // agent it is 3 and 1, where halving the pairs would give 2 and 2
        // and name agent 1 in both.
        let p = plan(vec![
            pair(1, 10, Action::Add, None, Some(4)),
            pair(2, 10, Action::Add, None, Some(4)),
            pair(1, 11, Action::Add, None, Some(4)),
            pair(1, 12, Action::Add, None, Some(4)),
        ]);
        let write = Write {
            kind: WriteKind::Upsert,
            target: None,
            pairs: vec![0, 1, 2, 3],
        };
        let (a, b) = write.split(&p).unwrap();
        assert_eq!((a.pairs.len(), b.pairs.len()), (3, 1));
        assert_eq!((a.agents(&p), b.agents(&p)), (vec![1], vec![2]));
        // One agent's four pairs: halved by pair.
        let p = plan(
            (10..14)
                .map(|s| pair(1, s, Action::Add, None, Some(4)))
                .collect(),
        );
        let write = Write {
            kind: WriteKind::Upsert,
            target: None,
            pairs: vec![0, 1, 2, 3],
        };
        let (a, b) = write.split(&p).unwrap();
        assert_eq!((a.pairs, b.pairs), (vec![0, 1], vec![2, 3]));

        let put = Write {
            kind: WriteKind::AgentPut,
            target: Some(1),
            pairs: vec![0, 1],
        };
        assert!(put.split(&p).is_none());
    }
}
