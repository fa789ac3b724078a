//! Scenario files: reads a YAML scenario (`target`, `duration`, `regions`,
//! `scenarios`, `thresholds`, ...) and turns it into a validated, typed [`Scenario`],
//! or into one short [`ScenarioError`] line naming the file, the line and the key.
//!
//! This module owns the file format, its defaults (k6's where k6 has one) and every
//! check that can be made without running anything: unknown keys are errors so a
//! typo never silently runs a different test. It does not plan workers, split rates
//! across regions, derive VU counts, or talk to AWS; threshold expressions
//! themselves are parsed by `threshold`.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use sls_load_function::job::{Region, RequestSpec};
use thiserror::Error;

use crate::threshold::{self, Threshold};

/// Per-request timeout when the file sets none (k6's default).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Requests per second one worker is planned for when the file sets no `worker_rate`.
pub const DEFAULT_WORKER_RATE: f64 = 1000.0;
/// The period `rate` is counted over when a scenario sets no `time_unit` (k6's default).
pub const DEFAULT_TIME_UNIT: Duration = Duration::from_secs(1);
/// The load zone used when the file sets no `regions`.
pub const DEFAULT_REGION: &str = "us-east-1";

/// A validated scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file it was read from (as given, for messages).
    pub file: PathBuf,
    /// Base URL, `http://` or `https://`, without a path or trailing slash.
    pub target: String,
    /// How long load is generated; > 0.
    pub duration: Duration,
    /// Load zones with their weights, in file order; weights are > 0 and not normalised.
    pub regions: Vec<(Region, f64)>,
    /// Per-request timeout; > 0.
    pub request_timeout: Duration,
    /// Maximum requests per second one worker is planned for; > 0.
    pub worker_rate: f64,
    /// The scenarios, in file order; at least one.
    pub scenarios: Vec<ScenarioDef>,
    /// Thresholds in file order (metric keys in order, then expressions in order).
    pub thresholds: Vec<Threshold>,
}

/// One named scenario of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioDef {
    /// The name, `[A-Za-z0-9_.-]+`, unique within the file.
    pub name: String,
    /// How iterations are started.
    pub executor: ExecutorDef,
    /// VUs (connections) opened before the start, summed over all workers; `None`
    /// leaves it to the planner.
    pub pre_allocated_vus: Option<u32>,
    /// Upper bound on VUs, summed over all workers; >= `pre_allocated_vus` when both
    /// are given. `None` leaves it to the planner.
    pub max_vus: Option<u32>,
    /// The requests of one iteration, in order; at least one, names unique.
    pub requests: Vec<RequestSpec>,
}

/// How a scenario starts iterations (k6 executors; only one is supported so far).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExecutorDef {
    /// `constant-arrival-rate`: `rate` iterations every `time_unit`, summed over all
    /// regions, however fast the target answers (open model).
    ConstantArrivalRate {
        /// Iterations per `time_unit`; finite and > 0.
        rate: f64,
        /// The period `rate` counts over; > 0.
        time_unit: Duration,
    },
}

impl ExecutorDef {
    /// The total arrival rate in iterations per second, over all regions.
    pub fn iterations_per_second(&self) -> f64 {
        match self {
            ExecutorDef::ConstantArrivalRate { rate, time_unit } => rate / time_unit.as_secs_f64(),
        }
    }
}

/// Why a scenario file was rejected, as one line:
/// `{file}:{line}: {key}: {message}`, leaving out the line or key when unknown.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", self.one_line())]
pub struct ScenarioError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line of the offending value, when known.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `scenarios.browse.rate` or `scenarios.browse.requests[0].url`.
    pub key: Option<String>,
    /// What is wrong, one short line.
    pub message: String,
}

impl ScenarioError {
    fn new(file: &Path, line: Option<usize>, key: Option<String>, message: &str) -> Self {
        ScenarioError {
            file: file.to_owned(),
            line,
            key,
            message: one_line(message, 300),
        }
    }

    fn one_line(&self) -> String {
        let mut out = self.file.display().to_string();
        if let Some(line) = self.line {
            out.push_str(&format!(":{line}"));
        }
        if let Some(key) = &self.key {
            out.push_str(&format!(": {key}"));
        }
        out.push_str(&format!(": {}", self.message));
        one_line(&out, usize::MAX)
    }
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read(path)
        .map_err(|e| ScenarioError::new(path, None, None, &format!("cannot read file: {e}")))?;
    parse(path, &text)
}

