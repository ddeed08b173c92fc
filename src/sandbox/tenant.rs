//! Tenant data: who exists in the sandbox, which skills, who holds which
//! skill, and which credentials may get a token.
//!
//! The file format is documented by example in `examples/tenant.json`, which
//! is also the embedded default tenant. Unknown fields are rejected, so a typo
//! in a hand-written tenant fails loudly instead of silently dropping data.
//! The fields revision 2 added (`tenantId`, `businessUnitId`, `area`,
//! `cluster`, a client's `passwordGrant`, a skill's `mediaTypeId`) have
//! defaults, so a tenant file written for revision 1 still loads.

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

/// `tenantId` of a tenant file that names none: fixed, so that discovery
/// URLs stay the same from one run to the next.
const DEFAULT_TENANT_ID: &str = "5a1d2b7e-0c3f-4e8a-9d61-2f4b8c7e1a90";
/// `businessUnitId` of a tenant file that names none.
const DEFAULT_BUSINESS_UNIT_ID: u64 = 4_600_001;
const DEFAULT_AREA: &str = "na1";
const DEFAULT_CLUSTER: &str = "SBX1";
/// `mediaTypeId` of a skill that names none: 4, a phone skill, the most
/// common kind; the published per-skill listing requires a media type.
const DEFAULT_MEDIA_TYPE: u64 = 4;

/// A validated tenant, ready to be served by [`super::start`].
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The `tenantId` claim of every issued token, and the one tenant
    /// discovery answers for.
    pub(super) tenant_id: Uuid,
    pub(super) business_unit_id: u64,
    pub(super) area: String,
    pub(super) cluster: String,
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
    /// False for a client registered without the password grant: its
    /// token requests get `unauthorized_client`.
    pub password_grant: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Agent {
    pub agent_id: u64,
    pub user_id: Uuid,
    /// `user_id` lowercase and hyphenated, as every answer spells it;
    /// kept so that listings do not format it per row.
    pub user_id_text: String,
    /// `agentName` of the bulk reads: "First Last", or the user name when
    /// the tenant file gives no name.
    pub agent_name: String,
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
    pub media_type_id: u64,
    pub media_type_name: &'static str,
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

    /// The first read-write access key and the first client allowed the
    /// password grant: what a rehearsal uses unless told otherwise.
    /// Validation guarantees both.
    pub(super) fn default_credentials(&self) -> (&AccessKey, &ApiClient) {
        let key = self
            .access_keys
            .iter()
            .find(|k| !k.read_only)
            .unwrap_or(&self.access_keys[0]);
        let client = self
            .clients
            .iter()
            .find(|c| c.password_grant)
            .unwrap_or(&self.clients[0]);
        (key, client)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TenantFile {
    #[serde(default)]
    tenant_id: Option<String>,
    #[serde(default)]
    business_unit_id: Option<u64>,
    #[serde(default)]
    area: Option<String>,
    #[serde(default)]
    cluster: Option<String>,
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
    #[serde(default = "yes")]
    password_grant: bool,
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

/// `mediaTypeName` for the media types CXone numbers; the sandbox only
/// needs a plausible name beside the id.
fn media_type_name(media_type_id: u64) -> &'static str {
    match media_type_id {
        1 => "Email",
        3 => "Chat",
        4 => "Phone Call",
        5 => "Voice Mail",
        6 => "Work Item",
        8 => "SMS",
        9 => "Digital",
        _ => "Other",
    }
}

impl TenantFile {
    fn validate(self) -> Result<Tenant, String> {
        let tenant_id_text = self.tenant_id.as_deref().unwrap_or(DEFAULT_TENANT_ID);
        let tenant_id = match Uuid::try_parse(tenant_id_text) {
            Ok(uuid) if tenant_id_text.len() == 36 => uuid,
            _ => {
                return Err(format!(
                    "tenantId `{tenant_id_text}` is not a hyphenated UUID"
                ));
            }
        };
        let business_unit_id = self.business_unit_id.unwrap_or(DEFAULT_BUSINESS_UNIT_ID);
        if business_unit_id == 0 {
            return Err("businessUnitId must be a positive integer".into());
        }
        let area = self.area.unwrap_or_else(|| DEFAULT_AREA.to_owned());
        let cluster = self.cluster.unwrap_or_else(|| DEFAULT_CLUSTER.to_owned());
        for (name, value) in [("area", &area), ("cluster", &cluster)] {
            if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "{name} `{value}` must be letters and digits, such as na1 or B32"
                ));
            }
        }
        if !self.access_keys.iter().any(|k| !k.read_only) {
            return Err("accessKeys: at least one key must have readOnly false".into());
        }
        if !self.clients.iter().any(|c| c.password_grant) {
            return Err(
                "clients: at least one client must allow the password grant (passwordGrant true)"
                    .into(),
            );
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
            let full_name = format!("{} {}", a.first_name, a.last_name);
            let agent_name = match full_name.trim() {
                "" => a.user_name.clone(),
                name => name.to_owned(),
            };
            agents.push(Agent {
                agent_id: a.agent_id,
                user_id,
                user_id_text: user_id.hyphenated().to_string(),
                agent_name,
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
            let media_type_id = s.media_type_id.unwrap_or(DEFAULT_MEDIA_TYPE);
            skills.push(Skill {
                skill_id: s.skill_id,
                skill_name: s.skill_name,
                media_type_id,
                media_type_name: media_type_name(media_type_id),
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
            tenant_id,
            business_unit_id,
            area,
            cluster,
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
                    password_grant: c.password_grant,
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
