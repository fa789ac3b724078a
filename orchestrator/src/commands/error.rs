//! Why a command ended unsuccessfully, and the exit code each reason ends the
//! process with. Messages are the ones users (and the end-to-end tests) read on
//! stderr after `error: `.
//!
//! It only classifies and words failures; it does not print them (the binary does).

use std::path::PathBuf;

use sls_load_core::job::RunId;

use crate::cloud::CloudError;
use crate::invoke::ConcurrencyError;
use crate::options::OptionsError;
use crate::preflight::PreflightError;
use sls_load_plan::plan::PlanError;
use sls_load_plan::scenario::ScenarioError;
use sls_load_report::collect::CollectError;
use sls_load_report::store::StoreError;

/// Exit code when every threshold held and every worker reported.
pub const EXIT_OK: u8 = 0;
/// Exit code when the run itself failed or was incomplete (missing workers).
pub const EXIT_RUN_FAILED: u8 = 1;
/// Exit code for bad input: scenario file, flags.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code when the run completed but a threshold failed (k6's code).
pub const EXIT_THRESHOLDS: u8 = 99;
/// Exit code of a run stopped before its end: Ctrl-C, SIGTERM, `sls-load stop` or
/// a stale heartbeat (k6's code for an external abort).
pub const EXIT_INTERRUPTED: u8 = 105;
/// Exit code when a k6 script's init context or `setup()` threw (k6's code).
pub const EXIT_SCRIPT_EXCEPTION: u8 = 107;
/// Exit code when a k6 script called `test.abort()` (k6's code).
pub const EXIT_SCRIPT_ABORTED: u8 = 108;
/// Exit code after a second Ctrl-C (or SIGTERM): gone without waiting for the
/// workers' last flush or printing a summary.
pub const EXIT_ABANDONED: u8 = 130;

