//! Pacing as data: when each executor starts iterations (arrival-rate executors)
//! or how many VUs it runs (VU executors), as pure functions of the time since the
//! run's start.
//!
//! A worker runs one time slice, the window `[run_offset, run_offset + duration)`
//! of its scenarios' schedules. Arrival `i` belongs to the slice whose window holds
//! its intended time, so slice *k+1* continues exactly where slice *k* stopped: both
//! compute the same arrival indices at their common boundary. VU executors run
//! their VUs only inside the window.
//!
//! This module owns the arithmetic: rate profiles and their inverse (arrival times
//! from cumulative counts), Poisson gaps from a seeded generator, VU step timelines
//! and (in `split`) the split of integer VU counts over regions and workers. It does no IO, reads no clock
//! and sends nothing; the engine turns these times into sleeps and requests.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::job::{Arrivals, Executor, JobScenario, RateStage, VuStage};

mod split;
pub use split::{region_peak_vus, region_vus, worker_iterations, worker_vus};

/// A slice of run time, `[start, end)`, both measured from the run's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First instant inside the window.
    pub start: Duration,
    /// First instant after it.
    pub end: Duration,
}

impl Window {
    /// The window of a job: `[run_offset, run_offset + duration)`.
    pub fn of_job(job: &crate::job::Job) -> Self {
        Self {
            start: job.run_offset,
            end: job.run_offset + job.duration,
        }
    }
}

/// Slack for float comparisons of cumulative counts, relative to their size.
fn eps(x: f64) -> f64 {
    1e-9 * x.abs().max(1.0)
}

/// One linear piece of a rate profile, in scenario seconds.
#[derive(Debug, Clone, Copy)]
struct Segment {
    t0: f64,
    t1: f64,
    r0: f64,
    r1: f64,
    /// Arrivals expected before `t0`.
    n0: f64,
}

impl Segment {
    fn count(&self) -> f64 {
        if self.t1.is_infinite() {
            return if self.r0 > 0.0 { f64::INFINITY } else { 0.0 };
        }
        (self.r0 + self.r1) / 2.0 * (self.t1 - self.t0)
    }

    /// Arrivals expected in `[t0, t0 + s)`.
    fn count_within(&self, s: f64) -> f64 {
        if self.t1.is_infinite() {
            return self.r0 * s;
        }
        let slope = (self.r1 - self.r0) / (self.t1 - self.t0);
        self.r0 * s + slope * s * s / 2.0
    }

    /// The `s` at which `count_within(s) == dn`, for `0 <= dn <= count()`.
    fn solve(&self, dn: f64) -> f64 {
        if self.t1.is_infinite() {
            return dn / self.r0;
        }
        let a = (self.r1 - self.r0) / (self.t1 - self.t0) / 2.0;
        let b = self.r0;
        // a s² + b s = dn, in the form that stays stable when a is tiny or negative.
        let root = (b * b + 4.0 * a * dn).max(0.0).sqrt();
        let s = if b + root > 0.0 {
            2.0 * dn / (b + root)
        } else {
            0.0
        };
        s.clamp(0.0, self.t1 - self.t0)
    }
}

/// An arrival rate as a piecewise-linear function of scenario time (seconds since
/// the scenario's `start_time`), with its integral and the integral's inverse.
#[derive(Debug, Clone)]
pub struct RateProfile {
    segments: Vec<Segment>,
    total: f64,
}

impl RateProfile {
    /// `rate` per second for `length` (forever when `None`).
    pub fn constant(rate: f64, length: Option<Duration>) -> Self {
        let t1 = length.map_or(f64::INFINITY, |l| l.as_secs_f64());
        Self::from_segments(vec![Segment {
            t0: 0.0,
            t1,
            r0: rate,
            r1: rate,
            n0: 0.0,
        }])
    }

    /// From `start_rate`, each stage moving linearly to its target; nothing after
    /// the last stage.
    pub fn ramping(start_rate: f64, stages: &[RateStage]) -> Self {
        let mut segments = Vec::with_capacity(stages.len());
        let mut t = 0.0;
        let mut rate = start_rate;
        for stage in stages {
            let d = stage.duration.as_secs_f64();
            if d > 0.0 {
                segments.push(Segment {
                    t0: t,
                    t1: t + d,
                    r0: rate,
                    r1: stage.target,
                    n0: 0.0,
                });
            }
            t += d;
            rate = stage.target;
        }
        Self::from_segments(segments)
    }

