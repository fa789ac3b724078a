//! The kill switch, on the symptom: requests counted at the target stop growing
//! once a run is stopped (`sls-load stop` from another process, Ctrl-C,
//! SIGTERM), once its orchestrator is killed, and once the orchestrator is frozen
//! while a `--heartbeat` dead-man switch is armed; and what was flushed stays
//! reportable.
//!
//! Each run is scheduled for 20 s at 40 requests/s and stopped after a few; the
//! bounds are the documented ones (a worker checks every 2 s, flushes every 1 s
//! here, and gives requests in flight at most 2 s), never timings of speed. The
//! engine's stop signal and the worker's reading of the control objects have
//! their own unit tests (`function/src/engine/stop.rs`, `function/src/control.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::{JoinHandle, sleep};
use std::time::{Duration, Instant};

use sls_load_e2e::{Outcome, Target, read_json, scenario_file, sls_load, sls_load_in_background};

const LIMIT: Duration = Duration::from_secs(90);
/// What the whole 20 s schedule would send.
const FULL: u64 = 20 * 40;
/// Control check period + flush period + stop drain + 2 s of slack.
const STOP_BOUND: Duration = Duration::from_secs(2 + 1 + 2 + 2);

/// One run of the kill-switch scenario, started in the background.
struct Run {
    id: String,
    dir: tempfile::TempDir,
    target: Target,
    handle: Option<JoinHandle<Outcome>>,
}

impl Run {
    /// Starts a 20 s run of 2 workers at 40 requests/s, flushing every second.
    fn start(name: &str, extra: &[&str]) -> Run {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = Target::start(&[]);
        let scenario = scenario_file(
            dir.path(),
            "long.yaml",
            &format!(
                r#"
target: {}
duration: 20s
scenarios:
  steady:
    executor: constant-arrival-rate
    rate: 40
    requests:
      - {{ name: home, method: GET, url: / }}
"#,
                target.url
            ),
        );
        let id = format!("ks-{name}-{}", std::process::id());
        let mut args: Vec<String> = [
            "run",
            path(&scenario),
            "--local",
            "--local-dir",
            path(&dir.path().join("state")),
            "--workers",
            "2",
            "--flush-every",
            "1s",
            "--quiet",
            "--run-id",
            &id,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let handle = sls_load_in_background(args, LIMIT);
        let run = Run {
            id,
            dir,
            target,
            handle: Some(handle),
        };
        run.wait_for_load();
        run
    }

    /// Waits until the target has been receiving load for a second.
    fn wait_for_load(&self) {
        let began = Instant::now();
        while self.target.requests() == 0 {
            assert!(
                began.elapsed() < Duration::from_secs(30),
                "no load reached the target"
            );
            sleep(Duration::from_millis(100));
        }
        sleep(Duration::from_secs(1));
    }

    /// Waits for the run to end.
    fn join(&mut self) -> Outcome {
        let handle = self.handle.take().expect("joined once");
        handle.join().expect("run thread")
    }

    fn local_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The process id of this run's `sls-load run`, found by its run id.
    fn pid(&self) -> u32 {
        for (pid, dir) in processes() {
            let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
                continue;
            };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            if args.first().is_some_and(|a| a.ends_with(b"/sls-load"))
                && args.get(1) == Some(&&b"run"[..])
                && args.contains(&self.id.as_bytes())
            {
                return pid;
            }
        }
        panic!("no sls-load run process for {}", self.id);
    }

