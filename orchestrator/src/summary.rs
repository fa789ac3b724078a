//! The end-of-test summary: its data model, how it is built from what was
//! collected and merged, and the threshold verdicts observed on it.
//!
//! The [`Summary`] is the JSON written by `--summary-export` and stored as
//! `runs/{run_id}/summary.json`; its keys are documented in docs/FORMAT.md. `run`
//! and `report RUN_ID` both build it here from stored objects only, so a rebuilt
//! report equals the original. This module does no IO and no terminal rendering
//! (that is [`crate::render`]).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sls_load_core::job::{Job, Manifest, Region, RunId, WorkerId};

use crate::collect::Collected;
use crate::merge::seconds::Points;
use crate::merge::{Merged, Stats};
use crate::plan::{Plan, ThresholdSpec};
use crate::series::{Series, SpectrumPoint};
use crate::threshold::{Metric, Stat, Threshold};

/// Version of the summary JSON.
pub const SUMMARY_FORMAT: u32 = 1;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

    /// The merged phase histograms of `s`, or `None` when it has none.
    fn of(s: &Stats) -> Option<PhaseTimings> {
        if s.timings.iter().all(Option::is_none) {
            return None;
        }
        let phase = |i: usize| match &s.timings[i] {
            Some(h) if !h.is_empty() => PhaseFigures {
                p50: ms(h.value_at_quantile(0.5)),
                p95: ms(h.value_at_quantile(0.95)),
                p99: ms(h.value_at_quantile(0.99)),
                max: ms(h.max()),
            },
            _ => PhaseFigures {
                p50: 0.0,
                p95: 0.0,
                p99: 0.0,
                max: 0.0,
            },
        };
        Some(PhaseTimings {
            blocked: phase(0),
            connecting: phase(1),
            tls_handshaking: phase(2),
            sending: phase(3),
            waiting: phase(4),
            receiving: phase(5),
        })
    }
}

/// What became of the planned workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionWorkers {
    /// Workers planned in the region.
    pub planned: usize,
    /// Workers that reported.
    pub reported: usize,
    /// Start skew over the region's workers.
    pub start_skew_ms: Option<Spread>,
}

/// A distribution over workers, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Median.
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            let i = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
            round3(values[i])
        };
        Some(Spread {
            p50: rank(0.5),
            p99: rank(0.99),
            max: round3(values[values.len() - 1]),
        })
    }
}

/// A worker whose first request left later than this is named as late.
pub const LATE_AFTER_MS: f64 = 50.0;

/// Pass/fail counts of one check over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckFigures {
    /// Evaluations that held.
    pub passes: u64,
    /// Evaluations that did not.
    pub fails: u64,
    /// passes / (passes + fails).
    pub rate: f64,
}

/// One second of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`SUMMARY_FORMAT`].
    pub format: u32,
    /// The run.
    pub run_id: RunId,
    /// The scenario file.
    pub scenario_file: String,
    /// The agreed start, RFC 3339.
    pub start_at: String,
    /// Load duration in seconds.
    pub duration_s: f64,
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
    pub cost: crate::cost::Cost,
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
    pub series: crate::series::Series,
    /// Latency percentile spectrum per region (HdrHistogram's percentile
    /// distribution), for the report's log-scaled distribution chart.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub spectrum: BTreeMap<String, Vec<crate::series::SpectrumPoint>>,
    /// What happened when: slice hand-overs, an abort, drill events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markers: Vec<crate::series::Marker>,
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
    pub events: Vec<crate::drill::events::EventRecord>,
    /// What each drill event did to every client region; absent without events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<crate::drill::analysis::Drill>,
    /// Arrivals due while a drill paused their region (`pause_region`), from
    /// the workers' manifests; absent when none.
    #[serde(default, skip_serializing_if = "crate::drill::is_zero")]
    pub paused_iterations: u64,
    /// Where the run ran (mode, AWS account, regions, bucket), from its plan;
    /// absent for runs stored before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<crate::plan::CloudRecord>,
}

