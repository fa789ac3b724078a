//! The hyper service of the local Lambda: one Invoke API listener per service
//! and one Runtime API listener per function process, each routed to its API.
//! It is the only module that names both APIs; the pool starts a process's
//! Runtime API through [`Shared::serve_runtime`](super::state::Shared), which
//! `LocalLambda::start` sets to [`serve_runtime_api`].

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::TcpListener;

use super::http::HttpResponse;
use super::invoke_api::invoke_api;
use super::runtime_api::runtime_api;
use super::state::Shared;
use crate::server::HttpServer;

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

/// Serves the Runtime API of process `seq` on `listener`.
pub(super) fn serve_runtime_api(
    shared: &Arc<Shared>,
    seq: u64,
    listener: TcpListener,
) -> HttpServer {
    HttpServer::spawn(
        "lambda-runtime-api",
        listener,
        http_service(shared, Some(seq)),
        Duration::ZERO,
    )
}
