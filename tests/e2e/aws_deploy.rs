//! `deploy`, `doctor` and `destroy` against an AWS account on loopback
//! (`sls_load_e2e::aws::World`: moto_server for S3, CloudFormation, IAM, STS and
//! Lambda's control plane; the project's Lambda stand-in running the real
//! `bootstrap` for Invoke and GetAccountSettings), reached through the standard
//! `AWS_ENDPOINT_URL` as AWS is.
//!
//! `deploy` creates the stacks and the function in three regions, `doctor`
//! reports them healthy, a second `deploy` changes nothing, `destroy` removes it
//! all. Each doctor check with its fault injected gives one line naming it and
//! exit 1. moto's CloudFormation leaves out two properties of infra/'s templates
//! (the bucket's lifecycle rule, the function's EventInvokeConfig): the first
//! doctor sees exactly those as faults, then the test applies them with boto3 as
//! CloudFormation does in AWS.

use std::time::Duration;

use sls_load_e2e::aws::{StandIn, World};
use sls_load_e2e::{Outcome, scenario_file, sls_load_with_env};

const LIMIT: Duration = Duration::from_secs(180);
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];

/// `sls-load ARGS` against `world`, run in its directory.
fn sls(world: &World, args: &[&str]) -> Outcome {
    let env = world.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sls_load_with_env(args, &env, LIMIT)
}

/// The lines of `out` that start with `FAIL`.
fn failures(out: &Outcome) -> Vec<String> {
    out.stdout
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .map(str::to_owned)
        .collect()
}

/// Deploys `regions` (x86_64, the tiny zip) and asserts it went through.
fn deploy(world: &World, regions: &[&str]) -> Outcome {
    let zip = world.tiny_zip();
    let out = sls(
        world,
        &[
            "deploy",
            "--regions",
            &regions.join(","),
            "--arch",
            "x86_64",
            "--zip",
            zip.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.code(), 0, "deploy: {}\n{}", out.stderr, out.stdout);
    out
}

/// What moto's CloudFormation leaves out, applied as AWS's does: the results
/// bucket's lifecycle rule and each function's EventInvokeConfig.
fn fill_motos_gaps(world: &World, regions: &[&str]) {
    let bucket = bucket_of(world);
    world.boto3(&format!(
        "c('s3').put_bucket_lifecycle_configuration(Bucket={bucket:?}, LifecycleConfiguration={{'Rules':[\
         {{'ID':'expire-runs','Status':'Enabled','Prefix':'runs/','Expiration':{{'Days':30}}}}]}})\n\
         for r in {regions:?}:\n\
         \x20   c('lambda', r).put_function_event_invoke_config(FunctionName='sls-load-worker', \
         MaximumRetryAttempts=0, MaximumEventAgeInSeconds=60)\n"
    ));
}

/// The results bucket `deploy` recorded in sls-load.toml.
fn bucket_of(world: &World) -> String {
    let text = std::fs::read_to_string(world.project_file()).expect("sls-load.toml");
    text.lines()
        .find_map(|l| l.strip_prefix("bucket = "))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("a bucket in sls-load.toml")
}

#[test]
fn deploy_doctor_redeploy_and_destroy_three_regions() {
    let world = World::start(&REGIONS, StandIn::default());
    let first = deploy(&world, &REGIONS);
    for region in REGIONS {
        assert!(
            first.stdout.contains(&format!(
                "worker sls-load-worker (x86_64, 1769 MB) in {region}: created"
            )),
            "{}",
            first.stdout
        );
    }
    assert!(
        first.stdout.contains("orchestrator policy: arn:aws:iam::"),
        "{}",
        first.stdout
    );
    let functions = world.boto3(&format!(
        "for r in {REGIONS:?}:\n\
         \x20   f = c('lambda', r).get_function_configuration(FunctionName='sls-load-worker')\n\
         \x20   print(r, f['Runtime'], f['Architectures'][0], f['MemorySize'], f['Timeout'])\n"
    ));
    for region in REGIONS {
        assert!(
            functions.contains(&format!("{region} provided.al2023 x86_64 1769 900")),
            "{functions}"
        );
    }

    // moto's CloudFormation leaves out the lifecycle rule and the EventInvokeConfig.
    let gaps = sls(&world, &["doctor"]);
    assert_eq!(gaps.code(), 1, "{}\n{}", gaps.stdout, gaps.stderr);
    let mut failed = failures(&gaps);
    failed.sort();
    assert_eq!(failed.len(), 4, "{failed:?}");
    assert!(failed[0].starts_with("FAIL ap-southeast-1 function retries: no event invoke config"));
    assert!(
        failed[3].starts_with("FAIL us-east-1 function retries"),
        "{failed:?}"
    );
    assert!(
        failed
            .iter()
            .any(|l| l.starts_with("FAIL bucket lifecycle: ")),
        "{failed:?}"
    );

    fill_motos_gaps(&world, &REGIONS);
    let healthy = sls(&world, &["doctor"]);
    assert_eq!(healthy.code(), 0, "{}\n{}", healthy.stdout, healthy.stderr);
    assert!(failures(&healthy).is_empty());
    for line in [
        "ok   credentials: account 123456789012",
        "ok   clock: within",
        "ok   bucket region: ",
        "ok   bucket lifecycle: runs/ expire after 30 days",
        "ok   bucket control object: ",
        "ok   eu-west-1 function retries: MaximumRetryAttempts = 0",
        "ok   eu-west-1 worker version: ",
        "ok   ap-southeast-1 worker reads control.json: ",
        "ok   us-east-1 concurrency: 64 unreserved",
    ] {
        assert!(
            healthy.stdout.contains(line),
            "{line:?} in {}",
            healthy.stdout
        );
    }

    let second = deploy(&world, &REGIONS);
    assert!(
        second.stdout.contains("stack sls-load-results unchanged"),
        "{}",
        second.stdout
    );
    assert_eq!(
        second.stdout.matches(": unchanged").count(),
        3,
        "{}",
        second.stdout
    );

    let gone = sls(&world, &["destroy", "--yes"]);
    assert_eq!(gone.code(), 0, "{}\n{}", gone.stderr, gone.stdout);
    assert_nothing_left(&world);
}

/// No function, stack or bucket in any region, and no sls-load.toml.
fn assert_nothing_left(world: &World) {
    let left = world.boto3(&format!(
        "for r in {REGIONS:?}:\n\
         \x20   print(r, len(c('lambda', r).list_functions()['Functions']), \
         len([s for s in c('cloudformation', r).list_stacks()['StackSummaries'] if s['StackStatus'] != 'DELETE_COMPLETE']))\n\
         print('buckets', len(c('s3').list_buckets()['Buckets']))\n"
    ));
    for region in REGIONS {
        assert!(left.contains(&format!("{region} 0 0")), "{left}");
    }
    assert!(left.contains("buckets 0"), "{left}");
    assert!(!world.project_file().exists(), "sls-load.toml removed");
}

/// A healthy one-region set-up in `world`.
fn healthy(world: &World) {
    deploy(world, &["eu-west-1"]);
    fill_motos_gaps(world, &["eu-west-1"]);
}

/// `doctor ARGS` in `world`: exit 1 and one FAIL line, which starts with `want`; that line.
fn one_failure(world: &World, args: &[&str], want: &str) -> String {
    // The expected architecture is sls-load.toml's, which `deploy` wrote.
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    let out = sls(world, &all);
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout, out.stderr);
    let failed = failures(&out);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].starts_with(want), "{want:?}: {}", failed[0]);
    assert!(
        out.stderr.contains("error: 1 check(s) failed"),
        "{}",
        out.stderr
    );
    failed[0].clone()
}

