//! The router's network side: serves HTTP/1.1 on its listener, forwards every
//! request to the backend [`Backends::route`] picks for the request's client
//! region header (response passed back as is, `X-Served-Region` included; 502
//! when the backend cannot be reached), checks every backend's `GET /__health`
//! every `health_every`, and answers its admin endpoints: `POST
//! /regions/R/down` and `/regions/R/up` take backend R down or up (through the
//! backend's own `/__down` and `/__up`, so the router itself only notices it
//! through its health checks) and `GET /regions` shows each backend's state.
//!
//! Which backend is chosen is `route`'s; the process around it is `super`'s.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{HOST, HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use super::route::{Backends, Change};

type Body = Full<Bytes>;

/// The router: its backends and how it reaches them.
pub struct Router {
    backends: Backends,
    home_header: HeaderName,
    forward: Client<HttpConnector, Incoming>,
    control: Client<HttpConnector, Empty<Bytes>>,
    quiet: bool,
}

impl Router {
    /// A router over `backends` routing by `home_header`.
    pub fn new(backends: Backends, home_header: HeaderName, quiet: bool) -> Arc<Self> {
        let forward = Client::builder(TokioExecutor::new()).build_http();
        let control = Client::builder(TokioExecutor::new()).build_http();
        Arc::new(Self {
            backends,
            home_header,
            forward,
            control,
            quiet,
        })
    }

    /// Checks every backend every `every` (a check slower than `every` fails)
    /// until the task is dropped.
    pub async fn health_checks(self: Arc<Self>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for b in self.backends.all() {
                let router = self.clone();
                let name = b.name.clone();
                tokio::spawn(async move {
                    let ok = router.call(&name, Method::GET, "/__health", every).await;
                    let ok = ok.is_some_and(|s| s.is_success());
                    match router.backends.note_check(&name, ok) {
                        Some(Change::Down) if !router.quiet => {
                            eprintln!("sls-load-target router: {name} marked down");
                        }
                        Some(Change::Up) if !router.quiet => {
                            eprintln!("sls-load-target router: {name} healthy again");
                        }
                        _ => {}
                    }
                });
            }
        }
    }

    /// Serves `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let router = self.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| router.clone().handle(req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        let path = req.uri().path().to_owned();
        if let Some(rest) = path.strip_prefix("/regions") {
            return Ok(self.admin(req.method(), rest).await);
        }
        Ok(self.forward(req).await)
    }

    async fn forward(&self, mut req: Request<Incoming>) -> Response<Body> {
        let client = req
            .headers()
            .get(&self.home_header)
            .and_then(|v| v.to_str().ok());
        let backend = self.backends.route(client);
        let path = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let Ok(uri) = format!("http://{}{path}", backend.addr).parse::<Uri>() else {
            return text(StatusCode::BAD_REQUEST, "bad request target\n");
        };
        *req.uri_mut() = uri;
        req.headers_mut().remove(HOST);
        let Ok(resp) = self.forward.request(req).await else {
            return text(StatusCode::BAD_GATEWAY, "backend unreachable\n");
        };
        let (parts, body) = resp.into_parts();
        match body.collect().await {
            Ok(body) => Response::from_parts(parts, Full::new(body.to_bytes())),
            Err(_) => text(StatusCode::BAD_GATEWAY, "backend response broken\n"),
        }
    }

    /// `GET /regions`, `POST /regions/R/down`, `POST /regions/R/up`.
    async fn admin(&self, method: &Method, rest: &str) -> Response<Body> {
        if rest.is_empty() || rest == "/" {
            return self.state();
        }
        let Some((name, action)) = rest.trim_start_matches('/').split_once('/') else {
            return text(StatusCode::NOT_FOUND, "not found\n");
        };
        if self.backends.get(name).is_none() {
            return text(StatusCode::NOT_FOUND, "no such region\n");
        }
        let path = match (method, action) {
            (&Method::POST, "down") => "/__down",
            (&Method::POST, "up") => "/__up",
            _ => return text(StatusCode::NOT_FOUND, "use POST /regions/R/down or /up\n"),
        };
        match self
            .call(name, Method::POST, path, Duration::from_secs(5))
            .await
        {
            Some(status) if status.is_success() => {
                if !self.quiet {
                    eprintln!("sls-load-target router: {name} taken {action}");
                }
                Response::new(Full::new(Bytes::new())).map_status(StatusCode::NO_CONTENT)
            }
            _ => text(StatusCode::BAD_GATEWAY, "backend did not answer\n"),
        }
    }

    /// Each backend's state as JSON: `{"eu-west-1":{"healthy":true,"forwarded":12},...}`.
    fn state(&self) -> Response<Body> {
        let state: serde_json::Map<String, serde_json::Value> = self
            .backends
            .all()
            .iter()
            .map(|b| {
                let v = serde_json::json!({ "healthy": b.healthy(), "forwarded": b.forwarded() });
                (b.name.clone(), v)
            })
            .collect();
        let mut resp = text(StatusCode::OK, "");
        *resp.body_mut() = Full::new(Bytes::from(format!("{}\n", serde_json::Value::from(state))));
        resp.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }

    /// `method path` on backend `name` within `limit`: its status, `None` on failure.
    async fn call(
        &self,
        name: &str,
        method: Method,
        path: &str,
        limit: Duration,
    ) -> Option<StatusCode> {
        let addr = self.backends.get(name)?.addr;
        let req = Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"))
            .body(Empty::new())
            .ok()?;
        let resp = tokio::time::timeout(limit, self.control.request(req))
            .await
            .ok()?
            .ok()?;
        let status = resp.status();
        let _ = resp.into_body().collect().await;
        Some(status)
    }
}

/// Sets a response's status, builder-style.
trait MapStatus {
    fn map_status(self, status: StatusCode) -> Self;
}

impl MapStatus for Response<Body> {
    fn map_status(mut self, status: StatusCode) -> Self {
        *self.status_mut() = status;
        self
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    Response::new(Full::new(Bytes::from_static(body.as_bytes()))).map_status(status)
}
