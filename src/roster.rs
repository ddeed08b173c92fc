//! Stage 1: roster → typed rows.
//!
//! A roster is CSV (header row, columns found by alias) or JSON (an array of
//! objects with the same keys). Every cell is parsed into a domain type from
//! [`crate::model`]; every problem is collected with the line it came from,
//! the column, the value as given and what was expected. Parsing never stops
//! at the first error and never panics, whatever the bytes.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::model::{self, AgentSpec, Levels, RosterRow, SkillSpec, Target, ValueError};

/// The roster's columns, each found by any of its aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Column {
    Agent,
    Skill,
    Proficiency,
    Active,
}

impl Column {
    pub const ALL: [Column; 4] = [
        Column::Agent,
        Column::Skill,
        Column::Proficiency,
        Column::Active,
    ];

    /// Header names accepted for this column (compared trimmed and
    /// case-insensitively), most preferred first: when a roster has two of
    /// them (an id column and a name column), the first is read and the
    /// other ignored.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::Agent => &[
                "agent",
                "agentId",
                "userId",
                "user",
                "userName",
                "email",
                "emailAddress",
            ],
            Column::Skill => &["skill", "skillId", "skillName"],
            Column::Proficiency => &["proficiency", "level"],
            Column::Active => &["active", "isActive"],
        }
    }

    pub fn name(self) -> &'static str {
        self.aliases()[0]
    }

    fn required(self) -> bool {
        self != Column::Active
    }

    /// The column a header names, with its alias's rank: aliases are in
    /// order of preference, so a roster with both `skillId` and
    /// `skillName` is read by id.
    fn from_header(header: &str) -> Option<(Column, usize)> {
        let header = header.trim();
        Column::ALL.into_iter().find_map(|c| {
            c.aliases()
                .iter()
                .position(|alias| alias.eq_ignore_ascii_case(header))
                .map(|rank| (c, rank))
        })
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The roster's format; by default taken from the file's extension
/// (`.json` is JSON, anything else and stdin is CSV).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

/// Where a roster came from, for messages: a path or `<stdin>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Stdin,
}

impl Source {
    /// `-` is standard input.
    pub fn from_arg(arg: &Path) -> Source {
        if arg.as_os_str() == "-" {
            Source::Stdin
        } else {
            Source::File(arg.to_path_buf())
        }
    }

    pub fn default_format(&self) -> Format {
        match self {
            Source::File(path)
                if path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json")) =>
            {
                Format::Json
            }
            _ => Format::Csv,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Stdin => f.write_str("<stdin>"),
        }
    }
}

/// The raw bytes of a roster and how to read them. Kept whole so that later
/// stages can quote the original row (`--failed-rows`) without reading the
/// file twice, which stdin could not do.
#[derive(Debug, Clone)]
pub struct Input {
    pub source: Source,
    pub format: Format,
    pub bytes: Vec<u8>,
}

/// The roster could not be read at all (as opposed to having bad rows).
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: cannot read the roster: {error}")]
pub struct ReadError {
    pub source_name: String,
    #[source]
    pub error: std::io::Error,
}

impl Input {
    /// Reads a file, or stdin for `-`. `format: None` takes the default
    /// for the source.
    pub fn read(arg: &Path, format: Option<Format>) -> Result<Input, ReadError> {
        let source = Source::from_arg(arg);
        let format = format.unwrap_or_else(|| source.default_format());
        let read = match &source {
            Source::File(path) => std::fs::read(path),
            Source::Stdin => {
                let mut bytes = Vec::new();
                std::io::stdin().read_to_end(&mut bytes).map(|_| bytes)
            }
        };
        match read {
            Ok(bytes) => Ok(Input {
                source,
                format,
                bytes,
            }),
            Err(error) => Err(ReadError {
                source_name: source.to_string(),
                error,
            }),
        }
    }

    pub fn from_bytes(source: Source, format: Format, bytes: impl Into<Vec<u8>>) -> Input {
        Input {
            source,
            format,
            bytes: bytes.into(),
        }
    }
}

