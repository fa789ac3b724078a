//! `--out`: streams a run's closed seconds to the tools k6 users already run,
//! like k6's own `--out` — `json=FILE`, `csv=FILE`, `influxdb=URL`,
//! `experimental-prometheus-rw=URL`, `opentelemetry=URL` and `cloudwatch[=FILE]`.
//!
//! This module owns the spec ([`OutSpec`], parsed at the CLI boundary), the
//! mapping from a [`ClosedSecond`] to points ([`samples`]: one point per metric
//! per second per tag set; counters carry the second's count, trends the merged
//! percentiles with the statistic as a tag — docs/FORMAT.md, "Outputs"), the
//! [`Output`] trait and the set of outputs of a run ([`Outputs`]). Each format's
//! encoding is in its own file; the background delivery of network outputs is
//! [`send`]. It does not merge anything (the feed comes from
//! [`sls_load_report::collect::Collected::drain_closed`]) nor judge the run: an output that
//! fails is reported, never changes the verdict.

pub mod cloudwatch;
pub mod csv;
pub mod influx;
pub mod json;
pub mod otlp;
pub mod prom_rw;
pub mod send;

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use hdrhistogram::Histogram;
use sls_load_core::job::TAG_PHASES;

use sls_load_report::series::ClosedSecond;

/// One `--out` flag, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum OutSpec {
    /// `json=FILE`: k6's JSON lines (a `Metric` line per metric, then `Point`s).
    Json(PathBuf),
    /// `csv=FILE`: one row per point.
    Csv(PathBuf),
    /// `influxdb=http://host:8086/db`: line protocol to InfluxDB v1's `/write`.
    Influx(http::Uri),
    /// `experimental-prometheus-rw=URL`: Prometheus remote write.
    PromRw(http::Uri),
    /// `opentelemetry=URL`: OTLP/HTTP protobuf metrics.
    Otlp(http::Uri),
    /// `cloudwatch[=FILE]`: CloudWatch embedded metric format lines (default
    /// `sls-load-emf.jsonl`).
    CloudWatch(PathBuf),
}

/// Default file of `--out cloudwatch`.
pub const CLOUDWATCH_DEFAULT_FILE: &str = "sls-load-emf.jsonl";

/// Why an `--out` value cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OutSpecError {
    /// Not one of the known outputs.
    #[error(
        "--out `{0}`: unknown output; expected json=FILE, csv=FILE, influxdb=URL, experimental-prometheus-rw=URL, opentelemetry=URL or cloudwatch[=FILE]"
    )]
    Unknown(String),
    /// An output that needs `=VALUE` without one.
    #[error("--out `{0}`: expected {0}=VALUE")]
    Missing(String),
    /// A URL that is not http(s)://host[:port]/path.
    #[error("--out `{spec}`: expected an http:// or https:// URL with a host{extra}")]
    BadUrl {
        /// The whole spec.
        spec: String,
        /// What else the output needs (influxdb: the database as the path).
        extra: &'static str,
    },
}

impl OutSpec {
    /// Parses one `--out` value (files are not checked here: the caller checks
    /// them writable like every output file flag).
    pub fn parse(spec: &str) -> Result<OutSpec, OutSpecError> {
        let (kind, value) = match spec.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (spec, None),
        };
        let need = || match value {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(OutSpecError::Missing(kind.to_owned())),
        };
        let url = |extra: &'static str| -> Result<http::Uri, OutSpecError> {
            let bad = || OutSpecError::BadUrl {
                spec: spec.to_owned(),
                extra,
            };
            let uri: http::Uri = need()?.parse().map_err(|_| bad())?;
            let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
            if !scheme_ok || uri.host().is_none() {
                return Err(bad());
            }
            Ok(uri)
        };
        Ok(match kind {
            "json" => OutSpec::Json(need()?.into()),
            "csv" => OutSpec::Csv(need()?.into()),
            "influxdb" => {
                let uri = url(" and the database as its path, e.g. http://127.0.0.1:8086/k6")?;
                if influx::database(&uri).is_none() {
                    return Err(OutSpecError::BadUrl {
                        spec: spec.to_owned(),
                        extra: " and the database as its path, e.g. http://127.0.0.1:8086/k6",
                    });
                }
                OutSpec::Influx(uri)
            }
            "experimental-prometheus-rw" => OutSpec::PromRw(url("")?),
            "opentelemetry" => OutSpec::Otlp(url("")?),
            "cloudwatch" => OutSpec::CloudWatch(
                value
                    .filter(|v| !v.is_empty())
                    .unwrap_or(CLOUDWATCH_DEFAULT_FILE)
                    .into(),
            ),
            _ => return Err(OutSpecError::Unknown(spec.to_owned())),
        })
    }

    /// The file the output writes, if it writes one.
    pub fn file(&self) -> Option<&PathBuf> {
        match self {
            OutSpec::Json(p) | OutSpec::Csv(p) | OutSpec::CloudWatch(p) => Some(p),
            _ => None,
        }
    }

    /// The same output writing `path` instead (after the file was checked).
    pub fn with_file(self, path: PathBuf) -> OutSpec {
        match self {
            OutSpec::Json(_) => OutSpec::Json(path),
            OutSpec::Csv(_) => OutSpec::Csv(path),
            OutSpec::CloudWatch(_) => OutSpec::CloudWatch(path),
            other => other,
        }
    }
}

