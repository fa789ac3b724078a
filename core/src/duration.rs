//! The one duration grammar of sls-load: Go's and k6's (`500ms`, `15s`,
//! `1m30s`, `1.5h`, `250us`: one or more `<number><unit>`, the number may have
//! a fraction), and what the command line took before it shared this grammar
//! (humantime's): parts separated by spaces (`1m 30s`, as sls-load's own
//! messages write durations), a space before the unit, spelled-out units
//! (`15 seconds`, `2min`, `1hour`, `10sec`, `500msec`) and days and weeks (`1d`,
//! `2 days`, `1w`). `0` alone is zero. Refused: a bare number (seconds or
//! milliseconds?), a sign, months and years (no fixed length), any other unit,
//! and units in another case (`15S`; `M` is humantime's month).
//!
//! The scenario file (`duration: 1m30s`), every duration flag of the command
//! lines (`--duration 1m30s`, through [`parse`] as clap's value parser) and the
//! test switches read durations here, so one reads the same everywhere. Stored
//! files (plan.json, the job, manifests) keep humantime's serde format; this
//! module does not format durations.

use std::time::Duration;

/// A text that is not a duration. Displays as
/// ``invalid duration `15 seconds` (use e.g. 500ms, 15s, 2m, 1m30s)``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{0}` ({FORMS})")]
pub struct DurationError(pub String);

/// The accepted forms, for messages.
pub const FORMS: &str = "use e.g. 500ms, 15s, 2m, 1m30s";

/// Parses a duration (see the module's grammar); also clap's value parser for
/// every duration flag.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    parse_nanos(text.trim())
        .map(|nanos| Duration::from_nanos(nanos.round() as u64))
        .ok_or_else(|| DurationError(text.to_owned()))
}

/// The nanoseconds `text` adds up to; `None` when it is not a duration or does
/// not fit a `u64` of nanoseconds (some 584 years).
fn parse_nanos(text: &str) -> Option<f64> {
    if text == "0" {
        return Some(0.0);
    }
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..number_len].parse().ok()?;
        rest = rest[number_len..].trim_start();
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .unwrap_or(rest.len());
        nanos += value * unit_nanos(&rest[..unit_len])?;
        rest = rest[unit_len..].trim_start();
    }
    (nanos.is_finite() && nanos < u64::MAX as f64).then_some(nanos)
}

/// Nanoseconds per `unit`: Go's units and humantime's spellings of them, days
/// and weeks.
fn unit_nanos(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" | "nsec" | "nanos" => 1.0,
        // The micro sign (U+00B5) and the Greek mu (U+03BC), as Go takes both.
        "us" | "µs" | "μs" | "usec" | "micros" => 1e3,
        "ms" | "msec" | "millis" => 1e6,
        "s" | "sec" | "secs" | "second" | "seconds" => 1e9,
        "m" | "min" | "mins" | "minute" | "minutes" => 60e9,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600e9,
        "d" | "day" | "days" => 86_400e9,
        "w" | "wk" | "wks" | "week" | "weeks" => 604_800e9,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_parts_with_fractions_and_what_the_command_line_took() {
        for (text, want) in [
            ("500ms", Duration::from_millis(500)),
            ("15s", Duration::from_secs(15)),
            ("2m", Duration::from_secs(120)),
            ("1m30s", Duration::from_secs(90)),
            ("1m 30s", Duration::from_secs(90)),
            (" 1h ", Duration::from_secs(3600)),
            ("1.5s", Duration::from_millis(1500)),
            ("1.5h", Duration::from_secs(5400)),
            ("250us", Duration::from_micros(250)),
            ("250µs", Duration::from_micros(250)),
            ("7ns", Duration::from_nanos(7)),
            ("0s", Duration::ZERO),
            ("0", Duration::ZERO),
            ("1h 2m 3.5s", Duration::from_millis(3_723_500)),
            ("15 seconds", Duration::from_secs(15)),
            ("15 s", Duration::from_secs(15)),
            ("10sec", Duration::from_secs(10)),
            ("2min", Duration::from_secs(120)),
            ("1hour 5 mins", Duration::from_secs(3900)),
            ("500msec", Duration::from_millis(500)),
            ("1d", Duration::from_secs(86_400)),
            ("1day 1h", Duration::from_secs(90_000)),
            ("1w", Duration::from_secs(604_800)),
        ] {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_accepted_forms() {
        for text in [
            "",
            " ",
            "15",
            "1.5",
            "-1s",
            "+1s",
            "s",
            ".s",
            "15S",
            "1..5s",
            "1m,30s",
            "1e3s",
            "1M",
            "1y",
            "2 months",
            "1 fortnight",
            "99999999999999h",
        ] {
            assert_eq!(parse(text), Err(DurationError(text.to_owned())), "{text:?}");
        }
        assert_eq!(
            DurationError("1y".into()).to_string(),
            "invalid duration `1y` (use e.g. 500ms, 15s, 2m, 1m30s)"
        );
    }
}
