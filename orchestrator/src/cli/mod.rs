//! The command line as typed: clap derive structs only, no validation beyond
//! types. [`crate::options`] turns these raw arguments into validated options;
//! nothing below it sees a clap type. This module does not check values, read
//! files or decide anything.

pub mod aws;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Serverless load testing: many short-lived Lambda workers, one agreed start
/// instant, exactly merged HdrHistograms.
#[derive(Debug, Parser)]
#[command(name = "sls-load", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log more (repeat for more detail); logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: plan, invoke workers in every region, collect, merge, report.
    Run(Box<RunArgs>),
    /// Print what a scenario would run, and what it would cost, without running it.
    Plan(PlanArgs),
    /// Rebuild a run's report from the results store alone.
    Report(ReportArgs),
    /// Reattach to a run in progress (from another terminal): live progress, then the report.
    Watch(ReportArgs),
    /// Stop a run in progress from any terminal: its workers stop sending, flush and report.
    Stop(StopArgs),
    /// List the runs in the results store, newest first, with their verdict and cost.
    Runs(RunsArgs),
    /// Compare run B with baseline run A per region and request; exit 1 on a regression.
    Compare(CompareArgs),
    /// Deploy (or update) the results bucket and the worker in every region of an
    /// AWS account, from infra/'s CloudFormation templates.
    Deploy(crate::cli::aws::DeployArgs),
    /// Check an AWS set-up: credentials, regions, the deployed worker, the bucket,
    /// the clock and the account's concurrency; one verdict line per check.
    Doctor(crate::cli::aws::DoctorArgs),
    /// Remove what `deploy` created (asks before deleting stored results).
    Destroy(crate::cli::aws::DestroyArgs),
    /// The local Lambda stand-in alone, for AWS-mode tests on loopback.
    #[command(hide = true)]
    LocalLambda(crate::cli::aws::LocalLambdaArgs),
}

/// `sls-load plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The scenario file (YAML).
    pub scenario: PathBuf,
    /// How the run would be planned.
    #[command(flatten)]
    pub plan: PlanFlags,
    /// Print the plan as JSON (the `plan.json` a run would store) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Accepted as `run` takes it; the plan shows `{{__ENV.NAME}}`, never values.
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
}

/// Planning flags shared by `run` and `plan`.
#[derive(Debug, Args, Clone)]
pub struct PlanFlags {
    /// Load zones of the run, comma-separated, for any scenario: AWS regions or k6
    /// load zones (`amazon:us:ashburn`), each optionally `=WEIGHT`
    /// (`us-east-1=50,eu-west-1=30`). Without weights a zone keeps the file's weight
    /// if the file names it, else gets an equal share; weights are renormalised.
    #[arg(long, value_delimiter = ',')]
    pub regions: Option<Vec<String>>,
    /// Total number of worker slots (concurrent Lambda workers), split over regions by
    /// weight. Default: from the scenario's `worker_rate` and the function's memory.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Longest time slice one invocation runs; longer tests chain slices per worker
    /// slot with no gap and no overlap.
    #[arg(long, value_parser = sls_load_core::duration::parse, default_value = "14m")]
    pub slice: Duration,
    /// The worker function's memory size in MB (capacity and cost). Default:
    /// sls-load.toml's (what `deploy` deployed), else 1769 MB, one full vCPU.
    #[arg(long)]
    pub memory: Option<u32>,
    /// The worker function's architecture (cost). Default: sls-load.toml's (what
    /// `deploy` deployed), else x86_64.
    #[arg(long, value_enum)]
    pub arch: Option<ArchArg>,
    /// How often workers flush their interval logs to the store.
    #[arg(long, value_parser = sls_load_core::duration::parse, default_value = "10s")]
    pub flush_every: Duration,
    /// Refuse the plan (exit 2) when its estimated cost is above this many USD.
    #[arg(long, value_name = "USD")]
    pub max_cost: Option<f64>,
    /// k6's `--vus`: VUs of the default scenario, replacing the file's `vus` (and a
    /// `scenarios:` block, with the requests of its only scenario).
    #[arg(long)]
    pub vus: Option<u32>,
    /// k6's `--duration`: the default scenario runs `--vus` VUs this long.
    #[arg(long, value_parser = sls_load_core::duration::parse)]
    pub duration: Option<Duration>,
    /// k6's `--iterations`: the default scenario's VUs share this many iterations.
    #[arg(long)]
    pub iterations: Option<u64>,
    /// k6's `--stage DURATION:TARGET` (repeatable): the default scenario ramps its
    /// VUs through these stages.
    #[arg(long = "stage", value_name = "DURATION:TARGET")]
    pub stages: Vec<String>,
    /// Iterations per second of the file's only constant-arrival-rate scenario.
    #[arg(long)]
    pub rate: Option<f64>,
    /// The response time assumed when estimating a closed model's (VU
    /// executors') request rate, for `plan` and the `--yes` guard: each VU sends
    /// one request per think time + this.
    #[arg(long, value_name = "DURATION", value_parser = sls_load_core::duration::parse, default_value = "100ms")]
    pub expect_latency: Duration,
}

/// `--arch` as typed; [`crate::options`] maps it to [`sls_load_plan::plan::Arch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArchArg {
    /// Graviton.
    Arm64,
    /// Intel/AMD.
    #[value(name = "x86_64")]
    X86_64,
}

