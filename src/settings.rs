//! Settings: every connection setting resolved from its four layers, with
//! where each value came from. **Flag > environment > profile > built-in
//! default**, one setting at a time.
//!
//! The profile layer is a TOML config file
//! (`$XDG_CONFIG_HOME/cxskill/config.toml`, else
//! `$HOME/.config/cxskill/config.toml`, or `--config FILE`) with named
//! `[profile.NAME]` tables and a `[levels]` table of named proficiencies.
//! Secrets are never written in it: a profile names a file
//! (`client_secret_file`) or a command (`client_secret_command`) whose
//! output is the secret, and both are read only when a connection is made,
//! never to show the settings.
//!
//! The environment is read through a lookup function, so tests can hand in
//! their own instead of changing the process environment.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

use crate::config::{
    ApiClient, ConfigError, Connection, Credentials, DEFAULT_API_VERSION, DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_TOKEN_URL, RetryPolicy, TokenAuth,
};
use crate::model::{Levels, Proficiency};
use crate::secret::Secret;

/// Requests per second when nothing says otherwise.
pub const DEFAULT_RATE: f64 = 10.0;
/// Requests in flight when nothing says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 5;

/// Reads one environment variable; empty counts as unset.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, for the binary.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn var(env: Lookup<'_>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.is_empty())
}

/// What the command line said; `None` where a flag was not given.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub profile: Option<String>,
    pub api_base: Option<String>,
    pub api_version: Option<String>,
    pub token_url: Option<String>,
    pub rate: Option<f64>,
    pub concurrency: Option<usize>,
    pub max_answer_bytes: Option<usize>,
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, e.g. `--rate`.
    Flag(&'static str),
    /// An environment variable, e.g. `CXSKILL_RATE`.
    Env(&'static str),
    /// A `[profile.NAME]` table of the config file.
    Profile(String),
    /// The config file's `default_profile`.
    DefaultProfile,
    /// The config file's top-level `[levels]` table.
    ConfigFile,
    /// cxskill's built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::Profile(name) => write!(f, "profile {name}"),
            Source::DefaultProfile => f.write_str("default_profile of the config file"),
            Source::ConfigFile => f.write_str("config file"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

/// Everything that goes wrong reading or applying settings. All of it is
/// a configuration failure (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The message never quotes the file's text, so a secret pasted into
    /// the wrong place is not echoed back.
    #[error("{}{}: {message}", path.display(), at.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        at: Option<(usize, usize)>,
        message: String,
    },
    #[error(
        "{}: `{key}` is written in {table}; secrets never go in the config file: use `{key}_file`, `{key}_command` or the environment variable {env}",
        path.display()
    )]
    InlineSecret {
        path: PathBuf,
        table: String,
        key: &'static str,
        env: &'static str,
    },
    #[error("{}: {table} has both `{key}_file` and `{key}_command`; keep one", path.display())]
    TwoSecretSources {
        path: PathBuf,
        table: String,
        key: &'static str,
    },
    #[error("{}: level `{name}` in {table} must be an integer from 1 (best) to 20, got {got}", path.display())]
    BadLevel {
        path: PathBuf,
        table: String,
        name: String,
        got: String,
    },
    #[error("no profile `{name}` ({from}); {}", defined_text(defined, path.as_deref()))]
    UnknownProfile {
        name: String,
        from: Source,
        defined: Vec<String>,
        path: Option<PathBuf>,
    },
    #[error("{what} ({from}): {message}")]
    Invalid {
        what: &'static str,
        from: Source,
        message: String,
    },
    #[error(
        "no tenant configured: set CXSKILL_ACCESS_KEY_ID and CXSKILL_ACCESS_KEY_SECRET (the API host is discovered from the token), or rehearse with --sandbox (a profile of the config file can hold them too: see `cxskill config show`)"
    )]
    NoTenant,
    #[error(
        "no credentials: set {} (or a pre-issued CXSKILL_TOKEN), in the environment or in the profile",
        missing.join(", ")
    )]
    NoCredentials { missing: Vec<&'static str> },
    #[error(
        "the API client is half configured: {have} is set but {missing} is not; set both (or neither: an access key alone is enough)"
    )]
    HalfClient {
        have: &'static str,
        missing: &'static str,
    },
    /// Never carries the command's or the file's output.
    #[error("{key} ({origin}): {reason}")]
    Secret {
        key: &'static str,
        origin: String,
        reason: String,
    },
    /// The profile in use has a problem (an unknown key, an inline
    /// secret, a bad level): the message of the check, which names the
    /// file, line and key.
    #[error("{0}")]
    BadProfile(String),
    #[error(transparent)]
    Connection(#[from] ConfigError),
}

