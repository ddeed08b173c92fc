//! Domain types: the values a roster row is made of, each one valid by
//! construction. Parsing lives here too, so that "what is a valid agent
//! reference" is answered in exactly one place, for the roster parser, the
//! CLI and the sandbox alike.
//!
//! These are *not* wire types (see [`crate::wire`]): they carry meaning
//! (`Proficiency` is 1..=20, 1 best), the wire carries JSON shapes.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// An agent as CXone accepts it in `/agents/{agentId|userId}/...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgentRef {
    /// The numeric `agentId`.
    AgentId(u64),
    /// The `userId` UUID. Stored parsed, so any case compares equal.
    UserId(Uuid),
}

impl AgentRef {
    /// The path segment CXone expects: the agentId in decimal, or the UUID
    /// lowercase and hyphenated.
    pub fn path_segment(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for AgentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentRef::AgentId(id) => write!(f, "{id}"),
            AgentRef::UserId(uuid) => write!(f, "{}", uuid.hyphenated()),
        }
    }
}

impl FromStr for AgentRef {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ValueError::Empty);
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<u64>() {
                Ok(0) => Err(ValueError::Agent),
                Ok(id) => Ok(AgentRef::AgentId(id)),
                Err(_) => Err(ValueError::Agent),
            };
        }
        // Only the hyphenated 36-character form: `Uuid::parse_str` would
        // also take 32 bare hex digits or a `urn:uuid:` prefix, which CXone
        // does not document for path segments.
        if s.len() == 36
            && let Ok(uuid) = Uuid::try_parse(s)
        {
            return Ok(AgentRef::UserId(uuid));
        }
        Err(ValueError::Agent)
    }
}

/// An agent as a roster names it: by id, or by e-mail address or user name
/// (CXone user names are e-mail shaped, so a name contains `@`). Names are
/// resolved against `GET /agents` by `plan` and `apply`; `validate` checks
/// only their shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgentSpec {
    Id(AgentRef),
    Name(Box<str>),
}

impl fmt::Display for AgentSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentSpec::Id(agent) => agent.fmt(f),
            AgentSpec::Name(name) => f.write_str(name),
        }
    }
}

impl FromStr for AgentSpec {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<AgentRef>() {
            Ok(agent) => Ok(AgentSpec::Id(agent)),
            Err(ValueError::Agent) => {
                let name = s.trim();
                let at = name.find('@');
                let shaped = at.is_some_and(|i| i > 0 && i + 1 < name.len())
                    && !name.chars().any(char::is_whitespace);
                if shaped {
                    Ok(AgentSpec::Name(name.into()))
                } else {
                    Err(ValueError::Agent)
                }
            }
            Err(error) => Err(error),
        }
    }
}

/// A skill as a roster names it: by `skillId`, or by name (resolved
/// against `GET /skills`, exactly after trimming). A name has a letter in
/// it and is not a number, so `1.5`, `-3`, `1e3` or an id too large for
/// 64 bits (`18446744073709551616`, or the `1.8446744073709552e19` JSON
/// makes of it) is a mistyped id, not a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkillSpec {
    Id(SkillId),
    Name(Box<str>),
}

impl fmt::Display for SkillSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkillSpec::Id(skill) => skill.fmt(f),
            SkillSpec::Name(name) => f.write_str(name),
        }
    }
}

impl FromStr for SkillSpec {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<SkillId>() {
            Ok(skill) => Ok(SkillSpec::Id(skill)),
            Err(ValueError::Skill) if s.chars().any(char::is_alphabetic) && !looks_numeric(s) => {
                Ok(SkillSpec::Name(s.trim().into()))
            }
            Err(error) => Err(error),
        }
    }
}

/// Whether text reads as a finite number (`12`, `-3`, `1.5`, `1e3`,
/// `1.8446744073709552e19`): such a value is a number, never a name.
/// `Infinity` and `NaN` are names.
pub fn looks_numeric(s: &str) -> bool {
    s.trim().parse::<f64>().is_ok_and(f64::is_finite)
}

/// A CXone `skillId`: a positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SkillId(u64);

impl SkillId {
    /// The smallest skill id.
    pub const MIN: SkillId = SkillId(1);

    /// `None` for 0; skill ids start at 1.
    pub fn new(id: u64) -> Option<Self> {
        (id > 0).then_some(SkillId(id))
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SkillId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for SkillId {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ValueError::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValueError::Skill);
        }
        s.parse::<u64>()
            .ok()
            .and_then(SkillId::new)
            .ok_or(ValueError::Skill)
    }
}

/// A CXone proficiency: an integer from 1 (best) to 20 (lowest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Proficiency(u8);

impl Proficiency {
    pub const BEST: u8 = 1;
    pub const LOWEST: u8 = 20;

