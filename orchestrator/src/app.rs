//! The subcommands end to end: `run` (scenario → plan → invoke → collect → merge
//! → report) and `report RUN_ID` (collect → merge → report from the store alone).
//!
//! This is glue: it sequences the modules, prints progress to stderr and the
//! summary to stdout, and maps outcomes to exit codes. Errors carry context with
//! anyhow here; every piece it calls has typed errors of its own.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use rand::Rng;
use sls_load_function::job::{ObjectKey, Region, ResultsLocation, RunId};

use crate::cli::{Cli, Command, ReportArgs, RunArgs};
use crate::cloud::{Cloud, Mode, choose_mode};
use crate::collect::{self, Collected};
use crate::invoke::{LambdaInvoker, invoke_all};
use crate::merge::merge;
use crate::plan::{self, PlanOptions};
use crate::report::Summary;
use crate::scenario;
use crate::store::Store;

/// Exit code when every threshold held and every worker reported.
pub const EXIT_OK: u8 = 0;
/// Exit code when the run itself failed or was incomplete (missing workers).
pub const EXIT_RUN_FAILED: u8 = 1;
/// Exit code for bad input: scenario file, flags.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code when the run completed but a threshold failed (k6's code).
pub const EXIT_THRESHOLDS: u8 = 99;
/// Exit code after Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;

/// An error with the exit code it should end the process with.
#[derive(Debug, thiserror::Error)]
#[error("{error:#}")]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// What went wrong.
    pub error: anyhow::Error,
}

fn fail(code: u8, error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code,
        error: error.into(),
    }
}

