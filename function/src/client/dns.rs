//! The target's addresses over the whole job ([`Dns`]): resolved with
//! hickory-resolver (which, unlike getaddrinfo, tells each answer's TTL), kept
//! for min(record TTL, the job's `dns.ttl`), re-resolved when older, filtered by
//! `dns.policy` and handed out per new connection in `dns.select` order. Each
//! change of the answer (the first included) is kept as a [`Resolution`] for the
//! manifest, and bumps a generation that tells a reused connection to check
//! whether its peer is still in the answer (a keep-alive connection to an address
//! that left it is closed before its next request, or a failover would stay
//! invisible).
//!
//! This module owns the cache, its refresh and the choice of addresses. It does
//! not connect ([`super::connect`]) or decide when a connection is reused
//! ([`super::connection`] asks [`Dns::keeps`]). An IP address target is never
//! resolved; a host without a usable resolver configuration falls back to the
//! system's getaddrinfo (no record TTLs: the configured ttl alone counts).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolverConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use sls_load_core::dns::{DnsOptions, DnsPolicy, DnsSelect, DnsTtl, Resolution};

/// After a failed lookup, the next is tried no sooner than this.
const RETRY: Duration = Duration::from_secs(1);
/// A reused connection re-checks an answer that lives zero seconds at most this
/// often (ttl 0 means "resolve per new connection", not "resolve per request").
const RECHECK_FLOOR: Duration = Duration::from_secs(1);

/// Where answers come from.
enum Source {
    /// The target is an IP address.
    Fixed(IpAddr),
    /// hickory-resolver, with the system's or the job's nameservers.
    Hickory(Box<TokioResolver>),
    /// getaddrinfo, when no resolver could be configured.
    System,
    /// Scripted answers (address list, record TTL), the last one sticky.
    #[cfg(test)]
    Script(Mutex<std::collections::VecDeque<(Vec<IpAddr>, Duration)>>),
}

/// The answer in use.
#[derive(Clone)]
struct Current {
    /// The addresses after the policy, or why there are none.
    answer: Result<Arc<[IpAddr]>, String>,
    /// When it was looked up.
    fetched: Instant,
    /// When a new connection must look again (`None`: never).
    expires: Option<Instant>,
}

/// A new connection's addresses, the chosen one first.
pub(super) struct Pick {
    pub(super) addrs: Vec<SocketAddr>,
    /// The answer's generation, for [`Dns::keeps`].
    pub(super) generation: u64,
}

/// The target host's resolution, shared by every connection of a client.
pub(super) struct Dns {
    host: String,
    port: u16,
    opts: DnsOptions,
    source: Source,
    current: Mutex<Current>,
    /// One lookup at a time.
    refreshing: tokio::sync::Mutex<()>,
    /// Bumped on every change of the answer.
    generation: AtomicU64,
    /// Until when (nanoseconds after `base`) a reused connection need not look.
    recheck_at: AtomicU64,
    base: Instant,
    next: AtomicUsize,
    changes: Mutex<Vec<Resolution>>,
}

impl Dns {
    /// The resolution of `host:port` under `opts`; resolves once now.
    pub(super) async fn new(host: &str, port: u16, opts: DnsOptions) -> Self {
        let source = match host.parse::<IpAddr>() {
            Ok(ip) => Source::Fixed(ip),
            Err(_) => resolver(&opts).map_or(Source::System, |r| Source::Hickory(Box::new(r))),
        };
        Self::with_source(host, port, opts, source).await
    }

    /// A host whose every lookup fails (`reason`).
    #[cfg(test)]
    pub(super) async fn unresolvable(host: &str, port: u16) -> Self {
        let source = Source::Script(Mutex::new(vec![(Vec::new(), RETRY)].into()));
        Self::with_source(host, port, DnsOptions::default(), source).await
    }

    async fn with_source(host: &str, port: u16, opts: DnsOptions, source: Source) -> Self {
        let base = Instant::now();
        let dns = Self {
            host: host.to_owned(),
            port,
            opts,
            source,
            current: Mutex::new(Current {
                answer: Err("not resolved yet".to_owned()),
                fetched: base,
                expires: Some(base),
            }),
            refreshing: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            recheck_at: AtomicU64::new(0),
            base,
            next: AtomicUsize::new(0),
            changes: Mutex::new(Vec::new()),
        };
        dns.refresh().await;
        dns
    }

