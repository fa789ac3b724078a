//! The load engine's transport: one HTTP connection per virtual user, over plain TCP
//! or TLS (rustls with the ring provider and the compiled-in Mozilla roots),
//! speaking HTTP/1.1 or HTTP/2, with k6's per-phase timings and error classes.
//!
//! [`Client`] holds what every VU of a job shares: the target's origin, its
//! addresses (resolved once, in [`Client::new`]) and the TLS configuration.
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
//! `sending`). `waiting` ends when the response head has been parsed (time to
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
//! any time) and clone the request head per request, as hyper consumes it.

use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{
    CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION, TRANSFER_ENCODING,
};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderValue, Method, Request, Uri, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::job::ErrorClass;

mod h1;

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
}

impl ClientConfig {
    /// The defaults for `target`: [`HttpVersion::Auto`], 10 s connect timeout, the
    /// Mozilla roots only, verification on, keep-alive, up to 10 redirects.
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            http2: HttpVersion::Auto,
            connect_timeout: Duration::from_secs(10),
            tls_roots_pem: None,
            insecure_skip_verify: false,
            new_connection_per_iteration: false,
            redirects: 10,
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

/// A complete response (after any followed redirects).
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The HTTP version the response came over.
    pub version: Version,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body; empty unless `keep_body` was set (it is read either way).
    pub body: Bytes,
    /// Phase timings, added up over followed redirects.
    pub timings: Timings,
    /// How many redirects were followed to get here.
    pub redirects: u32,
    /// When the last byte of the response had been read.
    pub ended: Instant,
}

/// A request that got no complete response.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", class.as_str())]
pub struct Failure {
    /// Connect, Dns, Tls or Protocol (the engine adds Timeout).
    pub class: ErrorClass,
    /// How far the request got, phase by phase.
    pub timings: Timings,
    /// What went wrong, for logs.
    pub message: String,
}

/// What every connection to one target shares. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

struct Shared {
    origin: Origin,
    /// `Host` for HTTP/1.1 requests that carry none.
    host: HeaderValue,
    /// The target's addresses, or why they did not resolve.
    addrs: Result<Vec<SocketAddr>, String>,
    tls: Option<Tls>,
    version: HttpVersion,
    connect_timeout: Duration,
    redirects: u32,
    new_connection_per_iteration: bool,
}

struct Tls {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl Client {
    /// Checks the target, builds the TLS configuration and resolves the target's
    /// host once. A name that does not resolve is not an error here: every send
    /// then fails with [`ErrorClass::Dns`], so the run still reports it.
    pub async fn new(cfg: ClientConfig) -> Result<Self, ClientError> {
        let origin = Origin::parse(&cfg.target)?;
        let addrs = resolve(&origin.host, origin.port).await;
        Self::with_addrs(cfg, origin, addrs)
    }

    fn with_addrs(
        cfg: ClientConfig,
        origin: Origin,
        addrs: Result<Vec<SocketAddr>, String>,
    ) -> Result<Self, ClientError> {
        let tls = if origin.tls {
            let server_name =
                ServerName::try_from(origin.host.clone()).map_err(|e| ClientError::Target {
                    url: cfg.target.clone(),
                    reason: format!("host is not a valid TLS server name: {e}"),
                })?;
            Some(Tls {
                connector: tls_connector(&cfg)?,
                server_name,
            })
        } else {
            None
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
                addrs,
                tls,
                version: cfg.http2,
                connect_timeout: cfg.connect_timeout,
                redirects: cfg.redirects,
                new_connection_per_iteration: cfg.new_connection_per_iteration,
            }),
        })
    }

    /// A new, not yet connected, connection (one per VU).
    pub fn connection(&self) -> Connection {
        Connection {
            shared: self.shared.clone(),
            live: None,
        }
    }

    /// Whether each iteration should start on a new connection.
    pub fn new_connection_per_iteration(&self) -> bool {
        self.shared.new_connection_per_iteration
    }
}

/// One VU's connection to the target; connects lazily on the first send.
pub struct Connection {
    shared: Arc<Shared>,
    /// Taken out for the duration of an exchange: a send future dropped mid-request
    /// drops the connection with it.
    live: Option<Live>,
}

impl Connection {
    /// Sends one request and reads the whole response. The URI is a path and query
    /// or an absolute URL on the target's origin; the body is sent as is. Redirects
    /// are followed as configured. Cancel-safe: dropping the future drops the
    /// connection and the next send opens a new one.
    pub async fn send(
        &mut self,
        req: Request<Bytes>,
        keep_body: bool,
    ) -> Result<Response, Failure> {
        self.send_ref(&req, keep_body).await
    }

    /// [`Connection::send`] for a request the caller keeps (e.g. prepared once per
    /// job): HTTP/1.1 encodes straight from it; HTTP/2 clones its head per attempt.
    pub async fn send_ref(
        &mut self,
        req: &Request<Bytes>,
        keep_body: bool,
    ) -> Result<Response, Failure> {
        self.send_from(req, keep_body, Instant::now()).await
    }

