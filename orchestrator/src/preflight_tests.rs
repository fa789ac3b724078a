//! Unit tests of [`super`]: each preflight check and the guard, on scenarios
//! parsed from YAML and planned as `plan` plans them.

use std::path::Path;
use std::time::{Duration, SystemTime};

use sls_load_core::job::{ResultsLocation, RunId};

use super::*;
use sls_load_plan::plan::{Arch, DEFAULT_MAX_SLICE, PlanOptions};

fn parse(text: &str) -> Scenario {
    match sls_load_plan::scenario::parse(Path::new("t.yaml"), text.as_bytes()) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn rate(target: &str, rate: f64, extra: &str) -> Scenario {
    parse(&format!(
        "target: {target}\nduration: 10s\n{extra}scenarios:\n  s:\n    executor: constant-arrival-rate\n    rate: {rate}\n    requests: [{{ name: home, url: / }}]\n"
    ))
}

fn vus(count: u32, duration: &str) -> Scenario {
    parse(&format!(
        "target: http://127.0.0.1:1\nduration: {duration}\nregions: {{ us-east-1: 30, eu-west-1: 25, ap-southeast-1: 20 }}\nscenarios:\n  s:\n    executor: ramping-vus\n    start_vus: 0\n    stages: [{{ duration: 5m, target: {count} }}, {{ duration: 10m, target: {count} }}, {{ duration: 5m, target: 0 }}]\n    requests: [{{ name: home, url: / }}]\n"
    ))
}

fn plan_of(scenario: &Scenario, workers: Option<usize>, memory_mb: u32) -> Plan {
    let opts = PlanOptions {
        run_id: RunId::new("r").unwrap(),
        now: SystemTime::UNIX_EPOCH,
        lead: Duration::from_secs(10),
        regions: None,
        workers,
        results: ResultsLocation {
            bucket: "b".into(),
            region: Region::us_east_1(),
        },
        flush_every: Duration::from_secs(10),
        max_slice: DEFAULT_MAX_SLICE,
        memory_mb,
        arch: Arch::X86_64,
    };
    sls_load_plan::plan::plan(scenario, &opts).unwrap()
}

#[test]
fn memory_must_be_within_lambdas_range() {
    assert_eq!(check_memory(127), Err(PreflightError::Memory(127)));
    assert_eq!(check_memory(10_241), Err(PreflightError::Memory(10_241)));
    assert!(check_memory(128).is_ok() && check_memory(10_240).is_ok());
    assert!(
        check_memory(0)
            .unwrap_err()
            .to_string()
            .contains("128 to 10240 MB")
    );
}

#[test]
fn two_million_vus_over_three_regions_need_more_than_the_default_quota() {
    let s = vus(2_000_000, "20m");
    let plan = plan_of(&s, None, 1769);
    let needed = plan.concurrency_needed();
    // 2,000,000 VUs at 900 per worker, 30/25/20, two slices: twice the slots.
    assert_eq!(needed[&Region::us_east_1()], 2 * 889);
    check_plan(&s, &plan).unwrap();
    let notes = concurrency_notes(&needed, None);
    assert_eq!(notes.len(), 4, "{notes:?}");
    assert!(
        notes[0].contains("ask AWS for a Lambda concurrency quota of"),
        "{}",
        notes[0]
    );
    assert!(
        notes[0].contains("Lambda's default 1000 is not enough"),
        "{}",
        notes[0]
    );
    assert!(
        notes[3].contains("new accounts may have less"),
        "{}",
        notes[3]
    );
}

#[test]
fn the_accounts_figure_replaces_the_default_when_known() {
    let needed = BTreeMap::from([(Region::us_east_1(), 1_500)]);
    let known = BTreeMap::from([(Region::us_east_1(), 3_000)]);
    assert!(concurrency_notes(&needed, Some(&known)).is_empty());
    let known = BTreeMap::from([(Region::us_east_1(), 1_000)]);
    let notes = concurrency_notes(&needed, Some(&known));
    assert_eq!(
        notes,
        vec![
            "us-east-1 needs 1500 concurrent executions; the account's 1000 is not enough: ask AWS for a Lambda concurrency quota of 1500 in us-east-1, or lower the load"
        ]
    );
    assert_eq!(
        concurrency_notes(&BTreeMap::from([(Region::us_east_1(), 10)]), None).len(),
        1
    );
}

#[test]
fn too_few_workers_for_the_vus_is_refused_naming_enough_workers() {
    let s = vus(10_000, "20m");
    let err = check_plan(&s, &plan_of(&s, Some(3), 1769)).unwrap_err();
    let PreflightError::Connections {
        per_worker,
        workers,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert!(*per_worker > 900, "{err}");
    assert_eq!(*workers, 12, "{err}");
    assert!(
        err.to_string().contains("use --workers 12 or more"),
        "{err}"
    );
    let enough = plan_of(&s, Some(12), 1769);
    check_plan(&s, &enough).unwrap();
}

#[test]
fn an_invoke_payload_above_256_kb_is_refused() {
    let s = rate("http://127.0.0.1:1", 10.0, "");
    let mut plan = plan_of(&s, None, 1769);
    check_plan(&s, &plan).unwrap();
    plan.jobs[0].scenarios[0].requests[0]
        .headers
        .insert("x-big".into(), "a".repeat(MAX_INVOKE_PAYLOAD));
    let err = check_plan(&s, &plan).unwrap_err();
    assert!(matches!(err, PreflightError::Payload { bytes, .. } if bytes > MAX_INVOKE_PAYLOAD));
    assert!(err.to_string().contains("256 KB"), "{err}");
}

#[test]
fn max_cost_refuses_an_estimate_above_it() {
    let s = rate("http://127.0.0.1:1", 10.0, "");
    let plan = plan_of(&s, None, 1769);
    let cost = sls_load_plan::cost::estimate(&plan, None);
    assert!(check_cost(&cost, None).is_ok());
    assert!(check_cost(&cost, Some(cost.usd)).is_ok());
    let err = check_cost(&cost, Some(cost.usd / 2.0)).unwrap_err();
    assert!(err.to_string().starts_with("estimated cost $"), "{err}");
}

#[test]
fn a_worker_asked_for_more_than_it_can_send_is_noted() {
    let s = rate("http://127.0.0.1:1", 100_000.0, "");
    assert!(rate_notes(&s, &plan_of(&s, None, 1769)).is_empty());
    let notes = rate_notes(&s, &plan_of(&s, Some(2), 1769));
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("50000 req/s per worker"), "{}", notes[0]);
    assert!(notes[0].contains("5 or more"), "{}", notes[0]);
}

#[test]
fn target_hosts_are_read_from_base_urls() {
    assert_eq!(target_host("http://Example.COM:8080"), "example.com");
    assert_eq!(target_host("https://[::1]:443"), "::1");
    assert_eq!(target_host("http://10.255.255.1"), "10.255.255.1");
    assert!(is_loopback("127.0.0.1") && is_loopback("127.9.9.9") && is_loopback("::1"));
    assert!(is_loopback("localhost") && !is_loopback("10.255.255.1"));
}

const LATENCY: std::time::Duration = sls_load_plan::estimate::DEFAULT_EXPECT_LATENCY;

#[test]
fn a_big_closed_model_run_is_weighed_by_its_estimated_rate() {
    let text = "target: http://10.255.255.1\nduration: 10m\nscenarios:\n  crowd:\n    executor: constant-vus\n    vus: 20000\n    requests:\n      - { name: home, url: /, sleep: { min: 3s, max: 7s } }\n";
    let s = sls_load_plan::scenario::parse(std::path::Path::new("t.yaml"), text.as_bytes())
        .expect("parses");
    let err = check_target(&s, 2, false, LATENCY).unwrap_err();
    assert_eq!(
        err.to_string(),
        "3922 req/s (estimated: 20000 VUs, their think time and 100ms per response assumed, --expect-latency) over 2 workers against `10.255.255.1`, which is neither loopback nor in the scenario's `allowed_targets`: add it there or pass --yes"
    );
    // Slow enough answers bring it under the guard's rate.
    assert!(check_target(&s, 2, false, std::time::Duration::from_secs(20)).is_ok());
}

#[test]
fn a_big_run_at_a_foreign_host_needs_yes_or_allowed_targets() {
    let s = rate("http://10.255.255.1", 2_000.0, "");
    let err = check_target(&s, 2, false, LATENCY).unwrap_err();
    assert_eq!(
        err.to_string(),
        "2000 req/s over 2 workers against `10.255.255.1`, which is neither loopback nor in the scenario's `allowed_targets`: add it there or pass --yes"
    );
    assert!(check_target(&s, 2, true, LATENCY).is_ok());
    // Many workers count as much as a high rate.
    let small = rate("http://10.255.255.1", 10.0, "");
    assert!(check_target(&small, 100, false, LATENCY).is_ok());
    assert!(check_target(&small, 101, false, LATENCY).is_err());
    let allowed = rate(
        "http://Staging.example:80",
        2_000.0,
        "allowed_targets: [staging.EXAMPLE]\n",
    );
    assert_eq!(allowed.allowed_targets, vec!["staging.example"]);
    assert!(check_target(&allowed, 2, false, LATENCY).is_ok());
    let local = rate("http://127.0.0.1:1", 2_000.0, "");
    assert!(check_target(&local, 500, false, LATENCY).is_ok());
}
