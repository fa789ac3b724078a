//! k6's vocabulary as a k6 user types it: the top-level shortcuts build the default
//! scenario (`vus` + `iterations` → `shared-iterations`), and the command line
//! overrides them as k6's `--vus`/`--duration` do.

use std::time::Duration;

use sls_load_e2e::{Target, run_local, scenario_file};

const LIMIT: Duration = Duration::from_secs(90);

/// Runs `scenario` locally with `extra` arguments; returns the summary.
fn run(dir: &std::path::Path, scenario: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let (outcome, summary) = run_local(dir, scenario, extra, LIMIT);
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    summary.expect("a summary")
}

#[test]
fn vus_and_iterations_at_the_top_level_share_exactly_that_many_iterations() {
    let target = Target::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = scenario_file(
        dir.path(),
        "k6.yaml",
        &format!(
            r#"
target: {}
vus: 2
iterations: 10
requests:
  - {{ name: home, url: /home }}
  - {{ name: cart, url: /cart }}
"#,
            target.url
        ),
    );
    let s = run(dir.path(), &scenario, &[]);
    let by_path = &target.stats()["by_path"];
    assert_eq!(by_path["/home"], 10, "{by_path}");
    assert_eq!(by_path["/cart"], 10, "{by_path}");
    assert_eq!(s["total"]["requests"].as_u64(), Some(20), "{}", s["total"]);
}

#[test]
fn vus_and_duration_flags_replace_the_files_scenarios_with_the_default_one() {
    let target = Target::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    // The file would send 1000 requests per second for a minute.
    let scenario = scenario_file(
        dir.path(),
        "rate.yaml",
        &format!(
            r#"
target: {}
duration: 1m
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 1000
    requests:
      - {{ name: home, url: /home, sleep: 100ms }}
"#,
            target.url
        ),
    );
    let started = std::time::Instant::now();
    let s = run(dir.path(), &scenario, &["--vus", "2", "--duration", "2s"]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "ran the file's minute"
    );
    assert_eq!(s["duration_s"].as_f64(), Some(2.0), "{}", s["duration_s"]);
    // Two VUs, each one request and 100 ms of think time per iteration, for 2 s:
    // about 40 requests, far from the file's 60,000.
    let at_target = target.stats()["by_path"]["/home"].as_u64().unwrap_or(0);
    assert!((10..=44).contains(&at_target), "{at_target}");
    assert_eq!(s["total"]["requests"].as_u64(), Some(at_target));
}
