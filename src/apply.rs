//! Stage 5: requests → outcomes.
//!
//! The engine sends the writes `requests` chose and maps every row of
//! every answer back to its pair, and so to its roster line. It runs in
//! three phases:
//!
//! 1. **Upserts, per-agent POSTs and DELETEs**, at most `concurrency` in
//!    flight. The first upsert body goes alone, as a **canary** for the one
//!    assumption the bulk write rests on (that it never removes): the full
//!    sets of its agents are read back once, and if an assignment the body
//!    did not name has vanished, the run stops (exit 3), puts the vanished
//!    assignments back, and says to use `--no-bulk`.
//! 2. **Full-set PUTs**, each built from a read taken after the agent's
//!    phase-one writes were answered and no older than `max_read_age`
//!    (re-read with `updatedSince` when older), so that a replacing PUT can
//!    neither erase the run's own adds nor revert another admin's edits
//!    made before that read. Every change a read reveals to an assignment
//!    outside the roster is kept, and reported as a concurrent change.
//! 3. **Settlement**: a row whose outcome the answers leave open (a lost
//!    answer, a 5xx, a row the answer does not mention or rejects without
//!    a reason, retries run out after a write may have landed) is settled
//!    by one bulk read-back. Only what the tenant shows is reported as
//!    applied or failed; what cannot be settled is `unknown`.
//!
//! One bad request does not stop the run: its rows fail (nothing was sent)
//! or go to the read-back, and a bulk body that exhausts its retries is
//! split in half, down to one agent. Only authentication, permission and
//! configuration failures, a tenant that is plainly gone (three requests in
//! a row exhausting their retries), an upsert that replaces, or a signal
//! stop the run early.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use reqwest::StatusCode;
use tracing::{debug, info, warn};

use crate::client::{AgentRead, Client, ClientError, Response};
use crate::interrupt::{Interrupt, Signal};
use crate::model::State;
use crate::outcome::{ConcurrentChange, RowOutcome, Status};
use crate::plan::{Action, Plan};
use crate::read::{self, Activity, Change, FullSetRead, FullSetStamp, Holdings, Known};
use crate::requests::{self, Strategy, Write, WriteKind, Writes};
use crate::wire::SkillsBody;

/// How long requests in flight may take to finish after a signal.
const GRACE: Duration = Duration::from_secs(5);

/// The longest read-back after a signal.
const SETTLE_AFTER_SIGNAL: Duration = Duration::from_secs(5);

/// Requests in a row that exhaust their retries before the tenant is
/// called gone.
const GONE_AFTER: u32 = 3;

/// The reason given for a row a bulk answer refuses without one.
const NO_REASON: &str = "rejected by the tenant (no reason given)";

/// How to apply.
#[derive(Debug, Clone)]
pub struct Options {
    pub strategy: Strategy,
    pub concurrency: usize,
    /// The oldest a bulk read may be when a full-set PUT is built from it.
    pub max_read_age: Duration,
    /// Who may be inactive: decides the filter combinations of a complete
    /// bulk read.
    pub activity: Activity,
    /// Every skill of the catalogue: the canary's baseline covers them.
    pub catalogue: Vec<u64>,
    pub interrupt: Interrupt,
}

/// How far the run has got, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Writes answered (or given up on).
    pub done: u64,
    /// Writes known so far (bodies split on a 413 add to it).
    pub total: u64,
}

/// The outcome of applying a plan.
#[derive(Debug, Default)]
pub struct Applied {
    /// One outcome per pair of the plan (unchanged ones included) and per
    /// rejected row.
    pub rows: Vec<RowOutcome>,
    /// Why the run stopped early, when it did for a reason other than a
    /// signal.
    pub fatal: Option<String>,
    pub interrupted: Option<Signal>,
    /// Assignments outside the roster someone else changed during the run.
    pub concurrent: Vec<ConcurrentChange>,
    pub warnings: Vec<String>,
}

/// What the answers have said of one pair so far.
#[derive(Debug, Clone, Default)]
struct Verdict {
    /// Some answer said the row succeeded.
    applied: bool,
    /// The first reason the tenant gave for refusing it.
    refusal: Option<String>,
    /// Why only a read-back can tell (the answer was lost or unclear).
    unsettled: Option<String>,
    /// Why it was not sent at all.
    not_sent: Option<String>,
}

type Task<'a> = Pin<Box<dyn Future<Output = Done> + Send + 'a>>;

/// What a canary body showed.
enum Canary {
    /// Checked: the upsert adds and modifies, never removes (or it was
    /// found to replace, and the run stops).
    Verified,
    /// Nothing could have been wiped (the agents hold nothing else, or
    /// nothing of the body landed): the next body is the canary.
    Unverified,
    /// A read the check needs failed: no more upserts.
    CannotVerify(String),
}

/// What waiting for the requests in flight gave.
enum Step {
    /// One finished (`None`: none was in flight).
    Finished(Option<Done>),
    /// A signal came: stop launching.
    Raised,
    /// The grace after a stop ran out.
    OutOfTime,
}

/// A request that finished.
enum Done {
    Write(Write, Result<Response, ClientError>),
    /// An agent's full set, read from the instant given.
    Read(u64, Instant, Result<AgentRead, ClientError>),
}

