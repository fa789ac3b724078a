//! k6 scripts run by the engine against a loopback server: what the server
//! saw equals what the recorder counted, and checks, custom metrics, groups,
//! exceptions and `test.abort()` land where the manifest and the interval logs
//! say.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::tests::{job, scenario, server};
use super::*;
use crate::job::{Executor, JobScript, ScriptFile};

fn script_job(url: &str, source: &str, executor: Executor, duration: Duration) -> Job {
    let mut s = scenario("default", executor, vec![]);
    s.duration = Some(duration);
    let mut job = job(url, duration, vec![s]);
    job.env = BTreeMap::from([("BASE".to_owned(), url.to_owned())]);
    job.script = Some(JobScript {
        main: "script.js".into(),
        files: BTreeMap::from([("script.js".to_owned(), ScriptFile::Text(source.into()))]),
        exec: BTreeMap::new(),
        setup_data: None,
        discard_response_bodies: false,
        tags: BTreeMap::new(),
        retarget: false,
    });
    job
}

async fn run_script(job: &Job) -> (EngineReport, Arc<Recorder>, Vec<u8>) {
    let clock = Clock::now();
    let recorder = Arc::new(Recorder::new(
        clock.instant_of(job.run_start()),
        job.run_start(),
        Vec::new(),
    ));
    let report = run(job, recorder.clone(), clock)
        .await
        .expect("engine runs");
    recorder.close().expect("close");
    let log = recorder.take_log("t").expect("encodes").unwrap_or_default();
    (report, recorder, log)
}

/// Sum of the histogram counts of every interval whose tag has all of `parts`.
fn count(log: &[u8], parts: &[&str]) -> u64 {
    sls_load_core::hlog::decode(log)
        .map(|i| i.expect("parses"))
        .filter(|i| parts.iter().all(|p| i.tag.contains(p)))
        .map(|i| i.histogram.len())
        .sum()
}

