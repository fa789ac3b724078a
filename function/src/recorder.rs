//! Records every request's outcome: latency (and, for requests that got a response,
//! the six k6 phase timings) into HdrHistograms per one-second interval and tag
//! set (request name, status, method, scenario, expected_response; version-2 tags
//! of [`sls_load_core::tag`]), created lazily, counts and error classes per
//! request name, and pass/fail counts per check name (in total and per interval,
//! as `checks` counter intervals), and the HTTP bytes each request sent and
//! received (`data_sent` / `data_received` counter intervals per request).
//!
//! Distinct tag sets per worker are capped at [`MAX_TAG_SETS`]: beyond it, a
//! request's further statuses fold into `status=other`, so memory stays bounded
//! whatever statuses a target returns.
//!
//! With a `served_by` header configured ([`Recorder::with_served_by`]) every
//! request's samples also carry `served_by=<that response header's value>`
//! (`none` when absent or when no response came); distinct values per worker
//! are capped at [`MAX_SERVED_VALUES`], beyond which they fold into `other`.
//!
//! The recorder owns the in-memory measurement state and turns completed intervals
//! into standard HdrHistogram interval-log lines (V2 + deflate, base64) as soon as
//! they are complete, so memory stays bounded by one interval's histograms however
//! long the slice is. It does not decide when to send anything (the engine does) or
//! where bytes go (the sink does). Values are microseconds, 1 µs to 60 s, 3
//! significant digits; slower values saturate at 60 s (phases of zero stay zero).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use sls_load_core::hlog::{self, IntervalWriter};

use crate::client::{Timings, Traffic};
use crate::job::{
    CheckCounts, ErrorClass, HIST_HIGH_US, HIST_LOW_US, MAX_EXCEPTION_MESSAGES, RequestCounts,
    TAG_DURATION, TAG_ERRORED, TAG_FAILED, TAG_PHASES,
};
use sls_load_core::tag::{
    KEY_CHECK, KEY_EXPECTED, KEY_METHOD, KEY_NAME, KEY_PASSED, KEY_SCENARIO, KEY_SERVED_BY,
    KEY_STATUS, METRIC_DATA_RECEIVED, METRIC_DATA_SENT, METRIC_VUS, METRIC_VUS_MAX, SERVED_NONE,
    STATUS_OTHER, TagSet,
};

/// Most distinct tag sets (request, status, expected_response) one worker
/// records; beyond it further statuses fold into `status=other`.
pub const MAX_TAG_SETS: usize = 1_000;

/// Most distinct `served_by` values one worker records; beyond it further
/// values fold into `served_by=other`.
pub const MAX_SERVED_VALUES: usize = 16;

pub use sls_load_core::tag::{METRIC_CHECKS, METRIC_DROPPED, METRIC_ITERATION, METRIC_PAUSED};

/// What the recorder knows of one request of the job: its tags that do not
/// depend on the response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestInfo {
    /// The request name (`name` tag).
    pub name: String,
    /// The HTTP method (`method` tag); empty when unknown.
    pub method: String,
    /// The scenario the request belongs to (`scenario` tag); empty when unknown.
    pub scenario: String,
    /// Further tags, written after `scenario` (a script's `group` and its own
    /// tags); empty for YAML requests.
    pub tags: Vec<(String, String)>,
}

/// Most distinct requests (name, method, scenario, tags) one worker records
/// (a script's requests are known only as they are sent); further ones are
/// recorded as [`OTHER_REQUEST`].
pub const MAX_REQUESTS: usize = 1_000;

/// The name under which requests past [`MAX_REQUESTS`] are recorded.
pub const OTHER_REQUEST: &str = "other";

/// The response-dependent part of a tag set: the status (`None` past the cap,
/// written `other`; `0` for no response), whether the response was expected and
/// the index of its `served_by` value (`None`: not tagged).
type Variant = (Option<u16>, bool, Option<u8>);

