//! The engine's stop signal: once [`Stop::stop`] is called, no iteration starts,
//! no further step of a running iteration is sent, think times and waits for the
//! start end at once, and requests in flight get at most
//! [`STOP_DRAIN`](sls_load_core::control::STOP_DRAIN) more.
//!
//! It also carries a drill's pause windows for this worker's region
//! (`pause_region`): the executors ask [`Stop::paused_until`] before starting an
//! iteration. This module owns the signal only: reading the control object and
//! deciding to stop (or pause) is `crate::control`'s. The hot path stays cheap: executors read an atomic
//! flag, and each VU holds one [`StopSignal`] (a oneshot receiver, polled without
//! locks) for the few places that wait.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use tokio::sync::{Notify, oneshot};

/// A stop order shared by the engine's executors and whoever may stop them.
#[derive(Debug, Default)]
pub struct Stop {
    stopped: AtomicBool,
    /// The senders of every [`StopSignal`] handed out and not fired yet.
    signals: Mutex<Vec<oneshot::Sender<()>>>,
    notify: Notify,
    /// Whether any pause window is set (the hot path skips the lock without).
    has_pauses: AtomicBool,
    /// Pause windows of this worker's region, `[from, until)`.
    pauses: Mutex<Vec<(SystemTime, SystemTime)>>,
}

impl Stop {
    /// A stop that has not been given.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Gives the order: every signal fires, every waiter wakes.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        let signals =
            std::mem::take(&mut *self.signals.lock().unwrap_or_else(PoisonError::into_inner));
        for s in signals {
            let _ = s.send(());
        }
        self.notify.notify_waiters();
    }

    /// Whether the order was given.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Returns once the order is given.
    pub async fn stopped(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Registered before the flag is read: a stop in between still wakes it.
            notified.as_mut().enable();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }

    /// Sets this worker's pause windows `[from, until)` (replacing earlier ones).
    pub fn set_pauses(&self, windows: Vec<(SystemTime, SystemTime)>) {
        let mut pauses = self.pauses.lock().unwrap_or_else(PoisonError::into_inner);
        self.has_pauses
            .store(!windows.is_empty(), Ordering::Release);
        *pauses = windows;
    }

    /// When the pause covering `at` ends, if one does.
    pub fn paused_until(&self, at: SystemTime) -> Option<SystemTime> {
        if !self.has_pauses.load(Ordering::Acquire) {
            return None;
        }
        let pauses = self.pauses.lock().unwrap_or_else(PoisonError::into_inner);
        pauses
            .iter()
            .filter(|(from, until)| *from <= at && at < *until)
            .map(|(_, until)| *until)
            .max()
    }

    /// A signal of its own for one VU.
    pub(super) fn signal(&self) -> StopSignal {
        let (tx, rx) = oneshot::channel();
        let mut signals = self.signals.lock().unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock `stop` drains: a signal made after it fires at once.
        if self.is_stopped() {
            let _ = tx.send(());
        } else {
            signals.push(tx);
        }
        StopSignal { rx: Some(rx) }
    }
}

/// One VU's view of a [`Stop`]: a future that can be awaited again and again.
#[derive(Debug)]
pub(super) struct StopSignal {
    rx: Option<oneshot::Receiver<()>>,
}

impl StopSignal {
    /// Returns once the stop is given (at once after that).
    pub(super) async fn fired(&mut self) {
        if let Some(rx) = self.rx.as_mut() {
            // A dropped sender (the stop itself gone) means nothing more will run.
            let _ = rx.await;
            self.rx = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn signals_and_waiters_made_before_or_after_the_stop_all_fire() {
        let stop = Stop::new();
        let mut before = stop.signal();
        let waiter = tokio::spawn({
            let stop = stop.clone();
            async move { stop.stopped().await }
        });
        tokio::task::yield_now().await;
        assert!(!stop.is_stopped());
        let quiet = tokio::time::timeout(Duration::from_millis(20), before.fired()).await;
        assert!(quiet.is_err(), "fired before the stop");
        stop.stop();
        assert!(stop.is_stopped());
        before.fired().await;
        before.fired().await;
        stop.signal().fired().await;
        stop.stopped().await;
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter woke")
            .expect("joined");
    }
}
