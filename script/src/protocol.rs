//! What a VU's script asks of the worker and what the worker answers: the
//! suspension points of the k6 API.
//!
//! A VU's coroutine ([`crate::vu`]) stops at every [`Op`] (a request, a batch,
//! a sleep, a metric sample, a check result, `test.abort()`) and waits for its
//! [`Answer`]; an iteration ends with an [`Ended`]. This module owns those
//! shapes only, with the messages of a VU's coroutine ([`Start`], the
//! crate's `Input` and `Output`) and its console's [`LogLevel`]: the worker's engine performs the ops (sends, sleeps, records),
//! the bridge (`native.rs`) turns them into and out of JavaScript values.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// One HTTP request as the script made it (k6's `http.request` arguments).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpCall {
    /// Upper-case method.
    pub method: String,
    /// The URL as the script gave it (absolute in k6; a path is taken relative to
    /// the target).
    pub url: String,
    /// The request's `name` tag: the script's `tags.name`, else the URL.
    pub name: String,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
    /// Request headers as given, in order.
    pub headers: Vec<(String, String)>,
    /// The sample's tags but `name`: `group` when inside one, the run's
    /// tags, then the request's own.
    pub tags: Vec<(String, String)>,
    /// What the script wants of the body.
    pub response: ResponseType,
    /// The request's own timeout (k6's `timeout` param), if any.
    pub timeout: Option<Duration>,
    /// Statuses that count as expected (k6's `expectedStatuses`), inclusive
    /// ranges; empty: every response is expected.
    pub expected: Vec<(u16, u16)>,
    /// Redirects to follow at most (k6's `redirects` param), if set.
    pub redirects: Option<u32>,
}

impl HttpCall {
    /// The request's `name` tag.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of tag `key`, if any.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a response with `status` is an expected one.
    pub fn expects(&self, status: u16) -> bool {
        self.expected.is_empty()
            || self
                .expected
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(&status))
    }
}

/// k6's `responseType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    /// The body as a string (k6's default).
    Text,
    /// No body (`null`): it is read and dropped.
    None,
    /// The body as an `ArrayBuffer`.
    Binary,
}

/// The answer to one request: a response, or why none came.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    /// The status, 0 when no response came.
    pub status: u16,
    /// The body, when the request kept it.
    pub body: Option<Vec<u8>>,
    /// Response headers, names in k6's canonical form (`Content-Type`).
    pub headers: Vec<(String, String)>,
    /// k6's timings in milliseconds: duration, blocked, connecting,
    /// tls_handshaking, sending, waiting, receiving.
    pub timings: [f64; 7],
    /// Why no response came (empty when one did).
    pub error: String,
    /// k6's `error_code` (0 when a response came).
    pub error_code: u32,
    /// The URL requested.
    pub url: String,
    /// The protocol that answered (`HTTP/1.1`, `HTTP/2.0`), empty without a response.
    pub proto: String,
}

/// The kind of a custom metric (k6's `k6/metrics` classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKind {
    /// Adds up values.
    Counter,
    /// Keeps the last value (and its minimum and maximum).
    Gauge,
    /// The share of non-zero values.
    Rate,
    /// A distribution of values.
    Trend,
}

impl MetricKind {
    /// The name k6 gives the kind (`counter`, `gauge`, `rate`, `trend`).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Rate => "rate",
            MetricKind::Trend => "trend",
        }
    }
}

/// One value added to a metric (a custom one, or `group_duration`).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSample {
    /// The metric's name.
    pub name: String,
    /// Its kind.
    pub kind: MetricKind,
    /// The value (for a rate: 1 or 0).
    pub value: f64,
    /// Whether values are times in milliseconds (`new Trend(name, true)`).
    pub is_time: bool,
    /// Its tags (`group` first when inside one).
    pub tags: Vec<(String, String)>,
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSample {
    /// The check's name.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// Its tags (`group` first when inside one).
    pub tags: Vec<(String, String)>,
}

/// What a VU asks the worker to do; it waits for the [`Answer`].
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Send one request: answered with [`Answer::Reply`].
    Request(Box<HttpCall>),
    /// Send these requests side by side (`http.batch`): answered with
    /// [`Answer::Replies`], in order.
    Batch(Vec<HttpCall>),
    /// Pause (`sleep`): answered with [`Answer::Done`].
    Sleep(Duration),
    /// Record a metric sample: answered with [`Answer::Done`].
    Metric(MetricSample),
    /// Count a check result: answered with [`Answer::Done`].
    Check(CheckSample),
    /// `test.abort(reason)`: the whole test stops (k6's exit code 108).
    Abort(String),
}

/// The worker's answer to an [`Op`].
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The op is done.
    Done,
    /// The response to [`Op::Request`].
    Reply(Box<Reply>),
    /// The responses to [`Op::Batch`], in order.
    Replies(Vec<Reply>),
    /// The iteration must end now (the slice ended, the test stops): the
    /// script gets an exception it cannot catch.
    Stop,
}

/// How an iteration ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    /// The function returned; its value as JSON text when it was not
    /// `undefined` (what `setup()` hands to the VUs).
    Returned(Option<String>),
    /// It threw: k6's message with where (`Error: boom at default (script.js:12:5)`).
    Exception(String),
    /// It was stopped by [`Answer::Stop`] (or `test.abort()`).
    Interrupted,
}

/// Where a VU is: asking for an op, or done with an iteration.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The VU waits for this op's answer ([`crate::Vu::resume`]).
    Op(Op),
    /// The iteration is over; the VU waits for the next ([`crate::Vu::start`]).
    Ended(Ended),
}

/// How a console line is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// `console.debug`.
    Debug,
    /// `console.log`, `console.info`.
    Info,
    /// `console.warn`.
    Warn,
    /// `console.error`.
    Error,
}

/// Where a VU's console lines go.
pub type LogFn = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// One iteration to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// The exported function (`default`, a scenario's `exec`, `setup`, `teardown`).
    pub exec: String,
    /// The VU's iterations so far, over all its scenarios.
    pub iteration: u64,
    /// The VU's iterations so far in this scenario (k6's `__ITER`).
    pub iteration_in_scenario: u64,
    /// The scenario's name.
    pub scenario: String,
    /// Its executor's k6 name.
    pub executor: String,
    /// When the iteration must be over: JavaScript still running then (a
    /// loop that makes no request) is interrupted, the iteration ends as
    /// [`Ended::Interrupted`].
    pub deadline: Option<Instant>,
}

/// What drives a VU's coroutine.
pub(crate) enum Input {
    /// Run an iteration.
    Start(Start),
    /// The answer to the op the VU stopped at.
    Answer(Answer),
    /// End the VU.
    Quit,
}

/// What a VU's coroutine stops with.
pub(crate) enum Output {
    /// Init is done: ready for iterations.
    Ready,
    /// Init failed (an exception in the init context).
    Failed(String),
    /// An op, or the end of an iteration.
    Step(Step),
}
