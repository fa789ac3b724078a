//! The interval-log codec: the one place that writes and reads HdrHistogram
//! interval logs (V2 + deflate, base64, one line per interval and tag).
//!
//! Workers encode with [`IntervalWriter`] and [`write_header`]; the orchestrator
//! decodes with [`decode`], which reads a log line by line and bounds what each
//! line may declare: its length, the histogram's declared range, precision and
//! payload size, the counts it holds and the time it names. A line that breaks a
//! bound or does not parse becomes a [`LineError`] naming its line number; the
//! lines after it still count. Every histogram is made by [`new_histogram`].
//! This module does not know what tags mean (that is `job`'s `tag` scheme) and
//! does not merge (the orchestrator's merge does).

use std::io::Read;
use std::time::{Duration, SystemTime};

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

/// Latency histograms record microseconds from 1 µs ...
pub const HIST_LOW_US: u64 = 1;
/// ... to 60 s ...
pub const HIST_HIGH_US: u64 = 60_000_000;
/// ... with 3 significant digits.
pub const HIST_SIGFIG: u8 = 3;

/// Longest line [`decode`] reads (a 1 µs – 60 s histogram at 3 digits encodes in
/// well under 100 KiB).
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Largest uncompressed histogram payload a line may declare.
pub const MAX_PAYLOAD_BYTES: u32 = 1 << 20;
/// Highest trackable value a line's histogram may declare (about 19 hours in µs).
pub const MAX_DECLARED_HIGH: u64 = 1 << 36;
/// Most significant digits a line's histogram may declare.
pub const MAX_DECLARED_SIGFIG: u32 = 4;
/// Most values one interval of one tag may hold (far above what one worker sends
/// in a second; it keeps every sum of a run far from overflowing).
pub const MAX_INTERVAL_COUNT: u64 = 1 << 32;
/// Latest instant a log may name: 2200-01-01, as seconds since the Unix epoch.
pub const MAX_EPOCH_SECS: u64 = 7_258_118_400;
/// Longest interval a line may declare.
pub const MAX_INTERVAL_LENGTH: Duration = Duration::from_secs(3600);

/// A histogram with the bounds every sls-load latency histogram uses.
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants Histogram accepts (1 ≤ low, high ≥ 2·low, sigfig ≤ 5),
    // and a unit test constructs them: a failure here is a bug, not an input.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(HIST_LOW_US, HIST_HIGH_US, HIST_SIGFIG)
        .expect("constant histogram bounds are valid")
}

/// Adds `from` into `into` (HdrHistogram's exact `add`). Every merge of the
/// orchestrator goes through here, so the generic code is compiled once, in this
/// crate, optimised even in debug builds.
pub fn add(
    into: &mut Histogram<u64>,
    from: &Histogram<u64>,
) -> Result<(), hdrhistogram::errors::AdditionError> {
    into.add(from)
}

/// Why a log could not be written.
#[derive(Debug, thiserror::Error)]
#[error("interval log encoding failed: {0}")]
pub struct EncodeError(String);

/// Appends interval lines (no header) to a buffer, reusing one serializer.
#[derive(Default)]
pub struct IntervalWriter {
    serializer: V2DeflateSerializer,
}

impl std::fmt::Debug for IntervalWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntervalWriter")
    }
}

impl IntervalWriter {
    /// A writer with a fresh serializer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one interval line: `tag`, its start (relative to the log's base
    /// time) and length, and the histogram.
    pub fn write(
        &mut self,
        out: &mut Vec<u8>,
        tag: &str,
        start: Duration,
        length: Duration,
        h: &Histogram<u64>,
    ) -> Result<(), EncodeError> {
        let mut writer = IntervalLogWriterBuilder::new()
            .begin_log_with(out, &mut self.serializer)
            .map_err(|e| EncodeError(e.to_string()))?;
        writer
            .write_histogram(h, start, length, Tag::new(tag))
            .map_err(|e| EncodeError(e.to_string()))
    }
}

