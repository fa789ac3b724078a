//! The Lambda Invoke API on the public endpoint, as aws-sdk-lambda calls it
//! (`Invoke` with the `RequestResponse`, `Event` and `DryRun` invocation types)
//! plus `GetAccountSettings`: SigV4 verification of every call (403 before
//! anything is routed, read or run), routing, function-name matching, payload limits
//! and validation, queueing the invocation and answering with its outcome.
//! It does not run invocations; it queues them in [`super::pool`] and, for
//! synchronous ones, waits for the outcome the pool delivers.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::request::Parts;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use percent_encoding::percent_decode_str;
use tokio::sync::oneshot;
use tracing::debug;

use super::faults;
use super::http::{BodyError, HttpResponse, JSON, read_body, respond};
use super::ids::{request_id, trace_id};
use super::pool::{pump, schedule_pump};
use super::state::{Outcome, Pending, Shared};
use super::{ACCOUNT_ID, MAX_EVENT_PAYLOAD, MAX_SYNC_PAYLOAD};
use crate::sigv4::{AuthError, HeadersChecked};

const INVOKE_PREFIX: &str = "/2015-03-31/functions/";
const INVOKE_SUFFIX: &str = "/invocations";
const ACCOUNT_SETTINGS_PATH: &str = "/2016-08-19/account-settings";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// An Invoke API error answer, before the request id is attached.
struct ApiError {
    status: StatusCode,
    error_type: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error_type,
            message: message.into(),
        }
    }

    fn respond(&self, request_id: &str) -> HttpResponse {
        api_error(self.status, self.error_type, &self.message, request_id)
    }
}

/// What became of an accepted `Invoke` call.
enum Accepted {
    /// `DryRun`: validated, not queued.
    DryRun,
    /// `Event`: queued; nobody waits for the outcome.
    Event,
    /// `RequestResponse`: queued; the outcome arrives here.
    Sync(oneshot::Receiver<Outcome>),
}

pub(super) async fn invoke_api(shared: &Arc<Shared>, req: Request<Incoming>) -> HttpResponse {
    let request_id = request_id();
    let (parts, body) = req.into_parts();
    // Nothing is routed, read or run before the headers are known to be signed
    // with this stand-in's key.
    let checked = match shared.verifier.check_headers(&parts, SystemTime::now()) {
        Ok(checked) => checked,
        Err(err) => return refused(&err).respond(&request_id),
    };
    let path = parts.uri.path().to_owned();
    if let Some(name) = path
        .strip_prefix(INVOKE_PREFIX)
        .and_then(|rest| rest.strip_suffix(INVOKE_SUFFIX))
        && parts.method == Method::POST
    {
        let call = Call {
            parts: &parts,
            checked: &checked,
        };
        let name = percent_decode_str(name).decode_utf8_lossy();
        return invoke(shared, &name, call, body, request_id).await;
    }
    let signed = match read_body(body, MAX_SYNC_PAYLOAD).await {
        Ok(bytes) => shared.verifier.verify_body(&checked, &parts, &bytes),
        Err(_) => Err(AuthError::Mismatch),
    };
    if let Err(err) = signed {
        return refused(&err).respond(&request_id);
    }
    if path.trim_end_matches('/') == ACCOUNT_SETTINGS_PATH && parts.method == Method::GET {
        return account_settings(shared, &request_id);
    }
    api_error(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        &format!(
            "{} {path} is not supported by the local Lambda",
            parts.method
        ),
        &request_id,
    )
}

/// An Invoke call whose headers passed the signature's first checks.
#[derive(Clone, Copy)]
struct Call<'a> {
    parts: &'a Parts,
    checked: &'a HeadersChecked,
}

/// Serves one `Invoke` call for `function` (percent-decoded from the path).
async fn invoke(
    shared: &Arc<Shared>,
    function: &str,
    call: Call<'_>,
    body: Incoming,
    request_id: String,
) -> HttpResponse {
    let empty = |status| respond(status, &[("x-amzn-RequestId", &request_id)], Bytes::new());
    match accept(shared, function, call, body, &request_id).await {
        Ok(Accepted::DryRun) => empty(StatusCode::NO_CONTENT),
        Ok(Accepted::Event) => empty(StatusCode::ACCEPTED),
        Ok(Accepted::Sync(outcome)) => sync_response(outcome.await, &request_id),
        Err(err) => err.respond(&request_id),
    }
}

