//! The worker benchmark behind `make bench` (issue #4): builds a [`Job`] against a
//! loopback target and runs it through [`run_job`], the same path a Lambda
//! invocation takes, with a [`LocalDirSink`] instead of S3. It then reads back the
//! interval logs the worker wrote, merges their `http_req_duration` histograms and
//! reports one JSON line: requests, req/s, CPU seconds and µs per request (from
//! `/proc/self/stat`), peak RSS (`VmHWM` from `/proc/self/status`), p50/p99/max.
//!
//! Two modes: *closed* (`--vus N`: N virtual users sending back to back, k6's
//! `constant-vus` when the job format has it, otherwise `constant-arrival-rate`
//! at a rate far above capacity with `max_vus = N`, so surplus arrivals are
//! dropped and counted) and *fixed rate* (`--rate R`: `constant-arrival-rate`,
//! coordinated-omission-free latency). This module owns argument parsing, the
//! job, the local sink and the measurements; the `sls-load-bench` binary only
//! calls [`main_with_args`]. Linux only (it reads `/proc`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use serde::Serialize;

use crate::job::{FORMAT_VERSION, Job, Manifest, ObjectKey, TAG_DURATION, WorkerId, split_tag};
use crate::recorder::RecorderError;
use crate::sink::{Claim, Sink, SinkError};
use crate::{Invocation, WorkerError, run_job};
use sls_load_core::hlog::new_histogram;

/// Closed-model fallback rate (arrivals per second) when the job format has no
/// `constant-vus` executor: far above what one core can send, so VUs never idle.
pub const DEFAULT_CLOSED_RATE: f64 = 200_000.0;

/// Kernel clock ticks per second of `/proc/self/stat` (`USER_HZ`, 100 on every
/// Linux architecture sls-load runs on).
const USER_HZ: f64 = 100.0;

const USAGE: &str = "usage: sls-load-bench --target URL [--duration 10s] [--vus 50] \
[--rate R] [--closed-rate R] [--path /] [--out DIR] [--flush-every 10s]";

/// Why the benchmark could not run or report.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Bad command line.
    #[error("{0}\n{USAGE}")]
    Usage(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The worker failed (the same error a Lambda invocation would return).
    #[error(transparent)]
    Worker(#[from] WorkerError),
    /// An interval log the worker wrote could not be read back.
    #[error("reading back {path}: {reason}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A histogram could not be built.
    #[error(transparent)]
    Recorder(#[from] RecorderError),
    /// The job could not be built.
    #[error("building the job: {0}")]
    Job(String),
}

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchArgs {
    /// Base URL of the target (loopback).
    pub target: String,
    /// Path requested by every iteration.
    pub path: String,
    /// Length of the slice.
    pub duration: Duration,
    /// Connections (virtual users).
    pub vus: u32,
    /// Fixed arrival rate; `None` runs the closed model.
    pub rate: Option<f64>,
    /// Arrival rate of the closed-model fallback (see [`DEFAULT_CLOSED_RATE`]).
    pub closed_rate: f64,
    /// Directory the sink writes the worker's objects to.
    pub out: PathBuf,
    /// The job's `flush_every`.
    pub flush_every: Duration,
}

impl BenchArgs {
    /// Parses `--key value` pairs (program name already removed).
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Self, BenchError> {
        let mut a = BenchArgs {
            target: String::new(),
            path: "/".into(),
            duration: Duration::from_secs(10),
            vus: 50,
            rate: None,
            closed_rate: DEFAULT_CLOSED_RATE,
            out: PathBuf::from("bench/results/worker"),
            flush_every: Duration::from_secs(10),
        };
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            if flag == "--help" || flag == "-h" {
                return Err(BenchError::Usage("help requested".into()));
            }
            let value = it
                .next()
                .ok_or_else(|| BenchError::Usage(format!("{flag} needs a value")))?;
            let dur = |v: &str| {
                humantime::parse_duration(v)
                    .map_err(|e| BenchError::Usage(format!("{flag} {v}: {e}")))
            };
            let num = |v: &str| {
                v.parse::<f64>()
                    .ok()
                    .filter(|r| r.is_finite() && *r > 0.0)
                    .ok_or_else(|| BenchError::Usage(format!("{flag} {v}: not a positive number")))
            };
            match flag.as_str() {
                "--target" => a.target = value,
                "--path" => a.path = value,
                "--duration" => a.duration = dur(&value)?,
                "--flush-every" => a.flush_every = dur(&value)?,
                "--vus" => {
                    a.vus = value
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| BenchError::Usage(format!("--vus {value}: not > 0")))?
                }
                "--rate" => a.rate = Some(num(&value)?),
                "--closed-rate" => a.closed_rate = num(&value)?,
                "--out" => a.out = PathBuf::from(value),
                other => return Err(BenchError::Usage(format!("unknown flag {other}"))),
            }
        }
        if a.target.is_empty() {
            return Err(BenchError::Usage("--target is required".into()));
        }
        if a.duration.is_zero() {
            return Err(BenchError::Usage("--duration must be positive".into()));
        }
        Ok(a)
    }
}

