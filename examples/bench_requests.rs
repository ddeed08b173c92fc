//! The request economy, measured: at a tenant's rate limit the number of
//! requests *is* the run time, so each roster below is run against a
//! sandbox with 50 ms of latency and a 50 requests/s limit, with
//! `--rate 50`, under both PUT semantics, and compared with the fewest
//! requests the contract's endpoints allow, which this benchmark works out
//! on its own (it never asks the planner).
//!
//! | roster | tenant | what changes |
//! | --- | --- | --- |
//! | A | 500 agents | 100 agents gain one skill they lack, at level 5 |
//! | B | 2,000 agents | each agent changes one skill, among 10, to a new level in 1..=5 |
//! | C | 500 agents | 300 agents × 4 rows: add (1..=5), change (1..=5) or remove, 1/3 each |
//! | D | — | B again after B |
//! | E | — | B's pairs with new levels in 1..=20 |
//!
//! Tenants are seeded: 20 skills, 5 per agent. Then, against an
//! unthrottled sandbox in its own process, the plan time and peak memory
//! of the release binary for a 10,000-agent × 5-change roster and a
//! 1,000,000-row roster.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_requests
//! cargo run --release --example bench_requests -- --quick   # A, B, C, D only, modify only
//! ```

#[path = "../tests/common/seeded.rs"]
mod seeded;
mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cxskill::client::Client;
use cxskill::interrupt::Interrupt;
use cxskill::job::{Confirmation, Job, Mode};
use cxskill::model::RosterRow;
use cxskill::outcome::Status;
use cxskill::roster::{self, Format, Input, Source};
use cxskill::sandbox::{self, PutSemantics, SandboxOptions, Tenant};
use seeded::{
    Row, SEEDED_SKILLS, State, connection, roster_csv, roster_target, seeded_skill, seeded_state,
    tenant_json,
};
use support::{release_binary, wait_with_rusage};

type Error = Box<dyn std::error::Error>;

const RATE: f64 = 50.0;
const BATCH: usize = 1_000;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let quick = std::env::args().any(|a| a == "--quick");
    // The memory figures first, while this process is small.
    if !quick {
        plan_memory(10_000, 5, 2026).await?;
        plan_memory(200_000, 5, 2027).await?;
    }
    println!(
        "\n| roster | PUT | requests by endpoint | requests | minimum (with canary) | ratio | minimum (without) | wall s | 429s | exact |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let semantics: &[PutSemantics] = if quick {
        &[PutSemantics::Modify]
    } else {
        &[PutSemantics::Modify, PutSemantics::Replace]
    };
    for &put in semantics {
        let a = seeded_state(500, 1);
        run("A", put, &a, &roster_a(&a, 2), None).await?;
        let b = seeded_state(2_000, 3);
        let roster_b = roster_b(&b, 4);
        let after_b = run("B", put, &b, &roster_b, None).await?;
        run("D", put, &after_b, &roster_b, Some("B re-run")).await?;
        if !quick {
            run("E", put, &b, &roster_b_levels(&b, &roster_b, 5), None).await?;
        }
        let c = seeded_state(500, 6);
        run("C", put, &c, &roster_c(&c, 7), None).await?;
    }
    println!(
        "\nreads for 2,000 agents: before (one GET per agent for the plan, one per changed agent before writing): B 4,000, D 2,000; after: see the GET columns above"
    );
    Ok(())
}

fn agents_of(state: &State) -> Vec<u64> {
    let set: BTreeSet<u64> = state.keys().map(|(a, _)| *a).collect();
    set.into_iter().collect()
}

/// A: 100 agents gain one skill they lack, at level 5.
fn roster_a(state: &State, seed: u64) -> Vec<Row> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut agents = agents_of(state);
    rng.shuffle(&mut agents);
    agents
        .into_iter()
        .take(100)
        .map(|a| {
            let lacking: Vec<u64> = (1..=SEEDED_SKILLS)
                .map(seeded_skill)
                .filter(|s| !state.contains_key(&(a, *s)))
                .collect();
            (a, lacking[rng.usize(..lacking.len())], Some(5))
        })
        .collect()
}

