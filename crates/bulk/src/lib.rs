//! CSV files of the directory, both ways: rows into the JSON records the service takes, and
//! records into rows. Headers follow CUCM BAT where the field exists (`USER ID`, `MAC ADDRESS`,
//! `DIRECTORY NUMBER 1`, …); case, spacing and underscores in headers do not matter; UTF-8
//! with or without a BOM. Every problem of a row is a [`RowError`] with its line and column;
//! problems of the header line are a [`FileError`]. Pure: no database, no service.
#![forbid(unsafe_code)]

mod columns;

pub use columns::{Column, Ty};

use serde_json::{Map, Value};
use std::io::{Read, Write};

/// The kinds of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Users,
    Phones,
    DeviceProfiles,
    Lines,
    VoicemailSubscribers,
    AppProfiles,
    UserProfiles,
    UniversalDeviceTemplates,
    UniversalLineTemplates,
    DialRules,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Users,
        Kind::Phones,
        Kind::DeviceProfiles,
        Kind::Lines,
        Kind::VoicemailSubscribers,
        Kind::AppProfiles,
        Kind::UserProfiles,
        Kind::UniversalDeviceTemplates,
        Kind::UniversalLineTemplates,
        Kind::DialRules,
    ];

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The name used by the CLI and the API (`users`, `device-profiles`, …).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Users => "users",
            Kind::Phones => "phones",
            Kind::DeviceProfiles => "device-profiles",
            Kind::Lines => "lines",
            Kind::VoicemailSubscribers => "voicemail-subscribers",
            Kind::AppProfiles => "app-profiles",
            Kind::UserProfiles => "user-profiles",
            Kind::UniversalDeviceTemplates => "universal-device-templates",
            Kind::UniversalLineTemplates => "universal-line-templates",
            Kind::DialRules => "dial-rules",
        }
    }

    /// Every column this kind of file may have.
    pub fn columns(self) -> &'static [Column] {
        columns::of(self)
    }

    /// The columns that name the record (`USER ID`; a phone by `MAC ADDRESS` or, for a soft
    /// phone, `DEVICE NAME`): a file has at least one, a row fills at least one.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Users | Kind::AppProfiles => &["USER ID"],
            Kind::Phones => &["MAC ADDRESS", "DEVICE NAME"],
            Kind::DeviceProfiles => &["DEVICE PROFILE NAME"],
            Kind::Lines => &["DIRECTORY NUMBER"],
            Kind::VoicemailSubscribers => &["ALIAS"],
            Kind::UserProfiles
            | Kind::UniversalDeviceTemplates
            | Kind::UniversalLineTemplates
            | Kind::DialRules => &["NAME"],
        }
    }
}

/// A problem with a row: its line in the file (from 1, the header being line 1), the column
/// as the file names it, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// A problem with the file as a whole (its header line, or its bytes).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty: its first line must name the columns ({0})")]
    Empty(String),
    #[error("column {column} of the header: `{header}` is not a column of a {kind} file; the columns are: {known}")]
    UnknownColumn {
        column: usize,
        header: String,
        kind: &'static str,
        known: String,
    },
    #[error("the header names `{0}` twice")]
    Duplicate(String),
    #[error("the header has no {0} column: every row needs one")]
    MissingKey(String),
    #[error("line {line}: {reason}")]
    Csv { line: u64, reason: String },
    #[error("writing the file: {0}")]
    Write(String),
}

/// Upper case, one space between words, `_` taken as a space: `Mac_Address ` → `MAC ADDRESS`.
pub fn normalize_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}')
        .replace('_', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// A header cell bound to its column (and index, for `DIRECTORY NUMBER 3`).
#[derive(Debug, Clone, Copy)]
struct Bound {
    column: &'static Column,
    n: Option<usize>,
}

/// The column of a normalised header (`DIRECTORY NUMBER 3`).
fn bind(kind: Kind, h: &str) -> Option<Bound> {
    for c in kind.columns() {
        match c.header.strip_suffix(" {n}") {
            Some(stem) => {
                if let Some(rest) = h.strip_prefix(stem).and_then(|r| r.strip_prefix(' ')) {
                    if let Ok(n) = rest.parse::<usize>() {
                        if (1..=c.max_n).contains(&n) {
                            return Some(Bound {
                                column: c,
                                n: Some(n),
                            });
                        }
                    }
                }
            }
            None if c.header == h => return Some(Bound { column: c, n: None }),
            None => {}
        }
    }
    None
}

/// One row read: its line and the record it makes, or every problem it has.
#[derive(Debug)]
pub struct Row {
    pub line: u64,
    /// The value of the key column, for reports (`jsmith`, `SEP00562B000001`).
    pub key: String,
    pub record: Result<Map<String, Value>, Vec<RowError>>,
}

/// Where the line ends of the input are. The csv crate's own line numbers skip blank lines and
/// miscount `\r\n`; a report must point at the line an editor shows.
#[derive(Debug, Default)]
struct Ends {
    /// Offsets of `\n`.
    newlines: Vec<u64>,
    /// Offsets of `\r` and `\n` together, in order.
    terminators: Vec<u64>,
    read: u64,
}

impl Ends {
    /// The line (from 1) of the record the csv crate says starts at byte `pos`: it may point at
    /// the terminators before it (a blank line, the `\n` of `\r\n`).
    fn line_of(&self, pos: u64) -> u64 {
        let mut line = 1 + self.newlines.partition_point(|&o| o < pos) as u64;
        let mut i = self.terminators.partition_point(|&o| o < pos);
        let mut at = pos;
        while self.terminators.get(i) == Some(&at) {
            if self.newlines.binary_search(&at).is_ok() {
                line += 1;
            }
            at += 1;
            i += 1;
        }
        line
    }
}

struct Counting<R> {
    inner: R,
    ends: std::sync::Arc<std::sync::Mutex<Ends>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut e = self.ends.lock().expect("line ends");
        let base = e.read;
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' || *b == b'\r' {
                e.terminators.push(base + i as u64);
                if *b == b'\n' {
                    e.newlines.push(base + i as u64);
                }
            }
        }
        e.read += n as u64;
        Ok(n)
    }
}

