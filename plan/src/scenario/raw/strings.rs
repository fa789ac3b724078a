//! Text values of the scenario file: the [`Checked`] string visitor that validates
//! and normalises while deserializing, the `deserialize_with` readers built on it
//! (target, executor, names, URLs, methods, headers, pointers, regexes, data file
//! names) and the checks themselves.
//!
//! It does not check text against other values (templates against data columns,
//! URLs against the target: `build` does) and does not read files.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, Visitor};
use sls_load_core::job::Arrivals;
use sls_load_core::template::{ENV_PREFIX, VAR_ITER, VAR_VU};

use super::ExecutorKind;
use crate::scenario::error::{one_line, shown};

/// A string visitor (and seed) that validates and normalises with `check`.
pub(super) struct Checked<F> {
    pub(super) expecting: &'static str,
    pub(super) check: F,
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

pub(super) fn target_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a base URL like http://127.0.0.1:8080", check_target)
}

pub(super) fn executor_name<'de, D: Deserializer<'de>>(d: D) -> Result<ExecutorKind, D::Error> {
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

pub(super) fn request_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a request name", |s| check_name("request name", s))
}

pub(super) fn request_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a URL path like /search?q=x", check_request_url)
}

pub(super) fn optional_method<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, "an HTTP method like GET", check_method).map(Some)
}

pub(super) fn optional_arrivals<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Arrivals>, D::Error> {
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

pub(super) fn data_file<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
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
    if name == VAR_VU || name == VAR_ITER || name.starts_with(ENV_PREFIX) {
        return Err(format!("`{name}` is built in; pick another {what}"));
    }
    Ok(name)
}

pub(super) fn variable_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
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

pub(super) fn pointer<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a JSON pointer like /data/0/id", check_pointer)
}

pub(super) fn optional_pointer<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    pointer(d).map(Some)
}

pub(super) fn check_header_name(text: &str) -> Result<String, String> {
    http::HeaderName::from_bytes(text.as_bytes())
        .map(|_| text.to_owned())
        .map_err(|_| format!("invalid header name `{}`", shown(text)))
}

pub(super) fn header_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a header name", check_header_name)
}

pub(super) fn optional_header_name<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    header_name(d).map(Some)
}

pub(super) fn optional_regex<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, "a regular expression", |s| {
        regex::Regex::new(s)
            .map(|_| s.to_owned())
            .map_err(|e| format!("invalid regex: {}", one_line(&e.to_string(), 200)))
    })
    .map(Some)
}

pub(super) fn check_label<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a check name like \"status is 200\"", |s| {
        if s.trim().is_empty() {
            Err("a check needs a name, e.g. \"status is 200\"".into())
        } else {
            Ok(s.to_owned())
        }
    })
}

/// A JSON value that is present, `null` included (an absent key stays `None`).
pub(super) fn present_json<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
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

const UNSUPPORTED_EXECUTORS: [&str; 1] = ["externally-controlled"];

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

pub(crate) fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

pub(super) fn check_name(what: &str, text: &str) -> Result<String, String> {
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

/// `text` as the AWS region it names: an AWS region, `amazon:<region>` or a k6
/// load zone (see [`crate::zones`]); unknown names get a suggestion.
pub(super) fn check_region(text: &str) -> Result<String, String> {
    crate::zones::region_name(text)
        .map(str::to_owned)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use crate::scenario::test_support::*;

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
    fn a_yaml_null_is_not_a_method() {
        let e = error(&minimal_with("url: / }", "url: /, method: ~ }"));
        assert_contains(&e, &["requests[0].method: invalid HTTP method `~`"]);
    }

    #[test]
    fn externally_controlled_is_not_supported_yet_and_unknown_executors_are_unknown() {
        let e = error(&minimal_with(
            "constant-arrival-rate",
            "externally-controlled",
        ));
        assert_eq!(
            e,
            "load/browse.yaml:5: scenarios.browse.executor: executor `externally-controlled` is \
             not supported yet (supported: constant-arrival-rate, ramping-arrival-rate, \
             constant-vus, ramping-vus, per-vu-iterations, shared-iterations)"
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
}
