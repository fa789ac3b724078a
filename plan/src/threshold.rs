//! k6 threshold expressions: `http_req_duration: ["p(95)<500"]` parsed into a typed
//! [`Threshold`] that can say whether an observed value passes.
//!
//! This module owns the expression grammar (aggregation, operator, value), the
//! metric names and which aggregations each metric allows, and the optional k6
//! tag filter in the metric key (`http_req_duration{name:home}`). It does not read
//! files, know where thresholds sit in a scenario file (see `scenario`), compute
//! any statistic, or check that a tag filter names a request or region that exists.

use std::fmt;

use thiserror::Error;

/// A metric a threshold can be set on, named as in k6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// `http_req_duration`: trend of request latencies, in milliseconds.
    HttpReqDuration,
    /// `http_req_failed`: rate of requests that failed.
    HttpReqFailed,
    /// `http_reqs`: counter of requests sent.
    HttpReqs,
    /// `checks`: rate of responses that passed their checks (the expected status).
    Checks,
    /// `dropped_iterations`: counter of iterations that could not start (no free VU).
    DroppedIterations,
    /// `http_req_blocked`: trend of the time waiting for a free connection, ms.
    HttpReqBlocked,
    /// `http_req_connecting`: trend of TCP connect times, ms.
    HttpReqConnecting,
    /// `http_req_tls_handshaking`: trend of TLS handshake times, ms.
    HttpReqTlsHandshaking,
    /// `http_req_sending`: trend of request sending times, ms.
    HttpReqSending,
    /// `http_req_waiting`: trend of times to first byte, ms.
    HttpReqWaiting,
    /// `http_req_receiving`: trend of response receiving times, ms.
    HttpReqReceiving,
    /// `iterations`: counter of iterations that ended.
    Iterations,
    /// `iteration_duration`: trend of iteration durations (think time included), ms.
    IterationDuration,
    /// `data_sent`: counter of HTTP bytes sent.
    DataSent,
    /// `data_received`: counter of HTTP bytes received.
    DataReceived,
    /// `vus`: gauge of the VUs running an iteration, per second over the run.
    Vus,
    /// `vus_max`: gauge of the VUs started, per second over the run.
    VusMax,
    /// `time_to_recover`: a drill's time from an event to recovery, ms (the
    /// worst over events and client regions; see `drill::thresholds`).
    TimeToRecover,
    /// `time_to_detect`: a drill's time from an event to the first second
    /// outside the band, ms.
    TimeToDetect,
    /// `drill_errors`: requests failed during a drill's events.
    DrillErrors,
}

/// What kind of k6 metric a [`Metric`] is; decides which aggregations apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Trend,
    Rate,
    Counter,
    Gauge,
    /// A drill's figure: one value per event and client region, the worst judged.
    Drill,
}

impl Metric {
    /// Every supported metric, in the order they are listed in messages.
    pub const ALL: [Metric; 20] = [
        Metric::HttpReqDuration,
        Metric::HttpReqFailed,
        Metric::HttpReqs,
        Metric::Checks,
        Metric::DroppedIterations,
        Metric::HttpReqBlocked,
        Metric::HttpReqConnecting,
        Metric::HttpReqTlsHandshaking,
        Metric::HttpReqSending,
        Metric::HttpReqWaiting,
        Metric::HttpReqReceiving,
        Metric::Iterations,
        Metric::IterationDuration,
        Metric::DataSent,
        Metric::DataReceived,
        Metric::Vus,
        Metric::VusMax,
        Metric::TimeToRecover,
        Metric::TimeToDetect,
        Metric::DrillErrors,
    ];

    /// The k6 phase timings, in the interval logs' phase order
    /// (`sls_load_core::job::TAG_PHASES`).
    pub const PHASES: [Metric; 6] = [
        Metric::HttpReqBlocked,
        Metric::HttpReqConnecting,
        Metric::HttpReqTlsHandshaking,
        Metric::HttpReqSending,
        Metric::HttpReqWaiting,
        Metric::HttpReqReceiving,
    ];

    /// The index of a phase timing metric in [`Metric::PHASES`].
    pub fn phase(self) -> Option<usize> {
        Metric::PHASES.iter().position(|m| *m == self)
    }