/// How one request ended, as the recorder sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response the checks accepted.
    Ok,
    /// A response the checks rejected (its latency still counts in `http_req_duration`).
    Failed(ErrorClass),
    /// No response at all.
    Errored(ErrorClass),
}

/// One finished request, as [`Recorder::record`] takes it. Build it with
/// [`Sample::new`] and set what a response adds with struct update syntax:
/// `Sample { status: Some(200), ..Sample::new(0, Outcome::Ok, latency, at) }`.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    /// The request's index (its name, method and scenario; see [`RequestInfo`]).
    pub request: usize,
    /// How it ended.
    pub outcome: Outcome,
    /// From the instant it is timed from (its intended start in the open model)
    /// to its end.
    pub latency: Duration,
    /// When it ended: the interval it is recorded in.
    pub at: Instant,
    /// The response status (the `status` tag); `None` or an errored outcome
    /// record `0`.
    pub status: Option<u16>,
    /// The phase timings of a request that got a response (one histogram per
    /// phase, like k6's `http_req_*`).
    pub timings: Option<&'a Timings>,
    /// The response headers, which name the backend that answered (the
    /// `served_by` tag) when one is configured.
    pub headers: Option<&'a http::HeaderMap>,
    /// The bytes it sent and received (k6's `data_sent` / `data_received`),
    /// counted per interval and request.
    pub traffic: Traffic,
}

impl Sample<'_> {
    /// A request of index `request` with `outcome`, ended at `at` after
    /// `latency`, without status, timings or headers.
    pub fn new(request: usize, outcome: Outcome, latency: Duration, at: Instant) -> Self {
        Self {
            request,
            outcome,
            latency,
            at,
            status: None,
            timings: None,
            headers: None,
            traffic: Traffic::default(),
        }
    }
}

/// Errors while encoding histograms.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// HdrHistogram could not be serialized.
    #[error(transparent)]
    Encode(#[from] hlog::EncodeError),
}

/// The metrics recorded per request name; the index into a request's slots: the
/// duration, failed and errored latencies, then the six k6 phase timings.
const METRICS: [&str; 9] = [
    TAG_DURATION,
    TAG_FAILED,
    TAG_ERRORED,
    TAG_PHASES[0],
    TAG_PHASES[1],
    TAG_PHASES[2],
    TAG_PHASES[3],
    TAG_PHASES[4],
    TAG_PHASES[5],
];

/// The slot of the first phase timing in [`METRICS`].
const FIRST_PHASE: usize = 3;

/// One scenario's VUs on this worker (k6's `vus` and `vus_max` gauges).
#[derive(Debug, Default, Clone, Copy)]
struct VuGauge {
    /// VUs running an iteration now.
    active: u64,
    /// The most that ran at once in the current interval.
    interval_max: u64,
    /// VUs started so far (they are never taken back).
    allocated: u64,
}

/// One tag set's histograms of the current interval, by [`METRICS`] index.
type Slots = [Option<Histogram<u64>>; METRICS.len()];

/// A check result's key within an interval: (check name, passed, tags).
type CheckKey = (String, bool, Vec<(String, String)>);

