//! One worker's share of a scenario: splits a scenario's rates, stages, VUs and data
//! rows over the workers of its regions without overlap, so that the workers
//! together run exactly the scenario's schedule.
//!
//! - Rates (and ramping stage targets) split in proportion to each worker's share,
//!   and the workers of a region interleave their arrivals (worker `k` of `n` is
//!   `k / n` of an iteration late).
//! - VU counts are integers: `c` VUs split over the regions by largest remainder
//!   (the largest weights get VUs first, the regions always add up to `c`) and a
//!   region's workers take turns, so no worker runs more than one VU above an even
//!   share (`schedule::worker_vus`). A region's workers that never get a VU nor a
//!   rate are not needed at all ([`workers_with_load`]).
//! - Data rows: a region takes the contiguous rows its weight range covers, its
//!   workers take turns (round-robin); with fewer rows than workers, rows repeat.
//!
//! Pure. `plan` decides how many workers each region gets and calls
//! [`scenario_for_worker`] (or [`scenario_for_worker_in`], which also knows where
//! the region sits among the others) for each; this module decides what each runs.

use std::time::Duration;

use sls_load_core::job::{
    DataRows, Executor, HttpOptions, HttpVersionChoice, JobScenario, RateStage, VuSplit,
};
use sls_load_core::schedule::{region_peak_vus, region_vus, worker_iterations, worker_vus};

use crate::scenario::{ExecutorDef, ScenarioDef};

/// Connections one worker may hold: a Lambda has 1,024 file descriptors, and the
/// runtime, S3 client and logs need some.
pub const MAX_VUS_PER_WORKER: u32 = 900;

/// Most VUs one worker holds when they share HTTP/2 connections: memory, not
/// descriptors, bounds it then (a few KiB per VU, docs/PERFORMANCE.md). As with
/// VUs on their own connections, what a worker's CPU can send is not bounded
/// here: against a fast target fewer VUs per worker (`--workers`) give each
/// more of a core.
pub const MAX_SHARED_VUS_PER_WORKER: u32 = 10_000;

/// VUs one worker may hold for a scenario with these protocol options: one per
/// connection ([`MAX_VUS_PER_WORKER`]), or, where the scenario speaks HTTP/2
/// (`http.version: http2`), `http.max_streams_per_connection` per connection up
/// to [`MAX_SHARED_VUS_PER_WORKER`]. With `version: auto` the target may answer
/// HTTP/1.1, so workers are sized by connections.
pub fn vus_limit(http: &HttpOptions) -> u32 {
    let streams = http.max_streams_per_connection.max(1);
    if http.version != HttpVersionChoice::Http2 || http.new_connection_per_iteration {
        return MAX_VUS_PER_WORKER;
    }
    MAX_VUS_PER_WORKER
        .saturating_mul(streams)
        .min(MAX_SHARED_VUS_PER_WORKER.max(MAX_VUS_PER_WORKER))
}

/// A region among all selected regions: every region's normalised weight, in plan
/// order, and which one it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionSlot<'a> {
    /// Every selected region's normalised weight, in plan order.
    pub weights: &'a [f64],
    /// This region's index in `weights`.
    pub index: usize,
}

impl RegionSlot<'_> {
    /// Summed weight of the regions planned before it: where its part of the unit
    /// interval starts.
    pub fn before(&self) -> f64 {
        self.weights.iter().take(self.index).sum()
    }

    /// Its normalised weight.
    pub fn weight(&self) -> f64 {
        self.weights.get(self.index).copied().unwrap_or(0.0)
    }
}

/// The part of scenario `s` that worker `k` of the `n` workers of a region with
/// normalised weight `weight` runs, for a region planned first (or alone), the
/// other regions' weight taken as one. VU counts and data rows split exactly within
/// the region; across several regions use [`scenario_for_worker_in`], which knows
/// every region's weight.
pub fn scenario_for_worker(s: &ScenarioDef, weight: f64, k: usize, n: usize) -> JobScenario {
    let weights = [weight, (1.0 - weight).max(0.0)];
    scenario_for_worker_in(
        s,
        RegionSlot {
            weights: &weights,
            index: 0,
        },
        k,
        n,
        MAX_VUS_PER_WORKER,
    )
}