    /// The k6 name, e.g. `http_req_duration`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::HttpReqDuration => "http_req_duration",
            Metric::HttpReqFailed => "http_req_failed",
            Metric::HttpReqs => "http_reqs",
            Metric::Checks => "checks",
            Metric::DroppedIterations => "dropped_iterations",
            Metric::HttpReqBlocked => "http_req_blocked",
            Metric::HttpReqConnecting => "http_req_connecting",
            Metric::HttpReqTlsHandshaking => "http_req_tls_handshaking",
            Metric::HttpReqSending => "http_req_sending",
            Metric::HttpReqWaiting => "http_req_waiting",
            Metric::HttpReqReceiving => "http_req_receiving",
            Metric::Iterations => "iterations",
            Metric::IterationDuration => "iteration_duration",
            Metric::DataSent => "data_sent",
            Metric::DataReceived => "data_received",
            Metric::Vus => "vus",
            Metric::VusMax => "vus_max",
            Metric::TimeToRecover => "time_to_recover",
            Metric::TimeToDetect => "time_to_detect",
            Metric::DrillErrors => "drill_errors",
        }
    }

    /// The metric with this k6 name, if supported.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// True for k6 rate metrics (`http_req_failed`, `checks`), whose `rate` is a
    /// fraction (0..=1); a counter's `rate` is per second.
    pub fn is_rate(self) -> bool {
        self.kind() == Kind::Rate
    }

    /// True for the drill metrics, judged on the summary's `drill` section.
    pub fn is_drill(self) -> bool {
        self.kind() == Kind::Drill
    }

    /// True for the drill metrics measured in time (`time_to_recover`,
    /// `time_to_detect`), whose values may carry a unit (`10s`).
    pub fn is_drill_time(self) -> bool {
        matches!(self, Metric::TimeToRecover | Metric::TimeToDetect)
    }

    fn kind(self) -> Kind {
        match self {
            Metric::TimeToRecover | Metric::TimeToDetect | Metric::DrillErrors => Kind::Drill,
            Metric::HttpReqFailed | Metric::Checks => Kind::Rate,
            Metric::HttpReqs
            | Metric::DroppedIterations
            | Metric::Iterations
            | Metric::DataSent
            | Metric::DataReceived => Kind::Counter,
            Metric::Vus | Metric::VusMax => Kind::Gauge,
            _ => Kind::Trend,
        }
    }

    /// The aggregations this metric allows, as written in messages.
    fn allowed(self) -> &'static str {
        match self.kind() {
            Kind::Trend => "p(N), avg, min, max or med",
            Kind::Rate => "rate",
            Kind::Counter => "count or rate",
            Kind::Gauge => "value, min or max",
            Kind::Drill => "max (or nothing: time_to_recover: [\"<10s\"])",
        }
    }

    fn allows(self, stat: Stat) -> bool {
        match self.kind() {
            Kind::Trend => matches!(
                stat,
                Stat::Percentile(_) | Stat::Avg | Stat::Min | Stat::Max | Stat::Med
            ),
            Kind::Rate => stat == Stat::Rate,
            Kind::Counter => matches!(stat, Stat::Count | Stat::Rate),
            Kind::Gauge => matches!(stat, Stat::Value | Stat::Min | Stat::Max),
            Kind::Drill => stat == Stat::Max,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The aggregation a threshold compares: the left-hand side of `p(95)<500`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    /// `p(N)` with 0 < N <= 100, e.g. `p(95)` or `p(99.9)` (trend metrics).
    Percentile(f64),
    /// `avg` (trend metrics).
    Avg,
    /// `min` (trend and gauge metrics).
    Min,
    /// `max` (trend and gauge metrics).
    Max,
    /// `med`, the median (trend metrics).
    Med,
    /// `rate`: the fraction of true values for rate metrics (0..=1), or events per
    /// second for counter metrics.
    Rate,
    /// `count`: the total for counter metrics.
    Count,
    /// `value`: a gauge's last value (`vus`, `vus_max`).
    Value,
}

impl fmt::Display for Stat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stat::Percentile(p) => write!(f, "p({p})"),
            Stat::Avg => f.write_str("avg"),
            Stat::Min => f.write_str("min"),
            Stat::Max => f.write_str("max"),
            Stat::Med => f.write_str("med"),
            Stat::Rate => f.write_str("rate"),
            Stat::Count => f.write_str("count"),
            Stat::Value => f.write_str("value"),
        }
    }
}

