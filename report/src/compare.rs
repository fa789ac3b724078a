//! `sls-load compare`'s judgement: two runs' summaries side by side, per region,
//! per request and in total, with the deltas of rps, error rate and p50/p95/p99,
//! and a verdict per row against [`Tolerances`] (`--tolerance p95=10%,errors=0.5pp`).
//!
//! Run B regresses on run A when its latency is higher by more than the figure's
//! `%` tolerance, its error rate higher by more than the `pp` tolerance, or its rps
//! lower by more than the `%` tolerance. A figure without a tolerance is shown but
//! not gated. This module does no IO: it neither reads the store nor prints (that
//! is `commands::compare`).

use serde::Serialize;

use crate::readable;
use crate::summary::{Figures, Summary};

/// A tolerance that could not be read from `--tolerance`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToleranceError {
    /// An item without `=`.
    #[error("--tolerance `{0}`: expected FIGURE=VALUE, e.g. p95=10% or errors=0.5pp")]
    NoValue(String),
    /// A figure that is not gated by a tolerance.
    #[error("--tolerance `{0}`: unknown figure; known: rps, errors, p50, p95, p99")]
    UnknownFigure(String),
    /// A value that is not `N%` (`Npp` for errors), 0 or more, or `off`.
    #[error("--tolerance `{item}`: expected {expected} (a number, 0 or more), or `off`")]
    BadValue {
        /// The item as typed.
        item: String,
        /// `10%` or `0.5pp`.
        expected: &'static str,
    },
}

/// A figure compared between two runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// Requests per second: a regression when lower.
    Rps,
    /// Error rate: a regression when higher, in percentage points.
    Errors,
    /// Median latency.
    P50,
    /// 95th percentile latency.
    P95,
    /// 99th percentile latency.
    P99,
}

impl Figure {
    /// Every figure, in the order shown.
    pub const ALL: [Figure; 5] = [
        Figure::Rps,
        Figure::Errors,
        Figure::P50,
        Figure::P95,
        Figure::P99,
    ];

    /// The name used in `--tolerance` and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Figure::Rps => "rps",
            Figure::Errors => "errors",
            Figure::P50 => "p50",
            Figure::P95 => "p95",
            Figure::P99 => "p99",
        }
    }

    fn of(self, f: &Figures) -> f64 {
        match self {
            Figure::Rps => f.rps,
            Figure::Errors => error_rate(f),
            Figure::P50 => f.latency_ms.p50,
            Figure::P95 => f.latency_ms.p95,
            Figure::P99 => f.latency_ms.p99,
        }
    }

    /// The value as people read it: `20.0/s`, `0.50%`, `2.10ms`.
    fn show(self, v: f64) -> String {
        match self {
            Figure::Rps => format!("{}/s", readable::decimal(v, 1)),
            Figure::Errors => readable::percent(v),
            _ => readable::ms(v),
        }
    }
}

/// The error rate of a scope: failed requests over requests (0 without any).
fn error_rate(f: &Figures) -> f64 {
    if f.requests == 0 {
        0.0
    } else {
        f.errors as f64 / f.requests as f64
    }
}

/// How much worse run B may be than run A, per figure; `None` is not gated.
/// Latency and rps are in percent of A's value, errors in percentage points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tolerances {
    /// rps lower by more than this % regresses.
    pub rps: Option<f64>,
    /// Error rate higher by more than this many percentage points regresses.
    pub errors: Option<f64>,
    /// p50 higher by more than this % regresses.
    pub p50: Option<f64>,
    /// p95 higher by more than this % regresses.
    pub p95: Option<f64>,
    /// p99 higher by more than this % regresses.
    pub p99: Option<f64>,
}

impl Default for Tolerances {
    /// p95 10%, p99 20%, errors 0.5pp; rps and p50 not gated.
    fn default() -> Self {
        Tolerances {
            rps: None,
            errors: Some(0.5),
            p50: None,
            p95: Some(10.0),
            p99: Some(20.0),
        }
    }
}

