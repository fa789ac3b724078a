//! `--out`: one local three-region run streams to every output at once — JSON and
//! CSV files, CloudWatch EMF lines, a real Prometheus (remote-write receiver), a
//! real InfluxDB v1 and an OTLP receiver in this test decoding with
//! `opentelemetry-proto` — plus an OTLP endpoint that refuses connections. Each
//! back-end's own query must give back the request count of the summary per
//! region (the files: the target's own count). The servers are Debian's packages
//! (installed by `make test-deps`), listen on loopback and are killed at the end.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message;
use sls_load_e2e::{Outcome, Target, read_json, refused_url, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(120);
const RUN_ID: &str = "outputs-e2e";
/// How long a back-end may take to start or to show what it received.
const WAIT: Duration = Duration::from_secs(30);

type PerRegion = BTreeMap<String, u64>;

/// What the shared run left, read back from every output before the servers stopped.
struct SharedRun {
    dir: tempfile::TempDir,
    outcome: Outcome,
    summary: serde_json::Value,
    target_requests: u64,
    refused: String,
    prometheus: PerRegion,
    influx: PerRegion,
    otlp: PerRegion,
    /// Every query of the Grafana dashboards: (file, panel title, regions it
    /// answered for, or the error).
    panels: Vec<(&'static str, String, Result<usize, String>)>,
}

/// A server process killed (and reaped) when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

fn quiet(cmd: &mut Command, log: &Path) -> Server {
    let log = std::fs::File::create(log).expect("server log");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start server");
    Server(child)
}

/// One HTTP/1.0 request; the status and body (the connection closes after it).
fn http(method: &str, port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Some((status, body))
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Polls `probe` until it returns `Some`, at most [`WAIT`].
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < until, "{what}: not within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn start_prometheus(dir: &Path) -> (Server, u16) {
    let bin = sls_load_e2e::third_party::command("prometheus", "prometheus");
    let port = free_port();
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").expect("config");
    let server = quiet(
        Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prom-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver"),
        &dir.join("prometheus.log"),
    );
    wait_for("prometheus /-/ready", || {
        http("GET", port, "/-/ready").filter(|(s, _)| *s == 200)
    });
    (server, port)
}

fn start_influxd(dir: &Path) -> (Server, u16) {
    let bin = sls_load_e2e::third_party::command("influxd", "influxdb");
    let (port, rpc) = (free_port(), free_port());
    let d = dir.join("influx");
    let config = dir.join("influxdb.conf");
    std::fs::write(
        &config,
        format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
             [meta]\n  dir = \"{d}/meta\"\n\
             [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n\
             [http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n\
             [monitor]\n  store-enabled = false\n",
            d = d.display()
        ),
    )
    .expect("config");
    let server = quiet(
        Command::new(bin).arg("-config").arg(&config),
        &dir.join("influxd.log"),
    );
    wait_for("influxd /ping", || {
        http("GET", port, "/ping").filter(|(s, _)| *s == 204)
    });
    let (status, body) = http(
        "POST",
        port,
        &format!("/query?q={}", encode("CREATE DATABASE k6")),
    )
    .expect("create");
    assert_eq!(status, 200, "CREATE DATABASE k6: {body}");
    (server, port)
}

/// An OTLP/HTTP receiver: decodes every `ExportMetricsServiceRequest` and sums
/// the `http_reqs` data points per `region` attribute.
fn start_otlp_receiver() -> (u16, Arc<Mutex<PerRegion>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let sums = Arc::new(Mutex::new(PerRegion::new()));
    let shared = sums.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let sums = shared.clone();
            std::thread::spawn(move || serve_otlp(conn, &sums));
        }
    });
    (port, sums)
}

/// Answers the requests of one keep-alive connection until it closes.
fn serve_otlp(conn: TcpStream, sums: &Mutex<PerRegion>) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut conn = conn;
    loop {
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().expect("content-length");
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        let request = ExportMetricsServiceRequest::decode(body.as_slice()).expect("OTLP decodes");
        add_http_reqs(&request, &mut sums.lock().expect("lock"));
        let ok =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if conn.write_all(ok.as_bytes()).is_err() {
            return;
        }
    }
}

