//! Benchmark: validate a generated 1,000,000-row roster with the release
//! binary and report wall time and peak memory.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_validate [-- ROWS]
//! ```
//! Target on a 2-core machine: under 1.5 s wall, under 300 MB peak RSS.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
mod support;

use std::time::Instant;
use support::{release_binary, wait_with_rusage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: u64 = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 1_000_000,
    };
    let binary = release_binary()?;

    let path = std::env::temp_dir().join(format!("cxskill-bench-{rows}.csv"));
    let bytes = generate(&path, rows)?;
    println!(
        "roster: {} ({rows} rows, {:.1} MB)",
        path.display(),
        bytes as f64 / 1e6
    );

    let start = Instant::now();
    let child = Command::new(&binary)
        .args(["validate", "--quiet"])
        .arg(&path)
        .stdout(Stdio::null())
        .spawn()?;
    let (status, max_rss_kb) = wait_with_rusage(child.id())?;
    let wall = start.elapsed();
    println!(
        "validate: exit {status}, wall {:.3} s, peak RSS {:.1} MB, {:.0} rows/s",
        wall.as_secs_f64(),
        max_rss_kb as f64 / 1024.0,
        rows as f64 / wall.as_secs_f64()
    );
    std::fs::remove_file(&path)?;
    if status != 0 {
        return Err("the generated roster should be valid".into());
    }
    Ok(())
}

/// A realistic roster: half the agents by agentId, half by userId, four
/// skills each, an extra name column, some active flags.
fn generate(path: &PathBuf, rows: u64) -> std::io::Result<u64> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "agent,agent_name,skill,proficiency,active")?;
    for i in 0..rows {
        let agent = i / 4 + 1;
        let skill = 100_000 + i % 4;
        let proficiency = i % 20 + 1;
        let active = ["", "yes", "no", ""][(i % 4) as usize];
        if agent % 2 == 0 {
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
