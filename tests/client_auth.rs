//! Authentication and discovery on contract revision 2, end to end: the
//! real binary connects with only a token URL and credentials, finds the
//! API host from the token, and stops with exit 3 and the reason for each
//! way that can fail, before any token reaches a host it should not. A
//! request with a deadline starts no attempt after it, however the
//! attempt before ended (a 401 and a renewed token, a cut-off answer).

mod common;
mod stub;

use std::process::Output;

use axum::Router;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Rehearsal, TempDir, cxskill_unconfigured, fast, read, stderr, stdout};
use cxskill::sandbox::SandboxOptions;
use serde_json::{Value, json};
use stub::{Stub, jwt_for};

fn both(output: &Output) -> String {
    format!("{}\n{}", stdout(output), stderr(output))
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", both(output)))
}

/// `http://127.0.0.1:PORT` with nothing listening on the port.
fn closed_port_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

// --- Discovery -------------------------------------------------------------

#[test]
fn the_api_host_is_discovered_from_the_token_with_no_api_base_configured() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    // What the harness runs with: a token URL and credentials, nothing
    // naming the API host.
    let command = sandbox.command(&["plan", "examples/roster.csv"]);
    let configured: Vec<String> = command
        .get_envs()
        .filter(|(_, value)| value.is_some())
        .map(|(key, _)| key.to_string_lossy().into_owned())
        .filter(|key| key.starts_with("CXSKILL_"))
        .collect();
    assert!(
        !configured.iter().any(|k| k == "CXSKILL_API_BASE"),
        "{configured:?}"
    );
    assert!(configured.iter().any(|k| k == "CXSKILL_TOKEN_URL"));

    let out = sandbox.cxskill(&fast(&[
        "plan",
        "examples/roster.csv",
        "--detailed-exitcode",
    ]));
    assert_eq!(out.status.code(), Some(4), "{}", both(&out));
    let requests = sandbox.requests();
    let order: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(order[0], "/auth/token", "{order:?}");
    assert_eq!(order[1], "/.well-known/cxone-configuration", "{order:?}");
    let discovery = &requests[1];
    assert_eq!(discovery.method, "GET");
    assert_eq!(
        discovery.query.as_deref(),
        Some(format!("tenantId={}", sandbox.handle().tenant_id()).as_str())
    );
    assert!(
        !discovery.authorization_present,
        "discovery is asked without a token"
    );
    assert_eq!(discovery.status, 200);
    // Everything else went to the discovered API root.
    assert!(requests.len() > 2);
    for r in &requests[2..] {
        assert!(
            r.path.starts_with("/inContactAPI/services/v34.0/"),
            "{} {}",
            r.method,
            r.path
        );
    }
}

#[test]
fn the_token_request_and_discovery_carry_a_logged_request_id_and_the_runs_traceparent_too() {
    // "Every request from cxskill carries X-Request-ID and a traceparent":
    // the token exchange and discovery as much as the API calls.
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let out = sandbox.cxskill(&fast(&["plan", "examples/roster.csv", "-vv"]));
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let requests = sandbox.requests();
    let mut traces = std::collections::BTreeSet::new();
    let mut ids = std::collections::BTreeSet::new();
    for r in &requests {
        let what = format!("{} {}", r.method, r.path);
        let id = r
            .request_id
            .as_deref()
            .unwrap_or_else(|| panic!("no X-Request-ID on {what}"));
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{what}: {id}");
        assert!(ids.insert(id.to_owned()), "{what}: request id reused");
        assert!(
            stderr(&out).contains(id),
            "{what}: request id {id} not logged at -vv:\n{}",
            stderr(&out)
        );
        let traceparent = r
            .traceparent
            .as_deref()
            .unwrap_or_else(|| panic!("no traceparent on {what}"));
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{what}: {traceparent}");
        traces.insert(parts[1].to_owned());
    }
    assert!(
        requests.iter().any(|r| r.path == "/auth/token")
            && requests
                .iter()
                .any(|r| r.path == "/.well-known/cxone-configuration")
    );
    assert_eq!(traces.len(), 1, "one trace per run: {traces:?}");
}

