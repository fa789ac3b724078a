//! The load engine end to end (issue #4): open-model latency under a stall and a
//! bimodal target, a ramping arrival rate as the target counts it, a flow with data
//! rows, captures and checks, dropped iterations and error classes, all through
//! the real binaries on loopback.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use sls_load_e2e::{Outcome, Target, alone, read_json, refused_url, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(120);

/// Runs `scenario` (text) from `dir` in local mode with `extra` flags; returns the
/// outcome and the summary.
pub(crate) fn run(dir: &Path, scenario: &str, extra: &[&str]) -> (Outcome, serde_json::Value) {
    let path = scenario_file(dir, "engine.yaml", scenario);
    let summary = dir.join("summary.json");
    let state = dir.join("state");
    let mut args = vec![
        "run",
        path.to_str().expect("utf-8"),
        "--local",
        "--quiet",
        "--local-dir",
        state.to_str().expect("utf-8"),
        "--summary-export",
        summary.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let outcome = sls_load(&args, LIMIT);
    assert!(summary.is_file(), "no summary; stderr: {}", outcome.stderr);
    let json = read_json(&summary);
    (outcome, json)
}

fn ms(summary: &serde_json::Value, key: &str) -> f64 {
    summary["total"]["latency_ms"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("total.latency_ms.{key}: {}", summary["total"]))
}

fn count(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn a_two_second_stall_shows_in_p99_because_latency_counts_from_the_intended_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The target's stall is timed from its own start; the run starts `--lead` after
    // planning, so the stall falls about 4 s into the 10 s run.
    let lead = Duration::from_secs(3);
    let stall_at = format!("{}ms", (lead + Duration::from_secs(4)).as_millis());
    let target = Target::start(&["--stall-at", &stall_at, "--stall-for", "2s"]);
    let (outcome, s) = run(
        dir.path(),
        &format!(
            r#"
target: {}
duration: 10s
scenarios:
  steady:
    executor: constant-arrival-rate
    rate: 100
    max_vus: 600
    requests:
      - {{ name: home, url: / }}
"#,
            target.url
        ),
        &["--workers", "2", "--lead", "3s"],
    );
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    assert_eq!(count(&s["total"]["requests"]), 1000);
    assert_eq!(count(&s["dropped_iterations"]), 0);
    // Arrivals in the stall's first half second wait 1.5–2 s: 5 % of the run.
    eprintln!(
        "stalled run: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        ms(&s, "p50"),
        ms(&s, "p99"),
        ms(&s, "max")
    );
    assert!(ms(&s, "p99") >= 1500.0, "{}", s["total"]);
    assert_eq!(target.requests(), 1000);
}

#[test]
fn p50_and_p95_of_a_bimodal_target_are_measured_within_a_millisecond_of_the_delay() {
    let _alone = alone();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[
        "--delay",
        "5ms",
        "--slow-fraction",
        "0.1",
        "--slow-delay",
        "100ms",
    ]);
    let (outcome, s) = run(
        dir.path(),
        &format!(
            r#"
target: {}
duration: 8s
scenarios:
  mixed:
    executor: constant-arrival-rate
    rate: 100
    max_vus: 100
    requests:
      - {{ name: home, url: / }}
"#,
            target.url
        ),
        &["--workers", "2"],
    );
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    assert_eq!(count(&s["total"]["requests"]), 800);
    let (p50, p95) = (ms(&s, "p50"), ms(&s, "p95"));
    eprintln!("sls-load p50 {p50:.3} ms, p95 {p95:.3} ms");
    // 90 % of answers take 5 ms: p50 within 1 ms + 1 % of 5 ms, never below it.
    assert!((5.0..=5.0 + 1.0 + 0.05).contains(&p50), "p50 {p50} ms");
    assert!(p95 >= 100.0, "p95 {p95} ms");
}

/// Arrivals the ramp below expects in `[0, t)` seconds after its start.
fn ramp_count(t: f64) -> f64 {
    // (duration s, target rate) from a start rate of 0.
    const STAGES: [(f64, f64); 5] = [
        (2.0, 100.0),
        (2.0, 100.0),
        (2.0, 300.0),
        (2.0, 300.0),
        (1.0, 0.0),
    ];
    let (mut at, mut rate, mut n) = (0.0, 0.0, 0.0);
    for (d, target) in STAGES {
        let s = (t - at).clamp(0.0, d);
        n += rate * s + (target - rate) / d * s * s / 2.0;
        at += d;
        rate = target;
    }
    n
}

