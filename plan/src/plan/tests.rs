//! Tests of `plan`: the specification of what it owns.

use super::*;
use crate::scenario::{ExecutorDef, ScenarioDef};
use sls_load_core::job::{Executor, RequestSpec};
use std::path::PathBuf;

fn scenario(rate: f64, regions: &[(&str, f64)]) -> Scenario {
    Scenario {
        file: PathBuf::from("t.yaml"),
        target: "http://127.0.0.1:1".into(),
        duration: Duration::from_secs(10),
        regions: regions
            .iter()
            .map(|(r, w)| (Region::new(*r).unwrap(), *w))
            .collect(),
        request_timeout: Duration::from_secs(60),
        worker_rate: 100.0,
        scenarios: vec![ScenarioDef {
            name: "s".into(),
            executor: ExecutorDef::ConstantArrivalRate {
                rate,
                time_unit: Duration::from_secs(1),
            },
            pre_allocated_vus: None,
            max_vus: None,
            requests: vec![RequestSpec {
                name: "home".into(),
                method: "GET".into(),
                url: "/".into(),
                headers: Default::default(),
                body: None,
                expect_status: None,
                ..RequestSpec::default()
            }],
            start_time: Duration::ZERO,
            duration: None,
            arrivals: Default::default(),
            data: None,
            graceful_stop: Duration::ZERO,
        }],
        thresholds: vec![],
        http: Default::default(),
        allowed_targets: vec![],
        network: Default::default(),
        notices: vec![],
        events: vec![],
        drill: Default::default(),
        script: None,
    }
}

use crate::testing::options as opts;

fn rates(plan: &Plan) -> f64 {
    plan.jobs
        .iter()
        .map(|j| match j.scenarios[0].executor {
            Executor::ConstantArrivalRate { rate, .. } => rate,
            _ => unreachable!("the test plans constant-arrival-rate only"),
        })
        .sum()
}

#[test]
fn a_stored_plan_naming_a_worker_outside_its_directory_is_refused_when_read() {
    let s = scenario(100.0, &[("us-east-1", 1.0)]);
    let json = serde_json::to_string(&plan(&s, &opts()).unwrap()).unwrap();
    assert!(serde_json::from_str::<Plan>(&json).is_ok());
    let crafted = json.replace("\"w0000\"", "\"../w1\"");
    assert_ne!(crafted, json);
    let err = serde_json::from_str::<Plan>(&crafted).unwrap_err();
    assert!(
        err.to_string().contains("worker id `../w1` is not valid"),
        "{err}"
    );
}

#[test]
fn region_weights_split_the_rate_and_worker_rate_sets_the_worker_count() {
    let s = scenario(
        300.0,
        &[
            ("us-east-1", 0.5),
            ("eu-west-1", 0.3),
            ("ap-southeast-1", 0.2),
        ],
    );
    let p = plan(&s, &opts()).unwrap();
    let workers: Vec<usize> = p.regions.iter().map(|r| r.workers.len()).collect();
    assert_eq!(workers, vec![2, 1, 1]);
    assert!((rates(&p) - 300.0).abs() < 1e-9);
    assert!((p.regions[1].rate - 90.0).abs() < 1e-9);
    assert_eq!(p.start_at, SystemTime::UNIX_EPOCH + Duration::from_secs(2));
    assert!(p.jobs.iter().all(|j| j.start_at == p.start_at));
}

#[test]
fn regions_flag_picks_a_subset_and_renormalises() {
    let s = scenario(
        100.0,
        &[
            ("us-east-1", 0.5),
            ("eu-west-1", 0.3),
            ("ap-southeast-1", 0.2),
        ],
    );
    let mut o = opts();
    o.regions = Some(vec![
        (Region::new("eu-west-1").unwrap(), None),
        (Region::new("ap-southeast-1").unwrap(), None),
    ]);
    let p = plan(&s, &o).unwrap();
    assert_eq!(p.regions.len(), 2);
    assert!((p.regions[0].weight - 0.6).abs() < 1e-9);
    assert!((rates(&p) - 100.0).abs() < 1e-9);
    o.regions = Some(vec![
        (Region::new("eu-west-1").unwrap(), None),
        (Region::new("eu-west-1").unwrap(), None),
    ]);
    assert_eq!(
        plan(&s, &o).unwrap_err(),
        PlanError::RepeatedRegion("eu-west-1".into())
    );
}

