//! What of a scenario is secret: the `{{__ENV.NAME}}` variables its requests use
//! (whose values `sls-load run` sends only in the invoke payloads) and the
//! credential header values (`Authorization`, `Cookie`, `*token*`, `*key*`, ...)
//! that are redacted wherever a plan is stored or printed.
//!
//! It does not read the environment or the `-e` flags (`options` does), does not
//! fill values in (`fanout` puts them into each payload) and does not decide what
//! a credential is (`sls_load_core::template` does, for the worker too).

use std::collections::{BTreeMap, BTreeSet};

use sls_load_core::job::{Job, RequestSpec};
use sls_load_core::template::{env_refs, shown_header_value};

use super::{Scenario, ScenarioError};

/// The environment variables the scenario's requests use as `{{__ENV.NAME}}`,
/// in urls, query values, header values and bodies, and its `http:` events in
/// their url, headers and body.
pub fn env_names(scenario: &Scenario) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for request in scenario.scenarios.iter().flat_map(|s| &s.requests) {
        request_env_names(request, &mut names);
    }
    for e in &scenario.events {
        if let crate::drill::EventAction::Http {
            url, headers, body, ..
        } = &e.action
        {
            let texts = std::iter::once(url.as_str())
                .chain(headers.values().map(String::as_str))
                .chain(body.as_deref());
            names.extend(texts.flat_map(env_refs).map(str::to_owned));
        }
    }
    names
}