/// Reads the payload and verifies the signature over it, then checks the
/// function name, the throttle switch and the payload, and queues the
/// invocation unless it is a `DryRun`.
async fn accept(
    shared: &Arc<Shared>,
    function: &str,
    call: Call<'_>,
    body: Incoming,
    request_id: &str,
) -> Result<Accepted, ApiError> {
    let invocation_type = invocation_type(call.parts)?;
    let raw = read_payload(body, invocation_type).await?;
    shared
        .verifier
        .verify_body(call.checked, call.parts, &raw)
        .map_err(|e| refused(&e))?;
    check_function(shared, function)?;
    let payload = json_payload(raw)?;
    if invocation_type == InvocationType::DryRun {
        return Ok(Accepted::DryRun);
    }
    if faults::throttle(shared) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            "Rate Exceeded.",
        ));
    }
    let outcome = enqueue(shared, invocation_type, payload, request_id)?;
    debug!(%request_id, ?invocation_type, "invocation queued");
    Ok(outcome.map_or(Accepted::Event, Accepted::Sync))
}

/// A 403 naming why the signature was refused.
fn refused(err: &AuthError) -> ApiError {
    debug!(%err, "local Lambda: request refused");
    ApiError::new(StatusCode::FORBIDDEN, err.error_type(), err.to_string())
}

/// Fails with `ResourceNotFoundException` unless `function` names the served function.
fn check_function(shared: &Shared, function: &str) -> Result<(), ApiError> {
    if function_matches(function, &shared.cfg.function_name) {
        return Ok(());
    }
    let arn = if function.starts_with("arn:") {
        function.to_owned()
    } else {
        function_arn(&shared.cfg.region, function)
    };
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        format!("Function not found: {arn}"),
    ))
}

/// The `X-Amz-Invocation-Type` header; `RequestResponse` when absent.
fn invocation_type(parts: &Parts) -> Result<InvocationType, ApiError> {
    match parts
        .headers
        .get("x-amz-invocation-type")
        .map(|v| v.to_str().unwrap_or_default())
    {
        None | Some("RequestResponse") => Ok(InvocationType::RequestResponse),
        Some("Event") => Ok(InvocationType::Event),
        Some("DryRun") => Ok(InvocationType::DryRun),
        Some(other) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            format!("Unsupported invocation type {other:?}"),
        )),
    }
}

/// Reads the payload within the invocation type's size limit.
async fn read_payload(body: Incoming, invocation_type: InvocationType) -> Result<Bytes, ApiError> {
    let limit = match invocation_type {
        InvocationType::Event => MAX_EVENT_PAYLOAD,
        _ => MAX_SYNC_PAYLOAD,
    };
    let payload = match read_body(body, limit).await {
        Ok(payload) => payload,
        Err(BodyError::TooLarge(size)) => {
            let kind = match invocation_type {
                InvocationType::Event => "Event",
                _ => "RequestResponse",
            };
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException",
                format!(
                    "{size} byte payload is too large for the {kind} invocation type (limit {limit} bytes)"
                ),
            ));
        }
        Err(BodyError::Read(err)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                format!("Could not read the request body: {err}"),
            ));
        }
    };
    Ok(payload)
}

/// Checks that the payload is JSON; an empty payload becomes `{}`.
fn json_payload(payload: Bytes) -> Result<Bytes, ApiError> {
    if payload.is_empty() {
        return Ok(Bytes::from_static(b"{}"));
    }
    match serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
        Ok(_) => Ok(payload),
        Err(err) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {err}"),
        )),
    }
}

/// Queues the invocation and gets the pool going; returns where a
/// `RequestResponse` outcome will arrive (`None` for `Event`).
fn enqueue(
    shared: &Arc<Shared>,
    invocation_type: InvocationType,
    payload: Bytes,
    request_id: &str,
) -> Result<Option<oneshot::Receiver<Outcome>>, ApiError> {
    let (reply, outcome) = match invocation_type {
        InvocationType::RequestResponse => {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        }
        _ => (None, None),
    };
    let mut inner = shared.lock();
    if inner.shutting_down {
        drop(inner);
        return Err(unavailable("the local Lambda is shutting down"));
    }
    inner.invocations += 1;
    inner.queue.push_back(Pending {
        id: request_id.to_owned(),
        payload,
        trace_id: trace_id(),
        reply,
    });
    if invocation_type == InvocationType::Event {
        // An Event caller only waits for the 202: hand the invocation to a warm
        // process or start one off this request's path, so a fan-out of many
        // Event invokes is not serialised behind process start-ups.
        drop(inner);
        schedule_pump(shared);
    } else {
        pump(shared, &mut inner);
    }
    Ok(outcome)
}