fn pick(zones: &[(&str, Option<f64>)]) -> Option<Vec<(Region, Option<f64>)>> {
    Some(
        zones
            .iter()
            .map(|(r, w)| (Region::new(*r).unwrap(), *w))
            .collect(),
    )
}

fn weights(p: &Plan) -> Vec<(String, f64)> {
    p.regions
        .iter()
        .map(|r| (r.region.to_string(), (r.weight * 1000.0).round() / 1000.0))
        .collect()
}

#[test]
fn regions_flag_sets_the_zones_of_any_scenario_with_equal_shares_for_unlisted_ones() {
    let s = scenario(90.0, &[("us-east-1", 1.0)]);
    let mut o = opts();
    o.regions = pick(&[
        ("us-east-1", None),
        ("eu-west-1", None),
        ("ap-southeast-1", None),
    ]);
    let p = plan(&s, &o).unwrap();
    assert_eq!(
        weights(&p),
        [
            ("us-east-1".to_owned(), 0.333),
            ("eu-west-1".to_owned(), 0.333),
            ("ap-southeast-1".to_owned(), 0.333)
        ]
    );
    assert!((rates(&p) - 90.0).abs() < 1e-9);
    // A zone the file weighs keeps its weight; the others get the mean share.
    let s = scenario(100.0, &[("us-east-1", 3.0), ("eu-west-1", 1.0)]);
    o.regions = pick(&[
        ("eu-west-1", None),
        ("us-east-1", None),
        ("sa-east-1", None),
    ]);
    let p = plan(&s, &o).unwrap();
    assert_eq!(
        weights(&p),
        [
            ("eu-west-1".to_owned(), 0.167),
            ("us-east-1".to_owned(), 0.5),
            ("sa-east-1".to_owned(), 0.333)
        ]
    );
}

#[test]
fn regions_flag_weights_are_used_as_given_and_renormalised() {
    let s = scenario(100.0, &[("us-east-1", 1.0), ("eu-west-1", 1.0)]);
    let mut o = opts();
    o.regions = pick(&[
        ("us-east-1", Some(50.0)),
        ("eu-west-1", Some(30.0)),
        ("ap-southeast-1", Some(20.0)),
    ]);
    let p = plan(&s, &o).unwrap();
    assert_eq!(
        weights(&p),
        [
            ("us-east-1".to_owned(), 0.5),
            ("eu-west-1".to_owned(), 0.3),
            ("ap-southeast-1".to_owned(), 0.2)
        ]
    );
    let region_rates: Vec<f64> = p.regions.iter().map(|r| r.rate).collect();
    assert_eq!(region_rates.len(), 3);
    assert!((region_rates[2] - 20.0).abs() < 1e-9);
}

#[test]
fn workers_flag_splits_by_weight_with_one_per_region_at_least() {
    let s = scenario(
        60.0,
        &[
            ("us-east-1", 0.5),
            ("eu-west-1", 0.3),
            ("ap-southeast-1", 0.2),
        ],
    );
    let mut o = opts();
    o.workers = Some(7);
    let p = plan(&s, &o).unwrap();
    let workers: Vec<usize> = p.regions.iter().map(|r| r.workers.len()).collect();
    assert_eq!(workers.iter().sum::<usize>(), 7);
    assert!(workers.iter().all(|&w| w >= 1));
    assert!((rates(&p) - 60.0).abs() < 1e-9);
    o.workers = Some(2);
    assert!(matches!(plan(&s, &o), Err(PlanError::TooFewWorkers { .. })));
}

#[test]
fn workers_of_a_region_interleave_their_arrivals() {
    let s = scenario(100.0, &[("us-east-1", 1.0)]);
    let mut o = opts();
    o.workers = Some(4);
    let p = plan(&s, &o).unwrap();
    let offsets: Vec<Duration> = p
        .jobs
        .iter()
        .map(|j| match j.scenarios[0].executor {
            Executor::ConstantArrivalRate { offset, .. } => offset,
            _ => unreachable!("the test plans constant-arrival-rate only"),
        })
        .collect();
    // 25/s per worker: period 40 ms, four workers 10 ms apart.
    assert_eq!(offsets, [0, 10, 20, 30].map(Duration::from_millis).to_vec());
}

