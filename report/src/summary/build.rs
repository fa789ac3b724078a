//! Builds the end-of-test summary once, complete: from what was collected and
//! merged ([`Collected`]) and how the run ended ([`Ending`]: an interruption, an
//! abort, a drill's events), with every threshold judged once
//! ([`crate::judge::Observed`]) after the drill's analysis. Nothing patches a
//! summary afterwards. `run`, `watch` and `report RUN_ID` all build it here from
//! stored objects, so a rebuilt report equals the original.
//!
//! It does no IO (the command reads the control object and the events record)
//! and renders nothing.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use sls_load_core::job::{Job, Manifest, Region, WorkerId};
use sls_load_plan::plan::Plan;

use super::model::{
    CheckFigures, Figures, GaugeFigures, LATE_AFTER_MS, Latency, PhaseFigures, PhaseTimings,
    RegionWorkers, SUMMARY_FORMAT, Second, Spread, Summary, Workers,
};
use super::span::Span;
use crate::collect::Collected;
use crate::drill::analysis::{Drill, analyse};
use crate::drill::events::EventRecord;
use crate::judge::Observed;
use crate::merge::seconds::Points;
use crate::merge::{Merged, Stats};
use crate::series::{self, Marker, Series, SpectrumPoint};

/// How a run ended, as the command that finishes it knows it besides the
/// stored objects.
#[derive(Debug, Clone, Default)]
pub struct Ending {
    /// Stopped before its end (Ctrl-C, SIGTERM, `sls-load stop`, a stale
    /// heartbeat); a worker's manifest saying it was stopped counts too.
    pub interrupted: bool,
    /// The `abortOnFail` threshold that stopped the run, as `metric expr`, read
    /// from its control object.
    pub aborted_by: Option<String>,
    /// A drill's events as they ran (`events.json`); empty without events.
    pub events: Vec<EventRecord>,
}

impl Summary {
    /// The summary of `collected`'s run as it ended: the figures, workers,
    /// cost and series, the drill's analysis (for a run with events, from every
    /// closed second), the markers (slice hand-overs, DNS answers, the end, the
    /// events; in time order) and every threshold's verdict.
    pub fn build(collected: &Collected, ending: Ending) -> Summary {
        let plan = &collected.plan;
        let merged = &collected.merged;
        let totals = ManifestTotals::of(collected);
        let points = merged.seconds.points();
        let interrupted = ending.interrupted || collected.manifests.values().any(|m| m.stopped);
        let span = Span::of(
            collected,
            interrupted || ending.aborted_by.is_some(),
            points.total.keys().next_back().copied(),
        );
        let secs = span.total;
        let drill = plan.drill.as_ref().map(|d| {
            let feed = collected.drill_feed().unwrap_or_default();
            analyse(d, plan.duration, &feed)
        });
        let observed = Observed::of(collected, drill.as_ref()).over(secs);
        let thresholds = plan
            .thresholds
            .iter()
            .map(|t| observed.verdict(t))
            .collect();
        let mut regions = region_figures(plan, merged, &span);
        attach_error_classes(&mut regions, totals.by_region);
        let mut requests = merged
            .requests
            .iter()
            .map(|(name, s)| (name.clone(), figures(s, secs)))
            .collect();
        attach_error_classes(&mut requests, totals.by_request);
        let timeline = timeline(&points);
        let end = end_marker(&timeline, ending.aborted_by.as_deref(), interrupted);
        Summary {
            format: SUMMARY_FORMAT,
            run_id: plan.run_id.clone(),
            scenario_file: plan.scenario_file.clone(),
            start_at: humantime::format_rfc3339_millis(plan.start_at).to_string(),
            duration_s: secs,
            planned_duration_s: span.planned,
            total: figures(&merged.total, secs),
            regions,
            requests,
            workers: workers(collected, problems(collected, merged)),
            dropped_iterations: totals.dropped,
            errors_by_class: totals.errors_by_class,
            checks: check_figures(totals.checks),
            cost: sls_load_plan::cost::actual(
                plan,
                &collected.manifests.values().collect::<Vec<_>>(),
                merged.total.requests(),
            ),
            timeline,
            thresholds,
            interrupted,
            aborted_by: ending.aborted_by,
            series: series(plan, &points, merged),
            spectrum: spectrum(plan, merged),
            markers: markers(collected, end, &ending.events),
            vus: GaugeFigures::of(&merged.total.vus),
            vus_max: GaugeFigures::of(&merged.total.vus_max),
            iterations: merged.total.iterations.as_ref().map_or(0, |h| h.len()),
            iteration_duration_ms: merged
                .total
                .iterations
                .as_ref()
                .filter(|h| !h.is_empty())
                .map(latency),
            events: ending.events,
            paused_iterations: paused_iterations(collected, drill.as_ref()),
            drill,
            cloud: plan.cloud.clone(),
            metrics: super::script::metrics(collected, secs),
            group_checks: super::script::group_checks(collected),
            exceptions: super::script::exceptions(collected),
        }
    }
}

