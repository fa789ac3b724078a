//! The command line's edges (issue 10, item 13): a reader that closes stdout
//! early (`| head -1`, `2>&1 | head -1`) ends `plan` and `report` quietly
//! instead of a broken-pipe panic (exit 101); a `--summary-export` path that cannot be written is refused
//! before anything runs (exit 2), and one that fails only at the end keeps the
//! run's own verdict (99); a normal local run leaves no panic in the workers' logs
//! (the local Runtime API answered `next` at shutdown without a request id).
//!
//! It does not test the summary's contents (`run.rs` does).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sls_load_e2e::{Target, bin_dir, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(90);

/// A short two-region scenario against `url` whose `http_req_failed` threshold
/// is crossed when the target fails half of the requests.
fn scenario(dir: &Path, url: &str) -> PathBuf {
    scenario_file(
        dir,
        "edges.yaml",
        &format!(
            r#"
target: {url}
duration: 2s
regions: {{ us-east-1: 0.5, eu-west-1: 0.5 }}
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 20
    requests:
      - {{ name: home, method: GET, url: / }}
thresholds:
  http_req_failed: ["rate<0.01"]
"#
        ),
    )
}

/// Runs `sls-load` with `args` and its stdout a pipe whose reader has already
/// gone (`| head -1` after head exited); returns the exit code and stderr.
fn with_stdout_closed(args: &[&str]) -> (i32, String) {
    with_closed(args, false)
}

/// Runs `sls-load` with `args`, its stdout and stderr one pipe whose reader
/// has already gone (`2>&1 | head -1` after head exited); returns the exit code.
fn with_output_closed(args: &[&str]) -> i32 {
    with_closed(args, true).0
}

/// Runs `sls-load` with `args`, its stdout (and with `stderr_too` its stderr)
/// closed before it writes; returns the exit code and what stderr got.
fn with_closed(args: &[&str], stderr_too: bool) -> (i32, String) {
    let mut child = Command::new(bin_dir().join("sls-load"))
        .args(args)
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("SLS_LOAD_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sls-load");
    // Close the read end before the child writes: every write then fails (EPIPE).
    drop(child.stdout.take());
    let stderr = child.stderr.take().filter(|_| !stderr_too);
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut stderr) = stderr {
            let _ = stderr.read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sls-load {args:?} did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = err.join().unwrap_or_default();
    (status.code().expect("exited normally"), stderr)
}

/// Every file under `dir`, recursively, with its contents.
fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into();
            out.push((path, text));
        }
    }
    out
}

#[test]
fn plan_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = scenario(dir.path(), "http://127.0.0.1:9");
    let path = scenario.to_str().expect("utf-8 path");
    for args in [vec!["plan", path, "--json"], vec!["plan", path]] {
        let (code, stderr) = with_stdout_closed(&args);
        assert_eq!(code, 0, "{args:?}: stderr: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: stderr: {stderr}");
        // Only the plan's own preflight notes (with --json they go to stderr); no
        // error about the closed pipe.
        let others: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.starts_with("sls-load: preflight:"))
            .collect();
        assert!(others.is_empty(), "{args:?}: no message: {stderr}");
    }
}

#[test]
fn a_summary_export_that_cannot_be_written_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let scenario = scenario(dir.path(), &target.url);
    let local_dir = dir.path().join("state");
    let export = dir.path().join("no-such-dir").join("summary.json");
    let outcome = sls_load(
        &[
            "run",
            scenario.to_str().expect("utf-8 path"),
            "--local",
            "--local-dir",
            local_dir.to_str().expect("utf-8 path"),
            "--quiet",
            "--summary-export",
            export.to_str().expect("utf-8 path"),
        ],
        LIMIT,
    );
    assert_eq!(outcome.code(), 2, "stderr: {}", outcome.stderr);
    assert!(
        outcome.stderr.contains("--summary-export") && outcome.stderr.contains("no-such-dir"),
        "names the flag and the path: {}",
        outcome.stderr
    );
    assert_eq!(target.requests(), 0, "nothing ran");
    assert!(!local_dir.exists(), "nothing was set up");
}

#[test]
fn a_crossed_threshold_keeps_its_exit_code_and_workers_leave_no_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&["--error-rate", "0.5"]);
    let scenario = scenario(dir.path(), &target.url);
    let local_dir = dir.path().join("state");
    let local = local_dir.to_str().expect("utf-8 path");
    // /dev/full passes every check at the command line and fails the write (ENOSPC).
    let outcome = sls_load(
        &[
            "run",
            scenario.to_str().expect("utf-8 path"),
            "--local",
            "--local-dir",
            local,
            "--quiet",
            "--run-id",
            "edges-1",
            "--summary-export",
            "/dev/full",
        ],
        LIMIT,
    );
    let logs = files_under(&local_dir.join("logs"));
    assert!(
        !logs.is_empty(),
        "worker logs under {}",
        local_dir.display()
    );
    for (path, text) in &logs {
        assert!(!text.contains("panicked"), "{}: {text}", path.display());
    }

    assert_eq!(outcome.code(), 99, "stderr: {}", outcome.stderr);
    assert!(
        outcome.stderr.contains("--summary-export /dev/full"),
        "the export error is reported: {}",
        outcome.stderr
    );
    assert!(outcome.stdout.contains("requests"), "{}", outcome.stdout);
    assert!(target.requests() > 0);

    // `report ID | head -1`: the same verdict, no panic, no message about stdout.
    let (code, stderr) =
        with_stdout_closed(&["report", "edges-1", "--local", "--local-dir", local]);
    assert_eq!(code, 99, "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert!(!stderr.contains("stdout"), "stderr: {stderr}");
    // `report ID 2>&1 | head -1`: stderr gone too, still the verdict, not a
    // panic's 101.
    let code = with_output_closed(&["report", "edges-1", "--local", "--local-dir", local]);
    assert_eq!(code, 99);
}