    /// Sends `signal` (`INT`, `TERM`, `KILL`, `STOP`, `CONT`) to the orchestrator.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {signal}");
    }

    /// The `bootstrap` processes the orchestrator spawned (its children).
    fn workers(&self) -> Vec<u32> {
        let parent = self.pid().to_string();
        let mut pids = Vec::new();
        for (pid, dir) in processes() {
            let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
            let Some((head, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            if head.ends_with("(bootstrap") && rest.split_whitespace().nth(1) == Some(&parent) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Target counts `STOP_BOUND` after now and 3 s after that: equal once the
    /// load has stopped.
    fn counts_after_the_bound(&self) -> (u64, u64) {
        sleep(STOP_BOUND);
        let settled = self.target.requests();
        sleep(Duration::from_secs(3));
        (settled, self.target.requests())
    }

    /// `sls-load report` of this run, with the summary it exported.
    fn report(&self) -> (Outcome, serde_json::Value) {
        let export = self.dir.path().join("report.json");
        let outcome = sls_load(
            &[
                "report",
                &self.id,
                "--local",
                "--local-dir",
                path(&self.local_dir()),
                "--summary-export",
                path(&export),
            ],
            LIMIT,
        );
        (outcome, read_json(&export))
    }

    /// The manifests the workers stored.
    fn manifests(&self) -> Vec<serde_json::Value> {
        let run = self
            .local_dir()
            .join("store/sls-load-results/runs")
            .join(&self.id)
            .join("us-east-1");
        let mut manifests = Vec::new();
        for worker in std::fs::read_dir(&run).expect("the run's objects") {
            let file = worker.expect("entry").path().join("manifest.json");
            if file.is_file() {
                manifests.push(read_json(&file));
            }
        }
        manifests
    }

    /// The `summary.json` the run stored.
    fn stored_summary(&self) -> serde_json::Value {
        read_json(
            &self
                .local_dir()
                .join("store/sls-load-results/runs")
                .join(&self.id)
                .join("summary.json"),
        )
    }
}

/// Every process now: its id and its `/proc` directory.
fn processes() -> impl Iterator<Item = (u32, PathBuf)> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().to_string_lossy().parse().ok()?, e.path())))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn sls_load_stop_from_another_process_stops_the_load_and_the_workers_say_so() {
    let mut run = Run::start("stop", &[]);
    let stop = sls_load(
        &[
            "stop",
            &run.id,
            "--local",
            "--local-dir",
            path(&run.local_dir()),
        ],
        LIMIT,
    );
    assert_eq!(stop.code(), 0, "{}", stop.stderr);
    let (settled, later) = run.counts_after_the_bound();
    assert_eq!(settled, later, "the target still receives requests");
    assert!(later < FULL / 2, "{later} of {FULL}: not stopped early");

    let outcome = run.join();
    assert_eq!(outcome.code(), 105, "{}", outcome.stderr);
    let manifests = run.manifests();
    assert_eq!(manifests.len(), 2);
    for m in &manifests {
        assert_eq!(m["stopped"], true, "{m}");
    }
    let (report, summary) = run.report();
    assert_eq!(report.code(), 105, "{}", report.stderr);
    assert_eq!(summary["interrupted"], true);
    assert_eq!(summary["total"]["requests"], later, "every request, once");
}

#[test]
fn sls_load_stop_refuses_an_unknown_run_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outcome = sls_load(
        &[
            "stop",
            "no-such-run",
            "--local",
            "--local-dir",
            path(dir.path()),
        ],
        LIMIT,
    );
    assert_eq!(outcome.code(), 1);
    assert_eq!(
        outcome.stderr.trim().lines().count(),
        1,
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("no-such-run"), "{}", outcome.stderr);
}

/// A run interrupted by `signal` ends with 105 and a summary marked interrupted
/// that counts every request the target received.
fn interrupted_by(signal: &str) {
    let mut run = Run::start(&signal.to_lowercase(), &[]);
    run.signal(signal);
    let outcome = run.join();
    let received = run.target.requests();
    assert_eq!(outcome.code(), 105, "{}", outcome.stderr);
    assert!(outcome.stdout.contains("interrupted"), "{}", outcome.stdout);
    assert!(
        received < FULL / 2,
        "{received} of {FULL}: not stopped early"
    );
    sleep(Duration::from_secs(2));
    assert_eq!(run.target.requests(), received, "load after the exit");
    assert_eq!(run.stored_summary()["interrupted"], true);
    let (report, summary) = run.report();
    assert_eq!(report.code(), 105, "{}", report.stderr);
    assert_eq!(
        summary["total"]["requests"], received,
        "every request, once"
    );
}

#[test]
fn ctrl_c_stops_the_workers_and_ends_with_an_interrupted_summary_and_105() {
    interrupted_by("INT");
}

/// The process group of process `pid` (field 5 of `/proc/PID/stat`).
fn process_group(pid: u32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let (_, rest) = stat.rsplit_once(')').expect("comm");
    rest.split_whitespace().nth(2).expect("pgrp").to_owned()
}

