//! `cxskill export`: the tenant's current assignments as a roster.
//!
//! Uses the bulk reads (`GET /agents/skills`, paged, or
//! `GET /skills/agents?skills=` when skills are named) rather than one call
//! per agent. The roster names agents by userId and skills by skillId, with
//! informational `agent_name` and `skill_name` columns the parser ignores,
//! so that `export` then `apply` of the file writes nothing.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::client::{Client, ClientError};
use crate::model::{AgentSpec, SkillSpec};
use crate::resolve::{self, Directory};

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
    let assignments = if skill_ids.is_empty() {
        client.all_assignments().await?
    } else {
        client.skill_assignments(&skill_ids).await?
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
        .filter(|a| wanted.is_empty() || wanted.contains(&a.agent_id))
        .map(|a| {
            let agent = listing.get(&a.agent_id);
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
                agent: user_id.map_or_else(|| a.agent_id.to_string(), |u| u.to_lowercase()),
                skill: a.skill_id,
                proficiency: a.agent_proficiency_value,
                active: a.is_active,
                agent_name: name,
                skill_name: directory
                    .skills
                    .get(&a.skill_id)
                    .map(|s| s.skill_name.clone())
                    .or_else(|| a.skill_name.clone())
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
