//! The tenant's live state and the rules of every read and write.
//!
//! Agents and skills never change while the sandbox runs, so they sit
//! outside any lock; only the assignments are behind an `RwLock`, held for
//! the few microseconds a request needs, so that concurrent GETs scale.
//! Assignments are keyed by `(agentId, skillId)` in a `BTreeMap`, which
//! makes one agent's skills a range scan and every listing come out sorted.
//!
//! The store speaks in domain terms (views of held assignments, per-row
//! outcomes); `routes.rs` turns them into the published shapes.
//!
//! Stamps and the lock go together so that `updatedSince` never misses a
//! change: a write takes the write lock, then its `lastUpdateTime`; a
//! listing takes the read lock, then its `lastPollTime`. A write stamped
//! before a poll has therefore been applied before that listing reads,
//! and one applied after the listing read is stamped after its poll.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use uuid::Uuid;

use super::PutSemantics;
use super::body::{SetRow, UpsertItem};
use super::clock::{self, Clock};
use super::shapes::HeldAssignment;
use super::tenant::{Agent, Skill, Tenant};
use crate::model::{AgentRef, Proficiency};

/// The highest proficiency the bulk writes (`POST /agents/skills`,
/// `POST`/`PUT /skills/{id}/agents`) publish: their `proficiency` is an
/// enum of 1..=5.
pub(super) const BULK_MAX_PROFICIENCY: u8 = 5;

/// Why one row of a write failed. The text is what the per-row `error`
/// says where the answer has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RowError {
    /// The skill id is not in the tenant.
    SkillNotFound,
    /// An agent id in a body is not in the tenant.
    AgentNotFound,
    /// Assigning, or changing an assignment of, an inactive skill.
    SkillInactive,
    /// PUT or DELETE of an assignment that does not exist.
    NotAssigned,
    /// POST of an assignment that already exists.
    AlreadyAssigned,
    /// The skill is in `SandboxOptions::refuse_skills`.
    Refused,
    /// Proficiency 6..=20 on a bulk write.
    BulkProficiency,
}

impl RowError {
    pub fn text(self) -> &'static str {
        match self {
            RowError::SkillNotFound => "Skill does not exist",
            RowError::AgentNotFound => "Agent does not exist",
            RowError::SkillInactive => "Skill is inactive",
            RowError::NotAssigned => "Skill is not assigned to agent",
            RowError::AlreadyAssigned => "Skill is already assigned to agent",
            RowError::Refused => "Skill assignment refused by the tenant (sandbox --refuse-skill)",
            RowError::BulkProficiency => {
                "Proficiency must be from 1 to 5 on this endpoint; use PUT /agents/{id}/skills for 6 to 20"
            }
        }
    }
}

/// The outcome of one row: the id the row named, and whether it applied.
pub(super) type Outcome = (u64, Result<(), RowError>);

/// One held assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Held {
    pub proficiency: Proficiency,
    pub is_active: bool,
    /// `lastUpdateTime`, in milliseconds since the epoch.
    pub updated: u64,
}

/// One held assignment with the agent and skill it joins, as every
/// listing needs them.
#[derive(Debug, Clone, Copy)]
pub(super) struct View<'a> {
    pub agent: &'a Agent,
    pub skill: &'a Skill,
    pub held: Held,
}

/// Which assignments a listing looks at.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scope<'a> {
    All,
    Agent(u64),
    Skill(u64),
    Skills(&'a HashSet<u64>),
}

/// The filters of the assignment listings; `None` does not filter.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Filter {
    /// `updatedSince`: inclusive, in nanoseconds since the epoch.
    pub updated_since: Option<i128>,
    /// The assignment's `isActive`.
    pub is_active: Option<bool>,
    pub is_agent_active: Option<bool>,
    pub is_skill_active: Option<bool>,
}

impl Filter {
    fn matches(&self, view: &View<'_>) -> bool {
        self.updated_since
            .is_none_or(|since| i128::from(view.held.updated) * 1_000_000 >= since)
            && self.is_active.is_none_or(|a| view.held.is_active == a)
            && self
                .is_agent_active
                .is_none_or(|a| view.agent.is_active == a)
            && self
                .is_skill_active
                .is_none_or(|a| view.skill.is_active == a)
    }
}

