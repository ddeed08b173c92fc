//! Wire types: serde structs that mirror the JSON of the CXone Admin API
//! (`shared/cxone-api.md`). Both the client and the sandbox use them, so the
//! two sides cannot drift apart.
//!
//! Reading is tolerant (unknown fields ignored, most fields optional, both
//! `userId` and `userID` accepted); writing is exact (integer ids and
//! proficiencies, always inside the wrapper object).

use serde::{Deserialize, Serialize};

/// `POST {token_url}` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default = "bearer")]
    pub token_type: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

fn bearer() -> String {
    "Bearer".to_owned()
}

/// The body of a whole-request error (400/401/403/404 ...). The shape is
/// assumed by the contract; the client surfaces any body verbatim.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// `GET /agents` answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentsPage {
    #[serde(default)]
    pub total_records: u64,
    #[serde(default)]
    pub agents: Vec<Agent>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub agent_id: u64,
    /// Listings spell it `userID`; read `userId` too.
    #[serde(rename = "userID", alias = "userId", default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default = "yes")]
    pub is_active: bool,
}

/// `GET /skills` answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillsPage {
    #[serde(default)]
    pub total_records: u64,
    #[serde(default)]
    pub skills: Vec<Skill>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Skill {
    pub skill_id: u64,
    #[serde(default)]
    pub skill_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type_id: Option<u64>,
    #[serde(default = "yes")]
    pub is_active: bool,
}

/// `GET /agents/{id}/skills`, `GET /agents/skills` and
/// `GET /skills/agents` answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentsPage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_records: Option<u64>,
    #[serde(default)]
    pub agent_skill_assignments: Vec<Assignment>,
    /// Only in `GET /skills/agents`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_skills: Option<Vec<InvalidSkill>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub agent_id: u64,
    #[serde(rename = "userId", alias = "userID", default)]
    pub user_id: Option<String>,
    pub skill_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_name: Option<String>,
    pub agent_proficiency_value: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_proficiency_name: Option<String>,
    /// Optional on reading: an answer without it is not guessed at, since
    /// the client writes back the agent's full set (see `plan::Current`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_skill_active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvalidSkill {
    pub skill_id: u64,
}

/// Body of `POST`/`PUT`/`DELETE /agents/{id}/skills`: always the wrapper
/// object, never a bare array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillsBody {
    pub skills: Vec<SkillWrite>,
}

/// One row of [`SkillsBody`]. DELETE rows carry only `skillId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillWrite {
    pub skill_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proficiency: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}

/// Body of `POST`/`PUT /skills/{skillId}/agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentsBody {
    pub agents: Vec<AgentWrite>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentWrite {
    pub agent_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proficiency: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}

/// Per-row answer of the write endpoints (status 200 when `errorCount` is
/// 0, 400 with the same body otherwise).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultSetResponse {
    pub result_set: ResultSet,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultSet {
    #[serde(default)]
    pub error_count: u64,
    /// Present on `/agents/{id}/skills` answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_results: Option<Vec<SkillResult>>,
    /// Present on `/skills/{id}/agents` answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_results: Option<Vec<AgentResult>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillResult {
    pub skill_id: u64,
    pub success: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentResult {
    pub agent_id: u64,
    pub success: bool,
    pub error: Option<String>,
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skills_body_is_the_wrapper_object_with_integers() {
        let body = SkillsBody {
            skills: vec![SkillWrite {
                skill_id: 112233,
                proficiency: Some(5),
                is_active: Some(true),
            }],
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"skills":[{"skillId":112233,"proficiency":5,"isActive":true}]}"#
        );
    }

    #[test]
    fn agents_read_both_user_id_spellings() {
        let a: Agent = serde_json::from_str(r#"{"agentId":1,"userID":"x"}"#).unwrap();
        let b: Agent = serde_json::from_str(r#"{"agentId":1,"userId":"x"}"#).unwrap();
        assert_eq!(a.user_id.as_deref(), Some("x"));
        assert_eq!(b.user_id.as_deref(), Some("x"));
    }
}
