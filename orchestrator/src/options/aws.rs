//! `deploy`, `doctor` and `destroy`'s flags validated over `sls-load.toml` (flags
//! win, the file fills in, then the defaults): regions and the bucket's region
//! are checked names, `--tag KEY=VALUE` pairs, ARNs shaped as IAM takes them,
//! memory within Lambda's range. Part of the [`crate::options`] boundary; it
//! starts nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sls_load_core::job::Region;

use crate::cli::ArchArg;
use crate::cli::aws::{AwsArgs, DeployArgs, DestroyArgs, DoctorArgs};
use crate::deploy::{DEFAULT_MEMORY_MB, DeploySettings, DestroySettings};
use crate::options::{DEFAULT_FUNCTION, OptionsError, PlanSettings};
use crate::project::{AwsResources, ProjectFile};

/// `doctor`, validated.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The scenario whose needs are checked, if any.
    pub scenario: Option<PathBuf>,
    /// The regions to check.
    pub regions: Vec<Region>,
    /// The results bucket (none: not deployed, a failed check).
    pub bucket: Option<String>,
    /// Its region.
    pub bucket_region: Region,
    /// The worker function's name.
    pub function: String,
    /// The AWS profile.
    pub profile: Option<String>,
    /// The worker as plans expect it (memory, architecture) and the scenario's
    /// planning flags.
    pub plan: PlanSettings,
    /// `--request-quota`.
    pub request_quota: bool,
}

fn bad(flag: &'static str, value: &str, expected: &'static str) -> OptionsError {
    OptionsError::BadAws {
        flag,
        value: value.to_owned(),
        expected,
    }
}

/// `--regions`, else the file's, as AWS regions (k6 load zones accepted).
fn regions(flag: Option<Vec<String>>, file: &AwsResources) -> Result<Vec<Region>, OptionsError> {
    let names = flag.unwrap_or_else(|| file.regions.clone());
    let mut out: Vec<Region> = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let region = sls_load_plan::zones::region(name).map_err(OptionsError::UnknownZone)?;
        if !out.contains(&region) {
            out.push(region);
        }
    }
    Ok(out)
}

/// The bucket's region: the flag, the file's, else the first region.
fn bucket_region(
    aws: &AwsArgs,
    file: &AwsResources,
    regions: &[Region],
) -> Result<Region, OptionsError> {
    match aws.bucket_region.clone().or(file.bucket_region.clone()) {
        Some(r) => r.parse().map_err(|source| OptionsError::BadName {
            flag: "--bucket-region",
            source,
        }),
        None => Ok(regions.first().cloned().unwrap_or_else(Region::us_east_1)),
    }
}

/// `--function`, else the file's, else [`DEFAULT_FUNCTION`].
fn function(flag: Option<String>, file: &AwsResources) -> String {
    flag.or(file.function.clone())
        .unwrap_or_else(|| DEFAULT_FUNCTION.to_owned())
}

fn project() -> Result<(PathBuf, AwsResources), OptionsError> {
    let path = ProjectFile::path();
    let file = ProjectFile::load_from(&path)?.unwrap_or_default().aws;
    Ok((path, file))
}

/// An IAM ARN of `kind` (`role`, `policy`), loosely: `arn:PARTITION:iam::ACCOUNT:KIND/NAME`.
fn iam_arn(
    flag: &'static str,
    value: Option<String>,
    kind: &str,
) -> Result<Option<String>, OptionsError> {
    let Some(arn) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && parts[5].starts_with(&format!("{kind}/"));
    if ok {
        Ok(Some(arn))
    } else {
        Err(bad(
            flag,
            &arn,
            "an IAM ARN, arn:aws:iam::ACCOUNT:KIND/NAME",
        ))
    }
}

/// `--tag KEY=VALUE` pairs over the file's tags.
fn tags(flags: &[String], file: &AwsResources) -> Result<BTreeMap<String, String>, OptionsError> {
    let mut tags = file.tags.clone();
    for tag in flags {
        match tag.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                tags.insert(k.trim().to_owned(), v.to_owned());
            }
            _ => return Err(bad("--tag", tag, "KEY=VALUE")),
        }
    }
    Ok(tags)
}

/// The architecture `deploy` uses: the flag, the file's, else arm64 where its zip
/// exists (cheaper per GB-second), else x86_64.
fn deploy_arch(flag: Option<ArchArg>, file: &AwsResources) -> String {
    match flag {
        Some(ArchArg::Arm64) => "arm64".into(),
        Some(ArchArg::X86_64) => "x86_64".into(),
        None => file.arch.clone().unwrap_or_else(|| {
            if Path::new("build/sls-load-worker-arm64.zip").is_file() {
                "arm64".into()
            } else {
                "x86_64".into()
            }
        }),
    }
}

