//! Stage 1: roster → typed rows.
//!
//! A roster is CSV (header row, columns found by alias) or JSON (an array of
//! objects with the same keys). Every cell is parsed into a domain type from
//! [`crate::model`]; every problem is collected with the line it came from,
//! the column, the value as given and what was expected. Parsing never stops
//! at the first error and never panics, whatever the bytes.
//!
//! Rosters come as spreadsheets write them: comma, semicolon or tab
//! delimited (sniffed from the header, or Excel's `sep=` line), UTF-8 with
//! or without a BOM, UTF-16 with a BOM, or Windows-1252 when asked for.
//! What is read is bounded: the file must be a regular file (or stdin), of
//! at most [`ReadOptions::max_roster_bytes`], with no field longer than
//! [`ReadOptions::max_field_bytes`].

use std::borrow::Cow;
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

    /// Header names accepted for this column, most preferred first: when a
    /// roster has two of them (an id column and a name column), the first
    /// is read and the other ignored. Headers are compared after
    /// [normalising](Column::from_header) both sides, so `Agent ID`,
    /// `agent_id` and `AGENT-ID` are all `agentId`.
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
                "mail",
            ],
            Column::Skill => &["skill", "skillId", "skillName"],
            Column::Proficiency => &["proficiency", "proficiencyLevel", "level"],
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
    /// `skillName` is read by id. Case, spaces, underscores and hyphens
    /// are ignored (`E-mail Address` is `emailAddress`).
    fn from_header(header: &str) -> Option<(Column, usize)> {
        let header = header.trim();
        Column::ALL.into_iter().find_map(|c| {
            c.aliases()
                .iter()
                .position(|alias| same_name(header, alias))
                .map(|rank| (c, rank))
        })
    }
}

/// Whether a header names an alias, ignoring ASCII case and the spaces,
/// underscores and hyphens people put between words. Compares in place:
/// JSON rosters ask this for every key of every item.
fn same_name(header: &str, alias: &str) -> bool {
    let significant = |b: &u8| !matches!(b, b' ' | b'_' | b'-');
    let mut header = header.bytes().filter(significant);
    let mut alias = alias.bytes().filter(significant);
    loop {
        match (header.next(), alias.next()) {
            (None, None) => return true,
            (Some(h), Some(a)) if h.eq_ignore_ascii_case(&a) => {}
            _ => return false,
        }
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

/// The field delimiter of a CSV roster, when it is not left to the `sep=`
/// line or the header to tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    Comma,
    /// What Excel writes where the decimal separator is a comma.
    Semicolon,
    /// What Excel's "Unicode Text" writes.
    Tab,
}

impl Delimiter {
    pub fn byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Semicolon => b';',
            Delimiter::Tab => b'\t',
        }
    }
}

impl std::str::FromStr for Delimiter {
    type Err = String;

    /// `,` `;` or `tab` (also `comma`, `semicolon`, or a tab character).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "," | "comma" => Ok(Delimiter::Comma),
            ";" | "semicolon" => Ok(Delimiter::Semicolon),
            "tab" | "\t" | "\\t" => Ok(Delimiter::Tab),
            _ => Err(format!("`{text}`: expected `,`, `;` or `tab`")),
        }
    }
}

/// A delimiter byte as messages name it: `,` in backticks, or `tab`.
fn delimiter_name(delimiter: u8) -> String {
    match delimiter {
        b'\t' => "tab".to_owned(),
        other => format!("`{}`", char::from(other).escape_default()),
    }
}

/// The character encoding of a roster that is not UTF-8. UTF-8 (with or
/// without a BOM) and UTF-16 with a BOM are recognised whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Encoding {
    /// UTF-8, with or without a BOM (and UTF-16 with a BOM).
    #[default]
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// Windows-1252, what Excel's plain "CSV" writes on Western European
    /// Windows.
    #[value(name = "windows-1252", alias = "cp1252")]
    Windows1252,
}

/// Default cap on a roster's size: far above any real roster (5,000,000
/// rows are about 250 MB), far below what would exhaust memory.
pub const DEFAULT_MAX_ROSTER_BYTES: u64 = 1 << 30;

/// Default cap on one field: a row's cells are short; a field this long
/// is a quote left open or not a roster at all.
pub const DEFAULT_MAX_FIELD_BYTES: u64 = 64 << 10;

/// How to read a roster: from the command line, else the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// `None`: Excel's `sep=` line if there is one, else sniffed from the
    /// header line (comma, semicolon or tab).
    pub delimiter: Option<Delimiter>,
    pub encoding: Encoding,
    /// The most bytes read from the file or stdin.
    pub max_roster_bytes: u64,
    /// The longest one field (CSV cell, JSON string) may be, in bytes.
    pub max_field_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            delimiter: None,
            encoding: Encoding::Utf8,
            max_roster_bytes: DEFAULT_MAX_ROSTER_BYTES,
            max_field_bytes: DEFAULT_MAX_FIELD_BYTES,
        }
    }
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
    /// Delimiter, encoding and the caps, as given on the command line.
    pub options: ReadOptions,
}

/// The roster could not be read at all (as opposed to having bad rows).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{source_name}: cannot read the roster: {error}")]
    Io {
        source_name: String,
        #[source]
        error: std::io::Error,
    },
    /// A device, FIFO or directory: reading it could block forever or
    /// never end.
    #[error(
        "{source_name}: not a regular file but {kind}; give a roster file, or `-` to read standard input"
    )]
    NotAFile {
        source_name: String,
        kind: &'static str,
    },
    #[error(
        "{source_name}: the roster is larger than {limit} bytes; if it really is, raise --max-roster-bytes (or CXSKILL_MAX_ROSTER_BYTES)"
    )]
    TooLarge { source_name: String, limit: u64 },
}

