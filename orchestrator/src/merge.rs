//! Merges decoded interval logs exactly: HdrHistogram `add`, never averaged
//! percentiles, one object at a time into a [`Merged`] state that grows with the
//! run's seconds and names, never with its objects or workers.
//!
//! Every interval is added into the run total, its worker's region, its request
//! name and its second on the run's timeline, and (for live progress) its region's
//! second while that second is recent; the k6 phase timings (`http_req_blocked`
//! ... `http_req_receiving`) into the run total and their request name only.
//! Besides, every interval counts (phases included) in one scope per tag
//! `key:value` it carries (`status:200`, `method:GET`, `scenario:browse`,
//! `expected_response:true`, unknown keys too) and per `region:R`, for
//! threshold tag filters: their number grows with distinct tag values (capped
//! by the workers), never per second. `checks` counter intervals add to the
//! pass/fail counts per check name. A
//! line that does not decode becomes a [`Problem`] naming its object and line; the
//! rest of the object still counts. Decoding is the core crate's interval-log
//! codec; this module does not fetch objects (collect does) or compute report
//! figures (summary does).

use std::collections::BTreeMap;
use std::time::SystemTime;

use hdrhistogram::Histogram;
use sls_load_core::hlog::{self, Interval};
use sls_load_core::job::{
    CheckCounts, ObjectKey, Region, TAG_DURATION, TAG_ERRORED, TAG_FAILED, TAG_PHASES,
};
use sls_load_core::tag::{
    KEY_CHECK, KEY_NAME, KEY_PASSED, METRIC_CHECKS, METRIC_DATA_RECEIVED, METRIC_DATA_SENT,
    METRIC_DROPPED, METRIC_ITERATION, METRIC_VUS, METRIC_VUS_MAX, TagSet,
};

use crate::collect::{Problem, WorkerKey};

/// Seconds per region kept for live progress, counted back from the latest one
/// seen in that region; older ones are dropped so the live state stays bounded.
pub const RECENT_SECONDS: u64 = 30;

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
    /// total and per request name only.
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
    fn new() -> Self {
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

/// The merge of a run's interval logs so far.
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
    /// Per region and second, the last [`RECENT_SECONDS`] of each region only
    /// (live progress).
    pub recent: BTreeMap<(Region, u64), Stats>,
    /// Per tag `(key, value)` of the samples (`("status", "200")`), with
    /// `("region", R)` for each region; phase timings included.
    pub tagged: BTreeMap<(String, String), Stats>,
    /// Check pass/fail counts per check name, from the logs' `checks` intervals.
    pub checks: BTreeMap<String, CheckCounts>,
    /// Objects (or lines of them) that could not be decoded.
    pub problems: Vec<Problem>,
    /// Interval-log objects merged.
    pub objects: usize,
}

/// The time a run's intervals may lie in: from its start (which anchors the
/// timeline) to the end of its load, drain included. Intervals outside it, give
/// or take [`SPAN_SLACK`], belong to no second of this run and are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The run's start (`start_at` of slice 0).
    pub start: SystemTime,
    /// When its load ends, drain included.
    pub end: SystemTime,
}

/// How far outside its run's span an interval may start and still count.
pub const SPAN_SLACK: std::time::Duration = std::time::Duration::from_secs(2);

impl Span {
    fn holds(&self, at: SystemTime) -> bool {
        let from = self.start.checked_sub(SPAN_SLACK).unwrap_or(self.start);
        at >= from && at <= self.end + SPAN_SLACK
    }
}

/// Merges `logs` (worker, key, bytes) of a run spanning `span`.
pub fn merge<'a>(
    logs: impl IntoIterator<Item = (&'a WorkerKey, &'a ObjectKey, &'a [u8])>,
    span: Span,
) -> Merged {
    let mut merged = Merged::default();
    for (worker, key, bytes) in logs {
        merged.add_object(worker, key, bytes, span);
    }
    merged
}

