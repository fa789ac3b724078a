//! What a k6 script's run adds to the summary: its custom metrics (and
//! `group_duration`) as k6 reports them, its checks by group, and the
//! JavaScript exceptions that ended iterations (from the manifests).
//!
//! This module owns those figures' shape and arithmetic; the merge holds the
//! histograms and counts (`merge::custom`), and k6's own JSON shape of them is
//! `export::k6_summary`'s.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use sls_load_plan::threshold::CustomKind;

use super::model::{CheckFigures, MetricFigures};
use crate::collect::Collected;
use crate::merge::custom::CustomStats;

impl MetricFigures {
    /// The figures of `s` over a run of `secs` seconds.
    pub fn of(s: &CustomStats, secs: f64) -> MetricFigures {
        let mut f = MetricFigures {
            kind: s.kind.name().to_owned(),
            contains: if s.time { "time" } else { "default" }.to_owned(),
            count: None,
            fails: None,
            rate: None,
            value: None,
            values: BTreeMap::new(),
        };
        match s.kind {
            CustomKind::Counter => {
                f.count = Some(s.count);
                f.rate = (secs > 0.0).then(|| round3(s.count as f64 / secs));
            }
            CustomKind::Rate => {
                f.count = Some(s.count);
                f.fails = Some(s.fails);
                f.rate = s.rate().map(round3);
            }
            CustomKind::Gauge => {
                f.value = s.gauge_value();
                if let Some(h) = &s.values {
                    f.values = aggregates(h, &["min", "max"]);
                }
            }
            CustomKind::Trend => {
                if let Some(h) = &s.values {
                    let all = ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"];
                    f.values = aggregates(h, &all);
                }
            }
        }
        f
    }
}

/// The named aggregates of `h` (values in thousandths), in units.
fn aggregates(h: &Histogram<u64>, names: &[&str]) -> BTreeMap<String, f64> {
    if h.is_empty() {
        return BTreeMap::new();
    }
    let unit = |v: u64| round3(v as f64 / 1000.0);
    names
        .iter()
        .filter_map(|name| {
            let v = match *name {
                "avg" => round3(h.mean() / 1000.0),
                "min" => unit(h.min()),
                "max" => unit(h.max()),
                "med" => unit(h.value_at_quantile(0.5)),
                "p(90)" => unit(h.value_at_quantile(0.9)),
                "p(95)" => unit(h.value_at_quantile(0.95)),
                "p(99)" => unit(h.value_at_quantile(0.99)),
                _ => return None,
            };
            Some(((*name).to_owned(), v))
        })
        .collect()
}

/// Every custom metric of the run by name.
pub fn metrics(collected: &Collected, secs: f64) -> BTreeMap<String, MetricFigures> {
    collected
        .merged
        .custom
        .iter()
        .map(|(name, s)| (name.clone(), MetricFigures::of(s, secs)))
        .collect()
}

/// Checks by group path (`::outer::inner`), each with its pass/fail counts.
pub fn group_checks(collected: &Collected) -> BTreeMap<String, BTreeMap<String, CheckFigures>> {
    let mut out: BTreeMap<String, BTreeMap<String, CheckFigures>> = BTreeMap::new();
    for ((group, check), c) in &collected.merged.group_checks {
        let all = c.passes + c.fails;
        let rate = if all == 0 {
            0.0
        } else {
            round3(c.passes as f64 / all as f64)
        };
        out.entry(group.clone()).or_default().insert(
            check.clone(),
            CheckFigures {
                passes: c.passes,
                fails: c.fails,
                rate,
            },
        );
    }
    out
}

/// The exceptions that ended iterations, by message, summed over the workers.
pub fn exceptions(collected: &Collected) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for m in collected.manifests.values() {
        for (message, n) in &m.exceptions {
            let e = out.entry(message.clone()).or_default();
            *e = e.saturating_add(*n);
        }
    }
    out
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
