//! A scenario's requests: names unique within the scenario, absolute URLs on the
//! target, `body` or `json` but not both, and every `{{name}}` template naming a
//! data column, a capture of an earlier request, a built-in or an environment
//! variable (`{{__ENV.NAME}}`, whose value is checked at run time, not here);
//! then each raw request becomes a [`RequestSpec`].
//!
//! It does not check a URL's or header's own syntax (the raw shape does) and
//! leaves captures and checks to `checks`.

use std::collections::BTreeMap;

use sls_load_core::job::RequestSpec;
use sls_load_core::template::{VAR_ITER, VAR_VU, env_name, is_env_name, template_vars};

use super::scope::Scope;
use super::{Ctx, checks, in_scenario};
use crate::scenario::error::{ScenarioError, shown};
use crate::scenario::locate::Seg;
use crate::scenario::raw::RawRequest;

impl Scope<'_> {
    /// Every `{{name}}` in `text` (the request's `field`) is known.
    fn known(&self, field: &'static str, text: &str) -> Result<(), ScenarioError> {
        check_vars(text, self.columns, self.captured).map_err(|m| self.fail(field, m))
    }
}

/// The requests of scenario `name`, in order, against `target` with data `columns`.
pub(super) fn requests(
    ctx: Ctx<'_>,
    name: &str,
    target: &str,
    columns: &[String],
    raw: Vec<RawRequest>,
) -> Result<Vec<RequestSpec>, ScenarioError> {
    let mut requests: Vec<RequestSpec> = Vec::with_capacity(raw.len());
    let mut captured: Vec<String> = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let scope = Scope {
            ctx,
            path: in_scenario(name, &[Seg::Key("requests"), Seg::Index(i)]),
            target,
            columns,
            captured: &captured,
        };
        let request = request(&scope, &requests, r)?;
        captured.extend(request.capture.iter().map(|c| c.name().to_owned()));
        requests.push(request);
    }
    Ok(requests)
}

/// One request, after the `earlier` ones of its scenario.
fn request(
    scope: &Scope<'_>,
    earlier: &[RequestSpec],
    r: RawRequest,
) -> Result<RequestSpec, ScenarioError> {
    if let Some(first) = earlier.iter().position(|q| q.name == r.name) {
        return Err(scope.fail(
            "name",
            format!(
                "duplicate request name `{}` (also requests[{first}]); names must be \
                 unique within a scenario",
                r.name
            ),
        ));
    }
    if !r.url.starts_with('/') && !same_origin(&r.url, scope.target) {
        return Err(scope.fail(
            "url",
            format!(
                "`{}` is not on the target {}; absolute urls must use the target's \
                 scheme and host",
                shown(&r.url),
                scope.target
            ),
        ));
    }
    if r.body.is_some() && r.json.is_some() {
        return Err(scope.fail("json", "a request has `body` or `json`, not both".into()));
    }
    let query = r.query.map(|q| q.0).unwrap_or_default();
    check_templates(
        scope,
        &r.url,
        &query,
        &r.headers.0,
        r.body.as_deref(),
        r.json.as_ref(),
    )?;
    let expect_status = expect_status(scope, r.expect_status, r.expected_statuses)?;
    let capture = checks::captures(scope, r.capture.unwrap_or_default())?;
    let checks = checks::checks(scope, r.checks.unwrap_or_default())?;
    Ok(RequestSpec {
        name: r.name,
        method: r.method.unwrap_or_else(|| "GET".to_owned()),
        url: r.url,
        headers: r.headers.0,
        body: r.body,
        expect_status,
        query,
        json: r.json,
        sleep: r.sleep.map(|s| s.0),
        capture,
        checks,
    })
}

/// The one expected status of a request: `expect_status`, or k6's
/// `expectedStatuses` list when it holds exactly one status (one is supported).
fn expect_status(
    scope: &Scope<'_>,
    single: Option<u16>,
    list: Option<Vec<u16>>,
) -> Result<Option<u16>, ScenarioError> {
    let Some(list) = list else {
        return Ok(single);
    };
    let fail = |m: String| scope.fail("expected_statuses", m);
    if single.is_some() {
        return Err(fail(
            "a request has `expect_status` or `expectedStatuses`, not both".into(),
        ));
    }
    match list.as_slice() {
        [status] if (100..=599).contains(status) => Ok(Some(*status)),
        [status] => Err(fail(format!(
            "expected an HTTP status code like 200, got {status}"
        ))),
        _ => Err(fail(format!(
            "one expected status is supported today, got {} ({list:?}); \
             give one, e.g. [200]",
            list.len()
        ))),
    }
}

