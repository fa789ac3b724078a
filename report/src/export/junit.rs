//! `--junit FILE`: the summary as a JUnit XML report that CI systems show as test
//! results, written with `quick-junit`.
//!
//! Two suites: `thresholds`, one test case per threshold, failed when crossed
//! (or without data) with the observed value and its unit in the message; and
//! `checks`, one test case per check name, failed only when some evaluation
//! failed (as in k6, a failed check does not fail the run), with the passes and
//! fails in the message. Case names follow k6's own JUnit output
//! (`http_req_duration - p(95)<500`). It does not judge thresholds or count
//! checks: both come from the [`Summary`].

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::readable;
use crate::summary::{CheckFigures, Summary, ThresholdResult};

/// `--junit`: the JUnit XML report.
pub struct Junit;

impl super::Exporter for Junit {
    fn export(&self, summary: &Summary) -> Result<Vec<u8>, super::ExportError> {
        Ok(report(summary).to_string()?.into_bytes())
    }
}

/// The JUnit report of `s`.
pub fn report(s: &Summary) -> Report {
    let mut report = Report::new(format!("sls-load {}", s.run_id));
    report.set_time(duration(s.duration_s));
    let mut thresholds = suite("thresholds", s);
    thresholds.add_test_cases(s.thresholds.iter().map(threshold_case));
    report.add_test_suite(thresholds);
    let mut checks = suite("checks", s);
    checks.add_test_cases(s.checks.iter().map(|(name, c)| check_case(name, c)));
    report.add_test_suite(checks);
    report
}

/// An empty suite named `name`, with the run's id (and whether it was
/// interrupted) as properties.
fn suite(name: &str, s: &Summary) -> TestSuite {
    let mut suite = TestSuite::new(name);
    suite.set_time(duration(s.duration_s));
    suite.add_property(Property::new("run_id", s.run_id.to_string()));
    suite.add_property(Property::new("scenario", s.scenario_file.as_str()));
    if s.interrupted {
        suite.add_property(Property::new("interrupted", "true"));
    }
    suite
}

/// One threshold: failed when crossed, or when there was no data to judge it.
fn threshold_case(t: &ThresholdResult) -> TestCase {
    let observed = readable::observed(t);
    let status = if t.ok {
        TestCaseStatus::success()
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status
            .set_type("threshold crossed")
            .set_message(match t.observed {
                Some(_) => format!("{} {}: observed {observed}", t.metric, t.expr),
                None => format!("{} {}: no data to judge it", t.metric, t.expr),
            });
        status
    };
    let mut case = TestCase::new(format!("{} - {}", t.metric, t.expr), status);
    case.set_classname("thresholds");
    case.add_property(Property::new("observed", observed));
    case
}

/// One check: failed when any of its evaluations failed.
fn check_case(name: &str, c: &CheckFigures) -> TestCase {
    let counts = format!(
        "{} passed, {} failed ({} passed)",
        readable::thousands(c.passes),
        readable::thousands(c.fails),
        readable::percent(c.rate)
    );
    let status = if c.fails == 0 {
        TestCaseStatus::success()
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status
            .set_type("check failed")
            .set_message(format!("{name}: {counts}"));
        status
    };
    let mut case = TestCase::new(name, status);
    case.set_classname("checks");
    case.add_property(Property::new("passes", c.passes.to_string()));
    case.add_property(Property::new("fails", c.fails.to_string()));
    case
}

/// Seconds as a [`Duration`]; nothing for a negative or non-finite value.
fn duration(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::sample_summary as sample;

    #[test]
    fn each_threshold_and_check_is_one_case_failed_only_when_crossed_or_failing() {
        let xml = report(&sample()).to_string().expect("encodes");
        assert!(xml.starts_with("<?xml"), "{xml}");
        assert!(
            xml.contains(
                r#"<testsuites name="sls-load sample-run" tests="5" skipped="0" failures="2""#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(
                r#"<testsuite name="thresholds" tests="3" skipped="0" errors="0" failures="1""#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(
                r#"<testsuite name="checks" tests="2" skipped="0" errors="0" failures="1""#
            ),
            "{xml}"
        );
        // The crossed threshold names its observed value with its unit.
        assert!(
            xml.contains(
                r#"<failure message="http_req_duration p(95)&lt;1: observed 6.92ms" type="threshold crossed"/>"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(
                r#"<testcase name="http_req_failed - rate&lt;0.5" classname="thresholds""#
            ),
            "{xml}"
        );
        // A check with a failed evaluation fails its case, with the counts.
        assert!(
            xml.contains(
                r#"<failure message="says ok: 1,203 passed, 7 failed (99.40% passed)" type="check failed"/>"#
            ),
            "{xml}"
        );
        assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
    }

    #[test]
    fn a_threshold_without_data_fails_and_says_so() {
        let mut s = sample();
        s.thresholds[0].observed = None;
        let xml = report(&s).to_string().expect("encodes");
        assert!(
            xml.contains(r#"message="http_req_duration p(95)&lt;1: no data to judge it""#),
            "{xml}"
        );
    }
}
