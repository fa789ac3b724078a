//! Tests of `recorder`: the specification of what it owns.

use super::*;
/// `(metric:name, second, count)` of each interval.
fn intervals(log: &[u8]) -> Vec<(String, u64, u64)> {
    tagged(log)
        .into_iter()
        .map(|(t, second, n)| {
            (
                format!("{}:{}", t.metric, t.name().unwrap_or("")),
                second,
                n,
            )
        })
        .collect()
}

fn tagged(log: &[u8]) -> Vec<(TagSet, u64, u64)> {
    hlog::decode(log)
        .map(|i| {
            let i = i.expect("parses");
            let tag = TagSet::parse(&i.tag).expect("a v2 tag");
            (tag, i.offset.as_secs(), i.histogram.len())
        })
        .collect()
}

#[test]
fn requests_land_in_the_interval_they_finished_in_with_their_tag() {
    let base = Instant::now();
    let rec = Recorder::new(base, SystemTime::now(), vec!["home".into(), "api".into()]);
    let ms = Duration::from_millis;
    let record =
        |request, outcome, latency, at| rec.record(&Sample::new(request, outcome, latency, at));
    record(0, Outcome::Ok, ms(5), base + ms(100)).unwrap();
    record(0, Outcome::Ok, ms(7), base + ms(900)).unwrap();
    record(
        1,
        Outcome::Failed(ErrorClass::Http5xx),
        ms(9),
        base + ms(1500),
    )
    .unwrap();
    record(
        1,
        Outcome::Errored(ErrorClass::Timeout),
        ms(60),
        base + ms(2100),
    )
    .unwrap();
    rec.close().unwrap();
    let log = rec.take_log("test").unwrap().expect("some intervals");
    let text = String::from_utf8(log.clone()).unwrap();
    assert!(text.contains("#[StartTime: "), "{text}");
    assert_eq!(
        intervals(&log),
        vec![
            ("http_req_duration:home".into(), 0, 2),
            ("http_req_duration:api".into(), 1, 1),
            ("http_req_failed:api".into(), 1, 1),
            ("http_req_errored:api".into(), 2, 1),
        ]
    );
    let counts = rec.counts();
    assert_eq!(counts["home"].requests, 2);
    assert_eq!(counts["api"].requests, 2);
    assert_eq!(counts["api"].errors, 2);
    assert_eq!(counts["api"].errors_by_class[&ErrorClass::Timeout], 1);
    assert!(rec.take_log("again").unwrap().is_none());
}

#[test]
fn checks_count_passes_and_fails_per_name_and_responses_failing_any() {
    let rec = Recorder::new(Instant::now(), SystemTime::now(), vec!["x".into()]);
    rec.record_checks(0, [("status is 200", true), ("has body", false)]);
    rec.record_checks(0, [("status is 200", true), ("status is 200", false)]);
    rec.record_checks(0, [("status is 200", true)]);
    let checks = rec.checks();
    assert_eq!(
        checks["status is 200"],
        CheckCounts {
            passes: 3,
            fails: 1
        }
    );
    assert_eq!(
        checks["has body"],
        CheckCounts {
            passes: 0,
            fails: 1
        }
    );
    assert_eq!(checks.len(), 2);
    // Two of the three responses failed a check: not errors, but `check_failed`.
    let counts = rec.counts();
    assert_eq!(counts["x"].errors, 0);
    assert_eq!(counts["x"].errors_by_class[&ErrorClass::CheckFailed], 2);
}

#[test]
fn latencies_beyond_the_range_saturate_instead_of_failing() {
    let base = Instant::now();
    let rec = Recorder::new(base, SystemTime::now(), vec!["x".into()]);
    rec.record(&Sample::new(
        0,
        Outcome::Ok,
        Duration::from_secs(3600),
        base,
    ))
    .unwrap();
    rec.record(&Sample::new(0, Outcome::Ok, Duration::ZERO, base))
        .unwrap();
    rec.close().unwrap();
    let log = rec.take_log("t").unwrap().unwrap();
    assert_eq!(intervals(&log), vec![("http_req_duration:x".into(), 0, 2)]);
}

fn info(name: &str, method: &str, scenario: &str) -> RequestInfo {
    RequestInfo {
        name: name.into(),
        method: method.into(),
        scenario: scenario.into(),
        tags: Vec::new(),
    }
}

