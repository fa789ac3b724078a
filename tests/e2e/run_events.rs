//! A `run:` event runs in a process group of its own (issue #19): at its
//! timeout the whole group is ended, so the shell's children do not outlive it.

use std::time::Duration;

use sls_load_e2e::{Target, run_local, scenario_file};

const LIMIT: Duration = Duration::from_secs(60);

/// Processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) {
            found.push(format!("{}: {text}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

#[test]
fn a_run_event_past_its_timeout_leaves_no_process_behind() {
    let target = Target::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    // A child of the shell (the `; true` keeps the shell from exec-ing it),
    // named by a number no other test uses.
    let marker = format!("61.{}", std::process::id());
    let text = format!(
        "target: {}\nduration: 3s\nscenarios:\n  s:\n    executor: constant-arrival-rate\n    rate: 5\n    requests: [{{ name: home, url: / }}]\nevents:\n  - {{ at: 0s, name: stuck, run: 'sleep {marker}; true', timeout: 2s }}\n",
        target.url
    );
    let file = scenario_file(dir.path(), "stuck.yaml", &text);
    let (outcome, summary) = run_local(dir.path(), &file, &["--allow-exec"], LIMIT);
    assert_eq!(
        outcome.code(),
        1,
        "a failed event fails the run: {}",
        outcome.stderr
    );
    let summary = summary.expect("summary");
    let event = &summary["events"][0];
    assert_eq!(event["outcome"], "failed", "{event}");
    assert!(
        event["error"]
            .as_str()
            .unwrap_or_default()
            .contains("killed after its timeout"),
        "{event}"
    );
    let sleep = format!("sleep {marker}");
    assert_eq!(processes_with(&sleep), Vec::<String>::new(), "left behind");
}