fn add_http_reqs(request: &ExportMetricsServiceRequest, sums: &mut PerRegion) {
    let metrics = request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics);
    for m in metrics.filter(|m| m.name == "http_reqs") {
        let Some(metric::Data::Sum(sum)) = &m.data else {
            panic!("http_reqs is an OTLP sum")
        };
        for p in &sum.data_points {
            let region = p.attributes.iter().find(|a| a.key == "region");
            let Some(any_value::Value::StringValue(region)) =
                region.and_then(|a| a.value.as_ref()?.value.clone())
            else {
                panic!("every point has a region attribute")
            };
            let Some(number_data_point::Value::AsDouble(n)) = p.value else {
                panic!("http_reqs values are doubles")
            };
            *sums.entry(region).or_default() += n as u64;
        }
    }
}

/// `sum by (region)` of the run's request counters, through `/api/v1/query`.
fn prometheus_per_region(port: u16) -> Option<PerRegion> {
    let q = format!("sum by (region)(k6_http_reqs_total{{run_id=\"{RUN_ID}\"}})");
    let (status, body) = http("GET", port, &format!("/api/v1/query?query={}", encode(&q)))?;
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    (status == 200).then_some(())?;
    let mut out = PerRegion::new();
    for r in json["data"]["result"].as_array()? {
        let region = r["metric"]["region"].as_str()?.to_owned();
        out.insert(region, r["value"][1].as_str()?.parse::<f64>().ok()? as u64);
    }
    (!out.is_empty()).then_some(out)
}

/// InfluxQL `SELECT sum(value) FROM http_reqs ... GROUP BY region`.
fn influx_per_region(port: u16) -> Option<PerRegion> {
    let q = format!("SELECT sum(value) FROM http_reqs WHERE run_id = '{RUN_ID}' GROUP BY region");
    let (status, body) = http("GET", port, &format!("/query?db=k6&q={}", encode(&q)))?;
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    (status == 200).then_some(())?;
    let mut out = PerRegion::new();
    for s in json["results"][0]["series"].as_array()? {
        let region = s["tags"]["region"].as_str()?.to_owned();
        out.insert(region, s["values"][0][1].as_f64()? as u64);
    }
    (!out.is_empty()).then_some(out)
}

fn summary_per_region(summary: &serde_json::Value) -> PerRegion {
    summary["regions"]
        .as_object()
        .expect("regions")
        .iter()
        .map(|(r, f)| (r.clone(), f["requests"].as_u64().expect("requests")))
        .collect()
}

