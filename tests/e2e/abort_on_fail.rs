//! k6's `abortOnFail`, on the symptom: a threshold marked `abortOnFail` that
//! fails while the run goes stops the load at the target within its
//! `delayAbortEval` + one flush period + the kill switch's period (2 s) + 1 s of
//! slack, the summary printed and stored says which threshold stopped it, and
//! `run` and `report` both end with 99, as k6 does for a failed threshold.
//!
//! The bounds are the documented ones, never timings of speed: the target is
//! sampled at the bound and 2 s later, and the two counts must be equal. The
//! parsing of the object form has its own unit tests
//! (`orchestrator/src/scenario/raw/thresholds.rs`).

use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime};

use sls_load_e2e::{Target, read_json, scenario_file, sls_load, sls_load_in_background};

const LIMIT: Duration = Duration::from_secs(120);
/// What the whole 30 s schedule would send.
const FULL: u64 = 30 * 40;
/// `delayAbortEval` + flush period + kill switch period + slack, from the start.
const STOP_BOUND: Duration = Duration::from_secs(2 + 1 + 2 + 1);
/// Requests still in flight when a worker is told to stop get at most 2 s more.
const DRAIN: Duration = Duration::from_secs(2);

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Waits for the run's `plan.json` and returns when, on this machine's clock as
/// an `Instant`, the run starts (`start_at`).
fn start_of(run_dir: &Path) -> Instant {
    let plan = run_dir.join("plan.json");
    let began = Instant::now();
    while !plan.is_file() {
        assert!(began.elapsed() < Duration::from_secs(30), "no plan.json");
        sleep(Duration::from_millis(50));
    }
    sleep(Duration::from_millis(100));
    let plan = read_json(&plan);
    let start_at = humantime::parse_rfc3339(plan["start_at"].as_str().expect("start_at"))
        .expect("start_at is RFC 3339");
    let now = (Instant::now(), SystemTime::now());
    match start_at.duration_since(now.1) {
        Ok(ahead) => now.0 + ahead,
        Err(behind) => now.0 - behind.duration(),
    }
}

#[test]
fn an_abort_on_fail_threshold_stops_the_run_and_ends_it_with_99() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&["--delay", "2ms"]);
    let scenario = scenario_file(
        dir.path(),
        "abort.yaml",
        &format!(
            r#"
target: {}
duration: 30s
scenarios:
  steady:
    executor: constant-arrival-rate
    rate: 40
    requests:
      - {{ name: home, method: GET, url: / }}
thresholds:
  http_req_duration: [{{ threshold: "p(95)<1", abortOnFail: true, delayAbortEval: 2s }}]
"#,
            target.url
        ),
    );
    let id = format!("abort-{}", std::process::id());
    let state: PathBuf = dir.path().join("state");
    let export = dir.path().join("summary.json");
    let args: Vec<String> = [
        "run",
        path(&scenario),
        "--local",
        "--local-dir",
        path(&state),
        "--workers",
        "2",
        "--flush-every",
        "1s",
        "--quiet",
        "--run-id",
        &id,
        "--summary-export",
        path(&export),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let handle = sls_load_in_background(args, LIMIT);
    let run_dir = state.join("store/sls-load-results/runs").join(&id);
    let start = start_of(&run_dir);

    sleep((start + STOP_BOUND + DRAIN).saturating_duration_since(Instant::now()));
    let settled = target.requests();
    sleep(Duration::from_secs(2));
    let later = target.requests();
    assert!(settled > 0, "no load reached the target");
    assert_eq!(settled, later, "the target still receives requests");
    assert!(later < FULL / 2, "{later} of {FULL}: not stopped early");

    let outcome = handle.join().expect("run thread");
    assert_eq!(outcome.code(), 99, "{}", outcome.stderr);
    assert!(
        outcome
            .stdout
            .contains("aborted ........: by threshold http_req_duration p(95)<1"),
        "{}",
        outcome.stdout
    );
    let summary = read_json(&export);
    assert_eq!(summary["aborted_by"], "http_req_duration p(95)<1");
    assert_eq!(summary["interrupted"], true);
    assert_eq!(summary["total"]["requests"], later, "every request, once");
    assert_eq!(read_json(&run_dir.join("summary.json")), summary);
    let control = read_json(&run_dir.join("control.json"));
    assert_eq!(control["reason"], "threshold", "{control}");

    let report_export = dir.path().join("report.json");
    let report = sls_load(
        &[
            "report",
            &id,
            "--local",
            "--local-dir",
            path(&state),
            "--summary-export",
            path(&report_export),
        ],
        LIMIT,
    );
    assert_eq!(report.code(), 99, "{}", report.stderr);
    assert!(
        report
            .stderr
            .contains("aborted by threshold http_req_duration p(95)<1"),
        "{}",
        report.stderr
    );
    assert_eq!(
        read_json(&report_export)["aborted_by"],
        summary["aborted_by"]
    );
}
