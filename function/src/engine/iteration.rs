//! One VU and one iteration of it: sends a scenario's steps in order, times and
//! records each request, counts its checks, keeps its captures for the next steps,
//! and pauses for its think time.
//!
//! The first request of an open-model iteration is timed from the iteration's
//! intended start; every other request from its actual send. This module does not
//! decide when iterations start (the executors do) and talks to the network only
//! through the [`transport`](super::transport) seam. With
//! `new_connection_per_iteration` every iteration starts on a new connection.

use std::pin::Pin;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Sleep;

use super::Ctx;
use super::send::{send_within, status_class};
use super::stop::StopSignal;
use super::transport::{Conn, Reply};
use crate::client::Traffic;
use crate::flow::{ResponseView, Step, Vars};
use crate::job::{ErrorClass, ThinkTime};
use crate::recorder::{Outcome, RecorderError, Sample};

/// One virtual user: a connection, its variables and its think-time generator.
pub(super) struct Vu {
    /// k6's `__VU`: the VU's number within its worker and scenario (from 1).
    number: u64,
    /// Iterations this VU started (k6's `__ITER` of the next one).
    pub(super) iterations: u64,
    pub(super) conn: Conn,
    vars: Vars,
    rng: StdRng,
    /// The VU's request timer (see [`send_within`]).
    pub(super) timer: Pin<Box<Sleep>>,
    /// Fires when the engine is told to stop.
    pub(super) stop: StopSignal,
    /// The script's side of the VU, when its scenario runs a script (taken
    /// out while an iteration runs; `None` too when its init failed).
    pub(super) script: Option<super::script::ScriptVu>,
}

impl Vu {
    /// VU number `number` (from 1) of the scenario in `ctx`.
    pub(super) fn new(ctx: &Ctx, number: u64) -> Self {
        // Only encoding a closed interval can fail; the next recording reports it.
        let _ = ctx.recorder.vu_allocated(&ctx.name, Instant::now());
        Self {
            number,
            iterations: 0,
            conn: Conn::new(&ctx.target),
            vars: ctx.flow.vars(),
            rng: StdRng::seed_from_u64(ctx.seed ^ number.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            timer: Box::pin(tokio::time::sleep_until(ctx.hard_stop.into())),
            stop: ctx.stop.signal(),
            script: ctx
                .script
                .as_ref()
                .and_then(|s| super::script::ScriptVu::new(ctx, s, number)),
        }
    }
}

impl Vu {
    /// What a script's iteration uses of this VU.
    fn script_parts(&mut self) -> super::script::VuParts<'_> {
        super::script::VuParts {
            conn: &mut self.conn,
            timer: &mut self.timer,
            stop: &mut self.stop,
            iterations: &mut self.iterations,
            script: &mut self.script,
        }
    }
}

/// Runs one iteration of `vu` and returns when it ended, as last read from the
/// clock; an iteration stopped by the end of the slice plus its scenario's
/// `graceful_stop` (a step due after it, or a think time that would outlast it:
/// the pause is cut short) returns the end or
/// later, so its VU starts no new iteration. `intended` is the open model's intended
/// start (`None` in the closed model); `keep_going` is asked before every step after
/// the first (a ramped-down VU past its grace period stops early).
pub(super) async fn run(
    ctx: &Ctx,
    vu: &mut Vu,
    intended: Option<Instant>,
    mut keep_going: impl FnMut() -> bool + Send,
) -> Result<Instant, RecorderError> {
    if let Some(script) = &ctx.script {
        let parts = vu.script_parts();
        return super::script::run(ctx, script, parts, intended, &mut keep_going).await;
    }
    let mut ended = Instant::now();
    let began = intended.unwrap_or(ended);
    ctx.recorder.vu_busy(&ctx.name, true, ended)?;
    let row = ctx
        .next_row
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    vu.vars
        .start_iteration(ctx.flow.row(row), vu.number, vu.iterations);
    vu.iterations += 1;
    if ctx.target.new_connection_per_iteration() {
        vu.conn.reset();
    }
    for (i, step) in ctx.flow.steps().iter().enumerate() {
        let sent = Instant::now();
        if i > 0 && (sent >= ctx.steps_end || ctx.stop.is_stopped() || !keep_going()) {
            ended = sent;
            break;
        }
        let timed_from = match (i, intended) {
            (0, Some(t)) => t,
            _ => sent,
        };
        ctx.first_sent.note(&ctx.clock, sent);
        let (outcome, reply, done, traffic) = send_step(ctx, vu, step, sent).await;
        ended = done;
        ctx.recorder.record(&Sample {
            status: reply.as_ref().map(|r| r.status),
            timings: reply.as_ref().map(|r| &r.timings),
            headers: reply.as_ref().map(|r| &r.headers),
            traffic,
            ..Sample::new(
                step.index,
                outcome,
                done.saturating_duration_since(timed_from),
                done,
            )
        })?;
        after_response(ctx, vu, step, reply.as_ref());
        if let Some(think) = step.sleep {
            let wake = Instant::now() + think_time(think, &mut vu.rng);
            if wake >= ctx.steps_end {
                // Not the last request's end: a VU loop would start the next
                // iteration at once, and again until a request outlasted the slice.
                ended = ended.max(ctx.end);
                break;
            }
            tokio::select! {
                () = tokio::time::sleep_until(wake.into()) => {}
                () = vu.stop.fired() => break,
            }
            ended = Instant::now();
        }
    }
    // `ended` may be the slice's end, still ahead when a think time was cut:
    // the recorder moves to the present interval, never to a future one (which
    // would carry the rest of the present second's requests past the end).
    ctx.recorder.iteration_ended(
        &ctx.name,
        ended.saturating_duration_since(began),
        ended.min(Instant::now()),
    )?;
    Ok(ended)
}

