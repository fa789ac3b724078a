//! Live progress of a run in progress, read from the store alone: workers
//! invoked / started / finished, and one line per region with the latest second's
//! requests per second, p95 and error rate from the flushed interval logs.
//!
//! [`Live`] polls and aggregates (no terminal code); [`Display`] draws it with
//! indicatif, or prints plain lines when stderr is not a terminal. `run` and
//! `watch` both use it, which is why `watch` can reattach from another terminal.
//! The final report is not built here (collect, merge and report do that).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sls_load_function::job::{ObjectKey, Region};

use crate::collect::{LogObject, WorkerKey};
use crate::merge::{Stats, merge};
use crate::plan::Plan;
use crate::store::{Store, StoreError, get_many};

/// What is known about a run so far.
#[derive(Debug, Default)]
pub struct Live {
    seen: BTreeSet<ObjectKey>,
    started: BTreeSet<WorkerKey>,
    finished: BTreeSet<WorkerKey>,
    seconds: BTreeMap<(Region, u64), Stats>,
    /// Workers invoked (set by the caller).
    pub invoked: usize,
}

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

impl Live {
    /// Reads what is new in the store: manifests mark workers finished, new interval
    /// logs mark them started and add to the per-region seconds.
    pub async fn poll(&mut self, store: &impl Store, plan: &Plan) -> Result<(), StoreError> {
        let run = &plan.run_id;
        let mut logs = Vec::new();
        for key in store.list(ObjectKey::run_prefix(run).as_str()).await? {
            if self.seen.contains(&key) {
                continue;
            }
            let Some((region, worker, file)) = key.parse_worker_object(run) else {
                continue;
            };
            if file == "manifest.json" {
                let who = (region, worker);
                self.started.insert(who.clone());
                self.finished.insert(who);
                self.seen.insert(key);
            } else if file.ends_with(".hlog") {
                logs.push(key);
            }
        }
        for (key, got) in get_many(store, logs).await {
            let (Some(bytes), Some((region, worker, _))) = (got?, key.parse_worker_object(run))
            else {
                continue;
            };
            let who = (region.clone(), worker);
            self.started.insert(who.clone());
            let merged = merge(
                &[LogObject {
                    worker: who,
                    key: key.clone(),
                    bytes,
                }],
                plan.start_at,
            );
            for (second, stats) in merged.timeline {
                let slot = self.seconds.entry((region.clone(), second)).or_default();
                // Same bounds on both sides, so adding cannot fail.
                let _ = slot.duration.add(&stats.duration);
                slot.failed += stats.failed;
                slot.errored += stats.errored;
            }
            self.seen.insert(key);
        }
        Ok(())
    }

    /// Workers with at least one flushed interval or a manifest.
    pub fn started(&self) -> usize {
        self.started.len()
    }

    /// Workers whose manifest is stored.
    pub fn finished(&self) -> usize {
        self.finished.len()
    }

    /// The latest second seen for each region of the plan.
    pub fn regions(&self, plan: &Plan) -> Vec<RegionNow> {
        plan.regions
            .iter()
            .filter_map(|r| {
                let ((_, second), s) = self
                    .seconds
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
}

/// Draws [`Live`] on stderr.
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

    /// Shows the current state.
    pub fn update(&mut self, live: &Live, plan: &Plan) {
        let msg = format!(
            "finished · {} invoked · {} started",
            live.invoked,
            live.started()
        );
        self.workers.set_position(live.finished() as u64);
        self.workers.set_message(msg);
        for now in live.regions(plan) {
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
                live.finished(),
                plan.worker_count(),
                live.started()
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

/// Polls `store` every `every` until all planned workers finished or `deadline`,
/// updating `display`. Returns the last state.
pub async fn follow(
    store: &impl Store,
    plan: &Plan,
    live: &mut Live,
    display: &mut Display,
    deadline: std::time::SystemTime,
    every: Duration,
) -> Result<(), StoreError> {
    loop {
        live.poll(store, plan).await?;
        display.update(live, plan);
        if live.finished() >= plan.worker_count() || std::time::SystemTime::now() >= deadline {
            return Ok(());
        }
        tokio::time::sleep(every).await;
    }
}
