//! Connects to the cloud a command runs against: decides between local stand-ins
//! and AWS, starts the stand-ins when local, and builds the per-region SDK clients
//! (Lambda) and the results store (S3) exactly the same way for both.
//!
//! It owns SDK client construction and the local cloud's lifetime; it does not
//! plan, invoke or read results.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use aws_config::BehaviorVersion;
use sls_load_core::job::Region;
use sls_load_core::sdk::http_client;

use crate::local::{
    LocalCloud, LocalCloudConfig, LocalCredentials, LocalError, LocalS3, s3::ensure_bucket,
};
use crate::store::S3Store;

/// The bucket name used by local mode.
pub const LOCAL_BUCKET: &str = "sls-load-results";
/// Memory size of the local worker function (reported to the worker as in Lambda).
pub const LOCAL_MEMORY_MB: u32 = 1024;
/// Lambda's maximum timeout; local workers get the same.
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(900);

/// Where a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Embedded stand-ins on loopback.
    Local,
    /// Amazon Web Services.
    Aws,
}

/// Cloud set-up failures.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// The local stand-ins did not start.
    #[error("local cloud: {0}")]
    Local(#[from] LocalError),
    /// The worker binary for local mode is missing.
    #[error(
        "local mode runs the worker binary `{0}`, which does not exist; build it with `cargo build --workspace` or pass --bootstrap"
    )]
    NoBootstrap(PathBuf),
    /// AWS mode needs a bucket.
    #[error("AWS mode needs a results bucket: pass --bucket or set SLS_LOAD_BUCKET (see infra/)")]
    NoBucket,
}

/// Where a command runs and stores, validated from `--local`/`--aws` and the other
/// cloud flags by [`crate::options`].
#[derive(Debug, Clone)]
pub struct CloudOptions {
    /// Local stand-ins or AWS.
    pub mode: Mode,
    /// Local mode: directory for the stand-ins' objects and worker logs.
    pub local_dir: PathBuf,
    /// Local mode: the worker binary to run (default: `bootstrap` next to this binary).
    pub bootstrap: Option<PathBuf>,
    /// Local mode: concurrent executions per emulated region.
    pub local_concurrency: usize,
    /// The results bucket (AWS mode; locally [`LOCAL_BUCKET`]).
    pub bucket: Option<String>,
    /// The results bucket's region (default: the first region of the run).
    pub bucket_region: Option<Region>,
    /// The worker function's name, deployed in every region used.
    pub function: String,
    /// AWS profile from ~/.aws/config.
    pub profile: Option<String>,
}

/// Picks the mode: `--local`/`--aws` if given, else AWS when credentials are configured.
pub fn choose_mode(local: bool, aws: bool) -> Mode {
    if local {
        Mode::Local
    } else if aws || aws_credentials_configured() {
        Mode::Aws
    } else {
        Mode::Local
    }
}