/// Runs `step`'s checks and captures on `reply` (into `vu`'s variables) and
/// records the checks' results.
fn after_response(ctx: &Ctx, vu: &mut Vu, step: &Step, reply: Option<&Reply>) {
    let view = reply.map(|r| ResponseView {
        status: r.status,
        headers: &r.headers,
        body: &r.body,
    });
    let mut results = Vec::new();
    step.after_response(view, &mut vu.vars, |name, passed| {
        results.push((name, passed));
    });
    if !results.is_empty() {
        ctx.recorder.record_checks(step.index, results);
    }
}

/// Builds `step`'s request from `vu`'s variables and sends it at `sent`; returns
/// the outcome, the reply (if one came), when the request ended and the bytes it
/// sent and received (none for a request that could not be built or timed out).
async fn send_step(
    ctx: &Ctx,
    vu: &mut Vu,
    step: &Step,
    sent: Instant,
) -> (Outcome, Option<Reply>, Instant, Traffic) {
    let none = Traffic::default();
    let built;
    let request = match step.fixed_request() {
        Some(fixed) => Ok(fixed),
        None => {
            built = step.request(&vu.vars);
            built.as_ref()
        }
    };
    match request {
        // A value that makes the request invalid HTTP: it cannot be sent at all.
        Err(_) => (
            Outcome::Errored(ErrorClass::Protocol),
            None,
            Instant::now(),
            none,
        ),
        Ok(request) => {
            let deadline = (sent + ctx.request_timeout).min(ctx.hard_stop);
            let keep = step.keeps_body();
            let (conn, timer, stop) = (&mut vu.conn, &mut vu.timer, &mut vu.stop);
            match send_within(conn, timer, stop, request, keep, sent, deadline).await {
                Some(Ok(reply)) => {
                    let done = reply.ended;
                    let outcome = classify_status(reply.status, step.expect_status);
                    let traffic = reply.traffic;
                    (outcome, Some(reply), done, traffic)
                }
                Some(Err(class)) => {
                    let traffic = vu.conn.last_traffic();
                    (Outcome::Errored(class), None, Instant::now(), traffic)
                }
                None => {
                    vu.conn.reset();
                    let timeout = Outcome::Errored(ErrorClass::Timeout);
                    (timeout, None, Instant::now(), none)
                }
            }
        }
    }
}

/// A pause uniformly drawn from `[min, max]`.
fn think_time(think: ThinkTime, rng: &mut StdRng) -> Duration {
    if think.max <= think.min {
        return think.min;
    }
    let span = (think.max - think.min).as_secs_f64();
    think.min + Duration::from_secs_f64(span * rng.random::<f64>())
}

/// k6's default: statuses 200–399 are expected unless `expect_status` says otherwise.
fn classify_status(status: u16, expect: Option<u16>) -> Outcome {
    let ok = match expect {
        Some(want) => status == want,
        None => (200..400).contains(&status),
    };
    match ok {
        true => Outcome::Ok,
        false => Outcome::Failed(status_class(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_k6_expected_response_rules() {
        assert_eq!(classify_status(200, None), Outcome::Ok);
        assert_eq!(classify_status(302, None), Outcome::Ok);
        assert_eq!(
            classify_status(404, None),
            Outcome::Failed(ErrorClass::Http4xx)
        );
        assert_eq!(
            classify_status(503, None),
            Outcome::Failed(ErrorClass::Http5xx)
        );
        assert_eq!(
            classify_status(204, Some(200)),
            Outcome::Failed(ErrorClass::Status)
        );
        assert_eq!(classify_status(404, Some(404)), Outcome::Ok);
    }

    #[test]
    fn think_time_stays_within_its_bounds_and_is_fixed_when_they_meet() {
        let ms = Duration::from_millis;
        let mut rng = StdRng::seed_from_u64(1);
        let jittered = ThinkTime {
            min: ms(50),
            max: ms(200),
        };
        let draws: Vec<Duration> = (0..1000).map(|_| think_time(jittered, &mut rng)).collect();
        assert!(draws.iter().all(|d| *d >= ms(50) && *d <= ms(200)));
        assert!(draws.iter().any(|d| *d < ms(80)) && draws.iter().any(|d| *d > ms(170)));
        let fixed = ThinkTime {
            min: ms(100),
            max: ms(100),
        };
        assert_eq!(think_time(fixed, &mut rng), ms(100));
    }
}
