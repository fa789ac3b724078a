//! The golden run (tests/fixtures/golden, stored by an earlier sls-load) read
//! back through the whole binary: its objects placed in a local store's
//! directory, `sls-load report RUN --local` reads them through the S3 stand-in
//! and the aws-sdk-s3 client, prints the stored terminal report and exports the
//! stored summary, byte for byte. (`report/tests/golden.rs` checks the same on
//! the library, with the store in memory.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use sls_load_e2e::sls_load;

const RUN: &str = "golden-20261127";
const LIMIT: Duration = Duration::from_secs(60);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden")
}

/// Copies every file under `from` to the same place under `to`, but the summary.
fn copy_objects(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read fixtures") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_objects(&path, &target);
        } else if path.file_name().is_some_and(|n| n != "summary.json") {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

#[test]
fn the_golden_run_reports_identically_through_s3_and_the_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let runs = state.join("store/sls-load-results/runs");
    std::fs::create_dir_all(&runs).expect("mkdir");
    copy_objects(&fixtures().join("runs"), &runs);
    let export = dir.path().join("summary.json");
    let out = sls_load(
        &[
            "report",
            RUN,
            "--local",
            "--local-dir",
            state.to_str().expect("utf-8"),
            "--summary-export",
            export.to_str().expect("utf-8"),
        ],
        LIMIT,
    );
    // The golden run crossed one of its thresholds (p(99)<1).
    assert_eq!(out.code(), 99, "stderr: {}", out.stderr);
    let stored = std::fs::read_to_string(fixtures().join(format!("runs/{RUN}/summary.json")))
        .expect("golden summary");
    let exported = std::fs::read_to_string(&export).expect("exported summary");
    assert_eq!(exported, stored, "the summary differs from the golden one");
    let report = std::fs::read_to_string(fixtures().join("report.txt")).expect("report.txt");
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.contains("results: "))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        lines(&out.stdout),
        lines(&report),
        "the terminal report differs"
    );
}
