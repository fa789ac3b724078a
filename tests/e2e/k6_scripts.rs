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
