//! The report's static markup: the header with the verdict, the phase breakdown,
//! the figures, checks, thresholds and errors tables, and the run's own facts
//! (workers, start skew, slices, cost, dropped iterations, problems, markers).
//!
//! Every string that comes from the user or the run (names, keys, messages) goes
//! through [`escape`]; numbers are formatted as the terminal summary formats them
//! ([`crate::readable`]). Nothing here is computed beyond error percentages and
//! the widths of the phase bars.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{RunFacts, escape};
use crate::readable::{self, decimal, ms, phase, thousands};
use crate::summary::{Figures, Spread, Summary};

/// Title, verdict, headline figures and banners (aborted, interrupted, missing
/// workers, objects left out).
pub(super) fn header(out: &mut String, s: &Summary) {
    let (class, verdict) = verdict(s);
    let _ = write!(
        out,
        "<header><h1>sls-load run <code>{}</code> <span class=\"verdict {class}\" id=\"verdict\">{verdict}</span></h1>\n\
         <p class=\"meta\">scenario <code>{}</code> · start {} · {}s of load · {} requests · {} errors · {} req/s</p>\n",
        escape(s.run_id.as_str()),
        escape(&s.scenario_file),
        escape(&s.start_at),
        decimal(s.duration_s, 1),
        thousands(s.total.requests),
        thousands(s.total.errors),
        decimal(s.total.rps, 1),
    );
    if let Some(cloud) = &s.cloud {
        let _ = writeln!(
            out,
            "<p class=\"meta\" id=\"where\">ran on {}</p>",
            escape(&crate::render::where_ran(cloud))
        );
    }
    if let Some(threshold) = &s.aborted_by {
        banner(
            out,
            &format!(
                "Aborted by threshold {} (abortOnFail): the figures cover what was sent until then.",
                escape(threshold)
            ),
        );
    } else if s.interrupted {
        banner(
            out,
            "Interrupted: stopped before its end; the figures cover what was sent until then.",
        );
    }
    if !s.workers.missing.is_empty() {
        banner(
            out,
            &format!(
                "{} of {} workers did not report (see the run below).",
                s.workers.missing.len(),
                s.workers.planned
            ),
        );
    }
    if !s.workers.problems.is_empty() {
        banner(
            out,
            &format!(
                "{} object(s), line(s) or interval(s) could not be used (listed under Problems).",
                s.workers.problems.len()
            ),
        );
    }
    out.push_str("</header>\n");
}

/// The run's verdict as a CSS class and a word.
fn verdict(s: &Summary) -> (&'static str, &'static str) {
    if s.aborted_by.is_some() {
        ("bad", "aborted")
    } else if s.interrupted {
        ("warn", "interrupted")
    } else if !s.workers.missing.is_empty() || !s.workers.problems.is_empty() {
        ("warn", "incomplete")
    } else if !s.thresholds_ok() {
        ("bad", "thresholds crossed")
    } else {
        ("ok", "passed")
    }
}

fn banner(out: &mut String, html: &str) {
    let _ = writeln!(out, "<p class=\"banner\">{html}</p>");
}

