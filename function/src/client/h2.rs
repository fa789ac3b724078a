//! HTTP/2 on one connection, through hyper: the handshake ([`H2::handshake`]),
//! whose connection future runs in its own task (it must answer pings and settings
//! at any time), and one exchange ([`H2::exchange`]): wait for a free stream, send
//! the request (its head cloned, as hyper consumes it), read the whole response
//! (a body to keep only up to the client's limit).
//!
//! An [`H2`] is a handle: clones share the connection (its task ends when the
//! last handle is dropped). A connection of one VU ([`H2::handshake`]) times
//! `sending` to the flush the connection's [`Io`] stamps and counts the bytes
//! that moved while its exchange ran. A connection shared by several VUs as
//! concurrent streams ([`H2::share`], see `mux`) cannot tell one stream's flush or
//! bytes from another's: there `sending` is zero (`waiting` starts when the
//! connection took the request), a broken exchange counts as having written its
//! request (so only HTTP/2's "not processed" answers make it retry), and each
//! exchange counts the bytes the connection moved since the previous exchange
//! on it ended (so totals are exact, their split between requests approximate).
//!
//! This module owns the HTTP/2 specifics. It does not connect, negotiate ALPN,
//! retry, follow redirects or classify failures (its siblings do).

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::header::HOST;
use http::{Request, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Body as _;
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::exchange::{Broke, ExchangeError, Exchanged, Stage};
use super::io::{Io, Stamps, Stream};
use super::{Shared, Traffic};

/// A handle to an HTTP/2 connection; hyper's connection future runs in its own
/// task.
#[derive(Clone)]
pub(super) struct H2 {
    sender: http2::SendRequest<Full<Bytes>>,
    conn: Arc<Driven>,
    /// Several VUs send on this connection at once.
    shared: bool,
}

/// What every handle of one connection shares: its IO stamps and its task.
struct Driven {
    stamps: Arc<Stamps>,
    driver: tokio::task::AbortHandle,
}

impl Drop for Driven {
    fn drop(&mut self) {
        // Dropping the last sender lets the task end by itself; a server that
        // stopped reading could keep it alive, so end it here.
        self.driver.abort();
    }
}

impl H2 {
    /// The HTTP/2 handshake on `stream`, which became usable at `up`; spawns the
    /// connection task.
    pub(super) async fn handshake(stream: Stream, up: Instant) -> hyper::Result<Self> {
        let stamps = Arc::new(Stamps::new(up));
        let io = TokioIo::new(Io::new(stream, stamps.clone()));
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .handshake(io)
            .await?;
        let driver = tokio::spawn(async move {
            // Its errors reach the requests in flight; nothing else wants them.
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            conn: Arc::new(Driven {
                stamps,
                driver: driver.abort_handle(),
            }),
            shared: false,
        })
    }

    /// This connection as one several VUs share (see the module documentation).
    pub(super) fn share(mut self) -> Self {
        self.shared = true;
        // The connection preface and settings are nobody's request.
        self.conn.stamps.take_traffic();
        self
    }

    /// Whether the connection may still take requests.
    pub(super) fn is_open(&self) -> bool {
        !self.sender.is_closed()
    }

    /// Whether `other` is a handle to the same connection.
    pub(super) fn same(&self, other: &H2) -> bool {
        Arc::ptr_eq(&self.conn, &other.conn)
    }

    /// One exchange, with `wrote`, `flushed` and the bytes each way as the
    /// connection's IO saw them while it ran.
    pub(super) async fn exchange(
        &mut self,
        req: &Request<Bytes>,
        shared: &Shared,
        keep_body: bool,
    ) -> Result<Exchanged, Broke> {
        let stamps = &self.conn.stamps;
        if !self.shared {
            stamps.arm();
            // Bytes between exchanges (pings, settings) are nobody's request.
            stamps.take_traffic();
        }
        let result = exchange_h2(&mut self.sender, req, shared, keep_body).await;
        let (wrote, flushed) = match self.shared {
            false => (stamps.wrote(), stamps.flushed_at()),
            true => (true, None),
        };
        let traffic = stamps.take_traffic();
        match result {
            Ok(mut done) => {
                done.flushed = flushed;
                done.traffic = traffic;
                Ok(done)
            }
            Err(mut broke) => {
                broke.wrote = wrote;
                broke.flushed = flushed;
                broke.traffic = traffic;
                Err(broke)
            }
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
        traffic: Traffic::default(),
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
    let body = match read_body(body, shared.keep(keep_body)).await {
        Ok(b) => b,
        Err(BodyError::Hyper(e)) => return Err(broke(Stage::Body, e, Some(ready), Some(head))),
        Err(BodyError::TooLarge(limit)) => {
            return Err(Broke {
                stage: Stage::Body,
                error: ExchangeError::BodyTooLarge(limit),
                wrote: false,
                ready: Some(ready),
                flushed: None,
                head: Some(head),
                at: Instant::now(),
                traffic: Traffic::default(),
            });
        }
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
        traffic: Traffic::default(),
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

/// Why a body could not be read.
enum BodyError {
    Hyper(hyper::Error),
    /// It was to be kept and is longer than this many bytes.
    TooLarge(u64),
}

/// Reads the whole body, keeping it only when `keep` gives its limit; a body
/// known to be longer (declared, or read so far) stops the reading there (the
/// stream is reset when the body is dropped; the connection stays up).
async fn read_body(mut body: Incoming, keep: Option<u64>) -> Result<Bytes, BodyError> {
    let limit = keep.unwrap_or(u64::MAX);
    if body.size_hint().lower() > limit {
        return Err(BodyError::TooLarge(limit));
    }
    let mut kept = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Hyper)?;
        if keep.is_some()
            && let Ok(data) = frame.into_data()
        {
            if (kept.len() + data.len()) as u64 > limit {
                return Err(BodyError::TooLarge(limit));
            }
            kept.extend_from_slice(&data);
        }
    }
    Ok(kept.freeze())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::client::test_support::{bounded, client, get, plain_server};
    use crate::client::{ClientConfig, HttpVersion};

    use super::*;

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
            // Frames each way: at least a HEADERS frame out, HEADERS and DATA back.
            let t = response.traffic;
            assert!(t.sent >= 9 && t.received >= 9 + 9 + 8, "{t:?}");
            let second = conn.send(get("/"), false).await.expect("second");
            assert_eq!(second.timings.connecting, Duration::ZERO);
        })
        .await;
    }
}
