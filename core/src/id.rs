//! Validated names: [`RunId`], [`Region`], [`WorkerId`] and [`ObjectKey`].
//!
//! Each is a newtype over `String` with a private field: the only ways in are
//! constructors that refuse bad values, and serde goes through the same check
//! (`try_from = "String"`), so a stored plan or manifest naming a worker `../w1`
//! is refused when it is read, not when its objects are written somewhere
//! unexpected. [`ObjectKey`] also owns the layout of a run's objects in the
//! results bucket. This module knows nothing about what the objects hold.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} `{value}` is not valid: {reason}")]
pub struct IdError {
    /// What was being named (`run id`, `region`, ...).
    pub kind: &'static str,
    /// The value as given (shortened when long).
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl IdError {
    fn new(kind: &'static str, value: &str, reason: &'static str) -> Self {
        let mut shown: String = value.chars().take(80).collect();
        if shown.len() < value.len() {
            shown.push('…');
        }
        Self {
            kind,
            value: shown,
            reason,
        }
    }
}

/// A name made of ASCII letters, digits, `-`, `_` and `.`, starting with a letter
/// or digit, at most `max` bytes, never `..`: safe as one path segment of a key or
/// a file name.
fn check_segment(
    kind: &'static str,
    s: &str,
    max: usize,
    lowercase_only: bool,
) -> Result<(), IdError> {
    let bad = |reason| Err(IdError::new(kind, s, reason));
    if s.is_empty() {
        return bad("it is empty");
    }
    if s.len() > max {
        return bad("it is too long");
    }
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return bad("it must start with a letter or a digit");
    }
    let allowed = |c: char| {
        c.is_ascii_digit()
            || c.is_ascii_lowercase()
            || (!lowercase_only && (c.is_ascii_uppercase() || c == '_' || c == '.'))
            || c == '-'
    };
    if !s.chars().all(allowed) {
        return bad(if lowercase_only {
            "only lowercase letters, digits and `-` are allowed"
        } else {
            "only letters, digits, `-`, `_` and `.` are allowed"
        });
    }
    if s.contains("..") {
        return bad("it must not contain `..`");
    }
    Ok(())
}

macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks `value` and wraps it.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                let check: fn(&str) -> Result<(), IdError> = $check;
                check(&value)?;
                Ok(Self(value))
            }

            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

validated_name!(
    /// Identifies one run, e.g. `20261123-203005-7f3a`; generated ids sort by start
    /// time. Letters, digits, `-`, `_`, `.`; at most 64 bytes; never `..`.
    RunId,
    "run id",
    |s| check_segment("run id", s, 64, false)
);
validated_name!(
    /// A load zone: an AWS region name such as `eu-west-1` (lowercase letters,
    /// digits and `-`, at most 32 bytes). Whether it is a real AWS region is the
    /// scenario parser's question; this type only guarantees a safe name.
    Region,
    "region",
    |s| check_segment("region", s, 32, true)
);
validated_name!(
    /// One worker (one Lambda invocation) within a region of a run, e.g. `w0003`.
    WorkerId,
    "worker id",
    |s| check_segment("worker id", s, 32, false)
);
validated_name!(
    /// A key in the results bucket: at most 1,024 bytes, no leading `/`, no empty,
    /// `.` or `..` segment, no control characters.
    ObjectKey,
    "object key",
    check_key
);

fn check_key(s: &str) -> Result<(), IdError> {
    let bad = |reason| Err(IdError::new("object key", s, reason));
    if s.is_empty() || s.len() > 1024 {
        return bad("it must be 1 to 1,024 bytes long");
    }
    if s.chars().any(char::is_control) {
        return bad("it must not contain control characters");
    }
    // A trailing `/` (a prefix) is allowed; every segment before it must be a name.
    let body = s.strip_suffix('/').unwrap_or(s);
    if body
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return bad("it must not have empty, `.` or `..` segments");
    }
    Ok(())
}

impl Region {
    /// `us-east-1`: where AWS puts what names no region, and sls-load's default
    /// load zone.
    pub fn us_east_1() -> Self {
        Self("us-east-1".to_owned())
    }
}

impl WorkerId {
    /// The worker id for the `index`-th worker of a region: `w0000`, `w0001`, ...
    pub fn numbered(index: usize) -> Self {
        Self(format!("w{index:04}"))
    }

    /// The worker id of slot `index`'s `slice`-th slice in a run cut into slices:
    /// `w0003-s01`.
    pub fn numbered_slice(index: usize, slice: u32) -> Self {
        Self(format!("w{index:04}-s{slice:02}"))
    }
}

/// The file names a worker writes below its prefix.
pub mod files {
    /// Created (only if absent) before the worker starts.
    pub const CLAIM: &str = "claim.json";
    /// Written once, last, when the worker finishes.
    pub const MANIFEST: &str = "manifest.json";
    /// `latency-{seq:05}.hlog`: the `seq`-th interval-log object of a worker.
    pub fn latency_log(seq: u32) -> String {
        format!("latency-{seq:05}.hlog")
    }
    /// Whether `file` is an interval-log object (`latency-00000.hlog` ...).
    pub fn is_latency_log(file: &str) -> bool {
        file.starts_with("latency-") && file.ends_with(".hlog")
    }
}

