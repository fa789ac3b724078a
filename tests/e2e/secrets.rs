//! Secrets (k6's `{{__ENV.NAME}}` with `-e NAME=VALUE`): a marker passed with `-e`
//! into a header, a query value and a JSON body reaches the target intact and
//! appears nowhere sls-load stores or prints (objects, worker logs, stdout,
//! stderr, the summary); a literal `Authorization` header is redacted in
//! `plan.json` yet still sent; a variable set nowhere is refused before anything
//! runs.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sls_load_e2e::{Outcome, Target, read_json, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(90);

/// A value no file or output holds by chance.
fn marker(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!("{what}-{}-{nanos:x}", std::process::id())
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// The files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            let bytes = std::fs::read(p).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .collect()
}

/// `sls-load run FILE --local --local-dir STATE EXTRA...`.
fn run_local(file: &Path, state: &Path, extra: &[&str]) -> Outcome {
    let mut args = vec![
        "run",
        file.to_str().expect("utf-8 path"),
        "--local",
        "--local-dir",
        state.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    sls_load(&args, LIMIT)
}

fn scenario(target: &str, literal: &str) -> String {
    format!(
        r#"
target: {target}
duration: 2s
scenarios:
  secret:
    executor: constant-arrival-rate
    rate: 10
    requests:
      - name: env
        method: POST
        url: /env
        query: {{ k: "{{{{__ENV.TOKEN}}}}" }}
        headers: {{ authorization: "Bearer {{{{__ENV.TOKEN}}}}" }}
        json: {{ token: "{{{{__ENV.TOKEN}}}}", n: 1 }}
      - name: literal
        url: /literal
        headers: {{ Authorization: "Bearer {literal}" }}
"#
    )
}

#[test]
fn a_secret_passed_with_e_reaches_the_target_and_is_stored_or_printed_nowhere() {
    let token = marker("tok");
    let literal = marker("lit");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[
        "--expect-header",
        &format!("authorization=Bearer {token}"),
        "--expect-header",
        &format!("authorization=Bearer {literal}"),
        "--expect-body",
        &token,
    ]);
    let file = scenario_file(dir.path(), "secret.yaml", &scenario(&target.url, &literal));
    let state = dir.path().join("state");
    let summary_path = dir.path().join("summary.json");
    let env_arg = format!("TOKEN={token}");
    let summary_arg = summary_path.to_str().expect("utf-8 path");
    let outcome = run_local(
        &file,
        &state,
        &[
            "--workers",
            "2",
            "-e",
            &env_arg,
            "--summary-export",
            summary_arg,
        ],
    );
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);

    // It reached the target intact: every `env` request carried the header and
    // the body, every `literal` request its literal header.
    let stats = target.stats();
    let env_requests = stats["by_path"]["/env"].as_u64().expect("env requests");
    let literal_requests = stats["by_path"]["/literal"]
        .as_u64()
        .expect("literal requests");
    assert!(env_requests > 0 && literal_requests > 0, "{stats}");
    assert_eq!(stats["expected_headers"][0], env_requests, "{stats}");
    assert_eq!(stats["expected_body"], env_requests, "{stats}");
    assert_eq!(stats["expected_headers"][1], literal_requests, "{stats}");
    let summary = read_json(&summary_path);
    assert_eq!(
        summary["requests"]["env"]["requests"], env_requests,
        "{summary}"
    );

    // Nowhere stored or printed: store objects, worker logs, stdout, stderr, summary.
    assert!(!files_under(&state).is_empty());
    for secret in [&token, &literal] {
        assert_eq!(files_containing(&state, secret), Vec::<PathBuf>::new());
        assert!(
            !outcome.stdout.contains(secret.as_str()),
            "{}",
            outcome.stdout
        );
        assert!(
            !outcome.stderr.contains(secret.as_str()),
            "{}",
            outcome.stderr
        );
        assert!(!summary.to_string().contains(secret.as_str()));
    }
    // The stored plan keeps the reference and redacts the literal.
    let plan = files_under(&state)
        .into_iter()
        .find(|p| p.ends_with("plan.json"))
        .expect("plan.json stored");
    let plan = std::fs::read_to_string(plan).expect("read plan.json");
    assert!(plan.contains("Bearer {{__ENV.TOKEN}}"), "{plan}");
    assert!(plan.contains("\"Authorization\": \"<redacted>\""), "{plan}");
}

#[test]
fn plan_redacts_a_literal_credential() {
    let literal = marker("lit");
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "target: http://127.0.0.1:9\nduration: 1s\nscenarios:\n  s:\n    executor: constant-vus\n    vus: 1\n    requests:\n      - name: a\n        url: /\n        headers: {{ Authorization: \"Bearer {literal}\", Cookie: \"s={literal}\" }}\n"
    );
    let file = scenario_file(dir.path(), "literal.yaml", &text);
    let printed = sls_load(
        &["plan", file.to_str().expect("utf-8 path"), "--json"],
        LIMIT,
    );
    assert_eq!(printed.code(), 0, "stderr: {}", printed.stderr);
    assert!(
        !printed.stdout.contains(literal.as_str()),
        "{}",
        printed.stdout
    );
    assert!(
        printed.stdout.contains("\"Cookie\": \"<redacted>\""),
        "{}",
        printed.stdout
    );
}

#[test]
fn plan_shows_references_and_needs_no_values() {
    let literal = marker("lit");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario_file(
        dir.path(),
        "secret.yaml",
        &scenario("http://127.0.0.1:9", &literal),
    );
    let path = file.to_str().expect("utf-8 path");
    let printed = sls_load(&["plan", path, "--json", "-e", "TOKEN=abc-secret"], LIMIT);
    assert_eq!(printed.code(), 0, "stderr: {}", printed.stderr);
    assert!(
        printed.stdout.contains("{{__ENV.TOKEN}}"),
        "{}",
        printed.stdout
    );
    assert!(printed.stdout.contains("<redacted>"), "{}", printed.stdout);
    for secret in ["abc-secret", literal.as_str()] {
        assert!(!printed.stdout.contains(secret) && !printed.stderr.contains(secret));
    }
    let table = sls_load(&["plan", path], LIMIT);
    assert_eq!(table.code(), 0, "stderr: {}", table.stderr);
    assert!(!table.stdout.contains(literal.as_str()), "{}", table.stdout);
}

#[test]
fn a_variable_set_nowhere_is_refused_by_name_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario_file(
        dir.path(),
        "unset.yaml",
        "target: http://127.0.0.1:9\nduration: 1s\nscenarios:\n  s:\n    executor: constant-vus\n    vus: 1\n    requests:\n      - name: a\n        url: /\n        headers: { x-api-key: \"{{__ENV.SLS_LOAD_E2E_NEVER_SET}}\" }\n",
    );
    let state = dir.path().join("state");
    let outcome = run_local(&file, &state, &["-e", "OTHER=1"]);
    assert_eq!(outcome.code(), 2, "stderr: {}", outcome.stderr);
    assert_eq!(
        outcome.stderr.trim(),
        "error: `{{__ENV.SLS_LOAD_E2E_NEVER_SET}}` is not set: pass -e \
         SLS_LOAD_E2E_NEVER_SET=VALUE or set SLS_LOAD_E2E_NEVER_SET in the environment"
    );
    assert!(!state.exists(), "nothing was started");
}
