//! Failover drills (issue #13), as planned: the events a scenario puts on the
//! run's timeline ([`EventSpec`], stored in the plan), the drill settings
//! (`drill:` in the scenario, [`DrillSettings`]) and the plan's drill part
//! ([`DrillPlan`]).
//!
//! It does not parse the scenario file (`scenario` does, into these types), run
//! the events (the orchestrator does), pause the load (workers do, reading the
//! pause windows of the control object, see `sls_load_core::control`) or analyse
//! what the events did (sls-load-report does).

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
/// Default length a region must stay outside its band for an event to count as
/// detected: shorter stretches are noise, not the event's effect.
pub const DEFAULT_DETECT_FOR: Duration = Duration::from_secs(2);
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
    /// The earlier event this one ends (`ends: eu-down`): that event's impact
    /// window closes here, and this one is analysed as its end, not as a new
    /// failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends: Option<String>,
    /// What it does.
    pub action: EventAction,
}

impl EventSpec {
    /// What the event acts on, so that the next event acting on the same thing
    /// closes its impact window: the AWS region it names (`pause_region`'s, or
    /// one in an `http:` URL or a `run:` command, like `/regions/eu-west-1/down`),
    /// else an `http:` URL's host and port; `None` for a `run:` command naming
    /// no region (its window then ends only at `until`, an `ends:` or the run's
    /// end).
    pub fn subject(&self) -> Option<String> {
        let named_region = |text: &str| {
            text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .find(|word| crate::zones::AWS_REGIONS.contains(word))
                .map(str::to_owned)
        };
        match &self.action {
            EventAction::PauseRegion { region } => Some(region.clone()),
            EventAction::Run { command, .. } => named_region(command),
            EventAction::Http { url, .. } => named_region(url).or_else(|| {
                url.parse::<http::Uri>()
                    .ok()
                    .and_then(|u| u.authority().map(|a| a.as_str().to_owned()))
            }),
        }
    }
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
    /// How long a region must stay outside the band for the event to count as
    /// detected (plans written before it existed read the default).
    #[serde(default = "default_detect_for", with = "humantime_serde")]
    pub detect_for: Duration,
}

fn default_detect_for() -> Duration {
    DEFAULT_DETECT_FOR
}

impl Default for DrillSettings {
    fn default() -> Self {
        Self {
            baseline: DEFAULT_BASELINE,
            errors_pp: DEFAULT_ERRORS_PP,
            p95_factor: DEFAULT_P95_FACTOR,
            stable_for: DEFAULT_STABLE_FOR,
            detect_for: DEFAULT_DETECT_FOR,
        }
    }
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
