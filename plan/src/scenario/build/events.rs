//! A drill's `events:` and `drill:` blocks, checked against the run: one action
//! per event, instants within the run (`until` after `at`), `pause_region` of a
//! region of the run and with an `until`, `timeout` only for `run:`, `http:` URLs
//! absolute `http://`, names unique, `ends:` naming an earlier event without
//! `until` that nothing else ends. Errors name the key (`events[1].until`).
//!
//! It does not read YAML (the raw shape does) or run anything (`drill::events`
//! does); whether `run:` may execute (`--allow-exec`) is the command's decision.

use std::time::Duration;

use sls_load_core::job::Region;

use super::Ctx;
use crate::drill::{DEFAULT_RUN_TIMEOUT, DrillSettings, EventAction, EventSpec};
use crate::scenario::ScenarioError;
use crate::scenario::locate::Seg;
use crate::scenario::raw::{RawDrill, RawEvent};

/// The events of a run lasting `run` over `regions`, in file order.
pub(super) fn events(
    ctx: Ctx<'_>,
    raw: Option<Vec<RawEvent>>,
    run: Duration,
    regions: &[(Region, f64)],
) -> Result<Vec<EventSpec>, ScenarioError> {
    let mut out: Vec<EventSpec> = Vec::new();
    for (i, e) in raw.unwrap_or_default().into_iter().enumerate() {
        let fail = |key: &'static str, message: String| {
            let mut path = vec![Seg::Key("events"), Seg::Index(i)];
            if !key.is_empty() {
                path.push(Seg::Key(key));
            }
            ctx.fail(&path, message)
        };
        if out.iter().any(|o| o.name == e.name) {
            return Err(fail(
                "name",
                format!("event name `{}` is used twice", e.name),
            ));
        }
        if e.at >= run {
            return Err(fail(
                "at",
                format!(
                    "{} is not within the run ({} long)",
                    humantime::format_duration(e.at),
                    humantime::format_duration(run)
                ),
            ));
        }
        if let Some(until) = e.until {
            if until <= e.at {
                return Err(fail("until", "must be after `at`".to_owned()));
            }
            if until > run {
                return Err(fail(
                    "until",
                    format!(
                        "{} is past the run's end ({})",
                        humantime::format_duration(until),
                        humantime::format_duration(run)
                    ),
                ));
            }
        }
        let action = action(&e, regions, &fail)?;
        if let Some(ended) = &e.ends {
            check_ends(&out, &e, ended, &fail)?;
        }
        out.push(EventSpec {
            name: e.name,
            at: e.at,
            until: e.until,
            ends: e.ends,
            action,
        });
    }
    Ok(out)
}

