//! Reports for CI: `--junit FILE` is JUnit XML any CI parser reads, with one
//! failing test case per crossed threshold and per failing check; `--k6-summary
//! FILE` is k6's own `--summary-export` JSON, counting what the target received;
//! `--summary-export` keeps writing sls-load's summary; `--quiet` prints no header.

use std::time::Duration;

use sls_load_e2e::{Target, read_json, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(90);

#[test]
fn junit_and_k6_summary_report_the_thresholds_and_checks_of_a_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let scenario = scenario_file(
        dir.path(),
        "ci.yaml",
        &format!(
            r#"
target: {}
duration: 2s
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 20
    requests:
      - name: home
        url: /
        checks:
          - {{ name: is 200, status: 200 }}
          - {{ name: is 201, status: 201 }}
thresholds:
  http_req_failed: ["rate<0.5"]
  http_req_duration: ["p(95)<0.001"]
"#,
            target.url
        ),
    );
    let path = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_owned();
    let (junit, k6, own) = (path("junit.xml"), path("k6.json"), path("summary.json"));
    let outcome = sls_load(
        &[
            "run",
            scenario.to_str().expect("utf-8"),
            "--local",
            "--local-dir",
            &path("state"),
            "--workers",
            "1",
            "--quiet",
            "--junit",
            &junit,
            "--k6-summary",
            &k6,
            "--summary-export",
            &own,
        ],
        LIMIT,
    );
    assert_eq!(outcome.code(), 99, "stderr: {}", outcome.stderr);
    assert!(
        !outcome.stderr.contains("sls-load: run "),
        "--quiet prints no header: {}",
        outcome.stderr
    );
    // The terminal shows the observed value with its unit.
    assert!(
        outcome
            .stdout
            .contains("✗ http_req_duration p(95)<0.001  (observed ")
            && outcome
                .stdout
                .contains("✓ http_req_failed rate<0.5  (observed 0.00%)"),
        "{}",
        outcome.stdout
    );

    let xml = std::fs::read_to_string(&junit).expect("junit written");
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let cases: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let failing: Vec<&str> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .filter_map(|c| c.attribute("name"))
        .collect();
    let names: Vec<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    assert_eq!(
        names,
        [
            "http_req_failed - rate<0.5",
            "http_req_duration - p(95)<0.001",
            "is 200",
            "is 201"
        ],
        "{xml}"
    );
    // Exactly one failing case per crossed threshold (and per failing check).
    assert_eq!(
        failing,
        ["http_req_duration - p(95)<0.001", "is 201"],
        "{xml}"
    );
    let message = cases[1]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .and_then(|f| f.attribute("message"))
        .expect("failure message");
    assert!(
        message.starts_with("http_req_duration p(95)<0.001: observed ")
            && (message.ends_with("ms") || message.ends_with("µs")),
        "{message}"
    );

    let k6 = read_json(std::path::Path::new(&k6));
    assert_eq!(
        k6["metrics"]["http_reqs"]["count"].as_u64(),
        Some(target.requests()),
        "{k6}"
    );
    assert_eq!(k6["metrics"]["http_reqs"]["count"], 40, "{k6}");
    assert_eq!(
        k6["metrics"]["http_req_duration"]["thresholds"]["p(95)<0.001"],
        true
    );
    assert_eq!(
        k6["metrics"]["http_req_failed"]["thresholds"]["rate<0.5"],
        false
    );
    assert_eq!(k6["root_group"]["checks"]["is 201"]["fails"], 40, "{k6}");
    assert_eq!(k6["metrics"]["checks"]["passes"], 40, "{k6}");
    // --summary-export keeps sls-load's own summary.
    assert_eq!(read_json(std::path::Path::new(&own))["format"], 1);
}

#[test]
fn an_unwritable_ci_report_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-dir").join("junit.xml");
    let outcome = sls_load(
        &[
            "report",
            "20261127-000000-abcd",
            "--local",
            "--local-dir",
            dir.path().to_str().expect("utf-8"),
            "--junit",
            missing.to_str().expect("utf-8"),
        ],
        LIMIT,
    );
    assert_eq!(outcome.code(), 2, "stderr: {}", outcome.stderr);
    assert!(
        outcome.stderr.contains("--junit ") && outcome.stderr.contains("cannot be written"),
        "{}",
        outcome.stderr
    );
}
