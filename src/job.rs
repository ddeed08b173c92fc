//! One job, described whole: what `plan` or `apply` is to do and the policy
//! it runs under. The binary parses flags into a [`Job`] (as ripgrep's
//! `hiargs` turns parsed flags into one validated description of the run),
//! asks at the terminal when [`Job::review`] says to, and renders; every
//! decision is made here, where it can be unit-tested without the binary:
//!
//! - the invalid-row gate (`--skip-invalid`, and never with `--prune`);
//! - the removal guard (`--max-removals`);
//! - the confirmation (`--yes`, a terminal to ask on, a throwaway sandbox);
//! - the exit code.
//!
//! [`Job::plan`] runs the pipeline up to the requests:
//! **rows → reads → diff → requests**; [`Job::apply`] sends them and
//! returns the outcomes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use tracing::info;

use crate::apply::{self, Applied, Progress};
use crate::client::{Client, ClientError, RequestCounts, Route};
use crate::exit_codes;
use crate::interrupt::Interrupt;
use crate::model::{RosterRow, Row};
use crate::outcome::{RowOutcome, RunReport};
use crate::plan::{self, Plan};
use crate::planfile::{Drift, SavedPlan};
use crate::read::{self, Activity, Change, FullSetRead, Holdings, SKILLS_PER_READ};
use crate::requests::{self, Strategy, WriteKind, Writes};
use crate::resolve::{self, Directory};
use crate::snapshot::{self, SnapshotRow};

/// What the job is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `plan`: read and show, never write.
    Plan,
    /// `apply --dry-run`: as `plan`, judged as the apply would be.
    DryRun,
    /// `apply`.
    Apply,
}

/// How the go-ahead is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// `--yes` (or `--auto-approve`).
    Given,
    /// An in-process sandbox, thrown away after the run: nothing to
    /// protect.
    Throwaway,
    /// A saved plan: its review was the confirmation.
    Reviewed,
    /// Ask on the terminal.
    Ask,
    /// No terminal to ask on, and no `--yes`.
    NoTerminal,
}

/// One job: the policy of a `plan` or `apply` run.
#[derive(Debug, Clone)]
pub struct Job {
    pub mode: Mode,
    /// `--detailed-exitcode`: 4 when there are changes.
    pub detailed_exitcode: bool,
    /// `--prune`: remove what the roster does not name, for its agents.
    pub prune: bool,
    /// `--skip-invalid`: send the valid rows even when some are invalid.
    pub skip_invalid: bool,
    /// `--max-removals`.
    pub max_removals: u64,
    /// `--allow-drift`: apply a saved plan's targets to what the tenant
    /// holds now.
    pub allow_drift: bool,
    pub confirmation: Confirmation,
    pub strategy: Strategy,
    pub concurrency: usize,
    /// The oldest a bulk read may be when a full-set PUT is built from it.
    pub max_read_age: Duration,
}

impl Default for Job {
    fn default() -> Self {
        Job {
            mode: Mode::Plan,
            detailed_exitcode: false,
            prune: false,
            skip_invalid: false,
            max_removals: 50,
            allow_drift: false,
            confirmation: Confirmation::Ask,
            strategy: Strategy::default(),
            concurrency: 5,
            max_read_age: Duration::from_secs(2),
        }
    }
}

/// Why a job stops before sending anything. Each is exit 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Some rows are invalid and `--skip-invalid` was not given.
    InvalidRows { count: usize },
    /// `--prune` with invalid rows: an invalid row's skill is not "named",
    /// so pruning would remove exactly what that row meant to keep.
    PruneWithInvalid { count: usize },
    /// More removals than `--max-removals`.
    TooManyRemovals { removals: u64, max: u64 },
    /// `apply` off a terminal without `--yes`.
    NoTerminal,
    /// A saved plan whose pairs changed since it was made.
    Drift { count: usize },
    /// The user did not say `yes`.
    Declined,
}

