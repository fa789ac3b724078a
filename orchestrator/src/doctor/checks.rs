//! The doctor's verdicts, pure: each takes what was read from AWS and gives one
//! [`Check`], a name and a one-line verdict that says what to do when it fails.
//! Nothing here talks to AWS ([`super::facts`] reads, [`super`] sequences).

use std::time::{Duration, SystemTime};

use sls_load_core::job::Region;
use sls_load_core::probe::ProbeReport;

/// How far the laptop's clock may be from AWS's before the agreed start suffers
/// (the default lead in AWS is 10 s).
pub const CLOCK_TOLERANCE: Duration = Duration::from_secs(5);
/// The smallest timeout a worker needs: a whole slice (14 min by default) plus
/// the wait for the agreed start.
pub const MIN_TIMEOUT_S: i32 = 900;

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, e.g. `eu-west-1 function retries`.
    pub name: String,
    /// `Ok` with what was found, or `Err` with what is wrong and what to do.
    pub verdict: Result<String, String>,
}

impl Check {
    /// A passed check.
    pub fn ok(name: impl Into<String>, found: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            verdict: Ok(found.into()),
        }
    }

    /// A failed check.
    pub fn fail(name: impl Into<String>, why: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            verdict: Err(why.into()),
        }
    }

    /// True when it passed.
    pub fn passed(&self) -> bool {
        self.verdict.is_ok()
    }

    /// `ok   NAME: FOUND` or `FAIL NAME: WHY`.
    pub fn line(&self) -> String {
        match &self.verdict {
            Ok(found) => format!("ok   {}: {found}", self.name),
            Err(why) => format!("FAIL {}: {why}", self.name),
        }
    }
}

/// The deployed function as `GetFunctionConfiguration` and
/// `GetFunctionEventInvokeConfig` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionFacts {
    /// `arm64` or `x86_64`.
    pub arch: String,
    /// Memory, MB.
    pub memory_mb: i32,
    /// Timeout, seconds.
    pub timeout_s: i32,
    /// `MaximumRetryAttempts`; `None` without an event invoke config (Lambda's
    /// default then retries twice).
    pub retries: Option<i32>,
}

/// What runs expect of the function (the plan's memory and architecture).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// `arm64` or `x86_64`.
    pub arch: String,
    /// Memory, MB.
    pub memory_mb: u32,
}

/// The function's architecture, memory, timeout and retries in `region`.
pub fn function(region: &Region, f: &FunctionFacts, want: &Expected) -> Vec<Check> {
    let name = |what: &str| format!("{region} function {what}");
    let mut checks = Vec::new();
    checks.push(if f.arch == want.arch {
        Check::ok(name("architecture"), &f.arch)
    } else {
        Check::fail(
            name("architecture"),
            format!(
                "deployed {}, but runs plan and cost {}: redeploy with `sls-load deploy --arch {}` or run with --arch {}",
                f.arch, want.arch, want.arch, f.arch
            ),
        )
    });
    checks.push(if i64::from(f.memory_mb) == i64::from(want.memory_mb) {
        Check::ok(name("memory"), format!("{} MB", f.memory_mb))
    } else {
        Check::fail(
            name("memory"),
            format!(
                "deployed {} MB, but runs plan workers and cost for {} MB: pass --memory {} or redeploy with --memory {}",
                f.memory_mb, want.memory_mb, f.memory_mb, want.memory_mb
            ),
        )
    });
    checks.push(if f.timeout_s >= MIN_TIMEOUT_S {
        Check::ok(name("timeout"), format!("{} s", f.timeout_s))
    } else {
        Check::fail(
            name("timeout"),
            format!(
                "{} s, shorter than a slice and its start ({MIN_TIMEOUT_S} s): redeploy with `sls-load deploy`",
                f.timeout_s
            ),
        )
    });
    checks.push(match f.retries {
        Some(0) => Check::ok(name("retries"), "MaximumRetryAttempts = 0"),
        Some(n) => Check::fail(
            name("retries"),
            format!(
                "MaximumRetryAttempts = {n}: a retried worker sends its load twice; redeploy with `sls-load deploy` (it sets 0)"
            ),
        ),
        None => Check::fail(
            name("retries"),
            "no event invoke config, so Lambda retries a failed worker twice and it sends its load again: redeploy with `sls-load deploy` (it sets MaximumRetryAttempts = 0)",
        ),
    });
    checks
}

