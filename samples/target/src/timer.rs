//! Precise response delays. tokio's timer ticks in whole milliseconds and rounds
//! up, so `--delay 5ms` would answer in 6–7 ms; [`PreciseTimer`] keeps the due
//! instants on one OS thread that sleeps until the earliest of them (to within the
//! kernel's timer slack, tens of microseconds) and wakes each waiter then.
//!
//! This module owns only waiting until an instant; what to delay and by how much
//! is [`Behavior`](crate::behavior::Behavior)'s.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Longest the timer thread waits for news when nothing is due.
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// A waiter: wake `tx` at `at`; `seq` keeps equal instants in arrival order.
struct Due {
    at: Instant,
    seq: u64,
    tx: oneshot::Sender<()>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    /// Reversed, so the max-heap pops the earliest instant first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A timer thread for precise waits. The thread ends when the timer is dropped.
pub struct PreciseTimer {
    tx: mpsc::Sender<(Instant, oneshot::Sender<()>)>,
}

impl PreciseTimer {
    /// Starts the timer thread; `None` if the OS refused a thread (callers then
    /// fall back to tokio's timer).
    pub fn start() -> Option<Self> {
        let (tx, rx) = mpsc::channel::<(Instant, oneshot::Sender<()>)>();
        std::thread::Builder::new()
            .name("target-timer".into())
            .spawn(move || run(&rx))
            .ok()?;
        Some(Self { tx })
    }

    /// Waits until `at`.
    pub async fn sleep_until(&self, at: Instant) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send((at, tx)).is_err() || rx.await.is_err() {
            // The thread is gone: tokio's timer is late but correct.
            tokio::time::sleep_until(at.into()).await;
        }
    }
}

fn run(rx: &mpsc::Receiver<(Instant, oneshot::Sender<()>)>) {
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        while heap.peek().is_some_and(|d: &Due| d.at <= now) {
            if let Some(due) = heap.pop() {
                // The request may have gone away meanwhile; nothing to do then.
                let _ = due.tx.send(());
            }
        }
        let wait = heap
            .peek()
            .map_or(IDLE_WAIT, |d| d.at.saturating_duration_since(now));
        match rx.recv_timeout(wait) {
            Ok((at, tx)) => {
                seq += 1;
                heap.push(Due { at, seq, tx });
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[tokio::test]
    async fn waiters_wake_in_order_and_never_early() {
        let timer = Arc::new(PreciseTimer::start().expect("timer thread"));
        let woke = Arc::new(Mutex::new(Vec::new()));
        let base = Instant::now() + Duration::from_millis(20);
        let mut tasks = tokio::task::JoinSet::new();
        for ms in [7u64, 3, 5, 3, 1] {
            let (timer, woke) = (timer.clone(), woke.clone());
            let at = base + Duration::from_millis(ms);
            tasks.spawn(async move {
                timer.sleep_until(at).await;
                let on_time = Instant::now() >= at;
                woke.lock().expect("lock").push((ms, on_time));
            });
        }
        tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(done) = tasks.join_next().await {
                done.expect("waiter panicked");
            }
        })
        .await
        .expect("the timer did not wake its waiters");
        let woke = woke.lock().expect("lock");
        assert!(woke.iter().all(|(_, on_time)| *on_time), "{woke:?}");
        let order: Vec<u64> = woke.iter().map(|(ms, _)| *ms).collect();
        assert_eq!(order, [1, 3, 3, 5, 7]);
    }
}
