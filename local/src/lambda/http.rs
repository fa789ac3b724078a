//! The HTTP plumbing shared by the Invoke API and the Runtime API: bounded body
//! reading, and response/error-body builders. A leaf: it interprets no request
//! (see [`super::invoke_api`] and [`super::runtime_api`]) and routes none (see
//! [`super::service`]).

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use tracing::error;

use super::MAX_SYNC_PAYLOAD;

/// Bodies beyond this size are not even drained before answering 413.
const DRAIN_CAP: usize = 4 * MAX_SYNC_PAYLOAD;
pub(super) const JSON: &str = "application/json";

pub(super) type HttpResponse = Response<Full<Bytes>>;

pub(super) enum BodyError {
    /// Carries the number of bytes seen (possibly stopped short at the drain cap).
    TooLarge(usize),
    Read(String),
}

/// Reads a body of at most `limit` bytes. Oversized bodies are drained (up to
/// a cap) so that the client reliably receives the 413 answer.
pub(super) async fn read_body(mut body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    let mut buf = BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total > DRAIN_CAP {
                return Err(BodyError::TooLarge(total));
            }
            if total <= limit {
                buf.extend_from_slice(&data);
            }
        }
    }
    if total > limit {
        Err(BodyError::TooLarge(total))
    } else {
        Ok(buf.freeze())
    }
}

pub(super) fn respond(status: StatusCode, headers: &[(&str, &str)], body: Bytes) -> HttpResponse {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::new(body)).unwrap_or_else(|err| {
        error!(%err, "building a response failed");
        let mut resp = Response::new(Full::new(Bytes::new()));
        *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        resp
    })
}

pub(super) fn error_json(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string())
}
