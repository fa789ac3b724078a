//! The AWS infrastructure in `infra/`, checked statically: the CloudFormation
//! templates are parsed as YAML (short-form tags such as `!Sub` included), the
//! Terraform modules are read as text. Nothing here needs AWS, network access,
//! terraform or cfn-lint.
//!
//! The rules: every permission is named exactly (the one wildcard is
//! `lambda:GetAccountSettings`, which has no resource type); a worker can only
//! write results below `runs/` and read a run's control and heartbeat objects; a worker invocation is never retried (a retry
//! would send its load twice); the function is the custom-runtime `bootstrap`
//! with Lambda's longest timeout; and both flavours deploy the same thing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sls_load_e2e::sls_load;
use yaml_serde::Value;

// ---------------------------------------------------------------------------
// CloudFormation
// ---------------------------------------------------------------------------

#[test]
fn allowed_actions_are_always_named_exactly() {
    for (file, s) in all_cfn_statements() {
        if s.effect == "Allow" {
            for action in &s.actions {
                assert!(
                    !action.contains('*'),
                    "{file} {}: wildcard action {action}",
                    s.at
                );
            }
        }
    }
}

#[test]
fn resource_star_is_granted_for_get_account_settings_only() {
    let mut granted = 0;
    for (file, s) in all_cfn_statements() {
        if s.effect == "Allow" && s.resources.iter().any(|r| r == "*") {
            assert_eq!(
                s.actions,
                ["lambda:GetAccountSettings"],
                "{file} {}: Resource \"*\" for other actions",
                s.at
            );
            assert_eq!(s.resources, ["*"], "{file} {}", s.at);
            granted += 1;
        }
    }
    assert_eq!(granted, 1, "exactly the orchestrator's concurrency check");
}

#[test]
fn the_bucket_policy_only_denies_and_requires_tls() {
    let t = cfn("results-bucket.yaml");
    let policy = resource_of_type(&t, "AWS::S3::BucketPolicy");
    assert_eq!(text(&policy["Properties"]["Bucket"]), "${ResultsBucket}");
    let statements = statements_of(&policy["Properties"]["PolicyDocument"], "bucket policy");
    assert!(!statements.is_empty());
    for s in &statements {
        assert_eq!(s.effect, "Deny", "{}: a bucket policy never grants", s.at);
    }
    let insecure = statements
        .iter()
        .find(|s| s.condition["Bool"]["aws:SecureTransport"].as_str() == Some("false"))
        .expect("a statement denying requests without TLS");
    assert_eq!(insecure.actions, ["s3:*"]);
    assert_eq!(
        insecure.resources,
        ["${ResultsBucket.Arn}", "${ResultsBucket.Arn}/*"]
    );
}

#[test]
fn the_results_bucket_is_private_encrypted_and_expires_runs() {
    let t = cfn("results-bucket.yaml");
    let bucket = &resource_of_type(&t, "AWS::S3::Bucket")["Properties"];

    let block = &bucket["PublicAccessBlockConfiguration"];
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[flag].as_bool(), Some(true), "{flag}");
    }
    let sse = &bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
    assert_eq!(
        sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"].as_str(),
        Some("AES256"),
        "SSE-S3"
    );
    assert_eq!(
        bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"].as_str(),
        Some("BucketOwnerEnforced"),
        "ACLs disabled"
    );

    let rules = bucket["LifecycleConfiguration"]["Rules"]
        .as_sequence()
        .expect("lifecycle rules");
    let expire = rules
        .iter()
        .find(|r| r["Prefix"].as_str() == Some("runs/"))
        .expect("a rule for runs/");
    assert_eq!(expire["Status"].as_str(), Some("Enabled"));
    assert_eq!(text(&expire["ExpirationInDays"]), "${RetentionDays}");
    assert_eq!(
        t["Parameters"]["RetentionDays"]["Default"].as_u64(),
        Some(30)
    );
    let abort = rules
        .iter()
        .find(|r| !r["AbortIncompleteMultipartUpload"].is_null())
        .expect("a rule aborting incomplete multipart uploads");
    assert_eq!(abort["Status"].as_str(), Some("Enabled"));
    assert!(abort["Prefix"].is_null(), "for the whole bucket");
    assert!(abort["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"].as_u64() >= Some(1));
}