/// Writes a log header: `comments`, then start and base time (both `base`).
pub fn write_header(
    out: &mut Vec<u8>,
    comments: &[&str],
    base: SystemTime,
) -> Result<(), EncodeError> {
    let mut serializer = V2DeflateSerializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    for c in comments {
        builder.add_comment(c);
    }
    builder
        .with_start_time(base)
        .with_base_time(base)
        .begin_log_with(out, &mut serializer)
        .map(|_| ())
        .map_err(|e| EncodeError(e.to_string()))
}

/// The comment opening every worker's log, naming the run, region and worker it
/// belongs to (`sls-load run=R region=G worker=W`), so a reader can refuse a log
/// stored under another worker's name.
pub fn origin_comment(run: &str, region: &str, worker: &str) -> String {
    format!("{ORIGIN_PREFIX}run={run} region={region} worker={worker}")
}

/// What every origin comment starts with (after the `#`).
const ORIGIN_PREFIX: &str = "sls-load ";

/// Where a log says it belongs: one `#sls-load run=… region=… worker=…` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    /// Its `run=` value (`None` when the line has none).
    pub run: Option<&'a str>,
    /// Its `region=` value.
    pub region: Option<&'a str>,
    /// Its `worker=` value.
    pub worker: Option<&'a str>,
}

impl Origin<'_> {
    /// Whether this line names exactly `run`, `region` and `worker`.
    pub fn is(&self, run: &str, region: &str, worker: &str) -> bool {
        self.run == Some(run) && self.region == Some(region) && self.worker == Some(worker)
    }
}

impl std::fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: Option<&str>| v.unwrap_or("(none)").chars().take(64).collect::<String>();
        write!(
            f,
            "run={} region={} worker={}",
            show(self.run),
            show(self.region),
            show(self.worker)
        )
    }
}

/// Every origin comment in `bytes` (a log may hold none: older writers and
/// other tools), in order. Lines longer than [`MAX_LINE_BYTES`] are skipped.
pub fn origins(bytes: &[u8]) -> impl Iterator<Item = Origin<'_>> {
    bytes.split(|b| *b == b'\n').filter_map(|raw| {
        let rest = raw
            .strip_prefix(b"#")?
            .strip_prefix(ORIGIN_PREFIX.as_bytes())?;
        if raw.len() > MAX_LINE_BYTES {
            return None;
        }
        let rest = std::str::from_utf8(rest).ok()?.trim_end_matches('\r');
        let mut origin = Origin {
            run: None,
            region: None,
            worker: None,
        };
        for field in rest.split(' ') {
            match field.split_once('=') {
                Some(("run", v)) => origin.run = Some(v),
                Some(("region", v)) => origin.region = Some(v),
                Some(("worker", v)) => origin.worker = Some(v),
                _ => {}
            }
        }
        Some(origin)
    })
}

/// One decoded interval.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Its tag (`http_req_duration:home`); empty when the line had none.
    pub tag: String,
    /// When it started: the log's base time plus [`Interval::offset`].
    pub start: SystemTime,
    /// Its start as written: relative to the log's base time.
    pub offset: Duration,
    /// Its declared length.
    pub length: Duration,
    /// Its values.
    pub histogram: Histogram<u64>,
}

/// What is wrong with one line of a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Reads `bytes` as an interval log, line by line: each interval line yields an
/// [`Interval`] or a [`LineError`]; headers, comments and blank lines yield nothing.
pub fn decode(bytes: &[u8]) -> Decoder<'_> {
    decode_tags(bytes, |_| true)
}

/// [`decode`], skipping (without decoding their histograms) the interval lines
/// whose tag `wanted` refuses: a cheap first look at one metric of a log.
pub fn decode_tags(bytes: &[u8], wanted: fn(&str) -> bool) -> Decoder<'_> {
    Decoder {
        lines: bytes.split(is_newline as fn(&u8) -> bool).enumerate(),
        base: Duration::ZERO,
        deserializer: Deserializer::new(),
        wanted,
    }
}

fn is_newline(b: &u8) -> bool {
    *b == b'\n'
}

/// A log's lines, numbered from 0.
type Lines<'a> = std::iter::Enumerate<std::slice::Split<'a, u8, fn(&u8) -> bool>>;