fn defined_text(defined: &[String], path: Option<&Path>) -> String {
    match (path, defined.is_empty()) {
        (None, _) => "there is no config file to define profiles in".to_owned(),
        (Some(path), true) => format!("{} defines no profile", path.display()),
        (Some(path), false) => format!(
            "{} defines: {}",
            path.display(),
            defined
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

// --- The file as written -------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    default_profile: Option<String>,
    #[serde(default)]
    levels: BTreeMap<String, toml::Value>,
    /// Each profile is checked on its own (see [`Config::parse`]).
    #[serde(default)]
    profile: BTreeMap<String, IgnoredAny>,
    // Accepted only to be refused with a message that says what to do.
    access_key_secret: Option<IgnoredAny>,
    client_secret: Option<IgnoredAny>,
    token: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileDoc {
    api_base: Option<String>,
    api_version: Option<String>,
    token_url: Option<String>,
    client_id: Option<String>,
    access_key_id: Option<String>,
    rate: Option<f64>,
    concurrency: Option<usize>,
    token_auth: Option<String>,
    max_answer_bytes: Option<usize>,
    access_key_secret_file: Option<String>,
    access_key_secret_command: Option<String>,
    client_secret_file: Option<String>,
    client_secret_command: Option<String>,
    token_file: Option<String>,
    token_command: Option<String>,
    #[serde(default)]
    levels: BTreeMap<String, toml::Value>,
    access_key_secret: Option<IgnoredAny>,
    client_secret: Option<IgnoredAny>,
    token: Option<IgnoredAny>,
}

/// One key of a `[profile.NAME]` table: an example value (as TOML) and
/// what it is.
#[derive(Debug, Clone, Copy)]
pub struct ProfileKey {
    pub key: &'static str,
    pub example: &'static str,
    pub doc: &'static str,
}

/// Every key a `[profile.NAME]` table takes (besides its `levels`
/// table), in the order `config init` writes them; the man page's FILES
/// section lists the same. A test checks it against [`ProfileDoc`].
pub const PROFILE_KEYS: &[ProfileKey] = &[
    ProfileKey {
        key: "api_base",
        example: "\"https://api-na1.niceincontact.com\"",
        doc: "scheme and host of the API [default: discovered from the token]",
    },
    ProfileKey {
        key: "api_version",
        example: "\"v34.0\"",
        doc: "Admin API version [default: v34.0]",
    },
    ProfileKey {
        key: "token_url",
        example: "\"https://cxone.niceincontact.com/auth/token\"",
        doc: "OAuth token endpoint [default: https://cxone.niceincontact.com/auth/token]",
    },
    ProfileKey {
        key: "access_key_id",
        example: "\"AK1234\"",
        doc: "a CXone access key",
    },
    ProfileKey {
        key: "access_key_secret_file",
        example: "\"~/.config/cxskill/access-key.secret\"",
        doc: "a file holding its secret (contents trimmed; `~` is your home, a relative path is from this file's directory)",
    },
    ProfileKey {
        key: "access_key_secret_command",
        example: "\"pass show cxone/access-key\"",
        doc: "or a command printing it (run with `sh -c`, stdout trimmed)",
    },
    ProfileKey {
        key: "client_id",
        example: "\"cxskill\"",
        doc: "the API client the access key is exchanged through (optional)",
    },
    ProfileKey {
        key: "client_secret_file",
        example: "\"~/.config/cxskill/client.secret\"",
        doc: "a file holding the client's secret",
    },
    ProfileKey {
        key: "client_secret_command",
        example: "\"pass show cxone/client\"",
        doc: "or a command printing it",
    },
    ProfileKey {
        key: "token_file",
        example: "\"~/.config/cxskill/token\"",
        doc: "instead of an access key: a file holding a pre-issued bearer token (cannot be renewed)",
    },
    ProfileKey {
        key: "token_command",
        example: "\"vault kv get -field=token secret/cxone\"",
        doc: "or a command printing it",
    },
    ProfileKey {
        key: "token_auth",
        example: "\"body\"",
        doc: "how the client id and secret reach the token endpoint: `body` or `basic` [default: body]",
    },
    ProfileKey {
        key: "rate",
        example: "10",
        doc: "requests per second [default: 10]",
    },
    ProfileKey {
        key: "concurrency",
        example: "5",
        doc: "requests in flight at once [default: 5]",
    },
    ProfileKey {
        key: "max_answer_bytes",
        example: "67108864",
        doc: "the largest answer read, in bytes [default: 67108864, 64 MiB]",
    },
];

/// One environment variable cxskill reads, and what it sets.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    pub name: &'static str,
    pub doc: &'static str,
}

/// Every environment variable cxskill reads, in one place: the man page's
/// ENVIRONMENT section is written from it, and a test checks that the
/// source reads no `CXSKILL_*` variable missing here.
pub const ENVIRONMENT: &[EnvVar] = &[
    EnvVar {
        name: "CXSKILL_PROFILE",
        doc: "the profile of the config file to use (--profile wins)",
    },
    EnvVar {
        name: "CXSKILL_API_BASE",
        doc: "scheme and host of the API (--api-base wins; default: discovered from the token)",
    },
    EnvVar {
        name: "CXSKILL_API_VERSION",
        doc: "Admin API version (--api-version wins; default v34.0)",
    },
    EnvVar {
        name: "CXSKILL_TOKEN_URL",
        doc: "OAuth token endpoint (--token-url wins)",
    },
    EnvVar {
        name: "CXSKILL_ACCESS_KEY_ID",
        doc: "the CXone access key",
    },
    EnvVar {
        name: "CXSKILL_ACCESS_KEY_SECRET",
        doc: "its secret",
    },
    EnvVar {
        name: "CXSKILL_CLIENT_ID",
        doc: "the API client the access key is exchanged through (optional)",
    },
    EnvVar {
        name: "CXSKILL_CLIENT_SECRET",
        doc: "the client's secret",
    },
    EnvVar {
        name: "CXSKILL_TOKEN",
        doc: "a pre-issued bearer token; wins over an access key, and cannot be renewed",
    },
    EnvVar {
        name: "CXSKILL_TOKEN_AUTH",
        doc: "how the client id and secret reach the token endpoint: body or basic",
    },
    EnvVar {
        name: "CXSKILL_RATE",
        doc: "requests per second (--rate wins; default 10)",
    },
    EnvVar {
        name: "CXSKILL_CONCURRENCY",
        doc: "requests in flight at once (--concurrency wins; default 5)",
    },
    EnvVar {
        name: "CXSKILL_MAX_ANSWER_BYTES",
        doc: "the largest answer read, in bytes (--max-answer-bytes wins)",
    },
    EnvVar {
        name: "CXSKILL_MAX_ROSTER_BYTES",
        doc: "refuse a larger roster (--max-roster-bytes wins; default 1G)",
    },
    EnvVar {
        name: "CXSKILL_MAX_FIELD_BYTES",
        doc: "a longer roster field makes its row invalid (--max-field-bytes wins; default 64K)",
    },
    EnvVar {
        name: "XDG_CONFIG_HOME",
        doc: "the config file is $XDG_CONFIG_HOME/cxskill/config.toml",
    },
    EnvVar {
        name: "HOME",
        doc: "else ~/.config/cxskill/config.toml; `~` in a *_file path",
    },
    EnvVar {
        name: "NO_COLOR",
        doc: "any non-empty value: no colour (--color wins)",
    },
    EnvVar {
        name: "CLICOLOR_FORCE",
        doc: "non-empty and not 0: colour even off a terminal (--color wins)",
    },
];

// --- The file, checked ------------------------------------------------------

/// Where a profile says a secret is.
#[derive(Clone)]
enum SecretSpec {
    File(String),
    Command(String),
}

/// One profile, checked: no inline secrets, one source per secret, valid
/// levels.
#[derive(Clone)]
struct Profile {
    api_base: Option<String>,
    api_version: Option<String>,
    token_url: Option<String>,
    client_id: Option<String>,
    access_key_id: Option<String>,
    rate: Option<f64>,
    concurrency: Option<usize>,
    token_auth: Option<String>,
    max_answer_bytes: Option<usize>,
    access_key_secret: Option<SecretSpec>,
    client_secret: Option<SecretSpec>,
    token: Option<SecretSpec>,
    levels: Vec<(String, Proficiency)>,
}

/// How the config file was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// `--config FILE`.
    Flag,
    /// The default location (`$XDG_CONFIG_HOME` or `$HOME/.config`).
    DefaultLocation,
    /// Neither `XDG_CONFIG_HOME` nor `HOME` is set.
    NoLocation,
}

/// The config file, read and checked, or the note that there is none.
#[derive(Clone)]
pub struct Config {
    /// The file read, or for the default location the file looked for.
    pub path: Option<PathBuf>,
    pub origin: ConfigOrigin,
    /// Whether the file exists and was read.
    pub found: bool,
    default_profile: Option<String>,
    levels: Vec<(String, Proficiency)>,
    /// Every profile, checked; a broken one keeps the message of what is
    /// wrong with it, which is an error only when it is the one in use.
    profiles: BTreeMap<String, Result<Profile, String>>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("path", &self.path)
            .field("origin", &self.origin)
            .field("found", &self.found)
            .field("profiles", &self.profiles.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Config {
    /// No config file at all.
    pub fn none() -> Config {
        Config {
            path: None,
            origin: ConfigOrigin::NoLocation,
            found: false,
            default_profile: None,
            levels: Vec::new(),
            profiles: BTreeMap::new(),
        }
    }

    /// The default location: `$XDG_CONFIG_HOME/cxskill/config.toml`, else
    /// `$HOME/.config/cxskill/config.toml`.
    pub fn default_path(env: Lookup<'_>) -> Option<PathBuf> {
        if let Some(dir) = var(env, "XDG_CONFIG_HOME") {
            return Some(Path::new(&dir).join("cxskill").join("config.toml"));
        }
        var(env, "HOME").map(|home| {
            Path::new(&home)
                .join(".config")
                .join("cxskill")
                .join("config.toml")
        })
    }

    /// Reads `explicit` (which must exist) or the default location (which
    /// may not). Warns when the file can be read by group or others.
    pub fn load(explicit: Option<&Path>, env: Lookup<'_>) -> Result<Config, SettingsError> {
        let (path, origin) = match explicit {
            Some(path) => (path.to_path_buf(), ConfigOrigin::Flag),
            None => match Config::default_path(env) {
                Some(path) => (path, ConfigOrigin::DefaultLocation),
                None => return Ok(Config::none()),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                return Ok(Config {
                    path: Some(path),
                    origin,
                    ..Config::none()
                });
            }
            Err(source) => return Err(SettingsError::Read { path, source }),
        };
        warn_if_shared(&path, "config file");
        let mut config = Config::parse(&path, &text)?;
        config.origin = origin;
        Ok(config)
    }

    /// Parses and checks the text of a config file found at `path`. The
    /// top level (`default_profile`, `[levels]`, no inline secret, no
    /// unknown key) must be right for any command to run. Each
    /// `[profile.NAME]` is checked on its own: a problem in one is an
    /// error only for a run that uses it (see [`Config::problems`]), so a
    /// typo in a profile nobody uses today breaks nothing.
    pub fn parse(path: &Path, text: &str) -> Result<Config, SettingsError> {
        let parse_error = |e: toml::de::Error| SettingsError::Parse {
            path: path.to_path_buf(),
            at: e.span().map(|span| line_column(text, span.start)),
            message: e.message().trim().to_owned(),
        };
        let doc: FileDoc = toml::from_str(text).map_err(parse_error)?;
        inline_secret(
            path,
            "the top level",
            [&doc.access_key_secret, &doc.client_secret, &doc.token],
        )?;
        let levels = check_levels(path, "[levels]", doc.levels)?;
        // The profiles again, as spanned values, so that an error in one
        // still names its line and column.
        let tables = toml::de::DeTable::parse(text).map_err(parse_error)?;
        let spanned: BTreeMap<&str, &toml::Spanned<toml::de::DeValue>> = tables
            .get_ref()
            .iter()
            .filter(|(key, _)| key.get_ref().as_ref() == "profile")
            .filter_map(|(_, value)| match value.get_ref() {
                toml::de::DeValue::Table(table) => Some(table),
                _ => None,
            })
            .flat_map(|table| table.iter())
            .map(|(name, value)| (name.get_ref().as_ref(), value))
            .collect();
        let mut profiles = BTreeMap::new();
        for name in doc.profile.into_keys() {
            let checked = match spanned.get(name.as_str()) {
                Some(&value) => {
                    ProfileDoc::deserialize(toml::de::ValueDeserializer::from(value.clone()))
                        .map_err(parse_error)
                        .and_then(|doc| check_profile(path, &name, doc))
                        .map_err(|e| e.to_string())
                }
                None => Err(format!("{}: cannot read [profile.{name}]", path.display())),
            };
            profiles.insert(name, checked);
        }
        Ok(Config {
            path: Some(path.to_path_buf()),
            origin: ConfigOrigin::Flag,
            found: true,
            default_profile: doc.default_profile,
            levels,
            profiles,
        })
    }

    /// What is wrong with the profiles other than `in_use`, one message
    /// each: to warn about, since no setting of theirs is used.
    pub fn problems(&self, in_use: Option<&str>) -> Vec<String> {
        self.profiles
            .iter()
            .filter(|(name, _)| Some(name.as_str()) != in_use)
            .filter_map(|(name, checked)| {
                checked.as_ref().err().map(|message| {
                    format!("profile `{name}` is not in use, so this is only a warning: {message}")
                })
            })
            .collect()
    }

    /// The profile names the file defines, sorted.
    pub fn profiles(&self) -> Vec<String> {
        self.profiles.keys().cloned().collect()
    }
}

/// A secret written in the file itself is refused, with what to do
/// instead.
fn inline_secret(
    path: &Path,
    table: &str,
    written: [&Option<IgnoredAny>; 3],
) -> Result<(), SettingsError> {
    let keys = [
        ("access_key_secret", "CXSKILL_ACCESS_KEY_SECRET"),
        ("client_secret", "CXSKILL_CLIENT_SECRET"),
        ("token", "CXSKILL_TOKEN"),
    ];
    match keys.iter().zip(written).find(|(_, v)| v.is_some()) {
        Some(((key, env), _)) => Err(SettingsError::InlineSecret {
            path: path.to_path_buf(),
            table: table.to_owned(),
            key,
            env,
        }),
        None => Ok(()),
    }
}

/// One `[profile.NAME]`, checked: no inline secret, one source per
/// secret, valid levels.
fn check_profile(path: &Path, name: &str, p: ProfileDoc) -> Result<Profile, SettingsError> {
    let table = format!("[profile.{name}]");
    inline_secret(
        path,
        &table,
        [&p.access_key_secret, &p.client_secret, &p.token],
    )?;
    let spec =
        |key: &'static str, file: Option<String>, command: Option<String>| match (file, command) {
            (Some(_), Some(_)) => Err(SettingsError::TwoSecretSources {
                path: path.to_path_buf(),
                table: table.clone(),
                key,
            }),
            (Some(file), None) => Ok(Some(SecretSpec::File(file))),
            (None, Some(command)) => Ok(Some(SecretSpec::Command(command))),
            (None, None) => Ok(None),
        };
    Ok(Profile {
        access_key_secret: spec(
            "access_key_secret",
            p.access_key_secret_file,
            p.access_key_secret_command,
        )?,
        client_secret: spec(
            "client_secret",
            p.client_secret_file,
            p.client_secret_command,
        )?,
        token: spec("token", p.token_file, p.token_command)?,
        levels: check_levels(path, &format!("[profile.{name}.levels]"), p.levels)?,
        api_base: p.api_base,
        api_version: p.api_version,
        token_url: p.token_url,
        client_id: p.client_id,
        access_key_id: p.access_key_id,
        rate: p.rate,
        concurrency: p.concurrency,
        token_auth: p.token_auth,
        max_answer_bytes: p.max_answer_bytes,
    })
}

fn check_levels(
    path: &Path,
    table: &str,
    levels: BTreeMap<String, toml::Value>,
) -> Result<Vec<(String, Proficiency)>, SettingsError> {
    levels
        .into_iter()
        .map(|(name, value)| {
            let proficiency = match &value {
                toml::Value::Integer(i) => Proficiency::new(*i),
                _ => None,
            };
            match proficiency {
                Some(p) => Ok((name, p)),
                None => Err(SettingsError::BadLevel {
                    path: path.to_path_buf(),
                    table: table.to_owned(),
                    name,
                    got: match value {
                        toml::Value::Integer(i) => i.to_string(),
                        other => format!("a {}", other.type_str()),
                    },
                }),
            }
        })
        .collect()
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Warns when `path` can be read by group or others.
fn warn_if_shared(path: &Path, what: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "{what} {} can be read by group or others (mode {mode:04o}); run chmod 600 on it",
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
}

// --- Secrets ------------------------------------------------------------------

/// Where a secret comes from. The value is read (file) or produced
/// (command) only by [`SecretSetting::resolve`].
#[derive(Clone)]
pub enum SecretOrigin {
    Env { name: &'static str, value: Secret },
    File { profile: String, path: PathBuf },
    Command { profile: String, command: String },
}

impl fmt::Display for SecretOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretOrigin::Env { name, .. } => write!(f, "env {name}"),
            SecretOrigin::File { profile, path } => {
                write!(f, "file {} in profile {profile}", path.display())
            }
            // The command is not shown: it may carry arguments nobody
            // wants in a log.
            SecretOrigin::Command { profile, .. } => write!(f, "command in profile {profile}"),
        }
    }
}

impl fmt::Debug for SecretOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretOrigin({self})")
    }
}

