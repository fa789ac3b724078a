//! The Lambda Runtime API (2018-06-01) served to one function process on its
//! own listener: `invocation/next`, `invocation/{id}/response`,
//! `invocation/{id}/error` and `init/error`.
//! It does not choose which invocation a process gets or what a dead process
//! means for its invocation; it asks [`super::pool`] for both.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::MAX_SYNC_PAYLOAD;
use super::http::{BodyError, HttpResponse, JSON, error_json, read_body, respond};
use super::pool::{assign, pump};
use super::state::{Assignment, Fault, Outcome, ProcState, Shared};

const RUNTIME_PREFIX: &str = "/2018-06-01/runtime/";

#[derive(Clone, Copy, Debug)]
enum ResultKind {
    Response,
    Error,
}

pub(super) async fn runtime_api(
    shared: &Arc<Shared>,
    seq: u64,
    req: Request<Incoming>,
) -> HttpResponse {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let route = path.strip_prefix(RUNTIME_PREFIX).unwrap_or_default();
    match (&method, route) {
        (&Method::GET, "invocation/next") => next_invocation(shared, seq).await,
        (&Method::POST, "init/error") => init_error(shared, seq, req).await,
        (&Method::POST, route) => {
            let parsed = route.strip_prefix("invocation/").and_then(|rest| {
                if let Some(id) = rest.strip_suffix("/response") {
                    Some((id, ResultKind::Response))
                } else {
                    rest.strip_suffix("/error")
                        .map(|id| (id, ResultKind::Error))
                }
            });
            match parsed {
                Some((id, kind)) if !id.is_empty() && !id.contains('/') => {
                    let id = id.to_owned();
                    post_result(shared, seq, &id, kind, req).await
                }
                _ => runtime_error(StatusCode::NOT_FOUND, "NotFound", &format!("POST {path}")),
            }
        }
        _ => runtime_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("{method} {path}"),
        ),
    }
}

/// What a `next` call gets.
enum Next {
    /// An invocation, at once.
    Ready(Assignment),
    /// The next invocation handed to this process.
    Wait(oneshot::Receiver<Assignment>),
    /// Nothing: the process is being stopped (see [`never_answered`]).
    Stopping,
}

async fn next_invocation(shared: &Arc<Shared>, seq: u64) -> HttpResponse {
    let waiter = match take_next(shared, seq) {
        Next::Ready(assignment) => return next_response(shared, assignment),
        Next::Wait(waiter) => waiter,
        Next::Stopping => return never_answered().await,
    };
    match waiter.await {
        Ok(assignment) => next_response(shared, assignment),
        Err(_) => never_answered().await,
    }
}

/// Marks process `seq` idle (failing an invocation it left without a result) and
/// gives it the oldest queued invocation, or a place in line for the next one.
fn take_next(shared: &Arc<Shared>, seq: u64) -> Next {
    let mut inner = shared.lock();
    if inner.shutting_down {
        return Next::Stopping;
    }
    let Some(p) = inner.procs.get_mut(&seq) else {
        return Next::Stopping;
    };
    let previous = std::mem::replace(&mut p.state, ProcState::Idle(None));
    if !matches!(previous, ProcState::Idle(_)) {
        p.since = Instant::now();
    }
    if matches!(previous, ProcState::Starting) {
        debug!(pid = ?p.pid, "function process initialised");
    }
    if let ProcState::Busy(id) = previous
        && let Some(mut flight) = inner.inflight.remove(&id)
    {
        warn!(request_id = %id, "runtime asked for the next invocation without reporting a result");
        let reply = flight.reply.take();
        let fault = Fault::typed(
            "Runtime.NoResponse",
            "the runtime requested the next invocation without reporting a result".to_owned(),
        );
        inner.complete(reply, Outcome::Failure(fault.body(&id)));
    }
    if let Some(pending) = inner.queue.pop_front() {
        return Next::Ready(assign(shared, &mut inner, seq, pending));
    }
    let (tx, rx) = oneshot::channel();
    if let Some(p) = inner.procs.get_mut(&seq) {
        p.state = ProcState::Idle(Some(tx));
    }
    Next::Wait(rx)
}

/// What `next` gets from a process that is being stopped (the service shuts down,
/// the process was reaped as idle or retired): no answer. Lambda's own Runtime API
/// never answers `next` for a sandbox it is shutting down (it freezes, then kills
/// it), and `lambda_runtime` panics on any answer without a
/// `Lambda-Runtime-Aws-Request-Id` header (it logged `missing
/// lambda-runtime-aws-request-id header` at every shutdown). Every such process
/// has been told to die: the call stays pending until it is killed and its
/// listener, with this connection, is torn down (`process::watch_process`).
async fn never_answered() -> HttpResponse {
    std::future::pending().await
}

fn next_response(shared: &Shared, a: Assignment) -> HttpResponse {
    respond(
        StatusCode::OK,
        &[
            ("Lambda-Runtime-Aws-Request-Id", &a.id),
            ("Lambda-Runtime-Deadline-Ms", &a.deadline_ms.to_string()),
            ("Lambda-Runtime-Invoked-Function-Arn", &shared.arn),
            ("Lambda-Runtime-Trace-Id", &a.trace_id),
            ("Content-Type", JSON),
        ],
        a.payload,
    )
}

