//! What the orchestrator's integration tests share: the golden fixture run and an
//! in-memory [`Store`] that counts GETs and fails the ones it is told to.

#![allow(clippy::unwrap_used, dead_code)] // test support

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sls_load_core::job::ObjectKey;
use sls_load_report::store::{Store, StoreError};

/// The run stored in tests/fixtures/golden.
pub const RUN: &str = "golden-20261127";

/// tests/fixtures/golden.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/golden")
}

/// Every file below `dir`, as (key relative to `base`, path), in key order.
pub fn files(dir: &Path, base: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let key = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((key, path));
            }
        }
    }
    out.sort();
    out
}

/// The golden run's objects, by key (its stored summary left out).
pub fn golden_objects() -> BTreeMap<String, Vec<u8>> {
    files(&fixtures().join("runs"), &fixtures())
        .into_iter()
        .filter(|(k, _)| !k.ends_with("summary.json"))
        .map(|(k, p)| (k, std::fs::read(p).unwrap()))
        .collect()
}

/// The golden run's stored summary.
pub fn golden_summary() -> String {
    std::fs::read_to_string(fixtures().join("runs").join(RUN).join("summary.json")).unwrap()
}

/// A store in memory: counts GETs per key and fails a key's first `n` GETs.
#[derive(Default)]
pub struct MemStore {
    pub objects: Mutex<BTreeMap<String, Vec<u8>>>,
    pub gets: Mutex<BTreeMap<String, usize>>,
    pub failing_gets: Mutex<BTreeMap<String, usize>>,
}

impl MemStore {
    pub fn with(objects: BTreeMap<String, Vec<u8>>) -> Self {
        Self {
            objects: Mutex::new(objects),
            ..Self::default()
        }
    }

    fn error(key: &str, op: &'static str) -> StoreError {
        StoreError {
            bucket: "mem".into(),
            key: key.into(),
            op,
            message: "500 InternalError (injected)".into(),
        }
    }
}

impl Store for MemStore {
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .map(|k| ObjectKey::new(k.as_str()).unwrap())
            .collect())
    }
    async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StoreError> {
        *self
            .gets
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default() += 1;
        if let Some(n) = self.failing_gets.lock().unwrap().get_mut(key.as_str())
            && *n > 0
        {
            *n -= 1;
            return Err(Self::error(key.as_str(), "get"));
        }
        Ok(self.objects.lock().unwrap().get(key.as_str()).cloned())
    }
    async fn put(
        &self,
        key: &ObjectKey,
        body: Vec<u8>,
        _content_type: &'static str,
    ) -> Result<(), StoreError> {
        self.objects.lock().unwrap().insert(key.to_string(), body);
        Ok(())
    }
    async fn put_new(
        &self,
        key: &ObjectKey,
        body: Vec<u8>,
        _content_type: &'static str,
    ) -> Result<bool, StoreError> {
        let mut objects = self.objects.lock().unwrap();
        if objects.contains_key(key.as_str()) {
            return Ok(false);
        }
        objects.insert(key.to_string(), body);
        Ok(true)
    }
    fn location(&self) -> String {
        "mem://".into()
    }
}
