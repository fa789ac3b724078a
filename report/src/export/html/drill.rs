//! The drill's part of the HTML report: a static section (readable without
//! scripts) listing the events as they ran and, per event and client region,
//! the figures before, during and after it, time to detect and to recover,
//! failed requests and the `served_by` shares. The outage itself shows on the
//! report's charts through the events' markers.
//!
//! It only writes markup from what `events` recorded and `analysis` computed;
//! every user string is HTML-escaped.

use std::fmt::Write as _;

use super::escape;
use crate::drill::analysis::{RegionAnalysis, Window};
use crate::drill::events::Outcome;
use crate::readable::{percent, thousands};
use crate::render::drill::window_ms;
use crate::summary::Summary;

/// The `<section id="drill">` of a summary with events; nothing without.
pub fn section(out: &mut String, s: &Summary) {
    if s.events.is_empty() && s.drill.is_none() {
        return;
    }
    out.push_str("<section id=\"drill\"><h2>Failover drill</h2>\n");
    if !s.events.is_empty() {
        out.push_str(
            "<table><thead><tr><th>event</th><th>kind</th><th>planned</th><th>started</th>\
             <th>result</th><th>output</th></tr></thead><tbody>\n",
        );
        for e in &s.events {
            let result = match (e.outcome, e.http_status, e.exit_code) {
                (Outcome::Cancelled, _, _) => "cancelled".to_owned(),
                (o, Some(status), _) => format!("{} · HTTP {status}", mark(o)),
                (o, None, Some(code)) => format!("{} · exit {code}", mark(o)),
                (o, None, None) => mark(o).to_owned(),
            };
            let mut output = e.output.join("\n");
            if let Some(error) = &e.error {
                output = format!("{error}\n{output}");
            }
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{:.1}s</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
                escape(&e.name),
                escape(&e.kind),
                e.at_s,
                e.started_s.map_or("–".to_owned(), |t| format!("{t:.2}s")),
                result,
                escape(output.trim())
            );
        }
        out.push_str("</tbody></table>\n");
    }
    if let Some(drill) = &s.drill {
        let _ = writeln!(
            out,
            "<p class=\"note\">Band: error rate ≤ baseline + {} pp and p95 ≤ {} × baseline p95; \
             detected after {} s outside it, recovered after {} s back inside it;              baseline = the {} s before the event.</p>",
            drill.errors_pp,
            drill.p95_factor,
            drill.detect_for_s,
            drill.stable_for_s,
            drill.baseline_s
        );
        out.push_str(
            "<table><thead><tr><th>event</th><th>client region</th><th>detect</th><th>recover</th>\
             <th>failed</th><th>window</th><th>requests</th><th>error %</th><th>p50</th><th>p95</th>\
             <th>p99</th><th>served by</th></tr></thead><tbody>\n",
        );
        for e in &drill.events {
            if let Some(ended) = &e.ends {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td colspan=\"11\">ends {} (its rows above)</td></tr>",
                    escape(&e.event),
                    escape(ended)
                );
                continue;
            }
            for (region, r) in &e.regions {
                rows(out, &e.event, region, r);
            }
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</section>\n");
}

fn mark(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "✓",
        Outcome::Failed => "✗ failed",
        Outcome::Cancelled => "cancelled",
    }
}

/// Three rows (before, during, after) of one event and client region.
fn rows(out: &mut String, event: &str, region: &str, r: &RegionAnalysis) {
    let windows = [
        ("before", &r.baseline, &r.served_by.before),
        ("during", &r.during, &r.served_by.during),
        ("after", &r.after, &r.served_by.after),
    ];
    for (i, (label, w, shares)) in windows.into_iter().enumerate() {
        let head = if i == 0 {
            format!(
                "<td rowspan=\"3\">{}</td><td rowspan=\"3\">{}</td><td rowspan=\"3\">{}</td>\
                 <td rowspan=\"3\">{}</td><td rowspan=\"3\">{}</td>",
                escape(event),
                escape(region),
                crate::render::drill::detect_text(r),
                crate::render::drill::recover_text(r),
                thousands(r.failed_during)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "<tr>{head}<td>{label} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            span(w),
            thousands(w.requests),
            percent(w.error_rate),
            window_ms(w, w.p50_ms),
            window_ms(w, w.p95_ms),
            window_ms(w, w.p99_ms),
            escape(&crate::render::drill::shares(shares))
        );
    }
}

fn span(w: &Window) -> String {
    format!("{}–{} s", w.from_s, w.to_s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::analysis::{Drill, EventAnalysis, Shares};
    use crate::drill::events::EventRecord;
    use crate::testing::sample_summary as sample;
    use std::collections::BTreeMap;

    fn window(from_s: u64, to_s: u64) -> Window {
        Window {
            from_s,
            to_s,
            requests: 200,
            errors: 0,
            error_rate: 0.0,
            p50_ms: 1.5,
            p95_ms: 4.0,
            p99_ms: 6.0,
        }
    }

    #[test]
    fn a_summary_without_events_has_no_drill_section() {
        let mut out = String::new();
        section(&mut out, &sample());
        assert!(out.is_empty());
    }

    #[test]
    fn events_and_each_regions_windows_are_listed_escaped() {
        let mut s = sample();
        s.events = vec![EventRecord {
            name: "eu-down".into(),
            kind: "run".into(),
            at_s: 20.0,
            until_s: None,
            started_s: Some(20.01),
            ended_s: Some(20.2),
            outcome: Outcome::Failed,
            http_status: None,
            exit_code: Some(3),
            error: Some("`./x.sh` ended with exit status: 3".into()),
            output: vec!["<b>oops</b>".into()],
        }];
        s.drill = Some(Drill {
            baseline_s: 10.0,
            errors_pp: 1.0,
            p95_factor: 1.5,
            stable_for_s: 5.0,
            detect_for_s: 2.0,
            events: vec![EventAnalysis {
                event: "eu-down".into(),
                at_s: 20.0,
                until_s: None,
                ends: None,
                regions: BTreeMap::from([(
                    "eu-west-1".into(),
                    RegionAnalysis {
                        baseline: window(10, 20),
                        during: window(20, 23),
                        after: window(23, 33),
                        band_error_rate: 0.01,
                        band_p95_ms: 6.0,
                        time_to_detect_s: Some(0.0),
                        time_to_recover_s: Some(3.0),
                        never_recovered: false,
                        failed_during: 27,
                        served_by: Shares {
                            before: BTreeMap::from([("eu-west-1".into(), 1.0)]),
                            during: BTreeMap::new(),
                            after: BTreeMap::from([("us-east-1".into(), 1.0)]),
                        },
                    },
                )]),
            }],
        });
        let mut out = String::new();
        section(&mut out, &s);
        assert!(out.contains("<h2>Failover drill</h2>"), "{out}");
        assert!(out.contains("✗ failed · exit 3"), "{out}");
        assert!(out.contains("&lt;b&gt;oops&lt;/b&gt;"), "{out}");
        assert!(out.contains("<td rowspan=\"3\">3.00s</td>"), "{out}");
        assert!(out.contains("<td>after 23–33 s</td>"), "{out}");
        assert!(out.contains("us-east-1 100%"), "{out}");
    }
}