/// One secret setting: which key, and where its value comes from.
#[derive(Debug, Clone)]
pub struct SecretSetting {
    /// `access_key_secret`, `client_secret` or `token`.
    pub key: &'static str,
    pub origin: SecretOrigin,
}

impl SecretSetting {
    /// The secret itself: the environment's value, the file's contents
    /// trimmed, or the command's standard output trimmed. A failing
    /// command's output is never part of the error.
    pub fn resolve(&self) -> Result<Secret, SettingsError> {
        let fail = |reason: String| SettingsError::Secret {
            key: self.key,
            origin: self.origin.to_string(),
            reason,
        };
        let value = match &self.origin {
            SecretOrigin::Env { value, .. } => return Ok(value.clone()),
            SecretOrigin::File { path, .. } => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| fail(format!("cannot read the file: {e}")))?;
                warn_if_shared(path, "secret file");
                text
            }
            SecretOrigin::Command { command, .. } => {
                // stdin and stderr stay the user's, so a password manager
                // can ask and explain; stdout is the secret.
                let output = Command::new("sh")
                    .arg("-c")
                    .arg(command)
                    .stdin(Stdio::inherit())
                    .stderr(Stdio::inherit())
                    .stdout(Stdio::piped())
                    .output()
                    .map_err(|e| fail(format!("cannot run `sh -c`: {e}")))?;
                if !output.status.success() {
                    return Err(fail(format!(
                        "the command failed ({}); its output is not shown",
                        output.status
                    )));
                }
                String::from_utf8(output.stdout)
                    .map_err(|_| fail("the command's output is not UTF-8".to_owned()))?
            }
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(fail("it is empty".to_owned()));
        }
        Ok(Secret::new(value))
    }
}

// --- Resolution -------------------------------------------------------------