/// Validates scenario file contents; `path` is only used in messages and in
/// [`Scenario::file`].
pub fn parse(path: &Path, text: &[u8]) -> Result<Scenario, ScenarioError> {
    let fail = |line: Option<usize>, message: &str| ScenarioError::new(path, line, None, message);
    let text = std::str::from_utf8(text).map_err(|e| {
        let valid = &text[..e.valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let byte = text.get(e.valid_up_to()).copied().unwrap_or(0);
        fail(
            Some(line),
            &format!("file is not UTF-8 text (byte 0x{byte:02x}); expected a YAML scenario file"),
        )
    })?;
    if let Some((index, c)) = text
        .char_indices()
        .find(|&(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(fail(
            Some(line_at(text, index)),
            &format!(
                "not a YAML scenario file: it contains binary data (control character U+{:04X})",
                u32::from(c)
            ),
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(first_line) = first_content_line(text) else {
        return Err(fail(
            None,
            "file is empty; expected a scenario with `target`, `duration` and `scenarios`",
        ));
    };

    // Pass 1: plain YAML, to report syntax errors and duplicate keys before any
    // scenario rule, and to check the top level is a mapping.
    let value: yaml_serde::Value =
        serde_path_to_error::deserialize(yaml_serde::Deserializer::from_str(text))
            .map_err(|e| from_yaml(path, text, e, Pass::Syntax))?;
    let found = match &value {
        yaml_serde::Value::Mapping(_) => None,
        yaml_serde::Value::Null => Some("empty (null)"),
        yaml_serde::Value::Bool(_) => Some("a boolean"),
        yaml_serde::Value::Number(_) => Some("a number"),
        yaml_serde::Value::String(_) => Some("a string"),
        yaml_serde::Value::Sequence(_) => Some("a list"),
        yaml_serde::Value::Tagged(_) => Some("a tagged value"),
    };
    if let Some(found) = found {
        return Err(fail(
            Some(first_line),
            &format!(
                "not a YAML scenario file: the top level is {found}; expected a mapping \
                 with `target`, `duration` and `scenarios`"
            ),
        ));
    }

    // Pass 2: the typed shape; leaf values are validated while deserializing so their
    // errors carry the parser's line.
    let raw: RawFile = serde_path_to_error::deserialize(yaml_serde::Deserializer::from_str(text))
        .map_err(|e| from_yaml(path, text, e, Pass::Typed))?;
    build(path, text, raw)
}

// ---------------------------------------------------------------------------------
// Error plumbing

/// Joins the pieces between line breaks (and other control characters) with single
/// spaces, trimming each piece, and shortens to `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let out: Vec<&str> = text
        .split(|c: char| c.is_control())
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect();
    let out = out.join(" ");
    if out.chars().count() > max {
        let mut short: String = out.chars().take(max.saturating_sub(1)).collect();
        short.push('…');
        short
    } else {
        out
    }
}

/// User text as shown inside messages: control characters escaped (so it stays on
/// one line and spaces stay visible) and at most 60 characters.
fn shown(text: &str) -> String {
    const MAX: usize = 60;
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX - 1 && text.chars().nth(MAX).is_some() {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Turns a parser error into a [`ScenarioError`]: line from the parser, key from the
/// tracked path, message without yaml_serde's own path prefix and position suffix.
fn from_yaml(
    file: &Path,
    text: &str,
    error: serde_path_to_error::Error<yaml_serde::Error>,
    pass: Pass,
) -> ScenarioError {
    // `?` stands for a key the parser never finished reading.
    let mut path = error.path().to_string();
    if let Some(at) = path.find('?') {
        path.truncate(at);
        path = path.trim_end_matches('.').to_owned();
    }
    let path = (!path.is_empty() && path != ".").then_some(path);
    let inner = error.inner();
    let location = inner.location();
    let mut line = location.as_ref().map(|l| l.line());
    let mut message = strip_positions(&inner.to_string());
    // yaml_serde prefixes messages with its own idea of the path, which is the
    // tracked path or one of its ancestors.
    let mut cut = path.as_deref().unwrap_or_default();
    while !cut.is_empty() {
        if let Some(rest) = message.strip_prefix(&format!("{cut}: ")) {
            message = rest.to_owned();
            break;
        }
        cut = &cut[..cut.rfind(['.', '[']).unwrap_or(0)];
    }

    let key = match pass {
        Pass::Syntax => {
            let duplicate = message
                .strip_prefix("duplicate entry with key \"")
                .and_then(|m| m.strip_suffix('"'))
                .map(str::to_owned);
            match duplicate {
                Some(dup) => {
                    if let Some(at) = &location {
                        line = duplicate_line(text, at.line(), at.column(), &dup).or(line);
                    }
                    message = format!("duplicate key `{dup}`; each key may appear only once");
                    Some(match path {
                        Some(parent) => format!("{parent}.{dup}"),
                        None => dup,
                    })
                }
                // Where the parser gave up says more than the key it was in.
                None => None,
            }
        }
        Pass::Typed => path,
    };
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        message = format!("missing required key `{field}`");
        if key.is_none() {
            // The top-level mapping starts on line 1; that line says nothing.
            line = None;
        }
    }
    if let Some(found) = message.strip_prefix("invalid type: ") {
        message = format!("wrong type: {}", found.replace("unit value", "null"));
    }
    if message == "EOF while parsing a value" {
        message = "unexpected end of file".into();
    }
    let prefix = match pass {
        Pass::Syntax => "invalid YAML: ",
        Pass::Typed => "",
    };
    ScenarioError::new(file, line, key, &format!("{prefix}{message}"))
}

/// Which parse an error came from: plain YAML or the scenario shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Syntax,
    Typed,
}

/// Removes every ` at line N column M` that yaml_serde appends.
fn strip_positions(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(" at line ") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + " at line ".len()..];
        let after_line = tail.trim_start_matches(|c: char| c.is_ascii_digit());
        match after_line.strip_prefix(" column ") {
            Some(col) if after_line.len() < tail.len() => {
                rest = col.trim_start_matches(|c: char| c.is_ascii_digit());
            }
            _ => {
                out.push_str(" at line ");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// 1-based line of a byte offset.
fn line_at(text: &str, index: usize) -> usize {
    text.as_bytes()[..index.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// 1-based line of the first line that is not blank, a comment or a document marker.
fn first_content_line(text: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim().trim_start_matches('\u{feff}');
            !(t.is_empty() || t.starts_with('#') || t == "---" || t == "...")
        })
        .map(|i| i + 1)
}

/// One step of a key path, for messages and for finding a key's line.
#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn render_path(path: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A significant (not blank, not comment-only) line of the file.
struct TextLine<'a> {
    number: usize,
    indent: usize,
    body: &'a str,
}

impl<'a> TextLine<'a> {
    fn is_item(&self) -> bool {
        self.body == "-" || self.body.starts_with("- ")
    }

    /// Column and text of the first key on the line, after any `- ` item markers.
    fn key(&self) -> (usize, &'a str) {
        let mut col = self.indent;
        let mut body = self.body;
        while let Some(rest) = body.strip_prefix("- ") {
            let trimmed = rest.trim_start_matches(' ');
            col += body.len() - trimmed.len();
            body = trimmed;
        }
        (col, body)
    }
}

/// If `body` starts with the mapping key `key` (plain or quoted), the text after the colon.
fn after_key<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    for quote in ["", "\"", "'"] {
        let Some(rest) = body
            .strip_prefix(quote)
            .and_then(|b| b.strip_prefix(key))
            .and_then(|b| b.strip_prefix(quote))
        else {
            continue;
        };
        let rest = rest.trim_start_matches(' ');
        if let Some(value) = rest.strip_prefix(':')
            && (value.is_empty() || value.starts_with([' ', '\t']))
        {
            return Some(value.trim());
        }
    }
    None
}

/// The significant lines of a file.
fn text_lines(text: &str) -> Vec<TextLine<'_>> {
    text.lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let body = raw.trim_start_matches(' ').trim_end();
            let body = body.trim_start_matches('\u{feff}');
            (!(body.is_empty() || body.starts_with('#') || body == "---")).then(|| TextLine {
                number: i + 1,
                indent: raw.len() - raw.trim_start_matches(' ').len(),
                body,
            })
        })
        .collect()
}

/// Line of the second `key` in the block mapping that starts at `line`:`column`
/// (1-based, as the parser reports a mapping's start).
fn duplicate_line(text: &str, line: usize, column: usize, key: &str) -> Option<usize> {
    let lines = text_lines(text);
    let start = lines.iter().position(|l| l.number == line)?;
    let col = column.checked_sub(1)?;
    let mut seen = 0;
    for (j, l) in lines.iter().enumerate().skip(start) {
        if j > start && l.indent < col {
            break;
        }
        let (c, body) = l.key();
        if c == col && after_key(body, key).is_some() {
            seen += 1;
            if seen == 2 {
                return Some(l.number);
            }
        }
    }
    None
}

/// Best-effort line of a key path in block-style YAML, for errors found after
/// deserializing. Flow-style values (`{ rate: -5 }`) report the line they start on.
fn line_of(text: &str, path: &[Seg<'_>]) -> Option<usize> {
    let lines = text_lines(text);
    let mut range = 0..lines.len();
    let mut found = None;
    for seg in path {
        let first = lines.get(range.start).filter(|_| !range.is_empty())?;
        match seg {
            Seg::Key(key) => {
                let col = first.key().0;
                let (i, value) = range.clone().find_map(|i| {
                    let (c, body) = lines[i].key();
                    (c == col)
                        .then(|| after_key(body, key))
                        .flatten()
                        .map(|v| (i, v))
                })?;
                found = Some(lines[i].number);
                if !value.is_empty() && !value.starts_with('#') {
                    // Inline (flow) value: everything below starts on this line.
                    return found;
                }
                let end = (i + 1..range.end)
                    .find(|&j| {
                        let l = &lines[j];
                        l.indent < col || (l.indent == col && !l.is_item())
                    })
                    .unwrap_or(range.end);
                range = i + 1..end;
            }
            Seg::Index(index) => {
                if !first.is_item() {
                    return None;
                }
                let starts: Vec<usize> = range
                    .clone()
                    .filter(|&j| lines[j].indent == first.indent && lines[j].is_item())
                    .collect();
                let start = *starts.get(*index)?;
                let end = starts.get(index + 1).copied().unwrap_or(range.end);
                found = Some(lines[start].number);
                if lines[start].key().1.starts_with(['{', '[']) {
                    // Flow-style item: everything below starts on this line.
                    return found;
                }
                range = start..end;
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------------
// The file's shape. Leaf checks run inside visitors so errors carry the parser's line.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(deserialize_with = "target_url")]
    target: String,
    #[serde(deserialize_with = "duration")]
    duration: Duration,
    #[serde(default)]
    regions: Option<Regions>,
    #[serde(default, deserialize_with = "optional_duration")]
    request_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "optional_positive")]
    worker_rate: Option<f64>,
    scenarios: Scenarios,
    #[serde(default)]
    thresholds: Option<Thresholds>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenarioDef {
    #[serde(deserialize_with = "executor_name")]
    executor: ExecutorKind,
    #[serde(deserialize_with = "positive")]
    rate: f64,
    #[serde(default, deserialize_with = "optional_duration")]
    time_unit: Option<Duration>,
    #[serde(default, deserialize_with = "optional_vus")]
    pre_allocated_vus: Option<u32>,
    #[serde(default, deserialize_with = "optional_max_vus")]
    max_vus: Option<u32>,
    requests: Requests,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    #[serde(deserialize_with = "request_name")]
    name: String,
    #[serde(default, deserialize_with = "optional_method")]
    method: Option<String>,
    #[serde(deserialize_with = "request_url")]
    url: String,
    #[serde(default)]
    headers: Headers,
    #[serde(default)]
    body: Option<String>,
    #[serde(default, deserialize_with = "optional_status")]
    expect_status: Option<u16>,
}

/// A string visitor (and seed) that validates and normalises with `check`.
struct Checked<F> {
    expecting: &'static str,
    check: F,
}

impl<'de, F: FnOnce(&str) -> Result<String, String>> Visitor<'de> for Checked<F> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        (self.check)(v).map_err(E::custom)
    }
}

impl<'de, F: FnOnce(&str) -> Result<String, String>> DeserializeSeed<'de> for Checked<F> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

fn checked<'de, D: Deserializer<'de>>(
    d: D,
    expecting: &'static str,
    check: fn(&str) -> Result<String, String>,
) -> Result<String, D::Error> {
    d.deserialize_str(Checked { expecting, check })
}

fn target_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a base URL like http://127.0.0.1:8080", check_target)
}

/// The executors this module can build an [`ExecutorDef`] for.
enum ExecutorKind {
    ConstantArrivalRate,
}

fn executor_name<'de, D: Deserializer<'de>>(d: D) -> Result<ExecutorKind, D::Error> {
    checked(
        d,
        "an executor name like constant-arrival-rate",
        check_executor,
    )
    .map(|_| ExecutorKind::ConstantArrivalRate)
}

fn request_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a request name", |s| check_name("request name", s))
}

