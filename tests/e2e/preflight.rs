//! Preflight, as a user types it: `plan` of 2,000,000 VUs over three regions says
//! what concurrency each region needs and that Lambda's default quota of 1,000 is
//! not enough; an absurd rate is refused at once in one line; `--max-cost` refuses
//! a plan (and a run, before it starts) estimated above it; a big `run` aimed at a host that is neither loopback
//! nor in `allowed_targets` is refused without `--yes` before anything starts (the
//! target here is never contacted: the refusal comes before any connection).

use std::time::{Duration, Instant};

use sls_load_e2e::{scenario_file, sls_load, sls_load_with_env};

const LIMIT: Duration = Duration::from_secs(30);

const TWO_MILLION_VUS: &str = "target: http://127.0.0.1:9
duration: 20m
regions: { us-east-1: 30, eu-west-1: 25, ap-southeast-1: 20 }
scenarios:
  ramp:
    executor: ramping-vus
    start_vus: 0
    stages: [{ duration: 5m, target: 2000000 }, { duration: 10m, target: 2000000 }, { duration: 5m, target: 0 }]
    requests: [{ name: home, url: / }]
";

fn rate_scenario(target: &str, rate: &str) -> String {
    format!(
        "target: {target}\nduration: 10s\nscenarios:\n  s:\n    executor: constant-arrival-rate\n    rate: {rate}\n    requests: [{{ name: home, url: / }}]\n"
    )
}

#[test]
fn plan_of_two_million_vus_names_each_regions_concurrency_and_the_default_quota() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario_file(dir.path(), "big.yaml", TWO_MILLION_VUS);
    // No AWS credentials anywhere: the default quota is what is checked.
    let home = dir.path().to_str().expect("utf-8");
    let no_aws = [
        ("HOME", home),
        ("AWS_ACCESS_KEY_ID", ""),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", ""),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", ""),
        ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", ""),
    ];
    let planned = sls_load_with_env(&["plan", file.to_str().expect("utf-8")], &no_aws, LIMIT);
    assert_eq!(planned.code(), 0, "stderr: {}", planned.stderr);
    // 900 connections per worker, two 14-minute slices: twice the slots at hand-over.
    for (region, needed) in [
        ("us-east-1", 1778),
        ("eu-west-1", 1482),
        ("ap-southeast-1", 1186),
    ] {
        let line = format!(
            "{region} needs {needed} concurrent executions; Lambda's default 1000 is not enough: ask AWS for a Lambda concurrency quota of {needed} in {region}"
        );
        assert!(planned.stdout.contains(&line), "{}", planned.stdout);
    }
    assert!(
        planned.stdout.contains("new accounts may have less"),
        "{}",
        planned.stdout
    );
}

#[test]
fn an_absurd_rate_is_refused_at_once_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario_file(
        dir.path(),
        "absurd.yaml",
        &rate_scenario("http://127.0.0.1:9", "1e15"),
    );
    let started = Instant::now();
    let planned = sls_load(&["plan", file.to_str().expect("utf-8")], LIMIT);
    eprintln!("refused in {:?}", started.elapsed());
    assert_eq!(planned.code(), 2, "stderr: {}", planned.stderr);
    assert_eq!(
        planned.stderr.trim().lines().count(),
        1,
        "{}",
        planned.stderr
    );
    assert!(
        planned.stderr.contains("a run has at most 100000"),
        "{}",
        planned.stderr
    );
}

#[test]
fn max_cost_refuses_a_plan_estimated_above_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario_file(dir.path(), "big.yaml", TWO_MILLION_VUS);
    let path = file.to_str().expect("utf-8");
    let refused = sls_load(&["plan", path, "--max-cost", "1"], LIMIT);
    assert_eq!(refused.code(), 2, "stderr: {}", refused.stderr);
    assert!(
        refused.stderr.contains("is above --max-cost $1.00"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    // Under the limit, `plan --json` carries the estimate next to the plan.
    let printed = sls_load(&["plan", path, "--max-cost", "100000", "--json"], LIMIT);
    assert_eq!(printed.code(), 0, "stderr: {}", printed.stderr);
    let json: serde_json::Value = serde_json::from_str(&printed.stdout).expect("plan JSON");
    assert!(json["estimate"]["usd"].as_f64().expect("usd") > 1.0);
    assert!(json["jobs"].is_array() && json["regions"].is_array());
}

#[test]
fn a_big_run_at_a_host_nobody_allowed_is_refused_without_yes_before_anything_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A non-routable address: never contacted, the refusal comes first.
    let file = scenario_file(
        dir.path(),
        "prod.yaml",
        &rate_scenario("http://10.255.255.1", "5000"),
    );
    let state = dir.path().join("state");
    let started = Instant::now();
    let refused = sls_load(
        &[
            "run",
            file.to_str().expect("utf-8"),
            "--local",
            "--local-dir",
            state.to_str().expect("utf-8"),
        ],
        LIMIT,
    );
    assert_eq!(refused.code(), 2, "stderr: {}", refused.stderr);
    assert!(
        refused.stderr.contains(
            "5000 req/s over 3 workers against `10.255.255.1`, which is neither loopback nor in the scenario's `allowed_targets`: add it there or pass --yes"
        ),
        "{}",
        refused.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!state.exists(), "nothing was started");
    // `plan` only notes it.
    let planned = sls_load(&["plan", file.to_str().expect("utf-8")], LIMIT);
    assert_eq!(planned.code(), 0, "stderr: {}", planned.stderr);
    assert!(
        planned.stdout.contains("`run` will need --yes"),
        "{}",
        planned.stdout
    );
}

#[test]
fn run_with_max_cost_below_the_estimate_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario_file(
        dir.path(),
        "small.yaml",
        &rate_scenario("http://127.0.0.1:9", "10"),
    );
    let state = dir.path().join("state");
    let refused = sls_load(
        &[
            "run",
            file.to_str().expect("utf-8"),
            "--local",
            "--local-dir",
            state.to_str().expect("utf-8"),
            "--max-cost",
            "0",
        ],
        LIMIT,
    );
    assert_eq!(refused.code(), 2, "stderr: {}", refused.stderr);
    assert!(
        refused.stderr.contains("is above --max-cost $0.00"),
        "{}",
        refused.stderr
    );
    assert!(!state.exists(), "nothing was started");
}