/// k6's phase breakdown per region: the medians as a stacked bar, then each
/// phase's p50 / p95 / p99.
pub(super) fn phases(out: &mut String, s: &Summary) {
    let regions: Vec<_> = s
        .regions
        .iter()
        .filter_map(|(r, f)| Some((r, f.timings_ms.as_ref()?)))
        .collect();
    if regions.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"phases\"><h2>Request phases per region</h2>\n\
         <p class=\"note\">k6's http_req_* phases; the bar stacks each phase's median, the cells read p50 / p95 / p99.</p>\n\
         <div class=\"wide\"><table><thead><tr><th>region</th><th class=\"bar\">medians</th>",
    );
    for name in PHASES {
        let _ = write!(out, "<th><span class=\"swatch {name}\"></span>{name}</th>");
    }
    out.push_str("</tr></thead><tbody>\n");
    for (region, t) in regions {
        let total: f64 = t.phases().iter().map(|(_, p)| p.p50).sum();
        let _ = write!(out, "<tr><td>{}</td><td class=\"bar\">", escape(region));
        for (name, p) in t.phases() {
            let width = if total > 0.0 {
                100.0 * p.p50 / total
            } else {
                0.0
            };
            let _ = write!(
                out,
                "<span class=\"seg {name}\" style=\"width:{width:.2}%\" title=\"{name} p50 {}\"></span>",
                phase(p.p50)
            );
        }
        out.push_str("</td>");
        for (_, p) in t.phases() {
            let _ = write!(
                out,
                "<td>{} / {} / {}</td>",
                phase(p.p50),
                phase(p.p95),
                phase(p.p99)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div></section>\n");
}

const PHASES: [&str; 6] = [
    "blocked",
    "connecting",
    "tls_handshaking",
    "sending",
    "waiting",
    "receiving",
];

/// Requests, errors, rate and latency: total, each region, each request.
pub(super) fn figures(out: &mut String, s: &Summary) {
    out.push_str(
        "<section id=\"figures\"><h2>Requests</h2><table><thead><tr><th>scope</th><th>requests</th>\
         <th>errors</th><th>error %</th><th>req/s</th><th>avg</th><th>p50</th><th>p90</th><th>p95</th>\
         <th>p99</th><th>p99.9</th><th>max</th></tr></thead><tbody>\n",
    );
    figures_row(out, "total", "total", &s.total);
    for (region, f) in &s.regions {
        figures_row(out, "region", region, f);
    }
    for (name, f) in &s.requests {
        figures_row(out, "request", name, f);
    }
    out.push_str("</tbody></table></section>\n");
}

fn figures_row(out: &mut String, kind: &str, name: &str, f: &Figures) {
    let l = &f.latency_ms;
    let label = if kind == "total" {
        "<b>total</b>".to_owned()
    } else {
        format!("<span class=\"kind\">{kind}</span> {}", escape(name))
    };
    let _ = writeln!(
        out,
        "<tr><td>{label}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        thousands(f.requests),
        thousands(f.errors),
        error_percent(f.errors, f.requests),
        decimal(f.rps, 1),
        ms(l.avg),
        ms(l.p50),
        ms(l.p90),
        ms(l.p95),
        ms(l.p99),
        ms(l.p99_9),
        ms(l.max),
    );
}

fn error_percent(errors: u64, requests: u64) -> String {
    if requests == 0 {
        "–".to_owned()
    } else {
        readable::percent(errors as f64 / requests as f64)
    }
}

/// Checks (passes, fails, rate) and thresholds (✓/✗ with the observed value).
pub(super) fn checks_and_thresholds(out: &mut String, s: &Summary) {
    if !s.checks.is_empty() {
        out.push_str(
            "<section id=\"checks\"><h2>Checks</h2><table><thead><tr><th></th><th>check</th>\
             <th>passes</th><th>fails</th><th>rate</th></tr></thead><tbody>\n",
        );
        for (name, c) in &s.checks {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                mark(c.fails == 0),
                escape(name),
                thousands(c.passes),
                thousands(c.fails),
                readable::percent(c.rate)
            );
        }
        out.push_str("</tbody></table></section>\n");
    }
    if !s.thresholds.is_empty() {
        out.push_str(
            "<section id=\"thresholds\"><h2>Thresholds</h2><table><thead><tr><th></th><th>metric</th>\
             <th>threshold</th><th>observed</th></tr></thead><tbody>\n",
        );
        for t in &s.thresholds {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                mark(t.ok),
                escape(&t.metric),
                escape(&t.expr),
                escape(&readable::observed(t))
            );
        }
        out.push_str("</tbody></table></section>\n");
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "<span class=\"ok\">✓</span>"
    } else {
        "<span class=\"bad\">✗</span>"
    }
}

