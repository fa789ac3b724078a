//! Preflight: what `plan` and `run` check about a plan before anything starts —
//! the Lambda concurrency each region needs against the quota, the connections
//! per worker against its file descriptors, the function's memory range, the rate
//! per worker against what one worker can send, the invoke payload against
//! Lambda's `Event` limit, `--max-cost`, and the guard against a big run aimed
//! at a host that is neither loopback nor in the scenario's `allowed_targets`.
//!
//! Hard impossibilities are a [`PreflightError`] (exit 2); what may still run
//! (a quota that can be raised, a worker asked for more than it can send) is a
//! note, one line saying what to change. Pure: it reads no quota itself (`run`
//! asks AWS through [`crate::invoke`]) and prints nothing. The planner's own
//! bounds (workers, slices, duration) are [`sls_load_plan::plan`]'s.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use sls_load_core::job::Region;

use sls_load_plan::cost::Cost;
use sls_load_plan::estimate::RateEstimate;
use sls_load_plan::plan::Plan;
use sls_load_plan::scenario::Scenario;
use sls_load_plan::share::MAX_VUS_PER_WORKER;

/// Lambda's default concurrent executions per region and account.
pub const DEFAULT_LAMBDA_CONCURRENCY: usize = 1_000;
/// The smallest memory size a Lambda function may have, MB.
pub const MIN_MEMORY_MB: u32 = 128;
/// The largest memory size a Lambda function may have, MB.
pub const MAX_MEMORY_MB: u32 = 10_240;
/// Lambda's limit on an asynchronous (`Event`) invoke payload, bytes.
pub const MAX_INVOKE_PAYLOAD: usize = 256 * 1024;
/// Requests per second one worker sends at most with one vCPU (1,769 MB): the
/// open-model figure measured in docs/PERFORMANCE.md (20,000/s, CO-corrected, at
/// under half a core), rounded down to what it holds with latency to spare.
pub const WORKER_MAX_RPS_PER_VCPU: f64 = 20_000.0;
/// Memory that gives a Lambda function one full vCPU, MB.
pub const ONE_VCPU_MB: f64 = 1_769.0;
/// Above this many requests per second, a non-loopback target not in
/// `allowed_targets` needs `--yes`.
pub const GUARD_RPS: f64 = 1_000.0;
/// Above this many worker slots, likewise.
pub const GUARD_WORKERS: usize = 100;

/// A plan that cannot run as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PreflightError {
    /// `--memory` outside Lambda's range.
    #[error("--memory {0}: a Lambda function has {MIN_MEMORY_MB} to {MAX_MEMORY_MB} MB")]
    Memory(u32),
    /// A worker would hold more connections than it has file descriptors (or,
    /// sharing HTTP/2 connections, more VUs than `share::vus_limit`).
    #[error(
        "scenario `{scenario}` in {region}: {per_worker} {what} per worker, above the {limit} a worker can hold ({MAX_VUS_PER_WORKER} connections, the file descriptors it can use): use --workers {workers} or more"
    )]
    Connections {
        /// `connections`, or `VUs` when they share HTTP/2 connections.
        what: &'static str,
        /// What one worker may hold.
        limit: u32,
        /// The scenario.
        scenario: String,
        /// The region.
        region: Region,
        /// Connections one worker would hold.
        per_worker: u64,
        /// Total `--workers` that keeps every worker within the limit.
        workers: u64,
    },
    /// A job is larger than Lambda accepts for an `Event` invocation.
    #[error(
        "worker {worker}'s invoke payload is {} KB, above Lambda's {} KB for Event invocations: use fewer or shorter data rows, requests or headers",
        .bytes.div_ceil(1024), MAX_INVOKE_PAYLOAD / 1024
    )]
    Payload {
        /// The worker with the largest payload.
        worker: String,
        /// Its payload, bytes.
        bytes: usize,
    },
    /// The estimate is above `--max-cost`.
    #[error(
        "estimated cost ${estimate:.2} is above --max-cost ${max:.2}: lower the load, the duration or --memory, or raise --max-cost"
    )]
    Cost {
        /// The plan's estimate, USD.
        estimate: f64,
        /// `--max-cost`, USD.
        max: f64,
    },
    /// A big run aimed at a host nobody vouched for.
    #[error(
        "{rps:.0} req/s{basis} over {workers} workers against `{host}`, which is neither loopback nor in the scenario's `allowed_targets`: add it there or pass --yes"
    )]
    Unconfirmed {
        /// The target's host.
        host: String,
        /// Planned requests per second (closed models' estimated).
        rps: f64,
        /// How a closed model's rate was estimated (empty for open models).
        basis: String,
        /// Planned worker slots.
        workers: usize,
    },
}

