//! The drill system's router and the whole system in one process.
//!
//! `sls-load-target router --listen ADDR --backend us-east-1=ADDR ...` sends each
//! request to its client region's home backend (by `--home-header`), health-checks
//! every backend every `--health-every`, fails a backend's clients over to the
//! nearest healthy region after `--fail-after` failed checks, and back once it is
//! healthy. `sls-load-target system` starts three regional backends (us-east-1,
//! eu-west-1, ap-southeast-1, each a normal target with `--region`) on loopback
//! ports and a router in front of them, and prints the router's URL last
//! (`listening on http://ADDR`).
//!
//! This module owns the command line of both modes and the process around
//! them; routing decisions are `route`'s, HTTP `proxy`'s, and the backends are
//! the ordinary target server (`crate::server`).

mod args;
mod proxy;
mod route;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use hyper::header::HeaderName;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::behavior::Behavior;
use crate::config::Config;
use crate::lifecycle::{shutdown_signal, stdout_line};

pub use args::{Mode, RouterArgs, Routing, SystemArgs};
pub use proxy::Router;
pub use route::Backends;

/// The regions `system` starts, in order (the first is the default home).
pub const SYSTEM_REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];

impl Routing {
    fn check(&self) -> anyhow::Result<HeaderName> {
        ensure!(
            !self.health_every.is_zero(),
            "--health-every must be positive"
        );
        ensure!(self.fail_after >= 1, "--fail-after must be at least 1");
        ensure!(!self.exit_after.is_zero(), "--exit-after must be positive");
        HeaderName::from_bytes(self.home_header.as_bytes())
            .with_context(|| format!("--home-header `{}` is not a header name", self.home_header))
    }
}

impl Mode {
    /// Runs the mode to completion (SIGINT, SIGTERM or `--exit-after`).
    pub fn run(self) -> anyhow::Result<()> {
        let listen = match &self {
            Mode::Router(a) => a.listen,
            Mode::System(a) => a.listen,
        };
        if !listen.ip().is_loopback() {
            bail!("refusing to listen on non-loopback address {listen}");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("building the tokio runtime")?;
        let result = runtime.block_on(async move {
            match self {
                Mode::Router(a) => run_router(a).await,
                Mode::System(a) => run_system(a).await,
            }
        });
        runtime.shutdown_timeout(Duration::from_millis(100));
        result
    }
}

/// Starts a router on `listen` over `backends`; returns its address and the
/// tasks to abort at the end.
pub async fn start_router(
    listen: SocketAddr,
    backends: Vec<(String, SocketAddr)>,
    routing: &Routing,
) -> anyhow::Result<(SocketAddr, Vec<tokio::task::JoinHandle<()>>)> {
    let home_header = routing.check()?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let router = Router::new(
        Backends::new(backends, routing.fail_after),
        home_header,
        routing.quiet,
    );
    let checks = tokio::spawn(router.clone().health_checks(routing.health_every));
    let serving = tokio::spawn(router.serve(listener));
    Ok((addr, vec![checks, serving]))
}

async fn run_router(args: RouterArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_signal(args.routing.exit_after, args.routing.quiet)?;
    let (addr, tasks) = start_router(args.listen, args.backends, &args.routing).await?;
    stdout_line(&format!("listening on http://{addr}"))?;
    shutdown.await;
    tasks.iter().for_each(|t| t.abort());
    Ok(())
}

/// The configuration of one of `system`'s backends.
fn backend_config(region: &str, args: &SystemArgs) -> Config {
    Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        threads: 1,
        behavior: Behavior {
            delay: args.delay,
            ..Behavior::default()
        },
        exit_after: args.routing.exit_after,
        shutdown_grace: Duration::from_secs(2),
        quiet: args.routing.quiet,
        expect_headers: Vec::new(),
        expect_body: None,
        body_size: None,
        region: Some(region.to_owned()),
    }
}

