//! Fault switches of the local S3 stand-in, for tests and rehearsals: parsing
//! `SLS_LOAD_LOCAL_S3_FAULTS` ([`S3Faults::from_env`]) and deciding, request by
//! request, whether to add latency and whether to answer 500 `InternalError` or
//! 503 `SlowDown` instead of serving it ([`S3Faults::decide`]). Also the small
//! `name=value` spec parser the Lambda switches share.
//! It does not answer requests (the hyper layer in [`super::s3`] does) and holds
//! no Lambda switch (see `lambda/faults.rs`). The grammar is documented in
//! docs/TESTING.md.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::LocalError;

/// The environment variable holding the S3 fault rules.
pub const S3_FAULTS_ENV: &str = "SLS_LOAD_LOCAL_S3_FAULTS";

/// Splits a spec into clauses (`;`) of `name=value` fields (`,`), skipping empty ones.
pub(crate) fn spec_clauses(spec: &str) -> Result<Vec<Vec<(String, String)>>, LocalError> {
    let mut clauses = Vec::new();
    for clause in spec.split(';').map(str::trim).filter(|c| !c.is_empty()) {
        let mut fields = Vec::new();
        for field in clause.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            let (name, value) = field
                .split_once('=')
                .ok_or_else(|| spec_error(format!("{field:?} is not name=value")))?;
            fields.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        clauses.push(fields);
    }
    Ok(clauses)
}

/// The spec in environment variable `name`; empty when it is unset.
pub(crate) fn env_spec(name: &str) -> Result<String, LocalError> {
    match std::env::var(name) {
        Ok(spec) => Ok(spec),
        Err(std::env::VarError::NotPresent) => Ok(String::new()),
        Err(e) => Err(spec_error(format!("{name}: {e}"))),
    }
}

pub(crate) fn spec_error(message: String) -> LocalError {
    LocalError::Config(format!("fault switch: {message}"))
}

pub(crate) fn parse_num<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, LocalError> {
    value
        .parse()
        .map_err(|_| spec_error(format!("{name}={value:?} is not a valid number")))
}

pub(crate) fn parse_duration(name: &str, value: &str) -> Result<Duration, LocalError> {
    sls_load_core::duration::parse(value)
        .map_err(|e| spec_error(format!("{name}={value:?} is not a duration: {e}")))
}

/// Which requests a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Op {
    /// Every request.
    Any,
    /// `PUT` of an object.
    Put,
    /// `GET` or `HEAD` of an object.
    Get,
    /// `GET` of a bucket (listing).
    List,
}

/// One rule of [`S3Faults`].
#[derive(Debug)]
struct Rule {
    op: S3Op,
    key: Option<String>,
    key_suffix: Option<String>,
    every: Option<u64>,
    rate: Option<f64>,
    first: Option<u64>,
    status: Option<u16>,
    latency: Duration,
    /// Requests that passed the op and key filters.
    matched: AtomicU64,
    /// Attempts per key (for `first`).
    attempts: Mutex<HashMap<String, u64>>,
    rng: Mutex<StdRng>,
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct S3Decision {
    /// Wait this long before answering.
    pub latency: Duration,
    /// Answer this status (500 or 503) instead of serving the request.
    pub status: Option<u16>,
}

/// The S3 stand-in's fault rules (none by default).
#[derive(Debug, Default)]
pub struct S3Faults {
    rules: Vec<Rule>,
    /// The spec the rules were parsed from (for logs).
    spec: String,
}

impl S3Faults {
    /// The rules in `SLS_LOAD_LOCAL_S3_FAULTS` (none when unset or empty).
    pub fn from_env() -> Result<S3Faults, LocalError> {
        S3Faults::parse(&env_spec(S3_FAULTS_ENV)?)
    }

    /// Parses rules such as `op=put,status=503,every=10; key-suffix=x.hlog,status=503,first=2; latency=20ms`.
    pub fn parse(spec: &str) -> Result<S3Faults, LocalError> {
        let rules = spec_clauses(spec)?
            .into_iter()
            .map(|fields| parse_rule(&fields))
            .collect::<Result<_, _>>()?;
        Ok(S3Faults {
            rules,
            spec: spec.trim().to_owned(),
        })
    }