struct State {
    /// Index of the interval currently being recorded (seconds since `base`).
    current: u64,
    /// Histograms of the current interval by request and variant, one slot per
    /// metric of [`METRICS`] (one map lookup per sample, not one per metric),
    /// created on first use and dropped when the interval closes.
    hists: BTreeMap<(usize, Variant), Box<Slots>>,
    /// Every tag set (request, variant) seen so far, at most [`MAX_TAG_SETS`].
    seen: BTreeSet<(usize, Variant)>,
    /// Check results of the current interval: (check name, passed, tags) → count.
    interval_checks: BTreeMap<CheckKey, u64>,
    /// Custom metrics of the current interval (k6 scripts).
    custom: custom::Custom,
    /// Every request known, by index: the job's, then a script's as sent.
    requests: Vec<RequestInfo>,
    /// The index of each request in `requests`.
    index: HashMap<RequestInfo, usize>,
    /// Exceptions that ended script iterations, by message.
    exceptions: BTreeMap<String, u64>,
    /// The reason of a script's `test.abort()`.
    aborted: Option<String>,
    /// Dropped iterations of the current interval per scenario.
    interval_dropped: BTreeMap<String, u64>,
    /// Arrivals paused by a drill in the current interval, per scenario.
    interval_paused: BTreeMap<String, u64>,
    /// Arrivals paused by a drill over the whole job.
    paused_total: u64,
    /// Durations of the iterations that ended in the current interval, per scenario.
    interval_iterations: BTreeMap<String, Histogram<u64>>,
    /// Bytes sent and received in the current interval per request index.
    interval_traffic: BTreeMap<usize, Traffic>,
    /// VU gauges per scenario, once the scenario has a VU.
    vus: BTreeMap<String, VuGauge>,
    /// Interval-log lines of completed intervals not yet taken by [`Recorder::take_log`].
    pending: Vec<u8>,
    writer: IntervalWriter,
    counts: Vec<RequestCounts>,
    checks: BTreeMap<String, CheckCounts>,
    /// The `served_by` values seen so far, indexed by a [`Variant`]'s last part.
    served: Vec<String>,
}

/// Thread-safe measurement state for one worker.
pub struct Recorder {
    base: Instant,
    base_wall: SystemTime,
    /// The response header whose value tags every sample as `served_by`.
    served_by: Option<http::HeaderName>,
    state: Mutex<State>,
}

impl Recorder {
    /// A recorder whose interval 0 starts at `base` (the monotonic instant of `base_wall`,
    /// the run's `start_at`), for the given request names.
    /// Their method and scenario are not tagged; see [`Recorder::with_requests`].
    pub fn new(base: Instant, base_wall: SystemTime, names: Vec<String>) -> Self {
        let requests = names
            .into_iter()
            .map(|name| RequestInfo {
                name,
                method: String::new(),
                scenario: String::new(),
                tags: Vec::new(),
            })
            .collect();
        Self::with_requests(base, base_wall, requests)
    }

    /// A recorder for the given requests, whose samples carry their tags.
    pub fn with_requests(base: Instant, base_wall: SystemTime, requests: Vec<RequestInfo>) -> Self {
        let index = requests
            .iter()
            .enumerate()
            .map(|(i, r)| (r.clone(), i))
            .collect();
        let state = State {
            current: 0,
            hists: BTreeMap::new(),
            seen: BTreeSet::new(),
            interval_checks: BTreeMap::new(),
            custom: custom::Custom::default(),
            exceptions: BTreeMap::new(),
            aborted: None,
            interval_dropped: BTreeMap::new(),
            interval_paused: BTreeMap::new(),
            paused_total: 0,
            interval_iterations: BTreeMap::new(),
            interval_traffic: BTreeMap::new(),
            vus: BTreeMap::new(),
            pending: Vec::new(),
            writer: IntervalWriter::new(),
            counts: vec![RequestCounts::default(); requests.len()],
            requests,
            index,
            checks: BTreeMap::new(),
            served: Vec::new(),
        };
        Self {
            base,
            base_wall,
            served_by: None,
            state: Mutex::new(state),
        }
    }

    /// This recorder tagging every sample with `served_by=<value of header>`
    /// (a header name that is not valid HTTP tags nothing).
    pub fn with_served_by(mut self, header: Option<&str>) -> Self {
        self.served_by = header.and_then(|h| http::HeaderName::from_bytes(h.as_bytes()).ok());
        self
    }

