//! The worker's answer to `sls-load doctor`'s probe (`sls_load_core::probe`):
//! its version and architecture, and what reading the named object as a control
//! object gave, through the same [`Sink::get`] the kill switch uses, with this
//! function's own execution role. It runs no load and writes nothing.

use sls_load_core::probe::{Probe, ProbeReport};

use crate::sink::Sink;

/// Reads `probe.key` through `sink` and reports.
pub async fn answer<S: Sink>(probe: &Probe, sink: &S) -> ProbeReport {
    let read = match sink.get(&probe.key).await {
        Ok(Some(_)) => "ok".to_owned(),
        Ok(None) => "absent".to_owned(),
        Err(e) => format!("error: {e}"),
    };
    ProbeReport {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        arch: std::env::consts::ARCH.to_owned(),
        read,
    }
}
