//! k6's command-line overrides (`--vus`, `--duration`, `--iterations`, `--stage`,
//! `--rate`) applied to a loaded scenario, as k6 applies them: the first four
//! replace the file's shortcuts and build the `default` scenario from them (a
//! file's `scenarios:` block is replaced by it, with the requests of its only
//! scenario); `--rate` sets the rate of the file's only `constant-arrival-rate`
//! scenario.
//!
//! It does not parse or validate the flags themselves (the orchestrator's options do) and
//! does not read the file (`load` does).

use std::time::Duration;

use sls_load_core::job::{Arrivals, VuStage};

use super::{
    DEFAULT_GRACEFUL_RAMP_DOWN, DEFAULT_MAX_DURATION, DEFAULT_SCENARIO, ExecutorDef, Scenario,
    ScenarioDef, ScenarioError,
};

/// Validated command-line overrides; all empty leaves the scenario as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `--vus`: VUs of the default scenario; >= 1.
    pub vus: Option<u32>,
    /// `--duration`: the default scenario's length; > 0.
    pub duration: Option<Duration>,
    /// `--iterations`: iterations the default scenario's VUs share; >= 1.
    pub iterations: Option<u64>,
    /// `--stage`s, in order: the default scenario ramps its VUs through them.
    pub stages: Vec<VuStage>,
    /// `--rate`: iterations per second of the only `constant-arrival-rate` scenario.
    pub rate: Option<f64>,
}

/// The shortcut values of a scenario: what k6 would have built it from.
#[derive(Default)]
struct Shortcuts {
    vus: Option<u32>,
    duration: Option<Duration>,
    iterations: Option<u64>,
    stages: Vec<VuStage>,
}

/// Applies `o` to `scenario` (see the module's description).
pub fn apply(scenario: &mut Scenario, o: &Overrides) -> Result<(), ScenarioError> {
    let fail = |message: String| ScenarioError::new(&scenario.file, None, None, &message);
    let reshapes = o.vus.is_some() || o.duration.is_some() || o.iterations.is_some();
    if reshapes || !o.stages.is_empty() {
        let (source, file) = source_scenario(scenario).map_err(fail)?;
        let length_given = o.duration.is_some() || o.iterations.is_some() || !o.stages.is_empty();
        // As k6: shortcuts given on the command line drop the file's length keys.
        let s = Shortcuts {
            vus: o.vus.or(file.vus),
            ..if length_given {
                Shortcuts {
                    duration: o.duration,
                    iterations: o.iterations,
                    stages: o.stages.clone(),
                    ..Shortcuts::default()
                }
            } else {
                file
            }
        };
        let (def, run) = default_scenario(source, &s).map_err(fail)?;
        scenario.scenarios = vec![def];
        scenario.duration = run;
    }
    if let Some(rate) = o.rate {
        let fail = |message: String| ScenarioError::new(&scenario.file, None, None, &message);
        let mut found = scenario
            .scenarios
            .iter_mut()
            .filter(|s| matches!(s.executor, ExecutorDef::ConstantArrivalRate { .. }));
        let (Some(only), None) = (found.next(), found.next()) else {
            return Err(fail(
                "--rate sets the rate of the scenario's only constant-arrival-rate \
                 scenario, and there is not exactly one"
                    .into(),
            ));
        };
        if let ExecutorDef::ConstantArrivalRate {
            rate: r, time_unit, ..
        } = &mut only.executor
        {
            *r = rate * time_unit.as_secs_f64();
        }
    }
    Ok(())
}

/// The scenario whose requests the default scenario runs (the file's `default`
/// scenario, or its only one), with its shortcut values.
fn source_scenario(scenario: &Scenario) -> Result<(ScenarioDef, Shortcuts), String> {
    let source = match scenario.scenarios.as_slice() {
        [only] => only,
        many => many
            .iter()
            .find(|s| s.name == DEFAULT_SCENARIO)
            .ok_or_else(|| {
                format!(
                    "--vus, --duration, --iterations and --stage replace the scenarios with \
                     one `{DEFAULT_SCENARIO}` scenario, which needs the requests of one; \
                     the file has {} scenarios",
                    many.len()
                )
            })?,
    };
    let length = source.duration;
    let shortcuts = match &source.executor {
        ExecutorDef::ConstantVus { vus } => Shortcuts {
            vus: Some(*vus),
            duration: length,
            ..Shortcuts::default()
        },
        ExecutorDef::RampingVus {
            start_vus, stages, ..
        } => Shortcuts {
            vus: Some(*start_vus),
            stages: stages.clone(),
            ..Shortcuts::default()
        },
        ExecutorDef::SharedIterations { vus, iterations } => Shortcuts {
            vus: Some(*vus),
            iterations: Some(*iterations),
            duration: length,
            ..Shortcuts::default()
        },
        _ => Shortcuts::default(),
    };
    Ok((source.clone(), shortcuts))
}

