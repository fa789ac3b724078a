//! One worker's share of a scenario: splits a scenario's rate, VUs (and later its
//! stages and data rows) over the `n` workers of a region without overlap.
//!
//! Pure. `plan` decides how many workers each region gets and calls
//! [`scenario_for_worker`] for each; this module decides what each one runs.

use std::time::Duration;

use sls_load_function::job::{Executor, JobScenario};

use crate::scenario::{ExecutorDef, ScenarioDef};

/// Connections one worker may hold: a Lambda has 1,024 file descriptors, and the
/// runtime, S3 client and logs need some.
pub const MAX_VUS_PER_WORKER: u32 = 900;

/// The part of scenario `s` that worker `k` of the `n` workers of a region with
/// normalised weight `weight` runs.
pub fn scenario_for_worker(s: &ScenarioDef, weight: f64, k: usize, n: usize) -> JobScenario {
    let share = weight / n as f64;
    let executor = match &s.executor {
        ExecutorDef::ConstantArrivalRate { .. } => {
            let rate = s.executor.iterations_per_second() * share;
            // Workers of a region interleave: worker k starts k/n of a period late.
            let offset = if rate > 0.0 {
                Duration::from_secs_f64(k as f64 / n as f64 / rate)
            } else {
                Duration::ZERO
            };
            Executor::ConstantArrivalRate { rate, offset }
        }
    };
    let rate = s.executor.iterations_per_second() * share;
    let (pre, max) = vus_per_worker(s.pre_allocated_vus, s.max_vus, share, rate);
    JobScenario {
        name: s.name.clone(),
        executor,
        pre_allocated_vus: pre,
        max_vus: max,
        requests: s.requests.clone(),
    }
}

/// One worker's VUs: its share of the scenario's totals, or defaults that allow about
/// one second of latency at the worker's rate, within the file-descriptor budget.
pub fn vus_per_worker(pre: Option<u32>, max: Option<u32>, share: f64, rate: f64) -> (u32, u32) {
    let part = |total: u32| ((f64::from(total) * share).ceil() as u32).max(1);
    let pre = pre
        .map(part)
        .unwrap_or_else(|| ((rate / 10.0).ceil() as u32).clamp(1, 100));
    let max = max
        .map(part)
        .unwrap_or_else(|| (rate.ceil() as u32).clamp(10, MAX_VUS_PER_WORKER));
    let max = max.clamp(1, MAX_VUS_PER_WORKER);
    (pre.min(max), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_vus_stay_within_the_file_descriptor_budget() {
        assert_eq!(
            vus_per_worker(None, None, 1.0, 50_000.0),
            (100, MAX_VUS_PER_WORKER)
        );
        assert_eq!(vus_per_worker(None, None, 1.0, 5.0), (1, 10));
        assert_eq!(vus_per_worker(Some(10), Some(100), 0.25, 5.0), (3, 25));
    }
}
