//! `--k6-summary FILE`: the summary in the JSON shape k6's own `--summary-export`
//! writes (k6's "old JSON summary"), so tools built for k6 read sls-load runs.
//!
//! Shape, as k6 builds it: `root_group` is the root group (`name` and `path`
//! empty, `id` the MD5 of its path) with `groups` and `checks` keyed by name, each
//! check `{name, path: "::NAME", id, passes, fails}`. `metrics` maps each metric to
//! its values directly: a counter `{count, rate}` (rate per second: `http_reqs`,
//! `iterations`, `dropped_iterations`, `data_sent`, `data_received` in bytes), a
//! rate `{passes, fails, value}` (k6's `passes` counts true values: for
//! `http_req_failed` the failed requests), a trend `{avg, min, med, max, p(90),
//! p(95)}` in milliseconds (`http_req_duration`, `iteration_duration`), a gauge
//! `{value, min, max}` (`vus`, `vus_max`: sls-load's per-second sums over the
//! workers). A metric with thresholds carries `thresholds: {EXPR: crossed}`
//! (`true` when the threshold failed, as k6 writes it), and a threshold on a
//! tagged sub-metric (`http_req_duration{name:home}`) adds that sub-metric with
//! the figures of its scope when sls-load has them. `http_req_{phase}` trends
//! carry only the aggregates sls-load keeps (`med`, `p(95)`, `p(99)`, `max`); a
//! metric the run's workers did not record (no iteration, no byte, no VU) is
//! left out rather than invented as zero.
//!
//! It translates the [`Summary`]; it computes no figure beyond k6's arithmetic
//! (rates, sums of checks) and does no IO.

use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use std::collections::BTreeMap;

use crate::summary::{Figures, Latency, MetricFigures, Summary};
use sls_load_plan::threshold::parse_metric_key;

/// k6's separator between a group's path and a check's name.
const GROUP_SEPARATOR: &str = "::";

/// `--k6-summary`: the summary in k6's `--summary-export` shape.
pub struct K6Summary;

impl super::Exporter for K6Summary {
    fn export(&self, s: &Summary) -> Result<Vec<u8>, super::ExportError> {
        Ok(serde_json::to_string_pretty(&summary(s))?.into_bytes())
    }
}

/// The summary of `s` as k6's `--summary-export` writes it.
pub fn summary(s: &Summary) -> Value {
    json!({
        "root_group": root_group(s),
        "metrics": metrics(s),
    })
}

/// The root group with the run's checks: a k6 script's `group()`s nested by
/// their paths (`::outer::inner`), each with the checks made inside it; the
/// root keeps the checks made outside every group.
fn root_group(s: &Summary) -> Value {
    let mut root = group("", "");
    let mut outside: BTreeMap<&str, (u64, u64)> = s
        .checks
        .iter()
        .map(|(name, c)| (name.as_str(), (c.passes, c.fails)))
        .collect();
    for (path, checks) in &s.group_checks {
        let node = group_at(&mut root, path);
        for (name, c) in checks {
            if let Some((p, f)) = outside.get_mut(name.as_str()) {
                *p = p.saturating_sub(c.passes);
                *f = f.saturating_sub(c.fails);
            }
            add_check(node, path, name, c.passes, c.fails);
        }
    }
    for (name, (passes, fails)) in outside {
        if passes + fails > 0 {
            add_check(&mut root, "", name, passes, fails);
        }
    }
    root
}

/// An empty group named `name` at `path`.
fn group(name: &str, path: &str) -> Value {
    json!({ "name": name, "path": path, "id": id(path), "groups": {}, "checks": {} })
}

/// The group at `path` (`::a::b`) below `root`, made on the way.
fn group_at<'a>(root: &'a mut Value, path: &str) -> &'a mut Value {
    let mut node = root;
    let mut at = String::new();
    for name in path.split(GROUP_SEPARATOR).filter(|n| !n.is_empty()) {
        at.push_str(GROUP_SEPARATOR);
        at.push_str(name);
        // Every node is made by `group`, whose `groups` is an object.
        let child = &mut node["groups"][name];
        if child.is_null() {
            *child = group(name, &at);
        }
        node = child;
    }
    node
}

/// Adds check `name` with its counts to `group` at `path`.
fn add_check(group: &mut Value, path: &str, name: &str, passes: u64, fails: u64) {
    let check_path = format!("{path}{GROUP_SEPARATOR}{name}");
    let check = json!({
        "name": name,
        "path": check_path,
        "id": id(&check_path),
        "passes": passes,
        "fails": fails,
    });
    if let Some(checks) = group["checks"].as_object_mut() {
        checks.insert(name.to_owned(), check);
    }
}

