//! Stage 3a: reading the tenant, in the fewest requests that give what the
//! diff needs. At a tenant's rate limit the number of requests *is* the run
//! time, so every read here is chosen by what it costs:
//!
//! - [`read_skills`]: `GET /skills/agents?skills=…`, unpaged, every
//!   assignment of up to [`SKILLS_PER_READ`] skills per request. This finds
//!   the current state of the roster's pairs. Its completeness for *other*
//!   skills is only assumed, so it is never the sole source of an agent's
//!   full set.
//! - [`read_full_sets`]: an agent's **whole** set, for a full-set PUT and
//!   for `--prune`: `GET /agents/skills` with every filter combination
//!   needed (inactive assignments, agents and skills each take their own
//!   read), or one paged `GET /agents/{id}/skills` per agent, whichever
//!   takes fewer requests.
//!
//! What is read lands in [`Holdings`]: every assignment seen, and which of
//! them are known to be the whole story.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use futures_util::{StreamExt, stream};
use tracing::{debug, info, warn};

use crate::client::{AgentRead, BulkFilter, Client, ClientError, Listing, PAGE_SIZE};
use crate::model::State;
use crate::wire;

/// Skills per `GET /skills/agents`: keeps the URL a sane length. An answer
/// over the size cap is split further, in halves.
pub const SKILLS_PER_READ: usize = 50;

/// What the reads have shown of the tenant.
#[derive(Debug, Clone, Default)]
pub struct Holdings {
    /// Every assignment seen, by (agentId, skillId): one agent's set is a
    /// range.
    held: BTreeMap<(u64, u64), State>,
    /// Skills whose every assignment has been read (`GET /skills/agents`).
    skills_read: HashSet<u64>,
    /// Agents whose whole set has been read by a complete read.
    complete: HashSet<u64>,
    /// Agents whose assignments cannot be trusted, and why: nothing is
    /// ever written for them.
    untrusted: HashMap<u64, String>,
    /// Agents the tenant says do not exist (404 on the one-agent read).
    missing: HashSet<u64>,
    /// Skills `GET /skills/agents` called invalid.
    invalid_skills: HashSet<u64>,
    pub business_unit: Option<String>,
    /// When the first read of these holdings began: how old what they say
    /// may be.
    pub read_at: Option<Instant>,
}

/// What the holdings say of one (agent, skill) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    Held(State),
    Absent,
    /// Not read (or the agent's reads are untrusted).
    Unknown,
}

impl Holdings {
    /// The pair's state, when a read covered it.
    pub fn get(&self, agent: u64, skill: u64) -> Known {
        if self.untrusted.contains_key(&agent) {
            return Known::Unknown;
        }
        match self.held.get(&(agent, skill)) {
            Some(state) => Known::Held(*state),
            None if self.skills_read.contains(&skill) || self.complete.contains(&agent) => {
                Known::Absent
            }
            None => Known::Unknown,
        }
    }

    /// Every assignment seen of one agent, sorted by skill.
    pub fn seen_of(&self, agent: u64) -> Vec<(u64, State)> {
        self.held
            .range((agent, 0)..=(agent, u64::MAX))
            .map(|(&(_, skill), &state)| (skill, state))
            .collect()
    }

    /// The agent's whole set, when a complete read gave it.
    pub fn full_set(&self, agent: u64) -> Option<Vec<(u64, State)>> {
        (self.complete.contains(&agent) && !self.untrusted.contains_key(&agent))
            .then(|| self.seen_of(agent))
    }

    pub fn is_complete(&self, agent: u64) -> bool {
        self.complete.contains(&agent)
    }

    pub fn skill_read(&self, skill: u64) -> bool {
        self.skills_read.contains(&skill)
    }

    pub fn untrusted(&self, agent: u64) -> Option<&str> {
        self.untrusted.get(&agent).map(String::as_str)
    }

    pub fn is_missing(&self, agent: u64) -> bool {
        self.missing.contains(&agent)
    }

    pub fn is_invalid_skill(&self, skill: u64) -> bool {
        self.invalid_skills.contains(&skill)
    }