impl Summary {
    /// Builds the summary of a collected and merged run.
    pub fn build(collected: &Collected, merged: &Merged) -> Summary {
        let plan = &collected.plan;
        let secs = plan.duration.as_secs_f64();
        let totals = ManifestTotals::of(collected);
        let points = merged.seconds.points();
        let mut summary = Summary {
            format: SUMMARY_FORMAT,
            run_id: plan.run_id.clone(),
            scenario_file: plan.scenario_file.clone(),
            start_at: humantime::format_rfc3339_millis(plan.start_at).to_string(),
            duration_s: secs,
            total: figures(&merged.total, secs),
            regions: region_figures(plan, merged, secs),
            requests: merged
                .requests
                .iter()
                .map(|(name, s)| (name.clone(), figures(s, secs)))
                .collect(),
            workers: workers(collected, problems(collected, merged)),
            dropped_iterations: totals.dropped,
            errors_by_class: totals.errors_by_class,
            checks: check_figures(totals.checks),
            cost: crate::cost::actual(
                plan,
                &collected.manifests.values().collect::<Vec<_>>(),
                merged.total.requests(),
            ),
            timeline: timeline(&points),
            thresholds: Vec::new(),
            interrupted: collected.manifests.values().any(|m| m.stopped),
            aborted_by: None,
            series: series(plan, &points, merged),
            spectrum: spectrum(plan, merged),
            markers: slice_markers(plan),
            vus: GaugeFigures::of(&merged.total.vus),
            vus_max: GaugeFigures::of(&merged.total.vus_max),
            iterations: merged.total.iterations.as_ref().map_or(0, |h| h.len()),
            iteration_duration_ms: merged
                .total
                .iterations
                .as_ref()
                .filter(|h| !h.is_empty())
                .map(latency),
            events: Vec::new(),
            drill: None,
            paused_iterations: 0,
            cloud: plan.cloud.clone(),
        };
        summary.mark_end();
        attach_error_classes(&mut summary.regions, totals.by_region);
        attach_error_classes(&mut summary.requests, totals.by_request);
        summary.markers.extend(dns_markers(collected));
        summary.thresholds = evaluate_thresholds(&plan.thresholds, &summary, merged);
        summary
    }

    /// Adds (or, called again after `aborted_by` or `interrupted` changed,
    /// replaces) the end marker: `abort` naming the threshold when
    /// [`Summary::aborted_by`] is set, else `stop` when the run was
    /// interrupted, at the last second with data. Other markers are kept.
    pub fn mark_end(&mut self) {
        use crate::series::Marker;
        self.markers
            .retain(|m| m.kind != "abort" && m.kind != "stop");
        let t = self.timeline.last().map_or(0.0, |s| s.t as f64);
        let end = match (&self.aborted_by, self.interrupted) {
            (Some(threshold), _) => ("abort", threshold.clone()),
            (None, true) => ("stop", "stopped".to_owned()),
            (None, false) => return,
        };
        self.markers.push(Marker {
            t,
            kind: end.0.into(),
            label: end.1,
        });
        self.markers.sort_by(|a, b| a.t.total_cmp(&b.t));
    }

    /// True when every threshold held.
    pub fn thresholds_ok(&self) -> bool {
        self.thresholds.iter().all(|t| t.ok)
    }
}

/// What the workers' manifests add up to over the run.
#[derive(Default)]
struct ManifestTotals {
    /// Failures by class, run-wide.
    errors_by_class: BTreeMap<String, u64>,
    /// Failures by class per region.
    by_region: BTreeMap<String, BTreeMap<String, u64>>,
    /// Failures by class per request name.
    by_request: BTreeMap<String, BTreeMap<String, u64>>,
    /// Check passes and fails by check name.
    checks: BTreeMap<String, (u64, u64)>,
    /// Iterations that could not start on time.
    dropped: u64,
}

impl ManifestTotals {
    fn of(collected: &Collected) -> ManifestTotals {
        let mut t = ManifestTotals::default();
        for m in collected.manifests.values() {
            t.dropped += m.dropped_iterations;
            for (name, c) in &m.checks {
                let e = t.checks.entry(name.clone()).or_default();
                e.0 += c.passes;
                e.1 += c.fails;
            }
            for (request, counts) in &m.requests {
                for (class, n) in &counts.errors_by_class {
                    let class = class.as_str();
                    for scope in [
                        &mut t.errors_by_class,
                        t.by_region.entry(m.region.to_string()).or_default(),
                        t.by_request.entry(request.clone()).or_default(),
                    ] {
                        *scope.entry(class.to_owned()).or_insert(0) += n;
                    }
                }
            }
        }
        t
    }
}

/// Objects that could not be collected or merged, as sorted `key: reason` lines.
fn problems(collected: &Collected, merged: &Merged) -> Vec<String> {
    let mut problems: Vec<String> = collected
        .problems
        .iter()
        .chain(&merged.problems)
        .map(|p| format!("{}: {}", p.key, p.message))
        .collect();
    problems.sort();
    problems
}

