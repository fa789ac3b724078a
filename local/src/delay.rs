//! The local network profiles' delaying TCP proxy: one per emulated client
//! region, on a loopback port, between that region's workers and the target.
//! Bytes are forwarded in each direction `rtt/2 ± jitter/2` after they arrived,
//! in order (a chunk never overtakes the one before it), so a request and its
//! response together take the profile's round trip longer. Nothing is lost,
//! reordered or throttled: a user-space proxy cannot fake loss honestly.
//!
//! It owns sockets and timing only: which [`Delay`] a region gets is the plan's
//! network profiles', the orchestrator starts one proxy per region and points
//! the workers at it through the job's `http.connect_to`. HTTP, TLS and the
//! target's name pass through untouched.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::LocalError;

/// What a proxy adds: each direction is delayed by `rtt / 2 ± jitter / 2`, so a
/// round trip takes `rtt ± jitter` more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    /// Added round-trip time.
    pub rtt: Duration,
    /// Largest deviation of a round trip from `rtt`, either way.
    pub jitter: Duration,
}

/// Chunks in flight per direction before the reader waits.
const IN_FLIGHT: usize = 1024;

/// A running proxy; stops (and drops its connections) when dropped.
pub struct DelayProxy {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl DelayProxy {
    /// Listens on `127.0.0.1:0` and forwards every connection to `upstream`
    /// (`host:port`, resolved per connection) with `delay`'s delay.
    pub async fn start(upstream: String, delay: Delay) -> Result<Self, LocalError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| LocalError::io("binding a network-profile proxy", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| LocalError::io("reading the proxy's address", e))?;
        let task = tokio::spawn(accept(listener, upstream, delay));
        Ok(Self { addr, task })
    }

    /// Where the proxy listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accepts until aborted; dropping the task drops every connection's task.
async fn accept(listener: TcpListener, upstream: String, delay: Delay) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((inbound, _)) => {
                    conns.spawn(connection(inbound, upstream.clone(), delay));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Connects to `upstream` and pumps both directions with delay; a failed
/// upstream connect closes the inbound connection (the worker sees a reset).
async fn connection(inbound: TcpStream, upstream: String, delay: Delay) {
    let Ok(outbound) = TcpStream::connect(&upstream).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    tokio::join!(
        pump(in_read, out_write, delay),
        pump(out_read, in_write, delay),
    );
}

/// Forwards `from` to `to`, each chunk one delay after it was read; the end of
/// `from` is passed on (after the delay) as a write shutdown.
async fn pump<R, W>(mut from: R, mut to: W, delay: Delay)
where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let (tx, mut rx) = mpsc::channel::<(Instant, Option<Bytes>)>(IN_FLIGHT);
    let reading = async move {
        let mut last = Instant::now();
        let mut buf = vec![0; 16 * 1024];
        loop {
            let n = from.read(&mut buf).await.unwrap_or(0);
            let due = (Instant::now() + one_way(delay)).max(last);
            last = due;
            let chunk = (n > 0).then(|| Bytes::copy_from_slice(&buf[..n]));
            if tx.send((due, chunk)).await.is_err() || n == 0 {
                return;
            }
        }
    };
    let writing = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            let Some(chunk) = chunk else { break };
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reading, writing);
}

/// One direction's delay: `rtt/2 ± jitter/2`, uniformly drawn.
fn one_way(delay: Delay) -> Duration {
    let half = delay.rtt.as_secs_f64() / 2.0;
    let spread = delay.jitter.as_secs_f64() / 2.0;
    let offset = if spread > 0.0 {
        rand::rng().random_range(-spread..=spread)
    } else {
        0.0
    };
    Duration::from_secs_f64((half + offset).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_arrive_in_order_one_round_trip_later() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = echo.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.unwrap();
            let mut buf = [0; 1024];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        });
        let delay = Delay {
            rtt: Duration::from_millis(80),
            jitter: Duration::from_millis(10),
        };
        let proxy = DelayProxy::start(upstream, delay).await.unwrap();
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        let sent = Instant::now();
        for part in [&b"one "[..], b"two ", b"three"] {
            client.write_all(part).await.unwrap();
        }
        let mut got = Vec::new();
        let mut buf = [0; 64];
        while got.len() < 13 {
            let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"one two three");
        // Never sooner than the round trip less its jitter (each way 40 ms ± 5).
        assert!(
            sent.elapsed() >= Duration::from_millis(70),
            "{:?}",
            sent.elapsed()
        );
    }

    #[test]
    fn one_way_delays_stay_within_half_the_jitter_of_half_the_rtt() {
        let p = Delay {
            rtt: Duration::from_millis(100),
            jitter: Duration::from_millis(20),
        };
        for _ in 0..1000 {
            let d = one_way(p);
            assert!(
                d >= Duration::from_millis(40) && d <= Duration::from_millis(60),
                "{d:?}"
            );
        }
        let fixed = Delay {
            rtt: Duration::from_millis(10),
            jitter: Duration::ZERO,
        };
        assert_eq!(one_way(fixed), Duration::from_millis(5));
    }
}
