//! The config file, profiles, `config show`, `auth check` and the shell
//! integration, end to end: the real binary with `XDG_CONFIG_HOME` in a
//! temporary directory (the developer's own config is never read), against
//! sandbox tenants and stub servers on loopback.

mod common;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use common::{Rehearsal, TempDir, cxskill_unconfigured, stderr, stdout};
use cxskill::sandbox::SandboxOptions;
use serde_json::Value;

/// A home for one test: `XDG_CONFIG_HOME` and `HOME` both point into it.
struct Home {
    dir: TempDir,
}

impl Home {
    fn new(name: &str) -> Home {
        Home {
            dir: TempDir::new(name),
        }
    }

    fn config_path(&self) -> std::path::PathBuf {
        self.dir.0.join("cxskill").join("config.toml")
    }

    /// Writes the config file at the default location, mode 0600.
    fn config(&self, text: &str) {
        let path = self.config_path();
        std::fs::create_dir_all(path.parent().expect("parent")).expect("config dir");
        write_with_mode(&path, text, 0o600);
    }

    /// Runs the binary with this home and `env`, nothing else from the
    /// developer's environment that cxskill reads.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let home = self.dir.0.to_string_lossy().into_owned();
        let mut all = vec![("XDG_CONFIG_HOME", home.as_str()), ("HOME", home.as_str())];
        all.extend_from_slice(env);
        cxskill_unconfigured(args, &all)
    }
}

