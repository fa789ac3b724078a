//! Collects a run's results from the store: the plan, every worker's manifest and
//! interval-log objects, and which planned workers did not report.
//!
//! This module owns reading a run back (waiting for it is `progress`'s job). A corrupt or unreadable object never aborts a
//! collection: it is kept as a [`Problem`] next to everything that could be read.
//! Decoding histograms is merge's job; judging the run is report's.

use std::collections::{BTreeMap, BTreeSet};

use sls_load_function::job::{Manifest, ObjectKey, Region, RunId, WorkerId};

use crate::plan::Plan;
use crate::store::{Store, StoreError, get_many};

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

/// One interval-log object of one worker.
#[derive(Debug, Clone)]
pub struct LogObject {
    /// Its worker.
    pub worker: WorkerKey,
    /// Its key.
    pub key: ObjectKey,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Everything read back for a run.
#[derive(Debug, Clone)]
pub struct Collected {
    /// The plan.
    pub plan: Plan,
    /// Manifests of the workers that finished.
    pub manifests: BTreeMap<WorkerKey, Manifest>,
    /// Every interval-log object found, finished workers or not.
    pub logs: Vec<LogObject>,
    /// Objects that could not be used.
    pub problems: Vec<Problem>,
}

impl Collected {
    /// Planned workers without a usable manifest, in plan order.
    pub fn missing(&self) -> Vec<WorkerKey> {
        self.plan
            .jobs
            .iter()
            .map(|j| (j.region.clone(), j.worker_id.clone()))
            .filter(|w| !self.manifests.contains_key(w))
            .collect()
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

/// Reads the plan, every manifest and every interval log of `run`.
pub async fn collect(store: &impl Store, run: &RunId) -> Result<Collected, CollectError> {
    let plan = load_plan(store, run).await?;
    let planned: BTreeSet<WorkerKey> = plan
        .jobs
        .iter()
        .map(|j| (j.region.clone(), j.worker_id.clone()))
        .collect();
    let mut out = Collected {
        plan,
        manifests: BTreeMap::new(),
        logs: Vec::new(),
        problems: Vec::new(),
    };
    let mut wanted = Vec::new();
    for key in store.list(ObjectKey::run_prefix(run).as_str()).await? {
        let Some((region, worker, file)) = key.parse_worker_object(run) else {
            continue;
        };
        if !planned.contains(&(region, worker)) {
            out.problems.push(Problem {
                key: key.clone(),
                message: "object of a worker that is not in the plan; ignored".into(),
            });
            continue;
        }
        let is_manifest = file == "manifest.json";
        let is_log = file.starts_with("latency-") && file.ends_with(".hlog");
        if is_manifest || is_log {
            wanted.push(key);
        }
    }
    for (key, got) in get_many(store, wanted).await {
        let Some((region, worker, file)) = key.parse_worker_object(run) else {
            continue;
        };
        let who = (region, worker);
        let is_log = file != "manifest.json";
        let Some(bytes) = got? else {
            out.problems.push(Problem {
                key,
                message: "listed but gone when read".into(),
            });
            continue;
        };
        if is_log {
            out.logs.push(LogObject {
                worker: who,
                key,
                bytes,
            });
            continue;
        }
        match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) if (m.region.clone(), m.worker_id.clone()) == who => {
                out.manifests.insert(who, m);
            }
            Ok(_) => out.problems.push(Problem {
                key,
                message: "manifest names a different worker; ignored".into(),
            }),
            Err(e) => out.problems.push(Problem {
                key,
                message: format!("corrupt manifest: {e}"),
            }),
        }
    }
    Ok(out)
}