/// The templates of a request's URL, query values, header values and body.
fn check_templates(
    scope: &Scope<'_>,
    url: &str,
    query: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
    body: Option<&str>,
    json: Option<&serde_json::Value>,
) -> Result<(), ScenarioError> {
    scope.known("url", url)?;
    for value in query.values() {
        scope.known("query", value)?;
    }
    for value in headers.values() {
        scope.known("headers", value)?;
    }
    if let Some(body) = body {
        scope.known("body", body)?;
    }
    if let Some(json) = json {
        scope.known("json", &json.to_string())?;
    }
    Ok(())
}

/// Every `{{name}}` in `text` names a data column, a capture of an earlier request,
/// a built-in or an environment variable.
fn check_vars(text: &str, columns: &[String], captured: &[String]) -> Result<(), String> {
    for var in template_vars(text) {
        if let Some(name) = env_name(var) {
            if !is_env_name(name) {
                return Err(format!(
                    "`{{{{{var}}}}}`: an environment variable name is letters, digits and `_`, \
                     not starting with a digit"
                ));
            }
            continue;
        }
        let known = var == VAR_VU
            || var == VAR_ITER
            || columns.iter().any(|c| c == var)
            || captured.iter().any(|c| c == var);
        if !known {
            let mut names: Vec<&str> = columns.iter().chain(captured).map(String::as_str).collect();
            names.extend([VAR_VU, VAR_ITER]);
            return Err(format!(
                "`{{{{{var}}}}}` is not a data column or a capture of an earlier request \
                 (known: {})",
                names.join(", ")
            ));
        }
    }
    Ok(())
}

/// Whether absolute `url` has the scheme and authority of `target`.
fn same_origin(url: &str, target: &str) -> bool {
    let (Ok(url), Ok(target)) = (url.parse::<http::Uri>(), target.parse::<http::Uri>()) else {
        return false;
    };
    url.scheme() == target.scheme() && url.authority() == target.authority()
}

#[cfg(test)]
mod tests {
    use crate::scenario::test_support::*;

    #[test]
    fn request_urls_are_paths_or_absolute_urls_on_the_target() {
        let e = error(&minimal_with("url: /", "url: search"));
        assert_contains(
            &e,
            &["scenarios.browse.requests[0].url: `search` must start with `/`"],
        );
        let e = error(&minimal_with("url: /", "url: \"/a b\""));
        assert_contains(&e, &["requests[0].url: `/a b` is not a valid URL path"]);
        let e = error(&minimal_with("url: /", "url: http://other:8080/x"));
        assert_contains(
            &e,
            &[
                ":8: scenarios.browse.requests[0].url: ",
                "is not on the target http://127.0.0.1:8080",
            ],
        );
    }

    #[test]
    fn request_names_follow_the_name_pattern_and_are_unique_within_a_scenario() {
        let e = error(&minimal_with("name: home", "name: \"home page\""));
        assert_contains(
            &e,
            &["requests[0].name: invalid request name `home page` (use letters, digits"],
        );
        let text = minimal_with(
            "      - { name: home, url: / }\n",
            "      - name: home\n        url: /\n      - name: home\n        url: /again\n",
        );
        let e = error(&text);
        assert_contains(
            &e,
            &[":10: scenarios.browse.requests[1].name: duplicate request name `home`"],
        );
    }

    #[test]
    fn a_template_must_name_a_column_or_an_earlier_capture() {
        let e = error(&minimal_request(
            "      - name: a\n        url: /users/{{id}}\n",
        ));
        assert_eq!(
            e,
            "load/browse.yaml:9: scenarios.browse.requests[0].url: `{{id}}` is not a data column \
             or a capture of an earlier request (known: __VU, __ITER)"
        );
        let text = minimal_request(
            "      - name: a\n        url: /\n        headers: { x-t: \"{{t}}\" }\n        capture: [{ name: t, header: x-t }]\n",
        );
        assert_contains(
            &error(&text),
            &["requests[0].headers: `{{t}}` is not a data column"],
        );
        let text = minimal_request(
            "      - name: a\n        url: /\n        capture: [{ name: t, header: x-t }]\n      - name: b\n        url: /\n        json: { t: \"{{t}}\", vu: \"{{__VU}}\" }\n",
        );
        assert_eq!(
            ok(&text).scenarios[0].requests[1]
                .json
                .as_ref()
                .map(|j| j["t"].clone()),
            Some(serde_json::json!("{{t}}"))
        );
    }
}
