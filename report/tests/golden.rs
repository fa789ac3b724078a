//! Golden files: a run written by sls-load before the core crate and the live
//! merge existed (plan, manifests, interval logs and its summary, in
//! tests/fixtures/golden) still decodes and reports identically: the same
//! summary JSON, byte for byte, and the same terminal report. (The same run
//! read through S3 and the `sls-load report` binary: `tests/e2e/golden.rs`.)

#![allow(clippy::unwrap_used)] // a test: a failed step should fail it loudly

mod common;

use common::{MemStore, RUN, fixtures, golden_objects, golden_summary};
use sls_load_core::job::{ObjectKey, RunId};
use sls_load_report::collect::{Collected, collect, load_plan};
use sls_load_report::render;
use sls_load_report::store::Store;
use sls_load_report::summary::{Ending, Summary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stored_by_the_previous_format_reports_identically() {
    let store = MemStore::with(golden_objects());
    let run = RunId::new(RUN).unwrap();
    let collected = collect(&store, &run).await.unwrap();
    let summary = Summary::build(&collected, Ending::default());
    let json = serde_json::to_string_pretty(&summary).unwrap();
    assert_eq!(
        json,
        golden_summary(),
        "summary.json differs from the golden one"
    );

    let report = std::fs::read_to_string(fixtures().join("report.txt")).unwrap();
    let expected: Vec<&str> = report
        .lines()
        .filter(|l| !l.contains("results: s3://"))
        .collect();
    // As printed: `println!` of the rendering, then the results line (left out).
    let rendered = format!("{}\n", render::summary(&summary));
    let got: Vec<&str> = rendered.lines().collect();
    assert_eq!(
        got, expected,
        "the terminal report differs from the golden one"
    );
    // Each object was read exactly once: the plan, 4 manifests, 12 interval logs.
    assert_eq!(collected.gets(), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_a_run_reads_each_object_once_and_ends_with_the_same_summary() {
    let store = MemStore::default();
    // The plan first, then the workers' objects in three batches, as they would
    // appear while the run goes on; the collection polls between batches and twice
    // after the last one.
    let (plan, rest): (Vec<_>, Vec<_>) = golden_objects()
        .into_iter()
        .partition(|(k, _)| k.ends_with("plan.json"));
    let put = |batch: Vec<(String, Vec<u8>)>| {
        let store = &store;
        async move {
            for (key, body) in batch {
                let key = ObjectKey::new(key).unwrap();
                store
                    .put(&key, body, "application/octet-stream")
                    .await
                    .unwrap();
            }
        }
    };
    put(plan).await;
    let run = RunId::new(RUN).unwrap();
    let mut collected = Collected::new(load_plan(&store, &run).await.unwrap());
    let chunk = rest.len().div_ceil(3);
    for batch in rest.chunks(chunk) {
        put(batch.to_vec()).await;
        collected.poll(&store).await.unwrap();
    }
    collected.poll(&store).await.unwrap();
    collected.poll(&store).await.unwrap();

    let gets = store.gets.lock().unwrap().clone();
    assert_eq!(
        gets.len(),
        17,
        "plan, 4 manifests, 12 interval logs: {gets:?}"
    );
    assert!(
        gets.values().all(|n| *n == 1),
        "an object was read twice: {gets:?}"
    );
    let summary = Summary::build(&collected, Ending::default());
    assert_eq!(
        serde_json::to_string_pretty(&summary).unwrap(),
        golden_summary()
    );
}
