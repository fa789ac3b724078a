//! The native side of a VU's k6 API: the `__sls` object the prelude
//! (`js/prelude.js`) builds the k6 modules on.
//!
//! Each function converts its JavaScript arguments into an [`Op`], suspends the
//! VU's coroutine until the worker answers, and converts the answer back; a few
//! need no answer (`now`, `log`, `open`, shared arrays, base64). This module
//! owns those conversions and the VU's stop flag (an answer of
//! [`Answer::Stop`] makes every further call throw and the interrupt handler
//! end the iteration). It does not decide anything about sending or recording.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use corosensei::Yielder;
use rquickjs::{Array, ArrayBuffer, Ctx, Exception, Function, IntoJs, Object, Result, Value};

use crate::program::Program;
use crate::protocol::{
    Answer, CheckSample, HttpCall, Input, LogFn, LogLevel, MetricKind, MetricSample, Op, Output,
    Reply, ResponseType, Step,
};

/// What the native functions of one VU share.
pub(crate) struct Bridge {
    /// The VU coroutine's yielder. Valid for the whole life of the runtime:
    /// the runtime is made and dropped inside the coroutine's body, which
    /// owns the yielder (see `vu.rs`).
    yielder: *const Yielder<Input, Output>,
    pub(crate) program: Arc<Program>,
    /// Set by [`Answer::Stop`]: the iteration must end.
    pub(crate) stopping: Rc<Cell<bool>>,
    log: LogFn,
    started: Instant,
}

impl Bridge {
    pub(crate) fn new(
        yielder: &Yielder<Input, Output>,
        program: Arc<Program>,
        log: LogFn,
    ) -> Rc<Bridge> {
        Rc::new(Bridge {
            yielder,
            program,
            stopping: Rc::new(Cell::new(false)),
            log,
            started: Instant::now(),
        })
    }

    /// Suspends the VU with `op` until the worker answers.
    fn ask(&self, ctx: &Ctx<'_>, op: Op) -> Result<Answer> {
        if self.stopping.get() {
            return Err(stopped(ctx));
        }
        // SAFETY: see `yielder`: the coroutine body that owns the yielder
        // outlives the runtime whose functions call this.
        let yielder = unsafe { &*self.yielder };
        match yielder.suspend(Output::Step(Step::Op(op))) {
            Input::Answer(Answer::Stop) | Input::Start(_) | Input::Quit => {
                self.stopping.set(true);
                Err(stopped(ctx))
            }
            Input::Answer(answer) => Ok(answer),
        }
    }
}

fn stopped(ctx: &Ctx<'_>) -> rquickjs::Error {
    Exception::throw_internal(ctx, "the test is stopping")
}

fn throw(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    Exception::throw_message(ctx, message)
}

/// Installs `__sls` on the global object of `ctx`.
pub(crate) fn install<'js>(ctx: &Ctx<'js>, bridge: &Rc<Bridge>) -> Result<()> {
    let n = Object::new(ctx.clone())?;
    install_http(ctx, &n, bridge)?;
    install_ops(ctx, &n, bridge)?;
    let b = bridge.clone();
    n.set(
        "now",
        Function::new(ctx.clone(), move || {
            b.started.elapsed().as_secs_f64() * 1000.0
        })?,
    )?;
    let b = bridge.clone();
    n.set(
        "log",
        Function::new(ctx.clone(), move |level: u8, text: String| {
            let level = match level {
                0 => LogLevel::Debug,
                1 => LogLevel::Info,
                2 => LogLevel::Warn,
                _ => LogLevel::Error,
            };
            (b.log)(level, &text);
        })?,
    )?;
    install_data(ctx, &n, bridge)?;
    n.set(
        "randomSeed",
        Function::new(ctx.clone(), move |_seed: f64| {})?,
    )?;
    ctx.globals().set("__sls", n)?;
    Ok(())
}

