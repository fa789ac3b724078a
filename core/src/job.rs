//! The wire contract between the orchestrator and a worker: the Invoke payload
//! ([`Job`]), the per-worker result manifest ([`Manifest`], defined in
//! [`crate::manifest`] and named here too) and the object key layout in the
//! results bucket ([`ObjectKey`]).
//!
//! This module owns the serde shapes and the newtypes that name things (run,
//! region, worker, key). It does not run anything and does no IO; docs/FORMAT.md
//! describes the same shapes for people. The orchestrator imports these types,
//! never the reverse, so both sides always speak the same version.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// Version of the job and manifest wire format. Bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

pub use crate::dns::{DnsOptions, Resolution};
pub use crate::hlog::{HIST_HIGH_US, HIST_LOW_US, HIST_SIGFIG};
pub use crate::id::{IdError, ObjectKey, Region, RunId, WorkerId};
pub use crate::manifest::{
    CheckCounts, ErrorClass, LogRecord, MAX_EXCEPTION_MESSAGES, Manifest, RequestCounts, Unwritten,
};

/// Longest a worker waits after its slice for requests still in flight, before it
/// counts them as timeouts and flushes; planning and cost allow for it.
pub const MAX_DRAIN: Duration = Duration::from_secs(10);

/// Interval-log tag prefix for the latency of every request that got a response.
pub const TAG_DURATION: &str = "http_req_duration";
/// Interval-log tag prefix for requests that got a response the checks rejected (e.g. status).
pub const TAG_FAILED: &str = "http_req_failed";
/// Interval-log tag prefix for requests that got no response at all (refused, timeout, ...).
pub const TAG_ERRORED: &str = "http_req_errored";
/// Interval-log tag prefixes for the k6 phase timings of every request that got a
/// response, in phase order: blocked, connecting, TLS handshaking, sending,
/// waiting, receiving.
pub const TAG_PHASES: [&str; 6] = [
    "http_req_blocked",
    "http_req_connecting",
    "http_req_tls_handshaking",
    "http_req_sending",
    "http_req_waiting",
    "http_req_receiving",
];

/// The Invoke payload: everything one worker needs to run its slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Must equal [`FORMAT_VERSION`]; a worker refuses other versions.
    pub format: u32,
    /// The run this job belongs to.
    pub run_id: RunId,
    /// This worker's id, unique within its region.
    pub worker_id: WorkerId,
    /// The region this worker runs in (the load zone).
    pub region: Region,
    /// The wall-clock instant at which this worker's slice starts: it sends nothing before.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "humantime_serde")]
    pub start_at: SystemTime,
    /// How long the worker generates load, counted from `start_at` (the slice length).
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// How far into the run this slice begins (zero for the first slice). The run
    /// started at `start_at - run_offset`; executor schedules are functions of time
    /// since the run's start, and this worker runs the window
    /// `[run_offset, run_offset + duration)` of them.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(default, with = "humantime_serde")]
    pub run_offset: Duration,
    /// Index of this slice within its worker slot (0 for the first).
    #[serde(default)]
    pub slice: u32,
    /// Base URL every request's `url` is resolved against, e.g. `http://127.0.0.1:8080`.
    pub target: String,
    /// The scenarios this worker runs, each with this worker's share of the load.
    pub scenarios: Vec<JobScenario>,
    /// Where results go.
    pub results: ResultsLocation,
    /// How often the interval log is flushed to the store.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "humantime_serde")]
    pub flush_every: Duration,
    /// Per-request timeout; a request still unanswered after it counts as a timeout.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Protocol options (HTTP version, redirects, TLS, connection reuse).
    #[serde(default, skip_serializing_if = "HttpOptions::is_default")]
    pub http: HttpOptions,
    /// The values of the `{{__ENV.NAME}}` variables the scenarios use, by name.
    /// Filled only in the invoke payload, never in the stored plan.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The dead-man switch (`run --heartbeat`): stop when the run's heartbeat
    /// object has not changed for this long.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub heartbeat: Option<Duration>,
    /// The k6 JavaScript the VUs run instead of `requests` (a `.js` scenario);
    /// absent for YAML scenarios. Workers older than this field refuse such a
    /// job (unknown key), never run it as an empty YAML scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<JobScript>,
}

