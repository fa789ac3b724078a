//! Setting up one connection: the target's addresses (from the client's
//! [`super::dns::Dns`], the chosen one first), the TCP connect, the TLS handshake
//! with its ALPN outcome, and the HTTP handshake for the chosen protocol, each
//! step under the connect timeout where it can hang, and each failure classed as
//! Dns, Connect, Tls or Protocol with the phases reached so far.
//!
//! This module owns the order of those steps and their failures. It does not
//! configure rustls ([`super::tls`] does), speak HTTP ([`super::h1`],
//! [`super::h2`]) or decide when to reconnect (the connection does).

use std::fmt::Display;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tokio::net::TcpStream;

use super::classify::describe;
use super::exchange::Live;
use super::h1;
use super::h2::H2;
use super::io::Stream;
use super::tls::{Tls, negotiated_h2};
use super::{Failure, HttpVersion, Shared, phase_timings};
use crate::job::ErrorClass;

/// When the phases of a connection ended: (connect started, TCP up, TLS up), and
/// where it went.
#[derive(Clone, Copy)]
pub(super) struct Connected {
    pub(super) started: Instant,
    pub(super) tcp: Instant,
    pub(super) tls: Instant,
    /// The address connected to, and the generation of the DNS answer it came from.
    pub(super) peer: Option<(IpAddr, u64)>,
}

/// A connection step that failed; its timings are added by [`StepFailed::at`].
struct StepFailed {
    class: ErrorClass,
    message: String,
}

impl StepFailed {
    /// The failure of a connection attempt timed from `t0`, with phases ending at
    /// `reached` and the one in progress running until now.
    fn at(self, t0: Instant, reached: [Option<Instant>; 5]) -> Failure {
        Failure {
            class: self.class,
            timings: phase_timings(t0, reached, Instant::now()),
            message: self.message,
            traffic: super::Traffic::default(),
        }
    }
}

impl Shared {
    /// Opens a connection: TCP, TLS if https (choosing the protocol by ALPN), and
    /// the HTTP handshake.
    pub(super) async fn connect(&self, t0: Instant) -> Result<(Live, Connected), Failure> {
        let pick = self.resolved(t0).await.map_err(|f| f.at(t0, [None; 5]))?;
        let started = Instant::now();
        let mut reached = [Some(started), None, None, None, None];
        let tcp = self.tcp(&pick.addrs).await.map_err(|f| f.at(t0, reached))?;
        let tcp_up = Instant::now();
        reached[1] = Some(tcp_up);
        let peer = tcp.peer_addr().ok().map(|a| (a.ip(), pick.generation));
        let (stream, h2, tls_up) = match &self.tls {
            None => (
                Stream::Plain(tcp),
                self.version == HttpVersion::Http2,
                tcp_up,
            ),
            Some(tls) => {
                let (stream, h2) = self.tls(tls, tcp).await.map_err(|f| f.at(t0, reached))?;
                (stream, h2, Instant::now())
            }
        };
        reached[2] = Some(tls_up);
        let live = open_http(stream, h2, tls_up)
            .await
            .map_err(|f| f.at(t0, reached))?;
        Ok((
            live,
            Connected {
                started,
                tcp: tcp_up,
                tls: tls_up,
                peer,
            },
        ))
    }

    /// The target's addresses, or a Dns failure if its name did not resolve.
    async fn resolved(&self, t0: Instant) -> Result<super::dns::Pick, StepFailed> {
        self.dns.addresses(t0).await.map_err(|reason| StepFailed {
            class: ErrorClass::Dns,
            message: format!("resolving {}: {reason}", self.origin.host),
        })
    }

    /// The TCP connect, with `TCP_NODELAY`.
    async fn tcp(&self, addrs: &[SocketAddr]) -> Result<TcpStream, StepFailed> {
        let connecting = TcpStream::connect(addrs);
        let tcp = self
            .within(connecting, ErrorClass::Connect, "connecting to")
            .await?;
        // Only a latency optimisation; a socket that refuses it still works.
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }

    /// The TLS handshake, and whether it chose HTTP/2; a server that does not pick
    /// `h2` when only HTTP/2 is wanted is a TLS failure.
    async fn tls(&self, tls: &Tls, tcp: TcpStream) -> Result<(Stream, bool), StepFailed> {
        let stream = self
            .within(tls.handshake(tcp), ErrorClass::Tls, "TLS handshake with")
            .await?;
        let h2 = negotiated_h2(&stream);
        if self.version == HttpVersion::Http2 && !h2 {
            return Err(StepFailed {
                class: ErrorClass::Tls,
                message: format!("{} did not negotiate h2 via ALPN", self.origin.authority),
            });
        }
        Ok((Stream::Tls(Box::new(stream)), h2))
    }

    /// `step` under the connect timeout; a failure is a `class` failure described
    /// as `"{what} {authority}: {error}"` (or `timed out after …`).
    async fn within<T, E: Display>(
        &self,
        step: impl Future<Output = Result<T, E>>,
        class: ErrorClass,
        what: &str,
    ) -> Result<T, StepFailed> {
        let authority = &self.origin.authority;
        let message = match tokio::time::timeout(self.connect_timeout, step).await {
            Ok(Ok(done)) => return Ok(done),
            Ok(Err(e)) => format!("{what} {authority}: {e}"),
            Err(_) => format!(
                "{what} {authority}: timed out after {:?}",
                self.connect_timeout
            ),
        };
        Err(StepFailed { class, message })
    }
}

/// The HTTP side of a new connection on `stream`, usable since `up`: HTTP/2's
/// handshake, or HTTP/1.1 (which has none).
async fn open_http(stream: Stream, h2: bool, up: Instant) -> Result<Live, StepFailed> {
    if !h2 {
        return Ok(Live::H1(Box::new(h1::H1::new(stream))));
    }
    H2::handshake(stream, up)
        .await
        .map(Live::H2)
        .map_err(|e| StepFailed {
            class: ErrorClass::Protocol,
            message: describe(&e),
        })
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;
    use crate::client::origin::Origin;
    use crate::client::test_support::{bounded, client, get};
    use crate::client::{Client, ClientConfig};

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_failure() {
        bounded(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            drop(listener);
            let cfg = ClientConfig::new(format!("http://{addr}"));
            let failure = client(cfg)
                .await
                .connection()
                .send(get("/"), false)
                .await
                .expect_err("refused");
            assert_eq!(failure.class, ErrorClass::Connect, "{failure}");
        })
        .await;
    }

    #[tokio::test]
    async fn an_unresolved_host_fails_each_request_as_dns() {
        bounded(async {
            let cfg = ClientConfig::new("http://nowhere.invalid");
            let origin = Origin::parse(&cfg.target).expect("origin");
            let dns = super::super::dns::Dns::unresolvable("nowhere.invalid", 80).await;
            let client = Client::with_dns(cfg, origin, dns).expect("client");
            let mut conn = client.connection();
            for _ in 0..2 {
                let failure = conn.send(get("/"), false).await.expect_err("dns");
                assert_eq!(failure.class, ErrorClass::Dns, "{failure}");
            }
        })
        .await;
    }
}