/// True when the environment or ~/.aws holds credentials the SDK's chain would find.
fn aws_credentials_configured() -> bool {
    let env = [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ];
    if env
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
    {
        return true;
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    home.is_some_and(|h| h.join(".aws/credentials").exists() || h.join(".aws/config").exists())
}

/// SDK clients for one command.
pub struct Cloud {
    /// The mode in use.
    pub mode: Mode,
    /// The results store.
    pub store: S3Store,
    /// One Lambda client per region (empty for store-only connections).
    pub lambda: BTreeMap<Region, aws_sdk_lambda::Client>,
    /// The results bucket and its region.
    pub bucket: (String, Region),
    /// The running stand-ins, in local mode.
    pub local: Option<LocalCloud>,
    /// The local S3 of a store-only local connection.
    local_store: Option<LocalS3>,
}

impl Cloud {
    /// AWS Lambda clients of `regions` with `profile` (for reading account settings
    /// without a run: `sls-load plan`). Starts nothing.
    pub async fn aws_lambda_clients(
        profile: Option<String>,
        regions: &[Region],
    ) -> BTreeMap<Region, aws_sdk_lambda::Client> {
        let args = CloudOptions {
            mode: Mode::Aws,
            local_dir: PathBuf::new(),
            bootstrap: None,
            local_concurrency: 0,
            bucket: None,
            bucket_region: None,
            function: String::new(),
            profile,
        };
        let mut clients = BTreeMap::new();
        for region in regions {
            let conf = aws_conf(&args, region).await;
            clients.insert(region.clone(), aws_sdk_lambda::Client::new(&conf));
        }
        clients
    }

    /// Connects for a run over `regions`: starts the stand-ins in local mode.
    pub async fn for_run(args: &CloudOptions, regions: &[Region]) -> Result<Cloud, CloudError> {
        let mode = args.mode;
        let bucket_region = args
            .bucket_region
            .clone()
            .or_else(|| regions.first().cloned())
            .unwrap_or_else(Region::us_east_1);
        match mode {
            Mode::Local => {
                let bootstrap = bootstrap_path(args)?;
                let local = LocalCloud::start(LocalCloudConfig {
                    dir: args.local_dir.clone(),
                    bucket: LOCAL_BUCKET.into(),
                    regions: regions.iter().map(|r| r.to_string()).collect(),
                    bootstrap,
                    function_name: args.function.clone(),
                    memory_mb: LOCAL_MEMORY_MB,
                    timeout: FUNCTION_TIMEOUT,
                    max_processes_per_region: args.local_concurrency.max(1),
                })
                .await?;
                let creds = &local.credentials;
                let lambda = regions
                    .iter()
                    .filter_map(|r| {
                        let endpoint = local.lambda_endpoint(r.as_str())?;
                        Some((r.clone(), local_lambda_client(endpoint, r, creds)))
                    })
                    .collect();
                let store = S3Store::new(
                    local_s3_client(local.s3.endpoint(), &bucket_region, creds),
                    LOCAL_BUCKET,
                );
                Ok(Cloud {
                    mode,
                    store,
                    lambda,
                    bucket: (LOCAL_BUCKET.into(), bucket_region),
                    local: Some(local),
                    local_store: None,
                })
            }
            Mode::Aws => {
                let bucket = args.bucket.clone().ok_or(CloudError::NoBucket)?;
                let mut lambda = BTreeMap::new();
                for region in regions {
                    let conf = aws_conf(args, region).await;
                    lambda.insert(region.clone(), aws_sdk_lambda::Client::new(&conf));
                }
                let conf = aws_conf(args, &bucket_region).await;
                let store = S3Store::new(aws_sdk_s3::Client::new(&conf), bucket.clone());
                Ok(Cloud {
                    mode,
                    store,
                    lambda,
                    bucket: (bucket, bucket_region),
                    local: None,
                    local_store: None,
                })
            }
        }
    }

    /// Connects to the results store only (for `report`).
    pub async fn store_only(args: &CloudOptions) -> Result<Cloud, CloudError> {
        let mode = args.mode;
        let region = args.bucket_region.clone().unwrap_or_else(Region::us_east_1);
        match mode {
            Mode::Local => {
                // A new stand-in over the same directory, with its own fresh key pair.
                let creds = LocalCredentials::generate();
                let root = args.local_dir.join("store");
                ensure_bucket(&root, LOCAL_BUCKET)?;
                let s3 = LocalS3::start(&root, &creds).await?;
                let store = S3Store::new(
                    local_s3_client(s3.endpoint(), &region, &creds),
                    LOCAL_BUCKET,
                );
                Ok(Cloud {
                    mode,
                    store,
                    lambda: BTreeMap::new(),
                    bucket: (LOCAL_BUCKET.into(), region),
                    local: None,
                    local_store: Some(s3),
                })
            }
            Mode::Aws => {
                let bucket = args.bucket.clone().ok_or(CloudError::NoBucket)?;
                let conf = aws_conf(args, &region).await;
                Ok(Cloud {
                    mode,
                    store: S3Store::new(aws_sdk_s3::Client::new(&conf), bucket.clone()),
                    lambda: BTreeMap::new(),
                    bucket: (bucket, region),
                    local: None,
                    local_store: None,
                })
            }
        }
    }

    /// Stops the local stand-ins, if any; leaves their files in place.
    pub async fn shutdown(self) {
        if let Some(local) = self.local {
            local.shutdown().await;
        }
        if let Some(s3) = self.local_store {
            s3.shutdown().await;
        }
    }
}

fn bootstrap_path(args: &CloudOptions) -> Result<PathBuf, CloudError> {
    let path = match &args.bootstrap {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("bootstrap")))
            .unwrap_or_else(|| PathBuf::from("bootstrap")),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(CloudError::NoBootstrap(path))
    }
}

async fn aws_conf(args: &CloudOptions, region: &Region) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .region(aws_config::Region::new(region.to_string()));
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// The SDK configuration of a local stand-in: its loopback endpoint and the key pair
/// it was started with, otherwise exactly what AWS mode uses.
fn local_conf(endpoint: &str, region: &Region, creds: &LocalCredentials) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new(
                &creds.access_key_id,
                &creds.secret_access_key,
                None,
                None,
                "sls-load-local",
            ),
        ))
        .http_client(http_client())
        .build()
}

/// An S3 client for a local stand-in at `endpoint` (path-style, local credentials).
pub fn local_s3_client(
    endpoint: &str,
    region: &Region,
    creds: &LocalCredentials,
) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&local_conf(endpoint, region, creds))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

fn local_lambda_client(
    endpoint: &str,
    region: &Region,
    creds: &LocalCredentials,
) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&local_conf(endpoint, region, creds))
}
