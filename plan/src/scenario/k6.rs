//! k6 scripts as scenarios: the `options` a script exports (read by the script
//! crate at `plan`, as JSON) turned into the same validated [`Scenario`] a YAML
//! file gives, with the script itself as every job's [`JobScript`].
//!
//! k6's option names are the YAML scenario's (k6's camelCase keys are accepted
//! there), so the options are rewritten into a scenario document and read by
//! [`super::parse`]: every rule and error of the YAML path applies, its
//! messages naming `options.KEY` in the script. Options the YAML path has no key
//! for (`userAgent`, `noConnectionReuse`, `tags`, `discardResponseBodies`, ...)
//! are set on the result, thresholds are read here (they may name the script's
//! own metrics), and options sls-load does not act on are named in one notice
//! each. This module does not run JavaScript or read files (the orchestrator
//! does, with the script crate).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value, json};
use sls_load_core::job::JobScript;

use super::{MAX_JOB_PAYLOAD, Scenario, ScenarioError};
use crate::threshold::{CustomMetric, Threshold};

/// The name of the one request a script scenario lists (the script, not a
/// request list, says what each iteration sends).
pub const SCRIPT_REQUEST: &str = "script";

/// k6 options read into the scenario or its script.
const TRANSLATED: [&str; 19] = [
    "scenarios",
    "vus",
    "duration",
    "iterations",
    "stages",
    "thresholds",
    "ext",
    "cloud",
    "userAgent",
    "noConnectionReuse",
    "noVUConnectionReuse",
    "insecureSkipTLSVerify",
    "maxRedirects",
    "discardResponseBodies",
    "tags",
    "dns",
    "httpDebug",
    "summaryTrendStats",
    "summaryTimeUnit",
];

/// k6 options that change nothing a worker does; accepted without a notice.
const HARMLESS: [&str; 7] = [
    "noUsageReport",
    "setupTimeout",
    "teardownTimeout",
    "systemTags",
    "thresholdsAbortOnFail",
    "batch",
    "batchPerHost",
];

/// The script `path` (its `options` and declared metrics as the script crate
/// read them) as a scenario aimed at `target`, each job carrying `script`.
pub fn from_options(
    path: &Path,
    options: &Value,
    declared: &[CustomMetric],
    target: &str,
    mut script: JobScript,
) -> Result<Scenario, ScenarioError> {
    let fail = |key: Option<String>, message: String| {
        ScenarioError::new(path, None, key.map(|k| format!("options.{k}")), &message)
    };
    let empty = Map::new();
    let options = match options {
        Value::Object(o) => o,
        Value::Null => &empty,
        _ => return Err(fail(None, "must be an object".into())),
    };
    let mut notices = Vec::new();
    let doc = document(options, target, &mut script.exec, &mut notices)
        .map_err(|(key, m)| fail(key, m))?;
    let text =
        serde_json::to_string_pretty(&Value::Object(doc)).map_err(|e| fail(None, e.to_string()))?;
    let mut scenario = super::parse(path, text.as_bytes()).map_err(|e| {
        let key = e.key.clone().unwrap_or_default();
        fail((!key.is_empty()).then_some(key), e.message.clone())
    })?;
    scenario.thresholds = thresholds(options.get("thresholds"), declared)
        .map_err(|(k, m)| fail(Some(format!("thresholds.{k}")), m))?;
    http(options, &mut scenario).map_err(|(k, m)| fail(Some(k.into()), m))?;
    script.discard_response_bodies = options
        .get("discardResponseBodies")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Some(tags) = options.get("tags") {
        script.tags = string_map(tags).map_err(|m| fail(Some("tags".into()), m))?;
    }
    for key in options.keys() {
        if !TRANSLATED.contains(&key.as_str()) && !HARMLESS.contains(&key.as_str()) {
            notices.push(format!(
                "{}: options.{key} is not supported by sls-load and is ignored",
                path.display()
            ));
        }
    }
    check_size(path, &script)?;
    scenario.notices.extend(notices);
    scenario.script = Some(script);
    Ok(scenario)
}

