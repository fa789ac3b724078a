//! The one boundary where the raw command line ([`crate::cli`], clap types) becomes
//! validated options: the `--target` URL is checked, `--regions` parsed, `--arch`
//! mapped to [`Arch`], the mode (local or AWS) chosen, every run id made a
//! [`RunId`] in [`run_id`] alone, and `-e NAME=VALUE` checked into [`EnvVars`],
//! which also takes what it lacks from this process's environment.
//!
//! Below this module nothing sees a clap type. It does not read the scenario,
//! start anything or plan; checks that need the scenario stay in [`sls_load_plan::plan`]
//! and [`sls_load_plan::scenario`].

pub mod aws;
mod cloud;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use rand::Rng;
use sls_load_core::job::{Region, ResultsLocation, RunId, VuStage};

use crate::cli::{
    self, ArchArg, CiArgs, CompareArgs, PlanArgs, PlanFlags, ReportArgs, RunArgs, RunsArgs,
    StopArgs,
};
pub use crate::cloud::CloudOptions;
use crate::export::out::OutSpec;
use sls_load_plan::plan::{Arch, Layout, PlanError, PlanOptions};
use sls_load_plan::scenario::Scenario;
use sls_load_plan::scenario::overrides::Overrides;

/// A command line that cannot be turned into options.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// `--target` is not an HTTP(S) URL.
    #[error("--target `{0}`: expected an http:// or https:// URL")]
    BadTarget(String),
    /// A run id, region or other name that is not a safe name.
    #[error("{flag}: {source}")]
    BadName {
        /// The flag or argument (`RUN_ID`, `--regions`, ...).
        flag: &'static str,
        /// What is wrong with the value.
        source: sls_load_core::id::IdError,
    },
    /// `-e` without `NAME=` (the value itself is not repeated: it may be a secret).
    #[error("-e/--env: expected NAME=VALUE")]
    EnvWithoutName,
    /// `-e NAME=VALUE` with an unusable name.
    #[error("-e/--env `{0}`: a name is letters, digits and `_`, not starting with a digit")]
    BadEnvName(String),
    /// The scenario uses `{{__ENV.NAME}}` but `NAME` is set nowhere.
    #[error("`{{{{__ENV.{0}}}}}` is not set: pass -e {0}=VALUE or set {0} in the environment")]
    EnvUnset(String),
    /// `--regions` named something that is not an AWS region or k6 load zone
    /// (shown, not chained as a source, so its suggestion is said once).
    #[error("--regions: {0}")]
    UnknownZone(sls_load_plan::zones::UnknownZone),
    /// `--regions NAME=WEIGHT` with a weight that is not a number > 0.
    #[error("--regions `{0}`: the weight after `=` must be a number > 0, e.g. us-east-1=50")]
    BadWeight(String),
    /// A k6 override flag (`--vus`, `--stage`, ...) with an unusable value.
    #[error("{flag} `{value}`: {expected}")]
    BadOverride {
        /// The flag.
        flag: &'static str,
        /// The value as typed.
        value: String,
        /// What the flag takes.
        expected: &'static str,
    },
    /// `--heartbeat` shorter than workers can check.
    #[error("--heartbeat {}: must be at least {}", humantime::format_duration(*.0), humantime::format_duration(sls_load_core::control::MIN_HEARTBEAT))]
    ShortHeartbeat(Duration),
    /// An output file flag (`--summary-export`, `--junit`, `--k6-summary`) naming a
    /// file that cannot be written: checked before the run starts, not after it ended.
    #[error("{flag} {}: cannot be written: {reason}", path.display())]
    Unwritable {
        /// The flag.
        flag: &'static str,
        /// The file as given.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// `compare --tolerance` that cannot be read.
    #[error(transparent)]
    BadTolerance(#[from] sls_load_report::compare::ToleranceError),
    /// `runs --limit 0`.
    #[error("--limit: expected 1 or more runs")]
    ZeroLimit,
    /// `--max-cost` that is negative or not a number.
    #[error("--max-cost {0}: expected an amount of USD, 0 or more")]
    BadMaxCost(f64),
    /// An `--out` value that names no known output or an unusable URL.
    #[error(transparent)]
    BadOut(#[from] crate::export::out::OutSpecError),
    /// `sls-load.toml` cannot be used.
    #[error(transparent)]
    Project(#[from] crate::project::ProjectError),
    /// A `deploy`/`doctor`/`destroy` flag that cannot be used.
    #[error("{flag} `{value}`: {expected}")]
    BadAws {
        /// The flag.
        flag: &'static str,
        /// The value as typed.
        value: String,
        /// What it takes.
        expected: &'static str,
    },
}

/// k6's override flags, validated.
fn overrides(flags: &PlanFlags) -> Result<Overrides, OptionsError> {
    let bad = |flag, value: String, expected| OptionsError::BadOverride {
        flag,
        value,
        expected,
    };
    if let Some(vus) = flags.vus.filter(|v| *v == 0) {
        return Err(bad("--vus", vus.to_string(), "at least 1 VU"));
    }
    if let Some(d) = flags.duration.filter(Duration::is_zero) {
        let shown = humantime::format_duration(d).to_string();
        return Err(bad("--duration", shown, "a duration above 0, like 30s"));
    }
    if let Some(n) = flags
        .iterations
        .filter(|n| *n == 0 || *n > u64::from(u32::MAX))
    {
        return Err(bad("--iterations", n.to_string(), "a whole number from 1"));
    }
    if let Some(r) = flags.rate.filter(|r| !r.is_finite() || *r <= 0.0) {
        return Err(bad(
            "--rate",
            r.to_string(),
            "iterations per second above 0",
        ));
    }
    let stages = flags
        .stages
        .iter()
        .map(|text| {
            stage(text).ok_or_else(|| {
                bad(
                    "--stage",
                    text.clone(),
                    "DURATION:TARGET, like 30s:100 (a duration, then whole VUs)",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Overrides {
        vus: flags.vus,
        duration: flags.duration,
        iterations: flags.iterations,
        stages,
        rate: flags.rate,
    })
}

/// One `--stage DURATION:TARGET`.
fn stage(text: &str) -> Option<VuStage> {
    let (duration, target) = text.split_once(':')?;
    Some(VuStage {
        duration: sls_load_core::duration::parse(duration).ok()?,
        target: target.trim().parse().ok()?,
    })
}

/// `value` as a validated name, or the error naming `flag`.
fn name<T: std::str::FromStr<Err = sls_load_core::id::IdError>>(
    flag: &'static str,
    value: &str,
) -> Result<T, OptionsError> {
    value
        .parse()
        .map_err(|source| OptionsError::BadName { flag, source })
}

/// One `--regions` item: `us-east-1`, `amazon:us:ashburn` or either with `=WEIGHT`.
fn load_zone(item: &str) -> Result<(Region, Option<f64>), OptionsError> {
    let (zone, weight) = match item.rsplit_once('=') {
        Some((zone, weight)) => {
            let weight = weight
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|w| w.is_finite() && *w > 0.0)
                .ok_or_else(|| OptionsError::BadWeight(item.trim().to_owned()))?;
            (zone, Some(weight))
        }
        None => (item, None),
    };
    let region = sls_load_plan::zones::region(zone).map_err(OptionsError::UnknownZone)?;
    Ok((region, weight))
}

/// A subcommand with its validated options.
#[derive(Debug, Clone)]
pub enum CommandOptions {
    /// `sls-load run`.
    Run(Box<RunOptions>),
    /// `sls-load plan`.
    Plan(PlanOnlyOptions),
    /// `sls-load report RUN_ID`.
    Report(ReportOptions),
    /// `sls-load watch RUN_ID`.
    Watch(ReportOptions),
    /// `sls-load stop RUN_ID`.
    Stop(StopOptions),
    /// `sls-load runs`.
    Runs(RunsOptions),
    /// `sls-load compare RUN_A RUN_B`.
    Compare(CompareOptions),
    /// `sls-load deploy`.
    Deploy(Box<crate::deploy::DeploySettings>),
    /// `sls-load doctor`.
    Doctor(Box<crate::options::aws::DoctorOptions>),
    /// `sls-load destroy`.
    Destroy(crate::deploy::DestroySettings),
    /// `sls-load local-lambda` (hidden, for tests).
    LocalLambda(crate::options::aws::LocalLambdaOptions),
}

impl CommandOptions {
    /// Validates the parsed command line.
    pub fn from_cli(command: cli::Command) -> Result<CommandOptions, OptionsError> {
        Ok(match command {
            cli::Command::Run(args) => CommandOptions::Run(Box::new(RunOptions::from_cli(*args)?)),
            cli::Command::Plan(args) => CommandOptions::Plan(PlanOnlyOptions::from_cli(args)?),
            cli::Command::Report(args) => CommandOptions::Report(ReportOptions::from_cli(args)?),
            cli::Command::Watch(args) => CommandOptions::Watch(ReportOptions::from_cli(args)?),
            cli::Command::Stop(args) => CommandOptions::Stop(StopOptions::from_cli(args)?),
            cli::Command::Runs(args) => CommandOptions::Runs(RunsOptions::from_cli(args)?),
            cli::Command::Compare(args) => CommandOptions::Compare(CompareOptions::from_cli(args)?),
            cli::Command::Deploy(args) => {
                CommandOptions::Deploy(Box::new(crate::options::aws::deploy(args)?))
            }
            cli::Command::Doctor(args) => {
                CommandOptions::Doctor(Box::new(crate::options::aws::doctor(args)?))
            }
            cli::Command::Destroy(args) => {
                CommandOptions::Destroy(crate::options::aws::destroy(args)?)
            }
            cli::Command::LocalLambda(args) => {
                CommandOptions::LocalLambda(crate::options::aws::local_lambda(args)?)
            }
        })
    }
}

/// `--junit` and `--k6-summary`, each checked writable.
#[derive(Debug, Clone, Default)]
pub struct CiOutputs {
    /// `--junit`: write a JUnit XML report here.
    pub junit: Option<PathBuf>,
    /// `--k6-summary`: write the summary in k6's `--summary-export` shape here.
    pub k6_summary: Option<PathBuf>,
    /// `--html`: write the HTML report here too.
    pub html: Option<PathBuf>,
    /// `--open`: open the HTML report in the browser when written.
    pub open: bool,
}

impl CiOutputs {
    /// Validates the CI report flags: each file can be written.
    pub fn from_cli(args: CiArgs) -> Result<CiOutputs, OptionsError> {
        Ok(CiOutputs {
            junit: args.junit.map(|p| writable("--junit", p)).transpose()?,
            k6_summary: args
                .k6_summary
                .map(|p| writable("--k6-summary", p))
                .transpose()?,
            html: args.html.map(|p| writable("--html", p)).transpose()?,
            open: args.open,
        })
    }
}

/// How a run is planned: the planning flags shared by `run` and `plan`.
#[derive(Debug, Clone)]
pub struct PlanSettings {
    /// `--regions`: the run's load zones as AWS regions, each with the weight
    /// given after `=` (`us-east-1=50`), if any.
    pub regions: Option<Vec<(Region, Option<f64>)>>,
    /// `--workers`: total worker slots.
    pub workers: Option<usize>,
    /// `--slice`: the longest slice one invocation runs.
    pub max_slice: Duration,
    /// `--memory`: the worker function's memory, MB.
    pub memory_mb: u32,
    /// `--arch`: the worker function's architecture.
    pub arch: Arch,
    /// `--flush-every`: how often workers flush their interval logs.
    pub flush_every: Duration,
    /// `--max-cost`: the most USD the plan's estimate may be.
    pub max_cost: Option<f64>,
    /// k6's `--vus`, `--duration`, `--iterations`, `--stage` and `--rate`.
    pub overrides: Overrides,
    /// `--expect-latency`: the response time closed-model rate estimates assume.
    pub expect_latency: Duration,
}

impl PlanSettings {
    /// Validates the planning flags.
    pub fn from_cli(flags: PlanFlags) -> Result<PlanSettings, OptionsError> {
        let overrides = overrides(&flags)?;
        // What `deploy` deployed (sls-load.toml) when the flags do not say.
        let deployed = match (flags.memory, flags.arch) {
            (Some(_), Some(_)) => Default::default(),
            _ => crate::project::ProjectFile::load()?
                .map(|p| p.aws)
                .unwrap_or_default(),
        };
        let regions = match flags.regions {
            Some(rs) => Some(
                rs.iter()
                    .map(|r| load_zone(r))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        Ok(PlanSettings {
            overrides,
            regions,
            workers: flags.workers,
            max_slice: flags.slice,
            memory_mb: flags
                .memory
                .or(deployed.memory)
                .unwrap_or(DEFAULT_MEMORY_MB),
            arch: match flags.arch {
                Some(ArchArg::Arm64) => Arch::Arm64,
                Some(ArchArg::X86_64) => Arch::X86_64,
                None if deployed.arch.as_deref() == Some("arm64") => Arch::Arm64,
                None => Arch::X86_64,
            },
            flush_every: flags.flush_every,
            expect_latency: flags.expect_latency,
            max_cost: match flags.max_cost {
                Some(usd) if !(usd >= 0.0 && usd.is_finite()) => {
                    return Err(OptionsError::BadMaxCost(usd));
                }
                usd => usd,
            },
        })
    }

    /// The regions and worker slots these settings give `scenario` (see [`sls_load_plan::plan::layout`]).
    pub fn layout(&self, scenario: &Scenario) -> Result<Layout, PlanError> {
        sls_load_plan::plan::layout(
            scenario,
            self.regions.as_deref(),
            self.workers,
            self.max_slice,
            self.memory_mb,
        )
    }

    /// The plan options of run `run_id`, planned `now`, starting `lead` later and
    /// writing to `results`.
    pub fn plan_options(
        &self,
        run_id: RunId,
        now: SystemTime,
        lead: Duration,
        results: ResultsLocation,
    ) -> PlanOptions {
        PlanOptions {
            run_id,
            now,
            lead,
            regions: self.regions.clone(),
            workers: self.workers,
            results,
            flush_every: self.flush_every,
            max_slice: self.max_slice,
            memory_mb: self.memory_mb,
            arch: self.arch,
        }
    }
}

/// `-e NAME=VALUE` as given (later ones win). `Debug` shows names only.
#[derive(Clone, Default)]
pub struct EnvVars(pub(crate) BTreeMap<String, String>);

impl std::fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl EnvVars {
    /// Validates the `-e` arguments.
    pub fn from_cli(args: &[String]) -> Result<EnvVars, OptionsError> {
        let mut vars = BTreeMap::new();
        for arg in args {
            let (name, value) = arg.split_once('=').ok_or(OptionsError::EnvWithoutName)?;
            if !sls_load_core::template::is_env_name(name) {
                return Err(OptionsError::BadEnvName(name.to_owned()));
            }
            vars.insert(name.to_owned(), value.to_owned());
        }
        Ok(EnvVars(vars))
    }

    /// The values of `names` (a scenario's `{{__ENV.NAME}}` variables): given with
    /// `-e`, else from this process's environment; the first set nowhere is an error.
    pub fn resolve(
        &self,
        names: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, String>, OptionsError> {
        self.resolve_with(names, |name| std::env::var(name).ok())
    }

    /// [`EnvVars::resolve`] with `lookup` standing for the environment.
    fn resolve_with(
        &self,
        names: &BTreeSet<String>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<BTreeMap<String, String>, OptionsError> {
        names
            .iter()
            .map(|name| {
                let value = self.0.get(name).cloned().or_else(|| lookup(name));
                value
                    .map(|v| (name.clone(), v))
                    .ok_or_else(|| OptionsError::EnvUnset(name.clone()))
            })
            .collect()
    }
}

/// `sls-load run`, validated.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The scenario file.
    pub scenario: PathBuf,
    /// `-e NAME=VALUE`: values of `{{__ENV.NAME}}`.
    pub env: EnvVars,
    /// `--target`: an http(s) base URL without a trailing `/`, replacing the scenario's.
    pub target: Option<String>,
    /// How the run is planned.
    pub plan: PlanSettings,
    /// The run's id: `--run-id` or a new one.
    pub run_id: RunId,
    /// `--lead`: time from planning to the start instant (default by mode).
    pub lead: Option<Duration>,
    /// `--invoke-concurrency`: invocations in flight per region.
    pub invoke_concurrency: usize,
    /// Test hook (local mode): kill one busy worker process this long after the start.
    pub local_fault_kill_after: Option<Duration>,
    /// `--heartbeat`: the dead-man switch's period, at least
    /// [`MIN_HEARTBEAT`](sls_load_core::control::MIN_HEARTBEAT).
    pub heartbeat: Option<Duration>,
    /// `--no-network-profiles`: local regions reach the target directly.
    pub no_network_profiles: bool,
    /// `--yes`: a big run at a host not in `allowed_targets` is meant.
    pub yes: bool,
    /// `--quiet`: no live progress display.
    pub quiet: bool,
    /// `--timings`: print each slice's fan-out time.
    pub timings: bool,
    /// `--summary-export`: write the summary JSON here too.
    pub summary_export: Option<PathBuf>,
    /// `--junit` and `--k6-summary`.
    pub ci: CiOutputs,
    /// `--out`: where the per-second points are streamed.
    pub outputs: Vec<OutSpec>,
    /// Where to run and store.
    pub cloud: CloudOptions,
    /// `--allow-exec`: the scenario's `run:` events may execute their commands.
    pub allow_exec: bool,
}

impl RunOptions {
    /// Validates `sls-load run`'s arguments.
    pub fn from_cli(args: RunArgs) -> Result<RunOptions, OptionsError> {
        Ok(RunOptions {
            target: args.target.map(target).transpose()?,
            env: EnvVars::from_cli(&args.env)?,
            run_id: run_id(args.run_id.unwrap_or_else(new_run_id))?,
            scenario: args.scenario,
            plan: PlanSettings::from_cli(args.plan)?,
            lead: args.lead,
            invoke_concurrency: args.invoke_concurrency,
            local_fault_kill_after: args.local_fault_kill_after,
            heartbeat: args.heartbeat.map(heartbeat).transpose()?,
            no_network_profiles: args.no_network_profiles,
            yes: args.yes,
            quiet: args.quiet,
            timings: args.timings,
            summary_export: summary_export(args.output.summary_export)?,
            ci: CiOutputs::from_cli(args.output.ci)?,
            outputs: out_specs(args.output.out)?,
            cloud: cloud::cloud(args.cloud)?,
            allow_exec: args.allow_exec,
        })
    }
}

/// `sls-load plan`, validated.
#[derive(Debug, Clone)]
pub struct PlanOnlyOptions {
    /// The scenario file.
    pub scenario: PathBuf,
    /// How the run would be planned.
    pub plan: PlanSettings,
    /// The run id written into the printed plan.
    pub run_id: RunId,
    /// `--json`: print the plan as JSON instead of a table.
    pub json: bool,
}

impl PlanOnlyOptions {
    /// Validates `sls-load plan`'s arguments.
    pub fn from_cli(args: PlanArgs) -> Result<PlanOnlyOptions, OptionsError> {
        // Checked like `run`'s `-e`, but a plan needs no values: it shows references.
        EnvVars::from_cli(&args.env)?;
        Ok(PlanOnlyOptions {
            scenario: args.scenario,
            plan: PlanSettings::from_cli(args.plan)?,
            run_id: run_id("planned".to_owned())?,
            json: args.json,
        })
    }
}

/// `sls-load report RUN_ID` and `sls-load watch RUN_ID`, validated.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The run.
    pub run_id: RunId,
    /// `--summary-export`: write the summary JSON here too.
    pub summary_export: Option<PathBuf>,
    /// `--junit` and `--k6-summary`.
    pub ci: CiOutputs,
    /// `--out`: where the per-second points are sent.
    pub outputs: Vec<OutSpec>,
    /// Where the run's results are.
    pub cloud: CloudOptions,
}

impl ReportOptions {
    /// Validates `sls-load report`'s (or `watch`'s) arguments.
    pub fn from_cli(args: ReportArgs) -> Result<ReportOptions, OptionsError> {
        Ok(ReportOptions {
            run_id: run_id(args.run_id)?,
            summary_export: summary_export(args.output.summary_export)?,
            ci: CiOutputs::from_cli(args.output.ci)?,
            outputs: out_specs(args.output.out)?,
            cloud: cloud::cloud(args.cloud)?,
        })
    }
}

/// `--summary-export`, checked writable.
fn summary_export(path: Option<PathBuf>) -> Result<Option<PathBuf>, OptionsError> {
    path.map(|p| writable("--summary-export", p)).transpose()
}

/// `--out` values: each a known output with a usable URL, its file (if any)
/// checked writable like every output file flag.
pub fn out_specs(raw: Vec<String>) -> Result<Vec<OutSpec>, OptionsError> {
    raw.iter()
        .map(|spec| {
            let out = OutSpec::parse(spec)?;
            match out.file().cloned() {
                Some(path) => Ok(out.with_file(writable("--out", path)?)),
                None => Ok(out),
            }
        })
        .collect()
}

/// `sls-load stop RUN_ID`, validated.
#[derive(Debug, Clone)]
pub struct StopOptions {
    /// The run.
    pub run_id: RunId,
    /// Where the run's results are.
    pub cloud: CloudOptions,
}

impl StopOptions {
    /// Validates `sls-load stop`'s arguments.
    pub fn from_cli(args: StopArgs) -> Result<StopOptions, OptionsError> {
        Ok(StopOptions {
            run_id: run_id(args.run_id)?,
            cloud: cloud::cloud(args.cloud)?,
        })
    }
}

/// `sls-load runs`, validated.
#[derive(Debug, Clone)]
pub struct RunsOptions {
    /// At most this many runs, the newest (1 or more).
    pub limit: usize,
    /// `--json`: a JSON array instead of a table.
    pub json: bool,
    /// Where the runs are.
    pub cloud: CloudOptions,
}

impl RunsOptions {
    /// Validates `sls-load runs`'s arguments.
    pub fn from_cli(args: RunsArgs) -> Result<RunsOptions, OptionsError> {
        if args.limit == 0 {
            return Err(OptionsError::ZeroLimit);
        }
        Ok(RunsOptions {
            limit: args.limit,
            json: args.json,
            cloud: cloud::cloud(args.cloud)?,
        })
    }
}

/// `sls-load compare RUN_A RUN_B`, validated.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// The baseline run.
    pub run_a: RunId,
    /// The run judged against it.
    pub run_b: RunId,
    /// `--tolerance` over the defaults.
    pub tolerances: sls_load_report::compare::Tolerances,
    /// `--json`: the comparison as JSON.
    pub json: bool,
    /// Where the runs are.
    pub cloud: CloudOptions,
}

impl CompareOptions {
    /// Validates `sls-load compare`'s arguments.
    pub fn from_cli(args: CompareArgs) -> Result<CompareOptions, OptionsError> {
        Ok(CompareOptions {
            run_a: run_id(args.run_a)?,
            run_b: run_id(args.run_b)?,
            tolerances: sls_load_report::compare::Tolerances::parse(
                args.tolerance.as_deref().unwrap_or(""),
            )?,
            json: args.json,
            cloud: cloud::cloud(args.cloud)?,
        })
    }
}

/// `--heartbeat`: at least [`MIN_HEARTBEAT`](sls_load_core::control::MIN_HEARTBEAT).
fn heartbeat(period: Duration) -> Result<Duration, OptionsError> {
    if period < sls_load_core::control::MIN_HEARTBEAT {
        return Err(OptionsError::ShortHeartbeat(period));
    }
    Ok(period)
}

/// The one place a run id from the command line (or a generated one) becomes a [`RunId`].
pub fn run_id(raw: String) -> Result<RunId, OptionsError> {
    name("run id", &raw)
}

/// `--target`: an http:// or https:// URL, without its trailing `/`.
fn target(raw: String) -> Result<String, OptionsError> {
    if raw.starts_with("http://") || raw.starts_with("https://") {
        Ok(raw.trim_end_matches('/').to_owned())
    } else {
        Err(OptionsError::BadTarget(raw))
    }
}

/// An output file `flag` names, checked before anything runs: its directory
/// exists, it is no directory, an existing file opens for appending (its content
/// untouched) and a new one's directory is not read-only. Nothing is created;
/// the file is written for real only when the run ends.
pub fn writable(flag: &'static str, path: PathBuf) -> Result<PathBuf, OptionsError> {
    let bad = |reason: String| OptionsError::Unwritable {
        flag,
        path: path.clone(),
        reason,
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let dir = std::fs::metadata(parent)
        .map_err(|e| bad(format!("directory {}: {e}", parent.display())))?;
    if !dir.is_dir() {
        return Err(bad(format!("{} is not a directory", parent.display())));
    }
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => Err(bad("is a directory".to_owned())),
        Ok(_) => std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map(|_| path.clone())
            .map_err(|e| bad(format!("cannot be written: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dir.permissions().readonly() {
                Err(bad(format!("directory {} is read-only", parent.display())))
            } else {
                Ok(path)
            }
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

/// The worker's memory when neither a flag nor `sls-load.toml` says: one full vCPU,
/// what infra/ deploys.
pub const DEFAULT_MEMORY_MB: u32 = 1769;

/// The worker function's name when neither a flag nor `sls-load.toml` names one.
pub const DEFAULT_FUNCTION: &str = "sls-load-worker";

/// A new run id: UTC start time plus four random hex digits, so ids sort by time.
fn new_run_id() -> String {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let stamp: String = now.chars().filter(|c| c.is_ascii_digit()).collect();
    let (date, time) = stamp.split_at(8.min(stamp.len()));
    format!("{date}-{time}-{:04x}", rand::rng().random::<u16>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(args: &[&str]) -> Result<EnvVars, OptionsError> {
        EnvVars::from_cli(&args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn regions_items_are_load_zones_with_an_optional_weight() {
        let zone = |item: &str| load_zone(item).map(|(r, w)| (r.to_string(), w));
        assert_eq!(zone(" us-east-1 ").unwrap(), ("us-east-1".into(), None));
        assert_eq!(
            zone("amazon:us:ashburn=50").unwrap(),
            ("us-east-1".into(), Some(50.0))
        );
        assert_eq!(
            zone("amazon:eu-west-1=0.3").unwrap(),
            ("eu-west-1".into(), Some(0.3))
        );
        assert_eq!(
            zone("us-eest-1").unwrap_err().to_string(),
            "--regions: `us-eest-1` is not an AWS region or k6 load zone; did you mean us-east-1?"
        );
        for bad in ["us-east-1=0", "us-east-1=x", "us-east-1=", "us-east-1=-2"] {
            assert!(
                matches!(zone(bad), Err(OptionsError::BadWeight(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn env_flags_are_name_value_pairs_and_later_ones_win() {
        let vars = env(&["A=1", "B=x=y", "A=2", "E="]).expect("valid");
        assert_eq!(vars.0["A"], "2");
        assert_eq!(vars.0["B"], "x=y");
        assert_eq!(vars.0["E"], "");
        assert_eq!(format!("{vars:?}"), r#"{"A", "B", "E"}"#);
        let e = env(&["s3cret"]).expect_err("no name");
        assert_eq!(e.to_string(), "-e/--env: expected NAME=VALUE");
        let e = env(&["a-b=s3cret"]).expect_err("bad name");
        assert!(
            e.to_string().starts_with("-e/--env `a-b`: a name is"),
            "{e}"
        );
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn ci_output_files_are_checked_writable_before_the_run_and_left_as_they_were() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fresh = dir.path().join("junit.xml");
        assert_eq!(writable("--junit", fresh.clone()).expect("writable"), fresh);
        assert!(!fresh.exists(), "the check creates no file");
        let old = dir.path().join("k6.json");
        std::fs::write(&old, "old").expect("write");
        writable("--k6-summary", old.clone()).expect("writable");
        assert_eq!(std::fs::read_to_string(&old).expect("read"), "old");
        let e = writable("--junit", dir.path().join("no/such/dir/j.xml")).expect_err("no dir");
        assert!(
            e.to_string().starts_with("--junit ") && e.to_string().contains("cannot be written"),
            "{e}"
        );
        let e = writable("--k6-summary", dir.path().to_owned()).expect_err("a directory");
        assert!(e.to_string().starts_with("--k6-summary "), "{e}");
    }

    #[test]
    fn env_values_come_from_the_flags_then_the_environment() {
        let vars = env(&["A=flag"]).expect("valid");
        let names: BTreeSet<String> = ["A", "B"].map(String::from).into();
        let lookup = |name: &str| (name != "C").then(|| format!("env-{name}"));
        let values = vars.resolve_with(&names, lookup).expect("all set");
        assert_eq!(values["A"], "flag");
        assert_eq!(values["B"], "env-B");
        let names: BTreeSet<String> = ["A", "C"].map(String::from).into();
        let e = vars.resolve_with(&names, lookup).expect_err("C is unset");
        assert_eq!(
            e.to_string(),
            "`{{__ENV.C}}` is not set: pass -e C=VALUE or set C in the environment"
        );
        assert!(
            vars.resolve_with(&BTreeSet::new(), lookup)
                .expect("none")
                .is_empty()
        );
    }

    #[test]
    fn a_summary_export_path_is_checked_before_anything_runs_and_nothing_is_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let new = dir.path().join("summary.json");
        assert_eq!(
            writable("--summary-export", new.clone()).expect("writable"),
            new
        );
        assert!(!new.exists(), "the check creates nothing");
        std::fs::write(&new, "kept").expect("write");
        writable("--summary-export", new.clone()).expect("an existing file");
        assert_eq!(std::fs::read_to_string(&new).expect("read"), "kept");

        let missing = dir.path().join("no-such-dir").join("summary.json");
        let err = writable("--summary-export", missing).expect_err("missing directory");
        assert!(matches!(err, OptionsError::Unwritable { .. }), "{err}");
        assert!(err.to_string().contains("no-such-dir"), "{err}");
        let err = writable("--summary-export", dir.path().to_owned()).expect_err("a directory");
        assert!(err.to_string().contains("is a directory"), "{err}");
        let under_file = new.join("x.json");
        let err = writable("--summary-export", under_file).expect_err("a file as directory");
        assert!(err.to_string().contains("not a directory"), "{err}");
        assert!(writable("--summary-export", PathBuf::from("bare-name.json")).is_ok());
    }

    fn max_cost(args: &[&str]) -> Result<Option<f64>, OptionsError> {
        plan_flags(args).map(|p| p.max_cost)
    }

    #[test]
    fn max_cost_is_an_amount_of_usd_zero_or_more() {
        assert_eq!(max_cost(&[]).unwrap(), None);
        assert_eq!(max_cost(&["--max-cost", "1.5"]).unwrap(), Some(1.5));
        assert_eq!(max_cost(&["--max-cost", "0"]).unwrap(), Some(0.0));
        for bad in ["--max-cost=-1", "--max-cost=NaN", "--max-cost=inf"] {
            let err = max_cost(&[bad]).unwrap_err();
            assert!(err.to_string().starts_with("--max-cost"), "{err}");
        }
    }

    fn plan_flags(args: &[&str]) -> Result<PlanSettings, OptionsError> {
        use clap::Parser;
        let mut argv = vec!["sls-load", "plan", "s.yaml"];
        argv.extend_from_slice(args);
        match cli::Cli::try_parse_from(argv).expect("parses").command {
            cli::Command::Plan(p) => PlanSettings::from_cli(p.plan),
            _ => unreachable!("a plan command"),
        }
    }

    #[test]
    fn k6_override_flags_are_validated() {
        let o = plan_flags(&["--vus", "3", "--stage", "30s:100", "--stage", "1m:0"])
            .expect("valid")
            .overrides;
        assert_eq!(o.vus, Some(3));
        assert_eq!(
            o.stages,
            [
                VuStage {
                    duration: Duration::from_secs(30),
                    target: 100
                },
                VuStage {
                    duration: Duration::from_secs(60),
                    target: 0
                }
            ]
        );
        for (args, want) in [
            (
                &["--stage", "30s"][..],
                "--stage `30s`: DURATION:TARGET, like 30s:100",
            ),
            (&["--stage", "30s:1.5"][..], "--stage `30s:1.5`"),
            (&["--vus", "0"][..], "--vus `0`: at least 1 VU"),
            (&["--duration", "0s"][..], "--duration `0s`"),
            (&["--iterations", "0"][..], "--iterations `0`"),
            (
                &["--rate", "0"][..],
                "--rate `0`: iterations per second above 0",
            ),
        ] {
            let e = plan_flags(args).expect_err("refused").to_string();
            assert!(e.contains(want), "{want:?} not in {e}");
        }
    }

    fn command(argv: &[&str]) -> Result<CommandOptions, OptionsError> {
        use clap::Parser;
        let mut all = vec!["sls-load"];
        all.extend_from_slice(argv);
        all.push("--local");
        CommandOptions::from_cli(cli::Cli::try_parse_from(all).expect("parses").command)
    }

    #[test]
    fn compare_takes_two_valid_run_ids_and_tolerances_over_the_defaults() {
        let Ok(CommandOptions::Compare(c)) =
            command(&["compare", "run-a", "run-b", "--tolerance", "p50=5%"])
        else {
            panic!("compare options");
        };
        assert_eq!((c.run_a.as_str(), c.run_b.as_str()), ("run-a", "run-b"));
        assert_eq!(
            (c.tolerances.p50, c.tolerances.p95),
            (Some(5.0), Some(10.0))
        );
        let bad_id = command(&["compare", "run-a", "../b"]).expect_err("refused");
        assert!(matches!(bad_id, OptionsError::BadName { .. }), "{bad_id}");
        let bad_tolerance = command(&["compare", "a", "b", "--tolerance", "p95"]);
        assert!(matches!(bad_tolerance, Err(OptionsError::BadTolerance(_))));
    }

    #[test]
    fn the_html_report_file_is_checked_like_the_other_output_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("report.html");
        let file = file.to_str().expect("utf-8");
        let Ok(CommandOptions::Report(r)) = command(&["report", "run-a", "--html", file, "--open"])
        else {
            panic!("report options");
        };
        assert_eq!(
            (r.ci.html.as_deref(), r.ci.open),
            (Some(std::path::Path::new(file)), true)
        );
        let missing = dir.path().join("no/such/dir/r.html");
        let e = command(&["run", "s.yaml", "--html", missing.to_str().expect("utf-8")])
            .expect_err("refused");
        assert!(e.to_string().starts_with("--html "), "{e}");
    }

    #[test]
    fn runs_lists_at_least_one_run() {
        let Ok(CommandOptions::Runs(r)) = command(&["runs"]) else {
            panic!("runs options");
        };
        assert_eq!((r.limit, r.json), (50, false));
        assert!(matches!(
            command(&["runs", "--limit", "0"]),
            Err(OptionsError::ZeroLimit)
        ));
    }
}
