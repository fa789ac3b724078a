//! Turns a validated scenario into a plan: how many workers each region gets, each
//! worker's share of every scenario's rate and VUs, the agreed start instant, and
//! the [`Job`] payload of every worker.
//!
//! Pure: no clocks (the caller passes `now`), no randomness, no IO. The plan is
//! stored as `runs/{run_id}/plan.json` before any worker is invoked, so that
//! `sls-load report` can later tell which workers were expected. This module does
//! not invoke anything and does not price anything.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sls_load_core::job::{FORMAT_VERSION, Job, Region, ResultsLocation, RunId, WorkerId};

use crate::scenario::Scenario;
use crate::share;
use crate::threshold::Threshold;

/// Why a scenario cannot be planned.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    /// `--regions` named a region twice.
    #[error("--regions: `{0}` is listed twice")]
    RepeatedRegion(String),
    /// `--regions` selected nothing.
    #[error("--regions: no region selected")]
    NoRegions,
    /// The target (`--target` or the scenario's) has credentials in it; the
    /// message hides them.
    #[error("target {0}")]
    TargetCredentials(String),
    /// `--slice` is zero or longer than a Lambda invocation can run.
    #[error("--slice {0:?}: must be between 1s and {max:?}", max = LAMBDA_MAX_TIMEOUT)]
    BadSlice(Duration),
    /// `--workers` cannot give every region a worker.
    #[error("--workers {workers}: need at least one worker per region ({regions} regions)")]
    TooFewWorkers {
        /// Workers asked for.
        workers: usize,
        /// Regions selected.
        regions: usize,
    },
    /// No worker would send anything: every scenario has 0 VUs and a rate of 0.
    #[error("nothing to run: every scenario has 0 VUs and a rate of 0")]
    NoLoad,
    /// The rate, VUs or `--workers` would need more invocations than a run may have.
    #[error(
        "this plan needs {needed:.0} workers; a run has at most {MAX_WORKERS} (slots × slices): lower the rate, the VUs or --workers, or split the test"
    )]
    TooManyWorkers {
        /// Invocations needed (slots × slices), as computed before anything is allocated.
        needed: f64,
    },
    /// The duration over `--slice` gives more slices than a run may have.
    #[error("{slices} slices of {}: a run has at most {MAX_SLICES}; use a longer --slice or a shorter duration", humantime::format_duration(*.slice))]
    TooManySlices {
        /// Slices the duration would need.
        slices: u64,
        /// The slice length.
        slice: Duration,
    },
    /// The scenario's duration is longer than a run may be.
    #[error("duration {}: a run lasts at most {}", humantime::format_duration(*.0), humantime::format_duration(MAX_DURATION))]
    TooLong(Duration),
}

/// The most invocations (slots × slices) one run may plan: far above any real test
/// (a Lambda region's default quota is 1,000 concurrent executions), low enough that
/// planning stays within a second and some hundred MB.
pub const MAX_WORKERS: usize = 100_000;
/// The most slices per worker slot one run may plan.
pub const MAX_SLICES: u64 = 10_000;
/// The longest duration one run may have.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// Knobs that come from the command line and the environment, not the scenario.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The run's id.
    pub run_id: RunId,
    /// Now, as the orchestrator's clock reads it.
    pub now: SystemTime,
    /// Time between planning and the agreed start, for invocations and cold starts.
    pub lead: Duration,
    /// `--regions`: the run's load zones, each with its weight if given (see
    /// [`layout`]).
    pub regions: Option<Vec<(Region, Option<f64>)>>,
    /// `--workers`: the total number of workers, instead of deriving it from `worker_rate`.
    pub workers: Option<usize>,
    /// Where workers write results.
    pub results: ResultsLocation,
    /// How often workers flush their interval logs.
    pub flush_every: Duration,
    /// The longest slice one invocation runs; longer runs chain slices per worker slot.
    pub max_slice: Duration,
    /// The worker function's memory size, MB (sets the default per-worker capacity).
    pub memory_mb: u32,
    /// The worker function's CPU architecture (for pricing).
    pub arch: Arch,
}

/// Lambda CPU architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// Graviton.
    Arm64,
    /// Intel/AMD.
    #[serde(rename = "x86_64")]
    X86_64,
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Arch::Arm64 => "arm64",
            Arch::X86_64 => "x86_64",
        })
    }
}

