//! [`merge_logs`]: reads back the HdrHistogram interval logs (`.hlog`) the worker
//! wrote below a directory and merges their `http_req_duration` intervals into one
//! histogram. The decoding of one log is in one place here (to be replaced by the
//! shared interval-log codec later); it does not compute percentiles or reports.

use std::path::Path;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use sls_load_function::job::{TAG_DURATION, split_tag};
use sls_load_function::recorder::new_histogram;

use crate::BenchError;

/// Merges the `http_req_duration` intervals of every `.hlog` below `dir`.
pub fn merge_logs(dir: &Path) -> Result<Histogram<u64>, BenchError> {
    let mut merged = new_histogram()?;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let io = |source| BenchError::Io {
            path: d.clone(),
            source,
        };
        for entry in std::fs::read_dir(&d).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "hlog") {
                merge_log_file(&path, &mut merged)?;
            }
        }
    }
    Ok(merged)
}

/// Adds the `http_req_duration` intervals of the interval log at `path` to `into`.
fn merge_log_file(path: &Path, into: &mut Histogram<u64>) -> Result<(), BenchError> {
    let bytes = std::fs::read(path).map_err(|source| BenchError::Io {
        path: path.into(),
        source,
    })?;
    let bad = |reason: String| BenchError::Log {
        path: path.into(),
        reason,
    };
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(&bytes) {
        let LogEntry::Interval(interval) = entry.map_err(|e| bad(format!("{e:?}")))? else {
            continue;
        };
        let is_duration = interval
            .tag()
            .and_then(|t| split_tag(t.as_str()))
            .is_some_and(|(metric, _)| metric == TAG_DURATION);
        if !is_duration {
            continue;
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .map_err(|e| bad(e.to_string()))?;
        let h: Histogram<u64> = deserializer
            .deserialize(&mut raw.as_slice())
            .map_err(|e| bad(format!("{e:?}")))?;
        into.add(&h).map_err(|e| bad(format!("{e:?}")))?;
    }
    Ok(())
}
