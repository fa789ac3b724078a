//! Any bytes as a scenario file: `scenario::parse` gives a scenario or a
//! `ScenarioError` naming the line, never a panic. The scenario's path is in a
//! directory that does not exist, so files it names beside itself are not found.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sls_load_plan::scenario;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/nonexistent-sls-load-fuzz/scenario.yaml");
    if let Err(e) = scenario::parse(path, data) {
        let _ = e.to_string();
    }
});
