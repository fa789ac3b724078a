//! Iterations of a k6 script's VU: drives the VU's coroutine
//! ([`sls_load_script::Vu`]) and performs each op it stops at with the same
//! connection, timeouts, stop signal and recorder as a YAML iteration.
//!
//! A request is sent on the VU's connection to the target (or, for another
//! origin, on the VU's connection to that origin), timed and recorded under
//! its `name`, method, scenario, `group` and the script's tags; its status is
//! judged by the script's expected statuses (200–399 unless
//! `http.expectedStatuses` says otherwise). In the open model the first
//! request of an iteration, when nothing was slept before it, is timed from
//! the iteration's intended start, as in YAML scenarios. Requests are refused
//! (the script gets an exception it cannot catch, ending the iteration) once
//! the slice plus `graceful_stop` is over, the engine was stopped or a
//! ramped-down VU's grace has passed; a `sleep` that would outlast the slice
//! ends the iteration the same way. `http.batch` sends up to
//! [`BATCH_PER_HOST`] requests side by side, each on a connection of its own.
//! An exception that ends an iteration is counted (the manifest's
//! `exceptions`) and logged, and the VU goes on; `test.abort()` stops the
//! engine and is noted for the manifest.
//!
//! This module owns that mapping; the script's runtime is `sls-load-script`'s,
//! when iterations start is the executors'.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HOST, HeaderName, HeaderValue, USER_AGENT};
use http::{Method, Request, Uri};
use sls_load_script::{
    Answer, Ended, HttpCall, LogLevel, MetricKind, Op, Program, Reply, ResponseType, Start, Step,
    VuConfig,
};
use tokio::time::Sleep;

use super::Ctx;
use super::send::{send_within, status_class};
use super::stop::StopSignal;
use super::transport::{Conn, Reply as Response, Target};
use crate::client::Traffic;
use crate::job::{ErrorClass, Executor, JobScript, ScriptFile};
use crate::recorder::{Kind, MetricValue, Outcome, RecorderError, RequestInfo, Sample};

/// Most requests of one `http.batch` in flight at once (k6's `batchPerHost`).
pub const BATCH_PER_HOST: usize = 6;

/// What the VUs of a scenario running a script share.
pub(super) struct ScriptCtx {
    pub(super) program: Arc<Program>,
    /// The exported function iterations run.
    pub(super) exec: String,
    /// The executor's k6 name.
    pub(super) executor: &'static str,
    pub(super) base: VuConfig,
    /// The job's `http` options, for targets of other origins.
    pub(super) http: crate::job::HttpOptions,
    /// The worker's region (for `http.region_header`).
    pub(super) region: String,
    /// Every request goes to the job's target (`JobScript::retarget`).
    pub(super) retarget: bool,
    /// Targets of origins other than the job's, made on first use.
    pub(super) others: tokio::sync::Mutex<HashMap<String, Arc<Target>>>,
}

impl ScriptCtx {
    /// The script context of `scenario` of a job with `script`.
    pub(super) fn new(
        script: &JobScript,
        program: Arc<Program>,
        scenario: &crate::job::JobScenario,
        job: &crate::job::Job,
        stop: Arc<super::Stop>,
    ) -> Self {
        let (env, http) = (&job.env, &job.http);
        let name = scenario.name.clone();
        let log: sls_load_script::LogFn = Arc::new(move |level, line| match level {
            LogLevel::Debug => tracing::debug!(scenario = %name, "{line}"),
            LogLevel::Info => tracing::info!(scenario = %name, "{line}"),
            LogLevel::Warn => tracing::warn!(scenario = %name, "{line}"),
            LogLevel::Error => tracing::error!(scenario = %name, "{line}"),
        });
        Self {
            program,
            exec: script
                .exec
                .get(&scenario.name)
                .cloned()
                .unwrap_or_else(|| "default".to_owned()),
            executor: executor_name(&scenario.executor),
            base: VuConfig {
                vu: 0,
                env: env.clone(),
                setup_data: script.setup_data.clone(),
                tags: script.tags.clone(),
                discard_response_bodies: script.discard_response_bodies,
                log,
                halted: Some(Arc::new(move || stop.is_stopped())),
            },
            http: http.clone(),
            region: job.region.as_str().to_owned(),
            retarget: script.retarget,
            others: tokio::sync::Mutex::new(HashMap::new()),
        }
    }
}