/// One problem with the roster, located precisely enough to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// CSV: the physical line (header = 1); JSON: the 1-based item number.
    /// 0 means the file as a whole.
    pub line: u64,
    /// The column as the roster names it (the header as written), if the
    /// problem is in one cell.
    pub column: Option<String>,
    /// The value as given.
    pub value: Option<String>,
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        if let Some(column) = &self.column {
            write!(f, "{column}")?;
            match &self.value {
                Some(value) => write!(f, " `{value}`: ")?,
                None => f.write_str(": ")?,
            }
        }
        f.write_str(&self.message)
    }
}

/// A parsed roster: the rows that are valid, and the problems with the
/// rest. `rows` and `errors` together account for every data row.
#[derive(Debug, Clone)]
pub struct Roster {
    pub source: Source,
    pub format: Format,
    /// Data rows seen (blank lines excluded), valid or not.
    pub total_rows: u64,
    pub rows: Vec<RosterRow>,
    pub errors: Vec<Issue>,
}

/// Parses a roster; `levels` are the named proficiency levels allowed in
/// the proficiency column. Never fails as a whole: a file that cannot be
/// read as a roster at all (no header, missing column, not JSON) is one
/// error at line 0 or 1.
pub fn parse(input: &Input, levels: &Levels) -> Roster {
    let mut roster = Roster {
        source: input.source.clone(),
        format: input.format,
        total_rows: 0,
        rows: Vec::new(),
        errors: Vec::new(),
    };
    if let Some(message) = wrong_encoding(&input.bytes) {
        roster.errors.push(file_issue(0, message));
        return roster;
    }
    match input.format {
        Format::Csv => parse_csv(strip_bom(&input.bytes), levels, &mut roster),
        Format::Json => parse_json(strip_bom(&input.bytes), levels, &mut roster),
    }
    roster
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// UTF-16 is what Excel's "Unicode text" writes; say so instead of
/// reporting every cell.
fn wrong_encoding(bytes: &[u8]) -> Option<String> {
    (bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF"))
        .then(|| "the file is UTF-16; save it as UTF-8 (in Excel: \"CSV UTF-8\")".to_owned())
}

fn file_issue(line: u64, message: impl Into<String>) -> Issue {
    Issue {
        line,
        column: None,
        value: None,
        message: message.into(),
    }
}

const NOT_UTF8: &str = "not valid UTF-8; save the file as UTF-8 (in Excel: \"CSV UTF-8\")";

/// Where each column sits in the CSV, with its header as written and the
/// rank of the alias it matched.
struct Layout {
    index: [Option<(usize, String, usize)>; 4],
}

impl Layout {
    fn get(&self, column: Column) -> Option<(usize, &str)> {
        self.index[column as usize]
            .as_ref()
            .map(|(i, header, _)| (*i, header.as_str()))
    }
}

/// Keeps the better of two columns for the same role; the same alias
/// twice (say `Agent` and `agent`) is an error naming both.
fn prefer<T>(
    slot: &mut Option<T>,
    candidate: T,
    rank_of: impl Fn(&T) -> usize,
    name_of: impl Fn(&T) -> String,
    column: Column,
) -> Option<String> {
    match slot {
        Some(current) if rank_of(current) == rank_of(&candidate) => Some(format!(
            "the {column} column appears twice (`{}` and `{}`); keep one",
            name_of(current),
            name_of(&candidate)
        )),
        Some(current) if rank_of(current) < rank_of(&candidate) => None,
        _ => {
            *slot = Some(candidate);
            None
        }
    }
}

fn missing_column_message(column: Column) -> String {
    let aliases: Vec<String> = column.aliases().iter().map(|a| format!("`{a}`")).collect();
    format!(
        "missing the {column} column; name it {} (any case)",
        aliases.join(", ")
    )
}

fn csv_layout(headers: &csv::ByteRecord, errors: &mut Vec<Issue>) -> Option<Layout> {
    let mut layout = Layout {
        index: [None, None, None, None],
    };
    for (i, raw) in headers.iter().enumerate() {
        let Ok(header) = std::str::from_utf8(raw.trim_ascii()) else {
            errors.push(Issue {
                line: 1,
                column: Some(format!("column {}", i + 1)),
                value: Some(String::from_utf8_lossy(raw).into_owned()),
                message: NOT_UTF8.to_owned(),
            });
            continue;
        };
        if let Some((column, rank)) = Column::from_header(header) {
            let slot = &mut layout.index[column as usize];
            let candidate = (i, header.to_owned(), rank);
            if let Some(message) = prefer(slot, candidate, |c| c.2, |c| c.1.clone(), column) {
                errors.push(Issue {
                    line: 1,
                    column: Some(header.to_owned()),
                    value: None,
                    message,
                });
            }
        }
    }
    for column in Column::ALL {
        if column.required() && layout.get(column).is_none() {
            errors.push(file_issue(1, missing_column_message(column)));
        }
    }
    errors.is_empty().then_some(layout)
}

fn parse_csv(bytes: &[u8], levels: &Levels, roster: &mut Roster) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut lines = LineCounter::default();
    // One row per line at most: sizing once spares a million-row roster
    // its reallocations.
    let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
    roster.rows.reserve(newlines);

    // The header is the first non-blank record.
    let layout = loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => {
                roster.errors.push(file_issue(
                    0,
                    "the roster is empty; expected a header row such as `agent,skill,proficiency`",
                ));
                return;
            }
            Ok(true) if is_blank(&record) => continue,
            Ok(true) => match csv_layout(&record, &mut roster.errors) {
                Some(layout) => break layout,
                None => return,
            },
            Err(error) => {
                roster.errors.push(csv_error(&error));
                return;
            }
        }
    };

    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) if is_blank(&record) => continue,
            Ok(true) => {
                roster.total_rows += 1;
                let line = lines.line_of(bytes, record.position());
                let cell = |column: Column| -> Result<Option<(&str, &str)>, Issue> {
                    let Some((i, header)) = layout.get(column) else {
                        return Ok(None);
                    };
                    // Trimmed here rather than by the reader, whose trim
                    // copies every record.
                    let raw = record.get(i).unwrap_or_default().trim_ascii();
                    match std::str::from_utf8(raw) {
                        Ok(text) => Ok(Some((header, text))),
                        Err(_) => Err(Issue {
                            line,
                            column: Some(header.to_owned()),
                            value: Some(String::from_utf8_lossy(raw).into_owned()),
                            message: NOT_UTF8.to_owned(),
                        }),
                    }
                };
                let cells = Column::ALL.map(cell);
                let mut issues = Vec::new();
                let texts = cells.map(|c| match c {
                    Ok(text) => text,
                    Err(issue) => {
                        issues.push(issue);
                        None
                    }
                });
                if !issues.is_empty() {
                    roster.errors.extend(issues);
                    continue;
                }
                let [agent, skill, proficiency, active] = texts;
                let cells = Cells {
                    agent: agent.map(|(h, v)| (h, Cell::Text(v))),
                    skill: skill.map(|(h, v)| (h, Cell::Text(v))),
                    proficiency: proficiency.map(|(h, v)| (h, Cell::Text(v))),
                    active: active.map(|(h, v)| (h, Cell::Text(v))),
                };
                cells.into_row(line, levels, roster);
            }
            Err(error) => {
                roster.total_rows += 1;
                roster.errors.push(csv_error(&error));
                // A UTF-8 or field-count error leaves the reader usable; an
                // I/O error cannot happen on a byte slice.
            }
        }
    }
}