/// The options as the YAML scenario document they stand for (each scenario
/// listing the one placeholder request); an error names the option.
fn document(
    options: &Map<String, Value>,
    target: &str,
    exec: &mut BTreeMap<String, String>,
    notices: &mut Vec<String>,
) -> Result<Map<String, Value>, (Option<String>, String)> {
    let mut doc = Map::new();
    doc.insert("target".into(), json!(target));
    for key in ["vus", "duration", "iterations", "stages"] {
        if let Some(v) = options.get(key) {
            doc.insert(key.into(), v.clone());
        }
    }
    let request = json!([{ "name": SCRIPT_REQUEST, "url": "/" }]);
    match options.get("scenarios") {
        Some(Value::Object(scenarios)) => {
            let mut out = Map::new();
            for (name, def) in scenarios {
                let def = scenario(name, def, exec, notices)
                    .map_err(|m| (Some(format!("scenarios.{name}")), m))?;
                let mut def = def;
                def.insert("requests".into(), request.clone());
                out.insert(name.clone(), Value::Object(def));
            }
            doc.insert("scenarios".into(), Value::Object(out));
        }
        Some(_) => return Err((Some("scenarios".into()), "must be an object".into())),
        None => {
            if !["vus", "duration", "iterations", "stages"]
                .iter()
                .any(|k| options.contains_key(*k))
            {
                // k6's default: one VU, one iteration.
                doc.insert("vus".into(), json!(1));
                doc.insert("iterations".into(), json!(1));
            }
            doc.insert("requests".into(), request);
        }
    }
    if let Some(zones) = distribution(options) {
        doc.insert("distribution".into(), zones.clone());
    }
    if let Some(dns) = options.get("dns") {
        doc.insert("dns".into(), dns.clone());
    }
    Ok(doc)
}

/// One k6 scenario as the YAML scenario reads it; its `exec` noted in `exec`.
fn scenario(
    name: &str,
    def: &Value,
    exec: &mut BTreeMap<String, String>,
    notices: &mut Vec<String>,
) -> Result<Map<String, Value>, String> {
    let Value::Object(def) = def else {
        return Err("must be an object".into());
    };
    let mut out = Map::new();
    for (key, value) in def {
        match key.as_str() {
            "exec" => {
                let f = value.as_str().ok_or("exec: must be a function's name")?;
                exec.insert(name.to_owned(), f.to_owned());
            }
            "env" | "tags" => notices.push(format!(
                "options.scenarios.{name}.{key} is not supported by sls-load and is ignored"
            )),
            // k6's keys are the YAML scenario's; unknown ones are named by its reader.
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(out)
}

/// k6 Cloud's load zones: `ext.loadimpact.distribution` or `cloud.distribution`.
fn distribution(options: &Map<String, Value>) -> Option<&Value> {
    options
        .get("cloud")
        .and_then(|c| c.get("distribution"))
        .or_else(|| {
            options
                .get("ext")
                .and_then(|e| e.get("loadimpact"))
                .and_then(|l| l.get("distribution"))
        })
}

/// The thresholds, in k6's forms (`"p(95)<500"` or `{ threshold, abortOnFail,
/// delayAbortEval }`), on k6's metrics or the script's own; an error names the
/// metric key.
fn thresholds(
    raw: Option<&Value>,
    declared: &[CustomMetric],
) -> Result<Vec<Threshold>, (String, String)> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let Value::Object(raw) = raw else {
        return Err((String::new(), "must be an object".into()));
    };
    let mut out = Vec::new();
    let mut declared = declared.to_vec();
    declared.push(CustomMetric::group_duration());
    for (key, list) in raw {
        let fail = |m: String| (key.clone(), m);
        let entries = match list {
            Value::Array(a) => a.clone(),
            v => vec![v.clone()],
        };
        for entry in entries {
            let (expr, abort, delay) = match &entry {
                Value::String(s) => (s.clone(), false, Duration::ZERO),
                Value::Object(o) => {
                    let expr = o
                        .get("threshold")
                        .and_then(Value::as_str)
                        .ok_or_else(|| fail("an object threshold needs `threshold`".into()))?;
                    let abort = o
                        .get("abortOnFail")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    let delay = match o.get("delayAbortEval").and_then(Value::as_str) {
                        Some(d) => sls_load_core::duration::parse(d)
                            .map_err(|e| fail(format!("delayAbortEval: {e}")))?,
                        None => Duration::ZERO,
                    };
                    (expr.to_owned(), abort, delay)
                }
                _ => {
                    return Err(fail(
                        "expected \"p(95)<500\" or { threshold, abortOnFail }".into(),
                    ));
                }
            };
            let t = Threshold::parse_with(key, &expr, &declared).map_err(|e| fail(e.detail()))?;
            out.push(Threshold {
                abort_on_fail: abort,
                delay_abort_eval: delay,
                ..t
            });
        }
    }
    Ok(out)
}

/// k6's protocol options onto the scenario's `http`.
fn http(
    options: &Map<String, Value>,
    scenario: &mut Scenario,
) -> Result<(), (&'static str, String)> {
    let flag = |key: &'static str| -> Result<Option<bool>, (&'static str, String)> {
        match options.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err((key, "must be true or false".into())),
        }
    };
    if let Some(ua) = options.get("userAgent") {
        let ua = ua
            .as_str()
            .ok_or(("userAgent", "must be a string".to_owned()))?;
        scenario.http.user_agent = Some(ua.to_owned());
    }
    // sls-load opens a VU's connection per iteration at most: k6's
    // `noConnectionReuse` (none reused at all) is met per iteration.
    if flag("noConnectionReuse")? == Some(true) || flag("noVUConnectionReuse")? == Some(true) {
        scenario.http.new_connection_per_iteration = true;
    }
    if let Some(skip) = flag("insecureSkipTLSVerify")? {
        scenario.http.insecure_skip_tls_verify = skip;
    }
    if let Some(n) = options.get("maxRedirects") {
        let n = n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(("maxRedirects", "must be a whole number".to_owned()))?;
        scenario.http.max_redirects = n;
    }
    Ok(())
}