#[test]
fn config_show_says_the_api_host_is_discovered_at_run_time_and_asks_nothing() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let out = sandbox.cxskill(&["config", "show"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("api_base"))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no api_base line:\n{}", stdout(&out)));
    assert!(line.contains("discovered at run time"), "{line}");

    let out = sandbox.cxskill(&["config", "show", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(json_of(&out)["settings"]["api_base"]["value"], Value::Null);
    assert!(
        sandbox.requests().is_empty(),
        "config show sent {:?}",
        sandbox.requests()
    );
}

// --- Token refusals ----------------------------------------------------------

/// `auth check --output json` and `plan` with `env` over the sandbox's
/// credentials: each exits 3, says `needles` on stderr, names `failure`,
/// and sends nothing to the API.
fn refused(sandbox: &Rehearsal, env: &[(&str, &str)], failure: &str, needles: &[&str]) {
    let out = sandbox.cxskill_with(&["auth", "check", "--output", "json"], env, None);
    assert_eq!(out.status.code(), Some(3), "auth check: {}", both(&out));
    for needle in needles {
        assert!(
            stderr(&out).contains(needle),
            "auth check does not say `{needle}`:\n{}",
            stderr(&out)
        );
    }
    assert_eq!(json_of(&out)["failure"], failure, "{}", both(&out));

    let out = sandbox.cxskill_with(&fast(&["plan", "examples/roster.csv"]), env, None);
    assert_eq!(out.status.code(), Some(3), "plan: {}", both(&out));
    for needle in needles {
        assert!(
            stderr(&out).contains(needle),
            "plan does not say `{needle}`:\n{}",
            stderr(&out)
        );
    }
    let api: Vec<String> = sandbox
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/inContactAPI/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(api.is_empty(), "the API was asked: {api:?}");
}

#[test]
fn a_wrong_access_key_secret_is_invalid_grant_exit_3() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    refused(
        &sandbox,
        &[("CXSKILL_ACCESS_KEY_SECRET", "not-the-access-key-secret")],
        "wrong_secret",
        &[
            "400 invalid_grant",
            "the access key id or secret is wrong",
            "Unknown access key id or wrong access key secret",
        ],
    );
}

#[test]
fn a_wrong_client_secret_is_invalid_client_exit_3() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    refused(
        &sandbox,
        &[("CXSKILL_CLIENT_SECRET", "not-the-client-secret")],
        "wrong_client",
        &["400 invalid_client", "the client id or secret is wrong"],
    );
}

#[test]
fn a_client_without_the_password_grant_is_unauthorized_client_exit_3() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    refused(
        &sandbox,
        &[
            ("CXSKILL_CLIENT_ID", "sandbox-code-flow-only"),
            ("CXSKILL_CLIENT_SECRET", "sandbox-code-flow-secret"),
        ],
        "client_not_allowed",
        &[
            "400 unauthorized_client",
            "not allowed to use the password grant",
            "Client 'sandbox-code-flow-only' is not allowed the password grant",
        ],
    );
}

#[test]
fn a_token_url_that_is_not_a_token_endpoint_is_exit_3() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let nope = format!("{}/nope/token", sandbox.handle().api_base());
    refused(
        &sandbox,
        &[("CXSKILL_TOKEN_URL", &nope)],
        "wrong_token_url",
        &[&nope, "404 Not Found", "not a token endpoint"],
    );

    // A sign-in page that answers 200 with HTML.
    let page = Stub::start(Router::new().route(
        "/login",
        post(|| async { axum::response::Html("<html><body>Sign in</body></html>") }),
    ));
    let login = format!("{}/login", page.base());
    refused(
        &sandbox,
        &[("CXSKILL_TOKEN_URL", &login)],
        "wrong_token_url",
        &[
            &login,
            "answered 200 OK but not with a token",
            "check the token URL",
        ],
    );
}

/// A real token of the sandbox, its payload naming another tenant.
fn token_for_another_tenant(sandbox: &Rehearsal, tenant: &str) -> String {
    let token = sandbox.handle().issue_token();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT");
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url"))
            .expect("JSON payload");
    assert_eq!(
        payload["tenantId"],
        sandbox.handle().tenant_id().to_string()
    );
    payload["tenantId"] = json!(tenant);
    format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    )
}

#[test]
fn a_tenant_discovery_does_not_know_is_exit_3_and_no_api_is_asked() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let other = "00000000-1111-4222-8333-444444444444";
    let token = token_for_another_tenant(&sandbox, other);
    refused(
        &sandbox,
        &[("CXSKILL_TOKEN", &token)],
        "unknown_tenant",
        &[&format!("does not know tenant {other} (404)")],
    );
    let requests = sandbox.requests();
    assert!(
        requests.iter().all(|r| r.path != "/auth/token"),
        "a pre-issued token is not exchanged"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/.well-known/cxone-configuration" && r.status == 404)
    );
}

