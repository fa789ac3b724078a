//! What each drill event did to every client region: the summary's `drill`
//! section (docs/FORMAT.md), built from the merged per-second feed
//! ([`ClosedSecond`], gathered in a [`Feed`]).
//!
//! For each event × client region: error rate and p50/p95/p99 in the baseline
//! window (the `baseline` before the event), during it (to its `until`, or to
//! recovery when it has none) and after it (as long as the baseline), exact, by
//! adding histograms, never averaging percentiles; the band (error rate ≤
//! baseline + `errors_pp` points and p95 ≤ `p95_factor` × baseline p95); time to
//! detect (the first second from the event outside the band, looked for until
//! the next event starts: what follows it is that event's); time to recover
//! (from the event to the start of the first `stable_for` window back inside the
//! band, zero when the region never left it, none when it never came back);
//! requests failed during the event; the `served_by` shares before, during and
//! after. A second without requests counts as inside the band (no evidence).
//!
//! It does not run events (`events` does), render (`drill::render` does) or
//! judge thresholds (`drill::thresholds` does).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
/// The tag of the client region (`ClosedSecond::tags` starts with it).
const KEY_REGION: &str = "region";

/// The tag of the backend that answered (`served_by` in the scenario; the tag
/// key is `sls_load_core::tag::KEY_SERVED_BY` once the workers record it).
const KEY_SERVED_BY: &str = "served_by";

use crate::merge::Stats;
use crate::series::ClosedSecond;
use sls_load_plan::drill::{DrillPlan, DrillSettings, EventSpec};

/// The per-second figures a drill analysis needs, per client region: merged
/// latency and failures, and requests per backend (`served_by`).
#[derive(Debug, Clone, Default)]
pub struct Feed {
    /// Region → second → merged figures.
    seconds: BTreeMap<String, BTreeMap<u64, Stats>>,
    /// Region → second → backend → requests.
    served: BTreeMap<String, BTreeMap<u64, BTreeMap<String, u64>>>,
}

impl Feed {
    /// Adds closed seconds (every tag set's figures) to the feed.
    pub fn add(&mut self, closed: &[ClosedSecond]) {
        for c in closed {
            let tag = |key: &str| c.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v);
            let Some(region) = tag(KEY_REGION) else {
                continue;
            };
            let stats = self
                .seconds
                .entry(region.clone())
                .or_default()
                .entry(c.t)
                .or_default();
            add(stats, &c.stats);
            if let Some(backend) = tag(KEY_SERVED_BY) {
                *self
                    .served
                    .entry(region.clone())
                    .or_default()
                    .entry(c.t)
                    .or_default()
                    .entry(backend.clone())
                    .or_default() += c.stats.requests();
            }
        }
    }

    /// One region's figures merged over the seconds `from..to`.
    fn window(&self, region: &str, from: u64, to: u64) -> Stats {
        let mut out = Stats::default();
        if let Some(seconds) = self.seconds.get(region) {
            for s in seconds.range(from..to).map(|(_, s)| s) {
                add(&mut out, s);
            }
        }
        out
    }

    /// One region's requests per backend over `from..to`, as fractions.
    fn shares(&self, region: &str, from: u64, to: u64) -> BTreeMap<String, f64> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        if let Some(seconds) = self.served.get(region) {
            for backends in seconds.range(from..to).map(|(_, b)| b) {
                for (b, n) in backends {
                    *counts.entry(b.clone()).or_default() += n;
                }
            }
        }
        let total: u64 = counts.values().sum();
        counts
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(b, n)| (b, round4(n as f64 / total as f64)))
            .collect()
    }
}

/// Adds `b`'s latency histogram and failure counts into `a`.
fn add(a: &mut Stats, b: &Stats) {
    // Both come from `hlog::new_histogram`, with the same range: adding cannot fail.
    let _ = a.duration.add(&b.duration);
    a.failed += b.failed;
    a.errored += b.errored;
}