    /// [`Connection::send_ref`] timed from `started`, an instant the caller has
    /// just read (the phases then start there; one clock read fewer per request).
    pub async fn send_from(
        &mut self,
        req: &Request<Bytes>,
        keep_body: bool,
        started: Instant,
    ) -> Result<Response, Failure> {
        let mut t0 = started;
        let mut next: Option<Request<Bytes>> = None;
        let mut timings = Timings::default();
        let mut redirects = 0;
        loop {
            let current = next.as_ref().unwrap_or(req);
            let mut response = match self.round_trip(current, keep_body, t0).await {
                Ok(r) => r,
                Err(mut failure) => {
                    timings.add(&failure.timings);
                    failure.timings = timings;
                    return Err(failure);
                }
            };
            timings.add(&response.timings);
            if redirects < self.shared.redirects
                && let Some(follow) = redirect(&self.shared.origin, current, &response)
            {
                next = Some(follow);
                redirects += 1;
                t0 = response.ended;
                continue;
            }
            response.timings = timings;
            response.redirects = redirects;
            return Ok(response);
        }
    }

    /// Drops the connection (a new user); the next send connects again.
    pub fn reset(&mut self) {
        self.live = None;
    }

    /// One request without redirects, retried once on a fresh connection when a
    /// reused one turns out to be closed.
    async fn round_trip(
        &mut self,
        req: &Request<Bytes>,
        keep_body: bool,
        t0: Instant,
    ) -> Result<Response, Failure> {
        let shared = &*self.shared;
        if req.uri().scheme().is_some() && !shared.origin.contains(req.uri()) {
            return Err(Failure {
                class: ErrorClass::Protocol,
                timings: Timings::default(),
                message: format!("`{}` is not on the target origin", req.uri()),
            });
        }
        loop {
            let (mut live, connected) = match self.live.take() {
                Some(live) => (live, None),
                None => {
                    let (live, connected) = shared.connect(t0).await?;
                    (live, Some(connected))
                }
            };
            let reused = connected.is_none();
            if reused && live.closed_before(req) {
                // Found closed before anything was sent: a new connection.
                continue;
            }
            let ready = connected.map_or(t0, |c| c.tls);
            match live.exchange(req, shared, keep_body, ready).await {
                Ok(done) => {
                    if live.is_open() {
                        self.live = Some(live);
                    }
                    let marks = connection_marks(connected, Some(done.ready));
                    let flushed = done.flushed.or(Some(done.ready));
                    let timings = phase_timings(
                        t0,
                        [marks[0], marks[1], marks[2], flushed, Some(done.head)],
                        done.end,
                    );
                    return Ok(Response {
                        status: done.status.as_u16(),
                        version: done.version,
                        headers: done.headers,
                        body: done.body,
                        timings,
                        redirects: 0,
                        ended: done.end,
                    });
                }
                Err(broke) => {
                    drop(live);
                    if reused
                        && (broke.stage == Stage::NotReady
                            || retryable(&broke.error, broke.wrote, req.method(), req.headers()))
                    {
                        // The server closed the idle connection: a new one, once.
                        continue;
                    }
                    let marks = connection_marks(connected, broke.ready);
                    let timings = phase_timings(
                        t0,
                        [marks[0], marks[1], marks[2], broke.flushed, broke.head],
                        broke.at,
                    );
                    return Err(Failure {
                        class: classify(&broke.error, broke.stage),
                        timings,
                        message: describe(&broke.error),
                    });
                }
            }
        }
    }
}

/// When the phases of a connection ended: (connect started, TCP up, TLS up).
#[derive(Clone, Copy)]
struct Connected {
    started: Instant,
    tcp: Instant,
    tls: Instant,
}

