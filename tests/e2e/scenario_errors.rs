//! Bad scenario files fail fast: one short line naming the file and the key, a
//! non-zero exit, and never a panic.

use std::time::Duration;

use sls_load_e2e::{scenario_file, sls_load};

const GOOD: &str = r#"target: http://127.0.0.1:9
duration: 15s
regions: { us-east-1: 0.5, eu-west-1: 0.5 }
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 300
    requests:
      - { name: home, method: GET, url: /, expect_status: 200 }
thresholds:
  http_req_duration: ["p(95)<500"]
"#;

/// Runs `sls-load run` on `contents` and returns its stderr after checking the
/// exit code and the one-line, no-panic rules.
fn rejects(name: &str, contents: &[u8], must_mention: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, contents).expect("write");
    let outcome = sls_load(
        &[
            "run",
            path.to_str().expect("utf-8"),
            "--local",
            "--local-dir",
            dir.path().join("state").to_str().expect("utf-8"),
        ],
        Duration::from_secs(30),
    );
    let err = outcome.stderr.trim();
    assert_eq!(outcome.code(), 2, "{name}: stderr: {err}");
    assert_eq!(err.lines().count(), 1, "{name}: not one line: {err}");
    assert!(!err.contains("panicked"), "{name}: {err}");
    assert!(err.contains(name), "{name}: file not named: {err}");
    for m in must_mention {
        assert!(err.contains(m), "{name}: `{m}` not named: {err}");
    }
    assert!(err.len() < 300, "{name}: too long: {err}");
}

#[test]
fn a_misspelt_key_is_named() {
    rejects(
        "misspelt.yaml",
        GOOD.replace("rate: 300", "rat: 300").as_bytes(),
        &["rat"],
    );
}

#[test]
fn a_bad_duration_is_named() {
    rejects(
        "bad-duration.yaml",
        GOOD.replace("duration: 15s", "duration: 15 parsecs")
            .as_bytes(),
        &["duration"],
    );
}

#[test]
fn a_negative_rate_is_named() {
    rejects(
        "negative-rate.yaml",
        GOOD.replace("rate: 300", "rate: -5").as_bytes(),
        &["rate"],
    );
}

#[test]
fn an_unknown_executor_is_named() {
    rejects(
        "executor.yaml",
        GOOD.replace("constant-arrival-rate", "constant-arival-rate")
            .as_bytes(),
        &["executor"],
    );
}

#[test]
fn a_malformed_threshold_is_named() {
    rejects(
        "threshold.yaml",
        GOOD.replace("p(95)<500", "p95<500").as_bytes(),
        &["http_req_duration", "p95<500"],
    );
}

#[test]
fn binary_garbage_is_refused() {
    let garbage: Vec<u8> = (0..512u32).map(|i| (i * 97 % 251) as u8).collect();
    rejects("garbage.yaml", &garbage, &[]);
}

#[test]
fn an_empty_file_is_refused() {
    rejects("empty.yaml", b"", &["empty"]);
}

#[test]
fn a_missing_file_is_named() {
    let outcome = sls_load(
        &["run", "/nonexistent/dir/scenario.yaml", "--local"],
        Duration::from_secs(30),
    );
    assert_eq!(outcome.code(), 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("/nonexistent/dir/scenario.yaml"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn an_unknown_region_flag_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = scenario_file(dir.path(), "ok.yaml", GOOD);
    let outcome = sls_load(
        &[
            "run",
            path.to_str().expect("utf-8"),
            "--local",
            "--regions",
            "mars-north-1",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(outcome.code(), 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("mars-north-1"),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        outcome.stderr.trim().lines().count(),
        1,
        "{}",
        outcome.stderr
    );
}