/// The JavaScript of a job: the script, the local modules it imports and the
/// files it `open()`s, by the path the script names them with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct JobScript {
    /// The path (a key of `files`) of the script itself, e.g. `script.js`.
    pub main: String,
    /// Every file the VUs may load: the script, the local modules it imports
    /// and the files `open()` reads, by normalised relative path.
    pub files: BTreeMap<String, ScriptFile>,
    /// The function each scenario's VUs run per iteration (k6's `exec`), by
    /// scenario name; a scenario not listed runs the `default` export.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exec: BTreeMap<String, String>,
    /// What `setup()` returned, as JSON text, handed to every iteration (and
    /// absent when the script has no `setup`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_data: Option<String>,
    /// k6's `discardResponseBodies`: responses have a `null` body unless a
    /// request asks for one with `responseType`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub discard_response_bodies: bool,
    /// k6's `tags` option: tags every sample of the run carries.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Send every request to `target`, whatever origin its URL names (`run
    /// script.js --target URL`: a script written for `https://test.k6.io`
    /// pointed at a test system); the `Host` header becomes the target's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retarget: bool,
}

/// One file of a [`JobScript`]: UTF-8 text as is, anything else base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum ScriptFile {
    /// A UTF-8 file (scripts, modules, CSV, JSON).
    Text(String),
    /// Any other file, base64 (standard alphabet, padded).
    Binary {
        /// The bytes, base64.
        base64: String,
    },
}

/// The `User-Agent` every request carries unless the scenario says otherwise
/// (k6 sends `k6/VERSION`).
pub const DEFAULT_USER_AGENT: &str = concat!("sls-load/", env!("CARGO_PKG_VERSION"));

/// Which HTTP version a worker speaks (the scenario's `http.version`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum HttpVersionChoice {
    /// HTTP/2 when a TLS server offers it via ALPN, otherwise HTTP/1.1.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only (h2c with prior knowledge over plain TCP).
    Http2,
}

/// Protocol options of a job, k6-style. Every field has a default, so older
/// payloads without `http` still parse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct HttpOptions {
    /// Which HTTP version to speak.
    pub version: HttpVersionChoice,
    /// Redirects to follow at most (k6's `maxRedirects`); 0 follows none.
    pub max_redirects: u32,
    /// Start each iteration on a new connection (k6's `noConnectionReuse`).
    pub new_connection_per_iteration: bool,
    /// Accept any server certificate (k6's `insecureSkipTLSVerify`).
    pub insecure_skip_tls_verify: bool,
    /// Extra trusted roots, PEM `CERTIFICATE` blocks (the content, not a path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca_pem: Option<String>,
    /// Limit for the TCP connect, and separately for the TLS handshake.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Most bytes of a response body a worker keeps for captures and checks that
    /// read it (the scenario's `http.max_body_buffer`); a longer body fails its
    /// request as [`ErrorClass::BodyTooLarge`]. Bodies nothing reads are never kept.
    pub max_body_buffer: u64,
    /// The response header naming the backend that answered (the scenario's
    /// `served_by.header`): every sample is tagged `served_by=<its value>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served_by_header: Option<String>,
    /// The request header in which the worker sends its own region (the
    /// scenario's `region_header`), so a router can route by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_header: Option<String>,
    /// `host:port` to dial instead of the URL's (the local network profiles'
    /// delaying proxy); the `Host` header and TLS server name stay the URL's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_to: Option<String>,
    /// How the target's name is resolved and re-resolved (the scenario's `dns`).
    #[serde(skip_serializing_if = "DnsOptions::is_default")]
    pub dns: DnsOptions,
    /// Where the target speaks HTTP/2, how many VUs share one connection as
    /// concurrent streams (the scenario's `http.max_streams_per_connection`);
    /// 1, the default, gives every VU its own connection, as k6 does. Absent
    /// from payloads that keep the default, so older workers still read them.
    #[serde(skip_serializing_if = "is_one")]
    pub max_streams_per_connection: u32,
    /// The `User-Agent` header of requests that do not set one (k6's
    /// `userAgent`): absent means [`DEFAULT_USER_AGENT`], an empty string
    /// sends none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// The default of [`HttpOptions::max_streams_per_connection`]: one VU per