/// Physical line numbers of records. The csv crate's own `Position::line`
/// miscounts CRLF and skipped blank lines, so count `\n`s up to where each
/// record's first byte is, incrementally (each byte is looked at once).
#[derive(Default)]
struct LineCounter {
    /// Offset up to which newlines have been counted.
    offset: usize,
    /// Newlines before `offset`.
    newlines: u64,
}

impl LineCounter {
    fn line_of(&mut self, bytes: &[u8], position: Option<&csv::Position>) -> u64 {
        let Some(position) = position else {
            return 0;
        };
        // The reported offset may sit on the previous record's terminator
        // or on blank lines before this record: skip past them.
        let mut start = usize::try_from(position.byte())
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        if start >= self.offset {
            self.newlines += bytes[self.offset..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            self.offset = start;
        }
        self.newlines + 1
    }
}

/// Some rows of a roster as the user wrote them: the header and, for each
/// wanted line, its cells. Used to hand failed rows back, ready to fix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginalRows {
    pub header: Vec<String>,
    pub rows: Vec<(u64, Vec<String>)>,
}

impl OriginalRows {
    /// Where the header has the agent, skill, proficiency and active
    /// columns (the ones the parser reads), to write new rows in the
    /// roster's own layout.
    pub fn position(&self, column: Column) -> Option<usize> {
        self.header
            .iter()
            .enumerate()
            .filter_map(|(i, h)| match Column::from_header(h) {
                Some((c, rank)) if c == column => Some((rank, i)),
                _ => None,
            })
            .min()
            .map(|(_, i)| i)
    }
}

