//! The local cloud as one thing: [`LocalCloud`] starts one S3 stand-in and one
//! Lambda service per emulated region with a fresh key pair
//! ([`LocalCredentials`]), from a [`LocalCloudConfig`], and stops them again.
//!
//! It is the glue only: the store is [`crate::s3`], the Lambda emulation
//! [`crate::lambda`], the HTTP accept loop both serve with [`crate::server`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use tracing::info;

use crate::credentials::LocalCredentials;
use crate::error::LocalError;
use crate::lambda::{LambdaConfig, LambdaFaults, LocalLambda};
use crate::s3::{LocalS3, ensure_bucket};

/// How long idle processes of a [`LocalCloud`] Lambda stay warm before being reaped.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Configuration of a [`LocalCloud`].
#[derive(Debug, Clone)]
pub struct LocalCloudConfig {
    /// State directory, e.g. `./.sls-load`; objects go to `{dir}/store`, logs to `{dir}/logs`.
    pub dir: PathBuf,
    /// Bucket created (as a directory) in the store before anything runs.
    pub bucket: String,
    /// Emulated regions; one [`LocalLambda`] is started per distinct region.
    pub regions: Vec<String>,
    /// The function binary (`bootstrap`) spawned by every Lambda.
    pub bootstrap: PathBuf,
    /// Function name accepted by the Invoke API.
    pub function_name: String,
    /// Reported to the function as `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
    /// Function timeout, enforced per invocation.
    pub timeout: Duration,
    /// Concurrency cap per region.
    pub max_processes_per_region: usize,
}

/// A running local cloud: one S3 store and one Lambda service per region.
#[derive(Debug)]
pub struct LocalCloud {
    /// The shared object store.
    pub s3: LocalS3,
    /// Lambda services keyed by region name.
    pub lambdas: BTreeMap<String, LocalLambda>,
    /// Credentials accepted by the store and the Lambdas, made fresh at this start
    /// (also given to every function process).
    pub credentials: LocalCredentials,
}

impl LocalCloud {
    /// Starts one LocalS3 over `{dir}/store` (bucket dir ensured) and one LocalLambda per region
    /// (logs in `{dir}/logs/{region}/`), each spawned process getting the credentials as
    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and `AWS_ENDPOINT_URL_S3` = the S3 endpoint.
    /// Both check every request against a key pair generated here; the fault switches
    /// of the environment (docs/TESTING.md) apply.
    ///
    /// If any part fails to start, the parts already started are shut down again.
    pub async fn start(cfg: LocalCloudConfig) -> Result<LocalCloud, LocalError> {
        if cfg.regions.is_empty() {
            return Err(LocalError::Config("at least one region is required".into()));
        }
        let credentials = LocalCredentials::generate();
        let lambda_faults = LambdaFaults::from_env()?;
        let store = cfg.dir.join("store");
        std::fs::create_dir_all(&store)
            .map_err(|e| LocalError::io(format!("creating {}", store.display()), e))?;
        ensure_bucket(&store, &cfg.bucket)?;
        let s3 = LocalS3::start(&store, &credentials).await?;

        let mut lambdas = BTreeMap::new();
        for region in &cfg.regions {
            if lambdas.contains_key(region) {
                continue;
            }
            let lambda_cfg = LambdaConfig {
                region: region.clone(),
                function_name: cfg.function_name.clone(),
                bootstrap: cfg.bootstrap.clone(),
                memory_mb: cfg.memory_mb,
                timeout: cfg.timeout,
                max_processes: cfg.max_processes_per_region,
                idle_timeout: DEFAULT_IDLE_TIMEOUT,
                log_dir: cfg.dir.join("logs").join(region),
                credentials: credentials.clone(),
                faults: lambda_faults.clone(),
                env: vec![
                    (
                        "AWS_ACCESS_KEY_ID".to_owned(),
                        credentials.access_key_id.clone(),
                    ),
                    (
                        "AWS_SECRET_ACCESS_KEY".to_owned(),
                        credentials.secret_access_key.clone(),
                    ),
                    ("AWS_ENDPOINT_URL_S3".to_owned(), s3.endpoint().to_owned()),
                ],
            };
            match LocalLambda::start(lambda_cfg).await {
                Ok(lambda) => {
                    lambdas.insert(region.clone(), lambda);
                }
                Err(err) => {
                    for (_, lambda) in lambdas {
                        lambda.shutdown().await;
                    }
                    s3.shutdown().await;
                    return Err(err);
                }
            }
        }
        info!(
            s3 = s3.endpoint(),
            regions = lambdas.len(),
            "local cloud started"
        );
        Ok(LocalCloud {
            s3,
            lambdas,
            credentials,
        })
    }

