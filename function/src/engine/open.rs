//! The open model (`constant-arrival-rate`, `ramping-arrival-rate`): iterations
//! start at their scheduled instants however fast the target answers.
//!
//! A pacer on its own OS thread sleeps until each intended instant with the
//! operating system's timer and releases it to an idle VU. With no idle VU it
//! starts another one up to `max_vus`; past that the arrival is a dropped
//! iteration, never a late one. The VUs themselves are async tasks.
//!
//! Precision matters because latency counts from the intended instant: the async
//! runtime's timer wheel rounds every sleep up to the next millisecond (measured
//! here: 1.2 ms late at the median), the OS timer is about 0.15 ms late, and
//! waking an idle async task from another thread adds a few hundred microseconds
//! more. So the pacer wakes a little early (at most [`MAX_EARLY`], and at most a
//! sixteenth of the gap to the previous arrival) and the VU yields until the
//! instant itself: the hand-off happens inside that slack, for at most about 6 % of
//! one core spent yielding. This module owns that hand-off; the instants come from
//! `schedule`, the iterations from [`iteration`](super::iteration).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use super::iteration::{self, Vu};
use super::{Ctx, EngineError, Stop};
use crate::schedule::ArrivalSchedule;

/// How early the pacer hands an arrival over at most (see the module documentation).
pub const MAX_EARLY: Duration = Duration::from_micros(500);

/// How often a pacer waiting for a distant arrival looks at the stop signal.
const STOP_POLL: Duration = Duration::from_millis(50);

/// The VUs of one scenario and what a new one needs.
struct Pool {
    ctx: Arc<Ctx>,
    runtime: Handle,
    rx: async_channel::Receiver<Instant>,
    idle: Arc<AtomicUsize>,
    vus: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts one more VU, running `first` right away if given.
    fn spawn(&mut self, first: Option<Instant>) {
        let number = self.vus.len() as u64 + 1;
        let vu = run_vu(
            first,
            number,
            self.rx.clone(),
            self.idle.clone(),
            self.ctx.clone(),
        );
        self.vus.push(self.runtime.spawn(vu));
    }
}

/// Runs the arrivals of `schedule` with `pre` VUs started up front and at most
/// `max`; returns the dropped iterations.
pub(super) async fn run(
    ctx: Arc<Ctx>,
    schedule: ArrivalSchedule,
    pre: u32,
    max: u32,
) -> Result<u64, EngineError> {
    let (tx, rx) = async_channel::unbounded::<Instant>();
    let max = max.max(1) as usize;
    let mut pool = Pool {
        ctx: ctx.clone(),
        runtime: Handle::current(),
        rx,
        idle: Arc::new(AtomicUsize::new(0)),
        vus: Vec::new(),
    };
    for _ in 0..(pre as usize).min(max) {
        pool.spawn(None);
    }
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let pacer_failed = |reason: String| EngineError::Pacer {
        scenario: ctx.name.clone(),
        reason,
    };
    std::thread::Builder::new()
        .name("sls-load-pacer".into())
        .spawn(move || {
            let dropped = pace(schedule, &mut pool, &tx, max);
            drop(tx);
            let _ = done_tx.send((dropped, pool.vus));
        })
        .map_err(|e| pacer_failed(e.to_string()))?;
    let (dropped, vus) = done_rx
        .await
        .map_err(|_| pacer_failed("stopped before the end of the slice".into()))?;
    for vu in vus {
        // A VU can only fail to join by panicking; what it recorded stays recorded.
        let _ = vu.await;
    }
    Ok(dropped)
}

/// Releases every arrival at its instant; returns how many were dropped.
fn pace(
    schedule: ArrivalSchedule,
    pool: &mut Pool,
    tx: &async_channel::Sender<Instant>,
    max: usize,
) -> u64 {
    let run_start = pool.ctx.run_start;
    let ready_at = Instant::now();
    let mut dropped = 0;
    let mut previous: Option<Instant> = None;
    let stop = &pool.ctx.stop.clone();
    for t in schedule {
        if stop.is_stopped() {
            break;
        }
        let intended = run_start + t;
        if intended < ready_at {
            dropped += 1;
            pool.ctx.recorder.record_dropped(&pool.ctx.name, 1);
            continue;
        }
        let gap = previous.map_or(MAX_EARLY * 16, |p| intended.saturating_duration_since(p));
        previous = Some(intended);
        let early = MAX_EARLY.min(gap / 16);
        if !sleep_until(intended.checked_sub(early).unwrap_or(intended), stop) {
            break;
        }
        // A drill paused this region: the arrival is counted as paused, not sent.
        if stop
            .paused_until(pool.ctx.clock.wall_of(intended))
            .is_some()
        {
            pool.ctx.recorder.record_paused(&pool.ctx.name, 1);
            continue;
        }
        if take_idle(&pool.idle) {
            // Unbounded: a send fails only once every VU is gone.
            if tx.try_send(intended).is_err() {
                dropped += 1;
                pool.ctx.recorder.record_dropped(&pool.ctx.name, 1);
            }
        } else if pool.vus.len() < max {
            pool.spawn(Some(intended));
        } else {
            dropped += 1;
            pool.ctx.recorder.record_dropped(&pool.ctx.name, 1);
        }
    }
    dropped
}

/// Blocks the pacer thread until `at` (never earlier); returns `false` early
/// when `stop` is given, which it looks at every [`STOP_POLL`] of a long wait.
fn sleep_until(at: Instant, stop: &Stop) -> bool {
    loop {
        let now = Instant::now();
        if now >= at {
            return true;
        }
        if stop.is_stopped() {
            return false;
        }
        std::thread::sleep((at - now).min(STOP_POLL));
    }
}

/// Claims one idle VU if there is one.
fn take_idle(idle: &AtomicUsize) -> bool {
    idle.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

/// One VU: runs an iteration for every instant it is handed, on its own connection.
async fn run_vu(
    mut next: Option<Instant>,
    number: u64,
    rx: async_channel::Receiver<Instant>,
    idle: Arc<AtomicUsize>,
    ctx: Arc<Ctx>,
) {
    let mut vu = Vu::new(&ctx, number);
    loop {
        let intended = match next.take() {
            Some(t) => t,
            None => {
                idle.fetch_add(1, Ordering::AcqRel);
                match rx.recv().await {
                    Ok(t) => t,
                    Err(_) => return,
                }
            }
        };
        // Handed over up to `MAX_EARLY` ahead: wait out the rest without a timer.
        while Instant::now() < intended {
            tokio::task::yield_now().await;
        }
        if iteration::run(&ctx, &mut vu, Some(intended), || true)
            .await
            .is_err()
        {
            return;
        }
    }
}
