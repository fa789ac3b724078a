//! `--out influxdb=http://host:8086/db`: InfluxDB v1 line protocol, as k6's
//! InfluxDB output writes it — measurement = metric name, the tags, one field
//! `value`, nanosecond timestamps — POSTed to `/write?db=DB&precision=ns`
//! through [`super::send`] (one batch per poll). Trend statistics are the tag
//! `stat`. It only encodes [`super::samples`]; it does not choose the points.

use std::fmt::Write as _;

use super::send::{Batch, Closing, Sender};
use super::{Output, Sample, samples};
use sls_load_report::series::ClosedSecond;

/// The database named by the URL's path (`/k6` → `k6`), if any.
pub fn database(uri: &http::Uri) -> Option<&str> {
    let db = uri.path().trim_matches('/');
    (!db.is_empty() && !db.contains('/')).then_some(db)
}

/// The write endpoint of `uri`: same scheme and authority, `/write?db=DB&precision=ns`.
pub fn write_uri(uri: &http::Uri) -> Option<http::Uri> {
    let db = database(uri)?;
    let mut query = String::new();
    for c in db.bytes() {
        match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => query.push(c as char),
            _ => {
                let _ = write!(query, "%{c:02X}");
            }
        }
    }
    http::Uri::builder()
        .scheme(uri.scheme_str()?)
        .authority(uri.authority()?.as_str())
        .path_and_query(format!("/write?db={query}&precision=ns"))
        .build()
        .ok()
}

/// Escapes a measurement name (commas and spaces).
fn measurement(s: &str) -> String {
    escape(s, &[',', ' '])
}

/// Escapes a tag key or value (commas, `=` and spaces).
fn tag(s: &str) -> String {
    escape(s, &[',', '=', ' '])
}

fn escape(s: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\\' || special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One point as a line (no trailing newline). Empty tag values are left out
/// (InfluxDB rejects them).
pub fn line(sample: &Sample) -> String {
    let mut line = measurement(sample.metric);
    let stat = sample.stat().map(|s| ("stat".to_owned(), s.to_owned()));
    for (k, v) in sample.tags.iter().chain(stat.iter()) {
        if !v.is_empty() {
            let _ = write!(line, ",{}={}", tag(k), tag(v));
        }
    }
    let _ = write!(
        line,
        " value={} {}",
        sample.value,
        super::epoch_ns(sample.at)
    );
    line
}

/// The InfluxDB output.
pub struct InfluxOutput {
    sender: Option<Sender>,
    run_id: String,
    unusable: u64,
}

impl InfluxOutput {
    /// Starts sending to the database of `uri` (validated by [`super::OutSpec::parse`]).
    pub fn new(uri: &http::Uri, run_id: &str) -> InfluxOutput {
        InfluxOutput {
            sender: write_uri(uri).map(|u| Sender::start(u, vec![("content-type", "text/plain")])),
            run_id: run_id.to_owned(),
            unusable: 0,
        }
    }
}

impl Output for InfluxOutput {
    fn second(&mut self, seconds: &[ClosedSecond]) {
        let mut body = String::new();
        let mut points = 0;
        for second in seconds {
            for sample in samples(second, &self.run_id) {
                body.push_str(&line(&sample));
                body.push('\n');
                points += 1;
            }
        }
        match &mut self.sender {
            Some(sender) => sender.push(Batch {
                body: body.into_bytes(),
                points,
            }),
            None => self.unusable += points,
        }
    }

    fn finish(&mut self) {}

    fn close(self: Box<Self>) -> Closing {
        let unusable = self.unusable;
        match self.sender {
            Some(sender) => sender.close(),
            None => Box::pin(async move {
                super::Delivery {
                    lost: unusable,
                    error: Some("no database in the URL".into()),
                    ..super::Delivery::default()
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::second;
    use super::*;

    #[test]
    fn tag_values_with_spaces_commas_and_equals_are_escaped() {
        let points = samples(&second(), "r1");
        assert_eq!(
            line(&points[0]),
            "http_reqs,region=eu-west-1,name=home\\ page\\,\\ v\\=2,status=200,run_id=r1 value=4 1700000000000000000"
        );
        let p95 = points.iter().find(|s| s.stat() == Some("p95")).unwrap();
        assert!(line(p95).starts_with("http_req_duration,region=eu-west-1,"));
        assert!(line(p95).contains(",run_id=r1,stat=p95 value="));
    }

    #[test]
    fn the_url_path_is_the_database_of_the_write_endpoint() {
        let uri: http::Uri = "http://127.0.0.1:8086/k6".parse().unwrap();
        assert_eq!(
            write_uri(&uri).unwrap().to_string(),
            "http://127.0.0.1:8086/write?db=k6&precision=ns"
        );
        assert!(database(&"http://h:8086/".parse().unwrap()).is_none());
    }
}