#[test]
fn a_ramping_arrival_rate_reaches_the_target_as_its_stages_say_second_by_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let (outcome, s) = run(
        dir.path(),
        &format!(
            r#"
target: {}
duration: 10s
scenarios:
  ramp:
    executor: ramping-arrival-rate
    start_rate: 0
    stages:
      - {{ duration: 2s, target: 100 }}
      - {{ duration: 2s, target: 100 }}
      - {{ duration: 2s, target: 300 }}
      - {{ duration: 2s, target: 300 }}
      - {{ duration: 1s, target: 0 }}
    max_vus: 200
    requests:
      - {{ name: home, url: / }}
"#,
            target.url
        ),
        &["--workers", "2"],
    );
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    assert_eq!(count(&s["total"]["requests"]), 1450);
    let stats = target.stats();
    assert_eq!(count(&stats["requests"]), 1450);

    let start = humantime::parse_rfc3339(s["start_at"].as_str().expect("start_at"))
        .expect("RFC 3339 start");
    let start = start
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    let per_second: BTreeMap<u64, u64> = stats["per_unix_second"]
        .as_object()
        .expect("per_unix_second")
        .iter()
        .map(|(k, v)| (k.parse().expect("unix second"), count(v)))
        .collect();
    let mut checked = 0;
    // Whole unix seconds inside the ramp; the partial ones at either end are skipped.
    for second in (start.ceil() as u64)..((start + 9.0).floor() as u64) {
        let from = second as f64 - start;
        let expected = ramp_count(from + 1.0) - ramp_count(from);
        if expected < 40.0 {
            continue;
        }
        let got = per_second.get(&second).copied().unwrap_or(0) as f64;
        assert!(
            (got - expected).abs() <= expected * 0.05,
            "second {from:.3}..{:.3} of the run: target counted {got}, stages say {expected:.1}",
            from + 1.0
        );
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} whole seconds compared");
}

#[test]
fn a_flow_uses_each_data_row_once_feeds_captures_forward_and_counts_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let rows: String = (0..10).map(|i| format!("u{i},{}\n", 100 + i)).collect();
    std::fs::write(dir.path().join("users.csv"), format!("id,pin\n{rows}")).expect("write data");
    let (outcome, s) = run(
        dir.path(),
        &format!(
            r#"
target: {}
duration: 6s
scenarios:
  flow:
    executor: per-vu-iterations
    vus: 2
    iterations: 5
    data: {{ file: users.csv }}
    requests:
      - name: login
        method: POST
        url: /users/{{{{id}}}}
        query: {{ iter: "{{{{__ITER}}}}" }}
        json: {{ pin: "{{{{pin}}}}" }}
        capture:
          - {{ name: word, regex: "(o)k" }}
          - {{ name: ctype, header: content-type }}
        checks:
          - {{ name: status is 200, status: 200 }}
          - {{ name: says ok, body_contains: "ok" }}
          - {{ name: is json, header: {{ name: content-type, equals: application/json }} }}
        sleep: {{ min: 10ms, max: 30ms }}
      - name: echo
        url: /echo/{{{{word}}}}/{{{{ctype}}}}
        checks:
          - {{ name: status is 201, status: 201 }}
      - {{ name: missing, url: /status/404 }}
      - {{ name: broken, url: /status/503 }}
"#,
            target.url
        ),
        &["--workers", "2"],
    );
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    // 2 VUs × 5 iterations × 4 requests, split over two workers.
    assert_eq!(count(&s["total"]["requests"]), 40);
    let stats = target.stats();
    let by_path = stats["by_path"].as_object().expect("by_path");
    for i in 0..10 {
        assert_eq!(
            by_path.get(&format!("/users/u{i}")),
            Some(&serde_json::json!(1)),
            "{by_path:?}"
        );
    }
    assert_eq!(
        by_path.get("/echo/o/text/plain"),
        Some(&serde_json::json!(10)),
        "{by_path:?}"
    );

    let checks = &s["checks"];
    assert!(checks.is_object(), "summary has no `checks`: {s}");
    for (name, passes, fails) in [
        ("status is 200", 10, 0),
        ("says ok", 10, 0),
        ("is json", 0, 10),
        ("status is 201", 0, 10),
    ] {
        assert_eq!(count(&checks[name]["passes"]), passes, "{name}: {checks}");
        assert_eq!(count(&checks[name]["fails"]), fails, "{name}: {checks}");
    }
    assert_eq!(checks["says ok"]["rate"], 1.0);
    assert_eq!(checks["is json"]["rate"], 0.0);
    // Statuses fail requests; a response failing a check is `check_failed`, which
    // is no request error (as in k6), per request and in total.
    assert_eq!(
        s["errors_by_class"],
        serde_json::json!({ "check_failed": 20, "http_4xx": 10, "http_5xx": 10 })
    );
    assert_eq!(count(&s["total"]["errors"]), 20);
    let requests = &s["requests"];
    assert_eq!(
        requests["login"]["errors_by_class"],
        serde_json::json!({ "check_failed": 10 })
    );
    assert_eq!(
        requests["missing"]["errors_by_class"],
        serde_json::json!({ "http_4xx": 10 })
    );
    assert_eq!(count(&requests["login"]["errors"]), 0);
}

