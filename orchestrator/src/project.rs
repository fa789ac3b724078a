//! `sls-load.toml`: the AWS resources a project runs with, so that nobody types
//! them on every command. `sls-load deploy` writes it; a platform team that owns
//! the bucket, the role and the functions writes it by hand with `managed = true`,
//! and then `deploy` and `destroy` change nothing. Flags and their environment
//! variables win over the file; the file wins over the built-in defaults.
//!
//! ```toml
//! [aws]
//! bucket = "sls-load-results-123456789012"
//! bucket_region = "us-east-1"
//! function = "sls-load-worker"
//! regions = ["us-east-1", "eu-west-1", "ap-southeast-1"]
//! arch = "arm64"
//! memory = 1769
//! # governed accounts
//! role_arn = "arn:aws:iam::123456789012:role/load-test-worker"
//! permissions_boundary = "arn:aws:iam::123456789012:policy/boundary"
//! tags = { team = "perf", cost-center = "42" }
//! managed = false
//! ```
//!
//! It reads and writes the file; it does not decide the mode ([`crate::cloud`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file's name, looked for in the working directory (or `SLS_LOAD_CONFIG`).
pub const FILE: &str = "sls-load.toml";

/// A `sls-load.toml` that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The file exists but cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is no valid `sls-load.toml`.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, on one line, with the line and key.
        message: String,
    },
    /// The file could not be written.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// The AWS resources.
    #[serde(default)]
    pub aws: AwsResources,
}

/// `[aws]`: what runs use and what `deploy` creates (or, `managed`, finds).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsResources {
    /// The results bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The results bucket's region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_region: Option<String>,
    /// The worker function's name in every region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The regions the worker is deployed in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// The worker's architecture, `arm64` or `x86_64` (plans and costs use it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The worker's memory, MB (plans and costs use it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    /// An existing execution role for the workers (no role is created).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// A permissions boundary for the role `deploy` creates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    /// Tags on every stack (and so every resource) `deploy` creates.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The resources belong to someone else: `deploy` and `destroy` change nothing.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub managed: bool,
}

impl ProjectFile {
    /// Where the file is: `SLS_LOAD_CONFIG`, else `sls-load.toml` here.
    pub fn path() -> PathBuf {
        std::env::var_os("SLS_LOAD_CONFIG")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(FILE))
    }

    /// The file at [`ProjectFile::path`], or `None` when there is none.
    pub fn load() -> Result<Option<ProjectFile>, ProjectError> {
        Self::load_from(&Self::path())
    }

    /// The file at `path`, or `None` when there is none.
    pub fn load_from(path: &Path) -> Result<Option<ProjectFile>, ProjectError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ProjectError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        toml::from_str(&text)
            .map(Some)
            .map_err(|e| ProjectError::Parse {
                path: path.to_owned(),
                message: one_line(&e, &text),
            })
    }

    /// Writes the file to `path`, with a header saying what wrote it.
    pub fn save(&self, path: &Path) -> Result<(), ProjectError> {
        let body = toml::to_string_pretty(self).unwrap_or_default();
        let text = format!(
            "# sls-load's AWS resources (written by `sls-load deploy`; flags override).\n{body}"
        );
        std::fs::write(path, text).map_err(|source| ProjectError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

/// toml's message on one line, with the line number of its span.
fn one_line(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let file = ProjectFile {
            aws: AwsResources {
                bucket: Some("b".into()),
                bucket_region: Some("eu-west-1".into()),
                regions: vec!["eu-west-1".into(), "us-east-1".into()],
                tags: [("team".to_owned(), "perf".to_owned())].into(),
                ..AwsResources::default()
            },
        };
        file.save(&path).unwrap();
        assert_eq!(ProjectFile::load_from(&path).unwrap(), Some(file));
    }

    #[test]
    fn no_file_is_no_project_and_a_bad_key_is_one_line_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        assert_eq!(ProjectFile::load_from(&path).unwrap(), None);
        std::fs::write(&path, "[aws]\nbucket = \"b\"\nbuckett = \"c\"\n").unwrap();
        let e = ProjectFile::load_from(&path).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("buckett"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
