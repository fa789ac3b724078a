//! Nothing lost, nothing invented, read back: a collection of a run whose store
//! misbehaves or holds what it should not says so, counts everything once and
//! never aborts (issue #10, items 3, 6, 7 and 9). Built on the golden run.

#![allow(clippy::unwrap_used)] // a test: a failed step should fail it loudly

mod common;

use common::{MemStore, RUN, golden_objects, golden_summary};
use sls_load_core::job::{LogCount, LogRecord, Manifest, RunId, Unwritten};
use sls_load_report::collect::{GET_ATTEMPTS, collect};
use sls_load_report::summary::{Ending, Summary};

const W0: &str = "runs/golden-20261127/us-east-1/w0000/";

fn run() -> RunId {
    RunId::new(RUN).unwrap()
}

/// The golden objects with us-east-1/w0000's manifest listing its logs, as a
/// worker of this version writes it.
fn listed_objects() -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut objects = golden_objects();
    let key = format!("{W0}manifest.json");
    let mut m: Manifest = serde_json::from_slice(&objects[&key]).unwrap();
    m.logs = (0..m.latency_logs)
        .map(|seq| {
            let name = format!("latency-{seq:05}.hlog");
            let requests = LogCount::of(&objects[&format!("{W0}{name}")]).requests;
            LogRecord { name, requests }
        })
        .collect();
    objects.insert(key, serde_json::to_vec(&m).unwrap());
    objects
}

#[tokio::test]
async fn a_complete_run_listed_in_its_manifests_reports_as_before() {
    let store = MemStore::with(listed_objects());
    let c = collect(&store, &run()).await.unwrap();
    assert!(
        c.all_problems().next().is_none(),
        "{:?}",
        c.all_problems().collect::<Vec<_>>()
    );
    let summary = serde_json::to_string_pretty(&Summary::build(&c, Ending::default())).unwrap();
    assert_eq!(summary, golden_summary());
}

#[tokio::test]
async fn an_object_the_manifest_lists_but_the_store_lacks_is_named() {
    let mut objects = listed_objects();
    objects.remove(&format!("{W0}latency-00001.hlog")).unwrap();
    let store = MemStore::with(objects);
    let c = collect(&store, &run()).await.unwrap();
    let summary = Summary::build(&c, Ending::default());
    let problems = &summary.workers.problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!("{W0}latency-00001.hlog: listed in its manifest")),
        "{problems:?}"
    );
}

#[tokio::test]
async fn intervals_a_worker_could_not_store_are_named_with_their_seconds() {
    let mut objects = golden_objects();
    let key = format!("{W0}manifest.json");
    let mut m: Manifest = serde_json::from_slice(&objects[&key]).unwrap();
    m.unwritten = Some(Unwritten {
        first_second: 4,
        last_second: 5,
        requests: 17,
        error: "503 SlowDown".into(),
    });
    objects.insert(key.clone(), serde_json::to_vec(&m).unwrap());
    let c = collect(&MemStore::with(objects), &run()).await.unwrap();
    let problems = Summary::build(&c, Ending::default()).workers.problems;
    assert_eq!(
        problems,
        [format!(
            "{key}: seconds 4-5 of the run (17 requests) could not be stored: 503 SlowDown"
        )]
    );
}

#[tokio::test]
async fn a_failed_get_is_retried_and_one_that_keeps_failing_is_named_not_fatal() {
    // Fails twice, then reads: nothing lost.
    let store = MemStore::with(golden_objects());
    let flaky = format!("{W0}latency-00002.hlog");
    store.failing_gets.lock().unwrap().insert(flaky.clone(), 2);
    let c = collect(&store, &run()).await.unwrap();
    assert!(c.all_problems().next().is_none());
    assert_eq!(
        serde_json::to_string_pretty(&Summary::build(&c, Ending::default())).unwrap(),
        golden_summary()
    );
    assert_eq!(store.gets.lock().unwrap()[&flaky], 3);

    // Never reads: named, the rest still counts.
    let store = MemStore::with(golden_objects());
    store
        .failing_gets
        .lock()
        .unwrap()
        .insert(flaky.clone(), usize::MAX);
    let c = collect(&store, &run()).await.unwrap();
    let summary = Summary::build(&c, Ending::default());
    assert_eq!(store.gets.lock().unwrap()[&flaky], GET_ATTEMPTS as usize);
    assert_eq!(
        summary.workers.problems.len(),
        1,
        "{:?}",
        summary.workers.problems
    );
    assert!(summary.workers.problems[0].contains("could not be read"));
    assert!(summary.total.requests > 0 && summary.total.requests < 430);
}

#[tokio::test]
async fn an_object_copied_under_another_name_counts_once() {
    let mut objects = golden_objects();
    let copy = objects[&format!("{W0}latency-00000.hlog")].clone();
    objects.insert(format!("{W0}latency-00009.hlog"), copy);
    let c = collect(&MemStore::with(objects), &run()).await.unwrap();
    let summary = Summary::build(&c, Ending::default());
    assert_eq!(summary.total.requests, 430);
    assert_eq!(summary.workers.problems.len(), 1);
    assert!(summary.workers.problems[0].contains("counted once"));
}

#[tokio::test]
async fn objects_of_a_worker_that_is_not_in_the_plan_do_not_count() {
    let mut objects = golden_objects();
    for (k, v) in golden_objects() {
        if let Some(rest) = k.strip_prefix(W0) {
            objects.insert(format!("runs/golden-20261127/us-east-1/w0042/{rest}"), v);
        }
    }
    let c = collect(&MemStore::with(objects), &run()).await.unwrap();
    let summary = Summary::build(&c, Ending::default());
    assert_eq!(summary.total.requests, 430);
    assert_eq!(summary.workers.reported, 4);
    assert!(
        summary
            .workers
            .problems
            .iter()
            .all(|p| p.contains("not in the plan"))
    );
    assert_eq!(c.finished(), 4);
}