/// `sls-load run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file (YAML).
    pub scenario: PathBuf,
    /// Send the load to this base URL instead of the scenario's `target`.
    #[arg(long)]
    pub target: Option<String>,
    /// The value of `{{__ENV.NAME}}` in the scenario (repeatable, k6's flag); a name
    /// not given here is taken from this process's environment. Values are sent
    /// only in the invoke payloads, never stored or printed.
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// How the run is planned.
    #[command(flatten)]
    pub plan: PlanFlags,
    /// Time from planning to the agreed start instant. Default: 2 s + 20 ms per worker
    /// locally, 10 s in AWS.
    #[arg(long, value_parser = sls_load_core::duration::parse)]
    pub lead: Option<Duration>,
    /// Invocations in flight at once, per region.
    #[arg(long, default_value_t = 32)]
    pub invoke_concurrency: usize,
    /// Test hook (local mode): kill one busy worker process this long after the start.
    #[arg(long, hide = true, value_parser = sls_load_core::duration::parse)]
    pub local_fault_kill_after: Option<Duration>,
    /// Dead-man switch: refresh a heartbeat object while following the run; workers
    /// stop by themselves when it is older than this (e.g. 60s; at least 3s), so a
    /// closed laptop does not leave the test running.
    #[arg(long, value_parser = sls_load_core::duration::parse)]
    pub heartbeat: Option<Duration>,
    /// Local mode: send each region's traffic directly, without the network
    /// profile (added round trip) the scenario's `target_region:`/`network:` give it.
    #[arg(long)]
    pub no_network_profiles: bool,
    /// Confirm a run above 1,000 req/s or 100 workers against a host that is neither
    /// loopback nor in the scenario's `allowed_targets`.
    #[arg(long)]
    pub yes: bool,
    /// No live progress display and no header line (k6's --quiet).
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the fan-out time of each slice even with --quiet (for benchmarks).
    #[arg(long, hide = true)]
    pub timings: bool,
    /// Where the summary and the per-second points go.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Use this run id instead of a generated one.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Where to run and store.
    #[command(flatten)]
    pub cloud: CloudArgs,
    /// Let the scenario's `run:` events execute their commands (a scenario file
    /// alone never runs programs).
    #[arg(long)]
    pub allow_exec: bool,
}

/// `sls-load report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run to report on (printed by `sls-load run`).
    pub run_id: String,
    /// Where the summary and the per-second points go.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Where the run's results are.
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// Where a run's summary and per-second points go, shared by `run`, `report`
/// and `watch`.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Write the summary JSON to this file too.
    #[arg(long)]
    pub summary_export: Option<PathBuf>,
    /// Reports for CI.
    #[command(flatten)]
    pub ci: CiArgs,
    /// Stream the run's per-second points to an output, like k6's --out
    /// (repeatable; `report` replays a stored run into it): json=FILE,
    /// csv=FILE, influxdb=http://host:8086/DB, experimental-prometheus-rw=URL,
    /// opentelemetry=URL (OTLP/HTTP), cloudwatch[=FILE] (embedded metric
    /// format lines).
    #[arg(long = "out", short = 'o', value_name = "OUTPUT")]
    pub out: Vec<String>,
}

/// Reports for CI and the HTML report's local copy, shared by `run`, `report` and `watch`.
#[derive(Debug, Args, Clone)]
pub struct CiArgs {
    /// Write a JUnit XML report to this file: one test case per threshold (failed
    /// when crossed) and per check (failed when any evaluation failed).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the summary in k6's own `--summary-export` JSON shape to this file
    /// (`--summary-export` writes sls-load's documented summary).
    #[arg(long, value_name = "FILE")]
    pub k6_summary: Option<PathBuf>,
    /// Write the HTML report to this file too (one self-contained page; it is
    /// always stored with the run as `runs/RUN_ID/report.html`).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Open the HTML report in the browser when written (the `--html` file, else
    /// a copy in the temp directory); prints its path if it cannot.
    #[arg(long)]
    pub open: bool,
}

/// `sls-load stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// The run to stop (printed by `sls-load run`).
    pub run_id: String,
    /// Where the run's results are.
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// `sls-load runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Show at most this many runs (the newest).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print the runs as a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Where the runs are.
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// `sls-load compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline run.
    pub run_a: String,
    /// The run judged against it.
    pub run_b: String,
    /// How much worse run B may be, per figure: latency (p50, p95, p99) and rps in
    /// percent, errors in percentage points, `off` to ungate one. Default:
    /// p95=10%,p99=20%,errors=0.5pp (p50 and rps not gated unless given).
    #[arg(long, value_name = "FIGURE=VALUE,...")]
    pub tolerance: Option<String>,
    /// Print the comparison as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Where the runs are.
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// Local stand-ins or AWS, and where results live.
#[derive(Debug, Args, Clone)]
pub struct CloudArgs {
    /// Run on embedded Lambda and S3 stand-ins on loopback (the default when no AWS
    /// credentials are configured).
    #[arg(long, conflicts_with = "aws")]
    pub local: bool,
    /// Use AWS, with the standard credential chain (env, profile, SSO,
    /// credential_process, role). Also implied by --bucket, --function, --profile,
    /// AWS_PROFILE, sls-load.toml, configured credentials or an instance role.
    #[arg(long)]
    pub aws: bool,
    /// Local mode: directory for the stand-ins' objects and worker logs.
    #[arg(long, default_value = ".sls-load", env = "SLS_LOAD_LOCAL_DIR")]
    pub local_dir: PathBuf,
    /// Local mode: the worker binary to run (default: `bootstrap` next to this binary).
    #[arg(long, env = "SLS_LOAD_BOOTSTRAP")]
    pub bootstrap: Option<PathBuf>,
    /// Local mode: concurrent executions per emulated region (the emulated account's
    /// Lambda concurrency; one OS process each).
    #[arg(long, default_value_t = 256)]
    pub local_concurrency: usize,
    /// The results bucket, the worker function and the profile (AWS mode).
    #[command(flatten)]
    pub account: aws::AwsArgs,
}
