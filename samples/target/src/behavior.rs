//! What the target does to each counted request: the fixed delay, the
//! deterministic "every k-th request" selection used for slow responses and
//! injected errors, and the one-time stall window. Everything here is pure
//! arithmetic on the request number and its arrival time, so it is easy to
//! test and costs nothing on the hot path.

use std::time::Duration;

/// Fixed-point scale of [`Fraction`]: fractions are stored in parts per billion.
const SCALE: u128 = 1_000_000_000;

/// A fraction in `[0, 1]` that selects requests deterministically by number.
///
/// Request `n` (0-based) is selected iff `floor((n+1)*F) > floor(n*F)`, so
/// among the first `N` requests exactly `floor(N*F)` are selected and they are
/// spread evenly (`0.1` selects requests 9, 19, 29, ...). The arithmetic is
/// done in integers (`F` rounded to parts per billion) so the pattern is exact
/// and identical on every platform.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fraction {
    per_billion: u64,
}

impl Fraction {
    /// Selects nothing.
    pub const ZERO: Self = Self { per_billion: 0 };

    /// Parses a fraction given as a decimal number in `[0, 1]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not a number"))?;
        Self::from_f64(value)
    }

    /// Builds a fraction from a number in `[0, 1]`.
    pub fn from_f64(value: f64) -> Result<Self, String> {
        if !value.is_finite() || !(0.0..=1.0).contains(&value) {
            return Err(format!("{value} is not a fraction between 0 and 1"));
        }
        // In range by the check above, so the cast cannot saturate.
        let per_billion = (value * SCALE as f64).round() as u64;
        Ok(Self { per_billion })
    }

    /// The fraction as a float, for display.
    pub fn as_f64(self) -> f64 {
        self.per_billion as f64 / SCALE as f64
    }

    /// Whether request number `n` (0-based) is selected.
    pub fn selects(self, n: u64) -> bool {
        if self.per_billion == 0 {
            return false;
        }
        let k = u128::from(self.per_billion);
        let n = u128::from(n);
        (n + 1) * k / SCALE > n * k / SCALE
    }
}

/// A one-time stall: responses that would be sent inside
/// `[at, at + duration)` after server start are held until the window ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stall {
    pub at: Duration,
    pub duration: Duration,
}

impl Stall {
    /// When the stall window ends, relative to server start.
    pub fn end(self) -> Duration {
        self.at.saturating_add(self.duration)
    }

    /// Moves a response time that falls inside the window to its end.
    pub fn hold(self, ready: Duration) -> Duration {
        if ready >= self.at && ready < self.end() {
            self.end()
        } else {
            ready
        }
    }
}

/// The configured behaviour for counted requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Behavior {
    /// Delay before every response that is not selected as slow.
    pub delay: Duration,
    /// Which requests get `slow_delay` instead of `delay`.
    pub slow_fraction: Fraction,
    pub slow_delay: Duration,
    /// Which requests are answered with 500 instead of 200.
    pub error_rate: Fraction,
    pub stall: Option<Stall>,
}

/// What to do with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// When to answer, relative to server start; `None` means right away.
    pub ready_at: Option<Duration>,
    /// Answer with an injected error (500) instead of success.
    pub error: bool,
}