/// B: every agent changes one skill it holds among the first 10 to a new
/// level in 1..=5 (agents holding none of the 10 are left out).
fn roster_b(state: &State, seed: u64) -> Vec<Row> {
    let mut rng = fastrand::Rng::with_seed(seed);
    agents_of(state)
        .into_iter()
        .filter_map(|a| {
            let held: Vec<(u64, i64)> = (1..=10)
                .map(seeded_skill)
                .filter_map(|s| state.get(&(a, s)).map(|(p, _)| (s, *p)))
                .collect();
            if held.is_empty() {
                return None;
            }
            let (s, p) = held[rng.usize(..held.len())];
            let new = loop {
                let n = i64::from(rng.u8(1..=5));
                if n != p {
                    break n;
                }
            };
            Some((a, s, Some(new)))
        })
        .collect()
}

/// E: B's pairs at new levels in 1..=20.
fn roster_b_levels(state: &State, b: &[Row], seed: u64) -> Vec<Row> {
    let mut rng = fastrand::Rng::with_seed(seed);
    b.iter()
        .map(|&(a, s, _)| {
            let p = state[&(a, s)].0;
            let new = loop {
                let n = i64::from(rng.u8(1..=20));
                if n != p {
                    break n;
                }
            };
            (a, s, Some(new))
        })
        .collect()
}

/// C: 300 agents × 4 rows, each an add (1..=5), a change (1..=5) or a
/// removal, with probability 1/3 each.
fn roster_c(state: &State, seed: u64) -> Vec<Row> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut agents = agents_of(state);
    rng.shuffle(&mut agents);
    let mut rows = Vec::new();
    for a in agents.into_iter().take(300) {
        let mut held: Vec<u64> = (1..=SEEDED_SKILLS)
            .map(seeded_skill)
            .filter(|s| state.contains_key(&(a, *s)))
            .collect();
        let mut lacking: Vec<u64> = (1..=SEEDED_SKILLS)
            .map(seeded_skill)
            .filter(|s| !state.contains_key(&(a, *s)))
            .collect();
        rng.shuffle(&mut held);
        rng.shuffle(&mut lacking);
        for _ in 0..4 {
            match rng.u8(0..3) {
                0 => {
                    if let Some(s) = lacking.pop() {
                        rows.push((a, s, Some(i64::from(rng.u8(1..=5)))));
                    }
                }
                1 => {
                    if let Some(s) = held.pop() {
                        let p = state[&(a, s)].0;
                        let new = loop {
                            let n = i64::from(rng.u8(1..=5));
                            if n != p {
                                break n;
                            }
                        };
                        rows.push((a, s, Some(new)));
                    }
                }
                _ => {
                    if let Some(s) = held.pop() {
                        rows.push((a, s, None));
                    }
                }
            }
        }
    }
    rows
}

/// The fewest assignment reads and writes the contract's endpoints allow
/// for this roster under cxskill's write rules, worked out here and not by
/// the planner: (with the canary read, without it).
fn minimum(state: &State, rows: &[Row]) -> (u64, u64) {
    let mut upsert = 0u64;
    let mut posts: HashMap<u64, u64> = HashMap::new();
    let mut puts: HashSet<u64> = HashSet::new();
    let mut removals: Vec<(u64, u64)> = Vec::new();
    let mut skills: HashSet<u64> = HashSet::new();
    for &(a, s, p) in rows {
        skills.insert(s);
        let now = state.get(&(a, s));
        match (p, now) {
            (None, Some(_)) => removals.push((a, s)),
            (None, None) => {}
            (Some(p), None) if p <= 5 => upsert += 1,
            (Some(_), None) => *posts.entry(a).or_default() += 1,
            (Some(p), Some((q, _))) if p == *q => {}
            (Some(p), Some(_)) if p <= 5 => upsert += 1,
            (Some(_), Some(_)) => {
                puts.insert(a);
            }
        }
    }
    let batches = |n: u64| n.div_ceil(BATCH as u64);
    // One read of the roster's skills for the plan; the PUT agents' whole
    // sets by the cheaper complete read (two bulk reads, active and
    // inactive assignments, or one per agent).
    let mut reads = (skills.len() as u64).div_ceil(50);
    if !puts.is_empty() {
        reads += (puts.len() as u64).min(2);
    }
    let writes = batches(upsert)
        + posts.values().map(|&n| batches(n)).sum::<u64>()
        + puts.len() as u64
        + cover_size(&removals);
    let canary = u64::from(upsert > 0);
    (reads + writes + canary, reads + writes)
}

