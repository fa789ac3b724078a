//! The local network profiles' delaying TCP proxy: one per emulated client
//! region, on a loopback port, between that region's workers and the target.
//! Bytes are forwarded in each direction `rtt/2 ± jitter/2` after they arrived,
//! in order (a chunk never overtakes the one before it), so a request and its
//! response together take the profile's round trip longer. Nothing is lost,
//! reordered or throttled: a user-space proxy cannot fake loss honestly.
//!
//! It owns sockets and timing only: which profile a region gets is
//! [`sls_load_plan::network`]'s, and the workers are pointed at the proxy through the
//! job's `http.connect_to`. HTTP, TLS and the target's name pass through untouched.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::LocalError;
use sls_load_core::job::Region;
use sls_load_plan::network::{Network, Profile};

/// Chunks in flight per direction before the reader waits.
const IN_FLIGHT: usize = 1024;

/// A running proxy; stops (and drops its connections) when dropped.
pub struct DelayProxy {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl DelayProxy {
    /// Listens on `127.0.0.1:0` and forwards every connection to `upstream`
    /// (`host:port`, resolved per connection) with `profile`'s delay.
    pub async fn start(upstream: String, profile: Profile) -> Result<Self, LocalError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| LocalError::io("binding a network-profile proxy", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| LocalError::io("reading the proxy's address", e))?;
        let task = tokio::spawn(accept(listener, upstream, profile));
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
async fn accept(listener: TcpListener, upstream: String, profile: Profile) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((inbound, _)) => {
                    conns.spawn(connection(inbound, upstream.clone(), profile));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Connects to `upstream` and pumps both directions with delay; a failed
/// upstream connect closes the inbound connection (the worker sees a reset).
async fn connection(inbound: TcpStream, upstream: String, profile: Profile) {
    let Ok(outbound) = TcpStream::connect(&upstream).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    tokio::join!(
        pump(in_read, out_write, profile),
        pump(out_read, in_write, profile),
    );
}

/// Forwards `from` to `to`, each chunk one delay after it was read; the end of
/// `from` is passed on (after the delay) as a write shutdown.
async fn pump<R, W>(mut from: R, mut to: W, profile: Profile)
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
            let due = (Instant::now() + one_way(profile)).max(last);
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
fn one_way(profile: Profile) -> Duration {
    let half = profile.rtt.as_secs_f64() / 2.0;
    let spread = profile.jitter.as_secs_f64() / 2.0;
    let offset = if spread > 0.0 {
        rand::rng().random_range(-spread..=spread)
    } else {
        0.0
    };
    Duration::from_secs_f64((half + offset).max(0.0))
}

/// The running proxies of a run's client regions, by region.
#[derive(Default)]
pub struct NetworkProfiles {
    /// Each region's profile and proxy (none for a zero profile: direct).
    proxies: BTreeMap<Region, (Profile, Option<DelayProxy>)>,
}

impl NetworkProfiles {
    /// Starts one proxy to `target` (an `http(s)://` base URL) for every region
    /// of `regions` that `network` gives a profile other than zero.
    pub async fn start(
        network: &Network,
        regions: &[Region],
        target: &str,
    ) -> Result<Self, LocalError> {
        let upstream = upstream_of(target).ok_or_else(|| {
            LocalError::Config(format!("network profiles: target `{target}` has no host"))
        })?;
        let mut proxies = BTreeMap::new();
        for region in regions {
            if let Some(profile) = network.profile(region) {
                let proxy = match profile.rtt.is_zero() && profile.jitter.is_zero() {
                    true => None,
                    false => Some(DelayProxy::start(upstream.clone(), profile).await?),
                };
                proxies.insert(region.clone(), (profile, proxy));
            }
        }
        Ok(Self { proxies })
    }

    /// The `http.connect_to` of `region`'s jobs, if it has a profile.
    pub fn connect_to(&self, region: &Region) -> Option<String> {
        let (_, proxy) = self.proxies.get(region)?;
        proxy.as_ref().map(|p| p.addr().to_string())
    }

    /// One line per region for the run header: `eu-west-1: rtt 70ms ± 3.5ms`,
    /// or `REGION: no profile` for a region the table does not know.
    pub fn describe(&self, regions: &[Region]) -> Vec<String> {
        regions
            .iter()
            .map(|r| match self.proxies.get(r) {
                Some((_, None)) => format!("{r}: direct (rtt 0)"),
                Some((profile, _)) => format!("{r}: {profile}"),
                None => format!("{r}: no profile (pair not in the table)"),
            })
            .collect()
    }
}

/// `host:port` of an `http(s)://` base URL (port by scheme when absent).
fn upstream_of(target: &str) -> Option<String> {
    let uri: hyper::Uri = target.parse().ok()?;
    let host = uri.host()?;
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    Some(format!("{host}:{port}"))
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
        let profile = Profile {
            rtt: Duration::from_millis(80),
            jitter: Duration::from_millis(10),
        };
        let proxy = DelayProxy::start(upstream, profile).await.unwrap();
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
    fn the_upstream_is_the_targets_host_and_port() {
        assert_eq!(
            upstream_of("http://127.0.0.1:8080").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            upstream_of("https://api.example.test").as_deref(),
            Some("api.example.test:443")
        );
        assert_eq!(upstream_of("http://[::1]").as_deref(), Some("[::1]:80"));
    }

    #[test]
    fn one_way_delays_stay_within_half_the_jitter_of_half_the_rtt() {
        let p = Profile {
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
        let fixed = Profile {
            rtt: Duration::from_millis(10),
            jitter: Duration::ZERO,
        };
        assert_eq!(one_way(fixed), Duration::from_millis(5));
    }
}
