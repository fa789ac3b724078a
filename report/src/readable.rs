//! Readable figures for people: thousands separators (`29,686`), durations with
//! their unit (`6.92ms`, `850µs`, `1.20s`), and a threshold's observed value the
//! way k6 prints it: `6.92ms` for a trend, `4.88%` for a rate, `29,686` for a
//! count and `71.67/s` for a counter's rate.
//!
//! It only formats numbers it is given: it computes no figure, decides no verdict
//! and does no IO. The terminal summary ([`crate::render`]) and the JUnit report
//! ([`crate::export`]) use it; the JSON documents keep plain numbers.

use crate::summary::ThresholdResult;
use sls_load_plan::threshold::{Metric, Stat, Threshold};

/// An integer with `,` between groups of three digits: `29,686`.
pub fn thousands(n: u64) -> String {
    group(&n.to_string())
}

/// A count with its noun, singular for one: `1 worker`, `2 workers`, `1,000 workers`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// `v` with `places` decimals and `,` between groups of three digits in its
/// integer part: `12,345.7`.
pub fn decimal(v: f64, places: usize) -> String {
    let text = format!("{v:.places$}");
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    match unsigned.split_once('.') {
        Some((int, frac)) => format!("{sign}{}.{frac}", group(int)),
        None => format!("{sign}{}", group(unsigned)),
    }
}

/// Digits with `,` inserted every three from the right (non-digits left alone).
fn group(digits: &str) -> String {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return digits.to_owned();
    }
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds as `6.92ms`, or `1.20s` from one second up.
pub fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else {
        format!("{v:.2}ms")
    }
}

/// Milliseconds as [`ms`] does, but below one millisecond in whole microseconds
/// (`102µs`), where most phases of a kept-alive request are.
pub fn phase(v: f64) -> String {
    if v < 1.0 {
        format!("{:.0}µs", v * 1000.0)
    } else {
        ms(v)
    }
}

/// A fraction as a percentage with two decimals, as k6 prints rates: `4.88%`.
pub fn percent(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}

/// A number of bytes as k6 prints `data_sent` (SI units, like Go's
/// `humanize.Bytes`): `0 B`, `999 B`, `1.2 kB`, `45 kB`, `2.7 MB`.
pub fn bytes(n: f64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let n = n.max(0.0);
    if n < 10.0 {
        return format!("{n:.0} B");
    }
    let exp = (n.log10() / 3.0).floor().min(6.0);
    let value = n / 1000f64.powf(exp);
    let unit = UNITS[exp as usize];
    // Rounding can carry to the next unit's 1000: 999.96 kB prints as 1000 kB.
    match value < 10.0 {
        true => format!("{value:.1} {unit}"),
        false => format!("{value:.0} {unit}"),
    }
}

/// A threshold's observed value with its unit, or `no data` (`never recovered`
/// for `time_to_recover`, which only lacks a value when a region never came back).
pub fn observed(t: &ThresholdResult) -> String {
    match t.observed {
        Some(v) => observed_value(&t.metric, &t.expr, v),
        None if Threshold::parse(&t.metric, &t.expr)
            .is_ok_and(|t| t.metric == Metric::TimeToRecover) =>
        {
            "never recovered".into()
        }
        None => "no data".into(),
    }
}

