//! Terminal rendering: the end-of-test summary as a k6-like text block
//! ([`summary`]) and the table `sls-load plan` prints ([`plan`]).
//!
//! It only formats: the figures come already computed from [`crate::summary`],
//! [`sls_load_plan::plan`] and [`sls_load_plan::cost`], and the caller prints the text. No IO and
//! no figures of its own beyond error percentages.

pub(crate) mod drill;
mod script;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sls_load_core::job::Region;

use crate::readable::{self, ms as fmt_ms, phase as fmt_phase, thousands};
use crate::summary::{Figures, Summary};
use sls_load_plan::cost::Cost;
use sls_load_plan::plan::Plan;

/// The summary as a k6-like end-of-test text block.
pub fn summary(s: &Summary) -> String {
    let mut out = String::new();
    overview(&mut out, s);
    let _ = writeln!(out);
    table(&mut out, s);
    phases(&mut out, s);
    checks(&mut out, s);
    script::exceptions(&mut out, s);
    drill::events(&mut out, &s.events, s.paused_iterations);
    if let Some(drill) = &s.drill {
        drill::drill(&mut out, drill);
    }
    thresholds(&mut out, s);
    dns(&mut out, s);
    out
}

/// The target's DNS answers (the `dns` markers): one line each, when any.
fn dns(out: &mut String, s: &Summary) {
    let mut lines = s.markers.iter().filter(|m| m.kind == "dns").peekable();
    if lines.peek().is_none() {
        return;
    }
    let _ = writeln!(out, "\n  dns answers (seconds after start):");
    for m in lines {
        let _ = writeln!(out, "    {:>7.1}s  {}", m.t, m.label);
    }
}

/// Where a run ran, on one line: `AWS account 123456789012 · us-east-1,
/// eu-west-1 · results s3://b (us-east-1)`, or `local stand-ins (not AWS) · ...`.
pub fn where_ran(cloud: &sls_load_plan::CloudRecord) -> String {
    let who = match (&cloud.account, cloud.is_aws()) {
        (Some(account), true) => format!("AWS account {account}"),
        (None, true) => "AWS".to_owned(),
        (_, false) => "local stand-ins on this machine (not AWS)".to_owned(),
    };
    let regions: Vec<&str> = cloud.regions.iter().map(|r| r.as_str()).collect();
    format!(
        "{who} · {} · results {} ({})",
        regions.join(", "),
        cloud.bucket,
        cloud.bucket_region
    )
}

/// Run, scenario, start, workers, skew, cost, dropped iterations and error classes.
fn overview(out: &mut String, s: &Summary) {
    let _ = writeln!(out);
    let _ = writeln!(out, "  run ............: {}", s.run_id);
    let _ = writeln!(out, "  scenario .......: {}", s.scenario_file);
    let _ = writeln!(
        out,
        "  start ..........: {} · {}s{}",
        s.start_at,
        s.duration_s,
        s.planned_duration_s
            .map(|p| format!(" (of {p}s planned: rates are per the time the load ran)"))
            .unwrap_or_default()
    );
    workers(out, s);
    if let Some(cloud) = &s.cloud {
        let _ = writeln!(out, "  ran on .........: {}", where_ran(cloud));
    }
    // A local run cost nothing: its figure is what AWS would have charged for
    // the same workers, said as an estimate, not as a bill.
    let local = s.cloud.as_ref().is_some_and(|c| !c.is_aws());
    let _ = writeln!(
        out,
        "  cost ...........: {}${:.6} ({:.1} GB-s, {}){}",
        if local {
            "none (a local run); on AWS about "
        } else {
            ""
        },
        s.cost.usd,
        s.cost.gb_seconds,
        readable::plural(s.cost.invocations, "invocation", "invocations"),
        s.cost
            .usd_per_million_requests
            .map(|c| format!(" · ${c:.4} per million requests"))
            .unwrap_or_default()
    );
    if let Some(threshold) = &s.aborted_by {
        let _ = writeln!(
            out,
            "  aborted ........: by threshold {threshold} (abortOnFail); the figures cover what was sent until then"
        );
    } else if s.interrupted {
        let _ = writeln!(
            out,
            "  interrupted ....: stopped before its end; the figures cover what was sent until then"
        );
    }
    if s.dropped_iterations > 0 {
        let _ = writeln!(
            out,
            "  dropped_iters ..: {}",
            thousands(s.dropped_iterations)
        );
    }
    data(out, s);
    vus(out, s);
    if !s.errors_by_class.is_empty() {
        let classes: Vec<String> = s
            .errors_by_class
            .iter()
            .map(|(c, n)| format!("{c}={}", thousands(*n)))
            .collect();
        let _ = writeln!(out, "  errors .........: {}", classes.join(" "));
    }
}

