//! Custom metrics of k6 scripts (`Counter`, `Gauge`, `Rate`, `Trend` and
//! `group_duration`), merged exactly from their interval-log lines
//! (`v2;metric=NAME;metric_type=KIND[;contains=time][;passed=..];tags...`,
//! docs/FORMAT.md "Custom metrics"): counters and rates add counts, trends add
//! histograms, gauges keep their minimum, maximum and the largest value of
//! their latest second.
//!
//! This module owns [`CustomStats`] and the reading of one line into it, for
//! the run total and per tag `key:value` (threshold filters such as
//! `errors{group:::login}`); it does not judge thresholds (judge does) or name
//! what the summary shows (summary does).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use sls_load_core::hlog::{self, Interval};
use sls_load_core::tag::{KEY_PASSED, TagSet};
use sls_load_plan::threshold::CustomKind;

/// The tag key naming a custom metric's kind (the line's marker).
pub const KEY_METRIC_TYPE: &str = "metric_type";
/// The tag key marking a time metric (`contains=time`).
pub const KEY_CONTAINS: &str = "contains";

/// One custom metric merged over a scope.
#[derive(Debug, Clone)]
pub struct CustomStats {
    /// Its kind, from the lines' `metric_type`.
    pub kind: CustomKind,
    /// A time metric (milliseconds).
    pub time: bool,
    /// Counter: whole units added. Rate: values that were true / non-zero.
    pub count: u64,
    /// Rate: values that were false / zero.
    pub fails: u64,
    /// Trend and gauge: every value in thousandths of its unit.
    pub values: Option<Histogram<u64>>,
    /// Gauge: the latest second with a value, and the largest value set in it
    /// (thousandths).
    pub last: Option<(u64, u64)>,
}

impl CustomStats {
    fn new(kind: CustomKind, time: bool) -> CustomStats {
        CustomStats {
            kind,
            time,
            count: 0,
            fails: 0,
            values: None,
            last: None,
        }
    }

    /// The rate's share of true values, `None` without values.
    pub fn rate(&self) -> Option<f64> {
        let all = self.count + self.fails;
        (all > 0).then(|| self.count as f64 / all as f64)
    }

    /// The gauge's value (its latest second's largest), in its unit.
    pub fn gauge_value(&self) -> Option<f64> {
        self.last.map(|(_, v)| v as f64 / 1000.0)
    }
}

/// What one custom line adds: its metric's name, kind and the tags (without
/// the reserved ones) it counts under.
pub struct Line<'a> {
    /// The metric.
    pub name: &'a str,
    kind: CustomKind,
    time: bool,
    passed: Option<bool>,
    /// The sample's own tags (`scenario`, `group`, the script's).
    pub tags: Vec<(&'a str, &'a str)>,
}

/// Reads `set` as a custom line; `Ok(None)` when it is not one, an error when
/// its `metric_type` is unknown.
pub fn line(set: &TagSet) -> Result<Option<Line<'_>>, String> {
    let Some(kind) = set.get(KEY_METRIC_TYPE) else {
        return Ok(None);
    };
    let kind = CustomKind::from_name(kind).ok_or_else(|| {
        format!(
            "custom metric `{}`: unknown metric_type `{kind}`",
            set.metric
        )
    })?;
    let reserved = [KEY_METRIC_TYPE, KEY_CONTAINS, KEY_PASSED];
    Ok(Some(Line {
        name: &set.metric,
        kind,
        time: set.get(KEY_CONTAINS) == Some("time"),
        passed: set.get(KEY_PASSED).map(|p| p == "true"),
        tags: set
            .tags
            .iter()
            .filter(|(k, _)| !reserved.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
    }))
}

/// Adds `interval` of `line`, in second `second` of the run, to the scope
/// `key` of `scopes` (made on first use).
pub fn add<K: Ord>(
    scopes: &mut BTreeMap<K, CustomStats>,
    key: K,
    line: &Line<'_>,
    interval: &Interval,
    second: u64,
) -> Result<(), String> {
    let stats = scopes
        .entry(key)
        .or_insert_with(|| CustomStats::new(line.kind, line.time));
    if stats.kind != line.kind {
        return Err(format!(
            "custom metric `{}` is a {} in one line and a {} in another",
            line.name,
            stats.kind.name(),
            line.kind.name()
        ));
    }
    let h = &interval.histogram;
    match line.kind {
        CustomKind::Counter => stats.count = stats.count.saturating_add(h.len()),
        CustomKind::Rate => match line.passed {
            Some(false) => stats.fails = stats.fails.saturating_add(h.len()),
            _ => stats.count = stats.count.saturating_add(h.len()),
        },
        CustomKind::Trend | CustomKind::Gauge => {
            if h.is_empty() {
                return Ok(());
            }
            let into = match &mut stats.values {
                Some(v) => v,
                None => stats.values.insert(
                    Histogram::new_with_bounds(1, 1 << 36, 3).map_err(|e| format!("{e:?}"))?,
                ),
            };
            hlog::add(into, h).map_err(|e| format!("custom metric `{}`: {e:?}", line.name))?;
            if line.kind == CustomKind::Gauge {
                // The value as set (the bucket's low end), not its bucket's top.
                let max = h.lowest_equivalent(h.max());
                stats.last = match stats.last {
                    Some((s, v)) if s > second => Some((s, v)),
                    Some((s, v)) if s == second => Some((s, v.max(max))),
                    _ => Some((second, max)),
                };
            }
        }
    }
    Ok(())
}
