//! One VU's connection to the target ([`Connection`]): opened lazily, reused while
//! the server keeps it alive, retried once on a new connection when a reused one
//! turns out to have been closed, following same-origin redirects, and timing each
//! request phase by phase. A reused connection whose peer left the target's DNS
//! answer is closed before its next request (a new one goes to the new address).
//!
//! This module owns that request loop. It does not set up connections
//! ([`super::connect`]), speak a protocol ([`super::exchange`]), judge errors
//! ([`super::classify`]) or build redirect requests ([`super::redirect`]).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::Request;

use super::classify::{classify, connection_lost, describe, retryable};
use super::connect::Connected;
use super::exchange::{Live, Stage};
use super::mux::Slot;
use super::redirect::redirect;
use super::{Failure, Response, Shared, Timings, Traffic, phase_timings};
use crate::job::ErrorClass;

/// One VU's connection to the target; connects lazily on the first send.
pub struct Connection {
    shared: Arc<Shared>,
    /// Taken out for the duration of an exchange: a send future dropped mid-request
    /// drops the connection with it.
    live: Option<Live>,
    /// The live connection's peer and the DNS answer generation it was last
    /// checked against.
    peer: Option<(std::net::IpAddr, u64)>,
    /// The shared HTTP/2 connection this connection sends on, when VUs share
    /// them (see `mux`).
    slot: Option<Arc<Slot>>,
}