impl Stop {
    pub fn message(&self) -> String {
        match self {
            Stop::InvalidRows { count } => format!(
                "{count} rows are invalid; nothing was sent (fix them, or --skip-invalid to send the rest)"
            ),
            Stop::PruneWithInvalid { count } => format!(
                "{count} rows are invalid; --prune needs every row valid (even with --skip-invalid), since it would remove what an invalid row names; nothing was sent"
            ),
            Stop::TooManyRemovals { removals, max } => format!(
                "the plan removes {removals} assignments, more than --max-removals {max}; nothing was sent (raise --max-removals to go ahead)"
            ),
            Stop::NoTerminal => "apply needs a go-ahead: there is no terminal to ask on, so add --yes (or --auto-approve) to apply unattended; nothing was sent".to_owned(),
            Stop::Drift { count } => format!(
                "{count} pairs of the plan changed since it was made (listed above); nothing was sent: make the plan again, or --allow-drift to apply each target to what the tenant holds now"
            ),
            Stop::Declined => "cancelled; nothing was sent".to_owned(),
        }
    }

    pub fn exit_code(&self) -> i32 {
        exit_codes::INVALID_INPUT
    }
}

/// What to do with a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Review {
    /// Go ahead without asking.
    Proceed,
    /// Ask on the terminal first.
    Ask,
    /// Nothing to send (a plan, a dry run, or nothing to change).
    Done,
    Stop(Stop),
}

/// A plan and everything needed to carry it out.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    pub writes: Writes,
    pub holdings: Holdings,
    /// Rows invalid before the plan (roster errors, names that resolve to
    /// nothing).
    pub invalid: Vec<RowOutcome>,
    pub activity: Activity,
    /// Every skill id of the catalogue.
    pub catalogue: Vec<u64>,
    /// The requests the plan's reads took.
    pub read: RequestCounts,
    /// The requests `apply` would send, by endpoint: the plan's reads
    /// again, then the writes and the reads they need.
    pub expected: BTreeMap<String, u64>,
    /// Saved plans and undo: pairs the tenant no longer holds as expected.
    pub drift: Vec<Drift>,
    /// Removals that do not count against `--max-removals` (an undo taking
    /// back assignments the run added).
    pub exempt_removals: u64,
    /// Changes someone made, found while planning, to assignments outside
    /// the plan.
    pub concurrent: Vec<Change>,
}

impl Planned {
    pub fn invalid_count(&self) -> usize {
        self.invalid.len() + self.plan.rejected.iter().filter(|r| r.invalid).count()
    }
}

impl Job {
    /// Before anything is read: a roster with bad rows stops here unless
    /// `--skip-invalid` (and never with `--prune`).
    pub fn roster_gate(&self, invalid: usize) -> Option<Stop> {
        if invalid == 0 {
            return None;
        }
        if self.prune && self.mode != Mode::Plan {
            return Some(Stop::PruneWithInvalid { count: invalid });
        }
        (!self.skip_invalid).then_some(Stop::InvalidRows { count: invalid })
    }

    /// Before a terminal is even looked for: `apply` off a terminal
    /// without `--yes` refuses at once, before reading the tenant.
    pub fn needs_terminal(&self) -> Option<Stop> {
        (self.mode == Mode::Apply && self.confirmation == Confirmation::NoTerminal)
            .then_some(Stop::NoTerminal)
    }

