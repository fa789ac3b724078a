//! Failover drills (issue #13), the orchestrator's side: the events a scenario
//! puts on the run's timeline ([`EventSpec`], stored in the plan), the drill
//! settings (`drill:` in the scenario, [`DrillSettings`]), running the events at
//! their instants and recording what they did ([`events`]), and the analysis of
//! what each event did to every client region ([`analysis`]), with the drill
//! thresholds judged on it ([`thresholds`]).
//!
//! It does not parse the scenario file (`scenario` does, into these types), pause
//! the load itself (workers do, reading the pause windows of the control object,
//! see `sls_load_core::control`), or merge interval logs (`merge` does; the
//! analysis reads the merged per-second feed, `series::ClosedSecond`).

pub mod analysis;
pub mod events;
pub mod html;
pub mod render;
pub mod thresholds;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default baseline window: the 10 s before an event.
pub const DEFAULT_BASELINE: Duration = Duration::from_secs(10);
/// Default band: error rate at most this many percentage points over the baseline's.
pub const DEFAULT_ERRORS_PP: f64 = 1.0;
/// Default band: p95 at most this factor times the baseline's p95.
pub const DEFAULT_P95_FACTOR: f64 = 1.5;
/// Default length of the stable window that ends a recovery.
pub const DEFAULT_STABLE_FOR: Duration = Duration::from_secs(5);
/// Default timeout of a `run:` event.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout of an `http:` event's request.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long before a `pause_region` window the control object carrying it is
/// written, so that every worker (reading it every `CHECK_EVERY`) knows the
/// window before it opens.
pub const PAUSE_LEAD: Duration = Duration::from_secs(5);

/// One event of a drill, as the scenario's `events:` list gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSpec {
    /// Unique within the scenario (`[A-Za-z0-9_.-]+`).
    pub name: String,
    /// When it starts, after the run's agreed start.
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    /// When it ends, after the run's start (`until:`); `None`: it has no end
    /// (the analysis then looks for recovery).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<Duration>,
    /// What it does.
    pub action: EventAction,
}

/// What an event does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventAction {
    /// One HTTP request (`http: { method, url, headers, body }`); `http://` only.
    Http {
        /// Upper-case method; `GET` when not given.
        method: String,
        /// An `http://` URL; in the scenario also a path relative to the
        /// target (`/regions/eu-west-1/down`), made absolute in the plan.
        url: String,
        /// Request headers.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
        /// Request body.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// A command run through `sh -c` (`run: CMD`); needs `--allow-exec`.
    Run {
        /// The command line.
        command: String,
        /// Killed past this.
        #[serde(with = "humantime_serde")]
        timeout: Duration,
    },
    /// The load of one client region pauses from `at` to `until`
    /// (`pause_region: R`).
    PauseRegion {
        /// The region whose workers pause.
        region: String,
    },
}

impl EventAction {
    /// `http`, `run` or `pause_region`.
    pub fn kind(&self) -> &'static str {
        match self {
            EventAction::Http { .. } => "http",
            EventAction::Run { .. } => "run",
            EventAction::PauseRegion { .. } => "pause_region",
        }
    }
}

/// The `drill:` block: how events are judged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DrillSettings {
    /// The window before an event its baseline is taken from.
    #[serde(with = "humantime_serde")]
    pub baseline: Duration,
    /// Allowed rise of the error rate over the baseline's, percentage points.
    pub errors_pp: f64,
    /// Allowed factor of p95 over the baseline's p95.
    pub p95_factor: f64,
    /// How long the figures must stay back inside the band to count as recovered.
    #[serde(with = "humantime_serde")]
    pub stable_for: Duration,
}

impl Default for DrillSettings {
    fn default() -> Self {
        Self {
            baseline: DEFAULT_BASELINE,
            errors_pp: DEFAULT_ERRORS_PP,
            p95_factor: DEFAULT_P95_FACTOR,
            stable_for: DEFAULT_STABLE_FOR,
        }
    }
}

/// Adds a drill's part to the summary of `collected`'s run: the events as
/// they ran (read from `events.json`; a warning when it cannot be read), one
/// marker per event start (and end, for events with `until`), the analysis of
/// the closed seconds not drained yet, and the drill thresholds judged on it.
/// Nothing for a run without events.
pub async fn attach(
    store: &impl crate::store::Store,
    collected: &mut crate::collect::Collected,
    summary: &mut crate::summary::Summary,
) {
    let Some(plan) = collected.plan.drill.clone() else {
        return;
    };
    match events::load(store, &collected.plan.run_id).await {
        Ok(records) => summary.events = records,
        Err(e) => eprintln!("sls-load: warning: the drill's events were not read: {e}"),
    }
    summary.paused_iterations = collected
        .manifests
        .values()
        .map(|m| m.paused_iterations)
        .sum();
    summary.markers.extend(markers(&summary.events));
    summary.markers.sort_by(|a, b| a.t.total_cmp(&b.t));
    // What is still queued joins the feed (the outputs may have drained the rest).
    collected.drain_closed();
    let feed = collected.drill_feed().cloned().unwrap_or_default();
    summary.drill = Some(analysis::analyse(&plan, collected.plan.duration, &feed));
    thresholds::judge(summary);
}

/// For `skip_serializing_if`: a zero count is left out.
pub fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Markers for the events' starts (actual, else planned) and planned ends.
fn markers(records: &[events::EventRecord]) -> Vec<crate::series::Marker> {
    let mut out = Vec::new();
    for e in records {
        out.push(crate::series::Marker {
            t: e.started_s.unwrap_or(e.at_s),
            kind: "event".into(),
            label: e.name.clone(),
        });
        if let Some(until) = e.until_s {
            out.push(crate::series::Marker {
                t: until,
                kind: "event".into(),
                label: format!("{} ends", e.name),
            });
        }
    }
    out
}

/// `events` with every `http:` URL given as a path made absolute against
/// `target` (the scenario's, after `--target`).
pub fn resolve_urls(events: &[EventSpec], target: &str) -> Vec<EventSpec> {
    let mut out = events.to_vec();
    for e in &mut out {
        if let EventAction::Http { url, .. } = &mut e.action
            && url.starts_with('/')
        {
            *url = format!("{target}{url}");
        }
    }
    out
}

/// The plan's drill part: the events and their settings (`drill` in plan.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillPlan {
    /// Events in scenario order.
    pub events: Vec<EventSpec>,
    /// How they are judged.
    pub settings: DrillSettings,
}
