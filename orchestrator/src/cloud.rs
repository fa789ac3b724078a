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

use crate::awsenv::AwsEnv;
use crate::store::S3Store;
use sls_load_local::{
    LocalCloud, LocalCloudConfig, LocalCredentials, LocalError, LocalS3, ensure_bucket,
};

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
    /// The credentials cannot be used (AWS mode never falls back to local).
    #[error(transparent)]
    Credentials(#[from] crate::identity::CredentialsError),
    /// `--profile`/`AWS_PROFILE` names a profile neither shared file has.
    #[error(
        "AWS profile `{0}` not found in ~/.aws/config or ~/.aws/credentials: create it with `aws configure --profile {0}`, name another with AWS_PROFILE/--profile, or pass --local"
    )]
    UnknownProfile(String),
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
    /// Why [`CloudOptions::mode`] was chosen.
    pub why: Why,
}

/// Why a command runs where it does: what its first line on stderr says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// `--local`.
    LocalFlag,
    /// `--aws`.
    AwsFlag,
    /// Something only AWS mode uses was named: `--bucket`, `--function`,
    /// `--profile`/`AWS_PROFILE` or `sls-load.toml` (the text says which).
    Implied(String),
    /// Usable credentials were found in the environment or the shared files.
    Found,
    /// This machine's instance metadata service has an instance role.
    InstanceRole,
    /// None were found: the reason.
    NotFound(String),
}

/// Picks the mode. Local only with `--local`, or when nothing AWS-ish is present;
/// AWS with `--aws`, with anything only AWS mode uses (`implied`: `--bucket`,
/// `--function`, a profile, `sls-load.toml`), with usable credentials configured
/// ([`AwsEnv`]: environment keys, or a profile with keys, SSO,
/// `credential_process` or a role with a source; a `~/.aws/config` holding only a
/// region is not enough) or with an instance role ([`crate::identity::instance_role`],
/// asked last and within a bound). Credentials that then fail are an error, never
/// a fallback to local.
pub fn select_mode(
    local: bool,
    aws: bool,
    implied: Option<String>,
    profile: Option<&str>,
) -> (Mode, Why) {
    if local {
        return (Mode::Local, Why::LocalFlag);
    }
    if aws {
        return (Mode::Aws, Why::AwsFlag);
    }
    if let Some(what) = implied {
        return (Mode::Aws, Why::Implied(what));
    }
    let env = AwsEnv::read(profile);
    if env.source.is_some() {
        (Mode::Aws, Why::Found)
    } else if crate::identity::instance_role() {
        (Mode::Aws, Why::InstanceRole)
    } else {
        (Mode::Local, Why::NotFound(env.why_none()))
    }
}

/// The mode of [`select_mode`] from the environment alone (no flags).
pub fn choose_mode(local: bool, aws: bool) -> Mode {
    select_mode(local, aws, None, None).0
}

/// The one line saying where a command runs, e.g. `sls-load: local mode: no AWS
/// credentials found (pass --aws to use AWS)` or `sls-load: AWS mode (--bucket):
/// profile dev, region eu-west-1`.
pub fn announcement(args: &CloudOptions) -> String {
    match (&args.why, args.mode) {
        (Why::LocalFlag, _) => "sls-load: local mode (--local)".to_owned(),
        (Why::NotFound(why), _) => format!("sls-load: local mode: {why} (pass --aws to use AWS)"),
        (_, Mode::Local) => "sls-load: local mode".to_owned(),
        (why, Mode::Aws) => {
            let env = AwsEnv::read(args.profile.as_deref());
            let because = match why {
                Why::Implied(what) => format!(" ({what})"),
                _ => String::new(),
            };
            let found = match (why, &env.source) {
                (Why::InstanceRole, _) => " (the instance role of this machine)",
                (_, None) => {
                    " (no credentials in the environment or ~/.aws, the SDK's chain may still find some)"
                }
                _ => "",
            };
            format!("sls-load: AWS mode{because}: {}{found}", env.describe())
        }
    }
}

/// The results bucket's region in AWS mode: `--bucket-region`, else the
/// configured region (`AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's), else
/// `fallback`.
fn aws_bucket_region(args: &CloudOptions, fallback: Region) -> Region {
    args.bucket_region
        .clone()
        .or_else(|| {
            AwsEnv::read(args.profile.as_deref())
                .region
                .and_then(|r| r.parse().ok())
        })
        .unwrap_or(fallback)
}

