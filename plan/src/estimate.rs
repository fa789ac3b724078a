//! The request rate a scenario asks for at its peak, as `plan` shows it and as
//! the `--yes` guard on targets weighs it: an open-model scenario's arrival
//! rate is its own; a closed model's depends on the target, so it is estimated
//! from its peak VUs, each running one iteration after another: the
//! iteration's think times (their mean) plus one assumed response time per
//! request (`--expect-latency`, [`DEFAULT_EXPECT_LATENCY`]).
//!
//! Pure arithmetic on the scenario; it plans nothing and measures nothing.

use std::time::Duration;

use crate::scenario::{Scenario, ScenarioDef};

/// The response time assumed for closed-model estimates when none is given.
pub const DEFAULT_EXPECT_LATENCY: Duration = Duration::from_millis(100);

/// A scenario file's peak request rate, open and closed parts apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateEstimate {
    /// Requests per second the arrival-rate scenarios start (exact).
    pub open: f64,
    /// Requests per second the VU scenarios are estimated to send.
    pub closed: f64,
    /// The VU scenarios' peak VUs, summed (0 without any).
    pub vus: u64,
    /// The response time assumed for them.
    pub latency: Duration,
}

impl RateEstimate {
    /// The estimate for every scenario of `scenario` at once (their peaks
    /// added), assuming responses take `latency`.
    pub fn of(scenario: &Scenario, latency: Duration) -> RateEstimate {
        let mut out = RateEstimate {
            open: 0.0,
            closed: 0.0,
            vus: 0,
            latency,
        };
        for s in &scenario.scenarios {
            let per_iteration = s.requests.len() as f64;
            match s.executor.peak_vus() {
                None => out.open += s.executor.iterations_per_second() * per_iteration,
                Some(vus) => {
                    out.vus += u64::from(vus);
                    out.closed += closed_rps(s, vus, latency);
                }
            }
        }
        out
    }

    /// Open and closed together, requests per second.
    pub fn total(&self) -> f64 {
        self.open + self.closed
    }
}

/// `vus` VUs of `s`, each iterating back to back: requests per second.
fn closed_rps(s: &ScenarioDef, vus: u32, latency: Duration) -> f64 {
    let iteration: f64 = s
        .requests
        .iter()
        .map(|r| {
            let think = r
                .sleep
                .map_or(0.0, |t| (t.min.as_secs_f64() + t.max.as_secs_f64()) / 2.0);
            latency.as_secs_f64() + think
        })
        .sum();
    match iteration > 0.0 {
        true => f64::from(vus) * s.requests.len() as f64 / iteration,
        // No think time and no latency assumed: as fast as the target answers.
        false => f64::INFINITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> Scenario {
        crate::scenario::parse(std::path::Path::new("t.yaml"), text.as_bytes()).expect("parses")
    }

    #[test]
    fn two_million_vus_thinking_3_to_7_s_send_about_400k_a_second() {
        let s = scenario(
            "target: http://127.0.0.1:9\nduration: 10m\nscenarios:\n  crowd:\n    executor: constant-vus\n    vus: 2000000\n    requests:\n      - { name: home, url: /, sleep: { min: 3s, max: 7s } }\n",
        );
        let e = RateEstimate::of(&s, DEFAULT_EXPECT_LATENCY);
        assert_eq!(e.open, 0.0);
        assert_eq!(e.vus, 2_000_000);
        // 2,000,000 / (5 s + 0.1 s).
        assert!((e.closed - 392_156.9).abs() < 1.0, "{e:?}");
        let slow = RateEstimate::of(&s, Duration::from_secs(1));
        assert!((slow.closed - 333_333.3).abs() < 1.0, "{slow:?}");
    }

    #[test]
    fn open_and_closed_scenarios_add_up() {
        let s = scenario(
            "target: http://127.0.0.1:9\nduration: 1m\nscenarios:\n  steady:\n    executor: constant-arrival-rate\n    rate: 50\n    requests:\n      - { name: a, url: /a }\n      - { name: b, url: /b }\n  users:\n    executor: ramping-vus\n    stages: [{ duration: 30s, target: 10 }]\n    requests:\n      - { name: c, url: /c, sleep: 900ms }\n",
        );
        let e = RateEstimate::of(&s, DEFAULT_EXPECT_LATENCY);
        assert_eq!(e.open, 100.0);
        assert!((e.closed - 10.0).abs() < 1e-9, "{e:?}");
        assert!((e.total() - 110.0).abs() < 1e-9);
    }
}
