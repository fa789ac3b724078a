//! The process pool behind a [`LocalLambda`](super::LocalLambda): the state
//! shared by the servers, watchers and timers ([`Shared`], [`Inner`]), queueing
//! invocations, handing them to processes waiting in `next` ([`pump`]),
//! starting processes on demand up to the cap, a few at a time and off the pool
//! lock ([`scale`], [`launch`]), per-invocation timeouts, crash and exit
//! handling, idle reaping and shutdown.
//! It does not start or watch the OS processes themselves (see
//! [`super::process`]) nor speak HTTP (see [`super::invoke_api`] and
//! [`super::runtime_api`]).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::{AbortHandle, JoinSet};
use tracing::{debug, error, info, warn};

use super::LambdaConfig;
use super::faults;
use super::http::error_json;
use super::ids::log_stream_name;
use super::process::{register, start_process};
use crate::sigv4::Verifier;

/// How long a freshly spawned process may take to ask for its first invocation.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// State shared by the servers, the watchers and the timers.
pub(super) struct Shared {
    pub(super) cfg: LambdaConfig,
    /// Checks the SigV4 signature of every Invoke API call.
    pub(super) verifier: Verifier,
    pub(super) arn: String,
    pub(super) task_root: PathBuf,
    /// Runtime used for spawning, so that sync entry points work from any thread.
    pub(super) rt: Handle,
    pub(super) inner: Mutex<Inner>,
}

#[derive(Default)]
pub(super) struct Inner {
    pub(super) queue: VecDeque<Pending>,
    pub(super) procs: HashMap<u64, Proc>,
    pub(super) inflight: HashMap<String, InFlight>,
    pub(super) watchers: JoinSet<()>,
    pub(super) next_seq: u64,
    /// Processes spawned or being started and not yet reaped (including ones
    /// being killed).
    pub(super) live: usize,
    /// Processes being started right now (see [`MAX_LAUNCHING`]).
    pub(super) launching: usize,
    pub(super) spawned: u64,
    pub(super) invocations: u64,
    pub(super) errors: u64,
    /// Invoke calls answered 429 by the throttle fault switch.
    pub(super) throttled: u64,
    /// Invocations handed to a process so far (for the kill/freeze switch).
    pub(super) assigned: u64,
    pub(super) shutting_down: bool,
}

/// An invocation waiting for a process.
pub(super) struct Pending {
    pub(super) id: String,
    pub(super) payload: Bytes,
    pub(super) trace_id: String,
    pub(super) reply: Option<oneshot::Sender<Outcome>>,
}

/// An invocation handed to a process, as sent on `next`.
pub(super) struct Assignment {
    pub(super) id: String,
    pub(super) payload: Bytes,
    pub(super) trace_id: String,
    pub(super) deadline_ms: u64,
}

/// An invocation a process is working on.
pub(super) struct InFlight {
    pub(super) proc: u64,
    pub(super) reply: Option<oneshot::Sender<Outcome>>,
    pub(super) timer: AbortHandle,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.timer.abort();
    }
}

/// A function process as the pool sees it. Dropping it kills the process.
pub(super) struct Proc {
    pub(super) pid: Option<u32>,
    pub(super) stream: String,
    pub(super) state: ProcState,
    /// When `state` last changed.
    pub(super) since: Instant,
    /// Dropping this sender tells the watcher to kill the process (`None` while
    /// the process is being started).
    pub(super) _kill: Option<oneshot::Sender<()>>,
}

pub(super) enum ProcState {
    /// Being started, or started and not yet asking for an invocation.
    Starting,
    /// Between invocations; holds the pending `next` call if there is one.
    Idle(Option<oneshot::Sender<Assignment>>),
    /// Running the invocation with this id.
    Busy(String),
}

/// How an invocation ended, as delivered to a synchronous caller.
pub(super) enum Outcome {
    Success(Bytes),
    /// Function error; the body is the error JSON.
    Failure(Bytes),
    /// The service gave up on it (shutdown).
    Unavailable(&'static str),
}

/// A function error to report for whatever invocation a dying process affects.
pub(super) enum Fault {
    Typed {
        error_type: &'static str,
        reason: String,
    },
    Body(Bytes),
}

impl Fault {
    pub(super) fn typed(error_type: &'static str, reason: String) -> Fault {
        Fault::Typed { error_type, reason }
    }

    pub(super) fn body(&self, request_id: &str) -> Bytes {
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
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the service as stopping, fails every pending invocation, drops
    /// (and so kills) every process and hands back their watchers.
    pub(super) fn begin_shutdown(&self) -> JoinSet<()> {
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
    pub(super) fn on_exit(self: &Arc<Self>, seq: u64, status: std::io::Result<ExitStatus>) {
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
    pub(super) fn complete(&mut self, reply: Option<oneshot::Sender<Outcome>>, outcome: Outcome) {
        if matches!(outcome, Outcome::Failure(_)) {
            self.errors += 1;
        }
        deliver(reply, outcome);
    }

    /// Forgets process `seq` (which kills it) and fails the invocation it was
    /// running, or, if it died during init, the oldest queued invocation.
    pub(super) fn retire(&mut self, seq: u64, fault: &Fault) {
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
pub(super) fn pump(shared: &Arc<Shared>, inner: &mut Inner) {
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
pub(super) fn schedule_pump(shared: &Arc<Shared>) {
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
pub(super) fn assign(
    shared: &Arc<Shared>,
    inner: &mut Inner,
    seq: u64,
    pending: Pending,
) -> Assignment {
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
    faults::on_assign(shared, inner, &pending.id);
    Assignment {
        id: pending.id,
        payload: pending.payload,
        trace_id: pending.trace_id,
        deadline_ms,
    }
}

pub(super) async fn reap_loop(shared: Weak<Shared>) {
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