/// Why reading failed, before the source is named.
enum ReadFailure {
    Io(std::io::Error),
    NotAFile(&'static str),
    TooLarge,
}

impl From<std::io::Error> for ReadFailure {
    fn from(error: std::io::Error) -> Self {
        ReadFailure::Io(error)
    }
}

impl Input {
    /// Reads a file, or stdin for `-`: at most `options.max_roster_bytes`,
    /// and only from a regular file (a FIFO or a device could block or
    /// never end).
    pub fn read_with(
        arg: &Path,
        format: Option<Format>,
        options: ReadOptions,
    ) -> Result<Input, ReadError> {
        let source = Source::from_arg(arg);
        let format = format.unwrap_or_else(|| source.default_format());
        let limit = options.max_roster_bytes;
        let read = match &source {
            Source::File(path) => read_file(path, limit),
            Source::Stdin => read_limited(std::io::stdin().lock(), limit, 0),
        };
        let source_name = source.to_string();
        match read {
            Ok(bytes) => Ok(Input {
                source,
                format,
                bytes,
                options,
            }),
            Err(ReadFailure::Io(error)) => Err(ReadError::Io { source_name, error }),
            Err(ReadFailure::NotAFile(kind)) => Err(ReadError::NotAFile { source_name, kind }),
            Err(ReadFailure::TooLarge) => Err(ReadError::TooLarge { source_name, limit }),
        }
    }

    pub fn from_bytes(source: Source, format: Format, bytes: impl Into<Vec<u8>>) -> Input {
        Input {
            source,
            format,
            bytes: bytes.into(),
            options: ReadOptions::default(),
        }
    }

    /// The same input read with other options.
    pub fn with_options(self, options: ReadOptions) -> Input {
        Input { options, ..self }
    }
}

/// A regular file's bytes, up to `limit`. The type is checked before
/// opening (opening a FIFO with no writer blocks) and again on the open
/// file, in case the path changed in between.
fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadFailure> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(ReadFailure::NotAFile(file_kind(&metadata.file_type())));
    }
    if metadata.len() > limit {
        return Err(ReadFailure::TooLarge);
    }
    let file = std::fs::File::open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(ReadFailure::NotAFile(file_kind(&metadata.file_type())));
    }
    read_limited(file, limit, metadata.len())
}

/// Everything `reader` gives, or `TooLarge` past `limit` bytes.
fn read_limited(reader: impl Read, limit: u64, size_hint: u64) -> Result<Vec<u8>, ReadFailure> {
    let capacity = usize::try_from(size_hint.min(limit).saturating_add(1)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadFailure::TooLarge);
    }
    Ok(bytes)
}

/// What a path is when it is not a regular file, for the message.
fn file_kind(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "something else"
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
    let bytes = match decode(input) {
        Ok(bytes) => bytes,
        Err(message) => {
            roster.errors.push(file_issue(0, message));
            return roster;
        }
    };
    match input.format {
        Format::Csv => parse_csv(&bytes, &input.options, levels, &mut roster),
        Format::Json => parse_json(&bytes, &input.options, levels, &mut roster),
    }
    roster
}

/// The roster as UTF-8 without a BOM: UTF-8 is borrowed as it is; UTF-16
/// with a BOM (Excel's "Unicode Text") and, when asked for, Windows-1252
/// are decoded. Decoding keeps every line break, so line numbers still
/// name the lines of the file.
fn decode(input: &Input) -> Result<Cow<'_, [u8]>, String> {
    let bytes = input.bytes.as_slice();
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return Ok(Cow::Borrowed(rest));
    }
    let utf16 = bytes
        .strip_prefix(b"\xFF\xFE")
        .map(|rest| (encoding_rs::UTF_16LE, rest, "UTF-16LE"))
        .or_else(|| {
            bytes
                .strip_prefix(b"\xFE\xFF")
                .map(|rest| (encoding_rs::UTF_16BE, rest, "UTF-16BE"))
        });
    if let Some((encoding, rest, name)) = utf16 {
        return match encoding.decode_without_bom_handling_and_without_replacement(rest) {
            Some(text) => Ok(Cow::Owned(text.into_owned().into_bytes())),
            None => Err(format!(
                "the file starts with a {name} byte-order mark but is not valid {name}; save it as UTF-8 (in Excel: \"CSV UTF-8\")"
            )),
        };
    }
    match input.options.encoding {
        Encoding::Utf8 => Ok(Cow::Borrowed(bytes)),
        Encoding::Windows1252 => {
            // Every byte means something in Windows-1252: no errors.
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            Ok(match text {
                Cow::Borrowed(_) => Cow::Borrowed(bytes),
                Cow::Owned(text) => Cow::Owned(text.into_bytes()),
            })
        }
    }
}

fn file_issue(line: u64, message: impl Into<String>) -> Issue {
    Issue {
        line,
        column: None,
        value: None,
        message: message.into(),
    }
}

const NOT_UTF8: &str = "not valid UTF-8; save the file as UTF-8 (in Excel: \"CSV UTF-8\"), or, if it was saved as Excel's plain \"CSV\" on Windows, read it with --encoding windows-1252";

/// A CSV roster ready for the reader: past Excel's `sep=` line, with the
/// delimiter to use and how many lines were skipped before `bytes`.
struct CsvText<'a> {
    bytes: &'a [u8],
    delimiter: u8,
    skipped_lines: u64,
}

impl<'a> CsvText<'a> {
    /// The delimiter is the `--delimiter` option, else the `sep=` line,
    /// else sniffed from the header line.
    fn new(bytes: &'a [u8], options: &ReadOptions) -> CsvText<'a> {
        let (sep, bytes, skipped_lines) = match sep_line(bytes) {
            Some((delimiter, rest)) => (Some(delimiter), rest, 1),
            None => (None, bytes, 0),
        };
        let delimiter = options
            .delimiter
            .map(Delimiter::byte)
            .or(sep)
            .unwrap_or_else(|| sniff_delimiter(bytes));
        CsvText {
            bytes,
            delimiter,
            skipped_lines,
        }
    }

    fn reader(&self) -> csv::Reader<&'a [u8]> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.delimiter)
            .from_reader(self.bytes)
    }
}