/// connection.
pub const DEFAULT_MAX_STREAMS_PER_CONNECTION: u32 = 1;

fn is_one(n: &u32) -> bool {
    *n == DEFAULT_MAX_STREAMS_PER_CONNECTION
}

/// The default of [`HttpOptions::max_body_buffer`]: 1 MiB.
pub const DEFAULT_MAX_BODY_BUFFER: u64 = 1 << 20;

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            version: HttpVersionChoice::Auto,
            max_redirects: 10,
            new_connection_per_iteration: false,
            insecure_skip_tls_verify: false,
            tls_ca_pem: None,
            connect_timeout: Duration::from_secs(10),
            max_body_buffer: DEFAULT_MAX_BODY_BUFFER,
            served_by_header: None,
            region_header: None,
            connect_to: None,
            dns: DnsOptions::default(),
            max_streams_per_connection: DEFAULT_MAX_STREAMS_PER_CONNECTION,
            user_agent: None,
        }
    }
}

impl HttpOptions {
    /// Whether these are the defaults (then left out of the payload).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The `User-Agent` value requests carry unless they set their own
    /// (`None`: no header).
    pub fn user_agent(&self) -> Option<&str> {
        match self.user_agent.as_deref() {
            None => Some(DEFAULT_USER_AGENT),
            Some("") => None,
            Some(ua) => Some(ua),
        }
    }
}

impl Job {
    /// The instant the run (slice 0) started: `start_at - run_offset`.
    pub fn run_start(&self) -> SystemTime {
        self.start_at
            .checked_sub(self.run_offset)
            .unwrap_or(self.start_at)
    }

    /// How long after its slice this worker may still be busy: its requests'
    /// drain (the request timeout, at most [`MAX_DRAIN`]) or its scenarios'
    /// longest `graceful_stop`, whichever is longer.
    pub fn drain(&self) -> Duration {
        let grace = self
            .scenarios
            .iter()
            .map(|s| s.graceful_stop)
            .max()
            .unwrap_or_default();
        self.request_timeout.max(grace).min(MAX_DRAIN)
    }
}

/// One scenario as a worker runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct JobScenario {
    /// The scenario's name in the scenario file.
    pub name: String,
    /// How iterations are started.
    pub executor: Executor,
    /// Connections (virtual users) opened before the start (arrival-rate executors).
    pub pre_allocated_vus: u32,
    /// Upper bound on connections; an arrival that finds none free is a dropped
    /// iteration (arrival-rate executors). VU executors set both to their peak.
    pub max_vus: u32,
    /// The requests of one iteration, sent in order.
    pub requests: Vec<RequestSpec>,
    /// k6's `startTime`: when the scenario's schedule begins, as time since the run's
    /// start. Every executor's schedule is a function of time since this instant.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Duration::is_zero"
    )]
    pub start_time: Duration,
    /// How long the scenario runs from `start_time` (k6's `duration`, `maxDuration`
    /// for `per-vu-iterations`); `None`: until its stages end, or the run ends.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Duration>,
    /// How arrivals are spaced (arrival-rate executors).
    #[serde(default, skip_serializing_if = "Arrivals::is_constant")]
    pub arrivals: Arrivals,
    /// This worker's rows of the scenario's data file; iteration `i` of the worker
    /// uses row `i % rows.len()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataRows>,
    /// k6's `gracefulStop`, in the job of the slice where the scenario ends (zero in
    /// the others: a slice hand-over is no stop): iterations in progress at the end
    /// of the slice may send their remaining steps for this long, then are
    /// interrupted. At most [`MAX_DRAIN`].
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Duration::is_zero"
    )]
    pub graceful_stop: Duration,
}