impl Behavior {
    /// Decides the fate of request number `n` that arrived `arrived` after
    /// server start.
    pub fn plan(&self, n: u64, arrived: Duration) -> Plan {
        let delay = if self.slow_fraction.selects(n) {
            self.slow_delay
        } else {
            self.delay
        };
        let mut ready = arrived.saturating_add(delay);
        if let Some(stall) = self.stall {
            ready = stall.hold(ready);
        }
        Plan {
            ready_at: (ready > arrived).then_some(ready),
            error: self.error_rate.selects(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frac(value: f64) -> Fraction {
        Fraction::from_f64(value).unwrap()
    }

    fn selected(f: Fraction, count: u64) -> Vec<u64> {
        (0..count).filter(|&n| f.selects(n)).collect()
    }

    #[test]
    fn tenth_selects_exactly_every_tenth_request() {
        assert_eq!(selected(frac(0.1), 50), vec![9, 19, 29, 39, 49]);
        assert_eq!(selected(frac(0.1), 1000).len(), 100);
    }

    #[test]
    fn selection_count_is_floor_of_n_times_f() {
        for f in [0.0, 0.01, 0.1, 0.25, 1.0 / 3.0, 0.5, 0.75, 0.999, 1.0] {
            let fr = frac(f);
            for n in [1_u64, 7, 10, 99, 100, 1000, 12_345] {
                let expected = (u128::from(n) * u128::from(fr.per_billion) / SCALE) as usize;
                assert_eq!(selected(fr, n).len(), expected, "f={f} n={n}");
            }
        }
    }

    #[test]
    fn extremes_and_quarters() {
        assert!(selected(Fraction::ZERO, 1000).is_empty());
        assert_eq!(selected(frac(1.0), 5), vec![0, 1, 2, 3, 4]);
        assert_eq!(selected(frac(0.25), 12), vec![3, 7, 11]);
        assert_eq!(selected(frac(0.5), 6), vec![1, 3, 5]);
        // Huge request numbers neither overflow nor change the pattern.
        assert!(frac(0.5).selects(u64::MAX));
        assert!(!frac(0.5).selects(u64::MAX - 1));
    }

    #[test]
    fn fraction_parsing_rejects_out_of_range() {
        assert_eq!(Fraction::parse("0.1").unwrap(), frac(0.1));
        assert_eq!(Fraction::parse(" 1 ").unwrap(), frac(1.0));
        for bad in ["-0.1", "1.5", "NaN", "inf", "", "ten"] {
            assert!(Fraction::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn plan_applies_delay_slow_and_errors() {
        let b = Behavior {
            delay: Duration::from_millis(5),
            slow_fraction: frac(0.5),
            slow_delay: Duration::from_secs(1),
            error_rate: frac(0.25),
            stall: None,
        };
        let t = Duration::from_secs(3);
        assert_eq!(
            b.plan(0, t),
            Plan {
                ready_at: Some(t + Duration::from_millis(5)),
                error: false
            }
        );
        assert_eq!(b.plan(1, t).ready_at, Some(t + Duration::from_secs(1)));
        assert!(b.plan(3, t).error);
        assert!(!b.plan(2, t).error);
        assert_eq!(Behavior::default().plan(0, t).ready_at, None);
    }

    #[test]
    fn stall_holds_responses_due_inside_the_window() {
        let stall = Stall {
            at: Duration::from_secs(10),
            duration: Duration::from_secs(2),
        };
        let b = Behavior {
            delay: Duration::from_millis(100),
            stall: Some(stall),
            ..Behavior::default()
        };
        let ms = Duration::from_millis;
        // Answered before the window: untouched.
        assert_eq!(b.plan(0, ms(5_000)).ready_at, Some(ms(5_100)));
        // Arrived before, still pending when the stall starts: held.
        assert_eq!(b.plan(0, ms(9_950)).ready_at, Some(ms(12_000)));
        // Arrived inside the window: held until its end.
        assert_eq!(b.plan(0, ms(10_000)).ready_at, Some(ms(12_000)));
        assert_eq!(b.plan(0, ms(11_899)).ready_at, Some(ms(12_000)));
        // Due exactly at or after the end: normal delay.
        assert_eq!(b.plan(0, ms(11_900)).ready_at, Some(ms(12_000)));
        assert_eq!(b.plan(0, ms(12_000)).ready_at, Some(ms(12_100)));
        // Without a delay, a request arriving in the window is still held.
        let no_delay = Behavior {
            stall: Some(stall),
            ..Behavior::default()
        };
        assert_eq!(no_delay.plan(0, ms(10_500)).ready_at, Some(ms(12_000)));
        assert_eq!(no_delay.plan(0, ms(9_000)).ready_at, None);
    }
}
