//! A Lambda-compatible service for one emulated region ([`LocalLambda`]).
//!
//! This module owns the public face of the local Lambda: its configuration
//! ([`LambdaConfig`]), counters ([`LambdaStats`]), and the [`LocalLambda`] handle
//! that starts the Lambda **Invoke API** server, reports on the process pool,
//! injects faults ([`LocalLambda::kill_one_busy`]) and shuts everything down.
//! The work is done by the submodules: `pool` (queueing, spawning
//! `bootstrap` processes on demand up to a cap, a few at a time, on the blocking
//! pool and outside the pool lock, so that a burst of Invoke calls is answered
//! while processes start; warm reuse, timeouts, crash handling, idle reaping),
//! `process` (starting and watching one `bootstrap` process),
//! `invoke_api` (the Invoke API as aws-sdk-lambda calls it, plus
//! `GetAccountSettings`, every call SigV4-verified against the stand-in's own
//! fresh key pair), `faults` (the throttle, kill and freeze switches), `runtime_api` (the Runtime API, 2018-06-01, spoken
//! by the function processes), `http` (the hyper service and body/response
//! helpers) and `ids` (request ids, trace ids, log stream names).
//! It does not own the function code (any binary speaking the Runtime API
//! works), S3, credentials or which regions exist; see the parent module for
//! that glue.
//!
//! Deliberate simplifications: every function process gets its *own* Runtime
//! API listener (`AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT`, a fresh port per
//! process, just as every real sandbox has its own runtime endpoint) so that
//! each request can be attributed to the process that made it; the public
//! endpoint serves only the Invoke API. The Runtime API is not authenticated
//! (as in Lambda): it listens on loopback, on a port only its process is told.
//! Qualifiers are accepted but always run `$LATEST`, failed `Event`
//! invocations are not retried, and `X-Amz-Log-Type: Tail` and client
//! contexts are ignored.

mod faults;
#[cfg(test)]
mod guard_tests;
mod http;
mod ids;
mod invoke_api;
mod pool;
mod process;
mod runtime_api;
mod service;
mod state;
#[cfg(test)]
pub(super) mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tracing::{info, warn};

pub use self::faults::LambdaFaults;
use self::invoke_api::function_arn;
use self::pool::{pump, reap_loop};
use self::service::{http_service, serve_runtime_api};
use self::state::{Fault, Inner, ProcState, Shared};
use crate::server::{HttpServer, bind_loopback};
use crate::sigv4::Verifier;
use crate::{LocalCredentials, LocalError};

/// Largest payload accepted for a synchronous invocation (and for a function's response).
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// Largest payload accepted for an `Event` (asynchronous) invocation.
pub const MAX_EVENT_PAYLOAD: usize = 256 * 1024;
/// The account id used in emulated ARNs.
pub const ACCOUNT_ID: &str = "000000000000";

/// How long open Invoke API connections get to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How long shutdown waits for killed processes to be reaped.
const CHILD_EXIT_WAIT: Duration = Duration::from_secs(10);

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
    /// The only key pair the Invoke API accepts (SigV4, service `lambda`, this region).
    pub credentials: LocalCredentials,
    /// Fault switches (none by default; see docs/TESTING.md).
    pub faults: LambdaFaults,
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
    /// Invoke calls answered 429 by the throttle fault switch.
    pub throttled: u64,
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
        if !cfg.faults.is_empty() {
            warn!(region = %cfg.region, faults = ?cfg.faults, "local Lambda: fault switches on");
        }
        let verifier = Verifier::new(cfg.credentials.clone(), &cfg.region, "lambda");
        let shared = Arc::new(Shared {
            cfg,
            verifier,
            arn,
            task_root,
            rt: Handle::current(),
            serve_runtime: serve_runtime_api,
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
            throttled: inner.throttled,
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
