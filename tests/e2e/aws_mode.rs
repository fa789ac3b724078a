//! Where a command runs, as a user meets it: a `~/.aws/config` without
//! credentials keeps a run local and says so in one line; an AWS failure is one
//! line that says what to do, with no SDK debug dump and no colour codes.

use std::path::Path;
use std::time::Duration;

use sls_load_e2e::{Target, refused_url, scenario_file, sls_load_with_env};

const LIMIT: Duration = Duration::from_secs(60);

/// A HOME whose `~/.aws/config` only sets a region (as `aws configure` leaves
/// it when the keys were skipped).
fn home_with_config_only() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(home.path().join(".aws")).expect("mkdir .aws");
    std::fs::write(
        home.path().join(".aws/config"),
        "[default]\nregion = eu-west-1\noutput = json\n",
    )
    .expect("write config");
    home
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn assert_clean(stderr: &str) {
    assert!(!stderr.contains("DispatchFailure {"), "{stderr}");
    assert!(!stderr.contains("ConnectorError {"), "{stderr}");
    assert!(!stderr.contains("\x1b["), "colour codes: {stderr:?}");
}

#[test]
fn a_config_without_credentials_keeps_plan_and_run_local_and_run_says_so_in_one_line() {
    let home = home_with_config_only();
    let env = [("HOME", path(home.path()))];
    let target = Target::start(&[]);
    let file = scenario_file(
        home.path(),
        "s.yaml",
        &format!(
            "target: {}\nduration: 1s\nscenarios:\n  s:\n    executor: constant-arrival-rate\n    rate: 5\n    requests:\n      - name: a\n        url: /\n",
            target.url
        ),
    );
    let planned = sls_load_with_env(&["plan", path(&file)], &env, LIMIT);
    assert_eq!(planned.code(), 0, "{}", planned.stderr);
    assert!(
        !planned.stderr.contains("account's concurrency"),
        "plan did not ask AWS: {}",
        planned.stderr
    );

    let state = home.path().join("state");
    let run = sls_load_with_env(
        &["run", path(&file), "--local-dir", path(&state)],
        &env,
        LIMIT,
    );
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let modes: Vec<&str> = run.stderr.lines().filter(|l| l.contains(" mode")).collect();
    assert_eq!(
        modes,
        [
            "sls-load: local mode: AWS profile `default` has no usable credentials (no keys, sso, credential_process or role source) (pass --aws to use AWS)"
        ],
        "{}",
        run.stderr
    );
    assert!(target.requests() > 0, "the local run reached the target");
    assert_clean(&run.stderr);

    let forced = sls_load_with_env(
        &[
            "run",
            path(&file),
            "--local",
            "--local-dir",
            path(&state),
            "--quiet",
        ],
        &env,
        LIMIT,
    );
    assert_eq!(forced.code(), 0, "{}", forced.stderr);
    assert!(
        !forced.stderr.contains(" mode"),
        "--quiet: {}",
        forced.stderr
    );
}

#[test]
fn an_aws_failure_is_one_line_without_a_debug_dump_or_colours() {
    let home = home_with_config_only();
    let endpoint = refused_url();
    let env = [
        ("HOME", path(home.path())),
        ("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKE"),
        ("AWS_SECRET_ACCESS_KEY", "fake"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let outcome = sls_load_with_env(&["report", "x", "--aws", "--bucket", "b"], &env, LIMIT);
    assert_ne!(outcome.code(), 0, "{}", outcome.stderr);
    let lines: Vec<&str> = outcome.stderr.trim().lines().collect();
    assert_eq!(
        lines,
        [
            "sls-load: AWS mode: credentials from AWS_ACCESS_KEY_ID, region eu-west-1",
            lines.last().copied().unwrap_or_default(),
        ],
        "announcement, then one error line: {}",
        outcome.stderr
    );
    // The credentials are checked (STS) before anything is read.
    let error = lines.last().copied().unwrap_or_default();
    assert!(error.starts_with("error: cannot reach AWS"), "{error}");
    assert_clean(&outcome.stderr);
}

#[test]
fn aws_mode_with_an_unknown_profile_names_it_and_exits_2() {
    let home = home_with_config_only();
    let env = [
        ("HOME", path(home.path())),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
    ];
    let outcome = sls_load_with_env(
        &[
            "report",
            "x",
            "--aws",
            "--bucket",
            "b",
            "--profile",
            "nosuch",
        ],
        &env,
        LIMIT,
    );
    assert_eq!(outcome.code(), 2, "{}", outcome.stderr);
    let error: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(error.len(), 1, "{}", outcome.stderr);
    assert!(
        error[0].contains("AWS profile `nosuch` not found"),
        "{}",
        error[0]
    );
    assert_clean(&outcome.stderr);
}
