//! Runs a drill's events at their instants and records what each did: planned
//! and actual start, end, HTTP status or exit status, and the first lines (at
//! most [`MAX_LINES`] of at most [`MAX_LINE_CHARS`] characters) of the response
//! body or the command's output. The records (`sls_load_report::drill::events`)
//! are stored as `runs/{run_id}/events.json` and read back by every report.
//!
//! `http:` events send one request over plain HTTP/1.1 (bounded by
//! [`HTTP_TIMEOUT`]), their `{{__ENV.NAME}}` slots filled from `-e` for sending
//! only; a status of 400 or more fails the event. `run:` events run
//! `sh -c CMD` (the caller has checked `--allow-exec`) in a process group of
//! their own, the whole group killed past their timeout or when the run drops
//! the event; a non-zero exit fails the event. `pause_region` events need no
//! action here: their windows are written into the control object before the
//! workers start ([`pause_windows`]) and the workers pause by their own clock;
//! the runner only records the window as it passes. A stopping run cancels the
//! events not started yet (recorded as `cancelled`).
//!
//! It does not parse events (the scenario does) or judge their effect on the
//! load (the report's drill analysis does).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use sls_load_core::control::Pause;
use sls_load_core::job::RunId;
use sls_load_core::template::fill_env;
use sls_load_plan::drill::{EventAction, EventSpec, HTTP_TIMEOUT};
use sls_load_report::drill::events::{EventRecord, Outcome};

/// Lines of output or body kept per event.
pub const MAX_LINES: usize = 5;
/// Characters kept per line.
pub const MAX_LINE_CHARS: usize = 200;
/// The pause windows of `events` for a run starting at `start_at`, as the
/// control object carries them (absolute instants).
pub fn pause_windows(events: &[EventSpec], start_at: SystemTime) -> Vec<Pause> {
    events
        .iter()
        .filter_map(|e| match (&e.action, e.until) {
            (EventAction::PauseRegion { region }, Some(until)) => Some(Pause {
                region: region.clone(),
                from: start_at + e.at,
                until: start_at + until,
            }),
            _ => None,
        })
        .collect()
}

/// Runs every event of a run starting at `start_at` at its instant, all at
/// once; an event whose instant comes after `cancel` resolved is recorded as
/// cancelled. Returns the records in `events` order.
pub async fn run_all(
    events: &[EventSpec],
    start_at: SystemTime,
    (run, env): (&RunId, &BTreeMap<String, String>),
    cancel: impl Future<Output = ()>,
) -> Vec<EventRecord> {
    let cancel = futures_util::future::FutureExt::shared(Box::pin(cancel));
    let each = events.iter().map(|e| {
        let cancel = cancel.clone();
        async move {
            let at = start_at + e.at;
            tokio::select! {
                () = crate::fanout::sleep_until(at) => run_one(e, start_at, run, env).await,
                () = cancel => cancelled(e),
            }
        }
    });
    futures_util::future::join_all(each).await
}

/// The record of an event that never started.
fn cancelled(e: &EventSpec) -> EventRecord {
    EventRecord {
        outcome: Outcome::Cancelled,
        ..blank(e)
    }
}

fn blank(e: &EventSpec) -> EventRecord {
    EventRecord {
        name: e.name.clone(),
        kind: e.action.kind().to_owned(),
        at_s: e.at.as_secs_f64(),
        until_s: e.until.map(|u| u.as_secs_f64()),
        started_s: None,
        ended_s: None,
        outcome: Outcome::Ok,
        http_status: None,
        exit_code: None,
        error: None,
        output: Vec::new(),
    }
}

/// Seconds from `start_at` to now.
fn since(start_at: SystemTime) -> f64 {
    SystemTime::now()
        .duration_since(start_at)
        .unwrap_or_default()
        .as_secs_f64()
}