fn request_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a URL path like /search?q=x", check_request_url)
}

fn optional_method<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, "an HTTP method like GET", check_method).map(Some)
}

/// Go/k6-style duration: one or more `<number><unit>` with units ns, us, µs, ms, s,
/// m, h (`500ms`, `15s`, `1m30s`, `1.5h`). No sign, no spaces.
fn parse_duration(text: &str) -> Option<Duration> {
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        let value: f64 = number.parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        nanos += value * scale;
    }
    (nanos.is_finite() && nanos < u64::MAX as f64)
        .then(|| Duration::from_nanos(nanos.round() as u64))
}

struct DurationVisitor;

fn bad_duration(text: &str) -> String {
    format!(
        "invalid duration `{}` (use e.g. 500ms, 15s, 2m, 1m30s)",
        shown(text)
    )
}

impl<'de> Visitor<'de> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration like 500ms, 15s, 2m or 1m30s")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        match parse_duration(v) {
            None => Err(E::custom(bad_duration(v))),
            Some(d) if d.is_zero() => Err(E::custom(format!("must be > 0, got `{}`", shown(v)))),
            Some(d) => Ok(d),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Err(E::custom(bad_duration(&v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        Err(E::custom(bad_duration(&v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Err(E::custom(bad_duration(&v.to_string())))
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

fn optional_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

/// A finite number > 0.
struct PositiveVisitor;

impl PositiveVisitor {
    fn check<E: de::Error>(v: f64) -> Result<f64, E> {
        if !v.is_finite() {
            Err(E::custom(format!("must be a finite number > 0, got {v}")))
        } else if v <= 0.0 {
            Err(E::custom(format!("must be > 0, got {v}")))
        } else {
            Ok(v)
        }
    }
}

impl<'de> Visitor<'de> for PositiveVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number > 0")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Self::check(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Self::check(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Self::check(v as f64)
    }
}

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_f64(PositiveVisitor)
}

fn optional_positive<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    positive(d).map(Some)
}

/// A whole number in `min..=max`.
struct RangeVisitor {
    min: u64,
    max: u64,
    expecting: &'static str,
}

impl<'de> Visitor<'de> for RangeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if (self.min..=self.max).contains(&v) {
            Ok(v)
        } else if v < self.min {
            Err(E::custom(format!("must be >= {}, got {v}", self.min)))
        } else {
            Err(E::custom(format!("must be <= {}, got {v}", self.max)))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!("must be >= {}, got {v}", self.min))),
        }
    }
}

fn optional_vus<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = d.deserialize_any(RangeVisitor {
        min: 0,
        max: u64::from(u32::MAX),
        expecting: "a whole number of VUs",
    })?;
    Ok(u32::try_from(v).ok())
}

fn optional_max_vus<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = d.deserialize_any(RangeVisitor {
        min: 1,
        max: u64::from(u32::MAX),
        expecting: "a whole number of VUs",
    })?;
    Ok(u32::try_from(v).ok())
}

fn optional_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    let v = d.deserialize_any(RangeVisitor {
        min: 100,
        max: 599,
        expecting: "an HTTP status code like 200",
    })?;
    Ok(u16::try_from(v).ok())
}

fn check_target(text: &str) -> Result<String, String> {
    let shown = shown(text);
    let usage = "expected a base URL like http://127.0.0.1:8080";
    if !(text.starts_with("http://") || text.starts_with("https://")) {
        return Err(format!("`{shown}` must start with http:// or https://"));
    }
    let uri: http::Uri = text
        .parse()
        .map_err(|e| format!("`{shown}` is not a valid URL ({e}); {usage}"))?;
    if uri.authority().is_none_or(|a| a.host().is_empty()) {
        return Err(format!("`{shown}` has no host; {usage}"));
    }
    if uri.query().is_some() || text.contains('#') || !matches!(uri.path(), "" | "/") {
        return Err(format!(
            "`{shown}` must be a base URL without path or query; put paths in request `url`s"
        ));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

const UNSUPPORTED_EXECUTORS: [&str; 6] = [
    "ramping-arrival-rate",
    "constant-vus",
    "ramping-vus",
    "per-vu-iterations",
    "shared-iterations",
    "externally-controlled",
];

fn check_executor(text: &str) -> Result<String, String> {
    const SUPPORTED: &str = "constant-arrival-rate";
    if text == SUPPORTED {
        return Ok(text.to_owned());
    }
    if UNSUPPORTED_EXECUTORS.contains(&text) {
        return Err(format!(
            "executor `{text}` is not supported yet (supported: {SUPPORTED})"
        ));
    }
    let spelled = text.to_ascii_lowercase().replace(['_', ' '], "-");
    let hint = if spelled == SUPPORTED || spelled == "constantarrivalrate" {
        format!("; did you mean `{SUPPORTED}`?")
    } else {
        format!(" (supported: {SUPPORTED})")
    };
    Err(format!("unknown executor `{}`{hint}", shown(text)))
}

fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn check_name(what: &str, text: &str) -> Result<String, String> {
    if is_name(text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "invalid {what} `{}` (use letters, digits, `_`, `.` and `-`)",
            shown(text)
        ))
    }
}

