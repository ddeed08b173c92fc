//! The sandbox tenant, checked from the outside: each test starts its own
//! sandbox on 127.0.0.1:0 and talks to it with a plain reqwest client over
//! loopback, never through cxskill's own client, so the sandbox is
//! verified independently of the code it is meant to test.
//!
//! What "as published" means is decided by the vendored reference
//! (`tests/fixtures/cxone-admin-skills.openapi.json`) through the checker
//! in `tests/schema/`, not by cxskill's `wire` types: every answer of every
//! endpoint is checked against it, and so are the hand-written fixtures of
//! `tests/fixtures/rev2/` that the client's tests decode too.

mod schema;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cxskill::sandbox::{self, PutSemantics, SandboxHandle, SandboxOptions, Tenant, TenantEdit};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use schema::{Reference, assert_conforms};

const TOKEN: &str = "test-preissued-token";
const ANY_PORT: &str = "127.0.0.1:0";

const JANE: u64 = 1001;
const JANE_UUID: &str = "6513270e-269e-4d37-b2a7-4de452e6b438";
const OMAR: u64 = 1002;
const LUKAS_UUID_UPPER: &str = "36F675CC-81E7-4EF5-A8E2-5D940ED90475";
const LUKAS: u64 = 1004;
const BILLING_EN: u64 = 112233;
const BILLING_ES: u64 = 112234;
const SALES: u64 = 445566;
const TECH: u64 = 556677;
const RETENTION: u64 = 667788;
const CHAT_FR: u64 = 778899;

/// A small tenant with an inactive skill, which the embedded one lacks.
const TENANT_WITH_INACTIVE_SKILL: &str = r#"{
  "accessKeys": [{"accessKeyId": "k", "accessKeySecret": "s"}],
  "clients": [{"clientId": "c", "clientSecret": "cs"}],
  "agents": [
    {"agentId": 1, "userId": "11111111-1111-4111-8111-111111111111", "userName": "a@x.example"},
    {"agentId": 2, "userId": "22222222-2222-4222-8222-222222222222", "userName": "b@x.example"}
  ],
  "skills": [
    {"skillId": 10, "skillName": "Live"},
    {"skillId": 90, "skillName": "Legacy IVR", "isActive": false}
  ],
  "assignments": [
    {"agentId": 1, "skillId": 90, "proficiency": 5, "isActive": true}
  ]
}"#;

/// A tenant with one of each inactive kind: agent 3 is inactive, skill 90
/// is inactive, and agent 1's assignment of skill 20 is inactive.
const TENANT_WITH_EVERY_INACTIVE_KIND: &str = r#"{
  "tenantId": "0b9c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d",
  "businessUnitId": 77,
  "accessKeys": [{"accessKeyId": "k", "accessKeySecret": "s"}],
  "clients": [{"clientId": "c", "clientSecret": "cs"}],
  "agents": [
    {"agentId": 1, "userId": "11111111-1111-4111-8111-111111111111", "userName": "a@x.example", "firstName": "Ada", "lastName": "One"},
    {"agentId": 2, "userId": "22222222-2222-4222-8222-222222222222", "userName": "b@x.example"},
    {"agentId": 3, "userId": "33333333-3333-4333-8333-333333333333", "userName": "c@x.example", "isActive": false}
  ],
  "skills": [
    {"skillId": 10, "skillName": "Live"},
    {"skillId": 20, "skillName": "Second", "mediaTypeId": 3},
    {"skillId": 90, "skillName": "Legacy IVR", "isActive": false}
  ],
  "assignments": [
    {"agentId": 1, "skillId": 10, "proficiency": 3},
    {"agentId": 1, "skillId": 20, "proficiency": 4, "isActive": false},
    {"agentId": 1, "skillId": 90, "proficiency": 5},
    {"agentId": 2, "skillId": 10, "proficiency": 2},
    {"agentId": 3, "skillId": 10, "proficiency": 6}
  ]
}"#;

fn options() -> SandboxOptions {
    SandboxOptions {
        preissued_token: Some(TOKEN.to_owned()),
        ..SandboxOptions::default()
    }
}

async fn start_with(tenant: Tenant, options: SandboxOptions) -> SandboxHandle {
    let listen: SocketAddr = ANY_PORT.parse().unwrap();
    sandbox::start(listen, tenant, options).await.unwrap()
}

async fn start(options: SandboxOptions) -> SandboxHandle {
    start_with(Tenant::embedded(), options).await
}

