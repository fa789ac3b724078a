//! Scenario files: reads a YAML scenario (`target`, `duration`, `regions`,
//! `scenarios`, `thresholds`, ...) and turns it into a validated, typed [`Scenario`],
//! or into one short [`ScenarioError`] line naming the file, the line and the key.
//!
//! This module owns the file format, its defaults (k6's where k6 has one) and every
//! check that can be made without running anything: unknown keys are errors so a
//! typo never silently runs a different test; executors, flows (templates,
//! captures, checks) and schedules are checked against each other; scenario data
//! files (CSV or JSON, beside the scenario file) are read here, and refused when
//! they would not fit in a worker's job. It does not plan workers, split rates,
//! VUs or rows across workers (`share` does), or talk to AWS; threshold
//! expressions themselves are parsed by `threshold`.
//!
//! This file holds the validated model and the [`load`] / [`parse`] entry points.
//! The work is split by job: `error` (the one-line error and parser messages),
//! `locate` (the line of a key path), `raw` (the file's serde shape, with leaf checks
//! inside its visitors), `build` (checks across values, raw shape to model),
//! `files` (reading the scenario, its data files and the CA file: regular files
//! under a size limit) and `depth` (nesting refused before parsing).

mod build;
mod depth;
mod error;
mod files;
pub mod k6;
mod locate;
pub mod overrides;
mod raw;
pub mod secrets;
#[cfg(test)]
mod test_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sls_load_core::job::{
    Arrivals, DataRows, HttpOptions, RateStage, Region, RequestSpec, VuStage,
};

use crate::threshold::Threshold;

pub use build::{DEFAULT_MAX_DURATION, DEFAULT_SCENARIO, MAX_JOB_PAYLOAD};
pub use error::ScenarioError;

use error::{Pass, first_content_line, from_yaml, line_at};
use raw::RawFile;

/// Per-request timeout when the file sets none (k6's default).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Requests per second one worker is planned for when the file sets no `worker_rate`.
pub const DEFAULT_WORKER_RATE: f64 = 1000.0;
/// The period `rate` is counted over when a scenario sets no `time_unit` (k6's default).
pub const DEFAULT_TIME_UNIT: Duration = Duration::from_secs(1);
/// The load zone used when the file sets no `regions`.
pub const DEFAULT_REGION: &str = "us-east-1";
/// How long a VU removed by a ramp-down may finish its iteration (k6's default).
pub const DEFAULT_GRACEFUL_RAMP_DOWN: Duration = Duration::from_secs(30);

/// sls-load's default `gracefulStop`: none (k6's is 30 s, longer than a worker
/// may drain; see README "k6 differences").
pub const DEFAULT_GRACEFUL_STOP: Duration = Duration::ZERO;

/// A validated scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file it was read from (as given, for messages).
    pub file: PathBuf,
    /// Base URL, `http://` or `https://`, without a path or trailing slash.
    pub target: String,
    /// How long load is generated; > 0.
    pub duration: Duration,
    /// Load zones with their weights, in file order; weights are > 0 and not normalised.
    pub regions: Vec<(Region, f64)>,
    /// Per-request timeout; > 0.
    pub request_timeout: Duration,
    /// Maximum requests per second one worker is planned for; > 0.
    pub worker_rate: f64,
    /// The scenarios, in file order; at least one.
    pub scenarios: Vec<ScenarioDef>,
    /// Thresholds in file order (metric keys in order, then expressions in order).
    pub thresholds: Vec<Threshold>,
    /// Protocol options (the `http:` block), copied into every job; a `tls_ca_file`
    /// is already read into `tls_ca_pem`.
    pub http: HttpOptions,
    /// `allowed_targets`: hosts (lowercase, without port) that a big run may aim at
    /// without `--yes` (see the orchestrator's preflight).
    pub allowed_targets: Vec<String>,
    /// `target_region:` and `network:`: the local network profiles.
    pub network: crate::network::Network,
    /// One-line notices for stderr about how the file was read (a `distribution`
    /// whose percents were renormalised), without the `sls-load: ` prefix.
    pub notices: Vec<String>,
    /// A drill's events (`events:`), in file order; empty for a plain load test.
    pub events: Vec<crate::drill::EventSpec>,
    /// How a drill's events are judged (`drill:`), defaults when not given.
    pub drill: crate::drill::DrillSettings,
    /// The k6 script every job runs instead of its `requests` (a `.js`
    /// scenario, see [`k6`]); `None` for YAML scenarios.
    pub script: Option<sls_load_core::job::JobScript>,
}

