//! The flow of one iteration: turns a scenario's steps into HTTP requests with
//! `{{name}}` templates filled in, and reads responses for captures and checks.
//!
//! Variables of an iteration are the scenario's data columns (the iteration's
//! row), the captures of earlier steps, and `__VU` / `__ITER` (k6's VU number and
//! iteration number, both per worker). `{{__ENV.NAME}}` is filled from the job's
//! `env` once, when the flow is compiled, and never shown in an error. Templates
//! are parsed once per job; a step without per-iteration variables is built from
//! prepared parts. Substituted values are
//! percent-encoded where a URL needs it, JSON-escaped inside `json` bodies and used
//! as is in headers and text bodies.
//!
//! This module owns templating, request building, captures (JSON pointer, header,
//! regex), checks and data rows. It is pure: it does no IO, sends nothing and
//! records nothing (the engine sends requests and hands check results to the
//! recorder).
//!
//! Turning one step's spec into a [`Step`] lives in `compile`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Uri};
use regex::Regex;
use serde_json::Value;

use sls_load_core::job::{DataRows, JobScenario, ThinkTime};
use sls_load_core::template::{Piece, REDACTED, is_credential_header, pieces};
pub use sls_load_core::template::{VAR_ITER, VAR_VU, template_vars};

mod compile;

use compile::compile_step;

/// Why a scenario's flow cannot be prepared (found before anything is sent).
#[derive(Debug, thiserror::Error)]
#[error("request `{request}`: {reason}")]
pub struct FlowError {
    /// The step's name.
    pub request: String,
    /// What is wrong.
    pub reason: String,
}

/// The text of a template, split into literal text and variable slots.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(usize),
    /// An `{{__ENV.NAME}}` value from the job, escaped like a variable's.
    Env(EnvValue),
}

/// The value of an `{{__ENV.NAME}}` variable: a secret, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
struct EnvValue(String);

impl std::fmt::Debug for EnvValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

/// How substituted values are written into their surroundings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    /// As is (headers, text bodies).
    Raw,
    /// Inside a URL: characters a URL cannot hold are percent-encoded.
    Url,
    /// Inside a JSON string literal.
    Json,
}

impl Template {
    /// Parses `text`; `resolve` maps a variable name to its part (a slot or an
    /// `__ENV` value), or says why it cannot be used here.
    fn parse(text: &str, resolve: &dyn Fn(&str) -> Result<Part, String>) -> Result<Self, String> {
        let parts = pieces(text)
            .into_iter()
            .map(|piece| match piece {
                Piece::Text(t) => Ok(Part::Text(t.to_owned())),
                Piece::Var(name) => resolve(name),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { parts })
    }

    /// Whether the template is the same in every iteration (no variable slots).
    fn is_static(&self) -> bool {
        self.parts
            .iter()
            .all(|p| matches!(p, Part::Text(_) | Part::Env(_)))
    }

    /// Whether an `__ENV` value is part of the template (then it is never shown).
    fn has_env(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Env(_)))
    }

    fn render(&self, vars: &Vars, escape: Escape) -> String {
        let mut out = String::new();
        for part in &self.parts {
            let value = match part {
                Part::Text(t) => {
                    out.push_str(t);
                    continue;
                }
                Part::Var(slot) => vars.get(*slot),
                Part::Env(EnvValue(value)) => value,
            };
            match escape {
                Escape::Raw => out.push_str(value),
                Escape::Url => encode_lenient(value, &mut out),
                Escape::Json => json_escape(value, &mut out),
            }
        }
        out
    }
}