async fn run_system(args: SystemArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_signal(args.routing.exit_after, args.routing.quiet)?;
    let (stop_tx, stop_rx) = watch::channel(());
    let mut backends = Vec::new();
    let mut serving = Vec::new();
    for region in SYSTEM_REGIONS {
        let config = backend_config(region, &args);
        let listener = TcpListener::bind(config.listen)
            .await
            .context("binding a backend")?;
        let addr = listener.local_addr().context("reading the bound address")?;
        stdout_line(&format!("backend {region} http://{addr}"))?;
        backends.push((region.to_owned(), addr));
        let mut stop = stop_rx.clone();
        serving.push(tokio::spawn(async move {
            let stats = crate::server::serve(&config, listener, async move {
                let _ = stop.changed().await;
            })
            .await;
            (region, stats)
        }));
    }
    let (addr, tasks) = start_router(args.listen, backends, &args.routing).await?;
    stdout_line(&format!("listening on http://{addr}"))?;
    shutdown.await;
    tasks.iter().for_each(|t| t.abort());
    drop(stop_tx);
    for task in serving {
        if let Ok((region, stats)) = task.await {
            stdout_line(&format!("stats {region} {stats}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty};
    use hyper::{Method, Request, StatusCode};
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;
    use std::time::Instant;

    type Http = Client<HttpConnector, Empty<Bytes>>;

    fn system_args(health_every: Duration) -> SystemArgs {
        SystemArgs {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            delay: Duration::ZERO,
            routing: Routing {
                home_header: "X-Client-Region".into(),
                health_every,
                fail_after: 3,
                exit_after: Duration::from_secs(60),
                quiet: true,
            },
        }
    }

    /// Three backends and a router on loopback; returns the router's address.
    async fn system(args: &SystemArgs) -> SocketAddr {
        let mut backends = Vec::new();
        for region in SYSTEM_REGIONS {
            let config = backend_config(region, args);
            let listener = TcpListener::bind(config.listen).await.unwrap();
            backends.push((region.to_owned(), listener.local_addr().unwrap()));
            tokio::spawn(async move {
                crate::server::serve(&config, listener, std::future::pending()).await
            });
        }
        start_router(args.listen, backends, &args.routing)
            .await
            .unwrap()
            .0
    }

    /// `(status, X-Served-Region)` of `GET /` from client region `client`.
    async fn get(http: &Http, router: SocketAddr, client: &str) -> (StatusCode, String) {
        let req = Request::get(format!("http://{router}/"))
            .header("x-client-region", client)
            .body(Empty::new())
            .unwrap();
        let resp = http.request(req).await.unwrap();
        let served = resp
            .headers()
            .get("x-served-region")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let status = resp.status();
        let _ = resp.into_body().collect().await;
        (status, served)
    }

    async fn admin(http: &Http, router: SocketAddr, path: &str) -> StatusCode {
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("http://{router}{path}"))
            .body(Empty::new())
            .unwrap();
        http.request(req).await.unwrap().status()
    }

    /// Polls until client region `client` is served by a healthy backend whose
    /// region `pick` accepts; returns which, or panics after `limit`.
    async fn until_served(
        http: &Http,
        router: SocketAddr,
        client: &str,
        pick: impl Fn(&str) -> bool,
    ) -> String {
        let limit = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, served) = get(http, router, client).await;
            if status == StatusCode::OK && pick(&served) {
                return served;
            }
            assert!(Instant::now() < limit, "still {status} from {served}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_region_taken_down_fails_over_after_the_health_checks_notice_and_comes_back() {
        let every = Duration::from_millis(100);
        let router = system(&system_args(every)).await;
        let http: Http = Client::builder(TokioExecutor::new()).build_http();
        for region in SYSTEM_REGIONS {
            assert_eq!(
                get(&http, router, region).await,
                (StatusCode::OK, region.to_owned())
            );
        }
        assert_eq!(get(&http, router, "sa-east-1").await.1, "us-east-1");

        assert_eq!(
            admin(&http, router, "/regions/eu-west-1/down").await,
            StatusCode::NO_CONTENT
        );
        let down = Instant::now();
        // The router has not noticed yet: the backend itself answers 503.
        assert_eq!(
            get(&http, router, "eu-west-1").await,
            (StatusCode::SERVICE_UNAVAILABLE, "eu-west-1".to_owned())
        );
        let moved = until_served(&http, router, "eu-west-1", |r| r != "eu-west-1").await;
        // Three failed checks 100 ms apart: not before the second interval.
        assert!(down.elapsed() >= 2 * every, "{:?}", down.elapsed());
        assert_eq!(moved, "us-east-1", "the nearest healthy region");
        assert_eq!(
            get(&http, router, "ap-southeast-1").await.1,
            "ap-southeast-1"
        );

        assert_eq!(
            admin(&http, router, "/regions/eu-west-1/up").await,
            StatusCode::NO_CONTENT
        );
        until_served(&http, router, "eu-west-1", |r| r == "eu-west-1").await;
        assert_eq!(
            admin(&http, router, "/regions/mars-1/down").await,
            StatusCode::NOT_FOUND
        );
    }
}
