//! The closed model (`constant-vus`, `ramping-vus`, `per-vu-iterations`,
//! `shared-iterations`): VUs loop iterations back to back, as many as the schedule
//! says at each moment; with shared iterations each VU takes the next of the
//! worker's count until none is left.
//!
//! A controller follows the worker's VU steps (from `schedule`), publishing the
//! current count; VU `j` runs while the count is above `j` and waits otherwise, so
//! ramping down stops the highest-numbered VUs first. A VU removed by a ramp-down
//! finishes its current request and starts no new iteration; with
//! `graceful_ramp_down` it also sends no further step of its iteration once that
//! long has passed since it noticed. No iteration starts after the end of the
//! slice: one whose think time would outlast it ends there (see
//! [`iteration::run`]). Requests are timed from their actual send (service time).
//! This module owns that control loop only.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::iteration::{self, Vu};
use super::{Ctx, EngineError};
use crate::schedule::VuSchedule;

/// What limits a VU's iterations: its own count (`per-vu-iterations`) and the
/// count its worker's VUs share (`shared-iterations`, the iterations left).
#[derive(Clone)]
struct Limits {
    per_vu: Option<u64>,
    shared: Option<Arc<AtomicU64>>,
}

impl Limits {
    /// Whether the VU may start another iteration, after `done` of its own; takes
    /// one of the shared iterations when there are.
    fn take(&self, done: u64) -> bool {
        if self.per_vu.is_some_and(|n| done >= n) {
            return false;
        }
        self.shared.as_ref().is_none_or(|left| {
            left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                .is_ok()
        })
    }
}

/// Runs the VUs of `plan` until its last step (or, for `per-vu-iterations` and
/// `shared-iterations`, until the iterations are done).
pub(super) async fn run(ctx: Arc<Ctx>, plan: VuSchedule) -> Result<(), EngineError> {
    let limits = Limits {
        per_vu: plan.iterations,
        shared: plan.shared_iterations.map(|n| Arc::new(AtomicU64::new(n))),
    };
    let limited = limits.per_vu.is_some() || limits.shared.is_some();
    let (tx, rx) = watch::channel(0u32);
    let mut vus: JoinSet<()> = JoinSet::new();
    let mut started = 0u32;
    for step in &plan.steps {
        let at = ctx.run_start + step.at;
        let waited = tokio::select! {
            waited = wait_until(at, &mut vus, limited) => waited,
            () = ctx.stop.stopped() => false,
        };
        if !waited {
            break;
        }
        tx.send_replace(step.vus);
        while started < step.vus {
            let vu = run_vu(
                started,
                rx.clone(),
                ctx.clone(),
                limits.clone(),
                plan.graceful_ramp_down,
            );
            vus.spawn(vu);
            started += 1;
        }
    }
    drop(tx);
    while vus.join_next().await.is_some() {}
    Ok(())
}

/// Waits until `at`; returns `false` early when every VU of a scenario with limited
/// iterations has finished them.
async fn wait_until(at: Instant, vus: &mut JoinSet<()>, limited: bool) -> bool {
    if !limited || vus.is_empty() {
        tokio::time::sleep_until(at.into()).await;
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep_until(at.into()) => true,
        () = async { while vus.join_next().await.is_some() {} } => false,
    }
}

/// VU `j` (from 0): iterates while the published count is above `j`.
async fn run_vu(
    j: u32,
    mut count: watch::Receiver<u32>,
    ctx: Arc<Ctx>,
    limits: Limits,
    grace: Option<Duration>,
) {
    let mut vu = Vu::new(&ctx, u64::from(j) + 1);
    // When the last iteration ended; `None` after waiting, so the clock is read again.
    let mut last: Option<Instant> = None;
    loop {
        while *count.borrow_and_update() <= j {
            if count.changed().await.is_err() {
                return;
            }
            last = None;
        }
        let mut now = last.unwrap_or_else(Instant::now);
        // A drill paused this region: the VU waits for the window's end.
        if let Some(until) = ctx.stop.paused_until(ctx.clock.wall_of(now)) {
            tokio::select! {
                () = tokio::time::sleep_until(ctx.clock.instant_of(until).into()) => {}
                () = ctx.stop.stopped() => return,
            }
            now = Instant::now();
        }
        if now >= ctx.end || ctx.stop.is_stopped() || !limits.take(vu.iterations) {
            return;
        }
        let mut removed_at: Option<Instant> = None;
        let keep_going = || {
            if *count.borrow() > j {
                removed_at = None;
                return true;
            }
            match grace {
                Some(grace) => removed_at.get_or_insert_with(Instant::now).elapsed() < grace,
                None => true,
            }
        };
        match iteration::run(&ctx, &mut vu, None, keep_going).await {
            Ok(ended) => last = Some(ended),
            Err(_) => return,
        }
    }
}
