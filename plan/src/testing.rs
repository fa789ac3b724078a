//! For tests of this and other crates (feature `testing`): plan options that
//! need no cloud.

use std::time::{Duration, SystemTime};

use sls_load_core::job::{Region, ResultsLocation, RunId};

use crate::plan::{Arch, DEFAULT_MAX_SLICE, PlanOptions};

/// Plan options for tests: run `r`, results in `b` (us-east-1), a lead of 2 s,
/// 10 s flushes, 1,024 MB x86_64 workers, default slices, planned at the epoch.
pub fn options() -> PlanOptions {
    PlanOptions {
        run_id: RunId::new("r").unwrap_or_else(|_| unreachable!("`r` is a run id")),
        now: SystemTime::UNIX_EPOCH,
        lead: Duration::from_secs(2),
        regions: None,
        workers: None,
        results: ResultsLocation {
            bucket: "b".into(),
            region: Region::us_east_1(),
        },
        flush_every: Duration::from_secs(10),
        max_slice: DEFAULT_MAX_SLICE,
        memory_mb: 1024,
        arch: Arch::X86_64,
    }
}
