//! [`merge_logs`]: reads back the HdrHistogram interval logs (`.hlog`) the worker
//! wrote below a directory and merges their `http_req_duration` intervals into one
//! histogram, decoded with the core crate's interval-log codec; it does not
//! compute percentiles or reports.

use std::path::Path;

use hdrhistogram::Histogram;
use sls_load_core::hlog::{self, new_histogram};
use sls_load_core::job::TAG_DURATION;
use sls_load_core::tag::TagSet;

use crate::BenchError;

/// Merges the `http_req_duration` intervals of every `.hlog` below `dir`.
pub fn merge_logs(dir: &Path) -> Result<Histogram<u64>, BenchError> {
    let mut merged = new_histogram();
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
    for interval in hlog::decode(&bytes) {
        let interval = interval.map_err(|e| bad(e.to_string()))?;
        let is_duration = TagSet::parse(&interval.tag).is_ok_and(|t| t.metric == TAG_DURATION);
        if is_duration {
            into.add(&interval.histogram)
                .map_err(|e| bad(format!("{e:?}")))?;
        }
    }
    Ok(())
}