fn three_regions_with_vus(vus: u32) -> Scenario {
    let mut s = scenario(
        1.0,
        &[
            ("us-east-1", 0.5),
            ("eu-west-1", 0.3),
            ("ap-southeast-1", 0.2),
        ],
    );
    s.scenarios[0].executor = ExecutorDef::ConstantVus { vus };
    s
}

/// Jobs and VUs per region, in plan order.
fn jobs_and_vus(p: &Plan) -> Vec<(usize, u32)> {
    p.regions
        .iter()
        .map(|r| {
            let jobs: Vec<&Job> = p.jobs.iter().filter(|j| j.region == r.region).collect();
            let vus = jobs
                .iter()
                .map(|j| match j.scenarios[0].executor {
                    Executor::ConstantVus { vus } => vus,
                    _ => unreachable!("the test plans constant-vus only"),
                })
                .sum();
            (jobs.len(), vus)
        })
        .collect()
}

#[test]
fn two_vus_over_three_regions_go_to_the_largest_two_and_no_worker_idles() {
    let p = plan(&three_regions_with_vus(2), &opts()).unwrap();
    assert_eq!(jobs_and_vus(&p), [(1, 1), (1, 1), (0, 0)]);
    assert_eq!(p.worker_count(), 2);
    assert!(p.regions[2].workers.is_empty());
    let p = plan(&three_regions_with_vus(1), &opts()).unwrap();
    assert_eq!(jobs_and_vus(&p), [(1, 1), (0, 0), (0, 0)]);
    // With workers to spare, only those with a VU are planned.
    let mut o = opts();
    o.workers = Some(6);
    let p = plan(&three_regions_with_vus(2), &o).unwrap();
    assert_eq!(jobs_and_vus(&p), [(1, 1), (1, 1), (0, 0)]);
    let p = plan(&three_regions_with_vus(7), &o).unwrap();
    assert_eq!(jobs_and_vus(&p), [(2, 4), (2, 2), (1, 1)]);
}

#[test]
fn a_region_without_vus_in_one_scenario_keeps_its_workers_for_another() {
    let mut s = three_regions_with_vus(2);
    let mut open = s.scenarios[0].clone();
    open.name = "open".into();
    open.executor = ExecutorDef::ConstantArrivalRate {
        rate: 10.0,
        time_unit: Duration::from_secs(1),
    };
    s.scenarios.push(open);
    let p = plan(&s, &opts()).unwrap();
    assert_eq!(jobs_and_vus(&p), [(1, 1), (1, 1), (1, 0)]);
}

#[test]
fn a_scenario_that_sends_nothing_anywhere_is_refused() {
    let mut s = three_regions_with_vus(1);
    s.scenarios[0].executor = ExecutorDef::RampingArrivalRate {
        start_rate: 0.0,
        time_unit: Duration::from_secs(1),
        stages: vec![sls_load_core::job::RateStage {
            duration: Duration::from_secs(10),
            target: 0.0,
        }],
    };
    assert_eq!(plan(&s, &opts()), Err(PlanError::NoLoad));
}

#[test]
fn an_absurd_rate_is_refused_before_anything_is_allocated() {
    // 1e15/s once grew `plan` to 21 GB; now it is one error, at once.
    let err = plan(&scenario(1e15, &[("us-east-1", 1.0)]), &opts()).unwrap_err();
    assert!(matches!(err, PlanError::TooManyWorkers { needed } if needed > 1e12));
    assert!(err.to_string().contains("at most 100000"), "{err}");
    let err = plan(&scenario(1e9, &[("us-east-1", 1.0)]), &opts()).unwrap_err();
    assert!(matches!(err, PlanError::TooManyWorkers { .. }), "{err}");
}

#[test]
fn workers_flag_above_the_limit_is_refused() {
    let mut o = opts();
    o.workers = Some(MAX_WORKERS + 1);
    let err = plan(&scenario(10.0, &[("us-east-1", 1.0)]), &o).unwrap_err();
    assert!(matches!(err, PlanError::TooManyWorkers { .. }), "{err}");
    o.workers = Some(MAX_WORKERS);
    let l = layout(
        &scenario(10.0, &[("us-east-1", 1.0)]),
        None,
        o.workers,
        o.max_slice,
        1024,
    );
    assert_eq!(l.unwrap().worker_count(), MAX_WORKERS);
}

