//! One exchange (a request and its whole response) on an open connection,
//! whichever the protocol: [`Live`] is the open connection, [`Exchanged`] and
//! [`Broke`] are what an exchange yields, with the instants the phase timings are
//! cut at.
//!
//! This module dispatches to [`super::h1`] and [`super::h2`] and unifies their
//! results (the types they share are in [`super::outcome`] and
//! [`super::stage`], named here too). It does not connect, retry, follow
//! redirects or classify failures.

use std::time::Instant;

use bytes::Bytes;
use http::Request;

use super::Shared;
use super::classify::replayable;
use super::h1;
use super::h2::H2;
pub(super) use super::outcome::{Broke, ExchangeError, Exchanged};
pub(super) use super::stage::Stage;

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