/// How a scenario starts iterations. Tagged with k6's executor names.
///
/// Arrival rates are *this worker's* share, in iterations per second. VU counts of
/// `constant-vus` and `per-vu-iterations` are this worker's; `ramping-vus` carries
/// the scenario's whole schedule and the worker's [`VuSplit`], because a split of
/// integer VU counts is not itself a ramp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Executor {
    /// Open model: iterations start at a fixed rate regardless of how fast the target answers.
    ConstantArrivalRate {
        /// This worker's share of the rate, in iterations per second.
        rate: f64,
        /// Delay of this worker's first arrival after the scenario's start, so that the
        /// workers of a run interleave their arrivals instead of sending in lock-step.
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        #[serde(with = "humantime_serde")]
        offset: Duration,
    },
    /// Open model whose rate follows stages: linear from one target to the next.
    RampingArrivalRate {
        /// This worker's rate at the scenario's start, iterations per second.
        start_rate: f64,
        /// Each stage moves the rate linearly to its target over its duration; the
        /// scenario ends with the last stage.
        stages: Vec<RateStage>,
        /// Where this worker's arrivals sit within one of its iterations (0 ≤ phase < 1):
        /// worker `k` of `n` uses `k / n`, so the workers of a region interleave.
        #[serde(default)]
        phase: f64,
    },
    /// Closed model: a fixed number of VUs loop iterations back to back.
    ConstantVus {
        /// This worker's VUs.
        vus: u32,
    },
    /// Closed model whose VU count follows stages.
    RampingVus {
        /// The scenario's VUs at its start (all workers together).
        start_vus: u32,
        /// The scenario's stages (all workers together).
        stages: Vec<VuStage>,
        /// How long a VU removed by a ramp-down may go on with its current iteration.
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        #[serde(with = "humantime_serde")]
        graceful_ramp_down: Duration,
        /// Which of the scenario's VUs are this worker's.
        split: VuSplit,
    },
    /// Closed model: every VU runs a fixed number of iterations, within the scenario's
    /// `duration` (k6's `maxDuration`).
    PerVuIterations {
        /// This worker's VUs.
        vus: u32,
        /// Iterations each VU runs.
        iterations: u64,
    },
    /// Closed model (k6's `shared-iterations`): the VUs share a fixed number of
    /// iterations, each VU taking the next until none is left, within the
    /// scenario's `duration` (k6's `maxDuration`).
    SharedIterations {
        /// This worker's VUs.
        vus: u32,
        /// This worker's part of the scenario's iterations (see
        /// [`crate::schedule::worker_iterations`]).
        iterations: u64,
    },
}

/// One stage of `ramping-arrival-rate`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RateStage {
    /// How long the stage lasts.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// The rate reached at its end, iterations per second.
    pub target: f64,
}

/// One stage of `ramping-vus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct VuStage {
    /// How long the stage lasts.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// The VU count reached at its end.
    pub target: u32,
}

/// Which of a scenario's VUs one worker runs. `c` VUs split over the run's regions
/// by largest remainder on `weights` (each region first gets `floor(c·w)`, the VUs
/// left over go to the largest remainders; ties to the larger weight, then to the
/// earlier region), so the regions add up to `c` and the largest weights get VUs
/// first; within region `region`, VU `j` goes to worker `j % workers`.
/// `schedule::worker_vus` does the arithmetic.
///
/// Plans written before this shape carried `before` and `weight` (the region's
/// place in the unit interval); they still read, as the three parts
/// `[before, weight, rest]` with the region in the middle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(from = "VuSplitWire")]
pub struct VuSplit {
    /// Every region's normalised weight, in plan order.
    pub weights: Vec<f64>,
    /// This worker's region: its index in `weights`.
    pub region: u32,
    /// This worker's index within its region.
    pub worker: u32,
    /// Workers in the region.
    pub workers: u32,
}

/// The shapes a [`VuSplit`] reads from: the current one, or the older
/// `before`/`weight` one.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
enum VuSplitWire {
    Ranked(RankedSplit),
    Interval(IntervalSplit),
}

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RankedSplit {
    weights: Vec<f64>,
    region: u32,
    worker: u32,
    workers: u32,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct IntervalSplit {
    before: f64,
    weight: f64,
    worker: u32,
    workers: u32,
}

impl From<VuSplitWire> for VuSplit {
    fn from(wire: VuSplitWire) -> Self {
        match wire {
            VuSplitWire::Ranked(s) => Self {
                weights: s.weights,
                region: s.region,
                worker: s.worker,
                workers: s.workers,
            },
            VuSplitWire::Interval(s) => Self {
                weights: vec![s.before, s.weight, (1.0 - s.before - s.weight).max(0.0)],
                region: 1,
                worker: s.worker,
                workers: s.workers,
            },
        }
    }
}

/// How arrivals of an arrival-rate executor are spaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Evenly: one every `1 / rate`.
    #[default]
    Constant,
    /// A Poisson process: exponential gaps with mean `1 / rate`, from a seeded
    /// generator (run id + worker id), so a run can be replayed exactly.
    Poisson,
}

