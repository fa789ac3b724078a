//! The HTTP side: accepts connections (HTTP/1.1 keep-alive and h2c via
//! hyper-util's auto builder), routes requests (`/__stats`, `/__reset`,
//! `/status/{code}`, everything else `ok`, or `--body-size` bytes of it), applies the configured
//! [`Behavior`](crate::behavior::Behavior), counts in [`Stats`], and shuts
//! down gracefully, returning the final counts.
//!
//! As one regional backend of the drill system (`--region NAME`) it answers every
//! response with `X-Served-Region: NAME`; `POST /__down` makes it answer 503 to
//! everything (its `GET /__health` included) until `POST /__up`. The routing
//! between backends is the router's (`crate::router`), not this module's.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::behavior::Behavior;
use crate::config::Config;
use crate::expect::Expect;
use crate::stats::Stats;
use crate::timer::PreciseTimer;

type Body = Full<Bytes>;

const OK_BODY: &[u8] = b"ok\n";
const ERROR_BODY: &[u8] = b"injected error\n";
const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Shared per-server state.
struct App {
    behavior: Behavior,
    stats: Stats,
    /// Precise delays; `None` if its thread could not start (tokio's timer then).
    timer: Option<PreciseTimer>,
    /// `--expect-header` / `--expect-body` counts.
    expect: Expect,
    /// The body of every `ok` answer (`--body-size`).
    ok_body: Bytes,
    /// `X-Served-Region` of every response (`--region`).
    region: Option<HeaderValue>,
    /// Taken down by `POST /__down`: everything answers 503.
    down: AtomicBool,
}

/// The response header naming the backend's region.
pub const SERVED_REGION: &str = "x-served-region";

/// Serves `listener` until `shutdown` completes, then stops accepting, gives
/// open connections up to `config.shutdown_grace` to finish their in-flight
/// requests, and returns the final stats JSON (same shape as `GET /__stats`).
pub async fn serve<F>(config: &Config, listener: TcpListener, shutdown: F) -> Value
where
    F: Future<Output = ()>,
{
    let app = Arc::new(App {
        behavior: config.behavior,
        stats: Stats::new(config.exit_after.saturating_add(config.shutdown_grace)),
        timer: PreciseTimer::start(),
        expect: Expect::new(config.expect_headers.clone(), config.expect_body.clone()),
        ok_body: match config.body_size {
            None => Bytes::from_static(OK_BODY),
            Some(n) => OK_BODY.iter().copied().cycle().take(n).collect(),
        },
        region: config
            .region
            .as_deref()
            .and_then(|r| HeaderValue::from_str(r).ok()),
        down: AtomicBool::new(false),
    });

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .keep_alive(true)
        .pipeline_flush(true)
        .header_read_timeout(None);
    let builder = Arc::new(builder);

    // Dropping `stop_tx` tells connections to shut down; every connection
    // holds an `alive_tx` clone, so `alive_rx` closes once all are done.
    let (stop_tx, stop_rx) = watch::channel(());
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Best effort: a connection without TCP_NODELAY still works.
                    let _ = stream.set_nodelay(true);
                    let app = Arc::clone(&app);
                    let builder = Arc::clone(&builder);
                    let mut stop = stop_rx.clone();
                    let alive = alive_tx.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| handle(Arc::clone(&app), req));
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        tokio::pin!(conn);
                        // Connection errors (resets, bad requests) are the
                        // client's business; nothing to report here.
                        tokio::select! {
                            _ = conn.as_mut() => {}
                            _ = stop.changed() => {
                                conn.as_mut().graceful_shutdown();
                                let _ = conn.await;
                            }
                        }
                        drop(alive);
                    });
                }
                Err(err) => {
                    // E.g. out of file descriptors: back off briefly.
                    if !config.quiet {
                        eprintln!("sls-load-target: accept failed: {err}");
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }

    drop(listener);
    drop(stop_tx);
    drop(alive_tx);
    if tokio::time::timeout(config.shutdown_grace, alive_rx.recv())
        .await
        .is_err()
        && !config.quiet
    {
        eprintln!("sls-load-target: connections still open after the shutdown grace period");
    }
    app.stats_json()
}

