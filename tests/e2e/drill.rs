//! Failover drills through the real binaries: a drill against the sample
//! multi-region system (three backends behind a router that needs about 3 s to
//! fail over) measures the affected region's time to recover, keeps the other
//! regions in their band, shows eu-west-1's traffic moving to another backend
//! and back, and accounts for every request; an outage ended by a later event
//! (`ends:`) is timed to its end, and an unrelated stall after it blames
//! nothing; a 300 ms outage reads 300 ms; `pause_region` holds back one
//! region's arrivals in its window and counts them as paused; `run:` needs
//! `--allow-exec`; a failed event fails the run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sls_load_e2e::{
    Target, alone, bin_dir, read_json, refused_url, run_local, scenario_file, sls_load,
};

const LIMIT: Duration = Duration::from_secs(120);

/// `sls-load-target system` on a free port, killed on drop: three regional
/// backends and the router in front of them.
struct System {
    child: Child,
    /// The router's base URL.
    url: String,
    /// Each backend's region and base URL.
    backends: Vec<(String, String)>,
}

impl System {
    fn start(args: &[&str]) -> System {
        let mut child = Command::new(bin_dir().join("sls-load-target"))
            .args(["system", "--listen", "127.0.0.1:0", "--exit-after", "180s"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sls-load-target system");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut backends = Vec::new();
        let url = loop {
            let line = lines.next().expect("a line").expect("read a line");
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim().to_owned();
            }
            let mut words = line.split_whitespace();
            if let (Some("backend"), Some(region), Some(url)) =
                (words.next(), words.next(), words.next())
            {
                backends.push((region.to_owned(), url.to_owned()));
            }
        };
        System {
            child,
            url,
            backends,
        }
    }

    /// Requests every backend counted (its own `GET /__stats`), summed.
    fn backend_requests(&self) -> u64 {
        self.backends
            .iter()
            .map(|(_, url)| {
                get_json(url, "/__stats")["requests"]
                    .as_u64()
                    .expect("count")
            })
            .sum()
    }
}

impl Drop for System {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` of the server at `base` (`http://ADDR`), as JSON.
fn get_json(base: &str, path: &str) -> serde_json::Value {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    s.read_to_string(&mut response).expect("read");
    let body = response.split("\r\n\r\n").nth(1).expect("body");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON: {e}: {body}"))
}

/// What `event` did to `region` in the summary's drill section.
fn analysis<'a>(
    summary: &'a serde_json::Value,
    event: &str,
    region: &str,
) -> &'a serde_json::Value {
    let events = summary["drill"]["events"].as_array().expect("drill events");
    let e = events
        .iter()
        .find(|e| e["event"] == event)
        .unwrap_or_else(|| panic!("no event {event}: {summary}"));
    &e["regions"][region]
}

/// The largest `served_by` share of `window` (`before`, `during`, `after`).
fn main_backend(a: &serde_json::Value, window: &str) -> (String, f64) {
    a["served_by"][window]
        .as_object()
        .unwrap_or_else(|| panic!("served_by.{window}: {a}"))
        .iter()
        .map(|(b, f)| (b.clone(), f.as_f64().expect("share")))
        .max_by(|x, y| x.1.total_cmp(&y.1))
        .expect("a backend")
}

