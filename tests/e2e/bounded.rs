//! Nothing unbounded (issue #19): files a scenario names must be regular files
//! under a size limit, and a scenario may not nest deeper than a scenario needs;
//! each is refused before anything runs, in one line naming the file, instead
//! of being read until memory runs out or blocking forever.

use std::path::Path;
use std::time::Duration;

use sls_load_e2e::sls_load;

/// Writes `yaml` as `name` in `dir`, runs it in local mode and checks the one
/// refusal line (exit 2, no panic), which must mention every `mention`.
fn refused(dir: &Path, name: &str, yaml: &str, mention: &[&str]) {
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("write");
    let outcome = sls_load(
        &[
            "run",
            path.to_str().expect("utf-8"),
            "--local",
            "--local-dir",
            dir.join("state").to_str().expect("utf-8"),
        ],
        Duration::from_secs(30),
    );
    let err = outcome.stderr.trim();
    assert_eq!(outcome.code(), 2, "{name}: {err}");
    assert_eq!(err.lines().count(), 1, "{name}: not one line: {err}");
    assert!(!err.contains("panicked"), "{name}: {err}");
    for m in mention {
        assert!(err.contains(m), "{name}: `{m}` not named: {err}");
    }
}

/// A valid scenario against a closed port, with `extra` lines in its scenario.
fn scenario(http: &str, extra: &str) -> String {
    format!(
        "target: http://127.0.0.1:9\nduration: 2s\n{http}scenarios:\n  s:\n    executor: per-vu-iterations\n    vus: 1\n    iterations: 1\n{extra}    requests: [{{ name: home, url: / }}]\n"
    )
}

#[test]
fn a_ca_file_that_is_a_device_is_refused_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = scenario("http:\n  tls_ca_file: /dev/zero\n", "");
    refused(
        dir.path(),
        "ca.yaml",
        &yaml,
        &["/dev/zero", "not a regular file (a device)"],
    );
}

#[test]
fn a_data_file_linked_to_a_device_or_that_is_a_fifo_is_refused_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("users.csv")).expect("symlink");
    let yaml = scenario("", "    data: { file: users.csv }\n");
    refused(
        dir.path(),
        "linked.yaml",
        &yaml,
        &["users.csv", "(a device)"],
    );

    let fifo = dir.path().join("fifo.csv");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    let yaml = scenario("", "    data: { file: fifo.csv }\n");
    refused(dir.path(), "fifo.yaml", &yaml, &["fifo.csv", "(a FIFO)"]);
}

#[test]
fn a_scenario_nested_a_hundred_thousand_deep_is_refused_naming_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let yaml = scenario("", &format!("    tags: {{ deep: {deep} }}\n"));
    refused(
        dir.path(),
        "deep.yaml",
        &yaml,
        &["deep.yaml:8", "more than the 64"],
    );
}
