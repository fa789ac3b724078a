//! Tests of `summary::build`: the specification of what it owns.

use super::*;

#[test]
fn phase_timings_appear_only_when_the_logs_carry_them() {
    let mut s = Stats::default();
    assert_eq!(figures(&s, 1.0).timings_ms, None);
    let json = serde_json::to_string(&figures(&s, 1.0)).expect("serializes");
    assert!(!json.contains("timings_ms"), "{json}");

    let mut waiting = s.duration.clone();
    waiting.record(2_000).expect("records");
    s.timings[4] = Some(waiting);
    let t = figures(&s, 1.0).timings_ms.expect("timings");
    assert_eq!(t.waiting.p50, 2.0);
    assert_eq!(t.connecting.max, 0.0);
    let json = serde_json::to_value(figures(&s, 1.0)).expect("serializes");
    assert_eq!(json["timings_ms"]["waiting"]["p99"], 2.0);
    let back: Figures = serde_json::from_value(json).expect("parses");
    assert_eq!(back.timings_ms, Some(t));
}

const THRESHOLDS: &str = r#"
target: http://127.0.0.1:9
duration: 10s
regions: [us-east-1, eu-west-1]
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 10
    requests:
      - { name: home, url: / }
thresholds:
  http_req_waiting{region:eu-west-1}: ["p(95)<5", "max<1"]
  http_req_connecting{name:home}: ["max<5"]
  http_req_duration{status:200}: ["p(95)<5"]
  http_reqs{method:GET}: ["count==3"]
  http_req_failed{expected_response:false}: ["rate==1"]
  checks{check:is 200}: ["rate>0.7"]
  checks: ["rate>0.99"]
  http_req_blocked{scenario:browse}: ["max<1"]
  iterations{scenario:browse}: ["count==2"]
  iteration_duration: ["max<1"]
  data_received: ["count>=5000"]
  data_sent{method:GET}: ["count<100"]
  vus_max: ["value<=100"]
  vus{region:eu-west-1}: ["max>=5", "min>=1"]
"#;

#[test]
fn thresholds_on_phases_and_log_tags_are_judged_on_their_scopes() {
    use sls_load_core::job::CheckCounts;
    let scenario =
        sls_load_plan::scenario::parse(std::path::Path::new("t.yaml"), THRESHOLDS.as_bytes())
            .expect("parses");
    let options = sls_load_plan::testing::options();
    let mut collected =
        Collected::new(sls_load_plan::plan::plan(&scenario, &options).expect("plans"));
    let mut merged = Merged::default();
    let hist = |values_us: &[u64]| {
        let mut h = merged.total.duration.clone();
        for v in values_us {
            h.record(*v).expect("records");
        }
        h
    };
    let scope = |values_us: &[u64], errored: u64| Stats {
        duration: hist(values_us),
        errored,
        timings: std::array::from_fn(|_| Some(hist(values_us))),
        ..Stats::default()
    };
    let tagged = [
        ("region", "eu-west-1", scope(&[2_000, 3_000], 0)),
        ("status", "200", scope(&[2_000, 3_000], 0)),
        ("method", "GET", scope(&[2_000, 3_000], 1)),
        ("expected_response", "false", scope(&[], 1)),
        ("scenario", "browse", scope(&[500], 0)),
    ];
    for (k, v, s) in tagged {
        merged.tagged.insert((k.into(), v.into()), s);
    }
    merged.requests.insert("home".into(), scope(&[4_000], 0));
    merged.total.iterations = Some(hist(&[700, 1_500]));
    let browse = ("scenario".to_owned(), "browse".to_owned());
    merged.tagged.entry(browse).or_default().iterations = Some(hist(&[700, 1_500]));
    let counts = CheckCounts {
        passes: 3,
        fails: 1,
    };
    merged.checks.insert("is 200".into(), counts);
    merged.total.data_received = 6_000;
    let get = ("method".to_owned(), "GET".to_owned());
    merged.tagged.entry(get).or_default().data_sent = 300;
    merged.total.vus_max = [(0, 40), (1, 60), (2, 60)].into();
    merged.total.vus = [(0, 10), (1, 30), (2, 0)].into();
    let eu = ("region".to_owned(), "eu-west-1".to_owned());
    merged.tagged.entry(eu).or_default().vus = [(0, 4), (1, 7)].into();
    collected.merged = merged;
    let summary = Summary::build(&collected, Ending::default());
    assert_eq!(summary.total.data_received, 6_000);
    let gauge = |value, min, max| Some(GaugeFigures { value, min, max });
    assert_eq!(summary.vus, gauge(0, 0, 30));
    assert_eq!(summary.vus_max, gauge(60, 40, 60));
    let verdicts: Vec<_> = summary
        .thresholds
        .iter()
        .map(|t| (format!("{} {}", t.metric, t.expr), t.ok, t.observed))
        .collect();
    let want = [
        (
            "http_req_waiting{region:eu-west-1} p(95)<5",
            true,
            Some(3.0),
        ),
        ("http_req_waiting{region:eu-west-1} max<1", false, Some(3.0)),
        ("http_req_connecting{name:home} max<5", true, Some(4.0)),
        ("http_req_duration{status:200} p(95)<5", true, Some(3.0)),
        ("http_reqs{method:GET} count==3", true, Some(3.0)),
        (
            "http_req_failed{expected_response:false} rate==1",
            true,
            Some(1.0),
        ),
        ("checks{check:is 200} rate>0.7", true, Some(0.75)),
        ("checks rate>0.99", false, Some(0.75)),
        ("http_req_blocked{scenario:browse} max<1", true, Some(0.5)),
        ("iterations{scenario:browse} count==2", true, Some(2.0)),
        ("iteration_duration max<1", false, Some(1.5)),
        ("data_received count>=5000", true, Some(6000.0)),
        ("data_sent{method:GET} count<100", false, Some(300.0)),
        ("vus_max value<=100", true, Some(60.0)),
        ("vus{region:eu-west-1} max>=5", true, Some(7.0)),
        ("vus{region:eu-west-1} min>=1", true, Some(4.0)),
    ];
    for (got, want) in verdicts.iter().zip(want) {
        assert_eq!(got.0, want.0);
        assert_eq!(
            (got.1, got.2.map(|v| (v * 100.0).round() / 100.0)),
            (want.1, want.2),
            "{}",
            want.0
        );
    }
    assert_eq!(verdicts.len(), 16);
}

