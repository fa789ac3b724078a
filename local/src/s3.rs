//! The local S3-compatible object store ([`LocalS3`]).
//!
//! This file owns serving an s3s + s3s-fs backed store on an ephemeral
//! loopback port, with objects kept as plain files under a root directory so
//! they outlive the run, and creating buckets as directories
//! ([`ensure_bucket`]). It does not know which objects sls-load writes or
//! reads, nor anything about Lambda; addressing is path-style only (which is
//! what the AWS SDKs use for an IP-address endpoint). In front of s3s sits the
//! fault-switch layer (latency, injected 500/503 answers) whose rules live in
//! [`super::faults`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderValue};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tracing::{info, warn};

use crate::faults::{S3Faults, s3_error_body};
use crate::server::{HttpServer, bind_loopback, child_dir};
use crate::{LocalCredentials, LocalError};

/// Largest request body drained before answering an injected error.
const DRAIN_CAP: usize = 64 * 1024 * 1024;

/// Time open S3 connections get to finish their requests on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// An S3-compatible store on `127.0.0.1`, authenticated with one key pair (made fresh
/// by its owner at each start, see [`LocalCredentials::generate`]).
#[derive(Debug)]
pub struct LocalS3 {
    endpoint: String,
    root: PathBuf,
    server: HttpServer,
}

impl LocalS3 {
    /// Starts serving `root` (created if missing) on 127.0.0.1:0, with the fault
    /// switches of `SLS_LOAD_LOCAL_S3_FAULTS` (see docs/TESTING.md) if set.
    ///
    /// Requests must be SigV4-signed with `creds`; every top-level directory of
    /// `root` is a bucket.
    pub async fn start(root: &Path, creds: &LocalCredentials) -> Result<LocalS3, LocalError> {
        LocalS3::start_with_faults(root, creds, S3Faults::from_env()?).await
    }

    /// [`LocalS3::start`] with explicit fault rules instead of the environment's.
    pub async fn start_with_faults(
        root: &Path,
        creds: &LocalCredentials,
        faults: S3Faults,
    ) -> Result<LocalS3, LocalError> {
        std::fs::create_dir_all(root)
            .map_err(|e| LocalError::io(format!("creating {}", root.display()), e))?;
        let fs = s3s_fs::FileSystem::new(root)
            .map_err(|e| LocalError::Store(format!("opening {} failed: {e:?}", root.display())))?;
        let service = {
            let mut builder = S3ServiceBuilder::new(fs);
            builder.set_auth(SimpleAuth::from_single(
                creds.access_key_id.clone(),
                creds.secret_access_key.clone(),
            ));
            builder.build()
        };
        if !faults.is_empty() {
            warn!(rules = faults.spec(), "local S3: fault switches on");
        }
        let service = with_faults(service, Arc::new(faults));
        let (listener, endpoint) = bind_loopback().await?;
        let server = HttpServer::spawn("local-s3", listener, service, SHUTDOWN_GRACE);
        info!(%endpoint, root = %root.display(), "local S3 started");
        Ok(LocalS3 {
            endpoint,
            root: root.to_path_buf(),
            server,
        })
    }

    /// The endpoint URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The directory the objects are stored under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stops the server, letting in-flight requests finish briefly. Stored
    /// objects stay on disk.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
        info!(endpoint = %self.endpoint, "local S3 stopped");
    }
}

/// The hyper service: `faults` in front of s3s. An injected error is answered
/// (after the body has been drained, so that the client hears it) without the
/// request reaching s3s, signed or not; injected latency delays either answer.
fn with_faults(
    service: S3Service,
    faults: Arc<S3Faults>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<s3s::Body>,
    Error = s3s::HttpError,
    Future = impl Future<Output = Result<Response<s3s::Body>, s3s::HttpError>> + Send + 'static,
> + Clone
+ Send
+ 'static {
    service_fn(move |req: Request<Incoming>| {
        let service = service.clone();
        let faults = Arc::clone(&faults);
        async move {
            if faults.is_empty() {
                return service.call(req.map(s3s::Body::from)).await;
            }
            let key = object_key(req.uri().path());
            let decision = faults.decide(req.method(), key.as_deref());
            if !decision.latency.is_zero() {
                tokio::time::sleep(decision.latency).await;
            }
            match decision.status {
                None => service.call(req.map(s3s::Body::from)).await,
                Some(status) => Ok(injected_error(req, status, key.as_deref()).await),
            }
        }
    })
}

/// The decoded object key of a path-style request (`/bucket/key`), `None` for a
/// bucket or the service.
fn object_key(path: &str) -> Option<String> {
    let (_bucket, key) = path.trim_start_matches('/').split_once('/')?;
    (!key.is_empty()).then(|| percent_decode_str(key).decode_utf8_lossy().into_owned())
}

