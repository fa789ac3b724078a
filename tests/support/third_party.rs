//! Third-party stand-ins for the conformance tests: AWS's own Lambda Runtime
//! Interface Emulator (from the `aws-sam-cli` wheel on PyPI) and `moto_server`
//! (PyPI `moto[server]`) as S3. Installed once per build directory, pinned, into
//! `target/debug/third-party`; every process listens on 127.0.0.1 and is killed on
//! drop.
//!
//! These are not ours, so they check what our own local stand-ins cannot: that
//! `bootstrap` speaks the Runtime API as AWS's emulator does, and that the worker's
//! S3 calls (including its conditional `If-None-Match` claim) work against an S3
//! implementation we did not write.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Pinned versions (as tested).
const MOTO: &str = "moto[server]==5.2.5";
const SAM_CLI: &str = "aws-sam-cli==1.170.0";
/// The emulator's path inside the wheel.
const RIE_IN_WHEEL: &str = "samcli/local/rapid/aws-lambda-rie-x86_64";
/// Bound on each install step (pip has its own network timeouts too).
const INSTALL_LIMIT: &str = "600";

static INSTALL: Mutex<()> = Mutex::new(());

/// Where the tools live: `moto_server` and python in `venv/bin`, the emulator as
/// `aws-lambda-rie`.
pub struct Tools {
    root: PathBuf,
}

impl Tools {
    /// Installs the tools unless they are there already (needs PyPI).
    pub fn install() -> Tools {
        let _once = INSTALL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let root = crate::bin_dir().join("third-party");
        let tools = Tools { root };
        std::fs::create_dir_all(&tools.root).expect("create the tools directory");
        if !tools.python().is_file() {
            run(
                Command::new("timeout")
                    .args([INSTALL_LIMIT, "python3", "-m", "venv"])
                    .arg(tools.root.join("venv")),
                "python3 -m venv",
            );
        }
        if !tools.root.join("venv/bin/moto_server").is_file() {
            run(
                Command::new("timeout")
                    .arg(INSTALL_LIMIT)
                    .arg(tools.python())
                    .args(["-m", "pip", "install", "-q", MOTO]),
                "pip install moto[server]",
            );
        }
        if !tools.rie_path().is_file() {
            let wheels = tools.root.join("wheels");
            run(
                Command::new("timeout")
                    .arg(INSTALL_LIMIT)
                    .arg(tools.python())
                    .args(["-m", "pip", "download", "-q", "--no-deps", SAM_CLI, "-d"])
                    .arg(&wheels),
                "pip download aws-sam-cli",
            );
            let extract = format!(
                "import glob,os,zipfile\n\
                 w=glob.glob(os.path.join({wheels:?},'aws_sam_cli-*.whl'))[0]\n\
                 data=zipfile.ZipFile(w).read({RIE_IN_WHEEL:?})\n\
                 open({rie:?}+'.part','wb').write(data)\n\
                 os.chmod({rie:?}+'.part',0o755)\n\
                 os.replace({rie:?}+'.part',{rie:?})\n",
                wheels = wheels.display().to_string(),
                rie = tools.rie_path().display().to_string(),
            );
            run(
                Command::new(tools.python()).args(["-c", &extract]),
                "extracting the Runtime Interface Emulator",
            );
        }
        tools
    }

    /// The venv's python (has boto3, through moto).
    pub fn python(&self) -> PathBuf {
        self.root.join("venv/bin/python")
    }

    fn rie_path(&self) -> PathBuf {
        self.root.join("aws-lambda-rie")
    }

    /// Starts `moto_server` on a free loopback port.
    pub fn moto(&self) -> Service {
        let port = free_port();
        let child = Command::new(self.root.join("venv/bin/moto_server"))
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

    /// Runs a short python script with boto3 against `s3` and returns its stdout.
    pub fn boto3(&self, s3: &Service, script: &str) -> String {
        let prelude = format!(
            "import boto3\ns3=boto3.client('s3',endpoint_url='http://127.0.0.1:{}',\
             aws_access_key_id='test',aws_secret_access_key='test',region_name='us-east-1')\n",
            s3.port
        );
        let out = Command::new("timeout")
            .args(["60"])
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

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
