//! A scenario's executor and schedule: refuses keys of another executor and
//! `max_vus` below `pre_allocated_vus`, builds the [`ExecutorDef`] with k6's
//! defaults, and checks that `start_time` plus the scenario's length fits in the
//! test's duration.
//!
//! It does not look at requests or data (`requests` and the parent do) and does
//! not split VUs or rates across workers (`share` does).

use std::time::Duration;

use sls_load_core::job::{MAX_DRAIN, RateStage, VuStage};

use super::{Ctx, in_scenario};
use crate::scenario::error::ScenarioError;
use crate::scenario::locate::Seg;
use crate::scenario::raw::{ExecutorKind, RawScenarioDef, RawStage};
use crate::scenario::{DEFAULT_GRACEFUL_RAMP_DOWN, DEFAULT_TIME_UNIT, ExecutorDef};

/// Refuses keys that belong to another executor, and `max_vus` below
/// `pre_allocated_vus`.
pub(super) fn check_keys(
    ctx: Ctx<'_>,
    name: &str,
    def: &RawScenarioDef,
) -> Result<(), ScenarioError> {
    let kind = def.executor;
    let key = |k| in_scenario(name, &[Seg::Key(k)]);
    if let Some(grace) = def.graceful_stop
        && grace > MAX_DRAIN
    {
        return Err(ctx.fail(
            &key("graceful_stop"),
            format!(
                "`gracefulStop` is at most {}s here (a worker drains for at most that \
                 long after its slice), got {}",
                MAX_DRAIN.as_secs(),
                humantime::format_duration(grace)
            ),
        ));
    }
    if let Some(k) = def
        .keys_given()
        .into_iter()
        .find(|k| !kind.keys().contains(k))
    {
        return Err(ctx.fail(
            &key(k),
            format!(
                "`{k}` does not apply to {} (it takes {}, start_time, data, requests)",
                kind.name(),
                kind.keys().join(", ")
            ),
        ));
    }
    if let (Some(pre), Some(max)) = (def.pre_allocated_vus, def.max_vus)
        && max < pre
    {
        return Err(ctx.fail(
            &key("max_vus"),
            format!("must be >= pre_allocated_vus ({pre}), got {max}"),
        ));
    }
    Ok(())
}

/// The executor `def` describes, with k6's defaults for what it leaves out.
pub(super) fn executor(
    ctx: Ctx<'_>,
    name: &str,
    def: &RawScenarioDef,
) -> Result<ExecutorDef, ScenarioError> {
    let kind = def.executor;
    let time_unit = def.time_unit.unwrap_or(DEFAULT_TIME_UNIT);
    let missing = |k: &str| {
        ctx.fail(
            &in_scenario(name, &[]),
            format!("missing required key `{k}` ({} needs it)", kind.name()),
        )
    };
    let stages = || {
        def.stages
            .as_ref()
            .map(|s| s.0.as_slice())
            .ok_or_else(|| missing("stages"))
    };
    Ok(match kind {
        ExecutorKind::ConstantArrivalRate => ExecutorDef::ConstantArrivalRate {
            rate: def.rate.ok_or_else(|| missing("rate"))?,
            time_unit,
        },
        ExecutorKind::RampingArrivalRate => ExecutorDef::RampingArrivalRate {
            start_rate: def.start_rate.unwrap_or(0.0),
            time_unit,
            stages: stages()?
                .iter()
                .map(|s| RateStage {
                    duration: s.duration,
                    target: s.target,
                })
                .collect(),
        },
        ExecutorKind::ConstantVus => ExecutorDef::ConstantVus {
            vus: def.vus.unwrap_or(1),
        },
        ExecutorKind::RampingVus => ExecutorDef::RampingVus {
            start_vus: def.start_vus.unwrap_or(1),
            stages: vu_stages(ctx, name, stages()?)?,
            graceful_ramp_down: def.graceful_ramp_down.unwrap_or(DEFAULT_GRACEFUL_RAMP_DOWN),
        },
        ExecutorKind::PerVuIterations => ExecutorDef::PerVuIterations {
            vus: def.vus.unwrap_or(1),
            iterations: def.iterations.unwrap_or(1),
        },
        ExecutorKind::SharedIterations => ExecutorDef::SharedIterations {
            vus: def.vus.unwrap_or(1),
            iterations: def.iterations.unwrap_or(1),
        },
    })
}