impl Merged {
    /// Adds every interval of one interval-log object of a run spanning `span`;
    /// returns the requests it added. Lines that do not decode and intervals
    /// outside the span become problems; the others count.
    pub fn add_object(
        &mut self,
        worker: &WorkerKey,
        key: &ObjectKey,
        bytes: &[u8],
        span: Span,
    ) -> u64 {
        self.objects += 1;
        let mut requests = 0u64;
        for interval in hlog::decode(bytes) {
            let result = interval.map_err(|e| format!("corrupt interval log: {e}"));
            let result = result.and_then(|i| {
                if !span.holds(i.start) {
                    return Err(format!(
                        "an interval at {} lies outside the run ({} to {}); ignored",
                        humantime::format_rfc3339_millis(i.start),
                        humantime::format_rfc3339_millis(span.start),
                        humantime::format_rfc3339_millis(span.end),
                    ));
                }
                self.add_interval(&worker.0, &i, span.start)
                    .map_err(|e| format!("corrupt interval log: {e}"))
            });
            match result {
                Ok(n) => requests = requests.saturating_add(n),
                Err(message) => self.problems.push(Problem {
                    key: key.clone(),
                    message,
                }),
            }
        }
        requests
    }

    fn add_interval(
        &mut self,
        region: &Region,
        interval: &Interval,
        start_at: SystemTime,
    ) -> Result<u64, String> {
        let tag = interval.tag.as_str();
        let set = TagSet::parse(tag).map_err(|e| e.to_string())?;
        let metric = set.metric.as_str();
        let h = &interval.histogram;
        if metric == METRIC_CHECKS {
            self.add_checks(&set, h.len());
            return Ok(0);
        }
        if metric == METRIC_DROPPED || metric == METRIC_ITERATION {
            self.add_iterations(region, &set, interval)?;
            return Ok(0);
        }
        if metric == METRIC_VUS || metric == METRIC_VUS_MAX {
            self.add_vus(region, &set, interval, start_at);
            return Ok(0);
        }
        if metric == METRIC_DATA_SENT || metric == METRIC_DATA_RECEIVED {
            self.add_data(region, &set, h.len());
            return Ok(0);
        }
        let phase = TAG_PHASES.iter().position(|p| *p == metric);
        let known = phase.is_some() || [TAG_DURATION, TAG_FAILED, TAG_ERRORED].contains(&metric);
        let Some(request) = set.name() else {
            // A metric of a newer worker without a request name is skipped.
            return match known {
                true => Err(format!("tag `{tag}` has no request name")),
                false => Ok(0),
            };
        };
        let add = |scope: &mut Stats| add_to(scope, metric, phase, interval);
        let tags = set.tags.iter().filter(|(k, _)| k != KEY_NAME).cloned();
        for key in tags.chain([("region".to_owned(), region.as_str().to_owned())]) {
            add(self.tagged.entry(key).or_default())?;
        }
        add(&mut self.total)?;
        add(self.requests.entry(request.to_owned()).or_default())?;
        if phase.is_some() {
            return Ok(0);
        }
        let at = interval.start.duration_since(start_at).unwrap_or_default();
        let second = at.as_secs_f64().round() as u64;
        if self.keep_recent(region, second) {
            add(self.recent.entry((region.clone(), second)).or_default())?;
        }
        add(self.regions.entry(region.clone()).or_default())?;
        add(self.timeline.entry(second).or_default())?;
        Ok(match metric {
            TAG_DURATION | TAG_ERRORED => h.len(),
            _ => 0,
        })
    }

    /// Adds a `dropped_iterations` counter or an `iteration_duration` interval
    /// to the run, its region and its tags' scopes.
    fn add_iterations(
        &mut self,
        region: &Region,
        set: &TagSet,
        interval: &Interval,
    ) -> Result<(), String> {
        let h = &interval.histogram;
        let add = |scope: &mut Stats| -> Result<(), String> {
            if set.metric == METRIC_DROPPED {
                scope.dropped = scope.dropped.saturating_add(h.len());
                return Ok(());
            }
            let into = scope.iterations.get_or_insert_with(hlog::new_histogram);
            hlog::add(into, h).map_err(|e| format!("interval `{}`: {e:?}", interval.tag))
        };
        add(&mut self.total)?;
        add(self.regions.entry(region.clone()).or_default())?;
        let region_tag = ("region".to_owned(), region.as_str().to_owned());
        for key in set.tags.iter().cloned().chain([region_tag]) {
            add(self.tagged.entry(key).or_default())?;
        }
        Ok(())
    }

