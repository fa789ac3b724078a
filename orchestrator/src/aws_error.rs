//! Turns an AWS SDK error into one line that says what to do: no credentials →
//! how to configure them; credentials rejected → how to check them; access
//! denied → the permission missing; a missing function or bucket → how to
//! deploy it; an unreachable endpoint → the cause. Never the SDK's debug dump
//! (`DisplayErrorContext` appends one; this module walks the `Display` chain).
//!
//! It only words errors; the callers ([`crate::invoke`], [`crate::store`]) say
//! which permission an operation needs and decide what to retry.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// What an operation needs, for the messages.
#[derive(Debug, Clone)]
pub struct Needs<'a> {
    /// The IAM permission and resource, e.g. `s3:PutObject on arn:aws:s3:::b/runs/*`.
    pub permission: &'a str,
    /// Error codes meaning the resource is missing, and what to do then.
    pub missing: (&'a [&'a str], &'a str),
}

/// How to configure credentials.
pub const CONFIGURE: &str = "configure credentials with `aws configure` (or `aws sso login`), set AWS_PROFILE to a profile that has them, or pass --local";

/// Codes for credentials AWS does not accept.
const REJECTED: &[&str] = &[
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "TokenRefreshRequired",
];

/// One line for `err`.
pub fn describe<E>(err: &SdkError<E, HttpResponse>, needs: &Needs<'_>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let chain = chain(err);
    if credentials_missing(&chain) {
        // The chain lists every provider it tried; that none had any is the news.
        let nothing = chain
            .iter()
            .any(|t| t.contains("in chain") || t.contains("not enabled"));
        return if nothing {
            format!("no AWS credentials found: {CONFIGURE}")
        } else {
            format!("no usable AWS credentials ({}): {CONFIGURE}", last(&chain))
        };
    }
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("");
            let message = e.message().unwrap_or("");
            let status = service.raw().status().as_u16();
            if REJECTED.contains(&code) {
                format!(
                    "AWS rejected the credentials ({code}): check them with `aws sts get-caller-identity`, refresh them, or pass --local"
                )
            } else if code.starts_with("AccessDenied") || (code.is_empty() && status == 403) {
                format!("access denied: the credentials need {}", needs.permission)
            } else if needs.missing.0.contains(&code) {
                needs.missing.1.to_owned()
            } else if code.is_empty() {
                format!("HTTP {status}: {}", last(&chain))
            } else if message.is_empty() {
                code.to_owned()
            } else {
                format!("{code}: {message}")
            }
        }
        SdkError::DispatchFailure(_) => format!(
            "cannot reach AWS ({}): check the network, the region and AWS_ENDPOINT_URL",
            last(&chain)
        ),
        SdkError::TimeoutError(_) => "no answer from AWS in time".to_owned(),
        _ => chain.join(": "),
    }
}

/// An SDK error as AWS worded it, `Code: message`, for operations whose codes
/// are their own explanation (CloudFormation's, Service Quotas'); the error
/// chain on one line when AWS gave no code.
pub fn code_and_message<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => one_line(err),
    }
}

/// `err` and its causes on one line, joined with `: ` (no debug dump).
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    chain(err).join(": ")
}

/// The `Display` texts of `err` and its sources, repeats left out, each on one line.
fn chain(err: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !text.is_empty() && !texts.iter().any(|t| t.contains(&text)) {
            texts.push(text);
        }
        next = e.source();
    }
    texts
}

/// The innermost cause.
fn last(chain: &[String]) -> &str {
    chain.last().map(String::as_str).unwrap_or("unknown error")
}