    fn from_segments(mut segments: Vec<Segment>) -> Self {
        let mut n = 0.0;
        for s in &mut segments {
            s.r0 = sanitize(s.r0);
            s.r1 = sanitize(s.r1);
            s.n0 = n;
            n += s.count();
        }
        Self { segments, total: n }
    }

    /// Arrivals the profile holds in all (infinite for an endless constant rate).
    pub fn total(&self) -> f64 {
        self.total
    }

    /// Arrivals expected before scenario time `t` seconds.
    pub fn count_at(&self, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        for s in &self.segments {
            if t < s.t1 {
                return s.n0 + s.count_within((t - s.t0).max(0.0));
            }
        }
        self.total
    }

    /// The earliest scenario time by which `n` arrivals are expected, or `None` when
    /// the profile ends first.
    pub fn time_at(&self, n: f64) -> Option<f64> {
        if n.is_nan() || n < 0.0 || n >= self.total {
            return None;
        }
        self.segments
            .iter()
            .find(|s| n < s.n0 + s.count() && s.count() > 0.0)
            .map(|s| s.t0 + s.solve(n - s.n0))
    }
}

/// Rates are finite and never negative.
fn sanitize(rate: f64) -> f64 {
    if rate.is_finite() { rate.max(0.0) } else { 0.0 }
}

/// The intended start times (run time) of one worker's iterations of an
/// arrival-rate scenario within one window, in order.
#[derive(Debug, Clone)]
pub struct ArrivalSchedule {
    profile: RateProfile,
    /// The scenario's start, seconds of run time.
    start_time: f64,
    mode: Spacing,
}

#[derive(Debug, Clone)]
enum Spacing {
    /// Arrival `i` at cumulative count `i + phase`, for `i` in `next..end`.
    Even { next: u64, end: u64, phase: f64 },
    /// Arrivals at cumulative counts `u` spaced by exponential gaps, up to `until`.
    Poisson {
        u: f64,
        until: f64,
        rng: Box<StdRng>,
    },
}

impl ArrivalSchedule {
    /// The schedule of `scenario` inside `window`, or `None` for VU executors.
    /// `seed` drives Poisson gaps (see [`seed`]).
    pub fn new(scenario: &JobScenario, window: Window, seed: u64) -> Option<Self> {
        let (profile, phase) = match &scenario.executor {
            Executor::ConstantArrivalRate { rate, offset } => {
                let rate = sanitize(*rate);
                (
                    RateProfile::constant(rate, scenario.duration),
                    offset.as_secs_f64() * rate,
                )
            }
            Executor::RampingArrivalRate {
                start_rate,
                stages,
                phase,
            } => {
                let mut profile = RateProfile::ramping(*start_rate, stages);
                if let Some(limit) = scenario.duration {
                    profile = profile.truncated(limit.as_secs_f64());
                }
                (profile, sanitize(*phase).fract())
            }
            Executor::ConstantVus { .. }
            | Executor::RampingVus { .. }
            | Executor::PerVuIterations { .. }
            | Executor::SharedIterations { .. } => return None,
        };
        let start_time = scenario.start_time.as_secs_f64();
        let from = profile.count_at(window.start.as_secs_f64() - start_time);
        let to = profile
            .count_at(window.end.as_secs_f64() - start_time)
            .min(profile.total());
        let mode = match scenario.arrivals {
            Arrivals::Constant => Spacing::Even {
                next: first_index(from, phase),
                end: first_index(to, phase),
                phase,
            },
            Arrivals::Poisson => Spacing::Poisson {
                u: from,
                until: to,
                rng: Box::new(StdRng::seed_from_u64(seed)),
            },
        };
        Some(Self {
            profile,
            start_time,
            mode,
        })
    }
}

/// The first arrival index whose cumulative count `i + phase` is at least `count`.
fn first_index(count: f64, phase: f64) -> u64 {
    if count.is_infinite() {
        return u64::MAX;
    }
    let i = (count - phase - eps(count)).ceil();
    if i <= 0.0 { 0 } else { i as u64 }
}