/// A command's failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is invalid.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// The scenario file is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The k6 script cannot be read, or its init context threw (107).
    #[error(transparent)]
    Script(#[from] crate::script::ScriptLoadError),
    /// A worker's script called `test.abort()` (k6's exit code 108).
    #[error(
        "the script aborted the test: {reason}; the summary covers what the workers sent until then"
    )]
    ScriptAborted {
        /// The reason given to `test.abort()`.
        reason: String,
    },
    /// The scenario cannot be planned with these flags.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The plan cannot run as asked (preflight), or is refused by `--max-cost` or
    /// the guard on targets.
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    /// The cloud could not be set up.
    #[error(transparent)]
    Cloud(#[from] CloudError),
    /// A region's Lambda concurrency cannot hold the plan.
    #[error(transparent)]
    Concurrency(#[from] ConcurrencyError),
    /// The results store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run could not be read back.
    #[error(transparent)]
    Collect(#[from] CollectError),
    /// A document could not be encoded as JSON.
    #[error("encoding the {what}")]
    Encode {
        /// `plan` or `summary`.
        what: &'static str,
        /// The encoder's error.
        source: serde_json::Error,
    },
    /// `--summary-export` could not be written.
    #[error("--summary-export {}", path.display())]
    Export {
        /// The file.
        path: PathBuf,
        /// The write error.
        source: std::io::Error,
    },
    /// Writing to stdout failed (other than a reader that went away).
    #[error("writing to stdout")]
    Stdout(#[source] std::io::Error),
    /// `--junit` or `--k6-summary` could not be written.
    #[error(transparent)]
    CiExport(#[from] sls_load_report::export::CiExportError),
    /// Every invocation failed.
    #[error("no worker could be invoked ({count} failures; first: {first})")]
    NoWorkerInvoked {
        /// Failed invocations.
        count: usize,
        /// The first failure's message (`?` without one).
        first: String,
    },
    /// Some workers left no manifest.
    #[error(
        "{missing} of {planned} workers did not report ({names}); their flushed intervals are included; rebuild later with `sls-load report {run_id}`"
    )]
    WorkersMissing {
        /// Workers without a manifest.
        missing: usize,
        /// Workers planned.
        planned: usize,
        /// The first few of them, as `region/worker`.
        names: String,
        /// The run.
        run_id: RunId,
    },
    /// Objects, lines of interval logs or intervals could not be used: the summary
    /// leaves them out.
    #[error(
        "the summary leaves out data that could not be used ({count} problem(s); first: {first}); rebuild later with `sls-load report {run_id}`"
    )]
    Incomplete {
        /// How many problems.
        count: usize,
        /// The first one, as `key: reason`.
        first: String,
        /// The run.
        run_id: RunId,
    },
    /// The run id is taken: the store already holds a run under it.
    #[error(
        "run id `{0}` is already used in the store (its plan.json exists); choose another --run-id"
    )]
    RunExists(RunId),
    /// The run completed but thresholds failed, as `metric expr`.
    #[error("thresholds crossed: {}", .0.join(", "))]
    ThresholdsCrossed(Vec<String>),
    /// An `abortOnFail` threshold failed while the run went and stopped it; the
    /// summary printed covers what the workers sent until then.
    #[error(
        "aborted by threshold {threshold}: it failed while the run went (abortOnFail), so the run was stopped and the summary covers what the workers sent until then; rebuild it with `sls-load report {run_id}`"
    )]
    AbortedByThreshold {
        /// The threshold, as `metric expr`.
        threshold: String,
        /// The run.
        run_id: RunId,
    },
    /// The run was stopped before its end; the summary printed covers what the
    /// workers sent until then.
    #[error(
        "interrupted: the run was stopped before its end and the summary covers what the workers sent until then{}; rebuild it with `sls-load report {run_id}`",
        if *.missing > 0 { format!(" ({missing} workers did not report)") } else { String::new() }
    )]
    Interrupted {
        /// The run.
        run_id: RunId,
        /// Workers without a manifest.
        missing: usize,
    },
    /// Ctrl-C or SIGTERM before any worker was invoked.
    #[error("interrupted before any worker was invoked (run {0})")]
    InterruptedBeforeStart(RunId),
    /// `compare`: run B is worse than run A beyond a tolerance.
    #[error(
        "{} figure(s) of run {run_b} regressed from run {run_a}: {}",
        .regressions.len(),
        .regressions.join("; ")
    )]
    Regressed {
        /// The baseline run.
        run_a: RunId,
        /// The run judged.
        run_b: RunId,
        /// Each regressed figure, as `p95 of region eu-west-1: 2.10ms → 53.40ms (+2443%) > 10%`.
        regressions: Vec<String>,
    },
    /// The scenario has a `run:` event and `--allow-exec` was not given.
    #[error(
        "event `{event}` runs a command (`run:`); add --allow-exec to let the scenario execute it"
    )]
    ExecNotAllowed {
        /// The first such event.
        event: String,
    },
    /// A `pause_region` event names a region the run (with `--regions`) does not have.
    #[error("event `{event}` pauses region {region}, which this run does not have ({regions})")]
    PauseRegionNotInRun {
        /// The event.
        event: String,
        /// Its region.
        region: String,
        /// The run's regions.
        regions: String,
    },
    /// Drill events failed (named with their errors); the summary shows them.
    #[error("drill event(s) failed: {}", .0.join("; "))]
    EventsFailed(Vec<String>),
    /// A second Ctrl-C or SIGTERM: gone without waiting for the workers.
    #[error(
        "interrupted twice: the workers were told to stop; what they stored stays in the store: `sls-load report {0}`"
    )]
    Abandoned(RunId),
    /// An `--out` output could not be opened.
    #[error(transparent)]
    Output(#[from] crate::export::out::OpenError),
    /// `deploy` or `destroy` failed.
    #[error(transparent)]
    Deploy(#[from] crate::deploy::DeployError),
    /// `doctor` found problems (each printed on its own line).
    #[error("{0} check(s) failed")]
    Unhealthy(usize),
    /// `run --aws`: the deployed worker does not fit the run; nothing was invoked.
    #[error("nothing was invoked: {}; `sls-load doctor` checks the whole set-up", .0.join("; "))]
    NotReady(Vec<String>),
}

impl Error {
    /// The process exit code this failure ends with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Options(_)
            | Error::Scenario(_)
            | Error::Plan(_)
            | Error::Preflight(_)
            | Error::Cloud(CloudError::UnknownProfile(_)) => EXIT_BAD_INPUT,
            Error::Cloud(_)
            | Error::Concurrency(_)
            | Error::Store(_)
            | Error::Collect(_)
            | Error::Encode { .. }
            | Error::Export { .. }
            | Error::Stdout(_)
            | Error::CiExport(_)
            | Error::NoWorkerInvoked { .. }
            | Error::WorkersMissing { .. }
            | Error::Incomplete { .. }
            | Error::Regressed { .. }
            | Error::Output(_)
            | Error::Deploy(_)
            | Error::Unhealthy(_)
            | Error::NotReady(_)
            | Error::EventsFailed(_) => EXIT_RUN_FAILED,
            Error::ExecNotAllowed { .. } | Error::PauseRegionNotInRun { .. } => EXIT_BAD_INPUT,
            Error::RunExists(_) => EXIT_BAD_INPUT,
            Error::ThresholdsCrossed(_) | Error::AbortedByThreshold { .. } => EXIT_THRESHOLDS,
            Error::Interrupted { .. } | Error::InterruptedBeforeStart(_) => EXIT_INTERRUPTED,
            Error::Abandoned(_) => EXIT_ABANDONED,
            Error::Script(
                crate::script::ScriptLoadError::Init { .. }
                | crate::script::ScriptLoadError::Setup { .. },
            ) => EXIT_SCRIPT_EXCEPTION,
            Error::Script(crate::script::ScriptLoadError::SetupAborted { .. }) => {
                EXIT_SCRIPT_ABORTED
            }
            Error::Script(_) => EXIT_BAD_INPUT,
            Error::ScriptAborted { .. } => EXIT_SCRIPT_ABORTED,
        }
    }

    /// The message to print after `error: `: the error and its causes joined with
    /// `: ` on one line. Crossed thresholds are named exactly as written.
    pub fn message(&self) -> String {
        if let Error::ThresholdsCrossed(_) = self {
            return self.to_string();
        }
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(e) = cause {
            text.push_str(": ");
            text.push_str(&e.to_string());
            cause = e.source();
        }
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// A JSON encoding failure of the `what` document.
    pub(crate) fn encoding(what: &'static str) -> impl FnOnce(serde_json::Error) -> Error {
        move |source| Error::Encode { what, source }
    }
}
