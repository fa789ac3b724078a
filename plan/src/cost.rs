//! What a run costs: a price table (with its date and source), the estimate
//! `sls-load plan` prints before a run, and the actual cost the summary reports
//! from the workers' manifests.
//!
//! Pure arithmetic over a [`Plan`] and manifests; no IO, no SDK calls. Prices are
//! public list prices (first tier, no free tier), so the figures are an upper
//! bound for most accounts.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sls_load_core::control::CHECK_EVERY;
use sls_load_core::job::MAX_DRAIN;
use sls_load_core::job::{Job, Manifest, Region};

use crate::plan::{Arch, Plan};

/// When the prices below were read, and where.
pub const PRICES_AS_OF: &str = "2024-11 list prices";
/// Where the prices come from.
pub const PRICES_SOURCE: &str = "aws.amazon.com/lambda/pricing and aws.amazon.com/s3/pricing";

/// Lambda compute, USD per GB-second (first tier).
pub fn lambda_gb_second(region: &Region, arch: Arch) -> f64 {
    // Most regions share the US price; the few with a premium are listed.
    let premium = matches!(
        region.as_str(),
        "af-south-1" | "ap-east-1" | "me-south-1" | "eu-south-1" | "ap-southeast-3"
    );
    match (arch, premium) {
        (Arch::X86_64, false) => 0.000_016_666_7,
        (Arch::Arm64, false) => 0.000_013_333_4,
        (Arch::X86_64, true) => 0.000_022_100_0,
        (Arch::Arm64, true) => 0.000_017_680_0,
    }
}

/// Lambda requests, USD per invocation ($0.20 per million).
pub const LAMBDA_REQUEST: f64 = 0.20 / 1_000_000.0;
/// S3 Standard PUT/COPY/POST/LIST, USD per request ($0.005 per 1,000).
pub const S3_PUT: f64 = 0.005 / 1000.0;
/// S3 Standard LIST, USD per request ($0.005 per 1,000).
pub const S3_LIST: f64 = 0.005 / 1000.0;
/// S3 Standard GET, USD per request ($0.0004 per 1,000).
pub const S3_GET: f64 = 0.0004 / 1000.0;

/// How often the orchestrator lists the store while waiting.
pub const POLL_EVERY: Duration = Duration::from_millis(500);

/// A cost breakdown in USD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Cost {
    /// Everything.
    pub usd: f64,
    /// Lambda compute (GB-seconds × price).
    pub lambda_compute_usd: f64,
    /// Lambda invocations.
    pub lambda_requests_usd: f64,
    /// S3 requests.
    pub s3_usd: f64,
    /// Billed GB-seconds.
    pub gb_seconds: f64,
    /// Invocations.
    pub invocations: u64,
    /// S3 PUTs, GETs and LISTs.
    pub s3_requests: S3Requests,
    /// USD per million HTTP requests sent, when any were.
    pub usd_per_million_requests: Option<f64>,
}

/// S3 request counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct S3Requests {
    /// PUT requests.
    pub put: u64,
    /// GET requests.
    pub get: u64,
    /// LIST requests.
    pub list: u64,
}

/// Sums the parts of a cost.
fn total(
    gb_seconds_by_region: &[(Region, f64)],
    arch: Arch,
    invocations: u64,
    s3: S3Requests,
    http_requests: f64,
) -> Cost {
    let lambda_compute_usd: f64 = gb_seconds_by_region
        .iter()
        .map(|(r, gbs)| gbs * lambda_gb_second(r, arch))
        .sum();
    let lambda_requests_usd = invocations as f64 * LAMBDA_REQUEST;
    let s3_usd = s3.put as f64 * S3_PUT + s3.get as f64 * S3_GET + s3.list as f64 * S3_LIST;
    let usd = lambda_compute_usd + lambda_requests_usd + s3_usd;
    Cost {
        usd,
        lambda_compute_usd,
        lambda_requests_usd,
        s3_usd,
        // Folded from +0.0: an empty `sum` of f64 is -0.0, printed as "-0.0 GB-s".
        gb_seconds: gb_seconds_by_region.iter().fold(0.0, |sum, (_, g)| sum + g),
        invocations,
        s3_requests: s3,
        usd_per_million_requests: (http_requests > 0.0).then(|| usd / http_requests * 1e6),
    }
}