/// A [`Sink`] that writes objects below a local directory (key = relative path)
/// and counts what it wrote.
#[derive(Debug)]
pub struct LocalDirSink {
    root: PathBuf,
    objects: AtomicU64,
    bytes: AtomicU64,
}

impl LocalDirSink {
    /// A sink writing below `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            objects: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    /// Objects written so far.
    pub fn objects(&self) -> u64 {
        self.objects.load(Ordering::Relaxed)
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

impl Sink for LocalDirSink {
    async fn claim(&self, key: &ObjectKey, body: Vec<u8>) -> Result<Claim, SinkError> {
        let path = self.root.join(key.as_str());
        let result = async {
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await?;
            tokio::io::AsyncWriteExt::write_all(&mut file, &body).await
        }
        .await;
        match result {
            Ok(()) => Ok(Claim::Won),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Claim::Taken),
            Err(e) => Err(SinkError {
                bucket: self.root.display().to_string(),
                key: key.clone(),
                attempts: 1,
                message: e.to_string(),
            }),
        }
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: Vec<u8>,
        _content_type: &'static str,
    ) -> Result<(), SinkError> {
        let path = self.root.join(key.as_str());
        let len = body.len() as u64;
        let result = async {
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            tokio::fs::write(&path, body).await
        }
        .await;
        result.map_err(|e| SinkError {
            bucket: self.root.display().to_string(),
            key: key.clone(),
            attempts: 1,
            message: e.to_string(),
        })?;
        self.objects.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len, Ordering::Relaxed);
        Ok(())
    }
}

/// The JSON line the benchmark prints.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Always `sls-load-worker`.
    pub tool: &'static str,
    /// `closed` or `rate`.
    pub mode: &'static str,
    /// The executor the job used (`constant-vus` or `constant-arrival-rate`).
    pub executor: String,
    /// Virtual users (connections).
    pub vus: u32,
    /// The fixed or fallback arrival rate, if any.
    pub rate: Option<f64>,
    /// Slice length in seconds.
    pub duration_s: f64,
    /// Requests sent (manifest counts, failed ones included).
    pub requests: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Failures by class.
    pub errors_by_class: BTreeMap<String, u64>,
    /// Arrivals dropped because every VU was busy.
    pub dropped_iterations: u64,
    /// `requests / duration_s`.
    pub rps: f64,
    /// User CPU seconds of this process (whole life).
    pub cpu_user_s: f64,
    /// System CPU seconds of this process (whole life).
    pub cpu_sys_s: f64,
    /// `(user + sys) / requests`, in microseconds.
    pub cpu_us_per_req: f64,
    /// Peak resident set size (`VmHWM`), KiB.
    pub peak_rss_kb: u64,
    /// Median latency (ms) of the merged `http_req_duration` histograms.
    pub p50_ms: f64,
    /// 99th percentile latency (ms).
    pub p99_ms: f64,
    /// 99.9th percentile latency (ms).
    pub p99_9_ms: f64,
    /// Slowest response (ms).
    pub max_ms: f64,
    /// Responses in the merged histograms.
    pub histogram_count: u64,
    /// Objects the sink wrote (interval logs + manifest).
    pub objects_written: u64,
    /// Bytes the sink wrote.
    pub bytes_written: u64,
    /// Where they are.
    pub out: String,
}

/// Entry point of `sls-load-bench`: parses `args` (without the program name), runs
/// the job on a tokio runtime like `bootstrap`'s, and returns the JSON line.
pub fn main_with_args<I: IntoIterator<Item = String>>(args: I) -> Result<String, BenchError> {
    let args = BenchArgs::parse(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| BenchError::Io {
            path: PathBuf::from("(tokio runtime)"),
            source,
        })?;
    let report = runtime.block_on(run(&args))?;
    serde_json::to_string(&report).map_err(|e| BenchError::Job(e.to_string()))
}

