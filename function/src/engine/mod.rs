//! Generates the HTTP load of one job: runs every scenario's executor inside the
//! job's time window and hands every outcome to the recorder.
//!
//! Arrival-rate executors (`constant-arrival-rate`, `ramping-arrival-rate`) are an
//! open model ([`open`]): a pacer releases each intended instant of the
//! [`schedule`](crate::schedule) to a free VU, starts another VU up to `max_vus`,
//! and past that counts a dropped iteration instead of delaying it. Their first
//! request is timed from its *intended* start, so a stalled target cannot hide the
//! wait it caused (no coordinated omission). VU executors (`constant-vus`,
//! `ramping-vus`, `per-vu-iterations`) are a closed model ([`closed`]): each VU
//! loops iterations back to back and requests are timed from their actual send
//! (service time). Sending stops at the end of the slice; requests in flight then
//! get a short drain window and count as timeouts if they do not finish in it.
//! A scenario's `graceful_stop` (set only where the scenario ends) lets the
//! iterations in progress send their remaining steps for that long past the end.
//!
//! This module owns the job-level wiring (clock, target, scenario contexts). Pacing
//! arithmetic lives in `schedule`, templating and checks in `flow`, measurements in
//! `recorder`, and the network in the [`transport`] seam. No S3 IO happens here.

mod closed;
mod iteration;
mod open;
mod script;
mod send;
pub mod stop;
mod timer;
pub mod transport;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::flow::{Flow, FlowError};
use crate::job::{Job, JobScenario};
use crate::recorder::{Recorder, RecorderError};
use crate::schedule::{self, ArrivalSchedule, VuSchedule, Window};

pub use stop::Stop;
use transport::Target;

/// The longest time in-flight requests get to finish after the slice ends.
pub use sls_load_core::job::MAX_DRAIN;

/// Why the engine could not run a job at all (per-request failures are outcomes).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The target URL is not usable.
    #[error("invalid URL `{url}`: {reason}")]
    Url {
        /// The offending URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The client for the target cannot be built (bad URL, CA or TLS settings).
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    /// A scenario's requests cannot be prepared.
    #[error("scenario `{scenario}`: {source}")]
    Flow {
        /// The scenario.
        scenario: String,
        /// What is wrong.
        source: FlowError,
    },
    /// The pacing timer of an arrival-rate scenario could not be set up.
    #[error("scenario `{scenario}`: pacing timer: {reason}")]
    Pacer {
        /// The scenario.
        scenario: String,
        /// What failed.
        reason: String,
    },
    /// The recorder failed.
    #[error(transparent)]
    Recorder(#[from] RecorderError),
    /// The job's script cannot be loaded (a file does not decode, the script
    /// is not among its files).
    #[error("script: {reason}")]
    Script {
        /// What is wrong.
        reason: String,
    },
}

/// What the engine reports besides the recorder's measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineReport {
    /// Arrivals that found every VU busy at `max_vus`, or were already past when the
    /// worker became ready.
    pub dropped_iterations: u64,
    /// When the first request actually left.
    pub first_request_at: Option<SystemTime>,
    /// When the last in-flight request settled.
    pub finished_at: SystemTime,
    /// Each change of the target host's DNS answer, the first included.
    pub resolutions: Vec<sls_load_core::dns::Resolution>,
}

/// Maps wall-clock instants onto the monotonic clock, once, at job start.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall: SystemTime,
    mono: Instant,
}

impl Clock {
    /// Reads both clocks now.
    pub fn now() -> Self {
        Self {
            wall: SystemTime::now(),
            mono: Instant::now(),
        }
    }

    /// The monotonic instant corresponding to `at`.
    pub fn instant_of(&self, at: SystemTime) -> Instant {
        match at.duration_since(self.wall) {
            Ok(ahead) => self.mono + ahead,
            Err(behind) => self
                .mono
                .checked_sub(behind.duration())
                .unwrap_or(self.mono),
        }
    }

    /// The wall-clock time corresponding to `at`.
    pub fn wall_of(&self, at: Instant) -> SystemTime {
        if at >= self.mono {
            self.wall + (at - self.mono)
        } else {
            self.wall - (self.mono - at)
        }
    }
}

