//! Properties of the merge: merging workers' interval logs in any order and
//! any grouping into objects gives exactly the histograms of all their samples,
//! in total, per region, per request and per second; and every percentile of a
//! three-worker merge equals that of one histogram of the same samples.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sls_load_core::job::WorkerId;

use super::tests::{log_bytes, span};
use super::*;
use crate::series::Point;

/// One request as a worker recorded it.
#[derive(Debug, Clone)]
struct Sample {
    worker: usize,
    second: u64,
    request: &'static str,
    us: u64,
    answered: bool,
}

const REQUESTS: [&str; 2] = ["home", "api"];

fn workers() -> Vec<WorkerKey> {
    vec![
        (Region::us_east_1(), WorkerId::numbered(0)),
        (Region::us_east_1(), WorkerId::numbered(1)),
        (Region::new("eu-west-1").unwrap(), WorkerId::numbered(0)),
    ]
}

fn start() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// Samples of every worker over `seconds` seconds: latencies spread over four
/// orders of magnitude, one in twenty without an answer.
fn samples(rng: &mut StdRng, seconds: u64) -> Vec<Sample> {
    let mut out = Vec::new();
    for worker in 0..workers().len() {
        for second in 0..seconds {
            for _ in 0..rng.random_range(0..60) {
                let exponent: f64 = rng.random_range(2.0..6.5);
                out.push(Sample {
                    worker,
                    second,
                    request: REQUESTS[rng.random_range(0..REQUESTS.len())],
                    us: 10f64.powf(exponent) as u64,
                    answered: rng.random_range(0..20) != 0,
                });
            }
        }
    }
    out
}

/// A worker's intervals: one per second, request and metric, `(tag, second, values)`.
fn intervals(samples: &[Sample], worker: usize) -> Vec<(String, u64, Vec<u64>)> {
    let mut by: BTreeMap<(u64, &str, bool), Vec<u64>> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.worker == worker) {
        by.entry((s.second, s.request, s.answered))
            .or_default()
            .push(s.us);
    }
    by.into_iter()
        .map(|((second, request, answered), values)| {
            let metric = if answered { TAG_DURATION } else { TAG_ERRORED };
            (format!("{metric}:{request}"), second, values)
        })
        .collect()
}

/// The workers' intervals shuffled, cut into objects of random sizes, and the
/// objects of all workers shuffled together.
fn objects(rng: &mut StdRng, samples: &[Sample]) -> Vec<(WorkerKey, Vec<u8>)> {
    let workers = workers();
    let mut out = Vec::new();
    for (i, w) in workers.iter().enumerate() {
        let mut all = intervals(samples, i);
        all.shuffle(rng);
        while !all.is_empty() {
            let n = rng.random_range(1..=all.len());
            let chunk: Vec<_> = all.drain(..n).collect();
            out.push((w.clone(), log_bytes(start(), &chunk)));
        }
    }
    out.shuffle(rng);
    out
}

fn merged(objects: &[(WorkerKey, Vec<u8>)], seconds: u64) -> Merged {
    let mut m = Merged::default();
    for (i, (w, bytes)) in objects.iter().enumerate() {
        let key = ObjectKey::new(format!("o{i}")).unwrap();
        m.add_object(w, &key, bytes, span(start()));
    }
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(m.seconds.open_seconds().count() as u64, seconds);
    m
}

/// The figures of `samples` recorded directly into one histogram.
fn direct<'a>(samples: impl IntoIterator<Item = &'a Sample>) -> Stats {
    let mut s = Stats::default();
    for sample in samples {
        if sample.answered {
            s.duration.record(sample.us).unwrap();
        } else {
            s.errored += 1;
        }
    }
    s
}

fn same(a: &Stats, b: &Stats) -> bool {
    a.duration == b.duration && a.errored == b.errored && a.failed == b.failed
}

