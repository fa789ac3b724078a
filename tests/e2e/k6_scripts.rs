//! k6 scripts run unchanged (issue #25): `sls-load run script.js` reads the
//! script's `options` at plan time and the workers run its default function
//! per VU. The two seed scripts (samples/k6) run at reduced scale against the
//! sample target on loopback, counted at the target; k6's exit codes for
//! crossed thresholds (99), an exception in the init context (107) and
//! `test.abort()` (108); refused modules named one line each; an exception
//! inside an iteration ends that iteration only.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sls_load_e2e::{Target, run_local, scenario_file, sls_load};

const LIMIT: Duration = Duration::from_secs(120);

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/k6")
        .join(name)
}

/// The summary's threshold `metric expr` with its verdict.
fn threshold(summary: &serde_json::Value, metric: &str, expr: &str) -> (bool, serde_json::Value) {
    let t = summary["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .find(|t| t["metric"] == metric && t["expr"] == expr)
        .unwrap_or_else(|| panic!("no threshold {metric} {expr}: {summary}"));
    (t["ok"].as_bool().expect("ok"), t["observed"].clone())
}

fn total_requests(summary: &serde_json::Value) -> u64 {
    summary["total"]["requests"]
        .as_u64()
        .expect("total requests")
}

/// Stages 100 → 1,000 → 0 scaled down with `--stage`; `https://test.k6.io`
/// sent to the target by `--target`.
#[test]
fn the_stages_seed_runs_unchanged_and_the_target_counts_what_the_summary_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let script = sample("seed-stages.js");
    let flags = [
        "--target",
        &target.url,
        "--stage",
        "1s:2",
        "--stage",
        "2s:3",
        "--stage",
        "1s:0",
    ];
    let (run, summary) = run_local(dir.path(), &script, &flags, LIMIT);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let summary = summary.expect("a summary");
    let sent = total_requests(&summary);
    assert!(sent > 0, "{summary}");
    assert_eq!(
        target.requests(),
        sent,
        "the target counts what the summary says"
    );
    let (ok, _) = threshold(&summary, "http_req_duration", "p(95)<500");
    assert!(ok, "{summary}");
    let check = &summary["checks"]["status was 200"];
    assert_eq!(check["passes"].as_u64(), Some(sent), "{summary}");
}

/// The crocodiles seed: a custom `Rate('errors')` with its threshold, groups,
/// a JSON POST and four k6 Cloud load zones. The target's answers decide the
/// threshold: all 200s pass it, all 500s cross it (exit 99).
#[test]
fn the_crocodiles_seeds_custom_rate_threshold_follows_the_targets_answers() {
    for (error_rate, code) in [("0", 0), ("1", 99)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = Target::start(&["--error-rate", error_rate]);
        let script = sample("seed-crocodiles.js");
        let base = format!("BASE_URL={}", target.url);
        let flags = [
            "--target",
            &target.url,
            "-e",
            &base,
            "--stage",
            "1s:4",
            "--stage",
            "2s:4",
            "--stage",
            "1s:0",
        ];
        let (run, summary) = run_local(dir.path(), &script, &flags, LIMIT);
        assert_eq!(run.code(), code, "error rate {error_rate}: {}", run.stderr);
        let summary = summary.expect("a summary");
        let sent = total_requests(&summary);
        assert!(sent > 0, "{summary}");
        assert_eq!(
            target.requests(),
            sent,
            "the target counts what the summary says"
        );
        let regions = summary["regions"].as_object().map_or(0, |r| r.len());
        assert_eq!(regions, 4, "ashburn, dublin, singapore, sydney: {summary}");
        let (ok, observed) = threshold(&summary, "errors", "rate<0.1");
        let expected = if error_rate == "0" { 0.0 } else { 1.0 };
        assert_eq!(observed.as_f64(), Some(expected), "{summary}");
        assert_eq!(ok, error_rate == "0", "{summary}");
        if code == 99 {
            assert!(run.stderr.contains("errors rate<0.1"), "{}", run.stderr);
        }
    }
}

fn script(dir: &Path, text: &str) -> String {
    scenario_file(dir, "script.js", text)
        .to_str()
        .expect("utf-8")
        .to_owned()
}

