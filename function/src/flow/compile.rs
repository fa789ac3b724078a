//! Compiling one scenario step into a [`Step`]: parses the method, the URL and
//! query, the headers and the body into templates, resolving each `{{name}}` to
//! its variable slot (a capture only once an earlier step made it) and each
//! `{{__ENV.NAME}}` to the job's value; builds the captures and checks; and
//! prepares the whole request once when nothing in the step varies per iteration.
//!
//! It does not decide the variable slots (that is [`Flow::compile`](super::Flow::compile)),
//! nor render, send or read anything at run time (that is [`Step`]).

use std::collections::BTreeMap;

use http::Method;
use http::header::{CONTENT_TYPE, HOST, HeaderName};
use regex::Regex;

use sls_load_core::job::{Capture, Check, RequestSpec};
use sls_load_core::template::env_name;

use super::{
    BodyTemplate, CaptureRule, CheckKind, CheckRule, EnvValue, FlowError, Names, Part, Prepared,
    Step, Template, Vars, assemble,
};

/// Maps a variable name to its [`Part`], or says why it cannot be used here.
type Resolve<'a> = dyn Fn(&str) -> Result<Part, String> + 'a;

/// Step `spec` with recorder index `index`, its variables resolved in `names`;
/// `captured` holds the slots that earlier steps capture, `env` the job's
/// `__ENV` values.
pub(super) fn compile_step(
    spec: &RequestSpec,
    index: usize,
    authority: &str,
    names: &Names,
    captured: &[usize],
    env: &BTreeMap<String, String>,
) -> Result<Step, FlowError> {
    let invalid = |reason: String| FlowError {
        request: spec.name.clone(),
        reason,
    };
    let slot = |name: &str| match env_name(name) {
        Some(var) => env_value(env, var),
        None => variable_slot(names, captured, name).map(Part::Var),
    };
    let method = Method::from_bytes(spec.method.as_bytes())
        .map_err(|e| invalid(format!("method `{}`: {e}", spec.method)))?;
    let url = compile_url(spec, authority, &slot).map_err(&invalid)?;
    let query = compile_query(spec, &slot).map_err(&invalid)?;
    let (mut headers, has_content_type) =
        compile_headers(spec, authority, &slot).map_err(&invalid)?;
    let body = compile_body(spec, &slot, has_content_type, &mut headers).map_err(&invalid)?;
    let captures = compile_captures(spec, names).map_err(&invalid)?;
    let checks = compile_checks(spec).map_err(&invalid)?;
    let mut step = Step {
        index,
        name: spec.name.clone(),
        expect_status: spec.expect_status,
        sleep: spec.sleep,
        method,
        url,
        query,
        headers,
        body,
        captures,
        checks,
        fixed: None,
    };
    step.fixed = prepare_fixed(&step).map_err(invalid)?;
    Ok(step)
}

/// The value of `{{__ENV.var}}`: the job's, which the orchestrator fills from
/// `-e` or its environment.
fn env_value(env: &BTreeMap<String, String>, var: &str) -> Result<Part, String> {
    env.get(var)
        .map(|value| Part::Env(EnvValue(value.clone())))
        .ok_or_else(|| {
            format!(
                "`{{{{__ENV.{var}}}}}` has no value in the job (pass -e {var}=VALUE to sls-load)"
            )
        })
}

/// The slot of variable `name` in a template. Columns and built-ins are always
/// set; captures only once an earlier step (one in `captured`) ran.
fn variable_slot(names: &Names, captured: &[usize], name: &str) -> Result<usize, String> {
    let Some(slot) = names.position(name) else {
        return Err(format!(
            "`{{{{{name}}}}}` is not a data column or a capture"
        ));
    };
    let is_capture = slot >= names.columns && slot < names.names.len() - 2;
    if is_capture && !captured.contains(&slot) {
        return Err(format!(
            "`{{{{{name}}}}}` is captured only by this or a later request"
        ));
    }
    Ok(slot)
}

/// The step's path and query as a template (absolute URLs lose their origin).
fn compile_url(
    spec: &RequestSpec,
    authority: &str,
    slot: &Resolve<'_>,
) -> Result<Template, String> {
    let path = relative_url(&spec.url, authority)?;
    Template::parse(path, slot).map_err(|e| format!("url: {e}"))
}

/// The step's `query` parameters, values as templates.
fn compile_query(
    spec: &RequestSpec,
    slot: &Resolve<'_>,
) -> Result<Vec<(String, Template)>, String> {
    spec.query
        .iter()
        .map(|(k, v)| Ok((k.clone(), Template::parse(v, slot)?)))
        .collect::<Result<Vec<_>, String>>()
        .map_err(|e| format!("query: {e}"))
}

/// `Host` (the target's authority) and the step's headers, and whether they
/// include a `Content-Type`.
fn compile_headers(
    spec: &RequestSpec,
    authority: &str,
    slot: &Resolve<'_>,
) -> Result<(Vec<(HeaderName, Template)>, bool), String> {
    let mut headers = Vec::with_capacity(spec.headers.len() + 1);
    headers.push((
        HOST,
        Template {
            parts: vec![Part::Text(authority.to_owned())],
        },
    ));
    let mut has_content_type = false;
    for (k, v) in &spec.headers {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("header `{k}`: {e}"))?;
        has_content_type |= name == CONTENT_TYPE;
        let value = Template::parse(v, slot).map_err(|e| format!("header `{k}`: {e}"))?;
        headers.push((name, value));
    }
    Ok((headers, has_content_type))
}