/// The answer to a `RequestResponse` call once its outcome arrived (or was dropped).
fn sync_response(
    outcome: Result<Outcome, oneshot::error::RecvError>,
    request_id: &str,
) -> HttpResponse {
    match outcome {
        Ok(Outcome::Success(body)) => respond(
            StatusCode::OK,
            &[
                ("x-amzn-RequestId", request_id),
                ("X-Amz-Executed-Version", "$LATEST"),
                ("Content-Type", JSON),
            ],
            body,
        ),
        Ok(Outcome::Failure(body)) => respond(
            StatusCode::OK,
            &[
                ("x-amzn-RequestId", request_id),
                ("X-Amz-Executed-Version", "$LATEST"),
                ("X-Amz-Function-Error", "Unhandled"),
                ("Content-Type", JSON),
            ],
            body,
        ),
        Ok(Outcome::Unavailable(why)) => unavailable(why).respond(request_id),
        Err(_) => unavailable("the invocation was dropped").respond(request_id),
    }
}

fn account_settings(shared: &Shared, request_id: &str) -> HttpResponse {
    let max = shared.cfg.max_processes;
    let body = serde_json::json!({
        "AccountLimit": {
            "TotalCodeSize": 80_530_636_800_u64,
            "CodeSizeUnzipped": 262_144_000_u64,
            "CodeSizeZipped": 52_428_800_u64,
            "ConcurrentExecutions": max,
            "UnreservedConcurrentExecutions": max,
        },
        "AccountUsage": {
            "TotalCodeSize": 0,
            "FunctionCount": 1,
        },
    });
    respond(
        StatusCode::OK,
        &[("x-amzn-RequestId", request_id), ("Content-Type", JSON)],
        Bytes::from(body.to_string()),
    )
}

/// Whether `requested` (a name, `name:qualifier`, or a full or partial ARN) names `function`.
fn function_matches(requested: &str, function: &str) -> bool {
    const MARKER: &str = ":function:";
    let rest = match requested.rfind(MARKER) {
        Some(at) => &requested[at + MARKER.len()..],
        None => requested,
    };
    let name = rest.split_once(':').map_or(rest, |(name, _qualifier)| name);
    name == function
}

pub(super) fn function_arn(region: &str, function: &str) -> String {
    format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function}")
}

fn api_error(
    status: StatusCode,
    error_type: &str,
    message: &str,
    request_id: &str,
) -> HttpResponse {
    let kind = if status.is_server_error() {
        "Service"
    } else {
        "User"
    };
    let body = serde_json::json!({ "Type": kind, "message": message });
    respond(
        status,
        &[
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", error_type),
            ("Content-Type", JSON),
        ],
        Bytes::from(body.to_string()),
    )
}

/// A `ServiceException` (503) saying `why`.
fn unavailable(why: &str) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceException", why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns_match() {
        let f = "sls-load-worker";
        assert!(function_matches("sls-load-worker", f));
        assert!(function_matches("sls-load-worker:$LATEST", f));
        assert!(function_matches(
            "arn:aws:lambda:us-east-1:000000000000:function:sls-load-worker",
            f
        ));
        assert!(function_matches(
            "arn:aws:lambda:us-east-1:1:function:sls-load-worker:live",
            f
        ));
        assert!(function_matches("000000000000:function:sls-load-worker", f));
        assert!(!function_matches("other", f));
        assert!(!function_matches(
            "arn:aws:lambda:us-east-1:1:function:sls-load",
            f
        ));
    }

    #[test]
    fn percent_decoding() {
        // As the path's function name is read: malformed escapes stay as written.
        let decode = |s| percent_decode_str(s).decode_utf8_lossy().into_owned();
        assert_eq!(decode("arn%3Aaws%3alambda"), "arn:aws:lambda");
        assert_eq!(decode("%24LATEST"), "$LATEST");
        assert_eq!(decode("bad%zz%4"), "bad%zz%4");
    }
}