/// Runs the benchmark job and measures it.
pub async fn run(args: &BenchArgs) -> Result<BenchReport, BenchError> {
    let (job, executor) = build_job(args)?;
    let sink = LocalDirSink::new(&args.out);
    let manifest = run_job(job, &sink, Invocation::default()).await?;
    let (user, sys) = cpu_seconds()?;
    let peak_rss_kb = peak_rss_kb()?;
    let hist = read_back(
        &args
            .out
            .join(ObjectKey::run_prefix(&manifest.run_id).as_str()),
    )?;
    Ok(report(
        args,
        executor,
        &manifest,
        &hist,
        (user, sys, peak_rss_kb),
        &sink,
    ))
}

fn report(
    args: &BenchArgs,
    executor: String,
    manifest: &Manifest,
    hist: &Histogram<u64>,
    (user, sys, peak_rss_kb): (f64, f64, u64),
    sink: &LocalDirSink,
) -> BenchReport {
    let requests: u64 = manifest.requests.values().map(|c| c.requests).sum();
    let errors: u64 = manifest.requests.values().map(|c| c.errors).sum();
    let mut errors_by_class = BTreeMap::new();
    for c in manifest.requests.values() {
        for (class, n) in &c.errors_by_class {
            *errors_by_class
                .entry(class.as_str().to_owned())
                .or_default() += n;
        }
    }
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let secs = args.duration.as_secs_f64();
    BenchReport {
        tool: "sls-load-worker",
        mode: if args.rate.is_some() {
            "rate"
        } else {
            "closed"
        },
        rate: match executor.as_str() {
            "constant-vus" => None,
            _ => Some(args.rate.unwrap_or(args.closed_rate)),
        },
        executor,
        vus: args.vus,
        duration_s: secs,
        requests,
        errors,
        errors_by_class,
        dropped_iterations: manifest.dropped_iterations,
        rps: requests as f64 / secs,
        cpu_user_s: user,
        cpu_sys_s: sys,
        cpu_us_per_req: if requests == 0 {
            0.0
        } else {
            (user + sys) * 1e6 / requests as f64
        },
        peak_rss_kb,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        p99_9_ms: ms(0.999),
        max_ms: hist.max() as f64 / 1000.0,
        histogram_count: hist.len(),
        objects_written: sink.objects(),
        bytes_written: sink.bytes(),
        out: args.out.display().to_string(),
    }
}

/// The job a Lambda worker would get for this benchmark, and its executor's name.
///
/// The job is built as the JSON Invoke payload and parsed like
/// [`crate::Worker::invoke`] parses it, so optional keys the job format gains keep
/// their defaults and this module compiles whatever executors exist. Closed mode
/// asks for `constant-vus`; if the format does not have it, the fallback is
/// `constant-arrival-rate` at `closed_rate` with `max_vus = vus`.
pub fn build_job(args: &BenchArgs) -> Result<(Job, String), BenchError> {
    let now = SystemTime::now();
    let stamp = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|e| BenchError::Job(e.to_string()))?;
    let car = |rate: f64| serde_json::json!({ "type": "constant-arrival-rate", "rate": rate, "offset": "0s" });
    let candidates = match args.rate {
        Some(rate) => vec![car(rate)],
        None => vec![
            serde_json::json!({ "type": "constant-vus", "vus": args.vus }),
            car(args.closed_rate),
        ],
    };
    let mut last_error = String::new();
    for executor in candidates {
        let name = executor["type"].as_str().unwrap_or_default().to_owned();
        let payload = serde_json::json!({
            "format": FORMAT_VERSION,
            "run_id": format!("bench-{}-{:03}", stamp.as_secs(), stamp.subsec_millis()),
            "worker_id": WorkerId::numbered(0),
            "region": "local",
            // Enough for the runtime to be ready; VUs connect on their first iteration.
            "start_at": humantime::format_rfc3339_nanos(now + Duration::from_millis(300)).to_string(),
            "duration": humantime::format_duration(args.duration).to_string(),
            "target": args.target,
            "scenarios": [{
                "name": "bench",
                "executor": executor,
                "pre_allocated_vus": args.vus,
                "max_vus": args.vus,
                "requests": [{ "name": "get", "method": "GET", "url": args.path, "expect_status": 200 }],
            }],
            "results": { "bucket": "local", "region": "local" },
            "flush_every": humantime::format_duration(args.flush_every).to_string(),
            "request_timeout": "10s",
        });
        match serde_json::from_value::<Job>(payload) {
            Ok(job) => return Ok((job, name)),
            Err(e) => last_error = format!("{name}: {e}"),
        }
    }
    Err(BenchError::Job(last_error))
}