/// A listing page: the number of matches before paging, the page, and
/// the listing's `lastPollTime`.
pub(super) struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
    pub poll: u64,
}

type Map = BTreeMap<(u64, u64), Held>;

pub(super) struct Store {
    agents: Vec<Agent>,
    by_agent_id: HashMap<u64, usize>,
    by_user_id: HashMap<Uuid, usize>,
    skills: Vec<Skill>,
    by_skill_id: HashMap<u64, usize>,
    held: RwLock<Map>,
    /// Skills whose writes fail their row (`SandboxOptions::refuse_skills`).
    refused: HashSet<u64>,
    /// Stamps writes under the write lock and polls under the read lock
    /// (see the module's documentation); nothing outside the store uses it.
    clock: Clock,
    /// When the tenant was loaded: the update time of its agents.
    pub loaded: u64,
}

impl Store {
    pub fn new(tenant: Tenant, refused: HashSet<u64>) -> Store {
        let clock = Clock::new();
        let loaded = clock.commit();
        let held = tenant
            .assignments
            .iter()
            .map(|a| {
                let held = Held {
                    proficiency: a.proficiency,
                    is_active: a.is_active,
                    updated: loaded,
                };
                ((a.agent_id, a.skill_id), held)
            })
            .collect();
        Store {
            by_agent_id: (tenant.agents.iter().enumerate())
                .map(|(i, a)| (a.agent_id, i))
                .collect(),
            by_user_id: (tenant.agents.iter().enumerate())
                .map(|(i, a)| (a.user_id, i))
                .collect(),
            by_skill_id: (tenant.skills.iter().enumerate())
                .map(|(i, s)| (s.skill_id, i))
                .collect(),
            agents: tenant.agents,
            skills: tenant.skills,
            held: RwLock::new(held),
            refused,
            clock,
            loaded,
        }
    }

    pub fn agent_count(&self) -> usize {
        self.agents.len()
    }

    pub fn skill_count(&self) -> usize {
        self.skills.len()
    }

    pub fn agent(&self, agent: AgentRef) -> Option<&Agent> {
        let index = match agent {
            AgentRef::AgentId(id) => self.by_agent_id.get(&id),
            AgentRef::UserId(uuid) => self.by_user_id.get(&uuid),
        };
        index.map(|&i| &self.agents[i])
    }

    pub fn agent_by_id(&self, agent_id: u64) -> Option<&Agent> {
        self.agent(AgentRef::AgentId(agent_id))
    }

    pub fn skill(&self, skill_id: u64) -> Option<&Skill> {
        self.by_skill_id.get(&skill_id).map(|&i| &self.skills[i])
    }

    /// `GET /agents`: `search` matches user name, email, first, last or
    /// full name, case-insensitively; `is_active` and `updated_since` filter
    /// (agents do not change while the sandbox runs: all were updated when
    /// the tenant was loaded).
    pub fn agents(
        &self,
        search: Option<&str>,
        is_active: Option<bool>,
        updated_since: Option<i128>,
        top: usize,
        skip: usize,
    ) -> Page<&Agent> {
        let needle = search.map(str::to_lowercase);
        let fresh = updated_since.is_none_or(|since| i128::from(self.loaded) * 1_000_000 >= since);
        let matches = |a: &&Agent| {
            fresh
                && is_active.is_none_or(|active| a.is_active == active)
                && needle.as_deref().is_none_or(|n| {
                    [
                        a.user_name.as_str(),
                        &a.email_address,
                        &a.first_name,
                        &a.last_name,
                        &a.agent_name,
                    ]
                    .iter()
                    .any(|field| field.to_lowercase().contains(n))
                })
        };
        page(
            self.agents.iter().filter(matches),
            top,
            skip,
            self.clock.poll(),
        )
    }

    /// `GET /skills`: `search` matches the skill name case-insensitively.
    pub fn skills(&self, search: Option<&str>, top: usize, skip: usize) -> Page<&Skill> {
        let needle = search.map(str::to_lowercase);
        let matches = |s: &&Skill| {
            needle
                .as_deref()
                .is_none_or(|n| s.skill_name.to_lowercase().contains(n))
        };
        page(
            self.skills.iter().filter(matches),
            top,
            skip,
            self.clock.poll(),
        )
    }