#[test]
fn dns_markers_show_each_regions_first_answer_and_changes_once() {
    let scenario =
        sls_load_plan::scenario::parse(std::path::Path::new("t.yaml"), THRESHOLDS.as_bytes())
            .expect("parses");
    let mut collected = Collected::new(
        sls_load_plan::plan::plan(&scenario, &sls_load_plan::testing::options()).expect("plans"),
    );
    let start = collected.plan.start_at;
    let at =
        |secs: u64| humantime::format_rfc3339_millis(start + Duration::from_secs(secs)).to_string();
    let manifest = |worker: usize, answers: &[(u64, &str)]| -> Manifest {
        serde_json::from_value(serde_json::json!({
            "format": 1, "run_id": "r1", "region": "eu-west-1",
            "worker_id": WorkerId::numbered(worker), "init_duration": null,
            "invoked_at": at(0), "start_at": at(0), "first_request_at": null,
            "finished_at": at(20), "dropped_iterations": 0, "requests": {},
            "latency_logs": 0,
            "resolutions": answers.iter().map(|(t, ip)| serde_json::json!({
                "at": at(*t), "host": "target.test", "addresses": [ip]
            })).collect::<Vec<_>>(),
        }))
        .expect("manifest")
    };
    // Two workers see the same first answer and the same change.
    for (n, answers) in [
        (0, vec![(0, "127.0.0.1"), (5, "127.0.0.2")]),
        (1, vec![(0, "127.0.0.1"), (6, "127.0.0.2")]),
    ] {
        let m = manifest(n, &answers);
        collected
            .manifests
            .insert((m.region.clone(), m.worker_id.clone()), m);
    }
    let markers = dns_markers(&collected);
    let shown: Vec<(f64, &str, &str)> = markers
        .iter()
        .map(|m| (m.t, m.kind.as_str(), m.label.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            (0.0, "dns", "target.test → 127.0.0.1 (eu-west-1)"),
            (5.0, "dns", "target.test → 127.0.0.2 (eu-west-1)"),
        ]
    );
}

#[test]
fn markers_name_each_slice_hand_over_and_how_a_stopped_run_ended() {
    let yaml = THRESHOLDS.replace("duration: 10s", "duration: 25s");
    let scenario = sls_load_plan::scenario::parse(std::path::Path::new("t.yaml"), yaml.as_bytes())
        .expect("parses");
    let mut options = sls_load_plan::testing::options();
    options.max_slice = Duration::from_secs(10);
    let collected = Collected::new(sls_load_plan::plan::plan(&scenario, &options).expect("plans"));
    let summary = Summary::build(&collected, Ending::default());
    let marks = |s: &Summary| {
        s.markers
            .iter()
            .map(|m| (m.t, m.kind.clone(), m.label.clone()))
            .collect::<Vec<_>>()
    };
    let slices = vec![
        (10.0, "slice".to_owned(), "slice 2".to_owned()),
        (20.0, "slice".to_owned(), "slice 3".to_owned()),
    ];
    assert_eq!(marks(&summary), slices);

    let aborted = Ending {
        interrupted: true,
        aborted_by: Some("http_req_duration p(95)<1".into()),
        ..Ending::default()
    };
    let summary = Summary::build(&collected, aborted);
    assert!(summary.interrupted);
    let abort = (
        0.0,
        "abort".to_owned(),
        "http_req_duration p(95)<1".to_owned(),
    );
    assert_eq!(marks(&summary), [vec![abort], slices.clone()].concat());

    let interrupted = Ending {
        interrupted: true,
        ..Ending::default()
    };
    let summary = Summary::build(&collected, interrupted);
    let stop = (0.0, "stop".to_owned(), "stopped".to_owned());
    assert_eq!(marks(&summary), [vec![stop], slices].concat());
}