/// The original cells of the given lines (CSV: physical line of the
/// record; JSON: item number), found the same way [`parse`] numbers them.
pub fn original_rows(input: &Input, wanted: &std::collections::HashSet<u64>) -> OriginalRows {
    let bytes = strip_bom(&input.bytes);
    let mut out = OriginalRows::default();
    let text = |raw: &[u8]| String::from_utf8_lossy(raw).into_owned();
    match input.format {
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes);
            let mut record = csv::ByteRecord::new();
            let mut lines = LineCounter::default();
            let mut header_seen = false;
            while let Ok(true) = reader.read_byte_record(&mut record) {
                if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                    continue;
                }
                if !header_seen {
                    header_seen = true;
                    out.header = record.iter().map(text).collect();
                    continue;
                }
                let line = lines.line_of(bytes, record.position());
                if wanted.contains(&line) {
                    out.rows.push((line, record.iter().map(text).collect()));
                }
            }
        }
        Format::Json => {
            let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(bytes) else {
                return out;
            };
            for (index, item) in items.iter().enumerate() {
                let line = index as u64 + 1;
                if !wanted.contains(&line) {
                    continue;
                }
                let Value::Object(object) = item else {
                    out.rows.push((line, Vec::new()));
                    continue;
                };
                for key in object.keys() {
                    if !out.header.contains(key) {
                        out.header.push(key.clone());
                    }
                }
                let cells = out
                    .header
                    .iter()
                    .map(|key| match object.get(key) {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Null) | None => String::new(),
                        Some(other) => other.to_string(),
                    })
                    .collect();
                out.rows.push((line, cells));
            }
        }
    }
    out
}

fn is_blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(|field| field.trim_ascii().is_empty())
}

fn csv_error(error: &csv::Error) -> Issue {
    let line = error.position().map_or(0, |p| p.line());
    file_issue(line, format!("unreadable CSV: {error}"))
}

/// A cell's value as the roster gave it: CSV gives text, JSON gives text,
/// numbers, booleans or null.
#[derive(Debug, Clone, Copy)]
enum Cell<'a> {
    Text(&'a str),
    Json(&'a Value),
}

impl Cell<'_> {
    /// The value as given, for messages.
    fn as_given(&self) -> String {
        match self {
            Cell::Text(text) => (*text).to_owned(),
            Cell::Json(Value::String(text)) => text.clone(),
            Cell::Json(value) => value.to_string(),
        }
    }

    /// The value as text to parse, or `None` for a JSON type that can never
    /// be valid in this column (arrays, objects).
    fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Cell::Text(text) => Some((*text).into()),
            Cell::Json(Value::String(text)) => Some(text.as_str().into()),
            Cell::Json(Value::Number(n)) => Some(n.to_string().into()),
            Cell::Json(Value::Bool(b)) => Some(b.to_string().into()),
            Cell::Json(Value::Null) => Some("".into()),
            Cell::Json(_) => None,
        }
    }
}