/// The size of a minimum vertex cover of the removals' agent–skill graph:
/// the size of a maximum matching (König), by simple augmenting paths.
fn cover_size(edges: &[(u64, u64)]) -> u64 {
    let mut adjacent: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for &(a, s) in edges {
        adjacent.entry(a).or_default().push(s);
    }
    let mut matched: HashMap<u64, u64> = HashMap::new();
    fn augment(
        a: u64,
        adjacent: &BTreeMap<u64, Vec<u64>>,
        matched: &mut HashMap<u64, u64>,
        seen: &mut HashSet<u64>,
    ) -> bool {
        for &s in &adjacent[&a] {
            if seen.insert(s) {
                let free = match matched.get(&s) {
                    None => true,
                    Some(&other) => augment(other, adjacent, matched, seen),
                };
                if free {
                    matched.insert(s, a);
                    return true;
                }
            }
        }
        false
    }
    let mut size = 0;
    for &a in adjacent.keys() {
        if augment(a, &adjacent, &mut matched, &mut HashSet::new()) {
            size += 1;
        }
    }
    size
}

/// Runs one roster against a fresh sandbox holding `state`; prints a
/// table row and returns the tenant's state after.
async fn run(
    name: &str,
    put: PutSemantics,
    state: &State,
    rows: &[Row],
    note: Option<&str>,
) -> Result<State, Error> {
    let agents = state.keys().map(|(a, _)| *a).max().unwrap_or(0);
    let tenant = Tenant::from_json(&tenant_json(state, agents, &[]))?;
    let options = SandboxOptions {
        put_semantics: put,
        latency: Duration::from_millis(50),
        rate_limit: Some(RATE),
        ..SandboxOptions::default()
    };
    let handle = sandbox::start("127.0.0.1:0".parse()?, tenant, options).await?;
    let input = Input::from_bytes(Source::Stdin, Format::Csv, roster_csv(rows));
    let parsed = roster::parse(&input, &Default::default());
    let roster_rows: Vec<RosterRow> = parsed.rows;
    let job = Job {
        mode: Mode::Apply,
        confirmation: Confirmation::Given,
        concurrency: 5,
        ..Job::default()
    };
    let started = Instant::now();
    let client = Client::connect(&connection(&handle, RATE, 5)).await?;
    let planned = job.plan(&client, &roster_rows).await?;
    let applied = job.apply(&client, planned, Interrupt::new(), &|_| ()).await;
    let wall = started.elapsed();
    if let Some(fatal) = &applied.fatal {
        return Err(format!("{name}: {fatal}").into());
    }
    let not_applied = applied
        .rows
        .iter()
        .filter(|r| !matches!(r.status, Status::Applied | Status::Unchanged))
        .count();
    let after: State = handle
        .assignments()
        .into_iter()
        .map(|a| {
            (
                (a.agent_id, a.skill_id),
                (i64::from(a.proficiency), a.is_active),
            )
        })
        .collect();
    let exact = after == roster_target(state, rows) && not_applied == 0;
    let log = handle.requests();
    let counted: Vec<_> = log
        .iter()
        .filter(|r| r.path.starts_with("/inContactAPI/"))
        .filter(|r| {
            !(r.method == "GET"
                && (r.path.ends_with("/v34.0/skills") || r.path.ends_with("/v34.0/agents")))
        })
        .collect();
    let throttled = log.iter().filter(|r| r.status == 429).count();
    let mut by: BTreeMap<String, u64> = BTreeMap::new();
    for r in &counted {
        *by.entry(format!("{} {}", r.method, template(&r.path)))
            .or_default() += 1;
    }
    let (with_canary, without) = minimum(state, rows);
    let total = counted.len() as u64;
    println!(
        "| {name}{} | {put} | {} | {total} | {with_canary} | {:.2} | {without} | {:.2} | {throttled} | {} |",
        note.map(|n| format!(" ({n})")).unwrap_or_default(),
        by.iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", "),
        total as f64 / with_canary.max(1) as f64,
        wall.as_secs_f64(),
        if exact { "yes" } else { "NO" },
    );
    handle.shutdown().await;
    Ok(after)
}

