//! Wire types: serde structs for the JSON of the CXone Admin API as the
//! client reads and writes it (`shared/cxone-api.md`, revision 2, and the
//! published OpenAPI it is rebuilt from).
//!
//! Reading is tolerant, because the contract marks much of the service as
//! **assumed**: unknown fields are ignored, ids and counts may be JSON
//! numbers or strings, the agent may be spelled `agentId`, `agentID_alt` or
//! `userId`/`userID`, a row's `error` may be a string, a boolean or null.
//! What cannot be read is not guessed at: the caller gets `None` and
//! decides (an assignment without `isActive` is never written back).
//!
//! Writing is exact, as published: ids in write bodies are JSON strings
//! (`"1001"`), proficiency and `isActive` stay typed, every body is a
//! wrapper object.
//!
//! The sandbox has its own, strict, shapes (`sandbox/shapes.rs`): the two
//! sides are checked against the same published fixtures, not against each
//! other.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::secret::{self, Secret};

// --- Authentication and discovery ------------------------------------------

/// `POST {token_url}` answer. Every token is a [`Secret`].
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: Secret,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default, deserialize_with = "opt_u64")]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    #[serde(default)]
    pub id_token: Option<Secret>,
}

/// An OAuth error (`{"error", "error_description"}`), as the token endpoint
/// answers a refusal.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// `GET /.well-known/cxone-configuration?tenantId=` answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Discovery {
    #[serde(default, rename = "tenantId")]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub area: Option<String>,
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub api_endpoint: Option<String>,
}

// --- Catalogue reads -------------------------------------------------------

/// The `_links` of a paged answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Links {
    #[serde(default)]
    pub next: Option<String>,
}

/// `GET /agents` answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentsPage {
    #[serde(default, deserialize_with = "opt_u64")]
    pub total_records: Option<u64>,
    #[serde(default)]
    pub agents: Option<Vec<Agent>>,
    #[serde(default, rename = "_links")]
    pub links: Option<Links>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    #[serde(deserialize_with = "any_u64")]
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
    /// `None` when the listing does not say.
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_active: Option<bool>,
}

/// `GET /skills` answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillsPage {
    #[serde(default, deserialize_with = "opt_u64")]
    pub total_records: Option<u64>,
    #[serde(default)]
    pub skills: Option<Vec<Skill>>,
    #[serde(default, rename = "_links")]
    pub links: Option<Links>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Skill {
    #[serde(deserialize_with = "any_u64")]
    pub skill_id: u64,
    #[serde(default)]
    pub skill_name: String,
    #[serde(default, deserialize_with = "opt_u64")]
    pub media_type_id: Option<u64>,
    /// `None` when the catalogue does not say.
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_active: Option<bool>,
}

impl Skill {
    /// Whether a write may assign it: a skill the catalogue does not call
    /// inactive is taken as active (the flag only ever stops a write).
    pub fn active(&self) -> bool {
        self.is_active != Some(false)
    }

    /// Whether it may be inactive: a skill the catalogue does not call
    /// active may have inactive assignments, which a complete read must
    /// ask for (the listing's filters default to active skills only).
    pub fn maybe_inactive(&self) -> bool {
        self.is_active != Some(true)
    }
}

// --- Assignment reads ------------------------------------------------------

/// The answer of the assignment reads: `GET /agents/{id}/skills` (paged),
/// `GET /agents/skills` (paged, filtered), `GET /skills/agents` (unpaged)
/// and `GET /skills/{id}/agents` (paged).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentsPage {
    #[serde(default, deserialize_with = "opt_u64")]
    pub total_records: Option<u64>,
    /// `None` when the answer lacks the list it promises: a read that says
    /// nothing is not a read that says "no assignments".
    #[serde(default)]
    pub agent_skill_assignments: Option<Vec<Assignment>>,
    #[serde(default, rename = "_links")]
    pub links: Option<Links>,
    /// A string in `GET /agents/skills`, an integer elsewhere.
    #[serde(default, deserialize_with = "opt_text")]
    pub business_unit_id: Option<String>,
    /// Only in `GET /skills/agents`.
    #[serde(default)]
    pub invalid_skills: Option<Vec<InvalidSkill>>,
    /// The server's time of the read: the next `updatedSince`.
    #[serde(default)]
    pub last_poll_time: Option<String>,
}

/// One assignment row, as any assignment read spells it. Only what the
/// client uses is kept, so a large read stays small in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    /// The bulk reads' spelling.
    #[serde(default, deserialize_with = "opt_u64")]
    pub agent_id: Option<u64>,
    /// The one-agent read's spelling.
    #[serde(
        default,
        rename = "agentID_alt",
        alias = "agentId_alt",
        deserialize_with = "opt_u64"
    )]
    pub agent_id_alt: Option<u64>,
    #[serde(default, rename = "userId", alias = "userID")]
    pub user_id: Option<String>,
    #[serde(deserialize_with = "any_u64")]
    pub skill_id: u64,
    #[serde(default, deserialize_with = "opt_i64")]
    pub agent_proficiency_value: Option<i64>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_skill_active: Option<bool>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_agent_active: Option<bool>,
    /// `GET /skills/agents` may list a skill's agents with
    /// `isAssigned: false`: not an assignment.
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_assigned: Option<bool>,
}

