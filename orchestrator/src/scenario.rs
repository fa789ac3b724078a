//! Scenario files: reads a YAML scenario (`target`, `duration`, `regions`,
//! `scenarios`, `thresholds`, ...) and turns it into a validated, typed [`Scenario`],
//! or into one short [`ScenarioError`] line naming the file, the line and the key.
//!
//! This module owns the file format, its defaults (k6's where k6 has one) and every
//! check that can be made without running anything: unknown keys are errors so a
//! typo never silently runs a different test; executors, flows (templates,
//! captures, checks) and schedules are checked against each other; scenario data
//! files (CSV or JSON, beside the scenario file) are read here, and refused when
//! they would not fit in a worker's job. It does not plan workers, split rates,
//! VUs or rows across workers (`share` does), or talk to AWS; threshold
//! expressions themselves are parsed by `threshold`.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use sls_load_core::job::{
    Arrivals, Capture, Check, DataRows, HttpOptions, HttpVersionChoice, RateStage, Region,
    RequestSpec, ThinkTime, VuStage,
};
use sls_load_core::template::{VAR_ITER, VAR_VU, template_vars};
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
/// How long a VU removed by a ramp-down may finish its iteration (k6's default).
pub const DEFAULT_GRACEFUL_RAMP_DOWN: Duration = Duration::from_secs(30);

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
    /// Protocol options (the `http:` block), copied into every job; a `tls_ca_file`
    /// is already read into `tls_ca_pem`.
    pub http: HttpOptions,
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
    /// are given. `None` leaves it to the planner. For VU executors both are their
    /// peak VU count.
    pub max_vus: Option<u32>,
    /// The requests of one iteration, in order; at least one, names unique.
    pub requests: Vec<RequestSpec>,
    /// k6's `startTime`: when the scenario begins, after the run's start.
    pub start_time: Duration,
    /// How long it runs from `start_time` (`duration`, or `max_duration` for
    /// `per-vu-iterations`); `None`: until its stages end or the run ends.
    pub duration: Option<Duration>,
    /// How arrivals are spaced (arrival-rate executors).
    pub arrivals: Arrivals,
    /// Rows of the scenario's `data` file, if it has one.
    pub data: Option<DataSet>,
}

impl ScenarioDef {
    /// Iterations an arrival-rate scenario starts in a run of `run` (summed over
    /// all regions and workers); `None` for VU executors, whose count depends on the
    /// target.
    pub fn expected_iterations(&self, run: Duration) -> Option<f64> {
        let available = run.saturating_sub(self.start_time);
        let length = self.duration.map_or(available, |d| d.min(available));
        match &self.executor {
            ExecutorDef::ConstantArrivalRate { .. } => {
                Some(self.executor.iterations_per_second() * length.as_secs_f64())
            }
            ExecutorDef::RampingArrivalRate {
                start_rate,
                time_unit,
                stages,
            } => {
                let per_second: Vec<RateStage> = stages
                    .iter()
                    .map(|s| RateStage {
                        duration: s.duration,
                        target: s.target / time_unit.as_secs_f64(),
                    })
                    .collect();
                let profile = sls_load_core::schedule::RateProfile::ramping(
                    start_rate / time_unit.as_secs_f64(),
                    &per_second,
                );
                Some(profile.count_at(length.as_secs_f64()))
            }
            ExecutorDef::ConstantVus { .. }
            | ExecutorDef::RampingVus { .. }
            | ExecutorDef::PerVuIterations { .. } => None,
        }
    }
}

/// A scenario's data file, read at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSet {
    /// The file as written in the scenario (relative to the scenario file).
    pub file: PathBuf,
    /// Its columns and every row.
    pub rows: DataRows,
}

/// How a scenario starts iterations (k6 executors). Rates and VU counts are the
/// scenario's, summed over all regions and workers.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutorDef {
    /// `constant-arrival-rate`: `rate` iterations every `time_unit`, summed over all
    /// regions, however fast the target answers (open model).
    ConstantArrivalRate {
        /// Iterations per `time_unit`; finite and > 0.
        rate: f64,
        /// The period `rate` counts over; > 0.
        time_unit: Duration,
    },
    /// `ramping-arrival-rate`: the rate moves linearly from `start_rate` through each
    /// stage's target (open model); the scenario ends with its last stage.
    RampingArrivalRate {
        /// Iterations per `time_unit` at the start; >= 0.
        start_rate: f64,
        /// The period rates count over; > 0.
        time_unit: Duration,
        /// Stages; targets are iterations per `time_unit`.
        stages: Vec<RateStage>,
    },
    /// `constant-vus`: `vus` VUs loop iterations (closed model).
    ConstantVus {
        /// VUs; >= 1.
        vus: u32,
    },
    /// `ramping-vus`: the VU count moves linearly from `start_vus` through each
    /// stage's target (closed model); the scenario ends with its last stage.
    RampingVus {
        /// VUs at the start.
        start_vus: u32,
        /// Stages with whole VU targets.
        stages: Vec<VuStage>,
        /// How long a VU removed by a ramp-down may finish its iteration.
        graceful_ramp_down: Duration,
    },
    /// `per-vu-iterations`: each of `vus` VUs runs `iterations` iterations (closed
    /// model), within the scenario's `max_duration`.
    PerVuIterations {
        /// VUs; >= 1.
        vus: u32,
        /// Iterations per VU; >= 1.
        iterations: u64,
    },
}

impl ExecutorDef {
    /// The arrival rate in iterations per second over all regions, at its peak for
    /// `ramping-arrival-rate`; 0 for VU executors (their rate is what the target
    /// allows). The planner sizes workers by it.
    pub fn iterations_per_second(&self) -> f64 {
        match self {
            ExecutorDef::ConstantArrivalRate { rate, time_unit } => rate / time_unit.as_secs_f64(),
            ExecutorDef::RampingArrivalRate {
                start_rate,
                time_unit,
                stages,
            } => {
                stages.iter().map(|s| s.target).fold(*start_rate, f64::max)
                    / time_unit.as_secs_f64()
            }
            ExecutorDef::ConstantVus { .. }
            | ExecutorDef::RampingVus { .. }
            | ExecutorDef::PerVuIterations { .. } => 0.0,
        }
    }

    /// The most VUs a VU executor runs at once; `None` for arrival-rate executors.
    pub fn peak_vus(&self) -> Option<u32> {
        match self {
            ExecutorDef::ConstantVus { vus } | ExecutorDef::PerVuIterations { vus, .. } => {
                Some(*vus)
            }
            ExecutorDef::RampingVus {
                start_vus, stages, ..
            } => Some(stages.iter().map(|s| s.target).fold(*start_vus, u32::max)),
            ExecutorDef::ConstantArrivalRate { .. } | ExecutorDef::RampingArrivalRate { .. } => {
                None
            }
        }
    }