/// The summary's `drill` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Drill {
    /// Baseline window length, seconds.
    pub baseline_s: f64,
    /// The band's allowed rise of the error rate, percentage points.
    pub errors_pp: f64,
    /// The band's allowed factor on p95.
    pub p95_factor: f64,
    /// The stable window that ends a recovery, seconds.
    pub stable_for_s: f64,
    /// Per event, in scenario order.
    pub events: Vec<EventAnalysis>,
}

/// What one event did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventAnalysis {
    /// The event's name.
    pub event: String,
    /// Its planned instant, seconds after the run's start.
    pub at_s: f64,
    /// Its planned end (`until`), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_s: Option<f64>,
    /// Per client region.
    pub regions: BTreeMap<String, RegionAnalysis>,
}

/// What one event did to one client region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RegionAnalysis {
    /// Before the event.
    pub baseline: Window,
    /// From the event to its end (or to recovery).
    pub during: Window,
    /// After it, as long as the baseline (within the run).
    pub after: Window,
    /// Highest error rate (fraction) inside the band.
    pub band_error_rate: f64,
    /// Highest p95 inside the band, milliseconds.
    pub band_p95_ms: f64,
    /// Seconds from the event to the first second outside the band; absent when
    /// none was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_detect_s: Option<f64>,
    /// Seconds from the event to the start of the first stable window back in
    /// the band (0 when it never left); absent when it never came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_recover_s: Option<f64>,
    /// Requests that failed during the event.
    pub failed_during: u64,
    /// Share of requests per backend (`served_by`), before, during and after.
    #[serde(default, skip_serializing_if = "Shares::is_empty")]
    pub served_by: Shares,
}

/// Requests per backend as fractions (0–1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Shares {
    /// In the baseline window.
    pub before: BTreeMap<String, f64>,
    /// During the event.
    pub during: BTreeMap<String, f64>,
    /// After it.
    pub after: BTreeMap<String, f64>,
}

impl Shares {
    fn is_empty(&self) -> bool {
        self.before.is_empty() && self.during.is_empty() && self.after.is_empty()
    }
}

/// Figures of one window of seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Window {
    /// First second, after the run's start.
    pub from_s: u64,
    /// Second after the last.
    pub to_s: u64,
    /// Requests, failed ones included.
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// `errors / requests` (0 without requests).
    pub error_rate: f64,
    /// Merged latency percentiles, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

impl Window {
    fn of(stats: &Stats, from: u64, to: u64) -> Self {
        let q = |p: f64| {
            if stats.duration.is_empty() {
                0.0
            } else {
                stats.duration.value_at_quantile(p) as f64 / 1000.0
            }
        };
        Self {
            from_s: from,
            to_s: to,
            requests: stats.requests(),
            errors: stats.errors(),
            error_rate: rate(stats),
            p50_ms: q(0.5),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
        }
    }
}

