//! Names that could reach outside a run's own objects are refused at the edge:
//! a run id with `/` or `..` from the command line exits 2 with one line, before
//! anything is read, written or sent.

use std::time::Duration;

use sls_load_e2e::{scenario_file, sls_load};

const SCENARIO: &str = r#"target: http://127.0.0.1:9
duration: 2s
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 1
    requests:
      - { name: home, url: / }
"#;

/// Runs `sls-load ARGS --local --local-dir DIR/state` and checks it was refused
/// as bad input, in one line naming the run id, and that nothing was created.
fn refused(args: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let scenario = scenario_file(dir.path(), "s.yaml", SCENARIO);
    let mut all: Vec<&str> = args
        .iter()
        .map(|a| {
            if *a == "SCENARIO" {
                scenario.to_str().expect("utf-8")
            } else {
                a
            }
        })
        .collect();
    all.extend(["--local", "--local-dir", state.to_str().expect("utf-8")]);
    let outcome = sls_load(&all, Duration::from_secs(30));
    let err = outcome.stderr.trim();
    assert_eq!(outcome.code(), 2, "{args:?}: stderr: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
    assert!(err.contains("run id"), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(!state.exists(), "{args:?}: the local store was started");
    assert!(!dir.path().join("x").exists());
}

#[test]
fn a_report_of_a_run_id_climbing_out_of_the_store_is_refused() {
    refused(&["report", "../../x"]);
}

#[test]
fn watching_a_run_id_with_a_slash_is_refused() {
    refused(&["watch", "a/b"]);
}

#[test]
fn running_under_a_run_id_of_dot_dot_is_refused() {
    refused(&["run", "SCENARIO", "--run-id", ".."]);
}
