//! Failover drills, the orchestrator's side (transitional: moving to
//! sls-load-report and the orchestrator's event runner): running the events
//! ([`events`]), the analysis ([`analysis`]) and the drill thresholds
//! ([`thresholds`]). The drill spec is `sls_load_plan::drill`.

pub mod analysis;
pub mod events;
pub mod html;
pub mod render;
pub mod thresholds;

pub use sls_load_plan::drill::*;

/// Adds a drill's part to the summary of `collected`'s run: the events as
/// they ran (read from `events.json`; a warning when it cannot be read), one
/// marker per event start (and end, for events with `until`), the analysis of
/// the closed seconds not drained yet, and the drill thresholds judged on it.
/// Nothing for a run without events.
pub async fn attach(
    store: &impl crate::store::Store,
    collected: &mut crate::collect::Collected,
    summary: &mut crate::summary::Summary,
) {
    let Some(plan) = collected.plan.drill.clone() else {
        return;
    };
    match events::load(store, &collected.plan.run_id).await {
        Ok(records) => summary.events = records,
        Err(e) => eprintln!("sls-load: warning: the drill's events were not read: {e}"),
    }
    summary.paused_iterations = collected
        .manifests
        .values()
        .map(|m| m.paused_iterations)
        .sum();
    summary.markers.extend(markers(&summary.events));
    summary.markers.sort_by(|a, b| a.t.total_cmp(&b.t));
    // What is still queued joins the feed (the outputs may have drained the rest).
    collected.drain_closed();
    let feed = collected.drill_feed().cloned().unwrap_or_default();
    summary.drill = Some(analysis::analyse(&plan, collected.plan.duration, &feed));
    thresholds::judge(summary);
}

/// For `skip_serializing_if`: a zero count is left out.
pub fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Markers for the events' starts (actual, else planned) and planned ends.
fn markers(records: &[events::EventRecord]) -> Vec<crate::series::Marker> {
    let mut out = Vec::new();
    for e in records {
        out.push(crate::series::Marker {
            t: e.started_s.unwrap_or(e.at_s),
            kind: "event".into(),
            label: e.name.clone(),
        });
        if let Some(until) = e.until_s {
            out.push(crate::series::Marker {
                t: until,
                kind: "event".into(),
                label: format!("{} ends", e.name),
            });
        }
    }
    out
}