/// The ends of blocked, connecting and TLS for a fresh (`connected`) or reused
/// connection (blocked until `ready`, nothing for connecting and TLS).
fn connection_marks(connected: Option<Connected>, ready: Option<Instant>) -> [Option<Instant>; 3] {
    match connected {
        Some(c) => [Some(c.started), Some(c.tcp), Some(c.tls)],
        None => [ready, ready, ready],
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

impl Shared {
    /// Opens a connection: TCP, TLS if https (choosing the protocol by ALPN), and
    /// the HTTP handshake.
    async fn connect(&self, t0: Instant) -> Result<(Live, Connected), Failure> {
        let addrs = match &self.addrs {
            Ok(addrs) => addrs,
            Err(reason) => {
                return Err(Failure {
                    class: ErrorClass::Dns,
                    timings: phase_timings(t0, [None; 5], Instant::now()),
                    message: format!("resolving {}: {reason}", self.origin.host),
                });
            }
        };
        let started = Instant::now();
        let mut reached = [Some(started), None, None, None, None];
        let fail = |class, message: String, reached: [Option<Instant>; 5]| Failure {
            class,
            timings: phase_timings(t0, reached, Instant::now()),
            message,
        };
        let authority = &self.origin.authority;
        let tcp =
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addrs.as_slice()))
                .await
            {
                Ok(Ok(tcp)) => tcp,
                Ok(Err(e)) => {
                    return Err(fail(
                        ErrorClass::Connect,
                        format!("connecting to {authority}: {e}"),
                        reached,
                    ));
                }
                Err(_) => {
                    return Err(fail(
                        ErrorClass::Connect,
                        format!(
                            "connecting to {authority}: timed out after {:?}",
                            self.connect_timeout
                        ),
                        reached,
                    ));
                }
            };
        // Only a latency optimisation; a socket that refuses it still works.
        let _ = tcp.set_nodelay(true);
        let tcp_up = Instant::now();
        reached[1] = Some(tcp_up);
        let (stream, h2, tls_up) = match &self.tls {
            None => (
                Stream::Plain(tcp),
                self.version == HttpVersion::Http2,
                tcp_up,
            ),
            Some(tls) => {
                let handshake = tls.connector.connect(tls.server_name.clone(), tcp);
                let stream = match tokio::time::timeout(self.connect_timeout, handshake).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        return Err(fail(
                            ErrorClass::Tls,
                            format!("TLS handshake with {authority}: {e}"),
                            reached,
                        ));
                    }
                    Err(_) => {
                        return Err(fail(
                            ErrorClass::Tls,
                            format!(
                                "TLS handshake with {authority}: timed out after {:?}",
                                self.connect_timeout
                            ),
                            reached,
                        ));
                    }
                };
                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                if self.version == HttpVersion::Http2 && !h2 {
                    return Err(fail(
                        ErrorClass::Tls,
                        format!("{authority} did not negotiate h2 via ALPN"),
                        reached,
                    ));
                }
                (Stream::Tls(Box::new(stream)), h2, Instant::now())
            }
        };
        reached[2] = Some(tls_up);
        let live = if h2 {
            let stamps = Arc::new(Stamps::new(tls_up));
            let io = TokioIo::new(Io {
                stream,
                stamps: stamps.clone(),
                unflushed: false,
            });
            let (sender, connection) = http2::Builder::new(TokioExecutor::new())
                .handshake(io)
                .await
                .map_err(|e| fail(ErrorClass::Protocol, describe(&e), reached))?;
            let driver = tokio::spawn(async move {
                // Its errors reach the requests in flight; nothing else wants them.
                let _ = connection.await;
            });
            Live::H2(H2 {
                sender,
                stamps,
                driver: driver.abort_handle(),
            })
        } else {
            Live::H1(Box::new(h1::H1::new(stream)))
        };
        Ok((
            live,
            Connected {
                started,
                tcp: tcp_up,
                tls: tls_up,
            },
        ))
    }
}

/// An open connection.
enum Live {
    /// Boxed: its buffers make it large, and a `Live` moves out of and back into
    /// its [`Connection`] on every request.
    H1(Box<h1::H1>),
    H2(H2),
}

/// An HTTP/2 connection; hyper's connection future runs in its own task.
struct H2 {
    sender: http2::SendRequest<Full<Bytes>>,
    stamps: Arc<Stamps>,
    driver: tokio::task::AbortHandle,
}

impl Drop for H2 {
    fn drop(&mut self) {
        // Dropping the sender lets the task end by itself; a server that stopped
        // reading could keep it alive, so end it here.
        self.driver.abort();
    }
}

impl Live {
    /// Whether the connection may still take requests.
    fn is_open(&self) -> bool {
        match self {
            Live::H1(c) => c.is_open(),
            Live::H2(c) => !c.sender.is_closed(),
        }
    }

    /// Whether this reused connection turns out to be closed before `req` goes
    /// out. Only asked (it costs a read) for HTTP/1.1 requests that could not be
    /// replayed after a failed attempt; the others simply retry.
    fn closed_before(&mut self, req: &Request<Bytes>) -> bool {
        match self {
            Live::H1(c) => !replayable(req.method(), req.headers()) && c.closed_while_idle(),
            Live::H2(_) => false,
        }
    }

    async fn exchange(
        &mut self,
        req: &Request<Bytes>,
        shared: &Shared,
        keep_body: bool,
        ready: Instant,
    ) -> Result<Exchanged, Broke> {
        match self {
            Live::H1(c) => match c.exchange(req, &shared.host, keep_body).await {
                Ok(r) => Ok(Exchanged {
                    ready,
                    flushed: Some(r.flushed),
                    head: r.head,
                    end: r.end,
                    status: r.status,
                    version: r.version,
                    headers: r.headers,
                    body: r.body,
                }),
                Err(b) => Err(Broke {
                    stage: b.stage,
                    error: ExchangeError::H1(b.error),
                    wrote: b.wrote,
                    ready: Some(ready),
                    flushed: b.flushed,
                    head: b.head,
                    at: b.at,
                }),
            },
            Live::H2(c) => {
                c.stamps.arm();
                let result = exchange_h2(&mut c.sender, req, shared, keep_body).await;
                let (wrote, flushed) = (c.stamps.wrote(), c.stamps.flushed_at());
                match result {
                    Ok(mut done) => {
                        done.flushed = flushed;
                        Ok(done)
                    }
                    Err(mut broke) => {
                        broke.wrote = wrote;
                        broke.flushed = flushed;
                        Err(broke)
                    }
                }
            }
        }
    }
}