#[test]
fn the_orchestrator_policy_grants_exactly_what_the_cli_calls() {
    let t = cfn("results-bucket.yaml");
    let policy = resource_of_type(&t, "AWS::IAM::ManagedPolicy");
    assert_eq!(
        text(&policy["Properties"]["ManagedPolicyName"]),
        "${OrchestratorPolicyName}"
    );
    assert_eq!(
        t["Parameters"]["OrchestratorPolicyName"]["Default"].as_str(),
        Some("sls-load-orchestrator")
    );
    let statements = statements_of(&policy["Properties"]["PolicyDocument"], "orchestrator");
    assert!(statements.iter().all(|s| s.effect == "Allow"));

    let grants = |action: &str| -> Vec<&Statement> {
        statements
            .iter()
            .filter(|s| s.actions.iter().any(|a| a == action))
            .collect()
    };
    let only = |action: &str| -> &Statement {
        let found = grants(action);
        assert_eq!(found.len(), 1, "{action} granted once");
        found[0]
    };

    // plan.json, summary.json; manifests and interval logs.
    for action in ["s3:PutObject", "s3:GetObject"] {
        assert_eq!(only(action).resources, ["${ResultsBucket.Arn}/runs/*"]);
    }
    // Listing runs/{run_id}/.
    let list = only("s3:ListBucket");
    assert_eq!(list.actions, ["s3:ListBucket"]);
    assert_eq!(list.resources, ["${ResultsBucket.Arn}"]);
    assert_eq!(
        list.condition["StringLike"]["s3:prefix"].as_str(),
        Some("runs/*")
    );
    // Starting workers in any region, this function only.
    let invoke = only("lambda:InvokeFunction");
    assert_eq!(invoke.actions, ["lambda:InvokeFunction"]);
    assert_eq!(
        invoke.resources,
        ["arn:${AWS::Partition}:lambda:*:${AWS::AccountId}:function:${WorkerFunctionName}"]
    );
    assert_eq!(
        t["Parameters"]["WorkerFunctionName"]["Default"].as_str(),
        Some("sls-load-worker")
    );
    // The concurrency check.
    assert_eq!(only("lambda:GetAccountSettings").resources, ["*"]);
    // The deployed worker's configuration (`run` before invoking, `doctor`).
    let check = only("lambda:GetFunctionConfiguration");
    assert_eq!(
        check.actions,
        [
            "lambda:GetFunctionConfiguration",
            "lambda:GetFunctionEventInvokeConfig"
        ]
    );
    assert_eq!(check.resources, invoke.resources);
    // `doctor`: the bucket's region and lifecycle rule.
    let bucket = only("s3:GetBucketLocation");
    assert_eq!(
        bucket.actions,
        ["s3:GetBucketLocation", "s3:GetLifecycleConfiguration"]
    );
    assert_eq!(bucket.resources, ["${ResultsBucket.Arn}"]);

    let all: BTreeSet<&str> = statements
        .iter()
        .flat_map(|s| s.actions.iter().map(String::as_str))
        .collect();
    assert_eq!(
        all,
        BTreeSet::from([
            "lambda:GetAccountSettings",
            "lambda:GetFunctionConfiguration",
            "lambda:GetFunctionEventInvokeConfig",
            "lambda:InvokeFunction",
            "s3:GetBucketLocation",
            "s3:GetLifecycleConfiguration",
            "s3:GetObject",
            "s3:ListBucket",
            "s3:PutObject",
        ])
    );
}

/// The worker's one read: a run's kill switch (CloudFormation `Sub` strings).
const CFN_CONTROL: [&str; 2] = [
    "arn:${AWS::Partition}:s3:::${ResultsBucketName}/runs/*/control.json",
    "arn:${AWS::Partition}:s3:::${ResultsBucketName}/runs/*/heartbeat.json",
];

#[test]
fn the_worker_role_can_only_write_its_logs_and_put_objects_under_runs() {
    let t = cfn("worker.yaml");
    let role = resource_of_type(&t, "AWS::IAM::Role");
    let trust = statements_of(&role["Properties"]["AssumeRolePolicyDocument"], "trust");
    assert_eq!(trust.len(), 1);
    assert_eq!(trust[0].actions, ["sts:AssumeRole"]);
    assert_eq!(
        trust[0].principal["Service"].as_str(),
        Some("lambda.amazonaws.com")
    );
    assert!(
        role["Properties"]["ManagedPolicyArns"].is_null(),
        "no managed policies (AWSLambdaBasicExecutionRole allows logs on every group)"
    );
    assert!(
        role["Properties"]["RoleName"].is_null(),
        "IAM names are global and the stack is deployed once per region"
    );

    let statements = all_statements_under(&role["Properties"]["Policies"], "worker role");
    assert!(statements.iter().all(|s| s.effect == "Allow"));
    let mut actions: Vec<&str> = statements
        .iter()
        .flat_map(|s| s.actions.iter().map(String::as_str))
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "s3:GetObject",
            "s3:PutObject"
        ],
        "no List, Delete, no logs:CreateLogGroup"
    );
    for s in &statements {
        if s.actions == ["s3:GetObject"] {
            assert_eq!(s.resources, CFN_CONTROL, "the control objects only");
        } else if s.actions.iter().any(|a| a.starts_with("s3:")) {
            assert_eq!(
                s.resources,
                ["arn:${AWS::Partition}:s3:::${ResultsBucketName}/runs/*"]
            );
        } else {
            assert_eq!(
                s.resources,
                [
                    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${LogGroup}:*"
                ],
                "its own log group only"
            );
        }
    }
    let log_group = resource_of_type(&t, "AWS::Logs::LogGroup");
    assert_eq!(
        text(&log_group["Properties"]["LogGroupName"]),
        "/aws/lambda/${FunctionName}"
    );
    assert_eq!(
        text(&log_group["Properties"]["RetentionInDays"]),
        "${LogRetentionDays}"
    );
}