    /// Every assignment in `scope` that passes `filter`, sorted by
    /// (agentId, skillId), paged; polled under the read lock, so every
    /// write stamped up to the poll is in the page.
    pub fn assignments(
        &self,
        scope: Scope<'_>,
        filter: &Filter,
        top: usize,
        skip: usize,
    ) -> Page<View<'_>> {
        let held = self.read();
        let poll = self.clock.poll();
        let range = match scope {
            Scope::Agent(agent_id) => held.range((agent_id, 0)..=(agent_id, u64::MAX)),
            _ => held.range(..),
        };
        let in_scope = |&(&(_, skill_id), _): &(&(u64, u64), &Held)| match scope {
            Scope::All | Scope::Agent(_) => true,
            Scope::Skill(id) => skill_id == id,
            Scope::Skills(ids) => ids.contains(&skill_id),
        };
        let views = range
            .filter(in_scope)
            .filter_map(|(&key, &h)| self.view(key, h))
            .filter(|view| filter.matches(view));
        page(views, top, skip, poll)
    }

    /// Every assignment, sorted by (agentId, skillId), in the sandbox's
    /// own shape.
    pub fn snapshot(&self) -> Vec<HeldAssignment> {
        self.read()
            .iter()
            .map(|(&(agent_id, skill_id), h)| HeldAssignment {
                agent_id,
                skill_id,
                proficiency: h.proficiency.get(),
                is_active: h.is_active,
                last_update_time: clock::format_millis(h.updated),
            })
            .collect()
    }

    pub fn held_count(&self) -> usize {
        self.read().len()
    }

    /// `POST /agents/{id}/skills`: proficiency 1..=20.
    pub fn assign_to_agent(&self, agent_id: u64, rows: &[SetRow]) -> Vec<Outcome> {
        let mut held = self.write();
        let now = self.clock.commit();
        rows.iter()
            .map(|row| {
                let outcome = self.skill_or_err(row.id).and_then(|skill| {
                    self.assign(&mut held, agent_id, skill, row, now, Proficiency::LOWEST)
                });
                (row.id, outcome)
            })
            .collect()
    }

    /// `PUT /agents/{id}/skills`. Under [`PutSemantics::Replace`] the
    /// agent's skills that the body does not list are dropped afterwards.
    pub fn modify_agent(
        &self,
        agent_id: u64,
        rows: &[SetRow],
        semantics: PutSemantics,
    ) -> Vec<Outcome> {
        let mut held = self.write();
        let now = self.clock.commit();
        let outcomes = rows
            .iter()
            .map(|row| {
                let outcome = self.skill_or_err(row.id).and_then(|skill| {
                    self.modify(&mut held, agent_id, skill, row, now, Proficiency::LOWEST)
                });
                (row.id, outcome)
            })
            .collect();
        if semantics == PutSemantics::Replace {
            let listed: HashSet<u64> = rows.iter().map(|r| r.id).collect();
            drop_unlisted_skills(&mut held, agent_id, &listed);
        }
        outcomes
    }

    /// `DELETE /agents/{id}/skills`. Removing an assignment of an inactive
    /// skill is allowed: it only ever reduces what an agent holds.
    pub fn remove_from_agent(&self, agent_id: u64, skill_ids: &[u64]) -> Vec<Outcome> {
        let mut held = self.write();
        skill_ids
            .iter()
            .map(|&skill_id| {
                let outcome = self
                    .skill_or_err(skill_id)
                    .and_then(|skill| self.remove(&mut held, agent_id, skill));
                (skill_id, outcome)
            })
            .collect()
    }

    /// `POST /skills/{id}/agents`: proficiency 1..=5.
    pub fn assign_to_skill(&self, skill: &Skill, rows: &[SetRow]) -> Vec<Outcome> {
        let mut held = self.write();
        let now = self.clock.commit();
        rows.iter()
            .map(|row| {
                let outcome = self.agent_or_err(row.id).and_then(|agent_id| {
                    self.assign(&mut held, agent_id, skill, row, now, BULK_MAX_PROFICIENCY)
                });
                (row.id, outcome)
            })
            .collect()
    }

    /// `PUT /skills/{id}/agents`: proficiency 1..=5. Under
    /// [`PutSemantics::Replace`] the agents holding this skill that the
    /// body does not list lose it, the same hazard as the per-agent PUT,
    /// seen from the skill's side.
    pub fn modify_skill(
        &self,
        skill: &Skill,
        rows: &[SetRow],
        semantics: PutSemantics,
    ) -> Vec<Outcome> {
        let mut held = self.write();
        let now = self.clock.commit();
        let outcomes = rows
            .iter()
            .map(|row| {
                let outcome = self.agent_or_err(row.id).and_then(|agent_id| {
                    self.modify(&mut held, agent_id, skill, row, now, BULK_MAX_PROFICIENCY)
                });
                (row.id, outcome)
            })
            .collect();
        if semantics == PutSemantics::Replace {
            let listed: HashSet<u64> = rows.iter().map(|r| r.id).collect();
            held.retain(|&(agent_id, skill_id), _| {
                skill_id != skill.skill_id || listed.contains(&agent_id)
            });
        }
        outcomes
    }

    /// `DELETE /skills/{id}/agents`.
    pub fn remove_from_skill(&self, skill: &Skill, agent_ids: &[u64]) -> Vec<Outcome> {
        let mut held = self.write();
        agent_ids
            .iter()
            .map(|&agent_id| {
                let outcome = self
                    .agent_or_err(agent_id)
                    .and_then(|agent_id| self.remove(&mut held, agent_id, skill));
                (agent_id, outcome)
            })
            .collect()
    }

    /// `DELETE /skills/{skillId}/agents/{agentId}`: one pair, no rows.
    pub fn remove_pair(&self, agent_id: u64, skill: &Skill) -> Result<(), RowError> {
        self.remove(&mut self.write(), agent_id, skill)
    }

    /// `POST /agents/skills`: every agent of an item gets every skill of
    /// each entry, added or modified, never removed; proficiency 1..=5.
    /// Rows come out item by item, entry by entry, agent by agent, skill
    /// by skill. With `replaces` (a test double for a tenant that
    /// misbehaves), each named agent's skills that the body does not give
    /// it are dropped afterwards.
    pub fn upsert(&self, items: &[UpsertItem], replaces: bool) -> Vec<(u64, u64, bool)> {
        let mut held = self.write();
        let now = self.clock.commit();
        let mut results = Vec::new();
        let mut given: HashMap<u64, HashSet<u64>> = HashMap::new();
        for item in items {
            for entry in &item.skills {
                for &agent_id in &item.agent_ids {
                    for &skill_id in &entry.skill_ids {
                        given.entry(agent_id).or_default().insert(skill_id);
                        let row = SetRow {
                            id: skill_id,
                            proficiency: entry.proficiency,
                            is_active: entry.is_active,
                        };
                        let outcome = self.agent_or_err(agent_id).and_then(|agent_id| {
                            let skill = self.skill_or_err(skill_id)?;
                            self.upsert_one(&mut held, agent_id, skill, &row, now)
                        });
                        results.push((agent_id, skill_id, outcome.is_ok()));
                    }
                }
            }
        }
        if replaces {
            for (agent_id, listed) in &given {
                drop_unlisted_skills(&mut held, *agent_id, listed);
            }
        }
        results
    }

    /// Sets (`Some`) or removes (`None`) one assignment behind the API's
    /// back, as another admin would: no per-row rules, a fresh
    /// `lastUpdateTime`.
    pub fn set(
        &self,
        agent_id: u64,
        skill_id: u64,
        value: Option<(Proficiency, bool)>,
    ) -> Result<(), String> {
        self.check_edit(agent_id, skill_id)?;
        let mut held = self.write();
        let now = self.clock.commit();
        match value {
            Some((proficiency, is_active)) => {
                held.insert(
                    (agent_id, skill_id),
                    Held {
                        proficiency,
                        is_active,
                        updated: now,
                    },
                );
            }
            None => {
                held.remove(&(agent_id, skill_id));
            }
        }
        Ok(())
    }

    /// Whether [`Store::set`] can edit this pair: both ids are the
    /// tenant's.
    pub fn check_edit(&self, agent_id: u64, skill_id: u64) -> Result<(), String> {
        if self.agent_by_id(agent_id).is_none() {
            return Err(format!("agent {agent_id} is not in the tenant"));
        }
        if self.skill(skill_id).is_none() {
            return Err(format!("skill {skill_id} is not in the tenant"));
        }
        Ok(())
    }

    /// A new assignment: `isActive` defaults to true.
    fn assign(
        &self,
        held: &mut Map,
        agent_id: u64,
        skill: &Skill,
        row: &SetRow,
        now: u64,
        max: u8,
    ) -> Result<(), RowError> {
        if row.proficiency.get() > max {
            return Err(RowError::BulkProficiency);
        }
        if !skill.is_active {
            return Err(RowError::SkillInactive);
        }
        if self.refused.contains(&skill.skill_id) {
            return Err(RowError::Refused);
        }
        let key = (agent_id, skill.skill_id);
        if held.contains_key(&key) {
            return Err(RowError::AlreadyAssigned);
        }
        held.insert(
            key,
            Held {
                proficiency: row.proficiency,
                is_active: row.is_active.unwrap_or(true),
                updated: now,
            },
        );
        Ok(())
    }

    /// A change to an existing assignment; an absent `isActive` keeps the
    /// current flag. A row that restates the assignment exactly succeeds
    /// even when the skill is inactive or refused: the contract makes
    /// clients send the agent's full merged set, and a row they did not
    /// mean to change must not fail.
    fn modify(
        &self,
        held: &mut Map,
        agent_id: u64,
        skill: &Skill,
        row: &SetRow,
        now: u64,
        max: u8,
    ) -> Result<(), RowError> {
        if row.proficiency.get() > max {
            return Err(RowError::BulkProficiency);
        }
        let Some(current) = held.get_mut(&(agent_id, skill.skill_id)) else {
            return Err(RowError::NotAssigned);
        };
        let is_active = row.is_active.unwrap_or(current.is_active);
        if current.proficiency == row.proficiency && current.is_active == is_active {
            return Ok(());
        }
        if !skill.is_active {
            return Err(RowError::SkillInactive);
        }
        if self.refused.contains(&skill.skill_id) {
            return Err(RowError::Refused);
        }
        *current = Held {
            proficiency: row.proficiency,
            is_active,
            updated: now,
        };
        Ok(())
    }

    /// The upsert's row: modify when held, assign when not.
    fn upsert_one(
        &self,
        held: &mut Map,
        agent_id: u64,
        skill: &Skill,
        row: &SetRow,
        now: u64,
    ) -> Result<(), RowError> {
        if held.contains_key(&(agent_id, skill.skill_id)) {
            self.modify(held, agent_id, skill, row, now, BULK_MAX_PROFICIENCY)
        } else {
            self.assign(held, agent_id, skill, row, now, BULK_MAX_PROFICIENCY)
        }
    }

    fn remove(&self, held: &mut Map, agent_id: u64, skill: &Skill) -> Result<(), RowError> {
        if self.refused.contains(&skill.skill_id) {
            return Err(RowError::Refused);
        }
        held.remove(&(agent_id, skill.skill_id))
            .map(|_| ())
            .ok_or(RowError::NotAssigned)
    }

    fn skill_or_err(&self, skill_id: u64) -> Result<&Skill, RowError> {
        self.skill(skill_id).ok_or(RowError::SkillNotFound)
    }

    fn agent_or_err(&self, agent_id: u64) -> Result<u64, RowError> {
        self.by_agent_id
            .contains_key(&agent_id)
            .then_some(agent_id)
            .ok_or(RowError::AgentNotFound)
    }

    /// Both ids come from the map, whose keys only ever name tenant agents
    /// and skills; `None` cannot happen but is not worth a panic.
    fn view(&self, (agent_id, skill_id): (u64, u64), held: Held) -> Option<View<'_>> {
        Some(View {
            agent: self.agent_by_id(agent_id)?,
            skill: self.skill(skill_id)?,
            held,
        })
    }

    /// A lock poisoned by a panicking request still holds consistent data
    /// (every write is a series of single map operations), so keep serving.
    fn read(&self) -> RwLockReadGuard<'_, Map> {
        self.held.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// A write's `lastUpdateTime` is taken after this returns, never
    /// before: see the module's documentation.
    fn write(&self) -> RwLockWriteGuard<'_, Map> {
        self.held.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Replace semantics: the agent keeps only the `listed` skills.
