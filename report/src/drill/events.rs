//! A drill's events as they ran: one [`EventRecord`] per event (planned and
//! actual start, end, HTTP status or exit status, the first lines of the
//! response body or the command's output), stored as
//! `runs/{run_id}/events.json` ([`EventsFile`], docs/FORMAT.md) by the run and
//! read back by every report.
//!
//! It owns the record and its file; running the events is the orchestrator's
//! (`events.rs` there), judging their effect the [`analysis`](super::analysis)'s.

use serde::{Deserialize, Serialize};
use sls_load_core::job::{ObjectKey, RunId};

use crate::store::{Store, StoreError};

/// Version of `events.json`.
pub const EVENTS_FORMAT: u32 = 1;

/// How an event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It did what it was asked (HTTP status < 400, exit status 0, a pause window).
    Ok,
    /// It failed: an HTTP status >= 400, no response, a non-zero exit, a timeout.
    Failed,
    /// The run stopped before its instant: it never started.
    Cancelled,
}

/// What one event did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventRecord {
    /// The event's name.
    pub name: String,
    /// `http`, `run` or `pause_region`.
    pub kind: String,
    /// Planned start, seconds after the run's start.
    pub at_s: f64,
    /// Planned end, seconds after the run's start (`until`), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_s: Option<f64>,
    /// Actual start, seconds after the run's start; absent when cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_s: Option<f64>,
    /// Actual end of its action (response read, command exited, window
    /// passed), seconds after the run's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_s: Option<f64>,
    /// How it ended.
    pub outcome: Outcome,
    /// `http:` events: the response status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// `run:` events: the exit status (absent when killed by a signal or timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed, one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// First lines of the response body or of the command's output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<String>,
}

impl EventRecord {
    /// Whether the event failed (a cancelled event did not).
    pub fn failed(&self) -> bool {
        self.outcome == Outcome::Failed
    }
}

/// `runs/{run_id}/events.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventsFile {
    /// [`EVENTS_FORMAT`].
    pub format: u32,
    /// The events in scenario order.
    pub events: Vec<EventRecord>,
}

/// The key of a run's events record.
pub fn key(run: &RunId) -> ObjectKey {
    ObjectKey::events(run)
}

/// Stores the records of `run`'s events.
pub async fn store(
    store: &impl Store,
    run: &RunId,
    events: Vec<EventRecord>,
) -> Result<(), StoreError> {
    let file = EventsFile {
        format: EVENTS_FORMAT,
        events,
    };
    let body = serde_json::to_vec_pretty(&file).unwrap_or_default();
    store.put(&key(run), body, "application/json").await
}

/// Reads the records of `run`'s events; empty when the run stored none.
pub async fn load(store: &impl Store, run: &RunId) -> Result<Vec<EventRecord>, LoadError> {
    let key = key(run);
    let Some(bytes) = store.get(&key).await? else {
        return Ok(Vec::new());
    };
    serde_json::from_slice::<EventsFile>(&bytes)
        .map(|f| f.events)
        .map_err(|e| LoadError::Bad {
            key,
            message: e.to_string(),
        })
}

/// Why a run's events record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The object is not an events record.
    #[error("{key}: not an events record: {message}")]
    Bad {
        /// The object.
        key: ObjectKey,
        /// The decoder's message.
        message: String,
    },
}
