//! The interval-log tag scheme: what a `Tag=` value of an interval line means.
//!
//! This module owns the encoding of a sample's metric and k6-like tags into one
//! tag string and its parsing back, for both versions: version 1
//! (`{metric}:{request name}`, still read for old logs) and version 2
//! (`v2;metric=http_req_duration;name=home;status=200;method=GET`, keys and
//! values percent-escaped). It does not record or merge histograms (the worker's
//! recorder and the orchestrator's merge do) and does not decide which tags a
//! sample carries. docs/FORMAT.md "Interval logs" describes the same scheme.

use thiserror::Error;

/// The tag scheme version the worker writes.
pub const TAG_VERSION: u32 = 2;

/// The tag key of the request name.
pub const KEY_NAME: &str = "name";
/// The tag key of the response status code (`0` for no response).
pub const KEY_STATUS: &str = "status";
/// The tag key of the HTTP method.
pub const KEY_METHOD: &str = "method";
/// The tag key of the scenario name.
pub const KEY_SCENARIO: &str = "scenario";
/// The tag key saying whether the response was the expected one (`true`/`false`).
pub const KEY_EXPECTED: &str = "expected_response";
/// The tag key of a check name (on `checks` counter intervals).
pub const KEY_CHECK: &str = "check";
/// The tag key saying whether a check passed (on `checks` counter intervals).
pub const KEY_PASSED: &str = "passed";

/// The tag key of the backend that answered (the value of the scenario's
/// `served_by.header` response header; [`SERVED_NONE`] when absent).
pub const KEY_SERVED_BY: &str = "served_by";
/// The `served_by` value of a request whose response had no such header (or
/// that got no response).
pub const SERVED_NONE: &str = "none";

/// The metric of per-interval check counters (k6's `checks`): each interval's
/// histogram count is the number of results with its `check` and `passed` tags.
pub const METRIC_CHECKS: &str = "checks";

/// The metric of per-interval dropped-iteration counters (k6's
/// `dropped_iterations`), tagged with `scenario`; the histogram's count is the number.
pub const METRIC_DROPPED: &str = "dropped_iterations";

/// The metric of per-interval paused-arrival counters (a drill's
/// `pause_region`: arrivals due while the region was paused), tagged with
/// `scenario`; the histogram's count is the number.
pub const METRIC_PAUSED: &str = "paused_iterations";

/// The metric of per-interval iteration durations (k6's `iteration_duration`),
/// tagged with `scenario`; the histogram's count is k6's `iterations`.
pub const METRIC_ITERATION: &str = "iteration_duration";

/// The metric of per-interval bytes sent (k6's `data_sent`), tagged with the
/// request's `name`, `method` and `scenario`; the histogram's count is the bytes.
pub const METRIC_DATA_SENT: &str = "data_sent";

/// The metric of per-interval bytes received (k6's `data_received`), tagged like
/// [`METRIC_DATA_SENT`]; the histogram's count is the bytes.
pub const METRIC_DATA_RECEIVED: &str = "data_received";

/// The metric of per-interval active-VU gauges (k6's `vus`), tagged with
/// `scenario`: the histogram holds one value, the most VUs of the scenario that
/// ran an iteration at once in that second on that worker.
pub const METRIC_VUS: &str = "vus";

/// The metric of per-interval allocated-VU gauges (k6's `vus_max`), tagged with
/// `scenario`: the histogram holds one value, the VUs (connections) the worker
/// had started for the scenario by the end of that second.
pub const METRIC_VUS_MAX: &str = "vus_max";

/// The `status` value that stands for every status beyond the worker's cap on
/// distinct tag sets.
pub const STATUS_OTHER: &str = "other";

/// One interval's metric and tags, in the order they were written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TagSet {
    /// The metric, e.g. `http_req_duration`.
    pub metric: String,
    /// The tags, `(key, value)`; unknown keys are kept as they are.
    pub tags: Vec<(String, String)>,
}

/// Why a tag could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TagError {
    /// The tag is empty.
    #[error("interval without a tag")]
    Empty,
    /// A version-1 tag without the `:` before the request name.
    #[error("tag `{0}` has no request name")]
    NoRequestName(String),
    /// A `vN;` tag of a version this reader does not know.
    #[error("tag `{0}` is of an unknown tag version")]
    UnknownVersion(String),
    /// A version-2 tag without a `metric=` entry, or with an entry that is not `key=value`.
    #[error("tag `{0}` is malformed: {1}")]
    Malformed(String, &'static str),
}