    /// The interval index of `at` (0 before the base).
    fn interval_of(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.base).as_secs()
    }

    /// Records one finished request: its latency, in the interval it ended in,
    /// under its tags (request, status, expected response and, when configured,
    /// `served_by`), its phase timings (for a request that got a response), its
    /// count and error class, and its bytes.
    pub fn record(&self, sample: &Sample<'_>) -> Result<(), RecorderError> {
        let Sample {
            request,
            outcome,
            latency,
            at,
            status,
            timings,
            headers,
            traffic,
        } = *sample;
        let mut st = self.lock_at(at)?;
        if traffic != Traffic::default() {
            add_traffic(&mut st.interval_traffic, request, traffic);
        }
        let value = micros(latency);
        let expected = outcome == Outcome::Ok;
        let status = match outcome {
            Outcome::Errored(_) => 0,
            _ => status.unwrap_or(0),
        };
        let served = self.served_index(&mut st.served, headers);
        let variant = variant_of(&mut st.seen, request, (Some(status), expected, served));
        let slots = st
            .hists
            .entry((request, variant))
            .or_insert_with(|| Box::new([const { None }; METRICS.len()]));
        let mut put = |metric: usize, value: u64| -> Result<(), RecorderError> {
            slots[metric]
                .get_or_insert_with(hlog::new_histogram)
                .saturating_record(value);
            Ok(())
        };
        match outcome {
            Outcome::Ok => put(0, value)?,
            Outcome::Failed(_) => {
                put(0, value)?;
                put(1, value)?;
            }
            Outcome::Errored(_) => put(2, value)?,
        }
        if let Some(t) = timings
            && !matches!(outcome, Outcome::Errored(_))
        {
            let phases = [
                t.blocked,
                t.connecting,
                t.tls_handshaking,
                t.sending,
                t.waiting,
                t.receiving,
            ];
            for (i, phase) in phases.into_iter().enumerate() {
                // A phase that did not happen (e.g. connecting on a reused
                // connection) is a true zero, as in k6.
                let us = u64::try_from(phase.as_micros()).unwrap_or(u64::MAX);
                put(FIRST_PHASE + i, us.min(HIST_HIGH_US))?;
            }
        }
        let c = &mut st.counts[request];
        c.requests += 1;
        if let Outcome::Failed(class) | Outcome::Errored(class) = outcome {
            c.errors += 1;
            *c.errors_by_class.entry(class).or_default() += 1;
        }
        Ok(())
    }

    /// Closes every interval that ended before `now`, so [`Recorder::take_log`] returns it.
    pub fn roll_to(&self, now: Instant) -> Result<(), RecorderError> {
        self.lock_at(now).map(drop)
    }

    /// Closes every interval, the current one included (at the end of the slice).
    pub fn close(&self) -> Result<(), RecorderError> {
        let mut st = self.lock();
        let next = st.current + 1;
        self.roll(&mut st, next)
    }

    /// Takes the completed intervals as a standalone interval log (with headers),
    /// or `None` when no interval completed since the last call.
    pub fn take_log(&self, comment: &str) -> Result<Option<Vec<u8>>, RecorderError> {
        let lines = std::mem::take(&mut self.lock().pending);
        if lines.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(lines.len() + 256);
        hlog::write_header(
            &mut out,
            &[
                comment,
                "values are microseconds; tags are version 2 (v2;metric=M;key=value;...)",
            ],
            self.base_wall,
        )?;
        out.extend_from_slice(&lines);
        Ok(Some(out))
    }

    /// Counts per request name so far (requests of one name with different
    /// methods or tags added together).
    pub fn counts(&self) -> BTreeMap<String, RequestCounts> {
        let st = self.lock();
        let mut out: BTreeMap<String, RequestCounts> = BTreeMap::new();
        for (info, c) in st.requests.iter().zip(&st.counts) {
            match out.get_mut(&info.name) {
                None => {
                    out.insert(info.name.clone(), c.clone());
                }
                Some(total) => {
                    total.requests += c.requests;
                    total.errors += c.errors;
                    for (class, n) in &c.errors_by_class {
                        *total.errors_by_class.entry(*class).or_default() += n;
                    }
                }
            }
        }
        out
    }

    /// The index of request `info`, known from now on (a script's request,
    /// met as it is sent); past [`MAX_REQUESTS`], the index of
    /// [`OTHER_REQUEST`] of its scenario.
    pub fn request(&self, info: RequestInfo) -> usize {
        let mut st = self.lock();
        if let Some(i) = st.index.get(&info) {
            return *i;
        }
        let info = if st.requests.len() < MAX_REQUESTS {
            info
        } else {
            let other = RequestInfo {
                name: OTHER_REQUEST.to_owned(),
                method: String::new(),
                scenario: info.scenario,
                tags: Vec::new(),
            };
            if let Some(i) = st.index.get(&other) {
                return *i;
            }
            other
        };
        let i = st.requests.len();
        st.requests.push(info.clone());
        st.index.insert(info, i);
        st.counts.push(RequestCounts::default());
        i
    }

    /// Counts one check result with its tags (a script's `check`: `group`
    /// and its own tags) at `at`.
    pub fn record_check(
        &self,
        name: &str,
        passed: bool,
        tags: &[(String, String)],
        at: Instant,
    ) -> Result<(), RecorderError> {
        let mut st = self.lock_at(at)?;
        *st.interval_checks
            .entry((name.to_owned(), passed, tags.to_vec()))
            .or_default() += 1;
        let counts = st.checks.entry(name.to_owned()).or_default();
        if passed {
            counts.passes += 1;
        } else {
            counts.fails += 1;
        }
        Ok(())
    }

    /// Adds one value to a custom metric (or `group_duration`) at `at`.
    pub fn record_metric(&self, value: &MetricValue<'_>, at: Instant) -> Result<(), RecorderError> {
        self.lock_at(at)?.custom.add(value);
        Ok(())
    }

    /// Counts an exception that ended a script's iteration (at most
    /// [`MAX_EXCEPTION_MESSAGES`] distinct messages; further ones as `other`).
    /// Returns how often it was counted so far.
    pub fn record_exception(&self, message: &str) -> u64 {
        let mut st = self.lock();
        let known = st.exceptions.contains_key(message);
        let key = if known || st.exceptions.len() < MAX_EXCEPTION_MESSAGES {
            message
        } else {
            OTHER_REQUEST
        };
        let n = st.exceptions.entry(key.to_owned()).or_default();
        *n += 1;
        *n
    }

    /// Notes a script's `test.abort(reason)` (the first reason is kept).
    pub fn record_abort(&self, reason: &str) {
        let mut st = self.lock();
        if st.aborted.is_none() {
            st.aborted = Some(reason.to_owned());
        }
    }

    /// The reason of a script's `test.abort()`, if it called it.
    pub fn aborted(&self) -> Option<String> {
        self.lock().aborted.clone()
    }

    /// Exceptions that ended script iterations so far, by message.
    pub fn exceptions(&self) -> BTreeMap<String, u64> {
        self.lock().exceptions.clone()
    }

    /// Counts the check results of one response to request `request`:
    /// `(check name, passed)`. A response that failed any adds one `check_failed`
    /// to the request's `errors_by_class` (not to its `errors`).
    pub fn record_checks<'a>(
        &self,
        request: usize,
        results: impl IntoIterator<Item = (&'a str, bool)>,
    ) {
        let mut st = self.lock();
        let mut failed = false;
        for (name, passed) in results {
            failed |= !passed;
            *st.interval_checks
                .entry((name.to_owned(), passed, Vec::new()))
                .or_default() += 1;
            let counts = match st.checks.get_mut(name) {
                Some(c) => c,
                None => st.checks.entry(name.to_owned()).or_default(),
            };
            if passed {
                counts.passes += 1;
            } else {
                counts.fails += 1;
            }
        }
        if failed && let Some(c) = st.counts.get_mut(request) {
            *c.errors_by_class
                .entry(ErrorClass::CheckFailed)
                .or_default() += 1;
        }
    }

    /// Counts `n` iterations of `scenario` that could not start (k6's
    /// `dropped_iterations`) in the interval being recorded, written as a
    /// `dropped_iterations` counter interval tagged with the scenario.
    pub fn record_dropped(&self, scenario: &str, n: u64) {
        let mut st = self.lock();
        let count = match st.interval_dropped.get_mut(scenario) {
            Some(c) => c,
            None => st.interval_dropped.entry(scenario.to_owned()).or_default(),
        };
        *count = count.saturating_add(n);
    }

    /// Counts `n` arrivals of `scenario` due while a drill paused the region
    /// (`pause_region`): not dropped, paused; written as a `paused_iterations`
    /// counter interval tagged with the scenario.
    pub fn record_paused(&self, scenario: &str, n: u64) {
        let mut st = self.lock();
        st.paused_total = st.paused_total.saturating_add(n);
        let count = match st.interval_paused.get_mut(scenario) {
            Some(c) => c,
            None => st.interval_paused.entry(scenario.to_owned()).or_default(),
        };
        *count = count.saturating_add(n);
    }

    /// Arrivals paused by a drill so far, over the whole job.
    pub fn paused(&self) -> u64 {
        self.lock().paused_total
    }

    /// A VU of `scenario` ends an iteration at `at` after `duration`: it is no
    /// longer busy ([`Recorder::vu_busy`]) and the iteration is recorded (k6's
    /// `iteration_duration`; their count is `iterations`).
    pub fn iteration_ended(
        &self,
        scenario: &str,
        duration: Duration,
        at: Instant,
    ) -> Result<(), RecorderError> {
        let mut st = self.lock_at(at)?;
        gauge(&mut st.vus, scenario, |g| {
            g.active = g.active.saturating_sub(1)
        });
        iteration_into(&mut st, scenario, duration);
        Ok(())
    }

    /// Counts one more VU started for `scenario` at `at` (k6's `vus_max`).
    pub fn vu_allocated(&self, scenario: &str, at: Instant) -> Result<(), RecorderError> {
        let mut st = self.lock_at(at)?;
        gauge(&mut st.vus, scenario, |g| g.allocated += 1);
        Ok(())
    }

    /// A VU of `scenario` starts (`true`) or ends (`false`) an iteration at
    /// `at` (k6's `vus`: the VUs running an iteration).
    pub fn vu_busy(&self, scenario: &str, busy: bool, at: Instant) -> Result<(), RecorderError> {
        let mut st = self.lock_at(at)?;
        gauge(&mut st.vus, scenario, |g| {
            if busy {
                g.active += 1;
                g.interval_max = g.interval_max.max(g.active);
            } else {
                g.active = g.active.saturating_sub(1);
            }
        });
        Ok(())
    }

    /// Pass/fail counts per check name so far.
    pub fn checks(&self) -> BTreeMap<String, CheckCounts> {
        self.lock().checks.clone()
    }

    /// The state, with every interval that ended before `at` closed first.
    fn lock_at(&self, at: Instant) -> Result<std::sync::MutexGuard<'_, State>, RecorderError> {
        let idx = self.interval_of(at);
        let mut st = self.lock();
        if idx > st.current {
            self.roll(&mut st, idx)?;
        }
        Ok(st)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the counts half-updated in a way
        // that matters more than losing them, so recover the guard.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Serializes the current interval's histograms and check counters into
    /// `pending`, drops them, and moves to `next`.
    fn roll(&self, st: &mut State, next: u64) -> Result<(), RecorderError> {
        let State {
            current,
            hists,
            interval_checks,
            interval_dropped,
            interval_paused,
            interval_iterations,
            interval_traffic,
            vus,
            pending,
            writer,
            served,
            custom,
            requests,
            ..
        } = st;
        let start = Duration::from_secs(*current);
        let second = Duration::from_secs(1);
        for ((request, variant), slots) in std::mem::take(hists) {
            for (metric, h) in slots.iter().enumerate() {
                let Some(h) = h.as_ref().filter(|h| !h.is_empty()) else {
                    continue;
                };
                let tag = tag_of(&requests[request], served, variant, metric).encode();
                writer.write(pending, &tag, start, second, h)?;
            }
        }
        for ((check, passed, tags), n) in std::mem::take(interval_checks) {
            let tag = TagSet::new(
                METRIC_CHECKS,
                [
                    (KEY_CHECK.to_owned(), check),
                    (KEY_PASSED.to_owned(), passed.to_string()),
                ]
                .into_iter()
                .chain(tags),
            );
            writer.write(pending, &tag.encode(), start, second, &counter(n))?;
        }
        for (scenario, n) in std::mem::take(interval_dropped) {
            let tag = TagSet::new(METRIC_DROPPED, [(KEY_SCENARIO.to_owned(), scenario)]);
            writer.write(pending, &tag.encode(), start, second, &counter(n))?;
        }
        for (scenario, n) in std::mem::take(interval_paused) {
            let tag = TagSet::new(METRIC_PAUSED, [(KEY_SCENARIO.to_owned(), scenario)]);
            writer.write(pending, &tag.encode(), start, second, &counter(n))?;
        }
        for (scenario, h) in std::mem::take(interval_iterations) {
            let tag = TagSet::new(METRIC_ITERATION, [(KEY_SCENARIO.to_owned(), scenario)]);
            writer.write(pending, &tag.encode(), start, second, &h)?;
        }
        for (request, traffic) in std::mem::take(interval_traffic) {
            let data = [
                (METRIC_DATA_SENT, traffic.sent),
                (METRIC_DATA_RECEIVED, traffic.received),
            ];
            for (metric, bytes) in data {
                if bytes > 0 {
                    let tag = traffic_tag(&requests[request], metric).encode();
                    writer.write(pending, &tag, start, second, &counter(bytes))?;
                }
            }
        }
        custom.roll(writer, pending, start)?;
        write_vu_gauges(writer, pending, vus, *current, next)?;
        *current = next;
        Ok(())
    }

    /// The index into `served` of the `served_by` value of a response with
    /// `headers` (`None` when no header is configured).
    fn served_index(
        &self,
        served: &mut Vec<String>,
        headers: Option<&http::HeaderMap>,
    ) -> Option<u8> {
        let name = self.served_by.as_ref()?;
        let value = headers
            .and_then(|h| h.get(name))
            .map_or(SERVED_NONE, |v| v.to_str().unwrap_or(STATUS_OTHER));
        let value = if served.iter().any(|s| s == value) || served.len() < MAX_SERVED_VALUES {
            value
        } else {
            STATUS_OTHER
        };
        let at = match served.iter().position(|s| s == value) {
            Some(at) => at,
            None => {
                served.push(value.to_owned());
                served.len() - 1
            }
        };
        u8::try_from(at).ok()
    }
}