/// Planned and reported workers, objects left out and the start skew.
fn workers(out: &mut String, s: &Summary) {
    let _ = writeln!(
        out,
        "  workers ........: {} planned · {} reported{}",
        thousands(s.workers.planned as u64),
        thousands(s.workers.reported as u64),
        if s.workers.missing.is_empty() {
            String::new()
        } else {
            format!(" · missing: {}", first_few(&s.workers.missing, 5))
        }
    );
    if !s.workers.problems.is_empty() {
        let _ = writeln!(
            out,
            "  left out .......: {} object(s), line(s) or interval(s) that could not be used (listed on stderr)",
            s.workers.problems.len()
        );
    }
    if let Some(skew) = &s.workers.start_skew_ms {
        let _ = writeln!(
            out,
            "  start skew .....: p50 {:.2}ms · p99 {:.2}ms · max {:.2}ms{}",
            skew.p50,
            skew.p99,
            skew.max,
            if s.workers.late.is_empty() {
                String::new()
            } else {
                format!(" · late: {}", first_few(&s.workers.late, 5))
            }
        );
    }
}

/// `data_received` and `data_sent` as k6 prints them (`2.7 MB 45 kB/s`), when
/// the workers counted any.
fn data(out: &mut String, s: &Summary) {
    let t = &s.total;
    if t.data_sent == 0 && t.data_received == 0 {
        return;
    }
    let per_second = |n: u64| match s.duration_s > 0.0 {
        true => format!(" {}/s", readable::bytes(n as f64 / s.duration_s)),
        false => String::new(),
    };
    for (label, n) in [
        ("data_received ..", t.data_received),
        ("data_sent ......", t.data_sent),
    ] {
        let _ = writeln!(
            out,
            "  {label}: {}{}",
            readable::bytes(n as f64),
            per_second(n)
        );
    }
}

/// `iterations`, `vus` and `vus_max` as k6 prints them (`605 100.8/s`,
/// `3 min=0 max=40`), when the workers recorded them.
fn vus(out: &mut String, s: &Summary) {
    if s.iteration_duration_ms.is_some() {
        let rate = match s.duration_s > 0.0 {
            true => format!(
                " {}/s",
                readable::decimal(s.iterations as f64 / s.duration_s, 1)
            ),
            false => String::new(),
        };
        let _ = writeln!(out, "  iterations .....: {}{rate}", thousands(s.iterations));
    }
    script::metrics(out, s);
    for (label, gauge) in [
        ("vus ............", &s.vus),
        ("vus_max ........", &s.vus_max),
    ] {
        if let Some(g) = gauge {
            let _ = writeln!(
                out,
                "  {label}: {} min={} max={}",
                thousands(g.value),
                thousands(g.min),
                thousands(g.max)
            );
        }
    }
}

/// The requests table: total, then every region, then every request name.
fn table(out: &mut String, s: &Summary) {
    let _ = writeln!(
        out,
        "  {:<22} {:>9} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "", "requests", "rps", "errors", "p50", "p90", "p95", "p99", "max"
    );
    row(out, "total", &s.total);
    for (region, f) in &s.regions {
        row(out, &format!("region {region}"), f);
    }
    for (name, f) in &s.requests {
        row(out, &format!("request {name}"), f);
    }
}

/// One row of the requests table.
fn row(out: &mut String, label: &str, f: &Figures) {
    let err = if f.requests == 0 {
        0.0
    } else {
        100.0 * f.errors as f64 / f.requests as f64
    };
    let l = &f.latency_ms;
    let _ = writeln!(
        out,
        "  {:<22} {:>9} {:>9} {:>6.2}% {:>9} {:>9} {:>9} {:>9} {:>9}",
        label,
        thousands(f.requests),
        readable::decimal(f.rps, 1),
        err,
        fmt_ms(l.p50),
        fmt_ms(l.p90),
        fmt_ms(l.p95),
        fmt_ms(l.p99),
        fmt_ms(l.max)
    );
}

/// k6's http_req_* breakdown, over every request that got a response.
fn phases(out: &mut String, s: &Summary) {
    let Some(t) = &s.total.timings_ms else { return };
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {:<24} {:>9} {:>9} {:>9} {:>9}",
        "phases (total)", "p50", "p95", "p99", "max"
    );
    for (name, p) in t.phases() {
        let _ = writeln!(
            out,
            "  {:<24} {:>9} {:>9} {:>9} {:>9}",
            format!("http_req_{name}"),
            fmt_phase(p.p50),
            fmt_phase(p.p95),
            fmt_phase(p.p99),
            fmt_phase(p.max)
        );
    }
}

/// One line per check.
fn checks(out: &mut String, s: &Summary) {
    if s.checks.is_empty() {
        return;
    }
    let _ = writeln!(out);
    for (name, c) in &s.checks {
        let _ = writeln!(
            out,
            "  {} {name}  ({} passed, {} failed, {:.2}%)",
            if c.fails == 0 { "✓" } else { "✗" },
            thousands(c.passes),
            thousands(c.fails),
            c.rate * 100.0
        );
    }
}

/// One line per threshold verdict, the observed value with its unit.
fn thresholds(out: &mut String, s: &Summary) {
    if s.thresholds.is_empty() {
        return;
    }
    let _ = writeln!(out);
    for t in &s.thresholds {
        let observed = readable::observed(t);
        let _ = writeln!(
            out,
            "  {} {} {}  (observed {observed})",
            if t.ok { "✓" } else { "✗" },
            t.metric,
            t.expr
        );
    }
}

