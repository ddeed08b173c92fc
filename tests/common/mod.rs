//! Test support: a sandbox tenant served on loopback from its own runtime,
//! and the real cxskill binary pointed at it through the environment.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use cxskill::sandbox::{self, RequestRecord, SandboxHandle, SandboxOptions, Tenant};

mod seeded;
#[allow(unused_imports)] // not every test crate uses the seeded tenants
pub use seeded::*;

/// A sandbox with the runtime that serves it; the test thread stays free
/// to run the binary and block on it.
pub struct Rehearsal {
    pub runtime: tokio::runtime::Runtime,
    pub handle: Option<SandboxHandle>,
}

impl Rehearsal {
    pub fn start(options: SandboxOptions) -> Rehearsal {
        Rehearsal::with_tenant(Tenant::embedded(), options)
    }

    pub fn with_tenant(tenant: Tenant, options: SandboxOptions) -> Rehearsal {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let handle = runtime
            .block_on(sandbox::start(
                "127.0.0.1:0".parse().expect("addr"),
                tenant,
                options,
            ))
            .expect("sandbox starts");
        Rehearsal {
            runtime,
            handle: Some(handle),
        }
    }

    pub fn handle(&self) -> &SandboxHandle {
        self.handle.as_ref().expect("running")
    }

    /// (agentId, skillId) → (proficiency, active), the tenant's state now.
    pub fn state(&self) -> BTreeMap<(u64, u64), (i64, bool)> {
        self.handle()
            .assignments()
            .into_iter()
            .map(|a| {
                (
                    (a.agent_id, a.skill_id),
                    (i64::from(a.proficiency), a.is_active),
                )
            })
            .collect()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.handle().requests()
    }

    pub fn writes(&self) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(|r| {
                matches!(r.method.as_str(), "POST" | "PUT" | "DELETE")
                    && r.path.contains("/agents/")
            })
            .collect()
    }

    /// Runs the binary against this sandbox with the given arguments,
    /// connecting as a user would: the token URL and the credentials only,
    /// the API host discovered from the token.
    pub fn cxskill(&self, args: &[&str]) -> Output {
        self.cxskill_with(args, &[], None)
    }

    pub fn cxskill_with(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&[u8]>,
    ) -> Output {
        let mut command = self.command(args);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("run cxskill");
        let mut pipe = child.stdin.take().expect("stdin");
        let _ = pipe.write_all(stdin.unwrap_or_default());
        drop(pipe);
        child.wait_with_output().expect("wait for cxskill")
    }

    /// The binary, pointed at this sandbox (token URL and credentials),
    /// with every standard stream piped; to spawn and signal.
    pub fn command(&self, args: &[&str]) -> Command {
        let handle = self.handle();
        let credentials = handle.credentials();
        let mut command = isolated_command(args);
        command
            .env("CXSKILL_TOKEN_URL", handle.token_url())
            .env("CXSKILL_ACCESS_KEY_ID", &credentials.access_key_id)
            .env("CXSKILL_ACCESS_KEY_SECRET", &credentials.access_key_secret)
            .env("CXSKILL_CLIENT_ID", &credentials.client_id)
            .env("CXSKILL_CLIENT_SECRET", &credentials.client_secret)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

impl Drop for Rehearsal {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.runtime.block_on(handle.shutdown());
        }
    }
}

/// Runs the binary with no tenant configured: every `CXSKILL_*` variable
/// removed, then `env` set.
pub fn cxskill_unconfigured(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = isolated_command(args);
    command.envs(env.iter().copied());
    command.output().expect("run cxskill")
}

/// The binary with no `CXSKILL_*` variable from the developer's
/// environment and no config file: `XDG_CONFIG_HOME` points at a
/// directory that does not exist, so `~/.config/cxskill` is never read.
/// Tests that want a config file set `XDG_CONFIG_HOME` themselves.
pub fn isolated_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cxskill"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CXSKILL_") {
            command.env_remove(key);
        }
    }
    let nowhere = std::env::temp_dir().join(format!(
        "cxskill-test-no-config-{}",
        uuid::Uuid::new_v4().simple()
    ));
    command.env("XDG_CONFIG_HOME", nowhere);
    command
}

/// The arguments with a rate and concurrency that keep tests quick (the
/// sandbox has no limit unless a test sets one).
pub fn fast<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(["--rate", "2000", "--concurrency", "4"]);
    all
}

/// stdout as the one JSON document `--output json` promises.
pub fn report_json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\n{}",
            stdout(output),
            stderr(output)
        )
    })
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A temporary directory removed at drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "cxskill-test-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn file(&self, name: &str, contents: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path.to_string_lossy().into_owned()
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).expect("read file")
}

/// What examples/roster.csv asks of the embedded tenant, keyed by agentId.
/// Any change to the example files must be reflected here.
pub fn example_target(
    before: &BTreeMap<(u64, u64), (i64, bool)>,
) -> BTreeMap<(u64, u64), (i64, bool)> {
    let mut after = before.clone();
    let set = |after: &mut BTreeMap<_, _>, agent: u64, skill: u64, p: i64, active: Option<bool>| {
        let current: Option<&(i64, bool)> = after.get(&(agent, skill));
        let active = active.unwrap_or_else(|| current.is_none_or(|c| c.1));
        after.insert((agent, skill), (p, active));
    };
    set(&mut after, 1001, 112233, 3, None);
    set(&mut after, 1001, 445566, 3, None);
    after.remove(&(1001, 778899));
    set(&mut after, 1002, 112233, 5, Some(true));
    set(&mut after, 1002, 112234, 4, Some(true));
    set(&mut after, 1005, 112234, 2, None);
    set(&mut after, 1005, 445566, 8, None);
    set(&mut after, 1003, 556677, 1, None);
    set(&mut after, 1003, 667788, 6, None);
    set(&mut after, 1004, 556677, 12, None);
    set(&mut after, 1004, 112233, 15, Some(false));
    set(&mut after, 1006, 445566, 4, None);
    set(&mut after, 1006, 667788, 2, None);
    set(&mut after, 1007, 778899, 3, None);
    set(&mut after, 1007, 112233, 7, None);
    set(&mut after, 1008, 445566, 10, None);
    set(&mut after, 1008, 667788, 9, None);
    set(&mut after, 1009, 556677, 4, None);
    set(&mut after, 1009, 778899, 11, None);
    set(&mut after, 1010, 112233, 6, None);
    set(&mut after, 1010, 556677, 8, None);
    set(&mut after, 1011, 778899, 1, None);
    set(&mut after, 1011, 445566, 14, None);
    set(&mut after, 1012, 112234, 3, None);
    set(&mut after, 1012, 445566, 5, None);
    after
}

impl Rehearsal {
    /// API requests by method and endpoint template
    /// (`"POST /agents/{id}/skills"` → 3), from the sandbox's log.
    pub fn endpoints(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for r in self.requests() {
            let Some(path) = r.path.strip_prefix("/inContactAPI/services/v34.0") else {
                continue;
            };
            let template: Vec<&str> = path
                .split('/')
                .map(|part| {
                    if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
                        "{id}"
                    } else {
                        part
                    }
                })
                .collect();
            *counts
                .entry(format!("{} {}", r.method, template.join("/")))
                .or_default() += 1;
        }
        counts
    }

    /// Requests that read assignments or write: the ones the request
    /// economy counts (not the token, discovery, or the agent and skill
    /// catalogues).
    pub fn counted(&self) -> u64 {
        self.endpoints()
            .into_iter()
            .filter(|(e, _)| e != "GET /agents" && e != "GET /skills")
            .map(|(_, n)| n)
            .sum()
    }
}