/// Excel's hint line, `sep=;` (sometimes quoted), as the first line: the
/// delimiter it names, and the bytes after it.
fn sep_line(bytes: &[u8]) -> Option<(u8, &[u8])> {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let line = &bytes[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line
        .strip_prefix(b"\"")
        .and_then(|l| l.strip_suffix(b"\""))
        .unwrap_or(line);
    let [s, e, p, b'=', delimiter] = line else {
        return None;
    };
    let usable = (delimiter.is_ascii_punctuation() && *delimiter != b'"') || *delimiter == b'\t';
    (usable && [*s, *e, *p].eq_ignore_ascii_case(b"sep"))
        .then(|| (*delimiter, bytes.get(end + 1..).unwrap_or_default()))
}

/// The delimiter of the header line: of comma, semicolon and tab, the one
/// that splits it into the most known columns, then into the most fields;
/// comma when nothing tells.
fn sniff_delimiter(bytes: &[u8]) -> u8 {
    let header = bytes
        .split(|&b| b == b'\n')
        .find(|line| !line.trim_ascii().is_empty())
        .unwrap_or_default();
    let score = |delimiter: u8| {
        let fields = header.split(|&b| b == delimiter);
        let known = fields
            .clone()
            .filter_map(|f| std::str::from_utf8(f).ok())
            .filter(|f| Column::from_header(f.trim().trim_matches('"')).is_some())
            .count();
        (known, fields.count())
    };
    let mut best = (b',', score(b','));
    for delimiter in [b';', b'\t'] {
        let candidate = score(delimiter);
        if candidate > best.1 {
            best = (delimiter, candidate);
        }
    }
    best.0
}

/// Where each column sits in the CSV, with its header as written and the
/// rank of the alias it matched; and every header, to name any column.
struct Layout {
    index: [Option<(usize, String, usize)>; 4],
    headers: Vec<String>,
}

impl Layout {
    fn get(&self, column: Column) -> Option<(usize, &str)> {
        self.index[column as usize]
            .as_ref()
            .map(|(i, header, _)| (*i, header.as_str()))
    }

    /// The header of field `i`, or `column N` past the header's end.
    fn name(&self, i: usize) -> String {
        match self.headers.get(i) {
            Some(header) if !header.is_empty() => header.clone(),
            _ => format!("column {}", i + 1),
        }
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

fn aliases_text(column: Column) -> String {
    let aliases: Vec<String> = column.aliases().iter().map(|a| format!("`{a}`")).collect();
    aliases.join(", ")
}

const ALIAS_RULE: &str = "any case; spaces, `_` and `-` ignored";

fn missing_column_message(column: Column) -> String {
    format!(
        "missing the {column} column; name it {} ({ALIAS_RULE})",
        aliases_text(column)
    )
}

/// The CSV header is missing required columns: name them, their
/// aliases, and what the header does have, read with which delimiter (a
/// wrong delimiter shows as one long header).
fn missing_columns_message(missing: &[Column], headers: &[String], delimiter: u8) -> String {
    const SHOWN: usize = 20;
    let wanted: Vec<String> = missing
        .iter()
        .map(|&c| format!("the {c} column (name it {})", aliases_text(c)))
        .collect();
    let mut found: Vec<String> = headers
        .iter()
        .take(SHOWN)
        .map(|h| format!("`{}`", excerpt(h.as_bytes())))
        .collect();
    if headers.len() > SHOWN {
        found.push(format!("and {} more", headers.len() - SHOWN));
    }
    format!(
        "missing {}; {ALIAS_RULE}. The header, split at {}, has {}",
        wanted.join(" and "),
        delimiter_name(delimiter),
        found.join(", ")
    )
}

fn csv_layout(
    headers: &csv::ByteRecord,
    line: u64,
    delimiter: u8,
    errors: &mut Vec<Issue>,
) -> Option<Layout> {
    let mut layout = Layout {
        index: [None, None, None, None],
        headers: Vec::with_capacity(headers.len()),
    };
    for (i, raw) in headers.iter().enumerate() {
        let Ok(header) = std::str::from_utf8(raw.trim_ascii()) else {
            errors.push(Issue {
                line,
                column: Some(format!("column {}", i + 1)),
                value: Some(String::from_utf8_lossy(raw).into_owned()),
                message: NOT_UTF8.to_owned(),
            });
            layout.headers.push(String::new());
            continue;
        };
        layout.headers.push(header.to_owned());
        if let Some((column, rank)) = Column::from_header(header) {
            let slot = &mut layout.index[column as usize];
            let candidate = (i, header.to_owned(), rank);
            if let Some(message) = prefer(slot, candidate, |c| c.2, |c| c.1.clone(), column) {
                errors.push(Issue {
                    line,
                    column: Some(header.to_owned()),
                    value: None,
                    message,
                });
            }
        }
    }
    let missing: Vec<Column> = Column::ALL
        .into_iter()
        .filter(|&c| c.required() && layout.get(c).is_none())
        .collect();
    if !missing.is_empty() {
        errors.push(file_issue(
            line,
            missing_columns_message(&missing, &layout.headers, delimiter),
        ));
    }
    errors.is_empty().then_some(layout)
}

/// A cell as the parser reads it: trimmed, and without the one leading
/// `'` that cxskill (and others) put before `=`, `+`, `-` and `@` so that
/// a spreadsheet does not run the cell as a formula.
fn unescape_cell(raw: &[u8]) -> &[u8] {
    let raw = raw.trim_ascii();
    raw.strip_prefix(b"'").unwrap_or(raw)
}

fn parse_csv(bytes: &[u8], options: &ReadOptions, levels: &Levels, roster: &mut Roster) {
    let text = CsvText::new(bytes, options);
    let bytes = text.bytes;
    let mut reader = text.reader();
    let mut record = csv::ByteRecord::new();
    let mut lines = LineCounter::after(text.skipped_lines);
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
            Ok(true) => {
                let start = record_start(bytes, record.position());
                let line = lines.line_at(bytes, start);
                // A header quote left open has swallowed the whole file.
                if record.as_slice().contains(&b'\n')
                    && let Some(open) = unclosed_quote(bytes, start, text.delimiter)
                {
                    let issue = unclosed_issue(bytes, &mut lines, line, open);
                    roster.errors.push(issue);
                    return;
                }
                match csv_layout(&record, line, text.delimiter, &mut roster.errors) {
                    Some(layout) => break layout,
                    None => return,
                }
            }
            Err(error) => {
                roster.errors.push(csv_error(&error, text.skipped_lines));
                return;
            }
        }
    };

    let max_field = options.max_field_bytes;
    let mut last = None;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let start = record_start(bytes, record.position());
                last = Some(start);
                if is_blank(&record) {
                    continue;
                }
                roster.total_rows += 1;
                let line = lines.line_at(bytes, start);
                if let Some(issue) = oversized_field(&record, &layout, line, max_field) {
                    roster.errors.push(issue);
                    continue;
                }
                if record.as_slice().contains(&b'\n')
                    && let Some(issue) =
                        swallowed_row(&record, &layout, text.delimiter, levels, line)
                {
                    roster.errors.push(issue);
                    continue;
                }
                read_record(&record, &layout, line, levels, roster);
            }
            Err(error) => {
                roster.errors.push(csv_error(&error, text.skipped_lines));
                return;
            }
        }
    }

    // The reader ends a record early only outside quotes: a quote still
    // open at the end of the file is in the last record.
    if let Some(start) = last
        && let Some(open) = unclosed_quote(bytes, start, text.delimiter)
    {
        let line = lines.line_at(bytes, start);
        if roster.rows.last().is_some_and(|row| row.line == line) {
            roster.rows.pop();
        }
        let issue = unclosed_issue(bytes, &mut lines, line, open);
        roster.errors.push(issue);
    }
}