/// One named scenario of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioDef {
    /// The name, `[A-Za-z0-9_.-]+`, unique within the file.
    pub name: String,
    /// How iterations are started.
    pub executor: ExecutorDef,
    /// VUs (connections) opened before the start, summed over all workers; `None`
    /// leaves it to the planner.
    pub pre_allocated_vus: Option<u32>,
    /// Upper bound on VUs, summed over all workers; >= `pre_allocated_vus` when both
    /// are given. `None` leaves it to the planner. For VU executors both are their
    /// peak VU count.
    pub max_vus: Option<u32>,
    /// The requests of one iteration, in order; at least one, names unique.
    pub requests: Vec<RequestSpec>,
    /// k6's `startTime`: when the scenario begins, after the run's start.
    pub start_time: Duration,
    /// How long it runs from `start_time` (`duration`, or `max_duration` for
    /// `per-vu-iterations`); `None`: until its stages end or the run ends.
    pub duration: Option<Duration>,
    /// How arrivals are spaced (arrival-rate executors).
    pub arrivals: Arrivals,
    /// Rows of the scenario's `data` file, if it has one.
    pub data: Option<DataSet>,
    /// k6's `gracefulStop`: how long iterations in progress at the scenario's
    /// end may go on sending their steps ([`DEFAULT_GRACEFUL_STOP`] unless
    /// given; at most `MAX_DRAIN`).
    pub graceful_stop: Duration,
}

impl ScenarioDef {
    /// Iterations an arrival-rate scenario starts in a run of `run` (summed over
    /// all regions and workers), or the fixed count of `shared-iterations`; `None`
    /// for the other VU executors, whose count depends on the target.
    pub fn expected_iterations(&self, run: Duration) -> Option<f64> {
        let available = run.saturating_sub(self.start_time);
        let length = self.duration.map_or(available, |d| d.min(available));
        match &self.executor {
            ExecutorDef::ConstantArrivalRate { .. } => {
                Some(self.executor.iterations_per_second() * length.as_secs_f64())
            }
            ExecutorDef::RampingArrivalRate {
                start_rate,
                time_unit,
                stages,
            } => {
                let per_second: Vec<RateStage> = stages
                    .iter()
                    .map(|s| RateStage {
                        duration: s.duration,
                        target: s.target / time_unit.as_secs_f64(),
                    })
                    .collect();
                let profile = sls_load_core::schedule::RateProfile::ramping(
                    start_rate / time_unit.as_secs_f64(),
                    &per_second,
                );
                Some(profile.count_at(length.as_secs_f64()))
            }
            ExecutorDef::SharedIterations { iterations, .. } => Some(*iterations as f64),
            ExecutorDef::ConstantVus { .. }
            | ExecutorDef::RampingVus { .. }
            | ExecutorDef::PerVuIterations { .. } => None,
        }
    }
}

/// A scenario's data file, read at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSet {
    /// The file as written in the scenario (relative to the scenario file).
    pub file: PathBuf,
    /// Its columns and every row.
    pub rows: DataRows,
}

/// How a scenario starts iterations (k6 executors). Rates and VU counts are the
/// scenario's, summed over all regions and workers.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutorDef {
    /// `constant-arrival-rate`: `rate` iterations every `time_unit`, summed over all
    /// regions, however fast the target answers (open model).
    ConstantArrivalRate {
        /// Iterations per `time_unit`; finite and > 0.
        rate: f64,
        /// The period `rate` counts over; > 0.
        time_unit: Duration,
    },
    /// `ramping-arrival-rate`: the rate moves linearly from `start_rate` through each
    /// stage's target (open model); the scenario ends with its last stage.
    RampingArrivalRate {
        /// Iterations per `time_unit` at the start; >= 0.
        start_rate: f64,
        /// The period rates count over; > 0.
        time_unit: Duration,
        /// Stages; targets are iterations per `time_unit`.
        stages: Vec<RateStage>,
    },
    /// `constant-vus`: `vus` VUs loop iterations (closed model).
    ConstantVus {
        /// VUs; >= 1.
        vus: u32,
    },
    /// `ramping-vus`: the VU count moves linearly from `start_vus` through each
    /// stage's target (closed model); the scenario ends with its last stage.
    RampingVus {
        /// VUs at the start.
        start_vus: u32,
        /// Stages with whole VU targets.
        stages: Vec<VuStage>,
        /// How long a VU removed by a ramp-down may finish its iteration.
        graceful_ramp_down: Duration,
    },
    /// `per-vu-iterations`: each of `vus` VUs runs `iterations` iterations (closed
    /// model), within the scenario's `max_duration`.
    PerVuIterations {
        /// VUs; >= 1.
        vus: u32,
        /// Iterations per VU; >= 1.
        iterations: u64,
    },
    /// `shared-iterations`: `vus` VUs share `iterations` iterations, each VU taking
    /// the next until none is left (closed model), within the scenario's
    /// `max_duration`.
    SharedIterations {
        /// VUs; >= 1.
        vus: u32,
        /// Iterations in all; >= 1.
        iterations: u64,
    },
}