    /// After the plan: stop (with why), ask, go ahead, or nothing to do.
    /// A dry run is judged exactly as the apply would be.
    pub fn review(&self, planned: &Planned) -> Review {
        let invalid = planned.invalid_count();
        if self.mode == Mode::Plan {
            return Review::Done;
        }
        if invalid > 0 && self.prune {
            return Review::Stop(Stop::PruneWithInvalid { count: invalid });
        }
        if invalid > 0 && !self.skip_invalid {
            return Review::Stop(Stop::InvalidRows { count: invalid });
        }
        if !planned.drift.is_empty() && !self.allow_drift {
            return Review::Stop(Stop::Drift {
                count: planned.drift.len(),
            });
        }
        let counts = planned.plan.counts();
        let guarded = counts.remove.saturating_sub(planned.exempt_removals);
        if guarded > self.max_removals {
            return Review::Stop(Stop::TooManyRemovals {
                removals: guarded,
                max: self.max_removals,
            });
        }
        if self.mode == Mode::DryRun || counts.changes() == 0 {
            return Review::Done;
        }
        match self.confirmation {
            Confirmation::Given | Confirmation::Throwaway | Confirmation::Reviewed => {
                Review::Proceed
            }
            Confirmation::Ask => Review::Ask,
            Confirmation::NoTerminal => Review::Stop(Stop::NoTerminal),
        }
    }

    /// The exit code of a finished job. `stop` is why it stopped before
    /// sending, if it did.
    pub fn exit_code(&self, report: &RunReport, plan: Option<&Plan>, stop: Option<&Stop>) -> i32 {
        if let Some(stop) = stop {
            return stop.exit_code();
        }
        let s = &report.summary;
        match self.mode {
            Mode::Plan | Mode::DryRun => {
                if s.invalid > 0 {
                    exit_codes::INVALID_INPUT
                } else if report.fatal.is_some() {
                    exit_codes::FAILURE
                } else if s.failed > 0 {
                    exit_codes::ROWS_FAILED
                } else if self.detailed_exitcode && plan.is_some_and(|p| p.counts().changes() > 0) {
                    exit_codes::CHANGES_PRESENT
                } else {
                    exit_codes::OK
                }
            }
            Mode::Apply => {
                if let Some(signal) = report.interrupted {
                    signal.exit_code()
                } else if report.fatal.is_some() {
                    exit_codes::FAILURE
                } else if s.failed + s.unknown + s.invalid > 0 {
                    exit_codes::ROWS_FAILED
                } else {
                    exit_codes::OK
                }
            }
        }
    }

    /// Reads what the diff needs, builds it, and chooses the requests.
    /// `rows` are the roster's valid rows; `on_read` is called as reads
    /// finish (for a progress display).
    pub async fn plan(&self, client: &Client, rows: &[RosterRow]) -> Result<Planned, ClientError> {
        let mut directory = resolve::read_directory(client, rows).await?;
        if self.prune && directory.agents.is_none() {
            // Whole sets are read: who is inactive decides how.
            directory.agents = Some(client.agents().await?);
        }
        let resolved = resolve::resolve(rows, &directory);
        let rows = resolved.rows;
        let catalogue: Vec<u64> = {
            let mut ids: Vec<u64> = directory.skills.keys().copied().collect();
            ids.sort_unstable();
            ids
        };
        let mut holdings = Holdings::default();
        let agents = distinct_agents(&rows);
        if self.prune {
            let activity = activity(&directory, &agents);
            let how = FullSetRead::choose(agents.len(), activity, 0);
            info!(agents = agents.len(), read = ?how, "reading the roster agents' whole sets (--prune)");
            read::read_full_sets(client, &mut holdings, &agents, &how, self.concurrency).await?;
        } else {
            let skills = skills_to_read(&rows, &catalogue);
            info!(skills = skills.len(), "reading the roster's skills");
            read::read_skills(client, &mut holdings, &skills, None).await?;
        }
        let plan = plan::build(&rows, &holdings, &directory.skills, self.prune);
        let writes = requests::choose(&plan, self.strategy);
        Job::agents_for(client, &mut directory, &writes).await?;
        Ok(planned(
            client,
            plan,
            writes,
            holdings,
            &directory,
            catalogue,
            resolved.invalid,
        ))
    }

