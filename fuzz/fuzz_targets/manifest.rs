//! Any bytes as a worker manifest (`manifest.json`), decoded as the collector
//! does: a `Manifest` or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sls_load_core::job::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = serde_json::from_slice::<Manifest>(data) {
        // Encoding it back must work too (the summary reuses its fields).
        let _ = serde_json::to_vec(&manifest);
    }
});
