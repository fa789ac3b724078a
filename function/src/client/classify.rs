//! Judging a broken exchange: whether it may be retried on a new connection
//! ([`retryable`], following Go's net/http rule as k6 does), which [`ErrorClass`]
//! it counts as ([`classify`]), and its message for logs ([`describe`]).
//!
//! This module only looks at errors. It does not retry, reconnect or build the
//! [`Failure`](super::Failure) (the connection does), and it does not classify
//! connect-time failures (DNS, TCP, TLS), which the connection set-up names itself.

use std::error::Error as StdError;
use std::io;

use http::{HeaderMap, Method};

use super::exchange::{ExchangeError, Stage};
use super::h1;
use crate::job::ErrorClass;

/// Whether a request that failed on a reused connection may go again on a new
/// one: the connection was closed (or the stream refused) before any response
/// byte, and either nothing of the request was written, HTTP/2 says the server did
/// not process it, or the request is safe to replay (Go's net/http rule, which k6
/// follows).
pub(super) fn retryable(
    error: &ExchangeError,
    wrote: bool,
    method: &Method,
    headers: &HeaderMap,
) -> bool {
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
        ExchangeError::BodyTooLarge(_) => false,
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

/// Whether the connection itself is gone (closed, failed, or told by HTTP/2's
/// GOAWAY to take no new streams), not just one exchange on it.
pub(super) fn connection_lost(error: &ExchangeError) -> bool {
    let gone = match error {
        ExchangeError::H1(e) => matches!(e, h1::Error::Closed),
        ExchangeError::Hyper(e) => {
            e.is_closed()
                || e.is_canceled()
                || h2_error(e).is_some_and(|e| e.is_go_away() || e.is_io())
        }
        ExchangeError::BodyTooLarge(_) => false,
    };
    gone || error.io_kind().is_some()
}

/// Requests a client may resend without asking (Go's `isReplayable`).
pub(super) fn replayable(method: &Method, headers: &HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) || headers.contains_key("idempotency-key")
        || headers.contains_key("x-idempotency-key")
}

/// A body over the keep limit is `body_too_large`; a reset before the response
/// head is a connect problem; everything else that breaks an exchange (closed,
/// incomplete, malformed, HTTP/2 errors) is protocol.
pub(super) fn classify(error: &ExchangeError, stage: Stage) -> ErrorClass {
    if let ExchangeError::BodyTooLarge(_) = error {
        return ErrorClass::BodyTooLarge;
    }
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

/// The I/O error kind somewhere in hyper's error chain.
fn io_error_kind(error: &hyper::Error) -> Option<io::ErrorKind> {
    cause::<io::Error>(error).map(io::Error::kind)
}

/// The HTTP/2 error somewhere in hyper's error chain.
fn h2_error(error: &hyper::Error) -> Option<&h2::Error> {
    cause(error)
}

/// The first of `error`'s causes (not `error` itself) that is a `T`.
fn cause<T: StdError + 'static>(error: &hyper::Error) -> Option<&T> {
    let mut source = StdError::source(error);
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        source = e.source();
    }
    None
}

/// The error and its causes on one line.
pub(super) fn describe(error: &dyn StdError) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::client::ClientConfig;
    use crate::client::test_support::{Closing, bounded, client, closing_server, get, request};

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
}