/// Parses one data record into a row or its errors.
fn read_record(
    record: &csv::ByteRecord,
    layout: &Layout,
    line: u64,
    levels: &Levels,
    roster: &mut Roster,
) {
    let cell = |column: Column| -> Result<Option<(&str, &str)>, Issue> {
        let Some((i, header)) = layout.get(column) else {
            return Ok(None);
        };
        // Trimmed here rather than by the reader, whose trim copies every
        // record.
        let raw = unescape_cell(record.get(i).unwrap_or_default());
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
        return;
    }
    let [agent, skill, proficiency, active] =
        texts.map(|t| t.map(|(header, text)| (header, Cell::Text(text))));
    Cells {
        agent,
        skill,
        proficiency,
        active,
    }
    .into_row(line, levels, roster);
}

/// The first field longer than the cap, as an error (a record's total
/// length is checked first, so a normal row costs one comparison).
fn oversized_field(
    record: &csv::ByteRecord,
    layout: &Layout,
    line: u64,
    max: u64,
) -> Option<Issue> {
    if record.as_slice().len() as u64 <= max {
        return None;
    }
    let (i, field) = record
        .iter()
        .enumerate()
        .find(|(_, field)| field.len() as u64 > max)?;
    Some(Issue {
        line,
        column: Some(layout.name(i)),
        value: None,
        message: format!(
            "the field is {} bytes long, more than --max-field-bytes {max}; a quote left open makes one field of many lines",
            field.len()
        ),
    })
}

/// The text of a line quoted in a message, shortened.
fn excerpt(text: &[u8]) -> String {
    const LONGEST: usize = 80;
    let text = String::from_utf8_lossy(text);
    match text.char_indices().nth(LONGEST) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.into_owned(),
    }
}

/// A line inside a quoted field that would parse as a roster row by
/// itself: the sign of a quote left open that swallowed the rows after
/// it. Multi-line notes that do not look like rows are left alone.
fn swallowed_row(
    record: &csv::ByteRecord,
    layout: &Layout,
    delimiter: u8,
    levels: &Levels,
    line: u64,
) -> Option<Issue> {
    let mut newlines_before = 0;
    for (i, field) in record.iter().enumerate() {
        let mut parts = field.split(|&b| b == b'\n');
        parts.next();
        for (k, part) in parts.enumerate() {
            let part = part.strip_suffix(b"\r").unwrap_or(part);
            if reads_as_row(part, layout, delimiter, levels) {
                let open = line + newlines_before;
                let row_line = open + k as u64 + 1;
                return Some(Issue {
                    line,
                    column: Some(layout.name(i)),
                    value: None,
                    message: format!(
                        "the quoted field that opens on line {open} runs on to line {row_line}, which reads as a roster row (`{}`): a quote is probably left open; close it, or write the note without a bare line break",
                        excerpt(part)
                    ),
                });
            }
        }
        newlines_before += field.iter().filter(|&&b| b == b'\n').count() as u64;
    }
    None
}

/// Whether one line of text, read as a CSV record in the roster's layout,
/// has a valid agent, skill and proficiency (and active flag, if any).
fn reads_as_row(line: &[u8], layout: &Layout, delimiter: u8, levels: &Levels) -> bool {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(line.len().max(64))
        .from_reader(line);
    let mut record = csv::ByteRecord::new();
    if !matches!(reader.read_byte_record(&mut record), Ok(true)) {
        return false;
    }
    let text = |column: Column| {
        layout.get(column).map(|(i, _)| {
            record
                .get(i)
                .and_then(|raw| std::str::from_utf8(unescape_cell(raw)).ok())
        })
    };
    let active = match text(Column::Active) {
        None => Ok(None),
        Some(Some(text)) => model::parse_active(text),
        Some(None) => return false,
    };
    let (Some(Some(agent)), Some(Some(skill)), Some(Some(proficiency)), Ok(active)) = (
        text(Column::Agent),
        text(Column::Skill),
        text(Column::Proficiency),
        active,
    ) else {
        return false;
    };
    agent.parse::<AgentSpec>().is_ok()
        && skill.parse::<SkillSpec>().is_ok()
        && Target::parse(proficiency, active, levels).is_ok()
}