/// Everything the VUs of one scenario share.
struct Ctx {
    name: String,
    flow: Flow,
    target: Arc<Target>,
    recorder: Arc<Recorder>,
    /// The monotonic instant of the run's start: schedules count from here.
    run_start: Instant,
    /// End of the slice: no iteration starts after it.
    end: Instant,
    /// No step of an iteration is sent after it: the end plus the scenario's
    /// `graceful_stop` (k6's `gracefulStop`; zero but at the scenario's end).
    steps_end: Instant,
    /// Requests still in flight at this instant count as timeouts.
    hard_stop: Instant,
    request_timeout: Duration,
    /// The worker's data-row counter: iteration `n` takes row `n % rows`.
    next_row: AtomicU64,
    /// Seeds the VUs' think-time jitter (and, in `schedule`, Poisson gaps).
    seed: u64,
    first_sent: Arc<FirstSent>,
    clock: Clock,
    /// Once given, nothing more starts (see [`stop`]).
    stop: Arc<Stop>,
    /// The job's script, when the scenario runs one instead of `requests`.
    script: Option<script::ScriptCtx>,
}

/// The earliest send of the job, as nanoseconds after the clock's reference instant.
struct FirstSent(AtomicU64);

impl FirstSent {
    fn note(&self, clock: &Clock, sent: Instant) {
        if self.0.load(Ordering::Relaxed) == u64::MAX {
            let nanos = u64::try_from(sent.saturating_duration_since(clock.mono).as_nanos())
                .unwrap_or(u64::MAX - 1);
            self.0.fetch_min(nanos, Ordering::Relaxed);
        }
    }

    fn get(&self, clock: &Clock) -> Option<SystemTime> {
        let nanos = self.0.load(Ordering::Relaxed);
        (nanos != u64::MAX).then(|| clock.wall_of(clock.mono + Duration::from_nanos(nanos)))
    }
}

/// Runs every scenario of `job` to the end of its slice, recording into `recorder`
/// (whose request indices follow [`request_names`]).
pub async fn run(
    job: &Job,
    recorder: Arc<Recorder>,
    clock: Clock,
) -> Result<EngineReport, EngineError> {
    run_until(job, recorder, clock, Stop::new()).await
}

/// [`run`], ending early once `stop` is given: no new iteration or step, think
/// times cut short, requests in flight settle within their timeout and at most
/// [`STOP_DRAIN`](sls_load_core::control::STOP_DRAIN).
pub async fn run_until(
    job: &Job,
    recorder: Arc<Recorder>,
    clock: Clock,
    stop: Arc<Stop>,
) -> Result<EngineReport, EngineError> {
    let window = Window::of_job(job);
    let run_start = clock.instant_of(job.run_start());
    let end = run_start + window.end;
    let hard_stop = end + job.drain();
    let target = Arc::new(Target::new(&job.target, &job.http).await?);
    let first_sent = Arc::new(FirstSent(AtomicU64::new(u64::MAX)));

    let program = match &job.script {
        Some(s) => Some(script::program(s).map_err(|reason| EngineError::Script { reason })?),
        None => None,
    };
    let mut tasks = Vec::new();
    let mut first_index = 0;
    for scenario in &job.scenarios {
        let scenario = &with_default_headers(scenario, job);
        let flow = Flow::compile_with_env(scenario, first_index, target.authority(), &job.env)
            .map_err(|source| EngineError::Flow {
                scenario: scenario.name.clone(),
                source,
            })?;
        first_index += scenario.requests.len();
        let ctx = Arc::new(Ctx {
            name: scenario.name.clone(),
            flow,
            target: target.clone(),
            recorder: recorder.clone(),
            run_start,
            end,
            steps_end: end + scenario.graceful_stop.min(MAX_DRAIN),
            hard_stop,
            request_timeout: job.request_timeout,
            next_row: AtomicU64::new(0),
            seed: schedule::seed(job.run_id.as_str(), job.worker_id.as_str(), &scenario.name),
            first_sent: first_sent.clone(),
            clock,
            stop: stop.clone(),
            script: job
                .script
                .as_ref()
                .zip(program.clone())
                .map(|(s, p)| script::ScriptCtx::new(s, p, scenario, job, stop.clone())),
        });
        tasks.push(tokio::spawn(run_scenario(ctx, scenario.clone(), window)));
    }
    let mut dropped = 0;
    let mut failure = None;
    for task in tasks {
        // A scenario task can only fail to join by panicking; treat that as nothing
        // more sent from it.
        match task.await {
            Ok(Ok(d)) => dropped += d,
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(_) => {}
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(EngineReport {
        dropped_iterations: dropped,
        first_request_at: first_sent.get(&clock),
        finished_at: SystemTime::now(),
        resolutions: target.resolutions(),
    })
}

/// `scenario` with the job's `region_header` (if any) set to the worker's
/// region, and the job's `User-Agent`, on every request that does not set
/// that header itself.
fn with_default_headers(scenario: &JobScenario, job: &Job) -> JobScenario {
    let mut scenario = scenario.clone();
    if let Some(ua) = job.http.user_agent() {
        for request in &mut scenario.requests {
            if !request
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("user-agent"))
            {
                request.headers.insert("User-Agent".into(), ua.to_owned());
            }
        }
    }
    if let Some(header) = &job.http.region_header {
        for request in &mut scenario.requests {
            if !request
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case(header))
            {
                request
                    .headers
                    .insert(header.clone(), job.region.as_str().to_owned());
            }
        }
    }
    scenario
}