/// `request` and `batch`: the VU stops until the worker answered.
fn install_http<'js>(ctx: &Ctx<'js>, n: &Object<'js>, bridge: &Rc<Bridge>) -> Result<()> {
    let b = bridge.clone();
    n.set(
        "request",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, args: Array<'js>| {
            let call = http_call(&ctx, &args)?;
            let binary = call.response == ResponseType::Binary;
            match b.ask(&ctx, Op::Request(Box::new(call)))? {
                Answer::Reply(reply) => reply_value(&ctx, &reply, binary),
                _ => Err(throw(&ctx, "no response")),
            }
        })?,
    )?;
    let b = bridge.clone();
    n.set(
        "batch",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, list: Array<'js>| {
            let mut calls = Vec::with_capacity(list.len());
            for args in list.iter::<Array<'js>>() {
                calls.push(http_call(&ctx, &args?)?);
            }
            let binary: Vec<bool> = calls
                .iter()
                .map(|c| c.response == ResponseType::Binary)
                .collect();
            match b.ask(&ctx, Op::Batch(calls))? {
                Answer::Replies(replies) => {
                    let out = Array::new(ctx.clone())?;
                    for (i, r) in replies.iter().enumerate() {
                        out.set(i, reply_value(&ctx, r, binary.get(i) == Some(&true))?)?;
                    }
                    Ok(out)
                }
                _ => Err(throw(&ctx, "no responses")),
            }
        })?,
    )?;
    Ok(())
}

/// `sleep`, metric samples, check results and `test.abort()`: ops too.
fn install_ops<'js>(ctx: &Ctx<'js>, n: &Object<'js>, bridge: &Rc<Bridge>) -> Result<()> {
    let b = bridge.clone();
    n.set(
        "sleep",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, seconds: f64| {
            if !seconds.is_finite() || seconds <= 0.0 {
                return Ok(());
            }
            let d = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
            b.ask(&ctx, Op::Sleep(d)).map(drop)
        })?,
    )?;
    let b = bridge.clone();
    n.set(
        "metric",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  name: String,
                  kind: u8,
                  value: f64,
                  time: bool,
                  tags: Array<'js>| {
                let kind = match kind {
                    0 => MetricKind::Counter,
                    1 => MetricKind::Gauge,
                    2 => MetricKind::Rate,
                    _ => MetricKind::Trend,
                };
                let sample = MetricSample {
                    name,
                    kind,
                    value,
                    is_time: time,
                    tags: pairs(&tags)?,
                };
                b.ask(&ctx, Op::Metric(sample)).map(drop)
            },
        )?,
    )?;
    let b = bridge.clone();
    n.set(
        "check",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, name: String, passed: bool, tags: Array<'js>| {
                let sample = CheckSample {
                    name,
                    passed,
                    tags: pairs(&tags)?,
                };
                b.ask(&ctx, Op::Check(sample)).map(drop)
            },
        )?,
    )?;
    let b = bridge.clone();
    n.set(
        "abort",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, reason: String| {
            let _ = b.ask(&ctx, Op::Abort(reason));
            b.stopping.set(true);
            Err::<(), _>(stopped(&ctx))
        })?,
    )?;
    Ok(())
}

/// `open`, shared arrays and base64: answered on the spot.
fn install_data<'js>(ctx: &Ctx<'js>, n: &Object<'js>, bridge: &Rc<Bridge>) -> Result<()> {
    let b = bridge.clone();
    n.set(
        "open",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, path: String, binary: bool| {
                let Some(bytes) = b.program.open(&path) else {
                    return Err(throw(
                        &ctx,
                        &format!("open(`{path}`): the file was not bundled with the script"),
                    ));
                };
                if binary {
                    ArrayBuffer::new_copy(ctx.clone(), bytes).map(|a| a.into_value())
                } else {
                    String::from_utf8_lossy(bytes).into_owned().into_js(&ctx)
                }
            },
        )?,
    )?;
    let b = bridge.clone();
    n.set(
        "sharedLen",
        Function::new(ctx.clone(), move |name: String| {
            b.program.shared_len(&name).map_or(-1.0, |n| n as f64)
        })?,
    )?;
    let b = bridge.clone();
    n.set(
        "sharedSet",
        Function::new(ctx.clone(), move |name: String, items: Vec<String>| {
            b.program.shared_set(&name, items) as f64
        })?,
    )?;
    let b = bridge.clone();
    n.set(
        "sharedItem",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, name: String, i: f64| {
            b.program
                .shared_item(&name, i as usize)
                .ok_or_else(|| throw(&ctx, "SharedArray index out of range"))
        })?,
    )?;
    n.set(
        "b64",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, mode: u8, input: Value<'js>, variant: String| {
                base64_op(&ctx, mode, input, &variant)
            },
        )?,
    )?;
    Ok(())
}