impl ExecutorDef {
    /// The arrival rate in iterations per second over all regions, at its peak for
    /// `ramping-arrival-rate`; 0 for VU executors (their rate is what the target
    /// allows). The planner sizes workers by it.
    pub fn iterations_per_second(&self) -> f64 {
        match self {
            ExecutorDef::ConstantArrivalRate { rate, time_unit } => rate / time_unit.as_secs_f64(),
            ExecutorDef::RampingArrivalRate {
                start_rate,
                time_unit,
                stages,
            } => {
                stages.iter().map(|s| s.target).fold(*start_rate, f64::max)
                    / time_unit.as_secs_f64()
            }
            ExecutorDef::ConstantVus { .. }
            | ExecutorDef::RampingVus { .. }
            | ExecutorDef::PerVuIterations { .. }
            | ExecutorDef::SharedIterations { .. } => 0.0,
        }
    }

    /// The most VUs a VU executor runs at once; `None` for arrival-rate executors.
    pub fn peak_vus(&self) -> Option<u32> {
        match self {
            ExecutorDef::ConstantVus { vus }
            | ExecutorDef::PerVuIterations { vus, .. }
            | ExecutorDef::SharedIterations { vus, .. } => Some(*vus),
            ExecutorDef::RampingVus {
                start_vus, stages, ..
            } => Some(stages.iter().map(|s| s.target).fold(*start_vus, u32::max)),
            ExecutorDef::ConstantArrivalRate { .. } | ExecutorDef::RampingArrivalRate { .. } => {
                None
            }
        }
    }

    /// How long the schedule of stages lasts, for ramping executors.
    pub fn stages_duration(&self) -> Option<Duration> {
        match self {
            ExecutorDef::RampingArrivalRate { stages, .. } => {
                Some(stages.iter().map(|s| s.duration).sum())
            }
            ExecutorDef::RampingVus { stages, .. } => Some(stages.iter().map(|s| s.duration).sum()),
            _ => None,
        }
    }
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = files::read_regular(path, files::MAX_SCENARIO_BYTES)
        .map_err(|e| ScenarioError::new(path, None, None, &e))?;
    parse(path, &text)
}