/// The tag set of a `data_sent` / `data_received` counter of `request`:
/// its name, method and scenario (no status: bytes are per request).
fn traffic_tag(info: &RequestInfo, metric: &str) -> TagSet {
    let mut tags = vec![(KEY_NAME.to_owned(), info.name.clone())];
    if !info.method.is_empty() {
        tags.push((KEY_METHOD.to_owned(), info.method.clone()));
    }
    if !info.scenario.is_empty() {
        tags.push((KEY_SCENARIO.to_owned(), info.scenario.clone()));
    }
    tags.extend(info.tags.iter().cloned());
    TagSet::new(metric, tags)
}

/// The tag set of `metric` for `request` with `variant`.
fn tag_of(
    info: &RequestInfo,
    served: &[String],
    (status, expected, served_at): Variant,
    metric: usize,
) -> TagSet {
    let mut tags = vec![(KEY_NAME.to_owned(), info.name.clone())];
    let status = status.map_or_else(|| STATUS_OTHER.to_owned(), |s| s.to_string());
    tags.push((KEY_STATUS.to_owned(), status));
    if !info.method.is_empty() {
        tags.push((KEY_METHOD.to_owned(), info.method.clone()));
    }
    if !info.scenario.is_empty() {
        tags.push((KEY_SCENARIO.to_owned(), info.scenario.clone()));
    }
    tags.push((KEY_EXPECTED.to_owned(), expected.to_string()));
    if let Some(value) = served_at.and_then(|i| served.get(usize::from(i))) {
        tags.push((KEY_SERVED_BY.to_owned(), value.clone()));
    }
    tags.extend(info.tags.iter().cloned());
    TagSet::new(METRICS[metric], tags)
}