#[test]
fn a_drill_measures_the_failover_of_the_region_that_lost_its_backend() {
    let _alone = alone();
    // Health checks every second, down after three failures: about 3 s to fail over.
    let system = System::start(&[
        "--delay",
        "10ms",
        "--health-every",
        "1s",
        "--fail-after",
        "3",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "\
target: {}
duration: 24s
regions: {{ us-east-1: 1, eu-west-1: 1, ap-southeast-1: 1 }}
region_header: X-Client-Region
served_by: {{ header: X-Served-Region }}
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 60
    requests:
      - {{ name: home, url: /, expect_status: 200 }}
events:
  - {{ at: 8s, name: eu-down, http: {{ method: POST, url: /regions/eu-west-1/down }} }}
  - {{ at: 16s, name: eu-up, http: {{ method: POST, url: /regions/eu-west-1/up }} }}
# Latency on a shared two-core box is noisy second by second: this drill is
# judged on errors and routing, so the p95 part of the band is wide.
drill: {{ baseline: 6s, stable_for: 3s, band: {{ errors_pp: 1, p95_factor: 10 }} }}
thresholds:
  time_to_recover: ['<10s']
  'drill_errors{{region:us-east-1}}': ['<1']
",
        system.url
    );
    let file = scenario_file(dir.path(), "drill.yaml", &text);
    // An `--out` output drains the closed seconds too: the drill still sees them all.
    let points = dir.path().join("points.json");
    let out = format!("json={}", points.display());
    let (outcome, summary) = run_local(dir.path(), &file, &["--out", &out], LIMIT);
    let summary = summary.expect("summary");
    assert_eq!(outcome.code(), 0, "{}\n{}", outcome.stderr, outcome.stdout);
    assert!(
        outcome.stdout.contains("✓ eu-down (http)"),
        "{}",
        outcome.stdout
    );

    // The affected region: detected at once, recovered once the router failed over.
    let eu = analysis(&summary, "eu-down", "eu-west-1");
    let ttr = eu["time_to_recover_s"]
        .as_f64()
        .expect("eu-west-1 recovered");
    assert!((2.5..=5.0).contains(&ttr), "time to recover {ttr}: {eu}");
    assert!(
        eu["time_to_detect_s"].as_f64().expect("detected") <= 1.0,
        "{eu}"
    );
    assert!(eu["failed_during"].as_u64().expect("failed") > 0, "{eu}");
    // The other regions never left their band.
    for region in ["us-east-1", "ap-southeast-1"] {
        for event in ["eu-down", "eu-up"] {
            let a = analysis(&summary, event, region);
            assert!(a["time_to_detect_s"].is_null(), "{event} {region}: {a}");
            assert_eq!(a["failed_during"], 0, "{event} {region}: {a}");
        }
    }
    // eu-west-1's traffic moved to another backend while it was down (`eu-up`
    // acts on the same region: `eu-down`'s window ends there), and came back.
    assert_eq!(
        (
            eu["during"]["from_s"].as_u64(),
            eu["during"]["to_s"].as_u64()
        ),
        (Some(8), Some(16))
    );
    assert_eq!(main_backend(eu, "before"), ("eu-west-1".to_owned(), 1.0));
    let (away, share) = main_backend(eu, "during");
    assert!(away != "eu-west-1" && share > 0.5, "{away} {share}: {eu}");
    let back = analysis(&summary, "eu-up", "eu-west-1");
    let (home, share) = main_backend(back, "after");
    assert!(home == "eu-west-1" && share > 0.9, "{home} {share}: {back}");

    // Every request is accounted for: the backends counted what the summary did.
    let total = summary["total"]["requests"].as_u64().expect("requests");
    assert_eq!(system.backend_requests(), total);
    let markers: Vec<&str> = summary["markers"]
        .as_array()
        .expect("markers")
        .iter()
        .filter(|m| m["kind"] == "event")
        .map(|m| m["label"].as_str().expect("label"))
        .collect();
    assert_eq!(markers, ["eu-down", "eu-up"]);

    // `report RUN_ID` rebuilds the same drill from the store alone.
    let id = summary["run_id"].as_str().expect("run id");
    let state = dir.path().join("state");
    let export = dir.path().join("report.json");
    let report = sls_load(
        &[
            "report",
            id,
            "--local",
            "--local-dir",
            state.to_str().expect("utf-8"),
            "--summary-export",
            export.to_str().expect("utf-8"),
        ],
        LIMIT,
    );
    assert_eq!(report.code(), 0, "{}", report.stderr);
    let rebuilt = read_json(&export);
    assert_eq!(rebuilt["drill"], summary["drill"]);
    assert_eq!(rebuilt["events"], summary["events"]);
}

#[test]
fn an_outage_ended_by_a_later_event_is_timed_to_its_end_and_a_later_stall_blames_nothing() {
    let _alone = alone();
    // The target answers 503 from the event at 6 s to the one at 9 s; it stalls
    // for 1 s on its own about 16 s into the run (its clock starts before the
    // run's, which starts `--lead` after planning).
    let lead = Duration::from_secs(3);
    let stall_at = format!("{}ms", (lead + Duration::from_secs(16)).as_millis());
    let target = Target::start(&["--stall-at", &stall_at, "--stall-for", "1s"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "\
target: {}
duration: 20s
regions: {{ us-east-1: 1, eu-west-1: 1, ap-southeast-1: 1 }}
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 150
    max_vus: 200
    requests:
      - {{ name: home, url: /, expect_status: 200 }}
events:
  - {{ at: 6s, name: down, http: {{ method: POST, url: /__down }} }}
  - {{ at: 9s, name: up, ends: down, http: {{ method: POST, url: /__up }} }}
# A shared two-core box makes single seconds slow: the p95 part of the band is
# wide (the stall's answers wait up to a second, far past it anyway).
drill: {{ band: {{ p95_factor: 10 }} }}
thresholds:
  time_to_recover: ['<5s']
  time_to_detect: ['<2s']
",
        target.url
    );
    let file = scenario_file(dir.path(), "ends.yaml", &text);
    let (outcome, summary) = run_local(dir.path(), &file, &["--lead", "3s"], LIMIT);
    let summary = summary.expect("summary");
    assert_eq!(outcome.code(), 0, "{}\n{}", outcome.stderr, outcome.stdout);
    let drill = &summary["drill"];
    assert_eq!(drill["detect_for_s"], 2.0, "the default");
    let up = drill["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["event"] == "up")
        .expect("up");
    assert_eq!(up["ends"], "down");
    for region in ["us-east-1", "eu-west-1", "ap-southeast-1"] {
        let a = analysis(&summary, "down", region);
        let ttr = a["time_to_recover_s"].as_f64().expect("recovered");
        assert!(
            (2.5..=4.0).contains(&ttr),
            "{region}: time to recover {ttr}: {a}"
        );
        let ttd = a["time_to_detect_s"].as_f64().expect("detected");
        assert!(ttd <= 1.0, "{region}: time to detect {ttd}: {a}");
        eprintln!("{region}: detect {ttd} s, recover {ttr} s");
        // The restoring event is the outage's end, with its figures.
        assert_eq!(analysis(&summary, "up", region), a, "{region}");
        // Every request of the outage failed at the target and in the summary.
        assert!(a["failed_during"].as_u64().expect("failed") > 0, "{a}");
    }
    // Counted at the target: the 503s it sent are the summary's errors.
    let errors = summary["total"]["errors"].as_u64().expect("errors");
    let stats = target.stats();
    assert_eq!(stats["by_status"]["503"].as_u64(), Some(errors), "{stats}");
    assert_eq!(stats["requests"], summary["total"]["requests"], "{stats}");
    assert!(
        outcome.stdout.contains("up at 9.0s ends down"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn a_300ms_outage_of_each_regions_backend_reads_300ms() {
    let _alone = alone();
    // Health checks every 2 s, down after three: the router never notices a
    // 300 ms outage, so each region's clients get 503 for exactly that long.
    let system = System::start(&["--health-every", "2s", "--fail-after", "3"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "\
target: {}
duration: 16s
regions: {{ us-east-1: 1, eu-west-1: 1, ap-southeast-1: 1 }}
region_header: X-Client-Region
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 300
    max_vus: 300
    requests:
      - {{ name: home, url: /, expect_status: 200 }}
events:
  - {{ at: 4s, name: eu-down, http: {{ method: POST, url: /regions/eu-west-1/down }} }}
  - {{ at: 4300ms, name: eu-up, ends: eu-down, http: {{ method: POST, url: /regions/eu-west-1/up }} }}
  - {{ at: 7s, name: us-down, http: {{ method: POST, url: /regions/us-east-1/down }} }}
  - {{ at: 7300ms, name: us-up, ends: us-down, http: {{ method: POST, url: /regions/us-east-1/up }} }}
  - {{ at: 10s, name: ap-down, http: {{ method: POST, url: /regions/ap-southeast-1/down }} }}
  - {{ at: 10300ms, name: ap-up, ends: ap-down, http: {{ method: POST, url: /regions/ap-southeast-1/up }} }}
drill: {{ baseline: 3s, detect_for: 100ms, stable_for: 2s, band: {{ p95_factor: 10 }} }}
",
        system.url
    );
    let file = scenario_file(dir.path(), "short.yaml", &text);
    let (outcome, summary) = run_local(dir.path(), &file, &[], LIMIT);
    let summary = summary.expect("summary");
    assert_eq!(outcome.code(), 0, "{}\n{}", outcome.stderr, outcome.stdout);
    // The events' actual instants are when each backend went down and up.
    let started = |name: &str| {
        summary["events"]
            .as_array()
            .expect("events")
            .iter()
            .find(|e| e["name"] == name)
            .and_then(|e| e["started_s"].as_f64())
            .unwrap_or_else(|| panic!("{name} started: {}", summary["events"]))
    };
    for (down, up, home) in [
        ("eu-down", "eu-up", "eu-west-1"),
        ("us-down", "us-up", "us-east-1"),
        ("ap-down", "ap-up", "ap-southeast-1"),
    ] {
        let outage = started(up) - started(down);
        let a = analysis(&summary, down, home);
        let ttr = a["time_to_recover_s"].as_f64().expect("recovered");
        assert!(
            (ttr - outage).abs() <= 0.3,
            "{down}: recover {ttr} for an outage of {outage}: {a}"
        );
        let ttd = a["time_to_detect_s"].as_f64().expect("detected");
        assert!(ttd <= 0.3, "{down}: detect {ttd}: {a}");
        eprintln!("{down}: outage {outage:.3} s, detect {ttd} s, recover {ttr} s");
        for other in ["us-east-1", "eu-west-1", "ap-southeast-1"]
            .into_iter()
            .filter(|r| *r != home)
        {
            let b = analysis(&summary, down, other);
            assert!(b["time_to_detect_s"].is_null(), "{down} {other}: {b}");
            assert!(b["time_to_recover_s"].is_null(), "{down} {other}: {b}");
            assert_eq!(b["failed_during"], 0, "{down} {other}: {b}");
        }
    }
}

#[test]
fn a_paused_region_sends_nothing_in_its_window_and_counts_the_arrivals_paused() {
    let target = Target::start(&["--expect-header", "X-Client-Region=eu-west-1"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "\
target: {}
duration: 4s
regions: {{ us-east-1: 1, eu-west-1: 1 }}
region_header: X-Client-Region
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 20
    requests:
      - {{ name: home, url: / }}
events:
  - {{ at: 1s, name: eu-gone, pause_region: eu-west-1, until: 3s }}
",
        target.url
    );
    let file = scenario_file(dir.path(), "pause.yaml", &text);
    let (outcome, summary) = run_local(dir.path(), &file, &[], LIMIT);
    assert_eq!(outcome.code(), 0, "{}", outcome.stderr);
    let summary = summary.expect("summary");
    // 10 arrivals a second per region: eu-west-1's 20 due from 1 s to 3 s paused.
    let paused = summary["paused_iterations"].as_u64().expect("paused");
    assert!((19..=21).contains(&paused), "paused {paused}: {summary}");
    let stats = target.stats();
    let eu_sent = stats["expected_headers"][0]
        .as_u64()
        .expect("eu-west-1 count");
    assert_eq!(eu_sent + paused, 40, "{stats}");
    assert_eq!(summary["regions"]["us-east-1"]["requests"], 40);
    assert_eq!(
        stats["requests"].as_u64(),
        summary["total"]["requests"].as_u64()
    );
    // No eu-west-1 request in the paused seconds.
    let eu_series = summary["series"]["regions"]["eu-west-1"]
        .as_array()
        .expect("eu-west-1 series");
    for point in eu_series
        .iter()
        .filter(|p| matches!(p["t"].as_u64(), Some(1 | 2)))
    {
        assert_eq!(point["requests"], 0, "{point}");
    }
    assert!(
        outcome.stdout.contains("✓ eu-gone (pause_region)"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn a_run_event_needs_allow_exec_and_a_failed_event_fails_the_run() {
    let target = Target::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "\
target: {}
duration: 2s
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 5
    requests:
      - {{ name: home, url: / }}
events:
  - {{ at: 0s, name: say, run: 'echo drill for $SLS_LOAD_RUN_ID', timeout: 5s }}
  - {{ at: 1s, name: poke, http: {{ method: POST, url: {}/x }} }}
",
        target.url,
        refused_url()
    );
    let file = scenario_file(dir.path(), "exec.yaml", &text);
    let (refused, _) = run_local(dir.path(), &file, &[], LIMIT);
    assert_eq!(refused.code(), 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("event `say` runs a command (`run:`); add --allow-exec"),
        "{}",
        refused.stderr
    );
    assert_eq!(target.requests(), 0, "nothing ran");

    let (outcome, summary) = run_local(dir.path(), &file, &["--allow-exec"], LIMIT);
    assert_eq!(outcome.code(), 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("drill event(s) failed: poke: POST"),
        "{}",
        outcome.stderr
    );
    let summary = summary.expect("summary");
    let events = summary["events"].as_array().expect("events");
    assert_eq!(events[0]["outcome"], "ok");
    assert!(
        events[0]["output"][0]
            .as_str()
            .expect("output")
            .starts_with("drill for ")
    );
    assert_eq!(events[1]["outcome"], "failed");
    assert!(
        outcome.stdout.contains("✗ poke (http)"),
        "{}",
        outcome.stdout
    );
}
