//! Benchmark: `cxskill validate` (and `plan --failed-rows` of an invalid
//! roster, which never reaches a tenant) on generated rosters, with the
//! release binary: wall time, peak memory of the child process and bytes
//! printed on stdout.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_validate [-- CASE...]
//! ```
//! `CXSKILL_BENCH_BINARY=PATH` measures another build of cxskill (to
//! compare before and after on the same machine, under the same load).
//! Cases (default: all):
//! - `valid-1m`: 1,000,000 valid rows. Target: under 1.5 s, under 300 MB.
//! - `valid-5m`: 5,000,000 valid rows. Target: under 1 GB.
//! - `dup-5m`: 5,000,000 rows, four distinct rows repeated. Output and
//!   memory bounded (the human listing is capped).
//! - `err-1m`: 1,000,000 rows, each with a bad proficiency.
//! - `failed-80k`, `failed-1m`: `plan --failed-rows` of 80,000 and
//!   1,000,000 invalid rows (linear, not quadratic).

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
mod support;

use std::time::Instant;
use support::{release_binary, wait_with_usage};

type Error = Box<dyn std::error::Error>;

const CASES: [&str; 6] = [
    "valid-1m",
    "valid-5m",
    "dup-5m",
    "err-1m",
    "failed-80k",
    "failed-1m",
];

fn main() -> Result<(), Error> {
    let mut wanted: Vec<String> = std::env::args().skip(1).collect();
    if wanted.is_empty() {
        wanted = CASES.iter().map(|c| c.to_string()).collect();
    }
    let binary = match std::env::var_os("CXSKILL_BENCH_BINARY") {
        Some(path) => PathBuf::from(path),
        None => release_binary()?,
    };
    for case in &wanted {
        let (kind, rows, command): (Kind, u64, &[&str]) = match case.as_str() {
            "valid-1m" => (Kind::Valid, 1_000_000, &["validate"]),
            "valid-5m" => (Kind::Valid, 5_000_000, &["validate"]),
            "dup-5m" => (Kind::Duplicates, 5_000_000, &["validate"]),
            "err-1m" => (Kind::Errors, 1_000_000, &["validate"]),
            "failed-80k" => (Kind::Errors, 80_000, &["plan"]),
            "failed-1m" => (Kind::Errors, 1_000_000, &["plan"]),
            other => return Err(format!("unknown case `{other}`; one of {CASES:?}").into()),
        };
        let path = std::env::temp_dir().join(format!("cxskill-bench-{case}.csv"));
        let bytes = generate(&path, kind, rows)?;
        let failed = std::env::temp_dir().join(format!("cxskill-bench-{case}-failed.csv"));
        let mut args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        args.push(path.to_string_lossy().into_owned());
        if command == ["plan"] {
            args.push("--failed-rows".into());
            args.push(failed.to_string_lossy().into_owned());
        }
        let run = measure(&binary, &args)?;
        println!(
            "{case}: {} {rows} rows ({:.1} MB): exit {}, wall {:.3} s, cpu {:.3} s, peak RSS {:.1} MB, stdout {:.1} MB, {:.0} rows/s",
            command[0],
            bytes as f64 / 1e6,
            run.status,
            run.wall,
            run.cpu,
            run.max_rss_kb as f64 / 1024.0,
            run.stdout as f64 / 1e6,
            rows as f64 / run.wall
        );
        std::fs::remove_file(&path)?;
        let _ = std::fs::remove_file(&failed);
        let expected = if kind == Kind::Errors { 2 } else { 0 };
        if run.status != expected {
            return Err(format!("{case}: expected exit {expected}, got {}", run.status).into());
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Valid,
    Duplicates,
    Errors,
}

struct Run {
    status: i32,
    wall: f64,
    cpu: f64,
    max_rss_kb: i64,
    stdout: u64,
}

/// Runs the binary, counting what it prints, and reads its peak RSS.
fn measure(binary: &Path, args: &[String]) -> Result<Run, Error> {
    let start = Instant::now();
    let mut child = Command::new(binary)
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent-cxskill-bench")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut pipe = child.stdout.take().ok_or("no stdout")?;
    let counter = std::thread::spawn(move || {
        let mut buffer = vec![0u8; 1 << 16];
        let mut total = 0u64;
        while let Ok(n) = pipe.read(&mut buffer) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    });
    let usage = wait_with_usage(child.id())?;
    let wall = start.elapsed().as_secs_f64();
    let stdout = counter.join().map_err(|_| "stdout counter panicked")?;
    Ok(Run {
        status: usage.code,
        wall,
        cpu: usage.cpu_seconds,
        max_rss_kb: usage.max_rss_kb,
        stdout,
    })
}

/// A realistic roster: half the agents by agentId, half by userId, four
/// skills each, an extra name column, some active flags. Duplicates: the
/// first four rows over and over. Errors: every proficiency is `expert`.
fn generate(path: &PathBuf, kind: Kind, rows: u64) -> std::io::Result<u64> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "agent,agent_name,skill,proficiency,active")?;
    for i in 0..rows {
        let i = if kind == Kind::Duplicates { i % 4 } else { i };
        let agent = i / 4 + 1;
        let skill = 100_000 + i % 4;
        let proficiency = i % 20 + 1;
        let active = ["", "yes", "no", ""][(i % 4) as usize];
        if kind == Kind::Errors {
            writeln!(out, "{agent},Agent {agent},{skill},expert,{active}")?;
        } else if agent % 2 == 0 {
            writeln!(out, "{agent},Agent {agent},{skill},{proficiency},{active}")?;
        } else {
            writeln!(
                out,
                "{:08x}-0000-4000-8000-{agent:012x},Agent {agent},{skill},{proficiency},{active}",
                agent
            )?;
        }
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}
