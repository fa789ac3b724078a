//! The engine's one seam to the network: a [`Target`] (the job's [`Client`]: base
//! URL with its host's DNS answer kept up to date, TLS configuration, protocol options) and a VU's [`Conn`] to
//! it, whose [`Conn::send`] opens or reuses the connection, sends one request and
//! reads the whole response with its k6 phase [`Timings`].
//!
//! This module only adapts [`crate::client`] (which owns connecting, TLS, HTTP/1.1
//! and HTTP/2, redirects and the timing breakdown) to the engine: it maps the job's
//! [`HttpOptions`] onto a [`ClientConfig`] and failures onto an [`ErrorClass`]. It
//! does not time requests as a whole, apply timeouts (the caller wraps `send` in
//! one; dropping the future drops the connection) or judge statuses.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, Uri};

use super::EngineError;
use crate::client::{Client, ClientConfig, Connection, HttpVersion, Timings, Traffic};
use crate::job::{ErrorClass, HttpOptions, HttpVersionChoice};

/// The target every VU of a job talks to.
pub struct Target {
    client: Client,
    authority: String,
}

impl Target {
    /// Checks `url` (an `http://` or `https://` base URL), builds the TLS
    /// configuration from `http` and resolves the host (again whenever the answer
    /// is older than min(record TTL, `dns.ttl`)). A name that does not
    /// resolve is no error here: every send then fails as `dns`.
    pub async fn new(url: &str, http: &HttpOptions) -> Result<Self, EngineError> {
        let bad = |reason: &str| EngineError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(bad("expected an http:// or https:// URL"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| bad("missing host"))?
            .as_str()
            .to_owned();
        let client = Client::new(client_config(url, http)).await?;
        Ok(Self { client, authority })
    }

    /// `host:port` as written in the URL (also the `Host` header).
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Whether each iteration starts on a new connection (a new user).
    pub fn new_connection_per_iteration(&self) -> bool {
        self.client.new_connection_per_iteration()
    }

    /// Every change of the target host's DNS answer so far, the first included.
    pub fn resolutions(&self) -> Vec<sls_load_core::dns::Resolution> {
        self.client.resolutions()
    }
}

/// The client configuration for `url` with the job's protocol options.
fn client_config(url: &str, http: &HttpOptions) -> ClientConfig {
    let mut cfg = ClientConfig::new(url);
    cfg.http2 = match http.version {
        HttpVersionChoice::Auto => HttpVersion::Auto,
        HttpVersionChoice::Http1 => HttpVersion::Http1,
        HttpVersionChoice::Http2 => HttpVersion::Http2,
    };
    cfg.redirects = http.max_redirects;
    cfg.new_connection_per_iteration = http.new_connection_per_iteration;
    cfg.insecure_skip_verify = http.insecure_skip_tls_verify;
    cfg.tls_roots_pem = http.tls_ca_pem.as_ref().map(|p| p.clone().into_bytes());
    cfg.connect_timeout = http.connect_timeout.max(Duration::from_millis(1));
    cfg.max_body_buffer = http.max_body_buffer;
    cfg.connect_to = http.connect_to.clone();
    cfg.dns = http.dns.clone();
    cfg.max_streams_per_connection = http.max_streams_per_connection;
    cfg
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body; empty unless `keep_body` was asked for.
    pub body: Bytes,
    /// How long each phase took, added up over followed redirects.
    pub timings: Timings,
    /// When the last byte of the response had been read.
    pub ended: Instant,
    /// The HTTP bytes sent and received (k6's `data_sent` / `data_received`).
    pub traffic: Traffic,
    /// The protocol version that answered.
    pub version: http::Version,
}

/// One VU's connection; connects lazily on the first send.
pub struct Conn {
    inner: Connection,
    /// The bytes of the last send that completed, with or without a response.
    last: Traffic,
}

impl Conn {
    /// A new, not yet connected, connection to `target`.
    pub fn new(target: &Target) -> Self {
        Self {
            inner: target.client.connection(),
            last: Traffic::default(),
        }
    }

    /// Drops the connection; the next send connects again.
    pub fn reset(&mut self) {
        self.inner.reset();
    }

    /// Sends `req` (path-and-query URI, headers including `Host`) and reads the
    /// whole response, keeping the body when `keep_body`; phases are timed from
    /// `sent`, which the caller has just read.
    pub async fn send(
        &mut self,
        req: &Request<Bytes>,
        keep_body: bool,
        sent: Instant,
    ) -> Result<Reply, ErrorClass> {
        self.last = Traffic::default();
        match self.inner.send_from(req, keep_body, sent).await {
            Ok(r) => {
                self.last = r.traffic;
                Ok(Reply {
                    status: r.status,
                    headers: r.headers,
                    body: r.body,
                    timings: r.timings,
                    ended: r.ended,
                    traffic: r.traffic,
                    version: r.version,
                })
            }
            Err(failure) => {
                self.last = failure.traffic;
                Err(failure.class)
            }
        }
    }

    /// The bytes of the last [`Conn::send`]: its reply's or its failure's;
    /// nothing for a send dropped before it ended (a timeout).
    pub fn last_traffic(&self) -> Traffic {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn malformed_targets_are_refused_with_a_reason() {
        let err = Target::new("ftp://x", &HttpOptions::default())
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("http://"), "{err}");
        let err = Target::new("http://", &HttpOptions::default())
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("http://"), "{err}");
    }

    #[tokio::test]
    async fn https_targets_are_accepted() {
        let target = Target::new("https://127.0.0.1:1", &HttpOptions::default())
            .await
            .expect("https target");
        assert_eq!(target.authority(), "127.0.0.1:1");
    }

    #[tokio::test]
    async fn connect_to_dials_another_address_keeping_the_urls_host() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let proxy = listener.local_addr().expect("addr");
        let head = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut buf = vec![0; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.expect("read");
                got.extend_from_slice(&buf[..n]);
            }
            stream
                .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                .await
                .expect("write");
            String::from_utf8(got).expect("text")
        });
        let http = HttpOptions {
            connect_to: Some(proxy.to_string()),
            ..HttpOptions::default()
        };
        // Nothing listens on the URL's port: only the override can answer.
        let target = Target::new("http://127.0.0.1:1", &http)
            .await
            .expect("target");
        let mut conn = Conn::new(&target);
        let req = Request::builder()
            .uri("/x")
            .header(http::header::HOST, target.authority())
            .body(Bytes::new())
            .expect("request");
        let reply = conn.send(&req, false, Instant::now()).await.expect("reply");
        assert_eq!(reply.status, 204);
        let head = head.await.expect("server").to_ascii_lowercase();
        assert!(head.contains("host: 127.0.0.1:1\r\n"), "{head}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        // Bind then drop a listener: its port refuses connections.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let target = Target::new(&format!("http://127.0.0.1:{port}"), &HttpOptions::default())
            .await
            .expect("target");
        let mut conn = Conn::new(&target);
        let req = Request::new(Bytes::new());
        assert_eq!(
            conn.send(&req, false, Instant::now()).await.err(),
            Some(ErrorClass::Connect)
        );
    }
}
