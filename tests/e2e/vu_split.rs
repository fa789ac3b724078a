//! A small VU count over several regions: largest remainder gives the VUs to the
//! largest regions, and a region left without a VU gets no worker at all.

use std::time::Duration;

use sls_load_e2e::{Target, run_local, scenario_file};

const LIMIT: Duration = Duration::from_secs(90);

#[test]
fn two_vus_over_three_regions_run_in_the_two_largest_and_invoke_nothing_in_the_third() {
    let target = Target::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = scenario_file(
        dir.path(),
        "vu-split.yaml",
        &format!(
            r#"
target: {}
duration: 2s
regions: {{ us-east-1: 0.5, eu-west-1: 0.3, ap-southeast-1: 0.2 }}
scenarios:
  users:
    executor: constant-vus
    vus: 2
    requests:
      - {{ name: home, method: GET, url: /, sleep: 100ms }}
"#,
            target.url
        ),
    );
    let (outcome, summary) = run_local(dir.path(), &scenario, &[], LIMIT);
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    let s = summary.expect("a summary");
    let at_target = target.requests();
    let requests = |region: &str| s["regions"][region]["requests"].as_u64().unwrap_or(0);
    let planned = |region: &str| &s["workers"]["regions"][region]["planned"];
    // Every request the target saw was sent from the two largest regions.
    assert!(at_target > 0, "the target saw nothing");
    assert_eq!(s["total"]["requests"].as_u64(), Some(at_target));
    assert!(requests("us-east-1") > 0, "{}", s["regions"]);
    assert!(requests("eu-west-1") > 0, "{}", s["regions"]);
    assert_eq!(requests("us-east-1") + requests("eu-west-1"), at_target);
    assert_eq!(requests("ap-southeast-1"), 0, "{}", s["regions"]);
    // No worker was planned, invoked or billed where no VU runs.
    assert_eq!(s["workers"]["planned"], 2, "{}", s["workers"]);
    assert_eq!(s["workers"]["reported"], 2, "{}", s["workers"]);
    assert_eq!(*planned("us-east-1"), 1);
    assert_eq!(*planned("eu-west-1"), 1);
    assert_eq!(*planned("ap-southeast-1"), 0);
}