impl Assignment {
    /// The agentId, whichever way the row spells it.
    pub fn agent(&self) -> Option<u64> {
        self.agent_id.or(self.agent_id_alt)
    }

    /// Whether the row is an assignment at all.
    pub fn assigned(&self) -> bool {
        self.is_assigned != Some(false)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvalidSkill {
    #[serde(deserialize_with = "any_u64")]
    pub skill_id: u64,
}

// --- Write bodies (exact, as published) --------------------------------------

/// An id as write bodies publish it: a JSON string of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdString(pub u64);

impl Serialize for IdString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// Body of `POST`/`PUT`/`DELETE /agents/{id}/skills`: always the wrapper
/// object, never a bare array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillsBody {
    pub skills: Vec<SkillWrite>,
}

/// One row of [`SkillsBody`]. DELETE rows carry only `skillId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillWrite {
    pub skill_id: IdString,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proficiency: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}

/// Body of `DELETE /skills/{skillId}/agents` (cxskill never sends the
/// per-skill POST or PUT: see `requests`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentsBody {
    pub agents: Vec<AgentWrite>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentWrite {
    pub agent_id: IdString,
}

/// Body of `POST /agents/skills`, the add-or-modify upsert: every agent of
/// an item gets every skill of each of its `skills` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertBody {
    pub agent_and_skill_details: Vec<UpsertItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertItem {
    pub agent_ids: Vec<IdString>,
    pub skills: Vec<UpsertSkills>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertSkills {
    pub skill_ids: Vec<IdString>,
    pub proficiency: u8,
    pub is_active: bool,
}

// --- Write answers (tolerant) ----------------------------------------------

/// Per-row answer of every write, read from any status.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultSetResponse {
    pub result_set: ResultSet,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultSet {
    #[serde(default, deserialize_with = "opt_u64")]
    pub error_count: Option<u64>,
    /// Per-agent writes and the upsert.
    #[serde(default)]
    pub skill_results: Option<Vec<RowResult>>,
    /// Per-skill writes.
    #[serde(default)]
    pub agent_results: Option<Vec<RowResult>>,
}

impl ResultSet {
    /// The rows, whichever list the answer carries.
    pub fn rows(&self) -> Option<&[RowResult]> {
        self.skill_results
            .as_deref()
            .or(self.agent_results.as_deref())
    }
}

/// One row of a write answer. Per-agent rows name the skill, per-skill
/// rows the agent, upsert rows both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowResult {
    #[serde(default, deserialize_with = "opt_u64")]
    pub agent_id: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    pub skill_id: Option<u64>,
    #[serde(deserialize_with = "any_bool")]
    pub success: bool,
    /// The reason, when the row gives one as text (the published upsert row
    /// has none; the per-skill DELETE types it as a boolean).
    #[serde(default, deserialize_with = "error_text")]
    pub error: Option<String>,
}

// --- Tolerant scalars --------------------------------------------------------

/// A number or a string holding one, for fields the published documents
/// type both ways.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Int(i128),
    Text(String),
    Bool(bool),
    Null,
    Float(f64),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, string, boolean or null")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(i128::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Int(i128::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_owned()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl Scalar {
    fn integer(&self) -> Option<i128> {
        match self {
            Scalar::Int(n) => Some(*n),
            Scalar::Text(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    fn boolean(&self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(*b),
            Scalar::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }
}

fn any_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let value = Scalar::deserialize(deserializer)?;
    value
        .integer()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| de::Error::custom(format!("expected a non-negative id, got {value:?}")))
}

fn opt_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    match Scalar::deserialize(deserializer)? {
        Scalar::Null => Ok(None),
        value => value
            .integer()
            .and_then(|n| u64::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("expected a count or id, got {value:?}"))),
    }
}

fn opt_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    match Scalar::deserialize(deserializer)? {
        Scalar::Null => Ok(None),
        value => value
            .integer()
            .and_then(|n| i64::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("expected an integer, got {value:?}"))),
    }
}

fn any_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    let value = Scalar::deserialize(deserializer)?;
    value
        .boolean()
        .ok_or_else(|| de::Error::custom(format!("expected a boolean, got {value:?}")))
}

fn opt_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    match Scalar::deserialize(deserializer)? {
        Scalar::Null => Ok(None),
        value => value
            .boolean()
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("expected a boolean, got {value:?}"))),
    }
}

