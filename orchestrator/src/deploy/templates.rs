//! The CloudFormation templates of `infra/`, built into the binary, and the
//! parameters `deploy` gives them. The files in `infra/cloudformation/` stay the
//! one source: what `deploy` creates is exactly what the README's `aws
//! cloudformation deploy` commands create.

use std::collections::BTreeMap;

/// `infra/cloudformation/results-bucket.yaml`.
pub const RESULTS_BUCKET: &str = include_str!("../../../infra/cloudformation/results-bucket.yaml");
/// `infra/cloudformation/worker.yaml`.
pub const WORKER: &str = include_str!("../../../infra/cloudformation/worker.yaml");

/// The results stack's name (one, in the bucket's region).
pub const RESULTS_STACK: &str = "sls-load-results";

/// The worker stack's name in every region: the function's name.
pub fn worker_stack(function: &str) -> String {
    function.to_owned()
}

/// Parameters of `results-bucket.yaml`: the bucket's name (empty: generated),
/// how long runs are kept, and the function the orchestrator policy may invoke.
pub fn results_parameters(
    bucket: Option<&str>,
    retention_days: u32,
    function: &str,
) -> BTreeMap<&'static str, String> {
    [
        ("BucketName", bucket.unwrap_or_default().to_owned()),
        ("RetentionDays", retention_days.to_string()),
        ("WorkerFunctionName", function.to_owned()),
    ]
    .into()
}

/// What one region's worker stack is made of.
#[derive(Debug, Clone)]
pub struct WorkerParameters<'a> {
    /// The code bucket in the function's region.
    pub code_bucket: &'a str,
    /// The zip's key there.
    pub code_key: &'a str,
    /// The results bucket.
    pub results_bucket: &'a str,
    /// Memory, MB.
    pub memory_mb: u32,
    /// `arm64` or `x86_64`.
    pub arch: &'a str,
    /// The function's name.
    pub function: &'a str,
    /// An existing execution role, if any.
    pub role_arn: Option<&'a str>,
    /// A permissions boundary for the created role, if any.
    pub permissions_boundary: Option<&'a str>,
    /// Reserved concurrency, if any.
    pub reserve: Option<u32>,
}

/// Parameters of `worker.yaml`.
pub fn worker_parameters(p: &WorkerParameters<'_>) -> BTreeMap<&'static str, String> {
    [
        ("CodeBucket", p.code_bucket.to_owned()),
        ("CodeKey", p.code_key.to_owned()),
        ("ResultsBucketName", p.results_bucket.to_owned()),
        ("MemorySize", p.memory_mb.to_string()),
        ("Architecture", p.arch.to_owned()),
        ("FunctionName", p.function.to_owned()),
        ("ExistingRoleArn", p.role_arn.unwrap_or_default().to_owned()),
        (
            "PermissionsBoundary",
            p.permissions_boundary.unwrap_or_default().to_owned(),
        ),
        (
            "ReservedConcurrency",
            p.reserve.map_or("-1".to_owned(), |n| n.to_string()),
        ),
    ]
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Parameters:` names a template declares (short-form tags such as
    /// `!Sub` parse as tagged values).
    fn declared(template: &str) -> Vec<String> {
        let doc: yaml_serde::Value = yaml_serde::from_str(template).unwrap();
        doc["Parameters"]
            .as_mapping()
            .unwrap()
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn deploy_passes_only_parameters_the_templates_declare() {
        let results = declared(RESULTS_BUCKET);
        for key in results_parameters(None, 30, "f").keys() {
            assert!(
                results.iter().any(|d| d == key),
                "results-bucket.yaml: {key}"
            );
        }
        let worker = declared(WORKER);
        let p = WorkerParameters {
            code_bucket: "c",
            code_key: "k",
            results_bucket: "r",
            memory_mb: 1769,
            arch: "arm64",
            function: "f",
            role_arn: None,
            permissions_boundary: None,
            reserve: Some(10),
        };
        let given = worker_parameters(&p);
        for key in given.keys() {
            assert!(worker.iter().any(|d| d == key), "worker.yaml: {key}");
        }
        assert_eq!(given["ReservedConcurrency"], "10");
        assert_eq!(given["ExistingRoleArn"], "");
    }
}