/// Failures by class: run-wide, per region and per request.
pub(super) fn errors(out: &mut String, s: &Summary) {
    if s.errors_by_class.is_empty() {
        return;
    }
    let scopes: Vec<(String, &Figures)> = s
        .regions
        .iter()
        .map(|(r, f)| (format!("region {r}"), f))
        .chain(s.requests.iter().map(|(n, f)| (format!("request {n}"), f)))
        .collect();
    let classes: BTreeSet<&String> = s
        .errors_by_class
        .keys()
        .chain(scopes.iter().flat_map(|(_, f)| f.errors_by_class.keys()))
        .collect();
    out.push_str(
        "<section id=\"errors\"><h2>Errors by class</h2><table><thead><tr><th>class</th><th>total</th>",
    );
    for (scope, _) in &scopes {
        let _ = write!(out, "<th>{}</th>", escape(scope));
    }
    out.push_str("</tr></thead><tbody>\n");
    for class in classes {
        let count = |n: Option<&u64>| thousands(n.copied().unwrap_or(0));
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td>",
            escape(class),
            count(s.errors_by_class.get(class))
        );
        for (_, f) in &scopes {
            let _ = write!(out, "<td>{}</td>", count(f.errors_by_class.get(class)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></section>\n");
}

/// The run itself: workers, start skew per region, slices, cost, dropped
/// iterations, problems and the recorded events.
pub(super) fn run(out: &mut String, s: &Summary, facts: &RunFacts) {
    let w = &s.workers;
    out.push_str("<section id=\"run\"><h2>The run</h2><table class=\"facts\"><tbody>\n");
    let mut fact = |name: &str, value: String| {
        let _ = writeln!(out, "<tr><th>{name}</th><td>{value}</td></tr>");
    };
    fact(
        "workers",
        format!(
            "{} planned · {} reported · {} missing · {} late (first request &gt; {}ms after its instant)",
            thousands(w.planned as u64),
            thousands(w.reported as u64),
            thousands(w.missing.len() as u64),
            thousands(w.late.len() as u64),
            crate::summary::LATE_AFTER_MS
        ),
    );
    if !w.missing.is_empty() {
        fact("missing", escape(&crate::render::first_few(&w.missing, 20)));
    }
    if !w.late.is_empty() {
        fact("late", escape(&crate::render::first_few(&w.late, 20)));
    }
    fact("start skew", spread(w.start_skew_ms.as_ref()));
    fact(
        "cold starts",
        format!(
            "{} · init {}",
            thousands(w.cold_starts as u64),
            spread(w.init_ms.as_ref())
        ),
    );
    fact("invoke to start", spread(w.invoke_to_start_ms.as_ref()));
    fact(
        "slices",
        format!(
            "{} per worker slot · slice {}s · {} MB",
            facts.slices,
            decimal(facts.slice_s, 0),
            facts.memory_mb
        ),
    );
    let c = &s.cost;
    let local = s.cloud.as_ref().is_some_and(|c| !c.is_aws());
    fact(
        if local {
            "cost on AWS (estimate: this run was local)"
        } else {
            "cost"
        },
        format!(
            "{} (Lambda compute {} · invocations {} · S3 {}) · {} GB-s · {}",
            usd(c.usd),
            usd(c.lambda_compute_usd),
            usd(c.lambda_requests_usd),
            usd(c.s3_usd),
            decimal(c.gb_seconds, 1),
            crate::readable::plural(c.invocations, "invocation", "invocations")
        ),
    );
    fact(
        "cost per million requests",
        c.usd_per_million_requests
            .map_or_else(|| "–".to_owned(), |v| format!("${v:.4}")),
    );
    fact("dropped iterations", thousands(s.dropped_iterations));
    fact(
        "ended",
        match (&s.aborted_by, s.interrupted) {
            (Some(t), _) => format!("aborted by threshold <code>{}</code>", escape(t)),
            (None, true) => "interrupted before its end".to_owned(),
            (None, false) => "ran to its end".to_owned(),
        },
    );
    out.push_str("</tbody></table>\n");
    region_workers(out, s, facts);
    problems(out, s);
    markers(out, s);
    out.push_str("</section>\n");
}

/// Slots, planned and reported workers and start skew per region.
fn region_workers(out: &mut String, s: &Summary, facts: &RunFacts) {
    out.push_str(
        "<h3>Workers per region</h3><table id=\"region-workers\"><thead><tr><th>region</th><th>slots</th>\
         <th>planned</th><th>reported</th><th>start skew</th></tr></thead><tbody>\n",
    );
    for (region, r) in &s.workers.regions {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(region),
            facts
                .slots
                .get(region)
                .map_or_else(|| "–".to_owned(), |n| thousands(*n as u64)),
            thousands(r.planned as u64),
            thousands(r.reported as u64),
            spread(r.start_skew_ms.as_ref())
        );
    }
    out.push_str("</tbody></table>\n");
}

/// Anything skipped or lost: the objects, lines or intervals left out.
fn problems(out: &mut String, s: &Summary) {
    out.push_str("<h3>Problems</h3>");
    if s.workers.problems.is_empty() {
        out.push_str("<p class=\"note\" id=\"problems\">Nothing was skipped or lost.</p>\n");
        return;
    }
    out.push_str("<ul id=\"problems\">");
    for p in &s.workers.problems {
        let _ = write!(out, "<li><code>{}</code></li>", escape(p));
    }
    out.push_str("</ul>\n");
}

/// The events drawn as markers on the time charts.
fn markers(out: &mut String, s: &Summary) {
    if s.markers.is_empty() {
        return;
    }
    out.push_str(
        "<h3>Events</h3><table id=\"markers\"><thead><tr><th>at</th><th>kind</th><th>what</th></tr></thead><tbody>\n",
    );
    for m in &s.markers {
        let _ = writeln!(
            out,
            "<tr><td>{}s</td><td>{}</td><td>{}</td></tr>",
            decimal(m.t, 1),
            escape(&m.kind),
            escape(&m.label)
        );
    }
    out.push_str("</tbody></table>\n");
}

/// USD with six decimals (a negative zero shown as zero).
fn usd(v: f64) -> String {
    format!("${:.6}", v + 0.0)
}

/// `p50 · p99 · max` of a spread over workers, or `–`.
fn spread(s: Option<&Spread>) -> String {
    s.map_or_else(
        || "–".to_owned(),
        |s| {
            format!(
                "p50 {:.2}ms · p99 {:.2}ms · max {:.2}ms",
                s.p50, s.p99, s.max
            )
        },
    )
}