    /// How long the schedule of stages lasts, for ramping executors.
    pub fn stages_duration(&self) -> Option<Duration> {
        match self {
            ExecutorDef::RampingArrivalRate { stages, .. } => {
                Some(stages.iter().map(|s| s.duration).sum())
            }
            ExecutorDef::RampingVus { stages, .. } => Some(stages.iter().map(|s| s.duration).sum()),
            _ => None,
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
    if let Some(better) = suggest_field(&message) {
        message = better;
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

/// serde's "unknown field `rat`, expected one of `a`, `b`, ..." as "unknown field
/// `rat`; did you mean `rate`?" when one expected key is a likely spelling of it.
fn suggest_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest
        .strip_prefix(", expected one of ")
        .or_else(|| rest.strip_prefix(", expected "))?;
    let close = expected
        .split([',', ' '])
        .map(|k| k.trim_matches('`'))
        .filter(|k| !k.is_empty() && *k != "or")
        .map(|k| (edit_distance(field, k), k))
        .filter(|(d, k)| *d <= 2.min(k.len() / 3 + 1))
        .min_by_key(|(d, _)| *d)?;
    Some(format!(
        "unknown field `{field}`; did you mean `{}`?",
        close.1
    ))
}

/// Levenshtein distance of two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
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
    #[serde(default)]
    http: Option<RawHttp>,
}

/// The `http:` block: protocol options, k6-style.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    version: Option<HttpVersionChoice>,
    #[serde(default)]
    max_redirects: Option<u32>,
    #[serde(default)]
    new_connection_per_iteration: Option<bool>,
    #[serde(default)]
    insecure_skip_tls_verify: Option<bool>,
    #[serde(default)]
    tls_ca_file: Option<String>,
    #[serde(default, deserialize_with = "optional_duration")]
    connect_timeout: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenarioDef {
    #[serde(deserialize_with = "executor_name")]
    executor: ExecutorKind,
    #[serde(default, deserialize_with = "optional_positive")]
    rate: Option<f64>,
    #[serde(default, deserialize_with = "optional_duration")]
    time_unit: Option<Duration>,
    #[serde(default, deserialize_with = "optional_non_negative")]
    start_rate: Option<f64>,
    #[serde(default)]
    stages: Option<Stages>,
    #[serde(default, deserialize_with = "optional_max_vus")]
    vus: Option<u32>,
    #[serde(default, deserialize_with = "optional_vus")]
    start_vus: Option<u32>,
    #[serde(default, deserialize_with = "optional_iterations")]
    iterations: Option<u64>,
    #[serde(default, deserialize_with = "optional_duration")]
    duration: Option<Duration>,
    #[serde(default, deserialize_with = "optional_duration")]
    max_duration: Option<Duration>,
    #[serde(default, deserialize_with = "optional_duration_or_zero")]
    graceful_ramp_down: Option<Duration>,
    #[serde(default, deserialize_with = "optional_duration_or_zero")]
    start_time: Option<Duration>,
    #[serde(default, deserialize_with = "optional_arrivals")]
    arrivals: Option<Arrivals>,
    #[serde(default, deserialize_with = "optional_vus")]
    pre_allocated_vus: Option<u32>,
    #[serde(default, deserialize_with = "optional_max_vus")]
    max_vus: Option<u32>,
    #[serde(default)]
    data: Option<RawData>,
    requests: Requests,
}

impl RawScenarioDef {
    /// The optional scenario keys the file sets, in declaration order.
    fn keys_given(&self) -> Vec<&'static str> {
        [
            ("rate", self.rate.is_some()),
            ("time_unit", self.time_unit.is_some()),
            ("start_rate", self.start_rate.is_some()),
            ("stages", self.stages.is_some()),
            ("vus", self.vus.is_some()),
            ("start_vus", self.start_vus.is_some()),
            ("iterations", self.iterations.is_some()),
            ("duration", self.duration.is_some()),
            ("max_duration", self.max_duration.is_some()),
            ("graceful_ramp_down", self.graceful_ramp_down.is_some()),
            ("arrivals", self.arrivals.is_some()),
            ("pre_allocated_vus", self.pre_allocated_vus.is_some()),
            ("max_vus", self.max_vus.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, given)| given.then_some(key))
        .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    #[serde(deserialize_with = "data_file")]
    file: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    #[serde(deserialize_with = "duration_or_zero")]
    duration: Duration,
    #[serde(deserialize_with = "non_negative")]
    target: f64,
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
    query: Option<Query>,
    #[serde(default)]
    headers: Headers,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    json: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "optional_status")]
    expect_status: Option<u16>,
    #[serde(default)]
    sleep: Option<Sleep>,
    #[serde(default)]
    capture: Option<Vec<RawCapture>>,
    #[serde(default)]
    checks: Option<Vec<RawCheck>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapture {
    #[serde(deserialize_with = "variable_name")]
    name: String,
    #[serde(default, deserialize_with = "optional_pointer")]
    json: Option<String>,
    #[serde(default, deserialize_with = "optional_header_name")]
    header: Option<String>,
    #[serde(default, deserialize_with = "optional_regex")]
    regex: Option<String>,
    #[serde(default)]
    group: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    #[serde(deserialize_with = "check_label")]
    name: String,
    #[serde(default, deserialize_with = "optional_status")]
    status: Option<u16>,
    #[serde(default)]
    header: Option<RawHeaderCheck>,
    #[serde(default)]
    body_contains: Option<String>,
    #[serde(default)]
    json: Option<RawJsonCheck>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeaderCheck {
    #[serde(deserialize_with = "header_name")]
    name: String,
    #[serde(default)]
    equals: Option<String>,
    #[serde(default)]
    exists: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJsonCheck {
    #[serde(deserialize_with = "pointer")]
    pointer: String,
    #[serde(default, deserialize_with = "present_json")]
    equals: Option<serde_json::Value>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExecutorKind {
    ConstantArrivalRate,
    RampingArrivalRate,
    ConstantVus,
    RampingVus,
    PerVuIterations,
}

impl ExecutorKind {
    const ALL: [(ExecutorKind, &'static str); 5] = [
        (ExecutorKind::ConstantArrivalRate, "constant-arrival-rate"),
        (ExecutorKind::RampingArrivalRate, "ramping-arrival-rate"),
        (ExecutorKind::ConstantVus, "constant-vus"),
        (ExecutorKind::RampingVus, "ramping-vus"),
        (ExecutorKind::PerVuIterations, "per-vu-iterations"),
    ];

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |(_, n)| n)
    }

    /// The optional scenario keys that apply to this executor (besides `executor`,
    /// `start_time`, `data` and `requests`, which every executor takes).
    fn keys(self) -> &'static [&'static str] {
        match self {
            ExecutorKind::ConstantArrivalRate => &[
                "rate",
                "time_unit",
                "duration",
                "arrivals",
                "pre_allocated_vus",
                "max_vus",
            ],
            ExecutorKind::RampingArrivalRate => &[
                "start_rate",
                "time_unit",
                "stages",
                "arrivals",
                "pre_allocated_vus",
                "max_vus",
            ],
            ExecutorKind::ConstantVus => &["vus", "duration"],
            ExecutorKind::RampingVus => &["start_vus", "stages", "graceful_ramp_down"],
            ExecutorKind::PerVuIterations => &["vus", "iterations", "max_duration"],
        }
    }
}

fn executor_name<'de, D: Deserializer<'de>>(d: D) -> Result<ExecutorKind, D::Error> {
    let name = checked(
        d,
        "an executor name like constant-arrival-rate",
        check_executor,
    )?;
    ExecutorKind::ALL
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(k, _)| *k)
        .ok_or_else(|| de::Error::custom(format!("unknown executor `{name}`")))
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

/// A duration; zero only where `allow_zero` (e.g. `start_time: 0s`).
struct DurationVisitor {
    allow_zero: bool,
}

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
            Some(d) if d.is_zero() && !self.allow_zero => {
                Err(E::custom(format!("must be > 0, got `{}`", shown(v))))
            }
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
    d.deserialize_any(DurationVisitor { allow_zero: false })
}

fn optional_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

fn duration_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor { allow_zero: true })
}

fn optional_duration_or_zero<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    duration_or_zero(d).map(Some)
}

/// A finite number > 0, or >= 0 when `zero_ok`.
struct NumberVisitor {
    zero_ok: bool,
}

