//! Tenant data: who exists in the sandbox, which skills, who holds which
//! skill, and which credentials may get a token.
//!
//! The file format is documented by example in `examples/tenant.json`, which
//! is also the embedded default tenant. Unknown fields are rejected, so a typo
//! in a hand-written tenant fails loudly instead of silently dropping data.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;
use uuid::Uuid;

use super::SandboxError;
use crate::model::Proficiency;
use crate::secret::Secret;

/// The compiled-in default tenant: exactly the agents and skills that
/// `examples/roster.csv` names, with some existing assignments, so the
/// examples work from any directory.
const EMBEDDED: &str = include_str!("../../examples/tenant.json");

/// A validated tenant, ready to be served by [`super::start`].
#[derive(Debug, Clone)]
pub struct Tenant {
    pub(super) access_keys: Vec<AccessKey>,
    pub(super) clients: Vec<ApiClient>,
    pub(super) agents: Vec<Agent>,
    pub(super) skills: Vec<Skill>,
    pub(super) assignments: Vec<Assignment>,
}

/// A CXone access key: the `username`/`password` pair of the token exchange.
#[derive(Debug, Clone)]
pub(super) struct AccessKey {
    pub id: String,
    pub secret: Secret,
    /// A read-only key gets tokens that may read but not write (403).
    pub read_only: bool,
}

/// An OAuth client registration: `client_id`/`client_secret`.
#[derive(Debug, Clone)]
pub(super) struct ApiClient {
    pub id: String,
    pub secret: Secret,
}

