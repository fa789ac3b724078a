//! Decodes interval logs and merges their histograms exactly: HdrHistogram `add`,
//! never averaged percentiles.
//!
//! Pure: bytes in, merged histograms out. Every interval is added into the run
//! total, its worker's region, its request name and its second on the run's
//! timeline; the k6 phase timings (`http_req_blocked` ... `http_req_receiving`)
//! into the run total and their request name only. An object that does not parse becomes a [`Problem`] naming its key;
//! the intervals before the bad line still count. This module does not fetch
//! objects (collect does) or compute report figures (report does).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use sls_load_function::job::{
    HIST_HIGH_US, HIST_LOW_US, HIST_SIGFIG, Region, TAG_DURATION, TAG_ERRORED, TAG_FAILED,
    TAG_PHASES, split_tag,
};

use crate::collect::{LogObject, Problem};

/// Merged measurements of one scope (the run, a region, a request, a second).
#[derive(Debug, Clone)]
pub struct Stats {
    /// Latency of every request that got a response, microseconds.
    pub duration: Histogram<u64>,
    /// Responses the checks rejected.
    pub failed: u64,
    /// Requests that got no response.
    pub errored: u64,
    /// k6 phase timings of requests that got a response, microseconds, in
    /// [`TAG_PHASES`] order; `None` for a phase no log recorded. Kept for the run
    /// total and per request name only.
    pub timings: [Option<Histogram<u64>>; 6],
}

/// An empty histogram with the bounds every sls-load histogram uses.
fn empty_histogram() -> Histogram<u64> {
    // The bounds are constants that Histogram accepts; a failure here is a bug.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(HIST_LOW_US, HIST_HIGH_US, HIST_SIGFIG)
        .expect("constant histogram bounds are valid")
}