    /// The skill catalogue: its ids, sorted, and the directory to resolve
    /// against (without the agent listing).
    async fn catalogue(client: &Client) -> Result<(Directory, Vec<u64>), ClientError> {
        let skills = client.skills().await?;
        let directory = Directory {
            skills: skills.into_iter().map(|s| (s.skill_id, s)).collect(),
            agents: None,
        };
        let mut catalogue: Vec<u64> = directory.skills.keys().copied().collect();
        catalogue.sort_unstable();
        Ok((directory, catalogue))
    }

    /// The agent listing, when the writes will read whole sets (who is
    /// inactive decides how) and it was not read yet.
    async fn agents_for(
        client: &Client,
        directory: &mut Directory,
        writes: &Writes,
    ) -> Result<(), ClientError> {
        // One or two agents are read one by one whoever is inactive (every
        // bulk read takes at least two requests): no listing needed.
        if writes.puts.len() > 2 && directory.agents.is_none() {
            directory.agents = Some(client.agents().await?);
        }
        Ok(())
    }

    /// A saved plan against the tenant as it is now: re-reads the pairs it
    /// changes (in bulk) and finds what drifted since it was made. Sends
    /// nothing.
    pub async fn plan_saved(
        &self,
        client: &Client,
        saved: &SavedPlan,
    ) -> Result<Planned, ClientError> {
        let mut holdings = Holdings::default();
        // What the plan's read saw of its agents' other assignments: known,
        // so that a change since is noticed.
        for (agent, skill, state) in saved.context_pairs() {
            holdings.record(agent, skill, Some(state));
        }
        let concurrent = read::read_skills(client, &mut holdings, &saved.skills(), None).await?;
        // The context is as old as the plan. It is only ever compared
        // against, never trusted: the skills it names are read again, by
        // this read (the plan's skills) or by the canary's read of the rest
        // of the catalogue, before anything leans on them.
        let (plan, drift) = saved.against(&holdings, self.allow_drift);
        let writes = requests::choose(&plan, self.strategy);
        let (mut directory, catalogue) = Job::catalogue(client).await?;
        Job::agents_for(client, &mut directory, &writes).await?;
        let named = plan.named();
        let mut planned = planned(
            client,
            plan,
            writes,
            holdings,
            &directory,
            catalogue,
            Vec::new(),
        );
        planned.drift = drift;
        planned.concurrent = concurrent
            .into_iter()
            .filter(|c| c.was_known && !named.contains(&(c.agent, c.skill)))
            .collect();
        Ok(planned)
    }

    /// Undoing a snapshot against the tenant as it is now: re-reads its
    /// pairs, and plans to put back the before-state of those that still
    /// hold the run's target. Sends nothing.
    pub async fn plan_undo(
        &self,
        client: &Client,
        rows: &[SnapshotRow],
    ) -> Result<Planned, ClientError> {
        let mut skills: Vec<u64> = rows.iter().map(|r| r.skill).collect();
        skills.sort_unstable();
        skills.dedup();
        let mut holdings = Holdings::default();
        read::read_skills(client, &mut holdings, &skills, None).await?;
        let (mut directory, catalogue) = Job::catalogue(client).await?;
        let names = directory
            .skills
            .values()
            .map(|s| (s.skill_id, s.skill_name.clone()))
            .collect();
        let undo = snapshot::undo(rows, &holdings, names);
        let writes = requests::choose(&undo.plan, self.strategy);
        Job::agents_for(client, &mut directory, &writes).await?;
        let mut planned = planned(
            client,
            undo.plan,
            writes,
            holdings,
            &directory,
            catalogue,
            Vec::new(),
        );
        planned.drift = undo.drift;
        planned.exempt_removals = undo.exempt_removals;
        Ok(planned)
    }

