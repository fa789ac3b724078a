//! The subcommands end to end: `run` (scenario → plan → invoke → collect → merge
//! → report) and `report RUN_ID` (collect → merge → report from the store alone).
//!
//! This is glue: it sequences the modules, prints progress to stderr and the
//! summary to stdout, and maps outcomes to exit codes. Errors carry context with
//! anyhow here; every piece it calls has typed errors of its own.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use rand::Rng;
use sls_load_core::job::{Job, ObjectKey, Region, ResultsLocation, RunId};

use crate::cli::{Cli, Command, PlanArgs, PlanFlags, ReportArgs, RunArgs};
use crate::cloud::{Cloud, Mode, choose_mode};
use crate::collect::{self, Collected};
use crate::invoke::{LambdaInvoker, invoke_all};
use crate::plan::{self, Plan, PlanOptions};
use crate::progress::{self, Display};
use crate::report::{self, Summary};
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
        Command::Plan(args) => plan_only(args).await,
        Command::Report(args) => report(args).await,
        Command::Watch(args) => watch(args).await,
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

/// Loads the scenario and applies `--target`.
fn load_scenario(path: &Path, target: Option<&str>) -> Result<scenario::Scenario, Failure> {
    let mut scenario = scenario::load(path).map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    if let Some(target) = target {
        if !(target.starts_with("http://") || target.starts_with("https://")) {
            return Err(fail(
                EXIT_BAD_INPUT,
                anyhow::anyhow!("--target `{target}`: expected an http:// or https:// URL"),
            ));
        }
        scenario.target = target.trim_end_matches('/').to_owned();
    }
    Ok(scenario)
}