    /// How many assignments the reads have seen.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Records what a write is known to have done (an answered success),
    /// so that a later full set starts from it.
    pub fn record(&mut self, agent: u64, skill: u64, state: Option<State>) {
        match state {
            Some(state) => self.held.insert((agent, skill), state),
            None => self.held.remove(&(agent, skill)),
        };
    }

    /// Forgets the agent's assignments a complete read of it does not
    /// list: they are gone.
    fn forget_unlisted(&mut self, agent: u64, listed: impl Fn(&(u64, u64)) -> bool) -> Vec<Change> {
        let gone: Vec<(u64, u64)> = self
            .held
            .range((agent, 0)..=(agent, u64::MAX))
            .map(|(k, _)| *k)
            .filter(|k| !listed(k))
            .collect();
        gone.into_iter()
            .filter_map(|key| {
                self.held.remove(&key).map(|before| Change {
                    agent,
                    skill: key.1,
                    before: Some(before),
                    after: None,
                    was_known: true,
                })
            })
            .collect()
    }

    /// Takes in one agent's own (complete) read.
    pub fn absorb_agent(&mut self, agent: u64, rows: &[wire::Assignment]) -> Vec<Change> {
        self.absorb(rows, Scope::Agent(agent))
    }

    pub fn mark_untrusted(&mut self, agent: u64, reason: String) {
        self.untrusted.entry(agent).or_insert(reason);
    }

    /// Takes in the rows of a read. `scope` says what the read was
    /// complete for, so that a pair it does not list is known absent.
    fn absorb(&mut self, rows: &[wire::Assignment], scope: Scope<'_>) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut in_read: HashMap<(u64, u64), State> = HashMap::with_capacity(rows.len());
        // Every pair the read lists, its state readable or not: a row that
        // cannot be trusted still says the pair is there.
        let mut listed: HashSet<(u64, u64)> = HashSet::with_capacity(rows.len());
        for row in rows {
            let Some(agent) = row.agent().or(match scope {
                Scope::Agent(agent) => Some(agent),
                _ => None,
            }) else {
                continue;
            };
            listed.insert((agent, row.skill_id));
            let state = match state_of(row) {
                Ok(state) => state,
                Err(reason) => {
                    self.mark_untrusted(agent, reason);
                    continue;
                }
            };
            if let Some(earlier) = in_read.insert((agent, row.skill_id), state)
                && earlier != state
            {
                self.mark_untrusted(
                    agent,
                    format!(
                        "the tenant lists skill {} twice for agent {agent}, with different values; nothing is written for this agent",
                        row.skill_id
                    ),
                );
            }
        }
        let known_before: HashSet<(u64, u64)> = in_read
            .keys()
            .filter(|(a, s)| self.get(*a, *s) != Known::Unknown)
            .copied()
            .collect();
        match scope {
            Scope::Skills(skills) => {
                // Assignments of these skills that the read no longer
                // lists are gone.
                let gone: Vec<(u64, u64)> = self
                    .held
                    .keys()
                    .filter(|key| skills.contains(&key.1) && !listed.contains(key))
                    .copied()
                    .collect();
                for key in gone {
                    if let Some(before) = self.held.remove(&key) {
                        changes.push(Change {
                            agent: key.0,
                            skill: key.1,
                            before: Some(before),
                            after: None,
                            was_known: true,
                        });
                    }
                }
                self.skills_read.extend(skills.iter().copied());
            }
            Scope::Agent(agent) => {
                changes.extend(self.forget_unlisted(agent, |k| listed.contains(k)));
                self.complete.insert(agent);
            }
            Scope::Agents(agents) => {
                self.complete.extend(agents.iter().copied());
            }
            Scope::Delta => {}
        }
        for ((agent, skill), state) in in_read {
            let before = self.held.insert((agent, skill), state);
            if before != Some(state) {
                changes.push(Change {
                    agent,
                    skill,
                    before,
                    after: Some(state),
                    was_known: known_before.contains(&(agent, skill)),
                });
            }
        }
        changes
    }
}

