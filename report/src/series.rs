//! Per-second series of a run: the contract between the merge (which fills
//! them), the summary and HTML report (which show them) and the `--out` outputs
//! (which stream them).
//!
//! A second of a series is kept as full histograms while workers may still add
//! to it, and reduced to a [`Point`] (counts and merged percentiles, never an
//! average of percentiles) once it is closed; only the totals per region,
//! request and phase keep full histograms for the whole run. When a second is
//! closed, every tag set's figures of that second are handed to the outputs as a
//! [`ClosedSecond`] before they are reduced. This module owns those types and the
//! reduction; it does not decode logs (merge does) or write any output format
//! (export does).

use std::collections::BTreeMap;
use std::time::SystemTime;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use sls_load_core::job::CheckCounts;

use crate::merge::Stats;

/// One closed second of one series, reduced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Point {
    /// Seconds after the run's start.
    pub t: u64,
    /// Requests finished in that second, failed ones included.
    pub requests: u64,
    /// Requests that failed in that second.
    pub errors: u64,
    /// Median latency, milliseconds (0 when no response).
    pub p50_ms: f64,
    /// 90th percentile, milliseconds.
    pub p90_ms: f64,
    /// 95th percentile, milliseconds.
    pub p95_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Slowest, milliseconds.
    pub max_ms: f64,
}

/// The per-second series of the summary (`series` in docs/FORMAT.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Series {
    /// Per region (load zone), in time order.
    #[serde(default)]
    pub regions: BTreeMap<String, Vec<Point>>,
    /// Per request name, in time order.
    #[serde(default)]
    pub requests: BTreeMap<String, Vec<Point>>,
    /// Per region, then request name, in time order.
    #[serde(default)]
    pub region_requests: BTreeMap<String, BTreeMap<String, Vec<Point>>>,
    /// Objects whose intervals arrived after their second had closed (a worker
    /// whose uploads failed for a while), as `key: what` lines: those requests
    /// are in every total but not in these series; `report RUN_ID`, which reads
    /// every object before closing any second, rebuilds exact series.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub late: Vec<String>,
}

/// One point of a latency percentile spectrum: `percentile` (0–100, e.g.
/// 99.9) and the latency at it in milliseconds, as HdrHistogram's plotter draws it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SpectrumPoint {
    /// The percentile, 0–100.
    pub percentile: f64,
    /// The latency at that percentile, milliseconds.
    pub ms: f64,
}

/// Something that happened at an instant of the run, shown as a marker on every
/// time axis (slice hand-overs, an abort, drill events).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Marker {
    /// Seconds after the run's start.
    pub t: f64,
    /// What kind: `slice`, `abort`, `stop`, `event`.
    pub kind: String,
    /// A short label (`slice 2`, `http_req_failed rate<0.01`, `eu-down`).
    pub label: String,
}

/// Every figure of one tag set in one closed second, as the outputs receive it.
#[derive(Debug, Clone)]
pub struct ClosedSecond {
    /// The second's start instant (`start_at` + `t`).
    pub at: SystemTime,
    /// Seconds after the run's start.
    pub t: u64,
    /// The tag set, `region` first, then the samples' tags in their order
    /// (`name`, `status`, `method`, `scenario`, `expected_response`, …).
    pub tags: Vec<(String, String)>,
    /// The merged figures: latency and phase histograms, failed and errored
    /// counts, dropped iterations and iteration durations.
    pub stats: Stats,
    /// Check results of that second with these tags, by check name.
    pub checks: BTreeMap<String, CheckCounts>,
}

/// Most points of one percentile spectrum.
pub const SPECTRUM_POINTS: usize = 120;

/// Microseconds to milliseconds.
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Point {
    /// Reduces second `t` of one scope: its counts and the percentiles of its
    /// merged latency histogram (all 0 when no request got a response).
    pub fn of(t: u64, s: &Stats) -> Point {
        let h = &s.duration;
        let q = |p: f64| {
            if h.is_empty() {
                0.0
            } else {
                ms(h.value_at_quantile(p))
            }
        };
        Point {
            t,
            requests: s.requests(),
            errors: s.errors(),
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            max_ms: if h.is_empty() { 0.0 } else { ms(h.max()) },
        }
    }

    /// A second without requests.
    pub fn empty(t: u64) -> Point {
        Point {
            t,
            requests: 0,
            errors: 0,
            p50_ms: 0.0,
            p90_ms: 0.0,
            p95_ms: 0.0,
            p99_ms: 0.0,
            max_ms: 0.0,
        }
    }
}

/// The percentile spectrum of `h` (HdrHistogram's percentile distribution, 5
/// steps per halving of the distance to 100%), at most [`SPECTRUM_POINTS`]
/// points, the last one at 100% and the maximum; empty for an empty histogram.
pub fn spectrum(h: &Histogram<u64>) -> Vec<SpectrumPoint> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut all: Vec<SpectrumPoint> = h
        .iter_quantiles(5)
        .map(|v| SpectrumPoint {
            percentile: (v.quantile_iterated_to() * 100.0 * 1e6).round() / 1e6,
            ms: ms(h.highest_equivalent(v.value_iterated_to())),
        })
        .collect();
    all.dedup_by(|b, a| a.percentile == b.percentile);
    if all.len() > SPECTRUM_POINTS {
        let step = all.len().div_ceil(SPECTRUM_POINTS - 1);
        let last = all.last().copied();
        all = all.into_iter().step_by(step).collect();
        if let (Some(last), Some(kept)) = (last, all.last())
            && kept.percentile < last.percentile
        {
            all.push(last);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use sls_load_core::hlog;

    #[test]
    fn a_point_holds_the_seconds_counts_and_merged_percentiles() {
        // 10 µs to 1 ms in steps of 10 µs: values the histogram holds exactly.
        let values: Vec<u64> = (1..=100).map(|i| i * 10).collect();
        let p = Point::of(7, &Stats::recording(&values, 2));
        assert_eq!((p.t, p.requests, p.errors), (7, 102, 2));
        assert_eq!(
            (p.p50_ms, p.p90_ms, p.p95_ms, p.p99_ms),
            (0.5, 0.9, 0.95, 0.99)
        );
        assert_eq!(p.max_ms, 1.0);
        // A second where nothing got a response: zeros, not garbage.
        assert_eq!(
            Point::of(3, &Stats::recording(&[], 4)),
            Point {
                requests: 4,
                errors: 4,
                ..Point::empty(3)
            }
        );
    }

    #[test]
    fn a_spectrum_runs_from_the_fastest_to_the_slowest_in_at_most_its_point_budget() {
        assert!(spectrum(&hlog::new_histogram()).is_empty());
        let mut h = hlog::new_histogram();
        // A million samples: many halvings of the distance to 100 %.
        for i in 0..1_000_000u64 {
            h.record(100 + i % 50_000 + (i % 997) * 1_000).unwrap();
        }
        let points = spectrum(&h);
        assert!(points.len() <= SPECTRUM_POINTS, "{}", points.len());
        assert!(points.len() > 60, "{}", points.len());
        let first = points[0];
        let last = points[points.len() - 1];
        assert_eq!(first.percentile, 0.0);
        assert_eq!(first.ms, ms(h.highest_equivalent(h.min())));
        assert_eq!((last.percentile, last.ms), (100.0, ms(h.max())));
        assert!(
            points
                .windows(2)
                .all(|w| w[0].percentile < w[1].percentile && w[0].ms <= w[1].ms)
        );
        let median = points.iter().find(|p| p.percentile == 50.0).unwrap();
        assert_eq!(median.ms, ms(h.value_at_quantile(0.5)));
    }
}
