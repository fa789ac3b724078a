//! The options blocks of the two k6 scripts a new user brought (the seeds), transcribed
//! key for key into YAML and scaled down only in their numbers, plan and run as
//! written (issue #11): ramping stages with a 30/25/20 `distribution` over three
//! `amazon:` load zones, and stages 100 → 1,000 → 0 with `p(95)<500`.

use std::time::Duration;

use sls_load_e2e::{Target, run_local, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(90);

/// Seed 1: `stages` ramping to 100,000 VUs (here 6), `distribution` 30/25/20.
fn seed_ramp_with_distribution(target: &str) -> String {
    format!(
        r#"
target: {target}
stages:
  - {{ duration: 1s, target: 3 }}
  - {{ duration: 2s, target: 6 }}
  - {{ duration: 1s, target: 0 }}
distribution:
  us: {{ loadZone: "amazon:us-east-1", percent: 30 }}
  eu: {{ loadZone: "amazon:eu-west-1", percent: 25 }}
  ap: {{ loadZone: "amazon:ap-southeast-1", percent: 20 }}
requests:
  - {{ name: home, url: /, sleep: 100ms }}
"#
    )
}

/// Seed 2: stages 100 → 1,000 → 0 (here 2 → 4 → 0) with `p(95)<500`.
fn seed_stages_with_threshold(target: &str) -> String {
    format!(
        r#"
target: {target}
stages:
  - {{ duration: 1s, target: 2 }}
  - {{ duration: 2s, target: 4 }}
  - {{ duration: 1s, target: 0 }}
thresholds:
  http_req_duration: ["p(95)<500"]
requests:
  - {{ name: home, url: /, sleep: 100ms }}
"#
    )
}

#[test]
fn the_seed_with_a_k6_cloud_distribution_plans_and_runs_in_its_three_zones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let scenario = scenario_file(
        dir.path(),
        "seed-1.yaml",
        &seed_ramp_with_distribution(&target.url),
    );
    let scenario = scenario.to_str().expect("utf-8");

    let plan = sls_load(&["plan", scenario, "--json"], LIMIT);
    assert_eq!(plan.code(), 0, "{}", plan.stderr);
    assert!(
        plan.stderr.contains("renormalised to 100"),
        "{}",
        plan.stderr
    );
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let regions: Vec<&str> = plan["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .filter_map(|r| r["region"].as_str())
        .collect();
    assert_eq!(regions, ["us-east-1", "eu-west-1", "ap-southeast-1"]);

    let (run, summary) = run_local(dir.path(), scenario.as_ref(), &[], LIMIT);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let summary = summary.expect("a summary");
    let total = summary["total"]["requests"].as_u64().expect("total");
    assert!(total > 0);
    assert_eq!(
        total,
        target.requests(),
        "the summary counts what the target received"
    );
    for region in ["us-east-1", "eu-west-1", "ap-southeast-1"] {
        let n = summary["regions"][region]["requests"].as_u64().unwrap_or(0);
        assert!(n > 0, "{region} sent nothing: {summary}");
    }
}

#[test]
fn the_seed_with_stages_and_a_p95_threshold_runs_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let scenario = scenario_file(
        dir.path(),
        "seed-2.yaml",
        &seed_stages_with_threshold(&target.url),
    );
    let scenario = scenario.to_str().expect("utf-8");
    let (run, summary) = run_local(dir.path(), scenario.as_ref(), &[], LIMIT);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let summary = summary.expect("a summary");
    assert_eq!(summary["thresholds"][0]["ok"], true, "{summary}");
    assert_eq!(
        summary["total"]["requests"].as_u64().expect("total"),
        target.requests()
    );
}
