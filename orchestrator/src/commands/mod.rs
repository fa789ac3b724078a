//! The subcommands end to end, one module each: [`run`] (scenario → plan → invoke
//! → collect → merge → report), [`plan`] (print a plan and its cost), [`report`]
//! (rebuild a run's report from the store) and [`watch`] (follow a run from
//! another terminal, then report), [`runs`] (list the stored runs) and
//! [`compare`] (judge a run against a baseline run). [`main`] dispatches; [`finish`] is the ending
//! `run`, `report` and `watch` share.
//!
//! This is glue: it sequences the modules, prints progress to stderr and the
//! summary to stdout, and returns a typed [`Error`] that knows its exit code. It
//! takes validated [`crate::options`], never clap types, and does not print its
//! own failure (the binary does).

pub mod compare;
pub mod deploy;
pub mod destroy;
pub mod doctor;
mod error;
mod html_report;
mod interrupt;
mod local_lambda;
pub mod plan;
pub mod report;
pub mod run;
pub mod runs;
pub mod stop;
pub mod watch;

use std::borrow::Cow;
use std::path::Path;

use sls_load_core::job::{ObjectKey, RunId};

#[cfg(test)]
pub use self::error::EXIT_BAD_INPUT;
pub use self::error::{EXIT_OK, Error};
use crate::cloud::{Cloud, Mode};
use crate::options::{CiOutputs, CommandOptions};
use sls_load_plan::plan::Plan;
use sls_load_plan::scenario::{self, Scenario};
use sls_load_report::collect::Collected;
use sls_load_report::drill::events::{self, EventRecord};
use sls_load_report::render;
use sls_load_report::store::Store;
use sls_load_report::summary::{Ending, Summary};

/// Runs one subcommand to its end.
pub async fn main(command: CommandOptions) -> Result<(), Error> {
    match command {
        CommandOptions::Run(opts) => run::run(*opts).await,
        CommandOptions::Plan(opts) => plan::plan(opts).await,
        CommandOptions::Report(opts) => report::report(opts).await,
        CommandOptions::Watch(opts) => watch::watch(opts).await,
        CommandOptions::Stop(opts) => stop::stop(opts).await,
        CommandOptions::Runs(opts) => runs::runs(opts).await,
        CommandOptions::Compare(opts) => compare::compare(opts).await,
        CommandOptions::Deploy(opts) => deploy::deploy(*opts).await,
        CommandOptions::Doctor(opts) => doctor::doctor(*opts).await,
        CommandOptions::Destroy(opts) => destroy::destroy(opts).await,
        CommandOptions::LocalLambda(opts) => local_lambda::serve(opts).await,
    }
}

/// Loads the scenario and applies k6's override flags and a validated `--target`.
fn load_scenario(
    path: &Path,
    target: Option<&str>,
    overrides: &scenario::overrides::Overrides,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<Scenario, Error> {
    let mut scenario = match crate::script::is_script(path) {
        true => crate::script::load(path, target, env)?,
        false => scenario::load(path)?,
    };
    scenario::overrides::apply(&mut scenario, overrides)?;
    for notice in &scenario.notices {
        eprintln!("sls-load: {notice}");
    }
    if let Some(target) = target {
        scenario.target = target.to_owned();
    }
    Ok(scenario)
}

/// The plan as it is stored (`plan.json`) or printed (`plan --json`): credential
/// header values redacted; the invoke payloads keep them.
fn shown_plan(plan: &Plan) -> Cow<'_, Plan> {
    if !scenario::secrets::needs_redaction(&plan.jobs) {
        return Cow::Borrowed(plan);
    }
    let mut shown = plan.clone();
    scenario::secrets::redact_jobs(&mut shown.jobs);
    Cow::Owned(shown)
}

/// Builds, stores and prints the summary of a collected run, writes the exports
/// asked for (`--summary-export`, and `ci`: `--junit`, `--k6-summary`), then
/// judges it: a run stopped by an `abortOnFail` threshold (named in its control
/// object), an interrupted run (`interrupted`, or a worker's manifest saying it
/// was stopped), missing workers and crossed thresholds are errors.
pub async fn finish(
    cloud: &Cloud,
    collected: &Collected,
    export: Option<&Path>,
    ci: &CiOutputs,
    interrupted: bool,
) -> Result<(), Error> {
    let run_id = &collected.plan.run_id;
    let ending = Ending {
        interrupted,
        aborted_by: aborted_by(cloud, run_id).await,
        events: drill_events(cloud, collected).await,
    };
    let summary = Summary::build(collected, ending);
    let json = serde_json::to_vec_pretty(&summary).map_err(Error::encoding("summary"))?;
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
    // `--summary-export` was checked at the command line; should writing it still
    // fail, the run's own verdict (e.g. 99 for crossed thresholds) keeps its exit
    // code and the export error is reported beside it.
    let exported = match export {
        Some(path) => std::fs::write(path, &json).map_err(|source| Error::Export {
            path: path.to_owned(),
            source,
        }),
        None => Ok(()),
    };
    // `--junit` / `--k6-summary` likewise: checked up front, their late failure
    // reported beside the verdict.
    let exported = exported.and(write_ci(&summary, ci).map_err(Error::from));
    // The HTML report: stored with the run, and `--html` / `--open` likewise.
    let html = html_report::write(cloud, collected, &summary, ci).await;
    print_summary(cloud, run_id, &summary)?;
    let exported = match html {
        Ok(Some(path)) => stdout(&html_report::announce(&path, ci.open)).and(exported),
        Ok(None) => exported,
        Err(e) => exported.and(Err(e)),
    };
    // k6's 108: a script's `test.abort()` ends the test whatever else is true.
    let script_aborted = collected.manifests.values().find_map(|m| m.aborted.clone());
    let verdict = match script_aborted {
        Some(reason) => Err(Error::ScriptAborted { reason }),
        None => verdict(&summary, run_id),
    };
    match (verdict, exported) {
        (Ok(()), exported) => exported,
        (Err(failed), Ok(())) => Err(failed),
        (Err(failed), Err(export)) => {
            eprintln!("error: {}", export.message());
            Err(failed)
        }
    }
}

