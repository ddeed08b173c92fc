//! The sandbox tenant, checked from the outside: each test starts its own
//! sandbox on 127.0.0.1:0 and talks to it with a plain reqwest client over
//! loopback, never through cxskill's own client, so the sandbox is
//! verified independently of the code it is meant to test.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cxskill::sandbox::{self, PutSemantics, SandboxHandle, SandboxOptions, Tenant};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

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
