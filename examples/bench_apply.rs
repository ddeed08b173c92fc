//! Benchmarks for plan and apply against an in-process sandbox tenant on
//! loopback (nothing leaves the machine):
//!
//! 1. throughput: 2,000 agents × 1 changed skill, sandbox without limit or
//!    latency, `--rate 100000 --concurrency 16`; target ≥ 1,000 agents/s.
//! 2. throttled: sandbox limited to 20 requests/s, client `--rate 20`;
//!    target ≥ 90% of 20 requests/s and no 429.
//! 3. memory: `cxskill plan` (release binary) of a 100,000-row roster;
//!    target < 200 MB peak RSS.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_apply
//! ```

use std::io::Write;
use std::process::{Command, Stdio};
mod support;

use std::time::{Duration, Instant};
use support::{release_binary, wait_with_rusage};

use cxskill::client::Client;
use cxskill::config::{Connection, Credentials, RetryPolicy};
use cxskill::model::{AgentRef, Proficiency, Row, SkillId, Target};
use cxskill::sandbox::{self, SandboxHandle, SandboxOptions, Tenant};
use cxskill::secret::Secret;
use cxskill::{apply, plan};

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // First, while this process is still small: see `memory`.
    memory().await?;
    throughput().await?;
    throttled().await?;
    Ok(())
}

/// A tenant of `agents` agents, `skills` skills, each agent holding every
/// skill at proficiency 5.
fn tenant(agents: u64, skills: u64) -> Result<Tenant, Error> {
    let mut json = Vec::new();
    write_tenant(&mut json, agents, skills)?;
    Ok(Tenant::from_json(std::str::from_utf8(&json)?)?)
}