#[derive(Debug, Clone)]
pub(super) struct Agent {
    pub agent_id: u64,
    pub user_id: Uuid,
    pub user_name: String,
    pub email_address: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Skill {
    pub skill_id: u64,
    pub skill_name: String,
    pub media_type_id: Option<u64>,
    pub is_active: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Assignment {
    pub agent_id: u64,
    pub skill_id: u64,
    pub proficiency: Proficiency,
    pub is_active: bool,
}

impl Tenant {
    /// The compiled-in default tenant (see `examples/tenant.json`).
    pub fn embedded() -> Tenant {
        // The embedded file is part of the build, not user input; a unit
        // test proves it parses, so this cannot fail at run time.
        Tenant::from_json(EMBEDDED).expect("the embedded examples/tenant.json is a valid tenant")
    }

    /// Parses and validates a tenant in the `examples/tenant.json` format.
    pub fn from_json(json: &str) -> Result<Tenant, SandboxError> {
        let file: TenantFile =
            serde_json::from_str(json).map_err(|e| SandboxError::InvalidTenant(e.to_string()))?;
        file.validate().map_err(SandboxError::InvalidTenant)
    }

    /// Reads a tenant file; errors name the file.
    pub fn load(path: &Path) -> Result<Tenant, SandboxError> {
        let json = std::fs::read_to_string(path).map_err(|source| SandboxError::ReadTenant {
            path: path.to_owned(),
            source,
        })?;
        Tenant::from_json(&json).map_err(|e| match e {
            SandboxError::InvalidTenant(reason) => {
                SandboxError::InvalidTenant(format!("{}: {reason}", path.display()))
            }
            other => other,
        })
    }

    /// The first read-write access key and the first client: what a
    /// rehearsal uses unless told otherwise. Validation guarantees both.
    pub(super) fn default_credentials(&self) -> (&AccessKey, &ApiClient) {
        let key = self
            .access_keys
            .iter()
            .find(|k| !k.read_only)
            .unwrap_or(&self.access_keys[0]);
        (key, &self.clients[0])
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TenantFile {
    access_keys: Vec<AccessKeyFile>,
    clients: Vec<ClientFile>,
    agents: Vec<AgentFile>,
    skills: Vec<SkillFile>,
    #[serde(default)]
    assignments: Vec<AssignmentFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AccessKeyFile {
    access_key_id: String,
    access_key_secret: String,
    #[serde(default)]
    read_only: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClientFile {
    client_id: String,
    client_secret: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AgentFile {
    agent_id: u64,
    user_id: String,
    user_name: String,
    #[serde(default)]
    email_address: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default = "yes")]
    is_active: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SkillFile {
    skill_id: u64,
    skill_name: String,
    #[serde(default)]
    media_type_id: Option<u64>,
    #[serde(default = "yes")]
    is_active: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AssignmentFile {
    agent_id: u64,
    skill_id: u64,
    proficiency: i64,
    #[serde(default = "yes")]
    is_active: bool,
}

fn yes() -> bool {
    true
}

impl TenantFile {
    fn validate(self) -> Result<Tenant, String> {
        if !self.access_keys.iter().any(|k| !k.read_only) {
            return Err("accessKeys: at least one key must have readOnly false".into());
        }
        if self.clients.is_empty() {
            return Err("clients: at least one client is needed".into());
        }
        let mut key_ids = HashSet::new();
        for (i, key) in self.access_keys.iter().enumerate() {
            if key.access_key_id.is_empty() || key.access_key_secret.is_empty() {
                return Err(format!("accessKeys[{i}]: id and secret must not be empty"));
            }
            if !key_ids.insert(key.access_key_id.as_str()) {
                return Err(format!(
                    "accessKeys[{i}]: duplicate accessKeyId `{}`",
                    key.access_key_id
                ));
            }
        }
        for (i, client) in self.clients.iter().enumerate() {
            if client.client_id.is_empty() || client.client_secret.is_empty() {
                return Err(format!("clients[{i}]: id and secret must not be empty"));
            }
        }

        let mut agent_ids = HashSet::new();
        let mut user_ids = HashSet::new();
        let mut agents = Vec::with_capacity(self.agents.len());
        for (i, a) in self.agents.into_iter().enumerate() {
            if a.agent_id == 0 {
                return Err(format!("agents[{i}]: agentId must be a positive integer"));
            }
            // Same rule as the API path segment: the hyphenated form only.
            let user_id = match Uuid::try_parse(&a.user_id) {
                Ok(uuid) if a.user_id.len() == 36 => uuid,
                _ => {
                    return Err(format!(
                        "agents[{i}]: userId `{}` is not a hyphenated UUID",
                        a.user_id
                    ));
                }
            };
            if !agent_ids.insert(a.agent_id) {
                return Err(format!("agents[{i}]: duplicate agentId {}", a.agent_id));
            }
            if !user_ids.insert(user_id) {
                return Err(format!("agents[{i}]: duplicate userId {}", a.user_id));
            }
            agents.push(Agent {
                agent_id: a.agent_id,
                user_id,
                user_name: a.user_name,
                email_address: a.email_address,
                first_name: a.first_name,
                last_name: a.last_name,
                is_active: a.is_active,
            });
        }

        let mut skill_ids = HashSet::new();
        let mut skills = Vec::with_capacity(self.skills.len());
        for (i, s) in self.skills.into_iter().enumerate() {
            if s.skill_id == 0 {
                return Err(format!("skills[{i}]: skillId must be a positive integer"));
            }
            if !skill_ids.insert(s.skill_id) {
                return Err(format!("skills[{i}]: duplicate skillId {}", s.skill_id));
            }
            skills.push(Skill {
                skill_id: s.skill_id,
                skill_name: s.skill_name,
                media_type_id: s.media_type_id,
                is_active: s.is_active,
            });
        }

        let mut pairs = HashSet::new();
        let mut assignments = Vec::with_capacity(self.assignments.len());
        for (i, a) in self.assignments.into_iter().enumerate() {
            if !agent_ids.contains(&a.agent_id) {
                return Err(format!("assignments[{i}]: unknown agentId {}", a.agent_id));
            }
            if !skill_ids.contains(&a.skill_id) {
                return Err(format!("assignments[{i}]: unknown skillId {}", a.skill_id));
            }
            let proficiency = Proficiency::new(a.proficiency).ok_or_else(|| {
                format!(
                    "assignments[{i}]: proficiency {} is outside 1..=20",
                    a.proficiency
                )
            })?;
            if !pairs.insert((a.agent_id, a.skill_id)) {
                return Err(format!(
                    "assignments[{i}]: agent {} holds skill {} twice",
                    a.agent_id, a.skill_id
                ));
            }
            assignments.push(Assignment {
                agent_id: a.agent_id,
                skill_id: a.skill_id,
                proficiency,
                is_active: a.is_active,
            });
        }

        Ok(Tenant {
            access_keys: self
                .access_keys
                .into_iter()
                .map(|k| AccessKey {
                    id: k.access_key_id,
                    secret: Secret::new(k.access_key_secret),
                    read_only: k.read_only,
                })
                .collect(),
            clients: self
                .clients
                .into_iter()
                .map(|c| ApiClient {
                    id: c.client_id,
                    secret: Secret::new(c.client_secret),
                })
                .collect(),
            agents,
            skills,
            assignments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tenant_holds_every_agent_and_skill_of_the_example_roster() {
        let tenant = Tenant::embedded();
        let roster = include_str!("../../examples/roster.csv");
        for line in roster.lines().skip(1) {
            let agent = line.split(',').next().unwrap().trim_matches('"');
            let agent_ref: crate::model::AgentRef = agent.parse().unwrap();
            let known = tenant.agents.iter().any(|a| match agent_ref {
                crate::model::AgentRef::AgentId(id) => a.agent_id == id,
                crate::model::AgentRef::UserId(uuid) => a.user_id == uuid,
            });
            assert!(known, "roster agent {agent} is not in the embedded tenant");
        }
        let (key, client) = tenant.default_credentials();
        assert!(!key.read_only);
        assert_eq!(client.id, "cxskill-sandbox");
        assert!(tenant.access_keys.iter().any(|k| k.read_only));
    }

    #[test]
    fn tenant_validation_names_the_bad_entry() {
        let base = |assignments: &str| {
            format!(
                r#"{{"accessKeys":[{{"accessKeyId":"k","accessKeySecret":"s"}}],
                "clients":[{{"clientId":"c","clientSecret":"s"}}],
                "agents":[{{"agentId":1,"userId":"6513270e-269e-4d37-b2a7-4de452e6b438","userName":"a"}}],
                "skills":[{{"skillId":7,"skillName":"S"}}],
                "assignments":{assignments}}}"#
            )
        };
        assert!(Tenant::from_json(&base("[]")).is_ok());
        let err = Tenant::from_json(&base(r#"[{"agentId":1,"skillId":7,"proficiency":21}]"#))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("assignments[0]") && err.contains("21"),
            "{err}"
        );
        let err = Tenant::from_json(&base(r#"[{"agentId":2,"skillId":7,"proficiency":3}]"#))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown agentId 2"), "{err}");
        let err = Tenant::from_json(&base(
            r#"[{"agentId":1,"skillId":7,"proficiency":3,"bogus":1}]"#,
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("bogus"), "{err}");
    }
}