#[test]
fn a_worker_invocation_is_never_retried() {
    let t = cfn("worker.yaml");
    let config = &resource_of_type(&t, "AWS::Lambda::EventInvokeConfig")["Properties"];
    assert_eq!(text(&config["FunctionName"]), "${Function}");
    assert_eq!(config["Qualifier"].as_str(), Some("$LATEST"));
    assert_eq!(config["MaximumRetryAttempts"].as_u64(), Some(0));
    assert_eq!(config["MaximumEventAgeInSeconds"].as_u64(), Some(60));
}

#[test]
fn the_worker_is_the_bootstrap_custom_runtime_with_lambdas_longest_timeout() {
    let t = cfn("worker.yaml");
    let f = &resource_of_type(&t, "AWS::Lambda::Function")["Properties"];
    assert_eq!(f["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(f["Handler"].as_str(), Some("bootstrap"));
    assert_eq!(f["Timeout"].as_u64(), Some(900));
    assert_eq!(text(&f["FunctionName"]), "${FunctionName}");
    assert_eq!(text(&f["MemorySize"]), "${MemorySize}");
    assert_eq!(text(&f["Architectures"][0]), "${Architecture}");
    assert_eq!(text(&f["Code"]["S3Bucket"]), "${CodeBucket}");
    assert_eq!(text(&f["Code"]["S3Key"]), "${CodeKey}");
    // The created role, unless a governed account names its own.
    assert_eq!(
        text(&f["Role"]),
        "if(CreateRole, ${ExecutionRole.Arn}, ${ExistingRoleArn})"
    );
    // No reservation unless `deploy --reserve N` asks (the parameter's -1).
    assert_eq!(
        text(&f["ReservedConcurrentExecutions"]),
        "if(HasReservation, ${ReservedConcurrency}, ${AWS::NoValue})"
    );
    assert_eq!(
        t["Parameters"]["ReservedConcurrency"]["Default"].as_i64(),
        Some(-1)
    );
    for absent in ["VpcConfig", "Environment"] {
        assert!(f[absent].is_null(), "{absent} must not be set");
    }
}

#[test]
fn worker_parameters_have_the_documented_defaults() {
    let p = &cfn("worker.yaml")["Parameters"];
    for required in ["CodeBucket", "ResultsBucketName"] {
        assert!(
            p[required]["Default"].is_null(),
            "{required} has no default"
        );
    }
    assert_eq!(p["CodeKey"]["Type"].as_str(), Some("String"));
    assert_eq!(p["MemorySize"]["Default"].as_u64(), Some(1769));
    assert_eq!(p["Architecture"]["Default"].as_str(), Some("x86_64"));
    assert_eq!(
        strings(&p["Architecture"]["AllowedValues"]),
        ["x86_64", "arm64"]
    );
    assert_eq!(
        p["FunctionName"]["Default"].as_str(),
        Some("sls-load-worker")
    );
    assert_eq!(p["LogRetentionDays"]["Default"].as_u64(), Some(7));
}

#[test]
fn outputs_name_the_bucket_the_policy_and_the_function() {
    let bucket = cfn("results-bucket.yaml");
    assert_eq!(
        text(&bucket["Outputs"]["BucketName"]["Value"]),
        "${ResultsBucket}"
    );
    assert_eq!(
        text(&bucket["Outputs"]["BucketArn"]["Value"]),
        "${ResultsBucket.Arn}"
    );
    assert_eq!(
        text(&bucket["Outputs"]["OrchestratorPolicyArn"]["Value"]),
        "${OrchestratorPolicy}"
    );
    let worker = cfn("worker.yaml");
    assert_eq!(
        text(&worker["Outputs"]["FunctionArn"]["Value"]),
        "${Function.Arn}"
    );
}

#[test]
fn every_reference_in_a_template_names_a_parameter_resource_or_pseudo_parameter() {
    for file in ["results-bucket.yaml", "worker.yaml"] {
        let t = cfn(file);
        let mut known: BTreeSet<String> = ["Parameters", "Resources"]
            .iter()
            .flat_map(|section| {
                t[*section]
                    .as_mapping()
                    .into_iter()
                    .flat_map(|m| m.keys().filter_map(|k| k.as_str().map(String::from)))
            })
            .collect();
        for pseudo in [
            "AWS::Partition",
            "AWS::AccountId",
            "AWS::Region",
            "AWS::NoValue",
        ] {
            known.insert(pseudo.into());
        }
        let mut refs = Vec::new();
        collect_refs(&t["Resources"], &mut refs);
        collect_refs(&t["Outputs"], &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let name = r.split('.').next().unwrap_or_default();
            assert!(known.contains(name), "{file}: ${{{r}}} names nothing");
        }
    }
}

// ---------------------------------------------------------------------------
// Terraform
// ---------------------------------------------------------------------------

#[test]
fn terraform_allowed_actions_are_named_exactly_and_star_is_for_get_account_settings_only() {
    let mut star = 0;
    for (file, body) in tf_statements() {
        let effect = hcl_attr(&body, "effect")
            .unwrap_or_else(|| panic!("{file}: a statement without an explicit effect"));
        if effect != "\"Allow\"" {
            continue;
        }
        let actions = hcl_list(&hcl_attr(&body, "actions").expect("actions"));
        for action in &actions {
            assert!(!action.contains('*'), "{file}: wildcard action {action}");
        }
        let resources = hcl_attr(&body, "resources").map(|r| hcl_list(&r));
        if resources.iter().flatten().any(|r| r == "*") {
            assert_eq!(actions, ["lambda:GetAccountSettings"], "{file}");
            star += 1;
        }
    }
    assert_eq!(star, 1, "exactly the orchestrator's concurrency check");
}

#[test]
fn terraform_deny_statements_are_the_bucket_tls_policy_only() {
    for (file, body) in tf_statements() {
        if hcl_attr(&body, "effect").as_deref() == Some("\"Deny\"") {
            assert!(file.ends_with("modules/results-bucket/main.tf"), "{file}");
            assert_eq!(hcl_list(&hcl_attr(&body, "actions").unwrap()), ["s3:*"]);
            assert!(
                body.contains("condition {"),
                "{file}: an unconditional deny"
            );
        }
    }
    let bucket = tf("modules/results-bucket/main.tf");
    let tls = hcl_block(&bucket, "data \"aws_iam_policy_document\" \"tls_only\"");
    assert!(
        has_condition(&tls, "Bool", "aws:SecureTransport", "false"),
        "requests without TLS are denied"
    );
    let policy = hcl_block(&bucket, "resource \"aws_s3_bucket_policy\" \"results\"");
    assert_eq!(
        hcl_attr(&policy, "policy").as_deref(),
        Some("data.aws_iam_policy_document.tls_only.json")
    );
}

#[test]
fn terraform_results_bucket_is_private_encrypted_and_expires_runs() {
    let m = tf("modules/results-bucket/main.tf");
    let block = hcl_block(
        &m,
        "resource \"aws_s3_bucket_public_access_block\" \"results\"",
    );
    for flag in [
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ] {
        assert_eq!(hcl_attr(&block, flag).as_deref(), Some("true"), "{flag}");
    }
    assert!(m.contains("object_ownership = \"BucketOwnerEnforced\""));
    assert!(m.contains("sse_algorithm = \"AES256\""));
    let lifecycle = hcl_block(
        &m,
        "resource \"aws_s3_bucket_lifecycle_configuration\" \"results\"",
    );
    assert!(lifecycle.contains("prefix = \"runs/\""));
    assert!(lifecycle.contains("days = var.retention_days"));
    assert!(lifecycle.contains("abort_incomplete_multipart_upload {"));
}

#[test]
fn terraform_orchestrator_policy_grants_exactly_what_the_cli_calls() {
    let m = tf("modules/results-bucket/main.tf");
    let doc = hcl_block(&m, "data \"aws_iam_policy_document\" \"orchestrator\"");
    let grants: Vec<(Vec<String>, Vec<String>)> = hcl_blocks(&doc, "statement")
        .iter()
        .map(|s| {
            (
                hcl_list(&hcl_attr(s, "actions").unwrap()),
                hcl_list(&hcl_attr(s, "resources").unwrap()),
            )
        })
        .collect();
    let arn = "aws_s3_bucket.results.arn";
    assert_eq!(
        grants,
        [
            (
                vec!["s3:PutObject".into(), "s3:GetObject".into()],
                vec![format!("${{{arn}}}/runs/*")]
            ),
            (vec!["s3:ListBucket".into()], vec![arn.into()]),
            (
                vec!["lambda:InvokeFunction".into()],
                vec!["arn:${data.aws_partition.current.partition}:lambda:*:${data.aws_caller_identity.current.account_id}:function:${var.worker_function_name}".into()]
            ),
            (
                vec![
                    "lambda:GetFunctionConfiguration".into(),
                    "lambda:GetFunctionEventInvokeConfig".into()
                ],
                vec!["arn:${data.aws_partition.current.partition}:lambda:*:${data.aws_caller_identity.current.account_id}:function:${var.worker_function_name}".into()]
            ),
            (
                vec![
                    "s3:GetBucketLocation".into(),
                    "s3:GetLifecycleConfiguration".into()
                ],
                vec![arn.into()]
            ),
            (vec!["lambda:GetAccountSettings".into()], vec!["*".into()]),
        ]
    );
    assert!(has_condition(&doc, "StringLike", "s3:prefix", "runs/*"));
}

/// The results bucket's ARN in the worker module.
const TF_BUCKET: &str =
    "arn:${data.aws_partition.current.partition}:s3:::${var.results_bucket_name}";

#[test]
fn terraform_worker_role_can_only_write_its_logs_and_put_objects_under_runs() {
    let m = tf("modules/worker/main.tf");
    let doc = hcl_block(&m, "data \"aws_iam_policy_document\" \"worker\"");
    let statements = hcl_blocks(&doc, "statement");
    let grants: Vec<(Vec<String>, Vec<String>)> = statements
        .iter()
        .map(|s| {
            (
                hcl_list(&hcl_attr(s, "actions").unwrap()),
                hcl_list(&hcl_attr(s, "resources").unwrap()),
            )
        })
        .collect();
    assert_eq!(
        grants,
        [
            (
                vec!["logs:CreateLogStream".into(), "logs:PutLogEvents".into()],
                vec!["${aws_cloudwatch_log_group.worker.arn}:*".into()]
            ),
            (
                vec!["s3:PutObject".into()],
                vec![format!("{TF_BUCKET}/runs/*")]
            ),
            (
                vec!["s3:GetObject".into()],
                vec![
                    format!("{TF_BUCKET}/runs/*/control.json"),
                    format!("{TF_BUCKET}/runs/*/heartbeat.json")
                ]
            ),
        ]
    );
    let group = hcl_block(&m, "resource \"aws_cloudwatch_log_group\" \"worker\"");
    assert_eq!(
        hcl_attr(&group, "name").as_deref(),
        Some("\"/aws/lambda/${var.function_name}\"")
    );
    assert_eq!(
        hcl_attr(&group, "retention_in_days").as_deref(),
        Some("var.log_retention_days")
    );
    let role = hcl_block(&m, "resource \"aws_iam_role\" \"worker\"");
    assert!(
        hcl_attr(&role, "name")
            .unwrap()
            .contains("data.aws_region.current.name"),
        "IAM names are global: the role's name carries the region"
    );
    assert!(!m.contains("managed_policy_arns") && !m.contains("aws_iam_role_policy_attachment"));
}

#[test]
fn terraform_worker_is_never_retried_and_runs_the_bootstrap_custom_runtime() {
    let m = tf("modules/worker/main.tf");
    let config = hcl_block(
        &m,
        "resource \"aws_lambda_function_event_invoke_config\" \"worker\"",
    );
    assert_eq!(
        hcl_attr(&config, "maximum_retry_attempts").as_deref(),
        Some("0")
    );
    assert_eq!(
        hcl_attr(&config, "maximum_event_age_in_seconds").as_deref(),
        Some("60")
    );
    assert_eq!(
        hcl_attr(&config, "qualifier").as_deref(),
        Some("\"$LATEST\"")
    );

    let f = hcl_block(&m, "resource \"aws_lambda_function\" \"worker\"");
    assert_eq!(
        hcl_attr(&f, "runtime").as_deref(),
        Some("\"provided.al2023\"")
    );
    assert_eq!(hcl_attr(&f, "handler").as_deref(), Some("\"bootstrap\""));
    assert_eq!(hcl_attr(&f, "timeout").as_deref(), Some("900"));
    // -1 (the variable's default): no reservation unless asked for.
    assert_eq!(
        hcl_attr(&f, "reserved_concurrent_executions").as_deref(),
        Some("var.reserved_concurrency")
    );
    for absent in ["vpc_config", "environment"] {
        assert!(!f.contains(absent), "{absent} must not be set");
    }
}

#[test]
fn terraform_pins_the_aws_provider_and_terraform_versions() {
    for file in [
        "versions.tf",
        "modules/results-bucket/versions.tf",
        "modules/worker/versions.tf",
    ] {
        let v = tf(file);
        assert_eq!(
            hcl_attr(&v, "required_version").as_deref(),
            Some("\">= 1.5\""),
            "{file}"
        );
        assert_eq!(
            hcl_attr(&v, "source").as_deref(),
            Some("\"hashicorp/aws\""),
            "{file}"
        );
        assert_eq!(
            hcl_attr(&v, "version").as_deref(),
            Some("\"~> 5.0\""),
            "{file}"
        );
    }
}

#[test]
fn terraform_example_puts_the_bucket_in_one_region_and_workers_in_three() {
    let m = tf("main.tf");
    let bucket = hcl_block(&m, "module \"results_bucket\"");
    assert_eq!(
        hcl_attr(&bucket, "source").as_deref(),
        Some("\"./modules/results-bucket\"")
    );
    assert!(hcl_attr(&bucket, "providers").is_none(), "default provider");
    for (alias, region) in [
        ("us_east_1", "us-east-1"),
        ("eu_west_1", "eu-west-1"),
        ("ap_southeast_1", "ap-southeast-1"),
    ] {
        let provider = hcl_blocks(&m, "provider \"aws\"")
            .into_iter()
            .find(|p| hcl_attr(p, "alias").as_deref() == Some(&format!("\"{alias}\"")))
            .unwrap_or_else(|| panic!("provider alias {alias}"));
        assert_eq!(
            hcl_attr(&provider, "region").as_deref(),
            Some(format!("\"{region}\"").as_str())
        );
        let worker = hcl_block(&m, &format!("module \"worker_{alias}\""));
        assert_eq!(
            hcl_attr(&worker, "source").as_deref(),
            Some("\"./modules/worker\"")
        );
        assert_eq!(
            hcl_attr(&worker, "providers"),
            Some(format!("{{ aws = aws.{alias} }}"))
        );
        assert_eq!(
            hcl_attr(&worker, "code_bucket"),
            Some(format!("var.code_buckets[\"{region}\"]"))
        );
        assert_eq!(
            hcl_attr(&worker, "results_bucket_name").as_deref(),
            Some("module.results_bucket.bucket_name")
        );
    }
}

#[test]
fn terraform_and_cloudformation_have_the_same_defaults() {
    let worker = cfn("worker.yaml");
    let bucket = cfn("results-bucket.yaml");
    let vars = |file: &str, name: &str| {
        let v = hcl_block(&tf(file), &format!("variable \"{name}\""));
        hcl_attr(&v, "default").unwrap_or_else(|| panic!("{file}: {name} has no default"))
    };
    let param = |t: &Value, name: &str| -> String {
        let d = &t["Parameters"][name]["Default"];
        match d.as_str() {
            Some(s) => format!("\"{s}\""),
            None => d.as_u64().expect("number").to_string(),
        }
    };
    let w = "modules/worker/variables.tf";
    let b = "modules/results-bucket/variables.tf";
    for (tf_file, tf_name, template, cfn_name) in [
        (w, "memory_size", &worker, "MemorySize"),
        (w, "architecture", &worker, "Architecture"),
        (w, "function_name", &worker, "FunctionName"),
        (w, "log_retention_days", &worker, "LogRetentionDays"),
        (w, "code_key", &worker, "CodeKey"),
        (b, "retention_days", &bucket, "RetentionDays"),
        (b, "worker_function_name", &bucket, "WorkerFunctionName"),
        (
            b,
            "orchestrator_policy_name",
            &bucket,
            "OrchestratorPolicyName",
        ),
    ] {
        assert_eq!(
            vars(tf_file, tf_name),
            param(template, cfn_name),
            "{tf_name} / {cfn_name}"
        );
    }
}

// ---------------------------------------------------------------------------
// Both
// ---------------------------------------------------------------------------

#[test]
fn the_templates_deploy_the_function_the_cli_invokes_by_default() {
    let help = sls_load(&["run", "--help"], Duration::from_secs(30));
    assert_eq!(help.code(), 0, "{}", help.stderr);
    assert!(
        help.stdout.contains("else sls-load-worker)"),
        "the CLI's --function default changed: {}",
        help.stdout
    );
    assert_eq!(
        cfn("worker.yaml")["Parameters"]["FunctionName"]["Default"].as_str(),
        Some("sls-load-worker")
    );
    assert_eq!(
        hcl_attr(
            &hcl_block(
                &tf("modules/worker/variables.tf"),
                "variable \"function_name\""
            ),
            "default"
        )
        .as_deref(),
        Some("\"sls-load-worker\"")
    );
}

#[test]
fn no_template_names_an_account_or_a_partition() {
    let mut files = Vec::new();
    collect_files(&infra(), &mut files);
    let templates: Vec<_> = files
        .iter()
        .filter(|f| {
            let name = f.to_string_lossy();
            name.ends_with(".yaml") || name.ends_with(".tf") || name.ends_with(".tfvars.example")
        })
        .collect();
    assert!(templates.len() >= 10, "{templates:?}");
    for file in templates {
        let body = std::fs::read_to_string(file).expect("read");
        let digits = body
            .split(|c: char| !c.is_ascii_digit())
            .find(|run| run.len() == 12);
        assert_eq!(digits, None, "{}: an account id?", file.display());
        assert!(
            !body.contains("arn:aws:"),
            "{}: ARNs use the current partition",
            file.display()
        );
        for secret in ["aws_access_key", "aws_secret", "AKIA", "secret_key"] {
            assert!(!body.contains(secret), "{}: {secret}", file.display());
        }
    }
}

// ---------------------------------------------------------------------------
// CloudFormation helpers
// ---------------------------------------------------------------------------

fn infra() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra")
}

fn cfn(name: &str) -> Value {
    let path = infra().join("cloudformation").join(name);
    let body = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let t: Value =
        yaml_serde::from_str(&body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        t["AWSTemplateFormatVersion"].as_str(),
        Some("2010-09-09"),
        "{name}"
    );
    t
}

/// The one resource of `kind` in template `t`.
fn resource_of_type<'t>(t: &'t Value, kind: &str) -> &'t Value {
    let found: Vec<&Value> = t["Resources"]
        .as_mapping()
        .expect("Resources")
        .values()
        .filter(|r| r["Type"].as_str() == Some(kind))
        .collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