/// `/agents/1001/skills` → `/agents/{id}/skills`.
fn template(path: &str) -> String {
    let path = path.trim_start_matches("/inContactAPI/services/v34.0");
    path.split('/')
        .map(|part| {
            if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `cxskill plan` (the release binary) of `agents` × `changes` rows
/// against an unthrottled sandbox, each in its own process: the wall time
/// and the plan's peak RSS.
async fn plan_memory(agents: u64, changes: u64, seed: u64) -> Result<(), Error> {
    let binary = release_binary()?;
    let dir = std::env::temp_dir();
    let tenant_path = dir.join(format!("cxskill-bench-tenant-{agents}.json"));
    let roster_path = dir.join(format!("cxskill-bench-roster-{agents}.csv"));
    {
        let state = seeded_state(agents, seed);
        std::fs::write(&tenant_path, tenant_json(&state, agents, &[]))?;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&roster_path)?);
        writeln!(out, "agent,skill,proficiency")?;
        let mut rng = fastrand::Rng::with_seed(seed);
        for a in 1..=agents {
            let held: Vec<u64> = (1..=SEEDED_SKILLS)
                .map(seeded_skill)
                .filter(|s| state.contains_key(&(a, *s)))
                .collect();
            for &s in held.iter().take(changes as usize) {
                writeln!(out, "{a},{s},{}", rng.u8(1..=20))?;
            }
        }
        out.flush()?;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = Command::new(&binary)
        .args([
            "sandbox",
            "--quiet",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--tenant",
        ])
        .arg(&tenant_path)
        .stdout(Stdio::null())
        .spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    let ready = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if ready.elapsed() > Duration::from_secs(120) {
            let _ = server.kill();
            return Err("the sandbox did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = Instant::now();
    let child = Command::new(&binary)
        .args(["plan", "--quiet", "--rate", "100000", "--concurrency", "16"])
        .arg(&roster_path)
        .env("CXSKILL_TOKEN_URL", format!("{base}/auth/token"))
        .env("CXSKILL_ACCESS_KEY_ID", "test-key")
        .env("CXSKILL_ACCESS_KEY_SECRET", "test-key-secret")
        .env("CXSKILL_CLIENT_ID", "test-client")
        .env("CXSKILL_CLIENT_SECRET", "test-client-secret")
        .stdout(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let measured = tokio::task::spawn_blocking(move || wait_with_rusage(pid)).await?;
    let elapsed = started.elapsed();
    let _ = server.kill();
    let _ = server.wait();
    let (status, max_rss_kb) = measured?;
    println!(
        "plan: {} rows ({agents} agents x {changes}) exit {status} in {:.2} s, peak RSS {:.1} MB",
        agents * changes,
        elapsed.as_secs_f64(),
        max_rss_kb as f64 / 1024.0
    );
    std::fs::remove_file(&roster_path)?;
    std::fs::remove_file(&tenant_path)?;
    Ok(())
}