impl Tolerances {
    /// The defaults with the items of `text` (`p95=10%,errors=0.5pp,p99=off`)
    /// replacing theirs.
    pub fn parse(text: &str) -> Result<Tolerances, ToleranceError> {
        let mut t = Tolerances::default();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| ToleranceError::NoValue(item.to_owned()))?;
            let figure = Figure::ALL
                .into_iter()
                .find(|f| f.name() == name.trim())
                .ok_or_else(|| ToleranceError::UnknownFigure(item.to_owned()))?;
            let (unit, expected) = match figure {
                Figure::Errors => ("pp", "Npp, e.g. 0.5pp"),
                _ => ("%", "N%, e.g. 10%"),
            };
            let value = value.trim();
            let parsed = if value == "off" {
                None
            } else {
                let n = value
                    .strip_suffix(unit)
                    .and_then(|n| n.trim().parse::<f64>().ok())
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .ok_or(ToleranceError::BadValue {
                        item: item.to_owned(),
                        expected,
                    })?;
                Some(n)
            };
            *t.slot(figure) = parsed;
        }
        Ok(t)
    }

    fn slot(&mut self, figure: Figure) -> &mut Option<f64> {
        match figure {
            Figure::Rps => &mut self.rps,
            Figure::Errors => &mut self.errors,
            Figure::P50 => &mut self.p50,
            Figure::P95 => &mut self.p95,
            Figure::P99 => &mut self.p99,
        }
    }

    /// The tolerance of `figure`.
    pub fn of(&self, figure: Figure) -> Option<f64> {
        let mut copy = *self;
        *copy.slot(figure)
    }

    /// The gated figures as text: `errors +0.5pp, p95 +10%, p99 +20%`.
    pub fn describe(&self) -> String {
        let gated: Vec<String> = Figure::ALL
            .into_iter()
            .filter_map(|f| self.of(f).map(|t| format!("{} {}", f.name(), limit(f, t))))
            .collect();
        if gated.is_empty() {
            "none".to_owned()
        } else {
            gated.join(", ")
        }
    }
}

/// A tolerance as a limit: `+10%`, `+0.5pp`, rps `-10%`.
fn limit(figure: Figure, t: f64) -> String {
    match figure {
        Figure::Rps => format!("-{t}%"),
        Figure::Errors => format!("+{t}pp"),
        _ => format!("+{t}%"),
    }
}

/// One figure of one row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    /// Which figure.
    pub figure: Figure,
    /// Run A's value (rps, error rate as a fraction, or ms).
    pub a: f64,
    /// Run B's value.
    pub b: f64,
    /// B against A: percent for rps and latency (`None` when A is 0), percentage
    /// points for the error rate.
    pub change: Option<f64>,
    /// The tolerance applied, if the figure is gated.
    pub tolerance: Option<f64>,
    /// Whether B is worse than A beyond the tolerance.
    pub regressed: bool,
}

impl Delta {
    fn new(figure: Figure, a: &Figures, b: &Figures, tolerance: Option<f64>) -> Delta {
        let (a, b) = (figure.of(a), figure.of(b));
        let change = match figure {
            Figure::Errors => Some((b - a) * 100.0),
            _ if a > 0.0 => Some((b - a) / a * 100.0),
            _ => None,
        };
        let regressed = tolerance.is_some_and(|t| match figure {
            Figure::Rps => change.is_some_and(|c| -c > t),
            Figure::Errors => change.is_some_and(|c| c > t),
            // From no latency at all to some is worse by any measure.
            _ => change.map_or(b > 0.0, |c| c > t),
        });
        Delta {
            figure,
            a,
            b,
            change,
            tolerance,
            regressed,
        }
    }

    /// The change as text: `+2443%`, `-3.1%`, `+0.20pp`, `n/a`.
    pub fn change_text(&self) -> String {
        match (self.figure, self.change) {
            (Figure::Errors, Some(c)) => format!("{c:+.2}pp"),
            (_, Some(c)) if c.abs() >= 100.0 => format!("{c:+.0}%"),
            (_, Some(c)) => format!("{c:+.1}%"),
            (_, None) => "n/a".to_owned(),
        }
    }

    /// Run A's value as text.
    pub fn a_text(&self) -> String {
        self.figure.show(self.a)
    }

    /// Run B's value as text.
    pub fn b_text(&self) -> String {
        self.figure.show(self.b)
    }
}

/// What a row says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing gated is worse beyond its tolerance.
    Ok,
    /// At least one gated figure is.
    Regression,
    /// The scope is in run A only (not gated).
    OnlyInA,
    /// The scope is in run B only (not gated).
    OnlyInB,
}

impl Verdict {
    /// As shown: `ok`, `REGRESSION`, `only in A`, `only in B`.
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Regression => "REGRESSION",
            Verdict::OnlyInA => "only in A",
            Verdict::OnlyInB => "only in B",
        }
    }
}

