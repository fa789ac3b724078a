//! The scenario file's shape as serde reads it: one `Raw*` struct per YAML mapping,
//! unknown keys denied, and every leaf checked inside its visitor so that errors
//! carry the parser's line. `numbers` reads durations and numbers, `strings` checks
//! names, URLs and other text, `collections` reads the maps and lists, and
//! `thresholds` the `thresholds` block.
//!
//! It does not check values against each other (an executor's keys, schedules,
//! templates, captures: `build` does) and does not read files.

mod collections;
mod numbers;
mod strings;
mod thresholds;

use std::time::Duration;

use serde::Deserialize;
use sls_load_core::job::{Arrivals, HttpVersionChoice};

pub(super) use collections::{
    Distribution, Headers, Query, Regions, Requests, Scenarios, Sleep, Stages,
};
pub(crate) use strings::is_name;
pub(super) use thresholds::Thresholds;

use numbers::{
    duration, duration_or_zero, non_negative, optional_bytes, optional_duration,
    optional_duration_or_zero, optional_iterations, optional_max_vus, optional_non_negative,
    optional_positive, optional_status, optional_vus,
};
use strings::{
    check_label, data_file, executor_name, header_name, optional_arrivals, optional_header_name,
    optional_method, optional_pointer, optional_regex, pointer, present_json, request_name,
    request_url, target_url, variable_name,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    #[serde(deserialize_with = "target_url")]
    pub(super) target: String,
    #[serde(deserialize_with = "duration")]
    pub(super) duration: Duration,
    #[serde(default)]
    pub(super) regions: Option<Regions>,
    #[serde(default)]
    pub(super) distribution: Option<Distribution>,
    #[serde(default, deserialize_with = "optional_duration")]
    pub(super) request_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "optional_positive")]
    pub(super) worker_rate: Option<f64>,
    pub(super) scenarios: Scenarios,
    #[serde(default)]
    pub(super) thresholds: Option<Thresholds>,
    #[serde(default)]
    pub(super) http: Option<RawHttp>,
    #[serde(default)]
    pub(super) allowed_targets: Option<Vec<String>>,
}

/// The `http:` block: protocol options, k6-style.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    #[serde(default)]
    pub(super) version: Option<HttpVersionChoice>,
    #[serde(default)]
    pub(super) max_redirects: Option<u32>,
    #[serde(default)]
    pub(super) new_connection_per_iteration: Option<bool>,
    #[serde(default)]
    pub(super) insecure_skip_tls_verify: Option<bool>,
    #[serde(default)]
    pub(super) tls_ca_file: Option<String>,
    #[serde(default, deserialize_with = "optional_duration")]
    pub(super) connect_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "optional_bytes")]
    pub(super) max_body_buffer: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenarioDef {
    #[serde(deserialize_with = "executor_name")]
    pub(super) executor: ExecutorKind,
    #[serde(default, deserialize_with = "optional_positive")]
    pub(super) rate: Option<f64>,
    #[serde(default, deserialize_with = "optional_duration")]
    pub(super) time_unit: Option<Duration>,
    #[serde(default, deserialize_with = "optional_non_negative")]
    pub(super) start_rate: Option<f64>,
    #[serde(default)]
    pub(super) stages: Option<Stages>,
    #[serde(default, deserialize_with = "optional_max_vus")]
    pub(super) vus: Option<u32>,
    #[serde(default, deserialize_with = "optional_vus")]
    pub(super) start_vus: Option<u32>,
    #[serde(default, deserialize_with = "optional_iterations")]
    pub(super) iterations: Option<u64>,
    #[serde(default, deserialize_with = "optional_duration")]
    pub(super) duration: Option<Duration>,
    #[serde(default, deserialize_with = "optional_duration")]
    pub(super) max_duration: Option<Duration>,
    #[serde(default, deserialize_with = "optional_duration_or_zero")]
    pub(super) graceful_ramp_down: Option<Duration>,
    #[serde(default, deserialize_with = "optional_duration_or_zero")]
    pub(super) start_time: Option<Duration>,
    #[serde(default, deserialize_with = "optional_arrivals")]
    pub(super) arrivals: Option<Arrivals>,
    #[serde(default, deserialize_with = "optional_vus")]
    pub(super) pre_allocated_vus: Option<u32>,
    #[serde(default, deserialize_with = "optional_max_vus")]
    pub(super) max_vus: Option<u32>,
    #[serde(default)]
    pub(super) data: Option<RawData>,
    pub(super) requests: Requests,
}

