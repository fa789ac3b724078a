//! The load engine's transport: one HTTP connection per virtual user, over plain TCP
//! or TLS (rustls with the ring provider and the compiled-in Mozilla roots),
//! speaking HTTP/1.1 or HTTP/2, with k6's per-phase timings and error classes.
//! Where the connection speaks HTTP/2 and [`ClientConfig::max_streams_per_connection`]
//! is above 1, that many VUs share one connection as concurrent streams (`mux`).
//!
//! [`Client`] holds what every VU of a job shares: the target's origin, its
//! addresses (resolved in [`Client::new`], then again whenever the answer is older
//! than min(record TTL, `dns.ttl`), see `dns`) and the TLS configuration.
//! [`Connection`] is one VU's connection: [`Connection::send`] opens or reuses it,
//! sends one request, reads the whole response, follows same-origin redirects, and
//! retries once, transparently, when a reused keep-alive connection turns out to
//! have been closed by the server (like browsers and k6). This module owns
//! connecting, TLS, protocol choice, redirects, retries and the timing breakdown. It
//! does not pace requests, apply request timeouts (the engine wraps `send` in
//! `tokio::time::timeout`; dropping a `send` future drops its connection, so the
//! next send reconnects), judge statuses or record anything.
//!
//! # Timings
//! [`Timings`] follows k6's `http_req_*` phases and never adds up to more than the
//! time `send` took. `blocked` is the time before connecting (on a fresh
//! connection) or before the connection accepted the request (`ready()` on a reused
//! one; for HTTP/2 that includes waiting for a free stream). `connecting` is the TCP
//! connect and `tls_handshaking` the TLS handshake; both are zero on a reused
//! connection. `sending` ends when the last request bytes were written to the
//! socket (for TLS: flushed through rustls). HTTP/1.1 is this module's own code
//! ([`h1`]), which stamps that directly; for HTTP/2 hyper does not report it, so
//! the connection's IO wrapper stamps each flush that followed a write (a control
//! frame flushed after the request, e.g. a SETTINGS ack on a connection's first
//! request, can move that stamp later, shifting a little time from `waiting` to
//! `sending`; on a connection VUs share, one stream's flush cannot be told from
//! another's, so `sending` is zero there and `waiting` starts when the connection
//! took the request; waiting for another VU to open the shared connection is
//! `blocked`). `waiting` ends when the response head has been parsed (time to
//! first byte, to within header parsing) and `receiving` when the last body byte
//! was read. A retry after a closed keep-alive connection counts the failed attempt
//! as `blocked`; followed redirects add up the timings of every hop.
//!
//! # Performance
//! HTTP/1.1 is spoken by the VU's own task through [`h1`]: the request is encoded
//! into a reused buffer and written with one `write`, the response head is parsed
//! with `httparse` from a reused read buffer (header values share it), and a body
//! that is not kept is skipped without a copy. No task hand-off, no channel, no
//! lock and no clone of the request head per request. A server closing an idle
//! connection is noticed on the next send and handled as a reconnect. HTTP/2
//! connections run hyper's connection task (they must answer pings and settings at
//! any time) and clone the request head per request, as hyper consumes it; shared
//! by many VUs, one connection (one socket, one task, one set of buffers) carries
//! their requests, so a worker holds far more users than it has descriptors.
//!
//! # Layout
//! This file holds the public types ([`Client`], its [`ClientConfig`], [`Timings`],
//! [`Response`], [`Failure`]) and how a request's time is cut into phases.
//! [`Connection`]'s request loop (reuse, retry, redirects) is in `connection`;
//! setting up a connection (DNS, TCP, TLS, HTTP handshake) in `connect`, with
//! the target's resolution in `dns` and rustls in `tls`; one exchange in `exchange`, dispatching to `h1` and `h2`;
//! HTTP/2 connections shared by several VUs in `mux`;
//! the socket and its flush stamps in `io`; retry and error classes in `classify`;
//! redirects in `redirect`; the target's origin in `origin`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Version};

use crate::job::ErrorClass;
use sls_load_core::dns::{DnsOptions, Resolution};

mod classify;
mod connect;
mod connection;
mod dns;
mod exchange;
mod h1;
mod h2;
mod io;
mod mux;
mod origin;
mod outcome;
mod redirect;
mod stage;
#[cfg(test)]
mod test_support;
mod tls;

pub use connection::Connection;

use origin::Origin;
use tls::Tls;

