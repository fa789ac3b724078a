//! The scenario error: one line naming the file, the line and the key, plus the
//! wording of parser errors (serde/yaml_serde messages turned into this module's
//! words) and of user text inside messages.
//!
//! It does not decide what is wrong with a file (the raw shape and `build` do), and
//! it does not search the text for a key's line (`locate` does).

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::locate::{Seg, duplicate_line, line_of, render_path};

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
    pub(super) fn new(
        file: &Path,
        line: Option<usize>,
        key: Option<String>,
        message: &str,
    ) -> Self {
        ScenarioError {
            file: file.to_owned(),
            line,
            key,
            // Long enough for the longest list of choices a message names (the
            // supported metrics); user text inside is shortened by `shown`.
            message: one_line(message, 1000),
        }
    }

    /// An error about the value at `path`, with the line it is on in `text`.
    pub(super) fn at(file: &Path, text: &str, path: &[Seg<'_>], message: &str) -> Self {
        Self::new(file, line_of(text, path), Some(render_path(path)), message)
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

/// Joins the pieces between line breaks (and other control characters) with single
/// spaces, trimming each piece, and shortens to `max` characters.
pub(super) fn one_line(text: &str, max: usize) -> String {
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
pub(super) fn shown(text: &str) -> String {
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
pub(super) fn from_yaml(
    file: &Path,
    text: &str,
    error: serde_path_to_error::Error<yaml_serde::Error>,
    pass: Pass,
) -> ScenarioError {
    let path = tracked_path(&error);
    let inner = error.inner();
    let location = inner.location();
    let mut line = location.as_ref().map(|l| l.line());
    let mut message = strip_path_prefix(strip_positions(&inner.to_string()), path.as_deref());
    let key = match pass {
        Pass::Syntax => duplicate_key(text, location.as_ref(), path, &mut message, &mut line),
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
    if let Some(both) = both_spellings(&message) {
        message = both;
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

/// The key path serde tracked, `None` at the top level. `?` stands for a key the
/// parser never finished reading, and is cut off with what follows.
fn tracked_path(error: &serde_path_to_error::Error<yaml_serde::Error>) -> Option<String> {
    let mut path = error.path().to_string();
    if let Some(at) = path.find('?') {
        path.truncate(at);
        path = path.trim_end_matches('.').to_owned();
    }
    (!path.is_empty() && path != ".").then_some(path)
}

/// `message` without the path yaml_serde prefixes it with, which is the tracked
/// path or one of its ancestors.
fn strip_path_prefix(message: String, path: Option<&str>) -> String {
    let mut cut = path.unwrap_or_default();
    while !cut.is_empty() {
        if let Some(rest) = message.strip_prefix(&format!("{cut}: ")) {
            return rest.to_owned();
        }
        cut = &cut[..cut.rfind(['.', '[']).unwrap_or(0)];
    }
    message
}

/// The key of a plain-YAML error: for a duplicate key, its path (with `message` and
/// `line` pointing at its second occurrence); otherwise none, because where the
/// parser gave up says more than the key it was in.
fn duplicate_key(
    text: &str,
    location: Option<&yaml_serde::Location>,
    parent: Option<String>,
    message: &mut String,
    line: &mut Option<usize>,
) -> Option<String> {
    let dup = message
        .strip_prefix("duplicate entry with key \"")
        .and_then(|m| m.strip_suffix('"'))
        .map(str::to_owned)?;
    if let Some(at) = location {
        *line = duplicate_line(text, at.line(), at.column(), &dup).or(*line);
    }
    *message = format!("duplicate key `{dup}`; each key may appear only once");
    Some(match parent {
        Some(parent) => format!("{parent}.{dup}"),
        None => dup,
    })
}

/// serde's "duplicate field `start_vus`" after the plain-YAML pass found no repeated
/// key: the file gave both the snake_case and k6's camelCase spelling of it.
fn both_spellings(message: &str) -> Option<String> {
    let field = message
        .strip_prefix("duplicate field `")?
        .strip_suffix('`')?;
    let (snake, camel) = super::locate::ALIASES
        .iter()
        .find(|(snake, camel)| *snake == field || *camel == field)?;
    Some(format!(
        "`{snake}` and `{camel}` are two spellings of one key; give only one"
    ))
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
pub(super) enum Pass {
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
pub(super) fn line_at(text: &str, index: usize) -> usize {
    text.as_bytes()[..index.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// 1-based line of the first line that is not blank, a comment or a document marker.
pub(super) fn first_content_line(text: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim().trim_start_matches('\u{feff}');
            !(t.is_empty() || t.starts_with('#') || t == "---" || t == "...")
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::test_support::*;

    #[test]
    fn an_unknown_metric_lists_every_supported_one_to_the_last() {
        let e = error(&minimal_with(
            "scenarios:",
            "thresholds: { vus_mx: ['max<10'] }\nscenarios:",
        ));
        assert_contains(
            &e,
            &[
                "unknown metric `vus_mx`",
                "vus, vus_max, time_to_recover, time_to_detect, drill_errors)",
            ],
        );
        assert!(!e.contains('…'), "{e}");
    }

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
        let long = ScenarioError::new(Path::new("s.yaml"), None, None, &"x".repeat(2000));
        assert!(long.message.chars().count() <= 1000);
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
}