/// The variant a sample is recorded under: `wanted` if its tag set was seen or
/// there is room for one more, else the same with `status=other` (those sets
/// are not counted: at most two per request).
fn variant_of(seen: &mut BTreeSet<(usize, Variant)>, request: usize, wanted: Variant) -> Variant {
    if seen.contains(&(request, wanted)) {
        return wanted;
    }
    if seen.len() < MAX_TAG_SETS {
        seen.insert((request, wanted));
        return wanted;
    }
    (None, wanted.1, wanted.2)
}

/// Changes the VU gauge of `scenario` with `change`, creating it on first use
/// (the name is copied only then).
fn gauge(vus: &mut BTreeMap<String, VuGauge>, scenario: &str, change: impl FnOnce(&mut VuGauge)) {
    match vus.get_mut(scenario) {
        Some(g) => change(g),
        None => change(vus.entry(scenario.to_owned()).or_default()),
    }
}

/// Adds one iteration of `scenario` lasting `duration` to the current interval.
fn iteration_into(st: &mut State, scenario: &str, duration: Duration) {
    let h = match st.interval_iterations.get_mut(scenario) {
        Some(h) => h,
        None => st
            .interval_iterations
            .entry(scenario.to_owned())
            .or_insert_with(hlog::new_histogram),
    };
    h.saturating_record(micros(duration));
}