/// A string or a number, as text.
fn opt_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Int(n) => Some(n.to_string()),
        Scalar::Text(text) => Some(text),
        Scalar::Float(f) => Some(f.to_string()),
        Scalar::Bool(b) => Some(b.to_string()),
        Scalar::Null => None,
    })
}

/// A row's `error`: text is the reason; `true`, `false`, `null` or an
/// empty string give none. The text is scrubbed of secrets here, where it
/// enters the client: a server may quote the request (its `Authorization`
/// header) in it, and it goes on to the report, the failed rows and the
/// warnings.
fn error_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Text(text) if !text.trim().is_empty() => Some(secret::scrub(&text)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_bodies_carry_ids_as_strings_and_values_typed() {
        let body = SkillsBody {
            skills: vec![SkillWrite {
                skill_id: IdString(112233),
                proficiency: Some(5),
                is_active: Some(true),
            }],
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"skills":[{"skillId":"112233","proficiency":5,"isActive":true}]}"#
        );
        let upsert = UpsertBody {
            agent_and_skill_details: vec![UpsertItem {
                agent_ids: vec![IdString(1001), IdString(1002)],
                skills: vec![UpsertSkills {
                    skill_ids: vec![IdString(112233)],
                    proficiency: 3,
                    is_active: true,
                }],
            }],
        };
        assert_eq!(
            serde_json::to_string(&upsert).unwrap(),
            r#"{"agentAndSkillDetails":[{"agentIds":["1001","1002"],"skills":[{"skillIds":["112233"],"proficiency":3,"isActive":true}]}]}"#
        );
        let delete = AgentsBody {
            agents: vec![AgentWrite {
                agent_id: IdString(7),
            }],
        };
        assert_eq!(
            serde_json::to_string(&delete).unwrap(),
            r#"{"agents":[{"agentId":"7"}]}"#
        );
    }

    #[test]
    fn assignment_rows_read_every_agent_spelling() {
        let one: Assignment = serde_json::from_str(
            r#"{"agentID_alt":1001,"userId":"u","skillId":5,"agentProficiencyValue":3,"isActive":true}"#,
        )
        .unwrap();
        assert_eq!(one.agent(), Some(1001));
        let bulk: Assignment = serde_json::from_str(
            r#"{"agentId":"1002","skillId":"5","agentProficiencyValue":"3","isActive":"false"}"#,
        )
        .unwrap();
        assert_eq!(bulk.agent(), Some(1002));
        assert_eq!(bulk.agent_proficiency_value, Some(3));
        assert_eq!(bulk.is_active, Some(false));
        let none: Assignment = serde_json::from_str(r#"{"skillId":5}"#).unwrap();
        assert_eq!(none.agent(), None);
        assert_eq!(none.is_active, None);
    }

    #[test]
    fn result_rows_take_string_ids_and_any_error_type() {
        let upsert: ResultSetResponse = serde_json::from_str(
            r#"{"resultSet":{"errorCount":"1","skillResults":[{"agentId":"1001","skillId":"112233","success":false}]}}"#,
        )
        .unwrap();
        assert_eq!(upsert.result_set.error_count, Some(1));
        let row = &upsert.result_set.rows().unwrap()[0];
        assert_eq!(
            (row.agent_id, row.skill_id, row.error.as_deref()),
            (Some(1001), Some(112233), None)
        );
        let delete: ResultSetResponse = serde_json::from_str(
            r#"{"resultSet":{"errorCount":0,"agentResults":[{"agentId":1001,"success":true,"error":false}]}}"#,
        )
        .unwrap();
        assert!(delete.result_set.rows().unwrap()[0].success);
        let text: RowResult =
            serde_json::from_str(r#"{"skillId":1,"success":false,"error":"Skill is inactive"}"#)
                .unwrap();
        assert_eq!(text.error.as_deref(), Some("Skill is inactive"));
    }

    #[test]
    fn business_unit_id_is_text_whether_string_or_integer() {
        let a: AssignmentsPage = serde_json::from_str(r#"{"businessUnitId":"4600"}"#).unwrap();
        let b: AssignmentsPage = serde_json::from_str(r#"{"businessUnitId":4600}"#).unwrap();
        assert_eq!(a.business_unit_id.as_deref(), Some("4600"));
        assert_eq!(b.business_unit_id.as_deref(), Some("4600"));
        assert!(a.agent_skill_assignments.is_none());
    }

    #[test]
    fn tokens_are_secrets_even_in_debug() {
        let token: TokenResponse = serde_json::from_str(
            r#"{"access_token":"at-123456","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-123456","id_token":"a.b.c"}"#,
        )
        .unwrap();
        let shown = format!("{token:?}");
        assert!(
            !shown.contains("at-123456") && !shown.contains("rt-123456"),
            "{shown}"
        );
        assert_eq!(token.expires_in, Some(3600));
    }
}
