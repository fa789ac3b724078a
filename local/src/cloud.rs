//! The embedded local cloud: an S3-compatible store plus one Lambda-compatible
//! service per emulated region, all on the loopback interface, so that a whole
//! sls-load run can happen on one machine without an AWS account.
//!
//! This module owns the glue ([`LocalCloud`], [`LocalCloudConfig`],
//! [`LocalCredentials`]), the module-wide error type ([`LocalError`]) and the
//! small HTTP accept loop shared by both servers. The store itself lives in
//! [`s3`] and the Lambda emulation (Invoke API, Runtime API, process pool) in
//! [`lambda`]. It does not decide *what* runs: planning, invoking and reporting
//! belong to the rest of the orchestrator, and the worker binary (`bootstrap`)
//! is built by the `function` crate.

pub mod delay;
pub mod faults;
pub mod lambda;
pub mod s3;
pub(crate) mod sigv4;

pub use faults::S3Faults;
pub use lambda::{LambdaConfig, LambdaFaults, LambdaStats, LocalLambda};
pub use s3::{LocalS3, ensure_bucket};

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::{Builder as ConnBuilder, HttpServerConnExec};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, info, warn};

/// How long idle processes of a [`LocalCloud`] Lambda stay warm before being reaped.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Errors raised while starting the local cloud.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A filesystem or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being attempted (includes the path or address involved).
        context: String,
        /// The underlying IO error.
        #[source]
        source: std::io::Error,
    },
    /// The S3 backend (s3s-fs) could not be initialised.
    #[error("local S3 store: {0}")]
    Store(String),
    /// The configuration is unusable.
    #[error("invalid local cloud configuration: {0}")]
    Config(String),
}

impl LocalError {
    /// Builds a [`LocalError::Io`] with a description of what was attempted.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        LocalError::Io {
            context: context.into(),
            source,
        }
    }
}

/// The key pair the local stand-ins accept: made fresh at each start
/// ([`LocalCredentials::generate`]), known only to the orchestrator process that
/// started them and the function processes it spawns (in their environment).
#[derive(Clone, PartialEq, Eq)]
pub struct LocalCredentials {
    /// Access key id (`AWS_ACCESS_KEY_ID`).
    pub access_key_id: String,
    /// Secret access key (`AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: String,
}

impl LocalCredentials {
    /// A random key pair from the thread's CSPRNG: an access key id shaped like
    /// AWS's (20 upper-case characters) and a 40-character secret.
    pub fn generate() -> Self {
        use rand::distr::{Alphanumeric, SampleString};
        let mut rng = rand::rng();
        let id = Alphanumeric
            .sample_string(&mut rng, 16)
            .to_ascii_uppercase();
        LocalCredentials {
            access_key_id: format!("LSLL{id}"),
            secret_access_key: Alphanumeric.sample_string(&mut rng, 40),
        }
    }
}

impl fmt::Debug for LocalCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// Configuration of a [`LocalCloud`].
#[derive(Debug, Clone)]
pub struct LocalCloudConfig {
    /// State directory, e.g. `./.sls-load`; objects go to `{dir}/store`, logs to `{dir}/logs`.
    pub dir: PathBuf,
    /// Bucket created (as a directory) in the store before anything runs.
    pub bucket: String,
    /// Emulated regions; one [`LocalLambda`] is started per distinct region.
    pub regions: Vec<String>,
    /// The function binary (`bootstrap`) spawned by every Lambda.
    pub bootstrap: PathBuf,
    /// Function name accepted by the Invoke API.
    pub function_name: String,
    /// Reported to the function as `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
    /// Function timeout, enforced per invocation.
    pub timeout: Duration,
    /// Concurrency cap per region.
    pub max_processes_per_region: usize,
}

/// A running local cloud: one S3 store and one Lambda service per region.
#[derive(Debug)]
pub struct LocalCloud {
    /// The shared object store.
    pub s3: LocalS3,
    /// Lambda services keyed by region name.
    pub lambdas: BTreeMap<String, LocalLambda>,
    /// Credentials accepted by the store and the Lambdas, made fresh at this start
    /// (also given to every function process).
    pub credentials: LocalCredentials,
}

