//! Network profiles of emulated client regions (local mode): the round-trip time
//! and jitter each region's traffic to the target gets, from the scenario's
//! `target_region:` and `network:` keys and a small table of typical round trips
//! between AWS regions.
//!
//! This module owns the profile types, the table and the choice of each
//! region's profile. It does no IO: the delaying proxy that applies a profile is
//! the local delaying proxy (sls-load-local), and the run command decides whether profiles apply
//! (local mode only; AWS regions are real).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use sls_load_core::job::Region;

/// Added latency for one client region: each direction is delayed by
/// `rtt / 2 ± jitter / 2`, so a round trip takes `rtt ± jitter` more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// Added round-trip time.
    pub rtt: Duration,
    /// Largest deviation of a round trip from `rtt`, either way.
    pub jitter: Duration,
}

impl fmt::Display for Profile {
    /// `rtt 70ms ± 3ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(f, "rtt {}ms ± {}ms", ms(self.rtt), ms(self.jitter))
    }
}

/// Typical round trips between AWS regions, milliseconds (either direction).
/// Pairs not listed get no added delay.
const RTT_MS: &[(&str, &str, u64)] = &[
    ("us-east-1", "us-west-2", 65),
    ("us-east-1", "eu-west-1", 70),
    ("us-east-1", "eu-central-1", 90),
    ("us-east-1", "ap-northeast-1", 150),
    ("us-east-1", "ap-southeast-1", 210),
    ("us-west-2", "eu-west-1", 130),
    ("us-west-2", "eu-central-1", 150),
    ("us-west-2", "ap-northeast-1", 100),
    ("us-west-2", "ap-southeast-1", 165),
    ("eu-west-1", "eu-central-1", 25),
    ("eu-west-1", "ap-northeast-1", 210),
    ("eu-west-1", "ap-southeast-1", 175),
    ("eu-central-1", "ap-northeast-1", 225),
    ("eu-central-1", "ap-southeast-1", 160),
    ("ap-northeast-1", "ap-southeast-1", 70),
];

/// Round trip within one region.
const SAME_REGION: Duration = Duration::from_millis(1);

/// The default profile between `from` and `to`: the table's round trip (1 ms
/// within a region) with a jitter of 5 % of it; `None` for a pair not in the table.
pub fn typical(from: &str, to: &str) -> Option<Profile> {
    let rtt = if from == to {
        SAME_REGION
    } else {
        let ms = RTT_MS
            .iter()
            .find(|(a, b, _)| (*a == from && *b == to) || (*a == to && *b == from))
            .map(|(.., ms)| *ms)?;
        Duration::from_millis(ms)
    };
    Some(Profile {
        rtt,
        jitter: rtt / 20,
    })
}

/// The scenario's network settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// `target_region:` (default us-east-1): where the target runs.
    pub target_region: Region,
    /// `network: { REGION: { rtt, jitter } }`: profiles that replace the table's.
    pub overrides: BTreeMap<Region, Profile>,
    /// Whether profiles apply in local mode: the file named `target_region:` or
    /// `network:`, and `network:` is not `off`.
    pub enabled: bool,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            target_region: Region::us_east_1(),
            overrides: BTreeMap::new(),
            enabled: false,
        }
    }
}

impl Network {
    /// The profile of client region `region`: its override, else the table's
    /// round trip to the target region; `None`: no added delay.
    pub fn profile(&self, region: &Region) -> Option<Profile> {
        if let Some(p) = self.overrides.get(region) {
            return Some(*p);
        }
        typical(region.as_str(), self.target_region.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(s: &str) -> Region {
        Region::new(s).unwrap()
    }

    #[test]
    fn the_table_is_symmetric_and_same_region_is_a_millisecond() {
        let ms = Duration::from_millis;
        assert_eq!(
            typical("us-east-1", "eu-west-1").map(|p| p.rtt),
            Some(ms(70))
        );
        assert_eq!(
            typical("eu-west-1", "us-east-1").map(|p| p.rtt),
            Some(ms(70))
        );
        assert_eq!(
            typical("ap-southeast-1", "us-east-1"),
            Some(Profile {
                rtt: ms(210),
                jitter: Duration::from_micros(10_500)
            })
        );
        assert_eq!(
            typical("eu-west-1", "eu-west-1").map(|p| p.rtt),
            Some(ms(1))
        );
        assert_eq!(typical("local", "us-east-1"), None);
    }

    #[test]
    fn an_override_replaces_the_table_and_the_target_region_moves_it() {
        let mut n = Network::default();
        assert_eq!(
            n.profile(&region("eu-west-1")).map(|p| p.rtt),
            Some(Duration::from_millis(70))
        );
        n.target_region = region("eu-west-1");
        assert_eq!(
            n.profile(&region("eu-west-1")).map(|p| p.rtt),
            Some(Duration::from_millis(1))
        );
        let fixed = Profile {
            rtt: Duration::from_millis(100),
            jitter: Duration::from_millis(5),
        };
        n.overrides.insert(region("eu-west-1"), fixed);
        assert_eq!(n.profile(&region("eu-west-1")), Some(fixed));
        assert_eq!(fixed.to_string(), "rtt 100ms ± 5ms");
    }
}
