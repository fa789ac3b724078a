//! Runs under the local stand-ins' fault switches (docs/TESTING.md): the
//! invoker and the workers ride out a failing store and a throttling Lambda.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sls_load_e2e::{Outcome, Target, read_json, scenario_file, sls_load_with_env};

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn a_run_survives_one_s3_put_in_ten_failing_and_throttled_first_invokes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let scenario = scenario_file(
        dir.path(),
        "faults.yaml",
        &format!(
            r#"
target: {}
duration: 3s
regions: {{ us-east-1: 0.5, eu-west-1: 0.3, ap-southeast-1: 0.2 }}
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 40
    requests:
      - {{ name: home, method: GET, url: / }}
"#,
            target.url
        ),
    );
    let summary_path = dir.path().join("summary.json");
    let local_dir = dir.path().join("state");
    let outcome = sls_load_with_env(
        &[
            "run",
            scenario.to_str().expect("utf-8 path"),
            "--local",
            "--local-dir",
            local_dir.to_str().expect("utf-8 path"),
            "--workers",
            "6",
            "--flush-every",
            "1s",
            "--summary-export",
            summary_path.to_str().expect("utf-8 path"),
        ],
        &[
            // Every tenth PUT (claims, interval logs, manifests, the plan) answers 503 SlowDown.
            ("SLS_LOAD_LOCAL_S3_FAULTS", "op=put,status=503,every=10"),
            // Each region's first three Invoke calls answer 429 TooManyRequestsException.
            ("SLS_LOAD_LOCAL_LAMBDA_FAULTS", "throttle=3"),
        ],
        LIMIT,
    );
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    let summary = read_json(&summary_path);
    assert_eq!(summary["workers"]["planned"], 6);
    assert_eq!(summary["workers"]["reported"], 6, "{summary}");
    let total = summary["total"]["requests"]
        .as_u64()
        .expect("total.requests");
    // 40/s for 3 s; a worker whose invoke was throttled past the lead time starts
    // late (the summary names it under `late`) and skips the arrivals it missed.
    assert!((60..=120).contains(&total), "{summary}");
    assert_eq!(
        total,
        target.requests(),
        "the summary counts what the target received, request for request"
    );
    // The switches were on: the stand-ins log every injected fault (at warn).
    assert!(
        outcome.stderr.contains("local S3: injected fault"),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        outcome
            .stderr
            .matches("local Lambda: injected throttle")
            .count(),
        9,
        "three throttles in each of three regions: {}",
        outcome.stderr
    );
}

/// A 4 s run at 20 requests/s on two workers flushing every second, with the
/// local S3's `faults`: its outcome and its local directory (the summary is
/// exported as `summary.json` in `dir`).
fn flushing_run(dir: &Path, target: &Target, run_id: &str, faults: &str) -> (Outcome, PathBuf) {
    let scenario = scenario_file(
        dir,
        "flushing.yaml",
        &format!(
            "target: {}\nduration: 4s\nscenarios:\n  s:\n    executor: constant-arrival-rate\n    rate: 20\n    requests: [{{ name: home, url: / }}]\n",
            target.url
        ),
    );
    let local_dir = dir.join("state");
    let summary_path = dir.join("summary.json");
    let outcome = sls_load_with_env(
        &[
            "run",
            scenario.to_str().expect("utf-8 path"),
            "--local",
            "--local-dir",
            local_dir.to_str().expect("utf-8 path"),
            "--workers",
            "2",
            "--flush-every",
            "1s",
            "--run-id",
            run_id,
            "--summary-export",
            summary_path.to_str().expect("utf-8 path"),
        ],
        &[("SLS_LOAD_LOCAL_S3_FAULTS", faults)],
        LIMIT,
    );
    (outcome, local_dir)
}

#[test]
fn a_flush_that_fails_for_good_is_named_with_its_worker_and_seconds_and_fails_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    // Every PUT of w0000's interval logs from its second on fails: its
    // intervals from then on can never be stored (each flush moves on to the
    // next name, which fails too).
    let failing_from_second_log = (1..=20)
        .map(|n| format!("op=put,status=503,key-suffix=us-east-1/w0000/latency-{n:05}.hlog"))
        .collect::<Vec<_>>()
        .join("; ");
    let (outcome, _) = flushing_run(dir.path(), &target, "lost-1", &failing_from_second_log);
    let summary_path = dir.path().join("summary.json");
    assert_eq!(
        outcome.code(),
        1,
        "stdout: {}\nstderr: {}",
        outcome.stdout,
        outcome.stderr
    );
    assert!(!outcome.stderr.contains("panicked"), "{}", outcome.stderr);
    let named = outcome
        .stderr
        .lines()
        .find(|l| l.contains("us-east-1/w0000/manifest.json") && l.contains("could not be stored"))
        .unwrap_or_else(|| panic!("the lost intervals are not named: {}", outcome.stderr));
    assert!(named.contains("seconds "), "{named}");
    let summary = read_json(&summary_path);
    let problems = summary["workers"]["problems"].as_array().expect("problems");
    assert!(!problems.is_empty(), "{summary}");
    let counted = summary["total"]["requests"].as_u64().expect("total");
    assert!(
        counted < target.requests(),
        "the summary cannot count what was never stored"
    );
}

#[test]
fn a_log_key_that_answers_503_forever_loses_nothing_its_worker_moves_to_the_next_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let faults = "op=put,status=503,key-suffix=us-east-1/w0000/latency-00001.hlog";
    let (outcome, local_dir) = flushing_run(dir.path(), &target, "moved-1", faults);
    let summary_path = dir.path().join("summary.json");
    assert_eq!(outcome.code(), 0, "{}", outcome.stderr);
    let summary = read_json(&summary_path);
    assert_eq!(
        summary["total"]["requests"].as_u64(),
        Some(target.requests()),
        "the summary counts what the target counted: {summary}"
    );
    let manifest = read_json(
        &local_dir.join("store/sls-load-results/runs/moved-1/us-east-1/w0000/manifest.json"),
    );
    assert_eq!(
        manifest["superseded"],
        serde_json::json!(["latency-00001.hlog"]),
        "{manifest}"
    );
}