impl fmt::Display for OutSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutSpec::Json(p) => write!(f, "json={}", p.display()),
            OutSpec::Csv(p) => write!(f, "csv={}", p.display()),
            OutSpec::Influx(u) => write!(f, "influxdb={u}"),
            OutSpec::PromRw(u) => write!(f, "experimental-prometheus-rw={u}"),
            OutSpec::Otlp(u) => write!(f, "opentelemetry={u}"),
            OutSpec::CloudWatch(p) => write!(f, "cloudwatch={}", p.display()),
        }
    }
}

/// The statistics a trend's point carries, each as its own point tagged
/// `stat` (never an average of percentiles).
pub const STATS: [&str; 7] = ["p50", "p90", "p95", "p99", "max", "min", "count"];

/// What a point measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A count of that second (`http_reqs`, ...).
    Counter,
    /// One statistic (index into [`STATS`]) of a trend, milliseconds (count: a number).
    Trend(usize),
}

/// One point: a metric of one tag set in one second.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// k6's metric name (`http_reqs`, `http_req_duration`, ...).
    pub metric: &'static str,
    /// Counter or trend statistic.
    pub kind: Kind,
    /// The second's start.
    pub at: SystemTime,
    /// The tags: the second's tag set, then `check`/`passed` for checks, then
    /// `run_id`; the trend statistic is [`Kind::Trend`], placed by each format.
    pub tags: Vec<(String, String)>,
    /// The value: a count, or milliseconds.
    pub value: f64,
}

impl Sample {
    /// The trend statistic's name (`p95`), if a trend.
    pub fn stat(&self) -> Option<&'static str> {
        match self.kind {
            Kind::Counter => None,
            Kind::Trend(i) => STATS.get(i).copied(),
        }
    }
}

/// The trends of a second with their histograms (microseconds): the request
/// duration, the six k6 phases and the iteration duration, those recorded.
pub fn trends(second: &ClosedSecond) -> Vec<(&'static str, &Histogram<u64>)> {
    let stats = &second.stats;
    let mut out = vec![("http_req_duration", &stats.duration)];
    for (name, hist) in TAG_PHASES.iter().zip(&stats.timings) {
        if let Some(h) = hist {
            out.push((*name, h));
        }
    }
    if let Some(h) = &stats.iterations {
        out.push(("iteration_duration", h));
    }
    out.retain(|(_, h)| !h.is_empty());
    out
}

/// A histogram's statistic `STATS[i]` in milliseconds (count: a number).
pub fn stat_value(hist: &Histogram<u64>, i: usize) -> f64 {
    let ms = |us: u64| us as f64 / 1000.0;
    match STATS.get(i).copied() {
        Some("p50") => ms(hist.value_at_quantile(0.50)),
        Some("p90") => ms(hist.value_at_quantile(0.90)),
        Some("p95") => ms(hist.value_at_quantile(0.95)),
        Some("p99") => ms(hist.value_at_quantile(0.99)),
        Some("max") => ms(hist.max()),
        Some("min") => ms(hist.min()),
        _ => hist.len() as f64,
    }
}