/// Lambda's hard limit on one invocation.
pub const LAMBDA_MAX_TIMEOUT: Duration = Duration::from_secs(900);
/// Default longest slice: the Lambda limit minus room for the lead, drain and flush.
pub const DEFAULT_MAX_SLICE: Duration = Duration::from_secs(14 * 60);

/// One region's part of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionPlan {
    /// The region.
    pub region: Region,
    /// Its share of the load (weights renormalised over the selected regions).
    pub weight: f64,
    /// Iterations per second summed over its workers and scenarios.
    pub rate: f64,
    /// Worker slots: workers running at the same time.
    pub slots: usize,
    /// Every invocation (slot × slice), in start order.
    pub workers: Vec<WorkerId>,
}

/// Everything decided before a run starts; stored as `plan.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Wire-format version ([`FORMAT_VERSION`]).
    pub format: u32,
    /// The run.
    pub run_id: RunId,
    /// The scenario file the plan came from.
    pub scenario_file: String,
    /// When the plan was made.
    #[serde(with = "humantime_serde")]
    pub created_at: SystemTime,
    /// The agreed start instant of every worker.
    #[serde(with = "humantime_serde")]
    pub start_at: SystemTime,
    /// How long load is generated.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// The slice length (the last slice of a slot may be shorter).
    #[serde(with = "humantime_serde")]
    pub slice: Duration,
    /// Slices per worker slot.
    pub slices: u32,
    /// The worker function's memory, MB.
    pub memory_mb: u32,
    /// The worker function's architecture.
    pub arch: Arch,
    /// Per-region shares and workers, in scenario order (`--regions` order when given).
    pub regions: Vec<RegionPlan>,
    /// The scenario's thresholds, parsed; stored as the strings written
    /// (`{ "metric": ..., "expr": ... }`, see [`Threshold`]'s serde).
    pub thresholds: Vec<Threshold>,
    /// Every worker's Invoke payload.
    pub jobs: Vec<Job>,
    /// A drill's events and settings (issue #13); absent for a plain load test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<crate::drill::DrillPlan>,
    /// Where the run ran: the mode, the AWS account, the regions and the results
    /// bucket (issue #20); absent in plans stored before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<CloudRecord>,
}

/// Where a run ran, recorded in its plan and summary so that no reader mistakes
/// load a laptop made for load AWS made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CloudRecord {
    /// `aws` or `local`.
    pub mode: String,
    /// The AWS account id (STS `GetCallerIdentity`); absent locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The run's regions, in plan order.
    pub regions: Vec<Region>,
    /// The results bucket as `s3://BUCKET`.
    pub bucket: String,
    /// The results bucket's region.
    pub bucket_region: Region,
}

impl CloudRecord {
    /// True for a run on AWS.
    pub fn is_aws(&self) -> bool {
        self.mode == "aws"
    }
}

impl Plan {
    /// When every worker should have stopped sending and drained.
    pub fn load_ends_at(&self) -> SystemTime {
        let drain = self.jobs.iter().map(Job::drain).max().unwrap_or_default();
        self.start_at + self.duration + drain
    }

    /// Number of workers planned.
    pub fn worker_count(&self) -> usize {
        self.jobs.len()
    }

    /// Concurrent executions each region needs: its slots, twice during slice
    /// hand-over (the next slice is invoked before the current one ends).
    pub fn concurrency_needed(&self) -> BTreeMap<Region, usize> {
        let factor = if self.slices > 1 { 2 } else { 1 };
        self.regions
            .iter()
            .map(|r| (r.region.clone(), r.slots * factor))
            .collect()
    }
}

/// One selected region's part of a [`Layout`].
#[derive(Debug, Clone, PartialEq)]
pub struct RegionLayout {
    /// The region.
    pub region: Region,
    /// Its share of the load, renormalised over the selected regions.
    pub weight: f64,
    /// Worker slots: workers running at the same time.
    pub slots: usize,
}