/// Where a quoted field opens that is still open at the end of the file,
/// scanning from `start` (a record's first byte) with the reader's own
/// rules: a quote opens a field only as its first byte, `""` inside is a
/// quote, and the next quote closes it.
fn unclosed_quote(bytes: &[u8], start: usize, delimiter: u8) -> Option<usize> {
    #[derive(Clone, Copy)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted(usize),
        QuoteInQuoted(usize),
    }
    let mut state = State::FieldStart;
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        let ends_field = b == delimiter || b == b'\n' || b == b'\r';
        state = match state {
            State::FieldStart if b == b'"' => State::Quoted(i),
            State::FieldStart | State::Unquoted if ends_field => State::FieldStart,
            State::FieldStart | State::Unquoted => State::Unquoted,
            State::Quoted(open) if b == b'"' => State::QuoteInQuoted(open),
            State::Quoted(open) => State::Quoted(open),
            State::QuoteInQuoted(open) if b == b'"' => State::Quoted(open),
            State::QuoteInQuoted(_) if ends_field => State::FieldStart,
            State::QuoteInQuoted(_) => State::Unquoted,
        };
    }
    match state {
        State::Quoted(open) => Some(open),
        _ => None,
    }
}

/// The error for a quote opened at byte `open` and never closed, on the
/// record that starts on `line`.
fn unclosed_issue(bytes: &[u8], lines: &mut LineCounter, line: u64, open: usize) -> Issue {
    let open_line = lines.line_at(bytes, open);
    let end = bytes.strip_suffix(b"\n").unwrap_or(bytes).len();
    let last_line = lines.line_at(bytes, end);
    file_issue(
        line,
        format!(
            "a quoted field opens on line {open_line} and is never closed, so lines {open_line}-{last_line} were read as one field; close the quote"
        ),
    )
}

/// Physical line numbers of records. The csv crate's own `Position::line`
/// miscounts CRLF and skipped blank lines, so count `\n`s up to where each
/// record's first byte is, incrementally (each byte is looked at once).
#[derive(Default)]
struct LineCounter {
    /// Offset up to which newlines have been counted.
    offset: usize,
    /// Newlines before `offset`, and lines skipped before the bytes
    /// (Excel's `sep=` line).
    newlines: u64,
}

impl LineCounter {
    /// Counting lines of bytes that come after `skipped` lines of the file.
    fn after(skipped: u64) -> LineCounter {
        LineCounter {
            offset: 0,
            newlines: skipped,
        }
    }

    /// The line of the byte at `offset`; offsets are asked in increasing
    /// order (an earlier one gets the line counted so far).
    fn line_at(&mut self, bytes: &[u8], offset: usize) -> u64 {
        let offset = offset.min(bytes.len());
        if offset >= self.offset {
            self.newlines += bytes[self.offset..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            self.offset = offset;
        }
        self.newlines + 1
    }
}

/// Where a record's first byte is. The reported offset may sit on the
/// previous record's terminator or on blank lines before this record:
/// skip past them.
fn record_start(bytes: &[u8], position: Option<&csv::Position>) -> usize {
    let Some(position) = position else {
        return bytes.len();
    };
    let mut start = usize::try_from(position.byte())
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
        start += 1;
    }
    start
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
/// record; JSON: item number), found the same way [`parse`] numbers them;
/// decoded to UTF-8 when the roster was UTF-16 or Windows-1252.
pub fn original_rows(input: &Input, wanted: &std::collections::HashSet<u64>) -> OriginalRows {
    let mut out = OriginalRows::default();
    let Ok(bytes) = decode(input) else {
        return out;
    };
    let text = |raw: &[u8]| String::from_utf8_lossy(raw).into_owned();
    match input.format {
        Format::Csv => {
            let csv = CsvText::new(&bytes, &input.options);
            let mut reader = csv.reader();
            let mut record = csv::ByteRecord::new();
            let mut lines = LineCounter::after(csv.skipped_lines);
            let mut header_seen = false;
            while let Ok(true) = reader.read_byte_record(&mut record) {
                if is_blank(&record) {
                    continue;
                }
                if !header_seen {
                    header_seen = true;
                    out.header = record.iter().map(text).collect();
                    continue;
                }
                let start = record_start(csv.bytes, record.position());
                let line = lines.line_at(csv.bytes, start);
                if wanted.contains(&line) {
                    out.rows.push((line, record.iter().map(text).collect()));
                }
            }
        }
        Format::Json => {
            let Ok(Document::Array(items)) = serde_json::from_slice::<Document>(&bytes) else {
                return out;
            };
            let mut columns: std::collections::HashMap<String, usize> =
                std::collections::HashMap::new();
            for (index, item) in items.iter().enumerate() {
                let line = index as u64 + 1;
                if !wanted.contains(&line) {
                    continue;
                }
                let Item::Object(entries) = item else {
                    out.rows.push((line, Vec::new()));
                    continue;
                };
                let mut cells = vec![String::new(); out.header.len()];
                for (key, value) in entries {
                    let at = *columns.entry(key.clone()).or_insert_with(|| {
                        out.header.push(key.clone());
                        out.header.len() - 1
                    });
                    if at >= cells.len() {
                        cells.resize(at + 1, String::new());
                    }
                    // A key given twice: the first is quoted.
                    if cells[at].is_empty() {
                        cells[at] = match value {
                            Value::String(s) => s.clone(),
                            Value::Null => String::new(),
                            other => other.to_string(),
                        };
                    }
                }
                out.rows.push((line, cells));
            }
            for (_, cells) in &mut out.rows {
                cells.resize(out.header.len(), String::new());
            }
        }
    }
    out
}

fn is_blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(|field| field.trim_ascii().is_empty())
}