/// The four cells of one row, each with the column name the roster used.
struct Cells<'a> {
    agent: Option<(&'a str, Cell<'a>)>,
    skill: Option<(&'a str, Cell<'a>)>,
    proficiency: Option<(&'a str, Cell<'a>)>,
    active: Option<(&'a str, Cell<'a>)>,
}

impl Cells<'_> {
    /// Parses every cell, pushing either one row or one error per bad cell.
    fn into_row(self, line: u64, levels: &Levels, roster: &mut Roster) {
        let errors = &mut roster.errors;
        let before = errors.len();
        let agent = parse_cell(
            errors,
            line,
            Column::Agent,
            self.agent,
            str::parse::<AgentSpec>,
        );
        let skill = parse_cell(
            errors,
            line,
            Column::Skill,
            self.skill,
            str::parse::<SkillSpec>,
        );
        let active = parse_cell(
            errors,
            line,
            Column::Active,
            self.active,
            model::parse_active,
        );
        let target = parse_cell(
            errors,
            line,
            Column::Proficiency,
            self.proficiency,
            |text| {
                Target::parse(text, active.flatten(), levels)
                    .map_err(|error| explain_proficiency(error, text, levels))
            },
        );
        if let (Some(agent), Some(skill), Some(target), true) =
            (agent, skill, target, errors.len() == before)
        {
            roster.rows.push(RosterRow {
                line,
                agent,
                skill,
                target,
            });
        }
    }
}

/// Parses one cell, or records why it cannot be parsed and returns `None`.
/// An absent optional column parses as an empty cell.
fn parse_cell<T, E: Into<CellError>>(
    errors: &mut Vec<Issue>,
    line: u64,
    column: Column,
    cell: Option<(&str, Cell<'_>)>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<T> {
    let Some((name, cell)) = cell else {
        if column.required() {
            errors.push(Issue {
                line,
                column: Some(column.name().to_owned()),
                value: None,
                message: missing_column_message(column),
            });
            return None;
        }
        return parse("").ok();
    };
    let text = cell.text();
    let error = match &text {
        Some(text) => match parse(text).map_err(Into::into) {
            Ok(value) => return Some(value),
            Err(CellError::Value(ValueError::Empty)) => {
                format!("{column} is empty; {}", expected(column))
            }
            Err(CellError::Value(error)) => error.to_string(),
            Err(CellError::Message(message)) => message,
        },
        None => format!("expected a single value; {}", expected(column)),
    };
    errors.push(Issue {
        line,
        column: Some(name.to_owned()),
        value: Some(cell.as_given()),
        message: error,
    });
    None
}

/// Why a cell did not parse: a [`ValueError`] with its standard message,
/// or a message made for the context (the configured levels).
enum CellError {
    Value(ValueError),
    Message(String),
}

impl From<ValueError> for CellError {
    fn from(error: ValueError) -> Self {
        CellError::Value(error)
    }
}

/// A proficiency that is neither a number in range, `remove`, nor a
/// configured level: say which levels there are, or how to define them.
fn explain_proficiency(error: ValueError, text: &str, levels: &Levels) -> CellError {
    if error != ValueError::Proficiency || !text.chars().any(char::is_alphabetic) {
        return error.into();
    }
    let base = ValueError::Proficiency.to_string();
    CellError::Message(if levels.is_empty() {
        format!(
            "{base}; to use names such as `expert`, define them in the [levels] table of the config file (expert = 1)"
        )
    } else {
        let names: Vec<String> = levels.iter().map(|(n, p)| format!("{n} ({p})")).collect();
        format!("{base}, or a configured level: {}", names.join(", "))
    })
}

fn expected(column: Column) -> &'static str {
    match column {
        Column::Agent => "expected a UUID userId, a numeric agentId, or an e-mail address",
        Column::Skill => "expected a numeric skillId or a skill name",
        Column::Proficiency => "expected an integer from 1 (best) to 20, or `remove`",
        Column::Active => "expected true/false, yes/no, y/n or 1/0",
    }
}