/// Every point of `second` (docs/FORMAT.md, "Outputs"): counters with a count
/// above zero (`http_reqs`, `http_req_failed`, `iterations`,
/// `dropped_iterations`, `data_sent` and `data_received` in bytes, `checks` per
/// check and result), then every statistic
/// of every trend recorded; each tagged with the second's tags and `run_id`.
pub fn samples(second: &ClosedSecond, run_id: &str) -> Vec<Sample> {
    let stats = &second.stats;
    let tags = |extra: &[(&str, &str)]| {
        let mut t = second.tags.clone();
        t.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        t.push(("run_id".to_owned(), run_id.to_owned()));
        t
    };
    let point = |metric, kind, tags, value| Sample {
        metric,
        kind,
        at: second.at,
        tags,
        value,
    };
    let mut out = Vec::new();
    let iterations = stats.iterations.as_ref().map_or(0, Histogram::len);
    let counters = [
        ("http_reqs", stats.requests()),
        ("http_req_failed", stats.errors()),
        ("iterations", iterations),
        ("dropped_iterations", stats.dropped),
        ("data_sent", stats.data_sent),
        ("data_received", stats.data_received),
    ];
    for (metric, n) in counters {
        if n > 0 {
            out.push(point(metric, Kind::Counter, tags(&[]), n as f64));
        }
    }
    for (check, counts) in &second.checks {
        for (passed, n) in [("true", counts.passes), ("false", counts.fails)] {
            if n > 0 {
                let t = tags(&[("check", check), ("passed", passed)]);
                out.push(point("checks", Kind::Counter, t, n as f64));
            }
        }
    }
    for (metric, hist) in trends(second) {
        for i in 0..STATS.len() {
            out.push(point(
                metric,
                Kind::Trend(i),
                tags(&[]),
                stat_value(hist, i),
            ));
        }
    }
    out
}

/// What became of an output's points, printed once at the end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delivery {
    /// Points written or accepted by the back-end.
    pub sent: u64,
    /// Points not delivered (the back-end was down, rejected them, or the
    /// bounded buffer was full).
    pub lost: u64,
    /// The last error, if any.
    pub error: Option<String>,
}

impl Delivery {
    /// Counts `points` as sent, or as lost with the error.
    pub fn count<E: std::fmt::Display>(&mut self, points: u64, result: Result<(), E>) {
        match result {
            Ok(()) => self.sent += points,
            Err(e) => {
                self.lost += points;
                self.error = Some(e.to_string());
            }
        }
    }

    /// Notes a final flush that failed.
    pub fn flushed<E: std::fmt::Display>(&mut self, result: Result<(), E>) {
        if let Err(e) = result {
            self.error = Some(e.to_string());
        }
    }

    /// This delivery as a file output's finished [`Output::close`].
    pub fn closed(self) -> send::Closing {
        Box::pin(async move { self })
    }
}

/// A destination of closed seconds.
pub trait Output: Send {
    /// Takes the seconds closed since the last call (oldest first). Must not
    /// block on the network: network outputs queue a batch for [`send`].
    fn second(&mut self, seconds: &[ClosedSecond]);
    /// The run is over and settled: write what is left.
    fn finish(&mut self);
    /// Waits (bounded) for queued deliveries and says what was delivered.
    fn close(self: Box<Self>) -> send::Closing;
}

/// The outputs of a run, in the order of the flags.
pub struct Outputs {
    outputs: Vec<(OutSpec, Box<dyn Output>)>,
}

/// An output that could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("--out {spec}: {source}")]
pub struct OpenError {
    /// The output.
    pub spec: String,
    /// Why.
    pub source: std::io::Error,
}

impl Outputs {
    /// Opens every output of `specs` for run `run_id` (files are created here;
    /// network outputs start their sender task: call inside the runtime).
    pub fn open(specs: &[OutSpec], run_id: &str) -> Result<Outputs, OpenError> {
        let mut outputs = Vec::new();
        for spec in specs {
            let fail = |source| OpenError {
                spec: spec.to_string(),
                source,
            };
            let output: Box<dyn Output> = match spec {
                OutSpec::Json(p) => Box::new(json::JsonOutput::create(p, run_id).map_err(fail)?),
                OutSpec::Csv(p) => Box::new(csv::CsvOutput::create(p, run_id).map_err(fail)?),
                OutSpec::CloudWatch(p) => {
                    Box::new(cloudwatch::EmfOutput::create(p, run_id).map_err(fail)?)
                }
                OutSpec::Influx(u) => Box::new(influx::InfluxOutput::new(u, run_id)),
                OutSpec::PromRw(u) => Box::new(prom_rw::PromRwOutput::new(u, run_id)),
                OutSpec::Otlp(u) => Box::new(otlp::OtlpOutput::new(u, run_id)),
            };
            outputs.push((spec.clone(), output));
        }
        Ok(Outputs { outputs })
    }

    /// Whether no output was asked for.
    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }

    /// Hands `seconds` to every output.
    pub fn second(&mut self, seconds: &[ClosedSecond]) {
        if seconds.is_empty() {
            return;
        }
        for (_, output) in &mut self.outputs {
            output.second(seconds);
        }
    }

    /// Finishes every output and prints one line each: points sent, or a
    /// warning naming the output and the points not delivered.
    pub async fn finish(self) {
        for (spec, mut output) in self.outputs {
            output.finish();
            let delivery = output.close().await;
            eprintln!("{}", report_line(&spec, &delivery));
        }
    }
}