/// What a read was complete for.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// Every assignment of these skills.
    Skills(&'a HashSet<u64>),
    /// Every assignment of one agent.
    Agent(u64),
    /// Every assignment of these agents (the bulk read's combinations
    /// together).
    Agents(&'a [u64]),
    /// Only what changed since an earlier read.
    Delta,
}

/// An assignment a read found different from what was known before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub agent: u64,
    pub skill: u64,
    pub before: Option<State>,
    pub after: Option<State>,
    /// Whether an earlier read had covered the pair: a pair seen for the
    /// first time has not *changed*.
    pub was_known: bool,
}

/// The state an assignment row reports, or why it cannot be trusted
/// enough to write back: a full-set PUT would re-send a guessed flag or a
/// rewritten proficiency for a skill the roster never touched.
pub fn state_of(row: &wire::Assignment) -> Result<State, String> {
    let skill = row.skill_id;
    let value = row.agent_proficiency_value;
    let proficiency = value
        .and_then(|p| u8::try_from(p).ok())
        .filter(|p| (1..=20).contains(p))
        .ok_or_else(|| match value {
            Some(p) => format!(
                "the tenant reports proficiency {p} for skill {skill}, outside 1..=20; nothing is written for this agent"
            ),
            None => format!(
                "the tenant's answer for skill {skill} has no agentProficiencyValue; nothing is written for this agent"
            ),
        })?;
    let active = row.is_active.ok_or_else(|| {
        format!("the tenant's answer for skill {skill} has no isActive; nothing is written for this agent")
    })?;
    Ok(State {
        proficiency,
        active,
    })
}

/// `GET /skills/agents` for these skills, [`SKILLS_PER_READ`] at a time,
/// one read in flight: an answer larger than the cap is read again in
/// halves. Returns the changes from what was known.
pub async fn read_skills(
    client: &Client,
    holdings: &mut Holdings,
    skills: &[u64],
    updated_since: Option<&str>,
) -> Result<Vec<Change>, ClientError> {
    holdings.read_at.get_or_insert_with(Instant::now);
    let mut changes = Vec::new();
    let mut queue: Vec<Vec<u64>> = skills
        .chunks(SKILLS_PER_READ)
        .rev()
        .map(<[u64]>::to_vec)
        .collect();
    while let Some(chunk) = queue.pop() {
        match client.skill_assignments(&chunk, updated_since).await {
            Ok(read) => {
                let scope: HashSet<u64> = chunk.iter().copied().collect();
                holdings.invalid_skills.extend(read.invalid_skills);
                if holdings.business_unit.is_none() {
                    holdings.business_unit = read.listing.business_unit.clone();
                }
                let scope = if updated_since.is_some() {
                    Scope::Delta
                } else {
                    Scope::Skills(&scope)
                };
                changes.extend(holdings.absorb(&read.listing.rows, scope));
            }
            Err(ClientError::TooLarge { .. }) if chunk.len() > 1 => {
                let half = chunk.len() / 2;
                debug!(
                    skills = chunk.len(),
                    "answer over the cap: reading the skills in halves"
                );
                queue.push(chunk[half..].to_vec());
                queue.push(chunk[..half].to_vec());
            }
            Err(error) => return Err(error),
        }
    }
    Ok(changes)
}

/// What is known of who is active, which decides the filter combinations
/// a complete bulk read needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Activity {
    /// Some agent to read may be inactive (or is not known to be active).
    pub inactive_agents: bool,
    /// Some skill of the catalogue is inactive.
    pub inactive_skills: bool,
}

/// How a complete read of agents' full sets is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FullSetRead {
    /// `GET /agents/skills` with each of these filter combinations.
    Bulk(Vec<BulkFilter>),
    /// One paged `GET /agents/{id}/skills` per agent.
    PerAgent,
}

