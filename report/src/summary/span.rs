//! How long a run's load actually ran, the time every rate of the summary is
//! per (rps, iterations/s, data/s, counters' `rate` thresholds, and so
//! `compare`): the planned duration for a run that ran to its end; for one
//! stopped or aborted before it, from the agreed start to the last worker's
//! finish (its last in-flight request settled, per its manifest), within the
//! planned duration, and likewise per region from that region's workers; never
//! before the last second with data began. Without any manifest the end of that
//! second stands in.
//!
//! It reads the collected run only; it judges and renders nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use sls_load_core::job::Region;

use crate::collect::Collected;

/// The load's duration, seconds, in total and per region.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Span {
    /// The whole run's.
    pub(super) total: f64,
    /// Each region's (a region without manifests has the total's).
    regions: BTreeMap<Region, f64>,
    /// The planned duration when the load ran shorter than it.
    pub(super) planned: Option<f64>,
}

impl Span {
    /// How long the load of a run ran: `cut` when it was stopped or aborted
    /// before its end; `last_second` is the last second with data.
    pub(super) fn of(collected: &Collected, cut: bool, last_second: Option<u64>) -> Span {
        let planned = collected.plan.duration.as_secs_f64();
        if !cut {
            return Span {
                total: planned,
                regions: BTreeMap::new(),
                planned: None,
            };
        }
        let start = collected.plan.start_at;
        let mut regions: BTreeMap<Region, f64> = BTreeMap::new();
        for ((region, _), m) in &collected.manifests {
            let ran = m
                .finished_at
                .duration_since(start)
                .unwrap_or(Duration::ZERO)
                .as_secs_f64()
                .min(planned);
            let r = regions.entry(region.clone()).or_insert(0.0);
            *r = r.max(ran);
        }
        // The manifests' latest finish, but never before the last second with
        // data began (workers of a later slice may not have reported).
        let total = match (regions.values().copied().reduce(f64::max), last_second) {
            (Some(finished), Some(t)) => finished.max(t as f64),
            (Some(finished), None) => finished,
            (None, Some(t)) => (t + 1) as f64,
            (None, None) => planned,
        }
        .min(planned);
        let total = (total * 1000.0).round() / 1000.0;
        let regions = regions
            .into_iter()
            .map(|(r, s)| (r, (s * 1000.0).round() / 1000.0))
            .collect();
        Span {
            total,
            regions,
            planned: (total < planned).then_some(planned),
        }
    }

    /// One region's.
    pub(super) fn region(&self, region: &Region) -> f64 {
        self.regions.get(region).copied().unwrap_or(self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sls_load_core::job::{Manifest, WorkerId};

    const SCENARIO: &str = r#"
target: http://127.0.0.1:9
duration: 60s
regions: [us-east-1, eu-west-1]
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 200
    requests:
      - { name: home, url: / }
"#;

    /// The planned run with one manifest per region, finished `finished_ms`
    /// after the start.
    fn collected(finished_ms: &[(&str, u64)]) -> Collected {
        let scenario =
            sls_load_plan::scenario::parse(std::path::Path::new("t.yaml"), SCENARIO.as_bytes())
                .expect("parses");
        let options = sls_load_plan::testing::options();
        let mut collected =
            Collected::new(sls_load_plan::plan::plan(&scenario, &options).expect("plans"));
        let start = collected.plan.start_at;
        let at = |ms: u64| {
            humantime::format_rfc3339_millis(start + Duration::from_millis(ms)).to_string()
        };
        for (region, ms) in finished_ms {
            let m: Manifest = serde_json::from_value(serde_json::json!({
                "format": 1, "run_id": "r1", "region": region,
                "worker_id": WorkerId::numbered(0), "init_duration": null,
                "invoked_at": at(0), "start_at": at(0), "first_request_at": at(0),
                "finished_at": at(*ms), "dropped_iterations": 0, "requests": {},
                "latency_logs": 0, "stopped": true,
            }))
            .expect("manifest");
            collected
                .manifests
                .insert((m.region.clone(), m.worker_id.clone()), m);
        }
        collected
    }

    #[test]
    fn a_stopped_run_lasts_until_its_last_worker_finished() {
        let c = collected(&[("us-east-1", 12_400), ("eu-west-1", 12_600)]);
        let span = Span::of(&c, true, Some(12));
        assert_eq!(span.total, 12.6);
        assert_eq!(span.planned, Some(60.0));
        assert_eq!(
            span.region(&Region::new("us-east-1").expect("region")),
            12.4
        );
        assert_eq!(
            span.region(&Region::new("eu-west-1").expect("region")),
            12.6
        );
    }

    #[test]
    fn a_run_that_ran_to_its_end_lasts_as_planned() {
        let c = collected(&[("us-east-1", 60_020), ("eu-west-1", 60_010)]);
        let span = Span::of(&c, false, Some(59));
        assert_eq!((span.total, span.planned), (60.0, None));
        // Stopped, but only after every worker had finished anyway.
        let span = Span::of(&c, true, Some(59));
        assert_eq!((span.total, span.planned), (60.0, None));
    }

    #[test]
    fn without_manifests_the_last_second_with_data_stands_in() {
        let c = collected(&[]);
        assert_eq!(Span::of(&c, true, Some(6)).total, 7.0);
        assert_eq!(Span::of(&c, true, None).total, 60.0);
        // Only an earlier slice's worker reported: the data says it ran longer.
        let c = collected(&[("us-east-1", 5_000)]);
        assert_eq!(Span::of(&c, true, Some(12)).total, 12.0);
    }
}
