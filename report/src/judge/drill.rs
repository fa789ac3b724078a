//! Drill thresholds: `time_to_recover`, `time_to_detect` (milliseconds, or a
//! duration with a unit: `<10s`) and `drill_errors` (a count), optionally
//! filtered by `{region:R}` or `{event:NAME}`, judged on the summary's `drill`
//! section like any threshold (they gate the exit code with 99).
//!
//! The value judged is the worst over the matching events × client regions:
//! the longest time to recover (a region that never recovered makes it
//! unobservable, which fails the threshold and reads "never recovered"), the
//! longest time to detect (pairs that never left their band are left out of
//! both; 0 when none did), and the most
//! requests failed during one event. It does not parse expressions (the plan
//! does) or analyse the run (`crate::drill::analysis` does).

use sls_load_plan::threshold::{Metric, Threshold};

use crate::drill::analysis::{Drill, RegionAnalysis};

/// The value `t` (a drill metric) compares, or `None` when it cannot be
/// observed (no matching event and region, or a region that never recovered).
pub(super) fn observe(t: &Threshold, drill: &Drill) -> Option<f64> {
    let pairs: Vec<&RegionAnalysis> = drill
        .events
        .iter()
        .filter(|e| match &t.selector {
            Some((tag, value)) if tag == "event" => &e.event == value,
            _ => true,
        })
        .flat_map(|e| {
            e.regions
                .iter()
                .filter(|(region, _)| match &t.selector {
                    Some((tag, value)) if tag == "region" => *region == value,
                    _ => true,
                })
                .map(|(_, r)| r)
        })
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let ms = |s: f64| s * 1000.0;
    match t.metric {
        Metric::TimeToRecover => match pairs.iter().any(|r| r.never_recovered) {
            true => None,
            false => Some(
                pairs
                    .iter()
                    .filter_map(|r| r.time_to_recover_s.map(ms))
                    .fold(0.0, f64::max),
            ),
        },
        Metric::TimeToDetect => Some(
            pairs
                .iter()
                .filter_map(|r| r.time_to_detect_s.map(ms))
                .fold(0.0, f64::max),
        ),
        Metric::DrillErrors => pairs
            .iter()
            .map(|r| r.failed_during as f64)
            .reduce(f64::max),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::analysis::{EventAnalysis, Shares, Window};
    use std::collections::BTreeMap;

    fn window() -> Window {
        Window {
            from_s: 0,
            to_s: 0,
            requests: 0,
            errors: 0,
            error_rate: 0.0,
            p50_ms: 0.0,
            p95_ms: 0.0,
            p99_ms: 0.0,
        }
    }

    fn region(ttd: Option<f64>, ttr: Option<f64>, failed: u64) -> RegionAnalysis {
        RegionAnalysis {
            baseline: window(),
            during: window(),
            after: window(),
            band_error_rate: 0.01,
            band_p95_ms: 3.0,
            time_to_detect_s: ttd,
            time_to_recover_s: ttr,
            never_recovered: ttd.is_some() && ttr.is_none(),
            failed_during: failed,
            served_by: Shares::default(),
        }
    }

    fn drill(eu_ttr: Option<f64>) -> Drill {
        Drill {
            baseline_s: 10.0,
            errors_pp: 1.0,
            p95_factor: 1.5,
            stable_for_s: 5.0,
            detect_for_s: 2.0,
            events: vec![
                EventAnalysis {
                    event: "eu-down".into(),
                    at_s: 20.0,
                    until_s: None,
                    ends: None,
                    regions: BTreeMap::from([
                        ("eu-west-1".into(), region(Some(0.0), eu_ttr, 420)),
                        ("us-east-1".into(), region(None, None, 0)),
                    ]),
                },
                EventAnalysis {
                    event: "eu-up".into(),
                    at_s: 40.0,
                    until_s: None,
                    ends: None,
                    regions: BTreeMap::from([(
                        "eu-west-1".into(),
                        region(Some(1.0), Some(2.0), 3),
                    )]),
                },
            ],
        }
    }

    fn judged(key: &str, expr: &str, d: &Drill) -> (Option<f64>, bool) {
        let t = Threshold::parse(key, expr).expect("parses");
        let observed = observe(&t, d);
        (observed, observed.is_some_and(|v| t.holds(v)))
    }

    #[test]
    fn the_worst_event_and_region_is_judged() {
        let d = drill(Some(3.5));
        assert_eq!(judged("time_to_recover", "<10s", &d), (Some(3500.0), true));
        assert_eq!(
            judged("time_to_recover", "max<3s", &d),
            (Some(3500.0), false)
        );
        assert_eq!(judged("time_to_detect", "<2s", &d), (Some(1000.0), true));
        assert_eq!(judged("drill_errors", "<500", &d), (Some(420.0), true));
        assert_eq!(
            judged("drill_errors{region:us-east-1}", "<1", &d),
            (Some(0.0), true)
        );
        assert_eq!(
            judged("time_to_recover{event:eu-up}", "<2500ms", &d),
            (Some(2000.0), true)
        );
        assert_eq!(judged("drill_errors{event:nope}", "<1", &d), (None, false));
    }

    #[test]
    fn a_region_that_never_recovered_fails_time_to_recover() {
        let d = drill(None);
        assert_eq!(judged("time_to_recover", "<10s", &d), (None, false));
        assert_eq!(
            judged("time_to_recover{region:us-east-1}", "<10s", &d),
            (Some(0.0), true)
        );
    }

    #[test]
    fn drill_metrics_take_region_or_event_filters_only() {
        let e = Threshold::parse("time_to_recover{name:home}", "<1s").unwrap_err();
        assert!(
            e.to_string()
                .contains("filtered by `region` or `event` only"),
            "{e}"
        );
        let e = Threshold::parse("http_reqs{event:x}", "count<1").unwrap_err();
        assert!(
            e.to_string()
                .contains("`event` tag applies to drill metrics"),
            "{e}"
        );
        let e = Threshold::parse("time_to_recover", "p(95)<1s").unwrap_err();
        assert!(e.to_string().contains("does not apply"), "{e}");
        let e = Threshold::parse("time_to_recover", "<soon").unwrap_err();
        assert!(
            e.to_string().contains("expected a duration like 10s"),
            "{e}"
        );
    }
}
