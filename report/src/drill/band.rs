//! A client region's band around its baseline, and the stretches of time it
//! spent outside it, to a fraction of a second: the drill analysis's clock.
//!
//! A second is outside the band when its error rate is above the band's or its
//! p95 above the band's; its *bad share* is the part of its requests that put it
//! there (the failed ones, the ones slower than the band's p95, or the larger of
//! the two when both). Consecutive outside seconds make one [`Stretch`], whose
//! edges are refined from the whole seconds by the bad share of its first and
//! last second, relative to the stretch's own level (its inner seconds' largest
//! share, or full when it has none): requests arrive evenly within a second, so a
//! last second half bad means the trouble ended half-way through it. A stretch of
//! one second that holds the event's instant starts at the event. So a 3 s outage
//! from 6.0 s reads 6.0–9.0 s, and a 1 s stall from 16.3 s, which touches the
//! seconds 16 and 17, reads 16.3–17.3 s: one second long, not two.
//!
//! It decides nothing about events (windows, detection, recovery: `analysis`
//! does) and reads no store.

use std::collections::BTreeMap;

use crate::merge::Stats;

/// The band of one region around its baseline.
#[derive(Debug, Clone, Copy)]
pub(super) struct Band {
    /// Highest error rate inside (fraction).
    pub(super) max_rate: f64,
    /// Highest p95 inside, microseconds.
    pub(super) max_p95_us: u64,
}

impl Band {
    /// `None` when one second's figures are inside (a second without requests
    /// is: no evidence), else the share of its requests that put it outside, in
    /// `(0, 1]`.
    pub(super) fn bad_share(&self, s: Option<&Stats>) -> Option<f64> {
        let s = s.filter(|s| s.requests() > 0)?;
        let requests = s.requests() as f64;
        let errors = s.errors() as f64 / requests;
        let p95 = match s.duration.is_empty() {
            true => 0,
            false => s.duration.value_at_quantile(0.95),
        };
        let mut share: Option<f64> = None;
        if errors > self.max_rate + 1e-12 {
            share = Some(errors);
        }
        if p95 > self.max_p95_us {
            let within = s.duration.count_between(0, self.max_p95_us);
            let slow = s.duration.len().saturating_sub(within) as f64 / requests;
            share = Some(share.unwrap_or(0.0).max(slow));
        }
        // Outside by the band's own test, so never nothing: at least a sliver.
        share.map(|v| v.clamp(1e-6, 1.0))
    }
}

/// One stretch of consecutive seconds outside the band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Stretch {
    /// Its first whole second.
    pub(super) first: u64,
    /// Its last whole second.
    pub(super) last: u64,
    /// When it began, seconds after the run's start (refined).
    pub(super) from: f64,
    /// When it ended (refined).
    pub(super) to: f64,
}

impl Stretch {
    /// How long it lasted, seconds.
    pub(super) fn length(&self) -> f64 {
        (self.to - self.from).max(0.0)
    }
}

/// The stretches outside the band among the seconds `from..end`, in time order,
/// from each second's bad share (`bad`); `event_at` (seconds after the run's
/// start) anchors a one-second stretch that holds it.
pub(super) fn stretches(
    bad: &BTreeMap<u64, f64>,
    from: u64,
    end: u64,
    event_at: f64,
) -> Vec<Stretch> {
    let mut out = Vec::new();
    let mut current: Vec<(u64, f64)> = Vec::new();
    for t in from..end {
        match bad.get(&t) {
            Some(share) => current.push((t, *share)),
            None if !current.is_empty() => {
                out.push(refine(&std::mem::take(&mut current), event_at))
            }
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(refine(&current, event_at));
    }
    out
}

/// One stretch's refined edges from its seconds' bad shares.
fn refine(seconds: &[(u64, f64)], event_at: f64) -> Stretch {
    let (first, first_share) = seconds[0];
    let (last, last_share) = seconds[seconds.len() - 1];
    let level = match seconds.len() {
        0..=2 => 1.0,
        _ => seconds[1..seconds.len() - 1]
            .iter()
            .map(|(_, s)| *s)
            .fold(0.0, f64::max),
    };
    let part = |share: f64| (share / level).min(1.0);
    let holds_event = (first as f64..first as f64 + 1.0).contains(&event_at);
    if first == last {
        let length = part(first_share);
        let from = match holds_event {
            true => event_at,
            // Unanchored: somewhere in the second; its middle is the best guess.
            false => first as f64 + (1.0 - length) / 2.0,
        };
        return Stretch {
            first,
            last,
            from,
            to: (from + length).min(first as f64 + 1.0),
        };
    }
    let mut from = first as f64 + 1.0 - part(first_share);
    if holds_event {
        from = from.max(event_at);
    }
    Stretch {
        first,
        last,
        from,
        to: last as f64 + part(last_share),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(list: &[(u64, f64)]) -> BTreeMap<u64, f64> {
        list.iter().copied().collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_full_outage_of_whole_seconds_keeps_its_edges() {
        let s = stretches(&shares(&[(6, 1.0), (7, 1.0), (8, 1.0)]), 0, 20, 6.0);
        assert_eq!(s.len(), 1);
        assert!(close(s[0].from, 6.0) && close(s[0].to, 9.0), "{s:?}");
    }

    #[test]
    fn partly_bad_edge_seconds_move_the_edges_inside_them() {
        // 6.4–9.3 s: 60 % of second 6 and 30 % of second 9 bad.
        let s = stretches(
            &shares(&[(6, 0.6), (7, 1.0), (8, 1.0), (9, 0.3)]),
            0,
            20,
            6.0,
        );
        assert!(close(s[0].from, 6.4) && close(s[0].to, 9.3), "{s:?}");
    }

    #[test]
    fn a_one_second_stall_across_two_seconds_lasts_one_second() {
        let s = stretches(&shares(&[(16, 0.7), (17, 0.3)]), 0, 30, 9.0);
        assert!(close(s[0].from, 16.3) && close(s[0].to, 17.3), "{s:?}");
        assert!(close(s[0].length(), 1.0));
    }

    #[test]
    fn edges_are_measured_against_the_stretchs_own_level() {
        // Half the requests fail throughout: the stretch is the whole 4 s.
        let s = stretches(
            &shares(&[(6, 0.5), (7, 0.5), (8, 0.5), (9, 0.5)]),
            0,
            20,
            6.0,
        );
        assert!(close(s[0].from, 6.0) && close(s[0].to, 10.0), "{s:?}");
    }

    #[test]
    fn a_short_outage_starts_at_the_event_that_holds_its_second() {
        let s = stretches(&shares(&[(6, 0.3)]), 0, 20, 6.0);
        assert!(close(s[0].from, 6.0) && close(s[0].to, 6.3), "{s:?}");
        let s = stretches(&shares(&[(6, 0.3), (12, 0.2)]), 0, 20, 6.0);
        assert_eq!(s.len(), 2);
        assert!(close(s[1].length(), 0.2), "{s:?}");
    }
}