fn csv_error(error: &csv::Error, skipped_lines: u64) -> Issue {
    let line = error.position().map_or(0, |p| p.line() + skipped_lines);
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
    fn text(&self) -> Option<Cow<'_, str>> {
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
        let skill = parse_cell(errors, line, Column::Skill, self.skill, |text| {
            text.parse::<SkillSpec>()
                .map_err(|error| explain_skill(error, text))
        });
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

/// A skill given as a whole number that is no skillId (0, or past
/// 2^64 - 1, which JSON turns into a float such as `1.8446744073709552e19`)
/// is an invalid id, never a name.
fn explain_skill(error: ValueError, text: &str) -> CellError {
    let text = text.trim();
    let whole = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let big = text.contains(['e', 'E']) && model::looks_numeric(text);
    if error == ValueError::Skill && (whole || big) {
        CellError::Message(format!(
            "not a valid skillId: a skillId is a whole number from 1 to {}",
            u64::MAX
        ))
    } else {
        error.into()
    }
}

fn expected(column: Column) -> &'static str {
    match column {
        Column::Agent => "expected a UUID userId, a numeric agentId, or an e-mail address",
        Column::Skill => "expected a numeric skillId or a skill name",
        Column::Proficiency => "expected an integer from 1 (best) to 20, or `remove`",
        Column::Active => "expected true/false, yes/no, y/n or 1/0",
    }
}

