//! `cxskill config init`: a commented skeleton of the config file, so
//! nobody has to copy one from the README. Every profile key is written as
//! a comment with an example and what it is (from
//! [`PROFILE_KEYS`]), secrets only as `*_file` / `*_command`.
//!
//! A new file is created readable by its owner only (0600). An existing
//! file is never overwritten: a new profile is appended to it, and a
//! profile it already has is refused.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::exit_codes;
use crate::settings::{Config, Lookup, PROFILE_KEYS};

/// The profile `config init` writes when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// What `config init` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Init {
    pub path: PathBuf,
    pub profile: String,
    /// A new file (else the profile was appended to an existing one).
    pub created: bool,
}

impl Init {
    /// `wrote ...`: one line saying what was done and what to do next.
    pub fn human(&self) -> String {
        let path = self.path.display();
        let profile = &self.profile;
        if self.created {
            format!(
                "wrote {path} (mode 0600) with profile `{profile}`, the default; fill it in, then check it with: cxskill auth check\n"
            )
        } else {
            format!(
                "added profile `{profile}` to {path}; fill it in, then check it with: cxskill auth check --profile {profile}\n"
            )
        }
    }

    pub fn json(&self) -> String {
        let document = serde_json::json!({
            "path": self.path.display().to_string(),
            "profile": self.profile,
            "created": self.created,
        });
        format!("{document}\n")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(
        "there is no place for the config file: neither XDG_CONFIG_HOME nor HOME is set; name one with --config FILE"
    )]
    NoLocation,
    #[error("profile names are letters, digits, `-` and `_`; got `{0}`")]
    BadName(String),
    #[error(
        "{} already has [profile.{profile}]; it is left as it is (edit it, or add another with --profile NAME)",
        path.display()
    )]
    Exists { path: PathBuf, profile: String },
    #[error("{}: cannot add a profile to a file that does not parse: {message}", path.display())]
    Unparsable { path: PathBuf, message: String },
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl InitError {
    /// A refusal of what was asked is a usage error (2); a file that
    /// cannot be written or read is a configuration failure (3).
    pub fn exit_code(&self) -> i32 {
        match self {
            InitError::BadName(_) | InitError::Exists { .. } => exit_codes::INVALID_INPUT,
            _ => exit_codes::FAILURE,
        }
    }
}

/// Writes the skeleton of `profile` to `explicit` (`--config FILE`) or
/// the default location: a new file with `default_profile` and a
/// `[levels]` example, or the profile appended to an existing file.
pub fn init(explicit: Option<&Path>, profile: &str, env: Lookup<'_>) -> Result<Init, InitError> {
    if profile.is_empty()
        || !profile
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(InitError::BadName(profile.to_owned()));
    }
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => Config::default_path(env).ok_or(InitError::NoLocation)?,
    };
    let io = |source| InitError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let doc: toml::Table = toml::from_str(&text).map_err(|e| InitError::Unparsable {
                path: path.clone(),
                message: e.message().trim().to_owned(),
            })?;
            let exists = doc
                .get("profile")
                .and_then(toml::Value::as_table)
                .is_some_and(|profiles| profiles.contains_key(profile));
            if exists {
                return Err(InitError::Exists {
                    path,
                    profile: profile.to_owned(),
                });
            }
            let mut block = String::new();
            if !text.is_empty() && !text.ends_with('\n') {
                block.push('\n');
            }
            block.push('\n');
            block.push_str(&profile_block(profile));
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(io)?;
            file.write_all(block.as_bytes()).map_err(io)?;
            file.flush().map_err(io)?;
            Ok(Init {
                path,
                profile: profile.to_owned(),
                created: false,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                create_private_dir(parent).map_err(io)?;
            }
            let mut file = create_private_file(&path).map_err(io)?;
            file.write_all(skeleton(profile).as_bytes()).map_err(io)?;
            file.flush().map_err(io)?;
            Ok(Init {
                path,
                profile: profile.to_owned(),
                created: true,
            })
        }
        Err(source) => Err(InitError::Io { path, source }),
    }
}

