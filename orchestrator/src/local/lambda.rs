//! A Lambda-compatible service for one emulated region ([`LocalLambda`]).
//!
//! This file owns the Lambda **Invoke API** (as aws-sdk-lambda calls it, plus
//! `GetAccountSettings`), the Lambda **Runtime API** (2018-06-01) spoken by the
//! function processes, and the process pool behind them: queueing, spawning
//! `bootstrap` processes on demand up to a cap (a few at a time, on the blocking
//! pool and outside the pool lock, so that a burst of Invoke calls is answered
//! while processes start), warm reuse, timeouts, crash handling, idle reaping and
//! fault injection ([`LocalLambda::kill_one_busy`]).
//! It does not own the function code (any binary speaking the Runtime API
//! works), S3, credentials or which regions exist; see the parent module for
//! that glue.
//!
//! Deliberate simplifications: every function process gets its *own* Runtime
//! API listener (`AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT`, a fresh port per
//! process, just as every real sandbox has its own runtime endpoint) so that
//! each request can be attributed to the process that made it; the public
//! endpoint serves only the Invoke API. SigV4 signatures are not checked,
//! qualifiers are accepted but always run `$LATEST`, failed `Event`
//! invocations are not retried, and `X-Amz-Log-Type: Tail` and client
//! contexts are ignored.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use tokio::process::{Child, Command};
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tracing::{debug, error, info, warn};

use super::{HttpServer, LocalError, bind_loopback};

/// Largest payload accepted for a synchronous invocation (and for a function's response).
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// Largest payload accepted for an `Event` (asynchronous) invocation.
pub const MAX_EVENT_PAYLOAD: usize = 256 * 1024;
/// The account id used in emulated ARNs.
pub const ACCOUNT_ID: &str = "000000000000";

/// Bodies beyond this size are not even drained before answering 413.
const DRAIN_CAP: usize = 4 * MAX_SYNC_PAYLOAD;
/// How long a freshly spawned process may take to ask for its first invocation.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open Invoke API connections get to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How long shutdown waits for killed processes to be reaped.
const CHILD_EXIT_WAIT: Duration = Duration::from_secs(10);

const INVOKE_PREFIX: &str = "/2015-03-31/functions/";
const INVOKE_SUFFIX: &str = "/invocations";
const ACCOUNT_SETTINGS_PATH: &str = "/2016-08-19/account-settings";
const RUNTIME_PREFIX: &str = "/2018-06-01/runtime/";
const JSON: &str = "application/json";

/// Configuration of one [`LocalLambda`].
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// Emulated region (`AWS_REGION` of the processes, part of the function ARN).
    pub region: String,
    /// The only function name the Invoke API accepts.
    pub function_name: String,
    /// The executable speaking the Runtime API (the `bootstrap` binary).
    pub bootstrap: PathBuf,
    /// Reported as `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
    /// Per-invocation timeout; on expiry the process is killed.
    pub timeout: Duration,
    /// Concurrency cap: at most this many processes run at once.
    pub max_processes: usize,
    /// Idle processes older than this are reaped; `Duration::ZERO` keeps them forever.
    pub idle_timeout: Duration,
    /// Directory receiving one `{stream_name}.log` per process (created if missing).
    pub log_dir: PathBuf,
    /// Extra environment for every process, applied after (and so overriding) the
    /// Lambda-defined variables.
    pub env: Vec<(String, String)>,
}

/// Counters of a [`LocalLambda`] since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LambdaStats {
    /// Processes spawned so far.
    pub processes_spawned: u64,
    /// Invocations accepted (`RequestResponse` and `Event`; not `DryRun`).
    pub invocations: u64,
    /// Invocations that ended in a function error (reported error, crash, timeout, init failure).
    pub errors: u64,
    /// Processes currently alive (starting, idle, busy or being killed).
    pub running: usize,
}

/// A Lambda service for one region: Invoke API on [`LocalLambda::endpoint`], function
/// processes spawned on demand.
///
/// Sync invocations beyond `max_processes` are queued (not throttled with 429)
/// and run as soon as a process is free, so a local run never sees spurious
/// throttling. Dropping it without [`LocalLambda::shutdown`] still kills every
/// process, but does not wait for them to be reaped.
pub struct LocalLambda {
    endpoint: String,
    shared: Arc<Shared>,
    server: Option<HttpServer>,
    reaper: Option<JoinHandle<()>>,
}

impl fmt::Debug for LocalLambda {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalLambda")
            .field("endpoint", &self.endpoint)
            .field("region", &self.shared.cfg.region)
            .field("function_name", &self.shared.cfg.function_name)
            .finish_non_exhaustive()
    }
}

impl LocalLambda {
    /// Validates `cfg`, creates the log directory and starts the Invoke API on
    /// `127.0.0.1:0`. No process is spawned until the first invocation.
    pub async fn start(cfg: LambdaConfig) -> Result<LocalLambda, LocalError> {
        let mut cfg = cfg;
        validate(&cfg)?;
        cfg.bootstrap = std::path::absolute(&cfg.bootstrap)
            .map_err(|e| LocalError::io(format!("resolving {}", cfg.bootstrap.display()), e))?;
        if !cfg.bootstrap.is_file() {
            return Err(LocalError::Config(format!(
                "bootstrap {} is not a file",
                cfg.bootstrap.display()
            )));
        }
        let task_root = cfg
            .bootstrap
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        std::fs::create_dir_all(&cfg.log_dir)
            .map_err(|e| LocalError::io(format!("creating {}", cfg.log_dir.display()), e))?;

        let (listener, endpoint) = bind_loopback().await?;
        let arn = function_arn(&cfg.region, &cfg.function_name);
        let shared = Arc::new(Shared {
            cfg,
            arn,
            task_root,
            rt: Handle::current(),
            inner: Mutex::new(Inner::default()),
        });
        let server = HttpServer::spawn(
            "lambda-invoke-api",
            listener,
            http_service(&shared, None),
            SHUTDOWN_GRACE,
        );
        let reaper = tokio::spawn(reap_loop(Arc::downgrade(&shared)));
        info!(
            %endpoint,
            region = %shared.cfg.region,
            function = %shared.cfg.function_name,
            max_processes = shared.cfg.max_processes,
            "local Lambda started"
        );
        Ok(LocalLambda {
            endpoint,
            shared,
            server: Some(server),
            reaper: Some(reaper),
        })
    }

    /// The Invoke API endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> LambdaStats {
        let inner = self.shared.lock();
        LambdaStats {
            processes_spawned: inner.spawned,
            invocations: inner.invocations,
            errors: inner.errors,
            running: inner.live,
        }
    }

    /// Pids of the processes currently serving this function (not counting
    /// ones already being killed).
    pub fn process_ids(&self) -> Vec<u32> {
        let inner = self.shared.lock();
        let mut pids: Vec<u32> = inner.procs.values().filter_map(|p| p.pid).collect();
        pids.sort_unstable();
        pids
    }

    /// Fault injection: kills (SIGKILL) one process that is currently running
    /// an invocation and returns its pid, or `None` if no process is busy.
    ///
    /// The invocation fails right away with `Runtime.ExitError`; the process is
    /// reaped in the background and its slot freed.
    pub fn kill_one_busy(&self) -> Option<u32> {
        let mut inner = self.shared.lock();
        let (seq, pid) = inner
            .procs
            .iter()
            .filter(|(_, p)| matches!(p.state, ProcState::Busy(_)))
            .filter_map(|(seq, p)| p.pid.map(|pid| (*seq, pid)))
            .min()?;
        warn!(pid, "fault injection: killing a busy function process");
        inner.retire(
            seq,
            &Fault::typed(
                "Runtime.ExitError",
                "Runtime exited with error: signal: 9 (SIGKILL)".to_owned(),
            ),
        );
        pump(&self.shared, &mut inner);
        Some(pid)
    }

    /// Fails queued and running invocations, kills every process and waits for
    /// them to exit, then stops the server.
    pub async fn shutdown(mut self) {
        let mut watchers = self.shared.begin_shutdown();
        if let Some(reaper) = self.reaper.take() {
            reaper.abort();
        }
        let reaped = tokio::time::timeout(CHILD_EXIT_WAIT, async {
            while let Some(res) = watchers.join_next().await {
                if let Err(err) = res {
                    warn!(%err, "process watcher failed");
                }
            }
        })
        .await;
        if reaped.is_err() {
            // Dropping the set aborts the watchers, which drops (and so SIGKILLs) their children.
            warn!(
                left = watchers.len(),
                "function processes did not exit in time"
            );
        }
        drop(watchers);
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        info!(endpoint = %self.endpoint, "local Lambda stopped");
    }
}