/// The comparison of a threshold. k6's `===` is read as [`Op::Eq`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==` (or `===`)
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    /// The operator as written, e.g. `<=`.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    /// Whether `left <op> right` is true. Any comparison with NaN is false.
    pub fn compare(self, left: f64, right: f64) -> bool {
        if left.is_nan() || right.is_nan() {
            return false;
        }
        match self {
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
            Op::Eq => left == right,
            Op::Ne => left != right,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// One threshold: `<stat> <op> <value>` on a metric, optionally filtered by one tag.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The metric the threshold is on.
    pub metric: Metric,
    /// k6 tag filter from the metric key, e.g. `("name", "home")` for
    /// `http_req_duration{name:home}`. Supported tags: `name` (a request name),
    /// `region` (a load zone), the interval logs' `status`, `method`, `scenario`
    /// and `expected_response`, and `check` (a check name, on `checks` only).
    pub selector: Option<(String, String)>,
    /// The expression as written, e.g. `p(95)<500`.
    pub expr: String,
    /// The aggregation compared.
    pub stat: Stat,
    /// The comparison.
    pub op: Op,
    /// The right-hand side. Milliseconds for `http_req_duration`, a fraction (0..=1)
    /// for `rate` of `http_req_failed` and `checks`, per second for `rate` of counters.
    pub value: f64,
    /// k6's `abortOnFail` from the object form; `false` for the string form.
    pub abort_on_fail: bool,
    /// k6's `delayAbortEval`: how long after the run's start an `abort_on_fail`
    /// threshold is first judged on the live state; zero when not given.
    pub delay_abort_eval: std::time::Duration,
}

/// Tags a threshold's metric key may filter on.
const TAGS: &str =
    "name, region, status, method, scenario, expected_response, check, served_by, event";

impl Threshold {
    /// Parses one k6 threshold: `metric_key` is the key of the `thresholds` mapping
    /// (`http_req_duration` or `http_req_duration{name:home}`), `expr` one entry of its
    /// list (`p(95)<500`). Whitespace around the operator is allowed.
    pub fn parse(metric_key: &str, expr: &str) -> Result<Threshold, ThresholdError> {
        let (metric, selector) = parse_metric_key(metric_key)?;
        let fail = |reason: String| ThresholdError {
            metric_key: metric_key.to_owned(),
            expr: Some(expr.to_owned()),
            reason,
        };
        let text = expr.trim();
        if text.is_empty() {
            return Err(fail("empty threshold; expected e.g. p(95)<500".into()));
        }
        let Some(op_at) = text.find(['<', '>', '=', '!']) else {
            return Err(fail(format!(
                "expected an operator (<, <=, >, >=, ==, !=) and a value, e.g. {}<500",
                text
            )));
        };
        let stat_text = text[..op_at].trim();
        let stat = if metric.is_drill() && stat_text.is_empty() {
            Stat::Max
        } else {
            parse_stat(stat_text).map_err(&fail)?
        };
        let (op, rest) = parse_op(&text[op_at..]).map_err(&fail)?;
        let value = if metric.is_drill_time() {
            parse_drill_time(rest.trim(), op).map_err(&fail)?
        } else {
            parse_value(rest.trim(), op, metric).map_err(&fail)?
        };
        if !metric.allows(stat) {
            return Err(fail(format!(
                "`{stat}` does not apply to {metric}; use {}",
                metric.allowed()
            )));
        }
        if stat == Stat::Rate && metric.kind() == Kind::Rate && !(0.0..=1.0).contains(&value) {
            return Err(fail(format!(
                "{metric} rate is a fraction between 0 and 1 (0.01 = 1%), got {value}"
            )));
        }
        Ok(Threshold {
            metric,
            selector,
            expr: expr.to_owned(),
            stat,
            op,
            value,
            abort_on_fail: false,
            delay_abort_eval: std::time::Duration::ZERO,
        })
    }

    /// Whether the observed aggregate passes: `observed <op> value`. NaN never passes.
    pub fn holds(&self, observed: f64) -> bool {
        self.op.compare(observed, self.value)
    }

    /// The metric with its tag filter, e.g. `http_req_duration{name:home}`.
    pub fn metric_name(&self) -> String {
        match &self.selector {
            Some((tag, value)) => format!("{}{{{tag}:{value}}}", self.metric),
            None => self.metric.name().to_owned(),
        }
    }
}

impl fmt::Display for Threshold {
    /// `http_req_duration{name:home}: p(95)<500`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.metric_name(), self.expr.trim())
    }
}

