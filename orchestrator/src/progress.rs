//! Live progress of a run in progress: workers invoked / started / finished, and
//! one line per region with the latest second's requests per second, p95 and error
//! rate, all read from the run's live [`Collected`] state (each object read once).
//!
//! [`regions_now`] reads the state (no terminal code); [`Display`] draws it with
//! indicatif, or prints plain lines when stderr is not a terminal; [`follow`]
//! polls until every worker reported. `run` and `watch` both use it, which is why
//! `watch` can reattach from another terminal. The final report is not built here
//! (summary does that from the same state).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sls_load_core::job::Region;

use sls_load_plan::plan::Plan;
use sls_load_report::collect::Collected;
use sls_load_report::store::{Store, StoreError};

/// One region's latest complete second.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionNow {
    /// The region.
    pub region: Region,
    /// Seconds after the start of the second shown.
    pub second: u64,
    /// Requests in that second.
    pub rps: u64,
    /// p95 latency in that second, ms.
    pub p95_ms: f64,
    /// Errors / requests in that second.
    pub error_rate: f64,
}

/// The latest second seen for each region of the plan.
pub fn regions_now(collected: &Collected) -> Vec<RegionNow> {
    let recent = &collected.merged.recent;
    collected
        .plan
        .regions
        .iter()
        .filter_map(|r| {
            let ((_, second), s) = recent
                .range((r.region.clone(), 0)..=(r.region.clone(), u64::MAX))
                .next_back()?;
            let requests = s.requests();
            Some(RegionNow {
                region: r.region.clone(),
                second: *second,
                rps: requests,
                p95_ms: s.duration.value_at_quantile(0.95) as f64 / 1000.0,
                error_rate: if requests == 0 {
                    0.0
                } else {
                    s.errors() as f64 / requests as f64
                },
            })
        })
        .collect()
}

/// Draws a run's progress on stderr.
pub struct Display {
    multi: MultiProgress,
    workers: ProgressBar,
    regions: BTreeMap<Region, ProgressBar>,
    plain: bool,
    last_plain: String,
}

impl Display {
    /// A display for `plan`; hidden when `quiet`, plain lines when stderr is no terminal.
    pub fn new(plan: &Plan, quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr_with_hz(4)
        };
        let plain = !quiet && target.is_hidden();
        let multi = MultiProgress::with_draw_target(target);
        let style = ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let workers = multi.add(
            ProgressBar::new(plan.worker_count() as u64)
                .with_style(style)
                .with_prefix("workers"),
        );
        let line = ProgressStyle::with_template("{prefix:>16} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let regions = plan
            .regions
            .iter()
            .map(|r| {
                let bar = multi.add(
                    ProgressBar::new_spinner()
                        .with_style(line.clone())
                        .with_prefix(r.region.to_string()),
                );
                bar.set_message("waiting for the first interval");
                (r.region.clone(), bar)
            })
            .collect();
        Self {
            multi,
            workers,
            regions,
            plain,
            last_plain: String::new(),
        }
    }

    /// Shows the current state; `invoked`: workers invoked so far.
    pub fn update(&mut self, collected: &Collected, invoked: usize) {
        let plan = &collected.plan;
        let msg = format!(
            "finished · {invoked} invoked · {} started",
            collected.started()
        );
        self.workers.set_position(collected.finished() as u64);
        self.workers.set_message(msg);
        for now in regions_now(collected) {
            if let Some(bar) = self.regions.get(&now.region) {
                bar.set_message(format!(
                    "t={:>4}s {:>7} req/s  p95 {:>8.2}ms  errors {:>6.2}%",
                    now.second,
                    now.rps,
                    now.p95_ms,
                    now.error_rate * 100.0
                ));
            }
        }
        if self.plain {
            let line = format!(
                "sls-load: {}/{} workers finished · {} started",
                collected.finished(),
                plan.worker_count(),
                collected.started()
            );
            if line != self.last_plain {
                eprintln!("{line}");
                self.last_plain = line;
            }
        }
    }

    /// Removes the display.
    pub fn finish(self) {
        for bar in self.regions.values() {
            bar.finish_and_clear();
        }
        self.workers.finish_and_clear();
        let _ = self.multi.clear();
    }
}

/// Consecutive failed LISTs after which following a run gives up.
pub const MAX_FAILED_LISTS: u32 = 10;

/// Polls `store` every `every` into `collected` until all planned workers
/// finished or `deadline`, updating `display`; `invoked` says how many workers
/// have been invoked so far. After every poll `stop_early` looks at the state:
/// when it names a reason (an `abortOnFail` threshold that failed), following
/// ends at once with it.
pub async fn follow(
    store: &impl Store,
    collected: &mut Collected,
    invoked: &dyn Fn() -> usize,
    display: &mut Display,
    deadline: SystemTime,
    every: Duration,
    stop_early: &dyn Fn(&Collected) -> Option<String>,
) -> Result<Option<String>, StoreError> {
    let mut failed_lists = 0;
    loop {
        // A failed LIST (S3 5xx, a throttle) is tried again at the next poll; the
        // run is not abandoned for one, only for many in a row.
        match collected.poll(store).await {
            Ok(()) => failed_lists = 0,
            Err(e) if failed_lists + 1 < MAX_FAILED_LISTS => {
                failed_lists += 1;
                tracing::warn!(error = %e, failed_lists, "listing the run failed; trying again");
            }
            Err(e) => return Err(e),
        }
        display.update(collected, invoked());
        if let Some(reason) = stop_early(collected) {
            return Ok(Some(reason));
        }
        if collected.finished() >= collected.plan.worker_count() || SystemTime::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(every).await;
    }
}
