//! How large each kind of stored object may be when it is read back: every S3
//! GET of both sides ([`crate::s3::get_object`]) checks the object's size
//! against [`for_key`] before reading its body, and stops reading at the limit
//! when the size was not announced. Each limit sits far above what sls-load
//! itself writes (docs/FORMAT.md, "Reading limits"), so only a crafted or broken
//! object meets one. This module reads nothing; it only names the limits.

/// `control.json` and `heartbeat.json`: a stop order, a reason and a drill's
/// pause windows.
pub const CONTROL_BYTES: u64 = 16 * 1024;
/// `claim.json`: a worker's claim.
pub const CLAIM_BYTES: u64 = 4 * 1024;
/// `manifest.json`: counts per request and check, one line per interval log.
pub const MANIFEST_BYTES: u64 = 16 * 1024 * 1024;
/// `latency-NNNNN.hlog`: one flush period's intervals of one worker.
pub const LOG_BYTES: u64 = 128 * 1024 * 1024;
/// `plan.json`: every job of up to 100,000 workers.
pub const PLAN_BYTES: u64 = 512 * 1024 * 1024;
/// Any other object (`summary.json`, `events.json`, `report.html`, ...).
pub const OTHER_BYTES: u64 = 64 * 1024 * 1024;

/// The most bytes an object at `key` may have, by its file name.
pub fn for_key(key: &str) -> u64 {
    let file = key.rsplit('/').next().unwrap_or(key);
    match file {
        "control.json" | "heartbeat.json" => CONTROL_BYTES,
        "claim.json" => CLAIM_BYTES,
        "manifest.json" => MANIFEST_BYTES,
        "plan.json" => PLAN_BYTES,
        f if crate::id::files::is_latency_log(f) => LOG_BYTES,
        _ => OTHER_BYTES,
    }
}

/// What a refused object's kind is called in messages.
pub fn kind_of(key: &str) -> &'static str {
    match for_key(key) {
        CONTROL_BYTES => "a control object",
        CLAIM_BYTES => "a claim",
        MANIFEST_BYTES => "a manifest",
        PLAN_BYTES => "a plan",
        LOG_BYTES => "an interval log",
        _ => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_object_has_its_limit() {
        assert_eq!(for_key("runs/r/control.json"), CONTROL_BYTES);
        assert_eq!(for_key("runs/r/heartbeat.json"), CONTROL_BYTES);
        assert_eq!(
            for_key("runs/r/us-east-1/w0000/manifest.json"),
            MANIFEST_BYTES
        );
        assert_eq!(
            for_key("runs/r/us-east-1/w0000/latency-00003.hlog"),
            LOG_BYTES
        );
        assert_eq!(for_key("runs/r/plan.json"), PLAN_BYTES);
        assert_eq!(for_key("runs/r/summary.json"), OTHER_BYTES);
        assert_eq!(
            kind_of("runs/r/us-east-1/w0000/manifest.json"),
            "a manifest"
        );
    }
}