/// Refuses a memory size Lambda does not offer.
pub fn check_memory(memory_mb: u32) -> Result<(), PreflightError> {
    if (MIN_MEMORY_MB..=MAX_MEMORY_MB).contains(&memory_mb) {
        Ok(())
    } else {
        Err(PreflightError::Memory(memory_mb))
    }
}

/// The hard checks of a made plan: connections per worker and invoke payloads.
pub fn check_plan(scenario: &Scenario, plan: &Plan) -> Result<(), PreflightError> {
    check_connections(scenario, plan)?;
    check_payloads(plan)
}

/// Refuses a plan where some worker would hold more than [`MAX_VUS_PER_WORKER`]
/// connections (only `--workers` can ask for so few).
fn check_connections(scenario: &Scenario, plan: &Plan) -> Result<(), PreflightError> {
    let limit = sls_load_plan::share::vus_limit(&scenario.http);
    let what = if limit > MAX_VUS_PER_WORKER {
        "VUs"
    } else {
        "connections"
    };
    let per_worker_limit = u64::from(limit);
    for s in &scenario.scenarios {
        let Some(vus) = s.max_vus else { continue };
        let region_vus = |weight: f64| (f64::from(vus) * weight).ceil().max(0.0) as u64;
        let workers: u64 = plan
            .regions
            .iter()
            .map(|r| region_vus(r.weight).div_ceil(per_worker_limit).max(1))
            .sum();
        for r in plan.regions.iter().filter(|r| r.slots > 0) {
            let per_worker = region_vus(r.weight).div_ceil(r.slots as u64);
            if per_worker > per_worker_limit {
                return Err(PreflightError::Connections {
                    what,
                    limit,
                    scenario: s.name.clone(),
                    region: r.region.clone(),
                    per_worker,
                    workers,
                });
            }
        }
    }
    Ok(())
}

/// Counts bytes without keeping them.
struct Counter(usize);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Refuses a plan with a job above [`MAX_INVOKE_PAYLOAD`] as JSON.
fn check_payloads(plan: &Plan) -> Result<(), PreflightError> {
    let largest = plan
        .jobs
        .iter()
        .map(|job| {
            let mut counter = Counter(0);
            // A job always encodes; were it not to, it would not be sent either.
            let _ = serde_json::to_writer(&mut counter, job);
            (counter.0, job)
        })
        .max_by_key(|(bytes, _)| *bytes);
    match largest {
        Some((bytes, job)) if bytes > MAX_INVOKE_PAYLOAD => Err(PreflightError::Payload {
            worker: format!("{}/{}", job.region, job.worker_id),
            bytes,
        }),
        _ => Ok(()),
    }
}

/// What the hard checks of a made plan learned: its expected requests (when
/// knowable) and its estimated cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// HTTP requests the plan should send ([`sls_load_plan::plan::expected_requests`]).
    pub expected: Option<f64>,
    /// The estimate ([`sls_load_plan::cost::estimate`]).
    pub cost: Cost,
}

/// The hard checks of a made plan ([`check_plan`]), then its estimate against
/// `--max-cost` ([`check_cost`]).
pub fn check_plan_and_cost(
    scenario: &Scenario,
    plan: &Plan,
    max_cost: Option<f64>,
) -> Result<Checked, PreflightError> {
    check_plan(scenario, plan)?;
    let expected = sls_load_plan::plan::expected_requests(scenario, plan);
    let cost = sls_load_plan::cost::estimate(plan, expected);
    check_cost(&cost, max_cost)?;
    Ok(Checked { expected, cost })
}

/// Refuses a plan whose estimate is above `max` USD.
pub fn check_cost(cost: &Cost, max: Option<f64>) -> Result<(), PreflightError> {
    match max {
        Some(max) if cost.usd > max => Err(PreflightError::Cost {
            estimate: cost.usd,
            max,
        }),
        _ => Ok(()),
    }
}

