//! A worker's manifest and interval logs together, collected as `report` does
//! (the cross-check of issue #19): the input is the manifest's bytes, then up to
//! eight logs, separated by NUL bytes, stored as `us-east-1/w0000` of the golden
//! run. Whatever the bytes, collecting gives figures and named problems, never a
//! panic; and once the manifest is accepted, the run counts no more requests
//! than the logs it lists hold.
#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sls_load_core::job::ObjectKey;
use sls_load_plan::plan::Plan;
use sls_load_report::{Collected, Store, StoreError};

/// The golden run's plan: two regions, two workers each.
static PLAN: &[u8] = include_bytes!("../../tests/fixtures/golden/runs/golden-20261127/plan.json");
/// The plan and a runtime, made once for every input: neither depends on it
/// (the plan is compiled in; only the OS can refuse a runtime, and then there
/// is nothing to fuzz).
static SETUP: LazyLock<(Plan, tokio::runtime::Runtime)> = LazyLock::new(|| {
    let plan = serde_json::from_slice(PLAN).expect("the golden plan decodes");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    (plan, runtime)
});
/// Where the fuzzed worker's objects are stored.
const WORKER: &str = "runs/golden-20261127/us-east-1/w0000/";

/// Objects in memory, read-only.
struct Mem(BTreeMap<String, Vec<u8>>);

impl Store for Mem {
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        Ok(self
            .0
            .keys()
            .filter(|k| k.starts_with(prefix))
            .filter_map(|k| ObjectKey::new(k.as_str()).ok())
            .collect())
    }
    async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(key.as_str()).cloned())
    }
    async fn put(&self, _: &ObjectKey, _: Vec<u8>, _: &'static str) -> Result<(), StoreError> {
        Ok(())
    }
    async fn put_new(
        &self,
        _: &ObjectKey,
        _: Vec<u8>,
        _: &'static str,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }
    fn location(&self) -> String {
        "mem".into()
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0);
    let mut objects = BTreeMap::new();
    let manifest = parts.next().unwrap_or_default();
    objects.insert(format!("{WORKER}manifest.json"), manifest.to_vec());
    for (i, log) in parts.take(8).enumerate() {
        objects.insert(format!("{WORKER}latency-{i:05}.hlog"), log.to_vec());
    }
    let (plan, runtime) = &*SETUP;
    let mut collected = Collected::new(plan.clone());
    runtime
        .block_on(collected.settle(&Mem(objects)))
        .expect("a memory store never fails");
    if let Some(m) = collected.manifests.values().next() {
        let listed = match m.logs.is_empty() {
            // An older manifest lists no counts: nothing to bound by.
            true => u64::MAX,
            false => m
                .logs
                .iter()
                .fold(0u64, |n, l| n.saturating_add(l.requests)),
        };
        let counted = collected.merged.total.requests();
        assert!(counted <= listed, "{counted} counted, {listed} listed");
    }
});