impl Arrivals {
    /// Whether this is the default, [`Arrivals::Constant`].
    pub fn is_constant(&self) -> bool {
        *self == Arrivals::Constant
    }
}

/// Rows of a data file: a header and this worker's rows, all strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DataRows {
    /// Column names, usable as `{{column}}`.
    pub columns: Vec<String>,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<String>>,
}

/// One HTTP request of an iteration (a step of the flow). Strings marked
/// *template* may use `{{name}}` for a data column, an earlier step's capture, or
/// `__VU` / `__ITER`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// Name used in tags and reports; `[A-Za-z0-9_.-]+`.
    pub name: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Path and query (`/search?q=x`) or an absolute URL on the target (template).
    pub url: String,
    /// Extra request headers (values are templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Request body, sent as is (template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The status a successful response has; any other status counts as failed.
    /// `None` accepts every status below 400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
    /// Query parameters appended to `url`, percent-encoded (values are templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// A JSON body (string values are templates), sent with
    /// `content-type: application/json` unless `headers` set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<serde_json::Value>,
    /// Think time after the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep: Option<ThinkTime>,
    /// Values taken from the response for later steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capture: Vec<Capture>,
    /// k6-style checks on the response; counted, never failing the request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
}

/// Think time: a uniformly random pause in `[min, max]` (fixed when equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ThinkTime {
    /// Shortest pause.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "humantime_serde")]
    pub min: Duration,
    /// Longest pause.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "humantime_serde")]
    pub max: Duration,
}

/// A value taken from a response into a variable `{{name}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "from", rename_all = "snake_case", deny_unknown_fields)]
pub enum Capture {
    /// The JSON body's value at a JSON pointer (`/data/0/id`); strings as is, other
    /// values as JSON text.
    Json {
        /// Variable name.
        name: String,
        /// RFC 6901 pointer.
        pointer: String,
    },
    /// A response header's value.
    Header {
        /// Variable name.
        name: String,
        /// Header name.
        header: String,
    },
    /// A regular expression's capture group in the body (as UTF-8, lossy).
    Regex {
        /// Variable name.
        name: String,
        /// The expression (Rust `regex` syntax).
        pattern: String,
        /// The group to take; 0 is the whole match.
        group: usize,
    },
}

impl Capture {
    /// The variable the capture sets.
    pub fn name(&self) -> &str {
        match self {
            Capture::Json { name, .. }
            | Capture::Header { name, .. }
            | Capture::Regex { name, .. } => name,
        }
    }
}

/// A k6-style check on a response; a request that got no response fails every check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// The status equals `status`.
    Status {
        /// Check name, counted in the manifest's `checks`.
        name: String,
        /// Expected status.
        status: u16,
    },
    /// A header is present (or absent with `exists: false`), or equals a value.
    Header {
        /// Check name.
        name: String,
        /// Header name.
        header: String,
        /// The value it must have, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        equals: Option<String>,
        /// Whether it must be present (ignored when `equals` is set).
        exists: bool,
    },
    /// The body contains `text`.
    BodyContains {
        /// Check name.
        name: String,
        /// The text to find.
        text: String,
    },
    /// The JSON body has a value at `pointer` (equal to `equals` when set; numbers
    /// compare by value).
    Json {
        /// Check name.
        name: String,
        /// RFC 6901 pointer.
        pointer: String,
        /// The value it must have (`null` included), if any.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        equals: Option<serde_json::Value>,
    },
}

impl Check {
    /// The check's name.
    pub fn name(&self) -> &str {
        match self {
            Check::Status { name, .. }
            | Check::Header { name, .. }
            | Check::BodyContains { name, .. }
            | Check::Json { name, .. } => name,
        }
    }
}

/// A present value, `null` included (absent keys take the field's default, `None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// The bucket and region a worker writes to. Keys follow [`ObjectKey`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ResultsLocation {
    /// The results bucket.
    pub bucket: String,
    /// The bucket's region (may differ from the worker's region).
    pub region: Region,
}

