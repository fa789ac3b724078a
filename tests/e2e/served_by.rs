//! `served_by` and `region_header` through the real binaries: a worker sends its
//! region in the configured request header, and every sample carries the
//! backend's `X-Served-Region`, so a threshold can count the requests each
//! backend served.

use std::time::Duration;

use sls_load_e2e::{Target, run_local, scenario_file};

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn samples_are_tagged_with_the_backend_that_served_them() {
    let target = Target::start(&[
        "--region",
        "eu-west-1",
        "--expect-header",
        "X-Client-Region=ap-southeast-1",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "\
target: {}
duration: 3s
regions: {{ ap-southeast-1: 1 }}
served_by: {{ header: X-Served-Region }}
region_header: X-Client-Region
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 10
    requests:
      - {{ name: home, url: / }}
thresholds:
  'http_reqs{{served_by:eu-west-1}}': ['count>=25']
",
        target.url
    );
    let file = scenario_file(dir.path(), "served.yaml", &text);
    let (outcome, summary) = run_local(dir.path(), &file, &[], LIMIT);
    assert_eq!(outcome.code(), 0, "{}", outcome.stderr);
    let summary = summary.expect("summary");
    let sent = summary["total"]["requests"].as_u64().expect("requests");
    let thresholds = summary["thresholds"].as_array().expect("thresholds");
    assert_eq!(
        thresholds[0]["observed"].as_f64(),
        Some(sent as f64),
        "{summary}"
    );
    assert!(thresholds.iter().all(|t| t["ok"] == true), "{summary}");
    let stats = target.stats();
    assert_eq!(stats["requests"].as_u64(), Some(sent));
    assert_eq!(stats["expected_headers"][0].as_u64(), Some(sent), "{stats}");
}