/// The tenant file, written as it is generated (no document in memory,
/// so the benchmark process itself stays small).
fn write_tenant(out: &mut impl Write, agents: u64, skills: u64) -> std::io::Result<()> {
    write!(
        out,
        r#"{{"accessKeys": [{{"accessKeyId": "bench", "accessKeySecret": "bench-secret", "readOnly": false}}],
"clients": [{{"clientId": "bench", "clientSecret": "bench-client-secret"}}], "agents": ["#
    )?;
    for id in 1..=agents {
        let comma = if id > 1 { "," } else { "" };
        write!(
            out,
            r#"{comma}{{"agentId": {id}, "userId": "{id:08x}-0000-4000-8000-{id:012x}", "userName": "agent{id}@bench.example", "emailAddress": "agent{id}@bench.example", "firstName": "Agent", "lastName": "{id}", "isActive": true}}"#
        )?;
    }
    write!(out, r#"], "skills": ["#)?;
    for s in 1..=skills {
        let comma = if s > 1 { "," } else { "" };
        write!(
            out,
            r#"{comma}{{"skillId": {}, "skillName": "Skill {s}", "isActive": true}}"#,
            100_000 + s
        )?;
    }
    write!(out, r#"], "assignments": ["#)?;
    for a in 1..=agents {
        for s in 1..=skills {
            let comma = if a > 1 || s > 1 { "," } else { "" };
            write!(
                out,
                r#"{comma}{{"agentId": {a}, "skillId": {}, "proficiency": 5, "isActive": true}}"#,
                100_000 + s
            )?;
        }
    }
    writeln!(out, "]}}")
}

fn connection(handle: &SandboxHandle, rate: f64, concurrency: usize) -> Connection {
    let c = handle.credentials();
    Connection {
        api_base: handle.api_base(),
        api_version: "v34.0".to_owned(),
        token_url: handle.token_url(),
        credentials: Credentials::AccessKey {
            access_key_id: c.access_key_id,
            access_key_secret: Secret::new(c.access_key_secret),
            client_id: c.client_id,
            client_secret: Secret::new(c.client_secret),
        },
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        rate,
        concurrency,
        retry: RetryPolicy::default(),
    }
}

/// Every agent's first skill to proficiency 6.
fn roster(agents: u64) -> Vec<Row> {
    (1..=agents)
        .filter_map(|a| {
            Some(Row {
                line: a + 1,
                agent: AgentRef::AgentId(a),
                skill: SkillId::new(100_001)?,
                target: Target::Set {
                    proficiency: Proficiency::new(6)?,
                    active: None,
                },
            })
        })
        .collect()
}

async fn run(
    handle: &SandboxHandle,
    rows: &[Row],
    rate: f64,
    concurrency: usize,
) -> Result<(Duration, cxskill::client::RequestCounts, u64), Error> {
    let connection = connection(handle, rate, concurrency);
    let client = Client::new(&connection)?;
    let start = Instant::now();
    let skills = client
        .skills()
        .await?
        .into_iter()
        .map(|s| (s.skill_id, s))
        .collect();
    let tenant = plan::read_tenant(&client, rows, skills, concurrency, &|| ()).await?;
    let plan = plan::build(rows, &tenant, false);
    let applied = apply::apply(&client, &plan, &tenant.skills, concurrency, &|| ()).await;
    let elapsed = start.elapsed();
    if let Some(fatal) = applied.fatal {
        return Err(fatal.into());
    }
    let failed = applied
        .rows
        .iter()
        .filter(|r| r.status != cxskill::outcome::Status::Applied)
        .count() as u64;
    Ok((elapsed, client.counts(), failed))
}

async fn throughput() -> Result<(), Error> {
    let agents = 2_000;
    let handle = sandbox::start(
        "127.0.0.1:0".parse()?,
        tenant(agents, 1)?,
        SandboxOptions::default(),
    )
    .await?;
    let (elapsed, counts, failed) = run(&handle, &roster(agents), 100_000.0, 16).await?;
    println!(
        "throughput: {agents} agents x 1 changed skill in {:.3} s = {:.0} agents/s ({} requests: {} GET, {} PUT; {failed} not applied)",
        elapsed.as_secs_f64(),
        agents as f64 / elapsed.as_secs_f64(),
        counts.get + counts.writes(),
        counts.get,
        counts.put,
    );
    handle.shutdown().await;
    Ok(())
}

async fn throttled() -> Result<(), Error> {
    let agents = 100;
    let options = SandboxOptions {
        rate_limit: Some(20.0),
        ..SandboxOptions::default()
    };
    let handle = sandbox::start("127.0.0.1:0".parse()?, tenant(agents, 1)?, options).await?;
    let (elapsed, counts, failed) = run(&handle, &roster(agents), 20.0, 5).await?;
    let requests = counts.get + counts.writes();
    println!(
        "throttled: {requests} requests in {:.2} s = {:.1} requests/s against a 20/s limit ({:.0}%), {} throttled (429), {failed} not applied",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64() / 20.0 * 100.0,
        counts.throttled,
    );
    handle.shutdown().await;
    Ok(())
}

/// The plan runs as its own process so that its peak RSS is its own; the
/// sandbox runs as another (a child forked from a process holding the
/// tenant would report the parent's pages as its own peak).
async fn memory() -> Result<(), Error> {
    let (agents, skills) = (25_000u64, 4u64);
    let binary = release_binary()?;
    let dir = std::env::temp_dir();
    let tenant_path = dir.join("cxskill-bench-tenant-25k.json");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tenant_path)?);
        write_tenant(&mut out, agents, skills)?;
        out.flush()?;
    }
    let roster_path = dir.join("cxskill-bench-plan-100k.csv");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&roster_path)?);
        writeln!(out, "agent,skill,proficiency")?;
        for a in 1..=agents {
            for s in 1..=skills {
                writeln!(out, "{a},{},{}", 100_000 + s, if s == 1 { 6 } else { 5 })?;
            }
        }
        out.flush()?;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut sandbox = Command::new(&binary)
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
    let api_base = format!("http://127.0.0.1:{port}");
    let ready = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if ready.elapsed() > Duration::from_secs(30) {
            let _ = sandbox.kill();
            return Err("the sandbox did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let start = Instant::now();
    let child = Command::new(&binary)
        .args(["plan", "--quiet", "--rate", "100000", "--concurrency", "16"])
        .arg(&roster_path)
        .env("CXSKILL_API_BASE", &api_base)
        .env("CXSKILL_TOKEN_URL", format!("{api_base}/auth/token"))
        .env("CXSKILL_ACCESS_KEY_ID", "bench")
        .env("CXSKILL_ACCESS_KEY_SECRET", "bench-secret")
        .env("CXSKILL_CLIENT_ID", "bench")
        .env("CXSKILL_CLIENT_SECRET", "bench-client-secret")
        .stdout(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let measured = tokio::task::spawn_blocking(move || wait_with_rusage(pid)).await?;
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    let (status, max_rss_kb) = measured?;
    println!(
        "memory: plan of {} rows ({agents} agents) exit {status} in {:.2} s, peak RSS {:.1} MB",
        agents * skills,
        start.elapsed().as_secs_f64(),
        max_rss_kb as f64 / 1024.0
    );
    std::fs::remove_file(&roster_path)?;
    std::fs::remove_file(&tenant_path)?;
    Ok(())
}