/// Bills a duration as Lambda does: rounded up to the millisecond.
fn billed_seconds(d: Duration) -> f64 {
    d.as_nanos().div_ceil(1_000_000).max(1) as f64 / 1000.0
}

/// The estimate for a plan, before running it. `expected_requests` is what the
/// scenario should send (None when a closed-model executor makes it unknowable).
pub fn estimate(plan: &Plan, expected_requests: Option<f64>) -> Cost {
    let gb = f64::from(plan.memory_mb) / 1024.0;
    let lead = plan
        .start_at
        .duration_since(plan.created_at)
        .unwrap_or_default();
    let mut by_region = Vec::new();
    let mut puts = 0;
    let mut control_gets = 0;
    for r in &plan.regions {
        let seconds: f64 = plan
            .jobs
            .iter()
            .filter(|j| j.region == r.region)
            .map(|j| {
                // A worker is billed from invocation: it waits for its start (about the
                // lead time), runs its slice, drains and flushes (about a second).
                let billed = lead
                    + j.duration
                    + j.request_timeout.min(MAX_DRAIN) / 10
                    + Duration::from_secs(1);
                billed_seconds(billed)
            })
            .sum();
        by_region.push((r.region.clone(), seconds * gb));
    }
    for j in &plan.jobs {
        let flushes = j
            .duration
            .as_nanos()
            .div_ceil(j.flush_every.as_nanos().max(1)) as u64;
        puts += flushes + 2; // interval logs + claim + manifest
        control_gets += control_checks(j, flushes);
    }
    let invocations = plan.jobs.len() as u64;
    let followed = lead + plan.duration + Duration::from_secs(5);
    let polls = followed.as_secs_f64() / POLL_EVERY.as_secs_f64();
    // `run` reads the control object too, for a stop from another terminal.
    control_gets += followed.as_nanos().div_ceil(CHECK_EVERY.as_nanos()) as u64;
    let objects = puts + 2;
    let pages = objects.div_ceil(1000).max(1);
    let s3 = S3Requests {
        put: puts + 3,                             // + plan.json, control.json and summary.json
        get: objects - invocations + control_gets, // claims are never read
        list: polls.ceil() as u64 * pages,
    };
    total(
        &by_region,
        plan.arch,
        invocations,
        s3,
        expected_requests.unwrap_or(0.0),
    )
}

/// The GETs of the kill switch one worker of `job` makes, flushing `flushes`
/// times: its control object once every [`CHECK_EVERY`] from about a second
/// before its start (its claim) to the end of its slice, and once after every
/// flush; as many again for the heartbeat of a run with `--heartbeat`. That is
/// 30 GETs a minute plus one per flush (twice that with a heartbeat).
pub fn control_checks(job: &Job, flushes: u64) -> u64 {
    let watched = job.duration + Duration::from_secs(1);
    let checks = watched.as_nanos().div_ceil(CHECK_EVERY.as_nanos()) as u64 + flushes;
    if job.heartbeat.is_some() {
        checks * 2
    } else {
        checks
    }
}

