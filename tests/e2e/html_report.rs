//! The HTML report in a real browser: a short local three-region run in two
//! slices writes `--html FILE`; Chromium (Debian's, from `make test-deps`)
//! loads it headless with networking disabled and reports no console message,
//! and every time chart holds one point per second of the run for every region
//! and request, with a marker line per recorded event, as read back from the
//! page after its scripts ran. `report RUN_ID --html` rebuilds the same page. A
//! screenshot is kept in `target/html-report/`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use sls_load_e2e::{Target, run_local, scenario_file, sls_load, target_dir};

const LIMIT: Duration = Duration::from_secs(120);

/// Chromium's flags for a page read offline: headless, no sandbox (root), no
/// network use of its own, a fresh profile.
fn chromium(profile: &Path, window: &str) -> Command {
    let mut c = Command::new("timeout");
    c.args(["120", "chromium"]).args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    c.arg(format!("--user-data-dir={}", profile.display()));
    c.arg(format!("--window-size={window}"));
    c
}

/// The JSON in the `data-NAME` attribute of the dumped DOM's body.
fn body_data(dom: &str, name: &str) -> Value {
    let open = format!("data-{name}=\"");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no data-{name} in the page"))
        + open.len();
    let len = dom[start..].find('"').expect("closed attribute");
    let text = dom[start..start + len]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("data-{name}: {e}: {text}"))
}

#[test]
fn the_html_report_draws_every_second_of_every_region_in_a_real_browser() {
    sls_load_e2e::third_party::command("chromium", "chromium");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let scenario = scenario_file(
        dir.path(),
        "html.yaml",
        &format!(
            r#"
target: {}
duration: 4s
regions: [us-east-1, eu-west-1, ap-southeast-1]
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 30
    requests:
      - {{ name: home, url: /, checks: [{{ name: is 200, status: 200 }}] }}
      - {{ name: about, url: /about }}
thresholds:
  http_req_duration: ["p(95)<5000"]
"#,
            target.url
        ),
    );
    let html = dir.path().join("report.html");
    let (outcome, summary) = run_local(
        dir.path(),
        &scenario,
        &[
            "--workers",
            "3",
            "--slice",
            "2s",
            "--html",
            html.to_str().expect("utf-8"),
        ],
        LIMIT,
    );
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    let summary = summary.expect("summary written");
    assert!(
        outcome
            .stdout
            .contains(&format!("HTML report: {}", html.display())),
        "the path is printed beside the summary: {}",
        outcome.stdout
    );
    let run_id = summary["run_id"].as_str().expect("run id");
    let state = dir.path().join("state");
    let stored = state.join(format!("store/sls-load-results/runs/{run_id}/report.html"));
    let page = std::fs::read_to_string(&html).expect("--html written");
    assert_eq!(
        std::fs::read_to_string(&stored).expect("stored with the run"),
        page
    );

    let rebuilt = dir.path().join("rebuilt.html");
    let report = sls_load(
        &[
            "report",
            run_id,
            "--local",
            "--local-dir",
            state.to_str().expect("utf-8"),
            "--html",
            rebuilt.to_str().expect("utf-8"),
        ],
        LIMIT,
    );
    assert_eq!(report.code(), 0, "stderr: {}", report.stderr);
    assert_eq!(
        std::fs::read_to_string(&rebuilt).expect("report --html written"),
        page,
        "report RUN_ID rebuilds the same page"
    );

    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("file://{}", html.display());
    let dumped = chromium(profile.path(), "1280,900")
        .args(["--dump-dom", &url])
        .output()
        .expect("run chromium");
    assert!(dumped.status.success(), "chromium failed: {dumped:?}");
    let log = String::from_utf8_lossy(&dumped.stderr);
    // Chromium logs every console message (errors and uncaught exceptions
    // included) as `INFO:CONSOLE…`; the page logs nothing when all is well.
    assert!(
        !log.contains(":CONSOLE") && !log.contains("Uncaught"),
        "console output: {log}"
    );
    let dom = String::from_utf8_lossy(&dumped.stdout);
    let charts = body_data(&dom, "charts");
    let drawn_markers = body_data(&dom, "markers");

    let duration = summary["duration_s"].as_f64().expect("duration") as usize;
    let series = &summary["series"];
    let markers = summary["markers"].as_array().expect("markers").len();
    assert!(
        markers >= 1,
        "the slice hand-over is a marker: {}",
        summary["markers"]
    );
    for (scope, names) in [
        ("regions", &summary["regions"]),
        ("requests", &summary["requests"]),
    ] {
        let names: Vec<&String> = names.as_object().expect("scopes").keys().collect();
        assert!(!names.is_empty(), "{scope}");
        for figure in ["rps", "errors", "p50", "p95", "p99"] {
            let id = format!("{scope}-{figure}");
            for name in &names {
                let seconds = series[scope][name.as_str()]
                    .as_array()
                    .expect("series")
                    .len();
                assert!(
                    seconds >= duration,
                    "{scope} {name}: {seconds} of {duration} seconds"
                );
                assert_eq!(
                    charts[&id][name.as_str()],
                    seconds,
                    "chart {id}, line {name}: {charts}"
                );
            }
            assert_eq!(drawn_markers[&id], markers, "markers on {id}");
        }
    }
    for region in summary["regions"].as_object().expect("regions").keys() {
        assert!(
            charts["spectrum"][region.as_str()].as_u64().unwrap_or(0) > 1,
            "spectrum of {region}: {charts}"
        );
    }

    let shots = target_dir().join("html-report");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let png = shots.join("report.png");
    let _ = std::fs::remove_file(&png);
    let shot = chromium(profile.path(), "1280,3000")
        .args([&format!("--screenshot={}", png.display()), &url])
        .output()
        .expect("run chromium");
    assert!(shot.status.success(), "screenshot failed: {shot:?}");
    let size = std::fs::metadata(&png).expect("screenshot kept").len();
    assert!(
        size > 10_000,
        "a screenshot of drawn charts, not a blank page: {size} bytes"
    );
    std::fs::copy(&html, shots.join("report.html")).expect("keep the page beside it");
}
