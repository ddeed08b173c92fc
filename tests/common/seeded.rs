//! Seeded tenants, rosters of known shape, and an in-process connection
//! to a sandbox, shared by the integration tests and
//! `examples/bench_requests.rs` (which includes this file by path), so a
//! benchmark measures the same tenants the tests prove.

#![allow(dead_code)]

use std::collections::BTreeMap;

use std::time::Duration;

use cxskill::config::{Connection, DEFAULT_MAX_ANSWER_BYTES, RetryPolicy};
use cxskill::sandbox::{SandboxHandle, Tenant};

/// A library client's connection to a sandbox, through discovery as
/// against a real tenant.
pub fn connection(handle: &SandboxHandle, rate: f64, concurrency: usize) -> Connection {
    Connection {
        api_base: None,
        api_version: "v34.0".to_owned(),
        token_url: handle.token_url(),
        credentials: handle.client_credentials(),
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        rate,
        concurrency,
        retry: RetryPolicy::default(),
        max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
    }
}

/// The skills of a seeded tenant: ids 100001..=100020.
pub const SEEDED_SKILLS: u64 = 20;

pub fn seeded_skill(n: u64) -> u64 {
    100_000 + n
}

/// (agentId, skillId) → (proficiency, active).
pub type State = BTreeMap<(u64, u64), (i64, bool)>;

/// A seeded tenant's assignments: agents 1..=`agents`, each holding 5 of
/// the 20 skills at random levels 1..=20, all active.
pub fn seeded_state(agents: u64, seed: u64) -> State {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut state = State::new();
    for agent in 1..=agents {
        let mut skills: Vec<u64> = (1..=SEEDED_SKILLS).map(seeded_skill).collect();
        rng.shuffle(&mut skills);
        for &s in &skills[..5] {
            state.insert((agent, s), (i64::from(rng.u8(1..=20)), true));
        }
    }
    state
}

/// The tenant holding `state`, with `agents` agents (ids 1..) and the 20
/// seeded skills, in the format of examples/tenant.json. `inactive_agents`
/// are marked inactive.
pub fn tenant_of(state: &State, agents: u64, inactive_agents: &[u64]) -> Tenant {
    Tenant::from_json(&tenant_json(state, agents, inactive_agents)).expect("a valid seeded tenant")
}

/// [`tenant_of`] as the JSON of a tenant file, for a sandbox started as a
/// separate process.
pub fn tenant_json(state: &State, agents: u64, inactive_agents: &[u64]) -> String {
    let mut out = String::from(
        r#"{"accessKeys": [{"accessKeyId": "test-key", "accessKeySecret": "test-key-secret", "readOnly": false}],
"clients": [{"clientId": "test-client", "clientSecret": "test-client-secret"}], "agents": ["#,
    );
    for id in 1..=agents {
        let comma = if id > 1 { "," } else { "" };
        let active = !inactive_agents.contains(&id);
        out.push_str(&format!(
            r#"{comma}{{"agentId": {id}, "userId": "{id:08x}-0000-4000-8000-{id:012x}", "userName": "agent{id}@test.example", "emailAddress": "agent{id}@test.example", "firstName": "Agent", "lastName": "{id}", "isActive": {active}}}"#
        ));
    }
    out.push_str(r#"], "skills": ["#);
    for n in 1..=SEEDED_SKILLS {
        let comma = if n > 1 { "," } else { "" };
        out.push_str(&format!(
            r#"{comma}{{"skillId": {}, "skillName": "Skill {n}", "isActive": true}}"#,
            seeded_skill(n)
        ));
    }
    out.push_str(r#"], "assignments": ["#);
    for (i, ((a, s), (p, active))) in state.iter().enumerate() {
        let comma = if i > 0 { "," } else { "" };
        out.push_str(&format!(
            r#"{comma}{{"agentId": {a}, "skillId": {s}, "proficiency": {p}, "isActive": {active}}}"#
        ));
    }
    out.push_str("]}");
    out
}

/// A roster row: agent, skill, proficiency (`None`: remove).
pub type Row = (u64, u64, Option<i64>);

pub fn roster_csv(rows: &[Row]) -> String {
    let mut csv = String::from("agent,skill,proficiency\n");
    for &(a, s, p) in rows {
        match p {
            Some(p) => csv.push_str(&format!("{a},{s},{p}\n")),
            None => csv.push_str(&format!("{a},{s},remove\n")),
        }
    }
    csv
}

/// The state a roster asks for, from `before` (a new assignment is
/// active; a changed one keeps its flag).
pub fn roster_target(before: &State, rows: &[Row]) -> State {
    let mut after = before.clone();
    for &(a, s, p) in rows {
        match p {
            Some(p) => {
                let active = before.get(&(a, s)).is_none_or(|(_, active)| *active);
                after.insert((a, s), (p, active));
            }
            None => {
                after.remove(&(a, s));
            }
        }
    }
    after
}