impl RateProfile {
    /// The same profile, ending at scenario time `limit` seconds.
    fn truncated(self, limit: f64) -> Self {
        let segments = self
            .segments
            .into_iter()
            .filter(|s| s.t0 < limit)
            .map(|mut s| {
                if s.t1 > limit {
                    let r = s.r0 + (s.r1 - s.r0) * (limit - s.t0) / (s.t1 - s.t0);
                    s.t1 = limit;
                    s.r1 = r;
                }
                s
            })
            .collect();
        Self::from_segments(segments)
    }
}

impl Iterator for ArrivalSchedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let n = match &mut self.mode {
            Spacing::Even { next, end, phase } => {
                if *next >= *end {
                    return None;
                }
                let n = *next as f64 + *phase;
                *next += 1;
                n
            }
            Spacing::Poisson { u, until, rng } => {
                // Exponential gap with mean 1 in count space: inverse CDF of 1 - U.
                let uniform: f64 = rng.random();
                *u += -(1.0 - uniform).ln();
                if *u >= *until {
                    return None;
                }
                *u
            }
        };
        let t = self.profile.time_at(n)?;
        Some(Duration::from_secs_f64((self.start_time + t).max(0.0)))
    }
}

/// When `job`'s first iteration is due, as time after its `start_at` (`None` when
/// it has none in its window). A ramp from zero or a later `start_time` starts its
/// first iteration late on purpose; start-skew figures should allow for it.
pub fn first_due(job: &crate::job::Job) -> Option<Duration> {
    let window = Window::of_job(job);
    job.scenarios
        .iter()
        .filter_map(|s| {
            let seed = seed(job.run_id.as_str(), job.worker_id.as_str(), &s.name);
            match ArrivalSchedule::new(s, window, seed) {
                Some(mut arrivals) => arrivals.next(),
                None => VuSchedule::new(s, window)?
                    .steps
                    .first()
                    .map(|step| step.at),
            }
        })
        .min()
        .map(|at| at.saturating_sub(window.start))
}

/// A reproducible seed from a run, a worker and a scenario (FNV-1a, stable across
/// builds and platforms, unlike the standard library's hasher).
pub fn seed(run_id: &str, worker_id: &str, scenario: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [run_id, worker_id, scenario] {
        for b in part.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// A change of a worker's VU count: from `at` (run time) on, `vus` VUs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VuStep {
    /// When the count changes, since the run's start.
    pub at: Duration,
    /// VUs from then on.
    pub vus: u32,
}

/// What a VU executor does inside one window: its VU steps (the last one is 0 at
/// the end) and, for `per-vu-iterations`, how many iterations each VU runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VuSchedule {
    /// Count changes in time order; empty when the worker runs no VU in the window.
    pub steps: Vec<VuStep>,
    /// Iterations per VU, if limited.
    pub iterations: Option<u64>,
    /// Iterations the worker's VUs share (`shared-iterations`), if limited so.
    pub shared_iterations: Option<u64>,
    /// How long a VU removed by a ramp-down may finish its iteration.
    pub graceful_ramp_down: Option<Duration>,
}

impl VuSchedule {
    /// The VU schedule of `scenario` inside `window`, or `None` for arrival-rate
    /// executors. `per-vu-iterations` and `shared-iterations` run in the slice where
    /// they start only (an iteration count cannot carry over to another invocation).
    pub fn new(scenario: &JobScenario, window: Window) -> Option<Self> {
        let start = scenario.start_time;
        let end = scenario.duration.map(|d| start + d);
        let flat = |vus: u32| {
            let mut changes = vec![(start, vus)];
            if let Some(end) = end {
                changes.push((end, 0));
            }
            changes
        };
        let mut shared = None;
        let (changes, iterations, grace) = match &scenario.executor {
            Executor::ConstantVus { vus } => (flat(*vus), None, None),
            Executor::SharedIterations { vus, iterations } => {
                if start < window.start || start >= window.end {
                    return Some(Self::idle(None));
                }
                shared = Some(*iterations);
                (flat(*vus), None, None)
            }
            Executor::PerVuIterations { vus, iterations } => {
                if start < window.start || start >= window.end {
                    return Some(Self::idle(Some(*iterations)));
                }
                (flat(*vus), Some(*iterations), None)
            }
            Executor::RampingVus {
                start_vus,
                stages,
                graceful_ramp_down,
                split,
            } => {
                let mut changes: Vec<(Duration, u32)> = Vec::new();
                let mut last = None;
                for (at, total) in ramp_changes(*start_vus, stages) {
                    let mine = worker_vus(split, total);
                    if last != Some(mine) {
                        changes.push((start + at, mine));
                        last = Some(mine);
                    }
                }
                if let Some(end) = end {
                    changes.retain(|(at, _)| *at < end);
                    changes.push((end, 0));
                }
                (changes, None, Some(*graceful_ramp_down))
            }
            Executor::ConstantArrivalRate { .. } | Executor::RampingArrivalRate { .. } => {
                return None;
            }
        };
        Some(Self {
            steps: clip(&changes, window),
            iterations,
            shared_iterations: shared,
            graceful_ramp_down: grace,
        })
    }