/// Which HTTP version to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// HTTPS: offer `h2` then `http/1.1` via ALPN and use what the server picks.
    /// HTTP: HTTP/1.1.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only: `h2` via ALPN over TLS (a server that does not pick it is a
    /// TLS failure), h2c with prior knowledge over plain TCP.
    Http2,
}

/// How to reach the target, for [`Client::new`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL, `http://` or `https://`. Only its origin (scheme, host, port) is
    /// used; request paths are absolute.
    pub target: String,
    /// Which HTTP version to speak.
    pub http2: HttpVersion,
    /// Limit for the TCP connect, and separately for the TLS handshake.
    pub connect_timeout: Duration,
    /// Extra trusted roots (PEM `CERTIFICATE` blocks), added to the Mozilla roots;
    /// for staging targets with a private CA.
    pub tls_roots_pem: Option<Vec<u8>>,
    /// Accept any server certificate (k6's `insecureSkipTLSVerify`). Handshake
    /// signatures are still checked.
    pub insecure_skip_verify: bool,
    /// Whether each iteration should start on a new connection (k6's
    /// `noConnectionReuse`); the engine reads it and calls [`Connection::reset`].
    pub new_connection_per_iteration: bool,
    /// Redirects to follow at most (k6's `maxRedirects`); 0 returns every 3xx.
    pub redirects: u32,
    /// Most bytes of a body kept for the caller (`keep_body`); a longer one
    /// fails the request as [`ErrorClass::BodyTooLarge`] as soon as it is known
    /// to be longer. Bodies not kept are read and dropped, whatever their length.
    pub max_body_buffer: u64,
    /// `host:port` to dial instead of the target's (a delaying proxy); the
    /// `Host` header and TLS server name stay the target's.
    pub connect_to: Option<String>,
    /// How the target's name is resolved and re-resolved (k6's `dns`).
    pub dns: DnsOptions,
    /// Where the connection speaks HTTP/2, how many connections (VUs) share one
    /// as concurrent streams; 0 or 1: each has its own (see `mux`). Ignored with
    /// [`ClientConfig::new_connection_per_iteration`].
    pub max_streams_per_connection: u32,
}

impl ClientConfig {
    /// The defaults for `target`: [`HttpVersion::Auto`], 10 s connect timeout, the
    /// Mozilla roots only, verification on, keep-alive, up to 10 redirects,
    /// kept bodies up to 1 MiB.
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            http2: HttpVersion::Auto,
            connect_timeout: Duration::from_secs(10),
            tls_roots_pem: None,
            insecure_skip_verify: false,
            new_connection_per_iteration: false,
            redirects: 10,
            max_body_buffer: crate::job::DEFAULT_MAX_BODY_BUFFER,
            connect_to: None,
            dns: DnsOptions::default(),
            max_streams_per_connection: 1,
        }
    }
}

/// Why a [`Client`] could not be built. Per-request failures are [`Failure`]s.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The target URL is not usable.
    #[error("invalid target URL `{url}`: {reason}")]
    Target {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `tls_roots_pem` holds no usable certificate.
    #[error("extra TLS roots: {0}")]
    RootsPem(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// How long each phase of a request took, in k6's `http_req_*` sense (see the
/// module documentation). The phases never add up to more than the request took.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// Before connecting, or waiting for the reused connection to accept the request.
    pub blocked: Duration,
    /// TCP connect; zero on a reused connection.
    pub connecting: Duration,
    /// TLS handshake; zero on a reused connection and for plain HTTP.
    pub tls_handshaking: Duration,
    /// Writing the request until it was flushed to the socket.
    pub sending: Duration,
    /// From the request's last byte to the parsed response head.
    pub waiting: Duration,
    /// Reading the response body.
    pub receiving: Duration,
}

impl Timings {
    /// All phases added up.
    pub fn total(&self) -> Duration {
        self.blocked
            + self.connecting
            + self.tls_handshaking
            + self.sending
            + self.waiting
            + self.receiving
    }

    fn add(&mut self, other: &Timings) {
        self.blocked += other.blocked;
        self.connecting += other.connecting;
        self.tls_handshaking += other.tls_handshaking;
        self.sending += other.sending;
        self.waiting += other.waiting;
        self.receiving += other.receiving;
    }
}

/// Splits `t0..end` into phases ending at `marks` (blocked, connecting, TLS,
/// sending, waiting); the phase whose mark is missing runs until `end` and the rest
/// are zero. Marks out of order are clamped, so the sum never exceeds `end - t0`.
fn phase_timings(t0: Instant, marks: [Option<Instant>; 5], end: Instant) -> Timings {
    let end = end.max(t0);
    let mut phases = [Duration::ZERO; 6];
    let mut cursor = t0;
    for (phase, mark) in phases.iter_mut().zip(marks.into_iter().chain([Some(end)])) {
        let at = mark.unwrap_or(end).max(cursor).min(end);
        *phase = at - cursor;
        cursor = at;
        if mark.is_none() {
            break;
        }
    }
    let [
        blocked,
        connecting,
        tls_handshaking,
        sending,
        waiting,
        receiving,
    ] = phases;
    Timings {
        blocked,
        connecting,
        tls_handshaking,
        sending,
        waiting,
        receiving,
    }
}

/// The HTTP bytes one request put on and took off its connection, k6's
/// `data_sent` / `data_received`, added up over retries and followed redirects.
///
/// HTTP/1.1 counts exactly what the exchange wrote (request line, headers, body)
/// and read (interim and final heads, body, chunk framing and trailers). Over TLS
/// these are the plaintext HTTP bytes, not the TLS records (k6 counts those: its
/// figures are a little higher, by the handshake and record overhead). HTTP/2
/// counts the frames the connection wrote and read while the exchange ran (one
/// VU per connection, so they are its own; control frames such as settings acks
/// and pings in that time included, the connection preface before the first
/// request not), after HPACK compression. On a connection VUs share, each
/// exchange counts the frames the connection moved since the previous exchange
/// on it ended: the totals are exact, their split between requests approximate. Connection setup (TCP, TLS handshake)
/// is never counted. A request that timed out counts nothing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes written.
    pub sent: u64,
    /// Bytes read.
    pub received: u64,
}

