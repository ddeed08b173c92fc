//! The tenant's live state and the rules of every read and write.
//!
//! Agents and skills never change while the sandbox runs, so they sit
//! outside any lock; only the assignments are behind an `RwLock`, held for
//! the few microseconds a request needs, so that concurrent GETs scale.
//! Assignments are keyed by `(agentId, skillId)` in a `BTreeMap`, which
//! makes one agent's skills a range scan and every listing come out sorted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use uuid::Uuid;

use super::PutSemantics;
use super::body::SetRow;
use super::tenant::{Agent, Skill, Tenant};
use crate::model::{AgentRef, Proficiency};
use crate::wire;

/// Row error: the skill id is not in the tenant.
pub(super) const SKILL_NOT_FOUND: &str = "Skill does not exist";
/// Row error: assigning, or changing an assignment of, an inactive skill.
pub(super) const SKILL_INACTIVE: &str = "Skill is inactive";
/// Row error: PUT or DELETE of a skill the agent does not hold.
pub(super) const NOT_ASSIGNED: &str = "Skill is not assigned to agent";
/// Row error: POST of a skill the agent already holds.
pub(super) const ALREADY_ASSIGNED: &str = "Skill is already assigned to agent";
/// Row error for a skill named in `SandboxOptions::refuse_skills`.
pub(super) const REFUSED: &str = "Skill assignment refused by the tenant (sandbox --refuse-skill)";
/// Row error: an `agentId` in a `/skills/{id}/agents` body is not in the
/// tenant.
pub(super) const AGENT_NOT_FOUND: &str = "Agent does not exist";

/// One held assignment.
#[derive(Debug, Clone)]
struct Held {
    proficiency: Proficiency,
    is_active: bool,
    /// `lastUpdateTime`, shared so listing does not copy the text.
    updated: Arc<str>,
}

pub(super) struct Store {
    agents: Vec<Agent>,
    by_agent_id: HashMap<u64, usize>,
    by_user_id: HashMap<Uuid, usize>,
    skills: Vec<Skill>,
    by_skill_id: HashMap<u64, usize>,
    held: RwLock<BTreeMap<(u64, u64), Held>>,
    /// Skills whose writes fail their row (`SandboxOptions::refuse_skills`).
    refused: HashSet<u64>,
}

/// A listing page: the number of matches before paging, and the page.
pub(super) struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}

