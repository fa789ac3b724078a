//! What one exchange yields, whichever the protocol: [`Exchanged`] or [`Broke`]
//! with its [`ExchangeError`], and the instants the phase timings are cut at.
//! Plain types: `exchange` dispatches to the protocols, `classify` judges the
//! errors (and says which I/O error broke an exchange).

use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Version};

use super::Traffic;
use super::h1;
use super::stage::Stage;

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
