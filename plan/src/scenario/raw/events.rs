//! The `events:` list and the `drill:` block of a failover drill, as serde reads
//! them: each event's `at`, `name`, one action (`http`, `run` + `timeout`,
//! `pause_region` + `until`), optional `until` and `ends`; leaves are checked here so
//! their errors carry the parser's line.
//!
//! It does not check events against the run (instants within it, regions of the
//! run, unique names, one action per event: `build` does) and runs nothing.

use std::time::Duration;

use serde::Deserialize;

use super::collections::Headers;
use super::numbers::{duration_or_zero, optional_duration, optional_duration_or_zero};
use super::strings::{check_name, check_region, optional_method};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::scenario) struct RawEvent {
    #[serde(deserialize_with = "duration_or_zero")]
    pub(in crate::scenario) at: Duration,
    #[serde(deserialize_with = "event_name")]
    pub(in crate::scenario) name: String,
    #[serde(default)]
    pub(in crate::scenario) http: Option<RawEventHttp>,
    #[serde(default)]
    pub(in crate::scenario) run: Option<String>,
    #[serde(default, deserialize_with = "optional_duration")]
    pub(in crate::scenario) timeout: Option<Duration>,
    #[serde(default, deserialize_with = "optional_region")]
    pub(in crate::scenario) pause_region: Option<String>,
    #[serde(default, deserialize_with = "optional_duration_or_zero")]
    pub(in crate::scenario) until: Option<Duration>,
    #[serde(default, deserialize_with = "optional_event_name")]
    pub(in crate::scenario) ends: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::scenario) struct RawEventHttp {
    #[serde(default, deserialize_with = "optional_method")]
    pub(in crate::scenario) method: Option<String>,
    pub(in crate::scenario) url: String,
    #[serde(default)]
    pub(in crate::scenario) headers: Headers,
    #[serde(default)]
    pub(in crate::scenario) body: Option<String>,
}

/// `drill: { baseline, band: { errors_pp, p95_factor }, stable_for }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::scenario) struct RawDrill {
    #[serde(default, deserialize_with = "optional_duration")]
    pub(in crate::scenario) baseline: Option<Duration>,
    #[serde(default)]
    pub(in crate::scenario) band: Option<RawBand>,
    #[serde(default, deserialize_with = "optional_duration")]
    pub(in crate::scenario) stable_for: Option<Duration>,
    #[serde(default, deserialize_with = "optional_duration")]
    pub(in crate::scenario) detect_for: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::scenario) struct RawBand {
    #[serde(default, deserialize_with = "super::numbers::optional_non_negative")]
    pub(in crate::scenario) errors_pp: Option<f64>,
    #[serde(default, deserialize_with = "super::numbers::optional_positive")]
    pub(in crate::scenario) p95_factor: Option<f64>,
}

fn event_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_str(super::strings::Checked {
        expecting: "an event name",
        check: |s: &str| check_name("event name", s),
    })
}

fn optional_event_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    event_name(d).map(Some)
}

fn optional_region<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_str(super::strings::Checked {
        expecting: "an AWS region like eu-west-1",
        check: check_region,
    })
    .map(Some)
}