/// Figures of every planned region, even one that sent nothing.
fn region_figures(plan: &Plan, merged: &Merged, secs: f64) -> BTreeMap<String, Figures> {
    plan.regions
        .iter()
        .map(|r| {
            let stats = merged.regions.get(&r.region).cloned().unwrap_or_default();
            (r.region.to_string(), figures(&stats, secs))
        })
        .collect()
}

/// Pass/fail counts with their pass rate.
fn check_figures(checks: BTreeMap<String, (u64, u64)>) -> BTreeMap<String, CheckFigures> {
    checks
        .into_iter()
        .map(|(name, (passes, fails))| {
            let rate = if passes + fails == 0 {
                0.0
            } else {
                round3(passes as f64 / (passes + fails) as f64)
            };
            (
                name,
                CheckFigures {
                    passes,
                    fails,
                    rate,
                },
            )
        })
        .collect()
}

/// Per-second requests, errors and p95: the run's points.
fn timeline(points: &Points) -> Vec<Second> {
    points
        .total
        .values()
        .map(|p| Second {
            t: p.t,
            requests: p.requests,
            errors: p.errors,
            p95_ms: p.p95_ms,
        })
        .collect()
}

/// The per-second series of every planned region, request and region × request.
fn series(plan: &Plan, points: &Points, merged: &Merged) -> Series {
    let regions: Vec<Region> = plan.regions.iter().map(|r| r.region.clone()).collect();
    let last = points.total.keys().next_back().copied();
    let mut series = Series::of(points, &regions, last);
    series.late = merged
        .late
        .iter()
        .map(|p| format!("{}: {}", p.key, p.message))
        .collect();
    series.late.sort();
    series
}

/// A `slice N` marker at each slice hand-over: where the N-th slice (1-based)
/// of the plan's worker slots starts.
fn slice_markers(plan: &Plan) -> Vec<crate::series::Marker> {
    let starts: BTreeMap<u32, Duration> = plan
        .jobs
        .iter()
        .filter(|j| j.slice > 0)
        .map(|j| (j.slice, j.run_offset))
        .collect();
    starts
        .into_iter()
        .map(|(slice, at)| crate::series::Marker {
            t: at.as_secs_f64(),
            kind: "slice".into(),
            label: format!("slice {}", slice + 1),
        })
        .collect()
}

/// The latency percentile spectrum of every region that got responses.
fn spectrum(plan: &Plan, merged: &Merged) -> BTreeMap<String, Vec<SpectrumPoint>> {
    plan.regions
        .iter()
        .filter_map(|r| {
            let points = crate::series::spectrum(&merged.regions.get(&r.region)?.duration);
            (!points.is_empty()).then(|| (r.region.to_string(), points))
        })
        .collect()
}

/// Sets each scope's failures by class (scopes without a row are skipped).
fn attach_error_classes(
    scopes: &mut BTreeMap<String, Figures>,
    by: BTreeMap<String, BTreeMap<String, u64>>,
) {
    for (name, classes) in by {
        if let Some(figures) = scopes.get_mut(&name) {
            figures.errors_by_class = classes;
        }
    }
}

/// Each threshold's verdict; a threshold that no longer parses fails without data.
fn evaluate_thresholds(
    specs: &[ThresholdSpec],
    summary: &Summary,
    merged: &Merged,
) -> Vec<ThresholdResult> {
    specs
        .iter()
        .map(|spec| match Threshold::parse(&spec.metric, &spec.expr) {
            Ok(t) => {
                let observed = observe(&t, summary, merged);
                ThresholdResult {
                    metric: spec.metric.clone(),
                    expr: spec.expr.clone(),
                    ok: observed.is_some_and(|v| t.holds(v)),
                    observed,
                }
            }
            Err(_) => ThresholdResult {
                metric: spec.metric.clone(),
                expr: spec.expr.clone(),
                ok: false,
                observed: None,
            },
        })
        .collect()
}

/// A planned worker's start skew: its region, id and milliseconds late (negative: early).
type Skew = (Region, WorkerId, f64);

/// Milliseconds of a duration.
fn duration_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Milliseconds from `b` to `a`, negative when `a` is earlier.
fn signed_ms(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => duration_ms(d),
        Err(e) => -duration_ms(e.duration()),
    }
}