/// Adds `traffic` to request `request`'s bytes of the current interval.
fn add_traffic(totals: &mut BTreeMap<usize, Traffic>, request: usize, traffic: Traffic) {
    let total = totals.entry(request).or_default();
    total.sent = total.sent.saturating_add(traffic.sent);
    total.received = total.received.saturating_add(traffic.received);
}

/// Writes every scenario's `vus` and `vus_max` gauges for the seconds from
/// `current` up to `next` (the seconds without an event hold the VUs as they
/// were), and starts the next interval's maximum at the VUs active now.
fn write_vu_gauges(
    writer: &mut IntervalWriter,
    pending: &mut Vec<u8>,
    vus: &mut BTreeMap<String, VuGauge>,
    current: u64,
    next: u64,
) -> Result<(), RecorderError> {
    for (scenario, g) in vus.iter_mut() {
        for second in current..next {
            let busiest = match second == current {
                true => g.interval_max,
                false => g.active,
            };
            let start = Duration::from_secs(second);
            for (metric, value) in [(METRIC_VUS, busiest), (METRIC_VUS_MAX, g.allocated)] {
                let tag = TagSet::new(metric, [(KEY_SCENARIO.to_owned(), scenario.clone())]);
                let mut h = hlog::new_histogram();
                h.saturating_record(value);
                writer.write(pending, &tag.encode(), start, Duration::from_secs(1), &h)?;
            }
        }
        g.interval_max = g.active;
    }
    Ok(())
}

/// A histogram standing for a counter of `n`: `n` values of 1 (its count is `n`).
fn counter(n: u64) -> Histogram<u64> {
    let mut h = hlog::new_histogram();
    h.saturating_record_n(1, n);
    h
}

/// `d` in whole microseconds, clamped to the histogram bounds.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(HIST_LOW_US, HIST_HIGH_US)
}

mod custom;

pub use custom::{Kind, MetricValue};

#[cfg(test)]
mod tests;