/// The shape of a plan before anything is timed or addressed: which regions, how
/// many worker slots each, how many slices per slot. It needs no run id, clock,
/// lead or results location, so a command can learn the regions and slot count
/// (to start the cloud and choose the lead) before it plans.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The selected regions, in scenario order (`--regions` order when given).
    pub regions: Vec<RegionLayout>,
    /// Slices per worker slot.
    pub slices: u32,
}

impl Layout {
    /// The selected regions, in scenario order (`--regions` order when given).
    pub fn region_names(&self) -> Vec<Region> {
        self.regions.iter().map(|r| r.region.clone()).collect()
    }

    /// Worker slots over all regions.
    pub fn slots(&self) -> usize {
        self.regions.iter().map(|r| r.slots).sum()
    }

    /// Invocations the plan will hold (slots × slices), as [`Plan::worker_count`].
    pub fn worker_count(&self) -> usize {
        self.slots() * self.slices as usize
    }
}

/// Lays out `scenario`: selects the regions (`pick`, default the file's; see
/// `select_regions`), checks the slice
/// length, and sizes each region's worker slots from `workers` or from the
/// scenario's `worker_rate` at `memory_mb`, keeping only the slots that ever get a
/// VU or a rate (a region that gets neither has none). Pure.
pub fn layout(
    scenario: &Scenario,
    pick: Option<&[(Region, Option<f64>)]>,
    workers: Option<usize>,
    max_slice: Duration,
    memory_mb: u32,
) -> Result<Layout, PlanError> {
    // `--target` replaces the scenario's checked target: checked again here.
    if let Some(refusal) = sls_load_core::template::userinfo_refusal(&scenario.target) {
        return Err(PlanError::TargetCredentials(refusal));
    }
    let regions = select_regions(scenario, pick)?;
    if max_slice < Duration::from_secs(1) || max_slice > LAMBDA_MAX_TIMEOUT {
        return Err(PlanError::BadSlice(max_slice));
    }
    let slices = bounded_slices(scenario.duration, max_slice)?;
    let counts = match workers {
        Some(n) => {
            check_workers(n as f64, slices)?;
            split_workers(n, &regions)?
        }
        None => slots_needed(scenario, &regions, memory_mb, slices)?,
    };
    let weights: Vec<f64> = regions.iter().map(|(_, w)| *w).collect();
    let regions: Vec<RegionLayout> = regions
        .into_iter()
        .zip(counts)
        .enumerate()
        .map(|(index, ((region, weight), slots))| RegionLayout {
            region,
            weight,
            slots: slots_with_load(scenario, &weights, index, slots),
        })
        .collect();
    if regions.iter().all(|r| r.slots == 0) {
        return Err(PlanError::NoLoad);
    }
    Ok(Layout { regions, slices })
}

/// Slices of at most `max_slice` covering `duration`, refused past [`MAX_DURATION`]
/// or [`MAX_SLICES`].
fn bounded_slices(duration: Duration, max_slice: Duration) -> Result<u32, PlanError> {
    if duration > MAX_DURATION {
        return Err(PlanError::TooLong(duration));
    }
    let slices = slice_count(duration, max_slice);
    if u64::from(slices) > MAX_SLICES {
        return Err(PlanError::TooManySlices {
            slices: u64::from(slices),
            slice: max_slice,
        });
    }
    Ok(slices)
}

/// Refuses `slots` worker slots of `slices` slices each past [`MAX_WORKERS`]
/// invocations (also when `slots` is not finite), before anything is allocated.
fn check_workers(slots: f64, slices: u32) -> Result<(), PlanError> {
    let needed = slots * f64::from(slices);
    if needed <= MAX_WORKERS as f64 {
        Ok(())
    } else {
        Err(PlanError::TooManyWorkers { needed })
    }
}

/// Each region's worker slots from the scenario's `worker_rate` at `memory_mb` and
/// its VUs, refused (as floats, before any conversion or allocation) when all of
/// them over `slices` slices would pass [`MAX_WORKERS`].
fn slots_needed(
    scenario: &Scenario,
    regions: &[(Region, f64)],
    memory_mb: u32,
    slices: u32,
) -> Result<Vec<usize>, PlanError> {
    let total_rate = total_rate(scenario);
    // `worker_rate` is a 1,024 MB worker's capacity; Lambda's CPU share grows with memory.
    let worker_rate = scenario.worker_rate * f64::from(memory_mb) / 1024.0;
    let needed: Vec<f64> = regions
        .iter()
        .map(|(_, w)| {
            let by_rate = ((total_rate * w) / worker_rate).ceil().max(1.0);
            by_rate.max(workers_for_vus(scenario, *w))
        })
        .collect();
    check_workers(needed.iter().sum(), slices)?;
    Ok(needed.into_iter().map(|n| n as usize).collect())
}

