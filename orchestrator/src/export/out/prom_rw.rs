//! `--out experimental-prometheus-rw=URL`: Prometheus remote write 1.0 as k6's
//! output sends it — prompb `WriteRequest` protobuf (hand-written prost
//! messages, no protoc), snappy block encoding, headers `Content-Encoding:
//! snappy`, `Content-Type: application/x-protobuf`,
//! `X-Prometheus-Remote-Write-Version: 0.1.0` — one request per poll through
//! [`super::send`].
//!
//! Names as k6's: counters are `k6_<metric>_total` and cumulative per series
//! (this output keeps the running totals); trend statistics are gauges
//! `k6_<metric>_seconds{stat="p95"}` (seconds, as Prometheus wants), their
//! per-second count `k6_<metric>_count`. Tags become labels (names sanitised to
//! `[a-zA-Z_][a-zA-Z0-9_]*`). Native histograms are not sent. It only encodes
//! [`super::samples`]; it does not choose the points.

use std::collections::HashMap;

use prost::Message;

use super::send::{Batch, Closing, Sender};
use super::{Kind, Output, Sample, samples};
use sls_load_report::series::ClosedSecond;

/// prompb `WriteRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// The series.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// prompb `TimeSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Labels, sorted by name, `__name__` included.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<PromSample>,
}

/// prompb `Label`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// prompb `Sample`.
#[derive(Clone, PartialEq, Message)]
pub struct PromSample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The headers k6's remote-write output sends.
pub const HEADERS: [(&str, &str); 4] = [
    ("content-encoding", "snappy"),
    ("content-type", "application/x-protobuf"),
    ("x-prometheus-remote-write-version", "0.1.0"),
    ("user-agent", "sls-load"),
];

/// A label name Prometheus accepts.
fn label_name(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A point's series labels (sorted) and value: counters un-accumulated here.
pub fn series(sample: &Sample) -> (Vec<Label>, f64) {
    let (name, value, stat) = match sample.kind {
        Kind::Counter => (format!("k6_{}_total", sample.metric), sample.value, None),
        Kind::Trend(_) if sample.stat() == Some("count") => {
            (format!("k6_{}_count", sample.metric), sample.value, None)
        }
        Kind::Trend(_) => (
            format!("k6_{}_seconds", sample.metric),
            sample.value / 1000.0,
            sample.stat(),
        ),
    };
    let mut labels = vec![Label {
        name: "__name__".into(),
        value: name,
    }];
    labels.extend(
        sample
            .tags
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| Label {
                name: label_name(k),
                value: v.clone(),
            }),
    );
    if let Some(stat) = stat {
        labels.push(Label {
            name: "stat".into(),
            value: stat.into(),
        });
    }
    labels.sort();
    labels.dedup_by(|a, b| a.name == b.name);
    (labels, value)
}

/// Encodes points as one snappy-compressed `WriteRequest`, adding counters to
/// the running totals of `totals` (so each counter sample is cumulative).
pub fn encode(
    points: &[Sample],
    totals: &mut HashMap<Vec<Label>, f64>,
) -> Result<Vec<u8>, snap::Error> {
    let mut timeseries = Vec::with_capacity(points.len());
    for sample in points {
        let (labels, mut value) = series(sample);
        if sample.kind == Kind::Counter {
            let total = totals.entry(labels.clone()).or_insert(0.0);
            *total += value;
            value = *total;
        }
        timeseries.push(TimeSeries {
            labels,
            samples: vec![PromSample {
                value,
                timestamp: super::epoch_ms(sample.at),
            }],
        });
    }
    let request = WriteRequest { timeseries };
    snap::raw::Encoder::new().compress_vec(&request.encode_to_vec())
}

/// The remote-write output.
pub struct PromRwOutput {
    sender: Sender,
    run_id: String,
    totals: HashMap<Vec<Label>, f64>,
    unencoded: u64,
}

impl PromRwOutput {
    /// Starts sending to `uri`.
    pub fn new(uri: &http::Uri, run_id: &str) -> PromRwOutput {
        PromRwOutput {
            sender: Sender::start(uri.clone(), HEADERS.to_vec()),
            run_id: run_id.to_owned(),
            totals: HashMap::new(),
            unencoded: 0,
        }
    }
}

impl Output for PromRwOutput {
    fn second(&mut self, seconds: &[ClosedSecond]) {
        let points: Vec<Sample> = seconds
            .iter()
            .flat_map(|s| samples(s, &self.run_id))
            .collect();
        match encode(&points, &mut self.totals) {
            Ok(body) => self.sender.push(Batch {
                body,
                points: points.len() as u64,
            }),
            Err(_) => self.unencoded += points.len() as u64,
        }
    }

    fn finish(&mut self) {}

    fn close(self: Box<Self>) -> Closing {
        let unencoded = self.unencoded;
        let closing = self.sender.close();
        Box::pin(async move {
            let mut d = closing.await;
            d.lost += unencoded;
            d
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::second;
    use super::*;

    fn decode(body: &[u8]) -> WriteRequest {
        let raw = snap::raw::Decoder::new().decompress_vec(body).unwrap();
        WriteRequest::decode(raw.as_slice()).unwrap()
    }

    fn label<'a>(ts: &'a TimeSeries, name: &str) -> &'a str {
        &ts.labels.iter().find(|l| l.name == name).unwrap().value
    }

    #[test]
    fn a_write_request_round_trips_with_sorted_labels_and_cumulative_counters() {
        let points = samples(&second(), "r1");
        let mut totals = HashMap::new();
        let first = decode(&encode(&points, &mut totals).unwrap());
        let again = decode(&encode(&points, &mut totals).unwrap());
        let reqs = |w: &WriteRequest| {
            w.timeseries
                .iter()
                .find(|t| label(t, "__name__") == "k6_http_reqs_total")
                .unwrap()
                .clone()
        };
        assert_eq!(reqs(&first).samples[0].value, 4.0);
        assert_eq!(reqs(&again).samples[0].value, 8.0, "cumulative per series");
        assert_eq!(reqs(&first).samples[0].timestamp, 1_700_000_000_000);
        let series = reqs(&first);
        let names: Vec<&str> = series.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "name", "region", "run_id", "status"]);
        assert_eq!(label(&reqs(&first), "name"), "home page, v=2");
        let p95 = first
            .timeseries
            .iter()
            .find(|t| {
                label(t, "__name__") == "k6_http_req_duration_seconds" && label(t, "stat") == "p95"
            })
            .unwrap();
        assert!((p95.samples[0].value - 0.030).abs() < 0.001);
    }

    #[test]
    fn label_names_are_made_valid() {
        assert_eq!(label_name("expected_response"), "expected_response");
        assert_eq!(label_name("my-tag.x"), "my_tag_x");
        assert_eq!(label_name("1st"), "_1st");
    }
}
