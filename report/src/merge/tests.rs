//! The merge as a specification: exact histogram addition per scope, phases,
//! version-2 tags, corrupt objects and bounded live progress.

use super::*;
use sls_load_core::hlog::{IntervalWriter, write_header};
use sls_load_core::job::WorkerId;
use std::time::Duration;

/// One worker's interval log: `(tag, second, values in µs)` intervals from `start`.
pub(super) fn log_bytes<T: AsRef<str>>(
    start: SystemTime,
    intervals: &[(T, u64, Vec<u64>)],
) -> Vec<u8> {
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

pub(super) fn worker(region: &str) -> WorkerKey {
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

pub(super) fn span(start: SystemTime) -> Span {
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
    let second = m.seconds.get_open(0).and_then(|s| s.total.as_ref());
    assert_eq!(second.map(Stats::requests), Some(100));
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
    let region = &m.regions[&Region::new("us-east-1").unwrap()];
    assert_eq!(waiting(region), Some((3, 7)));
    // Seconds keep no phases (but for outputs' tag sets).
    let second = m
        .seconds
        .get_open(0)
        .and_then(|s| s.total.as_ref())
        .unwrap();
    assert!(second.timings.iter().all(Option::is_none));
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
    // The region scope of the summary has its phases too.
    let region = &m.regions[&Region::new("eu-west-1").unwrap()];
    assert_eq!(region.timings[4].as_ref().map(|h| h.len()), Some(3));
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
    let second = m.seconds.get_open(1).and_then(|s| s.total.as_ref());
    assert_eq!(second.map(Stats::requests), Some(1));
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
    assert_eq!(m.seconds.open_seconds().count(), 100);
    assert_eq!(m.total.requests(), 100);
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new(name).unwrap()
}

#[test]
fn a_closed_second_keeps_only_its_points_and_a_late_interval_still_counts_and_is_named() {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let w = worker("us-east-1");
    let mut m = Merged::default();
    let intervals = [
        ("http_req_duration:home", 0, vec![1_000, 2_000]),
        ("http_req_errored:home", 0, vec![30_000]),
        ("http_req_duration:home", 1, vec![3_000]),
    ];
    m.add_object(&w, &key("a"), &log_bytes(start, &intervals), span(start));
    m.seconds.close(start, |t| t == 0);
    assert!(m.seconds.get_open(0).is_none());
    assert!(m.seconds.get_open(1).is_some());
    let closed = m.seconds.closed();
    let point = &closed.total[&0];
    assert_eq!((point.requests, point.errors), (3, 1));
    assert_eq!((point.p50_ms, point.max_ms), (1.0, 2.0));
    assert_eq!(closed.regions[&w.0][&0], *point);
    assert_eq!(closed.requests["home"][&0], *point);
    assert_eq!(
        closed.region_requests[&(w.0.clone(), "home".into())][&0],
        *point
    );
    assert!(!closed.total.contains_key(&1));

    // Three more requests of second 0 arrive after it closed.
    let late = [("http_req_duration:home", 0, vec![5_000; 3])];
    let added = m.add_object(&w, &key("late"), &log_bytes(start, &late), span(start));
    assert_eq!(added, 3);
    assert_eq!(m.total.requests(), 7);
    assert_eq!(m.regions[&w.0].requests(), 7);
    assert_eq!(m.seconds.closed().total[&0].requests, 3);
    assert!(m.problems.is_empty());
    assert_eq!(m.late.len(), 1);
    assert_eq!(m.late[0].key, key("late"));
    assert_eq!(
        m.late[0].message,
        "3 requests of seconds 0-0 arrived after their second was closed; \
         the per-second series omit them"
    );
    // Every second's points: the closed ones and the open ones as they are now.
    let points = m.seconds.points();
    assert_eq!(points.total.keys().copied().collect::<Vec<_>>(), [0, 1]);
    assert_eq!(points.total[&1].requests, 1);
}

#[test]
fn closing_hands_over_every_tag_sets_figures_only_when_asked() {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let tag = |metric: &str, status: u16| {
        format!(
            "v2;metric={metric};name=home;status={status};method=GET;scenario=browse;expected_response={};served_by=edge1",
            status < 400
        )
    };
    let intervals = vec![
        (tag("http_req_duration", 200), 0, vec![2_000; 3]),
        (tag("http_req_waiting", 200), 0, vec![1_500; 3]),
        (tag("http_req_duration", 503), 0, vec![9_000]),
        (tag("http_req_failed", 503), 0, vec![9_000]),
        (
            "v2;metric=checks;check=is%20200;passed=true".into(),
            0,
            vec![1; 3],
        ),
        (
            "v2;metric=checks;check=is%20200;passed=false".into(),
            0,
            vec![1],
        ),
        (
            "v2;metric=dropped_iterations;scenario=browse".into(),
            1,
            vec![1; 2],
        ),
        (tag("http_req_duration", 200), 1, vec![4_000]),
    ];
    let bytes = log_bytes(start, &intervals);
    let w = worker("eu-west-1");

    // Without outputs nothing of the tag sets is kept.
    let mut quiet = Merged::default();
    quiet.add_object(&w, &key("a"), &bytes, span(start));
    assert!(quiet.seconds.get_open(0).unwrap().tag_sets.is_empty());
    quiet.seconds.close_all(start);
    assert!(quiet.seconds.drain_closed().is_empty());

    let mut m = Merged::default();
    m.seconds.keep_closed(true);
    m.add_object(&w, &key("a"), &bytes, span(start));
    assert!(m.seconds.drain_closed().is_empty(), "nothing closed yet");
    m.seconds.close(start, |t| t == 0);
    let first = m.seconds.drain_closed();
    m.seconds.close_all(start);
    let second = m.seconds.drain_closed();
    assert!(m.seconds.drain_closed().is_empty(), "handed over once");

    let tags = |c: &crate::series::ClosedSecond| {
        c.tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let ok = "region=eu-west-1,name=home,status=200,method=GET,scenario=browse,\
              expected_response=true,served_by=edge1";
    let failed = ok
        .replace("status=200", "status=503")
        .replace("=true", "=false");
    let got: Vec<_> = first.iter().map(|c| (c.t, tags(c))).collect();
    let want = [
        (0, "region=eu-west-1".to_owned()),
        (0, ok.to_owned()),
        (0, failed.clone()),
    ];
    assert_eq!(got, want);
    assert!(first.iter().all(|c| c.at == start));
    let checks = &first[0].checks["is 200"];
    assert_eq!((checks.passes, checks.fails), (3, 1));
    let answered = &first[1].stats;
    assert_eq!(answered.requests(), 3);
    assert_eq!(answered.timings[4].as_ref().map(|h| h.len()), Some(3));
    assert_eq!((first[2].stats.requests(), first[2].stats.errors()), (1, 1));

    let got: Vec<_> = second.iter().map(|c| (c.t, tags(c))).collect();
    // Within a second, tag sets come in their sorted order.
    let want = [
        (1, ok.to_owned()),
        (1, "region=eu-west-1,scenario=browse".to_owned()),
    ];
    assert_eq!(got, want);
    assert_eq!(second[1].stats.dropped, 2);
    assert_eq!(second[1].at, start + Duration::from_secs(1));
}

#[test]
fn an_open_seconds_histograms_grow_only_to_its_slowest_request() {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let w = worker("us-east-1");
    let mut m = Merged::default();
    m.seconds.keep_closed(true);
    let intervals = [
        ("http_req_duration:home", 0, vec![2_000, 9_000]),
        ("http_req_waiting:home", 0, vec![1_500, 8_000]),
    ];
    m.add_object(&w, &key("a"), &log_bytes(start, &intervals), span(start));
    let full = hlog::new_histogram().distinct_values();
    let open = m.seconds.get_open(0).unwrap();
    let scopes = [
        open.total.as_ref().unwrap(),
        &open.regions[&w.0],
        &open.requests["home"],
        &open.region_requests[&(w.0.clone(), "home".to_owned())],
    ];
    for s in scopes {
        assert!(
            s.duration.distinct_values() * 3 < full,
            "{}",
            s.duration.distinct_values()
        );
        // The same figures as a full-range histogram.
        assert_eq!(
            s.duration.value_at_quantile(0.5),
            m.total.duration.value_at_quantile(0.5)
        );
        assert_eq!(s.duration.max(), m.total.duration.max());
    }
    let tag_set = open.tag_sets.values().next().unwrap();
    let waiting = tag_set.stats.timings[4].as_ref().unwrap();
    assert!(waiting.distinct_values() * 3 < full);
    // Run-wide histograms keep their full range.
    assert_eq!(m.total.duration.distinct_values(), full);
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
    let pairs = |map: &BTreeMap<u64, u64>| map.iter().map(|(s, v)| (*s, *v)).collect::<Vec<_>>();
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

#[test]
fn a_scripts_custom_metrics_merge_exactly_per_kind_name_and_tag() {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let hits = "v2;metric=hits;metric_type=counter;scenario=s;group=::a";
    let yes = "v2;metric=errors;metric_type=rate;passed=true;scenario=s";
    let no = "v2;metric=errors;metric_type=rate;passed=false;scenario=s";
    let wait = "v2;metric=wait;metric_type=trend;contains=time;scenario=s";
    let depth = "v2;metric=depth;metric_type=gauge;scenario=s";
    let us = [
        (hits, 0, vec![1, 1, 1]),
        (yes, 0, vec![1]),
        (no, 0, vec![1, 1]),
        (wait, 0, vec![1000, 3000]),
        (depth, 0, vec![5000, 7000]),
        (depth, 1, vec![2000]),
    ];
    let eu = [
        (hits, 1, vec![1, 1]),
        (no, 1, vec![1]),
        (depth, 1, vec![4000]),
    ];
    let log = |region: &str, intervals: &[(&str, u64, Vec<u64>)]| {
        Log(
            worker(region),
            ObjectKey::new("k").unwrap(),
            log_bytes(start, intervals),
        )
    };
    let m = merge_all(&[log("us-east-1", &us), log("eu-west-1", &eu)], start);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(m.custom["hits"].count, 5);
    let tagged =
        |name: &str, k: &str, v: &str| &m.custom_tagged[&(name.into(), k.into(), v.into())];
    assert_eq!(tagged("hits", "group", "::a").count, 5);
    assert_eq!(tagged("hits", "region", "eu-west-1").count, 2);
    assert_eq!(m.custom["errors"].rate(), Some(0.25));
    let wait = m.custom["wait"].values.as_ref().unwrap();
    assert!(m.custom["wait"].time);
    let low = |v: u64| wait.lowest_equivalent(v);
    assert_eq!(
        (wait.len(), low(wait.min()), low(wait.max())),
        (2, 1000, 3000)
    );
    // A gauge's value is the largest set in its latest second, over the workers.
    let depth = &m.custom["depth"];
    assert_eq!(depth.gauge_value(), Some(4.0));
    let all = depth.values.as_ref().unwrap();
    let low = |v: u64| all.lowest_equivalent(v);
    assert_eq!((low(all.min()), low(all.max())), (2000, 7000));
    // None of them is a request.
    assert_eq!(m.total.requests(), 0);
    assert!(m.requests.is_empty());
}
