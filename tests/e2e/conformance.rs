//! Conformance with stand-ins we did not write: the real `bootstrap` run by AWS's
//! Lambda Runtime Interface Emulator, writing to `moto_server` as S3, with a job
//! from `sls-load plan --json`. Installs the pinned tools from PyPI on first use.

use std::time::{Duration, SystemTime};

use sls_load_e2e::third_party::Tools;
use sls_load_e2e::{Target, bin_dir, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(60);
const INVOKE: &str = "/2015-03-31/functions/function/invocations";

#[test]
fn bootstrap_under_aws_runtime_emulator_runs_a_planned_job_once_into_moto_s3() {
    let tools = Tools::installed();
    let s3 = tools.moto();
    tools.boto3(&s3, "s3.create_bucket(Bucket='results')");
    let target = Target::start(&[]);

    // A real job, as the orchestrator would send it: planned from a scenario file.
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = scenario_file(
        dir.path(),
        "conformance.yaml",
        &format!(
            "target: {}\nduration: 2s\nscenarios:\n  steady:\n    executor: constant-arrival-rate\n    rate: 10\n    requests: [{{ name: home, url: / }}]\n",
            target.url
        ),
    );
    let planned = sls_load(
        &[
            "plan",
            scenario.to_str().expect("utf-8"),
            "--json",
            "--workers",
            "1",
        ],
        LIMIT,
    );
    assert_eq!(planned.code(), 0, "stderr: {}", planned.stderr);
    let plan: serde_json::Value = serde_json::from_str(&planned.stdout).expect("plan JSON");
    let mut job = plan["jobs"][0].clone();
    job["results"] = serde_json::json!({ "bucket": "results", "region": "us-east-1" });
    let start = SystemTime::now() + Duration::from_secs(2);
    job["start_at"] = humantime::format_rfc3339_millis(start).to_string().into();
    let job = job.to_string();

    let rie = tools.rie(
        &bin_dir().join("bootstrap"),
        &[
            ("AWS_LAMBDA_FUNCTION_NAME", "sls-load-worker".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            (
                "AWS_ENDPOINT_URL_S3",
                format!("http://127.0.0.1:{}", s3.port),
            ),
            ("SLS_LOAD_LOG", "warn".into()),
        ],
    );

    // First delivery: the manifest comes back, the target saw every request.
    let reply = rie.post(INVOKE, &job, LIMIT);
    let manifest: serde_json::Value =
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{e}: {reply}"));
    assert_eq!(manifest["requests"]["home"]["requests"], 20, "{manifest}");
    assert_eq!(manifest["requests"]["home"]["errors"], 0, "{manifest}");
    assert_eq!(target.requests(), 20);

    // Second delivery of the same job: refused by its claim, nothing sent.
    let again = rie.post(INVOKE, &job, LIMIT);
    assert!(again.contains("SlsLoad.DuplicateDelivery"), "{again}");
    assert_eq!(target.requests(), 20);

    let keys = tools.boto3(
        &s3,
        "print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket='results')['Contents']))",
    );
    let worker = format!(
        "runs/{}/{}/{}/",
        plan["run_id"].as_str().expect("run_id"),
        plan["jobs"][0]["region"].as_str().expect("region"),
        plan["jobs"][0]["worker_id"].as_str().expect("worker_id")
    );
    let files: Vec<&str> = keys
        .lines()
        .map(|k| k.strip_prefix(&worker).unwrap_or(k))
        .collect();
    assert_eq!(
        files,
        ["claim.json", "latency-00000.hlog", "manifest.json"],
        "{keys}"
    );
}