    /// The addresses for a connection opened at `t0`, looked up again first when
    /// the answer has expired (unless another connection did so since `t0`).
    pub(super) async fn addresses(&self, t0: Instant) -> Result<Pick, String> {
        if !self.snapshot().expired(Instant::now()) {
            return self.pick();
        }
        let _one = self.refreshing.lock().await;
        let snap = self.snapshot();
        if snap.expired(Instant::now()) && snap.fetched < t0 {
            self.refresh().await;
        }
        self.pick()
    }

    /// Whether a reused connection to `peer`, made from answer `generation`, may
    /// carry its next request at `now`: its peer is still in the (refreshed if
    /// due) answer. Updates `generation` to the answer it was checked against.
    pub(super) async fn keeps(&self, peer: IpAddr, generation: &mut u64, now: Instant) -> bool {
        let due = self.nanos(now) >= self.recheck_at.load(Ordering::Acquire);
        if !due && *generation == self.generation.load(Ordering::Acquire) {
            return true;
        }
        if due && let Ok(_one) = self.refreshing.try_lock() {
            // Another connection may have refreshed since `due` was read.
            if self.nanos(Instant::now()) >= self.recheck_at.load(Ordering::Acquire) {
                self.refresh().await;
            }
        }
        *generation = self.generation.load(Ordering::Acquire);
        match &self.snapshot().answer {
            Ok(addrs) => addrs.contains(&peer),
            // No answer to compare with: keep what works.
            Err(_) => true,
        }
    }

    /// Every change of the answer so far, the first answer included.
    pub(super) fn resolutions(&self) -> Vec<Resolution> {
        self.changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn snapshot(&self) -> Current {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The current answer in `select` order, the chosen address first.
    fn pick(&self) -> Result<Pick, String> {
        let generation = self.generation.load(Ordering::Acquire);
        let answer = self.snapshot().answer?;
        let first = match self.opts.select {
            DnsSelect::First => 0,
            DnsSelect::Random => rand::random_range(0..answer.len().max(1)),
            DnsSelect::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed),
        };
        Ok(Pick {
            addrs: rotated(&answer, first)
                .into_iter()
                .map(|ip| SocketAddr::new(ip, self.port))
                .collect(),
            generation,
        })
    }

    /// Looks the host up and installs the answer: a new one is recorded and bumps
    /// the generation; a failure keeps a previous answer and retries after [`RETRY`].
    async fn refresh(&self) {
        let looked = self.lookup().await.and_then(|(ips, record_ttl)| {
            let ips = apply_policy(self.opts.policy, ips);
            if ips.is_empty() {
                return Err(format!(
                    "no address allowed by policy {:?}",
                    self.opts.policy
                ));
            }
            Ok((ips, record_ttl))
        });
        let now = Instant::now();
        let fixed = matches!(self.source, Source::Fixed(_));
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        match looked {
            Ok((ips, _)) if fixed => {
                *current = Current {
                    answer: Ok(ips.into()),
                    fetched: now,
                    expires: None,
                };
            }
            Ok((ips, record_ttl)) => {
                let changed = current.answer.as_deref().ok() != Some(ips.as_slice());
                *current = Current {
                    answer: Ok(ips.clone().into()),
                    fetched: now,
                    expires: lifetime(self.opts.ttl, record_ttl).map(|life| now + life),
                };
                if changed {
                    self.generation.fetch_add(1, Ordering::AcqRel);
                    self.changes
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(Resolution {
                            at: SystemTime::now(),
                            host: self.host.clone(),
                            addresses: ips,
                        });
                }
            }
            Err(reason) => {
                tracing::warn!(host = %self.host, %reason, "DNS lookup failed");
                if current.answer.is_err() {
                    current.answer = Err(reason);
                }
                current.fetched = now;
                current.expires = Some(now + RETRY);
            }
        }
        let recheck = match current.expires {
            None => u64::MAX,
            Some(at) if at <= current.fetched => self.nanos(current.fetched + RECHECK_FLOOR),
            Some(at) => self.nanos(at),
        };
        self.recheck_at.store(recheck, Ordering::Release);
    }

    /// The host's addresses and how long the record says they hold.
    async fn lookup(&self) -> Result<(Vec<IpAddr>, Option<Duration>), String> {
        match &self.source {
            Source::Fixed(ip) => Ok((vec![*ip], None)),
            Source::Hickory(resolver) => {
                let found = resolver
                    .lookup_ip(self.host.as_str())
                    .await
                    .map_err(|e| e.to_string())?;
                let ttl = found
                    .valid_until()
                    .saturating_duration_since(Instant::now());
                Ok((found.iter().collect(), Some(ttl)))
            }
            Source::System => {
                let found = tokio::net::lookup_host((self.host.as_str(), self.port))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok((found.map(|a| a.ip()).collect(), None))
            }
            #[cfg(test)]
            Source::Script(answers) => {
                let mut answers = answers.lock().unwrap_or_else(PoisonError::into_inner);
                let (ips, ttl) = if answers.len() > 1 {
                    answers.pop_front()
                } else {
                    answers.front().cloned()
                }
                .ok_or("no scripted answer")?;
                if ips.is_empty() {
                    return Err("scripted failure".to_owned());
                }
                Ok((ips, Some(ttl)))
            }
        }
    }
}

impl Current {
    fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|at| now >= at)
    }
}

