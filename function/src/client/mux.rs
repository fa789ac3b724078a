//! HTTP/2 connections shared by several VUs as concurrent streams (the job's
//! `http.max_streams_per_connection` above 1).
//!
//! [`Mux`] hands each new [`Connection`](super::Connection) a [`Slot`]: the first
//! `max_streams_per_connection` connections get the first slot, the next as many
//! the second, and so on, so a job with `v` VUs opens at most
//! `ceil(v / max_streams_per_connection)` connections at a time, and each carries at
//! most that many requests at once (a VU has one request in flight). The first VU
//! of a slot that needs the connection opens it; the others wait for it (their
//! `blocked` phase) and send on handles to it. A connection that went away
//! (closed, or told to go away) is opened again by the next VU that needs it.
//! Where TLS negotiates HTTP/1.1 instead, nothing can be shared: the slot
//! remembers it and each of its VUs opens its own connection as without this
//! option.
//!
//! This module owns the slots and who opens their connections. It does not set up
//! connections ([`super::connect`]), speak HTTP/2 ([`super::h2`]) or decide when
//! a request is retried ([`super::connection`]).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::connect::Connected;
use super::exchange::Live;
use super::h2::H2;
use super::{Failure, Shared};

/// Hands out the slots of one client's shared connections.
pub(super) struct Mux {
    /// VUs per connection, at least 2.
    per_connection: usize,
    /// The newest slot and how many VUs it has.
    newest: Mutex<(Arc<Slot>, usize)>,
}

impl Mux {
    /// Slots of `max_streams` VUs each; `None` for 0 or 1 (a connection per VU).
    pub(super) fn new(max_streams: u32) -> Option<Self> {
        let per_connection = usize::try_from(max_streams).ok().filter(|n| *n > 1)?;
        Some(Self {
            per_connection,
            newest: Mutex::new((Arc::new(Slot::default()), 0)),
        })
    }

    /// The slot of one more VU.
    pub(super) fn assign(&self) -> Arc<Slot> {
        // Nothing below can panic while the lock is held; recover it anyway.
        let mut newest = self.newest.lock().unwrap_or_else(|p| p.into_inner());
        if newest.1 >= self.per_connection {
            *newest = (Arc::new(Slot::default()), 0);
        }
        newest.1 += 1;
        newest.0.clone()
    }
}