/// Validates scenario file contents; `path` is only used in messages and in
/// [`Scenario::file`].
pub fn parse(path: &Path, text: &[u8]) -> Result<Scenario, ScenarioError> {
    let fail = |line: Option<usize>, message: &str| ScenarioError::new(path, line, None, message);
    let text = std::str::from_utf8(text).map_err(|e| {
        let valid = &text[..e.valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let byte = text.get(e.valid_up_to()).copied().unwrap_or(0);
        fail(
            Some(line),
            &format!("file is not UTF-8 text (byte 0x{byte:02x}); expected a YAML scenario file"),
        )
    })?;
    if let Some((index, c)) = text
        .char_indices()
        .find(|&(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(fail(
            Some(line_at(text, index)),
            &format!(
                "not a YAML scenario file: it contains binary data (control character U+{:04X})",
                u32::from(c)
            ),
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(first_line) = first_content_line(text) else {
        return Err(fail(
            None,
            "file is empty; expected a scenario with `target`, `duration` and `scenarios`",
        ));
    };

    if let Some((line, depth)) = depth::too_deep(text) {
        return Err(fail(
            Some(line),
            &format!(
                "nested {depth} levels deep, more than the {} a scenario may nest",
                depth::MAX_DEPTH
            ),
        ));
    }
    // Pass 1: plain YAML, to report syntax errors and duplicate keys before any
    // scenario rule, and to check the top level is a mapping.
    let value: yaml_serde::Value =
        serde_path_to_error::deserialize(yaml_serde::Deserializer::from_str(text))
            .map_err(|e| from_yaml(path, text, e, Pass::Syntax))?;
    let found = match &value {
        yaml_serde::Value::Mapping(_) => None,
        yaml_serde::Value::Null => Some("empty (null)"),
        yaml_serde::Value::Bool(_) => Some("a boolean"),
        yaml_serde::Value::Number(_) => Some("a number"),
        yaml_serde::Value::String(_) => Some("a string"),
        yaml_serde::Value::Sequence(_) => Some("a list"),
        yaml_serde::Value::Tagged(_) => Some("a tagged value"),
    };
    if let Some(found) = found {
        return Err(fail(
            Some(first_line),
            &format!(
                "not a YAML scenario file: the top level is {found}; expected a mapping \
                 with `target`, `duration` and `scenarios`"
            ),
        ));
    }

    // Pass 2: the typed shape; leaf values are validated while deserializing so their
    // errors carry the parser's line.
    let raw: RawFile = serde_path_to_error::deserialize(yaml_serde::Deserializer::from_str(text))
        .map_err(|e| from_yaml(path, text, e, Pass::Typed))?;
    build::build(path, text, raw)
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn full_example_parses_into_typed_values_in_file_order() {
        let s = ok(FULL);
        assert_eq!(s.file, PathBuf::from(FILE));
        assert_eq!(s.target, "http://127.0.0.1:8080");
        assert_eq!(s.duration, Duration::from_secs(90));
        assert_eq!(
            s.regions,
            vec![
                (Region::new("us-east-1").unwrap(), 0.5),
                (Region::new("eu-west-1").unwrap(), 0.3),
                (Region::new("ap-southeast-1").unwrap(), 0.2),
            ]
        );
        assert_eq!(s.request_timeout, Duration::from_secs(30));
        assert_eq!(s.worker_rate, 800.0);

        let names: Vec<&str> = s.scenarios.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["browse", "api.v1"]);
        let browse = &s.scenarios[0];
        assert_eq!(
            browse.executor,
            ExecutorDef::ConstantArrivalRate {
                rate: 300.0,
                time_unit: Duration::from_secs(1)
            }
        );
        assert_eq!(
            (browse.pre_allocated_vus, browse.max_vus),
            (Some(50), Some(500))
        );
        assert_eq!(
            browse.requests[0],
            RequestSpec {
                name: "home".into(),
                method: "GET".into(),
                url: "/".into(),
                headers: Default::default(),
                body: None,
                expect_status: Some(200),
                ..RequestSpec::default()
            }
        );
        let search = &browse.requests[1];
        assert_eq!(search.method, "POST");
        assert_eq!(search.url, "/search?q=x");
        assert_eq!(search.headers["content-type"], "application/json");
        assert_eq!(search.headers["x-run"], "7");
        assert_eq!(search.body.as_deref(), Some(r#"{"q":"x"}"#));

        let thresholds: Vec<String> = s.thresholds.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            thresholds,
            [
                "http_req_duration: p(95)<500",
                "http_req_duration: p(99.9) < 1500",
                "http_req_duration{name:home}: avg<200",
                "http_req_failed: rate<0.01",
                "http_reqs{region:eu-west-1}: rate>=50",
            ]
        );
        assert!(s.thresholds[3].abort_on_fail);
        assert!(!s.thresholds[0].abort_on_fail);
    }

    #[test]
    fn omitted_keys_take_k6_defaults() {
        let s = ok(MINIMAL);
        assert_eq!(s.regions, vec![(Region::new(DEFAULT_REGION).unwrap(), 1.0)]);
        assert_eq!(s.request_timeout, Duration::from_secs(60));
        assert_eq!(s.worker_rate, 1000.0);
        assert!(s.thresholds.is_empty());
        let def = &s.scenarios[0];
        assert_eq!(
            def.executor,
            ExecutorDef::ConstantArrivalRate {
                rate: 300.0,
                time_unit: Duration::from_secs(1)
            }
        );
        assert_eq!((def.pre_allocated_vus, def.max_vus), (None, None));
        assert_eq!(def.requests[0].method, "GET");
        assert_eq!(def.requests[0].expect_status, None);
    }

    #[test]
    fn iterations_per_second_is_rate_over_time_unit() {
        let per_minute = ExecutorDef::ConstantArrivalRate {
            rate: 30.0,
            time_unit: Duration::from_secs(60),
        };
        assert_eq!(per_minute.iterations_per_second(), 0.5);
        let s = ok(FULL);
        assert_eq!(s.scenarios[0].executor.iterations_per_second(), 300.0);
        assert_eq!(s.scenarios[1].executor.iterations_per_second(), 0.5);
    }

    #[test]
    fn scenarios_keep_file_order_not_alphabetical_order() {
        let text = MINIMAL.replace("  browse:", "  zeta:")
            + "  alpha:\n    executor: constant-arrival-rate\n    rate: 1\n    requests: [{ name: a, url: /a }]\n"
            + "  mid:\n    executor: constant-arrival-rate\n    rate: 1\n    requests: [{ name: m, url: /m }]\n";
        let names: Vec<String> = ok(&text).scenarios.into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["zeta", "alpha", "mid"]);
    }

    #[test]
    fn arrival_rate_scenarios_know_how_many_iterations_they_start() {
        let s = ok(ENGINE);
        let run = Duration::from_secs(60);
        // (0 → 100/s over 10 s) + 100/s for 20 s + (100 → 0/s over 5 s).
        assert_eq!(s.scenarios[0].expected_iterations(run), Some(2750.0));
        assert_eq!(s.scenarios[1].expected_iterations(run), None);
        let s = ok(&minimal_with("rate: 300", "rate: 300\n    start_time: 5s"));
        assert_eq!(s.scenarios[0].expected_iterations(s.duration), Some(3000.0));
    }

    #[test]
    fn binary_garbage_is_not_a_scenario_file() {
        let e = error_bytes(b"\x89PNG\r\n\x1a\n\x00\x00");
        assert_contains(
            &e,
            &["load/browse.yaml:1: file is not UTF-8 text (byte 0x89)"],
        );
        let e = error_bytes(b"target: x\n\x00\x01\x02");
        assert_contains(
            &e,
            &["load/browse.yaml:2: not a YAML scenario file: it contains binary data"],
        );
        let e = error_bytes("ÿØÿàJFIF".as_bytes());
        assert_contains(
            &e,
            &["not a YAML scenario file: the top level is a string; expected a mapping"],
        );
    }

    #[test]
    fn an_empty_or_comment_only_file_says_what_a_scenario_needs() {
        let want = "load/browse.yaml: file is empty; expected a scenario with `target`, \
                    `duration` and `scenarios`";
        for text in ["", "\n\n", "# just a comment\n   # another\n", "---\n# c\n"] {
            assert_eq!(error(text), want, "{text:?}");
        }
    }

    #[test]
    fn yaml_syntax_errors_carry_the_parsers_line() {
        let e = error(&minimal_with("rate: 300", "  rate: 300"));
        assert_eq!(
            e,
            "load/browse.yaml:6: invalid YAML: mapping values are not allowed in this context"
        );
        let e = error("target: \"http://a\nduration: 1s\n");
        assert_contains(&e, &["invalid YAML: found unexpected end of stream"]);
        let e = error(&format!("{MINIMAL}---\ntarget: http://b\n"));
        assert_contains(&e, &["invalid YAML: ", "more than one document"]);
    }

    #[test]
    fn a_leading_byte_order_mark_is_ignored() {
        assert_eq!(
            ok(&format!("\u{feff}{MINIMAL}")).duration,
            Duration::from_secs(15)
        );
    }

    #[test]
    fn a_top_level_that_is_not_a_mapping_is_rejected() {
        for (text, found) in [
            ("- target: http://a\n- duration: 1s\n", "a list"),
            ("\n# comment\njust some words\n", "a string"),
            ("42\n", "a number"),
            ("~\n", "empty (null)"),
        ] {
            let e = error(text);
            assert_contains(
                &e,
                &[&format!(
                    "not a YAML scenario file: the top level is {found}; expected a mapping"
                )],
            );
        }
        assert_contains(
            &error("\n# comment\njust some words\n"),
            &["browse.yaml:3: "],
        );
    }

    #[test]
    fn load_reads_the_file_and_reports_unreadable_ones() {
        let dir = std::env::temp_dir().join(format!("sls-load-scenario-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("ok.yaml");
        std::fs::write(&path, MINIMAL).expect("write");
        let s = load(&path).expect("load");
        assert_eq!(s.file, path);
        let missing = dir.join("missing.yaml");
        let e = load(&missing).expect_err("missing file").to_string();
        assert!(e.starts_with(&missing.display().to_string()), "{e}");
        assert!(e.contains("cannot read"), "{e}");
        // Only regular files are read: a device or a FIFO is refused from its
        // metadata, without being opened (opening a FIFO would block).
        let e = load(Path::new("/dev/zero"))
            .expect_err("a device")
            .to_string();
        assert!(e.contains("not a regular file (a device)"), "{e}");
        let fifo = dir.join("fifo.yaml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let e = load(&fifo).expect_err("a FIFO").to_string();
            assert!(e.contains("not a regular file (a FIFO)"), "{e}");
        }
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