/// A JSON roster as read: an array of items, or what it is instead.
enum Document {
    Array(Vec<Item>),
    /// The kind of value the document is, for the message.
    Other(&'static str),
}

/// One item of a JSON roster: an object with its keys in the order given
/// (a key given twice is kept twice, to be reported: a JSON map would
/// silently keep the last), or any other value.
enum Item {
    Object(Vec<(String, Value)>),
    Other(Value),
}

impl<'de> serde::Deserialize<'de> for Document {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Document;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array of objects")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Document, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(item) = seq.next_element::<Item>()? {
                    items.push(item);
                }
                Ok(Document::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Document, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Document::Other("an object"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Document, E> {
                Ok(Document::Other("a boolean"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Document, E> {
                Ok(Document::Other("a number"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Document, E> {
                Ok(Document::Other("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Document, E> {
                Ok(Document::Other("a number"))
            }
            fn visit_str<E>(self, _: &str) -> Result<Document, E> {
                Ok(Document::Other("a string"))
            }
            fn visit_unit<E>(self) -> Result<Document, E> {
                Ok(Document::Other("null"))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl<'de> serde::Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Item;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Item::Object(entries))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
                let mut values = Vec::new();
                while let Some(value) = seq.next_element::<Value>()? {
                    values.push(value);
                }
                Ok(Item::Other(Value::Array(values)))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Item, E> {
                Ok(Item::Other(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Item, E> {
                Ok(Item::Other(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Item, E> {
                Ok(Item::Other(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Item, E> {
                Ok(Item::Other(Value::from(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Item, E> {
                Ok(Item::Other(Value::from(v)))
            }
            fn visit_string<E>(self, v: String) -> Result<Item, E> {
                Ok(Item::Other(Value::String(v)))
            }
            fn visit_unit<E>(self) -> Result<Item, E> {
                Ok(Item::Other(Value::Null))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A key that an object gives more than once.
fn repeated_key(entries: &[(String, Value)]) -> Option<&str> {
    if entries.len() <= 16 {
        return entries
            .iter()
            .enumerate()
            .find(|(i, (key, _))| entries[..*i].iter().any(|(k, _)| k == key))
            .map(|(_, (key, _))| key.as_str());
    }
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    entries
        .iter()
        .find(|(key, _)| !seen.insert(key.as_str()))
        .map(|(key, _)| key.as_str())
}

fn parse_json(bytes: &[u8], options: &ReadOptions, levels: &Levels, roster: &mut Roster) {
    let items = match serde_json::from_slice::<Document>(bytes) {
        Ok(Document::Array(items)) => items,
        Ok(Document::Other(kind)) => {
            roster.errors.push(file_issue(
                0,
                format!(
                    "expected a JSON array of objects such as \
                     [{{\"agent\": 1001, \"skill\": 112233, \"proficiency\": 5}}], got {kind}"
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
        let entries = match item {
            Item::Object(entries) => entries,
            Item::Other(value) => {
                roster.errors.push(Issue {
                    line,
                    column: None,
                    value: Some(excerpt(value.to_string().as_bytes())),
                    message: format!(
                        "item {line} is {}; expected an object with agent, skill and proficiency",
                        json_kind(value)
                    ),
                });
                continue;
            }
        };
        if let Some(key) = repeated_key(entries) {
            roster.errors.push(Issue {
                line,
                column: Some(key.to_owned()),
                value: None,
                message: format!(
                    "item {line} gives the key `{key}` more than once; give each key once"
                ),
            });
            continue;
        }
        let long = entries.iter().find_map(|(key, value)| match value {
            Value::String(text) if text.len() as u64 > options.max_field_bytes => {
                Some((key, text.len()))
            }
            _ => None,
        });
        if let Some((key, length)) = long {
            roster.errors.push(Issue {
                line,
                column: Some(key.clone()),
                value: None,
                message: format!(
                    "the value is {length} bytes long, more than --max-field-bytes {}",
                    options.max_field_bytes
                ),
            });
            continue;
        }
        let mut found: [Option<(&str, Cell<'_>, usize)>; 4] = [None; 4];
        let mut duplicate = None;
        for (key, value) in entries {
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
    fn missing_columns_list_the_accepted_aliases_the_headers_found_and_the_delimiter() {
        let r = csv("agent,competence,proficiency\n1001,Billing,5\n");
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, 1);
        assert_eq!(
            r.errors[0].message,
            "missing the skill column (name it `skill`, `skillId`, `skillName`); any case; spaces, `_` and `-` ignored. \
             The header, split at `,`, has `agent`, `competence`, `proficiency`"
        );
        assert_eq!(r.total_rows, 0);

        // Several missing columns are one error, not one each.
        let r = csv("Agent|Skill|Level\n1001|5|3\n");
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        assert!(
            r.errors[0].message.starts_with(
                "missing the agent column (name it `agent`, `agentId`, `userId`, `user`, `userName`, `email`, `emailAddress`, `mail`) and the skill column"
            ),
            "{}",
            r.errors[0]
        );
        assert!(
            r.errors[0]
                .message
                .ends_with("The header, split at `,`, has `Agent|Skill|Level`"),
            "{}",
            r.errors[0]
        );
    }

    #[test]
    fn headers_ignore_case_spaces_underscores_and_hyphens() {
        for header in [
            "Agent ID,Skill Name,Proficiency",
            "agent_id,skill_id,proficiency_level",
            "E-mail,SKILL-NAME,Level",
            "Email Address,Skill,Proficiency",
            "User Name,skill name,LEVEL",
        ] {
            let r = csv(&format!("{header}\njane@acme.example,Sales,3\n"));
            assert!(r.errors.is_empty(), "{header}: {:?}", r.errors);
            assert_eq!(r.rows.len(), 1, "{header}");
        }
    }

    #[test]
    fn the_delimiter_is_sniffed_from_the_header_semicolon_or_tab() {
        let r = csv("Agent ID;Skill Name;Proficiency\n1001;Billing EN;5\n1002;112233;6\n");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows[0].skill, SkillSpec::Name("Billing EN".into()));

        let r = csv("agent\tskill\tproficiency\n1001\t112233\t5\n");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.rows.len(), 1);

        // A comma inside a semicolon roster's note stays in the note.
        let r = csv("agent;skill;proficiency;note\n1001;5;3;a, b\n");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
    }

    #[test]
    fn an_excel_sep_line_is_honoured_and_skipped_and_line_numbers_stay_physical() {
        let r = csv(
            "sep=;\r\nAgent ID;Skill Name;Proficiency\r\n1001;Sales;5\r\n1002;Sales;expert\r\n",
        );
        assert_eq!(r.rows.len(), 1, "{:?}", r.errors);
        assert_eq!(r.rows[0].line, 3);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, 4);

        let bad_header = csv("sep=;\nagent;skil;proficiency\n");
        assert_eq!(bad_header.errors[0].line, 2);
        assert!(
            bad_header.errors[0].message.contains("split at `;`"),
            "{}",
            bad_header.errors[0]
        );
    }

    #[test]
    fn the_delimiter_option_wins_over_sniffing_and_the_sep_line() {
        let options = ReadOptions {
            delimiter: Some(Delimiter::Comma),
            ..ReadOptions::default()
        };
        let input = Input::from_bytes(
            Source::Stdin,
            Format::Csv,
            "sep=;\nagent,skill,proficiency,note\n1001,5,3,x;y;z;w\n",
        )
        .with_options(options);
        let r = parse(&input, &Levels::default());
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.rows[0].line, 3);

        let tab = ReadOptions {
            delimiter: Some(Delimiter::Tab),
            ..ReadOptions::default()
        };
        let input = Input::from_bytes(Source::Stdin, Format::Csv, "agent,skill,proficiency\n")
            .with_options(tab);
        let r = parse(&input, &Levels::default());
        assert!(
            r.errors[0].message.contains("split at tab"),
            "{}",
            r.errors[0]
        );
    }

    #[test]
    fn an_unclosed_quote_running_to_the_end_is_an_error_naming_the_line_it_opened() {
        // What the review found: `validate` said "1 row, valid".
        let r = csv("agent,skill,proficiency,notes\n\
             1001,112233,5,\"started training\n\
             1002,112233,3,fine\n\
             1003,445566,4,\n");
        assert!(r.rows.is_empty(), "{:?}", r.rows);
        assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
        let unclosed = r
            .errors
            .iter()
            .find(|e| e.message.contains("never closed"))
            .expect("the unclosed quote is reported");
        assert_eq!(unclosed.line, 2);
        assert_eq!(
            unclosed.message,
            "a quoted field opens on line 2 and is never closed, so lines 2-4 were read as one field; close the quote"
        );

        // Even when what it swallowed does not look like rows.
        let r = csv("agent,skill,proficiency,notes\n1001,112233,5,\"a note\nthat goes on\n");
        assert!(r.rows.is_empty());
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, 2);
        assert!(
            r.errors[0].message.contains("opens on line 2"),
            "{}",
            r.errors[0]
        );

        // And in the header.
        let r = csv("agent,skill,\"proficiency\n1001,5,3\n");
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        assert!(
            r.errors[0].message.contains("never closed"),
            "{}",
            r.errors[0]
        );
    }

    #[test]
    fn a_quoted_field_that_swallows_a_row_is_an_error_naming_both_lines() {
        let r = csv("agent,skill,proficiency,notes\n\
             1001,112233,5,\"oops\n\
             1002,112233,3,\"\"ok\n\
             1003,445566,4,\"\n");
        assert_eq!(r.total_rows, 1);
        assert!(r.rows.is_empty());
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        assert_eq!(r.errors[0].line, 2);
        assert_eq!(r.errors[0].column.as_deref(), Some("notes"));
        assert!(
            r.errors[0].message.starts_with(
                "the quoted field that opens on line 2 runs on to line 3, which reads as a roster row (`1002,112233,3,\"ok`)"
            ),
            "{}",
            r.errors[0]
        );
        assert!(
            r.errors[0]
                .message
                .ends_with("write the note without a bare line break"),
            "{}",
            r.errors[0]
        );
    }

    #[test]
    fn multi_line_notes_that_do_not_look_like_rows_stay_valid() {
        let r = csv("agent,skill,proficiency,notes\n\
             1001,112233,5,\"Back from leave.\nCall 1001 on Monday,\n5 calls, 3 chats\"\n\
             1002,112233,3,\n");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let lines: Vec<u64> = r.rows.iter().map(|row| row.line).collect();
        assert_eq!(lines, [2, 5]);
    }

    #[test]
    fn one_leading_apostrophe_is_stripped_from_the_columns_read() {
        let r = csv("agent,skill,proficiency,active,note\n'1001,'112233,'+5,'yes,'=x\n");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.rows[0].agent, "1001".parse().unwrap());
        assert_eq!(r.rows[0].skill, "112233".parse().unwrap());
        assert_eq!(r.rows[0].target, set(5, Some(true)));
        let r = csv("agent,skill,proficiency\n1001,''Til Midnight,5\n");
        assert_eq!(r.rows[0].skill, SkillSpec::Name("'Til Midnight".into()));
    }

    #[test]
    fn a_field_longer_than_the_cap_is_an_error_with_line_and_column() {
        let options = ReadOptions {
            max_field_bytes: 16,
            ..ReadOptions::default()
        };
        let text = "agent,skill,proficiency,notes\n1001,5,3,short\n1002,5,3,a note longer than sixteen bytes\n";
        let r = parse(
            &Input::from_bytes(Source::Stdin, Format::Csv, text).with_options(options),
            &Levels::default(),
        );
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, 3);
        assert_eq!(r.errors[0].column.as_deref(), Some("notes"));
        assert!(
            r.errors[0]
                .message
                .starts_with("the field is 32 bytes long, more than --max-field-bytes 16"),
            "{}",
            r.errors[0]
        );

        let json = r#"[{"agent": 1001, "skill": 5, "proficiency": 3, "note": "a note longer than sixteen bytes"}]"#;
        let r = parse(
            &Input::from_bytes(Source::Stdin, Format::Json, json).with_options(options),
            &Levels::default(),
        );
        assert_eq!(r.errors.len(), 1);
        assert_eq!(
            (r.errors[0].line, r.errors[0].column.as_deref()),
            (1, Some("note"))
        );
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

    fn utf16(text: &str, little_endian: bool) -> Vec<u8> {
        let mut bytes = if little_endian {
            vec![0xFF, 0xFE]
        } else {
            vec![0xFE, 0xFF]
        };
        for unit in text.encode_utf16() {
            let pair = if little_endian {
                unit.to_le_bytes()
            } else {
                unit.to_be_bytes()
            };
            bytes.extend_from_slice(&pair);
        }
        bytes
    }

    #[test]
    fn utf16_with_a_bom_is_decoded_with_its_line_numbers() {
        // Excel's "Unicode Text": UTF-16LE, tab-delimited, CRLF.
        let text = "Agent ID\tSkill Name\tProficiency\r\n1001\tFacturación\t5\r\n\r\n1002\t112233\texpert\r\n";
        for little_endian in [true, false] {
            let input = Input::from_bytes(Source::Stdin, Format::Csv, utf16(text, little_endian));
            let r = parse(&input, &Levels::default());
            assert_eq!(r.rows.len(), 1, "{:?}", r.errors);
            assert_eq!(r.rows[0].skill, SkillSpec::Name("Facturación".into()));
            assert_eq!(r.errors.len(), 1);
            assert_eq!(r.errors[0].line, 4);
            assert_eq!(r.errors[0].value.as_deref(), Some("expert"));

            // Failed rows quote the decoded cells of the physical line.
            let original = original_rows(&input, &[4].into_iter().collect());
            assert_eq!(original.header, ["Agent ID", "Skill Name", "Proficiency"]);
            assert_eq!(
                original.rows,
                [(
                    4,
                    vec!["1002".to_owned(), "112233".to_owned(), "expert".to_owned()]
                )]
            );
        }
        let r = parse(
            &Input::from_bytes(Source::Stdin, Format::Csv, b"\xff\xfea\0b".to_vec()),
            &Levels::default(),
        );
        assert!(
            r.errors[0].message.contains("not valid UTF-16LE"),
            "{}",
            r.errors[0]
        );
    }

    #[test]
    fn windows_1252_is_decoded_only_when_asked_for() {
        let bytes = b"agent;skill;proficiency\n1001;Facturaci\xf3n;5\n".to_vec();
        let r = parse(
            &Input::from_bytes(Source::Stdin, Format::Csv, bytes.clone()),
            &Levels::default(),
        );
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, 2);
        assert!(
            r.errors[0].message.contains("--encoding windows-1252"),
            "{}",
            r.errors[0]
        );

        let options = ReadOptions {
            encoding: Encoding::Windows1252,
            ..ReadOptions::default()
        };
        let input = Input::from_bytes(Source::Stdin, Format::Csv, bytes).with_options(options);
        let r = parse(&input, &Levels::default());
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.rows[0].skill, SkillSpec::Name("Facturación".into()));
        let original = original_rows(&input, &[2].into_iter().collect());
        assert_eq!(original.rows[0].1[1], "Facturación");
    }

    #[test]
    fn reading_stops_past_the_cap() {
        assert!(read_limited(&b"0123456789"[..], 10, 0).is_ok());
        assert!(matches!(
            read_limited(&b"0123456789A"[..], 10, 0),
            Err(ReadFailure::TooLarge)
        ));
        // An endless stream is cut off, not read to the end.
        assert!(matches!(
            read_limited(std::io::repeat(0), 1 << 20, 0),
            Err(ReadFailure::TooLarge)
        ));
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
    fn a_json_key_given_twice_is_an_error_naming_the_item_and_key() {
        let r = json(
            r#"[{"agent": 1001, "skill": 5, "proficiency": 3},
                {"agent": 1001, "skill": 5, "proficiency": 3, "skill": 6}]"#,
        );
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, 2);
        assert_eq!(r.errors[0].column.as_deref(), Some("skill"));
        assert_eq!(
            r.errors[0].message,
            "item 2 gives the key `skill` more than once; give each key once"
        );
    }

    #[test]
    fn a_skill_of_2_pow_64_is_an_invalid_skill_id_as_text_and_as_json_number() {
        let expected =
            "not a valid skillId: a skillId is a whole number from 1 to 18446744073709551615";
        let r = csv("agent,skill,proficiency\n1001,18446744073709551616,5\n");
        assert!(r.rows.is_empty());
        assert_eq!(r.errors[0].message, expected);
        let r = json(r#"[{"agent": 1001, "skill": 18446744073709551616, "proficiency": 5}]"#);
        assert!(r.rows.is_empty(), "{:?}", r.rows);
        assert_eq!(r.errors[0].column.as_deref(), Some("skill"));
        assert_eq!(r.errors[0].message, expected);
        assert_eq!(r.errors[0].value.as_deref(), Some("1.8446744073709552e+19"));
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