/// Reads a file of one kind, row by row.
pub struct Reader<R: Read> {
    kind: Kind,
    csv: csv::Reader<Counting<R>>,
    ends: std::sync::Arc<std::sync::Mutex<Ends>>,
    bound: Vec<Bound>,
    headers: Vec<String>,
    key_at: Vec<usize>,
    record: csv::StringRecord,
}

impl<R: Read> std::fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("kind", &self.kind)
            .field("headers", &self.headers)
            .finish()
    }
}

/// Opens a file of `kind`: reads and checks its header line.
pub fn reader<R: Read>(kind: Kind, input: R) -> Result<Reader<R>, FileError> {
    let ends = std::sync::Arc::new(std::sync::Mutex::new(Ends::default()));
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(Counting {
            inner: input,
            ends: ends.clone(),
        });
    let headers: Vec<String> = csv
        .headers()
        .map_err(|e| csv_error(&e))?
        .iter()
        .map(str::to_string)
        .collect();
    if headers
        .iter()
        .all(|h| h.trim_start_matches('\u{feff}').trim().is_empty())
    {
        return Err(FileError::Empty(known(kind)));
    }
    let normalized: Vec<String> = headers.iter().map(|h| normalize_header(h)).collect();
    let mut bound = Vec::with_capacity(headers.len());
    let mut seen = std::collections::HashSet::new();
    for (i, h) in normalized.iter().enumerate() {
        let b = bind(kind, h).ok_or_else(|| FileError::UnknownColumn {
            column: i + 1,
            header: headers[i].trim_start_matches('\u{feff}').to_string(),
            kind: kind.name(),
            known: known(kind),
        })?;
        if !seen.insert(h) {
            return Err(FileError::Duplicate(h.clone()));
        }
        bound.push(b);
    }
    let key_at: Vec<usize> = bound
        .iter()
        .enumerate()
        .filter(|(_, b)| b.n.is_none() && kind.keys().contains(&b.column.header))
        .map(|(i, _)| i)
        .collect();
    if key_at.is_empty() {
        return Err(FileError::MissingKey(kind.keys().join(" or ")));
    }
    Ok(Reader {
        kind,
        csv,
        ends,
        bound,
        headers: normalized,
        key_at,
        record: csv::StringRecord::new(),
    })
}

