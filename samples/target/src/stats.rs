//! Request counters and their JSON form. Owns the totals, the per-path,
//! per-method and per-status counts, and the arrival counts per second since
//! start and per unix second. The hot path is a handful of relaxed atomic
//! increments plus a shared read lock on the path map; slots are fixed-size
//! arrays sized from the server's lifetime, so counting never allocates
//! except the first time a new path is seen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// Methods with their own counter; anything else is counted as `OTHER`.
const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
];
const OTHER_METHOD: &str = "OTHER";

/// Distinct paths tracked individually; later new paths go to [`OTHER_PATHS`]
/// so random paths cannot grow memory without bound.
const MAX_PATHS: usize = 10_000;
const OTHER_PATHS: &str = "(other)";

/// Upper bound on per-second slots (one day).
pub const MAX_SECOND_SLOTS: usize = 86_400;

/// Number of status codes with a counter (0..=999; real codes are 100..=999).
const STATUS_SLOTS: usize = 1000;

pub struct Stats {
    started: Instant,
    started_at_unix_ms: u64,
    requests: AtomicU64,
    by_method: [AtomicU64; METHODS.len() + 1],
    by_status: Box<[AtomicU64]>,
    by_path: RwLock<HashMap<Box<str>, AtomicU64>>,
    other_paths: AtomicU64,
    /// `per_second[i]`: arrivals in second `i` after `started`; the last slot
    /// also absorbs anything later.
    per_second: Box<[AtomicU64]>,
    /// `per_unix_second[i]`: arrivals in unix second `started_at_unix_ms / 1000 + i`.
    per_unix_second: Box<[AtomicU64]>,
}

fn counters(len: usize) -> Box<[AtomicU64]> {
    (0..len).map(|_| AtomicU64::new(0)).collect()
}

impl Stats {
    /// Counters for a server starting now that lives about `lifetime`.
    pub fn new(lifetime: Duration) -> Self {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self::with_clock(Instant::now(), unix_ms, lifetime)
    }

    /// Counters with an explicit start (monotonic and wall clock).
    pub fn with_clock(started: Instant, started_at_unix_ms: u64, lifetime: Duration) -> Self {
        // +2: the partial second at the start of the unix-second grid and the
        // one in progress at the end.
        let slots = usize::try_from(lifetime.as_secs())
            .unwrap_or(usize::MAX)
            .saturating_add(2)
            .min(MAX_SECOND_SLOTS);
        Self {
            started,
            started_at_unix_ms,
            requests: AtomicU64::new(0),
            by_method: Default::default(),
            by_status: counters(STATUS_SLOTS),
            by_path: RwLock::new(HashMap::new()),
            other_paths: AtomicU64::new(0),
            per_second: counters(slots),
            per_unix_second: counters(slots),
        }
    }

    /// The monotonic instant the server started; request times are relative to it.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Counts a request that arrived `arrived` after start and returns its
    /// 0-based number (since start or the last reset).
    pub fn record_request(&self, method: &str, path: &str, arrived: Duration) -> u64 {
        let n = self.requests.fetch_add(1, Relaxed);

        let m = METHODS
            .iter()
            .position(|&known| known == method)
            .unwrap_or(METHODS.len());
        self.by_method[m].fetch_add(1, Relaxed);

        self.count_path(path);

        let last = self.per_second.len() - 1;
        let sec = usize::try_from(arrived.as_secs()).unwrap_or(usize::MAX);
        self.per_second[sec.min(last)].fetch_add(1, Relaxed);
        let unix_ms = u128::from(self.started_at_unix_ms % 1000) + arrived.as_millis();
        let unix_slot = usize::try_from(unix_ms / 1000).unwrap_or(usize::MAX);
        self.per_unix_second[unix_slot.min(last)].fetch_add(1, Relaxed);
        n
    }

    fn count_path(&self, path: &str) {
        {
            let map = self.by_path.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(count) = map.get(path) {
                count.fetch_add(1, Relaxed);
                return;
            }
        }
        let mut map = self.by_path.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = map.get(path) {
            count.fetch_add(1, Relaxed);
        } else if map.len() < MAX_PATHS {
            map.insert(path.into(), AtomicU64::new(1));
        } else {
            self.other_paths.fetch_add(1, Relaxed);
        }
    }

    /// Counts the status a request was answered with.
    pub fn record_status(&self, status: u16) {
        if let Some(count) = self.by_status.get(usize::from(status)) {
            count.fetch_add(1, Relaxed);
        }
    }

    /// Zeroes every count (the start time is kept).
    pub fn reset(&self) {
        self.requests.store(0, Relaxed);
        self.by_path
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.other_paths.store(0, Relaxed);
        let slots = self
            .by_method
            .iter()
            .chain(self.by_status.iter())
            .chain(self.per_second.iter())
            .chain(self.per_unix_second.iter());
        for count in slots {
            count.store(0, Relaxed);
        }
    }

