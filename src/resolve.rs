//! Stage 3a: roster rows → rows of CXone ids.
//!
//! Rosters from HR carry e-mail addresses and skill names. [`read_directory`]
//! reads what is needed to resolve them, once per run: the skill catalogue
//! always, the agent listing only when the roster names agents by e-mail,
//! user name or userId (the bulk reads and writes know agents only by
//! agentId). [`resolve`] then maps every row to ids, or makes it invalid
//! with the candidates or the closest matches.

use std::collections::HashMap;

use tracing::warn;
use uuid::Uuid;

use crate::client::{Client, ClientError};
use crate::model::{AgentRef, AgentSpec, RosterRow, Row, SkillId, SkillSpec};
use crate::outcome::{RowOutcome, Status};
use crate::wire;

/// What the tenant calls its agents and skills.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// The skill catalogue, by id.
    pub skills: HashMap<u64, wire::Skill>,
    /// The agent listing, when it was read.
    pub agents: Option<Vec<wire::Agent>>,
}

/// Whether resolving these rows needs the agent listing: any agent named
/// other than by agentId.
pub fn needs_agents(rows: &[RosterRow]) -> bool {
    rows.iter()
        .any(|row| !matches!(row.agent, AgentSpec::Id(AgentRef::AgentId(_))))
}

/// Reads the skill catalogue and, when needed, the agent listing (both
/// paged).
pub async fn read_directory(client: &Client, rows: &[RosterRow]) -> Result<Directory, ClientError> {
    let skills = client.skills().await?;
    let agents = if needs_agents(rows) {
        Some(client.agents().await?)
    } else {
        None
    };
    Ok(Directory {
        skills: skills.into_iter().map(|s| (s.skill_id, s)).collect(),
        agents,
    })
}

/// Rows resolved to ids, and the rows that could not be.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub rows: Vec<Row>,
    pub invalid: Vec<RowOutcome>,
}

/// Maps each row's agent and skill to ids. A name that matches nothing or
/// more than one record makes its row invalid; so do two rows that turn
/// out to name the same agent and skill with different values.
pub fn resolve(rows: &[RosterRow], directory: &Directory) -> Resolved {
    let agents = directory.agents.as_deref().map(AgentIndex::new);
    let skills = SkillIndex::new(&directory.skills);
    let mut resolved = Resolved::default();
    // Every resolved row, grouped by what it names, in file order.
    let mut groups: HashMap<(u64, SkillId), Vec<(&RosterRow, Row)>> = HashMap::new();
    let mut order: Vec<(u64, SkillId)> = Vec::new();
    for row in rows {
        match (
            resolve_agent(&row.agent, agents.as_ref()),
            resolve_skill(&row.skill, &skills),
        ) {
            (Ok(agent), Ok(skill)) => {
                let group = groups.entry((agent, skill)).or_insert_with(|| {
                    order.push((agent, skill));
                    Vec::new()
                });
                group.push((
                    row,
                    Row {
                        line: row.line,
                        agent,
                        skill,
                        target: row.target,
                    },
                ));
            }
            (agent, skill) => {
                let errors: Vec<String> =
                    [agent.err(), skill.err()].into_iter().flatten().collect();
                resolved.invalid.push(invalid(row, errors.join("; ")));
            }
        }
    }
    // validate() already caught rows that spell the agent and skill the
    // same way; these name them differently (e-mail and id, say).
    for key in order {
        let Some(group) = groups.remove(&key) else {
            continue;
        };
        let (agent, skill) = key;
        let first = group[0].1;
        if group.iter().all(|(_, r)| r.target == first.target) {
            for (_, repeat) in &group[1..] {
                warn!(
                    line = repeat.line,
                    "agent {agent} skill {skill} repeats line {} under another name; kept one",
                    first.line
                );
            }
            resolved.rows.push(first);
            continue;
        }
        for (row, resolved_row) in &group {
            let others: Vec<String> = group
                .iter()
                .filter(|(_, other)| other.line != resolved_row.line)
                .map(|(_, other)| other.line.to_string())
                .collect();
            resolved.invalid.push(invalid(
                row,
                format!(
                    "agent {agent} skill {skill} is also on line {} (named differently) with a different value; keep one row per agent and skill",
                    others.join(", ")
                ),
            ));
        }
    }
    resolved.rows.sort_by_key(|r| r.line);
    resolved.invalid.sort_by_key(|r| r.line);
    resolved
}

