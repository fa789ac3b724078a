//! End-to-end tests of the whole local Lambda: a fake `bootstrap` (a Runtime
//! API client in Python) is started through [`LocalLambda`] and driven with
//! aws-sdk-lambda. Also home of the fixtures the parent module's tests reuse
//! (`write_fake_bootstrap`, `client`, `invoke`, `payload_json`, `alive`).
//! Unit tests of single helpers live next to them in the sibling modules.

use super::*;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType as SdkInvocationType;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

const TEST_TIMEOUT: Duration = Duration::from_secs(90);

/// A Runtime API client in Python standing in for `bootstrap`. The payload
/// steers it: `sleep` (seconds, then echo), `fail`, `crash`, `hang`, `env`;
/// anything else is echoed back.
const FAKE_RUNTIME: &str = r#"
import json, os, sys, time, urllib.request

api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
print("fake runtime started", os.getpid(), flush=True)

def post(path, body):
    req = urllib.request.Request(api + path, data=body, method="POST")
    urllib.request.urlopen(req).read()

if os.environ.get("FAKE_INIT_ERROR"):
    post("/init/error", json.dumps({"errorType": "FakeInit", "errorMessage": "no config"}).encode())
    sys.exit(1)

while True:
    with urllib.request.urlopen(api + "/invocation/next") as r:
        headers = {k.lower(): v for k, v in r.headers.items()}
        event = r.read()
    rid = headers["lambda-runtime-aws-request-id"]
    cmd = json.loads(event)
    print("invocation", rid, flush=True)
    if cmd.get("crash"):
        sys.exit(3)
    if cmd.get("hang"):
        time.sleep(3600)
    if cmd.get("sleep"):
        time.sleep(cmd["sleep"])
    if cmd.get("fail"):
        post("/invocation/" + rid + "/error",
             json.dumps({"errorType": "TestError", "errorMessage": "asked to fail"}).encode())
    elif cmd.get("env"):
        out = {"env": dict(os.environ), "headers": headers, "pid": os.getpid()}
        post("/invocation/" + rid + "/response", json.dumps(out).encode())
    else:
        post("/invocation/" + rid + "/response", event)
"#;

