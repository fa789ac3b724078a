//! The kill switch's wire shapes: the run's control object
//! (`runs/{run_id}/control.json`, [`Control`]) that tells workers to stop, and
//! the optional heartbeat object (`runs/{run_id}/heartbeat.json`, [`Heartbeat`])
//! of the dead-man switch, with the fixed period at which workers read them.
//!
//! The orchestrator writes both (`run`, `sls-load stop`); workers only read them.
//! This module owns the serde shapes and the timing constants both sides (and the
//! cost estimate) share. It does no IO and reads no clock: writing, reading and
//! deciding when a heartbeat is stale belong to the orchestrator and the worker.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// Version of the control and heartbeat objects.
pub const CONTROL_FORMAT: u32 = 1;

/// How often a running worker reads the control object (and the heartbeat, when
/// the run has one), besides once after every flush.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// How long requests in flight when a worker is told to stop may still take (at
/// most their own timeout); past it they count as timeouts.
pub const STOP_DRAIN: Duration = Duration::from_secs(2);

/// The shortest `--heartbeat` period: a worker must be able to read the
/// heartbeat more than once within it.
pub const MIN_HEARTBEAT: Duration = Duration::from_secs(3);

/// Why a run was told to stop, as written in [`Control::reason`].
pub mod reasons {
    /// Ctrl-C or SIGTERM at the orchestrator of `run`.
    pub const INTERRUPTED: &str = "interrupted";
    /// `sls-load stop RUN_ID`.
    pub const STOPPED: &str = "stopped";
    /// An `abortOnFail` threshold failed while the run went (named in
    /// [`Control::threshold`](super::Control::threshold)).
    pub const THRESHOLD: &str = "threshold";
}

/// `runs/{run_id}/control.json`: whether the run's workers must stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// [`CONTROL_FORMAT`].
    pub format: u32,
    /// True: stop sending, flush, and write the manifest with `stopped: true`.
    pub stop: bool,
    /// Why (see [`reasons`]); absent while the run goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// With reason [`reasons::THRESHOLD`]: the threshold that failed, as
    /// `metric expr` (`http_req_duration p(95)<1`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<String>,
    /// When it was written.
    #[serde(with = "humantime_serde")]
    pub at: SystemTime,
    /// Windows in which one region's load pauses (a drill's `pause_region`
    /// events), written before the workers start; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pauses: Vec<Pause>,
}

/// A window in which the workers of one region start no iteration: arrivals
/// due in it are counted as paused, and the schedule resumes at `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// The region (load zone) whose workers pause.
    pub region: String,
    /// When the pause begins.
    #[serde(with = "humantime_serde")]
    pub from: SystemTime,
    /// When the load resumes.
    #[serde(with = "humantime_serde")]
    pub until: SystemTime,
}

impl Pause {
    /// Whether `at` lies in the window (`from` included, `until` not).
    pub fn covers(&self, at: SystemTime) -> bool {
        self.from <= at && at < self.until
    }
}

impl Control {
    /// The object `run` writes before invoking: the run goes on.
    pub fn running(at: SystemTime) -> Self {
        Self {
            format: CONTROL_FORMAT,
            stop: false,
            reason: None,
            threshold: None,
            at,
            pauses: Vec::new(),
        }
    }

    /// A stop order for `reason`.
    pub fn stop(reason: &str, at: SystemTime) -> Self {
        Self {
            format: CONTROL_FORMAT,
            stop: true,
            reason: Some(reason.to_owned()),
            threshold: None,
            at,
            pauses: Vec::new(),
        }
    }

    /// A stop order because the `abortOnFail` threshold `threshold` (`metric
    /// expr`) failed.
    pub fn stop_by_threshold(threshold: &str, at: SystemTime) -> Self {
        Self {
            threshold: Some(threshold.to_owned()),
            ..Self::stop(reasons::THRESHOLD, at)
        }
    }

    /// The threshold that stopped the run, when it was stopped by one.
    pub fn aborted_by(&self) -> Option<&str> {
        if self.stop && self.reason.as_deref() == Some(reasons::THRESHOLD) {
            self.threshold.as_deref()
        } else {
            None
        }
    }
}

/// `runs/{run_id}/heartbeat.json`: rewritten by the orchestrator while it
/// follows a run started with `--heartbeat`. A worker stops when it has not seen
/// the object change for the run's heartbeat period (by its own clock, so clock
/// skew between the two does not matter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// [`CONTROL_FORMAT`].
    pub format: u32,
    /// Counts up with every refresh.
    pub seq: u64,
    /// When it was written.
    #[serde(with = "humantime_serde")]
    pub at: SystemTime,
}

/// How often the orchestrator refreshes a heartbeat of period `period`: a third
/// of it, so a worker sees a change several times within the period.
pub fn heartbeat_refresh(period: Duration) -> Duration {
    period / 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_json_is_the_documented_shape() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let stop = serde_json::to_string(&Control::stop(reasons::INTERRUPTED, at)).unwrap();
        assert_eq!(
            stop,
            r#"{"format":1,"stop":true,"reason":"interrupted","at":"2027-01-15T08:00:00Z"}"#
        );
        let running = serde_json::to_string(&Control::running(at)).unwrap();
        assert_eq!(
            running,
            r#"{"format":1,"stop":false,"at":"2027-01-15T08:00:00Z"}"#
        );
        let back: Control = serde_json::from_str(&stop).unwrap();
        assert_eq!(back, Control::stop("interrupted", at));
        assert_eq!(back.aborted_by(), None);
    }

    #[test]
    fn a_threshold_stop_order_names_the_threshold() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let order = Control::stop_by_threshold("http_req_duration p(95)<1", at);
        let json = serde_json::to_string(&order).unwrap();
        assert_eq!(
            json,
            r#"{"format":1,"stop":true,"reason":"threshold","threshold":"http_req_duration p(95)<1","at":"2027-01-15T08:00:00Z"}"#
        );
        let back: Control = serde_json::from_str(&json).unwrap();
        assert_eq!(back.aborted_by(), Some("http_req_duration p(95)<1"));
    }
}
