//! Secrets a server echoes back are never shown: a token endpoint that
//! quotes the request form and the `Authorization: Basic` header in its
//! refusal, an API that quotes the bearer token in a row's `error`, in a
//! whole-request 400, in a 500, or in a field it types wrongly. Whatever
//! the verbosity, none of the secrets, in any of the forms they travel
//! in, reaches stdout, stderr, `--report` or `--failed-rows`.

mod common;
mod stub;

use std::process::Output;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use common::{TempDir, cxskill_unconfigured, read, stderr, stdout};
use serde_json::{Value, json};
use stub::{ROOT, Stub};

const KEY_ID: &str = "echo-access-key";
const KEY_SECRET: &str = "S3cr3t/With+Odd=Chars!";
const CLIENT_ID: &str = "echo-client";
const CLIENT_SECRET: &str = "Cl1ent/S3cret+Odd=Chars!";
/// The access token the stub issues: no `Bearer` in front of it when a
/// server quotes it bare.
const TOKEN: &str = "tok.Echo-Me_7f3a9c2e5b1d";

/// Every form a secret travels or may be echoed in: plain, form-encoded
/// (as the token request sends it), base64 (standard and URL-safe), and
/// the HTTP Basic pair.
fn forbidden() -> Vec<String> {
    let mut forms = Vec::new();
    for secret in [KEY_SECRET, CLIENT_SECRET, TOKEN] {
        forms.push(secret.to_owned());
        forms.push(form_urlencoded::byte_serialize(secret.as_bytes()).collect());
        forms.push(STANDARD.encode(secret));
        forms.push(URL_SAFE.encode(secret));
        forms.push(URL_SAFE_NO_PAD.encode(secret));
    }
    forms.push(STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    forms
}

/// What a server quotes back: the raw request body, the Authorization
/// header, the secrets decoded, and the token bare.
fn echo(headers: &HeaderMap, body: &[u8]) -> String {
    format!("{}; token {TOKEN}", echo_request(headers, body))
}

/// What a token endpoint quotes back: the request, and the secrets
/// decoded (not the token, which the client never got from it).
fn echo_request(headers: &HeaderMap, body: &[u8]) -> String {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(none)");
    format!(
        "you sent Authorization: {authorization}; body {}; key {KEY_SECRET}; client {CLIENT_SECRET}",
        String::from_utf8_lossy(body)
    )
}

fn env(base: &str, token_auth: &str) -> Vec<(String, String)> {
    [
        ("CXSKILL_API_BASE", base.to_owned()),
        ("CXSKILL_TOKEN_URL", format!("{base}/auth/token")),
        ("CXSKILL_ACCESS_KEY_ID", KEY_ID.to_owned()),
        ("CXSKILL_ACCESS_KEY_SECRET", KEY_SECRET.to_owned()),
        ("CXSKILL_CLIENT_ID", CLIENT_ID.to_owned()),
        ("CXSKILL_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("CXSKILL_TOKEN_AUTH", token_auth.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The verbosities and formats every scenario is run at.
const LEVELS: [&[&str]; 6] = [
    &[],
    &["-v"],
    &["-vv"],
    &["-vvv"],
    &["-vvv", "--log-format", "json"],
    &["-vv", "--output", "json"],
];

/// Runs `args` at every verbosity, with `--report` and `--failed-rows`
/// when `records`, and asserts no form of any secret shows anywhere.
/// Returns the exit codes and everything that was shown.
fn nothing_shown(base: &str, token_auth: &str, args: &[&str], records: bool) -> (Vec<i32>, String) {
    let env = env(base, token_auth);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let forbidden = forbidden();
    let mut codes = Vec::new();
    let mut everything = String::new();
    for level in LEVELS {
        let dir = TempDir::new("echo");
        let report = dir.path("report.json");
        let failed = dir.path("failed.csv");
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(level);
        if records {
            all.extend(["--report", &report, "--failed-rows", &failed]);
        }
        let out: Output = cxskill_unconfigured(&all, &env);
        codes.push(out.status.code().unwrap_or(-1));
        let mut shown = format!("{}\n{}", stdout(&out), stderr(&out));
        if records {
            for file in [&report, &failed] {
                if std::path::Path::new(file).exists() {
                    shown.push_str(&read(file));
                }
            }
        }
        for form in &forbidden {
            assert!(
                !shown.contains(form.as_str()),
                "`{form}` shown by {all:?}:\n{shown}"
            );
        }
        assert!(
            !shown.to_ascii_lowercase().contains("bearer tok"),
            "{all:?}:\n{shown}"
        );
        everything.push_str(&shown);
    }
    (codes, everything)
}

// --- (a) A token endpoint that quotes the request ------------------------------

/// A token endpoint that refuses every request with 400 and an
/// `error_description` quoting it.
fn echoing_issuer() -> Stub {
    Stub::start(Router::new().route(
        "/auth/token",
        post(|headers: HeaderMap, body: axum::body::Bytes| async move {
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({
                    "error": "invalid_request",
                    "error_description": echo_request(&headers, &body),
                })),
            )
        }),
    ))
}

#[test]
fn a_token_refusal_quoting_the_form_and_the_basic_header_is_scrubbed() {
    let issuer = echoing_issuer();
    for token_auth in ["body", "basic"] {
        for args in [
            &["auth", "check"][..],
            &["plan", "examples/roster.csv"][..],
            &["apply", "--yes", "examples/roster.csv"][..],
        ] {
            let records = args[0] != "auth";
            let (codes, shown) = nothing_shown(&issuer.base(), token_auth, args, records);
            assert!(
                codes.iter().all(|&c| c == 3),
                "{args:?}: {codes:?}\n{shown}"
            );
            assert!(shown.contains("invalid_request"), "{shown}");
            assert!(shown.contains("(redacted)"), "{shown}");
        }
    }
    // The stub did get what it quotes: the secrets in the form, and the
    // client as HTTP Basic.
    let seen = issuer.seen();
    let encoded: String = form_urlencoded::byte_serialize(KEY_SECRET.as_bytes()).collect();
    assert!(
        seen.iter()
            .any(|s| String::from_utf8_lossy(&s.body).contains(&encoded))
    );
    assert!(seen.iter().any(|s| {
        s.authorization.as_deref()
            == Some(
                format!(
                    "Basic {}",
                    STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
                )
                .as_str(),
            )
    }));
}

#[test]
fn a_token_endpoint_quoting_the_request_in_plain_text_or_a_bad_token_is_scrubbed() {
    // A 401 that is not OAuth JSON, and a 200 that is not a token because
    // a field quotes the secret where a number belongs.
    let issuer = Stub::start(Router::new().route(
        "/auth/token",
        post(|headers: HeaderMap, body: axum::body::Bytes| async move {
            if headers.contains_key(header::AUTHORIZATION) {
                json_answer(
                    StatusCode::OK,
                    json!({"access_token": TOKEN, "token_type": "Bearer",
                           "expires_in": KEY_SECRET, "refresh_token": CLIENT_SECRET}),
                )
            } else {
                (StatusCode::UNAUTHORIZED, echo_request(&headers, &body)).into_response()
            }
        }),
    ));
    for token_auth in ["body", "basic"] {
        for args in [&["auth", "check"][..], &["plan", "examples/roster.csv"][..]] {
            let records = args[0] != "auth";
            let (codes, shown) = nothing_shown(&issuer.base(), token_auth, args, records);
            assert!(
                codes.iter().all(|&c| c == 3),
                "{args:?}: {codes:?}\n{shown}"
            );
            if token_auth == "basic" {
                assert!(shown.contains("not with a token"), "{shown}");
            } else {
                assert!(shown.contains("401"), "{shown}");
            }
        }
    }
}

// --- (b) An API that quotes the bearer token in its answers --------------------

fn json_answer(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// Per-row answers for every row of a write body, each failing with the
/// request quoted.
fn failing_rows(body: &Value, reason: &str) -> Value {
    let mut rows = Vec::new();
    if let Some(skills) = body["skills"].as_array() {
        for skill in skills {
            rows.push(json!({"skillId": skill["skillId"], "success": false, "error": reason}));
        }
    }
    if let Some(items) = body["agentAndSkillDetails"].as_array() {
        for item in items {
            for agent in item["agentIds"].as_array().into_iter().flatten() {
                for entry in item["skills"].as_array().into_iter().flatten() {
                    for skill in entry["skillIds"].as_array().into_iter().flatten() {
                        rows.push(json!({"agentId": agent, "skillId": skill,
                                         "success": false, "error": reason}));
                    }
                }
            }
        }
    }
    json!({"resultSet": {"errorCount": rows.len(), "skillResults": rows}})
}

/// A 207 whose rows each quote the request.
async fn echoing_rows(headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let reason = echo(&headers, &body);
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    json_answer(StatusCode::MULTI_STATUS, failing_rows(&parsed, &reason))
}

/// A whole-request 400 quoting the request.
async fn echoing_400(headers: HeaderMap, body: axum::body::Bytes) -> Response {
    json_answer(
        StatusCode::BAD_REQUEST,
        json!({"error": "InvalidRequestBody", "error_description": echo(&headers, &body)}),
    )
}

/// One agent's own read, of the tenant below.
async fn agent_read(Path(agent): Path<u64>) -> Response {
    let rows: Vec<Value> = match agent {
        1 => vec![
            json!({"agentID_alt": 1, "skillId": 6, "agentProficiencyValue": 4, "isActive": true}),
        ],
        2 => vec![
            json!({"agentID_alt": 2, "skillId": 7, "agentProficiencyValue": 2, "isActive": true}),
            json!({"agentID_alt": 2, "skillId": 8, "agentProficiencyValue": 3, "isActive": true}),
        ],
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    json_answer(
        StatusCode::OK,
        json!({"totalRecords": rows.len(), "agentSkillAssignments": rows}),
    )
}

/// The tenant of the write scenarios: skills 5..=9; agent 1 holds 6 (at
/// 4); agent 2 holds 7 (at 2) and 8 (at 3). Token requests get `TOKEN`.
/// `agent_writes` answers `/agents/{id}/skills`, `upsert` the bulk write.
fn tenant(agent_writes: MethodRouter, upsert: MethodRouter) -> Router {
    Router::new()
        .route(
            "/auth/token",
            post(|| async {
                axum::Json(json!({"access_token": TOKEN, "token_type": "Bearer",
                                  "expires_in": 3600, "refresh_token": "refresh-Echo-Me-2"}))
            }),
        )
        .route(
            &format!("{ROOT}/skills"),
            get(|| async {
                let skills: Vec<Value> = (5..=9)
                    .map(|id| json!({"skillId": id, "skillName": format!("Skill {id}"), "isActive": true}))
                    .collect();
                axum::Json(json!({"totalRecords": skills.len(), "skills": skills}))
            }),
        )
        .route(
            &format!("{ROOT}/agents"),
            get(|| async {
                axum::Json(json!({"totalRecords": 2, "agents": [
                    {"agentId": 1, "firstName": "Ada", "lastName": "One", "isActive": true},
                    {"agentId": 2, "firstName": "Bo", "lastName": "Two", "isActive": true}]}))
            }),
        )
        .route(
            &format!("{ROOT}/skills/agents"),
            get(|| async {
                axum::Json(json!({"businessUnitId": 1, "agentSkillAssignments": [
                    {"agentId": 1, "skillId": 6, "agentProficiencyValue": 4, "isActive": true},
                    {"agentId": 2, "skillId": 7, "agentProficiencyValue": 2, "isActive": true},
                    {"agentId": 2, "skillId": 8, "agentProficiencyValue": 3, "isActive": true}]}))
            }),
        )
        .route(
            &format!("{ROOT}/agents/skills"),
            upsert.get(|| async {
                axum::Json(json!({"totalRecords": 3, "businessUnitId": "1", "agentSkillAssignments": [
                    {"agentId": 1, "skillId": 6, "agentProficiencyValue": 4, "isActive": true},
                    {"agentId": 2, "skillId": 7, "agentProficiencyValue": 2, "isActive": true},
                    {"agentId": 2, "skillId": 8, "agentProficiencyValue": 3, "isActive": true}]}))
            }),
        )
        .route(
            &format!("{ROOT}/agents/{{id}}/skills"),
            agent_writes.get(agent_read),
        )
}

/// Writes of every kind: an upsert (1, 5 at 3), a per-agent POST (1, 9
/// at 12), a DELETE (1, 6) and a full-set PUT (2, 7 at 15, carrying 8).
const ROSTER: &str = "agent,skill,proficiency\n1,5,3\n1,9,12\n1,6,remove\n2,7,15\n";

#[test]
fn write_answers_quoting_the_bearer_token_in_rows_and_in_a_400_are_scrubbed() {
    let stub = Stub::start(tenant(
        post(echoing_rows).put(echoing_rows).delete(echoing_400),
        post(echoing_rows),
    ));
    let dir = TempDir::new("echo-roster");
    let roster = dir.file("r.csv", ROSTER);
    let (codes, shown) = nothing_shown(&stub.base(), "body", &["apply", "--yes", &roster], true);
    assert!(codes.iter().all(|&c| c == 1), "{codes:?}\n{shown}");
    assert!(
        shown.contains("InvalidRequestBody"),
        "the 400 is reported:\n{shown}"
    );
    assert!(
        shown.contains("you sent Authorization"),
        "the rows are reported:\n{shown}"
    );
    assert!(shown.contains("(redacted)"), "{shown}");
    // The PUT's row for skill 8, which the roster does not name, is a
    // warning: quoted too.
    assert!(
        shown.contains("agent 2 skill 8: the tenant refused this assignment"),
        "{shown}"
    );
    // Each kind of write was sent and answered with the echo.
    let writes: Vec<String> = stub
        .writes()
        .iter()
        .map(|w| format!("{} {}", w.method, w.path))
        .collect();
    for kind in [
        format!("POST {ROOT}/agents/skills"),
        format!("POST {ROOT}/agents/1/skills"),
        format!("DELETE {ROOT}/agents/1/skills"),
        format!("PUT {ROOT}/agents/2/skills"),
    ] {
        assert!(writes.contains(&kind), "no {kind}: {writes:?}");
    }
    assert!(
        stub.writes()
            .iter()
            .all(|w| w.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")))
    );
}

// --- (c) A 500 quoting the Authorization header --------------------------------

async fn echoing_500(headers: HeaderMap, body: axum::body::Bytes) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        // Retry at once: the test does not wait out a backoff.
        [(header::RETRY_AFTER, "0")],
        echo(&headers, &body),
    )
        .into_response()
}

#[test]
fn a_500_quoting_the_authorization_header_is_scrubbed_on_reads_and_writes() {
    // A read the plan needs: exit 3.
    let reads = Stub::start(
        Router::new()
            .route(
                "/auth/token",
                post(|| async {
                    axum::Json(
                        json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}),
                    )
                }),
            )
            .route(&format!("{ROOT}/skills"), get(echoing_500)),
    );
    let (codes, shown) = nothing_shown(
        &reads.base(),
        "body",
        &["plan", "examples/roster.csv"],
        true,
    );
    assert!(codes.iter().all(|&c| c == 3), "{codes:?}\n{shown}");
    assert!(shown.contains("500 Internal Server Error"), "{shown}");
    assert!(shown.contains("(redacted)"), "{shown}");

    // Writes: every one answered 500.
    let writes = Stub::start(tenant(
        post(echoing_500).put(echoing_500).delete(echoing_500),
        post(echoing_500),
    ));
    let dir = TempDir::new("echo-500");
    let roster = dir.file("r.csv", ROSTER);
    let (codes, shown) = nothing_shown(&writes.base(), "body", &["apply", "--yes", &roster], true);
    assert!(
        codes.iter().all(|&c| c == 1 || c == 3),
        "{codes:?}\n{shown}"
    );
    assert!(shown.contains("500"), "{shown}");
    assert!(shown.contains("(redacted)"), "{shown}");
    // Each kind of write was sent, with the token the 500 quotes.
    let sent: Vec<String> = writes
        .writes()
        .iter()
        .map(|w| format!("{} {}", w.method, w.path))
        .collect();
    for kind in [
        format!("POST {ROOT}/agents/skills"),
        format!("POST {ROOT}/agents/1/skills"),
        format!("DELETE {ROOT}/agents/1/skills"),
        format!("PUT {ROOT}/agents/2/skills"),
    ] {
        assert!(sent.contains(&kind), "no {kind}: {sent:?}");
    }
    assert!(
        writes
            .writes()
            .iter()
            .all(|w| w.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")))
    );
}

// --- (d) A read quoting the token where it types a field wrongly ---------------

#[test]
fn a_read_quoting_the_token_in_a_wrongly_typed_field_is_scrubbed() {
    // The plan's read names the agent by the token, as a string where an
    // id belongs: the decode error quotes the value.
    let stub = Stub::start(
        Router::new()
            .route(
                "/auth/token",
                post(|| async {
                    axum::Json(
                        json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}),
                    )
                }),
            )
            .route(
                &format!("{ROOT}/skills"),
                get(|| async {
                    axum::Json(json!({"totalRecords": 1, "skills": [
                        {"skillId": 5, "skillName": "Sales", "isActive": true}]}))
                }),
            )
            .route(
                &format!("{ROOT}/skills/agents"),
                get(|| async {
                    axum::Json(json!({"agentSkillAssignments": [
                        {"agentId": format!("Bearer {TOKEN} {KEY_SECRET}"), "skillId": 5,
                         "agentProficiencyValue": CLIENT_SECRET, "isActive": true}]}))
                }),
            ),
    );
    let dir = TempDir::new("echo-decode");
    let roster = dir.file("r.csv", "agent,skill,proficiency\n1,5,4\n");
    let (codes, shown) = nothing_shown(&stub.base(), "body", &["plan", &roster], true);
    assert!(codes.iter().all(|&c| c == 3), "{codes:?}\n{shown}");
    assert!(shown.contains("unexpected answer"), "{shown}");
}