/// The program of a job's script (its files decoded).
pub(super) fn program(script: &JobScript) -> Result<Arc<Program>, String> {
    use base64::Engine as _;
    let mut files = std::collections::BTreeMap::new();
    for (path, file) in &script.files {
        let bytes = match file {
            ScriptFile::Text(t) => t.clone().into_bytes(),
            ScriptFile::Binary { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64)
                .map_err(|e| format!("file `{path}`: {e}"))?,
        };
        files.insert(path.clone(), bytes);
    }
    Program::new(&script.main, files).map_err(|e| e.to_string())
}

/// The k6 name of `executor`.
fn executor_name(executor: &Executor) -> &'static str {
    match executor {
        Executor::ConstantArrivalRate { .. } => "constant-arrival-rate",
        Executor::RampingArrivalRate { .. } => "ramping-arrival-rate",
        Executor::ConstantVus { .. } => "constant-vus",
        Executor::RampingVus { .. } => "ramping-vus",
        Executor::PerVuIterations { .. } => "per-vu-iterations",
        Executor::SharedIterations { .. } => "shared-iterations",
    }
}

/// One VU's script side: its runtime and its connections to other origins
/// and for batches.
pub(super) struct ScriptVu {
    vu: sls_load_script::Vu,
    /// Iterations this VU ran in its scenario.
    iterations: u64,
    /// Connections by (origin, slot): slot 0 is the VU's own to that origin,
    /// 1.. those of batches.
    conns: HashMap<(String, usize), Conn>,
    /// The recorder's index of each request this VU sent (a script sends
    /// few distinct ones: looked up without building a key).
    indices: Vec<(RequestInfo, usize)>,
}

impl ScriptVu {
    /// VU `number` of the scenario: runs the script's init context. An
    /// exception there is counted and logged, and the VU runs nothing.
    pub(super) fn new(ctx: &Ctx, script: &ScriptCtx, number: u64) -> Option<Self> {
        let mut config = script.base.clone();
        config.vu = number;
        match sls_load_script::Vu::new(script.program.clone(), config) {
            Ok(vu) => Some(Self {
                vu,
                iterations: 0,
                conns: HashMap::new(),
                indices: Vec::new(),
            }),
            Err(e) => {
                let message = e.to_string();
                tracing::error!(scenario = %ctx.name, vu = number, "init: {message}");
                ctx.recorder.record_exception(&message);
                None
            }
        }
    }
}

/// The parts of a VU a script's iteration uses: its connection, request
/// timer and stop signal, its iteration count and its script side.
pub(super) struct VuParts<'a> {
    pub(super) conn: &'a mut Conn,
    pub(super) timer: &'a mut Pin<Box<Sleep>>,
    pub(super) stop: &'a mut StopSignal,
    pub(super) iterations: &'a mut u64,
    pub(super) script: &'a mut Option<ScriptVu>,
}

/// Where an iteration is: for timing the first request from the intended start.
struct Clockwork {
    intended: Option<Instant>,
    began: Instant,
}