impl LocalCloud {
    /// Starts one LocalS3 over `{dir}/store` (bucket dir ensured) and one LocalLambda per region
    /// (logs in `{dir}/logs/{region}/`), each spawned process getting the credentials as
    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and `AWS_ENDPOINT_URL_S3` = the S3 endpoint.
    /// Both check every request against a key pair generated here; the fault switches
    /// of the environment (docs/TESTING.md) apply.
    ///
    /// If any part fails to start, the parts already started are shut down again.
    pub async fn start(cfg: LocalCloudConfig) -> Result<LocalCloud, LocalError> {
        if cfg.regions.is_empty() {
            return Err(LocalError::Config("at least one region is required".into()));
        }
        let credentials = LocalCredentials::generate();
        let lambda_faults = LambdaFaults::from_env()?;
        let store = cfg.dir.join("store");
        std::fs::create_dir_all(&store)
            .map_err(|e| LocalError::io(format!("creating {}", store.display()), e))?;
        ensure_bucket(&store, &cfg.bucket)?;
        let s3 = LocalS3::start(&store, &credentials).await?;

        let mut lambdas = BTreeMap::new();
        for region in &cfg.regions {
            if lambdas.contains_key(region) {
                continue;
            }
            let lambda_cfg = LambdaConfig {
                region: region.clone(),
                function_name: cfg.function_name.clone(),
                bootstrap: cfg.bootstrap.clone(),
                memory_mb: cfg.memory_mb,
                timeout: cfg.timeout,
                max_processes: cfg.max_processes_per_region,
                idle_timeout: DEFAULT_IDLE_TIMEOUT,
                log_dir: cfg.dir.join("logs").join(region),
                credentials: credentials.clone(),
                faults: lambda_faults.clone(),
                env: vec![
                    (
                        "AWS_ACCESS_KEY_ID".to_owned(),
                        credentials.access_key_id.clone(),
                    ),
                    (
                        "AWS_SECRET_ACCESS_KEY".to_owned(),
                        credentials.secret_access_key.clone(),
                    ),
                    ("AWS_ENDPOINT_URL_S3".to_owned(), s3.endpoint().to_owned()),
                ],
            };
            match LocalLambda::start(lambda_cfg).await {
                Ok(lambda) => {
                    lambdas.insert(region.clone(), lambda);
                }
                Err(err) => {
                    for (_, lambda) in lambdas {
                        lambda.shutdown().await;
                    }
                    s3.shutdown().await;
                    return Err(err);
                }
            }
        }
        info!(
            s3 = s3.endpoint(),
            regions = lambdas.len(),
            "local cloud started"
        );
        Ok(LocalCloud {
            s3,
            lambdas,
            credentials,
        })
    }

    /// The Invoke API endpoint (`http://127.0.0.1:PORT`) emulating `region`, if any.
    pub fn lambda_endpoint(&self, region: &str) -> Option<&str> {
        self.lambdas.get(region).map(LocalLambda::endpoint)
    }

    /// Stops every Lambda (killing and reaping all function processes), then the store.
    pub async fn shutdown(self) {
        for (_, lambda) in self.lambdas {
            lambda.shutdown().await;
        }
        self.s3.shutdown().await;
        info!("local cloud stopped");
    }
}

/// Binds `127.0.0.1:0`, returning the listener and its `http://127.0.0.1:PORT` URL.
pub(crate) async fn bind_loopback() -> Result<(TcpListener, String), LocalError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| LocalError::io("binding 127.0.0.1:0", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| LocalError::io("reading local address", e))?;
    Ok((listener, format!("http://{addr}")))
}

/// A background HTTP server (HTTP/1.1 and h2c) with cooperative shutdown.
///
/// Dropping it without [`HttpServer::shutdown`] aborts the accept loop and every
/// connection.
pub(crate) struct HttpServer {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServer").finish_non_exhaustive()
    }
}