/// User and system CPU seconds of this process so far, from `/proc/self/stat`.
pub fn cpu_seconds() -> Result<(f64, f64), BenchError> {
    let path = Path::new("/proc/self/stat");
    let text = read(path)?;
    parse_stat(&text).ok_or_else(|| BenchError::Log {
        path: path.into(),
        reason: "no utime/stime fields".into(),
    })
}

/// `utime` and `stime` (fields 14 and 15) in seconds; the fields after the
/// parenthesised command name, which may itself contain spaces.
fn parse_stat(text: &str) -> Option<(f64, f64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime / USER_HZ, stime / USER_HZ))
}

/// Peak resident set size in KiB (`VmHWM` of `/proc/self/status`).
pub fn peak_rss_kb() -> Result<u64, BenchError> {
    let path = Path::new("/proc/self/status");
    let text = read(path)?;
    parse_hwm(&text).ok_or_else(|| BenchError::Log {
        path: path.into(),
        reason: "no VmHWM line".into(),
    })
}

fn parse_hwm(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn read(path: &Path) -> Result<String, BenchError> {
    std::fs::read_to_string(path).map_err(|source| BenchError::Io {
        path: path.into(),
        source,
    })
}

/// Merges the `http_req_duration` intervals of every `.hlog` below `dir`.
pub fn read_back(dir: &Path) -> Result<Histogram<u64>, BenchError> {
    let mut merged = new_histogram();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| BenchError::Io {
            path: d.clone(),
            source,
        })?;
        for entry in entries {
            let path = entry
                .map_err(|source| BenchError::Io {
                    path: d.clone(),
                    source,
                })?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "hlog") {
                merge_log(&path, &mut merged)?;
            }
        }
    }
    Ok(merged)
}

