//! Orchestration at scale (issue #5): many workers, chained slices, a worker that
//! dies mid-slice.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use sls_load_e2e::{Outcome, Target, read_json, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(120);

fn scenario(dir: &Path, target: &Target, rate: u32, duration: &str, regions: &str) -> String {
    scenario_file(
        dir,
        "scale.yaml",
        &format!(
            r#"
target: {}
duration: {duration}
regions: {regions}
scenarios:
  steady:
    executor: constant-arrival-rate
    rate: {rate}
    requests:
      - {{ name: home, url: / }}
"#,
            target.url
        ),
    )
    .to_str()
    .expect("utf-8")
    .to_owned()
}

fn run(dir: &Path, scenario: &str, extra: &[&str]) -> (Outcome, serde_json::Value) {
    let summary = dir.join("summary.json");
    let state = dir.join("state");
    let mut args = vec![
        "run",
        scenario,
        "--local",
        "--quiet",
        "--local-dir",
        state.to_str().expect("utf-8"),
        "--summary-export",
        summary.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let outcome = sls_load(&args, LIMIT);
    let json = read_json(&summary);
    (outcome, json)
}

#[test]
fn sixty_workers_over_three_regions_all_report_with_their_start_skew() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let scenario = scenario(
        dir.path(),
        &target,
        120,
        "3s",
        "{ us-east-1: 1, eu-west-1: 1, ap-southeast-1: 1 }",
    );
    let (outcome, s) = run(dir.path(), &scenario, &["--workers", "60"]);
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    assert_eq!(s["workers"]["planned"], 60);
    assert_eq!(s["workers"]["reported"], 60);
    for key in ["p50", "p99", "max"] {
        assert!(
            s["workers"]["start_skew_ms"][key].is_number(),
            "start_skew_ms.{key}: {}",
            s["workers"]
        );
        assert!(s["workers"]["regions"]["eu-west-1"]["start_skew_ms"][key].is_number());
    }
    assert_eq!(s["total"]["requests"], 360);
    assert_eq!(s["total"]["requests"].as_u64(), Some(target.requests()));
    assert!(s["cost"]["usd"].as_f64().unwrap_or(0.0) > 0.0);
}

#[test]
fn a_worker_killed_mid_slice_is_named_missing_and_its_flushed_intervals_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let scenario = scenario(
        dir.path(),
        &target,
        60,
        "6s",
        "{ us-east-1: 1, eu-west-1: 1, ap-southeast-1: 1 }",
    );
    let (outcome, s) = run(
        dir.path(),
        &scenario,
        &[
            "--workers",
            "6",
            "--flush-every",
            "1s",
            "--local-fault-kill-after",
            "3500ms",
        ],
    );
    assert_eq!(outcome.code(), 1, "stderr: {}", outcome.stderr);
    let errors: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", outcome.stderr);
    assert!(
        errors[0].contains("1 of 6 workers did not report"),
        "{}",
        errors[0]
    );
    let missing = s["workers"]["missing"].as_array().expect("missing");
    assert_eq!(missing.len(), 1, "{}", s["workers"]);
    let missing = missing[0].as_str().expect("name");
    assert!(errors[0].contains(missing), "{}", errors[0]);
    // The dead worker flushed seconds 0..3 before it died: they are on disk and counted.
    let (region, worker) = missing.split_once('/').expect("region/worker");
    let run_id = s["run_id"].as_str().expect("run id");
    let worker_dir = dir
        .path()
        .join("state/store/sls-load-results/runs")
        .join(run_id)
        .join(region)
        .join(worker);
    let logs = std::fs::read_dir(&worker_dir)
        .expect("the dead worker's objects stay")
        .count();
    assert!(logs >= 2, "{} objects in {}", logs, worker_dir.display());
    let total = s["total"]["requests"].as_u64().expect("total");
    // Five workers × 60 requests, plus what the dead one flushed (10/s for ≥ 2 s).
    assert!(total >= 320, "total {total}");
    assert!(total <= target.requests());
}

#[test]
fn chained_slices_leave_no_gap_and_no_overlap_at_the_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let scenario = scenario(dir.path(), &target, 100, "12s", "{ us-east-1: 1 }");
    let (outcome, s) = run(dir.path(), &scenario, &["--workers", "2", "--slice", "5s"]);
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    assert_eq!(s["workers"]["planned"], 6, "2 slots × 3 slices");
    assert_eq!(s["workers"]["reported"], 6);
    assert_eq!(s["total"]["requests"], 1200);
    assert_eq!(target.requests(), 1200);

    // Every whole second of the run, slice boundaries at +5 s and +10 s included,
    // got 100 requests at the target, within 5%.
    let start =
        humantime::parse_rfc3339(s["start_at"].as_str().expect("start_at")).expect("rfc3339");
    let start_s = start
        .duration_since(UNIX_EPOCH)
        .expect("epoch")
        .as_secs_f64();
    let per_second: BTreeMap<u64, u64> = target.stats()["per_unix_second"]
        .as_object()
        .expect("per_unix_second")
        .iter()
        .map(|(k, v)| (k.parse().expect("second"), v.as_u64().expect("count")))
        .collect();
    let first_whole = start_s.ceil() as u64;
    let last_whole = (start_s + 12.0).floor() as u64; // exclusive
    assert!(last_whole - first_whole >= 11);
    for second in first_whole..last_whole {
        let n = per_second.get(&second).copied().unwrap_or(0);
        assert!(
            (95..=105).contains(&n),
            "second +{} of the run: {n} requests (per second: {per_second:?})",
            second as f64 - start_s
        );
    }
}

#[test]
fn watch_reattaches_to_a_run_in_progress_and_reports_the_same_totals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let scenario = scenario(
        dir.path(),
        &target,
        40,
        "4s",
        "{ us-east-1: 1, eu-west-1: 1 }",
    );
    let state = dir.path().join("state");
    let state = state.to_str().expect("utf-8").to_owned();
    let run_summary = dir.path().join("run.json");
    let watch_summary = dir.path().join("watch.json");
    let run = sls_load_e2e::sls_load_in_background(
        [
            "run",
            &scenario,
            "--local",
            "--quiet",
            "--run-id",
            "watched-run",
            "--local-dir",
            &state,
            "--summary-export",
            run_summary.to_str().expect("utf-8"),
        ]
        .map(String::from)
        .to_vec(),
        LIMIT,
    );
    // The plan is stored before any worker is invoked; wait for it.
    let plan = Path::new(&state).join("store/sls-load-results/runs/watched-run/plan.json");
    let waited = std::time::Instant::now();
    while !plan.exists() {
        assert!(waited.elapsed() < Duration::from_secs(60), "no plan stored");
        std::thread::sleep(Duration::from_millis(50));
    }
    let watched = sls_load(
        &[
            "watch",
            "watched-run",
            "--local",
            "--local-dir",
            &state,
            "--summary-export",
            watch_summary.to_str().expect("utf-8"),
        ],
        LIMIT,
    );
    let ran = run.join().expect("run thread");
    assert_eq!(ran.code(), 0, "run: {}", ran.stderr);
    assert_eq!(watched.code(), 0, "watch: {}", watched.stderr);
    let (a, b) = (read_json(&run_summary), read_json(&watch_summary));
    assert_eq!(a["total"], b["total"]);
    assert_eq!(a["workers"]["reported"], b["workers"]["reported"]);
    assert_eq!(a["total"]["requests"], 160);
}