/// Resolves `export`'s `--agent` and `--skill` filters (ids or names) to
/// agentIds and skillIds; the first that matches nothing, or too much, is
/// the error. Needs the agent listing when any agent is given.
pub fn resolve_filters(
    agents: &[AgentSpec],
    skills: &[SkillSpec],
    directory: &Directory,
) -> Result<(Vec<u64>, Vec<u64>), String> {
    let agent_index = directory.agents.as_deref().map(AgentIndex::new);
    let skill_index = SkillIndex::new(&directory.skills);
    let mut agent_ids = Vec::new();
    for spec in agents {
        agent_ids.push(resolve_agent(spec, agent_index.as_ref())?);
    }
    let mut skill_ids = Vec::new();
    for spec in skills {
        let id = resolve_skill(spec, &skill_index)?.get();
        if !directory.skills.contains_key(&id) {
            return Err(format!("skill {id} does not exist in this tenant"));
        }
        skill_ids.push(id);
    }
    Ok((agent_ids, skill_ids))
}

fn invalid(row: &RosterRow, error: String) -> RowOutcome {
    RowOutcome {
        line: row.line,
        agent: Some(row.agent.to_string()),
        skill: match row.skill {
            SkillSpec::Id(id) => Some(id.get()),
            SkillSpec::Name(_) => None,
        },
        proficiency: Some(crate::outcome::target_text(&row.target)),
        action: None,
        status: Status::Invalid,
        from: None,
        error: Some(error),
    }
}

/// The agent listing, indexed for the three ways a roster names agents.
struct AgentIndex<'a> {
    agents: &'a [wire::Agent],
    by_email: HashMap<String, Vec<usize>>,
    by_user_name: HashMap<&'a str, Vec<usize>>,
    by_user_id: HashMap<Uuid, usize>,
}