/// The actual cost of a run from its manifests: each worker's billed duration is
/// from when its invocation reached the handler until it finished, plus its init.
///
/// S3 requests are counted from the objects: every interval log, manifest, plan and
/// summary is one PUT and one GET, every worker's claim one PUT; LISTs are the polls
/// over the run's span.
pub fn actual(plan: &Plan, manifests: &[&Manifest], http_requests: u64) -> Cost {
    let objects: u64 = manifests
        .iter()
        .map(|m| u64::from(m.latency_logs) + 1)
        .sum::<u64>()
        + 2;
    let span = manifests
        .iter()
        .map(|m| m.finished_at)
        .max()
        .and_then(|end| end.duration_since(plan.created_at).ok())
        .unwrap_or_default();
    let claims = manifests.len() as u64;
    let s3 = S3Requests {
        put: objects + claims,
        get: objects,
        list: (span.as_secs_f64() / POLL_EVERY.as_secs_f64()).ceil() as u64
            * objects.div_ceil(1000).max(1),
    };
    let gb = f64::from(plan.memory_mb) / 1024.0;
    let mut by_region: Vec<(Region, f64)> = Vec::new();
    for m in manifests {
        let ran = m
            .finished_at
            .duration_since(m.invoked_at)
            .unwrap_or_default()
            + m.init_duration.unwrap_or_default();
        let gbs = billed_seconds(ran) * gb;
        match by_region.iter_mut().find(|(r, _)| *r == m.region) {
            Some((_, total)) => *total += gbs,
            None => by_region.push((m.region.clone(), gbs)),
        }
    }
    total(
        &by_region,
        plan.arch,
        plan.jobs.len() as u64,
        s3,
        http_requests as f64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_adds_compute_requests_and_s3_at_list_prices() {
        // Hand-computed: 10 workers × 60 s at 1,769 MB (1.7275390625 GB) on x86_64 in
        // us-east-1 = 1036.5234375 GB-s × $0.0000166667 = $0.017275425...
        let gbs = 10.0 * 60.0 * (1769.0 / 1024.0);
        let s3 = S3Requests {
            put: 70,
            get: 72,
            list: 200,
        };
        let c = total(
            &[(Region::new("us-east-1").unwrap(), gbs)],
            Arch::X86_64,
            10,
            s3,
            600_000.0,
        );
        let compute = 1036.5234375 * 0.000_016_666_7;
        let requests = 10.0 * 0.000_000_2;
        let storage = 70.0 * 0.000_005 + 72.0 * 0.000_000_4 + 200.0 * 0.000_005;
        assert!((c.lambda_compute_usd - compute).abs() < 1e-12);
        assert!((c.lambda_requests_usd - requests).abs() < 1e-15);
        assert!((c.s3_usd - storage).abs() < 1e-12);
        assert!((c.usd - (compute + requests + storage)).abs() < 1e-12);
        // $0.0186... for 600k requests: $0.031 per million.
        let per_million = c.usd_per_million_requests.unwrap();
        assert!((per_million - c.usd / 0.6).abs() < 1e-9);
    }

    #[test]
    fn arm64_is_cheaper_and_premium_regions_cost_more() {
        let us = Region::new("us-east-1").unwrap();
        assert!(lambda_gb_second(&us, Arch::Arm64) < lambda_gb_second(&us, Arch::X86_64));
        assert!(
            lambda_gb_second(&Region::new("af-south-1").unwrap(), Arch::X86_64)
                > lambda_gb_second(&us, Arch::X86_64)
        );
    }

    #[test]
    fn workers_read_the_control_object_every_check_period_and_after_every_flush() {
        let mut job: Job = serde_json::from_value(serde_json::json!({
            "format": 1, "run_id": "r", "worker_id": "w0000", "region": "us-east-1",
            "start_at": "2026-01-01T00:00:00Z", "duration": "59s", "target": "http://x",
            "scenarios": [], "results": { "bucket": "b", "region": "us-east-1" },
            "flush_every": "10s", "request_timeout": "5s"
        }))
        .unwrap();
        // 60 s watched at one GET per 2 s, plus 6 flushes: 36.
        assert_eq!(control_checks(&job, 6), 36);
        job.heartbeat = Some(Duration::from_secs(60));
        assert_eq!(control_checks(&job, 6), 72);
    }

    #[test]
    fn a_run_without_manifests_costs_zero_not_minus_zero() {
        let c = total(&[], Arch::X86_64, 2, S3Requests::default(), 0.0);
        assert!(c.gb_seconds.is_sign_positive() && c.gb_seconds == 0.0);
        assert_eq!(format!("{:.1}", c.gb_seconds), "0.0");
    }

    #[test]
    fn lambda_bills_whole_milliseconds() {
        assert_eq!(billed_seconds(Duration::from_micros(1500)), 0.002);
        assert_eq!(billed_seconds(Duration::from_millis(2)), 0.002);
        assert_eq!(billed_seconds(Duration::ZERO), 0.001);
    }
}
