//! One exchange (a request and its whole response) on an open connection,
//! whichever the protocol: [`Live`] is the open connection, [`Exchanged`] and
//! [`Broke`] are what an exchange yields, with the instants the phase timings are
//! cut at.
//!
//! This module dispatches to [`super::h1`] and [`super::h2`] and unifies their
//! results. It does not connect, retry, follow redirects or classify failures.

use std::io;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Request, Version};

use super::classify::{io_error_kind, replayable};
use super::h1;
use super::h2::H2;
use super::{Shared, Traffic};

/// An open connection.
pub(super) enum Live {
    /// Boxed: its buffers make it large, and a `Live` moves out of and back into
    /// its [`Connection`](super::Connection) on every request.
    H1(Box<h1::H1>),
    H2(H2),
}

impl Live {
    /// Whether the connection may still take requests.
    pub(super) fn is_open(&self) -> bool {
        match self {
            Live::H1(c) => c.is_open(),
            Live::H2(c) => c.is_open(),
        }
    }

    /// Whether this reused connection turns out to be closed before `req` goes
    /// out. Only asked (it costs a read) for HTTP/1.1 requests that could not be
    /// replayed after a failed attempt; the others simply retry.
    pub(super) fn closed_before(&mut self, req: &Request<Bytes>) -> bool {
        match self {
            Live::H1(c) => !replayable(req.method(), req.headers()) && c.closed_while_idle(),
            Live::H2(_) => false,
        }
    }

    /// Sends `req` and reads its response; `ready` is when the connection took it
    /// (HTTP/1.1 takes it at once).
    pub(super) async fn exchange(
        &mut self,
        req: &Request<Bytes>,
        shared: &Shared,
        keep_body: bool,
        ready: Instant,
    ) -> Result<Exchanged, Broke> {
        match self {
            Live::H1(c) => match c.exchange(req, &shared.host, shared.keep(keep_body)).await {
                Ok(r) => Ok(Exchanged {
                    ready,
                    flushed: Some(r.flushed),
                    head: r.head,
                    end: r.end,
                    status: r.status,
                    version: r.version,
                    headers: r.headers,
                    body: r.body,
                    traffic: r.traffic,
                }),
                Err(b) => Err(Broke {
                    stage: b.stage,
                    error: match b.error {
                        h1::Error::TooLarge(limit) => ExchangeError::BodyTooLarge(limit),
                        e => ExchangeError::H1(e),
                    },
                    wrote: b.wrote,
                    ready: Some(ready),
                    flushed: b.flushed,
                    head: b.head,
                    at: b.at,
                    traffic: b.traffic,
                }),
            },
            Live::H2(c) => c.exchange(req, shared, keep_body).await,
        }
    }
}

/// Where an exchange broke.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Stage {
    /// The connection did not accept a request (it was closed).
    NotReady,
    /// Before the response head arrived.
    Head,
    /// While reading the body.
    Body,
}

/// A completed exchange.
pub(super) struct Exchanged {
    /// When the connection took the request.
    pub(super) ready: Instant,
    /// When the request's last bytes were flushed, if that was seen.
    pub(super) flushed: Option<Instant>,
    pub(super) head: Instant,
    pub(super) end: Instant,
    pub(super) status: http::StatusCode,
    pub(super) version: Version,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
    /// The bytes written and read.
    pub(super) traffic: Traffic,
}

/// A failed exchange.
pub(super) struct Broke {
    pub(super) stage: Stage,
    pub(super) error: ExchangeError,
    /// Some request bytes had been written.
    pub(super) wrote: bool,
    pub(super) ready: Option<Instant>,
    pub(super) flushed: Option<Instant>,
    pub(super) head: Option<Instant>,
    pub(super) at: Instant,
    /// The bytes written and read before it broke.
    pub(super) traffic: Traffic,
}

/// What broke an exchange, by protocol.
#[derive(Debug, thiserror::Error)]
pub(super) enum ExchangeError {
    #[error(transparent)]
    H1(h1::Error),
    #[error(transparent)]
    Hyper(hyper::Error),
    /// A body to keep was longer than the limit (bytes).
    #[error("response body over the {0}-byte limit for captures and checks (http.max_body_buffer)")]
    BodyTooLarge(u64),
}

impl ExchangeError {
    /// The I/O error kind, if the socket failed.
    pub(super) fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            ExchangeError::H1(e) => e.io_kind(),
            ExchangeError::Hyper(e) => io_error_kind(e),
            ExchangeError::BodyTooLarge(_) => None,
        }
    }
}
