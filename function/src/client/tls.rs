//! TLS for https targets: the rustls client configuration (ring, the compiled-in
//! Mozilla roots plus any extra PEM roots, or no certificate verification at all),
//! the ALPN protocols offered for the chosen [`HttpVersion`], the handshake, and
//! which protocol the server picked.
//!
//! This module owns rustls. It does not open the TCP connection, apply the
//! connect timeout or turn a failed handshake into a [`Failure`](super::Failure)
//! (the connection set-up does).

use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::origin::Origin;
use super::{ClientConfig, ClientError, HttpVersion};

/// What every TLS connection to the target uses.
pub(super) struct Tls {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl Tls {
    /// The TLS set-up for an https `origin`; None for http.
    pub(super) fn for_origin(
        cfg: &ClientConfig,
        origin: &Origin,
    ) -> Result<Option<Self>, ClientError> {
        if !origin.tls {
            return Ok(None);
        }
        let server_name =
            ServerName::try_from(origin.host.clone()).map_err(|e| ClientError::Target {
                url: cfg.target.clone(),
                reason: format!("host is not a valid TLS server name: {e}"),
            })?;
        Ok(Some(Tls {
            connector: tls_connector(cfg)?,
            server_name,
        }))
    }

    /// The TLS handshake over `tcp`.
    pub(super) async fn handshake(&self, tcp: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        self.connector.connect(self.server_name.clone(), tcp).await
    }
}

/// Whether the server picked `h2` via ALPN.
pub(super) fn negotiated_h2(stream: &TlsStream<TcpStream>) -> bool {
    stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice())
}

/// The rustls client configuration: ring, Mozilla roots plus `tls_roots_pem` (or no
/// verification), ALPN for the chosen version, and no session resumption, so every
/// new connection costs the target a full handshake as a new user's would (k6 does
/// the same).
fn tls_connector(cfg: &ClientConfig) -> Result<TlsConnector, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = &cfg.tls_roots_pem {
        add_pem_roots(&mut roots, pem)?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = if cfg.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipVerify(provider)))
            .with_no_client_auth()
    } else {
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = match cfg.http2 {
        HttpVersion::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => vec![b"h2".to_vec()],
    };
    config.resumption = rustls::client::Resumption::disabled();
    Ok(TlsConnector::from(Arc::new(config)))
}

fn add_pem_roots(roots: &mut RootCertStore, pem: &[u8]) -> Result<(), ClientError> {
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| ClientError::RootsPem(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| ClientError::RootsPem(e.to_string()))?;
        added += 1;
    }
    if added == 0 {
        return Err(ClientError::RootsPem(
            "no CERTIFICATE block found".to_owned(),
        ));
    }
    Ok(())
}

/// Accepts any certificate but still checks that the server holds its key.
#[derive(Debug)]
struct SkipVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::Version;

    use super::*;
    use crate::client::test_support::{bounded, client, get, pki, tls_server};
    use crate::job::ErrorClass;

    #[tokio::test]
    async fn auto_negotiates_h2_over_tls_with_a_custom_root() {
        bounded(async {
            let pki = pki();
            let addr = tls_server(&pki, &[b"h2", b"http/1.1"]).await;
            let mut cfg = ClientConfig::new(format!("https://{addr}"));
            cfg.tls_roots_pem = Some(pki.ca_pem.clone());
            let mut conn = client(cfg).await.connection();
            let first = conn.send(get("/version"), true).await.expect("first");
            assert_eq!(first.version, Version::HTTP_2);
            assert_eq!(&first.body[..], b"HTTP/2.0");
            assert!(
                first.timings.tls_handshaking > Duration::ZERO,
                "{:?}",
                first.timings
            );
            let second = conn.send(get("/"), false).await.expect("second");
            assert_eq!(second.timings.connecting, Duration::ZERO);
            assert_eq!(second.timings.tls_handshaking, Duration::ZERO);
        })
        .await;
    }

    #[tokio::test]
    async fn http1_over_tls_when_asked_or_when_the_server_only_speaks_it() {
        bounded(async {
            let pki = pki();
            let both = tls_server(&pki, &[b"h2", b"http/1.1"]).await;
            let only_h1 = tls_server(&pki, &[b"http/1.1"]).await;
            for (addr, version) in [(both, HttpVersion::Http1), (only_h1, HttpVersion::Auto)] {
                let mut cfg = ClientConfig::new(format!("https://{addr}"));
                cfg.http2 = version;
                cfg.tls_roots_pem = Some(pki.ca_pem.clone());
                let mut conn = client(cfg).await.connection();
                let response = conn.send(get("/version"), true).await.expect("response");
                assert_eq!(response.version, Version::HTTP_11);
                let second = conn.send(get("/"), false).await.expect("second");
                assert_eq!(second.timings.tls_handshaking, Duration::ZERO);
            }
        })
        .await;
    }

    #[tokio::test]
    async fn forcing_h2_against_an_http1_only_tls_server_is_a_tls_failure() {
        bounded(async {
            let pki = pki();
            let addr = tls_server(&pki, &[b"http/1.1"]).await;
            let mut cfg = ClientConfig::new(format!("https://{addr}"));
            cfg.http2 = HttpVersion::Http2;
            cfg.tls_roots_pem = Some(pki.ca_pem.clone());
            let failure = client(cfg)
                .await
                .connection()
                .send(get("/"), false)
                .await
                .expect_err("h2 only");
            assert_eq!(failure.class, ErrorClass::Tls, "{failure}");
        })
        .await;
    }

    #[tokio::test]
    async fn an_unknown_ca_is_a_tls_failure() {
        bounded(async {
            let pki = pki();
            let addr = tls_server(&pki, &[b"h2", b"http/1.1"]).await;
            let cfg = ClientConfig::new(format!("https://{addr}"));
            let failure = client(cfg)
                .await
                .connection()
                .send(get("/"), false)
                .await
                .expect_err("untrusted");
            assert_eq!(failure.class, ErrorClass::Tls, "{failure}");
            assert!(failure.timings.connecting > Duration::ZERO);
            assert!(failure.timings.tls_handshaking > Duration::ZERO);
        })
        .await;
    }

    #[tokio::test]
    async fn insecure_skip_verify_accepts_an_unknown_ca() {
        bounded(async {
            let pki = pki();
            let addr = tls_server(&pki, &[b"h2", b"http/1.1"]).await;
            let mut cfg = ClientConfig::new(format!("https://{addr}"));
            cfg.insecure_skip_verify = true;
            let response = client(cfg)
                .await
                .connection()
                .send(get("/"), true)
                .await
                .expect("insecure");
            assert_eq!((response.status, &response.body[..]), (200, &b"hello"[..]));
        })
        .await;
    }
}
