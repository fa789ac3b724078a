//! Tests of who may use a [`LocalLambda`] and of its fault switches: unsigned
//! calls, the old published key pair, a wrong secret and a tampered body are
//! refused with 403 and start nothing; the throttle answers 429 the first N
//! times (and the SDK's own retries get through it); kill and freeze hit the
//! process running the first invocation.

use super::tests::{Fixture, alive, client, invoke, payload_json};
use super::*;

use std::io::{Read, Write};
use std::time::SystemTime;

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};

const TEST_TIMEOUT: Duration = Duration::from_secs(90);
const INVOKE_PATH: &str = "/2015-03-31/functions/sls-load-worker/invocations";

/// The key pair every local stand-in accepted before: published in the source.
fn old_constant_pair() -> LocalCredentials {
    LocalCredentials {
        access_key_id: "sls-load-local".into(),
        secret_access_key: "sls-load-local-secret".into(),
    }
}

/// Sends one raw HTTP/1.1 request and returns the status code.
fn raw_request(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> u16 {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

/// SigV4 headers (`x-amz-date`, `authorization`) for a POST of `body` to the Invoke path.
fn signed_headers(endpoint: &str, creds: &LocalCredentials, body: &[u8]) -> Vec<(String, String)> {
    let host = endpoint.trim_start_matches("http://").to_owned();
    let identity = aws_sdk_lambda::config::Credentials::new(
        &creds.access_key_id,
        &creds.secret_access_key,
        None,
        None,
        "test",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("eu-west-1")
        .name("lambda")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let length = body.len().to_string();
    let request = SignableRequest::new(
        "POST",
        INVOKE_PATH,
        [("host", host.as_str()), ("content-length", length.as_str())].into_iter(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

#[tokio::test]
async fn unsigned_old_key_wrong_secret_and_tampered_calls_are_refused_and_run_nothing() {
    let fx = Fixture::new("refuse");
    let lambda = LocalLambda::start(fx.cfg.clone()).await.unwrap();
    let endpoint = lambda.endpoint().to_owned();
    let job = br#"{"env":true}"#;
    let creds = fx.cfg.credentials.clone();

    let statuses = tokio::task::spawn_blocking({
        let endpoint = endpoint.clone();
        move || {
            let unsigned = raw_request(&endpoint, "POST", INVOKE_PATH, &[], job);
            let settings = raw_request(&endpoint, "GET", "/2016-08-19/account-settings", &[], b"");
            // Signed for one body, sent with another.
            let tampered = signed_headers(&endpoint, &creds, br#"{"n":1}"#);
            let tampered = raw_request(&endpoint, "POST", INVOKE_PATH, &tampered, br#"{"n":2}"#);
            let good = signed_headers(&endpoint, &creds, br#"{"n":3}"#);
            let good = raw_request(&endpoint, "POST", INVOKE_PATH, &good, br#"{"n":3}"#);
            (unsigned, settings, tampered, good)
        }
    })
    .await
    .unwrap();
    assert_eq!(statuses.0, 403, "unsigned invoke");
    assert_eq!(statuses.1, 403, "unsigned GetAccountSettings");
    assert_eq!(statuses.2, 403, "tampered body");
    assert_eq!(
        statuses.3, 200,
        "the same raw request signed properly is served"
    );
    let served = lambda.stats();
    assert_eq!((served.invocations, served.processes_spawned), (1, 1));

    tokio::time::timeout(TEST_TIMEOUT, async {
        let wrong_secret = LocalCredentials {
            secret_access_key: "not-the-secret".into(),
            ..fx.cfg.credentials.clone()
        };
        for (creds, code) in [
            (old_constant_pair(), "UnrecognizedClientException"),
            (wrong_secret, "InvalidSignatureException"),
        ] {
            let err = client(&endpoint, &creds)
                .invoke()
                .function_name("sls-load-worker")
                .payload(Blob::new(&job[..]))
                .send()
                .await
                .unwrap_err();
            assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
            assert_eq!(err.into_service_error().code(), Some(code));
        }
    })
    .await
    .expect("test timed out");
    // Nothing more was queued or started by the refused calls.
    assert_eq!(lambda.stats().invocations, 1);
    assert_eq!(lambda.stats().processes_spawned, 1);
    lambda.shutdown().await;
}

#[tokio::test]
async fn a_refused_call_starts_no_process_at_all() {
    let fx = Fixture::new("refuse-none");
    let lambda = LocalLambda::start(fx.cfg.clone()).await.unwrap();
    let c = client(lambda.endpoint(), &old_constant_pair());
    let res = tokio::time::timeout(TEST_TIMEOUT, invoke_raw(&c, r#"{"env":true}"#))
        .await
        .expect("timed out");
    assert!(res.is_err());
    assert_eq!(lambda.stats(), LambdaStats::default());
    let logs = std::fs::read_dir(&fx.cfg.log_dir).unwrap().count();
    assert_eq!(logs, 0, "no function process wrote a log");
    lambda.shutdown().await;
}

async fn invoke_raw(
    c: &aws_sdk_lambda::Client,
    payload: &str,
) -> Result<
    aws_sdk_lambda::operation::invoke::InvokeOutput,
    aws_sdk_lambda::error::SdkError<aws_sdk_lambda::operation::invoke::InvokeError>,
> {
    c.invoke()
        .function_name("sls-load-worker")
        .payload(Blob::new(payload.as_bytes().to_vec()))
        .send()
        .await
}

/// A client whose SDK makes a single attempt per call.
fn client_without_retries(endpoint: &str, creds: &LocalCredentials) -> aws_sdk_lambda::Client {
    let conf = client(endpoint, creds)
        .config()
        .to_builder()
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_lambda::Client::from_conf(conf)
}

#[tokio::test]
async fn the_throttle_answers_429_the_first_n_invokes_and_sdk_retries_get_through() {
    let fx = Fixture::new("throttle");
    let cfg = LambdaConfig {
        faults: LambdaFaults::parse("throttle=2").unwrap(),
        ..fx.cfg.clone()
    };
    let lambda = LocalLambda::start(cfg.clone()).await.unwrap();
    let c = client_without_retries(lambda.endpoint(), &cfg.credentials);
    tokio::time::timeout(TEST_TIMEOUT, async {
        for n in 1..=2 {
            let err = invoke_raw(&c, "{}").await.unwrap_err();
            assert_eq!(
                err.raw_response().map(|r| r.status().as_u16()),
                Some(429),
                "call {n}"
            );
            assert!(err.into_service_error().is_too_many_requests_exception());
        }
        let out = invoke(&c, "sls-load-worker", r#"{"n":3}"#).await;
        assert_eq!(payload_json(&out)["n"], 3);
    })
    .await
    .expect("test timed out");
    assert_eq!(lambda.stats().throttled, 2);
    assert_eq!(lambda.stats().invocations, 1);
    lambda.shutdown().await;

    // The SDK's standard retries (3 attempts) see two 429s and then succeed, in one call.
    let lambda = LocalLambda::start(cfg.clone()).await.unwrap();
    let c = client(lambda.endpoint(), &cfg.credentials);
    let out = tokio::time::timeout(TEST_TIMEOUT, invoke(&c, "sls-load-worker", r#"{"n":1}"#))
        .await
        .expect("test timed out");
    assert_eq!(payload_json(&out)["n"], 1);
    assert_eq!(lambda.stats().throttled, 2);
    assert_eq!(lambda.stats().invocations, 1);
    lambda.shutdown().await;
}

#[tokio::test]
async fn kill_after_fails_the_first_invocation_and_spares_the_next() {
    let fx = Fixture::new("kill");
    let cfg = LambdaConfig {
        faults: LambdaFaults::parse("kill-after=300ms").unwrap(),
        ..fx.cfg.clone()
    };
    let lambda = LocalLambda::start(cfg.clone()).await.unwrap();
    let c = client(lambda.endpoint(), &cfg.credentials);
    tokio::time::timeout(TEST_TIMEOUT, async {
        let out = invoke(&c, "sls-load-worker", r#"{"sleep":20}"#).await;
        assert_eq!(out.function_error(), Some("Unhandled"));
        assert_eq!(payload_json(&out)["errorType"], "Runtime.ExitError");
        let out = invoke(&c, "sls-load-worker", r#"{"sleep":0.5,"n":2}"#).await;
        assert_eq!(out.function_error(), None);
        assert_eq!(payload_json(&out)["n"], 2);
    })
    .await
    .expect("test timed out");
    assert_eq!(lambda.stats().processes_spawned, 2);
    lambda.shutdown().await;
}

#[tokio::test]
async fn freeze_after_stops_the_process_until_the_invocation_times_out() {
    let fx = Fixture::new("freeze");
    let cfg = LambdaConfig {
        faults: LambdaFaults::parse("freeze-after=200ms").unwrap(),
        timeout: Duration::from_secs(3),
        ..fx.cfg.clone()
    };
    let lambda = LocalLambda::start(cfg.clone()).await.unwrap();
    let c = client(lambda.endpoint(), &cfg.credentials);
    tokio::time::timeout(TEST_TIMEOUT, async {
        let call = invoke(&c, "sls-load-worker", r#"{"sleep":1,"n":1}"#);
        let watch = async {
            // The process is stopped (state T) while the invocation is in flight.
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let Some(pid) = lambda.process_ids().first().copied() else {
                    continue;
                };
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                if stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('T'))
                {
                    return pid;
                }
            }
        };
        let (out, pid) = tokio::join!(call, watch);
        assert_eq!(payload_json(&out)["errorType"], "Sandbox.Timedout");
        super::tests::wait_until("the frozen process to be killed", || !alive(pid)).await;
    })
    .await
    .expect("test timed out");
    lambda.shutdown().await;
}