impl RawScenarioDef {
    /// The optional scenario keys the file sets, in declaration order.
    pub(super) fn keys_given(&self) -> Vec<&'static str> {
        [
            ("rate", self.rate.is_some()),
            ("time_unit", self.time_unit.is_some()),
            ("start_rate", self.start_rate.is_some()),
            ("stages", self.stages.is_some()),
            ("vus", self.vus.is_some()),
            ("start_vus", self.start_vus.is_some()),
            ("iterations", self.iterations.is_some()),
            ("duration", self.duration.is_some()),
            ("max_duration", self.max_duration.is_some()),
            ("graceful_ramp_down", self.graceful_ramp_down.is_some()),
            ("arrivals", self.arrivals.is_some()),
            ("pre_allocated_vus", self.pre_allocated_vus.is_some()),
            ("max_vus", self.max_vus.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, given)| given.then_some(key))
        .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawData {
    #[serde(deserialize_with = "data_file")]
    pub(super) file: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStage {
    #[serde(deserialize_with = "duration_or_zero")]
    pub(super) duration: Duration,
    #[serde(deserialize_with = "non_negative")]
    pub(super) target: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRequest {
    #[serde(deserialize_with = "request_name")]
    pub(super) name: String,
    #[serde(default, deserialize_with = "optional_method")]
    pub(super) method: Option<String>,
    #[serde(deserialize_with = "request_url")]
    pub(super) url: String,
    #[serde(default)]
    pub(super) query: Option<Query>,
    #[serde(default)]
    pub(super) headers: Headers,
    #[serde(default)]
    pub(super) body: Option<String>,
    #[serde(default)]
    pub(super) json: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "optional_status")]
    pub(super) expect_status: Option<u16>,
    #[serde(default)]
    pub(super) sleep: Option<Sleep>,
    #[serde(default)]
    pub(super) capture: Option<Vec<RawCapture>>,
    #[serde(default)]
    pub(super) checks: Option<Vec<RawCheck>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCapture {
    #[serde(deserialize_with = "variable_name")]
    pub(super) name: String,
    #[serde(default, deserialize_with = "optional_pointer")]
    pub(super) json: Option<String>,
    #[serde(default, deserialize_with = "optional_header_name")]
    pub(super) header: Option<String>,
    #[serde(default, deserialize_with = "optional_regex")]
    pub(super) regex: Option<String>,
    #[serde(default)]
    pub(super) group: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCheck {
    #[serde(deserialize_with = "check_label")]
    pub(super) name: String,
    #[serde(default, deserialize_with = "optional_status")]
    pub(super) status: Option<u16>,
    #[serde(default)]
    pub(super) header: Option<RawHeaderCheck>,
    #[serde(default)]
    pub(super) body_contains: Option<String>,
    #[serde(default)]
    pub(super) json: Option<RawJsonCheck>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHeaderCheck {
    #[serde(deserialize_with = "header_name")]
    pub(super) name: String,
    #[serde(default)]
    pub(super) equals: Option<String>,
    #[serde(default)]
    pub(super) exists: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJsonCheck {
    #[serde(deserialize_with = "pointer")]
    pub(super) pointer: String,
    #[serde(default, deserialize_with = "present_json")]
    pub(super) equals: Option<serde_json::Value>,
}

/// The executors this module can build an [`ExecutorDef`] for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ExecutorKind {
    ConstantArrivalRate,
    RampingArrivalRate,
    ConstantVus,
    RampingVus,
    PerVuIterations,
}

impl ExecutorKind {
    pub(super) const ALL: [(ExecutorKind, &'static str); 5] = [
        (ExecutorKind::ConstantArrivalRate, "constant-arrival-rate"),
        (ExecutorKind::RampingArrivalRate, "ramping-arrival-rate"),
        (ExecutorKind::ConstantVus, "constant-vus"),
        (ExecutorKind::RampingVus, "ramping-vus"),
        (ExecutorKind::PerVuIterations, "per-vu-iterations"),
    ];

    pub(super) fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |(_, n)| n)
    }

    /// The optional scenario keys that apply to this executor (besides `executor`,
    /// `start_time`, `data` and `requests`, which every executor takes).
    pub(super) fn keys(self) -> &'static [&'static str] {
        match self {
            ExecutorKind::ConstantArrivalRate => &[
                "rate",
                "time_unit",
                "duration",
                "arrivals",
                "pre_allocated_vus",
                "max_vus",
            ],
            ExecutorKind::RampingArrivalRate => &[
                "start_rate",
                "time_unit",
                "stages",
                "arrivals",
                "pre_allocated_vus",
                "max_vus",
            ],
            ExecutorKind::ConstantVus => &["vus", "duration"],
            ExecutorKind::RampingVus => &["start_vus", "stages", "graceful_ramp_down"],
            ExecutorKind::PerVuIterations => &["vus", "iterations", "max_duration"],
        }
    }
}
