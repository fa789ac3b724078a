//! The JSON line `sls-load-bench` prints ([`BenchReport`]) and the process
//! measurements behind it: CPU seconds from `/proc/self/stat`, peak RSS (`VmHWM`)
//! from `/proc/self/status`. It does not run the job or read the interval logs.

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::Serialize;
use sls_load_core::job::Manifest;

use crate::BenchError;
use crate::args::BenchArgs;
use crate::sink::LocalDirSink;

/// Kernel clock ticks per second of `/proc/self/stat` (`USER_HZ`, 100 on every
/// Linux architecture sls-load runs on).
const USER_HZ: f64 = 100.0;

/// The JSON line the benchmark prints.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Always `sls-load-worker`.
    pub tool: &'static str,
    /// `closed` or `rate`.
    pub mode: &'static str,
    /// The executor the job used (`constant-vus` or `constant-arrival-rate`).
    pub executor: &'static str,
    /// Virtual users (connections).
    pub vus: u32,
    /// The fixed arrival rate, if any.
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

/// CPU and memory this process has used so far.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// User CPU seconds.
    pub user_s: f64,
    /// System CPU seconds.
    pub sys_s: f64,
    /// Peak resident set size, KiB.
    pub peak_rss_kb: u64,
}

impl Usage {
    /// Reads `/proc/self/stat` and `/proc/self/status`.
    pub fn of_this_process() -> Result<Self, BenchError> {
        let stat = Path::new("/proc/self/stat");
        let (user_s, sys_s) = parse_stat(&read(stat)?).ok_or_else(|| BenchError::Log {
            path: stat.into(),
            reason: "no utime/stime fields".into(),
        })?;
        let status = Path::new("/proc/self/status");
        let peak_rss_kb = parse_hwm(&read(status)?).ok_or_else(|| BenchError::Log {
            path: status.into(),
            reason: "no VmHWM line".into(),
        })?;
        Ok(Self {
            user_s,
            sys_s,
            peak_rss_kb,
        })
    }
}

/// The report of one run: counts from the manifest, latency from `hist`.
pub fn report(
    args: &BenchArgs,
    executor: &'static str,
    manifest: &Manifest,
    hist: &Histogram<u64>,
    usage: Usage,
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
    let cpu_s = usage.user_s + usage.sys_s;
    BenchReport {
        tool: "sls-load-worker",
        mode: if args.rate.is_some() {
            "rate"
        } else {
            "closed"
        },
        rate: args.rate,
        executor,
        vus: args.vus,
        duration_s: secs,
        requests,
        errors,
        errors_by_class,
        dropped_iterations: manifest.dropped_iterations,
        rps: requests as f64 / secs,
        cpu_user_s: usage.user_s,
        cpu_sys_s: usage.sys_s,
        cpu_us_per_req: if requests == 0 {
            0.0
        } else {
            cpu_s * 1e6 / requests as f64
        },
        peak_rss_kb: usage.peak_rss_kb,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields_parse() {
        let stat = "123 (tokio (x) w) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 3";
        assert_eq!(parse_stat(stat), Some((2.5, 0.75)));
        let status = "Name:\tx\nVmPeak:\t  100 kB\nVmHWM:\t   4242 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_hwm(status), Some(4242));
    }
}