/// The worker's answer to the probe in `region`: its version against the CLI's,
/// its architecture against the deployed one, and its read of the control object.
pub fn probe(region: &Region, report: &ProbeReport, cli_version: &str, arch: &str) -> Vec<Check> {
    let name = |what: &str| format!("{region} worker {what}");
    let running = match report.arch.as_str() {
        "aarch64" => "arm64",
        other => other,
    };
    let mut checks = vec![if report.version == cli_version {
        Check::ok(name("version"), &report.version)
    } else {
        Check::fail(
            name("version"),
            format!(
                "the deployed worker is {}, this sls-load is {cli_version}: `make package` and `sls-load deploy`",
                report.version
            ),
        )
    }];
    if running != arch {
        checks.push(Check::fail(
            name("architecture"),
            format!("the code runs as {running} on a function deployed as {arch}"),
        ));
    }
    checks.push(match report.read.as_str() {
        "ok" => Check::ok(name("reads control.json"), "the kill switch can be read"),
        other => Check::fail(
            name("reads control.json"),
            format!(
                "the worker could not read the run's control object ({other}): its role needs s3:GetObject on runs/*/control.json of the results bucket, or it would not stop when told to"
            ),
        ),
    });
    checks
}

/// The bucket's region against the one runs use.
pub fn bucket_region(bucket: &str, actual: &str, expected: &Region) -> Check {
    let actual = if actual.is_empty() {
        "us-east-1"
    } else {
        actual
    };
    if actual == expected.as_str() {
        Check::ok("bucket region", format!("s3://{bucket} is in {actual}"))
    } else {
        Check::fail(
            "bucket region",
            format!(
                "s3://{bucket} is in {actual}, runs expect {expected}: pass --bucket-region {actual} (or fix sls-load.toml)"
            ),
        )
    }
}

/// A lifecycle rule on the bucket that expires `runs/`: `(prefix, enabled,
/// expiration days)` for each rule read.
pub fn lifecycle(bucket: &str, rules: &[(String, bool, Option<i32>)]) -> Check {
    let expiring = rules.iter().find(|(prefix, enabled, days)| {
        *enabled && days.is_some() && "runs/".starts_with(prefix.as_str())
    });
    match expiring {
        Some((_, _, Some(days))) => Check::ok(
            "bucket lifecycle",
            format!("runs/ expire after {days} days"),
        ),
        _ => Check::fail(
            "bucket lifecycle",
            format!(
                "s3://{bucket} has no enabled rule expiring runs/: stored runs are kept (and billed) forever; redeploy with `sls-load deploy` or add an expiration rule"
            ),
        ),
    }
}

/// This machine's clock against AWS's `Date` header (read at `local`).
pub fn clock(local: SystemTime, aws: SystemTime) -> Check {
    let (off, word) = match local.duration_since(aws) {
        Ok(ahead) => (ahead, "ahead of"),
        Err(behind) => (behind.duration(), "behind"),
    };
    // Whole seconds, as AWS's `Date` has them.
    let secs = off.as_secs_f64().round() as u64;
    if off <= CLOCK_TOLERANCE {
        Check::ok("clock", format!("within {secs}s of AWS's"))
    } else {
        Check::fail(
            "clock",
            format!(
                "this machine's clock is {secs}s {word} AWS's: runs plan the agreed start from it (10 s ahead); sync it (NTP, `chronyc makestep`)"
            ),
        )
    }
}

