//! The command line of the AWS set-up commands as typed (clap derive structs
//! only): `deploy`, `doctor` and `destroy`. [`crate::aws_options`] validates
//! them over `sls-load.toml`; nothing else sees these types.

use std::path::PathBuf;

use clap::Args;

use crate::cli::{ArchArg, PlanFlags};

/// Where the AWS resources are, shared by `deploy`, `doctor` and `destroy`.
#[derive(Debug, Args, Clone)]
pub struct AwsArgs {
    /// Results bucket (default: sls-load.toml's; locally `sls-load-results`;
    /// `deploy`: a generated name).
    #[arg(long, env = "SLS_LOAD_BUCKET")]
    pub bucket: Option<String>,
    /// The results bucket's region (default: sls-load.toml's, else the first region
    /// of the run).
    #[arg(long, env = "SLS_LOAD_BUCKET_REGION")]
    pub bucket_region: Option<String>,
    /// The worker function's name in every region (default: sls-load.toml's, else
    /// sls-load-worker).
    #[arg(long, env = "SLS_LOAD_FUNCTION")]
    pub function: Option<String>,
    /// AWS profile from ~/.aws/config.
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
}

/// `sls-load deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Regions to deploy the worker in, comma-separated (default: sls-load.toml's).
    #[arg(long, value_delimiter = ',')]
    pub regions: Option<Vec<String>>,
    /// Where the resources go.
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The worker's architecture (default: sls-load.toml's, else arm64 where
    /// `make package` built its zip, else x86_64).
    #[arg(long, value_enum)]
    pub arch: Option<ArchArg>,
    /// The worker's memory in MB (default: sls-load.toml's, else 1769: one vCPU).
    #[arg(long)]
    pub memory: Option<u32>,
    /// The worker zip (default: build/sls-load-worker-ARCH.zip from `make package`).
    #[arg(long)]
    pub zip: Option<PathBuf>,
    /// Reserve this many concurrent executions for the worker in every region
    /// (taken from the account's pool: best in a dedicated load-test account).
    #[arg(long, value_name = "N")]
    pub reserve: Option<u32>,
    /// Use this existing execution role for the worker instead of creating one.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Set this managed policy as the permissions boundary of the role created.
    #[arg(long, value_name = "ARN")]
    pub permissions_boundary: Option<String>,
    /// Tag every stack, and so every resource, with KEY=VALUE (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// Days after which a run's stored objects expire.
    #[arg(long, default_value_t = crate::deploy::DEFAULT_RETENTION_DAYS)]
    pub retention_days: u32,
}

/// `sls-load doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// A scenario whose concurrency needs are checked against each region's
    /// account concurrency (its regions are checked too).
    pub scenario: Option<PathBuf>,
    /// Where the resources are.
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The regions and the worker expected there, as `plan` takes them.
    #[command(flatten)]
    pub plan: PlanFlags,
    /// File the Service Quotas request for each region whose concurrency is too low.
    #[arg(long)]
    pub request_quota: bool,
}

/// `sls-load destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Regions to remove the worker from (default: sls-load.toml's).
    #[arg(long, value_delimiter = ',')]
    pub regions: Option<Vec<String>>,
    /// Where the resources are.
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Delete the stored results without asking.
    #[arg(long, short)]
    pub yes: bool,
    /// Keep the results stack, its bucket and the stored runs.
    #[arg(long)]
    pub keep_results: bool,
}

/// `sls-load local-lambda` (hidden): the local Lambda stand-in alone, one per
/// region, as the Invoke endpoint of AWS-mode tests on loopback. It accepts
/// requests signed with this process's `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
/// hands its workers those keys and `SLS_LOAD_WORKER_S3_ENDPOINT` as their S3
/// endpoint, prints `lambda REGION URL` per region and serves until stopped.
#[derive(Debug, Args)]
pub struct LocalLambdaArgs {
    /// The regions, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub regions: Vec<String>,
    /// The function name it answers to.
    #[arg(long, default_value = "sls-load-worker")]
    pub function: String,
    /// The worker binary (default: `bootstrap` next to this binary).
    #[arg(long)]
    pub bootstrap: Option<PathBuf>,
    /// Concurrent executions per region (what GetAccountSettings reports).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// The memory reported to the worker, MB.
    #[arg(long, default_value_t = 1769)]
    pub memory: u32,
    /// Directory for the workers' logs.
    #[arg(long, default_value = ".sls-load")]
    pub local_dir: PathBuf,
}