/// Where an exchange broke.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    /// The connection did not accept a request (it was closed).
    NotReady,
    /// Before the response head arrived.
    Head,
    /// While reading the body.
    Body,
}

/// A completed exchange.
struct Exchanged {
    /// When the connection took the request.
    ready: Instant,
    /// When the request's last bytes were flushed, if that was seen.
    flushed: Option<Instant>,
    head: Instant,
    end: Instant,
    status: http::StatusCode,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
}

/// A failed exchange.
struct Broke {
    stage: Stage,
    error: ExchangeError,
    /// Some request bytes had been written.
    wrote: bool,
    ready: Option<Instant>,
    flushed: Option<Instant>,
    head: Option<Instant>,
    at: Instant,
}

/// What broke an exchange, by protocol.
#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    #[error(transparent)]
    H1(h1::Error),
    #[error(transparent)]
    Hyper(hyper::Error),
}

impl ExchangeError {
    fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            ExchangeError::H1(e) => e.io_kind(),
            ExchangeError::Hyper(e) => io_error_kind(e),
        }
    }
}

/// Waits until the HTTP/2 connection takes a request (a free stream), sends `req`
/// and reads the response. `wrote` and `flushed` are filled in by the caller.
async fn exchange_h2(
    sender: &mut http2::SendRequest<Full<Bytes>>,
    req: &Request<Bytes>,
    shared: &Shared,
    keep_body: bool,
) -> Result<Exchanged, Broke> {
    let broke = |stage, error, ready, head| Broke {
        stage,
        error: ExchangeError::Hyper(error),
        wrote: false,
        ready,
        flushed: None,
        head,
        at: Instant::now(),
    };
    if let Err(e) = sender.ready().await {
        return Err(broke(Stage::NotReady, e, None, None));
    }
    let ready = Instant::now();
    let response = match sender.send_request(outgoing_h2(req, shared)).await {
        Ok(r) => r,
        Err(e) => return Err(broke(Stage::Head, e, Some(ready), None)),
    };
    let head = Instant::now();
    let (parts, body) = response.into_parts();
    let body = match read_body(body, keep_body).await {
        Ok(b) => b,
        Err(e) => return Err(broke(Stage::Body, e, Some(ready), Some(head))),
    };
    Ok(Exchanged {
        ready,
        flushed: None,
        head,
        end: Instant::now(),
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body,
    })
}

/// The request as hyper's HTTP/2 client wants it: absolute URI (which becomes
/// `:scheme` and `:authority`) and no `Host`.
fn outgoing_h2(req: &Request<Bytes>, shared: &Shared) -> Request<Full<Bytes>> {
    let mut out = Request::new(Full::new(req.body().clone()));
    *out.method_mut() = req.method().clone();
    *out.headers_mut() = req.headers().clone();
    let uri = req.uri();
    *out.uri_mut() = if uri.scheme().is_some() {
        uri.clone()
    } else {
        shared.origin.absolute(uri)
    };
    out.headers_mut().remove(HOST);
    *out.version_mut() = Version::HTTP_2;
    out
}

/// `uri`'s path and query as a URI (`/` when it has none).
fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(pq) if !pq.as_str().is_empty() => Uri::from(pq.clone()),
        _ => Uri::from_static("/"),
    }
}

/// Reads the whole body, keeping it only if asked to.
async fn read_body(mut body: Incoming, keep: bool) -> hyper::Result<Bytes> {
    if keep {
        return Ok(body.collect().await?.to_bytes());
    }
    while let Some(frame) = body.frame().await {
        frame?;
    }
    Ok(Bytes::new())
}

/// Whether a request that failed on a reused connection may go again on a new
/// one: the connection was closed (or the stream refused) before any response
/// byte, and either nothing of the request was written, HTTP/2 says the server did
/// not process it, or the request is safe to replay (Go's net/http rule, which k6
/// follows).
fn retryable(error: &ExchangeError, wrote: bool, method: &Method, headers: &HeaderMap) -> bool {
    let closed = match error {
        ExchangeError::H1(e) => matches!(e, h1::Error::Closed),
        ExchangeError::Hyper(e) => {
            let unprocessed = h2_error(e).is_some_and(|e| {
                e.reason() == Some(h2::Reason::REFUSED_STREAM) || (e.is_go_away() && e.is_remote())
            });
            if unprocessed {
                return true;
            }
            e.is_canceled() || e.is_closed() || e.is_incomplete_message()
        }
    } || error.io_kind().is_some_and(|k| {
        matches!(
            k,
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
        )
    });
    closed && (!wrote || replayable(method, headers))
}

/// Requests a client may resend without asking (Go's `isReplayable`).
fn replayable(method: &Method, headers: &HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) || headers.contains_key("idempotency-key")
        || headers.contains_key("x-idempotency-key")
}

