//! Durations and numbers of the scenario file: Go/k6-style durations (`1m30s`),
//! finite numbers above (or at) zero, and whole numbers in a range, each as a
//! serde visitor so a bad value is reported with the parser's line.
//!
//! It does not know which key takes which (the `Raw*` structs say so) and does not
//! compare values with each other (`build` does).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

use crate::scenario::error::shown;

/// A duration in the one grammar of `sls_load_core::duration` (`500ms`, `15s`,
/// `1m30s`, `1.5h`).
pub(super) fn parse_duration(text: &str) -> Option<Duration> {
    sls_load_core::duration::parse(text).ok()
}

/// A duration; zero only where `allow_zero` (e.g. `start_time: 0s`).
pub(super) struct DurationVisitor {
    pub(super) allow_zero: bool,
}

fn bad_duration(text: &str) -> String {
    format!(
        "invalid duration `{}` ({})",
        shown(text),
        sls_load_core::duration::FORMS
    )
}

impl<'de> Visitor<'de> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration like 500ms, 15s, 2m or 1m30s")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        match parse_duration(v) {
            None => Err(E::custom(bad_duration(v))),
            Some(d) if d.is_zero() && !self.allow_zero => {
                Err(E::custom(format!("must be > 0, got `{}`", shown(v))))
            }
            Some(d) => Ok(d),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Err(E::custom(bad_duration(&v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        Err(E::custom(bad_duration(&v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Err(E::custom(bad_duration(&v.to_string())))
    }
}

pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor { allow_zero: false })
}

pub(super) fn optional_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

pub(super) fn duration_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor { allow_zero: true })
}

pub(super) fn optional_duration_or_zero<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    duration_or_zero(d).map(Some)
}

/// A finite number > 0, or >= 0 when `zero_ok`.
struct NumberVisitor {
    zero_ok: bool,
}

impl NumberVisitor {
    fn check<E: de::Error>(&self, v: f64) -> Result<f64, E> {
        let bound = if self.zero_ok { ">= 0" } else { "> 0" };
        if !v.is_finite() {
            Err(E::custom(format!(
                "must be a finite number {bound}, got {v}"
            )))
        } else if v < 0.0 || (v == 0.0 && !self.zero_ok) {
            Err(E::custom(format!("must be {bound}, got {v}")))
        } else {
            Ok(v)
        }
    }
}

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.zero_ok {
            "a number >= 0"
        } else {
            "a number > 0"
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        self.check(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        self.check(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        self.check(v as f64)
    }
}

pub(super) fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_f64(NumberVisitor { zero_ok: false })
}

pub(super) fn optional_positive<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    positive(d).map(Some)
}

/// A whole number in `min..=max`.
struct RangeVisitor {
    min: u64,
    max: u64,
    expecting: &'static str,
}

impl<'de> Visitor<'de> for RangeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if (self.min..=self.max).contains(&v) {
            Ok(v)
        } else if v < self.min {
            Err(E::custom(format!("must be >= {}, got {v}", self.min)))
        } else {
            Err(E::custom(format!("must be <= {}, got {v}", self.max)))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!("must be >= {}, got {v}", self.min))),
        }
    }
}

/// A whole number in `min..=max` as `T`, which must hold `max`.
fn whole<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
    d: D,
    min: u64,
    max: u64,
    expecting: &'static str,
) -> Result<Option<T>, D::Error> {
    let v = d.deserialize_any(RangeVisitor {
        min,
        max,
        expecting,
    })?;
    Ok(T::try_from(v).ok())
}

pub(super) fn optional_vus<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    whole(d, 0, u64::from(u32::MAX), "a whole number of VUs")
}

pub(super) fn optional_max_vus<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    whole(d, 1, u64::from(u32::MAX), "a whole number of VUs")
}

pub(super) fn optional_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    whole(d, 100, 599, "an HTTP status code like 200")
}

pub(super) fn optional_iterations<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<u64>, D::Error> {
    whole(d, 1, u64::from(u32::MAX), "a whole number of iterations")
}

pub(super) fn non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_f64(NumberVisitor { zero_ok: true })
}

pub(super) fn optional_non_negative<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<f64>, D::Error> {
    non_negative(d).map(Some)
}

/// Largest `max_body_buffer`: a buffer each VU may fill, so far below a worker's memory.
pub(crate) const MAX_BODY_BUFFER_LIMIT: u64 = 1 << 30;