fn client() -> Client {
    // No proxy: a proxy from the environment must not see loopback tests.
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// An authenticated JSON call against the API root; answers status and
/// body (`Value::Null` when the body is not JSON).
async fn call(
    sb: &SandboxHandle,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client()
        .request(method, format!("{}{path}", sb.api_root()))
        .bearer_auth(TOKEN)
        .header("Accept", "application/json");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get(sb: &SandboxHandle, path: &str) -> (StatusCode, Value) {
    call(sb, Method::GET, path, None).await
}

/// A write with a raw body and a chosen Content-Type.
async fn raw(
    sb: &SandboxHandle,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, String) {
    let mut request = client()
        .request(method, format!("{}{path}", sb.api_root()))
        .bearer_auth(TOKEN)
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// An authenticated call that keeps the headers and takes the body as
/// JSON when it is JSON (`Value::Null` for an empty body).
async fn send(
    sb: &SandboxHandle,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value, String) {
    let mut request = client()
        .request(method, format!("{}{path}", sb.api_root()))
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, headers, value, text)
}

/// The (agentId, skillId) of every row of an assignments answer.
fn agent_skill_pairs(body: &Value) -> Vec<(u64, u64)> {
    body["agentSkillAssignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["agentId"].as_u64().unwrap(),
                a["skillId"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The tenant's current (proficiency, isActive) for one pair.
fn held(sb: &SandboxHandle, agent: u64, skill: u64) -> Option<(i64, bool)> {
    sb.assignments()
        .iter()
        .find(|a| a.agent_id == agent && a.skill_id == skill)
        .map(|a| (i64::from(a.proficiency), a.is_active))
}

fn skills_of(sb: &SandboxHandle, agent: u64) -> Vec<u64> {
    sb.assignments()
        .iter()
        .filter(|a| a.agent_id == agent)
        .map(|a| a.skill_id)
        .collect()
}

fn skills_path(agent: impl std::fmt::Display) -> String {
    format!("/agents/{agent}/skills")
}

async fn exchange(sb: &SandboxHandle, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = client()
        .post(sb.token_url())
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

fn password_grant<'a>(
    key: &'a str,
    secret: &'a str,
    client_id: &'a str,
    client_secret: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "password"),
        ("username", key),
        ("password", secret),
        ("client_id", client_id),
        ("client_secret", client_secret),
    ]
}

async fn get_with_token(sb: &SandboxHandle, token: &str, path: &str) -> StatusCode {
    client()
        .get(format!("{}{path}", sb.api_root()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

// --- authentication ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn token_exchange_with_sandbox_credentials_returns_a_working_bearer_token() {
    let sb = start(SandboxOptions::default()).await;
    let c = sb.credentials();
    assert_eq!(c.access_key_id, "sandbox-access-key");
    let form = password_grant(
        &c.access_key_id,
        &c.access_key_secret,
        &c.client_id,
        &c.client_secret,
    );
    let (status, body) = exchange(&sb, &form).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(get_with_token(&sb, token, "/agents").await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn token_refusals_are_400_invalid_grant_for_the_key_and_invalid_client_for_the_client() {
    let sb = start(SandboxOptions::default()).await;
    let c = sb.credentials();
    for (form, error) in [
        (
            password_grant(&c.access_key_id, "wrong", &c.client_id, &c.client_secret),
            "invalid_grant",
        ),
        (
            password_grant(
                "nobody",
                &c.access_key_secret,
                &c.client_id,
                &c.client_secret,
            ),
            "invalid_grant",
        ),
        (
            password_grant(
                &c.access_key_id,
                &c.access_key_secret,
                &c.client_id,
                "wrong",
            ),
            "invalid_client",
        ),
        (
            password_grant(
                &c.access_key_id,
                &c.access_key_secret,
                "nobody",
                &c.client_secret,
            ),
            "invalid_client",
        ),
        (
            password_grant(
                &c.access_key_id,
                &c.access_key_secret,
                "sandbox-code-flow-only",
                "sandbox-code-flow-secret",
            ),
            "unauthorized_client",
        ),
    ] {
        let (status, body) = exchange(&sb, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(body["error"], error);
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn token_exchange_needs_the_password_grant_as_a_form() {
    let sb = start(SandboxOptions::default()).await;
    let c = sb.credentials();
    let mut form = password_grant(
        &c.access_key_id,
        &c.access_key_secret,
        &c.client_id,
        &c.client_secret,
    );
    form[0] = ("grant_type", "client_credentials");
    let (status, body) = exchange(&sb, &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");

    let (status, body) = exchange(&sb, &form[1..]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("grant_type")
    );

    let response = client()
        .post(sb.token_url())
        .json(&json!({"grant_type": "password", "username": c.access_key_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_unknown_or_malformed_token_is_401_invalid_token() {
    let sb = start(options()).await;
    let url = format!("{}/agents", sb.api_root());
    let requests = [
        client().get(&url),
        client().get(&url).bearer_auth("not-a-token"),
        client().get(&url).header("Authorization", TOKEN),
        client()
            .get(&url)
            .basic_auth("sandbox-access-key", Some("sandbox-access-secret")),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key("www-authenticate"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"error": "invalid_token"}));
    }
    assert_eq!(get_with_token(&sb, TOKEN, "/agents").await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn exchanged_token_stops_working_after_its_ttl() {
    let sb = start(SandboxOptions {
        token_ttl: Duration::from_millis(500),
        ..SandboxOptions::default()
    })
    .await;
    let c = sb.credentials();
    let form = password_grant(
        &c.access_key_id,
        &c.access_key_secret,
        &c.client_id,
        &c.client_secret,
    );
    let (_, body) = exchange(&sb, &form).await;
    assert_eq!(
        body["expires_in"], 1,
        "a sub-second TTL is announced as 1 s"
    );
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(get_with_token(&sb, &token, "/skills").await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        get_with_token(&sb, &token, "/skills").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expire_tokens_revokes_every_token_and_a_new_exchange_works() {
    let sb = start(options()).await;
    let c = sb.credentials();
    let form = password_grant(
        &c.access_key_id,
        &c.access_key_secret,
        &c.client_id,
        &c.client_secret,
    );
    let (_, body) = exchange(&sb, &form).await;
    let exchanged = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        get_with_token(&sb, &exchanged, "/agents").await,
        StatusCode::OK
    );

    sb.expire_tokens();
    assert_eq!(
        get_with_token(&sb, &exchanged, "/agents").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get_with_token(&sb, TOKEN, "/agents").await,
        StatusCode::UNAUTHORIZED
    );

    let (_, body) = exchange(&sb, &form).await;
    let fresh = body["access_token"].as_str().unwrap();
    assert_ne!(fresh, exchanged);
    assert_eq!(get_with_token(&sb, fresh, "/agents").await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_access_key_reads_but_writing_is_403_insufficient_scope() {
    let sb = start(SandboxOptions::default()).await;
    let c = sb.credentials();
    let form = password_grant(
        "sandbox-readonly-key",
        "sandbox-readonly-secret",
        &c.client_id,
        &c.client_secret,
    );
    let (status, body) = exchange(&sb, &form).await;
    assert_eq!(status, StatusCode::OK);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        get_with_token(&sb, token, &skills_path(JANE)).await,
        StatusCode::OK
    );

    let before = sb.assignments().len();
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let response = client()
            .request(method, format!("{}{}", sb.api_root(), skills_path(LUKAS)))
            .bearer_auth(token)
            .json(&json!({"skills": [{"skillId": SALES, "proficiency": 5, "isActive": true}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "insufficient_scope");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("read-only")
        );
    }
    assert_eq!(sb.assignments().len(), before);
}

// --- reads ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn list_agents_pages_with_top_and_skip_and_spells_user_id_upper_case() {
    let sb = start(options()).await;
    let (status, body) = get(&sb, "/agents").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalRecords"], 12);
    let agents = body["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 12);
    assert_eq!(agents[0]["agentId"], JANE);
    assert_eq!(agents[0]["userID"], JANE_UUID);
    assert_eq!(agents[0]["emailAddress"], "jane.doe@acme.example");
    assert_eq!(agents[0]["isActive"], true);

    let (_, page) = get(&sb, "/agents?top=5&skip=10").await;
    assert_eq!(page["totalRecords"], 12);
    let ids: Vec<u64> = page["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agentId"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![1011, 1012]);
}

#[tokio::test(flavor = "multi_thread")]
async fn search_string_matches_agent_names_and_email_case_insensitively() {
    let sb = start(options()).await;
    for (search, expected) in [
        ("haddad", OMAR),
        ("JANE.DOE@", JANE),
        ("lukas becker", LUKAS),
    ] {
        let (_, body) = get(
            &sb,
            &format!("/agents?searchString={}", search.replace(' ', "%20")),
        )
        .await;
        assert_eq!(body["totalRecords"], 1, "{search}");
        assert_eq!(body["agents"][0]["agentId"], expected, "{search}");
    }
    let (_, body) = get(&sb, "/agents?searchString=zzz").await;
    assert_eq!(body["totalRecords"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_skills_pages_and_searches_by_name() {
    let sb = start(options()).await;
    let (status, body) = get(&sb, "/skills").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalRecords"], 6);
    assert_eq!(
        body["skills"][0],
        json!({"skillId": BILLING_EN, "skillName": "Billing EN", "mediaTypeId": 4,
               "mediaTypeName": "Phone Call", "isActive": true})
    );

    let (_, body) = get(&sb, "/skills?searchString=billing&top=1&skip=1").await;
    assert_eq!(body["totalRecords"], 2);
    assert_eq!(body["skills"].as_array().unwrap().len(), 1);
    assert_eq!(body["skills"][0]["skillId"], BILLING_ES);
}

#[tokio::test(flavor = "multi_thread")]
async fn top_above_10000_or_not_a_number_is_400() {
    let sb = start(options()).await;
    for path in [
        "/agents?top=10001",
        "/skills?top=abc",
        "/agents/skills?top=0",
        "/agents?skip=-1",
    ] {
        let (status, body) = get(&sb, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(body["error"], "InvalidParameter", "{path}");
    }
    let (status, _) = get(&sb, "/agents?top=10000").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_agent_skills_read_the_same_by_agent_id_and_by_user_id_in_any_case() {
    let sb = start(options()).await;
    let (status, by_id) = get(&sb, &skills_path(JANE)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, by_uuid) = get(&sb, &skills_path(JANE_UUID)).await;
    let (_, by_upper) = get(&sb, &skills_path(JANE_UUID.to_uppercase())).await;
    let rows = |answer: &Value| answer["agentSkillAssignments"].clone();
    assert_eq!(rows(&by_id), rows(&by_uuid));
    assert_eq!(rows(&by_id), rows(&by_upper));

    assert_eq!(by_id["totalRecords"], 4);
    let first = &by_id["agentSkillAssignments"][0];
    assert_eq!(first["agentID_alt"], JANE);
    assert!(
        first.get("agentId").is_none(),
        "the one-agent read never spells agentId"
    );
    assert_eq!(first["userId"], JANE_UUID);
    assert_eq!(first["skillId"], BILLING_EN);
    assert_eq!(first["skillName"], "Billing EN");
    assert_eq!(first["agentProficiencyValue"], 3);
    assert_eq!(first["agentProficiencyName"], "3");
    assert_eq!(first["isActive"], true);
    assert_eq!(first["isSkillActive"], true);
    let updated = first["lastUpdateTime"].as_str().unwrap();
    assert!(
        updated.len() == 24
            && updated.ends_with('Z')
            && updated.as_bytes()[10] == b'T'
            && updated.as_bytes()[19] == b'.',
        "RFC 3339 UTC with milliseconds: {updated}"
    );

    let (status, empty) = get(&sb, &skills_path(LUKAS_UUID_UPPER)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty["totalRecords"], 0);
    assert_eq!(empty["agentSkillAssignments"], json!([]));
    assert!(empty["_links"].get("next").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_agent_in_path_is_404_not_found_for_every_method() {
    let sb = start(options()).await;
    let row = json!({"skills": [{"skillId": SALES, "proficiency": 5, "isActive": true}]});
    for agent in ["9999", "00000000-0000-4000-8000-000000000000"] {
        for (method, body) in [
            (Method::GET, None),
            (Method::POST, Some(row.clone())),
            (Method::PUT, Some(row.clone())),
            (Method::DELETE, Some(row.clone())),
        ] {
            let (status, body) = call(&sb, method.clone(), &skills_path(agent), body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {agent}");
            assert_eq!(body["error"], "NotFound");
            assert!(body["error_description"].as_str().unwrap().contains(agent));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_counts_post_put_and_delete_as_writes_not_head_or_options() {
    let sb = start(options()).await;
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        call(&sb, method, &skills_path(JANE), None).await;
    }
    let row = json!({"skills": [{"skillId": SALES, "proficiency": 5, "isActive": true}]});
    call(&sb, Method::PUT, &skills_path(JANE), Some(row)).await;
    let summary = sb.summary();
    assert!(
        summary.starts_with("served 4 requests (1 write);"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_agent_in_path_is_400() {
    let sb = start(options()).await;
    for agent in ["abc", "0", "6513270e269e4d37b2a74de452e6b438"] {
        let (status, body) = get(&sb, &skills_path(agent)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{agent}");
        assert_eq!(body["error"], "InvalidParameter");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn other_api_version_or_unknown_route_is_404() {
    let sb = start(options()).await;
    let response = client()
        .get(format!(
            "{}/inContactAPI/services/v33.0/agents",
            sb.api_base()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "NotFound");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("v34.0")
    );

    let (status, _) = get(&sb, "/teams").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_api_version_is_served_instead_of_the_default() {
    let sb = start(SandboxOptions {
        api_version: "v31.0".into(),
        ..options()
    })
    .await;
    assert!(sb.api_root().ends_with("/inContactAPI/services/v31.0"));
    let (status, _) = get(&sb, "/agents").await;
    assert_eq!(status, StatusCode::OK);
    let status = client()
        .get(format!(
            "{}/inContactAPI/services/v34.0/agents",
            sb.api_base()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn skills_agents_lists_assignments_of_known_skills_and_reports_invalid_ones() {
    let sb = start(options()).await;
    let (status, body) = get(
        &sb,
        &format!("/skills/agents?skills={BILLING_EN},999,{RETENTION}"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::PARTIAL_CONTENT,
        "some skills are invalid"
    );
    let pairs = agent_skill_pairs(&body);
    assert_eq!(
        pairs,
        vec![
            (JANE, BILLING_EN),
            (OMAR, BILLING_EN),
            (1006, RETENTION),
            (1007, BILLING_EN),
            (1009, RETENTION)
        ]
    );
    assert_eq!(body["agentSkillAssignments"][1]["isActive"], false);
    assert_eq!(body["agentSkillAssignments"][1]["agentProficiencyValue"], 5);
    assert_eq!(body["agentSkillAssignments"][1]["isAssigned"], true);
    assert_eq!(body["invalidSkills"], json!([{"skillId": 999}]));
    assert!(body.get("totalRecords").is_none(), "not paged");

    let (status, body) = get(&sb, &format!("/skills/agents?skills={RETENTION}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["invalidSkills"], json!([]));

    for bad in [
        "/skills/agents",
        "/skills/agents?skills=",
        "/skills/agents?skills=1,abc",
    ] {
        let (status, body) = get(&sb, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"], "InvalidParameter");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn all_assignments_are_paged_in_agent_then_skill_order() {
    let sb = start(options()).await;
    let (status, body) = get(&sb, "/agents/skills?top=3&skip=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["totalRecords"], 9,
        "Omar's inactive assignment is filtered out by the isActive=true default"
    );
    let pairs = agent_skill_pairs(&body);
    assert_eq!(pairs, vec![(JANE, TECH), (JANE, CHAT_FR), (1003, TECH)]);
    let row = &body["agentSkillAssignments"][0];
    assert_eq!(row["agentName"], "Jane Doe");
    assert!(row.get("userId").is_none(), "rows carry agentId only");
    assert_eq!(body["businessUnitId"], sb.business_unit_id().to_string());
}

// --- writes: per-row results -------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn post_assigns_new_skills_and_defaults_them_to_active() {
    let sb = start(options()).await;
    let body = json!({"skills": [
        {"skillId": TECH, "proficiency": 12},
        {"skillId": BILLING_EN, "proficiency": 15, "isActive": false}
    ]});
    let (status, answer) = call(
        &sb,
        Method::POST,
        &skills_path(LUKAS_UUID_UPPER),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer,
        json!({"resultSet": {"errorCount": 0, "skillResults": [
            {"skillId": TECH, "success": true},
            {"skillId": BILLING_EN, "success": true}
        ]}})
    );
    assert_eq!(held(&sb, LUKAS, TECH), Some((12, true)));
    assert_eq!(held(&sb, LUKAS, BILLING_EN), Some((15, false)));
}

#[tokio::test(flavor = "multi_thread")]
async fn post_of_an_assigned_skill_fails_that_row_and_the_other_rows_still_apply() {
    let sb = start(options()).await;
    let body = json!({"skills": [
        {"skillId": BILLING_EN, "proficiency": 1, "isActive": true},
        {"skillId": RETENTION, "proficiency": 6, "isActive": true}
    ]});
    let (status, answer) = call(&sb, Method::POST, &skills_path(JANE), Some(body)).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(answer["resultSet"]["errorCount"], 1);
    let rows = &answer["resultSet"]["skillResults"];
    assert_eq!(rows[0]["success"], false);
    assert!(
        rows[0]["error"]
            .as_str()
            .unwrap()
            .contains("already assigned")
    );
    assert_eq!(rows[1], json!({"skillId": RETENTION, "success": true}));
    assert_eq!(
        held(&sb, JANE, BILLING_EN),
        Some((3, true)),
        "the failed row changed nothing"
    );
    assert_eq!(held(&sb, JANE, RETENTION), Some((6, true)));
}

#[tokio::test(flavor = "multi_thread")]
async fn put_modifies_assigned_skills_and_fails_rows_for_unassigned_ones() {
    let sb = start(options()).await;
    let body = json!({"skills": [
        {"skillId": SALES, "proficiency": 3, "isActive": true},
        {"skillId": BILLING_ES, "proficiency": 4, "isActive": true},
        {"skillId": TECH, "proficiency": 5, "isActive": false}
    ]});
    let (status, answer) = call(&sb, Method::PUT, &skills_path(JANE), Some(body)).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(
        answer,
        json!({"resultSet": {"errorCount": 1, "skillResults": [
            {"skillId": SALES, "success": true},
            {"skillId": BILLING_ES, "success": false, "error": "Skill is not assigned to agent"},
            {"skillId": TECH, "success": true}
        ]}})
    );
    assert_eq!(held(&sb, JANE, SALES), Some((3, true)));
    assert_eq!(held(&sb, JANE, TECH), Some((5, false)));
    assert_eq!(held(&sb, JANE, BILLING_ES), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_removes_assignments_and_fails_rows_for_unassigned_skills() {
    let sb = start(options()).await;
    let body = json!({"skills": [{"skillId": CHAT_FR}, {"skillId": RETENTION}]});
    let (status, answer) = call(&sb, Method::DELETE, &skills_path(JANE), Some(body)).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(
        answer,
        json!({"resultSet": {"errorCount": 1, "skillResults": [
            {"skillId": CHAT_FR, "success": true},
            {"skillId": RETENTION, "success": false, "error": "Skill is not assigned to agent"}
        ]}})
    );
    assert_eq!(skills_of(&sb, JANE), vec![BILLING_EN, SALES, TECH]);

    let (status, answer) = call(
        &sb,
        Method::DELETE,
        &skills_path(JANE_UUID),
        Some(json!({"skills": [{"skillId": TECH}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["resultSet"]["errorCount"], 0);
    assert_eq!(skills_of(&sb, JANE), vec![BILLING_EN, SALES]);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_skill_fails_its_row_on_every_write() {
    let sb = start(options()).await;
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let body = json!({"skills": [{"skillId": 999_999, "proficiency": 2, "isActive": true}]});
        let (status, answer) = call(&sb, method.clone(), &skills_path(JANE), Some(body)).await;
        assert_eq!(status, StatusCode::MULTI_STATUS, "{method}");
        assert_eq!(
            answer["resultSet"]["skillResults"][0],
            json!({"skillId": 999_999, "success": false, "error": "Skill does not exist"}),
            "{method}"
        );
    }
    assert_eq!(sb.assignments().len(), 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn inactive_skill_fails_assign_and_change_but_not_an_unchanged_put_row() {
    let tenant = Tenant::from_json(TENANT_WITH_INACTIVE_SKILL).unwrap();
    let sb = start_with(tenant, options()).await;

    let (status, answer) = call(
        &sb,
        Method::POST,
        &skills_path(2),
        Some(json!({"skills": [{"skillId": 90, "proficiency": 3}]})),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(
        answer["resultSet"]["skillResults"][0]["error"],
        "Skill is inactive"
    );

    let change = json!({"skills": [{"skillId": 90, "proficiency": 4, "isActive": true}]});
    let (status, answer) = call(&sb, Method::PUT, &skills_path(1), Some(change)).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(
        answer["resultSet"]["skillResults"][0]["error"],
        "Skill is inactive"
    );
    assert_eq!(held(&sb, 1, 90), Some((5, true)));

    let restate = json!({"skills": [{"skillId": 90, "proficiency": 5, "isActive": true}]});
    let (status, _) = call(&sb, Method::PUT, &skills_path(1), Some(restate)).await;
    assert_eq!(status, StatusCode::OK);

    let (_, listing) = get(&sb, &skills_path(1)).await;
    assert_eq!(listing["agentSkillAssignments"][0]["isSkillActive"], false);
    let (status, _) = call(
        &sb,
        Method::DELETE,
        &skills_path(1),
        Some(json!({"skills": [{"skillId": 90}]})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "removing an inactive skill's assignment is allowed"
    );
    assert_eq!(held(&sb, 1, 90), None);
}

// --- writes: strictness -------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn bare_array_body_is_rejected_with_wrapper_hint() {
    let sb = start(options()).await;
    let (status, body) = call(
        &sb,
        Method::POST,
        &skills_path(LUKAS),
        Some(json!([{"skillId": SALES, "proficiency": 5}])),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "InvalidRequestBody", "error_description": "Expected object with a 'skills' array, got array"})
    );
    let (status, body) = call(
        &sb,
        Method::PUT,
        &format!("/skills/{SALES}/agents"),
        Some(json!([{"agentId": JANE, "proficiency": 5, "isActive": true}])),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error_description"],
        "Expected object with a 'agents' array, got array"
    );
    assert_eq!(sb.assignments().len(), 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn float_ids_and_string_proficiencies_are_400_naming_row_and_field() {
    let sb = start(options()).await;
    let cases = [
        (
            json!({"skills": [{"skillId": "44-5566", "proficiency": 5}]}),
            r#"skills[0].skillId: expected a string holding a positive integer, got string "44-5566""#,
        ),
        (
            json!({"skills": [{"skillId": SALES, "proficiency": "5"}]}),
            r#"skills[0].proficiency: expected integer from 1 to 20, got string "5""#,
        ),
        (
            json!({"skills": [{"skillId": TECH, "proficiency": 5}, {"skillId": SALES, "proficiency": 5.5}]}),
            "skills[1].proficiency: expected integer from 1 to 20, got float 5.5",
        ),
        (
            json!({"skills": [{"skillId": 445566.0, "proficiency": 5}]}),
            "skills[0].skillId: expected a string holding a positive integer or an integer, got float 445566.0",
        ),
        (
            json!({"skills": [{"skillId": SALES, "proficiency": 5, "isActive": "yes"}]}),
            r#"skills[0].isActive: expected boolean, got string "yes""#,
        ),
    ];
    for (body, description) in cases {
        let (status, answer) = call(&sb, Method::POST, &skills_path(LUKAS), Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            answer,
            json!({"error": "InvalidRequestBody", "error_description": description})
        );
    }
    assert!(
        skills_of(&sb, LUKAS).is_empty(),
        "a rejected body changes nothing, not even its valid rows"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn proficiency_outside_1_to_20_is_400() {
    let sb = start(options()).await;
    for p in [0, 21, -1, 90] {
        let body = json!({"skills": [{"skillId": SALES, "proficiency": p, "isActive": true}]});
        let (status, answer) = call(&sb, Method::PUT, &skills_path(JANE), Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
        assert_eq!(
            answer["error_description"],
            format!("skills[0].proficiency: must be an integer from 1 to 20, got {p}")
        );
    }
    assert_eq!(held(&sb, JANE, SALES), Some((7, true)));
    for p in [1, 20] {
        let body = json!({"skills": [{"skillId": SALES, "proficiency": p, "isActive": true}]});
        let (status, _) = call(&sb, Method::PUT, &skills_path(JANE), Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{p}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_fields_are_400_naming_the_field() {
    let sb = start(options()).await;
    let cases = [
        (
            Method::POST,
            json!({"skills": [{"proficiency": 5}]}),
            "skills[0]: missing 'skillId'",
        ),
        (
            Method::POST,
            json!({"skills": [{"skillId": SALES}]}),
            "skills[0]: missing 'proficiency'",
        ),
        (
            Method::PUT,
            json!({"skills": [{"skillId": SALES, "isActive": true}]}),
            "skills[0]: missing 'proficiency'",
        ),
        (
            Method::DELETE,
            json!({"skills": [{"skill": SALES}]}),
            "skills[0]: missing 'skillId'",
        ),
        (
            Method::POST,
            json!({"skillz": []}),
            "Expected object with a 'skills' array, got an object without 'skills'",
        ),
        (
            Method::POST,
            json!({"skills": []}),
            "'skills' is empty; send at least one row",
        ),
    ];
    for (method, body, description) in cases {
        let (status, answer) = call(&sb, method.clone(), &skills_path(LUKAS), Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method}");
        assert_eq!(answer["error"], "InvalidRequestBody");
        assert_eq!(answer["error_description"], description);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn per_agent_put_rows_without_is_active_are_rejected_per_skill_ones_keep_the_flag() {
    let sb = start(options()).await;
    let body = json!({"skills": [
        {"skillId": BILLING_EN, "proficiency": 2, "isActive": true},
        {"skillId": SALES, "proficiency": 2}
    ]});
    let (status, answer) = call(&sb, Method::PUT, &skills_path(JANE), Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer["error_description"],
        "skills[1]: missing 'isActive' (required by PUT)"
    );
    assert_eq!(held(&sb, JANE, BILLING_EN), Some((3, true)));

    // The per-skill PUT publishes only agentId as required: without
    // isActive the current flag is kept.
    let body = json!({"agents": [{"agentId": "1002", "proficiency": 2}]});
    let (status, _) = call(
        &sb,
        Method::PUT,
        &format!("/skills/{BILLING_EN}/agents"),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(held(&sb, OMAR, BILLING_EN), Some((2, false)));
}

#[tokio::test(flavor = "multi_thread")]
async fn body_without_json_content_type_is_415() {
    let sb = start(options()).await;
    let body = r#"{"skills":[{"skillId":445566,"proficiency":5}]}"#;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        for method in [Method::POST, Method::PUT, Method::DELETE] {
            let (status, _) =
                raw(&sb, method.clone(), &skills_path(LUKAS), content_type, body).await;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{method} {content_type:?}"
            );
        }
    }
    let (status, _) = raw(
        &sb,
        Method::POST,
        &format!("/skills/{SALES}/agents"),
        None,
        r#"{"agents":[]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(skills_of(&sb, LUKAS).is_empty());

    let (status, _) = raw(
        &sb,
        Method::POST,
        &skills_path(LUKAS),
        Some("Application/JSON; charset=utf-8"),
        body,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "media type is case-insensitive and may carry a charset"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_json_and_empty_body_are_400_invalid_request_body() {
    let sb = start(options()).await;
    for body in ["", "{\"skills\": [", "null", "\"skills\""] {
        let (status, text) = raw(
            &sb,
            Method::POST,
            &skills_path(LUKAS),
            Some("application/json"),
            body,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(answer["error"], "InvalidRequestBody", "{body}");
        assert!(
            answer["error_description"]
                .as_str()
                .unwrap()
                .starts_with("Expected object with a 'skills' array")
        );
    }
}

// --- PUT semantics --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn put_under_modify_changes_only_the_listed_skills() {
    let sb = start(options()).await;
    assert_eq!(sb.put_semantics(), PutSemantics::Modify);
    let body = json!({"skills": [{"skillId": SALES, "proficiency": 3, "isActive": true}]});
    let (status, _) = call(&sb, Method::PUT, &skills_path(JANE), Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(skills_of(&sb, JANE), vec![BILLING_EN, SALES, TECH, CHAT_FR]);
    assert_eq!(held(&sb, JANE, SALES), Some((3, true)));
    assert_eq!(held(&sb, JANE, BILLING_EN), Some((3, true)));
}

#[tokio::test(flavor = "multi_thread")]
async fn put_under_replace_drops_every_skill_the_body_does_not_list() {
    let sb = start(SandboxOptions {
        put_semantics: PutSemantics::Replace,
        ..options()
    })
    .await;
    let body = json!({"skills": [
        {"skillId": SALES, "proficiency": 3, "isActive": true},
        {"skillId": RETENTION, "proficiency": 3, "isActive": true}
    ]});
    let (status, answer) = call(&sb, Method::PUT, &skills_path(JANE), Some(body)).await;
    assert_eq!(
        status,
        StatusCode::MULTI_STATUS,
        "the unassigned row still fails"
    );
    assert_eq!(answer["resultSet"]["errorCount"], 1);
    assert_eq!(
        skills_of(&sb, JANE),
        vec![SALES],
        "Billing EN, Tech Support and Chat FR were wiped"
    );
    assert_eq!(
        held(&sb, OMAR, BILLING_EN),
        Some((5, false)),
        "other agents are untouched"
    );

    // A full merged set is safe under replace: nothing is lost.
    let full = json!({"skills": [{"skillId": BILLING_EN, "proficiency": 5, "isActive": false}]});
    let (status, _) = call(&sb, Method::PUT, &skills_path(OMAR), Some(full)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(held(&sb, OMAR, BILLING_EN), Some((5, false)));
}

#[tokio::test(flavor = "multi_thread")]
async fn put_semantics_can_be_switched_while_running() {
    let sb = start(options()).await;
    let body = json!({"skills": [{"skillId": SALES, "proficiency": 7, "isActive": true}]});
    sb.set_put_semantics(PutSemantics::Replace);
    let (status, _) = call(&sb, Method::PUT, &skills_path(JANE), Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(skills_of(&sb, JANE), vec![SALES]);
    sb.set_put_semantics(PutSemantics::Modify);
    let body = json!({"skills": [{"skillId": RETENTION, "proficiency": 4, "isActive": true}]});
    let (status, _) = call(&sb, Method::PUT, &skills_path(1006), Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(skills_of(&sb, 1006), vec![RETENTION]);
    assert_eq!(
        "replace".parse::<PutSemantics>().unwrap(),
        PutSemantics::Replace
    );
    assert_eq!(PutSemantics::Modify.to_string(), "modify");
    assert!("merge".parse::<PutSemantics>().is_err());
}

// --- bulk writes on one skill ---------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn bulk_post_and_put_on_a_skill_answer_per_agent_results() {
    let sb = start(options()).await;
    let body = json!({"agents": [
        {"agentId": LUKAS, "proficiency": 2},
        {"agentId": JANE, "proficiency": 2, "isActive": true},
        {"agentId": 4242, "proficiency": 2, "isActive": true}
    ]});
    let (status, answer) = call(
        &sb,
        Method::POST,
        &format!("/skills/{SALES}/agents"),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(answer["resultSet"]["errorCount"], 2);
    let rows = &answer["resultSet"]["agentResults"];
    assert_eq!(rows[0], json!({"agentId": LUKAS, "success": true}));
    assert!(
        rows[1]["error"]
            .as_str()
            .unwrap()
            .contains("already assigned")
    );
    assert_eq!(rows[2]["error"], "Agent does not exist");
    assert!(answer["resultSet"].get("skillResults").is_none());
    assert_eq!(held(&sb, LUKAS, SALES), Some((2, true)));

    let body = json!({"agents": [
        {"agentId": JANE, "proficiency": 1, "isActive": false},
        {"agentId": OMAR, "proficiency": 1, "isActive": true}
    ]});
    let (status, answer) = call(
        &sb,
        Method::PUT,
        &format!("/skills/{SALES}/agents"),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(
        answer["resultSet"]["agentResults"][1]["error"],
        "Skill is not assigned to agent"
    );
    assert_eq!(held(&sb, JANE, SALES), Some((1, false)));
    assert_eq!(
        held(&sb, LUKAS, SALES),
        Some((2, true)),
        "modify leaves unlisted agents alone"
    );

    let (status, body) = call(
        &sb,
        Method::POST,
        "/skills/123/agents",
        Some(json!({"agents": [{"agentId": JANE, "proficiency": 1}]})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "NotFound");
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_put_under_replace_drops_agents_the_body_does_not_list() {
    let sb = start(SandboxOptions {
        put_semantics: PutSemantics::Replace,
        ..options()
    })
    .await;
    let body = json!({"agents": [{"agentId": 1007, "proficiency": 2, "isActive": true}]});
    let (status, _) = call(
        &sb,
        Method::PUT,
        &format!("/skills/{BILLING_EN}/agents"),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let holders: Vec<u64> = sb
        .assignments()
        .iter()
        .filter(|a| a.skill_id == BILLING_EN)
        .map(|a| a.agent_id)
        .collect();
    assert_eq!(holders, vec![1007]);
    assert_eq!(
        held(&sb, JANE, SALES),
        Some((7, true)),
        "other skills are untouched"
    );
}

// --- rate limit and faults --------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_answers_429_with_retry_after_in_whole_seconds() {
    let sb = start(SandboxOptions {
        rate_limit: Some(2.0),
        ..options()
    })
    .await;
    let c = client();
    let url = format!("{}/agents", sb.api_root());
    let mut statuses = Vec::new();
    let mut retry_afters = Vec::new();
    for _ in 0..6 {
        let response = c.get(&url).bearer_auth(TOKEN).send().await.unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let value = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            retry_afters.push(value.expect("every 429 carries Retry-After"));
        }
    }
    assert_eq!(
        statuses[..2],
        [StatusCode::OK, StatusCode::OK],
        "a burst of one second's worth passes"
    );
    // The bucket refills one token per 0.5 s, so six back-to-back calls
    // meet at least one 429 even on a slow machine.
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    for value in retry_afters {
        let seconds: u64 = value.parse().expect("Retry-After is whole seconds");
        assert!(seconds >= 1);
    }

    // Neither the token endpoint nor the observability endpoints count.
    let creds = sb.credentials();
    let form = password_grant(
        &creds.access_key_id,
        &creds.access_key_secret,
        &creds.client_id,
        &creds.client_secret,
    );
    assert_eq!(exchange(&sb, &form).await.0, StatusCode::OK);
    let state = c
        .get(format!("{}/__sandbox/state", sb.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(state.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_rate_limit_asks_to_wait_the_full_refill_time() {
    let sb = start(SandboxOptions {
        rate_limit: Some(0.25),
        ..options()
    })
    .await;
    assert_eq!(get_with_token(&sb, TOKEN, "/skills").await, StatusCode::OK);
    let response = client()
        .get(format!("{}/skills", sb.api_root()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let seconds: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (2..=4).contains(&seconds),
        "one request per 4 s: wait about 4 s, got {seconds}"
    );
}

/// A mixed sequential series (read, assign, remove) and what became of
/// each request: its status, or `dropped`.
async fn fault_series(seed: u64) -> Vec<String> {
    let sb = start(SandboxOptions {
        fault_rate: 0.3,
        drop_rate: 0.4,
        seed,
        ..options()
    })
    .await;
    let mut outcomes = Vec::new();
    for i in 0..30 {
        let (method, body) = match i % 3 {
            0 => (Method::GET, None),
            1 => (
                Method::POST,
                Some(json!({"skills": [{"skillId": SALES, "proficiency": 4}]})),
            ),
            _ => (
                Method::DELETE,
                Some(json!({"skills": [{"skillId": SALES}]})),
            ),
        };
        let mut request = client()
            .request(method, format!("{}{}", sb.api_root(), skills_path(LUKAS)))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        outcomes.push(match request.send().await {
            Ok(response) => response.status().as_u16().to_string(),
            Err(_) => "dropped".to_owned(),
        });
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_are_reproducible_under_a_fixed_seed() {
    let first = fault_series(7).await;
    let again = fault_series(7).await;
    let other = fault_series(8).await;
    assert_eq!(first, again);
    assert_ne!(first, other, "another seed draws other faults");
    for outcome in ["200", "503", "dropped"] {
        assert!(
            first.iter().any(|o| o == outcome),
            "{outcome} missing from {first:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_503_changes_nothing() {
    let sb = start(SandboxOptions {
        fault_rate: 1.0,
        ..options()
    })
    .await;
    let body = json!({"skills": [{"skillId": SALES, "proficiency": 4}]});
    let (status, answer) = call(&sb, Method::POST, &skills_path(LUKAS), Some(body)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer["error"], "ServiceUnavailable");
    assert!(skills_of(&sb, LUKAS).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_answer_closes_the_connection_after_the_write_is_committed() {
    let sb = start(SandboxOptions {
        drop_rate: 1.0,
        ..options()
    })
    .await;
    let (status, _) = get(&sb, &skills_path(LUKAS)).await;
    assert_eq!(status, StatusCode::OK, "reads are never dropped");

    let result = client()
        .post(format!("{}{}", sb.api_root(), skills_path(LUKAS)))
        .bearer_auth(TOKEN)
        .json(&json!({"skills": [{"skillId": SALES, "proficiency": 4}]}))
        .send()
        .await;
    let error = result.expect_err("no HTTP answer at all");
    assert!(
        !error.is_timeout(),
        "the connection was closed, not left hanging: {error}"
    );
    assert_eq!(
        held(&sb, LUKAS, SALES),
        Some((4, true)),
        "the write was committed"
    );
    let record = sb.requests().into_iter().last().unwrap();
    assert!(record.dropped);
    assert_eq!(record.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn latency_delays_every_api_request() {
    let sb = start(SandboxOptions {
        latency: Duration::from_millis(150),
        ..options()
    })
    .await;
    let started = Instant::now();
    let (status, _) = get(&sb, "/skills").await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

// --- observability and lifecycle ---------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn request_log_keeps_ids_trace_and_body_but_never_the_secrets() {
    let sb = start(options()).await;
    let c = sb.credentials();
    let form = password_grant(
        &c.access_key_id,
        &c.access_key_secret,
        &c.client_id,
        &c.client_secret,
    );
    exchange(&sb, &form).await;
    let response = client()
        .post(format!("{}{}", sb.api_root(), skills_path(LUKAS)))
        .bearer_auth(TOKEN)
        .header("X-Request-ID", "5f0c6c1e-7d1c-4a8e-9a57-0a4cf1a4b8e2")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .json(&json!({"skills": [{"skillId": SALES, "proficiency": 4}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    client()
        .get(format!("{}/agents?top=2", sb.api_root()))
        .send()
        .await
        .unwrap();

    let log = client()
        .get(format!("{}/__sandbox/requests", sb.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(log.status(), StatusCode::OK, "no token needed");
    let text = log.text().await.unwrap();
    assert!(
        !text.contains(TOKEN),
        "the Authorization value is never kept"
    );
    assert!(!text.contains(&c.access_key_secret) && !text.contains(&c.client_secret));

    let records: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(records.len(), 3, "observability requests are not logged");
    assert_eq!(records[0]["path"], "/auth/token");
    assert_eq!(records[0]["body"]["password"], "(redacted)");
    assert_eq!(records[0]["body"]["username"], "sandbox-access-key");
    assert_eq!(records[1]["method"], "POST");
    assert_eq!(
        records[1]["path"],
        format!("/inContactAPI/services/v34.0/agents/{LUKAS}/skills")
    );
    assert_eq!(records[1]["status"], 200);
    assert_eq!(
        records[1]["request_id"],
        "5f0c6c1e-7d1c-4a8e-9a57-0a4cf1a4b8e2"
    );
    assert_eq!(
        records[1]["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert_eq!(records[1]["authorization_present"], true);
    assert_eq!(
        records[1]["body"],
        json!({"skills": [{"skillId": SALES, "proficiency": 4}]})
    );
    assert_eq!(records[2]["query"], "top=2");
    assert_eq!(records[2]["status"], 401);
    assert_eq!(records[2]["authorization_present"], false);

    let in_process = serde_json::to_value(sb.requests()).unwrap();
    assert_eq!(in_process, Value::Array(records));
}

#[tokio::test(flavor = "multi_thread")]
async fn state_endpoint_shows_every_assignment_like_the_in_process_view() {
    let sb = start(options()).await;
    call(
        &sb,
        Method::POST,
        &skills_path(LUKAS),
        Some(json!({"skills": [{"skillId": SALES, "proficiency": 9}]})),
    )
    .await;
    let response = client()
        .get(format!("{}/__sandbox/state", sb.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let state: Value = response.json().await.unwrap();
    assert_eq!(state["totalRecords"], 11);
    assert_eq!(
        state["assignments"],
        serde_json::to_value(sb.assignments()).unwrap()
    );
    assert_eq!(
        state["assignments"][0],
        json!({"agentId": JANE, "skillId": BILLING_EN, "proficiency": 3, "isActive": true,
               "lastUpdateTime": sb.assignments()[0].last_update_time})
    );
    let pairs: Vec<(u64, u64)> = sb
        .assignments()
        .iter()
        .map(|a| (a.agent_id, a.skill_id))
        .collect();
    let mut sorted = pairs.clone();
    sorted.sort();
    assert_eq!(pairs, sorted);
    assert!(pairs.contains(&(LUKAS, SALES)));
}

#[tokio::test(flavor = "multi_thread")]
async fn banner_exports_what_connects_through_discovery_and_no_api_base() {
    let sb = start(options()).await;
    let banner = sb.banner();
    assert!(
        banner.contains(&sb.api_root()),
        "the API root, as information"
    );
    assert!(banner.contains(&sb.discovery_url()));
    assert!(banner.contains(&sb.tenant_id().to_string()));
    assert!(
        !banner.contains("CXSKILL_API_BASE"),
        "discovered, not exported"
    );
    assert!(
        !banner.contains("CXSKILL_API_VERSION"),
        "only exported when not the default"
    );
    assert!(banner.contains(&format!("export CXSKILL_TOKEN_URL={}", sb.token_url())));
    assert!(banner.contains("export CXSKILL_CLIENT_ID=cxskill-sandbox"));
    assert!(banner.contains("export CXSKILL_ACCESS_KEY_ID=sandbox-access-key"));
    assert!(banner.contains("export CXSKILL_ACCESS_KEY_SECRET=sandbox-access-secret"));
    assert!(banner.contains("export CXSKILL_CLIENT_SECRET=sandbox-client-secret"));
    assert!(banner.contains(&format!("export CXSKILL_TOKEN={TOKEN}")));
    assert_eq!(sb.token_url(), format!("http://{}/auth/token", sb.addr()));
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_stops_serving_and_frees_the_port() {
    let sb = start(options()).await;
    let addr = sb.addr();
    assert_eq!(get_with_token(&sb, TOKEN, "/agents").await, StatusCode::OK);
    sb.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    let again = sandbox::start(addr, Tenant::embedded(), options())
        .await
        .unwrap();
    assert_eq!(again.addr(), addr);
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_handle_stops_the_server_without_waiting() {
    let sb = start(options()).await;
    let addr = sb.addr();
    drop(sb);
    let deadline = Instant::now() + Duration::from_secs(2);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting after the handle was dropped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_file_loads_and_a_broken_one_is_rejected_with_its_path() {
    let dir = std::env::temp_dir().join(format!("cxskill-sandbox-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("tenant.json");
    std::fs::write(&good, TENANT_WITH_INACTIVE_SKILL).unwrap();
    let sb = start_with(Tenant::load(&good).unwrap(), options()).await;
    assert_eq!(sb.credentials().access_key_id, "k");
    let (_, body) = get(&sb, "/skills").await;
    assert_eq!(body["totalRecords"], 2);

    let bad = dir.join("broken.json");
    std::fs::write(
        &bad,
        TENANT_WITH_INACTIVE_SKILL.replace("\"proficiency\": 5", "\"proficiency\": 25"),
    )
    .unwrap();
    let error = Tenant::load(&bad).unwrap_err().to_string();
    assert!(
        error.contains("broken.json") && error.contains("25"),
        "{error}"
    );
    let missing = Tenant::load(&dir.join("missing.json"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("missing.json"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_options_are_refused_before_listening() {
    for options in [
        SandboxOptions {
            fault_rate: 1.5,
            ..SandboxOptions::default()
        },
        SandboxOptions {
            rate_limit: Some(0.0),
            ..SandboxOptions::default()
        },
        SandboxOptions {
            api_version: "v34.0/x".into(),
            ..SandboxOptions::default()
        },
        SandboxOptions {
            token_ttl: Duration::ZERO,
            ..SandboxOptions::default()
        },
        SandboxOptions {
            partial_status: 201,
            ..SandboxOptions::default()
        },
        SandboxOptions {
            agent_skills_page: 0,
            ..SandboxOptions::default()
        },
    ] {
        let listen: SocketAddr = ANY_PORT.parse().unwrap();
        let error = sandbox::start(listen, Tenant::embedded(), options)
            .await
            .unwrap_err();
        assert!(
            error.to_string().starts_with("invalid sandbox option"),
            "{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_skill_fails_its_rows_on_every_write_but_a_restatement_succeeds() {
    let sb = start(SandboxOptions {
        refuse_skills: vec![SALES],
        ..options()
    })
    .await;
    let refused = "Skill assignment refused by the tenant (sandbox --refuse-skill)";

    // POST: the refused row fails, the other applies.
    let (status, body) = call(
        &sb,
        Method::POST,
        &skills_path(OMAR),
        Some(json!({"skills": [
            {"skillId": SALES, "proficiency": 3, "isActive": true},
            {"skillId": TECH, "proficiency": 4, "isActive": true}
        ]})),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(body["resultSet"]["errorCount"], 1);
    assert_eq!(body["resultSet"]["skillResults"][0]["error"], refused);
    assert_eq!(held(&sb, OMAR, SALES), None);
    assert_eq!(held(&sb, OMAR, TECH), Some((4, true)));

    // PUT: restating Jane's Sales 7 unchanged succeeds, changing it fails.
    let put = |p: i64| json!({"skills": [{"skillId": SALES, "proficiency": p, "isActive": true}]});
    let (status, _) = call(&sb, Method::PUT, &skills_path(JANE), Some(put(7))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&sb, Method::PUT, &skills_path(JANE), Some(put(2))).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(body["resultSet"]["skillResults"][0]["error"], refused);
    assert_eq!(held(&sb, JANE, SALES), Some((7, true)));

    // DELETE and the bulk per-skill write refuse it too.
    let (status, _) = call(
        &sb,
        Method::DELETE,
        &skills_path(JANE),
        Some(json!({"skills": [{"skillId": SALES}]})),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(held(&sb, JANE, SALES), Some((7, true)));
    let (status, body) = call(
        &sb,
        Method::POST,
        &format!("/skills/{SALES}/agents"),
        Some(json!({"agents": [{"agentId": OMAR, "proficiency": 3, "isActive": true}]})),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(body["resultSet"]["agentResults"][0]["error"], refused);
}

// --- revision 2: reads ------------------------------------------------------------

/// `(agentID_alt, skillId)` of each row of the one-agent read.
fn one_agent_pairs(body: &Value) -> Vec<(u64, u64)> {
    body["agentSkillAssignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["agentID_alt"].as_u64().unwrap(),
                a["skillId"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The path and query of an absolute URL the sandbox handed out, checked
/// to be on `base`.
fn relative_to_root<'a>(sb: &SandboxHandle, url: &'a str) -> &'a str {
    url.strip_prefix(&sb.api_root())
        .unwrap_or_else(|| panic!("{url} is not under {}", sb.api_root()))
}

#[tokio::test(flavor = "multi_thread")]
async fn one_agent_read_pages_with_absolute_next_links_on_its_own_host() {
    let sb = start(SandboxOptions {
        agent_skills_page: 3,
        ..options()
    })
    .await;
    let (status, first) = get(&sb, &skills_path(JANE)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["totalRecords"], 4);
    assert_eq!(
        one_agent_pairs(&first),
        vec![(JANE, BILLING_EN), (JANE, SALES), (JANE, TECH)]
    );
    assert_eq!(
        first["_links"]["self"],
        format!("{}/agents/{JANE}/skills?top=3&skip=0", sb.api_root())
    );
    let next = first["_links"]["next"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("http://{}/", sb.addr())),
        "absolute, on the sandbox's own host: {next}"
    );
    let (status, second) = get(&sb, relative_to_root(&sb, next)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["totalRecords"], 4);
    assert_eq!(one_agent_pairs(&second), vec![(JANE, CHAT_FR)]);
    assert!(second["_links"].get("next").is_none(), "the last page");

    // A larger top is capped to the page size; filters travel in the links.
    let (_, capped) = get(
        &sb,
        &format!("{}?top=50&isSkillActive=true", skills_path(JANE)),
    )
    .await;
    assert_eq!(capped["agentSkillAssignments"].as_array().unwrap().len(), 3);
    let next = capped["_links"]["next"].as_str().unwrap();
    assert!(
        next.contains("isSkillActive=true") && next.contains("top=3&skip=3"),
        "{next}"
    );
    for bad in ["top=0", "top=-1", "top=x", "skip=-2"] {
        let (status, body) = get(&sb, &format!("{}?{bad}", skills_path(JANE))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"], "InvalidParameter");
    }

    // The links name the host the client addressed.
    let by_name = client()
        .get(format!("{}{}?top=1", sb.api_root(), skills_path(JANE)))
        .header("Host", format!("localhost:{}", sb.addr().port()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        by_name["_links"]["next"],
        format!(
            "http://localhost:{}/inContactAPI/services/v34.0/agents/{JANE}/skills?top=1&skip=1",
            sb.addr().port()
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_agent_read_filters_have_no_default() {
    let tenant = Tenant::from_json(TENANT_WITH_EVERY_INACTIVE_KIND).unwrap();
    let sb = start_with(tenant, options()).await;
    for (query, expected) in [
        ("", vec![(1, 10), (1, 20), (1, 90)]),
        ("?isSkillActive=false", vec![(1, 90)]),
        ("?isAssignedSkillActive=false", vec![(1, 20)]),
        (
            "?isSkillActive=true&isAssignedSkillActive=TRUE",
            vec![(1, 10)],
        ),
    ] {
        let (status, body) = get(&sb, &format!("/agents/1/skills{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(one_agent_pairs(&body), expected, "{query}");
        assert_eq!(body["totalRecords"], expected.len(), "{query}");
        assert_eq!(body["businessUnitId"], 77);
    }
    let (status, body) = get(&sb, "/agents/1/skills?isSkillActive=yes").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("isSkillActive")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn all_assignments_filters_default_to_true_and_each_inactive_kind_needs_its_own_read() {
    let tenant = Tenant::from_json(TENANT_WITH_EVERY_INACTIVE_KIND).unwrap();
    let sb = start_with(tenant, options()).await;
    for (query, expected) in [
        ("", vec![(1, 10), (2, 10)]),
        ("?isActive=false", vec![(1, 20)]),
        ("?isAgentActive=false", vec![(3, 10)]),
        ("?isSkillActive=false", vec![(1, 90)]),
        (
            "?isActive=true&isAgentActive=true&isSkillActive=true",
            vec![(1, 10), (2, 10)],
        ),
    ] {
        let (status, body) = get(&sb, &format!("/agents/skills{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(agent_skill_pairs(&body), expected, "{query}");
        assert_eq!(body["totalRecords"], expected.len(), "{query}");
        assert_eq!(body["businessUnitId"], "77", "a string on this read");
    }
    let (_, body) = get(&sb, "/agents/skills?isAgentActive=false").await;
    let row = &body["agentSkillAssignments"][0];
    assert_eq!(row["isAgentActive"], false);
    assert_eq!(row["agentName"], "c@x.example", "no name: the user name");

    let (status, _, _, text) = send(
        &sb,
        Method::GET,
        "/agents/skills?isActive=false&isAgentActive=false",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "nothing matches");
    assert_eq!(text, "", "204 has an empty body");
}

#[tokio::test(flavor = "multi_thread")]
async fn skills_agents_holds_every_assignment_of_the_skills_active_or_not_unpaged() {
    let tenant = Tenant::from_json(TENANT_WITH_EVERY_INACTIVE_KIND).unwrap();
    let sb = start_with(tenant, options()).await;
    let (status, body) = get(&sb, "/skills/agents?skills=10,20,90&top=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        agent_skill_pairs(&body),
        vec![(1, 10), (1, 20), (1, 90), (2, 10), (3, 10)],
        "inactive assignments, skills and agents included; top does not page it"
    );
    assert_eq!(body["agentSkillAssignments"][1]["isActive"], false);
    assert_eq!(body["agentSkillAssignments"][2]["isSkillActive"], false);
    assert!(
        body["agentSkillAssignments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["isAssigned"] == true)
    );
    assert_eq!(body["businessUnitId"], 77, "an integer on this read");

    let (status, body) = get(&sb, "/skills/agents?skills=20,77,10,77").await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body["invalidSkills"], json!([{"skillId": 77}]));
    assert_eq!(body["agentSkillAssignments"].as_array().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn skill_agents_read_is_paged_and_204_when_the_skill_has_no_agents() {
    let sb = start(options()).await;
    let (status, body) = get(&sb, &format!("/skills/{BILLING_EN}/agents?top=2")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalRecords"], 3);
    assert_eq!(
        agent_skill_pairs(&body),
        vec![(JANE, BILLING_EN), (OMAR, BILLING_EN)]
    );
    let row = &body["agentSkillAssignments"][0];
    assert_eq!(row["userId"], JANE_UUID);
    assert_eq!(row["firstName"], "Jane");
    let next = body["_links"]["next"].as_str().unwrap();
    let (_, rest) = get(&sb, relative_to_root(&sb, next)).await;
    assert_eq!(agent_skill_pairs(&rest), vec![(1007, BILLING_EN)]);

    let (status, _, _, text) = send(
        &sb,
        Method::GET,
        &format!("/skills/{BILLING_ES}/agents"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(text, "");
    let (status, body) = get(&sb, "/skills/4242/agents").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "NotFound");
}

/// `lastUpdateTime` of one pair, as the one-agent read shows it.
async fn updated_at(sb: &SandboxHandle, agent: u64, skill: u64) -> String {
    let (_, body) = get(sb, &skills_path(agent)).await;
    body["agentSkillAssignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["skillId"] == skill)
        .map(|r| r["lastUpdateTime"].as_str().unwrap().to_owned())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_after_a_read_is_newer_than_the_reads_last_poll_time() {
    let sb = start(options()).await;
    for i in 0..20 {
        let (_, read) = get(&sb, &skills_path(JANE)).await;
        let polled = read["lastPollTime"].as_str().unwrap().to_owned();
        let level = 2 + i % 2;
        let (status, _) = call(
            &sb,
            Method::PUT,
            &skills_path(JANE),
            Some(
                json!({"skills": [{"skillId": "445566", "proficiency": level, "isActive": true}]}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let updated = updated_at(&sb, JANE, SALES).await;
        assert!(
            updated > polled,
            "same format, so text order is time order: {updated} after {polled}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn updated_since_is_inclusive_takes_fractions_and_rejects_malformed_or_misspelled() {
    let sb = start(options()).await;
    let (status, _) = call(
        &sb,
        Method::POST,
        &skills_path(LUKAS),
        Some(json!({"skills": [{"skillId": "445566", "proficiency": 4}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let stamp = updated_at(&sb, LUKAS, SALES).await;
    assert_eq!(stamp.len(), 24, "{stamp}");
    let whole_second = format!("{}Z", &stamp[..19]);
    let ms: u32 = stamp[20..23].parse().unwrap();
    let later = format!("{}.{:03}9Z", &stamp[..19], ms);
    let encode = |t: &str| t.replace(':', "%3A").replace('+', "%2B");
    let sales_rows = |body: &Value| {
        body["agentSkillAssignments"].as_array().map_or(0, |rows| {
            rows.iter().filter(|r| r["skillId"] == SALES).count()
        })
    };
    for (endpoint, param) in [
        (skills_path(LUKAS), "updatedSince"),
        ("/agents/skills".to_owned(), "UpdatedSince"),
        (format!("/skills/agents?skills={SALES}"), "updatedSince"),
        (format!("/skills/{SALES}/agents"), "updatedSince"),
    ] {
        let join = if endpoint.contains('?') { '&' } else { '?' };
        let url = |t: &str| format!("{endpoint}{join}{param}={}", encode(t));
        let (status, body) = get(&sb, &url(&stamp)).await;
        assert_eq!(status, StatusCode::OK, "{endpoint}: inclusive");
        assert!(sales_rows(&body) >= 1, "{endpoint}: {body}");
        let (_, body) = get(&sb, &url(&whole_second)).await;
        assert!(sales_rows(&body) >= 1, "{endpoint}: without fraction");
        let (status, body) = get(&sb, &url(&later)).await;
        assert!(
            status == StatusCode::NO_CONTENT || sales_rows(&body) == 0,
            "{endpoint}: a tenth of a millisecond later excludes it"
        );
        let (status, body) = get(&sb, &format!("{endpoint}{join}{param}=2026-11-24")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{endpoint}: malformed");
        assert!(body["error_description"].as_str().unwrap().contains(param));
        let (status, body) = get(
            &sb,
            &format!("{endpoint}{join}{param}=2026-11-24T10:00:00+01:00"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{endpoint}: '+' unencoded");
        assert!(body["error_description"].as_str().unwrap().contains("%2B"));
        let offset = "2000-01-01T01:00:00.5%2B01:00";
        let (status, _) = get(&sb, &format!("{endpoint}{join}{param}={offset}")).await;
        assert_eq!(status, StatusCode::OK, "{endpoint}: an offset");
    }
    for (endpoint, wrong) in [
        (skills_path(LUKAS), "UpdatedSince"),
        ("/agents/skills".to_owned(), "updatedSince"),
        ("/agents".to_owned(), "updatedSince"),
    ] {
        let (status, body) = get(&sb, &format!("{endpoint}?{wrong}=2026-11-24T10:00:00Z")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{endpoint} {wrong}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("spells the filter"),
            "{body}"
        );
    }
    let (status, body) = get(&sb, "/agents?updateSince=2000-01-01T00:00:00Z").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalRecords"], 12);
}

// --- revision 2: conformance to the published reference ------------------------------

/// Checks an answer against the schema the reference publishes for its
/// status, or for 200 when the status is published without a schema or
/// not at all (a 207 with the same body as the 200, as the contract
/// says).
fn conforms(reference: &Reference, method: &str, path: &str, status: StatusCode, body: &Value) {
    let what = format!("{method} {path} answered {status}");
    let schema = reference
        .response(method, path, status.as_u16())
        .or_else(|| reference.response(method, path, 200))
        .unwrap_or_else(|| panic!("{what}: no published schema"));
    assert_conforms(&what, body, schema);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_of_every_endpoint_conforms_to_its_published_schema() {
    let reference = Reference::load();
    let sb = start(SandboxOptions {
        agent_skills_page: 2,
        ..options()
    })
    .await;
    const ONE_AGENT: &str = "/agents/{agentId|userId}/skills";
    const ONE_SKILL: &str = "/skills/{skillId}/agents";
    let upsert = |level: u8| {
        json!({"agentAndSkillDetails": [{"agentIds": ["1004", "1005"],
            "skills": [{"skillIds": ["556677", "667788"], "proficiency": level, "isActive": true}]}]})
    };
    let skills = |id: &str, level: u8| json!({"skills": [{"skillId": id, "proficiency": level, "isActive": true}]});
    let agents = |id: &str, level: u8| json!({"agents": [{"agentId": id, "proficiency": level, "isActive": true}]});
    let cases: Vec<(Method, &str, String, Option<Value>, StatusCode)> = vec![
        (
            Method::GET,
            "/agents",
            "/agents?top=2".into(),
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/agents",
            "/agents?top=abc".into(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            ONE_AGENT,
            skills_path(JANE),
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            ONE_AGENT,
            skills_path(LUKAS),
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/agents/skills",
            "/agents/skills?top=3".into(),
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/skills/agents",
            format!("/skills/agents?skills={BILLING_EN},9"),
            None,
            StatusCode::PARTIAL_CONTENT,
        ),
        (
            Method::GET,
            "/skills/agents",
            format!("/skills/agents?skills={BILLING_EN}"),
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            ONE_SKILL,
            format!("/skills/{BILLING_EN}/agents?top=2"),
            None,
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/agents/skills",
            "/agents/skills".into(),
            Some(upsert(3)),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/agents/skills",
            "/agents/skills".into(),
            Some(upsert(9)),
            StatusCode::MULTI_STATUS,
        ),
        (
            Method::POST,
            ONE_AGENT,
            skills_path(LUKAS),
            Some(skills("445566", 12)),
            StatusCode::OK,
        ),
        (
            Method::POST,
            ONE_AGENT,
            skills_path(LUKAS),
            Some(skills("445566", 12)),
            StatusCode::MULTI_STATUS,
        ),
        (
            Method::PUT,
            ONE_AGENT,
            skills_path(LUKAS),
            Some(skills("445566", 2)),
            StatusCode::OK,
        ),
        (
            Method::PUT,
            ONE_AGENT,
            skills_path(LUKAS),
            Some(skills("778899", 2)),
            StatusCode::MULTI_STATUS,
        ),
        (
            Method::DELETE,
            ONE_AGENT,
            skills_path(LUKAS),
            Some(json!({"skills": [{"skillId": "445566"}]})),
            StatusCode::OK,
        ),
        (
            Method::DELETE,
            ONE_AGENT,
            skills_path(LUKAS),
            Some(json!({"skills": [{"skillId": "445566"}]})),
            StatusCode::MULTI_STATUS,
        ),
        (
            Method::POST,
            ONE_SKILL,
            format!("/skills/{BILLING_ES}/agents"),
            Some(agents("1010", 2)),
            StatusCode::OK,
        ),
        (
            Method::POST,
            ONE_SKILL,
            format!("/skills/{BILLING_ES}/agents"),
            Some(agents("1010", 2)),
            StatusCode::MULTI_STATUS,
        ),
        (
            Method::PUT,
            ONE_SKILL,
            format!("/skills/{BILLING_ES}/agents"),
            Some(agents("1010", 5)),
            StatusCode::OK,
        ),
        (
            Method::PUT,
            ONE_SKILL,
            format!("/skills/{BILLING_ES}/agents"),
            Some(agents("1011", 5)),
            StatusCode::MULTI_STATUS,
        ),
        (
            Method::DELETE,
            ONE_SKILL,
            format!("/skills/{BILLING_ES}/agents"),
            Some(json!({"agents": [{"agentId": "1010"}]})),
            StatusCode::OK,
        ),
        (
            Method::DELETE,
            ONE_SKILL,
            format!("/skills/{BILLING_ES}/agents"),
            Some(json!({"agents": [{"agentId": "1010"}]})),
            StatusCode::MULTI_STATUS,
        ),
    ];
    for (method, published, path, body, expected) in cases {
        let (status, _, answer, text) = send(&sb, method.clone(), &path, body).await;
        assert_eq!(status, expected, "{method} {path}: {text}");
        conforms(&reference, method.as_str(), published, status, &answer);
    }

    let (status, _, _, text) = send(
        &sb,
        Method::DELETE,
        &format!("/skills/{BILLING_EN}/agents/{JANE}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, "", "published without a body");
    assert!(
        reference
            .response("DELETE", "/skills/{skillId}/agents/{agentId}", 200)
            .is_none()
    );

    // The token endpoint: the answer and every refusal.
    let c = sb.credentials();
    let good = password_grant(
        &c.access_key_id,
        &c.access_key_secret,
        &c.client_id,
        &c.client_secret,
    );
    let (status, token) = exchange(&sb, &good).await;
    assert_eq!(status, StatusCode::OK);
    conforms(&reference, "POST", "/auth/token", status, &token);
    let form_schema = reference.request_body("POST", "/auth/token");
    let as_json = |form: &[(&str, &str)]| {
        Value::Object(
            form.iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect(),
        )
    };
    assert_conforms("the password grant form", &as_json(&good), form_schema);
    for form in [
        password_grant(&c.access_key_id, "wrong", &c.client_id, &c.client_secret),
        password_grant(
            &c.access_key_id,
            &c.access_key_secret,
            &c.client_id,
            "wrong",
        ),
        password_grant(
            &c.access_key_id,
            &c.access_key_secret,
            "sandbox-code-flow-only",
            "sandbox-code-flow-secret",
        ),
        good[1..].to_vec(),
    ] {
        let (status, refusal) = exchange(&sb, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        conforms(&reference, "POST", "/auth/token", status, &refusal);
    }
    let mut other = good.clone();
    other[0] = ("grant_type", "client_credentials");
    let (status, refusal) = exchange(&sb, &other).await;
    conforms(&reference, "POST", "/auth/token", status, &refusal);

    // Discovery.
    let discovery: Value = client()
        .get(sb.discovery_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    conforms(
        &reference,
        "GET",
        "/.well-known/cxone-configuration",
        StatusCode::OK,
        &discovery,
    );

    // A read-only key's write: 403 with the published closed error shape.
    let (_, read_only) = exchange(
        &sb,
        &password_grant(
            "sandbox-readonly-key",
            "sandbox-readonly-secret",
            &c.client_id,
            &c.client_secret,
        ),
    )
    .await;
    let response = client()
        .post(format!("{}{}", sb.api_root(), skills_path(LUKAS)))
        .bearer_auth(read_only["access_token"].as_str().unwrap())
        .json(&skills("445566", 3))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let forbidden: Value = response.json().await.unwrap();
    conforms(
        &reference,
        "POST",
        ONE_AGENT,
        StatusCode::FORBIDDEN,
        &forbidden,
    );
}

/// The manifest of the hand-written revision-2 fixtures.
fn fixtures() -> Vec<(Value, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rev2");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    manifest["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let file = dir.join(entry["file"].as_str().unwrap());
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            (entry.clone(), value)
        })
        .collect()
}

#[test]
fn hand_written_revision_2_fixtures_conform_to_the_published_schemas() {
    let reference = Reference::load();
    let fixtures = fixtures();
    assert!(fixtures.len() >= 20, "the manifest lists every fixture");
    for (entry, value) in fixtures {
        let (method, path) = (
            entry["method"].as_str().unwrap(),
            entry["path"].as_str().unwrap(),
        );
        let what = format!("{} ({method} {path})", entry["file"]);
        let schema = match entry["schema"].as_str().unwrap() {
            "body" => reference.request_body(method, path),
            status => reference
                .response(method, path, status.parse().unwrap())
                .unwrap_or_else(|| panic!("{what}: no published schema for {status}")),
        };
        assert_conforms(&what, &value, schema);
    }
}

#[test]
fn revision_1_shapes_fail_the_published_schemas() {
    let reference = Reference::load();
    for (method, path, status, rev1, departure) in [
        (
            "POST",
            "/agents/{agentId|userId}/skills",
            200,
            json!({"resultSet": {"errorCount": 0, "skillResults": [
                {"skillId": 1, "success": true, "error": null}]}}),
            "$.resultSet.skillResults[0].error: expected string, got null",
        ),
        (
            "POST",
            "/agents/skills",
            200,
            json!({"resultSet": {"errorCount": 0, "skillResults": []}}),
            "$.resultSet.errorCount: expected string, got integer",
        ),
        (
            "GET",
            "/agents/skills",
            200,
            json!({"totalRecords": 1, "businessUnitId": 4600123, "agentSkillAssignments": []}),
            "$.businessUnitId: expected string, got integer",
        ),
        (
            "GET",
            "/skills/agents",
            200,
            json!({"totalRecords": 1, "agentSkillAssignments": []}),
            "$.totalRecords: not a published property (additionalProperties is false)",
        ),
        (
            "DELETE",
            "/skills/{skillId}/agents",
            200,
            json!({"resultSet": {"errorCount": 1, "agentResults": [
                {"agentId": 1, "success": false, "error": "Agent does not exist"}]}}),
            "$.resultSet.agentResults[0].error: expected boolean, got string",
        ),
        (
            "GET",
            "/skills/{skillId}/agents",
            200,
            json!({"totalRecords": 0, "businessUnitId": 1, "lastPollTime": "2026-11-24T10:00:00Z",
                   "agentSkillAssignments": [{"agentId": 1, "skillId": 2}]}),
            "$.agentSkillAssignments[0]: missing required 'firstName'",
        ),
    ] {
        let schema = reference.response(method, path, status).unwrap();
        let errors = schema::check(&rev1, schema);
        assert!(
            errors.iter().any(|e| e == departure),
            "{method} {path}: expected `{departure}` among {errors:#?}"
        );
    }
    let body = json!({"skills": [{"skillId": 445566, "proficiency": 5}]});
    assert_eq!(
        schema::check(
            &body,
            reference.request_body("POST", "/agents/{agentId|userId}/skills")
        ),
        vec!["$.skills[0].skillId: expected string, got integer"],
        "integer ids in bodies are not what is published"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_written_exactly_as_published_are_accepted_with_string_ids() {
    let sb = start(SandboxOptions {
        string_ids: true,
        ..options()
    })
    .await;
    let bodies: Vec<(Value, Value)> = fixtures()
        .into_iter()
        .filter(|(entry, _)| entry["schema"] == "body")
        .collect();
    assert_eq!(bodies.len(), 7);
    for (entry, body) in bodies {
        let method: Method = entry["method"].as_str().unwrap().parse().unwrap();
        let path = entry["sandboxPath"].as_str().unwrap();
        let (status, _, answer, text) = send(&sb, method.clone(), path, Some(body)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{} {method} {path}: {text}",
            entry["file"]
        );
        let count = &answer["resultSet"]["errorCount"];
        assert!(count == 0 || count == "0", "{text}");
    }
    // What the fixtures did: the upsert's pairs are held, the per-agent and
    // per-skill bodies were added, changed and removed again.
    assert_eq!(held(&sb, LUKAS, TECH), Some((3, true)));
    assert_eq!(held(&sb, 1005, RETENTION), Some((3, true)));
    assert_eq!(held(&sb, 1008, SALES), Some((1, false)));
    assert_eq!(held(&sb, 1008, CHAT_FR), Some((5, true)));
    assert_eq!(held(&sb, LUKAS, BILLING_EN), None);
    assert_eq!(held(&sb, 1010, BILLING_ES), None);
}

// --- revision 2: writes -------------------------------------------------------------

fn upsert_results(answer: &Value) -> Vec<(String, String, bool)> {
    answer["resultSet"]["skillResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(
                r.get("error").is_none(),
                "upsert rows carry no error text: {r}"
            );
            (
                r["agentId"].as_str().unwrap().to_owned(),
                r["skillId"].as_str().unwrap().to_owned(),
                r["success"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_gives_every_agent_every_skill_and_never_removes() {
    let sb = start(options()).await;
    let body = json!({"agentAndSkillDetails": [
        {"agentIds": ["1001", "1004"], "skills": [
            {"skillIds": ["445566", "556677"], "proficiency": 3, "isActive": true},
            {"skillIds": ["667788"], "proficiency": 2, "isActive": false}
        ]}
    ]});
    let (status, answer) = call(&sb, Method::POST, "/agents/skills", Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer["resultSet"]["errorCount"], "0",
        "a string, as published"
    );
    let s = |a: &str, k: &str| (a.to_owned(), k.to_owned(), true);
    assert_eq!(
        upsert_results(&answer),
        vec![
            s("1001", "445566"),
            s("1001", "556677"),
            s("1004", "445566"),
            s("1004", "556677"),
            s("1001", "667788"),
            s("1004", "667788"),
        ]
    );
    assert_eq!(held(&sb, JANE, SALES), Some((3, true)), "modified");
    assert_eq!(held(&sb, JANE, TECH), Some((3, true)));
    assert_eq!(held(&sb, JANE, RETENTION), Some((2, false)), "added");
    assert_eq!(
        held(&sb, JANE, BILLING_EN),
        Some((3, true)),
        "unnamed, kept"
    );
    assert_eq!(held(&sb, JANE, CHAT_FR), Some((4, true)), "unnamed, kept");
    assert_eq!(skills_of(&sb, LUKAS), vec![SALES, TECH, RETENTION]);
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_is_active_defaults_to_true_when_new_and_keeps_the_flag_when_held() {
    let sb = start(options()).await;
    let body = json!({"agentAndSkillDetails": [
        {"agentIds": ["1002"], "skills": [{"skillIds": ["112233", "445566"], "proficiency": 2}]}
    ]});
    let (status, _) = call(&sb, Method::POST, "/agents/skills", Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        held(&sb, OMAR, BILLING_EN),
        Some((2, false)),
        "kept inactive"
    );
    assert_eq!(held(&sb, OMAR, SALES), Some((2, true)), "new: active");
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_refuses_proficiency_6_to_20_row_by_row_without_error_text() {
    let sb = start(options()).await;
    let body = json!({"agentAndSkillDetails": [
        {"agentIds": ["1004"], "skills": [
            {"skillIds": ["445566"], "proficiency": 5, "isActive": true},
            {"skillIds": ["556677", "667788"], "proficiency": 6, "isActive": true}
        ]},
        {"agentIds": ["1001"], "skills": [{"skillIds": ["445566"], "proficiency": 20, "isActive": true}]}
    ]});
    let (status, answer) = call(&sb, Method::POST, "/agents/skills", Some(body)).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(answer["resultSet"]["errorCount"], "3");
    let r = |a: &str, k: &str, ok| (a.to_owned(), k.to_owned(), ok);
    assert_eq!(
        upsert_results(&answer),
        vec![
            r("1004", "445566", true),
            r("1004", "556677", false),
            r("1004", "667788", false),
            r("1001", "445566", false),
        ]
    );
    assert_eq!(skills_of(&sb, LUKAS), vec![SALES]);
    assert_eq!(held(&sb, JANE, SALES), Some((7, true)), "unchanged");

    let too_high = json!({"agentAndSkillDetails": [{"agentIds": ["1004"],
        "skills": [{"skillIds": ["445566"], "proficiency": 21}]}]});
    let (status, answer) = call(&sb, Method::POST, "/agents/skills", Some(too_high)).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "outside 1..=20 is the whole body"
    );
    assert_eq!(
        answer["error_description"],
        "agentAndSkillDetails[0].skills[0].proficiency: must be an integer from 1 to 20, got 21"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_rows_fail_for_unknown_agents_and_skills_inactive_and_refused_skills() {
    let tenant = Tenant::from_json(TENANT_WITH_EVERY_INACTIVE_KIND).unwrap();
    let sb = start_with(
        tenant,
        SandboxOptions {
            refuse_skills: vec![20],
            ..options()
        },
    )
    .await;
    let body = json!({"agentAndSkillDetails": [
        {"agentIds": ["2", "9"], "skills": [{"skillIds": ["10", "20", "90", "77"], "proficiency": 1, "isActive": true}]},
        {"agentIds": ["1"], "skills": [{"skillIds": ["90"], "proficiency": 5, "isActive": true}]}
    ]});
    let (status, answer) = call(&sb, Method::POST, "/agents/skills", Some(body)).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    let outcomes: Vec<bool> = upsert_results(&answer).into_iter().map(|r| r.2).collect();
    assert_eq!(
        outcomes,
        vec![
            true, false, false, false, // agent 2: 10 ok, 20 refused, 90 inactive, 77 unknown
            false, false, false, false, // agent 9 is unknown
            true,  // agent 1 restates 90 exactly: succeeds although inactive
        ]
    );
    assert_eq!(answer["resultSet"]["errorCount"], "7");
    assert_eq!(held(&sb, 2, 10), Some((1, true)));
    assert_eq!(held(&sb, 2, 20), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn per_agent_writes_take_1_to_20_and_per_skill_writes_refuse_6_to_20_row_by_row() {
    let sb = start(options()).await;
    let (status, _) = call(
        &sb,
        Method::POST,
        &skills_path(LUKAS),
        Some(json!({"skills": [{"skillId": "445566", "proficiency": 20}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "20 is fine per agent");

    let (status, answer) = call(
        &sb,
        Method::POST,
        &format!("/skills/{TECH}/agents"),
        Some(json!({"agents": [
            {"agentId": "1004", "proficiency": 5, "isActive": true},
            {"agentId": "1005", "proficiency": 6, "isActive": true}
        ]})),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(
        answer["resultSet"]["agentResults"][0],
        json!({"agentId": LUKAS, "success": true})
    );
    let refused = &answer["resultSet"]["agentResults"][1];
    assert_eq!(refused["success"], false);
    assert!(
        refused["error"].as_str().unwrap().contains("1 to 5"),
        "{refused}"
    );
    assert_eq!(held(&sb, LUKAS, TECH), Some((5, true)));
    assert_eq!(held(&sb, 1005, TECH), None);

    let (status, answer) = call(
        &sb,
        Method::PUT,
        &format!("/skills/{TECH}/agents"),
        Some(json!({"agents": [{"agentId": "1004", "proficiency": 7, "isActive": true}]})),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(answer["resultSet"]["errorCount"], 1);
    assert_eq!(held(&sb, LUKAS, TECH), Some((5, true)));

    let (status, answer) = call(
        &sb,
        Method::PUT,
        &format!("/skills/{TECH}/agents"),
        Some(json!({"agents": [{"agentId": "1004", "proficiency": 0}]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer["error_description"],
        "agents[0].proficiency: must be an integer from 1 to 20, got 0"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn more_than_1000_rows_or_pairs_is_413_and_changes_nothing() {
    let sb = start(options()).await;
    let before = sb.assignments();
    let rows = |n: u64, field: &str| -> Vec<Value> {
        (1..=n)
            .map(|i| json!({field: (900_000 + i).to_string(), "proficiency": 2, "isActive": true}))
            .collect()
    };
    for (method, path, body) in [
        (
            Method::POST,
            skills_path(LUKAS),
            json!({"skills": rows(1001, "skillId")}),
        ),
        (
            Method::PUT,
            skills_path(LUKAS),
            json!({"skills": rows(1001, "skillId")}),
        ),
        (
            Method::DELETE,
            skills_path(LUKAS),
            json!({"skills": rows(1001, "skillId")}),
        ),
        (
            Method::POST,
            format!("/skills/{SALES}/agents"),
            json!({"agents": rows(1001, "agentId")}),
        ),
        (
            Method::DELETE,
            format!("/skills/{SALES}/agents"),
            json!({"agents": rows(1001, "agentId")}),
        ),
        (
            Method::POST,
            "/agents/skills".to_owned(),
            json!({"agentAndSkillDetails": [{"agentIds": ["1004", "1005"], "skills": [
                {"skillIds": (1..=250).map(|i| i.to_string()).collect::<Vec<_>>(), "proficiency": 2},
                {"skillIds": (251..=501).map(|i| i.to_string()).collect::<Vec<_>>(), "proficiency": 2}
            ]}]}),
        ),
    ] {
        let (status, answer) = call(&sb, method.clone(), &path, Some(body)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{method} {path}");
        assert_eq!(answer["error"], "RequestTooLarge");
        assert!(
            answer["error_description"]
                .as_str()
                .unwrap()
                .contains("at most 1000"),
            "{answer}"
        );
    }
    assert_eq!(sb.assignments(), before);

    // Exactly 1,000 pairs is one request's worth: its rows are judged.
    let body = json!({"agentAndSkillDetails": [{"agentIds": ["1004", "1005"], "skills": [
        {"skillIds": (1..=500).map(|i| i.to_string()).collect::<Vec<_>>(), "proficiency": 2}]}]});
    let (status, _) = call(&sb, Method::POST, "/agents/skills", Some(body)).await;
    assert_eq!(
        status,
        StatusCode::MULTI_STATUS,
        "unknown skills fail their rows"
    );
    let (status, _) = call(
        &sb,
        Method::DELETE,
        &skills_path(LUKAS),
        Some(json!({"skills": rows(1000, "skillId")})),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
}

#[tokio::test(flavor = "multi_thread")]
async fn posts_and_deletes_never_remove_what_they_do_not_name_even_under_replace() {
    let sb = start(SandboxOptions {
        put_semantics: PutSemantics::Replace,
        ..options()
    })
    .await;
    let writes = [
        (
            Method::POST,
            skills_path(JANE),
            json!({"skills": [{"skillId": "667788", "proficiency": 2}]}),
        ),
        (
            Method::DELETE,
            skills_path(JANE),
            json!({"skills": [{"skillId": "778899"}]}),
        ),
        (
            Method::POST,
            format!("/skills/{BILLING_EN}/agents"),
            json!({"agents": [{"agentId": "1004", "proficiency": 2}]}),
        ),
        (
            Method::DELETE,
            format!("/skills/{BILLING_EN}/agents"),
            json!({"agents": [{"agentId": "1007"}]}),
        ),
        (
            Method::POST,
            "/agents/skills".to_owned(),
            json!({"agentAndSkillDetails": [
            {"agentIds": ["1001"], "skills": [{"skillIds": ["112234"], "proficiency": 1}]}]}),
        ),
    ];
    for (method, path, body) in writes {
        let (status, answer) = call(&sb, method.clone(), &path, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{method} {path}: {answer}");
    }
    assert_eq!(
        skills_of(&sb, JANE),
        vec![BILLING_EN, BILLING_ES, SALES, TECH, RETENTION],
        "only Chat FR, named by the DELETE, is gone"
    );
    assert_eq!(held(&sb, OMAR, BILLING_EN), Some((5, false)));
}

#[tokio::test(flavor = "multi_thread")]
async fn both_puts_modify_or_replace_as_the_semantics_say() {
    let sb = start(options()).await;
    for semantics in [PutSemantics::Modify, PutSemantics::Replace] {
        sb.set_put_semantics(semantics);
        // Restore a known state: Jane holds four skills, Billing EN has three agents.
        for (agent, skill, value) in [
            (JANE, BILLING_EN, Some((3, true))),
            (JANE, SALES, Some((7, true))),
            (JANE, TECH, Some((5, true))),
            (JANE, CHAT_FR, Some((4, true))),
            (OMAR, BILLING_EN, Some((5, false))),
            (1007, BILLING_EN, Some((7, true))),
        ] {
            sb.set_assignment(agent, skill, value).unwrap();
        }
        let (status, _) = call(
            &sb,
            Method::PUT,
            &skills_path(JANE),
            Some(json!({"skills": [{"skillId": "445566", "proficiency": 2, "isActive": true}]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call(
            &sb,
            Method::PUT,
            &format!("/skills/{BILLING_EN}/agents"),
            Some(json!({"agents": [{"agentId": "1007", "proficiency": 1, "isActive": true}]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let holders: Vec<u64> = sb
            .assignments()
            .iter()
            .filter(|a| a.skill_id == BILLING_EN)
            .map(|a| a.agent_id)
            .collect();
        match semantics {
            PutSemantics::Modify => {
                assert_eq!(skills_of(&sb, JANE), vec![BILLING_EN, SALES, TECH, CHAT_FR]);
                assert_eq!(holders, vec![JANE, OMAR, 1007]);
            }
            PutSemantics::Replace => {
                assert_eq!(skills_of(&sb, JANE), vec![SALES], "per-agent PUT replaced");
                assert_eq!(holders, vec![1007], "per-skill PUT replaced");
            }
        }
        assert_eq!(held(&sb, JANE, SALES), Some((2, true)));
        assert_eq!(held(&sb, 1007, BILLING_EN), Some((1, true)));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn per_skill_delete_answers_a_boolean_error_and_the_pair_delete_200_or_404() {
    let sb = start(SandboxOptions {
        refuse_skills: vec![RETENTION],
        ..options()
    })
    .await;
    let (status, answer) = call(
        &sb,
        Method::DELETE,
        &format!("/skills/{BILLING_EN}/agents"),
        Some(json!({"agents": [{"agentId": "1001"}, {"agentId": "1003"}, {"agentId": "4242"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(
        answer,
        json!({"resultSet": {"errorCount": 2, "agentResults": [
            {"agentId": 1001, "success": true, "error": false},
            {"agentId": 1003, "success": false, "error": true},
            {"agentId": 4242, "success": false, "error": true}
        ]}})
    );
    assert_eq!(held(&sb, JANE, BILLING_EN), None);

    let pair = |skill: u64, agent: &str| format!("/skills/{skill}/agents/{agent}");
    let (status, _, _, text) = send(&sb, Method::DELETE, &pair(BILLING_EN, "1007"), None).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, ""),
        "200 with no content"
    );
    assert_eq!(held(&sb, 1007, BILLING_EN), None);
    for (path, what) in [
        (pair(BILLING_EN, "1007"), "no longer assigned"),
        (pair(BILLING_EN, "4242"), "unknown agent"),
        (pair(4242, "1001"), "unknown skill"),
    ] {
        let (status, body) = call(&sb, Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{what}");
        assert_eq!(body["error"], "NotFound");
    }
    let (status, body) = call(&sb, Method::DELETE, &pair(RETENTION, "1006"), None).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a refused skill has no row to fail"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("refuse-skill")
    );
    assert_eq!(held(&sb, 1006, RETENTION), Some((4, true)));

    let (status, answer) = call(
        &sb,
        Method::DELETE,
        &format!("/skills/{RETENTION}/agents"),
        Some(json!({"agents": [{"agentId": "1006"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "refused row by row");
    assert_eq!(answer["resultSet"]["agentResults"][0]["error"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn string_ids_are_accepted_everywhere_and_integers_refused_under_string_ids() {
    let strict = start(SandboxOptions {
        string_ids: true,
        ..options()
    })
    .await;
    let loose = start(options()).await;
    let cases = [
        (
            Method::POST,
            skills_path(LUKAS),
            json!({"skills": [{"skillId": "445566", "proficiency": 4}]}),
            json!({"skills": [{"skillId": 445566, "proficiency": 4}]}),
            "skills[0].skillId",
        ),
        (
            Method::DELETE,
            skills_path(JANE),
            json!({"skills": [{"skillId": "778899"}]}),
            json!({"skills": [{"skillId": 778899}]}),
            "skills[0].skillId",
        ),
        (
            Method::POST,
            format!("/skills/{TECH}/agents"),
            json!({"agents": [{"agentId": "1005", "proficiency": 2}]}),
            json!({"agents": [{"agentId": 1005, "proficiency": 2}]}),
            "agents[0].agentId",
        ),
        (
            Method::POST,
            "/agents/skills".to_owned(),
            json!({"agentAndSkillDetails": [{"agentIds": ["1006"], "skills": [{"skillIds": ["112233"], "proficiency": 1}]}]}),
            json!({"agentAndSkillDetails": [{"agentIds": ["1006"], "skills": [{"skillIds": [112233], "proficiency": 1}]}]}),
            "agentAndSkillDetails[0].skills[0].skillIds[0]",
        ),
    ];
    for (method, path, strings, integers, field) in cases {
        let (status, answer) = call(&strict, method.clone(), &path, Some(integers.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}");
        let description = answer["error_description"].as_str().unwrap();
        assert!(
            description.starts_with(&format!("{field}: expected a string"))
                && description.contains("--string-ids"),
            "{description}"
        );
        let (status, _) = call(&strict, method.clone(), &path, Some(strings)).await;
        assert_eq!(status, StatusCode::OK, "{method} {path} with string ids");
        let (status, _) = call(&loose, method.clone(), &path, Some(integers)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{method} {path}: integers pass by default"
        );
    }
    let pairs = |sb: &SandboxHandle| -> Vec<(u64, u64, u8, bool)> {
        sb.assignments()
            .iter()
            .map(|a| (a.agent_id, a.skill_id, a.proficiency, a.is_active))
            .collect()
    };
    assert_eq!(
        pairs(&strict),
        pairs(&loose),
        "the same writes, the same tenant"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_status_sets_the_status_of_answers_with_failed_rows_only() {
    for partial in [207u16, 206, 400, 200] {
        let sb = start(SandboxOptions {
            partial_status: partial,
            ..options()
        })
        .await;
        let expected = StatusCode::from_u16(partial).unwrap();
        let failing = [
            (
                Method::POST,
                skills_path(JANE),
                json!({"skills": [{"skillId": "112233", "proficiency": 1}]}),
            ),
            (
                Method::PUT,
                format!("/skills/{SALES}/agents"),
                json!({"agents": [{"agentId": "1010", "proficiency": 1}]}),
            ),
            (
                Method::DELETE,
                format!("/skills/{SALES}/agents"),
                json!({"agents": [{"agentId": "1010"}]}),
            ),
            (
                Method::POST,
                "/agents/skills".to_owned(),
                json!({"agentAndSkillDetails": [
                {"agentIds": ["1010"], "skills": [{"skillIds": ["445566"], "proficiency": 9}]}]}),
            ),
        ];
        for (method, path, body) in failing {
            let (status, answer) = call(&sb, method.clone(), &path, Some(body)).await;
            assert_eq!(status, expected, "{partial}: {method} {path}");
            assert!(answer["resultSet"].is_object(), "the same body: {answer}");
        }
        let (status, _) = call(
            &sb,
            Method::POST,
            &skills_path(LUKAS),
            Some(json!({"skills": [{"skillId": "445566", "proficiency": 1}]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{partial}: every row succeeded");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_bulk_endpoints_answers_405_to_the_bulk_writes_and_reads_still_work() {
    let sb = start(SandboxOptions {
        no_bulk_endpoints: true,
        ..options()
    })
    .await;
    let before = sb.assignments();
    let agents = json!({"agents": [{"agentId": "1004", "proficiency": 2}]});
    for (method, path, body, allow) in [
        (
            Method::POST,
            "/agents/skills".to_owned(),
            Some(json!({"agentAndSkillDetails": [
            {"agentIds": ["1004"], "skills": [{"skillIds": ["445566"], "proficiency": 2}]}]})),
            "GET",
        ),
        (
            Method::POST,
            format!("/skills/{SALES}/agents"),
            Some(agents.clone()),
            "GET",
        ),
        (
            Method::PUT,
            format!("/skills/{SALES}/agents"),
            Some(agents.clone()),
            "GET",
        ),
        (
            Method::DELETE,
            format!("/skills/{SALES}/agents"),
            Some(agents),
            "GET",
        ),
        (
            Method::DELETE,
            format!("/skills/{SALES}/agents/{JANE}"),
            None,
            "",
        ),
    ] {
        let (status, headers, answer, _) = send(&sb, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(headers["allow"], allow, "{method} {path}");
        assert_eq!(answer["error"], "MethodNotAllowed");
    }
    assert_eq!(sb.assignments(), before);
    for path in [
        "/agents/skills".to_owned(),
        format!("/skills/agents?skills={SALES}"),
        format!("/skills/{SALES}/agents"),
    ] {
        assert_eq!(get(&sb, &path).await.0, StatusCode::OK, "{path}");
    }
    let (status, _) = call(
        &sb,
        Method::POST,
        &skills_path(LUKAS),
        Some(json!({"skills": [{"skillId": "445566", "proficiency": 2}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "per-agent writes remain");
}

#[tokio::test(flavor = "multi_thread")]
async fn fail_agent_answers_503_to_every_write_naming_it_and_changes_nothing() {
    let sb = start(SandboxOptions {
        fail_agents: vec![LUKAS],
        retry_after_503: Some(3),
        ..options()
    })
    .await;
    let before = sb.assignments();
    for (method, path, body) in [
        (
            Method::POST,
            skills_path(LUKAS),
            Some(json!({"skills": [{"skillId": "445566", "proficiency": 2}]})),
        ),
        (
            Method::PUT,
            skills_path(LUKAS_UUID_UPPER),
            Some(json!({"skills": [{"skillId": "445566", "proficiency": 2, "isActive": true}]})),
        ),
        (
            Method::DELETE,
            skills_path(LUKAS),
            Some(json!({"skills": [{"skillId": "445566"}]})),
        ),
        (
            Method::POST,
            "/agents/skills".to_owned(),
            Some(json!({"agentAndSkillDetails": [
            {"agentIds": ["1001", "1004"], "skills": [{"skillIds": ["445566"], "proficiency": 2}]}]})),
        ),
        (
            Method::POST,
            format!("/skills/{SALES}/agents"),
            Some(json!({"agents": [
            {"agentId": "1003", "proficiency": 2}, {"agentId": 1004, "proficiency": 2}]})),
        ),
        (
            Method::DELETE,
            format!("/skills/{SALES}/agents"),
            Some(json!({"agents": [{"agentId": "1004"}]})),
        ),
        (
            Method::DELETE,
            format!("/skills/{SALES}/agents/{LUKAS}"),
            None,
        ),
    ] {
        let (status, headers, answer, _) = send(&sb, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{method} {path}");
        assert_eq!(headers["retry-after"], "3");
        assert!(
            answer["error_description"]
                .as_str()
                .unwrap()
                .contains("1004")
        );
    }
    assert_eq!(sb.assignments(), before, "nothing changed");
    assert_eq!(
        get(&sb, &skills_path(LUKAS)).await.0,
        StatusCode::OK,
        "reads pass"
    );
    let (status, _) = call(
        &sb,
        Method::POST,
        "/agents/skills",
        Some(json!({"agentAndSkillDetails": [{"agentIds": ["1005"], "skills": [{"skillIds": ["445566"], "proficiency": 2}]}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "a write naming other agents passes");
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_503_is_sent_on_injected_faults() {
    let sb = start(SandboxOptions {
        fault_rate: 1.0,
        retry_after_503: Some(7),
        ..options()
    })
    .await;
    let (status, headers, _, _) = send(&sb, Method::GET, "/skills", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "7");

    let plain = start(SandboxOptions {
        fault_rate: 1.0,
        ..options()
    })
    .await;
    let (status, headers, _, _) = send(&plain, Method::GET, "/skills", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.get("retry-after").is_none(), "only when asked for");
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_replaces_makes_the_upsert_drop_each_named_agents_other_skills() {
    let sb = start(SandboxOptions {
        upsert_replaces: true,
        ..options()
    })
    .await;
    let body = json!({"agentAndSkillDetails": [
        {"agentIds": ["1001", "1004"], "skills": [{"skillIds": ["445566"], "proficiency": 2, "isActive": true}]},
        {"agentIds": ["1001"], "skills": [{"skillIds": ["667788"], "proficiency": 1, "isActive": true}]}
    ]});
    let (status, answer) = call(&sb, Method::POST, "/agents/skills", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "the answer does not tell");
    assert_eq!(answer["resultSet"]["errorCount"], "0");
    assert_eq!(
        skills_of(&sb, JANE),
        vec![SALES, RETENTION],
        "the rest is gone"
    );
    assert_eq!(skills_of(&sb, LUKAS), vec![SALES]);
    assert_eq!(
        held(&sb, OMAR, BILLING_EN),
        Some((5, false)),
        "unnamed agents keep theirs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn edit_before_first_write_lands_after_earlier_reads_and_before_the_write() {
    let sb = start(options()).await;
    let (_, read) = get(&sb, &skills_path(JANE)).await;
    let polled = read["lastPollTime"].as_str().unwrap().to_owned();
    sb.edit_before_first_write(vec![
        TenantEdit::new(JANE, RETENTION, Some((9, true))).unwrap(),
        TenantEdit::new(JANE, CHAT_FR, None).unwrap(),
    ])
    .unwrap();
    assert_eq!(held(&sb, JANE, RETENTION), None, "queued, not applied");
    let (_, again) = get(&sb, &skills_path(JANE)).await;
    assert_eq!(again["totalRecords"], 4, "reads do not apply the edits");

    // The write sees the edited tenant: its POST of Retention now fails.
    let (status, answer) = call(
        &sb,
        Method::POST,
        &skills_path(JANE),
        Some(json!({"skills": [{"skillId": "667788", "proficiency": 2}]})),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(
        answer["resultSet"]["skillResults"][0]["error"],
        "Skill is already assigned to agent"
    );
    assert_eq!(held(&sb, JANE, RETENTION), Some((9, true)));
    assert_eq!(held(&sb, JANE, CHAT_FR), None);
    let edited = updated_at(&sb, JANE, RETENTION).await;
    assert!(edited > polled, "{edited} after the read at {polled}");

    // Applied once: a later write does not re-apply them.
    sb.set_assignment(JANE, CHAT_FR, Some((4, true))).unwrap();
    let (status, _) = call(
        &sb,
        Method::POST,
        &skills_path(LUKAS),
        Some(json!({"skills": [{"skillId": "445566", "proficiency": 2}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(held(&sb, JANE, CHAT_FR), Some((4, true)));

    assert!(sb.set_assignment(4242, SALES, Some((1, true))).is_err());
    assert!(sb.set_assignment(JANE, SALES, Some((21, true))).is_err());
    assert!(TenantEdit::new(JANE, SALES, Some((0, true))).is_err());
    assert!(
        sb.edit_before_first_write(vec![TenantEdit::new(JANE, 4242, None).unwrap()])
            .is_err()
    );
}

// --- revision 2: token and discovery ------------------------------------------------------

/// The payload of a JWT.
fn claims(jwt: &str) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts: {jwt}");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_are_optional_and_may_come_as_http_basic() {
    let sb = start(SandboxOptions::default()).await;
    let c = sb.credentials();
    let user = [
        ("grant_type", "password"),
        ("username", c.access_key_id.as_str()),
        ("password", c.access_key_secret.as_str()),
    ];
    let token = |basic: Option<(&str, &str)>, form: Vec<(&str, &str)>| {
        let mut request = client().post(sb.token_url()).form(&form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            (status, headers, response.json::<Value>().await.unwrap())
        }
    };
    let (status, headers, body) = token(None, user.to_vec()).await;
    assert_eq!(status, StatusCode::OK, "no client: {body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    let (status, _, body) = token(Some((&c.client_id, &c.client_secret)), user.to_vec()).await;
    assert_eq!(status, StatusCode::OK, "HTTP Basic: {body}");
    assert_eq!(
        claims(body["id_token"].as_str().unwrap())["aud"],
        c.client_id
    );

    for (basic, extra, error) in [
        (
            Some((c.client_id.as_str(), "wrong")),
            vec![],
            "invalid_client",
        ),
        (
            Some(("sandbox-code-flow-only", "sandbox-code-flow-secret")),
            vec![],
            "unauthorized_client",
        ),
        (
            Some((c.client_id.as_str(), c.client_secret.as_str())),
            vec![("client_id", c.client_id.as_str())],
            "invalid_request",
        ),
        (
            None,
            vec![("client_id", c.client_id.as_str())],
            "invalid_request",
        ),
    ] {
        let mut form = user.to_vec();
        form.extend(extra);
        let (status, headers, body) = token(basic, form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(body["error"], error);
        assert_eq!(headers["cache-control"], "no-store");
    }
    let response = client()
        .post(sb.token_url())
        .header("Authorization", "Basic not-base64!")
        .form(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn issued_tokens_are_jwts_carrying_the_tenant_id_that_discovery_answers_for() {
    let sb = start(SandboxOptions::default()).await;
    let c = sb.credentials();
    let form = password_grant(
        &c.access_key_id,
        &c.access_key_secret,
        &c.client_id,
        &c.client_secret,
    );
    let (status, body) = exchange(&sb, &form).await;
    assert_eq!(status, StatusCode::OK);
    let tenant = sb.tenant_id().to_string();
    assert_eq!(
        tenant, "11eb5d7a-3c2f-4b8e-9f10-5a6b7c8d9e0f",
        "from examples/tenant.json"
    );
    for name in ["id_token", "access_token"] {
        let token = body[name].as_str().unwrap();
        assert_eq!(claims(token)["tenantId"], tenant, "{name}");
        assert!(token.contains("sbx-"), "{name} carries the leak marker");
    }
    assert!(body["refresh_token"].as_str().unwrap().contains("sbx-"));
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(get_with_token(&sb, access, "/agents").await, StatusCode::OK);

    // Discovery from the token's claim: the API is the sandbox itself.
    let discover = |tenant: String| {
        let url = format!(
            "{}/.well-known/cxone-configuration?tenantId={tenant}",
            sb.api_base()
        );
        async move {
            let response = client().get(url).send().await.unwrap();
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, config) = discover(claims(access)["tenantId"].as_str().unwrap().to_owned()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["tenantId"], tenant);
    assert_eq!(config["api_endpoint"], sb.api_base());
    assert_eq!(config["auth_endpoint"], sb.api_base());
    assert_eq!(config["private"], false);
    assert_eq!(config["area"], "na1");
    assert_eq!(config["cluster"], "SBX1");
    assert_eq!(
        format!("{}/auth/token", config["auth_endpoint"].as_str().unwrap()),
        sb.token_url()
    );
    assert_eq!(discover(tenant.to_uppercase()).await.0, StatusCode::OK);
    for other in [
        "00000000-0000-4000-8000-000000000000",
        "not-a-uuid",
        "11eb5d7a3c2f4b8e9f105a6b7c8d9e0f",
    ] {
        let (status, body) = discover(other.to_owned()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{other}");
        assert_eq!(body["error"], "NotFound");
    }
    let missing = client()
        .get(format!("{}/.well-known/cxone-configuration", sb.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);

    // A token handed out without an exchange is discoverable the same way.
    let minted = sb.issue_token();
    assert_eq!(claims(&minted)["tenantId"], tenant);
    assert_eq!(
        get_with_token(&sb, &minted, "/skills").await,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_file_without_revision_2_fields_loads_with_defaults() {
    let tenant = Tenant::from_json(TENANT_WITH_INACTIVE_SKILL).unwrap();
    let sb = start_with(tenant, options()).await;
    assert_eq!(
        sb.tenant_id().to_string(),
        "5a1d2b7e-0c3f-4e8a-9d61-2f4b8c7e1a90"
    );
    assert_eq!(sb.business_unit_id(), 4_600_001);
    let (status, _) = exchange(&sb, &password_grant("k", "s", "c", "cs")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "clients allow the password grant by default"
    );
    let (_, body) = get(&sb, "/skills").await;
    assert_eq!(
        body["skills"][0]["mediaTypeId"], 4,
        "the default media type"
    );

    for (field, bad) in [
        ("tenantId", r#""nope""#),
        ("businessUnitId", "0"),
        ("area", r#""n a""#),
    ] {
        let json = TENANT_WITH_INACTIVE_SKILL.replacen('{', &format!("{{\"{field}\": {bad},"), 1);
        let error = Tenant::from_json(&json).unwrap_err().to_string();
        assert!(error.contains(field), "{error}");
    }
    let no_password_grant = TENANT_WITH_INACTIVE_SKILL.replace(
        r#""clientSecret": "cs"}"#,
        r#""clientSecret": "cs", "passwordGrant": false}"#,
    );
    let error = Tenant::from_json(&no_password_grant)
        .unwrap_err()
        .to_string();
    assert!(error.contains("passwordGrant"), "{error}");
}

/// Runs `cxskill sandbox` with `args` on a free port, waits for its banner,
/// and returns the child and the banner. The caller stops it.
fn sandbox_command(args: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cxskill"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--token", TOKEN])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run cxskill sandbox");
    let stdout = child.stdout.take().expect("stdout");
    let mut banner = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("banner line");
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("CXSKILL_TOKEN=") {
            break;
        }
    }
    (child, banner)
}

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_command_wires_every_revision_2_flag() {
    let (mut child, banner) = sandbox_command(&[
        "--string-ids",
        "--partial-status",
        "206",
        "--agent-skills-page",
        "2",
        "--retry-after-503",
        "9",
        "--no-bulk-endpoints",
        "--fail-agent",
        "1004",
        "--fail-agent",
        "1005",
    ]);
    let addr = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("listening on"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no address in:\n{banner}"))
        .to_owned();
    let root = format!("http://{addr}/inContactAPI/services/v34.0");
    for expected in [
        "ids strings only",
        "partial answers 206",
        "bulk endpoints off (405)",
        "one-agent page 2",
        "Retry-After 9 s on 503",
        "writes naming agent 1004, 1005 fail (503)",
        "/.well-known/cxone-configuration?tenantId=",
        "export CXSKILL_TOKEN_URL=",
        "export CXSKILL_CLIENT_SECRET=",
    ] {
        assert!(
            banner.contains(expected),
            "{expected} missing from:\n{banner}"
        );
    }
    assert!(!banner.contains("CXSKILL_API_BASE"), "{banner}");
    let request = |method: Method, path: &str, body: Value| {
        client()
            .request(method, format!("{root}{path}"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    let integer = json!({"skills": [{"skillId": 445566, "proficiency": 2}]});
    let failing = json!({"skills": [{"skillId": "112233", "proficiency": 2}]});
    let outcomes = [
        (
            request(Method::POST, "/agents/1006/skills", integer)
                .await
                .unwrap()
                .status(),
            400,
        ),
        (
            request(Method::POST, "/agents/1001/skills", failing)
                .await
                .unwrap()
                .status(),
            206,
        ),
        (
            request(Method::POST, "/agents/skills", json!({}))
                .await
                .unwrap()
                .status(),
            405,
        ),
        (
            request(Method::POST, "/agents/1005/skills", json!({}))
                .await
                .unwrap()
                .status(),
            503,
        ),
    ];
    let page = request(Method::GET, "/agents/1001/skills", Value::Null)
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let retry_after = request(Method::DELETE, "/agents/1004/skills", json!({}))
        .await
        .unwrap()
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    // SIGINT, as a user's Ctrl-C: the sandbox shuts down and exits 0.
    // SAFETY: kill(2) on our own child's pid, with a valid signal number.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let exit = child.wait().expect("wait for cxskill sandbox");
    for (status, expected) in outcomes {
        assert_eq!(status.as_u16(), expected);
    }
    assert_eq!(page["agentSkillAssignments"].as_array().unwrap().len(), 2);
    assert_eq!(retry_after.as_deref(), Some("9"));
    assert!(exit.success(), "{exit:?}");
}