#[test]
fn an_exception_in_the_init_context_is_exit_107_and_nothing_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = script(
        dir.path(),
        "import http from 'k6/http';\nthrow new Error('no config');\nexport default function () {}\n",
    );
    let out = sls_load(&["plan", &path], LIMIT);
    assert_eq!(out.code(), 107, "{}", out.stderr);
    assert!(out.stderr.contains("no config"), "{}", out.stderr);
    assert!(out.stderr.contains("script.js"), "{}", out.stderr);
}

#[test]
fn unsupported_modules_are_refused_at_plan_one_line_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = script(
        dir.path(),
        "import ws from 'k6/ws';\nimport grpc from 'k6/net/grpc';\n\
         import { x } from 'https://example.com/x.js';\nexport default function () {}\n",
    );
    let out = sls_load(&["plan", &path, "--json"], LIMIT);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    for import in ["k6/ws", "k6/net/grpc", "https://example.com/x.js"] {
        let lines: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains(&format!("import `{import}`")))
            .collect();
        assert_eq!(lines.len(), 1, "{import}: {}", out.stderr);
    }
    assert!(out.stdout.is_empty());
}

/// `test.abort()` in one iteration stops the test: exit 108, and the summary
/// still counts what was sent, as the target does.
#[test]
fn test_abort_ends_the_run_with_exit_108() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let path = script(
        dir.path(),
        &format!(
            "import http from 'k6/http';\nimport exec from 'k6/execution';\n\
             export const options = {{ vus: 1, duration: '20s' }};\n\
             export default function () {{\n  http.get('{}/x');\n\
               if (exec.scenario.iterationInTest >= 2) exec.test.abort('enough');\n}}\n",
            target.url
        ),
    );
    let (run, summary) = run_local(dir.path(), Path::new(&path), &[], LIMIT);
    assert_eq!(run.code(), 108, "{}", run.stderr);
    assert!(run.stderr.contains("enough"), "{}", run.stderr);
    let summary = summary.expect("a summary");
    assert_eq!(target.requests(), total_requests(&summary));
    assert_eq!(total_requests(&summary), 3, "{summary}");
}

/// An exception inside an iteration ends that iteration only: it is counted,
/// the VU goes on, the run passes (k6's exit code 0), and every request sent
/// before the throw reached the target.
#[test]
fn an_exception_in_an_iteration_ends_that_iteration_and_the_run_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let path = script(
        dir.path(),
        &format!(
            "import http from 'k6/http';\nimport {{ Counter }} from 'k6/metrics';\n\
             const done = new Counter('done');\n\
             export const options = {{ scenarios: {{ s: {{ executor: 'per-vu-iterations', \
             vus: 2, iterations: 5 }} }}, thresholds: {{ done: ['count==6'], \
             'done{{vu:1}}': ['count==3'] }} }};\n\
             export default function () {{\n  http.get('{}/a');\n\
               if (__ITER % 5 === 1 || __ITER % 5 === 3) throw new Error('boom');\n\
               done.add(1, {{ vu: String(__VU) }});\n}}\n",
            target.url
        ),
    );
    let (run, summary) = run_local(dir.path(), Path::new(&path), &[], LIMIT);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let summary = summary.expect("a summary");
    assert_eq!(total_requests(&summary), 10, "{summary}");
    assert_eq!(target.requests(), 10);
    assert!(threshold(&summary, "done", "count==6").0, "{summary}");
    assert!(threshold(&summary, "done{vu:1}", "count==3").0, "{summary}");
}

