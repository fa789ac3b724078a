//! The HTTP client every AWS SDK client of sls-load uses, on both sides: hyper +
//! rustls with ring, so no C crypto library has to be built. Building the SDK
//! clients themselves (credentials, regions, endpoints) is each side's job.

/// hyper + rustls (ring) for aws-sdk-s3 and aws-sdk-lambda.
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