impl Store {
    pub fn new(tenant: Tenant, refused: HashSet<u64>) -> Store {
        let loaded: Arc<str> = timestamp(SystemTime::now()).into();
        let held = tenant
            .assignments
            .iter()
            .map(|a| {
                let held = Held {
                    proficiency: a.proficiency,
                    is_active: a.is_active,
                    updated: loaded.clone(),
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

    pub fn skill(&self, skill_id: u64) -> Option<&Skill> {
        self.by_skill_id.get(&skill_id).map(|&i| &self.skills[i])
    }

    /// `GET /agents`: `search` matches user name, email, first, last or
    /// full name, case-insensitively.
    pub fn agents(&self, search: Option<&str>, top: usize, skip: usize) -> Page<wire::Agent> {
        let needle = search.map(str::to_lowercase);
        let matches = |a: &&Agent| {
            needle.as_deref().is_none_or(|n| {
                [
                    a.user_name.as_str(),
                    &a.email_address,
                    &a.first_name,
                    &a.last_name,
                    &format!("{} {}", a.first_name, a.last_name),
                ]
                .iter()
                .any(|field| field.to_lowercase().contains(n))
            })
        };
        page(self.agents.iter().filter(matches), top, skip, |a| {
            wire::Agent {
                agent_id: a.agent_id,
                user_id: Some(a.user_id.hyphenated().to_string()),
                user_name: Some(a.user_name.clone()),
                email_address: Some(a.email_address.clone()),
                first_name: Some(a.first_name.clone()),
                last_name: Some(a.last_name.clone()),
                is_active: a.is_active,
            }
        })
    }

    /// `GET /skills`: `search` matches the skill name case-insensitively.
    pub fn skills(&self, search: Option<&str>, top: usize, skip: usize) -> Page<wire::Skill> {
        let needle = search.map(str::to_lowercase);
        let matches = |s: &&Skill| {
            needle
                .as_deref()
                .is_none_or(|n| s.skill_name.to_lowercase().contains(n))
        };
        page(self.skills.iter().filter(matches), top, skip, |s| {
            wire::Skill {
                skill_id: s.skill_id,
                skill_name: s.skill_name.clone(),
                media_type_id: s.media_type_id,
                is_active: s.is_active,
            }
        })
    }

    /// `GET /agents/{id}/skills`: the agent's assignments by skill id.
    pub fn agent_assignments(&self, agent_id: u64) -> Vec<wire::Assignment> {
        let held = self.read();
        held.range((agent_id, 0)..=(agent_id, u64::MAX))
            .map(|(&key, h)| self.assignment(key, h))
            .collect()
    }

    /// `GET /agents/skills` (paged) and the observability snapshot: every
    /// assignment, sorted by (agentId, skillId).
    pub fn assignments(&self, top: usize, skip: usize) -> Page<wire::Assignment> {
        let held = self.read();
        page(held.iter(), top, skip, |(&key, h)| self.assignment(key, h))
    }

    /// `GET /skills/agents?skills=`: every assignment of the known skills,
    /// and the ids that are not skills of this tenant.
    pub fn skill_assignments(&self, skill_ids: &[u64]) -> (Vec<wire::Assignment>, Vec<u64>) {
        let mut known = HashSet::new();
        let mut invalid = Vec::new();
        for &id in skill_ids {
            if self.skill(id).is_some() {
                known.insert(id);
            } else if !invalid.contains(&id) {
                invalid.push(id);
            }
        }
        let held = self.read();
        let rows = held
            .iter()
            .filter(|((_, skill_id), _)| known.contains(skill_id))
            .map(|(&key, h)| self.assignment(key, h))
            .collect();
        (rows, invalid)
    }

    /// `POST /agents/{id}/skills`.
    pub fn assign_skills(&self, agent_id: u64, rows: &[SetRow]) -> Vec<wire::SkillResult> {
        let now = now();
        let mut held = self.write();
        rows.iter()
            .map(|row| {
                let outcome = self.skill_or_err(row.id).and_then(|skill| {
                    assign(
                        &mut held,
                        agent_id,
                        skill,
                        row,
                        &now,
                        self.refused.contains(&skill.skill_id),
                    )
                });
                skill_result(row.id, outcome)
            })
            .collect()
    }

    /// `PUT /agents/{id}/skills`. Under [`PutSemantics::Replace`] the
    /// agent's skills that the body does not list are dropped afterwards.
    pub fn modify_skills(
        &self,
        agent_id: u64,
        rows: &[SetRow],
        semantics: PutSemantics,
    ) -> Vec<wire::SkillResult> {
        let now = now();
        let mut held = self.write();
        let results = rows
            .iter()
            .map(|row| {
                let outcome = self.skill_or_err(row.id).and_then(|skill| {
                    modify(
                        &mut held,
                        agent_id,
                        skill,
                        row,
                        &now,
                        self.refused.contains(&skill.skill_id),
                    )
                });
                skill_result(row.id, outcome)
            })
            .collect();
        if semantics == PutSemantics::Replace {
            let listed: HashSet<u64> = rows.iter().map(|r| r.id).collect();
            let unlisted: Vec<(u64, u64)> = held
                .range((agent_id, 0)..=(agent_id, u64::MAX))
                .map(|(&key, _)| key)
                .filter(|(_, skill_id)| !listed.contains(skill_id))
                .collect();
            for key in unlisted {
                held.remove(&key);
            }
        }
        results
    }

    /// `DELETE /agents/{id}/skills`. Removing an assignment of an inactive
    /// skill is allowed: it only ever reduces what an agent holds.
    pub fn remove_skills(&self, agent_id: u64, skill_ids: &[u64]) -> Vec<wire::SkillResult> {
        let mut held = self.write();
        skill_ids
            .iter()
            .map(|&skill_id| {
                let outcome = self
                    .skill_or_err(skill_id)
                    .and_then(|skill| self.not_refused(skill))
                    .and_then(|_| {
                        held.remove(&(agent_id, skill_id))
                            .map(|_| ())
                            .ok_or(NOT_ASSIGNED)
                    });
                skill_result(skill_id, outcome)
            })
            .collect()
    }

    /// `POST /skills/{id}/agents`.
    pub fn assign_agents(&self, skill: &Skill, rows: &[SetRow]) -> Vec<wire::AgentResult> {
        let now = now();
        let mut held = self.write();
        rows.iter()
            .map(|row| {
                let outcome = self.agent_or_err(row.id).and_then(|agent_id| {
                    assign(
                        &mut held,
                        agent_id,
                        skill,
                        row,
                        &now,
                        self.refused.contains(&skill.skill_id),
                    )
                });
                agent_result(row.id, outcome)
            })
            .collect()
    }

    /// `PUT /skills/{id}/agents`. Under [`PutSemantics::Replace`] the
    /// agents holding this skill that the body does not list lose it, the
    /// same hazard as the per-agent PUT, seen from the skill's side.
    pub fn modify_agents(
        &self,
        skill: &Skill,
        rows: &[SetRow],
        semantics: PutSemantics,
    ) -> Vec<wire::AgentResult> {
        let now = now();
        let mut held = self.write();
        let results = rows
            .iter()
            .map(|row| {
                let outcome = self.agent_or_err(row.id).and_then(|agent_id| {
                    modify(
                        &mut held,
                        agent_id,
                        skill,
                        row,
                        &now,
                        self.refused.contains(&skill.skill_id),
                    )
                });
                agent_result(row.id, outcome)
            })
            .collect();
        if semantics == PutSemantics::Replace {
            let listed: HashSet<u64> = rows.iter().map(|r| r.id).collect();
            held.retain(|&(agent_id, skill_id), _| {
                skill_id != skill.skill_id || listed.contains(&agent_id)
            });
        }
        results
    }

    fn not_refused<'a>(&self, skill: &'a Skill) -> Result<&'a Skill, &'static str> {
        if self.refused.contains(&skill.skill_id) {
            Err(REFUSED)
        } else {
            Ok(skill)
        }
    }

    fn skill_or_err(&self, skill_id: u64) -> Result<&Skill, &'static str> {
        self.skill(skill_id).ok_or(SKILL_NOT_FOUND)
    }

    fn agent_or_err(&self, agent_id: u64) -> Result<u64, &'static str> {
        self.by_agent_id
            .contains_key(&agent_id)
            .then_some(agent_id)
            .ok_or(AGENT_NOT_FOUND)
    }

    /// The wire row of one held assignment. Both ids come from the map,
    /// whose keys only ever name tenant agents and skills.
    fn assignment(&self, (agent_id, skill_id): (u64, u64), held: &Held) -> wire::Assignment {
        let agent = self.by_agent_id.get(&agent_id).map(|&i| &self.agents[i]);
        let skill = self.skill(skill_id);
        wire::Assignment {
            agent_id,
            user_id: agent.map(|a| a.user_id.hyphenated().to_string()),
            skill_id,
            skill_name: skill.map(|s| s.skill_name.clone()),
            agent_proficiency_value: i64::from(held.proficiency.get()),
            agent_proficiency_name: Some(held.proficiency.to_string()),
            is_active: Some(held.is_active),
            is_skill_active: skill.map(|s| s.is_active),
            last_update_time: Some(held.updated.to_string()),
        }
    }

    /// A lock poisoned by a panicking request still holds consistent data
    /// (every write is a single map operation), so keep serving.
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<(u64, u64), Held>> {
        self.held.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<(u64, u64), Held>> {
        self.held.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `refused`: the skill is in `SandboxOptions::refuse_skills`.
fn assign(
    held: &mut BTreeMap<(u64, u64), Held>,
    agent_id: u64,
    skill: &Skill,
    row: &SetRow,
    now: &Arc<str>,
    refused: bool,
) -> Result<(), &'static str> {
    if !skill.is_active {
        return Err(SKILL_INACTIVE);
    }
    if refused {
        return Err(REFUSED);
    }
    let key = (agent_id, skill.skill_id);
    if held.contains_key(&key) {
        return Err(ALREADY_ASSIGNED);
    }
    held.insert(
        key,
        Held {
            proficiency: row.proficiency,
            is_active: row.is_active,
            updated: now.clone(),
        },
    );
    Ok(())
}

/// A PUT row that restates an assignment exactly succeeds even when the
/// skill is inactive: the contract makes clients send the agent's full
/// merged set, and a row they did not mean to change must not fail.
fn modify(
    held: &mut BTreeMap<(u64, u64), Held>,
    agent_id: u64,
    skill: &Skill,
    row: &SetRow,
    now: &Arc<str>,
    refused: bool,
) -> Result<(), &'static str> {
    let Some(current) = held.get_mut(&(agent_id, skill.skill_id)) else {
        return Err(NOT_ASSIGNED);
    };
    if current.proficiency == row.proficiency && current.is_active == row.is_active {
        return Ok(());
    }
    if !skill.is_active {
        return Err(SKILL_INACTIVE);
    }
    if refused {
        return Err(REFUSED);
    }
    current.proficiency = row.proficiency;
    current.is_active = row.is_active;
    current.updated = now.clone();
    Ok(())
}

fn skill_result(skill_id: u64, outcome: Result<(), &'static str>) -> wire::SkillResult {
    wire::SkillResult {
        skill_id,
        success: outcome.is_ok(),
        error: outcome.err().map(str::to_owned),
    }
}

fn agent_result(agent_id: u64, outcome: Result<(), &'static str>) -> wire::AgentResult {
    wire::AgentResult {
        agent_id,
        success: outcome.is_ok(),
        error: outcome.err().map(str::to_owned),
    }
}

fn page<I, T, U>(items: I, top: usize, skip: usize, to_wire: impl Fn(T) -> U) -> Page<U>
where
    I: Iterator<Item = T>,
{
    let mut total = 0u64;
    let mut page = Vec::new();
    for (i, item) in items.enumerate() {
        total += 1;
        if i >= skip && page.len() < top {
            page.push(to_wire(item));
        }
    }
    Page { total, items: page }
}

fn now() -> Arc<str> {
    timestamp(SystemTime::now()).into()
}

/// `2026-11-20T10:00:00Z`: RFC 3339 in UTC, whole seconds, the shape of
/// `lastUpdateTime` in the contract.
pub(super) fn timestamp(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Howard Hinnant's days-to-civil algorithm, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_168_800);
        assert_eq!(timestamp(t), "2026-11-20T10:00:00Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn paging_counts_every_match_and_returns_the_window() {
        let p = page(1..=10, 3, 8, |x| x);
        assert_eq!(p.total, 10);
        assert_eq!(p.items, vec![9, 10]);
    }
}
