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
pub fn wait_with_rusage(pid: u32) -> std::io::Result<(i32, i64)> {
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
    Ok((code, usage.ru_maxrss))
}
