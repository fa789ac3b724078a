//! Custom metrics of k6 scripts in thresholds: a script's `new Rate('errors')`
//! makes `errors: ['rate<0.1']` a threshold like any other. A [`CustomMetric`]
//! is the name with the kind its declaration gave (which decides the
//! aggregations that apply, as for k6's built-in metrics).
//!
//! This module owns that type and the interning of the names (a metric stays
//! `Copy`: each distinct name is kept once for the life of the process, and a
//! run names a handful). It does not parse expressions (the parent does) and
//! does not know which metrics a script declares (the script crate reads that
//! at `plan`).

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

/// What kind of metric a script declared.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum CustomKind {
    /// `new Counter(name)`: adds up (`count`, `rate` per second).
    Counter,
    /// `new Gauge(name)`: the last value set (`value`, `min`, `max`).
    Gauge,
    /// `new Rate(name)`: the share of non-zero values (`rate`).
    Rate,
    /// `new Trend(name)`: a distribution (`p(N)`, `avg`, `min`, `max`, `med`).
    Trend,
}

impl CustomKind {
    /// The kind named as k6 and the interval logs' `metric_type` name it.
    pub fn from_name(name: &str) -> Option<CustomKind> {
        match name {
            "counter" => Some(CustomKind::Counter),
            "gauge" => Some(CustomKind::Gauge),
            "rate" => Some(CustomKind::Rate),
            "trend" => Some(CustomKind::Trend),
            _ => None,
        }
    }

    /// The name in k6's summary (`type`) and the interval logs.
    pub fn name(self) -> &'static str {
        match self {
            CustomKind::Counter => "counter",
            CustomKind::Gauge => "gauge",
            CustomKind::Rate => "rate",
            CustomKind::Trend => "trend",
        }
    }
}

/// A script's custom metric, or k6's `group_duration` (a time trend of every
/// script with groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CustomMetric {
    /// The name as declared (`[A-Za-z_][A-Za-z0-9_]{0,127}`).
    pub name: &'static str,
    /// Its kind.
    pub kind: CustomKind,
    /// A time metric (`new Trend(name, true)`): values in milliseconds.
    pub time: bool,
}

/// The name of k6's group duration trend.
pub const GROUP_DURATION: &str = "group_duration";

impl CustomMetric {
    /// The metric `name` of `kind`, if `name` is a valid k6 metric name.
    pub fn new(name: &str, kind: CustomKind, time: bool) -> Option<CustomMetric> {
        is_metric_name(name).then(|| CustomMetric {
            name: intern(name),
            kind,
            time,
        })
    }

    /// k6's `group_duration`.
    pub fn group_duration() -> CustomMetric {
        CustomMetric {
            name: GROUP_DURATION,
            kind: CustomKind::Trend,
            time: true,
        }
    }
}

/// Whether `name` is a k6 metric name: a letter or `_`, then up to 127
/// letters, digits or `_`.
pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `name`, kept once for the life of the process.
fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_kept_once() {
        let a = CustomMetric::new("errors", CustomKind::Rate, false).expect("valid");
        let b = CustomMetric::new("errors", CustomKind::Rate, false).expect("valid");
        assert!(std::ptr::eq(a.name, b.name));
        assert!(CustomMetric::new("1abc", CustomKind::Counter, false).is_none());
        assert!(CustomMetric::new("a-b", CustomKind::Counter, false).is_none());
        assert!(CustomMetric::new("", CustomKind::Counter, false).is_none());
    }
}