    /// The spec the rules were parsed from.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// True when there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Applies every rule to a request: latencies add up, the first rule firing
    /// with a status decides the answer. `key` is `None` for bucket-level requests.
    pub fn decide(&self, method: &http::Method, key: Option<&str>) -> S3Decision {
        let op = match (method, key) {
            (&http::Method::PUT, Some(_)) => S3Op::Put,
            (&http::Method::GET | &http::Method::HEAD, Some(_)) => S3Op::Get,
            (&http::Method::GET, None) => S3Op::List,
            _ => S3Op::Any,
        };
        let mut decision = S3Decision::default();
        for rule in &self.rules {
            if rule.fires(op, key.unwrap_or("")) {
                decision.latency += rule.latency;
                if decision.status.is_none() {
                    decision.status = rule.status;
                }
            }
        }
        decision
    }
}

impl Rule {
    fn fires(&self, op: S3Op, key: &str) -> bool {
        if self.op != S3Op::Any && self.op != op {
            return false;
        }
        if self.key.as_deref().is_some_and(|k| k != key)
            || self
                .key_suffix
                .as_deref()
                .is_some_and(|s| !key.ends_with(s))
        {
            return false;
        }
        let n = self.matched.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(first) = self.first {
            let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
            let seen = attempts.entry(key.to_owned()).or_insert(0);
            *seen += 1;
            if *seen > first {
                return false;
            }
        }
        if self.every.is_some_and(|every| !n.is_multiple_of(every)) {
            return false;
        }
        if let Some(rate) = self.rate {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            if !rng.random_bool(rate) {
                return false;
            }
        }
        true
    }
}

fn parse_rule(fields: &[(String, String)]) -> Result<Rule, LocalError> {
    let mut rule = Rule {
        op: S3Op::Any,
        key: None,
        key_suffix: None,
        every: None,
        rate: None,
        first: None,
        status: None,
        latency: Duration::ZERO,
        matched: AtomicU64::new(0),
        attempts: Mutex::new(HashMap::new()),
        rng: Mutex::new(StdRng::seed_from_u64(0)),
    };
    for (name, value) in fields {
        match name.as_str() {
            "op" => {
                rule.op = match value.as_str() {
                    "any" => S3Op::Any,
                    "put" => S3Op::Put,
                    "get" => S3Op::Get,
                    "list" => S3Op::List,
                    _ => {
                        return Err(spec_error(format!(
                            "op={value:?}: use put, get, list or any"
                        )));
                    }
                }
            }
            "key" => rule.key = Some(value.clone()),
            "key-suffix" => rule.key_suffix = Some(value.clone()),
            "every" => rule.every = Some(parse_num::<u64>(name, value)?.max(1)),
            "rate" => {
                let rate: f64 = parse_num(name, value)?;
                if !(0.0..=1.0).contains(&rate) {
                    return Err(spec_error(format!("rate={value} is not in [0, 1]")));
                }
                rule.rate = Some(rate);
            }
            "seed" => rule.rng = Mutex::new(StdRng::seed_from_u64(parse_num(name, value)?)),
            "first" => rule.first = Some(parse_num(name, value)?),
            "status" => match parse_num::<u16>(name, value)? {
                s @ (500 | 503) => rule.status = Some(s),
                s => return Err(spec_error(format!("status={s}: use 500 or 503"))),
            },
            "latency" => rule.latency = parse_duration(name, value)?,
            _ => return Err(spec_error(format!("unknown S3 fault field {name:?}"))),
        }
    }
    if rule.status.is_none() && rule.latency.is_zero() {
        return Err(spec_error(
            "an S3 rule needs status=500|503 or latency=DURATION".into(),
        ));
    }
    Ok(rule)
}

/// The S3 error body for an injected status: 503 `SlowDown`, 500 `InternalError`.
pub(crate) fn s3_error_body(status: u16, request_id: &str) -> (&'static str, String) {
    let (code, message) = if status == 503 {
        ("SlowDown", "Please reduce your request rate.")
    } else {
        (
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
    );
    (code, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn statuses(
        faults: &S3Faults,
        method: &Method,
        key: Option<&str>,
        n: usize,
    ) -> Vec<Option<u16>> {
        (0..n).map(|_| faults.decide(method, key).status).collect()
    }

    #[test]
    fn a_named_key_fails_its_first_attempts_then_succeeds() {
        let f = S3Faults::parse("op=put,key-suffix=latency-00001.hlog,status=503,first=2").unwrap();
        let key = "runs/r/us-east-1/w0000/latency-00001.hlog";
        assert_eq!(
            statuses(&f, &Method::PUT, Some(key), 4),
            [Some(503), Some(503), None, None]
        );
        // Another worker's object has its own count; other keys and GETs pass.
        let other = "runs/r/us-east-1/w0001/latency-00001.hlog";
        assert_eq!(
            statuses(&f, &Method::PUT, Some(other), 3),
            [Some(503), Some(503), None]
        );
        assert_eq!(
            statuses(&f, &Method::PUT, Some("runs/r/x/latency-00002.hlog"), 2),
            [None, None]
        );
        assert_eq!(statuses(&f, &Method::GET, Some(key), 1), [None]);
    }

    #[test]
    fn every_nth_and_seeded_rates_are_deterministic() {
        let f = S3Faults::parse("op=put,status=500,every=3").unwrap();
        let got = statuses(&f, &Method::PUT, Some("k"), 6);
        assert_eq!(got, [None, None, Some(500), None, None, Some(500)]);
        assert_eq!(statuses(&f, &Method::GET, None, 3), [None, None, None]);

        let spec = "op=get,status=503,rate=0.5,seed=7";
        let a = statuses(&S3Faults::parse(spec).unwrap(), &Method::GET, Some("k"), 64);
        let b = statuses(&S3Faults::parse(spec).unwrap(), &Method::GET, Some("k"), 64);
        assert_eq!(a, b, "the same seed fails the same requests");
        let failed = a.iter().filter(|s| s.is_some()).count();
        assert!((10..=54).contains(&failed), "{failed} of 64");
    }

    #[test]
    fn latency_adds_up_and_the_first_status_wins() {
        let f =
            S3Faults::parse("latency=20ms; op=list,latency=5ms,status=500; status=503").unwrap();
        let d = f.decide(&Method::GET, None);
        assert_eq!(d.latency, Duration::from_millis(25));
        assert_eq!(d.status, Some(500));
        let d = f.decide(&Method::PUT, Some("k"));
        assert_eq!(
            d,
            S3Decision {
                latency: Duration::from_millis(20),
                status: Some(503)
            }
        );
    }

    #[test]
    fn bad_specs_are_refused() {
        assert!(S3Faults::parse("").unwrap().is_empty());
        for bad in [
            "op=put",
            "status=404",
            "op=post,status=500",
            "rate=2,status=500",
            "latency=soon",
            "bogus=1,status=500",
            "status",
        ] {
            assert!(S3Faults::parse(bad).is_err(), "{bad:?}");
        }
    }
}
