//! Per-second series of a followed run (issue #12), on the golden run: a
//! second closes once every worker covering it has flushed past it, closed
//! seconds hand every tag set's figures to the outputs once, oldest first, and
//! add up to the run's totals; an interval arriving after its second closed
//! still counts in every total and is named.

#![allow(clippy::unwrap_used)] // a test: a failed step should fail it loudly

mod common;

use std::collections::BTreeMap;

use common::{MemStore, RUN, golden_objects};
use sls_load_core::job::{LogCount, RunId};
use sls_load_report::collect::{Collected, load_plan};
use sls_load_report::series::ClosedSecond;
use sls_load_report::summary::{Ending, Summary};

fn run() -> RunId {
    RunId::new(RUN).unwrap()
}

/// Stores the golden objects whose key matches `pick`.
fn put(store: &MemStore, pick: impl Fn(&str) -> bool) {
    let mut objects = store.objects.lock().unwrap();
    for (key, body) in golden_objects() {
        if pick(&key) {
            objects.insert(key, body);
        }
    }
}

fn seconds(closed: &[ClosedSecond]) -> Vec<u64> {
    let mut t: Vec<u64> = closed.iter().map(|c| c.t).collect();
    t.dedup();
    t
}

#[tokio::test]
async fn seconds_close_as_every_worker_flushes_past_them_and_hand_over_each_tag_set_once() {
    let store = MemStore::default();
    put(&store, |k| k.ends_with("plan.json"));
    let mut c = Collected::new(load_plan(&store, &run()).await.unwrap());
    c.keep_closed(true);
    let mut handed = Vec::new();

    // Every worker's first log holds seconds 0 and 1.
    put(&store, |k| k.ends_with("latency-00000.hlog"));
    c.poll(&store).await.unwrap();
    let closed = c.drain_closed();
    assert_eq!(seconds(&closed), [0, 1]);
    handed.extend(closed);

    // Seconds 2 and 3 wait for the fourth worker's second log.
    put(&store, |k| {
        k.ends_with("latency-00001.hlog") && !k.contains("eu-west-1/w0001")
    });
    c.poll(&store).await.unwrap();
    assert!(c.drain_closed().is_empty());
    put(&store, |k| k.ends_with("latency-00001.hlog"));
    c.poll(&store).await.unwrap();
    let closed = c.drain_closed();
    assert_eq!(seconds(&closed), [2, 3]);
    handed.extend(closed);

    put(&store, |_| true);
    c.settle(&store).await.unwrap();
    let closed = c.drain_closed();
    assert_eq!(seconds(&closed), [4, 5, 6]);
    handed.extend(closed);
    assert!(
        c.drain_closed().is_empty(),
        "each second is handed over once"
    );
    assert!(c.all_problems().next().is_none());

    // Every tag set starts with its region; together they are the run.
    assert!(handed.iter().all(|s| s.tags[0].0 == "region"));
    let requests: u64 = handed.iter().map(|s| s.stats.requests()).sum();
    let errors: u64 = handed.iter().map(|s| s.stats.errors()).sum();
    assert_eq!(requests, c.merged.total.requests());
    assert_eq!(errors, c.merged.total.errors());
    let mut per_region: BTreeMap<String, u64> = BTreeMap::new();
    for s in &handed {
        *per_region.entry(s.tags[0].1.clone()).or_default() += s.stats.requests();
    }
    let summary = Summary::build(&c, Ending::default());
    for (region, figures) in &summary.regions {
        assert_eq!(per_region[region], figures.requests, "{region}");
        let series = &summary.series.regions[region];
        let t: Vec<u64> = series.iter().map(|p| p.t).collect();
        assert_eq!(t, (0..=6).collect::<Vec<_>>(), "one point per second");
        let sum: u64 = series.iter().map(|p| p.requests).sum();
        assert_eq!(sum, figures.requests, "{region}");
    }
    for (request, figures) in &summary.requests {
        let sum: u64 = summary.series.requests[request]
            .iter()
            .map(|p| p.requests)
            .sum();
        assert_eq!(sum, figures.requests, "{request}");
    }
}

#[tokio::test]
async fn a_log_arriving_after_its_seconds_closed_counts_in_the_totals_and_is_named_not_a_problem() {
    const LATE: &str = "us-east-1/w0001/latency-00002.hlog";
    let store = MemStore::default();
    put(&store, |k| !k.ends_with(LATE));
    let mut c = Collected::new(load_plan(&store, &run()).await.unwrap());
    c.settle(&store).await.unwrap();
    let before = Summary::build(&c, Ending::default());

    put(&store, |k| k.ends_with(LATE));
    c.poll(&store).await.unwrap();
    let summary = Summary::build(&c, Ending::default());
    assert!(
        summary.workers.problems.is_empty(),
        "nothing is lost from the figures"
    );
    let late = &summary.series.late;
    assert_eq!(late.len(), 1, "{late:?}");
    assert!(
        late[0].ends_with(
            "latency-00002.hlog: 24 requests of seconds 4-5 arrived after their second \
             was closed; the per-second series omit them"
        ),
        "{late:?}"
    );
    let late = &golden_objects()[&format!("runs/{RUN}/{LATE}")];
    assert_eq!(LogCount::of(late).requests, 24);
    assert_eq!(summary.total.requests, before.total.requests + 24);
    assert_eq!(summary.total.requests, 430);
    assert_eq!(summary.timeline, before.timeline);
    assert_eq!(summary.series.regions, before.series.regions);
    assert_eq!(summary.series.requests, before.series.requests);
}
