//! `doctor --request-quota`: files the Service Quotas request for Lambda's
//! "Concurrent executions" quota (`L-B99A9384`) in a region whose account
//! concurrency is below what a scenario needs. AWS reviews it; the answer comes by
//! mail and in the Service Quotas console.

/// Lambda's service code in Service Quotas.
pub const SERVICE: &str = "lambda";
/// "Concurrent executions", per region.
pub const CONCURRENCY_QUOTA: &str = "L-B99A9384";

/// Requests a concurrency quota of `desired` through `client` (of the region);
/// the request's id and status, or why it failed, in one line.
pub async fn request(
    client: &aws_sdk_servicequotas::Client,
    desired: usize,
) -> Result<String, String> {
    let out = client
        .request_service_quota_increase()
        .service_code(SERVICE)
        .quota_code(CONCURRENCY_QUOTA)
        .desired_value(desired as f64)
        .send()
        .await
        .map_err(|e| crate::aws_error::code_and_message(&e))?;
    let requested = out.requested_quota();
    Ok(format!(
        "requested a Lambda concurrency quota of {desired} (request {}, {})",
        requested.and_then(|r| r.id()).unwrap_or("?"),
        requested
            .and_then(|r| r.status())
            .map_or("?", |s| s.as_str())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback Service Quotas stand-in answering `body` once; returns its URL
    /// and the request it received.
    async fn canned(body: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = vec![0u8; 65536];
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request);
                if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if rest.len() >= length {
                        break;
                    }
                }
            }
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(reply.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        (url, seen)
    }

    #[tokio::test]
    async fn the_request_asks_for_lambdas_concurrency_quota_and_reports_its_id() {
        let (url, seen) = canned(
            r#"{"RequestedQuota":{"Id":"req-1","Status":"PENDING","QuotaCode":"L-B99A9384","DesiredValue":3000.0}}"#,
        )
        .await;
        let conf = aws_sdk_servicequotas::Config::builder()
            .behavior_version(aws_sdk_servicequotas::config::BehaviorVersion::latest())
            .region(aws_sdk_servicequotas::config::Region::new("eu-west-1"))
            .endpoint_url(url)
            .credentials_provider(aws_sdk_servicequotas::config::Credentials::new(
                "AKIA", "s", None, None, "test",
            ))
            .http_client(sls_load_core::sdk::http_client())
            .build();
        let client = aws_sdk_servicequotas::Client::from_conf(conf);
        let line = request(&client, 3000).await.unwrap();
        assert_eq!(
            line,
            "requested a Lambda concurrency quota of 3000 (request req-1, PENDING)"
        );
        let request = seen.await.unwrap();
        assert!(
            request.contains("x-amz-target: ServiceQuotasV20190624.RequestServiceQuotaIncrease")
                || request
                    .contains("X-Amz-Target: ServiceQuotasV20190624.RequestServiceQuotaIncrease"),
            "{request}"
        );
        let body = request.split_once("\r\n\r\n").unwrap().1;
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["ServiceCode"], "lambda");
        assert_eq!(json["QuotaCode"], "L-B99A9384");
        assert_eq!(json["DesiredValue"], 3000.0);
    }
}