/// A policy statement with intrinsic functions rendered as `${...}` text.
#[derive(Debug)]
struct Statement {
    at: String,
    effect: String,
    actions: Vec<String>,
    resources: Vec<String>,
    principal: Value,
    condition: Value,
}

fn statements_of(document: &Value, at: &str) -> Vec<Statement> {
    assert_eq!(document["Version"].as_str(), Some("2012-10-17"), "{at}");
    document["Statement"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{at}: Statement is a list"))
        .iter()
        .enumerate()
        .map(|(i, s)| {
            for key in ["NotAction", "NotResource", "NotPrincipal"] {
                assert!(s[key].is_null(), "{at}[{i}]: {key}");
            }
            Statement {
                at: format!("{at}[{i}] {}", s["Sid"].as_str().unwrap_or_default()),
                effect: text(&s["Effect"]),
                actions: strings(&s["Action"]),
                resources: if s["Resource"].is_null() {
                    Vec::new()
                } else {
                    strings(&s["Resource"])
                },
                principal: s["Principal"].clone(),
                condition: s["Condition"].clone(),
            }
        })
        .collect()
}

/// Every permission statement (`PolicyDocument`) anywhere below `v`; trust
/// policies (`AssumeRolePolicyDocument`) are not permissions and are left out.
fn all_statements_under(v: &Value, at: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    match v {
        Value::Mapping(m) => {
            for (k, child) in m {
                let key = k.as_str().unwrap_or_default();
                if key == "PolicyDocument" {
                    out.extend(statements_of(child, at));
                } else {
                    out.extend(all_statements_under(child, &format!("{at}.{key}")));
                }
            }
        }
        Value::Sequence(items) => {
            for (i, child) in items.iter().enumerate() {
                out.extend(all_statements_under(child, &format!("{at}[{i}]")));
            }
        }
        Value::Tagged(t) => out.extend(all_statements_under(&t.value, at)),
        _ => {}
    }
    out
}

fn all_cfn_statements() -> Vec<(&'static str, Statement)> {
    let mut out = Vec::new();
    for file in ["results-bucket.yaml", "worker.yaml"] {
        for s in all_statements_under(&cfn(file)["Resources"], "Resources") {
            out.push((file, s));
        }
    }
    assert!(out.len() >= 8, "{out:#?}");
    out
}

/// A scalar or an intrinsic function as text: `!Ref X` is `${X}`, `!GetAtt X.Arn`
/// is `${X.Arn}`, `!Sub "s"` is `s`; long forms (`Fn::Sub`, `Ref`) alike.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Tagged(t) => intrinsic(t.tag.to_string().trim_start_matches('!'), &t.value),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next().expect("one entry");
            intrinsic(k.as_str().expect("function name"), arg)
        }
        other => panic!("not a scalar: {other:?}"),
    }
}

