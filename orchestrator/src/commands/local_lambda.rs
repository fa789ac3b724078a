//! `sls-load local-lambda` (hidden): the local Lambda stand-in
//! ([`sls_load_local::LocalLambda`]) alone, one per region, so that AWS-mode tests
//! on loopback have an Invoke endpoint that runs the real `bootstrap`. It signs
//! nothing itself: it accepts requests signed with this process's
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` and hands its workers those keys
//! and `SLS_LOAD_WORKER_S3_ENDPOINT` as their S3 endpoint. Prints `lambda REGION
//! URL` per region, then serves until SIGTERM or Ctrl-C.

use std::io::Write as _;

use super::Error;
use crate::cloud::CloudError;
use crate::options::aws::LocalLambdaOptions;
use sls_load_local::{LambdaConfig, LambdaFaults, LocalCredentials, LocalLambda};

/// Serves until stopped.
pub async fn serve(opts: LocalLambdaOptions) -> Result<(), Error> {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let credentials = LocalCredentials {
        access_key_id: var("AWS_ACCESS_KEY_ID"),
        secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
    };
    let bootstrap = match opts.bootstrap {
        Some(path) => path,
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("bootstrap")))
            .unwrap_or_else(|| "bootstrap".into()),
    };
    let mut env = vec![
        (
            "AWS_ACCESS_KEY_ID".to_owned(),
            credentials.access_key_id.clone(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".to_owned(),
            credentials.secret_access_key.clone(),
        ),
    ];
    if let Ok(s3) = std::env::var("SLS_LOAD_WORKER_S3_ENDPOINT") {
        env.push(("AWS_ENDPOINT_URL_S3".to_owned(), s3));
    }
    let faults = LambdaFaults::from_env().map_err(CloudError::from)?;
    let mut lambdas = Vec::new();
    for region in &opts.regions {
        let started = LocalLambda::start(LambdaConfig {
            region: region.to_string(),
            function_name: opts.function.clone(),
            bootstrap: bootstrap.clone(),
            memory_mb: opts.memory_mb,
            timeout: crate::cloud::FUNCTION_TIMEOUT,
            max_processes: opts.concurrency,
            idle_timeout: sls_load_local::DEFAULT_IDLE_TIMEOUT,
            log_dir: opts.local_dir.join("logs").join(region.as_str()),
            credentials: credentials.clone(),
            faults: faults.clone(),
            env: env.clone(),
        })
        .await;
        match started {
            Ok(lambda) => {
                println!("lambda {region} {}", lambda.endpoint());
                lambdas.push(lambda);
            }
            Err(e) => {
                for lambda in lambdas {
                    lambda.shutdown().await;
                }
                return Err(CloudError::Local(e).into());
            }
        }
    }
    let _ = std::io::stdout().flush();
    wait_for_stop().await;
    for lambda in lambdas {
        lambda.shutdown().await;
    }
    Ok(())
}

/// Returns at SIGTERM or Ctrl-C.
async fn wait_for_stop() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