/// A reset before the response head is a connect problem; everything else that
/// breaks an exchange (closed, incomplete, malformed, HTTP/2 errors) is protocol.
fn classify(error: &ExchangeError, stage: Stage) -> ErrorClass {
    let reset = error.io_kind().is_some_and(|k| {
        matches!(
            k,
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionRefused
                | io::ErrorKind::BrokenPipe
        )
    });
    if reset && stage != Stage::Body {
        ErrorClass::Connect
    } else {
        ErrorClass::Protocol
    }
}

fn io_error_kind(error: &hyper::Error) -> Option<io::ErrorKind> {
    let mut source = StdError::source(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        source = e.source();
    }
    None
}

fn h2_error(error: &hyper::Error) -> Option<&h2::Error> {
    let mut source = StdError::source(error);
    while let Some(e) = source {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return Some(h2);
        }
        source = e.source();
    }
    None
}

/// The error and its causes on one line.
fn describe(error: &dyn StdError) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

/// The request to send next if `response` is a redirect to follow: 301, 302, 303,
/// 307 or 308 with a `Location` on the same origin. 303 (except for HEAD), and 301
/// and 302 after a POST, become a GET without body.
fn redirect(
    origin: &Origin,
    current: &Request<Bytes>,
    response: &Response,
) -> Option<Request<Bytes>> {
    if !matches!(response.status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.headers.get(LOCATION)?.to_str().ok()?;
    let uri = resolve_location(origin, current.uri(), location)?;
    let method = current.method();
    let to_get = (response.status == 303 && *method != Method::HEAD)
        || (matches!(response.status, 301 | 302) && *method == Method::POST);
    let mut next = Request::new(if to_get {
        Bytes::new()
    } else {
        current.body().clone()
    });
    *next.method_mut() = if to_get { Method::GET } else { method.clone() };
    *next.uri_mut() = uri;
    *next.headers_mut() = current.headers().clone();
    if to_get {
        for name in [
            CONTENT_LENGTH,
            CONTENT_TYPE,
            CONTENT_ENCODING,
            TRANSFER_ENCODING,
        ] {
            next.headers_mut().remove(name);
        }
    }
    Some(next)
}

/// Resolves a `Location` against the request URI `base` (RFC 3986 reference
/// resolution without dot-segment removal), as an origin-form URI, or None if it
/// points to another origin or does not parse.
fn resolve_location(origin: &Origin, base: &Uri, location: &str) -> Option<Uri> {
    let location = location.split('#').next().unwrap_or_default().trim();
    if location.is_empty() {
        return None;
    }
    let absolute = if location.starts_with("//") {
        Some(format!("{}:{location}", origin.scheme.as_str()))
    } else if has_scheme(location) {
        Some(location.to_owned())
    } else {
        None
    };
    if let Some(absolute) = absolute {
        let uri: Uri = absolute.parse().ok()?;
        return origin.contains(&uri).then(|| origin_form(&uri));
    }
    let path = base.path();
    let resolved = if location.starts_with('/') {
        location.to_owned()
    } else if location.starts_with('?') {
        format!("{path}{location}")
    } else {
        let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
        format!("{dir}{location}")
    };
    resolved.parse::<PathAndQuery>().ok().map(Uri::from)
}

/// Whether a URI reference starts with `scheme:` (RFC 3986 section 3.1).
fn has_scheme(reference: &str) -> bool {
    let Some(colon) = reference.find(':') else {
        return false;
    };
    let scheme = &reference[..colon];
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// The target's scheme, host and port.
struct Origin {
    scheme: Scheme,
    authority: Authority,
    /// Without IPv6 brackets, lower case.
    host: String,
    port: u16,
    tls: bool,
}

impl Origin {
    fn parse(url: &str) -> Result<Self, ClientError> {
        let bad = |reason: &str| ClientError::Target {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        let tls = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            _ => return Err(bad("expected an http:// or https:// URL")),
        };
        let authority = uri.authority().ok_or_else(|| bad("missing host"))?.clone();
        if authority.as_str().contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        let host = authority
            .host()
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        Ok(Self {
            scheme: if tls { Scheme::HTTPS } else { Scheme::HTTP },
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            authority,
            host,
            tls,
        })
    }

    /// Whether the absolute `uri` is on this origin.
    fn contains(&self, uri: &Uri) -> bool {
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return false;
        };
        let tls = if *scheme == Scheme::HTTPS {
            true
        } else if *scheme == Scheme::HTTP {
            false
        } else {
            return false;
        };
        tls == self.tls
            && authority
                .host()
                .trim_matches(['[', ']'])
                .eq_ignore_ascii_case(&self.host)
            && authority.port_u16().unwrap_or(if tls { 443 } else { 80 }) == self.port
    }

    /// `uri` (origin-form) made absolute on this origin.
    fn absolute(&self, uri: &Uri) -> Uri {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(
            uri.path_and_query()
                .filter(|pq| !pq.as_str().is_empty())
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
    }
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| e.to_string())?
        .collect();
    if addrs.is_empty() {
        return Err("no addresses".to_owned());
    }
    Ok(addrs)
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

/// What the connection's IO saw of the current request, shared between the IO
/// (inside hyper's connection) and the [`Connection`].
struct Stamps {
    base: Instant,
    /// Some request bytes were written since [`Stamps::arm`].
    wrote: AtomicBool,
    /// Nanoseconds after `base` of the last flush that followed a write; `UNSET` if none.
    flushed: AtomicU64,
}

const UNSET: u64 = u64::MAX;

impl Stamps {
    fn new(base: Instant) -> Self {
        Self {
            base,
            wrote: AtomicBool::new(false),
            flushed: AtomicU64::new(UNSET),
        }
    }

    /// Starts a new request.
    fn arm(&self) {
        self.wrote.store(false, Ordering::Relaxed);
        self.flushed.store(UNSET, Ordering::Relaxed);
    }

    fn wrote(&self) -> bool {
        self.wrote.load(Ordering::Acquire)
    }

    fn flushed_at(&self) -> Option<Instant> {
        match self.flushed.load(Ordering::Acquire) {
            UNSET => None,
            nanos => Some(self.base + Duration::from_nanos(nanos)),
        }
    }

    fn note_write(&self) {
        self.wrote.store(true, Ordering::Release);
    }

    fn note_flush(&self) {
        let nanos = u64::try_from(
            Instant::now()
                .saturating_duration_since(self.base)
                .as_nanos(),
        )
        .unwrap_or(UNSET - 1);
        self.flushed.store(nanos, Ordering::Release);
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// The connection's socket, stamping when written bytes were flushed.
struct Io {
    stream: Stream,
    stamps: Arc<Stamps>,
    /// Bytes were written since the last flush.
    unflushed: bool,
}

impl Io {
    fn wrote(&mut self, result: &Poll<io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = result
            && *n > 0
            && !self.unflushed
        {
            self.unflushed = true;
            self.stamps.note_write();
        }
    }
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        };
        this.wrote(&result);
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        };
        this.wrote(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        };
        if this.unflushed && matches!(result, Poll::Ready(Ok(()))) {
            this.unflushed = false;
            this.stamps.note_flush();
        }
        result
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::AtomicUsize;

    use hyper::service::service_fn;
    use hyper_util::server::conn::auto;
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// Every test body runs under this bound.
    async fn bounded<F: Future>(f: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(20), f)
            .await
            .expect("test did not finish in time")
    }

    fn request(method: Method, path: &str, body: &'static str) -> Request<Bytes> {
        let mut req = Request::new(Bytes::from_static(body.as_bytes()));
        *req.method_mut() = method;
        *req.uri_mut() = path.parse().expect("test path");
        req
    }

    fn get(path: &str) -> Request<Bytes> {
        request(Method::GET, path, "")
    }

    async fn client(cfg: ClientConfig) -> Client {
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
            _ => reply(404, None, "nope"),
        })
    }

    /// Serves [`handler`] over HTTP/1.1 and h2c on a loopback port.
    async fn plain_server() -> SocketAddr {
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
    enum Closing {
        /// Answers one request, then closes the idle connection.
        AfterResponse,
        /// Answers one request, reads the next one and closes without answering.
        OnNextRequest,
        /// Reads one request and closes without answering.
        Immediately,
    }

    /// Reads one request head (and its `content-length` body); false on EOF.
    async fn read_request(tcp: &mut TcpStream) -> bool {
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
    async fn closing_server(closing: Closing) -> (SocketAddr, Arc<AtomicUsize>) {
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

    #[test]
    fn connections_and_their_futures_can_move_between_threads() {
        fn send<T: Send>(_: &T) {}
        fn check(client: &Client, conn: &mut Connection, req: &Request<Bytes>) {
            send(client);
            send(&conn.send_ref(req, false));
        }
        let _ = check;
    }

    #[tokio::test]
    async fn keep_alive_reuses_the_connection() {
        bounded(async {
            let addr = plain_server().await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            let first = conn.send(get("/"), true).await.expect("first");
            let second = conn.send(get("/"), true).await.expect("second");
            assert_eq!((first.status, &first.body[..]), (200, &b"hello"[..]));
            assert_eq!((second.status, &second.body[..]), (200, &b"hello"[..]));
            assert_eq!(first.version, Version::HTTP_11);
            assert!(
                first.timings.connecting > Duration::ZERO,
                "{:?}",
                first.timings
            );
            assert_eq!(
                second.timings.connecting,
                Duration::ZERO,
                "{:?}",
                second.timings
            );
            assert_eq!(second.timings.tls_handshaking, Duration::ZERO);
            let missing = conn
                .send(get("/missing"), false)
                .await
                .expect("404 is a response");
            assert_eq!(missing.status, 404);
            assert!(missing.body.is_empty(), "body dropped unless kept");
        })
        .await;
    }

    #[tokio::test]
    async fn reset_forces_a_new_connection() {
        bounded(async {
            let addr = plain_server().await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            conn.send(get("/"), false).await.expect("first");
            conn.reset();
            let again = conn.send(get("/"), false).await.expect("after reset");
            assert!(
                again.timings.connecting > Duration::ZERO,
                "{:?}",
                again.timings
            );
        })
        .await;
    }

    #[tokio::test]
    async fn timings_never_exceed_the_elapsed_time() {
        bounded(async {
            let pki = pki();
            let plain = plain_server().await;
            let tls = tls_server(&pki, &[b"h2", b"http/1.1"]).await;
            for (url, version) in [
                (format!("http://{plain}"), HttpVersion::Http1),
                (format!("http://{plain}"), HttpVersion::Http2),
                (format!("https://{tls}"), HttpVersion::Auto),
                (format!("https://{tls}"), HttpVersion::Http1),
            ] {
                let mut cfg = ClientConfig::new(url);
                cfg.http2 = version;
                cfg.tls_roots_pem = Some(pki.ca_pem.clone());
                let mut conn = client(cfg).await.connection();
                for path in ["/", "/", "/redirect"] {
                    let started = Instant::now();
                    let response = conn.send(get(path), false).await.expect("response");
                    let elapsed = started.elapsed();
                    let t = response.timings;
                    assert!(t.total() <= elapsed, "{t:?} > {elapsed:?}");
                    assert!(t.waiting > Duration::ZERO, "{version:?} {t:?}");
                }
            }
        })
        .await;
    }

    #[tokio::test]
    async fn http2_without_tls_uses_prior_knowledge() {
        bounded(async {
            let addr = plain_server().await;
            let mut cfg = ClientConfig::new(format!("http://{addr}"));
            cfg.http2 = HttpVersion::Http2;
            let mut conn = client(cfg).await.connection();
            let response = conn.send(get("/version"), true).await.expect("h2c");
            assert_eq!(response.version, Version::HTTP_2);
            assert_eq!(&response.body[..], b"HTTP/2.0");
            let second = conn.send(get("/"), false).await.expect("second");
            assert_eq!(second.timings.connecting, Duration::ZERO);
        })
        .await;
    }

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
            let client =
                Client::with_addrs(cfg, origin, Err("not found".to_owned())).expect("client");
            let mut conn = client.connection();
            for _ in 0..2 {
                let failure = conn.send(get("/"), false).await.expect_err("dns");
                assert_eq!(failure.class, ErrorClass::Dns, "{failure}");
            }
        })
        .await;
    }

    #[tokio::test]
    async fn an_idle_connection_closed_by_the_server_reconnects_transparently() {
        bounded(async {
            let (addr, accepted) = closing_server(Closing::AfterResponse).await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            for _ in 0..3 {
                let response = conn.send(get("/"), true).await.expect("no spurious error");
                assert_eq!(&response.body[..], b"ok");
            }
            assert_eq!(accepted.load(Ordering::SeqCst), 3);
        })
        .await;
    }

    #[tokio::test]
    async fn a_reused_connection_closed_before_the_response_is_retried_once() {
        bounded(async {
            let (addr, accepted) = closing_server(Closing::OnNextRequest).await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            conn.send(get("/"), false).await.expect("first");
            let second = conn.send(get("/"), true).await.expect("retried");
            assert_eq!(&second.body[..], b"ok");
            assert!(
                second.timings.connecting > Duration::ZERO,
                "{:?}",
                second.timings
            );
            assert_eq!(accepted.load(Ordering::SeqCst), 2);
        })
        .await;
    }

    #[tokio::test]
    async fn a_sent_post_is_not_replayed_on_a_new_connection() {
        bounded(async {
            let (addr, accepted) = closing_server(Closing::OnNextRequest).await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            conn.send(get("/"), false).await.expect("first");
            let failure = conn
                .send(request(Method::POST, "/", "data"), false)
                .await
                .expect_err("not replayable");
            assert_eq!(failure.class, ErrorClass::Protocol, "{failure}");
            assert_eq!(accepted.load(Ordering::SeqCst), 1);
        })
        .await;
    }

    #[tokio::test]
    async fn a_post_on_an_idle_connection_the_server_closed_goes_on_a_new_one() {
        bounded(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                // First connection: one response, then closed while idle.
                let Ok((mut tcp, _)) = listener.accept().await else {
                    return;
                };
                read_request(&mut tcp).await;
                let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                let _ = tcp.write_all(ok).await;
                drop(tcp);
                let _ = closed_tx.send(());
                // Second connection: the POST.
                let Ok((mut tcp, _)) = listener.accept().await else {
                    return;
                };
                if read_request(&mut tcp).await {
                    let _ = tcp.write_all(ok).await;
                }
                let _ = read_request(&mut tcp).await;
            });
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            conn.send(get("/"), false).await.expect("first");
            closed_rx.await.expect("server closed the first connection");
            let response = conn
                .send(request(Method::POST, "/", "data"), true)
                .await
                .expect("sent on a new connection, not failed");
            assert_eq!(&response.body[..], b"ok");
        })
        .await;
    }

    #[tokio::test]
    async fn a_fresh_connection_closed_before_the_response_is_a_protocol_failure() {
        bounded(async {
            let (addr, accepted) = closing_server(Closing::Immediately).await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            let failure = conn.send(get("/"), false).await.expect_err("closed");
            assert_eq!(failure.class, ErrorClass::Protocol, "{failure}");
            assert_eq!(accepted.load(Ordering::SeqCst), 1);
        })
        .await;
    }

    #[tokio::test]
    async fn same_origin_redirects_are_followed() {
        bounded(async {
            let addr = plain_server().await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            let response = conn.send(get("/redirect"), true).await.expect("followed");
            assert_eq!((response.status, &response.body[..]), (200, &b"target"[..]));
            assert_eq!(response.redirects, 1);
            let relative = conn
                .send(get("/relative/from"), true)
                .await
                .expect("relative");
            assert_eq!(
                (relative.status, &relative.body[..]),
                (200, &b"relative"[..])
            );
            let absolute = format!("http://{addr}/redirect");
            let response = conn.send(get(&absolute), true).await.expect("absolute URL");
            assert_eq!(&response.body[..], b"target");
        })
        .await;
    }

    #[tokio::test]
    async fn cross_origin_redirects_are_returned_as_is() {
        bounded(async {
            let addr = plain_server().await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            let response = conn.send(get("/cross"), false).await.expect("3xx");
            assert_eq!((response.status, response.redirects), (302, 0));
            assert_eq!(
                response.headers.get(LOCATION).map(|v| v.as_bytes()),
                Some(&b"http://elsewhere.invalid/target"[..])
            );
        })
        .await;
    }

    #[tokio::test]
    async fn redirects_stop_at_the_limit() {
        bounded(async {
            let addr = plain_server().await;
            for limit in [0, 3] {
                let mut cfg = ClientConfig::new(format!("http://{addr}"));
                cfg.redirects = limit;
                let mut conn = client(cfg).await.connection();
                let response = conn.send(get("/loop"), false).await.expect("3xx");
                assert_eq!((response.status, response.redirects), (307, limit));
            }
        })
        .await;
    }

    #[tokio::test]
    async fn see_other_turns_a_post_into_a_get_without_body() {
        bounded(async {
            let addr = plain_server().await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            let echo = conn
                .send(request(Method::POST, "/method", "data"), true)
                .await
                .expect("post");
            assert_eq!(&echo.body[..], b"POST 4");
            let response = conn
                .send(request(Method::POST, "/see-other", "data"), true)
                .await
                .expect("303");
            assert_eq!((response.redirects, &response.body[..]), (1, &b"GET 0"[..]));
        })
        .await;
    }

    #[tokio::test]
    async fn a_cancelled_send_leaves_a_connection_that_reconnects() {
        bounded(async {
            let addr = plain_server().await;
            for version in [HttpVersion::Http1, HttpVersion::Http2] {
                let mut cfg = ClientConfig::new(format!("http://{addr}"));
                cfg.http2 = version;
                let mut conn = client(cfg).await.connection();
                conn.send(get("/"), false).await.expect("first");
                let cancelled = tokio::time::timeout(
                    Duration::from_millis(50),
                    conn.send(get("/pending"), false),
                )
                .await;
                assert!(cancelled.is_err(), "the server never answers /pending");
                let after = conn.send(get("/"), true).await.expect("after cancel");
                assert_eq!(&after.body[..], b"hello");
                assert!(
                    after.timings.connecting > Duration::ZERO,
                    "{:?}",
                    after.timings
                );
            }
        })
        .await;
    }

    #[tokio::test]
    async fn request_urls_off_the_target_origin_are_refused() {
        bounded(async {
            let addr = plain_server().await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            let failure = conn
                .send(get("http://elsewhere.invalid/"), false)
                .await
                .expect_err("cross-origin");
            assert_eq!(failure.class, ErrorClass::Protocol);
        })
        .await;
    }

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
    fn locations_resolve_against_the_request_path() {
        let origin = Origin::parse("https://Example.test").expect("origin");
        let base: Uri = "/a/b/c?q=1".parse().expect("base");
        let resolve = |l: &str| resolve_location(&origin, &base, l).map(|u| u.to_string());
        assert_eq!(resolve("/x?y=2#f").as_deref(), Some("/x?y=2"));
        assert_eq!(resolve("d").as_deref(), Some("/a/b/d"));
        assert_eq!(resolve("?z=3").as_deref(), Some("/a/b/c?z=3"));
        assert_eq!(resolve("https://example.test:443/e").as_deref(), Some("/e"));
        assert_eq!(resolve("//EXAMPLE.test/f").as_deref(), Some("/f"));
        assert_eq!(resolve("http://example.test/g"), None);
        assert_eq!(resolve("https://example.test:8443/h"), None);
        assert_eq!(resolve("https://other.test/i"), None);
        assert_eq!(resolve(""), None);
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
