//! Local network profiles: a client region given a 100 ms round trip answers
//! 100 ms slower at the median than one given none, and `--no-network-profiles`
//! sends every region straight to the target again. Every request still reaches
//! the target once (the proxies only delay).

use std::time::Duration;

use sls_load_e2e::{Target, alone, run_local, scenario_file};

const LIMIT: Duration = Duration::from_secs(120);

fn scenario(target: &str) -> String {
    format!(
        "\
target: {target}
duration: 4s
regions: {{ us-east-1: 0.5, eu-west-1: 0.5 }}
network:
  eu-west-1: {{ rtt: 100ms, jitter: 0ms }}
  us-east-1: {{ rtt: 0s }}
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 20
    requests:
      - {{ name: home, url: / }}
"
    )
}

fn p50(summary: &serde_json::Value, region: &str) -> f64 {
    summary["regions"][region]["latency_ms"]["p50"]
        .as_f64()
        .unwrap_or_else(|| panic!("p50 of {region}: {summary}"))
}

#[test]
fn a_region_with_a_100ms_profile_is_100ms_slower_at_the_median() {
    let _alone = alone();
    let target = Target::start(&["--delay", "2ms"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario_file(dir.path(), "net.yaml", &scenario(&target.url));

    let (outcome, summary) = run_local(dir.path(), &file, &[], LIMIT);
    assert_eq!(outcome.code(), 0, "{}", outcome.stderr);
    let summary = summary.expect("summary");
    let (eu, us) = (p50(&summary, "eu-west-1"), p50(&summary, "us-east-1"));
    assert!(
        eu >= us + 100.0,
        "eu-west-1 p50 {eu} ms, us-east-1 p50 {us} ms"
    );
    assert_eq!(summary["total"]["errors"], 0, "{summary}");
    let sent = summary["total"]["requests"].as_u64().expect("requests");
    assert_eq!(
        target.requests(),
        sent,
        "every request reached the target once"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario_file(dir.path(), "net.yaml", &scenario(&target.url));
    let (outcome, summary) = run_local(dir.path(), &file, &["--no-network-profiles"], LIMIT);
    assert_eq!(outcome.code(), 0, "{}", outcome.stderr);
    let summary = summary.expect("summary");
    let eu = p50(&summary, "eu-west-1");
    assert!(eu < 50.0, "without profiles eu-west-1 p50 is {eu} ms");
}
