//! Load zones as a user types them: `--regions` sets the zones of any sample
//! scenario (with weights after `=`), and a k6 `distribution` of k6 load-zone
//! names runs in the AWS regions behind them, in proportion to its percents.

use std::path::PathBuf;
use std::time::Duration;

use sls_load_e2e::{Target, run_local, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(90);

/// Every `samples/*.yaml`.
fn samples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("samples dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// `(region, weight)` of a `plan --json` output, weights rounded to 0.001.
fn planned_zones(stdout: &str) -> Vec<(String, f64)> {
    let plan: serde_json::Value = serde_json::from_str(stdout).expect("plan --json is JSON");
    plan["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .map(|r| {
            let weight = r["weight"].as_f64().expect("weight");
            (
                r["region"].as_str().expect("region").to_owned(),
                (weight * 1000.0).round() / 1000.0,
            )
        })
        .collect()
}

#[test]
fn regions_flag_plans_every_sample_in_the_three_zones_given() {
    let files = samples();
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let path = file.to_str().expect("utf-8 path");
        let args = [
            "plan",
            path,
            "--regions",
            "us-east-1,eu-west-1,ap-southeast-1",
            "--json",
        ];
        let outcome = sls_load(&args, LIMIT);
        assert_eq!(outcome.code(), 0, "{path}: {}", outcome.stderr);
        let regions: Vec<String> = planned_zones(&outcome.stdout)
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(
            regions,
            ["us-east-1", "eu-west-1", "ap-southeast-1"],
            "{path}"
        );
    }
}

#[test]
fn regions_flag_takes_weights_and_k6_load_zone_names() {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/demo.yaml");
    let outcome = sls_load(
        &[
            "plan",
            demo.to_str().expect("utf-8 path"),
            "--regions",
            "amazon:us:ashburn=50,eu-west-1=30,amazon:sg:singapore=20",
            "--json",
        ],
        LIMIT,
    );
    assert_eq!(outcome.code(), 0, "{}", outcome.stderr);
    assert_eq!(
        planned_zones(&outcome.stdout),
        [
            ("us-east-1".to_owned(), 0.5),
            ("eu-west-1".to_owned(), 0.3),
            ("ap-southeast-1".to_owned(), 0.2)
        ]
    );
    let outcome = sls_load(
        &[
            "plan",
            demo.to_str().expect("utf-8 path"),
            "--regions",
            "us-eest-1",
        ],
        LIMIT,
    );
    assert_eq!(outcome.code(), 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("did you mean us-east-1?"),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        outcome.stderr.matches("did you mean").count(),
        1,
        "the suggestion once: {}",
        outcome.stderr
    );
}

#[test]
fn a_k6_distribution_runs_in_the_aws_regions_behind_its_load_zones_in_proportion() {
    let target = Target::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = scenario_file(
        dir.path(),
        "distribution.yaml",
        &format!(
            r#"
target: {}
duration: 3s
distribution:
  ashburn: {{ loadZone: "amazon:us:ashburn", percent: 30 }}
  dublin: {{ loadZone: "amazon:ie:dublin", percent: 15 }}
  singapore: {{ loadZone: "amazon:sg:singapore", percent: 15 }}
scenarios:
  steady:
    executor: constant-arrival-rate
    rate: 100
    requests:
      - {{ name: home, method: GET, url: / }}
"#,
            target.url
        ),
    );
    let (outcome, summary) = run_local(dir.path(), &scenario, &[], LIMIT);
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("sls-load: distribution percents sum to 60; renormalised to 100"),
        "{}",
        outcome.stderr
    );
    let s = summary.expect("a summary");
    let requests = |region: &str| s["regions"][region]["requests"].as_u64().unwrap_or(0) as f64;
    let total = s["total"]["requests"].as_u64().expect("total") as f64;
    assert_eq!(total as u64, target.requests());
    assert!(total >= 250.0, "{}", s["regions"]);
    for (region, share) in [
        ("us-east-1", 0.5),
        ("eu-west-1", 0.25),
        ("ap-southeast-1", 0.25),
    ] {
        let got = requests(region) / total;
        assert!(
            (got - share).abs() < 0.05,
            "{region}: {got:.3} of requests, want {share}: {}",
            s["regions"]
        );
    }
}
