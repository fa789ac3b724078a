//! Custom metrics of k6 scripts (`Counter`, `Gauge`, `Rate`, `Trend`, and
//! `group_duration`) per one-second interval and tag set, as interval-log
//! lines the orchestrator merges exactly.
//!
//! Encoding (docs/FORMAT.md "Custom metrics"): every line's tag is
//! `v2;metric=NAME;metric_type=KIND[;contains=time];tags...`.
//! - counter: the histogram's **count** is the whole units added in that second
//!   (values all 1); fractions are carried to the next second of the same tag
//!   set, so a worker's total is exact to under one unit.
//! - rate: two counters, `passed=true` (non-zero values) and `passed=false`.
//! - trend and gauge: the values themselves in thousandths (a time trend's
//!   milliseconds become microseconds, like `http_req_duration`), 1 to 2^36
//!   (68,719,476.736 units, larger values saturate, negative ones count as 0),
//!   3 significant digits; a gauge's line holds every value set in that second.
//!
//! This module owns that accumulation and encoding; the recorder holds it
//! under its lock and calls [`Custom::roll`] when an interval closes.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use hdrhistogram::Histogram;
use sls_load_core::hlog::{self, IntervalWriter};
use sls_load_core::tag::{KEY_PASSED, TagSet};

use super::RecorderError;

/// The tag key naming a custom metric's kind.
pub const KEY_METRIC_TYPE: &str = "metric_type";
/// The tag key marking a time metric (`contains=time`).
pub const KEY_CONTAINS: &str = "contains";

/// Most distinct custom tag sets one worker records; further ones lose their
/// tags (recorded with `tags=other`).
pub const MAX_CUSTOM_SETS: usize = 1_000;

/// Highest value (in thousandths) a trend or gauge histogram holds.
pub const CUSTOM_HIGH: u64 = 1 << 36;

/// A metric's kind, as written in `metric_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Adds up values.
    Counter,
    /// Keeps values set.
    Gauge,
    /// Share of non-zero values.
    Rate,
    /// Distribution of values.
    Trend,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Rate => "rate",
            Kind::Trend => "trend",
        }
    }
}

/// One value added to a custom metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricValue<'a> {
    /// The metric's name.
    pub name: &'a str,
    /// Its kind.
    pub kind: Kind,
    /// Whether it holds times in milliseconds.
    pub is_time: bool,
    /// The value.
    pub value: f64,
    /// Its tags, in the order they are written.
    pub tags: &'a [(String, String)],
}

/// A tag set: name, kind, time flag, tags.
type Key = (String, Kind, bool, Vec<(String, String)>);

enum Acc {
    /// Whole units of this second.
    Counter(u64),
    /// (non-zero, zero) values.
    Rate(u64, u64),
    /// Values in thousandths.
    Values(Histogram<u64>),
}

/// Custom metrics of the current interval.
#[derive(Default)]
pub struct Custom {
    current: BTreeMap<Key, Acc>,
    /// Every tag set seen, with a counter's carried fraction.
    seen: HashMap<Key, f64>,
}

impl Custom {
    /// Adds `v` to the current interval.
    pub fn add(&mut self, v: &MetricValue<'_>) {
        let mut key: Key = (v.name.to_owned(), v.kind, v.is_time, v.tags.to_vec());
        if !self.seen.contains_key(&key) {
            if self.seen.len() >= MAX_CUSTOM_SETS {
                key.3 = vec![("tags".to_owned(), "other".to_owned())];
            }
            self.seen.entry(key.clone()).or_insert(0.0);
        }
        let acc = self
            .current
            .entry(key.clone())
            .or_insert_with(|| match v.kind {
                Kind::Counter => Acc::Counter(0),
                Kind::Rate => Acc::Rate(0, 0),
                Kind::Gauge | Kind::Trend => Acc::Values(new_values()),
            });
        match acc {
            Acc::Counter(n) => {
                let carried = self.seen.get_mut(&key).map_or(0.0, |c| {
                    *c += v.value.max(0.0);
                    let whole = c.floor();
                    *c -= whole;
                    whole
                });
                *n = n.saturating_add(carried as u64);
            }
            Acc::Rate(yes, no) => match v.value != 0.0 {
                true => *yes += 1,
                false => *no += 1,
            },
            Acc::Values(h) => {
                let thousandths = (v.value.max(0.0) * 1000.0).round();
                h.saturating_record((thousandths as u64).min(CUSTOM_HIGH));
            }
        }
    }

