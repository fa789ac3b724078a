//! The scenario file's shape as serde reads it: one `Raw*` struct per YAML mapping,
//! unknown keys denied, and every leaf checked inside its visitor so that errors
//! carry the parser's line. `numbers` reads durations and numbers, `strings` checks
//! names, URLs and other text, `collections` reads the maps and lists, and
//! `thresholds` the `thresholds` block.
//!
//! It does not check values against each other (an executor's keys, schedules,
//! templates, captures: `build` does) and does not read files.

mod collections;
mod dns;
mod events;
mod numbers;
mod strings;
mod thresholds;

use std::time::Duration;

use serde::Deserialize;
use sls_load_core::job::{Arrivals, HttpVersionChoice, Region};

pub(super) use collections::{
    Distribution, Headers, Query, Regions, Requests, Scenarios, Sleep, Stages,
};
pub(super) use dns::RawDns;
pub(super) use events::{RawDrill, RawEvent};
pub(crate) use strings::is_name;
pub(super) use thresholds::Thresholds;

use numbers::{
    duration_or_zero, non_negative, optional_bytes, optional_duration, optional_duration_or_zero,
    optional_iterations, optional_max_vus, optional_non_negative, optional_positive,
    optional_status, optional_vus,
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
    /// The run's length; with no `scenarios:` block also k6's shortcut for a
    /// `constant-vus` default scenario. Inferred from the scenarios when absent.
    #[serde(default, deserialize_with = "optional_duration")]
    pub(super) duration: Option<Duration>,
    /// k6's shortcuts for the default scenario (no `scenarios:` block).
    #[serde(default, deserialize_with = "optional_max_vus")]
    pub(super) vus: Option<u32>,
    #[serde(default, deserialize_with = "optional_iterations")]
    pub(super) iterations: Option<u64>,
    #[serde(default)]
    pub(super) stages: Option<Stages>,
    /// The default scenario's requests.
    #[serde(default)]
    pub(super) requests: Option<Requests>,
    #[serde(default)]
    pub(super) regions: Option<Regions>,
    #[serde(default)]
    pub(super) distribution: Option<Distribution>,
    #[serde(default, deserialize_with = "optional_duration")]
    pub(super) request_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "optional_positive")]
    pub(super) worker_rate: Option<f64>,
    #[serde(default)]
    pub(super) scenarios: Option<Scenarios>,
    #[serde(default)]
    pub(super) thresholds: Option<Thresholds>,
    #[serde(default)]
    pub(super) http: Option<RawHttp>,
    /// `served_by: { header: X-Served-Region }`: tag every sample with that response header.
    #[serde(default)]
    pub(super) served_by: Option<RawServedBy>,
    /// The request header in which each worker sends its own region.
    #[serde(default, deserialize_with = "optional_header_name")]
    pub(super) region_header: Option<String>,
    /// Where the target runs, for the local network profiles.
    #[serde(default)]
    pub(super) target_region: Option<Region>,
    /// `network: off`, or per-region `{ rtt, jitter }` profiles.
    #[serde(default)]
    pub(super) network: Option<RawNetwork>,
    #[serde(default)]
    pub(super) allowed_targets: Option<Vec<String>>,
    /// A drill's events (issue #13), in file order.
    #[serde(default)]
    pub(super) events: Option<Vec<RawEvent>>,
    /// How a drill's events are judged.
    #[serde(default)]
    pub(super) drill: Option<RawDrill>,
    /// k6's `dns: { ttl, select, policy }` plus `servers`.
    #[serde(default)]
    pub(super) dns: Option<RawDns>,
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
    #[serde(default)]
    pub(super) max_streams_per_connection: Option<u32>,
}

/// The `network:` key: `off`, or profiles by client region.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawNetwork {
    /// `off` (anything else is refused by the build).
    Switch(String),
    /// `{ eu-west-1: { rtt: 100ms, jitter: 5ms } }`.
    Regions(std::collections::BTreeMap<Region, RawProfile>),
}

/// One region's `{ rtt, jitter }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
    #[serde(deserialize_with = "duration_or_zero")]
    pub(super) rtt: Duration,
    #[serde(default, deserialize_with = "optional_duration_or_zero")]
    pub(super) jitter: Option<Duration>,
}