/// What an interval log holds, as a worker and a reader both count it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCount {
    /// Requests: `http_req_duration` + `http_req_errored` values.
    pub requests: u64,
    /// The first and last second (interval start, relative to the log's base
    /// time) of the intervals it holds, if any.
    pub seconds: Option<(u64, u64)>,
}

impl LogCount {
    /// Counts the intervals of `bytes` (lines that do not decode count nothing).
    pub fn of(bytes: &[u8]) -> LogCount {
        let mut count = LogCount::default();
        for interval in crate::hlog::decode(bytes).flatten() {
            let Ok(set) = crate::tag::TagSet::parse(&interval.tag) else {
                continue;
            };
            if set.metric == TAG_DURATION || set.metric == TAG_ERRORED {
                count.requests = count.requests.saturating_add(interval.histogram.len());
            }
            let s = interval.offset.as_secs();
            count.seconds = Some(match count.seconds {
                Some((a, b)) => (a.min(s), b.max(s)),
                None => (s, s),
            });
        }
        count
    }
}

/// Builds a version-1 interval-log tag for a metric and request name
/// (`http_req_duration:home`); the worker now writes version 2 ([`crate::tag`]).
pub fn tag(metric: &str, request: &str) -> String {
    format!("{metric}:{request}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_json_uses_readable_times_and_k6_executor_names() {
        let job = Job {
            format: FORMAT_VERSION,
            run_id: RunId::new("r1").unwrap(),
            worker_id: WorkerId::numbered(0),
            region: Region::new("us-east-1").unwrap(),
            start_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            duration: Duration::from_secs(15),
            run_offset: Duration::ZERO,
            slice: 0,
            target: "http://127.0.0.1:8080".into(),
            scenarios: vec![JobScenario {
                name: "browse".into(),
                executor: Executor::ConstantArrivalRate {
                    rate: 50.0,
                    offset: Duration::from_millis(2),
                },
                pre_allocated_vus: 5,
                max_vus: 50,
                requests: vec![],
                start_time: Duration::ZERO,
                duration: None,
                arrivals: Arrivals::Constant,
                data: None,
                graceful_stop: Duration::ZERO,
            }],
            results: ResultsLocation {
                bucket: "b".into(),
                region: Region::new("us-east-1").unwrap(),
            },
            flush_every: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            http: HttpOptions::default(),
            env: BTreeMap::new(),
            heartbeat: None,
            script: None,
        };
        let json = serde_json::to_string(&job).expect("serialize");
        assert!(!json.contains(r#""http""#), "{json}");
        assert!(
            json.contains(r#""start_at":"2027-01-15T08:00:00Z""#),
            "{json}"
        );
        assert!(
            json.contains(r#""executor":{"type":"constant-arrival-rate""#),
            "{json}"
        );
        let back: Job = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, job);
    }

    #[test]
    fn http_options_from_before_the_body_bound_take_its_default() {
        let old: HttpOptions = serde_json::from_value(serde_json::json!({
            "version": "http1",
            "max_redirects": 3,
            "connect_timeout": "2s"
        }))
        .expect("old shape");
        assert_eq!(old.max_body_buffer, DEFAULT_MAX_BODY_BUFFER);
        assert_eq!(DEFAULT_MAX_BODY_BUFFER, 1024 * 1024);
        let set = HttpOptions {
            max_body_buffer: 4096,
            ..HttpOptions::default()
        };
        let json = serde_json::to_value(&set).expect("serialize");
        assert_eq!(json["max_body_buffer"], 4096);
        assert_eq!(
            serde_json::from_value::<HttpOptions>(json).expect("back"),
            set
        );
        assert_eq!(
            serde_json::to_value(ErrorClass::BodyTooLarge).expect("class"),
            ErrorClass::BodyTooLarge.as_str()
        );
    }

    #[test]
    fn max_streams_per_connection_is_left_out_at_its_default_and_round_trips() {
        let json = serde_json::to_value(HttpOptions::default()).expect("serialize");
        assert!(json.get("max_streams_per_connection").is_none());
        let old: HttpOptions = serde_json::from_value(serde_json::json!({})).expect("old");
        assert_eq!(old.max_streams_per_connection, 1);
        let set = HttpOptions {
            max_streams_per_connection: 100,
            ..HttpOptions::default()
        };
        let json = serde_json::to_value(&set).expect("serialize");
        assert_eq!(json["max_streams_per_connection"], 100);
        assert_eq!(
            serde_json::from_value::<HttpOptions>(json).expect("back"),
            set
        );
    }

    #[test]
    fn drill_http_options_are_optional_on_the_wire_and_round_trip() {
        let json = serde_json::to_value(HttpOptions::default()).expect("serialize");
        for key in ["served_by_header", "region_header", "connect_to"] {
            assert!(json.get(key).is_none(), "{key} left out when unset");
        }
        let set = HttpOptions {
            served_by_header: Some("X-Served-Region".into()),
            region_header: Some("X-Client-Region".into()),
            connect_to: Some("127.0.0.1:4000".into()),
            ..HttpOptions::default()
        };
        let json = serde_json::to_value(&set).expect("serialize");
        assert_eq!(json["connect_to"], "127.0.0.1:4000");
        assert_eq!(
            serde_json::from_value::<HttpOptions>(json).expect("back"),
            set
        );
    }

    #[test]
    fn new_scenario_keys_are_optional_on_the_wire_and_round_trip() {
        // A job from before flows and other executors still parses.
        let old: JobScenario = serde_json::from_value(serde_json::json!({
            "name": "s",
            "executor": { "type": "constant-arrival-rate", "rate": 5.0, "offset": "0s" },
            "pre_allocated_vus": 1,
            "max_vus": 2,
            "requests": [{ "name": "home", "method": "GET", "url": "/" }]
        }))
        .expect("old shape");
        assert_eq!(old.start_time, Duration::ZERO);
        assert_eq!(old.arrivals, Arrivals::Constant);
        assert!(old.requests[0].checks.is_empty());

        let step = RequestSpec {
            name: "login".into(),
            method: "POST".into(),
            url: "/users/{{id}}".into(),
            query: BTreeMap::from([("q".into(), "{{name}}".into())]),
            json: Some(serde_json::json!({ "user": "{{name}}" })),
            sleep: Some(ThinkTime {
                min: Duration::from_millis(50),
                max: Duration::from_millis(200),
            }),
            capture: vec![
                Capture::Json {
                    name: "token".into(),
                    pointer: "/token".into(),
                },
                Capture::Regex {
                    name: "n".into(),
                    pattern: "n=(\\d+)".into(),
                    group: 1,
                },
            ],
            checks: vec![
                Check::Status {
                    name: "ok".into(),
                    status: 200,
                },
                Check::Json {
                    name: "null body".into(),
                    pointer: "/x".into(),
                    equals: Some(serde_json::Value::Null),
                },
                Check::Json {
                    name: "has x".into(),
                    pointer: "/x".into(),
                    equals: None,
                },
            ],
            ..RequestSpec::default()
        };
        let scenario = JobScenario {
            name: "ramp".into(),
            executor: Executor::RampingVus {
                start_vus: 0,
                stages: vec![VuStage {
                    duration: Duration::from_secs(10),
                    target: 7,
                }],
                graceful_ramp_down: Duration::from_secs(30),
                split: VuSplit {
                    weights: vec![0.5, 0.5],
                    region: 1,
                    worker: 1,
                    workers: 2,
                },
            },
            pre_allocated_vus: 4,
            max_vus: 4,
            requests: vec![step],
            start_time: Duration::from_secs(2),
            duration: None,
            arrivals: Arrivals::Poisson,
            data: Some(DataRows {
                columns: vec!["id".into(), "name".into()],
                rows: vec![vec!["1".into(), "ann".into()]],
            }),
            graceful_stop: Duration::from_secs(3),
        };
        let json = serde_json::to_string(&scenario).expect("serialize");
        assert!(json.contains(r#""type":"ramping-vus""#), "{json}");
        assert!(json.contains(r#""from":"regex""#), "{json}");
        assert!(json.contains(r#""equals":null"#), "{json}");
        let back: JobScenario = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, scenario);
        // `constant-vus` needs only its VUs (the benchmark builds it that way).
        let e: Executor =
            serde_json::from_value(serde_json::json!({ "type": "constant-vus", "vus": 3 }))
                .expect("constant-vus");
        assert_eq!(e, Executor::ConstantVus { vus: 3 });
    }
}