impl Drop for LocalLambda {
    fn drop(&mut self) {
        // After `shutdown` this finds nothing left to do.
        let mut watchers = self.shared.begin_shutdown();
        watchers.detach_all();
        if let Some(reaper) = self.reaper.take() {
            reaper.abort();
        }
    }
}

fn validate(cfg: &LambdaConfig) -> Result<(), LocalError> {
    let bad = |msg: String| Err(LocalError::Config(msg));
    let name = &cfg.function_name;
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return bad(format!("invalid function name {name:?}"));
    }
    let region = &cfg.region;
    if region.is_empty()
        || !region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return bad(format!("invalid region {region:?}"));
    }
    if cfg.max_processes == 0 {
        return bad("max_processes must be at least 1".into());
    }
    if cfg.timeout.is_zero() {
        return bad("timeout must be positive".into());
    }
    if cfg.memory_mb == 0 {
        return bad("memory_mb must be positive".into());
    }
    for (key, value) in &cfg.env {
        if key.is_empty() || key.contains(['=', '\0']) || value.contains('\0') {
            return bad(format!("invalid environment variable {key:?}"));
        }
    }
    Ok(())
}

/// State shared by the servers, the watchers and the timers.
struct Shared {
    cfg: LambdaConfig,
    arn: String,
    task_root: PathBuf,
    /// Runtime used for spawning, so that sync entry points work from any thread.
    rt: Handle,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Pending>,
    procs: HashMap<u64, Proc>,
    inflight: HashMap<String, InFlight>,
    watchers: JoinSet<()>,
    next_seq: u64,
    /// Processes spawned or being started and not yet reaped (including ones
    /// being killed).
    live: usize,
    /// Processes being started right now (see [`MAX_LAUNCHING`]).
    launching: usize,
    spawned: u64,
    invocations: u64,
    errors: u64,
    shutting_down: bool,
}

/// An invocation waiting for a process.
struct Pending {
    id: String,
    payload: Bytes,
    trace_id: String,
    reply: Option<oneshot::Sender<Outcome>>,
}

/// An invocation handed to a process, as sent on `next`.
struct Assignment {
    id: String,
    payload: Bytes,
    trace_id: String,
    deadline_ms: u64,
}

/// An invocation a process is working on.
struct InFlight {
    proc: u64,
    reply: Option<oneshot::Sender<Outcome>>,
    timer: AbortHandle,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.timer.abort();
    }
}

/// A function process as the pool sees it. Dropping it kills the process.
struct Proc {
    pid: Option<u32>,
    stream: String,
    state: ProcState,
    /// When `state` last changed.
    since: Instant,
    /// Dropping this sender tells the watcher to kill the process (`None` while
    /// the process is being started).
    _kill: Option<oneshot::Sender<()>>,
}

enum ProcState {
    /// Being started, or started and not yet asking for an invocation.
    Starting,
    /// Between invocations; holds the pending `next` call if there is one.
    Idle(Option<oneshot::Sender<Assignment>>),
    /// Running the invocation with this id.
    Busy(String),
}

/// How an invocation ended, as delivered to a synchronous caller.
enum Outcome {
    Success(Bytes),
    /// Function error; the body is the error JSON.
    Failure(Bytes),
    /// The service gave up on it (shutdown).
    Unavailable(&'static str),
}

/// A function error to report for whatever invocation a dying process affects.
enum Fault {
    Typed {
        error_type: &'static str,
        reason: String,
    },
    Body(Bytes),
}

impl Fault {
    fn typed(error_type: &'static str, reason: String) -> Fault {
        Fault::Typed { error_type, reason }
    }

