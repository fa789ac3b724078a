//! Only what a manifest vouches for is counted (issue #19): objects crafted in a
//! stored run's store after it ended (an unlisted log, a log copied from another
//! region, a listed log with surplus requests, a manifest with inflated
//! totals) are each named by `report`, left out of every figure (the summary
//! counts what the target counted) and make it exit 1. Reading them is bounded
//! too: an object over its kind's size limit is refused unread, and a log of
//! many bad lines names twenty of them and counts the rest.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sls_load_e2e::{Outcome, Target, read_json, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(60);

/// A finished two-region run in a local store, and what its target counted.
struct Stored {
    dir: tempfile::TempDir,
    run_id: &'static str,
    /// Requests the target counted.
    sent: u64,
    _target: Target,
}

impl Stored {
    fn run(run_id: &'static str) -> Stored {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = Target::start(&[]);
        let scenario = scenario_file(
            dir.path(),
            "two.yaml",
            &format!(
                "target: {}\nduration: 3s\nregions: [us-east-1, eu-west-1]\nscenarios:\n  s:\n    executor: constant-arrival-rate\n    rate: 40\n    requests: [{{ name: home, url: / }}]\n",
                target.url
            ),
        );
        let state = dir.path().join("state");
        let first = sls_load(
            &[
                "run",
                scenario.to_str().expect("utf-8"),
                "--local",
                "--local-dir",
                state.to_str().expect("utf-8"),
                "--flush-every",
                "1s",
                "--run-id",
                run_id,
                "--quiet",
            ],
            LIMIT,
        );
        assert_eq!(first.code(), 0, "{}", first.stderr);
        let sent = target.requests();
        assert!(sent > 0);
        Stored {
            dir,
            run_id,
            sent,
            _target: target,
        }
    }

    /// A worker's directory in the local store.
    fn worker(&self, region: &str, worker: &str) -> PathBuf {
        self.dir
            .path()
            .join("state/store/sls-load-results/runs")
            .join(self.run_id)
            .join(region)
            .join(worker)
    }

    /// Drops the checksums the local store keeps beside its objects (s3s-fs's
    /// `.internal.json` files), so objects crafted in place read back as
    /// written, as if re-sealed: what is tested is the report, not the store.
    fn unseal(&self) {
        let store = self.dir.path().join("state/store");
        for entry in std::fs::read_dir(&store).expect("the store") {
            let path = entry.expect("an entry").path();
            if path.to_string_lossy().ends_with(".internal.json") {
                std::fs::remove_file(&path).expect("remove a checksum");
            }
        }
    }

    /// `report RUN_ID`: its outcome and exported summary's total requests.
    fn report(&self) -> (Outcome, u64) {
        let summary = self.dir.path().join("report.json");
        let state = self.dir.path().join("state");
        let outcome = sls_load(
            &[
                "report",
                self.run_id,
                "--local",
                "--local-dir",
                state.to_str().expect("utf-8"),
                "--summary-export",
                summary.to_str().expect("utf-8"),
            ],
            LIMIT,
        );
        assert!(!outcome.stderr.contains("panicked"), "{}", outcome.stderr);
        let total = read_json(&summary)["total"]["requests"]
            .as_u64()
            .expect("total.requests");
        (outcome, total)
    }
}

/// The stderr line naming `object` (a key's tail), or a panic showing stderr.
fn named<'a>(outcome: &'a Outcome, object: &str) -> &'a str {
    outcome
        .stderr
        .lines()
        .find(|l| l.contains(object))
        .unwrap_or_else(|| panic!("{object} is not named: {}", outcome.stderr))
}

