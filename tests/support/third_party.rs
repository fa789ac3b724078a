//! Third-party programs the tests start, found where `make test-deps` put them
//! (tests never install anything): AWS's own Lambda Runtime Interface Emulator
//! (from the `aws-sam-cli` wheel on PyPI), `moto_server` (PyPI `moto[server]`)
//! as S3, CloudFormation, IAM, STS and Lambda's control plane, the infra linters
//! (cfn-lint, checkov, python-hcl2), and Debian's chromium, prometheus, influxdb
//! and qemu-user-static. A missing one fails its test with one line naming the
//! make step. Every process listens on 127.0.0.1 and is killed on drop.
//!
//! These are not ours, so they check what our own local stand-ins cannot: that
//! `bootstrap` speaks the Runtime API as AWS's emulator does, that the worker's
//! and the CLI's AWS calls work against implementations we did not write.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What every "not installed" failure tells to run.
pub const MAKE_STEP: &str = "make test-deps";

/// The directory `make test-deps` installs into: `TEST_DEPS_DIR`, else
/// `TARGET/test-deps` (the Makefile's default).
pub fn deps_dir() -> PathBuf {
    match std::env::var_os("TEST_DEPS_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace().join(dir)
            }
        }
        _ => crate::target_dir().join("test-deps"),
    }
}

/// The workspace root (the tests crate's parent).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is inside the workspace")
        .to_path_buf()
}

/// `path` when it is an executable file, else the test fails with one line
/// naming `what` and the make step.
fn installed(path: PathBuf, what: &str) -> PathBuf {
    if is_executable(&path) {
        path
    } else {
        panic!(
            "{what} is not installed ({} is missing): run `{MAKE_STEP}`",
            path.display()
        )
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `command` on PATH (a Debian package `make test-deps` installs), or the test
/// fails with one line naming the package and the make step.
pub fn command(command: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(command))
        .find(|p| is_executable(p))
        .unwrap_or_else(|| {
            panic!("`{command}` (Debian package {package}) is not installed: run `{MAKE_STEP}`")
        })
}

/// A program from `make test-deps`' directory: `relative` to it.
pub fn tool(relative: &str, what: &str) -> PathBuf {
    installed(deps_dir().join(relative), what)
}

/// The installed stand-ins: `moto_server` and python (with boto3) in
/// `moto/bin`, the emulator as `aws-lambda-rie`.
pub struct Tools {
    root: PathBuf,
}

impl Tools {
    /// The tools `make test-deps` installed; a missing one fails the test in one line.
    pub fn installed() -> Tools {
        let root = deps_dir();
        installed(root.join("moto/bin/moto_server"), "moto_server");
        installed(
            root.join("aws-lambda-rie"),
            "AWS's Runtime Interface Emulator",
        );
        Tools { root }
    }

    /// The venv's python (has boto3, through moto).
    pub fn python(&self) -> PathBuf {
        self.root.join("moto/bin/python")
    }

    fn rie_path(&self) -> PathBuf {
        self.root.join("aws-lambda-rie")
    }

    /// Starts `moto_server` on a free loopback port.
    pub fn moto(&self) -> Service {
        let port = free_port();
        let child = Command::new(self.root.join("moto/bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        Service::up(child, port, "moto_server")
    }

    /// Starts the Runtime Interface Emulator running `bootstrap`, with `env` (and
    /// nothing else from this process's environment but `PATH`).
    pub fn rie(&self, bootstrap: &Path, env: &[(&str, String)]) -> Service {
        let (port, runtime_port) = (free_port(), free_port());
        let child = Command::new(self.rie_path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .arg("--runtime-interface-emulator-address")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--runtime-api-address")
            .arg(format!("127.0.0.1:{runtime_port}"))
            .arg(bootstrap)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aws-lambda-rie");
        Service::up(child, port, "aws-lambda-rie")
    }

    /// Starts `aws_router.py` on a free loopback port in front of `moto` and the
    /// Lambda stand-ins (`region`, `url`), with `date_offset` seconds added to
    /// every `Date` header (see the script).
    pub fn router(&self, moto: &str, lambdas: &[(String, String)], date_offset: i64) -> Service {
        let port = free_port();
        let script = workspace().join("tests/support/aws_router.py");
        let child = Command::new(self.python())
            .arg(script)
            .arg(port.to_string())
            .arg(moto)
            .args(lambdas.iter().map(|(r, u)| format!("{r}={u}")))
            .args(["--date-offset", &date_offset.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aws_router.py");
        Service::up(child, port, "aws_router.py")
    }

    /// Runs `script` with boto3 against moto on `port` (any credentials), with
    /// `c(service, region='us-east-1')` defined; returns its stdout.
    pub fn python_aws(&self, port: u16, script: &str) -> String {
        let prelude = format!(
            "import boto3\n\
             def c(service, region='us-east-1'):\n\
             \x20   return boto3.client(service, endpoint_url='http://127.0.0.1:{port}', \
             aws_access_key_id='test', aws_secret_access_key='test', region_name=region)\n"
        );
        let out = Command::new("timeout")
            .args(["120"])
            .arg(self.python())
            .args(["-c", &(prelude + script)])
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "boto3 script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a short python script with boto3 against `s3` (as the client `s3`)
    /// and returns its stdout.
    pub fn boto3(&self, s3: &Service, script: &str) -> String {
        self.python_aws(s3.port, &format!("s3 = c('s3')\n{script}"))
    }
}

/// A started third-party process on a loopback port, killed on drop.
pub struct Service {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Service {
    /// Waits (at most 30 s) until `port` accepts connections.
    fn up(mut child: Child, port: u16, what: &str) -> Service {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{what} exited before listening: {status}");
            }
            assert!(Instant::now() < deadline, "{what} did not listen in time");
            std::thread::sleep(Duration::from_millis(50));
        }
        Service { child, port }
    }

    /// POSTs `body` to `path` (HTTP/1.1, `Connection: close`) and returns the
    /// response body; bounded by `limit`.
    pub fn post(&self, path: &str, body: &str, limit: Duration) -> String {
        use std::io::{Read, Write};
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(limit)).ok();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .expect("send");
        let mut response = String::new();
        s.read_to_string(&mut response).expect("read the response");
        response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_else(|| panic!("no HTTP response: {response:?}"))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}