/// Runs one iteration of `vu`'s script; returns when it ended (the end of
/// the slice or later when it was cut short there).
pub(super) async fn run(
    ctx: &Ctx,
    script: &ScriptCtx,
    mut vu: VuParts<'_>,
    intended: Option<Instant>,
    keep_going: &mut (dyn FnMut() -> bool + Send),
) -> Result<Instant, RecorderError> {
    let Some(mut js) = vu.script.take() else {
        // A VU whose init failed starts nothing.
        return Ok(ctx.end);
    };
    let now = Instant::now();
    let mut clock = Clockwork {
        intended,
        began: intended.unwrap_or(now),
    };
    ctx.recorder.vu_busy(&ctx.name, true, now)?;
    let start = Start {
        exec: script.exec.clone(),
        iteration: *vu.iterations,
        iteration_in_scenario: js.iterations,
        scenario: ctx.name.clone(),
        executor: script.executor.to_owned(),
        deadline: Some(ctx.hard_stop),
    };
    *vu.iterations += 1;
    js.iterations += 1;
    if ctx.target.new_connection_per_iteration() {
        vu.conn.reset();
        js.conns.clear();
    }
    let mut ended_at = None;
    let mut step = js.vu.start(start);
    let ended = loop {
        let op = match step {
            Step::Ended(e) => break e,
            Step::Op(op) => op,
        };
        let answer = match op {
            Op::Request(call) => {
                match request(ctx, script, &mut vu, &mut js, &call, &mut clock, keep_going).await? {
                    Some(reply) => Answer::Reply(Box::new(reply)),
                    None => Answer::Stop,
                }
            }
            Op::Batch(calls) => batch(ctx, script, &mut vu, &mut js, &calls, keep_going).await?,
            Op::Sleep(d) => {
                clock.intended = None;
                let wake = Instant::now() + d;
                if wake >= ctx.steps_end {
                    ended_at = Some(ctx.end);
                    Answer::Stop
                } else {
                    tokio::select! {
                        () = tokio::time::sleep_until(wake.into()) => Answer::Done,
                        () = vu.stop.fired() => Answer::Stop,
                    }
                }
            }
            op @ (Op::Metric(_) | Op::Check(_) | Op::Abort(_)) => record_op(ctx, op)?,
        };
        step = js.vu.resume(answer);
    };
    if let Ended::Exception(message) = &ended
        && ctx.recorder.record_exception(message) == 1
    {
        tracing::warn!(scenario = %ctx.name, "{message}");
    }
    *vu.script = Some(js);
    let ended_at = ended_at.unwrap_or_else(Instant::now).max(Instant::now());
    ctx.recorder.iteration_ended(
        &ctx.name,
        ended_at.saturating_duration_since(clock.began),
        ended_at,
    )?;
    Ok(ended_at)
}

/// Answers the ops that only record (a metric sample, a check result) or
/// stop the test (`test.abort()`).
fn record_op(ctx: &Ctx, op: Op) -> Result<Answer, RecorderError> {
    match op {
        Op::Metric(m) => {
            let tags = scenario_tags(ctx, &m.tags);
            let value = MetricValue {
                name: &m.name,
                kind: kind(m.kind),
                is_time: m.is_time,
                value: m.value,
                tags: &tags,
            };
            ctx.recorder.record_metric(&value, Instant::now())?;
            Ok(Answer::Done)
        }
        Op::Check(c) => {
            let tags = scenario_tags(ctx, &c.tags);
            ctx.recorder
                .record_check(&c.name, c.passed, &tags, Instant::now())?;
            Ok(Answer::Done)
        }
        Op::Abort(reason) => {
            tracing::warn!(scenario = %ctx.name, "test.abort(): {reason}");
            ctx.recorder.record_abort(&reason);
            ctx.stop.stop();
            Ok(Answer::Stop)
        }
        // The engine's loop answers these itself.
        Op::Request(_) | Op::Batch(_) | Op::Sleep(_) => Ok(Answer::Stop),
    }
}

/// `(scenario, name)` followed by `tags`.
fn scenario_tags(ctx: &Ctx, tags: &[(String, String)]) -> Vec<(String, String)> {
    let mut all = Vec::with_capacity(tags.len() + 1);
    all.push((
        sls_load_core::tag::KEY_SCENARIO.to_owned(),
        ctx.name.clone(),
    ));
    all.extend(tags.iter().cloned());
    all
}

fn kind(k: MetricKind) -> Kind {
    match k {
        MetricKind::Counter => Kind::Counter,
        MetricKind::Gauge => Kind::Gauge,
        MetricKind::Rate => Kind::Rate,
        MetricKind::Trend => Kind::Trend,
    }
}

/// A request ready to send: its origin and the HTTP request.
struct Prepared {
    origin: Option<String>,
    request: Request<Bytes>,
}