/// The end marker: `abort` naming the threshold when one stopped the run,
/// else `stop` when it was interrupted, at the last second with data.
fn end_marker(timeline: &[Second], aborted_by: Option<&str>, interrupted: bool) -> Option<Marker> {
    let t = timeline.last().map_or(0.0, |s| s.t as f64);
    let (kind, label) = match (aborted_by, interrupted) {
        (Some(threshold), _) => ("abort", threshold.to_owned()),
        (None, true) => ("stop", "stopped".to_owned()),
        (None, false) => return None,
    };
    Some(Marker {
        t,
        kind: kind.into(),
        label,
    })
}

/// Every marker of the run in time order (ties in this order): slice
/// hand-overs, DNS answers, the end, the drill's events' starts and ends.
fn markers(collected: &Collected, end: Option<Marker>, events: &[EventRecord]) -> Vec<Marker> {
    let mut markers = slice_markers(&collected.plan);
    markers.extend(dns_markers(collected));
    markers.extend(end);
    markers.extend(event_markers(events));
    markers.sort_by(|a, b| a.t.total_cmp(&b.t));
    markers
}

/// Markers for the events' starts (actual, else planned) and planned ends.
fn event_markers(records: &[EventRecord]) -> Vec<Marker> {
    let mut out = Vec::new();
    for e in records {
        out.push(Marker {
            t: e.started_s.unwrap_or(e.at_s),
            kind: "event".into(),
            label: e.name.clone(),
        });
        if let Some(until) = e.until_s {
            out.push(Marker {
                t: until,
                kind: "event".into(),
                label: format!("{} ends", e.name),
            });
        }
    }
    out
}

/// Arrivals due while a drill paused their region, from the manifests; 0
/// without a drill.
fn paused_iterations(collected: &Collected, drill: Option<&Drill>) -> u64 {
    match drill {
        Some(_) => collected
            .manifests
            .values()
            .map(|m| m.paused_iterations)
            .sum(),
        None => 0,
    }
}

/// What the workers' manifests add up to over the run.
#[derive(Default)]
struct ManifestTotals {
    /// Failures by class, run-wide.
    errors_by_class: BTreeMap<String, u64>,
    /// Failures by class per region.
    by_region: BTreeMap<String, BTreeMap<String, u64>>,
    /// Failures by class per request name.
    by_request: BTreeMap<String, BTreeMap<String, u64>>,
    /// Check passes and fails by check name.
    checks: BTreeMap<String, (u64, u64)>,
    /// Iterations that could not start on time.
    dropped: u64,
}

impl ManifestTotals {
    fn of(collected: &Collected) -> ManifestTotals {
        let mut t = ManifestTotals::default();
        for m in collected.manifests.values() {
            t.dropped += m.dropped_iterations;
            for (name, c) in &m.checks {
                let e = t.checks.entry(name.clone()).or_default();
                e.0 += c.passes;
                e.1 += c.fails;
            }
            for (request, counts) in &m.requests {
                for (class, n) in &counts.errors_by_class {
                    let class = class.as_str();
                    for scope in [
                        &mut t.errors_by_class,
                        t.by_region.entry(m.region.to_string()).or_default(),
                        t.by_request.entry(request.clone()).or_default(),
                    ] {
                        *scope.entry(class.to_owned()).or_insert(0) += n;
                    }
                }
            }
        }
        t
    }
}

/// Objects that could not be collected or merged, as sorted `key: reason` lines.
fn problems(collected: &Collected, merged: &Merged) -> Vec<String> {
    let mut problems: Vec<String> = collected
        .problems
        .iter()
        .chain(&merged.problems)
        .map(|p| format!("{}: {}", p.key, p.message))
        .collect();
    problems.sort();
    problems
}

/// Figures of every planned region, even one that sent nothing, its rates
/// over the time its own load ran.
fn region_figures(plan: &Plan, merged: &Merged, span: &Span) -> BTreeMap<String, Figures> {
    plan.regions
        .iter()
        .map(|r| {
            let stats = merged.regions.get(&r.region).cloned().unwrap_or_default();
            (
                r.region.to_string(),
                figures(&stats, span.region(&r.region)),
            )
        })
        .collect()
}