    fn idle(iterations: Option<u64>) -> Self {
        Self {
            steps: Vec::new(),
            iterations,
            shared_iterations: None,
            graceful_ramp_down: None,
        }
    }

    /// The most VUs at any time.
    pub fn peak(&self) -> u32 {
        self.steps.iter().map(|s| s.vus).max().unwrap_or(0)
    }
}

/// The scenario-wide VU count of `ramping-vus` at every change, in scenario time:
/// on a ramp up, VU `v` joins when the linear target reaches `v`; on a ramp down it
/// leaves when the target falls to `v − 1` (so the count is the target rounded
/// towards the stage's start value). Everything stops when the stages end.
fn ramp_changes(start_vus: u32, stages: &[VuStage]) -> Vec<(Duration, u32)> {
    let mut out = vec![(Duration::ZERO, start_vus)];
    let mut t0 = Duration::ZERO;
    let mut a = start_vus;
    for stage in stages {
        let (b, d) = (stage.target, stage.duration);
        if d.is_zero() {
            out.push((t0, b));
        } else if b > a {
            let span = f64::from(b - a);
            for v in a + 1..=b {
                out.push((t0 + d.mul_f64(f64::from(v - a) / span), v));
            }
        } else if b < a {
            let span = f64::from(a - b);
            for v in (b..a).rev() {
                out.push((t0 + d.mul_f64(f64::from(a - v) / span), v));
            }
        }
        t0 += d;
        a = b;
    }
    out.push((t0, 0));
    out
}