#[test]
fn an_unreachable_token_host_is_exit_3_naming_the_endpoint() {
    let base = closed_port_base();
    let token_url = format!("{base}/auth/token");
    let env = [
        ("CXSKILL_TOKEN_URL", token_url.as_str()),
        ("CXSKILL_ACCESS_KEY_ID", "k"),
        ("CXSKILL_ACCESS_KEY_SECRET", "s3cret-unreachable"),
    ];
    let out = cxskill_unconfigured(&["auth", "check", "--output", "json"], &env);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        stderr(&out).contains(&format!("cannot reach the token endpoint {token_url}")),
        "{}",
        stderr(&out)
    );
    assert_eq!(json_of(&out)["failure"], "unreachable");

    let out = cxskill_unconfigured(&["plan", "examples/roster.csv"], &env);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let error = stderr(&out);
    assert!(
        error.contains(&format!("authentication failed at {token_url}")),
        "{error}"
    );
    assert!(error.contains("cannot connect"), "{error}");
    assert!(error.contains("gave up after"), "{error}");
}

// --- How the client presents itself -----------------------------------------

/// The form fields of the sandbox's logged token requests (secrets
/// redacted by the sandbox), and whether each carried `Authorization`.
fn token_requests(sandbox: &Rehearsal) -> Vec<(Vec<String>, bool)> {
    sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path == "/auth/token")
        .map(|r| {
            let fields = r
                .body
                .as_ref()
                .and_then(Value::as_object)
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            (fields, r.authorization_present)
        })
        .collect()
}

#[test]
fn client_credentials_as_http_basic_leave_the_form_without_them() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let out = sandbox.cxskill_with(
        &fast(&["plan", "examples/roster.csv", "--detailed-exitcode"]),
        &[("CXSKILL_TOKEN_AUTH", "basic")],
        None,
    );
    assert_eq!(out.status.code(), Some(4), "{}", both(&out));
    let tokens = token_requests(&sandbox);
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let (fields, basic) = &tokens[0];
    assert!(*basic, "the client id and secret go as HTTP Basic");
    let mut fields = fields.clone();
    fields.sort();
    assert_eq!(fields, ["grant_type", "password", "username"]);

    let out = sandbox.cxskill_with(&["auth", "check"], &[("CXSKILL_TOKEN_AUTH", "basic")], None);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}

