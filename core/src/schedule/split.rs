//! How integer VU counts split over regions and workers: a scenario's `c` VUs
//! over the run's regions by largest remainder, then a region's VUs round-robin
//! over its workers (see [`VuSplit`]); and the most VUs a region can ever get.
//!
//! Pure arithmetic on counts and weights. It does not decide how many workers a
//! region has (the orchestrator's plan does), nor when VUs start or stop (the
//! parent's [`super::VuSchedule`] does).

use super::{eps, sanitize};
use crate::job::VuSplit;

/// One worker's part of a scenario VU count `total` (see [`VuSplit`]): its region's
/// [`region_vus`], of which VU `j` is worker `j % workers`'s, so no worker has more
/// than one VU above an even share and the workers add up to the region.
pub fn worker_vus(split: &VuSplit, total: u32) -> u32 {
    let region = usize::try_from(split.region).unwrap_or(usize::MAX);
    let region = region_vus(&split.weights, region, total);
    let (k, n) = (split.worker, split.workers.max(1));
    if region <= k {
        0
    } else {
        (region - k).div_ceil(n)
    }
}

/// Region `region`'s part of `total` VUs split over regions of `weights` by largest
/// remainder: each region first gets the floor of its exact quota `total·w/Σw`, and
/// the VUs left over go one each to the largest remainders (remainders equal to
/// within 10⁻⁶ tie, and ties go to the larger weight, then to the earlier region).
/// The regions always add up to `total`, and one VU goes to the largest weight.
pub fn region_vus(weights: &[f64], region: usize, total: u32) -> u32 {
    let sum: f64 = weights.iter().copied().map(sanitize).sum();
    if region >= weights.len() || sum <= 0.0 {
        return 0;
    }
    let quota = |i: usize| Quota::of(f64::from(total) * sanitize(weights[i]) / sum);
    let floors: u64 = (0..weights.len()).map(|i| quota(i).floor).sum();
    let left = u64::from(total).saturating_sub(floors);
    let mine = quota(region);
    let key = |i: usize| (quota(i).remainder, sanitize(weights[i]));
    let ahead = (0..weights.len())
        .filter(|&i| {
            let (ri, wi) = key(i);
            let (rm, wm) = (mine.remainder, sanitize(weights[region]));
            ri > rm || (ri == rm && (wi > wm || (wi == wm && i < region)))
        })
        .count() as u64;
    let extra = u64::from(ahead < left);
    u32::try_from(mine.floor + extra)
        .unwrap_or(total)
        .min(total)
}

/// A region's exact VU quota as its floor and its remainder in millionths.
#[derive(Debug, Clone, Copy)]
struct Quota {
    floor: u64,
    remainder: u64,
}

impl Quota {
    fn of(exact: f64) -> Self {
        // A quota a rounding error below a whole number is that number.
        let floor = (exact + eps(exact)).floor().max(0.0);
        let remainder = ((exact - floor).max(0.0) * 1e6).round() as u64;
        Self {
            floor: floor as u64,
            remainder,
        }
    }
}

/// The most VUs region `region` (see [`region_vus`]) ever runs while a scenario's
/// count stays at or below `peak`. A region's count at `c` is at most one above
/// the floor of its quota, so only counts within about `1/w` of `peak` can beat
/// the count at `peak`; those are looked at (every count up to `peak` is assumed
/// to occur, so this may be one above what a schedule really reaches, never below).
pub fn region_peak_vus(weights: &[f64], region: usize, peak: u32) -> u32 {
    let sum: f64 = weights.iter().copied().map(sanitize).sum();
    let w = weights.get(region).copied().map_or(0.0, sanitize);
    if sum <= 0.0 || w <= 0.0 {
        return 0;
    }
    let at_peak = region_vus(weights, region, peak);
    let reach = (sum / w).ceil() + 2.0;
    if reach > 100_000.0 {
        // A sliver of weight: allow for the one extra VU rather than count it out.
        return at_peak.saturating_add(1).min(peak);
    }
    let from = peak.saturating_sub(reach as u32);
    (from..=peak)
        .map(|c| region_vus(weights, region, c))
        .max()
        .unwrap_or(at_peak)
}

