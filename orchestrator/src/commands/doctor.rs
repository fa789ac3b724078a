//! `sls-load doctor [SCENARIO]`: runs every check of [`crate::doctor`] and prints
//! one verdict line each on stdout; any failed check makes it exit 1. With a
//! scenario, the concurrency each region needs is the plan's.

use std::collections::BTreeMap;

use super::{Error, load_scenario};
use crate::doctor::{Examination, checks::Expected};
use crate::options::aws::DoctorOptions;

/// `sls-load doctor`.
pub async fn doctor(opts: DoctorOptions) -> Result<(), Error> {
    let (regions, needs) = match &opts.scenario {
        Some(path) => {
            let scenario = load_scenario(path, None, &opts.plan.overrides, &Default::default())?;
            let layout = opts.plan.layout(&scenario)?;
            let factor = if layout.slices > 1 { 2 } else { 1 };
            let needs: BTreeMap<_, _> = layout
                .regions
                .iter()
                .map(|r| (r.region.clone(), r.slots * factor))
                .collect();
            let regions = if opts.regions.is_empty() {
                layout.region_names()
            } else {
                opts.regions.clone()
            };
            (regions, needs)
        }
        None => (opts.regions.clone(), BTreeMap::new()),
    };
    if regions.is_empty() {
        return Err(crate::deploy::DeployError::NoRegions.into());
    }
    let examination = Examination {
        profile: opts.profile.as_deref(),
        regions: &regions,
        bucket: opts.bucket.as_deref(),
        bucket_region: &opts.bucket_region,
        function: &opts.function,
        expected: Expected {
            arch: opts.plan.arch.to_string(),
            memory_mb: opts.plan.memory_mb,
        },
        needs,
        request_quota: opts.request_quota,
    };
    let checks = crate::doctor::examine(&examination).await;
    let mut text = String::new();
    for check in &checks {
        text.push_str(&check.line());
        text.push('\n');
    }
    super::stdout(&text)?;
    let failed = checks.iter().filter(|c| !c.passed()).count();
    if failed > 0 {
        return Err(Error::Unhealthy(failed));
    }
    Ok(())
}
