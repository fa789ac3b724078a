//! The k6 API as a script sees it, driven by hand: every op a VU stops at is
//! collected and answered as a worker would.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::*;

fn program(files: &[(&str, &str)]) -> Arc<Program> {
    let files: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect();
    let main = files.keys().next().cloned().unwrap_or_default();
    Program::new(&main, files).unwrap()
}

fn config(logs: Arc<Mutex<Vec<String>>>) -> VuConfig {
    VuConfig {
        vu: 1,
        env: BTreeMap::from([("BASE".to_owned(), "http://t".to_owned())]),
        setup_data: None,
        tags: BTreeMap::new(),
        discard_response_bodies: false,
        log: Arc::new(move |_, line| logs.lock().unwrap().push(line.to_owned())),
        halted: None,
    }
}

fn start(exec: &str, iter: u64) -> Start {
    Start {
        exec: exec.to_owned(),
        iteration: iter,
        iteration_in_scenario: iter,
        scenario: "default".to_owned(),
        executor: "constant-vus".to_owned(),
        deadline: None,
    }
}

/// Runs one iteration, answering every request with `status` and a JSON body
/// echoing its URL; returns the ops and how it ended.
fn run(vu: &mut Vu, exec: &str, iter: u64, status: u16) -> (Vec<Op>, Ended) {
    let mut ops = Vec::new();
    let mut step = vu.start(start(exec, iter));
    loop {
        match step {
            Step::Ended(e) => return (ops, e),
            Step::Op(op) => {
                let answer = match &op {
                    Op::Request(call) => Answer::Reply(Box::new(reply(call, status))),
                    Op::Batch(calls) => {
                        Answer::Replies(calls.iter().map(|c| reply(c, status)).collect())
                    }
                    Op::Abort(_) => Answer::Stop,
                    _ => Answer::Done,
                };
                ops.push(op);
                step = vu.resume(answer);
            }
        }
    }
}