    fn body(&self, request_id: &str) -> Bytes {
        match self {
            Fault::Typed { error_type, reason } => error_json(
                error_type,
                &format!("RequestId: {request_id} Error: {reason}"),
            ),
            Fault::Body(body) => body.clone(),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the service as stopping, fails every pending invocation, drops
    /// (and so kills) every process and hands back their watchers.
    fn begin_shutdown(&self) -> JoinSet<()> {
        let mut inner = self.lock();
        inner.shutting_down = true;
        let queued: Vec<Pending> = inner.queue.drain(..).collect();
        let running: Vec<InFlight> = inner.inflight.drain().map(|(_, f)| f).collect();
        let procs = std::mem::take(&mut inner.procs);
        let watchers = std::mem::take(&mut inner.watchers);
        drop(inner);
        for pending in queued {
            deliver(
                pending.reply,
                Outcome::Unavailable("the local Lambda is shutting down"),
            );
        }
        for mut flight in running {
            deliver(
                flight.reply.take(),
                Outcome::Unavailable("the local Lambda is shutting down"),
            );
        }
        drop(procs);
        watchers
    }

    /// Called by a process watcher once the process has been reaped.
    fn on_exit(self: &Arc<Self>, seq: u64, status: std::io::Result<ExitStatus>) {
        let mut inner = self.lock();
        inner.live = inner.live.saturating_sub(1);
        let status = match status {
            Ok(status) => status.to_string(),
            Err(err) => format!("unknown exit status ({err})"),
        };
        if inner.procs.contains_key(&seq) && !inner.shutting_down {
            warn!(seq, %status, "function process exited unexpectedly");
            inner.retire(
                seq,
                &Fault::typed(
                    "Runtime.ExitError",
                    format!("Runtime exited with error: {status}"),
                ),
            );
        } else {
            debug!(seq, %status, "function process reaped");
        }
        pump(self, &mut inner);
    }

    /// Called when invocation `id` exceeded the function timeout.
    fn on_timeout(self: &Arc<Self>, id: &str) {
        let mut inner = self.lock();
        let Some(seq) = inner.inflight.get(id).map(|f| f.proc) else {
            return;
        };
        let secs = self.cfg.timeout.as_secs_f64();
        warn!(
            request_id = id,
            seq, "invocation timed out, killing its process"
        );
        let fault = Fault::typed(
            "Sandbox.Timedout",
            format!("Task timed out after {secs:.2} seconds"),
        );
        inner.retire(seq, &fault);
        // Should the process already be gone, still fail the invocation.
        if let Some(mut flight) = inner.inflight.remove(id) {
            let reply = flight.reply.take();
            inner.complete(reply, Outcome::Failure(fault.body(id)));
        }
        pump(self, &mut inner);
    }

    /// Kills processes idle for longer than `idle_timeout` and ones stuck in init.
    fn reap(self: &Arc<Self>) {
        let now = Instant::now();
        let idle_timeout = self.cfg.idle_timeout;
        let mut inner = self.lock();
        if inner.shutting_down {
            return;
        }
        let mut idle = Vec::new();
        let mut stuck = Vec::new();
        for (seq, p) in &inner.procs {
            let age = now.saturating_duration_since(p.since);
            match p.state {
                ProcState::Idle(_) if !idle_timeout.is_zero() && age >= idle_timeout => {
                    idle.push(*seq);
                }
                ProcState::Starting if age >= INIT_TIMEOUT => stuck.push(*seq),
                _ => {}
            }
        }
        for seq in &idle {
            if let Some(p) = inner.procs.remove(seq) {
                info!(pid = ?p.pid, stream = %p.stream, "reaping idle function process");
            }
        }
        for seq in &stuck {
            warn!(
                seq,
                "function process did not finish init in time, killing it"
            );
            let secs = INIT_TIMEOUT.as_secs_f64();
            inner.retire(
                *seq,
                &Fault::typed(
                    "Sandbox.Timedout",
                    format!("Init timed out after {secs:.2} seconds"),
                ),
            );
        }
        if !idle.is_empty() || !stuck.is_empty() {
            pump(self, &mut inner);
        }
    }
}

impl Inner {
    /// Delivers an outcome, counting function errors.
    fn complete(&mut self, reply: Option<oneshot::Sender<Outcome>>, outcome: Outcome) {
        if matches!(outcome, Outcome::Failure(_)) {
            self.errors += 1;
        }
        deliver(reply, outcome);
    }

    /// Forgets process `seq` (which kills it) and fails the invocation it was
    /// running, or, if it died during init, the oldest queued invocation.
    fn retire(&mut self, seq: u64, fault: &Fault) {
        let Some(p) = self.procs.remove(&seq) else {
            return;
        };
        match &p.state {
            ProcState::Busy(id) => {
                if let Some(mut flight) = self.inflight.remove(id) {
                    let reply = flight.reply.take();
                    self.complete(reply, Outcome::Failure(fault.body(id)));
                }
            }
            ProcState::Starting => {
                if let Some(pending) = self.queue.pop_front() {
                    self.complete(pending.reply, Outcome::Failure(fault.body(&pending.id)));
                }
            }
            ProcState::Idle(_) => {}
        }
        debug!(pid = ?p.pid, stream = %p.stream, "function process retired");
    }
}

fn deliver(reply: Option<oneshot::Sender<Outcome>>, outcome: Outcome) {
    if let Some(tx) = reply {
        // The caller may have hung up; the outcome is then simply dropped, as Lambda does.
        let _ = tx.send(outcome);
    }
}

/// Hands queued invocations to processes waiting in `next`, then spawns
/// processes if the queue is longer than the capacity about to free up.
fn pump(shared: &Arc<Shared>, inner: &mut Inner) {
    while !inner.queue.is_empty() {
        let waiting = inner
            .procs
            .iter()
            .filter(|(_, p)| matches!(p.state, ProcState::Idle(Some(_))))
            .max_by_key(|(_, p)| p.since)
            .map(|(seq, _)| *seq);
        let Some(seq) = waiting else {
            break;
        };
        let Some(p) = inner.procs.get_mut(&seq) else {
            break;
        };
        let ProcState::Idle(Some(waiter)) = std::mem::replace(&mut p.state, ProcState::Idle(None))
        else {
            continue;
        };
        if waiter.is_closed() {
            continue;
        }
        let Some(pending) = inner.queue.pop_front() else {
            break;
        };
        let assignment = assign(shared, inner, seq, pending);
        if let Err(assignment) = waiter.send(assignment) {
            // The poll went away in between: put the invocation back.
            let reply = inner
                .inflight
                .remove(&assignment.id)
                .and_then(|mut f| f.reply.take());
            if let Some(p) = inner.procs.get_mut(&seq) {
                p.state = ProcState::Idle(None);
            }
            inner.queue.push_front(Pending {
                id: assignment.id,
                payload: assignment.payload,
                trace_id: assignment.trace_id,
                reply,
            });
        }
    }
    scale(shared, inner);
}

/// Runs [`pump`] on the service's runtime instead of the caller's path.
fn schedule_pump(shared: &Arc<Shared>) {
    let task_shared = Arc::clone(shared);
    shared.rt.spawn(async move {
        let mut inner = task_shared.lock();
        pump(&task_shared, &mut inner);
    });
}

/// Processes being started at once. A start (fork/exec, a log file, a Runtime API
/// listener) runs on the blocking pool without the pool lock, and only this many run
/// at a time, so a burst of Invoke calls is answered while processes come up
/// instead of queueing behind them for the CPU and the lock.
const MAX_LAUNCHING: usize = 2;

/// Starts processes while the queue is longer than the capacity about to free up.
/// A started process is counted in `live` and listed as [`ProcState::Starting`]
/// (without a pid) at once; [`launch`] does the rest off the lock.
fn scale(shared: &Arc<Shared>, inner: &mut Inner) {
    if inner.shutting_down {
        return;
    }
    let mut available = inner
        .procs
        .values()
        .filter(|p| !matches!(p.state, ProcState::Busy(_)))
        .count();
    while inner.queue.len() > available
        && inner.live < shared.cfg.max_processes
        && inner.launching < MAX_LAUNCHING
    {
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.procs.insert(
            seq,
            Proc {
                pid: None,
                stream: log_stream_name(seq),
                state: ProcState::Starting,
                since: Instant::now(),
                _kill: None,
            },
        );
        inner.live += 1;
        inner.launching += 1;
        available += 1;
        shared.rt.spawn(launch(Arc::clone(shared), seq));
    }
}

/// Starts process `seq` on the blocking pool, then hands it to a watcher under the
/// lock. A failed start fails the oldest queued invocation, as Lambda fails an
/// invocation whose runtime cannot start.
async fn launch(shared: Arc<Shared>, seq: u64) {
    let task = Arc::clone(&shared);
    let started = tokio::task::spawn_blocking(move || start_process(&task, seq)).await;
    let mut inner = shared.lock();
    inner.launching = inner.launching.saturating_sub(1);
    let err = match started {
        Ok(Ok(started)) => {
            register(&shared, &mut inner, seq, started);
            None
        }
        Ok(Err(err)) => Some(err.to_string()),
        Err(join) => Some(format!("the start-up task failed: {join}")),
    };
    if let Some(err) = err {
        error!(%err, "spawning a function process failed");
        inner.live = inner.live.saturating_sub(1);
        inner.procs.remove(&seq);
        if let Some(pending) = inner.queue.pop_front() {
            let fault = Fault::typed(
                "Runtime.InvalidEntrypoint",
                format!("Couldn't start the runtime: {err}"),
            );
            inner.complete(pending.reply, Outcome::Failure(fault.body(&pending.id)));
        }
    }
    pump(&shared, &mut inner);
}

/// Marks `seq` busy with `pending` and arms the timeout.
fn assign(shared: &Arc<Shared>, inner: &mut Inner, seq: u64, pending: Pending) -> Assignment {
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(shared.cfg.timeout);
    let deadline_ms = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX);
    let timer = {
        let shared = Arc::clone(shared);
        let id = pending.id.clone();
        shared.rt.clone().spawn(async move {
            tokio::time::sleep(shared.cfg.timeout).await;
            shared.on_timeout(&id);
        })
    };
    inner.inflight.insert(
        pending.id.clone(),
        InFlight {
            proc: seq,
            reply: pending.reply,
            timer: timer.abort_handle(),
        },
    );
    if let Some(p) = inner.procs.get_mut(&seq) {
        p.state = ProcState::Busy(pending.id.clone());
        p.since = Instant::now();
        debug!(request_id = %pending.id, pid = ?p.pid, "invocation assigned");
    }
    Assignment {
        id: pending.id,
        payload: pending.payload,
        trace_id: pending.trace_id,
        deadline_ms,
    }
}

/// A `bootstrap` process that has been started, with its Runtime API listener.
struct Started {
    child: Child,
    listener: tokio::net::TcpListener,
}

/// Spawns `bootstrap` process `seq` with its own Runtime API listener. Blocking
/// (fork/exec, file and socket calls); runs without the pool lock.
fn start_process(shared: &Shared, seq: u64) -> Result<Started, LocalError> {
    // Spawning needs a runtime context for the child's exit notification.
    let _rt = shared.rt.enter();
    let cfg = &shared.cfg;

    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| LocalError::io("binding a Runtime API listener", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| LocalError::io("reading the Runtime API address", e))?
        .port();
    listener
        .set_nonblocking(true)
        .map_err(|e| LocalError::io("configuring the Runtime API listener", e))?;
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|e| LocalError::io("registering the Runtime API listener", e))?;

