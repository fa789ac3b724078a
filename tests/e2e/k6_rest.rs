//! The rest of k6's built-in metrics seen from the command line (issue 11):
//! `data_sent` / `data_received` against a target that answers a known body
//! size, judged and reported with what the target counted; `gracefulStop`
//! letting an iteration in progress at the end send its last step, counted at
//! the target.
//!
//! It does not test how the client counts bytes (the worker's client tests do)
//! or the merge's scopes (the orchestrator's `merge` and `summary` tests do).

use std::time::Duration;

use sls_load_e2e::{Target, run_local, scenario_file};

const LIMIT: Duration = Duration::from_secs(90);

#[test]
fn data_sent_and_received_add_up_to_the_requests_and_bodies_the_target_counted() {
    const BODY: u64 = 1_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&["--body-size", &BODY.to_string()]);
    let scenario = scenario_file(
        dir.path(),
        "data.yaml",
        &format!(
            r#"
target: {}
duration: 2s
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 20
    requests:
      - {{ name: home, method: GET, url: /data }}
thresholds:
  data_received: ["count>=1000"]
  "data_sent{{name:home}}": ["rate>0"]
"#,
            target.url
        ),
    );
    let (outcome, summary) = run_local(dir.path(), &scenario, &[], LIMIT);
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    let summary = summary.expect("a summary");
    let requests = target.requests();
    assert!(requests > 0);
    let total = &summary["total"];
    let figure = |key: &str| {
        total[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {total}"))
    };
    let (sent, received) = (figure("data_sent"), figure("data_received"));

    // Every request is the same bytes: at least its request line and host header.
    let authority = target.url.trim_start_matches("http://");
    let smallest = format!("GET /data HTTP/1.1\r\nhost: {authority}\r\n\r\n").len() as u64;
    assert_eq!(sent % requests, 0, "{sent} bytes for {requests} requests");
    let per_request = sent / requests;
    assert!(
        (smallest..smallest + 512).contains(&per_request),
        "{per_request} bytes per request, at least {smallest}"
    );
    // Every response is the body plus a status line and a few headers.
    assert!(
        received >= requests * BODY,
        "{received} < {requests} × {BODY}"
    );
    assert!(
        received < requests * (BODY + 512),
        "{received} for {requests}"
    );
    assert_eq!(summary["requests"]["home"]["data_received"], received);

    let thresholds = summary["thresholds"].as_array().expect("thresholds");
    for t in thresholds {
        assert_eq!(t["ok"], true, "{t}");
    }
    assert_eq!(thresholds[0]["observed"].as_f64(), Some(received as f64));
}

/// A one-VU test of `duration` whose iteration is `/first`, 1.5 s of thinking,
/// then `/second`: the second iteration's think time straddles the end. Returns
/// what the target counted per path, `(first, second)`.
fn straddling_run(graceful_stop: &str) -> (u64, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let scenario = scenario_file(
        dir.path(),
        "grace.yaml",
        &format!(
            r#"
target: {}
duration: 2s
scenarios:
  browse:
    executor: constant-vus
    vus: 1
{graceful_stop}
    requests:
      - {{ name: first, url: /first, sleep: 1500ms }}
      - {{ name: second, url: /second }}
"#,
            target.url
        ),
    );
    let (outcome, summary) = run_local(dir.path(), &scenario, &["--workers", "1"], LIMIT);
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    let stats = target.stats();
    let count = |path: &str| stats["by_path"][path].as_u64().unwrap_or(0);
    let (first, second) = (count("/first"), count("/second"));
    let summary = summary.expect("a summary");
    // The summary counts what the target counted: no late sample was left out.
    assert_eq!(summary["total"]["requests"].as_u64(), Some(first + second));
    (first, second)
}

#[test]
fn graceful_stop_lets_the_iteration_in_progress_at_the_end_send_its_last_step() {
    // Iteration 1: /first at 0 s, /second at 1.5 s. Iteration 2: /first at 1.5 s,
    // then thinking until 3 s, past the 2 s end.
    assert_eq!(straddling_run(""), (2, 1), "without gracefulStop");
    assert_eq!(
        straddling_run("    gracefulStop: 3s"),
        (2, 2),
        "with gracefulStop: 3s"
    );
}

#[test]
fn vus_and_vus_max_sum_the_workers_vus_and_reach_the_k6_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let scenario = scenario_file(
        dir.path(),
        "vus.yaml",
        &format!(
            r#"
target: {}
duration: 2s
scenarios:
  browse:
    executor: constant-vus
    vus: 3
    requests:
      - {{ name: home, url: /, sleep: 50ms }}
thresholds:
  vus_max: ["value==3"]
  vus: ["max==3"]
  "vus{{scenario:browse}}": ["min>=0"]
"#,
            target.url
        ),
    );
    let k6 = dir.path().join("k6.json");
    let k6_arg = k6.to_str().expect("utf-8").to_owned();
    // Two workers: one runs 2 VUs, the other 1.
    let extra = ["--workers", "2", "--k6-summary", &k6_arg];
    let (outcome, summary) = run_local(dir.path(), &scenario, &extra, LIMIT);
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    let summary = summary.expect("a summary");
    assert_eq!(summary["vus_max"]["max"], 3, "{}", summary["vus_max"]);
    assert_eq!(summary["vus"]["max"], 3, "{}", summary["vus"]);
    for t in summary["thresholds"].as_array().expect("thresholds") {
        assert_eq!(t["ok"], true, "{t}");
    }
    let k6 = sls_load_e2e::read_json(&k6);
    let metrics = &k6["metrics"];
    assert_eq!(metrics["vus_max"]["max"], 3, "{metrics}");
    assert_eq!(
        metrics["iterations"]["count"],
        target.requests(),
        "{metrics}"
    );
    assert!(
        metrics["data_received"]["count"].as_u64() > Some(0),
        "{metrics}"
    );
    assert!(
        outcome.stdout.contains("vus_max ........: "),
        "{}",
        outcome.stdout
    );
}