fn write_with_mode(path: &std::path::Path, text: &str, mode: u32) {
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn both(output: &Output) -> String {
    format!("{}\n{}", stdout(output), stderr(output))
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", both(output)))
}

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

/// A profile `test` that reaches this sandbox, with both secrets from
/// commands.
fn sandbox_profile(sandbox: &Rehearsal, name: &str) -> String {
    let h = sandbox.handle();
    let c = h.credentials();
    format!(
        r#"
[profile.{name}]
api_base = "{base}"
token_url = "{token_url}"
access_key_id = "{key_id}"
client_id = "{client_id}"
access_key_secret_command = "printf %s {key_secret}"
client_secret_command = "printf '%s\n' {client_secret}"
rate = 2000
concurrency = 4
"#,
        base = h.api_base(),
        token_url = h.token_url(),
        key_id = c.access_key_id,
        client_id = c.client_id,
        key_secret = c.access_key_secret,
        client_secret = c.client_secret,
    )
}

#[test]
fn config_show_gives_each_source_and_never_a_secret() {
    let home = Home::new("show");
    let key_file = home.dir.file("client.key", "file-secret-456\n");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    // `config show` says where a secret would come from; it must not run
    // the command to find out.
    let marker = home.dir.path("command-ran");
    home.config(&format!(
        r#"
default_profile = "test"

[levels]
expert = 1

[profile.test]
api_base = "https://api-na1.niceincontact.com"
access_key_id = "the-key-id"
access_key_secret_command = "touch {marker}; printf %s cmd-secret-123"
client_secret_file = "{key_file}"
concurrency = 3

[profile.test.levels]
trainee = 15
"#
    ));
    let env = [
        ("CXSKILL_TOKEN", "env-token-789"),
        ("CXSKILL_CLIENT_ID", "env-client"),
    ];
    let out = home.run(&["config", "show", "-vv", "--rate", "4"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let text = stdout(&out);
    for expected in [
        "test  (default_profile of the config file)",
        "https://api-na1.niceincontact.com  (profile test)",
        "v34.0  (default)",
        "4  (flag --rate)",
        "3  (profile test)",
        "the-key-id  (profile test)",
        "env-client  (env CXSKILL_CLIENT_ID)",
        "(set, from command in profile test)",
        "(set, from env CXSKILL_TOKEN)",
        &format!("(set, from file {key_file} in profile test)"),
        "trainee  15  (profile test)",
        "expert   1  (config file)",
        &home.config_path().display().to_string(),
    ] {
        assert!(text.contains(expected), "missing `{expected}`:\n{text}");
    }

    let out = home.run(&["config", "show", "-vv", "--output", "json"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let doc = json(&out);
    assert_eq!(doc["settings"]["token"]["set"], true);
    assert_eq!(doc["settings"]["token"]["source"], "env CXSKILL_TOKEN");
    assert_eq!(doc["settings"]["api_base"]["source"], "profile test");
    assert_eq!(doc["profile"]["name"], "test");
    assert_eq!(doc["levels"]["trainee"]["value"], 15);

    for out in [
        home.run(&["config", "show", "-vv"], &env),
        home.run(&["config", "show", "-vv", "--output", "json"], &env),
    ] {
        let all = both(&out);
        for secret in ["cmd-secret-123", "file-secret-456", "env-token-789"] {
            assert!(!all.contains(secret), "`{secret}` printed:\n{all}");
        }
    }
    assert!(
        !std::path::Path::new(&marker).exists(),
        "config show ran a secret command"
    );
}

#[test]
fn a_profile_with_secret_commands_plans_against_the_sandbox_without_printing_them() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let home = Home::new("plan-profile");
    home.config(&sandbox_profile(&sandbox, "test"));
    let out = home.run(
        &["plan", "examples/roster.csv", "--profile", "test", "-vv"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stdout(&out).contains("17 to add, 3 to change, 1 to remove, 4 unchanged"),
        "{}",
        stdout(&out)
    );
    assert!(
        sandbox.requests().iter().any(|r| r.path == "/auth/token"),
        "no token exchange"
    );
    let credentials = sandbox.handle().credentials();
    let all = both(&out);
    for secret in [&credentials.access_key_secret, &credentials.client_secret] {
        assert!(!all.contains(secret.as_str()), "`{secret}` printed:\n{all}");
    }
}

#[test]
fn cxskill_profile_selects_the_profile_and_the_flag_beats_it() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let home = Home::new("env-profile");
    let port = closed_port();
    home.config(&format!(
        "default_profile = \"broken\"\n{}\n[profile.broken]\napi_base = \"http://127.0.0.1:{port}\"\n",
        sandbox_profile(&sandbox, "good")
    ));
    let out = home.run(
        &["plan", "examples/roster.csv"],
        &[("CXSKILL_PROFILE", "good")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));

    let out = home.run(
        &["config", "show", "--output", "json", "--profile", "broken"],
        &[("CXSKILL_PROFILE", "good")],
    );
    let doc = json(&out);
    assert_eq!(doc["profile"]["name"], "broken");
    assert_eq!(doc["profile"]["source"], "flag --profile");
    assert_eq!(
        doc["settings"]["api_base"]["value"],
        format!("http://127.0.0.1:{port}")
    );
}

#[test]
fn environment_overrides_the_profile() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let h = sandbox.handle();
    let c = h.credentials();
    let home = Home::new("env-wins");
    // The profile points at nothing and holds a wrong client secret; the
    // environment corrects both.
    home.config(&format!(
        r#"
default_profile = "p"
[profile.p]
api_base = "http://127.0.0.1:{port}"
token_url = "http://127.0.0.1:{port}/auth/token"
access_key_id = "{key_id}"
client_id = "{client_id}"
access_key_secret_command = "printf %s {key_secret}"
client_secret_command = "printf %s not-the-client-secret"
rate = 2000
"#,
        port = closed_port(),
        key_id = c.access_key_id,
        client_id = c.client_id,
        key_secret = c.access_key_secret,
    ));
    let api_base = h.api_base();
    let token_url = h.token_url();
    let env = [
        ("CXSKILL_API_BASE", api_base.as_str()),
        ("CXSKILL_TOKEN_URL", token_url.as_str()),
        ("CXSKILL_CLIENT_SECRET", c.client_secret.as_str()),
    ];
    let out = home.run(&["plan", "examples/roster.csv"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));

    let out = home.run(&["config", "show"], &env);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("{api_base}  (env CXSKILL_API_BASE)")),
        "{text}"
    );
    assert!(
        text.contains("(set, from env CXSKILL_CLIENT_SECRET)"),
        "{text}"
    );
    assert!(text.contains("2000  (profile p)"), "{text}");
}

#[test]
fn sandbox_flag_ignores_the_profile_tenant_and_runs_no_secret_command() {
    let home = Home::new("sandbox-profile");
    let marker = home.dir.path("command-ran");
    home.config(&format!(
        r#"
default_profile = "p"
[profile.p]
api_base = "http://127.0.0.1:{port}"
access_key_id = "k"
client_id = "c"
access_key_secret_command = "touch {marker}; exit 1"
client_secret_command = "touch {marker}; exit 1"
rate = 500
"#,
        port = closed_port(),
    ));
    let out = home.run(&["plan", "examples/roster.csv", "--sandbox"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        !std::path::Path::new(&marker).exists(),
        "a secret command ran"
    );
}

#[test]
fn auth_check_reports_the_discovered_host_business_unit_counts_and_token_lifetime() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let handle = sandbox.handle();
    let out = sandbox.cxskill(&["auth", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "API host       {}  (discovered: area ",
            handle.api_base()
        )),
        "{text}"
    );
    assert!(text.contains(&handle.api_root()), "{text}");
    assert!(
        text.contains(&format!("business unit  {}\n", handle.business_unit_id())),
        "{text}"
    );
    assert!(
        text.contains(&format!("tenant         {}\n", handle.tenant_id())),
        "{text}"
    );
    assert!(text.contains("agents         12\n"), "{text}");
    assert!(text.contains("skills         6\n"), "{text}");
    assert!(text.contains("expires in 3600 s"), "{text}");

    let out = sandbox.cxskill(&["auth", "check", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let doc = json(&out);
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["api_host_source"], "discovered");
    assert_eq!(doc["business_unit"], handle.business_unit_id().to_string());
    assert_eq!(doc["agents"], 12);
    assert_eq!(doc["skills"], 6);
    assert_eq!(doc["token_expires_in"], 3600);

    // A configured api_base wins over discovery, and says so.
    let out = sandbox.cxskill_with(
        &["auth", "check", "--output", "json"],
        &[("CXSKILL_API_BASE", &handle.api_base())],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(json(&out)["api_host_source"], "configured");
    let reads: Vec<String> = sandbox
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/inContactAPI/"))
        .map(|r| {
            format!(
                "{} {}?{}",
                r.method,
                r.path,
                r.query.clone().unwrap_or_default()
            )
        })
        .collect();
    assert!(
        reads.contains(&"GET /inContactAPI/services/v34.0/agents?top=100&skip=0".to_owned()),
        "{reads:?}"
    );
}

#[test]
fn auth_check_with_sandbox_flag_needs_no_configuration() {
    let out = cxskill_unconfigured(&["auth", "check", "--sandbox"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stdout(&out).contains("agents         12\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn auth_check_wrong_secret_is_exit_3_naming_the_refusal() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let out = sandbox.cxskill_with(
        &["auth", "check", "--output", "json"],
        &[("CXSKILL_ACCESS_KEY_SECRET", "not-the-access-key-secret")],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        stderr(&out).contains("the access key id or secret is wrong")
            && stderr(&out).contains("400 invalid_grant"),
        "{}",
        stderr(&out)
    );
    assert_eq!(json(&out)["failure"], "wrong_secret");
    assert!(!both(&out).contains("not-the-access-key-secret"));
}

#[test]
fn auth_check_wrong_client_secret_is_exit_3_naming_the_client() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let out = sandbox.cxskill_with(
        &["auth", "check", "--output", "json"],
        &[("CXSKILL_CLIENT_SECRET", "not-the-client-secret")],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        stderr(&out).contains("the client id or secret is wrong")
            && stderr(&out).contains("400 invalid_client"),
        "{}",
        stderr(&out)
    );
    assert_eq!(json(&out)["failure"], "wrong_client");
    assert!(!both(&out).contains("not-the-client-secret"));
}

#[test]
fn auth_check_wrong_token_url_is_exit_3_naming_the_url() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let nope = format!("{}/nope", sandbox.handle().api_base());
    let out = sandbox.cxskill_with(
        &["auth", "check", "--output", "json"],
        &[("CXSKILL_TOKEN_URL", &nope)],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let error = stderr(&out);
    assert!(error.contains(&nope), "{error}");
    assert!(error.contains("404 Not Found"), "{error}");
    assert!(error.contains("check the token URL"), "{error}");
    assert_eq!(json(&out)["failure"], "wrong_token_url");
}

#[test]
fn auth_check_unreachable_host_is_exit_3_naming_the_endpoint() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    let token_url = format!("{base}/auth/token");
    let out = cxskill_unconfigured(
        &["auth", "check", "--output", "json"],
        &[
            ("CXSKILL_API_BASE", &base),
            ("CXSKILL_TOKEN_URL", &token_url),
            ("CXSKILL_ACCESS_KEY_ID", "k"),
            ("CXSKILL_ACCESS_KEY_SECRET", "s"),
            ("CXSKILL_CLIENT_ID", "c"),
            ("CXSKILL_CLIENT_SECRET", "s"),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let error = stderr(&out);
    assert!(
        error.contains(&format!("cannot reach the token endpoint {token_url}")),
        "{error}"
    );
    assert_eq!(json(&out)["failure"], "unreachable");
}

/// A tenant that issues tokens but refuses every read with 403, as CXone
/// does for an access key whose user lacks the view permissions. (The
/// sandbox's read-only key may read, so it cannot stand in here.)
struct NoPermissionTenant {
    /// Serves from its worker thread until dropped with the test.
    _runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
}

impl NoPermissionTenant {
    fn start() -> NoPermissionTenant {
        use axum::Router;
        use axum::http::StatusCode;
        use axum::routing::post;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new()
            .route(
                "/auth/token",
                post(|| async {
                    axum::Json(serde_json::json!({
                        "access_token": "stub-token", "token_type": "Bearer", "expires_in": 60
                    }))
                }),
            )
            .fallback(|| async {
                (
                    StatusCode::FORBIDDEN,
                    axum::Json(serde_json::json!({
                        "error": "insufficient_scope",
                        "error_description": "The user lacks the View Users permission"
                    })),
                )
            });
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        NoPermissionTenant {
            _runtime: runtime,
            addr,
        }
    }
}

#[test]
fn auth_check_without_read_permission_is_exit_3_naming_the_permission() {
    let tenant = NoPermissionTenant::start();
    let base = format!("http://{}", tenant.addr);
    let token_url = format!("{base}/auth/token");
    let out = cxskill_unconfigured(
        &["auth", "check", "--output", "json"],
        &[
            ("CXSKILL_API_BASE", &base),
            ("CXSKILL_TOKEN_URL", &token_url),
            ("CXSKILL_ACCESS_KEY_ID", "k"),
            ("CXSKILL_ACCESS_KEY_SECRET", "s"),
            ("CXSKILL_CLIENT_ID", "c"),
            ("CXSKILL_CLIENT_SECRET", "s"),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let error = stderr(&out);
    assert!(error.contains("403 Forbidden"), "{error}");
    assert!(error.contains("insufficient_scope"), "{error}");
    assert!(error.contains("permission to read agents"), "{error}");
    assert_eq!(json(&out)["failure"], "no_permission");
}

#[test]
fn unknown_profile_is_exit_3_listing_the_defined_ones() {
    let home = Home::new("unknown-profile");
    home.config("[profile.prod]\n[profile.eu]\n");
    let out = home.run(
        &["plan", "examples/roster.csv", "--profile", "staging"],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        stderr(&out).contains("no profile `staging` (flag --profile)"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("`eu`, `prod`"), "{}", stderr(&out));
}

#[test]
fn config_flag_must_name_an_existing_file_but_the_default_may_be_absent() {
    let home = Home::new("config-flag");
    let missing = home.dir.path("missing.toml");
    let out = home.run(&["config", "show", "--config", &missing], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(stderr(&out).contains(&missing), "{}", stderr(&out));

    let out = home.run(&["config", "show"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stdout(&out).contains("(none: no file at"),
        "{}",
        stdout(&out)
    );

    let elsewhere = home.dir.file(
        "other.toml",
        "[profile.x]\napi_base = \"https://x.example\"\n",
    );
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = home.run(
        &["config", "show", "--config", &elsewhere, "--profile", "x"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stdout(&out).contains("https://x.example  (profile x)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn inline_secret_in_the_config_is_exit_3_and_not_echoed() {
    let home = Home::new("inline");
    home.config("[profile.prod]\nclient_secret = \"hunter2-inline\"\n");
    let hint = "use `client_secret_file`, `client_secret_command` or the environment variable CXSKILL_CLIENT_SECRET";
    // In the profile in use: an error.
    let out = home.run(&["config", "show", "--profile", "prod"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(stderr(&out).contains(hint), "{}", stderr(&out));
    assert!(!both(&out).contains("hunter2-inline"));
    // In a profile not in use: a warning, as loud, still not echoed.
    let out = home.run(&["config", "show"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(stderr(&out).contains(hint), "{}", stderr(&out));
    assert!(!both(&out).contains("hunter2-inline"));
}

#[test]
fn config_and_secret_files_readable_by_others_are_warned_about() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let home = Home::new("modes");
    let c = sandbox.handle().credentials();
    let key = home.dir.path("key");
    write_with_mode(std::path::Path::new(&key), &c.access_key_secret, 0o644);
    home.config(&format!(
        "{}\n[profile.shared]\naccess_key_secret_file = \"{key}\"\n",
        sandbox_profile(&sandbox, "test")
    ));

    let out = home.run(&["config", "show"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        !stderr(&out).contains("can be read by group or others"),
        "{}",
        stderr(&out)
    );

    std::fs::set_permissions(home.config_path(), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    let out = home.run(&["config", "show"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let warning = stderr(&out);
    assert!(warning.contains("config file"), "{warning}");
    assert!(
        warning.contains("can be read by group or others (mode 0644)"),
        "{warning}"
    );

    // The secret file is read, and warned about, when a connection needs it.
    let out = home.run(
        &["auth", "check", "--profile", "shared"],
        &[
            ("CXSKILL_API_BASE", &sandbox.handle().api_base()),
            ("CXSKILL_TOKEN_URL", &sandbox.handle().token_url()),
            ("CXSKILL_ACCESS_KEY_ID", &c.access_key_id),
            ("CXSKILL_CLIENT_ID", &c.client_id),
            ("CXSKILL_CLIENT_SECRET", &c.client_secret),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stderr(&out).contains(&format!("secret file {key} can be read by group or others")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn completions_are_generated_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = cxskill_unconfigured(&["completions", shell], &[]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", both(&out));
        let script = stdout(&out);
        assert!(script.contains("cxskill"), "{shell}:\n{script}");
        // Generated from the clap definitions: new commands and flags are in.
        assert!(script.contains("profile"), "{shell}:\n{script}");
        assert!(script.contains("completions"), "{shell}:\n{script}");
        assert!(script.contains("auth"), "{shell}:\n{script}");
    }
    let out = cxskill_unconfigured(&["completions", "tcsh"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_page_is_roff_from_the_same_definitions() {
    let out = cxskill_unconfigured(&["man"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let page = stdout(&out);
    assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{page}");
    assert!(page.contains("\n.TH cxskill 1"), "{page}");
    assert!(page.contains(".SH NAME"), "{page}");
    assert!(page.contains("\\-\\-profile"), "{page}");
}

/// Runs `examples/cron.sh ROSTER` with the built cxskill first on PATH, the
/// config of `home`, and reports kept in `log_dir`.
fn cron(home: &Home, log_dir: &str, roster: &str) -> Output {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_cxskill"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = std::process::Command::new("bash");
    command
        .args(["examples/cron.sh", roster])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CXSKILL_") {
            command.env_remove(key);
        }
    }
    command
        .env("PATH", path)
        .env("XDG_CONFIG_HOME", &home.dir.0)
        .env("HOME", &home.dir.0)
        .env("CXSKILL_LOG_DIR", log_dir)
        .output()
        .expect("run bash")
}

fn files_in(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("log dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn cron_script_is_valid_bash() {
    let out = std::process::Command::new("bash")
        .args(["-n", "examples/cron.sh"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run bash");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}

#[test]
fn cron_script_keeps_dated_reports_and_acts_on_each_exit_code() {
    // 0: everything applied; the report is kept, no failed rows.
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let home = Home::new("cron");
    home.config(&sandbox_profile(&sandbox, "prod"));
    let logs = home.dir.path("ok");
    let out = cron(&home, &logs, "examples/roster.csv");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let files = files_in(&logs);
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("report-") && f.ends_with(".json")),
        "{files:?}"
    );
    assert!(!files.iter().any(|f| f.starts_with("failed-")), "{files:?}");
    let latest: Value = serde_json::from_str(&common::read(format!("{logs}/latest.json")))
        .expect("latest.json is the report");
    assert_eq!(latest["summary"]["applied"], 21);

    // 1: some rows refused; the failed rows are kept and announced.
    let sandbox = Rehearsal::start(SandboxOptions {
        refuse_skills: vec![445566],
        ..SandboxOptions::default()
    });
    home.config(&sandbox_profile(&sandbox, "prod"));
    let logs = home.dir.path("rows-failed");
    let out = cron(&home, &logs, "examples/roster.csv");
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        stderr(&out).contains("some rows failed"),
        "{}",
        stderr(&out)
    );
    let failed = files_in(&logs)
        .into_iter()
        .find(|f| f.starts_with("failed-") && f.ends_with(".csv"))
        .expect("failed rows kept");
    assert!(common::read(format!("{logs}/{failed}")).contains("445566"));

    // 2: an invalid roster; nothing sent.
    let logs = home.dir.path("invalid");
    let out = cron(&home, &logs, "tests/data/mistakes.csv");
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("is invalid; nothing was sent"),
        "{}",
        stderr(&out)
    );

    // 3: the tenant refuses the credentials.
    let wrong = sandbox_profile(&sandbox, "prod").replace(
        &sandbox.handle().credentials().client_secret,
        "not-the-client-secret",
    );
    home.config(&wrong);
    let logs = home.dir.path("refused");
    let out = cron(&home, &logs, "examples/roster.csv");
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        stderr(&out).contains("cxskill auth check --profile prod"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_typo_in_a_profile_not_in_use_is_warned_about_once_and_breaks_nothing() {
    let sandbox = Rehearsal::start(SandboxOptions::default());
    let home = Home::new("typo-elsewhere");
    home.config(&format!(
        "{}\n[profile.staging]\napi_base = \"https://x.example\"\nclinet_id = \"oops\"\n",
        sandbox_profile(&sandbox, "good")
    ));
    // plan resolves the settings twice (levels, then the connection).
    let out = home.run(&["plan", "examples/roster.csv", "--profile", "good"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let warnings = stderr(&out);
    assert_eq!(
        warnings.matches("profile `staging` is not in use").count(),
        1,
        "{warnings}"
    );
    assert!(warnings.contains("unknown field `clinet_id`"), "{warnings}");

    // The profile in use is still checked strictly: exit 3, by line.
    let out = home.run(&["config", "show", "--profile", "staging"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let error = stderr(&out);
    assert!(error.contains("unknown field `clinet_id`"), "{error}");
    assert!(
        error.contains(&format!("{}:", home.config_path().display())),
        "{error}"
    );
}

#[test]
fn config_init_writes_a_private_skeleton_then_appends_new_profiles_and_never_overwrites() {
    let home = Home::new("init");
    let path = home.config_path();
    let out = home.run(&["config", "init"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "wrote {} (mode 0600) with profile `default`, the default; fill it in, then check it with: cxskill auth check\n",
            path.display()
        )
    );
    let mode = std::fs::metadata(&path)
        .expect("written")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let first = common::read(&path);
    for expected in [
        "default_profile = \"default\"",
        "[profile.default]",
        "# client_secret_command = ",
        "# access_key_secret_file = ",
        "# [levels]",
    ] {
        assert!(first.contains(expected), "missing {expected}:\n{first}");
    }
    // What it wrote is a valid config, whose profile is in use.
    let out = home.run(&["config", "show"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stdout(&out).contains("default  (default_profile of the config file)"),
        "{}",
        stdout(&out)
    );

    // A new profile is appended; the file keeps its mode and its text.
    let out = home.run(&["config", "init", "--profile", "eu", "-o", "json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let doc = json(&out);
    assert_eq!(doc["profile"], "eu");
    assert_eq!(doc["created"], false);
    assert_eq!(doc["path"], path.display().to_string());
    let second = common::read(&path);
    assert!(second.starts_with(&first), "{second}");
    assert!(second.contains("\n[profile.eu]\n"), "{second}");
    let mode = std::fs::metadata(&path).expect("kept").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let out = home.run(&["config", "show", "--profile", "eu"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));

    // A profile the file has is refused (exit 2), the file untouched.
    for profile in [&["--profile", "eu"][..], &[]] {
        let args = [&["config", "init"][..], profile].concat();
        let out = home.run(&args, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", both(&out));
        assert!(
            stderr(&out).contains("already has [profile."),
            "{}",
            stderr(&out)
        );
        assert_eq!(common::read(&path), second);
    }
    // CXSKILL_PROFILE names it too.
    let out = home.run(&["config", "init"], &[("CXSKILL_PROFILE", "staging")]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(common::read(&path).contains("\n[profile.staging]\n"));

    // --config FILE: the directories are made.
    let elsewhere = home.dir.0.join("a").join("b").join("cxskill.toml");
    let elsewhere_text = elsewhere.to_string_lossy().into_owned();
    let out = home.run(&["config", "init", "--config", &elsewhere_text, "-q"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(stdout(&out), "");
    assert!(common::read(&elsewhere).contains("[profile.default]"));
}