/// Writes `--junit` and `--k6-summary`, in that order, as asked for by `ci`; the
/// first that fails ends it.
fn write_ci(
    summary: &Summary,
    ci: &CiOutputs,
) -> Result<(), sls_load_report::export::CiExportError> {
    use sls_load_report::export::{self, junit::Junit, k6_summary::K6Summary};
    if let Some(path) = &ci.junit {
        export::write(summary, &Junit, "--junit", path)?;
    }
    if let Some(path) = &ci.k6_summary {
        export::write(summary, &K6Summary, "--k6-summary", path)?;
    }
    Ok(())
}

/// The `abortOnFail` threshold that stopped the run, from its control object;
/// `None` when no threshold stopped it or the object cannot be read (a warning).
async fn aborted_by(cloud: &Cloud, run_id: &RunId) -> Option<String> {
    match crate::control::read(&cloud.store, run_id).await {
        Ok(control) => control?.aborted_by().map(str::to_owned),
        Err(e) => {
            eprintln!("sls-load: warning: the control object was not read: {e}");
            None
        }
    }
}

/// A drill's events as they ran (`events.json`); none for a run without
/// events, or when the record cannot be read (a warning).
async fn drill_events(cloud: &Cloud, collected: &Collected) -> Vec<EventRecord> {
    if collected.plan.drill.is_none() {
        return Vec::new();
    }
    match events::load(&cloud.store, &collected.plan.run_id).await {
        Ok(records) => records,
        Err(e) => {
            eprintln!("sls-load: warning: the drill's events were not read: {e}");
            Vec::new()
        }
    }
}

/// Prints the summary to stdout (and, locally, where the results are) and the
/// problems with stored objects to stderr.
fn print_summary(cloud: &Cloud, run_id: &RunId, summary: &Summary) -> Result<(), Error> {
    let mut text = render::summary(summary);
    text.push('\n');
    if cloud.mode == Mode::Local {
        text.push_str(&format!(
            "  results: {}/{}\n",
            cloud.store.location(),
            ObjectKey::run_prefix(run_id)
        ));
    }
    stdout(&text)?;
    for p in &summary.workers.problems {
        eprintln!("sls-load: warning: {p}");
    }
    if let Some(first) = summary.series.late.first() {
        eprintln!(
            "sls-load: note: {} object(s) arrived after their seconds had closed (first: {first}); \
             the totals count them, `sls-load report {run_id}` rebuilds exact per-second series",
            summary.series.late.len()
        );
    }
    Ok(())
}

/// Writes `text` to stdout. A reader that went away (`sls-load report ID | head
/// -1`) is not a failure: the rest is dropped without a word, as ripgrep does,
/// and the command ends as it would have (`println!` panicked, exit 101). Any
/// other write error is one.
pub(crate) fn stdout(text: &str) -> Result<(), Error> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(Error::Stdout(source)),
    }
}

/// A run stopped by an `abortOnFail` threshold ends with the thresholds' code;
/// an interrupted run with its own; missing workers and failed drill events
/// fail the run; crossed thresholds fail it with their own code.
fn verdict(summary: &Summary, run_id: &RunId) -> Result<(), Error> {
    if let Some(threshold) = &summary.aborted_by {
        return Err(Error::AbortedByThreshold {
            threshold: threshold.clone(),
            run_id: run_id.clone(),
        });
    }
    if summary.interrupted {
        return Err(Error::Interrupted {
            run_id: run_id.clone(),
            missing: summary.workers.missing.len(),
        });
    }
    if !summary.workers.missing.is_empty() {
        return Err(Error::WorkersMissing {
            missing: summary.workers.missing.len(),
            planned: summary.workers.planned,
            names: render::first_few(&summary.workers.missing, 5),
            run_id: run_id.clone(),
        });
    }
    if let Some(first) = summary.workers.problems.first() {
        return Err(Error::Incomplete {
            count: summary.workers.problems.len(),
            first: first.clone(),
            run_id: run_id.clone(),
        });
    }
    let failed_events: Vec<String> = summary
        .events
        .iter()
        .filter(|e| e.failed())
        .map(|e| format!("{}: {}", e.name, e.error.as_deref().unwrap_or("failed")))
        .collect();
    if !failed_events.is_empty() {
        return Err(Error::EventsFailed(failed_events));
    }
    if !summary.thresholds_ok() {
        return Err(Error::ThresholdsCrossed(
            summary
                .thresholds
                .iter()
                .filter(|t| !t.ok)
                .map(|t| format!("{} {}", t.metric, t.expr))
                .collect(),
        ));
    }
    Ok(())
}