/// The iterator [`decode`] returns.
pub struct Decoder<'a> {
    lines: Lines<'a>,
    base: Duration,
    deserializer: Deserializer,
    wanted: fn(&str) -> bool,
}

impl std::fmt::Debug for Decoder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("base", &self.base).finish()
    }
}

impl Iterator for Decoder<'_> {
    type Item = Result<Interval, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        for (i, raw) in self.lines.by_ref() {
            let err = |reason: String| LineError {
                line: i + 1,
                reason,
            };
            if raw.len() > MAX_LINE_BYTES {
                return Some(Err(err(format!(
                    "{} bytes, more than the {MAX_LINE_BYTES} a line may have",
                    raw.len()
                ))));
            }
            let Ok(line) = std::str::from_utf8(raw) else {
                return Some(Err(err("not UTF-8".into())));
            };
            let line = line.trim_end_matches('\r');
            if let Some(rest) = line.strip_prefix("#[BaseTime: ") {
                match header_time(rest) {
                    Ok(t) => self.base = t,
                    Err(reason) => return Some(Err(err(reason))),
                }
                continue;
            }
            if line.is_empty() || line.starts_with('#') || line.starts_with('"') {
                continue;
            }
            if !(self.wanted)(tag_of(line)) {
                continue;
            }
            return Some(parse_interval(line, self.base, &mut self.deserializer).map_err(err));
        }
        None
    }
}

/// An interval line's tag (empty when it has none).
fn tag_of(line: &str) -> &str {
    line.strip_prefix("Tag=")
        .and_then(|rest| rest.split_once(','))
        .map_or("", |(tag, _)| tag)
}

/// `1795473689.144 (seconds since epoch)]` → the instant, bounded.
fn header_time(rest: &str) -> Result<Duration, String> {
    let number = rest.split_whitespace().next().unwrap_or_default();
    let t = decimal_seconds(number).ok_or_else(|| format!("bad base time `{number}`"))?;
    if t.as_secs() > MAX_EPOCH_SECS {
        return Err(format!("base time {number} is after the year 2200"));
    }
    Ok(t)
}

/// Exact `SECS[.FRACTION]` → Duration (nanosecond precision), or `None`.
fn decimal_seconds(s: &str) -> Option<Duration> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = secs.parse().ok()?;
    let digits = &frac[..frac.len().min(9)];
    let nanos = if digits.is_empty() {
        0
    } else {
        digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32)
    };
    Some(Duration::new(secs, nanos))
}

/// `[Tag=T,]START,LENGTH,MAX,BASE64` → an interval.
fn parse_interval(
    line: &str,
    base: Duration,
    deserializer: &mut Deserializer,
) -> Result<Interval, String> {
    let (tag, rest) = match line.strip_prefix("Tag=") {
        Some(rest) => rest.split_once(',').ok_or("a tag without fields")?,
        None => ("", line),
    };
    let fields: Vec<&str> = rest.split(',').collect();
    let [start, length, _max, encoded] = fields[..] else {
        return Err(format!(
            "expected 4 fields after the tag, found {}",
            fields.len()
        ));
    };
    let start = decimal_seconds(start).ok_or_else(|| format!("bad start `{start}`"))?;
    let length = decimal_seconds(length).ok_or_else(|| format!("bad length `{length}`"))?;
    let at = base
        .checked_add(start)
        .filter(|t| t.as_secs() <= MAX_EPOCH_SECS)
        .ok_or("interval starts after the year 2200")?;
    if length > MAX_INTERVAL_LENGTH {
        return Err(format!("interval length {length:?} is over an hour"));
    }
    let histogram = decode_histogram(encoded, deserializer)?;
    if histogram.len() > MAX_INTERVAL_COUNT {
        return Err(format!(
            "{} values in one interval, more than the {MAX_INTERVAL_COUNT} allowed",
            histogram.len()
        ));
    }
    Ok(Interval {
        tag: tag.to_owned(),
        start: SystemTime::UNIX_EPOCH + at,
        offset: start,
        length,
        histogram,
    })
}

