//! k6's vocabulary as a k6 user types it: the top-level shortcuts build the default
//! scenario (`vus` + `iterations` → `shared-iterations`), and the command line
//! overrides them as k6's `--vus`/`--duration` do.

use std::time::Duration;

use sls_load_e2e::{Target, run_local, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(90);

/// Runs `scenario` locally with `extra` arguments; returns the summary.
fn run(dir: &std::path::Path, scenario: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let (outcome, summary) = run_local(dir, scenario, extra, LIMIT);
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    summary.expect("a summary")
}

#[test]
fn vus_and_iterations_at_the_top_level_share_exactly_that_many_iterations() {
    let target = Target::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = scenario_file(
        dir.path(),
        "k6.yaml",
        &format!(
            r#"
target: {}
vus: 2
iterations: 10
requests:
  - {{ name: home, url: /home }}
  - {{ name: cart, url: /cart }}
"#,
            target.url
        ),
    );
    let s = run(dir.path(), &scenario, &[]);
    let by_path = &target.stats()["by_path"];
    assert_eq!(by_path["/home"], 10, "{by_path}");
    assert_eq!(by_path["/cart"], 10, "{by_path}");
    assert_eq!(s["total"]["requests"].as_u64(), Some(20), "{}", s["total"]);
}

#[test]
fn vus_and_duration_flags_replace_the_files_scenarios_with_the_default_one() {
    let target = Target::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    // The file would send 1000 requests per second for a minute.
    let scenario = scenario_file(
        dir.path(),
        "rate.yaml",
        &format!(
            r#"
target: {}
duration: 1m
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 1000
    requests:
      - {{ name: home, url: /home, sleep: 100ms }}
"#,
            target.url
        ),
    );
    let started = std::time::Instant::now();
    let s = run(dir.path(), &scenario, &["--vus", "2", "--duration", "2s"]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "ran the file's minute"
    );
    assert_eq!(s["duration_s"].as_f64(), Some(2.0), "{}", s["duration_s"]);
    // Two VUs, each one request and 100 ms of think time per iteration, for 2 s:
    // about 40 requests, far from the file's 60,000.
    let at_target = target.stats()["by_path"]["/home"].as_u64().unwrap_or(0);
    assert!((10..=44).contains(&at_target), "{at_target}");
    assert_eq!(s["total"]["requests"].as_u64(), Some(at_target));
}

/// `sls-load plan FILE --json ARGS...` as JSON; fails the test on a non-zero exit.
fn planned(file: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["plan", file.to_str().expect("utf-8"), "--json"];
    all.extend_from_slice(args);
    let out = sls_load(&all, LIMIT);
    assert_eq!(out.code(), 0, "{all:?}: {}", out.stderr);
    serde_json::from_str(&out.stdout).expect("plan JSON")
}

#[test]
fn a_duration_reads_the_same_in_the_file_and_on_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |name: &str, duration: &str| {
        let text = format!(
            "target: http://127.0.0.1:9\nvus: 2\nduration: \"{duration}\"\n\
             requests:\n  - {{ name: home, url: / }}\n"
        );
        scenario_file(dir.path(), name, &text)
    };
    let other = file("other.yaml", "10m");
    for (written, seconds) in [
        ("1.5s", 1.5),
        ("1m30s", 90.0),
        ("1m 30s", 90.0),
        ("15 seconds", 15.0),
        ("500ms", 0.5),
    ] {
        let in_file = planned(&file("in-file.yaml", written), &[]);
        let on_line = planned(&other, &["--vus", "2", "--duration", written]);
        assert_eq!(in_file["duration"], on_line["duration"], "{written}");
        assert_eq!(
            in_file["jobs"][0]["duration"],
            on_line["jobs"][0]["duration"]
        );
        let d = stored_seconds(&in_file["duration"]);
        assert_eq!(d, seconds, "{written}: {}", in_file["duration"]);
    }
    // What neither takes, both refuse with the same words.
    for refused in ["1y", "2 months", "15"] {
        let in_file = sls_load(
            &["plan", file("bad.yaml", refused).to_str().expect("utf-8")],
            LIMIT,
        );
        let path = other.to_str().expect("utf-8");
        let on_line = sls_load(&["plan", path, "--vus", "2", "--duration", refused], LIMIT);
        let said = format!("invalid duration `{refused}` (use e.g. 500ms, 15s, 2m, 1m30s)");
        for out in [&in_file, &on_line] {
            assert_eq!(out.code(), 2, "{refused}: {}", out.stderr);
            assert!(out.stderr.contains(&said), "{refused}: {}", out.stderr);
        }
    }
}

/// A plan.json duration (`"1m 30s"`, humantime's writing) in seconds.
fn stored_seconds(v: &serde_json::Value) -> f64 {
    humantime::parse_duration(v.as_str().expect("a string"))
        .expect("plan.json durations are humantime's")
        .as_secs_f64()
}