impl Stats {
    fn new() -> Self {
        Self {
            duration: empty_histogram(),
            failed: 0,
            errored: 0,
            timings: Default::default(),
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

/// The merge of all interval logs of a run.
#[derive(Debug, Clone, Default)]
pub struct Merged {
    /// Everything.
    pub total: Stats,
    /// Per region.
    pub regions: BTreeMap<Region, Stats>,
    /// Per request name.
    pub requests: BTreeMap<String, Stats>,
    /// Per second after the run's start (`start_at`).
    pub timeline: BTreeMap<u64, Stats>,
    /// Objects (or parts) that could not be decoded.
    pub problems: Vec<Problem>,
}

/// Merges `logs`; `start_at` anchors the timeline.
pub fn merge(logs: &[LogObject], start_at: SystemTime) -> Merged {
    let mut merged = Merged::default();
    for log in logs {
        if let Err(message) = merge_one(&mut merged, log, start_at) {
            merged.problems.push(Problem {
                key: log.key.clone(),
                message,
            });
        }
    }
    merged
}

fn merge_one(merged: &mut Merged, log: &LogObject, start_at: SystemTime) -> Result<(), String> {
    let mut base = Duration::ZERO;
    let mut deserializer = Deserializer::new();
    let anchor = start_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    for entry in IntervalLogIterator::new(&log.bytes) {
        let entry = entry.map_err(|e| format!("corrupt interval log: {e:?}"))?;
        let interval = match entry {
            LogEntry::BaseTime(t) => {
                base = t;
                continue;
            }
            LogEntry::StartTime(_) => continue,
            LogEntry::Interval(i) => i,
        };
        let tag = interval.tag().ok_or("interval without a tag".to_string())?;
        let (metric, request) = split_tag(tag.as_str())
            .ok_or_else(|| format!("tag `{}` has no request name", tag.as_str()))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .map_err(|e| format!("interval `{}`: bad base64: {e}", tag.as_str()))?;
        let h: Histogram<u64> = deserializer
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("interval `{}`: bad histogram: {e:?}", tag.as_str()))?;
        let at = (base + interval.start_timestamp()).saturating_sub(anchor);
        let second = at.as_secs_f64().round() as u64;
        if let Some(phase) = TAG_PHASES.iter().position(|p| *p == metric) {
            let request = merged.requests.entry(request.to_owned()).or_default();
            for scope in [&mut merged.total, request] {
                let merged_phase = scope.timings[phase].get_or_insert_with(empty_histogram);
                merged_phase
                    .add(&h)
                    .map_err(|e| format!("interval `{}`: {e:?}", tag.as_str()))?;
            }
            continue;
        }
        let region = &log.worker.0;
        let scopes = [
            &mut merged.total,
            merged.regions.entry(region.clone()).or_default(),
            merged.requests.entry(request.to_owned()).or_default(),
            merged.timeline.entry(second).or_default(),
        ];
        for scope in scopes {
            match metric {
                TAG_DURATION => scope
                    .duration
                    .add(&h)
                    .map_err(|e| format!("interval `{}`: {e:?}", tag.as_str()))?,
                TAG_FAILED => scope.failed += h.len(),
                TAG_ERRORED => scope.errored += h.len(),
                // Tags of metrics this version does not know are skipped, not fatal.
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sls_load_function::client::Timings;
    use sls_load_function::job::{ObjectKey, WorkerId};
    use sls_load_function::recorder::{Outcome, Recorder};
    use std::time::Instant;

    fn worker_log(region: &str, latencies_ms: &[u64], start: SystemTime) -> LogObject {
        let base = Instant::now();
        let rec = Recorder::new(base, start, vec!["home".into()]);
        for (i, ms) in latencies_ms.iter().enumerate() {
            rec.record(
                0,
                Outcome::Ok,
                Duration::from_millis(*ms),
                base + Duration::from_millis(i as u64 * 10),
            )
            .unwrap();
        }
        rec.close().unwrap();
        LogObject {
            worker: (Region::from(region), WorkerId::numbered(0)),
            key: ObjectKey::from("k"),
            bytes: rec.take_log("t").unwrap().unwrap(),
        }
    }

    #[test]
    fn merging_adds_histograms_instead_of_averaging_percentiles() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        // Worker A: 99 fast requests. Worker B: one slow request.
        let a = worker_log("us-east-1", &[1; 99], start);
        let b = worker_log("eu-west-1", &[1000], start);
        let m = merge(&[a, b], start);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        assert_eq!(m.total.requests(), 100);
        // The exact p99 of the union is the fast value; the max is the slow one.
        assert!(m.total.duration.value_at_quantile(0.99) <= 1001);
        assert!(m.total.duration.max() >= 999_000);
        assert_eq!(m.regions[&Region::from("eu-west-1")].requests(), 1);
        assert_eq!(m.requests["home"].requests(), 100);
        assert_eq!(m.timeline[&0].requests(), 100);
    }

    #[test]
    fn phase_timings_merge_per_request_and_in_total_only() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let base = Instant::now();
        let rec = Recorder::new(base, start, vec!["home".into(), "api".into()]);
        let ms = Duration::from_millis;
        let timings = Timings {
            connecting: ms(3),
            waiting: ms(7),
            ..Timings::default()
        };
        for (request, at) in [(0, 1), (0, 2), (1, 3)] {
            rec.record_with(request, Outcome::Ok, ms(10), base + ms(at), Some(&timings))
                .unwrap();
        }
        rec.record_with(
            1,
            Outcome::Errored(sls_load_function::job::ErrorClass::Connect),
            ms(10),
            base + ms(4),
            Some(&timings),
        )
        .unwrap();
        rec.close().unwrap();
        let log = LogObject {
            worker: (Region::from("us-east-1"), WorkerId::numbered(0)),
            key: ObjectKey::from("k"),
            bytes: rec.take_log("t").unwrap().unwrap(),
        };
        let m = merge(&[log], start);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        let waiting = |s: &Stats| s.timings[4].as_ref().map(|h| (h.len(), h.max() / 1000));
        assert_eq!(waiting(&m.total), Some((3, 7)));
        assert_eq!(waiting(&m.requests["home"]), Some((2, 7)));
        assert_eq!(waiting(&m.requests["api"]), Some((1, 7)));
        assert_eq!(m.total.timings[0].as_ref().map(|h| h.max()), Some(0));
        assert!(m.regions[&Region::from("us-east-1")].timings[4].is_none());
        assert!(m.timeline[&0].timings.iter().all(Option::is_none));
        // Phase tags do not count as requests.
        assert_eq!(m.total.requests(), 4);
    }

    #[test]
    fn a_corrupt_object_is_a_problem_not_a_failure() {
        let start = SystemTime::UNIX_EPOCH;
        let good = worker_log("us-east-1", &[5, 6], start);
        let bad = LogObject {
            key: ObjectKey::from("runs/r/us-east-1/w0001/latency-00000.hlog"),
            bytes: b"0.000,1.000,2.0,HISTFAAAA!!notbase64\n".to_vec(),
            ..good.clone()
        };
        let m = merge(&[good, bad], start);
        assert_eq!(m.total.requests(), 2);
        assert_eq!(m.problems.len(), 1);
        assert!(m.problems[0].key.as_str().ends_with("latency-00000.hlog"));
    }
}