/// What the recorder tags each request of `job` with, in engine index order.
pub fn request_infos(job: &Job) -> Vec<crate::recorder::RequestInfo> {
    job.scenarios
        .iter()
        .flat_map(|s| {
            s.requests.iter().map(|r| crate::recorder::RequestInfo {
                name: r.name.clone(),
                method: r.method.clone(),
                scenario: s.name.clone(),
                tags: Vec::new(),
            })
        })
        .collect()
}

/// The name of every request of `job`, in request-index order.
pub fn request_names(job: &Job) -> Vec<String> {
    job.scenarios
        .iter()
        .flat_map(|s| s.requests.iter().map(|r| r.name.clone()))
        .collect()
}

/// Runs one scenario's executor inside `window`; returns its dropped iterations.
async fn run_scenario(
    ctx: Arc<Ctx>,
    scenario: JobScenario,
    window: Window,
) -> Result<u64, EngineError> {
    if let Some(arrivals) = ArrivalSchedule::new(&scenario, window, ctx.seed) {
        return open::run(ctx, arrivals, scenario.pre_allocated_vus, scenario.max_vus).await;
    }
    if let Some(vus) = VuSchedule::new(&scenario, window) {
        closed::run(ctx, vus).await?;
    }
    Ok(0)
}

#[cfg(test)]
mod script_tests;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::convert::Infallible;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    use crate::job::{
        Arrivals, Capture, Check, DataRows, ErrorClass, Executor, FORMAT_VERSION, RateStage,
        Region, RequestSpec, ResultsLocation, RunId, ThinkTime, VuSplit, VuStage, WorkerId,
    };

    #[test]
    fn clock_maps_wall_time_both_ways() {
        let c = Clock::now();
        let later = c.wall + Duration::from_secs(3);
        let at = c.instant_of(later);
        assert_eq!(at - c.mono, Duration::from_secs(3));
        assert_eq!(c.wall_of(at), later);
    }

    /// What the loopback test server saw.
    #[derive(Default)]
    pub(crate) struct Seen {
        /// Path and query of every request, in arrival order.
        pub(crate) paths: Mutex<Vec<String>>,
        /// Requests being answered right now, and the most at once.
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
        /// Connections accepted.
        connections: AtomicUsize,
    }

    /// A loopback HTTP/1.1 and h2c server: answers `{"token":"t<n>"}` with `x-n: <n>` after
    /// `delay`, and never answers paths under `/never`.
    pub(crate) async fn server(delay: Duration) -> (String, Arc<Seen>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Seen::default());
        let shared = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let seen = shared.clone();
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    async move {
                        let path = req.uri().to_string();
                        let n = {
                            let mut paths = seen.paths.lock().expect("lock");
                            paths.push(path.clone());
                            paths.len()
                        };
                        let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
                        let _ = req.into_body().collect().await;
                        if path.starts_with("/never") {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                        }
                        tokio::time::sleep(delay).await;
                        seen.in_flight.fetch_sub(1, Ordering::SeqCst);
                        let body = format!(r#"{{"token":"t{n}","n":{n}}}"#);
                        let response = http::Response::builder()
                            .header("x-n", n.to_string())
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(body)));
                        Ok::<_, Infallible>(response.expect("valid response"))
                    }
                });
                tokio::spawn(async move {
                    let builder = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    );
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (format!("http://{addr}"), seen)
    }

    pub(crate) fn step(name: &str, url: &str) -> RequestSpec {
        RequestSpec {
            name: name.into(),
            method: "GET".into(),
            url: url.into(),
            ..RequestSpec::default()
        }
    }

    pub(crate) fn scenario(
        name: &str,
        executor: Executor,
        requests: Vec<RequestSpec>,
    ) -> JobScenario {
        JobScenario {
            name: name.into(),
            executor,
            pre_allocated_vus: 2,
            max_vus: 50,
            requests,
            start_time: Duration::ZERO,
            duration: None,
            arrivals: Arrivals::Constant,
            data: None,
            graceful_stop: Duration::ZERO,
        }
    }

    pub(crate) fn job(target: &str, duration: Duration, scenarios: Vec<JobScenario>) -> Job {
        Job {
            format: FORMAT_VERSION,
            run_id: RunId::new("r1").unwrap(),
            worker_id: WorkerId::numbered(0),
            region: Region::new("local").unwrap(),
            start_at: SystemTime::now() + Duration::from_millis(100),
            duration,
            run_offset: Duration::ZERO,
            slice: 0,
            target: target.into(),
            scenarios,
            results: ResultsLocation {
                bucket: "b".into(),
                region: Region::new("local").unwrap(),
            },
            flush_every: Duration::from_secs(10),
            request_timeout: Duration::from_secs(5),
            http: crate::job::HttpOptions::default(),
            env: Default::default(),
            heartbeat: None,
            script: None,
        }
    }

    /// Runs `job` and returns the report with the recorder.
    async fn run_job(job: &Job) -> (EngineReport, Arc<Recorder>) {
        let clock = Clock::now();
        let recorder = Arc::new(Recorder::new(
            clock.instant_of(job.run_start()),
            job.run_start(),
            request_names(job),
        ));
        let report = run(job, recorder.clone(), clock)
            .await
            .expect("engine runs");
        (report, recorder)
    }

    #[test]
    fn the_region_header_and_user_agent_are_set_unless_a_request_sets_them() {
        let mut own = step("own", "/");
        own.headers
            .insert("x-client-region".into(), "chosen".into());
        own.headers.insert("user-agent".into(), "mine".into());
        let s = scenario(
            "s",
            Executor::ConstantVus { vus: 1 },
            vec![step("plain", "/"), own],
        );
        let mut job = job(
            "http://127.0.0.1:1",
            Duration::from_secs(1),
            vec![s.clone()],
        );
        let got = with_default_headers(&s, &job);
        let ua = concat!("sls-load/", env!("CARGO_PKG_VERSION"));
        assert_eq!(got.requests[0].headers["User-Agent"], ua);
        assert_eq!(
            got.requests[0].headers.len(),
            1,
            "no region header configured"
        );
        job.http.region_header = Some("X-Client-Region".into());
        job.http.user_agent = Some("k6-compatible/1.0".into());
        let got = with_default_headers(&s, &job);
        assert_eq!(got.requests[0].headers["X-Client-Region"], "local");
        assert_eq!(got.requests[0].headers["User-Agent"], "k6-compatible/1.0");
        assert_eq!(got.requests[1].headers.len(), 2);
        assert_eq!(got.requests[1].headers["x-client-region"], "chosen");
        assert_eq!(got.requests[1].headers["user-agent"], "mine");
        // k6's `userAgent: ''`: no header at all.
        job.http.user_agent = Some(String::new());
        let got = with_default_headers(&s, &job);
        assert!(!got.requests[0].headers.contains_key("User-Agent"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shared_iterations_run_exactly_the_workers_count_over_its_vus() {
        let (url, seen) = server(Duration::from_millis(5)).await;
        let mut s = scenario(
            "shared",
            Executor::SharedIterations {
                vus: 3,
                iterations: 10,
            },
            vec![step("a", "/a"), step("b", "/b")],
        );
        s.duration = Some(Duration::from_secs(10));
        let job = job(&url, Duration::from_secs(10), vec![s]);
        let started = Instant::now();
        let (report, recorder) = run_job(&job).await;
        let paths = seen.paths.lock().expect("lock").clone();
        let count = |p: &str| paths.iter().filter(|x| *x == p).count();
        // Ten iterations in all, not ten per VU; each sends both requests.
        assert_eq!((count("/a"), count("/b")), (10, 10), "{paths:?}");
        assert_eq!(recorder.counts()["a"].requests, 10);
        assert_eq!(report.dropped_iterations, 0);
        // The VUs work side by side, and stop once the count is done, well before
        // the 10 s maximum.
        assert!(seen.max_in_flight.load(Ordering::SeqCst) >= 2);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn per_vu_iterations_run_a_flow_with_rows_captures_and_checks() {
        let (url, seen) = server(Duration::ZERO).await;
        let mut login = step("login", "/login/{{id}}");
        login.capture = vec![
            Capture::Json {
                name: "token".into(),
                pointer: "/token".into(),
            },
            Capture::Header {
                name: "n".into(),
                header: "x-n".into(),
            },
        ];
        login.checks = vec![
            Check::Status {
                name: "status is 200".into(),
                status: 200,
            },
            Check::Json {
                name: "is admin".into(),
                pointer: "/admin".into(),
                equals: None,
            },
        ];
        login.sleep = Some(ThinkTime {
            min: Duration::from_millis(1),
            max: Duration::from_millis(5),
        });
        let mut next = step("next", "/items/{{token}}");
        next.query = BTreeMap::from([
            ("n".into(), "{{n}}".into()),
            ("vu".into(), "{{__VU}}".into()),
        ]);
        let mut s = scenario(
            "flow",
            Executor::PerVuIterations {
                vus: 3,
                iterations: 4,
            },
            vec![login, next],
        );
        s.data = Some(DataRows {
            columns: vec!["id".into()],
            rows: (0..5).map(|i| vec![format!("u{i}")]).collect(),
        });
        s.duration = Some(Duration::from_secs(20));
        let job = job(&url, Duration::from_secs(20), vec![s]);
        let (report, recorder) = run_job(&job).await;

        let counts = recorder.counts();
        assert_eq!(counts["login"].requests, 12);
        assert_eq!(counts["next"].requests, 12);
        assert_eq!(counts["next"].errors, 0);
        let checks = recorder.checks();
        assert_eq!(
            (
                checks["status is 200"].passes,
                checks["status is 200"].fails
            ),
            (12, 0)
        );
        assert_eq!(
            (checks["is admin"].passes, checks["is admin"].fails),
            (0, 12)
        );
        assert_eq!(report.dropped_iterations, 0);
        // Every VU finished early: the scenario did not wait for its 20 s.
        assert!(report.finished_at < job.start_at + Duration::from_secs(10));

        let paths = seen.paths.lock().expect("lock").clone();
        let logins: Vec<&String> = paths.iter().filter(|p| p.starts_with("/login/")).collect();
        // 12 iterations over 5 rows: rows 0 and 1 three times, the others twice.
        for (row, times) in [("u0", 3), ("u1", 3), ("u2", 2), ("u3", 2), ("u4", 2)] {
            let n = logins
                .iter()
                .filter(|p| p.as_str() == format!("/login/{row}"))
                .count();
            assert_eq!(n, times, "{row}: {logins:?}");
        }
        // Each `next` carries the token and number its own login was answered with.
        for p in paths.iter().filter(|p| p.starts_with("/items/")) {
            let token = p["/items/t".len()..].split('?').next().expect("token");
            assert!(p.contains(&format!("n={token}&")), "{p}");
            let login_path = &paths[token.parse::<usize>().expect("number") - 1];
            assert!(login_path.starts_with("/login/"), "{p} after {login_path}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn arrival_rate_scenarios_send_exactly_their_schedules_side_by_side() {
        let (url, seen) = server(Duration::ZERO).await;
        let mut constant = scenario(
            "constant",
            Executor::ConstantArrivalRate {
                rate: 20.0,
                offset: Duration::ZERO,
            },
            vec![step("a", "/a")],
        );
        constant.duration = Some(Duration::from_secs(1));
        let mut ramp = scenario(
            "ramp",
            Executor::RampingArrivalRate {
                start_rate: 0.0,
                stages: vec![
                    RateStage {
                        duration: Duration::from_millis(500),
                        target: 40.0,
                    },
                    RateStage {
                        duration: Duration::from_millis(500),
                        target: 0.0,
                    },
                ],
                phase: 0.0,
            },
            vec![step("b", "/b")],
        );
        ramp.start_time = Duration::from_millis(500);
        let job = job(&url, Duration::from_millis(1500), vec![constant, ramp]);
        let (report, recorder) = run_job(&job).await;
        let counts = recorder.counts();
        assert_eq!(counts["a"].requests, 20);
        // 0 → 40/s over 0.5 s and back: 20 iterations.
        assert_eq!(counts["b"].requests, 20);
        assert_eq!(report.dropped_iterations, 0);
        assert_eq!(seen.paths.lock().expect("lock").len(), 40);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn vus_sharing_http2_connections_send_every_request_over_at_most_the_bound() {
        let (url, seen) = server(Duration::from_millis(20)).await;
        let mut s = scenario(
            "shared",
            Executor::ConstantVus { vus: 40 },
            vec![step("a", "/a")],
        );
        s.duration = Some(Duration::from_secs(1));
        let mut job = job(&url, Duration::from_secs(1), vec![s]);
        job.http.version = crate::job::HttpVersionChoice::Http2;
        job.http.max_streams_per_connection = 10;
        let (_, recorder) = run_job(&job).await;
        let a = &recorder.counts()["a"];
        assert_eq!(a.errors, 0, "{a:?}");
        // 40 VUs, 10 streams each: four connections, all 40 requests at once.
        assert_eq!(a.requests, seen.paths.lock().expect("lock").len() as u64);
        assert!(a.requests >= 40, "{a:?}");
        assert_eq!(seen.connections.load(Ordering::SeqCst), 4);
        assert!(seen.max_in_flight.load(Ordering::SeqCst) > 10);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ramping_vus_never_run_more_vus_than_their_schedule() {
        let (url, seen) = server(Duration::from_millis(20)).await;
        let s = scenario(
            "ramp",
            Executor::RampingVus {
                start_vus: 0,
                stages: vec![
                    VuStage {
                        duration: Duration::from_millis(400),
                        target: 4,
                    },
                    VuStage {
                        duration: Duration::from_millis(400),
                        target: 4,
                    },
                    VuStage {
                        duration: Duration::from_millis(400),
                        target: 0,
                    },
                ],
                graceful_ramp_down: Duration::ZERO,
                split: VuSplit {
                    weights: vec![1.0],
                    region: 0,
                    worker: 0,
                    workers: 1,
                },
            },
            vec![step("a", "/a")],
        );
        let job = job(&url, Duration::from_secs(2), vec![s]);
        let (_, recorder) = run_job(&job).await;
        assert!(recorder.counts()["a"].requests > 0);
        let max = seen.max_in_flight.load(Ordering::SeqCst);
        assert!((1..=4).contains(&max), "{max} requests at once");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn vus_whose_think_time_outlasts_the_slice_start_no_more_iterations() {
        let (url, seen) = server(Duration::ZERO).await;
        let thinking = |name: &str, executor: Executor| {
            let mut home = step(name, &format!("/{name}"));
            home.sleep = Some(ThinkTime {
                min: Duration::from_millis(300),
                max: Duration::from_millis(300),
            });
            scenario(name, executor, vec![home])
        };
        let constant = thinking("constant", Executor::ConstantVus { vus: 2 });
        let counted = thinking(
            "counted",
            Executor::PerVuIterations {
                vus: 2,
                iterations: 100,
            },
        );
        let job = job(&url, Duration::from_secs(1), vec![constant, counted]);
        let (_, recorder) = run_job(&job).await;
        // Iterations at least 300 ms apart: at most 4 per VU in 1 s, not a burst of
        // back-to-back iterations once the next pause would end after the slice.
        let counts = recorder.counts();
        for name in ["constant", "counted"] {
            let n = counts[name].requests;
            assert!((2..=8).contains(&n), "{name}: {n} requests");
        }
        let at_server = seen.paths.lock().expect("lock").len() as u64;
        assert_eq!(
            at_server,
            counts["constant"].requests + counts["counted"].requests
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn graceful_stop_lets_an_iteration_in_progress_send_its_remaining_steps() {
        let (url, _) = server(Duration::ZERO).await;
        // One VU: `first`, 800 ms of thinking, `second`. The second iteration's
        // think time straddles the end of the 1 s slice.
        let flow = |grace: Duration| {
            let mut first = step("first", "/first");
            first.sleep = Some(ThinkTime {
                min: Duration::from_millis(800),
                max: Duration::from_millis(800),
            });
            let mut s = scenario(
                "browse",
                Executor::ConstantVus { vus: 1 },
                vec![first, step("second", "/second")],
            );
            s.graceful_stop = grace;
            job(&url, Duration::from_secs(1), vec![s])
        };
        let (_, without) = run_job(&flow(Duration::ZERO)).await;
        let (_, with) = run_job(&flow(Duration::from_secs(3))).await;
        let sent = |r: &Recorder| {
            let c = r.counts();
            (c["first"].requests, c["second"].requests)
        };
        assert_eq!(sent(&without), (2, 1));
        assert_eq!(sent(&with), (2, 2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_unanswered_past_the_timeout_are_timeouts_and_a_refused_port_is_connect() {
        let (url, _) = server(Duration::ZERO).await;
        let mut s = scenario(
            "stuck",
            Executor::ConstantArrivalRate {
                rate: 10.0,
                offset: Duration::ZERO,
            },
            vec![step("never", "/never")],
        );
        s.duration = Some(Duration::from_millis(500));
        let mut stuck = job(&url, Duration::from_millis(500), vec![s.clone()]);
        stuck.request_timeout = Duration::from_millis(200);
        let (_, recorder) = run_job(&stuck).await;
        let never = &recorder.counts()["never"];
        assert_eq!((never.requests, never.errors), (5, 5));
        assert_eq!(never.errors_by_class[&ErrorClass::Timeout], 5);

        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = closed.local_addr().expect("addr").port();
        drop(closed);
        let refused = job(
            &format!("http://127.0.0.1:{port}"),
            Duration::from_millis(500),
            vec![s],
        );
        let (_, recorder) = run_job(&refused).await;
        let never = &recorder.counts()["never"];
        assert_eq!(never.errors_by_class[&ErrorClass::Connect], 5);
    }

    /// A loopback HTTPS server (HTTP/1.1 and HTTP/2 via ALPN) with a certificate for
    /// 127.0.0.1 signed by a fresh test CA; returns its URL and the CA's PEM.
    async fn tls_server() -> (String, String) {
        let pki = crate::client::tests::pki();
        let addr = crate::client::tests::tls_server(&pki, &[b"h2", b"http/1.1"]).await;
        let ca_pem = String::from_utf8(pki.ca_pem).expect("PEM is ASCII");
        (format!("https://{addr}"), ca_pem)
    }

    /// Per tag of `log`: every recorded value (with repeats), over all intervals.
    /// Recorded request values by `metric:name` (every status and tag folded together).
    fn values_by_tag(log: &[u8]) -> BTreeMap<String, Vec<u64>> {
        let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for i in sls_load_core::hlog::decode(log) {
            let i = i.expect("parses");
            let tag = sls_load_core::tag::TagSet::parse(&i.tag).expect("a tag");
            // Request samples only (iterations have no request name).
            let Some(name) = tag.name() else { continue };
            let key = format!("{}:{name}", tag.metric);
            let values = out.entry(key).or_default();
            for v in i.histogram.iter_recorded() {
                values.extend(std::iter::repeat_n(
                    v.value_iterated_to(),
                    v.count_at_value() as usize,
                ));
            }
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn https_targets_with_a_private_ca_record_k6_phase_timings_per_request() {
        let (url, ca_pem) = tls_server().await;
        let phases = |new_connection_per_iteration: bool| {
            let url = url.clone();
            let ca_pem = ca_pem.clone();
            async move {
                let mut s = scenario(
                    "tls",
                    Executor::PerVuIterations {
                        vus: 1,
                        iterations: 3,
                    },
                    vec![step("home", "/")],
                );
                s.duration = Some(Duration::from_secs(10));
                let mut job = job(&url, Duration::from_secs(10), vec![s]);
                job.http.tls_ca_pem = Some(ca_pem);
                job.http.new_connection_per_iteration = new_connection_per_iteration;
                let (_, recorder) = run_job(&job).await;
                let home = &recorder.counts()["home"];
                assert_eq!((home.requests, home.errors), (3, 0), "{home:?}");
                recorder.close().expect("close");
                let log = recorder.take_log("t").expect("encodes").expect("intervals");
                values_by_tag(&log)
            }
        };

        let kept = phases(false).await;
        for phase in crate::job::TAG_PHASES {
            let values = &kept[&format!("{phase}:home")];
            assert_eq!(values.len(), 3, "{phase}: {values:?}");
        }
        // Keep-alive: only the first request connects and shakes hands.
        let nonzero = |tag: &str, all: &BTreeMap<String, Vec<u64>>| {
            all[&format!("{tag}:home")]
                .iter()
                .filter(|v| **v > 0)
                .count()
        };
        assert_eq!(nonzero("http_req_connecting", &kept), 1, "{kept:?}");
        assert_eq!(nonzero("http_req_tls_handshaking", &kept), 1, "{kept:?}");
        assert_eq!(kept["http_req_duration:home"].len(), 3);

        // A new user every iteration: every request connects.
        let fresh = phases(true).await;
        assert_eq!(nonzero("http_req_connecting", &fresh), 3, "{fresh:?}");
        assert_eq!(nonzero("http_req_tls_handshaking", &fresh), 3, "{fresh:?}");

        // Without the CA the handshake fails: tls errors, and no phase timings.
        let mut s = scenario(
            "tls",
            Executor::PerVuIterations {
                vus: 1,
                iterations: 2,
            },
            vec![step("home", "/")],
        );
        s.duration = Some(Duration::from_secs(10));
        let untrusted = job(&url, Duration::from_secs(10), vec![s]);
        let (_, recorder) = run_job(&untrusted).await;
        assert_eq!(
            recorder.counts()["home"].errors_by_class[&ErrorClass::Tls],
            2
        );
        recorder.close().expect("close");
        let log = recorder.take_log("t").expect("encodes").expect("intervals");
        let tags: Vec<String> = values_by_tag(&log).into_keys().collect();
        assert_eq!(tags, ["http_req_errored:home"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pause_window_holds_back_the_arrivals_due_in_it_and_counts_them_paused() {
        let (url, seen) = server(Duration::ZERO).await;
        let s = scenario(
            "paced",
            Executor::ConstantArrivalRate {
                rate: 50.0,
                offset: Duration::ZERO,
            },
            vec![step("home", "/")],
        );
        let job = job(&url, Duration::from_millis(1500), vec![s]);
        let clock = Clock::now();
        let recorder = Arc::new(Recorder::new(
            clock.instant_of(job.run_start()),
            job.run_start(),
            request_names(&job),
        ));
        let stop = Stop::new();
        // Paused from 0.5 s to 1.0 s: the 25 arrivals due in it are held back.
        let from = job.run_start() + Duration::from_millis(500);
        stop.set_pauses(vec![(from, from + Duration::from_millis(500))]);
        run_until(&job, recorder.clone(), clock, stop)
            .await
            .expect("engine runs");
        let sent = seen.paths.lock().expect("lock").len() as u64;
        let paused = recorder.paused();
        assert!((24..=26).contains(&paused), "paused {paused}");
        assert_eq!(sent + paused, 75, "sent {sent} + paused {paused}");
        assert_eq!(recorder.counts()["home"].requests, sent);
        recorder.close().expect("close");
        let log = recorder.take_log("t").expect("encodes").expect("intervals");
        let paused_logged: u64 = sls_load_core::hlog::decode(&log)
            .map(|i| i.expect("parses"))
            .filter(|i| i.tag.contains("metric=paused_iterations"))
            .map(|i| i.histogram.len())
            .sum();
        assert_eq!(
            paused_logged, paused,
            "the paused_iterations counters add up"
        );
    }
}