async fn post_result(
    shared: &Arc<Shared>,
    seq: u64,
    id: &str,
    kind: ResultKind,
    req: Request<Incoming>,
) -> HttpResponse {
    let error_type = req
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled")
        .to_owned();
    let body = read_body(req.into_body(), MAX_SYNC_PAYLOAD).await;

    let mut inner = shared.lock();
    let flight = match inner.inflight.remove(id) {
        Some(flight) if flight.proc == seq => flight,
        other => {
            if let Some(flight) = other {
                inner.inflight.insert(id.to_owned(), flight);
            }
            return runtime_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestID",
                &format!("invocation {id} is not running in this process"),
            );
        }
    };
    let mut flight = flight;
    let reply = flight.reply.take();
    drop(flight);
    if let Some(p) = inner.procs.get_mut(&seq) {
        p.state = ProcState::Idle(None);
        p.since = Instant::now();
    }
    let (outcome, answer) = result_outcome(kind, body, &error_type, id);
    debug!(request_id = id, ?kind, "invocation finished");
    inner.complete(reply, outcome);
    drop(inner);
    match answer {
        None => accepted(),
        Some((status, error_type)) => runtime_error(status, error_type, "the result was rejected"),
    }
}

/// What a posted result means for the invocation, and the error to answer the
/// runtime with if the result was rejected (`None`: accepted).
fn result_outcome(
    kind: ResultKind,
    body: Result<Bytes, BodyError>,
    error_type: &str,
    id: &str,
) -> (Outcome, Option<(StatusCode, &'static str)>) {
    match (kind, body) {
        (ResultKind::Response, Ok(body)) => (Outcome::Success(body), None),
        (ResultKind::Error, Ok(body)) => {
            let body = if is_json_object(&body) {
                body
            } else {
                error_json(error_type, &String::from_utf8_lossy(&body))
            };
            (Outcome::Failure(body), None)
        }
        (_, Err(BodyError::TooLarge(_))) => (
            Outcome::Failure(error_json(
                "Function.ResponseSizeTooLarge",
                &format!(
                    "Response payload size exceeded maximum allowed payload size ({MAX_SYNC_PAYLOAD} bytes)."
                ),
            )),
            Some((StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge")),
        ),
        (_, Err(BodyError::Read(err))) => (
            Outcome::Failure(error_json(
                "Runtime.InvalidResponse",
                &format!("RequestId: {id} Error: could not read the runtime's result: {err}"),
            )),
            Some((StatusCode::BAD_REQUEST, "InvalidRequest")),
        ),
    }
}

async fn init_error(shared: &Arc<Shared>, seq: u64, req: Request<Incoming>) -> HttpResponse {
    let body = read_body(req.into_body(), MAX_SYNC_PAYLOAD).await;
    let fault = match body {
        Ok(body) if is_json_object(&body) => Fault::Body(body),
        _ => Fault::typed(
            "Runtime.InitError",
            "the runtime failed to initialise".to_owned(),
        ),
    };
    let mut inner = shared.lock();
    warn!(seq, "function process reported an init error");
    inner.retire(seq, &fault);
    pump(shared, &mut inner);
    drop(inner);
    accepted()
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> HttpResponse {
    respond(
        status,
        &[("Content-Type", JSON)],
        error_json(error_type, message),
    )
}

/// The runtime's result or error report was taken.
fn accepted() -> HttpResponse {
    respond(
        StatusCode::ACCEPTED,
        &[("Content-Type", JSON)],
        Bytes::from_static(b"{\"status\":\"OK\"}"),
    )
}

/// Whether `body` is a JSON object (an error report Lambda passes on as is).
fn is_json_object(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.is_object())
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::path::PathBuf;
    use std::sync::Mutex;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use super::*;
    use crate::lambda::LambdaConfig;
    use crate::lambda::state::{Inner, Proc};

    fn shared() -> Arc<Shared> {
        let credentials = crate::LocalCredentials::generate();
        Arc::new(Shared {
            verifier: crate::sigv4::Verifier::new(credentials.clone(), "eu-west-1", "lambda"),
            cfg: LambdaConfig {
                credentials,
                faults: Default::default(),
                region: "eu-west-1".into(),
                function_name: "f".into(),
                bootstrap: PathBuf::from("/nonexistent/bootstrap"),
                memory_mb: 128,
                timeout: Duration::from_secs(1),
                max_processes: 1,
                idle_timeout: Duration::ZERO,
                log_dir: PathBuf::from("/nonexistent/logs"),
                env: Vec::new(),
            },
            arn: "arn:aws:lambda:eu-west-1:000000000000:function:f".into(),
            task_root: PathBuf::from("/nonexistent"),
            rt: tokio::runtime::Handle::current(),
            serve_runtime: crate::lambda::service::serve_runtime_api,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    /// `lambda_runtime` panics on a `next` answer without a request id (every
    /// `bootstrap` logged `missing lambda-runtime-aws-request-id header` at
    /// shutdown): a process being stopped gets no answer at all.
    #[tokio::test]
    async fn next_is_never_answered_for_a_process_being_stopped() {
        let shared = shared();
        // A process the pool no longer knows (reaped, retired).
        let unknown = std::pin::pin!(next_invocation(&shared, 7));
        assert!(poll_once(unknown).is_pending());

        // A process waiting in `next` when the pool lets go of it.
        shared.lock().procs.insert(
            1,
            Proc {
                pid: None,
                stream: "s".into(),
                state: ProcState::Starting,
                since: Instant::now(),
                _kill: None,
            },
        );
        let mut waiting = std::pin::pin!(next_invocation(&shared, 1));
        assert!(poll_once(waiting.as_mut()).is_pending());
        assert!(matches!(
            shared.lock().procs.get(&1).map(|p| &p.state),
            Some(ProcState::Idle(Some(_)))
        ));
        shared.lock().procs.clear();
        assert!(poll_once(waiting.as_mut()).is_pending());

        // Any process once the service is shutting down.
        shared.lock().shutting_down = true;
        let late = std::pin::pin!(next_invocation(&shared, 1));
        assert!(poll_once(late).is_pending());
    }
}
