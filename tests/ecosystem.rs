//! cxskill among the tools people already use: colour (at a terminal, in
//! a pipe, NO_COLOR, CLICOLOR_FORCE, --color), `-o`/`--output json`
//! everywhere, man pages, `config init`, summaries that say what
//! happened. The real binary, on a pseudo-terminal where it matters.

mod common;

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Output, Stdio};

use common::{isolated_command, stderr, stdout};

const ESC: char = '\u{1b}';

/// A pseudo-terminal pair: the binary writes to the slave as to a
/// terminal, the test reads what it wrote from the master.
struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
}

impl Pty {
    fn open() -> Pty {
        let (mut master, mut slave) = (-1, -1);
        let size = libc::winsize {
            ws_row: 50,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two descriptors into the pointers given;
        // the name and termios pointers may be null.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        for fd in [master, slave] {
            // Not inherited by the children other tests spawn meanwhile,
            // which would hold the terminal open and the read below.
            // SAFETY: fcntl on descriptors this function owns.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        // SAFETY: both descriptors were just opened and are owned here.
        unsafe {
            Pty {
                master: OwnedFd::from_raw_fd(master),
                slave: OwnedFd::from_raw_fd(slave),
            }
        }
    }

    fn stdio(&self) -> Stdio {
        Stdio::from(self.slave.try_clone().expect("dup the pty slave"))
    }

    /// Everything written to the terminal until every writer closed it.
    fn read_all(self, child: std::process::Child) -> (String, Output) {
        drop(self.slave);
        let mut master = std::fs::File::from(self.master);
        let mut bytes = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            // EIO once the last slave descriptor is closed.
            match master.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            }
        }
        let output = child.wait_with_output().expect("wait for cxskill");
        (String::from_utf8_lossy(&bytes).into_owned(), output)
    }
}

/// Which standard streams go to the terminal; the others are pipes.
#[derive(Clone, Copy)]
enum OnTerminal {
    Stdout,
    Stderr,
}

/// Runs the binary with one stream on a pseudo-terminal: returns what
/// reached the terminal and the output of the piped streams.
fn on_terminal(args: &[&str], env: &[(&str, &str)], which: OnTerminal) -> (String, Output) {
    let pty = Pty::open();
    let mut command = isolated_command(args);
    command
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    match which {
        OnTerminal::Stdout => command.stdout(pty.stdio()).stderr(Stdio::piped()),
        OnTerminal::Stderr => command.stdout(Stdio::piped()).stderr(pty.stdio()),
    };
    let child = command.spawn().expect("run cxskill");
    // The command holds copies of the slave: drop them, so the read ends
    // when the binary exits.
    drop(command);
    pty.read_all(child)
}

/// Runs the binary with every stream piped.
fn in_pipes(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command: Command = isolated_command(args);
    command
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    command.output().expect("run cxskill")
}

const PLAN: &[&str] = &["plan", "examples/roster.csv", "--sandbox"];

#[test]
fn plan_diff_is_coloured_at_a_terminal() {
    let (terminal, out) = on_terminal(PLAN, &[], OnTerminal::Stdout);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(terminal.contains("\u{1b}[32m+ 112234"), "{terminal:?}");
    assert!(terminal.contains("\u{1b}[33m~ 445566"), "{terminal:?}");
    assert!(terminal.contains("\u{1b}[31m- 778899"), "{terminal:?}");
    // The summary is not painted.
    assert!(
        terminal.contains("\n17 to add, 3 to change, 1 to remove, 4 unchanged"),
        "{terminal:?}"
    );
}

#[test]
fn plan_diff_in_a_pipe_has_no_colour() {
    let out = in_pipes(PLAN, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("  + 112234"), "{}", stdout(&out));
    assert!(!stdout(&out).contains(ESC), "{:?}", stdout(&out));
}

#[test]
fn no_color_turns_colour_off_at_a_terminal() {
    let (terminal, out) = on_terminal(PLAN, &[("NO_COLOR", "1")], OnTerminal::Stdout);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(terminal.contains("  + 112234"), "{terminal:?}");
    assert!(!terminal.contains(ESC), "{terminal:?}");
}