#[test]
fn slots_times_slices_count_against_the_worker_limit() {
    let mut s = scenario(10.0, &[("us-east-1", 1.0)]);
    s.duration = Duration::from_secs(3 * 3600);
    // 60,000 slots × 12 slices of 15 minutes: 720,000 invocations.
    let err = layout(&s, None, Some(60_000), Duration::from_secs(900), 1024).unwrap_err();
    assert!(
        matches!(err, PlanError::TooManyWorkers { needed } if needed == 720_000.0),
        "{err}"
    );
}

#[test]
fn more_than_ten_thousand_slices_are_refused() {
    let mut s = scenario(10.0, &[("us-east-1", 1.0)]);
    s.duration = Duration::from_secs(3 * 3600);
    let err = layout(&s, None, None, Duration::from_secs(1), 1024).unwrap_err();
    assert_eq!(
        err,
        PlanError::TooManySlices {
            slices: 10_800,
            slice: Duration::from_secs(1)
        }
    );
}

#[test]
fn a_duration_over_a_day_is_refused() {
    let mut s = scenario(10.0, &[("us-east-1", 1.0)]);
    s.duration = MAX_DURATION + Duration::from_secs(1);
    let err = layout(&s, None, None, DEFAULT_MAX_SLICE, 1024).unwrap_err();
    assert_eq!(err, PlanError::TooLong(s.duration));
    s.duration = MAX_DURATION;
    assert!(layout(&s, None, None, DEFAULT_MAX_SLICE, 1024).is_ok());
}

#[test]
fn graceful_stop_goes_to_the_last_slice_only_and_extends_the_load_end() {
    let mut s = scenario(10.0, &[("us-east-1", 1.0)]);
    s.duration = Duration::from_secs(25);
    s.request_timeout = Duration::from_secs(2);
    s.scenarios[0].graceful_stop = Duration::from_secs(7);
    let mut o = opts();
    o.max_slice = Duration::from_secs(10);
    let p = plan(&s, &o).expect("plans");
    let grace = |j: &Job| (j.slice, j.scenarios[0].graceful_stop.as_secs());
    let graces: Vec<_> = p.jobs.iter().map(grace).collect();
    assert_eq!(graces, [(0, 0), (1, 0), (2, 7)]);
    assert_eq!(p.load_ends_at(), p.start_at + Duration::from_secs(25 + 7));
    // Without a grace, the drain is the request timeout's.
    s.scenarios[0].graceful_stop = Duration::ZERO;
    let p = plan(&s, &o).expect("plans");
    assert_eq!(p.load_ends_at(), p.start_at + Duration::from_secs(25 + 2));
}

/// A one-region scenario of `vus` constant VUs for 10 s, with `http`.
fn constant_vus(vus: u32, http: sls_load_core::job::HttpOptions) -> Scenario {
    let mut s = scenario(1.0, &[("us-east-1", 1.0)]);
    s.http = http;
    s.scenarios[0].executor = ExecutorDef::ConstantVus { vus };
    s.scenarios[0].pre_allocated_vus = Some(vus);
    s.scenarios[0].max_vus = Some(vus);
    s
}

#[test]
fn vus_sharing_http2_connections_are_planned_by_streams_not_connections() {
    use sls_load_core::job::{HttpOptions, HttpVersionChoice};
    let h1 = HttpOptions::default();
    let h2 = HttpOptions {
        version: HttpVersionChoice::Http2,
        max_streams_per_connection: 100,
        ..HttpOptions::default()
    };
    let workers = |vus, http: &HttpOptions| {
        let p = plan(&constant_vus(vus, http.clone()), &opts()).expect("plans");
        let held: u64 = p
            .jobs
            .iter()
            .map(|j| u64::from(j.scenarios[0].max_vus))
            .sum();
        assert_eq!(held, u64::from(vus), "every VU has a worker");
        p.worker_count()
    };
    // 2,000 VUs: three workers of 900 connections, or one of 20 shared ones.
    assert_eq!((workers(2_000, &h1), workers(2_000, &h2)), (3, 1));
    // 20,000 VUs: 23 workers, or two of 10,000 VUs (100 connections) each.
    assert_eq!((workers(20_000, &h1), workers(20_000, &h2)), (23, 2));
    // `auto` may fall back to HTTP/1.1: sized by connections.
    let auto = HttpOptions {
        version: HttpVersionChoice::Auto,
        ..h2.clone()
    };
    assert_eq!(workers(20_000, &auto), 23);
}