/// Plan options from the flags; `lead` and `results` are filled in by the caller.
fn plan_options(flags: &PlanFlags, run_id: RunId, lead: Duration) -> Result<PlanOptions, Failure> {
    let regions = match &flags.regions {
        Some(rs) => Some(
            rs.iter()
                .map(|r| {
                    Region::new(r.trim())
                        .map_err(|e| fail(EXIT_BAD_INPUT, anyhow::anyhow!("--regions: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    Ok(PlanOptions {
        run_id,
        now: SystemTime::now(),
        lead,
        regions,
        workers: flags.workers,
        results: ResultsLocation {
            bucket: String::new(),
            region: Region::us_east_1(),
        },
        flush_every: flags.flush_every,
        max_slice: flags.slice,
        memory_mb: flags.memory,
        arch: flags.arch,
    })
}

/// Concurrent executions each region needs: its slots, twice during slice hand-over
/// (the next slice is invoked before the current one ends).
fn concurrency_needed(plan: &Plan) -> BTreeMap<Region, usize> {
    plan.regions
        .iter()
        .map(|r| {
            let factor = if plan.slices > 1 { 2 } else { 1 };
            (r.region.clone(), r.slots * factor)
        })
        .collect()
}

/// `sls-load plan`: prints the plan and its estimated cost.
pub async fn plan_only(args: PlanArgs) -> Result<u8, Failure> {
    let scenario = load_scenario(&args.scenario, None)?;
    let opts = plan_options(
        &args.plan,
        RunId::new("planned").map_err(|e| fail(EXIT_BAD_INPUT, e))?,
        AWS_LEAD,
    )?;
    let plan = plan::plan(&scenario, &opts).map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    if args.json {
        let json = serde_json::to_string_pretty(&plan)
            .context("encoding the plan")
            .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
        println!("{json}");
        return Ok(EXIT_OK);
    }
    let expected = plan::expected_requests(&scenario, &plan);
    let cost = crate::cost::estimate(&plan, expected);
    print!(
        "{}",
        report::render_plan(&plan, expected, &cost, &concurrency_needed(&plan))
    );
    Ok(EXIT_OK)
}

/// Lead time in AWS: invocations, cold starts and clock checks before the start.
const AWS_LEAD: Duration = Duration::from_secs(10);

/// `sls-load run`.
pub async fn run(args: RunArgs) -> Result<u8, Failure> {
    let scenario = load_scenario(&args.scenario, args.target.as_deref())?;
    let run_id = parse_run_id(args.run_id.clone().unwrap_or_else(new_run_id))?;
    let mode = choose_mode(&args.cloud);
    // Plan once to validate flags before starting anything.
    let draft = plan::plan(
        &scenario,
        &plan_options(&args.plan, run_id.clone(), Duration::ZERO)?,
    )
    .map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    let regions: Vec<Region> = draft.regions.iter().map(|r| r.region.clone()).collect();
    let slots: usize = draft.regions.iter().map(|r| r.slots).sum();
    let cloud = Cloud::for_run(&args.cloud, mode, &regions)
        .await
        .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    eprintln!(
        "sls-load: run {run_id} · {} · {} workers ({} slots × {} slices) over {} regions",
        match mode {
            Mode::Local => format!("local ({})", args.cloud.local_dir.display()),
            Mode::Aws => "AWS".into(),
        },
        draft.worker_count(),
        slots,
        draft.slices,
        regions.len()
    );
    let outcome = tokio::select! {
        r = run_planned(&args, &cloud, &scenario, run_id.clone(), slots) => r,
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
    run_id: RunId,
    slots: usize,
) -> Result<u8, Failure> {
    let lead = args.lead.unwrap_or(match cloud.mode {
        Mode::Local => Duration::from_secs(2) + Duration::from_millis(20) * slots as u32,
        Mode::Aws => AWS_LEAD,
    });
    let mut opts = plan_options(&args.plan, run_id.clone(), lead)?;
    opts.results = ResultsLocation {
        bucket: cloud.bucket.0.clone(),
        region: cloud.bucket.1.clone(),
    };
    let plan = plan::plan(scenario, &opts).map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    let invoker = LambdaInvoker::new(cloud.lambda.clone(), args.cloud.function.clone());
    invoker
        .check_concurrency(&concurrency_needed(&plan))
        .await
        .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    let body = serde_json::to_vec_pretty(&plan)
        .context("encoding the plan")
        .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    cloud
        .store
        .put(&ObjectKey::plan(&run_id), body, "application/json")
        .await
        .map_err(|e| fail(EXIT_RUN_FAILED, e))?;

    let invoked = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    let invoking = async {
        // Slice 0 now; every later slice one lead time before its start, so it is
        // warm and waiting when the previous slice ends.
        for slice in 0..plan.slices {
            let jobs: Vec<Job> = plan
                .jobs
                .iter()
                .filter(|j| j.slice == slice)
                .cloned()
                .collect();
            let Some(first) = jobs.first() else { continue };
            if slice > 0 {
                let at = first.start_at.checked_sub(lead).unwrap_or(first.start_at);
                if let Ok(wait) = at.duration_since(SystemTime::now()) {
                    tokio::time::sleep(wait).await;
                }
            }
            let concurrency = args.invoke_concurrency.max(1) * plan.regions.len();
            let began = std::time::Instant::now();
            let failed = invoke_all(
                &invoker,
                &jobs,
                concurrency,
                Duration::from_millis(100),
                || {
                    invoked.fetch_add(1, Ordering::Relaxed);
                },
            )
            .await;
            tracing::info!(
                slice,
                invocations = jobs.len(),
                failed = failed.len(),
                seconds = began.elapsed().as_secs_f64(),
                "fan-out done"
            );
            if args.timings {
                eprintln!(
                    "sls-load: slice {slice}: {} invocations in {:.3}s",
                    jobs.len(),
                    began.elapsed().as_secs_f64()
                );
            }
            if let Ok(mut f) = failures.lock() {
                f.extend(failed);
            }
        }
    };
    let fault = async {
        if let (Some(after), Some(local)) = (args.local_fault_kill_after, cloud.local.as_ref()) {
            let at = plan.start_at + after;
            if let Ok(wait) = at.duration_since(SystemTime::now()) {
                tokio::time::sleep(wait).await;
            }
            if let Some(lambda) = local.lambdas.values().next() {
                let pid = lambda.kill_one_busy();
                eprintln!("sls-load: fault injection: killed worker process {pid:?}");
            }
        }
    };
    let mut collected = Collected::new(plan.clone());
    let mut display = Display::new(&plan, args.quiet);
    let grace = match cloud.mode {
        Mode::Local => Duration::from_secs(15),
        Mode::Aws => Duration::from_secs(60),
    };
    let following = async {
        // Follow until every invocation has been made and every worker reported.
        loop {
            let result = progress::follow(
                &cloud.store,
                &mut collected,
                &|| invoked.load(Ordering::Relaxed),
                &mut display,
                plan.load_ends_at() + grace,
                crate::cost::POLL_EVERY,
            )
            .await;
            if result.is_err()
                || collected.finished() >= plan.worker_count()
                || SystemTime::now() >= plan.load_ends_at() + grace
            {
                return result;
            }
        }
    };
    let ((), (), followed) = tokio::join!(invoking, fault, following);
    display.finish();
    followed.map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    let failures = failures.into_inner().unwrap_or_default();
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
    if let Some(local) = &cloud.local {
        let errors: u64 = local.lambdas.values().map(|l| l.stats().errors).sum();
        if errors > 0 {
            eprintln!(
                "sls-load: {errors} local invocation(s) failed; worker logs are in {}",
                args.cloud.local_dir.join("logs").display()
            );
        }
    }
    // One last look: what was flushed after the last poll.
    collected
        .poll(&cloud.store)
        .await
        .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    finish(cloud, &collected, args.summary_export.as_deref()).await
}

/// `sls-load watch RUN_ID`: follows a run from the store, then reports it.
pub async fn watch(args: ReportArgs) -> Result<u8, Failure> {
    let run_id = parse_run_id(args.run_id.clone())?;
    let mode = choose_mode(&args.cloud);
    let cloud = Cloud::store_only(&args.cloud, mode)
        .await
        .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    let outcome = async {
        let plan = collect::load_plan(&cloud.store, &run_id)
            .await
            .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
        let invoked = plan.worker_count();
        let mut collected = Collected::new(plan);
        let mut display = Display::new(&collected.plan, false);
        let deadline = collected.plan.load_ends_at() + Duration::from_secs(60);
        let followed = progress::follow(
            &cloud.store,
            &mut collected,
            &|| invoked,
            &mut display,
            deadline,
            crate::cost::POLL_EVERY,
        )
        .await;
        display.finish();
        followed.map_err(|e| fail(EXIT_RUN_FAILED, e))?;
        finish(&cloud, &collected, args.summary_export.as_deref()).await
    }
    .await;
    cloud.shutdown().await;
    outcome
}

/// Builds, stores and prints the summary of a collected run; returns the exit code.
async fn finish(
    cloud: &Cloud,
    collected: &Collected,
    export: Option<&Path>,
) -> Result<u8, Failure> {
    let run_id = &collected.plan.run_id;
    let summary = Summary::build(collected, &collected.merged);
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
                report::first_few(&summary.workers.missing, 5)
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
    let run_id = parse_run_id(args.run_id.clone())?;
    let mode = choose_mode(&args.cloud);
    let cloud = Cloud::store_only(&args.cloud, mode)
        .await
        .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
    let outcome = async {
        let collected = collect::collect(&cloud.store, &run_id)
            .await
            .map_err(|e| fail(EXIT_RUN_FAILED, e))?;
        finish(&cloud, &collected, args.summary_export.as_deref()).await
    }
    .await;
    cloud.shutdown().await;
    outcome
}

/// A run id from the command line, refused as bad input unless it is a safe name.
fn parse_run_id(raw: String) -> Result<RunId, Failure> {
    RunId::new(raw).map_err(|e| fail(EXIT_BAD_INPUT, e))
}

/// A new run id: UTC start time plus four random hex digits, so ids sort by time.
fn new_run_id() -> String {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let stamp: String = now.chars().filter(|c| c.is_ascii_digit()).collect();
    let (date, time) = stamp.split_at(8.min(stamp.len()));
    format!("{date}-{time}-{:04x}", rand::rng().random::<u16>())
}