#[test]
fn clicolor_force_and_color_always_colour_a_pipe_and_the_flag_beats_the_variables() {
    let forced = in_pipes(PLAN, &[("CLICOLOR_FORCE", "1")]);
    assert!(
        stdout(&forced).contains("\u{1b}[32m+ 112234"),
        "{:?}",
        stdout(&forced)
    );
    let zero = in_pipes(PLAN, &[("CLICOLOR_FORCE", "0")]);
    assert!(!stdout(&zero).contains(ESC), "{:?}", stdout(&zero));

    let always: Vec<&str> = [PLAN, &["--color", "always"]].concat();
    let out = in_pipes(&always, &[("NO_COLOR", "1")]);
    assert!(
        stdout(&out).contains("\u{1b}[31m- 778899"),
        "{:?}",
        stdout(&out)
    );

    for when in ["never", "auto"] {
        let args: Vec<&str> = [PLAN, &["--color", when]].concat();
        let out = in_pipes(&args, &[("CLICOLOR_FORCE", "1")]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            !stdout(&out).contains(ESC),
            "--color {when}: {:?}",
            stdout(&out)
        );
    }
    let (terminal, _) = on_terminal(
        &[PLAN, &["--color=never"]].concat(),
        &[],
        OnTerminal::Stdout,
    );
    assert!(!terminal.contains(ESC), "{terminal:?}");
}

