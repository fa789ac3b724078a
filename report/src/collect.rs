//! Reads a run back from the store, incrementally: the plan once, then at every
//! [`Collected::poll`] only the objects that appeared since the last one, each
//! read once and merged at once (its bytes are dropped after). Live progress,
//! `watch`, the final report and `report RUN_ID` all read the same [`Collected`]
//! state, which grows with the run's seconds and names, not with its objects.
//!
//! A corrupt or unreadable object never aborts a collection: a failed GET is
//! retried at the next poll, and an object that still cannot be read is kept as a
//! [`Problem`] next to everything that could be read, as are objects of workers
//! that are not in the plan, a second copy of an object already read, and what a
//! manifest lists that the store does not hold. [`Collected::settle`] ends a
//! collection: it retries what failed, then compares each manifest's list of
//! objects with what was read. This module does not wait for a run (the
//! commands decide when to poll), decode histograms (merge does) or judge the run
//! (summary does).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::time::Duration;

use futures_util::StreamExt;
use sls_load_core::id::files;
use sls_load_core::job::{MAX_DRAIN, Manifest, ObjectKey, RunId};

use crate::drill::analysis::Feed;
use crate::merge::{Merged, Span};
pub use crate::problem::{Problem, WorkerKey};
use crate::store::{Store, StoreError, get_stream};
use sls_load_plan::plan::Plan;

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
    /// Requests each interval-log object read holds (to check manifests against).
    log_requests: BTreeMap<ObjectKey, u64>,
    /// A digest of every interval-log object read, per worker: a copy under
    /// another name counts once.
    digests: HashSet<(WorkerKey, u64)>,
    /// Objects whose GET failed: attempts so far and the last error.
    failing: BTreeMap<ObjectKey, (u32, String)>,
    /// Each planned worker's seconds of the run: the first and last its job's
    /// time window (drain included) covers.
    windows: Vec<(WorkerKey, u64, u64)>,
    /// Where each worker's latest stored interval ends, after the run's start.
    latest_end: BTreeMap<WorkerKey, Duration>,
    /// A drill's analysis feed: every closed second drained is added to it
    /// (`None` for a run without events).
    drill_feed: Option<Feed>,
}

/// Objects read between two attempts to close seconds within one poll.
const CLOSE_EVERY: usize = 1024;

/// The file name of a run's object key (`latency-00003.hlog`), for ordering.
fn file_of(key: &ObjectKey) -> &str {
    key.as_str().rsplit('/').next().unwrap_or_default()
}

/// GET attempts (one per poll) before an unreadable object becomes a problem.
pub const GET_ATTEMPTS: u32 = 3;

impl Collected {
    /// A collection of `plan`'s run with nothing read yet.
    pub fn new(plan: Plan) -> Self {
        let planned = plan
            .jobs
            .iter()
            .map(|j| (j.region.clone(), j.worker_id.clone()))
            .collect();
        let drill_feed = plan.drill.as_ref().map(|_| Feed::default());
        let mut merged = Merged::default();
        // A drill's analysis reads every tag set's closed seconds.
        merged.seconds.keep_closed(drill_feed.is_some());
        Self {
            drill_feed,
            manifests: BTreeMap::new(),
            merged,
            problems: Vec::new(),
            planned,
            seen: BTreeSet::new(),
            started: BTreeSet::new(),
            reported: BTreeSet::new(),
            gets: 0,
            log_requests: BTreeMap::new(),
            digests: HashSet::new(),
            failing: BTreeMap::new(),
            windows: windows(&plan),
            plan,
            latest_end: BTreeMap::new(),
        }
    }

    /// The time the run's intervals lie in.
    pub fn span(&self) -> Span {
        Span {
            start: self.plan.start_at,
            end: self.plan.load_ends_at(),
        }
    }

