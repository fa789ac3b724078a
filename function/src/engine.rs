//! Generates the HTTP load of one job: paces iterations, runs them on virtual
//! users (one keep-alive connection each) and hands every outcome to the recorder.
//!
//! Open model (k6's `constant-arrival-rate`): iteration `i` of a worker has the
//! intended start `start_at + offset + i / rate`. A dispatcher releases each
//! intended instant to a free VU; when none is free it starts another VU up to
//! `max_vus`, and past that counts a dropped iteration instead of delaying it. The
//! first request of an iteration is timed from its *intended* start, so a target
//! that stalls cannot hide the wait it caused (no coordinated omission). Sending
//! stops at the end of the slice; requests in flight then get a short drain window
//! and count as timeouts if they do not finish in it.
//!
//! This module owns pacing, connections and request timing. It does not store
//! anything (the recorder keeps counts and histograms) and does no S3 IO.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::job::{ErrorClass, Executor, Job, JobScenario, RequestSpec};
use crate::recorder::{Outcome, Recorder, RecorderError};

/// The longest time in-flight requests get to finish after the slice ends.
pub const MAX_DRAIN: Duration = Duration::from_secs(10);

/// Why the engine could not run a job at all (per-request failures are outcomes).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The target or a request URL is not usable.
    #[error("invalid URL `{url}`: {reason}")]
    Url {
        /// The offending URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A request's method or header is not valid HTTP.
    #[error("request `{request}`: {reason}")]
    Request {
        /// The request name.
        request: String,
        /// What is wrong.
        reason: String,
    },
    /// The recorder failed.
    #[error(transparent)]
    Recorder(#[from] RecorderError),
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

/// A request prepared once and cloned cheaply for every send.
struct Prepared {
    /// Index into the recorder's request names.
    index: usize,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    expect_status: Option<u16>,
}

/// Everything the VUs of one scenario share.
struct Shared {
    requests: Vec<Prepared>,
    addrs: Result<Vec<SocketAddr>, ErrorClass>,
    recorder: Arc<Recorder>,
    clock: Clock,
    end: Instant,
    hard_stop: Instant,
    request_timeout: Duration,
    first_sent: AtomicU64,
}

/// Runs every scenario of `job` to the end of its slice, recording into `recorder`
/// (whose request indices follow [`request_names`]).
pub async fn run(
    job: &Job,
    recorder: Arc<Recorder>,
    clock: Clock,
) -> Result<EngineReport, EngineError> {
    let start = clock.instant_of(job.start_at);
    let end = start + job.duration;
    let hard_stop = end + job.request_timeout.min(MAX_DRAIN);
    let target = parse_target(&job.target)?;
    let addrs = resolve(&target).await;

    let mut tasks = Vec::new();
    let mut first_index = 0;
    for scenario in &job.scenarios {
        let requests = scenario
            .requests
            .iter()
            .enumerate()
            .map(|(i, r)| prepare(first_index + i, r, &target))
            .collect::<Result<Vec<_>, _>>()?;
        first_index += scenario.requests.len();
        let shared = Arc::new(Shared {
            requests,
            addrs: addrs.clone(),
            recorder: recorder.clone(),
            clock,
            end,
            hard_stop,
            request_timeout: job.request_timeout,
            first_sent: AtomicU64::new(u64::MAX),
        });
        tasks.push(tokio::spawn(run_scenario(scenario.clone(), start, shared)));
    }
    let mut dropped = 0;
    let mut first: Option<SystemTime> = None;
    for task in tasks {
        // A VU task can only fail by panicking; treat that as nothing sent from it.
        if let Ok((d, f)) = task.await {
            dropped += d;
            first = match (first, f) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
    Ok(EngineReport {
        dropped_iterations: dropped,
        first_request_at: first,
        finished_at: SystemTime::now(),
    })
}

/// The recorder's request names for `job`, in engine index order.
pub fn request_names(job: &Job) -> Vec<String> {
    job.scenarios
        .iter()
        .flat_map(|s| s.requests.iter().map(|r| r.name.clone()))
        .collect()
}

/// Paces one scenario and waits for its VUs; returns (dropped, first request time).
async fn run_scenario(
    scenario: JobScenario,
    start: Instant,
    shared: Arc<Shared>,
) -> (u64, Option<SystemTime>) {
    let Executor::ConstantArrivalRate { rate, offset } = scenario.executor;
    let (tx, rx) = async_channel::unbounded::<Instant>();
    let idle = Arc::new(AtomicUsize::new(0));
    let max_vus = scenario.max_vus.max(1) as usize;
    let mut vus = tokio::task::JoinSet::new();
    for _ in 0..scenario.pre_allocated_vus.min(scenario.max_vus) {
        vus.spawn(vu(None, rx.clone(), idle.clone(), shared.clone()));
    }

    let mut dropped = 0u64;
    if rate > 0.0 && rate.is_finite() {
        let first = start + offset;
        let ready_at = Instant::now();
        for i in 0..arrivals(rate, offset, shared.end - start) {
            let intended = first + Duration::from_secs_f64(i as f64 / rate);
            if intended < ready_at {
                dropped += 1;
                continue;
            }
            if intended > Instant::now() {
                tokio::time::sleep_until(intended.into()).await;
            }
            if take_idle(&idle) {
                // Receivers live as long as the VUs; a send can only fail once all are gone.
                if tx.send(intended).await.is_err() {
                    dropped += 1;
                }
            } else if vus.len() < max_vus {
                vus.spawn(vu(Some(intended), rx.clone(), idle.clone(), shared.clone()));
            } else {
                dropped += 1;
            }
        }
    }
    drop(tx);
    drop(rx);
    while vus.join_next().await.is_some() {}
    let first = shared.first_sent.load(Ordering::Relaxed);
    let first = (first != u64::MAX).then(|| {
        shared
            .clock
            .wall_of(shared.clock.mono + Duration::from_nanos(first))
    });
    (dropped, first)
}

/// How many arrivals `offset + i / rate` fall inside `[0, slice)`.
fn arrivals(rate: f64, offset: Duration, slice: Duration) -> u64 {
    let span = slice.saturating_sub(offset).as_secs_f64() * rate;
    // The epsilon keeps 15 s × 60/s at exactly 900 despite float rounding.
    (span - 1e-9).ceil().max(0.0) as u64
}

/// Claims one idle VU if there is one.
fn take_idle(idle: &AtomicUsize) -> bool {
    idle.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

/// One virtual user: runs iterations, one at a time, on its own connection.
async fn vu(
    mut next: Option<Instant>,
    rx: async_channel::Receiver<Instant>,
    idle: Arc<AtomicUsize>,
    shared: Arc<Shared>,
) {
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    loop {
        let intended = match next.take() {
            Some(t) => t,
            None => {
                idle.fetch_add(1, Ordering::AcqRel);
                match rx.recv().await {
                    Ok(t) => t,
                    Err(_) => return,
                }
            }
        };
        if iteration(intended, &mut conn, &shared).await.is_err() {
            return;
        }
    }
}

/// Runs the requests of one iteration in order.
async fn iteration(
    intended: Instant,
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    shared: &Shared,
) -> Result<(), RecorderError> {
    for (step, req) in shared.requests.iter().enumerate() {
        let sent = Instant::now();
        if step > 0 && sent >= shared.end {
            break;
        }
        let timed_from = if step == 0 { intended } else { sent };
        note_first(shared, sent);
        let deadline = (sent + shared.request_timeout).min(shared.hard_stop);
        let outcome = match tokio::time::timeout_at(deadline.into(), send(conn, req, shared)).await
        {
            Ok(outcome) => outcome,
            Err(_) => {
                *conn = None;
                Outcome::Errored(ErrorClass::Timeout)
            }
        };
        let done = Instant::now();
        shared.recorder.record(
            req.index,
            outcome,
            done.saturating_duration_since(timed_from),
            done,
        )?;
    }
    Ok(())
}

/// Remembers the earliest send, as nanoseconds after the clock's reference instant.
fn note_first(shared: &Shared, sent: Instant) {
    if shared.first_sent.load(Ordering::Relaxed) == u64::MAX {
        let nanos = u64::try_from(sent.saturating_duration_since(shared.clock.mono).as_nanos())
            .unwrap_or(u64::MAX - 1);
        shared.first_sent.fetch_min(nanos, Ordering::Relaxed);
    }
}

/// Sends one request on the VU's connection (opening one if needed) and reads the
/// whole response.
async fn send(
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    req: &Prepared,
    shared: &Shared,
) -> Outcome {
    let sender = match ready_connection(conn, shared).await {
        Ok(s) => s,
        Err(class) => return Outcome::Errored(class),
    };
    let mut request = Request::new(Full::new(req.body.clone()));
    *request.method_mut() = req.method.clone();
    *request.uri_mut() = req.uri.clone();
    *request.headers_mut() = req.headers.clone();
    let response = match sender.send_request(request).await {
        Ok(r) => r,
        Err(_) => {
            *conn = None;
            return Outcome::Errored(ErrorClass::Protocol);
        }
    };
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            *conn = None;
            return Outcome::Errored(ErrorClass::Protocol);
        }
    }
    classify_status(status, req.expect_status)
}

/// k6's default: statuses 200–399 are expected unless `expect_status` says otherwise.
fn classify_status(status: u16, expect: Option<u16>) -> Outcome {
    let ok = match expect {
        Some(want) => status == want,
        None => (200..400).contains(&status),
    };
    if ok {
        Outcome::Ok
    } else if (400..500).contains(&status) {
        Outcome::Failed(ErrorClass::Http4xx)
    } else if status >= 500 {
        Outcome::Failed(ErrorClass::Http5xx)
    } else {
        Outcome::Failed(ErrorClass::Status)
    }
}

async fn ready_connection<'c>(
    conn: &'c mut Option<SendRequest<Full<Bytes>>>,
    shared: &Shared,
) -> Result<&'c mut SendRequest<Full<Bytes>>, ErrorClass> {
    if let Some(sender) = conn.as_mut() {
        if sender.ready().await.is_ok() {
            // Re-borrow through the option to satisfy the borrow checker.
            return conn.as_mut().ok_or(ErrorClass::Protocol);
        }
        *conn = None;
    }
    let addrs = shared.addrs.as_ref().map_err(|c| *c)?;
    let stream = TcpStream::connect(addrs.as_slice())
        .await
        .map_err(|_| ErrorClass::Connect)?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| ErrorClass::Protocol)?;
    tokio::spawn(connection);
    Ok(conn.insert(sender))
}