#[test]
fn arrivals_that_find_every_vu_busy_are_dropped_and_every_arrival_is_accounted_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&["--delay", "200ms"]);
    let (outcome, s) = run(
        dir.path(),
        &format!(
            r#"
target: {}
duration: 3s
scenarios:
  burst:
    executor: constant-arrival-rate
    rate: 50
    pre_allocated_vus: 2
    max_vus: 2
    requests:
      - {{ name: slow, url: / }}
"#,
            target.url
        ),
        &["--workers", "1"],
    );
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    let sent = count(&s["total"]["requests"]);
    let dropped = count(&s["dropped_iterations"]);
    // Two VUs answer about 10 of the 50 arrivals a second; the rest are dropped.
    assert_eq!(sent + dropped, 150, "sent {sent}, dropped {dropped}");
    assert!(dropped >= 100, "dropped {dropped}");
    assert_eq!(target.requests(), sent);
}

#[test]
fn a_port_that_refuses_connections_is_counted_as_connect_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (outcome, s) = run(
        dir.path(),
        &format!(
            r#"
target: {}
duration: 2s
scenarios:
  refused:
    executor: constant-arrival-rate
    rate: 10
    requests:
      - {{ name: home, url: / }}
"#,
            refused_url()
        ),
        &["--workers", "1"],
    );
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    assert_eq!(count(&s["total"]["requests"]), 20);
    assert_eq!(count(&s["total"]["errors"]), 20);
    assert_eq!(s["errors_by_class"], serde_json::json!({ "connect": 20 }));
}

#[test]
fn timeouts_and_tls_failures_are_their_own_error_classes_per_region_and_request() {
    let slow = Target::start(&["--delay", "2s"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let (outcome, s) = run(
        dir.path(),
        &format!(
            r#"
target: {}
duration: 2s
request_timeout: 200ms
regions: {{ eu-west-1: 1 }}
scenarios:
  slow:
    executor: constant-arrival-rate
    rate: 5
    requests:
      - {{ name: slow, url: / }}
"#,
            slow.url
        ),
        &["--workers", "1"],
    );
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    let timeouts = serde_json::json!({ "timeout": 10 });
    assert_eq!(s["errors_by_class"], timeouts);
    assert_eq!(s["regions"]["eu-west-1"]["errors_by_class"], timeouts);
    assert_eq!(s["requests"]["slow"]["errors_by_class"], timeouts);

    // A plain-HTTP server spoken to over https: the handshake fails.
    let plain = Target::start(&[]);
    let https = plain.url.replacen("http://", "https://", 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let (outcome, s) = run(
        dir.path(),
        &format!(
            r#"
target: {https}
duration: 2s
scenarios:
  tls:
    executor: constant-arrival-rate
    rate: 5
    requests:
      - {{ name: secure, url: / }}
"#
        ),
        &["--workers", "1"],
    );
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    assert_eq!(s["errors_by_class"], serde_json::json!({ "tls": 10 }));
    assert_eq!(count(&s["total"]["errors"]), 10);
}