/// Up to `n` names joined with commas, then how many more there are.
pub fn first_few(names: &[String], n: usize) -> String {
    let shown = names.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    match names.len().saturating_sub(n) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// The text `sls-load plan` prints: workers and slices per region, invocations,
/// expected requests, concurrency needed and the estimated cost.
pub fn plan(
    plan: &Plan,
    expected: Option<f64>,
    cost: &Cost,
    concurrency: &BTreeMap<Region, usize>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan for {} · {} of load · slices of up to {} ({} per slot) · {} MB {}",
        plan.scenario_file,
        humantime::format_duration(plan.duration),
        humantime::format_duration(plan.slice),
        plan.slices,
        plan.memory_mb,
        plan.arch
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {:<16} {:>7} {:>10} {:>6} {:>12} {:>12}",
        "region", "weight", "rate/s", "slots", "invocations", "concurrency"
    );
    for r in &plan.regions {
        let _ = writeln!(
            out,
            "  {:<16} {:>6.1}% {:>10.1} {:>6} {:>12} {:>12}",
            r.region.as_str(),
            r.weight * 100.0,
            r.rate,
            r.slots,
            r.workers.len(),
            concurrency.get(&r.region).copied().unwrap_or_default()
        );
    }
    let _ = writeln!(out);
    if let Some(http) = plan.jobs.first().map(|j| &j.http) {
        let limit = sls_load_plan::share::vus_limit(http);
        if limit > sls_load_plan::share::MAX_VUS_PER_WORKER {
            let _ = writeln!(
                out,
                "  workers sized by HTTP/2 streams: {} VUs share a connection, up to {} VUs per worker (one per connection: {})",
                http.max_streams_per_connection,
                thousands(u64::from(limit)),
                sls_load_plan::share::MAX_VUS_PER_WORKER
            );
        }
    }
    if let Some(script) = plan.jobs.first().and_then(|j| j.script.as_ref()) {
        let _ = writeln!(
            out,
            "  engine: k6 script `{}` (JavaScript, a QuickJS runtime per VU; {} file(s) bundled){}",
            script.main,
            script.files.len(),
            match script.retarget {
                true => "; every request sent to the target",
                false => "",
            }
        );
    }
    plan_cost(&mut out, expected, cost);
    out
}

/// The expected requests and cost lines of `sls-load plan`.
fn plan_cost(out: &mut String, expected: Option<f64>, cost: &Cost) {
    let _ = writeln!(
        out,
        "  expected requests: {}",
        expected
            .map(|e| thousands(e.max(0.0).round() as u64))
            .unwrap_or_else(|| "unknown (closed-model executor)".into())
    );
    let _ = writeln!(
        out,
        "  estimated cost: ${:.6}  (Lambda compute {:.1} GB-s ${:.6} · {} ${:.6} · S3 {} PUT {} GET {} LIST ${:.6})",
        cost.usd,
        cost.gb_seconds,
        cost.lambda_compute_usd,
        readable::plural(cost.invocations, "invocation", "invocations"),
        cost.lambda_requests_usd,
        cost.s3_requests.put,
        cost.s3_requests.get,
        cost.s3_requests.list,
        cost.s3_usd
    );
    if let Some(per_million) = cost.usd_per_million_requests {
        let _ = writeln!(out, "  cost per million requests: ${per_million:.4}");
    }
    let _ = writeln!(
        out,
        "  prices: {} ({})",
        sls_load_plan::cost::PRICES_AS_OF,
        sls_load_plan::cost::PRICES_SOURCE
    );
}

#[cfg(test)]
mod tests {
    use crate::testing::sample_summary as sample;

    #[test]
    fn a_local_runs_cost_reads_as_an_estimate_and_one_invocation_is_singular() {
        let mut s = sample();
        s.cost.invocations = 1;
        s.cloud = Some(sls_load_plan::CloudRecord {
            mode: "local".into(),
            account: None,
            regions: vec![sls_load_core::job::Region::us_east_1()],
            bucket: "s3://sls-load-results".into(),
            bucket_region: sls_load_core::job::Region::us_east_1(),
        });
        let text = super::summary(&s);
        let line = text
            .lines()
            .find(|l| l.starts_with("  cost "))
            .expect("a cost line");
        assert!(
            line.starts_with("  cost ...........: none (a local run); on AWS about $"),
            "{line}"
        );
        assert!(line.contains(", 1 invocation)"), "{line}");
    }

    #[test]
    fn bytes_iterations_and_vus_read_as_k6_prints_them() {
        let text = super::summary(&sample());
        for line in [
            "  data_received ..: 1.2 MB 202 kB/s",
            "  data_sent ......: 121 kB 20 kB/s",
            "  iterations .....: 605 100.8/s",
            "  vus ............: 0 min=0 max=40",
            "  vus_max ........: 50 min=10 max=50",
        ] {
            assert!(text.contains(line), "`{line}` in:\n{text}");
        }
    }
}