impl Traffic {
    fn add(&mut self, other: &Traffic) {
        self.sent = self.sent.saturating_add(other.sent);
        self.received = self.received.saturating_add(other.received);
    }
}

/// A complete response (after any followed redirects).
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The HTTP version the response came over.
    pub version: Version,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body; empty unless `keep_body` was set (it is read either way), and
    /// never longer than [`ClientConfig::max_body_buffer`].
    pub body: Bytes,
    /// Phase timings, added up over followed redirects.
    pub timings: Timings,
    /// How many redirects were followed to get here.
    pub redirects: u32,
    /// When the last byte of the response had been read.
    pub ended: Instant,
    /// The bytes sent and received, over retries and redirects.
    pub traffic: Traffic,
}

/// A request that got no complete response.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", class.as_str())]
pub struct Failure {
    /// Connect, Dns, Tls, Protocol or BodyTooLarge (the engine adds Timeout).
    pub class: ErrorClass,
    /// How far the request got, phase by phase.
    pub timings: Timings,
    /// What went wrong, for logs.
    pub message: String,
    /// The bytes sent and received before it failed.
    pub traffic: Traffic,
}

/// What every connection to one target shares. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

/// What every connection of one [`Client`] shares.
struct Shared {
    origin: Origin,
    /// `Host` for HTTP/1.1 requests that carry none.
    host: HeaderValue,
    /// The target's addresses over time.
    dns: dns::Dns,
    tls: Option<Tls>,
    version: HttpVersion,
    connect_timeout: Duration,
    redirects: u32,
    new_connection_per_iteration: bool,
    max_body_buffer: u64,
    /// The shared HTTP/2 connections, when VUs share them.
    mux: Option<mux::Mux>,
}

impl Shared {
    /// The body limit of an exchange that keeps its body (`None`: not kept).
    fn keep(&self, keep_body: bool) -> Option<u64> {
        keep_body.then_some(self.max_body_buffer)
    }
}

impl Client {
    /// Checks the target, builds the TLS configuration and resolves the target's
    /// host. A name that does not resolve is not an error here: every send then
    /// fails with [`ErrorClass::Dns`] (until a later lookup succeeds), so the run
    /// still reports it.
    pub async fn new(cfg: ClientConfig) -> Result<Self, ClientError> {
        let origin = Origin::parse(&cfg.target)?;
        // The local network profiles dial a delaying proxy instead (connect_to);
        // that address is resolved (and re-resolved) like the target's would be.
        let dns = match &cfg.connect_to {
            Some(to) => {
                let (host, port) = split_host_port(to).ok_or_else(|| ClientError::Target {
                    url: cfg.target.clone(),
                    reason: format!("connect_to `{to}` is not host:port"),
                })?;
                dns::Dns::new(host, port, cfg.dns.clone()).await
            }
            None => dns::Dns::new(&origin.host, origin.port, cfg.dns.clone()).await,
        };
        Self::with_dns(cfg, origin, dns)
    }