impl NumberVisitor {
    fn check<E: de::Error>(&self, v: f64) -> Result<f64, E> {
        let bound = if self.zero_ok { ">= 0" } else { "> 0" };
        if !v.is_finite() {
            Err(E::custom(format!(
                "must be a finite number {bound}, got {v}"
            )))
        } else if v < 0.0 || (v == 0.0 && !self.zero_ok) {
            Err(E::custom(format!("must be {bound}, got {v}")))
        } else {
            Ok(v)
        }
    }
}

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.zero_ok {
            "a number >= 0"
        } else {
            "a number > 0"
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        self.check(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        self.check(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        self.check(v as f64)
    }
}

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_f64(NumberVisitor { zero_ok: false })
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

fn optional_iterations<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    d.deserialize_any(RangeVisitor {
        min: 1,
        max: u64::from(u32::MAX),
        expecting: "a whole number of iterations",
    })
    .map(Some)
}

fn non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_f64(NumberVisitor { zero_ok: true })
}

fn optional_non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    non_negative(d).map(Some)
}

fn optional_arrivals<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arrivals>, D::Error> {
    let name = checked(d, "`constant` or `poisson`", |s| match s {
        "constant" | "poisson" => Ok(s.to_owned()),
        other => Err(format!(
            "unknown arrivals `{}` (use constant or poisson)",
            shown(other)
        )),
    })?;
    Ok(Some(if name == "poisson" {
        Arrivals::Poisson
    } else {
        Arrivals::Constant
    }))
}

fn data_file<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a file name like users.csv", |s| {
        let lower = s.to_ascii_lowercase();
        if lower.ends_with(".csv") || lower.ends_with(".json") {
            Ok(s.to_owned())
        } else {
            Err(format!(
                "`{}`: data files are .csv (with a header row) or .json (an array of objects)",
                shown(s)
            ))
        }
    })
}

/// A variable name usable as `{{name}}`: the request-name characters, and not one of
/// the built-ins.
fn check_variable(what: &str, text: &str) -> Result<String, String> {
    let name = check_name(what, text)?;
    if name == VAR_VU || name == VAR_ITER {
        return Err(format!("`{name}` is built in; pick another {what}"));
    }
    Ok(name)
}

fn variable_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a variable name", |s| check_variable("capture name", s))
}