/// In AWS mode, a named profile must exist.
fn check_profile(args: &CloudOptions) -> Result<(), CloudError> {
    match AwsEnv::read(args.profile.as_deref()).unknown_profile() {
        Some(p) => Err(CloudError::UnknownProfile(p.to_owned())),
        None => Ok(()),
    }
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
    /// AWS mode: whose credentials these are (checked with STS before anything).
    pub identity: Option<crate::identity::Identity>,
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
            why: Why::Found,
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
        let first = regions.first().cloned().unwrap_or_else(Region::us_east_1);
        let bucket_region = match mode {
            Mode::Local => args.bucket_region.clone().unwrap_or(first),
            Mode::Aws => aws_bucket_region(args, first),
        };
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
                    identity: None,
                })
            }
            Mode::Aws => {
                check_profile(args)?;
                let bucket = args.bucket.clone().ok_or(CloudError::NoBucket)?;
                let conf = aws_conf(args, &bucket_region).await;
                let identity = verify(args, &conf).await?;
                let mut lambda = BTreeMap::new();
                for region in regions {
                    let conf = aws_conf(args, region).await;
                    lambda.insert(region.clone(), aws_sdk_lambda::Client::new(&conf));
                }
                let store = S3Store::new(s3_client(&conf), bucket.clone());
                Ok(Cloud {
                    mode,
                    store,
                    lambda,
                    bucket: (bucket, bucket_region),
                    local: None,
                    local_store: None,
                    identity: Some(identity),
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
                    identity: None,
                })
            }
            Mode::Aws => {
                check_profile(args)?;
                let bucket = args.bucket.clone().ok_or(CloudError::NoBucket)?;
                let region = aws_bucket_region(args, region);
                let conf = aws_conf(args, &region).await;
                let identity = verify(args, &conf).await?;
                Ok(Cloud {
                    mode,
                    store: S3Store::new(s3_client(&conf), bucket.clone()),
                    lambda: BTreeMap::new(),
                    bucket: (bucket, region),
                    local: None,
                    local_store: None,
                    identity: Some(identity),
                })
            }
        }
    }

    /// What `plan`'s run records about where it ran.
    pub fn record(&self, plan: &sls_load_plan::Plan) -> sls_load_plan::CloudRecord {
        sls_load_plan::CloudRecord {
            mode: match self.mode {
                Mode::Local => "local",
                Mode::Aws => "aws",
            }
            .to_owned(),
            account: self.identity.as_ref().map(|i| i.account.clone()),
            regions: plan.regions.iter().map(|r| r.region.clone()).collect(),
            bucket: sls_load_report::store::Store::location(&self.store),
            bucket_region: self.bucket.1.clone(),
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

/// Whose credentials `conf` has: checked once, before anything is read, written
/// or invoked, so that broken credentials are one line and never a fallback.
async fn verify(
    args: &CloudOptions,
    conf: &aws_config::SdkConfig,
) -> Result<crate::identity::Identity, CloudError> {
    let env = AwsEnv::read(args.profile.as_deref());
    Ok(crate::identity::identify(conf, &env).await?)
}

/// The SDK configuration of AWS mode in `region`: the standard chain with
/// `--profile`, the project's HTTP client, endpoints from `AWS_ENDPOINT_URL*`.
pub async fn aws_conf(args: &CloudOptions, region: &Region) -> aws_config::SdkConfig {
    profile_conf(args.profile.as_deref(), region).await
}

/// [`aws_conf`] from a profile name alone (`deploy`, `doctor`, `destroy`).
pub async fn profile_conf(profile: Option<&str>, region: &Region) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .region(aws_config::Region::new(region.to_string()));
    if let Some(profile) = profile.filter(|p| !p.is_empty()) {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// An S3 client of AWS mode: path-style addressing when `AWS_ENDPOINT_URL_S3` or
/// `AWS_ENDPOINT_URL` points the SDK at an S3-compatible endpoint (as the worker
/// does), virtual-hosted otherwise.
pub fn s3_client(conf: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let overridden = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    let conf = aws_sdk_s3::config::Builder::from(conf)
        .force_path_style(overridden)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn options(mode: Mode, why: Why) -> CloudOptions {
        CloudOptions {
            mode,
            local_dir: PathBuf::new(),
            bootstrap: None,
            local_concurrency: 1,
            bucket: None,
            bucket_region: None,
            function: String::new(),
            profile: None,
            why,
        }
    }

    #[test]
    fn the_flags_decide_before_any_file_is_read() {
        assert_eq!(
            select_mode(true, false, Some("--bucket".into()), None),
            (Mode::Local, Why::LocalFlag)
        );
        assert_eq!(
            select_mode(false, true, None, None),
            (Mode::Aws, Why::AwsFlag)
        );
        assert_eq!(
            select_mode(false, false, Some("--bucket".into()), None),
            (Mode::Aws, Why::Implied("--bucket".into()))
        );
    }

    #[test]
    fn local_mode_is_announced_with_its_reason_in_one_line() {
        assert_eq!(
            announcement(&options(Mode::Local, Why::LocalFlag)),
            "sls-load: local mode (--local)"
        );
        assert_eq!(
            announcement(&options(
                Mode::Local,
                Why::NotFound("no AWS credentials found".into())
            )),
            "sls-load: local mode: no AWS credentials found (pass --aws to use AWS)"
        );
    }

    #[test]
    fn an_unknown_profile_is_bad_input_and_named() {
        let e = crate::commands::Error::from(CloudError::UnknownProfile("prod".into()));
        assert_eq!(e.exit_code(), crate::commands::EXIT_BAD_INPUT);
        assert!(e.message().contains("`prod`"), "{}", e.message());
        assert!(!e.message().contains('\n'));
    }
}