/// The parsed target: scheme must be http for now.
struct Target {
    host: String,
    port: u16,
    authority: String,
}

fn parse_target(url: &str) -> Result<Target, EngineError> {
    let bad = |reason: &str| EngineError::Url {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Err(bad("https targets are not supported yet; use http://")),
        _ => return Err(bad("expected an http:// URL")),
    }
    let authority = uri.authority().ok_or_else(|| bad("missing host"))?;
    Ok(Target {
        host: authority.host().trim_matches(['[', ']']).to_owned(),
        port: authority.port_u16().unwrap_or(80),
        authority: authority.as_str().to_owned(),
    })
}

async fn resolve(target: &Target) -> Result<Vec<SocketAddr>, ErrorClass> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|_| ErrorClass::Dns)?
        .collect();
    if addrs.is_empty() {
        return Err(ErrorClass::Dns);
    }
    Ok(addrs)
}

fn prepare(index: usize, spec: &RequestSpec, target: &Target) -> Result<Prepared, EngineError> {
    let invalid = |reason: String| EngineError::Request {
        request: spec.name.clone(),
        reason,
    };
    let method = Method::from_bytes(spec.method.as_bytes())
        .map_err(|e| invalid(format!("method `{}`: {e}", spec.method)))?;
    let uri: Uri = if spec.url.starts_with('/') {
        spec.url.parse()
    } else {
        // Absolute URLs must point at the target: one worker, one target host.
        let abs: Uri = spec
            .url
            .parse()
            .map_err(|e: http::uri::InvalidUri| invalid(format!("url `{}`: {e}", spec.url)))?;
        if abs.authority().map(|a| a.as_str()) != Some(target.authority.as_str()) {
            return Err(invalid(format!(
                "url `{}` is not on the target {}",
                spec.url, target.authority
            )));
        }
        abs.path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .parse()
    }
    .map_err(|e: http::uri::InvalidUri| invalid(format!("url `{}`: {e}", spec.url)))?;
    let mut headers = HeaderMap::new();
    let host = HeaderValue::from_str(&target.authority)
        .map_err(|e| invalid(format!("host header: {e}")))?;
    headers.insert(HOST, host);
    for (k, v) in &spec.headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| invalid(format!("header `{k}`: {e}")))?;
        let value =
            HeaderValue::from_str(v).map_err(|e| invalid(format!("header `{k}` value: {e}")))?;
        headers.insert(name, value);
    }
    Ok(Prepared {
        index,
        method,
        uri,
        headers,
        body: spec.body.clone().map(Bytes::from).unwrap_or_default(),
        expect_status: spec.expect_status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_k6_expected_response_rules() {
        assert_eq!(classify_status(200, None), Outcome::Ok);
        assert_eq!(classify_status(302, None), Outcome::Ok);
        assert_eq!(
            classify_status(404, None),
            Outcome::Failed(ErrorClass::Http4xx)
        );
        assert_eq!(
            classify_status(503, None),
            Outcome::Failed(ErrorClass::Http5xx)
        );
        assert_eq!(
            classify_status(204, Some(200)),
            Outcome::Failed(ErrorClass::Status)
        );
        assert_eq!(classify_status(404, Some(404)), Outcome::Ok);
    }

    #[test]
    fn arrivals_fill_the_slice_exactly() {
        let s = Duration::from_secs;
        assert_eq!(arrivals(60.0, Duration::ZERO, s(15)), 900);
        assert_eq!(arrivals(300.0, Duration::ZERO, s(15)), 4500);
        assert_eq!(arrivals(10.0, Duration::from_millis(50), s(1)), 10);
        assert_eq!(arrivals(1.0 / 3.0, Duration::ZERO, s(10)), 4);
        assert_eq!(arrivals(5.0, s(2), s(1)), 0);
    }

    #[test]
    fn clock_maps_wall_time_both_ways() {
        let c = Clock::now();
        let later = c.wall + Duration::from_secs(3);
        let at = c.instant_of(later);
        assert_eq!(at - c.mono, Duration::from_secs(3));
        assert_eq!(c.wall_of(at), later);
    }

    #[test]
    fn https_targets_are_refused_with_a_reason() {
        let err = parse_target("https://example.test").err().expect("refused");
        assert!(err.to_string().contains("https"), "{err}");
    }
}