impl TagSet {
    /// A tag set of `metric` with the given tags.
    pub fn new(metric: &str, tags: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            metric: metric.to_owned(),
            tags: tags.into_iter().collect(),
        }
    }

    /// The value of tag `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The request name (`name` tag), if present.
    pub fn name(&self) -> Option<&str> {
        self.get(KEY_NAME)
    }

    /// The version-2 encoding: `v2;metric=M;key=value;...`, keys and values escaped.
    pub fn encode(&self) -> String {
        let mut out = format!("v{TAG_VERSION};metric=");
        escape_into(&mut out, &self.metric);
        for (k, v) in &self.tags {
            out.push(';');
            escape_into(&mut out, k);
            out.push('=');
            escape_into(&mut out, v);
        }
        out
    }

    /// Reads a tag of either version: `v2;metric=...` or `{metric}:{request name}`
    /// (version 1, read as the tag set `metric` + `name`).
    pub fn parse(tag: &str) -> Result<TagSet, TagError> {
        if tag.is_empty() {
            return Err(TagError::Empty);
        }
        if let Some(rest) = tag.strip_prefix("v2;") {
            return parse_v2(tag, rest);
        }
        if is_versioned(tag) {
            return Err(TagError::UnknownVersion(tag.to_owned()));
        }
        let (metric, name) = tag
            .split_once(':')
            .ok_or_else(|| TagError::NoRequestName(tag.to_owned()))?;
        Ok(TagSet::new(
            metric,
            [(KEY_NAME.to_owned(), name.to_owned())],
        ))
    }
}

/// `vN;` with N digits: a versioned tag (no version-1 metric looks like one).
fn is_versioned(tag: &str) -> bool {
    tag.strip_prefix('v')
        .and_then(|r| r.split_once(';'))
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_v2(tag: &str, rest: &str) -> Result<TagSet, TagError> {
    let malformed = |why| TagError::Malformed(tag.to_owned(), why);
    let mut set = TagSet::default();
    let mut metric = None;
    for entry in rest.split(';').filter(|e| !e.is_empty()) {
        let (k, v) = entry
            .split_once('=')
            .ok_or_else(|| malformed("an entry is not key=value"))?;
        let (k, v) = (
            unescape(k).ok_or_else(|| malformed("bad escape"))?,
            unescape(v).ok_or_else(|| malformed("bad escape"))?,
        );
        if k == "metric" && metric.is_none() {
            metric = Some(v);
        } else {
            set.tags.push((k, v));
        }
    }
    set.metric = metric.ok_or_else(|| malformed("no metric="))?;
    Ok(set)
}

/// Whether `b` is written as itself; every other byte becomes `%XX`.
fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'~' | b'@')
}

fn escape_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        if plain(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn version_2_reads_back_what_it_wrote_with_awkward_names_escaped() {
        let set = TagSet::new(
            "http_req_duration",
            kv(&[
                ("name", "get home; then=more, 100% é"),
                ("status", "200"),
                ("method", "GET"),
                ("scenario", "browse"),
                ("expected_response", "true"),
            ]),
        );
        let text = set.encode();
        assert!(
            text.starts_with("v2;metric=http_req_duration;name=get%20home%3B%20then%3Dmore%2C"),
            "{text}"
        );
        assert!(!text.contains([',', ' ', '\n']), "{text}");
        assert_eq!(TagSet::parse(&text), Ok(set));
    }

    #[test]
    fn the_documented_example_reads_as_its_tags() {
        let set = TagSet::parse(
            "v2;metric=http_req_duration;name=home;status=200;method=GET;scenario=browse;expected_response=true",
        )
        .unwrap();
        assert_eq!(set.metric, "http_req_duration");
        assert_eq!(set.name(), Some("home"));
        assert_eq!(set.get(KEY_STATUS), Some("200"));
        assert_eq!(set.get(KEY_EXPECTED), Some("true"));
    }

    #[test]
    fn version_1_tags_still_read_as_metric_and_request_name() {
        let set = TagSet::parse("http_req_duration:home:page").unwrap();
        assert_eq!(set.metric, "http_req_duration");
        assert_eq!(set.tags, kv(&[("name", "home:page")]));
        assert_eq!(
            TagSet::parse("nocolon"),
            Err(TagError::NoRequestName("nocolon".into()))
        );
        assert_eq!(TagSet::parse(""), Err(TagError::Empty));
    }

    #[test]
    fn unknown_keys_are_kept_and_unknown_versions_refused() {
        let set = TagSet::parse("v2;metric=http_reqs;name=a;served_by=edge%2D1").unwrap();
        assert_eq!(set.get("served_by"), Some("edge-1"));
        assert!(matches!(
            TagSet::parse("v3;metric=x"),
            Err(TagError::UnknownVersion(_))
        ));
        assert!(matches!(
            TagSet::parse("v2;name=a"),
            Err(TagError::Malformed(..))
        ));
        assert!(matches!(
            TagSet::parse("v2;metric=a;name=%G1"),
            Err(TagError::Malformed(..))
        ));
    }
}
