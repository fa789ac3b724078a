//! The drill's part of the terminal summary: the events as they ran (a failed
//! one named with its error and first output line) and, per event and client
//! region, the figures before, during and after it, time to detect and to
//! recover (`–` for a region that never left its band, `never` for one that
//! never came back), failed requests and where the requests were served; an
//! event that ends another (`ends:`) is one line naming it.
//!
//! It only formats what `events` recorded and `analysis` computed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::drill::analysis::{Drill, RegionAnalysis, Window};
use crate::drill::events::{EventRecord, Outcome};
use crate::readable::{ms, percent, thousands};

/// The events block: one line per event, then its error and output.
pub fn events(out: &mut String, events: &[EventRecord], paused: u64) {
    if events.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "  events:");
    if paused > 0 {
        let _ = writeln!(
            out,
            "    ({} arrivals paused by pause_region, not sent and not dropped)",
            thousands(paused)
        );
    }
    for e in events {
        let mark = match e.outcome {
            Outcome::Ok => "✓",
            Outcome::Failed => "✗",
            Outcome::Cancelled => "-",
        };
        let when = match e.started_s {
            Some(s) => format!("at {:.1}s (planned {:.1}s)", s, e.at_s),
            None => format!("planned {:.1}s, cancelled (the run stopped first)", e.at_s),
        };
        let result = match (e.http_status, e.exit_code, e.until_s) {
            (Some(status), _, _) => format!(" · HTTP {status}"),
            (None, Some(code), _) => format!(" · exit {code}"),
            (None, None, Some(until)) if e.kind == "pause_region" => {
                format!(" · until {until:.1}s")
            }
            _ => String::new(),
        };
        let _ = writeln!(out, "  {mark} {} ({}) {when}{result}", e.name, e.kind);
        if let Some(error) = &e.error {
            let _ = writeln!(out, "      failed: {error}");
        }
        for line in &e.output {
            let _ = writeln!(out, "      | {line}");
        }
    }
}

/// The drill block: per event, one line per client region.
pub fn drill(out: &mut String, drill: &Drill) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  drill (band: errors ≤ baseline + {} pp, p95 ≤ {} × baseline; detected after {}s outside it, recovered after {}s inside it):",
        drill.errors_pp, drill.p95_factor, drill.detect_for_s, drill.stable_for_s
    );
    for e in &drill.events {
        if let Some(ended) = &e.ends {
            let _ = writeln!(
                out,
                "  {} at {:.1}s ends {ended} (its figures above)",
                e.event, e.at_s
            );
            continue;
        }
        let _ = writeln!(
            out,
            "  {} at {:.1}s{}",
            e.event,
            e.at_s,
            e.until_s
                .map(|u| format!(" until {u:.1}s"))
                .unwrap_or_default()
        );
        for (region, r) in &e.regions {
            region_lines(out, region, r);
        }
    }
}

/// Time to detect: `0.35s`, or `–` when the region never left its band.
pub(crate) fn detect_text(r: &RegionAnalysis) -> String {
    r.time_to_detect_s
        .map_or_else(|| "–".to_owned(), |s| format!("{s:.2}s"))
}

/// Time to recover: `2.95s`, `never` when it never came back, `–` when there
/// was nothing to recover from.
pub(crate) fn recover_text(r: &RegionAnalysis) -> String {
    match (r.time_to_recover_s, r.never_recovered) {
        (Some(s), _) => format!("{s:.2}s"),
        (None, true) => "never".to_owned(),
        (None, false) => "–".to_owned(),
    }
}

/// A window's percentile: `–` when it had no answered request.
pub(crate) fn window_ms(w: &Window, v: f64) -> String {
    match w.requests {
        0 => "–".to_owned(),
        _ => ms(v),
    }
}

fn region_lines(out: &mut String, region: &str, r: &RegionAnalysis) {
    let _ = writeln!(
        out,
        "    {region:<16} detect {:<7} recover {:<7} failed {}",
        detect_text(r),
        recover_text(r),
        thousands(r.failed_during)
    );
    for (label, w) in [
        ("before", &r.baseline),
        ("during", &r.during),
        ("after", &r.after),
    ] {
        let _ = writeln!(out, "      {label:<7}{}", window(w));
    }
    if !r.served_by.during.is_empty() || !r.served_by.before.is_empty() {
        let _ = writeln!(
            out,
            "      served by: before {} · during {} · after {}",
            shares(&r.served_by.before),
            shares(&r.served_by.during),
            shares(&r.served_by.after)
        );
    }
}

fn window(w: &Window) -> String {
    format!(
        "{:>3}–{:<3}s {:>8} reqs  errors {:>7}  p50 {:>9}  p95 {:>9}  p99 {:>9}",
        w.from_s,
        w.to_s,
        thousands(w.requests),
        percent(w.error_rate),
        window_ms(w, w.p50_ms),
        window_ms(w, w.p95_ms),
        window_ms(w, w.p99_ms)
    )
}

pub(crate) fn shares(s: &BTreeMap<String, f64>) -> String {
    if s.is_empty() {
        return "-".into();
    }
    s.iter()
        .map(|(b, f)| format!("{b} {:.0}%", f * 100.0))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_event_is_named_with_its_error_and_output() {
        let mut text = String::new();
        events(
            &mut text,
            &[EventRecord {
                name: "eu-down".into(),
                kind: "http".into(),
                at_s: 20.0,
                until_s: None,
                started_s: Some(20.002),
                ended_s: Some(20.01),
                outcome: Outcome::Failed,
                http_status: Some(503),
                exit_code: None,
                error: Some("POST http://127.0.0.1:9/x answered 503".into()),
                output: vec!["busy".into()],
            }],
            0,
        );
        assert!(
            text.contains("✗ eu-down (http) at 20.0s (planned 20.0s) · HTTP 503"),
            "{text}"
        );
        assert!(
            text.contains("failed: POST http://127.0.0.1:9/x answered 503"),
            "{text}"
        );
        assert!(text.contains("| busy"), "{text}");
    }

    fn region(ttd: Option<f64>, ttr: Option<f64>, never: bool) -> RegionAnalysis {
        let w = Window {
            from_s: 20,
            to_s: 23,
            requests: 0,
            errors: 0,
            error_rate: 0.0,
            p50_ms: 0.0,
            p95_ms: 0.0,
            p99_ms: 0.0,
        };
        RegionAnalysis {
            baseline: w.clone(),
            during: w.clone(),
            after: w,
            band_error_rate: 0.01,
            band_p95_ms: 3.0,
            time_to_detect_s: ttd,
            time_to_recover_s: ttr,
            never_recovered: never,
            failed_during: 0,
            served_by: Default::default(),
        }
    }

    #[test]
    fn untouched_regions_show_a_dash_and_lost_ones_never() {
        let lines = |r: &RegionAnalysis| {
            let mut out = String::new();
            region_lines(&mut out, "eu-west-1", r);
            out
        };
        let calm = lines(&region(None, None, false));
        assert!(calm.contains("detect –       recover –"), "{calm}");
        let lost = lines(&region(Some(0.0), None, true));
        assert!(lost.contains("detect 0.00s   recover never"), "{lost}");
        let back = lines(&region(Some(0.25), Some(2.95), false));
        assert!(back.contains("detect 0.25s   recover 2.95s"), "{back}");
        // An empty window has no percentiles, not 0.00ms ones.
        assert!(calm.contains("p50         –"), "{calm}");
        assert!(!calm.contains("0.00ms"), "{calm}");
    }
}