fn rate(stats: &Stats) -> f64 {
    let n = stats.requests();
    if n == 0 {
        0.0
    } else {
        stats.errors() as f64 / n as f64
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// The band of one region around its baseline.
#[derive(Debug, Clone, Copy)]
struct Band {
    max_rate: f64,
    max_p95_us: u64,
}

impl Band {
    /// Whether one second's figures are inside (a second without requests is).
    fn holds(&self, s: Option<&Stats>) -> bool {
        let Some(s) = s.filter(|s| s.requests() > 0) else {
            return true;
        };
        let p95 = if s.duration.is_empty() {
            0
        } else {
            s.duration.value_at_quantile(0.95)
        };
        rate(s) <= self.max_rate + 1e-12 && p95 <= self.max_p95_us
    }
}

/// The drill section for `plan`'s events over a run of `run`, from `feed`.
pub fn analyse(plan: &DrillPlan, run: Duration, feed: &Feed) -> Drill {
    let settings = plan.settings;
    let end = run.as_secs_f64().ceil() as u64;
    let regions: Vec<&String> = feed.seconds.keys().collect();
    Drill {
        baseline_s: settings.baseline.as_secs_f64(),
        errors_pp: settings.errors_pp,
        p95_factor: settings.p95_factor,
        stable_for_s: settings.stable_for.as_secs_f64(),
        events: plan
            .events
            .iter()
            .map(|e| EventAnalysis {
                event: e.name.clone(),
                at_s: e.at.as_secs_f64(),
                until_s: e.until.map(|u| u.as_secs_f64()),
                regions: regions
                    .iter()
                    .map(|r| {
                        let scope = Scope {
                            horizon: next_event(&plan.events, e).min(end),
                            end,
                        };
                        ((*r).clone(), region(feed, r, e, &settings, scope))
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The second the first event after `e` starts in (`u64::MAX` when none).
fn next_event(events: &[EventSpec], e: &EventSpec) -> u64 {
    events
        .iter()
        .filter(|o| o.at > e.at)
        .map(|o| o.at.as_secs())
        .min()
        .unwrap_or(u64::MAX)
}

/// Where one event's effect is looked for.
#[derive(Debug, Clone, Copy)]
struct Scope {
    /// Detection stops here: the next event's second, or the run's end.
    horizon: u64,
    /// The run's end, in seconds.
    end: u64,
}

/// What event `e` did to `region`.
fn region(
    feed: &Feed,
    region: &str,
    e: &EventSpec,
    settings: &DrillSettings,
    scope: Scope,
) -> RegionAnalysis {
    let Scope { horizon, end } = scope;
    let at = e.at.as_secs();
    let base_from = at.saturating_sub(settings.baseline.as_secs().max(1));
    let base = feed.window(region, base_from, at);
    let base_p95 = if base.duration.is_empty() {
        0
    } else {
        base.duration.value_at_quantile(0.95)
    };
    let band = Band {
        max_rate: rate(&base) + settings.errors_pp / 100.0,
        max_p95_us: (base_p95 as f64 * settings.p95_factor).ceil() as u64,
    };
    let seconds = feed.seconds.get(region);
    let inside = |s: u64| band.holds(seconds.and_then(|m| m.get(&s)));
    let detected = (at..horizon.max(at + 1)).find(|s| !inside(*s));
    let stable = settings.stable_for.as_secs().max(1);
    let recovered = match detected {
        None => Some(at),
        Some(first) => (first..end)
            .take_while(|w| w + stable <= end)
            .find(|w| (*w..w + stable).all(&inside)),
    };
    let since = |s: u64| (s as f64 - e.at.as_secs_f64()).max(0.0);
    let during_to = match e.until {
        Some(u) => u.as_secs_f64().ceil() as u64,
        None => recovered.unwrap_or(end).max(at + 1),
    }
    .min(end);
    let after_to = (during_to + settings.baseline.as_secs().max(1)).min(end);
    let during = feed.window(region, at, during_to);
    RegionAnalysis {
        baseline: Window::of(&base, base_from, at),
        during: Window::of(&during, at, during_to),
        after: Window::of(
            &feed.window(region, during_to, after_to),
            during_to,
            after_to,
        ),
        band_error_rate: round4(band.max_rate),
        band_p95_ms: band.max_p95_us as f64 / 1000.0,
        time_to_detect_s: detected.map(since),
        time_to_recover_s: recovered.map(since),
        failed_during: during.errors(),
        served_by: Shares {
            before: feed.shares(region, base_from, at),
            during: feed.shares(region, at, during_to),
            after: feed.shares(region, during_to, after_to),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sls_load_plan::drill::EventAction;
    use std::time::SystemTime;

    /// A closed second of `region` served by `backend`: `ok` requests of `ms`
    /// milliseconds and `failed` failed ones.
    fn second(t: u64, region: &str, backend: &str, ok: u64, ms: u64, failed: u64) -> ClosedSecond {
        let mut stats = Stats::default();
        for _ in 0..ok + failed {
            stats.duration.record(ms * 1000).unwrap();
        }
        stats.failed = failed;
        ClosedSecond {
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(t),
            t,
            tags: vec![
                ("region".into(), region.into()),
                ("name".into(), "home".into()),
                ("served_by".into(), backend.into()),
            ],
            stats,
            checks: BTreeMap::new(),
        }
    }

    fn plan(at: u64, until: Option<u64>) -> DrillPlan {
        DrillPlan {
            events: vec![EventSpec {
                name: "eu-down".into(),
                at: Duration::from_secs(at),
                until: until.map(Duration::from_secs),
                action: EventAction::Http {
                    method: "POST".into(),
                    url: "http://127.0.0.1:9/regions/eu-west-1/down".into(),
                    headers: BTreeMap::new(),
                    body: None,
                },
            }],
            settings: DrillSettings::default(),
        }
    }

    /// 40 s of eu-west-1 (100 req/s at 2 ms) and us-east-1 (100 req/s at 1 ms);
    /// eu-west-1 fails half its requests in seconds 20–23, then is served by
    /// us-east-1 at 70 ms from 24 to 29, and by its own backend again from 30.
    fn failover() -> Feed {
        let mut closed = Vec::new();
        for t in 0..40 {
            closed.push(second(t, "us-east-1", "us-east-1", 100, 1, 0));
            closed.push(match t {
                20..=23 => second(t, "eu-west-1", "eu-west-1", 50, 2, 50),
                24..=29 => second(t, "eu-west-1", "us-east-1", 100, 2, 0),
                _ => second(t, "eu-west-1", "eu-west-1", 100, 2, 0),
            });
        }
        let mut feed = Feed::default();
        feed.add(&closed);
        feed
    }

    #[test]
    fn errors_in_seconds_20_to_23_are_detected_at_once_and_recovered_after_4s() {
        let drill = analyse(&plan(20, None), Duration::from_secs(40), &failover());
        let eu = &drill.events[0].regions["eu-west-1"];
        assert_eq!(eu.time_to_detect_s, Some(0.0));
        assert_eq!(eu.time_to_recover_s, Some(4.0));
        assert_eq!(eu.failed_during, 200);
        assert_eq!((eu.during.from_s, eu.during.to_s), (20, 24));
        assert_eq!(eu.during.requests, 400);
        assert_eq!(eu.during.error_rate, 0.5);
        assert_eq!(eu.baseline.error_rate, 0.0);
        assert_eq!((eu.baseline.from_s, eu.baseline.to_s), (10, 20));
        assert_eq!(eu.baseline.requests, 1000);
        assert!(
            (eu.baseline.p95_ms - 2.0).abs() < 0.01,
            "{}",
            eu.baseline.p95_ms
        );
        assert_eq!(eu.band_error_rate, 0.01);
        assert_eq!(
            eu.served_by.before,
            BTreeMap::from([("eu-west-1".into(), 1.0)])
        );
        assert_eq!(
            eu.served_by.during,
            BTreeMap::from([("eu-west-1".into(), 1.0)])
        );
        // After: 24..34, six seconds on us-east-1, four back home.
        assert_eq!(
            eu.served_by.after,
            BTreeMap::from([("eu-west-1".into(), 0.4), ("us-east-1".into(), 0.6)])
        );
    }

    #[test]
    fn a_region_the_event_did_not_touch_stays_in_its_band() {
        let drill = analyse(&plan(20, None), Duration::from_secs(40), &failover());
        let us = &drill.events[0].regions["us-east-1"];
        assert_eq!(us.time_to_detect_s, None);
        assert_eq!(us.time_to_recover_s, Some(0.0));
        assert_eq!(us.failed_during, 0);
    }

    #[test]
    fn an_event_with_an_end_is_judged_during_it_and_after_it() {
        let drill = analyse(&plan(20, Some(30)), Duration::from_secs(40), &failover());
        let eu = &drill.events[0].regions["eu-west-1"];
        assert_eq!((eu.during.from_s, eu.during.to_s), (20, 30));
        assert_eq!((eu.after.from_s, eu.after.to_s), (30, 40));
        assert_eq!(eu.after.error_rate, 0.0);
        assert_eq!(
            eu.served_by.during,
            BTreeMap::from([("eu-west-1".into(), 0.4), ("us-east-1".into(), 0.6)])
        );
    }

    #[test]
    fn percentiles_come_from_added_histograms_not_averages() {
        let mut feed = Feed::default();
        // Nine seconds of 100 × 1 ms and one of 100 × 100 ms: the merged p95 is
        // 100 ms (an average of per-second p95s would be ~10.9 ms).
        let mut closed: Vec<ClosedSecond> = (0..9)
            .map(|t| second(t, "eu-west-1", "eu-west-1", 100, 1, 0))
            .collect();
        closed.push(second(9, "eu-west-1", "eu-west-1", 100, 100, 0));
        feed.add(&closed);
        let drill = analyse(&plan(10, None), Duration::from_secs(20), &feed);
        let eu = &drill.events[0].regions["eu-west-1"];
        assert!(
            (eu.baseline.p95_ms - 100.0).abs() < 0.5,
            "{}",
            eu.baseline.p95_ms
        );
        assert!((eu.baseline.p50_ms - 1.0).abs() < 0.01);
    }

    #[test]
    fn a_region_that_never_comes_back_has_no_time_to_recover() {
        let mut feed = Feed::default();
        let closed: Vec<ClosedSecond> = (0..30)
            .map(|t| {
                let failed = if t >= 20 { 100 } else { 0 };
                second(t, "eu-west-1", "eu-west-1", 100 - failed, 2, failed)
            })
            .collect();
        feed.add(&closed);
        let drill = analyse(&plan(20, None), Duration::from_secs(30), &feed);
        let eu = &drill.events[0].regions["eu-west-1"];
        assert_eq!(eu.time_to_detect_s, Some(0.0));
        assert_eq!(eu.time_to_recover_s, None);
        assert_eq!((eu.during.from_s, eu.during.to_s), (20, 30));
        assert_eq!(eu.failed_during, 1000);
    }

    #[test]
    fn trouble_after_the_next_event_is_that_events_not_this_ones() {
        let mut feed = Feed::default();
        let closed: Vec<ClosedSecond> = (0..40)
            .map(|t| {
                let failed = if t == 33 { 50 } else { 0 };
                second(t, "us-east-1", "us-east-1", 100 - failed, 1, failed)
            })
            .collect();
        feed.add(&closed);
        let mut plan = plan(20, None);
        let mut up = plan.events[0].clone();
        up.name = "eu-up".into();
        up.at = Duration::from_secs(30);
        plan.events.push(up);
        let drill = analyse(&plan, Duration::from_secs(40), &feed);
        let down = &drill.events[0].regions["us-east-1"];
        assert_eq!(down.time_to_detect_s, None);
        assert_eq!(down.time_to_recover_s, Some(0.0));
        let up = &drill.events[1].regions["us-east-1"];
        assert_eq!(up.time_to_detect_s, Some(3.0));
        assert_eq!(up.time_to_recover_s, Some(4.0));
    }

    #[test]
    fn slower_answers_past_the_p95_factor_leave_the_band() {
        let mut feed = Feed::default();
        let closed: Vec<ClosedSecond> = (0..40)
            .map(|t| {
                let ms = if (21..=22).contains(&t) { 10 } else { 2 };
                second(t, "eu-west-1", "eu-west-1", 100, ms, 0)
            })
            .collect();
        feed.add(&closed);
        let drill = analyse(&plan(20, None), Duration::from_secs(40), &feed);
        let eu = &drill.events[0].regions["eu-west-1"];
        assert_eq!(eu.time_to_detect_s, Some(1.0));
        assert_eq!(eu.time_to_recover_s, Some(3.0));
    }
}