/// `ramping-vus` stages, whose targets must be whole VU counts.
fn vu_stages(ctx: Ctx<'_>, name: &str, stages: &[RawStage]) -> Result<Vec<VuStage>, ScenarioError> {
    let mut vu_stages = Vec::with_capacity(stages.len());
    for (i, s) in stages.iter().enumerate() {
        if s.target.fract() != 0.0 || s.target > f64::from(u32::MAX) {
            return Err(ctx.fail(
                &in_scenario(
                    name,
                    &[Seg::Key("stages"), Seg::Index(i), Seg::Key("target")],
                ),
                format!("must be a whole number of VUs, got {}", s.target),
            ));
        }
        vu_stages.push(VuStage {
            duration: s.duration,
            target: s.target as u32,
        });
    }
    Ok(vu_stages)
}

/// When the scenario runs in a test that lasts `run`: its `start_time` and its
/// `duration` (`None`: until its stages end or the run ends), checked to fit.
pub(super) fn schedule(
    ctx: Ctx<'_>,
    name: &str,
    def: &RawScenarioDef,
    executor: &ExecutorDef,
    run: Duration,
) -> Result<(Duration, Option<Duration>), ScenarioError> {
    let key = |k| in_scenario(name, &[Seg::Key(k)]);
    let start_time = def.start_time.unwrap_or_default();
    let human = |d: Duration| humantime::format_duration(d).to_string();
    if start_time >= run {
        return Err(ctx.fail(
            &key("start_time"),
            format!(
                "must be less than the test's duration ({}), got {}",
                human(run),
                human(start_time)
            ),
        ));
    }
    let (duration, length, length_key) = match def.executor {
        ExecutorKind::ConstantArrivalRate | ExecutorKind::ConstantVus => {
            (def.duration, def.duration, "duration")
        }
        ExecutorKind::PerVuIterations | ExecutorKind::SharedIterations => {
            (def.max_duration, def.max_duration, "max_duration")
        }
        ExecutorKind::RampingArrivalRate | ExecutorKind::RampingVus => {
            let total = executor.stages_duration().unwrap_or_default();
            if total.is_zero() {
                return Err(ctx.fail(
                    &key("stages"),
                    "the stages last 0s; give at least one stage a duration".into(),
                ));
            }
            (None, Some(total), "stages")
        }
    };
    if let Some(length) = length
        && start_time + length > run
    {
        return Err(ctx.fail(
            &key(length_key),
            format!(
                "runs until {} (start_time {} + {}) but the test's duration is {}",
                human(start_time + length),
                human(start_time),
                human(length),
                human(run)
            ),
        ));
    }
    Ok((start_time, duration))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sls_load_core::job::{Arrivals, RateStage, VuStage};

    use crate::scenario::test_support::*;
    use crate::scenario::{DEFAULT_GRACEFUL_RAMP_DOWN, ExecutorDef};

    #[test]
    fn every_executor_parses_with_its_keys() {
        let s = ok(ENGINE);
        let ramp = &s.scenarios[0];
        assert_eq!(
            ramp.executor,
            ExecutorDef::RampingArrivalRate {
                start_rate: 0.0,
                time_unit: Duration::from_secs(60),
                stages: [(10, 6000.0), (20, 6000.0), (5, 0.0)]
                    .map(|(secs, target)| RateStage {
                        duration: Duration::from_secs(secs),
                        target
                    })
                    .to_vec(),
            }
        );
        assert_eq!(ramp.executor.iterations_per_second(), 100.0);
        assert_eq!(ramp.arrivals, Arrivals::Poisson);
        assert_eq!(ramp.start_time, Duration::from_secs(5));
        assert_eq!((ramp.duration, ramp.max_vus), (None, Some(100)));
        let users = &s.scenarios[1];
        assert_eq!(users.executor, ExecutorDef::ConstantVus { vus: 5 });
        assert_eq!(users.duration, Some(Duration::from_secs(30)));
        // VU executors plan their peak as VUs.
        assert_eq!((users.pre_allocated_vus, users.max_vus), (Some(5), Some(5)));
        assert_eq!(
            s.scenarios[2].executor,
            ExecutorDef::RampingVus {
                start_vus: 0,
                stages: vec![
                    VuStage {
                        duration: Duration::from_secs(10),
                        target: 3
                    },
                    VuStage {
                        duration: Duration::from_secs(10),
                        target: 0
                    }
                ],
                graceful_ramp_down: Duration::ZERO,
            }
        );
        let once = &s.scenarios[3];
        assert_eq!(
            once.executor,
            ExecutorDef::PerVuIterations {
                vus: 2,
                iterations: 3
            }
        );
        assert_eq!(once.duration, Some(Duration::from_secs(20)));
    }

    #[test]
    fn vu_executors_take_k6_defaults() {
        let s = ok(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: constant-vus",
        ));
        assert_eq!(s.scenarios[0].executor, ExecutorDef::ConstantVus { vus: 1 });
        assert_eq!(s.scenarios[0].duration, None);
        let s = ok(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: per-vu-iterations",
        ));
        assert_eq!(
            s.scenarios[0].executor,
            ExecutorDef::PerVuIterations {
                vus: 1,
                iterations: 1
            }
        );
        let s = ok(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: ramping-vus\n    stages: [{ duration: 5s, target: 2 }]",
        ));
        assert!(matches!(
            s.scenarios[0].executor,
            ExecutorDef::RampingVus { start_vus: 1, graceful_ramp_down, .. }
                if graceful_ramp_down == DEFAULT_GRACEFUL_RAMP_DOWN
        ));
    }

    #[test]
    fn max_vus_must_not_be_below_pre_allocated_vus() {
        let e = error(&minimal_with(
            "rate: 300",
            "rate: 300\n    pre_allocated_vus: 10\n    max_vus: 5",
        ));
        assert_eq!(
            e,
            "load/browse.yaml:8: scenarios.browse.max_vus: must be >= pre_allocated_vus (10), got 5"
        );
        let e = error(&minimal_with("rate: 300", "rate: 300\n    max_vus: 0"));
        assert_contains(&e, &[":7: scenarios.browse.max_vus: must be >= 1, got 0"]);
        let s = ok(&minimal_with(
            "rate: 300",
            "rate: 300\n    pre_allocated_vus: 0",
        ));
        assert_eq!(s.scenarios[0].pre_allocated_vus, Some(0));
    }

    #[test]
    fn a_key_of_another_executor_is_named_with_the_keys_that_apply() {
        let e = error(&minimal_with("rate: 300", "rate: 300\n    vus: 10"));
        assert_eq!(
            e,
            "load/browse.yaml:7: scenarios.browse.vus: `vus` does not apply to \
             constant-arrival-rate (it takes rate, time_unit, duration, arrivals, \
             pre_allocated_vus, max_vus, start_time, data, requests)"
        );
        let e = error(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: constant-vus\n    max_vus: 3",
        ));
        assert_contains(
            &e,
            &[":6: scenarios.browse.max_vus: `max_vus` does not apply to constant-vus"],
        );
    }

    #[test]
    fn a_schedule_must_fit_in_the_test() {
        let e = error(&minimal_with("rate: 300", "rate: 300\n    start_time: 15s"));
        assert_contains(
            &e,
            &[
                ":7: scenarios.browse.start_time: must be less than the test's duration (15s), got 15s",
            ],
        );
        let e = error(&minimal_with(
            "rate: 300",
            "rate: 300\n    start_time: 10s\n    duration: 10s",
        ));
        assert_contains(
            &e,
            &[
                ":8: scenarios.browse.duration: runs until 20s (start_time 10s + 10s) but the \
                 test's duration is 15s",
            ],
        );
        let ramp = |stages: &str| {
            minimal_with(
                "executor: constant-arrival-rate\n    rate: 300",
                &format!("executor: ramping-arrival-rate\n    stages: {stages}"),
            )
        };
        let e = error(&ramp(
            "[{ duration: 10s, target: 5 }, { duration: 6s, target: 0 }]",
        ));
        assert_contains(&e, &[":6: scenarios.browse.stages: runs until 16s"]);
        let e = error(&ramp("[{ duration: 0s, target: 5 }]"));
        assert_contains(&e, &["scenarios.browse.stages: the stages last 0s"]);
        let e = error(&ramp("[]"));
        assert_contains(
            &e,
            &["scenarios.browse.stages: at least one stage is required"],
        );
        let e = error(&ramp("[{ duration: 1s, target: -5 }]"));
        assert_contains(
            &e,
            &["scenarios.browse.stages[0].target: must be >= 0, got -5"],
        );
        let e = error(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: ramping-vus\n    stages:\n      - duration: 5s\n        target: 2.5",
        ));
        assert_contains(
            &e,
            &[":8: scenarios.browse.stages[0].target: must be a whole number of VUs, got 2.5"],
        );
        let e = error(&minimal_with(
            "executor: constant-arrival-rate\n    rate: 300",
            "executor: ramping-arrival-rate",
        ));
        assert_contains(
            &e,
            &["scenarios.browse: missing required key `stages` (ramping-arrival-rate needs it)"],
        );
        let e = error(&minimal_with(
            "rate: 300",
            "rate: 300\n    arrivals: random",
        ));
        assert_contains(
            &e,
            &["scenarios.browse.arrivals: unknown arrivals `random`"],
        );
    }
}