/// The step's `body` or `json` (at most one); a `json` body adds a JSON
/// `Content-Type` to `headers` unless they have one.
fn compile_body(
    spec: &RequestSpec,
    slot: &Resolve<'_>,
    has_content_type: bool,
    headers: &mut Vec<(HeaderName, Template)>,
) -> Result<BodyTemplate, String> {
    Ok(match (&spec.body, &spec.json) {
        (Some(_), Some(_)) => return Err("has both `body` and `json`".into()),
        (Some(text), None) => {
            BodyTemplate::Text(Template::parse(text, slot).map_err(|e| format!("body: {e}"))?)
        }
        (None, Some(json)) => {
            if !has_content_type {
                headers.push((
                    CONTENT_TYPE,
                    Template {
                        parts: vec![Part::Text("application/json".into())],
                    },
                ));
            }
            // Serialized JSON has `{{` only inside strings, where templates belong.
            BodyTemplate::Json(
                Template::parse(&json.to_string(), slot).map_err(|e| format!("json: {e}"))?,
            )
        }
        (None, None) => BodyTemplate::Empty,
    })
}

/// The step's captures, each with the slot it writes.
fn compile_captures(
    spec: &RequestSpec,
    names: &Names,
) -> Result<Vec<(usize, CaptureRule)>, String> {
    spec.capture
        .iter()
        .map(|c| {
            let slot = names
                .position(c.name())
                .ok_or_else(|| format!("capture `{}` has no slot", c.name()))?;
            Ok((slot, capture_rule(c)?))
        })
        .collect()
}

/// One capture, compiled: header names parsed, regexes built and their group
/// checked.
fn capture_rule(capture: &Capture) -> Result<CaptureRule, String> {
    Ok(match capture {
        Capture::Json { pointer, .. } => CaptureRule::Json(pointer.clone()),
        Capture::Header { header, .. } => CaptureRule::Header(
            HeaderName::from_bytes(header.as_bytes())
                .map_err(|e| format!("capture header `{header}`: {e}"))?,
        ),
        Capture::Regex { pattern, group, .. } => {
            let re = Regex::new(pattern).map_err(|e| format!("capture regex: {e}"))?;
            if *group >= re.captures_len() {
                return Err(format!("capture regex `{pattern}` has no group {group}"));
            }
            CaptureRule::Regex(re, *group)
        }
    })
}

/// The step's checks, compiled.
fn compile_checks(spec: &RequestSpec) -> Result<Vec<CheckRule>, String> {
    spec.checks
        .iter()
        .map(|c| {
            Ok(CheckRule {
                name: c.name().to_owned(),
                kind: check_kind(c)?,
            })
        })
        .collect()
}

/// What one check tests, with its header name parsed.
fn check_kind(check: &Check) -> Result<CheckKind, String> {
    Ok(match check {
        Check::Status { status, .. } => CheckKind::Status(*status),
        Check::Header {
            header,
            equals,
            exists,
            ..
        } => CheckKind::Header {
            header: HeaderName::from_bytes(header.as_bytes())
                .map_err(|e| format!("check header `{header}`: {e}"))?,
            equals: equals.clone(),
            exists: *exists,
        },
        Check::BodyContains { text, .. } => CheckKind::BodyContains(text.clone().into_bytes()),
        Check::Json {
            pointer, equals, ..
        } => CheckKind::Json {
            pointer: pointer.clone(),
            equals: equals.clone(),
        },
    })
}

/// The request of a step in which nothing varies per iteration (literal text and
/// `__ENV` values only), built once (`None` otherwise); `Err` says why it is not
/// valid HTTP.
fn prepare_fixed(step: &Step) -> Result<Option<Prepared>, String> {
    let templated = !step.url.is_static()
        || step.query.iter().any(|(_, v)| !v.is_static())
        || step.headers.iter().any(|(_, v)| !v.is_static())
        || match &step.body {
            BodyTemplate::Empty => false,
            BodyTemplate::Text(t) | BodyTemplate::Json(t) => !t.is_static(),
        };
    if templated {
        return Ok(None);
    }
    let vars = Vars::default();
    let (uri, headers, body) = step.render(&vars)?;
    Ok(Some(Prepared(assemble(
        step.method.clone(),
        uri,
        headers,
        body,
    ))))
}

/// The path and query of `url`: as is when it starts with `/`; for an absolute URL,
/// what follows its origin, which must be the target's.
fn relative_url<'u>(url: &'u str, authority: &str) -> Result<&'u str, String> {
    if url.starts_with('/') {
        return Ok(url);
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("url `{url}` must start with `/` or http(s)://"))?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    if &rest[..end] != authority {
        return Err(format!("url `{url}` is not on the target {authority}"));
    }
    Ok(match &rest[end..] {
        "" => "/",
        path => path,
    })
}
