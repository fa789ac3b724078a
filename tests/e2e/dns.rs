//! DNS that follows a failover (issue 13): a worker re-resolves the target's name
//! honouring the record's TTL, so when the name's address changes mid-run the
//! traffic moves to the new address within TTL + 1 s, keep-alive connections to
//! the old address included, and the change is reported.
//!
//! The name is served by a resolver stub on loopback (a hand-written UDP DNS
//! server below, answering `target.test` A with a 1 s TTL) that the scenario's
//! `dns: { servers: [...] }` points the workers at. Two sample targets listen on
//! the same port on 127.0.0.1 and 127.0.0.2 and count what reaches each; the test
//! polls their counters to see when the traffic moved. It does not check record
//! TTLs other than 1 s or the `select`/`policy` options (the worker's unit tests
//! cover the cache).

use std::net::{Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sls_load_e2e::{Target, run_local, scenario_file};

const LIMIT: Duration = Duration::from_secs(120);
const TTL: Duration = Duration::from_secs(1);
const NAME: &str = "target.test";

/// A UDP DNS server on 127.0.0.1 answering [`NAME`] A with 127.0.0.1, or with
/// 127.0.0.2 once switched; stops when dropped.
struct Stub {
    port: u16,
    second: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Stub {
    fn start() -> Stub {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the DNS stub");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let port = socket.local_addr().expect("stub address").port();
        let second = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (second.clone(), stop.clone());
        let thread = thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !st.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let ip = if s.load(Ordering::Relaxed) {
                    Ipv4Addr::new(127, 0, 0, 2)
                } else {
                    Ipv4Addr::LOCALHOST
                };
                if let Some(reply) = answer(&buf[..n], ip) {
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        Stub {
            port,
            second,
            stop,
            thread: Some(thread),
        }
    }

    /// From now on, answer 127.0.0.2.
    fn switch(&self) {
        self.second.store(true, Ordering::Relaxed);
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The reply to one DNS query: [`NAME`] A gets `ip` with a [`TTL`] TTL, another
/// type of that name an empty answer, any other name NXDOMAIN. Additional
/// records of the query (EDNS) are not echoed.
fn answer(query: &[u8], ip: Ipv4Addr) -> Option<Vec<u8>> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question = query.get(12..at + 4)?;
    let ours = labels.join(".") == NAME;
    let a = ours && qtype == 1;
    let mut reply = Vec::with_capacity(64);
    reply.extend_from_slice(&query[..2]); // id
    let rd = query[2] & 0x01;
    reply.push(0x84 | rd); // response, authoritative, recursion desired as asked
    reply.push(if ours { 0x80 } else { 0x83 }); // recursion available; NOERROR / NXDOMAIN
    reply.extend_from_slice(&[0, 1, 0, u8::from(a), 0, 0, 0, 0]);
    reply.extend_from_slice(question);
    if a {
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]); // the question's name, A, IN
        let ttl = u32::try_from(TTL.as_secs()).expect("ttl");
        reply.extend_from_slice(&ttl.to_be_bytes());
        reply.extend_from_slice(&[0, 4]);
        reply.extend_from_slice(&ip.octets());
    }
    Some(reply)
}

/// The two targets' request counts, sampled every 100 ms until `done`.
type Samples = Arc<Mutex<Vec<(Instant, u64, u64)>>>;

fn sample(
    first: Arc<Target>,
    second: Arc<Target>,
    done: Arc<AtomicBool>,
) -> (Samples, thread::JoinHandle<()>) {
    let samples: Samples = Arc::default();
    let out = samples.clone();
    let handle = thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            let row = (Instant::now(), first.requests(), second.requests());
            out.lock().expect("samples").push(row);
            thread::sleep(Duration::from_millis(100));
        }
    });
    (samples, handle)
}

#[test]
fn traffic_follows_a_dns_change_within_ttl_plus_one_second_and_every_request_is_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stub = Stub::start();
    let first = Arc::new(Target::start(&[]));
    let port = first.url.rsplit(':').next().expect("port").to_owned();
    let second = Arc::new(Target::start_on(&format!("127.0.0.2:{port}"), &[]));
    let scenario = scenario_file(
        dir.path(),
        "dns.yaml",
        &format!(
            r#"
target: http://{NAME}:{port}
regions: {{ us-east-1: 1 }}
dns:
  servers: ["127.0.0.1:{stub}"]
scenarios:
  steady:
    executor: constant-arrival-rate
    rate: 40
    duration: 8s
    preAllocatedVUs: 4
    requests:
      - {{ name: home, url: / }}
"#,
            stub = stub.port
        ),
    );
    let done = Arc::new(AtomicBool::new(false));
    let (samples, sampler) = sample(first.clone(), second.clone(), done.clone());
    let run = {
        let (dir, scenario) = (dir.path().to_owned(), scenario.clone());
        thread::spawn(move || run_local(&dir, &scenario, &[], LIMIT))
    };
    // Switch 2 s after the load reached the first address.
    let reached = Instant::now();
    while first.requests() == 0 {
        assert!(reached.elapsed() < LIMIT, "no request reached 127.0.0.1");
        thread::sleep(Duration::from_millis(50));
    }
    thread::sleep(Duration::from_secs(2));
    let switched = Instant::now();
    stub.switch();
    let (outcome, summary) = run.join().expect("run thread");
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    assert_eq!(outcome.code(), 0, "stderr: {}", outcome.stderr);
    let summary = summary.expect("summary written");

    let samples = samples.lock().expect("samples").clone();
    let (on_first, on_second) = (first.requests(), second.requests());
    let last_on_first = samples
        .windows(2)
        .filter(|w| w[1].1 > w[0].1)
        .map(|w| w[1].0)
        .max()
        .expect("the first address got traffic");
    // The sample after the last request is up to 100 ms (plus a stats round trip) late.
    let moved_after = last_on_first.saturating_duration_since(switched);
    assert!(
        moved_after <= TTL + Duration::from_secs(1) + Duration::from_millis(300),
        "the first address still got requests {moved_after:?} after the switch"
    );
    eprintln!(
        "127.0.0.1: {on_first}, 127.0.0.2: {on_second}, last on the first {moved_after:?} after the switch"
    );
    assert!(on_second > 0, "nothing reached 127.0.0.2");
    let before: u64 = samples
        .iter()
        .filter(|s| s.0 <= switched)
        .map(|s| s.1)
        .max()
        .unwrap_or(0);
    assert!(
        before > 0,
        "the first address got traffic before the switch"
    );

    let total = summary["total"]["requests"]
        .as_u64()
        .expect("total requests");
    assert_eq!(
        on_first + on_second,
        total,
        "every request reached one of the targets"
    );
    assert_eq!(summary["total"]["errors"].as_u64(), Some(0), "{summary}");

    let labels: Vec<&str> = summary["markers"]
        .as_array()
        .expect("markers")
        .iter()
        .filter(|m| m["kind"] == "dns")
        .filter_map(|m| m["label"].as_str())
        .collect();
    assert_eq!(
        labels,
        [
            "target.test → 127.0.0.1 (us-east-1)",
            "target.test → 127.0.0.2 (us-east-1)"
        ],
        "the first answer and the change are reported once each"
    );
    assert!(
        outcome.stdout.contains("dns answers")
            && outcome
                .stdout
                .contains("target.test → 127.0.0.2 (us-east-1)"),
        "the terminal report lists the answers: {}",
        outcome.stdout
    );
}
