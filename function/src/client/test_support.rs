//! Test servers and helpers shared by the client's unit tests and the engine's TLS
//! tests: a hyper server over plain TCP (HTTP/1.1 and h2c) or TLS with a test PKI,
//! a hand-written HTTP/1.1 server that closes connections at chosen points, and
//! small request builders.
//!
//! Test-only. It tests nothing itself and is no part of the client.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::LOCATION;
use http::{HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Client, ClientConfig};

/// The length of `/big`'s body.
pub(crate) const BIG: usize = 64 * 1024;

/// Every test body runs under this bound.
pub(crate) async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("test did not finish in time")
}

pub(crate) fn request(method: Method, path: &str, body: &'static str) -> Request<Bytes> {
    let mut req = Request::new(Bytes::from_static(body.as_bytes()));
    *req.method_mut() = method;
    *req.uri_mut() = path.parse().expect("test path");
    req
}

pub(crate) fn get(path: &str) -> Request<Bytes> {
    request(Method::GET, path, "")
}

pub(crate) async fn client(cfg: ClientConfig) -> Client {
    Client::new(cfg).await.expect("client")
}

fn reply(
    status: u16,
    location: Option<&str>,
    body: impl Into<Bytes>,
) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(body.into()));
    *response.status_mut() = http::StatusCode::from_u16(status).expect("status");
    if let Some(location) = location {
        response
            .headers_mut()
            .insert(LOCATION, HeaderValue::from_str(location).expect("location"));
    }
    response
}

async fn handler(req: Request<Incoming>) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let version = req.version();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    Ok(match path.as_str() {
        "/" => reply(200, None, "hello"),
        "/version" => reply(200, None, format!("{version:?}")),
        "/redirect" => reply(302, Some("/target"), ""),
        "/target" => reply(200, None, "target"),
        "/relative/from" => reply(301, Some("to?x=1#frag"), ""),
        "/relative/to" => reply(200, None, "relative"),
        "/cross" => reply(302, Some("http://elsewhere.invalid/target"), ""),
        "/loop" => reply(307, Some("/loop"), ""),
        "/see-other" => reply(303, Some("/method"), ""),
        "/method" => reply(200, None, format!("{method} {}", body.len())),
        "/pending" => std::future::pending().await,
        "/big" => reply(200, None, vec![b'x'; BIG]),
        _ => reply(404, None, "nope"),
    })
}

/// Serves [`handler`] over HTTP/1.1 and h2c on a loopback port.
pub(crate) async fn plain_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), service_fn(handler))
                    .await;
            });
        }
    });
    addr
}

/// A test CA and a certificate for 127.0.0.1 and localhost signed by it.
pub(crate) struct Pki {
    /// The CA certificate, PEM.
    pub(crate) ca_pem: Vec<u8>,
    /// The leaf certificate, DER.
    pub(crate) cert: CertificateDer<'static>,
    /// The leaf's PKCS#8 private key, DER.
    pub(crate) key: Vec<u8>,
}

/// A fresh [`Pki`] (also used by the engine's TLS tests).
pub(crate) fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "sls-load test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca");
    let key = KeyPair::generate().expect("leaf key");
    let params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("leaf params");
    let cert = params.signed_by(&key, &ca).expect("leaf");
    Pki {
        ca_pem: ca.as_ref().pem().into_bytes(),
        cert: cert.der().clone(),
        key: key.serialize_der(),
    }
}

/// Serves [`handler`] over TLS with the given ALPN protocols.
pub(crate) async fn tls_server(pki: &Pki, alpn: &[&[u8]]) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![pki.cert.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key.clone())),
        )
        .expect("server cert");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service_fn(handler))
                    .await;
            });
        }
    });
    addr
}

/// What a hand-written HTTP/1.1 server does with each connection.
#[derive(Clone, Copy)]
pub(crate) enum Closing {
    /// Answers one request, then closes the idle connection.
    AfterResponse,
    /// Answers one request, reads the next one and closes without answering.
    OnNextRequest,
    /// Reads one request and closes without answering.
    Immediately,
}

/// Reads one request head (and its `content-length` body); false on EOF.
pub(crate) async fn read_request(tcp: &mut TcpStream) -> bool {
    let mut data = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + len {
                return true;
            }
        }
        match tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A raw HTTP/1.1 server closing connections as `closing` says; counts accepts.
pub(crate) async fn closing_server(closing: Closing) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if !read_request(&mut tcp).await {
                    return;
                }
                if matches!(closing, Closing::Immediately) {
                    return;
                }
                let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                if tcp.write_all(ok).await.is_err() {
                    return;
                }
                if matches!(closing, Closing::OnNextRequest) {
                    read_request(&mut tcp).await;
                }
            });
        }
    });
    (addr, accepted)
}
