//! What a worker writes as its last object, the manifest ([`Manifest`]): its
//! counts per request and check, its failures by class ([`ErrorClass`]), the
//! interval logs it stored and what it could not store. Part of the wire
//! contract of [`crate::job`], which names these types too.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::dns::Resolution;
use crate::id::{Region, RunId, WorkerId};

/// Why a request failed, in the classes the summary reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The TCP connection was refused or reset before a response.
    Connect,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed.
    Tls,
    /// No response within the request timeout, or still in flight when the slice ended.
    Timeout,
    /// A 4xx response.
    Http4xx,
    /// A 5xx response.
    Http5xx,
    /// A response whose status was not the expected one (and not 4xx/5xx).
    Status,
    /// The connection broke mid-response or another protocol error.
    Protocol,
    /// A response that failed at least one of its checks. Counted in
    /// `errors_by_class` only: as in k6, a failed check does not fail the request,
    /// so it is not in `errors` (the `checks` figures have the per-check counts).
    CheckFailed,
    /// A response whose body was longer than `http.max_body_buffer` while a
    /// capture or check needed it; its reading stopped there.
    BodyTooLarge,
}

impl ErrorClass {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Connect => "connect",
            ErrorClass::Dns => "dns",
            ErrorClass::Tls => "tls",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Http4xx => "http_4xx",
            ErrorClass::Http5xx => "http_5xx",
            ErrorClass::Status => "status",
            ErrorClass::Protocol => "protocol",
            ErrorClass::CheckFailed => "check_failed",
            ErrorClass::BodyTooLarge => "body_too_large",
        }
    }
}

/// Counts for one request name within one worker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RequestCounts {
    /// Requests sent (or attempted), failed ones included.
    pub requests: u64,
    /// Requests that failed, any class.
    pub errors: u64,
    /// Failures by class.
    #[serde(default)]
    pub errors_by_class: BTreeMap<ErrorClass, u64>,
}

/// Pass and fail counts of one check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CheckCounts {
    /// Responses for which the check held.
    pub passes: u64,
    /// Responses for which it did not.
    pub fails: u64,
}

/// Written by a worker as its last object: what it did and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Manifest {
    /// [`FORMAT_VERSION`](crate::job::FORMAT_VERSION) of the writer.
    pub format: u32,
    /// The run.
    pub run_id: RunId,
    /// The region the worker ran in.
    pub region: Region,
    /// The worker.
    pub worker_id: WorkerId,
    /// When the worker's process started initialising (cold start), if this invocation
    /// was the first of its process.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    #[serde(with = "humantime_serde")]
    pub init_duration: Option<Duration>,
    /// When the invocation reached the handler.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "humantime_serde")]
    pub invoked_at: SystemTime,
    /// The `start_at` the worker was given.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "humantime_serde")]
    pub start_at: SystemTime,
    /// When its first request actually left, if it sent any.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    #[serde(with = "humantime_serde")]
    pub first_request_at: Option<SystemTime>,
    /// When it stopped (last in-flight request settled).
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "humantime_serde")]
    pub finished_at: SystemTime,
    /// Iterations that could not start because every VU was busy (open model).
    pub dropped_iterations: u64,
    /// Arrivals due while a drill paused this worker's region (open model);
    /// absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub paused_iterations: u64,
    /// Counts per request name.
    pub requests: BTreeMap<String, RequestCounts>,
    /// Pass/fail counts per check name (absent in manifests of workers without checks).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, CheckCounts>,
    /// How many interval-log objects it wrote (`latency-00000.hlog` ...).
    pub latency_logs: u32,
    /// The interval-log objects it wrote, in order, each with the requests its
    /// intervals hold, so a reader can tell a missing or short object (absent in
    /// manifests of older workers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<LogRecord>,
    /// Interval-log names whose PUT failed: their intervals went on to a later
    /// name, so an object stored there anyway is left out by readers (absent
    /// when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<String>,
    /// Intervals it recorded but could not store: every PUT of them failed, up to
    /// and including its last flush.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unwritten: Option<Unwritten>,
    /// True when the worker stopped before the end of its slice because the run's
    /// control object (or a stale heartbeat) told it to.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped: bool,
    /// Each change of its answer for the target's host name, the first included
    /// (absent when the target is an IP address, and in older manifests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolutions: Vec<Resolution>,
    /// JavaScript exceptions that ended iterations (k6 logs them and goes on),
    /// by message (`Error: boom at default (script.js:12:5)`), with how often
    /// each was thrown; at most [`MAX_EXCEPTION_MESSAGES`] messages, further
    /// ones counted under `other`. Absent when none (and for YAML scenarios).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exceptions: BTreeMap<String, u64>,
    /// Set when the script called `test.abort()` (k6's exit code 108): its
    /// reason. The worker stopped itself; the orchestrator stops the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<String>,
}

/// Most distinct exception messages a manifest lists.
pub const MAX_EXCEPTION_MESSAGES: usize = 20;

/// One interval-log object a worker wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LogRecord {
    /// Its file name below the worker's prefix (`latency-00001.hlog`).
    pub name: String,
    /// Requests its intervals hold (`http_req_duration` + `http_req_errored` values).
    pub requests: u64,
}

/// Intervals a worker could not store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Unwritten {
    /// The first second of the run they cover.
    pub first_second: u64,
    /// The last second of the run they cover.
    pub last_second: u64,
    /// Requests they hold.
    pub requests: u64,
    /// Why the last attempt to store them failed.
    pub error: String,
}

/// For `skip_serializing_if`: a zero count is left out.
fn is_zero(n: &u64) -> bool {
    *n == 0
}
