//! The end-of-test summary's data model: [`Summary`] and its parts, the JSON
//! written by `--summary-export` and stored as `runs/{run_id}/summary.json`
//! (keys documented in docs/FORMAT.md, the machine-checked shape in
//! docs/summary.schema.json). Plain data: building it is [`super::build`]'s,
//! judging thresholds `crate::judge`'s, showing it `crate::render`'s and
//! `crate::export`'s.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sls_load_core::job::RunId;
use sls_load_plan::cost::Cost;

use crate::drill::analysis::Drill;
use crate::drill::events::EventRecord;
use crate::series::{Marker, Series, SpectrumPoint};

/// Version of the summary JSON.
pub const SUMMARY_FORMAT: u32 = 1;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Latency {
    /// Mean.
    pub avg: f64,
    /// Fastest.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Slowest.
    pub max: f64,
}

/// The figures of one scope (total, a region, a request).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Figures {
    /// Requests sent, failed ones included.
    pub requests: u64,
    /// Requests that failed (no response, or a response the checks rejected).
    pub errors: u64,
    /// Requests per second over the run's duration.
    pub rps: f64,
    /// Latency of the requests that got a response.
    pub latency_ms: Latency,
    /// k6 phase timings of the requests that got a response; absent when the
    /// logs carry none (older workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings_ms: Option<PhaseTimings>,
    /// Failures by class in this scope, plus `check_failed` (responses that
    /// failed a check, which are not errors); absent when there are none. The
    /// run-wide figure is the summary's top-level `errors_by_class`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors_by_class: BTreeMap<String, u64>,
    /// HTTP bytes sent in this scope (k6's `data_sent`; see docs/FORMAT.md for
    /// what is counted); absent (0) when the workers counted none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub data_sent: u64,
    /// HTTP bytes received in this scope (k6's `data_received`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub data_received: u64,
}

/// A phase's percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PhaseFigures {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

/// The k6 `http_req_*` phase timings of one scope, in phase order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PhaseTimings {
    /// Before connecting, or waiting for a reused connection.
    pub blocked: PhaseFigures,
    /// TCP connect (zero on a reused connection).
    pub connecting: PhaseFigures,
    /// TLS handshake (zero on a reused connection and for plain HTTP).
    pub tls_handshaking: PhaseFigures,
    /// Writing the request.
    pub sending: PhaseFigures,
    /// Time to first byte after sending.
    pub waiting: PhaseFigures,
    /// Reading the body.
    pub receiving: PhaseFigures,
}

impl PhaseTimings {
    /// Each phase with its k6 name, in phase order.
    pub fn phases(&self) -> [(&'static str, &PhaseFigures); 6] {
        [
            ("blocked", &self.blocked),
            ("connecting", &self.connecting),
            ("tls_handshaking", &self.tls_handshaking),
            ("sending", &self.sending),
            ("waiting", &self.waiting),
            ("receiving", &self.receiving),
        ]
    }
}

/// What became of the planned workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Workers {
    /// Workers in the plan.
    pub planned: usize,
    /// Workers whose manifest arrived.
    pub reported: usize,
    /// Workers without a manifest, as `region/worker`.
    pub missing: Vec<String>,
    /// Objects that could not be used, as `key: reason`.
    pub problems: Vec<String>,
    /// How late first requests left relative to their intended instant, over workers.
    pub start_skew_ms: Option<Spread>,
    /// Workers whose first request left more than [`LATE_AFTER_MS`] late, with the lateness.
    pub late: Vec<String>,
    /// Process initialisation (cold start) time of the workers that had one.
    pub init_ms: Option<Spread>,
    /// Invocations that started a new process.
    pub cold_starts: usize,
    /// Time between the invocation reaching the worker and its start instant: the
    /// slack the lead time left.
    pub invoke_to_start_ms: Option<Spread>,
    /// The same figures per region.
    pub regions: BTreeMap<String, RegionWorkers>,
}

/// Worker timing figures of one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RegionWorkers {
    /// Workers planned in the region.
    pub planned: usize,
    /// Workers that reported.
    pub reported: usize,
    /// Start skew over the region's workers.
    pub start_skew_ms: Option<Spread>,
}

/// A distribution over workers, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Spread {
    /// Median.
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// A worker whose first request left later than this is named as late.
pub const LATE_AFTER_MS: f64 = 50.0;

/// Pass/fail counts of one check over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckFigures {
    /// Evaluations that held.
    pub passes: u64,
    /// Evaluations that did not.
    pub fails: u64,
    /// passes / (passes + fails).
    pub rate: f64,
}

/// One second of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Second {
    /// Seconds after the start.
    pub t: u64,
    /// Requests finished in that second.
    pub requests: u64,
    /// Errors in that second.
    pub errors: u64,
    /// 95th percentile latency of that second, milliseconds.
    pub p95_ms: f64,
}

/// A threshold's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ThresholdResult {
    /// The metric key as written (`http_req_duration{name:home}`).
    pub metric: String,
    /// The expression as written.
    pub expr: String,
    /// Whether it held.
    pub ok: bool,
    /// The observed value, if there was data.
    pub observed: Option<f64>,
}