/// Every setting with its value and source.
#[derive(Debug, Clone)]
pub struct Effective {
    pub config: Config,
    /// The profile in use, if any, and what chose it.
    pub profile: Option<Sourced<String>>,
    pub api_base: Option<Sourced<String>>,
    pub api_version: Sourced<String>,
    pub token_url: Sourced<String>,
    pub rate: Sourced<f64>,
    pub concurrency: Sourced<usize>,
    /// How the client id and secret go to the token endpoint.
    pub token_auth: Sourced<TokenAuth>,
    /// The cap on one answer's size.
    pub max_answer_bytes: Sourced<usize>,
    pub access_key_id: Option<Sourced<String>>,
    pub client_id: Option<Sourced<String>>,
    pub access_key_secret: Option<SecretSetting>,
    pub client_secret: Option<SecretSetting>,
    pub token: Option<SecretSetting>,
    /// Named levels: `[levels]`, overridden and extended by the profile's.
    pub levels: Vec<(String, Sourced<Proficiency>)>,
}

/// Which credentials a connection will use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    AccessKey,
    Token,
}

impl Effective {
    /// Reads the config file (`flags.config` or the default location) and
    /// resolves every setting.
    pub fn load(flags: &Flags, env: Lookup<'_>) -> Result<Effective, SettingsError> {
        let config = Config::load(flags.config.as_deref(), env)?;
        Effective::resolve(flags, env, config)
    }

    /// Resolves every setting from the flags, the environment and the
    /// config file already read.
    pub fn resolve(
        flags: &Flags,
        env: Lookup<'_>,
        config: Config,
    ) -> Result<Effective, SettingsError> {
        let profile = select_profile(flags, env, &config)?;
        let chosen = match profile
            .as_ref()
            .and_then(|p| config.profiles.get(&p.value).map(|doc| (&p.value, doc)))
        {
            Some((_, Err(message))) => return Err(SettingsError::BadProfile(message.clone())),
            Some((name, Ok(doc))) => Some((name, doc)),
            None => None,
        };
        let from_profile = |get: fn(&Profile) -> Option<String>| {
            chosen.and_then(|(name, doc)| {
                get(doc).map(|value| Sourced {
                    value,
                    source: Source::Profile(name.clone()),
                })
            })
        };
        let string = |flag: Option<(&Option<String>, &'static str)>,
                      env_name: &'static str,
                      get: fn(&Profile) -> Option<String>| {
            flag.and_then(|(value, name)| {
                value.clone().map(|value| Sourced {
                    value,
                    source: Source::Flag(name),
                })
            })
            .or_else(|| {
                var(env, env_name).map(|value| Sourced {
                    value,
                    source: Source::Env(env_name),
                })
            })
            .or_else(|| from_profile(get))
        };
        let default = |value: &str| Sourced {
            value: value.to_owned(),
            source: Source::Default,
        };

        let api_base = string(
            Some((&flags.api_base, "--api-base")),
            "CXSKILL_API_BASE",
            |p| p.api_base.clone(),
        );
        let api_version = string(
            Some((&flags.api_version, "--api-version")),
            "CXSKILL_API_VERSION",
            |p| p.api_version.clone(),
        )
        .unwrap_or_else(|| default(DEFAULT_API_VERSION));
        let token_url = string(
            Some((&flags.token_url, "--token-url")),
            "CXSKILL_TOKEN_URL",
            |p| p.token_url.clone(),
        )
        .unwrap_or_else(|| default(DEFAULT_TOKEN_URL));
        let access_key_id = string(None, "CXSKILL_ACCESS_KEY_ID", |p| p.access_key_id.clone());
        let client_id = string(None, "CXSKILL_CLIENT_ID", |p| p.client_id.clone());

        let rate = number(
            flags.rate,
            "--rate",
            env,
            "CXSKILL_RATE",
            chosen.and_then(|(n, p)| p.rate.map(|r| (n, r))),
            DEFAULT_RATE,
        )?;
        if !(rate.value.is_finite() && rate.value > 0.0) {
            return Err(SettingsError::Invalid {
                what: "rate",
                from: rate.source,
                message: format!(
                    "must be a positive number of requests per second, got {}",
                    rate.value
                ),
            });
        }
        let concurrency = number(
            flags.concurrency,
            "--concurrency",
            env,
            "CXSKILL_CONCURRENCY",
            chosen.and_then(|(n, p)| p.concurrency.map(|c| (n, c))),
            DEFAULT_CONCURRENCY,
        )?;
        if concurrency.value == 0 {
            return Err(SettingsError::Invalid {
                what: "concurrency",
                from: concurrency.source,
                message: "must be at least 1".to_owned(),
            });
        }

        let token_auth = string(None, "CXSKILL_TOKEN_AUTH", |p| p.token_auth.clone())
            .map(|auth| {
                auth.value
                    .parse::<TokenAuth>()
                    .map(|value| Sourced {
                        value,
                        source: auth.source.clone(),
                    })
                    .map_err(|message| SettingsError::Invalid {
                        what: "token_auth",
                        from: auth.source,
                        message,
                    })
            })
            .transpose()?
            .unwrap_or(Sourced {
                value: TokenAuth::Body,
                source: Source::Default,
            });
        let max_answer_bytes = number(
            flags.max_answer_bytes,
            "--max-answer-bytes",
            env,
            "CXSKILL_MAX_ANSWER_BYTES",
            chosen.and_then(|(n, p)| p.max_answer_bytes.map(|m| (n, m))),
            DEFAULT_MAX_ANSWER_BYTES,
        )?;
        if max_answer_bytes.value < 1024 {
            return Err(SettingsError::Invalid {
                what: "max_answer_bytes",
                from: max_answer_bytes.source,
                message: format!("must be at least 1024, got {}", max_answer_bytes.value),
            });
        }

        let home = var(env, "HOME");
        let base_dir = config
            .path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf);
        let secret = |key: &'static str,
                      env_name: &'static str,
                      get: fn(&Profile) -> Option<SecretSpec>|
         -> Result<Option<SecretSetting>, SettingsError> {
            if let Some(value) = var(env, env_name) {
                return Ok(Some(SecretSetting {
                    key,
                    origin: SecretOrigin::Env {
                        name: env_name,
                        value: Secret::new(value),
                    },
                }));
            }
            let Some((name, spec)) = chosen.and_then(|(name, doc)| get(doc).map(|s| (name, s)))
            else {
                return Ok(None);
            };
            let origin = match spec {
                SecretSpec::Command(command) => SecretOrigin::Command {
                    profile: name.clone(),
                    command,
                },
                SecretSpec::File(file) => SecretOrigin::File {
                    profile: name.clone(),
                    path: expand_path(&file, home.as_deref(), base_dir.as_deref()).ok_or_else(
                        || SettingsError::Secret {
                            key,
                            origin: format!("file {file} in profile {name}"),
                            reason: "`~` needs HOME to be set".to_owned(),
                        },
                    )?,
                },
            };
            Ok(Some(SecretSetting { key, origin }))
        };
        let access_key_secret = secret("access_key_secret", "CXSKILL_ACCESS_KEY_SECRET", |p| {
            p.access_key_secret.clone()
        })?;
        let client_secret = secret("client_secret", "CXSKILL_CLIENT_SECRET", |p| {
            p.client_secret.clone()
        })?;
        let token = secret("token", "CXSKILL_TOKEN", |p| p.token.clone())?;

        let mut levels: BTreeMap<String, (String, Sourced<Proficiency>)> = BTreeMap::new();
        for (name, p) in &config.levels {
            let source = Source::ConfigFile;
            levels.insert(
                name.to_lowercase(),
                (name.clone(), Sourced { value: *p, source }),
            );
        }
        if let Some((profile_name, doc)) = chosen {
            for (name, p) in &doc.levels {
                let source = Source::Profile(profile_name.clone());
                levels.insert(
                    name.to_lowercase(),
                    (name.clone(), Sourced { value: *p, source }),
                );
            }
        }

        Ok(Effective {
            profile,
            api_base,
            api_version,
            token_url,
            rate,
            concurrency,
            token_auth,
            max_answer_bytes,
            access_key_id,
            client_id,
            access_key_secret,
            client_secret,
            token,
            levels: levels.into_values().collect(),
            config,
        })
    }