/// Keeps the changes inside `window`: the count in force at its start, the
/// changes within it, and 0 at its end. Empty when no VU ever runs in it.
fn clip(changes: &[(Duration, u32)], window: Window) -> Vec<VuStep> {
    let mut out: Vec<VuStep> = Vec::new();
    let mut current = 0;
    for &(at, vus) in changes {
        if at <= window.start {
            current = vus;
            continue;
        }
        if at >= window.end {
            break;
        }
        if out.is_empty() {
            out.push(VuStep {
                at: window.start,
                vus: current,
            });
        }
        if out.last().is_some_and(|s| s.at == at) {
            if let Some(s) = out.last_mut() {
                s.vus = vus;
            }
        } else {
            out.push(VuStep { at, vus });
        }
        current = vus;
    }
    if out.is_empty() {
        out.push(VuStep {
            at: window.start,
            vus: current,
        });
    }
    out.push(VuStep {
        at: window.end,
        vus: 0,
    });
    // Drop repeats and leading zeros; nothing at all when no VU runs.
    let mut steps: Vec<VuStep> = Vec::with_capacity(out.len());
    for s in out {
        if steps.last().is_some_and(|l| l.vus == s.vus) {
            continue;
        }
        if steps.is_empty() && s.vus == 0 {
            continue;
        }
        steps.push(s);
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{RequestSpec, VuSplit};

    const S: fn(u64) -> Duration = Duration::from_secs;
    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn scenario(executor: Executor) -> JobScenario {
        JobScenario {
            name: "s".into(),
            executor,
            pre_allocated_vus: 1,
            max_vus: 1,
            requests: vec![RequestSpec::default()],
            start_time: Duration::ZERO,
            duration: None,
            arrivals: Arrivals::Constant,
            data: None,
            graceful_stop: Duration::ZERO,
        }
    }

    fn window(start: Duration, end: Duration) -> Window {
        Window { start, end }
    }

    fn constant(rate: f64, offset: Duration) -> JobScenario {
        scenario(Executor::ConstantArrivalRate { rate, offset })
    }

    fn ramping(start_rate: f64, stages: &[(u64, f64)]) -> JobScenario {
        scenario(Executor::RampingArrivalRate {
            start_rate,
            stages: stages
                .iter()
                .map(|&(ms, target)| RateStage {
                    duration: MS(ms),
                    target,
                })
                .collect(),
            phase: 0.0,
        })
    }

    fn times(s: &JobScenario, w: Window) -> Vec<Duration> {
        ArrivalSchedule::new(s, w, 7)
            .expect("arrival executor")
            .collect()
    }

    fn count(s: &JobScenario, w: Window) -> usize {
        times(s, w).len()
    }

    #[test]
    fn constant_rate_fills_the_window_exactly() {
        let w = |secs| window(Duration::ZERO, S(secs));
        assert_eq!(count(&constant(60.0, Duration::ZERO), w(15)), 900);
        assert_eq!(count(&constant(300.0, Duration::ZERO), w(15)), 4500);
        assert_eq!(count(&constant(10.0, MS(50)), w(1)), 10);
        assert_eq!(count(&constant(1.0 / 3.0, Duration::ZERO), w(10)), 4);
        assert_eq!(count(&constant(5.0, S(2)), w(1)), 0);
        let t = times(&constant(10.0, MS(50)), w(1));
        assert_eq!(t[0], MS(50));
        assert!((t[9].as_secs_f64() - 0.95).abs() < 1e-9, "{:?}", t[9]);
    }

    #[test]
    fn slices_continue_exactly_where_the_previous_one_stopped() {
        let cases = [
            constant(7.0, MS(13)),
            constant(1000.0, Duration::ZERO),
            ramping(0.0, &[(1000, 50.0), (2500, 3.0), (1500, 80.0)]),
        ];
        for s in &cases {
            let whole = times(s, window(Duration::ZERO, MS(5000)));
            let mut sliced = Vec::new();
            for (a, b) in [(0, 1000), (1000, 2333), (2333, 4000), (4000, 5000)] {
                let part = times(s, window(MS(a), MS(b)));
                assert!(
                    part.iter()
                        .all(|t| *t + MS(1) > MS(a) && *t < MS(b) + MS(1))
                );
                sliced.extend(part);
            }
            assert_eq!(sliced.len(), whole.len(), "{:?}", s.executor);
            for (x, y) in sliced.iter().zip(&whole) {
                assert!(x.abs_diff(*y) < Duration::from_micros(1));
            }
        }
    }

    #[test]
    fn a_ramp_holds_the_integral_of_its_stages() {
        // 0 → 100/s over 2 s, hold 1 s, → 0 over 1 s: 100 + 100 + 50 arrivals.
        let s = ramping(0.0, &[(2000, 100.0), (1000, 100.0), (1000, 0.0)]);
        let all = times(&s, window(Duration::ZERO, S(10)));
        assert_eq!(all.len(), 250);
        let in_second = |k: u64| all.iter().filter(|t| **t >= S(k) && **t < S(k + 1)).count();
        assert_eq!(
            [0, 1, 2, 3, 4].map(in_second),
            [25, 75, 100, 50, 0],
            "per second"
        );
        assert!(all.windows(2).all(|p| p[0] <= p[1]));
    }

    #[test]
    fn a_spike_from_zero_in_one_second_and_back_works() {
        let s = ramping(0.0, &[(1000, 600.0), (1000, 0.0)]);
        let all = times(&s, window(Duration::ZERO, S(5)));
        assert_eq!(all.len(), 600);
        assert!(all.iter().all(|t| *t < S(2)));
        let first = all.iter().filter(|t| **t < S(1)).count();
        assert_eq!(first, 300);
    }

    #[test]
    fn workers_of_a_region_interleave_by_phase() {
        let mut all: Vec<Duration> = Vec::new();
        for k in 0..4 {
            let mut s = ramping(0.0, &[(1000, 40.0), (1000, 40.0)]);
            if let Executor::RampingArrivalRate { phase, .. } = &mut s.executor {
                *phase = f64::from(k) / 4.0;
            }
            all.extend(times(&s, window(Duration::ZERO, S(2))));
        }
        // Four workers at a quarter of 160/s each: 80 + 160 = 240 arrivals.
        assert_eq!(all.len(), 240);
        all.sort();
        let gaps: Vec<f64> = all[80..]
            .windows(2)
            .map(|p| (p[1] - p[0]).as_secs_f64())
            .collect();
        assert!(
            gaps.iter().all(|g| (g - 1.0 / 160.0).abs() < 1e-6),
            "{gaps:?}"
        );
    }

    #[test]
    fn start_time_and_duration_shift_and_bound_the_schedule() {
        let mut s = constant(10.0, Duration::ZERO);
        s.start_time = S(2);
        s.duration = Some(S(3));
        let all = times(&s, window(Duration::ZERO, S(10)));
        assert_eq!(all.len(), 30);
        assert_eq!(all[0], S(2));
        assert!(all.iter().all(|t| *t >= S(2) && *t < S(5)));
    }

    #[test]
    fn poisson_arrivals_are_reproducible_and_keep_the_mean_rate() {
        let mut s = ramping(0.0, &[(1000, 200.0), (9000, 200.0)]);
        s.arrivals = Arrivals::Poisson;
        let w = window(Duration::ZERO, S(10));
        let a: Vec<Duration> = ArrivalSchedule::new(&s, w, 42).expect("schedule").collect();
        let b: Vec<Duration> = ArrivalSchedule::new(&s, w, 42).expect("schedule").collect();
        let c: Vec<Duration> = ArrivalSchedule::new(&s, w, 43).expect("schedule").collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // 1,900 expected; a Poisson count's standard deviation is sqrt(1900) ≈ 44.
        assert!((1700..2100).contains(&a.len()), "{}", a.len());
        assert!(a.windows(2).all(|p| p[0] <= p[1]));
        let gaps: Vec<f64> = a[200..]
            .windows(2)
            .map(|p| (p[1] - p[0]).as_secs_f64())
            .collect();
        // Exponential gaps: as many above the mean as e^-1 of them.
        let above = gaps.iter().filter(|g| **g > 1.0 / 200.0).count() as f64;
        let share = above / gaps.len() as f64;
        assert!((share - (-1.0f64).exp()).abs() < 0.05, "{share}");
    }

    #[test]
    fn seeds_differ_by_run_worker_and_scenario() {
        let base = seed("r1", "w0000", "s");
        assert_eq!(base, seed("r1", "w0000", "s"));
        assert_ne!(base, seed("r2", "w0000", "s"));
        assert_ne!(base, seed("r1", "w0001", "s"));
        assert_ne!(base, seed("r1", "w0000", "t"));
        assert_ne!(seed("ab", "c", "s"), seed("a", "bc", "s"));
    }

    fn ramping_vus(
        start_vus: u32,
        stages: &[(u64, u32)],
        worker: u32,
        workers: u32,
    ) -> JobScenario {
        scenario(Executor::RampingVus {
            start_vus,
            stages: stages
                .iter()
                .map(|&(ms, target)| VuStage {
                    duration: MS(ms),
                    target,
                })
                .collect(),
            graceful_ramp_down: S(30),
            split: VuSplit {
                weights: vec![1.0],
                region: 0,
                worker,
                workers,
            },
        })
    }

    fn steps(s: &JobScenario, w: Window) -> Vec<(u64, u32)> {
        VuSchedule::new(s, w)
            .expect("VU executor")
            .steps
            .iter()
            .map(|s| (s.at.as_millis() as u64, s.vus))
            .collect()
    }

    #[test]
    fn ramping_vus_step_when_the_linear_target_crosses_each_count() {
        let s = ramping_vus(0, &[(4000, 4), (2000, 4), (2000, 0)], 0, 1);
        assert_eq!(
            steps(&s, window(Duration::ZERO, S(20))),
            [
                (1000, 1),
                (2000, 2),
                (3000, 3),
                (4000, 4),
                (6500, 3),
                (7000, 2),
                (7500, 1),
                (8000, 0)
            ]
        );
    }

    #[test]
    fn the_workers_of_a_ramp_add_up_to_it_at_every_instant() {
        let stages = [(3000, 10), (1000, 10), (2000, 3), (0, 7), (1000, 0)];
        let w = window(Duration::ZERO, S(10));
        let scheds: Vec<VuSchedule> = (0..3)
            .map(|k| VuSchedule::new(&ramping_vus(2, &stages, k, 3), w).expect("VUs"))
            .collect();
        let whole = VuSchedule::new(&ramping_vus(2, &stages, 0, 1), w).expect("VUs");
        let at = |s: &VuSchedule, t: Duration| {
            s.steps
                .iter()
                .take_while(|x| x.at <= t)
                .last()
                .map_or(0, |x| x.vus)
        };
        for ms in (0..10_000).step_by(50) {
            let t = MS(ms);
            let parts: Vec<u32> = scheds.iter().map(|s| at(s, t)).collect();
            assert_eq!(
                parts.iter().sum::<u32>(),
                at(&whole, t),
                "at {t:?}: {parts:?}"
            );
        }
        assert_eq!(whole.peak(), 10);
    }

    #[test]
    fn vu_executors_run_only_inside_the_window() {
        let mut s = scenario(Executor::ConstantVus { vus: 5 });
        s.start_time = S(3);
        s.duration = Some(S(4));
        assert_eq!(
            steps(&s, window(Duration::ZERO, S(5))),
            [(3000, 5), (5000, 0)]
        );
        assert_eq!(steps(&s, window(S(5), S(10))), [(5000, 5), (7000, 0)]);
        assert_eq!(steps(&s, window(S(7), S(10))), []);
        let ramp = ramping_vus(0, &[(4000, 4)], 0, 1);
        assert_eq!(
            steps(&ramp, window(MS(2500), S(10))),
            [(2500, 2), (3000, 3), (4000, 0)]
        );
    }

    #[test]
    fn per_vu_iterations_run_in_the_slice_where_they_start() {
        let mut s = scenario(Executor::PerVuIterations {
            vus: 2,
            iterations: 5,
        });
        s.start_time = S(1);
        s.duration = Some(S(30));
        let first = VuSchedule::new(&s, window(Duration::ZERO, S(10))).expect("VUs");
        assert_eq!(first.iterations, Some(5));
        assert_eq!(
            steps(&s, window(Duration::ZERO, S(10))),
            [(1000, 2), (10_000, 0)]
        );
        assert_eq!(steps(&s, window(S(10), S(20))), []);
    }

    #[test]
    fn the_first_due_iteration_allows_for_quiet_starts_and_later_slices() {
        let mut quiet = ramping(0.0, &[(2000, 0.0), (1000, 100.0)]);
        quiet.name = "quiet".into();
        let mut late_vus = scenario(Executor::ConstantVus { vus: 1 });
        late_vus.start_time = MS(2500);
        let mut job = crate::job::Job {
            format: crate::job::FORMAT_VERSION,
            run_id: "r".parse().unwrap(),
            worker_id: "w0000".parse().unwrap(),
            region: "local".parse().unwrap(),
            start_at: std::time::SystemTime::UNIX_EPOCH,
            duration: S(10),
            run_offset: Duration::ZERO,
            slice: 0,
            target: "http://127.0.0.1:1".into(),
            scenarios: vec![quiet, late_vus],
            results: crate::job::ResultsLocation {
                bucket: "b".into(),
                region: "local".parse().unwrap(),
            },
            flush_every: S(10),
            request_timeout: S(1),
            http: crate::job::HttpOptions::default(),
            env: Default::default(),
            heartbeat: None,
            script: None,
        };
        // A ramp from 0/s after two quiet seconds: its first arrival as the rate rises.
        assert_eq!(first_due(&job), Some(S(2)));
        // In a later slice, counted from that slice's start.
        job.run_offset = S(5);
        assert_eq!(first_due(&job), Some(Duration::ZERO));
        job.scenarios.truncate(1);
        assert_eq!(first_due(&job), None);
    }

    #[test]
    fn arrival_and_vu_schedules_are_exclusive() {
        let w = window(Duration::ZERO, S(1));
        assert!(VuSchedule::new(&constant(1.0, Duration::ZERO), w).is_none());
        assert!(ArrivalSchedule::new(&scenario(Executor::ConstantVus { vus: 1 }), w, 0).is_none());
    }
}
