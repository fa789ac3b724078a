//! Think time at the end of a VU test and at slice hand-overs (issue #10, item 1):
//! an iteration whose `sleep` would end after the stop ends there and no new
//! iteration starts, so the target never sees a burst of back-to-back iterations
//! in the last moments of a window. Every bound is counted at the target.
//!
//! Each VU of these scenarios sends one request per iteration and then sleeps 1 s,
//! so in a window of `d` seconds it can send at most `d + 1` requests (it cannot
//! start an iteration less than 1 s after the previous one). These tests do not
//! check latency or the orchestrator's slicing itself (see `scale.rs`).

use std::path::Path;

use sls_load_e2e::{Outcome, Target};

/// Runs `executor` (the scenario's executor lines, indented for its block) with one
/// step `sleep: 1s` against `target` for `duration`, with `extra` flags; returns the
/// outcome and the summary (see [`crate::engine::run`]).
fn run(
    dir: &Path,
    target: &Target,
    duration: &str,
    executor: &str,
    extra: &[&str],
) -> (Outcome, serde_json::Value) {
    let text = format!(
        r#"
target: {}
duration: {duration}
scenarios:
  thinking:
{executor}
    requests:
      - {{ name: home, url: /, sleep: 1s }}
"#,
        target.url
    );
    let mut args = vec!["--workers", "1"];
    args.extend_from_slice(extra);
    crate::engine::run(dir, &text, &args)
}

/// Checks that the run ended well, that the target counted between `min` and `max`
/// requests, and that the summary agrees with the target.
fn assert_bounded(outcome: &Outcome, s: &serde_json::Value, target: &Target, min: u64, max: u64) {
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    let at_target = target.requests();
    eprintln!(
        "target counted {at_target} requests (allowed {min}..={max}); per second: {}",
        target.stats()["per_unix_second"]
    );
    assert!(
        (min..=max).contains(&at_target),
        "the target counted {at_target} requests, allowed {min}..={max}; per second: {}",
        target.stats()["per_unix_second"]
    );
    assert_eq!(s["total"]["requests"].as_u64(), Some(at_target));
}

/// The most requests the target counted in any one unix second.
fn busiest_second(target: &Target) -> u64 {
    target.stats()["per_unix_second"]
        .as_object()
        .expect("per_unix_second")
        .values()
        .map(|v| v.as_u64().expect("count"))
        .max()
        .unwrap_or(0)
}

#[test]
fn constant_vus_sleeping_past_the_end_stop_there_instead_of_bursting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let (outcome, s) = run(
        dir.path(),
        &target,
        "4s",
        "    executor: constant-vus\n    vus: 3",
        &[],
    );
    // 3 VUs × one request per second over 4 s: 12 due, never more than 3 × (4 + 1).
    assert_bounded(&outcome, &s, &target, 6, 15);
}

#[test]
fn slice_hand_overs_of_constant_vus_with_think_time_send_no_burst() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let (outcome, s) = run(
        dir.path(),
        &target,
        "6s",
        "    executor: constant-vus\n    vus: 3",
        &["--slice", "2s"],
    );
    assert_eq!(s["workers"]["planned"], 3, "1 slot × 3 slices");
    // Each slice of 2 s: at most 2 iterations per VU, 18 in all; 3 × (6 + 1) bounds it.
    assert_bounded(&outcome, &s, &target, 9, 21);
    // No hand-over burst: a VU's requests are at least 1 s apart, so no unix second
    // holds more than 2 of each VU's.
    let busiest = busiest_second(&target);
    assert!(busiest <= 6, "{busiest} requests in one second");
}

#[test]
fn ramping_vus_sleeping_past_the_end_of_their_ramp_down_stop_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let (outcome, s) = run(
        dir.path(),
        &target,
        "4s",
        "    executor: ramping-vus\n    start_vus: 0\n    stages:\n      \
         - { duration: 1s, target: 3 }\n      - { duration: 2s, target: 3 }\n      \
         - { duration: 1s, target: 0 }",
        &[],
    );
    // At most 3 VUs, 1 request per second each, over 4 s.
    assert_bounded(&outcome, &s, &target, 3, 15);
}

#[test]
fn per_vu_iterations_sleeping_past_max_duration_start_no_more_iterations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let (outcome, s) = run(
        dir.path(),
        &target,
        "3s",
        "    executor: per-vu-iterations\n    vus: 3\n    iterations: 100",
        &[],
    );
    // 100 iterations each would take 100 s: in 3 s a VU runs at most 3 + 1.
    assert_bounded(&outcome, &s, &target, 6, 12);
}

/// Every `t` of a series in `value` (points are objects with a `t`).
fn seconds_in(value: &serde_json::Value, out: &mut Vec<f64>) {
    match value {
        serde_json::Value::Array(items) => items.iter().for_each(|v| seconds_in(v, out)),
        serde_json::Value::Object(map) => {
            if let Some(t) = map.get("t").and_then(serde_json::Value::as_f64) {
                out.push(t);
            }
            map.values().for_each(|v| seconds_in(v, out));
        }
        _ => {}
    }
}

#[test]
fn a_ten_second_ramping_vus_run_has_no_eleventh_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let html = dir.path().join("report.html");
    let points = dir.path().join("points.json");
    let out = format!("json={}", points.display());
    // k6's top-level `stages`: 0 → 10 VUs over 5 s, then 10 for 5 s; a VU whose
    // think time is cut at the end must not carry the last second's requests
    // into a second after it.
    let (outcome, s) = run(
        dir.path(),
        &target,
        "10s",
        "    executor: ramping-vus\n    start_vus: 0\n    stages:\n      \
         - { duration: 5s, target: 10 }\n      - { duration: 5s, target: 10 }",
        &["--html", html.to_str().expect("utf-8"), "--out", &out],
    );
    assert_eq!(outcome.code(), 0, "{}", outcome.stderr);
    assert_eq!(s["total"]["requests"].as_u64(), Some(target.requests()));
    // The summary: its timeline and every series.
    let mut ts = Vec::new();
    seconds_in(&s["timeline"], &mut ts);
    seconds_in(&s["series"], &mut ts);
    assert!(!ts.is_empty());
    assert!(ts.iter().all(|t| *t < 10.0), "a point at t ≥ 10: {ts:?}");
    // The HTML report's data (the summary it draws from).
    let page = std::fs::read_to_string(&html).expect("--html written");
    let data = page
        .split("<script type=\"application/json\" id=\"data\">")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .expect("the page's data");
    let data: serde_json::Value = serde_json::from_str(data).expect("JSON");
    let mut ts = Vec::new();
    seconds_in(&data["series"], &mut ts);
    assert!(
        ts.iter().all(|t| *t < 10.0),
        "HTML: a point at t ≥ 10: {ts:?}"
    );
    // `--out json`: every point's time before the run's start + 10 s.
    let start =
        humantime::parse_rfc3339(s["start_at"].as_str().expect("start_at")).expect("RFC 3339");
    let end = start + std::time::Duration::from_secs(10);
    let text = std::fs::read_to_string(&points).expect("--out json written");
    let mut seen = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let Some(time) = v["data"]["time"].as_str() else {
            continue;
        };
        let at = humantime::parse_rfc3339_weak(time)
            .or_else(|_| humantime::parse_rfc3339(time))
            .unwrap_or_else(|e| panic!("time {time}: {e}"));
        assert!(
            at < end,
            "--out point at {time}, the run ended at {end:?}: {line}"
        );
        seen += 1;
    }
    assert!(seen > 0, "no points in {text}");
}