/// Builds `call`'s request (`None` origin: the job's target).
fn prepare(ctx: &Ctx, script: &ScriptCtx, call: &HttpCall) -> Result<Prepared, String> {
    let (mut origin, mut authority, path) = split_url(&call.url, ctx.target.authority())?;
    if script.retarget {
        origin = None;
        ctx.target.authority().clone_into(&mut authority);
    }
    let method = Method::from_bytes(call.method.as_bytes()).map_err(|e| e.to_string())?;
    let uri: Uri = path
        .parse()
        .map_err(|e| format!("url `{}`: {e}", call.url))?;
    let mut request = Request::new(Bytes::from(call.body.clone().unwrap_or_default()));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(
        HOST,
        HeaderValue::from_str(&authority).map_err(|e| e.to_string())?,
    );
    for (k, v) in &call.headers {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("header `{k}`: {e}"))?;
        let value = HeaderValue::from_str(v).map_err(|e| format!("header `{k}`: {e}"))?;
        headers.append(name, value);
    }
    if !headers.contains_key(USER_AGENT)
        && let Some(ua) = script.http.user_agent()
        && let Ok(v) = HeaderValue::from_str(ua)
    {
        headers.insert(USER_AGENT, v);
    }
    if let Some(h) = &script.http.region_header
        && let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.as_bytes()),
            HeaderValue::from_str(&script.region),
        )
        && !headers.contains_key(&name)
    {
        headers.insert(name, value);
    }
    Ok(Prepared { origin, request })
}

/// `(origin when not the target's, authority, path and query)` of `url`: an
/// absolute URL, or a path on the target.
fn split_url(url: &str, target: &str) -> Result<(Option<String>, String, String), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        if url.starts_with('/') {
            return Ok((None, target.to_owned(), url.to_owned()));
        }
        return Err(format!("url `{url}` is not absolute"));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("url `{url}`: only http and https are supported"));
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if authority.is_empty() {
        return Err(format!("url `{url}` has no host"));
    }
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let same = authority == target
        || format!("{authority}{default_port}") == target
        || authority == target.trim_end_matches(default_port);
    let origin = (!same).then(|| format!("{scheme}://{authority}"));
    Ok((origin, authority.to_owned(), path))
}

/// Sends one request of the script and records it; `None` when it may not be
/// sent (the iteration must end).
async fn request(
    ctx: &Ctx,
    script: &ScriptCtx,
    vu: &mut VuParts<'_>,
    js: &mut ScriptVu,
    call: &HttpCall,
    clock: &mut Clockwork,
    keep_going: &mut (dyn FnMut() -> bool + Send),
) -> Result<Option<Reply>, RecorderError> {
    let sent = Instant::now();
    if sent >= ctx.steps_end || ctx.stop.is_stopped() || !keep_going() {
        return Ok(None);
    }
    let timed_from = clock.intended.take().unwrap_or(sent);
    ctx.first_sent.note(&ctx.clock, sent);
    let index = request_index(ctx, js, call);
    let prepared = match prepare(ctx, script, call) {
        Ok(p) => p,
        Err(why) => {
            let done = Instant::now();
            record(
                ctx,
                index,
                call,
                Err(ErrorClass::Protocol),
                timed_from,
                done,
            )?;
            return Ok(Some(failure(call, ErrorClass::Protocol, &why, sent, done)));
        }
    };
    let (main, timer, stop) = (&mut *vu.conn, &mut *vu.timer, &mut *vu.stop);
    let conn = match connection(ctx, script, main, js, &prepared.origin, 0).await {
        Some(c) => c,
        None => {
            let done = Instant::now();
            record(ctx, index, call, Err(ErrorClass::Dns), timed_from, done)?;
            return Ok(Some(failure(
                call,
                ErrorClass::Dns,
                "the origin cannot be reached",
                sent,
                done,
            )));
        }
    };
    let result = send(ctx, conn, timer, stop, call, &prepared.request, sent).await;
    let done = result.as_ref().map_or_else(|_| Instant::now(), |r| r.ended);
    record(
        ctx,
        index,
        call,
        result.as_ref().map_err(|c| *c),
        timed_from,
        done,
    )?;
    Ok(Some(match result {
        Ok(r) => reply(call, &r, sent),
        Err(class) => failure(call, class, class.as_str(), sent, done),
    }))
}

