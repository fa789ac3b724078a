//! Fault switches of the local Lambda, for tests and rehearsals: parsing
//! `SLS_LOAD_LOCAL_LAMBDA_FAULTS` ([`LambdaFaults`]), deciding whether an Invoke
//! call is throttled (429 `TooManyRequestsException`, as AWS answers), and
//! arming the timer that kills (SIGKILL) or freezes (SIGSTOP) the process
//! running one of the first invocations.
//! It does not answer HTTP (see [`super::invoke_api`]) nor manage processes
//! beyond sending that one signal or retiring that one process through the
//! pool. The grammar is documented in docs/TESTING.md.

use std::time::Duration;

use tracing::warn;

use super::state::Shared;
use crate::LocalError;
use crate::faults::{env_spec, parse_duration, parse_num, spec_clauses, spec_error};

/// The environment variable holding the Lambda fault switches.
pub const LAMBDA_FAULTS_ENV: &str = "SLS_LOAD_LOCAL_LAMBDA_FAULTS";

/// What happens to a victim process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessAction {
    /// SIGKILL: the invocation fails with `Runtime.ExitError`.
    Kill,
    /// SIGSTOP: the process hangs until the invocation times out or the service stops.
    Freeze,
}

/// Kill or freeze the processes running the first `victims` invocations, `after`
/// each was handed to its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessFault {
    /// Kill or freeze.
    pub action: ProcessAction,
    /// Delay from the hand-over of the invocation to the process.
    pub after: Duration,
    /// How many invocations (the first ones, in hand-over order) are hit.
    pub victims: u64,
}

/// The Lambda fault switches of one region's stand-in (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LambdaFaults {
    /// Answer the first this many Invoke calls 429 `TooManyRequestsException`.
    pub throttle_first: u64,
    /// Kill or freeze processes.
    pub process: Option<ProcessFault>,
}

impl LambdaFaults {
    /// The switches in `SLS_LOAD_LOCAL_LAMBDA_FAULTS` (none when unset).
    pub fn from_env() -> Result<LambdaFaults, LocalError> {
        LambdaFaults::parse(&env_spec(LAMBDA_FAULTS_ENV)?)
    }

    /// Parses `throttle=N`, `kill-after=DURATION` or `freeze-after=DURATION`, and
    /// `victims=K` (default 1), separated by `,` or `;`.
    pub fn parse(spec: &str) -> Result<LambdaFaults, LocalError> {
        let mut faults = LambdaFaults::default();
        let mut victims = 1;
        for (name, value) in spec_clauses(spec)?.into_iter().flatten() {
            match name.as_str() {
                "throttle" => faults.throttle_first = parse_num(&name, &value)?,
                "victims" => victims = parse_num(&name, &value)?,
                "kill-after" | "freeze-after" => {
                    if faults.process.is_some() {
                        return Err(spec_error("give one of kill-after and freeze-after".into()));
                    }
                    let action = if name == "kill-after" {
                        ProcessAction::Kill
                    } else {
                        ProcessAction::Freeze
                    };
                    faults.process = Some(ProcessFault {
                        action,
                        after: parse_duration(&name, &value)?,
                        victims: 1,
                    });
                }
                _ => return Err(spec_error(format!("unknown Lambda fault field {name:?}"))),
            }
        }
        if let Some(process) = &mut faults.process {
            process.victims = victims;
        }
        Ok(faults)
    }

    /// True when no switch is on.
    pub fn is_empty(&self) -> bool {
        self.throttle_first == 0 && self.process.is_none()
    }
}

/// Whether this Invoke call is throttled; counts it if so.
pub(super) fn throttle(shared: &Shared) -> bool {
    let mut inner = shared.lock();
    if inner.throttled < shared.cfg.faults.throttle_first {
        inner.throttled += 1;
        warn!(n = inner.throttled, "local Lambda: injected throttle (429)");
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert!(LambdaFaults::parse("").unwrap().is_empty());
        let f = LambdaFaults::parse("throttle=3").unwrap();
        assert_eq!(f.throttle_first, 3);
        assert_eq!(f.process, None);
        let f = LambdaFaults::parse("freeze-after=1s; victims=2, throttle=1").unwrap();
        assert_eq!(
            f.process,
            Some(ProcessFault {
                action: ProcessAction::Freeze,
                after: Duration::from_secs(1),
                victims: 2
            })
        );
        assert_eq!(f.throttle_first, 1);
        let f = LambdaFaults::parse("kill-after=500ms").unwrap();
        assert_eq!(
            f.process.map(|p| (p.action, p.victims)),
            Some((ProcessAction::Kill, 1))
        );
        for bad in [
            "throttle=x",
            "kill-after=1s,freeze-after=1s",
            "kill-after=soon",
            "nope=1",
        ] {
            assert!(LambdaFaults::parse(bad).is_err(), "{bad:?}");
        }
    }
}