    /// The named proficiency levels in force.
    pub fn levels(&self) -> Levels {
        Levels::new(
            self.levels
                .iter()
                .map(|(name, level)| (name.clone(), level.value)),
        )
    }

    /// Which credentials a connection would use, or what is missing. A
    /// token from the environment wins; otherwise an access key id and
    /// secret (renewable; the API client is optional) win over a token from
    /// the profile.
    pub fn credential_kind(&self) -> Result<CredentialKind, SettingsError> {
        let env_token = matches!(
            self.token,
            Some(SecretSetting {
                origin: SecretOrigin::Env { .. },
                ..
            })
        );
        if env_token {
            return Ok(CredentialKind::Token);
        }
        let parts = [
            ("CXSKILL_ACCESS_KEY_ID", self.access_key_id.is_some()),
            (
                "CXSKILL_ACCESS_KEY_SECRET",
                self.access_key_secret.is_some(),
            ),
        ];
        let missing: Vec<&'static str> = parts
            .iter()
            .filter(|(_, set)| !set)
            .map(|(name, _)| *name)
            .collect();
        if missing.is_empty() {
            self.check_client()?;
            Ok(CredentialKind::AccessKey)
        } else if self.token.is_some() {
            Ok(CredentialKind::Token)
        } else if missing.len() == parts.len()
            && self.client_id.is_none()
            && self.client_secret.is_none()
            && self.api_base.is_none()
        {
            Err(SettingsError::NoTenant)
        } else {
            Err(SettingsError::NoCredentials { missing })
        }
    }

    /// The client id and secret go together or not at all.
    fn check_client(&self) -> Result<(), SettingsError> {
        match (self.client_id.is_some(), self.client_secret.is_some()) {
            (true, false) => Err(SettingsError::HalfClient {
                have: "CXSKILL_CLIENT_ID",
                missing: "CXSKILL_CLIENT_SECRET",
            }),
            (false, true) => Err(SettingsError::HalfClient {
                have: "CXSKILL_CLIENT_SECRET",
                missing: "CXSKILL_CLIENT_ID",
            }),
            _ => Ok(()),
        }
    }

    /// The connection to the configured tenant: reads secret files and
    /// runs secret commands (only those it needs), then checks the result.
    /// Without `api_base`, the API host is discovered from the token.
    pub fn connection(
        &self,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Connection, SettingsError> {
        let kind = self.credential_kind()?;
        let credentials = match (
            kind,
            &self.token,
            &self.access_key_id,
            &self.access_key_secret,
        ) {
            (CredentialKind::Token, Some(token), ..) => Credentials::Token(token.resolve()?),
            (CredentialKind::AccessKey, _, Some(key_id), Some(key_secret)) => {
                let client = match (&self.client_id, &self.client_secret) {
                    (Some(id), Some(secret)) => Some(ApiClient {
                        id: id.value.clone(),
                        secret: secret.resolve()?,
                        auth: self.token_auth.value,
                    }),
                    _ => None,
                };
                Credentials::AccessKey {
                    access_key_id: key_id.value.clone(),
                    access_key_secret: key_secret.resolve()?,
                    client,
                }
            }
            _ => {
                return Err(SettingsError::NoCredentials {
                    missing: vec!["CXSKILL_TOKEN"],
                });
            }
        };
        let connection = Connection {
            api_base: self.api_base.as_ref().map(|b| b.value.clone()),
            api_version: self.api_version.value.clone(),
            token_url: self.token_url.value.clone(),
            credentials,
            connect_timeout,
            request_timeout,
            rate: self.rate.value,
            concurrency: self.concurrency.value,
            retry: RetryPolicy::default(),
            max_answer_bytes: self.max_answer_bytes.value,
        };
        connection.check()?;
        Ok(connection)
    }

    /// `config show` as text: one line per setting with its source;
    /// secrets only as whether they are set and where from.
    pub fn show_human(&self) -> String {
        let mut rows: Vec<(String, String)> = Vec::new();
        rows.push(("config file".to_owned(), self.config_line()));
        rows.push((
            "profile".to_owned(),
            match &self.profile {
                Some(p) => format!("{}  ({})", p.value, p.source),
                None => "(none)".to_owned(),
            },
        ));
        for (name, value) in self.shown_settings() {
            let text = match value {
                Shown::Value(value, _, source) => format!("{value}  ({source})"),
                Shown::Secret(Some(origin)) => format!("(set, from {origin})"),
                Shown::Secret(None) | Shown::Unset => "(not set)".to_owned(),
            };
            rows.push((name.to_owned(), text));
        }
        rows.push(("credentials".to_owned(), self.credentials_line()));
        let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (name, text) in rows {
            out.push_str(&format!("{name:width$}  {text}\n"));
        }
        if self.levels.is_empty() {
            out.push_str("levels  (none: add a [levels] table, e.g. `expert = 1`)\n");
        } else {
            out.push_str("levels\n");
            let width = self.levels.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
            for (name, level) in &self.levels {
                out.push_str(&format!(
                    "  {name:width$}  {:>2}  ({})\n",
                    level.value, level.source
                ));
            }
        }
        out
    }

    /// `config show --output json`: one document, secrets only as `set`
    /// and `source`.
    pub fn show_json(&self) -> String {
        let mut settings = Map::new();
        for (name, value) in self.shown_settings() {
            let entry = match value {
                Shown::Value(_, value, source) => {
                    json!({"value": value, "source": source.to_string()})
                }
                Shown::Unset => json!({"value": null, "source": null}),
                Shown::Secret(origin) => json!({
                    "set": origin.is_some(),
                    "source": origin.map(|o| o.to_string()),
                }),
            };
            settings.insert(name.to_owned(), entry);
        }
        let levels: Map<String, Value> = self
            .levels
            .iter()
            .map(|(name, level)| {
                (
                    name.clone(),
                    json!({"value": level.value.get(), "source": level.source.to_string()}),
                )
            })
            .collect();
        let document = json!({
            "config_file": {
                "path": self.config.path.as_ref().map(|p| p.display().to_string()),
                "found": self.config.found,
                "origin": match self.config.origin {
                    ConfigOrigin::Flag => "flag --config",
                    ConfigOrigin::DefaultLocation => "default location",
                    ConfigOrigin::NoLocation => "none",
                },
            },
            "profile": self.profile.as_ref().map(|p| json!({"name": p.value, "source": p.source.to_string()})),
            "settings": settings,
            "credentials": self.credentials_line(),
            "levels": levels,
        });
        let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
        text.push('\n');
        text
    }

    fn config_line(&self) -> String {
        match (&self.config.path, self.config.found, &self.config.origin) {
            (Some(path), true, ConfigOrigin::Flag) => {
                format!("{}  (flag --config)", path.display())
            }
            (Some(path), true, _) => format!("{}  (default location)", path.display()),
            (Some(path), false, _) => format!("(none: no file at {})", path.display()),
            (None, ..) => "(none: neither XDG_CONFIG_HOME nor HOME is set)".to_owned(),
        }
    }

    fn credentials_line(&self) -> String {
        match self.credential_kind() {
            Ok(CredentialKind::AccessKey) => "access key (exchanged for a token)".to_owned(),
            Ok(CredentialKind::Token) => "pre-issued token (cannot be renewed)".to_owned(),
            Err(SettingsError::NoCredentials { missing }) => {
                format!("incomplete: missing {}", missing.join(", "))
            }
            Err(e) => e.to_string(),
        }
    }

    fn shown_settings(&self) -> Vec<(&'static str, Shown<'_>)> {
        fn text(s: &Option<Sourced<String>>) -> Shown<'_> {
            match s {
                Some(s) => always(s),
                None => Shown::Unset,
            }
        }
        fn always(s: &Sourced<String>) -> Shown<'_> {
            Shown::Value(s.value.clone(), json!(s.value), &s.source)
        }
        fn secret(s: &Option<SecretSetting>) -> Shown<'_> {
            Shown::Secret(s.as_ref().map(|s| &s.origin))
        }
        let api_base = match &self.api_base {
            Some(base) => always(base),
            None => Shown::Value(
                "discovered at run time".to_owned(),
                Value::Null,
                &Source::Default,
            ),
        };
        vec![
            ("api_base", api_base),
            ("api_version", always(&self.api_version)),
            ("token_url", always(&self.token_url)),
            (
                "rate",
                Shown::Value(
                    self.rate.value.to_string(),
                    json!(self.rate.value),
                    &self.rate.source,
                ),
            ),
            (
                "concurrency",
                Shown::Value(
                    self.concurrency.value.to_string(),
                    json!(self.concurrency.value),
                    &self.concurrency.source,
                ),
            ),
            (
                "token_auth",
                Shown::Value(
                    self.token_auth.value.as_str().to_owned(),
                    json!(self.token_auth.value.as_str()),
                    &self.token_auth.source,
                ),
            ),
            (
                "max_answer_bytes",
                Shown::Value(
                    self.max_answer_bytes.value.to_string(),
                    json!(self.max_answer_bytes.value),
                    &self.max_answer_bytes.source,
                ),
            ),
            ("access_key_id", text(&self.access_key_id)),
            ("access_key_secret", secret(&self.access_key_secret)),
            ("client_id", text(&self.client_id)),
            ("client_secret", secret(&self.client_secret)),
            ("token", secret(&self.token)),
        ]
    }
}