/// A whole new config file: what it is, `default_profile`, a `[levels]`
/// example, and the profile.
pub fn skeleton(profile: &str) -> String {
    format!(
        "# cxskill configuration (man cxskill: FILES).\n\
         #\n\
         # A profile names a tenant and where its secrets are; --profile NAME or\n\
         # CXSKILL_PROFILE picks one, else default_profile. Each setting is taken\n\
         # from a flag, else the environment, else the profile, else the default:\n\
         # `cxskill config show` says which. Secrets never go in this file: a\n\
         # profile names a *_file (its contents) or a *_command (its output), read\n\
         # only when a command connects. Keep this file private (chmod 600).\n\
         \n\
         default_profile = \"{profile}\"\n\
         \n\
         # Named proficiency levels, usable in a roster's proficiency column;\n\
         # 1 is the best, 20 the lowest.\n\
         # [levels]\n\
         # expert = 1\n\
         # senior = 3\n\
         # trainee = 15\n\
         \n\
         {}",
        profile_block(profile)
    )
}

/// `[profile.NAME]` with every key commented out: what it is, then an
/// example; then a `[profile.NAME.levels]` example.
pub fn profile_block(profile: &str) -> String {
    let mut out = format!("[profile.{profile}]\n");
    for key in PROFILE_KEYS {
        out.push_str(&format!("# {}\n# {} = {}\n", key.doc, key.key, key.example));
    }
    out.push_str(&format!(
        "\n# Levels for this profile only: they extend and override [levels].\n\
         # [profile.{profile}.levels]\n\
         # lead = 2\n"
    ));
    out
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// The directories up to the config file, new ones private (0700).
#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::settings::{Effective, Flags};

    #[test]
    fn the_skeleton_is_a_valid_config_whose_profile_changes_nothing() {
        let config = Config::parse(Path::new("c.toml"), &skeleton("prod")).expect("parses");
        assert_eq!(config.profiles(), ["prod"]);
        let e = Effective::resolve(&Flags::default(), &|_| None, config).expect("resolves");
        assert_eq!(e.profile.map(|p| p.value).as_deref(), Some("prod"));
        assert!(e.api_base.is_none() && e.access_key_id.is_none());
    }

    #[test]
    fn the_skeleton_names_every_profile_key_and_its_examples_parse() {
        let text = skeleton("prod");
        for key in PROFILE_KEYS {
            assert!(
                text.contains(&format!("\n# {} = ", key.key)),
                "{} missing",
                key.key
            );
        }
        assert!(text.contains("\n# [levels]\n# expert = 1\n"), "{text}");
        // Uncommented (one source per secret: the files), the examples
        // are a valid profile with levels.
        let uncommented: String = text
            .lines()
            .filter_map(|line| match line.strip_prefix("# ") {
                Some(example)
                    if example.starts_with('[')
                        || example.contains(" = ")
                            && !example
                                .split(' ')
                                .next()
                                .is_some_and(|k| k.ends_with("_command")) =>
                {
                    Some(example)
                }
                Some(_) => None,
                None => Some(line),
            })
            .fold(String::new(), |mut out, line| {
                out.push_str(line);
                out.push('\n');
                out
            });
        let config = Config::parse(Path::new("c.toml"), &uncommented)
            .unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
        assert!(
            config.problems(None).is_empty(),
            "{:?}",
            config.problems(None)
        );
        let flags = Flags {
            profile: Some("prod".into()),
            ..Flags::default()
        };
        let home = |name: &str| (name == "HOME").then(|| "/home/ops".to_owned());
        let e = Effective::resolve(&flags, &home, config).expect("resolves");
        assert_eq!(e.levels().get("lead").map(|p| p.get()), Some(2));
        assert_eq!(e.rate.value, 10.0);
    }

    #[test]
    fn a_profile_name_that_is_not_a_bare_key_is_refused() {
        for name in ["", "a b", "x.y", "p]"] {
            let error =
                init(Some(Path::new("/nonexistent/c.toml")), name, &|_| None).expect_err("refused");
            assert!(matches!(error, InitError::BadName(_)), "{error}");
            assert_eq!(error.exit_code(), exit_codes::INVALID_INPUT);
        }
    }
}