/// The `default` scenario of shortcuts `s` running `source`'s requests, and the
/// run's length.
fn default_scenario(source: ScenarioDef, s: &Shortcuts) -> Result<(ScenarioDef, Duration), String> {
    let vus = s.vus.unwrap_or(1);
    let stages_length: Duration = s.stages.iter().map(|st| st.duration).sum();
    let (executor, duration, run) = match (s.iterations, s.stages.is_empty(), s.duration) {
        (Some(_), false, _) => return Err("--iterations and --stage: give one".into()),
        (None, false, Some(_)) => return Err("--duration and --stage: give one".into()),
        (Some(iterations), true, max) => (
            ExecutorDef::SharedIterations { vus, iterations },
            max,
            max.unwrap_or(DEFAULT_MAX_DURATION),
        ),
        (None, false, None) => (
            ExecutorDef::RampingVus {
                start_vus: vus,
                stages: s.stages.clone(),
                graceful_ramp_down: DEFAULT_GRACEFUL_RAMP_DOWN,
            },
            None,
            stages_length,
        ),
        (None, true, Some(d)) => (ExecutorDef::ConstantVus { vus }, Some(d), d),
        (None, true, None) => {
            return Err("--vus needs --duration, --iterations or --stage to run for".into());
        }
    };
    if run.is_zero() {
        return Err("the --stage durations add up to 0s".into());
    }
    let peak = executor.peak_vus();
    Ok((
        ScenarioDef {
            name: DEFAULT_SCENARIO.to_owned(),
            executor,
            pre_allocated_vus: peak,
            max_vus: peak,
            start_time: Duration::ZERO,
            duration,
            arrivals: Arrivals::default(),
            ..source
        },
        run,
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sls_load_core::job::VuStage;

    use super::{Overrides, apply};
    use crate::scenario::test_support::*;
    use crate::scenario::{ExecutorDef, Scenario};

    const SHORTCUTS: &str = "target: http://127.0.0.1:8080\nvus: 10\nduration: 30s\n\
                             requests: [{ name: home, url: / }]\n";

    fn with(text: &str, o: Overrides) -> Result<Scenario, String> {
        let mut s = ok(text);
        apply(&mut s, &o).map(|()| s).map_err(|e| e.to_string())
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn no_flags_leave_the_scenario_as_it_is() {
        assert_eq!(with(MINIMAL, Overrides::default()), Ok(ok(MINIMAL)));
    }

    #[test]
    fn vus_alone_replaces_only_the_files_vus() {
        let o = Overrides {
            vus: Some(2),
            ..Overrides::default()
        };
        let s = with(SHORTCUTS, o).expect("applies");
        assert_eq!(s.scenarios[0].executor, ExecutorDef::ConstantVus { vus: 2 });
        assert_eq!(
            (s.duration, s.scenarios[0].duration),
            (secs(30), Some(secs(30)))
        );
    }

    #[test]
    fn a_length_flag_drops_the_files_length_keys_as_k6_does() {
        let o = Overrides {
            iterations: Some(50),
            ..Overrides::default()
        };
        let s = with(SHORTCUTS, o).expect("applies");
        assert_eq!(
            s.scenarios[0].executor,
            ExecutorDef::SharedIterations {
                vus: 10,
                iterations: 50
            }
        );
        assert_eq!(s.scenarios[0].duration, None, "the file's 30s is dropped");
        let stages = vec![
            VuStage {
                duration: secs(5),
                target: 4,
            },
            VuStage {
                duration: secs(5),
                target: 0,
            },
        ];
        let o = Overrides {
            stages: stages.clone(),
            ..Overrides::default()
        };
        let s = with(SHORTCUTS, o).expect("applies");
        assert_eq!(s.duration, secs(10));
        assert!(matches!(
            &s.scenarios[0].executor,
            ExecutorDef::RampingVus { start_vus: 10, stages: st, .. } if *st == stages
        ));
    }

    #[test]
    fn vus_and_duration_replace_a_scenarios_block_keeping_its_requests() {
        let o = Overrides {
            vus: Some(2),
            duration: Some(secs(2)),
            ..Overrides::default()
        };
        let s = with(MINIMAL, o).expect("applies");
        assert_eq!(s.duration, secs(2));
        assert_eq!(s.scenarios.len(), 1);
        let d = &s.scenarios[0];
        assert_eq!(d.name, "default");
        assert_eq!(d.executor, ExecutorDef::ConstantVus { vus: 2 });
        assert_eq!((d.pre_allocated_vus, d.max_vus), (Some(2), Some(2)));
        assert_eq!(d.requests, ok(MINIMAL).scenarios[0].requests);
        // Without a length the VUs would have nothing to run for.
        let o = Overrides {
            vus: Some(2),
            ..Overrides::default()
        };
        let e = with(MINIMAL, o).expect_err("refused");
        assert_contains(&e, &["--vus needs --duration, --iterations or --stage"]);
        // Several scenarios: whose requests?
        let o = Overrides {
            duration: Some(secs(2)),
            ..Overrides::default()
        };
        let e = with(ENGINE, o).expect_err("refused");
        assert_contains(&e, &["the file has 4 scenarios"]);
    }

    #[test]
    fn rate_sets_the_only_constant_arrival_rate_scenario_per_second() {
        let o = Overrides {
            rate: Some(50.0),
            ..Overrides::default()
        };
        let s = with(MINIMAL, o.clone()).expect("applies");
        assert_eq!(s.scenarios[0].executor.iterations_per_second(), 50.0);
        let e = with(SHORTCUTS, o.clone()).expect_err("no arrival-rate scenario");
        assert_contains(&e, &["--rate sets the rate of the scenario's only"]);
        let e = with(FULL, o).expect_err("two of them");
        assert_contains(&e, &["there is not exactly one"]);
    }
}
