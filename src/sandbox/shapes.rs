//! The JSON the sandbox answers, as published: one serde struct per
//! answer, mirroring `shared/reference/cxone-admin-skills.openapi.json`
//! field for field, with the published JSON types, quirks included
//! (`agentID_alt`, `userID`, `businessUnitId` an integer on one read and a
//! string on another, `errorCount` a string on the upsert, `error` a
//! boolean on the per-skill DELETE, `mediaType` beside `mediaTypeId`).
//!
//! These are deliberately not the client's `crate::wire` types: if the
//! sandbox answered with the client's own structs, a misreading of the
//! contract would pass on both sides. Each struct serialises only; the
//! sandbox never reads its own answers back.
//!
//! Fields the published schema makes optional are left out when the
//! tenant has nothing for them (an agent without a first name), never sent
//! as `null`, because the published type of each is a string or a number,
//! and `null` is neither.

use serde::{Deserialize, Serialize, Serializer};

use super::clock;

/// `lastUpdateTime` / `lastPollTime`: milliseconds since the epoch,
/// written as RFC 3339 UTC with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Stamp(pub u64);

impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = clock::rfc3339_millis(self.0);
        // ASCII by construction; the fallback is never taken.
        serializer.serialize_str(std::str::from_utf8(&bytes).unwrap_or("1970-01-01T00:00:00.000Z"))
    }
}

/// `_links` of a paged answer: absolute URLs on the host the client
/// addressed.
#[derive(Debug, Serialize)]
pub(super) struct Links {
    #[serde(rename = "self")]
    pub this: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

fn is_empty(text: &&str) -> bool {
    text.is_empty()
}

// --- GET /agents -------------------------------------------------------------

/// `GET /agents`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AgentsPage<'a> {
    pub total_records: u64,
    pub business_unit_id: u64,
    pub last_poll_time: Stamp,
    pub agents: Vec<AgentRow<'a>>,
    #[serde(rename = "_links")]
    pub links: Links,
}

/// One agent of `GET /agents`: the published spelling is `userID`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AgentRow<'a> {
    pub agent_id: u64,
    #[serde(rename = "userID")]
    pub user_id: &'a str,
    pub user_name: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub email_address: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub first_name: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub last_name: &'a str,
    pub is_active: bool,
}

// --- GET /skills -------------------------------------------------------------

/// `GET /skills` (not in the trimmed reference; the shape peers use).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SkillsPage<'a> {
    pub total_records: u64,
    pub business_unit_id: u64,
    pub last_poll_time: Stamp,
    pub skills: Vec<SkillRow<'a>>,
    #[serde(rename = "_links")]
    pub links: Links,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SkillRow<'a> {
    pub skill_id: u64,
    pub skill_name: &'a str,
    pub media_type_id: u64,
    pub media_type_name: &'a str,
    pub is_active: bool,
}

// --- GET /agents/{agentId|userId}/skills ----------------------------------------

/// `GET /agents/{agentId|userId}/skills`: `businessUnitId` an integer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AgentSkillsPage<'a> {
    pub total_records: u64,
    pub business_unit_id: u64,
    pub last_poll_time: Stamp,
    pub agent_skill_assignments: Vec<AgentSkillRow<'a>>,
    #[serde(rename = "_links")]
    pub links: Links,
}

/// One row of the one-agent read: the agent is `agentID_alt` (integer)
/// and `userId` (string), never `agentId`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AgentSkillRow<'a> {
    #[serde(rename = "agentID_alt")]
    pub agent_id_alt: u64,
    pub user_id: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub first_name: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub last_name: &'a str,
    pub skill_id: u64,
    pub skill_name: &'a str,
    pub media_type_id: u64,
    pub media_type_name: &'a str,
    pub is_outbound: bool,
    pub agent_proficiency_value: u8,
    pub agent_proficiency_name: &'static str,
    pub is_active: bool,
    pub is_skill_active: bool,
    pub last_update_time: Stamp,
}

// --- GET /agents/skills ----------------------------------------------------------

/// `GET /agents/skills`: here `businessUnitId` is published as a string.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AllAssignmentsPage<'a> {
    pub total_records: u64,
    pub business_unit_id: String,
    pub last_poll_time: Stamp,
    pub agent_skill_assignments: Vec<AssignmentRow<'a>>,
    #[serde(rename = "_links")]
    pub links: Links,
}

/// One row of `GET /agents/skills`: `agentId` and `agentName`, no
/// `userId`; the media type is published as `mediaType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AssignmentRow<'a> {
    pub agent_id: u64,
    pub agent_name: &'a str,
    pub skill_id: u64,
    pub skill_name: &'a str,
    pub media_type: u64,
    pub media_type_name: &'a str,
    pub is_outbound: bool,
    pub agent_proficiency_value: u8,
    pub agent_proficiency_name: &'static str,
    pub is_active: bool,
    pub is_agent_active: bool,
    pub is_skill_active: bool,
    pub last_update_time: Stamp,
}

// --- GET /skills/agents --------------------------------------------------------------

/// `GET /skills/agents?skills=`: not paged, no `totalRecords`;
/// `businessUnitId` an integer again.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SkillsAgentsAnswer<'a> {
    pub business_unit_id: u64,
    pub last_poll_time: Stamp,
    pub agent_skill_assignments: Vec<SkillsAgentsRow<'a>>,
    pub invalid_skills: Vec<InvalidSkill>,
}

