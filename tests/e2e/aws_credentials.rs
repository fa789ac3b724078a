//! Credentials as AWS users have them, and a mode that is never a surprise: an
//! SSO profile without a cached token, a `credential_process` profile (the
//! script is called), environment keys, an unknown profile, an instance role
//! (a metadata service on loopback): each gives AWS mode or one line saying what
//! to do, never a run on this machine. Then the AWS code path end to end on
//! loopback: `run` with keys from a profile file and regions from the command
//! line, against moto's S3 and the project's Lambda stand-in as the Invoke
//! endpoint; the target's count equals the summary's, which says `aws`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use sls_load_e2e::aws::{ACCESS_KEY, SECRET_KEY, StandIn, World};
use sls_load_e2e::{Outcome, Target, read_json, refused_url, scenario_file, sls_load_with_env};

const LIMIT: Duration = Duration::from_secs(120);

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A HOME with `config` as `~/.aws/config`.
fn home(config: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(home.path().join(".aws")).expect("mkdir .aws");
    std::fs::write(home.path().join(".aws/config"), config).expect("config");
    home
}

/// The `sls-load:` mode lines and the `error:` lines of `out`.
fn mode_and_errors(out: &Outcome) -> (Vec<&str>, Vec<&str>) {
    let modes = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("sls-load: ") && l.contains(" mode"))
        .collect();
    let errors = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    (modes, errors)
}

#[test]
fn an_sso_profile_without_a_token_is_aws_mode_and_one_line_asking_for_a_login() {
    let home = home(
        "[profile sso-dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\nregion = eu-west-1\n\
         [sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = eu-west-1\n",
    );
    let refused = refused_url();
    let env = [
        ("HOME", path(home.path())),
        ("AWS_PROFILE", "sso-dev"),
        ("AWS_ENDPOINT_URL", refused.as_str()),
        ("SLS_LOAD_LOG", ""),
    ];
    let out = sls_load_with_env(&["runs", "--bucket", "b"], &env, LIMIT);
    assert_ne!(out.code(), 0, "{}", out.stderr);
    let (modes, errors) = mode_and_errors(&out);
    assert_eq!(modes.len(), 1, "{}", out.stderr);
    assert!(modes[0].starts_with("sls-load: AWS mode"), "{}", modes[0]);
    assert_eq!(
        errors,
        [
            "error: AWS profile `sso-dev` signs in with SSO and has no valid cached token: run `aws sso login --profile sso-dev`"
        ],
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.lines().count(),
        2,
        "no SDK log line: {}",
        out.stderr
    );
}

#[test]
fn a_credential_process_profile_is_called_and_its_keys_used() {
    let world = World::start(&["us-east-1"], StandIn::default());
    let dir = world.dir.path();
    let called = dir.join("called");
    let script = dir.join("creds.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ntouch {}\necho '{{\"Version\": 1, \"AccessKeyId\": \"{ACCESS_KEY}\", \"SecretAccessKey\": \"{SECRET_KEY}\"}}'\n",
            called.display()
        ),
    )
    .expect("script");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let home = home(&format!(
        "[profile proc]\ncredential_process = {}\nregion = us-east-1\n",
        script.display()
    ));
    world.boto3("c('s3').create_bucket(Bucket='results')\n");
    let endpoint = world.endpoint();
    let env = [
        ("HOME", path(home.path())),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("SLS_LOAD_LOG", ""),
    ];
    let out = sls_load_with_env(
        &["runs", "--bucket", "results", "--profile", "proc"],
        &env,
        LIMIT,
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(called.exists(), "the credential_process script was called");
    let (modes, errors) = mode_and_errors(&out);
    assert_eq!(
        modes,
        ["sls-load: AWS mode (--bucket/SLS_LOAD_BUCKET): profile proc, region us-east-1"],
        "{}",
        out.stderr
    );
    assert!(errors.is_empty(), "{}", out.stderr);
}