fn drop_unlisted_skills(held: &mut Map, agent_id: u64, listed: &HashSet<u64>) {
    let unlisted: Vec<(u64, u64)> = held
        .range((agent_id, 0)..=(agent_id, u64::MAX))
        .map(|(&key, _)| key)
        .filter(|(_, skill_id)| !listed.contains(skill_id))
        .collect();
    for key in unlisted {
        held.remove(&key);
    }
}

fn page<T>(items: impl Iterator<Item = T>, top: usize, skip: usize, poll: u64) -> Page<T> {
    let mut total = 0u64;
    let mut page = Vec::new();
    for (i, item) in items.enumerate() {
        total += 1;
        if i >= skip && page.len() < top {
            page.push(item);
        }
    }
    Page {
        total,
        items: page,
        poll,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A tenant of `agents` agents and `skills` skills, holding nothing.
    fn empty_tenant(agents: u64, skills: u64) -> Tenant {
        let agents: Vec<String> = (1..=agents)
            .map(|id| {
                format!(
                    r#"{{"agentId": {id}, "userId": "{id:08x}-0000-4000-8000-{id:012x}", "userName": "a{id}@t.example", "emailAddress": "a{id}@t.example", "firstName": "A", "lastName": "{id}", "isActive": true}}"#
                )
            })
            .collect();
        let skills: Vec<String> = (1..=skills)
            .map(|id| format!(r#"{{"skillId": {id}, "skillName": "S{id}", "isActive": true}}"#))
            .collect();
        Tenant::from_json(&format!(
            r#"{{"accessKeys": [{{"accessKeyId": "k", "accessKeySecret": "s", "readOnly": false}}],
            "clients": [{{"clientId": "c", "clientSecret": "cs"}}],
            "agents": [{}], "skills": [{}], "assignments": []}}"#,
            agents.join(","),
            skills.join(",")
        ))
        .unwrap()
    }

    /// A client that polls with `updatedSince` = its last `lastPollTime`
    /// ends up with every write, however concurrent writers race its
    /// reads: each pair is written once, so a write it missed stays missed.
    #[test]
    fn polling_updated_since_misses_no_write_made_during_the_reads() {
        let store = Store::new(empty_tenant(2000, 5), HashSet::new());
        let keys: Vec<(u64, u64)> = (1..=2000)
            .flat_map(|agent| (1..=5).map(move |skill| (agent, skill)))
            .collect();
        let writers = 2;
        let writing = AtomicUsize::new(writers);
        let mut seen: HashMap<(u64, u64), Proficiency> = HashMap::new();
        let mut absorb = |page: Page<View<'_>>| {
            for view in page.items {
                let key = (view.agent.agent_id, view.skill.skill_id);
                seen.insert(key, view.held.proficiency);
            }
            page.poll
        };
        let read_since = |since: Option<u64>| {
            let filter = Filter {
                updated_since: since.map(|p| i128::from(p) * 1_000_000),
                ..Filter::default()
            };
            store.assignments(Scope::All, &filter, usize::MAX, 0)
        };
        std::thread::scope(|scope| {
            for writer in 0..writers {
                let (store, writing, keys) = (&store, &writing, &keys);
                scope.spawn(move || {
                    let mine = keys
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % writers == writer);
                    for (i, &(agent, skill)) in mine {
                        let level = Proficiency::new((i % 20 + 1) as i64).unwrap();
                        store.set(agent, skill, Some((level, true))).unwrap();
                    }
                    writing.fetch_sub(1, Ordering::AcqRel);
                });
            }
            let mut poll = absorb(read_since(None));
            while writing.load(Ordering::Acquire) > 0 {
                poll = absorb(read_since(Some(poll)));
            }
            absorb(read_since(Some(poll)));
        });
        assert_eq!(seen.len(), keys.len(), "every pair was written and seen");
        let now: HashMap<(u64, u64), Proficiency> = store
            .snapshot()
            .into_iter()
            .map(|a| {
                let level = Proficiency::new(i64::from(a.proficiency)).unwrap();
                ((a.agent_id, a.skill_id), level)
            })
            .collect();
        assert_eq!(seen, now);
    }

    #[test]
    fn paging_counts_every_match_and_returns_the_window() {
        let p = page(1..=10, 3, 8, 0);
        assert_eq!(p.total, 10);
        assert_eq!(p.items, vec![9, 10]);
    }
}
