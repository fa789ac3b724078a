//! Starts workers: one asynchronous (`Event`) Lambda invocation per job, through
//! aws-sdk-lambda, with bounded concurrency and retries with exponential backoff
//! and jitter on throttling and server errors.
//!
//! The [`Invoker`] trait is the seam; [`LambdaInvoker`] is the only implementation
//! and is used unchanged against AWS and against the local stand-in. This module
//! does not wait for workers to finish (collect does).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use rand::Rng;
use sls_load_core::job::{Job, Region, WorkerId};
use tokio::task::JoinSet;

/// Attempts per invocation before giving up.
pub const INVOKE_ATTEMPTS: u32 = 6;

/// An invocation that could not be made.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{region}/{worker}: invoke failed after {attempts} attempt(s): {message}")]
pub struct InvokeError {
    /// The worker's region.
    pub region: Region,
    /// The worker.
    pub worker: WorkerId,
    /// Attempts made.
    pub attempts: u32,
    /// The last error.
    pub message: String,
}

/// Whether a failed attempt is worth repeating.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// Throttled or a server-side error: back off and retry.
    Retry(String),
    /// Will not succeed by retrying (bad payload, no such function, no permission).
    Fatal(String),
}

/// Starts one worker.
pub trait Invoker: Send + Sync + Clone + 'static {
    /// Invokes the function in `region` asynchronously with `payload`.
    fn invoke_event(
        &self,
        region: &Region,
        payload: Vec<u8>,
    ) -> impl Future<Output = Result<(), Attempt>> + Send;
}

/// Invokes a Lambda function by name, one SDK client per region.
#[derive(Debug, Clone)]
pub struct LambdaInvoker {
    clients: BTreeMap<Region, aws_sdk_lambda::Client>,
    function: String,
}

impl LambdaInvoker {
    /// An invoker of `function` through the given per-region clients.
    pub fn new(
        clients: BTreeMap<Region, aws_sdk_lambda::Client>,
        function: impl Into<String>,
    ) -> Self {
        Self {
            clients,
            function: function.into(),
        }
    }
}

impl LambdaInvoker {
    /// One line for a Lambda error: what to do, or the `permission` missing.
    fn describe<E>(
        &self,
        e: &aws_sdk_lambda::error::SdkError<E, aws_sdk_lambda::config::http::HttpResponse>,
        region: &Region,
        permission: &str,
    ) -> String
    where
        E: aws_sdk_lambda::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let function = &self.function;
        let permission = if permission == "lambda:InvokeFunction" {
            format!("{permission} on arn:aws:lambda:{region}:*:function:{function}")
        } else {
            format!("{permission} in {region}")
        };
        let missing = format!(
            "function `{function}` is not deployed in {region}: deploy it (see infra/README.md) or name the deployed one with --function"
        );
        crate::aws_error::describe(
            e,
            &crate::aws_error::Needs {
                permission: &permission,
                missing: (&["ResourceNotFoundException"], &missing),
            },
        )
    }
}

impl Invoker for LambdaInvoker {
    async fn invoke_event(&self, region: &Region, payload: Vec<u8>) -> Result<(), Attempt> {
        let client = self
            .clients
            .get(region)
            .ok_or_else(|| Attempt::Fatal(format!("no Lambda client for region {region}")))?;
        let result = client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await;
        match result {
            Ok(out) if out.status_code() == 202 => Ok(()),
            Ok(out) => Err(Attempt::Retry(format!(
                "unexpected status {} for an Event invocation",
                out.status_code()
            ))),
            Err(e) => {
                let message = self.describe(&e, region, "lambda:InvokeFunction");
                let throttled = e.as_service_error().is_some_and(|s| {
                    s.is_too_many_requests_exception()
                        || s.is_service_exception()
                        || s.is_ec2_throttled_exception()
                });
                let server = e
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 429 || r.status().is_server_error());
                let transport = matches!(
                    e,
                    aws_sdk_lambda::error::SdkError::DispatchFailure(_)
                        | aws_sdk_lambda::error::SdkError::TimeoutError(_)
                        | aws_sdk_lambda::error::SdkError::ResponseError(_)
                );
                if throttled || server || transport {
                    Err(Attempt::Retry(message))
                } else {
                    Err(Attempt::Fatal(message))
                }
            }
        }
    }
}