fn known(kind: Kind) -> String {
    kind.columns()
        .iter()
        .map(|c| c.header.replace("{n}", "N"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn csv_error(e: &csv::Error) -> FileError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    let reason = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => {
            "the file is not UTF-8: save it as UTF-8 (with or without BOM)".to_string()
        }
        _ => e.to_string(),
    };
    FileError::Csv { line, reason }
}

impl<R: Read> Reader<R> {
    pub fn kind(&self) -> Kind {
        self.kind
    }

    fn line_at(&self, pos: Option<&csv::Position>) -> u64 {
        pos.map(|p| self.ends.lock().expect("line ends").line_of(p.byte()))
            .unwrap_or(0)
    }

    /// The header as read, normalised (`MAC ADDRESS`, `DIRECTORY NUMBER 1`, …).
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The next row; `None` at the end. A row the CSV layer cannot read (bad UTF-8, broken
    /// quoting) is a row with an error, and reading goes on.
    pub fn next_row(&mut self) -> Option<Row> {
        loop {
            match self.csv.read_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) => {
                    let line = self.line_at(self.record.position());
                    // Blank lines (BAT files often end with some) are no rows.
                    if self.record.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    return Some(self.convert(line));
                }
                Err(e) => {
                    let line = self.line_at(e.position());
                    let FileError::Csv { reason, .. } = csv_error(&e) else {
                        unreachable!("csv_error makes Csv errors")
                    };
                    return Some(Row {
                        line,
                        key: String::new(),
                        record: Err(vec![RowError {
                            line,
                            column: None,
                            reason,
                        }]),
                    });
                }
            }
        }
    }

    fn convert(&self, line: u64) -> Row {
        let key = self
            .key_at
            .iter()
            .map(|&i| self.record.get(i).unwrap_or("").trim())
            .find(|k| !k.is_empty())
            .unwrap_or("")
            .to_string();
        let mut errors = Vec::new();
        if self.record.len() > self.bound.len() {
            errors.push(RowError {
                line,
                column: None,
                reason: format!(
                    "{} fields, but the header names {} columns",
                    self.record.len(),
                    self.bound.len()
                ),
            });
        }
        if key.is_empty() {
            errors.push(RowError {
                line,
                column: Some(self.kind.keys().join(" or ")),
                reason: "is empty: every row needs it".into(),
            });
        }
        let mut out = Map::new();
        for (i, b) in self.bound.iter().enumerate() {
            let raw = self.record.get(i).unwrap_or("").trim();
            if raw.is_empty() {
                continue;
            }
            match b.column.ty.parse(raw) {
                Ok(v) => columns::set(&mut out, b.column, b.n, v),
                Err(reason) => errors.push(RowError {
                    line,
                    column: Some(self.headers[i].clone()),
                    reason,
                }),
            }
        }
        columns::finish(self.kind, &mut out);
        Row {
            line,
            key,
            record: if errors.is_empty() {
                Ok(out)
            } else {
                Err(errors)
            },
        }
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Row;
    fn next(&mut self) -> Option<Row> {
        self.next_row()
    }
}

/// Row errors as a CSV file: `LINE,COLUMN,REASON`, one row each.
pub fn write_errors(errors: &[RowError]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut rows = vec![["LINE".to_string(), "COLUMN".into(), "REASON".into()]];
    rows.extend(errors.iter().map(|e| {
        [
            e.line.to_string(),
            e.column.clone().unwrap_or_default(),
            e.reason.clone(),
        ]
    }));
    for r in rows {
        w.write_record(&r).expect("writing to memory cannot fail");
    }
    w.into_inner().expect("writing to memory cannot fail")
}

/// Writes `records` (as the API answers them) as a file of `kind`: the header names every
/// column (indexed ones up to the highest index any record uses); secrets are never written.
pub fn write<W: Write>(kind: Kind, records: &[Value], out: W) -> Result<(), FileError> {
    let mut cols: Vec<Bound> = Vec::new();
    for c in kind.columns() {
        if c.secret {
            continue;
        }
        if c.header.ends_with("{n}") {
            let n = records
                .iter()
                .map(|r| columns::highest(r, c))
                .max()
                .unwrap_or(0)
                .max(1);
            cols.extend((1..=n).map(|n| Bound {
                column: c,
                n: Some(n),
            }));
        } else {
            cols.push(Bound { column: c, n: None });
        }
    }
    // Indexed columns side by side per index, as BAT writes them (DIRECTORY NUMBER 1, DISPLAY 1,
    // …, DIRECTORY NUMBER 2, …).
    cols.sort_by_key(|b| b.n.unwrap_or(0));
    let mut w = csv::Writer::from_writer(out);
    let header: Vec<String> = cols
        .iter()
        .map(|b| match b.n {
            Some(n) => b.column.header.replace("{n}", &n.to_string()),
            None => b.column.header.to_string(),
        })
        .collect();
    w.write_record(&header)
        .map_err(|e| FileError::Write(e.to_string()))?;
    let mut row: Vec<String> = Vec::with_capacity(cols.len());
    for r in records {
        row.clear();
        for b in &cols {
            row.push(columns::get(r, b.column, b.n));
        }
        w.write_record(&row)
            .map_err(|e| FileError::Write(e.to_string()))?;
    }
    w.flush().map_err(|e| FileError::Write(e.to_string()))
}

/// The column of a file of `kind` that holds the record field `field` as the service names it
/// (`mac`, `lines[1].label`, `capabilities.presence`), with its index resolved from the row's
/// `record` (`lines[1]` on button 3 is `LINE TEXT LABEL 3`). `None` when no column does.
pub fn column_for(kind: Kind, field: &str, record: &Map<String, Value>) -> Option<String> {
    // `lines[1].label` → list `lines`, entry 1, `label`.
    if let Some((list, rest)) = field.split_once('[') {
        let (idx, sub) = rest.split_once(']')?;
        let idx: usize = idx.parse().ok()?;
        let sub = sub.strip_prefix('.').unwrap_or("");
        let mut fallback = None;
        for c in kind.columns() {
            let Some((l, f)) = c.path.split_once(".{n}") else {
                continue;
            };
            if l != list {
                continue;
            }
            let f = f.strip_prefix('.').unwrap_or("");
            let n = match c.pos {
                Some(p) => record.get(list)?.get(idx)?.get(p)?.as_u64()? as usize,
                None => idx + 1,
            };
            let header = c.header.replace("{n}", &n.to_string());
            if f == sub {
                return Some(header);
            }
            // The index field itself (`button`) or a field no column has: the entry's first.
            fallback.get_or_insert(header);
        }
        return fallback;
    }
    kind.columns()
        .iter()
        .filter(|c| !c.header.ends_with("{n}"))
        .find(|c| c.path == field || c.path.starts_with(&format!("{field}.")))
        .map(|c| c.header.to_string())
}
