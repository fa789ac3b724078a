//! k6's top-level shortcuts and the run's length: a file without a `scenarios:`
//! block gets one scenario named `default` built from `vus`, `duration`, `stages`
//! and `requests` as k6 builds its default scenario (`vus` + `duration` →
//! `constant-vus`, `stages` → `ramping-vus`, `iterations` → `shared-iterations`
//! within `duration` if given), and a file without a top-level
//! `duration` runs as long as its longest scenario (`start_time` + its length).
//!
//! It does not check a scenario's own keys or schedule (`executor` does) and does
//! not apply command-line overrides (`scenario::overrides` does).

use std::time::Duration;

use super::{Ctx, in_scenario};
use crate::scenario::error::ScenarioError;
use crate::scenario::locate::Seg;
use crate::scenario::raw::{ExecutorKind, RawFile, RawScenarioDef};

/// The name k6 gives the scenario its shortcuts build.
pub const DEFAULT_SCENARIO: &str = "default";
/// How long a `per-vu-iterations` scenario may run when it sets no `max_duration`
/// (k6's default), for working out the run's length.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(600);

/// The file's scenarios in file order: its `scenarios:` block, or the default
/// scenario its shortcuts build. Shortcuts beside a `scenarios:` block are refused.
pub(super) fn scenarios(
    ctx: Ctx<'_>,
    raw: &mut RawFile,
) -> Result<Vec<(String, RawScenarioDef)>, ScenarioError> {
    let Some(scenarios) = raw.scenarios.take() else {
        let def = default_scenario(ctx, raw)?;
        return Ok(vec![(DEFAULT_SCENARIO.to_owned(), def)]);
    };
    let given = [
        ("vus", raw.vus.is_some()),
        ("iterations", raw.iterations.is_some()),
        ("stages", raw.stages.is_some()),
        ("requests", raw.requests.is_some()),
    ];
    if let Some((key, _)) = given.into_iter().find(|(_, given)| *given) {
        return Err(ctx.fail(
            &[Seg::Key(key)],
            format!(
                "`{key}` is a shortcut for the default scenario and a file with a \
                 `scenarios:` block has none; set it inside a scenario"
            ),
        ));
    }
    Ok(scenarios.0)
}

/// The `default` scenario of k6's shortcuts.
fn default_scenario(ctx: Ctx<'_>, raw: &mut RawFile) -> Result<RawScenarioDef, ScenarioError> {
    let Some(requests) = raw.requests.take() else {
        return Err(ctx.fail_top(
            "missing required key `scenarios` (or k6's shortcuts: `vus` and `duration`, \
             or `stages`, with `requests`)",
        ));
    };
    let both = |a: &str, b: &'static str| {
        ctx.fail(
            &[Seg::Key(b)],
            format!("`{a}` and `{b}` are two shortcuts for the default scenario; give one"),
        )
    };
    if let Some(iterations) = raw.iterations {
        if raw.stages.is_some() {
            return Err(both("iterations", "stages"));
        }
        // k6: the VUs share the iterations, within `duration` when it is given.
        let mut def = RawScenarioDef::bare(ExecutorKind::SharedIterations, requests);
        def.vus = Some(raw.vus.unwrap_or(1));
        def.iterations = Some(iterations);
        def.max_duration = raw.duration;
        return Ok(def);
    }
    if let Some(stages) = raw.stages.take() {
        if raw.duration.is_some() {
            return Err(both("duration", "stages"));
        }
        let mut def = RawScenarioDef::bare(ExecutorKind::RampingVus, requests);
        def.start_vus = Some(raw.vus.unwrap_or(1));
        def.stages = Some(stages);
        return Ok(def);
    }
    let Some(duration) = raw.duration else {
        return Err(ctx.fail_top(
            "missing required key `duration` (the default scenario runs `vus` VUs for \
             `duration`; or give `stages`, or a `scenarios:` block)",
        ));
    };
    let mut def = RawScenarioDef::bare(ExecutorKind::ConstantVus, requests);
    def.vus = Some(raw.vus.unwrap_or(1));
    def.duration = Some(duration);
    Ok(def)
}