/// One row of `GET /skills/agents`: as `GET /agents/skills` plus
/// `isAssigned`, and without `isAgentActive`, which this answer does not
/// publish.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SkillsAgentsRow<'a> {
    pub agent_id: u64,
    pub agent_name: &'a str,
    pub skill_id: u64,
    pub skill_name: &'a str,
    pub media_type: u64,
    pub media_type_name: &'a str,
    pub is_outbound: bool,
    pub agent_proficiency_value: u8,
    pub agent_proficiency_name: &'static str,
    pub is_active: bool,
    pub is_assigned: bool,
    pub is_skill_active: bool,
    pub last_update_time: Stamp,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InvalidSkill {
    pub skill_id: u64,
}

// --- GET /skills/{skillId}/agents ----------------------------------------------------

/// `GET /skills/{skillId}/agents`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SkillAgentsPage<'a> {
    pub total_records: u64,
    pub business_unit_id: u64,
    pub last_poll_time: Stamp,
    pub agent_skill_assignments: Vec<SkillAgentRow<'a>>,
    #[serde(rename = "_links")]
    pub links: Links,
}

/// One row of the per-skill read. The published row *requires* every
/// field below, so the ones the sandbox has no data for (campaigns,
/// teams, dispositions) carry their empty value rather than being left
/// out.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SkillAgentRow<'a> {
    pub agent_id: u64,
    pub user_id: &'a str,
    pub first_name: &'a str,
    pub middle_name: &'a str,
    pub last_name: &'a str,
    pub agent_proficiency_value: u8,
    pub agent_proficiency_name: &'static str,
    pub campaign_id: u64,
    pub campaign_name: &'a str,
    pub email_from_address: &'a str,
    pub internal_id: &'a str,
    pub is_active: bool,
    pub is_skill_active: bool,
    pub is_dialer: bool,
    pub is_natural_calling: bool,
    pub is_natural_calling_running: bool,
    pub is_outbound: bool,
    pub last_update_time: Stamp,
    pub media_type_id: u64,
    pub media_type_name: &'a str,
    pub notes: &'a str,
    pub outbound_strategy: &'a str,
    pub priority_blending: bool,
    pub require_disposition: bool,
    pub script_disposition: bool,
    pub skill_id: u64,
    pub skill_name: &'a str,
    pub team_id: u64,
    pub team_name: &'a str,
    #[serde(rename = "useACW")]
    pub use_acw: bool,
    pub use_disposition: bool,
    pub use_secondary_dispositions: bool,
    pub screen_pop_trigger_event: &'a str,
}

// --- write answers -----------------------------------------------------------------------

/// `POST`/`PUT`/`DELETE /agents/{id}/skills`: integers, and `error` text
/// on failed rows only.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SkillResultsAnswer {
    pub result_set: SkillResultSet,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SkillResultSet {
    pub error_count: u64,
    pub skill_results: Vec<SkillResult>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SkillResult {
    pub skill_id: u64,
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

/// `POST`/`PUT /skills/{skillId}/agents`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AgentResultsAnswer {
    pub result_set: AgentResultSet,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AgentResultSet {
    pub error_count: u64,
    pub agent_results: Vec<AgentResult>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AgentResult {
    pub agent_id: u64,
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

/// `DELETE /skills/{skillId}/agents`: `error` is published as a boolean,
/// true on a failed row.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AgentRemovalsAnswer {
    pub result_set: AgentRemovalSet,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AgentRemovalSet {
    pub error_count: u64,
    pub agent_results: Vec<AgentRemoval>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AgentRemoval {
    pub agent_id: u64,
    pub success: bool,
    pub error: bool,
}

/// `POST /agents/skills`: ids and `errorCount` are published as strings,
/// and the rows carry no error text.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UpsertAnswer {
    pub result_set: UpsertResultSet,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UpsertResultSet {
    pub error_count: String,
    pub skill_results: Vec<UpsertResult>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UpsertResult {
    pub agent_id: String,
    pub skill_id: String,
    pub success: bool,
}

// --- errors, token, discovery ----------------------------------------------------------

/// Every whole-request error: `{"error", "error_description"}`.
#[derive(Debug, Serialize)]
pub(super) struct ApiError<'a> {
    pub error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// `POST /auth/token`, 200.
#[derive(Debug, Serialize)]
pub(super) struct TokenAnswer {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
    pub id_token: String,
}

/// `GET /.well-known/cxone-configuration`. The reference requires
/// `region` without defining it; the sandbox sends it as a string.
#[derive(Debug, Serialize)]
pub(super) struct CxoneConfiguration {
    #[serde(rename = "tenantId")]
    pub tenant_id: String,
    pub area: String,
    pub cluster: String,
    pub region: String,
    pub domain: String,
    pub globaldomain: String,
    pub api_endpoint: String,
    pub auth_endpoint: String,
    pub ui_endpoint: String,
    pub private: bool,
    #[serde(rename = "uhDomain")]
    pub uh_domain: String,
    #[serde(rename = "acdDomain")]
    pub acd_domain: String,
}

// --- observability -------------------------------------------------------------------------

/// One assignment the tenant holds now, as [`super::SandboxHandle::assignments`]
/// and `GET /__sandbox/state` report it: the sandbox's own shape, not an
/// API answer, so tests and tools read the tenant without depending on
/// either side's wire types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldAssignment {
    pub agent_id: u64,
    pub skill_id: u64,
    /// 1 (best) to 20.
    pub proficiency: u8,
    pub is_active: bool,
    /// RFC 3339 UTC with milliseconds, as the reads show it.
    pub last_update_time: String,
}

/// `GET /__sandbox/state`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SandboxState<'a> {
    pub total_records: u64,
    pub assignments: &'a [HeldAssignment],
}

/// `agentProficiencyName` for each proficiency (the sandbox names a level
/// by its number), static so that listings do not allocate per row.
pub(super) fn proficiency_name(value: u8) -> &'static str {
    const NAMES: [&str; 21] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
        "17", "18", "19", "20",
    ];
    NAMES.get(usize::from(value)).copied().unwrap_or("")
}