#[test]
fn client_credentials_in_the_body_by_default() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let out = sandbox.cxskill(&["auth", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let tokens = token_requests(&sandbox);
    let (fields, basic) = &tokens[0];
    assert!(!*basic);
    let mut fields = fields.clone();
    fields.sort();
    assert_eq!(
        fields,
        [
            "client_id",
            "client_secret",
            "grant_type",
            "password",
            "username"
        ]
    );
}

#[test]
fn an_access_key_alone_with_no_api_client_gets_a_token_and_plans() {
    // The sandbox, like the issuer, takes a password grant that names no
    // client.
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let mut command = sandbox.command(&fast(&[
        "plan",
        "examples/roster.csv",
        "--detailed-exitcode",
    ]));
    command
        .env_remove("CXSKILL_CLIENT_ID")
        .env_remove("CXSKILL_CLIENT_SECRET");
    let out = command.output().expect("run cxskill");
    assert_eq!(out.status.code(), Some(4), "{}", both(&out));
    let tokens = token_requests(&sandbox);
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let (fields, authorization) = &tokens[0];
    assert!(!*authorization);
    let mut fields = fields.clone();
    fields.sort();
    assert_eq!(fields, ["grant_type", "password", "username"]);
    assert!(
        sandbox
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/inContactAPI/") && r.status == 200)
    );
}

// --- A discovered host that is not https -------------------------------------

/// A non-loopback address of this machine, if it has one: where a plain
/// http:// API host would be reachable, so the test can watch it.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // Connecting a UDP socket sends nothing; it only picks the route.
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// A token endpoint whose tokens name a tenant, and a discovery that
/// answers `api_endpoint` for it.
fn issuer_discovering(api_endpoint: String) -> Stub {
    let tenant = "22222222-3333-4444-8555-666666666666";
    let id_token = jwt_for(tenant);
    Stub::start(
        Router::new()
            .route(
                "/auth/token",
                post(move || {
                    let id_token = id_token.clone();
                    async move {
                        axum::Json(json!({
                            "access_token": "stub-access-token-not-for-http",
                            "token_type": "Bearer",
                            "expires_in": 3600,
                            "refresh_token": "stub-refresh-token",
                            "id_token": id_token
                        }))
                    }
                }),
            )
            .route(
                "/.well-known/cxone-configuration",
                get(move || {
                    let api_endpoint = api_endpoint.clone();
                    async move {
                        axum::Json(json!({
                            "tenantId": tenant, "area": "na1", "cluster": "X1",
                            "domain": "example.invalid", "api_endpoint": api_endpoint
                        }))
                    }
                }),
            ),
    )
}

fn stopped_before_the_plain_http_host(issuer: &Stub, api_endpoint: &str) {
    let token_url = issuer.token_url();
    let env = [
        ("CXSKILL_TOKEN_URL", token_url.as_str()),
        ("CXSKILL_ACCESS_KEY_ID", "k"),
        ("CXSKILL_ACCESS_KEY_SECRET", "s3cret-for-the-issuer"),
    ];
    for args in [
        &["plan", "examples/roster.csv"][..],
        &["auth", "check", "--output", "json"][..],
    ] {
        let out = cxskill_unconfigured(args, &env);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", both(&out));
        let error = stderr(&out);
        assert!(error.contains("plain http://"), "{error}");
        assert!(error.contains(api_endpoint), "{error}");
        assert!(error.contains("no token was sent to it"), "{error}");
        if args[0] == "auth" {
            assert_eq!(json_of(&out)["failure"], "unknown_tenant");
        }
    }
    let asked: Vec<String> = issuer.seen().iter().map(|s| s.path.clone()).collect();
    assert!(
        asked
            .iter()
            .all(|p| p == "/auth/token" || p == "/.well-known/cxone-configuration"),
        "{asked:?}"
    );
}

#[test]
fn a_discovered_plain_http_api_host_stops_the_run_before_any_token_goes_there() {
    let issuer = issuer_discovering("http://api.example.invalid".to_owned());
    stopped_before_the_plain_http_host(&issuer, "http://api.example.invalid");

    // The same with a host that is really there, on this machine's
    // network address: nothing connects to it.
    let Some(ip) = non_loopback_ip() else {
        eprintln!("no non-loopback address: only the .invalid host was tried");
        return;
    };
    let listener = std::net::TcpListener::bind((ip, 0)).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let issuer = issuer_discovering(endpoint.clone());
    stopped_before_the_plain_http_host(&issuer, &endpoint);
    let connected = listener.accept().is_ok();
    assert!(!connected, "something connected to the plain http:// host");
}

// --- Tokens the issuer hands out are never shown ------------------------------

#[test]
fn refresh_and_id_tokens_never_appear_in_any_output_at_vvv() {
    let dir = TempDir::new("issued-tokens");
    let sandbox = Rehearsal::start(SandboxOptions {
        // Failed rows, so --failed-rows has content.
        refuse_skills: vec![445566],
        ..SandboxOptions::default()
    });
    let credentials = sandbox.handle().credentials();
    let report = dir.path("report.json");
    let failed = dir.path("failed.csv");
    let exported = dir.path("export.csv");
    let mut outputs = Vec::new();
    for format in ["text", "json"] {
        outputs.push(sandbox.cxskill(&fast(&[
            "apply",
            "--yes",
            "examples/roster.csv",
            "-vvv",
            "--log-format",
            format,
            "--report",
            &report,
            "--failed-rows",
            &failed,
        ])));
        let written = format!("{}{}", read(&report), read(&failed));
        assert!(written.contains("445566"), "{written}");
        outputs.push(Output {
            status: outputs[0].status,
            stdout: written.into_bytes(),
            stderr: Vec::new(),
        });
    }
    outputs.push(sandbox.cxskill(&fast(&["plan", "examples/roster.csv", "-vvv"])));
    outputs.push(sandbox.cxskill(&["auth", "check", "-vvv", "--output", "json"]));
    outputs.push(sandbox.cxskill(&fast(&["export", "-vvv", "--out", &exported])));
    outputs.push(Output {
        status: outputs[0].status,
        stdout: read(&exported).into_bytes(),
        stderr: Vec::new(),
    });
    assert_eq!(outputs[0].status.code(), Some(1), "{}", both(&outputs[0]));
    let tokens = sandbox
        .requests()
        .iter()
        .filter(|r| r.path == "/auth/token" && r.status == 200)
        .count();
    assert!(tokens >= 5, "{tokens} tokens issued");
    for output in &outputs {
        let all = both(output);
        // Every token the sandbox issues (access, refresh and id) holds
        // `sbx-`; the access and id tokens are JWTs with this header.
        assert!(!all.contains("sbx-"), "an issued token leaked:\n{all}");
        assert!(
            !all.contains("eyJhbGciOiJSUzI1NiIs"),
            "a JWT leaked:\n{all}"
        );
        assert!(!all.contains("Bearer "), "a token leaked:\n{all}");
        for secret in [&credentials.access_key_secret, &credentials.client_secret] {
            assert!(!all.contains(secret.as_str()), "a secret leaked:\n{all}");
        }
    }
}

// --- A deadline holds for every attempt ---------------------------------------

/// A stub tenant whose token endpoint always answers, and whose
/// `PUT /agents/1/skills` answers with `put` (after a wait of its own).
fn tenant_answering_put(put: fn() -> axum::response::Response) -> Stub {
    Stub::start(
        Router::new()
            .route(
                "/auth/token",
                post(|| async {
                    axum::Json(json!({"access_token": "stub-token", "token_type": "Bearer",
                                      "expires_in": 3600}))
                }),
            )
            .route(
                &format!("{}/agents/1/skills", stub::ROOT),
                axum::routing::put(move || async move {
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                    put()
                }),
            ),
    )
}

/// `send_before` of a full-set PUT to `tenant` by a client with an access
/// key (so a 401 renews the token), with the deadline `wait` from now.
fn put_before(
    tenant: &Stub,
    wait: std::time::Duration,
) -> Result<cxskill::client::Response, cxskill::client::ClientError> {
    use cxskill::client::{Client, Route};
    use cxskill::config::{Connection, Credentials, RetryPolicy};
    use std::time::{Duration, Instant};
    let connection = Connection {
        api_base: Some(tenant.base()),
        api_version: "v34.0".into(),
        token_url: tenant.token_url(),
        credentials: Credentials::AccessKey {
            access_key_id: "stub-key".into(),
            access_key_secret: cxskill::secret::Secret::new("stub-key-secret"),
            client: None,
        },
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        rate: 1000.0,
        concurrency: 1,
        retry: RetryPolicy::default(),
        max_answer_bytes: cxskill::config::DEFAULT_MAX_ANSWER_BYTES,
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = Client::connect(&connection).await.expect("connect");
        let deadline = Instant::now() + wait;
        tokio::time::sleep_until((Instant::now() + Duration::from_millis(1)).into()).await;
        let body = json!({"skills": [{"skillId": "5", "proficiency": 12, "isActive": true}]});
        client
            .send_before(
                reqwest::Method::PUT,
                Route::AgentSkills,
                "/agents/1/skills",
                Some(&body),
                deadline,
            )
            .await
    })
}