    let stream = log_stream_name(seq);
    let log_path = cfg.log_dir.join(format!("{stream}.log"));
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| LocalError::io(format!("opening {}", log_path.display()), e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| LocalError::io(format!("duplicating {}", log_path.display()), e))?;

    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut cmd = Command::new(&cfg.bootstrap);
    cmd.env_clear()
        .env("PATH", path)
        .env("LANG", "en_US.UTF-8")
        .env("TZ", ":UTC")
        .env("AWS_LAMBDA_FUNCTION_NAME", &cfg.function_name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", cfg.memory_mb.to_string())
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_REGION", &cfg.region)
        .env("AWS_DEFAULT_REGION", &cfg.region)
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", cfg.function_name),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", &stream)
        .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
        .env("_HANDLER", "bootstrap")
        .env("LAMBDA_TASK_ROOT", &shared.task_root)
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .envs(cfg.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&shared.task_root)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| LocalError::io(format!("spawning {}", cfg.bootstrap.display()), e))?;
    Ok(Started { child, listener })
}

/// Serves the Runtime API of started process `seq` and hands the child to a
/// watcher. If `seq` was forgotten while it started (shutdown, init timeout), the
/// child is killed instead.
fn register(shared: &Arc<Shared>, inner: &mut Inner, seq: u64, started: Started) {
    let Started { child, listener } = started;
    let pid = child.id();
    let Some(proc) = inner.procs.get_mut(&seq) else {
        // Dropping the child kills it (kill_on_drop); the runtime reaps it.
        drop(child);
        inner.live = inner.live.saturating_sub(1);
        debug!(seq, ?pid, "function process no longer wanted, killed");
        return;
    };
    let server = HttpServer::spawn(
        "lambda-runtime-api",
        listener,
        http_service(shared, Some(seq)),
        Duration::ZERO,
    );
    let (kill, kill_rx) = oneshot::channel();
    proc.pid = pid;
    proc._kill = Some(kill);
    info!(?pid, stream = %proc.stream, "function process spawned");
    while inner.watchers.try_join_next().is_some() {}
    inner.watchers.spawn_on(
        watch_process(Arc::clone(shared), seq, child, kill_rx, server),
        &shared.rt,
    );
    inner.spawned += 1;
}

/// Owns a child: waits for it to exit or kills it when told (or when its
/// [`Proc`] is dropped), then reports the exit.
async fn watch_process(
    shared: Arc<Shared>,
    seq: u64,
    mut child: Child,
    kill: oneshot::Receiver<()>,
    server: HttpServer,
) {
    let status = tokio::select! {
        status = child.wait() => status,
        _ = kill => {
            if let Err(err) = child.start_kill() {
                debug!(seq, %err, "kill failed (process already gone?)");
            }
            child.wait().await
        }
    };
    // Tear down this process's Runtime API (including a pending `next`).
    drop(server);
    shared.on_exit(seq, status);
}

async fn reap_loop(shared: Weak<Shared>) {
    let tick = match shared.upgrade() {
        Some(s) if !s.cfg.idle_timeout.is_zero() => {
            (s.cfg.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
        }
        _ => Duration::from_secs(1),
    };
    loop {
        tokio::time::sleep(tick).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.reap();
    }
}

type HttpResponse = Response<Full<Bytes>>;

/// The hyper service: the Invoke API (`proc == None`) or the Runtime API of process `proc`.
fn http_service(
    shared: &Arc<Shared>,
    proc: Option<u64>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = HttpResponse,
    Error = Infallible,
    Future = impl Future<Output = Result<HttpResponse, Infallible>> + Send + 'static,
> + Clone
+ Send
+ 'static {
    let shared = Arc::clone(shared);
    service_fn(move |req: Request<Incoming>| {
        let shared = Arc::clone(&shared);
        async move {
            Ok(match proc {
                Some(seq) => runtime_api(&shared, seq, req).await,
                None => invoke_api(&shared, req).await,
            })
        }
    })
}

// ---------------------------------------------------------------------------
// Invoke API
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

async fn invoke_api(shared: &Arc<Shared>, req: Request<Incoming>) -> HttpResponse {
    let request_id = uuid_v4();
    let path = req.uri().path().to_owned();
    if let Some(name) = path
        .strip_prefix(INVOKE_PREFIX)
        .and_then(|rest| rest.strip_suffix(INVOKE_SUFFIX))
        && req.method() == Method::POST
    {
        return invoke(shared, &percent_decode(name), req, request_id).await;
    }
    if path.trim_end_matches('/') == ACCOUNT_SETTINGS_PATH && req.method() == Method::GET {
        return account_settings(shared, &request_id);
    }
    api_error(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        &format!(
            "{} {path} is not supported by the local Lambda",
            req.method()
        ),
        &request_id,
    )
}

async fn invoke(
    shared: &Arc<Shared>,
    function: &str,
    req: Request<Incoming>,
    request_id: String,
) -> HttpResponse {
    if !function_matches(function, &shared.cfg.function_name) {
        let arn = if function.starts_with("arn:") {
            function.to_owned()
        } else {
            function_arn(&shared.cfg.region, function)
        };
        return api_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {arn}"),
            &request_id,
        );
    }
    let invocation_type = match req
        .headers()
        .get("x-amz-invocation-type")
        .map(|v| v.to_str().unwrap_or_default())
    {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                &format!("Unsupported invocation type {other:?}"),
                &request_id,
            );
        }
    };
    let limit = match invocation_type {
        InvocationType::Event => MAX_EVENT_PAYLOAD,
        _ => MAX_SYNC_PAYLOAD,
    };
    let payload = match read_body(req.into_body(), limit).await {
        Ok(payload) => payload,
        Err(BodyError::TooLarge(size)) => {
            let kind = match invocation_type {
                InvocationType::Event => "Event",
                _ => "RequestResponse",
            };
            return api_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException",
                &format!(
                    "{size} byte payload is too large for the {kind} invocation type (limit {limit} bytes)"
                ),
                &request_id,
            );
        }
        Err(BodyError::Read(err)) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                &format!("Could not read the request body: {err}"),
                &request_id,
            );
        }
    };
    let payload = if payload.is_empty() {
        Bytes::from_static(b"{}")
    } else if let Err(err) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            &format!("Could not parse request body into json: {err}"),
            &request_id,
        );
    } else {
        payload
    };
    if invocation_type == InvocationType::DryRun {
        return respond(
            StatusCode::NO_CONTENT,
            &[("x-amzn-RequestId", &request_id)],
            Bytes::new(),
        );
    }

    let (reply, outcome) = match invocation_type {
        InvocationType::RequestResponse => {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        }
        _ => (None, None),
    };
    {
        let mut inner = shared.lock();
        if inner.shutting_down {
            drop(inner);
            return service_unavailable("the local Lambda is shutting down", &request_id);
        }
        inner.invocations += 1;
        inner.queue.push_back(Pending {
            id: request_id.clone(),
            payload,
            trace_id: trace_id(),
            reply,
        });
        if invocation_type == InvocationType::Event {
            // An Event caller only waits for the 202: hand the invocation to a warm
            // process or start one off this request's path, so a fan-out of many
            // Event invokes is not serialised behind process start-ups.
            drop(inner);
            schedule_pump(shared);
        } else {
            pump(shared, &mut inner);
        }
    }
    debug!(%request_id, ?invocation_type, "invocation queued");

    let Some(outcome) = outcome else {
        return respond(
            StatusCode::ACCEPTED,
            &[("x-amzn-RequestId", &request_id)],
            Bytes::new(),
        );
    };
    match outcome.await {
        Ok(Outcome::Success(body)) => respond(
            StatusCode::OK,
            &[
                ("x-amzn-RequestId", &request_id),
                ("X-Amz-Executed-Version", "$LATEST"),
                ("Content-Type", JSON),
            ],
            body,
        ),
        Ok(Outcome::Failure(body)) => respond(
            StatusCode::OK,
            &[
                ("x-amzn-RequestId", &request_id),
                ("X-Amz-Executed-Version", "$LATEST"),
                ("X-Amz-Function-Error", "Unhandled"),
                ("Content-Type", JSON),
            ],
            body,
        ),
        Ok(Outcome::Unavailable(why)) => service_unavailable(why, &request_id),
        Err(_) => service_unavailable("the invocation was dropped", &request_id),
    }
}