/// Runs one event now and records it.
async fn run_one(
    e: &EventSpec,
    start_at: SystemTime,
    run: &RunId,
    env: &BTreeMap<String, String>,
) -> EventRecord {
    let mut record = blank(e);
    record.started_s = Some(since(start_at));
    match &e.action {
        EventAction::Http {
            method,
            url,
            headers,
            body,
        } => {
            // `{{__ENV.NAME}}` filled in for sending only: the record and its
            // messages keep the URL as written (a value may be a secret).
            let headers = (headers.iter())
                .map(|(name, value)| (name.clone(), fill_env(value, env)))
                .collect();
            let (filled, body) = (
                fill_env(url, env),
                body.as_deref().map(|b| fill_env(b, env)),
            );
            let request = HttpEvent {
                method,
                url: &filled,
                headers: &headers,
                body: body.as_deref(),
            };
            match tokio::time::timeout(HTTP_TIMEOUT, request.send()).await {
                Ok(Ok((status, body))) => {
                    record.http_status = Some(status);
                    record.output = first_lines(&body);
                    if status >= 400 {
                        record.outcome = Outcome::Failed;
                        record.error = Some(format!("{method} {url} answered {status}"));
                    }
                }
                Ok(Err(message)) => fail(&mut record, format!("{method} {url}: {message}")),
                Err(_) => fail(
                    &mut record,
                    format!(
                        "{method} {url}: no answer within {}s",
                        HTTP_TIMEOUT.as_secs()
                    ),
                ),
            }
        }
        EventAction::Run { command, timeout } => {
            run_command(&mut record, command, *timeout, run, &e.name).await;
        }
        EventAction::PauseRegion { region } => {
            if let Some(until) = e.until {
                crate::fanout::sleep_until(start_at + until).await;
            }
            record.output = vec![format!(
                "{region}: new iterations paused until {}s (window in control.json)",
                e.until.map_or(0, |u| u.as_secs())
            )];
        }
    }
    record.ended_s = Some(since(start_at));
    record
}

fn fail(record: &mut EventRecord, message: String) {
    record.outcome = Outcome::Failed;
    record.error = Some(message);
}

/// Runs `sh -c command` with a `timeout`, recording its exit and output.
async fn run_command(
    record: &mut EventRecord,
    command: &str,
    timeout: Duration,
    run: &RunId,
    name: &str,
) {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("SLS_LOAD_RUN_ID", run.to_string())
        .env("SLS_LOAD_EVENT", name)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => return fail(record, format!("`{command}` could not start: {e}")),
    };
    // Ends the whole group (the shell and what it started) at the timeout, or
    // when the run drops this event before it ended.
    let group = ProcessGroup(child.id());
    let waited = tokio::time::timeout(timeout, child.wait_with_output()).await;
    if waited.is_ok() {
        // Ended on its own: what it left running in the background stays.
        std::mem::forget(group);
    }
    match waited {
        Ok(Ok(out)) => {
            let mut text = out.stdout;
            text.extend_from_slice(&out.stderr);
            record.output = first_lines(&text);
            record.exit_code = out.status.code();
            if !out.status.success() {
                fail(record, format!("`{command}` ended with {}", out.status));
            }
        }
        Ok(Err(e)) => fail(record, format!("`{command}`: {e}")),
        Err(_) => fail(
            record,
            format!(
                "`{command}` was killed after its timeout of {}",
                humantime::format_duration(timeout)
            ),
        ),
    }
}

/// A `run:` event's process group (its leader's id), sent SIGKILL when dropped.
struct ProcessGroup(Option<u32>);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| libc::pid_t::try_from(p).ok()) {
            // SAFETY: killpg only sends a signal; the group was made for this
            // event's shell (`process_group(0)`), so it names nothing else.
            unsafe {
                libc::killpg(pid, libc::SIGKILL);
            }
        }
    }
}

/// The first [`MAX_LINES`] non-empty lines of `bytes`, each cut to
/// [`MAX_LINE_CHARS`] characters.
pub fn first_lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .take(MAX_LINES)
        .map(|l| {
            let clean: String = l
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            if clean.chars().count() > MAX_LINE_CHARS {
                let mut cut: String = clean.chars().take(MAX_LINE_CHARS - 1).collect();
                cut.push('…');
                cut
            } else {
                clean
            }
        })
        .collect()
}

/// One `http:` event's request.
struct HttpEvent<'a> {
    method: &'a str,
    url: &'a str,
    headers: &'a std::collections::BTreeMap<String, String>,
    body: Option<&'a str>,
}

/// At most this much of a response body is read.
const MAX_BODY: usize = 64 * 1024;