/// `{ key: value }` with every value turned into text, as k6 tags are.
fn string_map(v: &Value) -> Result<BTreeMap<String, String>, String> {
    let Value::Object(o) = v else {
        return Err("must be an object of tag names to values".into());
    };
    Ok(o.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect())
}

/// Refuses a script whose files would not fit in a worker's job.
fn check_size(path: &Path, script: &JobScript) -> Result<(), ScenarioError> {
    let size = serde_json::to_vec(script).map_or(0, |v| v.len());
    if size <= MAX_JOB_PAYLOAD {
        return Ok(());
    }
    let biggest = script
        .files
        .iter()
        .max_by_key(|(_, f)| serde_json::to_vec(f).map_or(0, |v| v.len()))
        .map(|(name, _)| name.as_str())
        .unwrap_or_default();
    Err(ScenarioError::new(
        path,
        None,
        None,
        &format!(
            "the script and the files it imports and opens are {} KB as job JSON (the largest: \
             `{biggest}`); a worker's job must stay under {} KB (Lambda limits asynchronous \
             invocations to 256 KB)",
            size.div_ceil(1024),
            MAX_JOB_PAYLOAD / 1024
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::ExecutorDef;
    use crate::threshold::{CustomKind, Metric};
    use sls_load_core::job::ScriptFile;

    fn script() -> JobScript {
        JobScript {
            main: "s.js".into(),
            files: BTreeMap::from([("s.js".into(), ScriptFile::Text("x".into()))]),
            exec: BTreeMap::new(),
            setup_data: None,
            discard_response_bodies: false,
            tags: BTreeMap::new(),
            retarget: false,
        }
    }

    fn read(options: Value, declared: &[CustomMetric]) -> Result<Scenario, ScenarioError> {
        from_options(
            Path::new("s.js"),
            &options,
            declared,
            "http://127.0.0.1:8080",
            script(),
        )
    }

    #[test]
    fn stages_and_a_custom_rate_threshold_read_as_k6_reads_them() {
        let errors = CustomMetric::new("errors", CustomKind::Rate, false).unwrap();
        let s = read(
            json!({
                "stages": [{ "duration": "2s", "target": 4 }, { "duration": "1s", "target": 0 }],
                "thresholds": { "errors": ["rate<0.1"], "http_req_duration": ["p(95)<2000"] },
                "ext": { "loadimpact": { "distribution": {
                    "a": { "loadZone": "amazon:us:ashburn", "percent": 60 },
                    "b": { "loadZone": "amazon:ie:dublin", "percent": 40 } } } },
                "userAgent": "MyK6/1.0",
                "noConnectionReuse": true,
            }),
            &[errors],
        )
        .expect("reads");
        assert!(matches!(
            s.scenarios[0].executor,
            ExecutorDef::RampingVus { .. }
        ));
        assert_eq!(s.duration, Duration::from_secs(3));
        let regions: Vec<&str> = s.regions.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(regions, ["us-east-1", "eu-west-1"]);
        assert_eq!(s.thresholds[0].metric, Metric::Custom(errors));
        assert_eq!(s.thresholds[1].metric, Metric::HttpReqDuration);
        assert_eq!(s.http.user_agent.as_deref(), Some("MyK6/1.0"));
        assert!(s.http.new_connection_per_iteration);
        assert!(s.script.is_some());
    }

    #[test]
    fn no_options_is_one_vu_and_one_iteration() {
        let s = read(Value::Null, &[]).expect("reads");
        assert!(matches!(
            s.scenarios[0].executor,
            ExecutorDef::SharedIterations {
                vus: 1,
                iterations: 1
            }
        ));
    }

    #[test]
    fn scenarios_keep_their_exec_and_errors_name_the_option() {
        let s = read(
            json!({ "scenarios": { "api": {
                "executor": "ramping-arrival-rate", "exec": "api", "startRate": 1,
                "timeUnit": "1s", "preAllocatedVUs": 2, "maxVUs": 4,
                "stages": [{ "duration": "2s", "target": 5 }] } } }),
            &[],
        )
        .expect("reads");
        assert_eq!(s.script.unwrap().exec["api"], "api");
        let e = read(json!({ "thresholds": { "nope": ["rate<0.1"] } }), &[])
            .expect_err("unknown metric")
            .to_string();
        assert!(
            e.starts_with("s.js: options.thresholds.nope: unknown metric `nope`"),
            "{e}"
        );
        let e = read(json!({ "vus": 0, "duration": "1s" }), &[])
            .expect_err("no VUs")
            .to_string();
        assert!(e.starts_with("s.js: options.vus:"), "{e}");
    }
}