/// A hickory resolver for `opts`: its nameservers, or the system's; asking for
/// the families the policy can use, with hickory's own cache off (this module
/// keeps the answer). `None` when the system configuration cannot be read.
fn resolver(opts: &DnsOptions) -> Option<TokioResolver> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = if opts.servers.is_empty() {
        TokioResolver::builder_tokio()
            .inspect_err(|e| tracing::warn!("resolver configuration: {e}; using getaddrinfo"))
            .ok()?
    } else {
        let servers = opts
            .servers
            .iter()
            .map(|s| {
                let mut udp = ConnectionConfig::udp();
                udp.port = s.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = s.port();
                NameServerConfig::new(s.ip(), true, vec![udp, tcp])
            })
            .collect();
        TokioResolver::builder_with_config(
            ResolverConfig::from_parts(None, Vec::new(), servers),
            provider,
        )
    };
    let options = builder.options_mut();
    options.cache_size = 0;
    options.ip_strategy = match opts.policy {
        DnsPolicy::PreferIpv4 => LookupIpStrategy::Ipv4thenIpv6,
        DnsPolicy::PreferIpv6 => LookupIpStrategy::Ipv6thenIpv4,
        DnsPolicy::OnlyIpv4 => LookupIpStrategy::Ipv4Only,
        DnsPolicy::OnlyIpv6 => LookupIpStrategy::Ipv6Only,
        DnsPolicy::Any => LookupIpStrategy::Ipv4AndIpv6,
    };
    builder
        .build()
        .inspect_err(|e| tracing::warn!("resolver: {e}; using getaddrinfo"))
        .ok()
}

/// How long an answer is kept: min(record TTL, configured ttl); forever with
/// `inf` (k6: cache the first answer for good).
fn lifetime(ttl: DnsTtl, record: Option<Duration>) -> Option<Duration> {
    match (ttl, record) {
        (DnsTtl::Forever, _) => None,
        (DnsTtl::For(d), None) => Some(d),
        (DnsTtl::For(d), Some(r)) => Some(d.min(r)),
    }
}

/// The addresses `policy` allows, in the answer's order (duplicates dropped).
fn apply_policy(policy: DnsPolicy, ips: Vec<IpAddr>) -> Vec<IpAddr> {
    let mut unique: Vec<IpAddr> = Vec::with_capacity(ips.len());
    for ip in ips {
        if !unique.contains(&ip) {
            unique.push(ip);
        }
    }
    let (v4, v6): (Vec<IpAddr>, Vec<IpAddr>) = unique.iter().partition(|ip| ip.is_ipv4());
    match policy {
        DnsPolicy::PreferIpv4 if !v4.is_empty() => v4,
        DnsPolicy::PreferIpv6 if !v6.is_empty() => v6,
        DnsPolicy::PreferIpv4 | DnsPolicy::OnlyIpv6 => v6,
        DnsPolicy::PreferIpv6 | DnsPolicy::OnlyIpv4 => v4,
        DnsPolicy::Any => unique,
    }
}