    /// The Invoke API endpoint (`http://127.0.0.1:PORT`) emulating `region`, if any.
    pub fn lambda_endpoint(&self, region: &str) -> Option<&str> {
        self.lambdas.get(region).map(LocalLambda::endpoint)
    }

    /// Stops every Lambda (killing and reaping all function processes), then the store.
    pub async fn shutdown(self) {
        for (_, lambda) in self.lambdas {
            lambda.shutdown().await;
        }
        self.s3.shutdown().await;
        info!("local cloud stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::tests::{alive, client_in, invoke, payload_json, write_fake_bootstrap};

    #[tokio::test]
    async fn cloud_wires_store_and_regions_together() {
        let dir = std::env::temp_dir().join(format!(
            "sls-load-local-cloud-{}-{:x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let bootstrap = write_fake_bootstrap(&dir);
        let cfg = LocalCloudConfig {
            dir: dir.join(".sls-load"),
            bucket: "sls-load-results".into(),
            regions: vec!["us-east-1".into(), "eu-west-1".into(), "us-east-1".into()],
            bootstrap,
            function_name: "sls-load-worker".into(),
            memory_mb: 1024,
            timeout: Duration::from_secs(30),
            max_processes_per_region: 2,
        };
        let cloud = LocalCloud::start(cfg).await.unwrap();
        assert_eq!(cloud.lambdas.len(), 2);
        assert!(dir.join(".sls-load/store/sls-load-results").is_dir());
        assert!(cloud.lambda_endpoint("ap-south-1").is_none());

        let mut pids = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), async {
            for region in ["us-east-1", "eu-west-1"] {
                let endpoint = cloud.lambda_endpoint(region).unwrap();
                assert_ne!(endpoint, cloud.s3.endpoint());
                let out = invoke(
                    &client_in(endpoint, &cloud.credentials, region),
                    "sls-load-worker",
                    r#"{"env":true}"#,
                )
                .await;
                let v = payload_json(&out);
                let env = &v["env"];
                assert_eq!(env["AWS_REGION"], region);
                assert_eq!(env["AWS_ENDPOINT_URL_S3"], cloud.s3.endpoint());
                assert_eq!(
                    env["AWS_ACCESS_KEY_ID"],
                    cloud.credentials.access_key_id.as_str()
                );
                assert_eq!(
                    env["AWS_SECRET_ACCESS_KEY"],
                    cloud.credentials.secret_access_key.as_str()
                );
                let stream = env["AWS_LAMBDA_LOG_STREAM_NAME"].as_str().unwrap();
                let log = dir.join(format!(".sls-load/logs/{region}/{stream}.log"));
                assert!(log.is_file(), "{}", log.display());
                pids.push(u32::try_from(v["pid"].as_u64().unwrap()).unwrap());
            }
        })
        .await
        .expect("test timed out");

        cloud.shutdown().await;
        for pid in pids {
            assert!(!alive(pid), "process {pid} survived shutdown");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn two_clouds_started_in_turn_have_different_keys_and_refuse_each_other() {
        let dir = std::env::temp_dir().join(format!(
            "sls-load-local-cloud-keys-{}-{:x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = LocalCloudConfig {
            dir: dir.join(".sls-load"),
            bucket: "sls-load-results".into(),
            regions: vec!["us-east-1".into()],
            bootstrap: write_fake_bootstrap(&dir),
            function_name: "sls-load-worker".into(),
            memory_mb: 1024,
            timeout: Duration::from_secs(30),
            max_processes_per_region: 1,
        };
        let first = LocalCloud::start(cfg.clone()).await.unwrap();
        let first_creds = first.credentials.clone();
        first.shutdown().await;
        let second = LocalCloud::start(cfg).await.unwrap();
        assert_ne!(first_creds.access_key_id, second.credentials.access_key_id);
        assert_ne!(
            first_creds.secret_access_key,
            second.credentials.secret_access_key
        );

        tokio::time::timeout(Duration::from_secs(60), async {
            let endpoint = second.lambda_endpoint("us-east-1").unwrap();
            let res = client_in(endpoint, &first_creds, "us-east-1")
                .invoke()
                .function_name("sls-load-worker")
                .payload(aws_sdk_lambda::primitives::Blob::new(&b"{}"[..]))
                .send()
                .await;
            let err = res.expect_err("the first cloud's keys open nothing in the second");
            assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
            let s3 = crate::s3::tests::client(second.s3.endpoint(), &first_creds);
            let err = s3.list_objects_v2().bucket("sls-load-results").send().await;
            let err = err.expect_err("nor in its S3");
            assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
        })
        .await
        .expect("test timed out");
        assert_eq!(second.lambdas["us-east-1"].stats().processes_spawned, 0);
        second.shutdown().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