fn intrinsic(name: &str, arg: &Value) -> String {
    match name.trim_start_matches("Fn::") {
        "Ref" => format!("${{{}}}", text(arg)),
        "GetAtt" => match arg {
            Value::Sequence(parts) => format!(
                "${{{}}}",
                parts.iter().map(text).collect::<Vec<_>>().join(".")
            ),
            other => format!("${{{}}}", text(other)),
        },
        "Sub" => match arg {
            Value::Sequence(parts) => text(&parts[0]),
            other => text(other),
        },
        "If" => match arg {
            Value::Sequence(parts) if parts.len() == 3 => format!(
                "if({}, {}, {})",
                text(&parts[0]),
                text(&parts[1]),
                text(&parts[2])
            ),
            other => panic!("!If takes [condition, then, else]: {other:?}"),
        },
        other => panic!("unexpected intrinsic {other} where a value is expected"),
    }
}

/// A value that IAM accepts as one string or a list of strings.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(items) => items.iter().map(text).collect(),
        other => vec![text(other)],
    }
}

/// The names every `${...}` of a `!Sub`, `!Ref` or `!GetAtt` below `v` refers to.
fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Tagged(t) => {
            let name = t.tag.to_string();
            match name.trim_start_matches('!') {
                "Sub" | "Ref" | "GetAtt" => sub_refs(&text(v), out),
                _ => collect_refs(&t.value, out),
            }
        }
        Value::Mapping(m) => m.values().for_each(|c| collect_refs(c, out)),
        Value::Sequence(items) => items.iter().for_each(|c| collect_refs(c, out)),
        _ => {}
    }
}

