//! Test support for the end-to-end tests: locate the workspace's built binaries,
//! start the sample target on a loopback port, run `sls-load` with a time bound,
//! and write scenario files.
//!
//! Everything here talks to 127.0.0.1 only, and every process it starts is bounded
//! in time and killed when its handle drops.

pub mod aws;
pub mod schema;
pub mod third_party;

use std::cell::Cell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{PoisonError, RwLock, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// The directory holding the workspace's binaries: `SLS_LOAD_BIN_DIR` when set
/// (a copy of one build, for running tests beside other builds), else
/// `target/debug`, found from the test executable's own path
/// (`target/debug/deps/e2e-…`).
pub fn bin_dir() -> PathBuf {
    let dir = match std::env::var_os("SLS_LOAD_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().expect("test executable path");
            let deps = exe.parent().expect("deps dir");
            deps.parent().expect("profile dir").to_path_buf()
        }
    };
    for bin in ["sls-load", "bootstrap", "sls-load-target"] {
        assert!(
            dir.join(bin).is_file(),
            "{} is missing: run `cargo build --workspace --bins` (make test does) before the tests",
            dir.join(bin).display()
        );
    }
    dir
}

/// A running `sls-load-target`, killed on drop.
pub struct Target {
    child: Child,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    addr: String,
}

impl Target {
    /// Starts the sample target on an ephemeral loopback port with extra `args`.
    pub fn start(args: &[&str]) -> Target {
        Target::start_on("127.0.0.1:0", args)
    }

    /// The target's counters (`GET /__stats`).
    pub fn stats(&self) -> serde_json::Value {
        let mut s = TcpStream::connect(&self.addr).expect("connect to target");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        write!(
            s,
            "GET /__stats HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .expect("send");
        let mut response = String::new();
        s.read_to_string(&mut response).expect("read");
        let body = response.split("\r\n\r\n").nth(1).expect("body");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("stats JSON: {e}: {body}"))
    }

    /// Requests the target counted.
    pub fn requests(&self) -> u64 {
        self.stats()["requests"].as_u64().expect("requests count")
    }
}

impl Target {
    /// [`Target::start`] listening on `listen` (a loopback `IP:PORT`, e.g.
    /// `127.0.0.2:8080` beside a target on `127.0.0.1:8080`).
    pub fn start_on(listen: &str, args: &[&str]) -> Target {
        let mut child = Command::new(bin_dir().join("sls-load-target"))
            .args(["--listen", listen, "--exit-after", "180s", "--quiet"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sls-load-target");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from target: {line:?}"))
            .to_owned();
        let addr = url.trim_start_matches("http://").to_owned();
        Target { child, url, addr }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a finished `sls-load` invocation left.
#[derive(Debug)]
pub struct Outcome {
    /// Exit status.
    pub status: ExitStatus,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
}

impl Outcome {
    /// The exit code (panics if killed by a signal).
    pub fn code(&self) -> i32 {
        self.status.code().expect("exited normally")
    }
}

/// Held (shared) by every `sls-load` run, and exclusively by [`alone`].
static LOAD: RwLock<()> = RwLock::new(());

thread_local! {
    static ALONE: Cell<bool> = const { Cell::new(false) };
}

/// While held, no other test's `sls-load` run is under way: for the few tests
/// whose assertions are about latency to within a millisecond, which two cores
/// shared with another run of hundreds of workers would blur. Other tests keep
/// running in parallel; their `sls-load` runs wait.
pub struct Alone {
    _exclusive: RwLockWriteGuard<'static, ()>,
}

/// Waits until no other `sls-load` run is under way and keeps it so until the
/// returned guard is dropped. Runs from this thread go ahead meanwhile.
pub fn alone() -> Alone {
    let exclusive = LOAD.write().unwrap_or_else(PoisonError::into_inner);
    ALONE.set(true);
    Alone {
        _exclusive: exclusive,
    }
}

impl Drop for Alone {
    fn drop(&mut self) {
        ALONE.set(false);
    }
}

/// Runs `sls-load` with `args`, killing it after `limit`.
pub fn sls_load(args: &[&str], limit: Duration) -> Outcome {
    sls_load_with_env(args, &[], limit)
}

/// [`sls_load`] with extra environment variables (e.g. the local fault switches).
pub fn sls_load_with_env(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Outcome {
    let _shared = (!ALONE.get()).then(|| LOAD.read().unwrap_or_else(PoisonError::into_inner));
    // No test asks this machine's instance metadata service (AWS mode's last
    // resort): a test that means to sets its own endpoint in `env`.
    let mut child = Command::new(bin_dir().join("sls-load"))
        .args(args)
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("SLS_LOAD_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sls-load");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "sls-load {args:?} did not finish within {limit:?}; stderr: {}",
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    schema::check_summary_export(args);
    Outcome {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Writes `text` as a scenario file named `name` in `dir`.
pub fn scenario_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scenario");
    path
}

/// Reads a summary JSON file.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// `sls-load run SCENARIO --local --quiet` with its state and summary export in
/// `dir` (plus `extra` flags); returns the outcome and the exported summary
/// (`None` when the run wrote none).
pub fn run_local(
    dir: &Path,
    scenario: &Path,
    extra: &[&str],
    limit: Duration,
) -> (Outcome, Option<serde_json::Value>) {
    let summary = dir.join("summary.json");
    let state = dir.join("state");
    let mut args = vec![
        "run",
        scenario.to_str().expect("utf-8 path"),
        "--local",
        "--quiet",
        "--local-dir",
        state.to_str().expect("utf-8 path"),
        "--summary-export",
        summary.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let outcome = sls_load(&args, limit);
    let summary = summary.is_file().then(|| read_json(&summary));
    (outcome, summary)
}

/// Runs `sls-load` with `args` on another thread; join the handle for its outcome.
pub fn sls_load_in_background(
    args: Vec<String>,
    limit: Duration,
) -> std::thread::JoinHandle<Outcome> {
    std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sls_load(&args, limit)
    })
}

/// A loopback base URL whose port refuses connections (bound, then released).
pub fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// The cargo target directory (`CARGO_TARGET_DIR` or `target/`), found from the
/// test executable's path (`TARGET/debug/deps/e2e-…`), for artefacts a test
/// keeps (screenshots).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors()
        .nth(3)
        .expect("target/debug/deps/e2e-… has a target dir")
        .to_path_buf()
}