fn reply(call: &HttpCall, status: u16) -> Reply {
    Reply {
        status,
        body: Some(format!(r#"{{"url":"{}","n":[1,2]}}"#, call.url).into_bytes()),
        headers: vec![("Content-Type".into(), "application/json".into())],
        url: call.url.clone(),
        proto: "HTTP/1.1".into(),
        ..Reply::default()
    }
}

const SEED: &str = r#"
import http from 'k6/http';
import { check, group, sleep } from 'k6';
import { Rate, Trend } from 'k6/metrics';
export const errorRate = new Rate('errors');
const t = new Trend('waiting', true);
export const options = { vus: 2, thresholds: { errors: ['rate<0.1'] } };
export default function () {
  group('front page', function () {
    const res = http.get(`${__ENV.BASE}/`, { tags: { name: 'home' } });
    const ok = check(res, { 'status is 200': (r) => r.status === 200, 'has n': (r) => r.json('n[1]') === 2 });
    errorRate.add(!ok);
    t.add(res.timings.waiting, { page: 'home' });
  });
  const r = http.post(`${__ENV.BASE}/login`, JSON.stringify({ u: __VU }), { headers: { 'Content-Type': 'application/json' } });
  sleep(1);
}
"#;

#[test]
fn a_seed_style_script_asks_for_its_requests_checks_metrics_and_sleeps_in_order() {
    let logs = Arc::default();
    let mut vu = Vu::new(program(&[("script.js", SEED)]), config(logs)).unwrap();
    let (ops, ended) = run(&mut vu, "default", 0, 200);
    assert_eq!(ended, Ended::Returned(None));
    let kinds: Vec<String> = ops
        .iter()
        .map(|op| match op {
            Op::Request(c) => format!(
                "{} {} name={} group={:?}",
                c.method,
                c.url,
                c.name(),
                c.tag("group")
            ),
            Op::Check(c) => format!("check {} {} {:?}", c.name, c.passed, c.tags),
            Op::Metric(m) => format!("{} {:?} {} {:?}", m.name, m.kind, m.value, m.tags),
            Op::Sleep(d) => format!("sleep {d:?}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds[..5],
        [
            "GET http://t/ name=home group=Some(\"::front page\")",
            "check status is 200 true [(\"group\", \"::front page\")]",
            "check has n true [(\"group\", \"::front page\")]",
            "errors Rate 0 [(\"group\", \"::front page\")]",
            "waiting Trend 0 [(\"group\", \"::front page\"), (\"page\", \"home\")]",
        ]
    );
    assert!(
        matches!(&ops[5], Op::Metric(m) if m.name == "group_duration" && m.is_time && m.tags == [("group".to_owned(), "::front page".to_owned())])
    );
    assert!(
        matches!(&ops[6], Op::Request(c) if c.method == "POST" && c.body.as_deref() == Some(br#"{"u":1}"#.as_slice()) && c.tag("group").is_none())
    );
    assert_eq!(ops[7], Op::Sleep(std::time::Duration::from_secs(1)));
    assert_eq!(ops.len(), 8);

    // A failing answer flips the checks and the rate.
    let (ops, _) = run(&mut vu, "default", 1, 503);
    assert!(
        ops.iter()
            .any(|op| matches!(op, Op::Metric(m) if m.name == "errors" && m.value == 1.0))
    );
}

#[test]
fn options_and_exports_are_read_without_running_an_iteration() {
    let script = "export const options = { stages: [{ duration: '10s', target: 5 }], thresholds: { http_req_duration: ['p(95)<500'] } };\nexport function setup() { return { a: 1 }; }\nexport default function () {}\n";
    let found = inspect(program(&[("s.js", script)]), config(Arc::default())).unwrap();
    assert_eq!(found.options["stages"][0]["target"], 5);
    assert!(found.has_function("setup") && found.has_function("default"));
    assert!(!found.has_function("teardown"));
}

#[test]
fn an_exception_names_its_place_and_the_vu_goes_on() {
    let script = "import http from 'k6/http';\nexport default function () {\n  if (__ITER === 0) { throw new Error('boom'); }\n  http.get('http://t/');\n}\n";
    let mut vu = Vu::new(program(&[("s.js", script)]), config(Arc::default())).unwrap();
    let (ops, ended) = run(&mut vu, "default", 0, 200);
    assert!(ops.is_empty());
    let Ended::Exception(e) = ended else {
        panic!("{ended:?}")
    };
    assert!(e.starts_with("Error: boom at default (s.js:3"), "{e}");
    let (ops, ended) = run(&mut vu, "default", 1, 200);
    assert_eq!((ops.len(), ended), (1, Ended::Returned(None)));
}

#[test]
fn init_errors_and_refused_modules_fail_the_vu_with_one_line() {
    let e = Vu::new(
        program(&[(
            "s.js",
            "import ws from 'k6/ws';\nexport default function () {}\n",
        )]),
        config(Arc::default()),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("import `k6/ws`"), "{e}");
    let e = Vu::new(
        program(&[("s.js", "throw new Error('bad init');\n")]),
        config(Arc::default()),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("bad init"), "{e}");
}

#[test]
fn a_stop_answer_ends_the_iteration_even_through_a_catch() {
    let script = "import http from 'k6/http';\nexport default function () {\n  for (;;) { try { http.get('http://t/'); } catch (e) {} }\n}\n";
    let mut vu = Vu::new(program(&[("s.js", script)]), config(Arc::default())).unwrap();
    let step = vu.start(start("default", 0));
    assert!(matches!(step, Step::Op(Op::Request(_))));
    let mut step = vu.resume(Answer::Stop);
    let mut guard = 0;
    while let Step::Op(_) = step {
        step = vu.resume(Answer::Stop);
        guard += 1;
        assert!(guard < 1000);
    }
    assert_eq!(step, Step::Ended(Ended::Interrupted));
}

#[test]
fn shared_arrays_local_modules_open_setup_data_and_batches() {
    let files = [
        (
            "s.js",
            r#"
import http from 'k6/http';
import { SharedArray } from 'k6/data';
import { pick } from './lib/pick.js';
import { randomItem, uuidv4 } from 'https://jslib.k6.io/k6-utils/1.4.0/index.js';
const users = new SharedArray('users', () => JSON.parse(open('./data/users.json')));
export default function (data) {
  const u = pick(users, __ITER);
  const rs = http.batch([['GET', `http://t/u/${u.id}?k=${data.key}`], { method: 'POST', url: 'http://t/p', body: { a: 'b c' } }]);
  if (rs.length !== 2 || rs[1].status !== 200) throw new Error('batch');
  if (uuidv4().length !== 36 || users.length !== 2 || randomItem([7]) !== 7) throw new Error('helpers');
  console.log(`user ${u.id}`);
}
"#,
        ),
        (
            "lib/pick.js",
            "export function pick(a, i) { return a[i % a.length]; }\n",
        ),
        ("data/users.json", r#"[{"id":"a"},{"id":"b"}]"#),
    ];
    let logs: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut cfg = config(logs.clone());
    cfg.setup_data = Some(r#"{"key":"K"}"#.into());
    let p = Program::new(
        "s.js",
        files
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect(),
    )
    .unwrap();
    let mut vu = Vu::new(p, cfg).unwrap();
    let (ops, ended) = run(&mut vu, "default", 1, 200);
    assert_eq!(ended, Ended::Returned(None));
    let Op::Batch(calls) = &ops[0] else {
        panic!("{ops:?}")
    };
    assert_eq!(calls[0].url, "http://t/u/b?k=K");
    assert_eq!(calls[1].body.as_deref(), Some(b"a=b%20c".as_slice()));
    assert!(calls[1].headers.contains(&(
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into()
    )));
    assert_eq!(logs.lock().unwrap().as_slice(), ["user b"]);
}

#[test]
fn a_loop_without_requests_is_interrupted_at_its_deadline() {
    let script = "export default function () { for (;;) {} }\n";
    let mut vu = Vu::new(program(&[("s.js", script)]), config(Arc::default())).unwrap();
    let mut s = start("default", 0);
    s.deadline = Some(std::time::Instant::now() + std::time::Duration::from_millis(50));
    assert_eq!(vu.start(s.clone()), Step::Ended(Ended::Interrupted));
    // The VU is usable afterwards: its next iteration runs (and is interrupted) too.
    s.deadline = Some(std::time::Instant::now() + std::time::Duration::from_millis(50));
    assert_eq!(vu.start(s), Step::Ended(Ended::Interrupted));
}
