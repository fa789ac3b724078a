//! The versioned tag scheme seen from the command line (issue 11): a run whose
//! target fails a fifth of its requests judges thresholds on k6's built-in
//! metrics with the interval logs' tags (`status`, `region`, `check`,
//! `scenario`), and the
//! figures they observe are the ones the target counted.
//!
//! It does not test the tag encoding itself (core's `tag` module does) or the
//! merge's scopes (the orchestrator's `merge` and `summary` tests do).

use std::time::Duration;

use sls_load_e2e::{Target, read_json, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(90);

#[test]
fn thresholds_on_tags_are_judged_with_what_the_target_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&["--error-rate", "0.2"]);
    let scenario = scenario_file(
        dir.path(),
        "tags.yaml",
        &format!(
            r#"
target: {}
duration: 2s
regions: {{ us-east-1: 0.5, eu-west-1: 0.5 }}
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 25
    requests:
      - name: home
        method: GET
        url: /
        checks:
          - {{ name: is 200, status: 200 }}
thresholds:
  http_reqs: ["count>0"]
  "http_reqs{{status:200}}": ["count>0"]
  "http_req_duration{{status:200}}": ["p(95)<5000"]
  "http_req_waiting{{region:us-east-1}}": ["p(95)<5000"]
  "http_req_failed{{expected_response:false}}": ["rate==1"]
  "checks{{check:is 200}}": ["rate>0"]
  iterations: ["count>0"]
  "iteration_duration{{scenario:browse}}": ["p(95)<5000"]
"#,
            target.url
        ),
    );
    let path = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_owned();
    let export = path("summary.json");
    let outcome = sls_load(
        &[
            "run",
            scenario.to_str().expect("utf-8"),
            "--local",
            "--local-dir",
            &path("state"),
            "--quiet",
            "--summary-export",
            &export,
        ],
        LIMIT,
    );
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    let stats = target.stats();
    let sent = stats["requests"].as_u64().expect("requests");
    let ok = stats["by_status"]["200"].as_u64().expect("some 200s");
    assert!(ok < sent, "the target failed some requests: {stats}");

    let summary = read_json(std::path::Path::new(&export));
    let thresholds = summary["thresholds"].as_array().expect("thresholds");
    let observed = |metric: &str| {
        let t = thresholds
            .iter()
            .find(|t| t["metric"] == metric)
            .unwrap_or_else(|| panic!("{metric} judged: {thresholds:?}"));
        assert_eq!(t["ok"], true, "{t}");
        t["observed"]
            .as_f64()
            .unwrap_or_else(|| panic!("{metric} has data: {t}"))
    };
    assert_eq!(observed("http_reqs"), sent as f64);
    assert_eq!(observed("http_reqs{status:200}"), ok as f64);
    assert!(observed("http_req_duration{status:200}") > 0.0);
    assert!(observed("http_req_waiting{region:us-east-1}") > 0.0);
    assert_eq!(observed("http_req_failed{expected_response:false}"), 1.0);
    // One request per iteration: as many iterations as the target saw requests.
    assert_eq!(observed("iterations"), sent as f64);
    assert!(observed("iteration_duration{scenario:browse}") > 0.0);
    let rate = observed("checks{check:is 200}");
    assert!(
        (rate - ok as f64 / sent as f64).abs() < 1e-9,
        "{rate} vs {ok}/{sent}"
    );
}
