//! Fixtures and helpers shared by the scenario module's unit tests: example files
//! and shortcuts that parse or load them and return the scenario or its one-line
//! error. It holds no tests itself.

use std::path::Path;

use super::{Scenario, ScenarioError, load, parse};

pub(super) const FILE: &str = "load/browse.yaml";

/// The example from the format description, every key set.
pub(super) const FULL: &str = r#"
target: http://127.0.0.1:8080/     # trailing slash is dropped
duration: 1m30s
regions: { us-east-1: 0.5, eu-west-1: 0.3, ap-southeast-1: 0.2 }
request_timeout: 30s
worker_rate: 800
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 300
    time_unit: 1s
    pre_allocated_vus: 50
    max_vus: 500
    requests:
      - { name: home, method: GET, url: /, expect_status: 200 }
      - name: search
        method: post
        url: /search?q=x
        headers: { content-type: application/json, x-run: "7" }
        body: '{"q":"x"}'
  api.v1:
    executor: constant-arrival-rate
    rate: 30
    time_unit: 1m
    requests:
      - { name: health, url: "http://127.0.0.1:8080/health" }
thresholds:
  http_req_duration: ["p(95)<500", "p(99.9) < 1500"]
  http_req_duration{name:home}: ["avg<200"]
  http_req_failed: [{ threshold: "rate<0.01", abortOnFail: true }]
  http_reqs{region:eu-west-1}: ["rate>=50"]
"#;

pub(super) const MINIMAL: &str = "\
target: http://127.0.0.1:8080
duration: 15s
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 300
    requests:
      - { name: home, url: / }
";

/// Every executor, flows with captures, checks, think time, query and JSON bodies.
pub(super) const ENGINE: &str = r#"
target: http://127.0.0.1:8080
duration: 1m
scenarios:
  ramp:
    executor: ramping-arrival-rate
    time_unit: 1m
    stages:
      - { duration: 10s, target: 6000 }
      - { duration: 20s, target: 6000 }
      - { duration: 5s, target: 0 }
    max_vus: 100
    arrivals: poisson
    start_time: 5s
    requests:
      - { name: home, url: / }
  users:
    executor: constant-vus
    vus: 5
    duration: 30s
    requests:
      - name: login
        method: POST
        url: /login
        json: { user: "u{{__VU}}", remember: true }
        capture:
          - { name: token, json: /token }
          - { name: session, header: x-session }
          - { name: n, regex: "n=(\\d+)" }
        checks:
          - { name: "status is 200", status: 200 }
          - { name: has session, header: { name: x-session } }
          - { name: no cookie, header: { name: set-cookie, exists: false } }
          - { name: says ok, body_contains: "ok" }
          - { name: role is admin, json: { pointer: /role, equals: admin } }
        sleep: { min: 50ms, max: 200ms }
      - name: profile
        url: /users/{{n}}
        query: { verbose: true, q: "{{token}}" }
        headers: { authorization: "Bearer {{token}}" }
        sleep: 1s
  tail:
    executor: ramping-vus
    start_vus: 0
    stages: [{ duration: 10s, target: 3 }, { duration: 10s, target: 0 }]
    graceful_ramp_down: 0s
    requests: [{ name: tail, url: / }]
  once:
    executor: per-vu-iterations
    vus: 2
    iterations: 3
    max_duration: 20s
    start_time: 40s
    requests: [{ name: once, url: / }]
"#;

pub(super) fn ok(text: &str) -> Scenario {
    match parse(Path::new(FILE), text.as_bytes()) {
        Ok(s) => s,
        Err(e) => panic!("expected a valid scenario, got: {e}"),
    }
}

pub(super) fn error_bytes(text: &[u8]) -> String {
    match parse(Path::new(FILE), text) {
        Ok(s) => panic!("expected an error, parsed: {s:?}"),
        Err(e) => {
            let line = e.to_string();
            assert!(line.starts_with(FILE), "names the file: {line}");
            assert!(!line.contains('\n'), "one line: {line:?}");
            assert!(
                !line.contains(" at line "),
                "no parser position suffix: {line}"
            );
            line
        }
    }
}

pub(super) fn error(text: &str) -> String {
    error_bytes(text.as_bytes())
}

/// `MINIMAL` with `from` replaced by `to` (which must occur).
pub(super) fn minimal_with(from: &str, to: &str) -> String {
    assert!(MINIMAL.contains(from), "fixture has {from:?}");
    MINIMAL.replacen(from, to, 1)
}

pub(super) fn assert_contains(line: &str, needles: &[&str]) {
    for needle in needles {
        assert!(line.contains(needle), "{needle:?} not in: {line}");
    }
}

/// `MINIMAL` with its request replaced by `request` (block style, 6 spaces in).
pub(super) fn minimal_request(request: &str) -> String {
    minimal_with("      - { name: home, url: / }\n", request)
}

/// A scenario file in a fresh directory, with extra files beside it.
pub(super) fn load_with(files: &[(&str, &str)], scenario: &str) -> Result<Scenario, ScenarioError> {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).expect("write");
    }
    let path = dir.path().join("s.yaml");
    std::fs::write(&path, scenario).expect("write");
    load(&path)
}

pub(super) fn with_data(file: &str) -> String {
    minimal_with(
        "      - { name: home, url: / }\n",
        &format!(
            "      - {{ name: home, url: \"/u/{{{{id}}}}?n={{{{name}}}}\" }}\n    data: {{ file: {file} }}\n"
        ),
    )
}