/// Whether a count is zero (then left out of the summary JSON).
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A k6 gauge over the run's seconds (`vus`, `vus_max`): the workers' figures
/// of each second summed, then the last second's (`value`), the smallest and
/// the largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GaugeFigures {
    /// The last second's.
    pub value: u64,
    /// The smallest second's.
    pub min: u64,
    /// The largest second's.
    pub max: u64,
}

impl GaugeFigures {
    /// The gauge of `per_second` sums, `None` without any.
    pub fn of(per_second: &BTreeMap<u64, u64>) -> Option<GaugeFigures> {
        let (_, value) = per_second.last_key_value()?;
        Some(GaugeFigures {
            value: *value,
            min: per_second.values().copied().min().unwrap_or(0),
            max: per_second.values().copied().max().unwrap_or(0),
        })
    }
}

/// The end-of-test summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// [`SUMMARY_FORMAT`].
    pub format: u32,
    /// The run.
    pub run_id: RunId,
    /// The scenario file.
    pub scenario_file: String,
    /// The agreed start, RFC 3339.
    pub start_at: String,
    /// Load duration in seconds: the planned one, or for a run stopped or
    /// aborted before its end the time its load ran (every rate is per it).
    pub duration_s: f64,
    /// The planned duration, seconds, when the load ran shorter (stopped,
    /// aborted); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_duration_s: Option<f64>,
    /// Everything.
    pub total: Figures,
    /// Per region (load zone).
    pub regions: BTreeMap<String, Figures>,
    /// Per request name.
    pub requests: BTreeMap<String, Figures>,
    /// Planned, reported and missing workers.
    pub workers: Workers,
    /// Iterations that could not start on time (open model).
    pub dropped_iterations: u64,
    /// Failures by class, from the workers' manifests.
    pub errors_by_class: BTreeMap<String, u64>,
    /// Checks by name, from the workers' manifests.
    pub checks: BTreeMap<String, CheckFigures>,
    /// What the run cost at list prices (from the workers' billed durations).
    pub cost: Cost,
    /// Per-second requests, errors and p95.
    pub timeline: Vec<Second>,
    /// Threshold verdicts, in scenario order.
    pub thresholds: Vec<ThresholdResult>,
    /// True when the run was stopped before its end (Ctrl-C, SIGTERM, `sls-load
    /// stop`, a stale heartbeat): the figures cover what was sent until then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The `abortOnFail` threshold that stopped the run, as `metric expr`
    /// (`http_req_duration p(95)<1`), read from the run's control object; absent
    /// when no threshold stopped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted_by: Option<String>,
    /// Per-second series per region, request and region × request.
    #[serde(default)]
    pub series: Series,
    /// Latency percentile spectrum per region (HdrHistogram's percentile
    /// distribution), for the report's log-scaled distribution chart.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub spectrum: BTreeMap<String, Vec<SpectrumPoint>>,
    /// What happened when: slice hand-overs, an abort, drill events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markers: Vec<Marker>,
    /// k6's `vus`: the VUs running an iteration, summed over the workers per
    /// second; absent when the workers recorded none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus: Option<GaugeFigures>,
    /// k6's `vus_max`: the VUs the workers had started, summed per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus_max: Option<GaugeFigures>,
    /// k6's `iterations`: the iterations that ended, from the logs; absent (0)
    /// when they recorded none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub iterations: u64,
    /// k6's `iteration_duration` (think time included), milliseconds; absent
    /// when the logs recorded no iteration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration_duration_ms: Option<Latency>,
    /// A drill's events as they ran (from `events.json`); absent without events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventRecord>,
    /// What each drill event did to every client region; absent without events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<Drill>,
    /// Arrivals due while a drill paused their region (`pause_region`), from
    /// the workers' manifests; absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub paused_iterations: u64,
    /// Where the run ran (mode, AWS account, regions, bucket), from its plan;
    /// absent for runs stored before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<sls_load_plan::CloudRecord>,
    /// A k6 script's custom metrics (and `group_duration`) by name; absent
    /// for YAML scenarios.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, MetricFigures>,
    /// A k6 script's checks by group path (`::outer::inner`): the checks made
    /// inside `group()`s; absent when none was.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_checks: BTreeMap<String, BTreeMap<String, CheckFigures>>,
    /// JavaScript exceptions that ended iterations (k6 logs them and goes on),
    /// by message with file and line, summed over the workers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exceptions: BTreeMap<String, u64>,
}

impl Summary {
    /// True when every threshold held.
    pub fn thresholds_ok(&self) -> bool {
        self.thresholds.iter().all(|t| t.ok)
    }
}

/// A custom metric over the run, with the aggregates its kind has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MetricFigures {
    /// `counter`, `gauge`, `rate` or `trend`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `time` for a time metric (values in milliseconds), else `default`.
    pub contains: String,
    /// Counter: the total. Rate: the values that were true (k6's `passes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Rate: the values that were false (k6's `fails`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fails: Option<u64>,
    /// Counter: per second of the run. Rate: the share of true values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Gauge: the largest value of the latest second with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Trend and gauge: aggregates of every value, in the metric's unit
    /// (`avg`, `min`, `med`, `max`, `p(90)`, `p(95)`, `p(99)`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, f64>,
}
