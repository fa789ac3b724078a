//! Nothing lost, nothing invented, end to end (issue #10): a run id already in the
//! store is refused before anything is sent, and a crafted interval log in a run's
//! store is named by `report`, which exits non-zero instead of reporting less.

use std::path::Path;
use std::time::Duration;

use sls_load_e2e::{Target, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(60);

fn scenario(dir: &Path, target: &Target) -> String {
    scenario_file(
        dir,
        "short.yaml",
        &format!(
            "target: {}\nduration: 2s\nscenarios:\n  s:\n    executor: constant-arrival-rate\n    rate: 20\n    requests: [{{ name: home, url: / }}]\n",
            target.url
        ),
    )
    .to_str()
    .expect("utf-8")
    .to_owned()
}

fn run(scenario: &str, state: &Path, run_id: &str) -> sls_load_e2e::Outcome {
    sls_load(
        &[
            "run",
            scenario,
            "--local",
            "--local-dir",
            state.to_str().expect("utf-8"),
            "--workers",
            "2",
            "--run-id",
            run_id,
            "--quiet",
        ],
        LIMIT,
    )
}

#[test]
fn a_run_id_already_in_the_store_is_refused_and_its_run_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let scenario = scenario(dir.path(), &target);
    let state = dir.path().join("state");
    let first = run(&scenario, &state, "reused-1");
    assert_eq!(first.code(), 0, "{}", first.stderr);
    let sent = target.requests();
    let plan = state.join("store/sls-load-results/runs/reused-1/plan.json");
    let before = std::fs::read(&plan).expect("plan stored");

    let second = run(&scenario, &state, "reused-1");
    assert_eq!(second.code(), 2, "{}", second.stderr);
    assert!(
        second.stderr.contains("reused-1") && second.stderr.contains("already used"),
        "{}",
        second.stderr
    );
    assert_eq!(target.requests(), sent, "the second run sent load");
    assert_eq!(
        std::fs::read(&plan).expect("plan"),
        before,
        "the first run's plan was overwritten"
    );
}

#[test]
fn a_crafted_interval_log_is_named_and_fails_the_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let scenario = scenario(dir.path(), &target);
    let state = dir.path().join("state");
    let first = run(&scenario, &state, "crafted-1");
    assert_eq!(first.code(), 0, "{}", first.stderr);

    // An interval that claims to start at the end of time, appended to a stored log.
    let worker = state.join("store/sls-load-results/runs/crafted-1/us-east-1/w0000");
    let log = worker.join("latency-00000.hlog");
    let mut bytes = std::fs::read(&log).expect("a stored log");
    let good = String::from_utf8_lossy(&bytes)
        .lines()
        .last()
        .expect("a line")
        .to_owned();
    let histogram = good.rsplit(',').next().expect("a histogram");
    bytes.extend(
        format!("Tag=http_req_duration:home,18446744073709551615.000,1.000,1.0,{histogram}\n")
            .as_bytes(),
    );
    std::fs::write(&log, bytes).expect("rewrite");

    let report = sls_load(
        &[
            "report",
            "crafted-1",
            "--local",
            "--local-dir",
            state.to_str().expect("utf-8"),
        ],
        LIMIT,
    );
    assert_eq!(
        report.code(),
        1,
        "stdout: {}\nstderr: {}",
        report.stdout,
        report.stderr
    );
    assert!(!report.stderr.contains("panicked"), "{}", report.stderr);
    assert!(
        report.stderr.contains("latency-00000.hlog"),
        "{}",
        report.stderr
    );
    assert!(report.stdout.contains("left out"), "{}", report.stdout);
}
