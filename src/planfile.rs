//! Saved plans: what was approved is what is applied.
//!
//! `cxskill plan roster.csv --out plan.json` writes a [`SavedPlan`]: a
//! versioned JSON object (a roster is an array, which is how the two are
//! told apart) holding the roster's digest and name, the tenant it was made
//! against, the before-state and target of every pair it changes, the
//! requests it expects to send, and a checksum of its own content.
//!
//! `cxskill apply plan.json` applies the plan's **pair changes**, not the
//! roster: it re-reads those pairs first and refuses when any has drifted
//! from the plan's before-state (unless `--allow-drift`, which applies each
//! target to whatever the tenant now holds). Full-set bodies are rebuilt
//! from a read just before writing, never taken from the file.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{Proficiency, Row, SkillId, State, Target};
use crate::plan::{self, Action, Pair, Plan, RejectedRow};
use crate::read::{Holdings, Known};
use crate::time;

/// What the `format` field of a saved plan says.
pub const FORMAT: &str = "cxskill-plan";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;

/// Why a plan that does not match its checksum is damaged.
const CHECKSUM_MISMATCH: &str = "its checksum does not match its content (edited or truncated?)";

/// A saved plan, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub version: u32,
    /// When the plan was made: RFC 3339, UTC.
    pub created: String,
    pub roster: RosterDigest,
    pub tenant: TenantId,
    /// Every pair the plan changes.
    pub changes: Vec<SavedPair>,
    /// How many roster rows were already in place.
    pub unchanged: u64,
    /// Rows that will not be sent (invalid for the tenant, or failing on
    /// their own), with why.
    pub rejected: Vec<SavedRejection>,
    /// Other assignments of the agents the plan changes, as the plan's
    /// read saw them: not written back (full sets are read again), only
    /// compared, so that a change someone makes after the plan is reported.
    pub context: Vec<SavedAssignment>,
    /// Skill names by id, for showing the plan.
    pub skill_names: BTreeMap<u64, String>,
    /// The requests `apply` expected to send, by endpoint.
    pub requests: BTreeMap<String, u64>,
    /// `sha256:` of the document without this field.
    pub checksum: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterDigest {
    /// The roster as it was named (a path, or `<stdin>`).
    pub name: String,
    /// `sha256:` of its bytes.
    pub sha256: String,
}

/// The tenant a plan was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantId {
    /// From discovery or a JWT bearer token, where one was known.
    pub tenant_id: Option<String>,
    pub business_unit_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPair {
    /// The roster line; 0 for an assignment `--prune` removes.
    pub line: u64,
    pub agent: u64,
    pub skill: u64,
    pub action: Action,
    pub before: Option<State>,
    pub after: Option<State>,
    /// The roster's active column: `None` keeps the tenant's flag.
    #[serde(default)]
    pub active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedRejection {
    pub line: u64,
    pub agent: u64,
    pub skill: u64,
    pub invalid: bool,
    pub error: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedAssignment {
    pub agent: u64,
    pub skill: u64,
    pub state: State,
}

/// Why a saved plan cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanFileError {
    #[error("{name}: not a saved plan: {reason}")]
    NotAPlan { name: String, reason: String },
    #[error(
        "{name}: the plan was written by a cxskill that uses plan format version {found}; this cxskill reads version {VERSION}: make the plan again with this cxskill"
    )]
    UnknownVersion { name: String, found: u32 },
    #[error("{name}: the plan is damaged: {reason}; make the plan again")]
    Damaged { name: String, reason: String },
    #[error(
        "{name}: the plan was made for {planned}, but this is {here}; nothing was sent (plan against this tenant instead)"
    )]
    OtherTenant {
        name: String,
        planned: String,
        here: String,
    },
}

