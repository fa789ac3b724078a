//! Specifications of `compare`'s tolerances and verdicts.

use super::*;
use crate::testing::sample_summary as sample;

/// Run A: the sample (one region us-east-1, one request home).
fn run_a() -> Summary {
    sample()
}

/// Run A with `change` applied to every scope's figures.
fn run_b(change: impl Fn(&mut Figures)) -> Summary {
    let mut b = sample();
    b.run_id = "run-b".parse().expect("run id");
    change(&mut b.total);
    b.regions.values_mut().for_each(&change);
    b.requests.values_mut().for_each(&change);
    b
}

fn compare(b: &Summary, tolerance: &str) -> Comparison {
    let tol = Tolerances::parse(tolerance).expect("tolerances");
    Comparison::new(&run_a(), b, &tol)
}

#[test]
fn defaults_gate_p95_at_10_percent_p99_at_20_percent_and_errors_at_half_a_point() {
    let t = Tolerances::default();
    assert_eq!(t.p95, Some(10.0));
    assert_eq!(t.p99, Some(20.0));
    assert_eq!(t.errors, Some(0.5));
    assert_eq!((t.p50, t.rps), (None, None), "not gated unless given");
    assert_eq!(Tolerances::parse("").expect("empty"), t);
}

#[test]
fn given_tolerances_replace_the_defaults_and_off_ungates_a_figure() {
    let t = Tolerances::parse("p95=5%, errors=1.5pp,rps=10%,p50=50%,p99=off").expect("parse");
    assert_eq!(t.p95, Some(5.0));
    assert_eq!(t.errors, Some(1.5));
    assert_eq!(t.rps, Some(10.0));
    assert_eq!(t.p50, Some(50.0));
    assert_eq!(t.p99, None);
    assert_eq!(t.describe(), "rps -10%, errors +1.5pp, p50 +50%, p95 +5%");
}

#[test]
fn tolerances_with_a_wrong_unit_figure_or_shape_are_refused() {
    let bad = |text: &str| Tolerances::parse(text).expect_err(text);
    assert!(matches!(bad("p95"), ToleranceError::NoValue(_)));
    assert!(matches!(bad("p90=10%"), ToleranceError::UnknownFigure(_)));
    for text in ["p95=10", "p95=10pp", "errors=0.5%", "rps=-5%", "p99=x%"] {
        assert!(
            matches!(bad(text), ToleranceError::BadValue { .. }),
            "{text}"
        );
    }
    assert_eq!(
        bad("errors=1%").to_string(),
        "--tolerance `errors=1%`: expected Npp, e.g. 0.5pp (a number, 0 or more), or `off`"
    );
}

#[test]
fn a_run_compared_with_itself_has_no_regression() {
    let c = compare(&run_a(), "rps=0%,p50=0%,p95=0%,p99=0%,errors=0pp");
    assert!(!c.regressed(), "{:?}", c.regressions);
    assert!(c.rows.iter().all(|r| r.verdict == Verdict::Ok));
    let scopes: Vec<&str> = c.rows.iter().map(|r| r.scope.as_str()).collect();
    assert_eq!(scopes, ["total", "region us-east-1", "request home"]);
}

#[test]
fn latency_higher_beyond_its_percent_regresses_and_is_named() {
    // p95 8% higher: within 10%, beyond 5%.
    let b = run_b(|f| f.latency_ms.p95 *= 1.08);
    assert!(!compare(&b, "").regressed());
    let c = compare(&b, "p95=5%");
    assert_eq!(
        c.regressions[1],
        "p95 of region us-east-1: 6.92ms → 7.47ms (+8.0%) > 5%"
    );
    assert_eq!(c.rows[1].verdict, Verdict::Regression);
    // Lower latency is never a regression.
    assert!(!compare(&run_b(|f| f.latency_ms.p99 = 0.1), "p99=0%").regressed());
}

#[test]
fn p50_is_gated_only_when_given() {
    let b = run_b(|f| f.latency_ms.p50 = 12.0);
    assert!(!compare(&b, "").regressed());
    let c = compare(&b, "p50=100%");
    assert!(c.regressions[0].starts_with("p50 of total: 1.20ms → 12.00ms (+900%) > 100%"));
}

#[test]
fn error_rate_higher_beyond_its_points_regresses() {
    // Total 12/1210 = 0.99%; 30/1210 = 2.48%: +1.49pp.
    let b = run_b(|f| f.errors = 30 * f.requests / 1210);
    let c = compare(&b, "");
    assert!(c.regressions[0].starts_with("errors of total: 0.99% → 2.48% (+1.49pp) > 0.5pp"));
    assert!(!compare(&b, "errors=2pp").regressed());
    assert!(!compare(&run_b(|f| f.errors = 0), "errors=0pp").regressed());
}

#[test]
fn rps_lower_beyond_its_percent_regresses_and_higher_does_not() {
    let slower = run_b(|f| f.rps *= 0.8);
    assert!(
        !compare(&slower, "").regressed(),
        "rps not gated by default"
    );
    let c = compare(&slower, "rps=10%");
    assert!(
        c.regressions[0].ends_with("(-20.0%) < -10%"),
        "{:?}",
        c.regressions
    );
    assert!(!compare(&slower, "rps=25%").regressed());
    assert!(!compare(&run_b(|f| f.rps *= 3.0), "rps=0%").regressed());
}

#[test]
fn a_scope_in_one_run_only_is_shown_but_not_gated() {
    let mut b = run_a();
    let region = b.regions.remove("us-east-1").expect("region");
    b.regions.insert("eu-west-1".to_owned(), region);
    let c = compare(&b, "");
    let verdict = |scope: &str| c.rows.iter().find(|r| r.scope == scope).map(|r| r.verdict);
    assert_eq!(verdict("region eu-west-1"), Some(Verdict::OnlyInB));
    assert_eq!(verdict("region us-east-1"), Some(Verdict::OnlyInA));
    assert!(!c.regressed());
}

#[test]
fn the_text_shows_both_runs_side_by_side_and_lists_each_regression() {
    let c = compare(&run_b(|f| f.latency_ms.p95 *= 10.0), "");
    let text = render(&c);
    assert!(
        text.starts_with(
            "compare sample-run (A) → run-b (B); tolerances: errors +0.5pp, p95 +10%, p99 +20%\n"
        ),
        "{text}"
    );
    assert!(text.contains("\nregion us-east-1: REGRESSION\n"), "{text}");
    assert!(
        text.contains("  p95           6.92ms      69.17ms      +900%  ✗ beyond +10%\n"),
        "{text}"
    );
    assert!(
        text.contains("\n3 regression(s):\n  p95 of total: "),
        "{text}"
    );
    assert!(render(&compare(&run_a(), "")).ends_with("\nno regression\n"));
}
