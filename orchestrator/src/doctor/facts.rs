//! What the doctor reads from AWS, each read one call (or two) and its failure
//! one line: the deployed function's configuration and event invoke config, the
//! worker's answer to a probe invocation, the results bucket's region and
//! lifecycle rules, and AWS's clock (the `Date` header of an STS answer).
//!
//! It reads; [`super::checks`] judges.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use aws_sdk_lambda::error::ProvideErrorMetadata as _;
use sls_load_core::job::Region;
use sls_load_core::probe::{Probe, ProbeReport};

use super::checks::FunctionFacts;

/// `function` in `region`: architecture, memory, timeout and retries.
pub async fn function(
    lambda: &aws_sdk_lambda::Client,
    region: &Region,
    function: &str,
) -> Result<FunctionFacts, String> {
    let config = lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|e| match e.code() {
            Some("ResourceNotFoundException") => format!(
                "function `{function}` is not deployed in {region}: `sls-load deploy --regions {region}` (or name yours with --function)"
            ),
            _ => describe(&e, &format!("lambda:GetFunctionConfiguration on function {function}")),
        })?;
    let retries = match lambda
        .get_function_event_invoke_config()
        .function_name(function)
        .send()
        .await
    {
        Ok(c) => c.maximum_retry_attempts().or(Some(2)),
        Err(e) if e.code() == Some("ResourceNotFoundException") => None,
        Err(e) => {
            return Err(describe(
                &e,
                &format!("lambda:GetFunctionEventInvokeConfig on function {function}"),
            ));
        }
    };
    Ok(FunctionFacts {
        arch: config
            .architectures()
            .first()
            .map_or("x86_64", |a| a.as_str())
            .to_owned(),
        memory_mb: config.memory_size().unwrap_or_default(),
        timeout_s: config.timeout().unwrap_or_default(),
        retries,
    })
}

/// Invokes `function` synchronously with `probe`; the worker's answer.
pub async fn probe(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    probe: &Probe,
) -> Result<ProbeReport, String> {
    let payload = sls_load_core::probe::payload(probe).to_string();
    let out = lambda
        .invoke()
        .function_name(function)
        .invocation_type(aws_sdk_lambda::types::InvocationType::RequestResponse)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload))
        .send()
        .await
        .map_err(|e| describe(&e, &format!("lambda:InvokeFunction on function {function}")))?;
    let body = out
        .payload()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    if let Some(kind) = out.function_error() {
        return Err(format!(
            "the worker failed ({kind}): {}: check that the zip was built for the function's architecture (`make package`, `sls-load deploy`)",
            String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>()
        ));
    }
    serde_json::from_slice(&body).map_err(|e| {
        format!(
            "the worker's answer is no probe report ({e}): it predates the probe; `make package` and `sls-load deploy`"
        )
    })
}

/// The bucket's region (`""` for us-east-1) and its lifecycle rules as
/// `(prefix, enabled, expiration days)`.
pub async fn bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<(String, Vec<(String, bool, Option<i32>)>), String> {
    use aws_sdk_s3::error::ProvideErrorMetadata as _;
    let location = s3
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| match e.code() {
            Some("NoSuchBucket") => format!(
                "bucket `{bucket}` does not exist: `sls-load deploy`, or name yours with --bucket"
            ),
            _ => describe(
                &e,
                &format!("s3:GetBucketLocation on arn:aws:s3:::{bucket}"),
            ),
        })?;
    let region = location
        .location_constraint()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default();
    let rules = match s3
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        // Rules written with the rule-level `Prefix` (as infra/'s template does)
        // come back that way; newer ones carry a `Filter`.
        #[allow(deprecated)]
        Ok(out) => out
            .rules()
            .iter()
            .map(|r| {
                let prefix = r
                    .filter()
                    .and_then(|f| f.prefix())
                    .or(r.prefix())
                    .unwrap_or_default()
                    .to_owned();
                let enabled = r.status().as_str() == "Enabled";
                let days = r.expiration().and_then(|e| e.days());
                (prefix, enabled, days)
            })
            .collect(),
        Err(e) if e.code() == Some("NoSuchLifecycleConfiguration") => Vec::new(),
        Err(e) => {
            return Err(describe(
                &e,
                &format!("s3:GetLifecycleConfiguration on arn:aws:s3:::{bucket}"),
            ));
        }
    };
    Ok((region, rules))
}

/// AWS's clock and this machine's at the same instant: the `Date` header of an
/// STS `GetCallerIdentity` answer (the middle of the second it names) against
/// the middle of the request as this machine timed it, so that a slow answer
/// does not read as skew.
pub async fn aws_clock(conf: &aws_config::SdkConfig) -> Result<(SystemTime, SystemTime), String> {
    let seen = DateHeader::default();
    aws_sdk_sts::Client::new(conf)
        .get_caller_identity()
        .customize()
        .interceptor(seen.clone())
        .send()
        .await
        .map_err(|e| describe(&e, "sts:GetCallerIdentity"))?;
    let Seen { sent, date } = seen
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let date = date.ok_or_else(|| "AWS's answer had no Date header".to_owned())?;
    let (sent, received) = sent.ok_or_else(|| "AWS's answer was never timed".to_owned())?;
    let local = sent + received.duration_since(sent).unwrap_or_default() / 2;
    let parsed = aws_sdk_sts::primitives::DateTime::from_str(
        &date,
        aws_sdk_sts::primitives::DateTimeFormat::HttpDate,
    )
    .map_err(|e| format!("AWS's Date header `{date}`: {e}"))?;
    let second =
        SystemTime::try_from(parsed).map_err(|e| format!("AWS's Date header `{date}`: {e}"))?;
    // The header has whole seconds, truncated: AWS's clock read somewhere in that
    // second, its middle on average.
    Ok((local, second + std::time::Duration::from_millis(500)))
}

/// What [`DateHeader`] saw: when the request left and its answer came back
/// (this machine's clock), and the answer's `Date`.
#[derive(Debug, Clone, Default)]
struct Seen {
    sent: Option<(SystemTime, SystemTime)>,
    date: Option<String>,
}

/// Keeps the `Date` header of the response it sees, and when it was sent and received.
#[derive(Debug, Clone, Default)]
struct DateHeader(Arc<Mutex<Seen>>);

impl aws_sdk_sts::config::Intercept for DateHeader {
    fn name(&self) -> &'static str {
        "sls-load doctor: Date header"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_sdk_sts::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_sts::config::RuntimeComponents,
        _cfg: &mut aws_sdk_sts::config::ConfigBag,
    ) -> Result<(), aws_sdk_sts::error::BoxError> {
        let now = SystemTime::now();
        self.0.lock().unwrap_or_else(PoisonError::into_inner).sent = Some((now, now));
        Ok(())
    }

    fn read_after_transmit(
        &self,
        context: &aws_sdk_sts::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _components: &aws_sdk_sts::config::RuntimeComponents,
        _cfg: &mut aws_sdk_sts::config::ConfigBag,
    ) -> Result<(), aws_sdk_sts::error::BoxError> {
        let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, received)) = seen.sent.as_mut() {
            *received = SystemTime::now();
        }
        if let Some(date) = context.response().headers().get("date") {
            seen.date = Some(date.to_owned());
        }
        Ok(())
    }
}

/// One line for an SDK error of an operation needing `permission`.
fn describe<E>(
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    permission: &str,
) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    crate::aws_error::describe(
        err,
        &crate::aws_error::Needs {
            permission,
            missing: (&[], ""),
        },
    )
}