/// How many of the `n` workers of `region` ever have something to do in scenario
/// `s`: all of them for a rate above zero, as many as the region's most VUs for a
/// VU executor (VU `j` is worker `j % n`'s, so those are the first ones), none when
/// the region gets neither. The workers after them would run nothing.
pub fn workers_with_load(s: &ScenarioDef, region: RegionSlot, n: usize) -> usize {
    let (weights, index) = (region.weights, region.index);
    let with_rate = |rate_above_zero: bool| if rate_above_zero { n } else { 0 };
    let most = match &s.executor {
        ExecutorDef::ConstantArrivalRate { rate, .. } => with_rate(*rate > 0.0),
        ExecutorDef::RampingArrivalRate {
            start_rate, stages, ..
        } => with_rate(*start_rate > 0.0 || stages.iter().any(|st| st.target > 0.0)),
        ExecutorDef::ConstantVus { vus }
        | ExecutorDef::PerVuIterations { vus, .. }
        | ExecutorDef::SharedIterations { vus, .. } => {
            usize::try_from(region_vus(weights, index, *vus)).unwrap_or(usize::MAX)
        }
        ExecutorDef::RampingVus { .. } => {
            let peak = s.executor.peak_vus().unwrap_or(0);
            usize::try_from(region_peak_vus(weights, index, peak)).unwrap_or(usize::MAX)
        }
    };
    if region.weight() <= 0.0 {
        0
    } else {
        most.min(n)
    }
}

/// Worker `k` of `n`'s [`VuSplit`] in `region`.
fn split_of(region: RegionSlot, k: usize, n: usize) -> VuSplit {
    VuSplit {
        weights: region.weights.to_vec(),
        region: u32::try_from(region.index).unwrap_or(u32::MAX),
        worker: u32::try_from(k).unwrap_or(u32::MAX),
        workers: u32::try_from(n).unwrap_or(u32::MAX),
    }
}

/// The part of scenario `s` that worker `k` of the `n` workers of `region` runs,
/// holding at most `limit` VUs ([`vus_limit`]).
pub fn scenario_for_worker_in(
    s: &ScenarioDef,
    region: RegionSlot,
    k: usize,
    n: usize,
    limit: u32,
) -> JobScenario {
    let n = n.max(1);
    let share = region.weight() / n as f64;
    let split = split_of(region, k, n);
    let executor = executor_for_worker(&s.executor, split.clone(), share, k, n);
    let (pre, max) = match s.executor.peak_vus() {
        Some(peak) => {
            let mine = worker_vus(&split, peak).min(limit);
            (mine, mine)
        }
        None => {
            let rate = s.executor.iterations_per_second() * share;
            vus_per_worker(s.pre_allocated_vus, s.max_vus, share, rate, limit)
        }
    };
    JobScenario {
        name: s.name.clone(),
        executor,
        pre_allocated_vus: pre,
        max_vus: max,
        requests: s.requests.clone(),
        start_time: s.start_time,
        duration: s.duration,
        arrivals: s.arrivals,
        data: s
            .data
            .as_ref()
            .map(|d| rows_for_worker(&d.rows, region, k, n)),
        graceful_stop: s.graceful_stop,
    }
}

/// Worker `k` of `n`'s executor for `def`: rates scaled to its `share` (and
/// interleaved with the region's other workers), VU counts split by `split`.
fn executor_for_worker(
    def: &ExecutorDef,
    split: VuSplit,
    share: f64,
    k: usize,
    n: usize,
) -> Executor {
    let per_second = |rate: f64, unit: Duration| rate / unit.as_secs_f64() * share;
    match def {
        ExecutorDef::ConstantArrivalRate { rate, time_unit } => {
            let rate = per_second(*rate, *time_unit);
            // Workers of a region interleave: worker k starts k/n of a period late.
            let offset = if rate > 0.0 {
                Duration::from_secs_f64(k as f64 / n as f64 / rate)
            } else {
                Duration::ZERO
            };
            Executor::ConstantArrivalRate { rate, offset }
        }
        ExecutorDef::RampingArrivalRate {
            start_rate,
            time_unit,
            stages,
        } => Executor::RampingArrivalRate {
            start_rate: per_second(*start_rate, *time_unit),
            stages: stages
                .iter()
                .map(|st| RateStage {
                    duration: st.duration,
                    target: per_second(st.target, *time_unit),
                })
                .collect(),
            phase: k as f64 / n as f64,
        },
        ExecutorDef::ConstantVus { vus } => Executor::ConstantVus {
            vus: worker_vus(&split, *vus),
        },
        ExecutorDef::RampingVus {
            start_vus,
            stages,
            graceful_ramp_down,
        } => Executor::RampingVus {
            start_vus: *start_vus,
            stages: stages.clone(),
            graceful_ramp_down: *graceful_ramp_down,
            split,
        },
        ExecutorDef::PerVuIterations { vus, iterations } => Executor::PerVuIterations {
            vus: worker_vus(&split, *vus),
            iterations: *iterations,
        },
        ExecutorDef::SharedIterations { vus, iterations } => Executor::SharedIterations {
            vus: worker_vus(&split, *vus),
            iterations: worker_iterations(&split, *vus, *iterations),
        },
    }
}