async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let region = app.region.clone();
    let mut resp = answer(app, req).await;
    if let Some(region) = region {
        resp.headers_mut().insert(SERVED_REGION, region);
    }
    Ok(resp)
}

async fn answer(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    if let Some(admin) = path.strip_prefix("/__") {
        return app.admin(req.method(), admin);
    }

    let started = app.stats.started();
    let arrived = started.elapsed();
    let n = app
        .stats
        .record_request(req.method().as_str(), path, arrived);
    if app.down.load(Ordering::Relaxed) {
        app.stats
            .record_status(StatusCode::SERVICE_UNAVAILABLE.as_u16());
        return text(StatusCode::SERVICE_UNAVAILABLE, b"region down\n");
    }
    let plan = app.behavior.plan(n, arrived);
    let (status, body) = match path.strip_prefix("/status/") {
        Some(code) => requested_status(code),
        None if plan.error => (StatusCode::INTERNAL_SERVER_ERROR, ERROR_BODY),
        None => (StatusCode::OK, OK_BODY),
    };
    app.expect.check_headers(req.headers());
    if app.expect.wants_body() {
        use http_body_util::BodyExt;
        if let Ok(body) = req.into_body().collect().await {
            app.expect.check_body(&body.to_bytes());
        }
    } else {
        drop(req);
    }

    if let Some(ready_at) = plan.ready_at {
        let at = started + ready_at;
        match &app.timer {
            Some(timer) => timer.sleep_until(at).await,
            None => tokio::time::sleep_until(at.into()).await,
        }
    }
    app.stats.record_status(status.as_u16());
    if body == OK_BODY {
        return text_bytes(status, app.ok_body.clone());
    }
    text(status, body)
}

/// `/status/{code}`: the code if it is a valid final status (200..=599),
/// otherwise 400.
fn requested_status(code: &str) -> (StatusCode, &'static [u8]) {
    match code.parse::<u16>().ok().filter(|c| (200..=599).contains(c)) {
        Some(code) => match StatusCode::from_u16(code) {
            Ok(StatusCode::OK) => (StatusCode::OK, OK_BODY),
            Ok(status) => (status, b""),
            Err(_) => (StatusCode::BAD_REQUEST, b"bad status code\n"),
        },
        None => (StatusCode::BAD_REQUEST, b"bad status code\n"),
    }
}

impl App {
    /// The counts as JSON (`GET /__stats`, and the final line).
    fn stats_json(&self) -> Value {
        let mut stats = self.stats.snapshot(self.stats.started().elapsed());
        self.expect.add_to(&mut stats);
        stats
    }

    /// Uncounted control endpoints under `/__`.
    fn admin(&self, method: &Method, name: &str) -> Response<Body> {
        match (name, method) {
            ("stats", &Method::GET | &Method::HEAD) => {
                let mut body = self.stats_json().to_string();
                body.push('\n');
                let mut resp = Response::new(Full::new(Bytes::from(body)));
                resp.headers_mut()
                    .insert(header::CONTENT_TYPE, APPLICATION_JSON);
                resp
            }
            ("reset", &Method::POST) => {
                self.stats.reset();
                self.expect.reset();
                empty(StatusCode::NO_CONTENT)
            }
            ("health", &Method::GET | &Method::HEAD) => match self.down.load(Ordering::Relaxed) {
                true => text(StatusCode::SERVICE_UNAVAILABLE, b"region down\n"),
                false => text(StatusCode::OK, OK_BODY),
            },
            ("down" | "up", &Method::POST) => {
                self.down.store(name == "down", Ordering::Relaxed);
                empty(StatusCode::NO_CONTENT)
            }
            ("down" | "up", _) => method_not_allowed("POST"),
            ("health", _) => method_not_allowed("GET, HEAD"),
            ("stats", _) => method_not_allowed("GET, HEAD"),
            ("reset", _) => method_not_allowed("POST"),
            _ => text(StatusCode::NOT_FOUND, b"not found\n"),
        }
    }
}

