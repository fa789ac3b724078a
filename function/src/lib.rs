//! The sls-load worker: one Lambda invocation runs one time slice of HTTP load and
//! leaves its measurements in S3.
//!
//! # Brief overview
//! - [`job`] and [`schedule`]: the wire contract and pacing arithmetic, re-exported
//!   from `sls-load-core`, which the orchestrator shares.
//! - [`engine`]: runs the executors and sends requests (open model timed from the
//!   intended start, closed model from the actual send).
//! - [`flow`]: templating, captures, checks and data rows of an iteration, pure.
//! - [`recorder`]: HdrHistograms per one-second interval and tag, counts, error classes.
//! - [`sink`]: the [`sink::Sink`] trait and its S3 implementation.
//! - [`control`]: the kill switch (control object, heartbeat) that stops a run early.
//! - [`probe`]: the answer to `sls-load doctor`'s probe (no load).
//!
//! This file owns the invocation flow ([`Worker::invoke`] → [`run_job`]): check the
//! job, run the engine while flushing completed intervals every `flush_every`, then
//! write the last interval log and the manifest. The `bootstrap` binary only wires
//! [`Worker`] into `lambda_runtime`.

#![warn(missing_docs)]

pub mod client;
pub mod control;
pub mod engine;
pub mod flow;
pub mod probe;
pub mod recorder;
pub mod sink;

pub use sls_load_core::{job, schedule};

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use lambda_runtime::{Diagnostic, LambdaEvent};
use tokio::sync::Notify;

use engine::{Clock, EngineError, EngineReport};
use job::{FORMAT_VERSION, Job, LogCount, LogRecord, Manifest, ObjectKey, Region, Unwritten};
use recorder::{Recorder, RecorderError};
use sink::{Claim, S3Sink, Sink, SinkError};

/// Time kept free before the invocation deadline for the last flush and the manifest.
pub const FLUSH_RESERVE: Duration = Duration::from_secs(5);

/// Why an invocation failed. Per-request failures are not errors; they are measured.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The payload is not a job this worker understands.
    #[error("invalid job payload: {0}")]
    BadJob(String),
    /// The job's wire-format version differs from this worker's.
    #[error(
        "job format {got} is not supported by this worker (supports {FORMAT_VERSION}); redeploy the function"
    )]
    Format {
        /// The version in the payload.
        got: u32,
    },
    /// The slice would end after the invocation deadline.
    #[error(
        "slice ends at {ends} but the invocation deadline is {deadline}; shorten the slice or raise the function timeout"
    )]
    Deadline {
        /// When the slice plus drain and flush would end (RFC 3339).
        ends: String,
        /// The invocation deadline (RFC 3339).
        deadline: String,
    },
    /// The engine could not run the job.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Histograms could not be encoded.
    #[error(transparent)]
    Recorder(#[from] RecorderError),
    /// Results could not be stored.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// Another invocation already claimed this job (Lambda delivered the event
    /// twice); this one sent nothing.
    #[error("duplicate delivery: {key} already exists, so another invocation runs this job")]
    Duplicate {
        /// The claim object found.
        key: ObjectKey,
    },
}

impl From<WorkerError> for Diagnostic {
    fn from(e: WorkerError) -> Self {
        let kind = match e {
            WorkerError::BadJob(_) => "BadJob",
            WorkerError::Format { .. } => "FormatMismatch",
            WorkerError::Deadline { .. } => "Deadline",
            WorkerError::Engine(_) => "Engine",
            WorkerError::Recorder(_) => "Recorder",
            WorkerError::Sink(_) => "Sink",
            WorkerError::Duplicate { .. } => "DuplicateDelivery",
        };
        Diagnostic {
            error_type: format!("SlsLoad.{kind}"),
            error_message: e.to_string(),
        }
    }
}

/// Facts about the invocation that the job itself does not carry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Invocation {
    /// Process initialisation time, for the first invocation of a process only.
    pub init_duration: Option<Duration>,
    /// When Lambda will stop the invocation.
    pub deadline: Option<SystemTime>,
}