/// One worker's data rows: the region's contiguous part, round-robin over its
/// workers; one shared row when there are fewer rows than that.
pub fn rows_for_worker(data: &DataRows, region: RegionSlot, k: usize, n: usize) -> DataRows {
    let total = data.rows.len();
    let cut = |w: f64| ((total as f64 * w + 1e-6).floor() as usize).min(total);
    let before = region.before();
    let (from, to) = (cut(before), cut(before + region.weight()));
    let mut rows: Vec<Vec<String>> = (from..to)
        .skip(k)
        .step_by(n.max(1))
        .filter_map(|i| data.rows.get(i).cloned())
        .collect();
    if rows.is_empty() && total > 0 {
        rows.extend(data.rows.get((from + k) % total).cloned());
    }
    DataRows {
        columns: data.columns.clone(),
        rows,
    }
}

/// One worker's VUs for an arrival-rate executor: its share of the scenario's
/// totals, or defaults that allow about one second of latency at the worker's rate,
/// within `limit` ([`vus_limit`]).
pub fn vus_per_worker(
    pre: Option<u32>,
    max: Option<u32>,
    share: f64,
    rate: f64,
    limit: u32,
) -> (u32, u32) {
    let part = |total: u32| ((f64::from(total) * share).ceil() as u32).max(1);
    let pre = pre
        .map(part)
        .unwrap_or_else(|| ((rate / 10.0).ceil() as u32).clamp(1, 100));
    let max = max
        .map(part)
        .unwrap_or_else(|| (rate.ceil() as u32).clamp(10, limit));
    let max = max.clamp(1, limit);
    (pre.min(max), max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sls_load_core::job::{Arrivals, RequestSpec, VuStage};
    use sls_load_core::schedule::{ArrivalSchedule, VuSchedule, Window};

    use crate::scenario::DataSet;

    const WEIGHTS: [f64; 3] = [0.5, 0.3, 0.2];
    const REGIONS: [(usize, usize); 3] = [(0, 3), (1, 2), (2, 1)];

    fn def(executor: ExecutorDef) -> ScenarioDef {
        ScenarioDef {
            name: "s".into(),
            executor,
            pre_allocated_vus: None,
            max_vus: None,
            requests: vec![RequestSpec::default()],
            start_time: Duration::ZERO,
            duration: None,
            arrivals: Arrivals::Constant,
            data: None,
            graceful_stop: Duration::ZERO,
        }
    }

    /// Every worker of every region.
    fn workers(s: &ScenarioDef) -> Vec<JobScenario> {
        REGIONS
            .iter()
            .flat_map(|&(index, n)| {
                let slot = RegionSlot {
                    weights: &WEIGHTS,
                    index,
                };
                (0..n).map(move |k| scenario_for_worker_in(s, slot, k, n, MAX_VUS_PER_WORKER))
            })
            .collect()
    }

    #[test]
    fn default_vus_stay_within_the_file_descriptor_budget() {
        assert_eq!(
            vus_per_worker(None, None, 1.0, 50_000.0, MAX_VUS_PER_WORKER),
            (100, MAX_VUS_PER_WORKER)
        );
        assert_eq!(vus_per_worker(None, None, 1.0, 5.0, 900), (1, 10));
        assert_eq!(vus_per_worker(Some(10), Some(100), 0.25, 5.0, 900), (3, 25));
    }

    #[test]
    fn shared_http2_connections_raise_the_vus_a_worker_holds_up_to_a_bound() {
        let h2 = |streams| HttpOptions {
            version: HttpVersionChoice::Http2,
            max_streams_per_connection: streams,
            ..HttpOptions::default()
        };
        assert_eq!(vus_limit(&HttpOptions::default()), MAX_VUS_PER_WORKER);
        assert_eq!(vus_limit(&h2(1)), MAX_VUS_PER_WORKER);
        assert_eq!(vus_limit(&h2(4)), 3_600);
        assert_eq!(vus_limit(&h2(100)), MAX_SHARED_VUS_PER_WORKER);
        let auto = HttpOptions {
            version: HttpVersionChoice::Auto,
            ..h2(100)
        };
        assert_eq!(vus_limit(&auto), MAX_VUS_PER_WORKER);
        let fresh = HttpOptions {
            new_connection_per_iteration: true,
            ..h2(100)
        };
        assert_eq!(vus_limit(&fresh), MAX_VUS_PER_WORKER);
    }

    #[test]
    fn ramping_rates_split_so_the_workers_add_up_to_the_scenario() {
        let s = def(ExecutorDef::RampingArrivalRate {
            start_rate: 0.0,
            time_unit: Duration::from_secs(1),
            stages: vec![
                RateStage {
                    duration: Duration::from_secs(1),
                    target: 600.0,
                },
                RateStage {
                    duration: Duration::from_secs(1),
                    target: 0.0,
                },
            ],
        });
        let window = Window {
            start: Duration::ZERO,
            end: Duration::from_secs(3),
        };
        let total: usize = workers(&s)
            .iter()
            .map(|w| {
                ArrivalSchedule::new(w, window, 1)
                    .expect("arrivals")
                    .count()
            })
            .sum();
        // 0 → 600/s in 1 s and back: 600 arrivals whatever the split (up to one
        // partial arrival per worker).
        assert!((594..=600).contains(&total), "{total}");
    }

    #[test]
    fn shared_iterations_split_with_the_vus_and_add_up() {
        let s = def(ExecutorDef::SharedIterations {
            vus: 10,
            iterations: 100,
        });
        let shares: Vec<(u32, u64)> = workers(&s)
            .iter()
            .map(|w| match w.executor {
                Executor::SharedIterations { vus, iterations } => (vus, iterations),
                _ => unreachable!("shared-iterations stays shared-iterations"),
            })
            .collect();
        // The VUs as constant-vus splits them; the iterations follow the VUs.
        assert_eq!(
            shares,
            [(2, 20), (2, 20), (1, 10), (2, 20), (1, 10), (2, 20)]
        );
        assert_eq!(shares.iter().map(|(_, i)| i).sum::<u64>(), 100);
    }

    #[test]
    fn constant_vus_split_evenly_and_add_up() {
        let s = def(ExecutorDef::ConstantVus { vus: 10 });
        let vus: Vec<u32> = workers(&s)
            .iter()
            .map(|w| match w.executor {
                Executor::ConstantVus { vus } => vus,
                _ => unreachable!("constant-vus stays constant-vus"),
            })
            .collect();
        // Regions take 5, 3 and 2; within a region no worker is more than one above another.
        assert_eq!(vus, [2, 2, 1, 2, 1, 2]);
        assert_eq!(vus.iter().sum::<u32>(), 10);
        assert!(workers(&s).iter().zip(&vus).all(|(w, v)| w.max_vus == *v));
    }

    #[test]
    fn ramping_vus_carry_the_whole_schedule_and_each_workers_split() {
        let s = def(ExecutorDef::RampingVus {
            start_vus: 0,
            stages: vec![VuStage {
                duration: Duration::from_secs(10),
                target: 20,
            }],
            graceful_ramp_down: Duration::from_secs(30),
        });
        let ws = workers(&s);
        let window = Window {
            start: Duration::ZERO,
            end: Duration::from_secs(20),
        };
        let peaks: u32 = ws
            .iter()
            .map(|w| VuSchedule::new(w, window).expect("VUs").peak())
            .sum();
        // The count reaches 19 before the stage (and the executor) ends.
        assert_eq!(peaks, 19);
        match &ws[4].executor {
            Executor::RampingVus { split, .. } => {
                assert_eq!(
                    (
                        split.weights.as_slice(),
                        split.region,
                        split.worker,
                        split.workers
                    ),
                    (&WEIGHTS[..], 1, 1, 2)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn data_rows_are_disjoint_across_workers_and_cover_the_file() {
        let rows: Vec<Vec<String>> = (0..20).map(|i| vec![i.to_string()]).collect();
        let mut s = def(ExecutorDef::ConstantVus { vus: 6 });
        s.data = Some(DataSet {
            file: "users.csv".into(),
            rows: DataRows {
                columns: vec!["id".into()],
                rows: rows.clone(),
            },
        });
        let mut seen: Vec<Vec<String>> = workers(&s)
            .into_iter()
            .flat_map(|w| w.data.expect("rows").rows)
            .collect();
        assert_eq!(seen.len(), 20, "no row twice");
        seen.sort_by_key(|r| r[0].parse::<u32>().unwrap_or(0));
        assert_eq!(seen, rows);
        // Region 1 (rows 0..10) over three workers: round-robin.
        let first = scenario_for_worker(&s, 0.5, 1, 3).data.expect("rows");
        assert_eq!(
            first.rows,
            [["1"], ["4"], ["7"]].map(|r| r.map(String::from).to_vec())
        );
    }

    #[test]
    fn with_fewer_rows_than_workers_each_worker_still_gets_one() {
        let data = DataRows {
            columns: vec!["id".into()],
            rows: vec![vec!["a".into()], vec!["b".into()]],
        };
        let slot = RegionSlot {
            weights: &[1.0],
            index: 0,
        };
        for k in 0..5 {
            assert_eq!(rows_for_worker(&data, slot, k, 5).rows.len(), 1);
        }
    }

    #[test]
    fn scenario_timing_and_arrivals_travel_to_every_worker() {
        let mut s = def(ExecutorDef::ConstantArrivalRate {
            rate: 60.0,
            time_unit: Duration::from_secs(60),
        });
        s.start_time = Duration::from_secs(5);
        s.duration = Some(Duration::from_secs(10));
        s.arrivals = Arrivals::Poisson;
        let w = scenario_for_worker(&s, 1.0, 0, 2);
        assert_eq!(w.start_time, Duration::from_secs(5));
        assert_eq!(w.duration, Some(Duration::from_secs(10)));
        assert_eq!(w.arrivals, Arrivals::Poisson);
        assert!(matches!(w.executor, Executor::ConstantArrivalRate { rate, .. } if rate == 0.5));
    }

    fn ramp(start_vus: u32, stages: &[(u64, u32)]) -> ScenarioDef {
        def(ExecutorDef::RampingVus {
            start_vus,
            stages: stages
                .iter()
                .map(|&(secs, target)| VuStage {
                    duration: Duration::from_secs(secs),
                    target,
                })
                .collect(),
            graceful_ramp_down: Duration::from_secs(30),
        })
    }

    /// VUs running at `t` under `s`.
    fn vus_at(s: &VuSchedule, t: Duration) -> u32 {
        s.steps
            .iter()
            .take_while(|x| x.at <= t)
            .last()
            .map_or(0, |x| x.vus)
    }

    #[test]
    fn every_regions_ramp_adds_up_to_the_scenarios_at_every_instant() {
        let s = ramp(1, &[(3, 7), (2, 2), (0, 5), (3, 0)]);
        let window = Window {
            start: Duration::ZERO,
            end: Duration::from_secs(10),
        };
        let whole = VuSchedule::new(&scenario_for_worker(&s, 1.0, 0, 1), window).expect("VUs");
        let parts: Vec<VuSchedule> = workers(&s)
            .iter()
            .map(|w| VuSchedule::new(w, window).expect("VUs"))
            .collect();
        for ms in (0..10_000).step_by(25) {
            let t = Duration::from_millis(ms);
            let split: Vec<u32> = parts.iter().map(|p| vus_at(p, t)).collect();
            assert_eq!(
                split.iter().sum::<u32>(),
                vus_at(&whole, t),
                "{t:?} {split:?}"
            );
        }
    }

    #[test]
    fn only_the_workers_that_ever_get_load_are_needed() {
        let slot = |index| RegionSlot {
            weights: &WEIGHTS,
            index,
        };
        let needed = |s: &ScenarioDef, n: usize| -> Vec<usize> {
            (0..3).map(|r| workers_with_load(s, slot(r), n)).collect()
        };
        let vus = |vus| def(ExecutorDef::ConstantVus { vus });
        assert_eq!(needed(&vus(2), 3), [1, 1, 0]);
        assert_eq!(needed(&vus(1), 3), [1, 0, 0]);
        assert_eq!(needed(&vus(0), 3), [0, 0, 0]);
        assert_eq!(needed(&vus(40), 3), [3, 3, 3]);
        // A ramp's most VUs, whenever they run: 3 VUs give each region one.
        assert_eq!(needed(&ramp(0, &[(5, 2), (5, 0)]), 3), [1, 1, 0]);
        assert_eq!(needed(&ramp(0, &[(5, 4), (5, 0)]), 3), [2, 1, 1]);
        let rate = |rate| {
            def(ExecutorDef::ConstantArrivalRate {
                rate,
                time_unit: Duration::from_secs(1),
            })
        };
        assert_eq!(needed(&rate(0.5), 2), [2, 2, 2]);
        assert_eq!(needed(&rate(0.0), 2), [0, 0, 0]);
        let zero = RegionSlot {
            weights: &[1.0, 0.0],
            index: 1,
        };
        assert_eq!(workers_with_load(&rate(10.0), zero, 2), 0);
    }
}