/// The run's length: the top-level `duration`, or else when the last scenario
/// ends (`start_time` + its `duration`, its stages, or its `max_duration`).
pub(super) fn run_duration(
    ctx: Ctx<'_>,
    given: Option<Duration>,
    defs: &[(String, RawScenarioDef)],
) -> Result<Duration, ScenarioError> {
    if let Some(run) = given {
        return Ok(run);
    }
    let mut end = Duration::ZERO;
    for (name, def) in defs {
        let Some(length) = own_length(def) else {
            return Err(ctx.fail(
                &in_scenario(name, &[]),
                format!(
                    "missing required key `duration`: {} runs until the test ends, so give \
                     it a `duration` or the test a top-level `duration`",
                    def.executor.name()
                ),
            ));
        };
        end = end.max(def.start_time.unwrap_or_default() + length);
    }
    if end.is_zero() {
        return Err(ctx.fail_top(
            "the scenarios last 0s; give a stage a duration or the test a top-level `duration`",
        ));
    }
    Ok(end)
}

/// How long a scenario runs by its own keys; `None` when only the run's end stops it.
fn own_length(def: &RawScenarioDef) -> Option<Duration> {
    match def.executor {
        ExecutorKind::ConstantArrivalRate | ExecutorKind::ConstantVus => def.duration,
        ExecutorKind::PerVuIterations | ExecutorKind::SharedIterations => {
            Some(def.max_duration.unwrap_or(DEFAULT_MAX_DURATION))
        }
        ExecutorKind::RampingArrivalRate | ExecutorKind::RampingVus => Some(
            def.stages
                .as_ref()
                .map(|s| s.0.iter().map(|s| s.duration).sum())
                .unwrap_or_default(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sls_load_core::job::VuStage;

    use crate::scenario::test_support::*;
    use crate::scenario::{DEFAULT_GRACEFUL_RAMP_DOWN, ExecutorDef};

    const REQUESTS: &str = "requests:\n  - { name: home, url: / }\n";

    fn shortcut(keys: &str) -> String {
        format!("target: http://127.0.0.1:8080\n{keys}{REQUESTS}")
    }

    #[test]
    fn vus_and_duration_build_a_constant_vus_scenario_named_default() {
        let s = ok(&shortcut("vus: 10\nduration: 30s\n"));
        assert_eq!(s.duration, Duration::from_secs(30));
        assert_eq!(s.scenarios.len(), 1);
        let d = &s.scenarios[0];
        assert_eq!(d.name, "default");
        assert_eq!(d.executor, ExecutorDef::ConstantVus { vus: 10 });
        assert_eq!(d.duration, Some(Duration::from_secs(30)));
        assert_eq!(d.requests[0].name, "home");
        // k6's default is one VU.
        let s = ok(&shortcut("duration: 5s\n"));
        assert_eq!(s.scenarios[0].executor, ExecutorDef::ConstantVus { vus: 1 });
    }

    #[test]
    fn top_level_stages_build_a_ramping_vus_scenario_starting_at_vus() {
        let s = ok(&shortcut(
            "vus: 2\nstages:\n  - { duration: 10s, target: 100 }\n  - { duration: 5s, target: 0 }\n",
        ));
        assert_eq!(s.duration, Duration::from_secs(15));
        assert_eq!(
            s.scenarios[0].executor,
            ExecutorDef::RampingVus {
                start_vus: 2,
                stages: vec![
                    VuStage {
                        duration: Duration::from_secs(10),
                        target: 100
                    },
                    VuStage {
                        duration: Duration::from_secs(5),
                        target: 0
                    }
                ],
                graceful_ramp_down: DEFAULT_GRACEFUL_RAMP_DOWN,
            }
        );
        let s = ok(&shortcut("stages: [{ duration: 10s, target: 3 }]\n"));
        assert!(matches!(
            s.scenarios[0].executor,
            ExecutorDef::RampingVus { start_vus: 1, .. }
        ));
    }

    #[test]
    fn vus_and_iterations_build_a_shared_iterations_scenario() {
        let s = ok(&shortcut("vus: 2\niterations: 10\n"));
        let d = &s.scenarios[0];
        assert_eq!(
            d.executor,
            ExecutorDef::SharedIterations {
                vus: 2,
                iterations: 10
            }
        );
        assert_eq!(d.expected_iterations(s.duration), Some(10.0));
        // k6's default maxDuration bounds it; `duration` is its maxDuration.
        assert_eq!((d.duration, s.duration), (None, Duration::from_secs(600)));
        let s = ok(&shortcut("iterations: 5\nduration: 30s\n"));
        assert_eq!(s.scenarios[0].duration, Some(Duration::from_secs(30)));
        assert_eq!(s.duration, Duration::from_secs(30));
        assert!(matches!(
            s.scenarios[0].executor,
            ExecutorDef::SharedIterations {
                vus: 1,
                iterations: 5
            }
        ));
    }

    #[test]
    fn conflicting_or_incomplete_shortcuts_are_refused() {
        let e = error(&shortcut(
            "duration: 10s\nstages: [{ duration: 10s, target: 3 }]\n",
        ));
        assert_contains(
            &e,
            &["`duration` and `stages` are two shortcuts for the default scenario"],
        );
        let e = error(&shortcut(
            "iterations: 10\nstages: [{ duration: 10s, target: 3 }]\n",
        ));
        assert_contains(
            &e,
            &["`iterations` and `stages` are two shortcuts for the default scenario"],
        );
        let e = error(&shortcut("vus: 2\n"));
        assert_contains(&e, &["missing required key `duration`"]);
        let e = error("target: http://127.0.0.1:8080\nvus: 2\nduration: 5s\n");
        assert_contains(&e, &["missing required key `scenarios` (or k6's shortcuts"]);
    }

    #[test]
    fn shortcuts_beside_a_scenarios_block_are_refused() {
        for (key, value) in [
            ("vus", "2"),
            ("iterations", "3"),
            ("requests", "[{ name: a, url: / }]"),
        ] {
            let e = error(&format!("{MINIMAL}{key}: {value}\n"));
            assert_contains(
                &e,
                &[&format!(
                    ":9: {key}: `{key}` is a shortcut for the default scenario"
                )],
            );
        }
    }

    #[test]
    fn without_a_top_level_duration_the_run_lasts_until_its_last_scenario_ends() {
        let s = ok("\
target: http://127.0.0.1:8080
scenarios:
  steady:
    executor: constant-arrival-rate
    rate: 10
    duration: 20s
    requests: [{ name: a, url: / }]
  late:
    executor: ramping-vus
    startTime: 15s
    stages: [{ duration: 10s, target: 5 }, { duration: 5s, target: 0 }]
    requests: [{ name: b, url: / }]
");
        assert_eq!(s.duration, Duration::from_secs(30));
        let s = ok("\
target: http://127.0.0.1:8080
scenarios:
  once:
    executor: per-vu-iterations
    start_time: 5s
    max_duration: 1m
    requests: [{ name: a, url: / }]
");
        assert_eq!(s.duration, Duration::from_secs(65));
        // k6's default maxDuration is 10 minutes.
        let s = ok("\
target: http://127.0.0.1:8080
scenarios:
  once: { executor: per-vu-iterations, requests: [{ name: a, url: / }] }
");
        assert_eq!(s.duration, Duration::from_secs(600));
        assert_eq!(s.scenarios[0].duration, None);
    }

    #[test]
    fn a_scenario_without_its_own_length_still_needs_the_top_level_duration() {
        let e = error(&MINIMAL.replace("duration: 15s\n", ""));
        assert_contains(
            &e,
            &[
                ":3: scenarios.browse: missing required key `duration`: ",
                "constant-arrival-rate runs until the test ends",
            ],
        );
        // A given top-level duration still bounds the scenarios.
        let e = error(&minimal_with("rate: 300", "rate: 300\n    duration: 20s"));
        assert_contains(&e, &["but the test's duration is 15s"]);
    }

    #[test]
    fn errors_in_the_default_scenario_name_the_keys_as_written() {
        let e = error(
            "target: http://127.0.0.1:8080\nvus: 2\nduration: 5s\nrequests:\n  - { name: home, url: / }\n  - { name: home, url: /b }\n",
        );
        assert_contains(&e, &[":6: requests[1].name: duplicate request name `home`"]);
    }
}