/// How long a worker told to terminate (SIGTERM, e.g. the local Lambda's parent
/// death signal) takes at most to stop its load, flush once and store its
/// `stopped` manifest before its process exits.
pub const TERMINATE_GRACE: Duration = FLUSH_RESERVE;

/// One worker process: S3 clients are built once per bucket and reused across warm
/// invocations.
pub struct Worker {
    init_duration: Duration,
    cold: AtomicBool,
    sinks: tokio::sync::Mutex<HashMap<(String, Region), S3Sink>>,
    /// Given once by [`Worker::terminate`]: stops the job running and any later one.
    terminate: Arc<engine::Stop>,
    /// How many jobs are running now.
    running: tokio::sync::watch::Sender<usize>,
}

/// Counts one running job in [`Worker::running`] while it lives.
struct Running<'a>(&'a tokio::sync::watch::Sender<usize>);

impl<'a> Running<'a> {
    fn new(count: &'a tokio::sync::watch::Sender<usize>) -> Self {
        count.send_modify(|n| *n += 1);
        Self(count)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Worker {
    /// A worker whose process took `init_duration` to become ready.
    pub fn new(init_duration: Duration) -> Self {
        Self {
            init_duration,
            cold: AtomicBool::new(true),
            sinks: tokio::sync::Mutex::new(HashMap::new()),
            terminate: engine::Stop::new(),
            running: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Stops the running job as the control object would (its last intervals are
    /// flushed and its manifest says `stopped`), and returns once no job runs.
    /// The caller bounds the wait ([`TERMINATE_GRACE`]): with the store gone the
    /// last PUTs would only be retried.
    pub async fn terminate(&self) {
        self.terminate.stop();
        let mut running = self.running.subscribe();
        // Err: the sender is gone, so nothing runs any more.
        let _ = running.wait_for(|n| *n == 0).await;
    }

    /// Handles one Lambda event: `sls-load doctor`'s probe gets its
    /// [`probe::answer`]; anything else is a job ([`Worker::invoke`]), answered
    /// with its manifest.
    pub async fn handle(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<serde_json::Value, WorkerError> {
        let probe = event.payload.get(sls_load_core::probe::PROBE_KEY);
        if let Some(probe) = probe {
            let probe: sls_load_core::probe::Probe = serde_json::from_value(probe.clone())
                .map_err(|e| WorkerError::BadJob(e.to_string()))?;
            let sink = self.sink(&probe.bucket, &probe.region).await;
            let report = probe::answer(&probe, &sink).await;
            return serde_json::to_value(report).map_err(|e| WorkerError::BadJob(e.to_string()));
        }
        let manifest = self.invoke(event).await?;
        serde_json::to_value(manifest).map_err(|e| WorkerError::BadJob(e.to_string()))
    }

    /// Handles one Lambda event: parses the job, runs it and returns its manifest.
    pub async fn invoke(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<Manifest, WorkerError> {
        let job: Job = serde_json::from_value(event.payload)
            .map_err(|e| WorkerError::BadJob(e.to_string()))?;
        let invocation = Invocation {
            init_duration: self
                .cold
                .swap(false, Ordering::Relaxed)
                .then_some(self.init_duration),
            deadline: Some(event.context.deadline()),
        };
        let _running = Running::new(&self.running);
        let sink = self.sink(&job.results.bucket, &job.results.region).await;
        Box::pin(run_job_unboxed(
            job,
            &sink,
            invocation,
            Some(self.terminate.clone()),
        ))
        .await
    }

    async fn sink(&self, bucket: &str, region: &Region) -> S3Sink {
        let mut sinks = self.sinks.lock().await;
        let key = (bucket.to_owned(), region.clone());
        if let Some(s) = sinks.get(&key) {
            return s.clone();
        }
        let s = S3Sink::from_env(bucket, region).await;
        sinks.insert(key, s.clone());
        s
    }
}

/// The future of [`run_job`], type-erased.
pub type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<Manifest, WorkerError>> + Send + 'a>>;

/// Runs `job` to the end of its slice and stores its interval logs and manifest in
/// `sink`. Completed intervals are flushed every `job.flush_every`, so a worker that
/// dies loses at most that much.
///
/// The future is boxed and type-erased: the engine, HTTP client and AWS SDK
/// futures nest deeply, and without a break here rustc's query depth limit is hit
/// when it lays out `bootstrap`'s `main` (from a clean build).
pub fn run_job<S: Sink>(job: Job, sink: &S, invocation: Invocation) -> JobFuture<'_> {
    Box::pin(run_job_unboxed(job, sink, invocation, None))
}

/// [`run_job`]'s body; `terminate`, once given, stops the engine like a stop order.
async fn run_job_unboxed<S: Sink>(
    job: Job,
    sink: &S,
    invocation: Invocation,
    terminate: Option<Arc<engine::Stop>>,
) -> Result<Manifest, WorkerError> {
    let invoked_at = SystemTime::now();
    check_job(&job, invocation)?;
    claim_job(&job, sink, invoked_at).await?;
    let clock = Clock::now();
    // Intervals count from the run's start, so slices of one worker slot line up.
    let recorder = Arc::new(
        Recorder::with_requests(
            clock.instant_of(job.run_start()),
            job.run_start(),
            engine::request_infos(&job),
        )
        .with_served_by(job.http.served_by_header.as_deref()),
    );
    let (report, written, stopped) = run_and_flush(&job, sink, &recorder, clock, terminate).await?;
    let manifest = Manifest {
        format: FORMAT_VERSION,
        run_id: job.run_id.clone(),
        region: job.region.clone(),
        worker_id: job.worker_id.clone(),
        init_duration: invocation.init_duration,
        invoked_at,
        start_at: job.start_at,
        first_request_at: report.first_request_at,
        finished_at: report.finished_at,
        dropped_iterations: report.dropped_iterations,
        paused_iterations: recorder.paused(),
        requests: recorder.counts(),
        checks: recorder.checks(),
        latency_logs: u32::try_from(written.logs.len()).unwrap_or(u32::MAX),
        logs: written.logs,
        unwritten: written.unwritten,
        superseded: written.superseded,
        stopped,
        resolutions: report.resolutions,
        exceptions: recorder.exceptions(),
        aborted: recorder.aborted(),
    };
    put_manifest(&job, sink, &manifest).await?;
    Ok(manifest)
}

/// Whether this worker can run `job` at all: its format, where its results go and,
/// when the invocation has a deadline, whether the slice ends in time.
fn check_job(job: &Job, invocation: Invocation) -> Result<(), WorkerError> {
    if job.format != FORMAT_VERSION {
        return Err(WorkerError::Format { got: job.format });
    }
    if job.results.bucket.is_empty() {
        return Err(WorkerError::BadJob(
            "results.bucket is empty: the job does not say where to write".into(),
        ));
    }
    if let Some(deadline) = invocation.deadline {
        let ends = job.start_at + job.duration + job.drain();
        if ends + FLUSH_RESERVE > deadline {
            return Err(WorkerError::Deadline {
                ends: humantime::format_rfc3339_millis(ends).to_string(),
                deadline: humantime::format_rfc3339_millis(deadline).to_string(),
            });
        }
    }
    Ok(())
}

/// Claims `job` for this invocation (after its [`claim_delay`]), or says that
/// another invocation already has.
async fn claim_job<S: Sink>(
    job: &Job,
    sink: &S,
    invoked_at: SystemTime,
) -> Result<(), WorkerError> {
    // Lambda may deliver an asynchronous event more than once: only the first
    // delivery of a job, the one that creates its claim object, sends load.
    tokio::time::sleep(claim_delay(job, SystemTime::now())).await;
    let claim = ObjectKey::claim(&job.run_id, &job.region, &job.worker_id);
    let claimed = format!(
        "{{\"invoked_at\":\"{}\"}}",
        humantime::format_rfc3339_millis(invoked_at)
    );
    if sink.claim(&claim, claimed.into_bytes()).await? == Claim::Taken {
        return Err(WorkerError::Duplicate { key: claim });
    }
    Ok(())
}

/// Runs the engine while flushing completed intervals every `job.flush_every`
/// and watching the run's control object, then flushes the rest; returns the
/// engine's report, how many latency logs were written and whether the control
/// object stopped the engine early.
async fn run_and_flush<S: Sink>(
    job: &Job,
    sink: &S,
    recorder: &Arc<Recorder>,
    clock: Clock,
    terminate: Option<Arc<engine::Stop>>,
) -> Result<(EngineReport, Written, bool), WorkerError> {
    let comment = sls_load_core::hlog::origin_comment(
        job.run_id.as_str(),
        job.region.as_str(),
        job.worker_id.as_str(),
    );
    let mut flusher = Flusher {
        job,
        sink,
        recorder,
        comment: &comment,
        seq: 0,
        pending: Vec::new(),
        written: Vec::new(),
        last_error: None,
        superseded: Vec::new(),
    };
    let done = Notify::new();
    let stop = engine::Stop::new();
    let control = control::Watch::new(job, sink, stop.clone());
    // A termination (SIGTERM) is relayed to this job's stop order.
    let relay = terminate.map(|terminate| {
        let stop = stop.clone();
        tokio::spawn(async move {
            terminate.stopped().await;
            stop.stop();
        })
    });
    let engine = async {
        let report = engine::run_until(job, recorder.clone(), clock, stop.clone()).await;
        done.notify_one();
        control.finished();
        // Stopped early: the engine ended with the order given.
        (report, stop.is_stopped())
    };
    let periodic = async {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(job.flush_every) => {}
                _ = done.notified() => return,
            }
            if let Err(e) = flusher.flush(false).await {
                tracing::error!(error = %e, "periodic flush failed");
            }
            control.check().await;
        }
    };
    let ((report, stopped), (), ()) = tokio::join!(engine, periodic, control.run());
    if let Some(relay) = relay {
        relay.abort();
    }
    let report = report?;
    flusher.flush(true).await?;
    Ok((report, flusher.finish(), stopped))
}

/// Stores `manifest` as `job`'s manifest object.
async fn put_manifest<S: Sink>(
    job: &Job,
    sink: &S,
    manifest: &Manifest,
) -> Result<(), WorkerError> {
    let body =
        serde_json::to_vec_pretty(manifest).map_err(|e| WorkerError::BadJob(e.to_string()))?;
    sink.put(
        &ObjectKey::manifest(&job.run_id, &job.region, &job.worker_id),
        body,
        "application/json",
    )
    .await?;
    Ok(())
}

/// How long before its start a worker has made its claim at the latest.
pub const CLAIM_MARGIN: Duration = Duration::from_secs(1);

/// How long a worker invoked at `now` waits before claiming its job: a fraction
/// of the time until [`CLAIM_MARGIN`] before its start, fixed per worker (a hash
/// of run, region and worker). Workers invoked together, a thousand in a burst,
/// then spread their claim PUTs over the lead time instead of making them all at
/// once; zero when the start is less than the margin away.
fn claim_delay(job: &Job, now: SystemTime) -> Duration {
    use std::hash::{Hash, Hasher};
    let Some(window) = job
        .start_at
        .checked_sub(CLAIM_MARGIN)
        .and_then(|by| by.duration_since(now).ok())
    else {
        return Duration::ZERO;
    };
    let mut h = std::hash::DefaultHasher::new();
    (
        job.run_id.as_str(),
        job.region.as_str(),
        job.worker_id.as_str(),
    )
        .hash(&mut h);
    window.mul_f64((h.finish() >> 11) as f64 / (1u64 << 53) as f64)
}

/// Writes completed intervals as numbered interval-log objects. Intervals whose
/// PUT failed (after the sink's own retries) are kept and written with the next
/// flush, under the next name (a key that keeps failing, e.g. a partition that
/// answers 503, is not tried again), so a failed flush loses nothing unless the
/// last one fails too. The names given up on are listed in the manifest
/// (`superseded`): an object stored there although its PUT looked failed holds
/// intervals written again later, and readers leave it out.
struct Flusher<'a, S> {
    job: &'a Job,
    sink: &'a S,
    recorder: &'a Recorder,
    comment: &'a str,
    /// The number of the next object.
    seq: u32,
    /// Intervals taken from the recorder and not stored yet.
    pending: Vec<u8>,
    /// The objects stored so far.
    written: Vec<LogRecord>,
    /// Why the pending intervals' last PUT failed.
    last_error: Option<String>,
    /// Names whose PUT failed: their intervals went on to a later name.
    superseded: Vec<String>,
}

/// What a worker's flushes stored, and what they could not.
#[derive(Debug, Default)]
struct Written {
    logs: Vec<LogRecord>,
    unwritten: Option<Unwritten>,
    superseded: Vec<String>,
}

impl<S: Sink> Flusher<'_, S> {
    /// Writes the intervals completed so far (all of them when `last`), with any
    /// still pending from a failed flush. A failed PUT is logged, not returned: its
    /// intervals stay pending.
    async fn flush(&mut self, last: bool) -> Result<(), WorkerError> {
        if last {
            self.recorder.close()?;
        } else {
            self.recorder.roll_to(std::time::Instant::now())?;
        }
        if let Some(log) = self.recorder.take_log(self.comment)? {
            self.pending.extend_from_slice(&log);
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        let key = ObjectKey::latency_log(
            &self.job.run_id,
            &self.job.region,
            &self.job.worker_id,
            self.seq,
        );
        match self
            .sink
            .put(&key, self.pending.clone(), "text/plain")
            .await
        {
            Ok(()) => {
                let count = LogCount::of(&self.pending);
                self.written.push(LogRecord {
                    name: sls_load_core::id::files::latency_log(self.seq),
                    requests: count.requests,
                });
                self.pending.clear();
                self.last_error = None;
                self.seq += 1;
            }
            Err(e) => {
                tracing::error!(error = %e, key = %key, "flush failed; its intervals go to the next object");
                self.last_error = Some(e.to_string());
                self.superseded
                    .push(sls_load_core::id::files::latency_log(self.seq));
                self.seq += 1;
            }
        }
        Ok(())
    }

    /// The objects written, and the intervals that never could be.
    fn finish(self) -> Written {
        let unwritten = (!self.pending.is_empty()).then(|| {
            let count = LogCount::of(&self.pending);
            let (first_second, last_second) = count.seconds.unwrap_or_default();
            Unwritten {
                first_second,
                last_second,
                requests: count.requests,
                error: self.last_error.unwrap_or_default(),
            }
        });
        Written {
            logs: self.written,
            unwritten,
            superseded: self.superseded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::WorkerId;

    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use crate::job::Executor;
    use crate::sink::SinkError;

    /// An in-memory sink whose PUTs of `failing` keys fail (as if every retry of
    /// the S3 sink had failed) the first `times` times.
    struct FlakySink {
        objects: Mutex<BTreeMap<String, Vec<u8>>>,
        failing: &'static str,
        times: Mutex<u32>,
    }

    impl FlakySink {
        fn new(failing: &'static str, times: u32) -> Self {
            Self {
                objects: Mutex::default(),
                failing,
                times: Mutex::new(times),
            }
        }
    }

    impl Sink for FlakySink {
        async fn claim(&self, key: &ObjectKey, body: Vec<u8>) -> Result<Claim, SinkError> {
            self.put(key, body, "application/json")
                .await
                .map(|()| Claim::Won)
        }
        async fn put(
            &self,
            key: &ObjectKey,
            body: Vec<u8>,
            _content_type: &'static str,
        ) -> Result<(), SinkError> {
            if key.as_str().ends_with(self.failing) {
                let mut times = self.times.lock().unwrap();
                if *times > 0 {
                    *times -= 1;
                    return Err(SinkError {
                        bucket: "b".into(),
                        key: key.clone(),
                        attempts: 5,
                        message: "503 SlowDown".into(),
                    });
                }
            }
            self.objects
                .lock()
                .unwrap()
                .insert(key.as_str().to_owned(), body);
            Ok(())
        }
    }

    /// A 3.5 s job at 20 requests/s with a flush every second.
    async fn flushing_job() -> Job {
        let (url, _seen) = engine::tests::server(Duration::ZERO).await;
        let mut scenario = engine::tests::scenario(
            "s",
            Executor::ConstantArrivalRate {
                rate: 20.0,
                offset: Duration::ZERO,
            },
            vec![engine::tests::step("home", "/")],
        );
        scenario.duration = Some(Duration::from_millis(3500));
        let mut job = engine::tests::job(&url, Duration::from_millis(3500), vec![scenario]);
        job.flush_every = Duration::from_secs(1);
        job
    }

    /// Requests in the stored interval logs, per object name.
    fn stored(sink: &FlakySink) -> BTreeMap<String, u64> {
        sink.objects
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.ends_with(".hlog"))
            .map(|(k, v)| {
                (
                    k.rsplit('/').next().unwrap().to_owned(),
                    LogCount::of(v).requests,
                )
            })
            .collect()
    }

    fn invocation() -> Invocation {
        Invocation {
            init_duration: None,
            deadline: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_flush_keeps_its_intervals_for_the_next_one() {
        let sink = FlakySink::new("latency-00001.hlog", 1);
        let manifest = run_job(flushing_job().await, &sink, invocation())
            .await
            .unwrap();
        let sent: u64 = manifest.requests.values().map(|c| c.requests).sum();
        let stored = stored(&sink);
        assert_eq!(sent, 70, "{manifest:?}");
        assert_eq!(stored.values().sum::<u64>(), sent, "{stored:?}");
        let listed: BTreeMap<String, u64> = manifest
            .logs
            .iter()
            .map(|l| (l.name.clone(), l.requests))
            .collect();
        assert_eq!(listed, stored);
        assert_eq!(manifest.latency_logs as usize, stored.len());
        assert!(manifest.unwritten.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_key_that_keeps_failing_is_given_up_for_the_next_name() {
        let sink = FlakySink::new("latency-00001.hlog", u32::MAX);
        let manifest = run_job(flushing_job().await, &sink, invocation())
            .await
            .unwrap();
        let sent: u64 = manifest.requests.values().map(|c| c.requests).sum();
        let stored = stored(&sink);
        assert_eq!(stored.values().sum::<u64>(), sent, "{manifest:?}");
        assert!(manifest.unwritten.is_none(), "{manifest:?}");
        assert_eq!(manifest.superseded, ["latency-00001.hlog"]);
        assert!(!stored.contains_key("latency-00001.hlog"), "{stored:?}");
        assert_eq!(manifest.logs.len(), stored.len());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn intervals_that_could_never_be_stored_are_named_in_the_manifest() {
        let sink = FlakySink::new(".hlog", u32::MAX);
        let manifest = run_job(flushing_job().await, &sink, invocation())
            .await
            .unwrap();
        let sent: u64 = manifest.requests.values().map(|c| c.requests).sum();
        let stored = stored(&sink);
        let lost = manifest
            .unwritten
            .clone()
            .expect("unwritten intervals named");
        assert_eq!(
            stored.values().sum::<u64>() + lost.requests,
            sent,
            "{manifest:?}"
        );
        assert!(lost.requests > 0);
        assert!(lost.last_second >= lost.first_second, "{lost:?}");
        assert!(lost.error.contains("SlowDown"), "{lost:?}");
        assert!(manifest.logs.is_empty(), "no log could be stored");
        assert!(!manifest.superseded.is_empty());
    }

    #[test]
    fn claims_spread_over_the_wait_and_come_at_least_a_margin_before_the_start() {
        let now = SystemTime::now();
        let mut job = engine::tests::job("http://127.0.0.1:1", Duration::from_secs(1), vec![]);
        job.start_at = now + Duration::from_secs(21);
        let delays: Vec<Duration> = (0..200)
            .map(|i| {
                job.worker_id = WorkerId::numbered(i);
                claim_delay(&job, now)
            })
            .collect();
        let window = Duration::from_secs(20);
        assert!(delays.iter().all(|d| *d < window), "{delays:?}");
        // Spread out, not bunched: some early, some late.
        assert!(delays.iter().any(|d| *d < window / 4));
        assert!(delays.iter().any(|d| *d > window * 3 / 4));
        // The same worker always waits the same.
        assert_eq!(claim_delay(&job, now), claim_delay(&job, now));
        // No wait once the start is less than the margin away.
        job.start_at = now + CLAIM_MARGIN / 2;
        assert_eq!(claim_delay(&job, now), Duration::ZERO);
        job.start_at = now - Duration::from_secs(5);
        assert_eq!(claim_delay(&job, now), Duration::ZERO);
    }
}