    /// Adds a `data_sent` / `data_received` counter of `bytes` to the run, its
    /// region, its request name and its tags' scopes.
    fn add_data(&mut self, region: &Region, set: &TagSet, bytes: u64) {
        let sent = set.metric == METRIC_DATA_SENT;
        let add = |scope: &mut Stats| {
            let into = match sent {
                true => &mut scope.data_sent,
                false => &mut scope.data_received,
            };
            *into = into.saturating_add(bytes);
        };
        add(&mut self.total);
        add(self.regions.entry(region.clone()).or_default());
        if let Some(name) = set.name() {
            add(self.requests.entry(name.to_owned()).or_default());
        }
        let region_tag = ("region".to_owned(), region.as_str().to_owned());
        let tags = set.tags.iter().filter(|(k, _)| k != KEY_NAME).cloned();
        for key in tags.chain([region_tag]) {
            add(self.tagged.entry(key).or_default());
        }
    }

    /// Adds a worker's `vus` / `vus_max` gauge of one second to that second's
    /// sums in the run, its region and its tags' scopes.
    fn add_vus(
        &mut self,
        region: &Region,
        set: &TagSet,
        interval: &Interval,
        start_at: SystemTime,
    ) {
        let at = interval.start.duration_since(start_at).unwrap_or_default();
        let second = at.as_secs_f64().round() as u64;
        let value = interval.histogram.max();
        let busy = set.metric == METRIC_VUS;
        let add = |scope: &mut Stats| {
            let sums = match busy {
                true => &mut scope.vus,
                false => &mut scope.vus_max,
            };
            let sum = sums.entry(second).or_default();
            *sum = sum.saturating_add(value);
        };
        add(&mut self.total);
        add(self.regions.entry(region.clone()).or_default());
        let region_tag = ("region".to_owned(), region.as_str().to_owned());
        for key in set.tags.iter().cloned().chain([region_tag]) {
            add(self.tagged.entry(key).or_default());
        }
    }

    /// Adds a `checks` counter interval of `count` results.
    fn add_checks(&mut self, set: &TagSet, count: u64) {
        let Some(check) = set.get(KEY_CHECK) else {
            return;
        };
        let counts = self.checks.entry(check.to_owned()).or_default();
        if set.get(KEY_PASSED) == Some("true") {
            counts.passes = counts.passes.saturating_add(count);
        } else {
            counts.fails = counts.fails.saturating_add(count);
        }
    }

    /// Whether `second` of `region` is among its recent ones; drops the seconds
    /// that a newer one pushes out of the window.
    fn keep_recent(&mut self, region: &Region, second: u64) -> bool {
        let latest = self
            .recent
            .range((region.clone(), 0)..=(region.clone(), u64::MAX))
            .next_back()
            .map_or(second, |((_, s), _)| (*s).max(second));
        let floor = latest.saturating_sub(RECENT_SECONDS - 1);
        let stale: Vec<_> = self
            .recent
            .range((region.clone(), 0)..(region.clone(), floor))
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            self.recent.remove(&k);
        }
        second >= floor
    }
}