fn puts(tenant: &Stub) -> usize {
    tenant.writes().iter().filter(|w| w.method == "PUT").count()
}

#[test]
fn a_put_answered_401_after_its_deadline_is_not_sent_again_with_a_new_token() {
    let tenant = tenant_answering_put(|| {
        use axum::response::IntoResponse;
        (
            axum::http::StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_token"})),
        )
            .into_response()
    });
    let result = put_before(&tenant, std::time::Duration::from_millis(100));
    assert!(
        matches!(
            result,
            Err(cxskill::client::ClientError::Expired {
                maybe_sent: false,
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(puts(&tenant), 1, "sent again after its deadline");
    assert_eq!(
        tenant
            .seen()
            .iter()
            .filter(|s| s.path == "/auth/token")
            .count(),
        2,
        "the token was renewed"
    );
}

#[test]
fn a_put_whose_answer_is_cut_off_after_its_deadline_is_not_sent_again() {
    let tenant = tenant_answering_put(|| {
        use futures_util::{StreamExt, stream};
        // The head and a first piece go out; then the connection drops.
        let body =
            stream::once(async { Ok(axum::body::Bytes::from_static(br#"{"resultSet": {"#)) })
                .chain(stream::once(async {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    Err(std::io::Error::other("connection dropped"))
                }));
        axum::response::Response::builder()
            .header("content-type", "application/json")
            .body(axum::body::Body::from_stream(body))
            .expect("a response")
    });
    let result = put_before(&tenant, std::time::Duration::from_millis(100));
    assert!(
        matches!(
            result,
            Err(cxskill::client::ClientError::Expired {
                maybe_sent: true,
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(puts(&tenant), 1, "sent again after its deadline");
}

#[test]
fn a_put_whose_deadline_passed_before_its_first_attempt_is_never_sent() {
    let tenant = tenant_answering_put(|| {
        use axum::response::IntoResponse;
        axum::Json(json!({"resultSet": {"errorCount": "0", "skillResults": []}})).into_response()
    });
    // The body's read is already too old when the request would start
    // (it waited on the rate, or on a token).
    let result = put_before(&tenant, std::time::Duration::ZERO);
    assert!(
        matches!(
            result,
            Err(cxskill::client::ClientError::Expired {
                maybe_sent: false,
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(puts(&tenant), 0, "sent after its deadline");
}
