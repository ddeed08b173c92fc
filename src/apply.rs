//! Stage 4: plan → requests → outcomes.
//!
//! Each agent with changes is handled on its own, at most `concurrency` at
//! a time: read its assignments again just before writing (the contract has
//! no ETag, so reads happen as late as possible), re-plan against that
//! read, send the plan's requests in order, and map every per-row result
//! back to the roster line it came from. When anything went wrong, or an
//! attempt may have been applied without our hearing back, the agent is
//! read once more and each row is judged by what the tenant now holds: a
//! retried POST answered "already assigned" counts as applied when the
//! assignment matches, a genuine refusal stays a failure with the server's
//! words.

use std::collections::HashMap;
use std::sync::OnceLock;

use futures_util::{StreamExt, stream};
use tracing::{Instrument, info, info_span, warn};

use crate::client::{Client, ClientError};
use crate::model::{AgentRef, Row, Target};
use crate::outcome::{RowOutcome, Status};
use crate::plan::{Action, AgentPlan, Current, Plan, PlannedRow, State, plan_agent};
use crate::wire;

/// The outcome of applying a plan: one outcome per planned or rejected row,
/// and the fatal error that stopped the run early, if any.
#[derive(Debug)]
pub struct Applied {
    pub rows: Vec<RowOutcome>,
    pub fatal: Option<ClientError>,
}

/// Applies the plan. Rows the plan rejected are reported as they are;
/// nothing is sent for them.
pub async fn apply(
    client: &Client,
    plan: &Plan,
    skills: &HashMap<u64, wire::Skill>,
    concurrency: usize,
    on_agent: &(dyn Fn() + Sync),
) -> Applied {
    let fatal: OnceLock<ClientError> = OnceLock::new();
    let mut rows: Vec<RowOutcome> = plan.rejected.iter().map(RowOutcome::of_rejected).collect();
    let mut work = stream::iter(&plan.agents)
        .map(|agent| {
            let span = info_span!("agent", agent = %agent.agent);
            apply_agent(client, agent, skills, &fatal).instrument(span)
        })
        .buffer_unordered(concurrency.max(1));
    while let Some(outcomes) = work.next().await {
        rows.extend(outcomes);
        on_agent();
    }
    drop(work);
    Applied {
        rows,
        fatal: fatal.into_inner(),
    }
}

