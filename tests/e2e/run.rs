//! A local three-region run against the sample target, and rebuilding its report.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use sls_load_e2e::{Outcome, Target, read_json, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(90);

/// One run shared by the tests of this module: 6 workers over 3 regions, 3 s at 60/s.
struct SharedRun {
    dir: tempfile::TempDir,
    outcome: Outcome,
    summary: serde_json::Value,
    target_requests: u64,
}

fn shared_run() -> &'static SharedRun {
    static RUN: OnceLock<SharedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = Target::start(&[]);
        let scenario = scenario_file(
            dir.path(),
            "three-regions.yaml",
            &format!(
                r#"
target: {}
duration: 3s
regions: {{ us-east-1: 0.5, eu-west-1: 0.3, ap-southeast-1: 0.2 }}
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 60
    requests:
      - {{ name: home, method: GET, url: /, expect_status: 200 }}
      - {{ name: about, method: GET, url: /about }}
thresholds:
  http_req_duration: ["p(95)<5000"]
  http_req_failed: ["rate<0.01"]
"#,
                target.url
            ),
        );
        let summary_path = dir.path().join("summary.json");
        let local_dir = dir.path().join("state");
        let outcome = sls_load(
            &[
                "run",
                scenario.to_str().expect("utf-8 path"),
                "--local",
                "--local-dir",
                local_dir.to_str().expect("utf-8 path"),
                "--workers",
                "6",
                "--summary-export",
                summary_path.to_str().expect("utf-8 path"),
            ],
            LIMIT,
        );
        let summary = read_json(&summary_path);
        let target_requests = target.requests();
        SharedRun {
            dir,
            outcome,
            summary,
            target_requests,
        }
    })
}

#[test]
fn a_three_region_run_succeeds_and_reports_every_worker() {
    let run = shared_run();
    assert_eq!(run.outcome.code(), 0, "stderr: {}", run.outcome.stderr);
    let s = &run.summary;
    assert_eq!(s["format"], 1);
    assert_eq!(s["workers"]["planned"], 6);
    assert_eq!(s["workers"]["reported"], 6);
    assert_eq!(s["workers"]["missing"], serde_json::json!([]));
    let regions = s["regions"].as_object().expect("regions");
    assert_eq!(
        regions.keys().collect::<Vec<_>>(),
        ["ap-southeast-1", "eu-west-1", "us-east-1"]
    );
    for (name, r) in regions {
        assert!(
            r["requests"].as_u64().unwrap_or(0) > 0,
            "{name} sent nothing"
        );
    }
    for key in ["p50", "p90", "p95", "p99", "max"] {
        assert!(
            s["total"]["latency_ms"][key].is_number(),
            "latency_ms.{key}"
        );
    }
    assert_eq!(s["thresholds"][0]["metric"], "http_req_duration");
    assert_eq!(s["thresholds"][0]["ok"], true);
    assert!(
        run.outcome.stdout.contains("region eu-west-1"),
        "{}",
        run.outcome.stdout
    );
}

#[test]
fn every_request_the_target_received_is_counted_once() {
    let run = shared_run();
    let total = run.summary["total"]["requests"]
        .as_u64()
        .expect("total.requests");
    // 60 iterations/s for 3 s, two requests each.
    assert_eq!(total, 360);
    assert_eq!(total, run.target_requests);
    let per_request: u64 = run.summary["requests"]
        .as_object()
        .expect("requests")
        .values()
        .map(|r| r["requests"].as_u64().unwrap_or(0))
        .sum();
    let per_region: u64 = run.summary["regions"]
        .as_object()
        .expect("regions")
        .values()
        .map(|r| r["requests"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(per_request, total);
    assert_eq!(per_region, total);
}

#[test]
fn each_series_has_a_point_per_second_and_adds_up_to_its_total() {
    let run = shared_run();
    let s = &run.summary;
    let last = s["timeline"]
        .as_array()
        .and_then(|t| t.last())
        .and_then(|p| p["t"].as_u64())
        .expect("a timeline");
    let seconds: Vec<u64> = (0..=last).collect();
    let check = |scope: &str, points: &serde_json::Value, total: &serde_json::Value| {
        let points = points.as_array().expect("points");
        let t: Vec<u64> = points.iter().filter_map(|p| p["t"].as_u64()).collect();
        assert_eq!(t, seconds, "{scope}: one point per second");
        for key in ["requests", "errors"] {
            let sum: u64 = points.iter().filter_map(|p| p[key].as_u64()).sum();
            assert_eq!(Some(sum), total[key].as_u64(), "{scope}: {key}");
        }
        for key in ["p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"] {
            assert!(points.iter().all(|p| p[key].is_number()), "{scope}: {key}");
        }
    };
    for (region, total) in s["regions"].as_object().expect("regions") {
        check(region, &s["series"]["regions"][region], total);
        let spectrum = s["spectrum"][region].as_array().expect("a spectrum");
        assert_eq!(
            spectrum.last().map(|p| p["percentile"].clone()),
            Some(100.0.into())
        );
        assert_eq!(
            spectrum.last().map(|p| p["ms"].clone()),
            Some(total["latency_ms"]["max"].clone())
        );
    }
    for (request, total) in s["requests"].as_object().expect("requests") {
        check(request, &s["series"]["requests"][request], total);
    }
    let region_requests = s["series"]["region_requests"]
        .as_object()
        .expect("region_requests");
    assert_eq!(region_requests.len(), 3);
}

#[test]
fn report_rebuilds_the_same_summary_from_the_store_alone() {
    let run = shared_run();
    let run_id = run.summary["run_id"].as_str().expect("run_id");
    let rebuilt_path: PathBuf = run.dir.path().join("rebuilt.json");
    let local_dir = run.dir.path().join("state");
    let outcome = sls_load(
        &[
            "report",
            run_id,
            "--local",
            "--local-dir",
            local_dir.to_str().expect("utf-8"),
            "--summary-export",
            rebuilt_path.to_str().expect("utf-8"),
        ],
        LIMIT,
    );
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    let rebuilt = read_json(&rebuilt_path);
    for key in [
        "total",
        "regions",
        "requests",
        "workers",
        "thresholds",
        "timeline",
        "series",
        "spectrum",
    ] {
        assert_eq!(rebuilt[key], run.summary[key], "summary.{key} differs");
    }
}

#[test]
fn report_of_an_unknown_run_fails_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outcome = sls_load(
        &[
            "report",
            "no-such-run",
            "--local",
            "--local-dir",
            dir.path().to_str().expect("utf-8"),
        ],
        LIMIT,
    );
    assert_eq!(outcome.code(), 1);
    assert_eq!(
        outcome.stderr.trim().lines().count(),
        1,
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("no-such-run"), "{}", outcome.stderr);
}