fn parse_json(bytes: &[u8], levels: &Levels, roster: &mut Roster) {
    let items: Vec<Value> = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Array(items)) => items,
        Ok(other) => {
            roster.errors.push(file_issue(
                0,
                format!(
                    "expected a JSON array of objects such as \
                     [{{\"agent\": 1001, \"skill\": 112233, \"proficiency\": 5}}], got {}",
                    json_kind(&other)
                ),
            ));
            return;
        }
        Err(error) => {
            let message = if error.is_data() || error.is_syntax() || error.is_eof() {
                format!(
                    "not valid JSON at line {} column {}: {error}",
                    error.line(),
                    error.column()
                )
            } else {
                format!("not valid JSON: {error}")
            };
            let message = match std::str::from_utf8(bytes) {
                Ok(_) => message,
                Err(_) => format!("{NOT_UTF8} ({message})"),
            };
            roster.errors.push(file_issue(0, message));
            return;
        }
    };
    for (index, item) in items.iter().enumerate() {
        let line = index as u64 + 1;
        roster.total_rows += 1;
        let Value::Object(object) = item else {
            roster.errors.push(Issue {
                line,
                column: None,
                value: Some(item.to_string()),
                message: format!(
                    "item {line} is {}; expected an object with agent, skill and proficiency",
                    json_kind(item)
                ),
            });
            continue;
        };
        let mut found: [Option<(&str, Cell<'_>, usize)>; 4] = [None; 4];
        let mut duplicate = None;
        for (key, value) in object {
            if let Some((column, rank)) = Column::from_header(key) {
                let slot = &mut found[column as usize];
                let candidate = (key.as_str(), Cell::Json(value), rank);
                if let Some(message) = prefer(slot, candidate, |c| c.2, |c| c.0.to_owned(), column)
                {
                    duplicate = Some(Issue {
                        line,
                        column: Some(key.clone()),
                        value: None,
                        message,
                    });
                }
            }
        }
        if let Some(issue) = duplicate {
            roster.errors.push(issue);
            continue;
        }
        let [agent, skill, proficiency, active] =
            found.map(|f| f.map(|(key, cell, _)| (key, cell)));
        Cells {
            agent,
            skill,
            proficiency,
            active,
        }
        .into_row(line, levels, roster);
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Proficiency;

    fn csv(text: &str) -> Roster {
        parse(
            &Input::from_bytes(Source::File("r.csv".into()), Format::Csv, text),
            &Levels::default(),
        )
    }

    fn json(text: &str) -> Roster {
        parse(
            &Input::from_bytes(Source::File("r.json".into()), Format::Json, text),
            &Levels::default(),
        )
    }

    fn set(p: u8, active: Option<bool>) -> Target {
        Target::Set {
            proficiency: Proficiency::new(p.into()).unwrap(),
            active,
        }
    }

    #[test]
    fn reads_a_plain_csv_with_line_numbers() {
        let r = csv("agent,skill,proficiency\n1001,112233,5\n1002,112233,1\n");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.total_rows, 2);
        assert_eq!(r.rows[0].line, 2);
        assert_eq!(
            r.rows[0].agent,
            AgentSpec::Id(crate::model::AgentRef::AgentId(1001))
        );
        assert_eq!(r.rows[0].skill, "112233".parse().unwrap());
        assert_eq!(r.rows[0].target, set(5, None));
        assert_eq!(r.rows[1].line, 3);
    }

    #[test]
    fn headers_are_case_insensitive_trimmed_aliases_and_extra_columns_are_ignored() {
        let r = csv(" Name , USERID ,SkillId, Level ,IsActive\nJane,1001,112233,5,no\n");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.rows[0].target, set(5, Some(false)));
    }

    #[test]
    fn an_id_column_is_preferred_to_a_name_column_and_the_same_column_twice_is_an_error() {
        let r =
            csv("Email,skillName,Level,agentId,SkillId\njane@acme.example,Sales,5,1001,445566\n");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.rows[0].agent, "1001".parse().unwrap());
        assert_eq!(r.rows[0].skill, "445566".parse().unwrap());

        let r = csv("Agent,agent,skill,proficiency\n1,2,3,4\n");
        assert_eq!(r.errors.len(), 1);
        assert_eq!(
            r.errors[0].message,
            "the agent column appears twice (`Agent` and `agent`); keep one"
        );
    }

    #[test]
    fn bom_crlf_blank_lines_and_trimmed_fields() {
        let r = csv(
            "\u{feff}agent,skill,proficiency\r\n\r\n 1001 , 112233 , 5 \r\n\r\n1002,112233,6\r\n",
        );
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows[0].line, 3);
        assert_eq!(r.rows[1].line, 5);
    }

    #[test]
    fn quoted_fields_spanning_lines_count_physical_lines() {
        let r = csv(
            "agent,note,skill,proficiency\n1001,\"two\nlines\",112233,5\n1002,\"a, \"\"b\"\"\",112233,expert\n",
        );
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.rows[0].line, 2);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, 4);
    }

    #[test]
    fn every_bad_cell_is_reported_with_line_column_value_and_expectation() {
        let r = csv("agent,skill,level\n\
             abc-123,112233,5\n\
             1001,112233,expert\n\
             1001,112234,A\n\
             1001,112235,90\n\
             1001,112236,0\n\
             1001,1.5,3\n");
        assert!(r.rows.is_empty());
        let lines: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7]);
        assert_eq!(r.errors[0].column.as_deref(), Some("agent"));
        assert_eq!(r.errors[0].value.as_deref(), Some("abc-123"));
        assert!(
            r.errors[0]
                .message
                .starts_with("neither a UUID userId nor a numeric agentId"),
            "{}",
            r.errors[0]
        );
        for e in &r.errors[1..5] {
            assert_eq!(e.column.as_deref(), Some("level"));
            assert!(
                e.message
                    .contains("CXone proficiency is an integer from 1 (best) to 20"),
                "{e}"
            );
        }
        assert_eq!(r.errors[1].value.as_deref(), Some("expert"));
        assert_eq!(r.errors[3].value.as_deref(), Some("90"));
        assert_eq!(r.errors[5].column.as_deref(), Some("skill"));
        assert_eq!(
            r.errors[1].to_string(),
            "line 3: level `expert`: CXone proficiency is an integer from 1 (best) to 20, or `remove`; to use names such as `expert`, define them in the [levels] table of the config file (expert = 1)"
        );
    }

    #[test]
    fn names_are_valid_shapes_offline_and_levels_need_a_table() {
        let r = csv("agent,skill,proficiency\njane@acme.example,Billing EN,expert\n");
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].column.as_deref(), Some("proficiency"));
        assert!(
            r.errors[0]
                .message
                .contains("define them in the [levels] table"),
            "{}",
            r.errors[0]
        );

        let levels = Levels::new([
            (
                "expert".to_owned(),
                crate::model::Proficiency::new(1).unwrap(),
            ),
            (
                "senior".to_owned(),
                crate::model::Proficiency::new(3).unwrap(),
            ),
        ]);
        let input = Input::from_bytes(
            Source::Stdin,
            Format::Csv,
            "agent,skill,proficiency\njane@acme.example,Billing EN,Expert\n1001,5,guru\n1001,6,90\n",
        );
        let r = parse(&input, &levels);
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.rows[0].agent, AgentSpec::Name("jane@acme.example".into()));
        assert_eq!(r.rows[0].skill, SkillSpec::Name("Billing EN".into()));
        assert_eq!(
            r.errors[0].message,
            "CXone proficiency is an integer from 1 (best) to 20, or `remove`, or a configured level: expert (1), senior (3)"
        );
        // A number out of range gets the plain message.
        assert_eq!(
            r.errors[1].message,
            "CXone proficiency is an integer from 1 (best) to 20, or `remove`"
        );
    }

    #[test]
    fn two_bad_cells_in_one_row_are_two_errors() {
        let r = csv("agent,skill,proficiency,active\nx,-1,z,maybe\n");
        assert_eq!(r.errors.len(), 4);
        assert!(r.errors.iter().all(|e| e.line == 2));
    }

    #[test]
    fn missing_column_lists_the_accepted_aliases() {
        let r = csv("agent,skill_name,proficiency\n1001,Billing,5\n");
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, 1);
        assert_eq!(
            r.errors[0].message,
            "missing the skill column; name it `skill`, `skillId`, `skillName` (any case)"
        );
        assert_eq!(r.total_rows, 0);
    }

    #[test]
    fn empty_cells_and_short_rows_are_errors() {
        let r = csv("agent,skill,proficiency\n1001,,5\n1001,112233\n");
        assert_eq!(r.errors.len(), 2);
        assert_eq!(r.errors[0].line, 2);
        assert_eq!(
            r.errors[0].message,
            "skill is empty; expected a numeric skillId or a skill name"
        );
        assert_eq!(r.errors[1].line, 3);
        assert_eq!(r.errors[1].column.as_deref(), Some("proficiency"));
    }

    #[test]
    fn header_only_is_an_empty_valid_roster_but_no_header_is_an_error() {
        let r = csv("agent,skill,proficiency\n");
        assert!(r.errors.is_empty());
        assert_eq!(r.total_rows, 0);
        let r = csv("");
        assert_eq!(r.errors.len(), 1);
        assert!(r.errors[0].message.contains("empty"));
    }

    #[test]
    fn invalid_utf8_names_the_line_and_column() {
        let mut bytes = b"agent,skill,proficiency\n1001,112233,5\n1001,".to_vec();
        bytes.extend_from_slice(b"\xff\xfe12,5\n");
        let r = parse(
            &Input::from_bytes(Source::Stdin, Format::Csv, bytes),
            &Levels::default(),
        );
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, 3);
        assert_eq!(r.errors[0].column.as_deref(), Some("skill"));
        assert!(r.errors[0].message.contains("UTF-8"));
    }

    #[test]
    fn utf16_is_recognised() {
        let r = parse(
            &Input::from_bytes(Source::Stdin, Format::Csv, b"\xff\xfea\0".to_vec()),
            &Levels::default(),
        );
        assert!(r.errors[0].message.contains("UTF-16"));
    }

    #[test]
    fn json_takes_numbers_and_numeric_strings() {
        let r = json(
            r#"[{"agent": 1001, "skill": "112233", "proficiency": "5"},
                {"userId": "6513270E-269E-4D37-B2A7-4DE452E6B438", "skillId": 112234, "level": 3, "isActive": false},
                {"agent": "1002", "skill": 112233, "proficiency": "remove", "name": "ignored"}]"#,
        );
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.rows.len(), 3);
        assert_eq!(r.rows[1].line, 2);
        assert_eq!(r.rows[1].target, set(3, Some(false)));
        assert_eq!(r.rows[2].target, Target::Remove);
    }

    #[test]
    fn json_errors_name_the_item_and_key() {
        let r = json(
            r#"[{"agent": 1001, "skill": 112233, "proficiency": 90},
                {"agent": 1001, "skill": 1.5, "proficiency": 1},
                {"agent": [1], "skill": 1, "proficiency": 1},
                {"agent": 1001, "proficiency": 1},
                7]"#,
        );
        let got: Vec<(u64, Option<&str>)> = r
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (1, Some("proficiency")),
                (2, Some("skill")),
                (3, Some("agent")),
                (4, Some("skill")),
                (5, None)
            ]
        );
        assert_eq!(r.errors[0].value.as_deref(), Some("90"));
    }

    #[test]
    fn json_that_is_not_an_array_is_one_error() {
        assert!(
            json(r#"{"skills": []}"#).errors[0]
                .message
                .contains("expected a JSON array")
        );
        assert!(json("[{").errors[0].message.contains("not valid JSON"));
        assert!(json("[]").errors.is_empty());
    }
}
