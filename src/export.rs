//! `cxskill export`: the tenant's current assignments as a roster.
//!
//! Uses the bulk reads rather than one call per agent: `GET /agents/skills`
//! with every filter combination needed (its filters default to active
//! only, and an export must hold inactive assignments, agents and skills
//! too), or `GET /skills/agents?skills=` when skills are named. The roster
//! names agents by userId and skills by skillId, with informational
//! `agent_name` and `skill_name` columns the parser ignores, so that
//! `export` then `apply` of the file writes nothing.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::client::{Client, ClientError};
use crate::model::{AgentSpec, SkillSpec};
use crate::read::{self, Activity};
use crate::resolve::{self, Directory};
use crate::wire;

/// One exported assignment, a row of the roster CSV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportRow {
    /// The userId, or the agentId where the listing has no userId.
    pub agent: String,
    pub skill: u64,
    pub proficiency: i64,
    /// Empty when the tenant did not say, which `apply` reads as "keep".
    pub active: Option<bool>,
    pub agent_name: String,
    pub skill_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A filter names nothing, or more than one record.
    #[error("{0}")]
    Filter(String),
}

/// Reads the assignments, narrowed to the given agents and skills (none:
/// all), sorted by agent and skill.
pub async fn export(
    client: &Client,
    agents: &[AgentSpec],
    skills: &[SkillSpec],
) -> Result<Vec<ExportRow>, ExportError> {
    let directory = Directory {
        skills: client
            .skills()
            .await?
            .into_iter()
            .map(|s| (s.skill_id, s))
            .collect(),
        agents: Some(client.agents().await?),
    };
    let (agent_ids, skill_ids) =
        resolve::resolve_filters(agents, skills, &directory).map_err(ExportError::Filter)?;
    let assignments: Vec<wire::Assignment> = if skill_ids.is_empty() {
        let activity = Activity {
            inactive_agents: directory
                .agents
                .iter()
                .flatten()
                .any(|a| a.is_active != Some(true)),
            inactive_skills: directory.skills.values().any(wire::Skill::maybe_inactive),
        };
        let mut rows = Vec::new();
        for filter in read::combinations(activity) {
            rows.extend(client.bulk_assignments(filter, None).await?.rows);
        }
        rows
    } else {
        let mut rows = Vec::new();
        for chunk in skill_ids.chunks(read::SKILLS_PER_READ) {
            rows.extend(client.skill_assignments(chunk, None).await?.listing.rows);
        }
        rows
    };
    let wanted: HashSet<u64> = agent_ids.into_iter().collect();
    let listing: HashMap<u64, &crate::wire::Agent> = directory
        .agents
        .iter()
        .flatten()
        .map(|a| (a.agent_id, a))
        .collect();
    let mut rows: Vec<ExportRow> = assignments
        .iter()
        .filter_map(|a| a.agent().map(|id| (id, a)))
        .filter(|(id, _)| wanted.is_empty() || wanted.contains(id))
        .map(|(agent_id, a)| {
            let agent = listing.get(&agent_id);
            let user_id = agent
                .and_then(|l| l.user_id.clone())
                .or_else(|| a.user_id.clone());
            let name = agent
                .map(|l| {
                    [l.first_name.as_deref(), l.last_name.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            ExportRow {
                agent: user_id.map_or_else(|| agent_id.to_string(), |u| u.to_lowercase()),
                skill: a.skill_id,
                proficiency: a.agent_proficiency_value.unwrap_or_default(),
                active: a.is_active,
                agent_name: name,
                skill_name: directory
                    .skills
                    .get(&a.skill_id)
                    .map(|s| s.skill_name.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (&a.agent_name, &a.agent, a.skill).cmp(&(&b.agent_name, &b.agent, b.skill))
    });
    rows.dedup_by(|a, b| a.agent == b.agent && a.skill == b.skill);
    Ok(rows)
}