fn shared_run() -> &'static SharedRun {
    static RUN: OnceLock<SharedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_prometheus, prom_port) = start_prometheus(dir.path());
        let (_influxd, influx_port) = start_influxd(dir.path());
        let (otlp_port, otlp) = start_otlp_receiver();
        let target = Target::start(&[]);
        let scenario = scenario_file(
            dir.path(),
            "outputs.yaml",
            &format!(
                r#"
target: {}
duration: 3s
regions: {{ us-east-1: 0.5, eu-west-1: 0.3, ap-southeast-1: 0.2 }}
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 60
    requests:
      - {{ name: home, method: GET, url: /, expect_status: 200 }}
      - {{ name: about, method: GET, url: /about }}
"#,
                target.url
            ),
        );
        let p = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_owned();
        let refused = format!("opentelemetry={}/v1/metrics", refused_url());
        let outs = [
            format!("json={}", p("out.json")),
            format!("csv={}", p("out.csv")),
            format!("cloudwatch={}", p("emf.jsonl")),
            format!("experimental-prometheus-rw=http://127.0.0.1:{prom_port}/api/v1/write"),
            format!("influxdb=http://127.0.0.1:{influx_port}/k6"),
            format!("opentelemetry=http://127.0.0.1:{otlp_port}/v1/metrics"),
            refused.clone(),
        ];
        let (state, summary_path) = (p("state"), p("summary.json"));
        let scenario = scenario.to_str().expect("utf-8").to_owned();
        let mut args = vec![
            "run",
            &scenario,
            "--local",
            "--quiet",
            "--local-dir",
            &state,
            "--workers",
            "6",
            "--run-id",
            RUN_ID,
            "--summary-export",
            &summary_path,
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
        for out in &outs {
            args.extend(["--out".to_owned(), out.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let outcome = sls_load(&args, LIMIT);
        assert!(
            Path::new(&summary_path).is_file(),
            "no summary: {}",
            outcome.stderr
        );
        let summary = read_json(Path::new(&summary_path));
        let expected = summary_per_region(&summary);
        // Read back until the back-end shows every request (bounded): Prometheus
        // and InfluxDB make writes queryable within moments.
        let settled = |got: &Option<PerRegion>| got.as_ref() == Some(&expected);
        let read = |f: &dyn Fn() -> Option<PerRegion>| {
            let until = Instant::now() + WAIT;
            loop {
                let got = f();
                if settled(&got) || Instant::now() >= until {
                    return got.unwrap_or_default();
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        };
        let prometheus = read(&|| prometheus_per_region(prom_port));
        let influx = read(&|| influx_per_region(influx_port));
        let otlp = otlp.lock().expect("lock").clone();
        let mut panels =
            dashboard_queries("prometheus.json", &|q| prometheus_regions(prom_port, q));
        panels.extend(dashboard_queries("influxdb.json", &|q| {
            influx_regions(influx_port, q)
        }));
        SharedRun {
            panels,
            target_requests: target.requests(),
            dir,
            outcome,
            summary,
            refused,
            prometheus,
            influx,
            otlp,
        }
    })
}

/// The `http_reqs` values of the JSON lines file, summed.
fn json_http_reqs(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).expect("json output");
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .filter(|l| l["type"] == "Point" && l["metric"] == "http_reqs")
        .map(|l| l["data"]["value"].as_f64().expect("value") as u64)
        .sum()
}

#[test]
fn the_run_succeeds_and_names_every_output_with_its_points() {
    let run = shared_run();
    assert_eq!(run.outcome.code(), 0, "stderr: {}", run.outcome.stderr);
    for out in [
        "--out json=",
        "--out csv=",
        "--out cloudwatch=",
        "--out influxdb=",
        "--out experimental-prometheus-rw=",
        "--out opentelemetry=http://127.0.0.1:",
    ] {
        assert!(
            run.outcome
                .stderr
                .lines()
                .any(|l| l.starts_with(out) && l.ends_with(" points sent")),
            "a line for {out}: {}",
            run.outcome.stderr
        );
    }
}

#[test]
fn a_back_end_that_is_down_gets_one_warning_and_the_verdict_stays() {
    let run = shared_run();
    assert_eq!(run.outcome.code(), 0);
    let warning: Vec<&str> = run
        .outcome
        .stderr
        .lines()
        .filter(|l| l.contains(&run.refused))
        .collect();
    assert_eq!(warning.len(), 1, "{}", run.outcome.stderr);
    assert!(
        warning[0].contains("warning") && warning[0].contains("points not delivered"),
        "{}",
        warning[0]
    );
}

#[test]
fn json_and_csv_http_reqs_sum_to_the_targets_own_count() {
    let run = shared_run();
    assert!(run.target_requests > 0);
    assert_eq!(
        json_http_reqs(&run.dir.path().join("out.json")),
        run.target_requests
    );
    let mut csv = csv_reader(&run.dir.path().join("out.csv"));
    let header: Vec<String> = csv.next().expect("header");
    assert_eq!(&header[..3], ["metric_name", "timestamp", "metric_value"]);
    let sum: f64 = csv
        .filter(|r| r[0] == "http_reqs")
        .map(|r| r[2].parse::<f64>().expect("a number"))
        .sum();
    assert_eq!(sum as u64, run.target_requests);
}

/// The CSV file's records (a small reader: no field here holds a newline).
fn csv_reader(path: &Path) -> std::vec::IntoIter<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("csv output");
    let rows: Vec<Vec<String>> = text.lines().map(split_csv).collect();
    rows.into_iter()
}

fn split_csv(line: &str) -> Vec<String> {
    let (mut out, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    out.push(field);
    out
}

#[test]
fn prometheus_holds_the_summarys_request_count_per_region() {
    let run = shared_run();
    assert_eq!(run.prometheus, summary_per_region(&run.summary));
}

#[test]
fn influxdb_holds_the_summarys_request_count_per_region() {
    let run = shared_run();
    assert_eq!(run.influx, summary_per_region(&run.summary));
}

#[test]
fn the_otlp_receiver_decodes_the_summarys_request_count_per_region() {
    let run = shared_run();
    assert_eq!(run.otlp, summary_per_region(&run.summary));
    assert_eq!(run.otlp.len(), 3);
}

#[test]
fn cloudwatch_lines_are_embedded_metric_format() {
    let run = shared_run();
    let text = std::fs::read_to_string(run.dir.path().join("emf.jsonl")).expect("emf");
    let mut reqs = 0.0;
    for line in text.lines() {
        let l: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert_eq!(l["_aws"]["CloudWatchMetrics"][0]["Namespace"], "sls-load");
        assert!(l["_aws"]["Timestamp"].is_u64());
        assert_eq!(l["run_id"], RUN_ID);
        reqs += l["http_reqs"].as_f64().unwrap_or(0.0);
    }
    assert_eq!(reqs as u64, run.target_requests);
}

#[test]
fn report_replays_a_stored_run_into_the_outputs() {
    let run = shared_run();
    let replay = run.dir.path().join("replay.json");
    let state = run.dir.path().join("state");
    let outcome = sls_load(
        &[
            "report",
            RUN_ID,
            "--local",
            "--local-dir",
            state.to_str().expect("utf-8"),
            "--out",
            &format!("json={}", replay.display()),
        ],
        LIMIT,
    );
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    assert_eq!(json_http_reqs(&replay), run.target_requests);
}

#[test]
fn a_bad_out_spec_is_a_usage_error_naming_the_flag() {
    for bad in ["statsd=udp://x", "influxdb=http://127.0.0.1:8086", "json"] {
        let outcome = sls_load(&["run", "no-such.yaml", "--local", "--out", bad], LIMIT);
        assert_eq!(outcome.code(), 2, "{bad}: {}", outcome.stderr);
        let lines: Vec<&str> = outcome.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{bad}: {}", outcome.stderr);
        assert!(lines[0].contains("--out"), "{}", lines[0]);
    }
}

/// Runs every panel query of `samples/grafana/FILE` (variables set to this run,
/// all regions, the last hour) through `run`, which answers the regions found.
fn dashboard_queries(
    file: &'static str,
    run: &dyn Fn(&str) -> Result<usize, String>,
) -> Vec<(&'static str, String, Result<usize, String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/grafana")
        .join(file);
    let dashboard = read_json(&path);
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let query = target["expr"]
                .as_str()
                .or(target["query"].as_str())
                .expect("a query");
            let query = query
                .replace("$run_id", RUN_ID)
                .replace("$region", ".*")
                .replace("$__rate_interval", "1m")
                .replace("$timeFilter", "time > now() - 1h");
            let title = panel["title"].as_str().expect("title").to_owned();
            out.push((file, title, run(&query)));
        }
    }
    out
}