    fn with_dns(cfg: ClientConfig, origin: Origin, dns: dns::Dns) -> Result<Self, ClientError> {
        let tls = Tls::for_origin(&cfg, &origin)?;
        // Only HTTP/2 multiplexes: h2c when asked for, or whatever TLS negotiates.
        let may_speak_h2 = match cfg.http2 {
            HttpVersion::Http1 => false,
            HttpVersion::Http2 => true,
            HttpVersion::Auto => tls.is_some(),
        };
        let mux = match may_speak_h2 && !cfg.new_connection_per_iteration {
            true => mux::Mux::new(cfg.max_streams_per_connection),
            false => None,
        };
        let host =
            HeaderValue::from_str(origin.authority.as_str()).map_err(|e| ClientError::Target {
                url: cfg.target.clone(),
                reason: format!("host header: {e}"),
            })?;
        Ok(Self {
            shared: Arc::new(Shared {
                origin,
                host,
                dns,
                tls,
                version: cfg.http2,
                connect_timeout: cfg.connect_timeout,
                redirects: cfg.redirects,
                new_connection_per_iteration: cfg.new_connection_per_iteration,
                max_body_buffer: cfg.max_body_buffer,
                mux,
            }),
        })
    }

    /// A new, not yet connected, connection (one per VU).
    pub fn connection(&self) -> Connection {
        Connection::new(self.shared.clone())
    }

    /// Whether each iteration should start on a new connection.
    pub fn new_connection_per_iteration(&self) -> bool {
        self.shared.new_connection_per_iteration
    }

    /// Every change of the target host's answer so far, the first included (none
    /// for an IP address target).
    pub fn resolutions(&self) -> Vec<Resolution> {
        self.shared.dns.resolutions()
    }
}

/// `host:port` (or `[v6]:port`) split in two.
fn split_host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host, port.parse().ok()?)).filter(|(h, _)| !h.is_empty())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::client::test_support::bounded;
    /// The engine's TLS tests serve through the client tests' TLS server.
    pub(crate) use crate::client::test_support::{pki, tls_server};

    #[tokio::test]
    async fn bad_configuration_is_a_constructor_error() {
        bounded(async {
            for target in [
                "ftp://example.test",
                "/just/a/path",
                "http://user:pw@127.0.0.1",
            ] {
                let err = Client::new(ClientConfig::new(target))
                    .await
                    .err()
                    .expect("refused");
                assert!(matches!(err, ClientError::Target { .. }), "{err}");
            }
            let mut cfg = ClientConfig::new("https://127.0.0.1:1");
            cfg.tls_roots_pem = Some(b"not a certificate".to_vec());
            let err = Client::new(cfg).await.err().expect("refused");
            assert!(matches!(err, ClientError::RootsPem(_)), "{err}");
        })
        .await;
    }

    #[test]
    fn connect_to_is_host_and_port() {
        assert_eq!(split_host_port("127.0.0.1:80"), Some(("127.0.0.1", 80)));
        assert_eq!(split_host_port("[::1]:8080"), Some(("::1", 8080)));
        assert_eq!(split_host_port("example.test"), None);
        assert_eq!(split_host_port(":80"), None);
    }

    #[test]
    fn phases_are_clamped_to_the_elapsed_time() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let t = phase_timings(
            t0,
            [
                Some(ms(1)),
                Some(ms(3)),
                Some(ms(6)),
                Some(ms(10)),
                Some(ms(15)),
            ],
            ms(21),
        );
        assert_eq!(t.total(), Duration::from_millis(21));
        assert_eq!(t.connecting, Duration::from_millis(2));
        assert_eq!(t.receiving, Duration::from_millis(6));
        // A TLS failure: the handshake runs until the failure, nothing after it.
        let t = phase_timings(t0, [Some(ms(1)), Some(ms(3)), None, None, None], ms(8));
        assert_eq!(
            (t.tls_handshaking, t.sending),
            (Duration::from_millis(5), Duration::ZERO)
        );
        // Marks out of order never add time.
        let t = phase_timings(
            t0,
            [
                Some(ms(5)),
                Some(ms(2)),
                Some(ms(9)),
                Some(ms(4)),
                Some(ms(30)),
            ],
            ms(10),
        );
        assert_eq!(t.total(), Duration::from_millis(10));
    }
}