/// Whether a file's bytes are a saved plan (a JSON object) rather than a
/// roster (a CSV, or a JSON array).
pub fn looks_like_plan(bytes: &[u8]) -> bool {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    text.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

/// `sha256:` and the hex digest of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256:");
    for byte in hash {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

impl SavedPlan {
    /// The plan as it will be saved. `holdings` are the plan's reads (for
    /// the context of the agents it changes).
    pub fn new(
        plan: &Plan,
        holdings: &Holdings,
        roster: RosterDigest,
        tenant: TenantId,
        requests: BTreeMap<String, u64>,
        now: SystemTime,
    ) -> SavedPlan {
        let changes: Vec<SavedPair> = plan
            .pairs
            .iter()
            .filter(|p| p.changes())
            .map(|p| SavedPair {
                line: p.line,
                agent: p.agent,
                skill: p.skill,
                action: p.action,
                before: p.before,
                after: p.after,
                active: match p.target {
                    Target::Set { active, .. } => active,
                    Target::Remove => None,
                },
            })
            .collect();
        let named = plan.named();
        let mut agents: Vec<u64> = changes.iter().map(|c| c.agent).collect();
        agents.sort_unstable();
        agents.dedup();
        let context = agents
            .iter()
            .flat_map(|&agent| {
                holdings
                    .seen_of(agent)
                    .into_iter()
                    .map(move |(skill, state)| SavedAssignment {
                        agent,
                        skill,
                        state,
                    })
            })
            .filter(|a| !named.contains(&(a.agent, a.skill)))
            .collect();
        let mut saved = SavedPlan {
            format: FORMAT.to_owned(),
            version: VERSION,
            created: time::format_millis(time::millis(now)),
            roster,
            tenant,
            changes,
            unchanged: plan.counts().unchanged,
            rejected: plan
                .rejected
                .iter()
                .map(|r| SavedRejection {
                    line: r.row.line,
                    agent: r.row.agent,
                    skill: r.row.skill.get(),
                    invalid: r.invalid,
                    error: r.error.clone(),
                })
                .collect(),
            context,
            skill_names: plan
                .skill_names
                .iter()
                .map(|(id, name)| (*id, name.clone()))
                .collect(),
            requests,
            checksum: String::new(),
        };
        saved.checksum = saved.computed_checksum();
        saved
    }

    /// The document as written: pretty JSON, one trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads and checks a saved plan: its format, version and checksum.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<SavedPlan, PlanFileError> {
        let not_a_plan = |reason: String| PlanFileError::NotAPlan {
            name: name.to_owned(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| not_a_plan(format!("not JSON ({e})")))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(not_a_plan(format!(
                "a JSON object without \"format\": \"{FORMAT}\" (a JSON roster is an array)"
            )));
        }
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version != u64::from(VERSION) {
            return Err(PlanFileError::UnknownVersion {
                name: name.to_owned(),
                found: u32::try_from(version).unwrap_or(u32::MAX),
            });
        }
        let damaged = |reason: String| PlanFileError::Damaged {
            name: name.to_owned(),
            reason,
        };
        let edited = || damaged(CHECKSUM_MISMATCH.to_owned());
        let saved: SavedPlan = serde_json::from_value(value).map_err(|_| edited())?;
        if saved.checksum != saved.computed_checksum() {
            return Err(edited());
        }
        // A checksum proves the file whole, not that it holds what cxskill
        // writes: every change and rejection must read as one.
        for change in &saved.changes {
            change.pair().map_err(&damaged)?;
        }
        for rejection in &saved.rejected {
            rejection.row().map_err(&damaged)?;
        }
        Ok(saved)
    }

    /// The checksum of everything but the checksum itself.
    fn computed_checksum(&self) -> String {
        let unsummed = SavedPlan {
            checksum: String::new(),
            ..self.clone()
        };
        digest(&serde_json::to_vec(&unsummed).unwrap_or_default())
    }

    /// Refuses a plan made for another tenant or business unit. A side
    /// that does not know its tenant id cannot prove a mismatch; the
    /// business unit is read on every run.
    pub fn check_tenant(&self, name: &str, here: &TenantId) -> Result<(), PlanFileError> {
        let differs = |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b));
        if differs(&self.tenant.tenant_id, &here.tenant_id)
            || differs(&self.tenant.business_unit_id, &here.business_unit_id)
        {
            let show = |t: &TenantId| {
                format!(
                    "tenant {}, business unit {}",
                    t.tenant_id.as_deref().unwrap_or("(unknown)"),
                    t.business_unit_id.as_deref().unwrap_or("(unknown)")
                )
            };
            return Err(PlanFileError::OtherTenant {
                name: name.to_owned(),
                planned: show(&self.tenant),
                here: show(here),
            });
        }
        Ok(())
    }

    /// How long ago the plan was made, when its time reads.
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        let made = time::system_time(&self.created)?;
        now.duration_since(made).ok()
    }

    /// The skills of the pairs the plan changes.
    pub fn skills(&self) -> Vec<u64> {
        let mut skills: Vec<u64> = self.changes.iter().map(|c| c.skill).collect();
        skills.sort_unstable();
        skills.dedup();
        skills
    }

    /// The plan as `plan` showed it: its pairs with their before-state.
    /// Every change and rejection converts: [`SavedPlan::parse`] refuses
    /// a plan holding one that does not, and [`SavedPlan::new`] saves only
    /// a plan's own.
    pub fn as_plan(&self) -> Plan {
        Plan {
            pairs: self.changes.iter().flat_map(SavedPair::pair).collect(),
            rejected: self.rejected.iter().flat_map(SavedRejection::row).collect(),
            skill_names: self
                .skill_names
                .iter()
                .map(|(id, name)| (*id, name.clone()))
                .collect(),
            restated: self.unchanged,
        }
    }

    /// The plan against the tenant as it is now: each pair whose state
    /// still is the plan's before-state as planned; with `allow_drift`,
    /// a drifted pair aims at its target from whatever the tenant holds.
    /// Returns the plan and the drift.
    pub fn against(&self, now: &Holdings, allow_drift: bool) -> (Plan, Vec<Drift>) {
        let mut plan = self.as_plan();
        let mut drift = Vec::new();
        let mut pairs = Vec::with_capacity(plan.pairs.len());
        for pair in std::mem::take(&mut plan.pairs) {
            let current = match now.get(pair.agent, pair.skill) {
                Known::Held(state) => Some(state),
                Known::Absent => None,
                Known::Unknown => {
                    // Nothing is written where the tenant's state is not
                    // known now.
                    plan.rejected.push(unread(&pair, now));
                    continue;
                }
            };
            if current == pair.before {
                pairs.push(pair);
                continue;
            }
            drift.push(Drift {
                line: pair.line,
                agent: pair.agent,
                skill: pair.skill,
                planned: pair.before,
                now: current,
            });
            pairs.push(if allow_drift {
                retarget(&pair, current)
            } else {
                pair
            });
        }
        plan.pairs = pairs;
        (plan, drift)
    }

    /// The context as holdings: what the plan's read saw of the other
    /// assignments of its agents.
    pub fn context_pairs(&self) -> Vec<(u64, u64, State)> {
        self.context
            .iter()
            .map(|a| (a.agent, a.skill, a.state))
            .collect()
    }
}

