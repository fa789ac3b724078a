//! infra/ through the tools its users run on it (installed by `make test-deps`,
//! offline): cfn-lint and checkov pass on the templates and modules (each check
//! checkov skips is justified beside the resource), and the Terraform deploys the
//! same kinds of resources with the same permissions as the CloudFormation
//! (`tests/support/compare_infra.py`: python-hcl2 and cfn-lint's YAML loader).

use std::process::Command;

use sls_load_e2e::third_party::{tool, workspace};

/// Runs the lint venv's `program` with `args` in the workspace; asserts exit 0
/// and returns stdout.
fn passes(program: &str, args: &[&str]) -> String {
    let bin = tool(&format!("lint/bin/{program}"), program);
    let out = Command::new("timeout")
        .arg("300")
        .arg(&bin)
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("run the linter");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn cfn_lint_passes_on_the_templates() {
    passes(
        "cfn-lint",
        &[
            "infra/cloudformation/results-bucket.yaml",
            "infra/cloudformation/worker.yaml",
        ],
    );
}

#[test]
fn checkov_passes_on_the_templates_and_modules_with_every_skip_justified() {
    let out = passes(
        "checkov",
        &["-d", "infra", "--quiet", "--compact", "--skip-download"],
    );
    assert!(!out.contains("Failed checks: 1"), "{out}");
    for file in [
        "infra/cloudformation/worker.yaml",
        "infra/cloudformation/results-bucket.yaml",
    ] {
        let text = std::fs::read_to_string(workspace().join(file)).expect("template");
        let ids = text.matches("- id: CKV").count();
        let comments = text.matches("comment: ").count();
        assert_eq!(ids, comments, "{file}: every skipped check has a comment");
    }
    for file in [
        "infra/terraform/modules/worker/main.tf",
        "infra/terraform/modules/results-bucket/main.tf",
    ] {
        let text = std::fs::read_to_string(workspace().join(file)).expect("module");
        for skip in text.lines().filter(|l| l.contains("checkov:skip=")) {
            let reason = skip.splitn(3, ':').nth(2).unwrap_or_default();
            assert!(reason.trim().len() > 20, "{file}: a reason: {skip}");
        }
    }
}

#[test]
fn terraform_and_cloudformation_deploy_the_same_resources_and_permissions() {
    let python = tool("lint/bin/python", "the lint venv's python (python-hcl2)");
    let out = Command::new(python)
        .arg(workspace().join("tests/support/compare_infra.py"))
        .arg(workspace().join("infra"))
        .output()
        .expect("run compare_infra.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("same: 7 resource kinds"), "{stdout}");
}
