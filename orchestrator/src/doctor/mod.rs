//! `sls-load doctor [SCENARIO]`: checks an AWS set-up the way a run will use it,
//! one verdict line per check: the credentials through the chain (and whose they
//! are), AWS's clock against this machine's, the results bucket (its region, a
//! lifecycle rule expiring `runs/`, a control object written and read back), and
//! in every region the deployed function (architecture, memory, timeout,
//! `MaximumRetryAttempts = 0`), the worker's own answer to a probe invocation
//! (its version against this CLI's, its read of a control object with its role)
//! and the account's concurrency against what the scenario needs (with
//! `--request-quota`, the Service Quotas request for it).
//!
//! [`cheap`] is the part `run --aws` does before invoking anything: the function's
//! configuration in every region. Verdicts are [`checks`]', reads [`facts`]'.

pub mod checks;
pub mod facts;
pub mod quota;

use std::collections::BTreeMap;
use std::time::SystemTime;

use sls_load_core::job::{ObjectKey, Region, RunId};
use sls_load_core::probe::Probe;

use self::checks::{Check, Expected};
use crate::store::S3Store;
use sls_load_report::store::Store;

/// The run id under which the doctor writes its control object (expired with
/// every run by the bucket's lifecycle rule).
pub const PROBE_RUN: &str = "sls-load-doctor";

/// Everything the doctor checks.
#[derive(Debug, Clone)]
pub struct Examination<'a> {
    /// The AWS profile.
    pub profile: Option<&'a str>,
    /// The regions.
    pub regions: &'a [Region],
    /// The results bucket, if any is known.
    pub bucket: Option<&'a str>,
    /// Its region.
    pub bucket_region: &'a Region,
    /// The worker function's name.
    pub function: &'a str,
    /// What runs expect of it.
    pub expected: Expected,
    /// Concurrent executions a scenario needs per region.
    pub needs: BTreeMap<Region, usize>,
    /// File a quota request where concurrency is short.
    pub request_quota: bool,
}

/// Runs every check; the verdicts in order.
pub async fn examine(e: &Examination<'_>) -> Vec<Check> {
    let conf = crate::cloud::profile_conf(e.profile, e.bucket_region).await;
    let env = crate::awsenv::AwsEnv::read(e.profile);
    let mut checks = Vec::new();
    match crate::identity::identify(&conf, &env).await {
        Ok(id) => checks.push(Check::ok(
            "credentials",
            format!("account {} as {}", id.account, id.arn),
        )),
        Err(why) => {
            // Nothing else can be read without them.
            checks.push(Check::fail("credentials", why.to_string()));
            return checks;
        }
    }
    checks.push(match facts::aws_clock(&conf).await {
        Ok((local, aws)) => checks::clock(local, aws),
        Err(why) => Check::fail("clock", why),
    });
    checks.extend(bucket(e, &conf).await);
    let regions = e.regions.iter().map(|region| region_checks(e, region));
    for region in futures_util::future::join_all(regions).await {
        checks.extend(region);
    }
    checks
}

/// The results bucket: region, lifecycle, a control object written and read.
async fn bucket(e: &Examination<'_>, conf: &aws_config::SdkConfig) -> Vec<Check> {
    let Some(bucket) = e.bucket else {
        return vec![Check::fail(
            "bucket",
            "no results bucket named: `sls-load deploy`, --bucket, or sls-load.toml",
        )];
    };
    let s3 = crate::cloud::s3_client(conf);
    let mut checks = match facts::bucket(&s3, bucket).await {
        Ok((region, rules)) => vec![
            checks::bucket_region(bucket, &region, e.bucket_region),
            checks::lifecycle(bucket, &rules),
        ],
        Err(why) => return vec![Check::fail("bucket", why)],
    };
    checks.push(match control_round_trip(&S3Store::new(s3, bucket)).await {
        Ok(()) => Check::ok(
            "bucket control object",
            format!("written and read back at s3://{bucket}/runs/{PROBE_RUN}/control.json"),
        ),
        Err(why) => Check::fail("bucket control object", why),
    });
    checks
}

/// `runs/sls-load-doctor/control.json`.
fn control_key() -> Result<ObjectKey, sls_load_core::id::IdError> {
    let run: RunId = PROBE_RUN.parse()?;
    Ok(ObjectKey::control(&run))
}

/// Writes a "go on" control object as a run does and reads it back (a 403 is an
/// error, never "absent").
async fn control_round_trip(store: &S3Store) -> Result<(), String> {
    let key = control_key().map_err(|e| e.to_string())?;
    let body = serde_json::to_vec(&sls_load_core::control::Control::running(SystemTime::now()))
        .unwrap_or_default();
    store
        .put(&key, body, "application/json")
        .await
        .map_err(|e| e.to_string())?;
    match store.get(&key).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(format!("{} was written but reads as absent", key)),
        Err(e) => Err(e.to_string()),
    }
}

/// One region: the function's configuration, the worker's probe, concurrency.
async fn region_checks(e: &Examination<'_>, region: &Region) -> Vec<Check> {
    let conf = crate::cloud::profile_conf(e.profile, region).await;
    let lambda = aws_sdk_lambda::Client::new(&conf);
    let mut checks = match facts::function(&lambda, region, e.function).await {
        Ok(f) => {
            let mut checks = checks::function(region, &f, &e.expected);
            if let (Some(bucket), Ok(key)) = (e.bucket, control_key()) {
                let probe = Probe {
                    bucket: bucket.to_owned(),
                    region: e.bucket_region.clone(),
                    key,
                };
                checks.extend(match facts::probe(&lambda, e.function, &probe).await {
                    Ok(report) => {
                        checks::probe(region, &report, env!("CARGO_PKG_VERSION"), &f.arch)
                    }
                    Err(why) => vec![Check::fail(format!("{region} worker"), why)],
                });
            }
            checks
        }
        Err(why) => vec![Check::fail(format!("{region} function"), why)],
    };
    let invoker =
        crate::invoke::LambdaInvoker::new([(region.clone(), lambda)].into(), e.function.to_owned());
    let needed = e.needs.get(region).copied();
    let concurrency = match invoker.available_concurrency(region).await {
        Ok(available) => checks::concurrency(region, available, needed),
        Err(why) => Check::fail(format!("{region} concurrency"), why.to_string()),
    };
    let short = !concurrency.passed();
    checks.push(concurrency);
    if short
        && e.request_quota
        && let Some(need) = needed
    {
        let client = aws_sdk_servicequotas::Client::new(&conf);
        checks.push(match quota::request(&client, need).await {
            Ok(line) => Check::ok(format!("{region} quota request"), line),
            Err(why) => Check::fail(format!("{region} quota request"), why),
        });
    }
    checks
}

/// The cheap part `run --aws` does before invoking anything: the function's
/// configuration in every region, against what the plan expects. The failed
/// checks' lines, if any.
pub async fn cheap(
    profile: Option<&str>,
    regions: &[Region],
    function: &str,
    expected: &Expected,
) -> Vec<String> {
    let each = regions.iter().map(|region| async move {
        let conf = crate::cloud::profile_conf(profile, region).await;
        let lambda = aws_sdk_lambda::Client::new(&conf);
        match facts::function(&lambda, region, function).await {
            Ok(f) => checks::function(region, &f, expected),
            Err(why) => vec![Check::fail(format!("{region} function"), why)],
        }
    });
    futures_util::future::join_all(each)
        .await
        .into_iter()
        .flatten()
        .filter_map(|c| c.verdict.err().map(|why| format!("{}: {why}", c.name)))
        .collect()
}