/// The `served_by:` block: which response header names the backend that answered.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServedBy {
    #[serde(deserialize_with = "header_name")]
    pub(super) header: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenarioDef {
    #[serde(deserialize_with = "executor_name")]
    pub(super) executor: ExecutorKind,
    #[serde(default, deserialize_with = "optional_positive")]
    pub(super) rate: Option<f64>,
    #[serde(alias = "timeUnit")]
    #[serde(default, deserialize_with = "optional_duration")]
    pub(super) time_unit: Option<Duration>,
    #[serde(alias = "startRate")]
    #[serde(default, deserialize_with = "optional_non_negative")]
    pub(super) start_rate: Option<f64>,
    #[serde(default)]
    pub(super) stages: Option<Stages>,
    #[serde(default, deserialize_with = "optional_max_vus")]
    pub(super) vus: Option<u32>,
    #[serde(alias = "startVUs")]
    #[serde(default, deserialize_with = "optional_vus")]
    pub(super) start_vus: Option<u32>,
    #[serde(default, deserialize_with = "optional_iterations")]
    pub(super) iterations: Option<u64>,
    #[serde(default, deserialize_with = "optional_duration")]
    pub(super) duration: Option<Duration>,
    #[serde(alias = "maxDuration")]
    #[serde(default, deserialize_with = "optional_duration")]
    pub(super) max_duration: Option<Duration>,
    #[serde(alias = "gracefulRampDown")]
    #[serde(default, deserialize_with = "optional_duration_or_zero")]
    pub(super) graceful_ramp_down: Option<Duration>,
    /// k6's `gracefulStop` (at most `MAX_DRAIN`, checked when built).
    #[serde(alias = "gracefulStop")]
    #[serde(default, deserialize_with = "optional_duration_or_zero")]
    pub(super) graceful_stop: Option<Duration>,
    #[serde(alias = "startTime")]
    #[serde(default, deserialize_with = "optional_duration_or_zero")]
    pub(super) start_time: Option<Duration>,
    #[serde(default, deserialize_with = "optional_arrivals")]
    pub(super) arrivals: Option<Arrivals>,
    #[serde(alias = "preAllocatedVUs")]
    #[serde(default, deserialize_with = "optional_vus")]
    pub(super) pre_allocated_vus: Option<u32>,
    #[serde(alias = "maxVUs")]
    #[serde(default, deserialize_with = "optional_max_vus")]
    pub(super) max_vus: Option<u32>,
    #[serde(default)]
    pub(super) data: Option<RawData>,
    pub(super) requests: Requests,
}

impl RawScenarioDef {
    /// A scenario of `executor` with only its `requests` set, for the shortcuts.
    pub(super) fn bare(executor: ExecutorKind, requests: Requests) -> Self {
        RawScenarioDef {
            executor,
            rate: None,
            time_unit: None,
            start_rate: None,
            stages: None,
            vus: None,
            start_vus: None,
            iterations: None,
            duration: None,
            max_duration: None,
            graceful_ramp_down: None,
            graceful_stop: None,
            start_time: None,
            arrivals: None,
            pre_allocated_vus: None,
            max_vus: None,
            data: None,
            requests,
        }
    }

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
    /// k6's `expectedStatuses`, a list; today one status (`expect_status`) is supported.
    #[serde(default, alias = "expectedStatuses")]
    pub(super) expected_statuses: Option<Vec<u16>>,
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
    SharedIterations,
}

