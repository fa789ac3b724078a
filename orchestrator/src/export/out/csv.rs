//! `--out csv=FILE`: one row per point, after k6's CSV output — `metric_name`,
//! `timestamp` (Unix seconds), `metric_value`, then fixed tag columns and the
//! other tags as `extra_tags` (`key=value&key=value`, as k6 writes them). It
//! only encodes [`super::samples`] (the `csv` crate quotes); it does not choose
//! the points.

use std::fs::File;
use std::path::Path;

use super::{Delivery, Output, Sample, samples, send::Closing};
use sls_load_report::series::ClosedSecond;

/// The tag columns, in order, after `metric_name,timestamp,metric_value`.
pub const TAG_COLUMNS: [&str; 11] = [
    "stat",
    "region",
    "name",
    "scenario",
    "status",
    "method",
    "expected_response",
    "check",
    "passed",
    "run_id",
    "extra_tags",
];

/// The CSV output.
pub struct CsvOutput {
    writer: csv::Writer<File>,
    run_id: String,
    delivery: Delivery,
}

impl CsvOutput {
    /// Creates (truncates) `path` and writes the header.
    pub fn create(path: &Path, run_id: &str) -> std::io::Result<CsvOutput> {
        let mut writer = csv::Writer::from_writer(File::create(path)?);
        writer.write_record(header())?;
        Ok(CsvOutput {
            writer,
            run_id: run_id.to_owned(),
            delivery: Delivery::default(),
        })
    }
}

/// The header row.
pub fn header() -> Vec<&'static str> {
    let mut h = vec!["metric_name", "timestamp", "metric_value"];
    h.extend(TAG_COLUMNS);
    h
}

/// One point's row.
pub fn row(sample: &Sample) -> Vec<String> {
    let secs = super::epoch_ms(sample.at) / 1000;
    let mut row = vec![
        sample.metric.to_owned(),
        secs.to_string(),
        sample.value.to_string(),
    ];
    let tag = |key: &str| {
        sample
            .tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    row.push(sample.stat().unwrap_or_default().to_owned());
    let fixed = &TAG_COLUMNS[1..TAG_COLUMNS.len() - 1];
    row.extend(fixed.iter().map(|k| tag(k)));
    let extra: Vec<String> = sample
        .tags
        .iter()
        .filter(|(k, _)| !fixed.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    row.push(extra.join("&"));
    row
}

impl Output for CsvOutput {
    fn second(&mut self, seconds: &[ClosedSecond]) {
        for second in seconds {
            for sample in samples(second, &self.run_id) {
                let written = self.writer.write_record(row(&sample));
                self.delivery.count(1, written);
            }
        }
    }

    fn finish(&mut self) {
        let flushed = self.writer.flush();
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
    fn the_header_names_every_column_and_rows_fill_them() {
        assert_eq!(
            header().join(","),
            "metric_name,timestamp,metric_value,stat,region,name,scenario,status,method,expected_response,check,passed,run_id,extra_tags"
        );
        let points = samples(&second(), "r1");
        let reqs = row(&points[0]);
        assert_eq!(reqs.len(), header().len());
        assert_eq!(&reqs[..4], ["http_reqs", "1700000000", "4", ""]);
        assert_eq!(reqs[4], "eu-west-1");
        assert_eq!(reqs[5], "home page, v=2");
        assert_eq!(reqs[7], "200");
        assert_eq!(reqs[12], "r1");
    }

    #[test]
    fn values_with_commas_are_quoted_and_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let mut out = CsvOutput::create(&path, "r1").unwrap();
        out.second(&[second()]);
        out.writer.flush().unwrap();
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len() as u64, out.delivery.sent);
        assert!(rows.iter().all(|r| &r[5] == "home page, v=2"));
        let reqs: f64 = rows
            .iter()
            .filter(|r| &r[0] == "http_reqs")
            .map(|r| r[2].parse::<f64>().unwrap())
            .sum();
        assert_eq!(reqs, 4.0);
    }
}
