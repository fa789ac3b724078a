//! `sls-load runs`: the runs in the results store, newest first, one line each
//! (or a JSON array with `--json`): id, start, scenario file, regions, requests
//! sent, verdict and cost. A run is a `runs/ID/plan.json`; its verdict and cost come
//! from `runs/ID/summary.json` when the run was reported.
//!
//! It only reads: plans and summaries are fetched with bounded concurrency
//! ([`sls_load_report::store::get_stream`]) for at most `--limit` runs; it merges no
//! interval logs and writes nothing.

use std::collections::BTreeMap;
use std::time::SystemTime;

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use sls_load_core::job::{ObjectKey, RunId};

use super::{Error, stdout};
use crate::cloud::Cloud;
use crate::options::RunsOptions;
use sls_load_report::store::Store;
use sls_load_report::summary::Summary;

/// What a run's summary says of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every worker reported and every threshold held.
    Passed,
    /// Complete, but a threshold was crossed.
    ThresholdsFailed,
    /// Complete, but a drill event failed (the run ended with 1).
    EventFailed,
    /// Stopped before its end (Ctrl-C, `sls-load stop`, a stale heartbeat).
    Interrupted,
    /// Stopped by an `abortOnFail` threshold.
    Aborted,
    /// Workers missing or data that could not be used.
    Incomplete,
    /// No summary stored: still running, or never reported.
    RunningOrUnreported,
}

impl Verdict {
    /// The verdict of a reported run, judged as `run` and `report` judge it.
    pub fn of(summary: &Summary) -> Verdict {
        if summary.aborted_by.is_some() {
            Verdict::Aborted
        } else if summary.interrupted {
            Verdict::Interrupted
        } else if !summary.workers.missing.is_empty() || !summary.workers.problems.is_empty() {
            Verdict::Incomplete
        } else if summary.events.iter().any(|e| e.failed()) {
            Verdict::EventFailed
        } else if !summary.thresholds_ok() {
            Verdict::ThresholdsFailed
        } else {
            Verdict::Passed
        }
    }

    /// As shown in the table.
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::ThresholdsFailed => "thresholds failed",
            Verdict::EventFailed => "event failed",
            Verdict::Interrupted => "interrupted",
            Verdict::Aborted => "aborted",
            Verdict::Incomplete => "incomplete",
            Verdict::RunningOrUnreported => "running or unreported",
        }
    }
}

/// The part of `plan.json` a listing needs (the rest, workers' jobs included, is
/// ignored).
#[derive(Debug, Deserialize)]
struct PlanHead {
    scenario_file: String,
    #[serde(with = "humantime_serde")]
    start_at: SystemTime,
    regions: Vec<RegionHead>,
}

#[derive(Debug, Deserialize)]
struct RegionHead {
    region: String,
}

/// One run as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunLine {
    /// The run id.
    pub run_id: String,
    /// The agreed start, RFC 3339 (seconds).
    pub start_at: String,
    /// The scenario file.
    pub scenario_file: String,
    /// Its regions, in plan order.
    pub regions: Vec<String>,
    /// Requests sent; `None` when unreported.
    pub requests: Option<u64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Cost in USD at list prices; `None` when unreported.
    pub cost_usd: Option<f64>,
}

impl RunLine {
    fn new(run: &RunId, plan: PlanHead, summary: Option<&Summary>) -> RunLine {
        RunLine {
            run_id: run.to_string(),
            start_at: humantime::format_rfc3339_seconds(plan.start_at).to_string(),
            scenario_file: plan.scenario_file,
            regions: plan.regions.into_iter().map(|r| r.region).collect(),
            requests: summary.map(|s| s.total.requests),
            verdict: summary.map_or(Verdict::RunningOrUnreported, Verdict::of),
            cost_usd: summary.map(|s| s.cost.usd),
        }
    }
}

/// `sls-load runs`.
pub async fn runs(opts: RunsOptions) -> Result<(), Error> {
    if opts.cloud.why != crate::cloud::Why::LocalFlag {
        eprintln!("{}", crate::cloud::announcement(&opts.cloud));
    }
    let cloud = Cloud::store_only(&opts.cloud).await?;
    let lines = list(&cloud.store, opts.limit).await;
    cloud.shutdown().await;
    let lines = lines?;
    let text = if opts.json {
        let mut json = serde_json::to_string_pretty(&lines).map_err(Error::encoding("runs"))?;
        json.push('\n');
        json
    } else {
        table(&lines)
    };
    stdout(&text)
}

/// The run ids in the store, newest first by id (generated ids sort by time).
fn run_ids(keys: &[ObjectKey]) -> Vec<RunId> {
    let mut ids: Vec<RunId> = keys
        .iter()
        .filter_map(|k| match k.as_str().split('/').collect::<Vec<_>>()[..] {
            ["runs", id, "plan.json"] => id.parse().ok(),
            _ => None,
        })
        .collect();
    ids.sort_by(|a, b| b.as_str().cmp(a.as_str()));
    ids.dedup();
    ids
}