/// A region whose account concurrency cannot hold the plan.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ConcurrencyError {
    /// Not enough concurrency.
    #[error(
        "{region}: the plan needs {needed} concurrent executions but the account allows {available} (unreserved); use fewer --workers or request a Lambda concurrency quota increase"
    )]
    TooLow {
        /// The region.
        region: Region,
        /// Concurrent executions the plan needs.
        needed: usize,
        /// What GetAccountSettings reports as unreserved.
        available: i64,
    },
    /// GetAccountSettings failed.
    #[error("{region}: GetAccountSettings failed: {message}")]
    Settings {
        /// The region.
        region: Region,
        /// The SDK error.
        message: String,
    },
}

impl LambdaInvoker {
    /// Checks with GetAccountSettings that every region has at least `needed[region]`
    /// unreserved concurrent executions.
    pub async fn check_concurrency(
        &self,
        needed: &BTreeMap<Region, usize>,
    ) -> Result<(), ConcurrencyError> {
        for (region, &needed) in needed {
            let available = self.available_concurrency(region).await?;
            if let Some(available) = available
                && (needed as i64) > available
            {
                return Err(ConcurrencyError::TooLow {
                    region: region.clone(),
                    needed,
                    available,
                });
            }
        }
        Ok(())
    }

    /// The unreserved concurrent executions GetAccountSettings reports in `region`
    /// (the account's total when none is reported as unreserved); `None` for a
    /// region without a client or a figure.
    pub async fn available_concurrency(
        &self,
        region: &Region,
    ) -> Result<Option<i64>, ConcurrencyError> {
        let Some(client) = self.clients.get(region) else {
            return Ok(None);
        };
        let settings =
            client
                .get_account_settings()
                .send()
                .await
                .map_err(|e| ConcurrencyError::Settings {
                    region: region.clone(),
                    message: self.describe(&e, region, "lambda:GetAccountSettings"),
                })?;
        let limit = settings.account_limit();
        Ok(limit
            .and_then(|l| l.unreserved_concurrent_executions())
            .or_else(|| limit.map(|l| l.concurrent_executions()))
            .map(i64::from))
    }
}

/// Invokes every job with at most `concurrency` invocations in flight, retrying
/// each up to [`INVOKE_ATTEMPTS`] times; `on_done` is called after each job.
/// Returns the jobs that could not be started.
pub async fn invoke_all<I: Invoker>(
    invoker: &I,
    jobs: &[Job],
    concurrency: usize,
    base_backoff: Duration,
    mut on_done: impl FnMut(),
) -> Vec<InvokeError> {
    let mut failures = Vec::new();
    let mut set = JoinSet::new();
    // Which worker each task invokes, so that even a task that panicked is named.
    let mut workers = std::collections::HashMap::new();
    let mut queue = jobs.iter();
    loop {
        while set.len() < concurrency.max(1) {
            let Some(job) = queue.next() else { break };
            let invoker = invoker.clone();
            let region = job.region.clone();
            let worker = job.worker_id.clone();
            let payload = serde_json::to_vec(job);
            let named = (region.clone(), worker.clone());
            let task = set.spawn(async move {
                let payload = payload.map_err(|e| InvokeError {
                    region: region.clone(),
                    worker: worker.clone(),
                    attempts: 0,
                    message: format!("payload: {e}"),
                })?;
                invoke_with_retries(&invoker, &region, &worker, payload, base_backoff).await
            });
            workers.insert(task.id(), named);
        }
        match set.join_next().await {
            None => break,
            Some(Ok(Ok(()))) => on_done(),
            Some(Ok(Err(e))) => {
                on_done();
                failures.push(e);
            }
            Some(Err(join)) => {
                if let Some((region, worker)) = workers.remove(&join.id()) {
                    failures.push(InvokeError {
                        region,
                        worker,
                        attempts: 0,
                        message: format!("invoke task failed: {join}"),
                    });
                }
            }
        }
    }
    failures
}