#[test]
fn each_doctor_check_names_its_fault_in_one_line() {
    let world = World::start(&["eu-west-1"], StandIn::default());
    healthy(&world);
    one_failure(
        &world,
        &["--arch", "arm64"],
        "FAIL eu-west-1 function architecture: deployed x86_64, but runs plan and cost arm64",
    );
    one_failure(
        &world,
        &["--memory", "1024"],
        "FAIL eu-west-1 function memory: deployed 1769 MB",
    );
    // moto keeps the first config put: delete it before putting another.
    let retries = |n: u32| {
        world.boto3(&format!(
            "l = c('lambda','eu-west-1')\n\
             l.delete_function_event_invoke_config(FunctionName='sls-load-worker')\n\
             l.put_function_event_invoke_config(FunctionName='sls-load-worker', MaximumRetryAttempts={n})\n"
        ))
    };
    retries(2);
    one_failure(
        &world,
        &[],
        "FAIL eu-west-1 function retries: MaximumRetryAttempts = 2",
    );
    retries(0);
    world.boto3(&format!(
        "c('s3').delete_bucket_lifecycle(Bucket={:?})\n",
        bucket_of(&world)
    ));
    one_failure(&world, &[], "FAIL bucket lifecycle: ");
}

#[test]
fn doctor_names_too_little_concurrency_an_older_worker_an_unreadable_control_object_and_a_skewed_clock()
 {
    // Two slots in eu-west-1 against an account of one.
    let world = World::start(
        &["eu-west-1"],
        StandIn {
            concurrency: 1,
            ..StandIn::default()
        },
    );
    healthy(&world);
    let scenario = scenario_file(
        world.dir.path(),
        "s.yaml",
        "target: http://127.0.0.1:9\nduration: 10s\nregions: { eu-west-1: 1 }\nscenarios:\n  s:\n    executor: constant-vus\n    vus: 2\n    requests:\n      - { name: a, url: / }\n",
    );
    one_failure(
        &world,
        &[scenario.to_str().expect("utf-8"), "--workers", "2"],
        "FAIL eu-west-1 concurrency: the scenario needs 2 concurrent executions, the account has 1 unreserved: request",
    );
    drop(world);

    // A worker built from an older version answers the probe.
    let old = tempfile::tempdir().expect("tempdir");
    let fake = old_worker(old.path());
    let world = World::start(
        &["eu-west-1"],
        StandIn {
            bootstrap: Some(fake),
            ..StandIn::default()
        },
    );
    healthy(&world);
    one_failure(
        &world,
        &[],
        "FAIL eu-west-1 worker version: the deployed worker is 0.0.1",
    );
    drop(world);

    // The worker cannot read the control object (its S3 refuses it).
    let world = World::start(
        &["eu-west-1"],
        StandIn {
            worker_s3: Some(sls_load_e2e::refused_url()),
            ..StandIn::default()
        },
    );
    healthy(&world);
    one_failure(
        &world,
        &[],
        "FAIL eu-west-1 worker reads control.json: the worker could not read",
    );
    drop(world);

    // This machine's clock two minutes behind AWS's.
    let world = World::start(
        &["eu-west-1"],
        StandIn {
            date_offset: 120,
            ..StandIn::default()
        },
    );
    healthy(&world);
    // AWS's `Date` has whole seconds: the skew read is 120 s give or take one.
    let line = one_failure(&world, &[], "FAIL clock: this machine's clock is ");
    let secs = line
        .trim_start_matches("FAIL clock: this machine's clock is ")
        .split_once("s behind AWS's")
        .and_then(|(secs, _)| secs.parse::<u64>().ok());
    assert!(matches!(secs, Some(119..=121)), "{line}");
}