/// Writes the fake runtime as an executable `bootstrap` into `dir`.
pub(crate) fn write_fake_bootstrap(dir: &Path) -> PathBuf {
    let python = ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("the tests need a system python3");
    let bootstrap = dir.join("bootstrap");
    std::fs::write(&bootstrap, format!("#!{python} -u\n{FAKE_RUNTIME}")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    bootstrap
}

pub(super) struct Fixture {
    pub(super) dir: PathBuf,
    pub(super) cfg: LambdaConfig,
}

impl Fixture {
    pub(super) fn new(tag: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!(
            "sls-load-local-lambda-{tag}-{}-{:x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let bootstrap = write_fake_bootstrap(&dir);
        let cfg = LambdaConfig {
            region: "eu-west-1".into(),
            function_name: "sls-load-worker".into(),
            bootstrap,
            memory_mb: 512,
            timeout: Duration::from_secs(30),
            max_processes: 4,
            idle_timeout: Duration::from_secs(300),
            log_dir: dir.join("logs"),
            env: vec![("EXTRA_VAR".into(), "extra-value".into())],
            credentials: LocalCredentials::generate(),
            faults: LambdaFaults::default(),
        };
        Fixture { dir, cfg }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn client(endpoint: &str, creds: &LocalCredentials) -> aws_sdk_lambda::Client {
    client_in(endpoint, creds, "eu-west-1")
}

/// A client signing for `region` (the stand-in refuses signatures scoped to another).
pub(crate) fn client_in(
    endpoint: &str,
    creds: &LocalCredentials,
    region: &str,
) -> aws_sdk_lambda::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let conf = aws_sdk_lambda::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            &creds.access_key_id,
            &creds.secret_access_key,
            None,
            None,
            "local",
        ))
        .http_client(http)
        .build();
    aws_sdk_lambda::Client::from_conf(conf)
}

pub(crate) async fn invoke(
    c: &aws_sdk_lambda::Client,
    function: &str,
    payload: &str,
) -> aws_sdk_lambda::operation::invoke::InvokeOutput {
    c.invoke()
        .function_name(function)
        .payload(Blob::new(payload.as_bytes().to_vec()))
        .send()
        .await
        .unwrap()
}

pub(crate) fn payload_json(
    out: &aws_sdk_lambda::operation::invoke::InvokeOutput,
) -> serde_json::Value {
    serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap()
}

pub(crate) fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

pub(super) async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn sync_event_dry_run_and_env() {
    let fx = Fixture::new("basic");
    let lambda = LocalLambda::start(fx.cfg.clone()).await.unwrap();
    let c = client(lambda.endpoint(), &fx.cfg.credentials);
    tokio::time::timeout(TEST_TIMEOUT, async {
        let out = invoke(&c, "sls-load-worker", r#"{"hello":"world"}"#).await;
        assert_eq!(out.status_code(), 200);
        assert_eq!(out.executed_version(), Some("$LATEST"));
        assert_eq!(out.function_error(), None);
        assert_eq!(payload_json(&out), serde_json::json!({"hello": "world"}));

        let out = c
            .invoke()
            .function_name("sls-load-worker")
            .invocation_type(SdkInvocationType::Event)
            .payload(Blob::new(&b"{\"event\":1}"[..]))
            .send()
            .await
            .unwrap();
        assert_eq!(out.status_code(), 202);
        assert!(out.payload().is_none_or(|p| p.as_ref().is_empty()));

        let out = c
            .invoke()
            .function_name("sls-load-worker")
            .invocation_type(SdkInvocationType::DryRun)
            .send()
            .await
            .unwrap();
        assert_eq!(out.status_code(), 204);

        // Environment and Runtime API headers, called through a full ARN with qualifier.
        let arn = "arn:aws:lambda:eu-west-1:000000000000:function:sls-load-worker:$LATEST";
        let out = invoke(&c, arn, r#"{"env":true}"#).await;
        let v = payload_json(&out);
        let env = &v["env"];
        assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "sls-load-worker");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "512");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
        assert_eq!(env["AWS_REGION"], "eu-west-1");
        assert_eq!(env["AWS_DEFAULT_REGION"], "eu-west-1");
        assert_eq!(
            env["AWS_LAMBDA_LOG_GROUP_NAME"],
            "/aws/lambda/sls-load-worker"
        );
        assert_eq!(env["AWS_EXECUTION_ENV"], "AWS_Lambda_provided.al2023");
        assert_eq!(env["_HANDLER"], "bootstrap");
        assert_eq!(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
        assert_eq!(env["LAMBDA_TASK_ROOT"], fx.dir.to_str().unwrap());
        assert_eq!(env["EXTRA_VAR"], "extra-value");
        assert!(env.get("HOME").is_none(), "parent environment leaked");
        let api = env["AWS_LAMBDA_RUNTIME_API"].as_str().unwrap();
        assert!(api.starts_with("127.0.0.1:") && !api.contains('/'), "{api}");
        let stream = env["AWS_LAMBDA_LOG_STREAM_NAME"].as_str().unwrap();
        let log = std::fs::read_to_string(fx.cfg.log_dir.join(format!("{stream}.log"))).unwrap();
        assert!(log.contains("fake runtime started"), "{log}");

        let h = &v["headers"];
        assert_eq!(
            h["lambda-runtime-invoked-function-arn"],
            "arn:aws:lambda:eu-west-1:000000000000:function:sls-load-worker"
        );
        assert_eq!(
            h["lambda-runtime-aws-request-id"].as_str().unwrap().len(),
            36
        );
        assert!(
            h["lambda-runtime-trace-id"]
                .as_str()
                .unwrap()
                .starts_with("Root=1-")
        );
        assert_eq!(h["content-type"], "application/json");
        let deadline: u64 = h["lambda-runtime-deadline-ms"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(
            deadline > now && deadline <= now + 30_000,
            "{deadline} vs {now}"
        );

        wait_until("the event invocation", || lambda.stats().invocations == 3).await;
        // A process still starting up is counted as spawned before it runs.
        wait_until("every spawned process running", || {
            let stats = lambda.stats();
            stats.processes_spawned == stats.running as u64
        })
        .await;
    })
    .await
    .expect("test timed out");
    let stats = lambda.stats();
    assert_eq!(stats.errors, 0);
    assert_eq!(stats.processes_spawned, stats.running as u64);
    lambda.shutdown().await;
}

#[tokio::test]
async fn concurrent_invokes_scale_out_then_reuse_warm_processes() {
    let fx = Fixture::new("scale");
    let lambda = LocalLambda::start(fx.cfg.clone()).await.unwrap();
    let c = client(lambda.endpoint(), &fx.cfg.credentials);
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (a, b) = tokio::join!(
            invoke(&c, "sls-load-worker", r#"{"sleep":1.0,"n":1}"#),
            invoke(&c, "sls-load-worker", r#"{"sleep":1.0,"n":2}"#),
        );
        assert_eq!(payload_json(&a)["n"], 1);
        assert_eq!(payload_json(&b)["n"], 2);
        assert_eq!(lambda.stats().processes_spawned, 2);

        let c3 = invoke(&c, "sls-load-worker", r#"{"n":3}"#).await;
        assert_eq!(payload_json(&c3)["n"], 3);
        let stats = lambda.stats();
        assert_eq!(stats.processes_spawned, 2, "a warm process must be reused");
        assert_eq!(stats.invocations, 3);
        assert_eq!(stats.running, 2);
    })
    .await
    .expect("test timed out");

    let pids = lambda.process_ids();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|&pid| alive(pid)));
    lambda.shutdown().await;
    for pid in pids {
        assert!(!alive(pid), "process {pid} survived shutdown");
    }
}

#[tokio::test]
async fn cap_queues_excess_invocations() {
    let fx = Fixture::new("cap");
    let cfg = LambdaConfig {
        max_processes: 1,
        ..fx.cfg.clone()
    };
    let lambda = LocalLambda::start(cfg).await.unwrap();
    let c = client(lambda.endpoint(), &fx.cfg.credentials);
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (a, b, d) = tokio::join!(
            invoke(&c, "sls-load-worker", r#"{"sleep":0.3,"n":1}"#),
            invoke(&c, "sls-load-worker", r#"{"sleep":0.3,"n":2}"#),
            invoke(&c, "sls-load-worker", r#"{"sleep":0.3,"n":3}"#),
        );
        for (out, n) in [(a, 1), (b, 2), (d, 3)] {
            assert_eq!(out.status_code(), 200);
            assert_eq!(payload_json(&out)["n"], n);
        }
    })
    .await
    .expect("test timed out");
    assert_eq!(lambda.stats().processes_spawned, 1);
    lambda.shutdown().await;
}

#[tokio::test]
async fn function_errors_crashes_timeouts_and_kills() {
    let fx = Fixture::new("faults");
    let cfg = LambdaConfig {
        timeout: Duration::from_secs(2),
        ..fx.cfg.clone()
    };
    let lambda = LocalLambda::start(cfg).await.unwrap();
    let c = client(lambda.endpoint(), &fx.cfg.credentials);
    tokio::time::timeout(TEST_TIMEOUT, async {
        // Reported error.
        let out = invoke(&c, "sls-load-worker", r#"{"fail":true}"#).await;
        assert_eq!(out.status_code(), 200);
        assert_eq!(out.function_error(), Some("Unhandled"));
        assert_eq!(payload_json(&out)["errorType"], "TestError");

        // The process exits while holding the invocation.
        let pids_before = lambda.process_ids();
        let out = invoke(&c, "sls-load-worker", r#"{"crash":true}"#).await;
        assert_eq!(out.function_error(), Some("Unhandled"));
        let v = payload_json(&out);
        assert_eq!(v["errorType"], "Runtime.ExitError");
        assert!(
            v["errorMessage"]
                .as_str()
                .unwrap()
                .contains("exit status: 3"),
            "{v}"
        );
        for pid in pids_before {
            wait_until("the crashed process to be reaped", || !alive(pid)).await;
        }

        // Timeout: the process is killed and the invocation fails.
        let out = invoke(&c, "sls-load-worker", r#"{"hang":true}"#).await;
        assert_eq!(out.function_error(), Some("Unhandled"));
        let v = payload_json(&out);
        assert_eq!(v["errorType"], "Sandbox.Timedout");
        assert!(
            v["errorMessage"]
                .as_str()
                .unwrap()
                .contains("Task timed out after 2.00 seconds"),
            "{v}"
        );
        wait_until("the timed-out process to be reaped", || {
            lambda.stats().running == 0
        })
        .await;

        // Fault injection on a busy process.
        let c2 = c.clone();
        let hung =
            tokio::spawn(async move { invoke(&c2, "sls-load-worker", r#"{"sleep":20}"#).await });
        let mut killed = None;
        wait_until("a busy process", || {
            killed = lambda.kill_one_busy();
            killed.is_some()
        })
        .await;
        let pid = killed.unwrap();
        let out = hung.await.unwrap();
        assert_eq!(out.function_error(), Some("Unhandled"));
        assert_eq!(payload_json(&out)["errorType"], "Runtime.ExitError");
        wait_until("the killed process to be reaped", || !alive(pid)).await;
        assert_eq!(lambda.kill_one_busy(), None);

        // The function still works afterwards.
        let out = invoke(&c, "sls-load-worker", r#"{"ok":1}"#).await;
        assert_eq!(payload_json(&out), serde_json::json!({"ok": 1}));
    })
    .await
    .expect("test timed out");
    let stats = lambda.stats();
    assert_eq!(stats.errors, 4);
    assert_eq!(stats.invocations, 5);
    lambda.shutdown().await;
}

#[tokio::test]
async fn unknown_function_limits_and_account_settings() {
    let fx = Fixture::new("api");
    let lambda = LocalLambda::start(fx.cfg.clone()).await.unwrap();
    let c = client(lambda.endpoint(), &fx.cfg.credentials);
    tokio::time::timeout(TEST_TIMEOUT, async {
        let err = c
            .invoke()
            .function_name("nope")
            .payload(Blob::new(&b"{}"[..]))
            .send()
            .await
            .unwrap_err();
        let err = err.into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");

        let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_EVENT_PAYLOAD));
        let err = c
            .invoke()
            .function_name("sls-load-worker")
            .invocation_type(SdkInvocationType::Event)
            .payload(Blob::new(big.into_bytes()))
            .send()
            .await
            .unwrap_err();
        let err = err.into_service_error();
        assert_eq!(
            err.code(),
            Some("RequestEntityTooLargeException"),
            "{err:?}"
        );
        assert!(
            err.message().unwrap().contains("limit 262144 bytes"),
            "{err:?}"
        );

        let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_SYNC_PAYLOAD));
        let err = c
            .invoke()
            .function_name("sls-load-worker")
            .payload(Blob::new(huge.into_bytes()))
            .send()
            .await
            .unwrap_err();
        let err = err.into_service_error();
        assert_eq!(
            err.code(),
            Some("RequestEntityTooLargeException"),
            "{err:?}"
        );
        assert!(
            err.message().unwrap().contains("RequestResponse"),
            "{err:?}"
        );

        // Invalid JSON is rejected like Lambda does.
        let err = c
            .invoke()
            .function_name("sls-load-worker")
            .payload(Blob::new(&b"not json"[..]))
            .send()
            .await
            .unwrap_err();
        assert!(
            err.into_service_error()
                .is_invalid_request_content_exception()
        );

        let settings = c.get_account_settings().send().await.unwrap();
        assert_eq!(settings.account_limit().unwrap().concurrent_executions(), 4);
        assert_eq!(settings.account_usage().unwrap().function_count(), 1);
    })
    .await
    .expect("test timed out");
    assert_eq!(lambda.stats().processes_spawned, 0);
    lambda.shutdown().await;
}

#[tokio::test]
async fn idle_processes_are_reaped() {
    let fx = Fixture::new("idle");
    let cfg = LambdaConfig {
        idle_timeout: Duration::from_millis(300),
        ..fx.cfg.clone()
    };
    let lambda = LocalLambda::start(cfg).await.unwrap();
    let c = client(lambda.endpoint(), &fx.cfg.credentials);
    tokio::time::timeout(TEST_TIMEOUT, async {
        invoke(&c, "sls-load-worker", "{}").await;
        let pids = lambda.process_ids();
        assert_eq!(pids.len(), 1);
        wait_until("the idle process to be reaped", || {
            lambda.stats().running == 0 && !alive(pids[0])
        })
        .await;
        // A new invocation cold-starts a fresh process.
        let out = invoke(&c, "sls-load-worker", r#"{"again":true}"#).await;
        assert_eq!(payload_json(&out), serde_json::json!({"again": true}));
        assert_eq!(lambda.stats().processes_spawned, 2);
    })
    .await
    .expect("test timed out");
    lambda.shutdown().await;
}

#[tokio::test]
async fn init_errors_fail_the_invocation() {
    let fx = Fixture::new("init");
    let mut cfg = fx.cfg.clone();
    cfg.env.push(("FAKE_INIT_ERROR".into(), "1".into()));
    let lambda = LocalLambda::start(cfg).await.unwrap();
    let c = client(lambda.endpoint(), &fx.cfg.credentials);
    tokio::time::timeout(TEST_TIMEOUT, async {
        let out = invoke(&c, "sls-load-worker", "{}").await;
        assert_eq!(out.function_error(), Some("Unhandled"));
        assert_eq!(payload_json(&out)["errorType"], "FakeInit");
        wait_until("the failed process to exit", || lambda.stats().running == 0).await;
    })
    .await
    .expect("test timed out");
    let stats = lambda.stats();
    assert_eq!((stats.processes_spawned, stats.errors), (1, 1));
    lambda.shutdown().await;
}

#[tokio::test]
async fn missing_bootstrap_is_a_config_error() {
    let fx = Fixture::new("missing");
    let cfg = LambdaConfig {
        bootstrap: fx.dir.join("does-not-exist"),
        ..fx.cfg.clone()
    };
    assert!(matches!(
        LocalLambda::start(cfg).await,
        Err(LocalError::Config(_))
    ));
}

#[test]
fn config_validation() {
    let fx = Fixture::new("validate");
    assert!(validate(&fx.cfg).is_ok());
    for bad in [
        LambdaConfig {
            function_name: "a/b".into(),
            ..fx.cfg.clone()
        },
        LambdaConfig {
            region: "".into(),
            ..fx.cfg.clone()
        },
        LambdaConfig {
            max_processes: 0,
            ..fx.cfg.clone()
        },
        LambdaConfig {
            timeout: Duration::ZERO,
            ..fx.cfg.clone()
        },
        LambdaConfig {
            env: vec![("A=B".into(), "x".into())],
            ..fx.cfg.clone()
        },
    ] {
        assert!(validate(&bad).is_err(), "{bad:?}");
    }
}