    pub fn new(value: i64) -> Option<Self> {
        u8::try_from(value)
            .ok()
            .filter(|v| (Self::BEST..=Self::LOWEST).contains(v))
            .map(Proficiency)
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Proficiency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Named proficiency levels, from the `[levels]` table of the config file
/// (`expert = 1`, `senior = 3`, `trainee = 15`). Names compare
/// case-insensitively; each maps to a valid [`Proficiency`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Levels(std::collections::BTreeMap<String, Proficiency>);

impl Levels {
    pub fn new(levels: impl IntoIterator<Item = (String, Proficiency)>) -> Levels {
        Levels(
            levels
                .into_iter()
                .map(|(name, p)| (name.trim().to_lowercase(), p))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<Proficiency> {
        self.0.get(&name.trim().to_lowercase()).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `(name, proficiency)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Proficiency)> {
        self.0.iter().map(|(name, p)| (name.as_str(), *p))
    }
}

/// What the roster wants for one (agent, skill) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Assign or modify. `active: None` keeps the tenant's current flag
    /// (new assignments default to active).
    Set {
        proficiency: Proficiency,
        active: Option<bool>,
    },
    /// `remove` in the proficiency column: unassign the skill.
    Remove,
}

impl Target {
    /// Parses the proficiency column (an integer, `remove`, or a named
    /// level) together with the optional active column.
    pub fn parse(
        proficiency: &str,
        active: Option<bool>,
        levels: &Levels,
    ) -> Result<Self, ValueError> {
        let p = proficiency.trim();
        if p.is_empty() {
            return Err(ValueError::Empty);
        }
        if p.eq_ignore_ascii_case("remove") {
            return Ok(Target::Remove);
        }
        parse_proficiency(p)
            .or_else(|error| levels.get(p).ok_or(error))
            .map(|proficiency| Target::Set {
                proficiency,
                active,
            })
    }
}

/// Accepts an integer 1..=20 written as digits (an optional `+`, and a
/// `.0` fraction such as spreadsheets write, are tolerated).
pub fn parse_proficiency(s: &str) -> Result<Proficiency, ValueError> {
    let s = s.trim();
    let digits = s.strip_prefix('+').unwrap_or(s);
    let digits = digits
        .strip_suffix(".0")
        .or_else(|| digits.strip_suffix(".00"))
        .unwrap_or(digits);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError::Proficiency);
    }
    digits
        .parse::<i64>()
        .ok()
        .and_then(Proficiency::new)
        .ok_or(ValueError::Proficiency)
}

/// Parses the optional active column: `true/false/yes/no/y/n/1/0`, any
/// case. An empty cell is `None` ("keep the current flag").
pub fn parse_active(s: &str) -> Result<Option<bool>, ValueError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok(Some(true)),
        "false" | "no" | "n" | "0" => Ok(Some(false)),
        _ => Err(ValueError::Active),
    }
}

/// Why a single value did not parse; the roster layer adds file, line and
/// column. The messages say what *is* expected, so the user can fix the
/// cell without reading documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("the value is empty")]
    Empty,
    #[error(
        "neither a UUID userId nor a numeric agentId (nor an e-mail address or user name, which contain @)"
    )]
    Agent,
    #[error("neither a skillId (a positive integer) nor a skill name")]
    Skill,
    #[error("CXone proficiency is an integer from 1 (best) to 20, or `remove`")]
    Proficiency,
    #[error("expected true/false, yes/no, y/n or 1/0")]
    Active,
}

/// One valid roster row as written, tied to the line it came from: agent
/// and skill by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRow {
    /// Physical line (CSV: header = 1) or 1-based item number (JSON).
    pub line: u64,
    pub agent: AgentSpec,
    pub skill: SkillSpec,
    pub target: Target,
}

/// One roster row with its agent and skill resolved to CXone ids: what
/// the plan works on. Agents are always by `agentId` here (a `userId` or
/// a name is resolved against `GET /agents`), because the bulk reads and
/// writes know agents only by `agentId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Physical line (CSV: header = 1) or 1-based item number (JSON).
    pub line: u64,
    pub agent: u64,
    pub skill: SkillId,
    pub target: Target,
}

/// An assignment's state: what a row changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct State {
    pub proficiency: u8,
    pub active: bool,
}

impl State {
    /// Whether the bulk writes (`POST /agents/skills`, published with
    /// proficiency 1..=5) can set this state.
    pub fn bulk_writable(self) -> bool {
        (1..=5).contains(&self.proficiency)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "proficiency {} {}",
            self.proficiency,
            if self.active { "active" } else { "inactive" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_ref_accepts_uuid_in_any_case_and_positive_integers() {
        let lower: AgentRef = "0f7e4a2c-3b1d-4c6e-9a8f-1d2e3f4a5b01".parse().unwrap();
        let upper: AgentRef = "0F7E4A2C-3B1D-4C6E-9A8F-1D2E3F4A5B01".parse().unwrap();
        assert_eq!(lower, upper);
        assert_eq!(lower.to_string(), "0f7e4a2c-3b1d-4c6e-9a8f-1d2e3f4a5b01");
        assert_eq!(" 1001 ".parse::<AgentRef>(), Ok(AgentRef::AgentId(1001)));
    }

    #[test]
    fn agent_ref_rejects_what_is_neither() {
        for bad in [
            "abc-123",
            "0",
            "-5",
            "1.5",
            "0f7e4a2c3b1d4c6e9a8f1d2e3f4a5b01",
            "99999999999999999999999",
        ] {
            assert_eq!(bad.parse::<AgentRef>(), Err(ValueError::Agent), "{bad}");
        }
        assert_eq!("  ".parse::<AgentRef>(), Err(ValueError::Empty));
    }

    #[test]
    fn skill_id_is_a_positive_integer() {
        assert_eq!("112233".parse::<SkillId>().unwrap().get(), 112233);
        for bad in ["0", "-1", "Billing", "1e3", "12.5"] {
            assert_eq!(bad.parse::<SkillId>(), Err(ValueError::Skill), "{bad}");
        }
    }

    #[test]
    fn proficiency_is_1_to_20() {
        assert_eq!(parse_proficiency("1").unwrap().get(), 1);
        assert_eq!(parse_proficiency("20").unwrap().get(), 20);
        assert_eq!(parse_proficiency("5.0").unwrap().get(), 5);
        for bad in ["0", "21", "90", "expert", "A", "-3", "2.5", ""] {
            assert_eq!(
                parse_proficiency(bad),
                Err(ValueError::Proficiency),
                "{bad}"
            );
        }
    }

    #[test]
    fn remove_is_a_target_in_any_case() {
        let none = Levels::default();
        assert_eq!(Target::parse("Remove", None, &none), Ok(Target::Remove));
        assert_eq!(
            Target::parse("3", Some(false), &none),
            Ok(Target::Set {
                proficiency: Proficiency::new(3).unwrap(),
                active: Some(false)
            })
        );
    }

    #[test]
    fn named_levels_are_case_insensitive_and_only_with_a_table() {
        let levels = Levels::new([
            ("Expert".to_owned(), Proficiency::new(1).unwrap()),
            ("trainee".to_owned(), Proficiency::new(15).unwrap()),
        ]);
        assert_eq!(
            Target::parse("EXPERT", None, &levels),
            Ok(Target::Set {
                proficiency: Proficiency::new(1).unwrap(),
                active: None
            })
        );
        assert_eq!(
            Target::parse("senior", None, &levels),
            Err(ValueError::Proficiency)
        );
        assert_eq!(
            Target::parse("expert", None, &Levels::default()),
            Err(ValueError::Proficiency)
        );
    }

    #[test]
    fn names_are_told_apart_from_ids_by_shape() {
        assert_eq!(
            "Jane.Doe@Acme.example".parse::<AgentSpec>(),
            Ok(AgentSpec::Name("Jane.Doe@Acme.example".into()))
        );
        assert_eq!(
            "1001".parse::<AgentSpec>(),
            Ok(AgentSpec::Id(AgentRef::AgentId(1001)))
        );
        for bad in ["abc-123", "@acme", "jane@", "jane doe@acme"] {
            assert_eq!(bad.parse::<AgentSpec>(), Err(ValueError::Agent), "{bad}");
        }
        assert_eq!(
            " Billing EN ".parse::<SkillSpec>(),
            Ok(SkillSpec::Name("Billing EN".into()))
        );
        assert_eq!(
            "112233".parse::<SkillSpec>(),
            Ok(SkillSpec::Id(SkillId::new(112233).unwrap()))
        );
        for bad in ["0", "-1", "1.5"] {
            assert_eq!(bad.parse::<SkillSpec>(), Err(ValueError::Skill), "{bad}");
        }
    }

    #[test]
    fn a_number_too_large_for_a_skill_id_is_an_invalid_id_not_a_name() {
        for bad in [
            "18446744073709551616",
            "1.8446744073709552e19",
            "1e3",
            "99999999999999999999999",
        ] {
            assert_eq!(bad.parse::<SkillSpec>(), Err(ValueError::Skill), "{bad}");
        }
        assert_eq!(
            "Infinity".parse::<SkillSpec>(),
            Ok(SkillSpec::Name("Infinity".into()))
        );
    }

    #[test]
    fn active_flag_spellings() {
        for yes in ["true", "TRUE", "yes", "Y", "1"] {
            assert_eq!(parse_active(yes), Ok(Some(true)), "{yes}");
        }
        for no in ["false", "No", "n", "0"] {
            assert_eq!(parse_active(no), Ok(Some(false)), "{no}");
        }
        assert_eq!(parse_active(""), Ok(None));
        assert_eq!(parse_active("maybe"), Err(ValueError::Active));
    }
}