/// One worker's part of `iterations` shared by a scenario's `vus` VUs: split over
/// the regions in proportion to their VUs, then over the region's workers in
/// proportion to theirs, both by largest remainder ([`region_vus`]), so a worker
/// without VUs gets no iterations and the workers add up to `iterations`.
pub fn worker_iterations(split: &VuSplit, vus: u32, iterations: u64) -> u64 {
    let total = u32::try_from(iterations).unwrap_or(u32::MAX);
    let region_counts: Vec<f64> = (0..split.weights.len())
        .map(|r| f64::from(region_vus(&split.weights, r, vus)))
        .collect();
    let region = usize::try_from(split.region).unwrap_or(usize::MAX);
    let in_region = region_vus(&region_counts, region, total);
    let workers = split.workers.max(1);
    let worker_counts: Vec<f64> = (0..workers)
        .map(|k| {
            f64::from(worker_vus(
                &VuSplit {
                    worker: k,
                    ..split.clone()
                },
                vus,
            ))
        })
        .collect();
    let worker = usize::try_from(split.worker).unwrap_or(usize::MAX);
    u64::from(region_vus(&worker_counts, worker, in_region))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEIGHTS: [f64; 3] = [0.5, 0.3, 0.2];

    fn split(weights: &[f64], region: u32, worker: u32, workers: u32) -> VuSplit {
        VuSplit {
            weights: weights.to_vec(),
            region,
            worker,
            workers,
        }
    }

    /// Every region's VUs of `total`.
    fn regions(weights: &[f64], total: u32) -> Vec<u32> {
        (0..weights.len())
            .map(|r| region_vus(weights, r, total))
            .collect()
    }

    #[test]
    fn vu_counts_split_over_regions_and_workers_add_up_and_stay_even() {
        let regions = [(0, 0.5, 3), (1, 0.3, 2), (2, 0.2, 1)];
        for total in 0..200 {
            let mut sum = 0;
            for (region, weight, n) in regions {
                let parts: Vec<u32> = (0..n)
                    .map(|k| worker_vus(&split(&WEIGHTS, region, k, n), total))
                    .collect();
                let region: u32 = parts.iter().sum();
                let max = parts.iter().max().copied().unwrap_or(0);
                let min = parts.iter().min().copied().unwrap_or(0);
                assert!(max - min <= 1, "total {total}: {parts:?}");
                assert!(f64::from(region) <= f64::from(total) * weight + 1.0);
                sum += region;
            }
            assert_eq!(sum, total);
        }
        assert_eq!(worker_vus(&split(&WEIGHTS, 0, 0, 1), 10), 5);
        assert_eq!(worker_vus(&split(&WEIGHTS, 1, 0, 1), 10), 3);
        assert_eq!(worker_vus(&split(&WEIGHTS, 2, 0, 1), 10), 2);
    }

    #[test]
    fn a_few_vus_go_to_the_largest_regions_first() {
        assert_eq!(regions(&WEIGHTS, 0), [0, 0, 0]);
        assert_eq!(regions(&WEIGHTS, 1), [1, 0, 0]);
        assert_eq!(regions(&WEIGHTS, 2), [1, 1, 0]);
        assert_eq!(regions(&WEIGHTS, 3), [1, 1, 1]);
        assert_eq!(regions(&WEIGHTS, 4), [2, 1, 1]);
        // The order in which regions are listed does not matter, only their weights.
        assert_eq!(regions(&[0.2, 0.3, 0.5], 1), [0, 0, 1]);
        assert_eq!(regions(&[0.2, 0.3, 0.5], 2), [0, 1, 1]);
        // Equal remainders: the larger weight, then the earlier region.
        assert_eq!(regions(&[0.25, 0.5, 0.25], 2), [1, 1, 0]);
        assert_eq!(regions(&[0.25, 0.5, 0.25], 1), [0, 1, 0]);
        assert_eq!(regions(&[1.0 / 3.0; 3], 1), [1, 0, 0]);
        assert_eq!(regions(&[1.0 / 3.0; 3], 2), [1, 1, 0]);
        assert_eq!(regions(&[1.0 / 3.0; 3], 3), [1, 1, 1]);
        // Weights need not be normalised; a zero weight never gets a VU.
        assert_eq!(regions(&[5.0, 3.0, 2.0], 2), [1, 1, 0]);
        assert_eq!(regions(&[0.0, 1.0], 3), [0, 3]);
        // Within a region, VU j is worker j % workers's.
        assert_eq!(worker_vus(&split(&WEIGHTS, 0, 0, 3), 2), 1);
        assert_eq!(worker_vus(&split(&WEIGHTS, 0, 1, 3), 2), 0);
        assert_eq!(worker_vus(&split(&WEIGHTS, 1, 0, 2), 2), 1);
        assert_eq!(worker_vus(&split(&WEIGHTS, 2, 0, 1), 2), 0);
    }

    #[test]
    fn regions_add_up_to_every_total_for_any_weights() {
        let sets: [&[f64]; 7] = [
            &WEIGHTS,
            &[1.0],
            &[0.6, 0.4],
            &[1.0 / 3.0; 3],
            &[0.1, 0.1, 0.1, 0.7],
            &[0.45, 0.45, 0.05, 0.05],
            &[0.01, 0.98, 0.01],
        ];
        for weights in sets {
            let sum: f64 = weights.iter().sum();
            for total in 0..=50 {
                let parts = regions(weights, total);
                assert_eq!(parts.iter().sum::<u32>(), total, "{weights:?} {total}");
                for (part, w) in parts.iter().zip(weights) {
                    // Largest remainder: within one of the exact quota.
                    let exact = f64::from(total) * w / sum;
                    assert!(
                        (f64::from(*part) - exact).abs() < 1.0,
                        "{weights:?} {total}"
                    );
                }
                // The largest weight is never behind a smaller one.
                let first = weights
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
                    .map_or(0, |(i, _)| i);
                assert!(parts.iter().all(|p| *p <= parts[first] + 1));
                if total > 0 {
                    assert!(parts[first] > 0, "{weights:?} {total}: {parts:?}");
                }
            }
        }
    }

    #[test]
    fn a_regions_peak_allows_for_every_count_up_to_the_scenarios_peak() {
        for weights in [&WEIGHTS[..], &[0.45, 0.45, 0.05, 0.05], &[0.01, 0.98, 0.01]] {
            for region in 0..weights.len() {
                for peak in 0..=60 {
                    let most = (0..=peak)
                        .map(|c| region_vus(weights, region, c))
                        .max()
                        .unwrap_or(0);
                    assert_eq!(region_peak_vus(weights, region, peak), most);
                }
            }
        }
        assert_eq!(region_peak_vus(&WEIGHTS, 2, 2), 0);
        assert_eq!(region_peak_vus(&WEIGHTS, 2, 4), 1);
    }

    #[test]
    fn a_split_written_in_the_older_interval_shape_still_reads() {
        let old: VuSplit =
            serde_json::from_str(r#"{ "before": 0.5, "weight": 0.3, "worker": 1, "workers": 2 }"#)
                .expect("old shape");
        assert_eq!(old.weights, [0.5, 0.3, 0.2]);
        assert_eq!((old.region, old.worker, old.workers), (1, 1, 2));
        let new = serde_json::to_value(split(&WEIGHTS, 2, 0, 1)).expect("serialize");
        assert_eq!(
            new,
            serde_json::json!({ "weights": [0.5, 0.3, 0.2], "region": 2, "worker": 0, "workers": 1 })
        );
        assert!(serde_json::from_value::<VuSplit>(new).is_ok());
        assert!(
            serde_json::from_str::<VuSplit>(
                r#"{ "weights": [1.0], "region": 0, "worker": 0, "workers": 1, "x": 1 }"#
            )
            .is_err()
        );
    }

    #[test]
    fn shared_iterations_split_like_vus_and_add_up() {
        for (vus, iterations, workers) in [(10, 100, 3), (2, 10, 5), (7, 3, 2), (1, 1, 4)] {
            let mut sum = 0;
            for r in 0..3u32 {
                for k in 0..workers {
                    let s = split(&WEIGHTS, r, k, workers);
                    let mine = worker_iterations(&s, vus, iterations);
                    if worker_vus(&s, vus) == 0 {
                        assert_eq!(mine, 0, "no VUs, no iterations");
                    }
                    sum += mine;
                }
            }
            assert_eq!(sum, iterations, "{vus} VUs, {iterations} iterations");
        }
        // 10 VUs over 0.5/0.3/0.2 are 5/3/2, so 100 iterations are 50/30/20.
        assert_eq!(worker_iterations(&split(&WEIGHTS, 1, 0, 1), 10, 100), 30);
    }
}
