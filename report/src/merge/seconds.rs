//! The run's seconds, with bounded memory: a second that workers may still add
//! to is OPEN and kept as full [`Stats`] per scope (the run, each region, each
//! request name, each region × request and, only while outputs asked for them
//! with [`Seconds::keep_closed`], each tag set); once it is CLOSED it is reduced
//! to one [`Point`] per scope (counts and percentiles of the merged histogram,
//! never averaged percentiles) and its histograms are dropped. With
//! `keep_closed` on, every tag set's figures of a closing second are handed
//! over as a [`ClosedSecond`] first, queued until [`Seconds::drain_closed`].
//!
//! This module does not decide when a second closes (collect does, from the
//! plan and the workers' progress) and does not decode logs (the merge does).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use sls_load_core::hlog::{self, HIST_LOW_US, HIST_SIGFIG};
use sls_load_core::job::{CheckCounts, Region};

use super::Stats;
use crate::series::{ClosedSecond, Point, Series};

/// Empty figures for one scope of an open second. Its histograms start small
/// and grow to the largest value added (a second's latencies are usually far
/// below the 60 s a run-wide histogram is sized for, and the counts array
/// grows with the range). Percentiles are the same as in a full-range
/// histogram: the lowest value and precision, which set every bucket's
/// bounds, are.
pub fn open_stats() -> Stats {
    Stats {
        duration: growing_histogram(),
        ..Stats::default()
    }
}

/// A histogram with the run's lowest value and precision that grows as values
/// are added; a full-range one should the growing one not be made.
pub fn growing_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(HIST_LOW_US, 2 * HIST_LOW_US, HIST_SIGFIG) {
        Ok(mut h) => {
            h.auto(true);
            h
        }
        Err(_) => hlog::new_histogram(),
    }
}

/// A new empty histogram sized like `h`: growing when `h` grows.
pub fn new_like(h: &Histogram<u64>) -> Histogram<u64> {
    if h.is_auto_resize() {
        growing_histogram()
    } else {
        hlog::new_histogram()
    }
}

/// A tag set: `region` first, then the samples' tags in their order.
pub type Tags = Vec<(String, String)>;

/// One tag set's figures in one open second.
#[derive(Debug, Clone)]
pub struct TagSetSecond {
    /// Latency, phases, failures, dropped and iterations (growing histograms).
    pub stats: Stats,
    /// Check results by check name.
    pub checks: BTreeMap<String, CheckCounts>,
}

impl Default for TagSetSecond {
    fn default() -> Self {
        Self {
            stats: open_stats(),
            checks: BTreeMap::new(),
        }
    }
}

/// One second that workers may still add to: full histograms per scope.
#[derive(Debug, Clone, Default)]
pub struct OpenSecond {
    /// Everything; `None` while only phases, checks or iteration counters arrived.
    pub total: Option<Stats>,
    /// Per region.
    pub regions: BTreeMap<Region, Stats>,
    /// Per request name.
    pub requests: BTreeMap<String, Stats>,
    /// Per region and request name.
    pub region_requests: BTreeMap<(Region, String), Stats>,
    /// Per tag set (only while closed seconds are kept for outputs).
    pub tag_sets: BTreeMap<Tags, TagSetSecond>,
}

/// Reduced seconds per scope: second → point, in time order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Points {
    /// The run.
    pub total: BTreeMap<u64, Point>,
    /// Per region.
    pub regions: BTreeMap<Region, BTreeMap<u64, Point>>,
    /// Per request name.
    pub requests: BTreeMap<String, BTreeMap<u64, Point>>,
    /// Per region and request name.
    pub region_requests: BTreeMap<(Region, String), BTreeMap<u64, Point>>,
}

impl Points {
    /// The series of these points, one point per second `0..=last` in every series
    /// (seconds without requests as zeros): every region of `regions` (planned
    /// ones included when they sent nothing), every request name and every
    /// region × request that has data. `last` is the run's last second with data.
    pub fn series(&self, regions: &[Region], last: Option<u64>) -> Series {
        let points = self;
        let fill = |by: Option<&BTreeMap<u64, Point>>| -> Vec<Point> {
            let Some(last) = last else {
                return Vec::new();
            };
            (0..=last)
                .map(|t| {
                    by.and_then(|b| b.get(&t))
                        .cloned()
                        .unwrap_or_else(|| Point::empty(t))
                })
                .collect()
        };
        let mut series = Series::default();
        let names = regions.iter().chain(points.regions.keys());
        for region in names {
            let filled = fill(points.regions.get(region));
            series.regions.insert(region.to_string(), filled);
        }
        for (request, by) in &points.requests {
            series.requests.insert(request.clone(), fill(Some(by)));
        }
        for ((region, request), by) in &points.region_requests {
            let of_region = series.region_requests.entry(region.to_string());
            of_region
                .or_default()
                .insert(request.clone(), fill(Some(by)));
        }
        series
    }

    /// Adds the reduction of open second `t`.
    fn add(&mut self, t: u64, second: &OpenSecond) {
        if let Some(total) = &second.total {
            self.total.insert(t, Point::of(t, total));
        }
        for (region, s) in &second.regions {
            let points = self.regions.entry(region.clone()).or_default();
            points.insert(t, Point::of(t, s));
        }
        for (request, s) in &second.requests {
            let points = self.requests.entry(request.clone()).or_default();
            points.insert(t, Point::of(t, s));
        }
        for (key, s) in &second.region_requests {
            let points = self.region_requests.entry(key.clone()).or_default();
            points.insert(t, Point::of(t, s));
        }
    }
}