/// k6's id of a group or check: the hex MD5 of its path.
fn id(path: &str) -> String {
    Md5::digest(path.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every metric sls-load measured, then the thresholds on them.
fn metrics(s: &Summary) -> Map<String, Value> {
    let mut metrics = Map::new();
    for name in ["http_reqs", "http_req_duration", "http_req_failed"] {
        if let Some(values) = scope_values(name, &s.total, s.duration_s) {
            metrics.insert(name.to_owned(), values);
        }
    }
    if let Some(t) = &s.total.timings_ms {
        for (phase, p) in t.phases() {
            let values = json!({ "med": p.p50, "p(95)": p.p95, "p(99)": p.p99, "max": p.max });
            metrics.insert(format!("http_req_{phase}"), values);
        }
    }
    if !s.checks.is_empty() {
        let passes = s.checks.values().map(|c| c.passes).sum();
        let fails = s.checks.values().map(|c| c.fails).sum();
        metrics.insert("checks".into(), rate(passes, fails));
    }
    if s.dropped_iterations > 0 {
        metrics.insert(
            "dropped_iterations".into(),
            counter(s.dropped_iterations, s.duration_s),
        );
    }
    run_metrics(&mut metrics, s);
    for (name, m) in &s.metrics {
        metrics.insert(name.clone(), custom(m));
    }
    add_thresholds(&mut metrics, s);
    metrics
}

/// The iteration, data and VU metrics, when the workers recorded them.
fn run_metrics(metrics: &mut Map<String, Value>, s: &Summary) {
    if let Some(d) = &s.iteration_duration_ms {
        metrics.insert("iterations".into(), counter(s.iterations, s.duration_s));
        metrics.insert("iteration_duration".into(), trend(d));
    }
    for name in ["data_sent", "data_received"] {
        if let Some(values) = scope_values(name, &s.total, s.duration_s) {
            metrics.insert(name.to_owned(), values);
        }
    }
    for (name, gauge) in [("vus", &s.vus), ("vus_max", &s.vus_max)] {
        if let Some(g) = gauge {
            let values = json!({ "value": g.value, "min": g.min, "max": g.max });
            metrics.insert(name.to_owned(), values);
        }
    }
}

/// Each threshold under its metric key as written, `true` when it failed; a
/// tagged sub-metric gets the figures of its scope when they are known.
fn add_thresholds(metrics: &mut Map<String, Value>, s: &Summary) {
    for t in &s.thresholds {
        let entry = metrics
            .entry(t.metric.clone())
            .or_insert_with(|| submetric(&t.metric, s).unwrap_or_else(|| json!({})));
        if let Value::Object(values) = entry {
            let thresholds = values
                .entry("thresholds")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(thresholds) = thresholds {
                thresholds.insert(t.expr.clone(), Value::Bool(!t.ok));
            }
        }
    }
}

/// The values of a tagged sub-metric (`http_req_duration{name:home}`,
/// `http_reqs{region:eu-west-1}`), if sls-load keeps that scope's figures.
fn submetric(key: &str, s: &Summary) -> Option<Value> {
    let (metric, selector) = parse_metric_key(key).ok()?;
    let (tag, value) = selector?;
    let figures = match tag.as_str() {
        "name" => s.requests.get(&value)?,
        "region" | "load_zone" => s.regions.get(&value)?,
        _ => return None,
    };
    scope_values(metric.name(), figures, s.duration_s)
}

/// The values of the request metric `name` over one scope's figures, in a
/// run of `secs`.
fn scope_values(name: &str, f: &Figures, secs: f64) -> Option<Value> {
    Some(match name {
        "http_reqs" => json!({ "count": f.requests, "rate": f.rps }),
        "http_req_duration" => trend(&f.latency_ms),
        "http_req_failed" => rate(f.errors, f.requests.saturating_sub(f.errors)),
        "data_sent" if f.data_sent > 0 => counter(f.data_sent, secs),
        "data_received" if f.data_received > 0 => counter(f.data_received, secs),
        _ => return None,
    })
}

/// A script's metric with its values, as k6 writes each kind.
fn custom(m: &MetricFigures) -> Value {
    match m.kind.as_str() {
        "counter" => json!({ "count": m.count.unwrap_or(0), "rate": m.rate.unwrap_or(0.0) }),
        "rate" => json!({
            "passes": m.count.unwrap_or(0),
            "fails": m.fails.unwrap_or(0),
            "value": m.rate.unwrap_or(0.0),
        }),
        "gauge" => {
            let mut v = json!({ "value": m.value.unwrap_or(0.0) });
            for (k, x) in &m.values {
                v[k.as_str()] = json!(x);
            }
            v
        }
        _ => json!(m.values),
    }
}

/// A k6 trend in milliseconds.
fn trend(l: &Latency) -> Value {
    json!({
        "avg": l.avg, "min": l.min, "med": l.p50, "max": l.max,
        "p(90)": l.p90, "p(95)": l.p95,
    })
}

/// A k6 counter: the count and its rate per second over the run.
fn counter(count: u64, secs: f64) -> Value {
    let rate = if secs > 0.0 { count as f64 / secs } else { 0.0 };
    json!({ "count": count, "rate": rate })
}

/// A k6 rate metric: true values (`passes`), false ones (`fails`) and the
/// fraction of true ones (`value`).
fn rate(passes: u64, fails: u64) -> Value {
    let all = passes + fails;
    let value = if all == 0 {
        0.0
    } else {
        passes as f64 / all as f64
    };
    json!({ "passes": passes, "fails": fails, "value": value })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::sample_summary as sample;

    #[test]
    fn metrics_carry_their_values_directly_as_k6_writes_them() {
        let k6 = summary(&sample());
        let m = &k6["metrics"];
        assert_eq!(m["http_reqs"]["count"], 1210);
        assert_eq!(m["http_reqs"]["rate"], 1210.0 / 6.0);
        assert_eq!(m["http_req_duration"]["med"], 1.2);
        assert_eq!(m["http_req_duration"]["p(90)"], 2.0);
        assert_eq!(m["http_req_duration"]["p(95)"], 6.917);
        // k6's `passes` of http_req_failed are the failed requests.
        assert_eq!(m["http_req_failed"]["passes"], 12);
        assert_eq!(m["http_req_failed"]["fails"], 1198);
        assert_eq!(m["http_req_failed"]["value"], 12.0 / 1210.0);
        assert_eq!(m["checks"]["passes"], 2413);
        assert_eq!(m["checks"]["fails"], 7);
        assert_eq!(m["dropped_iterations"], json!({ "count": 3, "rate": 0.5 }));
    }

    #[test]
    fn iterations_bytes_and_vus_are_k6_counters_trends_and_gauges() {
        let k6 = summary(&sample());
        let m = &k6["metrics"];
        assert_eq!(
            m["iterations"],
            json!({ "count": 605, "rate": 605.0 / 6.0 })
        );
        assert_eq!(m["iteration_duration"]["med"], 3.0);
        assert_eq!(m["iteration_duration"]["p(95)"], 6.0);
        // The sample's figures carry 100 bytes out and 1,000 in per request.
        assert_eq!(m["data_sent"]["count"], 121_000);
        assert_eq!(m["data_received"]["rate"], 1_210_000.0 / 6.0);
        assert_eq!(m["vus"], json!({ "value": 0, "min": 0, "max": 40 }));
        assert_eq!(m["vus_max"], json!({ "value": 50, "min": 10, "max": 50 }));
        // A run whose workers recorded none leaves them out, not zero.
        let mut older = sample();
        older.iteration_duration_ms = None;
        older.vus = None;
        older.total.data_sent = 0;
        let m = summary(&older)["metrics"].clone();
        for absent in ["iterations", "iteration_duration", "vus", "data_sent"] {
            assert!(m.get(absent).is_none(), "{absent}: {m}");
        }
    }

    #[test]
    fn thresholds_sit_under_their_metric_true_when_crossed() {
        let k6 = summary(&sample());
        let m = &k6["metrics"];
        assert_eq!(
            m["http_req_duration"]["thresholds"],
            json!({ "p(95)<1": true })
        );
        assert_eq!(
            m["http_req_failed"]["thresholds"],
            json!({ "rate<0.5": false })
        );
        let home = &m["http_req_duration{name:home}"];
        assert_eq!(home["p(95)"], 3.0);
        assert_eq!(home["thresholds"], json!({ "p(95)<500": false }));
    }

    #[test]
    fn a_scripts_groups_nest_by_path_with_their_checks_and_custom_metrics_join_the_metrics() {
        let mut s = sample();
        let (passes, fails) = (s.checks["says ok"].passes, s.checks["says ok"].fails);
        let inner = crate::summary::CheckFigures {
            passes: 3,
            fails: 1,
            rate: 0.75,
        };
        s.group_checks.insert(
            "::shop::cart".into(),
            BTreeMap::from([("says ok".to_owned(), inner)]),
        );
        s.metrics.insert(
            "errors".into(),
            MetricFigures {
                kind: "rate".into(),
                contains: "default".into(),
                count: Some(1),
                fails: Some(9),
                rate: Some(0.1),
                value: None,
                values: BTreeMap::new(),
            },
        );
        let k6 = summary(&s);
        let cart = &k6["root_group"]["groups"]["shop"]["groups"]["cart"];
        assert_eq!(cart["path"], "::shop::cart");
        assert_eq!(cart["id"], id("::shop::cart"));
        assert_eq!(cart["checks"]["says ok"]["path"], "::shop::cart::says ok");
        assert_eq!(cart["checks"]["says ok"]["passes"], 3);
        // The root keeps what was checked outside every group.
        let root = &k6["root_group"]["checks"]["says ok"];
        assert_eq!(root["passes"], passes - 3);
        assert_eq!(root["fails"], fails - 1);
        assert_eq!(
            k6["metrics"]["errors"],
            json!({ "passes": 1, "fails": 9, "value": 0.1 })
        );
    }

    #[test]
    fn the_root_group_holds_the_checks_with_k6_ids() {
        let k6 = summary(&sample());
        let root = &k6["root_group"];
        assert_eq!(root["name"], "");
        assert_eq!(root["path"], "");
        // MD5 of the empty path, as every k6 export's root group has.
        assert_eq!(root["id"], "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(root["groups"], json!({}));
        let check = &root["checks"]["says ok"];
        assert_eq!(check["name"], "says ok");
        assert_eq!(check["path"], "::says ok");
        assert_eq!(check["id"], id("::says ok"));
        assert_eq!(check["passes"], 1203);
        assert_eq!(check["fails"], 7);
    }
}