/// A local module, a data file through `SharedArray`, loops, groups with
/// checks, a custom time trend: each user of the file is posted once per
/// iteration; `--k6-summary` nests the groups with their checks.
#[test]
fn data_files_local_modules_groups_and_custom_trends_run_as_in_k6() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    scenario_file(
        dir.path(),
        "lib.js",
        "export function path(user) { return `/users/${user.id}`; }\n",
    );
    scenario_file(
        dir.path(),
        "users.json",
        r#"[{"id": 1}, {"id": 2}, {"id": 3}]"#,
    );
    let path = script(
        dir.path(),
        &format!(
            "import http from 'k6/http';\nimport {{ check, group }} from 'k6';\n\
             import {{ SharedArray }} from 'k6/data';\nimport {{ Trend }} from 'k6/metrics';\n\
             import {{ path }} from './lib.js';\n\
             const users = new SharedArray('users', () => JSON.parse(open('./users.json')));\n\
             const wait = new Trend('wait', true);\n\
             export const options = {{ scenarios: {{ s: {{ executor: 'shared-iterations', \
             vus: 2, iterations: 4 }} }}, thresholds: {{ wait: ['p(95)<5000'] }} }};\n\
             export default function () {{\n\
               group('shop', () => {{\n\
                 for (const u of users) {{\n\
                   const res = http.post('{}' + path(u), JSON.stringify(u));\n\
                   wait.add(res.timings.duration);\n\
                   group('cart', () => check(res, {{ 'is 200': (r) => r.status === 200 }}));\n\
                 }}\n\
               }});\n}}\n",
            target.url
        ),
    );
    let k6 = dir.path().join("k6.json");
    let k6_flag = k6.to_str().expect("utf-8");
    let (run, summary) = run_local(
        dir.path(),
        Path::new(&path),
        &["--k6-summary", k6_flag],
        LIMIT,
    );
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let summary = summary.expect("a summary");
    assert_eq!(total_requests(&summary), 12, "{summary}");
    let stats = target.stats();
    for id in 1..=3 {
        assert_eq!(stats["by_path"][format!("/users/{id}")], 4, "{stats}");
    }
    assert!(threshold(&summary, "wait", "p(95)<5000").0, "{summary}");
    let k6 = sls_load_e2e::read_json(&k6);
    let cart = &k6["root_group"]["groups"]["shop"]["groups"]["cart"];
    assert_eq!(cart["checks"]["is 200"]["passes"], 12, "{k6}");
    assert_eq!(cart["checks"]["is 200"]["path"], "::shop::cart::is 200");
    assert_eq!(k6["metrics"]["wait"]["thresholds"]["p(95)<5000"], false);
    assert!(
        k6["metrics"]["group_duration"]["max"].as_f64().is_some(),
        "{k6}"
    );
}

/// `http.batch` sends side by side; `expectedStatuses` with a range and a
/// code decides what `http_req_failed` counts; `fail()` ends an iteration
/// as an exception the summary lists.
#[test]
fn batch_expected_statuses_and_fail_count_as_k6_counts_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Every second request is answered 500, which the script expects.
    let target = Target::start(&["--error-rate", "0.5"]);
    let path = script(
        dir.path(),
        &format!(
            "import http from 'k6/http';\nimport {{ fail }} from 'k6';\n\
             http.setResponseCallback(http.expectedStatuses({{ min: 200, max: 299 }}, 500));\n\
             export const options = {{ vus: 1, iterations: 5, \
             thresholds: {{ http_req_failed: ['rate==0'] }} }};\n\
             export default function () {{\n\
               const rs = http.batch(['{0}/a', '{0}/b', ['GET', '{0}/c']]);\n\
               if (__ITER === 4) fail('the last one');\n}}\n",
            target.url
        ),
    );
    let (run, summary) = run_local(dir.path(), Path::new(&path), &[], LIMIT);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let summary = summary.expect("a summary");
    assert_eq!(total_requests(&summary), 15, "{summary}");
    assert_eq!(target.requests(), 15);
    assert!(target.stats()["by_status"]["500"].as_u64() > Some(0));
    assert!(
        threshold(&summary, "http_req_failed", "rate==0").0,
        "{summary}"
    );
    let exceptions = summary["exceptions"].as_object().expect("exceptions");
    assert!(
        exceptions.keys().any(|m| m.contains("the last one")),
        "{summary}"
    );
}

