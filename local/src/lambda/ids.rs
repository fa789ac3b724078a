//! Identifiers the local Lambda makes up: request ids (random v4 UUIDs, from
//! the `uuid` crate), X-Ray style trace headers, and per-process log stream
//! names dated with `humantime`'s RFC 3339 formatter.
//! It does not keep track of any of them; callers store what they need.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// A random RFC 4122 version 4 UUID (lowercase, hyphenated), as Lambda uses for
/// request ids.
pub(super) fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An X-Ray style trace header value.
pub(super) fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let root: u128 = rand::random::<u128>() >> 32;
    let parent: u64 = rand::random();
    format!("Root=1-{secs:08x}-{root:024x};Parent={parent:016x};Sampled=0")
}

/// A unique, filename-safe log stream name: `YYYY-MM-DD-SEQ-RANDOM`.
pub(super) fn log_stream_name(seq: u64) -> String {
    // A clock before 1970 counts as 1970-01-01.
    let date = utc_date(SystemTime::now().max(UNIX_EPOCH));
    format!("{date}-{seq:04}-{:016x}", rand::random::<u64>())
}

/// The UTC calendar date of `time` as `YYYY-MM-DD` (the date part of its
/// RFC 3339 form). `time` must not be before the Unix epoch.
fn utc_date(time: SystemTime) -> String {
    const DATE_LEN: usize = "YYYY-MM-DD".len();
    let mut stamp = String::with_capacity(20);
    if write!(stamp, "{}", humantime::format_rfc3339_seconds(time)).is_err() {
        // humantime cannot format dates after the year 9999.
        return "9999-12-31".to_owned();
    }
    stamp.truncate(DATE_LEN);
    stamp
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// `days` days after 1970-01-01, as a time.
    fn day(days: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(days * 86_400)
    }

    #[test]
    fn ids_and_dates() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert!(matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_ne!(request_id(), id);
        assert_eq!(utc_date(day(0)), "1970-01-01");
        assert_eq!(utc_date(day(19_723)), "2024-01-01");
        assert_eq!(utc_date(day(19_782)), "2024-02-29");
        assert!(trace_id().starts_with("Root=1-"));
    }
}
