//! `sls-load doctor`'s probe: a synchronous invocation that runs no load. The
//! worker answers with its version and architecture and with what happened when
//! it read the object named in the probe as it reads a run's control object, with
//! its own execution role: so the doctor learns that the deployed code starts,
//! which build it is, and whether the kill switch can be read.
//!
//! Wire format (docs/FORMAT.md, "Doctor's probe"): the payload is
//! `{"sls_load_probe": {"bucket": ..., "region": ..., "key": ...}}`; the answer a
//! [`ProbeReport`].

use serde::{Deserialize, Serialize};

use crate::id::{ObjectKey, Region};

/// The payload's one key.
pub const PROBE_KEY: &str = "sls_load_probe";

/// What the worker is to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// The results bucket.
    pub bucket: String,
    /// Its region.
    pub region: Region,
    /// The object to read, as a control object is read.
    pub key: ObjectKey,
}

/// The worker's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// The worker's version (its crate version).
    pub version: String,
    /// The architecture it runs on (`aarch64`, `x86_64`).
    pub arch: String,
    /// `ok` (read), `absent` (no such object) or `error: ...` (the read failed).
    pub read: String,
}

/// The payload of a probe of `probe`.
pub fn payload(probe: &Probe) -> serde_json::Value {
    serde_json::json!({ PROBE_KEY: probe })
}