/// Pass/fail counts with their pass rate.
fn check_figures(checks: BTreeMap<String, (u64, u64)>) -> BTreeMap<String, CheckFigures> {
    checks
        .into_iter()
        .map(|(name, (passes, fails))| {
            let rate = if passes + fails == 0 {
                0.0
            } else {
                round3(passes as f64 / (passes + fails) as f64)
            };
            (
                name,
                CheckFigures {
                    passes,
                    fails,
                    rate,
                },
            )
        })
        .collect()
}

/// Per-second requests, errors and p95: the run's points.
fn timeline(points: &Points) -> Vec<Second> {
    points
        .total
        .values()
        .map(|p| Second {
            t: p.t,
            requests: p.requests,
            errors: p.errors,
            p95_ms: p.p95_ms,
        })
        .collect()
}

/// The per-second series of every planned region, request and region × request.
fn series(plan: &Plan, points: &Points, merged: &Merged) -> Series {
    let regions: Vec<Region> = plan.regions.iter().map(|r| r.region.clone()).collect();
    let last = points.total.keys().next_back().copied();
    let mut series = points.series(&regions, last);
    series.late = merged
        .late
        .iter()
        .map(|p| format!("{}: {}", p.key, p.message))
        .collect();
    series.late.sort();
    series
}

/// A `slice N` marker at each slice hand-over: where the N-th slice (1-based)
/// of the plan's worker slots starts.
fn slice_markers(plan: &Plan) -> Vec<Marker> {
    let starts: BTreeMap<u32, Duration> = plan
        .jobs
        .iter()
        .filter(|j| j.slice > 0)
        .map(|j| (j.slice, j.run_offset))
        .collect();
    starts
        .into_iter()
        .map(|(slice, at)| Marker {
            t: at.as_secs_f64(),
            kind: "slice".into(),
            label: format!("slice {}", slice + 1),
        })
        .collect()
}

/// The latency percentile spectrum of every region that got responses.
fn spectrum(plan: &Plan, merged: &Merged) -> BTreeMap<String, Vec<SpectrumPoint>> {
    plan.regions
        .iter()
        .filter_map(|r| {
            let points = series::spectrum(&merged.regions.get(&r.region)?.duration);
            (!points.is_empty()).then(|| (r.region.to_string(), points))
        })
        .collect()
}

/// Sets each scope's failures by class (scopes without a row are skipped).
fn attach_error_classes(
    scopes: &mut BTreeMap<String, Figures>,
    by: BTreeMap<String, BTreeMap<String, u64>>,
) {
    for (name, classes) in by {
        if let Some(figures) = scopes.get_mut(&name) {
            figures.errors_by_class = classes;
        }
    }
}

/// A planned worker's start skew: its region, id and milliseconds late (negative: early).
type Skew = (Region, WorkerId, f64);

/// Milliseconds of a duration.
fn duration_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Milliseconds from `b` to `a`, negative when `a` is earlier.
fn signed_ms(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => duration_ms(d),
        Err(e) => -duration_ms(e.duration()),
    }
}

/// Worker counts and start-timing spreads.
fn workers(collected: &Collected, problems: Vec<String>) -> Workers {
    let plan = &collected.plan;
    let skews = start_skews(collected);
    let mut late: Vec<(f64, String)> = skews
        .iter()
        .filter(|(_, _, s)| *s > LATE_AFTER_MS)
        .map(|(r, w, s)| (*s, format!("{r}/{w} (+{s:.1}ms)")))
        .collect();
    late.sort_by(|a, b| b.0.total_cmp(&a.0));
    let manifests: Vec<&Manifest> = collected.manifests.values().collect();
    Workers {
        planned: plan.worker_count(),
        reported: collected.manifests.len(),
        missing: collected
            .missing()
            .iter()
            .map(|(r, w)| format!("{r}/{w}"))
            .collect(),
        problems,
        start_skew_ms: spread(skews.iter().map(|(_, _, s)| *s).collect()),
        late: late.into_iter().map(|(_, l)| l).collect(),
        init_ms: spread(
            manifests
                .iter()
                .filter_map(|m| m.init_duration.map(duration_ms))
                .collect(),
        ),
        cold_starts: manifests
            .iter()
            .filter(|m| m.init_duration.is_some())
            .count(),
        invoke_to_start_ms: spread(
            manifests
                .iter()
                .map(|m| signed_ms(m.start_at, m.invoked_at))
                .collect(),
        ),
        regions: region_workers(plan, &manifests, &skews),
    }
}

/// Start skew: each reporting worker's first request's actual departure against
/// its intended instant.
fn start_skews(collected: &Collected) -> Vec<Skew> {
    collected
        .plan
        .jobs
        .iter()
        .filter_map(|job| {
            let m = collected
                .manifests
                .get(&(job.region.clone(), job.worker_id.clone()))?;
            let first = m.first_request_at?;
            let intended = job.start_at + first_offset(job);
            Some((
                job.region.clone(),
                job.worker_id.clone(),
                signed_ms(first, intended),
            ))
        })
        .collect()
}