/// One scope compared: the total, a region or a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// `total`, `region eu-west-1` or `request home`.
    pub scope: String,
    /// Each figure; empty when the scope is in one run only.
    pub deltas: Vec<Delta>,
    /// The row's verdict.
    pub verdict: Verdict,
}

impl Row {
    fn new(scope: String, a: Option<&Figures>, b: Option<&Figures>, tol: &Tolerances) -> Row {
        let (a, b) = match (a, b) {
            (Some(a), Some(b)) => (a, b),
            (a, _) => {
                let verdict = if a.is_some() {
                    Verdict::OnlyInA
                } else {
                    Verdict::OnlyInB
                };
                return Row {
                    scope,
                    deltas: Vec::new(),
                    verdict,
                };
            }
        };
        let deltas: Vec<Delta> = Figure::ALL
            .into_iter()
            .map(|f| Delta::new(f, a, b, tol.of(f)))
            .collect();
        let verdict = if deltas.iter().any(|d| d.regressed) {
            Verdict::Regression
        } else {
            Verdict::Ok
        };
        Row {
            scope,
            deltas,
            verdict,
        }
    }
}

/// Two runs compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The baseline run.
    pub run_a: String,
    /// The run judged against it.
    pub run_b: String,
    /// The tolerances applied.
    pub tolerances: Tolerances,
    /// The total, then each region, then each request (by name).
    pub rows: Vec<Row>,
    /// Every regressed figure, worded as [`Comparison::regressions`] does.
    pub regressions: Vec<String>,
}

impl Comparison {
    /// Compares run B's summary with run A's.
    pub fn new(a: &Summary, b: &Summary, tol: &Tolerances) -> Comparison {
        let mut rows = vec![Row::new(
            "total".to_owned(),
            Some(&a.total),
            Some(&b.total),
            tol,
        )];
        for (kind, sa, sb) in [
            ("region", &a.regions, &b.regions),
            ("request", &a.requests, &b.requests),
        ] {
            let mut names: Vec<&String> = sa.keys().chain(sb.keys()).collect();
            names.sort();
            names.dedup();
            rows.extend(
                names
                    .into_iter()
                    .map(|n| Row::new(format!("{kind} {n}"), sa.get(n), sb.get(n), tol)),
            );
        }
        let regressions = rows
            .iter()
            .flat_map(|r| {
                r.deltas
                    .iter()
                    .filter(|d| d.regressed)
                    .map(move |d| regression_text(&r.scope, d))
            })
            .collect();
        Comparison {
            run_a: a.run_id.to_string(),
            run_b: b.run_id.to_string(),
            tolerances: *tol,
            rows,
            regressions,
        }
    }

    /// Whether any gated figure regressed.
    pub fn regressed(&self) -> bool {
        !self.regressions.is_empty()
    }
}

/// `p95 of region eu-west-1: 2.10ms → 53.40ms (+2443%) > 10%`.
fn regression_text(scope: &str, d: &Delta) -> String {
    let tol = d.tolerance.unwrap_or_default();
    let bound = match d.figure {
        Figure::Rps => format!("< -{tol}%"),
        Figure::Errors => format!("> {tol}pp"),
        _ => format!("> {tol}%"),
    };
    format!(
        "{} of {scope}: {} → {} ({}) {bound}",
        d.figure.name(),
        d.a_text(),
        d.b_text(),
        d.change_text()
    )
}

/// The comparison as terminal text: a block per row, then the regressions.
pub fn render(c: &Comparison) -> String {
    let mut out = format!(
        "compare {} (A) → {} (B); tolerances: {}\n",
        c.run_a,
        c.run_b,
        c.tolerances.describe()
    );
    for row in &c.rows {
        out.push_str(&format!("\n{}: {}\n", row.scope, row.verdict.text()));
        for d in &row.deltas {
            let mark = match (d.tolerance, d.regressed) {
                (None, _) => String::new(),
                (Some(t), true) => format!("✗ beyond {}", limit(d.figure, t)),
                (Some(t), false) => format!("✓ within {}", limit(d.figure, t)),
            };
            let line = format!(
                "  {:<7} {:>12} {:>12} {:>10}  {mark}",
                d.figure.name(),
                d.a_text(),
                d.b_text(),
                d.change_text()
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    if c.regressions.is_empty() {
        out.push_str("\nno regression\n");
    } else {
        out.push_str(&format!("\n{} regression(s):\n", c.regressions.len()));
        for r in &c.regressions {
            out.push_str(&format!("  {r}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