/// The account's unreserved concurrency in `region` against what is needed.
pub fn concurrency(region: &Region, available: Option<i64>, needed: Option<usize>) -> Check {
    let name = format!("{region} concurrency");
    match (available, needed) {
        (None, _) => Check::fail(name, "GetAccountSettings gave no concurrency figure"),
        (Some(have), Some(need)) if need as i64 > have => Check::fail(
            name,
            format!(
                "the scenario needs {need} concurrent executions, the account has {have} unreserved: request a Lambda \"Concurrent executions\" quota of {need} in {region} (`sls-load doctor SCENARIO --request-quota` files it)"
            ),
        ),
        (Some(have), Some(need)) => Check::ok(name, format!("{have} unreserved, {need} needed")),
        (Some(have), None) => Check::ok(name, format!("{have} unreserved")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> Region {
        "eu-west-1".parse().unwrap()
    }

    fn healthy() -> FunctionFacts {
        FunctionFacts {
            arch: "arm64".into(),
            memory_mb: 1769,
            timeout_s: 900,
            retries: Some(0),
        }
    }

    fn want() -> Expected {
        Expected {
            arch: "arm64".into(),
            memory_mb: 1769,
        }
    }

    fn failed(checks: &[Check]) -> Vec<String> {
        checks
            .iter()
            .filter(|c| !c.passed())
            .map(Check::line)
            .collect()
    }

    #[test]
    fn a_healthy_function_passes_every_check() {
        let checks = function(&region(), &healthy(), &want());
        assert_eq!(checks.len(), 4);
        assert!(failed(&checks).is_empty(), "{:?}", failed(&checks));
    }

    #[test]
    fn each_function_fault_is_one_line_naming_it() {
        for (fault, word) in [
            (
                FunctionFacts {
                    arch: "x86_64".into(),
                    ..healthy()
                },
                "architecture",
            ),
            (
                FunctionFacts {
                    memory_mb: 1024,
                    ..healthy()
                },
                "memory",
            ),
            (
                FunctionFacts {
                    timeout_s: 60,
                    ..healthy()
                },
                "timeout",
            ),
            (
                FunctionFacts {
                    retries: Some(2),
                    ..healthy()
                },
                "retries",
            ),
            (
                FunctionFacts {
                    retries: None,
                    ..healthy()
                },
                "retries",
            ),
        ] {
            let lines = failed(&function(&region(), &fault, &want()));
            assert_eq!(lines.len(), 1, "{lines:?}");
            assert!(
                lines[0].starts_with(&format!("FAIL eu-west-1 function {word}: ")),
                "{}",
                lines[0]
            );
            assert!(!lines[0].contains('\n'));
        }
    }

    #[test]
    fn the_probe_names_an_older_worker_and_an_unreadable_control_object() {
        let report = |version: &str, read: &str| ProbeReport {
            version: version.into(),
            arch: "aarch64".into(),
            read: read.into(),
        };
        assert!(failed(&probe(&region(), &report("0.1.0", "ok"), "0.1.0", "arm64")).is_empty());
        let old = failed(&probe(&region(), &report("0.0.9", "ok"), "0.1.0", "arm64"));
        assert_eq!(old.len(), 1);
        assert!(
            old[0].contains("worker version: the deployed worker is 0.0.9"),
            "{}",
            old[0]
        );
        let denied = failed(&probe(
            &region(),
            &report("0.1.0", "error: access denied (403)"),
            "0.1.0",
            "arm64",
        ));
        assert_eq!(denied.len(), 1);
        assert!(denied[0].contains("reads control.json"), "{}", denied[0]);
        let wrong = failed(&probe(&region(), &report("0.1.0", "ok"), "0.1.0", "x86_64"));
        assert!(wrong[0].contains("runs as arm64"), "{}", wrong[0]);
    }

    #[test]
    fn the_bucket_needs_a_rule_expiring_runs_and_the_expected_region() {
        let rules = [("runs/".to_owned(), true, Some(30))];
        assert!(lifecycle("b", &rules).passed());
        assert!(lifecycle("b", &[("".to_owned(), true, Some(7))]).passed());
        assert!(!lifecycle("b", &[]).passed());
        assert!(!lifecycle("b", &[("runs/".to_owned(), false, Some(30))]).passed());
        assert!(!lifecycle("b", &[("logs/".to_owned(), true, Some(30))]).passed());
        assert!(bucket_region("b", "", &Region::us_east_1()).passed());
        let wrong = bucket_region("b", "eu-west-1", &Region::us_east_1());
        assert!(
            wrong.line().contains("--bucket-region eu-west-1"),
            "{}",
            wrong.line()
        );
    }

    #[test]
    fn a_clock_two_minutes_off_fails_and_a_second_does_not() {
        let aws = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert!(clock(aws + Duration::from_secs(1), aws).passed());
        let behind = clock(aws - Duration::from_secs(120), aws);
        assert_eq!(
            behind.line(),
            "FAIL clock: this machine's clock is 120s behind AWS's: runs plan the agreed start from it (10 s ahead); sync it (NTP, `chronyc makestep`)"
        );
        assert!(!clock(aws + Duration::from_secs(120), aws).passed());
    }

    #[test]
    fn too_little_concurrency_names_the_quota_to_request() {
        assert!(concurrency(&region(), Some(1000), Some(40)).passed());
        let low = concurrency(&region(), Some(10), Some(40));
        assert!(
            low.line()
                .contains("request a Lambda \"Concurrent executions\" quota of 40 in eu-west-1"),
            "{}",
            low.line()
        );
        assert!(concurrency(&region(), Some(10), None).passed());
    }
}