impl HttpServer {
    /// Serves `service` on `listener` until shut down. On shutdown, open
    /// connections get `grace` to finish their in-flight requests before they
    /// are aborted.
    pub(crate) fn spawn<S, B>(
        name: &'static str,
        listener: TcpListener,
        service: S,
        grace: Duration,
    ) -> HttpServer
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
        TokioExecutor: HttpServerConnExec<S::Future, B>,
    {
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(name, listener, service, stop_rx, grace));
        HttpServer {
            stop,
            task: Some(task),
        }
    }

    /// Stops accepting, lets connections drain for the grace period, then aborts the rest.
    pub(crate) async fn shutdown(mut self) {
        // Receivers only disappear once the accept loop is done, so a failed send is harmless.
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take()
            && let Err(err) = task.await
        {
            warn!(%err, "HTTP server task failed");
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept_loop<S, B>(
    name: &'static str,
    listener: TcpListener,
    service: S,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    TokioExecutor: HttpServerConnExec<S::Future, B>,
{
    let builder = ConnBuilder::new(TokioExecutor::new());
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    debug!(server = name, %peer, "connection accepted");
                    let conn = builder
                        .serve_connection(TokioIo::new(socket), service.clone())
                        .into_owned();
                    let mut stop = stop.clone();
                    conns.spawn(async move {
                        tokio::pin!(conn);
                        let result = tokio::select! {
                            res = conn.as_mut() => res,
                            () = stopped(&mut stop) => {
                                conn.as_mut().graceful_shutdown();
                                conn.await
                            }
                        };
                        if let Err(err) = result {
                            debug!(server = name, %peer, %err, "connection ended with an error");
                        }
                    });
                }
                Err(err) => {
                    // Typically EMFILE; back off instead of spinning.
                    warn!(server = name, %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            () = stopped(&mut stop) => break,
        }
    }
    drop(listener);
    if !grace.is_zero() {
        let drained =
            tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            debug!(
                server = name,
                open = conns.len(),
                "grace period over, aborting connections"
            );
        }
    }
    conns.shutdown().await;
    debug!(server = name, "server stopped");
}

/// Resolves once `stop` is set (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The returned guard is not `Send`; drop it at once.
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Decodes `%XX` escapes; malformed escapes are kept literally.
pub(crate) fn percent_decode(input: &str) -> String {
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

/// `dir` joined with `name`, rejecting names that would escape `dir`.
pub(crate) fn child_dir(dir: &Path, name: &str, what: &str) -> Result<PathBuf, LocalError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(LocalError::Config(format!("invalid {what} name {name:?}")));
    }
    Ok(dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::lambda::tests::{alive, client_in, invoke, payload_json, write_fake_bootstrap};
    use super::*;

    #[tokio::test]
    async fn cloud_wires_store_and_regions_together() {
        let dir = std::env::temp_dir().join(format!(
            "sls-load-local-cloud-{}-{:x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let bootstrap = write_fake_bootstrap(&dir);
        let cfg = LocalCloudConfig {
            dir: dir.join(".sls-load"),
            bucket: "sls-load-results".into(),
            regions: vec!["us-east-1".into(), "eu-west-1".into(), "us-east-1".into()],
            bootstrap,
            function_name: "sls-load-worker".into(),
            memory_mb: 1024,
            timeout: Duration::from_secs(30),
            max_processes_per_region: 2,
        };
        let cloud = LocalCloud::start(cfg).await.unwrap();
        assert_eq!(cloud.lambdas.len(), 2);
        assert!(dir.join(".sls-load/store/sls-load-results").is_dir());
        assert!(cloud.lambda_endpoint("ap-south-1").is_none());

        let mut pids = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), async {
            for region in ["us-east-1", "eu-west-1"] {
                let endpoint = cloud.lambda_endpoint(region).unwrap();
                assert_ne!(endpoint, cloud.s3.endpoint());
                let out = invoke(
                    &client_in(endpoint, &cloud.credentials, region),
                    "sls-load-worker",
                    r#"{"env":true}"#,
                )
                .await;
                let v = payload_json(&out);
                let env = &v["env"];
                assert_eq!(env["AWS_REGION"], region);
                assert_eq!(env["AWS_ENDPOINT_URL_S3"], cloud.s3.endpoint());
                assert_eq!(
                    env["AWS_ACCESS_KEY_ID"],
                    cloud.credentials.access_key_id.as_str()
                );
                assert_eq!(
                    env["AWS_SECRET_ACCESS_KEY"],
                    cloud.credentials.secret_access_key.as_str()
                );
                let stream = env["AWS_LAMBDA_LOG_STREAM_NAME"].as_str().unwrap();
                let log = dir.join(format!(".sls-load/logs/{region}/{stream}.log"));
                assert!(log.is_file(), "{}", log.display());
                pids.push(u32::try_from(v["pid"].as_u64().unwrap()).unwrap());
            }
        })
        .await
        .expect("test timed out");

        cloud.shutdown().await;
        for pid in pids {
            assert!(!alive(pid), "process {pid} survived shutdown");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn two_clouds_started_in_turn_have_different_keys_and_refuse_each_other() {
        let dir = std::env::temp_dir().join(format!(
            "sls-load-local-cloud-keys-{}-{:x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = LocalCloudConfig {
            dir: dir.join(".sls-load"),
            bucket: "sls-load-results".into(),
            regions: vec!["us-east-1".into()],
            bootstrap: write_fake_bootstrap(&dir),
            function_name: "sls-load-worker".into(),
            memory_mb: 1024,
            timeout: Duration::from_secs(30),
            max_processes_per_region: 1,
        };
        let first = LocalCloud::start(cfg.clone()).await.unwrap();
        let first_creds = first.credentials.clone();
        first.shutdown().await;
        let second = LocalCloud::start(cfg).await.unwrap();
        assert_ne!(first_creds.access_key_id, second.credentials.access_key_id);
        assert_ne!(
            first_creds.secret_access_key,
            second.credentials.secret_access_key
        );

        tokio::time::timeout(Duration::from_secs(60), async {
            let endpoint = second.lambda_endpoint("us-east-1").unwrap();
            let res = client_in(endpoint, &first_creds, "us-east-1")
                .invoke()
                .function_name("sls-load-worker")
                .payload(aws_sdk_lambda::primitives::Blob::new(&b"{}"[..]))
                .send()
                .await;
            let err = res.expect_err("the first cloud's keys open nothing in the second");
            assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
            let region = sls_load_core::job::Region::us_east_1();
            let s3 = crate::cloud::local_s3_client(second.s3.endpoint(), &region, &first_creds);
            let err = s3.list_objects_v2().bucket("sls-load-results").send().await;
            let err = err.expect_err("nor in its S3");
            assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
        })
        .await
        .expect("test timed out");
        assert_eq!(second.lambdas["us-east-1"].stats().processes_spawned, 0);
        second.shutdown().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn credentials_debug_hides_secret() {
        let creds = LocalCredentials::generate();
        let text = format!("{creds:?}");
        assert!(text.contains(&creds.access_key_id));
        assert!(!text.contains(&creds.secret_access_key));
    }

    #[test]
    fn credentials_are_fresh_and_not_the_old_constant_pair() {
        let (a, b) = (LocalCredentials::generate(), LocalCredentials::generate());
        assert_ne!(a.access_key_id, b.access_key_id);
        assert_ne!(a.secret_access_key, b.secret_access_key);
        assert_eq!(a.access_key_id.len(), 20);
        assert_eq!(a.secret_access_key.len(), 40);
        assert_ne!(a.access_key_id, "sls-load-local");
    }

    #[test]
    fn child_dir_rejects_escapes() {
        let root = Path::new("/tmp/x");
        assert!(child_dir(root, "bucket", "bucket").is_ok());
        for bad in ["", ".", "..", "a/b", "a\\b"] {
            assert!(child_dir(root, bad, "bucket").is_err(), "{bad:?}");
        }
    }
}