impl<'a> AgentIndex<'a> {
    fn new(agents: &'a [wire::Agent]) -> AgentIndex<'a> {
        let mut index = AgentIndex {
            agents,
            by_email: HashMap::new(),
            by_user_name: HashMap::new(),
            by_user_id: HashMap::new(),
        };
        for (i, agent) in agents.iter().enumerate() {
            if let Some(email) = &agent.email_address {
                index
                    .by_email
                    .entry(email.trim().to_lowercase())
                    .or_default()
                    .push(i);
            }
            if let Some(user_name) = &agent.user_name {
                index
                    .by_user_name
                    .entry(user_name.trim())
                    .or_default()
                    .push(i);
            }
            if let Some(user_id) = agent
                .user_id
                .as_deref()
                .and_then(|u| Uuid::try_parse(u.trim()).ok())
            {
                index.by_user_id.insert(user_id, i);
            }
        }
        index
    }

    fn describe(&self, i: usize) -> String {
        let agent = &self.agents[i];
        let name = [agent.first_name.as_deref(), agent.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        format!("{} ({name})", agent.agent_id)
    }
}

/// AgentIds stay as they are; a userId becomes its agentId, and a name is
/// looked up.
fn resolve_agent(spec: &AgentSpec, index: Option<&AgentIndex<'_>>) -> Result<u64, String> {
    match (spec, index) {
        (AgentSpec::Id(AgentRef::AgentId(id)), _) => Ok(*id),
        (AgentSpec::Id(AgentRef::UserId(uuid)), Some(index)) => index
            .by_user_id
            .get(uuid)
            .map(|&i| index.agents[i].agent_id)
            .ok_or_else(|| format!("no agent with userId {uuid} in the tenant")),
        (AgentSpec::Id(AgentRef::UserId(uuid)), None) => Err(format!(
            "agent {uuid} cannot be resolved without the agent listing"
        )),
        (AgentSpec::Name(name), None) => Err(format!(
            "agent `{name}` cannot be resolved without the agent listing"
        )),
        (AgentSpec::Name(name), Some(index)) => {
            let mut matches: Vec<usize> = index
                .by_email
                .get(&name.to_lowercase())
                .into_iter()
                .chain(index.by_user_name.get(&**name))
                .flatten()
                .copied()
                .collect();
            matches.sort_unstable();
            matches.dedup();
            match matches.as_slice() {
                [i] => Ok(index.agents[*i].agent_id),
                [] => {
                    let known = index
                        .by_email
                        .keys()
                        .map(String::as_str)
                        .chain(index.by_user_name.keys().copied());
                    Err(format!(
                        "no agent with e-mail address or user name `{name}`{}",
                        did_you_mean(name, known)
                    ))
                }
                several => {
                    let list: Vec<String> = several.iter().map(|&i| index.describe(i)).collect();
                    Err(format!(
                        "`{name}` matches several agents: {}; use the agentId",
                        list.join(", ")
                    ))
                }
            }
        }
    }
}

struct SkillIndex<'a> {
    by_name: HashMap<&'a str, Vec<&'a wire::Skill>>,
}

impl<'a> SkillIndex<'a> {
    fn new(skills: &'a HashMap<u64, wire::Skill>) -> SkillIndex<'a> {
        let mut by_name: HashMap<&str, Vec<&wire::Skill>> = HashMap::new();
        for skill in skills.values() {
            by_name
                .entry(skill.skill_name.trim())
                .or_default()
                .push(skill);
        }
        for skills in by_name.values_mut() {
            skills.sort_by_key(|s| s.skill_id);
        }
        SkillIndex { by_name }
    }
}

/// Ids stay ids (an unknown id is reported by the plan); names must match
/// exactly one skill, exactly after trimming.
fn resolve_skill(spec: &SkillSpec, index: &SkillIndex<'_>) -> Result<SkillId, String> {
    let name = match spec {
        SkillSpec::Id(id) => return Ok(*id),
        SkillSpec::Name(name) => name,
    };
    match index.by_name.get(&**name).map(Vec::as_slice) {
        Some([skill]) => {
            SkillId::new(skill.skill_id).ok_or_else(|| format!("skill `{name}` has id 0"))
        }
        Some(several) if several.len() > 1 => {
            let list: Vec<String> = several.iter().map(|s| s.skill_id.to_string()).collect();
            Err(format!(
                "skill name `{name}` matches several skills ({}); use the skillId",
                list.join(", ")
            ))
        }
        _ => Err(format!(
            "no skill named `{name}`{}",
            did_you_mean(name, index.by_name.keys().copied())
        )),
    }
}

/// `; did you mean `Billing EN`?` for the closest known name, if any is
/// close enough to be a typo.
fn did_you_mean<'a>(wanted: &str, known: impl Iterator<Item = &'a str>) -> String {
    let wanted_lower = wanted.to_lowercase();
    let limit = (wanted.chars().count() / 3).max(2);
    known
        .map(|candidate| {
            (
                edit_distance(&wanted_lower, &candidate.to_lowercase()),
                candidate,
            )
        })
        .filter(|&(distance, _)| distance <= limit)
        .min()
        .map(|(_, best)| format!("; did you mean `{best}`?"))
        .unwrap_or_default()
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Proficiency, Target};

    fn directory() -> Directory {
        let skill = |id, name: &str| wire::Skill {
            skill_id: id,
            skill_name: name.to_owned(),
            media_type_id: None,
            is_active: Some(true),
        };
        let agent = |id, email: &str, user: &str| wire::Agent {
            agent_id: id,
            user_id: Some(format!("{id:08x}-0000-4000-8000-{id:012x}")),
            user_name: Some(user.to_owned()),
            email_address: Some(email.to_owned()),
            first_name: Some("A".to_owned()),
            last_name: Some(id.to_string()),
            is_active: Some(true),
        };
        Directory {
            skills: [
                skill(1, "Billing EN"),
                skill(2, "Sales"),
                skill(3, "Chat"),
                skill(4, "Chat"),
            ]
            .into_iter()
            .map(|s| (s.skill_id, s))
            .collect(),
            agents: Some(vec![
                agent(10, "Jane.Doe@acme.example", "jdoe@acme"),
                agent(11, "omar@acme.example", "omar@acme.example"),
                agent(12, "shared@acme.example", "x@acme"),
                agent(13, "other@acme.example", "shared@acme.example"),
            ]),
        }
    }