/// Worker counts and start-timing spreads.
fn workers(collected: &Collected, problems: Vec<String>) -> Workers {
    let plan = &collected.plan;
    let skews = start_skews(collected);
    let mut late: Vec<(f64, String)> = skews
        .iter()
        .filter(|(_, _, s)| *s > LATE_AFTER_MS)
        .map(|(r, w, s)| (*s, format!("{r}/{w} (+{s:.1}ms)")))
        .collect();
    late.sort_by(|a, b| b.0.total_cmp(&a.0));
    let manifests: Vec<&Manifest> = collected.manifests.values().collect();
    Workers {
        planned: plan.worker_count(),
        reported: collected.manifests.len(),
        missing: collected
            .missing()
            .iter()
            .map(|(r, w)| format!("{r}/{w}"))
            .collect(),
        problems,
        start_skew_ms: Spread::of(skews.iter().map(|(_, _, s)| *s).collect()),
        late: late.into_iter().map(|(_, l)| l).collect(),
        init_ms: Spread::of(
            manifests
                .iter()
                .filter_map(|m| m.init_duration.map(duration_ms))
                .collect(),
        ),
        cold_starts: manifests
            .iter()
            .filter(|m| m.init_duration.is_some())
            .count(),
        invoke_to_start_ms: Spread::of(
            manifests
                .iter()
                .map(|m| signed_ms(m.start_at, m.invoked_at))
                .collect(),
        ),
        regions: region_workers(plan, &manifests, &skews),
    }
}

/// Start skew: each reporting worker's first request's actual departure against
/// its intended instant.
fn start_skews(collected: &Collected) -> Vec<Skew> {
    collected
        .plan
        .jobs
        .iter()
        .filter_map(|job| {
            let m = collected
                .manifests
                .get(&(job.region.clone(), job.worker_id.clone()))?;
            let first = m.first_request_at?;
            let intended = job.start_at + first_offset(job);
            Some((
                job.region.clone(),
                job.worker_id.clone(),
                signed_ms(first, intended),
            ))
        })
        .collect()
}

/// Planned and reported workers and start skew of every planned region.
fn region_workers(
    plan: &Plan,
    manifests: &[&Manifest],
    skews: &[Skew],
) -> BTreeMap<String, RegionWorkers> {
    plan.regions
        .iter()
        .map(|r| {
            let region_skews: Vec<f64> = skews
                .iter()
                .filter(|(reg, _, _)| *reg == r.region)
                .map(|(_, _, s)| *s)
                .collect();
            (
                r.region.to_string(),
                RegionWorkers {
                    planned: r.workers.len(),
                    reported: manifests.iter().filter(|m| m.region == r.region).count(),
                    start_skew_ms: Spread::of(region_skews),
                },
            )
        })
        .collect()
}

/// When a job's first request is due after its start instant (ramps from zero,
/// quiet first stages and `start_time` included).
fn first_offset(job: &Job) -> Duration {
    sls_load_core::schedule::first_due(job).unwrap_or_default()
}

fn figures(s: &Stats, secs: f64) -> Figures {
    Figures {
        requests: s.requests(),
        errors: s.errors(),
        rps: if secs > 0.0 {
            round3(s.requests() as f64 / secs)
        } else {
            0.0
        },
        latency_ms: latency(&s.duration),
        timings_ms: PhaseTimings::of(s),
        errors_by_class: BTreeMap::new(),
        data_sent: s.data_sent,
        data_received: s.data_received,
    }
}

/// The percentiles of `h` (microseconds) in milliseconds, as [`figures`]
/// computes a scope's latency; zeros when empty.
fn latency(h: &hdrhistogram::Histogram<u64>) -> Latency {
    let q = |p: f64| ms(h.value_at_quantile(p));
    let empty = h.is_empty();
    Latency {
        avg: if empty {
            0.0
        } else {
            round3(h.mean() / 1000.0)
        },
        min: if empty { 0.0 } else { ms(h.min()) },
        p50: q(0.5),
        p90: q(0.9),
        p95: q(0.95),
        p99: q(0.99),
        p99_9: q(0.999),
        max: if empty { 0.0 } else { ms(h.max()) },
    }
}

