//! A request's captures and checks: each takes exactly one source (`json`,
//! `header` or `regex` for a capture; `status`, `header`, `body_contains` or `json`
//! for a check), a capture may not shadow a data column, and a regex group must
//! exist.
//!
//! It does not check the sources' own syntax (pointers, header names and regexes
//! are checked by the raw shape) nor where captures are used (`requests` does).

use sls_load_core::job::{Capture, Check};

use super::scope::Scope;
use crate::scenario::error::ScenarioError;
use crate::scenario::raw::{RawCapture, RawCheck};

/// A request's `capture` list.
pub(super) fn captures(
    scope: &Scope<'_>,
    raw: Vec<RawCapture>,
) -> Result<Vec<Capture>, ScenarioError> {
    raw.into_iter()
        .enumerate()
        .map(|(j, c)| capture(scope, j, c))
        .collect()
}

/// Capture `j` of a request.
fn capture(scope: &Scope<'_>, j: usize, c: RawCapture) -> Result<Capture, ScenarioError> {
    let fail = |message: String| scope.fail_item("capture", j, message);
    if scope.columns.contains(&c.name) {
        return Err(fail(format!(
            "capture `{}` has the name of a data column",
            c.name
        )));
    }
    if c.group.is_some() && c.regex.is_none() {
        return Err(fail("`group` goes with `regex`".into()));
    }
    match (c.json, c.header, c.regex) {
        (Some(pointer), None, None) => Ok(Capture::Json {
            name: c.name,
            pointer,
        }),
        (None, Some(header), None) => Ok(Capture::Header {
            name: c.name,
            header,
        }),
        (None, None, Some(pattern)) => {
            let groups = regex::Regex::new(&pattern)
                .map(|re| re.captures_len() - 1)
                .unwrap_or(0);
            let group = c.group.unwrap_or(usize::from(groups > 0));
            if group > groups {
                return Err(fail(format!(
                    "group {group} does not exist: the regex has {groups} capture group(s)"
                )));
            }
            Ok(Capture::Regex {
                name: c.name,
                pattern,
                group,
            })
        }
        _ => Err(fail(
            "a capture takes exactly one of `json` (a pointer), `header` or `regex`".into(),
        )),
    }
}

/// A request's `checks` list.
pub(super) fn checks(scope: &Scope<'_>, raw: Vec<RawCheck>) -> Result<Vec<Check>, ScenarioError> {
    raw.into_iter()
        .enumerate()
        .map(|(j, c)| check(scope, j, c))
        .collect()
}

