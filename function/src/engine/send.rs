//! Sending one request within its deadline on a VU's connection, and the
//! error class of an unexpected status: what a YAML iteration and a script's
//! VU share. It owns no connection (transport does) and decides no deadline
//! (the iteration's callers do).

use std::pin::Pin;
use std::time::Instant;

use tokio::time::Sleep;

use super::stop::StopSignal;
use super::transport::{Conn, Reply};
use crate::job::ErrorClass;

/// Sends `request` on `conn` unless `deadline` passes first (`None`).
///
/// `timer` is the VU's one timer. It is moved only when it lies beyond `deadline`
/// or fires before it: request deadlines never decrease, so after a VU's first
/// request that happens at most once per timeout, and a request costs no timer
/// registration (a `timeout` per request would insert and remove one each time).
///
/// Once `stop` fires, the deadline comes forward to at most
/// [`STOP_DRAIN`](sls_load_core::control::STOP_DRAIN) later.
pub(super) async fn send_within(
    conn: &mut Conn,
    timer: &mut Pin<Box<Sleep>>,
    stop: &mut StopSignal,
    request: &http::Request<bytes::Bytes>,
    keep_body: bool,
    sent: Instant,
    deadline: Instant,
) -> Option<Result<Reply, ErrorClass>> {
    let mut deadline = tokio::time::Instant::from_std(deadline);
    if timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    let sending = conn.send(request, keep_body, sent);
    tokio::pin!(sending);
    let mut stopping = false;
    loop {
        tokio::select! {
            biased;
            reply = &mut sending => return Some(reply),
            () = timer.as_mut() => {
                if tokio::time::Instant::now() >= deadline {
                    return None;
                }
                timer.as_mut().reset(deadline);
            }
            () = stop.fired(), if !stopping => {
                stopping = true;
                let drained = tokio::time::Instant::now() + sls_load_core::control::STOP_DRAIN;
                if drained < deadline {
                    deadline = drained;
                    timer.as_mut().reset(deadline);
                }
            }
        }
    }
}

/// The error class of a response whose status was not the expected one.
pub(super) fn status_class(status: u16) -> ErrorClass {
    if (400..500).contains(&status) {
        ErrorClass::Http4xx
    } else if status >= 500 {
        ErrorClass::Http5xx
    } else {
        ErrorClass::Status
    }
}