/// Microseconds to milliseconds, rounded to the microsecond.
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The observed value a threshold compares, or `None` without data.
fn observe(t: &Threshold, summary: &Summary, merged: &Merged) -> Option<f64> {
    let stats: Option<&Stats> = match &t.selector {
        None => Some(&merged.total),
        Some((tag, value)) if tag == "name" => merged.requests.get(value.as_str()),
        // `region` and the logs' tags: the per-tag scopes (regions with phases).
        Some((tag, value)) => merged.tagged.get(&(tag.clone(), value.clone())),
    };
    let secs = summary.duration_s;
    let counter = |n: u64| match t.stat {
        Stat::Count => Some(n as f64),
        Stat::Rate => (secs > 0.0).then(|| n as f64 / secs),
        _ => None,
    };
    if let Some(phase) = t.metric.phase() {
        return trend(stats?.timings[phase].as_ref()?, t.stat);
    }
    if t.metric.is_drill() {
        return crate::drill::thresholds::observe(t, summary.drill.as_ref()?);
    }
    match t.metric {
        Metric::TimeToRecover | Metric::TimeToDetect | Metric::DrillErrors => None,
        Metric::HttpReqDuration => trend(&stats?.duration, t.stat),
        Metric::HttpReqFailed => {
            let s = stats?;
            (s.requests() > 0).then(|| s.errors() as f64 / s.requests() as f64)
        }
        Metric::HttpReqs => counter(stats?.requests()),
        // The logs' per-interval counters (live too); the manifests' for
        // workers that did not write them.
        Metric::DroppedIterations if stats?.dropped > 0 || t.selector.is_some() => {
            counter(stats?.dropped)
        }
        Metric::DroppedIterations => counter(summary.dropped_iterations),
        Metric::Iterations => counter(stats?.iterations.as_ref()?.len()),
        Metric::IterationDuration => trend(stats?.iterations.as_ref()?, t.stat),
        Metric::DataSent => counter(stats?.data_sent),
        Metric::DataReceived => counter(stats?.data_received),
        Metric::Vus => gauge(&stats?.vus, t.stat),
        Metric::VusMax => gauge(&stats?.vus_max, t.stat),
        Metric::Checks => {
            let (passes, fails) = match &t.selector {
                // A check by name: its per-interval counts in the logs.
                Some((_, name)) => merged
                    .checks
                    .get(name.as_str())
                    .map_or((0, 0), |c| (c.passes, c.fails)),
                // All checks: the logs' counters (live too); the manifests'
                // for logs of workers that did not write them.
                None if !merged.checks.is_empty() => merged
                    .checks
                    .values()
                    .fold((0, 0), |(p, f), c| (p + c.passes, f + c.fails)),
                None => summary
                    .checks
                    .values()
                    .fold((0, 0), |(p, f), c| (p + c.passes, f + c.fails)),
            };
            match t.stat {
                Stat::Rate => (passes + fails > 0).then(|| passes as f64 / (passes + fails) as f64),
                _ => None,
            }
        }
        // Phases were answered above.
        _ => None,
    }
}

/// A gauge aggregate (`value`: the last second's, `min`, `max`) of its sums per
/// second; `None` when no second has one.
fn gauge(per_second: &BTreeMap<u64, u64>, stat: Stat) -> Option<f64> {
    let g = GaugeFigures::of(per_second)?;
    let v = match stat {
        Stat::Value => g.value,
        Stat::Min => g.min,
        Stat::Max => g.max,
        _ => return None,
    };
    Some(v as f64)
}

/// A trend aggregate of `h` in milliseconds; `None` when empty or not a trend stat.
fn trend(h: &hdrhistogram::Histogram<u64>, stat: Stat) -> Option<f64> {
    if h.is_empty() {
        return None;
    }
    Some(match stat {
        Stat::Percentile(p) => ms(h.value_at_quantile(p / 100.0)),
        Stat::Avg => h.mean() / 1000.0,
        Stat::Min => ms(h.min()),
        Stat::Max => ms(h.max()),
        Stat::Med => ms(h.value_at_quantile(0.5)),
        Stat::Rate | Stat::Count | Stat::Value => return None,
    })
}

/// The workers' DNS answers for the target as `dns` markers: per region, in time
/// order, each answer that differs from the region's previous one (so the first
/// answer and every change appear once, however many workers saw them), labelled
/// `host → addresses (region)`, at seconds after the agreed start (0 when earlier).
pub fn dns_markers(collected: &Collected) -> Vec<crate::series::Marker> {
    let start = collected.plan.start_at;
    let mut seen: Vec<(&Region, &sls_load_core::job::Resolution)> = collected
        .manifests
        .values()
        .flat_map(|m| m.resolutions.iter().map(move |r| (&m.region, r)))
        .collect();
    seen.sort_by_key(|(_, r)| r.at);
    let mut last: BTreeMap<(&Region, &str), &[std::net::IpAddr]> = BTreeMap::new();
    let mut markers = Vec::new();
    for (region, r) in seen {
        let previous = last.insert((region, r.host.as_str()), &r.addresses);
        if previous == Some(r.addresses.as_slice()) {
            continue;
        }
        let addresses: Vec<String> = r.addresses.iter().map(|a| a.to_string()).collect();
        markers.push(crate::series::Marker {
            t: r.at.duration_since(start).map_or(0.0, |d| d.as_secs_f64()),
            kind: "dns".to_owned(),
            label: format!("{} → {} ({region})", r.host, addresses.join(", ")),
        });
    }
    markers
}

#[cfg(test)]
mod tests;
