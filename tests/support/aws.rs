//! An AWS account on loopback for the AWS-mode tests: `moto_server` (S3,
//! CloudFormation, IAM, STS, Lambda's control plane), the project's own Lambda
//! stand-in (`sls-load local-lambda`: Invoke and GetAccountSettings, running the
//! real `bootstrap`, whose S3 is moto) and `aws_router.py` in front of both, so
//! that `AWS_ENDPOINT_URL` names one endpoint as it names AWS. Everything listens
//! on 127.0.0.1 and is killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::third_party::{Service, Tools};

/// The keys every AWS-mode test signs with (moto takes any; the Lambda stand-in
/// checks these).
pub const ACCESS_KEY: &str = "AKIATESTTESTTESTTEST";
/// The secret of [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "testsecrettestsecrettestsecrettestsecret";

/// How the Lambda stand-in behind the router is set up.
#[derive(Debug, Clone)]
pub struct StandIn {
    /// The worker it runs (default: the workspace's `bootstrap`).
    pub bootstrap: Option<PathBuf>,
    /// Concurrent executions per region (what GetAccountSettings reports).
    pub concurrency: usize,
    /// The workers' S3 endpoint (default: moto).
    pub worker_s3: Option<String>,
    /// Seconds added to every answer's `Date` header.
    pub date_offset: i64,
}

impl Default for StandIn {
    fn default() -> StandIn {
        StandIn {
            bootstrap: None,
            concurrency: 64,
            worker_s3: None,
            date_offset: 0,
        }
    }
}

/// moto, the Lambda stand-in and the router.
pub struct World {
    /// The installed tools (python with boto3).
    pub tools: Tools,
    /// moto_server.
    pub moto: Service,
    /// The router: what `AWS_ENDPOINT_URL` names.
    pub router: Service,
    lambda: Child,
    /// A directory for this world's files (logs, zips, the test's cwd).
    pub dir: tempfile::TempDir,
}

impl World {
    /// Starts moto, a Lambda stand-in for `regions` and the router.
    pub fn start(regions: &[&str], stand_in: StandIn) -> World {
        let tools = Tools::installed();
        let moto = tools.moto();
        let dir = tempfile::tempdir().expect("tempdir");
        let moto_url = format!("http://127.0.0.1:{}", moto.port);
        let (lambda, urls) = start_stand_in(regions, &stand_in, &moto_url, dir.path());
        let router = tools.router(&moto_url, &urls, stand_in.date_offset);
        World {
            tools,
            moto,
            router,
            lambda,
            dir,
        }
    }

    /// The endpoint for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.router.port)
    }

    /// The environment of an `sls-load` run against this world with keys from
    /// the environment (tests that use profiles build their own).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("HOME", self.dir.path().display().to_string()),
            ("SLS_LOAD_CONFIG", self.project_file().display().to_string()),
        ]
    }

    /// Where `deploy` writes `sls-load.toml` in this world.
    pub fn project_file(&self) -> PathBuf {
        self.dir.path().join("sls-load.toml")
    }

    /// Runs `script` with boto3 against moto directly; `c(service, region)`
    /// gives a client. Returns its stdout.
    pub fn boto3(&self, script: &str) -> String {
        self.tools.python_aws(self.moto.port, script)
    }

    /// A zip holding a `bootstrap` (a shell script: moto stores code, never runs it).
    /// Made once per world: the same bytes every time.
    pub fn tiny_zip(&self) -> PathBuf {
        let path = self.dir.path().join("worker.zip");
        if path.is_file() {
            return path;
        }
        self.tools.python_aws(
            self.moto.port,
            &format!(
                "import zipfile\nz=zipfile.ZipFile({:?},'w')\nz.writestr('bootstrap','#!/bin/sh\\n')\nz.close()\n",
                path.display().to_string()
            ),
        );
        path
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.lambda.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.lambda.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.lambda.kill();
        let _ = self.lambda.wait();
    }
}

/// Starts `sls-load local-lambda`; its process and `region=URL` pairs.
fn start_stand_in(
    regions: &[&str],
    s: &StandIn,
    moto: &str,
    dir: &Path,
) -> (Child, Vec<(String, String)>) {
    let mut cmd = Command::new(crate::bin_dir().join("sls-load"));
    cmd.args(["local-lambda", "--regions", &regions.join(",")])
        .arg("--concurrency")
        .arg(s.concurrency.to_string())
        .arg("--local-dir")
        .arg(dir.join("stand-in"))
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env(
            "SLS_LOAD_WORKER_S3_ENDPOINT",
            s.worker_s3.clone().unwrap_or_else(|| moto.to_owned()),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(bootstrap) = &s.bootstrap {
        cmd.arg("--bootstrap").arg(bootstrap);
    }
    let mut child = cmd.spawn().expect("start sls-load local-lambda");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut urls = Vec::new();
    while urls.len() < regions.len() {
        let line = lines
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("sls-load local-lambda ended before listing its regions"));
        let mut words = line.split_whitespace();
        if let (Some("lambda"), Some(region), Some(url)) =
            (words.next(), words.next(), words.next())
        {
            urls.push((region.to_owned(), url.to_owned()));
        }
    }
    (child, urls)
}