/// Runs the parsed command line; returns the process exit code.
pub async fn main(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Run(args) => run(args).await,
        Command::Report(args) => report(args).await,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("error: {}", one_line(&format!("{:#}", f.error)));
            ExitCode::from(f.code)
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `sls-load run`.
pub async fn run(args: RunArgs) -> Result<u8, Failure> {
    let mut scenario = scenario::load(&args.scenario).map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    if let Some(target) = &args.target {
        if !(target.starts_with("http://") || target.starts_with("https://")) {
            return Err(fail(
                EXIT_BAD_INPUT,
                anyhow::anyhow!("--target `{target}`: expected an http:// or https:// URL"),
            ));
        }
        scenario.target = target.trim_end_matches('/').to_owned();
    }
    let run_id = RunId(args.run_id.clone().unwrap_or_else(new_run_id));
    let mode = choose_mode(&args.cloud);
    let mut opts = PlanOptions {
        run_id: run_id.clone(),
        now: SystemTime::now(),
        lead: Duration::ZERO,
        regions: args
            .regions
            .as_ref()
            .map(|rs| rs.iter().map(|r| Region::from(r.trim())).collect()),
        workers: args.workers,
        results: ResultsLocation {
            bucket: String::new(),
            region: Region::from("us-east-1"),
        },
        flush_every: args.flush_every,
    };
    // Plan once to validate flags before starting anything.
    let draft = plan::plan(&scenario, &opts).map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    let regions: Vec<Region> = draft.regions.iter().map(|r| r.region.clone()).collect();
    let cloud = Cloud::for_run(&args.cloud, mode, &regions)
        .await
        .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    eprintln!(
        "sls-load: run {run_id} · {} · {} workers over {} regions",
        match mode {
            Mode::Local => format!("local ({})", args.cloud.local_dir.display()),
            Mode::Aws => "AWS".into(),
        },
        draft.worker_count(),
        regions.len()
    );
    let outcome = tokio::select! {
        r = run_planned(&args, &cloud, &scenario, &mut opts, draft.worker_count()) => r,
        _ = tokio::signal::ctrl_c() => Err(fail(
            EXIT_INTERRUPTED,
            anyhow::anyhow!("interrupted; what workers stored so far stays in the store: `sls-load report {run_id}`"),
        )),
    };
    cloud.shutdown().await;
    outcome
}

async fn run_planned(
    args: &RunArgs,
    cloud: &Cloud,
    scenario: &scenario::Scenario,
    opts: &mut PlanOptions,
    workers: usize,
) -> Result<u8, Failure> {
    opts.results = ResultsLocation {
        bucket: cloud.bucket.0.clone(),
        region: cloud.bucket.1.clone(),
    };
    opts.lead = args.lead.unwrap_or(match cloud.mode {
        Mode::Local => Duration::from_secs(2) + Duration::from_millis(20) * workers as u32,
        Mode::Aws => Duration::from_secs(10),
    });
    opts.now = SystemTime::now();
    let plan = plan::plan(scenario, opts).map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    let run_id = plan.run_id.clone();
    let body = serde_json::to_vec_pretty(&plan)
        .context("encoding the plan")
        .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    cloud
        .store
        .put(&ObjectKey::plan(&run_id), body, "application/json")
        .await
        .map_err(|e| fail(EXIT_RUN_FAILED, e))?;

    let invoker = LambdaInvoker::new(cloud.lambda.clone(), args.cloud.function.clone());
    let failures = invoke_all(
        &invoker,
        &plan.jobs,
        args.invoke_concurrency,
        Duration::from_millis(100),
        || {},
    )
    .await;
    for f in &failures {
        eprintln!("sls-load: {f}");
    }
    if failures.len() == plan.worker_count() {
        return Err(fail(
            EXIT_RUN_FAILED,
            anyhow::anyhow!(
                "no worker could be invoked ({} failures; first: {})",
                failures.len(),
                failures.first().map(|f| f.message.as_str()).unwrap_or("?")
            ),
        ));
    }
    let start_in = plan
        .start_at
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    eprintln!(
        "sls-load: {} workers invoked; load starts in {:.1}s and lasts {}",
        plan.worker_count() - failures.len(),
        start_in.as_secs_f64(),
        humantime::format_duration(plan.duration)
    );
    let grace = match cloud.mode {
        Mode::Local => Duration::from_secs(15),
        Mode::Aws => Duration::from_secs(60),
    };
    let mut last = usize::MAX;
    collect::wait_for_workers(
        &cloud.store,
        &plan,
        plan.load_ends_at() + grace,
        Duration::from_millis(500),
        |done, planned| {
            if done != last && SystemTime::now() >= plan.start_at + plan.duration {
                eprintln!("sls-load: {done}/{planned} workers reported");
                last = done;
            }
        },
    )
    .await
    .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    finish(cloud, &run_id, args.summary_export.as_deref()).await
}

/// Collects, merges, stores and prints the summary of `run_id`; returns the exit code.
async fn finish(cloud: &Cloud, run_id: &RunId, export: Option<&Path>) -> Result<u8, Failure> {
    let collected: Collected = collect::collect(&cloud.store, run_id)
        .await
        .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    let merged = merge(&collected.logs, collected.plan.start_at);
    let summary = Summary::build(&collected, &merged);
    let json = serde_json::to_vec_pretty(&summary)
        .context("encoding the summary")
        .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    if let Err(e) = cloud
        .store
        .put(
            &ObjectKey::summary(run_id),
            json.clone(),
            "application/json",
        )
        .await
    {
        eprintln!("sls-load: warning: summary not stored: {e}");
    }
    if let Some(path) = export {
        std::fs::write(path, &json)
            .with_context(|| format!("--summary-export {}", path.display()))
            .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    }
    println!("{}", summary.render());
    if cloud.mode == Mode::Local {
        println!(
            "  results: {}/{}",
            cloud.store.location(),
            ObjectKey::run_prefix(run_id)
        );
    }
    for p in &summary.workers.problems {
        eprintln!("sls-load: warning: {p}");
    }
    if !summary.workers.missing.is_empty() {
        return Err(fail(
            EXIT_RUN_FAILED,
            anyhow::anyhow!(
                "{} of {} workers did not report ({}); their flushed intervals are included; rebuild later with `sls-load report {run_id}`",
                summary.workers.missing.len(),
                summary.workers.planned,
                summary.workers.missing.join(", ")
            ),
        ));
    }
    if !summary.thresholds_ok() {
        let failed: Vec<String> = summary
            .thresholds
            .iter()
            .filter(|t| !t.ok)
            .map(|t| format!("{} {}", t.metric, t.expr))
            .collect();
        eprintln!("error: thresholds crossed: {}", failed.join(", "));
        return Ok(EXIT_THRESHOLDS);
    }
    Ok(EXIT_OK)
}

/// `sls-load report RUN_ID`.
pub async fn report(args: ReportArgs) -> Result<u8, Failure> {
    let mode = choose_mode(&args.cloud);
    let cloud = Cloud::store_only(&args.cloud, mode)
        .await
        .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    let outcome = finish(
        &cloud,
        &RunId(args.run_id.clone()),
        args.summary_export.as_deref(),
    )
    .await;
    cloud.shutdown().await;
    outcome
}

/// A new run id: UTC start time plus four random hex digits, so ids sort by time.
fn new_run_id() -> String {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let stamp: String = now.chars().filter(|c| c.is_ascii_digit()).collect();
    let (date, time) = stamp.split_at(8.min(stamp.len()));
    format!("{date}-{time}-{:04x}", rand::rng().random::<u16>())
}