/// Applies the plan's writes. `holdings` are the plan's reads; they are
/// brought up to date as the run reads again.
pub async fn apply(
    client: &Client,
    plan: &Plan,
    writes: Writes,
    holdings: Holdings,
    options: &Options,
    progress: &(dyn Fn(Progress) + Sync),
) -> Applied {
    let mut run = Run::new(
        client,
        plan,
        holdings,
        options,
        progress,
        writes.first.len(),
    );
    run.first_phase(writes.first).await;
    let mut puts: BTreeMap<u64, Vec<usize>> = writes
        .puts
        .into_iter()
        .filter_map(|w| w.target.map(|agent| (agent, w.pairs)))
        .collect();
    for (agent, pairs) in std::mem::take(&mut run.converted_puts) {
        puts.entry(agent).or_default().extend(pairs);
    }
    run.put_phase(puts).await;
    run.settle().await;
    run.finish()
}

struct Run<'a> {
    client: &'a Client,
    plan: &'a Plan,
    options: &'a Options,
    progress: &'a (dyn Fn(Progress) + Sync),
    holdings: Holdings,
    ledger: Vec<Verdict>,
    named: HashSet<(u64, u64)>,
    roster_agents: HashSet<u64>,
    bulk: bool,
    /// Pairs that need a full-set PUT after a fallback to per-agent writes.
    converted_puts: BTreeMap<u64, Vec<usize>>,
    canary_pending: bool,
    /// Pairs of the writes in flight now.
    in_flight: HashMap<usize, u32>,
    fatal: Option<String>,
    /// Requests in a row that exhausted their retries.
    exhausted_in_a_row: u32,
    /// The agents every request of that streak named: a streak that all
    /// names one agent is a bad agent, not a tenant that is gone.
    streak_agents: Option<HashSet<u64>>,
    concurrent: BTreeMap<(u64, u64), ConcurrentChange>,
    warnings: Vec<String>,
    done: u64,
    total: u64,
}

