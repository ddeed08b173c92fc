//! What the benchmarks share: the release binary, and the peak memory of a
//! child process.

use std::path::PathBuf;

/// `target/release/cxskill`, next to `target/release/examples/<bench>`.
pub fn release_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let binary = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("cxskill"))
        .ok_or("cannot locate the target directory")?;
    if binary.exists() {
        Ok(binary)
    } else {
        Err(format!(
            "{} not found: run `cargo build --release` first",
            binary.display()
        ))
    }
}

/// Waits for the child and returns its exit code and peak RSS (KiB) from
/// `wait4`, which sees the whole process lifetime.
#[allow(dead_code)]
pub fn wait_with_rusage(pid: u32) -> std::io::Result<(i32, i64)> {
    wait_with_usage(pid).map(|u| (u.code, u.max_rss_kb))
}

/// What `wait4` tells of a finished child.
#[allow(dead_code)]
pub struct Usage {
    pub code: i32,
    /// Peak resident set size, KiB.
    pub max_rss_kb: i64,
    /// User plus system CPU time, seconds: steadier than wall time on a
    /// shared machine.
    pub cpu_seconds: f64,
}

/// Waits for the child; its exit code, peak RSS and CPU time.
#[allow(dead_code)]
pub fn wait_with_usage(pid: u32) -> std::io::Result<Usage> {
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value, and both pointers
    // outlive the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
    // SAFETY: `pid` is our own child; wait4 writes only to the two pointers.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Usage {
        code,
        max_rss_kb: usage.ru_maxrss,
        cpu_seconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
    })
}