    /// Sends the plan's requests.
    pub async fn apply(
        &self,
        client: &Client,
        planned: Planned,
        interrupt: Interrupt,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Applied {
        let options = apply::Options {
            strategy: self.strategy,
            concurrency: self.concurrency,
            max_read_age: self.max_read_age,
            activity: planned.activity,
            catalogue: planned.catalogue,
            interrupt,
        };
        apply::apply(
            client,
            &planned.plan,
            planned.writes,
            planned.holdings,
            &options,
            progress,
        )
        .await
    }
}

/// The plan with its requests, and what the apply needs to know.
fn planned(
    client: &Client,
    plan: Plan,
    writes: Writes,
    holdings: Holdings,
    directory: &Directory,
    catalogue: Vec<u64>,
    invalid: Vec<RowOutcome>,
) -> Planned {
    let activity = activity(directory, &writes.put_agents());
    let read = client.counts();
    let expected = expected_requests(&read, &plan, &writes, &holdings, activity, &catalogue);
    Planned {
        plan,
        writes,
        holdings,
        invalid,
        activity,
        catalogue,
        read,
        expected,
        drift: Vec::new(),
        exempt_removals: 0,
        concurrent: Vec::new(),
    }
}

fn distinct_agents(rows: &[Row]) -> Vec<u64> {
    let mut seen = HashSet::new();
    rows.iter()
        .map(|r| r.agent)
        .filter(|a| seen.insert(*a))
        .collect()
}

/// The skills the plan reads: the roster's, widened to the whole catalogue
/// when that takes no extra request (it gives the canary its baseline).
pub fn skills_to_read(rows: &[Row], catalogue: &[u64]) -> Vec<u64> {
    let mut roster: Vec<u64> = rows.iter().map(|r| r.skill.get()).collect();
    roster.sort_unstable();
    roster.dedup();
    let known: HashSet<u64> = catalogue.iter().copied().collect();
    roster.retain(|s| known.contains(s));
    if roster.is_empty() {
        return roster;
    }
    if catalogue.len().div_ceil(SKILLS_PER_READ) <= roster.len().div_ceil(SKILLS_PER_READ) {
        catalogue.to_vec()
    } else {
        roster
    }
}

/// Who may be inactive among `agents`, and whether any skill is.
fn activity(directory: &Directory, agents: &[u64]) -> Activity {
    let active: Option<HashMap<u64, Option<bool>>> = directory
        .agents
        .as_ref()
        .map(|list| list.iter().map(|a| (a.agent_id, a.is_active)).collect());
    let inactive_agents = match &active {
        // Unknown to the listing, or not said to be active: may be
        // inactive.
        Some(active) => agents
            .iter()
            .any(|a| active.get(a).copied().flatten() != Some(true)),
        None => true,
    };
    Activity {
        inactive_agents,
        inactive_skills: directory
            .skills
            .values()
            .any(crate::wire::Skill::maybe_inactive),
    }
}

/// The requests `apply` would send, by endpoint: the plan's reads (it
/// reads again), the canary read, the full-set reads for the PUTs, and the
/// writes.
fn expected_requests(
    read: &RequestCounts,
    plan: &Plan,
    writes: &Writes,
    holdings: &Holdings,
    activity: Activity,
    catalogue: &[u64],
) -> BTreeMap<String, u64> {
    let mut expected = read.by_endpoint.clone();
    let get = |route: Route| crate::client::endpoint_key(&reqwest::Method::GET, route);
    if let Some(first) = writes.first.iter().find(|w| w.kind == WriteKind::Upsert) {
        // The canary reads back the skills the first body's agents hold.
        let named: HashSet<(u64, u64)> = first
            .pairs
            .iter()
            .map(|&i| (plan.pairs[i].agent, plan.pairs[i].skill))
            .collect();
        let mut skills: Vec<u64> = first
            .agents(plan)
            .into_iter()
            .flat_map(|a| holdings.seen_of(a).into_iter().map(move |(s, _)| (a, s)))
            .filter(|k| !named.contains(k))
            .map(|(_, s)| s)
            .collect();
        skills.sort_unstable();
        skills.dedup();
        let unread = catalogue
            .iter()
            .filter(|&&s| !holdings.skill_read(s))
            .count();
        let reads =
            (skills.len().div_ceil(SKILLS_PER_READ) + unread.div_ceil(SKILLS_PER_READ)) as u64;
        if reads > 0 {
            *expected.entry(get(Route::SkillsAgents)).or_default() += reads;
        }
    }
    let puts = writes.put_agents();
    if !puts.is_empty() {
        match FullSetRead::choose(puts.len(), activity, holdings.len()) {
            FullSetRead::PerAgent => {
                *expected.entry(get(Route::AgentSkills)).or_default() += puts.len() as u64;
            }
            how @ FullSetRead::Bulk(_) => {
                *expected.entry(get(Route::AgentsSkills)).or_default() +=
                    how.requests(puts.len(), holdings.len()) as u64;
            }
        }
    }
    for (endpoint, n) in writes.by_endpoint() {
        *expected.entry(endpoint).or_default() += n;
    }
    expected
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interrupt::Signal;
    use crate::model::Target;
    use crate::outcome::{RowOutcome, RunReport, Status};
    use crate::plan::tests::{catalogue, holdings, row, set};

    fn planned(rows: &[Row], prune: bool) -> Planned {
        let plan = plan::build(rows, &holdings(), &catalogue(), prune);
        let writes = requests::choose(&plan, Strategy::default());
        Planned {
            plan,
            writes,
            holdings: holdings(),
            invalid: Vec::new(),
            activity: Activity::default(),
            catalogue: vec![1, 2, 3, 4, 9],
            read: RequestCounts::default(),
            expected: BTreeMap::new(),
            drift: Vec::new(),
            exempt_removals: 0,
            concurrent: Vec::new(),
        }
    }

    fn job(mode: Mode, confirmation: Confirmation) -> Job {
        Job {
            mode,
            confirmation,
            ..Job::default()
        }
    }

    fn invalid_row() -> RowOutcome {
        RowOutcome {
            line: 9,
            agent: None,
            skill: None,
            proficiency: None,
            action: None,
            status: Status::Invalid,
            from: None,
            error: Some("bad".into()),
        }
    }

    #[test]
    fn invalid_rows_stop_the_apply_unless_skipped_and_always_with_prune() {
        let apply = job(Mode::Apply, Confirmation::Given);
        assert_eq!(apply.roster_gate(0), None);
        assert_eq!(apply.roster_gate(2), Some(Stop::InvalidRows { count: 2 }));
        let skip = Job {
            skip_invalid: true,
            ..apply.clone()
        };
        assert_eq!(skip.roster_gate(2), None);
        let prune = Job {
            prune: true,
            ..skip.clone()
        };
        assert_eq!(
            prune.roster_gate(2),
            Some(Stop::PruneWithInvalid { count: 2 })
        );

        let mut p = planned(&[row(2, 10, 2, set(2, None))], false);
        p.invalid.push(invalid_row());
        assert_eq!(
            apply.review(&p),
            Review::Stop(Stop::InvalidRows { count: 1 })
        );
        assert_eq!(skip.review(&p), Review::Proceed);
        assert_eq!(
            prune.review(&p),
            Review::Stop(Stop::PruneWithInvalid { count: 1 })
        );
    }

    #[test]
    fn the_removal_guard_stops_apply_and_dry_run_alike() {
        let rows = [row(2, 10, 2, set(2, None))];
        let p = planned(&rows, true); // prunes skills 1 and 3
        let guarded = |mode| Job {
            mode,
            prune: true,
            max_removals: 1,
            confirmation: Confirmation::Given,
            ..Job::default()
        };
        let stop = Review::Stop(Stop::TooManyRemovals {
            removals: 2,
            max: 1,
        });
        assert_eq!(guarded(Mode::Apply).review(&p), stop);
        assert_eq!(guarded(Mode::DryRun).review(&p), stop);
        assert_eq!(guarded(Mode::Plan).review(&p), Review::Done);
        let roomy = Job {
            max_removals: 2,
            ..guarded(Mode::Apply)
        };
        assert_eq!(roomy.review(&p), Review::Proceed);
    }

    #[test]
    fn confirmation_asks_on_a_terminal_and_refuses_without_one() {
        let p = planned(&[row(2, 10, 2, set(2, None))], false);
        assert_eq!(job(Mode::Apply, Confirmation::Ask).review(&p), Review::Ask);
        assert_eq!(
            job(Mode::Apply, Confirmation::Given).review(&p),
            Review::Proceed
        );
        assert_eq!(
            job(Mode::Apply, Confirmation::Throwaway).review(&p),
            Review::Proceed
        );
        assert_eq!(
            job(Mode::Apply, Confirmation::NoTerminal).needs_terminal(),
            Some(Stop::NoTerminal)
        );
        assert_eq!(
            job(Mode::DryRun, Confirmation::NoTerminal).needs_terminal(),
            None
        );
        assert_eq!(
            job(Mode::DryRun, Confirmation::Ask).review(&p),
            Review::Done
        );
        // Nothing to change: nothing to ask about.
        let noop = planned(&[row(2, 10, 1, set(3, None))], false);
        assert_eq!(
            job(Mode::Apply, Confirmation::Ask).review(&noop),
            Review::Done
        );
    }

    #[test]
    fn exit_codes_follow_the_report() {
        let report = |statuses: &[Status]| {
            RunReport::new(
                statuses
                    .iter()
                    .map(|&status| RowOutcome {
                        status,
                        ..invalid_row()
                    })
                    .collect(),
                RequestCounts::default(),
                None,
            )
        };
        let apply = job(Mode::Apply, Confirmation::Given);
        assert_eq!(apply.exit_code(&report(&[Status::Applied]), None, None), 0);
        assert_eq!(apply.exit_code(&report(&[Status::Unknown]), None, None), 1);
        assert_eq!(apply.exit_code(&report(&[Status::Failed]), None, None), 1);
        let mut fatal = report(&[Status::Applied]);
        fatal.fatal = Some("gone".into());
        assert_eq!(apply.exit_code(&fatal, None, None), 3);
        fatal.interrupted = Some(Signal::Interrupt);
        assert_eq!(apply.exit_code(&fatal, None, None), 130);
        fatal.interrupted = Some(Signal::Terminate);
        assert_eq!(apply.exit_code(&fatal, None, None), 143);
        assert_eq!(
            apply.exit_code(&report(&[]), None, Some(&Stop::Declined)),
            2
        );

        let p = planned(&[row(2, 10, 2, set(2, None))], false);
        let detailed = Job {
            detailed_exitcode: true,
            ..job(Mode::Plan, Confirmation::Ask)
        };
        assert_eq!(
            detailed.exit_code(&report(&[Status::Planned]), Some(&p.plan), None),
            4
        );
        assert_eq!(
            detailed.exit_code(&report(&[Status::Invalid]), Some(&p.plan), None),
            2
        );
        assert_eq!(
            detailed.exit_code(&report(&[Status::Failed]), Some(&p.plan), None),
            1
        );
        let unchanged = planned(&[row(2, 10, 1, set(3, None))], false);
        assert_eq!(
            detailed.exit_code(&report(&[Status::Unchanged]), Some(&unchanged.plan), None),
            0
        );
        let _ = Target::Remove;
    }

    #[test]
    fn the_plan_reads_the_whole_catalogue_when_it_costs_nothing_more() {
        let rows = [row(2, 10, 2, set(2, None))];
        assert_eq!(skills_to_read(&rows, &[1, 2, 3]), vec![1, 2, 3]);
        let big: Vec<u64> = (1..=120).collect();
        assert_eq!(skills_to_read(&rows, &big), vec![2]);
    }
}
