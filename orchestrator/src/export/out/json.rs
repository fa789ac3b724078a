//! `--out json=FILE`: k6's JSON output shape, one JSON object per line — a
//! `Metric` line the first time a metric appears, then a `Point` line per point
//! (`{"type":"Point","metric":"http_reqs","data":{"time":…,"value":…,"tags":{…}}}`),
//! trend statistics tagged `stat`. It only encodes [`super::samples`]; it does
//! not choose the points.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{Map, Value, json};

use super::{Delivery, Kind, Output, Sample, samples, send::Closing};
use sls_load_report::series::ClosedSecond;

/// The JSON lines output.
pub struct JsonOutput {
    file: BufWriter<File>,
    run_id: String,
    announced: BTreeSet<&'static str>,
    delivery: Delivery,
}

impl JsonOutput {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path, run_id: &str) -> std::io::Result<JsonOutput> {
        Ok(JsonOutput {
            file: BufWriter::new(File::create(path)?),
            run_id: run_id.to_owned(),
            announced: BTreeSet::new(),
            delivery: Delivery::default(),
        })
    }

    fn write(&mut self, sample: &Sample) -> std::io::Result<()> {
        if self.announced.insert(sample.metric) {
            serde_json::to_writer(&mut self.file, &metric_line(sample))?;
            self.file.write_all(b"\n")?;
        }
        serde_json::to_writer(&mut self.file, &point_line(sample))?;
        self.file.write_all(b"\n")
    }
}

/// k6's `Metric` line: name, type (`counter` or `trend`), `contains`.
pub fn metric_line(sample: &Sample) -> Value {
    let (kind, contains) = match sample.kind {
        Kind::Counter => ("counter", "default"),
        Kind::Trend(_) => ("trend", "time"),
    };
    json!({
        "type": "Metric",
        "metric": sample.metric,
        "data": { "name": sample.metric, "type": kind, "contains": contains,
                  "thresholds": [], "submetrics": null },
    })
}

/// k6's `Point` line, the trend statistic as tag `stat`.
pub fn point_line(sample: &Sample) -> Value {
    let mut tags: Map<String, Value> = sample
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    if let Some(stat) = sample.stat() {
        tags.insert("stat".into(), stat.into());
    }
    json!({
        "type": "Point",
        "metric": sample.metric,
        "data": {
            "time": humantime::format_rfc3339_millis(sample.at).to_string(),
            "value": sample.value,
            "tags": tags,
        },
    })
}

impl Output for JsonOutput {
    fn second(&mut self, seconds: &[ClosedSecond]) {
        for second in seconds {
            for sample in samples(second, &self.run_id) {
                let written = self.write(&sample);
                self.delivery.count(1, written);
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
    fn points_are_k6_json_lines_with_the_statistic_as_a_tag() {
        let points = samples(&second(), "r1");
        let reqs = point_line(&points[0]);
        assert_eq!(reqs["type"], "Point");
        assert_eq!(reqs["metric"], "http_reqs");
        assert_eq!(reqs["data"]["value"], 4.0);
        assert_eq!(reqs["data"]["tags"]["region"], "eu-west-1");
        assert_eq!(reqs["data"]["tags"]["run_id"], "r1");
        assert_eq!(reqs["data"]["time"], "2023-11-14T22:13:20.000Z");
        let p99 = points
            .iter()
            .find(|s| s.stat() == Some("p99"))
            .map(point_line)
            .unwrap();
        assert_eq!(p99["data"]["tags"]["stat"], "p99");
        assert_eq!(metric_line(&points[0])["data"]["type"], "counter");
    }

    #[test]
    fn the_file_announces_each_metric_once_then_its_points() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let mut out = JsonOutput::create(&path, "r1").unwrap();
        out.second(&[second(), second()]);
        let n = out.delivery.sent;
        out.file.flush().unwrap();
        drop(out);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let metrics = lines.iter().filter(|l| l["type"] == "Metric").count();
        let points = lines.iter().filter(|l| l["type"] == "Point").count();
        assert_eq!(points as u64, n);
        assert_eq!(
            metrics, 4,
            "http_reqs, http_req_failed, checks, http_req_duration"
        );
    }
}