impl FullSetRead {
    /// The cheaper complete read for `agents` agents: the bulk
    /// combinations, or one read per agent. `tenant_rows`, the assignments
    /// the tenant is known to hold, sizes the bulk read: each combination
    /// lists the whole business unit, [`PAGE_SIZE`] rows a page.
    pub fn choose(agents: usize, activity: Activity, tenant_rows: usize) -> FullSetRead {
        let combos = combinations(activity);
        let bulk = FullSetRead::Bulk(combos);
        if agents <= bulk.requests(agents, tenant_rows) {
            FullSetRead::PerAgent
        } else {
            bulk
        }
    }

    /// Requests this read is expected to take: for the bulk read, the
    /// active assignments' pages plus one page for each other
    /// combination; one read per agent otherwise.
    pub fn requests(&self, agents: usize, tenant_rows: usize) -> usize {
        match self {
            FullSetRead::Bulk(combos) => {
                let pages = tenant_rows.div_ceil(PAGE_SIZE as usize).max(1);
                combos.len().saturating_sub(1) + pages
            }
            FullSetRead::PerAgent => agents,
        }
    }
}

/// The filter combinations that together list every assignment: active
/// and inactive assignments always, inactive agents and inactive skills
/// only when there may be some.
pub fn combinations(activity: Activity) -> Vec<BulkFilter> {
    let agent_flags: &[bool] = if activity.inactive_agents {
        &[true, false]
    } else {
        &[true]
    };
    let skill_flags: &[bool] = if activity.inactive_skills {
        &[true, false]
    } else {
        &[true]
    };
    let mut combos = Vec::new();
    for &agent_active in agent_flags {
        for &skill_active in skill_flags {
            for assignment_active in [true, false] {
                combos.push(BulkFilter {
                    agent_active,
                    assignment_active,
                    skill_active,
                });
            }
        }
    }
    combos
}

/// Reads the whole sets of `agents`, the cheaper complete way. Returns
/// when the read was taken and what it found changed from what was known.
pub async fn read_full_sets(
    client: &Client,
    holdings: &mut Holdings,
    agents: &[u64],
    how: &FullSetRead,
    concurrency: usize,
) -> Result<(FullSetStamp, Vec<Change>), ClientError> {
    let started = Instant::now();
    holdings.read_at.get_or_insert(started);
    match how {
        FullSetRead::PerAgent => {
            let changes = read_agents(client, holdings, agents, concurrency).await?;
            let stamp = FullSetStamp {
                at: started,
                poll_time: None,
            };
            Ok((stamp, changes))
        }
        FullSetRead::Bulk(combos) => {
            let mut poll_time = None;
            let mut rows: Vec<wire::Assignment> = Vec::new();
            for filter in combos {
                let listing = client.bulk_assignments(*filter, None).await?;
                poll_time = poll_time.or(listing.poll_time.clone());
                note_business_unit(holdings, &listing);
                rows.extend(listing.rows);
            }
            if rows.iter().any(|r| r.agent().is_none()) {
                // A row that does not say whose it is could be any agent's:
                // no set read this way is whole.
                return Err(ClientError::Decode {
                    endpoint: "GET /agents/skills".to_owned(),
                    reason: "a row names no agent (no agentId), so no agent's whole set can be told from this read".to_owned(),
                });
            }
            let wanted: HashSet<u64> = agents.iter().copied().collect();
            rows.retain(|r| r.agent().is_some_and(|a| wanted.contains(&a)));
            let pairs: HashSet<(u64, u64)> = rows
                .iter()
                .filter_map(|r| r.agent().map(|a| (a, r.skill_id)))
                .collect();
            let seen: HashSet<u64> = pairs.iter().map(|&(agent, _)| agent).collect();
            // An agent the bulk reads do not list at all may be one they
            // cannot see: only its own read may say its set is empty (and
            // forget what it no longer holds).
            let (listed, unlisted): (Vec<u64>, Vec<u64>) =
                agents.iter().partition(|a| seen.contains(a));
            // Pairs of the listed agents the complete read does not list
            // are gone.
            let mut changes = Vec::new();
            for &agent in &listed {
                changes.extend(holdings.forget_unlisted(agent, |k| pairs.contains(k)));
            }
            changes.extend(holdings.absorb(&rows, Scope::Agents(&listed)));
            if !unlisted.is_empty() {
                info!(
                    agents = unlisted.len(),
                    "agents missing from every bulk read: reading them one by one"
                );
                for agent in &unlisted {
                    holdings.complete.remove(agent);
                }
                changes.extend(read_agents(client, holdings, &unlisted, concurrency).await?);
            }
            let stamp = FullSetStamp {
                at: started,
                poll_time,
            };
            Ok((stamp, changes))
        }
    }
}