fn account_settings(shared: &Shared, request_id: &str) -> HttpResponse {
    let max = shared.cfg.max_processes;
    let body = serde_json::json!({
        "AccountLimit": {
            "TotalCodeSize": 80_530_636_800_u64,
            "CodeSizeUnzipped": 262_144_000_u64,
            "CodeSizeZipped": 52_428_800_u64,
            "ConcurrentExecutions": max,
            "UnreservedConcurrentExecutions": max,
        },
        "AccountUsage": {
            "TotalCodeSize": 0,
            "FunctionCount": 1,
        },
    });
    respond(
        StatusCode::OK,
        &[("x-amzn-RequestId", request_id), ("Content-Type", JSON)],
        Bytes::from(body.to_string()),
    )
}

/// Whether `requested` (a name, `name:qualifier`, or a full or partial ARN) names `function`.
fn function_matches(requested: &str, function: &str) -> bool {
    const MARKER: &str = ":function:";
    let rest = match requested.rfind(MARKER) {
        Some(at) => &requested[at + MARKER.len()..],
        None => requested,
    };
    let name = rest.split_once(':').map_or(rest, |(name, _qualifier)| name);
    name == function
}

fn function_arn(region: &str, function: &str) -> String {
    format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function}")
}

fn api_error(
    status: StatusCode,
    error_type: &str,
    message: &str,
    request_id: &str,
) -> HttpResponse {
    let kind = if status.is_server_error() {
        "Service"
    } else {
        "User"
    };
    let body = serde_json::json!({ "Type": kind, "message": message });
    respond(
        status,
        &[
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", error_type),
            ("Content-Type", JSON),
        ],
        Bytes::from(body.to_string()),
    )
}

fn service_unavailable(why: &str, request_id: &str) -> HttpResponse {
    api_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceException",
        why,
        request_id,
    )
}

// ---------------------------------------------------------------------------
// Runtime API
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum ResultKind {
    Response,
    Error,
}

async fn runtime_api(shared: &Arc<Shared>, seq: u64, req: Request<Incoming>) -> HttpResponse {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let route = path.strip_prefix(RUNTIME_PREFIX).unwrap_or_default();
    match (&method, route) {
        (&Method::GET, "invocation/next") => next_invocation(shared, seq).await,
        (&Method::POST, "init/error") => init_error(shared, seq, req).await,
        (&Method::POST, route) => {
            let parsed = route.strip_prefix("invocation/").and_then(|rest| {
                if let Some(id) = rest.strip_suffix("/response") {
                    Some((id, ResultKind::Response))
                } else {
                    rest.strip_suffix("/error")
                        .map(|id| (id, ResultKind::Error))
                }
            });
            match parsed {
                Some((id, kind)) if !id.is_empty() && !id.contains('/') => {
                    let id = id.to_owned();
                    post_result(shared, seq, &id, kind, req).await
                }
                _ => runtime_error(StatusCode::NOT_FOUND, "NotFound", &format!("POST {path}")),
            }
        }
        _ => runtime_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("{method} {path}"),
        ),
    }
}

async fn next_invocation(shared: &Arc<Shared>, seq: u64) -> HttpResponse {
    let waiter = {
        let mut inner = shared.lock();
        if inner.shutting_down {
            return runtime_error(
                StatusCode::GONE,
                "Runtime.Shutdown",
                "the service is shutting down",
            );
        }
        let Some(p) = inner.procs.get_mut(&seq) else {
            return runtime_error(
                StatusCode::GONE,
                "Runtime.Terminated",
                "this process was terminated",
            );
        };
        let previous = std::mem::replace(&mut p.state, ProcState::Idle(None));
        if !matches!(previous, ProcState::Idle(_)) {
            p.since = Instant::now();
        }
        if matches!(previous, ProcState::Starting) {
            debug!(pid = ?p.pid, "function process initialised");
        }
        if let ProcState::Busy(id) = previous
            && let Some(mut flight) = inner.inflight.remove(&id)
        {
            warn!(request_id = %id, "runtime asked for the next invocation without reporting a result");
            let reply = flight.reply.take();
            let fault = Fault::typed(
                "Runtime.NoResponse",
                "the runtime requested the next invocation without reporting a result".to_owned(),
            );
            inner.complete(reply, Outcome::Failure(fault.body(&id)));
        }
        if let Some(pending) = inner.queue.pop_front() {
            let assignment = assign(shared, &mut inner, seq, pending);
            return next_response(shared, assignment);
        }
        let (tx, rx) = oneshot::channel();
        if let Some(p) = inner.procs.get_mut(&seq) {
            p.state = ProcState::Idle(Some(tx));
        }
        rx
    };
    match waiter.await {
        Ok(assignment) => next_response(shared, assignment),
        Err(_) => runtime_error(
            StatusCode::GONE,
            "Runtime.Terminated",
            "this process was terminated",
        ),
    }
}

fn next_response(shared: &Shared, a: Assignment) -> HttpResponse {
    respond(
        StatusCode::OK,
        &[
            ("Lambda-Runtime-Aws-Request-Id", &a.id),
            ("Lambda-Runtime-Deadline-Ms", &a.deadline_ms.to_string()),
            ("Lambda-Runtime-Invoked-Function-Arn", &shared.arn),
            ("Lambda-Runtime-Trace-Id", &a.trace_id),
            ("Content-Type", JSON),
        ],
        a.payload,
    )
}