#[test]
fn samples_carry_status_method_scenario_and_expected_response() {
    let base = Instant::now();
    let rec = Recorder::with_requests(base, SystemTime::now(), vec![info("home", "GET", "browse")]);
    let ms = Duration::from_millis;
    let with_status = |outcome, status| Sample {
        status,
        ..Sample::new(0, outcome, ms(5), base)
    };
    rec.record(&with_status(Outcome::Ok, Some(200))).unwrap();
    let failed = Outcome::Failed(ErrorClass::Http5xx);
    rec.record(&with_status(failed, Some(503))).unwrap();
    let errored = Outcome::Errored(ErrorClass::Timeout);
    rec.record(&with_status(errored, None)).unwrap();
    rec.close().unwrap();
    let log = rec.take_log("t").unwrap().unwrap();
    let text = |t: &TagSet| t.encode();
    let tags: Vec<String> = tagged(&log).iter().map(|(t, ..)| text(t)).collect();
    assert_eq!(
        tags,
        vec![
            "v2;metric=http_req_errored;name=home;status=0;method=GET;scenario=browse;expected_response=false",
            "v2;metric=http_req_duration;name=home;status=200;method=GET;scenario=browse;expected_response=true",
            "v2;metric=http_req_duration;name=home;status=503;method=GET;scenario=browse;expected_response=false",
            "v2;metric=http_req_failed;name=home;status=503;method=GET;scenario=browse;expected_response=false",
        ]
    );
}

#[test]
fn statuses_beyond_the_cap_fold_into_other() {
    let base = Instant::now();
    let rec = Recorder::new(base, SystemTime::now(), vec!["x".into()]);
    let at = base;
    for status in 0..(MAX_TAG_SETS as u16 + 50) {
        rec.record(&Sample {
            status: Some(status),
            ..Sample::new(0, Outcome::Ok, Duration::from_millis(1), at)
        })
        .unwrap();
    }
    rec.close().unwrap();
    let log = rec.take_log("t").unwrap().unwrap();
    let all = tagged(&log);
    assert_eq!(all.len(), MAX_TAG_SETS + 1);
    let other: Vec<_> = all
        .iter()
        .filter(|(t, ..)| t.get(KEY_STATUS) == Some(STATUS_OTHER))
        .collect();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].2, 50);
    assert_eq!(
        all.iter().map(|(_, _, n)| n).sum::<u64>(),
        MAX_TAG_SETS as u64 + 50
    );
}

#[test]
fn served_by_tags_each_sample_with_the_header_value_none_when_absent_capped_as_other() {
    let base = Instant::now();
    let rec = Recorder::new(base, SystemTime::now(), vec!["x".into()])
        .with_served_by(Some("X-Served-Region"));
    let headers = |v: &str| {
        let mut h = http::HeaderMap::new();
        h.insert("x-served-region", v.parse().unwrap());
        h
    };
    let ms = Duration::from_millis;
    let send = |outcome, h: Option<&http::HeaderMap>| {
        rec.record(&Sample {
            status: Some(200),
            headers: h,
            ..Sample::new(0, outcome, ms(1), base)
        })
        .unwrap();
    };
    send(Outcome::Ok, Some(&headers("us-east-1")));
    send(Outcome::Ok, Some(&headers("us-east-1")));
    send(Outcome::Ok, Some(&headers("eu-west-1")));
    send(Outcome::Ok, Some(&http::HeaderMap::new()));
    send(Outcome::Errored(ErrorClass::Connect), None);
    for i in 0..MAX_SERVED_VALUES + 3 {
        send(Outcome::Ok, Some(&headers(&format!("edge-{i}"))));
    }
    rec.close().unwrap();
    let log = rec.take_log("t").unwrap().unwrap();
    let count = |metric: &str, value: &str| -> u64 {
        tagged(&log)
            .iter()
            .filter(|(t, ..)| t.metric == metric && t.get(KEY_SERVED_BY) == Some(value))
            .map(|(.., n)| n)
            .sum()
    };
    assert_eq!(count(TAG_DURATION, "us-east-1"), 2);
    assert_eq!(count(TAG_DURATION, "eu-west-1"), 1);
    assert_eq!(count(TAG_DURATION, SERVED_NONE), 1);
    assert_eq!(count(TAG_ERRORED, SERVED_NONE), 1);
    // us-east-1, eu-west-1, none and 13 edges fill the 16; 6 edges fold.
    assert_eq!(count(TAG_DURATION, STATUS_OTHER), 6);
    assert_eq!(count(TAG_DURATION, "edge-12"), 1);
    // Without the option, no sample carries the tag.
    let plain = Recorder::new(base, SystemTime::now(), vec!["x".into()]);
    plain
        .record(&Sample {
            status: Some(200),
            headers: Some(&headers("a")),
            ..Sample::new(0, Outcome::Ok, ms(1), base)
        })
        .unwrap();
    plain.close().unwrap();
    let log = plain.take_log("t").unwrap().unwrap();
    assert!(
        tagged(&log)
            .iter()
            .all(|(t, ..)| t.get(KEY_SERVED_BY).is_none())
    );
}

#[test]
fn check_results_are_counted_per_interval_in_the_log() {
    let base = Instant::now();
    let rec = Recorder::new(base, SystemTime::now(), vec!["x".into()]);
    rec.record_checks(0, [("is 200", true), ("is 200", false)]);
    rec.record_checks(0, [("is 200", true)]);
    rec.close().unwrap();
    let log = rec.take_log("t").unwrap().unwrap();
    let got: Vec<_> = tagged(&log)
        .into_iter()
        .map(|(t, s, n)| (t.encode(), s, n))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "v2;metric=checks;check=is%20200;passed=false".to_owned(),
                0,
                1
            ),
            (
                "v2;metric=checks;check=is%20200;passed=true".to_owned(),
                0,
                2
            ),
        ]
    );
}