fn check_pointer(text: &str) -> Result<String, String> {
    if text.is_empty() || text.starts_with('/') {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{}` is not a JSON pointer; pointers start with `/`, e.g. /data/0/id",
            shown(text)
        ))
    }
}

fn pointer<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a JSON pointer like /data/0/id", check_pointer)
}

fn optional_pointer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    pointer(d).map(Some)
}

fn check_header_name(text: &str) -> Result<String, String> {
    http::HeaderName::from_bytes(text.as_bytes())
        .map(|_| text.to_owned())
        .map_err(|_| format!("invalid header name `{}`", shown(text)))
}

fn header_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a header name", check_header_name)
}

fn optional_header_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    header_name(d).map(Some)
}

fn optional_regex<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, "a regular expression", |s| {
        regex::Regex::new(s)
            .map(|_| s.to_owned())
            .map_err(|e| format!("invalid regex: {}", one_line(&e.to_string(), 200)))
    })
    .map(Some)
}

fn check_label<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a check name like \"status is 200\"", |s| {
        if s.trim().is_empty() {
            Err("a check needs a name, e.g. \"status is 200\"".into())
        } else {
            Ok(s.to_owned())
        }
    })
}

/// A JSON value that is present, `null` included (an absent key stays `None`).
fn present_json<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// `stages`: a non-empty list of `{ duration, target }`.
struct Stages(Vec<RawStage>);

impl<'de> Deserialize<'de> for Stages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Stages;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of stages like [{ duration: 30s, target: 100 }]")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Stages, A::Error> {
                let mut out = Vec::new();
                while let Some(stage) = seq.next_element()? {
                    out.push(stage);
                }
                if out.is_empty() {
                    return Err(de::Error::custom(
                        "at least one stage is required, e.g. [{ duration: 30s, target: 100 }]",
                    ));
                }
                Ok(Stages(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// `query`: parameter name to a scalar value (kept as text).
struct Query(std::collections::BTreeMap<String, String>);

/// A string, number or boolean, as text.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Query {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Query;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of query parameter names to values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Query, A::Error> {
                let mut out = std::collections::BTreeMap::new();
                let seed = || Checked {
                    expecting: "a query parameter name",
                    check: |s: &str| {
                        if s.is_empty() {
                            Err("a query parameter needs a name".to_owned())
                        } else {
                            Ok(s.to_owned())
                        }
                    },
                };
                while let Some(name) = map.next_key_seed(seed())? {
                    let Scalar(value) = map.next_value()?;
                    out.insert(name, value);
                }
                Ok(Query(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// `sleep`: `1s`, or `{ min: 50ms, max: 200ms }` for a uniformly random pause.
struct Sleep(ThinkTime);

impl<'de> Deserialize<'de> for Sleep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Sleep;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like 1s, or { min: 50ms, max: 200ms }")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Sleep, E> {
                let d = DurationVisitor { allow_zero: false }.visit_str(v)?;
                Ok(Sleep(ThinkTime { min: d, max: d }))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Sleep, A::Error> {
                const FIELDS: &[&str] = &["min", "max"];
                struct Dur(Duration);
                impl<'de> Deserialize<'de> for Dur {
                    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                        duration_or_zero(d).map(Dur)
                    }
                }
                let (mut min, mut max) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "min" => min = Some(map.next_value::<Dur>()?.0),
                        "max" => max = Some(map.next_value::<Dur>()?.0),
                        other => return Err(de::Error::unknown_field(other, FIELDS)),
                    }
                }
                let min = min.ok_or_else(|| de::Error::missing_field("min"))?;
                let max = max.ok_or_else(|| de::Error::missing_field("max"))?;
                if max < min || max.is_zero() {
                    return Err(de::Error::custom(format!(
                        "needs 0 <= min <= max and max > 0, got min {} and max {}",
                        humantime::format_duration(min),
                        humantime::format_duration(max)
                    )));
                }
                Ok(Sleep(ThinkTime { min, max }))
            }
        }
        d.deserialize_any(V)
    }
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

const UNSUPPORTED_EXECUTORS: [&str; 2] = ["shared-iterations", "externally-controlled"];

fn check_executor(text: &str) -> Result<String, String> {
    let supported = || {
        ExecutorKind::ALL
            .iter()
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if ExecutorKind::ALL.iter().any(|(_, n)| *n == text) {
        return Ok(text.to_owned());
    }
    if UNSUPPORTED_EXECUTORS.contains(&text) {
        return Err(format!(
            "executor `{text}` is not supported yet (supported: {})",
            supported()
        ));
    }
    let spelled = text.to_ascii_lowercase().replace(['_', ' '], "-");
    let close = ExecutorKind::ALL
        .iter()
        .map(|(_, n)| *n)
        .find(|n| spelled == *n || spelled == n.replace('-', ""));
    let hint = match close {
        Some(name) => format!("; did you mean `{name}`?"),
        None => format!(" (supported: {})", supported()),
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
                Ok(Regions(vec![(Region::new(name).map_err(E::custom)?, 1.0)]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Regions, A::Error> {
                let mut seen = HashSet::new();
                let mut out = Vec::new();
                while let Some(name) = seq.next_element_seed(region_seed(&seen))? {
                    seen.insert(name.clone());
                    out.push((Region::new(name).map_err(de::Error::custom)?, 1.0));
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
                    out.push((Region::new(name).map_err(de::Error::custom)?, weight));
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
        .unwrap_or_else(|| vec![(Region::us_east_1(), 1.0)]);

    let mut scenarios = Vec::with_capacity(raw.scenarios.0.len());
    for (name, def) in raw.scenarios.0 {
        let here = [Seg::Key("scenarios"), Seg::Key(&name)];
        let key = |k| [Seg::Key("scenarios"), Seg::Key(&name), Seg::Key(k)];
        let kind = def.executor;
        if let Some(k) = def
            .keys_given()
            .into_iter()
            .find(|k| !kind.keys().contains(k))
        {
            return Err(fail(
                &key(k),
                format!(
                    "`{k}` does not apply to {} (it takes {}, start_time, data, requests)",
                    kind.name(),
                    kind.keys().join(", ")
                ),
            ));
        }
        if let (Some(pre), Some(max)) = (def.pre_allocated_vus, def.max_vus)
            && max < pre
        {
            return Err(fail(
                &key("max_vus"),
                format!("must be >= pre_allocated_vus ({pre}), got {max}"),
            ));
        }
        let time_unit = def.time_unit.unwrap_or(DEFAULT_TIME_UNIT);
        let stages = def.stages.map(|s| s.0);
        let missing = |k: &str| {
            fail(
                &here,
                format!("missing required key `{k}` ({} needs it)", kind.name()),
            )
        };
        let executor = match kind {
            ExecutorKind::ConstantArrivalRate => ExecutorDef::ConstantArrivalRate {
                rate: def.rate.ok_or_else(|| missing("rate"))?,
                time_unit,
            },
            ExecutorKind::RampingArrivalRate => ExecutorDef::RampingArrivalRate {
                start_rate: def.start_rate.unwrap_or(0.0),
                time_unit,
                stages: stages
                    .ok_or_else(|| missing("stages"))?
                    .iter()
                    .map(|s| RateStage {
                        duration: s.duration,
                        target: s.target,
                    })
                    .collect(),
            },
            ExecutorKind::ConstantVus => ExecutorDef::ConstantVus {
                vus: def.vus.unwrap_or(1),
            },
            ExecutorKind::RampingVus => {
                let mut vu_stages = Vec::new();
                for (i, s) in stages.ok_or_else(|| missing("stages"))?.iter().enumerate() {
                    if s.target.fract() != 0.0 || s.target > f64::from(u32::MAX) {
                        return Err(fail(
                            &[
                                Seg::Key("scenarios"),
                                Seg::Key(&name),
                                Seg::Key("stages"),
                                Seg::Index(i),
                                Seg::Key("target"),
                            ],
                            format!("must be a whole number of VUs, got {}", s.target),
                        ));
                    }
                    vu_stages.push(VuStage {
                        duration: s.duration,
                        target: s.target as u32,
                    });
                }
                ExecutorDef::RampingVus {
                    start_vus: def.start_vus.unwrap_or(1),
                    stages: vu_stages,
                    graceful_ramp_down: def
                        .graceful_ramp_down
                        .unwrap_or(DEFAULT_GRACEFUL_RAMP_DOWN),
                }
            }
            ExecutorKind::PerVuIterations => ExecutorDef::PerVuIterations {
                vus: def.vus.unwrap_or(1),
                iterations: def.iterations.unwrap_or(1),
            },
        };

        // When the scenario runs: inside the test's duration.
        let start_time = def.start_time.unwrap_or_default();
        let human = |d: Duration| humantime::format_duration(d).to_string();
        if start_time >= raw.duration {
            return Err(fail(
                &key("start_time"),
                format!(
                    "must be less than the test's duration ({}), got {}",
                    human(raw.duration),
                    human(start_time)
                ),
            ));
        }
        let (duration, length, length_key) = match kind {
            ExecutorKind::ConstantArrivalRate | ExecutorKind::ConstantVus => {
                (def.duration, def.duration, "duration")
            }
            ExecutorKind::PerVuIterations => (def.max_duration, def.max_duration, "max_duration"),
            ExecutorKind::RampingArrivalRate | ExecutorKind::RampingVus => {
                let total = executor.stages_duration().unwrap_or_default();
                if total.is_zero() {
                    return Err(fail(
                        &key("stages"),
                        "the stages last 0s; give at least one stage a duration".into(),
                    ));
                }
                (None, Some(total), "stages")
            }
        };
        if let Some(length) = length
            && start_time + length > raw.duration
        {
            return Err(fail(
                &key(length_key),
                format!(
                    "runs until {} (start_time {} + {}) but the test's duration is {}",
                    human(start_time + length),
                    human(start_time),
                    human(length),
                    human(raw.duration)
                ),
            ));
        }

        let data = match &def.data {
            Some(d) => Some(load_data(file, &d.file).map_err(|m| {
                fail(
                    &[
                        Seg::Key("scenarios"),
                        Seg::Key(&name),
                        Seg::Key("data"),
                        Seg::Key("file"),
                    ],
                    m,
                )
            })?),
            None => None,
        };
        let columns: Vec<String> = data
            .as_ref()
            .map(|d| d.rows.columns.clone())
            .unwrap_or_default();

        let mut requests: Vec<RequestSpec> = Vec::with_capacity(def.requests.0.len());
        let mut captured: Vec<String> = Vec::new();
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
            let item = |field, j| {
                [
                    Seg::Key("scenarios"),
                    Seg::Key(&name),
                    Seg::Key("requests"),
                    Seg::Index(i),
                    Seg::Key(field),
                    Seg::Index(j),
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
            if r.body.is_some() && r.json.is_some() {
                return Err(fail(
                    &at("json"),
                    "a request has `body` or `json`, not both".into(),
                ));
            }
            let known = |text: &str| check_vars(text, &columns, &captured);
            known(&r.url).map_err(|m| fail(&at("url"), m))?;
            let query = r.query.map(|q| q.0).unwrap_or_default();
            for value in query.values() {
                known(value).map_err(|m| fail(&at("query"), m))?;
            }
            for value in r.headers.0.values() {
                known(value).map_err(|m| fail(&at("headers"), m))?;
            }
            if let Some(body) = &r.body {
                known(body).map_err(|m| fail(&at("body"), m))?;
            }
            if let Some(json) = &r.json {
                known(&json.to_string()).map_err(|m| fail(&at("json"), m))?;
            }

            let mut capture = Vec::new();
            for (j, c) in r.capture.unwrap_or_default().into_iter().enumerate() {
                let here = item("capture", j);
                if columns.contains(&c.name) {
                    return Err(fail(
                        &here,
                        format!("capture `{}` has the name of a data column", c.name),
                    ));
                }
                if c.group.is_some() && c.regex.is_none() {
                    return Err(fail(&here, "`group` goes with `regex`".into()));
                }
                capture.push(match (c.json, c.header, c.regex) {
                    (Some(pointer), None, None) => Capture::Json {
                        name: c.name.clone(),
                        pointer,
                    },
                    (None, Some(header), None) => Capture::Header {
                        name: c.name.clone(),
                        header,
                    },
                    (None, None, Some(pattern)) => {
                        let groups = regex::Regex::new(&pattern)
                            .map(|re| re.captures_len() - 1)
                            .unwrap_or(0);
                        let group = c.group.unwrap_or(usize::from(groups > 0));
                        if group > groups {
                            return Err(fail(
                                &here,
                                format!(
                                    "group {group} does not exist: the regex has {groups} \
                                     capture group(s)"
                                ),
                            ));
                        }
                        Capture::Regex {
                            name: c.name.clone(),
                            pattern,
                            group,
                        }
                    }
                    _ => {
                        return Err(fail(
                            &here,
                            "a capture takes exactly one of `json` (a pointer), `header` or \
                             `regex`"
                                .into(),
                        ));
                    }
                });
            }

            let mut checks = Vec::new();
            for (j, c) in r.checks.unwrap_or_default().into_iter().enumerate() {
                let here = item("checks", j);
                checks.push(match (c.status, c.header, c.body_contains, c.json) {
                    (Some(status), None, None, None) => Check::Status {
                        name: c.name,
                        status,
                    },
                    (None, Some(h), None, None) => {
                        if h.equals.is_some() && h.exists == Some(false) {
                            return Err(fail(
                                &here,
                                "`equals` and `exists: false` contradict each other".into(),
                            ));
                        }
                        Check::Header {
                            name: c.name,
                            header: h.name,
                            equals: h.equals,
                            exists: h.exists.unwrap_or(true),
                        }
                    }
                    (None, None, Some(text), None) => Check::BodyContains { name: c.name, text },
                    (None, None, None, Some(json)) => Check::Json {
                        name: c.name,
                        pointer: json.pointer,
                        equals: json.equals,
                    },
                    _ => {
                        return Err(fail(
                            &here,
                            "a check takes exactly one of `status`, `header`, `body_contains` \
                             or `json`"
                                .into(),
                        ));
                    }
                });
            }
            captured.extend(capture.iter().map(|c| c.name().to_owned()));
            requests.push(RequestSpec {
                name: r.name,
                method: r.method.unwrap_or_else(|| "GET".to_owned()),
                url: r.url,
                headers: r.headers.0,
                body: r.body,
                expect_status: r.expect_status,
                query,
                json: r.json,
                sleep: r.sleep.map(|s| s.0),
                capture,
                checks,
            });
        }
        // VU executors hold their peak as VUs, so the planner keeps every worker
        // within its connection budget.
        let peak = executor.peak_vus();
        scenarios.push(ScenarioDef {
            pre_allocated_vus: peak.or(def.pre_allocated_vus),
            max_vus: peak.or(def.max_vus),
            executor,
            requests,
            name,
            start_time,
            duration,
            arrivals: def.arrivals.unwrap_or_default(),
            data,
        });
    }
    check_payload(file, text, &scenarios)?;

    let mut thresholds = Vec::new();
    for (key, list) in raw.thresholds.map(|t| t.0).unwrap_or_default() {
        for t in list {
            if let Err(message) = check_selector(&t, &scenarios, &regions) {
                return Err(fail(&[Seg::Key("thresholds"), Seg::Key(&key)], message));
            }
            thresholds.push(t);
        }
    }

    let http = match raw.http {
        None => HttpOptions::default(),
        Some(h) => {
            let defaults = HttpOptions::default();
            let tls_ca_pem = match &h.tls_ca_file {
                None => None,
                Some(name) => Some(
                    load_ca(file, name)
                        .map_err(|m| fail(&[Seg::Key("http"), Seg::Key("tls_ca_file")], m))?,
                ),
            };
            HttpOptions {
                version: h.version.unwrap_or(defaults.version),
                max_redirects: h.max_redirects.unwrap_or(defaults.max_redirects),
                new_connection_per_iteration: h
                    .new_connection_per_iteration
                    .unwrap_or(defaults.new_connection_per_iteration),
                insecure_skip_tls_verify: h
                    .insecure_skip_tls_verify
                    .unwrap_or(defaults.insecure_skip_tls_verify),
                tls_ca_pem,
                connect_timeout: h.connect_timeout.unwrap_or(defaults.connect_timeout),
            }
        }
    };

    Ok(Scenario {
        file: file.to_owned(),
        target: raw.target,
        duration: raw.duration,
        regions,
        request_timeout: raw.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
        worker_rate: raw.worker_rate.unwrap_or(DEFAULT_WORKER_RATE),
        scenarios,
        thresholds,
        http,
    })
}

/// Reads `http.tls_ca_file` (relative to the scenario file): PEM text with at least
/// one `CERTIFICATE` block.
fn load_ca(scenario_file: &Path, name: &str) -> Result<String, String> {
    let path = scenario_file
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .join(name);
    let bytes =
        std::fs::read(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("`{name}` is not PEM text (it is not UTF-8)"))?;
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!(
            "`{name}` holds no PEM certificate (no `-----BEGIN CERTIFICATE-----` line)"
        ));
    }
    Ok(text)
}

/// Every `{{name}}` in `text` names a data column, a capture of an earlier request
/// or a built-in.
fn check_vars(text: &str, columns: &[String], captured: &[String]) -> Result<(), String> {
    for var in template_vars(text) {
        let known = var == VAR_VU
            || var == VAR_ITER
            || columns.iter().any(|c| c == var)
            || captured.iter().any(|c| c == var);
        if !known {
            let mut names: Vec<&str> = columns.iter().chain(captured).map(String::as_str).collect();
            names.extend([VAR_VU, VAR_ITER]);
            return Err(format!(
                "`{{{{{var}}}}}` is not a data column or a capture of an earlier request \
                 (known: {})",
                names.join(", ")
            ));
        }
    }
    Ok(())
}

/// Reads a scenario's data file (relative to the scenario file): a CSV file with a
/// header row, or a JSON array of objects (values become text; missing keys empty).
fn load_data(scenario_file: &Path, name: &str) -> Result<DataSet, String> {
    let path = scenario_file
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .join(name);
    let bytes =
        std::fs::read(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let rows = if name.to_ascii_lowercase().ends_with(".csv") {
        csv_rows(&bytes)
    } else {
        json_rows(&bytes)
    }
    .map_err(|e| format!("`{name}`: {e}"))?;
    if let Some(bad) = rows.columns.iter().find(|c| !is_name(c)) {
        return Err(format!(
            "`{name}`: column `{}` cannot be used as {{{{...}}}} (use letters, digits, `_`, \
             `.` and `-`)",
            shown(bad)
        ));
    }
    if let Some(reserved) = rows.columns.iter().find(|c| *c == VAR_VU || *c == VAR_ITER) {
        return Err(format!(
            "`{name}`: column `{reserved}` is built in; rename it"
        ));
    }
    if rows.rows.is_empty() {
        return Err(format!("`{name}` has no rows"));
    }
    Ok(DataSet {
        file: PathBuf::from(name),
        rows,
    })
}

fn csv_rows(bytes: &[u8]) -> Result<DataRows, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| one_line(&e.to_string(), 200))?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| one_line(&e.to_string(), 200))?;
        rows.push(record.iter().map(str::to_owned).collect());
    }
    Ok(DataRows { columns, rows })
}

fn json_rows(bytes: &[u8]) -> Result<DataRows, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    let serde_json::Value::Array(items) = value else {
        return Err("expected a JSON array of objects".into());
    };
    let mut columns: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let serde_json::Value::Object(map) = item else {
            return Err(format!("item {i} is not an object"));
        };
        for k in map.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let rows = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|c| match item.get(c) {
                    None | Some(serde_json::Value::Null) => String::new(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                })
                .collect()
        })
        .collect();
    Ok(DataRows { columns, rows })
}

/// The largest job payload a worker may get: Lambda takes at most 256 KB for an
/// asynchronous invocation, and the job's own fields need room too.
pub const MAX_JOB_PAYLOAD: usize = 200 * 1024;

/// Refuses a scenario whose requests and data rows would not fit in one worker's
/// job. A run with one worker gets every row, so the whole files must fit.
fn check_payload(file: &Path, text: &str, scenarios: &[ScenarioDef]) -> Result<(), ScenarioError> {
    let size = |s: &ScenarioDef| {
        let requests = serde_json::to_vec(&s.requests).map_or(0, |v| v.len());
        let data = s
            .data
            .as_ref()
            .and_then(|d| serde_json::to_vec(&d.rows).ok())
            .map_or(0, |v| v.len());
        (requests, data)
    };
    let total: usize = scenarios
        .iter()
        .map(|s| {
            let (r, d) = size(s);
            r + d
        })
        .sum();
    if total <= MAX_JOB_PAYLOAD {
        return Ok(());
    }
    let kb = |n: usize| n.div_ceil(1024);
    let biggest = scenarios.iter().max_by_key(|s| size(s).1);
    let (path, what) = match biggest.and_then(|s| s.data.as_ref().map(|d| (s, d))) {
        Some((s, d)) if size(s).1 > 0 => (
            vec![
                Seg::Key("scenarios"),
                Seg::Key(&s.name),
                Seg::Key("data"),
                Seg::Key("file"),
            ],
            format!(
                "`{}` is {} KB of rows as job JSON",
                d.file.display(),
                kb(size(s).1)
            ),
        ),
        _ => (vec![Seg::Key("scenarios")], "the requests are".to_owned()),
    };
    Err(ScenarioError::new(
        file,
        line_of(text, &path),
        Some(render_path(&path)),
        &format!(
            "{what} ({} KB in all); a worker's job must stay under {} KB (Lambda limits \
             asynchronous invocations to 256 KB, and one worker may get every row): use fewer \
             or shorter rows",
            kb(total),
            MAX_JOB_PAYLOAD / 1024
        ),
    ))
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
                (Region::new("us-east-1").unwrap(), 0.5),
                (Region::new("eu-west-1").unwrap(), 0.3),
                (Region::new("ap-southeast-1").unwrap(), 0.2),
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
                ..RequestSpec::default()
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
        assert_eq!(s.regions, vec![(Region::new(DEFAULT_REGION).unwrap(), 1.0)]);
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
                (Region::new("eu-west-1").unwrap(), 1.0),
                (Region::new("us-gov-west-1").unwrap(), 1.0)
            ]
        );
        let s = ok(&format!(
            "{MINIMAL}regions:\n  eu-west-1: 3\n  us-east-1: 1\n"
        ));
        assert_eq!(
            s.regions,
            vec![
                (Region::new("eu-west-1").unwrap(), 3.0),
                (Region::new("us-east-1").unwrap(), 1.0)
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
            "load/browse.yaml:6: scenarios.browse.rat: unknown field `rat`; did you mean `rate`?"
        );
        let e = error(&minimal_with("rate: 300", "rate: 300\n    spawn_rate: 3"));
        assert_contains(
            &e,
            &[":7: scenarios.browse.spawn_rate: unknown field `spawn_rate`, expected one of"],
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
    fn shared_iterations_is_not_supported_yet_and_unknown_executors_are_unknown() {
        let e = error(&minimal_with("constant-arrival-rate", "shared-iterations"));
        assert_eq!(
            e,
            "load/browse.yaml:5: scenarios.browse.executor: executor `shared-iterations` is not \
             supported yet (supported: constant-arrival-rate, ramping-arrival-rate, \
             constant-vus, ramping-vus, per-vu-iterations)"
        );
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
        let e = error(&minimal_with("constant-arrival-rate", "RampingVUs"));
        assert_contains(&e, &["did you mean `ramping-vus`?"]);
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
            "load/browse.yaml:4: scenarios.browse: missing required key `rate` \
             (constant-arrival-rate needs it)"
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

    // --- Executors, flows, checks and data (issue #4) ---------------------------------

    /// Every executor, flows with captures, checks, think time, query and JSON bodies.
    const ENGINE: &str = r#"
target: http://127.0.0.1:8080
duration: 1m
scenarios:
  ramp:
    executor: ramping-arrival-rate
    time_unit: 1m
    stages:
      - { duration: 10s, target: 6000 }
      - { duration: 20s, target: 6000 }
      - { duration: 5s, target: 0 }
    max_vus: 100
    arrivals: poisson
    start_time: 5s
    requests:
      - { name: home, url: / }
  users:
    executor: constant-vus
    vus: 5
    duration: 30s
    requests:
      - name: login
        method: POST
        url: /login
        json: { user: "u{{__VU}}", remember: true }
        capture:
          - { name: token, json: /token }
          - { name: session, header: x-session }
          - { name: n, regex: "n=(\\d+)" }
        checks:
          - { name: "status is 200", status: 200 }
          - { name: has session, header: { name: x-session } }
          - { name: no cookie, header: { name: set-cookie, exists: false } }
          - { name: says ok, body_contains: "ok" }
          - { name: role is admin, json: { pointer: /role, equals: admin } }
        sleep: { min: 50ms, max: 200ms }
      - name: profile
        url: /users/{{n}}
        query: { verbose: true, q: "{{token}}" }
        headers: { authorization: "Bearer {{token}}" }
        sleep: 1s
  tail:
    executor: ramping-vus
    start_vus: 0
    stages: [{ duration: 10s, target: 3 }, { duration: 10s, target: 0 }]
    graceful_ramp_down: 0s
    requests: [{ name: tail, url: / }]
  once:
    executor: per-vu-iterations
    vus: 2
    iterations: 3
    max_duration: 20s
    start_time: 40s
    requests: [{ name: once, url: / }]
"#;

    #[test]
    fn every_executor_parses_with_its_keys() {
        let s = ok(ENGINE);
        let ramp = &s.scenarios[0];
        assert_eq!(
            ramp.executor,
            ExecutorDef::RampingArrivalRate {
                start_rate: 0.0,
                time_unit: Duration::from_secs(60),
                stages: [(10, 6000.0), (20, 6000.0), (5, 0.0)]
                    .map(|(secs, target)| RateStage {
                        duration: Duration::from_secs(secs),
                        target
                    })
                    .to_vec(),
            }
        );
        assert_eq!(ramp.executor.iterations_per_second(), 100.0);
        assert_eq!(ramp.arrivals, Arrivals::Poisson);
        assert_eq!(ramp.start_time, Duration::from_secs(5));
        assert_eq!((ramp.duration, ramp.max_vus), (None, Some(100)));
        let users = &s.scenarios[1];
        assert_eq!(users.executor, ExecutorDef::ConstantVus { vus: 5 });
        assert_eq!(users.duration, Some(Duration::from_secs(30)));
        // VU executors plan their peak as VUs.
        assert_eq!((users.pre_allocated_vus, users.max_vus), (Some(5), Some(5)));
        assert_eq!(
            s.scenarios[2].executor,
            ExecutorDef::RampingVus {
                start_vus: 0,
                stages: vec![
                    VuStage {
                        duration: Duration::from_secs(10),
                        target: 3
                    },
                    VuStage {
                        duration: Duration::from_secs(10),
                        target: 0
                    }
                ],
                graceful_ramp_down: Duration::ZERO,
            }
        );
        let once = &s.scenarios[3];
        assert_eq!(
            once.executor,
            ExecutorDef::PerVuIterations {
                vus: 2,
                iterations: 3
            }
        );
        assert_eq!(once.duration, Some(Duration::from_secs(20)));
    }

    #[test]
    fn arrival_rate_scenarios_know_how_many_iterations_they_start() {
        let s = ok(ENGINE);
        let run = Duration::from_secs(60);
        // (0 → 100/s over 10 s) + 100/s for 20 s + (100 → 0/s over 5 s).
        assert_eq!(s.scenarios[0].expected_iterations(run), Some(2750.0));
        assert_eq!(s.scenarios[1].expected_iterations(run), None);
        let s = ok(&minimal_with("rate: 300", "rate: 300\n    start_time: 5s"));
        assert_eq!(s.scenarios[0].expected_iterations(s.duration), Some(3000.0));
    }

    #[test]
    fn vu_executors_take_k6_defaults() {
        let s = ok(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: constant-vus",
        ));
        assert_eq!(s.scenarios[0].executor, ExecutorDef::ConstantVus { vus: 1 });
        assert_eq!(s.scenarios[0].duration, None);
        let s = ok(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: per-vu-iterations",
        ));
        assert_eq!(
            s.scenarios[0].executor,
            ExecutorDef::PerVuIterations {
                vus: 1,
                iterations: 1
            }
        );
        let s = ok(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: ramping-vus\n    stages: [{ duration: 5s, target: 2 }]",
        ));
        assert!(matches!(
            s.scenarios[0].executor,
            ExecutorDef::RampingVus { start_vus: 1, graceful_ramp_down, .. }
                if graceful_ramp_down == DEFAULT_GRACEFUL_RAMP_DOWN
        ));
    }

    #[test]
    fn flows_parse_into_steps_with_captures_checks_and_think_time() {
        let s = ok(ENGINE);
        let login = &s.scenarios[1].requests[0];
        assert_eq!(
            login.json,
            Some(serde_json::json!({ "user": "u{{__VU}}", "remember": true }))
        );
        assert_eq!(
            login.capture,
            vec![
                Capture::Json {
                    name: "token".into(),
                    pointer: "/token".into()
                },
                Capture::Header {
                    name: "session".into(),
                    header: "x-session".into()
                },
                Capture::Regex {
                    name: "n".into(),
                    pattern: r"n=(\d+)".into(),
                    group: 1
                },
            ]
        );
        let names: Vec<&str> = login.checks.iter().map(Check::name).collect();
        assert_eq!(
            names,
            [
                "status is 200",
                "has session",
                "no cookie",
                "says ok",
                "role is admin"
            ]
        );
        assert_eq!(
            login.checks[2],
            Check::Header {
                name: "no cookie".into(),
                header: "set-cookie".into(),
                equals: None,
                exists: false
            }
        );
        assert_eq!(
            login.checks[4],
            Check::Json {
                name: "role is admin".into(),
                pointer: "/role".into(),
                equals: Some(serde_json::json!("admin"))
            }
        );
        assert_eq!(
            login.sleep,
            Some(ThinkTime {
                min: Duration::from_millis(50),
                max: Duration::from_millis(200)
            })
        );
        let profile = &s.scenarios[1].requests[1];
        assert_eq!(profile.query["verbose"], "true");
        assert_eq!(profile.query["q"], "{{token}}");
        assert_eq!(
            profile.sleep,
            Some(ThinkTime {
                min: Duration::from_secs(1),
                max: Duration::from_secs(1)
            })
        );
    }

    #[test]
    fn a_key_of_another_executor_is_named_with_the_keys_that_apply() {
        let e = error(&minimal_with("rate: 300", "rate: 300\n    vus: 10"));
        assert_eq!(
            e,
            "load/browse.yaml:7: scenarios.browse.vus: `vus` does not apply to \
             constant-arrival-rate (it takes rate, time_unit, duration, arrivals, \
             pre_allocated_vus, max_vus, start_time, data, requests)"
        );
        let e = error(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: constant-vus\n    max_vus: 3",
        ));
        assert_contains(
            &e,
            &[":6: scenarios.browse.max_vus: `max_vus` does not apply to constant-vus"],
        );
    }

    #[test]
    fn a_schedule_must_fit_in_the_test() {
        let e = error(&minimal_with("rate: 300", "rate: 300\n    start_time: 15s"));
        assert_contains(
            &e,
            &[
                ":7: scenarios.browse.start_time: must be less than the test's duration (15s), got 15s",
            ],
        );
        let e = error(&minimal_with(
            "rate: 300",
            "rate: 300\n    start_time: 10s\n    duration: 10s",
        ));
        assert_contains(
            &e,
            &[
                ":8: scenarios.browse.duration: runs until 20s (start_time 10s + 10s) but the \
                 test's duration is 15s",
            ],
        );
        let ramp = |stages: &str| {
            minimal_with(
                "executor: constant-arrival-rate\n    rate: 300",
                &format!("executor: ramping-arrival-rate\n    stages: {stages}"),
            )
        };
        let e = error(&ramp(
            "[{ duration: 10s, target: 5 }, { duration: 6s, target: 0 }]",
        ));
        assert_contains(&e, &[":6: scenarios.browse.stages: runs until 16s"]);
        let e = error(&ramp("[{ duration: 0s, target: 5 }]"));
        assert_contains(&e, &["scenarios.browse.stages: the stages last 0s"]);
        let e = error(&ramp("[]"));
        assert_contains(
            &e,
            &["scenarios.browse.stages: at least one stage is required"],
        );
        let e = error(&ramp("[{ duration: 1s, target: -5 }]"));
        assert_contains(
            &e,
            &["scenarios.browse.stages[0].target: must be >= 0, got -5"],
        );
        let e = error(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: ramping-vus\n    stages:\n      - duration: 5s\n        target: 2.5",
        ));
        assert_contains(
            &e,
            &[":8: scenarios.browse.stages[0].target: must be a whole number of VUs, got 2.5"],
        );
        let e = error(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: ramping-arrival-rate",
        ));
        assert_contains(
            &e,
            &["scenarios.browse: missing required key `stages` (ramping-arrival-rate needs it)"],
        );
        let e = error(&minimal_with(
            "rate: 300",
            "rate: 300\n    arrivals: random",
        ));
        assert_contains(
            &e,
            &["scenarios.browse.arrivals: unknown arrivals `random`"],
        );
    }

    /// `MINIMAL` with its request replaced by `request` (block style, 6 spaces in).
    fn minimal_request(request: &str) -> String {
        minimal_with("      - { name: home, url: / }\n", request)
    }

    #[test]
    fn a_template_must_name_a_column_or_an_earlier_capture() {
        let e = error(&minimal_request(
            "      - name: a\n        url: /users/{{id}}\n",
        ));
        assert_eq!(
            e,
            "load/browse.yaml:9: scenarios.browse.requests[0].url: `{{id}}` is not a data column \
             or a capture of an earlier request (known: __VU, __ITER)"
        );
        let text = minimal_request(
            "      - name: a\n        url: /\n        headers: { x-t: \"{{t}}\" }\n        capture: [{ name: t, header: x-t }]\n",
        );
        assert_contains(
            &error(&text),
            &["requests[0].headers: `{{t}}` is not a data column"],
        );
        let text = minimal_request(
            "      - name: a\n        url: /\n        capture: [{ name: t, header: x-t }]\n      - name: b\n        url: /\n        json: { t: \"{{t}}\", vu: \"{{__VU}}\" }\n",
        );
        assert_eq!(
            ok(&text).scenarios[0].requests[1]
                .json
                .as_ref()
                .map(|j| j["t"].clone()),
            Some(serde_json::json!("{{t}}"))
        );
    }

    #[test]
    fn captures_and_checks_take_exactly_one_source() {
        let step =
            |extra: &str| minimal_request(&format!("      - name: a\n        url: /\n{extra}"));
        for (extra, want) in [
            (
                "        capture: [{ name: t, json: /a, header: x }]\n",
                ":10: scenarios.browse.requests[0].capture[0]: a capture takes exactly one of",
            ),
            (
                "        capture: [{ name: t, json: a }]\n",
                "requests[0].capture[0].json: `a` is not a JSON pointer",
            ),
            (
                "        capture: [{ name: t, regex: \"(a\" }]\n",
                "requests[0].capture[0].regex: invalid regex",
            ),
            (
                "        capture: [{ name: t, regex: \"a(b)\", group: 2 }]\n",
                "capture[0]: group 2 does not exist: the regex has 1 capture group(s)",
            ),
            (
                "        capture: [{ name: __VU, header: x }]\n",
                "capture[0].name: `__VU` is built in",
            ),
            (
                "        checks: [{ name: c }]\n",
                "requests[0].checks[0]: a check takes exactly one of `status`, `header`",
            ),
            (
                "        checks: [{ name: c, status: 200, body_contains: x }]\n",
                "a check takes exactly one of",
            ),
            (
                "        checks: [{ name: c, header: { name: x, equals: y, exists: false } }]\n",
                "`equals` and `exists: false` contradict each other",
            ),
            (
                "        checks: [{ name: \"\", status: 200 }]\n",
                "checks[0].name: a check needs a name",
            ),
            (
                "        checks: [{ name: c, status: 99 }]\n",
                "checks[0].status: must be >= 100",
            ),
            (
                "        checks: [{ name: c, json: { pointer: /a, equal: 1 } }]\n",
                "unknown field `equal`; did you mean `equals`?",
            ),
            (
                "        sleep: { min: 2s, max: 1s }\n",
                "requests[0].sleep: needs 0 <= min <= max and max > 0",
            ),
            (
                "        sleep: soon\n",
                "requests[0].sleep: invalid duration `soon`",
            ),
            (
                "        body: x\n        json: { a: 1 }\n",
                "requests[0].json: a request has `body` or `json`, not both",
            ),
        ] {
            assert_contains(&error(&step(extra)), &[want]);
        }
        // A regex without groups captures its whole match.
        let s = ok(&step("        capture: [{ name: t, regex: \"a+\" }]\n"));
        assert!(matches!(
            s.scenarios[0].requests[0].capture[0],
            Capture::Regex { group: 0, .. }
        ));
        // `equals: null` checks for a JSON null, not for presence.
        let s = ok(&step(
            "        checks: [{ name: c, json: { pointer: /a, equals: ~ } }]\n",
        ));
        assert!(matches!(
            &s.scenarios[0].requests[0].checks[0],
            Check::Json {
                equals: Some(serde_json::Value::Null),
                ..
            }
        ));
    }

    /// A scenario file in a fresh directory, with extra files beside it.
    fn load_with(files: &[(&str, &str)], scenario: &str) -> Result<Scenario, ScenarioError> {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).expect("write");
        }
        let path = dir.path().join("s.yaml");
        std::fs::write(&path, scenario).expect("write");
        load(&path)
    }

    fn with_data(file: &str) -> String {
        minimal_with(
            "      - { name: home, url: / }\n",
            &format!(
                "      - {{ name: home, url: \"/u/{{{{id}}}}?n={{{{name}}}}\" }}\n    data: {{ file: {file} }}\n"
            ),
        )
    }

    #[test]
    fn data_files_load_beside_the_scenario_as_rows_of_text() {
        let csv = "id,name\n1,Ann\n2,\"Lee, Bo\"\n";
        let s = load_with(&[("users.csv", csv)], &with_data("users.csv")).expect("loads");
        let data = s.scenarios[0].data.as_ref().expect("data");
        assert_eq!(data.file, PathBuf::from("users.csv"));
        assert_eq!(data.rows.columns, ["id", "name"]);
        assert_eq!(
            data.rows.rows,
            [vec!["1", "Ann"], vec!["2", "Lee, Bo"]]
                .map(|r| r.into_iter().map(String::from).collect::<Vec<_>>())
        );
        let json = r#"[{"id": 1, "name": "Ann"}, {"id": 2, "name": null, "extra": true}]"#;
        let s = load_with(&[("users.json", json)], &with_data("users.json")).expect("loads");
        let data = &s.scenarios[0].data.as_ref().expect("data").rows;
        assert_eq!(data.columns, ["id", "name", "extra"]);
        assert_eq!(data.rows[1], ["2", "", "true"]);
    }

    #[test]
    fn the_http_block_sets_protocol_options_and_reads_the_ca_beside_the_scenario() {
        assert_eq!(ok(MINIMAL).http, HttpOptions::default());
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let text = format!(
            "{MINIMAL}http:\n  version: http2\n  max_redirects: 0\n  \
             new_connection_per_iteration: true\n  insecure_skip_tls_verify: true\n  \
             tls_ca_file: ca.pem\n  connect_timeout: 2s\n"
        );
        let s = load_with(&[("ca.pem", pem)], &text).expect("loads");
        assert_eq!(
            s.http,
            HttpOptions {
                version: HttpVersionChoice::Http2,
                max_redirects: 0,
                new_connection_per_iteration: true,
                insecure_skip_tls_verify: true,
                tls_ca_pem: Some(pem.into()),
                connect_timeout: Duration::from_secs(2),
            }
        );
        let s = ok(&format!("{MINIMAL}http:\n  version: http1\n"));
        assert_eq!(s.http.version, HttpVersionChoice::Http1);
        assert_eq!(s.http.max_redirects, 10);
    }

    #[test]
    fn http_block_mistakes_name_the_key_and_line() {
        let line = error(&format!("{MINIMAL}http:\n  max_redirect: 3\n"));
        assert_contains(&line, &[":10:", "http", "max_redirect"]);
        let line = error(&format!("{MINIMAL}http:\n  version: http3\n"));
        assert_contains(&line, &[":10:", "http.version", "http3"]);
        let line = load_with(
            &[],
            &format!("{MINIMAL}http:\n  tls_ca_file: missing.pem\n"),
        )
        .expect_err("missing CA file")
        .to_string();
        assert_contains(
            &line,
            &[":10: http.tls_ca_file: cannot read", "missing.pem"],
        );
        let line = load_with(
            &[("ca.pem", "not a certificate")],
            &format!("{MINIMAL}http:\n  tls_ca_file: ca.pem\n"),
        )
        .expect_err("not PEM")
        .to_string();
        assert_contains(&line, &["http.tls_ca_file", "no PEM certificate"]);
    }

    #[test]
    fn bad_data_files_are_named_with_the_reason() {
        let e = load_with(&[], &with_data("users.csv")).expect_err("missing");
        assert_contains(
            &e.to_string(),
            &[
                ":9: scenarios.browse.data.file: cannot read `",
                "users.csv`",
            ],
        );
        for (content, want) in [
            ("id,name\n1\n", "`users.csv`: CSV error: record 1 (line: 2"),
            ("first name\nAnn\n", "column `first name` cannot be used"),
            ("id,name\n", "`users.csv` has no rows"),
        ] {
            let e = load_with(&[("users.csv", content)], &with_data("users.csv"))
                .expect_err("bad csv")
                .to_string();
            assert_contains(&e, &["scenarios.browse.data.file: ", want]);
        }
        let e = load_with(&[("users.json", "{\"id\": 1}")], &with_data("users.json"))
            .expect_err("not an array");
        assert_contains(&e.to_string(), &["expected a JSON array of objects"]);
        let e = error(&with_data("users.txt"));
        assert_contains(&e, &["data.file: `users.txt`: data files are .csv"]);
    }

    #[test]
    fn data_that_would_not_fit_in_a_job_is_refused_with_its_size() {
        let mut csv = String::from("id,name\n");
        for i in 0..8000 {
            csv.push_str(&format!("{i},user-{i}-with-a-longer-name\n"));
        }
        let e = load_with(&[("users.csv", &csv)], &with_data("users.csv"))
            .expect_err("too big")
            .to_string();
        assert_contains(
            &e,
            &[
                ":9: scenarios.browse.data.file: `users.csv` is ",
                " KB of rows as job JSON",
                "a worker's job must stay under 200 KB",
            ],
        );
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