impl Connection {
    /// A connection to `shared`'s target, not connected yet.
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        let slot = shared.mux.as_ref().map(|mux| mux.assign());
        Self {
            shared,
            live: None,
            peer: None,
            slot,
        }
    }

    /// Sends one request and reads the whole response. The URI is a path and query
    /// or an absolute URL on the target's origin; the body is sent as is. Redirects
    /// are followed as configured. Cancel-safe: dropping the future drops the
    /// connection and the next send opens a new one.
    pub async fn send(
        &mut self,
        req: Request<Bytes>,
        keep_body: bool,
    ) -> Result<Response, Failure> {
        self.send_ref(&req, keep_body).await
    }

    /// [`Connection::send`] for a request the caller keeps (e.g. prepared once per
    /// job): HTTP/1.1 encodes straight from it; HTTP/2 clones its head per attempt.
    pub async fn send_ref(
        &mut self,
        req: &Request<Bytes>,
        keep_body: bool,
    ) -> Result<Response, Failure> {
        self.send_from(req, keep_body, Instant::now()).await
    }

    /// [`Connection::send_ref`] timed from `started`, an instant the caller has
    /// just read (the phases then start there; one clock read fewer per request).
    pub async fn send_from(
        &mut self,
        req: &Request<Bytes>,
        keep_body: bool,
        started: Instant,
    ) -> Result<Response, Failure> {
        let mut t0 = started;
        let mut next: Option<Request<Bytes>> = None;
        let mut timings = Timings::default();
        let mut traffic = Traffic::default();
        let mut redirects = 0;
        loop {
            let current = next.as_ref().unwrap_or(req);
            let mut response = match self.round_trip(current, keep_body, t0).await {
                Ok(r) => r,
                Err(mut failure) => {
                    timings.add(&failure.timings);
                    failure.timings = timings;
                    traffic.add(&failure.traffic);
                    failure.traffic = traffic;
                    return Err(failure);
                }
            };
            timings.add(&response.timings);
            traffic.add(&response.traffic);
            if redirects < self.shared.redirects
                && let Some(follow) = redirect(&self.shared.origin, current, &response)
            {
                next = Some(follow);
                redirects += 1;
                t0 = response.ended;
                continue;
            }
            response.timings = timings;
            response.traffic = traffic;
            response.redirects = redirects;
            return Ok(response);
        }
    }

    /// Drops the connection (a new user); the next send connects again. On a
    /// shared HTTP/2 connection it only lets go of it (a request cut short there
    /// resets its stream, not the connection): the next send goes on it again.
    pub fn reset(&mut self) {
        self.live = None;
    }

    /// Refuses a request off the target's origin, and closes a keep-alive
    /// connection to an address that left the DNS answer (keeping it would hide a
    /// DNS failover).
    async fn before_sending(&mut self, req: &Request<Bytes>, t0: Instant) -> Result<(), Failure> {
        let shared = &*self.shared;
        if req.uri().scheme().is_some() && !shared.origin.contains(req.uri()) {
            return Err(Failure {
                class: ErrorClass::Protocol,
                timings: Timings::default(),
                message: format!("`{}` is not on the target origin", req.uri()),
                traffic: Traffic::default(),
            });
        }
        if self.live.is_some()
            && let Some((ip, generation)) = self.peer.as_mut()
            && !shared.dns.keeps(*ip, generation, t0).await
        {
            if let (Some(slot), Some(Live::H2(h2))) = (&self.slot, &self.live) {
                slot.discard(h2).await;
            }
            self.live = None;
        }
        Ok(())
    }

    /// The connection to send on: the kept one, the shared HTTP/2 one, or a new
    /// one (`Connected` only for a connection made now).
    async fn connection(&mut self, t0: Instant) -> Result<(Live, Option<Connected>), Failure> {
        let shared = &*self.shared;
        Ok(match (self.live.take(), &self.slot) {
            (Some(live), _) => (live, None),
            (None, Some(slot)) => {
                let got = shared.connect_shared(slot, t0).await?;
                self.peer = got.peer;
                (got.live, got.connected)
            }
            (None, None) => {
                let (live, connected) = shared.connect(t0).await?;
                self.peer = connected.peer;
                (live, Some(connected))
            }
        })
    }

    /// One request without redirects, retried once on a fresh connection when a
    /// reused one turns out to be closed.
    async fn round_trip(
        &mut self,
        req: &Request<Bytes>,
        keep_body: bool,
        t0: Instant,
    ) -> Result<Response, Failure> {
        self.before_sending(req, t0).await?;
        // Bytes of attempts on a reused connection found closed, retried.
        let mut retried = Traffic::default();
        let mut first_attempt = true;
        loop {
            let (mut live, connected) = self.connection(t0).await?;
            let reused = connected.is_none();
            if reused && live.closed_before(req) {
                // Found closed before anything was sent: a new connection.
                continue;
            }
            let ready = connected.map_or(t0, |c| c.tls);
            match live.exchange(req, &self.shared, keep_body, ready).await {
                Ok(done) => {
                    if live.is_open() {
                        self.live = Some(live);
                    }
                    let marks = connection_marks(connected, Some(done.ready));
                    let flushed = done.flushed.or(Some(done.ready));
                    let timings = phase_timings(
                        t0,
                        [marks[0], marks[1], marks[2], flushed, Some(done.head)],
                        done.end,
                    );
                    retried.add(&done.traffic);
                    return Ok(Response {
                        status: done.status.as_u16(),
                        version: done.version,
                        headers: done.headers,
                        body: done.body,
                        timings,
                        redirects: 0,
                        ended: done.end,
                        traffic: retried,
                    });
                }
                Err(broke) => {
                    if let (Some(slot), Live::H2(h2)) = (&self.slot, &live)
                        && (!h2.is_open() || connection_lost(&broke.error))
                    {
                        slot.discard(h2).await;
                    }
                    drop(live);
                    retried.add(&broke.traffic);
                    if reused
                        && first_attempt
                        && (broke.stage == Stage::NotReady
                            || retryable(&broke.error, broke.wrote, req.method(), req.headers()))
                    {
                        // The server closed the idle connection (or refused the
                        // stream): a new one (or the shared one again), once.
                        first_attempt = false;
                        continue;
                    }
                    let marks = connection_marks(connected, broke.ready);
                    let timings = phase_timings(
                        t0,
                        [marks[0], marks[1], marks[2], broke.flushed, broke.head],
                        broke.at,
                    );
                    return Err(Failure {
                        class: classify(&broke.error, broke.stage),
                        timings,
                        message: describe(&broke.error),
                        traffic: retried,
                    });
                }
            }
        }
    }
}

