//! The router's view of its backends: which region each client region calls
//! home, which backends are healthy (after `--fail-after` consecutive failed
//! health checks a backend is down; one good check brings it back), and where a
//! request goes: its home backend when healthy, else the nearest healthy one in a
//! fixed order between the AWS regions.
//!
//! Pure bookkeeping, no IO: the checks themselves and the forwarding are
//! `proxy`'s.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// The order in which a region's clients fail over to other regions: nearest
/// first (by typical round-trip time between the AWS regions).
const NEARNESS: &[(&str, &[&str])] = &[
    ("us-east-1", &["us-west-2", "eu-west-1", "ap-southeast-1"]),
    ("us-west-2", &["us-east-1", "ap-southeast-1", "eu-west-1"]),
    ("eu-west-1", &["us-east-1", "us-west-2", "ap-southeast-1"]),
    ("ap-southeast-1", &["us-west-2", "eu-west-1", "us-east-1"]),
];

/// One backend region.
#[derive(Debug)]
pub struct Backend {
    /// The region it stands for (e.g. `eu-west-1`).
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    healthy: AtomicBool,
    failed_checks: AtomicU32,
    forwarded: AtomicU64,
}

impl Backend {
    /// Whether the router currently sends traffic to it.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Requests forwarded to it so far.
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed)
    }
}

/// What a health check changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The backend was marked down.
    Down,
    /// The backend was marked healthy again.
    Up,
}

/// Every backend, in `--backend` order (the first is the default home).
#[derive(Debug)]
pub struct Backends {
    list: Vec<Backend>,
    fail_after: u32,
}

impl Backends {
    /// Backends `(region, address)`, all healthy at first, each marked down after
    /// `fail_after` consecutive failed checks.
    pub fn new(list: Vec<(String, SocketAddr)>, fail_after: u32) -> Self {
        let list = list
            .into_iter()
            .map(|(name, addr)| Backend {
                name,
                addr,
                healthy: AtomicBool::new(true),
                failed_checks: AtomicU32::new(0),
                forwarded: AtomicU64::new(0),
            })
            .collect();
        Self {
            list,
            fail_after: fail_after.max(1),
        }
    }

    /// Every backend.
    pub fn all(&self) -> &[Backend] {
        &self.list
    }

    /// The backend of region `name`.
    pub fn get(&self, name: &str) -> Option<&Backend> {
        self.list.iter().find(|b| b.name == name)
    }

    /// Where a request from client region `client` goes (and counts it there):
    /// its home backend (the first for an unknown or absent region) while
    /// healthy, else the nearest healthy one; with none healthy, home.
    pub fn route(&self, client: Option<&str>) -> &Backend {
        let home = client
            .and_then(|c| self.list.iter().position(|b| b.name == c))
            .unwrap_or(0);
        let chosen = self
            .failover_order(home)
            .find(|&i| self.list[i].healthy())
            .unwrap_or(home);
        let backend = &self.list[chosen];
        backend.forwarded.fetch_add(1, Ordering::Relaxed);
        backend
    }

    /// Indices in the order a client of `home` tries them: home, then the
    /// regions nearest to it, then any other backend in `--backend` order.
    fn failover_order(&self, home: usize) -> impl Iterator<Item = usize> + '_ {
        let near = NEARNESS
            .iter()
            .find(|(r, _)| *r == self.list[home].name)
            .map_or(&[][..], |(_, order)| *order);
        let by_name = near
            .iter()
            .filter_map(|n| self.list.iter().position(|b| b.name == *n));
        let mut seen = Vec::with_capacity(self.list.len());
        std::iter::once(home)
            .chain(by_name)
            .chain(0..self.list.len())
            .filter(move |i| {
                let new = !seen.contains(i);
                seen.push(*i);
                new
            })
    }

    /// Notes one health check of backend `name`; returns the change it caused.
    pub fn note_check(&self, name: &str, ok: bool) -> Option<Change> {
        let b = self.get(name)?;
        if ok {
            b.failed_checks.store(0, Ordering::Relaxed);
            return (!b.healthy.swap(true, Ordering::Relaxed)).then_some(Change::Up);
        }
        let failed = b.failed_checks.fetch_add(1, Ordering::Relaxed) + 1;
        if failed >= self.fail_after && b.healthy.swap(false, Ordering::Relaxed) {
            return Some(Change::Down);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Backends {
        let addr = |p| SocketAddr::from(([127, 0, 0, 1], p));
        Backends::new(
            vec![
                ("us-east-1".into(), addr(1)),
                ("eu-west-1".into(), addr(2)),
                ("ap-southeast-1".into(), addr(3)),
            ],
            3,
        )
    }

    fn routed(b: &Backends, client: Option<&str>) -> String {
        b.route(client).name.clone()
    }

    #[test]
    fn clients_go_home_and_unknown_or_absent_regions_to_the_first_backend() {
        let b = three();
        assert_eq!(routed(&b, Some("eu-west-1")), "eu-west-1");
        assert_eq!(routed(&b, Some("ap-southeast-1")), "ap-southeast-1");
        assert_eq!(routed(&b, Some("sa-east-1")), "us-east-1");
        assert_eq!(routed(&b, None), "us-east-1");
        assert_eq!(b.get("us-east-1").map(Backend::forwarded), Some(2));
    }

    #[test]
    fn a_backend_goes_down_after_the_set_number_of_failed_checks_and_back_on_one_good() {
        let b = three();
        assert_eq!(b.note_check("eu-west-1", false), None);
        assert_eq!(b.note_check("eu-west-1", false), None);
        assert_eq!(routed(&b, Some("eu-west-1")), "eu-west-1");
        assert_eq!(b.note_check("eu-west-1", false), Some(Change::Down));
        assert_eq!(b.note_check("eu-west-1", false), None);
        // Its clients go to the nearest healthy region; the others stay home.
        assert_eq!(routed(&b, Some("eu-west-1")), "us-east-1");
        assert_eq!(routed(&b, Some("ap-southeast-1")), "ap-southeast-1");
        assert_eq!(b.note_check("eu-west-1", true), Some(Change::Up));
        assert_eq!(routed(&b, Some("eu-west-1")), "eu-west-1");
    }

    #[test]
    fn a_good_check_resets_the_count_of_failed_ones() {
        let b = three();
        b.note_check("us-east-1", false);
        b.note_check("us-east-1", false);
        assert_eq!(b.note_check("us-east-1", true), None);
        b.note_check("us-east-1", false);
        b.note_check("us-east-1", false);
        assert!(b.get("us-east-1").is_some_and(Backend::healthy));
    }

    #[test]
    fn failover_follows_nearness_and_with_nothing_healthy_stays_home() {
        let b = three();
        for _ in 0..3 {
            b.note_check("us-east-1", false);
        }
        assert_eq!(routed(&b, Some("us-east-1")), "eu-west-1");
        for _ in 0..3 {
            b.note_check("eu-west-1", false);
        }
        assert_eq!(routed(&b, Some("eu-west-1")), "ap-southeast-1");
        assert_eq!(routed(&b, Some("us-east-1")), "ap-southeast-1");
        for _ in 0..3 {
            b.note_check("ap-southeast-1", false);
        }
        assert_eq!(routed(&b, Some("eu-west-1")), "eu-west-1");
    }
}