async fn post_result(
    shared: &Arc<Shared>,
    seq: u64,
    id: &str,
    kind: ResultKind,
    req: Request<Incoming>,
) -> HttpResponse {
    let error_type = req
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled")
        .to_owned();
    let body = read_body(req.into_body(), MAX_SYNC_PAYLOAD).await;

    let mut inner = shared.lock();
    let flight = match inner.inflight.remove(id) {
        Some(flight) if flight.proc == seq => flight,
        other => {
            if let Some(flight) = other {
                inner.inflight.insert(id.to_owned(), flight);
            }
            return runtime_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestID",
                &format!("invocation {id} is not running in this process"),
            );
        }
    };
    let mut flight = flight;
    let reply = flight.reply.take();
    drop(flight);
    if let Some(p) = inner.procs.get_mut(&seq) {
        p.state = ProcState::Idle(None);
        p.since = Instant::now();
    }
    let (outcome, answer) = match (kind, body) {
        (ResultKind::Response, Ok(body)) => (Outcome::Success(body), None),
        (ResultKind::Error, Ok(body)) => {
            let body = if serde_json::from_slice::<serde_json::Value>(&body)
                .is_ok_and(|v| v.is_object())
            {
                body
            } else {
                error_json(&error_type, &String::from_utf8_lossy(&body))
            };
            (Outcome::Failure(body), None)
        }
        (_, Err(BodyError::TooLarge(_))) => (
            Outcome::Failure(error_json(
                "Function.ResponseSizeTooLarge",
                &format!(
                    "Response payload size exceeded maximum allowed payload size ({MAX_SYNC_PAYLOAD} bytes)."
                ),
            )),
            Some((StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge")),
        ),
        (_, Err(BodyError::Read(err))) => (
            Outcome::Failure(error_json(
                "Runtime.InvalidResponse",
                &format!("RequestId: {id} Error: could not read the runtime's result: {err}"),
            )),
            Some((StatusCode::BAD_REQUEST, "InvalidRequest")),
        ),
    };
    debug!(request_id = id, ?kind, "invocation finished");
    inner.complete(reply, outcome);
    drop(inner);
    match answer {
        None => respond(
            StatusCode::ACCEPTED,
            &[("Content-Type", JSON)],
            Bytes::from_static(b"{\"status\":\"OK\"}"),
        ),
        Some((status, error_type)) => runtime_error(status, error_type, "the result was rejected"),
    }
}

async fn init_error(shared: &Arc<Shared>, seq: u64, req: Request<Incoming>) -> HttpResponse {
    let body = read_body(req.into_body(), MAX_SYNC_PAYLOAD).await;
    let fault = match body {
        Ok(body)
            if serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.is_object()) =>
        {
            Fault::Body(body)
        }
        _ => Fault::typed(
            "Runtime.InitError",
            "the runtime failed to initialise".to_owned(),
        ),
    };
    let mut inner = shared.lock();
    warn!(seq, "function process reported an init error");
    inner.retire(seq, &fault);
    pump(shared, &mut inner);
    drop(inner);
    respond(
        StatusCode::ACCEPTED,
        &[("Content-Type", JSON)],
        Bytes::from_static(b"{\"status\":\"OK\"}"),
    )
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> HttpResponse {
    respond(
        status,
        &[("Content-Type", JSON)],
        error_json(error_type, message),
    )
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

enum BodyError {
    /// Carries the number of bytes seen (possibly stopped short at the drain cap).
    TooLarge(usize),
    Read(String),
}

/// Reads a body of at most `limit` bytes. Oversized bodies are drained (up to
/// a cap) so that the client reliably receives the 413 answer.
async fn read_body(mut body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    let mut buf = BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total > DRAIN_CAP {
                return Err(BodyError::TooLarge(total));
            }
            if total <= limit {
                buf.extend_from_slice(&data);
            }
        }
    }
    if total > limit {
        Err(BodyError::TooLarge(total))
    } else {
        Ok(buf.freeze())
    }
}

fn respond(status: StatusCode, headers: &[(&str, &str)], body: Bytes) -> HttpResponse {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::new(body)).unwrap_or_else(|err| {
        error!(%err, "building a response failed");
        let mut resp = Response::new(Full::new(Bytes::new()));
        *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        resp
    })
}

fn error_json(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string())
}

/// Decodes `%XX` escapes; malformed escapes are kept literally.
fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            // Two hex digits always fit in a byte.
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A random RFC 4122 version 4 UUID, as Lambda uses for request ids.
fn uuid_v4() -> String {
    let mut v: u128 = rand::random();
    v = (v & !(0xf << 76)) | (0x4 << 76);
    v = (v & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// An X-Ray style trace header value.
fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let root: u128 = rand::random::<u128>() >> 32;
    let parent: u64 = rand::random();
    format!("Root=1-{secs:08x}-{root:024x};Parent={parent:016x};Sampled=0")
}

/// A unique, filename-safe log stream name: `YYYY-MM-DD-SEQ-RANDOM`.
fn log_stream_name(seq: u64) -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        / 86_400;
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{y:04}-{m:02}-{d:02}-{seq:04}-{:016x}",
        rand::random::<u64>()
    )
}

/// Converts days since 1970-01-01 to a (year, month, day) UTC date.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_lambda::error::ProvideErrorMetadata;
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::InvocationType as SdkInvocationType;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

    const TEST_TIMEOUT: Duration = Duration::from_secs(90);

    /// A Runtime API client in Python standing in for `bootstrap`. The payload
    /// steers it: `sleep` (seconds, then echo), `fail`, `crash`, `hang`, `env`;
    /// anything else is echoed back.
    const FAKE_RUNTIME: &str = r#"
import json, os, sys, time, urllib.request

api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
print("fake runtime started", os.getpid(), flush=True)

def post(path, body):
    req = urllib.request.Request(api + path, data=body, method="POST")
    urllib.request.urlopen(req).read()

if os.environ.get("FAKE_INIT_ERROR"):
    post("/init/error", json.dumps({"errorType": "FakeInit", "errorMessage": "no config"}).encode())
    sys.exit(1)

while True:
    with urllib.request.urlopen(api + "/invocation/next") as r:
        headers = {k.lower(): v for k, v in r.headers.items()}
        event = r.read()
    rid = headers["lambda-runtime-aws-request-id"]
    cmd = json.loads(event)
    print("invocation", rid, flush=True)
    if cmd.get("crash"):
        sys.exit(3)
    if cmd.get("hang"):
        time.sleep(3600)
    if cmd.get("sleep"):
        time.sleep(cmd["sleep"])
    if cmd.get("fail"):
        post("/invocation/" + rid + "/error",
             json.dumps({"errorType": "TestError", "errorMessage": "asked to fail"}).encode())
    elif cmd.get("env"):
        out = {"env": dict(os.environ), "headers": headers, "pid": os.getpid()}
        post("/invocation/" + rid + "/response", json.dumps(out).encode())
    else:
        post("/invocation/" + rid + "/response", event)