    fn row(line: u64, agent: &str, skill: &str) -> RosterRow {
        RosterRow {
            line,
            agent: agent.parse().unwrap(),
            skill: skill.parse().unwrap(),
            target: Target::Set {
                proficiency: Proficiency::new(5).unwrap(),
                active: None,
            },
        }
    }

    #[test]
    fn email_in_any_case_user_name_and_skill_name_resolve() {
        let r = resolve(
            &[
                row(2, "JANE.DOE@ACME.EXAMPLE", "Billing EN"),
                row(3, "jdoe@acme", "Sales"),
                row(4, "omar@acme.example", "2"),
                row(5, "0000000b-0000-4000-8000-00000000000b", "Billing EN"),
            ],
            &directory(),
        );
        assert!(r.invalid.is_empty(), "{:?}", r.invalid);
        let got: Vec<(u64, u64)> = r.rows.iter().map(|r| (r.agent, r.skill.get())).collect();
        assert_eq!(got, [(10, 1), (10, 2), (11, 2), (11, 1)]);
    }

    #[test]
    fn unknown_names_suggest_the_closest_and_ambiguous_ones_list_candidates() {
        let r = resolve(
            &[
                row(2, "jane.doe@acme.exmaple", "Biling EN"),
                row(3, "shared@acme.example", "Chat"),
                row(4, "nobody@else.example", "Sales"),
            ],
            &directory(),
        );
        assert!(r.rows.is_empty());
        let errors: Vec<&str> = r
            .invalid
            .iter()
            .map(|o| o.error.as_deref().unwrap())
            .collect();
        assert_eq!(
            errors[0],
            "no agent with e-mail address or user name `jane.doe@acme.exmaple`; did you mean `jane.doe@acme.example`?; no skill named `Biling EN`; did you mean `Billing EN`?"
        );
        assert_eq!(
            errors[1],
            "`shared@acme.example` matches several agents: 12 (A 12), 13 (A 13); use the agentId; skill name `Chat` matches several skills (3, 4); use the skillId"
        );
        assert_eq!(
            errors[2],
            "no agent with e-mail address or user name `nobody@else.example`"
        );
    }

    #[test]
    fn the_same_agent_named_two_ways_is_one_agent() {
        let mut second = row(3, "10", "1");
        second.target = Target::Remove;
        let r = resolve(
            &[row(2, "jane.doe@acme.example", "Billing EN"), second],
            &directory(),
        );
        assert!(r.rows.is_empty());
        let lines: Vec<u64> = r.invalid.iter().map(|o| o.line).collect();
        assert_eq!(lines, [2, 3]);
        let error = |i: usize| r.invalid[i].error.clone().unwrap_or_default();
        assert!(error(1).contains("also on line 2 (named differently)"));
        // The kept row is reported with the name it was written with.
        assert_eq!(r.invalid[0].agent.as_deref(), Some("jane.doe@acme.example"));

        // A third row agreeing with one of two conflicting rows is part of
        // the conflict too, not silently dropped.
        let mut second = row(3, "10", "1");
        second.target = Target::Remove;
        let third = row(4, "0000000a-0000-4000-8000-00000000000a", "Billing EN");
        let r = resolve(
            &[row(2, "jane.doe@acme.example", "Billing EN"), second, third],
            &directory(),
        );
        assert!(r.rows.is_empty());
        let lines: Vec<u64> = r.invalid.iter().map(|o| o.line).collect();
        assert_eq!(lines, [2, 3, 4]);

        let r = resolve(
            &[
                row(2, "jane.doe@acme.example", "Billing EN"),
                row(3, "10", "1"),
            ],
            &directory(),
        );
        assert_eq!(r.rows.len(), 1);
        assert!(r.invalid.is_empty());
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("biling en", "billing en"), 1);
        assert_eq!(edit_distance("sales", "sales"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