fn merge_log(path: &Path, into: &mut Histogram<u64>) -> Result<(), BenchError> {
    let bytes = std::fs::read(path).map_err(|source| BenchError::Io {
        path: path.into(),
        source,
    })?;
    let bad = |reason: String| BenchError::Log {
        path: path.into(),
        reason,
    };
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(&bytes) {
        let LogEntry::Interval(interval) = entry.map_err(|e| bad(format!("{e:?}")))? else {
            continue;
        };
        let is_duration = interval
            .tag()
            .and_then(|t| split_tag(t.as_str()))
            .is_some_and(|(metric, _)| metric == TAG_DURATION);
        if !is_duration {
            continue;
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .map_err(|e| bad(e.to_string()))?;
        let h: Histogram<u64> = deserializer
            .deserialize(&mut raw.as_slice())
            .map_err(|e| bad(format!("{e:?}")))?;
        into.add(&h).map_err(|e| bad(format!("{e:?}")))?;
    }
    Ok(())
}

/// A one-line human summary of `r`, for stderr.
pub fn human(r: &BenchReport) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "sls-load-bench: {} {} vus={} requests={} ({:.0}/s) errors={} dropped={} \
         cpu={:.2}s ({:.1} µs/req) rss={} KiB p50={:.3}ms p99={:.3}ms",
        r.mode,
        r.executor,
        r.vus,
        r.requests,
        r.rps,
        r.errors,
        r.dropped_iterations,
        r.cpu_user_s + r.cpu_sys_s,
        r.cpu_us_per_req,
        r.peak_rss_kb,
        r.p50_ms,
        r.p99_ms,
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Executor;

    fn args(list: &[&str]) -> Result<BenchArgs, BenchError> {
        BenchArgs::parse(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_parse_and_bad_ones_are_refused() {
        let a = args(&[
            "--target",
            "http://127.0.0.1:1",
            "--duration",
            "2s",
            "--rate",
            "20000",
        ])
        .expect("parses");
        assert_eq!(a.duration, Duration::from_secs(2));
        assert_eq!(a.rate, Some(20000.0));
        assert_eq!(a.vus, 50);
        assert!(args(&["--duration", "2s"]).is_err());
        assert!(args(&["--target", "x", "--vus", "0"]).is_err());
        assert!(args(&["--target", "x", "--bogus", "1"]).is_err());
        assert!(args(&["--target", "x", "--rate"]).is_err());
    }

    #[test]
    fn proc_fields_parse() {
        let stat = "123 (tokio (x) w) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 3";
        assert_eq!(parse_stat(stat), Some((2.5, 0.75)));
        let status = "Name:\tx\nVmPeak:\t  100 kB\nVmHWM:\t   4242 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_hwm(status), Some(4242));
    }

    #[test]
    fn closed_jobs_prefer_constant_vus() {
        let a = args(&["--target", "http://127.0.0.1:1", "--vus", "7"]).expect("parses");
        let (job, name) = build_job(&a).expect("job");
        let executor = serde_json::to_value(&job.scenarios[0].executor).expect("serializes");
        assert_eq!(executor["type"], name.as_str());
        if name == "constant-vus" {
            assert_eq!(executor["vus"], 7);
        } else {
            assert_eq!(executor["rate"], DEFAULT_CLOSED_RATE);
        }
    }

    #[test]
    fn fixed_rate_jobs_use_the_open_model() {
        let a = args(&["--target", "http://127.0.0.1:1", "--rate", "500"]).expect("parses");
        let (job, name) = build_job(&a).expect("job");
        assert_eq!(name, "constant-arrival-rate");
        assert_eq!(job.scenarios[0].max_vus, 50);
        assert!(matches!(
            job.scenarios[0].executor,
            Executor::ConstantArrivalRate { rate, .. } if rate == 500.0
        ));
    }

    /// A loopback server answering every request on a keep-alive connection with a
    /// fixed 200; returns its base URL.
    async fn ok_server() -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut seen = Vec::new();
                    loop {
                        let Ok(n) = stream.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            seen.drain(..end + 4);
                            let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n";
                            if stream.write_all(reply).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        format!("http://{addr}")
    }

    /// Arguments for one second at `rate` with `vus` VUs against a fresh local
    /// server, writing into a fresh directory (returned for cleanup).
    async fn one_second_at(rate: u32, vus: u32) -> (PathBuf, BenchArgs) {
        let dir = tempdir();
        let target = ok_server().await;
        let (rate, vus) = (rate.to_string(), vus.to_string());
        let a = args(&[
            "--target",
            &target,
            "--duration",
            "1s",
            "--rate",
            &rate,
            "--vus",
            &vus,
            "--out",
            dir.to_str().expect("utf-8 path"),
        ])
        .expect("parses");
        (dir, a)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_short_fixed_rate_run_is_read_back_from_the_local_sink() {
        let (dir, a) = one_second_at(200, 4).await;
        let r = run(&a).await.expect("runs");
        assert_eq!(r.requests, 200, "{r:?}");
        assert_eq!(r.errors, 0, "{r:?}");
        assert_eq!(r.histogram_count, 200, "{r:?}");
        assert_eq!(
            r.objects_written, 2,
            "one interval log and the manifest: {r:?}"
        );
        assert!(r.peak_rss_kb > 0 && r.p99_ms >= r.p50_ms, "{r:?}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_delivery_of_the_same_job_is_refused_before_any_load() {
        let (dir, a) = one_second_at(20, 2).await;
        let (job, _) = build_job(&a).expect("job");
        let sink = LocalDirSink::new(&a.out);
        run_job(job.clone(), &sink, Invocation::default())
            .await
            .expect("the first delivery runs");
        let manifest =
            dir.join(ObjectKey::manifest(&job.run_id, &job.region, &job.worker_id).as_str());
        let before = std::fs::read(&manifest).expect("manifest");
        let written = sink.objects();

        let second = run_job(job, &sink, Invocation::default()).await;
        assert!(
            matches!(second, Err(WorkerError::Duplicate { .. })),
            "{:?}",
            second.map(|m| m.worker_id)
        );
        assert_eq!(sink.objects(), written, "the second delivery wrote nothing");
        assert_eq!(std::fs::read(&manifest).expect("manifest"), before);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    fn tempdir() -> PathBuf {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "sls-load-bench-test-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir
    }
}