impl HttpEvent<'_> {
    /// Sends the request over a new HTTP/1.1 connection; the status and the
    /// start of the body, or why there is none.
    async fn send(&self) -> Result<(u16, Vec<u8>), String> {
        let uri: http::Uri = self.url.parse().map_err(|e| format!("bad URL: {e}"))?;
        let authority = uri.authority().ok_or("no host")?.clone();
        let port = authority.port_u16().unwrap_or(80);
        let stream = tokio::net::TcpStream::connect((authority.host(), port))
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        let driver = tokio::spawn(connection);
        let mut builder = http::Request::builder()
            .method(self.method)
            .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(http::header::HOST, authority.as_str());
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        let body = Full::new(Bytes::from(self.body.unwrap_or_default().to_owned()));
        let request = builder.body(body).map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while bytes.len() < MAX_BODY {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        bytes.extend_from_slice(data);
                    }
                }
                Some(Err(e)) => return Err(format!("reading the body: {e}")),
                None => break,
            }
        }
        driver.abort();
        Ok((status, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, at_ms: u64, action: EventAction) -> EventSpec {
        EventSpec {
            name: name.into(),
            at: Duration::from_millis(at_ms),
            until: None,
            ends: None,
            action,
        }
    }

    #[test]
    fn output_keeps_five_lines_of_two_hundred_characters() {
        let long = "x".repeat(300);
        let text = format!("a\n\nb\r\n{long}\nc\nd\ne\nf\n");
        let lines = first_lines(text.as_bytes());
        assert_eq!(lines.len(), 5);
        assert_eq!(&lines[..2], ["a", "b"]);
        assert_eq!(lines[2].chars().count(), 200);
        assert!(lines[2].ends_with('…'));
    }

    #[tokio::test]
    async fn a_command_is_run_at_its_instant_and_its_exit_and_output_recorded() {
        let run = RunId::new("r-events").unwrap();
        let start = SystemTime::now();
        let events = [
            spec(
                "ok",
                100,
                EventAction::Run {
                    command: "echo hello $SLS_LOAD_EVENT".into(),
                    timeout: Duration::from_secs(5),
                },
            ),
            spec(
                "bad",
                0,
                EventAction::Run {
                    command: "echo oops >&2; exit 3".into(),
                    timeout: Duration::from_secs(5),
                },
            ),
            spec(
                "slow",
                0,
                EventAction::Run {
                    command: "sleep 5".into(),
                    timeout: Duration::from_millis(100),
                },
            ),
        ];
        let records = run_all(
            &events,
            start,
            (&run, &BTreeMap::new()),
            std::future::pending(),
        )
        .await;
        assert_eq!(records[0].outcome, Outcome::Ok);
        assert_eq!(records[0].output, ["hello ok"]);
        assert_eq!(records[0].exit_code, Some(0));
        assert!(records[0].started_s.unwrap() >= 0.1);
        assert_eq!(records[1].outcome, Outcome::Failed);
        assert_eq!(records[1].exit_code, Some(3));
        assert_eq!(records[1].output, ["oops"]);
        assert_eq!(records[2].outcome, Outcome::Failed);
        assert!(records[2].error.as_deref().unwrap().contains("timeout"));
    }

    #[tokio::test]
    async fn a_stopping_run_cancels_the_events_not_started_yet() {
        let run = RunId::new("r-events").unwrap();
        let events = [
            spec(
                "now",
                0,
                EventAction::Run {
                    command: "true".into(),
                    timeout: Duration::from_secs(5),
                },
            ),
            spec(
                "later",
                60_000,
                EventAction::Run {
                    command: "true".into(),
                    timeout: Duration::from_secs(5),
                },
            ),
        ];
        let cancel = tokio::time::sleep(Duration::from_millis(200));
        let records = run_all(&events, SystemTime::now(), (&run, &BTreeMap::new()), cancel).await;
        assert_eq!(records[0].outcome, Outcome::Ok);
        assert_eq!(records[1].outcome, Outcome::Cancelled);
        assert_eq!(records[1].started_s, None);
    }

    #[tokio::test]
    async fn an_http_event_records_the_status_and_fails_from_400() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await.unwrap();
                let body = "region down\n";
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                s.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        let http = |name: &str| {
            spec(
                name,
                0,
                EventAction::Http {
                    method: "POST".into(),
                    url: format!("http://127.0.0.1:{port}/regions/eu-west-1/down"),
                    headers: Default::default(),
                    body: None,
                },
            )
        };
        let run = RunId::new("r-events").unwrap();
        let first = run_all(
            &[http("a")],
            SystemTime::now(),
            (&run, &BTreeMap::new()),
            std::future::pending(),
        )
        .await;
        assert_eq!(first[0].http_status, Some(200));
        assert_eq!(first[0].outcome, Outcome::Ok);
        assert_eq!(first[0].output, ["region down"]);
        let second = run_all(
            &[http("b")],
            SystemTime::now(),
            (&run, &BTreeMap::new()),
            std::future::pending(),
        )
        .await;
        assert_eq!(second[0].http_status, Some(503));
        assert!(second[0].failed());
    }

    #[test]
    fn pause_windows_are_absolute_instants() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut e = spec(
            "gone",
            30_000,
            EventAction::PauseRegion {
                region: "ap-southeast-1".into(),
            },
        );
        e.until = Some(Duration::from_secs(40));
        let windows = pause_windows(&[e], start);
        assert_eq!(
            windows,
            [Pause {
                region: "ap-southeast-1".into(),
                from: start + Duration::from_secs(30),
                until: start + Duration::from_secs(40),
            }]
        );
    }
}
