//! The state of a local Lambda service, shared by its servers, process
//! watchers and timers: [`Shared`] (the configuration and the lock) and
//! [`Inner`] (the queue, the processes, the invocations in flight, counters),
//! with the small state changes every part makes (retiring a process,
//! delivering an outcome). A leaf of the service: it decides nothing (the pool
//! does) and speaks no HTTP.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::{AbortHandle, JoinSet};
use tracing::debug;

use super::LambdaConfig;
use super::http::error_json;
use crate::server::HttpServer;
use crate::sigv4::Verifier;

/// State shared by the servers, the watchers and the timers.
pub(super) struct Shared {
    pub(super) cfg: LambdaConfig,
    /// Checks the SigV4 signature of every Invoke API call.
    pub(super) verifier: Verifier,
    pub(super) arn: String,
    pub(super) task_root: PathBuf,
    /// Runtime used for spawning, so that sync entry points work from any thread.
    pub(super) rt: Handle,
    /// Serves the Runtime API of a started process (the service's router;
    /// set by `LocalLambda::start`).
    pub(super) serve_runtime: fn(&Arc<Shared>, u64, TcpListener) -> HttpServer,
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

pub(super) fn deliver(reply: Option<oneshot::Sender<Outcome>>, outcome: Outcome) {
    if let Some(tx) = reply {
        // The caller may have hung up; the outcome is then simply dropped, as Lambda does.
        let _ = tx.send(outcome);
    }
}
