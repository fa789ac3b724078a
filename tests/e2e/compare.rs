//! `sls-load compare` gates a pipeline on a baseline run: a run compared with
//! itself passes; a run against a target 50 ms slower fails (exit 1) and names
//! p95 of each region. `sls-load runs` lists both runs, newest first.

use std::sync::OnceLock;
use std::time::Duration;

use sls_load_e2e::{Outcome, Target, alone, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(90);

/// Two 2-second runs over 2 regions in one store: `cmp-a` against the sample
/// target, then `cmp-b` against one started with `--delay 50ms`.
struct TwoRuns {
    dir: tempfile::TempDir,
}

impl TwoRuns {
    fn state(&self) -> String {
        self.dir
            .path()
            .join("state")
            .to_str()
            .expect("utf-8")
            .to_owned()
    }

    fn sls_load(&self, args: &[&str]) -> Outcome {
        let state = self.state();
        let mut all = args.to_vec();
        all.extend(["--local", "--local-dir", &state]);
        sls_load(&all, LIMIT)
    }
}

fn two_runs() -> &'static TwoRuns {
    static RUNS: OnceLock<TwoRuns> = OnceLock::new();
    RUNS.get_or_init(|| {
        // Latency is what is compared: no other run blurs it meanwhile.
        let _alone = alone();
        let dir = tempfile::tempdir().expect("tempdir");
        let runs = TwoRuns { dir };
        let fast = Target::start(&[]);
        let slow = Target::start(&["--delay", "50ms"]);
        let scenario = scenario_file(
            runs.dir.path(),
            "two-regions.yaml",
            &format!(
                r#"
target: {}
duration: 2s
regions: {{ us-east-1: 0.5, eu-west-1: 0.5 }}
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 20
    requests:
      - {{ name: home, url: / }}
"#,
                fast.url
            ),
        );
        let scenario = scenario.to_str().expect("utf-8");
        for (id, target) in [("cmp-a", &fast.url), ("cmp-b", &slow.url)] {
            let outcome = runs.sls_load(&[
                "run",
                scenario,
                "--workers",
                "2",
                "--quiet",
                "--run-id",
                id,
                "--target",
                target,
            ]);
            assert_eq!(outcome.code(), 0, "run {id}: {}", outcome.stderr);
        }
        runs
    })
}

#[test]
fn a_run_compared_with_itself_passes() {
    let outcome = two_runs().sls_load(&["compare", "cmp-a", "cmp-a"]);
    assert_eq!(outcome.code(), 0, "{}\n{}", outcome.stdout, outcome.stderr);
    for scope in [
        "total",
        "region us-east-1",
        "region eu-west-1",
        "request home",
    ] {
        assert!(
            outcome.stdout.contains(&format!("\n{scope}: ok\n")),
            "{scope}: {}",
            outcome.stdout
        );
    }
    assert!(
        outcome.stdout.ends_with("\nno regression\n"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn a_run_against_a_50ms_slower_target_fails_and_names_p95_of_each_region() {
    let outcome = two_runs().sls_load(&["compare", "cmp-a", "cmp-b"]);
    assert_eq!(outcome.code(), 1, "{}\n{}", outcome.stdout, outcome.stderr);
    for region in ["us-east-1", "eu-west-1"] {
        let named = format!("p95 of region {region}: ");
        let line = outcome
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&named))
            .unwrap_or_else(|| panic!("{named}: {}", outcome.stdout));
        assert!(line.ends_with("> 10%"), "{line}");
        assert!(outcome.stderr.contains(&named), "{}", outcome.stderr);
    }
    assert!(
        outcome.stdout.contains("\nregion eu-west-1: REGRESSION\n"),
        "{}",
        outcome.stdout
    );

    // The same judgement as JSON for tools; a looser tolerance lets it pass.
    let json = two_runs().sls_load(&["compare", "cmp-a", "cmp-b", "--json"]);
    assert_eq!(json.code(), 1, "{}", json.stderr);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let regions: Vec<&str> = doc["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["verdict"] == "regression")
        .filter_map(|r| r["scope"].as_str())
        .collect();
    assert!(regions.contains(&"region us-east-1") && regions.contains(&"region eu-west-1"));
    let loose = two_runs().sls_load(&[
        "compare",
        "cmp-a",
        "cmp-b",
        "--tolerance",
        "p95=off,p99=off",
    ]);
    assert_eq!(loose.code(), 0, "{}\n{}", loose.stdout, loose.stderr);
}

#[test]
fn a_tolerance_that_cannot_be_read_is_bad_input() {
    let outcome = two_runs().sls_load(&["compare", "cmp-a", "cmp-b", "--tolerance", "p95=10"]);
    assert_eq!(outcome.code(), 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("--tolerance `p95=10`: expected N%"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn runs_lists_both_runs_newest_first_with_their_verdicts() {
    let outcome = two_runs().sls_load(&["runs"]);
    assert_eq!(outcome.code(), 0, "{}", outcome.stderr);
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", outcome.stdout);
    assert!(lines[0].starts_with("RUN ID "), "{}", outcome.stdout);
    for (line, id) in lines[1..].iter().zip(["cmp-b", "cmp-a"]) {
        assert!(line.starts_with(id), "{}", outcome.stdout);
        for field in [
            "two-regions.yaml",
            "us-east-1,eu-west-1",
            " 40 ",
            " passed ",
            "$",
        ] {
            assert!(line.contains(field), "{field}: {line}");
        }
    }

    let json = two_runs().sls_load(&["runs", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let runs = doc.as_array().expect("array");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["run_id"], "cmp-b");
    assert_eq!(runs[1]["verdict"], "passed");
    assert_eq!(runs[1]["requests"], 40);
    assert!(runs[1]["cost_usd"].as_f64().is_some_and(|usd| usd > 0.0));
}