/// `value` observed for the threshold `expr` on `metric_key`, with its unit: a
/// duration for a trend's aggregates, a percentage for a rate metric's `rate`, per
/// second for a counter's `rate`, a whole count for `count`. A threshold that does
/// not parse shows the bare number.
pub fn observed_value(metric_key: &str, expr: &str, value: f64) -> String {
    let Ok(t) = Threshold::parse(metric_key, expr) else {
        return format!("{value:.3}");
    };
    if matches!(t.metric, Metric::DataSent | Metric::DataReceived) {
        return match t.stat {
            Stat::Rate => format!("{}/s", bytes(value)),
            _ => bytes(value),
        };
    }
    if t.metric.is_drill_time() {
        // Milliseconds judged, seconds read: a drill's times are seconds long.
        return format!("{:.2}s", value / 1000.0);
    }
    if matches!(t.metric, Metric::Vus | Metric::VusMax | Metric::DrillErrors) {
        return thousands(value.max(0.0).round() as u64);
    }
    match t.stat {
        Stat::Percentile(_) | Stat::Avg | Stat::Min | Stat::Max | Stat::Med => phase(value),
        Stat::Rate if t.metric.is_rate() => percent(value),
        Stat::Rate => format!("{}/s", decimal(value, 2)),
        Stat::Count | Stat::Value => thousands(value.max(0.0).round() as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(29_686), "29,686");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(decimal(71.666, 1), "71.7");
        assert_eq!(decimal(12_345.67, 1), "12,345.7");
        assert_eq!(decimal(999_999.96, 1), "1,000,000.0");
        assert_eq!(decimal(-1234.5, 1), "-1,234.5");
        assert_eq!(decimal(1234.0, 0), "1,234");
    }

    #[test]
    fn counts_take_the_singular_for_one() {
        assert_eq!(plural(1, "worker", "workers"), "1 worker");
        assert_eq!(plural(0, "worker", "workers"), "0 workers");
        assert_eq!(
            plural(1200, "invocation", "invocations"),
            "1,200 invocations"
        );
    }

    #[test]
    fn durations_carry_their_unit() {
        assert_eq!(ms(6.917), "6.92ms");
        assert_eq!(ms(1500.0), "1.50s");
        assert_eq!(phase(0.102), "102µs");
        assert_eq!(phase(4.59), "4.59ms");
    }

    #[test]
    fn observed_values_read_as_k6_prints_them() {
        let v = |metric: &str, expr: &str, value: f64| observed_value(metric, expr, value);
        assert_eq!(v("http_req_duration", "p(95)<500", 6.917), "6.92ms");
        assert_eq!(v("http_req_duration{name:home}", "avg<1", 0.45), "450µs");
        assert_eq!(v("http_req_duration", "max<2000", 2500.0), "2.50s");
        assert_eq!(v("http_req_failed", "rate<0.5", 0.048_837), "4.88%");
        assert_eq!(v("checks", "rate>0.9", 1.0), "100.00%");
        assert_eq!(v("http_reqs", "count>10", 29_686.0), "29,686");
        assert_eq!(v("http_reqs", "rate>10", 4948.333), "4,948.33/s");
        assert_eq!(v("dropped_iterations", "count<1", 1203.0), "1,203");
        assert_eq!(v("no_such_metric", "p(95)<1", 2.5), "2.500");
        assert_eq!(v("data_received", "count>1", 2_700_000.0), "2.7 MB");
        assert_eq!(v("data_sent", "rate<1", 45_123.0), "45 kB/s");
        assert_eq!(v("time_to_detect", "<2s", 0.0), "0.00s");
        assert_eq!(
            v("time_to_recover{region:eu-west-1}", "<5s", 2950.0),
            "2.95s"
        );
    }

    #[test]
    fn bytes_read_as_k6_prints_them() {
        assert_eq!(bytes(0.0), "0 B");
        assert_eq!(bytes(9.0), "9 B");
        assert_eq!(bytes(999.0), "999 B");
        assert_eq!(bytes(1_234.0), "1.2 kB");
        assert_eq!(bytes(45_000.0), "45 kB");
        assert_eq!(bytes(2_700_000.0), "2.7 MB");
        assert_eq!(bytes(3.2e9), "3.2 GB");
    }

    #[test]
    fn a_threshold_without_data_says_so() {
        let t = ThresholdResult {
            metric: "http_req_duration".into(),
            expr: "p(95)<500".into(),
            ok: false,
            observed: None,
        };
        assert_eq!(observed(&t), "no data");
        let t = ThresholdResult {
            observed: Some(2.447),
            ..t
        };
        assert_eq!(observed(&t), "2.45ms");
        let never = ThresholdResult {
            metric: "time_to_recover".into(),
            expr: "<10s".into(),
            ok: false,
            observed: None,
        };
        assert_eq!(observed(&never), "never recovered");
    }
}
