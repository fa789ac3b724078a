//! Threshold verdicts, one evaluation path for every threshold (k6's and the
//! drill's) over one live state: [`Observed`] is the run as read so far (the
//! merged histograms and counters, what the manifests add and, once the run
//! ended, the drill's analysis), and [`Observed::verdict`] judges a
//! [`Threshold`] of the plan on it. The summary judges every threshold here once,
//! when it is built; [`abort`] judges the `abortOnFail` ones at every poll of a
//! running run, on the same state, without building a summary.
//!
//! It computes no figure of its own beyond the value a threshold compares, and
//! parses nothing: thresholds come typed from the plan.

pub mod abort;
mod drill;

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use sls_load_plan::threshold::{CustomKind, Metric, Stat, Threshold};

use crate::collect::Collected;
use crate::drill::analysis::Drill;
use crate::merge::custom::CustomStats;
use crate::merge::{Merged, Stats};
use crate::summary::{GaugeFigures, ThresholdResult};

/// What thresholds are judged on: a run's merged state as read so far, with
/// what its manifests add and (at the end) its drill analysis.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    merged: &'a Merged,
    /// The load duration, seconds (counters' `rate` is per second of it): the
    /// planned one, or the time the load ran ([`Observed::over`]).
    duration_s: f64,
    /// Iterations that could not start, from the manifests (for workers whose
    /// logs carry no counter of them).
    manifest_dropped: u64,
    /// Check passes and fails summed over the manifests, likewise.
    manifest_checks: (u64, u64),
    /// The drill's analysis; `None` for a run without events or while it runs.
    drill: Option<&'a Drill>,
}

impl<'a> Observed<'a> {
    /// The state of `collected` (and of `drill`, its analysis, when there is one).
    pub fn of(collected: &'a Collected, drill: Option<&'a Drill>) -> Observed<'a> {
        let manifests = collected.manifests.values();
        Observed {
            merged: &collected.merged,
            duration_s: collected.plan.duration.as_secs_f64(),
            manifest_dropped: manifests.clone().map(|m| m.dropped_iterations).sum(),
            manifest_checks: manifests
                .flat_map(|m| m.checks.values())
                .fold((0, 0), |(p, f), c| (p + c.passes, f + c.fails)),
            drill,
        }
    }

    /// The same state with counters' rates per `duration_s` seconds: the time
    /// the load of a stopped or aborted run actually ran.
    pub fn over(self, duration_s: f64) -> Observed<'a> {
        Observed { duration_s, ..self }
    }

    /// The verdict of `t` on this state: the value it compares (`None`
    /// without data) and whether it held (never without data).
    pub fn verdict(&self, t: &Threshold) -> ThresholdResult {
        let observed = self.value(t);
        ThresholdResult {
            metric: t.metric_name(),
            expr: t.expr.clone(),
            ok: observed.is_some_and(|v| t.holds(v)),
            observed,
        }
    }

    /// The value `t` compares, or `None` without data.
    pub fn value(&self, t: &Threshold) -> Option<f64> {
        let merged = self.merged;
        if let Metric::Custom(c) = t.metric {
            let stats = match &t.selector {
                None => merged.custom.get(c.name),
                Some((k, v)) => {
                    merged
                        .custom_tagged
                        .get(&(c.name.to_owned(), k.clone(), v.clone()))
                }
            };
            return custom(stats?, t.stat, self.duration_s);
        }
        let stats: Option<&Stats> = match &t.selector {
            None => Some(&merged.total),
            Some((tag, value)) if tag == "name" => merged.requests.get(value.as_str()),
            // `region` and the logs' tags: the per-tag scopes (regions with phases).
            Some((tag, value)) => merged.tagged.get(&(tag.clone(), value.clone())),
        };
        let secs = self.duration_s;
        let counter = |n: u64| match t.stat {
            Stat::Count => Some(n as f64),
            Stat::Rate => (secs > 0.0).then(|| n as f64 / secs),
            _ => None,
        };
        if let Some(phase) = t.metric.phase() {
            return trend(stats?.timings[phase].as_ref()?, t.stat);
        }
        if t.metric.is_drill() {
            return drill::observe(t, self.drill?);
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
            Metric::DroppedIterations => counter(self.manifest_dropped),
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
                    None => self.manifest_checks,
                };
                match t.stat {
                    Stat::Rate => {
                        (passes + fails > 0).then(|| passes as f64 / (passes + fails) as f64)
                    }
                    _ => None,
                }
            }
            // Phases were answered above.
            _ => None,
        }
    }
}

/// A custom metric's aggregate, in its unit (milliseconds for time metrics).
fn custom(stats: &CustomStats, stat: Stat, secs: f64) -> Option<f64> {
    match (stats.kind, stat) {
        (CustomKind::Counter, Stat::Count) => Some(stats.count as f64),
        (CustomKind::Counter, Stat::Rate) => (secs > 0.0).then(|| stats.count as f64 / secs),
        (CustomKind::Rate, Stat::Rate) => stats.rate(),
        (CustomKind::Trend, _) => trend(stats.values.as_ref()?, stat),
        (CustomKind::Gauge, Stat::Value) => stats.gauge_value(),
        (CustomKind::Gauge, Stat::Min | Stat::Max) => trend(stats.values.as_ref()?, stat),
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
fn trend(h: &Histogram<u64>, stat: Stat) -> Option<f64> {
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

/// Microseconds to milliseconds.
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}