/// Sends `calls` side by side, [`BATCH_PER_HOST`] at a time.
async fn batch(
    ctx: &Ctx,
    script: &ScriptCtx,
    vu: &mut VuParts<'_>,
    js: &mut ScriptVu,
    calls: &[HttpCall],
    keep_going: &mut (dyn FnMut() -> bool + Send),
) -> Result<Answer, RecorderError> {
    let mut replies = Vec::with_capacity(calls.len());
    for chunk in calls.chunks(BATCH_PER_HOST) {
        let sent = Instant::now();
        if sent >= ctx.steps_end || ctx.stop.is_stopped() || !keep_going() {
            return Ok(Answer::Stop);
        }
        ctx.first_sent.note(&ctx.clock, sent);
        let prepared: Vec<Result<Prepared, String>> = chunk
            .iter()
            .map(|call| prepare(ctx, script, call))
            .collect();
        // Each request of the chunk on a connection of its own, taken out of
        // the VU for the send and put back after.
        let mut taken = Vec::new();
        for (i, p) in prepared.iter().enumerate() {
            let Ok(p) = p else { continue };
            let key = (p.origin.clone().unwrap_or_default(), i + 1);
            if connection(ctx, script, &mut *vu.conn, js, &p.origin, i + 1)
                .await
                .is_some()
                && let Some(conn) = js.conns.remove(&key)
            {
                taken.push((i, key, conn, &p.request));
            }
        }
        let sends = taken.into_iter().map(|(i, key, mut conn, request)| {
            let call = &chunk[i];
            async move {
                let mut timer = Box::pin(tokio::time::sleep_until(ctx.hard_stop.into()));
                let mut stop = ctx.stop.signal();
                let r = send(ctx, &mut conn, &mut timer, &mut stop, call, request, sent).await;
                (i, key, conn, r)
            }
        });
        let mut results: Vec<Option<Result<Response, ErrorClass>>> = vec![None; chunk.len()];
        for (i, key, conn, r) in futures_util::future::join_all(sends).await {
            js.conns.insert(key, conn);
            results[i] = Some(r);
        }
        for (i, call) in chunk.iter().enumerate() {
            let index = request_index(ctx, js, call);
            let result = match (&prepared[i], results[i].take()) {
                (Err(_), _) | (Ok(_), None) => Err(ErrorClass::Protocol),
                (Ok(_), Some(r)) => r,
            };
            let done = result.as_ref().map_or_else(|_| Instant::now(), |r| r.ended);
            record(
                ctx,
                index,
                call,
                result.as_ref().map_err(|c| *c),
                sent,
                done,
            )?;
            replies.push(match result {
                Ok(r) => reply(call, &r, sent),
                Err(class) => failure(call, class, class.as_str(), sent, done),
            });
        }
    }
    Ok(Answer::Replies(replies))
}

/// The VU's connection `slot` to `origin` (`None`: the target), made on first
/// use; `None` when the origin's target cannot be made.
async fn connection<'v>(
    ctx: &Ctx,
    script: &ScriptCtx,
    main: &'v mut Conn,
    js: &'v mut ScriptVu,
    origin: &Option<String>,
    slot: usize,
) -> Option<&'v mut Conn> {
    if origin.is_none() && slot == 0 {
        return Some(main);
    }
    let key = (origin.clone().unwrap_or_default(), slot);
    if !js.conns.contains_key(&key) {
        let target = match origin {
            None => ctx.target.clone(),
            Some(o) => {
                let mut others = script.others.lock().await;
                match others.get(o) {
                    Some(t) => t.clone(),
                    None => {
                        let t = Arc::new(Target::new(o, &script.http).await.ok()?);
                        others.insert(o.clone(), t.clone());
                        t
                    }
                }
            }
        };
        js.conns.insert(key.clone(), Conn::new(&target));
    }
    js.conns.get_mut(&key)
}

/// Sends `request` on `conn` within the request's timeout.
async fn send(
    ctx: &Ctx,
    conn: &mut Conn,
    timer: &mut std::pin::Pin<Box<tokio::time::Sleep>>,
    stop: &mut super::stop::StopSignal,
    call: &HttpCall,
    request: &Request<Bytes>,
    sent: Instant,
) -> Result<Response, ErrorClass> {
    let timeout = call
        .timeout
        .map_or(ctx.request_timeout, |t| t.min(ctx.request_timeout));
    let deadline = (sent + timeout).min(ctx.hard_stop);
    let keep = call.response != ResponseType::None;
    match send_within(conn, timer, stop, request, keep, sent, deadline).await {
        Some(r) => r,
        None => {
            conn.reset();
            Err(ErrorClass::Timeout)
        }
    }
}