/// True when the SDK's credential chain found nothing (or a profile it could not use).
fn credentials_missing(chain: &[String]) -> bool {
    chain.iter().any(|t| {
        let t = t.to_lowercase();
        t.contains("no credentials")
            || t.contains("credentials provider")
            || t.contains("provided credentials")
            || t.contains("failed to load credentials")
            || t.contains("identity resolver")
            || t.contains("credentialsnotloaded")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::BehaviorVersion;

    const NEEDS: Needs<'static> = Needs {
        permission: "s3:GetObject on arn:aws:s3:::b/*",
        missing: (&["NoSuchBucket"], "bucket b does not exist"),
    };

    async fn client(creds: bool) -> aws_sdk_s3::Client {
        let mut conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:1")
            .http_client(sls_load_core::sdk::http_client());
        if creds {
            conf = conf.credentials_provider(aws_sdk_s3::config::Credentials::new(
                "AKIA", "s", None, None, "test",
            ));
        } else {
            // The chain as it ends on a machine with nothing configured.
            conf = conf.credentials_provider(
                aws_config::meta::credentials::CredentialsProviderChain::first_try(
                    "Environment",
                    aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
                ),
            );
        }
        aws_sdk_s3::Client::from_conf(conf.build())
    }

    /// The line for a GET of `b/k` at a refused loopback port.
    async fn get_object_error(creds: bool) -> String {
        let err = client(creds)
            .await
            .get_object()
            .bucket("b")
            .key("k")
            .send()
            .await
            .unwrap_err();
        describe(&err, &NEEDS)
    }

    #[tokio::test]
    async fn no_credentials_says_how_to_configure_them() {
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
            return; // this machine has credentials in its environment
        }
        let line = get_object_error(false).await;
        assert!(line.starts_with("no AWS credentials found: "), "{line}");
        assert!(line.contains("aws configure"), "{line}");
        assert!(!line.contains('\n') && !line.contains(" { "), "{line}");
    }

    #[tokio::test]
    async fn a_refused_endpoint_is_one_line_without_a_debug_dump() {
        let line = get_object_error(true).await;
        assert!(line.starts_with("cannot reach AWS"), "{line}");
        assert!(
            !line.contains("DispatchFailure {") && !line.contains("ConnectorError {"),
            "{line}"
        );
    }

    /// A loopback server answering every request with `status`, `headers` and
    /// `body`, as AWS answers a refusal; its base URL.
    async fn canned(status: u16, headers: &'static str, body: &'static str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = vec![0u8; 65536];
                let _ = socket.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 {status} X\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        url
    }

    fn creds() -> sls_load_local::LocalCredentials {
        sls_load_local::LocalCredentials::generate()
    }

    #[tokio::test]
    async fn access_denied_names_the_permission_missing() {
        let url = canned(
            403,
            "content-type: application/xml\r\n",
            "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
        )
        .await;
        let region: sls_load_core::job::Region = "eu-west-1".parse().unwrap();
        let client = crate::cloud::local_s3_client(&url, &region, &creds());
        let store = crate::store::S3Store::new(client, "bucket");
        let key = sls_load_core::job::ObjectKey::new("runs/r/plan.json").unwrap();
        use sls_load_report::store::Store as _;
        let err = store.put(&key, b"{}".to_vec(), "application/json").await;
        assert_eq!(
            err.unwrap_err().to_string(),
            "s3://bucket/runs/r/plan.json: put failed: access denied: the credentials need s3:PutObject on arn:aws:s3:::bucket/runs/*"
        );
    }

    /// What invoking `sls-load-worker` in eu-west-1 at `url` comes to.
    async fn invoke_at(url: String) -> Result<(), crate::invoke::Attempt> {
        use crate::invoke::Invoker as _;
        let region: sls_load_core::job::Region = "eu-west-1".parse().unwrap();
        let conf = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .endpoint_url(url)
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                aws_sdk_s3::config::Credentials::new("AKIA", "s", None, None, "test"),
            ))
            .http_client(sls_load_core::sdk::http_client())
            .build();
        let clients = [(region.clone(), aws_sdk_lambda::Client::new(&conf))].into();
        let invoker = crate::invoke::LambdaInvoker::new(clients, "sls-load-worker");
        invoker.invoke_event(&region, b"{}".to_vec()).await
    }

    #[tokio::test]
    async fn a_missing_function_says_how_to_deploy_it() {
        let url = canned(
            404,
            "content-type: application/json\r\nx-amzn-errortype: ResourceNotFoundException\r\n",
            r#"{"Type":"User","Message":"Function not found"}"#,
        )
        .await;
        assert_eq!(
            invoke_at(url).await,
            Err(crate::invoke::Attempt::Fatal(
                "function `sls-load-worker` is not deployed in eu-west-1: deploy it (see infra/README.md) or name the deployed one with --function".into()
            ))
        );
    }

    #[tokio::test]
    async fn a_denied_invocation_names_the_function_arn() {
        let url = canned(
            403,
            "content-type: application/json\r\nx-amzn-errortype: AccessDeniedException\r\n",
            r#"{"Message":"not authorized"}"#,
        )
        .await;
        assert_eq!(
            invoke_at(url).await,
            Err(crate::invoke::Attempt::Fatal(
                "access denied: the credentials need lambda:InvokeFunction on arn:aws:lambda:eu-west-1:*:function:sls-load-worker".into()
            ))
        );
    }

    #[tokio::test]
    async fn rejected_credentials_say_how_to_check_them() {
        let url = canned(
            403,
            "content-type: application/json\r\nx-amzn-errortype: UnrecognizedClientException\r\n",
            r#"{"message":"The security token included in the request is invalid."}"#,
        )
        .await;
        let Err(crate::invoke::Attempt::Fatal(line)) = invoke_at(url).await else {
            panic!("not fatal");
        };
        assert!(line.starts_with("AWS rejected the credentials (UnrecognizedClientException): check them with `aws sts get-caller-identity`"), "{line}");
    }
}
