//! `sls-load-bench`, the worker benchmark behind `make bench` (issue #4): builds a
//! job against a loopback target and runs it through
//! [`sls_load_function::run_job`], the same path a Lambda invocation takes, with a
//! [`LocalDirSink`] instead of S3. It then reads back the interval logs the worker
//! wrote, merges their `http_req_duration` histograms and prints one JSON line:
//! requests, req/s, CPU seconds and µs per request (from `/proc/self/stat`), peak
//! RSS (`VmHWM` from `/proc/self/status`), p50/p99/max.
//!
//! Two modes: *closed* (`--vus N`: N virtual users sending back to back, k6's
//! `constant-vus`) and *fixed rate* (`--rate R`: `constant-arrival-rate`,
//! coordinated-omission-free latency). This file owns the error type and the
//! run (job → worker → read back → report); the command line, the job, the sink,
//! the log merge and the measurements live in their modules. It does not touch
//! the network beyond the `--target` it is given. Linux only (it reads `/proc`).

mod args;
mod job;
mod merge;
mod report;
mod sink;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser as _;
use sls_load_core::job::ObjectKey;
use sls_load_function::recorder::RecorderError;
use sls_load_function::{Invocation, WorkerError, run_job};

use args::BenchArgs;
use report::BenchReport;
use sink::LocalDirSink;

/// Why the benchmark could not run or report.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
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
    /// An interval log the worker wrote, or a `/proc` file, could not be read back.
    #[error("reading back {path}: {reason}")]
    Log {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A histogram could not be built.
    #[error(transparent)]
    Recorder(#[from] RecorderError),
    /// The clock is before 1970, so no run id can be stamped.
    #[error("building the job: {0}")]
    Clock(#[from] std::time::SystemTimeError),
    /// The job payload is not one this worker accepts.
    #[error("building the job: {0}")]
    Job(#[source] serde_json::Error),
    /// The report could not be serialised.
    #[error("writing the report: {0}")]
    Report(#[source] serde_json::Error),
}

fn main() -> ExitCode {
    let args = BenchArgs::parse();
    match run_on_runtime(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sls-load-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the job on a tokio runtime like `bootstrap`'s and returns the JSON line.
fn run_on_runtime(args: &BenchArgs) -> Result<String, BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| BenchError::Io {
            path: PathBuf::from("(tokio runtime)"),
            source,
        })?;
    let report = runtime.block_on(run(args))?;
    serde_json::to_string(&report).map_err(BenchError::Report)
}

/// Runs the benchmark job and measures it.
async fn run(args: &BenchArgs) -> Result<BenchReport, BenchError> {
    let (job, executor) = job::build_job(args)?;
    let sink = LocalDirSink::new(&args.out);
    let manifest = run_job(job, &sink, Invocation::default()).await?;
    let usage = report::Usage::of_this_process()?;
    let hist = merge::merge_logs(
        &args
            .out
            .join(ObjectKey::run_prefix(&manifest.run_id).as_str()),
    )?;
    Ok(report::report(
        args, executor, &manifest, &hist, usage, &sink,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::tests::args;
    use std::time::SystemTime;

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
        // Every arrival is sent or named dropped (a busy machine may leave one
        // VU-less for a moment); every request sent is in the histogram.
        assert_eq!(r.requests + r.dropped_iterations, 200, "{r:?}");
        assert_eq!(r.errors, 0, "{r:?}");
        assert_eq!(r.histogram_count, r.requests, "{r:?}");
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
        let (job, _) = job::build_job(&a).expect("job");
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