/// The newest `limit` runs (by id), read and then ordered by start, newest first.
async fn list(store: &impl Store, limit: usize) -> Result<Vec<RunLine>, Error> {
    let mut ids = run_ids(&store.list("runs/").await?);
    ids.truncate(limit);
    let keys = ids
        .iter()
        .flat_map(|id| [ObjectKey::plan(id), ObjectKey::summary(id)])
        .collect();
    let mut objects: BTreeMap<ObjectKey, Vec<u8>> = BTreeMap::new();
    let mut stream = std::pin::pin!(sls_load_report::store::get_stream(store, keys));
    while let Some((key, got)) = stream.next().await {
        if let Some(bytes) = got? {
            objects.insert(key, bytes);
        }
    }
    let mut lines = Vec::with_capacity(ids.len());
    let mut starts = Vec::with_capacity(ids.len());
    for id in &ids {
        let plan = objects.get(&ObjectKey::plan(id));
        let plan = match plan.map(|p| serde_json::from_slice::<PlanHead>(p)) {
            Some(Ok(plan)) => plan,
            Some(Err(e)) => {
                eprintln!("sls-load: warning: run {id}: plan.json cannot be read ({e}); left out");
                continue;
            }
            None => continue,
        };
        let summary = match objects.get(&ObjectKey::summary(id)) {
            Some(bytes) => match serde_json::from_slice::<Summary>(bytes) {
                Ok(s) => Some(s),
                Err(e) => {
                    eprintln!("sls-load: warning: run {id}: summary.json cannot be read ({e})");
                    None
                }
            },
            None => None,
        };
        starts.push(plan.start_at);
        lines.push(RunLine::new(id, plan, summary.as_ref()));
    }
    let mut ordered: Vec<(SystemTime, RunLine)> = starts.into_iter().zip(lines).collect();
    ordered.sort_by(|(a, la), (b, lb)| b.cmp(a).then_with(|| lb.run_id.cmp(&la.run_id)));
    Ok(ordered.into_iter().map(|(_, line)| line).collect())
}

/// The runs as an aligned table with a header.
fn table(lines: &[RunLine]) -> String {
    if lines.is_empty() {
        return "no runs in the store\n".to_owned();
    }
    let header = [
        "RUN ID", "START", "SCENARIO", "REGIONS", "REQUESTS", "VERDICT", "COST",
    ]
    .map(str::to_owned);
    let mut rows = vec![header];
    rows.extend(lines.iter().map(|l| {
        [
            l.run_id.clone(),
            l.start_at.clone(),
            l.scenario_file.clone(),
            l.regions.join(","),
            l.requests
                .map_or("-".to_owned(), sls_load_report::readable::thousands),
            l.verdict.text().to_owned(),
            l.cost_usd
                .map_or("-".to_owned(), |usd| format!("${usd:.4}")),
        ]
    }));
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sls_load_report::testing::sample_summary as sample;

    #[test]
    fn a_summary_gives_the_verdict_run_and_report_would_end_with() {
        let mut s = sample();
        assert_eq!(Verdict::of(&s), Verdict::ThresholdsFailed);
        s.thresholds.retain(|t| t.ok);
        assert_eq!(Verdict::of(&s), Verdict::Passed);
        // A failed drill event ends the run with 1, as `run` does.
        s.events.push(sls_load_report::drill::events::EventRecord {
            name: "eu-down".into(),
            kind: "http".into(),
            at_s: 1.0,
            until_s: None,
            started_s: Some(1.0),
            ended_s: Some(1.1),
            outcome: sls_load_report::drill::events::Outcome::Failed,
            http_status: Some(503),
            exit_code: None,
            error: Some("POST http://127.0.0.1:9/down answered 503".into()),
            output: Vec::new(),
        });
        assert_eq!(Verdict::of(&s), Verdict::EventFailed);
        s.workers.missing.push("us-east-1/w0001".into());
        assert_eq!(Verdict::of(&s), Verdict::Incomplete);
        s.interrupted = true;
        assert_eq!(Verdict::of(&s), Verdict::Interrupted);
        s.aborted_by = Some("http_req_duration p(95)<1".into());
        assert_eq!(Verdict::of(&s), Verdict::Aborted);
    }

    #[test]
    fn runs_are_the_plans_in_the_store_newest_id_first() {
        let keys: Vec<ObjectKey> = [
            "runs/20260101-100000-aaaa/plan.json",
            "runs/20260101-100000-aaaa/summary.json",
            "runs/20260102-090000-bbbb/plan.json",
            "runs/20260102-090000-bbbb/us-east-1/w0000/manifest.json",
            "runs/no-plan/summary.json",
        ]
        .iter()
        .map(|k| ObjectKey::new(*k).expect("key"))
        .collect();
        let ids: Vec<String> = run_ids(&keys).iter().map(|i| i.to_string()).collect();
        assert_eq!(ids, ["20260102-090000-bbbb", "20260101-100000-aaaa"]);
    }

    #[test]
    fn the_table_shows_unreported_runs_without_figures() {
        let line = |id: &str, verdict, requests, cost| RunLine {
            run_id: id.into(),
            start_at: "2026-11-27T18:00:00Z".into(),
            scenario_file: "s.yaml".into(),
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            requests,
            verdict,
            cost_usd: cost,
        };
        let text = table(&[
            line("b", Verdict::RunningOrUnreported, None, None),
            line("a", Verdict::Passed, Some(1_210), Some(0.00012)),
        ]);
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(
            rows,
            [
                "RUN ID  START                 SCENARIO  REGIONS              REQUESTS  VERDICT                COST",
                "b       2026-11-27T18:00:00Z  s.yaml    us-east-1,eu-west-1  -         running or unreported  -",
                "a       2026-11-27T18:00:00Z  s.yaml    us-east-1,eu-west-1  1,210     passed                 $0.0001",
            ]
        );
        assert_eq!(table(&[]), "no runs in the store\n");
    }
}
