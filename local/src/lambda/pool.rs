//! The process pool behind a [`LocalLambda`](super::LocalLambda): the state
//! shared by the servers, watchers and timers ([`Shared`], [`Inner`]), queueing
//! invocations, handing them to processes waiting in `next` ([`pump`]),
//! starting processes on demand up to the cap, a few at a time and off the pool
//! lock ([`scale`], [`launch`]), per-invocation timeouts, crash and exit
//! handling, idle reaping and shutdown.
//! It does not start or watch the OS processes themselves (see
//! [`super::process`]) nor speak HTTP (see [`super::invoke_api`] and
//! [`super::runtime_api`]).

use std::process::ExitStatus;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::{debug, error, info, warn};

use super::faults::ProcessAction;
use super::ids::log_stream_name;
use super::process::{register, start_process};
use super::state::{Assignment, Fault, InFlight, Inner, Outcome, Pending, Proc, ProcState, Shared};

/// How long a freshly spawned process may take to ask for its first invocation.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

impl Shared {
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
    on_assign(shared, inner, &pending.id);
    Assignment {
        id: pending.id,
        payload: pending.payload,
        trace_id: pending.trace_id,
        deadline_ms,
    }
}

/// Called as invocation `id` is handed to a process: arms the kill or freeze
/// timer if it is one of the first `victims`.
fn on_assign(shared: &Arc<Shared>, inner: &mut Inner, id: &str) {
    inner.assigned += 1;
    let Some(fault) = shared.cfg.faults.process else {
        return;
    };
    if inner.assigned > fault.victims {
        return;
    }
    let task_shared = Arc::clone(shared);
    let id = id.to_owned();
    shared.rt.spawn(async move {
        tokio::time::sleep(fault.after).await;
        strike(&task_shared, &id, fault.action);
    });
}

/// Kills or freezes the process still running invocation `id`.
fn strike(shared: &Arc<Shared>, id: &str, action: ProcessAction) {
    let mut inner = shared.lock();
    let Some(seq) = inner.inflight.get(id).map(|f| f.proc) else {
        return;
    };
    let Some(pid) = inner.procs.get(&seq).and_then(|p| p.pid) else {
        return;
    };
    match action {
        ProcessAction::Kill => {
            warn!(
                pid,
                request_id = id,
                "fault injection: killing a busy function process"
            );
            inner.retire(
                seq,
                &Fault::typed(
                    "Runtime.ExitError",
                    "Runtime exited with error: signal: 9 (SIGKILL)".to_owned(),
                ),
            );
            pump(shared, &mut inner);
        }
        ProcessAction::Freeze => {
            drop(inner);
            warn!(
                pid,
                request_id = id,
                "fault injection: freezing (SIGSTOP) a busy function process"
            );
            // The shell's built-in `kill` sends the signal without needing libc here.
            let sent = std::process::Command::new("sh")
                .args(["-c", "kill -STOP \"$1\"", "sh", &pid.to_string()])
                .status();
            if !sent.as_ref().is_ok_and(|s| s.success()) {
                error!(pid, ?sent, "fault injection: SIGSTOP failed");
            }
        }
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