/// A pair the tenant no longer holds as the plan found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub line: u64,
    pub agent: u64,
    pub skill: u64,
    pub planned: Option<State>,
    pub now: Option<State>,
}

impl SavedPair {
    /// The pair, or why the saved change is not one.
    fn pair(&self) -> Result<Pair, String> {
        let target = match self.after {
            Some(after) => Target::Set {
                proficiency: Proficiency::new(i64::from(after.proficiency)).ok_or_else(|| {
                    format!(
                        "the change of line {} (agent {}, skill {}) sets proficiency {}, outside 1..=20",
                        self.line, self.agent, self.skill, after.proficiency
                    )
                })?,
                active: self.active,
            },
            None => Target::Remove,
        };
        Ok(Pair {
            line: self.line,
            agent: self.agent,
            skill: self.skill,
            target,
            action: self.action,
            before: self.before,
            after: self.after,
        })
    }
}

impl SavedRejection {
    /// The rejected row, or why the saved rejection is not one.
    fn row(&self) -> Result<RejectedRow, String> {
        let skill = SkillId::new(self.skill).ok_or_else(|| {
            format!(
                "the rejected row of line {} (agent {}) names skill {}, which is not a skill id",
                self.line, self.agent, self.skill
            )
        })?;
        Ok(RejectedRow {
            row: Row {
                line: self.line,
                agent: self.agent,
                skill,
                target: Target::Remove,
            },
            invalid: self.invalid,
            error: self.error.clone(),
        })
    }
}