/// `ips` starting at index `first` (modulo its length), the rest following as
/// fallbacks in order.
fn rotated(ips: &[IpAddr], first: usize) -> Vec<IpAddr> {
    let mut out = ips.to_vec();
    if !out.is_empty() {
        out.rotate_left(first % ips.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    async fn scripted(opts: DnsOptions, answers: Vec<(Vec<IpAddr>, Duration)>) -> Dns {
        let source = Source::Script(Mutex::new(answers.into()));
        Dns::with_source("target.test", 8080, opts, source).await
    }

    fn first_of(pick: Result<Pick, String>) -> IpAddr {
        pick.expect("answer").addrs[0].ip()
    }

    #[test]
    fn an_answer_lives_for_the_shorter_of_record_ttl_and_configured_ttl() {
        let s = Duration::from_secs;
        assert_eq!(lifetime(DnsTtl::For(s(300)), Some(s(1))), Some(s(1)));
        assert_eq!(lifetime(DnsTtl::For(s(5)), Some(s(60))), Some(s(5)));
        assert_eq!(
            lifetime(DnsTtl::For(Duration::ZERO), Some(s(60))),
            Some(Duration::ZERO)
        );
        assert_eq!(lifetime(DnsTtl::For(s(7)), None), Some(s(7)));
        assert_eq!(lifetime(DnsTtl::Forever, Some(s(1))), None);
    }

    #[test]
    fn the_policy_picks_families_like_k6() {
        let both = vec![ip("::1"), ip("10.0.0.1"), ip("10.0.0.1"), ip("::2")];
        let v4 = vec![ip("10.0.0.1")];
        let v6 = vec![ip("::1"), ip("::2")];
        assert_eq!(apply_policy(DnsPolicy::PreferIpv4, both.clone()), v4);
        assert_eq!(apply_policy(DnsPolicy::PreferIpv6, both.clone()), v6);
        assert_eq!(apply_policy(DnsPolicy::PreferIpv4, v6.clone()), v6);
        assert_eq!(apply_policy(DnsPolicy::PreferIpv6, v4.clone()), v4);
        assert_eq!(
            apply_policy(DnsPolicy::OnlyIpv4, v6.clone()),
            Vec::<IpAddr>::new()
        );
        assert_eq!(apply_policy(DnsPolicy::OnlyIpv6, both.clone()), v6);
        assert_eq!(
            apply_policy(DnsPolicy::Any, both),
            vec![ip("::1"), ip("10.0.0.1"), ip("::2")]
        );
    }

    #[tokio::test]
    async fn select_first_round_robin_and_random_choose_the_first_address() {
        let three = vec![ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")];
        let with = |select| DnsOptions {
            select,
            ..DnsOptions::default()
        };
        let answers = vec![(three.clone(), Duration::from_secs(60))];
        let first = scripted(with(DnsSelect::First), answers.clone()).await;
        let round = scripted(with(DnsSelect::RoundRobin), answers.clone()).await;
        let random = scripted(with(DnsSelect::Random), answers).await;
        let now = Instant::now();
        for n in 0..6 {
            assert_eq!(first_of(first.addresses(now).await), three[0]);
            assert_eq!(first_of(round.addresses(now).await), three[n % 3]);
            let pick = random.addresses(now).await.expect("answer");
            assert_eq!(pick.addrs.len(), 3, "the others stay as fallbacks");
            assert!(three.contains(&pick.addrs[0].ip()));
            assert_eq!(pick.addrs[0].port(), 8080);
        }
    }

    const SHORT: Duration = Duration::from_millis(50);

    /// Past an answer of [`SHORT`] TTL.
    async fn expire() {
        tokio::time::sleep(SHORT + Duration::from_millis(20)).await;
    }

    #[tokio::test]
    async fn an_expired_answer_is_looked_up_again_and_a_change_is_recorded() {
        let old = vec![ip("127.0.0.1")];
        let new = vec![ip("127.0.0.2")];
        let answers = vec![
            (old.clone(), SHORT),
            (old.clone(), SHORT),
            (new.clone(), SHORT),
        ];
        let dns = scripted(DnsOptions::default(), answers).await;
        let mut generation = dns
            .addresses(Instant::now())
            .await
            .expect("first")
            .generation;
        assert_eq!(dns.resolutions().len(), 1, "the first answer is recorded");
        for (now_in_answer, kept) in [(old[0], true), (new[0], false)] {
            expire().await;
            assert_eq!(first_of(dns.addresses(Instant::now()).await), now_in_answer);
            assert_eq!(
                dns.keeps(old[0], &mut generation, Instant::now()).await,
                kept,
                "a connection to an address that left the answer is dropped"
            );
        }
        let changes = dns.resolutions();
        assert_eq!(changes.len(), 2, "an unchanged answer records nothing");
        assert_eq!(changes[1].addresses, new);
        assert_eq!(changes[1].host, "target.test");
    }

    #[tokio::test]
    async fn a_reused_connection_notices_a_change_without_a_new_connection() {
        let answers = vec![
            (vec![ip("127.0.0.1")], SHORT),
            (vec![ip("127.0.0.2")], SHORT),
        ];
        let dns = scripted(DnsOptions::default(), answers).await;
        let mut generation = dns
            .addresses(Instant::now())
            .await
            .expect("first")
            .generation;
        assert!(
            dns.keeps(ip("127.0.0.1"), &mut generation, Instant::now())
                .await
        );
        expire().await;
        assert!(
            !dns.keeps(ip("127.0.0.1"), &mut generation, Instant::now())
                .await
        );
        assert!(
            dns.keeps(ip("127.0.0.2"), &mut generation, Instant::now())
                .await
        );
    }

    #[tokio::test]
    async fn ttl_inf_keeps_the_first_answer_and_a_failed_lookup_keeps_the_last() {
        let forever = DnsOptions {
            ttl: DnsTtl::Forever,
            ..DnsOptions::default()
        };
        let answers = vec![
            (vec![ip("127.0.0.1")], SHORT),
            (vec![ip("127.0.0.2")], SHORT),
        ];
        let dns = scripted(forever, answers).await;
        expire().await;
        assert_eq!(
            first_of(dns.addresses(Instant::now()).await),
            ip("127.0.0.1")
        );

        let failing = vec![(vec![ip("127.0.0.1")], SHORT), (Vec::new(), SHORT)];
        let dns = scripted(DnsOptions::default(), failing).await;
        expire().await;
        assert_eq!(
            first_of(dns.addresses(Instant::now()).await),
            ip("127.0.0.1")
        );
        assert_eq!(dns.resolutions().len(), 1);
    }

    #[tokio::test]
    async fn a_configured_ttl_shorter_than_the_record_wins() {
        let short = DnsOptions {
            ttl: DnsTtl::For(SHORT),
            ..DnsOptions::default()
        };
        let hour = Duration::from_secs(3600);
        let answers = vec![(vec![ip("127.0.0.1")], hour), (vec![ip("127.0.0.2")], hour)];
        let dns = scripted(short, answers).await;
        expire().await;
        assert_eq!(
            first_of(dns.addresses(Instant::now()).await),
            ip("127.0.0.2")
        );
    }

    #[tokio::test]
    async fn an_ip_address_target_is_never_looked_up() {
        let dns = Dns::new("127.0.0.1", 80, DnsOptions::default()).await;
        let pick = dns.addresses(Instant::now()).await.expect("literal");
        assert_eq!(pick.addrs, vec![SocketAddr::from(([127, 0, 0, 1], 80))]);
        assert!(
            dns.resolutions().is_empty(),
            "nothing resolved, nothing to report"
        );
    }

    /// A keep-alive HTTP/1.1 server on `listener` answering its `name` as the
    /// body; counts the connections it accepted.
    fn named_server(
        listener: tokio::net::TcpListener,
        name: &'static str,
    ) -> Arc<std::sync::atomic::AtomicUsize> {
        use tokio::io::AsyncWriteExt;
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    while crate::client::test_support::read_request(&mut tcp).await {
                        let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n{name}");
                        if tcp.write_all(reply.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        accepted
    }

    #[tokio::test]
    async fn a_keep_alive_connection_moves_when_its_address_leaves_the_answer() {
        use crate::client::test_support::{bounded, get};
        use crate::client::{Client, ClientConfig, origin::Origin};
        bounded(async {
            let first = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let port = first.local_addr().expect("addr").port();
            let second = tokio::net::TcpListener::bind(("127.0.0.2", port))
                .await
                .expect("bind 127.0.0.2 on the same port");
            let (on_first, on_second) = (named_server(first, "1"), named_server(second, "2"));
            let answers = vec![
                (vec![ip("127.0.0.1")], SHORT),
                (vec![ip("127.0.0.2")], SHORT),
            ];
            let dns = Dns::with_source(
                "target.test",
                port,
                DnsOptions::default(),
                Source::Script(Mutex::new(answers.into())),
            )
            .await;
            let cfg = ClientConfig::new(format!("http://target.test:{port}"));
            let origin = Origin::parse(&cfg.target).expect("origin");
            let client = Client::with_dns(cfg, origin, dns).expect("client");
            let mut conn = client.connection();
            let body = |r: Result<crate::client::Response, crate::client::Failure>| {
                r.expect("response").body
            };
            assert_eq!(body(conn.send(get("/"), true).await), "1");
            assert_eq!(body(conn.send(get("/"), true).await), "1");
            expire().await;
            assert_eq!(body(conn.send(get("/"), true).await), "2");
            assert_eq!(body(conn.send(get("/"), true).await), "2");
            assert_eq!(
                on_first.load(Ordering::SeqCst),
                1,
                "kept alive while in the answer"
            );
            assert_eq!(
                on_second.load(Ordering::SeqCst),
                1,
                "one new connection after the change"
            );
            assert_eq!(client.resolutions().len(), 2);
        })
        .await;
    }
}