/// A byte size: a whole number of bytes, or a number with a unit, decimal (`kB`,
/// `MB`, `GB`) or binary (`KiB`, `MiB`, `GiB`), e.g. `512KiB`, `1MiB`, `2MB`.
fn parse_bytes(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit {
        "" | "B" => 1,
        "kB" | "KB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    let value: f64 = number.parse().ok()?;
    let bytes = (value * scale as f64).round();
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// A byte size in `1..=MAX_BODY_BUFFER_LIMIT`.
struct BytesVisitor;

fn bad_bytes(text: &str) -> String {
    format!(
        "invalid size `{}` (use bytes, or e.g. 512KiB, 1MiB, 2MB)",
        shown(text)
    )
}

impl BytesVisitor {
    fn check<E: de::Error>(v: u64) -> Result<u64, E> {
        if v == 0 {
            Err(E::custom("must be at least 1 byte"))
        } else if v > MAX_BODY_BUFFER_LIMIT {
            Err(E::custom(format!(
                "must be at most 1GiB ({MAX_BODY_BUFFER_LIMIT} bytes), got {v}"
            )))
        } else {
            Ok(v)
        }
    }
}

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size in bytes, or like 512KiB, 1MiB, 2MB")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        Self::check(parse_bytes(v).ok_or_else(|| E::custom(bad_bytes(v)))?)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Self::check(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        Self::check(u64::try_from(v).map_err(|_| E::custom(bad_bytes(&v.to_string())))?)
    }
}

pub(super) fn optional_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    d.deserialize_any(BytesVisitor).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::test_support::*;

    #[test]
    fn byte_sizes_take_decimal_and_binary_units() {
        for (text, want) in [
            ("1", 1),
            ("1024", 1024),
            ("100B", 100),
            ("2kB", 2_000),
            ("512KiB", 512 * 1024),
            ("1MiB", 1 << 20),
            ("1.5MB", 1_500_000),
            ("1GiB", 1 << 30),
        ] {
            assert_eq!(parse_bytes(text), Some(want), "{text}");
        }
        for text in ["", "1 MiB", "-1", "1mib", "MiB", "1TB", "1e9"] {
            assert_eq!(parse_bytes(text), None, "{text:?}");
        }
    }

    #[test]
    fn durations_use_the_one_grammar() {
        for (text, want) in [
            ("500ms", Duration::from_millis(500)),
            ("15s", Duration::from_secs(15)),
            ("2m", Duration::from_secs(120)),
            ("1m30s", Duration::from_secs(90)),
            ("1h", Duration::from_secs(3600)),
            ("1.5s", Duration::from_millis(1500)),
            ("250us", Duration::from_micros(250)),
            // As the command line took them, and sls-load's own messages write them.
            ("1m 30s", Duration::from_secs(90)),
            ("15 seconds", Duration::from_secs(15)),
            ("2min", Duration::from_secs(120)),
        ] {
            assert_eq!(parse_duration(text), Some(want), "{text}");
            assert_eq!(ok(&minimal_with("15s", text)).duration, want, "{text}");
        }
        for text in ["", "15", "-1s", "s", ".s", "15S", "1y", "2 months"] {
            assert_eq!(parse_duration(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_bad_duration_names_the_key_and_shows_the_accepted_forms() {
        let e = error(&minimal_with("15s", "2 months"));
        assert_eq!(
            e,
            "load/browse.yaml:2: duration: invalid duration `2 months` (use e.g. 500ms, 15s, \
             2m, 1m30s)"
        );
        let e = error(&minimal_with("15s", "-1s"));
        assert_contains(&e, &[":2: duration: invalid duration `-1s`"]);
        let e = error(&minimal_with("15s", "15"));
        assert_contains(&e, &[":2: duration: invalid duration `15`"]);
        let e = error(&minimal_with("15s", "0s"));
        assert_contains(&e, &[":2: duration: must be > 0"]);
        let e = error(&minimal_with(
            "rate: 300",
            "rate: 300\n    time_unit: 1 month",
        ));
        assert_contains(
            &e,
            &[":7: scenarios.browse.time_unit: invalid duration `1 month`"],
        );
    }

    #[test]
    fn a_rate_must_be_a_finite_number_above_zero() {
        let e = error(&minimal_with("rate: 300", "rate: -5"));
        assert_eq!(
            e,
            "load/browse.yaml:6: scenarios.browse.rate: must be > 0, got -5"
        );
        let e = error(&minimal_with("rate: 300", "rate: 0"));
        assert_contains(&e, &["scenarios.browse.rate: must be > 0"]);
        let e = error(&minimal_with("rate: 300", "rate: .inf"));
        assert_contains(&e, &["scenarios.browse.rate: must be a finite number > 0"]);
        let e = error(&minimal_with("rate: 300", "rate: fast"));
        assert_contains(
            &e,
            &["scenarios.browse.rate: wrong type: string \"fast\", expected a number > 0"],
        );
        let e = error(&format!("{MINIMAL}worker_rate: 0\n"));
        assert_contains(&e, &[":9: worker_rate: must be > 0"]);
    }

    #[test]
    fn expect_status_must_be_an_http_status() {
        let s = ok(&minimal_with("url: / }", "url: /, expect_status: 204 }"));
        assert_eq!(s.scenarios[0].requests[0].expect_status, Some(204));
        for status in ["42", "600", "-1"] {
            let e = error(&minimal_with(
                "url: / }",
                &format!("url: /, expect_status: {status} }}"),
            ));
            assert_contains(&e, &["requests[0].expect_status: must be"]);
        }
    }
}