/// Refuses an `-e` value (in `env`) that holds a line break where it lands in
/// a header value of a request or an event: such a header cannot be sent, so
/// the value is named here, before anything starts, not in every request's
/// failure. The message names the variable and the header, never the value.
pub fn check_header_env(
    scenario: &Scenario,
    env: &BTreeMap<String, String>,
) -> Result<(), ScenarioError> {
    let requests = scenario.scenarios.iter().flat_map(|s| {
        s.requests
            .iter()
            .map(move |r| (format!("request `{}`", r.name), &r.headers))
    });
    let events = scenario.events.iter().filter_map(|e| match &e.action {
        crate::drill::EventAction::Http { headers, .. } => {
            Some((format!("event `{}`", e.name), headers))
        }
        _ => None,
    });
    for (owner, headers) in requests.chain(events) {
        for (header, value) in headers {
            let broken = env_refs(value)
                .find(|name| env.get(*name).is_some_and(|v| v.contains(['\r', '\n'])));
            if let Some(name) = broken {
                return Err(ScenarioError::new(
                    &scenario.file,
                    None,
                    None,
                    &format!(
                        "-e {name}: its value holds a line break (CR or LF) and would be \
                         sent in header `{header}` of {owner}; refused"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Adds the `{{__ENV.NAME}}` names of one request to `out`.
fn request_env_names(r: &RequestSpec, out: &mut BTreeSet<String>) {
    let json = r.json.as_ref().map(serde_json::Value::to_string);
    let texts = std::iter::once(r.url.as_str())
        .chain(r.query.values().map(String::as_str))
        .chain(r.headers.values().map(String::as_str))
        .chain(r.body.as_deref())
        .chain(json.as_deref());
    for text in texts {
        out.extend(env_refs(text).map(str::to_owned));
    }
}

/// Whether any request of `jobs` has a header value [`redact_jobs`] would
/// change, or a job carries a k6 script's `setup()` data.
pub fn needs_redaction(jobs: &[Job]) -> bool {
    let setup_data = |j: &Job| j.script.as_ref().is_some_and(|s| s.setup_data.is_some());
    jobs.iter().any(setup_data)
        || requests(jobs).any(|r| {
            r.headers
                .iter()
                .any(|(name, value)| shown_header_value(name, value) != value)
        })
}

/// Replaces every credential header value of `jobs` by how it may be shown
/// ([`shown_header_value`]), and a script's `setup()` data (a login's token,
/// often) by `"<redacted>"`: for the stored `plan.json` and `plan --json`,
/// never for the invoke payloads.
pub fn redact_jobs(jobs: &mut [Job]) {
    for job in jobs {
        if let Some(data) = job.script.as_mut().and_then(|s| s.setup_data.as_mut()) {
            *data = serde_json::Value::from(sls_load_core::template::REDACTED).to_string();
        }
        for request in job.scenarios.iter_mut().flat_map(|s| &mut s.requests) {
            for (name, value) in &mut request.headers {
                let shown = shown_header_value(name, value);
                if shown != value {
                    *value = shown.to_owned();
                }
            }
        }
    }
}

/// Every request of every job.
fn requests(jobs: &[Job]) -> impl Iterator<Item = &RequestSpec> {
    jobs.iter()
        .flat_map(|j| &j.scenarios)
        .flat_map(|s| &s.requests)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::test_support::*;
    use sls_load_core::template::REDACTED;

    const SECRET_REQUESTS: &str = "      - name: a\n        url: /u/{{__ENV.P}}\n        query: { k: \"{{__ENV.Q}}\" }\n        headers: { Authorization: \"Bearer {{__ENV.TOKEN}}\", x-api-key: literal-key, accept: text/plain }\n        json: { t: \"{{__ENV.J}}\", n: 1 }\n      - name: b\n        url: /\n        method: POST\n        body: \"t={{__ENV.B}}&u={{__VU}}\"\n";

    #[test]
    fn env_names_are_collected_from_every_place() {
        let s = ok(&minimal_request(SECRET_REQUESTS));
        let names: Vec<String> = env_names(&s).into_iter().collect();
        assert_eq!(names, ["B", "J", "P", "Q", "TOKEN"]);
        assert!(env_names(&ok(MINIMAL)).is_empty());
    }

    #[test]
    fn credential_literals_are_redacted_and_references_kept() {
        let s = ok(&minimal_request(SECRET_REQUESTS));
        let mut job: Job = serde_json::from_value(serde_json::json!({
            "format": 1, "run_id": "r", "worker_id": "w0000", "region": "us-east-1",
            "start_at": "2026-01-01T00:00:00Z", "duration": "1s", "target": "http://127.0.0.1:1",
            "scenarios": [], "results": {"bucket": "b", "region": "us-east-1"},
            "flush_every": "10s", "request_timeout": "1s"
        }))
        .expect("job");
        job.scenarios = vec![sls_load_core::job::JobScenario {
            name: "s".into(),
            executor: sls_load_core::job::Executor::ConstantVus { vus: 1 },
            pre_allocated_vus: 1,
            max_vus: 1,
            requests: s.scenarios[0].requests.clone(),
            start_time: Default::default(),
            duration: None,
            arrivals: Default::default(),
            data: None,
            graceful_stop: std::time::Duration::ZERO,
        }];
        let mut jobs = vec![job];
        assert!(needs_redaction(&jobs));
        redact_jobs(&mut jobs);
        assert!(!needs_redaction(&jobs));
        let headers = &jobs[0].scenarios[0].requests[0].headers;
        assert_eq!(headers["Authorization"], "Bearer {{__ENV.TOKEN}}");
        assert_eq!(headers["x-api-key"], REDACTED);
        assert_eq!(headers["accept"], "text/plain");
        let json = serde_json::to_string(&jobs).expect("json");
        assert!(!json.contains("literal-key"), "{json}");
    }

    #[test]
    fn a_scripts_setup_data_is_redacted_where_the_plan_is_shown() {
        let mut job: Job = serde_json::from_value(serde_json::json!({
            "format": 1, "run_id": "r", "worker_id": "w0000", "region": "us-east-1",
            "start_at": "2026-01-01T00:00:00Z", "duration": "1s", "target": "http://127.0.0.1:1",
            "scenarios": [], "results": {"bucket": "b", "region": "us-east-1"},
            "flush_every": "10s", "request_timeout": "1s",
            "script": { "main": "s.js", "files": { "s.js": "x" },
                        "setup_data": "{\"token\":\"s3cr3t\"}" }
        }))
        .expect("job");
        let mut jobs = vec![job.clone()];
        assert!(needs_redaction(&jobs));
        redact_jobs(&mut jobs);
        let json = serde_json::to_string(&jobs).expect("json");
        assert!(!json.contains("s3cr3t"), "{json}");
        job.script = None;
        assert!(!needs_redaction(&[job]));
    }

    #[test]
    fn env_names_must_be_usable_and_are_no_capture_or_column_names() {
        let e = error(&minimal_with("url: / }", "url: \"/{{__ENV.a-b}}\" }"));
        assert_contains(
            &e,
            &["requests[0].url: `{{__ENV.a-b}}`: an environment variable name is letters"],
        );
        let e = error(&minimal_request(
            "      - name: a\n        url: /\n        capture: [{ name: __ENV.X, header: x }]\n",
        ));
        assert_contains(&e, &["`__ENV.X` is built in"]);
    }

    #[test]
    fn an_invalid_credential_header_value_is_not_echoed() {
        let e = error(&minimal_with(
            "url: / }",
            "url: /, headers: { Authorization: \"Bearer s3cr\\x01t\" } }",
        ));
        assert_contains(&e, &["invalid header value `<redacted>`"]);
        assert!(!e.contains("s3cr"), "{e}");
        let e = error(&minimal_with(
            "url: / }",
            "url: /, headers: { x-run: \"r\\x01n\" } }",
        ));
        assert_contains(&e, &["invalid header value `r\\u{1}n`"]);
    }
}