/// One line per region whose needed concurrency is above `available` (the
/// account's figure per region when known, else [`DEFAULT_LAMBDA_CONCURRENCY`]),
/// each saying which quota to ask for; with no figure known, a last line saying
/// that new accounts may have less than the default.
pub fn concurrency_notes(
    needed: &BTreeMap<Region, usize>,
    available: Option<&BTreeMap<Region, i64>>,
) -> Vec<String> {
    let mut notes = Vec::new();
    for (region, &n) in needed {
        let (have, what) = match available.and_then(|a| a.get(region)) {
            Some(&have) => (have, "the account's"),
            None => (DEFAULT_LAMBDA_CONCURRENCY as i64, "Lambda's default"),
        };
        if n as i64 > have {
            notes.push(format!(
                "{region} needs {n} concurrent executions; {what} {have} is not enough: ask AWS for a Lambda concurrency quota of {n} in {region}, or lower the load"
            ));
        }
    }
    if available.is_none() {
        notes.push(format!(
            "concurrency checked against Lambda's default of {DEFAULT_LAMBDA_CONCURRENCY} per region (no account figure read); new accounts may have less"
        ));
    }
    notes
}

/// Requests per second of each region's plan: iterations per second of every
/// scenario times its requests per iteration, times the region's weight.
fn region_rps(scenario: &Scenario, weight: f64) -> f64 {
    scenario
        .scenarios
        .iter()
        .map(|s| s.executor.iterations_per_second() * s.requests.len() as f64)
        .sum::<f64>()
        * weight
}

/// One line per region where a worker would be asked for more requests per second
/// than one worker can send at the plan's memory ([`WORKER_MAX_RPS_PER_VCPU`]).
pub fn rate_notes(scenario: &Scenario, plan: &Plan) -> Vec<String> {
    let vcpus = f64::from(plan.memory_mb) / ONE_VCPU_MB;
    let capacity = WORKER_MAX_RPS_PER_VCPU * vcpus;
    plan.regions
        .iter()
        .filter(|r| r.slots > 0)
        .filter_map(|r| {
            let rps = region_rps(scenario, r.weight);
            let per_worker = rps / r.slots as f64;
            (per_worker > capacity).then(|| {
                let region_workers = (rps / capacity).ceil();
                format!(
                    "{}: {per_worker:.0} req/s per worker, more than one worker sends at {} MB (about {capacity:.0}/s, docs/PERFORMANCE.md): use --workers so that {} gets {region_workers:.0} or more, or --memory {}",
                    r.region, plan.memory_mb, r.region, ONE_VCPU_MB as u32
                )
            })
        })
        .collect()
}

/// How a closed model's part of `e` was estimated, for a message: empty
/// without one.
pub fn estimate_basis(e: &RateEstimate) -> String {
    if e.vus == 0 {
        return String::new();
    }
    format!(
        " (estimated: {} VUs, their think time and {} per response assumed, --expect-latency)",
        e.vus,
        humantime::format_duration(e.latency)
    )
}

/// The host of a base URL `scheme://host[:port]`, lowercase, IPv6 without brackets.
pub fn target_host(target: &str) -> String {
    let rest = target.split_once("://").map_or(target, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.to_ascii_lowercase()
}

/// Whether `host` is this machine: `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The guard against typos aimed at production: a run above [`GUARD_RPS`] or
/// [`GUARD_WORKERS`] slots against a host that is neither loopback nor in the
/// scenario's `allowed_targets` is [`PreflightError::Unconfirmed`] unless `yes`.
/// A closed model's rate is estimated with responses taking `latency`
/// (`--expect-latency`, see [`RateEstimate`]).
pub fn check_target(
    scenario: &Scenario,
    slots: usize,
    yes: bool,
    latency: Duration,
) -> Result<(), PreflightError> {
    let estimate = RateEstimate::of(scenario, latency);
    let rps = estimate.total();
    let host = target_host(&scenario.target);
    let big = rps > GUARD_RPS || slots > GUARD_WORKERS;
    if yes || !big || is_loopback(&host) || scenario.allowed_targets.contains(&host) {
        return Ok(());
    }
    Err(PreflightError::Unconfirmed {
        host,
        rps,
        basis: estimate_basis(&estimate),
        workers: slots,
    })
}

#[cfg(test)]
#[path = "preflight_tests.rs"]
mod tests;
