//! The open model (`constant-arrival-rate`, `ramping-arrival-rate`): iterations
//! start at their scheduled instants however fast the target answers.
//!
//! A pacer on its own OS thread sleeps until arrivals are due with the operating
//! system's timer and releases them to idle VUs. With no idle VU it starts another
//! one up to `max_vus`; past that the arrival is a dropped iteration, never a late
//! one. The VUs themselves are async tasks.
//!
//! Arrivals are released in batches: two wake-ups of the pacer are at least
//! [`BATCH_WINDOW`] apart, and each hands over every arrival due by then with
//! one wake of the async runtime. Each arrival keeps its own intended instant
//! (the instant its VU times the first request from), so an arrival released up to
//! one window after it was due counts that wait in its latency: batching can make
//! a measured latency longer by less than the window, never shorter. Where
//! arrivals are further apart than the window (below 1 / window per second), each
//! is released on its own at its instant, as without batching. At 20,000 per
//! second that is one pacer wake-up and one runtime wake-up per five arrivals
//! instead of one each (see docs/PERFORMANCE.md).
//!
//! Precision matters because latency counts from the intended instant: the async
//! runtime's timer wheel rounds every sleep up to the next millisecond (measured
//! here: 1.2 ms late at the median), the OS timer is about 0.15 ms late, and
//! waking an idle async task from another thread adds a few hundred microseconds
//! more. So the pacer wakes a little early (at most [`MAX_EARLY`], and at most a
//! sixteenth of the gap to the previous wake-up) and a VU handed an arrival that
//! is not due yet yields until its instant: the hand-off happens inside that
//! slack, for at most about 6 % of one core spent yielding. This module owns that
//! hand-off; the instants come from `schedule`, the iterations from
//! [`iteration`](super::iteration).

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

/// The shortest time between two releases of arrivals (see the module
/// documentation): at most this much later than its intended instant does an
/// arrival reach its VU because of batching.
pub const BATCH_WINDOW: Duration = Duration::from_micros(250);

/// How often a pacer waiting for a distant arrival looks at the stop signal.
const STOP_POLL: Duration = Duration::from_millis(50);

/// A schedule's intended instants grouped into releases: each release is one
/// wake-up of the pacer, at the first arrival not released yet or one
/// [`BATCH_WINDOW`] after the previous wake-up, whichever is later, and takes
/// every arrival due by then. Pure: the pacer does the sleeping.
struct Batches<I: Iterator<Item = Instant>> {
    arrivals: std::iter::Peekable<I>,
    window: Duration,
    /// When the previous release was planned for.
    last: Option<Instant>,
}

impl<I: Iterator<Item = Instant>> Batches<I> {
    fn new(arrivals: I, window: Duration) -> Self {
        Self {
            arrivals: arrivals.peekable(),
            window,
            last: None,
        }
    }

    /// When the next release is due, and the gap since the previous one (`None`:
    /// no arrival left).
    fn next_wake(&mut self) -> Option<(Instant, Option<Duration>)> {
        let first = *self.arrivals.peek()?;
        Some(match self.last {
            Some(last) => {
                let wake = first.max(last + self.window);
                (wake, Some(wake - last))
            }
            None => (first, None),
        })
    }

    /// Releases, in order, every arrival due by `upto` (the planned `wake` or, if
    /// the pacer overslept, the time it woke), each with its own instant.
    fn release(&mut self, wake: Instant, upto: Instant, out: &mut Vec<Instant>) {
        self.last = Some(wake);
        out.clear();
        while let Some(t) = self.arrivals.next_if(|t| *t <= upto) {
            out.push(t);
        }
    }
}

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