/// `abortOnFail` on a custom metric stops the run (exit 99) as soon as it fails.
#[test]
fn abort_on_fail_on_a_custom_metric_stops_the_run_with_exit_99() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let path = script(
        dir.path(),
        &format!(
            "import http from 'k6/http';\nimport {{ sleep }} from 'k6';\n\
             import {{ Counter }} from 'k6/metrics';\nconst bad = new Counter('bad');\n\
             export const options = {{ vus: 1, duration: '60s', thresholds: {{ bad: \
             [{{ threshold: 'count<3', abortOnFail: true }}] }} }};\n\
             export default function () {{ http.get('{}/'); bad.add(1); sleep(0.2); }}\n",
            target.url
        ),
    );
    let (run, summary) = run_local(dir.path(), Path::new(&path), &[], LIMIT);
    assert_eq!(run.code(), 99, "{}", run.stderr);
    let summary = summary.expect("a summary");
    assert!(
        summary["aborted_by"]
            .as_str()
            .is_some_and(|a| a.contains("bad")),
        "{summary}"
    );
    assert_eq!(target.requests(), total_requests(&summary));
}

/// Two scenarios, one `ramping-arrival-rate` running an exported function
/// (`exec`), one `constant-vus` the default: each path is counted at the
/// target as the summary names it.
#[test]
fn scenarios_run_their_exec_functions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&[]);
    let path = script(
        dir.path(),
        &format!(
            "import http from 'k6/http';\nimport {{ sleep }} from 'k6';\n\
             export const options = {{ scenarios: {{\n\
               api: {{ executor: 'ramping-arrival-rate', exec: 'api', startRate: 2, \
             timeUnit: '1s', preAllocatedVUs: 2, maxVUs: 4, \
             stages: [{{ duration: '2s', target: 4 }}] }},\n\
               home: {{ executor: 'constant-vus', vus: 1, duration: '2s' }} }} }};\n\
             export function api() {{ http.get('{0}/api', {{ tags: {{ name: 'api' }} }}); }}\n\
             export default function () {{ http.get('{0}/home', {{ tags: {{ name: 'home' }} }}); \
             sleep(0.1); }}\n",
            target.url
        ),
    );
    let (run, summary) = run_local(dir.path(), Path::new(&path), &[], LIMIT);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let summary = summary.expect("a summary");
    let stats = target.stats();
    for (name, path) in [("api", "/api"), ("home", "/home")] {
        let counted = summary["requests"][name]["requests"].as_u64().expect(name);
        assert!(counted > 0, "{summary}");
        assert_eq!(stats["by_path"][path].as_u64(), Some(counted), "{stats}");
    }
}

/// `setup()` runs once before the workers (its requests reach the target),
/// what it returns is every iteration's argument, and `teardown()` gets it
/// after the run; an exception in `setup()` is exit 107 with nothing started.
#[test]
fn setup_data_reaches_every_iteration_and_teardown_runs_last() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::start(&["--expect-header", "X-Token=ok-42"]);
    let source = |setup_body: &str| {
        format!(
            "import http from 'k6/http';\n\
             export const options = {{ vus: 2, iterations: 6 }};\n\
             export function setup() {{ {setup_body} \
             const res = http.post('{0}/login', 'u=1');\n\
               return {{ token: res.body.trim() + '-42' }}; }}\n\
             export default function (data) {{ \
             http.get('{0}/me', {{ headers: {{ 'X-Token': data.token }} }}); }}\n\
             export function teardown(data) {{ http.del('{0}/session/' + data.token); }}\n",
            target.url
        )
    };
    let path = script(dir.path(), &source(""));
    let (run, summary) = run_local(dir.path(), Path::new(&path), &[], LIMIT);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let summary = summary.expect("a summary");
    assert_eq!(total_requests(&summary), 6, "{summary}");
    let stats = target.stats();
    assert_eq!(stats["by_path"]["/login"], 1, "{stats}");
    assert_eq!(stats["by_path"]["/me"], 6, "{stats}");
    assert_eq!(stats["expected_headers"][0], 6, "{stats}");
    assert_eq!(stats["by_path"]["/session/ok-42"], 1, "{stats}");

    let before = target.requests();
    let path = script(dir.path(), &source("throw new Error('no login');"));
    let (run, _) = run_local(dir.path(), Path::new(&path), &[], LIMIT);
    assert_eq!(run.code(), 107, "{}", run.stderr);
    assert!(run.stderr.contains("no login"), "{}", run.stderr);
    assert_eq!(target.requests(), before, "nothing was started");
}
