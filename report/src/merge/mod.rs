//! Merges decoded interval logs exactly: HdrHistogram `add`, never averaged
//! percentiles, one object at a time into a [`Merged`] state that grows with the
//! run's seconds and names, never with its objects or workers.
//!
//! Every interval is added into the run total, its worker's region and its
//! request name (full histograms for the whole run, k6 phase timings
//! `http_req_blocked` ... `http_req_receiving` included), and into its second of
//! the run (see [`seconds`]: open seconds keep full histograms per region,
//! request and region × request, closed ones only a reduced point), and (for
//! live progress) its region's second while that second is recent.
//! Besides, every interval counts (phases included) in one scope per tag
//! `key:value` it carries (`status:200`, `method:GET`, `scenario:browse`,
//! `expected_response:true`, unknown keys too) and per `region:R`, for
//! threshold tag filters: their number grows with distinct tag values (capped
//! by the workers), never per second. `checks` counter intervals add to the
//! pass/fail counts per check name. A
//! line that does not decode becomes a [`Problem`] naming its object and line; the
//! rest of the object still counts, and so does an interval of a second that was
//! closed already (in every total, named as a problem, left out of the series).
//! Decoding is the core crate's interval-log codec; this module does not fetch
//! objects or decide when seconds close (collect does) or compute report
//! figures (summary does).

pub mod custom;
pub mod seconds;
mod stats;

pub use stats::Stats;

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

use crate::problem::{Problem, WorkerKey};

/// Seconds per region kept for live progress, counted back from the latest one
/// seen in that region; older ones are dropped so the live state stays bounded.
pub const RECENT_SECONDS: u64 = 30;