/// The connection a group of VUs shares.
#[derive(Default)]
pub(super) struct Slot {
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
enum State {
    /// Not connected (yet, or since the connection went away).
    #[default]
    Empty,
    /// An HTTP/2 connection, with the address it went to and the generation
    /// of the DNS answer that address came from.
    Open(H2, Option<(IpAddr, u64)>),
    /// The server chose HTTP/1.1: each VU has its own connection.
    Http1,
}

/// A connection got from a slot.
pub(super) struct Got {
    pub(super) live: Live,
    /// The phases of the connection set-up, if this VU opened it.
    pub(super) connected: Option<Connected>,
    /// The address it went to and its DNS answer generation.
    pub(super) peer: Option<(IpAddr, u64)>,
}

impl Slot {
    /// Forgets `h2` if it is still this slot's connection (it went away, or its
    /// address left the target's DNS answer): the next VU opens a new one.
    pub(super) async fn discard(&self, h2: &H2) {
        let mut state = self.state.lock().await;
        if matches!(&*state, State::Open(open, _) if open.same(h2)) {
            *state = State::Empty;
        }
    }
}

impl Shared {
    /// A connection from `slot`: its open HTTP/2 connection, or a new one this
    /// VU opens (timed from `t0`) while the slot's other VUs wait for it.
    pub(super) async fn connect_shared(&self, slot: &Slot, t0: Instant) -> Result<Got, Failure> {
        let mut state = slot.state.lock().await;
        if let State::Http1 = &*state {
            drop(state);
            let (live, connected) = self.connect(t0).await?;
            return Ok(Got {
                live,
                connected: Some(connected),
                peer: connected.peer,
            });
        }
        if let State::Open(h2, peer) = &*state {
            if h2.is_open() {
                let live = Live::H2(h2.clone());
                let peer = *peer;
                return Ok(Got {
                    live,
                    connected: None,
                    peer,
                });
            }
            *state = State::Empty;
        }
        let (live, connected) = self.connect(t0).await?;
        let live = match live {
            Live::H2(h2) => {
                let h2 = h2.share();
                *state = State::Open(h2.clone(), connected.peer);
                Live::H2(h2)
            }
            Live::H1(h1) => {
                *state = State::Http1;
                Live::H1(h1)
            }
        };
        Ok(Got {
            live,
            connected: Some(connected),
            peer: connected.peer,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use bytes::Bytes;
    use http::Version;
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use tokio::net::TcpListener;

    use super::*;
    use crate::client::test_support::{bounded, client, get};
    use crate::client::{ClientConfig, HttpVersion};

    /// What the h2c test server counted.
    #[derive(Default)]
    struct Counted {
        connections: AtomicUsize,
        requests: AtomicUsize,
    }

    /// An h2c server answering `ok` after 30 ms that, when `goaway_after` is
    /// set, tells each connection to go away (HTTP/2 GOAWAY, in-flight streams
    /// finish) once it has taken that many requests.
    async fn h2c_server(goaway_after: Option<usize>) -> (String, Arc<Counted>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let counted = Arc::new(Counted::default());
        let shared = counted.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let counted = shared.clone();
                let (full_tx, mut full_rx) = tokio::sync::mpsc::unbounded_channel();
                let taken = Arc::new(AtomicUsize::new(0));
                let service = service_fn(move |_req| {
                    counted.requests.fetch_add(1, Ordering::SeqCst);
                    let n = taken.fetch_add(1, Ordering::SeqCst) + 1;
                    if goaway_after.is_some_and(|max| n >= max) {
                        let _ = full_tx.send(());
                    }
                    async move {
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("ok"))))
                    }
                });
                tokio::spawn(async move {
                    let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => return,
                        Some(()) = full_rx.recv() => conn.as_mut().graceful_shutdown(),
                    }
                    let _ = conn.await;
                });
            }
        });
        (format!("http://{addr}"), counted)
    }

    /// `vus` connections of a client sharing `streams` per HTTP/2 connection,
    /// each sending `each` requests one after the other; every response's status.
    async fn send_all(url: &str, streams: u32, vus: usize, each: usize) -> Vec<u16> {
        let mut cfg = ClientConfig::new(url);
        cfg.http2 = HttpVersion::Http2;
        cfg.max_streams_per_connection = streams;
        let client = client(cfg).await;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..vus {
            let mut conn = client.connection();
            tasks.spawn(async move {
                let mut statuses = Vec::new();
                for _ in 0..each {
                    match conn.send(get("/"), true).await {
                        Ok(r) => {
                            assert_eq!((r.version, &r.body[..]), (Version::HTTP_2, &b"ok"[..]));
                            statuses.push(r.status);
                        }
                        Err(failure) => panic!("{failure}"),
                    }
                }
                statuses
            });
        }
        let mut all = Vec::new();
        while let Some(statuses) = tasks.join_next().await {
            all.extend(statuses.expect("no panic"));
        }
        all
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn vus_share_http2_connections_up_to_the_bound_as_concurrent_streams() {
        bounded(async {
            let (url, counted) = h2c_server(None).await;
            let statuses = send_all(&url, 4, 10, 3).await;
            assert_eq!(statuses, vec![200; 30]);
            assert_eq!(counted.requests.load(Ordering::SeqCst), 30);
            // Ten VUs, four per connection: three connections.
            assert_eq!(counted.connections.load(Ordering::SeqCst), 3);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_shared_connection_told_to_go_away_is_replaced_without_failing_a_request() {
        bounded(async {
            // Two VUs on one connection at a time, which goes away after three
            // requests: a request refused by the GOAWAY is retried once on a new
            // connection, as on a VU's own connection.
            let (url, counted) = h2c_server(Some(3)).await;
            let statuses = send_all(&url, 2, 2, 6).await;
            assert_eq!(statuses, vec![200; 12]);
            // Refused streams never reach the server's service; a GET cut off by
            // the connection's end after the server took it is replayed (Go's
            // rule, as on a VU's own connection), so the server may count it twice.
            let served = counted.requests.load(Ordering::SeqCst);
            assert!((12..=24).contains(&served), "{served}");
            // Each connection went away after a few requests (hyper's server
            // lets those sent before its final GOAWAY finish too).
            let connections = counted.connections.load(Ordering::SeqCst);
            assert!((2..=12).contains(&connections), "{connections}");
        })
        .await;
    }

    #[test]
    fn vus_fill_each_slot_before_the_next_one_opens() {
        assert!(Mux::new(0).is_none() && Mux::new(1).is_none());
        let mux = Mux::new(3).expect("sharing");
        let slots: Vec<Arc<Slot>> = (0..7).map(|_| mux.assign()).collect();
        let same = |a: usize, b: usize| Arc::ptr_eq(&slots[a], &slots[b]);
        assert!(same(0, 1) && same(1, 2));
        assert!(!same(2, 3) && same(3, 4) && same(4, 5));
        assert!(!same(5, 6));
    }
}