async fn apply_agent(
    client: &Client,
    planned: &AgentPlan,
    skills: &HashMap<u64, wire::Skill>,
    fatal: &OnceLock<ClientError>,
) -> Vec<RowOutcome> {
    if !planned.has_changes() {
        return outcomes(&planned.rows, |_| (Status::Unchanged, None));
    }
    if let Some(error) = fatal.get() {
        return not_attempted(&planned.rows, &format!("not attempted: {error}"));
    }
    let agent = planned.agent;
    let rows: Vec<Row> = planned.rows.iter().map(|r| r.row).collect();

    let fresh = match read_agent(client, agent, fatal).await {
        Ok(current) => current,
        Err(error) => return not_attempted(&planned.rows, &error),
    };
    // The planned rows already hold the removals `--prune` showed; an
    // assignment that appeared since is not removed unseen.
    let (current, rejected) = plan_agent(agent, &rows, fresh, skills, false);
    let mut results: Vec<RowOutcome> = rejected.iter().map(RowOutcome::of_rejected).collect();
    if !current.has_changes() {
        results.extend(outcomes(&current.rows, |_| (Status::Unchanged, None)));
        return results;
    }

    // The first error of each skill: the one that explains the rest.
    let mut errors: HashMap<u64, String> = HashMap::new();
    let mut verify = false;
    // The PUT always carries the full target set, even a skill whose POST
    // was answered with an error: that answer may be "already assigned"
    // to a retried POST that did land, and leaving the skill out would
    // wipe it where PUT replaces the set.
    for request in current.requests() {
        let path = request.path();
        let method = request.kind.method();
        match client
            .send(method.clone(), &path, Some(&request.body))
            .await
        {
            Ok(response) => {
                verify |= response.after_lost_attempt;
                let result_set = serde_json::from_slice::<wire::ResultSetResponse>(&response.body)
                    .ok()
                    .and_then(|r| r.result_set.skill_results);
                // An answer that does not account for every row sent (no
                // resultSet, say, or an HTML page with a 200) proves
                // nothing: look at the tenant afterwards instead.
                let accounted = result_set.as_ref().is_some_and(|results| {
                    request
                        .body
                        .skills
                        .iter()
                        .all(|s| results.iter().any(|r| r.skill_id == s.skill_id))
                });
                verify |= !accounted;
                match result_set {
                    Some(skill_results) => {
                        for result in skill_results.into_iter().filter(|r| !r.success) {
                            let error = result
                                .error
                                .unwrap_or_else(|| "rejected without a message".to_owned());
                            errors.entry(result.skill_id).or_insert(error);
                        }
                    }
                    None if response.status.is_success() => {}
                    None => {
                        // A whole-request error: every row of the request
                        // gets it verbatim.
                        let error =
                            format!("{method} {path}: {}: {}", response.status, response.text());
                        for skill in &request.body.skills {
                            errors
                                .entry(skill.skill_id)
                                .or_insert_with(|| error.clone());
                        }
                    }
                }
            }
            Err(error) => {
                let message = error.to_string();
                for skill in &request.body.skills {
                    errors
                        .entry(skill.skill_id)
                        .or_insert_with(|| message.clone());
                }
                if error.is_fatal() {
                    let _ = fatal.set(error);
                    break;
                }
                // Retries ran out; the write may or may not have landed.
                verify = true;
            }
        }
    }

    let roster_skills: Vec<u64> = current.rows.iter().map(|r| r.row.skill.get()).collect();
    for (skill, error) in &errors {
        if !roster_skills.contains(skill) {
            warn!(
                skill,
                "an assignment carried unchanged in the PUT was refused: {error}"
            );
        }
    }

    // Judge by what the tenant holds now, when the answers alone cannot
    // be trusted to tell.
    let after: Option<Result<Current, String>> = if !verify && errors.is_empty() {
        None
    } else if fatal.get().is_none() {
        Some(read_agent(client, agent, fatal).await)
    } else {
        Some(Err("the run stopped before it could be checked".to_owned()))
    };

    results.extend(outcomes(&current.rows, |row| {
        if row.action == Action::Unchanged {
            return (Status::Unchanged, None);
        }
        let skill = row.row.skill.get();
        let error = errors.get(&skill).cloned();
        match &after {
            Some(Ok(after)) if in_place(row, after.get(skill)) => {
                if let Some(error) = &error {
                    info!(skill, "in place despite the answer \"{error}\"");
                }
                (Status::Applied, None)
            }
            Some(Ok(after)) => {
                let shown = match after.get(skill) {
                    Some(s) => format!("proficiency {} active {}", s.proficiency, s.active),
                    None => "not assigned".to_owned(),
                };
                let error = error.unwrap_or_else(|| {
                    format!("not in place after the write: the tenant shows {shown}")
                });
                (Status::Failed, Some(error))
            }
            Some(Err(reason)) => {
                let error = error.unwrap_or_else(|| {
                    format!(
                        "the answer did not confirm the write, and reading it back failed: {reason}"
                    )
                });
                (Status::Failed, Some(error))
            }
            None => match error {
                Some(error) => (Status::Failed, Some(error)),
                None => (Status::Applied, None),
            },
        }
    }));
    results
}

/// The agent's assignments now, or why they cannot be had; an error that
/// ends the run is also recorded in `fatal`.
async fn read_agent(
    client: &Client,
    agent: AgentRef,
    fatal: &OnceLock<ClientError>,
) -> Result<Current, String> {
    match Current::of_read(agent, client.agent_skills(&agent).await) {
        Ok(current) => current,
        Err(error) => {
            let message = error.to_string();
            let _ = fatal.set(error);
            Err(message)
        }
    }
}

/// Whether the tenant's assignment is what the row asks for.
fn in_place(row: &PlannedRow, now: Option<State>) -> bool {
    match (row.row.target, now) {
        (Target::Remove, now) => now.is_none(),
        (Target::Set { .. }, Some(now)) => row.to == Some(now),
        (Target::Set { .. }, None) => false,
    }
}

fn outcomes(
    rows: &[PlannedRow],
    judge: impl Fn(&PlannedRow) -> (Status, Option<String>),
) -> Vec<RowOutcome> {
    rows.iter()
        .map(|row| {
            let (status, error) = judge(row);
            RowOutcome::of_planned(row, status, error)
        })
        .collect()
}

/// Rows of an agent that could not be written: changes fail with `error`,
/// unchanged rows stay unchanged.
fn not_attempted(rows: &[PlannedRow], error: &str) -> Vec<RowOutcome> {
    outcomes(rows, |row| match row.action {
        Action::Unchanged => (Status::Unchanged, None),
        _ => (Status::Failed, Some(error.to_owned())),
    })
}