/// `sls-load deploy`, validated.
pub fn deploy(args: DeployArgs) -> Result<DeploySettings, OptionsError> {
    let (project_file, file) = project()?;
    let regions = regions(args.regions, &file)?;
    let memory_mb = args.memory.or(file.memory).unwrap_or(DEFAULT_MEMORY_MB);
    crate::preflight::check_memory(memory_mb)
        .map_err(|_| bad("--memory", &memory_mb.to_string(), "128 to 10240 MB"))?;
    let arch = deploy_arch(args.arch, &file);
    let zip = args
        .zip
        .unwrap_or_else(|| PathBuf::from(format!("build/sls-load-worker-{arch}.zip")));
    Ok(DeploySettings {
        bucket_region: bucket_region(&args.aws, &file, &regions)?,
        regions,
        // Only a bucket named here is created under that name; sls-load.toml's is
        // what an earlier deploy made, which the results stack keeps.
        bucket: args.aws.bucket,
        function: function(args.aws.function, &file),
        arch,
        memory_mb,
        zip,
        reserve: args.reserve,
        role_arn: iam_arn(
            "--role-arn",
            args.role_arn.or(file.role_arn.clone()),
            "role",
        )?,
        permissions_boundary: iam_arn(
            "--permissions-boundary",
            args.permissions_boundary
                .or(file.permissions_boundary.clone()),
            "policy",
        )?,
        tags: tags(&args.tags, &file)?,
        retention_days: args.retention_days.max(1),
        profile: args.aws.profile.filter(|p| !p.is_empty()),
        managed: file.managed,
        project_file,
    })
}

/// `sls-load destroy`, validated.
pub fn destroy(args: DestroyArgs) -> Result<DestroySettings, OptionsError> {
    let (project_file, file) = project()?;
    let regions = regions(args.regions, &file)?;
    Ok(DestroySettings {
        bucket_region: bucket_region(&args.aws, &file, &regions)?,
        regions,
        function: function(args.aws.function, &file),
        profile: args.aws.profile.filter(|p| !p.is_empty()),
        yes: args.yes,
        keep_results: args.keep_results,
        managed: file.managed,
        project_file,
    })
}

/// `sls-load doctor`, validated.
pub fn doctor(args: DoctorArgs) -> Result<DoctorOptions, OptionsError> {
    let (_, file) = project()?;
    let regions = regions(args.plan.regions.clone(), &file)?;
    let plan = PlanSettings::from_cli(args.plan)?;
    Ok(DoctorOptions {
        scenario: args.scenario,
        bucket_region: bucket_region(&args.aws, &file, &regions)?,
        regions,
        bucket: args.aws.bucket.or(file.bucket.clone()),
        function: function(args.aws.function, &file),
        profile: args.aws.profile.filter(|p| !p.is_empty()),
        plan,
        request_quota: args.request_quota,
    })
}

/// `sls-load local-lambda` (hidden), validated.
#[derive(Debug, Clone)]
pub struct LocalLambdaOptions {
    /// The regions.
    pub regions: Vec<Region>,
    /// The function name.
    pub function: String,
    /// The worker binary.
    pub bootstrap: Option<PathBuf>,
    /// Concurrent executions per region.
    pub concurrency: usize,
    /// The memory reported to the worker, MB.
    pub memory_mb: u32,
    /// Directory for the workers' logs.
    pub local_dir: PathBuf,
}

/// `sls-load local-lambda`, validated.
pub fn local_lambda(
    args: crate::cli::aws::LocalLambdaArgs,
) -> Result<LocalLambdaOptions, OptionsError> {
    Ok(LocalLambdaOptions {
        regions: regions(Some(args.regions), &AwsResources::default())?,
        function: args.function,
        bootstrap: args.bootstrap,
        concurrency: args.concurrency.max(1),
        memory_mb: args.memory,
        local_dir: args.local_dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_key_value_pairs_over_the_files() {
        let file = AwsResources {
            tags: [("team".to_owned(), "a".to_owned())].into(),
            ..AwsResources::default()
        };
        let t = tags(&["team=perf".into(), "cost=42".into()], &file).unwrap();
        assert_eq!(t["team"], "perf");
        assert_eq!(t["cost"], "42");
        let e = tags(&["novalue".into()], &file).unwrap_err();
        assert_eq!(e.to_string(), "--tag `novalue`: KEY=VALUE");
    }

    #[test]
    fn role_and_boundary_arns_are_shaped_as_iam_takes_them() {
        let role = "arn:aws:iam::123456789012:role/load".to_owned();
        assert_eq!(
            iam_arn("--role-arn", Some(role.clone()), "role").unwrap(),
            Some(role)
        );
        assert_eq!(iam_arn("--role-arn", None, "role").unwrap(), None);
        let e = iam_arn("--role-arn", Some("load".into()), "role").unwrap_err();
        assert!(e.to_string().starts_with("--role-arn `load`"), "{e}");
        let e = iam_arn(
            "--permissions-boundary",
            Some("arn:aws:iam::1:role/x".into()),
            "policy",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("--permissions-boundary"), "{e}");
    }

    #[test]
    fn regions_come_from_the_flag_else_the_file_without_repeats() {
        let file = AwsResources {
            regions: vec!["eu-west-1".into()],
            ..AwsResources::default()
        };
        let r = regions(
            Some(vec!["us-east-1".into(), "amazon:us:ashburn".into()]),
            &file,
        )
        .unwrap();
        assert_eq!(r, [Region::us_east_1()]);
        let r = regions(None, &file).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].as_str(), "eu-west-1");
    }
}