#[test]
fn dropped_iterations_are_counted_per_interval_and_scenario() {
    let base = Instant::now();
    let rec = Recorder::new(base, SystemTime::now(), vec!["x".into()]);
    rec.record_dropped("browse", 1);
    rec.record_dropped("browse", 2);
    rec.roll_to(base + Duration::from_millis(1500)).unwrap();
    rec.record_dropped("browse", 1);
    rec.close().unwrap();
    let log = rec.take_log("t").unwrap().unwrap();
    let got: Vec<_> = tagged(&log)
        .into_iter()
        .map(|(t, s, n)| (t.encode(), s, n))
        .collect();
    let tag = "v2;metric=dropped_iterations;scenario=browse".to_owned();
    assert_eq!(got, vec![(tag.clone(), 0, 3), (tag, 1, 1)]);
}

#[test]
fn iterations_are_recorded_per_interval_and_scenario() {
    let base = Instant::now();
    let rec = Recorder::new(base, SystemTime::now(), vec!["x".into()]);
    let ms = Duration::from_millis;
    for (took, at) in [(30, 100), (40, 200), (50, 1200)] {
        rec.iteration_ended("browse", ms(took), base + ms(at))
            .unwrap();
    }
    rec.close().unwrap();
    let log = rec.take_log("t").unwrap().unwrap();
    let got: Vec<_> = tagged(&log)
        .into_iter()
        .filter(|(t, ..)| t.metric == METRIC_ITERATION)
        .map(|(t, s, n)| (t.encode(), s, n))
        .collect();
    let tag = "v2;metric=iteration_duration;scenario=browse".to_owned();
    assert_eq!(got, vec![(tag.clone(), 0, 2), (tag, 1, 1)]);
}

#[test]
fn bytes_are_counted_per_interval_and_request_with_name_method_and_scenario() {
    let base = Instant::now();
    let rec = Recorder::with_requests(base, SystemTime::now(), vec![info("home", "GET", "browse")]);
    let ms = Duration::from_millis;
    let errored = Outcome::Errored(ErrorClass::Timeout);
    for (sent, received, at) in [
        (100, 1_000, 100),
        (50, 500, 900),
        (0, 0, 950),
        (10, 0, 1_100),
    ] {
        rec.record(&Sample {
            traffic: Traffic { sent, received },
            ..Sample::new(0, errored, ms(1), base + ms(at))
        })
        .unwrap();
    }
    rec.close().unwrap();
    let log = rec.take_log("t").unwrap().unwrap();
    let got: Vec<_> = tagged(&log)
        .into_iter()
        .filter(|(t, ..)| t.metric.starts_with("data_"))
        .map(|(t, s, n)| (t.encode(), s, n))
        .collect();
    let sent = "v2;metric=data_sent;name=home;method=GET;scenario=browse".to_owned();
    let received = "v2;metric=data_received;name=home;method=GET;scenario=browse".to_owned();
    assert_eq!(
        got,
        vec![(sent.clone(), 0, 150), (received, 0, 1_500), (sent, 1, 10)]
    );
}

#[test]
fn vu_gauges_hold_each_seconds_busiest_and_allocated_vus_gaps_included() {
    let base = Instant::now();
    let rec = Recorder::new(base, SystemTime::now(), vec!["x".into()]);
    let ms = Duration::from_millis;
    for _ in 0..3 {
        rec.vu_allocated("browse", base).unwrap();
    }
    // Second 0: two VUs busy at once, then one. Second 1: none. Second 2: one.
    rec.vu_busy("browse", true, base + ms(100)).unwrap();
    rec.vu_busy("browse", true, base + ms(200)).unwrap();
    rec.vu_busy("browse", false, base + ms(300)).unwrap();
    rec.vu_busy("browse", false, base + ms(400)).unwrap();
    rec.vu_busy("browse", true, base + ms(2_100)).unwrap();
    rec.close().unwrap();
    let log = rec.take_log("t").unwrap().unwrap();
    let got: Vec<(String, u64, u64)> = hlog::decode(&log)
        .map(|i| {
            let i = i.expect("parses");
            let tag = TagSet::parse(&i.tag).expect("v2");
            assert_eq!(tag.get(KEY_SCENARIO), Some("browse"));
            (tag.metric, i.offset.as_secs(), i.histogram.max())
        })
        .collect();
    let want = [
        ("vus", 0, 2),
        ("vus_max", 0, 3),
        ("vus", 1, 0),
        ("vus_max", 1, 3),
        ("vus", 2, 1),
        ("vus_max", 2, 3),
    ];
    let want: Vec<(String, u64, u64)> = want
        .iter()
        .map(|(m, s, v)| (m.to_string(), *s, *v))
        .collect();
    assert_eq!(got, want);
}