/// The requests `worker`'s manifest lists for its log `name`.
fn listed(worker: &Path, name: &str) -> u64 {
    let manifest = read_json(&worker.join("manifest.json"));
    manifest["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .find(|l| l["name"] == name)
        .and_then(|l| l["requests"].as_u64())
        .unwrap_or_else(|| panic!("{name} not listed: {manifest}"))
}

#[test]
fn an_object_its_manifest_does_not_list_is_named_and_left_out() {
    let run = Stored::run("vouch-unlisted");
    let w = run.worker("us-east-1", "w0000");
    // A genuine log under a new name (a comment makes it no byte-for-byte copy).
    let mut bytes = std::fs::read(w.join("latency-00000.hlog")).expect("a stored log");
    bytes.extend_from_slice(b"#crafted\n");
    std::fs::write(w.join("latency-00042.hlog"), bytes).expect("write");

    run.unseal();
    let (outcome, total) = run.report();
    assert_eq!(outcome.code(), 1, "{}", outcome.stderr);
    assert_eq!(
        total, run.sent,
        "the summary counts what the target counted"
    );
    let line = named(&outcome, "us-east-1/w0000/latency-00042.hlog");
    assert!(line.contains("not listed"), "{line}");
}

#[test]
fn a_log_copied_from_another_region_is_named_by_its_header_and_left_out() {
    let run = Stored::run("vouch-foreign");
    let from = run.worker("us-east-1", "w0000").join("latency-00000.hlog");
    let to = run.worker("eu-west-1", "w0000").join("latency-00042.hlog");
    std::fs::copy(from, to).expect("copy");

    run.unseal();
    let (outcome, total) = run.report();
    assert_eq!(outcome.code(), 1, "{}", outcome.stderr);
    assert_eq!(
        total, run.sent,
        "the summary counts what the target counted"
    );
    let line = named(&outcome, "eu-west-1/w0000/latency-00042.hlog");
    assert!(line.contains("region=us-east-1"), "{line}");
}

#[test]
fn a_listed_object_holding_more_than_its_manifest_says_is_named_and_left_out() {
    let run = Stored::run("vouch-surplus");
    let w = run.worker("us-east-1", "w0000");
    let log = w.join("latency-00000.hlog");
    let held = listed(&w, "latency-00000.hlog");
    // Every request interval of the log, written twice.
    let text = std::fs::read_to_string(&log).expect("a stored log");
    let again: String = text
        .lines()
        .filter(|l| l.contains("metric=http_req_duration"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!again.is_empty(), "{text}");
    std::fs::write(&log, format!("{text}{again}")).expect("rewrite");

    run.unseal();
    let (outcome, total) = run.report();
    assert_eq!(outcome.code(), 1, "{}", outcome.stderr);
    // The whole object is left out: its genuine requests cannot be told from
    // the surplus ones, so the summary counts the target's figure less its
    // listed requests, and says so.
    assert_eq!(total, run.sent - held, "{}", outcome.stderr);
    let line = named(&outcome, "us-east-1/w0000/latency-00000.hlog");
    assert!(
        line.contains(&format!("where its manifest says {held}")),
        "{line}"
    );
}

#[test]
fn a_manifest_whose_totals_disagree_with_its_logs_is_named_and_its_worker_read_from_its_logs() {
    let run = Stored::run("vouch-inflated");
    let w = run.worker("eu-west-1", "w0000");
    let path = w.join("manifest.json");
    let mut manifest = read_json(&path);
    manifest["requests"]["home"]["requests"] = serde_json::json!(999_999);
    std::fs::write(&path, manifest.to_string()).expect("rewrite");

    run.unseal();
    let (outcome, total) = run.report();
    assert_eq!(outcome.code(), 1, "{}", outcome.stderr);
    assert_eq!(
        total, run.sent,
        "the summary counts what the target counted"
    );
    let line = named(&outcome, "eu-west-1/w0000/manifest.json");
    assert!(line.contains("999999"), "{line}");
}

#[test]
fn an_interval_log_larger_than_its_kind_may_be_is_refused_by_its_size_unread() {
    let run = Stored::run("bounded-huge");
    // 200 MB (sparse: no disk used), over the 128 MiB an interval log may have.
    let huge = run.worker("us-east-1", "w0000").join("latency-00042.hlog");
    std::fs::File::create(&huge)
        .and_then(|f| f.set_len(200 * 1024 * 1024))
        .expect("a sparse file");

    let (outcome, total) = run.report();
    assert_eq!(outcome.code(), 1, "{}", outcome.stderr);
    assert_eq!(
        total, run.sent,
        "the summary counts what the target counted"
    );
    let line = named(&outcome, "us-east-1/w0000/latency-00042.hlog");
    assert!(
        line.contains("209715200 bytes, more than the 134217728 an interval log may have"),
        "{line}"
    );
}

#[test]
fn a_log_of_many_bad_lines_names_twenty_and_counts_the_rest() {
    let run = Stored::run("bounded-lines");
    let log = run.worker("eu-west-1", "w0000").join("latency-00000.hlog");
    let mut bytes = std::fs::read(&log).expect("a stored log");
    for i in 0..100_000 {
        bytes.extend_from_slice(
            format!("Tag=v2;metric=x,{i}.000,1.000,1.0,not-base64\n").as_bytes(),
        );
    }
    std::fs::write(&log, bytes).expect("rewrite");
    run.unseal();

    let (outcome, total) = run.report();
    assert_eq!(outcome.code(), 1, "{}", outcome.stderr);
    // The good lines still count.
    assert_eq!(
        total, run.sent,
        "the summary counts what the target counted"
    );
    let key = "eu-west-1/w0000/latency-00000.hlog";
    // One warning per problem (the closing `error:` line names the first too).
    let lines: Vec<&str> = (outcome.stderr.lines())
        .filter(|l| l.contains(key) && l.starts_with("sls-load: warning:"))
        .collect();
    assert_eq!(lines.len(), 21, "{}", outcome.stderr);
    assert!(
        lines.iter().any(|l| l.contains("99980 more lines refused")),
        "{}",
        outcome.stderr
    );
}
