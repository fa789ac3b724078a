//! For tests of this and other crates (feature `testing`): a made-up summary.

use std::collections::BTreeMap;

use crate::summary::{
    CheckFigures, Figures, GaugeFigures, Latency, Summary, ThresholdResult, Workers,
};

fn figures(requests: u64, errors: u64, p95: f64) -> Figures {
    Figures {
        requests,
        errors,
        rps: requests as f64 / 6.0,
        latency_ms: Latency {
            avg: 1.5,
            min: 0.4,
            p50: 1.2,
            p90: 2.0,
            p95,
            p99: 7.5,
            p99_9: 8.0,
            max: 9.1,
        },
        data_sent: requests * 100,
        data_received: requests * 1_000,
        timings_ms: None,
        errors_by_class: BTreeMap::new(),
    }
}

/// A summary with 2 checks (one failing) and 3 thresholds (one crossed).
pub fn sample_summary() -> Summary {
    let threshold = |metric: &str, expr: &str, ok, observed| ThresholdResult {
        metric: metric.into(),
        expr: expr.into(),
        ok,
        observed: Some(observed),
    };
    Summary {
        format: crate::summary::SUMMARY_FORMAT,
        run_id: "sample-run"
            .parse()
            .unwrap_or_else(|_| unreachable!("`sample-run` is a run id")),
        scenario_file: "scenario.yaml".into(),
        start_at: "2026-11-27T17:05:58.466Z".into(),
        duration_s: 6.0,
        planned_duration_s: None,
        total: figures(1_210, 12, 6.917),
        regions: [("us-east-1".to_owned(), figures(1_210, 12, 6.917))].into(),
        requests: [("home".to_owned(), figures(600, 2, 3.0))].into(),
        workers: Workers {
            planned: 1,
            reported: 1,
            missing: vec![],
            problems: vec![],
            start_skew_ms: None,
            late: vec![],
            init_ms: None,
            cold_starts: 0,
            invoke_to_start_ms: None,
            regions: BTreeMap::new(),
        },
        dropped_iterations: 3,
        errors_by_class: BTreeMap::new(),
        checks: [
            ("is 200".to_owned(), (1_210, 0, 1.0)),
            ("says ok".to_owned(), (1_203, 7, 0.994)),
        ]
        .into_iter()
        .map(|(name, (passes, fails, rate))| {
            let c = CheckFigures {
                passes,
                fails,
                rate,
            };
            (name, c)
        })
        .collect(),
        cost: sls_load_plan::cost::Cost {
            usd: 0.0,
            lambda_compute_usd: 0.0,
            lambda_requests_usd: 0.0,
            s3_usd: 0.0,
            gb_seconds: 0.0,
            invocations: 1,
            s3_requests: sls_load_plan::cost::S3Requests::default(),
            usd_per_million_requests: None,
        },
        timeline: vec![],
        thresholds: vec![
            threshold("http_req_duration", "p(95)<1", false, 6.917),
            threshold("http_req_failed", "rate<0.5", true, 12.0 / 1210.0),
            threshold("http_req_duration{name:home}", "p(95)<500", true, 3.0),
        ],
        interrupted: false,
        aborted_by: None,
        series: Default::default(),
        spectrum: BTreeMap::new(),
        markers: vec![],
        vus: Some(GaugeFigures {
            value: 0,
            min: 0,
            max: 40,
        }),
        vus_max: Some(GaugeFigures {
            value: 50,
            min: 10,
            max: 50,
        }),
        iterations: 605,
        iteration_duration_ms: Some(Latency {
            avg: 3.5,
            min: 1.0,
            p50: 3.0,
            p90: 5.0,
            p95: 6.0,
            p99: 9.0,
            p99_9: 9.5,
            max: 10.0,
        }),
        events: vec![],
        drill: None,
        paused_iterations: 0,
        cloud: None,
        metrics: Default::default(),
        group_checks: Default::default(),
        exceptions: Default::default(),
    }
}