/// The run's seconds: open ones in full, closed ones reduced.
#[derive(Debug, Clone, Default)]
pub struct Seconds {
    open: BTreeMap<u64, OpenSecond>,
    closed: Points,
    closed_seconds: BTreeSet<u64>,
    keep_closed: bool,
    handed: Vec<ClosedSecond>,
    newest: Option<u64>,
}

impl Seconds {
    /// Whether second `t` was closed already.
    pub fn is_closed(&self, t: u64) -> bool {
        self.closed_seconds.contains(&t)
    }

    /// Open second `t`, created when needed; `None` when it was closed already.
    pub fn open(&mut self, t: u64) -> Option<&mut OpenSecond> {
        if self.is_closed(t) {
            return None;
        }
        self.newest = Some(self.newest.map_or(t, |n| n.max(t)));
        Some(self.open.entry(t).or_default())
    }

    /// The open seconds, oldest first.
    pub fn open_seconds(&self) -> impl Iterator<Item = u64> + '_ {
        self.open.keys().copied()
    }

    /// The newest second any interval was added to.
    pub fn newest(&self) -> Option<u64> {
        self.newest
    }

    /// Whether tag sets are kept for outputs.
    pub fn keeps_closed(&self) -> bool {
        self.keep_closed
    }

    /// Turns keeping tag sets for outputs on or off; off drops what is kept.
    pub fn keep_closed(&mut self, on: bool) {
        self.keep_closed = on;
        if !on {
            self.handed.clear();
            for second in self.open.values_mut() {
                second.tag_sets.clear();
            }
        }
    }

    /// Closes every open second `closable` accepts, oldest first. `start_at` is
    /// the run's start (second 0).
    pub fn close(&mut self, start_at: SystemTime, mut closable: impl FnMut(u64) -> bool) {
        let closing: Vec<u64> = self.open.keys().copied().filter(|t| closable(*t)).collect();
        for t in closing {
            let Some(second) = self.open.remove(&t) else {
                continue;
            };
            self.closed.add(t, &second);
            self.closed_seconds.insert(t);
            if self.keep_closed {
                let at = start_at + Duration::from_secs(t);
                for (tags, s) in second.tag_sets {
                    self.handed.push(ClosedSecond {
                        at,
                        t,
                        tags,
                        stats: s.stats,
                        checks: s.checks,
                    });
                }
            }
        }
    }

    /// Closes every open second.
    pub fn close_all(&mut self, start_at: SystemTime) {
        self.close(start_at, |_| true);
    }

    /// The tag sets' closed seconds handed over and not drained yet, oldest first.
    pub fn handed(&self) -> &[ClosedSecond] {
        &self.handed
    }

    /// The tag sets' closed seconds handed over since the last call, oldest first.
    pub fn drain_closed(&mut self) -> Vec<ClosedSecond> {
        std::mem::take(&mut self.handed)
    }

    /// The closed seconds' points.
    pub fn closed(&self) -> &Points {
        &self.closed
    }

    /// Every second's points: the closed ones, and the open ones reduced as
    /// they are now (for a summary of a run still going on).
    pub fn points(&self) -> Points {
        let mut points = self.closed.clone();
        for (t, second) in &self.open {
            points.add(*t, second);
        }
        points
    }

    /// The open second `t`, if it is open.
    pub fn get_open(&self, t: u64) -> Option<&OpenSecond> {
        self.open.get(&t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_gets_one_point_per_second_seconds_without_requests_as_zeros() {
        let us = Region::us_east_1();
        let eu = Region::new("eu-west-1").unwrap();
        let idle = Region::new("ap-southeast-1").unwrap();
        let mut points = Points::default();
        let one = |t| Point::of(t, &Stats::recording(&[1_000], 0));
        points.total.extend([(0, one(0)), (3, one(3))]);
        points.regions.insert(us.clone(), [(0, one(0))].into());
        points.regions.insert(eu.clone(), [(3, one(3))].into());
        points
            .requests
            .insert("home".into(), [(0, one(0)), (3, one(3))].into());
        points
            .region_requests
            .insert((eu.clone(), "home".into()), [(3, one(3))].into());
        let series = points.series(&[us, eu, idle], Some(3));
        let shape = |v: &[Point]| v.iter().map(|p| (p.t, p.requests)).collect::<Vec<_>>();
        assert_eq!(
            shape(&series.regions["us-east-1"]),
            [(0, 1), (1, 0), (2, 0), (3, 0)]
        );
        assert_eq!(
            shape(&series.regions["eu-west-1"]),
            [(0, 0), (1, 0), (2, 0), (3, 1)]
        );
        assert_eq!(
            shape(&series.regions["ap-southeast-1"]),
            [(0, 0), (1, 0), (2, 0), (3, 0)]
        );
        assert_eq!(
            shape(&series.requests["home"]),
            [(0, 1), (1, 0), (2, 0), (3, 1)]
        );
        let eu_home = &series.region_requests["eu-west-1"]["home"];
        assert_eq!(shape(eu_home), [(0, 0), (1, 0), (2, 0), (3, 1)]);
        assert!(!series.region_requests.contains_key("us-east-1"));
        // A run without data has empty series.
        assert!(
            Points::default()
                .series(&[Region::us_east_1()], None)
                .regions["us-east-1"]
                .is_empty()
        );
    }
}