/// The ends of blocked, connecting and TLS for a fresh (`connected`) or reused
/// connection (blocked until `ready`, nothing for connecting and TLS).
fn connection_marks(connected: Option<Connected>, ready: Option<Instant>) -> [Option<Instant>; 3] {
    match connected {
        Some(c) => [Some(c.started), Some(c.tcp), Some(c.tls)],
        None => [ready, ready, ready],
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use http::{Method, Version};
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;
    use crate::client::test_support::{
        Closing, bounded, client, closing_server, get, pki, plain_server, read_request, request,
        tls_server,
    };
    use crate::client::{Client, ClientConfig, HttpVersion};

    #[test]
    fn connections_and_their_futures_can_move_between_threads() {
        fn send<T: Send>(_: &T) {}
        fn check(client: &Client, conn: &mut Connection, req: &Request<Bytes>) {
            send(client);
            send(&conn.send_ref(req, false));
        }
        let _ = check;
    }

    #[tokio::test]
    async fn keep_alive_reuses_the_connection() {
        bounded(async {
            let addr = plain_server().await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            let first = conn.send(get("/"), true).await.expect("first");
            let second = conn.send(get("/"), true).await.expect("second");
            assert_eq!((first.status, &first.body[..]), (200, &b"hello"[..]));
            assert_eq!((second.status, &second.body[..]), (200, &b"hello"[..]));
            assert_eq!(first.version, Version::HTTP_11);
            assert!(
                first.timings.connecting > Duration::ZERO,
                "{:?}",
                first.timings
            );
            assert_eq!(
                second.timings.connecting,
                Duration::ZERO,
                "{:?}",
                second.timings
            );
            assert_eq!(second.timings.tls_handshaking, Duration::ZERO);
            let missing = conn
                .send(get("/missing"), false)
                .await
                .expect("404 is a response");
            assert_eq!(missing.status, 404);
            assert!(missing.body.is_empty(), "body dropped unless kept");
        })
        .await;
    }

    #[tokio::test]
    async fn reset_forces_a_new_connection() {
        bounded(async {
            let addr = plain_server().await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            conn.send(get("/"), false).await.expect("first");
            conn.reset();
            let again = conn.send(get("/"), false).await.expect("after reset");
            assert!(
                again.timings.connecting > Duration::ZERO,
                "{:?}",
                again.timings
            );
        })
        .await;
    }

    #[tokio::test]
    async fn timings_never_exceed_the_elapsed_time() {
        bounded(async {
            let pki = pki();
            let plain = plain_server().await;
            let tls = tls_server(&pki, &[b"h2", b"http/1.1"]).await;
            for (url, version) in [
                (format!("http://{plain}"), HttpVersion::Http1),
                (format!("http://{plain}"), HttpVersion::Http2),
                (format!("https://{tls}"), HttpVersion::Auto),
                (format!("https://{tls}"), HttpVersion::Http1),
            ] {
                let mut cfg = ClientConfig::new(url);
                cfg.http2 = version;
                cfg.tls_roots_pem = Some(pki.ca_pem.clone());
                let mut conn = client(cfg).await.connection();
                for path in ["/", "/", "/redirect"] {
                    let started = Instant::now();
                    let response = conn.send(get(path), false).await.expect("response");
                    let elapsed = started.elapsed();
                    let t = response.timings;
                    assert!(t.total() <= elapsed, "{t:?} > {elapsed:?}");
                    assert!(t.waiting > Duration::ZERO, "{version:?} {t:?}");
                }
            }
        })
        .await;
    }

    #[tokio::test]
    async fn an_idle_connection_closed_by_the_server_reconnects_transparently() {
        bounded(async {
            let (addr, accepted) = closing_server(Closing::AfterResponse).await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            for _ in 0..3 {
                let response = conn.send(get("/"), true).await.expect("no spurious error");
                assert_eq!(&response.body[..], b"ok");
            }
            assert_eq!(accepted.load(Ordering::SeqCst), 3);
        })
        .await;
    }

    #[tokio::test]
    async fn a_reused_connection_closed_before_the_response_is_retried_once() {
        bounded(async {
            let (addr, accepted) = closing_server(Closing::OnNextRequest).await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            conn.send(get("/"), false).await.expect("first");
            let second = conn.send(get("/"), true).await.expect("retried");
            assert_eq!(&second.body[..], b"ok");
            assert!(
                second.timings.connecting > Duration::ZERO,
                "{:?}",
                second.timings
            );
            assert_eq!(accepted.load(Ordering::SeqCst), 2);
        })
        .await;
    }

    #[tokio::test]
    async fn a_post_on_an_idle_connection_the_server_closed_goes_on_a_new_one() {
        bounded(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                // First connection: one response, then closed while idle.
                let Ok((mut tcp, _)) = listener.accept().await else {
                    return;
                };
                read_request(&mut tcp).await;
                let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                let _ = tcp.write_all(ok).await;
                drop(tcp);
                let _ = closed_tx.send(());
                // Second connection: the POST.
                let Ok((mut tcp, _)) = listener.accept().await else {
                    return;
                };
                if read_request(&mut tcp).await {
                    let _ = tcp.write_all(ok).await;
                }
                let _ = read_request(&mut tcp).await;
            });
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            conn.send(get("/"), false).await.expect("first");
            closed_rx.await.expect("server closed the first connection");
            let response = conn
                .send(request(Method::POST, "/", "data"), true)
                .await
                .expect("sent on a new connection, not failed");
            assert_eq!(&response.body[..], b"ok");
        })
        .await;
    }

    #[tokio::test]
    async fn a_cancelled_send_leaves_a_connection_that_reconnects() {
        bounded(async {
            let addr = plain_server().await;
            for version in [HttpVersion::Http1, HttpVersion::Http2] {
                let mut cfg = ClientConfig::new(format!("http://{addr}"));
                cfg.http2 = version;
                let mut conn = client(cfg).await.connection();
                conn.send(get("/"), false).await.expect("first");
                let cancelled = tokio::time::timeout(
                    Duration::from_millis(50),
                    conn.send(get("/pending"), false),
                )
                .await;
                assert!(cancelled.is_err(), "the server never answers /pending");
                let after = conn.send(get("/"), true).await.expect("after cancel");
                assert_eq!(&after.body[..], b"hello");
                assert!(
                    after.timings.connecting > Duration::ZERO,
                    "{:?}",
                    after.timings
                );
            }
        })
        .await;
    }

    #[tokio::test]
    async fn request_urls_off_the_target_origin_are_refused() {
        bounded(async {
            let addr = plain_server().await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            let failure = conn
                .send(get("http://elsewhere.invalid/"), false)
                .await
                .expect_err("cross-origin");
            assert_eq!(failure.class, ErrorClass::Protocol);
        })
        .await;
    }

    #[tokio::test]
    async fn a_kept_body_over_the_limit_fails_as_body_too_large() {
        use crate::client::test_support::BIG;
        bounded(async {
            let addr = plain_server().await;
            for version in [HttpVersion::Http1, HttpVersion::Http2] {
                let mut cfg = ClientConfig::new(format!("http://{addr}"));
                cfg.http2 = version;
                cfg.max_body_buffer = 1000;
                let mut conn = client(cfg).await.connection();
                let failure = conn.send(get("/big"), true).await.expect_err("too large");
                assert_eq!(
                    failure.class,
                    ErrorClass::BodyTooLarge,
                    "{version:?} {failure}"
                );
                // Not kept, the same body is read to its end and dropped.
                let whole = conn.send(get("/big"), false).await.expect("not kept");
                assert_eq!(whole.status, 200);
                let after = conn.send(get("/"), true).await.expect("small body");
                assert_eq!(&after.body[..], b"hello", "{version:?}");

                let mut cfg = ClientConfig::new(format!("http://{addr}"));
                cfg.http2 = version;
                cfg.max_body_buffer = BIG as u64;
                let mut conn = client(cfg).await.connection();
                let at_limit = conn.send(get("/big"), true).await.expect("at the limit");
                assert_eq!(at_limit.body.len(), BIG, "{version:?}");
            }
        })
        .await;
    }
}