    /// The counts as JSON, with `per_second` covering the seconds up to `now`
    /// (relative to start).
    pub fn snapshot(&self, now: Duration) -> Value {
        let by_path: Map<String, Value> = {
            let map = self.by_path.read().unwrap_or_else(PoisonError::into_inner);
            let other = self.other_paths.load(Relaxed);
            map.iter()
                .map(|(path, count)| (path.to_string(), count.load(Relaxed)))
                .chain((other > 0).then(|| (OTHER_PATHS.to_string(), other)))
                .map(|(k, v)| (k, Value::from(v)))
                .collect()
        };
        let by_method: Map<String, Value> = METHODS
            .iter()
            .chain([&OTHER_METHOD])
            .zip(self.by_method.iter())
            .filter_map(|(name, count)| nonzero(name.to_string(), count))
            .collect();
        let by_status: Map<String, Value> = self
            .by_status
            .iter()
            .enumerate()
            .filter_map(|(code, count)| nonzero(code.to_string(), count))
            .collect();
        let seconds = usize::try_from(now.as_secs())
            .unwrap_or(usize::MAX)
            .saturating_add(1)
            .min(self.per_second.len());
        let per_second: Vec<u64> = self.per_second[..seconds]
            .iter()
            .map(|count| count.load(Relaxed))
            .collect();
        let unix_base = self.started_at_unix_ms / 1000;
        let per_unix_second: Map<String, Value> = self
            .per_unix_second
            .iter()
            .zip(unix_base..)
            .filter_map(|(count, sec)| nonzero(sec.to_string(), count))
            .collect();
        json!({
            "requests": self.requests.load(Relaxed),
            "by_path": by_path,
            "by_method": by_method,
            "by_status": by_status,
            "per_second": per_second,
            "per_unix_second": per_unix_second,
            "started_at_unix_ms": self.started_at_unix_ms,
        })
    }
}

fn nonzero(key: String, count: &AtomicU64) -> Option<(String, Value)> {
    match count.load(Relaxed) {
        0 => None,
        n => Some((key, Value::from(n))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn stats() -> Stats {
        // Starts 400 ms into unix second 1_790_000_000.
        Stats::with_clock(Instant::now(), 1_790_000_000_400, Duration::from_secs(10))
    }

    #[test]
    fn counts_and_json_shape() {
        let s = stats();
        assert_eq!(s.record_request("GET", "/", ms(0)), 0);
        assert_eq!(s.record_request("GET", "/", ms(599)), 1);
        assert_eq!(s.record_request("POST", "/a", ms(600)), 2);
        assert_eq!(s.record_request("BREW", "/", ms(2_100)), 3);
        s.record_status(200);
        s.record_status(200);
        s.record_status(500);
        s.record_status(404);
        s.record_status(u16::MAX); // ignored, no panic

        let expected = json!({
            "requests": 4,
            "by_path": {"/": 3, "/a": 1},
            "by_method": {"GET": 2, "POST": 1, "OTHER": 1},
            "by_status": {"200": 2, "404": 1, "500": 1},
            "per_second": [3, 0, 1, 0],
            "per_unix_second": {"1790000000": 2, "1790000001": 1, "1790000002": 1},
            "started_at_unix_ms": 1_790_000_000_400_u64,
        });
        assert_eq!(s.snapshot(ms(3_500)), expected);
    }

    #[test]
    fn late_requests_land_in_the_last_slot() {
        let s = stats();
        s.record_request("GET", "/", Duration::from_secs(1_000_000));
        let snap = s.snapshot(Duration::from_secs(1_000_000));
        let per_second = snap["per_second"].as_array().unwrap();
        assert_eq!(per_second.len(), 12);
        assert_eq!(per_second.last(), Some(&json!(1)));
        assert_eq!(snap["per_unix_second"], json!({"1790000011": 1}));
    }

    #[test]
    fn reset_zeroes_everything_and_restarts_numbering() {
        let s = stats();
        for i in 0..5 {
            s.record_request("GET", &format!("/{i}"), ms(i * 10));
            s.record_status(200);
        }
        s.reset();
        let snap = s.snapshot(ms(100));
        assert_eq!(snap["requests"], 0);
        assert_eq!(snap["by_path"], json!({}));
        assert_eq!(snap["by_method"], json!({}));
        assert_eq!(snap["by_status"], json!({}));
        assert_eq!(snap["per_second"], json!([0]));
        assert_eq!(snap["per_unix_second"], json!({}));
        assert_eq!(s.record_request("GET", "/", ms(200)), 0);
    }

    #[test]
    fn distinct_paths_are_bounded() {
        let s = stats();
        for i in 0..MAX_PATHS + 5 {
            s.record_request("GET", &format!("/p{i}"), ms(0));
        }
        s.record_request("GET", "/p0", ms(0));
        let snap = s.snapshot(ms(0));
        let by_path = snap["by_path"].as_object().unwrap();
        assert_eq!(by_path.len(), MAX_PATHS + 1);
        assert_eq!(by_path[OTHER_PATHS], 5);
        assert_eq!(by_path["/p0"], 2);
    }

    #[test]
    fn lifetime_bounds_slot_count() {
        let s = Stats::with_clock(Instant::now(), 0, Duration::from_secs(u64::MAX));
        assert_eq!(s.per_second.len(), MAX_SECOND_SLOTS);
    }
}