/// k6/encoding: mode 0 encodes (a string or ArrayBuffer), 1 decodes to a
/// string, 2 decodes to an ArrayBuffer.
fn base64_op<'js>(
    ctx: &Ctx<'js>,
    mode: u8,
    input: Value<'js>,
    variant: &str,
) -> Result<Value<'js>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let engine = match variant {
        "rawstd" => &STANDARD_NO_PAD,
        "url" => &URL_SAFE,
        "rawurl" => &URL_SAFE_NO_PAD,
        _ => &STANDARD,
    };
    if mode == 0 {
        let bytes = bytes_of(ctx, input)?.unwrap_or_default();
        return engine.encode(bytes).into_js(ctx);
    }
    let text: String = input.get()?;
    let bytes = engine
        .decode(text.trim_end_matches(['\n', '\r']))
        .map_err(|e| throw(ctx, &format!("b64decode: {e}")))?;
    if mode == 1 {
        String::from_utf8_lossy(&bytes).into_owned().into_js(ctx)
    } else {
        ArrayBuffer::new(ctx.clone(), bytes).map(|a| a.into_value())
    }
}

/// The bytes of a body: a string's UTF-8, an array of byte values (what the
/// prelude makes of an `ArrayBuffer`), or none for `null`/`undefined`.
fn bytes_of<'js>(ctx: &Ctx<'js>, v: Value<'js>) -> Result<Option<Vec<u8>>> {
    if v.is_null() || v.is_undefined() {
        return Ok(None);
    }
    if let Some(s) = v.as_string() {
        return Ok(Some(s.to_string()?.into_bytes()));
    }
    if let Some(a) = v.as_array() {
        return a.iter::<u8>().collect::<Result<Vec<u8>>>().map(Some);
    }
    let s: String = v.get().map_err(|_| throw(ctx, "unsupported body type"))?;
    Ok(Some(s.into_bytes()))
}

/// `[k, v, k, v, ...]` as pairs.
fn pairs(flat: &Array<'_>) -> Result<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut i = 0;
    while i + 1 < flat.len() {
        out.push((flat.get(i)?, flat.get(i + 1)?));
        i += 2;
    }
    Ok(out)
}

/// The prelude's request arguments:
/// `[method, url, name, body, headers, tags, type, timeoutMs, ranges, redirects]`.
fn http_call<'js>(ctx: &Ctx<'js>, args: &Array<'js>) -> Result<HttpCall> {
    let ranges: Vec<f64> = args.get(8)?;
    let expected = ranges
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0].clamp(0.0, 999.0) as u16, c[1].clamp(0.0, 999.0) as u16))
        .collect();
    let timeout: f64 = args.get(7)?;
    let redirects: f64 = args.get(9)?;
    let response = match args.get::<u8>(6)? {
        1 => ResponseType::None,
        2 => ResponseType::Binary,
        _ => ResponseType::Text,
    };
    Ok(HttpCall {
        method: args.get(0)?,
        url: args.get(1)?,
        name: args.get(2)?,
        body: bytes_of(ctx, args.get(3)?)?,
        headers: pairs(&args.get(4)?)?,
        tags: pairs(&args.get(5)?)?,
        response,
        timeout: (timeout >= 0.0)
            .then(|| Duration::try_from_secs_f64(timeout / 1000.0).unwrap_or(Duration::MAX)),
        expected,
        redirects: (redirects >= 0.0).then_some(redirects as u32),
    })
}

/// A reply as the prelude's `Response` reads it:
/// `[status, body, headers ("K: v" lines), timings, error, error_code, url, proto]`.
fn reply_value<'js>(ctx: &Ctx<'js>, r: &Reply, binary: bool) -> Result<Value<'js>> {
    let out = Array::new(ctx.clone())?;
    out.set(0, r.status)?;
    let body = match &r.body {
        None => Value::new_null(ctx.clone()),
        Some(bytes) if binary => ArrayBuffer::new_copy(ctx.clone(), bytes)?.into_value(),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(s) => s.into_js(ctx)?,
            Err(_) => String::from_utf8_lossy(bytes).into_owned().into_js(ctx)?,
        },
    };
    out.set(1, body)?;
    let mut headers = String::with_capacity(r.headers.len() * 32);
    for (i, (k, v)) in r.headers.iter().enumerate() {
        if i > 0 {
            headers.push('\n');
        }
        headers.push_str(k);
        headers.push_str(": ");
        // A line break inside a value would split it: HTTP forbids them anyway.
        headers.push_str(&v.replace('\n', " "));
    }
    out.set(2, headers)?;
    out.set(3, r.timings.to_vec())?;
    out.set(4, r.error.as_str())?;
    out.set(5, r.error_code)?;
    out.set(6, r.url.as_str())?;
    out.set(7, r.proto.as_str())?;
    Ok(out.into_value())
}
