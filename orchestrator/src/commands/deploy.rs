//! `sls-load deploy`: brings the results stack and every region's worker stack
//! about ([`crate::deploy`]), then prints what was deployed, the orchestrator
//! policy to attach and what `--reserve` means, and writes `sls-load.toml`.
//! Resources that `sls-load.toml` marks `managed` are left alone.

use super::Error;
use crate::deploy::{DeployError, DeploySettings};

/// `sls-load deploy`.
pub async fn deploy(s: DeploySettings) -> Result<(), Error> {
    if s.managed {
        eprintln!(
            "sls-load: deploy: nothing deployed: {} says the resources are managed by someone else (managed = true); `sls-load doctor` checks them",
            s.project_file.display()
        );
        return Ok(());
    }
    if s.regions.is_empty() {
        return Err(DeployError::NoRegions.into());
    }
    let done = crate::deploy::deploy(&s).await?;
    let mut text = format!(
        "results bucket: s3://{} ({}), stack sls-load-results {}\n",
        done.bucket,
        s.bucket_region,
        done.results.word()
    );
    for (region, change) in &done.regions {
        text.push_str(&format!(
            "worker {} ({}, {} MB) in {region}: {}\n",
            s.function,
            s.arch,
            s.memory_mb,
            change.word()
        ));
    }
    if !done.policy_arn.is_empty() {
        text.push_str(&format!(
            "orchestrator policy: {arn}\n  attach it to whoever runs sls-load, e.g. \
             `aws iam attach-user-policy --user-name NAME --policy-arn {arn}` \
             (or attach-role-policy / attach-group-policy)\n",
            arn = done.policy_arn
        ));
    }
    if let Some(n) = s.reserve {
        text.push_str(&format!(
            "reserved concurrency: {n} per region, taken from the account's pool; in a shared \
             account this starves other functions, so prefer a dedicated load-test account\n"
        ));
    }
    text.push_str(&format!(
        "wrote {}: `sls-load doctor` checks the set-up, `sls-load run SCENARIO` uses it\n",
        s.project_file.display()
    ));
    super::stdout(&text)
}