/// When a complete read was taken: the local start (for its age) and the
/// server's `lastPollTime` (for `updatedSince`).
#[derive(Debug, Clone)]
pub struct FullSetStamp {
    pub at: Instant,
    pub poll_time: Option<String>,
}

/// `GET /agents/skills` combinations with `UpdatedSince`: what changed for
/// these agents since `since`. Pairs that vanished are not seen by a delta
/// (a removal has no row); a full-set PUT that names one fails that row,
/// which re-creates nothing.
pub async fn refresh_bulk(
    client: &Client,
    holdings: &mut Holdings,
    agents: &HashSet<u64>,
    combos: &[BulkFilter],
    since: &str,
) -> Result<(Vec<Change>, Option<String>), ClientError> {
    let mut poll_time = None;
    let mut rows = Vec::new();
    for filter in combos {
        let listing = client.bulk_assignments(*filter, Some(since)).await?;
        poll_time = poll_time.or(listing.poll_time);
        rows.extend(
            listing
                .rows
                .into_iter()
                .filter(|r| r.agent().is_some_and(|a| agents.contains(&a))),
        );
    }
    Ok((holdings.absorb(&rows, Scope::Delta), poll_time))
}

/// One paged read per agent, `concurrency` at a time.
pub async fn read_agents(
    client: &Client,
    holdings: &mut Holdings,
    agents: &[u64],
    concurrency: usize,
) -> Result<Vec<Change>, ClientError> {
    let mut reads = stream::iter(agents.iter().copied())
        .map(|agent| async move { (agent, client.agent_skills(agent).await) })
        .buffer_unordered(concurrency.max(1));
    let mut changes = Vec::new();
    while let Some((agent, read)) = reads.next().await {
        match read? {
            AgentRead::Found(listing) => {
                note_business_unit(holdings, &listing);
                changes.extend(holdings.absorb(&listing.rows, Scope::Agent(agent)));
            }
            AgentRead::NotFound => {
                holdings.missing.insert(agent);
                holdings.complete.insert(agent);
            }
            AgentRead::Untrusted(reason) => {
                warn!(agent, "{reason}");
                holdings.mark_untrusted(agent, reason);
            }
        }
    }
    Ok(changes)
}

fn note_business_unit(holdings: &mut Holdings, listing: &Listing) {
    if holdings.business_unit.is_none() {
        holdings.business_unit = listing.business_unit.clone();
    }
}