fn text(status: StatusCode, body: &'static [u8]) -> Response<Body> {
    text_bytes(status, Bytes::from_static(body))
}

fn text_bytes(status: StatusCode, body: Bytes) -> Response<Body> {
    let has_body = !body.is_empty();
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    if has_body {
        resp.headers_mut().insert(header::CONTENT_TYPE, TEXT_PLAIN);
    }
    resp
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, b"method not allowed\n");
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty};
    use std::time::Instant;
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;

    const TEST_LIMIT: Duration = Duration::from_secs(20);

    struct Running {
        addr: std::net::SocketAddr,
        stop: oneshot::Sender<()>,
        done: JoinHandle<Value>,
    }

    async fn start(extra: &[&str]) -> Running {
        let mut args = vec!["t", "--listen", "127.0.0.1:0", "--quiet"];
        args.extend_from_slice(extra);
        let config = Config::from_args(args).unwrap();
        let listener = TcpListener::bind(config.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            serve(&config, listener, async {
                let _ = stopped.await;
            })
            .await
        });
        Running { addr, stop, done }
    }

    impl Running {
        async fn finish(self) -> Value {
            self.stop.send(()).unwrap();
            self.done.await.unwrap()
        }
    }

    /// An HTTP/1.1 keep-alive client connection.
    async fn http1(
        addr: std::net::SocketAddr,
    ) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        sender
    }

    async fn send(
        sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
        method: Method,
        uri: &str,
    ) -> (StatusCode, Bytes) {
        sender.ready().await.unwrap();
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "127.0.0.1")
            .body(Empty::new())
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, body)
    }

    async fn get_stats(addr: std::net::SocketAddr) -> Value {
        let mut c = http1(addr).await;
        let (status, body) = send(&mut c, Method::GET, "/__stats").await;
        assert_eq!(status, StatusCode::OK);
        serde_json::from_slice(&body).unwrap()
    }

    fn sum(values: &Value) -> u64 {
        match values {
            Value::Array(a) => a.iter().filter_map(Value::as_u64).sum(),
            Value::Object(o) => o.values().filter_map(Value::as_u64).sum(),
            _ => panic!("not a collection: {values}"),
        }
    }

    #[tokio::test]
    async fn counts_routes_and_injects_errors() {
        tokio::time::timeout(TEST_LIMIT, async {
            let server = start(&["--error-rate", "0.25"]).await;
            let addr = server.addr;

            // One keep-alive connection: every 4th request (n = 3, 7) fails.
            let mut c = http1(addr).await;
            let mut statuses = Vec::new();
            for _ in 0..8 {
                let (status, body) = send(&mut c, Method::GET, "/").await;
                if status == StatusCode::OK {
                    assert_eq!(body, "ok\n");
                }
                statuses.push(status.as_u16());
            }
            assert_eq!(statuses, [200, 200, 200, 500, 200, 200, 200, 500]);

            // n = 8..=10; /status/{code} ignores the error rate.
            assert_eq!(send(&mut c, Method::POST, "/a?x=1").await.0, StatusCode::OK);
            assert_eq!(send(&mut c, Method::PUT, "/status/404").await.0, 404);
            assert_eq!(send(&mut c, Method::GET, "/status/abc").await.0, 400);
            // Uncounted admin paths.
            assert_eq!(send(&mut c, Method::GET, "/__nope").await.0, 404);
            assert_eq!(send(&mut c, Method::POST, "/__stats").await.0, 405);

            // n = 11 over h2c (prior knowledge): selected by 0.25 -> 500.
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut h2, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            let req = Request::builder()
                .uri(format!("http://{addr}/h2"))
                .body(Empty::<Bytes>::new())
                .unwrap();
            let resp = h2.send_request(req).await.unwrap();
            assert_eq!(resp.version(), hyper::Version::HTTP_2);
            assert_eq!(resp.status(), 500);

            let stats = get_stats(addr).await;
            assert_eq!(stats["requests"], 12);
            assert_eq!(
                stats["by_path"],
                serde_json::json!({"/": 8, "/a": 1, "/status/404": 1, "/status/abc": 1, "/h2": 1})
            );
            assert_eq!(
                stats["by_method"],
                serde_json::json!({"GET": 10, "POST": 1, "PUT": 1})
            );
            assert_eq!(
                stats["by_status"],
                serde_json::json!({"200": 7, "400": 1, "404": 1, "500": 3})
            );
            assert_eq!(sum(&stats["per_second"]), 12);
            assert_eq!(sum(&stats["per_unix_second"]), 12);
            assert!(stats["started_at_unix_ms"].as_u64().unwrap() > 1_600_000_000_000);

            // Reset restarts counts and the error pattern.
            assert_eq!(send(&mut c, Method::POST, "/__reset").await.0, 204);
            assert_eq!(get_stats(addr).await["requests"], 0);
            for _ in 0..3 {
                assert_eq!(send(&mut c, Method::GET, "/").await.0, 200);
            }
            assert_eq!(send(&mut c, Method::GET, "/").await.0, 500);

            // Shutdown with idle keep-alive connections still open.
            let fin = server.finish().await;
            assert_eq!(fin["requests"], 4);
            assert_eq!(fin["by_status"], serde_json::json!({"200": 3, "500": 1}));
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn slow_fraction_and_stall_delay_responses() {
        tokio::time::timeout(TEST_LIMIT, async {
            let before_start = Instant::now();
            let server = start(&[
                "--slow-fraction",
                "0.5",
                "--slow-delay",
                "200ms",
                "--stall-at",
                "0s",
                "--stall-for",
                "300ms",
            ])
            .await;
            let addr = server.addr;

            // Arrives inside the stall window: not answered before it ends.
            let mut c = http1(addr).await;
            let stalled = tokio::spawn(async move {
                let (status, _) = send(&mut c, Method::GET, "/").await;
                (status, before_start.elapsed(), c)
            });
            // Admin endpoints are not held by the stall.
            let stats = get_stats(addr).await;
            assert!(stats["requests"].as_u64().unwrap() <= 1);

            let (status, took, mut c) = stalled.await.unwrap();
            assert_eq!(status, 200);
            assert!(
                took >= Duration::from_millis(300),
                "answered after {took:?}"
            );

            // Request n = 1 is slow (0.5 selects odd numbers).
            let t = Instant::now();
            assert_eq!(send(&mut c, Method::GET, "/").await.0, 200);
            let took = t.elapsed();
            assert!(
                took >= Duration::from_millis(200),
                "answered after {took:?}"
            );

            let fin = server.finish().await;
            assert_eq!(fin["requests"], 2);
            assert_eq!(fin["by_status"], serde_json::json!({"200": 2}));
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn shutdown_waits_for_in_flight_requests() {
        tokio::time::timeout(TEST_LIMIT, async {
            let server = start(&["--delay", "300ms"]).await;
            let mut c = http1(server.addr).await;
            let pending = tokio::spawn(async move { send(&mut c, Method::GET, "/").await.0 });
            // Wait until the request has arrived, then shut down mid-delay.
            while get_stats(server.addr).await["requests"] != 1 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let fin = server.finish().await;
            assert_eq!(pending.await.unwrap(), 200);
            assert_eq!(fin["by_status"], serde_json::json!({"200": 1}));
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn body_size_makes_every_ok_body_that_long() {
        tokio::time::timeout(TEST_LIMIT, async {
            let server = start(&["--body-size", "100000"]).await;
            let mut c = http1(server.addr).await;
            let (status, body) = send(&mut c, Method::GET, "/any").await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body.len(), 100_000);
            assert!(body.starts_with(b"ok\nok\n"));
            let (status, body) = send(&mut c, Method::GET, "/status/404").await;
            assert_eq!((status, body.len()), (StatusCode::NOT_FOUND, 0));
            server.finish().await;
        })
        .await
        .unwrap();
        assert!(Config::from_args(["t", "--body-size", "67108865"]).is_err());
    }
}
