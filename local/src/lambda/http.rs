//! The HTTP plumbing shared by the Invoke API and the Runtime API: the hyper
//! service that routes a connection to one or the other, bounded body reading,
//! and response/error-body builders.
//! It does not interpret any request; see [`super::invoke_api`] and
//! [`super::runtime_api`].

use std::convert::Infallible;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use tracing::error;

use super::MAX_SYNC_PAYLOAD;
use super::invoke_api::invoke_api;
use super::pool::Shared;
use super::runtime_api::runtime_api;

/// Bodies beyond this size are not even drained before answering 413.
const DRAIN_CAP: usize = 4 * MAX_SYNC_PAYLOAD;
pub(super) const JSON: &str = "application/json";

pub(super) type HttpResponse = Response<Full<Bytes>>;

/// The hyper service: the Invoke API (`proc == None`) or the Runtime API of process `proc`.
pub(super) fn http_service(
    shared: &Arc<Shared>,
    proc: Option<u64>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = HttpResponse,
    Error = Infallible,
    Future = impl Future<Output = Result<HttpResponse, Infallible>> + Send + 'static,
> + Clone
+ Send
+ 'static {
    let shared = Arc::clone(shared);
    service_fn(move |req: Request<Incoming>| {
        let shared = Arc::clone(&shared);
        async move {
            Ok(match proc {
                Some(seq) => runtime_api(&shared, seq, req).await,
                None => invoke_api(&shared, req).await,
            })
        }
    })
}

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