#[test]
fn errors_are_red_at_a_terminal_and_plain_in_a_pipe() {
    let args = ["validate", "no/such/roster.csv"];
    let (terminal, out) = on_terminal(&args, &[], OnTerminal::Stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        terminal.contains("\u{1b}[31merror: no/such/roster.csv: cannot read the roster"),
        "{terminal:?}"
    );

    let out = in_pipes(&args, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: no/such/roster.csv: cannot read the roster"),
        "{:?}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(ESC), "{:?}", stderr(&out));

    let (terminal, _) = on_terminal(&args, &[("NO_COLOR", "1")], OnTerminal::Stderr);
    assert!(terminal.starts_with("error: no/such"), "{terminal:?}");
    assert!(!terminal.contains(ESC), "{terminal:?}");
}

#[test]
fn usage_errors_from_the_parser_follow_the_color_flag() {
    let out = in_pipes(&["--color", "always", "validate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(ESC), "{:?}", stderr(&out));
    let (terminal, out) = on_terminal(&["validate", "--color=never"], &[], OnTerminal::Stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(terminal.contains("error:"), "{terminal:?}");
    assert!(!terminal.contains(ESC), "{terminal:?}");
}

#[test]
fn verbose_logs_follow_the_same_colour_rule() {
    let args = ["auth", "check", "--sandbox", "-v"];
    let logged = |text: &str| -> String {
        text.lines()
            .find(|l| l.contains("in-process sandbox"))
            .unwrap_or_else(|| panic!("no log line in {text:?}"))
            .to_owned()
    };
    let (terminal, out) = on_terminal(&args, &[], OnTerminal::Stderr);
    assert_eq!(out.status.code(), Some(0), "{terminal}");
    assert!(logged(&terminal).contains(ESC), "{terminal:?}");

    let (terminal, _) = on_terminal(&args, &[("NO_COLOR", "1")], OnTerminal::Stderr);
    assert!(!logged(&terminal).contains(ESC), "{terminal:?}");

    let out = in_pipes(&args, &[]);
    assert!(!logged(&stderr(&out)).contains(ESC), "{:?}", stderr(&out));
    let out = in_pipes(&args, &[("CLICOLOR_FORCE", "1")]);
    assert!(logged(&stderr(&out)).contains(ESC), "{:?}", stderr(&out));
}

// --- -o / --output json on every command --------------------------------

#[test]
fn export_json_is_an_array_of_rows_that_apply_reads_back_without_a_write() {
    let sandbox = common::Rehearsal::start(cxskill::sandbox::SandboxOptions::default());
    let out = sandbox.cxskill(&common::fast(&["export", "-o", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = common::report_json(&out);
    let rows = rows.as_array().expect("a JSON array");
    assert_eq!(rows.len(), sandbox.state().len());
    for row in rows {
        let keys: Vec<&str> = row
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "active",
                "agent",
                "agent_name",
                "proficiency",
                "skill",
                "skill_name"
            ],
            "{row}"
        );
    }

    let dir = common::TempDir::new("export-json");
    let file = dir.path("tenant.json");
    let out = sandbox.cxskill(&common::fast(&["export", "--out", &file, "-o", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written: serde_json::Value =
        serde_json::from_str(&common::read(&file)).expect("the file is the JSON array");
    assert_eq!(written.as_array().map(Vec::len), Some(rows.len()));
    let out = sandbox.cxskill(&common::fast(&["apply", &file, "--yes"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(sandbox.writes().is_empty(), "{:?}", sandbox.writes());
}

/// `cxskill sandbox ARGS` on an ephemeral port: its first line of
/// stdout, then (after SIGINT) the rest of stdout, stderr and the exit.
fn sandbox_run(args: &[&str]) -> (String, Output) {
    sandbox_run_with(args, |_| {})
}

/// As [`sandbox_run`], calling `meanwhile` with the first line before
/// the sandbox is stopped.
fn sandbox_run_with(args: &[&str], meanwhile: impl FnOnce(&str)) -> (String, Output) {
    use std::io::BufRead;
    let mut all = vec!["sandbox", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let mut child = isolated_command(&all)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cxskill sandbox");
    let mut reader = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    reader.read_line(&mut first).expect("first line");
    meanwhile(&first);
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: signals the child this test spawned.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let mut rest = String::new();
    reader.read_to_string(&mut rest).expect("rest of stdout");
    let mut output = child.wait_with_output().expect("wait");
    output.stdout = rest.into_bytes();
    (first, output)
}

#[test]
fn sandbox_json_is_one_document_with_its_addresses_and_export_lines() {
    let (first, out) = sandbox_run(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&first).expect("one JSON line");
    let base = doc["api_base"].as_str().expect("api_base").to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{doc}");
    assert_eq!(
        doc["listen"].as_str().map(|l| format!("http://{l}")),
        Some(base.clone())
    );
    assert_eq!(doc["token_url"], format!("{base}/auth/token"));
    assert_eq!(
        doc["api_root"],
        format!("{base}/inContactAPI/services/v34.0")
    );
    assert!(
        doc["discovery_url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&format!("{base}/.well-known/cxone-configuration"))),
        "{doc}"
    );
    let export: Vec<&str> = doc["export"]
        .as_array()
        .expect("export lines")
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert_eq!(
        export[0],
        format!("export CXSKILL_TOKEN_URL={base}/auth/token")
    );
    assert!(
        export
            .iter()
            .any(|l| l.starts_with("export CXSKILL_ACCESS_KEY_SECRET=")),
        "{export:?}"
    );
    assert_eq!(doc["tenant"]["agents"], 12);
    // Nothing else on stdout: it stays one document.
    assert_eq!(stdout(&out), "");
}

// --- Long unattended runs -------------------------------------------------

/// A run of a dozen seconds, off a terminal at -v, logs its progress
/// (the throttling itself is unit-tested with a fake clock in
/// `cxskill::progress`; this proves the binary wires it to stderr).
#[test]
fn off_a_terminal_a_long_apply_logs_progress_lines_at_v() {
    let agents = 30;
    let before = common::seeded_state(agents, 7);
    // One change per agent, so one write (and its read) per agent.
    let rows: Vec<common::Row> = (1..=agents)
        .map(|agent| {
            let (&(_, skill), &(p, _)) = before
                .range((agent, 0)..(agent + 1, 0))
                .next()
                .expect("every agent holds skills");
            (agent, skill, Some(if p == 20 { 1 } else { p + 1 }))
        })
        .collect();
    let sandbox = common::Rehearsal::with_tenant(
        common::tenant_of(&before, agents, &[]),
        cxskill::sandbox::SandboxOptions {
            latency: std::time::Duration::from_millis(400),
            ..Default::default()
        },
    );
    let dir = common::TempDir::new("progress");
    let roster = dir.file("roster.csv", &common::roster_csv(&rows));
    let out = sandbox.cxskill(&[
        "apply",
        &roster,
        "--yes",
        "--no-bulk",
        "--concurrency",
        "1",
        "--rate",
        "1000",
        "-v",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = stderr(&out);
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("applying: ")).collect();
    assert!(!lines.is_empty(), "no progress line in:\n{log}");
    for line in &lines {
        let text = &line[line.find("applying: ").expect("found")..];
        let (counts, rest) = text["applying: ".len()..]
            .split_once(" requests, ")
            .unwrap_or_else(|| panic!("{line}"));
        let (done, total) = counts.split_once('/').unwrap_or_else(|| panic!("{line}"));
        assert!(
            done.parse::<u64>().is_ok() && total.parse::<u64>().is_ok(),
            "{line}"
        );
        let (rate, eta) = rest
            .split_once(", ETA ")
            .unwrap_or_else(|| panic!("{line}"));
        assert!(
            rate.strip_suffix("/s")
                .is_some_and(|r| r == "<1" || r.parse::<u64>().is_ok()),
            "not a whole rate: {line}"
        );
        assert!(!eta.is_empty(), "{line}");
    }
    // Without -v, nothing but the report.
    assert!(!common::stdout(&out).contains("applying: "));
}

// --- Man pages --------------------------------------------------------------

/// Every `cxskill…(1)` a page refers to, as page names (roff writes `-`
/// as `\-`).
fn references(page: &str) -> Vec<String> {
    let text = page
        .replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fR", "");
    let mut found = Vec::new();
    for (i, _) in text.match_indices("cxskill") {
        let name: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        if text[i + name.len()..].starts_with("(1)") {
            found.push(name);
        }
    }
    found
}

#[test]
fn man_dir_writes_every_page_and_every_reference_names_a_written_page() {
    let dir = common::TempDir::new("man");
    let out = isolated_command(&["man", "--dir", &dir.path("man1")])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written: Vec<String> = std::fs::read_dir(dir.0.join("man1"))
        .expect("the directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        stdout(&out).starts_with(&format!("wrote {} man pages to ", written.len())),
        "{}",
        stdout(&out)
    );
    for expected in [
        "cxskill.1",
        "cxskill-validate.1",
        "cxskill-plan.1",
        "cxskill-apply.1",
        "cxskill-export.1",
        "cxskill-sandbox.1",
        "cxskill-config.1",
        "cxskill-config-init.1",
        "cxskill-config-show.1",
        "cxskill-auth.1",
        "cxskill-auth-check.1",
        "cxskill-completions.1",
        "cxskill-man.1",
    ] {
        assert!(
            written.contains(&expected.to_owned()),
            "{expected}: {written:?}"
        );
    }
    let mut referenced = 0;
    for file in &written {
        let page = common::read(dir.0.join("man1").join(file));
        let name = file.trim_end_matches(".1");
        assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{file}");
        assert_eq!(page.matches(".ie \\n(.g").count(), 1, "{file}");
        assert!(page.contains(&format!("\n.TH {name} 1 ")), "{file}: {page}");
        assert!(page.contains("\n.SH \"EXIT STATUS\"\n"), "{file}");
        for reference in references(&page) {
            referenced += 1;
            assert!(
                written.contains(&format!("{reference}.1")),
                "{file} refers to {reference}(1), which was not written"
            );
        }
        if name != "cxskill" {
            assert!(
                references(&page).contains(&"cxskill".to_owned()),
                "{file} does not refer to cxskill(1)"
            );
        }
    }
    assert!(referenced > written.len(), "{referenced}");
}

#[test]
fn man_prints_the_page_of_any_command_nested_ones_too() {
    let dir = common::TempDir::new("man-one");
    let all = isolated_command(&["man", "--dir", &dir.path("pages")])
        .output()
        .expect("run");
    assert_eq!(all.status.code(), Some(0));
    for (args, file) in [
        (&["man"][..], "cxskill.1"),
        (&["man", "apply"], "cxskill-apply.1"),
        (&["man", "config", "show"], "cxskill-config-show.1"),
        (&["man", "auth", "check"], "cxskill-auth-check.1"),
        (&["man", "config", "init"], "cxskill-config-init.1"),
    ] {
        let out = isolated_command(args).output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            common::read(dir.0.join("pages").join(file)),
            "{args:?}"
        );
    }
    let out = isolated_command(&["man", "config", "nosuch"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("no command `config nosuch`; the commands of `config` are: init, show"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_top_man_page_covers_the_environment_the_config_file_and_the_exit_codes() {
    let out = isolated_command(&["man"]).output().expect("run");
    let page = stdout(&out).replace("\\-", "-");
    for section in ["ENVIRONMENT", "FILES", "\"EXIT STATUS\"", "SUBCOMMANDS"] {
        assert!(page.contains(&format!("\n.SH {section}\n")), "{section}");
    }
    for var in cxskill::settings::ENVIRONMENT {
        assert!(
            page.contains(&format!("\\fB{}\\fR", var.name)),
            "{}",
            var.name
        );
    }
    for key in cxskill::settings::PROFILE_KEYS {
        assert!(
            page.contains(&format!("\\fB{}\\fR", key.key)),
            "{}",
            key.key
        );
    }
    for expected in [
        "[profile.NAME.levels]",
        "*_file",
        "*_command",
        "[levels]",
        "$XDG_CONFIG_HOME/cxskill/config.toml",
    ] {
        assert!(page.contains(expected), "{expected}");
    }
    for (code, meaning) in cxskill::exit_codes::entries() {
        assert!(page.contains(&format!("\\fB{code}\\fR\n")), "{code}");
        assert!(page.contains(&meaning.replace('\'', "\\*(Aq")), "{meaning}");
    }
}

// --- Summaries ----------------------------------------------------------------

#[test]
fn plans_and_dry_runs_never_say_0_applied() {
    for args in [
        &["plan", "tests/data/mistakes.csv", "--sandbox"][..],
        &["apply", "--dry-run", "tests/data/mistakes.csv", "--sandbox"],
    ] {
        let out = in_pipes(args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let text = stdout(&out);
        assert!(!text.contains("applied"), "{args:?}:\n{text}");
        assert!(
            text.ends_with("nothing was written; 9 invalid\nrequests: none\n"),
            "{args:?}:\n{text}"
        );
    }
    for args in [
        &["plan", "examples/roster.csv", "--sandbox"][..],
        &["apply", "--dry-run", "examples/roster.csv", "--sandbox"],
    ] {
        let out = in_pipes(args, &[]);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = stdout(&out);
        assert!(!text.contains("applied"), "{args:?}:\n{text}");
        let last = text.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("17 to add, 3 to change, 1 to remove, 4 unchanged; "),
            "{args:?}: {last}"
        );
    }
    // A plan that cannot log in.
    let sandbox = common::Rehearsal::start(cxskill::sandbox::SandboxOptions::default());
    let out = sandbox.cxskill_with(
        &["plan", "examples/roster.csv"],
        &[("CXSKILL_ACCESS_KEY_SECRET", "not-the-secret")],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!stdout(&out).contains("applied"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("\nnothing was written\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn validate_export_auth_check_and_sandbox_end_with_what_they_did() {
    let out = in_pipes(&["validate", "examples/roster.csv"], &[]);
    assert_eq!(
        stdout(&out).lines().last(),
        Some("25 rows, 12 agents, 6 skills: valid")
    );

    let dir = common::TempDir::new("summaries");
    let file = dir.path("tenant.csv");
    let out = in_pipes(&["export", "--sandbox", "--out", &file], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("exported 10 assignments of 7 agents to {file}\n")
    );
    // The roster on stdout stays a roster: the summary goes to stderr.
    let out = in_pipes(&["export", "--sandbox"], &[]);
    assert!(
        stdout(&out).starts_with("agent,skill,proficiency"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        stderr(&out),
        "exported 10 assignments of 7 agents to stdout\n"
    );
    let out = in_pipes(&["export", "--sandbox", "-q"], &[]);
    assert_eq!(stderr(&out), "");

    let out = in_pipes(&["auth", "check", "--sandbox"], &[]);
    assert_eq!(
        stdout(&out).lines().last(),
        Some("ok: authenticated with the access key; the tenant has 12 agents and 6 skills")
    );

    let (_, out) = sandbox_run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().last(),
        Some("sandbox stopped: served 0 requests (0 writes); the tenant holds 10 assignments"),
        "{}",
        stdout(&out)
    );
    // With -o json, stdout stays the one document; the summary counts
    // what was served.
    let (_, out) = sandbox_run_with(&["-o", "json"], |first| {
        let doc: serde_json::Value = serde_json::from_str(first).expect("json");
        let listen = doc["listen"].as_str().expect("listen").to_owned();
        let mut stream = std::net::TcpStream::connect(listen).expect("connect");
        std::io::Write::write_all(
            &mut stream,
            b"GET /inContactAPI/services/v34.0/skills HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .expect("send");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    });
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "sandbox stopped: served 1 request (0 writes); the tenant holds 10 assignments\n"
    );
}

// --- Safe unattended use --------------------------------------------------------

#[test]
fn off_a_terminal_apply_needs_yes_or_auto_approve_and_a_dry_run_exits_as_the_apply_would() {
    let sandbox = common::Rehearsal::start(cxskill::sandbox::SandboxOptions::default());
    let before = sandbox.state();
    let out = sandbox.cxskill(&common::fast(&["apply", "examples/roster.csv"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("add --yes (or --auto-approve)"),
        "{}",
        stderr(&out)
    );
    assert!(sandbox.requests().is_empty(), "nothing is read or sent");

    // The removal guard stops the dry run as it would stop the apply.
    let out = sandbox.cxskill(&common::fast(&[
        "apply",
        "examples/roster.csv",
        "--dry-run",
        "--max-removals",
        "0",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--max-removals 0"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sandbox.state(), before);

    let out = sandbox.cxskill(&common::fast(&[
        "apply",
        "examples/roster.csv",
        "--auto-approve",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sandbox.state(), common::example_target(&before));
}
