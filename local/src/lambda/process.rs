//! Starting and watching one `bootstrap` process: its own Runtime API listener,
//! its log file, its Lambda environment, and a watcher task that kills it on
//! request and reports its exit to the pool. On Linux every process gets a
//! parent-death signal (SIGTERM), so no worker outlives the orchestrator (not
//! even one killed with SIGKILL) and keeps sending load: `bootstrap` stops its
//! load at once, tries one last flush and its `stopped` manifest, and exits
//! within its bounded grace (`TERMINATE_GRACE`, 5 s). Each process has its own
//! process group, out of the terminal's reach (a Ctrl-C is the orchestrator's
//! to handle).
//! It does not decide when a process starts or what happens to its invocations
//! when it dies (that is [`super::pool`]) and does not route its Runtime API
//! (the service's router, through [`Shared::serve_runtime`]).

use std::fs::OpenOptions;
use std::process::Stdio;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::process::{Child, Command};
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tracing::{debug, info};

use super::ids::log_stream_name;
use super::state::{Inner, Shared};
use crate::LocalError;
use crate::server::HttpServer;

/// A `bootstrap` process that has been started, with its Runtime API listener.
pub(super) struct Started {
    child: Child,
    listener: tokio::net::TcpListener,
}

/// Spawns `bootstrap` process `seq` with its own Runtime API listener. Blocking
/// (fork/exec, file and socket calls); runs without the pool lock.
pub(super) fn start_process(shared: &Shared, seq: u64) -> Result<Started, LocalError> {
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
        .kill_on_drop(true)
        // Its own process group, as a Lambda worker is nobody's terminal job: a
        // Ctrl-C at the terminal reaches the orchestrator alone, which stops the
        // workers through the kill switch so that they flush what they sent.
        .process_group(0);
    die_with_parent(&mut cmd);
    let child = spawn_from_lasting_thread(cmd, shared.rt.clone())
        .map_err(|e| LocalError::io(format!("spawning {}", cfg.bootstrap.display()), e))?;
    Ok(Started { child, listener })
}

/// Makes the child get SIGTERM when the thread that spawned it ends, which
/// [`spawn_from_lasting_thread`] makes the end of this process.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id();
    // SAFETY: runs in the forked child before exec, where only async-signal-safe
    // calls are allowed: prctl and getppid are, and nothing here allocates.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl: then nothing would signal us.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Elsewhere there is no parent-death signal: workers end at their deadline.
#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

/// Spawns `cmd` from one thread that lives as long as the process. Linux sends
/// the parent-death signal when the *thread* that forked the child ends, and the
/// blocking-pool threads [`start_process`] runs on end when idle.
fn spawn_from_lasting_thread(cmd: Command, rt: Handle) -> std::io::Result<Child> {
    type Request = (Command, Handle, std_mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<std_mpsc::Sender<Request>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = std_mpsc::channel::<Request>();
        let started = std::thread::Builder::new()
            .name("sls-load-spawner".into())
            .spawn(move || {
                for (mut cmd, rt, reply) in rx {
                    let _rt = rt.enter();
                    let _ = reply.send(cmd.spawn());
                }
            });
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot start the process spawner thread");
        }
        Mutex::new(tx)
    });
    let (reply, answer) = std_mpsc::channel();
    let sent = spawner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send((cmd, rt, reply));
    let gone = || std::io::Error::other("the process spawner thread is gone");
    sent.map_err(|_| gone())?;
    answer.recv().map_err(|_| gone())?
}

/// Serves the Runtime API of started process `seq` and hands the child to a
/// watcher. If `seq` was forgotten while it started (shutdown, init timeout), the
/// child is killed instead.
pub(super) fn register(shared: &Arc<Shared>, inner: &mut Inner, seq: u64, started: Started) {
    let Started { child, listener } = started;
    let pid = child.id();
    let Some(proc) = inner.procs.get_mut(&seq) else {
        // Dropping the child kills it (kill_on_drop); the runtime reaps it.
        drop(child);
        inner.live = inner.live.saturating_sub(1);
        debug!(seq, ?pid, "function process no longer wanted, killed");
        return;
    };
    let server = (shared.serve_runtime)(shared, seq, listener);
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
/// [`Proc`](super::pool::Proc) is dropped), then reports the exit.
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