    /// Every problem found so far: objects, lines of interval logs, manifests.
    pub fn all_problems(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().chain(&self.merged.problems)
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

    /// Asks the merge to hand over every tag set's figures of each second as it
    /// closes (for `--out` outputs); off by default, so runs without outputs keep
    /// no per-tag-set seconds. Turn it on before the first poll: seconds merged
    /// before hand over only what arrived after. Off drops what was kept.
    pub fn keep_closed(&mut self, on: bool) {
        // A drill keeps them whatever the outputs ask.
        self.merged
            .seconds
            .keep_closed(on || self.drill_feed.is_some());
    }

    /// The seconds closed since the last call, oldest first, every tag set's
    /// figures of each (tag sets of one second in their sorted order; empty
    /// unless [`Collected::keep_closed`] was turned on). Seconds close at
    /// [`Collected::poll`] by the rule in docs/FORMAT.md; once the run is settled
    /// (or [`Collected::close_all`]), every remaining second is closed.
    pub fn drain_closed(&mut self) -> Vec<crate::series::ClosedSecond> {
        let closed = self.merged.seconds.drain_closed();
        if let Some(feed) = &mut self.drill_feed {
            feed.add(&closed);
        }
        closed
    }

    /// A drill's analysis feed: every second closed so far, drained (by the
    /// outputs) or not (`None` for a run without events).
    pub fn drill_feed(&self) -> Option<Feed> {
        let mut feed = self.drill_feed.clone()?;
        feed.add(self.merged.seconds.handed());
        Some(feed)
    }

    /// Closes every second still open (a collection that ends without
    /// [`Collected::settle`], e.g. after an interrupt).
    pub fn close_all(&mut self) {
        self.merged.seconds.close_all(self.plan.start_at);
    }

    /// Closes the open seconds no worker can add to any more: second `s` closes
    /// when every planned worker whose window covers it has stored its manifest
    /// or an interval ending at or after `s + 1` (and has no failed GET to
    /// retry). Seconds more than [`close_after`] behind the newest second seen
    /// close anyway, so a crashed worker cannot keep them open.
    fn close_seconds(&mut self) {
        let seconds = &self.merged.seconds;
        let newest = seconds.newest().unwrap_or(0);
        let fallback = close_after(&self.plan).as_secs();
        let retrying: BTreeSet<WorkerKey> = self
            .failing
            .keys()
            .filter_map(|k| k.parse_worker_object(&self.plan.run_id))
            .map(|(r, w, _)| (r, w))
            .collect();
        let progress = |who: &WorkerKey| -> Progress {
            if retrying.contains(who) {
                Progress::Retrying
            } else if self.reported.contains(who) {
                Progress::Done
            } else {
                Progress::Flushed(self.latest_end.get(who).copied().unwrap_or_default())
            }
        };
        let closable: BTreeSet<u64> = seconds
            .open_seconds()
            .filter(|s| newest.saturating_sub(*s) > fallback || closes(*s, &self.windows, progress))
            .collect();
        let start = self.plan.start_at;
        self.merged.seconds.close(start, |s| closable.contains(&s));
        if let (Some(first), Some(last)) = (closable.first(), closable.last()) {
            let open = self.merged.seconds.open_seconds().count();
            tracing::debug!(first, last, open, "seconds closed");
        }
    }

    /// Reads the objects that appeared since the last poll (and those whose GET
    /// failed before) and merges them. Only a failed LIST is an error; a failed GET
    /// is retried at the next poll.
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
        // In time order across workers (every worker's first log, then every
        // second one, ..., manifests last), closing seconds as it goes: reading a
        // whole stored run (`report`) then keeps only a few flush periods of
        // seconds open, not all of them.
        wanted.sort_by(|a, b| file_of(a).cmp(file_of(b)).then_with(|| a.cmp(b)));
        let mut objects = std::pin::pin!(get_stream(store, wanted));
        let mut read = 0usize;
        while let Some((key, got)) = objects.next().await {
            self.gets += 1;
            match got {
                Ok(bytes) => {
                    self.failing.remove(&key);
                    self.seen.insert(key.clone());
                    self.add(key, bytes);
                }
                Err(e) => self.get_failed(key, e),
            }
            read += 1;
            if read.is_multiple_of(CLOSE_EVERY) {
                self.close_seconds();
            }
        }
        self.close_seconds();
        Ok(())
    }

    /// Counts a failed GET; after [`GET_ATTEMPTS`] the object is a problem and is
    /// not asked for again.
    fn get_failed(&mut self, key: ObjectKey, error: StoreError) {
        let attempts = self.failing.get(&key).map_or(0, |(n, _)| *n) + 1;
        // Retried at the next poll; a key that keeps failing is named once, as a problem.
        tracing::debug!(key = %key, attempts, error = %error, "GET failed");
        if attempts < GET_ATTEMPTS {
            self.failing.insert(key, (attempts, error.to_string()));
            return;
        }
        self.failing.remove(&key);
        self.problems.push(Problem {
            key: key.clone(),
            message: format!("could not be read ({attempts} attempts): {}", error.message),
        });
        self.seen.insert(key);
    }