fn check_method(text: &str) -> Result<String, String> {
    // RFC 9110 token characters (and a letter, so YAML's `~` is no method).
    let token = text.chars().any(|c| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
    if token {
        Ok(text.to_ascii_uppercase())
    } else {
        Err(format!(
            "invalid HTTP method `{}`; use e.g. GET, POST, PUT, DELETE",
            shown(text)
        ))
    }
}

fn check_request_url(text: &str) -> Result<String, String> {
    let shown = shown(text);
    if text.starts_with('/') {
        let _: http::uri::PathAndQuery = text
            .parse()
            .map_err(|e| format!("`{shown}` is not a valid URL path ({e})"))?;
        if text.contains('#') {
            return Err(format!(
                "`{shown}`: a fragment (#...) is never sent; remove it"
            ));
        }
        return Ok(text.to_owned());
    }
    if text.starts_with("http://") || text.starts_with("https://") {
        let uri: http::Uri = text
            .parse()
            .map_err(|e| format!("`{shown}` is not a valid URL ({e})"))?;
        if uri.authority().is_none_or(|a| a.host().is_empty()) {
            return Err(format!("`{shown}` has no host"));
        }
        return Ok(text.to_owned());
    }
    Err(format!(
        "`{shown}` must start with `/` (relative to target) or be an absolute http(s):// URL"
    ))
}

fn check_region(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.split('-').collect();
    let lower = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase());
    let ok = match parts.as_slice() {
        [cc, area, n] => (cc.len() == 2 && lower(cc), lower(area), n),
        [cc, "gov", area, n] => (cc.len() == 2 && lower(cc), lower(area), n),
        _ => (false, false, &""),
    };
    let digits = !ok.2.is_empty() && ok.2.chars().all(|c| c.is_ascii_digit());
    if ok.0 && ok.1 && digits {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{}` does not look like an AWS region (e.g. us-east-1, eu-west-1)",
            shown(text)
        ))
    }
}

/// `regions`: `{ us-east-1: 0.5, eu-west-1: 0.5 }`, `[us-east-1, eu-west-1]` (equal
/// weights) or a single name.
struct Regions(Vec<(Region, f64)>);

struct Weight(f64);

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        positive(d).map(Weight)
    }
}

fn region_seed(seen: &HashSet<String>) -> Checked<impl FnOnce(&str) -> Result<String, String>> {
    Checked {
        expecting: "an AWS region name like us-east-1",
        check: move |s: &str| {
            let name = check_region(s)?;
            if seen.contains(&name) {
                return Err(format!("region `{name}` is listed twice"));
            }
            Ok(name)
        },
    }
}

impl<'de> Deserialize<'de> for Regions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const EMPTY: &str = "at least one region is required, e.g. [us-east-1]";
        impl<'de> Visitor<'de> for V {
            type Value = Regions;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of AWS regions or a map of region to weight")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Regions, E> {
                let name = check_region(v).map_err(E::custom)?;
                Ok(Regions(vec![(Region(name), 1.0)]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Regions, A::Error> {
                let mut seen = HashSet::new();
                let mut out = Vec::new();
                while let Some(name) = seq.next_element_seed(region_seed(&seen))? {
                    seen.insert(name.clone());
                    out.push((Region(name), 1.0));
                }
                if out.is_empty() {
                    return Err(de::Error::custom(EMPTY));
                }
                Ok(Regions(out))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Regions, A::Error> {
                let mut seen = HashSet::new();
                let mut out = Vec::new();
                while let Some(name) = map.next_key_seed(region_seed(&seen))? {
                    let Weight(weight) = map.next_value()?;
                    seen.insert(name.clone());
                    out.push((Region(name), weight));
                }
                if out.is_empty() {
                    return Err(de::Error::custom(EMPTY));
                }
                Ok(Regions(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// `scenarios`: an ordered map of name to scenario.
struct Scenarios(Vec<(String, RawScenarioDef)>);

impl<'de> Deserialize<'de> for Scenarios {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scenarios;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of scenario names to scenarios")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scenarios, A::Error> {
                let mut out = Vec::new();
                let seed = || Checked {
                    expecting: "a scenario name",
                    check: |s: &str| check_name("scenario name", s),
                };
                while let Some(name) = map.next_key_seed(seed())? {
                    out.push((name, map.next_value()?));
                }
                if out.is_empty() {
                    return Err(de::Error::custom(
                        "at least one scenario is required, e.g. `browse: { executor: \
                         constant-arrival-rate, rate: 10, requests: [{ name: home, url: / }] }`",
                    ));
                }
                Ok(Scenarios(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// `requests`: a non-empty list.
struct Requests(Vec<RawRequest>);

impl<'de> Deserialize<'de> for Requests {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Requests;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of requests")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Requests, A::Error> {
                let mut out = Vec::new();
                while let Some(request) = seq.next_element()? {
                    out.push(request);
                }
                if out.is_empty() {
                    return Err(de::Error::custom(
                        "at least one request is required, e.g. [{ name: home, url: / }]",
                    ));
                }
                Ok(Requests(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// `headers`: name to value, both checked as HTTP would; names unique ignoring case.
#[derive(Default)]
struct Headers(std::collections::BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Headers;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of header names to values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut out = std::collections::BTreeMap::new();
                let mut seen = HashSet::new();
                loop {
                    let seen_now = &seen;
                    let seed = Checked {
                        expecting: "a header name",
                        check: move |s: &str| {
                            http::HeaderName::from_bytes(s.as_bytes())
                                .map_err(|_| format!("invalid header name `{}`", shown(s)))?;
                            if seen_now.contains(&s.to_ascii_lowercase()) {
                                return Err(format!("header `{}` is set twice", shown(s)));
                            }
                            Ok(s.to_owned())
                        },
                    };
                    let Some(name) = map.next_key_seed(seed)? else {
                        break;
                    };
                    let value = map.next_value_seed(Checked {
                        expecting: "a header value",
                        check: |s: &str| {
                            http::HeaderValue::from_str(s)
                                .map(|_| s.to_owned())
                                .map_err(|_| format!("invalid header value `{}`", shown(s)))
                        },
                    })?;
                    seen.insert(name.to_ascii_lowercase());
                    out.insert(name, value);
                }
                Ok(Headers(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// `thresholds`: ordered map of metric key to a list of k6 expressions.
struct Thresholds(Vec<(String, Vec<Threshold>)>);

impl<'de> Deserialize<'de> for Thresholds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Thresholds;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of metric names to lists of thresholds")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Thresholds, A::Error> {
                let mut out = Vec::new();
                let seed = || Checked {
                    expecting: "a metric name like http_req_duration",
                    check: |s: &str| {
                        threshold::parse_metric_key(s)
                            .map(|_| s.to_owned())
                            .map_err(|e| e.detail())
                    },
                };
                while let Some(key) = map.next_key_seed(seed())? {
                    let list = map.next_value_seed(ThresholdList { key: &key })?;
                    out.push((key, list));
                }
                Ok(Thresholds(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The list under one metric key (a single string is accepted too).
struct ThresholdList<'k> {
    key: &'k str,
}

impl<'de> DeserializeSeed<'de> for ThresholdList<'_> {
    type Value = Vec<Threshold>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Threshold>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ThresholdList<'_> {
    type Value = Vec<Threshold>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of thresholds like [\"p(95)<500\"]")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<Threshold>, E> {
        ThresholdEntry { key: self.key }
            .visit_str(v)
            .map(|t| vec![t])
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Threshold>, A::Error> {
        let mut out = Vec::new();
        while let Some(t) = seq.next_element_seed(ThresholdEntry { key: self.key })? {
            out.push(t);
        }
        Ok(out)
    }
}

/// One threshold: `"p(95)<500"` or `{ threshold: "p(95)<500", abortOnFail: true }`.
struct ThresholdEntry<'k> {
    key: &'k str,
}

impl<'de> DeserializeSeed<'de> for ThresholdEntry<'_> {
    type Value = Threshold;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Threshold, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ThresholdEntry<'_> {
    type Value = Threshold;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a threshold like \"p(95)<500\" or { threshold: \"p(95)<500\", abortOnFail: true }",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Threshold, E> {
        Threshold::parse(self.key, v).map_err(|e| E::custom(e.detail()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Threshold, A::Error> {
        const FIELDS: &[&str] = &["threshold", "abortOnFail"];
        let mut expr: Option<String> = None;
        let mut abort_on_fail = false;
        while let Some(field) = map.next_key::<String>()? {
            match field.as_str() {
                "threshold" => expr = Some(map.next_value()?),
                "abortOnFail" => abort_on_fail = map.next_value()?,
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            }
        }
        let expr = expr.ok_or_else(|| de::Error::missing_field("threshold"))?;
        let mut threshold = self.visit_str::<A::Error>(&expr)?;
        threshold.abort_on_fail = abort_on_fail;
        Ok(threshold)
    }
}

// ---------------------------------------------------------------------------------
// Checks that need more than one value.

fn build(file: &Path, text: &str, raw: RawFile) -> Result<Scenario, ScenarioError> {
    let fail = |path: &[Seg<'_>], message: String| {
        ScenarioError::new(file, line_of(text, path), Some(render_path(path)), &message)
    };
    let regions = raw
        .regions
        .map(|r| r.0)
        .unwrap_or_else(|| vec![(Region::from(DEFAULT_REGION), 1.0)]);

    let mut scenarios = Vec::with_capacity(raw.scenarios.0.len());
    for (name, def) in raw.scenarios.0 {
        if let (Some(pre), Some(max)) = (def.pre_allocated_vus, def.max_vus)
            && max < pre
        {
            return Err(fail(
                &[Seg::Key("scenarios"), Seg::Key(&name), Seg::Key("max_vus")],
                format!("must be >= pre_allocated_vus ({pre}), got {max}"),
            ));
        }
        let mut requests: Vec<RequestSpec> = Vec::with_capacity(def.requests.0.len());
        for (i, r) in def.requests.0.into_iter().enumerate() {
            let at = |field| {
                [
                    Seg::Key("scenarios"),
                    Seg::Key(&name),
                    Seg::Key("requests"),
                    Seg::Index(i),
                    Seg::Key(field),
                ]
            };
            if let Some(first) = requests.iter().position(|q| q.name == r.name) {
                return Err(fail(
                    &at("name"),
                    format!(
                        "duplicate request name `{}` (also requests[{first}]); names must be \
                         unique within a scenario",
                        r.name
                    ),
                ));
            }
            if !r.url.starts_with('/') && !same_origin(&r.url, &raw.target) {
                return Err(fail(
                    &at("url"),
                    format!(
                        "`{}` is not on the target {}; absolute urls must use the target's \
                         scheme and host",
                        shown(&r.url),
                        raw.target
                    ),
                ));
            }
            requests.push(RequestSpec {
                name: r.name,
                method: r.method.unwrap_or_else(|| "GET".to_owned()),
                url: r.url,
                headers: r.headers.0,
                body: r.body,
                expect_status: r.expect_status,
            });
        }
        let executor = match def.executor {
            ExecutorKind::ConstantArrivalRate => ExecutorDef::ConstantArrivalRate {
                rate: def.rate,
                time_unit: def.time_unit.unwrap_or(DEFAULT_TIME_UNIT),
            },
        };
        scenarios.push(ScenarioDef {
            executor,
            pre_allocated_vus: def.pre_allocated_vus,
            max_vus: def.max_vus,
            requests,
            name,
        });
    }

    let mut thresholds = Vec::new();
    for (key, list) in raw.thresholds.map(|t| t.0).unwrap_or_default() {
        for t in list {
            if let Err(message) = check_selector(&t, &scenarios, &regions) {
                return Err(fail(&[Seg::Key("thresholds"), Seg::Key(&key)], message));
            }
            thresholds.push(t);
        }
    }

    Ok(Scenario {
        file: file.to_owned(),
        target: raw.target,
        duration: raw.duration,
        regions,
        request_timeout: raw.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
        worker_rate: raw.worker_rate.unwrap_or(DEFAULT_WORKER_RATE),
        scenarios,
        thresholds,
    })
}

/// A threshold's tag filter must name a request or a region of this file; otherwise it
/// would silently never match anything.
fn check_selector(
    threshold: &Threshold,
    scenarios: &[ScenarioDef],
    regions: &[(Region, f64)],
) -> Result<(), String> {
    let Some((tag, value)) = &threshold.selector else {
        return Ok(());
    };
    let (known, what): (Vec<&str>, _) = match tag.as_str() {
        "name" => (
            scenarios
                .iter()
                .flat_map(|s| s.requests.iter().map(|r| r.name.as_str()))
                .collect(),
            "request name",
        ),
        "region" => (regions.iter().map(|(r, _)| r.as_str()).collect(), "region"),
        _ => return Ok(()),
    };
    if known.contains(&value.as_str()) {
        Ok(())
    } else {
        Err(format!(
            "`{value}` is not a {what} of this file (known: {})",
            known.join(", ")
        ))
    }
}

/// Whether absolute `url` has the scheme and authority of `target`.
fn same_origin(url: &str, target: &str) -> bool {
    let (Ok(url), Ok(target)) = (url.parse::<http::Uri>(), target.parse::<http::Uri>()) else {
        return false;
    };
    url.scheme() == target.scheme() && url.authority() == target.authority()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "load/browse.yaml";

    /// The example from the format description, every key set.
    const FULL: &str = r#"
target: http://127.0.0.1:8080/     # trailing slash is dropped
duration: 1m30s
regions: { us-east-1: 0.5, eu-west-1: 0.3, ap-southeast-1: 0.2 }
request_timeout: 30s
worker_rate: 800
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 300
    time_unit: 1s
    pre_allocated_vus: 50
    max_vus: 500
    requests:
      - { name: home, method: GET, url: /, expect_status: 200 }
      - name: search
        method: post
        url: /search?q=x
        headers: { content-type: application/json, x-run: "7" }
        body: '{"q":"x"}'
  api.v1:
    executor: constant-arrival-rate
    rate: 30
    time_unit: 1m
    requests:
      - { name: health, url: "http://127.0.0.1:8080/health" }
thresholds:
  http_req_duration: ["p(95)<500", "p(99.9) < 1500"]
  http_req_duration{name:home}: ["avg<200"]
  http_req_failed: [{ threshold: "rate<0.01", abortOnFail: true }]
  http_reqs{region:eu-west-1}: ["rate>=50"]
"#;

    const MINIMAL: &str = "\
target: http://127.0.0.1:8080
duration: 15s
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 300
    requests:
      - { name: home, url: / }
";

    fn ok(text: &str) -> Scenario {
        match parse(Path::new(FILE), text.as_bytes()) {
            Ok(s) => s,
            Err(e) => panic!("expected a valid scenario, got: {e}"),
        }
    }

    fn error_bytes(text: &[u8]) -> String {
        match parse(Path::new(FILE), text) {
            Ok(s) => panic!("expected an error, parsed: {s:?}"),
            Err(e) => {
                let line = e.to_string();
                assert!(line.starts_with(FILE), "names the file: {line}");
                assert!(!line.contains('\n'), "one line: {line:?}");
                assert!(
                    !line.contains(" at line "),
                    "no parser position suffix: {line}"
                );
                line
            }
        }
    }

    fn error(text: &str) -> String {
        error_bytes(text.as_bytes())
    }

    /// `MINIMAL` with `from` replaced by `to` (which must occur).
    fn minimal_with(from: &str, to: &str) -> String {
        assert!(MINIMAL.contains(from), "fixture has {from:?}");
        MINIMAL.replacen(from, to, 1)
    }

    fn assert_contains(line: &str, needles: &[&str]) {
        for needle in needles {
            assert!(line.contains(needle), "{needle:?} not in: {line}");
        }
    }

    #[test]
    fn full_example_parses_into_typed_values_in_file_order() {
        let s = ok(FULL);
        assert_eq!(s.file, PathBuf::from(FILE));
        assert_eq!(s.target, "http://127.0.0.1:8080");
        assert_eq!(s.duration, Duration::from_secs(90));
        assert_eq!(
            s.regions,
            vec![
                (Region::from("us-east-1"), 0.5),
                (Region::from("eu-west-1"), 0.3),
                (Region::from("ap-southeast-1"), 0.2),
            ]
        );
        assert_eq!(s.request_timeout, Duration::from_secs(30));
        assert_eq!(s.worker_rate, 800.0);

        let names: Vec<&str> = s.scenarios.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["browse", "api.v1"]);
        let browse = &s.scenarios[0];
        assert_eq!(
            browse.executor,
            ExecutorDef::ConstantArrivalRate {
                rate: 300.0,
                time_unit: Duration::from_secs(1)
            }
        );
        assert_eq!(
            (browse.pre_allocated_vus, browse.max_vus),
            (Some(50), Some(500))
        );
        assert_eq!(
            browse.requests[0],
            RequestSpec {
                name: "home".into(),
                method: "GET".into(),
                url: "/".into(),
                headers: Default::default(),
                body: None,
                expect_status: Some(200),
            }
        );
        let search = &browse.requests[1];
        assert_eq!(search.method, "POST");
        assert_eq!(search.url, "/search?q=x");
        assert_eq!(search.headers["content-type"], "application/json");
        assert_eq!(search.headers["x-run"], "7");
        assert_eq!(search.body.as_deref(), Some(r#"{"q":"x"}"#));

        let thresholds: Vec<String> = s.thresholds.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            thresholds,
            [
                "http_req_duration: p(95)<500",
                "http_req_duration: p(99.9) < 1500",
                "http_req_duration{name:home}: avg<200",
                "http_req_failed: rate<0.01",
                "http_reqs{region:eu-west-1}: rate>=50",
            ]
        );
        assert!(s.thresholds[3].abort_on_fail);
        assert!(!s.thresholds[0].abort_on_fail);
    }

    #[test]
    fn omitted_keys_take_k6_defaults() {
        let s = ok(MINIMAL);
        assert_eq!(s.regions, vec![(Region::from(DEFAULT_REGION), 1.0)]);
        assert_eq!(s.request_timeout, Duration::from_secs(60));
        assert_eq!(s.worker_rate, 1000.0);
        assert!(s.thresholds.is_empty());
        let def = &s.scenarios[0];
        assert_eq!(
            def.executor,
            ExecutorDef::ConstantArrivalRate {
                rate: 300.0,
                time_unit: Duration::from_secs(1)
            }
        );
        assert_eq!((def.pre_allocated_vus, def.max_vus), (None, None));
        assert_eq!(def.requests[0].method, "GET");
        assert_eq!(def.requests[0].expect_status, None);
    }

    #[test]
    fn iterations_per_second_is_rate_over_time_unit() {
        let per_minute = ExecutorDef::ConstantArrivalRate {
            rate: 30.0,
            time_unit: Duration::from_secs(60),
        };
        assert_eq!(per_minute.iterations_per_second(), 0.5);
        let s = ok(FULL);
        assert_eq!(s.scenarios[0].executor.iterations_per_second(), 300.0);
        assert_eq!(s.scenarios[1].executor.iterations_per_second(), 0.5);
    }

    #[test]
    fn scenarios_keep_file_order_not_alphabetical_order() {
        let text = MINIMAL.replace("  browse:", "  zeta:")
            + "  alpha:\n    executor: constant-arrival-rate\n    rate: 1\n    requests: [{ name: a, url: /a }]\n"
            + "  mid:\n    executor: constant-arrival-rate\n    rate: 1\n    requests: [{ name: m, url: /m }]\n";
        let names: Vec<String> = ok(&text).scenarios.into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["zeta", "alpha", "mid"]);
    }

    #[test]
    fn a_region_list_means_equal_weights_and_a_map_keeps_weights_as_given() {
        let s = ok(&format!("{MINIMAL}regions: [eu-west-1, us-gov-west-1]\n"));
        assert_eq!(
            s.regions,
            vec![
                (Region::from("eu-west-1"), 1.0),
                (Region::from("us-gov-west-1"), 1.0)
            ]
        );
        let s = ok(&format!(
            "{MINIMAL}regions:\n  eu-west-1: 3\n  us-east-1: 1\n"
        ));
        assert_eq!(
            s.regions,
            vec![
                (Region::from("eu-west-1"), 3.0),
                (Region::from("us-east-1"), 1.0)
            ]
        );
    }

    #[test]
    fn durations_use_go_style_units() {
        for (text, want) in [
            ("500ms", Duration::from_millis(500)),
            ("15s", Duration::from_secs(15)),
            ("2m", Duration::from_secs(120)),
            ("1m30s", Duration::from_secs(90)),
            ("1h", Duration::from_secs(3600)),
            ("1.5s", Duration::from_millis(1500)),
            ("250us", Duration::from_micros(250)),
        ] {
            assert_eq!(parse_duration(text), Some(want), "{text}");
            assert_eq!(ok(&minimal_with("15s", text)).duration, want, "{text}");
        }
        for text in [
            "",
            "15",
            "15 seconds",
            "-1s",
            "1d",
            "s",
            "1m 30s",
            ".s",
            "15S",
        ] {
            assert_eq!(parse_duration(text), None, "{text:?}");
        }
    }

    #[test]
    fn target_loses_its_trailing_slash_and_must_be_an_http_base_url() {
        assert_eq!(
            ok(&minimal_with(":8080", ":8080/")).target,
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            ok(&minimal_with(
                "http://127.0.0.1:8080",
                "https://example.com"
            ))
            .target,
            "https://example.com"
        );
        for (target, want) in [
            ("127.0.0.1:8080", "must start with http:// or https://"),
            ("ftp://example.com", "must start with http:// or https://"),
            ("http://", "not a valid URL"),
            ("http://example.com/api", "without path or query"),
            ("http://example.com?x=1", "without path or query"),
        ] {
            let e = error(&minimal_with("http://127.0.0.1:8080", target));
            assert_contains(&e, &["browse.yaml:1: target: ", want]);
        }
    }

    #[test]
    fn methods_are_upper_cased_and_must_be_http_tokens() {
        let s = ok(&minimal_with("url: / }", "url: /, method: delete }"));
        assert_eq!(s.scenarios[0].requests[0].method, "DELETE");
        let e = error(&minimal_with("url: / }", "url: /, method: \"GE T\" }"));
        assert_contains(
            &e,
            &[":8: scenarios.browse.requests[0].method: invalid HTTP method `GE T`"],
        );
    }

    #[test]
    fn request_urls_are_paths_or_absolute_urls_on_the_target() {
        let e = error(&minimal_with("url: /", "url: search"));
        assert_contains(
            &e,
            &["scenarios.browse.requests[0].url: `search` must start with `/`"],
        );
        let e = error(&minimal_with("url: /", "url: \"/a b\""));
        assert_contains(&e, &["requests[0].url: `/a b` is not a valid URL path"]);
        let e = error(&minimal_with("url: /", "url: http://other:8080/x"));
        assert_contains(
            &e,
            &[
                ":8: scenarios.browse.requests[0].url: ",
                "is not on the target http://127.0.0.1:8080",
            ],
        );
    }

    #[test]
    fn request_names_follow_the_name_pattern_and_are_unique_within_a_scenario() {
        let e = error(&minimal_with("name: home", "name: \"home page\""));
        assert_contains(
            &e,
            &["requests[0].name: invalid request name `home page` (use letters, digits"],
        );
        let text = minimal_with(
            "      - { name: home, url: / }\n",
            "      - name: home\n        url: /\n      - name: home\n        url: /again\n",
        );
        let e = error(&text);
        assert_contains(
            &e,
            &[":10: scenarios.browse.requests[1].name: duplicate request name `home`"],
        );
    }

    #[test]
    fn expect_status_must_be_an_http_status() {
        let s = ok(&minimal_with("url: / }", "url: /, expect_status: 204 }"));
        assert_eq!(s.scenarios[0].requests[0].expect_status, Some(204));
        for status in ["42", "600", "-1"] {
            let e = error(&minimal_with(
                "url: / }",
                &format!("url: /, expect_status: {status} }}"),
            ));
            assert_contains(&e, &["requests[0].expect_status: must be"]);
        }
    }

    #[test]
    fn headers_must_be_valid_http_and_not_repeated() {
        let e = error(&minimal_with(
            "url: / }",
            "url: /, headers: { \"bad name\": x } }",
        ));
        assert_contains(
            &e,
            &["requests[0].headers", "invalid header name `bad name`"],
        );
        let e = error(&minimal_with(
            "url: / }",
            "url: /, headers: { Accept: a, accept: b } }",
        ));
        assert_contains(&e, &["header `accept` is set twice"]);
    }

    #[test]
    fn max_vus_must_not_be_below_pre_allocated_vus() {
        let e = error(&minimal_with(
            "rate: 300",
            "rate: 300\n    pre_allocated_vus: 10\n    max_vus: 5",
        ));
        assert_eq!(
            e,
            "load/browse.yaml:8: scenarios.browse.max_vus: must be >= pre_allocated_vus (10), got 5"
        );
        let e = error(&minimal_with("rate: 300", "rate: 300\n    max_vus: 0"));
        assert_contains(&e, &[":7: scenarios.browse.max_vus: must be >= 1, got 0"]);
        let s = ok(&minimal_with(
            "rate: 300",
            "rate: 300\n    pre_allocated_vus: 0",
        ));
        assert_eq!(s.scenarios[0].pre_allocated_vus, Some(0));
    }

    #[test]
    fn every_scenario_needs_a_request_and_every_file_a_scenario() {
        let e = error(&minimal_with("      - { name: home, url: / }\n", ""));
        assert_contains(
            &e,
            &["scenarios.browse.requests: at least one request is required"],
        );
        let e = error("target: http://a\nduration: 1s\nscenarios: {}\n");
        assert_contains(&e, &[":3: scenarios: at least one scenario is required"]);
    }

    #[test]
    fn scenario_and_region_names_are_checked() {
        let e = error(&minimal_with("  browse:", "  \"my browse\":"));
        assert_contains(&e, &[":4: scenarios", "invalid scenario name `my browse`"]);
        for (regions, key, want) in [
            (
                "[us-east-1, useast1]",
                "regions[1]",
                "`useast1` does not look like an AWS region",
            ),
            (
                "[us-east-1, us-east-1]",
                "regions[1]",
                "region `us-east-1` is listed twice",
            ),
            (
                "{ us-east-1: 0 }",
                "regions.us-east-1",
                "must be > 0, got 0",
            ),
            (
                "{ us-east-1: .nan }",
                "regions.us-east-1",
                "must be a finite number > 0",
            ),
            ("[]", "regions", "at least one region is required"),
        ] {
            let e = error(&format!("{MINIMAL}regions: {regions}\n"));
            assert_contains(&e, &[":9: ", &format!("{key}: {want}")]);
        }
    }

    #[test]
    fn thresholds_accept_k6_object_form_but_no_unknown_keys_in_it() {
        let s = ok(&format!(
            "{MINIMAL}thresholds:\n  http_req_duration:\n    - threshold: p(95)<500\n      abortOnFail: true\n    - p(99)<900\n"
        ));
        assert_eq!(s.thresholds.len(), 2);
        assert!(s.thresholds[0].abort_on_fail);
        assert_eq!(s.thresholds[1].expr, "p(99)<900");
        let e = error(&format!(
            "{MINIMAL}thresholds:\n  http_req_duration: [{{ threshold: p(95)<500, delayAbortEval: 10s }}]\n"
        ));
        assert_contains(
            &e,
            &[
                ":10: thresholds.http_req_duration[0]: ",
                "unknown field `delayAbortEval`, expected `threshold` or `abortOnFail`",
            ],
        );
        let e = error(&format!(
            "{MINIMAL}thresholds:\n  http_req_duration: [{{ abortOnFail: true }}]\n"
        ));
        assert_contains(&e, &["missing required key `threshold`"]);
    }

    #[test]
    fn threshold_tag_filters_must_name_an_existing_request_or_region() {
        let e = error(&format!(
            "{MINIMAL}thresholds:\n  http_req_duration{{name:hoem}}: [\"p(95)<500\"]\n"
        ));
        assert_eq!(
            e,
            "load/browse.yaml:10: thresholds.http_req_duration{name:hoem}: `hoem` is not a \
             request name of this file (known: home)"
        );
        let e = error(&format!(
            "{MINIMAL}thresholds:\n  http_req_failed{{region:eu-west-1}}: [\"rate<0.01\"]\n"
        ));
        assert_contains(
            &e,
            &["`eu-west-1` is not a region of this file (known: us-east-1)"],
        );
    }

    // --- One clear line for each way a file can be wrong -------------------------

    #[test]
    fn a_misspelt_key_is_an_error_naming_its_path() {
        let e = error(&minimal_with("rate: 300", "rat: 300"));
        assert_eq!(
            e,
            "load/browse.yaml:6: scenarios.browse.rat: unknown field `rat`, expected one of \
             `executor`, `rate`, `time_unit`, `pre_allocated_vus`, `max_vus`, `requests`"
        );
        let e = error(&minimal_with("url: / }", "url: /, expect: 200 }"));
        assert_contains(
            &e,
            &[":8: scenarios.browse.requests[0].expect: unknown field `expect`"],
        );
        let e = error(&format!("{MINIMAL}timeout: 5s\n"));
        assert_contains(&e, &[":9: timeout: unknown field `timeout`"]);
    }

    #[test]
    fn a_bad_duration_names_the_key_and_shows_the_accepted_forms() {
        let e = error(&minimal_with("15s", "15 seconds"));
        assert_eq!(
            e,
            "load/browse.yaml:2: duration: invalid duration `15 seconds` (use e.g. 500ms, 15s, \
             2m, 1m30s)"
        );
        let e = error(&minimal_with("15s", "-1s"));
        assert_contains(&e, &[":2: duration: invalid duration `-1s`"]);
        let e = error(&minimal_with("15s", "15"));
        assert_contains(&e, &[":2: duration: invalid duration `15`"]);
        let e = error(&minimal_with("15s", "0s"));
        assert_contains(&e, &[":2: duration: must be > 0"]);
        let e = error(&minimal_with(
            "rate: 300",
            "rate: 300\n    time_unit: 1 minute",
        ));
        assert_contains(
            &e,
            &[":7: scenarios.browse.time_unit: invalid duration `1 minute`"],
        );
    }

    #[test]
    fn a_rate_must_be_a_finite_number_above_zero() {
        let e = error(&minimal_with("rate: 300", "rate: -5"));
        assert_eq!(
            e,
            "load/browse.yaml:6: scenarios.browse.rate: must be > 0, got -5"
        );
        let e = error(&minimal_with("rate: 300", "rate: 0"));
        assert_contains(&e, &["scenarios.browse.rate: must be > 0"]);
        let e = error(&minimal_with("rate: 300", "rate: .inf"));
        assert_contains(&e, &["scenarios.browse.rate: must be a finite number > 0"]);
        let e = error(&minimal_with("rate: 300", "rate: fast"));
        assert_contains(
            &e,
            &["scenarios.browse.rate: wrong type: string \"fast\", expected a number > 0"],
        );
        let e = error(&format!("{MINIMAL}worker_rate: 0\n"));
        assert_contains(&e, &[":9: worker_rate: must be > 0"]);
    }

    #[test]
    fn other_k6_executors_are_not_supported_yet_and_unknown_ones_are_unknown() {
        let e = error(&minimal_with("constant-arrival-rate", "ramping-vus"));
        assert_eq!(
            e,
            "load/browse.yaml:5: scenarios.browse.executor: executor `ramping-vus` is not \
             supported yet (supported: constant-arrival-rate)"
        );
        for name in [
            "ramping-arrival-rate",
            "constant-vus",
            "per-vu-iterations",
            "shared-iterations",
        ] {
            let e = error(&minimal_with("constant-arrival-rate", name));
            assert_contains(&e, &[&format!("executor `{name}` is not supported yet")]);
        }
        let e = error(&minimal_with("constant-arrival-rate", "open-model"));
        assert_contains(
            &e,
            &[":5: scenarios.browse.executor: unknown executor `open-model`"],
        );
        let e = error(&minimal_with(
            "constant-arrival-rate",
            "constant_arrival_rate",
        ));
        assert_contains(&e, &["did you mean `constant-arrival-rate`?"]);
    }

    #[test]
    fn a_malformed_threshold_names_the_metric_key_and_the_expression() {
        for (expr, want) in [
            (
                "p95<500",
                "`p95<500`: expected an aggregation like p(95), avg, min, max, med",
            ),
            ("p(95)<", "`p(95)<`: missing a value after `<`"),
            (
                "p(95)<<5",
                "`p(95)<<5`: expected a number after `<`, found `<5`",
            ),
            ("rate<0.01", "`rate` does not apply to http_req_duration"),
        ] {
            let e = error(&format!(
                "{MINIMAL}thresholds:\n  http_req_duration: [\"p(99)<900\", \"{expr}\"]\n"
            ));
            assert_contains(&e, &[":10: thresholds.http_req_duration[1]: ", want]);
        }
        let e = error(&format!(
            "{MINIMAL}thresholds:\n  http_req_failed: [\"rate<0.01\"]\n  http_req_duraton: [\"p(95)<500\"]\n"
        ));
        assert_contains(
            &e,
            &[":11: thresholds.http_req_duraton: unknown metric `http_req_duraton`"],
        );
    }

    #[test]
    fn binary_garbage_is_not_a_scenario_file() {
        let e = error_bytes(b"\x89PNG\r\n\x1a\n\x00\x00");
        assert_contains(
            &e,
            &["load/browse.yaml:1: file is not UTF-8 text (byte 0x89)"],
        );
        let e = error_bytes(b"target: x\n\x00\x01\x02");
        assert_contains(
            &e,
            &["load/browse.yaml:2: not a YAML scenario file: it contains binary data"],
        );
        let e = error_bytes("ÿØÿàJFIF".as_bytes());
        assert_contains(
            &e,
            &["not a YAML scenario file: the top level is a string; expected a mapping"],
        );
    }

    #[test]
    fn an_empty_or_comment_only_file_says_what_a_scenario_needs() {
        let want = "load/browse.yaml: file is empty; expected a scenario with `target`, \
                    `duration` and `scenarios`";
        for text in ["", "\n\n", "# just a comment\n   # another\n", "---\n# c\n"] {
            assert_eq!(error(text), want, "{text:?}");
        }
    }

    #[test]
    fn yaml_syntax_errors_carry_the_parsers_line() {
        let e = error(&minimal_with("rate: 300", "  rate: 300"));
        assert_eq!(
            e,
            "load/browse.yaml:6: invalid YAML: mapping values are not allowed in this context"
        );
        let e = error("target: \"http://a\nduration: 1s\n");
        assert_contains(&e, &["invalid YAML: found unexpected end of stream"]);
        let e = error(&format!("{MINIMAL}---\ntarget: http://b\n"));
        assert_contains(&e, &["invalid YAML: ", "more than one document"]);
    }

    #[test]
    fn a_leading_byte_order_mark_is_ignored() {
        assert_eq!(
            ok(&format!("\u{feff}{MINIMAL}")).duration,
            Duration::from_secs(15)
        );
    }

    #[test]
    fn a_yaml_null_is_not_a_method() {
        let e = error(&minimal_with("url: / }", "url: /, method: ~ }"));
        assert_contains(&e, &["requests[0].method: invalid HTTP method `~`"]);
    }

    #[test]
    fn a_duplicate_key_points_at_its_second_occurrence() {
        let e = error(&minimal_with("rate: 300", "rate: 300\n    rate: 400"));
        assert_eq!(
            e,
            "load/browse.yaml:7: scenarios.browse.rate: invalid YAML: duplicate key `rate`; \
             each key may appear only once"
        );
    }

    #[test]
    fn a_missing_required_key_is_named() {
        let e = error(&minimal_with("target: http://127.0.0.1:8080\n", ""));
        assert_eq!(e, "load/browse.yaml: missing required key `target`");
        let e = error(&minimal_with("    rate: 300\n", ""));
        assert_eq!(
            e,
            "load/browse.yaml:5: scenarios.browse: missing required key `rate`"
        );
        let e = error(&minimal_with("url: / ", ""));
        assert_contains(
            &e,
            &["scenarios.browse.requests[0]: missing required key `url`"],
        );
    }

    #[test]
    fn a_top_level_that_is_not_a_mapping_is_rejected() {
        for (text, found) in [
            ("- target: http://a\n- duration: 1s\n", "a list"),
            ("\n# comment\njust some words\n", "a string"),
            ("42\n", "a number"),
            ("~\n", "empty (null)"),
        ] {
            let e = error(text);
            assert_contains(
                &e,
                &[&format!(
                    "not a YAML scenario file: the top level is {found}; expected a mapping"
                )],
            );
        }
        assert_contains(
            &error("\n# comment\njust some words\n"),
            &["browse.yaml:3: "],
        );
    }

    // --- Error plumbing -------------------------------------------------------------

    #[test]
    fn error_display_leaves_out_unknown_parts_and_stays_on_one_line() {
        let e = |line, key: Option<&str>| {
            ScenarioError::new(
                Path::new("s.yaml"),
                line,
                key.map(str::to_owned),
                "first\n  second\r\nthird",
            )
        };
        assert_eq!(
            e(Some(3), Some("a.b")).to_string(),
            "s.yaml:3: a.b: first second third"
        );
        assert_eq!(
            e(None, Some("a.b")).to_string(),
            "s.yaml: a.b: first second third"
        );
        assert_eq!(e(Some(3), None).to_string(), "s.yaml:3: first second third");
        assert_eq!(e(None, None).to_string(), "s.yaml: first second third");
        let long = ScenarioError::new(Path::new("s.yaml"), None, None, &"x".repeat(1000));
        assert!(long.message.chars().count() <= 300);
    }

    #[test]
    fn user_text_in_messages_keeps_its_spaces_but_not_its_line_breaks() {
        assert_eq!(shown(" 15s"), " 15s");
        assert_eq!(shown("a\nb\tc"), "a\\nb\\tc");
        let long = shown(&"x".repeat(100));
        assert_eq!(long.chars().count(), 60);
        assert!(long.ends_with('…'));
        assert_eq!(shown(&"x".repeat(60)), "x".repeat(60));
    }

    #[test]
    fn parser_positions_are_stripped_from_messages() {
        assert_eq!(
            strip_positions(
                "did not find key at line 3 column 1, while parsing at line 1 column 1"
            ),
            "did not find key, while parsing"
        );
        assert_eq!(strip_positions("look at line up"), "look at line up");
    }

    #[test]
    fn line_of_finds_block_keys_list_items_and_flow_values() {
        let text =
            "a:\n  b:\n    - x: 1\n      y: 2\n    - x: 3\n      # c\n      y: 4\n  c: { d: 1 }\n";
        let find = |path: &[Seg<'_>]| line_of(text, path);
        assert_eq!(find(&[Seg::Key("a"), Seg::Key("b")]), Some(2));
        assert_eq!(
            find(&[Seg::Key("a"), Seg::Key("b"), Seg::Index(1), Seg::Key("y")]),
            Some(7)
        );
        assert_eq!(
            find(&[Seg::Key("a"), Seg::Key("b"), Seg::Index(0), Seg::Key("y")]),
            Some(4)
        );
        assert_eq!(
            find(&[Seg::Key("a"), Seg::Key("c"), Seg::Key("d")]),
            Some(8)
        );
        assert_eq!(find(&[Seg::Key("a"), Seg::Key("zz")]), None);
    }

    #[test]
    fn load_reads_the_file_and_reports_unreadable_ones() {
        let dir = std::env::temp_dir().join(format!("sls-load-scenario-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("ok.yaml");
        std::fs::write(&path, MINIMAL).expect("write");
        let s = load(&path).expect("load");
        assert_eq!(s.file, path);
        let missing = dir.join("missing.yaml");
        let e = load(&missing).expect_err("missing file").to_string();
        assert!(e.starts_with(&missing.display().to_string()), "{e}");
        assert!(e.contains("cannot read file"), "{e}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
