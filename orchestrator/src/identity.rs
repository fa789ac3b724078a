//! Who the AWS credentials belong to, checked before anything is started: the
//! SDK's credential chain is asked for credentials (environment, profile keys,
//! SSO, `credential_process`, assumed roles, web identity, containers, the
//! instance role) and STS `GetCallerIdentity` names the account. A failure is one
//! line saying what to do — `run aws sso login --profile X` for an SSO profile
//! without a valid cached token, the `credential_process` command's own failure
//! for such a profile — never the SDK's debug dump.
//!
//! It also answers, within a bound, whether this machine has an instance role
//! ([`instance_role`]), for choosing the mode when nothing else is configured.
//! It does not choose the mode ([`crate::cloud`] does) nor build service clients.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::config::ProvideCredentials as _;

use crate::awsenv::AwsEnv;

/// How long loading credentials may take (an SSO refresh or a
/// `credential_process` included).
pub const CREDENTIALS_LIMIT: Duration = Duration::from_secs(30);
/// How long the instance-role probe may take in all; a laptop without an
/// instance metadata service answers "no" within it.
pub const IMDS_PROBE_LIMIT: Duration = Duration::from_millis(1500);

/// The account and principal behind the credentials.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// The 12-digit account id.
    pub account: String,
    /// The caller's ARN (user, assumed role, ...).
    pub arn: String,
}

/// Credentials that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// An SSO profile without a valid cached token.
    #[error(
        "AWS profile `{0}` signs in with SSO and has no valid cached token: run `aws sso login --profile {0}`"
    )]
    SsoLogin(String),
    /// The profile's `credential_process` failed.
    #[error("the credential_process of AWS profile `{profile}` failed: {reason}")]
    Process {
        /// The profile.
        profile: String,
        /// What the SDK said (the command's exit status or output).
        reason: String,
    },
    /// The chain found nothing usable.
    #[error("no usable AWS credentials ({0}): {CONFIGURE}")]
    Missing(String),
    /// Loading took longer than [`CREDENTIALS_LIMIT`].
    #[error(
        "loading AWS credentials took longer than {}s: check the profile's credential_process or SSO set-up",
        CREDENTIALS_LIMIT.as_secs()
    )]
    Slow,
    /// STS did not accept the credentials, or could not be reached.
    #[error("{0}")]
    Rejected(String),
}

/// How to configure credentials.
const CONFIGURE: &str = crate::aws_error::CONFIGURE;

/// Loads credentials through `conf`'s chain and asks STS whose they are. `env`
/// is the set-up as read from the files, for wording failures.
pub async fn identify(conf: &SdkConfig, env: &AwsEnv) -> Result<Identity, CredentialsError> {
    let Some(provider) = conf.credentials_provider() else {
        return Err(CredentialsError::Missing("no credentials provider".into()));
    };
    match tokio::time::timeout(CREDENTIALS_LIMIT, provider.provide_credentials()).await {
        Err(_) => return Err(CredentialsError::Slow),
        Ok(Err(e)) => return Err(load_failure(env, &crate::aws_error::one_line(&e))),
        Ok(Ok(_)) => {}
    }
    let sts = aws_sdk_sts::Client::new(conf);
    let out = sts.get_caller_identity().send().await.map_err(|e| {
        let needs = crate::aws_error::Needs {
            permission: "sts:GetCallerIdentity",
            missing: (&[], ""),
        };
        CredentialsError::Rejected(crate::aws_error::describe(&e, &needs))
    })?;
    Ok(Identity {
        account: out.account().unwrap_or_default().to_owned(),
        arn: out.arn().unwrap_or_default().to_owned(),
    })
}

/// The line for credentials the chain could not load: an SSO profile needs a
/// login, a `credential_process` profile's command failed, else nothing usable.
fn load_failure(env: &AwsEnv, reason: &str) -> CredentialsError {
    if env.source.is_none() || env.source == Some(crate::awsenv::Source::Profile) {
        if env.sso {
            return CredentialsError::SsoLogin(env.profile.clone());
        }
        if env.process {
            return CredentialsError::Process {
                profile: env.profile.clone(),
                reason: reason.to_owned(),
            };
        }
    }
    CredentialsError::Missing(reason.to_owned())
}

/// True when an instance metadata service answers with an instance role (EC2,
/// or anything serving IMDS at `AWS_EC2_METADATA_SERVICE_ENDPOINT`), asked once
/// with short timeouts and [`IMDS_PROBE_LIMIT`] in all, on a thread of its own so
/// that it works inside or outside an async runtime. `AWS_EC2_METADATA_DISABLED=true`
/// turns the probe off, as it does the SDK's.
pub fn instance_role() -> bool {
    let disabled = std::env::var("AWS_EC2_METADATA_DISABLED")
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if disabled {
        return false;
    }
    let probe = std::thread::spawn(|| {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return false;
        };
        runtime.block_on(async {
            let provider = aws_config::provider_config::ProviderConfig::without_region()
                .with_http_client(sls_load_core::sdk::http_client());
            let client = aws_config::imds::Client::builder()
                .configure(&provider)
                .connect_timeout(Duration::from_millis(300))
                .read_timeout(Duration::from_millis(700))
                .max_attempts(1)
                .build();
            let roles = client.get("/latest/meta-data/iam/security-credentials/");
            matches!(
                tokio::time::timeout(IMDS_PROBE_LIMIT, roles).await,
                Ok(Ok(names)) if !names.as_ref().trim().is_empty()
            )
        })
    });
    probe.join().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::awsenv::Source;

    fn env(sso: bool, process: bool, source: Option<Source>) -> AwsEnv {
        AwsEnv {
            profile: "dev".into(),
            profile_named: true,
            profile_exists: true,
            source,
            region: None,
            sso,
            process,
        }
    }

    #[test]
    fn an_sso_profile_that_cannot_load_asks_for_a_login_in_one_line() {
        let e = load_failure(&env(true, false, Some(Source::Profile)), "token expired");
        assert_eq!(
            e.to_string(),
            "AWS profile `dev` signs in with SSO and has no valid cached token: run `aws sso login --profile dev`"
        );
    }

    #[test]
    fn a_failing_credential_process_is_named_with_its_reason() {
        let e = load_failure(&env(false, true, Some(Source::Profile)), "exit status 3");
        assert_eq!(
            e.to_string(),
            "the credential_process of AWS profile `dev` failed: exit status 3"
        );
        // Environment keys come first in the chain: their failure is not the profile's.
        let e = load_failure(&env(true, true, Some(Source::EnvKeys)), "bad");
        assert!(matches!(e, CredentialsError::Missing(_)), "{e}");
    }
}
