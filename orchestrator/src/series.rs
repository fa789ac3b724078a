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

use serde::{Deserialize, Serialize};
use sls_load_core::job::CheckCounts;

use crate::merge::Stats;

/// One closed second of one series, reduced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
}

/// One point of a latency percentile spectrum: `percentile` (0–100, e.g.
/// 99.9) and the latency at it in milliseconds, as HdrHistogram's plotter draws it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpectrumPoint {
    /// The percentile, 0–100.
    pub percentile: f64,
    /// The latency at that percentile, milliseconds.
    pub ms: f64,
}

/// Something that happened at an instant of the run, shown as a marker on every
/// time axis (slice hand-overs, an abort, drill events).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
