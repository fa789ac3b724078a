//! Refused before anything starts (issue #19): credentials in a URL (the
//! scenario's target, `--target`, a request's URL, an event's URL) and an `-e`
//! value with a line break that would land in a header are each refused in one
//! line that does not repeat the secret, with exit 2 and no request sent.

use std::time::Duration;

use sls_load_e2e::{Outcome, Target, scenario_file};

const LIMIT: Duration = Duration::from_secs(30);

fn run(dir: &std::path::Path, yaml: &str, extra: &[&str]) -> Outcome {
    let path = scenario_file(dir, "s.yaml", yaml);
    let state = dir.join("state");
    let mut args = vec![
        "run",
        path.to_str().expect("utf-8"),
        "--local",
        "--local-dir",
        state.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    sls_load_e2e::sls_load(&args, LIMIT)
}

/// One refusal line (exit 2, no panic) mentioning `mention`, never `secret`.
fn refused(outcome: &Outcome, mention: &str, secret: &str) {
    let err = outcome.stderr.trim();
    assert_eq!(outcome.code(), 2, "{err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.contains(mention), "`{mention}` not named: {err}");
    assert!(!err.contains(secret), "the secret is repeated: {err}");
    assert!(!outcome.stdout.contains(secret), "{}", outcome.stdout);
}

fn scenario(target: &str, request_url: &str, headers: &str) -> String {
    format!(
        "target: {target}\nduration: 2s\nscenarios:\n  s:\n    executor: constant-arrival-rate\n    rate: 10\n    requests:\n      - {{ name: home, url: \"{request_url}\"{headers} }}\n"
    )
}

#[test]
fn credentials_in_a_url_are_refused_wherever_the_url_is_given() {
    let target = Target::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let with = target.url.replace("http://", "http://admin:S3CRET@");

    let outcome = run(dir.path(), &scenario(&with, "/", ""), &[]);
    refused(&outcome, "http://***@127.0.0.1", "S3CRET");

    let outcome = run(
        dir.path(),
        &scenario(&target.url, "/", ""),
        &["--target", &with],
    );
    refused(&outcome, "credentials in a URL", "S3CRET");

    let request = format!("{with}/x");
    let outcome = run(dir.path(), &scenario(&target.url, &request, ""), &[]);
    refused(&outcome, "credentials in a URL", "S3CRET");

    let event = format!(
        "{}events:\n  - {{ at: 1s, name: down, http: {{ url: \"{with}/down\" }} }}\n",
        scenario(&target.url, "/", "")
    );
    let outcome = run(dir.path(), &event, &[]);
    refused(&outcome, "credentials in a URL", "S3CRET");
    assert_eq!(target.requests(), 0, "a refused run sent requests");
}

#[test]
fn an_e_value_with_a_line_break_bound_for_a_header_is_refused_naming_the_variable() {
    let target = Target::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let headers = ", headers: { x-token: \"{{__ENV.TOKEN}}\" }";
    let yaml = scenario(&target.url, "/", headers);
    let outcome = run(dir.path(), &yaml, &["-e", "TOKEN=abc\r\nX-Injected: 1"]);
    refused(&outcome, "-e TOKEN", "X-Injected");
    assert!(
        outcome.stderr.contains("header `x-token`"),
        "{}",
        outcome.stderr
    );
    assert_eq!(target.requests(), 0, "a refused run sent requests");
}
