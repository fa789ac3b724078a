//! What this machine's AWS set-up offers, read without any network: the
//! credential environment variables and the shared files (`~/.aws/config`,
//! `~/.aws/credentials`, or `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`),
//! parsed by a small INI reader. It says whether usable credentials are there
//! (keys, SSO, `credential_process`, a role with a source), which profile is
//! selected, whether it exists, and which region is configured.
//!
//! It does not load credentials, call STS or talk to AWS (the SDK does, in
//! [`crate::cloud`]); it only decides what `sls-load` announces and defaults to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where usable credentials were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    EnvKeys,
    /// A web identity token or container credentials named in the environment.
    EnvProvider(&'static str),
    /// The selected profile of the shared files.
    Profile,
}

/// The AWS set-up as read from the environment and the shared files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsEnv {
    /// The selected profile (`--profile`/`AWS_PROFILE`, else `default`).
    pub profile: String,
    /// True when the profile was named rather than `default` by default.
    pub profile_named: bool,
    /// True when the profile has a section in either shared file.
    pub profile_exists: bool,
    /// Where usable credentials are, if anywhere.
    pub source: Option<Source>,
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's `region`.
    pub region: Option<String>,
    /// The profile signs in with SSO (`sso_session` or `sso_start_url`).
    pub sso: bool,
    /// The profile runs a `credential_process`.
    pub process: bool,
}

/// Profile name → its settings, from one shared file.
type Sections = BTreeMap<String, BTreeMap<String, String>>;

impl AwsEnv {
    /// Reads the process environment and the shared files under `$HOME`.
    pub fn read(profile: Option<&str>) -> AwsEnv {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        AwsEnv::from_parts(&var, profile)
    }

    /// Reads through `var` (an environment lookup) and the files it points to.
    pub fn from_parts(var: &dyn Fn(&str) -> Option<String>, profile: Option<&str>) -> AwsEnv {
        let home = var("HOME").map(PathBuf::from);
        let file = |env: &str, default: &str| {
            var(env)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(default)))
        };
        let config = file("AWS_CONFIG_FILE", ".aws/config")
            .map(|p| parse(&read(&p), true))
            .unwrap_or_default();
        let credentials = file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials")
            .map(|p| parse(&read(&p), false))
            .unwrap_or_default();
        let named = profile
            .map(str::to_owned)
            .filter(|p| !p.is_empty())
            .or_else(|| var("AWS_PROFILE"));
        let name = named.clone().unwrap_or_else(|| "default".to_owned());
        let mut settings = config.get(&name).cloned().unwrap_or_default();
        settings.extend(credentials.get(&name).cloned().unwrap_or_default());
        let profile_exists = config.contains_key(&name) || credentials.contains_key(&name);
        let source = env_source(var).or_else(|| usable(&settings).then_some(Source::Profile));
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .or_else(|| settings.get("region").cloned().filter(|r| !r.is_empty()));
        let has = |k: &str| settings.get(k).is_some_and(|v| !v.is_empty());
        AwsEnv {
            profile: name,
            profile_named: named.is_some(),
            profile_exists,
            source,
            region,
            sso: has("sso_session") || has("sso_start_url"),
            process: has("credential_process"),
        }
    }

    /// A named profile that neither shared file has.
    pub fn unknown_profile(&self) -> Option<&str> {
        (self.profile_named && !self.profile_exists).then_some(self.profile.as_str())
    }

    /// Why no credentials were found, for the `local mode` line.
    pub fn why_none(&self) -> String {
        match self.unknown_profile() {
            Some(p) => {
                format!("AWS profile `{p}` not found in ~/.aws/config or ~/.aws/credentials")
            }
            None if self.profile_exists => format!(
                "AWS profile `{}` has no usable credentials (no keys, sso, credential_process or role source)",
                self.profile
            ),
            None => "no AWS credentials found".to_owned(),
        }
    }

    /// Where the credentials come from, for the `AWS mode` line.
    pub fn describe(&self) -> String {
        let mut text = match &self.source {
            Some(Source::EnvKeys) => "credentials from AWS_ACCESS_KEY_ID".to_owned(),
            Some(Source::EnvProvider(var)) => format!("credentials from {var}"),
            Some(Source::Profile) | None => format!("profile {}", self.profile),
        };
        match &self.region {
            Some(r) => text.push_str(&format!(", region {r}")),
            None => text.push_str(", no region configured"),
        }
        text
    }
}