/// Adds one interval of `metric` (phase index `phase`, if a phase) to `scope`.
/// Tags of metrics this version does not know are skipped, not fatal.
fn add_to(
    scope: &mut Stats,
    metric: &str,
    phase: Option<usize>,
    interval: &Interval,
) -> Result<(), String> {
    let h = &interval.histogram;
    let add = |into: &mut Histogram<u64>| {
        hlog::add(into, h).map_err(|e| format!("interval `{}`: {e:?}", interval.tag))
    };
    match (phase, metric) {
        (Some(phase), _) => add(scope.timings[phase].get_or_insert_with(hlog::new_histogram))?,
        (None, TAG_DURATION) => add(&mut scope.duration)?,
        (None, TAG_FAILED) => scope.failed = scope.failed.saturating_add(h.len()),
        (None, TAG_ERRORED) => scope.errored = scope.errored.saturating_add(h.len()),
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sls_load_core::hlog::{IntervalWriter, write_header};
    use sls_load_core::job::WorkerId;
    use std::time::Duration;

    /// One worker's interval log: `(tag, second, values in µs)` intervals from `start`.
    fn log_bytes<T: AsRef<str>>(start: SystemTime, intervals: &[(T, u64, Vec<u64>)]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, &["t"], start).unwrap();
        let mut w = IntervalWriter::new();
        for (tag, second, values) in intervals {
            let mut h = hlog::new_histogram();
            for v in values {
                h.record(*v).unwrap();
            }
            w.write(
                &mut out,
                tag.as_ref(),
                Duration::from_secs(*second),
                Duration::from_secs(1),
                &h,
            )
            .unwrap();
        }
        out
    }

    fn worker(region: &str) -> WorkerKey {
        (Region::new(region).unwrap(), WorkerId::numbered(0))
    }

    struct Log(WorkerKey, ObjectKey, Vec<u8>);

    fn worker_log(region: &str, latencies_ms: &[u64], start: SystemTime) -> Log {
        let values = latencies_ms.iter().map(|ms| ms * 1000).collect();
        Log(
            worker(region),
            ObjectKey::new("k").unwrap(),
            log_bytes(start, &[("http_req_duration:home", 0, values)]),
        )
    }

    fn span(start: SystemTime) -> Span {
        Span {
            start,
            end: start + Duration::from_secs(3600),
        }
    }

    fn merge_all(logs: &[Log], start: SystemTime) -> Merged {
        merge(
            logs.iter().map(|l| (&l.0, &l.1, l.2.as_slice())),
            span(start),
        )
    }

    #[test]
    fn merging_adds_histograms_instead_of_averaging_percentiles() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        // Worker A: 99 fast requests. Worker B: one slow request.
        let a = worker_log("us-east-1", &[1; 99], start);
        let b = worker_log("eu-west-1", &[1000], start);
        let m = merge_all(&[a, b], start);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        assert_eq!(m.total.requests(), 100);
        // The exact p99 of the union is the fast value; the max is the slow one.
        assert!(m.total.duration.value_at_quantile(0.99) <= 1001);
        assert!(m.total.duration.max() >= 999_000);
        assert_eq!(m.regions[&Region::new("eu-west-1").unwrap()].requests(), 1);
        assert_eq!(m.requests["home"].requests(), 100);
        assert_eq!(m.timeline[&0].requests(), 100);
    }

    #[test]
    fn phase_timings_merge_per_request_and_in_total_only() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        // What a worker records for three answered requests (home, home, api, each
        // connecting 3 ms and waiting 7 ms) and one api request that got no answer.
        let answered = |n: usize| vec![10_000; n];
        let mut intervals = vec![
            ("http_req_duration:home".to_owned(), 0, answered(2)),
            ("http_req_duration:api".to_owned(), 0, answered(1)),
            ("http_req_errored:api".to_owned(), 0, vec![10_000]),
        ];
        for (request, n) in [("home", 2), ("api", 1)] {
            for (phase, value) in TAG_PHASES.iter().zip([0, 3_000, 0, 0, 7_000, 0]) {
                intervals.push((format!("{phase}:{request}"), 0, vec![value; n]));
            }
        }
        let log = Log(
            worker("us-east-1"),
            ObjectKey::new("k").unwrap(),
            log_bytes(start, &intervals),
        );
        let m = merge_all(&[log], start);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        let waiting = |s: &Stats| s.timings[4].as_ref().map(|h| (h.len(), h.max() / 1000));
        assert_eq!(waiting(&m.total), Some((3, 7)));
        assert_eq!(waiting(&m.requests["home"]), Some((2, 7)));
        assert_eq!(waiting(&m.requests["api"]), Some((1, 7)));
        assert_eq!(m.total.timings[0].as_ref().map(|h| h.max()), Some(0));
        assert!(m.regions[&Region::new("us-east-1").unwrap()].timings[4].is_none());
        assert!(m.timeline[&0].timings.iter().all(Option::is_none));
        // Phase tags do not count as requests.
        assert_eq!(m.total.requests(), 4);
    }

    #[test]
    fn version_2_tags_merge_per_tag_value_with_region_phases_and_checks() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let v2 = |metric: &str, status: u16, expected: bool| {
            format!(
                "v2;metric={metric};name=home;status={status};method=GET;scenario=browse;expected_response={expected};served_by=edge1"
            )
        };
        let intervals = vec![
            (v2("http_req_duration", 200, true), 0, vec![2_000; 3]),
            (v2("http_req_duration", 503, false), 0, vec![9_000]),
            (v2("http_req_failed", 503, false), 0, vec![9_000]),
            (v2("http_req_waiting", 200, true), 0, vec![1_500; 3]),
            (
                "v2;metric=checks;check=is%20200;passed=true".to_owned(),
                0,
                vec![1; 3],
            ),
            (
                "v2;metric=checks;check=is%20200;passed=false".to_owned(),
                1,
                vec![1],
            ),
            // An old worker's line in the same run.
            ("http_req_duration:home".to_owned(), 1, vec![4_000]),
            (
                "v2;metric=dropped_iterations;scenario=browse".to_owned(),
                1,
                vec![1; 2],
            ),
            (
                "v2;metric=iteration_duration;scenario=browse".to_owned(),
                1,
                vec![30_000; 4],
            ),
            // A metric of a newer worker, without a request name: skipped.
            (
                "v2;metric=data_sent;scenario=browse".to_owned(),
                1,
                vec![100],
            ),
        ];
        let log = Log(
            worker("eu-west-1"),
            ObjectKey::new("k").unwrap(),
            log_bytes(start, &intervals),
        );
        let m = merge_all(&[log], start);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        let tagged = |k: &str, v: &str| &m.tagged[&(k.to_owned(), v.to_owned())];
        assert_eq!(m.total.requests(), 5);
        assert_eq!(m.requests["home"].requests(), 5);
        assert_eq!(tagged("status", "200").requests(), 3);
        assert_eq!(tagged("status", "503").errors(), 1);
        assert_eq!(tagged("method", "GET").requests(), 4);
        assert_eq!(tagged("scenario", "browse").requests(), 4);
        assert_eq!(tagged("expected_response", "true").requests(), 3);
        assert_eq!(tagged("served_by", "edge1").requests(), 4);
        assert_eq!(tagged("region", "eu-west-1").requests(), 5);
        let waiting = tagged("region", "eu-west-1").timings[4]
            .as_ref()
            .map(|h| h.len());
        assert_eq!(waiting, Some(3));
        // The region scope of the summary stays as before: no phases.
        assert!(m.regions[&Region::new("eu-west-1").unwrap()].timings[4].is_none());
        let checks = &m.checks["is 200"];
        assert_eq!((checks.passes, checks.fails), (3, 1));
        // Check counters are not requests, on no timeline second.
        assert_eq!(m.total.dropped, 2);
        assert_eq!(tagged("region", "eu-west-1").dropped, 2);
        assert_eq!(tagged("scenario", "browse").dropped, 2);
        let iterations = |s: &Stats| s.iterations.as_ref().map(|h| h.len());
        assert_eq!(iterations(&m.total), Some(4));
        assert_eq!(iterations(tagged("scenario", "browse")), Some(4));
        assert_eq!(iterations(tagged("region", "eu-west-1")), Some(4));
        assert_eq!(m.timeline[&1].requests(), 1);
    }

    #[test]
    fn a_corrupt_object_is_a_problem_not_a_failure() {
        let start = SystemTime::UNIX_EPOCH;
        let good = worker_log("us-east-1", &[5, 6], start);
        let bad = Log(
            good.0.clone(),
            ObjectKey::new("runs/r/us-east-1/w0001/latency-00000.hlog").unwrap(),
            b"0.000,1.000,2.0,HISTFAAAA!!notbase64\n".to_vec(),
        );
        let m = merge_all(&[good, bad], start);
        assert_eq!(m.total.requests(), 2);
        assert_eq!(m.problems.len(), 1);
        assert!(m.problems[0].key.as_str().ends_with("latency-00000.hlog"));
    }

    #[test]
    fn live_progress_keeps_only_each_regions_recent_seconds() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut m = Merged::default();
        let w = worker("us-east-1");
        for second in 0..100 {
            let bytes = log_bytes(start, &[("http_req_duration:home", second, vec![1000])]);
            m.add_object(&w, &ObjectKey::new("k").unwrap(), &bytes, span(start));
        }
        assert_eq!(m.recent.len() as u64, RECENT_SECONDS);
        assert_eq!(
            m.recent.keys().next().map(|k| k.1),
            Some(100 - RECENT_SECONDS)
        );
        assert_eq!(m.timeline.len(), 100);
        assert_eq!(m.total.requests(), 100);
    }

    #[test]
    fn vu_gauges_sum_over_workers_per_second_and_scope() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let vus = "v2;metric=vus;scenario=browse";
        let vus_max = "v2;metric=vus_max;scenario=browse";
        let log = |region: &str, busy: [u64; 2], started: u64| {
            let intervals = [
                (vus, 0, vec![busy[0]]),
                (vus_max, 0, vec![started]),
                (vus, 1, vec![busy[1]]),
                (vus_max, 1, vec![started]),
            ];
            Log(
                worker(region),
                ObjectKey::new("k").unwrap(),
                log_bytes(start, &intervals),
            )
        };
        let m = merge_all(
            &[log("us-east-1", [3, 5], 6), log("eu-west-1", [2, 0], 4)],
            start,
        );
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        let pairs =
            |map: &BTreeMap<u64, u64>| map.iter().map(|(s, v)| (*s, *v)).collect::<Vec<_>>();
        assert_eq!(pairs(&m.total.vus), [(0, 5), (1, 5)]);
        assert_eq!(pairs(&m.total.vus_max), [(0, 10), (1, 10)]);
        let eu = &m.tagged[&("region".to_owned(), "eu-west-1".to_owned())];
        assert_eq!(pairs(&eu.vus), [(0, 2), (1, 0)]);
        let browse = &m.tagged[&("scenario".to_owned(), "browse".to_owned())];
        assert_eq!(pairs(&browse.vus_max), [(0, 10), (1, 10)]);
        assert_eq!(m.total.requests(), 0);
    }

    #[test]
    fn data_counters_add_up_per_run_region_request_and_tag() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let counter = |n: u64| vec![1; n as usize];
        let sent = "v2;metric=data_sent;name=home;method=GET;scenario=browse";
        let received = "v2;metric=data_received;name=home;method=GET;scenario=browse";
        let log = |region: &str, seconds: &[u64]| {
            let intervals: Vec<_> = seconds
                .iter()
                .flat_map(|s| [(sent, *s, counter(100)), (received, *s, counter(1_000))])
                .collect();
            Log(
                worker(region),
                ObjectKey::new("k").unwrap(),
                log_bytes(start, &intervals),
            )
        };
        let m = merge_all(&[log("us-east-1", &[0, 1]), log("eu-west-1", &[0])], start);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        assert_eq!((m.total.data_sent, m.total.data_received), (300, 3_000));
        let us = &m.regions[&Region::new("us-east-1").unwrap()];
        assert_eq!((us.data_sent, us.data_received), (200, 2_000));
        assert_eq!(m.requests["home"].data_received, 3_000);
        let get = &m.tagged[&("method".to_owned(), "GET".to_owned())];
        assert_eq!(get.data_sent, 300);
        let eu = &m.tagged[&("region".to_owned(), "eu-west-1".to_owned())];
        assert_eq!(eu.data_received, 1_000);
        // Bytes are not requests.
        assert_eq!(m.total.requests(), 0);
    }
}