/// Check `j` of a request.
fn check(scope: &Scope<'_>, j: usize, c: RawCheck) -> Result<Check, ScenarioError> {
    let fail = |message: &str| scope.fail_item("checks", j, message.to_owned());
    match (c.status, c.header, c.body_contains, c.json) {
        (Some(status), None, None, None) => Ok(Check::Status {
            name: c.name,
            status,
        }),
        (None, Some(h), None, None) => {
            if h.equals.is_some() && h.exists == Some(false) {
                return Err(fail("`equals` and `exists: false` contradict each other"));
            }
            Ok(Check::Header {
                name: c.name,
                header: h.name,
                equals: h.equals,
                exists: h.exists.unwrap_or(true),
            })
        }
        (None, None, Some(text), None) => Ok(Check::BodyContains { name: c.name, text }),
        (None, None, None, Some(json)) => Ok(Check::Json {
            name: c.name,
            pointer: json.pointer,
            equals: json.equals,
        }),
        _ => Err(fail(
            "a check takes exactly one of `status`, `header`, `body_contains` or `json`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sls_load_core::job::{Capture, Check, ThinkTime};

    use crate::scenario::test_support::*;

    #[test]
    fn flows_parse_into_steps_with_captures_checks_and_think_time() {
        let s = ok(ENGINE);
        let login = &s.scenarios[1].requests[0];
        assert_eq!(
            login.json,
            Some(serde_json::json!({ "user": "u{{__VU}}", "remember": true }))
        );
        assert_eq!(
            login.capture,
            vec![
                Capture::Json {
                    name: "token".into(),
                    pointer: "/token".into()
                },
                Capture::Header {
                    name: "session".into(),
                    header: "x-session".into()
                },
                Capture::Regex {
                    name: "n".into(),
                    pattern: r"n=(\d+)".into(),
                    group: 1
                },
            ]
        );
        let names: Vec<&str> = login.checks.iter().map(Check::name).collect();
        assert_eq!(
            names,
            [
                "status is 200",
                "has session",
                "no cookie",
                "says ok",
                "role is admin"
            ]
        );
        assert_eq!(
            login.checks[2],
            Check::Header {
                name: "no cookie".into(),
                header: "set-cookie".into(),
                equals: None,
                exists: false
            }
        );
        assert_eq!(
            login.checks[4],
            Check::Json {
                name: "role is admin".into(),
                pointer: "/role".into(),
                equals: Some(serde_json::json!("admin"))
            }
        );
        assert_eq!(
            login.sleep,
            Some(ThinkTime {
                min: Duration::from_millis(50),
                max: Duration::from_millis(200)
            })
        );
        let profile = &s.scenarios[1].requests[1];
        assert_eq!(profile.query["verbose"], "true");
        assert_eq!(profile.query["q"], "{{token}}");
        assert_eq!(
            profile.sleep,
            Some(ThinkTime {
                min: Duration::from_secs(1),
                max: Duration::from_secs(1)
            })
        );
    }

    #[test]
    fn captures_and_checks_take_exactly_one_source() {
        let step =
            |extra: &str| minimal_request(&format!("      - name: a\n        url: /\n{extra}"));
        for (extra, want) in [
            (
                "        capture: [{ name: t, json: /a, header: x }]\n",
                ":10: scenarios.browse.requests[0].capture[0]: a capture takes exactly one of",
            ),
            (
                "        capture: [{ name: t, json: a }]\n",
                "requests[0].capture[0].json: `a` is not a JSON pointer",
            ),
            (
                "        capture: [{ name: t, regex: \"(a\" }]\n",
                "requests[0].capture[0].regex: invalid regex",
            ),
            (
                "        capture: [{ name: t, regex: \"a(b)\", group: 2 }]\n",
                "capture[0]: group 2 does not exist: the regex has 1 capture group(s)",
            ),
            (
                "        capture: [{ name: __VU, header: x }]\n",
                "capture[0].name: `__VU` is built in",
            ),
            (
                "        checks: [{ name: c }]\n",
                "requests[0].checks[0]: a check takes exactly one of `status`, `header`",
            ),
            (
                "        checks: [{ name: c, status: 200, body_contains: x }]\n",
                "a check takes exactly one of",
            ),
            (
                "        checks: [{ name: c, header: { name: x, equals: y, exists: false } }]\n",
                "`equals` and `exists: false` contradict each other",
            ),
            (
                "        checks: [{ name: \"\", status: 200 }]\n",
                "checks[0].name: a check needs a name",
            ),
            (
                "        checks: [{ name: c, status: 99 }]\n",
                "checks[0].status: must be >= 100",
            ),
            (
                "        checks: [{ name: c, json: { pointer: /a, equal: 1 } }]\n",
                "unknown field `equal`; did you mean `equals`?",
            ),
            (
                "        sleep: { min: 2s, max: 1s }\n",
                "requests[0].sleep: needs 0 <= min <= max and max > 0",
            ),
            (
                "        sleep: soon\n",
                "requests[0].sleep: invalid duration `soon`",
            ),
            (
                "        body: x\n        json: { a: 1 }\n",
                "requests[0].json: a request has `body` or `json`, not both",
            ),
        ] {
            assert_contains(&error(&step(extra)), &[want]);
        }
        // A regex without groups captures its whole match.
        let s = ok(&step("        capture: [{ name: t, regex: \"a+\" }]\n"));
        assert!(matches!(
            s.scenarios[0].requests[0].capture[0],
            Capture::Regex { group: 0, .. }
        ));
        // `equals: null` checks for a JSON null, not for presence.
        let s = ok(&step(
            "        checks: [{ name: c, json: { pointer: /a, equals: ~ } }]\n",
        ));
        assert!(matches!(
            &s.scenarios[0].requests[0].checks[0],
            Check::Json {
                equals: Some(serde_json::Value::Null),
                ..
            }
        ));
    }
}