fn sub_refs(s: &str, out: &mut Vec<String>) {
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').expect("closing brace") + start;
        out.push(rest[start + 2..end].to_owned());
        rest = &rest[end + 1..];
    }
}

// ---------------------------------------------------------------------------
// Terraform helpers: just enough HCL for `terraform fmt`-formatted files.
// ---------------------------------------------------------------------------

fn tf(file: &str) -> String {
    let path = infra().join("terraform").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The body of the one block whose header is `header` (`resource "t" "n"`).
fn hcl_block(text: &str, header: &str) -> String {
    let found = hcl_blocks(text, header);
    assert_eq!(found.len(), 1, "one `{header}` block");
    found.into_iter().next().expect("one")
}

/// The bodies of every block whose header line is `header {`.
fn hcl_blocks(text: &str, header: &str) -> Vec<String> {
    let open = format!("{header} {{");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&open) {
        let body_start = at + open.len();
        let mut depth = 1;
        let mut end = body_start;
        for (i, c) in rest[body_start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = body_start + i;
                break;
            }
        }
        assert_eq!(depth, 0, "unbalanced `{header}` block");
        out.push(rest[body_start..end].to_owned());
        rest = &rest[end..];
    }
    out
}

/// The right-hand side of the first `name = value` line in `body`.
fn hcl_attr(body: &str, name: &str) -> Option<String> {
    body.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

/// The items of a one-line HCL list: quoted strings without their quotes,
/// references as written.
fn hcl_list(value: &str) -> Vec<String> {
    let inner = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not a one-line list: {value}"));
    let mut items = Vec::new();
    let (mut depth, mut quoted, mut item) = (0, false, String::new());
    for c in inner.chars() {
        match c {
            '"' => quoted = !quoted,
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 && !quoted => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    items.push(item);
    items
        .iter()
        .map(|i| i.trim().trim_matches('"').to_owned())
        .filter(|i| !i.is_empty())
        .collect()
}

/// True when a `condition` block below `body` tests `variable` with `test`
/// against exactly `value`.
fn has_condition(body: &str, test: &str, variable: &str, value: &str) -> bool {
    hcl_blocks(body, "condition").iter().any(|c| {
        hcl_attr(c, "test") == Some(format!("\"{test}\""))
            && hcl_attr(c, "variable") == Some(format!("\"{variable}\""))
            && hcl_attr(c, "values").map(|v| hcl_list(&v)) == Some(vec![value.to_owned()])
    })
}

fn tf_statements() -> Vec<(String, String)> {
    let mut files = Vec::new();
    collect_files(&infra().join("terraform"), &mut files);
    let mut out = Vec::new();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "tf"))
    {
        let body = std::fs::read_to_string(file).expect("read");
        for statement in hcl_blocks(&body, "statement") {
            out.push((file.display().to_string(), statement));
        }
    }
    assert!(out.len() >= 9, "{out:#?}");
    out
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue; // .terraform/ and state a local `terraform init` leaves
        }
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}
