//! The worker's side of the kill switch: reads the run's control object
//! (`runs/{run_id}/control.json`) every [`CHECK_EVERY`] and after every flush,
//! and, for a run started with `--heartbeat`, the heartbeat object; gives the
//! engine's [`Stop`] when the control object says stop or the heartbeat went
//! stale.
//!
//! A missing control object, or one that cannot be read or parsed, means "go
//! on" (logged). The heartbeat is the opposite, a dead-man switch: it is stale
//! when this worker has not seen it change for the run's period, by its own
//! clock, whether because the orchestrator stopped refreshing it or because the
//! store stopped answering. This module decides when to stop; it does not stop
//! the engine itself (see `engine::stop`), flush, or write the manifest.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sls_load_core::control::{CHECK_EVERY, Control};
use tokio::sync::Notify;

use crate::engine::Stop;
use crate::job::{Job, ObjectKey};
use crate::sink::Sink;

/// The heartbeat as last seen.
struct Seen {
    /// Its bytes (`None`: no object).
    bytes: Option<Vec<u8>>,
    /// When they last changed (or when watching began).
    changed: Instant,
}

/// Watches one job's control (and heartbeat) objects.
pub struct Watch<'a, S> {
    job: &'a Job,
    sink: &'a S,
    stop: Arc<Stop>,
    heartbeat: Mutex<Seen>,
    done: Notify,
}

impl<'a, S: Sink> Watch<'a, S> {
    /// Watches `job`'s run through `sink`, giving `stop` when told to.
    pub fn new(job: &'a Job, sink: &'a S, stop: Arc<Stop>) -> Self {
        Self {
            job,
            sink,
            stop,
            heartbeat: Mutex::new(Seen {
                bytes: None,
                changed: Instant::now(),
            }),
            done: Notify::new(),
        }
    }

    #[cfg(test)]
    fn stopped(&self) -> bool {
        self.stop.is_stopped()
    }

    /// Checks at once, then every [`CHECK_EVERY`], until [`Watch::finished`].
    pub async fn run(&self) {
        loop {
            self.check().await;
            tokio::select! {
                () = tokio::time::sleep(CHECK_EVERY) => {}
                () = self.done.notified() => return,
            }
        }
    }

    /// Ends [`Watch::run`] (the engine is done).
    pub fn finished(&self) {
        self.done.notify_one();
    }

    /// One look: gives the stop when the control object says stop or the
    /// heartbeat is stale. Nothing to do once stopped.
    pub async fn check(&self) {
        if self.stop.is_stopped() {
            return;
        }
        let (control, heartbeat) = tokio::join!(self.control_says(), self.heartbeat_stale());
        if let Some(reason) = control.or(heartbeat) {
            tracing::warn!(run = %self.job.run_id, %reason, "told to stop: stopping the load");
            self.stop.stop();
        }
    }

    /// The stop reason the control object gives, if it says stop.
    async fn control_says(&self) -> Option<String> {
        let key = ObjectKey::control(&self.job.run_id);
        let bytes = self.read(&key).await.ok()??;
        match serde_json::from_slice::<Control>(&bytes) {
            Ok(c) if c.stop => Some(c.reason.unwrap_or_else(|| "stopped".into())),
            Ok(c) => {
                self.set_pauses(&c);
                None
            }
            Err(e) => {
                tracing::warn!(key = %key, error = %e, "unreadable control object; going on");
                None
            }
        }
    }

    /// Hands the control object's pause windows of this worker's region (a
    /// drill's `pause_region`) to the engine.
    fn set_pauses(&self, control: &Control) {
        let windows: Vec<_> = control
            .pauses
            .iter()
            .filter(|p| p.region == self.job.region.as_str())
            .map(|p| (p.from, p.until))
            .collect();
        if !windows.is_empty() {
            tracing::info!(run = %self.job.run_id, windows = windows.len(), "drill: pause windows set");
        }
        self.stop.set_pauses(windows);
    }

    /// `Some("heartbeat")` when the run has a heartbeat and this worker has not
    /// seen it change for its period.
    async fn heartbeat_stale(&self) -> Option<String> {
        let period = self.job.heartbeat?;
        let read = self.read(&ObjectKey::heartbeat(&self.job.run_id)).await;
        let mut seen = self
            .heartbeat
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Ok(bytes) = read
            && bytes != seen.bytes
        {
            *seen = Seen {
                bytes,
                changed: Instant::now(),
            };
        }
        stale(seen.changed, Instant::now(), period).then(|| "heartbeat".to_owned())
    }

    /// One GET of `key`, bounded by [`CHECK_EVERY`]; `Err(())` when it failed
    /// (logged).
    async fn read(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, ()> {
        match tokio::time::timeout(CHECK_EVERY, self.sink.get(key)).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "control check failed");
                Err(())
            }
            Err(_) => {
                tracing::warn!(key = %key, "control check timed out");
                Err(())
            }
        }
    }
}