#[test]
fn environment_keys_are_aws_mode_and_an_unknown_profile_is_one_line_never_local() {
    let world = World::start(&["us-east-1"], StandIn::default());
    world.boto3("c('s3').create_bucket(Bucket='results')\n");
    let home = home("[default]\nregion = eu-west-1\n");
    let endpoint = world.endpoint();
    let keys = [
        ("HOME", path(home.path())),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("SLS_LOAD_BUCKET", "results"),
    ];
    let out = sls_load_with_env(&["runs"], &keys, LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let (modes, _) = mode_and_errors(&out);
    assert_eq!(
        modes,
        [
            "sls-load: AWS mode (--bucket/SLS_LOAD_BUCKET): credentials from AWS_ACCESS_KEY_ID, region eu-west-1"
        ]
    );

    // `AWS_PROFILE=nope` with --bucket and --function: AWS mode, and the profile is named.
    let unknown = [
        ("HOME", path(home.path())),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_PROFILE", "nope"),
    ];
    let s = scenario_file(
        home.path(),
        "s.yaml",
        "target: http://127.0.0.1:9\nduration: 1s\nscenarios:\n  s:\n    executor: constant-arrival-rate\n    rate: 1\n    requests:\n      - { name: a, url: / }\n",
    );
    let out = sls_load_with_env(
        &[
            "run",
            path(&s),
            "--bucket",
            "my-results",
            "--function",
            "my-worker",
        ],
        &unknown,
        LIMIT,
    );
    assert_eq!(out.code(), 2, "{}", out.stderr);
    let (modes, errors) = mode_and_errors(&out);
    assert!(
        modes.iter().all(|m| m.contains("AWS mode")),
        "{}",
        out.stderr
    );
    assert_eq!(errors.len(), 1, "{}", out.stderr);
    assert!(
        errors[0].contains("AWS profile `nope` not found"),
        "{}",
        errors[0]
    );
    assert!(!out.stderr.contains("local mode"), "{}", out.stderr);
}

/// Deploys the worker to us-east-1 and eu-west-1 as `deploy` does (moto's missing
/// EventInvokeConfig filled in as in aws_deploy).
fn deploy_for_run(world: &World) {
    let zip = world.tiny_zip();
    let env = world.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let deployed = sls_load_with_env(
        &[
            "deploy",
            "--regions",
            "us-east-1,eu-west-1",
            "--arch",
            "x86_64",
            "--zip",
            path(&zip),
        ],
        &env,
        LIMIT,
    );
    assert_eq!(deployed.code(), 0, "{}", deployed.stderr);
    world.boto3(
        "for r in ['us-east-1', 'eu-west-1']:\n\
         \x20   c('lambda', r).put_function_event_invoke_config(FunctionName='sls-load-worker', MaximumRetryAttempts=0)\n",
    );
}

/// A metadata service on loopback with an instance role (IMDSv2: a token, the
/// role's name, its credentials). Serves until the test ends.
fn fake_imds() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let body = match path {
                "/latest/api/token" => "token".to_owned(),
                "/latest/meta-data/iam/security-credentials/" => "load-test-role".to_owned(),
                p if p.starts_with("/latest/meta-data/iam/security-credentials/") => format!(
                    "{{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"{ACCESS_KEY}\",\"SecretAccessKey\":\"{SECRET_KEY}\",\"Token\":\"t\",\"Expiration\":\"2099-01-01T00:00:00Z\",\"LastUpdated\":\"2026-01-01T00:00:00Z\"}}"
                ),
                _ => String::new(),
            };
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nx-aws-ec2-metadata-token-ttl-seconds: 21600\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn an_instance_role_is_aws_mode_without_any_flag() {
    let world = World::start(&["us-east-1"], StandIn::default());
    world.boto3("c('s3').create_bucket(Bucket='results')\n");
    let home = tempfile::tempdir().expect("tempdir");
    let imds = fake_imds();
    let endpoint = world.endpoint();
    let env = [
        ("HOME", path(home.path())),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.as_str()),
        ("AWS_REGION", "us-east-1"),
    ];
    let out = sls_load_with_env(&["runs"], &env, LIMIT);
    let (modes, errors) = mode_and_errors(&out);
    assert_eq!(modes.len(), 1, "{}", out.stderr);
    assert!(
        modes[0].starts_with("sls-load: AWS mode")
            && modes[0].contains("(the instance role of this machine)"),
        "{}",
        modes[0]
    );
    // It found credentials there; only the bucket is missing.
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert_eq!(errors.len(), 1, "{}", out.stderr);
    assert!(
        errors[0].contains("needs a results bucket"),
        "{}",
        errors[0]
    );
}

#[test]
fn run_on_aws_end_to_end_on_loopback_with_a_profile_and_regions_from_the_command_line() {
    let world = World::start(&["us-east-1", "eu-west-1"], StandIn::default());
    deploy_for_run(&world);
    // Keys from a profile file only; no key in the environment.
    let home = home("[profile loadtest]\nregion = us-east-1\n");
    std::fs::write(
        home.path().join(".aws/credentials"),
        format!(
            "[loadtest]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
        ),
    )
    .expect("credentials");
    let target = Target::start(&[]);
    let scenario = scenario_file(
        home.path(),
        "s.yaml",
        &format!(
            "target: {}\nduration: 3s\nscenarios:\n  s:\n    executor: constant-arrival-rate\n    rate: 20\n    requests:\n      - {{ name: home, url: / }}\n",
            target.url
        ),
    );
    let summary = home.path().join("summary.json");
    let endpoint = world.endpoint();
    let project = world.project_file();
    let run_env = [
        ("HOME", path(home.path())),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("SLS_LOAD_CONFIG", path(&project)),
    ];
    let out = sls_load_with_env(
        &[
            "run",
            path(&scenario),
            "--regions",
            "us-east-1,eu-west-1",
            "--profile",
            "loadtest",
            "--lead",
            "3s",
            "--summary-export",
            path(&summary),
        ],
        &run_env,
        LIMIT,
    );
    assert_eq!(out.code(), 0, "{}\n{}", out.stderr, out.stdout);
    assert!(
        out.stderr.contains("· AWS account 123456789012 ·"),
        "the header names the account: {}",
        out.stderr
    );
    let s = read_json(&summary);
    assert_eq!(s["cloud"]["mode"], "aws");
    assert_eq!(s["cloud"]["account"], "123456789012");
    assert_eq!(
        s["cloud"]["regions"],
        serde_json::json!(["us-east-1", "eu-west-1"])
    );
    let sent = s["total"]["requests"].as_u64().expect("requests");
    assert!(sent > 0, "{s}");
    assert_eq!(sent, target.requests(), "the target's own count");
    assert!(
        out.stdout
            .contains("ran on .........: AWS account 123456789012"),
        "{}",
        out.stdout
    );
}