/// Planned and reported workers and start skew of every planned region.
fn region_workers(
    plan: &Plan,
    manifests: &[&Manifest],
    skews: &[Skew],
) -> BTreeMap<String, RegionWorkers> {
    plan.regions
        .iter()
        .map(|r| {
            let region_skews: Vec<f64> = skews
                .iter()
                .filter(|(reg, _, _)| *reg == r.region)
                .map(|(_, _, s)| *s)
                .collect();
            (
                r.region.to_string(),
                RegionWorkers {
                    planned: r.workers.len(),
                    reported: manifests.iter().filter(|m| m.region == r.region).count(),
                    start_skew_ms: spread(region_skews),
                },
            )
        })
        .collect()
}

/// When a job's first request is due after its start instant (ramps from zero,
/// quiet first stages and `start_time` included).
fn first_offset(job: &Job) -> Duration {
    sls_load_core::schedule::first_due(job).unwrap_or_default()
}

fn figures(s: &Stats, secs: f64) -> Figures {
    Figures {
        requests: s.requests(),
        errors: s.errors(),
        rps: if secs > 0.0 {
            round3(s.requests() as f64 / secs)
        } else {
            0.0
        },
        latency_ms: latency(&s.duration),
        timings_ms: phase_timings(s),
        errors_by_class: BTreeMap::new(),
        data_sent: s.data_sent,
        data_received: s.data_received,
    }
}

/// The percentiles of `h` (microseconds) in milliseconds, as [`figures`]
/// computes a scope's latency; zeros when empty.
fn latency(h: &Histogram<u64>) -> Latency {
    let q = |p: f64| ms(h.value_at_quantile(p));
    let empty = h.is_empty();
    Latency {
        avg: if empty {
            0.0
        } else {
            round3(h.mean() / 1000.0)
        },
        min: if empty { 0.0 } else { ms(h.min()) },
        p50: q(0.5),
        p90: q(0.9),
        p95: q(0.95),
        p99: q(0.99),
        p99_9: q(0.999),
        max: if empty { 0.0 } else { ms(h.max()) },
    }
}

/// Microseconds to milliseconds, rounded to the microsecond.
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The workers' DNS answers for the target as `dns` markers: per region, in time
/// order, each answer that differs from the region's previous one (so the first
/// answer and every change appear once, however many workers saw them), labelled
/// `host → addresses (region)`, at seconds after the agreed start (0 when earlier).
fn dns_markers(collected: &Collected) -> Vec<Marker> {
    let start = collected.plan.start_at;
    let mut seen: Vec<(&Region, &sls_load_core::job::Resolution)> = collected
        .manifests
        .values()
        .flat_map(|m| m.resolutions.iter().map(move |r| (&m.region, r)))
        .collect();
    seen.sort_by_key(|(_, r)| r.at);
    let mut last: BTreeMap<(&Region, &str), &[std::net::IpAddr]> = BTreeMap::new();
    let mut markers = Vec::new();
    for (region, r) in seen {
        let previous = last.insert((region, r.host.as_str()), &r.addresses);
        if previous == Some(r.addresses.as_slice()) {
            continue;
        }
        let addresses: Vec<String> = r.addresses.iter().map(|a| a.to_string()).collect();
        markers.push(Marker {
            t: r.at.duration_since(start).map_or(0.0, |d| d.as_secs_f64()),
            kind: "dns".to_owned(),
            label: format!("{} → {} ({region})", r.host, addresses.join(", ")),
        });
    }
    markers
}

/// The merged phase histograms of `s`, or `None` when it has none.
fn phase_timings(s: &Stats) -> Option<PhaseTimings> {
    if s.timings.iter().all(Option::is_none) {
        return None;
    }
    let phase = |i: usize| match &s.timings[i] {
        Some(h) if !h.is_empty() => PhaseFigures {
            p50: ms(h.value_at_quantile(0.5)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        },
        _ => PhaseFigures {
            p50: 0.0,
            p95: 0.0,
            p99: 0.0,
            max: 0.0,
        },
    };
    Some(PhaseTimings {
        blocked: phase(0),
        connecting: phase(1),
        tls_handshaking: phase(2),
        sending: phase(3),
        waiting: phase(4),
        receiving: phase(5),
    })
}

/// The median, 99th percentile (nearest rank) and largest of `values`.
fn spread(mut values: Vec<f64>) -> Option<Spread> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = |q: f64| {
        let i = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
        round3(values[i])
    };
    Some(Spread {
        p50: rank(0.5),
        p99: rank(0.99),
        max: round3(values[values.len() - 1]),
    })
}

#[cfg(test)]
mod tests;