/// Credentials the SDK's chain takes from the environment before any profile.
fn env_source(var: &dyn Fn(&str) -> Option<String>) -> Option<Source> {
    if var("AWS_ACCESS_KEY_ID").is_some() && var("AWS_SECRET_ACCESS_KEY").is_some() {
        return Some(Source::EnvKeys);
    }
    [
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ]
    .into_iter()
    .find(|v| var(v).is_some())
    .map(Source::EnvProvider)
}

/// True when a profile's settings give the SDK a way to credentials.
fn usable(settings: &BTreeMap<String, String>) -> bool {
    let has = |k: &str| settings.get(k).is_some_and(|v| !v.is_empty());
    (has("aws_access_key_id") && has("aws_secret_access_key"))
        || has("credential_process")
        || has("sso_session")
        || has("sso_start_url")
        || (has("role_arn")
            && (has("source_profile")
                || has("credential_source")
                || has("web_identity_token_file")))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The profiles of one shared file. In the config file a profile's section is
/// `[profile NAME]` (or `[default]`); in the credentials file `[NAME]`. Other
/// sections (`[sso-session …]`, `[services …]`) and nested settings are skipped.
fn parse(text: &str, config: bool) -> Sections {
    let mut sections = Sections::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            continue; // a nested setting
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.trim();
            current = if !config || header == "default" {
                Some(header.to_owned())
            } else {
                header
                    .strip_prefix("profile")
                    .filter(|rest| rest.starts_with([' ', '\t']))
                    .map(|rest| rest.trim().to_owned())
            };
            if let Some(name) = &current {
                sections.entry(name.clone()).or_default();
            }
            continue;
        }
        if let (Some(name), Some((key, value))) = (&current, line.split_once('=')) {
            sections
                .entry(name.clone())
                .or_default()
                .insert(key.trim().to_lowercase(), value.trim().to_owned());
        }
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake HOME with the given `~/.aws` files, and an environment of `vars`.
    fn setup(
        config: &str,
        credentials: &str,
        vars: &[(&str, &str)],
    ) -> (tempfile::TempDir, AwsEnv) {
        setup_with(config, credentials, vars, None)
    }

    fn setup_with(
        config: &str,
        credentials: &str,
        vars: &[(&str, &str)],
        profile: Option<&str>,
    ) -> (tempfile::TempDir, AwsEnv) {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        if !config.is_empty() {
            std::fs::write(home.path().join(".aws/config"), config).unwrap();
        }
        if !credentials.is_empty() {
            std::fs::write(home.path().join(".aws/credentials"), credentials).unwrap();
        }
        let mut env: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.insert("HOME".into(), home.path().display().to_string());
        let aws = AwsEnv::from_parts(&|name| env.get(name).cloned(), profile);
        (home, aws)
    }

    #[test]
    fn a_config_with_only_a_region_offers_no_credentials() {
        let (_home, aws) = setup("[default]\nregion = eu-west-1\noutput = json\n", "", &[]);
        assert_eq!(aws.source, None);
        assert_eq!(aws.region.as_deref(), Some("eu-west-1"));
        assert!(
            aws.why_none().contains("no usable credentials"),
            "{}",
            aws.why_none()
        );
    }

    #[test]
    fn keys_in_the_credentials_file_are_usable_credentials() {
        let (_home, aws) = setup(
            "[default]\nregion = eu-west-1\n",
            "[default]\naws_access_key_id = AKIA\naws_secret_access_key = s\n",
            &[],
        );
        assert_eq!(aws.source, Some(Source::Profile));
        assert_eq!(aws.describe(), "profile default, region eu-west-1");
    }

    #[test]
    fn sso_process_and_roles_with_a_source_are_usable_but_a_bare_role_is_not() {
        for (profile, usable) in [
            ("sso_session = corp\nsso_account_id = 1\n", true),
            ("sso_start_url = https://x\n", true),
            ("credential_process = /bin/creds\n", true),
            (
                "role_arn = arn:aws:iam::1:role/r\nsource_profile = base\n",
                true,
            ),
            (
                "role_arn = arn:aws:iam::1:role/r\ncredential_source = Ec2InstanceMetadata\n",
                true,
            ),
            ("role_arn = arn:aws:iam::1:role/r\n", false),
        ] {
            let config = format!("[profile dev]\n{profile}[sso-session corp]\nsso_region = x\n");
            let (_home, aws) = setup_with(&config, "", &[], Some("dev"));
            assert_eq!(aws.source.is_some(), usable, "{profile}");
            assert!(aws.profile_exists);
        }
    }

    #[test]
    fn aws_profile_selects_the_profile_and_its_region() {
        let config = "[default]\nregion = us-west-2\n[profile dev]\nregion = ap-south-1\ncredential_process = x\n";
        let (_home, aws) = setup(config, "", &[("AWS_PROFILE", "dev")]);
        assert_eq!(aws.source, Some(Source::Profile));
        assert_eq!(aws.describe(), "profile dev, region ap-south-1");
    }

    #[test]
    fn aws_region_overrides_the_profile_region() {
        let (_home, aws) = setup(
            "[default]\nregion = us-west-2\n",
            "",
            &[("AWS_DEFAULT_REGION", "eu-north-1")],
        );
        assert_eq!(aws.region.as_deref(), Some("eu-north-1"));
        let (_home, aws) = setup(
            "[default]\nregion = us-west-2\n",
            "",
            &[
                ("AWS_DEFAULT_REGION", "eu-north-1"),
                ("AWS_REGION", "eu-south-1"),
            ],
        );
        assert_eq!(aws.region.as_deref(), Some("eu-south-1"));
    }

    #[test]
    fn a_named_profile_missing_from_both_files_is_unknown() {
        let (_home, aws) = setup(
            "[default]\nregion = us-west-2\n",
            "",
            &[("AWS_PROFILE", "prod")],
        );
        assert_eq!(aws.unknown_profile(), Some("prod"));
        assert!(
            aws.why_none().contains("`prod` not found"),
            "{}",
            aws.why_none()
        );
        // `default` by default is never "unknown": there may be no files at all.
        let (_home, aws) = setup("", "", &[]);
        assert_eq!(aws.unknown_profile(), None);
        assert_eq!(aws.why_none(), "no AWS credentials found");
    }

    #[test]
    fn environment_keys_are_usable_whatever_the_files_say() {
        let (_home, aws) = setup(
            "",
            "",
            &[
                ("AWS_ACCESS_KEY_ID", "AKIA"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
            ],
        );
        assert_eq!(aws.source, Some(Source::EnvKeys));
        // A key id without its secret is not.
        let (_home, aws) = setup("", "", &[("AWS_ACCESS_KEY_ID", "AKIA")]);
        assert_eq!(aws.source, None);
    }

    #[test]
    fn comments_nested_settings_and_other_sections_are_skipped() {
        let config = "# c\n[profile dev]\n; c\ns3 =\n  aws_access_key_id = nested\n[services x]\naws_access_key_id = a\naws_secret_access_key = b\n";
        let (_home, aws) = setup_with(config, "", &[], Some("dev"));
        assert_eq!(aws.source, None);
        assert!(aws.profile_exists);
    }
}
