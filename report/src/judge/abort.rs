//! k6's `abortOnFail` while a run goes: [`failed`] judges the thresholds marked
//! `abortOnFail` whose `delayAbortEval` (counted from the run's start) has passed
//! on the live merged state, through the same evaluation as the summary's
//! ([`super::Observed`]), and names the first that fails on data.
//!
//! It does not stop the run (`run` writes the stop order through the kill switch)
//! and does not judge thresholds without `abortOnFail` (the summary does, at the
//! end). A threshold without data yet is not failed here.

use std::time::SystemTime;

use super::Observed;
use crate::collect::Collected;

/// The first due `abortOnFail` threshold that fails on `collected` at `now`, as
/// `metric expr` (e.g. `http_req_duration p(95)<1`); `None` when none fails, none
/// is due yet or there is no data for it.
pub fn failed(collected: &Collected, now: SystemTime) -> Option<String> {
    let plan = &collected.plan;
    let elapsed = now.duration_since(plan.start_at).ok()?;
    let mut due = plan
        .thresholds
        .iter()
        .filter(|t| t.abort_on_fail && elapsed >= t.delay_abort_eval)
        .peekable();
    due.peek()?;
    let observed = Observed::of(collected, None);
    due.find_map(|t| {
        let verdict = observed.verdict(t);
        (verdict.observed.is_some() && !verdict.ok)
            .then(|| format!("{} {}", verdict.metric, verdict.expr))
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use sls_load_plan::plan;

    use super::*;
    use crate::summary::{Ending, Summary};

    const SCENARIO: &str = r#"
target: http://127.0.0.1:9
duration: 30s
scenarios:
  steady:
    executor: constant-arrival-rate
    rate: 10
    requests:
      - { name: home, url: / }
thresholds:
  http_req_duration:
    - avg>100
    - { threshold: p(95)<1, abortOnFail: true, delayAbortEval: 2s }
"#;

    /// A run of [`SCENARIO`] whose merged state holds requests of `latency_ms`.
    fn collected(latency_ms: &[u64]) -> Collected {
        let scenario = sls_load_plan::scenario::parse(Path::new("abort.yaml"), SCENARIO.as_bytes())
            .expect("parses");
        let options = sls_load_plan::testing::options();
        let mut collected = Collected::new(plan::plan(&scenario, &options).expect("plans"));
        for ms in latency_ms {
            collected
                .merged
                .total
                .duration
                .record(ms * 1000)
                .expect("records");
        }
        collected
    }

    fn at(collected: &Collected, secs: u64) -> SystemTime {
        collected.plan.start_at + Duration::from_secs(secs)
    }

    #[test]
    fn an_abort_on_fail_threshold_is_judged_only_after_its_delay_and_on_data() {
        let slow = collected(&[2, 3, 4]);
        assert_eq!(failed(&slow, at(&slow, 1)), None, "before delayAbortEval");
        assert_eq!(
            failed(&slow, at(&slow, 2)).as_deref(),
            Some("http_req_duration p(95)<1")
        );
        let empty = collected(&[]);
        assert_eq!(failed(&empty, at(&empty, 5)), None, "no data is no failure");
    }

    #[test]
    fn a_threshold_without_abort_on_fail_never_aborts() {
        // avg>100 fails on these, but only the summary judges it, at the end.
        let fast = collected(&[0, 0, 0]);
        assert_eq!(failed(&fast, at(&fast, 10)), None);
        let summary = Summary::build(&fast, Ending::default());
        assert!(!summary.thresholds[0].ok && summary.thresholds[1].ok);
    }
}