#[cfg(test)]
mod span_tests {
    use super::*;
    use sls_load_core::hlog::{IntervalWriter, write_header};
    use sls_load_core::job::WorkerId;
    use std::time::Duration;

    #[test]
    fn intervals_outside_the_runs_span_are_named_and_ignored() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let span = Span {
            start,
            end: start + Duration::from_secs(10),
        };
        // A log of an earlier run (an hour before) and one of this run.
        let log = |base: SystemTime| {
            let mut out = Vec::new();
            write_header(&mut out, &["t"], base).unwrap();
            let mut h = hlog::new_histogram();
            h.record(1000).unwrap();
            IntervalWriter::new()
                .write(
                    &mut out,
                    "http_req_duration:home",
                    Duration::ZERO,
                    Duration::from_secs(1),
                    &h,
                )
                .unwrap();
            out
        };
        let w = (Region::us_east_1(), WorkerId::numbered(0));
        let mut m = Merged::default();
        let old = m.add_object(
            &w,
            &ObjectKey::new("a").unwrap(),
            &log(start - Duration::from_secs(3600)),
            span,
        );
        let now = m.add_object(&w, &ObjectKey::new("b").unwrap(), &log(start), span);
        assert_eq!((old, now), (0, 1));
        assert_eq!(m.total.requests(), 1);
        assert_eq!(m.problems.len(), 1);
        assert!(
            m.problems[0].message.contains("outside the run"),
            "{:?}",
            m.problems
        );
    }
}
