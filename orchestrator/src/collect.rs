//! Reads a run back from the store, incrementally: the plan once, then at every
//! [`Collected::poll`] only the objects that appeared since the last one, each
//! read once and merged at once (its bytes are dropped after). Live progress,
//! `watch`, the final report and `report RUN_ID` all read the same [`Collected`]
//! state, which grows with the run's seconds and names, not with its objects.
//!
//! A corrupt or unreadable object never aborts a collection: it is kept as a
//! [`Problem`] next to everything that could be read. Objects of workers that are
//! not in the plan are named and ignored. This module does not wait for a run (the
//! commands decide when to poll), decode histograms (merge does) or judge the run
//! (summary does).

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt;
use sls_load_core::id::files;
use sls_load_core::job::{Manifest, ObjectKey, Region, RunId, WorkerId};

use crate::merge::Merged;
use crate::plan::Plan;
use crate::store::{Store, StoreError, get_stream};

/// A worker, named by region and id.
pub type WorkerKey = (Region, WorkerId);

/// Why a run could not be collected at all.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run has no plan object.
    #[error("run `{run}` not found: no {key} in {location}")]
    NoPlan {
        /// The run.
        run: RunId,
        /// The plan key looked for.
        key: ObjectKey,
        /// The store.
        location: String,
    },
    /// The plan object is not a plan.
    #[error("{key}: not a valid plan: {message}")]
    BadPlan {
        /// The plan key.
        key: ObjectKey,
        /// The parse error.
        message: String,
    },
}

/// An object that was there but could not be used.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// The object.
    pub key: ObjectKey,
    /// What is wrong with it.
    pub message: String,
}

/// Everything read back for a run so far.
#[derive(Debug, Clone)]
pub struct Collected {
    /// The plan.
    pub plan: Plan,
    /// Manifests of the workers that finished.
    pub manifests: BTreeMap<WorkerKey, Manifest>,
    /// The merge of every interval-log object read, finished workers or not.
    pub merged: Merged,
    /// Objects that could not be used (interval-log lines: see `merged.problems`).
    pub problems: Vec<Problem>,
    planned: BTreeSet<WorkerKey>,
    seen: BTreeSet<ObjectKey>,
    started: BTreeSet<WorkerKey>,
    reported: BTreeSet<WorkerKey>,
    gets: usize,
}

impl Collected {
    /// A collection of `plan`'s run with nothing read yet.
    pub fn new(plan: Plan) -> Self {
        let planned = plan
            .jobs
            .iter()
            .map(|j| (j.region.clone(), j.worker_id.clone()))
            .collect();
        Self {
            plan,
            manifests: BTreeMap::new(),
            merged: Merged::default(),
            problems: Vec::new(),
            planned,
            seen: BTreeSet::new(),
            started: BTreeSet::new(),
            reported: BTreeSet::new(),
            gets: 0,
        }
    }

    /// Planned workers without a usable manifest, in plan order.
    pub fn missing(&self) -> Vec<WorkerKey> {
        self.plan
            .jobs
            .iter()
            .map(|j| (j.region.clone(), j.worker_id.clone()))
            .filter(|w| !self.manifests.contains_key(w))
            .collect()
    }

    /// Planned workers with at least one interval log or a manifest stored.
    pub fn started(&self) -> usize {
        self.started.len()
    }

    /// Planned workers whose manifest is stored (usable or not: either way the
    /// worker is done).
    pub fn finished(&self) -> usize {
        self.reported.len()
    }

    /// Objects read from the store so far (each at most once).
    pub fn gets(&self) -> usize {
        self.gets
    }

    /// Reads the objects that appeared since the last poll and merges them.
    pub async fn poll(&mut self, store: &impl Store) -> Result<(), StoreError> {
        let run = self.plan.run_id.clone();
        let mut wanted = Vec::new();
        for key in store.list(ObjectKey::run_prefix(&run).as_str()).await? {
            if self.seen.contains(&key) {
                continue;
            }
            let Some((region, worker, file)) = key.parse_worker_object(&run) else {
                continue;
            };
            if file != files::MANIFEST && !files::is_latency_log(file) {
                continue;
            }
            if !self.planned.contains(&(region, worker)) {
                self.problems.push(Problem {
                    key: key.clone(),
                    message: "object of a worker that is not in the plan; ignored".into(),
                });
                self.seen.insert(key);
                continue;
            }
            wanted.push(key);
        }
        let mut objects = std::pin::pin!(get_stream(store, wanted));
        while let Some((key, got)) = objects.next().await {
            let bytes = got?;
            self.gets += 1;
            self.seen.insert(key.clone());
            self.add(key, bytes);
        }
        Ok(())
    }

    /// Merges one object that was listed (`None`: gone when read).
    fn add(&mut self, key: ObjectKey, bytes: Option<Vec<u8>>) {
        let Some((region, worker, file)) = key.parse_worker_object(&self.plan.run_id) else {
            return;
        };
        let is_manifest = file == files::MANIFEST;
        let who = (region, worker);
        let Some(bytes) = bytes else {
            self.problems.push(Problem {
                key,
                message: "listed but gone when read".into(),
            });
            return;
        };
        self.started.insert(who.clone());
        if !is_manifest {
            self.merged
                .add_object(&who, &key, &bytes, self.plan.start_at);
            return;
        }
        self.reported.insert(who.clone());
        match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) if (m.region.clone(), m.worker_id.clone()) == who => {
                self.manifests.insert(who, m);
            }
            Ok(_) => self.problems.push(Problem {
                key,
                message: "manifest names a different worker; ignored".into(),
            }),
            Err(e) => self.problems.push(Problem {
                key,
                message: format!("corrupt manifest: {e}"),
            }),
        }
    }
}

/// Reads `runs/{run}/plan.json`.
pub async fn load_plan(store: &impl Store, run: &RunId) -> Result<Plan, CollectError> {
    let key = ObjectKey::plan(run);
    let bytes = store.get(&key).await?.ok_or_else(|| CollectError::NoPlan {
        run: run.clone(),
        key: key.clone(),
        location: store.location(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| CollectError::BadPlan {
        key,
        message: e.to_string(),
    })
}

/// Reads the plan, every manifest and every interval log of `run` in one pass.
pub async fn collect(store: &impl Store, run: &RunId) -> Result<Collected, CollectError> {
    let mut collected = Collected::new(load_plan(store, run).await?);
    collected.poll(store).await?;
    Ok(collected)
}
