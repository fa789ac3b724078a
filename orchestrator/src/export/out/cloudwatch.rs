//! `--out cloudwatch[=FILE]`: CloudWatch embedded metric format (EMF) JSON
//! lines, written to FILE (default `sls-load-emf.jsonl`); no AWS call is made.
//! Ship them with anything that writes log events to CloudWatch Logs (the
//! CloudWatch agent tailing the file, `aws logs put-log-events`, a Lambda's
//! stdout): CloudWatch extracts the metrics from the log group (README, Outputs).
//!
//! Per tag set and second: one line with the counters (`Count`), and one line
//! per trend statistic with the trends' values (`Milliseconds`; `count` is a
//! `Count`) and the dimension `stat`. Dimensions are the tag set (+ `check` and
//! `passed` for checks, + `stat`); `run_id` is a property, not a dimension (a
//! dimension per run would be a new metric per run). Namespace `sls-load`. It
//! only encodes [`super::samples`]; it does not choose the points.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{Map, Value, json};

use super::{Delivery, Kind, Output, Sample, samples, send::Closing};
use sls_load_report::series::ClosedSecond;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "sls-load";

/// Points that share an EMF line: same tags, same statistic.
type Group<'a> = (&'a [(String, String)], Option<&'static str>);

/// The EMF lines of one second's points: points sharing tags and statistic
/// share a line. Returns each line with the points it holds.
pub fn lines(points: &[Sample]) -> Vec<(Value, u64)> {
    let mut groups: BTreeMap<Group<'_>, Vec<&Sample>> = BTreeMap::new();
    for p in points {
        groups
            .entry((p.tags.as_slice(), p.stat()))
            .or_default()
            .push(p);
    }
    groups
        .into_iter()
        .map(|((tags, stat), group)| (line(tags, stat, &group), group.len() as u64))
        .collect()
}

/// One EMF object: `_aws` metadata, the dimension values, `run_id` and the
/// metric values.
fn line(tags: &[(String, String)], stat: Option<&str>, group: &[&Sample]) -> Value {
    let mut root = Map::new();
    let mut dimensions = Vec::new();
    for (k, v) in tags {
        if k == "run_id" {
            root.insert(k.clone(), Value::String(v.clone()));
        } else if !v.is_empty() && dimensions.len() < 29 {
            dimensions.push(Value::String(k.clone()));
            root.insert(k.clone(), Value::String(v.clone()));
        }
    }
    if let Some(stat) = stat {
        dimensions.push(Value::String("stat".into()));
        root.insert("stat".into(), stat.into());
    }
    let mut metrics = Vec::new();
    for p in group {
        let unit = match p.kind {
            Kind::Trend(_) if stat != Some("count") => "Milliseconds",
            _ => "Count",
        };
        metrics.push(json!({ "Name": p.metric, "Unit": unit }));
        root.insert(p.metric.to_owned(), json!(p.value));
    }
    let at = group.first().map_or(0, |p| super::epoch_ms(p.at));
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": at,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(root)
}

/// The EMF output.
pub struct EmfOutput {
    file: BufWriter<File>,
    run_id: String,
    delivery: Delivery,
}

impl EmfOutput {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path, run_id: &str) -> std::io::Result<EmfOutput> {
        Ok(EmfOutput {
            file: BufWriter::new(File::create(path)?),
            run_id: run_id.to_owned(),
            delivery: Delivery::default(),
        })
    }

    fn write(&mut self, line: &Value) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.file, line)?;
        self.file.write_all(b"\n")
    }
}

impl Output for EmfOutput {
    fn second(&mut self, seconds: &[ClosedSecond]) {
        for second in seconds {
            for (line, points) in lines(&samples(second, &self.run_id)) {
                let written = self.write(&line);
                self.delivery.count(points, written);
            }
        }
    }

    fn finish(&mut self) {
        let flushed = self.file.flush();
        self.delivery.flushed(flushed);
    }

    fn close(self: Box<Self>) -> Closing {
        self.delivery.closed()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::second;
    use super::*;

    #[test]
    fn lines_are_emf_with_dimensions_present_and_metrics_declared() {
        let points = samples(&second(), "r1");
        let all = lines(&points);
        assert_eq!(all.iter().map(|(_, n)| n).sum::<u64>(), points.len() as u64);
        for (line, _) in &all {
            let meta = &line["_aws"];
            assert_eq!(meta["Timestamp"], 1_700_000_000_000i64);
            let directive = &meta["CloudWatchMetrics"][0];
            assert_eq!(directive["Namespace"], NAMESPACE);
            for dim in directive["Dimensions"][0].as_array().unwrap() {
                assert!(line[dim.as_str().unwrap()].is_string(), "{dim} present");
            }
            for m in directive["Metrics"].as_array().unwrap() {
                assert!(line[m["Name"].as_str().unwrap()].is_number());
            }
            assert_eq!(line["run_id"], "r1");
        }
        let counters = all
            .iter()
            .find(|(l, _)| l.get("http_reqs").is_some())
            .unwrap();
        assert_eq!(counters.0["http_reqs"], 4.0);
        assert_eq!(counters.0["region"], "eu-west-1");
        let p95 = all.iter().find(|(l, _)| l["stat"] == "p95").unwrap();
        assert_eq!(
            p95.0["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Milliseconds"
        );
    }
}