/// A Ctrl-C at a terminal signals its whole foreground process group: local
/// workers sharing the orchestrator's would die of it before their last flush
/// (16 of 36 requests reported once). They have their own, so only the
/// orchestrator gets it and every request is reported.
#[test]
fn local_workers_are_out_of_reach_of_the_terminals_ctrl_c() {
    let mut run = Run::start("pgrp", &[]);
    let workers = run.workers();
    assert_eq!(workers.len(), 2, "two bootstrap processes: {workers:?}");
    let orchestrator = process_group(run.pid());
    for worker in &workers {
        assert_ne!(process_group(*worker), orchestrator, "worker {worker}");
    }
    run.signal("INT");
    let outcome = run.join();
    assert_eq!(outcome.code(), 105, "{}", outcome.stderr);
    let (_, summary) = run.report();
    assert_eq!(summary["total"]["requests"], run.target.requests());
}

#[test]
fn sigterm_is_handled_like_ctrl_c() {
    interrupted_by("TERM");
}

#[test]
fn a_killed_orchestrator_leaves_no_load_running_and_its_flushed_intervals_reportable() {
    let mut run = Run::start("kill", &[]);
    // About 3 s of load: a few intervals flushed (every second).
    sleep(Duration::from_secs(2));
    run.signal("KILL");
    let outcome = run.join();
    assert!(
        outcome.status.code().is_none(),
        "killed: {:?}",
        outcome.status
    );
    sleep(Duration::from_secs(5));
    let after_5s = run.target.requests();
    sleep(Duration::from_secs(3));
    assert_eq!(run.target.requests(), after_5s, "load still running");
    assert!(after_5s < FULL / 2, "{after_5s} of {FULL}");

    let (report, summary) = run.report();
    assert_eq!(report.code(), 1, "{}", report.stderr);
    assert!(
        report.stderr.contains("did not report"),
        "{}",
        report.stderr
    );
    let total = summary["total"]["requests"].as_u64().expect("total");
    assert!(total > 0, "the intervals flushed before the kill");
    assert!(total <= after_5s);
    assert!(summary["cost"]["gb_seconds"].as_f64() >= Some(0.0));
    assert!(!report.stdout.contains("-0.0 GB-s"), "{}", report.stdout);
}

#[test]
fn a_worker_told_to_terminate_flushes_its_last_intervals_and_says_stopped() {
    let mut run = Run::start("term-worker", &[]);
    let workers = run.workers();
    assert_eq!(workers.len(), 2, "two bootstrap processes: {workers:?}");
    for pid in &workers {
        let status = Command::new("kill")
            .args(["-s", "TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s TERM {pid}");
    }
    let (settled, later) = run.counts_after_the_bound();
    assert_eq!(settled, later, "the target still receives requests");
    assert!(later < FULL / 2, "{later} of {FULL}: not stopped early");

    let outcome = run.join();
    let manifests = run.manifests();
    assert_eq!(manifests.len(), 2, "{}", outcome.stderr);
    for m in &manifests {
        assert_eq!(m["stopped"], true, "{m}");
    }
    let (report, summary) = run.report();
    assert_eq!(
        summary["total"]["requests"], later,
        "every request the target received, once: {}",
        report.stderr
    );
    // Stopped workers and no control object: the run reads as interrupted.
    assert_eq!(report.code(), 105, "{}", report.stderr);
    assert_eq!(outcome.code(), 105, "{}", outcome.stderr);
}

#[test]
fn with_a_heartbeat_workers_stop_by_themselves_when_the_orchestrator_freezes() {
    let mut run = Run::start("heartbeat", &["--heartbeat", "3s"]);
    run.signal("STOP");
    // Stale after 3 s, seen at the next check (2 s later, and a read may take
    // 2 s), then 2 s for requests in flight and 1 s of slack.
    sleep(Duration::from_secs(3 + 2 + 2 + 2 + 1));
    let settled = run.target.requests();
    sleep(Duration::from_secs(3));
    let later = run.target.requests();
    run.signal("CONT");
    assert_eq!(settled, later, "the workers kept sending");
    assert!(later < FULL / 2, "{later} of {FULL}: not stopped early");
    let outcome = run.join();
    assert_eq!(outcome.code(), 105, "{}", outcome.stderr);
    assert!(run.manifests().iter().all(|m| m["stopped"] == true));
}