/// Parses a `thresholds` key: a metric name with an optional single tag filter,
/// `http_req_duration` or `http_req_duration{name:home}`.
pub fn parse_metric_key(key: &str) -> Result<(Metric, Option<(String, String)>), ThresholdError> {
    let fail = |reason: String| ThresholdError {
        metric_key: key.to_owned(),
        expr: None,
        reason,
    };
    let trimmed = key.trim();
    let (name, selector) = match trimmed.split_once('{') {
        None => (trimmed, None),
        Some((name, rest)) => {
            let Some(inner) = rest.strip_suffix('}') else {
                return Err(fail(format!(
                    "tag filter must look like {}{{name:home}}",
                    name.trim()
                )));
            };
            (
                name.trim(),
                Some(parse_selector(name.trim(), inner).map_err(&fail)?),
            )
        }
    };
    let Some(metric) = Metric::from_name(name) else {
        let known: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        return Err(fail(format!(
            "unknown metric `{}` (supported: {})",
            name,
            known.join(", ")
        )));
    };
    let tag = selector.as_ref().map(|(tag, _)| tag.as_str());
    let per_iteration = [
        Metric::DroppedIterations,
        Metric::Iterations,
        Metric::IterationDuration,
    ];
    if per_iteration.contains(&metric) && tag.is_some_and(|t| t != "region" && t != "scenario") {
        return Err(fail(format!(
            "{metric} has no request tags like `name`; filter by region only (or scenario)"
        )));
    }
    if metric.is_drill() && tag.is_some_and(|t| t != "region" && t != "event") {
        return Err(fail(format!(
            "{metric} can be filtered by `region` or `event` only, e.g. {metric}{{event:eu-down}}"
        )));
    }
    if !metric.is_drill() && tag == Some("event") {
        return Err(fail(format!(
            "the `event` tag applies to drill metrics only (time_to_recover, time_to_detect, drill_errors), not to {metric}"
        )));
    }
    if matches!(metric, Metric::Vus | Metric::VusMax)
        && tag.is_some_and(|t| t != "region" && t != "scenario")
    {
        return Err(fail(format!(
            "{metric} is counted per scenario: filter by region or scenario"
        )));
    }
    let data = [Metric::DataSent, Metric::DataReceived];
    if data.contains(&metric)
        && tag.is_some_and(|t| !["name", "method", "scenario", "region"].contains(&t))
    {
        return Err(fail(format!(
            "{metric} is counted per request: filter by name, method, scenario or region"
        )));
    }
    if metric == Metric::Checks && tag.is_some_and(|t| t != "check") {
        return Err(fail(
            "checks can be filtered by `check` only, e.g. checks{check:status is 200}".into(),
        ));
    }
    if metric != Metric::Checks && tag == Some("check") {
        return Err(fail(format!(
            "the `check` tag applies to checks only, not to {metric}"
        )));
    }
    Ok((metric, selector))
}

fn parse_selector(metric: &str, inner: &str) -> Result<(String, String), String> {
    let example = format!("{metric}{{name:home}}");
    if inner.contains(',') {
        return Err(format!("only one tag filter is supported, e.g. {example}"));
    }
    let Some((tag, value)) = inner.split_once(':') else {
        return Err(format!("tag filter must look like {example}"));
    };
    let (tag, value) = (tag.trim(), value.trim());
    if tag.is_empty() || value.is_empty() {
        return Err(format!("tag filter must look like {example}"));
    }
    if tag == "load_zone" || tag == "region" {
        // k6's `load_zone` is the `region` tag; a k6 load zone names its AWS region.
        let region = crate::zones::region_name(value).unwrap_or(value);
        return Ok(("region".to_owned(), region.to_owned()));
    }
    if !TAGS.split(", ").any(|t| t == tag) {
        return Err(format!(
            "tag `{tag}` cannot be used in a threshold filter (supported: {TAGS}, load_zone)"
        ));
    }
    Ok((tag.to_owned(), value.to_owned()))
}

const AGGREGATIONS: &str =
    "expected an aggregation like p(95), avg, min, max, med, rate, count or value";