/// A `bootstrap` that speaks the Lambda Runtime API (python, stdlib) and answers
/// every invocation as a worker of version 0.0.1 would answer the probe.
fn old_worker(dir: &std::path::Path) -> std::path::PathBuf {
    let python = sls_load_e2e::third_party::deps_dir().join("moto/bin/python");
    let path = dir.join("bootstrap");
    std::fs::write(
        &path,
        format!(
            "#!{}\n\
             import json, os, urllib.request\n\
             api = 'http://' + os.environ['AWS_LAMBDA_RUNTIME_API'] + '/2018-06-01/runtime/invocation/'\n\
             while True:\n\
             \x20   with urllib.request.urlopen(api + 'next') as r:\n\
             \x20       rid = r.headers['Lambda-Runtime-Aws-Request-Id']\n\
             \x20       r.read()\n\
             \x20   body = json.dumps({{'version': '0.0.1', 'arch': 'x86_64', 'read': 'ok'}}).encode()\n\
             \x20   urllib.request.urlopen(urllib.request.Request(api + rid + '/response', data=body, method='POST')).read()\n",
            python.display()
        ),
    )
    .expect("write the old worker");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[test]
fn destroy_keeps_stored_runs_unless_told_and_managed_resources_are_never_touched() {
    let world = World::start(&["eu-west-1"], StandIn::default());
    healthy(&world);
    let bucket = bucket_of(&world);
    world.boto3(&format!(
        "c('s3').put_object(Bucket={bucket:?}, Key='runs/r1/summary.json', Body=b'{{}}')\n"
    ));
    // No terminal, no --yes: the workers go, the stored run stays.
    let asked = sls(&world, &["destroy"]);
    assert_eq!(asked.code(), 1, "{}", asked.stderr);
    let errors: Vec<&str> = asked
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", asked.stderr);
    assert!(errors[0].contains("pass --yes"), "{}", errors[0]);
    let left = world.boto3(&format!(
        "print(len(c('lambda','eu-west-1').list_functions()['Functions']), \
         c('s3').list_objects_v2(Bucket={bucket:?})['KeyCount'])\n"
    ));
    assert!(
        left.contains("0 1"),
        "the worker went, the stored run stayed: {left}"
    );
    let gone = sls(&world, &["destroy", "--yes"]);
    assert_eq!(gone.code(), 0, "{}", gone.stderr);

    // A platform team's resources: deploy and destroy change nothing, call nothing.
    let managed = tempfile::tempdir().expect("tempdir");
    let file = managed.path().join("sls-load.toml");
    std::fs::write(
        &file,
        "[aws]\nbucket = \"team-results\"\nfunction = \"team-worker\"\nregions = [\"eu-west-1\"]\nmanaged = true\n",
    )
    .expect("sls-load.toml");
    let refused = sls_load_e2e::refused_url();
    let env = [
        ("SLS_LOAD_CONFIG", file.to_str().expect("utf-8")),
        ("AWS_ENDPOINT_URL", refused.as_str()),
        ("AWS_ACCESS_KEY_ID", "AKIA"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ];
    for command in ["deploy", "destroy"] {
        let out = sls_load_with_env(&[command], &env, LIMIT);
        assert_eq!(out.code(), 0, "{command}: {}", out.stderr);
        assert!(
            out.stderr.contains("managed by someone else"),
            "{}",
            out.stderr
        );
    }
}
