//! CPU per iteration of a typical k6 script on one VU, with every op answered
//! at once (no network): the JavaScript and bridge cost the worker adds to a
//! request. `cargo run --release -p sls-load-script --example iterations`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use sls_load_script::{Answer, Op, Program, Reply, Start, Step, Vu, VuConfig};

const SCRIPT: &str = r#"
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter } from 'k6/metrics';
const pages = new Counter('pages');
export default function () {
  const res = http.get('http://127.0.0.1:18080/');
  check(res, { 'status is 200': (r) => r.status === 200 });
  pages.add(1);
  sleep(0);
}
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = BTreeMap::from([("s.js".to_owned(), SCRIPT.as_bytes().to_vec())]);
    let program = Program::new("s.js", files)?;
    let config = VuConfig {
        vu: 1,
        env: BTreeMap::new(),
        setup_data: None,
        tags: BTreeMap::new(),
        discard_response_bodies: false,
        log: Arc::new(|_, _| {}),
        halted: None,
    };
    let mut vu = Vu::new(program.clone(), config.clone())?;
    let reply = Reply {
        status: 200,
        body: Some(vec![b'x'; 612]),
        headers: [
            ("Server", "nginx"),
            ("Date", "Mon, 07 Dec 2026 21:00:00 GMT"),
            ("Content-Type", "text/html"),
            ("Content-Length", "612"),
            ("Connection", "keep-alive"),
            ("Accept-Ranges", "bytes"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect(),
        url: "http://127.0.0.1:18080/".into(),
        proto: "HTTP/1.1".into(),
        ..Reply::default()
    };
    let n = 200_000u64;
    let began = Instant::now();
    for i in 0..n {
        let mut step = vu.start(Start {
            exec: "default".into(),
            iteration: i,
            iteration_in_scenario: i,
            scenario: "s".into(),
            executor: "constant-vus".into(),
            deadline: None,
        });
        while let Step::Op(op) = step {
            let answer = match op {
                Op::Request(_) => Answer::Reply(Box::new(reply.clone())),
                _ => Answer::Done,
            };
            step = vu.resume(answer);
        }
    }
    let per = began.elapsed() / u32::try_from(n)?;
    println!("{per:?} per iteration (get, check, counter, sleep(0))");

    let before = rss_kib();
    let began = Instant::now();
    let vus: Vec<Vu> = (0..1000)
        .map(|_| Vu::new(program.clone(), config.clone()))
        .collect::<Result<_, _>>()?;
    println!(
        "1,000 VUs: {:?} to init each, {} KiB of RSS each",
        began.elapsed() / 1000,
        (rss_kib() - before) / 1000
    );
    drop(vus);
    Ok(())
}

/// This process's resident memory (`VmRSS`), KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