#[cfg(test)]
impl Holdings {
    /// Holdings as complete reads of these agents would leave them, with
    /// `missing` agents answered 404.
    pub(crate) fn from_full_sets(
        sets: &[(u64, Vec<wire::Assignment>)],
        missing: &[u64],
    ) -> Holdings {
        let mut holdings = Holdings::default();
        for (agent, rows) in sets {
            holdings.absorb(rows, Scope::Agent(*agent));
        }
        for agent in missing {
            holdings.missing.insert(*agent);
            holdings.complete.insert(*agent);
        }
        holdings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(agent: u64, skill: u64, p: i64, active: bool) -> wire::Assignment {
        wire::Assignment {
            agent_id: Some(agent),
            skill_id: skill,
            agent_proficiency_value: Some(p),
            is_active: Some(active),
            ..wire::Assignment::default()
        }
    }

    #[test]
    fn a_skill_read_makes_unlisted_pairs_of_those_skills_known_absent() {
        let mut h = Holdings::default();
        let skills: HashSet<u64> = [1, 2].into();
        h.absorb(&[row(10, 1, 3, true)], Scope::Skills(&skills));
        assert_eq!(
            h.get(10, 1),
            Known::Held(State {
                proficiency: 3,
                active: true
            })
        );
        assert_eq!(h.get(10, 2), Known::Absent);
        assert_eq!(h.get(10, 3), Known::Unknown, "skill 3 was not read");
        assert_eq!(h.full_set(10), None, "a skill read is no full set");
    }

    #[test]
    fn an_untrustworthy_row_makes_the_agent_unknown() {
        let mut h = Holdings::default();
        let mut no_flag = row(14, 1, 3, true);
        no_flag.is_active = None;
        h.absorb(&[no_flag, row(15, 1, 0, true)], Scope::Skills(&[1].into()));
        assert!(h.untrusted(14).unwrap().contains("no isActive"));
        assert!(h.untrusted(15).unwrap().contains("outside 1..=20"));
        assert_eq!(h.get(14, 1), Known::Unknown);
    }

    #[test]
    fn an_unreadable_row_is_not_taken_for_a_removal() {
        let mut h = Holdings::default();
        h.absorb(
            &[row(14, 1, 3, true), row(14, 2, 4, true)],
            Scope::Agent(14),
        );
        let mut no_flag = row(14, 1, 3, true);
        no_flag.is_active = None;
        let changes = h.absorb(&[no_flag.clone()], Scope::Skills(&[1].into()));
        assert_eq!(changes, [], "the skill read lists the pair");
        let changes = h.absorb(&[no_flag, row(14, 2, 4, true)], Scope::Agent(14));
        assert_eq!(changes, [], "the agent's own read lists the pair");
        assert!(h.untrusted(14).unwrap().contains("no isActive"));
        assert_eq!(h.get(14, 1), Known::Unknown);
    }

    #[test]
    fn the_same_skill_twice_with_different_values_is_untrusted() {
        let mut h = Holdings::default();
        h.absorb(&[row(7, 1, 3, true), row(7, 1, 4, true)], Scope::Agent(7));
        assert!(h.untrusted(7).unwrap().contains("twice"));
        assert_eq!(h.full_set(7), None);
        let mut same = Holdings::default();
        same.absorb(&[row(7, 1, 3, true), row(7, 1, 3, true)], Scope::Agent(7));
        assert_eq!(same.full_set(7).map(|s| s.len()), Some(1));
    }

    #[test]
    fn a_delta_reports_what_changed_and_keeps_the_rest() {
        let mut h = Holdings::default();
        h.absorb(&[row(1, 1, 3, true), row(1, 2, 4, true)], Scope::Agent(1));
        let changes = h.absorb(&[row(1, 2, 9, true)], Scope::Delta);
        assert_eq!(
            changes,
            [Change {
                agent: 1,
                skill: 2,
                before: Some(State {
                    proficiency: 4,
                    active: true
                }),
                after: Some(State {
                    proficiency: 9,
                    active: true
                }),
                was_known: true,
            }]
        );
        assert_eq!(h.full_set(1).map(|s| s.len()), Some(2));
    }

    #[test]
    fn the_cheaper_complete_read_is_chosen() {
        let quiet = Activity::default();
        assert_eq!(combinations(quiet).len(), 2);
        assert_eq!(FullSetRead::choose(2, quiet, 0), FullSetRead::PerAgent);
        assert!(matches!(FullSetRead::choose(3, quiet, 0), FullSetRead::Bulk(c) if c.len() == 2));
        // A large tenant takes many pages to list: nine agents are cheaper
        // read one by one than 200,000 assignments in pages.
        assert_eq!(
            FullSetRead::choose(9, quiet, 200_000),
            FullSetRead::PerAgent
        );
        assert!(matches!(
            FullSetRead::choose(30, quiet, 200_000),
            FullSetRead::Bulk(_)
        ));
        let everything = Activity {
            inactive_agents: true,
            inactive_skills: true,
        };
        assert_eq!(combinations(everything).len(), 8);
        assert_eq!(FullSetRead::choose(8, everything, 0), FullSetRead::PerAgent);
    }
}