const SEED: &str = r#"
import http from 'k6/http';
import { check, group, sleep } from 'k6';
import { Rate } from 'k6/metrics';
export const errorRate = new Rate('errors');
export default function () {
  group('front', function () {
    const res = http.get(`${__ENV.BASE}/`, { tags: { name: 'home' } });
    const ok = check(res, { 'token': (r) => r.json('token').startsWith('t') });
    errorRate.add(!ok);
  });
  http.post(`${__ENV.BASE}/login`, JSON.stringify({ vu: __VU }), { headers: { 'Content-Type': 'application/json' } });
  sleep(0.05);
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_script_sends_what_it_records_with_its_checks_groups_and_custom_rate() {
    let (url, seen) = server(Duration::ZERO).await;
    let job = script_job(
        &url,
        SEED,
        Executor::ConstantVus { vus: 2 },
        Duration::from_secs(1),
    );
    let (_, recorder, log) = run_script(&job).await;
    let counts = recorder.counts();
    let at_server = seen.paths.lock().expect("lock").len() as u64;
    let home = counts["home"].requests;
    let login = counts[&format!("{url}/login")].requests;
    assert!(home >= 10, "{counts:?}");
    assert_eq!(home + login, at_server, "{counts:?}");
    assert_eq!(count(&log, &["metric=http_req_duration"]), at_server);
    assert_eq!(
        count(
            &log,
            &["metric=http_req_duration;name=home", "group=::front"]
        ),
        home
    );
    let checks = recorder.checks();
    assert_eq!(checks["token"].passes, home);
    assert_eq!(
        count(
            &log,
            &["metric=checks;check=token;passed=true", "group=::front"]
        ),
        home
    );
    assert_eq!(
        count(&log, &["metric=errors;metric_type=rate;passed=false"]),
        home
    );
    assert_eq!(
        count(
            &log,
            &[
                "metric=group_duration;metric_type=trend;contains=time",
                "group=::front"
            ]
        ),
        home
    );
    assert!(
        recorder.exceptions().is_empty(),
        "{:?}",
        recorder.exceptions()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exception_ends_its_iteration_only_and_is_counted_with_its_place() {
    let (url, seen) = server(Duration::ZERO).await;
    let source = "import http from 'k6/http';\nexport default function () {\n  if (__VU === 1 && __ITER < 3) { throw new Error('boom'); }\n  http.get(`${__ENV.BASE}/x`);\n}\n";
    let job = script_job(
        &url,
        source,
        Executor::PerVuIterations {
            vus: 2,
            iterations: 5,
        },
        Duration::from_secs(5),
    );
    let (_, recorder, log) = run_script(&job).await;
    assert_eq!(seen.paths.lock().expect("lock").len(), 7);
    let exceptions = recorder.exceptions();
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    let (message, n) = exceptions.iter().next().expect("one");
    assert!(
        message.starts_with("Error: boom at default (script.js:3"),
        "{message}"
    );
    assert_eq!(*n, 3);
    assert_eq!(count(&log, &["metric=iteration_duration"]), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_abort_stops_the_engine_and_is_noted() {
    let (url, seen) = server(Duration::ZERO).await;
    let source = "import http from 'k6/http';\nimport exec from 'k6/execution';\nexport default function () {\n  http.get(`${__ENV.BASE}/a`);\n  if (__ITER === 2) { exec.test.abort('enough'); }\n}\n";
    let job = script_job(
        &url,
        source,
        Executor::ConstantVus { vus: 1 },
        Duration::from_secs(10),
    );
    let started = std::time::Instant::now();
    let (_, recorder, _) = run_script(&job).await;
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_eq!(recorder.aborted().as_deref(), Some("enough"));
    assert_eq!(seen.paths.lock().expect("lock").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_data_exec_functions_batches_and_expected_statuses() {
    let (url, seen) = server(Duration::ZERO).await;
    let source = r#"
import http from 'k6/http';
import { Counter } from 'k6/metrics';
const hits = new Counter('hits');
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 204 }));
export function browse(data) {
  const rs = http.batch([`${__ENV.BASE}/b1?k=${data.key}`, `${__ENV.BASE}/b2`, ['GET', `${__ENV.BASE}/b3`, null, { tags: { kind: 'third' } }]]);
  hits.add(rs.length, { kind: 'batch' });
}
"#;
    let mut job = script_job(
        &url,
        source,
        Executor::PerVuIterations {
            vus: 2,
            iterations: 3,
        },
        Duration::from_secs(5),
    );
    let script = job.script.as_mut().expect("script");
    script.exec = BTreeMap::from([("default".to_owned(), "browse".to_owned())]);
    script.setup_data = Some(r#"{"key":"K"}"#.into());
    let (_, recorder, log) = run_script(&job).await;
    let paths = seen.paths.lock().expect("lock").clone();
    assert_eq!(paths.len(), 18, "{paths:?}");
    assert_eq!(paths.iter().filter(|p| p.as_str() == "/b1?k=K").count(), 6);
    assert_eq!(
        count(&log, &["metric=hits;metric_type=counter", "kind=batch"]),
        18
    );
    assert_eq!(
        count(
            &log,
            &["name=", "b3", "kind=third", "metric=http_req_duration"]
        ),
        6
    );
    assert_eq!(count(&log, &["metric=http_req_failed"]), 0);
    assert_eq!(
        recorder.counts().values().map(|c| c.requests).sum::<u64>(),
        18
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_scripts_run_unchanged_against_the_target() {
    let (url, seen) = server(Duration::ZERO).await;
    // Seed 1 names https://test.k6.io: `--target` sends it to the loopback server.
    let mut job = script_job(
        &url,
        include_str!("../../../samples/k6/seed-stages.js"),
        Executor::PerVuIterations {
            vus: 2,
            iterations: 2,
        },
        Duration::from_secs(10),
    );
    job.script.as_mut().expect("script").retarget = true;
    let (_, recorder, log) = run_script(&job).await;
    assert_eq!(seen.paths.lock().expect("lock").len(), 4);
    assert_eq!(recorder.counts()["https://test.k6.io"].requests, 4);
    assert_eq!(recorder.checks()["status was 200"].passes, 4);
    assert_eq!(count(&log, &["metric=http_req_duration"]), 4);

    // Seed 2 through `-e BASE_URL=`: the server answers no `access`, so every
    // login fails its check and the error rate is one half.
    let mut job = script_job(
        &url,
        include_str!("../../../samples/k6/seed-crocodiles.js"),
        Executor::PerVuIterations {
            vus: 2,
            iterations: 2,
        },
        Duration::from_secs(10),
    );
    job.env.insert("BASE_URL".into(), url.clone());
    let (_, recorder, log) = run_script(&job).await;
    assert_eq!(seen.paths.lock().expect("lock").len(), 4 + 8);
    assert_eq!(
        count(
            &log,
            &[
                "metric=errors;metric_type=rate;passed=false",
                "group=::public%20crocodiles"
            ]
        ),
        4
    );
    assert_eq!(
        count(
            &log,
            &[
                "metric=errors;metric_type=rate;passed=true",
                "group=::login"
            ]
        ),
        4
    );
    assert_eq!(recorder.checks()["logged in"].fails, 4);
    assert_eq!(
        count(
            &log,
            &["metric=http_req_duration", "method=POST", "group=::login"]
        ),
        4
    );
}
