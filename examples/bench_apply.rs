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

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
#[path = "support/rusage.rs"]
mod rusage;

use rusage::wait_with_rusage;
use std::time::{Duration, Instant};

use cxskill::client::Client;
use cxskill::config::{Connection, Credentials, RetryPolicy};
use cxskill::model::{AgentRef, Proficiency, Row, SkillId, Target};
use cxskill::sandbox::{self, SandboxHandle, SandboxOptions, Tenant};
use cxskill::secret::Secret;
use cxskill::{apply, plan};

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    throughput().await?;
    throttled().await?;
    memory().await?;
    Ok(())
}

/// A tenant of `agents` agents, `skills` skills, each agent holding every
/// skill at proficiency 5.
fn tenant(agents: u64, skills: u64) -> Result<Tenant, Error> {
    let agent_list: Vec<_> = (1..=agents)
        .map(|id| {
            serde_json::json!({
                "agentId": id,
                "userId": format!("{id:08x}-0000-4000-8000-{id:012x}"),
                "userName": format!("agent{id}@bench.example"),
                "emailAddress": format!("agent{id}@bench.example"),
                "firstName": "Agent", "lastName": id.to_string(), "isActive": true
            })
        })
        .collect();
    let skill_list: Vec<_> = (1..=skills)
        .map(|s| serde_json::json!({"skillId": 100_000 + s, "skillName": format!("Skill {s}"), "isActive": true}))
        .collect();
    let assignments: Vec<_> = (1..=agents)
        .flat_map(|a| {
            (1..=skills).map(move |s| {
                serde_json::json!({"agentId": a, "skillId": 100_000 + s, "proficiency": 5, "isActive": true})
            })
        })
        .collect();
    let json = serde_json::json!({
        "accessKeys": [{"accessKeyId": "bench", "accessKeySecret": "bench-secret", "readOnly": false}],
        "clients": [{"clientId": "bench", "clientSecret": "bench-client-secret"}],
        "agents": agent_list, "skills": skill_list, "assignments": assignments
    });
    Ok(Tenant::from_json(&json.to_string())?)
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
    let tenant = plan::read_tenant(&client, rows, concurrency, &|| ()).await?;
    let plan = plan::build(rows, &tenant);
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

async fn memory() -> Result<(), Error> {
    let (agents, skills) = (25_000u64, 4u64);
    let exe = std::env::current_exe()?;
    let binary = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("cxskill"))
        .ok_or("cannot locate target directory")?;
    if !binary.exists() {
        return Err(format!(
            "{} not found: run `cargo build --release` first",
            binary.display()
        )
        .into());
    }
    let handle = sandbox::start(
        "127.0.0.1:0".parse()?,
        tenant(agents, skills)?,
        SandboxOptions::default(),
    )
    .await?;
    let path = std::env::temp_dir().join("cxskill-bench-plan-100k.csv");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(out, "agent,skill,proficiency")?;
        for a in 1..=agents {
            for s in 1..=skills {
                writeln!(out, "{a},{},{}", 100_000 + s, if s == 1 { 6 } else { 5 })?;
            }
        }
    }
    let c = handle.credentials();
    let env: HashMap<&str, String> = HashMap::from([
        ("CXSKILL_API_BASE", handle.api_base()),
        ("CXSKILL_TOKEN_URL", handle.token_url()),
        ("CXSKILL_ACCESS_KEY_ID", c.access_key_id),
        ("CXSKILL_ACCESS_KEY_SECRET", c.access_key_secret),
        ("CXSKILL_CLIENT_ID", c.client_id),
        ("CXSKILL_CLIENT_SECRET", c.client_secret),
    ]);
    let start = Instant::now();
    let child = Command::new(&binary)
        .args(["plan", "--quiet", "--rate", "100000", "--concurrency", "16"])
        .arg(&path)
        .envs(env)
        .stdout(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let (status, max_rss_kb) = tokio::task::spawn_blocking(move || wait_with_rusage(pid)).await??;
    println!(
        "memory: plan of {} rows ({agents} agents) exit {status} in {:.2} s, peak RSS {:.1} MB",
        agents * skills,
        start.elapsed().as_secs_f64(),
        max_rss_kb as f64 / 1024.0
    );
    std::fs::remove_file(&path)?;
    handle.shutdown().await;
    Ok(())
}