/// The recorder's index of `call`'s request (name, method, scenario, tags).
fn request_index(ctx: &Ctx, js: &mut ScriptVu, call: &HttpCall) -> usize {
    let known = js.indices.iter().find(|(info, _)| {
        info.name == call.name && info.method == call.method && info.tags == call.tags
    });
    if let Some((_, i)) = known {
        return *i;
    }
    let info = RequestInfo {
        name: call.name().to_owned(),
        method: call.method.clone(),
        scenario: ctx.name.clone(),
        tags: call.tags.clone(),
    };
    let i = ctx.recorder.request(info.clone());
    if js.indices.len() < 64 {
        js.indices.push((info, i));
    }
    i
}

/// Records one request's outcome.
fn record(
    ctx: &Ctx,
    index: usize,
    call: &HttpCall,
    result: Result<&Response, ErrorClass>,
    timed_from: Instant,
    done: Instant,
) -> Result<(), RecorderError> {
    let latency = done.saturating_duration_since(timed_from);
    let sample = match result {
        Ok(r) => {
            let outcome = match call.expects(r.status) {
                true => Outcome::Ok,
                false => Outcome::Failed(status_class(r.status)),
            };
            Sample {
                status: Some(r.status),
                timings: Some(&r.timings),
                headers: Some(&r.headers),
                traffic: r.traffic,
                ..Sample::new(index, outcome, latency, done)
            }
        }
        Err(class) => Sample {
            traffic: Traffic::default(),
            ..Sample::new(index, Outcome::Errored(class), latency, done)
        },
    };
    ctx.recorder.record(&sample)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The script's view of a response.
fn reply(call: &HttpCall, r: &Response, sent: Instant) -> Reply {
    let t = &r.timings;
    let headers = r
        .headers
        .iter()
        .map(|(k, v)| {
            (
                canonical(k.as_str()),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    Reply {
        status: r.status,
        body: (call.response != ResponseType::None).then(|| r.body.to_vec()),
        headers,
        timings: [
            ms(r.ended.saturating_duration_since(sent)),
            ms(t.blocked),
            ms(t.connecting),
            ms(t.tls_handshaking),
            ms(t.sending),
            ms(t.waiting),
            ms(t.receiving),
        ],
        error: String::new(),
        error_code: 0,
        url: call.url.clone(),
        proto: match r.version {
            http::Version::HTTP_2 => "HTTP/2.0",
            http::Version::HTTP_10 => "HTTP/1.0",
            _ => "HTTP/1.1",
        }
        .to_owned(),
    }
}

/// The script's view of a request that got no response (k6's error codes).
fn failure(call: &HttpCall, class: ErrorClass, why: &str, sent: Instant, done: Instant) -> Reply {
    let code = match class {
        ErrorClass::Dns => 1100,
        ErrorClass::Connect => 1212,
        ErrorClass::Timeout => 1050,
        ErrorClass::Tls => 1300,
        _ => 1000,
    };
    let mut timings = [0.0; 7];
    timings[0] = ms(done.saturating_duration_since(sent));
    Reply {
        status: 0,
        body: None,
        headers: Vec::new(),
        timings,
        error: why.to_owned(),
        error_code: code,
        url: call.url.clone(),
        proto: String::new(),
    }
}

/// `content-type` → `Content-Type`, as k6 shows header names.
fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_origin_authority_and_path() {
        let t = "127.0.0.1:8080";
        assert_eq!(
            split_url("http://127.0.0.1:8080/a?b=1", t).unwrap(),
            (None, t.to_owned(), "/a?b=1".to_owned())
        );
        assert_eq!(
            split_url("/x", t).unwrap(),
            (None, t.to_owned(), "/x".to_owned())
        );
        assert_eq!(
            split_url("https://test.k6.io", t).unwrap(),
            (
                Some("https://test.k6.io".to_owned()),
                "test.k6.io".to_owned(),
                "/".to_owned()
            )
        );
        assert_eq!(
            split_url("http://example.com/", "example.com:80")
                .unwrap()
                .0,
            None
        );
        assert!(split_url("ftp://x/", t).is_err());
        assert!(split_url("x", t).is_err());
    }

    #[test]
    fn header_names_read_as_k6_shows_them() {
        assert_eq!(canonical("content-type"), "Content-Type");
        assert_eq!(canonical("x-served-by"), "X-Served-By");
    }
}