/// Percent-encodes what a URL cannot hold; keeps `/`, `?`, `&`, `=` and valid
/// `%XX` escapes, so a captured path or query can be used as a `url`.
fn encode_lenient(value: &str, out: &mut String) {
    let bytes = value.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=:@/?".contains(&b)
            || (b == b'%'
                && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
        if keep {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (query keys and
/// values).
fn encode_strict(value: &str, out: &mut String) {
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// Writes `value` as the inside of a JSON string literal.
fn json_escape(value: &str, out: &mut String) {
    let quoted = Value::String(value.to_owned()).to_string();
    out.push_str(&quoted[1..quoted.len() - 1]);
}

/// The variable slots of a scenario: data columns, then captures in step order,
/// then `__VU` and `__ITER`.
#[derive(Debug, Clone, Default)]
struct Names {
    names: Vec<String>,
    /// How many leading slots are data columns; captures follow, the two
    /// built-ins come last.
    columns: usize,
}

impl Names {
    fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

/// The values of one VU's variables during an iteration.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: Vec<String>,
    columns: usize,
}

impl Vars {
    fn get(&self, slot: usize) -> &str {
        self.values.get(slot).map_or("", String::as_str)
    }

    fn set(&mut self, slot: usize, value: String) {
        if let Some(v) = self.values.get_mut(slot) {
            *v = value;
        }
    }

    /// Starts iteration `iter` of VU `vu` with data row `row` (if the scenario has
    /// data): earlier captures are forgotten.
    pub fn start_iteration(&mut self, row: Option<&[String]>, vu: u64, iter: u64) {
        let n = self.values.len();
        for v in &mut self.values {
            v.clear();
        }
        if let Some(row) = row {
            for (slot, value) in row.iter().take(self.columns).enumerate() {
                self.values[slot].push_str(value);
            }
        }
        if n >= 2 {
            let _ = write!(self.values[n - 2], "{vu}");
            let _ = write!(self.values[n - 1], "{iter}");
        }
    }
}

/// A scenario's steps, ready to build requests from.
#[derive(Debug)]
pub struct Flow {
    names: Names,
    steps: Vec<Step>,
    rows: Option<DataRows>,
}

/// What a step sends as its body.
#[derive(Debug)]
enum BodyTemplate {
    Empty,
    Text(Template),
    Json(Template),
}

/// A value taken from a response into a variable.
#[derive(Debug)]
enum CaptureRule {
    Json(String),
    Header(HeaderName),
    Regex(Regex, usize),
}

/// One check, compiled.
#[derive(Debug)]
struct CheckRule {
    name: String,
    kind: CheckKind,
}

#[derive(Debug)]
enum CheckKind {
    Status(u16),
    Header {
        header: HeaderName,
        equals: Option<String>,
        exists: bool,
    },
    BodyContains(Vec<u8>),
    Json {
        pointer: String,
        equals: Option<Value>,
    },
}

/// One request of the flow.
#[derive(Debug)]
pub struct Step {
    /// The recorder's index of this request name.
    pub index: usize,
    /// The request name.
    pub name: String,
    /// The status a successful response has (`None`: 200–399).
    pub expect_status: Option<u16>,
    /// Think time after the step.
    pub sleep: Option<ThinkTime>,
    method: Method,
    url: Template,
    query: Vec<(String, Template)>,
    headers: Vec<(HeaderName, Template)>,
    body: BodyTemplate,
    captures: Vec<(usize, CaptureRule)>,
    checks: Vec<CheckRule>,
    /// The prepared request when nothing in the step is templated.
    fixed: Option<Prepared>,
}

/// A request built once; `Debug` does not show it (it may hold `__ENV` values).
struct Prepared(Request<Bytes>);

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prepared(..)")
    }
}

/// A response as captures and checks see it.
#[derive(Debug, Clone, Copy)]
pub struct ResponseView<'a> {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The body (empty unless the step keeps bodies).
    pub body: &'a [u8],
}

impl Flow {
    /// Prepares `scenario`'s steps; their recorder indices start at `first_index`.
    /// Request URLs must be paths or absolute URLs on `authority` (the target's
    /// `host:port`), which is also sent as `Host`. A scenario without
    /// `{{__ENV.NAME}}` variables (see [`Flow::compile_with_env`]).
    pub fn compile(
        scenario: &JobScenario,
        first_index: usize,
        authority: &str,
    ) -> Result<Self, FlowError> {
        Self::compile_with_env(scenario, first_index, authority, &BTreeMap::new())
    }

    /// [`Flow::compile`], with `{{__ENV.NAME}}` filled from `env` (the job's).
    pub fn compile_with_env(
        scenario: &JobScenario,
        first_index: usize,
        authority: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, FlowError> {
        let columns = scenario
            .data
            .as_ref()
            .map(|d| d.columns.clone())
            .unwrap_or_default();
        let mut names = Names {
            columns: columns.len(),
            names: columns,
        };
        for step in &scenario.requests {
            for c in &step.capture {
                if names.position(c.name()).is_none() {
                    names.names.push(c.name().to_owned());
                }
            }
        }
        names.names.push(VAR_VU.to_owned());
        names.names.push(VAR_ITER.to_owned());

        let mut captured: Vec<usize> = Vec::new();
        let mut steps = Vec::with_capacity(scenario.requests.len());
        for (i, spec) in scenario.requests.iter().enumerate() {
            let step = compile_step(spec, first_index + i, authority, &names, &captured, env)?;
            captured.extend(step.captures.iter().map(|(slot, _)| *slot));
            steps.push(step);
        }
        let rows = scenario.data.clone().filter(|d| !d.rows.is_empty());
        Ok(Self { names, steps, rows })
    }

    /// The steps in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Fresh variables for one VU.
    pub fn vars(&self) -> Vars {
        Vars {
            values: vec![String::new(); self.names.names.len()],
            columns: self.names.columns,
        }
    }

    /// The data row for the worker's `n`-th iteration (wrapping), if there is data.
    pub fn row(&self, n: u64) -> Option<&[String]> {
        let rows = self.rows.as_ref()?;
        let len = u64::try_from(rows.rows.len()).ok().filter(|l| *l > 0)?;
        let i = usize::try_from(n % len).ok()?;
        rows.rows.get(i).map(Vec::as_slice)
    }
}

/// A request from its parts.
fn assemble(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Request<Bytes> {
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    request
}

/// Why a step's filled-in request is not valid HTTP (e.g. a header value with a
/// line break): it cannot be sent at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(String);

impl Step {
    /// The request to send, with `vars` filled in.
    pub fn request(&self, vars: &Vars) -> Result<Request<Bytes>, RenderError> {
        if let Some(Prepared(fixed)) = &self.fixed {
            return Ok(assemble(
                fixed.method().clone(),
                fixed.uri().clone(),
                fixed.headers().clone(),
                fixed.body().clone(),
            ));
        }
        let (uri, headers, body) = self.render(vars).map_err(RenderError)?;
        Ok(assemble(self.method.clone(), uri, headers, body))
    }

    /// The request prepared once at compile time, when nothing in the step is
    /// templated: send it by reference instead of building one per request.
    pub fn fixed_request(&self) -> Option<&Request<Bytes>> {
        self.fixed.as_ref().map(|Prepared(r)| r)
    }

    fn render(&self, vars: &Vars) -> Result<(Uri, HeaderMap, Bytes), String> {
        let mut url = self.url.render(vars, Escape::Url);
        for (i, (key, value)) in self.query.iter().enumerate() {
            url.push(if i == 0 && !url.contains('?') {
                '?'
            } else {
                '&'
            });
            encode_strict(key, &mut url);
            url.push('=');
            encode_strict(&value.render(vars, Escape::Raw), &mut url);
        }
        let secret_url = self.url.has_env() || self.query.iter().any(|(_, v)| v.has_env());
        let uri: Uri = url.parse().map_err(|e| {
            let shown = if secret_url { REDACTED } else { url.as_str() };
            format!("url `{shown}` is not valid: {e}")
        })?;
        let mut headers = HeaderMap::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            let text = value.render(vars, Escape::Raw);
            let secret = value.has_env() || is_credential_header(name.as_str());
            let value = HeaderValue::from_str(&text).map_err(|_| {
                let shown = if secret {
                    REDACTED.to_owned()
                } else {
                    text.escape_debug().to_string()
                };
                format!("header `{name}` value `{shown}` is not valid")
            })?;
            headers.insert(name.clone(), value);
        }
        let body = match &self.body {
            BodyTemplate::Empty => Bytes::new(),
            BodyTemplate::Text(t) => Bytes::from(t.render(vars, Escape::Raw)),
            BodyTemplate::Json(t) => Bytes::from(t.render(vars, Escape::Json)),
        };
        Ok((uri, headers, body))
    }

    /// Whether captures or checks read the body (otherwise it is read and dropped).
    pub fn keeps_body(&self) -> bool {
        self.captures
            .iter()
            .any(|(_, c)| matches!(c, CaptureRule::Json(_) | CaptureRule::Regex(..)))
            || self
                .checks
                .iter()
                .any(|c| matches!(c.kind, CheckKind::BodyContains(_) | CheckKind::Json { .. }))
    }

    /// Whether the step has checks.
    pub fn has_checks(&self) -> bool {
        !self.checks.is_empty()
    }

    /// Evaluates the checks on `response` (`None`: no response, every check fails)
    /// and calls `record(name, passed)` for each, then stores the captures in `vars`
    /// (empty when there is no response or no match).
    pub fn after_response<'s>(
        &'s self,
        response: Option<ResponseView<'_>>,
        vars: &mut Vars,
        mut record: impl FnMut(&'s str, bool),
    ) {
        let mut json: Option<Option<Value>> = None;
        let mut parsed = |body: &[u8]| -> Option<Value> {
            json.get_or_insert_with(|| serde_json::from_slice(body).ok())
                .clone()
        };
        for check in &self.checks {
            let passed = response.is_some_and(|r| match &check.kind {
                CheckKind::Status(want) => r.status == *want,
                CheckKind::Header {
                    header,
                    equals,
                    exists,
                } => {
                    let value = r.headers.get(header);
                    match equals {
                        Some(want) => value.is_some_and(|v| v.as_bytes() == want.as_bytes()),
                        None => value.is_some() == *exists,
                    }
                }
                CheckKind::BodyContains(text) => contains(r.body, text),
                CheckKind::Json { pointer, equals } => parsed(r.body)
                    .as_ref()
                    .and_then(|v| v.pointer(pointer))
                    .is_some_and(|found| equals.as_ref().is_none_or(|want| json_eq(found, want))),
            });
            record(&check.name, passed);
        }
        for (slot, rule) in &self.captures {
            let value = response.and_then(|r| match rule {
                CaptureRule::Json(pointer) => parsed(r.body)
                    .as_ref()
                    .and_then(|v| v.pointer(pointer))
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }),
                CaptureRule::Header(name) => r
                    .headers
                    .get(name)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
                CaptureRule::Regex(re, group) => {
                    let text: Cow<'_, str> = String::from_utf8_lossy(r.body);
                    re.captures(&text)
                        .and_then(|c| c.get(*group))
                        .map(|m| m.as_str().to_owned())
                }
            });
            vars.set(*slot, value.unwrap_or_default());
        }
    }
}

/// Whether `haystack` contains `needle`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Arrivals, Capture, Check, Executor, RequestSpec};
    use std::collections::BTreeMap;
    use std::time::Duration;

    const AUTHORITY: &str = "127.0.0.1:8080";

    fn scenario(steps: Vec<RequestSpec>, data: Option<DataRows>) -> JobScenario {
        JobScenario {
            name: "s".into(),
            executor: Executor::ConstantVus { vus: 1 },
            pre_allocated_vus: 1,
            max_vus: 1,
            requests: steps,
            start_time: Duration::ZERO,
            duration: None,
            arrivals: Arrivals::Constant,
            data,
            graceful_stop: std::time::Duration::ZERO,
        }
    }

    fn get(name: &str, url: &str) -> RequestSpec {
        RequestSpec {
            name: name.into(),
            method: "GET".into(),
            url: url.into(),
            ..RequestSpec::default()
        }
    }

    fn users() -> Option<DataRows> {
        Some(DataRows {
            columns: vec!["id".into(), "name".into()],
            rows: vec![
                vec!["7".into(), "Ann Lee".into()],
                vec!["8".into(), "Bo \"B\"".into()],
            ],
        })
    }

    fn body_text(r: &Request<Bytes>) -> String {
        String::from_utf8(r.body().to_vec()).expect("utf-8 body")
    }

    #[test]
    fn data_columns_and_builtins_fill_url_query_headers_and_body() {
        let mut step = get("user", "/users/{{id}}/{{name}}?v={{__ITER}}");
        step.query = BTreeMap::from([("q".into(), "{{ name }}&more".into())]);
        step.headers = BTreeMap::from([("x-vu".into(), "vu-{{__VU}}".into())]);
        step.body = Some("name={{name}}".into());
        let flow = Flow::compile(&scenario(vec![step], users()), 0, AUTHORITY).expect("compiles");
        let mut vars = flow.vars();
        vars.start_iteration(flow.row(0), 3, 12);
        let r = flow.steps()[0].request(&vars).expect("request");
        assert_eq!(r.uri(), "/users/7/Ann%20Lee?v=12&q=Ann%20Lee%26more");
        assert_eq!(r.headers()["x-vu"], "vu-3");
        assert_eq!(r.headers()["host"], AUTHORITY);
        assert_eq!(body_text(&r), "name=Ann Lee");
        // Rows wrap: the third iteration uses the first row again.
        assert_eq!(flow.row(2), flow.row(0));
        assert_eq!(flow.row(1).map(|r| r[0].as_str()), Some("8"));
    }

    #[test]
    fn json_bodies_escape_values_and_get_a_content_type() {
        let mut step = get("create", "/users");
        step.method = "POST".into();
        step.json = Some(serde_json::json!({ "name": "{{name}}", "tags": ["a{{id}}"], "n": 1 }));
        let flow = Flow::compile(&scenario(vec![step], users()), 0, AUTHORITY).expect("compiles");
        let mut vars = flow.vars();
        vars.start_iteration(flow.row(1), 1, 0);
        let r = flow.steps()[0].request(&vars).expect("request");
        assert_eq!(r.headers()["content-type"], "application/json");
        let sent: Value = serde_json::from_slice(r.body()).expect("valid JSON");
        assert_eq!(
            sent,
            serde_json::json!({ "name": "Bo \"B\"", "tags": ["a8"], "n": 1 })
        );
    }

    #[test]
    fn captures_feed_later_steps_and_reset_every_iteration() {
        let mut login = get("login", "/login");
        login.capture = vec![
            Capture::Json {
                name: "token".into(),
                pointer: "/auth/token".into(),
            },
            Capture::Header {
                name: "session".into(),
                header: "x-session".into(),
            },
            Capture::Regex {
                name: "n".into(),
                pattern: r"n=(\d+)".into(),
                group: 1,
            },
        ];
        let mut next = get("next", "/items/{{n}}");
        next.headers = BTreeMap::from([
            ("authorization".into(), "Bearer {{token}}".into()),
            ("x-session".into(), "{{session}}".into()),
        ]);
        let flow =
            Flow::compile(&scenario(vec![login, next], None), 0, AUTHORITY).expect("compiles");
        let mut vars = flow.vars();
        vars.start_iteration(None, 1, 0);
        let mut headers = HeaderMap::new();
        headers.insert("x-session", HeaderValue::from_static("s-1"));
        let body = br#"{"auth":{"token":"abc"},"note":"n=42"}"#;
        let response = ResponseView {
            status: 200,
            headers: &headers,
            body,
        };
        assert!(flow.steps()[0].keeps_body());
        assert!(!flow.steps()[1].keeps_body());
        flow.steps()[0].after_response(Some(response), &mut vars, |_, _| {});
        let r = flow.steps()[1].request(&vars).expect("request");
        assert_eq!(r.uri(), "/items/42");
        assert_eq!(r.headers()["authorization"], "Bearer abc");
        assert_eq!(r.headers()["x-session"], "s-1");
        // No response: captures are empty, not stale.
        flow.steps()[0].after_response(None, &mut vars, |_, _| {});
        assert_eq!(
            flow.steps()[1].request(&vars).expect("request").uri(),
            "/items/"
        );
        vars.start_iteration(None, 1, 1);
        assert_eq!(vars.get(0), "");
    }

    #[test]
    fn a_variable_must_be_known_before_the_step_that_uses_it() {
        let first = get("first", "/{{later}}");
        let mut second = get("second", "/");
        second.capture = vec![Capture::Header {
            name: "later".into(),
            header: "x".into(),
        }];
        let e = Flow::compile(&scenario(vec![first, second], None), 0, AUTHORITY)
            .expect_err("used before captured");
        assert!(
            e.to_string()
                .contains("captured only by this or a later request"),
            "{e}"
        );
        let e = Flow::compile(&scenario(vec![get("a", "/{{nope}}")], None), 0, AUTHORITY)
            .expect_err("unknown");
        assert!(
            e.to_string().contains("not a data column or a capture"),
            "{e}"
        );
        // Braces that are no template stay text.
        let mut step = get("a", "/");
        step.body = Some("{{ }} {{a b}} {{x".into());
        let flow = Flow::compile(&scenario(vec![step], None), 0, AUTHORITY).expect("no variables");
        let r = flow.steps()[0].request(&flow.vars()).expect("request");
        assert_eq!(body_text(&r), "{{ }} {{a b}} {{x");
    }

    fn check_results(
        step: &RequestSpec,
        response: Option<ResponseView<'_>>,
    ) -> Vec<(String, bool)> {
        let flow =
            Flow::compile(&scenario(vec![step.clone()], None), 0, AUTHORITY).expect("compiles");
        let mut vars = flow.vars();
        let mut out = Vec::new();
        flow.steps()[0].after_response(response, &mut vars, |n, ok| out.push((n.to_owned(), ok)));
        out
    }

    #[test]
    fn checks_pass_or_fail_per_response_and_all_fail_without_one() {
        let mut step = get("home", "/");
        step.checks = vec![
            Check::Status {
                name: "status is 200".into(),
                status: 200,
            },
            Check::Header {
                name: "json".into(),
                header: "content-type".into(),
                equals: Some("application/json".into()),
                exists: true,
            },
            Check::Header {
                name: "no cookie".into(),
                header: "set-cookie".into(),
                equals: None,
                exists: false,
            },
            Check::BodyContains {
                name: "says hi".into(),
                text: "hi".into(),
            },
            Check::Json {
                name: "count is 2".into(),
                pointer: "/count".into(),
                equals: Some(serde_json::json!(2)),
            },
            Check::Json {
                name: "has items".into(),
                pointer: "/items".into(),
                equals: None,
            },
        ];
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let body = br#"{"count":2.0,"greeting":"hi"}"#;
        let ok = check_results(
            &step,
            Some(ResponseView {
                status: 200,
                headers: &headers,
                body,
            }),
        );
        let passed: Vec<bool> = ok.iter().map(|(_, p)| *p).collect();
        assert_eq!(passed, [true, true, true, true, true, false]);
        assert_eq!(ok[0].0, "status is 200");
        let none = check_results(&step, None);
        assert!(none.iter().all(|(_, p)| !p));
        assert_eq!(none.len(), 6);
    }

    #[test]
    fn absolute_urls_must_be_on_the_target() {
        let flow = Flow::compile(
            &scenario(vec![get("a", "http://127.0.0.1:8080/health?x=1")], None),
            0,
            AUTHORITY,
        )
        .expect("on the target");
        let r = flow.steps()[0].request(&flow.vars()).expect("request");
        assert_eq!(r.uri(), "/health?x=1");
        let e = Flow::compile(
            &scenario(vec![get("a", "http://other/")], None),
            0,
            AUTHORITY,
        )
        .expect_err("other host");
        assert!(e.to_string().contains("not on the target"), "{e}");
    }

    #[test]
    fn a_value_that_breaks_a_header_fails_that_request_only() {
        let mut step = get("a", "/");
        step.headers = BTreeMap::from([("x-name".into(), "{{name}}".into())]);
        let rows = DataRows {
            columns: vec!["name".into()],
            rows: vec![vec!["line\nbreak".into()]],
        };
        let flow =
            Flow::compile(&scenario(vec![step], Some(rows)), 0, AUTHORITY).expect("compiles");
        let mut vars = flow.vars();
        vars.start_iteration(flow.row(0), 1, 0);
        let e = flow.steps()[0].request(&vars).expect_err("invalid header");
        assert!(e.to_string().contains("x-name"), "{e}");
    }

    #[test]
    fn env_values_fill_every_place_escaped_and_are_never_shown() {
        let mut step = get("login", "/t/{{__ENV.PATH}}");
        step.method = "POST".into();
        step.query = BTreeMap::from([("k".into(), "{{ __ENV.TOKEN }}".into())]);
        step.headers = BTreeMap::from([("authorization".into(), "Bearer {{__ENV.TOKEN}}".into())]);
        step.json = Some(serde_json::json!({ "t": "{{__ENV.TOKEN}}" }));
        let env = BTreeMap::from([
            ("TOKEN".to_owned(), "s3cr\"t&x".to_owned()),
            ("PATH".to_owned(), "a b".to_owned()),
        ]);
        let flow = Flow::compile_with_env(&scenario(vec![step], None), 0, AUTHORITY, &env)
            .expect("compiles");
        // Nothing varies per iteration: the request is prepared once.
        let fixed = flow.steps()[0].fixed_request().expect("prepared once");
        assert_eq!(fixed.uri(), "/t/a%20b?k=s3cr%22t%26x");
        assert_eq!(fixed.headers()["authorization"], "Bearer s3cr\"t&x");
        let sent: Value = serde_json::from_slice(fixed.body()).expect("valid JSON");
        assert_eq!(sent, serde_json::json!({ "t": "s3cr\"t&x" }));
        assert!(
            !format!("{flow:?}").contains("s3cr"),
            "Debug shows the value"
        );

        let e = Flow::compile(
            &scenario(vec![get("a", "/{{__ENV.NOPE}}")], None),
            0,
            AUTHORITY,
        )
        .expect_err("no value");
        assert!(
            e.to_string().contains("`{{__ENV.NOPE}}` has no value"),
            "{e}"
        );
    }

    #[test]
    fn an_invalid_secret_header_is_not_shown_in_the_error() {
        let mut step = get("a", "/");
        step.headers = BTreeMap::from([("x-t".into(), "{{__ENV.T}}".into())]);
        let env = BTreeMap::from([("T".to_owned(), "line\nsecret".to_owned())]);
        let e = Flow::compile_with_env(&scenario(vec![step], None), 0, AUTHORITY, &env)
            .expect_err("invalid header");
        assert!(
            e.to_string().contains("x-t") && !e.to_string().contains("secret"),
            "{e}"
        );
        let mut step = get("a", "/");
        step.headers = BTreeMap::from([("cookie".into(), "{{name}}".into())]);
        let rows = DataRows {
            columns: vec!["name".into()],
            rows: vec![vec!["line\nsecret".into()]],
        };
        let flow =
            Flow::compile(&scenario(vec![step], Some(rows)), 0, AUTHORITY).expect("compiles");
        let mut vars = flow.vars();
        vars.start_iteration(flow.row(0), 1, 0);
        let e = flow.steps()[0].request(&vars).expect_err("invalid header");
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