/// The merge of a run's interval logs so far.
#[derive(Debug, Clone, Default)]
pub struct Merged {
    /// Everything.
    pub total: Stats,
    /// Per region.
    pub regions: BTreeMap<Region, Stats>,
    /// Per request name.
    pub requests: BTreeMap<String, Stats>,
    /// Per second after the run's start (`start_at`): open seconds in full per
    /// scope, closed ones reduced to points.
    pub seconds: seconds::Seconds,
    /// Per region and second, the last [`RECENT_SECONDS`] of each region only
    /// (live progress).
    pub recent: BTreeMap<(Region, u64), Stats>,
    /// Per tag `(key, value)` of the samples (`("status", "200")`), with
    /// `("region", R)` for each region; phase timings included.
    pub tagged: BTreeMap<(String, String), Stats>,
    /// Check pass/fail counts per check name, from the logs' `checks` intervals.
    pub checks: BTreeMap<String, CheckCounts>,
    /// Check pass/fail counts per (group, check name), for scripts' checks
    /// inside `group()`s (k6's groups: `::outer::inner`).
    pub group_checks: BTreeMap<(String, String), CheckCounts>,
    /// Custom metrics of k6 scripts (and `group_duration`) by name.
    pub custom: BTreeMap<String, custom::CustomStats>,
    /// Custom metrics by (name, tag key, tag value), for threshold filters.
    pub custom_tagged: BTreeMap<(String, String, String), custom::CustomStats>,
    /// Objects (or lines of them) that could not be decoded.
    pub problems: Vec<Problem>,
    /// Objects with intervals for seconds closed already: counted in every
    /// total, left out of the per-second series only (not a problem: nothing is
    /// lost from the figures, and `report RUN_ID` rebuilds exact series).
    pub late: Vec<Problem>,
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

/// Problems named per object: the lines refused past these are counted in one
/// more problem, so a large object of bad lines stays a short report.
pub const MAX_PROBLEMS_PER_OBJECT: u64 = 20;

/// The requests an interval-log object holds inside `span`
/// (`http_req_duration` + `http_req_errored` values of named requests), read
/// without merging it, so a reader can check an object before it counts.
/// Only those intervals' histograms are decoded.
pub fn requests_in(bytes: &[u8], span: Span) -> u64 {
    hlog::decode_tags(bytes, counts_requests)
        .flatten()
        .filter(|i| span.holds(i.start))
        .fold(0u64, |n, i| n.saturating_add(i.histogram.len()))
}

/// Whether an interval of `tag` counts requests (as [`Merged::add_log`] does).
fn counts_requests(tag: &str) -> bool {
    TagSet::parse(tag).is_ok_and(|set| {
        [TAG_DURATION, TAG_ERRORED].contains(&set.metric.as_str()) && set.name().is_some()
    })
}

/// How far outside its run's span an interval may start and still count.
pub const SPAN_SLACK: std::time::Duration = std::time::Duration::from_secs(2);

impl Span {
    fn holds(&self, at: SystemTime) -> bool {
        let from = self.start.checked_sub(SPAN_SLACK).unwrap_or(self.start);
        at >= from && at <= self.end + SPAN_SLACK
    }
}

/// Merges `logs` (worker, key, bytes) of a run spanning `span` (tests merge
/// whole sets of logs at once; collect adds one object at a time).
#[cfg(test)]
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
        self.add_log(worker, key, bytes, span).requests
    }

    /// [`Merged::add_object`], also telling where the object's intervals end.
    pub fn add_log(
        &mut self,
        worker: &WorkerKey,
        key: &ObjectKey,
        bytes: &[u8],
        span: Span,
    ) -> Added {
        self.objects += 1;
        let mut added = Added::default();
        let mut late = Late::default();
        let mut refused = 0u64;
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
                let end = i.start + i.length;
                added.latest_end = Some(added.latest_end.map_or(end, |e| e.max(end)));
                self.add_interval(&worker.0, &i, span.start)
                    .map_err(|e| format!("corrupt interval log: {e}"))
            });
            match result {
                Ok(counted) => {
                    added.requests = added.requests.saturating_add(counted.requests);
                    late.count(&counted);
                }
                Err(_) if refused >= MAX_PROBLEMS_PER_OBJECT => refused += 1,
                Err(message) => {
                    refused += 1;
                    self.problems.push(Problem {
                        key: key.clone(),
                        message,
                    });
                }
            }
        }
        if let Some(more) = refused
            .checked_sub(MAX_PROBLEMS_PER_OBJECT)
            .filter(|n| *n > 0)
        {
            self.problems.push(Problem {
                key: key.clone(),
                message: format!(
                    "{more} more lines refused (the first {MAX_PROBLEMS_PER_OBJECT} are named)"
                ),
            });
        }
        if let Some(message) = late.message() {
            self.late.push(Problem {
                key: key.clone(),
                message,
            });
        }
        added
    }

    fn add_interval(
        &mut self,
        region: &Region,
        interval: &Interval,
        start_at: SystemTime,
    ) -> Result<Counted, String> {
        let tag = interval.tag.as_str();
        let set = TagSet::parse(tag).map_err(|e| e.to_string())?;
        let metric = set.metric.as_str();
        let h = &interval.histogram;
        let second = second_of(interval.start, start_at);
        if let Some(line) = custom::line(&set)? {
            self.add_custom(region, &line, interval, second)?;
            return Ok(Counted::default());
        }
        if metric == METRIC_CHECKS {
            self.add_checks(region, &set, second, h.len());
            return Ok(Counted::default());
        }
        if metric == METRIC_DROPPED || metric == METRIC_ITERATION {
            self.add_iterations(region, &set, second, interval)?;
            return Ok(Counted::default());
        }
        if metric == METRIC_VUS || metric == METRIC_VUS_MAX {
            self.add_vus(region, &set, interval, start_at);
            return Ok(Counted::default());
        }
        if metric == METRIC_DATA_SENT || metric == METRIC_DATA_RECEIVED {
            self.add_data(region, &set, second, h.len());
            return Ok(Counted::default());
        }
        let phase = TAG_PHASES.iter().position(|p| *p == metric);
        let known = phase.is_some() || [TAG_DURATION, TAG_FAILED, TAG_ERRORED].contains(&metric);
        let Some(request) = set.name() else {
            // A metric of a newer worker without a request name is skipped.
            return match known {
                true => Err(format!("tag `{tag}` has no request name")),
                false => Ok(Counted::default()),
            };
        };
        let add = |scope: &mut Stats| add_to(scope, metric, phase, interval);
        let tags = set.tags.iter().filter(|(k, _)| k != KEY_NAME).cloned();
        for key in tags.chain([("region".to_owned(), region.as_str().to_owned())]) {
            add(self.tagged.entry(key).or_default())?;
        }
        add(&mut self.total)?;
        add(self.requests.entry(request.to_owned()).or_default())?;
        add(self.regions.entry(region.clone()).or_default())?;
        let keep_tag_sets = self.seconds.keeps_closed();
        if phase.is_some() {
            if let (true, Some(open)) = (keep_tag_sets, self.seconds.open(second)) {
                add(&mut open
                    .tag_sets
                    .entry(tag_set(region, &set, &[]))
                    .or_default()
                    .stats)?;
            }
            return Ok(Counted::default());
        }
        if self.keep_recent(region, second) {
            let recent = self.recent.entry((region.clone(), second));
            add(recent.or_insert_with(seconds::open_stats))?;
        }
        let requests = match metric {
            TAG_DURATION | TAG_ERRORED => h.len(),
            _ => 0,
        };
        let Some(open) = self.seconds.open(second) else {
            return Ok(Counted {
                requests,
                late: Some(second),
            });
        };
        let tags = keep_tag_sets.then(|| tag_set(region, &set, &[]));
        add_to_second(open, region, request, tags, add)?;
        Ok(Counted {
            requests,
            late: None,
        })
    }

    /// Adds a custom-metric line of a k6 script to its metric's run total and
    /// to one scope per tag it carries (and its region).
    fn add_custom(
        &mut self,
        region: &Region,
        line: &custom::Line<'_>,
        interval: &Interval,
        second: u64,
    ) -> Result<(), String> {
        let name = line.name;
        custom::add(&mut self.custom, name.to_owned(), line, interval, second)?;
        let region_tag = ("region", region.as_str());
        for (k, v) in line.tags.iter().copied().chain([region_tag]) {
            let key = (name.to_owned(), k.to_owned(), v.to_owned());
            custom::add(&mut self.custom_tagged, key, line, interval, second)?;
        }
        Ok(())
    }

    /// Adds a `dropped_iterations` counter or an `iteration_duration` interval
    /// to the run, its region, its tags' scopes and (for outputs) its second's
    /// tag set.
    fn add_iterations(
        &mut self,
        region: &Region,
        set: &TagSet,
        second: u64,
        interval: &Interval,
    ) -> Result<(), String> {
        let h = &interval.histogram;
        let add = |scope: &mut Stats| -> Result<(), String> {
            if set.metric == METRIC_DROPPED {
                scope.dropped = scope.dropped.saturating_add(h.len());
                return Ok(());
            }
            let like = seconds::new_like(&scope.duration);
            let into = scope.iterations.get_or_insert(like);
            hlog::add(into, h).map_err(|e| format!("interval `{}`: {e:?}", interval.tag))
        };
        add(&mut self.total)?;
        add(self.regions.entry(region.clone()).or_default())?;
        let region_tag = ("region".to_owned(), region.as_str().to_owned());
        for key in set.tags.iter().cloned().chain([region_tag]) {
            add(self.tagged.entry(key).or_default())?;
        }
        if !self.seconds.keeps_closed() {
            return Ok(());
        }
        if let Some(open) = self.seconds.open(second) {
            add(&mut open
                .tag_sets
                .entry(tag_set(region, set, &[]))
                .or_default()
                .stats)?;
        }
        Ok(())
    }

    /// Adds a `data_sent` / `data_received` counter of `bytes` to the run, its
    /// region, its request name and its tags' scopes.
    fn add_data(&mut self, region: &Region, set: &TagSet, second: u64, bytes: u64) {
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
        if self.seconds.keeps_closed()
            && let Some(open) = self.seconds.open(second)
        {
            add(&mut open
                .tag_sets
                .entry(tag_set(region, set, &[]))
                .or_default()
                .stats);
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

    /// Adds a `checks` counter interval of `count` results, in total and (for
    /// outputs) to its second's tag set.
    fn add_checks(&mut self, region: &Region, set: &TagSet, second: u64, count: u64) {
        let Some(check) = set.get(KEY_CHECK) else {
            return;
        };
        let passed = set.get(KEY_PASSED) == Some("true");
        count_check(
            self.checks.entry(check.to_owned()).or_default(),
            passed,
            count,
        );
        if let Some(group) = set.get("group") {
            let key = (group.to_owned(), check.to_owned());
            count_check(self.group_checks.entry(key).or_default(), passed, count);
        }
        if !self.seconds.keeps_closed() {
            return;
        }
        if let Some(open) = self.seconds.open(second) {
            let tags = tag_set(region, set, &[KEY_CHECK, KEY_PASSED]);
            let checks = &mut open.tag_sets.entry(tags).or_default().checks;
            count_check(checks.entry(check.to_owned()).or_default(), passed, count);
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

/// What one interval added: requests, and the second it belongs to when that
/// second was closed already.
#[derive(Debug, Clone, Copy, Default)]
struct Counted {
    requests: u64,
    late: Option<u64>,
}

/// The requests of one object that arrived for seconds closed already.
#[derive(Debug, Clone, Copy, Default)]
struct Late {
    requests: u64,
    seconds: Option<(u64, u64)>,
}

impl Late {
    fn count(&mut self, counted: &Counted) {
        let Some(t) = counted.late else {
            return;
        };
        self.requests = self.requests.saturating_add(counted.requests);
        self.seconds = Some(self.seconds.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
    }

    /// The problem to name, if any interval came late.
    fn message(&self) -> Option<String> {
        let (first, last) = self.seconds?;
        Some(format!(
            "{} requests of seconds {first}-{last} arrived after their second was closed; \
             the per-second series omit them",
            self.requests
        ))
    }
}

/// What one interval-log object added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Added {
    /// Requests it holds.
    pub requests: u64,
    /// Where its latest interval ends (`None`: no interval decoded).
    pub latest_end: Option<SystemTime>,
}

/// The second of the run an interval starting at `at` belongs to.
fn second_of(at: SystemTime, start_at: SystemTime) -> u64 {
    let after = at.duration_since(start_at).unwrap_or_default();
    after.as_secs_f64().round() as u64
}

/// The tag set of an interval of `region`: `region`, then its tags but `skip`.
fn tag_set(region: &Region, set: &TagSet, skip: &[&str]) -> seconds::Tags {
    let region = ("region".to_owned(), region.as_str().to_owned());
    let tags = set.tags.iter().filter(|(k, _)| !skip.contains(&k.as_str()));
    std::iter::once(region).chain(tags.cloned()).collect()
}

/// Adds an interval (through `add`) to an open second's scopes: the run, its
/// region, its request, its region × request and, when given, its tag set.
fn add_to_second(
    open: &mut seconds::OpenSecond,
    region: &Region,
    request: &str,
    tags: Option<seconds::Tags>,
    add: impl Fn(&mut Stats) -> Result<(), String>,
) -> Result<(), String> {
    add(open.total.get_or_insert_with(seconds::open_stats))?;
    add(open
        .regions
        .entry(region.clone())
        .or_insert_with(seconds::open_stats))?;
    add(open
        .requests
        .entry(request.to_owned())
        .or_insert_with(seconds::open_stats))?;
    let region_request = (region.clone(), request.to_owned());
    add(open
        .region_requests
        .entry(region_request)
        .or_insert_with(seconds::open_stats))?;
    if let Some(tags) = tags {
        add(&mut open.tag_sets.entry(tags).or_default().stats)?;
    }
    Ok(())
}

/// Adds `count` passes (or fails) to `counts`.
fn count_check(counts: &mut CheckCounts, passed: bool, count: u64) {
    if passed {
        counts.passes = counts.passes.saturating_add(count);
    } else {
        counts.fails = counts.fails.saturating_add(count);
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
        (Some(phase), _) => {
            let like = seconds::new_like(&scope.duration);
            add(scope.timings[phase].get_or_insert(like))?
        }
        (None, TAG_DURATION) => add(&mut scope.duration)?,
        (None, TAG_FAILED) => scope.failed = scope.failed.saturating_add(h.len()),
        (None, TAG_ERRORED) => scope.errored = scope.errored.saturating_add(h.len()),
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod property_tests;

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