async fn invoke_with_retries<I: Invoker>(
    invoker: &I,
    region: &Region,
    worker: &WorkerId,
    payload: Vec<u8>,
    base_backoff: Duration,
) -> Result<(), InvokeError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let message = match invoker.invoke_event(region, payload.clone()).await {
            Ok(()) => return Ok(()),
            Err(Attempt::Fatal(m)) => m,
            Err(Attempt::Retry(m)) if attempt < INVOKE_ATTEMPTS => {
                tracing::debug!(%region, %worker, attempt, error = %m, "retrying invoke");
                tokio::time::sleep(backoff(base_backoff, attempt)).await;
                continue;
            }
            Err(Attempt::Retry(m)) => m,
        };
        return Err(InvokeError {
            region: region.clone(),
            worker: worker.clone(),
            attempts: attempt,
            message,
        });
    }
}

/// Exponential backoff with full jitter: uniform in [0, base · 2^(attempt-1)], capped at 5 s.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let cap = base
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(Duration::from_secs(5));
    let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Throttles the first `throttle` calls, then accepts; rejects region "bad".
    #[derive(Clone)]
    struct Flaky {
        calls: Arc<AtomicU32>,
        throttle: u32,
    }

    impl Invoker for Flaky {
        async fn invoke_event(&self, region: &Region, _payload: Vec<u8>) -> Result<(), Attempt> {
            if region.as_str() == "bad" {
                return Err(Attempt::Fatal("ResourceNotFoundException".into()));
            }
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if n < self.throttle {
                Err(Attempt::Retry("TooManyRequestsException".into()))
            } else {
                Ok(())
            }
        }
    }

    fn job(region: &str, n: usize) -> Job {
        let mut j: Job = serde_json::from_value(serde_json::json!({
            "format": 1, "run_id": "r", "worker_id": "w0000", "region": region,
            "start_at": "2026-01-01T00:00:00Z", "duration": "1s", "target": "http://127.0.0.1:1",
            "scenarios": [], "results": {"bucket": "b", "region": "us-east-1"},
            "flush_every": "10s", "request_timeout": "1s"
        }))
        .unwrap();
        j.worker_id = WorkerId::numbered(n);
        j
    }

    #[tokio::test]
    async fn throttled_invocations_are_retried_until_they_succeed() {
        let flaky = Flaky {
            calls: Arc::new(AtomicU32::new(0)),
            throttle: 3,
        };
        let jobs: Vec<Job> = (0..4).map(|n| job("us-east-1", n)).collect();
        let mut done = 0;
        let failures = invoke_all(&flaky, &jobs, 2, Duration::from_millis(1), || done += 1).await;
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(done, 4);
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 7);
    }

    #[tokio::test]
    async fn fatal_errors_are_not_retried_and_name_the_worker() {
        let flaky = Flaky {
            calls: Arc::new(AtomicU32::new(0)),
            throttle: 0,
        };
        let failures =
            invoke_all(&flaky, &[job("bad", 7)], 4, Duration::from_millis(1), || {}).await;
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].attempts, 1);
        assert!(
            failures[0].to_string().starts_with("bad/w0007:"),
            "{}",
            failures[0]
        );
    }

    #[test]
    fn backoff_is_capped() {
        for attempt in 1..40 {
            assert!(backoff(Duration::from_millis(100), attempt) <= Duration::from_secs(5));
        }
    }
}
