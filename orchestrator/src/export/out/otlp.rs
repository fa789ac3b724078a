//! `--out opentelemetry=URL`: OTLP/HTTP protobuf metrics (`opentelemetry-proto`
//! messages), one `ExportMetricsServiceRequest` per poll POSTed to URL (e.g.
//! `http://127.0.0.1:4318/v1/metrics`) through [`super::send`].
//!
//! Counters are monotonic delta `Sum`s (one data point per tag set and second);
//! trends are native delta `Histogram`s in milliseconds, their buckets the
//! HdrHistogram's log buckets (1, 2, 4, … ms) with exact count, min and max — so
//! the back-end computes its own percentiles from real buckets. The tags are
//! data point attributes; `service.name=sls-load` is the resource. It uses
//! [`super::samples`] for the counters and [`super::trends`] for the
//! histograms; it chooses nothing else.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram as Hdr;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::send::{Batch, Closing, Sender};
use super::{Kind, Output, samples, trends};
use sls_load_report::series::ClosedSecond;

/// The first bucket bound, microseconds (1 ms); each next one doubles.
const FIRST_BUCKET_US: u64 = 1000;

fn attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

fn attributes(tags: &[(String, String)]) -> Vec<KeyValue> {
    tags.iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| attribute(k, v))
        .collect()
}

/// A histogram data point from an HdrHistogram in microseconds: explicit bounds
/// in milliseconds (1, 2, 4, …, up to the bucket holding the maximum), counts
/// per bucket (one more than bounds: the last is above every bound).
pub fn histogram_point(
    hist: &Hdr<u64>,
    tags: &[(String, String)],
    start: u64,
    end: u64,
) -> HistogramDataPoint {
    let mut bounds = Vec::new();
    let mut counts = Vec::new();
    for step in hist.iter_log(FIRST_BUCKET_US, 2.0) {
        bounds.push(step.value_iterated_to() as f64 / 1000.0);
        counts.push(step.count_since_last_iteration());
    }
    counts.push(0);
    HistogramDataPoint {
        attributes: attributes(tags),
        start_time_unix_nano: start,
        time_unix_nano: end,
        count: hist.len(),
        sum: None,
        bucket_counts: counts,
        explicit_bounds: bounds,
        min: Some(hist.min() as f64 / 1000.0),
        max: Some(hist.max() as f64 / 1000.0),
        ..HistogramDataPoint::default()
    }
}

/// The request for `seconds`, and the number of data points in it.
pub fn request(seconds: &[ClosedSecond], run_id: &str) -> (ExportMetricsServiceRequest, u64) {
    let mut sums: BTreeMap<&'static str, Vec<NumberDataPoint>> = BTreeMap::new();
    let mut hists: BTreeMap<&'static str, Vec<HistogramDataPoint>> = BTreeMap::new();
    let mut points = 0;
    for second in seconds {
        let start = super::epoch_ns(second.at);
        let end = super::epoch_ns(second.at + Duration::from_secs(1));
        for sample in samples(second, run_id) {
            if sample.kind == Kind::Counter {
                sums.entry(sample.metric)
                    .or_default()
                    .push(NumberDataPoint {
                        attributes: attributes(&sample.tags),
                        start_time_unix_nano: start,
                        time_unix_nano: end,
                        value: Some(number_data_point::Value::AsDouble(sample.value)),
                        ..NumberDataPoint::default()
                    });
                points += 1;
            }
        }
        let mut tags = second.tags.clone();
        tags.push(("run_id".to_owned(), run_id.to_owned()));
        for (metric, hist) in trends(second) {
            hists
                .entry(metric)
                .or_default()
                .push(histogram_point(hist, &tags, start, end));
            points += 1;
        }
    }
    let delta = AggregationTemporality::Delta as i32;
    let mut metrics: Vec<Metric> = sums
        .into_iter()
        .map(|(name, data_points)| Metric {
            name: name.to_owned(),
            unit: "1".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points,
                aggregation_temporality: delta,
                is_monotonic: true,
            })),
            ..Metric::default()
        })
        .collect();
    metrics.extend(hists.into_iter().map(|(name, data_points)| Metric {
        name: name.to_owned(),
        unit: "ms".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points,
            aggregation_temporality: delta,
        })),
        ..Metric::default()
    }));
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![attribute("service.name", "sls-load")],
                ..Resource::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "sls-load".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..InstrumentationScope::default()
                }),
                metrics,
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    };
    (request, points)
}

/// The OTLP output.
pub struct OtlpOutput {
    sender: Sender,
    run_id: String,
}

impl OtlpOutput {
    /// Starts sending to `uri`.
    pub fn new(uri: &http::Uri, run_id: &str) -> OtlpOutput {
        OtlpOutput {
            sender: Sender::start(
                uri.clone(),
                vec![
                    ("content-type", "application/x-protobuf"),
                    ("user-agent", "sls-load"),
                ],
            ),
            run_id: run_id.to_owned(),
        }
    }
}

impl Output for OtlpOutput {
    fn second(&mut self, seconds: &[ClosedSecond]) {
        let (request, points) = request(seconds, &self.run_id);
        self.sender.push(Batch {
            body: request.encode_to_vec(),
            points,
        });
    }

    fn finish(&mut self) {}

    fn close(self: Box<Self>) -> Closing {
        self.sender.close()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::second;
    use super::*;

    #[test]
    fn the_request_decodes_back_with_counters_and_native_histograms() {
        let (request, points) = request(&[second()], "r1");
        let decoded =
            ExportMetricsServiceRequest::decode(request.encode_to_vec().as_slice()).unwrap();
        let metrics = &decoded.resource_metrics[0].scope_metrics[0].metrics;
        let find = |n: &str| metrics.iter().find(|m| m.name == n).unwrap();
        let Some(metric::Data::Sum(reqs)) = &find("http_reqs").data else {
            panic!("http_reqs is a sum")
        };
        assert!(reqs.is_monotonic);
        assert_eq!(
            reqs.data_points[0].value,
            Some(number_data_point::Value::AsDouble(4.0))
        );
        let region = &reqs.data_points[0].attributes[0];
        assert_eq!(region.key, "region");
        let Some(metric::Data::Histogram(h)) = &find("http_req_duration").data else {
            panic!("http_req_duration is a histogram")
        };
        let p = &h.data_points[0];
        assert_eq!(p.count, 3);
        assert_eq!(p.bucket_counts.iter().sum::<u64>(), 3);
        assert_eq!(p.bucket_counts.len(), p.explicit_bounds.len() + 1);
        assert!(p.explicit_bounds.windows(2).all(|w| w[0] < w[1]));
        assert!((p.max.unwrap() - 30.0).abs() < 0.1);
        assert_eq!(
            points,
            3 + 1,
            "http_reqs, http_req_failed, checks; one histogram"
        );
    }
}