/// A pair whose state the tenant's reads cannot tell now: failed, with
/// why, and nothing sent for it.
pub fn unread(pair: &Pair, now: &Holdings) -> RejectedRow {
    let error = now.untrusted(pair.agent).map_or_else(
        || {
            format!(
                "agent {} skill {} could not be read again; nothing was sent for it",
                pair.agent, pair.skill
            )
        },
        str::to_owned,
    );
    RejectedRow {
        row: Row {
            line: pair.line,
            agent: pair.agent,
            skill: SkillId::new(pair.skill).unwrap_or(SkillId::MIN),
            target: pair.target,
        },
        invalid: false,
        error,
    }
}

/// A pair aimed at its target from the tenant's state now, as a fresh
/// plan would aim it.
fn retarget(pair: &Pair, now: Option<State>) -> Pair {
    let (action, after) = plan::transition(pair.target, now);
    Pair {
        before: now,
        after,
        action,
        ..*pair
    }
}

/// `3h12m`, `4m05s`, `12s`.
pub fn age_text(age: Duration) -> String {
    let secs = age.as_secs();
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s:02}s"),
        (0, _, _) => format!("{h}h{m:02}m"),
        _ => format!("{d}d{h:02}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{catalogue, holdings, row, set};

    fn saved() -> SavedPlan {
        let plan = crate::plan::build(
            &[
                row(2, 10, 2, set(2, None)),
                row(3, 10, 4, set(12, Some(false))),
            ],
            &holdings(),
            &catalogue(),
            false,
        );
        SavedPlan::new(
            &plan,
            &holdings(),
            RosterDigest {
                name: "r.csv".into(),
                sha256: digest(b"roster"),
            },
            TenantId {
                tenant_id: Some("t-1".into()),
                business_unit_id: Some("4600".into()),
            },
            BTreeMap::new(),
            std::time::UNIX_EPOCH + Duration::from_secs(1_795_168_800),
        )
    }

    #[test]
    fn a_saved_plan_reads_back_and_a_changed_byte_is_damage() {
        let plan = saved();
        let text = plan.to_json();
        assert!(looks_like_plan(text.as_bytes()));
        assert!(!looks_like_plan(b"[{\"agent\": 1}]"));
        assert!(!looks_like_plan(b"agent,skill\n"));
        assert_eq!(
            SavedPlan::parse("p.json", text.as_bytes()),
            Ok(plan.clone())
        );
        let damaged = text.replacen("\"proficiency\": 2", "\"proficiency\": 3", 1);
        assert_ne!(damaged, text);
        assert!(matches!(
            SavedPlan::parse("p.json", damaged.as_bytes()),
            Err(PlanFileError::Damaged { .. })
        ));
        let future = text.replacen("\"version\": 1", "\"version\": 9", 1);
        assert!(matches!(
            SavedPlan::parse("p.json", future.as_bytes()),
            Err(PlanFileError::UnknownVersion { found: 9, .. })
        ));
        assert!(matches!(
            SavedPlan::parse("p.json", b"{\"agent\": 1}"),
            Err(PlanFileError::NotAPlan { .. })
        ));
    }

    /// `plan` with its checksum computed again, as an editor who knows
    /// the scheme would leave it.
    fn resummed(mut plan: SavedPlan) -> String {
        plan.checksum = plan.computed_checksum();
        plan.to_json()
    }

    #[test]
    fn a_valid_checksum_over_a_change_or_rejection_cxskill_never_writes_is_damage() {
        let mut plan = saved();
        plan.changes[0].after = Some(State {
            proficiency: 25,
            active: true,
        });
        let error = SavedPlan::parse("p.json", resummed(plan).as_bytes()).unwrap_err();
        assert!(matches!(error, PlanFileError::Damaged { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains("the change of line 2 (agent 10, skill 2) sets proficiency 25"),
            "{error}"
        );

        let mut plan = saved();
        plan.rejected.push(SavedRejection {
            line: 4,
            agent: 10,
            skill: 0,
            invalid: true,
            error: "skill 0 does not exist in this tenant".into(),
        });
        let error = SavedPlan::parse("p.json", resummed(plan).as_bytes()).unwrap_err();
        assert!(matches!(error, PlanFileError::Damaged { .. }), "{error}");
        assert!(error.to_string().contains("names skill 0"), "{error}");
    }

    #[test]
    fn the_context_holds_the_changed_agents_other_assignments() {
        let plan = saved();
        let context: Vec<(u64, u64)> = plan.context.iter().map(|a| (a.agent, a.skill)).collect();
        assert_eq!(context, [(10, 1), (10, 3)]);
    }

    #[test]
    fn another_tenant_or_business_unit_is_refused_an_unknown_one_is_not() {
        let plan = saved();
        let here = |t: Option<&str>, bu: Option<&str>| TenantId {
            tenant_id: t.map(str::to_owned),
            business_unit_id: bu.map(str::to_owned),
        };
        assert_eq!(
            plan.check_tenant("p", &here(Some("t-1"), Some("4600"))),
            Ok(())
        );
        assert_eq!(plan.check_tenant("p", &here(None, Some("4600"))), Ok(()));
        assert!(
            plan.check_tenant("p", &here(Some("t-2"), Some("4600")))
                .is_err()
        );
        assert!(
            plan.check_tenant("p", &here(Some("t-1"), Some("4700")))
                .is_err()
        );
    }

    #[test]
    fn drift_is_found_and_allow_drift_aims_at_the_target_from_now() {
        let plan = saved();
        let mut now = holdings();
        // Skill 2 of agent 10 was 7 when planned; someone set it to 9.
        now.record(
            10,
            2,
            Some(State {
                proficiency: 9,
                active: true,
            }),
        );
        let (_, drift) = plan.against(&now, false);
        assert_eq!(drift.len(), 1);
        assert_eq!(drift[0].skill, 2);
        let (retargeted, _) = plan.against(&now, true);
        let pair = retargeted.pairs.iter().find(|p| p.skill == 2).unwrap();
        assert_eq!(pair.action, Action::Change);
        assert_eq!(pair.before.map(|s| s.proficiency), Some(9));
        assert_eq!(pair.after.map(|s| s.proficiency), Some(2));
    }

    #[test]
    fn allow_drift_adds_a_pair_removed_since_as_a_fresh_plan_would() {
        // Agent 10 holds skill 3 at 4, inactive; the roster moves it to 6
        // and leaves the flag to the tenant: planned inactive.
        let rows = [row(2, 10, 3, set(6, None))];
        let plan = crate::plan::build(&rows, &holdings(), &catalogue(), false);
        assert_eq!(plan.pairs[0].after.map(|s| s.active), Some(false));
        let saved = SavedPlan::new(
            &plan,
            &holdings(),
            RosterDigest {
                name: "r.csv".into(),
                sha256: digest(b"roster"),
            },
            TenantId {
                tenant_id: None,
                business_unit_id: None,
            },
            BTreeMap::new(),
            std::time::UNIX_EPOCH,
        );
        // Someone removes it after the plan.
        let mut now = holdings();
        now.record(10, 3, None);
        let (retargeted, drift) = saved.against(&now, true);
        assert_eq!(drift.len(), 1);
        let fresh = crate::plan::build(&rows, &now, &catalogue(), false);
        assert_eq!(retargeted.pairs, fresh.pairs);
        assert_eq!(retargeted.pairs[0].action, Action::Add);
        assert_eq!(
            retargeted.pairs[0].after,
            Some(State {
                proficiency: 6,
                active: true
            })
        );
    }

    #[test]
    fn a_pair_whose_agent_cannot_be_read_now_fails_and_is_not_planned() {
        let plan = saved();
        let mut now = holdings();
        now.mark_untrusted(10, "the read lists another agent".into());
        let (against, drift) = plan.against(&now, true);
        assert!(against.pairs.is_empty());
        assert!(drift.is_empty());
        assert_eq!(against.rejected.len(), plan.changes.len());
        assert!(
            against
                .rejected
                .iter()
                .all(|r| !r.invalid && r.error.contains("another agent"))
        );
    }

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(age_text(Duration::from_secs(3 * 3600 + 12 * 60)), "3h12m");
        assert_eq!(age_text(Duration::from_secs(65)), "1m05s");
        assert_eq!(age_text(Duration::from_secs(2 * 86_400 + 3600)), "2d01h");
        let plan = saved();
        let later = std::time::UNIX_EPOCH + Duration::from_secs(1_795_168_800 + 90);
        assert_eq!(plan.age(later), Some(Duration::from_secs(90)));
    }
}
