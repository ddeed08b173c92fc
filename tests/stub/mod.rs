//! A small misbehaving server for the client's tests: an axum router on
//! loopback, served from its own runtime, that logs every request it gets
//! (method, path, query, `Authorization`, body) so a test can count the
//! writes that reached it. What the real binary is run with comes from
//! `common`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::{self, Next};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The API root the stubs serve under.
pub const ROOT: &str = "/inContactAPI/services/v34.0";

/// One request as the stub saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "DELETE") && self.path.starts_with(ROOT)
    }
}

pub struct Stub {
    /// Serves until the stub is dropped with the test.
    _runtime: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    /// Serves `app` on a free loopback port, logging every request.
    pub fn start(app: Router) -> Stub {
        Stub::bind("127.0.0.1:0", app)
    }

    /// Serves `app` on `listen`.
    pub fn bind(listen: &str, app: Router) -> Stub {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(listen))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let log: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let kept = log.clone();
        let app = app.layer(middleware::from_fn(move |request: Request, next: Next| {
            let log = kept.clone();
            async move {
                let (parts, body) = request.into_parts();
                let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
                    .await
                    .unwrap_or_default();
                log.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Seen {
                        method: parts.method.to_string(),
                        path: parts.uri.path().to_owned(),
                        query: parts.uri.query().map(str::to_owned),
                        authorization: parts
                            .headers
                            .get(axum::http::header::AUTHORIZATION)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                        body: bytes.to_vec(),
                    });
                next.run(Request::from_parts(parts, Body::from(bytes)))
                    .await
            }
        }));
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Stub {
            _runtime: runtime,
            addr,
            log,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token_url(&self) -> String {
        format!("{}/auth/token", self.base())
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Writes (POST, PUT, DELETE) that reached the API.
    pub fn writes(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(Seen::is_write).collect()
    }

    /// Requests to paths under the API root.
    pub fn api_requests(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path.starts_with(ROOT))
            .collect()
    }
}

/// A JWT (unsigned, as cxskill never checks the signature) whose payload
/// names `tenant`.
pub fn jwt_for(tenant: &str) -> String {
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(r#"{"alg":"RS256","typ":"JWT"}"#),
        b64(&format!(r#"{{"tenantId":"{tenant}","sub":"stub"}}"#))
    )
}

/// `top` and `skip` of a query (0 when absent).
pub fn paging(query: Option<&str>) -> (u64, u64) {
    let mut top = 0;
    let mut skip = 0;
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "top" => top = value.parse().unwrap_or(0),
            "skip" => skip = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    (top, skip)
}

/// The routes every stub tenant of a one-skill roster needs: a token
/// endpoint, a catalogue of one skill (5, Sales) and `GET /skills/agents`
/// answering `assignments`. A test adds the route it makes misbehave.
pub fn one_skill_tenant(assignments: serde_json::Value) -> Router {
    use axum::routing::{get, post};
    Router::new()
        .route(
            "/auth/token",
            post(|| async {
                axum::Json(serde_json::json!({"access_token": "t", "token_type": "Bearer", "expires_in": 3600}))
            }),
        )
        .route(
            &format!("{ROOT}/skills"),
            get(|| async {
                axum::Json(serde_json::json!({"totalRecords": 1, "skills": [{"skillId": 5, "skillName": "Sales", "isActive": true}]}))
            }),
        )
        .route(
            &format!("{ROOT}/skills/agents"),
            get(move || {
                let assignments = assignments.clone();
                async move {
                    axum::Json(serde_json::json!({"businessUnitId": 1, "agentSkillAssignments": assignments}))
                }
            }),
        )
}

impl Stub {
    /// Runs the real binary against this stub with a pre-issued token and
    /// `api_base` (a stub has no discovery).
    pub fn cxskill(&self, args: &[&str]) -> std::process::Output {
        let base = self.base();
        let token_url = self.token_url();
        crate::common::cxskill_unconfigured(
            args,
            &[
                ("CXSKILL_API_BASE", &base),
                ("CXSKILL_TOKEN_URL", &token_url),
                ("CXSKILL_TOKEN", "t"),
            ],
        )
    }
}