fn prometheus_regions(port: u16, q: &str) -> Result<usize, String> {
    let (status, body) =
        http("GET", port, &format!("/api/v1/query?query={}", encode(q))).ok_or("no answer")?;
    let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    if status != 200 || json["status"] != "success" {
        return Err(body);
    }
    Ok(json["data"]["result"].as_array().map_or(0, Vec::len))
}

fn influx_regions(port: u16, q: &str) -> Result<usize, String> {
    let (status, body) =
        http("GET", port, &format!("/query?db=k6&q={}", encode(q))).ok_or("no answer")?;
    let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    if status != 200 || json["results"][0].get("error").is_some() {
        return Err(body);
    }
    Ok(json["results"][0]["series"].as_array().map_or(0, Vec::len))
}

#[test]
fn every_grafana_panel_query_runs_and_the_traffic_panels_show_every_region() {
    let run = shared_run();
    assert!(run.panels.len() >= 9, "{:?}", run.panels);
    for (file, title, answer) in &run.panels {
        let regions = answer
            .as_ref()
            .unwrap_or_else(|e| panic!("{file} {title}: {e}"));
        // This run had no errors, so the error panels have nothing to show.
        if !title.contains("rror") {
            assert_eq!(*regions, 3, "{file} {title}");
        }
    }
}
