//! Bounded response bodies (issue 10, item 10): a capture against a body longer
//! than `http.max_body_buffer` (default 1 MiB) does not buffer it; the request
//! fails as `body_too_large`, counted in `errors_by_class`. A body nothing reads
//! is read and dropped as before, whatever its length.
//!
//! It does not measure the worker's memory; the client's unit tests check that
//! reading stops at the limit for every framing.

use std::time::Duration;

use sls_load_e2e::{Target, read_json, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(90);

#[test]
fn a_capture_against_a_five_mib_body_counts_body_too_large_and_keeps_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&["--body-size", "5242880"]);
    let scenario = scenario_file(
        dir.path(),
        "big.yaml",
        &format!(
            r#"
target: {}
duration: 2s
regions: {{ us-east-1: 1 }}
scenarios:
  big:
    executor: constant-arrival-rate
    rate: 5
    requests:
      - name: captured
        url: /captured
        capture: [{{ name: first, regex: "(ok)", group: 1 }}]
      - {{ name: dropped, url: /dropped }}
"#,
            target.url
        ),
    );
    let summary = dir.path().join("summary.json");
    let state = dir.path().join("state");
    let outcome = sls_load(
        &[
            "run",
            scenario.to_str().expect("utf-8"),
            "--local",
            "--quiet",
            "--local-dir",
            state.to_str().expect("utf-8"),
            "--summary-export",
            summary.to_str().expect("utf-8"),
        ],
        LIMIT,
    );
    assert!(summary.is_file(), "no summary; stderr: {}", outcome.stderr);
    let s = read_json(&summary);
    let requests = &s["requests"];
    let captured = requests["captured"]["requests"].as_u64().expect("count");
    assert!(captured > 0, "{s}");
    assert_eq!(
        requests["captured"]["errors_by_class"],
        serde_json::json!({ "body_too_large": captured }),
        "every captured response was over 1 MiB: {s}"
    );
    assert_eq!(requests["captured"]["errors"], captured);
    assert_eq!(requests["dropped"]["errors"], 0, "{s}");
    assert_eq!(
        s["errors_by_class"],
        serde_json::json!({ "body_too_large": captured })
    );
    let dropped = requests["dropped"]["requests"].as_u64().expect("count");
    assert_eq!(
        target.requests(),
        captured + dropped,
        "the target answered every request"
    );
}