/// Drains the request body (up to a cap) and answers `status` as S3 would.
async fn injected_error(
    req: Request<Incoming>,
    status: u16,
    key: Option<&str>,
) -> Response<s3s::Body> {
    let method = req.method().clone();
    let mut body = req.into_body();
    let mut drained = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        drained = drained.saturating_add(frame.data_ref().map_or(0, |d| d.len()));
        if drained > DRAIN_CAP {
            break;
        }
    }
    let request_id = format!("{:016X}", rand::random::<u64>());
    let (code, xml) = s3_error_body(status, &request_id);
    warn!(%method, key = key.unwrap_or(""), status, code, "local S3: injected fault");
    let body = if method == http::Method::HEAD {
        s3s::Body::empty()
    } else {
        s3s::Body::from(xml)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amz-request-id", id);
    }
    resp
}

/// Makes sure `bucket` exists in the store rooted at `root` (a bucket is just
/// a directory), so callers need not issue `CreateBucket`.
pub fn ensure_bucket(root: &Path, bucket: &str) -> Result<(), LocalError> {
    let dir = child_dir(root, bucket, "bucket")?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| LocalError::io(format!("creating bucket dir {}", dir.display()), e))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_s3::primitives::ByteStream;

    const TEST_TIMEOUT: Duration = Duration::from_secs(60);

    /// A path-style S3 client for the stand-in at `endpoint` with `creds`.
    pub(crate) fn client(endpoint: &str, creds: &LocalCredentials) -> aws_sdk_s3::Client {
        let http = sls_load_core::sdk::http_client();
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .credentials_provider(Credentials::new(
                creds.access_key_id.clone(),
                creds.secret_access_key.clone(),
                None,
                None,
                "local",
            ))
            .http_client(http)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    fn temp_root(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sls-load-local-s3-{tag}-{}-{:x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn put_list_get_roundtrip_lands_on_disk() {
        let root = temp_root("roundtrip");
        let creds = LocalCredentials::generate();
        ensure_bucket(&root, "results").unwrap();
        let s3 = LocalS3::start(&root, &creds).await.unwrap();
        assert!(s3.endpoint().starts_with("http://127.0.0.1:"));
        let c = client(s3.endpoint(), &creds);

        tokio::time::timeout(TEST_TIMEOUT, async {
            c.put_object()
                .bucket("results")
                .key("run-1/worker-0.json")
                .body(ByteStream::from_static(b"{\"ok\":true}"))
                .send()
                .await
                .unwrap();

            let listed = c
                .list_objects_v2()
                .bucket("results")
                .prefix("run-1/")
                .send()
                .await
                .unwrap();
            let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
            assert_eq!(keys, ["run-1/worker-0.json"]);

            let got = c
                .get_object()
                .bucket("results")
                .key("run-1/worker-0.json")
                .send()
                .await
                .unwrap();
            let body = got.body.collect().await.unwrap().into_bytes();
            assert_eq!(&body[..], b"{\"ok\":true}");
        })
        .await
        .expect("S3 round trip timed out");

        s3.shutdown().await;
        let on_disk = std::fs::read(root.join("results/run-1/worker-0.json")).unwrap();
        assert_eq!(on_disk, b"{\"ok\":true}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test]
    async fn a_job_claim_is_won_once_then_found_taken() {
        // Workers claim their job with a conditional PUT (`If-None-Match: *`); the
        // stand-in must answer the second one 412 and keep the first object.
        let root = temp_root("claim");
        let creds = LocalCredentials::generate();
        ensure_bucket(&root, "results").unwrap();
        let s3 = LocalS3::start(&root, &creds).await.unwrap();
        let c = client(s3.endpoint(), &creds);
        let key = "runs/r/us-east-1/w0000/claim.json";
        tokio::time::timeout(TEST_TIMEOUT, async {
            let claim = |n: u8| {
                c.put_object()
                    .bucket("results")
                    .key(key)
                    .if_none_match("*")
                    .body(ByteStream::from(format!("{{\"n\":{n}}}").into_bytes()))
                    .send()
            };
            claim(1).await.expect("the first claim wins");
            let second = claim(2).await.expect_err("the second claim is taken");
            let status = second.raw_response().map(|r| r.status().as_u16());
            assert_eq!(status, Some(412), "{second:?}");
        })
        .await
        .expect("claims timed out");
        s3.shutdown().await;
        let on_disk =
            std::fs::read(root.join("results/runs/r/us-east-1/w0000/claim.json")).unwrap();
        assert_eq!(on_disk, b"{\"n\":1}", "the first claim stays");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test]
    async fn wrong_secret_is_rejected() {
        let root = temp_root("auth");
        let creds = LocalCredentials::generate();
        ensure_bucket(&root, "results").unwrap();
        let s3 = LocalS3::start(&root, &creds).await.unwrap();
        let bad = LocalCredentials {
            secret_access_key: "wrong".into(),
            ..creds.clone()
        };
        let c = client(s3.endpoint(), &bad);
        let res = tokio::time::timeout(TEST_TIMEOUT, c.list_objects_v2().bucket("results").send())
            .await
            .expect("request timed out");
        assert!(res.is_err(), "a bad signature must be rejected");
        s3.shutdown().await;
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test]
    async fn the_old_published_key_pair_is_refused() {
        let root = temp_root("oldkeys");
        let creds = LocalCredentials::generate();
        ensure_bucket(&root, "results").unwrap();
        let s3 = LocalS3::start(&root, &creds).await.unwrap();
        let old = LocalCredentials {
            access_key_id: "sls-load-local".into(),
            secret_access_key: "sls-load-local-secret".into(),
        };
        let c = client(s3.endpoint(), &old);
        let res = tokio::time::timeout(
            TEST_TIMEOUT,
            c.put_object()
                .bucket("results")
                .key("runs/r/plan.json")
                .body(ByteStream::from_static(b"{}"))
                .send(),
        )
        .await
        .expect("request timed out");
        let err = res.expect_err("the old constant keys must be refused");
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
        s3.shutdown().await;
        assert!(
            !root.join("results/runs/r/plan.json").exists(),
            "nothing stored"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn no_retries(c: &aws_sdk_s3::Client) -> aws_sdk_s3::Client {
        let conf = c
            .config()
            .to_builder()
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    fn status_of<E, R: std::fmt::Debug>(
        res: Result<R, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
    ) -> u16 {
        match res {
            Ok(_) => 200,
            Err(e) => e.raw_response().map_or(0, |r| r.status().as_u16()),
        }
    }

    #[tokio::test]
    async fn a_named_key_gets_503_the_first_k_puts_and_sdk_retries_get_through() {
        let root = temp_root("faults");
        let creds = LocalCredentials::generate();
        ensure_bucket(&root, "results").unwrap();
        let faults =
            S3Faults::parse("op=put,key-suffix=latency-00001.hlog,status=503,first=2").unwrap();
        let s3 = LocalS3::start_with_faults(&root, &creds, faults)
            .await
            .unwrap();
        let retrying = client(s3.endpoint(), &creds);
        let single = no_retries(&retrying);
        let put = |c: &aws_sdk_s3::Client, key: &str| {
            c.put_object()
                .bucket("results")
                .key(key)
                .body(ByteStream::from_static(b"hlog"))
                .send()
        };
        tokio::time::timeout(TEST_TIMEOUT, async {
            let key = "runs/r/us-east-1/w0000/latency-00001.hlog";
            let first = put(&single, key).await;
            let err = first.as_ref().expect_err("first PUT fails");
            assert_eq!(
                aws_sdk_s3::error::ProvideErrorMetadata::code(err),
                Some("SlowDown")
            );
            assert_eq!(status_of(first), 503);
            assert_eq!(status_of(put(&single, key).await), 503);
            assert_eq!(
                status_of(put(&single, key).await),
                200,
                "the third attempt succeeds"
            );
            // Other keys are untouched; the SDK's standard retries (3 attempts) ride
            // out the two 503s of another worker's object within one call.
            assert_eq!(
                status_of(put(&single, "runs/r/us-east-1/w0000/latency-00002.hlog").await),
                200
            );
            let other = "runs/r/us-east-1/w0001/latency-00001.hlog";
            assert_eq!(status_of(put(&retrying, other).await), 200);
            let got = retrying
                .get_object()
                .bucket("results")
                .key(other)
                .send()
                .await;
            assert_eq!(status_of(got), 200);
        })
        .await
        .expect("S3 faults timed out");
        s3.shutdown().await;
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test]
    async fn every_second_get_fails_500_and_latency_delays_answers() {
        let root = temp_root("getfaults");
        let creds = LocalCredentials::generate();
        ensure_bucket(&root, "results").unwrap();
        std::fs::create_dir_all(root.join("results/runs")).unwrap();
        std::fs::write(root.join("results/runs/a.json"), b"{}").unwrap();
        let faults = S3Faults::parse("op=get,status=500,every=2; latency=150ms").unwrap();
        let s3 = LocalS3::start_with_faults(&root, &creds, faults)
            .await
            .unwrap();
        let c = no_retries(&client(s3.endpoint(), &creds));
        tokio::time::timeout(TEST_TIMEOUT, async {
            let get = || c.get_object().bucket("results").key("runs/a.json").send();
            let started = std::time::Instant::now();
            assert_eq!(status_of(get().await), 200);
            assert!(
                started.elapsed() >= Duration::from_millis(150),
                "latency added"
            );
            assert_eq!(status_of(get().await), 500);
            assert_eq!(status_of(get().await), 200);
            assert_eq!(status_of(get().await), 500);
            let listed = c.list_objects_v2().bucket("results").send().await;
            assert_eq!(status_of(listed), 200, "listing is not a GET of an object");
        })
        .await
        .expect("S3 faults timed out");
        s3.shutdown().await;
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn object_keys_are_decoded_from_path_style_urls() {
        assert_eq!(
            object_key("/results/runs/r/a%20b.json").as_deref(),
            Some("runs/r/a b.json")
        );
        assert_eq!(object_key("/results"), None);
        assert_eq!(object_key("/results/"), None);
        assert_eq!(object_key("/"), None);
    }

    #[test]
    fn ensure_bucket_creates_dir_and_rejects_bad_names() {
        let root = temp_root("bucket");
        ensure_bucket(&root, "b1").unwrap();
        ensure_bucket(&root, "b1").unwrap();
        assert!(root.join("b1").is_dir());
        assert!(ensure_bucket(&root, "../evil").is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