/// Base64 → V2-deflate histogram, after checking what its header declares.
fn decode_histogram(
    encoded: &str,
    deserializer: &mut Deserializer,
) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| format!("bad base64: {e}"))?;
    check_declared(&bytes)?;
    deserializer
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("bad histogram: {e:?}"))
}

/// The V2 compressed cookie (`0x1c849304 | 0x10`).
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
/// The V2 cookie inside the compressed payload.
const V2_COOKIE: u32 = 0x1c84_9313;

/// Reads the 40-byte V2 header inside the deflated payload and refuses what would
/// make the deserializer allocate without bound: a payload, range or precision
/// beyond the limits above.
fn check_declared(bytes: &[u8]) -> Result<(), String> {
    let be32 = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    let be64 = |b: &[u8], at: usize| -> Option<u64> {
        Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
    };
    if be32(bytes, 0) != Some(V2_COMPRESSED_COOKIE) {
        return Err("not a V2 compressed histogram".into());
    }
    let mut header = [0u8; 40];
    flate2::read::ZlibDecoder::new(bytes.get(8..).unwrap_or_default())
        .read_exact(&mut header)
        .map_err(|e| format!("bad histogram: {e}"))?;
    let short = || "bad histogram: short header".to_string();
    if be32(&header, 0) != Some(V2_COOKIE) {
        return Err("bad histogram: wrong inner cookie".into());
    }
    let payload = be32(&header, 4).ok_or_else(short)?;
    let sigfig = be32(&header, 12).ok_or_else(short)?;
    let low = be64(&header, 16).ok_or_else(short)?;
    let high = be64(&header, 24).ok_or_else(short)?;
    if payload > MAX_PAYLOAD_BYTES {
        return Err(format!(
            "histogram declares a {payload}-byte payload (limit {MAX_PAYLOAD_BYTES})"
        ));
    }
    // `high / 2 < low` is HdrHistogram's `high < 2 * low` without its overflow.
    if sigfig > MAX_DECLARED_SIGFIG || low == 0 || high > MAX_DECLARED_HIGH || high / 2 < low {
        return Err(format!(
            "histogram declares range {low}..{high} at {sigfig} digits (limits: 1..{MAX_DECLARED_HIGH}, {MAX_DECLARED_SIGFIG} digits)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(values: &[(&str, u64, &[u64])], base: SystemTime) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, &["test"], base).unwrap();
        let mut w = IntervalWriter::new();
        for (tag, second, vs) in values {
            let mut h = new_histogram();
            for v in *vs {
                h.record(*v).unwrap();
            }
            w.write(
                &mut out,
                tag,
                Duration::from_secs(*second),
                Duration::from_secs(1),
                &h,
            )
            .unwrap();
        }
        out
    }

    fn base() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_473_689_144)
    }

    #[test]
    fn what_the_writer_writes_the_decoder_reads_back() {
        let log = log_of(&[("a:x", 0, &[100, 200]), ("b:y", 3, &[5_000_000])], base());
        let got: Vec<Interval> = decode(&log).map(Result::unwrap).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].tag, "a:x");
        assert_eq!(got[0].start, base());
        assert_eq!(got[0].histogram.len(), 2);
        assert_eq!(got[1].tag, "b:y");
        assert_eq!(got[1].start, base() + Duration::from_secs(3));
        assert_eq!(got[1].length, Duration::from_secs(1));
        assert_eq!(
            got[1].histogram.max(),
            got[1].histogram.highest_equivalent(5_000_000)
        );
    }

    #[test]
    fn a_bad_line_is_named_and_the_lines_after_it_still_count() {
        let good = log_of(&[("a:x", 0, &[1])], base());
        let text = String::from_utf8(good).unwrap();
        let interval = text.lines().last().unwrap().to_owned();
        let crafted = format!(
            "{text}Tag=a:x,18446744073709551615.000,1.000,1.0,{}\n\
             Tag=a:x,0.000,1.000,1.0,not-base64!\n\
             {interval}\n",
            interval.rsplit(',').next().unwrap()
        );
        let got: Vec<_> = decode(crafted.as_bytes()).collect();
        assert_eq!(got.len(), 4);
        assert!(got[0].is_ok());
        let e1 = got[1].as_ref().unwrap_err();
        assert!(e1.reason.contains("2200"), "{e1}");
        let e2 = got[2].as_ref().unwrap_err();
        assert!(e2.reason.contains("base64"), "{e2}");
        assert!(got[3].is_ok());
    }

    /// A V2 compressed histogram whose inner header declares the given figures.
    fn crafted_histogram(payload: u32, sigfig: u32, low: u64, high: u64) -> String {
        use std::io::Write;
        let mut inner = Vec::new();
        inner.extend(V2_COOKIE.to_be_bytes());
        inner.extend(payload.to_be_bytes());
        inner.extend(0u32.to_be_bytes());
        inner.extend(sigfig.to_be_bytes());
        inner.extend(low.to_be_bytes());
        inner.extend(high.to_be_bytes());
        inner.extend(1.0f64.to_be_bytes());
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&inner).unwrap();
        let deflated = z.finish().unwrap();
        let mut outer = Vec::new();
        outer.extend(V2_COMPRESSED_COOKIE.to_be_bytes());
        outer.extend((deflated.len() as u32).to_be_bytes());
        outer.extend(deflated);
        base64::engine::general_purpose::STANDARD.encode(outer)
    }

    #[test]
    fn declared_sizes_that_would_exhaust_memory_are_refused_before_allocating() {
        for (payload, sigfig, low, high, what) in [
            (u32::MAX, 3, 1, 60_000_000, "payload"),
            (100, 5, 1, 1 << 62, "range"),
            (100, 9, 1, 1000, "range"),
            (100, 3, 0, 1000, "range"),
        ] {
            let line = format!(
                "Tag=a:x,0.000,1.000,1.0,{}\n",
                crafted_histogram(payload, sigfig, low, high)
            );
            let got: Vec<_> = decode(line.as_bytes()).collect();
            let e = got[0].as_ref().unwrap_err();
            assert!(e.reason.contains(what), "{what}: {e}");
        }
    }

    /// Found by `make fuzz` (hlog_decode): a declared lowest value above
    /// u64::MAX / 2 overflowed `2 * low` (a panic in debug builds, a wrapped
    /// check in release).
    #[test]
    fn a_declared_lowest_value_near_u64_max_is_refused_without_overflow() {
        for low in [u64::MAX, u64::MAX / 2 + 1] {
            let line = format!(
                "Tag=a:x,0.000,1.000,1.0,{}\n",
                crafted_histogram(100, 3, low, 1 << 20)
            );
            let e = decode(line.as_bytes()).next().unwrap().unwrap_err();
            assert!(e.reason.contains("range"), "{e}");
        }
    }

    #[test]
    fn overlong_lines_and_too_many_values_are_refused() {
        let long = format!(
            "Tag=a:x,0.000,1.000,1.0,{}\n",
            "A".repeat(MAX_LINE_BYTES + 1)
        );
        let e = decode(long.as_bytes()).next().unwrap().unwrap_err();
        assert!(e.reason.contains("bytes"), "{e}");

        let mut h = new_histogram();
        h.record_n(1000, MAX_INTERVAL_COUNT + 1).unwrap();
        let mut out = Vec::new();
        IntervalWriter::new()
            .write(&mut out, "a:x", Duration::ZERO, Duration::from_secs(1), &h)
            .unwrap();
        let e = decode(&out).next().unwrap().unwrap_err();
        assert!(e.reason.contains("values in one interval"), "{e}");
    }

    /// Decodes `bytes` to the end: every interval line yields one item, nothing
    /// panics, and what decodes stays within the bounds.
    fn decodes_within_bounds(bytes: &[u8]) {
        let lines = bytes.split(|b| *b == b'\n').count();
        let mut items = 0;
        for item in decode(bytes) {
            items += 1;
            if let Ok(interval) = item {
                assert!(interval.histogram.len() <= MAX_INTERVAL_COUNT);
                assert!(interval.length <= MAX_INTERVAL_LENGTH);
            }
        }
        assert!(items <= lines, "{items} items from {lines} lines");
    }

    /// The decoder's no-panic property under `cargo test` (the fuzz targets in
    /// `fuzz/` search far wider, in `make fuzz`): random bytes, text made of the
    /// log's own alphabet, and random mutations of a valid log (bytes flipped,
    /// inserted or cut, lines repeated, numbers made huge).
    #[test]
    fn random_bytes_and_mutated_logs_decode_without_panicking() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        const ALPHABET: &[u8] =
            b"0123456789.,:=#[]\n\r Tag=BaseTime:HISTFAAAAH14nC+/ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef";
        let mut rng = StdRng::seed_from_u64(0x5105_10ad);
        let valid = log_of(
            &[("a:x", 0, &[100, 200, 3_000]), ("b:y", 3, &[5_000_000])],
            base(),
        );
        decodes_within_bounds(&valid);
        for round in 0..300 {
            let len = rng.random_range(0..600);
            let bytes: Vec<u8> = if round % 2 == 0 {
                (0..len).map(|_| rng.random()).collect()
            } else {
                (0..len)
                    .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
                    .collect()
            };
            decodes_within_bounds(&bytes);
        }
        for _ in 0..300 {
            let mut bytes = valid.clone();
            for _ in 0..rng.random_range(1..6) {
                let at = rng.random_range(0..bytes.len().max(1));
                match rng.random_range(0..5) {
                    0 if !bytes.is_empty() => bytes[at] ^= 1 << rng.random_range(0..8),
                    1 => bytes.insert(at.min(bytes.len()), rng.random()),
                    2 => {
                        let end = (at + rng.random_range(1..40)).min(bytes.len());
                        bytes.drain(at.min(end)..end);
                    }
                    3 => {
                        let text = String::from_utf8_lossy(&bytes).into_owned();
                        let line = text.lines().nth(rng.random_range(0..8)).unwrap_or("");
                        bytes.extend_from_slice(format!("\n{line}\n").as_bytes());
                    }
                    _ => {
                        let huge = ["18446744073709551615", "9223372036854775807", "99999999999"];
                        let huge = huge[rng.random_range(0..huge.len())].as_bytes();
                        if let Some(d) = bytes[at..].iter().position(u8::is_ascii_digit) {
                            let d = at + d;
                            bytes.splice(d..d + 1, huge.iter().copied());
                        }
                    }
                }
            }
            decodes_within_bounds(&bytes);
        }
    }

    #[test]
    fn a_log_names_where_it_belongs_in_its_origin_comments() {
        let mut log = Vec::new();
        let comment = origin_comment("20261123-203921-98bb", "us-east-1", "w0000");
        write_header(&mut log, &[&comment], base()).unwrap();
        let found: Vec<Origin<'_>> = origins(&log).collect();
        assert_eq!(found.len(), 1);
        assert!(found[0].is("20261123-203921-98bb", "us-east-1", "w0000"));
        assert!(!found[0].is("20261123-203921-98bb", "eu-west-1", "w0000"));
        assert_eq!(
            found[0].to_string(),
            "run=20261123-203921-98bb region=us-east-1 worker=w0000"
        );
        // A second origin line further down is read too; other comments are not.
        log.extend_from_slice(b"#sls-load region=eu-west-1\r\n#other run=x\n");
        let found: Vec<Origin<'_>> = origins(&log).collect();
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].region, Some("eu-west-1"));
        assert_eq!(found[1].run, None);
        assert_eq!(origins(b"#[BaseTime: 1.0 (x)]\n").count(), 0);
    }

    #[test]
    fn decimal_seconds_are_exact() {
        assert_eq!(
            decimal_seconds("1795473689.144"),
            Some(Duration::new(1_795_473_689, 144_000_000))
        );
        assert_eq!(decimal_seconds("3"), Some(Duration::from_secs(3)));
        assert_eq!(decimal_seconds("-1.0"), None);
        assert_eq!(decimal_seconds("1e9"), None);
        assert_eq!(decimal_seconds("99999999999999999999.0"), None);
    }
}
