//! k6 threshold expressions: `http_req_duration: ["p(95)<500"]` parsed into a typed
//! [`Threshold`] that can say whether an observed value passes.
//!
//! This module owns the expression grammar (aggregation, operator, value), the
//! metric names and which aggregations each metric allows, and the optional k6
//! tag filter in the metric key (`http_req_duration{name:home}`). It does not read
//! files, know where thresholds sit in a scenario file (see `scenario`), compute
//! any statistic, or check that a tag filter names a request or region that exists.

mod custom;

use std::fmt;

use thiserror::Error;

pub use custom::{CustomKind, CustomMetric, GROUP_DURATION, is_metric_name};

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
    /// A k6 script's own metric (`new Rate('errors')`), or `group_duration`.
    Custom(CustomMetric),
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
            Metric::Custom(c) => c.name,
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
            Metric::Custom(c) => match c.kind {
                CustomKind::Counter => Kind::Counter,
                CustomKind::Gauge => Kind::Gauge,
                CustomKind::Rate => Kind::Rate,
                CustomKind::Trend => Kind::Trend,
            },
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
///
/// Parsed once, from the scenario; the plan stores it as the strings written
/// (`{"metric": "http_req_duration{name:home}", "expr": "p(95)<500"}`, plus
/// `abort_on_fail` and `delay_abort_eval` when set) and parses them again when
/// a stored plan is read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(into = "Stored", try_from = "Stored")]
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

/// A [`Threshold`] as `plan.json` stores it: the metric key and expression as
/// written, and k6's abort options.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    /// The metric key, e.g. `http_req_duration{name:home}`.
    metric: String,
    /// The expression, e.g. `p(95)<500`.
    expr: String,
    /// `abortOnFail`; absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    abort_on_fail: bool,
    /// `delayAbortEval`, counted from `start_at`; absent when zero.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "std::time::Duration::is_zero"
    )]
    delay_abort_eval: std::time::Duration,
    /// A script's custom metric: its kind (absent for k6's built-in metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    custom: Option<StoredCustom>,
}

/// A custom metric's declaration as `plan.json` stores it.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredCustom {
    kind: CustomKind,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    time: bool,
}

impl From<Threshold> for Stored {
    fn from(t: Threshold) -> Stored {
        let custom = match t.metric {
            Metric::Custom(c) => Some(StoredCustom {
                kind: c.kind,
                time: c.time,
            }),
            _ => None,
        };
        Stored {
            metric: t.metric_name(),
            expr: t.expr,
            abort_on_fail: t.abort_on_fail,
            delay_abort_eval: t.delay_abort_eval,
            custom,
        }
    }
}

impl TryFrom<Stored> for Threshold {
    type Error = ThresholdError;

    fn try_from(s: Stored) -> Result<Threshold, ThresholdError> {
        let name = s.metric.split('{').next().unwrap_or_default().trim();
        let declared: Vec<CustomMetric> = s
            .custom
            .and_then(|c| CustomMetric::new(name, c.kind, c.time))
            .into_iter()
            .collect();
        Ok(Threshold {
            abort_on_fail: s.abort_on_fail,
            delay_abort_eval: s.delay_abort_eval,
            ..Threshold::parse_with(&s.metric, &s.expr, &declared)?
        })
    }
}

/// Tags a threshold's metric key may filter on.
const TAGS: &str =
    "name, region, status, method, scenario, expected_response, check, served_by, event";

impl Threshold {
    /// Parses one k6 threshold: `metric_key` is the key of the `thresholds` mapping
    /// (`http_req_duration` or `http_req_duration{name:home}`), `expr` one entry of its
    /// list (`p(95)<500`). Whitespace around the operator is allowed.
    pub fn parse(metric_key: &str, expr: &str) -> Result<Threshold, ThresholdError> {
        Threshold::parse_with(metric_key, expr, &[])
    }

    /// [`Threshold::parse`] for a script, whose thresholds may name its own
    /// metrics (`declared`) besides k6's.
    pub fn parse_with(
        metric_key: &str,
        expr: &str,
        declared: &[CustomMetric],
    ) -> Result<Threshold, ThresholdError> {
        let (metric, selector) = parse_metric_key_with(metric_key, declared)?;
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
    parse_metric_key_with(key, &[])
}

/// [`parse_metric_key`] where the script's own metrics (`declared`) may be
/// named too; a custom metric may be filtered by any tag.
pub fn parse_metric_key_with(
    key: &str,
    declared: &[CustomMetric],
) -> Result<(Metric, Option<(String, String)>), ThresholdError> {
    let fail = |reason: String| ThresholdError {
        metric_key: key.to_owned(),
        expr: None,
        reason,
    };
    let trimmed = key.trim();
    let custom = custom_named(trimmed, declared);
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
                Some(parse_selector(name.trim(), inner, custom.is_some()).map_err(&fail)?),
            )
        }
    };
    if let Some(c) = custom {
        return Ok((Metric::Custom(c), selector));
    }
    let Some(metric) = Metric::from_name(name) else {
        return Err(fail(unknown_metric(name, declared)));
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

/// The script's metric a `thresholds` key names, if it names one.
fn custom_named(key: &str, declared: &[CustomMetric]) -> Option<CustomMetric> {
    let name = key.split('{').next().unwrap_or_default().trim();
    declared.iter().find(|c| c.name == name).copied()
}

/// Why `name` is no metric: the names that are, k6's and the script's.
fn unknown_metric(name: &str, declared: &[CustomMetric]) -> String {
    let mut known: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
    known.extend(declared.iter().map(|c| c.name));
    let whose = match declared.is_empty() {
        true => "supported",
        false => "k6's and the script's",
    };
    format!("unknown metric `{name}` ({whose}: {})", known.join(", "))
}

fn parse_selector(metric: &str, inner: &str, custom: bool) -> Result<(String, String), String> {
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
    if custom {
        // A script's metric carries whatever tags the script gave its samples.
        return Ok((tag.to_owned(), value.to_owned()));
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
mod tests;