impl ExecutorKind {
    pub(super) const ALL: [(ExecutorKind, &'static str); 6] = [
        (ExecutorKind::ConstantArrivalRate, "constant-arrival-rate"),
        (ExecutorKind::RampingArrivalRate, "ramping-arrival-rate"),
        (ExecutorKind::ConstantVus, "constant-vus"),
        (ExecutorKind::RampingVus, "ramping-vus"),
        (ExecutorKind::PerVuIterations, "per-vu-iterations"),
        (ExecutorKind::SharedIterations, "shared-iterations"),
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
            ExecutorKind::PerVuIterations | ExecutorKind::SharedIterations => {
                &["vus", "iterations", "max_duration"]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sls_load_core::job::{RateStage, VuStage};

    use crate::scenario::ExecutorDef;
    use crate::scenario::test_support::*;

    #[test]
    fn k6_camel_case_option_names_are_accepted_beside_snake_case() {
        let s = ok(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: ramping-arrival-rate\n    timeUnit: 1m\n    preAllocatedVUs: 5\n    \
             maxVUs: 9\n    startTime: 2s\n    stages: [{ duration: 10s, target: 60 }]",
        ));
        let d = &s.scenarios[0];
        assert_eq!(
            d.executor,
            ExecutorDef::RampingArrivalRate {
                start_rate: 0.0,
                time_unit: Duration::from_secs(60),
                stages: vec![RateStage {
                    duration: Duration::from_secs(10),
                    target: 60.0
                }],
            }
        );
        assert_eq!((d.pre_allocated_vus, d.max_vus), (Some(5), Some(9)));
        assert_eq!(d.start_time, Duration::from_secs(2));
        let s = ok(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: ramping-vus\n    startVUs: 2\n    gracefulRampDown: 5s\n    \
             stages: [{ duration: 10s, target: 4 }]",
        ));
        assert_eq!(
            s.scenarios[0].executor,
            ExecutorDef::RampingVus {
                start_vus: 2,
                stages: vec![VuStage {
                    duration: Duration::from_secs(10),
                    target: 4
                }],
                graceful_ramp_down: Duration::from_secs(5),
            }
        );
        let s = ok(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: per-vu-iterations\n    maxDuration: 12s",
        ));
        assert_eq!(s.scenarios[0].duration, Some(Duration::from_secs(12)));
    }

    #[test]
    fn both_spellings_of_one_key_are_refused_naming_both() {
        for (snake, camel, value) in [
            ("time_unit", "timeUnit", "1s"),
            ("pre_allocated_vus", "preAllocatedVUs", "5"),
            ("max_vus", "maxVUs", "5"),
            ("start_time", "startTime", "1s"),
        ] {
            let e = error(&minimal_with(
                "rate: 300",
                &format!("rate: 300\n    {snake}: {value}\n    {camel}: {value}"),
            ));
            assert_contains(
                &e,
                &[&format!(
                    "`{snake}` and `{camel}` are two spellings of one key; give only one"
                )],
            );
        }
    }

    #[test]
    fn unknown_keys_are_still_refused_with_a_suggestion() {
        let e = error(&minimal_with("rate: 300", "rate: 300\n    startVU: 3"));
        assert_contains(&e, &["unknown field `startVU`"]);
        let e = error(&minimal_with("rate: 300", "rate: 300\n    tim_unit: 1s"));
        assert_contains(&e, &["unknown field `tim_unit`; did you mean `time_unit`?"]);
    }

    #[test]
    fn expected_statuses_is_k6s_spelling_of_one_expected_status() {
        let s = ok(&minimal_request(
            "      - { name: home, url: /, expectedStatuses: [201] }\n",
        ));
        assert_eq!(s.scenarios[0].requests[0].expect_status, Some(201));
        let e = error(&minimal_request(
            "      - { name: home, url: /, expectedStatuses: [200, 201] }\n",
        ));
        assert_contains(&e, &["one expected status is supported today, got 2"]);
        let e = error(&minimal_request(
            "      - { name: home, url: /, expectedStatuses: [200], expect_status: 200 }\n",
        ));
        assert_contains(&e, &["`expect_status` or `expectedStatuses`, not both"]);
    }

    #[test]
    fn a_camel_case_key_of_another_executor_is_found_on_its_line() {
        let e = error(&minimal_with("rate: 300", "rate: 300\n    startVUs: 3"));
        assert_contains(
            &e,
            &[
                ":7: scenarios.browse.start_vus: `start_vus` does not apply to constant-arrival-rate",
            ],
        );
    }

    #[test]
    fn graceful_stop_is_accepted_up_to_the_drain_cap_and_defaults_to_none() {
        let s = ok(&minimal_with(
            "rate: 300",
            "rate: 300\n    gracefulStop: 3s",
        ));
        assert_eq!(s.scenarios[0].graceful_stop, Duration::from_secs(3));
        let s = ok(&minimal_with("rate: 300", "rate: 300"));
        assert_eq!(s.scenarios[0].graceful_stop, Duration::ZERO);
        let e = error(&minimal_with(
            "rate: 300",
            "rate: 300\n    gracefulStop: 30s",
        ));
        assert_contains(
            &e,
            &["graceful_stop", "`gracefulStop` is at most 10s", "got 30s"],
        );
    }
}