#[test]
fn merging_in_any_order_and_grouping_gives_exactly_the_histogram_of_all_samples() {
    const SECONDS: u64 = 4;
    for seed in 0..40 {
        let mut rng = StdRng::seed_from_u64(seed);
        let samples = samples(&mut rng, SECONDS);
        let grouped = objects(&mut rng, &samples);
        let mut m = merged(&grouped, SECONDS);
        let workers = workers();
        assert!(same(&m.total, &direct(&samples)), "seed {seed}: total");
        for region in [Region::us_east_1(), Region::new("eu-west-1").unwrap()] {
            let of_region = samples.iter().filter(|s| workers[s.worker].0 == region);
            assert!(
                same(&m.regions[&region], &direct(of_region)),
                "seed {seed}: {region}"
            );
        }
        for request in REQUESTS {
            let of_request = samples.iter().filter(|s| s.request == request);
            assert!(
                same(&m.requests[request], &direct(of_request)),
                "seed {seed}: {request}"
            );
        }
        m.seconds.close_all(start());
        let closed = m.seconds.closed();
        for t in 0..SECONDS {
            let of_second: Vec<_> = samples.iter().filter(|s| s.second == t).collect();
            let want = Point::of(t, &direct(of_second.iter().copied()));
            assert_eq!(closed.total[&t], want, "seed {seed}: second {t}");
            for request in REQUESTS {
                let these = of_second.iter().copied().filter(|s| s.request == request);
                let want = Point::of(t, &direct(these));
                assert_eq!(
                    closed.requests[request][&t], want,
                    "seed {seed}: {request} at {t}"
                );
            }
            let region = &workers[0].0;
            let these = of_second
                .iter()
                .copied()
                .filter(|s| workers[s.worker].0 == *region);
            assert_eq!(closed.regions[region][&t], Point::of(t, &direct(these)));
        }
        // The same objects in another order and grouping: the same merge.
        let again = merged(&objects(&mut rng, &samples), SECONDS);
        assert!(same(&again.total, &m.total), "seed {seed}: regrouped");
    }
}

/// Every percentile 1..=100 and 99.9 of `got` and `want`, in µs.
fn assert_every_percentile(got: &Histogram<u64>, want: &Histogram<u64>, scope: &str) {
    let quantiles = (1..=100).map(|p| f64::from(p) / 100.0).chain([0.999]);
    for q in quantiles {
        assert_eq!(
            got.value_at_quantile(q),
            want.value_at_quantile(q),
            "{scope}: p{}",
            q * 100.0
        );
    }
    assert_eq!(
        (got.min(), got.max(), got.len()),
        (want.min(), want.max(), want.len())
    );
}

#[test]
fn every_percentile_of_a_three_worker_merge_equals_one_histogram_of_the_same_samples() {
    const SECONDS: u64 = 3;
    let mut rng = StdRng::seed_from_u64(12);
    let samples = samples(&mut rng, SECONDS);
    let mut m = merged(&objects(&mut rng, &samples), SECONDS);
    let workers = workers();
    assert_every_percentile(&m.total.duration, &direct(&samples).duration, "total");
    for region in [Region::us_east_1(), Region::new("eu-west-1").unwrap()] {
        let of_region = samples.iter().filter(|s| workers[s.worker].0 == region);
        let want = direct(of_region).duration;
        assert_every_percentile(&m.regions[&region].duration, &want, region.as_str());
    }
    for t in 0..SECONDS {
        let of_second = samples.iter().filter(|s| s.second == t);
        let want = direct(of_second);
        let open = m
            .seconds
            .get_open(t)
            .and_then(|s| s.total.as_ref())
            .unwrap();
        assert_every_percentile(&open.duration, &want.duration, &format!("second {t}"));
        let region = &workers[2].0;
        let these = samples
            .iter()
            .filter(|s| s.second == t && workers[s.worker].0 == *region);
        let open_region = &m.seconds.get_open(t).unwrap().regions[region];
        assert_every_percentile(
            &open_region.duration,
            &direct(these).duration,
            "region second",
        );
        // Closed, the second keeps the same percentiles as its point.
        m.seconds.close(start(), |s| s == t);
        assert_eq!(m.seconds.closed().total[&t], Point::of(t, &want));
    }
}