impl<'a> Run<'a> {
    fn new(
        client: &'a Client,
        plan: &'a Plan,
        holdings: Holdings,
        options: &'a Options,
        progress: &'a (dyn Fn(Progress) + Sync),
        total: usize,
    ) -> Run<'a> {
        Run {
            client,
            plan,
            options,
            progress,
            holdings,
            ledger: vec![Verdict::default(); plan.pairs.len()],
            named: plan.named(),
            roster_agents: plan
                .pairs
                .iter()
                .map(|p| p.agent)
                .chain(plan.rejected.iter().map(|r| r.row.agent))
                .collect(),
            bulk: options.strategy.bulk,
            converted_puts: BTreeMap::new(),
            canary_pending: options.strategy.bulk,
            in_flight: HashMap::new(),
            fatal: None,
            exhausted_in_a_row: 0,
            streak_agents: None,
            concurrent: BTreeMap::new(),
            warnings: Vec::new(),
            done: 0,
            total: total as u64,
        }
    }

    /// Whether no new request may start.
    fn stopping(&self) -> bool {
        self.fatal.is_some() || self.options.interrupt.is_raised()
    }

    fn why_stopped(&self) -> String {
        match (self.options.interrupt.signal(), &self.fatal) {
            (Some(signal), _) => format!("interrupted ({}), not sent", signal.name()),
            (None, Some(fatal)) => format!("not sent: the run stopped: {fatal}"),
            (None, None) => "not sent".to_owned(),
        }
    }

    /// Marks pairs not sent, keeping an earlier reason.
    fn not_sent<'p>(&mut self, pairs: impl IntoIterator<Item = &'p usize>, reason: &str) {
        for &i in pairs {
            self.ledger[i]
                .not_sent
                .get_or_insert_with(|| reason.to_owned());
        }
    }

    /// Marks the pairs of a write whose answer never came: open for the
    /// read-back when an attempt may have landed, else not sent.
    fn lost(&mut self, pairs: &[usize], maybe_sent: bool, message: &str) {
        if maybe_sent {
            for &i in pairs {
                self.ledger[i]
                    .unsettled
                    .get_or_insert_with(|| message.to_owned());
            }
        } else {
            self.not_sent(pairs, message);
        }
    }

    // --- Phase one ---------------------------------------------------------

    async fn first_phase(&mut self, writes: Vec<Write>) {
        let mut queue: VecDeque<Write> = writes.into();
        // Upsert bodies go one at a time until one that could have wiped
        // something has been checked.
        while self.canary_pending && self.bulk && !self.stopping() {
            let Some(at) = queue.iter().position(|w| w.kind == WriteKind::Upsert) else {
                break;
            };
            let Some(write) = queue.remove(at) else {
                break;
            };
            match self.canary(write, &mut queue).await {
                Canary::Verified => self.canary_pending = false,
                Canary::Unverified => {}
                Canary::CannotVerify(why) => {
                    let message = format!(
                        "the check that POST /agents/skills does not replace could not be made ({why}); the rest of the run writes per agent"
                    );
                    warn!("{message}");
                    self.warnings.push(message);
                    self.bulk = false;
                }
            }
        }
        self.run_queue(queue).await;
    }

    /// Runs writes, `concurrency` in flight; answers may queue more (a
    /// split body, a fallback to per-agent writes).
    async fn run_queue(&mut self, mut queue: VecDeque<Write>) {
        let mut in_flight: FuturesUnordered<Task<'a>> = FuturesUnordered::new();
        let mut grace: Option<Instant> = None;
        loop {
            while in_flight.len() < self.options.concurrency.max(1) && !self.stopping() {
                let Some(write) = queue.pop_front() else {
                    break;
                };
                if write.kind.is_bulk() && !self.bulk {
                    let converted = self.per_agent(&write);
                    self.total = (self.total + converted.len() as u64).saturating_sub(1);
                    queue.extend(converted);
                    continue;
                }
                in_flight.extend(self.launch(write));
            }
            if in_flight.is_empty() {
                break;
            }
            let next = match self.next_done(&mut in_flight, &mut grace).await {
                Step::Finished(next) => next,
                Step::Raised => continue,
                Step::OutOfTime => break,
            };
            match next {
                Some(Done::Write(write, result)) => self.answered(write, result, &mut queue),
                Some(Done::Read(..)) | None => {}
            }
        }
        // What never finished: maybe sent, maybe not.
        drop(in_flight);
        let reason = self.why_stopped();
        self.not_sent(queue.iter().flat_map(|w| &w.pairs), &reason);
        self.mark_abandoned();
    }

    /// The pairs of writes still in flight when the run stopped: they may
    /// or may not have landed, and only a read-back can tell.
    fn mark_abandoned(&mut self) {
        let stopped = self.why_stopped();
        for (i, _) in std::mem::take(&mut self.in_flight) {
            let verdict = &mut self.ledger[i];
            if !verdict.applied {
                verdict
                    .unsettled
                    .get_or_insert_with(|| format!("in flight when the run stopped ({stopped})"));
            }
        }
    }

    /// A phase-one write under way; a full-set PUT is built and launched
    /// only by [`Run::put`], from a fresh read.
    fn launch(&mut self, write: Write) -> Option<Task<'a>> {
        let Some(body) = write.body(self.plan) else {
            self.not_sent(
                &write.pairs,
                "not sent: a full-set PUT without a fresh read",
            );
            return None;
        };
        Some(self.launch_with(write, body, None))
    }

    /// A write under way. With a `deadline`, no attempt starts after it
    /// (a full set must not land older than `max_read_age`).
    fn launch_with(
        &mut self,
        write: Write,
        body: requests::Body,
        deadline: Option<Instant>,
    ) -> Task<'a> {
        for &i in &write.pairs {
            *self.in_flight.entry(i).or_default() += 1;
        }
        let client = self.client;
        Box::pin(async move {
            let (method, route, path) = (write.method(), write.kind.route(), write.path());
            let result = match deadline {
                Some(deadline) => {
                    client
                        .send_before(method, route, &path, Some(&body), deadline)
                        .await
                }
                None => client.send(method, route, &path, Some(&body)).await,
            };
            Done::Write(write, result)
        })
    }

    /// Waits for the next request to finish. Once the run is stopping,
    /// the requests in flight have [`GRACE`] in all to finish.
    async fn next_done(
        &self,
        in_flight: &mut FuturesUnordered<Task<'a>>,
        grace: &mut Option<Instant>,
    ) -> Step {
        if self.stopping() && grace.is_none() {
            *grace = Some(Instant::now() + GRACE);
        }
        match grace {
            Some(deadline) => {
                match tokio::time::timeout_at((*deadline).into(), in_flight.next()).await {
                    Ok(next) => Step::Finished(next),
                    Err(_) => Step::OutOfTime,
                }
            }
            None => {
                tokio::select! {
                    next = in_flight.next() => Step::Finished(next),
                    () = self.options.interrupt.raised() => Step::Raised,
                }
            }
        }
    }

    /// Forgets that a write's pairs are in flight.
    fn landed(&mut self, write: &Write) {
        for &i in &write.pairs {
            if let Some(n) = self.in_flight.get_mut(&i) {
                *n -= 1;
                if *n == 0 {
                    self.in_flight.remove(&i);
                }
            }
        }
    }

    /// Takes in one write's answer.
    fn answered(
        &mut self,
        write: Write,
        result: Result<Response, ClientError>,
        queue: &mut VecDeque<Write>,
    ) {
        self.done += 1;
        self.landed(&write);
        match result {
            Ok(response) => {
                self.exhausted_in_a_row = 0;
                self.streak_agents = None;
                self.read_answer(write, &response, queue);
            }
            Err(error) if error.is_fatal() => {
                let message = error.to_string();
                warn!("{message}");
                self.refuse_all(&write, &message);
                self.fatal.get_or_insert(message);
            }
            Err(ref error @ ClientError::Network { maybe_sent, .. }) => {
                let message = error.to_string();
                warn!("{message}");
                self.lost(&write.pairs, maybe_sent, &message);
                self.exhausted_in_a_row += 1;
                let agents: HashSet<u64> = write.agents(self.plan).into_iter().collect();
                let common: HashSet<u64> = match self.streak_agents.take() {
                    Some(common) => common.intersection(&agents).copied().collect(),
                    None => agents,
                };
                let gone = self.exhausted_in_a_row >= GONE_AFTER && common.is_empty();
                self.streak_agents = Some(common);
                if gone {
                    self.fatal.get_or_insert_with(|| {
                        format!(
                            "the tenant stopped answering: {GONE_AFTER} requests in a row exhausted their retries (the last: {message})"
                        )
                    });
                } else if write.kind.is_bulk()
                    && let Some((a, b)) = write.split(self.plan)
                {
                    // One bad agent must not fail a thousand others.
                    debug!(
                        pairs = write.pairs.len(),
                        "bulk body gave up: retrying it in halves"
                    );
                    self.total += 2;
                    queue.push_front(b);
                    queue.push_front(a);
                }
            }
            Err(ClientError::Expired {
                maybe_sent,
                ref reason,
                ..
            }) => {
                let message = format!("not sent again in time: {reason}");
                self.lost(&write.pairs, maybe_sent, &message);
            }
            Err(error) => {
                let message = format!("the answer could not be read: {error}");
                for &i in &write.pairs {
                    self.ledger[i]
                        .unsettled
                        .get_or_insert_with(|| message.clone());
                }
            }
        }
        (self.progress)(Progress {
            done: self.done,
            total: self.total.max(self.done),
        });
    }

    fn read_answer(&mut self, write: Write, response: &Response, queue: &mut VecDeque<Write>) {
        let status = response.status;
        let whole = |response: &Response| {
            format!(
                "{} {}: {}: {}",
                write.method(),
                write.path(),
                status,
                response.text()
            )
        };
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            match write.split(self.plan) {
                Some((a, b)) => {
                    info!(pairs = write.pairs.len(), "413: splitting the body");
                    self.total += 2;
                    queue.push_front(b);
                    queue.push_front(a);
                }
                None => self.refuse_all(&write, &whole(response)),
            }
            return;
        }
        let missing_endpoint = matches!(status.as_u16(), 405 | 501)
            || (status == StatusCode::NOT_FOUND && !response.json);
        if write.kind.is_bulk() && missing_endpoint {
            if response.after_lost_attempt {
                // An earlier attempt may have landed before the tenant
                // said it lacks the endpoint: only a read can tell.
                for &i in &write.pairs {
                    self.ledger[i].unsettled.get_or_insert_with(|| {
                        "an earlier attempt of a bulk write may have landed".to_owned()
                    });
                }
            }
            self.fall_back(&write, status);
            for converted in self.per_agent(&write) {
                self.total += 1;
                queue.push_back(converted);
            }
            return;
        }
        let rows = response
            .result_set()
            .and_then(|set| set.rows().map(<[_]>::to_vec));
        let Some(rows) = rows else {
            if status.is_success() {
                let reason = format!(
                    "the answer ({status}) carried no per-row resultSet, so it proves nothing"
                );
                for &i in &write.pairs {
                    self.ledger[i]
                        .unsettled
                        .get_or_insert_with(|| reason.clone());
                }
            } else {
                self.refuse_all(&write, &whole(response));
            }
            return;
        };
        let mine: HashMap<(u64, u64), usize> = write
            .pairs
            .iter()
            .map(|&i| ((self.plan.pairs[i].agent, self.plan.pairs[i].skill), i))
            .collect();
        // What the answer says of each pair: a success, refusals (with
        // their reasons), or both (which proves nothing).
        let mut said: HashMap<usize, (bool, Vec<Option<String>>)> = HashMap::new();
        for row in rows {
            let key = match write.kind {
                WriteKind::Upsert => row.agent_id.zip(row.skill_id),
                WriteKind::AgentPost | WriteKind::AgentPut | WriteKind::AgentDelete => {
                    write.target.zip(row.skill_id)
                }
                WriteKind::SkillDelete => row.agent_id.zip(write.target),
            };
            let Some(key) = key else { continue };
            let Some(&i) = mine.get(&key) else {
                if !row.success && write.kind == WriteKind::AgentPut {
                    let reason = row.error.as_deref().unwrap_or(NO_REASON);
                    self.warnings.push(format!(
                        "agent {} skill {}: the tenant refused this assignment, carried unchanged in the agent's full set: {reason}",
                        key.0, key.1
                    ));
                }
                continue;
            };
            let entry = said.entry(i).or_default();
            if row.success {
                entry.0 = true;
            } else {
                entry.1.push(row.error);
            }
        }
        let mentioned: HashSet<usize> = said.keys().copied().collect();
        for (i, (success, refusals)) in said {
            let verdict = &mut self.ledger[i];
            match (success, refusals.is_empty()) {
                (true, true) => verdict.applied = true,
                (true, false) => {
                    verdict.unsettled.get_or_insert_with(|| {
                        "the answer says the row both succeeded and failed".to_owned()
                    });
                }
                (false, _) => {
                    for reason in refusals {
                        match reason {
                            Some(reason) => {
                                verdict.refuse(&reason);
                                if response.after_lost_attempt {
                                    // "Already assigned" to a retry of a
                                    // write that did land: only the tenant
                                    // can say.
                                    verdict.unsettled.get_or_insert_with(|| {
                                        "refused on a retry after an attempt whose answer was lost"
                                            .to_owned()
                                    });
                                }
                            }
                            None => {
                                verdict.refuse(NO_REASON);
                                verdict
                                    .unsettled
                                    .get_or_insert_with(|| NO_REASON.to_owned());
                            }
                        }
                    }
                }
            }
        }
        for &i in &write.pairs {
            if !mentioned.contains(&i) {
                self.ledger[i]
                    .unsettled
                    .get_or_insert_with(|| "the answer did not mention this row".to_owned());
            }
        }
    }

    fn refuse_all(&mut self, write: &Write, reason: &str) {
        for &i in &write.pairs {
            self.ledger[i].refuse(reason);
        }
    }

    fn fall_back(&mut self, write: &Write, status: StatusCode) {
        if !self.bulk {
            return;
        }
        self.bulk = false;
        let message = format!(
            "{} answered {status}: this tenant lacks the bulk endpoints; the rest of the run writes per agent (use --no-bulk to start that way)",
            write.kind.endpoint()
        );
        warn!("{message}");
        self.warnings.push(message);
    }

    /// A bulk write's pairs as per-agent writes: adds by POST, removals by
    /// DELETE, changes by the full-set PUT of phase two.
    fn per_agent(&mut self, write: &Write) -> Vec<Write> {
        let mut posts: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        let mut deletes: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for &i in &write.pairs {
            let pair = &self.plan.pairs[i];
            match pair.action {
                Action::Add => posts.entry(pair.agent).or_default().push(i),
                Action::Remove => deletes.entry(pair.agent).or_default().push(i),
                Action::Change => self.converted_puts.entry(pair.agent).or_default().push(i),
                Action::Unchanged => {}
            }
        }
        let batch = self.options.strategy.batch_size.max(1);
        let mut out = Vec::new();
        for (kind, groups) in [
            (WriteKind::AgentPost, posts),
            (WriteKind::AgentDelete, deletes),
        ] {
            for (agent, pairs) in groups {
                for chunk in pairs.chunks(batch) {
                    out.push(Write {
                        kind,
                        target: Some(agent),
                        pairs: chunk.to_vec(),
                    });
                }
            }
        }
        out
    }

    // --- The canary --------------------------------------------------------

    /// Sends an upsert body alone, then reads back its agents' sets: an
    /// assignment the body did not name that has vanished means this
    /// tenant's upsert replaces, and the run stops (putting back what
    /// vanished). The baseline is read again first when the plan's read is
    /// older than `max_read_age` (a confirmation prompt sat between), so
    /// that someone else's removal is not taken for the upsert's.
    async fn canary(&mut self, write: Write, queue: &mut VecDeque<Write>) -> Canary {
        let agents = write.agents(self.plan);
        let stale = self
            .holdings
            .read_at
            .is_none_or(|at| at.elapsed() > self.options.max_read_age);
        // Every assignment of these agents must be known: read the rest of
        // the catalogue if the plan's reads did not cover it, and read the
        // baseline again if it is old.
        let skills: Vec<u64> = self
            .options
            .catalogue
            .iter()
            .copied()
            .filter(|&s| {
                !self.holdings.skill_read(s)
                    || (stale
                        && agents
                            .iter()
                            .any(|&a| self.holdings.get(a, s) != Known::Absent))
            })
            .filter(|_| agents.iter().any(|&a| !self.holdings.is_complete(a)) || stale)
            .collect();
        if !skills.is_empty() {
            match read::read_skills(self.client, &mut self.holdings, &skills, None).await {
                Ok(changes) => self.note_changes(&changes),
                Err(error) => {
                    self.read_failed(&error);
                    queue.push_front(write);
                    return Canary::CannotVerify(error.to_string());
                }
            }
            if self.stopping() {
                // A signal during the read: the body is not sent.
                queue.push_front(write);
                return Canary::Unverified;
            }
        }
        let body_pairs: HashSet<(u64, u64)> = write
            .pairs
            .iter()
            .map(|&i| (self.plan.pairs[i].agent, self.plan.pairs[i].skill))
            .collect();
        let baseline: Vec<((u64, u64), State)> = agents
            .iter()
            .flat_map(|&agent| {
                self.holdings
                    .seen_of(agent)
                    .into_iter()
                    .map(move |(skill, state)| ((agent, skill), state))
            })
            .filter(|(key, _)| !body_pairs.contains(key))
            .collect();
        let pairs = write.pairs.clone();
        self.run_single(write, queue).await;
        if baseline.is_empty() {
            debug!("canary: these agents hold nothing else to watch; the next body is checked");
            return Canary::Unverified;
        }
        let landed = pairs.iter().any(|&i| {
            let verdict = &self.ledger[i];
            verdict.applied || verdict.unsettled.is_some()
        });
        if !landed {
            debug!("canary: nothing of the body landed; the next body is checked");
            return Canary::Unverified;
        }
        let mut skills: Vec<u64> = baseline.iter().map(|((_, s), _)| *s).collect();
        skills.sort_unstable();
        skills.dedup();
        let changes = match read::read_skills(self.client, &mut self.holdings, &skills, None).await
        {
            Ok(changes) => changes,
            Err(error) => {
                self.read_failed(&error);
                return Canary::CannotVerify(error.to_string());
            }
        };
        // What the body did not name and the read no longer lists is gone;
        // a skill deleted from the catalogue since is not the upsert's
        // doing.
        let watched: HashSet<(u64, u64)> = baseline.iter().map(|(key, _)| *key).collect();
        let (vanished, others): (Vec<Change>, Vec<Change>) = changes.into_iter().partition(|c| {
            c.after.is_none()
                && watched.contains(&(c.agent, c.skill))
                && !self.holdings.is_invalid_skill(c.skill)
        });
        self.note_changes(&others);
        if vanished.is_empty() {
            debug!("canary: the upsert kept every assignment it did not name");
            return Canary::Verified;
        }
        let message = format!(
            "this tenant's POST /agents/skills replaces the agents' skill sets instead of adding to them: after a bulk body, {} assignments it did not name were gone; cxskill put them back and stopped. Re-run with --no-bulk (per-agent writes)",
            vanished.len()
        );
        warn!("{message}");
        self.fatal = Some(message);
        self.restore(vanished).await;
        Canary::Verified
    }

    /// Puts back assignments a replacing upsert wiped: per-agent POSTs of
    /// their states before. Only a row of the answer that says so counts
    /// as restored.
    async fn restore(&mut self, vanished: Vec<Change>) {
        let mut by_agent: BTreeMap<u64, Vec<(u64, State)>> = BTreeMap::new();
        for change in vanished {
            if let Some(before) = change.before {
                by_agent
                    .entry(change.agent)
                    .or_default()
                    .push((change.skill, before));
            }
        }
        for (agent, skills) in by_agent {
            let body = SkillsBody {
                skills: skills
                    .iter()
                    .map(|&(skill, state)| requests::full_row(skill, state))
                    .collect(),
            };
            let write = Write {
                kind: WriteKind::AgentPost,
                target: Some(agent),
                pairs: Vec::new(),
            };
            let answer = self
                .client
                .send(
                    write.method(),
                    write.kind.route(),
                    &write.path(),
                    Some(&body),
                )
                .await;
            let said: HashMap<u64, bool> = match &answer {
                Ok(response) => response
                    .result_set()
                    .as_ref()
                    .and_then(|set| set.rows())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|row| row.skill_id.map(|skill| (skill, row.success)))
                    .collect(),
                Err(_) => HashMap::new(),
            };
            for (skill, state) in skills {
                let outcome = match said.get(&skill) {
                    Some(true) => {
                        self.holdings.record(agent, skill, Some(state));
                        "restored"
                    }
                    Some(false) => "NOT restored",
                    None => "perhaps not restored (no answer confirmed it)",
                };
                self.warnings.push(format!(
                    "agent {agent} skill {skill}: wiped by the upsert and {outcome}; it was at {state}"
                ));
            }
        }
    }

    async fn run_single(&mut self, write: Write, queue: &mut VecDeque<Write>) {
        let mut in_flight: FuturesUnordered<Task<'a>> = FuturesUnordered::new();
        in_flight.extend(self.launch(write));
        if in_flight.is_empty() {
            return;
        }
        let mut grace: Option<Instant> = None;
        let step = loop {
            match self.next_done(&mut in_flight, &mut grace).await {
                Step::Raised => continue,
                step => break step,
            }
        };
        match step {
            Step::Finished(Some(Done::Write(write, result))) => self.answered(write, result, queue),
            Step::OutOfTime => {
                drop(in_flight);
                self.mark_abandoned();
            }
            Step::Finished(_) | Step::Raised => {}
        }
    }

    fn read_failed(&mut self, error: &ClientError) {
        let message = error.to_string();
        warn!("{message}");
        if error.is_fatal() {
            self.fatal.get_or_insert(message);
        }
    }

    // --- Phase two: full-set PUTs -------------------------------------------

    async fn put_phase(&mut self, puts: BTreeMap<u64, Vec<usize>>) {
        if puts.is_empty() {
            return;
        }
        let agents: Vec<u64> = puts.keys().copied().collect();
        self.total += agents.len() as u64;
        if self.stopping() {
            let reason = self.why_stopped();
            self.not_sent(puts.values().flatten(), &reason);
            return;
        }
        let mut how = FullSetRead::choose(agents.len(), self.options.activity, self.holdings.len());
        info!(agents = agents.len(), read = ?how, "full-set PUTs");
        let mut stamp: Option<FullSetStamp> = None;
        if let FullSetRead::Bulk(_) = &how {
            match read::read_full_sets(
                self.client,
                &mut self.holdings,
                &agents,
                &how,
                self.options.concurrency,
            )
            .await
            {
                Ok((taken, changes)) => {
                    self.note_changes(&changes);
                    stamp = Some(taken);
                }
                Err(error) => {
                    self.read_failed(&error);
                    let reason = format!("not sent: the full set could not be read: {error}");
                    self.not_sent(puts.values().flatten(), &reason);
                    return;
                }
            }
        }
        let watched: HashSet<u64> = agents.iter().copied().collect();
        // Every changed roster pair of each agent rides along in its PUT.
        let mut carried: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, pair) in self.plan.pairs.iter().enumerate() {
            if pair.changes() && watched.contains(&pair.agent) {
                carried.entry(pair.agent).or_default().push(i);
            }
        }
        let mut pending: VecDeque<u64> = agents.into();
        let mut in_flight: FuturesUnordered<Task<'a>> = FuturesUnordered::new();
        let mut grace: Option<Instant> = None;
        let mut no_queue = VecDeque::new();
        // PUTs that ran out of time before an answer, built again from a
        // fresh read: at most a few times each.
        let mut rebuilt: HashMap<u64, u32> = HashMap::new();
        loop {
            while in_flight.len() < self.options.concurrency.max(1) && !self.stopping() {
                let Some(agent) = pending.pop_front() else {
                    break;
                };
                if let FullSetRead::Bulk(combos) = &how
                    && let Some(taken) = &stamp
                    && taken.at.elapsed() > self.options.max_read_age
                {
                    let combos = combos.clone();
                    let started = Instant::now();
                    stamp = self.refresh(&watched, &combos, taken.clone()).await;
                    if stamp.is_none() || self.stopping() {
                        // The refresh failed, or a signal came during it.
                        pending.push_front(agent);
                        break;
                    }
                    if started.elapsed() > self.options.max_read_age {
                        // A refresh that takes longer than the limit would
                        // run before every PUT: read each agent instead,
                        // just before its PUT.
                        info!(
                            "the bulk re-read is slower than the freshness limit: reading agents one by one"
                        );
                        how = FullSetRead::PerAgent;
                    }
                }
                match &how {
                    FullSetRead::PerAgent => {
                        let client = self.client;
                        in_flight.push(Box::pin(async move {
                            let started = Instant::now();
                            Done::Read(agent, started, client.agent_skills(agent).await)
                        }));
                    }
                    FullSetRead::Bulk(_) => {
                        let read_at = stamp.as_ref().map_or_else(Instant::now, |s| s.at);
                        if let Some(task) = self.put(agent, &puts[&agent], &carried, read_at) {
                            in_flight.push(task);
                        }
                    }
                }
            }
            if in_flight.is_empty() {
                break;
            }
            let next = match self.next_done(&mut in_flight, &mut grace).await {
                Step::Finished(next) => next,
                Step::Raised => continue,
                Step::OutOfTime => break,
            };
            match next {
                Some(Done::Read(agent, ..)) if self.stopping() => {
                    let reason = self.why_stopped();
                    self.fail_put(&puts[&agent], reason);
                }
                Some(Done::Read(agent, read_at, read)) => match read {
                    Ok(AgentRead::Found(listing)) => {
                        let changes = self.holdings.absorb_agent(agent, &listing.rows);
                        self.note_changes(&changes);
                        if let Some(task) = self.put(agent, &puts[&agent], &carried, read_at) {
                            in_flight.push(task);
                        }
                    }
                    Ok(AgentRead::NotFound) => self.fail_put(
                        &puts[&agent],
                        format!("agent {agent} not found in the tenant (404)"),
                    ),
                    Ok(AgentRead::Untrusted(reason)) => self.fail_put(&puts[&agent], reason),
                    Err(error) => {
                        self.read_failed(&error);
                        self.fail_put(
                            &puts[&agent],
                            format!("not sent: the agent's full set could not be read: {error}"),
                        );
                    }
                },
                Some(Done::Write(write, Err(ClientError::Expired { maybe_sent, .. })))
                    if write
                        .target
                        .is_some_and(|a| rebuilt.get(&a).copied().unwrap_or(0) < 3)
                        && !self.stopping() =>
                {
                    // The full set ran out of time: read it again and
                    // build the PUT anew, rather than land a stale one.
                    self.landed(&write);
                    for &i in &write.pairs {
                        if maybe_sent {
                            self.ledger[i].unsettled.get_or_insert_with(|| {
                                "an attempt of the full-set PUT may have landed".to_owned()
                            });
                        }
                    }
                    if let Some(agent) = write.target {
                        *rebuilt.entry(agent).or_default() += 1;
                        self.total += 1;
                        pending.push_back(agent);
                    }
                }
                Some(Done::Write(write, result)) => self.answered(write, result, &mut no_queue),
                None => {}
            }
        }
        drop(in_flight);
        let reason = self.why_stopped();
        self.not_sent(pending.iter().flat_map(|agent| &puts[agent]), &reason);
        self.mark_abandoned();
    }

    /// Brings the bulk read up to date with `updatedSince` (or reads it
    /// again where the tenant gave no `lastPollTime`).
    async fn refresh(
        &mut self,
        agents: &HashSet<u64>,
        combos: &[crate::client::BulkFilter],
        taken: FullSetStamp,
    ) -> Option<FullSetStamp> {
        let started = Instant::now();
        let result = match &taken.poll_time {
            Some(since) => {
                read::refresh_bulk(self.client, &mut self.holdings, agents, combos, since)
                    .await
                    .map(|(changes, poll)| {
                        (
                            FullSetStamp {
                                at: started,
                                poll_time: poll.or(taken.poll_time.clone()),
                            },
                            changes,
                        )
                    })
            }
            None => {
                let list: Vec<u64> = agents.iter().copied().collect();
                read::read_full_sets(
                    self.client,
                    &mut self.holdings,
                    &list,
                    &FullSetRead::Bulk(combos.to_vec()),
                    self.options.concurrency,
                )
                .await
            }
        };
        match result {
            Ok((stamp, changes)) => {
                self.note_changes(&changes);
                Some(stamp)
            }
            Err(error) => {
                self.read_failed(&error);
                self.fatal.get_or_insert_with(|| {
                    format!("the full sets could not be read again before the PUTs: {error}")
                });
                None
            }
        }
    }

    /// The PUT of an agent's full merged set, from the holdings as they
    /// are now (read at `read_at`); `None` (and the pairs failed) when no
    /// full set is known. `carried` lists each agent's changed roster
    /// pairs.
    fn put(
        &mut self,
        agent: u64,
        pairs: &[usize],
        carried: &HashMap<u64, Vec<usize>>,
        read_at: Instant,
    ) -> Option<Task<'a>> {
        let Some(fresh) = self.holdings.full_set(agent) else {
            let reason = self
                .holdings
                .untrusted(agent)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("not sent: agent {agent}'s full set is not known"));
            self.fail_put(pairs, reason);
            return None;
        };
        // Every changed roster pair of the agent rides along: the full set
        // carries its target wherever the agent holds the skill.
        let carried = carried.get(&agent).map_or(&[][..], Vec::as_slice);
        let ledger = &self.ledger;
        let body = requests::put_body(&fresh, self.plan, carried, |i| ledger[i].applied);
        let held: HashSet<u64> = fresh.iter().map(|(s, _)| *s).collect();
        let required: Vec<usize> = pairs
            .iter()
            .copied()
            .filter(|&i| {
                let pair = &self.plan.pairs[i];
                if held.contains(&pair.skill) {
                    true
                } else {
                    // Not held: a PUT cannot change it (someone removed it
                    // since the plan).
                    self.ledger[i].refusal.get_or_insert_with(|| {
                        format!(
                            "agent {agent} no longer holds skill {}: it was removed since the plan was made",
                            pair.skill
                        )
                    });
                    false
                }
            })
            .collect();
        if body.skills.is_empty() || required.is_empty() {
            self.done += 1;
            return None;
        }
        // The answer speaks for every roster pair the body carries at its
        // target; a pair being removed it only restates, so its row proves
        // nothing about the removal.
        let write = Write {
            kind: WriteKind::AgentPut,
            target: Some(agent),
            pairs: carried
                .iter()
                .copied()
                .filter(|&i| {
                    let pair = &self.plan.pairs[i];
                    pair.action != Action::Remove && held.contains(&pair.skill)
                })
                .collect(),
        };
        // No attempt may start once the read it was built from is older
        // than the limit: someone's edit since could be undone.
        let deadline = read_at + self.options.max_read_age;
        Some(self.launch_with(write, requests::Body::Skills(body), Some(deadline)))
    }

    fn fail_put(&mut self, pairs: &[usize], reason: String) {
        self.done += 1;
        self.not_sent(pairs, &reason);
    }

    /// Records the changes a read found to assignments outside the roster
    /// of the run's agents.
    fn note_changes(&mut self, changes: &[Change]) {
        for change in changes {
            let key = (change.agent, change.skill);
            if !change.was_known
                || self.named.contains(&key)
                || !self.roster_agents.contains(&change.agent)
            {
                continue;
            }
            let entry = self.concurrent.entry(key).or_insert(ConcurrentChange {
                agent: change.agent,
                skill: change.skill,
                before: change.before,
                after: change.after,
            });
            entry.after = change.after;
            warn!(
                agent = change.agent,
                skill = change.skill,
                "concurrent change by someone else, kept: {} → {}",
                shown(change.before),
                shown(change.after)
            );
        }
    }

    // --- Phase three: settle -------------------------------------------------

    /// Reads back, in bulk, every pair whose outcome the answers left open.
    async fn settle(&mut self) {
        let open: Vec<usize> = (0..self.plan.pairs.len())
            .filter(|&i| {
                let v = &self.ledger[i];
                self.plan.pairs[i].changes() && !v.applied && v.unsettled.is_some()
            })
            .collect();
        if open.is_empty() {
            return;
        }
        let mut skills: Vec<u64> = open.iter().map(|&i| self.plan.pairs[i].skill).collect();
        skills.sort_unstable();
        skills.dedup();
        info!(
            rows = open.len(),
            skills = skills.len(),
            "reading back what the answers left open"
        );
        let mut now = Holdings::default();
        let read = read::read_skills(self.client, &mut now, &skills, None);
        let result = if self.options.interrupt.is_raised() || self.fatal.is_some() {
            tokio::time::timeout(SETTLE_AFTER_SIGNAL, read)
                .await
                .unwrap_or_else(|_| {
                    Err(ClientError::Config(
                        "the read-back ran out of time".to_owned(),
                    ))
                })
        } else {
            read.await
        };
        match result {
            Ok(_) => {
                for i in open {
                    let pair = self.plan.pairs[i];
                    let held = match now.get(pair.agent, pair.skill) {
                        Known::Held(state) => Some(state),
                        Known::Absent => None,
                        Known::Unknown => continue,
                    };
                    let verdict = &mut self.ledger[i];
                    if held == pair.after {
                        verdict.applied = true;
                    } else {
                        verdict.unsettled = None;
                        verdict.refusal.get_or_insert_with(|| {
                            format!(
                                "not in place after the write: the tenant shows {}",
                                shown(held)
                            )
                        });
                    }
                }
            }
            Err(error) => {
                let reason = format!("reading it back failed: {error}");
                warn!("{reason}");
                for i in open {
                    if let Some(unsettled) = &mut self.ledger[i].unsettled {
                        unsettled.push_str("; ");
                        unsettled.push_str(&reason);
                    }
                }
                return;
            }
        }
        self.name_missing_agents(&now).await;
    }

    /// A bulk answer refuses a row without a reason; when the agent holds
    /// nothing anywhere the reads looked, ask the tenant whether it exists
    /// at all (one read per such agent, a few at most), so the report can
    /// say "not found" instead of "no reason given".
    async fn name_missing_agents(&mut self, now: &Holdings) {
        const PROBES: usize = 20;
        if self.stopping() {
            return;
        }
        let mut agents: Vec<u64> = self
            .plan
            .pairs
            .iter()
            .zip(&self.ledger)
            .filter(|(p, v)| {
                !v.applied
                    && v.unsettled.is_none()
                    && v.refusal.as_deref() == Some(NO_REASON)
                    && p.before.is_none()
            })
            .map(|(p, _)| p.agent)
            .filter(|&a| self.holdings.seen_of(a).is_empty() && now.seen_of(a).is_empty())
            .collect();
        agents.sort_unstable();
        agents.dedup();
        for agent in agents.into_iter().take(PROBES) {
            if let Ok(AgentRead::NotFound) = self.client.agent_skills(agent).await {
                let reason = format!("agent {agent} not found in the tenant (404)");
                for (pair, verdict) in self.plan.pairs.iter().zip(&mut self.ledger) {
                    if pair.agent == agent && !verdict.applied {
                        verdict.refusal = Some(reason.clone());
                    }
                }
            }
        }
    }

    fn finish(self) -> Applied {
        let mut rows: Vec<RowOutcome> = self
            .plan
            .rejected
            .iter()
            .map(RowOutcome::of_rejected)
            .collect();
        let stopped = self.why_stopped();
        for (pair, verdict) in self.plan.pairs.iter().zip(&self.ledger) {
            let (status, error) = if !pair.changes() {
                (Status::Unchanged, None)
            } else if verdict.applied {
                (Status::Applied, None)
            } else if let Some(reason) = &verdict.unsettled {
                (
                    Status::Unknown,
                    Some(format!("{reason}; a re-run settles it")),
                )
            } else if let Some(reason) = &verdict.refusal {
                (Status::Failed, Some(reason.clone()))
            } else if let Some(reason) = &verdict.not_sent {
                (Status::Failed, Some(reason.clone()))
            } else {
                (Status::Failed, Some(stopped.clone()))
            };
            rows.push(RowOutcome::of_pair(pair, status, error));
        }
        Applied {
            rows,
            fatal: self.fatal,
            interrupted: self.options.interrupt.signal(),
            concurrent: self.concurrent.into_values().collect(),
            warnings: self.warnings,
        }
    }
}

impl Verdict {
    /// Keeps the first reason the tenant gave, preferring one with words
    /// over a bare refusal.
    fn refuse(&mut self, reason: &str) {
        if self.refusal.as_deref().is_none_or(|r| r == NO_REASON) {
            self.refusal = Some(reason.to_owned());
        }
    }
}

fn shown(state: Option<State>) -> String {
    match state {
        Some(state) => state.to_string(),
        None => "not assigned".to_owned(),
    }
}
