//! The fan-out of a run: invokes the plan's jobs slice after slice at the right
//! instants (slice 0 at once, every later slice one lead time before its start,
//! so it is warm and waiting when the previous slice ends), counts invocations
//! as they are made, and returns the ones that failed. Each payload gets the
//! run's `{{__ENV.NAME}}` values here, after the plan was stored without them.
//!
//! It owns timing between slices only; retries and concurrency within a slice are
//! [`crate::invoke`]'s, and it does not follow progress, inject faults or decide
//! what failures mean.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use sls_load_core::job::Job;

use crate::invoke::{InvokeError, Invoker, invoke_all};
use sls_load_plan::plan::Plan;

/// Base backoff between retries of one invocation.
const BASE_BACKOFF: Duration = Duration::from_millis(100);

/// How the fan-out runs.
#[derive(Debug, Clone, Copy)]
pub struct FanOut {
    /// Time between invoking a slice and its start instant.
    pub lead: Duration,
    /// Invocations in flight at once (over all regions).
    pub concurrency: usize,
    /// Print each slice's fan-out time to stderr.
    pub timings: bool,
}

/// Invocations made so far (failed ones included), readable while the fan-out runs.
#[derive(Debug, Default)]
pub struct InvocationCount(AtomicUsize);

impl InvocationCount {
    /// Invocations made so far.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    fn add_one(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Invokes every job of `plan`, slice after slice, each with the `env` values
/// of its `{{__ENV.NAME}}` variables; counts each invocation in `count` as it is
/// made. Returns the invocations that failed.
pub async fn invoke_slices<I: Invoker>(
    invoker: &I,
    plan: &Plan,
    env: &BTreeMap<String, String>,
    fan_out: FanOut,
    count: &InvocationCount,
) -> Vec<InvokeError> {
    let mut failures = Vec::new();
    for slice in 0..plan.slices {
        let jobs: Vec<Job> = plan
            .jobs
            .iter()
            .filter(|j| j.slice == slice)
            .map(|j| Job {
                env: env.clone(),
                ..j.clone()
            })
            .collect();
        let Some(first) = jobs.first() else { continue };
        if slice > 0 {
            sleep_until(
                first
                    .start_at
                    .checked_sub(fan_out.lead)
                    .unwrap_or(first.start_at),
            )
            .await;
        }
        failures.extend(invoke_slice(invoker, slice, &jobs, fan_out, count).await);
    }
    failures
}

/// Invokes one slice's jobs and logs (or with `timings` prints) how long it took.
async fn invoke_slice<I: Invoker>(
    invoker: &I,
    slice: u32,
    jobs: &[Job],
    fan_out: FanOut,
    count: &InvocationCount,
) -> Vec<InvokeError> {
    let began = Instant::now();
    let failed = invoke_all(invoker, jobs, fan_out.concurrency, BASE_BACKOFF, || {
        count.add_one()
    })
    .await;
    tracing::info!(
        slice,
        invocations = jobs.len(),
        failed = failed.len(),
        seconds = began.elapsed().as_secs_f64(),
        "fan-out done"
    );
    if fan_out.timings {
        eprintln!(
            "sls-load: slice {slice}: {} invocations in {:.3}s",
            jobs.len(),
            began.elapsed().as_secs_f64()
        );
    }
    failed
}

/// Sleeps until `at` by the system clock; returns at once if it has passed.
pub async fn sleep_until(at: SystemTime) {
    if let Ok(wait) = at.duration_since(SystemTime::now()) {
        tokio::time::sleep(wait).await;
    }
}
