//! The open model (`constant-arrival-rate`, `ramping-arrival-rate`): iterations
//! start at their scheduled instants however fast the target answers.
//!
//! A pacer task sleeps until arrivals are due, on a timer precise to tens of
//! microseconds that wakes the runtime itself ([`timer`](super::timer)), and
//! releases them to idle VUs. With no idle VU it starts another one up to
//! `max_vus`; past that the arrival is a dropped iteration, never a late one. A
//! VU whose response has come in but that the runtime has not run yet is not idle
//! yet: a release short of idle VUs first lets the runtime run them once.
//!
//! Arrivals are released in batches: two wake-ups of the pacer are at least
//! [`BATCH_WINDOW`] apart, and each hands over every arrival due by then in one
//! go. Each arrival keeps its own intended instant (the instant its VU times the
//! first request from), so an arrival released up to one window after it was due
//! counts that wait in its latency: batching can make a measured latency longer by
//! less than the window, never shorter. Where arrivals are further apart than the
//! window (below 1 / window per second), each is released on its own at its
//! instant, as without batching. At 20,000 per second that is one wake-up per
//! twenty arrivals instead of one each (see docs/PERFORMANCE.md: the window is
//! the millisecond at which the CPU per request fell to oha's, whose pacer also
//! wakes once a millisecond but starts each request's clock when it woke, so its
//! own lateness never shows in its latencies), and the wake-up is the
//! runtime's own (often the same `epoll_wait` that brings responses), not a
//! thread's that then wakes the runtime.
//!
//! Precision matters because latency counts from the intended instant: the async
//! runtime's timer wheel rounds every sleep up to the next millisecond (measured
//! here: 1.2 ms late at the median) and the OS timer is late by tens of
//! microseconds. So for an arrival released at its own instant the pacer wakes a
//! little early (at most [`MAX_EARLY`], and at most a sixteenth of the gap to the
//! previous wake-up) and the VU handed it yields until its instant: the hand-off
//! happens inside that slack, for at most about 6 % of one core spent yielding.
//! This module owns that hand-off; the instants come from `schedule`, the
//! iterations from [`iteration`](super::iteration).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::iteration::{self, Vu};
use super::timer::Precise;
use super::{Ctx, EngineError};
use crate::schedule::ArrivalSchedule;

/// How early the pacer hands an arrival over at most (see the module documentation).
pub const MAX_EARLY: Duration = Duration::from_micros(500);