/// Whether a heartbeat last seen changing at `changed` is stale at `now`.
fn stale(changed: Instant, now: Instant, period: Duration) -> bool {
    now.saturating_duration_since(changed) > period
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use crate::sink::{Claim, ReadError, SinkError};

    /// A store in memory that can be made to fail every GET.
    #[derive(Default)]
    struct Memory {
        objects: Mutex<HashMap<String, Vec<u8>>>,
        failing: std::sync::atomic::AtomicBool,
    }

    impl Memory {
        fn set(&self, key: &ObjectKey, body: &str) {
            self.objects
                .lock()
                .unwrap()
                .insert(key.as_str().to_owned(), body.as_bytes().to_vec());
        }
    }

    impl Sink for Memory {
        async fn claim(&self, _: &ObjectKey, _: Vec<u8>) -> Result<Claim, SinkError> {
            Ok(Claim::Won)
        }
        async fn put(&self, _: &ObjectKey, _: Vec<u8>, _: &'static str) -> Result<(), SinkError> {
            Ok(())
        }
        async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, ReadError> {
            if self.failing.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(ReadError {
                    bucket: "b".into(),
                    key: key.clone(),
                    message: "503 SlowDown".into(),
                });
            }
            Ok(self.objects.lock().unwrap().get(key.as_str()).cloned())
        }
    }

    fn job() -> Job {
        crate::engine::tests::job("http://127.0.0.1:1", Duration::from_secs(1), vec![])
    }

    #[tokio::test]
    async fn a_missing_or_failing_or_running_control_object_goes_on_and_a_stop_stops() {
        let job = job();
        let store = Memory::default();
        let watch = Watch::new(&job, &store, Stop::new());
        watch.check().await;
        assert!(!watch.stopped(), "no object");
        store.set(&ObjectKey::control(&job.run_id), "not json");
        watch.check().await;
        store.set(
            &ObjectKey::control(&job.run_id),
            r#"{"format":1,"stop":false,"at":"2026-01-01T00:00:00Z"}"#,
        );
        watch.check().await;
        assert!(!watch.stopped(), "garbage, or told to go on");
        store.set(
            &ObjectKey::control(&job.run_id),
            r#"{"format":1,"stop":true,"reason":"stopped","at":"2026-01-01T00:00:00Z"}"#,
        );
        store
            .failing
            .store(true, std::sync::atomic::Ordering::Relaxed);
        watch.check().await;
        assert!(!watch.stopped(), "a failed read is no stop");
        store
            .failing
            .store(false, std::sync::atomic::Ordering::Relaxed);
        watch.check().await;
        assert!(watch.stopped());
    }

    #[tokio::test]
    async fn the_pause_windows_of_this_workers_region_reach_the_engine() {
        let job = job();
        let store = Memory::default();
        let stop = Stop::new();
        let watch = Watch::new(&job, &store, stop.clone());
        store.set(
            &ObjectKey::control(&job.run_id),
            r#"{"format":1,"stop":false,"at":"2026-01-01T00:00:00Z","pauses":[
                {"region":"local","from":"2026-01-01T00:00:30Z","until":"2026-01-01T00:00:40Z"},
                {"region":"eu-west-1","from":"2026-01-01T00:00:00Z","until":"2026-01-01T00:01:00Z"}]}"#,
        );
        watch.check().await;
        assert!(!watch.stopped());
        let at = |s: u64| {
            humantime::parse_rfc3339("2026-01-01T00:00:00Z").unwrap() + Duration::from_secs(s)
        };
        assert_eq!(stop.paused_until(at(29)), None);
        assert_eq!(stop.paused_until(at(30)), Some(at(40)));
        assert_eq!(stop.paused_until(at(40)), None, "resumes on time");
    }

    #[tokio::test]
    async fn a_heartbeat_that_changes_keeps_the_worker_going_and_one_that_does_not_stops_it() {
        let mut job = job();
        job.heartbeat = Some(Duration::from_millis(300));
        let store = Memory::default();
        let key = ObjectKey::heartbeat(&job.run_id);
        let watch = Watch::new(&job, &store, Stop::new());
        for seq in 0..6 {
            store.set(&key, &format!("{{\"seq\":{seq}}}"));
            watch.check().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(!watch.stopped(), "refreshed every 100 ms");
        // Unreadable is no sign of life either.
        store
            .failing
            .store(true, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(350)).await;
        watch.check().await;
        assert!(watch.stopped());
    }

    #[test]
    fn stale_means_older_than_the_period() {
        let t = Instant::now();
        let s = Duration::from_secs;
        assert!(!stale(t, t + s(3), s(3)));
        assert!(stale(t, t + s(4), s(3)));
        assert!(!stale(t + s(1), t, s(3)));
    }
}