/// Releases every arrival of `schedule`, batch by batch (see [`Batches`]);
/// returns how many were dropped.
fn pace(
    schedule: ArrivalSchedule,
    pool: &mut Pool,
    tx: &async_channel::Sender<Instant>,
    max: usize,
) -> u64 {
    let run_start = pool.ctx.run_start;
    let ready_at = Instant::now();
    let stop = &pool.ctx.stop.clone();
    let mut dropped = 0;
    let mut drop_one = |pool: &Pool| {
        dropped += 1;
        pool.ctx.recorder.record_dropped(&pool.ctx.name, 1);
    };
    let mut batches = Batches::new(schedule.map(|t| run_start + t), BATCH_WINDOW);
    let mut due = Vec::new();
    while let Some((wake, gap)) = batches.next_wake() {
        if stop.is_stopped() {
            break;
        }
        // Arrivals already past when the worker became ready are not released.
        if wake >= ready_at {
            let early = MAX_EARLY.min(gap.unwrap_or(MAX_EARLY * 16) / 16);
            if !sleep_until(wake.checked_sub(early).unwrap_or(wake), stop) {
                break;
            }
        }
        batches.release(wake, wake.max(Instant::now()), &mut due);
        for &intended in &due {
            if stop.is_stopped() {
                break;
            }
            if intended < ready_at {
                drop_one(pool);
                continue;
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
                    drop_one(pool);
                }
            } else if pool.vus.len() < max {
                pool.spawn(Some(intended));
            } else {
                drop_one(pool);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every release of `arrivals` as the pacer would make it on time:
    /// `(planned wake-up, arrivals handed over)`.
    fn releases(arrivals: &[Instant], window: Duration) -> Vec<(Instant, Vec<Instant>)> {
        let mut batches = Batches::new(arrivals.iter().copied(), window);
        let mut out = Vec::new();
        while let Some((wake, _)) = batches.next_wake() {
            let mut due = Vec::new();
            batches.release(wake, wake, &mut due);
            out.push((wake, due));
        }
        out
    }

    #[test]
    fn batching_hands_each_arrival_over_with_its_own_intended_instant() {
        let t0 = Instant::now();
        let us = |n: u64| Duration::from_micros(n);
        // 20,000/s for 100 ms, then ten arrivals 100 ms apart.
        let dense = (0..2_000).map(|i| t0 + us(50 * i));
        let sparse = (1..=10).map(|i| t0 + Duration::from_millis(100 + 100 * i));
        let arrivals: Vec<Instant> = dense.chain(sparse).collect();
        let window = BATCH_WINDOW;
        let out = releases(&arrivals, window);

        // The same instants, in the same order, none twice: what each VU is handed
        // (and times its first request from) is the arrival's own instant.
        let handed: Vec<Instant> = out.iter().flat_map(|(_, due)| due.clone()).collect();
        assert_eq!(handed, arrivals);
        for (wake, due) in &out {
            assert!(!due.is_empty());
            for t in due {
                // Never before its instant, and less than one window after it.
                assert!(t <= wake && *wake - *t < window, "{t:?} at {wake:?}");
            }
        }
        // Wake-ups are at least a window apart: at 20,000/s five arrivals each.
        for pair in out.windows(2) {
            assert!(pair[1].0 - pair[0].0 >= window);
        }
        let dense_wakes = out.iter().filter(|(w, _)| *w < t0 + us(100_000)).count();
        assert_eq!(dense_wakes, 400);
        // Arrivals further apart than the window are released alone, on time.
        for (wake, due) in out.iter().rev().take(10) {
            assert_eq!(due, &vec![*wake]);
        }
    }

    #[test]
    fn a_pacer_that_overslept_releases_everything_due_by_the_time_it_woke() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let arrivals: Vec<Instant> = (0..10).map(|i| t0 + ms(i)).collect();
        let mut batches = Batches::new(arrivals.iter().copied(), BATCH_WINDOW);
        let (wake, _) = batches.next_wake().expect("an arrival");
        assert_eq!(wake, t0);
        let mut due = Vec::new();
        // Woken 4.5 ms late (a stalled machine): five arrivals, each its own instant.
        batches.release(wake, t0 + Duration::from_micros(4_500), &mut due);
        assert_eq!(due, arrivals[..5]);
        let (next, gap) = batches.next_wake().expect("more");
        assert_eq!((next, gap), (arrivals[5], Some(ms(5))));
    }
}