    /// Writes the current interval (second `start`) and forgets it.
    pub fn roll(
        &mut self,
        writer: &mut IntervalWriter,
        out: &mut Vec<u8>,
        start: Duration,
    ) -> Result<(), RecorderError> {
        let second = Duration::from_secs(1);
        for ((name, kind, is_time, tags), acc) in std::mem::take(&mut self.current) {
            let tag = |extra: Option<(&str, &str)>| {
                let mut all = vec![(KEY_METRIC_TYPE.to_owned(), kind.as_str().to_owned())];
                if is_time {
                    all.push((KEY_CONTAINS.to_owned(), "time".to_owned()));
                }
                if let Some((k, v)) = extra {
                    all.push((k.to_owned(), v.to_owned()));
                }
                all.extend(tags.iter().cloned());
                TagSet::new(&name, all).encode()
            };
            match acc {
                Acc::Counter(0) => {}
                Acc::Counter(n) => writer.write(out, &tag(None), start, second, &counter(n))?,
                Acc::Rate(yes, no) => {
                    for (passed, n) in [("true", yes), ("false", no)] {
                        if n > 0 {
                            let t = tag(Some((KEY_PASSED, passed)));
                            writer.write(out, &t, start, second, &counter(n))?;
                        }
                    }
                }
                Acc::Values(h) => writer.write(out, &tag(None), start, second, &h)?,
            }
        }
        Ok(())
    }
}

/// A histogram for thousandths from 1 to [`CUSTOM_HIGH`].
fn new_values() -> Histogram<u64> {
    Histogram::new_with_bounds(1, CUSTOM_HIGH, hlog::HIST_SIGFIG)
        .unwrap_or_else(|_| hlog::new_histogram())
}

/// A histogram standing for a counter of `n`.
fn counter(n: u64) -> Histogram<u64> {
    let mut h = hlog::new_histogram();
    h.saturating_record_n(1, n);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(c: &mut Custom) -> Vec<(String, u64, u64)> {
        let mut out = Vec::new();
        c.roll(&mut IntervalWriter::new(), &mut out, Duration::ZERO)
            .unwrap();
        let mut header = Vec::new();
        hlog::write_header(&mut header, &[], std::time::SystemTime::UNIX_EPOCH).unwrap();
        header.extend_from_slice(&out);
        hlog::decode(&header)
            .map(|i| i.unwrap())
            .map(|i| (i.tag, i.histogram.len(), i.histogram.max()))
            .collect()
    }

    #[test]
    fn each_kind_is_written_as_its_documented_line() {
        let mut c = Custom::default();
        let tags = vec![("group".to_owned(), "::a".to_owned())];
        let add = |c: &mut Custom, name, kind, value, is_time| {
            c.add(&MetricValue {
                name,
                kind,
                is_time,
                value,
                tags: &tags,
            })
        };
        add(&mut c, "hits", Kind::Counter, 2.0, false);
        add(&mut c, "hits", Kind::Counter, 0.75, false);
        add(&mut c, "errors", Kind::Rate, 1.0, false);
        add(&mut c, "errors", Kind::Rate, 0.0, false);
        add(&mut c, "errors", Kind::Rate, 0.0, false);
        add(&mut c, "wait", Kind::Trend, 12.5, true);
        add(&mut c, "depth", Kind::Gauge, -3.0, false);
        let got = lines(&mut c);
        let find = |tag: &str| got.iter().find(|(t, ..)| t == tag).cloned();
        assert_eq!(
            find("v2;metric=hits;metric_type=counter;group=::a").map(|l| l.1),
            Some(2)
        );
        assert_eq!(
            find("v2;metric=errors;metric_type=rate;passed=true;group=::a").map(|l| l.1),
            Some(1)
        );
        assert_eq!(
            find("v2;metric=errors;metric_type=rate;passed=false;group=::a").map(|l| l.1),
            Some(2)
        );
        let wait = find("v2;metric=wait;metric_type=trend;contains=time;group=::a").unwrap();
        assert_eq!((wait.1, wait.2 / 10), (1, 1250));
        assert_eq!(
            find("v2;metric=depth;metric_type=gauge;group=::a").map(|l| l.2),
            Some(0)
        );
        // The carried fraction completes a unit in a later second.
        add(&mut c, "hits", Kind::Counter, 0.25, false);
        assert_eq!(lines(&mut c)[0].1, 1);
    }
}