/// `--out influxdb=...: 1,234 points sent`, or the warning when points were lost.
pub fn report_line(spec: &OutSpec, d: &Delivery) -> String {
    if d.lost == 0 && d.error.is_none() {
        return format!("--out {spec}: {} points sent", thousands(d.sent));
    }
    format!(
        "sls-load: warning: --out {spec}: {} points not delivered ({} sent){}",
        thousands(d.lost),
        thousands(d.sent),
        d.error
            .as_ref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    )
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds since the epoch (0 before it).
pub fn epoch_ms(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Nanoseconds since the epoch (0 before it).
pub fn epoch_ns(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use sls_load_core::hlog;
    use sls_load_core::job::CheckCounts;

    use super::*;

    /// A second of region `eu-west-1`, request `home`: 3 responses (10, 20,
    /// 30 ms), one failed by its checks, one with no response; a check passed twice.
    pub(crate) fn second() -> ClosedSecond {
        let mut duration = hlog::new_histogram();
        for ms in [10, 20, 30] {
            duration.record(ms * 1000).unwrap();
        }
        let stats = sls_load_report::Stats {
            duration,
            failed: 1,
            errored: 1,
            dropped: 0,
            iterations: None,
            timings: Default::default(),
            ..Default::default()
        };
        ClosedSecond {
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            t: 3,
            tags: vec![
                ("region".into(), "eu-west-1".into()),
                ("name".into(), "home page, v=2".into()),
                ("status".into(), "200".into()),
            ],
            stats,
            checks: BTreeMap::from([(
                "is 200".to_owned(),
                CheckCounts {
                    passes: 2,
                    fails: 0,
                },
            )]),
        }
    }

    #[test]
    fn specs_parse_like_k6_and_bad_ones_name_the_flag() {
        assert_eq!(
            OutSpec::parse("json=out.json").unwrap(),
            OutSpec::Json("out.json".into())
        );
        assert_eq!(
            OutSpec::parse("cloudwatch").unwrap(),
            OutSpec::CloudWatch(CLOUDWATCH_DEFAULT_FILE.into())
        );
        assert!(matches!(
            OutSpec::parse("influxdb=http://127.0.0.1:8086/k6").unwrap(),
            OutSpec::Influx(_)
        ));
        for bad in [
            "statsd=x",
            "json",
            "csv=",
            "influxdb=http://127.0.0.1:8086",
            "influxdb=ftp://h/db",
            "opentelemetry=not a url",
            "experimental-prometheus-rw=/api/v1/write",
        ] {
            let e = OutSpec::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("--out `"), "{bad}: {e}");
            assert!(!e.contains('\n'), "{bad}: one line");
        }
    }

    #[test]
    fn a_second_becomes_counters_with_its_count_and_trends_with_each_statistic() {
        let points = samples(&second(), "r1");
        let counter = |m: &str| points.iter().find(|s| s.metric == m).map(|s| s.value);
        assert_eq!(counter("http_reqs"), Some(4.0));
        assert_eq!(counter("http_req_failed"), Some(2.0));
        assert_eq!(counter("checks"), Some(2.0));
        assert_eq!(
            counter("dropped_iterations"),
            None,
            "zero counts are no points"
        );
        let p95 = points
            .iter()
            .find(|s| s.metric == "http_req_duration" && s.stat() == Some("p95"))
            .unwrap();
        assert!((p95.value - 30.0).abs() < 0.1, "{}", p95.value);
        let count = points
            .iter()
            .find(|s| s.metric == "http_req_duration" && s.stat() == Some("count"))
            .unwrap();
        assert_eq!(count.value, 3.0);
        assert!(points.iter().all(|s| s.tags.first().unwrap().0 == "region"
            && s.tags.last().unwrap() == &("run_id".to_owned(), "r1".to_owned())));
    }

    #[test]
    fn the_report_line_counts_points_and_warns_when_some_were_lost() {
        let spec = OutSpec::parse("influxdb=http://127.0.0.1:8086/k6").unwrap();
        let ok = Delivery {
            sent: 1234,
            ..Delivery::default()
        };
        assert_eq!(
            report_line(&spec, &ok),
            "--out influxdb=http://127.0.0.1:8086/k6: 1,234 points sent"
        );
        let lost = Delivery {
            sent: 0,
            lost: 12,
            error: Some("connection refused".into()),
        };
        let line = report_line(&spec, &lost);
        assert!(line.contains("warning") && line.contains("12 points not delivered"));
    }
}
