//! The cloud flags (`--local`, `--aws`, `--bucket`, `--function`, `--profile`,
//! ...) read over `sls-load.toml`, and the mode chosen from them: what makes a
//! run local or AWS is decided here, once. It does not build clients or check
//! credentials ([`crate::cloud`] does).

use super::{DEFAULT_FUNCTION, OptionsError, name};
use crate::cli::CloudArgs;
use crate::cloud::{CloudOptions, select_mode};

/// The cloud flags over `sls-load.toml`, with the mode chosen.
pub(super) fn cloud(args: CloudArgs) -> Result<CloudOptions, OptionsError> {
    let project = match crate::project::ProjectFile::load() {
        Ok(project) => project,
        // A broken file does not stop a run that does not use it.
        Err(_) if args.local => None,
        Err(e) => return Err(e.into()),
    };
    let file = project.as_ref().map(|p| p.aws.clone()).unwrap_or_default();
    let implied = if args.account.bucket.is_some() {
        Some("--bucket/SLS_LOAD_BUCKET".to_owned())
    } else if args.account.function.is_some() {
        Some("--function/SLS_LOAD_FUNCTION".to_owned())
    } else if let Some(p) = args.account.profile.as_deref().filter(|p| !p.is_empty()) {
        Some(format!("--profile/AWS_PROFILE {p}"))
    } else {
        project
            .is_some()
            .then(|| crate::project::ProjectFile::path().display().to_string())
    };
    let bucket_region = match args.account.bucket_region.or(file.bucket_region).as_deref() {
        Some(r) => Some(name("--bucket-region", r)?),
        None => None,
    };
    let (mode, why) = select_mode(
        args.local,
        args.aws,
        implied,
        args.account.profile.as_deref(),
    );
    Ok(CloudOptions {
        mode,
        why,
        local_dir: args.local_dir,
        bootstrap: args.bootstrap,
        local_concurrency: args.local_concurrency,
        bucket: args.account.bucket.or(file.bucket),
        bucket_region,
        function: args
            .account
            .function
            .or(file.function)
            .unwrap_or_else(|| DEFAULT_FUNCTION.to_owned()),
        profile: args.account.profile,
    })
}