// The constructors below join validated names with fixed text, so every key they
// make passes `check_key`; they build the value directly.
impl ObjectKey {
    /// `runs/{run_id}/`: everything a run stores lives below this prefix.
    pub fn run_prefix(run: &RunId) -> Self {
        Self(format!("runs/{run}/"))
    }
    /// `runs/{run_id}/plan.json`: the plan, written by the orchestrator before invoking.
    pub fn plan(run: &RunId) -> Self {
        Self(format!("runs/{run}/plan.json"))
    }
    /// `runs/{run_id}/summary.json`: the merged summary, written after collection.
    pub fn summary(run: &RunId) -> Self {
        Self(format!("runs/{run}/summary.json"))
    }
    /// `runs/{run_id}/report.html`: the HTML report, written with the summary.
    pub fn report_html(run: &RunId) -> Self {
        Self(format!("runs/{run}/report.html"))
    }
    /// `runs/{run_id}/control.json`: the kill switch, written by the orchestrator
    /// (`run`, `sls-load stop`) and read by the workers.
    pub fn control(run: &RunId) -> Self {
        Self(format!("runs/{run}/control.json"))
    }
    /// `runs/{run_id}/events.json`: what a drill's events did, written by the
    /// orchestrator after they ran (docs/FORMAT.md).
    pub fn events(run: &RunId) -> Self {
        Self(format!("runs/{run}/events.json"))
    }
    /// `runs/{run_id}/heartbeat.json`: the dead-man switch of a run started with
    /// `--heartbeat`, refreshed by the orchestrator and read by the workers.
    pub fn heartbeat(run: &RunId) -> Self {
        Self(format!("runs/{run}/heartbeat.json"))
    }
    /// `runs/{run_id}/{region}/{worker_id}/`: one worker's results.
    pub fn worker_prefix(run: &RunId, region: &Region, worker: &WorkerId) -> Self {
        Self(format!("runs/{run}/{region}/{worker}/"))
    }
    /// `.../claim.json`: created (only if absent) before the worker starts, so that
    /// a second delivery of the same job finds it and sends nothing.
    pub fn claim(run: &RunId, region: &Region, worker: &WorkerId) -> Self {
        Self(format!("runs/{run}/{region}/{worker}/{}", files::CLAIM))
    }
    /// `.../manifest.json`: written once, last, when the worker finishes.
    pub fn manifest(run: &RunId, region: &Region, worker: &WorkerId) -> Self {
        Self(format!("runs/{run}/{region}/{worker}/{}", files::MANIFEST))
    }
    /// `.../latency-{seq:05}.hlog`: the `seq`-th flush of the worker's interval log.
    pub fn latency_log(run: &RunId, region: &Region, worker: &WorkerId, seq: u32) -> Self {
        Self(format!(
            "runs/{run}/{region}/{worker}/{}",
            files::latency_log(seq)
        ))
    }

    /// Splits a worker object key into (region, worker, file name) if it is one.
    pub fn parse_worker_object(&self, run: &RunId) -> Option<(Region, WorkerId, &str)> {
        let rest = self.0.strip_prefix(&format!("runs/{run}/"))?;
        let mut parts = rest.splitn(3, '/');
        let region = Region::new(parts.next()?).ok()?;
        let worker = WorkerId::new(parts.next()?).ok()?;
        let file = parts.next()?;
        if file.is_empty() || file.contains('/') {
            return None;
        }
        Some((region, worker, file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_object_keys_round_trip() {
        let run = RunId::new("r1").unwrap();
        let region = Region::new("eu-west-1").unwrap();
        let worker = WorkerId::numbered(3);
        let key = ObjectKey::latency_log(&run, &region, &worker, 2);
        assert_eq!(key.as_str(), "runs/r1/eu-west-1/w0003/latency-00002.hlog");
        assert_eq!(
            key.parse_worker_object(&run),
            Some((region, worker, "latency-00002.hlog"))
        );
        assert_eq!(ObjectKey::plan(&run).parse_worker_object(&run), None);
    }

    #[test]
    fn names_that_could_leave_their_directory_are_refused() {
        for bad in [
            "",
            "..",
            "../x",
            "a/b",
            "../../evil",
            "a..b",
            ".hidden",
            "-x",
            "a b",
        ] {
            assert!(RunId::new(bad).is_err(), "run id {bad:?} accepted");
            assert!(WorkerId::new(bad).is_err(), "worker id {bad:?} accepted");
        }
        for good in [
            "20261123-203921-98bb",
            "bench-1795469698-332",
            "planned",
            "R_1.x",
        ] {
            assert!(RunId::new(good).is_ok(), "run id {good:?} refused");
        }
        assert!(Region::new("eu-west-1").is_ok());
        assert!(Region::new("local").is_ok());
        assert!(Region::new("EU-west-1").is_err());
        assert!(Region::new("eu/west").is_err());
        assert!(ObjectKey::new("runs/r1/plan.json").is_ok());
        assert!(ObjectKey::new("runs/r1/").is_ok());
        for bad in ["/runs", "runs/../x", "runs//x", "runs/./x", "", "a\nb"] {
            assert!(ObjectKey::new(bad).is_err(), "key {bad:?} accepted");
        }
    }

    #[test]
    fn serde_goes_through_the_same_check() {
        let ok: WorkerId = serde_json::from_str(r#""w0001""#).unwrap();
        assert_eq!(ok.as_str(), "w0001");
        let err = serde_json::from_str::<WorkerId>(r#""../w1""#).unwrap_err();
        assert!(
            err.to_string().contains("worker id `../w1` is not valid"),
            "{err}"
        );
        assert_eq!(serde_json::to_string(&ok).unwrap(), r#""w0001""#);
    }

    #[test]
    fn a_worker_key_with_an_unsafe_name_is_not_a_worker_object() {
        let run = RunId::new("r1").unwrap();
        let key = ObjectKey::new("runs/r1/EU/w1/manifest.json").unwrap();
        assert_eq!(key.parse_worker_object(&run), None);
    }
}