/// The shortest time between two releases of arrivals (see the module
/// documentation): at most this much later than its intended instant does an
/// arrival reach its VU because of batching.
pub const BATCH_WINDOW: Duration = Duration::from_millis(1);

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

    /// The next release (`None`: no arrival left).
    fn next_wake(&mut self) -> Option<Wake> {
        let first = *self.arrivals.peek()?;
        let at = self
            .last
            .map_or(first, |last| first.max(last + self.window));
        Some(Wake {
            at,
            own: at == first,
            gap: self.last.map(|last| at - last),
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

/// One release of [`Batches`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wake {
    /// When it is due.
    at: Instant,
    /// It is the first arrival's own instant (not held back by the window).
    own: bool,
    /// Since the previous release (`None` for the first).
    gap: Option<Duration>,
}

impl Wake {
    /// How early the pacer may wake for it: only for an arrival released at its
    /// own instant (a batch held back by the window is late for its first
    /// arrivals anyway, and its VUs would spin for nothing).
    fn early(&self) -> Duration {
        match self.own {
            true => MAX_EARLY.min(self.gap.unwrap_or(MAX_EARLY * 16) / 16),
            false => Duration::ZERO,
        }
    }
}

/// The VUs of one scenario and what a new one needs.
struct Pool {
    ctx: Arc<Ctx>,
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
        self.vus.push(tokio::spawn(vu));
    }

    /// Counts one dropped iteration.
    fn drop_one(&self, dropped: &mut u64) {
        *dropped += 1;
        self.ctx.recorder.record_dropped(&self.ctx.name, 1);
    }

    /// Hands `intended` to an idle VU, or a new one, or counts it dropped.
    async fn hand_over(&mut self, intended: Instant, tx: &Sender, max: usize, dropped: &mut u64) {
        let mut idle = take_idle(&self.idle);
        if !idle && self.vus.len() >= max {
            // VUs whose responses are in have not run yet: let them, once.
            tokio::task::yield_now().await;
            idle = take_idle(&self.idle);
        }
        if idle {
            // Unbounded: a send fails only once every VU is gone.
            if tx.try_send(intended).is_err() {
                self.drop_one(dropped);
            }
        } else if self.vus.len() < max {
            self.spawn(Some(intended));
        } else {
            self.drop_one(dropped);
        }
    }
}

type Sender = async_channel::Sender<Instant>;

/// Runs the arrivals of `schedule` with `pre` VUs started up front and at most
/// `max`; returns the dropped iterations.
pub(super) async fn run(
    ctx: Arc<Ctx>,
    schedule: ArrivalSchedule,
    pre: u32,
    max: u32,
) -> Result<u64, EngineError> {
    let timer = Precise::new().map_err(|e| EngineError::Pacer {
        scenario: ctx.name.clone(),
        reason: e.to_string(),
    })?;
    let (tx, rx) = async_channel::unbounded::<Instant>();
    let max = max.max(1) as usize;
    let mut pool = Pool {
        ctx: ctx.clone(),
        rx,
        idle: Arc::new(AtomicUsize::new(0)),
        vus: Vec::new(),
    };
    for _ in 0..(pre as usize).min(max) {
        pool.spawn(None);
    }
    let dropped = pace(schedule, &mut pool, &tx, max, timer).await;
    drop(tx);
    for vu in pool.vus {
        // A VU can only fail to join by panicking; what it recorded stays recorded.
        let _ = vu.await;
    }
    Ok(dropped)
}

/// Releases every arrival of `schedule`, batch by batch (see [`Batches`]);
/// returns how many were dropped.
async fn pace(
    schedule: ArrivalSchedule,
    pool: &mut Pool,
    tx: &Sender,
    max: usize,
    mut timer: Precise,
) -> u64 {
    let run_start = pool.ctx.run_start;
    let ready_at = Instant::now();
    let stop = pool.ctx.stop.clone();
    let mut dropped = 0;
    let mut batches = Batches::new(schedule.map(|t| run_start + t), BATCH_WINDOW);
    let mut due = Vec::new();
    while let Some(next) = batches.next_wake() {
        let wake = next.at;
        if stop.is_stopped() {
            break;
        }
        // Arrivals already past when the worker became ready are not released.
        if wake >= ready_at {
            let at = wake.checked_sub(next.early()).unwrap_or(wake);
            let sleep = async {
                if timer.sleep_until(at).await.is_err() {
                    // The precise timer failed: the runtime's, a little later.
                    tokio::time::sleep_until(at.into()).await;
                }
            };
            tokio::select! {
                () = sleep => {}
                () = stop.stopped() => break,
            }
        }
        batches.release(wake, wake.max(Instant::now()), &mut due);
        for &intended in &due {
            if stop.is_stopped() {
                break;
            }
            if intended < ready_at {
                pool.drop_one(&mut dropped);
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
            pool.hand_over(intended, tx, max, &mut dropped).await;
        }
    }
    dropped
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
        while let Some(Wake { at: wake, .. }) = batches.next_wake() {
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
        // Wake-ups are at least a window apart: at 20,000/s twenty arrivals each.
        for pair in out.windows(2) {
            assert!(pair[1].0 - pair[0].0 >= window);
        }
        let dense_wakes = out.iter().filter(|(w, _)| *w < t0 + us(100_000)).count();
        let window_us = u64::try_from(window.as_micros()).expect("small");
        assert_eq!(dense_wakes as u64, 100_000 / window_us);
        // After the first (released at its own instant), each takes a window's worth.
        assert!(
            out.iter()
                .skip(1)
                .filter(|(w, _)| *w < t0 + us(100_000))
                .all(|(_, due)| due.len() == 20)
        );
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
        let wake = batches.next_wake().expect("an arrival");
        assert_eq!((wake.at, wake.own, wake.early()), (t0, true, MAX_EARLY));
        let wake = wake.at;
        let mut due = Vec::new();
        // Woken 4.5 ms late (a stalled machine): five arrivals, each its own instant.
        batches.release(wake, t0 + Duration::from_micros(4_500), &mut due);
        assert_eq!(due, arrivals[..5]);
        let next = batches.next_wake().expect("more");
        assert_eq!((next.at, next.gap), (arrivals[5], Some(ms(5))));
        // 5 ms after the previous release: woken up to a sixteenth of that early.
        assert_eq!(next.early(), MAX_EARLY.min(ms(5) / 16));
    }
}
