//! The local S3-compatible object store ([`LocalS3`]).
//!
//! This file owns serving an s3s + s3s-fs backed store on an ephemeral
//! loopback port, with objects kept as plain files under a root directory so
//! they outlive the run, and creating buckets as directories
//! ([`ensure_bucket`]). It does not know which objects sls-load writes or
//! reads, nor anything about Lambda; addressing is path-style only (which is
//! what the AWS SDKs use for an IP-address endpoint).

use std::path::{Path, PathBuf};
use std::time::Duration;

use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tracing::info;

use super::{HttpServer, LocalCredentials, LocalError, bind_loopback, child_dir};

/// Time open S3 connections get to finish their requests on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// An S3-compatible store on `127.0.0.1`, authenticated with one static key pair.
#[derive(Debug)]
pub struct LocalS3 {
    endpoint: String,
    root: PathBuf,
    server: HttpServer,
}

impl LocalS3 {
    /// Starts serving `root` (created if missing) on 127.0.0.1:0.
    ///
    /// Requests must be SigV4-signed with `creds`; every top-level directory of
    /// `root` is a bucket.
    pub async fn start(root: &Path, creds: &LocalCredentials) -> Result<LocalS3, LocalError> {
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

/// Makes sure `bucket` exists in the store rooted at `root` (a bucket is just
/// a directory), so callers need not issue `CreateBucket`.
pub fn ensure_bucket(root: &Path, bucket: &str) -> Result<(), LocalError> {
    let dir = child_dir(root, bucket, "bucket")?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| LocalError::io(format!("creating bucket dir {}", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_s3::primitives::ByteStream;

    const TEST_TIMEOUT: Duration = Duration::from_secs(60);

    fn client(endpoint: &str, creds: &LocalCredentials) -> aws_sdk_s3::Client {
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
        let creds = LocalCredentials::default();
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
        let creds = LocalCredentials::default();
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
        let creds = LocalCredentials::default();
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
