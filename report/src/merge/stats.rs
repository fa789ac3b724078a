//! [`Stats`], the merged measurements of one scope: what the merge adds into,
//! and what the series, the summary and the drill analysis read. A leaf.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use sls_load_core::hlog;
#[cfg(doc)]
use sls_load_core::job::TAG_PHASES;

/// Merged measurements of one scope (the run, a region, a request, a second).
#[derive(Debug, Clone)]
pub struct Stats {
    /// Latency of every request that got a response, microseconds.
    pub duration: Histogram<u64>,
    /// Responses the checks rejected.
    pub failed: u64,
    /// Requests that got no response.
    pub errored: u64,
    /// Iterations that could not start, from the logs' `dropped_iterations`
    /// counters (run total, region and tag scopes only).
    pub dropped: u64,
    /// Iteration durations (k6's `iteration_duration`; the count is
    /// `iterations`), microseconds; `None` when no log recorded any (run total,
    /// region and tag scopes only).
    pub iterations: Option<Histogram<u64>>,
    /// k6 phase timings of requests that got a response, microseconds, in
    /// [`TAG_PHASES`] order; `None` for a phase no log recorded. Kept for the run
    /// total, per region, per request name and per tag (not per second, except
    /// in the tag sets of seconds handed to outputs).
    pub timings: [Option<Histogram<u64>>; 6],
    /// HTTP bytes sent (k6's `data_sent`), from the logs' counters (run
    /// total, region, request and tag scopes).
    pub data_sent: u64,
    /// HTTP bytes received (k6's `data_received`), likewise.
    pub data_received: u64,
    /// k6's `vus` per second of the run: the workers' busiest VUs of that
    /// second, summed (run total, region and `scenario` tag scopes).
    pub vus: BTreeMap<u64, u64>,
    /// k6's `vus_max` per second: the VUs the workers had started, summed.
    pub vus_max: BTreeMap<u64, u64>,
}

impl Stats {
    /// Nothing merged yet.
    pub fn new() -> Self {
        Self {
            duration: hlog::new_histogram(),
            failed: 0,
            errored: 0,
            dropped: 0,
            iterations: None,
            timings: Default::default(),
            data_sent: 0,
            data_received: 0,
            vus: BTreeMap::new(),
            vus_max: BTreeMap::new(),
        }
    }

    /// Requests sent, failed ones included.
    pub fn requests(&self) -> u64 {
        self.duration.len() + self.errored
    }

    /// Requests that failed, for any reason.
    pub fn errors(&self) -> u64 {
        self.failed + self.errored
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
impl Stats {
    /// For tests: `values_us` recorded as latencies, and `errored` requests
    /// without a response.
    pub(crate) fn recording(values_us: &[u64], errored: u64) -> Stats {
        let mut s = Stats {
            errored,
            ..Stats::default()
        };
        for v in values_us {
            let _ = s.duration.record(*v);
        }
        s
    }
}