    /// Ends the collection: polls until every failed GET was retried
    /// [`GET_ATTEMPTS`] times, then names what the manifests list but the store
    /// does not hold (or holds short), and the intervals workers could not store.
    pub async fn settle(&mut self, store: &impl Store) -> Result<(), StoreError> {
        self.poll(store).await?;
        for _ in 1..GET_ATTEMPTS {
            if self.failing.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.poll(store).await?;
        }
        for (key, (attempts, error)) in std::mem::take(&mut self.failing) {
            self.problems.push(Problem {
                key,
                message: format!("could not be read ({attempts} attempts): {error}"),
            });
        }
        self.check_manifests();
        self.close_all();
        Ok(())
    }

    /// Compares each manifest's list of objects with what was read.
    fn check_manifests(&mut self) {
        let run = &self.plan.run_id;
        let named: BTreeSet<&ObjectKey> = self.all_problems().map(|p| &p.key).collect();
        let mut found = Vec::new();
        for ((region, worker), m) in &self.manifests {
            for log in &m.logs {
                let Ok(key) = ObjectKey::new(format!(
                    "{}{}",
                    ObjectKey::worker_prefix(run, region, worker),
                    log.name
                )) else {
                    continue;
                };
                let message = match self.log_requests.get(&key) {
                    None if named.contains(&key) => continue,
                    None => format!(
                        "listed in its manifest ({} requests) but not read from the store",
                        log.requests
                    ),
                    Some(n) if *n != log.requests => format!(
                        "holds {n} requests where its manifest says {}",
                        log.requests
                    ),
                    Some(_) => continue,
                };
                found.push(Problem { key, message });
            }
            if let Some(u) = &m.unwritten {
                found.push(Problem {
                    key: ObjectKey::manifest(run, region, worker),
                    message: format!(
                        "seconds {}-{} of the run ({} requests) could not be stored: {}",
                        u.first_second, u.last_second, u.requests, u.error
                    ),
                });
            }
        }
        self.problems.extend(found);
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
            let mut digest = std::hash::DefaultHasher::new();
            bytes.hash(&mut digest);
            if !self.digests.insert((who.clone(), digest.finish())) {
                self.problems.push(Problem {
                    key,
                    message: "a copy of another object of its worker; counted once".into(),
                });
                return;
            }
            let span = self.span();
            let added = self.merged.add_log(&who, &key, &bytes, span);
            if let Some(end) = added.latest_end {
                let after = end.duration_since(span.start).unwrap_or_default();
                let latest = self.latest_end.entry(who).or_default();
                *latest = (*latest).max(after);
            }
            self.log_requests.insert(key, added.requests);
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

/// How far behind the newest second seen a second closes even when a worker
/// whose window covers it has not flushed past it: three flush intervals and 30 s.
pub fn close_after(plan: &Plan) -> Duration {
    let flush = plan
        .jobs
        .iter()
        .map(|j| j.flush_every)
        .max()
        .unwrap_or_default();
    flush * 3 + Duration::from_secs(30)
}

/// Each job's worker and the seconds of the run its window covers, a second of
/// slack on each side (an interval's second is its start, rounded).
fn windows(plan: &Plan) -> Vec<(WorkerKey, u64, u64)> {
    plan.jobs
        .iter()
        .map(|j| {
            let from = j.start_at.duration_since(plan.start_at).unwrap_or_default();
            let drain = j.request_timeout.min(MAX_DRAIN);
            let to = from + j.duration + drain;
            let who = (j.region.clone(), j.worker_id.clone());
            (who, from.as_secs().saturating_sub(1), to.as_secs() + 1)
        })
        .collect()
}

/// How far a worker has come, for closing seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Its manifest is stored: it adds nothing more.
    Done,
    /// A GET of one of its objects failed and will be retried.
    Retrying,
    /// Its latest stored interval ends this long after the run's start.
    Flushed(Duration),
}

/// Whether second `s` can close: every worker whose window covers it is done
/// or has flushed an interval ending at or after `s + 1`.
fn closes(
    s: u64,
    windows: &[(WorkerKey, u64, u64)],
    progress: impl Fn(&WorkerKey) -> Progress,
) -> bool {
    windows
        .iter()
        .filter(|(_, first, last)| *first <= s && s <= *last)
        .all(|(who, _, _)| match progress(who) {
            Progress::Done => true,
            Progress::Retrying => false,
            Progress::Flushed(end) => end >= Duration::from_secs(s + 1),
        })
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

/// Reads the plan, every manifest and every interval log of `run`, and settles.
pub async fn collect(store: &impl Store, run: &RunId) -> Result<Collected, CollectError> {
    let mut collected = Collected::new(load_plan(store, run).await?);
    collected.settle(store).await?;
    Ok(collected)
}

#[cfg(test)]
mod tests {
    use sls_load_core::job::{Region, WorkerId};

    use super::*;

    fn w(n: usize) -> WorkerKey {
        (Region::us_east_1(), WorkerId::numbered(n))
    }

    #[test]
    fn a_second_closes_once_every_worker_covering_it_flushed_past_it_or_finished() {
        // Worker 0 runs seconds 0-10, worker 1 (the next slice) seconds 9-20.
        let windows = [(w(0), 0, 10), (w(1), 9, 20)];
        let at = |secs: u64| Progress::Flushed(Duration::from_secs(secs));
        let progress =
            |p0: Progress, p1: Progress| move |who: &WorkerKey| if *who == w(0) { p0 } else { p1 };
        // Worker 0 flushed through second 4 (its interval [4, 5) ends at 5).
        let p = progress(at(5), at(0));
        assert!(closes(4, &windows, p));
        assert!(!closes(5, &windows, p));
        // Seconds 9 and 10 need both workers; 11 only worker 1.
        let p = progress(at(11), at(10));
        assert!(closes(8, &windows, p));
        assert!(closes(9, &windows, p));
        assert!(!closes(10, &windows, p));
        assert!(!closes(11, &windows, p));
        let p = progress(Progress::Done, at(12));
        assert!(closes(11, &windows, p));
        assert!(!closes(12, &windows, p));
        // A worker with a GET to retry may still add to any second.
        let p = progress(Progress::Retrying, Progress::Done);
        assert!(!closes(0, &windows, p));
        assert!(closes(15, &windows, p));
        // A second no worker covers closes at once.
        assert!(closes(30, &windows, progress(at(0), at(0))));
    }

    /// One interval per second `seconds` of `home`, one request each, from `start`.
    fn log(start: std::time::SystemTime, seconds: std::ops::RangeInclusive<u64>) -> Vec<u8> {
        use sls_load_core::hlog::{self, IntervalWriter, write_header};
        let mut out = Vec::new();
        write_header(&mut out, &["t"], start).unwrap();
        let mut writer = IntervalWriter::new();
        let mut h = hlog::new_histogram();
        h.record(1_000).unwrap();
        for s in seconds {
            let at = Duration::from_secs(s);
            writer
                .write(
                    &mut out,
                    "http_req_duration:home",
                    at,
                    Duration::from_secs(1),
                    &h,
                )
                .unwrap();
        }
        out
    }

    #[test]
    fn a_worker_that_never_flushes_keeps_seconds_open_only_until_the_fallback() {
        let yaml = r#"
target: http://127.0.0.1:9
duration: 120s
regions: [us-east-1]
scenarios:
  s:
    executor: constant-arrival-rate
    rate: 10
    requests:
      - { name: home, url: / }
"#;
        let scenario =
            sls_load_plan::scenario::parse(std::path::Path::new("t.yaml"), yaml.as_bytes())
                .unwrap();
        let mut options = sls_load_plan::testing::options();
        options.workers = Some(2);
        let mut c = Collected::new(sls_load_plan::plan::plan(&scenario, &options).unwrap());
        let [w0, w1] = [0, 1].map(|i| {
            let j = &c.plan.jobs[i];
            (j.region.clone(), j.worker_id.clone())
        });
        // Flush every 10 s: seconds more than 60 s behind the newest close anyway.
        assert_eq!(close_after(&c.plan), Duration::from_secs(60));
        let key = ObjectKey::latency_log(&c.plan.run_id, &w0.0, &w0.1, 0);
        c.add(key, Some(log(c.plan.start_at, 0..=80)));
        c.close_seconds();
        let closed: Vec<u64> = c.merged.seconds.closed().total.keys().copied().collect();
        assert_eq!(closed, (0..20).collect::<Vec<_>>());
        assert_eq!(c.merged.seconds.open_seconds().next(), Some(20));
        // The silent worker's manifest arrives: it adds nothing more.
        c.reported.insert(w1);
        c.close_seconds();
        assert_eq!(c.merged.seconds.open_seconds().count(), 0);
        assert_eq!(c.merged.seconds.closed().total.len(), 81);
    }
}
