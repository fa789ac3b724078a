//! A timer precise to tens of microseconds that wakes the async runtime itself
//! ([`Precise`]): on Linux a `timerfd` registered with the runtime's I/O driver,
//! so a sleep ends on the operating system's high-resolution timer and the task
//! wakes in the same `epoll_wait` that brings the responses, without a thread of
//! its own and without the millisecond rounding of the runtime's timer wheel.
//! Elsewhere it falls back to the runtime's timer (millisecond resolution).
//!
//! This module owns only the waiting. The open model's pacer (`open`) decides
//! when to wake.

use std::io;
use std::time::Instant;

/// One timer, re-armed for every sleep.
pub(super) struct Precise {
    #[cfg(target_os = "linux")]
    fd: tokio::io::unix::AsyncFd<rustix::fd::OwnedFd>,
}

#[cfg(target_os = "linux")]
impl Precise {
    /// A monotonic `timerfd`, non-blocking, registered with the current runtime.
    pub(super) fn new() -> io::Result<Self> {
        use rustix::time::{TimerfdClockId, TimerfdFlags, timerfd_create};
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // Deprecated for descriptors the caller might close behind tokio's back
        // (tokio#8587); an `OwnedFd` moved in is closed only when the `AsyncFd`
        // drops, which is what its `unsafe` successor would have us promise.
        #[allow(deprecated)]
        let fd = tokio::io::unix::AsyncFd::with_interest(fd, tokio::io::Interest::READABLE)?;
        Ok(Self { fd })
    }

    /// Returns at `at` (at once when it is past), never before it.
    pub(super) async fn sleep_until(&mut self, at: Instant) -> io::Result<()> {
        use rustix::time::{Itimerspec, TimerfdTimerFlags, Timespec, timerfd_settime};
        let Some(wait) = at
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        else {
            return Ok(());
        };
        let value = Timespec::try_from(wait).map_err(|_| io::ErrorKind::InvalidInput)?;
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let spec = Itimerspec {
            it_interval: zero,
            it_value: value,
        };
        // Re-arming also resets the count of expirations not read yet.
        timerfd_settime(self.fd.get_ref(), TimerfdTimerFlags::empty(), &spec)?;
        loop {
            let mut ready = self.fd.readable().await?;
            let mut expirations = [0u8; 8];
            match rustix::io::read(ready.get_inner(), &mut expirations) {
                Ok(_) => {
                    // Read: not readable until the next expiration (saves the
                    // next sleep a read that could only say "not yet").
                    ready.clear_ready();
                    return Ok(());
                }
                // Readiness left over from an earlier expiration.
                Err(rustix::io::Errno::AGAIN) => ready.clear_ready(),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Precise {
    /// The runtime's timer.
    pub(super) fn new() -> io::Result<Self> {
        Ok(Self {})
    }

    /// Returns at `at` or up to about a millisecond later.
    pub(super) async fn sleep_until(&mut self, at: Instant) -> io::Result<()> {
        tokio::time::sleep_until(at.into()).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn sleeps_end_at_their_instant_never_before_and_past_ones_at_once() {
        let mut timer = Precise::new().expect("timer");
        for micros in [300, 1_500, 50, 2_000] {
            let at = Instant::now() + Duration::from_micros(micros);
            timer.sleep_until(at).await.expect("sleeps");
            assert!(Instant::now() >= at);
        }
        let before = Instant::now();
        timer
            .sleep_until(before - Duration::from_millis(5))
            .await
            .expect("past");
        assert!(before.elapsed() < Duration::from_secs(1));
    }
}