enum Shown<'a> {
    /// The text for people, the JSON value, the source.
    Value(String, Value, &'a Source),
    Unset,
    Secret(Option<&'a SecretOrigin>),
}

/// The profile asked for (flag, then environment, then `default_profile`),
/// which must exist in the config file.
fn select_profile(
    flags: &Flags,
    env: Lookup<'_>,
    config: &Config,
) -> Result<Option<Sourced<String>>, SettingsError> {
    let chosen = flags
        .profile
        .clone()
        .filter(|p| !p.is_empty())
        .map(|value| Sourced {
            value,
            source: Source::Flag("--profile"),
        })
        .or_else(|| {
            var(env, "CXSKILL_PROFILE").map(|value| Sourced {
                value,
                source: Source::Env("CXSKILL_PROFILE"),
            })
        })
        .or_else(|| {
            config.default_profile.clone().map(|value| Sourced {
                value,
                source: Source::DefaultProfile,
            })
        });
    match chosen {
        Some(p) if !config.profiles.contains_key(&p.value) => Err(SettingsError::UnknownProfile {
            name: p.value,
            from: p.source,
            defined: config.profiles(),
            path: config.path.clone().filter(|_| config.found),
        }),
        chosen => Ok(chosen),
    }
}

/// A number from its four layers; an unparsable environment value is an
/// error naming the variable.
fn number<T: Copy + std::str::FromStr>(
    flag: Option<T>,
    flag_name: &'static str,
    env: Lookup<'_>,
    env_name: &'static str,
    profile: Option<(&String, T)>,
    default: T,
) -> Result<Sourced<T>, SettingsError> {
    if let Some(value) = flag {
        return Ok(Sourced {
            value,
            source: Source::Flag(flag_name),
        });
    }
    if let Some(text) = var(env, env_name) {
        return match text.trim().parse() {
            Ok(value) => Ok(Sourced {
                value,
                source: Source::Env(env_name),
            }),
            Err(_) => Err(SettingsError::Invalid {
                what: flag_name.trim_start_matches('-'),
                from: Source::Env(env_name),
                message: format!("`{text}` is not a number"),
            }),
        };
    }
    Ok(match profile {
        Some((name, value)) => Sourced {
            value,
            source: Source::Profile(name.clone()),
        },
        None => Sourced {
            value: default,
            source: Source::Default,
        },
    })
}

/// `~` and `~/...` from HOME; a relative path from the config file's
/// directory. `None` when `~` is used without HOME.
fn expand_path(path: &str, home: Option<&str>, base: Option<&Path>) -> Option<PathBuf> {
    let expanded = if path == "~" {
        PathBuf::from(home?)
    } else if let Some(rest) = path.strip_prefix("~/") {
        Path::new(home?).join(rest)
    } else {
        PathBuf::from(path)
    };
    Some(match base {
        Some(base) if expanded.is_relative() => base.join(expanded),
        _ => expanded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
default_profile = "prod"

[levels]
expert = 1
Senior = 3
trainee = 15

[profile.prod]
api_base = "https://api-na1.niceincontact.com"
api_version = "v33.0"
token_url = "https://cxone.example.com/auth/token"
client_id = "prod-client"
access_key_id = "prod-key"
rate = 7
concurrency = 3
access_key_secret_command = "printf 'from-command\n'"
client_secret_file = "client.secret"

[profile.prod.levels]
senior = 4
lead = 2

[profile.eu]
api_base = "https://api-eu1.niceincontact.com"
"#;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn config(text: &str) -> Config {
        Config::parse(Path::new("/etc/cxskill/config.toml"), text).expect("valid config")
    }

    fn resolve(flags: &Flags, env: &[(&str, &str)], text: &str) -> Effective {
        Effective::resolve(flags, &env_of(env), config(text)).expect("resolves")
    }

    /// The error a run using profile `p` of `text` meets: an error of
    /// the file's top level, else of the check of profile `p`.
    fn parse_error(text: &str) -> String {
        let config = match Config::parse(Path::new("c.toml"), text) {
            Ok(config) => config,
            Err(e) => return e.to_string(),
        };
        let flags = Flags {
            profile: Some("p".into()),
            ..Flags::default()
        };
        match Effective::resolve(&flags, &env_of(&[]), config) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    /// A temp dir removed at drop.
    struct Dir(PathBuf);

    impl Dir {
        fn new() -> Dir {
            let dir = std::env::temp_dir().join(format!(
                "cxskill-settings-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn flag_beats_env_beats_profile_beats_default() {
        let all_flags = Flags {
            api_base: Some("https://flag.example".into()),
            api_version: Some("v-flag".into()),
            token_url: Some("https://flag.example/token".into()),
            rate: Some(1.5),
            concurrency: Some(9),
            ..Flags::default()
        };
        let env = [
            ("CXSKILL_API_BASE", "https://env.example"),
            ("CXSKILL_API_VERSION", "v-env"),
            ("CXSKILL_TOKEN_URL", "https://env.example/token"),
            ("CXSKILL_RATE", "2.5"),
            ("CXSKILL_CONCURRENCY", "8"),
            ("CXSKILL_ACCESS_KEY_ID", "env-key"),
            ("CXSKILL_CLIENT_ID", "env-client"),
        ];

        let e = resolve(&all_flags, &env, FILE);
        assert_eq!(
            e.api_base.as_ref().map(|s| s.value.as_str()),
            Some("https://flag.example")
        );
        assert_eq!(
            e.api_base.map(|s| s.source),
            Some(Source::Flag("--api-base"))
        );
        assert_eq!(e.api_version.value, "v-flag");
        assert_eq!(e.token_url.source, Source::Flag("--token-url"));
        assert_eq!((e.rate.value, e.rate.source), (1.5, Source::Flag("--rate")));
        assert_eq!(e.concurrency.value, 9);

        let e = resolve(&Flags::default(), &env, FILE);
        assert_eq!(
            e.api_base.map(|s| s.source),
            Some(Source::Env("CXSKILL_API_BASE"))
        );
        assert_eq!(e.api_version.value, "v-env");
        assert_eq!(e.token_url.value, "https://env.example/token");
        assert_eq!(
            (e.rate.value, e.rate.source),
            (2.5, Source::Env("CXSKILL_RATE"))
        );
        assert_eq!(e.concurrency.value, 8);
        assert_eq!(e.access_key_id.map(|s| s.value), Some("env-key".into()));
        assert_eq!(
            e.client_id.map(|s| s.source),
            Some(Source::Env("CXSKILL_CLIENT_ID"))
        );

        let prod = Source::Profile("prod".into());
        let e = resolve(&Flags::default(), &[], FILE);
        assert_eq!(
            e.api_base.as_ref().map(|s| (s.value.as_str(), &s.source)),
            Some(("https://api-na1.niceincontact.com", &prod))
        );
        assert_eq!(
            (e.api_version.value.as_str(), &e.api_version.source),
            ("v33.0", &prod)
        );
        assert_eq!(e.token_url.value, "https://cxone.example.com/auth/token");
        assert_eq!((e.rate.value, &e.rate.source), (7.0, &prod));
        assert_eq!((e.concurrency.value, &e.concurrency.source), (3, &prod));
        assert_eq!(e.access_key_id.map(|s| s.value), Some("prod-key".into()));
        assert_eq!(e.client_id.map(|s| s.source), Some(prod.clone()));

        let e = resolve(&Flags::default(), &[], "");
        assert!(e.api_base.is_none());
        assert_eq!(
            (e.api_version.value.as_str(), &e.api_version.source),
            (DEFAULT_API_VERSION, &Source::Default)
        );
        assert_eq!(e.token_url.value, DEFAULT_TOKEN_URL);
        assert_eq!(
            (e.rate.value, &e.rate.source),
            (DEFAULT_RATE, &Source::Default)
        );
        assert_eq!(e.concurrency.value, DEFAULT_CONCURRENCY);
        assert!(e.profile.is_none());
    }

    #[test]
    fn secrets_from_env_beat_the_profile() {
        let e = resolve(
            &Flags::default(),
            &[("CXSKILL_ACCESS_KEY_SECRET", "env-secret")],
            FILE,
        );
        let secret = e.access_key_secret.expect("set");
        assert!(matches!(
            secret.origin,
            SecretOrigin::Env {
                name: "CXSKILL_ACCESS_KEY_SECRET",
                ..
            }
        ));
        assert_eq!(secret.resolve().expect("resolves").expose(), "env-secret");
        assert!(matches!(
            e.client_secret.map(|s| s.origin),
            Some(SecretOrigin::File { .. })
        ));
    }

    #[test]
    fn profile_is_chosen_by_flag_then_env_then_default_profile() {
        let flag = Flags {
            profile: Some("eu".into()),
            ..Flags::default()
        };
        let e = resolve(&flag, &[("CXSKILL_PROFILE", "prod")], FILE);
        assert_eq!(
            e.profile.map(|p| (p.value, p.source)),
            Some(("eu".into(), Source::Flag("--profile")))
        );
        assert_eq!(
            e.api_base.map(|s| s.value),
            Some("https://api-eu1.niceincontact.com".into())
        );
        let e = resolve(&Flags::default(), &[("CXSKILL_PROFILE", "eu")], FILE);
        assert_eq!(
            e.profile.map(|p| p.source),
            Some(Source::Env("CXSKILL_PROFILE"))
        );
        let e = resolve(&Flags::default(), &[], FILE);
        assert_eq!(
            e.profile.map(|p| (p.value, p.source)),
            Some(("prod".into(), Source::DefaultProfile))
        );
    }

    #[test]
    fn unknown_profile_lists_the_defined_ones() {
        let flags = Flags {
            profile: Some("staging".into()),
            ..Flags::default()
        };
        let error =
            Effective::resolve(&flags, &env_of(&[]), config(FILE)).expect_err("unknown profile");
        let text = error.to_string();
        assert!(text.contains("no profile `staging`"), "{text}");
        assert!(text.contains("`eu`, `prod`"), "{text}");

        let error =
            Effective::resolve(&flags, &env_of(&[]), Config::none()).expect_err("no config file");
        assert!(error.to_string().contains("no config file"), "{error}");
    }

    #[test]
    fn inline_secrets_are_rejected_without_echoing_them() {
        for (text, key) in [
            (
                "[profile.p]\nclient_secret = \"hunter2\"\n",
                "client_secret",
            ),
            (
                "[profile.p]\naccess_key_secret = \"hunter2\"\n",
                "access_key_secret",
            ),
            ("token = \"hunter2\"\n", "token"),
        ] {
            let error = parse_error(text);
            assert!(error.contains(&format!("`{key}`")), "{error}");
            assert!(
                error.contains(&format!("`{key}_file`, `{key}_command`")),
                "{error}"
            );
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn unknown_keys_are_rejected_by_name_and_line() {
        let error = parse_error("[profile.p]\napi_base = \"https://x\"\nclinet_id = \"hunter2\"\n");
        assert!(error.contains("unknown field `clinet_id`"), "{error}");
        assert!(error.starts_with("c.toml:3:"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        let error = parse_error("api_base = \"https://x\"\n");
        assert!(error.contains("unknown field `api_base`"), "{error}");
    }

    #[test]
    fn a_broken_profile_not_in_use_is_only_a_problem_to_warn_about() {
        let text = "[profile.good]\napi_base = \"https://x.example\"\n\n\
                    [profile.typo]\nclinet_id = \"hunter2\"\n\n\
                    [profile.inline]\nclient_secret = \"hunter3\"\n";
        let config = Config::parse(Path::new("c.toml"), text).expect("the top level is fine");
        assert_eq!(config.profiles(), ["good", "inline", "typo"]);
        let good = Flags {
            profile: Some("good".into()),
            ..Flags::default()
        };
        let e = Effective::resolve(&good, &env_of(&[]), config.clone()).expect("good resolves");
        assert_eq!(
            e.api_base.map(|b| b.value),
            Some("https://x.example".to_owned())
        );
        let problems = config.problems(Some("good"));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("profile `inline` is not in use")
                && problems[0].contains("`client_secret_file`"),
            "{problems:?}"
        );
        assert!(
            problems[1].starts_with("profile `typo` is not in use")
                && problems[1].contains("c.toml:5:1: unknown field `clinet_id`"),
            "{problems:?}"
        );
        assert!(!problems.concat().contains("hunter"), "{problems:?}");
        // With no profile in use, every broken one is a warning.
        assert_eq!(config.problems(None).len(), 2);

        // The profile in use is checked strictly, by flag or by default.
        for (flags, text) in [
            (
                Flags {
                    profile: Some("typo".into()),
                    ..Flags::default()
                },
                text.to_owned(),
            ),
            (
                Flags::default(),
                format!("default_profile = \"typo\"\n{text}"),
            ),
        ] {
            let config = Config::parse(Path::new("c.toml"), &text).expect("parses");
            let error = Effective::resolve(&flags, &env_of(&[]), config)
                .expect_err("typo is in use")
                .to_string();
            assert!(error.contains("unknown field `clinet_id`"), "{error}");
            assert!(error.starts_with("c.toml:"), "{error}");
        }
    }

    #[test]
    fn two_sources_for_one_secret_are_rejected() {
        let error = parse_error("[profile.p]\ntoken_file = \"a\"\ntoken_command = \"b\"\n");
        assert!(
            error.contains("both `token_file` and `token_command`"),
            "{error}"
        );
    }

    #[test]
    fn level_values_must_be_integers_from_1_to_20() {
        for (text, got) in [
            ("[levels]\nguru = 0\n", "got 0"),
            ("[levels]\nguru = 21\n", "got 21"),
            ("[levels]\nguru = \"1\"\n", "got a string"),
            ("[levels]\nguru = 1.5\n", "got a float"),
            ("[profile.p.levels]\nguru = 99\n", "got 99"),
        ] {
            let error = parse_error(text);
            assert!(error.contains("level `guru`"), "{error}");
            assert!(error.contains(got), "{error}");
        }
    }

    #[test]
    fn profile_levels_override_and_extend_the_global_table() {
        let e = resolve(&Flags::default(), &[], FILE);
        let levels = e.levels();
        let p = |n| Proficiency::new(n);
        assert_eq!(levels.get("EXPERT"), p(1));
        assert_eq!(levels.get("senior"), p(4));
        assert_eq!(levels.get("lead"), p(2));
        assert_eq!(levels.get("trainee"), p(15));
        assert_eq!(levels.get("guru"), None);
        let eu = Flags {
            profile: Some("eu".into()),
            ..Flags::default()
        };
        assert_eq!(resolve(&eu, &[], FILE).levels().get("senior"), p(3));
    }

    #[test]
    fn secret_from_a_file_is_trimmed_and_tilde_is_home() {
        let dir = Dir::new();
        std::fs::write(dir.0.join("key"), "  s3cret-from-file \n").expect("write");
        let text =
            "[profile.p]\naccess_key_secret_file = \"~/key\"\nclient_secret_file = \"key\"\n";
        let home = dir.0.to_string_lossy().into_owned();
        let config = Config::parse(&dir.0.join("config.toml"), text).expect("parses");
        let flags = Flags {
            profile: Some("p".into()),
            ..Flags::default()
        };
        let e = Effective::resolve(&flags, &env_of(&[("HOME", &home)]), config).expect("resolves");
        for secret in [e.access_key_secret, e.client_secret] {
            let secret = secret.expect("set");
            assert_eq!(
                secret.resolve().expect("reads").expose(),
                "s3cret-from-file"
            );
        }
    }

    #[test]
    fn secret_from_a_command_is_its_trimmed_stdout() {
        let e = resolve(&Flags::default(), &[], FILE);
        let secret = e.access_key_secret.expect("set");
        assert_eq!(secret.resolve().expect("runs").expose(), "from-command");
    }

    #[test]
    fn failing_or_silent_command_names_profile_and_key_not_its_output() {
        for command in ["printf leaked-output; exit 3", "printf '   '", "true"] {
            let text = format!("[profile.p]\ntoken_command = \"{command}\"\n");
            let flags = Flags {
                profile: Some("p".into()),
                ..Flags::default()
            };
            let e = resolve(&flags, &[], &text);
            let error = e
                .token
                .expect("set")
                .resolve()
                .expect_err("fails")
                .to_string();
            assert!(error.contains("token"), "{error}");
            assert!(error.contains("profile p"), "{error}");
            assert!(!error.contains("leaked-output"), "{error}");
        }
    }

    #[test]
    fn missing_secret_file_is_an_error_naming_the_key() {
        let text = "[profile.p]\nclient_secret_file = \"/nonexistent/cxskill/secret\"\n";
        let flags = Flags {
            profile: Some("p".into()),
            ..Flags::default()
        };
        let e = resolve(&flags, &[], text);
        let error = e
            .client_secret
            .expect("set")
            .resolve()
            .expect_err("no file");
        assert!(
            error
                .to_string()
                .starts_with("client_secret (file /nonexistent"),
            "{error}"
        );
    }

    #[test]
    fn connection_takes_an_env_token_over_a_complete_access_key() {
        let env = [
            ("CXSKILL_TOKEN", "env-token"),
            ("CXSKILL_CLIENT_SECRET", "env-client-secret"),
        ];
        let e = resolve(&Flags::default(), &env, FILE);
        let c = e
            .connection(Duration::from_secs(1), Duration::from_secs(1))
            .expect("connection");
        assert!(matches!(c.credentials, Credentials::Token(ref t) if t.expose() == "env-token"));

        let e = resolve(&Flags::default(), &env[1..], FILE);
        assert_eq!(
            e.credential_kind().expect("complete"),
            CredentialKind::AccessKey
        );
    }

    #[test]
    fn connection_without_a_tenant_or_credentials_says_what_to_set() {
        let e = resolve(&Flags::default(), &[], "");
        let error = e
            .connection(Duration::from_secs(1), Duration::from_secs(1))
            .expect_err("nothing configured")
            .to_string();
        assert!(error.contains("--sandbox"), "{error}");
        let e = resolve(
            &Flags::default(),
            &[
                ("CXSKILL_API_BASE", "https://x"),
                ("CXSKILL_CLIENT_ID", "c"),
            ],
            "",
        );
        let error = e
            .connection(Duration::from_secs(1), Duration::from_secs(1))
            .expect_err("no credentials")
            .to_string();
        assert!(error.contains("CXSKILL_ACCESS_KEY_ID"), "{error}");
        assert!(!error.contains("CXSKILL_CLIENT_ID,"), "{error}");
    }

    #[test]
    fn bad_numbers_name_their_source() {
        let error = Effective::resolve(
            &Flags::default(),
            &env_of(&[("CXSKILL_RATE", "fast")]),
            Config::none(),
        )
        .expect_err("not a number")
        .to_string();
        assert!(error.contains("CXSKILL_RATE"), "{error}");
        let error = Effective::resolve(
            &Flags::default(),
            &env_of(&[]),
            config("default_profile = \"p\"\n[profile.p]\nconcurrency = 0\n"),
        )
        .expect_err("zero")
        .to_string();
        assert!(error.contains("profile p"), "{error}");
    }

    #[test]
    fn show_never_contains_a_secret_and_names_every_source() {
        let env = [("CXSKILL_CLIENT_SECRET", "hunter2-env")];
        let e = resolve(&Flags::default(), &env, FILE);
        for text in [e.show_human(), e.show_json()] {
            assert!(!text.contains("hunter2"), "{text}");
            assert!(!text.contains("printf"), "{text}");
            assert!(text.contains("env CXSKILL_CLIENT_SECRET"), "{text}");
            assert!(text.contains("command in profile prod"), "{text}");
            assert!(text.contains("profile prod"), "{text}");
        }
        let json: Value = serde_json::from_str(&e.show_json()).expect("one JSON document");
        assert_eq!(json["settings"]["client_secret"]["set"], true);
        assert_eq!(json["settings"]["token"]["set"], false);
        assert_eq!(json["settings"]["rate"]["value"], 7.0);
        assert_eq!(json["settings"]["concurrency"]["value"], 3);
        assert_eq!(json["levels"]["lead"]["value"], 2);
    }

    #[test]
    fn profile_keys_are_every_key_a_profile_takes() {
        // serde lists the fields it expects when it meets an unknown one.
        let error = parse_error("[profile.p]\nno_such_key = 1\n");
        let expected = error
            .split("expected one of ")
            .nth(1)
            .unwrap_or_else(|| panic!("{error}"));
        let mut fields: Vec<&str> = expected
            .split(", ")
            .map(|f| f.trim().trim_matches('`'))
            .filter(|f| !["levels", "access_key_secret", "client_secret", "token"].contains(f))
            .collect();
        let mut keys: Vec<&str> = PROFILE_KEYS.iter().map(|k| k.key).collect();
        fields.sort_unstable();
        keys.sort_unstable();
        assert_eq!(keys, fields);
    }

    #[test]
    fn every_cxskill_variable_the_source_reads_is_in_the_environment_list() {
        let listed: Vec<&str> = ENVIRONMENT.iter().map(|v| v.name).collect();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![dir.clone()];
        let mut found: BTreeMap<String, usize> = BTreeMap::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).expect("read src") {
                    files.push(entry.expect("entry").path());
                }
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read a source file");
            for (i, _) in text.match_indices("CXSKILL_") {
                let name: String = text[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                    .collect();
                *found
                    .entry(name.trim_end_matches('_').to_owned())
                    .or_default() += 1;
            }
        }
        found.remove("CXSKILL");
        for name in found.keys() {
            assert!(
                listed.contains(&name.as_str()),
                "{name} is not in ENVIRONMENT"
            );
        }
        // Once in the list, at least once where it is read.
        for name in listed.iter().filter(|n| n.starts_with("CXSKILL_")) {
            assert!(
                found.get(*name) >= Some(&2),
                "{name} is listed but never read"
            );
        }

        // What is read, by name: what the settings and the colour choice
        // ask the environment they are given, and the `env` of a flag.
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let env = |name: &str| {
            asked.borrow_mut().insert(name.to_owned());
            None
        };
        Effective::load(&Flags::default(), &env).expect("resolves with nothing set");
        crate::style::use_color(None, &env, false);
        let mut read = asked.into_inner();
        let cli = include_str!("cli.rs");
        let cli = &cli[..cli.find("#[cfg(test)]").unwrap_or(cli.len())];
        for (i, _) in cli.match_indices("env = \"") {
            let rest = &cli[i + "env = \"".len()..];
            read.insert(rest[..rest.find('"').expect("a closing quote")].to_owned());
        }
        for name in &listed {
            assert!(read.contains(*name), "{name} is listed but never read");
        }
        for name in &read {
            assert!(
                listed.contains(&name.as_str()),
                "{name} is read but not in ENVIRONMENT"
            );
        }
    }

    #[test]
    fn parse_errors_give_line_and_column() {
        assert_eq!(line_column("a\nbc\n", 3), (2, 2));
        let error = parse_error("[levels]\nexpert = = 1\n");
        assert!(error.starts_with("c.toml:2:"), "{error}");
    }
}
