//! Rates over the time a run ran: a run stopped (`sls-load stop`) or aborted
//! (`abortOnFail`) long before its planned end reports its actual duration, and
//! its rps is the planned rate, not the requests spread over the planned 60 s.
//! Counted at the target: the summary's requests are the target's.

use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use sls_load_e2e::{Target, read_json, scenario_file, sls_load, sls_load_in_background};

const LIMIT: Duration = Duration::from_secs(120);
/// The planned rate, requests per second.
const RATE: f64 = 200.0;

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A 60 s run at 200 req/s against `target` (plus `extra` scenario lines),
/// started in the background with its summary exported to `dir/summary.json`.
fn start(
    dir: &Path,
    target: &Target,
    id: &str,
    extra: &str,
) -> std::thread::JoinHandle<sls_load_e2e::Outcome> {
    let scenario = scenario_file(
        dir,
        "long.yaml",
        &format!(
            "
target: {}
duration: 60s
scenarios:
  steady:
    executor: constant-arrival-rate
    rate: {RATE}
    max_vus: 200
    requests:
      - {{ name: home, url: / }}
{extra}",
            target.url
        ),
    );
    let args: Vec<String> = [
        "run",
        path(&scenario),
        "--local",
        "--local-dir",
        path(&dir.join("state")),
        "--quiet",
        "--run-id",
        id,
        "--summary-export",
        path(&dir.join("summary.json")),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    sls_load_in_background(args, LIMIT)
}

/// The figures every rate of a cut-short run must agree with.
fn assert_rates_over_the_time_run(summary: &serde_json::Value, target: &Target) {
    let requests = summary["total"]["requests"].as_u64().expect("requests");
    assert_eq!(target.requests(), requests, "every request, once");
    let duration = summary["duration_s"].as_f64().expect("duration_s");
    assert_eq!(summary["planned_duration_s"], 60.0, "{summary}");
    assert!((3.0..40.0).contains(&duration), "duration {duration}");
    let rps = summary["total"]["rps"].as_f64().expect("rps");
    assert!(
        (rps - RATE).abs() <= RATE * 0.1,
        "rps {rps} for {requests} requests in {duration} s"
    );
    let region = summary["regions"]["us-east-1"]["rps"]
        .as_f64()
        .expect("region rps");
    assert!((region - RATE).abs() <= RATE * 0.1, "region rps {region}");
}

#[test]
fn a_stopped_run_reports_its_rates_over_the_time_it_ran() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let id = format!("rates-stop-{}", std::process::id());
    let handle = start(dir.path(), &target, &id, "");
    let began = std::time::Instant::now();
    while target.requests() < (RATE as u64) * 10 {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "no load reached the target"
        );
        sleep(Duration::from_millis(100));
    }
    let state: PathBuf = dir.path().join("state");
    let stop = sls_load(
        &["stop", &id, "--local", "--local-dir", path(&state)],
        LIMIT,
    );
    assert_eq!(stop.code(), 0, "{}", stop.stderr);
    let outcome = handle.join().expect("run thread");
    assert_eq!(outcome.code(), 105, "{}", outcome.stderr);
    let summary = read_json(&dir.path().join("summary.json"));
    assert_eq!(summary["interrupted"], true);
    assert_rates_over_the_time_run(&summary, &target);
}

#[test]
fn an_aborted_run_reports_its_rates_over_the_time_it_ran() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&["--delay", "2ms"]);
    let id = format!("rates-abort-{}", std::process::id());
    let handle = start(
        dir.path(),
        &target,
        &id,
        "thresholds:\n  http_req_duration: [{ threshold: \"p(95)<1\", abortOnFail: true, delayAbortEval: 5s }]\n",
    );
    let outcome = handle.join().expect("run thread");
    assert_eq!(outcome.code(), 99, "{}", outcome.stderr);
    let summary = read_json(&dir.path().join("summary.json"));
    assert_eq!(summary["aborted_by"], "http_req_duration p(95)<1");
    assert_rates_over_the_time_run(&summary, &target);
}

#[test]
fn plan_estimates_a_closed_models_rate_and_the_yes_guard_weighs_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 2,000,000 VUs thinking 3–7 s: about 2,000,000 / (5 s + 100 ms) requests a second.
    let scenario = scenario_file(
        dir.path(),
        "crowd.yaml",
        "
target: http://10.255.255.1
duration: 10m
scenarios:
  crowd:
    executor: constant-vus
    vus: 2000000
    requests:
      - { name: home, url: /, sleep: { min: 3s, max: 7s } }
",
    );
    let plan = sls_load(&["plan", path(&scenario)], LIMIT);
    assert_eq!(plan.code(), 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains(
            "expected rate at peak: ~392,157 req/s (estimate: 2,000,000 VUs, each one request per think time + 100ms response time assumed; --expect-latency)"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("`run` will need --yes: 392157 req/s (estimated"),
        "{}",
        plan.stdout
    );
    let slower = sls_load(&["plan", path(&scenario), "--expect-latency", "1s"], LIMIT);
    assert!(
        slower.stdout.contains("~333,333 req/s"),
        "{}",
        slower.stdout
    );
}
