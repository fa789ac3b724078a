//! Where a worker's results go: the [`Sink`] trait and its S3 implementation.
//!
//! This is the only file of the worker that imports `aws_sdk_s3`. It owns building
//! the S3 client (rustls + ring, no default features), PUTs with retries and
//! backoff on top of the SDK's own, single GETs of the run's control objects, and
//! nothing else: what to write or read and when is decided by the handler in
//! `lib.rs` and by `control`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_s3::primitives::ByteStream;

use crate::job::{ObjectKey, Region};

/// How many times a PUT is attempted before its error is returned.
pub const PUT_ATTEMPTS: u32 = 5;

/// A PUT that failed every attempt.
#[derive(Debug, thiserror::Error)]
#[error("could not write s3://{bucket}/{key} after {attempts} attempts: {message}")]
pub struct SinkError {
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: ObjectKey,
    /// Attempts made.
    pub attempts: u32,
    /// The last error, with its source chain.
    pub message: String,
}

/// A GET that failed (a missing object is no failure).
#[derive(Debug, thiserror::Error)]
#[error("could not read s3://{bucket}/{key}: {message}")]
pub struct ReadError {
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: ObjectKey,
    /// The error, with its source chain.
    pub message: String,
}

/// What claiming a job found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This invocation created the claim: it runs the job.
    Won,
    /// The claim already existed: this is a second delivery of the same job.
    Taken,
}

/// Stores result objects.
pub trait Sink: Send + Sync {
    /// Creates `key` with `body` only if no object is there yet (S3's conditional
    /// write, `If-None-Match: *`).
    fn claim(
        &self,
        key: &ObjectKey,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<Claim, SinkError>> + Send;

    /// Writes `body` at `key`, replacing any object there.
    fn put(
        &self,
        key: &ObjectKey,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Reads `key` once (no retries): `None` when there is no object. A 403 is an
    /// error, never "no object": a wrong bucket or a role that may not read must
    /// not silently disable the kill switch. Sinks that cannot read (a local
    /// benchmark) keep this default: nothing is ever there.
    fn get(
        &self,
        key: &ObjectKey,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, ReadError>> + Send {
        let _ = key;
        async { Ok(None) }
    }
}

pub use sls_load_core::sdk::http_client;

/// True when the environment points the SDK at a non-AWS S3 endpoint (local mode),
/// which needs path-style addressing.
fn endpoint_overridden() -> bool {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Writes objects into one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Sink {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Sink {
    /// A sink for `bucket` in `region`, with credentials and endpoint from the standard
    /// AWS environment (in Lambda: the execution role; locally: the stand-in's env).
    pub async fn from_env(bucket: &str, region: &Region) -> Self {
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .region(aws_config::Region::new(region.to_string()))
            .load()
            .await;
        let s3 = aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(endpoint_overridden())
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(s3),
            bucket: bucket.to_owned(),
        }
    }

    /// A sink for `bucket` through an already configured client.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// The bucket this sink writes to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

impl S3Sink {
    /// Runs `attempt` until it returns `Ok`, at most [`PUT_ATTEMPTS`] times, with
    /// exponential backoff (100 ms doubling, at most 2 s) between tries.
    async fn retrying<T, F: Future<Output = Result<T, String>>>(
        &self,
        key: &ObjectKey,
        op: &str,
        mut attempt: impl FnMut() -> F,
    ) -> Result<T, SinkError> {
        let mut delay = Duration::from_millis(100);
        let mut last = String::new();
        for n in 1..=PUT_ATTEMPTS {
            match attempt().await {
                Ok(done) => return Ok(done),
                Err(e) => {
                    tracing::warn!(key = %key, attempt = n, error = %e, "{op} failed");
                    last = e;
                }
            }
            if n < PUT_ATTEMPTS {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
        Err(SinkError {
            bucket: self.bucket.clone(),
            key: key.clone(),
            attempts: PUT_ATTEMPTS,
            message: last,
        })
    }
}

impl Sink for S3Sink {
    async fn claim(&self, key: &ObjectKey, body: Vec<u8>) -> Result<Claim, SinkError> {
        let body = bytes::Bytes::from(body);
        // Whether an earlier attempt may have created the object without our
        // hearing back (no HTTP response): a 412 then is most likely our own.
        let maybe_ours = AtomicBool::new(false);
        let maybe_ours = &maybe_ours;
        self.retrying(key, "claim", || async {
            // The SDK's own retries are off for this call: a retry after a lost
            // response would meet our own object and look like a duplicate.
            let result = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(key.as_str())
                .content_type("application/json")
                .if_none_match("*")
                .body(ByteStream::from(body.clone()))
                .customize()
                .config_override(
                    aws_sdk_s3::config::Builder::default()
                        .retry_config(aws_config::retry::RetryConfig::disabled()),
                )
                .send()
                .await;
            let e = match result {
                Ok(_) => return Ok(Claim::Won),
                Err(e) => e,
            };
            match e.raw_response().map(|r| r.status().as_u16()) {
                Some(412) if maybe_ours.load(Ordering::Relaxed) => {
                    tracing::warn!(key = %key, "claim exists after a lost response; taking it as ours");
                    return Ok(Claim::Won);
                }
                Some(412) => return Ok(Claim::Taken),
                // A store without conditional writes: run without the guard.
                Some(501) => {
                    tracing::warn!(key = %key, "the store does not support conditional writes; duplicate deliveries are not detected");
                    return Ok(Claim::Won);
                }
                None => maybe_ours.store(true, Ordering::Relaxed),
                Some(_) => {}
            }
            Err(aws_sdk_s3::error::DisplayErrorContext(&e).to_string())
        })
        .await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, ReadError> {
        use sls_load_core::s3::{GetError, get_object};
        let failed = |message: String| ReadError {
            bucket: self.bucket.clone(),
            key: key.clone(),
            message,
        };
        match get_object(&self.client, &self.bucket, key.as_str()).await {
            Ok(body) => Ok(body),
            // The orchestrator writes control.json and heartbeat.json before it
            // invokes anyone, so a 403 is a denial, never "no object": the kill
            // switch must not be silently off.
            Err(GetError::Denied(_)) => Err(failed(format!(
                "access denied (403): the execution role needs s3:GetObject on arn:aws:s3:::{}/{}",
                self.bucket, key
            ))),
            Err(GetError::Failed(e)) => Err(failed(
                aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
            )),
            Err(GetError::Body(e)) => Err(failed(e.to_string())),
        }
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> Result<(), SinkError> {
        let body = bytes::Bytes::from(body);
        self.retrying(key, "put", || async {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key.as_str())
                .content_type(content_type)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(&e).to_string())
        })
        .await
    }
}