/// Of a region's `slots` worker slots, those that ever have something to do in
/// some scenario (the first ones; see [`share::workers_with_load`]). A region
/// without VUs in one scenario keeps its slots for another's load; one without any
/// load gets none, so nothing is invoked or billed there.
fn slots_with_load(scenario: &Scenario, weights: &[f64], index: usize, slots: usize) -> usize {
    let slot = share::RegionSlot { weights, index };
    scenario
        .scenarios
        .iter()
        .map(|s| share::workers_with_load(s, slot, slots))
        .max()
        .unwrap_or(0)
}

/// Plans `scenario` for the given options.
pub fn plan(scenario: &Scenario, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let layout = layout(
        scenario,
        opts.regions.as_deref(),
        opts.workers,
        opts.max_slice,
        opts.memory_mb,
    )?;
    let total_rate = total_rate(scenario);
    let start_at = opts.now + opts.lead;
    let mut region_plans = Vec::new();
    let mut jobs = Vec::new();
    let weights: Vec<f64> = layout.regions.iter().map(|r| r.weight).collect();
    for (index, region) in layout.regions.iter().enumerate() {
        let slot = share::RegionSlot {
            weights: &weights,
            index,
        };
        let region_jobs = region_jobs(scenario, opts, region, slot, layout.slices, start_at);
        region_plans.push(RegionPlan {
            region: region.region.clone(),
            weight: region.weight,
            rate: total_rate * region.weight,
            slots: region.slots,
            workers: region_jobs.iter().map(|j| j.worker_id.clone()).collect(),
        });
        jobs.extend(region_jobs);
    }
    Ok(Plan {
        format: FORMAT_VERSION,
        run_id: opts.run_id.clone(),
        scenario_file: scenario.file.display().to_string(),
        created_at: opts.now,
        start_at,
        duration: scenario.duration,
        slice: opts.max_slice.min(scenario.duration),
        slices: layout.slices,
        memory_mb: opts.memory_mb,
        arch: opts.arch,
        regions: region_plans,
        thresholds: scenario.thresholds.clone(),
        jobs,
        cloud: None,
        drill: (!scenario.events.is_empty()).then(|| crate::drill::DrillPlan {
            events: crate::drill::resolve_urls(&scenario.events, &scenario.target),
            settings: scenario.drill,
        }),
    })
}

/// Iterations per second over all of the scenario's scenarios.
fn total_rate(scenario: &Scenario) -> f64 {
    scenario
        .scenarios
        .iter()
        .map(|s| s.executor.iterations_per_second())
        .sum()
}

/// Every invocation of one region (slot × slice), slice by slice, in start order.
fn region_jobs(
    scenario: &Scenario,
    opts: &PlanOptions,
    region: &RegionLayout,
    slot: share::RegionSlot,
    slices: u32,
    start_at: SystemTime,
) -> Vec<Job> {
    let n = region.slots;
    let limit = share::vus_limit(&scenario.http);
    let mut jobs = Vec::with_capacity(n * slices as usize);
    for slice in 0..slices {
        let run_offset = opts.max_slice * slice;
        let duration = scenario
            .duration
            .saturating_sub(run_offset)
            .min(opts.max_slice);
        for k in 0..n {
            let worker_id = if slices == 1 {
                WorkerId::numbered(k)
            } else {
                WorkerId::numbered_slice(k, slice)
            };
            jobs.push(Job {
                format: FORMAT_VERSION,
                run_id: opts.run_id.clone(),
                worker_id,
                region: region.region.clone(),
                start_at: start_at + run_offset,
                duration,
                run_offset,
                slice,
                target: scenario.target.clone(),
                scenarios: scenario
                    .scenarios
                    .iter()
                    .map(|s| share::scenario_for_worker_in(s, slot, k, n, limit))
                    .map(|mut s| {
                        // A hand-over to the next slice is no stop: no grace there.
                        if run_offset + duration < scenario.duration {
                            s.graceful_stop = Duration::ZERO;
                        }
                        s
                    })
                    .collect(),
                results: opts.results.clone(),
                flush_every: opts.flush_every,
                request_timeout: scenario.request_timeout,
                http: scenario.http.clone(),
                env: Default::default(),
                heartbeat: None,
                script: scenario.script.clone(),
            });
        }
    }
    jobs
}

