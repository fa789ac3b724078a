//! The command line of `sls-load-bench` (clap): target, duration, VUs, optional
//! fixed rate, output directory and flush interval, with their defaults and range
//! checks. It does not build the job or run anything.

use std::path::PathBuf;
use std::time::Duration;

/// Runs one worker job against a loopback target and prints one JSON line of results.
#[derive(Debug, Clone, PartialEq, clap::Parser)]
#[command(name = "sls-load-bench", version, about)]
pub struct BenchArgs {
    /// Base URL of the target (loopback).
    #[arg(long, value_name = "URL")]
    pub target: String,

    /// Path requested by every iteration.
    #[arg(long, value_name = "PATH", default_value = "/")]
    pub path: String,

    /// Length of the slice.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = positive_duration)]
    pub duration: Duration,

    /// Connections (virtual users).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub vus: u32,

    /// Fixed arrival rate (requests per second); without it the closed model runs.
    #[arg(long, value_name = "R", value_parser = positive_rate)]
    pub rate: Option<f64>,

    /// Most VUs of the fixed-rate run (default: `--vus`, all started up front).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_vus: Option<u32>,

    /// Speak HTTP/2 (h2c with prior knowledge over plain TCP).
    #[arg(long)]
    pub http2: bool,

    /// VUs sharing one HTTP/2 connection as concurrent streams (the job's
    /// `http.max_streams_per_connection`).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams: u32,

    /// Think time after each request (idle keep-alive connections).
    #[arg(long, value_name = "DUR", value_parser = positive_duration)]
    pub think: Option<Duration>,

    /// Directory the sink writes the worker's objects to.
    #[arg(long, value_name = "DIR", default_value = "bench/results/worker")]
    pub out: PathBuf,

    /// The job's `flush_every`.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = sls_load_core::duration::parse)]
    pub flush_every: Duration,

    /// A k6 script the VUs run instead of the one GET (`--path` and
    /// `--think` are then unused); `__ENV.BASE` is the target.
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
}

fn positive_duration(v: &str) -> Result<Duration, String> {
    let d = sls_load_core::duration::parse(v).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("must be positive".into());
    }
    Ok(d)
}

fn positive_rate(v: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0)
        .ok_or_else(|| "not a positive number".into())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use clap::Parser as _;

    /// Parses `list` as the arguments after the program name.
    pub(crate) fn args(list: &[&str]) -> Result<BenchArgs, clap::Error> {
        BenchArgs::try_parse_from(std::iter::once("sls-load-bench").chain(list.iter().copied()))
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
    fn defaults_are_those_of_the_old_hand_written_parser() {
        let a = args(&["--target", "http://127.0.0.1:1"]).expect("parses");
        assert_eq!(a.path, "/");
        assert_eq!(a.duration, Duration::from_secs(10));
        assert_eq!(a.vus, 50);
        assert_eq!(a.rate, None);
        assert_eq!(
            (a.max_vus, a.http2, a.max_streams, a.think),
            (None, false, 1, None)
        );
        assert_eq!(a.out, PathBuf::from("bench/results/worker"));
        assert_eq!(a.flush_every, Duration::from_secs(10));
        assert!(args(&["--target", "x", "--duration", "0s"]).is_err());
        assert!(args(&["--target", "x", "--rate", "0"]).is_err());
        assert!(args(&["--target", "x", "--rate", "inf"]).is_err());
    }
}
