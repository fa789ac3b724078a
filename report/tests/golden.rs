//! Golden files: a run written by sls-load before the core crate and the live
//! merge existed (plan, manifests, interval logs and its summary, in
//! tests/fixtures/golden) still decodes and reports identically: the same
//! summary JSON, byte for byte, and the same terminal report.

#![allow(clippy::unwrap_used)] // a test: a failed step should fail it loudly

mod common;

use std::path::PathBuf;

use common::{RUN, files, fixtures};
use sls_load::cloud::local_s3_client;
use sls_load::collect::collect;
use sls_load::local::{LocalCredentials, LocalS3, ensure_bucket};
use sls_load::render;
use sls_load::store::{S3Store, Store};
use sls_load::summary::Summary;
use sls_load_core::job::{ObjectKey, Region, RunId};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stored_by_the_previous_format_reports_identically() {
    let root = tempfile::tempdir().unwrap();
    let creds = LocalCredentials::generate();
    ensure_bucket(root.path(), "results").unwrap();
    let s3 = LocalS3::start(root.path(), &creds).await.unwrap();
    let client = local_s3_client(s3.endpoint(), &Region::us_east_1(), &creds);
    let store = S3Store::new(client, "results");

    let objects = files(&fixtures().join("runs"), &fixtures());
    let mut expected_summary = None;
    for (key, path) in objects {
        let body = std::fs::read(&path).unwrap();
        if key.ends_with("summary.json") {
            expected_summary = Some(body);
            continue;
        }
        let key = ObjectKey::new(key).unwrap();
        store
            .put(&key, body, "application/octet-stream")
            .await
            .unwrap();
    }
    let expected_summary = String::from_utf8(expected_summary.expect("a stored summary")).unwrap();

    let run = RunId::new(RUN).unwrap();
    let collected = collect(&store, &run).await.unwrap();
    let summary = Summary::build(&collected, &collected.merged);
    let json = serde_json::to_string_pretty(&summary).unwrap();
    assert_eq!(
        json, expected_summary,
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
    s3.shutdown().await;
}

/// A store that counts the GETs of every key.
struct Counting<S> {
    inner: S,
    gets: std::sync::Mutex<std::collections::BTreeMap<String, usize>>,
}

impl<S: Store> Store for Counting<S> {
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, sls_load::store::StoreError> {
        self.inner.list(prefix).await
    }
    async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, sls_load::store::StoreError> {
        *self
            .gets
            .lock()
            .unwrap()
            .entry(key.as_str().to_owned())
            .or_default() += 1;
        self.inner.get(key).await
    }
    async fn put(
        &self,
        key: &ObjectKey,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> Result<(), sls_load::store::StoreError> {
        self.inner.put(key, body, content_type).await
    }
    async fn put_new(
        &self,
        key: &ObjectKey,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> Result<bool, sls_load::store::StoreError> {
        self.inner.put_new(key, body, content_type).await
    }
    fn location(&self) -> String {
        self.inner.location()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_a_run_reads_each_object_once_and_ends_with_the_same_summary() {
    let root = tempfile::tempdir().unwrap();
    let creds = LocalCredentials::generate();
    ensure_bucket(root.path(), "results").unwrap();
    let s3 = LocalS3::start(root.path(), &creds).await.unwrap();
    let client = local_s3_client(s3.endpoint(), &Region::us_east_1(), &creds);
    let store = Counting {
        inner: S3Store::new(client, "results"),
        gets: Default::default(),
    };
    let mut objects = files(&fixtures().join("runs"), &fixtures());
    objects.retain(|(key, _)| !key.ends_with("summary.json"));
    objects.sort();
    // The plan first, then the workers' objects in three batches, as they would
    // appear while the run goes on; the collection polls between batches and twice
    // after the last one.
    let (plan, rest): (Vec<_>, Vec<_>) = objects
        .into_iter()
        .partition(|(k, _)| k.ends_with("plan.json"));
    let put = |batch: Vec<(String, PathBuf)>| {
        let store = &store;
        async move {
            for (key, path) in batch {
                let key = ObjectKey::new(key).unwrap();
                store
                    .put(
                        &key,
                        std::fs::read(path).unwrap(),
                        "application/octet-stream",
                    )
                    .await
                    .unwrap();
            }
        }
    };
    put(plan).await;
    let run = RunId::new(RUN).unwrap();
    let mut collected = sls_load::collect::Collected::new(
        sls_load::collect::load_plan(&store, &run).await.unwrap(),
    );
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
    let summary = Summary::build(&collected, &collected.merged);
    let expected =
        std::fs::read_to_string(fixtures().join("runs").join(RUN).join("summary.json")).unwrap();
    assert_eq!(serde_json::to_string_pretty(&summary).unwrap(), expected);
    s3.shutdown().await;
}
