//! A k6 script's `setup()` and `teardown()`, run once by the orchestrator as
//! k6 runs them: before the workers start (what `setup()` returns goes to
//! every iteration, as the jobs' `setup_data`) and after they all ended (with
//! that data). Their requests go out from this machine with a plain HTTP
//! client (k6's `setup()` is not load either); their checks and metrics are
//! not recorded, their sleeps are slept, `test.abort()` ends the test.
//!
//! This module owns driving one VU through one function; it does not read
//! the script (the parent does) and records nothing in the run's results.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use sls_load_script::{Answer, Ended, HttpCall, Op, Program, Reply, Start, Step, Vu, VuConfig};

use crate::export::out::send::{HttpsClient, client};

/// How long `setup()` or `teardown()` may run (k6's `setupTimeout` default).
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest response body `setup()` reads (bounded memory).
const MAX_BODY: usize = 16 << 20;

/// How a lifecycle function ended, when not with its value.
#[derive(Debug)]
pub enum Failed {
    /// It threw (k6's exit code 107), k6's one-line message.
    Exception(String),
    /// It called `test.abort()` (108), with the reason.
    Aborted(String),
    /// The VU could not be made, or the function ran out of time.
    Other(String),
}

/// Runs `function` (`setup` or `teardown`) once on its own VU, with `data`
/// as its argument; returns what it returned as JSON text (`None` for
/// `undefined`). `target`, when set, receives every request.
pub async fn run(
    program: Arc<Program>,
    config: VuConfig,
    function: &'static str,
    target: Option<String>,
) -> Result<Option<String>, Failed> {
    let handle = tokio::runtime::Handle::current();
    let work = tokio::task::spawn_blocking(move || {
        let mut vu = Vu::new(program, config).map_err(|e| Failed::Other(e.to_string()))?;
        let client = client();
        let deadline = Instant::now() + FUNCTION_TIMEOUT;
        let mut step = vu.start(Start {
            exec: function.to_owned(),
            iteration: 0,
            iteration_in_scenario: 0,
            scenario: function.to_owned(),
            executor: String::new(),
            deadline: Some(deadline),
        });
        loop {
            let answer = match step {
                Step::Ended(Ended::Returned(value)) => return Ok(value),
                Step::Ended(Ended::Exception(e)) => return Err(Failed::Exception(e)),
                Step::Ended(Ended::Interrupted) => {
                    return Err(Failed::Other(format!(
                        "{function}() ran longer than {}s",
                        FUNCTION_TIMEOUT.as_secs()
                    )));
                }
                Step::Op(Op::Abort(reason)) => return Err(Failed::Aborted(reason)),
                Step::Op(Op::Request(call)) => Answer::Reply(Box::new(handle.block_on(send(
                    &client,
                    &call,
                    target.as_deref(),
                )))),
                Step::Op(Op::Batch(calls)) => Answer::Replies(
                    calls
                        .iter()
                        .map(|c| handle.block_on(send(&client, c, target.as_deref())))
                        .collect(),
                ),
                Step::Op(Op::Sleep(d)) => {
                    std::thread::sleep(d.min(deadline.saturating_duration_since(Instant::now())));
                    Answer::Done
                }
                Step::Op(Op::Metric(_) | Op::Check(_)) => Answer::Done,
            };
            step = vu.resume(answer);
        }
    });
    work.await
        .map_err(|e| Failed::Other(format!("{function}() did not finish: {e}")))?
}

/// Sends `call` (to `target` when set) and answers as the worker would, with
/// the body always kept (as text for the script to read).
async fn send(client: &HttpsClient, call: &HttpCall, target: Option<&str>) -> Reply {
    let started = Instant::now();
    let url = aimed(&call.url, target);
    let mut reply = Reply {
        url: call.url.clone(),
        ..Reply::default()
    };
    let request = build(call, &url);
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            reply.error = e;
            reply.error_code = 1000;
            return reply;
        }
    };
    let timeout = call.timeout.unwrap_or(FUNCTION_TIMEOUT);
    let response = tokio::time::timeout(timeout, async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let (head, body) = response.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok::<_, String>((head, body))
    })
    .await;
    match response {
        Ok(Ok((head, body))) => {
            reply.status = head.status.as_u16();
            reply.headers = head
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            reply.body = Some(body.to_vec());
            reply.proto = "HTTP/1.1".to_owned();
        }
        Ok(Err(e)) => {
            reply.error = e;
            reply.error_code = 1000;
        }
        Err(_) => {
            reply.error = "request timeout".to_owned();
            reply.error_code = 1050;
        }
    }
    reply.timings[0] = started.elapsed().as_secs_f64() * 1000.0;
    reply
}

/// `url` with its origin replaced by `target`'s, when one is set.
fn aimed(url: &str, target: Option<&str>) -> String {
    let Some(target) = target else {
        return url.to_owned();
    };
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    format!("{}{path}", target.trim_end_matches('/'))
}

fn build(call: &HttpCall, url: &str) -> Result<http::Request<Full<Bytes>>, String> {
    let mut request = http::Request::builder()
        .method(call.method.as_str())
        .uri(url);
    let mut has_agent = false;
    for (k, v) in &call.headers {
        has_agent |= k.eq_ignore_ascii_case("user-agent");
        request = request.header(k.as_str(), v.as_str());
    }
    if !has_agent {
        request = request.header("user-agent", sls_load_core::job::DEFAULT_USER_AGENT);
    }
    let body = Full::new(Bytes::from(call.body.clone().unwrap_or_default()));
    request
        .body(body)
        .map_err(|e| format!("url `{}`: {e}", call.url))
}

/// The environment and tags `setup()` and `teardown()` run with (no samples
/// are recorded; the console goes to stderr).
pub fn config(env: &BTreeMap<String, String>, data: Option<String>) -> VuConfig {
    VuConfig {
        vu: 0,
        env: env.clone(),
        setup_data: data,
        tags: BTreeMap::new(),
        discard_response_bodies: false,
        log: Arc::new(|_, line| eprintln!("sls-load: script: {line}")),
        halted: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_takes_the_urls_origin() {
        assert_eq!(
            aimed("https://test.k6.io/login?x=1", Some("http://127.0.0.1:9")),
            "http://127.0.0.1:9/login?x=1"
        );
        assert_eq!(
            aimed("https://test.k6.io", Some("http://127.0.0.1:9/")),
            "http://127.0.0.1:9/"
        );
        assert_eq!(aimed("http://a/b", None), "http://a/b");
    }
}