/// Refuses `ends: NAME` unless NAME is an earlier event of the file (listed
/// before, not later in time) that has no `until` and that no other event ends.
fn check_ends(
    earlier: &[EventSpec],
    e: &RawEvent,
    ended: &str,
    fail: &dyn Fn(&'static str, String) -> ScenarioError,
) -> Result<(), ScenarioError> {
    let Some(first) = earlier.iter().find(|o| o.name == ended) else {
        let names: Vec<&str> = earlier.iter().map(|o| o.name.as_str()).collect();
        return Err(fail(
            "ends",
            format!(
                "`{ended}` is not an event listed before this one (listed before: {})",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ),
        ));
    };
    if first.at > e.at {
        return Err(fail(
            "ends",
            format!(
                "`{ended}` starts after this event ({})",
                humantime::format_duration(first.at)
            ),
        ));
    }
    if first.until.is_some() {
        return Err(fail(
            "ends",
            format!("`{ended}` already ends at its `until`"),
        ));
    }
    if let Some(other) = earlier.iter().find(|o| o.ends.as_deref() == Some(ended)) {
        return Err(fail(
            "ends",
            format!("`{ended}` is already ended by `{}`", other.name),
        ));
    }
    Ok(())
}

/// The one action of event `e`.
fn action(
    e: &RawEvent,
    regions: &[(Region, f64)],
    fail: &dyn Fn(&'static str, String) -> ScenarioError,
) -> Result<EventAction, ScenarioError> {
    let given = [e.http.is_some(), e.run.is_some(), e.pause_region.is_some()]
        .iter()
        .filter(|g| **g)
        .count();
    if given != 1 {
        return Err(fail(
            "",
            "give exactly one of `http`, `run` and `pause_region`".to_owned(),
        ));
    }
    if e.timeout.is_some() && e.run.is_none() {
        return Err(fail(
            "timeout",
            "`timeout` applies to `run:` events only".to_owned(),
        ));
    }
    if let Some(http) = &e.http {
        if let Some(refusal) = sls_load_core::template::userinfo_refusal(&http.url) {
            return Err(fail("http", format!("url {refusal}")));
        }
        if !http.url.starts_with("http://") && !http.url.starts_with('/') {
            return Err(fail(
                "http",
                format!(
                    "url `{}`: use an http:// URL or a path relative to the target (https is not supported for events)",
                    http.url
                ),
            ));
        }
        if http.url.parse::<http::Uri>().is_err() {
            return Err(fail(
                "http",
                format!("url `{}` is not a valid URL", http.url),
            ));
        }
        return Ok(EventAction::Http {
            method: http.method.clone().unwrap_or_else(|| "GET".to_owned()),
            url: http.url.clone(),
            headers: http.headers.0.clone(),
            body: http.body.clone(),
        });
    }
    if let Some(command) = &e.run {
        if command.trim().is_empty() {
            return Err(fail("run", "the command is empty".to_owned()));
        }
        return Ok(EventAction::Run {
            command: command.clone(),
            timeout: e.timeout.unwrap_or(DEFAULT_RUN_TIMEOUT),
        });
    }
    let region = e.pause_region.clone().unwrap_or_default();
    if !regions.iter().any(|(r, _)| r.as_str() == region) {
        let names: Vec<&str> = regions.iter().map(|(r, _)| r.as_str()).collect();
        return Err(fail(
            "pause_region",
            format!(
                "`{region}` is not a region of the run ({})",
                names.join(", ")
            ),
        ));
    }
    if e.until.is_none() {
        return Err(fail(
            "until",
            "a `pause_region` event needs `until` (when the load resumes)".to_owned(),
        ));
    }
    Ok(EventAction::PauseRegion { region })
}

/// Refuses a threshold filtered by `{event:NAME}` that names no event of the
/// file, and a drill threshold in a file without events.
pub(super) fn check_thresholds(
    ctx: Ctx<'_>,
    thresholds: &[crate::threshold::Threshold],
    events: &[EventSpec],
) -> Result<(), ScenarioError> {
    for t in thresholds.iter().filter(|t| t.metric.is_drill()) {
        let key = t.metric_name();
        let fail = |message: String| ctx.fail(&[Seg::Key("thresholds"), Seg::Key(&key)], message);
        if events.is_empty() {
            return Err(fail(format!(
                "{} judges a drill, but the file has no `events`",
                t.metric
            )));
        }
        if let Some((tag, value)) = &t.selector
            && tag == "event"
            && !events.iter().any(|e| &e.name == value)
        {
            let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
            return Err(fail(format!(
                "`{value}` is not an event of this file (known: {})",
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// The `drill:` block with its defaults.
pub(super) fn settings(raw: Option<RawDrill>) -> DrillSettings {
    let d = DrillSettings::default();
    let Some(raw) = raw else { return d };
    let band = raw.band;
    DrillSettings {
        baseline: raw.baseline.unwrap_or(d.baseline),
        errors_pp: band
            .as_ref()
            .and_then(|b| b.errors_pp)
            .unwrap_or(d.errors_pp),
        p95_factor: band
            .as_ref()
            .and_then(|b| b.p95_factor)
            .unwrap_or(d.p95_factor),
        stable_for: raw.stable_for.unwrap_or(d.stable_for),
        detect_for: raw.detect_for.unwrap_or(d.detect_for),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::drill::{DrillSettings, EventAction};
    use crate::scenario::test_support::*;

    const DRILL: &str = "\
target: http://127.0.0.1:8080
duration: 60s
regions: { us-east-1: 1, eu-west-1: 1, ap-southeast-1: 1 }
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 30
    requests:
      - { name: home, url: / }
";

    fn with(events: &str) -> String {
        format!("{DRILL}events:\n{events}")
    }

    #[test]
    fn the_issues_events_parse_in_file_order() {
        let s = ok(&with(
            "  - { at: 20s, name: eu-down, http: { method: POST, url: http://127.0.0.1:9000/regions/eu-west-1/down } }\n\
             \x20 - { at: 50s, name: eu-back, http: { method: post, url: http://127.0.0.1:9000/regions/eu-west-1/up } }\n\
             \x20 - { at: 20s, name: script, run: ./drills/fail-eu.sh, timeout: 30s }\n\
             \x20 - { at: 30s, name: users-gone, pause_region: ap-southeast-1, until: 40s }\n",
        ));
        let names: Vec<&str> = s.events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["eu-down", "eu-back", "script", "users-gone"]);
        assert_eq!(s.events[0].at, Duration::from_secs(20));
        assert_eq!(
            s.events[1].action,
            EventAction::Http {
                method: "POST".into(),
                url: "http://127.0.0.1:9000/regions/eu-west-1/up".into(),
                headers: Default::default(),
                body: None,
            }
        );
        assert_eq!(
            s.events[2].action,
            EventAction::Run {
                command: "./drills/fail-eu.sh".into(),
                timeout: Duration::from_secs(30)
            }
        );
        assert_eq!(s.events[3].until, Some(Duration::from_secs(40)));
        assert_eq!(s.drill, DrillSettings::default());
    }

    #[test]
    fn drill_thresholds_need_events() {
        let e = error(&format!(
            "{DRILL}thresholds: {{ time_to_recover: ['<10s'] }}\n"
        ));
        assert_contains(
            &e,
            &["time_to_recover judges a drill, but the file has no `events`"],
        );
        let s = ok(&with(
            "  - { at: 1s, name: a, run: 'true' }\nthresholds: { 'drill_errors{region:eu-west-1}': ['<500'] }\n",
        ));
        assert_eq!(
            s.thresholds[0].to_string(),
            "drill_errors{region:eu-west-1}: <500"
        );
    }

    #[test]
    fn the_drill_block_sets_the_band_and_windows() {
        let s = ok(&format!(
            "{DRILL}drill: {{ baseline: 8s, band: {{ errors_pp: 2, p95_factor: 2 }}, stable_for: 3s, detect_for: 300ms }}\n"
        ));
        assert_eq!(s.drill.baseline, Duration::from_secs(8));
        assert_eq!((s.drill.errors_pp, s.drill.p95_factor), (2.0, 2.0));
        assert_eq!(s.drill.stable_for, Duration::from_secs(3));
        assert_eq!(s.drill.detect_for, Duration::from_millis(300));
        assert_eq!(
            ok(DRILL).drill.detect_for,
            Duration::from_secs(2),
            "the default"
        );
    }

    #[test]
    fn an_event_can_end_an_earlier_one() {
        let s = ok(&with(
            "  - { at: 6s, name: down, http: { method: POST, url: /__down } }\n\
             \x20 - { at: 9s, name: up, ends: down, http: { method: POST, url: /__up } }\n",
        ));
        assert_eq!(s.events[0].ends, None);
        assert_eq!(s.events[1].ends.as_deref(), Some("down"));
    }

    #[test]
    fn ends_must_name_an_earlier_open_event_ended_once() {
        for (events, want) in [
            (
                "  - { at: 9s, name: up, ends: down, run: 'true' }\n",
                "events[0].ends: `down` is not an event listed before this one (listed before: none)",
            ),
            (
                "  - { at: 9s, name: down, run: 'true' }\n  - { at: 6s, name: up, ends: down, run: 'true' }\n",
                "events[1].ends: `down` starts after this event (9s)",
            ),
            (
                "  - { at: 6s, name: down, run: 'true', until: 8s }\n  - { at: 9s, name: up, ends: down, run: 'true' }\n",
                "events[1].ends: `down` already ends at its `until`",
            ),
            (
                "  - { at: 6s, name: down, run: 'true' }\n  - { at: 9s, name: up, ends: down, run: 'true' }\n  - { at: 10s, name: up2, ends: down, run: 'true' }\n",
                "events[2].ends: `down` is already ended by `up`",
            ),
        ] {
            assert_contains(&error(&with(events)), &[want]);
        }
    }

    #[test]
    fn bad_events_are_refused_naming_the_key() {
        for (events, want) in [
            (
                "  - { at: 60s, name: late, run: 'true' }\n",
                "events[0].at: 1m is not within the run (1m long)",
            ),
            (
                "  - { at: 10s, name: p, pause_region: ap-southeast-1, until: 5s }\n",
                "events[0].until: must be after `at`",
            ),
            (
                "  - { at: 10s, name: p, pause_region: ap-southeast-1 }\n",
                "events[0].until: a `pause_region` event needs `until`",
            ),
            (
                "  - { at: 10s, name: p, pause_region: sa-east-1, until: 20s }\n",
                "events[0].pause_region: `sa-east-1` is not a region of the run",
            ),
            (
                "  - { at: 1s, name: a, run: 'true' }\n  - { at: 2s, name: a, run: 'true' }\n",
                "events[1].name: event name `a` is used twice",
            ),
            (
                "  - { at: 1s, name: a }\n",
                "events[0]: give exactly one of `http`, `run` and `pause_region`",
            ),
            (
                "  - { at: 1s, name: a, http: { url: https://x/ } }\n",
                "events[0].http: url `https://x/`: use an http:// URL or a path relative to the target",
            ),
            (
                "  - { at: 1s, name: a, http: { url: http://x/ }, timeout: 3s }\n",
                "events[0].timeout: `timeout` applies to `run:` events only",
            ),
            (
                "  - { at: 1s, name: 'a b', run: 'true' }\n",
                "invalid event name `a b`",
            ),
            (
                "  - { at: 1s, name: a, run: 'true', when: 3s }\n",
                "unknown field `when`",
            ),
            (
                "  - { at: 1s, name: a, run: 'true', until: 61s }\n",
                "events[0].until: 1m 1s is past the run's end (1m)",
            ),
        ] {
            assert_contains(&error(&with(events)), &[want]);
        }
    }
}