fn parse_stat(text: &str) -> Result<Stat, String> {
    let stat = match text {
        "avg" => Stat::Avg,
        "min" => Stat::Min,
        "max" => Stat::Max,
        "med" => Stat::Med,
        "rate" => Stat::Rate,
        "count" => Stat::Count,
        "value" => Stat::Value,
        _ => {
            if let Some(inner) = text.strip_prefix("p(").and_then(|t| t.strip_suffix(')')) {
                let p: f64 = inner
                    .trim()
                    .parse()
                    .map_err(|_| format!("percentile `{inner}` is not a number; use e.g. p(95)"))?;
                if !(p > 0.0 && p <= 100.0) {
                    return Err(format!("percentile must be > 0 and <= 100, got {inner}"));
                }
                return Ok(Stat::Percentile(p));
            }
            let digits = text.strip_prefix('p').unwrap_or("");
            if !digits.is_empty() && digits.parse::<f64>().is_ok() {
                return Err(format!("{AGGREGATIONS} (write p({digits}), not {text})"));
            }
            return Err(AGGREGATIONS.into());
        }
    };
    Ok(stat)
}

fn parse_op(text: &str) -> Result<(Op, &str), String> {
    const OPS: [(&str, Op); 7] = [
        ("===", Op::Eq),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    OPS.iter()
        .find_map(|(symbol, op)| text.strip_prefix(symbol).map(|rest| (*op, rest)))
        .ok_or_else(|| {
            let symbol: String = text.chars().take_while(|c| "<>=!".contains(*c)).collect();
            format!("unknown operator `{symbol}`; use <, <=, >, >=, == or !=")
        })
}

/// A drill time: a duration with a unit (`10s`, `2500ms`), or milliseconds.
fn parse_drill_time(text: &str, op: Op) -> Result<f64, String> {
    if text.is_empty() {
        return Err(format!("missing a value after `{op}`"));
    }
    if let Ok(ms) = text.parse::<f64>()
        && ms.is_finite()
    {
        return Ok(ms);
    }
    sls_load_core::duration::parse(text)
        .map(|d| d.as_secs_f64() * 1000.0)
        .map_err(|_| format!("expected a duration like 10s or 2500ms after `{op}`, found `{text}`"))
}

fn parse_value(text: &str, op: Op, metric: Metric) -> Result<f64, String> {
    if text.is_empty() {
        return Err(format!("missing a value after `{op}`"));
    }
    let looks_numeric = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    let value = match text.parse::<f64>() {
        Ok(v) if looks_numeric => v,
        _ => {
            let unit =
                if metric.kind() == Kind::Trend && text.starts_with(|c: char| c.is_ascii_digit()) {
                    format!(" ({metric} is in milliseconds, written without a unit)")
                } else {
                    String::new()
                };
            return Err(format!(
                "expected a number after `{op}`, found `{text}`{unit}"
            ));
        }
    };
    if !value.is_finite() {
        return Err(format!("value `{text}` is not a finite number"));
    }
    Ok(value)
}

/// A threshold (or a `thresholds` key) that cannot be used. Displays as
/// ``http_req_duration: `p95<500`: expected an aggregation like ...``.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{metric_key}: {}", self.detail())]
pub struct ThresholdError {
    /// The `thresholds` key, e.g. `http_req_duration{name:home}`.
    pub metric_key: String,
    /// The expression, when the error is about one (not about the key).
    pub expr: Option<String>,
    /// What is wrong, one line.
    pub reason: String,
}

impl ThresholdError {
    /// The error without the metric key: ``"`p95<500`: expected ..."`` or, for a bad
    /// key, just the reason.
    pub fn detail(&self) -> String {
        match &self.expr {
            Some(expr) => format!("`{expr}`: {}", self.reason),
            None => self.reason.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(key: &str, expr: &str) -> Threshold {
        match Threshold::parse(key, expr) {
            Ok(t) => t,
            Err(e) => panic!("{key}: {expr}: {e}"),
        }
    }

    fn error(key: &str, expr: &str) -> String {
        match Threshold::parse(key, expr) {
            Ok(t) => panic!("{key}: {expr} parsed as {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn percentile_threshold_on_duration_parses_into_stat_op_and_milliseconds() {
        let t = parse("http_req_duration", "p(95)<500");
        assert_eq!(t.metric, Metric::HttpReqDuration);
        assert_eq!(t.stat, Stat::Percentile(95.0));
        assert_eq!(t.op, Op::Lt);
        assert_eq!(t.value, 500.0);
        assert_eq!(t.selector, None);
        assert_eq!(t.expr, "p(95)<500");
        assert!(!t.abort_on_fail);
    }

    #[test]
    fn fractional_percentiles_and_every_trend_aggregation_are_accepted() {
        assert_eq!(
            parse("http_req_duration", "p(99.9)<=800").stat,
            Stat::Percentile(99.9)
        );
        assert_eq!(
            parse("http_req_duration", "p(100)<2000").stat,
            Stat::Percentile(100.0)
        );
        for (expr, stat) in [
            ("avg<200", Stat::Avg),
            ("min>=1", Stat::Min),
            ("max<3000", Stat::Max),
            ("med<150", Stat::Med),
        ] {
            assert_eq!(parse("http_req_duration", expr).stat, stat, "{expr}");
        }
    }

    #[test]
    fn whitespace_around_the_operator_is_allowed() {
        let t = parse("http_req_duration", "  p(95) <  500 ");
        assert_eq!(
            (t.stat, t.op, t.value),
            (Stat::Percentile(95.0), Op::Lt, 500.0)
        );
        assert_eq!(t.expr, "  p(95) <  500 ", "expr keeps the original text");
    }

    #[test]
    fn every_k6_operator_is_understood_and_triple_equals_means_equals() {
        for (expr, op) in [
            ("rate<0.01", Op::Lt),
            ("rate<=0.01", Op::Le),
            ("rate>0.01", Op::Gt),
            ("rate>=0.01", Op::Ge),
            ("rate==0", Op::Eq),
            ("rate===0", Op::Eq),
            ("rate!=1", Op::Ne),
        ] {
            assert_eq!(parse("http_req_failed", expr).op, op, "{expr}");
        }
    }

    #[test]
    fn rate_metrics_allow_only_rate_and_counters_allow_count_and_rate() {
        assert_eq!(parse("http_req_failed", "rate<0.01").stat, Stat::Rate);
        assert_eq!(parse("checks", "rate>0.99").stat, Stat::Rate);
        assert_eq!(parse("http_reqs", "count>1000").stat, Stat::Count);
        assert_eq!(parse("http_reqs", "rate>=290").stat, Stat::Rate);
        assert_eq!(parse("dropped_iterations", "count==0").stat, Stat::Count);

        let e = error("http_req_failed", "p(95)<0.01");
        assert!(
            e.contains("`p(95)` does not apply to http_req_failed; use rate"),
            "{e}"
        );
        let e = error("http_req_duration", "rate<0.01");
        assert!(e.contains("use p(N), avg, min, max or med"), "{e}");
        let e = error("http_reqs", "avg<3");
        assert!(e.contains("use count or rate"), "{e}");
    }

    #[test]
    fn a_rate_of_a_rate_metric_must_be_a_fraction() {
        let e = error("http_req_failed", "rate<5");
        assert!(e.contains("fraction between 0 and 1"), "{e}");
        assert_eq!(parse("checks", "rate>=1").value, 1.0);
    }

    #[test]
    fn holds_compares_observed_against_value_and_nan_never_holds() {
        let t = parse("http_req_duration", "p(95)<500");
        assert!(t.holds(499.9));
        assert!(!t.holds(500.0));
        assert!(!t.holds(f64::NAN));
        let t = parse("checks", "rate>=0.99");
        assert!(t.holds(0.99));
        assert!(!t.holds(0.98));
        let t = parse("dropped_iterations", "count!=0");
        assert!(t.holds(3.0));
        assert!(!t.holds(0.0));
    }

    #[test]
    fn a_tag_filter_in_the_key_becomes_the_selector_and_part_of_the_metric_name() {
        let t = parse("http_req_duration{name:home}", "p(95)<500");
        assert_eq!(t.selector, Some(("name".into(), "home".into())));
        assert_eq!(t.metric_name(), "http_req_duration{name:home}");
        for key in [
            "http_req_duration{load_zone:amazon:us:ashburn}",
            "http_req_duration{load_zone:us-east-1}",
            "http_req_duration{region:amazon:us-east-1}",
        ] {
            let t = parse(key, "p(95)<500");
            assert_eq!(t.selector, Some(("region".into(), "us-east-1".into())));
            assert_eq!(t.metric_name(), "http_req_duration{region:us-east-1}");
        }
        let t = parse("http_req_failed{ region : eu-west-1 }", "rate<0.01");
        assert_eq!(t.selector, Some(("region".into(), "eu-west-1".into())));
        assert_eq!(t.metric_name(), "http_req_failed{region:eu-west-1}");
        assert_eq!(parse("http_reqs", "count>1").metric_name(), "http_reqs");
        assert_eq!(
            parse("http_req_duration{name:home}", "p(95) < 500").to_string(),
            "http_req_duration{name:home}: p(95) < 500"
        );
    }

    #[test]
    fn malformed_tag_filters_are_rejected() {
        for (key, want) in [
            ("http_req_duration{name:home", "tag filter must look like"),
            ("http_req_duration{name}", "tag filter must look like"),
            ("http_req_duration{name:}", "tag filter must look like"),
            ("http_req_duration{name:a,region:b}", "only one tag filter"),
            ("http_req_duration{group:api}", "tag `group` cannot be used"),
            ("dropped_iterations{name:home}", "filter by region only"),
        ] {
            let e = error(key, "p(95)<500");
            assert!(e.starts_with(key), "{e}");
            assert!(e.contains(want), "{key}: {e}");
        }
    }

    #[test]
    fn unknown_metric_is_rejected_naming_the_supported_ones() {
        let e = error("http_req_duraton", "p(95)<500");
        assert_eq!(
            e,
            "http_req_duraton: unknown metric `http_req_duraton` (supported: \
             http_req_duration, http_req_failed, http_reqs, checks, dropped_iterations, \
             http_req_blocked, http_req_connecting, http_req_tls_handshaking, http_req_sending, \
             http_req_waiting, http_req_receiving, iterations, iteration_duration, data_sent, \
             data_received, vus, vus_max, time_to_recover, time_to_detect, drill_errors)"
        );
    }

    #[test]
    fn percentile_without_parentheses_names_the_expression_and_the_fix() {
        let e = error("http_req_duration", "p95<500");
        assert_eq!(
            e,
            "http_req_duration: `p95<500`: expected an aggregation like p(95), avg, min, \
             max, med, rate, count or value (write p(95), not p95)"
        );
    }

    #[test]
    fn missing_value_is_rejected() {
        let e = error("http_req_duration", "p(95)<");
        assert_eq!(e, "http_req_duration: `p(95)<`: missing a value after `<`");
        let e = error("http_req_duration", "p(95) <  ");
        assert!(e.contains("missing a value after `<`"), "{e}");
    }

    #[test]
    fn doubled_or_unknown_operators_are_rejected() {
        let e = error("http_req_duration", "p(95)<<5");
        assert_eq!(
            e,
            "http_req_duration: `p(95)<<5`: expected a number after `<`, found `<5`"
        );
        let e = error("http_req_duration", "p(95)=5");
        assert!(e.contains("unknown operator `=`"), "{e}");
        let e = error("http_req_duration", "p(95)=>5");
        assert!(e.contains("unknown operator `=>`"), "{e}");
        let e = error("http_req_duration", "p(95) 500");
        assert!(e.contains("expected an operator"), "{e}");
    }

    #[test]
    fn value_must_be_a_finite_number_without_unit() {
        let e = error("http_req_duration", "p(95)<500ms");
        assert!(
            e.contains("found `500ms` (http_req_duration is in milliseconds"),
            "{e}"
        );
        for expr in ["avg<inf", "avg<NaN", "avg<1e999"] {
            let e = error("http_req_duration", expr);
            assert!(e.contains("number"), "{expr}: {e}");
        }
        assert_eq!(parse("http_req_duration", "avg<1.5e2").value, 150.0);
    }

    #[test]
    fn percentile_must_be_above_0_and_at_most_100() {
        for expr in ["p(0)<5", "p(101)<5", "p(-1)<5"] {
            let e = error("http_req_duration", expr);
            assert!(
                e.contains("percentile must be > 0 and <= 100"),
                "{expr}: {e}"
            );
        }
        let e = error("http_req_duration", "p(x)<5");
        assert!(e.contains("percentile `x` is not a number"), "{e}");
    }

    #[test]
    fn empty_expression_is_rejected() {
        let e = error("http_req_duration", "  ");
        assert!(e.contains("empty threshold"), "{e}");
    }

    #[test]
    fn detail_leaves_out_the_metric_key() {
        let Err(e) = Threshold::parse("http_req_duration", "p95<500") else {
            panic!("p95<500 parsed");
        };
        assert!(e.detail().starts_with("`p95<500`: expected an aggregation"));
        let Err(e) = Threshold::parse("nope", "p(95)<500") else {
            panic!("nope parsed");
        };
        assert!(e.detail().starts_with("unknown metric `nope`"));
    }

    #[test]
    fn phase_timings_are_trends_with_k6_names_and_any_filter() {
        let t = parse("http_req_waiting{region:eu-west-1}", "p(95)<200");
        assert_eq!(t.metric, Metric::HttpReqWaiting);
        assert_eq!(t.metric.phase(), Some(4));
        assert_eq!(t.selector, Some(("region".into(), "eu-west-1".into())));
        assert_eq!(
            parse("http_req_connecting{name:home}", "max<50").stat,
            Stat::Max
        );
        assert!(error("http_req_sending", "rate<1").contains("does not apply"));
        assert!(
            error("http_req_receiving", "avg<5ms")
                .contains("http_req_receiving is in milliseconds")
        );
    }

    #[test]
    fn the_logs_tags_can_filter_and_check_names_filter_checks_only() {
        for (key, tag, value) in [
            ("http_req_duration{status:200}", "status", "200"),
            ("http_reqs{method:GET}", "method", "GET"),
            ("http_req_failed{scenario:browse}", "scenario", "browse"),
            (
                "http_req_duration{expected_response:true}",
                "expected_response",
                "true",
            ),
            ("checks{check:status is 200}", "check", "status is 200"),
            ("http_reqs{served_by:us-east-1}", "served_by", "us-east-1"),
        ] {
            let expr = if key.starts_with("http_req_duration") {
                "p(95)<1"
            } else {
                "rate<1"
            };
            assert_eq!(
                parse(key, expr).selector,
                Some((tag.into(), value.into())),
                "{key}"
            );
        }
        assert!(error("checks{name:home}", "rate>0.9").contains("filtered by `check` only"));
        assert!(error("http_reqs{check:x}", "count>1").contains("checks only"));
        assert!(error("dropped_iterations{status:200}", "count<1").contains("region only"));
    }

    #[test]
    fn iterations_are_a_counter_and_their_duration_a_trend_by_region_or_scenario() {
        assert_eq!(parse("iterations", "count>10").metric, Metric::Iterations);
        assert_eq!(
            parse("iterations{scenario:browse}", "rate>1").stat,
            Stat::Rate
        );
        let t = parse("iteration_duration{region:eu-west-1}", "p(95)<900");
        assert_eq!(t.metric, Metric::IterationDuration);
        assert!(error("iterations{name:home}", "count>1").contains("filter by region only"));
        assert!(error("iteration_duration", "count>1").contains("does not apply"));
    }

    #[test]
    fn data_sent_and_received_are_byte_counters_filtered_by_request_tags() {
        let t = parse("data_received", "count>=1000000");
        assert_eq!((t.metric, t.stat), (Metric::DataReceived, Stat::Count));
        let t = parse("data_sent{name:home}", "rate<1000000");
        assert_eq!(t.metric, Metric::DataSent);
        assert_eq!(t.selector, Some(("name".into(), "home".into())));
        assert!(
            parse("data_sent{load_zone:amazon:us:ashburn}", "count>1")
                .selector
                .is_some()
        );
        assert!(error("data_sent{status:200}", "count>1").contains("per request"));
        assert!(error("data_received", "p(95)<1").contains("does not apply"));
    }

    #[test]
    fn vus_and_vus_max_are_gauges_by_value_min_or_max_filtered_by_region_or_scenario() {
        let t = parse("vus_max", "value<=100");
        assert_eq!((t.metric, t.stat), (Metric::VusMax, Stat::Value));
        let t = parse("vus{region:us-east-1}", "max>=5");
        assert_eq!((t.metric, t.stat), (Metric::Vus, Stat::Max));
        assert_eq!(t.selector, Some(("region".into(), "us-east-1".into())));
        assert_eq!(parse("vus{scenario:browse}", "min>0").stat, Stat::Min);
        assert!(error("vus", "count>1").contains("value, min or max"));
        assert!(error("vus{name:home}", "max>1").contains("per scenario"));
        assert!(error("http_req_duration", "value<1").contains("does not apply"));
    }
}
