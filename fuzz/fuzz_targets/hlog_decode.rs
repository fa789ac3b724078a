//! Any bytes as an interval log: `hlog::decode` yields intervals or named line
//! errors and never panics, allocates without bound or overflows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sls_load_core::hlog;

fuzz_target!(|data: &[u8]| {
    for item in hlog::decode(data) {
        if let Ok(interval) = item {
            // What the merge does with an interval must not panic either.
            let _ = interval.histogram.len();
            let _ = interval.start.checked_add(interval.length);
        }
    }
});
