//! Builds the end-of-test summary from what was collected and merged, evaluates
//! the thresholds, and renders the summary for a terminal.
//!
//! The [`Summary`] is the JSON written by `--summary-export` and stored as
//! `runs/{run_id}/summary.json`; its keys are documented in docs/FORMAT.md. `run`
//! and `report RUN_ID` both build it here from stored objects only, so a rebuilt
//! report equals the original. This module does no IO.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sls_load_function::job::RunId;

use crate::collect::Collected;
use crate::merge::{Merged, Stats};
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
    /// Per-second requests, errors and p95.
    pub timeline: Vec<Second>,
    /// Threshold verdicts, in scenario order.
    pub thresholds: Vec<ThresholdResult>,
}

impl Summary {
    /// Builds the summary of a collected and merged run.
    pub fn build(collected: &Collected, merged: &Merged) -> Summary {
        let plan = &collected.plan;
        let secs = plan.duration.as_secs_f64();
        let figures = |s: &Stats| figures(s, secs);
        let mut problems: Vec<String> = collected
            .problems
            .iter()
            .chain(&merged.problems)
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect();
        problems.sort();
        let mut errors_by_class = BTreeMap::new();
        let mut dropped = 0;
        for m in collected.manifests.values() {
            dropped += m.dropped_iterations;
            for counts in m.requests.values() {
                for (class, n) in &counts.errors_by_class {
                    *errors_by_class
                        .entry(class.as_str().to_owned())
                        .or_insert(0) += n;
                }
            }
        }
        let mut summary = Summary {
            format: SUMMARY_FORMAT,
            run_id: plan.run_id.clone(),
            scenario_file: plan.scenario_file.clone(),
            start_at: humantime::format_rfc3339_millis(plan.start_at).to_string(),
            duration_s: secs,
            total: figures(&merged.total),
            // Every planned region has a row, even one that sent nothing.
            regions: plan
                .regions
                .iter()
                .map(|r| {
                    let stats = merged.regions.get(&r.region).cloned().unwrap_or_default();
                    (r.region.to_string(), figures(&stats))
                })
                .collect(),
            requests: merged
                .requests
                .iter()
                .map(|(name, s)| (name.clone(), figures(s)))
                .collect(),
            workers: Workers {
                planned: plan.worker_count(),
                reported: collected.manifests.len(),
                missing: collected
                    .missing()
                    .iter()
                    .map(|(r, w)| format!("{r}/{w}"))
                    .collect(),
                problems,
            },
            dropped_iterations: dropped,
            errors_by_class,
            timeline: merged
                .timeline
                .iter()
                .map(|(t, s)| Second {
                    t: *t,
                    requests: s.requests(),
                    errors: s.errors(),
                    p95_ms: ms(s.duration.value_at_quantile(0.95)),
                })
                .collect(),
            thresholds: Vec::new(),
        };
        summary.thresholds = plan
            .thresholds
            .iter()
            .map(|spec| match Threshold::parse(&spec.metric, &spec.expr) {
                Ok(t) => {
                    let observed = observe(&t, &summary, merged);
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
            .collect();
        summary
    }

    /// True when every threshold held.
    pub fn thresholds_ok(&self) -> bool {
        self.thresholds.iter().all(|t| t.ok)
    }

    /// The summary as a k6-like end-of-test text block.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out);
        let _ = writeln!(out, "  run ............: {}", self.run_id);
        let _ = writeln!(out, "  scenario .......: {}", self.scenario_file);
        let _ = writeln!(
            out,
            "  start ..........: {} · {}s",
            self.start_at, self.duration_s
        );
        let _ = writeln!(
            out,
            "  workers ........: {} planned · {} reported{}",
            self.workers.planned,
            self.workers.reported,
            if self.workers.missing.is_empty() {
                String::new()
            } else {
                format!(" · missing: {}", self.workers.missing.join(", "))
            }
        );
        if self.dropped_iterations > 0 {
            let _ = writeln!(out, "  dropped_iters ..: {}", self.dropped_iterations);
        }
        if !self.errors_by_class.is_empty() {
            let classes: Vec<String> = self
                .errors_by_class
                .iter()
                .map(|(c, n)| format!("{c}={n}"))
                .collect();
            let _ = writeln!(out, "  errors .........: {}", classes.join(" "));
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {:<22} {:>9} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "", "requests", "rps", "errors", "p50", "p90", "p95", "p99", "max"
        );
        let row = |out: &mut String, label: &str, f: &Figures| {
            let err = if f.requests == 0 {
                0.0
            } else {
                100.0 * f.errors as f64 / f.requests as f64
            };
            let l = &f.latency_ms;
            let _ = writeln!(
                out,
                "  {:<22} {:>9} {:>9.1} {:>6.2}% {:>9} {:>9} {:>9} {:>9} {:>9}",
                label,
                f.requests,
                f.rps,
                err,
                fmt_ms(l.p50),
                fmt_ms(l.p90),
                fmt_ms(l.p95),
                fmt_ms(l.p99),
                fmt_ms(l.max)
            );
        };
        row(&mut out, "total", &self.total);
        for (region, f) in &self.regions {
            row(&mut out, &format!("region {region}"), f);
        }
        for (name, f) in &self.requests {
            row(&mut out, &format!("request {name}"), f);
        }
        if !self.thresholds.is_empty() {
            let _ = writeln!(out);
            for t in &self.thresholds {
                let observed = t
                    .observed
                    .map(|v| format!("{v:.3}"))
                    .unwrap_or_else(|| "no data".into());
                let _ = writeln!(
                    out,
                    "  {} {} {}  (observed {observed})",
                    if t.ok { "✓" } else { "✗" },
                    t.metric,
                    t.expr
                );
            }
        }
        out
    }
}

fn figures(s: &Stats, secs: f64) -> Figures {
    let h = &s.duration;
    let q = |p: f64| ms(h.value_at_quantile(p));
    let empty = h.is_empty();
    Figures {
        requests: s.requests(),
        errors: s.errors(),
        rps: if secs > 0.0 {
            round3(s.requests() as f64 / secs)
        } else {
            0.0
        },
        latency_ms: Latency {
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
        },
    }
}

/// Microseconds to milliseconds, rounded to the microsecond.
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn fmt_ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else {
        format!("{v:.2}ms")
    }
}

/// The observed value a threshold compares, or `None` without data.
fn observe(t: &Threshold, summary: &Summary, merged: &Merged) -> Option<f64> {
    let stats: Option<&Stats> = match &t.selector {
        None => Some(&merged.total),
        Some((tag, value)) if tag == "name" => merged.requests.get(value.as_str()),
        Some((tag, value)) if tag == "region" => merged
            .regions
            .iter()
            .find(|(r, _)| r.as_str() == value)
            .map(|(_, s)| s),
        Some(_) => None,
    };
    let secs = summary.duration_s;
    match t.metric {
        Metric::HttpReqDuration => {
            let h = &stats?.duration;
            if h.is_empty() {
                return None;
            }
            Some(match t.stat {
                Stat::Percentile(p) => ms(h.value_at_quantile(p / 100.0)),
                Stat::Avg => h.mean() / 1000.0,
                Stat::Min => ms(h.min()),
                Stat::Max => ms(h.max()),
                Stat::Med => ms(h.value_at_quantile(0.5)),
                Stat::Rate | Stat::Count => return None,
            })
        }
        Metric::HttpReqFailed => {
            let s = stats?;
            (s.requests() > 0).then(|| s.errors() as f64 / s.requests() as f64)
        }
        Metric::HttpReqs => {
            let n = stats?.requests() as f64;
            match t.stat {
                Stat::Count => Some(n),
                Stat::Rate => (secs > 0.0).then(|| n / secs),
                _ => None,
            }
        }
        Metric::DroppedIterations => {
            let n = summary.dropped_iterations as f64;
            match t.stat {
                Stat::Count => Some(n),
                Stat::Rate => (secs > 0.0).then(|| n / secs),
                _ => None,
            }
        }
        // Checks arrive with the engine's check support; without data a threshold fails.
        Metric::Checks => None,
    }
}
