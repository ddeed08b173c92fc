//! Throughput of the sandbox for the simplest call cxskill makes,
//! `GET /agents/{id}/skills`, so we know it is never the bottleneck of
//! cxskill's own benchmarks (target: at least 10,000 requests/s on a
//! 2-core machine).
//!
//! ```text
//! cargo run --release --example bench_sandbox -- --concurrency 32 --seconds 5
//! ```
//!
//! The sandbox runs in this process on 127.0.0.1:0 with a pre-issued
//! token; N reqwest tasks share one connection pool and loop over the
//! embedded tenant's agents until the time or request budget runs out.
//! Only loopback traffic; the loop is bounded both ways.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use cxskill::sandbox::{self, SandboxOptions, Tenant};

const TOKEN: &str = "bench-token";
const AGENTS: [u64; 12] = [
    1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012,
];

#[derive(Parser)]
struct Args {
    /// Concurrent client tasks.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured duration, after the warm-up.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Warm-up, not measured (connections open, caches fill).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Upper bound on measured requests, whatever the duration.
    #[arg(long, default_value_t = 5_000_000)]
    max_requests: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let listen: SocketAddr = "127.0.0.1:0".parse()?;
    let options = SandboxOptions {
        preissued_token: Some(TOKEN.to_owned()),
        ..SandboxOptions::default()
    };
    let sb = sandbox::start(listen, Tenant::embedded(), options).await?;
    let root = sb.api_root();
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let start = Instant::now();
    let warmup_end = start + Duration::from_secs_f64(args.warmup);
    let end = warmup_end + Duration::from_secs_f64(args.seconds);

    let mut tasks = Vec::with_capacity(args.concurrency);
    for worker in 0..args.concurrency {
        let (client, root) = (client.clone(), root.clone());
        let (ok, failed, measuring) = (ok.clone(), failed.clone(), measuring.clone());
        let max = args.max_requests;
        tasks.push(tokio::spawn(async move {
            let mut i = worker;
            while Instant::now() < end && ok.load(Ordering::Relaxed) < max {
                let agent = AGENTS[i % AGENTS.len()];
                i += 1;
                let response = client
                    .get(format!("{root}/agents/{agent}/skills"))
                    .bearer_auth(TOKEN)
                    .send()
                    .await;
                let good = match response {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                };
                if measuring.load(Ordering::Relaxed) {
                    if good { &ok } else { &failed }.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    tokio::time::sleep_until(warmup_end.into()).await;
    measuring.store(true, Ordering::Relaxed);
    let measured_from = Instant::now();
    for task in tasks {
        task.await?;
    }
    let elapsed = measured_from.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    let failed = failed.load(Ordering::Relaxed);
    sb.shutdown().await;

    println!(
        "GET /agents/{{id}}/skills: {ok} ok, {failed} failed in {elapsed:.2} s \
         with {} concurrent clients on {} cores: {:.0} requests/s",
        args.concurrency,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        ok as f64 / elapsed
    );
    Ok(())
}