/// HTTP requests the plan should send, when the executors make that knowable
/// (iterations × requests per iteration; unknown for time-bound closed models).
pub fn expected_requests(scenario: &Scenario, plan: &Plan) -> Option<f64> {
    let weight: f64 = plan.regions.iter().map(|r| r.weight).sum();
    scenario
        .scenarios
        .iter()
        .map(|s| {
            s.expected_iterations(plan.duration)
                .map(|iterations| iterations * weight * s.requests.len() as f64)
        })
        .sum()
}

/// How many slices of at most `max_slice` cover `duration`.
fn slice_count(duration: Duration, max_slice: Duration) -> u32 {
    let n = duration.as_nanos().div_ceil(max_slice.as_nanos().max(1));
    u32::try_from(n.max(1)).unwrap_or(u32::MAX)
}

/// Workers a region needs so that none holds more than [`share::MAX_VUS_PER_WORKER`]
/// connections (a Lambda has 1,024 file descriptors), or, where VUs share HTTP/2
/// connections as streams, more VUs than [`share::vus_limit`] allows.
fn workers_for_vus(scenario: &Scenario, weight: f64) -> f64 {
    let limit = f64::from(share::vus_limit(&scenario.http));
    scenario
        .scenarios
        .iter()
        .filter_map(|s| s.max_vus)
        .map(|vus| (f64::from(vus) * weight / limit).ceil())
        .fold(1.0, f64::max)
}

/// The run's regions with weights renormalised to sum to 1: the scenario's, or
/// those `pick`ed (in `pick`'s order) with the weight given there, else the
/// file's weight for that region, else an equal share (the mean of the other
/// shares, or 1 when none is known).
fn select_regions(
    scenario: &Scenario,
    pick: Option<&[(Region, Option<f64>)]>,
) -> Result<Vec<(Region, f64)>, PlanError> {
    let chosen: Vec<(Region, f64)> = match pick {
        None => scenario.regions.clone(),
        Some(pick) => {
            for (index, (region, _)) in pick.iter().enumerate() {
                if pick[..index].iter().any(|(r, _)| r == region) {
                    return Err(PlanError::RepeatedRegion(region.to_string()));
                }
            }
            let from_file = |region: &Region| {
                scenario
                    .regions
                    .iter()
                    .find(|(r, _)| r == region)
                    .map(|(_, w)| *w)
            };
            let known: Vec<Option<f64>> = pick
                .iter()
                .map(|(r, weight)| weight.or_else(|| from_file(r)))
                .collect();
            let given: Vec<f64> = known.iter().flatten().copied().collect();
            let equal = if given.is_empty() {
                1.0
            } else {
                given.iter().sum::<f64>() / given.len() as f64
            };
            pick.iter()
                .zip(known)
                .map(|((r, _), w)| (r.clone(), w.unwrap_or(equal)))
                .collect()
        }
    };
    let sum: f64 = chosen.iter().map(|(_, w)| w).sum();
    if chosen.is_empty() || sum <= 0.0 {
        return Err(PlanError::NoRegions);
    }
    Ok(chosen.into_iter().map(|(r, w)| (r, w / sum)).collect())
}

/// Splits `total` workers over weighted regions (largest remainder), at least one each.
fn split_workers(total: usize, regions: &[(Region, f64)]) -> Result<Vec<usize>, PlanError> {
    if total < regions.len() {
        return Err(PlanError::TooFewWorkers {
            workers: total,
            regions: regions.len(),
        });
    }
    let spare = total - regions.len();
    let exact: Vec<f64> = regions.iter().map(|(_, w)| w * spare as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|e| e.floor() as usize + 1).collect();
    let mut left = total - counts.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..regions.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for i in order {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    Ok(counts)
}

#[cfg(test)]
pub(crate) mod tests;