"#;

    /// Writes the fake runtime as an executable `bootstrap` into `dir`.
    pub(in crate::local) fn write_fake_bootstrap(dir: &Path) -> PathBuf {
        let python = ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .expect("the tests need a system python3");
        let bootstrap = dir.join("bootstrap");
        std::fs::write(&bootstrap, format!("#!{python} -u\n{FAKE_RUNTIME}")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
        bootstrap
    }

    struct Fixture {
        dir: PathBuf,
        cfg: LambdaConfig,
    }

    impl Fixture {
        fn new(tag: &str) -> Fixture {
            let dir = std::env::temp_dir().join(format!(
                "sls-load-local-lambda-{tag}-{}-{:x}",
                std::process::id(),
                rand::random::<u64>()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let bootstrap = write_fake_bootstrap(&dir);
            let cfg = LambdaConfig {
                region: "eu-west-1".into(),
                function_name: "sls-load-worker".into(),
                bootstrap,
                memory_mb: 512,
                timeout: Duration::from_secs(30),
                max_processes: 4,
                idle_timeout: Duration::from_secs(300),
                log_dir: dir.join("logs"),
                env: vec![("EXTRA_VAR".into(), "extra-value".into())],
            };
            Fixture { dir, cfg }
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    pub(in crate::local) fn client(endpoint: &str) -> aws_sdk_lambda::Client {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let conf = aws_sdk_lambda::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("ak", "sk", None, None, "local"))
            .http_client(http)
            .build();
        aws_sdk_lambda::Client::from_conf(conf)
    }

    pub(in crate::local) async fn invoke(
        c: &aws_sdk_lambda::Client,
        function: &str,
        payload: &str,
    ) -> aws_sdk_lambda::operation::invoke::InvokeOutput {
        c.invoke()
            .function_name(function)
            .payload(Blob::new(payload.as_bytes().to_vec()))
            .send()
            .await
            .unwrap()
    }

    pub(in crate::local) fn payload_json(
        out: &aws_sdk_lambda::operation::invoke::InvokeOutput,
    ) -> serde_json::Value {
        serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap()
    }

    pub(in crate::local) fn alive(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
    }

    async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn sync_event_dry_run_and_env() {
        let fx = Fixture::new("basic");
        let lambda = LocalLambda::start(fx.cfg.clone()).await.unwrap();
        let c = client(lambda.endpoint());
        tokio::time::timeout(TEST_TIMEOUT, async {
            let out = invoke(&c, "sls-load-worker", r#"{"hello":"world"}"#).await;
            assert_eq!(out.status_code(), 200);
            assert_eq!(out.executed_version(), Some("$LATEST"));
            assert_eq!(out.function_error(), None);
            assert_eq!(payload_json(&out), serde_json::json!({"hello": "world"}));

            let out = c
                .invoke()
                .function_name("sls-load-worker")
                .invocation_type(SdkInvocationType::Event)
                .payload(Blob::new(&b"{\"event\":1}"[..]))
                .send()
                .await
                .unwrap();
            assert_eq!(out.status_code(), 202);
            assert!(out.payload().is_none_or(|p| p.as_ref().is_empty()));

            let out = c
                .invoke()
                .function_name("sls-load-worker")
                .invocation_type(SdkInvocationType::DryRun)
                .send()
                .await
                .unwrap();
            assert_eq!(out.status_code(), 204);

            // Environment and Runtime API headers, called through a full ARN with qualifier.
            let arn = "arn:aws:lambda:eu-west-1:000000000000:function:sls-load-worker:$LATEST";
            let out = invoke(&c, arn, r#"{"env":true}"#).await;
            let v = payload_json(&out);
            let env = &v["env"];
            assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "sls-load-worker");
            assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "512");
            assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
            assert_eq!(env["AWS_REGION"], "eu-west-1");
            assert_eq!(env["AWS_DEFAULT_REGION"], "eu-west-1");
            assert_eq!(
                env["AWS_LAMBDA_LOG_GROUP_NAME"],
                "/aws/lambda/sls-load-worker"
            );
            assert_eq!(env["AWS_EXECUTION_ENV"], "AWS_Lambda_provided.al2023");
            assert_eq!(env["_HANDLER"], "bootstrap");
            assert_eq!(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
            assert_eq!(env["LAMBDA_TASK_ROOT"], fx.dir.to_str().unwrap());
            assert_eq!(env["EXTRA_VAR"], "extra-value");
            assert!(env.get("HOME").is_none(), "parent environment leaked");
            let api = env["AWS_LAMBDA_RUNTIME_API"].as_str().unwrap();
            assert!(api.starts_with("127.0.0.1:") && !api.contains('/'), "{api}");
            let stream = env["AWS_LAMBDA_LOG_STREAM_NAME"].as_str().unwrap();
            let log =
                std::fs::read_to_string(fx.cfg.log_dir.join(format!("{stream}.log"))).unwrap();
            assert!(log.contains("fake runtime started"), "{log}");

            let h = &v["headers"];
            assert_eq!(
                h["lambda-runtime-invoked-function-arn"],
                "arn:aws:lambda:eu-west-1:000000000000:function:sls-load-worker"
            );
            assert_eq!(
                h["lambda-runtime-aws-request-id"].as_str().unwrap().len(),
                36
            );
            assert!(
                h["lambda-runtime-trace-id"]
                    .as_str()
                    .unwrap()
                    .starts_with("Root=1-")
            );
            assert_eq!(h["content-type"], "application/json");
            let deadline: u64 = h["lambda-runtime-deadline-ms"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64;
            assert!(
                deadline > now && deadline <= now + 30_000,
                "{deadline} vs {now}"
            );

            wait_until("the event invocation", || lambda.stats().invocations == 3).await;
        })
        .await
        .expect("test timed out");
        let stats = lambda.stats();
        assert_eq!(stats.errors, 0);
        assert_eq!(stats.processes_spawned, stats.running as u64);
        lambda.shutdown().await;
    }

    #[tokio::test]
    async fn concurrent_invokes_scale_out_then_reuse_warm_processes() {
        let fx = Fixture::new("scale");
        let lambda = LocalLambda::start(fx.cfg.clone()).await.unwrap();
        let c = client(lambda.endpoint());
        tokio::time::timeout(TEST_TIMEOUT, async {
            let (a, b) = tokio::join!(
                invoke(&c, "sls-load-worker", r#"{"sleep":1.0,"n":1}"#),
                invoke(&c, "sls-load-worker", r#"{"sleep":1.0,"n":2}"#),
            );
            assert_eq!(payload_json(&a)["n"], 1);
            assert_eq!(payload_json(&b)["n"], 2);
            assert_eq!(lambda.stats().processes_spawned, 2);

            let c3 = invoke(&c, "sls-load-worker", r#"{"n":3}"#).await;
            assert_eq!(payload_json(&c3)["n"], 3);
            let stats = lambda.stats();
            assert_eq!(stats.processes_spawned, 2, "a warm process must be reused");
            assert_eq!(stats.invocations, 3);
            assert_eq!(stats.running, 2);
        })
        .await
        .expect("test timed out");

        let pids = lambda.process_ids();
        assert_eq!(pids.len(), 2);
        assert!(pids.iter().all(|&pid| alive(pid)));
        lambda.shutdown().await;
        for pid in pids {
            assert!(!alive(pid), "process {pid} survived shutdown");
        }
    }

    #[tokio::test]
    async fn cap_queues_excess_invocations() {
        let fx = Fixture::new("cap");
        let cfg = LambdaConfig {
            max_processes: 1,
            ..fx.cfg.clone()
        };
        let lambda = LocalLambda::start(cfg).await.unwrap();
        let c = client(lambda.endpoint());
        tokio::time::timeout(TEST_TIMEOUT, async {
            let (a, b, d) = tokio::join!(
                invoke(&c, "sls-load-worker", r#"{"sleep":0.3,"n":1}"#),
                invoke(&c, "sls-load-worker", r#"{"sleep":0.3,"n":2}"#),
                invoke(&c, "sls-load-worker", r#"{"sleep":0.3,"n":3}"#),
            );
            for (out, n) in [(a, 1), (b, 2), (d, 3)] {
                assert_eq!(out.status_code(), 200);
                assert_eq!(payload_json(&out)["n"], n);
            }
        })
        .await
        .expect("test timed out");
        assert_eq!(lambda.stats().processes_spawned, 1);
        lambda.shutdown().await;
    }

    #[tokio::test]
    async fn function_errors_crashes_timeouts_and_kills() {
        let fx = Fixture::new("faults");
        let cfg = LambdaConfig {
            timeout: Duration::from_secs(2),
            ..fx.cfg.clone()
        };
        let lambda = LocalLambda::start(cfg).await.unwrap();
        let c = client(lambda.endpoint());
        tokio::time::timeout(TEST_TIMEOUT, async {
            // Reported error.
            let out = invoke(&c, "sls-load-worker", r#"{"fail":true}"#).await;
            assert_eq!(out.status_code(), 200);
            assert_eq!(out.function_error(), Some("Unhandled"));
            assert_eq!(payload_json(&out)["errorType"], "TestError");

            // The process exits while holding the invocation.
            let pids_before = lambda.process_ids();
            let out = invoke(&c, "sls-load-worker", r#"{"crash":true}"#).await;
            assert_eq!(out.function_error(), Some("Unhandled"));
            let v = payload_json(&out);
            assert_eq!(v["errorType"], "Runtime.ExitError");
            assert!(
                v["errorMessage"]
                    .as_str()
                    .unwrap()
                    .contains("exit status: 3"),
                "{v}"
            );
            for pid in pids_before {
                wait_until("the crashed process to be reaped", || !alive(pid)).await;
            }

            // Timeout: the process is killed and the invocation fails.
            let out = invoke(&c, "sls-load-worker", r#"{"hang":true}"#).await;
            assert_eq!(out.function_error(), Some("Unhandled"));
            let v = payload_json(&out);
            assert_eq!(v["errorType"], "Sandbox.Timedout");
            assert!(
                v["errorMessage"]
                    .as_str()
                    .unwrap()
                    .contains("Task timed out after 2.00 seconds"),
                "{v}"
            );
            wait_until("the timed-out process to be reaped", || {
                lambda.stats().running == 0
            })
            .await;

            // Fault injection on a busy process.
            let c2 = c.clone();
            let hung =
                tokio::spawn(
                    async move { invoke(&c2, "sls-load-worker", r#"{"sleep":20}"#).await },
                );
            let mut killed = None;
            wait_until("a busy process", || {
                killed = lambda.kill_one_busy();
                killed.is_some()
            })
            .await;
            let pid = killed.unwrap();
            let out = hung.await.unwrap();
            assert_eq!(out.function_error(), Some("Unhandled"));
            assert_eq!(payload_json(&out)["errorType"], "Runtime.ExitError");
            wait_until("the killed process to be reaped", || !alive(pid)).await;
            assert_eq!(lambda.kill_one_busy(), None);

            // The function still works afterwards.
            let out = invoke(&c, "sls-load-worker", r#"{"ok":1}"#).await;
            assert_eq!(payload_json(&out), serde_json::json!({"ok": 1}));
        })
        .await
        .expect("test timed out");
        let stats = lambda.stats();
        assert_eq!(stats.errors, 4);
        assert_eq!(stats.invocations, 5);
        lambda.shutdown().await;
    }

    #[tokio::test]
    async fn unknown_function_limits_and_account_settings() {
        let fx = Fixture::new("api");
        let lambda = LocalLambda::start(fx.cfg.clone()).await.unwrap();
        let c = client(lambda.endpoint());
        tokio::time::timeout(TEST_TIMEOUT, async {
            let err = c
                .invoke()
                .function_name("nope")
                .payload(Blob::new(&b"{}"[..]))
                .send()
                .await
                .unwrap_err();
            let err = err.into_service_error();
            assert!(err.is_resource_not_found_exception(), "{err:?}");

            let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_EVENT_PAYLOAD));
            let err = c
                .invoke()
                .function_name("sls-load-worker")
                .invocation_type(SdkInvocationType::Event)
                .payload(Blob::new(big.into_bytes()))
                .send()
                .await
                .unwrap_err();
            let err = err.into_service_error();
            assert_eq!(
                err.code(),
                Some("RequestEntityTooLargeException"),
                "{err:?}"
            );
            assert!(
                err.message().unwrap().contains("limit 262144 bytes"),
                "{err:?}"
            );

            let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_SYNC_PAYLOAD));
            let err = c
                .invoke()
                .function_name("sls-load-worker")
                .payload(Blob::new(huge.into_bytes()))
                .send()
                .await
                .unwrap_err();
            let err = err.into_service_error();
            assert_eq!(
                err.code(),
                Some("RequestEntityTooLargeException"),
                "{err:?}"
            );
            assert!(
                err.message().unwrap().contains("RequestResponse"),
                "{err:?}"
            );

            // Invalid JSON is rejected like Lambda does.
            let err = c
                .invoke()
                .function_name("sls-load-worker")
                .payload(Blob::new(&b"not json"[..]))
                .send()
                .await
                .unwrap_err();
            assert!(
                err.into_service_error()
                    .is_invalid_request_content_exception()
            );

            let settings = c.get_account_settings().send().await.unwrap();
            assert_eq!(settings.account_limit().unwrap().concurrent_executions(), 4);
            assert_eq!(settings.account_usage().unwrap().function_count(), 1);
        })
        .await
        .expect("test timed out");
        assert_eq!(lambda.stats().processes_spawned, 0);
        lambda.shutdown().await;
    }

    #[tokio::test]
    async fn idle_processes_are_reaped() {
        let fx = Fixture::new("idle");
        let cfg = LambdaConfig {
            idle_timeout: Duration::from_millis(300),
            ..fx.cfg.clone()
        };
        let lambda = LocalLambda::start(cfg).await.unwrap();
        let c = client(lambda.endpoint());
        tokio::time::timeout(TEST_TIMEOUT, async {
            invoke(&c, "sls-load-worker", "{}").await;
            let pids = lambda.process_ids();
            assert_eq!(pids.len(), 1);
            wait_until("the idle process to be reaped", || {
                lambda.stats().running == 0 && !alive(pids[0])
            })
            .await;
            // A new invocation cold-starts a fresh process.
            let out = invoke(&c, "sls-load-worker", r#"{"again":true}"#).await;
            assert_eq!(payload_json(&out), serde_json::json!({"again": true}));
            assert_eq!(lambda.stats().processes_spawned, 2);
        })
        .await
        .expect("test timed out");
        lambda.shutdown().await;
    }

    #[tokio::test]
    async fn init_errors_fail_the_invocation() {
        let fx = Fixture::new("init");
        let mut cfg = fx.cfg.clone();
        cfg.env.push(("FAKE_INIT_ERROR".into(), "1".into()));
        let lambda = LocalLambda::start(cfg).await.unwrap();
        let c = client(lambda.endpoint());
        tokio::time::timeout(TEST_TIMEOUT, async {
            let out = invoke(&c, "sls-load-worker", "{}").await;
            assert_eq!(out.function_error(), Some("Unhandled"));
            assert_eq!(payload_json(&out)["errorType"], "FakeInit");
            wait_until("the failed process to exit", || lambda.stats().running == 0).await;
        })
        .await
        .expect("test timed out");
        let stats = lambda.stats();
        assert_eq!((stats.processes_spawned, stats.errors), (1, 1));
        lambda.shutdown().await;
    }

    #[tokio::test]
    async fn missing_bootstrap_is_a_config_error() {
        let fx = Fixture::new("missing");
        let cfg = LambdaConfig {
            bootstrap: fx.dir.join("does-not-exist"),
            ..fx.cfg.clone()
        };
        assert!(matches!(
            LocalLambda::start(cfg).await,
            Err(LocalError::Config(_))
        ));
    }

    #[test]
    fn names_and_arns_match() {
        let f = "sls-load-worker";
        assert!(function_matches("sls-load-worker", f));
        assert!(function_matches("sls-load-worker:$LATEST", f));
        assert!(function_matches(
            "arn:aws:lambda:us-east-1:000000000000:function:sls-load-worker",
            f
        ));
        assert!(function_matches(
            "arn:aws:lambda:us-east-1:1:function:sls-load-worker:live",
            f
        ));
        assert!(function_matches("000000000000:function:sls-load-worker", f));
        assert!(!function_matches("other", f));
        assert!(!function_matches(
            "arn:aws:lambda:us-east-1:1:function:sls-load",
            f
        ));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("arn%3Aaws%3alambda"), "arn:aws:lambda");
        assert_eq!(percent_decode("%24LATEST"), "$LATEST");
        assert_eq!(percent_decode("bad%zz%4"), "bad%zz%4");
    }

    #[test]
    fn ids_and_dates() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert!(matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_ne!(uuid_v4(), id);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert!(trace_id().starts_with("Root=1-"));
    }

    #[test]
    fn config_validation() {
        let fx = Fixture::new("validate");
        assert!(validate(&fx.cfg).is_ok());
        for bad in [
            LambdaConfig {
                function_name: "a/b".into(),
                ..fx.cfg.clone()
            },
            LambdaConfig {
                region: "".into(),
                ..fx.cfg.clone()
            },
            LambdaConfig {
                max_processes: 0,
                ..fx.cfg.clone()
            },
            LambdaConfig {
                timeout: Duration::ZERO,
                ..fx.cfg.clone()
            },
            LambdaConfig {
                env: vec![("A=B".into(), "x".into())],
                ..fx.cfg.clone()
            },
        ] {
            assert!(validate(&bad).is_err(), "{bad:?}");
        }
    }
}
