//! Checks of what requests carry, for tests that must see a value arrive intact
//! (e.g. a secret passed with `sls-load run -e`): `--expect-header NAME=VALUE`
//! (repeatable) counts the requests whose header `NAME` equals `VALUE`, and
//! `--expect-body TEXT` the requests whose body contains `TEXT`. The counts are
//! the stats' `expected_headers` (in flag order) and `expected_body`, present only
//! when the flags are given. The values themselves are never printed.
//!
//! It does not change responses or any other count.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use hyper::HeaderMap;
use hyper::header::{HeaderName, HeaderValue};
use serde_json::Value;

/// `--expect-header NAME=VALUE`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderExpectation(pub HeaderName, pub HeaderValue);

impl HeaderExpectation {
    /// Parses `NAME=VALUE` (clap's value parser).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (name, value) = text.split_once('=').ok_or("expected NAME=VALUE")?;
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a header name"))?;
        let value = HeaderValue::from_str(value).map_err(|_| "not a header value".to_owned())?;
        Ok(Self(name, value))
    }
}

/// The expectations and how many requests met each.
#[derive(Debug, Default)]
pub struct Expect {
    headers: Vec<(HeaderExpectation, AtomicU64)>,
    body: Option<(Vec<u8>, AtomicU64)>,
}

impl Expect {
    /// Counters for `headers` and `body`, all zero.
    pub fn new(headers: Vec<HeaderExpectation>, body: Option<String>) -> Self {
        Self {
            headers: headers
                .into_iter()
                .map(|h| (h, AtomicU64::new(0)))
                .collect(),
            body: body.map(|b| (b.into_bytes(), AtomicU64::new(0))),
        }
    }

    /// Whether request bodies must be read (`--expect-body`).
    pub fn wants_body(&self) -> bool {
        self.body.is_some()
    }

    /// Counts the header expectations `headers` meet.
    pub fn check_headers(&self, headers: &HeaderMap) {
        for (HeaderExpectation(name, value), count) in &self.headers {
            if headers.get(name) == Some(value) {
                count.fetch_add(1, Relaxed);
            }
        }
    }

    /// Counts `body` if it contains the expected text.
    pub fn check_body(&self, body: &[u8]) {
        if let Some((text, count)) = &self.body
            && (text.is_empty() || body.windows(text.len()).any(|w| w == text.as_slice()))
        {
            count.fetch_add(1, Relaxed);
        }
    }

    /// Adds the counts to a stats JSON object (nothing without expectations).
    pub fn add_to(&self, stats: &mut Value) {
        let Some(object) = stats.as_object_mut() else {
            return;
        };
        if !self.headers.is_empty() {
            let counts: Vec<u64> = self.headers.iter().map(|(_, c)| c.load(Relaxed)).collect();
            object.insert("expected_headers".into(), counts.into());
        }
        if let Some((_, count)) = &self.body {
            object.insert("expected_body".into(), count.load(Relaxed).into());
        }
    }

    /// Zeroes the counts (`POST /__reset`).
    pub fn reset(&self) {
        let body = self.body.iter().map(|(_, c)| c);
        for count in self.headers.iter().map(|(_, c)| c).chain(body) {
            count.store(0, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_requests_that_carry_the_expected_values() {
        let expect = Expect::new(
            vec![HeaderExpectation::parse("authorization=Bearer t=1").expect("valid")],
            Some("t=1".into()),
        );
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer t=1"));
        expect.check_headers(&headers);
        headers.insert("authorization", HeaderValue::from_static("Bearer t=2"));
        expect.check_headers(&headers);
        expect.check_body(b"{\"t=1\"}");
        expect.check_body(b"t=2");
        let mut stats = serde_json::json!({ "requests": 2 });
        expect.add_to(&mut stats);
        assert_eq!(
            stats,
            serde_json::json!({ "requests": 2, "expected_headers": [1], "expected_body": 1 })
        );
        expect.reset();
        let mut stats = serde_json::json!({});
        Expect::default().add_to(&mut stats);
        assert_eq!(stats, serde_json::json!({}));
        assert!(HeaderExpectation::parse("no-value").is_err());
    }
}
